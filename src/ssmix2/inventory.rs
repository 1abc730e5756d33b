//! `kakehashi inspect`: what an archive holds (patients, data types, versions, encodings,
//! date range) and what is wrong with it. Computed patient by patient and merged, so it
//! runs in parallel and in constant memory per patient.

use super::par_patients;
use super::read::read_item;
use super::state::{select, StatePolicy};
use super::storage::{PatientFiles, Storage};
use crate::diagnostics::{Diagnostic, Tally};
use crate::hl7::Structures;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct TypeCounts {
    /// Stored versions (all flags).
    pub files: usize,
    /// Records whose current version exists.
    pub current: usize,
    /// Superseded and older versions kept as history.
    pub history: usize,
    /// Records whose newest version is a deletion.
    pub deleted: usize,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct Inventory {
    pub patients: usize,
    pub files: usize,
    pub bytes: u64,
    pub messages_parsed: usize,
    pub by_data_type: BTreeMap<String, TypeCounts>,
    pub by_message_type: BTreeMap<String, usize>,
    pub by_storage: BTreeMap<String, usize>,
    pub encodings: BTreeMap<String, usize>,
    pub first_care_date: Option<String>,
    pub last_care_date: Option<String>,
    pub diagnostics_by_code: BTreeMap<String, usize>,
    pub tally: Tally,
    pub diagnostics: Vec<Diagnostic>,
}

impl Inventory {
    pub fn add_diagnostic(&mut self, d: Diagnostic) {
        self.tally.add(&d);
        *self
            .diagnostics_by_code
            .entry(d.code.to_owned())
            .or_insert(0) += 1;
        self.diagnostics.push(d);
    }

    /// Inventory of one patient (all stored versions are read and checked).
    pub fn of_patient(
        pf: PatientFiles,
        structures: &Structures,
        policy: &StatePolicy,
    ) -> Inventory {
        let mut inv = Inventory {
            patients: 1,
            ..Default::default()
        };
        for d in pf.diagnostics {
            inv.add_diagnostic(d);
        }
        let st = select(&pf.patient_id, pf.items, policy);
        for d in st.diagnostics.iter().cloned() {
            inv.add_diagnostic(d);
        }
        let all = st
            .current
            .iter()
            .map(|i| (i, 0))
            .chain(st.history.iter().map(|i| (i, 1)))
            .chain(st.deleted.iter().map(|d| (&d.item, 2)));
        for (item, role) in all {
            inv.files += 1;
            let tc = inv
                .by_data_type
                .entry(item.name.data_type.clone())
                .or_default();
            tc.files += 1;
            match role {
                0 => tc.current += 1,
                1 => tc.history += 1,
                _ => tc.deleted += 1,
            }
            *inv.by_storage.entry(item.kind().to_owned()).or_insert(0) += 1;
            if let Some(d) = &item.name.care_date {
                if inv.first_care_date.as_ref().is_none_or(|f| d < f) {
                    inv.first_care_date = Some(d.clone());
                }
                if inv.last_care_date.as_ref().is_none_or(|l| d > l) {
                    inv.last_care_date = Some(d.clone());
                }
            }
            let r = read_item(item, structures);
            inv.bytes += r.bytes as u64;
            if let Some(e) = r.encoding {
                *inv.encodings.entry(e.name().to_owned()).or_insert(0) += 1;
            }
            if let Some(m) = &r.message {
                inv.messages_parsed += 1;
                *inv.by_message_type
                    .entry(m.message_type().unwrap_or_else(|| "(none)".into()))
                    .or_insert(0) += 1;
            }
            for d in r.diagnostics {
                inv.add_diagnostic(d);
            }
        }
        inv
    }

    /// Inventory of whole storage, patients read on all cores, merged in walk order.
    /// `progress` is called after each patient (for a progress bar).
    pub fn of_storage(
        storage: &Storage,
        structures: &Structures,
        policy: &StatePolicy,
        mut progress: impl FnMut(&Inventory),
    ) -> Inventory {
        let mut inv = Inventory::default();
        par_patients(
            storage.walk(),
            64,
            |pf| Inventory::of_patient(pf, structures, policy),
            |r| {
                match r {
                    Ok(i) => inv.merge(i),
                    Err(d) => inv.add_diagnostic(d),
                }
                progress(&inv);
            },
        );
        inv
    }

    pub fn merge(&mut self, o: Inventory) {
        self.patients += o.patients;
        self.files += o.files;
        self.bytes += o.bytes;
        self.messages_parsed += o.messages_parsed;
        for (k, v) in o.by_data_type {
            let t = self.by_data_type.entry(k).or_default();
            t.files += v.files;
            t.current += v.current;
            t.history += v.history;
            t.deleted += v.deleted;
        }
        for (k, v) in o.by_message_type {
            *self.by_message_type.entry(k).or_insert(0) += v;
        }
        for (k, v) in o.by_storage {
            *self.by_storage.entry(k).or_insert(0) += v;
        }
        for (k, v) in o.encodings {
            *self.encodings.entry(k).or_insert(0) += v;
        }
        if let Some(f) = o.first_care_date {
            if self.first_care_date.as_ref().is_none_or(|s| &f < s) {
                self.first_care_date = Some(f);
            }
        }
        if let Some(l) = o.last_care_date {
            if self.last_care_date.as_ref().is_none_or(|s| &l > s) {
                self.last_care_date = Some(l);
            }
        }
        for d in o.diagnostics {
            self.add_diagnostic(d);
        }
    }

    /// The human table.
    pub fn render(&self, max_diagnostics: usize) -> String {
        let mut s = String::new();
        s.push_str(&format!("patients        {}\n", self.patients));
        s.push_str(&format!(
            "stored versions {} ({} bytes, {} parsed as HL7)\n",
            self.files, self.bytes, self.messages_parsed
        ));
        s.push_str(&format!(
            "care dates      {} .. {}\n",
            self.first_care_date.as_deref().unwrap_or("-"),
            self.last_care_date.as_deref().unwrap_or("-")
        ));
        let join = |m: &BTreeMap<String, usize>| {
            m.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        s.push_str(&format!("storage         {}\n", join(&self.by_storage)));
        s.push_str(&format!("encodings       {}\n", join(&self.encodings)));
        s.push_str(
            "\ndata type                                 files  current  history  deleted\n",
        );
        for (k, v) in &self.by_data_type {
            s.push_str(&format!(
                "{k:<40} {:>6} {:>8} {:>8} {:>8}\n",
                v.files, v.current, v.history, v.deleted
            ));
        }
        s.push_str("\nmessage type     messages\n");
        for (k, v) in &self.by_message_type {
            s.push_str(&format!("{k:<16} {v:>8}\n"));
        }
        s.push_str(&format!(
            "\ndiagnostics: {} error(s), {} warning(s), {} note(s)\n",
            self.tally.errors, self.tally.warnings, self.tally.notes
        ));
        for (k, v) in &self.diagnostics_by_code {
            s.push_str(&format!("  {k} {v}\n"));
        }
        let mut shown: Vec<&Diagnostic> = self
            .diagnostics
            .iter()
            .filter(|d| d.severity != crate::diagnostics::Severity::Note)
            .collect();
        shown.sort_by_key(|d| std::cmp::Reverse(d.severity));
        for d in shown.iter().take(max_diagnostics) {
            s.push('\n');
            s.push_str(&d.to_string());
            s.push('\n');
        }
        if shown.len() > max_diagnostics {
            s.push_str(&format!(
                "\n… {} more (use --format json for all)\n",
                shown.len() - max_diagnostics
            ));
        }
        s
    }
}
