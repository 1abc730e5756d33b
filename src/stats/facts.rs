//! Per-subject facts the statistics and feasibility counts read, from SDTM datasets (a
//! folder we or anyone wrote, or the datasets of a FHIR input converted in memory).
//! Nothing here is published: only counts leave `stats`.

use std::collections::BTreeMap;

use crate::validate::data::{Study, Table, V};

#[derive(Debug, Clone, Default)]
pub struct Coded {
    /// Codes as `SYSTEM:code` (ICD10:E119, MEDIS:20061048, HOT9:…) .
    pub codes: Vec<String>,
    /// Text as recorded (Japanese where the source was).
    pub text: Vec<String>,
    pub date: String,
}

#[derive(Debug, Clone, Default)]
pub struct Measure {
    pub test: String,
    pub value: f64,
    pub unit: String,
    pub date: String,
}

#[derive(Debug, Clone, Default)]
pub struct Subject {
    pub site: String,
    pub age: Option<f64>,
    pub sex: String,
    pub first_date: String,
    pub conditions: Vec<Coded>,
    pub drugs: Vec<Coded>,
    pub labs: Vec<Measure>,
    pub vitals: Vec<Measure>,
}

fn get(t: &Table, r: &[V], name: &str) -> String {
    t.col(name).map(|c| r[c].text()).unwrap_or_default()
}

/// SUPP-- values by (USUBJID, IDVARVAL, QNAM).
fn supp(study: &Study, name: &str) -> BTreeMap<(String, String, String), String> {
    let mut m = BTreeMap::new();
    if let Some(t) = study.table(name) {
        for r in t.rows.iter() {
            let seq = get(t, r, "IDVARVAL");
            let seq = seq.trim_end_matches(".0").to_owned();
            m.insert(
                (get(t, r, "USUBJID"), seq, get(t, r, "QNAM")),
                get(t, r, "QVAL"),
            );
        }
    }
    m
}

fn seq(t: &Table, r: &[V], var: &str) -> String {
    get(t, r, var).trim_end_matches(".0").to_owned()
}

/// Subjects of one study (its DM), with `site` overriding DM.SITEID when given.
/// `japanese` holds the ja/ datasets (verbatim Japanese text), when there are any.
pub fn subjects(study: &Study, japanese: Option<&Study>, site: Option<&str>) -> Vec<Subject> {
    let Some(dm) = study.table("DM") else {
        return Vec::new();
    };
    let mut by_id: BTreeMap<String, Subject> = BTreeMap::new();
    for r in dm.rows.iter() {
        let s = Subject {
            site: site
                .map(str::to_owned)
                .unwrap_or_else(|| get(dm, r, "SITEID")),
            age: dm.col("AGE").and_then(|c| r[c].num()),
            sex: get(dm, r, "SEX"),
            first_date: get(dm, r, "RFSTDTC"),
            ..Subject::default()
        };
        by_id.insert(get(dm, r, "USUBJID"), s);
    }
    let ja_text = |domain: &str, var: &str| -> BTreeMap<(String, String), String> {
        let mut m = BTreeMap::new();
        if let Some(t) = japanese.and_then(|j| j.table(domain)) {
            for r in t.rows.iter() {
                m.insert(
                    (get(t, r, "USUBJID"), seq(t, r, &format!("{domain}SEQ"))),
                    get(t, r, var),
                );
            }
        }
        m
    };
    let suppmh = supp(study, "SUPPMH");
    let ja_mh = ja_text("MH", "MHTERM");
    if let Some(t) = study.table("MH") {
        for r in t.rows.iter() {
            let id = get(t, r, "USUBJID");
            let sq = seq(t, r, "MHSEQ");
            let mut c = Coded {
                date: get(t, r, "MHSTDTC"),
                ..Coded::default()
            };
            if let Some(icd) = suppmh.get(&(id.clone(), sq.clone(), "MHICD10".into())) {
                c.codes.push(format!("ICD10:{icd}"));
            }
            let term = get(t, r, "MHTERM");
            // An ASCII MHTERM of the form SYSTEM:code is the code fallback of a Japanese term.
            if term.contains(':') && !term.contains(' ') {
                c.codes.push(term.clone());
            }
            c.text.push(term);
            c.text.push(get(t, r, "MHDECOD"));
            c.text.extend(ja_mh.get(&(id.clone(), sq)).cloned());
            if let Some(s) = by_id.get_mut(&id) {
                s.conditions.push(c);
            }
        }
    }
    let suppcm = supp(study, "SUPPCM");
    let ja_cm = ja_text("CM", "CMTRT");
    if let Some(t) = study.table("CM") {
        for r in t.rows.iter() {
            let id = get(t, r, "USUBJID");
            let sq = seq(t, r, "CMSEQ");
            let mut c = Coded {
                date: get(t, r, "CMSTDTC"),
                ..Coded::default()
            };
            if let Some(code) = suppcm.get(&(id.clone(), sq.clone(), "CMDRGCD".into())) {
                c.codes.push(code.clone());
            }
            c.text.push(get(t, r, "CMTRT"));
            c.text.push(get(t, r, "CMDECOD"));
            c.text.extend(ja_cm.get(&(id.clone(), sq)).cloned());
            if let Some(s) = by_id.get_mut(&id) {
                s.drugs.push(c);
            }
        }
    }
    for (domain, is_lab) in [("LB", true), ("VS", false)] {
        let Some(t) = study.table(domain) else {
            continue;
        };
        for r in t.rows.iter() {
            let Some(value) = t.col(&format!("{domain}STRESN")).and_then(|c| r[c].num()) else {
                continue;
            };
            // Results of tests no terminology table knew have no test code to group by.
            if get(t, r, &format!("{domain}TESTCD")).is_empty() {
                continue;
            }
            let m = Measure {
                test: get(t, r, &format!("{domain}TESTCD")),
                value,
                unit: get(t, r, &format!("{domain}STRESU")),
                date: get(t, r, &format!("{domain}DTC")),
            };
            if let Some(s) = by_id.get_mut(&get(t, r, "USUBJID")) {
                if is_lab {
                    s.labs.push(m);
                } else {
                    s.vitals.push(m);
                }
            }
        }
    }
    by_id.into_values().collect()
}
