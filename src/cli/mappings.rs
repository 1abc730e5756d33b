use kakehashi::mapping::MappingSet;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub enum Action {
    /// Run every example written in the mapping files (HL7 in, FHIR out). Exits 1 on any
    /// failure.
    Test {
        /// Folder overriding the embedded mappings, as for `check`.
        dir: Option<PathBuf>,
    },
    /// How many rows of the JAMI SS-MIX2→FHIR ConceptMaps the mappings implement.
    Coverage {
        /// The guide's ConceptMap CSV folder (source-conceptmapgen/fsh).
        #[arg(long)]
        jami: PathBuf,
        /// Folder overriding the embedded mappings, as for `check`.
        #[arg(long)]
        mappings: Option<PathBuf>,
        /// List every row not implemented.
        #[arg(long)]
        missing: bool,
        #[arg(long, value_enum, default_value = "text")]
        format: super::OutputFormat,
    },
    /// Check every mapping file of both stages (schema and semantics, every ViewDefinition
    /// compiled, every table and derivation cross-checked): the embedded defaults, overridden
    /// file by file when folders are given. Exits 1 on any error.
    Check {
        /// Folder with messages/, segments/, datatypes/, codes/ overriding the SS-MIX2 → FHIR
        /// defaults (a `sdtm/` folder inside it overrides the SDTM ones).
        dir: Option<PathBuf>,
        /// Folder with domains/, terminology/ overriding the FHIR → SDTM defaults.
        #[arg(long)]
        sdtm: Option<PathBuf>,
    },
}

/// Load the mappings, printing every error (exit code 1) when they do not check.
fn load(dir: Option<&std::path::Path>) -> Result<MappingSet, ExitCode> {
    MappingSet::load(dir).map_err(|diags| {
        for d in &diags {
            eprintln!("{d}\n");
        }
        eprintln!("{} error(s)", diags.iter().filter(|d| d.is_error()).count());
        ExitCode::from(1)
    })
}

pub fn run(a: Action) -> ExitCode {
    match a {
        Action::Test { dir } => {
            let set = match load(dir.as_deref()) {
                Ok(s) => s,
                Err(code) => return code,
            };
            let results = kakehashi::mapping::examples::run_examples(&set);
            let failed = results.iter().filter(|r| r.failure.is_some()).count();
            for r in &results {
                match &r.failure {
                    None => println!("ok    {} — {}", r.map, r.title),
                    Some(f) => println!("FAIL  {} — {}\n  --> {}\n    {f}", r.map, r.title, r.pos),
                }
            }
            println!("{} passed, {} failed", results.len() - failed, failed);
            if failed > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Action::Coverage {
            jami,
            mappings,
            missing,
            format,
        } => {
            let set = match load(mappings.as_deref()) {
                Ok(s) => s,
                Err(code) => return code,
            };
            let cov = match kakehashi::mapping::coverage::jami_coverage(&jami, &set) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: cannot read {}: {e}", jami.display());
                    return ExitCode::from(2);
                }
            };
            if format == super::OutputFormat::Json {
                println!("{}", serde_json::to_string_pretty(&cov).unwrap_or_default());
                return ExitCode::SUCCESS;
            }
            for f in &cov.files {
                println!(
                    "{:>4}/{:<4} {:<8} {}",
                    f.implemented, f.total, f.kind, f.file
                );
                if missing {
                    for m in &f.missing {
                        println!("            missing: {m}");
                    }
                }
            }
            let pct = if cov.total > 0 {
                100.0 * cov.implemented as f64 / cov.total as f64
            } else {
                0.0
            };
            println!(
                "JAMI ConceptMap rows implemented: {}/{} ({pct:.1}%)",
                cov.implemented, cov.total
            );
            ExitCode::SUCCESS
        }
        Action::Check { dir, sdtm } => {
            let stage1 = load(dir.as_deref());
            if let Ok(set) = &stage1 {
                println!(
                    "ok: SS-MIX2 → FHIR: {} files ({} message maps, {} segment/datatype maps, {} code tables)",
                    set.files.len(),
                    set.messages.len(),
                    set.maps.len(),
                    set.tables.len()
                );
            }
            let sdtm_dir = sdtm.or_else(|| dir.map(|d| d.join("sdtm")).filter(|d| d.is_dir()));
            let stage2 = kakehashi::sdtm::SdtmSpec::load(sdtm_dir.as_deref());
            match &stage2 {
                Ok(spec) => println!(
                    "ok: FHIR → SDTM: {} files ({} domains, {} views, {} terminology tables)",
                    spec.files.len(),
                    spec.domains.len(),
                    spec.domains.iter().map(|d| d.views.len()).sum::<usize>(),
                    spec.terminology.len()
                ),
                Err(diags) => {
                    for d in diags {
                        eprintln!("{d}\n");
                    }
                    eprintln!("{} error(s)", diags.iter().filter(|d| d.is_error()).count());
                }
            }
            if stage1.is_ok() && stage2.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
    }
}
