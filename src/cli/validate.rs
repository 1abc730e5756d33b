//! `kakehashi validate DIR`: SDTM conformance of a folder of datasets.

use std::path::PathBuf;
use std::process::ExitCode;

use kakehashi::validate::{load_folder, report, validate_study, Library, Overrides, Standards};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Folder of datasets: XPT v5, Dataset-JSON (.json/.ndjson), or CSV in the CDISC Open
    /// Rules layout (_datasets.csv, _variables.csv, one CSV per dataset).
    pub dir: Option<PathBuf>,
    /// define.xml to check against the data (else DIR/define.xml when present).
    #[arg(long)]
    pub define: Option<PathBuf>,
    /// SDTMIG metadata folder (CDISC Library export: Datasets.csv, Variables.csv) instead of
    /// the embedded SDTMIG 3.4, e.g. an SDTMIG 3.3 export for an older study.
    #[arg(long)]
    pub sdtmig: Option<PathBuf>,
    /// SDTMIG version the published rules are selected for (default: the metadata's, 3.4).
    #[arg(long)]
    pub standard: Option<String>,
    /// CDISC CT release (NCI EVS SDTM Terminology.txt) instead of the embedded 2025-03-28.
    #[arg(long)]
    pub ct: Option<PathBuf>,
    /// Release date of that CT file, stated in the report (e.g. 2025-09-26).
    #[arg(long)]
    pub ct_version: Option<String>,
    /// Published CDISC Open Rules folder (Published/CORE-*/rule.yml) instead of the
    /// embedded ones.
    #[arg(long)]
    pub open_rules: Option<PathBuf>,
    /// Run only kakehashi's own rules and standard checks, not the published rules.
    #[arg(long, conflicts_with = "open_rules")]
    pub no_open_rules: bool,
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

impl Args {
    pub fn overrides(&self) -> kakehashi::validate::Overrides {
        kakehashi::validate::Overrides {
            sdtmig: self.sdtmig.clone(),
            standard: self.standard.clone(),
            ct: self.ct.clone(),
            ct_version: self.ct_version.clone(),
            open_rules: self.open_rules.clone(),
            no_open_rules: self.no_open_rules,
        }
    }
}

pub fn run(a: Args) -> ExitCode {
    if let Some(dir) = &a.score {
        let lib = match Standards::load(&Overrides {
            no_open_rules: true,
            ..a.overrides()
        }) {
            Ok(s) => s.library,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        return score(dir, &lib);
    }
    let Some(dir) = &a.dir else {
        eprintln!("error: give a dataset folder (or --score OPEN_RULES_DIR)");
        return ExitCode::from(2);
    };
    if !dir.is_dir() {
        eprintln!("error: {} is not a folder of datasets", dir.display());
        return ExitCode::from(2);
    }
    let std = match Standards::load(&a.overrides()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let (rules, lib) = (&std.rules, &std.library);
    let t = std::time::Instant::now();
    let (mut study, diags) = load_folder(dir);
    for d in &diags {
        eprintln!("{d}");
    }
    if let Some(d) = &a.define {
        study.define = std::fs::read_to_string(d).ok();
    }
    let findings = validate_study(&study, rules, lib);
    let secs = t.elapsed().as_secs_f64();
    let meta = report::Meta {
        standards: &std.in_use,
        rules_run: rules.len(),
        datasets: study.tables.len(),
    };
    let out = &mut std::io::stdout().lock();
    let r = match a.format {
        Format::Text => {
            print!("{}", report::text(&findings, &meta, 40));
            println!("({secs:.2} s)");
            Ok(())
        }
        Format::Json => report::json(&findings, &meta, out),
        Format::Csv => report::csv(&findings, out),
    };
    if let Err(e) = r {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    if let Some(h) = &a.html {
        let title = format!("kakehashi validation — {}", dir.display());
        if let Err(e) =
            kakehashi::sdtm::write_atomic(h, |w| report::html(&findings, rules, &title, &meta, w))
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
    let rules = match kakehashi::validate::standards::open_rules_in(dir) {
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
                if kakehashi::validate::data::case_agrees(&want, &got) {
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
