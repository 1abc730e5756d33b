//! Parse benchmark: `cargo bench --bench parse [-- --patients N]`.
//!
//! Reports messages/s and MB/s, and peak memory (VmHWM), for
//!  1. the shared corpora (../shared/data/hl7v2 + ../shared/data/ssmix2), parse only, one
//!     thread — the same work the peers in ../shared/tools time (decode and split untimed);
//!  2. the same corpora from bytes: decode + parse + group, one thread and all cores;
//!  3. a synthetic archive (10,000 patients by default): walk + current state + read +
//!     decode + parse + group — what `kakehashi inspect` does — one thread and all cores.
//!
//! Peers: `scripts/bench-peers.sh` runs python-hl7, hl7apy, hl7conv2 and @medplum/core on
//! the same corpora.

mod common;

use common::{patients_arg, peak_rss_mb, synthetic_tree};
use kakehashi::diagnostics::Location;
use kakehashi::hl7::{decode, split_messages, Message, Structures};
use kakehashi::ssmix2::inventory::Inventory;
use kakehashi::ssmix2::read::parse_bytes;
use kakehashi::ssmix2::{StatePolicy, Storage};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| {
            let n = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_lowercase();
            !(n == "sources.txt"
                || n.ends_with(".md")
                || n.ends_with(".json")
                || n.ends_with(".xml")
                || n.ends_with(".yml")
                || n.ends_with(".yaml")
                || n.ends_with(".csv"))
        })
        .collect();
    v.sort();
    v
}

/// Repeat `f` (which processes `n` messages of `bytes` bytes) for at least `min`.
fn rate(label: &str, n: usize, bytes: usize, min: Duration, mut f: impl FnMut()) {
    let t = Instant::now();
    let mut reps = 0u64;
    while t.elapsed() < min || reps == 0 {
        f();
        reps += 1;
    }
    let s = t.elapsed().as_secs_f64();
    let msgs = n as f64 * reps as f64 / s;
    let mbs = bytes as f64 * reps as f64 / s / 1e6;
    println!(
        "{label:<58} {msgs:>12.0} msg/s {mbs:>9.1} MB/s   ({reps} reps, peak RSS {:.0} MB)",
        peak_rss_mb()
    );
}

fn main() {
    let patients = patients_arg();
    let threads = rayon::current_num_threads();
    let structures = Structures::default_set();
    let min = Duration::from_secs(2);
    println!("kakehashi parse benchmark — {} cores", threads);

    // 1-2. Shared corpora.
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    let mut corpus_files = files(&shared.join("hl7v2"));
    corpus_files.extend(files(&shared.join("ssmix2")));
    let raw: Vec<Vec<u8>> = corpus_files
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .collect();
    let raw_bytes: usize = raw.iter().map(Vec::len).sum();
    let texts: Vec<String> = raw
        .iter()
        .flat_map(|b| {
            split_messages(&decode(b).text)
                .0
                .into_iter()
                .map(|(t, _)| t)
        })
        .collect();
    let text_bytes: usize = texts.iter().map(String::len).sum();
    println!(
        "\nshared corpus: {} files, {} messages, {:.2} MB",
        raw.len(),
        texts.len(),
        raw_bytes as f64 / 1e6
    );
    rate(
        "parse only, 1 thread (like the peers)",
        texts.len(),
        text_bytes,
        min,
        || {
            for t in &texts {
                std::hint::black_box(Message::parse(t.clone()).ok());
            }
        },
    );
    rate(
        &format!("parse only, {threads} threads"),
        texts.len(),
        text_bytes,
        min,
        || {
            texts.par_iter().for_each(|t| {
                std::hint::black_box(Message::parse(t.clone()).ok());
            });
        },
    );
    rate(
        "parse + segment groups, 1 thread",
        texts.len(),
        text_bytes,
        min,
        || {
            for t in &texts {
                if let Ok((m, _)) = Message::parse(t.clone()) {
                    std::hint::black_box(structures.group(&m));
                }
            }
        },
    );
    let loc = Location::default();
    rate(
        "decode + parse + groups from bytes, 1 thread",
        texts.len(),
        raw_bytes,
        min,
        || {
            for b in &raw {
                std::hint::black_box(parse_bytes(b, &structures, &loc));
            }
        },
    );
    rate(
        &format!("decode + parse + groups from bytes, {threads} threads"),
        texts.len(),
        raw_bytes,
        min,
        || {
            raw.par_iter().for_each(|b| {
                std::hint::black_box(parse_bytes(b, &structures, &loc));
            });
        },
    );

    // 3. Synthetic archive.
    let root = synthetic_tree(patients);
    for n in [1, threads] {
        let pool = common::pool(n);
        let t = Instant::now();
        let inv = pool.install(|| {
            let storage = Storage::open(std::slice::from_ref(&root));
            Inventory::of_storage(&storage, &structures, &StatePolicy::default(), |_| {})
        });
        let s = t.elapsed().as_secs_f64();
        if n == 1 {
            println!(
                "\nsynthetic archive: {} patients, {} files, {:.1} MB, {} diagnostics",
                inv.patients,
                inv.files,
                inv.bytes as f64 / 1e6,
                inv.diagnostics.len()
            );
        }
        println!(
            "{:<58} {:>12.0} msg/s {:>9.1} MB/s   ({:.2} s, peak RSS {:.0} MB)",
            format!("walk + state + read + decode + parse + groups, {n} thread(s)"),
            inv.messages_parsed as f64 / s,
            inv.bytes as f64 / s / 1e6,
            s,
            peak_rss_mb()
        );
    }
}
