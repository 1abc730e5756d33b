//! `kakehashi validate` end to end: the SAS-written CDISC pilot validates without crashing
//! (findings listed, JSON and CSV in the Open Rules shape), and the HTML report is checked in
//! headless Chromium (the page's script runs, the counts are those of the JSON report, a
//! screenshot is taken).

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn validate(extra: &[&str], dir: &Path) -> (Option<i32>, String) {
    let mut args = vec![
        "validate".to_owned(),
        dir.to_str().unwrap().to_owned(),
        "--sdtmig".to_owned(),
        common::shared("reference/sdtmig-3.4")
            .to_str()
            .unwrap()
            .to_owned(),
        "--ct".to_owned(),
        common::shared("reference/cdisc-ct/SDTM_Terminology.txt")
            .to_str()
            .unwrap()
            .to_owned(),
        "--open-rules".to_owned(),
        common::shared("conformance/cdisc-open-rules-sdtmig/Published")
            .to_str()
            .unwrap()
            .to_owned(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let o = Command::new(common::bin()).args(&args).output().unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

/// `kakehashi convert [sdtm] INPUT --study minimal.yaml --demo-key -o OUT [extra…]`.
fn convert_minimal(stage: &[&str], input: &Path, out: &Path, extra: &[&str]) -> Output {
    Command::new(common::bin())
        .arg("convert")
        .args(stage)
        .arg(input)
        .arg("--study")
        .arg(common::repo("fixtures/studies/minimal.yaml"))
        .arg("--demo-key")
        .arg("-o")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn cdisc_pilot_validates_and_the_html_report_renders() {
    let tmp = tempfile::tempdir().unwrap();
    let pilot = common::shared("data/sdtm/cdiscpilot01");
    let (code, text) = validate(&[], &pilot);
    assert_eq!(code, Some(1), "the pilot has Error findings: {text}");
    assert!(text.contains("validated 18 dataset(s)"), "{text}");
    let (_, json) = validate(&["--format", "json"], &pilot);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(report["datasets"], 18);
    assert_eq!(
        report["counts"]["Error"].as_u64().unwrap() as usize,
        findings.iter().filter(|f| f["Severity"] == "Error").count()
    );
    assert!(findings.len() > 100);
    for k in [
        "Dataset", "Record", "Variable", "Value", "Rule", "Severity", "Message",
    ] {
        assert!(findings[0].get(k).is_some(), "{k}");
    }
    let (_, csv) = validate(&["--format", "csv"], &pilot);
    assert!(csv.starts_with("Dataset,Record,Variable,Value,Rule,Severity,Message"));
    assert_eq!(
        csv.lines().count() - 1,
        findings.len(),
        "CSV and JSON list the same findings"
    );
    // HTML, rendered by Chromium.
    let html = tmp.path().join("report.html");
    validate(&["--html", html.to_str().unwrap()], &pilot);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "self-contained: no network"
    );
    let (dom, _png) = common::render(&html, tmp.path());
    assert!(dom.contains("data-ready=\"1\""), "the page's script ran");
    assert!(
        dom.contains(&format!("<strong id=\"total\">{}</strong>", findings.len())),
        "the page shows the JSON report's total"
    );
    let errors = findings.iter().filter(|f| f["Severity"] == "Error").count();
    assert!(
        dom.contains(&format!("data-severity=\"Error\">{errors}<")),
        "error count per severity"
    );
}

#[test]
fn our_sdtm_output_passes_our_rules_and_the_validator_reads_every_format() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("o");
    let o = convert_minimal(&[], &common::repo("fixtures/ssmix2"), &out, &[]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{stdout}");
    assert!(
        stdout.contains("validated 12 dataset(s) with 330 rule(s): 0 finding(s)"),
        "convert runs the full validation: {stdout}"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("sdtm/validation.json")).unwrap()).unwrap();
    assert_eq!(report["findings"].as_array().unwrap().len(), 0, "{report}");
    assert!(report["standards"].as_array().unwrap().len() >= 5);
    // The validator reads the XPT (and would the JSON) we wrote, and define.xml beside them.
    let o = Command::new(common::bin())
        .args([
            "validate",
            out.join("sdtm").to_str().unwrap(),
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // A broken dataset is found: an uncoded SEX in an XPT written wrongly on purpose.
    let mut ds = kakehashi::formats::xpt::read(&std::fs::read(out.join("sdtm/dm.xpt")).unwrap())
        .unwrap()
        .remove(0)
        .dataset;
    let sex = ds.column("SEX").unwrap();
    ds.rows[0][sex] = kakehashi::formats::Cell::Char("male".into());
    let bad = tmp.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    let mut f = std::fs::File::create(bad.join("dm.xpt")).unwrap();
    kakehashi::formats::xpt::write(&ds, &mut f, &Default::default()).unwrap();
    let o = Command::new(common::bin())
        .args(["validate", bad.to_str().unwrap(), "--format", "csv"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("DM,1,SEX,male,KKH0009"));
}

/// Issue 12: with default flags, `convert` writes submission datasets with 0 Errors under the
/// full validation (embedded SDTMIG 3.4, CT 2025-03-28, Open Rules) for the bundled archive
/// and the SS-MIX2 trees in ../shared/data; it exits 0 without --allow-findings, writes no
/// dataset without records, and `validate` agrees on what was written.
#[test]
fn issue12_convert_output_is_submission_clean_for_every_shared_corpus() {
    let tmp = tempfile::tempdir().unwrap();
    // (input, stage): SS-MIX2 roots run both stages, FHIR corpora `convert sdtm`.
    let inputs = [
        (common::repo("fixtures/ssmix2"), "both"),
        (
            common::shared("data/ssmix2/nhoHQ__SSMIX2DataTestingTool/sampleData"),
            "both",
        ),
        (
            common::shared("data/ssmix2/yuakagi__ssmixtwins-generated/standard_root"),
            "both",
        ),
        (common::shared("data/fhir/synthea-r4-sample"), "sdtm"),
        (common::shared("data/fhir/r4-official-examples"), "sdtm"),
    ];
    for (i, (root, stage)) in inputs.iter().enumerate() {
        let out = tmp.path().join(format!("o{i}"));
        let o = if *stage == "sdtm" {
            convert_minimal(&["sdtm"], root, &out, &[])
        } else {
            convert_minimal(&[], root, &out, &[])
        };
        let sdtm = if *stage == "sdtm" {
            out.clone()
        } else {
            out.join("sdtm")
        };
        let stdout = String::from_utf8_lossy(&o.stdout);
        let stderr = String::from_utf8_lossy(&o.stderr);
        // The nhoHQ tree holds one malformed message on purpose (a stage-1 error, exit 1);
        // the verdict on what was written must still be clean.
        assert!(
            o.status.success() || (i == 1 && o.status.code() == Some(1)),
            "{}: {stdout}{stderr}",
            root.display()
        );
        assert!(!stderr.contains("validation Error"), "{stderr}");
        assert_submission_clean(&sdtm, &root.display().to_string());
    }
}

/// The verdict `convert` wrote (validation.json), the datasets it left out, and a second
/// opinion from `kakehashi validate` with no flags on the folder.
fn assert_submission_clean(sdtm: &Path, what: &str) {
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sdtm.join("validation.json")).unwrap()).unwrap();
    assert!(report["counts"].get("Error").is_none(), "{what}: {report}");
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sdtm.join("report.json")).unwrap()).unwrap();
    for d in run["datasets"].as_array().unwrap() {
        assert!(d["records"].as_u64().unwrap() > 0, "no empty dataset: {d}");
    }
    let define = std::fs::read_to_string(sdtm.join("define.xml")).unwrap();
    for e in run["datasets_without_records"].as_array().unwrap() {
        let name = e.as_str().unwrap();
        assert!(!sdtm.join(format!("{}.xpt", name.to_lowercase())).exists());
        assert!(!define.contains(&format!("Name=\"{name}\"")));
    }
    let v = Command::new(common::bin())
        .args(["validate", sdtm.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        v.status.code(),
        Some(0),
        "{what}: {}",
        String::from_utf8_lossy(&v.stdout)
    );
}

/// Issue 12: a 2,000-patient synthetic archive, both stages, is submission-clean; every
/// subject with an index date has a DS record (CORE-000296), every dose a unit (CORE-000093).
#[test]
fn issue12_a_2000_patient_synth_archive_converts_submission_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let out = tmp.path().join("o");
    let s = Command::new(common::bin())
        .args(["synth", "--patients", "2000", "-o", root.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(s.status.success(), "{}", String::from_utf8_lossy(&s.stderr));
    let o = convert_minimal(&[], &root, &out, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_submission_clean(&out.join("sdtm"), "2,000-patient synth");
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("sdtm/report.json")).unwrap()).unwrap();
    let count = |name: &str| {
        run["datasets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == name)
            .and_then(|d| d["records"].as_u64())
    };
    assert_eq!(count("DM"), Some(2000));
    assert!(count("DS") >= Some(2000), "an entry record per subject");
}

/// Issue 12: a numeric result whose unit cannot be converted to its test's standard unit
/// would give one test two standard units (CORE-000699): it is listed in the reject listing
/// by code and unit, and D007 says so. (Synthea sends some eGFR results, LOINC 33914-3, per
/// 1.73 m2, in mL/min.)
#[test]
fn issue12_results_in_an_unconvertible_unit_go_to_the_reject_listing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("o");
    let o = convert_minimal(
        &["sdtm"],
        &common::shared("data/fhir/synthea-r4-sample"),
        &out,
        &["--format", "csv"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows = common::read_csv(&out.join("unmapped/lb.csv"));
    let egfr: Vec<_> = rows
        .iter()
        .filter(|r| r["test_coding"] == "LOINC:33914-3")
        .collect();
    assert_eq!(egfr.len(), 1, "{rows:?}");
    assert_eq!(
        egfr[0]["reason"],
        "unit mL/min not convertible to mL/min/{1.73_m2}"
    );
    let lb = common::read_csv(&out.join("lb.csv"));
    let units: std::collections::BTreeSet<&str> = lb
        .iter()
        .filter(|r| r["LBTESTCD"] == "GFRBSCRT")
        .map(|r| r["LBSTRESU"].as_str())
        .collect();
    assert_eq!(units.into_iter().collect::<Vec<_>>(), ["mL/min/1.73 m2"]);
    let diags = std::fs::read_to_string(out.join("diagnostics.ndjson")).unwrap();
    assert!(
        diags.contains("\"D007\"") && diags.contains("unmapped/lb.csv"),
        "{diags}"
    );
}

/// Issue 12: a lab test the terminology does not know is not written with LBTESTCD null; it
/// is counted by code in sdtm/unmapped/lb.csv (no patient values) and D003 names the table.
#[test]
fn issue12_records_missing_a_required_variable_go_to_the_reject_listing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("o");
    let o = convert_minimal(&[], &common::repo("fixtures/ssmix2"), &out, &[]);
    assert!(o.status.success());
    let rows = common::read_csv(&out.join("sdtm/unmapped/lb.csv"));
    assert!(!rows.is_empty());
    for r in &rows {
        assert_eq!(r["reason"], "missing LBTESTCD LBTEST");
        assert!(r["test_coding"].contains(':'), "a SYSTEM:code: {r:?}");
        assert!(r["records"].parse::<usize>().unwrap() > 0);
    }
    let lb: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("sdtm/lb.json")).unwrap()).unwrap();
    let at = lb["columns"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| c["name"] == "LBTESTCD")
        .unwrap();
    let rows = lb["rows"].as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(
        rows.iter()
            .all(|r| r[at].as_str().is_some_and(|s| !s.is_empty())),
        "no LB record without LBTESTCD"
    );
    let diags = std::fs::read_to_string(out.join("sdtm/diagnostics.ndjson")).unwrap();
    assert!(
        diags.contains("\"D003\"") && diags.contains("lab-tests"),
        "the diagnostic names the table: {diags}"
    );
}

/// KKH-CT and KKH-META, the built-in checks that read the SDTMIG metadata and the CT release:
/// a SEX outside the non-extensible C66731 is an Error, a character LBSTRESC outside the
/// extensible C102580 a Warning, a numeric LBSTRESC is not a coded value, a variable the
/// domain does not define a Warning, and a character AGE a type Error.
#[test]
fn standard_metadata_checks_ct_and_variables() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(
        d.join("_datasets.csv"),
        "Filename,Label\ndm,Demographics\nlb,Laboratory Test Results\n",
    )
    .unwrap();
    std::fs::write(
        d.join("_variables.csv"),
        "dataset,variable,label,type,length\n\
         dm,STUDYID,Study Identifier,Char,8\ndm,DOMAIN,Domain Abbreviation,Char,2\n\
         dm,USUBJID,Unique Subject Identifier,Char,8\ndm,SEX,Sex,Char,1\n\
         dm,AGE,Age,Char,2\ndm,HOSPNAME,Hospital,Char,8\n\
         lb,STUDYID,Study Identifier,Char,8\nlb,DOMAIN,Domain Abbreviation,Char,2\n\
         lb,USUBJID,Unique Subject Identifier,Char,8\nlb,LBSEQ,Sequence Number,Num,8\n\
         lb,LBSTRESC,Character Result/Finding in Std Format,Char,8\n",
    )
    .unwrap();
    std::fs::write(
        d.join("dm.csv"),
        "STUDYID,DOMAIN,USUBJID,SEX,AGE,HOSPNAME\nS1,DM,S1-1,F,40,X\nS1,DM,S1-2,W,41,Y\n",
    )
    .unwrap();
    std::fs::write(
        d.join("lb.csv"),
        "STUDYID,DOMAIN,USUBJID,LBSEQ,LBSTRESC\nS1,LB,S1-1,1,5.2\nS1,LB,S1-1,2,AB\nS1,LB,S1-1,3,NEGATIVE\n",
    )
    .unwrap();
    let o = Command::new(common::bin())
        .args([
            "validate",
            d.to_str().unwrap(),
            "--sdtmig",
            common::shared("reference/sdtmig-3.4").to_str().unwrap(),
            "--ct",
            common::shared("reference/cdisc-ct/SDTM_Terminology.txt")
                .to_str()
                .unwrap(),
            "--format",
            "csv",
        ])
        .output()
        .unwrap();
    let csv = String::from_utf8_lossy(&o.stdout);
    let ours: Vec<&str> = csv.lines().filter(|l| l.contains(",KKH-")).collect();
    assert!(
        ours.iter()
            .any(|l| l.starts_with("DM,2,SEX,W,KKH-CT,Error")),
        "{csv}"
    );
    assert!(
        ours.iter()
            .any(|l| l.starts_with("LB,2,LBSTRESC,AB,KKH-CT,Warning")),
        "{csv}"
    );
    assert!(
        !ours
            .iter()
            .any(|l| l.contains(",5.2,") || l.contains(",NEGATIVE,")),
        "{csv}"
    );
    assert!(
        ours.iter()
            .any(|l| l.starts_with("DM,,HOSPNAME,,KKH-META,Warning")),
        "{csv}"
    );
    assert!(
        ours.iter()
            .any(|l| l.starts_with("DM,,AGE,Char,KKH-META,Error")),
        "{csv}"
    );
    assert!(!ours.iter().any(|l| l.contains("SEX,F,")), "{csv}");
    assert_eq!(o.status.code(), Some(1), "Errors found → exit 1");
}

/// Issue 12 (found by comparing with CDISC CORE on the CDISC pilot): a one-to-one check
/// (CORE-000184, --BODSYS ↔ --BDSYCD) is broken by a value that goes with two values, or
/// with a value and an empty one; a code that is empty everywhere breaks nothing. Before the
/// fix every pilot AE record was reported, because all body systems shared the empty code.
#[test]
fn issue12_an_empty_code_does_not_break_a_one_to_one_relationship() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(
        d.join("_datasets.csv"),
        "Filename,Label\nae,Adverse Events\n",
    )
    .unwrap();
    std::fs::write(
        d.join("_variables.csv"),
        "dataset,variable,label,type,length\n\
         ae,STUDYID,Study Identifier,Char,8\nae,DOMAIN,Domain Abbreviation,Char,2\n\
         ae,USUBJID,Unique Subject Identifier,Char,8\nae,AESEQ,Sequence Number,Num,8\n\
         ae,AETERM,Reported Term for the Adverse Event,Char,20\n\
         ae,AEBODSYS,Body System or Organ Class,Char,40\n\
         ae,AEBDSYCD,Body System or Organ Class Code,Num,8\n",
    )
    .unwrap();
    let write = |rows: &str| {
        std::fs::write(
            d.join("ae.csv"),
            format!("STUDYID,DOMAIN,USUBJID,AESEQ,AETERM,AEBODSYS,AEBDSYCD\n{rows}"),
        )
        .unwrap();
        let o = Command::new(common::bin())
            .args(["validate", d.to_str().unwrap(), "--format", "csv"])
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        out.lines()
            .filter(|l| l.contains(",CORE-000184,"))
            .map(|l| l.split(',').nth(1).unwrap_or("").to_owned())
            .collect::<std::collections::BTreeSet<_>>()
    };
    let uncoded = write(
        "S,AE,S-1,1,HEADACHE,Nervous system disorders,\n\
         S,AE,S-1,2,RASH,Skin and subcutaneous tissue disorders,\n",
    );
    assert!(uncoded.is_empty(), "{uncoded:?}");
    let broken = write(
        "S,AE,S-1,1,HEADACHE,Nervous system disorders,10029205\n\
         S,AE,S-1,2,DIZZINESS,Nervous system disorders,10040785\n\
         S,AE,S-1,3,RASH,Skin and subcutaneous tissue disorders,10040785\n\
         S,AE,S-1,4,ITCH,Skin and subcutaneous tissue disorders,\n",
    );
    assert_eq!(
        broken.into_iter().collect::<Vec<_>>(),
        ["1", "2", "3", "4"],
        "a system with two codes, a code with two systems, a system with a code and none"
    );
}
