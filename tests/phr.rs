//! Home and smart-device measurements (issue 14): a year of `synth-phr` readings as Bulk
//! NDJSON, converted to SDTM, checked against the generator's own numbers — every reading
//! one VS record with its test code, time to the second and value, flagged self-measured in
//! SUPPVS, body-composition codes in define.xml as extended terms, and the datasets clean
//! under the full default validation. Body water in % takes the percentage test, blood
//! pressure timed on waking or before sleep carries VSTPT/VSTPTNUM, and the scale vendor's
//! own codes (visceral-fat level, bone mass) reach VS once a site table names them.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kakehashi::synth::phr::{generate, PhrOptions, VENDOR};

/// A site's `--sdtm-mappings` folder: the embedded `vital-signs` table with the scale
/// vendor's codes added, the way README "Home and smart-device measurements" tells a site
/// to do it.
fn site_tables(dir: &Path) -> PathBuf {
    let site = dir.join("site");
    std::fs::create_dir_all(site.join("terminology")).unwrap();
    let embedded =
        std::fs::read_to_string(common::repo("mappings/sdtm/terminology/vital-signs.yaml"))
            .unwrap();
    let mut table = embedded.replacen("systems:\n", &format!("systems:\n  SCALE: {VENDOR}\n"), 1);
    table.push_str("  - [SCALE, visceral-fat-level, VISFATLV, Visceral Fat Level, \"{score}\"]\n");
    table.push_str("  - [SCALE, bone-mass, BMC, Bone Mineral Content, kg]\n");
    std::fs::write(site.join("terminology/vital-signs.yaml"), table).unwrap();
    site
}

fn opts() -> PhrOptions {
    PhrOptions {
        subjects: 4,
        days: 365,
        seed: 14,
        start: chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
    }
}

/// One patient's Observations (NDJSON lines) through `convert sdtm` into CSV: (out, terminal).
fn convert_one_patient(
    dir: &Path,
    patient: &str,
    observations: String,
    study_id: &str,
) -> (PathBuf, String) {
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(input.join("Patient.ndjson"), patient).unwrap();
    std::fs::write(input.join("Observation.ndjson"), observations).unwrap();
    let study = dir.join("study.yaml");
    std::fs::write(&study, format!("study_id: {study_id}\n")).unwrap();
    let out = dir.join("out");
    let text = common::kk_ok(&[
        &"convert",
        &"sdtm",
        &input,
        &"--study",
        &study,
        &"--demo-key",
        &"--format",
        &"csv",
        &"-o",
        &out,
    ]);
    (out, text)
}

#[test]
fn issue14_a_year_of_home_measurements_reaches_vs_reading_by_reading() {
    let dir = tempfile::tempdir().unwrap();
    let (ndjson, out) = (dir.path().join("phr"), dir.path().join("out"));
    let o = opts();
    common::kk_ok(&[
        &"synth-phr",
        &"-o",
        &ndjson,
        &"--subjects",
        &"4",
        &"--days",
        &"365",
        &"--seed",
        &"14",
    ]);
    let truth = generate(&o).readings;
    assert!(
        truth.len() > 4 * 300 * 9,
        "a year of daily readings: {}",
        truth.len()
    );

    let study = dir.path().join("study.yaml");
    std::fs::write(&study, "study_id: PHR-01\n").unwrap();
    let site = site_tables(dir.path());
    let stderr = common::kk_ok(&[
        &"convert",
        &"sdtm",
        &ndjson,
        &"--study",
        &study,
        &"--demo-key",
        &"--sdtm-mappings",
        &site,
        &"--format",
        &"xpt,json,csv",
        &"-o",
        &out,
    ]);
    assert!(
        stderr.contains("0 finding(s)"),
        "the default validation is clean: {stderr}"
    );

    let vs = common::read_csv(&out.join("vs.csv"));
    assert_eq!(
        vs.len(),
        truth.len(),
        "one VS record per reading, none lost"
    );
    // Value by value: (test, local time to the second, standard numeric result).
    // The time point too, where the reading carries one.
    let key = |t: &str, d: &str, v: f64, tpt: &str| {
        (
            t.to_owned(),
            d.to_owned(),
            format!("{v:.1}"),
            tpt.to_owned(),
        )
    };
    let mut want: Vec<_> = truth
        .iter()
        .map(|r| key(r.vstestcd, &r.dtc, r.value, r.tpt.unwrap_or("")))
        .collect();
    let mut got: Vec<_> = vs
        .iter()
        .map(|r| {
            key(
                &r["VSTESTCD"],
                &r["VSDTC"],
                r["VSSTRESN"].parse().unwrap(),
                &r["VSTPT"],
            )
        })
        .collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    for r in &vs {
        assert_eq!(
            r["VSORRES"].parse::<f64>().unwrap(),
            r["VSSTRESN"].parse::<f64>().unwrap()
        );
    }
    // Per subject: the same numbers of readings (subjects are pseudonymised).
    let mut per_truth: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &truth {
        *per_truth.entry(r.patient.as_str()).or_default() += 1;
    }
    let mut per_vs: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &vs {
        *per_vs.entry(r["USUBJID"].as_str()).or_default() += 1;
    }
    let (mut a, mut b): (Vec<usize>, Vec<usize>) = (
        per_truth.into_values().collect(),
        per_vs.into_values().collect(),
    );
    a.sort();
    b.sort();
    assert_eq!(a, b);
    // Blood pressure came as panels with components: one SYSBP and one DIABP per reading.
    let count = |t: &str| vs.iter().filter(|r| r["VSTESTCD"] == t).count();
    assert_eq!(count("SYSBP"), count("DIABP"));
    assert_eq!(
        count("SYSBP"),
        truth.iter().filter(|r| r.vstestcd == "SYSBP").count()
    );
    for t in [
        "WEIGHT", "BODYFATP", "MUSCMASS", "TBW", "TBWPCT", "BMI", "VISFATLV", "BMC", "TEMP",
        "PULSE",
    ] {
        assert!(count(t) > 0, "{t}");
    }
    // Time points: on waking 1, before sleep 22 (event-timing), and only where timed.
    for r in &vs {
        let want = match r["VSTPT"].as_str() {
            "UPON WAKING" => "1",
            "BEFORE SLEEP" => "22",
            "" => "",
            other => panic!("unexpected VSTPT {other}"),
        };
        assert_eq!(r["VSTPTNUM"], want);
        let timed = ["SYSBP", "DIABP", "PULSE"].contains(&r["VSTESTCD"].as_str());
        assert_eq!(timed, !want.is_empty(), "{r:?}");
    }
    // Body water in % is its own test, in %; in kg it stays TBW.
    for r in &vs {
        match r["VSTESTCD"].as_str() {
            "TBWPCT" | "BODYFATP" => assert_eq!(r["VSSTRESU"], "%"),
            "TBW" | "BMC" => assert_eq!(r["VSSTRESU"], "kg"),
            "VISFATLV" => assert_eq!(r["VSSTRESU"], "POINT"),
            _ => {}
        }
    }
    // Every reading was self-measured with a device.
    let supp = common::read_csv(&out.join("suppvs.csv"));
    let selfm = supp
        .iter()
        .filter(|r| r["QNAM"] == "VSSELF" && r["QVAL"] == "Y")
        .count();
    assert_eq!(selfm, vs.len());
    // Sponsor-defined test codes are declared as such.
    let define = std::fs::read_to_string(out.join("define.xml")).unwrap();
    for t in ["BODYFATP", "MUSCMASS", "TBWPCT", "BMC", "VISFATLV"] {
        assert!(
            define.contains(&format!("CodedValue=\"{t}\" def:ExtendedValue=\"Yes\"")),
            "{t}"
        );
    }
    // And the written folder validates with no findings on its own.
    let text = common::kk_ok(&[&"validate", &out]);
    assert!(text.contains(" 0 finding(s)"), "{text}");
}

#[test]
fn issue14_synth_phr_is_deterministic() {
    let (a, b) = (generate(&opts()), generate(&opts()));
    assert_eq!(a.files, b.files);
    assert_eq!(a.readings, b.readings);
}

#[test]
fn issue14_daily_summary_gives_one_mean_per_subject_test_and_day() {
    let dir = tempfile::tempdir().unwrap();
    let (ndjson, out) = (dir.path().join("phr"), dir.path().join("out"));
    let o = PhrOptions {
        subjects: 3,
        days: 40,
        seed: 7,
        start: chrono::NaiveDate::from_ymd_opt(2024, 4, 1).unwrap(),
    };
    common::kk_ok(&[
        &"synth-phr",
        &"-o",
        &ndjson,
        &"--subjects",
        &"3",
        &"--days",
        &"40",
        &"--seed",
        &"7",
        &"--start",
        &"2024-04-01",
    ]);
    let study = dir.path().join("study.yaml");
    std::fs::write(&study, "study_id: PHR-02\n").unwrap();
    let site = site_tables(dir.path());
    let text = common::kk_ok(&[
        &"convert",
        &"sdtm",
        &ndjson,
        &"--study",
        &study,
        &"--demo-key",
        &"--sdtm-mappings",
        &site,
        &"--daily-summary",
        &"--format",
        &"csv,json",
        &"-o",
        &out,
    ]);
    assert!(text.contains("0 finding(s)"), "{text}");

    // The generator's readings grouped by subject, test and day → (count, mean).
    let mut want: BTreeMap<(String, String, String), (usize, f64)> = BTreeMap::new();
    for r in generate(&o).readings {
        let e = want
            .entry((
                r.patient.clone(),
                r.vstestcd.to_owned(),
                r.dtc[..10].to_owned(),
            ))
            .or_default();
        e.0 += 1;
        e.1 += r.value;
    }
    let vs = common::read_csv(&out.join("vs.csv"));
    assert_eq!(vs.len(), want.len(), "one record per subject, test and day");
    assert!(
        want.values().any(|(n, _)| *n == 2),
        "blood pressure twice a day"
    );
    let supp = common::read_csv(&out.join("suppvs.csv"));
    let counts: BTreeMap<(String, String), usize> = supp
        .iter()
        .filter(|r| r["QNAM"] == "VSNREAD")
        .map(|r| {
            (
                (r["USUBJID"].clone(), r["IDVARVAL"].clone()),
                r["QVAL"].parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(counts.len(), vs.len(), "every summary record has its count");
    // Compare as multisets of (test, day, count, mean): subjects are pseudonymised.
    let mut w: Vec<(String, String, usize, i64)> = want
        .iter()
        .map(|((_, t, d), (n, sum))| {
            (
                t.clone(),
                d.clone(),
                *n,
                (sum / *n as f64 * 100.0).round() as i64,
            )
        })
        .collect();
    let mut g: Vec<(String, String, usize, i64)> = vs
        .iter()
        .map(|r| {
            assert_eq!(r["VSDRVFL"], "Y");
            assert_eq!(r["VSDTC"].len(), 10, "the day");
            assert_eq!(r["VSORRES"], r["VSSTRESC"]);
            let n = counts[&(r["USUBJID"].clone(), r["VSSEQ"].clone())];
            let mean: f64 = r["VSSTRESN"].parse().unwrap();
            (
                r["VSTESTCD"].clone(),
                r["VSDTC"].clone(),
                n,
                (mean * 100.0).round() as i64,
            )
        })
        .collect();
    w.sort();
    g.sort();
    assert_eq!(g, w);
}

#[test]
fn issue14_vendor_codes_without_a_site_table_are_counted_not_lost() {
    let dir = tempfile::tempdir().unwrap();
    let (ndjson, out) = (dir.path().join("phr"), dir.path().join("out"));
    common::kk_ok(&[
        &"synth-phr",
        &"-o",
        &ndjson,
        &"--subjects",
        &"2",
        &"--days",
        &"30",
        &"--seed",
        &"5",
    ]);
    let o = PhrOptions {
        subjects: 2,
        days: 30,
        seed: 5,
        start: chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
    };
    let truth = generate(&o).readings;
    let vendor = truth
        .iter()
        .filter(|r| ["VISFATLV", "BMC"].contains(&r.vstestcd))
        .count();
    assert!(vendor > 0);
    let study = dir.path().join("study.yaml");
    std::fs::write(&study, "study_id: PHR-04\n").unwrap();
    common::kk_ok(&[
        &"convert",
        &"sdtm",
        &ndjson,
        &"--study",
        &study,
        &"--demo-key",
        &"--format",
        &"csv",
        &"-o",
        &out,
    ]);
    let vs = common::read_csv(&out.join("vs.csv"));
    assert_eq!(vs.len(), truth.len() - vendor);
    // The reconciliation names them: Observations no domain view selects.
    let rec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("reconciliation.json")).unwrap())
            .unwrap();
    assert_eq!(
        rec["sdtm"]["resources"]["Observation"]["gave_none"]["no domain view selects it"],
        vendor
    );
}

#[test]
fn issue14_a_category_or_method_saying_home_marks_a_reading_self_measured() {
    let dir = tempfile::tempdir().unwrap();
    let obs = |id: &str, extra: &str, t: &str| {
        format!("{{\"resourceType\":\"Observation\",\"id\":\"{id}\",\"status\":\"final\",\"category\":[{{\"coding\":[{{\"system\":\"http://terminology.hl7.org/CodeSystem/observation-category\",\"code\":\"vital-signs\"}}]}}],\"code\":{{\"coding\":[{{\"system\":\"http://loinc.org\",\"code\":\"29463-7\"}}]}},\"subject\":{{\"reference\":\"Patient/p1\"}},\"effectiveDateTime\":\"2024-05-0{t}T07:00:00+09:00\",\"valueQuantity\":{{\"value\":60.{t},\"unit\":\"kg\",\"system\":\"http://unitsofmeasure.org\",\"code\":\"kg\"}}{extra}}}\n")
    };
    let lines = [
        obs("clinic", "", "1"),
        obs("method", ",\"method\":{\"text\":\"家庭測定\"}", "2"),
        obs(
            "category",
            ",\"category\":[{\"text\":\"Home monitoring\"}]",
            "3",
        ),
    ]
    .concat();
    let (out, text) = convert_one_patient(
        dir.path(),
        "{\"resourceType\":\"Patient\",\"id\":\"p1\",\"gender\":\"female\",\"birthDate\":\"1970-01-01\"}\n",
        lines,
        "PHR-03",
    );
    let vs = common::read_csv(&out.join("vs.csv"));
    assert_eq!(vs.len(), 3, "{text}");
    let supp = common::read_csv(&out.join("suppvs.csv"));
    let selfm: Vec<String> = supp
        .iter()
        .filter(|r| r["QNAM"] == "VSSELF")
        .map(|r| {
            let seq = &r["IDVARVAL"];
            vs.iter().find(|v| &v["VSSEQ"] == seq).unwrap()["VSDTC"].clone()
        })
        .collect();
    assert_eq!(
        selfm,
        ["2024-05-02T07:00:00", "2024-05-03T07:00:00"],
        "{supp:?}"
    );
}

#[test]
fn issue14_the_unit_chooses_the_test_of_mdc_body_fat_and_water() {
    let dir = tempfile::tempdir().unwrap();
    let obs = |id: &str, code: &str, value: &str, unit: &str| {
        format!("{{\"resourceType\":\"Observation\",\"id\":\"{id}\",\"status\":\"final\",\"code\":{{\"coding\":[{{\"system\":\"urn:iso:std:iso:11073:10101\",\"code\":\"{code}\"}}]}},\"subject\":{{\"reference\":\"Patient/p1\"}},\"effectiveDateTime\":\"2024-05-01T07:00:0{}+09:00\",\"valueQuantity\":{{\"value\":{value},\"unit\":\"{unit}\",\"system\":\"http://unitsofmeasure.org\",\"code\":\"{unit}\"}}}}\n", id.len() % 10)
    };
    let lines = [
        obs("fat-pct", "188748", "21.5", "%"),
        obs("fat-kg", "188748", "14.2", "kg"),
        obs("water-pct", "188764", "55.1", "%"),
        obs("water-kg", "188764", "38.0", "kg"),
    ]
    .concat();
    let (out, text) = convert_one_patient(
        dir.path(),
        "{\"resourceType\":\"Patient\",\"id\":\"p1\",\"gender\":\"male\",\"birthDate\":\"1960-01-01\"}\n",
        lines,
        "PHR-05",
    );
    let vs = common::read_csv(&out.join("vs.csv"));
    let mut got: Vec<(String, String, String)> = vs
        .iter()
        .map(|r| {
            (
                r["VSTESTCD"].clone(),
                r["VSSTRESN"].clone(),
                r["VSSTRESU"].clone(),
            )
        })
        .collect();
    got.sort();
    let want = [
        ("BODYFATM", "14.2", "kg"),
        ("BODYFATP", "21.5", "%"),
        ("TBW", "38", "kg"),
        ("TBWPCT", "55.1", "%"),
    ]
    .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()));
    assert_eq!(got, want, "{text}");
}
