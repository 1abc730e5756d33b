//! Feasibility: a criteria file (inclusion / exclusion steps on age, sex, diagnoses, drugs,
//! lab and vital-sign values, date windows) → how many subjects remain after each step, per
//! site and in total (an attrition table), with small cells and anything that would
//! recover them suppressed.

use std::path::Path;

use serde::Deserialize;
use unicode_normalization::UnicodeNormalization;

use super::facts::{Coded, Measure, Subject};
use super::suppress::{self, Status};
use crate::diagnostics::{Diagnostic, Location};

const SCHEMA: &str = include_str!("../../schemas/feasibility-criteria.schema.json");

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Range {
    pub min: Option<f64>,
    pub max: Option<f64>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CodedCriterion {
    #[serde(default)]
    pub codes: Vec<String>,
    #[serde(default)]
    pub text: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeasureCriterion {
    pub test: String,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Window {
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Criterion {
    pub age: Option<Range>,
    pub sex: Option<Vec<String>>,
    pub condition: Option<CodedCriterion>,
    pub drug: Option<CodedCriterion>,
    pub lab: Option<MeasureCriterion>,
    pub vital: Option<MeasureCriterion>,
    pub window: Option<Window>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub name: String,
    pub include: Option<Criterion>,
    pub exclude: Option<Criterion>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Criteria {
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub threshold: Option<u64>,
    pub steps: Vec<Step>,
}

impl Criteria {
    pub fn load(path: &Path) -> Result<Criteria, Vec<Diagnostic>> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            vec![Diagnostic::error(
                "Q001",
                format!("cannot read the criteria file: {e}"),
                Location::file(path),
            )]
        })?;
        Self::parse(&text, path)
    }

    /// A criteria file's text; diagnostics are located in `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Criteria, Vec<Diagnostic>> {
        let file = path.display().to_string();
        let doc = crate::yaml::load_checked(
            text,
            &file,
            SCHEMA,
            ("Q001", "Q002"),
            "see fixtures/criteria/t2dm.yaml and README \"Feasibility\"",
        )?;
        let mut l = Location::file(&file).with_line(1);
        l.column = Some(1);
        serde_json::from_value(doc.value)
            .map_err(|e| vec![Diagnostic::error("Q002", e.to_string(), l)])
    }
}

/// NFKC, lower case: 2型糖尿病 matches ２型糖尿病, Amlodipine matches AMLODIPINE.
fn fold(s: &str) -> String {
    s.nfkc().collect::<String>().to_lowercase()
}

fn in_window(date: &str, w: Option<&Window>) -> bool {
    let Some(w) = w else { return true };
    // Partial dates compare on the precision both have.
    let cmp_len = |bound: &str| date.len().min(bound.len());
    if date.is_empty() {
        return false;
    }
    w.from
        .as_deref()
        .is_none_or(|f| date[..cmp_len(f)] >= f[..cmp_len(f)])
        && w.to
            .as_deref()
            .is_none_or(|t| date[..cmp_len(t)] <= t[..cmp_len(t)])
}

fn coded_match(items: &[Coded], c: &CodedCriterion, w: Option<&Window>) -> bool {
    let texts: Vec<String> = c.text.iter().map(|t| fold(t)).collect();
    items.iter().any(|x| {
        in_window(&x.date, w)
            && (c
                .codes
                .iter()
                .any(|code| x.codes.iter().any(|have| have.starts_with(code.as_str())))
                || texts
                    .iter()
                    .any(|t| x.text.iter().any(|have| fold(have).contains(t.as_str()))))
    })
}

fn measure_match(items: &[Measure], c: &MeasureCriterion, w: Option<&Window>) -> bool {
    items.iter().any(|m| {
        m.test.eq_ignore_ascii_case(&c.test)
            && c.min.is_none_or(|x| m.value >= x)
            && c.max.is_none_or(|x| m.value <= x)
            && in_window(&m.date, w)
    })
}

/// Whether a subject meets every part of a criterion.
pub fn meets(s: &Subject, c: &Criterion) -> bool {
    let w = c.window.as_ref();
    let only_window =
        c.condition.is_none() && c.drug.is_none() && c.lab.is_none() && c.vital.is_none();
    c.age.as_ref().is_none_or(|r| {
        s.age.is_some_and(|a| r.min.is_none_or(|x| a >= x) && r.max.is_none_or(|x| a <= x))
    }) && c.sex.as_ref().is_none_or(|v| v.contains(&s.sex))
        && c.condition.as_ref().is_none_or(|x| coded_match(&s.conditions, x, w))
        && c.drug.as_ref().is_none_or(|x| coded_match(&s.drugs, x, w))
        && c.lab.as_ref().is_none_or(|x| measure_match(&s.labs, x, w))
        && c.vital.as_ref().is_none_or(|x| measure_match(&s.vitals, x, w))
        // A window on its own: the subject's first visit falls in it.
        && (!only_window || in_window(&s.first_date, w))
}

/// One published cell of the attrition table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AttritionCell {
    pub step: usize,
    pub criterion: String,
    pub site: String,
    /// None when suppressed.
    pub count: Option<u64>,
    pub status: Status,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Attrition {
    pub name: String,
    pub threshold: u64,
    pub sites: Vec<String>,
    pub steps: Vec<String>,
    pub cells: Vec<AttritionCell>,
}

pub const ALL_SITES: &str = "ALL";

/// Counts per site after each step (step 0: every subject), protected.
pub fn attrition(subjects: &[Subject], criteria: &Criteria, threshold: u64) -> Attrition {
    let mut sites: Vec<String> = subjects.iter().map(|s| s.site.clone()).collect();
    sites.sort();
    sites.dedup();
    let mut steps = vec!["All subjects".to_owned()];
    steps.extend(criteria.steps.iter().map(|s| {
        format!(
            "{} {}",
            if s.include.is_some() {
                "Include:"
            } else {
                "Exclude:"
            },
            s.name
        )
    }));
    // remaining[s][i]
    let mut remaining = vec![vec![0u64; steps.len()]; sites.len()];
    for s in subjects {
        let si = sites.binary_search(&s.site).unwrap_or(0);
        remaining[si][0] += 1;
        for (i, st) in criteria.steps.iter().enumerate() {
            let pass = match (&st.include, &st.exclude) {
                (Some(c), _) => meets(s, c),
                (None, Some(c)) => !meets(s, c),
                (None, None) => true,
            };
            if !pass {
                break;
            }
            remaining[si][i + 1] += 1;
        }
    }
    let mut t = suppress::Table::default();
    let n = steps.len();
    let cell: Vec<Vec<usize>> = remaining
        .iter()
        .map(|row| row.iter().map(|v| t.add(*v, true, false)).collect())
        .collect();
    let total: Vec<usize> = (0..n)
        .map(|i| t.add(remaining.iter().map(|r| r[i]).sum(), true, true))
        .collect();
    for i in 0..n {
        let mut e = vec![(total[i], 1)];
        e.extend(cell.iter().map(|row| (row[i], -1)));
        t.equation(e);
    }
    // Exclusions at each step (implied, never printed, but sensitive when small).
    for i in 1..n {
        let mut excl_parts = Vec::new();
        for (s, row) in cell.iter().enumerate() {
            let x = t.add(remaining[s][i - 1] - remaining[s][i], false, false);
            t.equation(vec![(row[i - 1], 1), (row[i], -1), (x, -1)]);
            excl_parts.push(x);
        }
        let tot_prev: u64 = remaining.iter().map(|r| r[i - 1]).sum();
        let tot_now: u64 = remaining.iter().map(|r| r[i]).sum();
        let xt = t.add(tot_prev - tot_now, false, true);
        t.equation(vec![(total[i - 1], 1), (total[i], -1), (xt, -1)]);
        let mut e = vec![(xt, 1)];
        e.extend(excl_parts.iter().map(|x| (*x, -1)));
        t.equation(e);
    }
    let status = suppress::protect(&t, threshold);
    let mut cells = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        for (s, site) in sites.iter().enumerate() {
            let c = cell[s][i];
            cells.push(AttritionCell {
                step: i,
                criterion: step.clone(),
                site: site.clone(),
                count: (status[c] == Status::Published).then_some(t.cells[c].value),
                status: status[c].clone(),
            });
        }
        let c = total[i];
        cells.push(AttritionCell {
            step: i,
            criterion: step.clone(),
            site: ALL_SITES.into(),
            count: (status[c] == Status::Published).then_some(t.cells[c].value),
            status: status[c].clone(),
        });
    }
    Attrition {
        name: criteria.name.clone(),
        threshold,
        sites,
        steps,
        cells,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_compare_partial_dates() {
        let w = Window {
            from: Some("2024-01-01".into()),
            to: Some("2024-12-31".into()),
        };
        assert!(in_window("2024-03-05T10:00", Some(&w)));
        assert!(in_window("2024-03", Some(&w)));
        assert!(!in_window("2023-12-31", Some(&w)));
        assert!(!in_window("", Some(&w)));
    }

    #[test]
    fn text_matches_across_widths_and_case() {
        let c = Coded {
            codes: vec!["ICD10:E119".into()],
            text: vec!["２型糖尿病".into()],
            date: "2024-05-01".into(),
        };
        let by_text = CodedCriterion {
            codes: vec![],
            text: vec!["2型糖尿病".into()],
        };
        let by_code = CodedCriterion {
            codes: vec!["ICD10:E11".into()],
            text: vec![],
        };
        assert!(coded_match(std::slice::from_ref(&c), &by_text, None));
        assert!(coded_match(std::slice::from_ref(&c), &by_code, None));
        let w = Window {
            from: Some("2025".into()),
            to: None,
        };
        assert!(!coded_match(&[c], &by_code, Some(&w)));
    }
}
