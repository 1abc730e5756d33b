//! The committed sample archive is exactly what the generator writes (so it is never
//! stale), and generation is byte-identical whatever the thread count.

mod common;

use common::{files_under, repo};
use kakehashi::synth::{generate, SynthOptions};

fn tree(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    files_under(dir)
        .into_iter()
        .map(|p| {
            (
                p.strip_prefix(dir).unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn committed_fixture_matches_the_generator() {
    let out = tempfile::tempdir().unwrap();
    generate(
        &SynthOptions {
            patients: 8,
            seed: 1,
            ..Default::default()
        },
        out.path(),
    )
    .unwrap();
    let want = tree(&repo("fixtures/ssmix2"));
    let got = tree(out.path());
    assert_eq!(
        want.len(),
        got.len(),
        "regenerate with: kakehashi synth -o fixtures/ssmix2 --patients 8 --seed 1"
    );
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(w.0, g.0);
        assert!(w.1 == g.1, "{} differs; regenerate the fixture", w.0);
    }
}

#[test]
fn output_does_not_depend_on_threads() {
    let opts = SynthOptions {
        patients: 30,
        seed: 42,
        ..Default::default()
    };
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| generate(&opts, a.path()).unwrap());
    rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .build()
        .unwrap()
        .install(|| generate(&opts, b.path()).unwrap());
    assert_eq!(tree(a.path()), tree(b.path()));
}

#[test]
fn generated_archive_covers_the_data_types_and_reads_cleanly() {
    use kakehashi::hl7::Structures;
    use kakehashi::ssmix2::inventory::Inventory;
    use kakehashi::ssmix2::{StatePolicy, Storage};
    let out = tempfile::tempdir().unwrap();
    generate(
        &SynthOptions {
            patients: 60,
            seed: 3,
            ..Default::default()
        },
        out.path(),
    )
    .unwrap();
    let s = Storage::open(&[out.path().to_path_buf()]);
    let structures = Structures::default_set();
    let inv = Inventory::of_storage(&s, &structures, &StatePolicy::default(), |_| {});
    assert_eq!(inv.patients, 60);
    assert_eq!(
        inv.tally.errors + inv.tally.warnings,
        0,
        "{:#?}",
        &inv.diagnostics[..inv.diagnostics.len().min(5)]
    );
    for t in [
        "ADT-00",
        "ADT-12",
        "ADT-22",
        "ADT-52",
        "ADT-61",
        "PPR-01",
        "OMP-01",
        "OMP-02",
        "OMP-11",
        "OMP-12",
        "OML-01",
        "OML-11",
        "L-OBSERVATIONS^OBSERVATIONS^99ZL01",
    ] {
        assert!(
            inv.by_data_type.get(t).is_some_and(|c| c.current > 0),
            "no current {t}"
        );
    }
    assert!(
        inv.by_data_type["OML-11"].history > 0,
        "version chains (flag 2)"
    );
    assert!(inv.by_data_type["OMP-01"].deleted > 0, "deletions (flag 0)");
    assert!(
        inv.by_data_type["ADT-22"].deleted > 0,
        "cancelled admissions"
    );
    assert!(
        inv.by_message_type.contains_key("ADT^A11"),
        "cancel messages"
    );
    assert_eq!(inv.encodings.keys().collect::<Vec<_>>(), ["ISO-2022-JP"]);
}

#[test]
fn every_character_is_representable_in_iso_2022_jp() {
    // encoding_rs writes unmappable characters as HTML numeric references; none may appear.
    let f = kakehashi::synth::patient_files(
        &SynthOptions {
            patients: 1,
            seed: 9,
            ..Default::default()
        },
        0,
    );
    for x in &f {
        let d = kakehashi::hl7::decode(&x.bytes);
        assert!(d.issues.is_empty(), "{}", x.path.display());
        assert!(!d.text.contains("&#"), "{}", x.path.display());
    }
}
