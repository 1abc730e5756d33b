//! The study file loader (YAML, schema, index-date rule, epochs, arms, windows).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = kakehashi::sdtm::Study::parse(&text, std::path::Path::new("study.yaml"));
});
