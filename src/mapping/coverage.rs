//! How much of the JAMI "SS-MIX2 to FHIR" ConceptMaps our mapping files implement.
//!
//! The guide's source of truth is one CSV per ConceptMap (`source-conceptmapgen/fsh/*.csv`):
//! message rows (segment group → profile), segment rows (field → FHIR element) and table rows
//! (code → code). A row counts as implemented when:
//! - message: a message map of that data type produces that resource type;
//! - segment: a segment map producing that resource writes the row's top-level element;
//! - table: some code table maps the same source code to the same target code.

use super::model::{Map, Row, RowSource};
use super::MappingSet;
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::Path;

#[derive(Debug, Default, Serialize)]
pub struct FileCoverage {
    pub file: String,
    pub kind: String,
    pub implemented: usize,
    pub total: usize,
    /// Source → target of the rows not implemented.
    pub missing: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct JamiCoverage {
    pub implemented: usize,
    pub total: usize,
    pub files: Vec<FileCoverage>,
}

/// Resource type of a JP Core profile name (`JP_Observation_LabResult` → `Observation`).
fn resource_of(profile: &str) -> String {
    let p = profile.strip_prefix("JP_").unwrap_or(profile);
    p.split('_').next().unwrap_or(p).to_owned()
}

fn top_elements(rows: &[Row], out: &mut BTreeSet<String>) {
    for r in rows {
        if let Some(first) = r.to.first() {
            out.insert(first.name.clone());
        }
        if matches!(r.source, RowSource::Rows) {
            // Nested rows only refine their parent element.
        }
    }
}

/// Top-level elements each resource type's segment maps write, plus `resourceType`-level
/// `id`/`meta` which assembly writes.
fn written(set: &MappingSet, resource: &str) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = ["id", "meta"].iter().map(|s| s.to_string()).collect();
    for m in set
        .maps
        .values()
        .filter(|m: &&Map| !m.is_datatype && m.fhir_type == resource)
    {
        top_elements(&m.rows, &mut out);
    }
    out
}

pub fn jami_coverage(dir: &Path, set: &MappingSet) -> std::io::Result<JamiCoverage> {
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    files.sort();
    let mut cov = JamiCoverage::default();
    for path in files {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut rdr = csv::ReaderBuilder::new()
            .flexible(true)
            .from_path(&path)
            .map_err(std::io::Error::other)?;
        let rows: Vec<(String, String)> = rdr
            .records()
            .filter_map(|r| r.ok())
            .map(|r| {
                (
                    r.get(1).unwrap_or("").trim().to_owned(),
                    r.get(3).unwrap_or("").trim().to_owned(),
                )
            })
            .filter(|(_, t)| !t.is_empty())
            .collect();
        let mut fc = FileCoverage {
            file: name.clone(),
            ..Default::default()
        };
        let words: Vec<&str> = name.split(' ').collect();
        match words.first().copied() {
            Some("Message") => {
                fc.kind = "message".into();
                let dt = words
                    .get(1)
                    .map(|w| w.replace('_', "-"))
                    .unwrap_or_default();
                let produced: BTreeSet<String> = set
                    .messages
                    .iter()
                    .filter(|m| m.data_types.contains(&dt))
                    .flat_map(|m| {
                        m.produce
                            .iter()
                            .filter_map(|p| set.maps.get(&p.map).map(|x| x.fhir_type.clone()))
                    })
                    .collect();
                for (src, target) in &rows {
                    fc.total += 1;
                    if produced.contains(&resource_of(target)) {
                        fc.implemented += 1;
                    } else {
                        fc.missing.push(format!("{src} → {target}"));
                    }
                }
            }
            Some("Segment") => {
                fc.kind = "segment".into();
                let resource = words.last().copied().unwrap_or("").to_owned();
                let have = written(set, &resource);
                for (src, target) in &rows {
                    fc.total += 1;
                    // Patient.identifier, MedicationRequest.identifier:RpNumber, Observation.value[x]
                    let element = target
                        .split('.')
                        .nth(1)
                        .unwrap_or("")
                        .split(':')
                        .next()
                        .unwrap_or("")
                        .trim_end_matches("[x]");
                    let ok = target.split('.').next() == Some(resource.as_str())
                        && have.iter().any(|h| {
                            h == element
                                || (!element.is_empty()
                                    && h.starts_with(element)
                                    && target.contains("[x]"))
                        });
                    if ok {
                        fc.implemented += 1;
                    } else {
                        fc.missing.push(format!("{src} → {target}"));
                    }
                }
            }
            _ => {
                fc.kind = "table".into();
                for (src, target) in &rows {
                    fc.total += 1;
                    if set
                        .tables
                        .values()
                        .any(|t| t.codes.get(src).is_some_and(|v| v == target))
                    {
                        fc.implemented += 1;
                    } else {
                        fc.missing.push(format!("{src} → {target}"));
                    }
                }
            }
        }
        cov.implemented += fc.implemented;
        cov.total += fc.total;
        cov.files.push(fc);
    }
    Ok(cov)
}
