//! HL7 v2 (JAHIS conventions): byte decoding, parsing, field paths, segment groups,
//! timestamps. Knows nothing of FHIR, SDTM or SS-MIX2 storage.

pub mod decode;
pub mod escape;
pub mod file;
pub mod message;
pub mod path;
pub mod structure;
pub mod time;

pub use decode::{decode, Decoded, TextEncoding};
pub use message::{split_messages, Message, Segment, Value};
pub use path::FieldPath;
pub use structure::{GroupInstance, Structures};
pub use time::{Offset, Timestamp};
