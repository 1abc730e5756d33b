//! `kakehashi validate`: SDTM conformance. Datasets are read from any accepted form
//! ([`data`]), rules are declarations in the CDISC Open Rules language ([`rule`]), one
//! engine runs them ([`engine`]) with standard metadata when given ([`library`]).

pub mod data;
pub mod define_items;
pub mod engine;
pub mod library;
pub mod relrec;
pub mod report;
pub mod rule;
pub mod rules;
pub mod sdtm_model;
pub mod standards;

pub use data::{load_folder, Study};
pub use engine::{run, Finding};
pub use library::Library;
pub use rule::Rule;
pub use standards::{Overrides, Standards};

use rayon::prelude::*;

/// Runs every rule over the study (rules in parallel; findings in a stable order).
pub fn validate_study(study: &Study, rules: &[Rule], lib: &Library) -> Vec<Finding> {
    study.frames.start(rules, study, lib);
    let mut all: Vec<Finding> = rules
        .par_iter()
        .flat_map_iter(|r| run(r, study, lib))
        .collect();
    study.frames.stop();
    all.extend(define_consistency(study));
    all.extend(standard_checks(study, lib));
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

/// Built-in checks that need the standard's metadata rather than a rule file:
/// KKH-CT — values of variables bound to a CDISC codelist (per the SDTMIG metadata) are terms
/// of it: Error for a non-extensible codelist, Warning for an extensible one unless define.xml
/// lists the value; KKH-META — variables a standard domain does not define (Warning) and
/// types that differ from the standard (Error). Only with `--sdtmig` (and `--ct` for CT).
pub fn standard_checks(study: &Study, lib: &Library) -> Vec<Finding> {
    let mut out = Vec::new();
    let define_values: std::collections::HashSet<String> = study
        .define
        .as_deref()
        .map(|x| {
            let mut v = std::collections::HashSet::new();
            let mut reader = quick_xml::Reader::from_str(x);
            while let Ok(ev) = reader.read_event() {
                match ev {
                    quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e)
                        if e.name().as_ref() == b"EnumeratedItem"
                            || e.name().as_ref() == b"CodeListItem" =>
                    {
                        if let Some(a) = e
                            .attributes()
                            .flatten()
                            .find(|a| a.key.as_ref() == b"CodedValue")
                        {
                            v.insert(String::from_utf8_lossy(&a.value).into_owned());
                        }
                    }
                    quick_xml::events::Event::Eof => break,
                    _ => {}
                }
            }
            v
        })
        .unwrap_or_default();
    for t in &study.tables {
        let domain = t.domain();
        let known_domain = !lib.variables(&domain).is_empty();
        for (i, c) in t.columns.iter().enumerate() {
            let lib_var = lib.variable(&domain, &c.name);
            if known_domain && lib_var.is_none() && !t.name.starts_with("SUPP") {
                out.push(Finding {
                    dataset: t.name.clone(),
                    record: None,
                    variable: c.name.clone(),
                    value: String::new(),
                    rule: "KKH-META".into(),
                    severity: "Warning".into(),
                    message: "Variable is not defined for this domain in the SDTMIG (non-standard variables belong in SUPP--).".into(),
                });
            }
            let Some(v) = lib_var else { continue };
            out.extend(value_domain_checks(t, i, v, lib));
            let want_num = v.ty.eq_ignore_ascii_case("Num");
            if want_num != (c.ty == crate::formats::VarType::Num) && !v.ty.is_empty() {
                out.push(Finding {
                    dataset: t.name.clone(),
                    record: None,
                    variable: c.name.clone(),
                    value: if c.ty == crate::formats::VarType::Num {
                        "Num".into()
                    } else {
                        "Char".into()
                    },
                    rule: "KKH-META".into(),
                    severity: "Error".into(),
                    message: format!("Variable type differs from the SDTMIG ({}).", v.ty),
                });
            }
            let Some(ct) = &lib.ct else { continue };
            for code in &v.codelists {
                let Some(cl) = ct.codelists.get(code) else {
                    continue;
                };
                for (ri, row) in t.rows.iter().enumerate() {
                    let val = row[i].text();
                    if val.is_empty() || cl.terms.contains_key(&val) {
                        continue;
                    }
                    // Result codelists (e.g. C102580 for LBSTRESC) bind only character
                    // results; a numeric result is not a coded value.
                    if is_result_var(&c.name) && val.trim().parse::<f64>().is_ok() {
                        continue;
                    }
                    if cl.extensible && define_values.contains(&val) {
                        continue;
                    }
                    out.push(Finding {
                        dataset: t.name.clone(),
                        record: Some(ri + 1),
                        variable: c.name.clone(),
                        value: val,
                        rule: "KKH-CT".into(),
                        severity: if cl.extensible {
                            "Warning".into()
                        } else {
                            "Error".into()
                        },
                        message: format!(
                            "Value is not a term of the {} codelist {} ({}){}.",
                            if cl.extensible {
                                "extensible"
                            } else {
                                "non-extensible"
                            },
                            cl.code,
                            cl.name,
                            if cl.extensible {
                                " and define.xml does not list it as an extended value"
                            } else {
                                ""
                            }
                        ),
                    });
                }
            }
        }
    }
    out
}

/// A value-domain check: does this value have the format?
type ValueCheck<'a> = Box<dyn Fn(&str) -> bool + 'a>;

/// KKH-ISO8601 — values of variables the SDTMIG describes as ISO 8601 (dates, intervals,
/// durations) are in that format (SDTMIG §4.4; rule KKH0004 covers --DTC/--STDTC/--ENDTC,
/// this covers the rest: RFSTDTC, BRTHDTC, --DUR, …); KKH-ISO3166 — COUNTRY is an ISO
/// 3166-1 alpha-3 code (SDTMIG DM: `JPN`, not `JAPAN`). Both Error.
fn value_domain_checks(
    t: &data::Table,
    i: usize,
    v: &library::LibVar,
    lib: &Library,
) -> Vec<Finding> {
    let name = &t.columns[i].name;
    let prefix: String = t.domain().chars().take(2).collect();
    let by_kkh0004 = ["DTC", "STDTC", "ENDTC"]
        .iter()
        .any(|s| *name == format!("{prefix}{s}"));
    let countries = lib.countries.as_ref();
    let (rule, message, ok): (&str, &str, ValueCheck) =
        if v.described.starts_with("ISO 8601 datetime") && !by_kkh0004 {
            (
                "KKH-ISO8601",
                "Value is not an ISO 8601 date/time or interval (SDTMIG §4.4).",
                Box::new(engine::valid_iso8601),
            )
        } else if v.described.starts_with("ISO 8601 duration") {
            (
                "KKH-ISO8601",
                "Value is not an ISO 8601 duration (SDTMIG §4.4.3).",
                Box::new(|s| {
                    engine::valid_duration(s) || (s.contains('/') && engine::valid_iso8601(s))
                }),
            )
        } else if let (true, Some(c)) = (name == "COUNTRY", countries) {
            (
                "KKH-ISO3166",
                "Value is not an ISO 3166-1 alpha-3 country code.",
                Box::new(move |s| c.contains(s)),
            )
        } else {
            return vec![];
        };
    let mut out = Vec::new();
    for (ri, row) in t.rows.iter().enumerate() {
        let val = row[i].text();
        let val = val.trim();
        if !val.is_empty() && !ok(val) {
            out.push(Finding {
                dataset: t.name.clone(),
                record: Some(ri + 1),
                variable: name.clone(),
                value: val.to_owned(),
                rule: rule.into(),
                severity: "Error".into(),
                message: message.into(),
            });
        }
    }
    out
}

fn is_result_var(name: &str) -> bool {
    name.len() > 2 && (name.ends_with("ORRES") || name.ends_with("STRESC"))
}
