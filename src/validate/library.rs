//! Standard metadata the rules consult: SDTMIG dataset classes and labels, variables with
//! their core designation and order (from a CDISC Library export such as
//! `../shared/reference/sdtmig-3.4/{Datasets,Variables}.csv`), and CDISC CT. Optional: rules
//! that need what is not loaded find nothing rather than guessing.

use std::collections::HashMap;
use std::path::Path;

use crate::formats::ct::Ct;

#[derive(Debug, Clone)]
pub struct LibVar {
    pub name: String,
    pub label: String,
    pub ty: String,
    pub core: String,
    pub order: usize,
    pub codelists: Vec<String>,
    pub role: String,
}

#[derive(Debug, Clone, Default)]
pub struct Library {
    classes: HashMap<String, String>,
    labels: HashMap<String, String>,
    vars: HashMap<String, Vec<LibVar>>,
    pub ct: Option<Ct>,
}

fn read(path: &Path) -> std::io::Result<Vec<HashMap<String, String>>> {
    let mut r = csv::Reader::from_path(path).map_err(std::io::Error::other)?;
    let h: Vec<String> = r
        .headers()
        .map_err(std::io::Error::other)?
        .iter()
        .map(|s| s.trim_start_matches('\u{feff}').to_owned())
        .collect();
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(std::io::Error::other)?;
        out.push(
            h.iter()
                .cloned()
                .zip(rec.iter().map(str::to_owned))
                .collect(),
        );
    }
    Ok(out)
}

impl Library {
    pub fn empty() -> Library {
        Library::default()
    }

    /// Loads `Datasets.csv` and `Variables.csv` (CDISC Library export layout) from `dir`.
    pub fn load(dir: &Path) -> std::io::Result<Library> {
        let mut lib = Library::default();
        for r in read(&dir.join("Datasets.csv"))? {
            let name = r.get("Dataset Name").cloned().unwrap_or_default();
            lib.classes.insert(
                name.clone(),
                r.get("Class").cloned().unwrap_or_default().to_uppercase(),
            );
            lib.labels
                .insert(name, r.get("Dataset Label").cloned().unwrap_or_default());
        }
        for r in read(&dir.join("Variables.csv"))? {
            let ds = r.get("Dataset Name").cloned().unwrap_or_default();
            lib.vars.entry(ds).or_default().push(LibVar {
                name: r.get("Variable Name").cloned().unwrap_or_default(),
                label: r.get("Variable Label").cloned().unwrap_or_default(),
                ty: r.get("Type").cloned().unwrap_or_default(),
                core: r.get("Core").cloned().unwrap_or_default(),
                order: r
                    .get("Variable Order")
                    .and_then(|o| o.parse().ok())
                    .unwrap_or(0),
                role: r.get("Role").cloned().unwrap_or_default(),
                codelists: r
                    .get("CDISC CT Codelist Code(s)")
                    .map(|c| {
                        c.split(';')
                            .map(|x| x.trim().to_owned())
                            .filter(|x| !x.is_empty())
                            .collect()
                    })
                    .unwrap_or_default(),
            });
        }
        Ok(lib)
    }

    pub fn class_of(&self, domain: &str) -> Option<String> {
        self.classes
            .get(domain)
            .cloned()
            .map(|c| c.replace('-', " "))
    }

    pub fn domain_label(&self, domain: &str) -> Option<String> {
        self.labels.get(domain).cloned()
    }

    pub fn variable(&self, domain: &str, name: &str) -> Option<&LibVar> {
        self.vars
            .get(domain)?
            .iter()
            .find(|v| v.name.eq_ignore_ascii_case(name))
    }

    pub fn variables(&self, domain: &str) -> &[LibVar] {
        self.vars.get(domain).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn variables_with_core(&self, domain: &str, core: &str) -> Vec<String> {
        self.variables(domain)
            .iter()
            .filter(|v| v.core == core)
            .map(|v| v.name.clone())
            .collect()
    }

    /// Variables of a domain whose `key` (role) equals `value`, in order.
    pub fn variables_where(&self, domain: &str, key: &str, value: &str) -> Vec<String> {
        let mut v: Vec<&LibVar> = self
            .variables(domain)
            .iter()
            .filter(|x| key != "role" || x.role.eq_ignore_ascii_case(value))
            .collect();
        v.sort_by_key(|x| x.order);
        v.into_iter().map(|x| x.name.clone()).collect()
    }

    pub fn variable_order(&self, domain: &str) -> Vec<String> {
        let mut v: Vec<&LibVar> = self.variables(domain).iter().collect();
        v.sort_by_key(|x| x.order);
        v.into_iter().map(|x| x.name.clone()).collect()
    }

    /// Terms (submission values, or their NCI codes) of codelists named by short name or code.
    pub fn codelist_terms(&self, codelists: &[String], codes: bool) -> Vec<String> {
        let Some(ct) = &self.ct else { return vec![] };
        let mut out = Vec::new();
        for c in codelists {
            if let Some(cl) = ct
                .codelists
                .values()
                .find(|cl| cl.code == *c || cl.short == *c)
            {
                let mut terms: Vec<(&String, &crate::formats::ct::Term)> =
                    cl.terms.iter().collect();
                terms.sort_by(|a, b| a.0.cmp(b.0));
                out.extend(
                    terms
                        .into_iter()
                        .map(|(v, t)| if codes { t.code.clone() } else { v.clone() }),
                );
            }
        }
        out
    }
}
