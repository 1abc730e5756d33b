//! The privacy policy file: which level a run publishes at, and what each level does.
//! Defaults are embedded (`mappings/privacy/policy.yaml`); a site's own file is checked
//! against `schemas/privacy-policy.schema.json` (located errors) before any data is read.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::diagnostics::{Diagnostic, Location};

const DEFAULT: &str = include_str!("../../mappings/privacy/policy.yaml");
const SCHEMA: &str = include_str!("../../schemas/privacy-policy.schema.json");

/// APPI-aligned output levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Site-internal only: SUBJID is the hospital patient id, free text is not scrubbed.
    /// Refused unless `--allow-identified`.
    Identified,
    /// 仮名加工情報: keyed subject ids, direct identifiers removed, free text scrubbed.
    Pseudonymised,
    /// 匿名加工情報: also age bands, shifted or coarsened dates, rare values generalised,
    /// free text dropped, k-anonymity over the quasi-identifiers.
    Anonymised,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Identified => "identified",
            Level::Pseudonymised => "pseudonymised",
            Level::Anonymised => "anonymised",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scrub {
    pub mask: String,
    #[serde(default = "three")]
    pub min_length_ascii: usize,
    #[serde(default = "two")]
    pub min_length_japanese: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dates {
    Shift,
    Month,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RareValue {
    pub dataset: String,
    #[serde(default)]
    pub variable: Option<String>,
    #[serde(default)]
    pub qnam: Option<String>,
    #[serde(default)]
    pub truncate: Option<usize>,
    #[serde(default)]
    pub replace: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Anonymised {
    pub k: usize,
    pub quasi_identifiers: Vec<String>,
    #[serde(default = "bands")]
    pub age_bands: Vec<u32>,
    #[serde(default = "ninety")]
    pub top_code_age: u32,
    #[serde(default = "five_percent")]
    pub max_suppression: f64,
    #[serde(default = "shift")]
    pub dates: Dates,
    #[serde(default = "half_year")]
    pub max_shift_days: i64,
    #[serde(default)]
    pub rare_values: Vec<RareValue>,
    #[serde(default)]
    pub drop_variables: Vec<String>,
    #[serde(default = "yes")]
    pub drop_japanese: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub scrub: Scrub,
    pub anonymised: Anonymised,
    /// Where the policy came from (`embedded` or the file), for the privacy report.
    #[serde(skip)]
    pub source: String,
}

fn three() -> usize {
    3
}
fn two() -> usize {
    2
}
fn bands() -> Vec<u32> {
    vec![5, 10, 20]
}
fn ninety() -> u32 {
    90
}
fn five_percent() -> f64 {
    0.05
}
fn shift() -> Dates {
    Dates::Shift
}
fn half_year() -> i64 {
    180
}
fn yes() -> bool {
    true
}

impl Policy {
    /// The embedded defaults.
    pub fn embedded() -> Policy {
        // The embedded file is part of the build and tested; it always parses.
        Policy::parse(DEFAULT, "embedded:mappings/privacy/policy.yaml")
            .unwrap_or_else(|d| panic!("embedded privacy policy is invalid: {d:?}"))
    }

    pub fn load(path: &Path) -> Result<Policy, Vec<Diagnostic>> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            vec![Diagnostic::error(
                "P001",
                format!("cannot read the privacy policy: {e}"),
                Location::file(path),
            )]
        })?;
        Policy::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, file: &str) -> Result<Policy, Vec<Diagnostic>> {
        let at = |line: usize, col: usize| {
            let mut l = Location::file(file).with_line(line);
            l.column = Some(col);
            l
        };
        let doc = crate::yaml::load_checked(
            text,
            file,
            SCHEMA,
            ("P001", "P002"),
            "see mappings/privacy/policy.yaml for every setting and its meaning",
        )?;
        let mut p: Policy = serde_json::from_value(doc.value.clone())
            .map_err(|e| vec![Diagnostic::error("P002", format!("{e}"), at(1, 1))])?;
        p.source = file.to_owned();
        for (i, r) in p.anonymised.rare_values.iter().enumerate() {
            if r.truncate.is_none() && r.replace.is_none() {
                let (line, col) = doc.position(&format!("/anonymised/rare_values/{i}"));
                return Err(vec![Diagnostic::error(
                    "P002",
                    "a rare_values entry needs truncate, replace or both",
                    at(line, col),
                )]);
            }
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_policy_loads() {
        let p = Policy::embedded();
        assert_eq!(p.anonymised.k, 5);
        assert_eq!(p.anonymised.dates, Dates::Shift);
        assert!(p.anonymised.quasi_identifiers.contains(&"SEX".to_owned()));
    }

    #[test]
    fn bad_policy_is_located() {
        let text = DEFAULT.replace("  k: 5", "  k: 1");
        let e = Policy::parse(&text, "p.yaml").unwrap_err();
        let s = e[0].to_string();
        assert!(s.contains("P002") && s.contains("p.yaml:"), "{s}");
        let text = DEFAULT.replace("dates: shift", "dates: randomly");
        assert!(Policy::parse(&text, "p.yaml").is_err());
        let text = DEFAULT.replace("kind: privacy-policy", "kind: privacy-policy\nlevel: x");
        assert!(Policy::parse(&text, "p.yaml").is_err());
    }
}
