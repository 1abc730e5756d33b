//! The FHIR input reader: NDJSON (first byte even) or one JSON document (a Bundle of any
//! type, or a resource), with Bundle reference rewriting.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let mut n = 0usize;
    let mut diags = Vec::new();
    kakehashi::fhir::input::for_each_in_bytes(
        rest,
        kind % 2 == 0,
        Path::new("fuzz.ndjson"),
        &mut |_| n += 1,
        &mut diags,
    );
});
