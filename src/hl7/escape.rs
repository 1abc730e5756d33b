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

#[cfg(test)]
mod tests {
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
