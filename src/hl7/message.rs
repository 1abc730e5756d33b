//! The HL7 v2 message model: one decoded text plus the spans of its segments and fields.
//!
//! Parsing indexes segments and fields once (two small allocations per message);
//! repetitions, components, sub-components and escapes are split lazily on access, so a
//! message costs little more than its text and nothing is ever re-serialised: the original
//! text stays available, which keeps unknown and Z-segments lossless.

use super::escape::unescape;
use super::path::{segment_label, FieldPath};
use crate::diagnostics::{Diagnostic, Location};
use std::borrow::Cow;

/// Separator characters from MSH-1 and MSH-2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delimiters {
    pub field: char,
    pub component: char,
    pub repetition: char,
    /// `None` when MSH-2 declares no escape character.
    pub escape: Option<char>,
    pub subcomponent: char,
}

impl Default for Delimiters {
    fn default() -> Self {
        Delimiters {
            field: '|',
            component: '^',
            repetition: '~',
            escape: Some('\\'),
            subcomponent: '&',
        }
    }
}

/// A leaf value: HL7 distinguishes an absent/empty value from the explicit null `""`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    Absent,
    Null,
    Text(Cow<'a, str>),
}

impl<'a> Value<'a> {
    pub fn of(raw: &'a str, d: &Delimiters) -> Value<'a> {
        match raw {
            "" => Value::Absent,
            "\"\"" => Value::Null,
            _ => Value::Text(unescape(raw, d)),
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }
    pub fn is_present(&self) -> bool {
        matches!(self, Value::Text(_))
    }
    pub fn into_owned(self) -> Option<String> {
        match self {
            Value::Text(t) => Some(t.into_owned()),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct SegSpan {
    start: u32,
    end: u32,
    first_field: u32,
    field_count: u32,
    line: u32,
}

#[derive(Debug, Clone)]
pub struct Message {
    text: String,
    delims: Delimiters,
    segments: Vec<SegSpan>,
    fields: Vec<(u32, u32)>,
}

/// Segments whose first fields are the delimiters themselves (MSH-1 is the separator).
fn is_header(name: &str) -> bool {
    matches!(name, "MSH" | "FHS" | "BHS")
}

fn valid_segment_id(name: &str) -> bool {
    name.len() == 3
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Lines of a text, split on CR, LF or CRLF; trailing spaces/tabs trimmed; blank lines skipped.
/// Yields (start, end, 1-based line number).
fn lines(text: &str) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
    let bytes = text.as_bytes();
    let mut pos = 0;
    let mut line = 0;
    std::iter::from_fn(move || loop {
        if pos >= bytes.len() {
            return None;
        }
        let start = pos;
        let mut end = match memchr::memchr2(b'\r', b'\n', &bytes[pos..]) {
            Some(i) => pos + i,
            None => bytes.len(),
        };
        let next = if end < bytes.len() && bytes[end] == b'\r' && bytes.get(end + 1) == Some(&b'\n')
        {
            end + 2
        } else {
            end + 1
        };
        pos = next;
        line += 1;
        while end > start && matches!(bytes[end - 1], b' ' | b'\t') {
            end -= 1;
        }
        if end > start {
            return Some((start, end, line));
        }
    })
}

/// Call `f` with the offset of every `needle` byte, eight bytes at a time.
///
/// Field separators are a few bytes apart, so memchr's per-call set-up dominates and a
/// byte loop runs at one byte per cycle; this word-at-a-time scan (exact zero-byte test,
/// no false positives) roughly doubles parse throughput.
#[inline]
fn for_each_byte(hay: &[u8], needle: u8, mut f: impl FnMut(usize)) {
    const LO7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let pat = u64::from_ne_bytes([needle; 8]);
    let mut chunks = hay.chunks_exact(8);
    let mut base = 0;
    for c in &mut chunks {
        let x = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) ^ pat;
        let mut m = !(((x & LO7).wrapping_add(LO7)) | x | LO7);
        while m != 0 {
            f(base + (m.trailing_zeros() / 8) as usize);
            m &= m - 1;
        }
        base += 8;
    }
    for (i, &b) in chunks.remainder().iter().enumerate() {
        if b == needle {
            f(base + i);
        }
    }
}

/// More segments than this in one message is not a real message (README "Limits").
pub const MAX_SEGMENTS: usize = 100_000;
/// More repetition separators than this in one segment is not a real segment.
pub const MAX_REPETITIONS: usize = 10_000;
pub const MAX_MESSAGE_BYTES: usize = u32::MAX as usize - 1;

impl Message {
    /// Parse one message. Fatal problems (no MSH) are an `Err`; everything else is kept and
    /// reported in the returned diagnostics, whose locations carry segment and line only
    /// (the caller adds the file).
    #[allow(clippy::result_large_err)]
    pub fn parse(text: String) -> Result<(Message, Vec<Diagnostic>), Diagnostic> {
        Self::parse_at(text, 0)
    }

    /// As [`Message::parse`], numbering lines from `line_base + 1` (for batch files).
    #[allow(clippy::result_large_err)]
    pub fn parse_at(
        text: String,
        line_base: usize,
    ) -> Result<(Message, Vec<Diagnostic>), Diagnostic> {
        let mut diags = Vec::new();
        if text.len() > MAX_MESSAGE_BYTES {
            return Err(Diagnostic::error(
                "H001",
                "message larger than 4 GiB",
                Location::default(),
            ));
        }
        let Some((s0, e0, l0)) = lines(&text).next() else {
            return Err(
                Diagnostic::error("H001", "empty message", Location::default())
                    .help("the file holds no segments"),
            );
        };
        let first = &text[s0..e0];
        if !first.starts_with("MSH") {
            return Err(Diagnostic::error("H002", "message does not start with an MSH segment", Location::default().with_line(line_base + l0))
                .help("an HL7 v2 message starts with MSH followed by the field separator, e.g. MSH|^~\\&|"));
        }
        let mut chars = first[3..].chars();
        let Some(field) = chars.next() else {
            return Err(Diagnostic::error(
                "H003",
                "MSH segment has no field separator",
                Location::default()
                    .with_line(line_base + l0)
                    .with_segment("MSH-1"),
            ));
        };
        if !field.is_ascii() || field.is_ascii_alphanumeric() {
            return Err(Diagnostic::error(
                "H003",
                "MSH-1 field separator is not an ASCII punctuation character",
                Location::default()
                    .with_line(line_base + l0)
                    .with_segment("MSH-1"),
            ));
        }
        let enc: Vec<char> = chars.take_while(|&c| c != field).collect();
        let mut delims = Delimiters {
            field,
            ..Delimiters::default()
        };
        if enc.len() < 4 {
            diags.push(Diagnostic::warning("H003", format!("MSH-2 declares {} of the 4 encoding characters; HL7 defaults used for the rest", enc.len()), Location::default().with_line(line_base + l0).with_segment("MSH-2")));
        }
        let pick = |i: usize, default: char| enc.get(i).copied().unwrap_or(default);
        delims.component = pick(0, '^');
        delims.repetition = pick(1, '~');
        delims.escape = Some(pick(2, '\\'));
        delims.subcomponent = pick(3, '&');
        let mut seen = vec![
            delims.field,
            delims.component,
            delims.repetition,
            delims.subcomponent,
        ];
        if let Some(e) = delims.escape {
            seen.push(e);
        }
        seen.sort_unstable();
        if seen.windows(2).any(|w| w[0] == w[1]) {
            diags.push(Diagnostic::warning(
                "H003",
                "MSH-1/MSH-2 declare the same character twice",
                Location::default()
                    .with_line(line_base + l0)
                    .with_segment("MSH-2"),
            ));
        }

        let fsep = field as u8;
        let bytes = text.as_bytes();
        let mut segments = Vec::with_capacity(16);
        let mut fields: Vec<(u32, u32)> = Vec::with_capacity(text.len() / 8 + 16);
        let rep = delims.repetition;
        for (start, end, line) in lines(&text) {
            if segments.len() >= MAX_SEGMENTS {
                return Err(Diagnostic::error(
                    "H008",
                    format!("message has more than {MAX_SEGMENTS} segments; not read"),
                    Location::default().with_line(line_base + line),
                )
                .help("no real message is this long: the file is probably several messages run together, or generated in a loop"));
            }
            if rep.is_ascii() && end - start > MAX_REPETITIONS {
                let n = memchr::memchr_iter(rep as u8, &bytes[start..end]).count();
                if n >= MAX_REPETITIONS {
                    return Err(Diagnostic::error(
                        "H009",
                        format!("a segment has more than {MAX_REPETITIONS} repetitions; message not read"),
                        Location::default()
                            .with_line(line_base + line)
                            .with_segment(text[start..end].get(..3).unwrap_or("").to_owned()),
                    )
                    .help("no real field repeats this often; the sender's repetition separator is probably wrong"));
                }
            }
            let first_field = fields.len() as u32;
            let mut fs = start;
            for_each_byte(&bytes[start..end], fsep, |i| {
                fields.push((fs as u32, (start + i) as u32));
                fs = start + i + 1;
            });
            fields.push((fs as u32, end as u32));
            let field_count = fields.len() as u32 - first_field;
            let (ns, ne) = fields[first_field as usize];
            let name = &text[ns as usize..ne as usize];
            if !valid_segment_id(name) {
                let occurrence = segments.len() + 1;
                diags.push(
                    Diagnostic::warning("H004", "line is not a valid segment (expected a three-character segment id); kept as is", Location::default().with_line(line_base + line).with_segment(format!("segment {occurrence}")))
                        .help("a segment starts with its id, e.g. OBX|; text continuing a previous line is usually an unescaped line break"),
                );
            } else if !segments.is_empty() && name == "MSH" {
                diags.push(
                    Diagnostic::warning(
                        "H005",
                        "second MSH segment inside one message",
                        Location::default().with_line(line_base + line),
                    )
                    .help("batch files are split into messages with split_messages"),
                );
            }
            segments.push(SegSpan {
                start: start as u32,
                end: end as u32,
                first_field,
                field_count,
                line: (line_base + line) as u32,
            });
        }
        if let Some(esc) = delims.escape {
            escape_problems(&text, esc, &segments, &fields, &mut diags);
        }
        Ok((
            Message {
                text,
                delims,
                segments,
                fields,
            },
            diags,
        ))
    }

    pub fn text(&self) -> &str {
        &self.text
    }
    pub fn delimiters(&self) -> &Delimiters {
        &self.delims
    }
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }
    pub fn segment(&self, index: usize) -> Option<Segment<'_>> {
        (index < self.segments.len()).then_some(Segment { msg: self, index })
    }
    pub fn segments(&self) -> impl Iterator<Item = Segment<'_>> + '_ {
        (0..self.segments.len()).map(move |index| Segment { msg: self, index })
    }
    pub fn segments_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = Segment<'a>> + 'a {
        self.segments().filter(move |s| s.name() == name)
    }

    fn msh(&self, field: usize, comp: Option<usize>) -> Option<String> {
        let seg = self.segment(0).filter(|s| s.name() == "MSH")?;
        seg.value(field, 1, comp, None).into_owned()
    }

    /// `MSH-9.1^MSH-9.2`, e.g. `ADT^A08`.
    pub fn message_type(&self) -> Option<String> {
        let code = self.msh(9, Some(1))?;
        match self.msh(9, Some(2)) {
            Some(t) => Some(format!("{code}^{t}")),
            None => Some(code),
        }
    }
    /// MSH-9.3 message structure, e.g. `ADT_A01`.
    pub fn structure_id(&self) -> Option<String> {
        self.msh(9, Some(3))
    }
    /// MSH-10 message control id (used to locate diagnostics).
    pub fn control_id(&self) -> Option<String> {
        self.msh(10, None)
    }

    /// Value at a path over the whole message.
    pub fn get(&self, path: &FieldPath) -> Value<'_> {
        self.get_in(0..self.segments.len(), path)
    }

    /// Value at a path given as text; an invalid path yields `Absent` (paths in mapping files
    /// are checked when they load, so this is for ad-hoc use).
    pub fn get_path(&self, path: &str) -> Value<'_> {
        match path.parse::<FieldPath>() {
            Ok(p) => self.get(&p),
            Err(_) => Value::Absent,
        }
    }

    /// Value at a path, counting segment occurrences only among `scope` (a group's segments).
    pub fn get_in(&self, scope: impl IntoIterator<Item = usize>, path: &FieldPath) -> Value<'_> {
        let want = path.occurrence.unwrap_or(1);
        let seg = scope
            .into_iter()
            .filter_map(|i| self.segment(i))
            .filter(|s| s.name() == path.segment)
            .nth(want - 1);
        let Some(seg) = seg else { return Value::Absent };
        seg.value(
            path.field,
            path.repetition.unwrap_or(1),
            path.component,
            path.subcomponent,
        )
    }

    /// Diagnostic location of segment `index`: `OBX[3]` and its line.
    pub fn locate(&self, index: usize) -> Location {
        match self.segment(index) {
            Some(s) => {
                let occ = self
                    .segments()
                    .take(index + 1)
                    .filter(|x| x.name() == s.name())
                    .count();
                Location::default()
                    .with_line(s.line())
                    .with_segment(segment_label(s.name(), occ))
            }
            None => Location::default(),
        }
    }
}

/// One segment of a message.
#[derive(Clone, Copy)]
pub struct Segment<'a> {
    msg: &'a Message,
    index: usize,
}

impl<'a> Segment<'a> {
    fn span(&self) -> SegSpan {
        self.msg.segments[self.index]
    }
    pub fn index(&self) -> usize {
        self.index
    }
    /// 1-based line of the segment in its file.
    pub fn line(&self) -> usize {
        self.span().line as usize
    }
    pub fn name(&self) -> &'a str {
        self.raw_piece(0).unwrap_or("")
    }
    /// The segment's text exactly as received (lossless).
    pub fn raw(&self) -> &'a str {
        let s = self.span();
        &self.msg.text[s.start as usize..s.end as usize]
    }
    fn raw_piece(&self, i: usize) -> Option<&'a str> {
        let s = self.span();
        if i >= s.field_count as usize {
            return None;
        }
        let (a, b) = self.msg.fields[s.first_field as usize + i];
        Some(&self.msg.text[a as usize..b as usize])
    }
    /// Number of the last field present (HL7 numbering).
    pub fn field_count(&self) -> usize {
        let n = self.span().field_count as usize - 1;
        if is_header(self.name()) {
            n + 1
        } else {
            n
        }
    }
    /// Raw (still escaped) text of field `n` (1-based, HL7 numbering; MSH-1 is the separator).
    pub fn field_raw(&self, n: usize) -> Option<&'a str> {
        if n == 0 {
            return None;
        }
        if is_header(self.name()) {
            if n == 1 {
                let start = self.span().start as usize + 3;
                let len = self.msg.delims.field.len_utf8();
                return self.msg.text.get(start..start + len);
            }
            return self.raw_piece(n - 1);
        }
        self.raw_piece(n)
    }
    pub fn field(&self, n: usize) -> Field<'a> {
        let literal = is_header(self.name()) && n <= 2;
        Field {
            raw: self.field_raw(n).unwrap_or(""),
            d: &self.msg.delims,
            literal,
        }
    }
    /// Leaf value at field/repetition/component/sub-component (1-based). Without a
    /// component the whole repetition is returned (composite text keeps its separators).
    pub fn value(
        &self,
        field: usize,
        rep: usize,
        comp: Option<usize>,
        sub: Option<usize>,
    ) -> Value<'a> {
        let f = self.field(field);
        if f.literal {
            return Value::of_literal(f.raw);
        }
        let Some(r) = f.repetition(rep) else {
            return Value::Absent;
        };
        match comp {
            None if !r.raw.contains(self.msg.delims.component)
                && !r.raw.contains(self.msg.delims.subcomponent) =>
            {
                Value::of(r.raw, r.d)
            }
            None => Value::of_literal(r.raw),
            Some(c) => {
                let Some(comp) = r.component(c) else {
                    return Value::Absent;
                };
                match sub {
                    None if !comp.raw.contains(self.msg.delims.subcomponent) => {
                        Value::of(comp.raw, comp.d)
                    }
                    None => Value::of_literal(comp.raw),
                    Some(s) => Value::of(comp.subcomponent(s).unwrap_or(""), comp.d),
                }
            }
        }
    }
}

impl<'a> Value<'a> {
    fn of_literal(raw: &'a str) -> Value<'a> {
        match raw {
            "" => Value::Absent,
            "\"\"" => Value::Null,
            _ => Value::Text(Cow::Borrowed(raw)),
        }
    }
}

/// A field with its repetitions.
#[derive(Clone, Copy)]
pub struct Field<'a> {
    pub raw: &'a str,
    d: &'a Delimiters,
    literal: bool,
}

impl<'a> Field<'a> {
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }
    pub fn is_null(&self) -> bool {
        self.raw == "\"\""
    }
    pub fn repetitions(&self) -> impl Iterator<Item = Repetition<'a>> + 'a {
        let d = self.d;
        let raw = self.raw;
        let parts: Box<dyn Iterator<Item = &'a str>> = if self.literal || raw.is_empty() {
            Box::new(std::iter::once(raw).filter(|s| !s.is_empty()))
        } else {
            Box::new(raw.split(d.repetition))
        };
        parts.map(move |raw| Repetition { raw, d })
    }
    pub fn repetition(&self, n: usize) -> Option<Repetition<'a>> {
        if n == 0 {
            return None;
        }
        self.repetitions().nth(n - 1)
    }
}

#[derive(Clone, Copy)]
pub struct Repetition<'a> {
    pub raw: &'a str,
    d: &'a Delimiters,
}

impl<'a> Repetition<'a> {
    pub fn components(&self) -> impl Iterator<Item = Component<'a>> + 'a {
        let d = self.d;
        self.raw
            .split(d.component)
            .map(move |raw| Component { raw, d })
    }
    pub fn component(&self, n: usize) -> Option<Component<'a>> {
        if n == 0 {
            return None;
        }
        self.components().nth(n - 1)
    }
    /// Unescaped value of component `n` (1-based).
    pub fn value(&self, n: usize) -> Value<'a> {
        self.component(n)
            .map(|c| Value::of(c.raw, c.d))
            .unwrap_or(Value::Absent)
    }
}

#[derive(Clone, Copy)]
pub struct Component<'a> {
    pub raw: &'a str,
    d: &'a Delimiters,
}

impl<'a> Component<'a> {
    pub fn delimiters(&self) -> &'a Delimiters {
        self.d
    }
    pub fn subcomponents(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.raw.split(self.d.subcomponent)
    }
    pub fn subcomponent(&self, n: usize) -> Option<&'a str> {
        if n == 0 {
            return None;
        }
        self.subcomponents().nth(n - 1)
    }
    pub fn value(&self) -> Value<'a> {
        Value::of(self.raw, self.d)
    }
}

/// Split a file that may hold several messages (batch files, test corpora) at each MSH.
/// Batch envelope segments (FHS, BHS, BTS, FTS) are dropped. Returns each message's text
/// with the 0-based line number it starts after, plus the lines that belong to no message.
pub fn split_messages(text: &str) -> (Vec<(String, usize)>, Vec<usize>) {
    let mut out: Vec<(String, usize)> = Vec::new();
    let mut stray = Vec::new();
    for (s, e, line) in lines(text) {
        let seg = &text[s..e];
        if seg.starts_with("MSH") {
            out.push((String::with_capacity(1024), line - 1));
        } else if ["FHS", "BHS", "BTS", "FTS"]
            .iter()
            .any(|h| seg.starts_with(h))
        {
            continue;
        } else if out.is_empty() {
            stray.push(line);
            continue;
        }
        if let Some((m, _)) = out.last_mut() {
            m.push_str(seg);
            m.push('\r');
        }
    }
    (out, stray)
}

/// H007 for every field whose escape sequences HL7 does not define (kept as text). MSH-1
/// and MSH-2 hold the delimiters themselves and are not scanned.
fn escape_problems(
    text: &str,
    esc: char,
    segments: &[SegSpan],
    fields: &[(u32, u32)],
    diags: &mut Vec<Diagnostic>,
) {
    let mut esc_buf = [0u8; 4];
    let esc_bytes = esc.encode_utf8(&mut esc_buf).as_bytes();
    // MSH-2 always holds the escape character; most messages have it nowhere else, and
    // then there is nothing to scan field by field.
    let after_msh2 = segments
        .first()
        .and_then(|s| fields.get(s.first_field as usize + 1))
        .map_or(0, |&(_, end)| end as usize);
    if memchr::memmem::find(&text.as_bytes()[after_msh2.min(text.len())..], esc_bytes).is_none() {
        return;
    }
    let mut occurrences: std::collections::HashMap<&str, usize> = Default::default();
    for seg in segments {
        let range = seg.first_field as usize..(seg.first_field + seg.field_count) as usize;
        let Some(&(ns, ne)) = fields.get(range.start) else {
            continue;
        };
        let name = &text[ns as usize..ne as usize];
        let occ = occurrences.entry(name).or_insert(0);
        *occ += 1;
        let skip = if name == "MSH" { 2 } else { 1 };
        for (i, &(a, b)) in fields[range].iter().enumerate().skip(skip) {
            let raw = &text[a as usize..b as usize];
            if let Some(problem) = super::escape::first_problem(raw, esc) {
                // MSH counts MSH-1 (the field separator) as a field of its own.
                let n = if name == "MSH" { i + 1 } else { i };
                diags.push(
                    Diagnostic::warning(
                        "H007",
                        format!("{problem} in {name}-{n}; kept as text"),
                        Location::default()
                            .with_line(seg.line as usize)
                            .with_segment(format!("{name}[{occ}]-{n}")),
                    )
                    .help("HL7 v2.5 §2.7 defines \\F\\ \\S\\ \\T\\ \\R\\ \\E\\ \\Xhh\\ and formatting escapes; the sender may have left the escape character unescaped"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADT: &str = "MSH|^~\\&|HIS|SEND|GW|RCV|20111220224447.3399||ADT^A08^ADT_A01|CTRL1|P|2.5\rEVN||201112202100\rPID|0001||9999013^^^^PI||患者^太郎^^^^^L^I~カンジャ^タロウ^^^^^L^P||19480405|M|||^^^^422-8033^JPN^H^静岡県||\"\"|a\\F\\b&c\rOBX|1|NM|9N001^身長^JC10||167.8|cm\rOBX|2|NM|9N006^体重^JC10||63.5|kg\rZXY|1|keep me\r";

    fn msg() -> Message {
        Message::parse(ADT.to_owned()).unwrap().0
    }

    #[test]
    fn msh_numbering() {
        let m = msg();
        assert_eq!(m.get_path("MSH-1").as_str(), Some("|"));
        assert_eq!(m.get_path("MSH-2").as_str(), Some("^~\\&"));
        assert_eq!(m.get_path("MSH-3").as_str(), Some("HIS"));
        assert_eq!(m.message_type().as_deref(), Some("ADT^A08"));
        assert_eq!(m.structure_id().as_deref(), Some("ADT_A01"));
        assert_eq!(m.control_id().as_deref(), Some("CTRL1"));
    }

    #[test]
    fn repetitions_components() {
        let m = msg();
        assert_eq!(m.get_path("PID-5.1").as_str(), Some("患者"));
        assert_eq!(m.get_path("PID-5[2].2").as_str(), Some("タロウ"));
        assert_eq!(m.get_path("PID-5[2].8").as_str(), Some("P"));
        assert_eq!(m.get_path("PID-5[3].1"), Value::Absent);
        assert_eq!(m.get_path("PID-3.1").as_str(), Some("9999013"));
        assert_eq!(m.get_path("PID-11.8").as_str(), Some("静岡県"));
    }

    #[test]
    fn null_is_distinct_from_empty() {
        let m = msg();
        assert_eq!(m.get_path("PID-13"), Value::Null);
        assert_eq!(m.get_path("PID-12"), Value::Absent);
    }

    #[test]
    fn escapes_and_subcomponents() {
        let m = msg();
        assert_eq!(m.get_path("PID-14.1.1").as_str(), Some("a|b"));
        assert_eq!(m.get_path("PID-14.1.2").as_str(), Some("c"));
    }

    #[test]
    fn occurrences() {
        let m = msg();
        assert_eq!(m.get_path("OBX[2]-5").as_str(), Some("63.5"));
        assert_eq!(m.get_path("OBX-5").as_str(), Some("167.8"));
        assert_eq!(m.get_path("OBX[3]-5"), Value::Absent);
    }

    #[test]
    fn unknown_segments_are_kept_losslessly() {
        let m = msg();
        let z = m.segments_named("ZXY").next().unwrap();
        assert_eq!(z.raw(), "ZXY|1|keep me");
        assert_eq!(m.text(), ADT);
    }

    #[test]
    fn line_endings_and_trailing_spaces() {
        let (m, d) = Message::parse("MSH|^~\\&|A  \r\nPID|1||X   \nOBX|1\r\r".into()).unwrap();
        assert!(d.is_empty());
        assert_eq!(m.segment_count(), 3);
        assert_eq!(m.get_path("PID-3").as_str(), Some("X"));
        assert_eq!(m.segment(2).unwrap().line(), 3);
    }

    #[test]
    fn missing_final_cr() {
        let (m, _) = Message::parse("MSH|^~\\&|A\rPID|1||X".into()).unwrap();
        assert_eq!(m.get_path("PID-3").as_str(), Some("X"));
    }

    #[test]
    fn yen_escape_character_from_msh2() {
        let (m, _) = Message::parse("MSH|^~¥&|A\rPID|1||a¥F¥b".into()).unwrap();
        assert_eq!(m.delimiters().escape, Some('¥'));
        assert_eq!(m.get_path("PID-3").as_str(), Some("a|b"));
    }

    #[test]
    fn not_hl7_is_an_error() {
        let e = Message::parse("hello\rworld".into()).unwrap_err();
        assert_eq!(e.code, "H002");
        assert_eq!(Message::parse("".into()).unwrap_err().code, "H001");
        assert_eq!(Message::parse("MSH".into()).unwrap_err().code, "H003");
    }

    #[test]
    fn bad_segment_is_kept_with_warning() {
        let (m, d) = Message::parse("MSH|^~\\&|A\rcontinued text\rPID|1".into()).unwrap();
        assert_eq!(m.segment_count(), 3);
        assert_eq!(d[0].code, "H004");
        assert_eq!(d[0].location.line, Some(2));
    }

    #[test]
    fn word_scan_finds_every_byte() {
        for len in 0..40 {
            let hay: Vec<u8> = (0..len)
                .map(|i| {
                    if i % 3 == 0 || i % 7 == 0 {
                        b'|'
                    } else {
                        b'a' + (i % 20) as u8
                    }
                })
                .collect();
            let mut got = Vec::new();
            for_each_byte(&hay, b'|', |i| got.push(i));
            let want: Vec<usize> = hay
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'|')
                .map(|(i, _)| i)
                .collect();
            assert_eq!(got, want, "len {len}");
        }
        let hay: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        for needle in [0u8, 0x7C, 0x80, 0xFF] {
            let mut got = Vec::new();
            for_each_byte(&hay, needle, |i| got.push(i));
            assert_eq!(
                got,
                hay.iter()
                    .enumerate()
                    .filter(|(_, b)| **b == needle)
                    .map(|(i, _)| i)
                    .collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn batches_split_at_msh() {
        let (msgs, stray) =
            split_messages("FHS|^~\\&\rBHS|^~\\&\rMSH|^~\\&|A\rPID|1\rMSH|^~\\&|B\rBTS|2\rFTS|1\r");
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].0, "MSH|^~\\&|A\rPID|1\r");
        assert_eq!(msgs[1].1, 4);
        assert!(stray.is_empty());
    }
}
