//! FHIR → SDTM benchmark: `cargo bench --bench sdtm [-- --patients N]`.
//!
//! 1. `convert sdtm` on the Synthea sample (`../shared/data/fhir/synthea-r4-sample`):
//!    resources/s and SDTM rows/s, stage 2 alone (input already parsed).
//! 2. SS-MIX2 → FHIR → SDTM in one pass on the synthetic archive (10,000 patients by
//!    default, shared with the other benchmarks), one thread and all cores.

mod common;

use common::{patients_arg, peak_rss_mb, synthetic_tree};
use kakehashi::fhir::{convert_storage_with, FhirOptions};
use kakehashi::mapping::MappingSet;
use kakehashi::sdtm::{Engine, SdtmSpec, Study, SubjectKey};
use kakehashi::ssmix2::{StatePolicy, Storage};
use std::path::Path;
use std::time::Instant;

fn rows(out: &kakehashi::sdtm::Output) -> usize {
    out.datasets.iter().map(|d| d.rows.len()).sum()
}

fn main() {
    let t = Instant::now();
    let spec = SdtmSpec::load(None).expect("SDTM mappings");
    let study = Study::minimal("BENCH");
    println!(
        "kakehashi SDTM benchmark — {} cores; SDTM mappings loaded and checked in {:.0} ms",
        rayon::current_num_threads(),
        t.elapsed().as_secs_f64() * 1e3
    );
    let synthea =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/fhir/synthea-r4-sample");
    let (resources, _) = kakehashi::fhir::input::read_all(&[synthea]);
    for n in [1, rayon::current_num_threads()] {
        let pool = common::pool(n);
        let mut best = f64::MAX;
        let mut out = None;
        for _ in 0..5 {
            let input = resources.clone();
            let t = Instant::now();
            let o = pool.install(|| {
                let mut engine = Engine::new(&spec, &study, SubjectKey::demo()).expect("engine");
                kakehashi::sdtm::convert_resources(&mut engine, input)
            });
            best = best.min(t.elapsed().as_secs_f64());
            out = Some(o);
        }
        let o = out.expect("ran");
        println!(
            "Synthea FHIR → SDTM, {n} thread(s): {} resources → {} rows in {:.3} s = {:.0} resources/s, {:.0} rows/s",
            o.resources,
            rows(&o),
            best,
            o.resources as f64 / best,
            rows(&o) as f64 / best
        );
    }
    let patients = patients_arg();
    let root = synthetic_tree(patients);
    let set = MappingSet::load(None).expect("mappings");
    let fhir_out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-e2e-fhir");
    for n in [1, rayon::current_num_threads()] {
        let pool = common::pool(n);
        let engine = Engine::new(&spec, &study, SubjectKey::demo()).expect("engine");
        let t = Instant::now();
        let (run, out) = pool.install(|| {
            let storage = Storage::open(std::slice::from_ref(&root));
            let mut collected = kakehashi::sdtm::Collected::new(&spec);
            let next = |rs: &[serde_json::Value]| engine.storage_patient(rs);
            let run = convert_storage_with(
                &storage,
                &set,
                &StatePolicy::default(),
                &FhirOptions::default(),
                &fhir_out,
                |_| {},
                &next,
                |rs| {
                    for r in rs {
                        collected.take(r);
                    }
                },
            )
            .expect("convert");
            (run, collected.finish())
        });
        let s = t.elapsed().as_secs_f64();
        let resources: usize = run.resources.values().sum();
        println!(
            "SS-MIX2 → FHIR → SDTM one pass, {n} thread(s): {} patients, {} messages, {} resources, {} SDTM rows in {:.2} s = {:.0} msg/s, {:.0} resources/s, {:.0} rows/s (peak RSS {:.0} MB)",
            run.patients,
            run.messages,
            resources,
            rows(&out),
            s,
            run.messages as f64 / s,
            resources as f64 / s,
            rows(&out) as f64 / s,
            peak_rss_mb()
        );
    }
}
