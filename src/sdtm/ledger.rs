//! The stage-2 ledger: what became of every FHIR resource given to the SDTM engine, and of
//! every record the domain files produced (reconciliation.json).

use crate::diagnostics::{Diagnostic, Location};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Why a resource gave no SDTM record.
pub const NO_ROW: &str = "no domain view selects it";
pub const NOT_SELECTED: &str = "patient not in the study cohort";
pub const NO_PATIENT: &str = "D001 (its Patient is not in the input)";
pub const MAP_ERROR: &str = "D002 (mapping error)";

#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct ResourceLedger {
    pub read: usize,
    /// Resources that gave at least one record (before derivations).
    pub gave_records: usize,
    /// Resources that gave none, by reason.
    pub gave_none: BTreeMap<String, usize>,
}

#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct SdtmLedger {
    /// Per resource type, for resources that belong to a patient.
    pub resources: BTreeMap<String, ResourceLedger>,
    /// Per dataset: records written.
    pub records_written: BTreeMap<String, usize>,
    /// Per domain: records not written, by reason (the reject listings, unmapped/*.csv).
    pub records_rejected: BTreeMap<String, BTreeMap<String, usize>>,
    /// Records outside the study's date window (study file `date_from`/`date_to`).
    pub records_outside_date_window: usize,
}

fn kind(r: &Value) -> &str {
    r.get("resourceType")
        .and_then(Value::as_str)
        .unwrap_or("(no resourceType)")
}

impl SdtmLedger {
    /// A resource given to the engine and what it gave (per resource: the type's key is
    /// allocated only the first time it is seen).
    pub fn resource(&mut self, r: &Value, outcome: Result<(), &str>) {
        let k = kind(r);
        match self.resources.get_mut(k) {
            Some(e) => e.add(outcome),
            None => {
                let mut e = ResourceLedger::default();
                e.add(outcome);
                self.resources.insert(k.to_owned(), e);
            }
        }
    }

    /// All resources of a patient that gave no subject.
    pub fn skipped(&mut self, resources: &[Value], why: &str) {
        for r in resources {
            self.resource(r, Err(why));
        }
    }

    pub fn merge(&mut self, o: SdtmLedger) {
        for (k, v) in o.resources {
            let e = self.resources.entry(k).or_default();
            e.read += v.read;
            e.gave_records += v.gave_records;
            for (w, n) in v.gave_none {
                *e.gave_none.entry(w).or_default() += n;
            }
        }
        for (k, n) in o.records_written {
            *self.records_written.entry(k).or_default() += n;
        }
        for (k, m) in o.records_rejected {
            let e = self.records_rejected.entry(k).or_default();
            for (w, n) in m {
                *e.entry(w).or_default() += n;
            }
        }
        self.records_outside_date_window += o.records_outside_date_window;
    }

    /// read = gave records + gave none, per resource type.
    pub fn check(&self) -> Vec<Diagnostic> {
        self.resources
            .iter()
            .filter(|(_, e)| e.read != e.gave_records + e.gave_none.values().sum::<usize>())
            .map(|(t, e)| {
                Diagnostic::error(
                    "L002",
                    format!(
                        "reconciliation of {t} resources: {} read but {} accounted for",
                        e.read,
                        e.gave_records + e.gave_none.values().sum::<usize>()
                    ),
                    Location::default(),
                )
                .help("this is a kakehashi defect: please report it with reconciliation.json")
            })
            .collect()
    }
}

impl ResourceLedger {
    fn add(&mut self, outcome: Result<(), &str>) {
        let e = self;
        e.read += 1;
        match outcome {
            Ok(()) => e.gave_records += 1,
            Err(why) => *e.gave_none.entry(why.to_owned()).or_default() += 1,
        }
    }
}
