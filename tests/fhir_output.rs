//! Stage 1 output checked by software we did not write (the official R4 JSON Schema via
//! jsonschema, and @medplum/core) plus our own invariants over every resource: ids valid and
//! unique, references resolve, no empty elements, dateTimes carry an offset, and the output
//! is byte-identical whatever the thread count.

mod common;

use kakehashi::fhir::{convert_storage, FhirOptions};
use kakehashi::mapping::MappingSet;
use kakehashi::ssmix2::{StatePolicy, Storage};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn roots() -> Vec<PathBuf> {
    vec![
        common::shared("data/ssmix2/nhoHQ__SSMIX2DataTestingTool/sampleData"),
        common::shared("data/ssmix2/yuakagi__ssmixtwins-generated/standard_root"),
        common::repo("fixtures/ssmix2"),
    ]
}

fn convert(out: &Path, threads: usize) -> kakehashi::fhir::FhirRun {
    let set = MappingSet::load(None).expect("embedded mappings load");
    let storage = Storage::open(&roots());
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(|| {
            convert_storage(
                &storage,
                &set,
                &StatePolicy::default(),
                &FhirOptions::default(),
                out,
                |_| {},
            )
            .unwrap()
        })
}

/// Converted once for all tests of this file.
fn output() -> &'static (PathBuf, BTreeMap<String, Vec<Value>>) {
    static OUT: OnceLock<(PathBuf, BTreeMap<String, Vec<Value>>)> = OnceLock::new();
    OUT.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("kakehashi-fhir-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        convert(&dir, 2);
        let mut by_type = BTreeMap::new();
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if !name.ends_with(".ndjson") || name == "diagnostics.ndjson" {
                continue;
            }
            let rows: Vec<Value> = std::fs::read_to_string(&p)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            by_type.insert(name.trim_end_matches(".ndjson").to_owned(), rows);
        }
        (dir, by_type)
    })
}

#[test]
fn every_resource_is_valid_against_the_r4_json_schema() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(common::shared("schemas/fhir.schema.json")).unwrap(),
    )
    .unwrap();
    let (_, by_type) = output();
    assert!(by_type.len() >= 5, "{:?}", by_type.keys());
    let mut checked = 0;
    for (t, rows) in by_type {
        // A validator rooted at the type gives precise messages (the root oneOf does not).
        let mut rooted = schema.clone();
        rooted.as_object_mut().unwrap().remove("oneOf");
        rooted["$ref"] = Value::String(format!("#/definitions/{t}"));
        let v = jsonschema::validator_for(&rooted).unwrap();
        for r in rows {
            let errs: Vec<String> = v
                .iter_errors(r)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            assert!(errs.is_empty(), "{t}/{}: {errs:?}", r["id"]);
            checked += 1;
        }
    }
    assert!(checked > 300, "{checked}");
}

fn walk<'a>(v: &'a Value, path: String, f: &mut impl FnMut(&str, &'a Value)) {
    f(&path, v);
    match v {
        Value::Object(o) => o
            .iter()
            .for_each(|(k, x)| walk(x, format!("{path}.{k}"), f)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| walk(x, format!("{path}[{i}]"), f)),
        _ => {}
    }
}

#[test]
fn invariants_ids_references_no_empty_elements_offsets() {
    let (_, by_type) = output();
    let mut ids = HashSet::new();
    for (t, rows) in by_type {
        for r in rows {
            let id = r["id"].as_str().unwrap();
            assert!(
                id.len() <= 64
                    && id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'),
                "{id}"
            );
            assert!(ids.insert(format!("{t}/{id}")), "duplicate {t}/{id}");
        }
    }
    let mut unresolved = Vec::new();
    for (t, rows) in by_type {
        for r in rows {
            walk(r, t.clone(), &mut |path, v| {
                match v {
                    Value::Object(o) => assert!(!o.is_empty(), "empty object at {path}"),
                    Value::Array(a) => assert!(!a.is_empty(), "empty array at {path}"),
                    Value::String(s) => assert!(!s.trim().is_empty(), "empty string at {path}"),
                    Value::Null => panic!("null at {path}"),
                    _ => {}
                }
                if path.ends_with(".reference") {
                    let target = v.as_str().unwrap();
                    if !ids.contains(target) {
                        unresolved.push(format!("{path} -> {target}"));
                    }
                }
                if (path.ends_with("DateTime")
                    || path.ends_with(".start")
                    || path.ends_with(".end")
                    || path.ends_with("recordedDate"))
                    && v.as_str().is_some_and(|s| s.contains('T'))
                {
                    let s = v.as_str().unwrap();
                    assert!(
                        s.ends_with("+09:00"),
                        "{path} = {s}: times without an offset get +09:00"
                    );
                }
            });
        }
    }
    // A reference that does not resolve must have been reported (F004): here only the
    // deliberately broken JAMI folder has a patient without ADT-00.
    let (dir, _) = output();
    let diags = std::fs::read_to_string(dir.join("diagnostics.ndjson")).unwrap();
    for u in &unresolved {
        // Reported by target type, located at the patient's storage (never the id itself).
        let target = u.split(" -> ").nth(1).unwrap();
        let (kind, id) = target.split_once('/').unwrap();
        let pid = id.split('.').next().unwrap();
        assert!(
            diags.lines().any(|l| l.contains("\"F004\"")
                && l.contains(&format!("to {kind} do not resolve"))
                && l.contains(&format!("/{pid}/"))),
            "unreported dangling reference {u}"
        );
    }
    assert!(
        unresolved.iter().all(|u| u.contains("Patient/0000001.")),
        "{unresolved:#?}"
    );
}

#[test]
fn deterministic_whatever_the_thread_count() {
    let (dir, _) = output();
    let other = std::env::temp_dir().join(format!("kakehashi-fhir-test-1t-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&other);
    convert(&other, 1);
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap();
        assert_eq!(
            std::fs::read(&p).unwrap(),
            std::fs::read(other.join(name)).unwrap(),
            "{name:?} differs between 1 and 2 threads"
        );
    }
}

#[test]
fn japanese_names_decimals_and_codes_survive() {
    let (_, by_type) = output();
    let p = by_type["Patient"]
        .iter()
        .find(|p| p["id"] == "9999013.ADT-00")
        .expect("JAMI sample patient");
    assert_eq!(p["name"][0]["family"], "患者");
    assert_eq!(p["name"][1]["given"][0], "タロウ");
    assert_eq!(p["name"][0]["extension"][0]["valueCode"], "IDE");
    assert_eq!(p["name"][1]["extension"][0]["valueCode"], "SYL");
    assert_eq!(p["gender"], "male");
    assert_eq!(p["birthDate"], "1948-04-05");
    let obs = &by_type["Observation"];
    let h = obs
        .iter()
        .find(|o| {
            o["id"].as_str().unwrap().starts_with("9999013.ADT-00.OBX")
                && o["code"]["coding"][0]["code"] == "9N001000000000001"
        })
        .unwrap();
    assert_eq!(
        h["valueQuantity"]["value"].to_string(),
        "167.8",
        "decimals keep their source text"
    );
    assert_eq!(h["valueQuantity"]["code"], "cm");
    let lab = obs
        .iter()
        .find(|o| {
            o["code"]["coding"][0]["code"] == "3A010000002327101"
                && o["id"].as_str().unwrap().starts_with("9999013")
        })
        .unwrap();
    assert_eq!(
        lab["code"]["coding"][0]["system"],
        "http://medis.or.jp/CodeSystem/master-JLAC10-17digits"
    );
    assert_eq!(lab["valueQuantity"]["value"].to_string(), "7.2");
    assert_eq!(lab["referenceRange"][0]["text"], "6.70-8.3");
    let c = by_type["Condition"]
        .iter()
        .find(|c| c["id"].as_str().unwrap().starts_with("9999013"))
        .unwrap();
    let systems: Vec<&str> = c["code"]["coding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["system"].as_str().unwrap())
        .collect();
    assert_eq!(
        systems,
        [
            "http://medis.or.jp/CodeSystem/master-disease-keyNumber",
            "http://medis.or.jp/CodeSystem/master-disease-exCode",
            "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/ICD10-2013-full"
        ]
    );
    assert_eq!(
        c["code"]["coding"][2]["code"], "K297",
        "ICD-10 2013 stays dotless"
    );
}

#[test]
fn unmapped_data_types_are_reported_never_dropped() {
    // ADT-01 (attending-doctor change) has no message map yet.
    let dir = tempfile::tempdir().unwrap();
    let name = "1234567_-_ADT-01_999999999999999_20240101100000000_-_1";
    let p = dir.path().join("123/456/1234567/-/ADT-01").join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, "MSH|^~\\&|A|B|GW|RCV|20240101100000||ADT^A54^ADT_A54|C7|P|2.5\rEVN||20240101\rPID|0001||1234567||患者^太郎\rPV1|0001|O\r").unwrap();
    let out = dir.path().join("out");
    let set = MappingSet::load(None).unwrap();
    let run = convert_storage(
        &Storage::open(&[dir.path().to_path_buf()]),
        &set,
        &StatePolicy::default(),
        &FhirOptions::default(),
        &out,
        |_| {},
    )
    .unwrap();
    assert_eq!((run.messages, run.messages_converted), (1, 0));
    let f001: Vec<_> = run
        .diagnostics
        .iter()
        .filter(|d| d.code == "F001")
        .collect();
    assert_eq!(f001.len(), 1);
    assert_eq!(f001[0].location.file.as_deref(), Some(p.as_path()));
    assert_eq!(f001[0].location.message_id.as_deref(), Some("C7"));
    assert!(f001[0].message.contains("ADT-01") && !f001[0].to_string().contains("患者"));
    let c: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("coverage.json")).unwrap()).unwrap();
    assert_eq!(c["data_types"]["ADT-01"]["converted"], 0);
    assert_eq!(
        c["data_types"]["ADT-01"]["fields"]["PID-5"],
        serde_json::json!([1, 0])
    );
}

#[test]
fn diagnostics_carry_locations_never_patient_values() {
    let (dir, _) = output();
    let diags: Vec<Value> = std::fs::read_to_string(dir.join("diagnostics.ndjson"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!diags.is_empty());
    for d in &diags {
        assert!(d["location"]["file"].is_string(), "{d}");
        let text = d.to_string();
        assert!(
            !text.contains("患者") && !text.contains("カンジャ"),
            "{text}"
        );
    }
}

#[test]
fn accepted_by_medplum_and_the_r4_schema_validator() {
    // ../shared/tools/fhir_validate_node.js with @medplum/core and the official R4 JSON schema,
    // installed from the npm registry into target/ on first use.
    let tools = common::repo("target/node-tools");
    if !tools.join("node_modules/@medplum/core").exists() {
        std::fs::create_dir_all(&tools).unwrap();
        for e in std::fs::read_dir(common::shared("tools")).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, tools.join(p.file_name().unwrap())).unwrap();
        }
        let st = std::process::Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--silent"])
            .current_dir(&tools)
            .status()
            .expect("npm is needed for this test (Node.js 20 + npm)");
        assert!(st.success(), "npm install of the checker failed");
    }
    let (dir, _) = output();
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            !p.ends_with("diagnostics.ndjson") && p.extension().is_some_and(|x| x == "ndjson")
        })
        .collect();
    let out = std::process::Command::new("node")
        .arg(tools.join("fhir_validate_node.js"))
        .args(["--engine", "both"])
        .args(&files)
        .output()
        .expect("node");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("@medplum/core") && text.contains("invalid=0"),
        "{text}"
    );
    assert!(
        !text.contains("invalid=1")
            && !text
                .lines()
                .any(|l| l.contains("invalid=") && !l.contains("invalid=0")),
        "{text}"
    );
}

#[test]
fn every_generated_data_type_converts() {
    let (dir, by_type) = output();
    let diags = std::fs::read_to_string(dir.join("diagnostics.ndjson")).unwrap();
    let fixture_unmapped: Vec<&str> = diags
        .lines()
        .filter(|l| l.contains("\"F001\"") && l.contains("fixtures/ssmix2"))
        .collect();
    assert!(fixture_unmapped.is_empty(), "{fixture_unmapped:#?}");
    for t in [
        "Patient",
        "Observation",
        "Encounter",
        "Condition",
        "AllergyIntolerance",
        "Coverage",
        "MedicationRequest",
        "MedicationAdministration",
        "ServiceRequest",
        "Specimen",
        "DiagnosticReport",
    ] {
        assert!(by_type.get(t).is_some_and(|v| !v.is_empty()), "no {t}");
    }
    let vs = by_type["Observation"]
        .iter()
        .find(|o| o["category"][0]["coding"][0]["code"] == "vital-signs")
        .expect("vital signs");
    assert!(
        vs["code"]["coding"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["system"] == "http://loinc.org"),
        "vital signs keep their LOINC coding"
    );
}

#[test]
fn every_run_writes_a_coverage_report() {
    let (dir, _) = output();
    let c: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("coverage.json")).unwrap()).unwrap();
    let lab = &c["data_types"]["OML-11"];
    assert_eq!(lab["messages"], lab["converted"]);
    let obx5 = lab["fields"]["OBX-5"].as_array().unwrap();
    assert!(
        obx5[0].as_u64().unwrap() > 0 && obx5[0] == obx5[1],
        "every OBX-5 is read: {obx5:?}"
    );
    assert_eq!(
        lab["fields"]["MSH-3"][1], 0,
        "MSH-3 is present and not read by any mapping"
    );
    // Every message of the shared samples and the fixture converts, except the one
    // deliberately broken file that is not HL7 at all.
    let total: u64 = c["data_types"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v["messages"].as_u64().unwrap() - v["converted"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 0, "{c}");
    // The ssmixtwins unit "g/dl" style is known; codes no table knew are listed by table.
    assert!(c["unmapped_codes"].is_object());
}

#[test]
fn bundles_put_current_and_delete_deleted_records_and_history_keeps_versions() {
    let dir = tempfile::tempdir().unwrap();
    let synth = dir.path().join("ssmix2");
    kakehashi::synth::generate(
        &kakehashi::synth::SynthOptions {
            patients: 40,
            seed: 3,
            ..Default::default()
        },
        &synth,
    )
    .unwrap();
    let out = dir.path().join("fhir");
    common::convert_all(&[synth], &out);
    let mut puts = 0;
    let mut deletes = Vec::new();
    for e in std::fs::read_dir(out.join("bundles")).unwrap() {
        let b: Value = serde_json::from_slice(&std::fs::read(e.unwrap().path()).unwrap()).unwrap();
        assert_eq!(b["type"], "transaction");
        for entry in b["entry"].as_array().unwrap() {
            match entry["request"]["method"].as_str().unwrap() {
                "PUT" => {
                    puts += 1;
                    let r = &entry["resource"];
                    assert_eq!(
                        entry["request"]["url"],
                        format!(
                            "{}/{}",
                            r["resourceType"].as_str().unwrap(),
                            r["id"].as_str().unwrap()
                        )
                    );
                }
                "DELETE" => deletes.push(entry["request"]["url"].as_str().unwrap().to_owned()),
                m => panic!("{m}"),
            }
        }
    }
    let current: usize = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "ndjson") && !p.ends_with("diagnostics.ndjson")
        })
        .map(|p| std::fs::read_to_string(p).unwrap().lines().count())
        .sum();
    assert_eq!(puts, current, "every current resource is PUT");
    // The generator cancels some prescriptions (OMP-01, flag 0) and admissions (ADT-22).
    assert!(
        deletes.iter().any(|d| d.starts_with("MedicationRequest/")),
        "{deletes:?}"
    );
    assert!(
        deletes
            .iter()
            .any(|d| d.starts_with("Encounter/") && d.contains(".ADT-22.")),
        "{deletes:?}"
    );
    // History: preliminary lab results (flag 2) with their SS-MIX2 timestamp as versionId.
    let hist = std::fs::read_to_string(out.join("history/Observation.ndjson")).unwrap();
    let first: Value = serde_json::from_str(hist.lines().next().unwrap()).unwrap();
    assert_eq!(first["meta"]["versionId"].as_str().unwrap().len(), 17);
    assert!(hist.lines().any(|l| l.contains("\"preliminary\"")));
}

#[test]
fn a_problem_missing_from_the_newest_ppr01_snapshot_is_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let put = |name: &str, text: &str| {
        let f = kakehashi::ssmix2::FileName::parse(name).unwrap().0;
        let d = f.expected_dirs();
        let p = dir.path().join(format!(
            "{}/{}/{}/{}/{}/{name}",
            d[0], d[1], d[2], d[3], d[4]
        ));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text.replace('\n', "\r")).unwrap();
    };
    let ppr = |ctrl: &str, problems: &[&str]| {
        let mut t = format!("MSH|^~\\&|A|B|GW|RCV|20240101100000||PPR^ZD1^PPR_ZD1|{ctrl}|P|2.5\nPID|0001||1234567\n");
        for p in problems {
            t.push_str(&format!("PRB|AD|20240101|{p}^^MDCDX2|1\nORC|NW|1\n"));
        }
        t
    };
    put("1234567_-_ADT-00_999999999999999_20240101090000000_-_1", "MSH|^~\\&|A|B|GW|RCV|20240101090000||ADT^A08^ADT_A01|A1|P|2.5\nEVN||20240101\nPID|0001||1234567\nPV1|0001|O");
    put(
        "1234567_-_PPR-01_000000000000001_20240101100000000_-_1",
        &ppr("P1", &["20054174", "20065004"]),
    );
    put(
        "1234567_-_PPR-01_000000000000002_20240201100000000_-_1",
        &ppr("P2", &["20054174"]),
    );
    let out = dir.path().join("out");
    let set = MappingSet::load(None).unwrap();
    let policy = StatePolicy {
        snapshot_types: vec!["ADT-00".into(), "PPR-01".into()],
    };
    let opts = FhirOptions {
        bundles: true,
        ..Default::default()
    };
    let run = convert_storage(
        &Storage::open(&[dir.path().to_path_buf()]),
        &set,
        &policy,
        &opts,
        &out,
        |_| {},
    )
    .unwrap();
    assert_eq!(
        run.resources["Condition"], 1,
        "only the newest snapshot is current"
    );
    let b: Value =
        serde_json::from_slice(&std::fs::read(out.join("bundles/1234567.json")).unwrap()).unwrap();
    let deletes: Vec<&str> = b["entry"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["request"]["method"] == "DELETE")
        .map(|e| e["request"]["url"].as_str().unwrap())
        .collect();
    assert_eq!(
        deletes.len(),
        2,
        "both problems of the older snapshot: {deletes:?}"
    );
    assert!(deletes
        .iter()
        .all(|d| d.starts_with("Condition/1234567.PPR-01.000000000000001.")));
}

/// Issue 3: every resource that claims a JP Core profile meets the constraints restated
/// from the JP Core sources (`schemas/jp-core-constraints.yaml`), and each constraint fires,
/// alone, when its declared violation is applied to a real resource that passed.
#[test]
fn issue3_jp_core_profile_constraints_hold_and_each_one_fires() {
    use kakehashi::fhir::profile;
    let (_, by_type) = output();
    // No sample holds a vaccination (OMP-12, RXE-2 = 06): one message adds an Immunization.
    let (vaccination, diags) = common::convert_text(
        "1234567_20241001_OMP-12_000000000000001_20241001100000000_01_1",
        "MSH|^~\\&|HIS|SEND|GW|RCV|20241001100000||RAS^O17^RAS_O17|1|P|2.5\nPID|0001||1234567\nORC|NW|1\nRXE||06^予防接種^JHSI0002|0.5||ML^ミリリットル^MR9P\nRXR|SC^皮下^HL70162\nRXA|0|1|20241001100000|20241001100000|999101^インフルエンザＨＡワクチン^99XYZ|1|VIL^バイアル^MR9P|||||||||||||CP\nRXR|SC^皮下^HL70162",
    );
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    assert!(vaccination
        .iter()
        .any(|r| r["resourceType"] == "Immunization"));
    // No sample holds an endoscopy execution (OMG-12, DICOM modality ES) either.
    let (endoscopy, diags) = common::convert_text(
        "1234567_20241002_OMG-12_000000000000002_20241002100000000_01_1",
        "MSH|^~\\&|HIS|SEND|GW|RCV|20241002100000||OMI^Z23^OMI_Z23|2|P|2.5\nPID|0001||1234567\nORC|NW|000000000000002|||||||20241002090000\nOBR||000000000000002||99B000000000000^上部消化管内視鏡検査^JJ1017|||20241002\nIPC|E202410020001|P5678|1.2.392.1114.20045.43233.5.400001||ES^^DCM",
    );
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    assert!(endoscopy.iter().any(|r| r["meta"]["profile"][0]
        == "http://jpfhir.jp/fhir/core/StructureDefinition/JP_ImagingStudy_Endoscopy"));
    let all: Vec<&Value> = by_type
        .values()
        .flatten()
        .chain(&vaccination)
        .chain(&endoscopy)
        .collect();
    let mut claimed = 0;
    for r in &all {
        let broken = profile::violations(r);
        if r["meta"]["profile"].is_array() {
            claimed += 1;
        }
        // The one known gap: an ORC-4 of a bare Rp number (shared JAHIS sample) does not
        // say the order within the Rp, and none is invented.
        let bare_rp = r["identifier"].as_array().into_iter().flatten().any(|i| {
            i["system"] == "http://jpfhir.jp/fhir/core/mhlw/IdSystem/Medication-RPGroupNumber"
                && i["value"]
                    .as_str()
                    .is_some_and(|v| v.bytes().all(|b| b.is_ascii_digit()))
        });
        let expected: &[&str] = if bare_rp {
            &["jp-medreq-order-in-rp"]
        } else {
            &[]
        };
        assert_eq!(broken, expected, "{}/{}", r["resourceType"], r["id"]);
    }
    assert!(claimed > 300, "{claimed} resources claim a profile");
    // Every profile the output claims has its constraints restated (JP_Specimen_Common
    // adds none to R4).
    let covered: HashSet<&str> = profile::constraints()
        .iter()
        .flat_map(|c| c.profiles.iter().map(String::as_str))
        .chain(["JP_Specimen_Common"])
        .collect();
    for r in &all {
        if let Some(p) = r["meta"]["profile"][0].as_str() {
            let name = p.rsplit('/').next().unwrap();
            assert!(
                covered.contains(name),
                "{name} is claimed but has no constraints"
            );
        }
    }
    assert_eq!(profile::constraints().len(), profile::declared());
    for c in profile::constraints() {
        let base = all
            .iter()
            .find(|r| {
                let p = r["meta"]["profile"][0].as_str().unwrap_or("");
                c.profiles.iter().any(|x| p.ends_with(&format!("/{x}")))
                    && profile::violations(r).is_empty()
            })
            .unwrap_or_else(|| panic!("{}: no output resource to test it on", c.id));
        let mut bad = (*base).clone();
        let obj = bad.as_object_mut().unwrap();
        let v = &c.violation;
        if let Some(k) = v["remove"].as_str() {
            assert!(
                obj.remove(k).is_some(),
                "{}: {k} absent from the base",
                c.id
            );
        }
        if let Some(prefix) = v["remove_prefix"].as_str() {
            obj.retain(|k, _| !k.starts_with(prefix));
        }
        if let Some([arr, key, val]) = v["remove_where"].as_array().map(Vec::as_slice) {
            let a = obj[arr.as_str().unwrap()].as_array_mut().unwrap();
            let before = a.len();
            a.retain(|x| &x[key.as_str().unwrap()] != val);
            assert!(a.len() < before, "{}: nothing to remove", c.id);
        }
        if let Some(set) = v["set"].as_object() {
            for (k, x) in set {
                obj.insert(k.clone(), x.clone());
            }
        }
        assert_eq!(
            profile::violations(&bad),
            [c.id.as_str()],
            "{} ({})",
            c.id,
            c.source
        );
    }
}
