//! The binary as a user runs it: help for every command, exit codes, output shapes.

mod common;

use common::{bin, repo, shared};
use std::process::Command;

fn run(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(bin()).args(args).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn every_command_has_help() {
    for c in ["inspect", "show", "synth"] {
        let (code, out, _) = run(&[c, "--help"]);
        assert_eq!(code, 0, "{c}");
        assert!(out.contains("Usage: kakehashi"), "{c}: {out}");
    }
}

#[test]
fn inspect_the_bundled_sample() {
    let (code, out, _) = run(&["inspect", repo("fixtures/ssmix2").to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("patients        8"), "{out}");
    assert!(out.contains("0 error(s), 0 warning(s)"), "{out}");
}

#[test]
fn inspect_json_and_exit_code_on_errors() {
    let root = shared("data/ssmix2/nhoHQ__SSMIX2DataTestingTool/sampleData");
    let (code, out, _) = run(&["inspect", "--format", "json", root.to_str().unwrap()]);
    assert_eq!(code, 1, "the deliberately broken sample is an error");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["patients"].as_u64(), Some(2));
    assert!(v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["code"] == "H002"));
}

#[test]
fn deterministic_whatever_the_thread_count() {
    let root = repo("fixtures/ssmix2");
    let (_, a, _) = run(&[
        "--threads",
        "1",
        "inspect",
        "--format",
        "json",
        root.to_str().unwrap(),
    ]);
    let (_, b, _) = run(&[
        "--threads",
        "2",
        "inspect",
        "--format",
        "json",
        root.to_str().unwrap(),
    ]);
    assert_eq!(a, b);
}

#[test]
fn show_prints_fields_and_groups() {
    let f = shared("data/ssmix2/nhoHQ__SSMIX2DataTestingTool/sampleData/999/901/9999013/20111220/OML-11/9999013_20111220_OML-11_000000011000354_20111220103059000_01_1");
    let (code, out, err) = run(&[
        "show",
        "--groups",
        "--get",
        "OBX[2]-5",
        "--get",
        "SPM-4.2",
        f.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("OBX[2]-5 = 7.2"), "{out}");
    assert!(out.contains("SPM-4.2 = 血清"), "{out}");
    assert!(out.contains("    ORDER\n"), "{out}");
    let (code, _, err) = run(&["show", "--get", "PID5", f.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("invalid field path at column 4"), "{err}");
}

#[test]
fn synth_writes_a_tree() {
    let out = tempfile::tempdir().unwrap();
    let (code, _, err) = run(&[
        "synth",
        "-o",
        out.path().to_str().unwrap(),
        "--patients",
        "3",
        "--seed",
        "5",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("wrote 3 patients"));
}
