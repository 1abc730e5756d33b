//! `kakehashi stats` and `kakehashi feasibility`: counts from SDTM folders or FHIR input,
//! never records; small cells and what would recover them suppressed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use kakehashi::sdtm::write_atomic;
use kakehashi::stats::{self, Subject};
use kakehashi::validate::data;

#[derive(clap::Args, Debug)]
pub struct Common {
    /// SDTM folders (ours or anyone's: XPT, Dataset-JSON, Open Rules CSV) or FHIR R4 input
    /// (NDJSON, Bundles, folders). `PATH=SITE` names the site of that input (else DM.SITEID,
    /// or 01 for FHIR).
    #[arg(required = true)]
    pub inputs: Vec<String>,
    /// Output folder.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Smallest count published (cells 1 … threshold−1 are suppressed).
    #[arg(long)]
    pub threshold: Option<u64>,
}

#[derive(clap::Args, Debug)]
pub struct StatsArgs {
    #[command(flatten)]
    pub common: Common,
}

#[derive(clap::Args, Debug)]
pub struct FeasibilityArgs {
    #[command(flatten)]
    pub common: Common,
    /// Criteria file (YAML; see fixtures/criteria/t2dm.yaml).
    #[arg(long)]
    pub criteria: PathBuf,
}

fn is_sdtm_folder(p: &Path) -> bool {
    ["dm.xpt", "dm.json", "dm.ndjson", "dm.csv"]
        .iter()
        .any(|f| p.join(f).is_file())
}

/// Subjects of every input; errors are printed, and make the command fail.
fn load(inputs: &[String]) -> Result<Vec<Subject>, ExitCode> {
    let mut all = Vec::new();
    let mut failed = false;
    for spec in inputs {
        let (path, site) = match spec.rsplit_once('=') {
            Some((p, s)) if !Path::new(spec).exists() => (PathBuf::from(p), Some(s.to_owned())),
            _ => (PathBuf::from(spec), None),
        };
        if is_sdtm_folder(&path) {
            let (study, diags) = data::load_folder(&path);
            let ja = path.join("ja");
            let japanese = ja.is_dir().then(|| data::load_folder(&ja).0);
            for d in &diags {
                eprintln!("{d}");
                failed |= d.is_error();
            }
            all.extend(stats::facts::subjects(
                &study,
                japanese.as_ref(),
                site.as_deref(),
            ));
        } else {
            let (resources, diags) = kakehashi::fhir::input::read_all(std::slice::from_ref(&path));
            for d in &diags {
                eprintln!("{d}");
                failed |= d.is_error();
            }
            if resources.is_empty() {
                eprintln!(
                    "{}",
                    kakehashi::diagnostics::Diagnostic::error(
                        "Q010",
                        "neither SDTM datasets (dm.xpt, dm.json, dm.csv …) nor FHIR resources found",
                        kakehashi::diagnostics::Location::file(&path),
                    )
                    .help("give an SDTM folder (convert's sdtm/) or FHIR NDJSON / Bundles; SS-MIX2 storage needs `kakehashi convert` first")
                );
                failed = true;
                continue;
            }
            let spec = match kakehashi::sdtm::SdtmSpec::load(None) {
                Ok(s) => s,
                Err(d) => {
                    for x in d {
                        eprintln!("{x}");
                    }
                    return Err(ExitCode::from(1));
                }
            };
            let study = kakehashi::sdtm::Study::minimal("STATS");
            // Subject ids never leave this command; the demonstration key is enough.
            let mut engine = match kakehashi::sdtm::Engine::new(
                &spec,
                &study,
                kakehashi::sdtm::SubjectKey::demo(),
            ) {
                Ok(e) => e,
                Err(d) => {
                    for x in d {
                        eprintln!("{x}");
                    }
                    return Err(ExitCode::from(1));
                }
            };
            let out = kakehashi::sdtm::convert_resources(&mut engine, resources);
            let s = data::Study::from_datasets(&out.datasets);
            let ja = data::Study::from_datasets(&out.japanese);
            all.extend(stats::facts::subjects(&s, Some(&ja), site.as_deref()));
        }
    }
    if failed {
        eprintln!("error: some input could not be read; no statistics were written");
        return Err(ExitCode::from(1));
    }
    Ok(all)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn write_files(
    dir: &Path,
    stem: &str,
    json: &serde_json::Value,
    csv: &str,
    html: &str,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    write_atomic(&dir.join(format!("{stem}.json")), |w| {
        serde_json::to_writer_pretty(&mut *w, json)?;
        w.write_all(b"\n")
    })?;
    write_atomic(&dir.join(format!("{stem}.csv")), |w| {
        w.write_all(csv.as_bytes())
    })?;
    write_atomic(&dir.join(format!("{stem}.html")), |w| {
        w.write_all(html.as_bytes())
    })?;
    Ok(())
}

fn status_name(s: &stats::suppress::Status) -> &'static str {
    match s {
        stats::suppress::Status::Published => "published",
        stats::suppress::Status::Primary => "primary",
        stats::suppress::Status::Complementary => "complementary",
        stats::suppress::Status::Implied => "implied",
    }
}

pub fn run_stats(a: StatsArgs) -> ExitCode {
    let subjects = match load(&a.common.inputs) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let threshold = a.common.threshold.unwrap_or(stats::DEFAULT_THRESHOLD);
    let s = stats::stats(&subjects, threshold);
    let mut csv = String::from("table,label1,label2,patients,status,mean\n");
    for t in &s.tables {
        for r in &t.rows {
            csv.push_str(&format!(
                "{},{},{},{},{},{}\n",
                csv_field(&t.id),
                csv_field(r.labels.first().map(String::as_str).unwrap_or("")),
                csv_field(r.labels.get(1).map(String::as_str).unwrap_or("")),
                r.count.map(|c| c.to_string()).unwrap_or_default(),
                status_name(&r.status),
                r.mean.map(|m| m.to_string()).unwrap_or_default()
            ));
        }
    }
    let json = serde_json::to_value(&s).unwrap_or_default();
    let html = stats::html::stats_page(&s, "kakehashi statistics");
    if let Err(e) = write_files(&a.common.output, "stats", &json, &csv, &html) {
        eprintln!(
            "error: cannot write under {}: {e}",
            a.common.output.display()
        );
        return ExitCode::from(2);
    }
    let suppressed: usize = s
        .tables
        .iter()
        .flat_map(|t| &t.rows)
        .filter(|r| r.count.is_none())
        .count();
    println!(
        "statistics of {} subject(s): {} table(s), {} cell(s) suppressed (threshold {threshold}) — {}",
        s.subjects.map(|n| n.to_string()).unwrap_or_else(|| format!("fewer than {threshold}")),
        s.tables.len(),
        suppressed,
        a.common.output.join("stats.html").display()
    );
    ExitCode::SUCCESS
}

pub fn run_feasibility(a: FeasibilityArgs) -> ExitCode {
    let criteria = match stats::Criteria::load(&a.criteria) {
        Ok(c) => c,
        Err(d) => {
            for x in d {
                eprintln!("{x}");
            }
            eprintln!("error: the criteria file has errors; nothing was counted");
            return ExitCode::from(1);
        }
    };
    let subjects = match load(&a.common.inputs) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let threshold = a
        .common
        .threshold
        .or(criteria.threshold)
        .unwrap_or(stats::DEFAULT_THRESHOLD);
    let att = stats::attrition(&subjects, &criteria, threshold);
    let mut csv = String::from("step,criterion,site,patients,status\n");
    for c in &att.cells {
        csv.push_str(&format!(
            "{},{},{},{},{}\n",
            c.step,
            csv_field(&c.criterion),
            csv_field(&c.site),
            c.count.map(|n| n.to_string()).unwrap_or_default(),
            status_name(&c.status)
        ));
    }
    let json = serde_json::to_value(&att).unwrap_or_default();
    let html = stats::html::attrition_page(&att);
    if let Err(e) = write_files(&a.common.output, "attrition", &json, &csv, &html) {
        eprintln!(
            "error: cannot write under {}: {e}",
            a.common.output.display()
        );
        return ExitCode::from(2);
    }
    println!("feasibility: {} (threshold {threshold})", att.name);
    print!("  {:<50}", "step");
    for s in &att.sites {
        print!(" {:>8}", format!("site {s}"));
    }
    println!(" {:>8}", "all");
    for (i, step) in att.steps.iter().enumerate() {
        print!("  {:<50}", step.chars().take(50).collect::<String>());
        for c in att.cells.iter().filter(|c| c.step == i) {
            let v = match (c.count, &c.status) {
                (Some(n), _) => n.to_string(),
                (None, stats::suppress::Status::Primary) => "*".into(),
                _ => "**".into(),
            };
            print!(" {v:>8}");
        }
        println!();
    }
    println!("  *: fewer than {threshold}; **: suppressed so that small cells cannot be recovered");
    println!(
        "  written: {}",
        a.common.output.join("attrition.{csv,json,html}").display()
    );
    ExitCode::SUCCESS
}
