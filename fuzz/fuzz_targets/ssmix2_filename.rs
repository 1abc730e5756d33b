//! SS-MIX2 file names (PID_date_type_orderNo_timestamp_dept_flag) and what is derived
//! from them.
#![no_main]
use kakehashi::ssmix2::FileName;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let name = String::from_utf8_lossy(data);
    if let Ok((n, _)) = FileName::parse(&name) {
        let _ = (n.expected_dirs(), n.sortable_timestamp(), n.to_name(), n.date_folder());
    }
});
