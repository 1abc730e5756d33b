//! The command line: flags, progress, exit codes. Calls the library stages; prints what
//! they return. Exit codes: 0 success, 1 the input had errors (diagnostics were printed),
//! 2 the command itself could not run (bad flags, unwritable output).

pub mod convert;
pub mod inspect;
pub mod mappings;
pub mod preflight;
pub mod reconcile;
pub mod show;
pub mod stats;
pub mod synth;
pub mod validate;
pub mod views;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(name = "kakehashi", version, about = "SS-MIX2 (Japanese hospital HL7 v2.5 storage) → FHIR R4 → CDISC SDTM", long_about = None)]
pub struct Cli {
    /// Worker threads (default: all cores). Output does not depend on it.
    #[arg(long, global = true)]
    pub threads: Option<usize>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Convert: SS-MIX2 roots with --study (both stages), or one stage: `convert fhir`,
    /// `convert sdtm`.
    Convert(Box<convert::ConvertCmd>),
    /// Check mapping files (schema + semantics), for users' CI.
    #[command(subcommand)]
    Mappings(mappings::Action),
    /// Inventory of SS-MIX2 storage roots: patients, data types, versions, encodings, diagnostics.
    Inspect(inspect::Args),
    /// Decode and parse one HL7 v2 file; print its segments, groups and chosen fields.
    Show(show::Args),
    /// Write a deterministic synthetic SS-MIX2 archive.
    Synth(synth::Args),
    /// Write a deterministic year of home and smart-device measurements (FHIR R4 Bulk NDJSON).
    SynthPhr(synth::PhrArgs),
    /// SDTM conformance of a folder of datasets (XPT, Dataset-JSON, Open Rules CSV).
    Validate(Box<validate::Args>),
    /// Aggregate statistics (demographics, conditions, drugs, lab distributions, vital
    /// trends) from SDTM or FHIR, small cells suppressed; CSV, JSON and an HTML page.
    Stats(stats::StatsArgs),
    /// Feasibility counts for a criteria file: an attrition table per site, small cells
    /// and anything that would recover them suppressed.
    Feasibility(stats::FeasibilityArgs),
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    if let Some(n) = cli.threads {
        if let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()
        {
            eprintln!("error: cannot set up {n} threads: {e}");
            return ExitCode::from(2);
        }
    }
    match cli.command {
        Command::Convert(c) => convert::run_cmd(*c),
        Command::Mappings(a) => mappings::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Show(a) => show::run(a),
        Command::Synth(a) => synth::run(a),
        Command::SynthPhr(a) => synth::run_phr(a),
        Command::Validate(a) => validate::run(*a),
        Command::Stats(a) => stats::run_stats(a),
        Command::Feasibility(a) => stats::run_feasibility(a),
    }
}

/// A spinner on stderr for long runs; invisible when stderr is not a terminal.
pub fn progress(what: &str) -> indicatif::ProgressBar {
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {elapsed} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    pb.set_message(what.to_owned());
    pb.enable_steady_tick(std::time::Duration::from_millis(200));
    pb
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    Text,
    Json,
}
