//! Bulk-Data NDJSON output: one `<ResourceType>.ndjson` per type, plus `diagnostics.ndjson`.
//! Files are written under temporary names and renamed when the run completes, so a reader
//! never sees half a file.

use crate::diagnostics::Diagnostic;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

pub struct Writer {
    dir: PathBuf,
    files: BTreeMap<String, BufWriter<File>>,
}

impl Writer {
    pub fn create(dir: &Path) -> std::io::Result<Writer> {
        std::fs::create_dir_all(dir)?;
        Ok(Writer {
            dir: dir.to_path_buf(),
            files: BTreeMap::new(),
        })
    }

    fn tmp(&self, name: &str) -> PathBuf {
        let p = self.dir.join(name);
        let file = p
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        p.with_file_name(format!(".{file}.tmp"))
    }

    fn file(&mut self, name: &str) -> std::io::Result<&mut BufWriter<File>> {
        if !self.files.contains_key(name) {
            if let Some(parent) = self.dir.join(name).parent() {
                std::fs::create_dir_all(parent)?;
            }
            let f = File::create(self.tmp(name))?;
            self.files.insert(name.to_owned(), BufWriter::new(f));
        }
        self.files
            .get_mut(name)
            .ok_or_else(|| std::io::Error::other("writer vanished"))
    }

    pub fn write(&mut self, resource_type: &str, v: &Value) -> std::io::Result<()> {
        let f = self.file(&format!("{resource_type}.ndjson"))?;
        serde_json::to_writer(&mut *f, v)?;
        f.write_all(b"\n")
    }

    pub fn write_diagnostics(&mut self, diags: &[Diagnostic]) -> std::io::Result<()> {
        let f = self.file("diagnostics.ndjson")?;
        for d in diags {
            serde_json::to_writer(&mut *f, d)?;
            f.write_all(b"\n")?;
        }
        Ok(())
    }

    /// One small JSON file written at once (atomically: temporary name, then rename).
    pub fn write_file(&mut self, name: &str, v: &Value) -> std::io::Result<()> {
        let path = self.dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let tmp = self.tmp(name);
        std::fs::write(&tmp, serde_json::to_vec(v)?)?;
        std::fs::rename(tmp, path)
    }

    /// A whole JSON document (pretty-printed), e.g. coverage.json.
    pub fn write_json(&mut self, name: &str, v: &Value) -> std::io::Result<()> {
        let f = self.file(name)?;
        serde_json::to_writer_pretty(&mut *f, v)?;
        f.write_all(b"\n")
    }

    /// Flush everything and move the files into place.
    pub fn finish(mut self) -> std::io::Result<()> {
        let names: Vec<String> = self.files.keys().cloned().collect();
        for name in names {
            if let Some(mut f) = self.files.remove(&name) {
                f.flush()?;
                f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
                std::fs::rename(self.tmp(&name), self.dir.join(&name))?;
            }
        }
        Ok(())
    }
}
