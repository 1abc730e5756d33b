//! Running the domain files over one subject's resources, then the derivations SDTM needs
//! beyond flattening. Subjects are independent, so callers run them on all cores and
//! collect them in patient order; the result does not depend on the thread count.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::derive;
use super::functions::SdtmFunctions;
use super::ledger::{self, SdtmLedger};
use super::spec::{externals, Domain, SdtmSpec};
use super::study::Study;
use super::subject::{patient_of, SubjectKey};
use crate::diagnostics::{Diagnostic, Location};
use crate::fhirpath::View;
use crate::privacy::policy::Scrub;
use crate::privacy::{scrub, Identifiers, Level, Policy};

/// One record: SDTM variables and helper columns by name.
pub type Row = BTreeMap<String, Value>;

pub struct Engine<'s> {
    pub spec: &'s SdtmSpec,
    pub study: &'s Study,
    key: SubjectKey,
    pub functions: SdtmFunctions,
    views: Vec<Vec<View>>,
    /// Patient keys selected by Group / ResearchSubject resources of the input.
    selected: Option<std::collections::HashSet<String>>,
    /// Output level and free-text scrubbing settings (default: pseudonymised).
    pub privacy: Level,
    pub scrub: Scrub,
    /// Resources of no patient (Medication, Organization …) by `Type/id`, for `resolve()`.
    shared: HashMap<String, Value>,
}

/// Everything one subject contributes.
#[derive(Debug, Default)]
pub struct SubjectOut {
    pub usubjid: String,
    /// Domain → rows (sorted, --SEQ assigned).
    pub rows: BTreeMap<String, Vec<Row>>,
    /// Domain → SUPP-- rows.
    pub supp: BTreeMap<String, Vec<Row>>,
    pub diagnostics: Vec<Diagnostic>,
    pub resources: usize,
    pub dropped_by_window: usize,
    /// Repeated findings counted instead of listed: (code, domain file, what) → records.
    pub counts: BTreeMap<(&'static str, String, String), usize>,
    /// `DOMAIN.VARIABLE` → values in which the subject's identifiers were masked.
    pub scrubbed: BTreeMap<String, usize>,
    /// What each of the subject's resources gave.
    pub ledger: SdtmLedger,
}

/// Why a patient yields no subject; the ledger counts the resources not used.
#[derive(Debug)]
pub enum Skip {
    NotSelected(Box<SdtmLedger>),
    NoPatient(Box<Diagnostic>, Box<SdtmLedger>),
}

fn skipped(resources: &[Value], why: &str) -> Box<SdtmLedger> {
    let mut l = SdtmLedger::default();
    l.skipped(resources, why);
    Box::new(l)
}

impl<'s> Engine<'s> {
    pub fn new(
        spec: &'s SdtmSpec,
        study: &'s Study,
        key: SubjectKey,
    ) -> Result<Engine<'s>, Vec<Diagnostic>> {
        let functions = spec.functions(study.keep_offset);
        let ext = externals(Some(study));
        let mut views = Vec::new();
        let mut diags = Vec::new();
        for d in &spec.domains {
            let mut vs = Vec::new();
            for (j, v) in d.view_json.iter().enumerate() {
                match View::compile_with(v, &functions, &ext) {
                    Ok(c) => vs.push(c),
                    Err(e) => diags.push(Diagnostic::error(
                        "M307",
                        format!("view does not compile with this study: {e}"),
                        Location::file(&d.file)
                            .with_line(d.view_lines.get(j).copied().unwrap_or(1)),
                    )),
                }
            }
            views.push(vs);
        }
        if !diags.is_empty() {
            return Err(diags);
        }
        Ok(Engine {
            spec,
            study,
            key,
            functions,
            views,
            selected: None,
            privacy: Level::Pseudonymised,
            scrub: Policy::embedded().scrub,
            shared: HashMap::new(),
        })
    }

    /// Keeps the resources that belong to no patient, so that a mapping's `resolve()` finds
    /// them (a MedicationRequest's `medicationReference` to a Medication of Bulk NDJSON).
    pub fn share(&mut self, others: impl IntoIterator<Item = Value>) {
        for r in others {
            if let Some(k) = crate::fhirpath::eval::resource_key(&r) {
                self.shared.entry(k).or_insert(r);
            }
        }
    }

    /// Subjects named by `Group` members or `ResearchSubject`s found in the input.
    pub fn select_from(&mut self, all: &[Value]) {
        let mut set = std::collections::HashSet::new();
        let mut any = false;
        for r in all {
            let rt = r.get("resourceType").and_then(Value::as_str);
            let key = r
                .get("id")
                .and_then(Value::as_str)
                .map(|id| format!("{}/{id}", rt.unwrap_or("")));
            if let (Some("Group"), Some(g)) = (rt, &self.study.group) {
                if key.as_deref() == Some(g.as_str()) {
                    any = true;
                    for m in r
                        .get("member")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        if let Some(p) = m
                            .get("entity")
                            .and_then(|e| e.get("reference"))
                            .and_then(Value::as_str)
                        {
                            if let Some(("Patient", id)) = crate::fhirpath::eval::reference_parts(p)
                            {
                                set.insert(format!("Patient/{id}"));
                            }
                        }
                    }
                }
            }
            if let (Some("ResearchSubject"), Some(rs)) = (rt, &self.study.research_study) {
                let study_ref = r
                    .get("study")
                    .and_then(|s| s.get("reference"))
                    .and_then(Value::as_str);
                if study_ref
                    .and_then(crate::fhirpath::eval::reference_parts)
                    .map(|(t, i)| format!("{t}/{i}"))
                    .as_deref()
                    == Some(rs.as_str())
                {
                    any = true;
                    if let Some(p) = patient_of(r) {
                        set.insert(p);
                    }
                }
            }
        }
        if self.study.group.is_some() || self.study.research_study.is_some() {
            if !any {
                // Named but absent: select nobody rather than everybody.
                set.clear();
            }
            self.selected = Some(set);
        }
    }

    fn is_selected(&self, patient_key: &str, patient: &Value) -> bool {
        if self.study.patients.is_empty() && self.selected.is_none() {
            return true;
        }
        let id = patient
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let idents: Vec<&str> = patient
            .get("identifier")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|i| i.get("value").and_then(Value::as_str))
            .collect();
        self.study
            .patients
            .iter()
            .any(|p| p == id || idents.contains(&p.as_str()))
            || self
                .selected
                .as_ref()
                .is_some_and(|s| s.contains(patient_key))
    }

    pub fn usubjid(&self, patient_key: &str) -> (String, String) {
        let subjid = match self.privacy {
            // Site-internal output: the hospital's own patient id.
            Level::Identified => patient_key
                .strip_prefix("Patient/")
                .unwrap_or(patient_key)
                .to_owned(),
            _ => self.key.pseudonym(patient_key),
        };
        (
            format!("{}-{}-{subjid}", self.study.study_id, self.study.site_id),
            subjid,
        )
    }

    /// Converts one patient's resources (the Patient and everything about them).
    pub fn subject(&self, patient_key: &str, resources: &[Value]) -> Result<SubjectOut, Skip> {
        let Some(patient) = resources
            .iter()
            .find(|r| r.get("resourceType").and_then(Value::as_str) == Some("Patient"))
        else {
            return Err(Skip::NoPatient(
                Box::new(
                    Diagnostic::warning(
                        "D001",
                        format!("{} resource(s) refer to a patient that is not in the input; they are not converted", resources.len()),
                        Location::default(),
                    )
                    .help("include the Patient resources (for SS-MIX2: the ADT-00 messages)"),
                ),
                skipped(resources, ledger::NO_PATIENT),
            ));
        };
        if !self.is_selected(patient_key, patient) {
            return Err(Skip::NotSelected(skipped(resources, ledger::NOT_SELECTED)));
        }
        let (usubjid, subjid) = self.usubjid(patient_key);
        let mut out = SubjectOut {
            usubjid: usubjid.clone(),
            resources: resources.len(),
            ..SubjectOut::default()
        };
        // `resolve()`: the subject's own resources first, then the shared ones.
        let own: std::cell::OnceCell<HashMap<String, &Value>> = std::cell::OnceCell::new();
        let resolve = |key: &str| {
            own.get_or_init(|| {
                resources
                    .iter()
                    .filter_map(|r| Some((crate::fhirpath::eval::resource_key(r)?, r)))
                    .collect()
            })
            .get(key)
            .copied()
            .or_else(|| self.shared.get(key))
        };
        // Per resource: Ok once it gave a record, else why not.
        let mut gave: Vec<Result<(), &str>> = vec![Err(ledger::NO_ROW); resources.len()];
        for (d, views) in self.spec.domains.iter().zip(&self.views) {
            let mut rows = Vec::new();
            for (j, view) in views.iter().enumerate() {
                for (ri, r) in resources.iter().enumerate() {
                    match view.run_with(r, &self.functions, Some(&resolve)) {
                        Ok(rs) => {
                            if !rs.is_empty() {
                                gave[ri] = Ok(());
                            }
                            for values in rs {
                                let mut row = Row::new();
                                for (n, v) in view.names().iter().zip(values) {
                                    row.insert(n.clone(), v);
                                }
                                rows.push(row);
                            }
                        }
                        Err(e) => {
                            if gave[ri].is_err() {
                                gave[ri] = Err(ledger::MAP_ERROR);
                            }
                            out.diagnostics.push(
                            Diagnostic::error(
                                "D002",
                                format!(
                                    "{}: a {} resource of subject {usubjid} could not be mapped: {e}",
                                    d.domain,
                                    r.get("resourceType").and_then(Value::as_str).unwrap_or("?")
                                ),
                                Location::file(&d.file).with_line(d.view_lines.get(j).copied().unwrap_or(1)),
                            )
                            .help("the resource is skipped for this domain; the rest of the run continues"),
                        )
                        }
                    }
                }
            }
            for row in &mut rows {
                row.insert("STUDYID".into(), Value::from(self.study.study_id.clone()));
                row.insert("DOMAIN".into(), Value::from(d.domain.clone()));
                row.insert("USUBJID".into(), Value::from(usubjid.clone()));
                if d.variable("SUBJID").is_some() {
                    row.insert("SUBJID".into(), Value::from(subjid.clone()));
                }
                if d.variable("SITEID").is_some() {
                    row.insert("SITEID".into(), Value::from(self.study.site_id.clone()));
                }
            }
            out.rows.insert(d.domain.clone(), rows);
        }
        for (r, g) in resources.iter().zip(gave) {
            out.ledger.resource(r, g);
        }
        derive::subject(self, &mut out);
        if self.privacy != Level::Identified {
            let ids = Identifiers::of(resources, &self.scrub);
            let mut counts = BTreeMap::new();
            for (d, rows) in out.rows.iter_mut() {
                let Some(dom) = self.domain(d) else { continue };
                // Declared variables and the helpers an ASCII fallback reads.
                let written = |v: &str| {
                    dom.variable(v).is_some()
                        || dom
                            .variables
                            .iter()
                            .any(|x| x.ascii_fallback.iter().any(|f| f == v))
                };
                scrub::rows(&ids, &self.scrub, rows.iter_mut(), &mut counts, d, written);
            }
            for (d, rows) in out.supp.iter_mut() {
                let supp = format!("SUPP{d}");
                scrub::rows(
                    &ids,
                    &self.scrub,
                    rows.iter_mut(),
                    &mut counts,
                    &supp,
                    |v| v == "QVAL",
                );
            }
            out.scrubbed = counts;
        }
        Ok(out)
    }

    pub fn domains(&self) -> impl Iterator<Item = &Domain> {
        self.spec.domains.iter()
    }

    pub fn domain(&self, name: &str) -> Option<&Domain> {
        self.spec.domains.iter().find(|d| d.domain == name)
    }
}

/// Groups resources by patient (`Patient/<id>`), in key order. Resources that belong to no
/// patient (Organization, Practitioner, Group …) are returned separately.
pub fn by_patient(resources: Vec<Value>) -> (BTreeMap<String, Vec<Value>>, Vec<Value>) {
    let mut map: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut other = Vec::new();
    for r in resources {
        match patient_of(&r) {
            Some(p) => map.entry(p).or_default().push(r),
            None => other.push(r),
        }
    }
    (map, other)
}

/// Rows keyed by encounter and by date, for visit assignment.
#[derive(Debug, Default)]
pub struct VisitIndex {
    pub by_encounter: HashMap<String, (Value, Value)>,
    pub by_date: BTreeMap<String, (Value, Value)>,
}

impl Engine<'_> {
    /// Converts the resources of one storage patient (stage 1 output for one patient
    /// folder): one subject, without copying, unless they name several patients.
    pub fn storage_patient(&self, resources: &[Value]) -> Vec<Result<SubjectOut, Skip>> {
        let mut keys: Vec<String> = resources.iter().filter_map(patient_of).collect();
        keys.sort();
        keys.dedup();
        match keys.as_slice() {
            [] => vec![],
            [one] => vec![self.subject(one, resources)],
            _ => {
                let (groups, _) = by_patient(resources.to_vec());
                groups.iter().map(|(k, rs)| self.subject(k, rs)).collect()
            }
        }
    }
}
