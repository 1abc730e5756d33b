//! Issue 7 — privacy levels. A 300-patient synthetic archive goes to FHIR; the test then
//! writes the patients' own identifiers into free text the SDTM domains carry (diagnosis
//! text → MHTERM, drug text → CMTRT) in the forms hospital text takes (full-width digits,
//! hiragana reading, ideographic space, ASCII ids), and converts at every level:
//! - the leak scan finds nothing at `pseudonymised` and `anonymised` (and does find the
//!   identifiers at `identified`, so the scan is shown to see them);
//! - k-anonymity of the anonymised DM is recomputed here, independently of the code;
//! - a linkage attack joining the anonymised quasi-identifiers with the true demographics
//!   (the pseudonymised DM) finds no group smaller than k;
//! - the privacy report states what was done; the key never appears.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    // Conversions here check privacy, not the validation verdict (tests/validate_cli.rs).
    let mut args: Vec<&str> = args.to_vec();
    if args.first() == Some(&"convert") && args.get(1) != Some(&"fhir") {
        args.push("--allow-findings");
    }
    let o = Command::new(common::bin()).args(&args).output().unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

use common::read_csv;

fn wide(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                char::from_u32(c as u32 + 0xFEE0).unwrap()
            } else {
                c
            }
        })
        .collect()
}

fn hiragana(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{30A1}'..='\u{30F6}' => char::from_u32(c as u32 - 0x60).unwrap(),
            c => c,
        })
        .collect()
}

/// FHIR of a 300-patient archive with identifiers written into free text.
fn tainted_fhir(tmp: &Path) -> PathBuf {
    let root = tmp.join("ssmix2");
    let (code, _, err) = run(&["synth", "-o", root.to_str().unwrap(), "--patients", "300"]);
    assert_eq!(code, Some(0), "{err}");
    let fhir = tmp.join("fhir");
    let (code, _, err) = run(&[
        "convert",
        "fhir",
        root.to_str().unwrap(),
        "-o",
        fhir.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let read = |t: &str| -> Vec<serde_json::Value> {
        std::fs::read_to_string(fhir.join(format!("{t}.ndjson")))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let patients: HashMap<String, serde_json::Value> = read("Patient")
        .into_iter()
        .map(|p| (format!("Patient/{}", p["id"].as_str().unwrap()), p))
        .collect();
    let mut tainted = 0;
    for (t, field) in [
        ("Condition", "code"),
        ("MedicationRequest", "medicationCodeableConcept"),
    ] {
        let mut seen = std::collections::HashSet::new();
        let mut out = String::new();
        for mut r in read(t) {
            let subject = r["subject"]["reference"].as_str().unwrap().to_owned();
            if let (Some(p), true) = (patients.get(&subject), seen.insert(subject.clone())) {
                let kanji = &p["name"][0];
                let kana = &p["name"][1];
                let phone = p["telecom"][0]["value"].as_str().unwrap();
                let id = p["identifier"][0]["value"].as_str().unwrap();
                r[field]["text"] = if t == "Condition" {
                    // Japanese note: name with an ideographic space, hiragana reading,
                    // full-width phone number.
                    format!(
                        "{}\u{3000}{}（{}）様 連絡先{}",
                        kanji["family"].as_str().unwrap(),
                        kanji["given"][0].as_str().unwrap(),
                        hiragana(kana["text"].as_str().unwrap()),
                        wide(phone)
                    )
                } else {
                    // ASCII: goes to the XPT datasets as it is.
                    format!("per patient {id} tel {phone}")
                }
                .into();
                tainted += 1;
            }
            out.push_str(&serde_json::to_string(&r).unwrap());
            out.push('\n');
        }
        std::fs::write(fhir.join(format!("{t}.ndjson")), out).unwrap();
    }
    assert!(
        tainted > 300,
        "identifiers written into {tainted} resources"
    );
    fhir
}

fn convert(fhir: &Path, out: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let study = out.with_extension("study.yaml");
    std::fs::write(&study, "study_id: PRIV-01\n").unwrap();
    let mut args = vec![
        "convert",
        "sdtm",
        fhir.to_str().unwrap(),
        "--study",
        study.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--format",
        "xpt,json,ndjson,csv",
        "--allow-findings",
    ];
    args.extend(extra);
    let o = Command::new(common::bin())
        .args(&args)
        .env("KAKEHASHI_SUBJECT_KEY", "privacy-test-key-0123456789")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        !stdout.contains("privacy-test-key")
            && !String::from_utf8_lossy(&o.stderr).contains("privacy-test-key"),
        "the key is never printed"
    );
    (o.status.code(), stdout)
}

fn privacy_report(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("privacy.json")).unwrap()).unwrap()
}

/// Quasi-identifier tuple as an outsider reads it from an anonymised DM row.
fn published_tuple(r: &BTreeMap<String, String>) -> (String, String, String, String) {
    (
        r["AGETXT"].clone(),
        r["SEX"].clone(),
        r["SITEID"].clone(),
        r["RFSTDTC"].chars().take(4).collect(),
    )
}

/// Band of an age with the policy's width and top code (written here, not taken from the code).
fn band(age: u32, width: u32) -> String {
    if age >= 90 {
        return "90+".into();
    }
    let lo = age / width * width;
    format!("{lo}-{}", (lo + width - 1).min(89))
}

#[test]
fn issue_7_privacy_levels_leak_nothing_and_anonymised_output_is_k_anonymous() {
    let tmp = tempfile::tempdir().unwrap();
    let fhir = tainted_fhir(tmp.path());

    // identified: refused without the explicit flag; with it, the identifiers are there
    // (the scan sees them).
    let ident = tmp.path().join("identified");
    let (code, _) = convert(&fhir, &ident, &["--privacy", "identified"]);
    assert_eq!(code, Some(2), "identified output needs --allow-identified");
    let (code, _) = convert(
        &fhir,
        &ident,
        &["--privacy", "identified", "--allow-identified"],
    );
    assert_eq!(code, Some(0));
    assert!(
        common::leak::leaks(&fhir, &ident).len() > 100,
        "identified output keeps the text as recorded"
    );

    // pseudonymised (the default): nothing leaks; the scrubbing is reported.
    let pseudo = tmp.path().join("pseudonymised");
    let (code, stdout) = convert(&fhir, &pseudo, &[]);
    assert_eq!(code, Some(0), "{stdout}");
    common::leak::leak_scan(&fhir, &pseudo);
    let rep = privacy_report(&pseudo);
    assert_eq!(rep["level"], "pseudonymised");
    let scrubbed = rep["free_text_scrubbed"].as_object().unwrap();
    // Conditions are history (MH) before the index date and events (CE) from it on.
    let n = |k: &str| scrubbed.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
    assert!(n("MH.MHTERM") + n("CE.CETERM") >= 290, "{scrubbed:?}");
    assert!(
        scrubbed["CM.CMTRT"].as_u64().unwrap() >= 290,
        "{scrubbed:?}"
    );
    assert_eq!(rep["subject_key_digest"].as_str().unwrap().len(), 16);
    // The masked text is still there around the mask.
    let ja_mh = std::fs::read_to_string(pseudo.join("ja/mh.csv")).unwrap();
    assert!(
        ja_mh.contains("***（***）様 連絡先***"),
        "mask keeps the rest of the note"
    );

    // anonymised: nothing leaks, k-anonymity holds, linkage finds no small group.
    let anon = tmp.path().join("anonymised");
    let (code, stdout) = convert(&fhir, &anon, &["--privacy", "anonymised"]);
    assert_eq!(code, Some(0), "{stdout}");
    common::leak::leak_scan(&fhir, &anon);
    assert!(
        !anon.join("ja").exists(),
        "Japanese free text is not written at this level"
    );
    let rep = privacy_report(&anon);
    let a = &rep["anonymised"];
    let k = a["k"].as_u64().unwrap() as usize;
    let width = a["age_band_width"].as_u64().unwrap() as u32;
    assert_eq!(k, 5);
    let dm = read_csv(&anon.join("dm.csv"));
    assert_eq!(dm.len() as u64, a["subjects_out"].as_u64().unwrap());
    assert_eq!(
        a["subjects_in"].as_u64().unwrap(),
        a["subjects_out"].as_u64().unwrap() + a["subjects_suppressed"].as_u64().unwrap()
    );
    assert!(dm.len() >= 250, "most subjects are kept: {}", dm.len());
    // Recomputed k-anonymity.
    let mut classes: HashMap<_, usize> = HashMap::new();
    for r in &dm {
        assert!(r["AGE"].is_empty(), "ages are published as bands only");
        assert!(r["SUBJID"].starts_with('A'));
        *classes.entry(published_tuple(r)).or_default() += 1;
    }
    let smallest = *classes.values().min().unwrap();
    assert!(smallest >= k, "smallest class {smallest} < k {k}");
    assert_eq!(a["k_reached"].as_u64().unwrap() as usize, smallest);
    // Every other dataset holds only published subjects.
    let subjects: std::collections::HashSet<&String> = dm.iter().map(|r| &r["USUBJID"]).collect();
    for f in ["lb", "vs", "cm", "mh", "sv", "supplb"] {
        for r in read_csv(&anon.join(format!("{f}.csv"))) {
            assert!(
                subjects.contains(&r["USUBJID"]),
                "{f}: record of a suppressed subject"
            );
        }
    }
    // Linkage: the attacker knows each person's true age, sex, site and first-visit year
    // (the pseudonymised DM) and looks for them in the anonymised DM.
    let truth = read_csv(&pseudo.join("dm.csv"));
    for r in &truth {
        let age: u32 = r["AGE"].parse().unwrap();
        let t = (
            band(age, width),
            r["SEX"].clone(),
            r["SITEID"].clone(),
            r["RFSTDTC"].chars().take(4).collect::<String>(),
        );
        let matches = classes.get(&t).copied().unwrap_or(0);
        assert!(
            matches == 0 || matches >= k,
            "a person matches {matches} (< k) records"
        );
    }
    // No keyed pseudonym of the pseudonymised release appears in any anonymised file
    // (datasets, define.xml, reports, diagnostics): the releases cannot be joined.
    let pseudonyms: Vec<&String> = truth.iter().map(|r| &r["SUBJID"]).collect();
    for f in common::files_under(&anon) {
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
        assert!(
            !pseudonyms.iter().any(|p| text.contains(p.as_str())),
            "{} links to the pseudonymised release",
            f.display()
        );
    }
    // Dates were moved: the pseudonymised and anonymised RFSTDTC sets differ, while study
    // days (relative) keep their distribution.
    let p_dates: std::collections::BTreeSet<&String> =
        truth.iter().map(|r| &r["RFSTDTC"]).collect();
    let moved = dm
        .iter()
        .filter(|r| !p_dates.contains(&r["RFSTDTC"]))
        .count();
    assert!(
        moved > dm.len() / 2,
        "dates shifted: {moved} of {}",
        dm.len()
    );
    let days = |dir: &Path| {
        let mut v: Vec<String> = read_csv(&dir.join("lb.csv"))
            .into_iter()
            .map(|r| r["LBDY"].clone())
            .collect();
        v.sort();
        v
    };
    let (p_days, a_days) = (days(&pseudo), days(&anon));
    assert!(
        a_days.iter().all(|d| p_days.binary_search(d).is_ok()),
        "study days are unchanged by the shift"
    );
    // Same input, same output.
    let again = tmp.path().join("again");
    convert(&fhir, &again, &["--privacy", "anonymised"]);
    for f in ["dm.xpt", "lb.json", "privacy.json"] {
        assert_eq!(
            std::fs::read(anon.join(f)).unwrap(),
            std::fs::read(again.join(f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn issue_7_month_dates_policy_and_bad_policy_files() {
    let tmp = tempfile::tempdir().unwrap();
    let policy = std::fs::read_to_string(common::repo("mappings/privacy/policy.yaml"))
        .unwrap()
        .replace("dates: shift", "dates: month");
    let pf = tmp.path().join("policy.yaml");
    std::fs::write(&pf, &policy).unwrap();
    let out = tmp.path().join("out");
    let fhir = tmp.path().join("fhir");
    let (c, _, e) = run(&[
        "convert",
        "fhir",
        common::repo("fixtures/ssmix2").to_str().unwrap(),
        "-o",
        fhir.to_str().unwrap(),
    ]);
    assert_eq!(c, Some(0), "{e}");
    let (code, stdout) = convert(
        &fhir,
        &out,
        &[
            "--privacy",
            "anonymised",
            "--privacy-policy",
            pf.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(0), "{stdout}");
    let rep = privacy_report(&out);
    assert_eq!(rep["policy"]["anonymised"]["dates"], "month");
    // Eight fixture patients cannot form classes of five: all are suppressed, and said so.
    assert_eq!(rep["anonymised"]["subjects_out"], 0, "{rep}");
    // A wrong setting is an error located in the policy file, before any data is read.
    std::fs::write(&pf, policy.replace("  k: 5", "  k: one")).unwrap();
    let (code, _, err) = run(&[
        "convert",
        "sdtm",
        fhir.to_str().unwrap(),
        "--study",
        common::repo("fixtures/studies/minimal.yaml")
            .to_str()
            .unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--demo-key",
        "--privacy-policy",
        pf.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("P002") && err.contains("policy.yaml:"),
        "{err}"
    );
}
