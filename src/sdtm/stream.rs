//! FHIR input larger than memory. The SDTM engine needs all of a patient's resources at
//! once, but Bulk-Data NDJSON spreads them over one file per resource type. So large input
//! is read once and spilled into buckets by a hash of the patient (each resource written
//! as one NDJSON line to `bucket-N.ndjson`), then converted bucket by bucket, subjects in
//! parallel within a bucket: memory holds one bucket of resources, not the input.
//! Resources of no patient (Group, Medication, Organization …) stay in memory; they are
//! few. Input under one bucket's size is converted in memory directly.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde_json::Value;

use super::engine::{by_patient, Engine};
use super::subject::patient_of;
use super::{Collected, Output};
use crate::diagnostics::Diagnostic;
use crate::fhir::input;

/// Input bytes per bucket when the count is chosen automatically.
pub const BUCKET_BYTES: u64 = 64 << 20;

/// FNV-1a: a fixed hash, so bucket assignment (and so the output) never varies.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// How many buckets: `requested`, or one per [`BUCKET_BYTES`] of input.
pub fn bucket_count(files: &[PathBuf], requested: usize) -> usize {
    if requested > 0 {
        return requested;
    }
    let total: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    total.div_ceil(BUCKET_BYTES).max(1) as usize
}

/// Converts every FHIR file under `paths`; `spill` is a scratch folder (created and
/// removed) used when the input needs more than one bucket.
pub fn convert_paths(
    engine: &mut Engine,
    paths: &[PathBuf],
    buckets: usize,
    spill: &Path,
    progress: &dyn Fn(String),
) -> std::io::Result<(Output, Vec<Diagnostic>)> {
    let files = input::files(paths);
    let n = bucket_count(&files, buckets);
    let mut diags = Vec::new();
    if n == 1 {
        let mut resources = Vec::new();
        for f in &files {
            input::read_file(f, &mut resources, &mut diags);
        }
        progress(format!("converting {} resources", resources.len()));
        return Ok((super::convert_resources(engine, resources), diags));
    }
    std::fs::create_dir_all(spill)?;
    let bucket_path = |i: usize| spill.join(format!("bucket-{i:04}.ndjson"));
    let mut writers = (0..n)
        .map(|i| std::fs::File::create(bucket_path(i)).map(std::io::BufWriter::new))
        .collect::<std::io::Result<Vec<_>>>()?;
    let mut others = Vec::new();
    let mut failure: Option<std::io::Error> = None;
    let mut spilled = 0usize;
    for f in &files {
        input::for_each_in_file(
            f,
            &mut |v: Value| {
                let rt = v.get("resourceType").and_then(Value::as_str).unwrap_or("");
                // Subject selection reads these before any subject is converted.
                let selection = matches!(rt, "Group" | "ResearchSubject" | "ResearchStudy");
                match patient_of(&v) {
                    Some(key) => {
                        if selection {
                            others.push(v.clone());
                        }
                        let w = &mut writers[(fnv(&key) % n as u64) as usize];
                        let r = serde_json::to_writer(&mut *w, &v)
                            .map_err(std::io::Error::other)
                            .and_then(|_| w.write_all(b"\n"));
                        if let Err(e) = r {
                            failure.get_or_insert(e);
                        }
                        spilled += 1;
                    }
                    None => others.push(v),
                }
            },
            &mut diags,
        );
        progress(format!("spilled {spilled} resources into {n} buckets"));
    }
    if let Some(e) = failure {
        let _ = std::fs::remove_dir_all(spill);
        return Err(e);
    }
    for w in &mut writers {
        w.flush()?;
    }
    drop(writers);
    engine.select_from(&others);
    engine.share(others.into_iter().filter(|r| patient_of(r).is_none()));
    let engine = &*engine;
    let mut collected = Collected::new(engine.spec);
    for i in 0..n {
        let p = bucket_path(i);
        let mut resources = Vec::new();
        for line in std::io::BufReader::new(std::fs::File::open(&p)?).split(b'\n') {
            let line = line?;
            if !line.is_empty() {
                // Written by us just above from parsed JSON: it parses.
                resources.push(serde_json::from_slice(&line).map_err(std::io::Error::other)?);
            }
        }
        std::fs::remove_file(&p)?;
        let (patients, _) = by_patient(resources);
        let results: Vec<_> = patients
            .par_iter()
            .map(|(k, rs)| engine.subject(k, rs))
            .collect();
        for r in results {
            collected.take(r);
        }
        progress(format!("converted bucket {} of {n}", i + 1));
    }
    let _ = std::fs::remove_dir_all(spill);
    Ok((collected.finish(), diags))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_bucket_hash_is_fixed() {
        assert_eq!(super::fnv(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(super::fnv("Patient/1") % 7, super::fnv("Patient/1") % 7);
        assert_ne!(super::fnv("Patient/1"), super::fnv("Patient/2"));
    }
}
