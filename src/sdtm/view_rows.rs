//! The flattened rows of every ViewDefinition as Apache Parquet (`--format parquet` of
//! `convert fhir` and `convert`; issue 15), for the engines users already run: the SDTM
//! domain files' views, and any SQL-on-FHIR ViewDefinition a user adds with `--views DIR`.
//! The rows are the views' own, before any SDTM derivation — what a ViewDefinition runner
//! such as Pathling or a SQL-on-FHIR engine would give for the same NDJSON.
//!
//! The NDJSON files are streamed one resource at a time and each Parquet file gets a row
//! group per [`RowWriter::BATCH`] rows, so memory does not grow with the input. Columns
//! keep the view's declared type ([`ColType::of_fhir`]); a value that does not fit it is
//! written as null and reported once per column. Two columns come first in every file, so
//! that rows can be joined without the view declaring it: `_resource` (`Type/id` of the
//! resource the row is from) and `_patient` (`Patient/id` of the patient it belongs to, as
//! the SDTM stage finds it; null for resources of no patient).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::spec::{externals, SdtmSpec};
use super::subject::patient_of;
use crate::diagnostics::{Diagnostic, Location};
use crate::fhir::input;
use crate::fhirpath::View;
use crate::formats::parquet::{ColType, RowWriter};

/// A view to write: its output name, where it was declared, and the view.
pub struct NamedView {
    pub name: String,
    pub file: PathBuf,
    /// The line of the view in its file (1 for a JSON ViewDefinition).
    pub line: usize,
    pub view: View,
}

impl NamedView {
    fn at(&self) -> Location {
        Location::file(&self.file).with_line(self.line)
    }

    fn source(&self) -> String {
        format!("{}:{}", self.file.display(), self.line)
    }
}

/// The views of the SDTM domain files, in file order.
pub fn domain_views(spec: &SdtmSpec) -> Vec<NamedView> {
    let mut out = Vec::new();
    for d in &spec.domains {
        for (j, v) in d.views.iter().enumerate() {
            let line = d.view_lines.get(j).copied().unwrap_or(1);
            out.push(NamedView {
                name: v
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("{}_{}", d.domain.to_lowercase(), j + 1)),
                file: PathBuf::from(&d.file),
                line,
                view: v.clone(),
            });
        }
    }
    out
}

/// The SQL-on-FHIR ViewDefinitions (`*.json`) in `dir`, compiled with the SDTM functions.
/// Every file is read and checked before any data is: errors are returned together.
pub fn user_views(dir: &Path, spec: &SdtmSpec) -> Result<Vec<NamedView>, Vec<Diagnostic>> {
    let functions = spec.functions(false);
    let ext = externals(None);
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect(),
        Err(e) => {
            return Err(vec![Diagnostic::error(
                "T001",
                format!("cannot read the views folder: {e}"),
                Location::file(dir),
            )])
        }
    };
    files.sort();
    let (mut out, mut diags) = (Vec::new(), Vec::new());
    for f in files {
        let parsed = std::fs::read(&f)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<Value>(&b).map_err(|e| e.to_string()));
        let v = match parsed {
            Ok(v) => v,
            Err(e) => {
                diags.push(Diagnostic::error(
                    "T001",
                    format!("not a JSON ViewDefinition: {e}"),
                    Location::file(&f),
                ));
                continue;
            }
        };
        match View::compile_with(&v, &functions, &ext) {
            Ok(view) => {
                let stem = f
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                out.push(NamedView {
                    name: view.name.clone().unwrap_or(stem),
                    file: f.clone(),
                    line: 1,
                    view,
                })
            }
            Err(e) => diags.push(
                Diagnostic::error("T002", format!("the view does not compile: {e}"), Location::file(&f))
                    .help("a SQL-on-FHIR v2 ViewDefinition; the functions of README \"Portable views\" may be used"),
            ),
        }
    }
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(diags)
    }
}

/// Names a file may take: letters, digits, `_`, `-`, `.`.
fn file_name_ok(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Writes `out_dir/<view>.parquet` for every view from the `<Type>.ndjson` files in
/// `fhir_dir`; returns the rows written per view and the diagnostics (run-time FHIRPath
/// errors and type mismatches, located at the view's declaration).
pub fn write_parquet(
    views: &[NamedView],
    spec: &SdtmSpec,
    fhir_dir: &Path,
    out_dir: &Path,
) -> std::io::Result<(BTreeMap<String, usize>, Vec<Diagnostic>)> {
    let functions = spec.functions(false);
    let mut diags = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut usable = Vec::new();
    for v in views {
        if !file_name_ok(&v.name) || !seen.insert(v.name.clone()) {
            diags.push(Diagnostic::error(
                "T003",
                format!(
                    "view name {:?} is not a unique file name; the view is not written",
                    v.name
                ),
                v.at(),
            ));
            continue;
        }
        usable.push(v);
    }
    std::fs::create_dir_all(out_dir)?;
    let mut by_type: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut writers = Vec::new();
    for (i, v) in usable.iter().enumerate() {
        by_type.entry(v.view.resource.as_str()).or_default().push(i);
        let keys = [
            ("_resource", "the resource the row is from (Type/id)"),
            ("_patient", "the patient it belongs to (Patient/id)"),
        ]
        .map(|(n, d)| {
            (
                n.to_owned(),
                ColType::Str,
                vec![("description".to_owned(), d.to_owned())],
            )
        });
        let columns = keys
            .into_iter()
            .chain(v.view.columns().iter().map(|c| {
                let ty = if c.collection {
                    ColType::Str
                } else {
                    ColType::of_fhir(c.ty.as_deref())
                };
                let mut meta = vec![(
                    "fhir_type".to_owned(),
                    c.ty.clone().unwrap_or_else(|| "(undeclared)".into()),
                )];
                if c.collection {
                    meta.push(("collection".to_owned(), "JSON array".to_owned()));
                }
                (c.name.clone(), ty, meta)
            }))
            .collect();
        let file = std::fs::File::create(out_dir.join(format!("{}.parquet", v.name)))?;
        writers.push(Some(RowWriter::new(
            std::io::BufWriter::new(file),
            columns,
            vec![
                ("view".to_owned(), v.name.clone()),
                ("resource".to_owned(), v.view.resource.clone()),
                ("declared_at".to_owned(), v.source()),
            ],
        )?));
    }
    let mut errors: Vec<(usize, String)> = vec![(0, String::new()); usable.len()];
    let mut failure: Option<std::io::Error> = None;
    for (ty, idx) in &by_type {
        let path = fhir_dir.join(format!("{ty}.ndjson"));
        if !path.is_file() {
            continue;
        }
        input::for_each_in_file(
            &path,
            &mut |r: Value| {
                let resource = match (r.get("resourceType"), r.get("id")) {
                    (Some(Value::String(t)), Some(Value::String(id))) => {
                        Value::String(format!("{t}/{id}"))
                    }
                    _ => Value::Null,
                };
                let patient = patient_of(&r).map_or(Value::Null, Value::String);
                for &i in idx {
                    match usable[i].view.run(&r, &functions) {
                        Ok(rows) => {
                            for row in rows {
                                let mut full = Vec::with_capacity(row.len() + 2);
                                full.push(resource.clone());
                                full.push(patient.clone());
                                full.extend(row);
                                let row = full;
                                if let Some(Err(e)) = writers[i].as_mut().map(|w| w.push(row)) {
                                    failure.get_or_insert(e);
                                }
                            }
                        }
                        Err(e) => {
                            let slot = &mut errors[i];
                            if slot.0 == 0 {
                                slot.1 = e.to_string();
                            }
                            slot.0 += 1;
                        }
                    }
                }
            },
            &mut diags,
        );
    }
    if let Some(e) = failure {
        return Err(e);
    }
    let mut written = BTreeMap::new();
    for (i, w) in writers.iter_mut().enumerate() {
        let Some(w) = w.take() else { continue };
        let v = usable[i];
        let (n, mismatches) = w.finish()?;
        written.insert(v.name.clone(), n);
        let at = v.at();
        if errors[i].0 > 0 {
            diags.push(Diagnostic::error(
                "T004",
                format!(
                    "view {}: {} resource(s) gave a FHIRPath error and no rows (first: {})",
                    v.name, errors[i].0, errors[i].1
                ),
                at.clone(),
            ));
        }
        for (c, bad) in v.view.columns().iter().zip(mismatches.into_iter().skip(2)) {
            if bad > 0 {
                diags.push(Diagnostic::warning(
                    "T005",
                    format!(
                        "view {} column {}: {bad} value(s) do not fit the declared type {}; written as null",
                        v.name,
                        c.name,
                        c.ty.as_deref().unwrap_or("")
                    ),
                    at.clone(),
                ));
            }
        }
    }
    Ok((written, diags))
}
