//! Parquet output (issue 15): every SDTM dataset written as Apache Parquet is read back by
//! two readers we did not write, DuckDB and pyarrow, with the same row counts and values as
//! the Dataset-JSON output of the same run, and the SDTM labels and types in its schema.

mod common;

use std::process::Command;

const CHECK: &str = r#"
import json, sys, pathlib, duckdb, pyarrow.parquet as pq
out = pathlib.Path(sys.argv[1])
n = 0
for pf in sorted(out.glob("*.parquet")):
    ds = json.loads(pf.with_suffix(".json").read_text())
    cols = [c["name"] for c in ds["columns"]]
    types = {c["name"]: c["dataType"] for c in ds["columns"]}
    want = [[None if v == "" else v for v in r] for r in ds["rows"]]
    t = pq.read_table(pf)
    assert t.column_names == cols, (pf, t.column_names, cols)
    meta = {f.name: f.metadata for f in t.schema}
    for c in ds["columns"]:
        assert meta[c["name"]][b"label"].decode() == c["label"], (pf, c["name"])
    got_pa = [list(r.values()) for r in t.to_pylist()]
    got_db = [list(r) for r in duckdb.sql(f"select * from read_parquet('{pf}')").fetchall()]
    for got, who in ((got_pa, "pyarrow"), (got_db, "duckdb")):
        assert len(got) == len(want), (pf, who, len(got), len(want))
        for a, b in zip(got, want):
            for c, x, y in zip(cols, a, b):
                if types[c] in ("double", "float", "integer", "decimal"):
                    assert (x is None and y is None) or abs(float(x) - float(y)) < 1e-9, (pf, who, c, x, y)
                else:
                    assert x == y, (pf, who, c, x, y)
    n += 1
print(f"{n} datasets agree")
"#;

#[test]
fn issue15_parquet_reads_back_identically_in_duckdb_and_pyarrow() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    common::kk_ok(&[
        &"convert",
        &"fixtures/ssmix2",
        &"--study",
        &"fixtures/studies/minimal.yaml",
        &"--demo-key",
        &"--format",
        &"json,parquet",
        &"-o",
        &out,
    ]);
    let sdtm = out.join("sdtm");
    let parquet: Vec<_> = std::fs::read_dir(&sdtm)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "parquet"))
        .collect();
    assert!(parquet.len() >= 10, "{}", parquet.len());
    // End to end, the FHIR folder gets the view rows too (their own test is below).
    let views = std::fs::read_dir(out.join("fhir/views"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "parquet"))
        })
        .count();
    assert_eq!(views, 20, "one file per view of the SDTM domain files");
    let py = common::py_tools();
    let o = Command::new(py)
        .args(["-c", CHECK])
        .arg(&sdtm)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{text}");
    assert!(
        text.contains(&format!("{} datasets agree", parquet.len())),
        "{text}"
    );

    // Same input, same bytes.
    let again = dir.path().join("again");
    common::kk_ok(&[
        &"convert",
        &"fixtures/ssmix2",
        &"--study",
        &"fixtures/studies/minimal.yaml",
        &"--demo-key",
        &"--format",
        &"parquet",
        &"--threads",
        &"1",
        &"-o",
        &again,
    ]);
    for e in parquet {
        let name = e.file_name();
        assert_eq!(
            std::fs::read(e.path()).unwrap(),
            std::fs::read(again.join("sdtm").join(&name)).unwrap(),
            "{name:?}"
        );
    }
}

/// The view rows: each file against the rows our view engine gives for the same NDJSON
/// (`expected.json`), the declared column types in the Parquet schema, and the user's
/// Patient view against Patient.ndjson read by Python itself.
const CHECK_VIEWS: &str = r#"
import json, sys, pathlib, duckdb, pyarrow as pa, pyarrow.parquet as pq
views, fhir = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
expected = json.loads((views.parent / "expected.json").read_text())
arrow = {"integer": pa.int64(), "decimal": pa.float64(), "boolean": pa.bool_()}
n = 0
for name, e in sorted(expected.items()):
    pf = views / f"{name}.parquet"
    t = pq.read_table(pf)
    assert t.column_names == e["columns"], (name, t.column_names, e["columns"])
    for c, ty in zip(e["columns"], e["types"]):
        assert t.schema.field(c).type == arrow.get(ty, pa.string()), (name, c, ty, t.schema.field(c).type)
    got_pa = [list(r.values()) for r in t.to_pylist()]
    got_db = [list(r) for r in duckdb.sql(f"select * from read_parquet('{pf}')").fetchall()]
    for got, who in ((got_pa, "pyarrow"), (got_db, "duckdb")):
        assert len(got) == len(e["rows"]), (name, who, len(got), len(e["rows"]))
        for a, b in zip(got, e["rows"]):
            for c, ty, x, y in zip(e["columns"], e["types"], a, b):
                if y is not None and ty not in arrow:
                    y = y if isinstance(y, str) else json.dumps(y, separators=(",", ":"))
                if ty == "decimal" and y is not None:
                    assert abs(x - float(y)) < 1e-9, (name, who, c, x, y)
                else:
                    assert x == y, (name, who, c, x, y)
    n += 1
# Independent of our FHIRPath: the user's view of Patient against the NDJSON itself.
pats = [json.loads(l) for l in (fhir / "Patient.ndjson").read_text().splitlines() if l.strip()]
want = sorted(("Patient/" + p["id"], p.get("gender"), p.get("birthDate"), len(p.get("name", []))) for p in pats)
got = sorted(duckdb.sql(f"select id, gender, birth_date, names from read_parquet('{views}/user_patients.parquet')").fetchall())
assert [tuple(r) for r in got] == want, (got, want)
print(f"{n} views agree")
"#;

#[test]
fn issue15_fhir_views_as_parquet_read_back_in_duckdb_and_pyarrow() {
    use kakehashi::sdtm::view_rows;
    let dir = tempfile::tempdir().unwrap();
    let user = dir.path().join("views");
    std::fs::create_dir_all(&user).unwrap();
    std::fs::write(
        user.join("patients.json"),
        r#"{"resourceType": "ViewDefinition", "name": "user_patients", "resource": "Patient",
            "select": [{"column": [
              {"name": "id", "path": "getResourceKey()", "type": "id"},
              {"name": "gender", "path": "gender", "type": "code"},
              {"name": "birth_date", "path": "birthDate", "type": "date"},
              {"name": "names", "path": "name.count()", "type": "integer"},
              {"name": "has_telecom", "path": "telecom.exists()", "type": "boolean"}]}]}"#,
    )
    .unwrap();
    std::fs::write(
        user.join("quantities.json"),
        r#"{"resourceType": "ViewDefinition", "name": "user_quantities", "resource": "Observation",
            "where": [{"path": "value.ofType(Quantity).exists()"}],
            "select": [{"column": [
              {"name": "id", "path": "getResourceKey()", "type": "id"},
              {"name": "value", "path": "value.ofType(Quantity).value", "type": "decimal"},
              {"name": "unit", "path": "value.ofType(Quantity).code", "type": "code"},
              {"name": "codes", "path": "code.coding.code", "collection": true}]}]}"#,
    )
    .unwrap();
    let out = dir.path().join("fhir");
    let text = common::kk_ok(&[
        &"convert",
        &"fhir",
        &"fixtures/ssmix2",
        &"--format",
        &"ndjson,parquet",
        &"--views",
        &user,
        &"-o",
        &out,
    ]);
    assert!(text.contains("views: 22 Parquet file(s)"), "{text}");

    // What our own view engine gives for the same NDJSON, with the two key columns.
    let spec = kakehashi::sdtm::SdtmSpec::load(None).unwrap();
    let functions = spec.functions(false);
    let mut views = view_rows::domain_views(&spec);
    views.extend(view_rows::user_views(&user, &spec).unwrap());
    let mut expected = serde_json::Map::new();
    let mut total = 0;
    for v in &views {
        let cols = v.view.columns();
        let mut rows = Vec::new();
        let ndjson = out.join(format!("{}.ndjson", v.view.resource));
        for line in std::fs::read_to_string(&ndjson).unwrap_or_default().lines() {
            let r: serde_json::Value = serde_json::from_str(line).unwrap();
            let key = format!(
                "{}/{}",
                r["resourceType"].as_str().unwrap(),
                r["id"].as_str().unwrap()
            );
            let patient = kakehashi::sdtm::subject::patient_of(&r);
            for row in v.view.run(&r, &functions).unwrap() {
                let mut full = vec![serde_json::json!(key), serde_json::json!(patient)];
                full.extend(row);
                rows.push(serde_json::Value::Array(full));
            }
        }
        total += rows.len();
        let mut names = vec!["_resource".to_owned(), "_patient".to_owned()];
        let mut types = vec![serde_json::Value::Null, serde_json::Value::Null];
        for c in &cols {
            names.push(c.name.clone());
            types.push(match (&c.ty, c.collection) {
                (Some(t), false) => serde_json::json!(t),
                _ => serde_json::Value::Null,
            });
        }
        expected.insert(
            v.name.clone(),
            serde_json::json!({"columns": names, "types": types, "rows": rows}),
        );
    }
    assert!(total > 300, "rows to compare: {total}");
    std::fs::write(
        out.join("expected.json"),
        serde_json::to_vec(&expected).unwrap(),
    )
    .unwrap();
    let o = Command::new(common::py_tools())
        .args(["-c", CHECK_VIEWS])
        .arg(out.join("views"))
        .arg(&out)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{text}");
    assert!(text.contains("22 views agree"), "{text}");

    // Same input, same bytes, whatever the thread count.
    let again = dir.path().join("again");
    common::kk_ok(&[
        &"--threads",
        &"1",
        &"convert",
        &"fhir",
        &"fixtures/ssmix2",
        &"--format",
        &"parquet",
        &"--views",
        &user,
        &"-o",
        &again,
    ]);
    for v in &views {
        let f = format!("views/{}.parquet", v.name);
        assert_eq!(
            std::fs::read(out.join(&f)).unwrap(),
            std::fs::read(again.join(&f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn issue15_a_view_that_does_not_compile_stops_before_any_data_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let user = dir.path().join("views");
    std::fs::create_dir_all(&user).unwrap();
    std::fs::write(
        user.join("bad.json"),
        r#"{"resourceType": "ViewDefinition", "resource": "Patient", "select": [{"column": [{"name": "x", "path": "name.("}]}]}"#,
    )
    .unwrap();
    let out = dir.path().join("fhir");
    let o = Command::new(common::bin())
        .args([
            "convert",
            "fhir",
            "fixtures/ssmix2",
            "--format",
            "parquet",
            "--views",
        ])
        .arg(&user)
        .arg("-o")
        .arg(&out)
        .current_dir(common::repo(""))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("T002") && err.contains("bad.json"), "{err}");
    assert!(!out.exists(), "nothing written");
}
