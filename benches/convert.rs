//! Conversion benchmark: `cargo bench --bench convert [-- --patients N]`.
//!
//! SS-MIX2 → FHIR NDJSON on a synthetic archive (10,000 patients by default, shared with the
//! parse benchmark): messages/s, resources/s, and peak memory, on one thread and all cores.

mod common;

use common::{patients_arg, peak_rss_mb, synthetic_tree};
use kakehashi::fhir::{convert_storage, FhirOptions};
use kakehashi::mapping::MappingSet;
use kakehashi::ssmix2::{StatePolicy, Storage};
use std::path::Path;
use std::time::Instant;

fn main() {
    let patients = patients_arg();
    let root = synthetic_tree(patients);
    let t = Instant::now();
    let set = MappingSet::load(None).expect("mappings");
    println!(
        "kakehashi convert benchmark — {} cores; mappings loaded and checked in {:.0} ms",
        rayon::current_num_threads(),
        t.elapsed().as_secs_f64() * 1e3
    );
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-fhir-out");
    for n in [1, rayon::current_num_threads()] {
        let pool = common::pool(n);
        let t = Instant::now();
        let run = pool.install(|| {
            let storage = Storage::open(std::slice::from_ref(&root));
            convert_storage(
                &storage,
                &set,
                &StatePolicy::default(),
                &FhirOptions::default(),
                &out,
                |_| {},
            )
            .expect("convert")
        });
        let s = t.elapsed().as_secs_f64();
        let resources: usize = run.resources.values().sum();
        println!(
            "SS-MIX2 → NDJSON, {n} thread(s): {} patients, {} messages, {} resources in {:.2} s = {:.0} msg/s, {:.0} resources/s (peak RSS {:.0} MB, {} diagnostics)",
            run.patients,
            run.messages,
            resources,
            s,
            run.messages as f64 / s,
            resources as f64 / s,
            peak_rss_mb(),
            run.diagnostics.len()
        );
    }
}
