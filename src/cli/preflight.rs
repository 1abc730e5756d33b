//! Checks that stop a run before it writes anything (exit 2): input paths that are not
//! there or cannot be read, output folders that cannot be used.

use kakehashi::outdir::Staging;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn refuse(msg: String) -> ExitCode {
    eprintln!("error: {msg}; nothing was written");
    ExitCode::from(2)
}

/// Every SS-MIX2 root is a folder this process can list.
pub fn roots(roots: &[PathBuf]) -> Result<(), ExitCode> {
    for r in roots {
        let shown = r.display();
        match std::fs::metadata(r) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(refuse(format!("the storage root {shown} does not exist")))
            }
            Err(e) => {
                return Err(refuse(format!(
                    "the storage root {shown} cannot be read: {e}"
                )))
            }
            Ok(m) if !m.is_dir() => {
                return Err(refuse(format!("the storage root {shown} is not a folder")))
            }
            Ok(_) => {
                std::fs::read_dir(r)
                    .map_err(|e| refuse(format!("the storage root {shown} cannot be read: {e}")))?;
            }
        }
    }
    Ok(())
}

/// Every input (file or folder) exists and can be opened.
pub fn inputs(paths: &[PathBuf]) -> Result<(), ExitCode> {
    for p in paths {
        let shown = p.display();
        let ok = match std::fs::metadata(p) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(refuse(format!("the input {shown} does not exist")))
            }
            Err(e) => Err(e),
            Ok(m) if m.is_dir() => std::fs::read_dir(p).map(|_| ()),
            Ok(_) => std::fs::File::open(p).map(|_| ()),
        };
        ok.map_err(|e| refuse(format!("the input {shown} cannot be read: {e}")))?;
    }
    Ok(())
}

/// The staging folder the run writes into; the output appears only at `commit`.
pub fn staging(out: &Path) -> Result<Staging, ExitCode> {
    Staging::begin(out).map_err(|r| refuse(r.0))
}

/// Puts a finished run's output in place.
pub fn commit(s: Staging, out: &Path) -> Result<(), ExitCode> {
    s.commit().map_err(|e| {
        eprintln!(
            "error: the output is complete but cannot be moved into {}: {e}",
            out.display()
        );
        ExitCode::from(2)
    })
}
