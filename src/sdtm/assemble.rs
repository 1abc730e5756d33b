//! Subjects' records → SDTM datasets: declared variable order, Perm variables nobody
//! collected left out (SDTMIG §4.1.5), values typed, and text that is not ASCII moved to the
//! parallel Japanese dataset (PMDA practice: same structure, Japanese text) instead of being
//! mangled or lost.
//!
//! Records are kept compact while subjects arrive (one string per record, values separated
//! by U+001F), so memory grows with the size of the SDTM text, not with the FHIR input.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde_json::Value;

use super::derive::text;
use super::engine::{Row, SubjectOut};
use super::spec::{Domain, SdtmSpec, VarType as SpecType};
use crate::diagnostics::{Diagnostic, Location};
use crate::formats::{Cell, ColumnMeta, Dataset, VarType};

const SEP: char = '\u{1F}';
/// Marks a null cell inside a compact record (distinct from an empty string).
const NULL: &str = "\u{0}";

/// One record: its values in declared order, and — only when it holds non-ASCII text —
/// the ASCII variant (fallbacks substituted).
type Compact = (Box<str>, Option<Box<str>>);

struct SubjectRecords {
    usubjid: String,
    /// Dataset name (`LB`, `SUPPLB`) → records.
    datasets: BTreeMap<String, Vec<Compact>>,
}

pub struct Collected<'s> {
    spec: &'s SdtmSpec,
    subjects: Vec<SubjectRecords>,
    pub subjects_seen: usize,
    pub resources: usize,
    pub dropped_by_window: usize,
    pub diagnostics: Vec<Diagnostic>,
    usubjids: std::collections::HashSet<String>,
    counts: BTreeMap<(&'static str, String, String), (usize, usize)>,
    non_ascii: BTreeMap<(String, String), usize>,
    scrubbed: BTreeMap<String, usize>,
    pub ledger: super::ledger::SdtmLedger,
}

#[derive(Debug, Default)]
pub struct Output {
    pub datasets: Vec<Dataset>,
    /// Japanese-text variants (`ja/`), only for datasets that had non-ASCII text.
    pub japanese: Vec<Dataset>,
    pub diagnostics: Vec<Diagnostic>,
    pub subjects: usize,
    pub resources: usize,
    pub dropped_by_window: usize,
    /// Values replaced in the ASCII datasets, by dataset and variable.
    pub non_ascii: BTreeMap<(String, String), usize>,
    /// `DATASET.VARIABLE` → values in which subjects' identifiers were masked.
    pub scrubbed: BTreeMap<String, usize>,
    /// Records not written because a Required variable had no value, per domain.
    pub rejected: BTreeMap<String, Rejects>,
    /// What the resources gave (records written are added by [`Output::reconciliation`]).
    pub ledger: super::ledger::SdtmLedger,
}

/// A domain's reject listing (`unmapped/<domain>.csv`): one row per missing-variable set and
/// identifying codes, with record and subject counts. No patient values.
#[derive(Debug, Clone, Default)]
pub struct Rejects {
    /// The `unmapped_by` columns of the domain.
    pub by: Vec<String>,
    /// (reason: `missing <variables>` or `unit <u> not convertible to <standard>`, code
    /// values) → (records, subjects).
    pub rows: BTreeMap<(String, Vec<String>), (usize, usize)>,
}

impl Output {
    /// The stage-2 ledger of this output: resources, records written per dataset,
    /// records rejected per domain and reason.
    pub fn reconciliation(&self) -> super::ledger::SdtmLedger {
        let mut l = self.ledger.clone();
        for d in &self.datasets {
            l.records_written.insert(d.name.clone(), d.rows.len());
        }
        for (domain, rej) in &self.rejected {
            let e = l.records_rejected.entry(domain.clone()).or_default();
            for ((reason, _), (records, _)) in &rej.rows {
                *e.entry(reason.clone()).or_default() += records;
            }
        }
        l.records_outside_date_window = self.dropped_by_window;
        l
    }

    /// Removes the datasets without records (SDTMIG: a dataset without records is not
    /// submitted, so it is neither written nor described in define.xml) and names them.
    pub fn drop_empty_datasets(&mut self) -> Vec<String> {
        let empty: Vec<String> = self
            .datasets
            .iter()
            .filter(|d| d.rows.is_empty())
            .map(|d| d.name.clone())
            .collect();
        self.datasets.retain(|d| !d.rows.is_empty());
        self.japanese.retain(|d| !d.rows.is_empty());
        empty
    }
}

const SUPP_VARS: &[(&str, &str, &str)] = &[
    ("STUDYID", "Study Identifier", "Req"),
    ("RDOMAIN", "Related Domain Abbreviation", "Req"),
    ("USUBJID", "Unique Subject Identifier", "Req"),
    ("IDVAR", "Identifying Variable", "Exp"),
    ("IDVARVAL", "Identifying Variable Value", "Exp"),
    ("QNAM", "Qualifier Variable Name", "Req"),
    ("QLABEL", "Qualifier Variable Label", "Req"),
    ("QVAL", "Data Value", "Req"),
    ("QORIG", "Origin", "Req"),
    ("QEVAL", "Evaluator", "Exp"),
];

fn meta(d: &Domain) -> Vec<ColumnMeta> {
    d.variables
        .iter()
        .map(|v| ColumnMeta {
            name: v.name.clone(),
            label: v.label.clone(),
            ty: if v.ty == SpecType::Num {
                VarType::Num
            } else {
                VarType::Char
            },
            core: v.core.clone(),
            codelist: v.codelist.clone(),
            origin: v.origin.clone(),
            method: v.method.clone(),
            key_sequence: d.keys.iter().position(|k| *k == v.name).map(|i| i + 1),
        })
        .collect()
}

fn supp_meta() -> Vec<ColumnMeta> {
    SUPP_VARS
        .iter()
        .map(|(n, l, core)| ColumnMeta {
            name: n.to_string(),
            label: l.to_string(),
            ty: VarType::Char,
            core: core.to_string(),
            codelist: None,
            origin: if *n == "QVAL" {
                "Collected".into()
            } else {
                "Assigned".into()
            },
            method: None,
            key_sequence: ["STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "QNAM"]
                .iter()
                .position(|k| k == n)
                .map(|i| i + 1),
        })
        .collect()
}

fn join(cells: &[Option<String>]) -> Box<str> {
    let mut s = String::new();
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            s.push(SEP);
        }
        match c {
            Some(v) => s.push_str(&v.replace(SEP, " ")),
            None => s.push_str(NULL),
        }
    }
    s.into_boxed_str()
}

fn split(s: &str, cols: &[ColumnMeta]) -> Vec<Cell> {
    s.split(SEP)
        .zip(cols)
        .map(|(v, c)| match (v, c.ty) {
            (NULL, _) => Cell::Null,
            // Rust's parse is correctly rounded: "8.55" becomes the double nearest 8.55.
            (v, VarType::Num) => v
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(Cell::Num)
                .unwrap_or(Cell::Null),
            (v, VarType::Char) => Cell::Char(v.to_owned()),
        })
        .collect()
}

impl<'s> Collected<'s> {
    pub fn new(spec: &'s SdtmSpec) -> Collected<'s> {
        Collected {
            spec,
            subjects: Vec::new(),
            subjects_seen: 0,
            resources: 0,
            dropped_by_window: 0,
            diagnostics: Vec::new(),
            usubjids: Default::default(),
            counts: BTreeMap::new(),
            non_ascii: BTreeMap::new(),
            scrubbed: BTreeMap::new(),
            ledger: Default::default(),
        }
    }

    /// Adds one subject, in any order (datasets are sorted by USUBJID at the end).
    pub fn add(&mut self, mut s: SubjectOut) {
        if !self.usubjids.insert(s.usubjid.clone()) {
            self.diagnostics.push(Diagnostic::error(
                "D004",
                format!(
                    "two patients map to the same USUBJID {}: pseudonym collision",
                    s.usubjid
                ),
                Location::default(),
            ));
        }
        self.subjects_seen += 1;
        self.ledger.merge(std::mem::take(&mut s.ledger));
        self.resources += s.resources;
        self.dropped_by_window += s.dropped_by_window;
        self.diagnostics.extend(s.diagnostics);
        for (k, n) in s.scrubbed {
            *self.scrubbed.entry(k).or_default() += n;
        }
        for (k, n) in s.counts {
            let e = self.counts.entry(k).or_default();
            e.0 += n;
            e.1 += 1;
        }
        let mut datasets = BTreeMap::new();
        for (name, rows) in s.rows {
            let Some(d) = self.spec.domains.iter().find(|d| d.domain == name) else {
                continue;
            };
            let recs: Vec<Compact> = rows.iter().map(|r| self.compact(d, r)).collect();
            datasets.insert(name, recs);
        }
        for (name, rows) in s.supp {
            let ds = format!("SUPP{name}");
            let recs: Vec<Compact> = rows
                .iter()
                .map(|r| {
                    let orig: Vec<Option<String>> =
                        SUPP_VARS.iter().map(|(n, ..)| text(r.get(*n))).collect();
                    let mut changed = false;
                    let ascii: Vec<Option<String>> = orig
                        .iter()
                        .zip(SUPP_VARS)
                        .map(|(v, (n, ..))| match v {
                            Some(t) if !t.is_ascii() => {
                                changed = true;
                                *self
                                    .non_ascii
                                    .entry((ds.clone(), n.to_string()))
                                    .or_default() += 1;
                                None
                            }
                            other => other.clone(),
                        })
                        .collect();
                    (join(&orig), changed.then(|| join(&ascii)))
                })
                .collect();
            datasets.insert(ds, recs);
        }
        self.subjects.push(SubjectRecords {
            usubjid: s.usubjid,
            datasets,
        });
    }

    fn compact(&mut self, d: &Domain, r: &Row) -> Compact {
        let mut orig = Vec::with_capacity(d.variables.len());
        let mut ascii = Vec::with_capacity(d.variables.len());
        let mut changed = false;
        for v in &d.variables {
            let mut val = text(r.get(&v.name));
            if v.ty == SpecType::Num {
                if let Some(t) = &val {
                    if t.parse::<Decimal>().is_err() {
                        let e = self
                            .counts
                            .entry(("D006", d.file.clone(), format!("{}.{}", d.domain, v.name)))
                            .or_default();
                        e.0 += 1;
                        val = None;
                    }
                }
            }
            let a = match &val {
                Some(t) if !t.is_ascii() => {
                    changed = true;
                    *self
                        .non_ascii
                        .entry((d.domain.clone(), v.name.clone()))
                        .or_default() += 1;
                    v.ascii_fallback
                        .iter()
                        .filter_map(|f| text(r.get(f)))
                        .find(|t| t.is_ascii())
                }
                other => other.clone(),
            };
            orig.push(val);
            ascii.push(a);
        }
        (join(&orig), changed.then(|| join(&ascii)))
    }

    pub fn finish(mut self) -> Output {
        let mut out = Output {
            subjects: self.subjects_seen,
            resources: self.resources,
            dropped_by_window: self.dropped_by_window,
            diagnostics: std::mem::take(&mut self.diagnostics),
            ledger: std::mem::take(&mut self.ledger),
            ..Output::default()
        };
        for ((code, file, what), (records, subjects)) in std::mem::take(&mut self.counts) {
            let d = match code {
                "D003" | "D007" => {
                    let mut parts = what.split(super::derive::REJECT_SEP).map(str::to_owned);
                    let domain = parts.next().unwrap_or_default();
                    let missing = parts.next().unwrap_or_default();
                    let by = self
                        .spec
                        .domains
                        .iter()
                        .find(|d| d.domain == domain)
                        .map(|d| d.derive.unmapped_by.clone())
                        .unwrap_or_default();
                    let e = out.rejected.entry(domain).or_default();
                    e.by = by;
                    let r = e.rows.entry((missing, parts.collect())).or_default();
                    r.0 += records;
                    r.1 += subjects;
                    continue;
                }
                "D006" => Diagnostic::warning(
                    code,
                    format!("{what} is numeric but {records} value(s) are not numbers; left null"),
                    Location::file(&file),
                ),
                _ => Diagnostic::warning(code, what, Location::file(&file)),
            };
            out.diagnostics.push(d);
        }
        for (domain, rej) in &out.rejected {
            let Some(d) = self.spec.domains.iter().find(|d| d.domain == *domain) else {
                continue;
            };
            let mut by_var: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
            let mut by_unit: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
            for ((reason, _), (records, subjects)) in &rej.rows {
                let Some(missing) = reason.strip_prefix("missing ") else {
                    let e = by_unit.entry(reason.as_str()).or_default();
                    e.0 += records;
                    e.1 += subjects;
                    continue;
                };
                for v in missing.split(' ') {
                    let e = by_var.entry(v).or_default();
                    e.0 += records;
                    e.1 += subjects;
                }
            }
            for (reason, (records, subjects)) in by_unit {
                out.diagnostics.push(
                    Diagnostic::warning(
                        "D007",
                        format!("{records} numeric result(s) of {subjects} subject(s) in {domain}: {reason} (units not commensurable or not understood); they are not written and are listed in unmapped/{}.csv", domain.to_lowercase()),
                        Location::file(&d.file),
                    )
                    .help("give the test a standard unit of the same dimension in its terminology table, or a conversion in the units table"),
                );
            }
            for (var, (records, subjects)) in by_var {
                let tables = d.column_tables.get(var).cloned().unwrap_or_default();
                let help = if tables.is_empty() {
                    format!(
                        "map a source for {domain}.{var} in the domain file, or extend the data"
                    )
                } else {
                    format!(
                        "add the codes listed in unmapped/{}.csv to the terminology table{} {} (mappings/sdtm/terminology/; override with --sdtm-mappings)",
                        domain.to_lowercase(),
                        if tables.len() > 1 { "s" } else { "" },
                        tables.join(", ")
                    )
                };
                out.diagnostics.push(
                    Diagnostic::warning(
                        "D003",
                        format!("{records} record(s) of {subjects} subject(s) have no value for the Required variable {domain}.{var}; they are not written and are listed in unmapped/{}.csv", domain.to_lowercase()),
                        Location::file(&d.file),
                    )
                    .help(help),
                );
            }
        }
        self.subjects.sort_by(|a, b| a.usubjid.cmp(&b.usubjid));
        let spec = self.spec;
        for d in &spec.domains {
            let supp_name = format!("SUPP{}", d.domain);
            for (name, label, class, structure, cols) in [
                (
                    d.domain.clone(),
                    d.label.clone(),
                    d.class.clone(),
                    d.structure.clone(),
                    meta(d),
                ),
                (
                    supp_name,
                    format!("Supplemental Qualifiers for {}", d.domain),
                    "Relationship".to_owned(),
                    "One record per supplemental qualifier per related parent domain record"
                        .to_owned(),
                    supp_meta(),
                ),
            ] {
                let is_supp = name.starts_with("SUPP");
                let records: Vec<&Compact> = self
                    .subjects
                    .iter()
                    .flat_map(|s| s.datasets.get(&name).into_iter().flatten())
                    .collect();
                if is_supp && records.is_empty() {
                    continue;
                }
                let any_ja = records.iter().any(|r| r.1.is_some());
                let ja_rows: Vec<Vec<Cell>> = records.iter().map(|r| split(&r.0, &cols)).collect();
                let ascii_rows: Vec<Vec<Cell>> = records
                    .iter()
                    .zip(&ja_rows)
                    .map(|(r, orig)| match &r.1 {
                        Some(a) => split(a, &cols),
                        None => orig.clone(),
                    })
                    .collect();
                // Perm variables nobody collected are left out (SDTMIG §4.1.5).
                let mut keep: Vec<bool> = cols
                    .iter()
                    .enumerate()
                    .map(|(i, c)| c.core != "Perm" || ja_rows.iter().any(|r| !r[i].is_null()))
                    .collect();
                // A study day stays beside its date even when no record has one (a partial
                // date has none): SDTM pairs --DY with --DTC (CORE-000321, -000776).
                if !is_supp {
                    for (dtc, dy) in &d.derive.study_days {
                        let at = |n: &str| cols.iter().position(|c| c.name == n);
                        if let (Some(a), Some(b)) = (at(dtc), at(dy)) {
                            keep[b] |= keep[a];
                        }
                    }
                }
                let pick = |rows: Vec<Vec<Cell>>| -> Vec<Vec<Cell>> {
                    rows.into_iter()
                        .map(|r| {
                            r.into_iter()
                                .zip(&keep)
                                .filter(|(_, k)| **k)
                                .map(|(c, _)| c)
                                .collect()
                        })
                        .collect()
                };
                let kept: Vec<ColumnMeta> = cols
                    .iter()
                    .zip(&keep)
                    .filter(|(_, k)| **k)
                    .map(|(c, _)| c.clone())
                    .collect();
                let mk = |rows| Dataset {
                    name: name.clone(),
                    label: label.clone(),
                    class: class.clone(),
                    structure: structure.clone(),
                    columns: kept.clone(),
                    rows,
                };
                if any_ja {
                    out.japanese.push(mk(pick(ja_rows)));
                }
                out.datasets.push(mk(pick(ascii_rows)));
            }
        }
        for ((ds, var), n) in &self.non_ascii {
            out.diagnostics.push(Diagnostic::note(
                "D005",
                format!(
                    "{ds}.{var}: {n} value(s) hold Japanese (non-ASCII) text; the ASCII dataset carries the ASCII fallback, ja/{} the original",
                    ds.to_lowercase()
                ),
                Location::default(),
            ));
        }
        out.non_ascii = self.non_ascii;
        out.scrubbed = self.scrubbed;
        out
    }
}

/// The JSON value of a cell (for tests and Dataset-JSON).
pub fn cell_json(c: &Cell) -> Value {
    match c {
        Cell::Null => Value::Null,
        Cell::Char(s) => Value::from(s.clone()),
        Cell::Num(d) => serde_json::Number::from_f64(*d)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Cell::Missing(_) => Value::Null,
    }
}
