//! Reading a folder of SDTM datasets in any of the accepted forms: SAS XPORT v5, Dataset-JSON
//! 1.1 (JSON or NDJSON), or CSV in the CDISC Open Rules test layout (`_datasets.csv`,
//! `_variables.csv`, one CSV per dataset).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::diagnostics::{Diagnostic, Location};
use crate::formats::{xpt, Cell, VarType};

/// One value as the rules see it.
#[derive(Debug, Clone, PartialEq)]
pub enum V {
    Null,
    Str(String),
    Num(f64),
}

impl V {
    pub fn is_null(&self) -> bool {
        match self {
            V::Null => true,
            V::Str(s) => s.is_empty(),
            V::Num(x) => x.is_nan(),
        }
    }

    /// Text form, as results print values: `""` for null, numbers the way the CDISC
    /// reference engine (Python) prints floats (`250.0`, `8.55`).
    pub fn text(&self) -> String {
        match self {
            V::Null => String::new(),
            V::Str(s) => s.clone(),
            V::Num(x) if x.fract() == 0.0 && x.abs() < 1e16 => format!("{x:.1}"),
            V::Num(x) => format!("{x}"),
        }
    }

    pub fn num(&self) -> Option<f64> {
        match self {
            V::Num(x) => Some(*x),
            V::Str(s) => s.trim().parse().ok(),
            V::Null => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub label: String,
    pub ty: VarType,
    pub length: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Dataset name, upper case (`AE`, `SUPPAE`, `QS1`).
    pub name: String,
    pub label: String,
    /// File the dataset came from (name only, as results print it).
    pub file: String,
    pub columns: Vec<Column>,
    /// Shared with the rule frames: a frame copies the records only when an operation
    /// writes to them (each of ~330 rules used to clone every dataset).
    pub rows: std::sync::Arc<Vec<Vec<V>>>,
}

impl Table {
    pub fn col(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// The two-letter domain: `DOMAIN`'s value, else the name (SUPP-- → SUPP--).
    pub fn domain(&self) -> String {
        if let Some(i) = self.col("DOMAIN") {
            if let Some(V::Str(s)) = self.rows.iter().map(|r| &r[i]).find(|v| !v.is_null()) {
                return s.trim().to_owned();
            }
        }
        // Relationship datasets (SUPP--, RELREC, RELSUB …) are their own domain.
        if self.name.starts_with("SUPP")
            || self.name.starts_with("SQ")
            || self.name.starts_with("REL")
            || self.col("RDOMAIN").is_some()
        {
            return self.name.clone();
        }
        self.name.chars().take(2).collect()
    }
}

#[derive(Debug, Clone, Default)]
pub struct Study {
    pub tables: Vec<Table>,
    /// define.xml text, when given.
    pub define: Option<String>,
    /// Joined record frames shared by the rules that match the same datasets the same way.
    pub(crate) frames: super::engine::FrameCache,
}

impl Study {
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
    }

    /// From datasets in memory (what `convert` just wrote).
    pub fn from_datasets(datasets: &[crate::formats::Dataset]) -> Study {
        Study {
            tables: datasets
                .iter()
                .map(|d| Table {
                    name: d.name.clone(),
                    label: d.label.clone(),
                    file: format!("{}.xpt", d.name.to_lowercase()),
                    columns: d
                        .columns
                        .iter()
                        .enumerate()
                        .map(|(i, c)| Column {
                            name: c.name.clone(),
                            label: c.label.clone(),
                            ty: c.ty,
                            length: Some(if c.ty == VarType::Num {
                                8
                            } else {
                                d.char_length(i)
                            }),
                        })
                        .collect(),
                    rows: d
                        .rows
                        .iter()
                        .map(|r| r.iter().map(cells_to_v).collect())
                        .collect::<Vec<_>>()
                        .into(),
                })
                .collect(),
            define: None,
            frames: Default::default(),
        }
    }
}

fn cells_to_v(c: &Cell) -> V {
    match c {
        Cell::Null | Cell::Missing(_) => V::Null,
        Cell::Char(s) => V::Str(s.clone()),
        Cell::Num(x) => V::Num(*x),
    }
}

fn read_csv_rows(path: &Path) -> Result<(Vec<String>, Vec<Vec<String>>), String> {
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| e.to_string())?;
    let header: Vec<String> = r
        .headers()
        .map_err(|e| e.to_string())?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_owned())
        .collect();
    let mut rows = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| e.to_string())?;
        rows.push(rec.iter().map(str::to_owned).collect());
    }
    Ok((header, rows))
}

/// Loads every dataset in a folder. Unreadable files are diagnostics; the rest loads.
pub fn load_folder(dir: &Path) -> (Study, Vec<Diagnostic>) {
    let mut study = Study::default();
    let mut diags = Vec::new();
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect(),
        Err(e) => {
            diags.push(Diagnostic::error(
                "V001",
                format!("cannot read the dataset folder: {e}"),
                Location::file(dir),
            ));
            return (study, diags);
        }
    };
    files.sort();
    let ext = |p: &Path| {
        p.extension()
            .and_then(|x| x.to_str())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default()
    };
    // CDISC Open Rules CSV layout.
    let datasets_csv = dir.join("_datasets.csv");
    if datasets_csv.exists() {
        // In the order _datasets.csv lists them (operations such as dataset_names keep it).
        let labels: Vec<(String, String)> = read_csv_rows(&datasets_csv)
            .map(|(_, rows)| {
                rows.into_iter()
                    .filter(|r| r.len() >= 2)
                    .map(|r| (r[0].to_lowercase(), r[1].clone()))
                    .collect()
            })
            .unwrap_or_default();
        let mut vars: BTreeMap<String, Vec<Column>> = BTreeMap::new();
        if let Ok((h, rows)) = read_csv_rows(&dir.join("_variables.csv")) {
            let idx = |n: &str| h.iter().position(|x| x.eq_ignore_ascii_case(n));
            let (d, v, l, t, n) = (
                idx("dataset"),
                idx("variable"),
                idx("label"),
                idx("type"),
                idx("length"),
            );
            for r in rows {
                let get = |i: Option<usize>| i.and_then(|i| r.get(i)).cloned().unwrap_or_default();
                vars.entry(get(d).to_lowercase()).or_default().push(Column {
                    name: get(v),
                    label: get(l),
                    ty: if get(t).eq_ignore_ascii_case("Num") {
                        VarType::Num
                    } else {
                        VarType::Char
                    },
                    length: get(n).trim().parse().ok(),
                });
            }
        }
        for (file, label) in &labels {
            let stem = file.trim_end_matches(".csv").to_owned();
            let file = &format!("{stem}.csv");
            let path = dir.join(file);
            match read_csv_rows(&path) {
                Ok((header, rows)) => {
                    let meta = vars.get(&stem).or_else(|| vars.get(file));
                    let columns: Vec<Column> = header
                        .iter()
                        .map(|h| {
                            meta.and_then(|m| m.iter().find(|c| c.name.eq_ignore_ascii_case(h)))
                                .cloned()
                                .unwrap_or(Column {
                                    name: h.clone(),
                                    label: String::new(),
                                    ty: VarType::Char,
                                    length: None,
                                })
                        })
                        .collect();
                    let rows = rows
                        .into_iter()
                        .map(|r| {
                            columns
                                .iter()
                                .enumerate()
                                .map(|(i, c)| match r.get(i).map(String::as_str) {
                                    None | Some("") => V::Null,
                                    Some(s) if c.ty == VarType::Num => s
                                        .trim()
                                        .parse()
                                        .map(V::Num)
                                        .unwrap_or_else(|_| V::Str(s.to_owned())),
                                    Some(s) => V::Str(s.to_owned()),
                                })
                                .collect()
                        })
                        .collect::<Vec<_>>()
                        .into();
                    study.tables.push(Table {
                        name: stem.to_uppercase(),
                        label: label.clone(),
                        file: file.clone(),
                        columns,
                        rows,
                    });
                }
                Err(e) => diags.push(Diagnostic::error(
                    "V002",
                    format!("cannot read dataset: {e}"),
                    Location::file(&path),
                )),
            }
        }
        if let Ok(env) = std::fs::read_to_string(dir.join(".env")) {
            for line in env.lines() {
                if let Some(f) = line.strip_prefix("DEFINE_XML=") {
                    study.define = std::fs::read_to_string(dir.join(f.trim())).ok();
                }
            }
        }
        return (study, diags);
    }
    // The same dataset often comes in several forms (dm.xpt, dm.json): the first readable
    // one by stem, XPT first (cheapest to read), is used and the others are not parsed.
    let priority = |p: &Path| match ext(p).as_str() {
        "xpt" => 0,
        "json" => 1,
        "ndjson" => 2,
        _ => 3,
    };
    let stem = |p: &Path| {
        p.file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("")
            .to_uppercase()
    };
    files.sort_by_key(|p| (stem(p), priority(p)));
    for f in files {
        let name = f
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_owned();
        if study.table(&stem(&f)).is_some() {
            continue;
        }
        match ext(&f).as_str() {
            "xpt" => match std::fs::read(&f)
                .map_err(|e| e.to_string())
                .and_then(|b| xpt::read(&b).map_err(|e| e.to_string()))
            {
                Ok(members) => {
                    let fresh: Vec<_> = members
                        .into_iter()
                        .filter(|m| study.table(&m.dataset.name).is_none())
                        .collect();
                    for m in fresh {
                        let lengths = m.lengths.clone();
                        study.tables.push(Table {
                            name: m.dataset.name.to_uppercase(),
                            label: m.dataset.label.clone(),
                            file: name.clone(),
                            columns: m
                                .dataset
                                .columns
                                .iter()
                                .zip(lengths)
                                .map(|(c, l)| Column {
                                    name: c.name.clone(),
                                    label: c.label.clone(),
                                    ty: c.ty,
                                    length: Some(l),
                                })
                                .collect(),
                            rows: m
                                .dataset
                                .rows
                                .iter()
                                .map(|r| r.iter().map(cells_to_v).collect())
                                .collect::<Vec<_>>()
                                .into(),
                        });
                    }
                }
                Err(e) => diags.push(Diagnostic::error(
                    "V002",
                    format!("cannot read XPT: {e}"),
                    Location::file(&f),
                )),
            },
            "json" | "ndjson" if !crate::sdtm::RUN_FILES.contains(&name.as_ref()) => {
                match read_dataset_json(&f) {
                    Ok(Some(t)) => {
                        if !study.tables.iter().any(|x| x.name == t.name) {
                            study.tables.push(t);
                        }
                    }
                    Ok(None) => {}
                    Err(e) => diags.push(Diagnostic::error(
                        "V002",
                        format!("cannot read Dataset-JSON: {e}"),
                        Location::file(&f),
                    )),
                }
            }
            "xml" if name.eq_ignore_ascii_case("define.xml") => {
                study.define = std::fs::read_to_string(&f).ok()
            }
            _ => {}
        }
    }
    (study, diags)
}

/// A Dataset-JSON (JSON or NDJSON) file; `None` when the JSON is not a dataset.
fn read_dataset_json(path: &Path) -> Result<Option<Table>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let file = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    dataset_json_table(&text, path.extension().is_some_and(|x| x == "ndjson"), file)
}

/// A Dataset-JSON text (`ndjson`: the metadata line, then one row per line) as a table;
/// `None` when the JSON is not a dataset.
pub fn dataset_json_table(text: &str, ndjson: bool, file: &str) -> Result<Option<Table>, String> {
    let (meta, rows): (serde_json::Value, Vec<serde_json::Value>) = if ndjson {
        let mut lines = text.lines();
        let meta: serde_json::Value =
            serde_json::from_str(lines.next().unwrap_or("{}")).map_err(|e| e.to_string())?;
        let rows = lines
            .filter(|l| !l.trim().is_empty())
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        (meta, rows)
    } else {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let rows = v["rows"].as_array().cloned().unwrap_or_default();
        (v, rows)
    };
    let Some(cols) = meta["columns"].as_array() else {
        return Ok(None);
    };
    let columns: Vec<Column> = cols
        .iter()
        .map(|c| Column {
            name: c["name"].as_str().unwrap_or("").to_owned(),
            label: c["label"].as_str().unwrap_or("").to_owned(),
            ty: if c["dataType"] == "string" {
                VarType::Char
            } else {
                VarType::Num
            },
            length: c["length"].as_u64().map(|l| l as usize),
        })
        .collect();
    let rows = rows
        .iter()
        .map(|r| {
            r.as_array()
                .map(|a| {
                    a.iter()
                        .map(|v| match v {
                            serde_json::Value::Null => V::Null,
                            serde_json::Value::String(s) => V::Str(s.clone()),
                            serde_json::Value::Number(n) => {
                                n.as_f64().map(V::Num).unwrap_or(V::Null)
                            }
                            other => V::Str(other.to_string()),
                        })
                        .collect()
                })
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .into();
    Ok(Some(Table {
        name: meta["name"].as_str().unwrap_or("").to_uppercase(),
        label: meta["label"].as_str().unwrap_or("").to_owned(),
        file: file.to_owned(),
        columns,
        rows,
    }))
}

/// Normalised (Dataset, Record, Variable, Value) of a finding, for comparing with expected
/// results; values printing a Python list compare as sets (the reference engine prints some
/// in an unspecified order).
pub fn result_key(f: &super::engine::Finding) -> (String, String, String, String) {
    (
        f.dataset.to_uppercase(),
        f.record.map(|r| r.to_string()).unwrap_or_default(),
        f.variable.clone(),
        norm_value(&f.value),
    )
}

/// A result value as the comparison sees it. The corpus was written by several versions of
/// the reference engine, which print the same value differently: lists in an unspecified
/// order (compared as sets), a missing value as Python's `None` or JSON's `null` (empty
/// here), a whole number as `151` or `151.0`.
fn norm_value(v: &str) -> String {
    let t = v.trim();
    if t.starts_with('[') && t.ends_with(']') {
        let mut items: Vec<&str> = t[1..t.len() - 1]
            .split(", ")
            .map(|i| if i == "None" { "''" } else { i })
            .collect();
        items.sort_unstable();
        return format!("[{}]", items.join(", "));
    }
    if t == "null" {
        return String::new();
    }
    if let Some((int, frac)) = t.split_once('.') {
        if !int.is_empty()
            && int
                .trim_start_matches('-')
                .bytes()
                .all(|b| b.is_ascii_digit())
            && !frac.is_empty()
            && frac.bytes().all(|b| b == b'0')
        {
            return int.to_owned();
        }
    }
    t.to_owned()
}

/// The marker the reference engine reports for a rule variable the dataset lacks.
const NOT_IN_DATASET: &str = "Not in dataset";

/// Whether our findings for an Open Rules case equal its expected results. Versions of the
/// reference engine before it reported absent variables wrote no `Not in dataset` rows;
/// when an expected file has none, such a row of ours is left out of the comparison if the
/// expected file reports the same record (so a finding of ours the corpus lacks still
/// disagrees).
pub fn case_agrees(
    want: &std::collections::BTreeSet<(String, String, String, String)>,
    got: &std::collections::BTreeSet<(String, String, String, String)>,
) -> bool {
    if want.iter().any(|k| k.3 == NOT_IN_DATASET) {
        return want == got;
    }
    let reported =
        |k: &(String, String, String, String)| want.iter().any(|w| w.0 == k.0 && w.1 == k.1);
    got.iter()
        .filter(|k| !(k.3 == NOT_IN_DATASET && reported(k)))
        .eq(want.iter())
}

/// An Open Rules `results.csv` as normalised keys.
pub fn expected_results(
    path: &Path,
) -> Result<std::collections::BTreeSet<(String, String, String, String)>, String> {
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| e.to_string())?;
    Ok(r.records()
        .filter_map(|x| x.ok())
        .filter(|x| x.len() >= 3)
        .map(|x| {
            (
                x[0].trim().to_uppercase(),
                x[1].trim().to_owned(),
                x[2].trim().to_owned(),
                norm_value(x.get(3).unwrap_or("")),
            )
        })
        .collect())
}
