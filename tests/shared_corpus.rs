//! Every message under ../shared/data/ssmix2 and ../shared/data/hl7v2 parses or yields a
//! located diagnostic, and nothing panics.

mod common;

use common::{files_under, shared};
use kakehashi::diagnostics::Location;
use kakehashi::hl7::file::parse_file;
use kakehashi::hl7::{Structures, TextEncoding};
use kakehashi::ssmix2::read::parse_bytes;

#[test]
fn every_hl7v2_corpus_file_parses_or_is_located() {
    let files = files_under(&shared("data/hl7v2"));
    let files: Vec<_> = files
        .into_iter()
        .filter(|p| !p.ends_with("SOURCES.txt"))
        .collect();
    assert!(
        files.len() >= 380,
        "expected the ~390-file corpus, found {}",
        files.len()
    );
    let mut messages = 0;
    let mut failed_files = 0;
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        let r = parse_file(&bytes, &Location::file(f));
        messages += r.messages.len();
        for d in &r.diagnostics {
            assert_eq!(
                d.location.file.as_deref(),
                Some(f.as_path()),
                "diagnostic without its file: {d}"
            );
            assert!(
                d.location.line.is_some()
                    || d.location.byte.is_some()
                    || d.location.segment.is_some()
                    || d.code == "H002",
                "diagnostic without a position: {d}"
            );
        }
        if r.messages.is_empty() {
            failed_files += 1;
            assert!(
                r.diagnostics.iter().any(|d| d.is_error()),
                "{} has no message and no error",
                f.display()
            );
        }
        for m in &r.messages {
            // Every segment is reachable and the text is kept losslessly.
            let joined: usize = m.segments().map(|s| s.raw().len()).sum();
            assert!(joined <= m.text().len());
            assert!(m.segments().next().is_some_and(|s| s.name() == "MSH"));
        }
    }
    // The SOURCES.txt files count 253 + 4 + 139 messages.
    assert!(messages >= 390, "parsed only {messages} messages");
    assert!(failed_files <= 3, "{failed_files} files yielded no message");
}

#[test]
fn every_ssmix2_sample_parses_or_is_located() {
    let structures = Structures::default_set();
    let root = shared("data/ssmix2");
    let files: Vec<_> = files_under(&root)
        .into_iter()
        .filter(|p| {
            !p.extension()
                .is_some_and(|e| e == "txt" || e == "csv" || e == "json")
        })
        .collect();
    assert!(files.len() >= 40, "found {}", files.len());
    let mut ok = 0;
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        let r = parse_bytes(&bytes, &structures, &Location::file(f));
        match &r.message {
            Some(m) => {
                ok += 1;
                assert!(m.message_type().is_some(), "{}", f.display());
                if !f.to_string_lossy().contains("/sampleData/000/") {
                    assert_eq!(r.encoding, Some(TextEncoding::Iso2022Jp), "{}", f.display());
                    assert!(!r.has_errors(), "{}: {:?}", f.display(), r.diagnostics);
                }
            }
            None => assert!(r
                .diagnostics
                .iter()
                .any(|d| d.is_error() && d.location.file.as_deref() == Some(f.as_path()))),
        }
    }
    assert_eq!(
        ok,
        files.len() - 1,
        "only the deliberately broken non-HL7 file may fail"
    );
}

#[test]
fn japanese_names_survive_decoding() {
    let f = shared("data/ssmix2/nhoHQ__SSMIX2DataTestingTool/sampleData/999/901/9999013/-/ADT-00/9999013_-_ADT-00_999999999999999_20111220224447339_-_1");
    let r = parse_bytes(
        &std::fs::read(&f).unwrap(),
        &Structures::default_set(),
        &Location::file(&f),
    );
    let m = r.message.unwrap();
    assert_eq!(m.get_path("PID-5.1").as_str(), Some("患者"));
    assert_eq!(m.get_path("PID-5[2].2").as_str(), Some("タロウ"));
    assert_eq!(m.get_path("PID-5[2].8").as_str(), Some("P"));
    // JIS 0x215D decodes to U+FF0D (FULLWIDTH HYPHEN-MINUS) with the WHATWG tables that
    // encoding_rs uses (Python's codec gives U+2212); the README documents the choice.
    assert_eq!(
        m.get_path("PID-11.8").as_str(),
        Some("静岡県静岡市登呂１\u{FF0D}３\u{FF0D}５")
    );
    assert_eq!(m.get_path("OBX[2]-5").as_str(), Some("63.5"));
    assert_eq!(m.get_path("MSH-7").as_str(), Some("20111220224447.3399"));
}

#[test]
fn ssmixtwins_lf_separators_and_unescaped_carets() {
    let root = shared("data/ssmix2/yuakagi__ssmixtwins-generated/standard_root");
    let structures = Structures::default_set();
    for f in files_under(&root) {
        let r = parse_bytes(
            &std::fs::read(&f).unwrap(),
            &structures,
            &Location::file(&f),
        );
        let m = r.message.expect("parses");
        assert!(
            m.segment_count() > 2,
            "{}: LF-separated segments must split",
            f.display()
        );
    }
}

#[test]
fn broken_samples_are_diagnosed() {
    let dir = shared("data/ssmix2/nhoHQ__SSMIX2DataTestingTool/sampleData/000");
    let structures = Structures::default_set();
    let mut codes = Vec::new();
    for f in files_under(&dir) {
        let r = parse_bytes(
            &std::fs::read(&f).unwrap(),
            &structures,
            &Location::file(&f),
        );
        codes.extend(r.diagnostics.iter().map(|d| d.code));
    }
    assert!(codes.contains(&"H002"), "{codes:?}");
    assert!(
        codes.contains(&"H005") || codes.contains(&"H010"),
        "{codes:?}"
    );
}
