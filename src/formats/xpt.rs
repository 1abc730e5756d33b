//! SAS XPORT (transport) **version 5** — the format FDA and PMDA take SDTM in — written and
//! read here, byte layout per SAS TS-140 (`../shared/reference/notes-sdtm-formats.md` §3.1).
//!
//! Written by hand after evaluating `xportrs` 0.0.8 (the only Rust crate): it stamps headers
//! with the wall clock (its `created`/`modified` setters are crate-private), its writer takes
//! `Option<f64>` so special missing values `.A`–`.Z`/`._` cannot be written, and it clamps
//! numbers beyond the IBM range silently instead of failing. Determinism and "errors, not
//! truncation" are requirements here, and the format itself is small.

use std::io::Write;

use super::table::{Cell, ColumnMeta, Dataset, VarType};

/// Header timestamp used unless the caller gives one: fixed, so output never depends on
/// the wall clock (`ddMMMyy:hh:mm:ss`).
pub const DEFAULT_TIMESTAMP: &str = "01JAN00:00:00:00";

#[derive(Debug, Clone)]
pub struct XptOptions {
    /// `ddMMMyy:hh:mm:ss`, upper-case month (SAS's form).
    pub created: String,
    pub sas_version: String,
    pub os: String,
}

impl Default for XptOptions {
    fn default() -> Self {
        XptOptions {
            created: DEFAULT_TIMESTAMP.into(),
            sas_version: "9.4".into(),
            os: "X64_7PRO".into(),
        }
    }
}

/// Why a dataset cannot be written as XPT v5. Never truncated or mangled instead.
#[derive(Debug, Clone, PartialEq)]
pub enum XptError {
    DatasetName(String),
    VariableName(String),
    Label {
        name: String,
        label: String,
    },
    NotAscii {
        variable: String,
        row: usize,
    },
    TooLong {
        variable: String,
        row: usize,
        bytes: usize,
    },
    NumberOutOfRange {
        variable: String,
        row: usize,
    },
    TypeMismatch {
        variable: String,
        row: usize,
    },
    TooManyVariables(usize),
    Timestamp(String),
}

impl std::fmt::Display for XptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            XptError::DatasetName(n) => write!(f, "dataset name {n:?} is not 1–8 upper-case letters, digits or _ starting with a letter"),
            XptError::VariableName(n) => write!(f, "variable name {n:?} is not 1–8 upper-case letters, digits or _ starting with a letter or _"),
            XptError::Label { name, label } => write!(f, "label of {name} ({} bytes) is longer than 40 or not ASCII: {label:?}", label.len()),
            XptError::NotAscii { variable, row } => write!(f, "{variable} row {row}: text is not ASCII (it belongs in the Japanese dataset)"),
            XptError::TooLong { variable, row, bytes } => write!(f, "{variable} row {row}: {bytes} bytes, more than the 200 XPT v5 allows"),
            XptError::NumberOutOfRange { variable, row } => write!(f, "{variable} row {row}: number outside the IBM floating-point range"),
            XptError::TypeMismatch { variable, row } => write!(f, "{variable} row {row}: value does not match the variable's type"),
            XptError::TooManyVariables(n) => write!(f, "{n} variables: XPT v5 takes at most 9999"),
            XptError::Timestamp(t) => write!(f, "timestamp {t:?} is not ddMMMyy:hh:mm:ss"),
        }
    }
}

impl std::error::Error for XptError {}

fn valid_name(n: &str, dataset: bool) -> bool {
    let b = n.as_bytes();
    !b.is_empty()
        && b.len() <= 8
        && (b[0].is_ascii_uppercase() || (!dataset && b[0] == b'_'))
        && b.iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_')
}

fn padded(s: &str, n: usize) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.resize(n, b' ');
    v
}

/// IEEE 754 double → IBM System/370 double, exactly (53 significant bits fit in 56 after a
/// shift of at most 3). Zero is eight 0x00 bytes, as SAS writes it.
pub fn ieee_to_ibm(x: f64) -> Option<[u8; 8]> {
    if x == 0.0 {
        return Some([0; 8]);
    }
    if !x.is_finite() {
        return None;
    }
    let bits = x.to_bits();
    let sign = (bits >> 63) as u8;
    let exp = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    // value = mant × 2^e2 with mant < 2^53
    let (mut mant, mut e2) = if exp == 0 {
        (frac, -1074)
    } else {
        (frac | (1u64 << 52), exp - 1075)
    };
    // Normalise so the top bit sits at bit 55 (subnormals need more than 3 shifts).
    while mant < (1u64 << 55) {
        mant <<= 1;
        e2 -= 1;
    }
    // value = mant/2^56 × 2^(e2+56); the exponent must be a multiple of 4 (base 16).
    let s = (4 - (e2 + 56).rem_euclid(4)) % 4;
    if s > 0 {
        // The low bits shifted out are zero for normal numbers (mant ≥ 2^55 came from a
        // 53-bit value); for subnormals the normalising loop above left zeros there too.
        mant >>= s;
        e2 += s;
    }
    let e16 = (e2 + 56) / 4 + 64;
    if !(0..=127).contains(&e16) {
        return None;
    }
    let mut out = [0u8; 8];
    out[0] = (sign << 7) | e16 as u8;
    out[1..].copy_from_slice(&mant.to_be_bytes()[1..]);
    Some(out)
}

/// IBM double → IEEE double, rounded to nearest. `None` = a missing value, with its kind.
pub fn ibm_to_ieee(b: [u8; 8]) -> Result<f64, u8> {
    if b[1..] == [0; 7] {
        match b[0] {
            0x00 | 0x80 => return Ok(0.0),
            b'.' => return Err(b'.'),
            c @ (b'A'..=b'Z' | b'_') => return Err(c),
            _ => {}
        }
    }
    let sign = if b[0] & 0x80 != 0 { -1.0 } else { 1.0 };
    let e16 = (b[0] & 0x7f) as i32;
    let mut m = [0u8; 8];
    m[1..].copy_from_slice(&b[1..]);
    let mant = u64::from_be_bytes(m);
    // mant (≤ 56 bits) as f64 rounds to nearest once; the power of two is exact.
    Ok(sign * (mant as f64) * 2f64.powi(4 * (e16 - 64) - 56))
}

fn check_timestamp(t: &str) -> Result<(), XptError> {
    let b = t.as_bytes();
    let ok = b.len() == 16
        && b[..2].iter().all(u8::is_ascii_digit)
        && b[2..5].iter().all(u8::is_ascii_uppercase)
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b':'
        && b[10] == b':'
        && b[13] == b':';
    if ok {
        Ok(())
    } else {
        Err(XptError::Timestamp(t.to_owned()))
    }
}

/// The byte length of each column: longest value for character columns (at least 1,
/// at most 200), 8 for numbers.
pub fn lengths(ds: &Dataset) -> Vec<usize> {
    ds.columns
        .iter()
        .enumerate()
        .map(|(i, c)| match c.ty {
            VarType::Num => 8,
            VarType::Char => ds.char_length(i),
        })
        .collect()
}

/// Checks everything that would make the file invalid, before a byte is written.
pub fn check(ds: &Dataset) -> Result<(), XptError> {
    if !valid_name(&ds.name, true) {
        return Err(XptError::DatasetName(ds.name.clone()));
    }
    if ds.label.len() > 40 || !ds.label.is_ascii() {
        return Err(XptError::Label {
            name: ds.name.clone(),
            label: ds.label.clone(),
        });
    }
    if ds.columns.len() > 9999 {
        return Err(XptError::TooManyVariables(ds.columns.len()));
    }
    for c in &ds.columns {
        if !valid_name(&c.name, false) {
            return Err(XptError::VariableName(c.name.clone()));
        }
        if c.label.len() > 40 || !c.label.is_ascii() {
            return Err(XptError::Label {
                name: c.name.clone(),
                label: c.label.clone(),
            });
        }
    }
    for (r, row) in ds.rows.iter().enumerate() {
        for (c, cell) in ds.columns.iter().zip(row) {
            match (c.ty, cell) {
                (VarType::Char, Cell::Char(s)) => {
                    if !s.is_ascii() {
                        return Err(XptError::NotAscii {
                            variable: c.name.clone(),
                            row: r + 1,
                        });
                    }
                    if s.len() > 200 {
                        return Err(XptError::TooLong {
                            variable: c.name.clone(),
                            row: r + 1,
                            bytes: s.len(),
                        });
                    }
                }
                (VarType::Num, Cell::Num(x)) => {
                    if ieee_to_ibm(*x).is_none() {
                        return Err(XptError::NumberOutOfRange {
                            variable: c.name.clone(),
                            row: r + 1,
                        });
                    }
                }
                (VarType::Num, Cell::Missing(_)) | (_, Cell::Null) => {}
                _ => {
                    return Err(XptError::TypeMismatch {
                        variable: c.name.clone(),
                        row: r + 1,
                    })
                }
            }
        }
    }
    Ok(())
}

fn header(kind: &str) -> Vec<u8> {
    let mut h = format!("HEADER RECORD*******{kind:<8}HEADER RECORD!!!!!!!").into_bytes();
    h.extend_from_slice(b"000000000000000000000000000000  ");
    h
}

/// Writes one dataset as an XPT v5 file (one member, as FDA/PMDA require).
pub fn write(
    ds: &Dataset,
    out: &mut impl Write,
    opts: &XptOptions,
) -> Result<(), Box<dyn std::error::Error>> {
    check(ds)?;
    check_timestamp(&opts.created)?;
    let lens = lengths(ds);
    let stamp = &opts.created;
    let mut buf: Vec<u8> = Vec::new();
    buf.extend(header("LIBRARY"));
    let mut r2 = b"SAS     SAS     SASLIB  ".to_vec();
    r2.extend(padded(&opts.sas_version, 8));
    r2.extend(padded(&opts.os, 8));
    r2.extend([b' '; 24]);
    r2.extend(stamp.as_bytes());
    buf.extend(&r2);
    buf.extend(padded(stamp, 80));
    buf.extend(b"HEADER RECORD*******MEMBER  HEADER RECORD!!!!!!!000000000000000001600000000140  ");
    buf.extend(header("DSCRPTR"));
    let mut r6 = b"SAS     ".to_vec();
    r6.extend(padded(&ds.name, 8));
    r6.extend(b"SASDATA ");
    r6.extend(padded(&opts.sas_version, 8));
    r6.extend(padded(&opts.os, 8));
    r6.extend([b' '; 24]);
    r6.extend(stamp.as_bytes());
    buf.extend(&r6);
    let mut r7 = padded(stamp, 32);
    r7.extend(padded(&ds.label, 40));
    r7.extend([b' '; 8]);
    buf.extend(&r7);
    buf.extend(
        format!(
            "HEADER RECORD*******NAMESTR HEADER RECORD!!!!!!!000000{:04}00000000000000000000  ",
            ds.columns.len()
        )
        .into_bytes(),
    );
    let mut pos = 0i32;
    let mut names = Vec::new();
    for (i, (c, len)) in ds.columns.iter().zip(&lens).enumerate() {
        let mut n = Vec::with_capacity(140);
        n.extend(if c.ty == VarType::Num { 1i16 } else { 2i16 }.to_be_bytes());
        n.extend(0i16.to_be_bytes());
        n.extend((*len as i16).to_be_bytes());
        n.extend(((i + 1) as i16).to_be_bytes());
        n.extend(padded(&c.name, 8));
        n.extend(padded(&c.label, 40));
        n.extend([b' '; 8]); // format name
        n.extend(0i16.to_be_bytes()); // format length
        n.extend(0i16.to_be_bytes()); // format decimals
        n.extend(0i16.to_be_bytes()); // left-justified
        n.extend([0u8; 2]);
        n.extend([b' '; 8]); // informat name
        n.extend(0i16.to_be_bytes());
        n.extend(0i16.to_be_bytes());
        n.extend(pos.to_be_bytes());
        n.extend([0u8; 52]);
        debug_assert_eq!(n.len(), 140);
        names.extend(n);
        pos += *len as i32;
    }
    pad80(&mut names);
    buf.extend(names);
    buf.extend(header("OBS"));
    out.write_all(&buf)?;
    let mut obs = Vec::with_capacity(pos as usize * ds.rows.len().min(4096));
    let mut written = 0usize;
    for row in &ds.rows {
        for ((c, len), cell) in ds.columns.iter().zip(&lens).zip(row) {
            match (c.ty, cell) {
                (VarType::Num, Cell::Num(x)) => {
                    obs.extend(ieee_to_ibm(*x).ok_or("number out of range")?)
                }
                (VarType::Num, Cell::Missing(m)) => obs.extend([*m, 0, 0, 0, 0, 0, 0, 0]),
                (VarType::Num, _) => obs.extend([b'.', 0, 0, 0, 0, 0, 0, 0]),
                (VarType::Char, Cell::Char(s)) => obs.extend(padded(s, *len)),
                (VarType::Char, _) => obs.extend(std::iter::repeat_n(b' ', *len)),
            }
        }
        if obs.len() >= 1 << 16 {
            written += obs.len();
            out.write_all(&obs)?;
            obs.clear();
        }
    }
    written += obs.len();
    let rem = written % 80;
    if rem != 0 {
        obs.extend(std::iter::repeat_n(b' ', 80 - rem));
    }
    out.write_all(&obs)?;
    Ok(())
}

fn pad80(v: &mut Vec<u8>) {
    let rem = v.len() % 80;
    if rem != 0 {
        v.extend(std::iter::repeat_n(b' ', 80 - rem));
    }
}

/// Why a file cannot be read as XPT v5, with the byte offset.
#[derive(Debug, Clone, PartialEq)]
pub struct XptReadError {
    pub offset: usize,
    pub message: String,
}

impl std::fmt::Display for XptReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "byte {}: {}", self.offset, self.message)
    }
}

impl std::error::Error for XptReadError {}

fn rerr(offset: usize, m: impl Into<String>) -> XptReadError {
    XptReadError {
        offset,
        message: m.into(),
    }
}

/// Text of a character value: UTF-8 when valid, else Windows-1252 (SAS-written files such
/// as the CDISC pilot `ts.xpt` hold cp1252 bytes).
fn decode_text(b: &[u8]) -> String {
    let trimmed = match b.iter().rposition(|c| *c != b' ' && *c != 0) {
        Some(i) => &b[..=i],
        None => return String::new(),
    };
    match std::str::from_utf8(trimmed) {
        Ok(s) => s.to_owned(),
        Err(_) => encoding_rs::WINDOWS_1252.decode(trimmed).0.into_owned(),
    }
}

fn ascii_field(b: &[u8]) -> String {
    decode_text(b)
}

fn be16(b: &[u8]) -> i16 {
    i16::from_be_bytes([b[0], b[1]])
}

/// One member of a file, with the byte length of each variable.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub dataset: Dataset,
    pub lengths: Vec<usize>,
}

/// Reads every member of an XPT v5 file.
pub fn read(bytes: &[u8]) -> Result<Vec<Member>, XptReadError> {
    let rec = |i: usize| -> Result<&[u8], XptReadError> {
        bytes
            .get(i..i + 80)
            .ok_or_else(|| rerr(i, "file ends inside a header"))
    };
    if !rec(0)?.starts_with(b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!") {
        if rec(0)?.starts_with(b"HEADER RECORD*******LIBV8") {
            return Err(rerr(0, "this is XPORT version 8, not version 5"));
        }
        return Err(rerr(0, "not a SAS XPORT file (no library header)"));
    }
    let mut at = 240; // library header + two records
    let mut out = Vec::new();
    while at + 80 <= bytes.len() {
        let member = rec(at)?;
        if !member.starts_with(b"HEADER RECORD*******MEMBER  HEADER RECORD!!!!!!!") {
            break;
        }
        let namestr_len: usize = std::str::from_utf8(&member[74..78])
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(140);
        if namestr_len != 140 && namestr_len != 136 {
            return Err(rerr(
                at + 74,
                format!("namestr length {namestr_len}, expected 140 (or 136)"),
            ));
        }
        let dscrptr = rec(at + 80)?;
        if !dscrptr.starts_with(b"HEADER RECORD*******DSCRPTR HEADER RECORD!!!!!!!") {
            return Err(rerr(at + 80, "missing descriptor header"));
        }
        let r6 = rec(at + 160)?;
        let name = ascii_field(&r6[8..16]);
        let r7 = rec(at + 240)?;
        let label = ascii_field(&r7[32..72]);
        let nh = rec(at + 320)?;
        if !nh.starts_with(b"HEADER RECORD*******NAMESTR HEADER RECORD!!!!!!!") {
            return Err(rerr(at + 320, "missing namestr header"));
        }
        let nvars: usize = std::str::from_utf8(&nh[54..58])
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| rerr(at + 374, "bad variable count"))?;
        let ns_start = at + 400;
        let ns_bytes = nvars * namestr_len;
        let ns = bytes
            .get(ns_start..ns_start + ns_bytes)
            .ok_or_else(|| rerr(ns_start, "file ends inside the variable descriptors"))?;
        let mut cols = Vec::with_capacity(nvars);
        let mut layout: Vec<(VarType, usize, usize)> = Vec::with_capacity(nvars);
        for i in 0..nvars {
            let n = &ns[i * namestr_len..(i + 1) * namestr_len];
            let ty = if be16(&n[0..2]) == 1 {
                VarType::Num
            } else {
                VarType::Char
            };
            let len = be16(&n[4..6]).max(0) as usize;
            let pos = i32::from_be_bytes([n[84], n[85], n[86], n[87]]).max(0) as usize;
            if ty == VarType::Num && !(2..=8).contains(&len) {
                return Err(rerr(
                    ns_start + i * namestr_len + 4,
                    format!("numeric length {len}"),
                ));
            }
            cols.push(ColumnMeta {
                name: ascii_field(&n[8..16]),
                label: ascii_field(&n[16..56]),
                ty,
                core: String::new(),
                codelist: None,
                origin: String::new(),
                method: None,
                key_sequence: None,
            });
            layout.push((ty, pos, len));
        }
        let mut obs_at = ns_start + ns_bytes;
        obs_at += (80 - obs_at % 80) % 80;
        let oh = rec(obs_at)?;
        if !oh.starts_with(b"HEADER RECORD*******OBS     HEADER RECORD!!!!!!!") {
            return Err(rerr(obs_at, "missing observation header"));
        }
        let data_start = obs_at + 80;
        // Data run to the next member header (on an 80-byte boundary) or the end.
        let mut data_end = bytes.len();
        let mut k = data_start;
        while k + 80 <= bytes.len() {
            if bytes[k..].starts_with(b"HEADER RECORD*******MEMBER  HEADER RECORD!!!!!!!") {
                data_end = k;
                break;
            }
            k += 80;
        }
        let reclen: usize = layout.iter().map(|(_, p, l)| p + l).max().unwrap_or(0);
        let mut rows = Vec::new();
        if let Some(mut n) = (data_end - data_start).checked_div(reclen) {
            let data = &bytes[data_start..data_end];
            // Trailing blanks pad the last 80-byte record; all-blank records inside that
            // padding are not observations.
            while n > 0 {
                let last = &data[(n - 1) * reclen..n * reclen];
                if (n * reclen) + 80 > data.len() && last.iter().all(|b| *b == b' ') {
                    n -= 1;
                } else {
                    break;
                }
            }
            for r in 0..n {
                let row = &data[r * reclen..(r + 1) * reclen];
                let mut cells = Vec::with_capacity(nvars);
                for (ty, pos, len) in &layout {
                    let v = &row[*pos..pos + len];
                    cells.push(match ty {
                        VarType::Char => {
                            let t = decode_text(v);
                            if t.is_empty() {
                                Cell::Null
                            } else {
                                Cell::Char(t)
                            }
                        }
                        VarType::Num => {
                            let mut b = [0u8; 8];
                            b[..*len].copy_from_slice(v);
                            match ibm_to_ieee(b) {
                                Ok(x) => Cell::Num(x),
                                Err(b'.') => Cell::Null,
                                Err(c) => Cell::Missing(c),
                            }
                        }
                    });
                }
                rows.push(cells);
            }
        }
        let lengths = layout.iter().map(|(_, _, l)| *l).collect();
        out.push(Member {
            dataset: Dataset {
                name,
                label,
                class: String::new(),
                structure: String::new(),
                columns: cols,
                rows,
            },
            lengths,
        });
        at = data_end;
    }
    if out.is_empty() {
        return Err(rerr(240, "no member in the file"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: [u8; 8]) -> String {
        b.iter()
            .map(|x| format!("{x:02X}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn ibm_test_vectors_from_the_notes() {
        for (v, want) in [
            (63.0, "42 3F 00 00 00 00 00 00"),
            (-7.0, "C1 70 00 00 00 00 00 00"),
            (1.0, "41 10 00 00 00 00 00 00"),
            (0.1, "40 19 99 99 99 99 99 9A"),
            (8.55, "41 88 CC CC CC CC CC D0"),
            (2014.0, "43 7D E0 00 00 00 00 00"),
            (1e-5, "3C A7 C5 AC 47 1B 47 88"),
            (0.0, "00 00 00 00 00 00 00 00"),
        ] {
            let b = ieee_to_ibm(v).unwrap();
            assert_eq!(hex(b), want, "{v}");
            assert_eq!(ibm_to_ieee(b), Ok(v), "{v} round trip");
        }
        assert_eq!(ibm_to_ieee([b'.', 0, 0, 0, 0, 0, 0, 0]), Err(b'.'));
        assert_eq!(ibm_to_ieee([b'A', 0, 0, 0, 0, 0, 0, 0]), Err(b'A'));
        assert!(
            ieee_to_ibm(1e300).is_none(),
            "beyond 16^63 is an error, not a clamp"
        );
        assert!(ieee_to_ibm(f64::NAN).is_none());
    }

    #[test]
    fn every_double_in_range_round_trips_exactly() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let f = f64::from_bits(x);
            if let Some(b) = ieee_to_ibm(f) {
                assert_eq!(ibm_to_ieee(b).map(f64::to_bits), Ok(f.to_bits()), "{f:e}");
            } else {
                assert!(
                    !f.is_finite() || f.abs() > 7.2e75 || f.abs() < 5.4e-79,
                    "{f:e} should convert"
                );
            }
        }
    }
}
