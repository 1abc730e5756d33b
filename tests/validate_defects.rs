//! Issue 12: `kakehashi validate DIR` with no flags (the embedded SDTMIG 3.4, CT, Open Rules,
//! ISO 3166 and ISO 8601) finds each of seven defects injected into the CDISC pilot's DM and
//! AE by pyreadstat (`tests/py/inject_defects.py`), at its record.

mod common;

use std::process::Command;

#[test]
fn issue12_seven_injected_defects_are_found_with_default_flags() {
    let py = common::py_tools();
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(&py)
        .arg(common::repo("tests/py/inject_defects.py"))
        .arg(common::shared("data/sdtm/cdiscpilot01"))
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let injected: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let run = |d: &std::path::Path| -> serde_json::Value {
        let v = Command::new(common::bin())
            .args(["validate", d.to_str().unwrap(), "--format", "json"])
            .output()
            .unwrap();
        assert_eq!(v.status.code(), Some(1), "Errors give exit 1");
        serde_json::from_slice(&v.stdout).unwrap()
    };
    let report = run(dir.path());
    // The same places in the untouched pilot have no Error: what is found is the defect.
    let clean = run(&common::shared("data/sdtm/cdiscpilot01"));
    let std: Vec<&str> = report["standards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["standard"].as_str().unwrap())
        .collect();
    for s in [
        "SDTMIG",
        "CDISC CT",
        "ISO 3166-1 alpha-3",
        "ISO 8601",
        "CDISC Open Rules",
    ] {
        assert!(std.contains(&s), "the report names {s}: {std:?}");
    }
    let errors_at = |r: &serde_json::Value, ds: &str, rec: u64, var: &str| -> Vec<String> {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| {
                f["Dataset"] == ds
                    && f["Record"].as_u64() == Some(rec)
                    && f["Variable"] == var
                    && f["Severity"] == "Error"
            })
            .map(|f| f["Rule"].as_str().unwrap().to_owned())
            .collect()
    };
    let mut n = 0;
    for (ds, defects) in injected.as_object().unwrap() {
        for d in defects.as_array().unwrap() {
            let (var, rec) = (d[0].as_str().unwrap(), d[1].as_u64().unwrap());
            let hits = errors_at(&report, ds, rec, var);
            assert!(
                !hits.is_empty(),
                "{ds} record {rec} {var} = {} is not found",
                d[2]
            );
            let before = errors_at(&clean, ds, rec, var);
            assert!(
                before.is_empty(),
                "{ds} record {rec} {var} has Errors before injection: {before:?}"
            );
            n += 1;
        }
    }
    assert_eq!(n, 7);
}
