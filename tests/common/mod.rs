//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// `../shared/<rel>` next to the repository. Tests that need it fail loudly (never pass
/// silently) when it is missing.
pub fn shared(rel: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("shared")
        .join(rel);
    assert!(
        p.exists(),
        "missing reference data {}: these tests read ../shared/ beside the repository (see README)",
        p.display()
    );
    p
}

pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    v.sort();
    v
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kakehashi"))
}

pub fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Convert `roots` to FHIR under `out` with bundles and history, default mappings and state.
pub fn convert_all(roots: &[PathBuf], out: &Path) -> kakehashi::fhir::FhirRun {
    let set = kakehashi::mapping::MappingSet::load(None).expect("embedded mappings load");
    let opts = kakehashi::fhir::FhirOptions {
        bundles: true,
        history: true,
        ..Default::default()
    };
    let storage = kakehashi::ssmix2::Storage::open(roots);
    kakehashi::fhir::convert_storage(
        &storage,
        &set,
        &kakehashi::ssmix2::StatePolicy::default(),
        &opts,
        out,
        |_| {},
    )
    .expect("convert")
}
