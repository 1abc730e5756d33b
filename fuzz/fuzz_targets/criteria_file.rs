//! The feasibility criteria file loader.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = kakehashi::stats::feasibility::Criteria::parse(&text, std::path::Path::new("criteria.yaml"));
});
