//! Aggregate statistics over subjects: demographics (sex × age band with margins),
//! patients by condition and by drug, lab-value distributions (each patient's latest value,
//! binned), vital-sign trends (monthly mean). Every count is a number of patients; every
//! cell below the threshold is suppressed, and where cells add up to a published total,
//! complementary cells too (see `suppress`).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::facts::{Measure, Subject};
use super::suppress::{self, Status};

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub labels: Vec<String>,
    /// None when suppressed.
    pub count: Option<u64>,
    pub status: Status,
    /// A mean that goes with the count (vital-sign trends), suppressed with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    /// Totals and margins (drawn apart in charts).
    pub total: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatTable {
    pub id: String,
    pub title: String,
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub threshold: u64,
    pub subjects: Option<u64>,
    pub tables: Vec<StatTable>,
}

fn band(age: f64) -> String {
    if age >= 90.0 {
        return "90+".into();
    }
    let lo = (age.max(0.0) as u64 / 10) * 10;
    format!("{lo}-{}", lo + 9)
}

fn published(status: &Status, v: u64) -> Option<u64> {
    (*status == Status::Published).then_some(v)
}

/// Independent counts: each cell stands alone (no published total it adds up to).
fn independent(
    id: &str,
    title: &str,
    column: &str,
    counts: BTreeMap<String, u64>,
    threshold: u64,
) -> StatTable {
    let mut items: Vec<(String, u64)> = counts.into_iter().collect();
    items.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    StatTable {
        id: id.into(),
        title: title.into(),
        columns: vec![column.into()],
        rows: items
            .into_iter()
            .map(|(l, v)| {
                let status = if v > 0 && v < threshold {
                    Status::Primary
                } else {
                    Status::Published
                };
                Row {
                    labels: vec![l],
                    count: published(&status, v),
                    status,
                    mean: None,
                    total: false,
                }
            })
            .collect(),
    }
}

fn demographics(subjects: &[Subject], threshold: u64) -> StatTable {
    let sexes: BTreeSet<String> = subjects.iter().map(|s| s.sex.clone()).collect();
    let bands: BTreeSet<String> = subjects
        .iter()
        .map(|s| s.age.map(band).unwrap_or_else(|| "unknown".into()))
        .collect();
    let sexes: Vec<String> = sexes.into_iter().collect();
    let bands: Vec<String> = bands.into_iter().collect();
    let mut n = vec![vec![0u64; bands.len()]; sexes.len()];
    for s in subjects {
        let si = sexes.binary_search(&s.sex).unwrap_or(0);
        let b = s.age.map(band).unwrap_or_else(|| "unknown".into());
        let bi = bands.binary_search(&b).unwrap_or(0);
        n[si][bi] += 1;
    }
    let mut t = suppress::Table::default();
    let cells: Vec<Vec<usize>> = n
        .iter()
        .map(|r| r.iter().map(|v| t.add(*v, true, false)).collect())
        .collect();
    let row_tot: Vec<usize> = n
        .iter()
        .map(|r| t.add(r.iter().sum(), true, true))
        .collect();
    let col_tot: Vec<usize> = (0..bands.len())
        .map(|j| t.add(n.iter().map(|r| r[j]).sum(), true, true))
        .collect();
    let grand = t.add(subjects.len() as u64, true, true);
    for (i, r) in cells.iter().enumerate() {
        let mut e = vec![(row_tot[i], 1)];
        e.extend(r.iter().map(|c| (*c, -1)));
        t.equation(e);
    }
    for j in 0..bands.len() {
        let mut e = vec![(col_tot[j], 1)];
        e.extend(cells.iter().map(|r| (r[j], -1)));
        t.equation(e);
    }
    let mut e = vec![(grand, 1)];
    e.extend(row_tot.iter().map(|c| (*c, -1)));
    t.equation(e);
    let mut e = vec![(grand, 1)];
    e.extend(col_tot.iter().map(|c| (*c, -1)));
    t.equation(e);
    let st = suppress::protect(&t, threshold);
    let mut rows = Vec::new();
    let mut push = |labels: Vec<String>, c: usize, total: bool| {
        rows.push(Row {
            labels,
            count: published(&st[c], t.cells[c].value),
            status: st[c].clone(),
            mean: None,
            total,
        });
    };
    for (i, sex) in sexes.iter().enumerate() {
        for (j, b) in bands.iter().enumerate() {
            push(vec![sex.clone(), b.clone()], cells[i][j], false);
        }
        push(vec![sex.clone(), "all ages".into()], row_tot[i], true);
    }
    for (j, b) in bands.iter().enumerate() {
        push(vec!["all".into(), b.clone()], col_tot[j], true);
    }
    push(vec!["all".into(), "all ages".into()], grand, true);
    StatTable {
        id: "demographics".into(),
        title: "Patients by sex and age band".into(),
        columns: vec!["SEX".into(), "AGE BAND".into()],
        rows,
    }
}

/// Bin edges: "nice" steps between the 5th and 95th percentiles, open at both ends, so
/// neither the minimum nor the maximum is ever published.
pub fn edges(values: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return vec![];
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    let (lo, hi) = (q(0.05), q(0.95));
    if hi <= lo {
        return vec![lo];
    }
    let raw = (hi - lo) / 6.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let start = (lo / step).floor() * step;
    let mut e = Vec::new();
    let mut x = start;
    while x <= hi + step * 1e-9 {
        // Rounded to the step's precision (no float noise in labels).
        e.push((x / step).round() * step);
        x += step;
    }
    e
}

fn fmt_num(x: f64) -> String {
    let s = format!("{x:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn latest_by_test(
    subjects: &[Subject],
    pick: impl Fn(&Subject) -> &Vec<Measure>,
) -> BTreeMap<String, (String, Vec<f64>)> {
    let mut by_test: BTreeMap<String, (String, Vec<f64>)> = BTreeMap::new();
    for s in subjects {
        let mut latest: BTreeMap<&str, &Measure> = BTreeMap::new();
        for m in pick(s) {
            let e = latest.entry(m.test.as_str()).or_insert(m);
            if m.date > e.date {
                *e = m;
            }
        }
        for (test, m) in latest {
            let e = by_test
                .entry(test.to_owned())
                .or_insert_with(|| (m.unit.clone(), Vec::new()));
            e.1.push(m.value);
        }
    }
    by_test
}

fn distributions(subjects: &[Subject], threshold: u64) -> Vec<StatTable> {
    let mut out = Vec::new();
    for (test, (unit, values)) in latest_by_test(subjects, |s| &s.labs) {
        let e = edges(&values);
        let label = |i: usize| -> String {
            if e.is_empty() {
                return "all".into();
            }
            if i == 0 {
                format!("< {}", fmt_num(e[0]))
            } else if i == e.len() {
                format!(">= {}", fmt_num(e[e.len() - 1]))
            } else {
                format!("{} to < {}", fmt_num(e[i - 1]), fmt_num(e[i]))
            }
        };
        let mut bins = vec![0u64; e.len() + 1];
        for v in &values {
            let i = e.iter().take_while(|edge| *v >= **edge).count();
            bins[i] += 1;
        }
        let mut t = suppress::Table::default();
        let cells: Vec<usize> = bins.iter().map(|b| t.add(*b, true, false)).collect();
        let total = t.add(values.len() as u64, true, true);
        let mut eq = vec![(total, 1)];
        eq.extend(cells.iter().map(|c| (*c, -1)));
        t.equation(eq);
        let st = suppress::protect(&t, threshold);
        let mut rows: Vec<Row> = cells
            .iter()
            .enumerate()
            .filter(|(_, c)| t.cells[**c].value > 0 || st[**c] != Status::Published)
            .map(|(i, c)| Row {
                labels: vec![label(i)],
                count: published(&st[*c], t.cells[*c].value),
                status: st[*c].clone(),
                mean: None,
                total: false,
            })
            .collect();
        rows.push(Row {
            labels: vec!["patients tested".into()],
            count: published(&st[total], t.cells[total].value),
            status: st[total].clone(),
            mean: None,
            total: true,
        });
        out.push(StatTable {
            id: format!("lab-{test}"),
            title: format!(
                "{test}: patients by latest result{}",
                if unit.is_empty() {
                    String::new()
                } else {
                    format!(" ({unit})")
                }
            ),
            columns: vec!["RESULT".into()],
            rows,
        });
    }
    out
}

fn trends(subjects: &[Subject], threshold: u64) -> Vec<StatTable> {
    // test → month → patient means
    let mut by: BTreeMap<String, (String, BTreeMap<String, Vec<f64>>)> = BTreeMap::new();
    for s in subjects {
        let mut mine: BTreeMap<(&str, String), Vec<f64>> = BTreeMap::new();
        for m in &s.vitals {
            if m.date.len() >= 7 {
                mine.entry((m.test.as_str(), m.date[..7].to_owned()))
                    .or_default()
                    .push(m.value);
            }
            by.entry(m.test.clone())
                .or_insert_with(|| (m.unit.clone(), BTreeMap::new()));
        }
        for ((test, month), vals) in mine {
            let mean = vals.iter().sum::<f64>() / vals.len() as f64;
            if let Some(e) = by.get_mut(test) {
                e.1.entry(month).or_default().push(mean);
            }
        }
    }
    by.into_iter()
        .map(|(test, (unit, months))| StatTable {
            id: format!("vital-{test}"),
            title: format!(
                "{test}: monthly mean{}",
                if unit.is_empty() {
                    String::new()
                } else {
                    format!(" ({unit})")
                }
            ),
            columns: vec!["MONTH".into()],
            rows: months
                .into_iter()
                .map(|(month, means)| {
                    let n = means.len() as u64;
                    let status = if n < threshold {
                        Status::Primary
                    } else {
                        Status::Published
                    };
                    let mean = (status == Status::Published)
                        .then(|| (means.iter().sum::<f64>() / n as f64 * 10.0).round() / 10.0);
                    Row {
                        labels: vec![month],
                        count: published(&status, n),
                        status,
                        mean,
                        total: false,
                    }
                })
                .collect(),
        })
        .collect()
}

pub fn stats(subjects: &[Subject], threshold: u64) -> Stats {
    let mut tables = vec![demographics(subjects, threshold)];
    let mut cond: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    let mut drug: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    for (i, s) in subjects.iter().enumerate() {
        for c in &s.conditions {
            // ICD-10 three-character category when coded, else the code we have, else the text.
            let key = c
                .codes
                .iter()
                .find_map(|x| {
                    x.strip_prefix("ICD10:")
                        .map(|x| format!("ICD10:{}", &x[..x.len().min(3)]))
                })
                .or_else(|| c.codes.first().cloned())
                .or_else(|| c.text.iter().find(|t| !t.is_empty()).cloned());
            if let Some(k) = key {
                cond.entry(k).or_default().insert(i);
            }
        }
        for d in &s.drugs {
            let name = d
                .text
                .iter()
                .rev()
                .find(|t| !t.is_empty() && !t.contains(':'))
                .cloned();
            let key = match (d.codes.first(), name) {
                (Some(c), Some(n)) => Some(format!("{c} {n}")),
                (Some(c), None) => Some(c.clone()),
                (None, n) => n,
            };
            if let Some(k) = key {
                drug.entry(k).or_default().insert(i);
            }
        }
    }
    let count = |m: BTreeMap<String, BTreeSet<usize>>| {
        m.into_iter().map(|(k, v)| (k, v.len() as u64)).collect()
    };
    tables.push(independent(
        "conditions",
        "Patients by condition (ICD-10 category, else the code or term recorded)",
        "CONDITION",
        count(cond),
        threshold,
    ));
    tables.push(independent(
        "drugs",
        "Patients by drug",
        "DRUG",
        count(drug),
        threshold,
    ));
    tables.extend(distributions(subjects, threshold));
    tables.extend(trends(subjects, threshold));
    let n = subjects.len() as u64;
    Stats {
        threshold,
        subjects: (n == 0 || n >= threshold).then_some(n),
        tables,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bin_edges_are_round_and_hide_the_extremes() {
        let v: Vec<f64> = (0..100).map(|i| 4.0 + i as f64 * 0.05).collect();
        let e = edges(&v);
        assert!(e.len() >= 3);
        // Edges cover the 5th–95th percentiles on round steps; the ends stay open.
        assert!(e[0] <= 4.25 && *e.last().unwrap() >= 8.7 - 1.0, "{e:?}");
        assert!(e.iter().all(|x| (x * 4.0).fract() == 0.0), "{e:?}");
        assert!(e
            .windows(2)
            .all(|w| ((w[1] - w[0]) * 100.0).round() / 100.0
                == ((e[1] - e[0]) * 100.0).round() / 100.0));
    }
}
