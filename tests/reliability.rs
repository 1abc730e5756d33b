//! Issue 13: bad invocations stop before anything is written, corrupted messages are all
//! accounted for, and an interrupted run never leaves a half-written output.

mod common;

use common::bin;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

fn study() -> PathBuf {
    common::repo("fixtures/studies/minimal.yaml")
}

fn sample() -> PathBuf {
    common::repo("fixtures/ssmix2")
}

fn convert(args: &[OsString]) -> std::process::Output {
    Command::new(bin())
        .arg("convert")
        .args(args)
        .env_remove("KAKEHASHI_SUBJECT_KEY")
        .output()
        .unwrap()
}

/// `ROOT --study STUDY <extra…> -o OUT`: the one-pass conversion's arguments.
fn one_pass(root: &Path, study: &Path, extra: &[&str], out: &Path) -> Vec<OsString> {
    let mut a: Vec<OsString> = vec![root.into(), "--study".into(), study.into()];
    a.extend(extra.iter().map(OsString::from));
    a.extend(["-o".into(), out.into()]);
    a
}

/// Runs a bad invocation and checks: exit 2, a message naming `names`, nothing written at
/// `out` (or `out` unchanged), and no staging folder left beside it.
fn refused(args: &[OsString], out: &Path, names: &str) {
    let before = snapshot(out);
    let o = convert(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(names), "the message names {names}: {err}");
    assert_eq!(
        snapshot(out),
        before,
        "nothing is written at {}",
        out.display()
    );
    if let Some(parent) = out.parent().filter(|p| p.is_dir()) {
        for e in std::fs::read_dir(parent).unwrap() {
            let n = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!n.contains("kakehashi-partial"), "staging left: {n}");
        }
    }
}

/// Every file under `p` with its bytes (empty when `p` does not exist).
fn snapshot(p: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    if p.is_file() {
        return BTreeMap::from([(p.to_path_buf(), std::fs::read(p).unwrap())]);
    }
    common::files_under(p)
        .into_iter()
        .map(|f| {
            let b = std::fs::read(&f).unwrap();
            (f.strip_prefix(p).unwrap().to_path_buf(), b)
        })
        .collect()
}

fn os(s: &str) -> OsString {
    s.into()
}

#[test]
fn issue13_a_missing_root_stops_the_run_before_anything_is_written() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let missing = t.path().join("no-such-root");
    let named = missing.display().to_string();
    refused(
        &one_pass(&missing, &study(), &["--demo-key"], &out),
        &out,
        &named,
    );
    refused(
        &[
            os("fhir"),
            missing.clone().into(),
            os("-o"),
            out.clone().into(),
        ],
        &out,
        &named,
    );
    let mut sdtm = vec![os("sdtm")];
    sdtm.extend(one_pass(&missing, &study(), &["--demo-key"], &out));
    refused(&sdtm, &out, &named);
    // A root that is a file is no better.
    let file = t.path().join("root.txt");
    std::fs::write(&file, b"x").unwrap();
    refused(
        &one_pass(&file, &study(), &["--demo-key"], &out),
        &out,
        "is not a folder",
    );
}

#[test]
fn issue13_an_output_that_is_a_file_or_cannot_be_created_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let file = t.path().join("out.txt");
    std::fs::write(&file, b"keep me").unwrap();
    let args = |out: &Path| one_pass(&sample(), &study(), &["--demo-key"], out);
    refused(&args(&file), &file, "not a folder");
    // Below a file: no folder can be made there, whoever runs the test (root included).
    let below = file.join("out");
    refused(&args(&below), &below, "out.txt");
    // A folder of someone else's files would be swapped away as a whole: refused.
    let theirs = t.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::fs::write(theirs.join("notes.txt"), b"mine").unwrap();
    refused(&args(&theirs), &theirs, "did not write");
}

#[test]
fn issue13_a_missing_or_invalid_study_file_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let missing = t.path().join("study.yaml");
    refused(
        &one_pass(&sample(), &missing, &["--demo-key"], &out),
        &out,
        "study.yaml",
    );
    let bad = t.path().join("bad.yaml");
    std::fs::write(&bad, "study_id: [unclosed\n").unwrap();
    refused(
        &one_pass(&sample(), &bad, &["--demo-key"], &out),
        &out,
        "bad.yaml",
    );
}

#[test]
fn issue13_a_short_key_and_an_unknown_format_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let key = t.path().join("key");
    std::fs::write(&key, b"too-short").unwrap();
    let key_flag = ["--subject-key-file", key.to_str().unwrap()];
    refused(
        &one_pass(&sample(), &study(), &key_flag, &out),
        &out,
        "at least 16 bytes",
    );
    let format = ["--demo-key", "--format", "xpt,sas7bdat"];
    refused(
        &one_pass(&sample(), &study(), &format, &out),
        &out,
        "sas7bdat",
    );
}

/// A `kakehashi synth` archive of `patients` under `dir/archive`.
fn synth_archive(dir: &Path, patients: usize) -> PathBuf {
    let root = dir.join("archive");
    let opts = kakehashi::synth::SynthOptions {
        patients,
        ..Default::default()
    };
    kakehashi::synth::generate(&opts, &root).unwrap();
    root
}

// --- Reconciliation under corruption ---------------------------------------------------

/// How a message is damaged; each must yield a located diagnostic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Damage {
    /// The file cut to its first third.
    Truncated,
    /// A field holding an escape sequence HL7 does not define.
    BadEscape,
    /// Re-encoded as Shift_JIS (the guideline prescribes ISO-2022-JP).
    ShiftJis,
    /// Bytes that are valid in no Japanese encoding.
    InvalidBytes,
    /// PID-3 (the patient id) emptied.
    NoPatientId,
}

const DAMAGES: [Damage; 5] = [
    Damage::Truncated,
    Damage::BadEscape,
    Damage::ShiftJis,
    Damage::InvalidBytes,
    Damage::NoPatientId,
];

fn decode(bytes: &[u8]) -> String {
    kakehashi::hl7::decode::decode(bytes).text
}

fn encode_jis(text: &str) -> Vec<u8> {
    encoding_rs::ISO_2022_JP.encode(text).0.into_owned()
}

/// Damages the bytes of one message; `None` when this damage does not apply to it.
fn damage(bytes: &[u8], how: Damage) -> Option<Vec<u8>> {
    let text = decode(bytes);
    let segs: Vec<&str> = text.split('\r').collect();
    match how {
        Damage::Truncated => Some(bytes[..bytes.len() / 3].to_vec()),
        Damage::BadEscape => {
            // The second segment's last field gets an undefined escape (\Q\).
            let i = segs
                .iter()
                .position(|s| !s.starts_with("MSH") && s.len() > 4)?;
            let mut segs: Vec<String> = segs.iter().map(|s| s.to_string()).collect();
            segs[i].push_str("\\Q\\");
            Some(encode_jis(&segs.join("\r")))
        }
        Damage::ShiftJis => {
            if text.is_ascii() {
                return None;
            }
            Some(encoding_rs::SHIFT_JIS.encode(&text).0.into_owned())
        }
        Damage::InvalidBytes => {
            let mut b = bytes.to_vec();
            let at = b.len() / 2;
            b.splice(at..at, [0xFF, 0xFE, 0x80]);
            Some(b)
        }
        Damage::NoPatientId => {
            let i = segs.iter().position(|s| s.starts_with("PID|"))?;
            let mut fields: Vec<String> = segs[i].split('|').map(str::to_owned).collect();
            if fields.len() < 4 || fields[3].is_empty() {
                return None;
            }
            fields[3] = String::new();
            let mut segs: Vec<String> = segs.iter().map(|s| s.to_string()).collect();
            segs[i] = fields.join("|");
            Some(encode_jis(&segs.join("\r")))
        }
    }
}

/// The current message files of an archive (newest flag-1 version of each record), in walk
/// order, with their patient.
fn current_files(root: &Path) -> Vec<(String, PathBuf, bool)> {
    let storage = kakehashi::ssmix2::Storage::open(&[root.to_path_buf()]);
    let policy = kakehashi::ssmix2::StatePolicy::default();
    let mut out = Vec::new();
    for ev in storage.walk() {
        if let kakehashi::ssmix2::WalkEvent::Patient(p) = ev {
            let st = kakehashi::ssmix2::select(&p.patient_id, p.items, &policy);
            for it in st.current {
                let standard = it.kind() == "standard";
                out.push((p.patient_id.clone(), it.path, standard));
            }
        }
    }
    out
}

/// NDJSON lines of a FHIR output by storage patient (the id prefix of the Patient the
/// resource belongs to); lines of no patient are left out.
fn lines_by_patient(fhir: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in common::files_under(fhir) {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".ndjson") || name == "diagnostics.ndjson" {
            continue;
        }
        for line in std::fs::read_to_string(&f).unwrap().lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            if let Some(p) = kakehashi::sdtm::subject::patient_of(&v) {
                let id = p.trim_start_matches("Patient/");
                let pid = id.split('.').next().unwrap().to_owned();
                out.entry(pid)
                    .or_default()
                    .insert(format!("{name}\t{line}"));
            }
        }
    }
    out
}

fn diagnostics(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn issue13_every_corrupted_message_is_accounted_for_and_untouched_patients_are_unchanged() {
    let t = tempfile::tempdir().unwrap();
    let root = synth_archive(t.path(), 60);
    let clean_out = t.path().join("clean");
    let o = convert(&one_pass(&root, &study(), &["--demo-key"], &clean_out));
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // Damage 10% of the current messages, cycling through the kinds of damage: every 5th
    // message of every other patient, so that half the patients stay untouched.
    let files = current_files(&root);
    let patients: Vec<&String> = files
        .iter()
        .map(|f| &f.0)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let chosen: BTreeSet<&String> = patients.iter().step_by(2).copied().collect();
    let mut damaged: BTreeMap<PathBuf, Damage> = BTreeMap::new();
    let mut touched: BTreeSet<String> = BTreeSet::new();
    let targets: Vec<&(String, PathBuf, bool)> = files
        .iter()
        .filter(|f| f.2 && chosen.contains(&f.0))
        .collect();
    for (k, (pid, f, _)) in targets.into_iter().step_by(5).enumerate() {
        let bytes = std::fs::read(f).unwrap();
        for attempt in 0..DAMAGES.len() {
            let how = DAMAGES[(k + attempt) % DAMAGES.len()];
            if let Some(b) = damage(&bytes, how) {
                std::fs::write(f, b).unwrap();
                damaged.insert(f.clone(), how);
                touched.insert(pid.clone());
                break;
            }
        }
    }
    assert!(
        damaged.len() * 10 >= files.len(),
        "10% of the messages are damaged"
    );
    let kinds: BTreeSet<Damage> = damaged.values().copied().collect();
    assert_eq!(
        kinds.len(),
        DAMAGES.len(),
        "every kind of damage is exercised"
    );

    let out = t.path().join("damaged");
    let o = convert(&one_pass(
        &root,
        &study(),
        &["--demo-key", "--allow-findings"],
        &out,
    ));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("reconciliation:"), "{stdout}");

    // 1. Every damaged message has a diagnostic located at its file (and, where the
    //    message parsed, a segment or byte inside it).
    let diags = diagnostics(&out.join("fhir/diagnostics.ndjson"));
    let mut by_file: BTreeMap<PathBuf, Vec<&Value>> = BTreeMap::new();
    for d in &diags {
        if let Some(f) = d["location"]["file"].as_str() {
            by_file.entry(PathBuf::from(f)).or_default().push(d);
        }
    }
    let mut unexplained = Vec::new();
    for (f, how) in &damaged {
        if by_file.get(f).is_none_or(|v| v.is_empty()) {
            unexplained.push(format!("{how:?}: {}", f.display()));
        }
    }
    assert!(
        unexplained.is_empty(),
        "damaged messages without a diagnostic: {unexplained:#?}"
    );
    for (f, want) in [
        (Damage::BadEscape, "H007"),
        (Damage::ShiftJis, "S013"),
        (Damage::NoPatientId, "S010"),
    ] {
        for (p, _) in damaged.iter().filter(|(_, h)| **h == f) {
            let codes: Vec<&str> = by_file[p]
                .iter()
                .filter_map(|d| d["code"].as_str())
                .collect();
            assert!(
                codes.contains(&want),
                "{f:?} gives {want}: {codes:?} at {}",
                p.display()
            );
        }
    }

    // 2. The ledger balances and counts every current message once.
    let rec: Value =
        serde_json::from_slice(&std::fs::read(out.join("reconciliation.json")).unwrap()).unwrap();
    assert_eq!(rec["balanced"], true);
    let totals = &rec["ssmix2"]["totals"];
    let n = |v: &Value| v.as_u64().unwrap() as usize;
    let sum = |v: &Value| v.as_object().unwrap().values().map(n).sum::<usize>();
    assert_eq!(
        n(&totals["messages"]),
        files.len(),
        "every current message is read"
    );
    assert_eq!(
        n(&totals["messages"]),
        n(&totals["converted"]) + sum(&totals["rejected"])
    );
    let clean_rec: Value =
        serde_json::from_slice(&std::fs::read(clean_out.join("reconciliation.json")).unwrap())
            .unwrap();
    assert_eq!(
        clean_rec["ssmix2"]["totals"]["files"], totals["files"],
        "no file is lost"
    );

    // 3. Patients with no damaged message give exactly the clean run's resources.
    let clean = lines_by_patient(&clean_out.join("fhir"));
    let now = lines_by_patient(&out.join("fhir"));
    let mut compared = 0;
    for (pid, lines) in &clean {
        if touched.contains(pid) {
            continue;
        }
        assert_eq!(
            now.get(pid),
            Some(lines),
            "patient {pid} was not damaged but its output changed"
        );
        compared += 1;
    }
    assert!(
        compared >= 10,
        "enough untouched patients to compare ({compared})"
    );
    // Their SDTM records too: every record of an untouched subject is unchanged.
    let sdtm_rows = |dir: &Path| -> BTreeSet<String> {
        let mut rows = BTreeSet::new();
        for f in common::files_under(dir) {
            if f.extension().is_some_and(|e| e == "json") && f.parent() == Some(dir) {
                let v: Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
                if let Some(r) = v["rows"].as_array() {
                    for row in r {
                        rows.insert(format!(
                            "{}\t{row}",
                            f.display().to_string().rsplit('/').next().unwrap()
                        ));
                    }
                }
            }
        }
        rows
    };
    let clean_rows = sdtm_rows(&clean_out.join("sdtm"));
    let rows = sdtm_rows(&out.join("sdtm"));
    let key = kakehashi::sdtm::SubjectKey::demo();
    let touched_subjects: BTreeSet<String> = touched
        .iter()
        .map(|pid| key.pseudonym(&format!("Patient/{pid}.ADT-00")))
        .collect();
    let is_touched = |row: &str| touched_subjects.iter().any(|s| row.contains(s.as_str()));
    let clean_untouched: BTreeSet<&String> = clean_rows.iter().filter(|r| !is_touched(r)).collect();
    let now_untouched: BTreeSet<&String> = rows.iter().filter(|r| !is_touched(r)).collect();
    assert!(clean_untouched.len() > 100);
    assert_eq!(
        clean_untouched, now_untouched,
        "SDTM records of untouched subjects are unchanged"
    );

    // 4. No diagnostic message or help holds a patient value (locations name files).
    let ids = common::leak::identifiers(&clean_out.join("fhir"));
    for d in diags
        .iter()
        .chain(diagnostics(&out.join("sdtm/diagnostics.ndjson")).iter())
    {
        let text = format!(
            "{} {}",
            d["message"].as_str().unwrap_or(""),
            d["help"].as_str().unwrap_or("")
        );
        for id in &ids {
            assert!(
                !common::leak::holds(&text, id),
                "diagnostic {} holds a patient value ({} chars)",
                d["code"],
                id.chars().count()
            );
        }
    }
}

// --- Interrupted runs -----------------------------------------------------------------

fn convert_cmd(root: &Path, out: &Path) -> Command {
    let mut c = Command::new(bin());
    c.arg("convert")
        .arg(root)
        .arg("--study")
        .arg(study())
        .arg("--demo-key")
        .arg("-o")
        .arg(out)
        .env_remove("KAKEHASHI_SUBJECT_KEY")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    c
}

#[test]
fn issue13_a_run_killed_at_any_moment_leaves_the_previous_output_whole() {
    let t = tempfile::tempdir().unwrap();
    let root = synth_archive(t.path(), 2000);
    // The uninterrupted run, timed so the kills can be placed inside it.
    let reference = t.path().join("reference");
    let started = std::time::Instant::now();
    assert!(convert_cmd(&root, &reference).status().unwrap().success());
    let full = started.elapsed();
    let expected = snapshot(&reference);

    // The previous output: a different (smaller) conversion, so a mix would show.
    let out = t.path().join("out");
    assert!(convert_cmd(&sample(), &out).status().unwrap().success());
    let previous = snapshot(&out);
    assert!(!previous.is_empty() && previous != expected);

    for fraction in [0.15, 0.6, 0.97] {
        let mut child = convert_cmd(&root, &out).spawn().unwrap();
        std::thread::sleep(full.mul_f64(fraction));
        let finished = child.try_wait().unwrap().is_some();
        let _ = child.kill(); // SIGKILL on Unix
        let _ = child.wait();
        let now = snapshot(&out);
        if finished {
            // The run beat the kill: then the output is the complete new one.
            assert_eq!(
                now, expected,
                "a finished run leaves the complete new output"
            );
            assert!(convert_cmd(&sample(), &out).status().unwrap().success());
        } else {
            assert_eq!(
                now, previous,
                "killed at {fraction} of the run: the previous output is untouched"
            );
        }
    }
    // A rerun after the kills removes the interrupted staging and gives the same bytes as
    // the uninterrupted run.
    assert!(convert_cmd(&root, &out).status().unwrap().success());
    assert_eq!(
        snapshot(&out),
        expected,
        "the rerun equals the uninterrupted run"
    );
    let left: Vec<String> = std::fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("kakehashi"))
        .collect();
    assert!(left.is_empty(), "no staging folder is left: {left:?}");
}

// --- Resource limits ------------------------------------------------------------------

/// Runs the binary, sampling its peak resident memory (VmHWM) while it runs; returns the
/// output and the peak in MiB.
fn run_measured(mut c: Command) -> (std::process::Output, u64) {
    let child = c
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(s) = std::fs::read_to_string(&status) {
                    if let Some(kb) = s
                        .lines()
                        .find(|l| l.starts_with("VmHWM:"))
                        .and_then(|l| l.split_whitespace().nth(1))
                        .and_then(|v| v.parse::<u64>().ok())
                    {
                        peak.fetch_max(kb, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        })
    };
    let out = child.wait_with_output().unwrap();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    sampler.join().unwrap();
    (out, peak.load(std::sync::atomic::Ordering::Relaxed) / 1024)
}

/// A small synth archive with one current message replaced by `bytes`; returns the root
/// and the replaced file.
fn archive_with(t: &Path, bytes: &[u8]) -> (PathBuf, PathBuf) {
    let root = synth_archive(t, 3);
    let (_, f, _) = current_files(&root)
        .into_iter()
        .find(|(_, p, standard)| *standard && p.to_string_lossy().contains("OML-11"))
        .unwrap();
    std::fs::write(&f, bytes).unwrap();
    (root, f)
}

fn fhir_run(root: &Path, out: &Path) -> (std::process::Output, u64, Vec<Value>, Value) {
    let mut c = Command::new(bin());
    c.args(["convert", "fhir"]).arg(root).arg("-o").arg(out);
    let (o, peak) = run_measured(c);
    let diags = diagnostics(&out.join("diagnostics.ndjson"));
    let rec =
        serde_json::from_slice(&std::fs::read(out.join("reconciliation.json")).unwrap()).unwrap();
    (o, peak, diags, rec)
}

const MSH: &str = "MSH|^~\\&|KAKEHASHI|SYNTH|GW|RCV|20240101000000||OUL^R22^OUL_R22|1|P|2.5\r";

/// The message is rejected under `code`, located at its file, and counted; everything
/// else converts.
fn rejected_alone(diags: &[Value], rec: &Value, file: &Path, code: &str) {
    assert!(
        diags
            .iter()
            .any(|d| d["code"] == code && d["location"]["file"] == file.to_string_lossy().as_ref()),
        "{code} located at the file"
    );
    let t = &rec["ssmix2"]["totals"];
    assert_eq!(t["rejected"][code], 1, "{t}");
    assert_eq!(
        t["converted"].as_u64().unwrap() + 1,
        t["messages"].as_u64().unwrap()
    );
    assert_eq!(rec["balanced"], true);
}

#[test]
fn issue13_a_50_mb_message_is_rejected_unread() {
    let t = tempfile::tempdir().unwrap();
    let mut big = MSH.as_bytes().to_vec();
    big.extend(b"OBX|1|TX|X^Y|1|");
    big.resize(50 << 20, b'A');
    big.push(b'\r');
    let (root, f) = archive_with(t.path(), &big);
    let (o, peak, diags, rec) = fhir_run(&root, &t.path().join("out"));
    assert_eq!(o.status.code(), Some(1), "an Error was found");
    rejected_alone(&diags, &rec, &f, "S014");
    assert!(peak < 200, "peak RSS {peak} MiB: the file is not read");
}

#[test]
fn issue13_a_message_of_a_million_segments_is_rejected() {
    let t = tempfile::tempdir().unwrap();
    let mut m = MSH.to_owned();
    m.push_str(&"NTE|1||x\r".repeat(1_000_000));
    let (root, f) = archive_with(t.path(), m.as_bytes());
    let (_, peak, diags, rec) = fhir_run(&root, &t.path().join("out"));
    rejected_alone(&diags, &rec, &f, "H008");
    assert!(peak < 400, "peak RSS {peak} MiB");
}

#[test]
fn issue13_a_segment_of_100000_repetitions_is_rejected() {
    let t = tempfile::tempdir().unwrap();
    let mut m = MSH.to_owned();
    m.push_str("PID|1||1^^^^PI||");
    m.push_str(&"A^B~".repeat(100_000));
    m.push('\r');
    let (root, f) = archive_with(t.path(), m.as_bytes());
    let (_, peak, diags, rec) = fhir_run(&root, &t.path().join("out"));
    rejected_alone(&diags, &rec, &f, "H009");
    assert!(peak < 400, "peak RSS {peak} MiB");
}

#[test]
fn issue13_a_1_gb_bundle_and_a_1_gb_ndjson_line_are_rejected_with_bounded_memory() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("fhir");
    std::fs::create_dir(&input).unwrap();
    // Sparse files: 1 GiB each on paper, no disk used.
    for name in ["big-bundle.json", "big-line.ndjson"] {
        std::fs::File::create(input.join(name))
            .unwrap()
            .set_len(1 << 30)
            .unwrap();
    }
    std::fs::write(
        input.join("Patient.ndjson"),
        "{\"resourceType\":\"Patient\",\"id\":\"p1\",\"gender\":\"female\",\"birthDate\":\"1970-01-01\"}\n",
    )
    .unwrap();
    let out = t.path().join("out");
    let mut c = Command::new(bin());
    c.args(["convert", "sdtm"])
        .arg(&input)
        .arg("--study")
        .arg(study())
        .args(["--demo-key", "--allow-findings", "-o"])
        .arg(&out)
        .env_remove("KAKEHASHI_SUBJECT_KEY");
    let (o, peak) = run_measured(c);
    let stderr = String::from_utf8_lossy(&o.stderr);
    let diags = diagnostics(&out.join("diagnostics.ndjson"));
    for name in ["big-bundle.json", "big-line.ndjson"] {
        assert!(
            diags.iter().any(|d| d["code"] == "R005"
                && d["location"]["file"]
                    .as_str()
                    .is_some_and(|f| f.ends_with(name))),
            "R005 for {name}: {stderr}"
        );
    }
    let dm: Value = serde_json::from_slice(&std::fs::read(out.join("dm.json")).unwrap()).unwrap();
    assert_eq!(dm["rows"].as_array().unwrap().len(), 1, "the rest converts");
    assert!(
        peak < 700,
        "peak RSS {peak} MiB (one line is read up to the 256 MiB limit)"
    );
}
