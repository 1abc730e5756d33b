//! The official SQL-on-FHIR v2 test suite (`../shared/conformance/sql-on-fhir-v2/`, 134
//! tests) run against our ViewDefinition runner. Rows are compared as a multiset, like the
//! reference runner (sof-js compliance.test.js); `expectColumns` checks the column order;
//! `expectError` requires compiling or running to fail.

mod common;

use kakehashi::fhirpath::{NoFunctions, View};
use serde_json::Value;

/// Numbers compare by value (`5` = `5.0`), everything else structurally.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let p = |n: &serde_json::Number| n.to_string().parse::<rust_decimal::Decimal>().ok();
            match (p(x), p(y)) {
                (Some(x), Some(y)) => x == y,
                _ => x.as_f64() == y.as_f64(),
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        _ => a == b,
    }
}

fn run_test(resources: &[Value], t: &Value) -> Result<(), String> {
    let mut view = t["view"].clone();
    view["resourceType"] = Value::from("ViewDefinition");
    let expect_error = t.get("expectError").and_then(Value::as_bool) == Some(true);
    let compiled = match View::compile(&view, &NoFunctions) {
        Ok(v) => v,
        Err(e) if expect_error => return Ok(()).map(|_: ()| drop(e)),
        Err(e) => return Err(format!("compile failed: {e}")),
    };
    let names: Vec<String> = compiled.columns().iter().map(|c| c.name.clone()).collect();
    let mut rows = Vec::new();
    for r in resources {
        match compiled.run(r, &NoFunctions) {
            Ok(rs) => rows.extend(rs),
            Err(_) if expect_error => return Ok(()),
            Err(e) => return Err(format!("run failed: {e}")),
        }
    }
    if expect_error {
        return Err("expected an error, got rows".into());
    }
    if let Some(cols) = t.get("expectColumns").and_then(Value::as_array) {
        let want: Vec<&str> = cols.iter().filter_map(Value::as_str).collect();
        if want != names {
            return Err(format!("columns {names:?}, expected {want:?}"));
        }
    }
    let Some(expect) = t.get("expect").and_then(Value::as_array) else {
        return Err("test has neither expect nor expectError".into());
    };
    let got: Vec<serde_json::Map<String, Value>> = rows
        .iter()
        .map(|r| names.iter().cloned().zip(r.iter().cloned()).collect())
        .collect();
    if got.len() != expect.len() {
        return Err(format!(
            "{} rows, expected {}: {got:?}",
            got.len(),
            expect.len()
        ));
    }
    let mut unmatched: Vec<&serde_json::Map<String, Value>> = got.iter().collect();
    for e in expect {
        let e = e.as_object().ok_or("expected row is not an object")?;
        let pos = unmatched.iter().position(|g| {
            g.len() == e.len() && e.iter().all(|(k, v)| g.get(k).is_some_and(|x| same(x, v)))
        });
        match pos {
            Some(p) => {
                unmatched.remove(p);
            }
            None => return Err(format!("expected row {e:?} not produced; got {got:?}")),
        }
    }
    Ok(())
}

#[test]
fn sql_on_fhir_v2_official_suite_passes_completely() {
    let dir = common::shared("conformance/sql-on-fhir-v2");
    let (mut pass, mut total, mut failures) = (0, 0, Vec::new());
    for path in common::files_under(&dir) {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".json") || name == "tests.schema.json" {
            continue;
        }
        let suite: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let resources = suite["resources"].as_array().cloned().unwrap_or_default();
        for t in suite["tests"].as_array().unwrap() {
            total += 1;
            match run_test(&resources, t) {
                Ok(()) => pass += 1,
                Err(e) => failures.push(format!("{name} / {}: {e}", t["title"])),
            }
        }
    }
    println!("SQL-on-FHIR v2 conformance: {pass}/{total} tests pass");
    assert_eq!(total, 134, "the suite has 134 tests");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
