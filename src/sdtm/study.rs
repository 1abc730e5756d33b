//! The study file: what makes SDTM output belong to one study. Only `study_id` is required;
//! every other setting has a documented default (README, "Study file").

use std::path::Path;

use serde_json::Value;

use crate::diagnostics::{Diagnostic, Location};

/// The index-date rule: what RFSTDTC (and RFENDTC) are for each subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReferenceStart {
    /// First exposure (EX) if the subject has any, else first encounter (SV). The default.
    FirstDoseOrEncounter,
    FirstEncounter,
    FirstDose,
    /// First administration or prescription (EX, CM) of a named drug: `SYSTEM:code` as the
    /// drug code reads (`HOT9:1234567`), `*` at the end for a prefix. RFENDTC: its last.
    FirstDoseOf(Vec<String>),
    /// First diagnosis (onset, else recorded date) of a condition: `ICD10:E11*`,
    /// `MEDIS:20061048`. RFENDTC: the last encounter.
    FirstDiagnosis(Vec<String>),
}

impl ReferenceStart {
    /// Whether a code (`SYSTEM:code`) matches one of the rule's codes.
    pub fn matches(codes: &[String], code: &str) -> bool {
        codes.iter().any(|c| match c.strip_suffix('*') {
            Some(prefix) => code.starts_with(prefix),
            None => code == c,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub name: String,
    pub number: Option<String>,
    pub day_from: Option<i64>,
    pub day_to: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arm {
    pub armcd: String,
    pub arm: String,
    pub patients: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Study {
    pub study_id: String,
    pub site_id: String,
    pub country: String,
    /// Hospital patient ids (Patient.id or any Patient.identifier value); empty = everyone.
    pub patients: Vec<String>,
    /// `Group/<id>`: subjects are its members.
    pub group: Option<String>,
    /// `ResearchStudy/<id>`: subjects are the patients of its ResearchSubjects.
    pub research_study: Option<String>,
    pub reference_start: ReferenceStart,
    /// Inclusive date window (ISO dates) on each record's main date.
    pub date_from: Option<String>,
    pub date_to: Option<String>,
    pub arms: Vec<Arm>,
    /// The arm (cohort) of every subject with an index date who is in no `arms` list.
    pub cohort: Option<(String, String)>,
    pub visits: Vec<Window>,
    pub epochs: Vec<Window>,
    /// Study products (system|code or code): MedicationAdministration of these become EX.
    pub study_products: Vec<String>,
    pub keep_offset: bool,
    pub brthdtc: bool,
    /// One derived record per subject, test and day with the mean of the readings.
    pub daily_summary: bool,
}

impl Study {
    pub fn minimal(study_id: &str) -> Study {
        Study {
            study_id: study_id.to_owned(),
            site_id: "01".into(),
            country: "JPN".into(),
            patients: vec![],
            group: None,
            research_study: None,
            reference_start: ReferenceStart::FirstDoseOrEncounter,
            date_from: None,
            date_to: None,
            arms: vec![],
            cohort: Some(("RWD".into(), "Real-World Data Cohort".into())),
            visits: vec![],
            epochs: vec![],
            study_products: vec![],
            keep_offset: false,
            brthdtc: false,
            daily_summary: false,
        }
    }

    pub fn load(path: &Path) -> Result<Study, Vec<Diagnostic>> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            vec![Diagnostic::error(
                "M320",
                format!("cannot read the study file: {e}"),
                Location::file(path),
            )]
        })?;
        Self::parse(&text, path)
    }

    /// A study file's text; diagnostics are located in `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Study, Vec<Diagnostic>> {
        let text = text.to_owned();
        let doc = crate::yaml::parse(&text).map_err(|e| {
            vec![Diagnostic::error(
                "M321",
                format!("not valid YAML: {}", e.message),
                Location::file(path).with_line(e.line),
            )]
        })?;
        let mut diags = Vec::new();
        let at = |ptr: &str| Location::file(path).with_line(doc.position(ptr).0);
        let v = &doc.value;
        let Some(obj) = v.as_object() else {
            return Err(vec![Diagnostic::error(
                "M321",
                "the study file must be a mapping",
                Location::file(path),
            )]);
        };
        const KNOWN: &[&str] = &[
            "study_id",
            "site_id",
            "country",
            "subjects",
            "reference_start",
            "date_window",
            "arms",
            "arm",
            "visits",
            "epochs",
            "study_products",
            "keep_offset",
            "brthdtc",
            "daily_summary",
            "description",
        ];
        for k in obj.keys() {
            if !KNOWN.contains(&k.as_str()) {
                diags.push(
                    Diagnostic::error(
                        "M322",
                        format!("unknown study setting {k:?}"),
                        at(&format!("/{k}")),
                    )
                    .help(format!("known: {}", KNOWN.join(", "))),
                );
            }
        }
        let text_of = |x: &Value| match x {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let Some(study_id) = text_of(&v["study_id"]).filter(|s| !s.is_empty()) else {
            diags.push(Diagnostic::error("M322", "study_id is required", at("")));
            return Err(diags);
        };
        let mut s = Study::minimal(&study_id);
        if let Some(x) = text_of(&v["site_id"]) {
            s.site_id = x;
        }
        if let Some(x) = text_of(&v["country"]) {
            s.country = x;
        }
        let list = |x: &Value| -> Vec<String> {
            x.as_array()
                .into_iter()
                .flatten()
                .filter_map(text_of)
                .collect()
        };
        let subj = &v["subjects"];
        s.patients = list(&subj["patients"]);
        s.group = text_of(&subj["group"]);
        s.research_study = text_of(&subj["research_study"]);
        let rs = &v["reference_start"];
        s.reference_start = match rs.as_str() {
            None if rs["first_dose_of"].is_array() || rs["first_diagnosis"].is_array() => {
                let (codes, dose) = if rs["first_dose_of"].is_array() {
                    (list(&rs["first_dose_of"]), true)
                } else {
                    (list(&rs["first_diagnosis"]), false)
                };
                if codes.is_empty() || rs.as_object().is_some_and(|o| o.len() != 1) {
                    diags.push(
                        Diagnostic::error(
                            "M322",
                            "reference_start takes one rule with at least one code",
                            at("/reference_start"),
                        )
                        .help("{first_dose_of: [\"HOT9:1234567\"]} or {first_diagnosis: [\"ICD10:E11*\"]}"),
                    );
                }
                if dose {
                    ReferenceStart::FirstDoseOf(codes)
                } else {
                    ReferenceStart::FirstDiagnosis(codes)
                }
            }
            None if rs.is_null() => ReferenceStart::FirstDoseOrEncounter,
            Some("first_dose_or_encounter") => ReferenceStart::FirstDoseOrEncounter,
            Some("first_encounter") => ReferenceStart::FirstEncounter,
            Some("first_dose") => ReferenceStart::FirstDose,
            _ => {
                let other = rs.to_string();
                diags.push(
                    Diagnostic::error(
                        "M322",
                        format!("unknown reference_start {other:?}"),
                        at("/reference_start"),
                    )
                    .help("first_dose_or_encounter (default), first_encounter, first_dose, {first_dose_of: [codes]} or {first_diagnosis: [codes]}"),
                );
                ReferenceStart::FirstDoseOrEncounter
            }
        };
        s.date_from = text_of(&v["date_window"]["from"]);
        s.date_to = text_of(&v["date_window"]["to"]);
        for (i, a) in v["arms"].as_array().into_iter().flatten().enumerate() {
            match (text_of(&a["armcd"]), text_of(&a["arm"])) {
                (Some(armcd), Some(arm)) => s.arms.push(Arm {
                    armcd,
                    arm,
                    patients: list(&a["patients"]),
                }),
                _ => diags.push(Diagnostic::error(
                    "M322",
                    "an arm needs armcd and arm",
                    at(&format!("/arms/{i}")),
                )),
            }
        }
        if !v["arm"].is_null() {
            match (text_of(&v["arm"]["armcd"]), text_of(&v["arm"]["arm"])) {
                (Some(c), Some(a)) => s.cohort = Some((c, a)),
                _ => diags.push(Diagnostic::error(
                    "M322",
                    "arm needs armcd and arm",
                    at("/arm"),
                )),
            }
        }
        for (key, out, name_key) in [
            ("visits", &mut s.visits, "visit"),
            ("epochs", &mut s.epochs, "epoch"),
        ] {
            for (i, w) in v[key].as_array().into_iter().flatten().enumerate() {
                let Some(name) = text_of(&w[name_key]) else {
                    diags.push(Diagnostic::error(
                        "M322",
                        format!("each of {key} needs `{name_key}`"),
                        at(&format!("/{key}/{i}")),
                    ));
                    continue;
                };
                out.push(Window {
                    name,
                    number: text_of(&w["visitnum"]),
                    day_from: w["day_from"].as_i64(),
                    day_to: w["day_to"].as_i64(),
                });
            }
        }
        s.study_products = list(&v["study_products"]);
        s.keep_offset = v["keep_offset"].as_bool().unwrap_or(false);
        s.brthdtc = v["brthdtc"].as_bool().unwrap_or(false);
        s.daily_summary = v["daily_summary"].as_bool().unwrap_or(false);
        if diags.is_empty() {
            Ok(s)
        } else {
            Err(diags)
        }
    }
}
