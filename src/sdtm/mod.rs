//! Stage 2: FHIR R4 → CDISC SDTM, driven by `mappings/sdtm/` (SQL-on-FHIR ViewDefinitions
//! plus declared SDTM metadata and derivations), a study file and a subject key.
//!
//! [`spec`] loads and checks the mapping files, [`engine`] runs them per subject,
//! [`derive`] holds the SDTM derivations, [`assemble`] builds the datasets.

pub mod assemble;
pub mod coverage;
pub mod daily;
pub mod derive;
pub mod engine;
pub mod functions;
pub mod ledger;
pub mod long_text;
pub mod romaji;
pub mod spec;
pub mod stream;
pub mod study;
pub mod subject;
pub mod view_rows;

use std::path::Path;

use rayon::prelude::*;
use serde_json::Value;

pub use assemble::{Collected, Output, Rejects};
pub use engine::{Engine, Skip};
pub use spec::SdtmSpec;
pub use study::Study;
pub use subject::SubjectKey;

use crate::formats::Dataset;

/// Converts resources already in memory (any FHIR source) for one study. Subjects run on
/// all cores; output order is USUBJID order, independent of the thread count.
pub fn convert_resources(engine: &mut Engine, resources: Vec<Value>) -> Output {
    engine.select_from(&resources);
    let (patients, other) = engine::by_patient(resources);
    engine.share(other);
    let engine = &*engine;
    let results: Vec<_> = patients
        .par_iter()
        .map(|(key, rs)| engine.subject(key, rs))
        .collect();
    collect(engine, results)
}

/// Builds the datasets from subject results (in any order: output is USUBJID order).
pub fn collect(engine: &Engine, results: Vec<Result<engine::SubjectOut, Skip>>) -> Output {
    let mut c = Collected::new(engine.spec);
    for r in results {
        c.take(r);
    }
    c.finish()
}

impl Collected<'_> {
    /// Adds a subject result; skipped patients only leave their diagnostic.
    pub fn take(&mut self, r: Result<engine::SubjectOut, Skip>) {
        match r {
            Ok(s) => self.add(s),
            Err(Skip::NoPatient(d, l)) => {
                self.diagnostics.push(*d);
                self.ledger.merge(*l);
            }
            Err(Skip::NotSelected(l)) => self.ledger.merge(*l),
        }
    }
}

/// Files a run writes beside the datasets that are not datasets.
pub const RUN_FILES: &[&str] = &[
    "report.json",
    "validation.json",
    "privacy.json",
    "diagnostics.ndjson",
    "reconciliation.json",
];

/// Output formats of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Format {
    Xpt,
    Json,
    Ndjson,
    Csv,
    Parquet,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        Ok(match s {
            "xpt" => Format::Xpt,
            "json" => Format::Json,
            "ndjson" => Format::Ndjson,
            "csv" => Format::Csv,
            "parquet" => Format::Parquet,
            other => {
                return Err(format!(
                    "unknown format {other:?} (xpt, json, ndjson, csv, parquet)"
                ))
            }
        })
    }
}

/// How files are written: formats, the fixed creation time, CT for define.xml.
pub struct WriteOptions<'a> {
    pub formats: Vec<Format>,
    /// ISO 8601 (`2000-01-01T00:00:00`): Dataset-JSON and define.xml creation time, and the
    /// XPT header timestamp. Never the wall clock unless the caller passes it.
    pub created: String,
    pub ct: Option<&'a crate::formats::ct::Ct>,
    pub study_id: String,
}

/// `2024-03-05T14:07:09` → `05MAR24:14:07:09` (the XPT header form).
pub fn sas_timestamp(iso: &str) -> Option<String> {
    let dt = chrono::NaiveDateTime::parse_from_str(iso.get(..19)?, "%Y-%m-%dT%H:%M:%S").ok()?;
    Some(dt.format("%d%b%y:%H:%M:%S").to_string().to_uppercase())
}

/// Writes every dataset in every format, define.xml beside them, and the Japanese variants
/// (Dataset-JSON and CSV: XPT v5 holds ASCII only) under `ja/`. Files appear complete or not
/// at all. A dataset XPT cannot hold (a limit) is an error diagnostic, never truncated.
/// `reason,<unmapped_by…>,records,subjects`, one row per distinct key; the reason is
/// `missing <variables>` or `unit <u> not convertible to <standard unit>`.
fn write_rejects(r: &Rejects, w: &mut impl std::io::Write) -> std::io::Result<()> {
    let mut c = ::csv::Writer::from_writer(w);
    let mut header = vec!["reason".to_owned()];
    header.extend(r.by.iter().cloned());
    header.extend(["records".to_owned(), "subjects".to_owned()]);
    c.write_record(&header).map_err(std::io::Error::other)?;
    for ((missing, key), (records, subjects)) in &r.rows {
        let mut rec = vec![missing.clone()];
        rec.extend(key.iter().cloned());
        rec.extend([records.to_string(), subjects.to_string()]);
        c.write_record(&rec).map_err(std::io::Error::other)?;
    }
    c.flush()
}

pub fn write_outputs(
    out: &Output,
    dir: &Path,
    opts: &WriteOptions,
) -> std::io::Result<(Vec<std::path::PathBuf>, Vec<crate::diagnostics::Diagnostic>)> {
    use crate::diagnostics::{Diagnostic, Location};
    use crate::formats::{csv, dataset_json, define, parquet, xpt};
    let mut written = Vec::new();
    let mut diags = Vec::new();
    std::fs::create_dir_all(dir)?;
    let jcx = dataset_json::JsonContext {
        study_id: opts.study_id.clone(),
        created: opts.created.clone(),
        originator: "kakehashi".into(),
    };
    let xopts = xpt::XptOptions {
        created: sas_timestamp(&opts.created).unwrap_or_else(|| xpt::DEFAULT_TIMESTAMP.into()),
        ..Default::default()
    };
    for (sub, sets, japanese) in [("", &out.datasets, false), ("ja", &out.japanese, true)] {
        if sets.is_empty() {
            continue;
        }
        let d = if sub.is_empty() {
            dir.to_path_buf()
        } else {
            dir.join(sub)
        };
        std::fs::create_dir_all(&d)?;
        for ds in sets.iter() {
            let stem = ds.name.to_lowercase();
            for f in &opts.formats {
                let path = match f {
                    Format::Xpt if japanese => continue,
                    Format::Xpt => d.join(format!("{stem}.xpt")),
                    Format::Json => d.join(format!("{stem}.json")),
                    Format::Ndjson => d.join(format!("{stem}.ndjson")),
                    Format::Csv => d.join(format!("{stem}.csv")),
                    Format::Parquet => d.join(format!("{stem}.parquet")),
                };
                let r = write_atomic(&path, |w| match f {
                    Format::Xpt => xpt::write(ds, w, &xopts).map_err(|e| {
                        std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())
                    }),
                    Format::Json => dataset_json::write_json(ds, &jcx, w),
                    Format::Ndjson => dataset_json::write_ndjson(ds, &jcx, w),
                    Format::Csv => csv::write(ds, w),
                    Format::Parquet => parquet::write(ds, w),
                });
                match r {
                    Ok(p) => written.push(p),
                    Err(e) if e.kind() == std::io::ErrorKind::InvalidData => diags.push(
                        Diagnostic::error("W001", format!("{}: cannot be written as XPT v5: {e}", ds.name), Location::file(&path))
                            .help("fix the mapping (names ≤ 8, labels ≤ 40, values ≤ 200 ASCII bytes); nothing was truncated"),
                    ),
                    Err(e) => return Err(e),
                }
            }
        }
        if !japanese
            && opts
                .formats
                .iter()
                .any(|f| matches!(f, Format::Xpt | Format::Json))
        {
            let leaf_ext = if opts.formats.contains(&Format::Xpt) {
                "xpt"
            } else {
                "json"
            };
            let dcx = define::DefineContext {
                study_id: opts.study_id.clone(),
                created: opts.created.clone(),
                originator: "kakehashi".into(),
                leaf_ext: leaf_ext.into(),
                ct: opts.ct,
            };
            written.push(write_atomic(&d.join("define.xml"), |w| {
                define::write(sets, &dcx, w)
            })?);
        }
    }
    if !out.rejected.is_empty() {
        let u = dir.join("unmapped");
        std::fs::create_dir_all(&u)?;
        for (domain, rej) in &out.rejected {
            written.push(write_atomic(
                &u.join(format!("{}.csv", domain.to_lowercase())),
                |w| write_rejects(rej, w),
            )?);
        }
    }
    Ok((written, diags))
}

pub fn write_atomic(
    path: &Path,
    f: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> std::io::Result<std::path::PathBuf> {
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    let r = (|| {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        f(&mut w)?;
        use std::io::Write;
        w.flush()
    })();
    if let Err(e) = r {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path)?;
    Ok(path.to_path_buf())
}

/// A dataset by name.
pub fn dataset<'o>(out: &'o Output, name: &str) -> Option<&'o Dataset> {
    out.datasets.iter().find(|d| d.name == name)
}
