//! The project's own rules: one file per rule in `rules/` (embedded), each a declaration in
//! the Open Rules language plus its documentation and its own positive and negative
//! examples (`Tests:`), which `tests/rules.rs` runs.

use include_dir::{include_dir, Dir};
use serde_json::Value;

use super::data::{Column, Study, Table, V};
use super::rule::Rule;
use crate::formats::VarType;

static RULES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/rules");

/// One example of a rule file: datasets as CSV text, the findings expected
/// (`Dataset,Record,Variable,Value`).
#[derive(Debug, Clone)]
pub struct RuleTest {
    pub name: String,
    pub study: Study,
    pub expect: Vec<String>,
}

fn study_from(v: &Value) -> Study {
    let mut study = Study::default();
    let labels = v["labels"].as_object().cloned().unwrap_or_default();
    for (name, csv_text) in v["datasets"].as_object().into_iter().flatten() {
        let text = csv_text.as_str().unwrap_or("");
        let mut r = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(text.as_bytes());
        let header: Vec<String> = r
            .headers()
            .map(|h| h.iter().map(str::to_owned).collect())
            .unwrap_or_default();
        let rows = r
            .records()
            .filter_map(Result::ok)
            .map(|rec| {
                header
                    .iter()
                    .enumerate()
                    .map(|(i, _)| match rec.get(i) {
                        None | Some("") => V::Null,
                        Some(s) => V::Str(s.to_owned()),
                    })
                    .collect()
            })
            .collect::<Vec<_>>()
            .into();
        study.tables.push(Table {
            name: name.to_uppercase(),
            label: name.to_uppercase(),
            file: format!("{name}.csv"),
            columns: header
                .iter()
                .map(|h| Column {
                    name: h.clone(),
                    label: labels
                        .get(h)
                        .and_then(Value::as_str)
                        .unwrap_or(h)
                        .to_owned(),
                    ty: VarType::Char,
                    length: None,
                })
                .collect(),
            rows,
        });
    }
    study
}

/// Parses one rule file: the rule and its examples.
pub fn parse(text: &str) -> Result<(Rule, Vec<RuleTest>), String> {
    let doc = crate::yaml::parse(text).map_err(|e| format!("line {}: {}", e.line, e.message))?;
    let rule = Rule::from_value(&doc.value)?;
    let tests = doc.value["Tests"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| RuleTest {
            name: t["name"].as_str().unwrap_or("").to_owned(),
            study: study_from(t),
            expect: t["expect"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e.as_str().map(str::to_owned))
                .collect(),
        })
        .collect();
    Ok((rule, tests))
}

/// The embedded rule files (name, text), in name order.
pub fn files() -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = RULES
        .files()
        .filter(|f| f.path().extension().is_some_and(|x| x == "yaml"))
        .map(|f| {
            (
                format!("rules/{}", f.path().display()),
                f.contents_utf8().unwrap_or("").to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

/// The embedded rules.
pub fn embedded() -> Result<Vec<Rule>, String> {
    files()
        .into_iter()
        .map(|(n, t)| parse(&t).map(|(r, _)| r).map_err(|e| format!("{n}: {e}")))
        .collect()
}
