//! Derivations, per subject: reference dates, visits, study days, epochs, standardised
//! results and reference-range indicators, DM's subject-level variables, sorting by the
//! natural keys, --SEQ, and SUPP-- records. Which ones a domain gets is declared in its
//! mapping file (`derive:`); the rules themselves are SDTMIG 3.4 and are documented here.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::prelude::*;
use serde_json::Value;

use super::engine::{Engine, Row, SubjectOut};
use super::long_text;
use super::spec::{Domain, Results, VarType};
use super::study::{ReferenceStart, Window};
use crate::fhirpath::ucum;

/// Separates the parts of a reject key: domain, reason, `unmapped_by` values.
pub const REJECT_SEP: &str = "\u{1f}";

pub fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "Y" } else { "N" }.to_owned()),
        _ => None,
    }
}

/// The complete calendar date at the start of an ISO 8601 value, if it has one.
pub fn date_of(dtc: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(dtc.get(..10)?, "%Y-%m-%d").ok()
}

/// SDTMIG §4.4.4: on or after the reference date `date − ref + 1`, before it `date − ref`;
/// there is no day 0, and partial dates get none.
/// Whether a date is certainly before the reference start: compared at their common
/// precision, so `2012` or `2012-09` against `2012-09-07` is not (it may be on or after;
/// CORE compares partial dates so, CORE-000236 on MH).
pub fn before_reference(dtc: &str, rfstdtc: &str) -> bool {
    let n = dtc.len().min(rfstdtc.len());
    match (dtc.get(..n), rfstdtc.get(..n)) {
        (Some(a), Some(b)) => a < b,
        _ => dtc < rfstdtc,
    }
}

pub fn study_day(dtc: &str, rfstdtc: &str) -> Option<i64> {
    let d = (date_of(dtc)? - date_of(rfstdtc)?).num_days();
    Some(if d >= 0 { d + 1 } else { d })
}

fn min_max(rows: &[Row], vars: &[&str]) -> (Option<String>, Option<String>) {
    let mut all: Vec<String> = rows
        .iter()
        .flat_map(|r| vars.iter().filter_map(|v| text(r.get(*v))))
        .collect();
    all.sort();
    (all.first().cloned(), all.last().cloned())
}

fn window(ws: &[Window], day: i64) -> Option<&Window> {
    ws.iter()
        .find(|w| w.day_from.is_none_or(|f| day >= f) && w.day_to.is_none_or(|t| day <= t))
}

pub fn subject(engine: &Engine, out: &mut SubjectOut) {
    let study = engine.study;
    let empty = Vec::new();
    let sv = out.rows.get("SV").unwrap_or(&empty);
    let ex = out.rows.get("EX").unwrap_or(&empty);
    let (first_enc, last_enc) = min_max(sv, &["SVSTDTC", "SVENDTC"]);
    let (first_dose, last_dose) = min_max(ex, &["EXSTDTC", "EXENDTC"]);
    // Dates of the records a code-based index rule names: (start, end) per matching record.
    let matching = |domains: &[&str], code_cols: &[(&str, &str)], codes: &[String]| {
        let mut dates: Vec<String> = Vec::new();
        for dom in domains {
            for r in out.rows.get(*dom).into_iter().flatten() {
                let hit = code_cols.iter().any(|(col, prefix)| {
                    text(r.get(*col))
                        .is_some_and(|c| ReferenceStart::matches(codes, &format!("{prefix}{c}")))
                });
                if !hit {
                    continue;
                }
                let p = &dom[..2];
                let st = [format!("{p}STDTC"), format!("{p}DTC")]
                    .iter()
                    .find_map(|v| text(r.get(v)));
                let en = text(r.get(&format!("{p}ENDTC")));
                dates.extend(st.iter().chain(en.iter()).cloned());
            }
        }
        dates.sort();
        (dates.first().cloned(), dates.last().cloned())
    };
    let (rfst, rfen) = match &study.reference_start {
        ReferenceStart::FirstDoseOf(codes) => matching(&["EX", "CM"], &[("drug_code", "")], codes),
        ReferenceStart::FirstDiagnosis(codes) => {
            let (first, _) = matching(&["MH"], &[("term_code", ""), ("icd10", "ICD10:")], codes);
            let end = first.as_ref().and(last_enc.clone());
            (first, end)
        }
        ReferenceStart::FirstEncounter => (first_enc.clone(), last_enc.clone()),
        ReferenceStart::FirstDose => (first_dose.clone(), last_dose.clone()),
        ReferenceStart::FirstDoseOrEncounter => {
            if first_dose.is_some() {
                (first_dose.clone(), last_dose.clone())
            } else {
                (first_enc.clone(), last_enc.clone())
            }
        }
    };

    // Visits: SV records numbered by the study's windows, else chronologically.
    let mut by_encounter: BTreeMap<String, (Value, Value)> = BTreeMap::new();
    let mut by_date: BTreeMap<String, (Value, Value)> = BTreeMap::new();
    if let Some(sv_rows) = out.rows.get_mut("SV") {
        sv_rows.sort_by_key(|a| text(a.get("SVSTDTC")));
        let mut n = 0;
        let mut unscheduled: BTreeMap<String, u32> = BTreeMap::new();
        for row in sv_rows.iter_mut() {
            let start = text(row.get("SVSTDTC")).unwrap_or_default();
            let (num, name) = if study.visits.is_empty() {
                n += 1;
                (Value::from(n), Value::from(format!("VISIT {n}")))
            } else {
                let day = rfst.as_deref().and_then(|r| study_day(&start, r));
                match day.and_then(|d| window(&study.visits, d)) {
                    Some(w) => (
                        w.number
                            .as_deref()
                            .and_then(|x| x.parse::<serde_json::Number>().ok())
                            .map(Value::Number)
                            .unwrap_or(Value::Null),
                        Value::from(w.name.clone()),
                    ),
                    None => {
                        // Unscheduled: numbered after the last planned visit, in order.
                        let base = study
                            .visits
                            .iter()
                            .filter_map(|w| w.number.as_deref()?.parse::<f64>().ok())
                            .fold(0.0, f64::max);
                        let k = unscheduled.entry(String::new()).or_insert(0);
                        *k += 1;
                        (
                            Value::from(base + f64::from(*k) / 100.0),
                            Value::from("UNSCHEDULED"),
                        )
                    }
                }
            };
            row.insert("VISITNUM".into(), num.clone());
            row.insert("VISIT".into(), name.clone());
            if let Some(e) = text(row.get("encounter")) {
                by_encounter.insert(e, (num.clone(), name.clone()));
            }
            if let Some(d) = start.get(..10) {
                by_date.entry(d.to_owned()).or_insert((num, name));
            }
        }
    }

    let consent = out
        .rows
        .get("DS")
        .into_iter()
        .flatten()
        .filter(|r| text(r.get("DSDECOD")).as_deref() == Some("INFORMED CONSENT OBTAINED"))
        .filter_map(|r| text(r.get("DSSTDTC")))
        .min();
    // End of participation: the subject's last recorded date in any domain (no record may
    // fall after it, CORE-000720), at least the last encounter.
    let participation_end = out
        .rows
        .iter()
        .filter(|(d, _)| d.as_str() != "DM")
        .flat_map(|(_, rows)| rows.iter())
        .flat_map(|r| {
            r.iter()
                .filter(|(k, _)| k.ends_with("DTC") && k.chars().all(|c| c.is_ascii_uppercase()))
                .filter_map(|(_, v)| text(Some(v)))
        })
        .chain(last_enc.clone())
        .chain(rfen.clone())
        .max();
    let patient_ids = out
        .rows
        .get("DM")
        .and_then(|r| r.first())
        .and_then(|r| text(r.get("patient_id")));
    // Entry into a real-world-data cohort: one record at the reference start.
    if let Some(rf) = &rfst {
        for d in engine.domains() {
            if let Some((dtc, values)) = &d.derive.entry_record {
                let mut r = Row::new();
                r.insert("STUDYID".into(), Value::from(study.study_id.clone()));
                r.insert("DOMAIN".into(), Value::from(d.domain.clone()));
                r.insert("USUBJID".into(), Value::from(out.usubjid.clone()));
                for (k, v) in values {
                    r.insert(k.clone(), Value::from(v.clone()));
                }
                r.insert(dtc.clone(), Value::from(rf.clone()));
                out.rows.entry(d.domain.clone()).or_default().push(r);
            }
        }
    }
    let domains: Vec<String> = out.rows.keys().cloned().collect();
    for name in domains {
        let Some(d) = engine.domain(&name) else {
            continue;
        };
        let rows = out.rows.get_mut(&name).expect("listed above");
        for row in rows.iter_mut() {
            if d.derive.subject_level {
                subject_level(
                    engine,
                    d,
                    row,
                    rfst.as_deref(),
                    rfen.as_deref(),
                    (&first_dose, &last_dose),
                    patient_ids.as_deref(),
                );
                let set = |row: &mut Row, k: &str, v: &Option<String>| {
                    row.insert(k.into(), v.clone().map(Value::from).unwrap_or(Value::Null));
                };
                set(row, "RFICDTC", &consent);
                set(row, "RFPENDTC", &participation_end);
            }
            if let Some((enc, dtc)) = &d.derive.visit {
                if d.domain != "SV" {
                    let hit = enc
                        .as_ref()
                        .and_then(|e| text(row.get(e)))
                        .and_then(|e| by_encounter.get(&e))
                        .or_else(|| text(row.get(dtc)).and_then(|x| by_date.get(x.get(..10)?)));
                    if let Some((num, vis)) = hit {
                        row.insert("VISITNUM".into(), num.clone());
                        row.insert("VISIT".into(), vis.clone());
                    }
                }
            }
            for (dtc, dy) in &d.derive.study_days {
                let v = rfst
                    .as_deref()
                    .and_then(|r| study_day(&text(row.get(dtc))?, r))
                    .map(Value::from)
                    .unwrap_or(Value::Null);
                row.insert(dy.clone(), v);
            }
            if let Some(var) = &d.derive.epoch {
                let e = if study.epochs.is_empty() {
                    // No epochs declared (real-world data): the look-back before the index
                    // date is BASELINE, the time from it on OBSERVATION (C99079: observed
                    // without planned intervention). Partial dates compare as written.
                    rfst.as_deref()
                        .zip(text(row.get(var)))
                        .map(|(r, x)| {
                            let b = before_reference(
                                x.get(..10).unwrap_or(&x),
                                r.get(..10).unwrap_or(r),
                            );
                            Value::from(if b { "BASELINE" } else { "OBSERVATION" })
                        })
                        .unwrap_or(Value::Null)
                } else {
                    rfst.as_deref()
                        .and_then(|r| study_day(&text(row.get(var))?, r))
                        .and_then(|day| window(&study.epochs, day))
                        .map(|w| Value::from(w.name.clone()))
                        .unwrap_or(Value::Null)
                };
                row.insert("EPOCH".into(), e);
            }
            if let Some(r) = &d.derive.results {
                results(engine, r, row);
            }
        }
        // The study's date window, on each record's main date.
        if study.date_from.is_some() || study.date_to.is_some() {
            let main = d
                .derive
                .visit
                .as_ref()
                .map(|(_, v)| v.clone())
                .or_else(|| d.derive.study_days.first().map(|(v, _)| v.clone()));
            if let Some(main) = main {
                let before = rows.len();
                rows.retain(|r| match text(r.get(&main)) {
                    None => true,
                    Some(x) => {
                        let n = x.len().min(10);
                        study
                            .date_from
                            .as_deref()
                            .is_none_or(|f| x[..n] >= f[..n.min(f.len())])
                            && study
                                .date_to
                                .as_deref()
                                .is_none_or(|t| x[..n] <= t[..n.min(t.len())])
                    }
                });
                out.dropped_by_window += before - rows.len();
            }
        }
        // History before the reference start, events from it on (MH / CE); partial dates
        // compare as written, so "2014-01" is before "2014-01-15" (as CORE compares).
        if let Some((dtc, before)) = &d.derive.reference_period {
            let before = *before;
            rows.retain(|r| match (text(r.get(dtc)), rfst.as_deref()) {
                (_, None) => before,
                (None, _) => before,
                (Some(x), Some(rf)) => before_reference(&x, rf) == before,
            });
        }
        // A record that cannot fill a Required variable is not written with it null
        // (SDTMIG §4.1.5): it is counted in the reject listing under the codes that
        // identify it (`unmapped_by`), so the table to extend can be named. So is a numeric
        // result whose unit cannot be converted to its test's standard unit: kept, it would
        // give one test two standard units (CORE-000699).
        let required: Vec<&str> = d
            .variables
            .iter()
            .filter(|v| v.core == "Req" && d.derive.seq.as_deref() != Some(v.name.as_str()))
            .map(|v| v.name.as_str())
            .collect();
        let counts = &mut out.counts;
        let res = d.derive.results.as_ref();
        rows.retain(|r| {
            let missing: Vec<&str> = required
                .iter()
                .filter(|v| text(r.get(**v)).is_none())
                .copied()
                .collect();
            let (code, reason) = if !missing.is_empty() {
                ("D003", format!("missing {}", missing.join(" ")))
            } else if r.get("_unconverted").is_some() {
                let unit = |c: Option<&String>| text(c.and_then(|c| r.get(c))).unwrap_or_default();
                (
                    "D007",
                    format!(
                        "unit {} not convertible to {}",
                        unit(res.and_then(|x| x.ucum.as_ref())),
                        unit(res.and_then(|x| x.standard_unit.as_ref()))
                    ),
                )
            } else {
                return true;
            };
            let mut what = vec![d.domain.clone(), reason];
            what.extend(
                d.derive
                    .unmapped_by
                    .iter()
                    .map(|c| text(r.get(c)).unwrap_or_default()),
            );
            *counts
                .entry((code, d.file.clone(), what.join(REJECT_SEP)))
                .or_default() += 1;
            false
        });
        if let (true, Some(ds), Some(res)) = (
            study.daily_summary,
            &d.derive.daily_summary,
            &d.derive.results,
        ) {
            *rows = super::daily::summarise(std::mem::take(rows), ds, res);
        }
        if let Some((flag, by, dtc)) = &d.derive.last_before_exposure {
            // Last record per test dated on or before the first exposure (RFXSTDTC; the
            // reference start when there is no exposure data).
            let reference = first_dose.as_deref().or(rfst.as_deref());
            let mut last: BTreeMap<String, (String, usize)> = BTreeMap::new();
            for (i, row) in rows.iter().enumerate() {
                let (Some(test), Some(when), Some(r)) =
                    (text(row.get(by)), text(row.get(dtc)), reference)
                else {
                    continue;
                };
                let n = when.len().min(r.len());
                if when[..n] <= r[..n] && last.get(&test).is_none_or(|(w, _)| when >= *w) {
                    last.insert(test, (when, i));
                }
            }
            for row in rows.iter_mut() {
                row.insert(flag.clone(), Value::Null);
            }
            for (_, (_, i)) in last {
                rows[i].insert(flag.clone(), Value::from("Y"));
            }
        }
        // Natural-key order, then --SEQ.
        rows.sort_by(|a, b| {
            for k in &d.keys {
                let o = cmp_values(a.get(k), b.get(k));
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        });
        if let Some(seq) = &d.derive.seq {
            for (i, row) in rows.iter_mut().enumerate() {
                row.insert(seq.clone(), Value::from(i + 1));
            }
        }
        // Supplemental qualifiers, and the continuation of text too long for its variable.
        let seq = d.derive.seq.clone().unwrap_or_default();
        let mut supp = Vec::new();
        // Piece `n` of `val` is QNAM `qnam` when `first + n` is 0, else continuation `first + n`.
        let mut add =
            |parent: &Row, qnam: &str, qlabel: &str, val: &str, qorig: &str, first: usize| {
                for (i, piece) in long_text::split(val, long_text::MAX)
                    .into_iter()
                    .enumerate()
                {
                    let n = first + i;
                    let (q, l) = if n == 0 {
                        (qnam.to_owned(), qlabel.to_owned())
                    } else {
                        (long_text::qnam(qnam, n), long_text::qlabel(qlabel, n))
                    };
                    let mut r = Row::new();
                    r.insert("STUDYID".into(), Value::from(study.study_id.clone()));
                    r.insert("RDOMAIN".into(), Value::from(d.domain.clone()));
                    r.insert("USUBJID".into(), Value::from(out.usubjid.clone()));
                    r.insert("IDVAR".into(), Value::from(seq.clone()));
                    r.insert(
                        "IDVARVAL".into(),
                        Value::from(text(parent.get(&seq)).unwrap_or_default()),
                    );
                    r.insert("QNAM".into(), Value::from(q));
                    r.insert("QLABEL".into(), Value::from(l));
                    r.insert("QVAL".into(), Value::from(piece));
                    r.insert("QORIG".into(), Value::from(qorig));
                    r.insert("QEVAL".into(), Value::Null);
                    supp.push(r);
                }
            };
        for row in rows.iter_mut() {
            for v in d.variables.iter().filter(|v| v.ty == VarType::Char) {
                // Non-ASCII text is kept whole in the Japanese dataset (no 200-byte cap).
                let long = match row.get(&v.name) {
                    Some(Value::String(t)) if t.len() > long_text::MAX && t.is_ascii() => t.clone(),
                    _ => continue,
                };
                let first = long_text::split(&long, long_text::MAX)[0].to_owned();
                add(row, &v.name, &v.label, &long[first.len()..], &v.origin, 1);
                row.insert(v.name.clone(), Value::from(first));
            }
            for s in &d.supp {
                if let Some(val) = text(row.get(&s.column)) {
                    add(row, &s.qnam, &s.qlabel, &val, &s.qorig, 0);
                }
            }
        }
        if !supp.is_empty() || !d.supp.is_empty() {
            out.supp.insert(d.domain.clone(), supp);
        }
    }
}

pub fn cmp_values(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => {
            let p = |n: &serde_json::Number| n.to_string().parse::<Decimal>().unwrap_or_default();
            p(x).cmp(&p(y))
        }
        _ => text(a).cmp(&text(b)),
    }
}

#[allow(clippy::too_many_arguments)]
fn subject_level(
    engine: &Engine,
    _d: &Domain,
    row: &mut Row,
    rfst: Option<&str>,
    rfen: Option<&str>,
    (first_dose, last_dose): (&Option<String>, &Option<String>),
    patient_id: Option<&str>,
) {
    let study = engine.study;
    let set = |row: &mut Row, k: &str, v: Option<String>| {
        row.insert(k.into(), v.map(Value::from).unwrap_or(Value::Null));
    };
    set(row, "RFSTDTC", rfst.map(str::to_owned));
    set(row, "RFENDTC", rfen.map(str::to_owned));
    set(row, "RFXSTDTC", first_dose.clone());
    set(row, "RFXENDTC", last_dose.clone());
    set(row, "COUNTRY", Some(study.country.clone()));
    // AGE in completed years at RFSTDTC (SDTMIG DM assumption 7), from the birth date.
    let age = text(row.get("birth_date"))
        .and_then(|b| date_of(&b))
        .zip(rfst.and_then(date_of))
        .map(|(b, r)| r.years_since(b).map(i64::from).unwrap_or(0));
    row.insert("AGE".into(), age.map(Value::from).unwrap_or(Value::Null));
    set(row, "AGEU", age.map(|_| "YEARS".to_owned()));
    if !study.brthdtc {
        row.insert("BRTHDTC".into(), Value::Null);
    }
    let arm = patient_id.and_then(|p| {
        study
            .arms
            .iter()
            .find(|a| a.patients.iter().any(|x| x == p))
    });
    // A subject's arm: the `arms` list naming the patient, else the study's cohort (an
    // external-control or registry study defines one: every subject who has an index date
    // belongs to it). Without an index date the subject entered no arm: ARMNRS NOT
    // ASSIGNED and, as SDTMIG 3.4 DM requires then, no reference dates (CORE-000192/758).
    let arm = arm
        .map(|a| (a.armcd.clone(), a.arm.clone()))
        .or_else(|| study.cohort.clone().filter(|_| rfst.is_some()));
    match arm {
        Some((armcd, arm)) => {
            for (k, v) in [
                ("ARMCD", &armcd),
                ("ARM", &arm),
                ("ACTARMCD", &armcd),
                ("ACTARM", &arm),
            ] {
                set(row, k, Some(v.clone()));
            }
            row.insert("ARMNRS".into(), Value::Null);
        }
        None => {
            for k in ["ARMCD", "ARM", "ACTARMCD", "ACTARM", "ACTARMUD"] {
                row.insert(k.into(), Value::Null);
            }
            set(row, "ARMNRS", Some("NOT ASSIGNED".into()));
            for k in ["RFSTDTC", "RFENDTC"] {
                row.insert(k.into(), Value::Null);
            }
        }
    }
    let dmdy = text(row.get("DMDTC"))
        .zip(rfst)
        .and_then(|(d, r)| study_day(&d, r));
    row.insert("DMDY".into(), dmdy.map(Value::from).unwrap_or(Value::Null));
}

/// Significant digits written in a decimal text (`0.050` → 2, `163.9` → 4).
fn significant(text: &str) -> u32 {
    let digits: String = text.chars().filter(|c| c.is_ascii_digit()).collect();
    digits.trim_start_matches('0').len().max(1) as u32
}

fn round_sig(d: Decimal, sig: u32) -> Decimal {
    if d.is_zero() {
        return d;
    }
    let a = d.abs();
    let exp: i64 = if a >= Decimal::ONE {
        a.trunc().to_string().len() as i64 - 1
    } else {
        let s = a.to_string();
        let frac = s.split_once('.').map(|x| x.1).unwrap_or("");
        -(frac.chars().take_while(|c| *c == '0').count() as i64 + 1)
    };
    let dp = (sig as i64 - 1 - exp).clamp(0, 12) as u32;
    d.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero)
        .normalize()
}

/// ORRES/ORRESU → STRESC/STRESN/STRESU (and the standard range, NRIND), SDTMIG §4.5.1.1:
/// numeric results converted to the standard unit and rounded to the collected number of
/// significant digits (at least 3), STRESC written from the rounded STRESN so the two agree;
/// non-numeric results (`<0.5`, `NEGATIVE`) go to STRESC only.
fn results(engine: &Engine, r: &Results, row: &mut Row) {
    let Some(orres) = text(row.get(&r.orres)) else {
        return;
    };
    let ucum_from = r.ucum.as_ref().and_then(|c| text(row.get(c)));
    let ucum_to = r.standard_unit.as_ref().and_then(|c| text(row.get(c)));
    let units = engine.functions.table("units");
    let unit_label = |code: &str| {
        units
            .and_then(|t| t.get(None, code, "UNIT"))
            .map(str::to_owned)
    };
    let numeric = orres
        .parse::<Decimal>()
        .ok()
        .filter(|_| !orres.starts_with('+'));
    let conv = |v: Decimal| -> Option<Decimal> {
        match (&ucum_from, &ucum_to) {
            (Some(f), Some(t)) if f != t => ucum::convert(v, f, t),
            _ => Some(v),
        }
    };
    let converted =
        numeric.is_some() && matches!((&ucum_from, &ucum_to), (Some(f), Some(t)) if f != t);
    let (stresc, stresn, stresu) = match numeric {
        Some(v) => match conv(v) {
            Some(c) if converted => {
                let c = round_sig(c, significant(&orres).max(3));
                (
                    c.to_string(),
                    Some(c),
                    ucum_to
                        .as_deref()
                        .and_then(unit_label)
                        .or_else(|| text(row.get(&r.orresu))),
                )
            }
            // Not converted (same unit, no standard unit, or not commensurable).
            other => {
                if other.is_none() {
                    row.insert("_unconverted".into(), Value::Bool(true));
                }
                // A unitless result (INR, a ratio) of a test whose standard unit is a UCUM
                // dimensionless annotation (`{ratio}`) takes that unit's CDISC term.
                let unitless = ucum_from
                    .is_none()
                    .then(|| ucum_to.as_deref().filter(|t| t.starts_with('{')))
                    .flatten()
                    .and_then(unit_label);
                (
                    orres.clone(),
                    Some(v),
                    text(row.get(&r.orresu)).or(unitless),
                )
            }
        },
        None => (
            r.stresc_coded
                .as_ref()
                .and_then(|c| text(row.get(c)))
                .unwrap_or_else(|| orres.to_uppercase()),
            None,
            text(row.get(&r.orresu)).filter(|_| orres.chars().any(|c| c.is_ascii_digit())),
        ),
    };
    row.insert(r.stresc.clone(), Value::from(stresc));
    row.insert(
        r.stresn.clone(),
        stresn
            .map(|d| crate::fhirpath::value::decimal_json(&d))
            .unwrap_or(Value::Null),
    );
    row.insert(
        r.stresu.clone(),
        stresu.map(Value::from).unwrap_or(Value::Null),
    );
    let mut std_range = [None, None];
    for (i, (src, dst)) in [(&r.ornrlo, &r.stnrlo), (&r.ornrhi, &r.stnrhi)]
        .into_iter()
        .enumerate()
    {
        let (Some(src), Some(dst)) = (src, dst) else {
            continue;
        };
        let v = text(row.get(src)).and_then(|t| {
            let d = t.parse::<Decimal>().ok()?;
            let c = conv(d)?;
            Some(if converted {
                round_sig(c, significant(&t).max(3))
            } else {
                c
            })
        });
        std_range[i] = v;
        row.insert(
            dst.clone(),
            v.map(|d| crate::fhirpath::value::decimal_json(&d))
                .unwrap_or(Value::Null),
        );
    }
    if let Some(nr) = &r.nrind {
        if text(row.get(nr)).is_none() {
            let ind = match (stresn, std_range) {
                (Some(v), [Some(lo), _]) if v < lo => Some("LOW"),
                (Some(v), [_, Some(hi)]) if v > hi => Some("HIGH"),
                (Some(_), [Some(_), Some(_)]) => Some("NORMAL"),
                _ => None,
            };
            row.insert(nr.clone(), ind.map(Value::from).unwrap_or(Value::Null));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue12_partial_dates_are_before_the_reference_only_when_certainly_before() {
        assert!(before_reference("2012-08", "2012-09-07"));
        assert!(!before_reference("2012", "2012-09-07"));
        assert!(!before_reference("2012-09", "2012-09-07T10:00"));
        assert!(!before_reference("2012-09-07", "2012-09-07T10:00"));
        assert!(before_reference("2012-09-07T08:29", "2012-09-07T10:00"));
        assert!(!before_reference("2013", "2012-09-07"));
    }

    #[test]
    fn study_days_have_no_day_zero() {
        assert_eq!(study_day("2024-01-10", "2024-01-10"), Some(1));
        assert_eq!(study_day("2024-01-09T08:00", "2024-01-10"), Some(-1));
        assert_eq!(study_day("2024-01", "2024-01-10"), None);
    }

    #[test]
    fn rounding_keeps_collected_precision() {
        assert_eq!(round_sig("5.2049".parse().unwrap(), 3).to_string(), "5.2");
        assert_eq!(
            round_sig("0.0123456".parse().unwrap(), 3).to_string(),
            "0.0123"
        );
        assert_eq!(round_sig("1639.04".parse().unwrap(), 4).to_string(), "1639");
        assert_eq!(significant("0.050"), 2);
        assert_eq!(significant("163.9"), 4);
    }
}
