//! Standard metadata the rules consult: SDTMIG dataset classes and labels, variables with
//! their core designation and order (a CDISC Library export, `Datasets.csv` and
//! `Variables.csv`), CDISC CT and the ISO 3166-1 alpha-3 country codes. The embedded
//! defaults are in [`super::standards`]; an empty library (rule tests) makes rules that need
//! the standard find nothing rather than guess.

use std::collections::{HashMap, HashSet};
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
    /// The SDTMIG's described value domain (`ISO 8601 datetime or interval`, `ISO 8601
    /// duration`, `MedDRA`), empty when none.
    pub described: String,
    /// Added from the SDTM model's timing variables, not in the SDTMIG domain table.
    pub from_model: bool,
}

/// A variable as the class-level rules see it: name (prefix applied), role, core.
#[derive(Debug, Clone, PartialEq)]
pub struct StdVar {
    pub name: String,
    pub role: String,
    pub core: String,
}

#[derive(Debug, Clone, Default)]
pub struct Library {
    classes: HashMap<String, String>,
    labels: HashMap<String, String>,
    vars: HashMap<String, Vec<LibVar>>,
    pub ct: Option<Ct>,
    /// ISO 3166-1 alpha-3 codes (COUNTRY).
    pub countries: Option<HashSet<String>>,
    /// The SDTMIG version the metadata states (`3.4`), empty when none is loaded.
    pub sdtmig_version: String,
}

fn read(text: &str) -> std::io::Result<Vec<HashMap<String, String>>> {
    let mut r = csv::Reader::from_reader(text.as_bytes());
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

/// SDTM v2.0 §2.2.5, timing variables for all general observation classes, in model order.
const MODEL_TIMING: &[&str] = &[
    "VISITNUM", "VISIT", "VISITDY", "TAETORD", "EPOCH", "--DTC", "--STDTC", "--ENDTC", "--DY",
    "--STDY", "--ENDY", "--NOMDY", "--NOMLBL", "--DUR", "--TPT", "--TPTNUM", "--ELTM", "--TPTREF",
    "--RFTDTC", "--STRF", "--ENRF", "--EVLINT", "--EVINTX", "--STRTPT", "--STTPT", "--ENRTPT",
    "--ENTPT", "MIDS", "RELMIDS", "MIDSDTC", "--STINT", "--ENINT", "--DETECT",
];

/// The SDTMIG name a dataset's metadata is under: SUPP-- and SQ-- datasets are all the
/// generic SUPPQUAL (as in the CDISC Library and CORE).
fn standard_name(domain: &str) -> &str {
    if (domain.starts_with("SUPP") || domain.starts_with("SQ")) && domain.len() <= 8 {
        "SUPPQUAL"
    } else {
        domain
    }
}

impl Library {
    pub fn empty() -> Library {
        Library::default()
    }

    /// Loads `Datasets.csv` and `Variables.csv` (CDISC Library export layout) from `dir`.
    pub fn load(dir: &Path) -> std::io::Result<Library> {
        let get = |f: &str| {
            std::fs::read_to_string(dir.join(f))
                .map_err(|e| std::io::Error::new(e.kind(), format!("{f}: {e}")))
        };
        Library::parse(&get("Datasets.csv")?, &get("Variables.csv")?)
    }

    /// The same from the two files' text.
    pub fn parse(datasets: &str, variables: &str) -> std::io::Result<Library> {
        let mut lib = Library::default();
        for r in read(datasets)? {
            let name = r.get("Dataset Name").cloned().unwrap_or_default();
            lib.classes.insert(
                name.clone(),
                r.get("Class").cloned().unwrap_or_default().to_uppercase(),
            );
            lib.labels
                .insert(name, r.get("Dataset Label").cloned().unwrap_or_default());
        }
        for r in read(variables)? {
            let ds = r.get("Dataset Name").cloned().unwrap_or_default();
            if lib.sdtmig_version.is_empty() {
                // "SDTMIG v3.4" -> "3.4"
                if let Some(v) = r.get("Version").and_then(|v| v.rsplit('v').next()) {
                    lib.sdtmig_version = v.trim().to_owned();
                }
            }
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
                described: r
                    .get("Described Value Domain(s)")
                    .cloned()
                    .unwrap_or_default(),
                codelists: r
                    .get("CDISC CT Codelist Code(s)")
                    .map(|c| {
                        c.split(';')
                            .map(|x| x.trim().to_owned())
                            .filter(|x| !x.is_empty())
                            .collect()
                    })
                    .unwrap_or_default(),
                from_model: false,
            });
        }
        lib.add_model_timing();
        Ok(lib)
    }

    /// The SDTM v2.0 model lets every general-observation-class domain use the model's
    /// timing variables, not only those its SDTMIG table lists (CORE reads them from the
    /// model in the CDISC Library; the IG export has the domain tables only). Each missing
    /// one is added as Permissible, between its model neighbours.
    fn add_model_timing(&mut self) {
        for (domain, vars) in self.vars.iter_mut() {
            let class = self
                .classes
                .get(domain)
                .map(|c| c.to_uppercase())
                .unwrap_or_default();
            if !["INTERVENTIONS", "EVENTS", "FINDINGS", "FINDINGS ABOUT"].contains(&class.as_str())
            {
                continue;
            }
            let prefix: String = domain.chars().take(2).collect();
            let model: Vec<String> = MODEL_TIMING
                .iter()
                .map(|v| v.replace("--", &prefix))
                .collect();
            vars.sort_by_key(|v| v.order);
            let mut names: Vec<String> = vars.iter().map(|v| v.name.clone()).collect();
            for (i, m) in model.iter().enumerate() {
                if names.contains(m) {
                    continue;
                }
                // After the nearest earlier model variable present, else before the nearest
                // later one, else at the end.
                let at = model[..i]
                    .iter()
                    .rev()
                    .find_map(|p| names.iter().position(|n| n == p).map(|x| x + 1))
                    .or_else(|| {
                        model[i + 1..]
                            .iter()
                            .find_map(|n2| names.iter().position(|n| n == n2))
                    })
                    .unwrap_or(names.len());
                names.insert(at, m.clone());
                vars.push(LibVar {
                    name: m.clone(),
                    label: String::new(),
                    ty: if m.ends_with("DY") || m.ends_with("NUM") || m == "TAETORD" {
                        "Num".into()
                    } else {
                        "Char".into()
                    },
                    core: "Perm".into(),
                    order: 0,
                    codelists: vec![],
                    role: "Timing".into(),
                    described: if m.ends_with("DTC") {
                        "ISO 8601 datetime or interval".into()
                    } else if m.ends_with("DUR") || m.ends_with("ELTM") {
                        "ISO 8601 duration".into()
                    } else {
                        String::new()
                    },
                    from_model: true,
                });
            }
            for v in vars.iter_mut() {
                v.order = names.iter().position(|n| *n == v.name).unwrap_or(0) + 1;
            }
            vars.sort_by_key(|v| v.order);
        }
    }

    pub fn class_of(&self, domain: &str) -> Option<String> {
        self.classes
            .get(standard_name(domain))
            .cloned()
            .map(|c| c.replace('-', " "))
    }

    pub fn domain_label(&self, domain: &str) -> Option<String> {
        self.labels.get(standard_name(domain)).cloned()
    }

    pub fn variable(&self, domain: &str, name: &str) -> Option<&LibVar> {
        self.vars
            .get(standard_name(domain))?
            .iter()
            .find(|v| v.name.eq_ignore_ascii_case(name))
    }

    pub fn variables(&self, domain: &str) -> &[LibVar] {
        self.vars
            .get(standard_name(domain))
            .map(Vec::as_slice)
            .unwrap_or(&[])
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
