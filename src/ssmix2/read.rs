//! Reading one stored item: bytes → text → message → groups, with every problem located
//! at the file (and line, for transaction storage), the MSH-10 control id and the segment.

use super::storage::{Item, Source};
use crate::diagnostics::{Diagnostic, Location};
use crate::hl7::decode::DecodeIssue;
use crate::hl7::{decode, GroupInstance, Message, Structures, TextEncoding, Timestamp};
use std::io::{Read, Seek, SeekFrom};

#[derive(Debug)]
pub struct ReadItem {
    pub encoding: Option<TextEncoding>,
    pub message: Option<Message>,
    pub groups: Option<GroupInstance>,
    pub bytes: usize,
    pub diagnostics: Vec<Diagnostic>,
}

impl ReadItem {
    /// An item that could not be read at all, and why.
    fn unread(d: Diagnostic) -> ReadItem {
        ReadItem {
            encoding: None,
            message: None,
            groups: None,
            bytes: 0,
            diagnostics: vec![d],
        }
    }

    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// A stored message larger than this is rejected unread (S014; README "Limits"): SS-MIX2
/// keeps images and documents beside the message, so a message file this large is not a
/// message, and reading it would cost memory for nothing.
pub const MAX_FILE_BYTES: u64 = 32 << 20;

/// The size of an item's message in bytes.
pub fn item_len(item: &Item) -> std::io::Result<u64> {
    match &item.source {
        Source::Transaction { len, .. } => Ok(*len),
        _ => Ok(std::fs::metadata(&item.path)?.len()),
    }
}

/// The raw bytes of an item.
pub fn item_bytes(item: &Item) -> std::io::Result<Vec<u8>> {
    match &item.source {
        Source::Transaction { start, len, .. } => {
            let mut f = std::fs::File::open(&item.path)?;
            f.seek(SeekFrom::Start(*start))?;
            let mut buf = vec![0; *len as usize];
            f.read_exact(&mut buf)?;
            Ok(buf)
        }
        _ => std::fs::read(&item.path),
    }
}

/// Read, decode, parse and group one item, and check it agrees with its storage name.
pub fn read_item(item: &Item, structures: &Structures) -> ReadItem {
    let base = item.location();
    if let Ok(n) = item_len(item) {
        if n > MAX_FILE_BYTES {
            let d = Diagnostic::error(
                "S014",
                format!("the message is {} MiB, over the {} MiB limit; not read", n >> 20, MAX_FILE_BYTES >> 20),
                base,
            )
            .help("a message this large is not an SS-MIX2 message (attachments belong in extended storage)");
            return ReadItem::unread(d);
        }
    }
    let bytes = match item_bytes(item) {
        Ok(b) => b,
        Err(e) => {
            let d = Diagnostic::error("S003", "file cannot be read", base)
                .help(format!("the operating system said: {}", e.kind()));
            return ReadItem::unread(d);
        }
    };
    let mut out = parse_bytes(&bytes, structures, &base);
    if let Some(msg) = &out.message {
        check_against_name(item, msg, structures, &base, &mut out.diagnostics);
    }
    // The guideline prescribes ISO-2022-JP; another 8-bit encoding is decoded all the same
    // but is worth knowing (a converter or copy step changed the file).
    if let Some(enc @ (TextEncoding::ShiftJis | TextEncoding::Utf8)) = out.encoding {
        out.diagnostics.push(
            Diagnostic::note(
                "S013",
                format!(
                    "the text is {}, not ISO-2022-JP as SS-MIX2 prescribes; decoded as {}",
                    enc.name(),
                    enc.name()
                ),
                base.clone(),
            )
            .help("the storage's writer or a later copy step converted the file"),
        );
    }
    out
}

/// Decode, parse and group bytes; diagnostics are located relative to `base`.
pub fn parse_bytes(bytes: &[u8], structures: &Structures, base: &Location) -> ReadItem {
    let mut diagnostics = Vec::new();
    let decoded = decode(bytes);
    for issue in &decoded.issues {
        match issue {
            DecodeIssue::Malformed { byte, count } => diagnostics.push(
                Diagnostic::error("H020", format!("{count} byte(s) are not valid {}; replaced by U+FFFD", decoded.encoding.name()), base.clone().with_byte(*byte))
                    .help("the text around this byte is lost; check the sender's character-set conversion"),
            ),
            DecodeIssue::DataAfterEnd { byte } => diagnostics.push(Diagnostic::warning("H021", "data after the end-of-message byte 0x1C; kept", base.clone().with_byte(*byte))),
            DecodeIssue::EndsInJapanese { byte } => diagnostics.push(
                Diagnostic::error("H023", "the ISO-2022-JP text ends inside Japanese text (it must return to ASCII): the file is cut off", base.clone().with_byte(*byte))
                    .help("what followed is lost; take the file again from the sending system"),
            ),
            DecodeIssue::Guessed => diagnostics.push(Diagnostic::warning("H022", "bytes are neither ISO-2022-JP, UTF-8 nor Shift_JIS; decoded as windows-1252", base.clone())),
        }
    }
    let line_base = base.line.unwrap_or(0);
    let parsed = Message::parse_at(decoded.text, line_base);
    let (message, groups) = match parsed {
        Ok((msg, diags)) => {
            let id = msg.control_id();
            for d in diags {
                diagnostics.push(relocate(d, base, &id));
            }
            let (groups, gd) = structures.group(&msg);
            for d in gd {
                diagnostics.push(relocate(d, base, &id));
            }
            (Some(msg), Some(groups))
        }
        Err(d) => {
            diagnostics.push(relocate(d, base, &None));
            (None, None)
        }
    };
    ReadItem {
        encoding: Some(decoded.encoding),
        message,
        groups,
        bytes: bytes.len(),
        diagnostics,
    }
}

fn relocate(mut d: Diagnostic, base: &Location, id: &Option<String>) -> Diagnostic {
    d.location.file = base.file.clone();
    if d.location.message_id.is_none() {
        d.location.message_id = id.clone();
    }
    d
}

fn check_against_name(
    item: &Item,
    msg: &Message,
    structures: &Structures,
    base: &Location,
    diags: &mut Vec<Diagnostic>,
) {
    let at = |seg: &str| {
        base.clone()
            .with_message_id(msg.control_id())
            .with_segment(seg)
    };
    match msg.get_path("PID-3.1").as_str() {
        Some(pid) if pid != item.name.patient_id => diags.push(
            Diagnostic::warning(
                "S010",
                "PID-3.1 patient id differs from the file name's",
                at("PID-3.1"),
            )
            .help("the file name's id is used for storage keys"),
        ),
        None if msg.segments_named("PID").next().is_none() => diags.push(Diagnostic::warning(
            "S010",
            "message has no PID segment",
            at("PID"),
        )),
        None => diags.push(
            Diagnostic::warning(
                "S010",
                "PID-3.1 (the patient id) is empty",
                at("PID[1]-3.1"),
            )
            .help("the file name's id is used for storage keys; the sender left PID-3 out"),
        ),
        _ => {}
    }
    let mtype = msg.message_type();
    if let Some(allowed) = structures.datatypes.get(&item.name.data_type) {
        if !mtype.as_ref().is_some_and(|t| allowed.contains(t)) {
            diags.push(
                Diagnostic::warning(
                    "S011",
                    format!(
                        "message type {} is not one the {} data type holds",
                        mtype.as_deref().unwrap_or("(none)"),
                        item.name.data_type
                    ),
                    at("MSH-9"),
                )
                .help(format!(
                    "{} holds {}",
                    item.name.data_type,
                    allowed.join(", ")
                )),
            );
        }
    } else {
        diags.push(Diagnostic::note(
            "S011",
            format!("data type {} is not declared", item.name.data_type),
            at("MSH-9"),
        ));
    }
    // The storage date folder should be the care date the guideline takes from the message.
    if let (Some(def), Some(folder)) = (structures.message_def(msg), item.name.care_date.as_deref())
    {
        if let Some(path) = &def.care_date {
            if let Some(v) = msg.get(path).as_str() {
                match Timestamp::parse(v) {
                    Ok(ts) if ts.day.is_some() => {
                        let d = format!(
                            "{:04}{:02}{:02}",
                            ts.year,
                            ts.month.unwrap_or(0),
                            ts.day.unwrap_or(0)
                        );
                        if d != folder {
                            diags.push(Diagnostic::note(
                                "S012",
                                format!("care date in {path} differs from the date folder"),
                                at(&path.to_string()),
                            ));
                        }
                    }
                    Ok(_) => {}
                    Err(e) => diags.push(Diagnostic::warning(
                        "H030",
                        format!("invalid timestamp: {e}"),
                        at(&path.to_string()),
                    )),
                }
            }
        }
    }
}
