//! Subjects' records → SDTM datasets: declared variable order, Perm variables nobody
//! collected left out (SDTMIG §4.1.5), values typed, and text that is not ASCII moved to the
//! parallel Japanese dataset (PMDA practice: same structure, Japanese text) instead of being
//! mangled or lost.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde_json::Value;

use super::derive::text;
use super::engine::{Row, SubjectOut};
use super::spec::{Domain, SdtmSpec, VarType as SpecType};
use crate::diagnostics::{Diagnostic, Location};
use crate::formats::{Cell, ColumnMeta, Dataset, VarType};

#[derive(Debug, Default)]
pub struct Collected {
    rows: BTreeMap<String, Vec<Row>>,
    supp: BTreeMap<String, Vec<Row>>,
    pub subjects: usize,
    pub resources: usize,
    pub dropped_by_window: usize,
    pub diagnostics: Vec<Diagnostic>,
    usubjids: std::collections::HashSet<String>,
    counts: BTreeMap<(&'static str, String, String), (usize, usize)>,
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
}

impl Collected {
    /// Adds one subject (callers add them in USUBJID order for sorted output).
    pub fn add(&mut self, s: SubjectOut) {
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
        self.subjects += 1;
        self.resources += s.resources;
        self.dropped_by_window += s.dropped_by_window;
        for (d, rows) in s.rows {
            self.rows.entry(d).or_default().extend(rows);
        }
        for (d, rows) in s.supp {
            self.supp.entry(d).or_default().extend(rows);
        }
        self.diagnostics.extend(s.diagnostics);
        for (k, n) in s.counts {
            let e = self.counts.entry(k).or_default();
            e.0 += n;
            e.1 += 1;
        }
    }

    pub fn finish(mut self, spec: &SdtmSpec) -> Output {
        let mut out = Output {
            subjects: self.subjects,
            resources: self.resources,
            dropped_by_window: self.dropped_by_window,
            diagnostics: std::mem::take(&mut self.diagnostics),
            ..Output::default()
        };
        for ((code, file, what), (records, subjects)) in std::mem::take(&mut self.counts) {
            let d = match code {
                "D003" => Diagnostic::warning(
                    code,
                    format!("required variable {what} is null in {records} record(s) of {subjects} subject(s); the records are kept"),
                    Location::file(&file),
                )
                .help("for --TESTCD/--TEST: add the source codes to the terminology table (mappings/sdtm/terminology/, override with --sdtm-mappings)"),
                _ => Diagnostic::warning(
                    code,
                    format!("{what}: {records} result(s) of {subjects} subject(s) could not be converted to the standard unit (units not commensurable or not understood); kept in the original unit"),
                    Location::file(&file),
                )
                .help("give the test a standard unit of the same dimension in its terminology table"),
            };
            out.diagnostics.push(d);
        }
        for d in &spec.domains {
            let rows = self.rows.remove(&d.domain).unwrap_or_default();
            let (ascii, ja) = build(d, &rows, &mut out.non_ascii, &mut out.diagnostics);
            out.datasets.push(ascii);
            if let Some(j) = ja {
                out.japanese.push(j);
            }
            if let Some(supp) = self.supp.remove(&d.domain).filter(|s| !s.is_empty()) {
                let (a, j) = build_supp(d, &supp, &mut out.non_ascii);
                out.datasets.push(a);
                if let Some(j) = j {
                    out.japanese.push(j);
                }
            }
        }
        for ((ds, var), n) in &out.non_ascii {
            out.diagnostics.push(
                Diagnostic::note(
                    "D005",
                    format!("{ds}.{var}: {n} value(s) hold Japanese (non-ASCII) text; the ASCII dataset carries the ASCII fallback, ja/{} the original", ds.to_lowercase()),
                    Location::default(),
                ),
            );
        }
        out
    }
}

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

fn cell(v: Option<&Value>, ty: VarType) -> Cell {
    match (ty, text(v)) {
        (_, None) => Cell::Null,
        (VarType::Num, Some(t)) => t.parse::<Decimal>().map(Cell::Num).unwrap_or(Cell::Null),
        (VarType::Char, Some(t)) => Cell::Char(t),
    }
}

fn build(
    d: &Domain,
    rows: &[Row],
    non_ascii: &mut BTreeMap<(String, String), usize>,
    diags: &mut Vec<Diagnostic>,
) -> (Dataset, Option<Dataset>) {
    let cols = meta(d);
    let mut ascii_rows = Vec::with_capacity(rows.len());
    let mut ja_rows = Vec::with_capacity(rows.len());
    let mut any_ja = false;
    for r in rows {
        let mut a = Vec::with_capacity(cols.len());
        let mut j = Vec::with_capacity(cols.len());
        for (c, v) in cols.iter().zip(&d.variables) {
            let original = cell(r.get(&c.name), c.ty);
            if let Cell::Num(_) = original {
            } else if c.ty == VarType::Num && text(r.get(&c.name)).is_some() {
                diags.push(Diagnostic::warning(
                    "D006",
                    format!(
                        "{}.{} is numeric but a value is not a number; left null",
                        d.domain, c.name
                    ),
                    Location::file(&d.file),
                ));
            }
            let ascii = match &original {
                Cell::Char(s) if !s.is_ascii() => {
                    any_ja = true;
                    *non_ascii
                        .entry((d.domain.clone(), c.name.clone()))
                        .or_default() += 1;
                    v.ascii_fallback
                        .as_ref()
                        .and_then(|f| text(r.get(f)))
                        .filter(|t| t.is_ascii())
                        .map(Cell::Char)
                        .unwrap_or(Cell::Null)
                }
                other => other.clone(),
            };
            a.push(ascii);
            j.push(original);
        }
        ascii_rows.push(a);
        ja_rows.push(j);
    }
    // Perm variables nobody collected are left out (SDTMIG §4.1.5); Req and Exp stay.
    let keep: Vec<bool> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| c.core != "Perm" || ja_rows.iter().any(|r| !r[i].is_null()))
        .collect();
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
    let kept_cols: Vec<ColumnMeta> = cols
        .into_iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(c, _)| c)
        .collect();
    let ascii = Dataset {
        name: d.domain.clone(),
        label: d.label.clone(),
        class: d.class.clone(),
        columns: kept_cols.clone(),
        rows: pick(ascii_rows),
    };
    let ja = any_ja.then(|| Dataset {
        name: d.domain.clone(),
        label: d.label.clone(),
        class: d.class.clone(),
        columns: kept_cols,
        rows: pick(ja_rows),
    });
    (ascii, ja)
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

fn build_supp(
    d: &Domain,
    rows: &[Row],
    non_ascii: &mut BTreeMap<(String, String), usize>,
) -> (Dataset, Option<Dataset>) {
    let name = format!("SUPP{}", d.domain);
    let cols: Vec<ColumnMeta> = SUPP_VARS
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
        .collect();
    let mut any_ja = false;
    let mut a_rows = Vec::new();
    let mut j_rows = Vec::new();
    for r in rows {
        let j: Vec<Cell> = cols
            .iter()
            .map(|c| cell(r.get(&c.name), VarType::Char))
            .collect();
        let a: Vec<Cell> = j
            .iter()
            .zip(&cols)
            .map(|(c, m)| match c {
                Cell::Char(s) if !s.is_ascii() => {
                    any_ja = true;
                    *non_ascii.entry((name.clone(), m.name.clone())).or_default() += 1;
                    Cell::Null
                }
                other => other.clone(),
            })
            .collect();
        a_rows.push(a);
        j_rows.push(j);
    }
    let label = format!("Supplemental Qualifiers for {}", d.domain);
    let mk = |rows| Dataset {
        name: name.clone(),
        label: label.clone(),
        class: "Relationship".into(),
        columns: cols.clone(),
        rows,
    };
    let ja = any_ja.then(|| mk(j_rows));
    (mk(a_rows), ja)
}
