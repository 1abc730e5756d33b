//! FHIRPath: a random expression (first line) parsed and evaluated over random JSON (the
//! rest; `{}` when it is not JSON).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (expr, json) = text.split_once('\n').unwrap_or((&text, "{}"));
    let resource: serde_json::Value =
        serde_json::from_str(json).unwrap_or_else(|_| serde_json::json!({}));
    let _ = kakehashi::fhirpath::eval_str(expr, &resource).map(|c| c.len());
});
