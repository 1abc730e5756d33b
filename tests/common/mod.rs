//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub mod leak;

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

/// A Python with pyreadstat and `xport` (the two independent XPT readers of
/// `../shared/tools/xpt_read.py`), installed from PyPI into target/py-tools on first use.
pub fn py_tools() -> PathBuf {
    let dir = repo("target/py-tools");
    let py = dir.join("bin/python");
    let ready = std::process::Command::new(&py)
        .args(["-c", "import pyreadstat, xport, pandas, duckdb, pyarrow"])
        .status()
        .is_ok_and(|s| s.success());
    if !ready {
        let lock = repo("target/py-tools.lock");
        // One installer at a time (tests run in parallel).
        let _guard = loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&lock)
            {
                Ok(f) => break Some(f),
                Err(_) => {
                    std::thread::sleep(std::time::Duration::from_millis(500));
                    if std::process::Command::new(&py)
                        .args(["-c", "import pyreadstat, xport, pandas, duckdb, pyarrow"])
                        .status()
                        .is_ok_and(|s| s.success())
                    {
                        break None;
                    }
                }
            }
        };
        if _guard.is_some() {
            let run = |args: &[&str]| {
                let st = std::process::Command::new(args[0])
                    .args(&args[1..])
                    .status()
                    .expect("python3 is needed for the XPT tests");
                assert!(st.success(), "{args:?} failed");
            };
            run(&["python3", "-m", "venv", dir.to_str().unwrap()]);
            let pip = dir.join("bin/pip");
            let pip = pip.to_str().unwrap();
            // xport 3.6.1 pins pandas < 1.4, which no longer builds: install it without its
            // dependencies beside pandas 2 (as ../shared/README.md says).
            run(&[
                pip,
                "install",
                "-q",
                "pyreadstat",
                "pandas<3",
                "click",
                "pyyaml",
                "duckdb",
                "pyarrow",
            ]);
            run(&[pip, "install", "-q", "--no-deps", "xport==3.6.1"]);
            let _ = std::fs::remove_file(&lock);
        }
    }
    py
}

/// Headless Chromium (the Debian package `.ci/run` installs).
pub fn chromium() -> &'static str {
    for c in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(c).exists() {
            return c;
        }
    }
    panic!("Chromium is needed for the HTML report tests (.ci/run installs the Debian chromium package)");
}

/// Renders a local HTML file in headless Chromium: the DOM after scripts ran, and a PNG
/// screenshot (checked to be a real image).
pub fn render(html: &Path, scratch: &Path) -> (String, Vec<u8>) {
    let url = format!("file://{}", html.display());
    let flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ];
    let profile = format!(
        "--user-data-dir={}",
        scratch.join("chromium-profile").display()
    );
    let dom = std::process::Command::new(chromium())
        .args(flags)
        .arg(&profile)
        .args(["--dump-dom", &url])
        .output()
        .unwrap();
    let shot = scratch.join("shot.png");
    let st = std::process::Command::new(chromium())
        .args(flags)
        .arg(&profile)
        .arg(format!("--screenshot={}", shot.display()))
        .args(["--window-size=1280,1600", &url])
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real screenshot"
    );
    (String::from_utf8_lossy(&dom.stdout).into_owned(), png)
}

/// A CSV file as rows of column → value.
pub fn read_csv(p: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(p).unwrap();
    let h = r.headers().unwrap().clone();
    r.records()
        .map(|x| {
            h.iter()
                .zip(x.unwrap().iter())
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .collect()
}

/// One HL7 message (text with `\n` line ends) named as an SS-MIX2 file, converted by the
/// embedded mappings: resources and diagnostics.
pub fn convert_text(
    name: &str,
    text: &str,
) -> (
    Vec<serde_json::Value>,
    Vec<kakehashi::diagnostics::Diagnostic>,
) {
    use kakehashi::diagnostics::Location;
    let set = kakehashi::mapping::MappingSet::load(None).unwrap();
    let item = kakehashi::ssmix2::Item {
        name: kakehashi::ssmix2::FileName::parse(name).unwrap().0,
        path: name.into(),
        source: kakehashi::ssmix2::Source::Standard,
        root: 0,
    };
    let r = kakehashi::ssmix2::read::parse_bytes(
        text.replace('\n', "\r").as_bytes(),
        &kakehashi::hl7::Structures::default_set(),
        &Location::file(name),
    );
    let (m, g) = (r.message.unwrap(), r.groups.unwrap());
    let at = Location::file(name).with_message_id(m.control_id());
    let c = kakehashi::fhir::convert_message(
        &set,
        &item,
        &m,
        &g,
        &kakehashi::fhir::FhirOptions {
            facility: "1312345678".into(),
            ..Default::default()
        },
        &at,
    );
    (c.resources, c.diagnostics)
}

/// pyreadstat and `xport` both read an XPT file and agree on it (`../shared/tools/xpt_read.py`
/// exits 0); `py` is [`py_tools`]'s Python.
pub fn xpt_readers_agree(py: &Path, file: &Path) {
    let o = std::process::Command::new(py)
        .arg(shared("tools/xpt_read.py"))
        .arg(file)
        .args(["--rows", "0"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "pyreadstat and xport disagree on (or fail to read) {}:\n{}\n{}",
        file.display(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Runs the kakehashi binary in the repository folder with `args`, asserts that it succeeded
/// and returns its stdout and stderr together.
pub fn kk_ok(args: &[&dyn AsRef<std::ffi::OsStr>]) -> String {
    let o = std::process::Command::new(bin())
        .args(args.iter().map(|a| a.as_ref()))
        .current_dir(repo(""))
        .output()
        .expect("run kakehashi");
    let text = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{text}");
    text
}
