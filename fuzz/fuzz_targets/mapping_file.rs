//! One SS-MIX2 → FHIR mapping file, loaded and checked completely (YAML, schema, then the
//! semantic checks). The first byte picks its folder.
#![no_main]
use kakehashi::mapping::MappingSet;
use libfuzzer_sys::fuzz_target;

const FOLDERS: [&str; 4] = ["messages", "segments", "datatypes", "codes"];

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let rel = format!("{}/fuzz.yaml", FOLDERS[kind as usize % FOLDERS.len()]);
    let _ = MappingSet::from_texts(&[(&rel, &text)]);
});
