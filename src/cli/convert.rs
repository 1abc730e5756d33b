use super::progress;
use kakehashi::fhir::{convert_storage, FhirOptions};
use kakehashi::hl7::Offset;
use kakehashi::mapping::MappingSet;
use kakehashi::ssmix2::{StatePolicy, Storage};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub enum Target {
    /// SS-MIX2 storage → FHIR R4 (JP Core) as Bulk-Data NDJSON, one file per resource type.
    Fhir(FhirArgs),
}

#[derive(clap::Args, Debug)]
pub struct FhirArgs {
    /// SS-MIX2 storage roots.
    #[arg(required = true)]
    pub roots: Vec<PathBuf>,
    /// Output folder (created); holds <ResourceType>.ndjson and diagnostics.ndjson.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Folder of mapping files that override or extend the embedded ones, file by file
    /// (messages/, segments/, datatypes/, codes/).
    #[arg(long)]
    pub mappings: Option<PathBuf>,
    /// Facility code (医療機関コード, 10 digits) for Patient.identifier's system.
    #[arg(long, default_value = "0000000000")]
    pub facility: String,
    /// UTC offset for SS-MIX2 times, which carry none (never the host's zone).
    #[arg(long, default_value = "+09:00")]
    pub tz_offset: String,
    /// Data types whose newest file replaces all earlier ones of the patient.
    #[arg(long, value_delimiter = ',', default_value = "ADT-00")]
    pub snapshot_types: Vec<String>,
    /// Also write bundles/<patient>.json: a transaction Bundle per patient, PUT for every
    /// current resource and DELETE for every record whose newest version is flag 0.
    #[arg(long)]
    pub bundles: bool,
    /// Also write superseded and deleted versions to history/<Type>.ndjson
    /// (meta.versionId = the SS-MIX2 timestamp), for audit.
    #[arg(long)]
    pub history: bool,
}

pub fn run(t: Target) -> ExitCode {
    match t {
        Target::Fhir(a) => fhir(a),
    }
}

fn fhir(a: FhirArgs) -> ExitCode {
    let Some(offset) = Offset::parse(&a.tz_offset) else {
        eprintln!("error: --tz-offset must look like +09:00");
        return ExitCode::from(2);
    };
    let set = match MappingSet::load(a.mappings.as_deref()) {
        Ok(s) => s,
        Err(diags) => {
            for d in &diags {
                eprintln!("{d}");
            }
            eprintln!(
                "error: the mapping files have {} error(s); nothing was converted",
                diags.iter().filter(|d| d.is_error()).count()
            );
            return ExitCode::from(1);
        }
    };
    let storage = Storage::open(&a.roots);
    let policy = StatePolicy {
        snapshot_types: a.snapshot_types,
    };
    let opts = FhirOptions {
        facility: a.facility,
        offset,
        bundles: a.bundles,
        history: a.history,
    };
    let pb = progress("converting");
    let r = convert_storage(&storage, &set, &policy, &opts, &a.output, |run| {
        pb.set_message(format!(
            "{} patients, {} resources",
            run.patients,
            run.resources.values().sum::<usize>()
        ));
    });
    pb.finish_and_clear();
    let run = match r {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot write under {}: {e}", a.output.display());
            return ExitCode::from(2);
        }
    };
    println!(
        "patients {}, messages {} ({} converted)",
        run.patients, run.messages, run.messages_converted
    );
    for (t, n) in &run.resources {
        println!("  {t:<20} {n:>8}");
    }
    println!(
        "diagnostics: {} error(s), {} warning(s), {} note(s) — {}",
        run.tally.errors,
        run.tally.warnings,
        run.tally.notes,
        a.output.join("diagnostics.ndjson").display()
    );
    for d in run.diagnostics.iter().filter(|d| d.is_error()).take(10) {
        eprintln!("{d}");
    }
    if run.tally.errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
