//! The SAS XPORT v5 reader (headers, NAMESTR records, IBM floats, padding).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(members) = kakehashi::formats::xpt::read(data) {
        for m in members {
            let _ = (m.dataset.rows.len(), m.lengths.len());
        }
    }
});
