//! Bytes of one stored message: decoding (ISO-2022-JP, Shift_JIS, UTF-8 …), HL7 v2
//! parsing, segment grouping by the message structures, and field access.
#![no_main]
use kakehashi::diagnostics::Location;
use kakehashi::hl7::Structures;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static STRUCTURES: OnceLock<Structures> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let structures = STRUCTURES.get_or_init(Structures::default_set);
    let r = kakehashi::ssmix2::read::parse_bytes(data, structures, &Location::default());
    if let Some(m) = &r.message {
        for p in ["PID-3.1", "PID-5.1.1", "OBX-5", "MSH-9.2", "OBX[2]-3.1", "RXE-2"] {
            let _ = m.get_path(p).as_str().map(str::len);
        }
        let _ = (m.control_id(), m.message_type(), m.structure_id());
    }
});
