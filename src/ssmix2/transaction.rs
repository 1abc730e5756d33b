//! Transaction storage: `TR_YYYYMMDDHHMMSSFFF_nnnnn.DAT` files, each an append log of
//! `#SSMIX,<ver>,<facility>,<PID>,<date|->,<type>,<order>,<INS|DEL>,<dept|->,<timestamp>`
//! header lines, each followed by the message it logs.
//!
//! Indexing keeps headers and byte ranges only; messages are read when needed. `INS` maps to
//! flag 1 and `DEL` to flag 0, so the same current-state rule serves both storages.

use super::filename::{FileName, Flag};
use super::storage::{Item, Source};
use crate::diagnostics::{Diagnostic, Location};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Default)]
pub struct TransactionIndex {
    pub by_patient: BTreeMap<String, Vec<Item>>,
}

const HEADER: &[u8] = b"#SSMIX,";

/// Index the records of transaction files.
pub fn index(files: &[(usize, PathBuf)]) -> (TransactionIndex, Vec<Diagnostic>) {
    let mut idx = TransactionIndex::default();
    let mut diags = Vec::new();
    for (root, path) in files {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                diags.push(
                    Diagnostic::error(
                        "S003",
                        "transaction file cannot be read",
                        Location::file(path),
                    )
                    .help(format!("the operating system said: {}", e.kind())),
                );
                continue;
            }
        };
        for (item, d) in parse_records(*root, path, &bytes) {
            if let Some(item) = item {
                idx.by_patient
                    .entry(item.name.patient_id.clone())
                    .or_default()
                    .push(item);
            }
            diags.extend(d);
        }
    }
    (idx, diags)
}

/// Split one transaction file into records.
pub fn parse_records(
    root: usize,
    path: &std::path::Path,
    bytes: &[u8],
) -> Vec<(Option<Item>, Option<Diagnostic>)> {
    // Header positions: at the start of the file or of a line.
    let mut starts = Vec::new();
    let mut line_of = Vec::new();
    let mut line = 1;
    let mut at_line_start = true;
    for (i, &b) in bytes.iter().enumerate() {
        if at_line_start && bytes[i..].starts_with(HEADER) {
            starts.push(i);
            line_of.push(line);
        }
        at_line_start = b == b'\r' || b == b'\n';
        if b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')) {
            line += 1;
        }
    }
    let mut out = Vec::new();
    if starts
        .first()
        .is_some_and(|&s| bytes[..s].iter().any(|b| !b.is_ascii_whitespace()))
        || (starts.is_empty() && !bytes.is_empty())
    {
        out.push((
            None,
            Some(Diagnostic::error(
                "S008",
                "transaction file has data before its first #SSMIX header; not read",
                Location::file(path).with_line(1),
            )),
        ));
    }
    for (n, &s) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(bytes.len());
        let rec = &bytes[s..end];
        let hdr_len = rec
            .iter()
            .position(|&b| b == b'\r' || b == b'\n')
            .unwrap_or(rec.len());
        let header = String::from_utf8_lossy(&rec[..hdr_len]);
        let mut body_start = s + hdr_len;
        while body_start < end && (bytes[body_start] == b'\r' || bytes[body_start] == b'\n') {
            body_start += 1;
        }
        let loc = Location::file(path).with_line(line_of[n]);
        match parse_header(&header) {
            Ok((name, facility)) => {
                let source = Source::Transaction { start: body_start as u64, len: (end - body_start) as u64, line: line_of[n], facility };
                out.push((Some(Item { name, path: path.to_path_buf(), source, root }), None));
            }
            Err(m) => out.push((None, Some(Diagnostic::error("S008", format!("malformed #SSMIX header: {m}; record not read"), loc).help("#SSMIX,2.00,<facility>,<PID>,<date|->,<type>,<order>,<INS|DEL>,<dept|->,<timestamp>")))),
        }
    }
    out
}

fn parse_header(h: &str) -> Result<(FileName, String), String> {
    let f: Vec<&str> = h.trim_end().split(',').collect();
    if f.len() != 10 {
        return Err(format!(
            "expected 10 comma-separated fields, found {}",
            f.len()
        ));
    }
    let flag = match f[7] {
        "INS" => '1',
        "DEL" => '0',
        _ => return Err("processing type must be INS or DEL".into()),
    };
    // Reuse the file-name rules for the shared fields.
    let as_name = format!(
        "{}_{}_{}_{}_{}_{}_{}",
        f[3], f[4], f[5], f[6], f[9], f[8], flag
    );
    let (name, _) = FileName::parse(&as_name).map_err(|e| e.0)?;
    debug_assert!(matches!(name.flag, Flag::Current | Flag::Deleted));
    Ok((name, f[2].to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_bad_headers() {
        let data = b"#SSMIX,2.00,9999999999,0000000123,20220101,OMP-01,000000000012345,INS,-,20220101235959567\rMSH|^~\\&|A\rPID|1\r#SSMIX,2.00,9999999999,0000000123,20220101,OMP-01,000000000012345,DEL,-,20220102000000000\nMSH|^~\\&|B\r#SSMIX,bad\nMSH|x\r";
        let recs = parse_records(0, std::path::Path::new("TR_1.DAT"), data);
        assert_eq!(recs.len(), 3);
        let a = recs[0].0.as_ref().unwrap();
        assert_eq!(a.name.flag, Flag::Current);
        let Source::Transaction {
            start,
            len,
            line,
            facility,
        } = &a.source
        else {
            panic!()
        };
        assert_eq!(
            &data[*start as usize..(*start + *len) as usize],
            b"MSH|^~\\&|A\rPID|1\r"
        );
        assert_eq!((*line, facility.as_str()), (1, "9999999999"));
        let b = recs[1].0.as_ref().unwrap();
        assert_eq!(b.name.flag, Flag::Deleted);
        let Source::Transaction { line, .. } = &b.source else {
            panic!()
        };
        assert_eq!(*line, 4);
        let d = recs[2].1.as_ref().unwrap();
        assert_eq!((d.code, d.location.line), ("S008", Some(6)));
    }
}
