//! The official FHIRPath R4 test suite (`../shared/conformance/fhirpath-r4/`, 935 tests) run
//! against our FHIRPath subset. Every test whose expression uses only functions we
//! implement, whose input exists as JSON, and that is not a `mode="strict"` test must pass;
//! the totals are printed (and recorded in the README).

mod common;

use std::collections::BTreeMap;

use kakehashi::fhirpath::eval::{check, BUILTINS};
use kakehashi::fhirpath::temporal::{Kind, Temporal};
use kakehashi::fhirpath::value::{number, parse_decimal};
use kakehashi::fhirpath::{evaluate, parse, Env, Item, NoFunctions};
use quick_xml::events::Event;
use serde_json::Value;

#[derive(Debug, Default, Clone)]
struct Case {
    group: String,
    name: String,
    input: Option<String>,
    expression: String,
    invalid: Option<String>,
    predicate: bool,
    strict: bool,
    outputs: Vec<(Option<String>, String)>,
}

fn load_cases() -> Vec<Case> {
    let path = common::shared("conformance/fhirpath-r4/tests-fhir-r4.xml");
    let text = std::fs::read_to_string(path).unwrap();
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut cases = Vec::new();
    let (mut group, mut cur, mut in_expr, mut in_out) =
        (String::new(), Case::default(), false, false);
    let attr = |e: &quick_xml::events::BytesStart, k: &str| -> Option<String> {
        e.attributes()
            .flatten()
            .find(|a| a.key.as_ref() == k.as_bytes())
            .and_then(|a| {
                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .ok()
                    .map(|v| v.to_string())
            })
    };
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) => match e.name().as_ref() {
                b"group" => group = attr(&e, "name").unwrap_or_default(),
                b"test" => {
                    cur = Case {
                        group: group.clone(),
                        name: attr(&e, "name").unwrap_or_default(),
                        input: attr(&e, "inputfile"),
                        predicate: attr(&e, "predicate").as_deref() == Some("true"),
                        strict: attr(&e, "mode").as_deref() == Some("strict"),
                        ..Case::default()
                    }
                }
                b"expression" => {
                    in_expr = true;
                    cur.invalid = attr(&e, "invalid");
                }
                b"output" => {
                    in_out = true;
                    cur.outputs.push((attr(&e, "type"), String::new()));
                }
                _ => {}
            },
            Event::Empty(e) if e.name().as_ref() == b"output" => {
                cur.outputs.push((attr(&e, "type"), String::new()));
            }
            Event::Text(t) => {
                let s = t.decode().map(|c| c.to_string()).unwrap_or_default();
                if in_expr {
                    cur.expression.push_str(&s);
                } else if in_out {
                    if let Some(last) = cur.outputs.last_mut() {
                        last.1.push_str(&s);
                    }
                }
            }
            Event::GeneralRef(r) => {
                let s = match r.as_ref() {
                    b"lt" => "<",
                    b"gt" => ">",
                    b"amp" => "&",
                    b"quot" => "\"",
                    b"apos" => "'",
                    _ => "",
                };
                if in_expr {
                    cur.expression.push_str(s);
                } else if in_out {
                    if let Some(last) = cur.outputs.last_mut() {
                        last.1.push_str(s);
                    }
                }
            }
            Event::End(e) => match e.name().as_ref() {
                b"expression" => in_expr = false,
                b"output" => in_out = false,
                b"test" => cases.push(std::mem::take(&mut cur)),
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    cases
}

/// Tests in scope that we knowingly answer differently, each with the reason.
const DISAGREEMENTS: &[(&str, &str)] = &[
    (
        "HighBoundaryDateTimeMillisecond1",
        "the suite wants 08:00:59.999 as the high boundary of hour-precision 08; the latest \
         instant of that hour is 08:59:59.999 (what we give, and what the suite itself \
         expects for day precision and the SQL-on-FHIR suite for dateTime)",
    ),
    (
        "HighBoundaryDateTimeMillisecond3",
        "same case as HighBoundaryDateTimeMillisecond1",
    ),
    (
        "testFHIRPathIsFunction8",
        "input: the JSON observation-example lacks the patient-age extension its XML twin has",
    ),
    (
        "testFHIRPathIsFunction9",
        "input: as testFHIRPathIsFunction8",
    ),
    (
        "testFHIRPathIsFunction10",
        "input: as testFHIRPathIsFunction8",
    ),
];

/// Function names an expression calls (identifiers followed by `(`).
fn functions_used(expr: &str) -> Vec<String> {
    let b = expr.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_alphabetic() {
            let s = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            if i < b.len() && b[i] == b'(' {
                out.push(expr[s..i].to_owned());
            }
        } else {
            i += 1;
        }
    }
    out
}

fn matches_output(item: &Item, ty: Option<&str>, text: &str) -> bool {
    let p = item.prim();
    let temporal = |k: Kind, t: &str| -> bool {
        let t = t.trim_start_matches('@').trim_start_matches('T');
        match (&p, Temporal::parse(t, k)) {
            (Item::Temporal(a), Some(b)) => a.to_text() == b.to_text(),
            (Item::Str(a), Some(b)) => a == &b.to_text(),
            _ => false,
        }
    };
    match ty {
        Some("boolean") => matches!(p, Item::Bool(v) if v.to_string() == text),
        Some("integer") => matches!(p, Item::Int(v) if v.to_string() == text),
        Some("decimal") => number(&p)
            .zip(parse_decimal(text))
            .is_some_and(|(a, b)| a == b),
        Some("string") | Some("code") => item.as_str().as_deref() == Some(text),
        Some("date") => temporal(Kind::Date, text),
        Some("dateTime") => temporal(Kind::DateTime, text),
        Some("time") => temporal(Kind::Time, text),
        Some("Quantity") => match (&p, text.rsplit_once(' ')) {
            (Item::Quantity(d, u), Some((n, unit))) => {
                parse_decimal(n) == Some(*d) && unit.trim_matches('\'') == u
            }
            _ => false,
        },
        _ => {
            let t = text.trim_start_matches('@');
            item.to_text().as_deref() == Some(text)
                || matches!(&p, Item::Temporal(x) if x.to_text() == t.trim_start_matches('T'))
                || number(&p)
                    .zip(parse_decimal(text))
                    .is_some_and(|(a, b)| a == b)
        }
    }
}

fn run(case: &Case, inputs: &BTreeMap<String, Value>) -> Result<(), String> {
    let empty = Value::Null;
    let resource = match &case.input {
        Some(f) => inputs.get(f).ok_or("no JSON input")?,
        None => &empty,
    };
    let result = parse(&case.expression)
        .and_then(|e| check(&e, &NoFunctions).map(|_| e))
        .and_then(|e| {
            let root: Vec<Item> = if resource.is_null() {
                vec![]
            } else {
                vec![Item::Node(resource, None)]
            };
            let now = Item::Temporal(
                Temporal::parse("2026-11-29T12:00:00+09:00", Kind::DateTime).unwrap(),
            );
            let vars = move |n: &str| (n == "now").then(|| vec![now.clone()]);
            let env = Env {
                resource: root.clone(),
                vars: &vars,
                functions: &NoFunctions,
                resolver: None,
            };
            evaluate(&e, root, &env)
        });
    match (&case.invalid, result) {
        (Some(_), Err(_)) => Ok(()),
        (Some(kind), Ok(r)) => Err(format!("expected a {kind} error, got {r:?}")),
        (None, Err(e)) => Err(format!("error: {e}")),
        (None, Ok(r)) => {
            if case.predicate {
                let want = case.outputs.first().map(|o| o.1 == "true").unwrap_or(false);
                return if r.is_empty() != want {
                    Ok(())
                } else {
                    Err(format!("predicate: {r:?}"))
                };
            }
            if r.len() != case.outputs.len() {
                return Err(format!(
                    "{} results, expected {}: {r:?}",
                    r.len(),
                    case.outputs.len()
                ));
            }
            for (item, (ty, text)) in r.iter().zip(&case.outputs) {
                if !matches_output(item, ty.as_deref(), text) {
                    return Err(format!("got {item:?}, expected {ty:?} {text}"));
                }
            }
            Ok(())
        }
    }
}

#[test]
fn fhirpath_r4_official_suite_supported_subset_passes() {
    let cases = load_cases();
    assert_eq!(cases.len(), 935, "the suite has 935 tests");
    let dir = common::shared("conformance/fhirpath-r4/input");
    let mut inputs = BTreeMap::new();
    for f in common::files_under(&dir) {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        if let Some(stem) = name.strip_suffix(".json") {
            let v: Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
            inputs.insert(format!("{stem}.xml"), v.clone());
            inputs.insert(name, v);
        }
    }
    let supported = |c: &Case| {
        !c.strict
            && c.input.as_ref().is_none_or(|i| inputs.contains_key(i))
            && functions_used(&c.expression)
                .iter()
                .all(|f| BUILTINS.iter().any(|(n, ..)| n == f))
    };
    let (mut pass_all, mut in_scope, mut pass_scope, mut failures) = (0, 0, 0, Vec::new());
    for c in &cases {
        let ok = run(c, &inputs);
        if ok.is_ok() {
            pass_all += 1;
        }
        if let Some((_, why)) = DISAGREEMENTS.iter().find(|(n, _)| *n == c.name) {
            assert!(
                ok.is_err(),
                "{} now passes: remove it from DISAGREEMENTS",
                c.name
            );
            println!("known disagreement {}: {why}", c.name);
            continue;
        }
        if supported(c) {
            in_scope += 1;
            match ok {
                Ok(()) => pass_scope += 1,
                Err(e) => failures.push(format!(
                    "{}/{}: `{}`: {e}",
                    c.group,
                    c.name,
                    c.expression.trim()
                )),
            }
        }
    }
    println!(
        "FHIRPath R4 conformance: {pass_scope}/{in_scope} tests in scope pass \
         ({pass_all}/{} of the whole suite, out-of-scope tests included)",
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
