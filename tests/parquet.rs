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
