//! Reading FHIR R4 from anywhere: Bulk-Data NDJSON, Bundles of any type (transaction,
//! collection, searchset — Synthea, hospital exports), or single resources, from files or
//! folders. Bundle-internal references (`urn:uuid:…` full URLs) are rewritten to
//! `Type/id` so references resolve the same way whatever the source.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::diagnostics::{Diagnostic, Location};

/// All resources under the given files/folders, in path order (and file order within).
pub fn read_all(paths: &[PathBuf]) -> (Vec<Value>, Vec<Diagnostic>) {
    let mut out = Vec::new();
    let mut diags = Vec::new();
    for f in files(paths) {
        read_file(&f, &mut out, &mut diags);
    }
    (out, diags)
}

/// The FHIR files under the given files/folders, in path order.
pub fn files(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            for e in walkdir::WalkDir::new(p)
                .sort_by_file_name()
                .into_iter()
                .filter_map(Result::ok)
            {
                let path = e.path();
                if e.file_type().is_file() && is_fhir_file(path) && !is_ours_not_data(path) {
                    files.push(path.to_path_buf());
                }
            }
        } else {
            files.push(p.clone());
        }
    }
    files
}

fn is_fhir_file(p: &Path) -> bool {
    p.extension().is_some_and(|x| x == "ndjson" || x == "json")
}

/// Files our own FHIR stage writes next to the data (not resources).
fn is_ours_not_data(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name == "diagnostics.ndjson"
        || name == "coverage.json"
        || name == "reconciliation.json"
        || p.components().any(|c| c.as_os_str() == "history")
}

pub fn read_file(path: &Path, out: &mut Vec<Value>, diags: &mut Vec<Diagnostic>) {
    for_each_in_file(path, &mut |v| out.push(v), diags);
}

/// Every resource of one file, handed to `sink` as it is read: NDJSON is streamed line
/// by line (a multi-gigabyte Observation.ndjson is never held whole); a JSON file (a
/// Bundle or one resource) is one document.
pub fn for_each_in_file(path: &Path, sink: &mut dyn FnMut(Value), diags: &mut Vec<Diagnostic>) {
    let cannot = |e: std::io::Error, diags: &mut Vec<Diagnostic>| {
        diags.push(Diagnostic::error(
            "R001",
            format!("cannot read: {e}"),
            Location::file(path),
        ))
    };
    let ndjson = path.extension().is_some_and(|x| x == "ndjson");
    if ndjson {
        match std::fs::File::open(path) {
            Ok(f) => ndjson_lines(std::io::BufReader::new(f), path, sink, diags),
            Err(e) => cannot(e, diags),
        }
    } else {
        if std::fs::metadata(path).is_ok_and(|m| m.len() > MAX_DOCUMENT_BYTES) {
            return diags.push(too_large(Location::file(path)));
        }
        match std::fs::read(path) {
            Ok(b) => json_document(&b, path, sink, diags),
            Err(e) => cannot(e, diags),
        }
    }
}

/// [`for_each_in_file`] over bytes already in memory (`ndjson`: one resource per line,
/// else one JSON document); diagnostics are located in `path`.
pub fn for_each_in_bytes(
    bytes: &[u8],
    ndjson: bool,
    path: &Path,
    sink: &mut dyn FnMut(Value),
    diags: &mut Vec<Diagnostic>,
) {
    if ndjson {
        ndjson_lines(bytes, path, sink, diags)
    } else if bytes.len() as u64 > MAX_DOCUMENT_BYTES {
        diags.push(too_large(Location::file(path)))
    } else {
        json_document(bytes, path, sink, diags)
    }
}

fn ndjson_lines(
    reader: impl std::io::BufRead,
    path: &Path,
    sink: &mut dyn FnMut(Value),
    diags: &mut Vec<Diagnostic>,
) {
    // Split on bytes: a line that is not UTF-8 is one located error, not the file's end.
    let mut reader = reader;
    let mut line = Vec::new();
    for i in 0.. {
        line.clear();
        let cannot = |e: std::io::Error| {
            Diagnostic::error(
                "R001",
                format!("cannot read: {e}"),
                Location::file(path).with_line(i + 1),
            )
        };
        match read_line_bounded(&mut reader, &mut line) {
            Ok(Line::End) => return,
            Ok(Line::Read) => {}
            Ok(Line::TooLong) => {
                diags.push(too_large(Location::file(path).with_line(i + 1)));
                // Give the memory of the over-long line back before reading on.
                line = Vec::new();
                if let Err(e) = skip_line(&mut reader) {
                    return diags.push(cannot(e));
                }
                continue;
            }
            Err(e) => return diags.push(cannot(e)),
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        if line.trim_ascii().is_empty() {
            continue;
        }
        match serde_json::from_slice::<Value>(&line) {
            Ok(v) => add(v, path, i + 1, sink, diags),
            Err(e) => diags.push(
                Diagnostic::error(
                    "R002",
                    format!("not JSON: {}", e),
                    Location::file(path).with_line(i + 1),
                )
                .help("each NDJSON line must be one FHIR resource"),
            ),
        }
    }
}

/// A JSON document (a Bundle, or one NDJSON line) larger than this is rejected unread
/// (R005; README "Limits"): parsed whole it would take several times its size in memory.
/// Bulk-Data NDJSON has no such limit on the file, only on each line.
pub const MAX_DOCUMENT_BYTES: u64 = 256 << 20;

fn too_large(at: Location) -> Diagnostic {
    Diagnostic::error(
        "R005",
        format!(
            "a JSON document over {} MiB; not read",
            MAX_DOCUMENT_BYTES >> 20
        ),
        at,
    )
    .help("export Bulk-Data NDJSON (one resource per line) or split the Bundle")
}

enum Line {
    End,
    Read,
    TooLong,
}

/// One line into `line` (with its `\n`), or `TooLong` once it would pass
/// [`MAX_DOCUMENT_BYTES`]. Written out rather than `read_until` on a `take`: that lets the
/// buffer grow past the limit (its capacity doubles to twice the limit, and a reallocation
/// holds old and new at once), while here it never exceeds the limit.
fn read_line_bounded(
    reader: &mut impl std::io::BufRead,
    line: &mut Vec<u8>,
) -> std::io::Result<Line> {
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(if line.is_empty() {
                Line::End
            } else {
                Line::Read
            });
        }
        let (take, done) = match memchr::memchr(b'\n', buf) {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        let limit = MAX_DOCUMENT_BYTES as usize + usize::from(done);
        if line.len() + take > limit {
            return Ok(Line::TooLong);
        }
        if line.capacity() < line.len() + take {
            // Grow by doubling, but never past the limit.
            let want = (line.len() + take).max(line.capacity() * 2).min(limit);
            line.reserve_exact(want - line.len());
        }
        line.extend_from_slice(&buf[..take]);
        reader.consume(take);
        if done {
            return Ok(Line::Read);
        }
    }
}

/// Consumes the rest of an over-long line without holding it.
fn skip_line(reader: &mut impl std::io::BufRead) -> std::io::Result<()> {
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        if let Some(i) = memchr::memchr(b'\n', buf) {
            reader.consume(i + 1);
            return Ok(());
        }
        let n = buf.len();
        reader.consume(n);
    }
}

fn json_document(
    bytes: &[u8],
    path: &Path,
    sink: &mut dyn FnMut(Value),
    diags: &mut Vec<Diagnostic>,
) {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v) => add(v, path, 1, sink, diags),
        Err(e) => {
            let mut l = Location::file(path).with_line(e.line());
            l.column = Some(e.column());
            diags.push(Diagnostic::error("R002", format!("not JSON: {e}"), l));
        }
    }
}

fn add(
    v: Value,
    path: &Path,
    line: usize,
    out: &mut dyn FnMut(Value),
    diags: &mut Vec<Diagnostic>,
) {
    match v.get("resourceType").and_then(Value::as_str) {
        Some("Bundle") => {
            let entries = v
                .get("entry")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let mut urls = HashMap::new();
            for e in &entries {
                if let (Some(full), Some(r)) =
                    (e.get("fullUrl").and_then(Value::as_str), e.get("resource"))
                {
                    if let (Some(t), Some(id)) = (
                        r.get("resourceType").and_then(Value::as_str),
                        r.get("id").and_then(Value::as_str),
                    ) {
                        urls.insert(full.to_owned(), format!("{t}/{id}"));
                    }
                }
            }
            for e in entries {
                let Some(mut r) = e.get("resource").cloned() else {
                    continue;
                };
                if r.get("id").is_none() {
                    diags.push(Diagnostic::warning(
                        "R003",
                        "a Bundle entry has a resource without id; it is skipped",
                        Location::file(path).with_line(line),
                    ));
                    continue;
                }
                rewrite_references(&mut r, &urls);
                add(r, path, line, out, diags);
            }
        }
        Some(_) if v.get("id").and_then(Value::as_str).is_some() => out(v),
        Some(_) => diags.push(Diagnostic::warning(
            "R003",
            "a resource without id is skipped",
            Location::file(path).with_line(line),
        )),
        None => diags.push(Diagnostic::error(
            "R004",
            "not a FHIR resource (no resourceType)",
            Location::file(path).with_line(line),
        )),
    }
}

fn rewrite_references(v: &mut Value, urls: &HashMap<String, String>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                if k == "reference" {
                    if let Some(new) = x.as_str().and_then(|s| urls.get(s)) {
                        *x = Value::from(new.clone());
                    }
                } else {
                    rewrite_references(x, urls);
                }
            }
        }
        Value::Array(a) => {
            for x in a {
                rewrite_references(x, urls);
            }
        }
        _ => {}
    }
}
