//! Bytes → text, before any HL7 splitting.
//!
//! JIS X 0208 bytes inside ISO-2022-JP text can equal `|`, `^`, `~`, `\` or `&`
//! (e.g. `患` is `ESC $ B 4 5`, `ー` is `!<`), so splitting raw bytes on delimiters corrupts
//! Japanese names. We therefore decode the whole file first and split the decoded text.
//! MSH-18 is deliberately not consulted: real archives declare one character set and
//! contain another, so the encoding is detected from the bytes alone.

use encoding_rs::{DecoderResult, Encoding as Enc, ISO_2022_JP, SHIFT_JIS, WINDOWS_1252};
use serde::Serialize;

/// The character encoding a file was decoded with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum TextEncoding {
    /// 7-bit ASCII with no escape sequences (a subset of every encoding below).
    Ascii,
    /// ISO-2022-JP (ASCII, JIS X 0201 Roman, JIS X 0208 and half-width katakana escapes).
    Iso2022Jp,
    Utf8,
    /// Shift_JIS / CP932, as left by sites that skip the ISO-2022-JP conversion.
    ShiftJis,
    /// Last resort for 8-bit input that is neither UTF-8 nor Shift_JIS (Western HL7 feeds).
    Windows1252,
}

impl TextEncoding {
    pub fn name(self) -> &'static str {
        match self {
            TextEncoding::Ascii => "ASCII",
            TextEncoding::Iso2022Jp => "ISO-2022-JP",
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::ShiftJis => "Shift_JIS",
            TextEncoding::Windows1252 => "windows-1252",
        }
    }
}

/// What went wrong while decoding; offsets are into the original bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeIssue {
    /// Bytes that are not valid in the detected encoding (replaced by U+FFFD).
    Malformed { byte: usize, count: usize },
    /// Non-framing bytes after the MLLP end byte 0x1C (kept, appended to the text).
    DataAfterEnd { byte: usize },
    /// The encoding was a guess (8-bit, neither UTF-8 nor Shift_JIS).
    Guessed,
    /// ISO-2022-JP text that ends in a Japanese character set (RFC 1468: it must end in
    /// ASCII): the file was cut off, usually by an interrupted copy. `byte` is the escape
    /// sequence that opened the last Japanese run.
    EndsInJapanese { byte: usize },
}

/// The offset of the escape sequence that leaves ISO-2022-JP text in a non-ASCII set at
/// its end, if any (ESC ( B and ESC ( J return to ASCII / JIS Roman).
fn unterminated_jis(payload: &[u8]) -> Option<usize> {
    let mut open = None;
    for i in memchr::memchr_iter(0x1B, payload) {
        match payload.get(i + 1..i + 3) {
            Some(b"(B") | Some(b"(J") => open = None,
            Some(b"$@") | Some(b"$B") | Some(b"(I") => open = Some(i),
            _ => {}
        }
    }
    open
}

#[derive(Debug, Clone)]
pub struct Decoded {
    pub text: String,
    pub encoding: TextEncoding,
    pub issues: Vec<DecodeIssue>,
}

/// Strip MLLP framing (leading 0x0B, the 0x1C end byte and the CR that follows it).
/// Returns the payload and, when something other than line ends follows 0x1C, its offset.
pub fn strip_framing(bytes: &[u8]) -> (&[u8], usize, Option<usize>) {
    let mut start = 0;
    while start < bytes.len()
        && (bytes[start] == 0x0B
            || bytes[start] == 0xEF && bytes[start..].starts_with(&[0xEF, 0xBB, 0xBF]))
    {
        start += if bytes[start] == 0x0B { 1 } else { 3 };
    }
    let body = &bytes[start..];
    match body.iter().position(|&b| b == 0x1C) {
        None => (body, start, None),
        Some(end) => {
            let rest = &body[end + 1..];
            let trailing = rest
                .iter()
                .position(|b| !matches!(b, b'\r' | b'\n' | b' ' | 0x1C | 0x0B | 0));
            match trailing {
                // Something real follows the end byte: keep everything so nothing is lost.
                Some(off) => (body, start, Some(start + end + 1 + off)),
                None => (&body[..end], start, None),
            }
        }
    }
}

/// Detect the encoding from the bytes: escape sequences → ISO-2022-JP; valid UTF-8 →
/// UTF-8 (ASCII if 7-bit); valid Shift_JIS → Shift_JIS; otherwise windows-1252.
pub fn detect(bytes: &[u8]) -> TextEncoding {
    if bytes.contains(&0x1B) {
        return TextEncoding::Iso2022Jp;
    }
    if bytes.is_ascii() {
        return TextEncoding::Ascii;
    }
    if std::str::from_utf8(bytes).is_ok() {
        return TextEncoding::Utf8;
    }
    if SHIFT_JIS
        .decode_without_bom_handling_and_without_replacement(bytes)
        .is_some()
    {
        return TextEncoding::ShiftJis;
    }
    TextEncoding::Windows1252
}

/// Decode a whole file (framing stripped) into text.
pub fn decode(bytes: &[u8]) -> Decoded {
    let (payload, offset, after_end) = strip_framing(bytes);
    let encoding = detect(payload);
    let mut issues = Vec::new();
    if let Some(b) = after_end {
        issues.push(DecodeIssue::DataAfterEnd { byte: b });
    }
    let mut text = match encoding {
        TextEncoding::Ascii | TextEncoding::Utf8 => match std::str::from_utf8(payload) {
            Ok(s) => s.to_owned(),
            Err(_) => decode_with(UTF8_FALLBACK, payload, offset, &mut issues),
        },
        TextEncoding::Iso2022Jp => {
            if let Some(at) = unterminated_jis(payload) {
                issues.push(DecodeIssue::EndsInJapanese { byte: offset + at });
            }
            decode_with(ISO_2022_JP, payload, offset, &mut issues)
        }
        TextEncoding::ShiftJis => decode_with(SHIFT_JIS, payload, offset, &mut issues),
        TextEncoding::Windows1252 => {
            issues.push(DecodeIssue::Guessed);
            decode_with(WINDOWS_1252, payload, offset, &mut issues)
        }
    };
    if after_end.is_some() {
        // The 0x1C itself is framing, not text.
        text.retain(|c| c != '\u{1C}');
    }
    Decoded {
        text,
        encoding,
        issues,
    }
}

const UTF8_FALLBACK: &Enc = encoding_rs::UTF_8;

/// Decode with replacement, recording where each malformed run starts.
fn decode_with(
    enc: &'static Enc,
    bytes: &[u8],
    base: usize,
    issues: &mut Vec<DecodeIssue>,
) -> String {
    let mut decoder = enc.new_decoder_without_bom_handling();
    let cap = decoder
        .max_utf8_buffer_length_without_replacement(bytes.len())
        .unwrap_or(bytes.len() * 3 + 16);
    let mut out = String::with_capacity(cap + 16);
    let mut read_total = 0;
    loop {
        let (result, read) =
            decoder.decode_to_string_without_replacement(&bytes[read_total..], &mut out, true);
        read_total += read;
        match result {
            DecoderResult::InputEmpty => break,
            DecoderResult::OutputFull => out.reserve(bytes.len() - read_total + 64),
            DecoderResult::Malformed(bad, consumed_after) => {
                let at = read_total - bad as usize - consumed_after as usize;
                match issues.last_mut() {
                    Some(DecodeIssue::Malformed { byte, count }) if *byte + *count == base + at => {
                        *count += bad as usize
                    }
                    _ => issues.push(DecodeIssue::Malformed {
                        byte: base + at,
                        count: bad as usize,
                    }),
                }
                out.push('\u{FFFD}');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso2022jp_name_bytes_equal_to_delimiters_survive() {
        // 患者 = ESC $ B 3 5 < T ESC ( B ; the '<' byte would be harmless, but 'ー' (!<)
        // and '＾' (!0) contain bytes equal to HL7 delimiters in other names.
        let bytes = b"PID|1||1||\x1b$B45<T\x1b(B^\x1b$B%?%m%&\x1b(B\r";
        let d = decode(bytes);
        assert_eq!(d.encoding, TextEncoding::Iso2022Jp);
        assert_eq!(d.text, "PID|1||1||患者^タロウ\r");
        assert!(d.issues.is_empty());
    }

    #[test]
    fn jis_roman_backslash_is_yen() {
        let d = decode(b"\x1b(JMSH|^~\\&|A\r");
        assert_eq!(d.text, "MSH|^\u{203E}\u{A5}&|A\r");
    }

    #[test]
    fn mllp_framing_is_stripped() {
        let d = decode(b"\x0bMSH|^~\\&|A\r\x1c\r");
        assert_eq!(d.text, "MSH|^~\\&|A\r");
        assert!(d.issues.is_empty());
    }

    #[test]
    fn data_after_end_byte_is_kept_and_reported() {
        let d = decode(b"MSH|^~\\&|A\r\x1cPID|1\r");
        assert_eq!(d.text, "MSH|^~\\&|A\rPID|1\r");
        assert_eq!(d.issues, vec![DecodeIssue::DataAfterEnd { byte: 12 }]);
    }

    #[test]
    fn shift_jis_leftovers_are_detected() {
        // 患者 in Shift_JIS
        let d = decode(b"PID|1||1||\x8a\xb3\x8e\xd2\r");
        assert_eq!(d.encoding, TextEncoding::ShiftJis);
        assert_eq!(d.text, "PID|1||1||患者\r");
    }

    #[test]
    fn utf8_is_detected() {
        let d = decode("PID|1||1||患者\r".as_bytes());
        assert_eq!(d.encoding, TextEncoding::Utf8);
    }

    #[test]
    fn malformed_iso2022jp_is_located() {
        let d = decode(b"PID|\x1b$B45\xff\xfe\x1b(B|\r");
        assert_eq!(d.encoding, TextEncoding::Iso2022Jp);
        assert!(d.text.contains('\u{FFFD}'));
        match &d.issues[0] {
            DecodeIssue::Malformed { byte, .. } => assert!(*byte >= 7 && *byte <= 9, "{byte}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn latin1_falls_back_to_windows_1252() {
        let d = decode(b"PID|1||1||M\xfcller\xe9\xe9\xe9\r");
        assert_eq!(d.encoding, TextEncoding::Windows1252);
        assert!(d.text.contains("Müller"));
        assert!(d.issues.contains(&DecodeIssue::Guessed));
    }
}
