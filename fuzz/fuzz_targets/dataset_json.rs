//! The Dataset-JSON 1.1 reader of the validator (JSON, or NDJSON when the first byte is
//! even).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let _ = kakehashi::validate::data::dataset_json_table(&text, kind % 2 == 0, "fuzz.json");
});
