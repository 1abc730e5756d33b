//! `kakehashi validate`: SDTM conformance. Datasets are read from any accepted form
//! ([`data`]), rules are declarations in the CDISC Open Rules language ([`rule`]), one
//! engine runs them ([`engine`]) with standard metadata when given ([`library`]).

pub mod data;
pub mod engine;
pub mod library;
pub mod report;
pub mod rule;
pub mod rules;

pub use data::{load_folder, Study};
pub use engine::{run, Finding};
pub use library::Library;
pub use rule::Rule;

use rayon::prelude::*;

/// Runs every rule over the study (rules in parallel; findings in a stable order).
pub fn validate_study(study: &Study, rules: &[Rule], lib: &Library) -> Vec<Finding> {
    let mut all: Vec<Finding> = rules
        .par_iter()
        .flat_map_iter(|r| run(r, study, lib))
        .collect();
    all.extend(define_consistency(study));
    all.sort_by(|a, b| {
        (&a.dataset, a.record, &a.rule, &a.variable, &a.value).cmp(&(
            &b.dataset,
            b.record,
            &b.rule,
            &b.variable,
            &b.value,
        ))
    });
    all.dedup();
    all
}

/// define.xml against the data: every variable of a dataset is described, with a Length
/// no shorter than its longest value (rule KKH-DEFINE; only when a define.xml is given).
pub fn define_consistency(study: &Study) -> Vec<Finding> {
    let Some(xml) = &study.define else {
        return vec![];
    };
    let mut items: std::collections::HashMap<String, Option<usize>> =
        std::collections::HashMap::new();
    let mut reader = quick_xml::Reader::from_str(xml);
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Start(e)) | Ok(quick_xml::events::Event::Empty(e))
                if e.name().as_ref() == b"ItemDef" =>
            {
                let get = |k: &[u8]| {
                    e.attributes()
                        .flatten()
                        .find(|a| a.key.as_ref() == k)
                        .map(|a| String::from_utf8_lossy(&a.value).into_owned())
                };
                if let Some(oid) = get(b"OID") {
                    items.insert(oid, get(b"Length").and_then(|l| l.parse().ok()));
                }
            }
            Ok(quick_xml::events::Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    let mut out = Vec::new();
    let finding = |ds: &str, var: &str, value: String, msg: &str| Finding {
        dataset: ds.to_owned(),
        record: None,
        variable: var.to_owned(),
        value,
        rule: "KKH-DEFINE".into(),
        severity: "Error".into(),
        message: msg.to_owned(),
    };
    for t in &study.tables {
        for (i, c) in t.columns.iter().enumerate() {
            let oid_a = format!("IT.{}.{}", t.name, c.name);
            let oid_b = format!("IT.{}", c.name);
            match items.get(&oid_a).or_else(|| items.get(&oid_b)) {
                None => out.push(finding(
                    &t.name,
                    &c.name,
                    String::new(),
                    "Variable is not described in define.xml.",
                )),
                Some(Some(len)) if c.ty == crate::formats::VarType::Char => {
                    let longest = t.rows.iter().map(|r| r[i].text().len()).max().unwrap_or(0);
                    if longest > *len {
                        out.push(finding(
                            &t.name,
                            &c.name,
                            longest.to_string(),
                            "A value is longer than the define.xml Length.",
                        ));
                    }
                }
                _ => {}
            }
        }
    }
    out
}
