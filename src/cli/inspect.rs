use super::{progress, OutputFormat};
use kakehashi::hl7::Structures;
use kakehashi::ssmix2::inventory::Inventory;
use kakehashi::ssmix2::{StatePolicy, Storage};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// SS-MIX2 storage roots (folders holding PID[0:3]/PID[3:6]/PID/…); several roots are merged.
    #[arg(required = true)]
    pub roots: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
    /// Data types whose newest file replaces all earlier ones of the patient.
    #[arg(long, value_delimiter = ',', default_value = "ADT-00")]
    pub snapshot_types: Vec<String>,
    /// How many warnings/errors to print in full (text format).
    #[arg(long, default_value_t = 20)]
    pub max_diagnostics: usize,
}

pub fn run(a: Args) -> ExitCode {
    let structures = Structures::default_set();
    let policy = StatePolicy {
        snapshot_types: a.snapshot_types,
    };
    let storage = Storage::open(&a.roots);
    let pb = progress("reading storage");
    let inv = Inventory::of_storage(&storage, &structures, &policy, |inv| {
        pb.set_message(format!("{} patients, {} files", inv.patients, inv.files));
    });
    pb.finish_and_clear();
    match a.format {
        OutputFormat::Text => print!("{}", inv.render(a.max_diagnostics)),
        OutputFormat::Json => match serde_json::to_string_pretty(&inv) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
    }
    if inv.tally.errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
