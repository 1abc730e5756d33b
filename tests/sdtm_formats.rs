//! The SDTM files of a run, checked by software and schemas we did not write: every XPT by
//! pyreadstat and `xport` (they agree, and their values equal our Dataset-JSON), every
//! Dataset-JSON against the CDISC 1.1 schema, define.xml against the Define-XML 2.1 XSD
//! (`xmllint`) plus the cross-reference checks the XSD cannot do.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use kakehashi::formats::xpt;
use serde_json::Value;

fn convert(input: &Path, tmp: &Path, stage: &str) -> PathBuf {
    convert_roots(&[input], tmp, stage, true)
}

fn convert_roots(inputs: &[&Path], tmp: &Path, stage: &str, must_succeed: bool) -> PathBuf {
    let out = tmp.join("out");
    let study = tmp.join("study.yaml");
    std::fs::write(&study, "study_id: KKH-FMT\n").unwrap();
    let mut args: Vec<String> = vec!["convert".into()];
    if stage == "sdtm" {
        args.push("sdtm".into());
    }
    args.extend(inputs.iter().map(|p| p.to_str().unwrap().to_owned()));
    args.extend([
        "--study".into(),
        study.to_str().unwrap().into(),
        "--demo-key".into(),
        "--format".into(),
        "xpt,json,ndjson,csv".into(),
        "--ct".into(),
        common::shared("reference/cdisc-ct/SDTM_Terminology.txt")
            .to_str()
            .unwrap()
            .into(),
        "--ct-version".into(),
        "2025-03-28".into(),
        // The verdict on these corpora is tests/validate_cli.rs's; here, the files.
        "--allow-findings".into(),
        "-o".into(),
        out.to_str().unwrap().into(),
    ]);
    let o = Command::new(common::bin()).args(&args).output().unwrap();
    assert!(
        o.status.success() || (!must_succeed && o.status.code() == Some(1)),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    if stage == "sdtm" {
        out
    } else {
        out.join("sdtm")
    }
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    v.sort();
    v
}

fn schema(rel: &str) -> jsonschema::Validator {
    let bytes = std::fs::read(common::shared(rel)).unwrap();
    let text = if bytes.starts_with(&[0xFF, 0xFE]) {
        encoding_rs::UTF_16LE.decode(&bytes[2..]).0.into_owned()
    } else {
        String::from_utf8(bytes).unwrap()
    };
    let v: Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&v).unwrap()
}

fn check_run(sdtm: &Path) {
    let py = common::py_tools();
    let dsj = schema("schemas/dataset-json-1.1/dataset.schema.json");
    let xpts = files(sdtm, "xpt");
    // Datasets without records are not written (Synthea has no AE, EX or MH records).
    assert!(xpts.len() >= 8, "{xpts:?}");
    for x in &xpts {
        // 1. pyreadstat and xport read it and agree.
        common::xpt_readers_agree(&py, x);
        // 2. pyreadstat's values are the Dataset-JSON values of the same dataset.
        let o = Command::new(&py)
            .arg(common::repo("scripts/xpt_dump.py"))
            .arg(x)
            .output()
            .unwrap();
        assert!(o.status.success());
        let theirs: Value = serde_json::from_slice(&o.stdout).unwrap();
        let json_path = x.with_extension("json");
        let ours: Value = serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
        assert_eq!(theirs["name"], ours["name"]);
        let cols = ours["columns"].as_array().unwrap();
        let tcols = theirs["columns"].as_array().unwrap();
        assert_eq!(cols.len(), tcols.len(), "{}", x.display());
        for (c, t) in cols.iter().zip(tcols) {
            assert_eq!(c["name"], t["name"]);
            assert_eq!(c["label"], t["label"]);
            if c["dataType"] == "string" {
                assert_eq!(
                    c["length"],
                    t["length"],
                    "{}: {} length = longest value",
                    x.display(),
                    c["name"]
                );
            }
        }
        let rows = ours["rows"].as_array().unwrap();
        assert_eq!(ours["records"].as_u64(), Some(rows.len() as u64));
        assert_eq!(theirs["rows"].as_array().unwrap().len(), rows.len());
        for (r, t) in rows.iter().zip(theirs["rows"].as_array().unwrap()) {
            for (v, tv) in r.as_array().unwrap().iter().zip(t.as_array().unwrap()) {
                let same = match (v, tv) {
                    (Value::Null, Value::Null) => true,
                    (Value::Null, Value::String(s)) => s.is_empty(),
                    (Value::String(a), Value::String(b)) => a == b,
                    (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
                    _ => false,
                };
                assert!(
                    same,
                    "{}: Dataset-JSON {v} vs XPT (pyreadstat) {tv}",
                    x.display()
                );
            }
        }
        // Our own reader agrees with both.
        let back = xpt::read(&std::fs::read(x).unwrap()).unwrap();
        assert_eq!(back[0].dataset.rows.len(), rows.len());
    }
    // 3. Dataset-JSON, and NDJSON reassembled, are valid against the CDISC schema.
    for j in files(sdtm, "json").into_iter().filter(|p| {
        !kakehashi::sdtm::RUN_FILES
            .iter()
            .any(|f| p.file_name().is_some_and(|n| n == *f))
    }) {
        let v: Value = serde_json::from_slice(&std::fs::read(&j).unwrap()).unwrap();
        let errs: Vec<String> = dsj
            .iter_errors(&v)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errs.is_empty(), "{}: {errs:?}", j.display());
        let text = std::fs::read_to_string(j.with_extension("ndjson")).unwrap();
        let mut lines = text.lines();
        let mut meta: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
        let rows: Vec<Value> = lines.map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(meta["records"].as_u64(), Some(rows.len() as u64));
        meta["rows"] = Value::Array(rows);
        assert_eq!(meta, v, "{}: NDJSON holds the same content", j.display());
    }
    // 4. define.xml: XSD-valid and cross-reference-clean.
    let define = sdtm.join("define.xml");
    let o = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(common::shared(
            "schemas/define-xml-2.1/define/2.1/define2-1-0.xsd",
        ))
        .arg(&define)
        .output()
        .expect("xmllint (libxml2-utils) is needed; .ci/run installs it");
    assert!(
        o.status.success(),
        "define.xml does not validate:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let datasets: Vec<_> = xpts
        .iter()
        .map(|x| {
            xpt::read(&std::fs::read(x).unwrap())
                .unwrap()
                .remove(0)
                .dataset
        })
        .collect();
    let xml = std::fs::read_to_string(&define).unwrap();
    let problems = kakehashi::formats::define::cross_check(&xml, &datasets);
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(
        xml.contains("<Alias Context=\"nci:ExtCodeID\" Name=\"C66731\"/>"),
        "SEX codelist with its NCI code"
    );
    assert!(
        xml.contains("def:ValueListDef"),
        "value-level metadata for findings"
    );
    for x in &xpts {
        let leaf = x.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            xml.contains(&format!("xlink:href=\"{leaf}\"")),
            "leaf for {leaf}"
        );
    }
    // 5. Nothing half-written is left behind.
    assert!(common::files_under(sdtm)
        .iter()
        .all(|p| !p.to_string_lossy().ends_with(".tmp")));
}

#[test]
fn fixture_run_writes_files_other_software_accepts() {
    let tmp = tempfile::tempdir().unwrap();
    let sdtm = convert(&common::repo("fixtures/ssmix2"), tmp.path(), "all");
    check_run(&sdtm);
    // The Japanese variants are Dataset-JSON and CSV (XPT v5 is ASCII only).
    assert!(sdtm.join("ja/cm.json").exists() && !sdtm.join("ja/cm.xpt").exists());
}

#[test]
fn shared_ss_mix2_samples_write_files_other_software_accepts() {
    // The samples hold deliberately broken files (stage-1 errors, exit code 1); what
    // converts must still give valid files.
    let tmp = tempfile::tempdir().unwrap();
    let a = common::shared("data/ssmix2/nhoHQ__SSMIX2DataTestingTool/sampleData");
    let b = common::shared("data/ssmix2/yuakagi__ssmixtwins-generated/standard_root");
    let sdtm = convert_roots(&[&a, &b], tmp.path(), "all", false);
    check_run(&sdtm);
}

#[test]
fn synthea_run_writes_files_other_software_accepts() {
    let tmp = tempfile::tempdir().unwrap();
    let sdtm = convert(
        &common::shared("data/fhir/synthea-r4-sample"),
        tmp.path(),
        "sdtm",
    );
    check_run(&sdtm);
}

#[test]
fn cross_check_finds_what_the_xsd_cannot() {
    let tmp = tempfile::tempdir().unwrap();
    let sdtm = convert(&common::repo("fixtures/ssmix2"), tmp.path(), "all");
    let xml = std::fs::read_to_string(sdtm.join("define.xml")).unwrap();
    let mut datasets: Vec<_> = files(&sdtm, "xpt")
        .iter()
        .map(|x| {
            xpt::read(&std::fs::read(x).unwrap())
                .unwrap()
                .remove(0)
                .dataset
        })
        .collect();
    assert!(kakehashi::formats::define::cross_check(&xml, &datasets).is_empty());
    let broken = xml.replacen("CodeListOID=\"CL.C66731\"", "CodeListOID=\"CL.NOPE\"", 1);
    assert!(kakehashi::formats::define::cross_check(&broken, &datasets)
        .iter()
        .any(|p| p.contains("CL.NOPE")));
    // A dataset with a variable define.xml does not describe.
    let dm = datasets.iter_mut().find(|d| d.name == "DM").unwrap();
    let mut extra = dm.columns[0].clone();
    extra.name = "DMEXTRA".into();
    dm.columns.push(extra);
    for r in &mut dm.rows {
        r.push(kakehashi::formats::Cell::Null);
    }
    assert!(kakehashi::formats::define::cross_check(&xml, &datasets)
        .iter()
        .any(|p| p.contains("IG.DM")));
}
