//! Output folders that appear whole or not at all.
//!
//! A run writes into a hidden staging folder beside the output (`.OUT.kakehashi-partial`,
//! same parent, so same file system) and, only when everything is written, swaps it into
//! place. On Linux the swap is one `renameat2(RENAME_EXCHANGE)`: at every instant `OUT` is
//! either the previous complete output or the new one. A run killed before the swap leaves
//! `OUT` untouched and a stale staging folder, which the next run removes first.
//!
//! `OUT` is replaced as a whole, so it must be a folder kakehashi wrote (it holds the
//! [`MARKER`] file), an empty folder, or absent: a folder of other files is refused rather
//! than swapped away.

use std::path::{Path, PathBuf};

/// Written into every output folder; names the tool that owns the folder.
pub const MARKER: &str = ".kakehashi-output";

/// Why an output folder cannot be used; the run stops before it writes anything.
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A staging folder for `target`; [`Staging::commit`] puts it in place.
#[derive(Debug)]
pub struct Staging {
    target: PathBuf,
    path: PathBuf,
    committed: bool,
}

fn sibling(target: &Path, suffix: &str) -> Result<PathBuf, Refused> {
    let name = target
        .file_name()
        .ok_or_else(|| Refused(format!("{} does not name a folder", target.display())))?;
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok(parent.join(format!(".{}.{suffix}", name.to_string_lossy())))
}

impl Staging {
    /// Checks `target` and creates an empty staging folder for it. Nothing visible under
    /// `target` changes.
    pub fn begin(target: &Path) -> Result<Staging, Refused> {
        let shown = target.display();
        match std::fs::metadata(target) {
            Ok(m) if !m.is_dir() => {
                return Err(Refused(format!(
                    "the output {shown} exists and is not a folder"
                )))
            }
            Ok(_) => {
                let mut entries = std::fs::read_dir(target).map_err(|e| {
                    Refused(format!("the output folder {shown} cannot be read: {e}"))
                })?;
                let empty = entries.next().is_none();
                if !empty && !target.join(MARKER).is_file() {
                    return Err(Refused(format!(
                        "the output folder {shown} holds files kakehashi did not write; it would be replaced as a whole, so give a new or empty folder"
                    )));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Refused(format!("the output {shown} cannot be used: {e}"))),
        }
        let path = sibling(target, "kakehashi-partial")?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                Refused(format!(
                    "cannot create the folder {} for the output: {e}",
                    parent.display()
                ))
            })?;
        }
        // A staging folder left by a killed run holds nothing anyone relies on.
        if path.exists() {
            std::fs::remove_dir_all(&path).map_err(|e| {
                Refused(format!(
                    "cannot remove the interrupted run's staging folder {}: {e}",
                    path.display()
                ))
            })?;
        }
        std::fs::create_dir(&path).map_err(|e| {
            Refused(format!(
                "cannot write beside {shown} (staging folder {}): {e}",
                path.display()
            ))
        })?;
        std::fs::write(
            path.join(MARKER),
            concat!("kakehashi ", env!("CARGO_PKG_VERSION"), "\n"),
        )
        .map_err(|e| Refused(format!("cannot write in {}: {e}", path.display())))?;
        Ok(Staging {
            target: target.to_path_buf(),
            path,
            committed: false,
        })
    }

    /// Where the run writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Puts the staged output in place of the target (atomically where the OS allows) and
    /// removes the previous output.
    pub fn commit(mut self) -> std::io::Result<()> {
        sync_tree(&self.path)?;
        if self.target.exists() {
            swap_in(&self.path, &self.target)?;
            // `self.path` now holds the previous output.
            std::fs::remove_dir_all(&self.path)?;
        } else {
            std::fs::rename(&self.path, &self.target)?;
        }
        if let Some(parent) = self.target.parent() {
            sync_dir(parent);
        }
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staging {
    /// A run that stops with an error leaves the previous output and no staging folder.
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Flushes every file of the staged tree to disk, so the swap never exposes files whose
/// contents a crash of the machine could still lose.
fn sync_tree(dir: &Path) -> std::io::Result<()> {
    for e in walkdir::WalkDir::new(dir) {
        let e = e.map_err(std::io::Error::other)?;
        if e.file_type().is_file() {
            std::fs::File::open(e.path())?.sync_all()?;
        }
    }
    sync_dir(dir);
    Ok(())
}

fn sync_dir(dir: &Path) {
    // Directory fsync is not possible on every platform; it is best effort.
    if let Ok(f) = std::fs::File::open(dir) {
        let _ = f.sync_all();
    }
}

#[cfg(target_os = "linux")]
fn swap_in(staged: &Path, target: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let a = CString::new(staged.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
    let b = CString::new(target.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
    // SAFETY: both arguments are NUL-terminated paths that outlive the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    // File systems without RENAME_EXCHANGE (some network mounts) take the two-step swap.
    if e.raw_os_error() == Some(libc::EINVAL) || e.raw_os_error() == Some(libc::ENOSYS) {
        return swap_two_step(staged, target);
    }
    Err(e)
}

#[cfg(not(target_os = "linux"))]
fn swap_in(staged: &Path, target: &Path) -> std::io::Result<()> {
    swap_two_step(staged, target)
}

/// The previous output moves aside, the new one takes its name, and the previous output
/// ends where the staging folder was (so `commit` removes it). Between the two renames
/// `OUT` is briefly absent: never a mix.
fn swap_two_step(staged: &Path, target: &Path) -> std::io::Result<()> {
    let aside = sibling(target, "kakehashi-previous").map_err(|r| std::io::Error::other(r.0))?;
    if aside.exists() {
        std::fs::remove_dir_all(&aside)?;
    }
    std::fs::rename(target, &aside)?;
    std::fs::rename(staged, target)?;
    std::fs::rename(&aside, staged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_of_other_files_is_refused_and_left_alone() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("out");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("thesis.docx"), b"x").unwrap();
        let e = Staging::begin(&out).unwrap_err();
        assert!(e.0.contains("did not write"), "{e}");
        assert!(out.join("thesis.docx").is_file());
    }

    #[test]
    fn commit_replaces_the_previous_output_whole() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("out");
        let s = Staging::begin(&out).unwrap();
        std::fs::write(s.path().join("a"), b"1").unwrap();
        s.commit().unwrap();
        assert_eq!(std::fs::read(out.join("a")).unwrap(), b"1");
        let s = Staging::begin(&out).unwrap();
        std::fs::write(s.path().join("b"), b"2").unwrap();
        // Before the commit the previous output is untouched.
        assert!(out.join("a").is_file() && !out.join("b").exists());
        s.commit().unwrap();
        assert!(!out.join("a").exists());
        assert_eq!(std::fs::read(out.join("b")).unwrap(), b"2");
        let left: Vec<_> = std::fs::read_dir(t.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no staging or previous folder is left");
    }

    #[test]
    fn an_abandoned_run_leaves_the_previous_output_and_no_staging() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("out");
        let s = Staging::begin(&out).unwrap();
        std::fs::write(s.path().join("a"), b"1").unwrap();
        s.commit().unwrap();
        {
            let s = Staging::begin(&out).unwrap();
            std::fs::write(s.path().join("a"), b"2").unwrap();
        }
        assert_eq!(std::fs::read(out.join("a")).unwrap(), b"1");
        assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_file_is_not_an_output_folder() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("f");
        std::fs::write(&f, b"x").unwrap();
        assert!(Staging::begin(&f).unwrap_err().0.contains("not a folder"));
    }
}
