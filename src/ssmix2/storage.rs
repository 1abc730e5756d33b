//! Walking SS-MIX2 roots patient by patient.
//!
//! Layout: `root/PID[0:3]/PID[3:6]/PID/<YYYYMMDD|->/<data type>/<file>` (standardized
//! storage), `…/<data type folder with ^>/<content folder>/main_document.hl7` (extended
//! storage), and `root/<year>/TR_*.DAT` (transaction storage). Several roots may split one
//! archive (by period, by data type): patient folders of all roots are merged in sorted
//! order so each patient is yielded once, with everything every root holds for it. Memory
//! is bounded by one patient's file list, not by the archive.

use super::filename::{FileName, Flag, NameWarning};
use super::transaction::{self, TransactionIndex};
use crate::diagnostics::{Diagnostic, Location};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use walkdir::WalkDir;

/// Where an item's bytes live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// One file per message (standardized storage).
    Standard,
    /// A content folder of extended storage; `path` is its main document.
    Extended {
        folder: PathBuf,
        attachments: Vec<PathBuf>,
    },
    /// A record of a transaction-storage file `path`: bytes `start..start+len`,
    /// header on 1-based `line`.
    Transaction {
        start: u64,
        len: u64,
        line: usize,
        facility: String,
    },
}

/// One stored message version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub name: FileName,
    pub path: PathBuf,
    pub source: Source,
    /// Index of the root it came from.
    pub root: usize,
}

impl Item {
    pub fn location(&self) -> Location {
        let mut l = Location::file(&self.path);
        if let Source::Transaction { line, .. } = &self.source {
            l.line = Some(*line);
        }
        l
    }
    pub fn kind(&self) -> &'static str {
        match self.source {
            Source::Standard => "standard",
            Source::Extended { .. } => "extended",
            Source::Transaction { .. } => "transaction",
        }
    }
}

/// Everything the roots hold for one patient.
#[derive(Debug, Clone, Default)]
pub struct PatientFiles {
    pub patient_id: String,
    pub items: Vec<Item>,
    pub diagnostics: Vec<Diagnostic>,
}

/// What a walk yields, in a deterministic order.
#[derive(Debug)]
pub enum WalkEvent {
    Patient(PatientFiles),
    /// A problem outside any patient folder (stray files, unreadable folders).
    Diagnostic(Diagnostic),
}

pub struct Storage {
    roots: Vec<PathBuf>,
    transactions: TransactionIndex,
    early: Vec<Diagnostic>,
}

fn is_transaction_file(name: &str) -> bool {
    name.starts_with("TR_") && name.to_ascii_uppercase().ends_with(".DAT")
}

impl Storage {
    /// Open roots. Transaction storage files are indexed now (headers only; message bytes
    /// are read when an item is read).
    pub fn open(roots: &[PathBuf]) -> Storage {
        let mut early = Vec::new();
        let mut tr_files = Vec::new();
        for (ri, root) in roots.iter().enumerate() {
            if !root.is_dir() {
                early.push(Diagnostic::error(
                    "S006",
                    "storage root is not a readable folder",
                    Location::file(root),
                ));
                continue;
            }
            for e in WalkDir::new(root)
                .follow_links(true)
                .max_depth(3)
                .sort_by_file_name()
                .into_iter()
                .flatten()
            {
                if e.file_type().is_file() && is_transaction_file(&e.file_name().to_string_lossy())
                {
                    tr_files.push((ri, e.into_path()));
                }
            }
        }
        let (transactions, diags) = transaction::index(&tr_files);
        early.extend(diags);
        Storage {
            roots: roots.to_vec(),
            transactions,
            early,
        }
    }

    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// Stream patients in sorted order across all roots.
    pub fn walk(&self) -> impl Iterator<Item = WalkEvent> + '_ {
        let mut per_root: Vec<std::iter::Peekable<RootWalk>> = self
            .roots
            .iter()
            .enumerate()
            .filter(|(_, r)| r.is_dir())
            .map(|(i, r)| RootWalk::new(i, r).peekable())
            .collect();
        let mut early = self.early.clone().into_iter();
        let mut tx_pending: std::iter::Peekable<
            std::collections::btree_map::Iter<'_, String, Vec<Item>>,
        > = self.transactions.by_patient.iter().peekable();
        std::iter::from_fn(move || {
            if let Some(d) = early.next() {
                return Some(WalkEvent::Diagnostic(d));
            }
            // Diagnostics first, then the smallest patient key among the roots.
            for w in per_root.iter_mut() {
                if let Some(RootEntry::Diagnostic(_)) = w.peek() {
                    if let Some(RootEntry::Diagnostic(d)) = w.next() {
                        return Some(WalkEvent::Diagnostic(d));
                    }
                }
            }
            let min_dir = per_root
                .iter_mut()
                .filter_map(|w| match w.peek() {
                    Some(RootEntry::Patient { pid, .. }) => Some(pid.clone()),
                    _ => None,
                })
                .min();
            let min_tx = tx_pending.peek().map(|(k, _)| (*k).clone());
            let pid = match (min_dir, min_tx) {
                (None, None) => return None,
                (Some(a), None) => a,
                (None, Some(b)) => b,
                (Some(a), Some(b)) => a.min(b),
            };
            let mut pf = PatientFiles {
                patient_id: pid.clone(),
                ..Default::default()
            };
            for w in per_root.iter_mut() {
                while matches!(w.peek(), Some(RootEntry::Patient { pid: p, .. }) if *p == pid) {
                    if let Some(RootEntry::Patient { root, dir, .. }) = w.next() {
                        scan_patient(root, &dir, &mut pf);
                    }
                }
            }
            if tx_pending.peek().is_some_and(|(k, _)| **k == pid) {
                if let Some((_, items)) = tx_pending.next() {
                    pf.items.extend(items.iter().cloned());
                }
            }
            Some(WalkEvent::Patient(pf))
        })
    }
}

enum RootEntry {
    Patient {
        pid: String,
        root: usize,
        dir: PathBuf,
    },
    Diagnostic(Diagnostic),
}

/// Patient folders of one root in sorted order (depth 3), plus stray-entry diagnostics.
struct RootWalk {
    root: usize,
    it: walkdir::IntoIter,
}

impl RootWalk {
    fn new(root: usize, path: &Path) -> RootWalk {
        RootWalk {
            root,
            it: WalkDir::new(path)
                .follow_links(true)
                .min_depth(1)
                .max_depth(3)
                .sort_by_file_name()
                .into_iter(),
        }
    }
}

impl Iterator for RootWalk {
    type Item = RootEntry;
    fn next(&mut self) -> Option<RootEntry> {
        loop {
            let e = match self.it.next()? {
                Ok(e) => e,
                Err(err) => {
                    let loc = err.path().map(Location::file).unwrap_or_default();
                    return Some(RootEntry::Diagnostic(
                        Diagnostic::error("S003", "folder cannot be read", loc)
                            .help(io_help(err.io_error())),
                    ));
                }
            };
            let name = e.file_name().to_string_lossy();
            if e.file_type().is_dir() {
                if e.depth() == 3 {
                    return Some(RootEntry::Patient {
                        pid: name.into_owned(),
                        root: self.root,
                        dir: e.into_path(),
                    });
                }
                continue;
            }
            if is_transaction_file(&name) {
                continue;
            }
            return Some(RootEntry::Diagnostic(Diagnostic::warning(
                "S004",
                "file outside the SS-MIX2 layout (root/PID[0:3]/PID[3:6]/PID/…); not read",
                Location::file(e.path()),
            )));
        }
    }
}

fn io_help(e: Option<&std::io::Error>) -> String {
    match e {
        Some(e) => format!("the operating system said: {}", e.kind()),
        None => "a symbolic-link loop or a vanished folder".into(),
    }
}

/// Collect the items of one patient folder.
fn scan_patient(root: usize, dir: &Path, pf: &mut PatientFiles) {
    let rel_base: Vec<String> = dir
        .iter()
        .rev()
        .take(3)
        .map(|c| c.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let mut it = WalkDir::new(dir)
        .follow_links(true)
        .min_depth(1)
        .sort_by_file_name()
        .into_iter();
    while let Some(entry) = it.next() {
        let e = match entry {
            Ok(e) => e,
            Err(err) => {
                let loc = err
                    .path()
                    .map(Location::file)
                    .unwrap_or_else(|| Location::file(dir));
                pf.diagnostics.push(
                    Diagnostic::error("S003", "file or folder cannot be read", loc)
                        .help(io_help(err.io_error())),
                );
                continue;
            }
        };
        let depth = e.depth();
        let is_dir = e.file_type().is_dir();
        match (depth, is_dir) {
            (1, true) | (2, true) => {}
            (3, false) => {
                let dirs = [
                    rel_base[0].clone(),
                    rel_base[1].clone(),
                    rel_base[2].clone(),
                    parent_name(e.path(), 1),
                    parent_name(e.path(), 0),
                ];
                if let Some(item) = item_for(
                    root,
                    e.path(),
                    &e.file_name().to_string_lossy(),
                    &dirs,
                    Source::Standard,
                    &mut pf.diagnostics,
                ) {
                    pf.items.push(item);
                }
            }
            (3, true) => {
                // Extended storage: a content folder named like a file, holding the main document.
                it.skip_current_dir();
                let folder = e.path().to_path_buf();
                let mut files: Vec<PathBuf> = match std::fs::read_dir(&folder) {
                    Ok(rd) => rd
                        .filter_map(|x| x.ok())
                        .map(|x| x.path())
                        .filter(|p| p.is_file())
                        .collect(),
                    Err(err) => {
                        pf.diagnostics.push(
                            Diagnostic::error(
                                "S003",
                                "content folder cannot be read",
                                Location::file(&folder),
                            )
                            .help(io_help(Some(&err))),
                        );
                        continue;
                    }
                };
                files.sort();
                let main = files
                    .iter()
                    .position(|p| p.file_name().is_some_and(|n| n == "main_document.hl7"))
                    .or_else(|| {
                        let hl7: Vec<usize> = files
                            .iter()
                            .enumerate()
                            .filter(|(_, p)| {
                                p.extension().is_some_and(|x| x.eq_ignore_ascii_case("hl7"))
                            })
                            .map(|(i, _)| i)
                            .collect();
                        (hl7.len() == 1).then(|| hl7[0])
                    });
                let Some(main) = main else {
                    pf.diagnostics.push(
                        Diagnostic::error(
                            "S007",
                            "extended-storage content folder has no main document",
                            Location::file(&folder),
                        )
                        .help("expected main_document.hl7 (or exactly one .hl7 file)"),
                    );
                    continue;
                };
                let main_path = files.remove(main);
                let dirs = [
                    rel_base[0].clone(),
                    rel_base[1].clone(),
                    rel_base[2].clone(),
                    parent_name(&folder, 1),
                    parent_name(&folder, 0),
                ];
                let source = Source::Extended {
                    folder: folder.clone(),
                    attachments: files,
                };
                let fname = e.file_name().to_string_lossy().into_owned();
                if let Some(mut item) =
                    item_for(root, &folder, &fname, &dirs, source, &mut pf.diagnostics)
                {
                    item.path = main_path;
                    pf.items.push(item);
                }
            }
            _ => pf.diagnostics.push(Diagnostic::warning(
                "S004",
                "entry outside the SS-MIX2 layout (PID/date/type/file); not read",
                Location::file(e.path()),
            )),
        }
    }
}

fn parent_name(p: &Path, up: usize) -> String {
    p.ancestors()
        .nth(up + 1)
        .and_then(|a| a.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn item_for(
    root: usize,
    path: &Path,
    name: &str,
    dirs: &[String; 5],
    source: Source,
    diags: &mut Vec<Diagnostic>,
) -> Option<Item> {
    let (fname, warnings) = match FileName::parse(name) {
        Ok(x) => x,
        Err(e) => {
            diags.push(Diagnostic::error("S001", format!("file name is not an SS-MIX2 name: {e}"), Location::file(path)).help("names are PID_date_type_orderNo_timestamp_dept_flag, e.g. 9999013_20110701_OMP-01_000000011000185_20110701224603984_01_1"));
            return None;
        }
    };
    for w in warnings {
        let m = match w {
            NameWarning::OrderNoLength(n) => {
                format!("order number has {n} characters (expected 13-22)")
            }
            NameWarning::OrderNoNotDigits => "order number is not all digits".into(),
        };
        diags.push(Diagnostic::note("S005", m, Location::file(path)));
    }
    let expected = fname.expected_dirs();
    let labels = [
        "PID[0:3] folder",
        "PID[3:6] folder",
        "patient folder",
        "date folder",
        "data-type folder",
    ];
    let wrong: Vec<&str> = (0..5)
        .filter(|&i| expected[i] != dirs[i])
        .map(|i| labels[i])
        .collect();
    if !wrong.is_empty() {
        diags.push(
            Diagnostic::warning(
                "S002",
                format!(
                    "file name disagrees with its {}; the file name is used",
                    wrong.join(", ")
                ),
                Location::file(path),
            )
            .help(format!("store it under {}", expected.join("/"))),
        );
    }
    Some(Item {
        name: fname,
        path: path.to_path_buf(),
        source,
        root,
    })
}

/// Group key for version selection.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub patient_id: String,
    pub care_date: Option<String>,
    pub data_type: String,
    pub order_no: String,
}

impl Key {
    pub fn of(n: &FileName) -> Key {
        Key {
            patient_id: n.patient_id.clone(),
            care_date: n.care_date.clone(),
            data_type: n.data_type.clone(),
            order_no: n.order_no.clone(),
        }
    }
}

/// Count items by flag (for inventories).
pub fn flag_counts(items: &[Item]) -> BTreeMap<Flag, usize> {
    let mut m = BTreeMap::new();
    for i in items {
        *m.entry(i.name.flag).or_insert(0) += 1;
    }
    m
}
