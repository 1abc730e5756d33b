//! HL7 v2 escape sequences (v2.5 §2.7): `\F\ \S\ \T\ \R\ \E\ \Xhh…\`, plus the
//! formatting escapes `\H\ \N\` (dropped) and `\.br\` (line break).

use super::message::Delimiters;
use std::borrow::Cow;

/// Replace escape sequences in one leaf value. Unknown or unterminated sequences are kept
/// literally so no text is lost.
pub fn unescape<'a>(raw: &'a str, d: &Delimiters) -> Cow<'a, str> {
    let Some(esc) = d.escape else {
        return Cow::Borrowed(raw);
    };
    if !raw.contains(esc) {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(pos) = rest.find(esc) {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + esc.len_utf8()..];
        let Some(end) = after.find(esc) else {
            out.push_str(&rest[pos..]);
            return Cow::Owned(out);
        };
        let seq = &after[..end];
        let consumed = pos + esc.len_utf8() + end + esc.len_utf8();
        match seq {
            "F" => out.push(d.field),
            "S" => out.push(d.component),
            "T" => out.push(d.subcomponent),
            "R" => out.push(d.repetition),
            "E" => out.push(esc),
            "H" | "N" => {}
            ".br" => out.push('\n'),
            s if s.starts_with('X')
                && s.len() > 1
                && s.len() % 2 == 1
                && s[1..].bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                let bytes: Vec<u8> = (1..s.len())
                    .step_by(2)
                    .filter_map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
                    .collect();
                match String::from_utf8(bytes) {
                    Ok(s) => out.push_str(&s),
                    // Not UTF-8: treat as Latin-1, which maps every byte.
                    Err(e) => out.extend(e.into_bytes().into_iter().map(char::from)),
                }
            }
            _ => out.push_str(&rest[pos..consumed]),
        }
        rest = &rest[consumed..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Whether `seq` (the text between two escape characters) is an escape sequence of
/// HL7 v2.5 §2.7: delimiters, formatting (`.br`, `.sp3`, `.in-2` …), hexadecimal data,
/// character-set (`C`/`M`) and locally defined (`Z`) sequences.
pub fn is_known(seq: &str) -> bool {
    let hex =
        |s: &str| !s.is_empty() && s.len() % 2 == 0 && s.bytes().all(|b| b.is_ascii_hexdigit());
    match seq.as_bytes().first() {
        None => false,
        Some(b'F' | b'S' | b'T' | b'R' | b'E' | b'H' | b'N') => seq.len() == 1,
        Some(b'X') => hex(&seq[1..]),
        Some(b'C') => seq.len() == 5 && hex(&seq[1..]),
        Some(b'M') => (seq.len() == 5 || seq.len() == 7) && hex(&seq[1..]),
        Some(b'Z') => true,
        Some(b'.') => {
            let cmd = seq.get(1..3).unwrap_or("");
            let arg = seq.get(3..).unwrap_or("");
            matches!(cmd, "br" | "fi" | "nf" | "ce") && arg.is_empty()
                || matches!(cmd, "sp" | "sk" | "in" | "ti")
                    && arg
                        .strip_prefix(['+', '-'])
                        .unwrap_or(arg)
                        .bytes()
                        .all(|b| b.is_ascii_digit())
        }
        Some(_) => false,
    }
}

/// The first escape problem in a field's raw text: an unterminated sequence or one that
/// HL7 does not define. Such text is kept literally by [`unescape`], so it is worth a note.
pub fn first_problem(raw: &str, esc: char) -> Option<&'static str> {
    let mut rest = raw;
    while let Some(pos) = rest.find(esc) {
        let after = &rest[pos + esc.len_utf8()..];
        let Some(end) = after.find(esc) else {
            return Some("unterminated escape sequence");
        };
        if !is_known(&after[..end]) {
            return Some("unknown escape sequence");
        }
        rest = &after[end + esc.len_utf8()..];
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn escape_problems_are_found_and_good_sequences_pass() {
        for good in [
            r"a\F\b",
            r"\X41\",
            r"\.sp2\x",
            r"\Zlocal\",
            r"\C2842\",
            r"plain",
        ] {
            assert_eq!(first_problem(good, '\\'), None, "{good}");
        }
        assert_eq!(
            first_problem(r"a\Q\b", '\\'),
            Some("unknown escape sequence")
        );
        assert_eq!(
            first_problem(r"a\X4\", '\\'),
            Some("unknown escape sequence")
        );
        assert_eq!(
            first_problem(r"a\F", '\\'),
            Some("unterminated escape sequence")
        );
    }

    use super::*;

    fn d() -> Delimiters {
        Delimiters::default()
    }

    #[test]
    fn standard_escapes() {
        assert_eq!(unescape(r"a\F\b\S\c\T\d\R\e\E\f", &d()), "a|b^c&d~e\\f");
    }

    #[test]
    fn hex_escape() {
        assert_eq!(unescape(r"\X41\\XE682A3\", &d()), "A患");
    }

    #[test]
    fn formatting_escapes() {
        assert_eq!(
            unescape(r"\H\bold\N\ line\.br\next", &d()),
            "bold line\nnext"
        );
    }

    #[test]
    fn unknown_and_unterminated_are_kept() {
        assert_eq!(unescape(r"\Zfoo\ and \F", &d()), r"\Zfoo\ and \F");
    }

    #[test]
    fn yen_escape_character() {
        let mut dl = d();
        dl.escape = Some('¥');
        assert_eq!(unescape("a¥F¥b", &dl), "a|b");
    }
}
