//! The whole pipeline against the cost of reading its input (issue 16):
//! `cargo bench --bench pipeline [-- --sizes 300,2000] [--runs 3]`.
//!
//! For each size it generates a `synth` archive (cached under target/), then, in the same
//! run, times the raw read (`find ROOT -type f | xargs cat`, the floor), `inspect`,
//! `convert fhir`, `convert sdtm` on that NDJSON and `convert` end to end, each as the
//! release binary a user runs, and prints the ratios beside the targets. Peak RSS is
//! the child's own (`wait4`), not this process's. Times are the best of `--runs` runs, the
//! cache warm. The targets are reported, not asserted: a benchmark is not a test.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_kakehashi");

struct Run {
    secs: f64,
    rss_mb: f64,
    stdout: String,
}

/// Runs `cmd` to completion and returns its wall time, its peak RSS and its stdout.
fn run(cmd: &mut Command) -> Run {
    let out_file = tempfile::NamedTempFile::new().expect("temp file");
    let t = Instant::now();
    let child = cmd
        .stdout(Stdio::from(out_file.reopen().expect("reopen")))
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pid is our child's and has not been waited for.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let secs = t.elapsed().as_secs_f64();
    assert!(pid > 0, "wait4 failed");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) <= 1,
        "{cmd:?} failed with status {status}"
    );
    Run {
        secs,
        rss_mb: usage.ru_maxrss as f64 / 1024.0,
        stdout: std::fs::read_to_string(out_file.path()).unwrap_or_default(),
    }
}

/// The kakehashi binary with these arguments.
fn kk(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args.iter().map(|a| a.as_ref()));
    c
}

fn best(runs: usize, mut make: impl FnMut() -> Command, before: impl Fn()) -> Run {
    let mut best: Option<Run> = None;
    for _ in 0..runs {
        before();
        let r = run(&mut make());
        if best.as_ref().is_none_or(|b| r.secs < b.secs) {
            best = Some(r);
        }
    }
    best.expect("at least one run")
}

/// The first number after `word` in a command's summary (`messages 5446`).
fn number_after(text: &str, word: &str) -> f64 {
    text.split(word)
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.trim_matches(|c: char| !c.is_ascii_digit()).parse().ok())
        .unwrap_or(f64::NAN)
}

/// The bytes of NDJSON belonging to the patient with the most, in MB: the "largest patient's
/// resources" the memory target is stated against.
fn largest_patient_mb(fhir: &Path) -> f64 {
    let mut per: HashMap<String, usize> = HashMap::new();
    for e in std::fs::read_dir(fhir).expect("fhir dir").flatten() {
        let p = e.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !name.ends_with(".ndjson") || name == "diagnostics.ndjson" {
            continue;
        }
        let text = std::fs::read_to_string(&p).expect("ndjson");
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let key = if v["resourceType"] == "Patient" {
                format!("Patient/{}", v["id"].as_str().unwrap_or(""))
            } else {
                ["subject", "patient", "beneficiary"]
                    .iter()
                    .find_map(|k| v[k]["reference"].as_str())
                    .unwrap_or("")
                    .to_owned()
            };
            *per.entry(key).or_default() += line.len() + 1;
        }
    }
    per.values().copied().max().unwrap_or(0) as f64 / 1e6
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

fn main() {
    let sizes: Vec<usize> = arg("--sizes")
        .unwrap_or_else(|| "300,2000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let runs: usize = arg("--runs").and_then(|s| s.parse().ok()).unwrap_or(3);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let study = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/studies/minimal.yaml");
    let work = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-pipeline");
    println!("kakehashi pipeline benchmark — {threads} cores, best of {runs} run(s), warm cache");
    for n in sizes {
        let root: PathBuf = common::synthetic_tree(n);
        let fhir = work.join(format!("fhir-{n}"));
        let sdtm = work.join(format!("sdtm-{n}"));
        let both = work.join(format!("both-{n}"));
        let clear = |p: &Path| {
            let _ = std::fs::remove_dir_all(p);
        };
        // One untimed read first, so that "warm cache" holds even with --runs 1.
        let _ = run(Command::new("sh")
            .arg("-c")
            .arg("find \"$0\" -type f -print0 | xargs -0 cat > /dev/null")
            .arg(&root));
        let raw = best(
            runs,
            || {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg("find \"$0\" -type f -print0 | xargs -0 cat > /dev/null")
                    .arg(&root);
                c
            },
            || {},
        );
        let inspect = best(runs, || kk(&[&"inspect", &root]), || {});
        let fhir_run = best(
            runs,
            || kk(&[&"convert", &"fhir", &root, &"-o", &fhir]),
            || clear(&fhir),
        );
        let sdtm_run = best(
            runs,
            || {
                kk(&[
                    &"convert",
                    &"sdtm",
                    &fhir,
                    &"--study",
                    &study,
                    &"--demo-key",
                    &"-o",
                    &sdtm,
                ])
            },
            || clear(&sdtm),
        );
        let e2e = best(
            runs,
            || {
                kk(&[
                    &"convert",
                    &root,
                    &"--study",
                    &study,
                    &"--demo-key",
                    &"-o",
                    &both,
                ])
            },
            || clear(&both),
        );
        let messages = number_after(&fhir_run.stdout, "messages ");
        // "… 28855 resource(s) written": the number before the words.
        let resources: f64 = fhir_run
            .stdout
            .split("resource(s) written")
            .next()
            .and_then(|s| s.split_whitespace().last())
            .and_then(|s| s.parse().ok())
            .unwrap_or(f64::NAN);
        let largest = largest_patient_mb(&fhir);
        // In-memory stage 2: the end-to-end run minus its stage 1.
        let in_memory = (e2e.secs - fhir_run.secs).max(1e-3);
        let floor = raw.secs.max(1e-3);
        println!();
        println!(
            "{n} patients: {messages} messages, {resources} resources; largest patient's resources {largest:.2} MB"
        );
        println!(
            "| step | time | rate | × raw read | peak RSS | target | |\n|---|---:|---:|---:|---:|---|---|"
        );
        println!(
            "| raw read (`find`, `xargs cat`) | {:.2} s | | 1.0× | | floor | |",
            raw.secs
        );
        println!(
            "| `inspect` | {:.2} s | {:.0} msg/s | {:.1}× | {:.0} MB | ≤ 2× raw read | {} |",
            inspect.secs,
            messages / inspect.secs,
            inspect.secs / floor,
            inspect.rss_mb,
            verdict(inspect.secs / floor <= 2.0)
        );
        println!(
            "| `convert fhir` | {:.2} s | {:.0} msg/s | {:.1}× | {:.0} MB | ≥ 20,000 msg/s | {} |",
            fhir_run.secs,
            messages / fhir_run.secs,
            fhir_run.secs / floor,
            fhir_run.rss_mb,
            verdict(messages / fhir_run.secs >= 20_000.0)
        );
        println!(
            "| `convert sdtm` (NDJSON) | {:.2} s | {:.0} res/s | {:.1}× | {:.0} MB | ≥ 100,000 res/s | {} |",
            sdtm_run.secs,
            resources / sdtm_run.secs,
            sdtm_run.secs / floor,
            sdtm_run.rss_mb,
            verdict(resources / sdtm_run.secs >= 100_000.0)
        );
        println!(
            "| stage 2 in memory (`convert` − `convert fhir`) | {:.2} s | {:.0} res/s | {:.1}× | | ≥ 100,000 res/s | {} |",
            in_memory,
            resources / in_memory,
            in_memory / floor,
            verdict(resources / in_memory >= 100_000.0)
        );
        println!(
            "| `convert` end to end | {:.2} s | {:.0} msg/s | {:.1}× | {:.0} MB | ≤ 5× raw read | {} |",
            e2e.secs,
            messages / e2e.secs,
            e2e.secs / floor,
            e2e.rss_mb,
            verdict(e2e.secs / floor <= 5.0)
        );
        println!(
            "peak RSS of `convert sdtm` = {:.0}× the largest patient's resources ({:.0} MB over 3× that)",
            sdtm_run.rss_mb / largest.max(1e-6),
            sdtm_run.rss_mb - 3.0 * largest
        );
    }
}
