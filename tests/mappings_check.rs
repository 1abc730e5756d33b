//! `kakehashi mappings check`: the embedded mappings are clean, and each kind of mistake in
//! an override folder is caught with its code and `file:line:col`.

mod common;

use kakehashi::mapping::MappingSet;

fn check(files: &[(&str, &str)]) -> Vec<(String, usize, usize)> {
    let dir = tempfile::tempdir().unwrap();
    for (rel, text) in files {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    match MappingSet::load(Some(dir.path())) {
        Ok(_) => Vec::new(),
        Err(d) => d
            .iter()
            .map(|d| {
                (
                    d.code.to_owned(),
                    d.location.line.unwrap_or(0),
                    d.location.column.unwrap_or(0),
                )
            })
            .collect(),
    }
}

#[test]
fn embedded_mappings_are_clean() {
    let set = MappingSet::load(None).unwrap_or_else(|d| {
        panic!(
            "{}",
            d.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    assert!(set.maps.contains_key("PID-Patient"));
    assert!(set.tables.contains_key("coding-systems"));
}

#[test]
fn an_override_adds_local_codes_without_forking() {
    let set = MappingSet::load(Some(std::path::Path::new("/nonexistent")))
        .err()
        .unwrap();
    assert_eq!(set[0].code, "M200");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("codes")).unwrap();
    std::fs::write(dir.path().join("codes/coding-systems.yaml"), "kind: codes\nname: coding-systems\ncodes:\n  JC10: http://medis.or.jp/CodeSystem/master-JLAC10-17digits\n  99XYZ: http://hospital.example/CodeSystem/lab\n").unwrap();
    let set = MappingSet::load(Some(dir.path())).unwrap();
    assert_eq!(
        set.tables["coding-systems"].codes["99XYZ"],
        "http://hospital.example/CodeSystem/lab"
    );
    assert!(set
        .files
        .values()
        .any(|o| o.contains(&dir.path().display().to_string())));
}

#[test]
fn each_mistake_is_located() {
    let seg = "kind: segment\nname: PID-Patient\nresource: Patient\nrows:\n  - to: gendr\n    from: PID-8\n  - to: name\n    from: PID-5[*]\n    via: XPN-HumanName\n  - to: birthDate\n    from: PID-45\n  - to: address[+]\n    from: PID-11\n    via: XTN-ContactPoint\n  - to: gender\n    from: PID-8\n    table: nope\n  - to: telecom[+]\n    from: PID-13\n    rows:\n      - to: value\n        from: .12\n  - to: text\n    value: x\n";
    let got = check(&[("segments/PID-Patient.yaml", seg)]);
    for want in [
        ("M213", 5, 5),
        ("M213", 7, 5),
        ("M214", 10, 5),
        ("M210", 12, 5),
        ("M211", 15, 5),
        ("M213", 23, 5),
    ] {
        assert!(
            got.contains(&(want.0.to_owned(), want.1, want.2)),
            "missing {want:?} in {got:?}"
        );
    }
}

#[test]
fn schema_yaml_and_name_errors() {
    let got = check(&[(
        "codes/local.yaml",
        "kind: codes\nname: wrong\ncodes: {A: b}\n",
    )]);
    assert!(got.contains(&("M203".into(), 2, 1)), "{got:?}");
    let got = check(&[("codes/x.yaml", "kind: codes\nname: x\ncodes: [1, 2\n")]);
    assert_eq!(got[0].0, "M201");
    let got = check(&[("segments/y.yaml", "kind: segment\nname: y\nresource: Patient\nrows:\n  - to: gender\n    from: PID-8\n    bogus: 1\n")]);
    assert_eq!(got, vec![("M202".to_owned(), 5, 5)]);
    let got = check(&[("messages/z.yaml", "kind: message\nname: z\ndata_types: [OML-11]\nmessage_types: [\"OUL^R22\"]\nproduce:\n  - map: OBX-Observation-Lab\n    each: SPECIMEN/RESULT\n    id: \"{pid}.{nope}\"\n")]);
    let codes: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
    assert!(
        codes.contains(&"M215") && codes.contains(&"M216"),
        "{got:?}"
    );
}

#[test]
fn cli_mappings_check_exit_codes() {
    let ok = std::process::Command::new(common::bin())
        .args(["mappings", "check"])
        .output()
        .unwrap();
    assert!(ok.status.success());
    assert!(String::from_utf8_lossy(&ok.stdout).starts_with("ok: "));
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("codes")).unwrap();
    std::fs::write(
        dir.path().join("codes/bad.yaml"),
        "kind: codes\nname: bad\n",
    )
    .unwrap();
    let bad = std::process::Command::new(common::bin())
        .args(["mappings", "check", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("error[M202]") && err.contains("bad.yaml:1:1"),
        "{err}"
    );
}

#[test]
fn jami_conceptmap_coverage_figure() {
    let set = MappingSet::load(None).unwrap();
    let cov = kakehashi::mapping::coverage::jami_coverage(
        &common::shared("reference/jami-ssmix2-to-fhir/source-conceptmapgen/fsh"),
        &set,
    )
    .unwrap();
    assert_eq!(cov.files.len(), 45);
    assert_eq!(cov.total, cov.files.iter().map(|f| f.total).sum::<usize>());
    assert!(cov
        .files
        .iter()
        .all(|f| f.implemented + f.missing.len() == f.total));
    println!(
        "JAMI ConceptMap rows implemented: {}/{}",
        cov.implemented, cov.total
    );
    // The figure recorded in the README; it may only grow.
    assert!(
        cov.implemented >= 328,
        "coverage fell to {}/{}",
        cov.implemented,
        cov.total
    );
    let pid = cov
        .files
        .iter()
        .find(|f| f.file == "Segment PID to Patient")
        .unwrap();
    assert!(
        !pid.missing
            .iter()
            .any(|m| m.starts_with("PID-5") || m.starts_with("NK1-2")),
        "{:?}",
        pid.missing
    );
    let status = cov
        .files
        .iter()
        .find(|f| f.file == "Table v2-0003 to EncounterStatus")
        .unwrap();
    assert_eq!(status.implemented, status.total, "{:?}", status.missing);
}

#[test]
fn every_mapping_example_runs() {
    let set = MappingSet::load(None).unwrap();
    let results = kakehashi::mapping::examples::run_examples(&set);
    let failures: Vec<String> = results
        .iter()
        .filter_map(|r| {
            r.failure
                .as_ref()
                .map(|f| format!("{} — {} ({}): {f}", r.map, r.title, r.pos))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // One map, one example at least: every segment and datatype map documents itself.
    for (name, m) in &set.maps {
        assert!(!m.examples.is_empty(), "{name} has no example");
    }
}

#[test]
fn a_wrong_example_fails_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("datatypes")).unwrap();
    let text = std::fs::read_to_string(common::repo(
        "mappings/ssmix2/datatypes/XTN-ContactPoint.yaml",
    ))
    .unwrap()
    .replace("value: 054-000-0000", "value: 054-999-9999");
    std::fs::write(dir.path().join("datatypes/XTN-ContactPoint.yaml"), text).unwrap();
    let out = std::process::Command::new(common::bin())
        .args(["mappings", "test", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("FAIL  XTN-ContactPoint — home phone number in XTN.12"),
        "{text}"
    );
    assert!(
        text.contains("XTN-ContactPoint.yaml:")
            && text.contains("ContactPoint.value is \"054-000-0000\", expected \"054-999-9999\""),
        "{text}"
    );
}

#[test]
fn cli_mappings_check_covers_the_sdtm_stage_too() {
    let ok = std::process::Command::new(common::bin())
        .args(["mappings", "check"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(
        out.contains("ok: FHIR → SDTM: ") && out.contains("12 domains"),
        "{out}"
    );
    // A broken SDTM file inside DIR/sdtm fails the same command, located.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("sdtm/terminology")).unwrap();
    std::fs::write(
        dir.path().join("sdtm/terminology/sex.yaml"),
        "kind: sdtm-terminology\nname: sex\nfields: [SEX]\nentries:\n  - [male]\n",
    )
    .unwrap();
    let bad = std::process::Command::new(common::bin())
        .args(["mappings", "check", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("error[M302]") && err.contains("sex.yaml:5:5"),
        "{err}"
    );
}

/// A site override that forgets a required element (Observation.status, which the R4 JSON
/// Schema cannot require): every such resource is reported (F005, located, no values) and
/// not written; the rest of the run goes on and the exit code says it failed.
#[test]
fn a_resource_missing_a_required_primitive_is_not_written() {
    let original = std::fs::read_to_string(common::repo(
        "mappings/ssmix2/segments/OBX-Observation-Lab.yaml",
    ))
    .unwrap();
    let without_status = original
        .replace(
            "  - to: status\n    from: OBX-11\n    table: v2-0085-observation-status\n  - to: status\n    when: { from: OBX-11, present: false }\n    value: final\n",
            "",
        );
    assert_ne!(without_status, original, "the status rows were removed");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("segments")).unwrap();
    std::fs::write(
        dir.path().join("segments/OBX-Observation-Lab.yaml"),
        without_status,
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = std::process::Command::new(common::bin())
        .args([
            "convert",
            "fhir",
            common::repo("fixtures/ssmix2").to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--mappings",
            dir.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let diags = std::fs::read_to_string(out.join("diagnostics.ndjson")).unwrap();
    let f005: Vec<&str> = diags.lines().filter(|l| l.contains("\"F005\"")).collect();
    assert!(!f005.is_empty());
    assert!(
        f005.iter()
            .all(|l| l.contains("Observation.status is required but missing")
                && l.contains("OML-11")),
        "{f005:?}"
    );
    let obs = std::fs::read_to_string(out.join("Observation.ndjson")).unwrap_or_default();
    assert!(
        obs.lines().all(|l| l.contains("\"status\"")),
        "no Observation without status is written"
    );
    assert!(out.join("Patient.ndjson").exists(), "the rest converts");
}

/// Issue 3: a message file may claim a profile per `produce` entry (one IPC map serves the
/// radiology and the endoscopy ImagingStudy profiles); a profile of another resource type
/// is caught before any data is read (M218), at the entry.
#[test]
fn issue3_a_produce_profile_of_the_wrong_resource_is_located() {
    let msg = "kind: message\nname: OMG-executions\ndata_types: [OMG-11, OMG-12]\nmessage_types: [\"OMI^Z23\"]\nproduce:\n  - map: IPC-ImagingStudy\n    each: IPC\n    id: \"{pid}.study.{IPC-3}\"\n    profile: http://jpfhir.jp/fhir/core/StructureDefinition/JP_ImagingStudy_Radiology\n  - map: IPC-ImagingStudy\n    each: IPC\n    id: \"{pid}.study2.{IPC-3}\"\n    profile: http://jpfhir.jp/fhir/core/StructureDefinition/JP_Procedure\n";
    let got = check(&[("messages/OMG-executions.yaml", msg)]);
    assert_eq!(got, [("M218".to_owned(), 10, 5)], "{got:?}");
}
