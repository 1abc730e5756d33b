//! CDISC Dataset-JSON 1.1, as JSON and as NDJSON (first line the metadata, then one row per
//! line), valid against `../shared/schemas/dataset-json-1.1/`. itemOIDs are the ones the
//! Define-XML of the same run uses (`IT.<DATASET>.<VARIABLE>`). Numbers are written in their
//! shortest round-trip form (`8.55`, never `8.549999999999999`).

use std::io::Write;

use serde_json::{json, Map, Value};

use super::table::{Cell, Dataset, VarType};

/// What a run's files share.
#[derive(Debug, Clone)]
pub struct JsonContext {
    pub study_id: String,
    /// ISO 8601 creation time written in every file (fixed by the caller: never the clock).
    pub created: String,
    pub originator: String,
}

pub fn item_oid(dataset: &str, variable: &str) -> String {
    format!("IT.{dataset}.{variable}")
}

pub fn item_group_oid(dataset: &str) -> String {
    format!("IG.{dataset}")
}

/// A numeric column is `integer` when every value is a whole number, else `double`.
pub fn numeric_type(ds: &Dataset, col: usize) -> &'static str {
    let whole = ds.rows.iter().all(|r| match &r[col] {
        Cell::Num(x) => x.fract() == 0.0 && x.abs() < 9.0e15,
        _ => true,
    });
    if whole {
        "integer"
    } else {
        "double"
    }
}

fn metadata(ds: &Dataset, cx: &JsonContext) -> Map<String, Value> {
    let columns: Vec<Value> = ds
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut m = Map::new();
            m.insert("itemOID".into(), Value::from(item_oid(&ds.name, &c.name)));
            m.insert("name".into(), Value::from(c.name.clone()));
            m.insert("label".into(), Value::from(c.label.clone()));
            match c.ty {
                VarType::Char => {
                    m.insert("dataType".into(), Value::from("string"));
                    m.insert("length".into(), Value::from(ds.char_length(i)));
                }
                VarType::Num => {
                    m.insert("dataType".into(), Value::from(numeric_type(ds, i)));
                }
            }
            if let Some(k) = c.key_sequence {
                m.insert("keySequence".into(), Value::from(k));
            }
            Value::Object(m)
        })
        .collect();
    let mut m = Map::new();
    m.insert(
        "datasetJSONCreationDateTime".into(),
        Value::from(cx.created.clone()),
    );
    m.insert("datasetJSONVersion".into(), Value::from("1.1.0"));
    m.insert(
        "fileOID".into(),
        Value::from(format!("{}.{}", cx.study_id, ds.name)),
    );
    m.insert("originator".into(), Value::from(cx.originator.clone()));
    m.insert(
        "sourceSystem".into(),
        json!({"name": "kakehashi", "version": env!("CARGO_PKG_VERSION")}),
    );
    m.insert(
        "studyOID".into(),
        Value::from(format!("ST.{}", cx.study_id)),
    );
    m.insert(
        "metaDataVersionOID".into(),
        Value::from(format!("MDV.{}", cx.study_id)),
    );
    m.insert("metaDataRef".into(), Value::from("define.xml"));
    m.insert("itemGroupOID".into(), Value::from(item_group_oid(&ds.name)));
    m.insert("records".into(), Value::from(ds.rows.len()));
    m.insert("name".into(), Value::from(ds.name.clone()));
    m.insert("label".into(), Value::from(ds.label.clone()));
    m.insert("columns".into(), Value::Array(columns));
    m
}

/// Per column: whether its numbers are written as JSON integers.
fn integer_columns(ds: &Dataset) -> Vec<bool> {
    (0..ds.columns.len())
        .map(|i| ds.columns[i].ty == VarType::Num && numeric_type(ds, i) == "integer")
        .collect()
}

fn row(r: &[Cell], integers: &[bool]) -> Value {
    Value::Array(
        r.iter()
            .zip(integers)
            .map(|(c, int)| match c {
                Cell::Null | Cell::Missing(_) => Value::Null,
                Cell::Char(s) => Value::from(s.clone()),
                Cell::Num(x) if *int => Value::from(*x as i64),
                Cell::Num(x) => serde_json::Number::from_f64(*x)
                    .map(Value::Number)
                    .unwrap_or(Value::Null),
            })
            .collect(),
    )
}

/// Dataset-JSON (one JSON object).
pub fn write_json(ds: &Dataset, cx: &JsonContext, out: &mut impl Write) -> std::io::Result<()> {
    // Streamed: the metadata object is opened, then rows are written one at a time, so a
    // million-row dataset is never held as one JSON tree.
    let meta =
        serde_json::to_string(&Value::Object(metadata(ds, cx))).map_err(std::io::Error::other)?;
    out.write_all(meta.strip_suffix('}').unwrap_or(&meta).as_bytes())?;
    out.write_all(b",\"rows\":[")?;
    let ints = integer_columns(ds);
    for (i, r) in ds.rows.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        serde_json::to_writer(&mut *out, &row(r, &ints)).map_err(std::io::Error::other)?;
    }
    out.write_all(b"]}\n")
}

/// Dataset-JSON as NDJSON: the metadata object, then one row array per line.
pub fn write_ndjson(ds: &Dataset, cx: &JsonContext, out: &mut impl Write) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, &Value::Object(metadata(ds, cx)))
        .map_err(std::io::Error::other)?;
    out.write_all(b"\n")?;
    let ints = integer_columns(ds);
    for r in &ds.rows {
        serde_json::to_writer(&mut *out, &row(r, &ints)).map_err(std::io::Error::other)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}
