//! RELREC as a rule's match dataset without keys (CORE-000744, -000757, -000901): each
//! record is joined with the records RELREC relates it to, whose columns are reachable as
//! `RELREC.<name>`, a model variable's domain prefix replaced by the rule's wildcard
//! (`RELREC.**TERM` is the related AETERM or MHTERM). This follows the reference engine:
//! RELREC rows of the rule's domain pair with the rows of the same USUBJID and RELID for
//! another domain; a pair with both IDVARVALs names one record on each side, a pair without
//! them relates every record whose IDVAR values are equal (a dataset-level relationship).

use std::collections::HashSet;
use std::sync::Arc;

use super::data::{Study, Table, V};
use super::engine::{key_text, Frame};
use super::sdtm_model;

/// Every `--` variable of the model, without its `--`.
fn model_roots() -> HashSet<&'static str> {
    [
        sdtm_model::IDENTIFIERS,
        sdtm_model::TIMING,
        sdtm_model::INTERVENTIONS,
        sdtm_model::EVENTS,
        sdtm_model::FINDINGS,
        sdtm_model::FINDINGS_ABOUT_EXTRA,
    ]
    .iter()
    .flat_map(|t| t.iter())
    .filter_map(|(n, _)| n.strip_prefix("--"))
    .collect()
}

/// The name a related dataset's column takes in the joined frame.
fn renamed(col: &str, domain: &str, wildcard: &str, roots: &HashSet<&str>) -> String {
    match col.strip_prefix(domain) {
        Some(rest) if !domain.is_empty() && roots.contains(rest) => {
            format!("RELREC.{wildcard}{rest}")
        }
        _ => format!("RELREC.{col}"),
    }
}

pub(super) fn merge(frame: &mut Frame, study: &Study, relrec: &Table, wildcard: &str) {
    let col = |n: &str| relrec.col(n);
    let (Some(rd), Some(rid)) = (col("RDOMAIN"), col("RELID")) else {
        frame.rows = Arc::new(Vec::new());
        frame.records.clear();
        return;
    };
    let text =
        |r: &Vec<V>, c: Option<usize>| c.map(|c| r[c].text().trim().to_owned()).unwrap_or_default();
    let (st, us, iv, ivv) = (
        col("STUDYID"),
        col("USUBJID"),
        col("IDVAR"),
        col("IDVARVAL"),
    );
    let roots = model_roots();
    let domain = frame.domain.clone();
    let mut out_cols = frame.cols.clone();
    let mut rows: Vec<Vec<V>> = Vec::new();
    let mut records: Vec<Option<usize>> = Vec::new();
    let base = frame.cols.len();
    for left in relrec.rows.iter().filter(|r| text(r, Some(rd)) == domain) {
        for right in relrec.rows.iter() {
            let same = |c: Option<usize>| text(left, c) == text(right, c);
            if text(right, Some(rd)) == domain || !same(us) || !same(Some(rid)) || !same(st) {
                continue;
            }
            let rdom = text(right, Some(rd));
            let Some(other) = study.tables.iter().find(|t| t.domain() == rdom) else {
                continue;
            };
            // Where each of the related dataset's columns lands in the joined frame.
            let at: Vec<usize> = other
                .columns
                .iter()
                .map(|c| {
                    let n = renamed(&c.name, &rdom, wildcard, &roots);
                    out_cols.iter().position(|x| *x == n).unwrap_or_else(|| {
                        out_cols.push(n);
                        out_cols.len() - 1
                    })
                })
                .collect();
            let subject = text(left, us);
            let by_record = !text(left, ivv).is_empty() && !text(right, ivv).is_empty();
            let (lvar, rvar) = (text(left, iv), text(right, iv));
            let (Some(lc), Some(rc)) = (frame.col(&lvar), other.col(&rvar)) else {
                continue;
            };
            let (fs, fu) = (frame.col("STUDYID"), frame.col("USUBJID"));
            let (os, ou) = (other.col("STUDYID"), other.col("USUBJID"));
            for (lrow, rec) in frame.rows.iter().zip(&frame.records) {
                let lu = fu.map(|c| key_text(&lrow[c])).unwrap_or_default();
                if !subject.is_empty() && lu != subject {
                    continue;
                }
                if by_record && key_text(&lrow[lc]) != text(left, ivv) {
                    continue;
                }
                for orow in other.rows.iter() {
                    let ru = ou.map(|c| key_text(&orow[c])).unwrap_or_default();
                    if (!subject.is_empty() && ru != subject)
                        || ru != lu
                        || fs.map(|c| key_text(&lrow[c])) != os.map(|c| key_text(&orow[c]))
                    {
                        continue;
                    }
                    let linked = if by_record {
                        key_text(&orow[rc]) == text(right, ivv)
                    } else {
                        key_text(&lrow[lc]) == key_text(&orow[rc])
                    };
                    if !linked {
                        continue;
                    }
                    let mut row = lrow.clone();
                    row.resize(out_cols.len(), V::Null);
                    for (i, &dst) in at.iter().enumerate() {
                        if dst >= base {
                            row[dst] = orow[i].clone();
                        }
                    }
                    rows.push(row);
                    records.push(*rec);
                }
            }
        }
    }
    for r in rows.iter_mut() {
        r.resize(out_cols.len(), V::Null);
    }
    frame.cols = out_cols;
    frame.rows = Arc::new(rows);
    frame.records = records;
}
