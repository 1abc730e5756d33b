//! Issue 7 — statistics and feasibility. Two synthetic sites (300 and 40 patients) go
//! through SS-MIX2 → SDTM; `feasibility` and `stats` count them. This test recomputes
//! every published count from the SDTM files itself, checks that no published cell is
//! below the threshold, and runs its own subtraction attack (every relation between
//! cells — site sums, step differences, row and column margins — solved whenever one
//! unknown is left) to show that no suppressed small cell can be recovered. The HTML
//! page is rendered in headless Chromium.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

const T: i64 = 10;

fn run(args: &[&str]) -> String {
    // Conversions here check privacy, not the validation verdict (tests/validate_cli.rs).
    let mut args: Vec<&str> = args.to_vec();
    if args.first() == Some(&"convert") && args.get(1) != Some(&"fhir") {
        args.push("--allow-findings");
    }
    let o = Command::new(common::bin()).args(&args).output().unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

use common::read_csv;

fn site(tmp: &Path, name: &str, patients: &str, seed: &str) -> PathBuf {
    let root = tmp.join(format!("ssmix2-{name}"));
    run(&[
        "synth",
        "-o",
        root.to_str().unwrap(),
        "--patients",
        patients,
        "--seed",
        seed,
    ]);
    let out = tmp.join(format!("out-{name}"));
    run(&[
        "convert",
        root.to_str().unwrap(),
        "--study",
        common::repo("fixtures/studies/minimal.yaml")
            .to_str()
            .unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--demo-key",
        "--format",
        "csv,json",
    ]);
    out.join("sdtm")
}

/// The subtraction attack: cells with known values, relations Σ ±cell = 0; whenever a
/// relation has one unknown left, it is solved. Returns every value learnt.
fn attack(
    known: &mut HashMap<String, i64>,
    truth: &HashMap<String, i64>,
    relations: &[Vec<(String, i64)>],
) {
    loop {
        let mut progress = false;
        for r in relations {
            let unknown: Vec<&(String, i64)> =
                r.iter().filter(|(c, _)| !known.contains_key(c)).collect();
            if unknown.len() == 1 {
                let (c, k) = unknown[0];
                let rest: i64 = r
                    .iter()
                    .filter(|(x, _)| x != c)
                    .map(|(x, kx)| kx * known[x])
                    .sum();
                let v = -rest / k;
                assert_eq!(v, truth[c], "the attack solves {c} correctly");
                known.insert(c.clone(), v);
                progress = true;
            }
        }
        if !progress {
            return;
        }
    }
}

/// The test's own reading of the t2dm criteria file, per subject of one SDTM folder.
fn t2dm_steps(sdtm: &Path) -> Vec<usize> {
    let dm = read_csv(&sdtm.join("dm.csv"));
    let mut icd: HashMap<String, bool> = HashMap::new();
    for r in read_csv(&sdtm.join("suppmh.csv")) {
        if r["QNAM"] == "MHICD10" && r["QVAL"].starts_with("E11") {
            icd.insert(r["USUBJID"].clone(), true);
        }
    }
    let mut a1c = BTreeSet::new();
    for r in read_csv(&sdtm.join("lb.csv")) {
        if r["LBTESTCD"] == "HBA1C" && !r["LBSTRESN"].is_empty() && r["LBDTC"].starts_with("2024") {
            a1c.insert(r["USUBJID"].clone());
        }
    }
    let mut amlo = BTreeSet::new();
    for r in read_csv(&sdtm.join("ja/cm.csv")) {
        if r["CMTRT"].contains("アムロジピン") {
            amlo.insert(r["USUBJID"].clone());
        }
    }
    let mut n = vec![0; 5];
    for r in &dm {
        let id = &r["USUBJID"];
        let age: f64 = r["AGE"].parse().unwrap_or(-1.0);
        let pass = [
            (20.0..=79.0).contains(&age),
            icd.contains_key(id),
            a1c.contains(id),
            !amlo.contains(id),
        ];
        n[0] += 1;
        for (i, p) in pass.iter().enumerate() {
            if !p {
                break;
            }
            n[i + 1] += 1;
        }
    }
    n
}

#[test]
fn issue_7_feasibility_and_statistics_publish_no_small_or_recoverable_cell() {
    let tmp = tempfile::tempdir().unwrap();
    let a = site(tmp.path(), "a", "300", "1");
    let b = site(tmp.path(), "b", "40", "7");
    let feas = tmp.path().join("feas");
    let stdout = run(&[
        "feasibility",
        &format!("{}=A", a.display()),
        &format!("{}=B", b.display()),
        "--criteria",
        common::repo("fixtures/criteria/t2dm.yaml")
            .to_str()
            .unwrap(),
        "-o",
        feas.to_str().unwrap(),
    ]);
    assert!(stdout.contains("All subjects"), "{stdout}");
    // Truth, computed here.
    let (na, nb) = (t2dm_steps(&a), t2dm_steps(&b));
    let mut truth: HashMap<String, i64> = HashMap::new();
    for i in 0..5 {
        truth.insert(format!("A{i}"), na[i] as i64);
        truth.insert(format!("B{i}"), nb[i] as i64);
        truth.insert(format!("ALL{i}"), (na[i] + nb[i]) as i64);
    }
    for s in ["A", "B", "ALL"] {
        for i in 1..5 {
            truth.insert(
                format!("x{s}{i}"),
                truth[&format!("{s}{}", i - 1)] - truth[&format!("{s}{i}")],
            );
        }
    }
    let cells = read_csv(&feas.join("attrition.csv"));
    assert_eq!(cells.len(), 15);
    let mut known = HashMap::new();
    let mut suppressed = 0;
    for c in &cells {
        let key = format!("{}{}", c["site"], c["step"]);
        if c["patients"].is_empty() {
            suppressed += 1;
            continue;
        }
        let v: i64 = c["patients"].parse().unwrap();
        assert_eq!(v, truth[&key], "published {key} is the true count");
        assert!(
            v == 0 || v >= T,
            "published {key} = {v} is below the threshold"
        );
        known.insert(key, v);
    }
    assert!(
        suppressed > 0,
        "the 40-patient site has small cells: {cells:?}"
    );
    let mut relations = Vec::new();
    for i in 0..5 {
        relations.push(vec![
            (format!("ALL{i}"), 1),
            (format!("A{i}"), -1),
            (format!("B{i}"), -1),
        ]);
    }
    for i in 1..5 {
        for s in ["A", "B", "ALL"] {
            relations.push(vec![
                (format!("{s}{}", i - 1), 1),
                (format!("{s}{i}"), -1),
                (format!("x{s}{i}"), -1),
            ]);
        }
        relations.push(vec![
            (format!("xALL{i}"), 1),
            (format!("xA{i}"), -1),
            (format!("xB{i}"), -1),
        ]);
    }
    attack(&mut known, &truth, &relations);
    for (cell, v) in &known {
        assert!(
            *v == 0 || *v >= T,
            "{cell} = {v} is recovered by subtraction"
        );
    }
    // The page.
    let html = feas.join("attrition.html");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "self-contained"
    );

    // Statistics over both sites.
    let st = tmp.path().join("stats");
    run(&[
        "stats",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "-o",
        st.to_str().unwrap(),
    ]);
    let rows = read_csv(&st.join("stats.csv"));
    let mut by_table: BTreeMap<String, Vec<&BTreeMap<String, String>>> = BTreeMap::new();
    for r in &rows {
        by_table.entry(r["table"].clone()).or_default().push(r);
        if !r["patients"].is_empty() {
            let v: i64 = r["patients"].parse().unwrap();
            assert!(v == 0 || v >= T, "{r:?} is below the threshold");
        } else {
            assert!(
                r["mean"].is_empty(),
                "a mean is never published for a suppressed count"
            );
        }
    }
    assert!(
        by_table.keys().any(|k| k.starts_with("lab-HBA1C"))
            && by_table.keys().any(|k| k.starts_with("vital-"))
    );
    assert!(by_table.contains_key("conditions") && by_table.contains_key("drugs"));
    // Demographics: true counts from DM, then the attack over rows, columns and margins.
    let mut truth: HashMap<String, i64> = HashMap::new();
    let band = |age: f64| {
        if age >= 90.0 {
            "90+".to_owned()
        } else {
            let lo = age as i64 / 10 * 10;
            format!("{lo}-{}", lo + 9)
        }
    };
    for dir in [&a, &b] {
        for r in read_csv(&dir.join("dm.csv")) {
            let bnd = band(r["AGE"].parse().unwrap());
            for k in [
                format!("{}|{bnd}", r["SEX"]),
                format!("{}|all ages", r["SEX"]),
                format!("all|{bnd}"),
                "all|all ages".to_owned(),
            ] {
                *truth.entry(k).or_default() += 1;
            }
        }
    }
    let demo = &by_table["demographics"];
    let mut known = HashMap::new();
    for r in demo {
        let key = format!("{}|{}", r["label1"], r["label2"]);
        if !r["patients"].is_empty() {
            assert_eq!(r["patients"].parse::<i64>().unwrap(), truth[&key], "{key}");
            known.insert(key, r["patients"].parse().unwrap());
        }
        truth
            .entry(format!("{}|{}", r["label1"], r["label2"]))
            .or_insert(0);
    }
    let sexes: BTreeSet<String> = demo
        .iter()
        .map(|r| r["label1"].clone())
        .filter(|s| s != "all")
        .collect();
    let bands: BTreeSet<String> = demo
        .iter()
        .map(|r| r["label2"].clone())
        .filter(|s| s != "all ages")
        .collect();
    let mut relations = Vec::new();
    for s in sexes.iter().chain(std::iter::once(&"all".to_owned())) {
        let mut r = vec![(format!("{s}|all ages"), 1)];
        r.extend(bands.iter().map(|b| (format!("{s}|{b}"), -1)));
        relations.push(r);
    }
    for b in bands.iter().chain(std::iter::once(&"all ages".to_owned())) {
        let mut r = vec![(format!("all|{b}"), 1)];
        r.extend(sexes.iter().map(|s| (format!("{s}|{b}"), -1)));
        relations.push(r);
    }
    attack(&mut known, &truth, &relations);
    for (cell, v) in &known {
        assert!(
            *v == 0 || *v >= T,
            "{cell} = {v} is recovered from the margins"
        );
    }
    // Lab distributions: bins add up to the patients tested.
    for (name, rows) in by_table.iter().filter(|(k, _)| k.starts_with("lab-")) {
        let mut known = HashMap::new();
        let mut relation = Vec::new();
        for r in rows {
            let key = r["label1"].clone();
            if let Ok(v) = r["patients"].parse::<i64>() {
                known.insert(key.clone(), v);
            }
            relation.push((key.clone(), if key == "patients tested" { 1 } else { -1 }));
        }
        let unknown = relation
            .iter()
            .filter(|(c, _)| !known.contains_key(c))
            .count();
        assert_ne!(
            unknown, 1,
            "{name}: one suppressed bin is recovered from the total"
        );
    }
    // The same statistics straight from the FHIR input (converted in memory).
    let from_fhir = tmp.path().join("stats-fhir");
    let fhir_a = a.parent().unwrap().join("fhir");
    run(&[
        "stats",
        &format!("{}=01", fhir_a.display()),
        "-o",
        from_fhir.to_str().unwrap(),
    ]);
    let only_a = tmp.path().join("stats-a");
    run(&["stats", a.to_str().unwrap(), "-o", only_a.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(from_fhir.join("stats.csv")).unwrap(),
        std::fs::read_to_string(only_a.join("stats.csv")).unwrap(),
        "FHIR input and its SDTM output give the same statistics"
    );
    // The page, rendered.
    let html = st.join("stats.html");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "self-contained"
    );
    let (dom, _png) = common::render(&html, tmp.path());
    assert!(
        dom.contains("<span id=\"subjects\">340</span>"),
        "subjects shown"
    );
    let suppressed_cells = rows.iter().filter(|r| r["patients"].is_empty()).count();
    assert_eq!(
        dom.matches("class=\"n sup\"").count(),
        suppressed_cells,
        "every suppressed cell is marked"
    );
    assert!(dom.matches("class=\"bar\"").count() > 50, "charts drawn");
}
