//! The stage-1 ledger: where every stored file went (reconciliation.json).
//!
//! Each file the walk finds is counted once when it is found, and once more where it ends:
//! a current message converted, or rejected under the code of its first diagnostic, a
//! superseded version, a deletion, or an entry that could not be read at all. The two
//! counts are gathered independently, so [`Ledger::check`] catches a file that a later step
//! dropped without saying so.

use crate::diagnostics::{Diagnostic, Location};
use serde::Serialize;
use std::collections::BTreeMap;

/// The ledger key for entries that are not SS-MIX2 messages (bad names, unreadable
/// files or folders, files outside the layout).
pub const NOT_READ: &str = "(not read)";

/// Codes of walk diagnostics that mean "this entry was not read as a message".
const ENTRY_CODES: [&str; 4] = ["S001", "S003", "S004", "S007"];

#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct TypeLedger {
    /// Files (or transaction records) found for this data type.
    pub files: usize,
    /// Files holding an older version of a record (flag 2, or not the newest).
    pub superseded: usize,
    /// Records whose newest file is a deletion (flag 0).
    pub deleted: usize,
    /// Current messages read (the state the output reflects).
    pub messages: usize,
    /// Current messages that gave at least one resource.
    pub converted: usize,
    /// Of those, messages with an Error diagnostic (some content may be missing), by the
    /// code of the first Error.
    pub converted_with_errors: BTreeMap<String, usize>,
    /// Current messages that gave no resource, by the code of their first diagnostic.
    pub rejected: BTreeMap<String, usize>,
}

#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct Ledger {
    pub data_types: BTreeMap<String, TypeLedger>,
}

/// How one current message ended.
pub enum Outcome {
    Converted { first_error: Option<&'static str> },
    Rejected { code: &'static str },
}

impl Ledger {
    /// Applies `f` to a data type's entry; its key is allocated only the first time (this
    /// runs per file).
    fn with(&mut self, data_type: &str, f: impl FnOnce(&mut TypeLedger)) {
        match self.data_types.get_mut(data_type) {
            Some(t) => f(t),
            None => {
                let mut t = TypeLedger::default();
                f(&mut t);
                self.data_types.insert(data_type.to_owned(), t);
            }
        }
    }
    pub fn found(&mut self, data_type: &str) {
        self.with(data_type, |t| t.files += 1);
    }
    pub fn superseded(&mut self, data_type: &str) {
        self.with(data_type, |t| t.superseded += 1);
    }
    pub fn deleted(&mut self, data_type: &str) {
        self.with(data_type, |t| t.deleted += 1);
    }
    pub fn message(&mut self, data_type: &str, outcome: Outcome) {
        self.with(data_type, |t| t.record(outcome));
    }
}

impl TypeLedger {
    fn record(&mut self, outcome: Outcome) {
        let t = self;
        t.messages += 1;
        match outcome {
            Outcome::Converted { first_error } => {
                t.converted += 1;
                if let Some(c) = first_error {
                    *t.converted_with_errors.entry(c.to_owned()).or_default() += 1;
                }
            }
            Outcome::Rejected { code } => *t.rejected.entry(code.to_owned()).or_default() += 1,
        }
    }
}

impl Ledger {
    /// Counts walk diagnostics that stand for an entry not read.
    pub fn walk_diagnostic(&mut self, d: &Diagnostic) {
        if let Some(code) = ENTRY_CODES.iter().find(|c| **c == d.code) {
            let t = self.data_types.entry(NOT_READ.to_owned()).or_default();
            t.files += 1;
            *t.rejected.entry((*code).to_owned()).or_default() += 1;
        }
    }

    pub fn merge(&mut self, o: Ledger) {
        for (k, v) in o.data_types {
            let t = self.data_types.entry(k).or_default();
            t.files += v.files;
            t.superseded += v.superseded;
            t.deleted += v.deleted;
            t.messages += v.messages;
            t.converted += v.converted;
            for (c, n) in v.converted_with_errors {
                *t.converted_with_errors.entry(c).or_default() += n;
            }
            for (c, n) in v.rejected {
                *t.rejected.entry(c).or_default() += n;
            }
        }
    }

    /// Sums over all data types (the `(not read)` entries count as files and rejections).
    pub fn totals(&self) -> TypeLedger {
        let mut all = Ledger::default();
        for v in self.data_types.values() {
            let mut one = Ledger::default();
            one.data_types.insert(String::new(), v.clone());
            all.merge(one);
        }
        all.data_types.remove("").unwrap_or_default()
    }

    /// Every file is accounted for: files = messages + superseded + deleted (for entries
    /// not read: files = rejected), and messages = converted + rejected. One Error per
    /// data type that does not balance.
    pub fn check(&self) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for (dt, t) in &self.data_types {
            let rejected: usize = t.rejected.values().sum();
            let (ends, what) = if dt == NOT_READ {
                (rejected, "rejected")
            } else {
                (
                    t.messages + t.superseded + t.deleted,
                    "messages + superseded + deleted",
                )
            };
            if t.files != ends {
                out.push(Diagnostic::error("L001", format!("reconciliation of {dt}: {} file(s) found but {ends} accounted for ({what})", t.files), Location::default()).help("this is a kakehashi defect: please report it with reconciliation.json"));
            }
            if dt != NOT_READ && t.messages != t.converted + rejected {
                out.push(Diagnostic::error("L001", format!("reconciliation of {dt}: {} message(s) read but {} converted + {rejected} rejected", t.messages, t.converted), Location::default()).help("this is a kakehashi defect: please report it with reconciliation.json"));
            }
        }
        out
    }
}

/// The outcome of a current message that gave no resource: rejected under the code of its
/// first Error (else its first diagnostic of any kind, from `diagnostics[first..]`). A
/// message rejected with no diagnostic at all gets one (F010), so none goes unexplained.
pub fn rejection(diagnostics: &mut Vec<Diagnostic>, first: usize, at: Location) -> Outcome {
    let mine = &diagnostics[first.min(diagnostics.len())..];
    if let Some(d) = mine.iter().find(|d| d.is_error()).or_else(|| mine.first()) {
        return Outcome::Rejected { code: d.code };
    }
    diagnostics.push(
        Diagnostic::warning("F010", "the message gave no resource", at)
            .help("its message map produced nothing for this content; see kakehashi show"),
    );
    Outcome::Rejected { code: "F010" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_found_but_never_ended_unbalances_the_ledger() {
        let mut l = Ledger::default();
        l.found("OML-11");
        l.found("OML-11");
        l.message("OML-11", Outcome::Converted { first_error: None });
        assert_eq!(l.check().len(), 1);
        l.message("OML-11", Outcome::Rejected { code: "H001" });
        assert!(l.check().is_empty());
        assert_eq!(l.totals().rejected["H001"], 1);
    }
}
