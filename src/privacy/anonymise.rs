//! The `anonymised` level (匿名加工情報) applied to finished SDTM datasets: direct dates of
//! birth and free text removed, dates shifted per subject or coarsened to months, ages in
//! bands, rare values generalised, then k-anonymity over the quasi-identifiers with the
//! subjects that cannot reach k suppressed, and new subject ids that no key reproduces
//! from the hospital id.
//!
//! Generalisation follows a fixed ladder (age band widths from the policy, tried in order):
//! the first width whose suppression stays within `max_suppression` is used. This is the
//! global-recoding scheme of Datafly-style tools, chosen because its result is easy to
//! state in the privacy report ("ages in 10-year bands, 3 subjects suppressed").

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Datelike, Duration, NaiveDate};
use serde::Serialize;

use super::policy::{Anonymised, Dates};
use crate::formats::{Cell, ColumnMeta, Dataset, VarType};
use crate::sdtm::{Output, SubjectKey};

#[derive(Debug, Default, Serialize)]
pub struct AnonReport {
    pub k: usize,
    /// Smallest equivalence class in the output (≥ k, or 0 when no subject is left).
    pub k_reached: usize,
    pub quasi_identifiers: Vec<String>,
    pub age_band_width: u32,
    pub top_code_age: u32,
    pub subjects_in: usize,
    pub subjects_out: usize,
    pub subjects_suppressed: usize,
    /// Dataset → records removed with the suppressed subjects.
    pub records_suppressed: BTreeMap<String, usize>,
    pub equivalence_classes: usize,
    pub dates: String,
    /// `DATASET.VARIABLE` removed.
    pub variables_removed: Vec<String>,
    pub japanese_datasets_removed: Vec<String>,
    /// `DATASET.VARIABLE` (or `SUPPxx.QNAM`) → values generalised (truncated) / replaced.
    pub values_generalised: BTreeMap<String, usize>,
    pub values_replaced: BTreeMap<String, usize>,
    pub subject_ids: String,
}

/// Applies the anonymised level in place and says what it did.
pub fn anonymise(out: &mut Output, p: &Anonymised, key: &SubjectKey) -> AnonReport {
    let mut rep = AnonReport {
        k: p.k,
        quasi_identifiers: p.quasi_identifiers.clone(),
        top_code_age: p.top_code_age,
        ..AnonReport::default()
    };
    if p.drop_japanese {
        rep.japanese_datasets_removed = out.japanese.iter().map(|d| d.name.clone()).collect();
        out.japanese.clear();
    }
    for ds in out.datasets.iter_mut().chain(out.japanese.iter_mut()) {
        for v in &p.drop_variables {
            if let Some(i) = ds.column(v) {
                ds.columns.remove(i);
                for r in &mut ds.rows {
                    r.remove(i);
                }
                rep.variables_removed.push(format!("{}.{v}", ds.name));
            }
        }
    }
    rep.dates = dates(out, p, key);
    rare_values(out, p, &mut rep);
    k_anonymity(out, p, &mut rep);
    new_subject_ids(out, key);
    // Diagnostics name subjects by their keyed pseudonym; an anonymised release must not
    // carry a link to the pseudonymised data.
    for d in &mut out.diagnostics {
        d.message = mask_pseudonyms(&d.message);
    }
    rep.subject_ids = "new per release: A00001… in the order of a keyed hash; the hospital id cannot be recomputed from them without the key, and no table linking them is written".into();
    out.subjects = rep.subjects_out;
    rep
}

fn usubjid_col(ds: &Dataset) -> Option<usize> {
    ds.column("USUBJID")
}

fn keyed(key: &SubjectKey, label: &str, data: &str) -> [u8; 32] {
    key.derive(label, data)
}

/// Every --DTC of a subject moved by the same keyed number of days (precision kept), or
/// reduced to YYYY-MM.
fn dates(out: &mut Output, p: &Anonymised, key: &SubjectKey) -> String {
    let mut offsets: HashMap<String, i64> = HashMap::new();
    let span = 2 * p.max_shift_days as u64 + 1;
    for ds in out.datasets.iter_mut().chain(out.japanese.iter_mut()) {
        let Some(u) = usubjid_col(ds) else { continue };
        let cols: Vec<usize> = ds
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.name.ends_with("DTC") && c.ty == VarType::Char)
            .map(|(i, _)| i)
            .collect();
        for r in &mut ds.rows {
            let subject = r[u].text();
            let off = *offsets.entry(subject.clone()).or_insert_with(|| {
                let h = keyed(key, "date-shift", &subject);
                let n = u64::from_be_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]]);
                (n % span) as i64 - p.max_shift_days
            });
            for &c in &cols {
                if let Cell::Char(s) = &r[c] {
                    let new = match p.dates {
                        Dates::Shift => shift_dtc(s, off),
                        Dates::Month => month_dtc(s),
                    };
                    r[c] = if new.is_empty() {
                        Cell::Null
                    } else {
                        Cell::Char(new)
                    };
                }
            }
        }
    }
    match p.dates {
        Dates::Shift => format!(
            "every date of a subject shifted by the same keyed offset of -{0}..+{0} days (precision kept; study days unchanged)",
            p.max_shift_days
        ),
        Dates::Month => "every date reduced to year and month (YYYY-MM)".into(),
    }
}

/// Shifts an ISO 8601 date/time (or interval) by whole days, keeping its precision: a
/// YYYY-MM date moves with its 15th, a YYYY date with its 1 July.
pub fn shift_dtc(s: &str, days: i64) -> String {
    if let Some((a, b)) = s.split_once('/') {
        return format!("{}/{}", shift_dtc(a, days), shift_dtc(b, days));
    }
    let (date, rest) = match s.find('T') {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    };
    let parts: Vec<&str> = date.split('-').collect();
    let num = |x: &str| x.parse::<i64>().ok();
    match parts.as_slice() {
        [y, m, d] => match (num(y), num(m), num(d)) {
            (Some(y), Some(m), Some(d)) => NaiveDate::from_ymd_opt(y as i32, m as u32, d as u32)
                .and_then(|x| x.checked_add_signed(Duration::days(days)))
                .map(|x| format!("{}{rest}", x.format("%Y-%m-%d")))
                .unwrap_or_default(),
            // Unknown components (2024---15): the date cannot be placed; drop it.
            _ => String::new(),
        },
        [y, m] => match (num(y), num(m)) {
            (Some(y), Some(m)) => NaiveDate::from_ymd_opt(y as i32, m as u32, 15)
                .and_then(|x| x.checked_add_signed(Duration::days(days)))
                .map(|x| x.format("%Y-%m").to_string())
                .unwrap_or_default(),
            _ => String::new(),
        },
        [y] => match num(y) {
            Some(y) => NaiveDate::from_ymd_opt(y as i32, 7, 1)
                .and_then(|x| x.checked_add_signed(Duration::days(days)))
                .map(|x| x.year().to_string())
                .unwrap_or_default(),
            None => String::new(),
        },
        _ => String::new(),
    }
}

/// YYYY-MM of an ISO 8601 date (or interval); a year alone stays a year.
pub fn month_dtc(s: &str) -> String {
    if let Some((a, b)) = s.split_once('/') {
        return format!("{}/{}", month_dtc(a), month_dtc(b));
    }
    let date = s.split('T').next().unwrap_or("");
    let parts: Vec<&str> = date.split('-').collect();
    match parts.as_slice() {
        [y, m, ..] if y.len() == 4 && m.len() == 2 => format!("{y}-{m}"),
        [y, ..] if y.len() == 4 => (*y).to_owned(),
        _ => String::new(),
    }
}

/// A rare-value rule's cells: dataset index, column, and the row filter (QNAM column, value).
type RuleCells = (usize, usize, Option<(usize, String)>);

/// Which cells a rare-value rule covers.
fn rule_cells(
    out: &Output,
    ds: &str,
    variable: Option<&str>,
    qnam: Option<&str>,
) -> Option<RuleCells> {
    let di = out.datasets.iter().position(|d| d.name == ds)?;
    let d = &out.datasets[di];
    match (variable, qnam) {
        (Some(v), _) => Some((di, d.column(v)?, None)),
        (None, Some(q)) => Some((
            di,
            d.column("QVAL")?,
            Some((d.column("QNAM")?, q.to_owned())),
        )),
        _ => None,
    }
}

fn rare_values(out: &mut Output, p: &Anonymised, rep: &mut AnonReport) {
    for rule in &p.rare_values {
        let Some((di, col, filter)) = rule_cells(
            out,
            &rule.dataset,
            rule.variable.as_deref(),
            rule.qnam.as_deref(),
        ) else {
            continue;
        };
        let label = format!(
            "{}.{}",
            rule.dataset,
            rule.variable
                .as_deref()
                .or(rule.qnam.as_deref())
                .unwrap_or("")
        );
        let ds = &mut out.datasets[di];
        let Some(u) = usubjid_col(ds) else { continue };
        let applies = |r: &Vec<Cell>| filter.as_ref().is_none_or(|(qc, q)| r[*qc].text() == *q);
        let subjects_per = |ds: &Dataset| {
            let mut m: HashMap<String, BTreeSet<String>> = HashMap::new();
            for r in ds.rows.iter().filter(|r| applies(r)) {
                if !r[col].is_null() {
                    m.entry(r[col].text()).or_default().insert(r[u].text());
                }
            }
            m
        };
        let counts = subjects_per(ds);
        let rare: BTreeSet<String> = counts
            .iter()
            .filter(|(_, s)| s.len() < p.k)
            .map(|(v, _)| v.clone())
            .collect();
        if rare.is_empty() {
            continue;
        }
        if let Some(n) = rule.truncate {
            let mut changed = 0;
            for r in ds.rows.iter_mut().filter(|r| applies(r)) {
                let v = r[col].text();
                if rare.contains(&v) && v.chars().count() > n {
                    r[col] = Cell::Char(v.chars().take(n).collect());
                    changed += 1;
                }
            }
            if changed > 0 {
                rep.values_generalised.insert(label.clone(), changed);
            }
        }
        let counts = subjects_per(ds);
        let mut replaced = 0;
        for r in ds.rows.iter_mut().filter(|r| applies(r)) {
            if r[col].is_null() {
                continue;
            }
            let still_rare = counts.get(&r[col].text()).is_some_and(|s| s.len() < p.k);
            if still_rare {
                r[col] = match &rule.replace {
                    Some(x) => Cell::Char(x.clone()),
                    None => Cell::Null,
                };
                replaced += 1;
            }
        }
        if replaced > 0 {
            rep.values_replaced.insert(label, replaced);
        }
    }
}

/// The published age band of an age.
pub fn age_band(age: f64, width: u32, top: u32) -> String {
    if age >= top as f64 {
        return format!("{top}+");
    }
    let lo = (age.max(0.0) as u32 / width) * width;
    format!("{lo}-{}", (lo + width - 1).min(top - 1))
}

/// Quasi-identifier tuple of every DM record for one band width.
fn qi_tuples(dm: &Dataset, p: &Anonymised, width: u32) -> Vec<(String, Vec<String>)> {
    let u = dm.column("USUBJID");
    dm.rows
        .iter()
        .map(|r| {
            let id = u.map(|c| r[c].text()).unwrap_or_default();
            let t = p
                .quasi_identifiers
                .iter()
                .map(|q| {
                    let cell = dm.column(q).map(|c| &r[c]);
                    match (q.as_str(), cell) {
                        ("AGE", Some(Cell::Num(a))) => age_band(*a, width, p.top_code_age),
                        ("RFSTDTC", Some(c)) => c.text().chars().take(4).collect(),
                        (_, Some(c)) => c.text(),
                        (_, None) => String::new(),
                    }
                })
                .collect();
            (id, t)
        })
        .collect()
}

fn small_classes(tuples: &[(String, Vec<String>)], k: usize) -> (BTreeSet<String>, usize, usize) {
    let mut classes: HashMap<&Vec<String>, usize> = HashMap::new();
    for (_, t) in tuples {
        *classes.entry(t).or_default() += 1;
    }
    let suppressed: BTreeSet<String> = tuples
        .iter()
        .filter(|(_, t)| classes[t] < k)
        .map(|(id, _)| id.clone())
        .collect();
    let kept: Vec<usize> = classes.values().copied().filter(|n| *n >= k).collect();
    (
        suppressed,
        kept.iter().copied().min().unwrap_or(0),
        kept.len(),
    )
}

fn k_anonymity(out: &mut Output, p: &Anonymised, rep: &mut AnonReport) {
    let Some(dmi) = out.datasets.iter().position(|d| d.name == "DM") else {
        return;
    };
    let n = out.datasets[dmi].rows.len();
    rep.subjects_in = n;
    let mut chosen = None;
    for &w in &p.age_bands {
        let tuples = qi_tuples(&out.datasets[dmi], p, w);
        let (sup, _, _) = small_classes(&tuples, p.k);
        let ok = n == 0 || (sup.len() as f64 / n as f64) <= p.max_suppression;
        chosen = Some((w, sup));
        if ok {
            break;
        }
    }
    let Some((width, suppressed)) = chosen else {
        return;
    };
    rep.age_band_width = width;
    // Ages become bands: AGETXT (SDTMIG "Age Range") after AGE, AGE left null.
    let dm = &mut out.datasets[dmi];
    if let Some(a) = dm.column("AGE") {
        let t = match dm.column("AGETXT") {
            Some(t) => t,
            None => {
                dm.columns.insert(
                    a + 1,
                    ColumnMeta {
                        name: "AGETXT".into(),
                        label: "Age Range".into(),
                        ty: VarType::Char,
                        core: "Perm".into(),
                        codelist: None,
                        origin: "Derived".into(),
                        method: Some(
                            "Age in years in bands of the privacy policy (anonymised level)".into(),
                        ),
                        key_sequence: None,
                    },
                );
                for r in &mut dm.rows {
                    r.insert(a + 1, Cell::Null);
                }
                a + 1
            }
        };
        for r in &mut dm.rows {
            if let Cell::Num(age) = r[a] {
                r[t] = Cell::Char(age_band(age, width, p.top_code_age));
            }
            r[a] = Cell::Null;
        }
    }
    for ds in out.datasets.iter_mut().chain(out.japanese.iter_mut()) {
        let Some(u) = usubjid_col(ds) else { continue };
        let before = ds.rows.len();
        ds.rows.retain(|r| !suppressed.contains(&r[u].text()));
        if before != ds.rows.len() && !rep.records_suppressed.contains_key(&ds.name) {
            rep.records_suppressed
                .insert(ds.name.clone(), before - ds.rows.len());
        }
    }
    rep.subjects_suppressed = suppressed.len();
    rep.subjects_out = out.datasets[dmi].rows.len();
    // Recomputed on what is published.
    let tuples = qi_tuples_published(&out.datasets[dmi], p);
    let (_, min, classes) = small_classes(&tuples, 1);
    rep.k_reached = min;
    rep.equivalence_classes = classes;
}

/// The tuples as an outsider reads them from the published DM (AGETXT for AGE).
fn qi_tuples_published(dm: &Dataset, p: &Anonymised) -> Vec<(String, Vec<String>)> {
    let u = dm.column("USUBJID");
    dm.rows
        .iter()
        .map(|r| {
            let t = p
                .quasi_identifiers
                .iter()
                .map(|q| {
                    let name = if q == "AGE" { "AGETXT" } else { q.as_str() };
                    let v = dm.column(name).map(|c| r[c].text()).unwrap_or_default();
                    if q == "RFSTDTC" {
                        v.chars().take(4).collect()
                    } else {
                        v
                    }
                })
                .collect();
            (u.map(|c| r[c].text()).unwrap_or_default(), t)
        })
        .collect()
}

/// USUBJID/SUBJID replaced by release numbers in keyed-hash order, rows re-sorted.
fn new_subject_ids(out: &mut Output, key: &SubjectKey) {
    let mut subjects: BTreeSet<String> = BTreeSet::new();
    for ds in &out.datasets {
        if let Some(u) = usubjid_col(ds) {
            subjects.extend(ds.rows.iter().map(|r| r[u].text()));
        }
    }
    let mut order: Vec<([u8; 32], String)> = subjects
        .into_iter()
        .map(|s| (keyed(key, "anonymous-subject", &s), s))
        .collect();
    order.sort();
    let map: HashMap<String, (String, String)> = order
        .into_iter()
        .enumerate()
        .map(|(i, (_, old))| {
            let subjid = format!("A{:05}", i + 1);
            // STUDYID-SITEID- prefix kept, pseudonym replaced.
            let prefix = old.rsplit_once('-').map(|(p, _)| p).unwrap_or("");
            let usubjid = if prefix.is_empty() {
                subjid.clone()
            } else {
                format!("{prefix}-{subjid}")
            };
            (old, (usubjid, subjid))
        })
        .collect();
    for ds in out.datasets.iter_mut().chain(out.japanese.iter_mut()) {
        let Some(u) = usubjid_col(ds) else { continue };
        let s = ds.column("SUBJID");
        for r in &mut ds.rows {
            if let Some((nu, ns)) = map.get(&r[u].text()) {
                r[u] = Cell::Char(nu.clone());
                if let Some(s) = s {
                    r[s] = Cell::Char(ns.clone());
                }
            }
        }
        // Stable: each subject's records keep their --SEQ order.
        ds.rows.sort_by_key(|r| r[u].text());
    }
}

/// `KKH-01-60DA10305688` → `KKH-01-[subject]`: 12 upper-case hex digits standing alone.
pub fn mask_pseudonyms(text: &str) -> String {
    static RE: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    match RE.get_or_init(|| regex::Regex::new(r"\b[0-9A-F]{12}\b").ok()) {
        Some(re) => re.replace_all(text, "[subject]").into_owned(),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostics_lose_the_pseudonyms() {
        assert_eq!(
            mask_pseudonyms(
                "LB: a Observation resource of subject S-01-60DA10305688 could not be mapped"
            ),
            "LB: a Observation resource of subject S-01-[subject] could not be mapped"
        );
        assert_eq!(
            mask_pseudonyms("LBTESTCD 3A010000002327101"),
            "LBTESTCD 3A010000002327101"
        );
    }

    #[test]
    fn dates_shift_with_their_precision() {
        assert_eq!(shift_dtc("2024-01-25T08:29:00", 10), "2024-02-04T08:29:00");
        assert_eq!(shift_dtc("2024-01-25", -25), "2023-12-31");
        assert_eq!(shift_dtc("2024-01", 20), "2024-02");
        assert_eq!(shift_dtc("2024", -190), "2023");
        assert_eq!(
            shift_dtc("2024-01-25/2024-02-01", 1),
            "2024-01-26/2024-02-02"
        );
        assert_eq!(shift_dtc("2024---25", 1), "");
        assert_eq!(month_dtc("2024-01-25T08:29"), "2024-01");
        assert_eq!(month_dtc("2024"), "2024");
    }

    #[test]
    fn age_bands_top_code() {
        assert_eq!(age_band(42.0, 5, 90), "40-44");
        assert_eq!(age_band(42.0, 10, 90), "40-49");
        assert_eq!(age_band(89.0, 20, 90), "80-89");
        assert_eq!(age_band(93.0, 5, 90), "90+");
    }
}
