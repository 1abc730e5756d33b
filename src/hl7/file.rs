//! Files that may hold several messages (batch files, test corpora, exports).

use super::decode::{decode, DecodeIssue, TextEncoding};
use super::message::{split_messages, Message};
use crate::diagnostics::{Diagnostic, Location};

#[derive(Debug)]
pub struct ParsedFile {
    pub encoding: TextEncoding,
    pub messages: Vec<Message>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Decode a file, split it at each MSH and parse every message. Every problem becomes a
/// diagnostic located at `base` (file) plus line, segment and message id.
pub fn parse_file(bytes: &[u8], base: &Location) -> ParsedFile {
    let decoded = decode(bytes);
    let mut diagnostics = Vec::new();
    for issue in &decoded.issues {
        if let DecodeIssue::Malformed { byte, count } = issue {
            diagnostics.push(Diagnostic::error(
                "H020",
                format!(
                    "{count} byte(s) are not valid {}; replaced by U+FFFD",
                    decoded.encoding.name()
                ),
                base.clone().with_byte(*byte),
            ));
        }
    }
    let (texts, stray) = split_messages(&decoded.text);
    for line in stray {
        diagnostics.push(Diagnostic::warning(
            "H006",
            "line before the first MSH segment; not part of any message",
            base.clone().with_line(line),
        ));
    }
    if texts.is_empty() {
        diagnostics.push(Diagnostic::error(
            "H002",
            "no MSH segment in the file",
            base.clone(),
        ));
    }
    let mut messages = Vec::with_capacity(texts.len());
    for (text, line_base) in texts {
        match Message::parse_at(text, line_base) {
            Ok((m, ds)) => {
                let id = m.control_id();
                for mut d in ds {
                    d.location.file = base.file.clone();
                    d.location.message_id = id.clone();
                    diagnostics.push(d);
                }
                messages.push(m);
            }
            Err(mut d) => {
                d.location.file = base.file.clone();
                diagnostics.push(d);
            }
        }
    }
    ParsedFile {
        encoding: decoded.encoding,
        messages,
        diagnostics,
    }
}
