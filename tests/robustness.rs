//! Property tests: the decoder and parser never panic, whatever the bytes, and every
//! failure is a diagnostic.

mod common;

use kakehashi::diagnostics::Location;
use kakehashi::hl7::file::parse_file;
use kakehashi::hl7::{FieldPath, Structures};
use kakehashi::ssmix2::read::parse_bytes;
use proptest::prelude::*;

fn samples() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = common::files_under(&common::repo("fixtures/ssmix2"))
        .iter()
        .take(40)
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    v.push(
        b"MSH|^~\\&|A|B|C|D|20240101||ADT^A08^ADT_A01|1|P|2.5\rPID|1||1||a\\F\\b^c~d&e|\"\"\r"
            .to_vec(),
    );
    v
}

fn exercise(bytes: &[u8], structures: &Structures) {
    let r = parse_bytes(bytes, structures, &Location::file("x"));
    if let Some(m) = &r.message {
        for s in m.segments() {
            for f in 0..=s.field_count() + 1 {
                let field = s.field(f);
                for rep in field.repetitions() {
                    for c in rep.components() {
                        let _ = c.value();
                        let _ = c.subcomponents().count();
                    }
                }
            }
        }
        for p in ["PID-5[2].1", "OBX[3]-5.1.2", "MSH-2", "MSH-1", "ZZZ-9"] {
            let _ = m.get(&p.parse::<FieldPath>().unwrap());
        }
        if let Some(g) = &r.groups {
            let _ = g.outline(m);
        }
    } else {
        assert!(r.diagnostics.iter().any(|d| d.is_error()));
    }
    let _ = parse_file(bytes, &Location::file("x"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        exercise(&bytes, &Structures::default_set());
    }

    #[test]
    fn mutated_messages_never_panic(idx in 0usize..41, edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..12), cut in any::<prop::sample::Index>()) {
        let s = samples();
        let mut b = s[idx % s.len()].clone();
        for (i, v) in edits {
            let n = b.len().max(1);
            let k = i.index(n);
            if k < b.len() { b[k] = v; }
        }
        let c = cut.index(b.len() + 1);
        b.truncate(c.max(1));
        exercise(&b, &Structures::default_set());
    }

    #[test]
    fn text_with_delimiters_never_panics(s in "[MSHPID|^~\\\\&\r\n\"0-9A-Z ]{0,300}") {
        exercise(s.as_bytes(), &Structures::default_set());
    }

    #[test]
    fn any_path_text_parses_or_errs(s in "\\PC{0,20}") {
        let _ = s.parse::<FieldPath>();
    }
}
