use kakehashi::mapping::MappingSet;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub enum Action {
    /// Check every mapping file (schema and semantics): the embedded defaults, overridden
    /// file by file by DIR when given. Exits 1 on any error.
    Check {
        /// Folder with messages/, segments/, datatypes/, codes/ overriding the defaults.
        dir: Option<PathBuf>,
    },
}

pub fn run(a: Action) -> ExitCode {
    match a {
        Action::Check { dir } => match MappingSet::load(dir.as_deref()) {
            Ok(set) => {
                println!(
                    "ok: {} files ({} message maps, {} segment/datatype maps, {} code tables)",
                    set.files.len(),
                    set.messages.len(),
                    set.maps.len(),
                    set.tables.len()
                );
                ExitCode::SUCCESS
            }
            Err(diags) => {
                for d in &diags {
                    eprintln!("{d}\n");
                }
                eprintln!("{} error(s)", diags.iter().filter(|d| d.is_error()).count());
                ExitCode::from(1)
            }
        },
    }
}
