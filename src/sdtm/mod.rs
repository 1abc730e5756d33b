//! Stage 2: FHIR R4 → CDISC SDTM, driven by `mappings/sdtm/` (SQL-on-FHIR ViewDefinitions
//! plus declared SDTM metadata and derivations), a study file and a subject key.
//!
//! [`spec`] loads and checks the mapping files, [`engine`] runs them per subject,
//! [`derive`] holds the SDTM derivations, [`assemble`] builds the datasets.

pub mod assemble;
pub mod derive;
pub mod engine;
pub mod functions;
pub mod spec;
pub mod study;
pub mod subject;

use std::path::Path;

use rayon::prelude::*;
use serde_json::Value;

pub use assemble::{Collected, Output};
pub use engine::{Engine, Skip};
pub use spec::SdtmSpec;
pub use study::Study;
pub use subject::SubjectKey;

use crate::formats::Dataset;

/// Converts resources already in memory (any FHIR source) for one study. Subjects run on
/// all cores; output order is USUBJID order, independent of the thread count.
pub fn convert_resources(engine: &mut Engine, resources: Vec<Value>) -> Output {
    engine.select_from(&resources);
    let engine = &*engine;
    let (patients, _other) = engine::by_patient(resources);
    let results: Vec<_> = patients
        .par_iter()
        .map(|(key, rs)| engine.subject(key, rs))
        .collect();
    collect(engine, results)
}

/// Builds the datasets from subject results (in any order: output is USUBJID order).
pub fn collect(engine: &Engine, results: Vec<Result<engine::SubjectOut, Skip>>) -> Output {
    let mut c = Collected::new(engine.spec);
    for r in results {
        c.take(r);
    }
    c.finish()
}

impl Collected<'_> {
    /// Adds a subject result; skipped patients only leave their diagnostic.
    pub fn take(&mut self, r: Result<engine::SubjectOut, Skip>) {
        match r {
            Ok(s) => self.add(s),
            Err(Skip::NoPatient(d)) => self.diagnostics.push(*d),
            Err(Skip::NotSelected) => {}
        }
    }
}

/// Writes `dir/<name>.csv` per dataset (and `dir/ja/` for the Japanese variants). Each file
/// is written to a temporary name and renamed, so files appear complete or not at all.
pub fn write_csv(out: &Output, dir: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut written = Vec::new();
    for (sub, sets) in [("", &out.datasets), ("ja", &out.japanese)] {
        let d = if sub.is_empty() {
            dir.to_path_buf()
        } else {
            dir.join(sub)
        };
        if sets.is_empty() {
            continue;
        }
        std::fs::create_dir_all(&d)?;
        for ds in sets.iter() {
            written.push(write_atomic(
                &d.join(format!("{}.csv", ds.name.to_lowercase())),
                |w| crate::formats::csv::write(ds, w),
            )?);
        }
    }
    Ok(written)
}

pub fn write_atomic(
    path: &Path,
    f: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> std::io::Result<std::path::PathBuf> {
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        f(&mut w)?;
        use std::io::Write;
        w.flush()?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(path.to_path_buf())
}

/// A dataset by name.
pub fn dataset<'o>(out: &'o Output, name: &str) -> Option<&'o Dataset> {
    out.datasets.iter().find(|d| d.name == name)
}
