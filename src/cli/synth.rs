use kakehashi::synth::{generate, LabSet, SynthOptions};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Output storage root.
    #[arg(short, long)]
    pub output: PathBuf,
    #[arg(long, default_value_t = 10)]
    pub patients: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// First care date (YYYY-MM-DD); activity spreads over the following months.
    #[arg(long, default_value = "2024-01-01")]
    pub start: chrono::NaiveDate,
    /// Lab tests the orders draw from: `common` (a dozen tests and a hospital-local code) or
    /// `jp-clins` (the JP-CLINS core and infection sets, 108 items).
    #[arg(long, value_enum, default_value_t = LabSetArg::Common)]
    pub lab_set: LabSetArg,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum LabSetArg {
    Common,
    JpClins,
}

pub fn run(a: Args) -> ExitCode {
    let opts = SynthOptions {
        patients: a.patients,
        seed: a.seed,
        start: a.start,
        lab_set: match a.lab_set {
            LabSetArg::Common => LabSet::Common,
            LabSetArg::JpClins => LabSet::JpClins,
        },
    };
    let pb = super::progress(&format!("writing {} synthetic patients", a.patients));
    let r = generate(&opts, &a.output);
    pb.finish_and_clear();
    match r {
        Ok(s) => {
            eprintln!(
                "wrote {} patients, {} files, {} bytes to {}",
                s.patients,
                s.files,
                s.bytes,
                a.output.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "error: cannot write the archive under {}: {e}",
                a.output.display()
            );
            ExitCode::from(2)
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct PhrArgs {
    /// Output folder for the NDJSON files (Patient, Device, Observation).
    #[arg(short, long)]
    pub output: PathBuf,
    #[arg(long, default_value_t = 10)]
    pub subjects: usize,
    /// Days of measurements per subject.
    #[arg(long, default_value_t = 365)]
    pub days: u32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// First measurement day (YYYY-MM-DD).
    #[arg(long, default_value = "2024-01-01")]
    pub start: chrono::NaiveDate,
}

pub fn run_phr(a: PhrArgs) -> ExitCode {
    let opts = kakehashi::synth::phr::PhrOptions {
        subjects: a.subjects,
        days: a.days,
        seed: a.seed,
        start: a.start,
    };
    match kakehashi::synth::phr::write(&opts, &a.output) {
        Ok((files, resources)) => {
            eprintln!(
                "wrote {resources} resources for {} subjects in {files} NDJSON files to {}",
                a.subjects,
                a.output.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot write under {}: {e}", a.output.display());
            ExitCode::from(2)
        }
    }
}
