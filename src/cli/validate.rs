//! `kakehashi validate DIR`: SDTM conformance of a folder of datasets.

use std::path::PathBuf;
use std::process::ExitCode;

use kakehashi::validate::{load_folder, report, rules, validate_study, Library, Rule};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Folder of datasets: XPT v5, Dataset-JSON (.json/.ndjson), or CSV in the CDISC Open
    /// Rules layout (_datasets.csv, _variables.csv, one CSV per dataset).
    pub dir: Option<PathBuf>,
    /// define.xml to check against the data (else DIR/define.xml when present).
    #[arg(long)]
    pub define: Option<PathBuf>,
    /// SDTMIG metadata folder (CDISC Library export: Datasets.csv, Variables.csv), e.g.
    /// ../shared/reference/sdtmig-3.4; rules that need the standard use it.
    #[arg(long)]
    pub sdtmig: Option<PathBuf>,
    /// SDTMIG version the published rules are selected for (3.4, 3.3, 3.2).
    #[arg(long, default_value = "3.4")]
    pub standard: String,
    /// CDISC CT release (NCI EVS SDTM Terminology.txt).
    #[arg(long)]
    pub ct: Option<PathBuf>,
    #[arg(long, default_value = "unspecified")]
    pub ct_version: String,
    /// Also run the published CDISC Open Rules in this folder (Published/CORE-*/rule.yml).
    #[arg(long)]
    pub open_rules: Option<PathBuf>,
    /// Score the engine against the Open Rules cases in this folder and print the table
    /// (instead of validating DIR).
    #[arg(long)]
    pub score: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Write a self-contained HTML report here.
    #[arg(long)]
    pub html: Option<PathBuf>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Csv,
}

fn library(a: &Args) -> Result<Library, String> {
    let mut lib = match &a.sdtmig {
        Some(d) => Library::load(d)
            .map_err(|e| format!("cannot read SDTMIG metadata in {}: {e}", d.display()))?,
        None => Library::empty(),
    };
    if let Some(ct) = &a.ct {
        lib.ct = Some(
            kakehashi::formats::ct::Ct::load(ct, &a.ct_version)
                .map_err(|e| format!("cannot read CT: {e}"))?,
        );
    }
    Ok(lib)
}

/// Published rules of a folder (`CORE-*/rule.yml`) applicable to the standard version.
pub fn open_rules(dir: &std::path::Path, standard: &str) -> Result<Vec<Rule>, String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("rule.yml"))
        .filter(|p| p.exists())
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(&p).map_err(|e| e.to_string())?;
        let r = Rule::parse_yaml(&text).map_err(|e| format!("{}: {e}", p.display()))?;
        if standard.is_empty() || r.versions.is_empty() || r.versions.iter().any(|v| v == standard)
        {
            out.push(r);
        }
    }
    Ok(out)
}

pub fn run(a: Args) -> ExitCode {
    let lib = match library(&a) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(dir) = &a.score {
        return score(dir, &lib);
    }
    let Some(dir) = &a.dir else {
        eprintln!("error: give a dataset folder (or --score OPEN_RULES_DIR)");
        return ExitCode::from(2);
    };
    let mut rules = match rules::embedded() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(o) = &a.open_rules {
        match open_rules(o, &a.standard) {
            Ok(r) => rules.extend(r),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let t = std::time::Instant::now();
    let (mut study, diags) = load_folder(dir);
    for d in &diags {
        eprintln!("{d}");
    }
    if let Some(d) = &a.define {
        study.define = std::fs::read_to_string(d).ok();
    }
    let findings = validate_study(&study, &rules, &lib);
    let secs = t.elapsed().as_secs_f64();
    let out = &mut std::io::stdout().lock();
    let r = match a.format {
        Format::Text => {
            print!(
                "{}",
                report::text(&findings, rules.len(), study.tables.len(), 40)
            );
            println!("({secs:.2} s)");
            Ok(())
        }
        Format::Json => report::json(&findings, out),
        Format::Csv => report::csv(&findings, out),
    };
    if let Err(e) = r {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    if let Some(h) = &a.html {
        let title = format!("kakehashi validation — {}", dir.display());
        if let Err(e) =
            kakehashi::sdtm::write_atomic(h, |w| report::html(&findings, &rules, &title, w))
        {
            eprintln!("error: cannot write {}: {e}", h.display());
            return ExitCode::from(2);
        }
    }
    if findings.iter().any(|f| f.severity == "Error") || diags.iter().any(|d| d.is_error()) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The Open Rules score table: per rule, cases agreeing / total.
fn score(dir: &std::path::Path, lib: &Library) -> ExitCode {
    let rules = match open_rules(dir, "") {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let (mut agree, mut total) = (0, 0);
    for r in &rules {
        let rule_dir = dir.join(&r.id);
        let (mut a, mut n) = (0, 0);
        for kind in ["positive", "negative"] {
            let Ok(rd) = std::fs::read_dir(rule_dir.join(kind)) else {
                continue;
            };
            let mut cases: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
            cases.sort();
            for case in cases {
                let Ok(want) =
                    kakehashi::validate::data::expected_results(&case.join("results/results.csv"))
                else {
                    continue;
                };
                n += 1;
                let (study, _) = load_folder(&case.join("data"));
                let got: std::collections::BTreeSet<_> = kakehashi::validate::run(r, &study, lib)
                    .iter()
                    .map(kakehashi::validate::data::result_key)
                    .collect();
                if got == want {
                    a += 1;
                }
            }
        }
        println!(
            "{:<12} {a:>3}/{n:<3} {}",
            r.id,
            if a == n { "" } else { "disagrees" }
        );
        agree += a;
        total += n;
    }
    println!(
        "CDISC Open Rules: {agree}/{total} cases agree ({:.1}%)",
        100.0 * agree as f64 / total.max(1) as f64
    );
    ExitCode::SUCCESS
}
