//! Shared by the benchmarks: peak memory, the cached synthetic archive, thread pools. Each
//! benchmark uses only some of it, hence the allow.
#![allow(dead_code)]

use kakehashi::synth::{generate, SynthOptions};
use std::path::{Path, PathBuf};

/// Peak resident memory of this process (VmHWM), in MB.
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// `--patients N` from the bench arguments (default 10,000).
pub fn patients_arg() -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--patients")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000)
}

/// The synthetic archive for `patients`, generated once under target/ and reused.
pub fn synthetic_tree(patients: usize) -> PathBuf {
    let root =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("target/bench-ssmix2-{patients}"));
    let marker = root.with_extension("complete");
    if !marker.exists() {
        let t = std::time::Instant::now();
        let _ = std::fs::remove_dir_all(&root);
        let s = generate(
            &SynthOptions {
                patients,
                seed: 1,
                ..Default::default()
            },
            &root,
        )
        .expect("write synthetic tree");
        std::fs::write(&marker, b"").expect("marker");
        println!(
            "generated {} patients, {} files, {:.1} MB in {:.1} s",
            s.patients,
            s.files,
            s.bytes as f64 / 1e6,
            t.elapsed().as_secs_f64()
        );
    }
    root
}

/// A rayon pool of `n` threads, for the one-thread / all-cores runs of every benchmark.
pub fn pool(n: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .expect("pool")
}
