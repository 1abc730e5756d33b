//! Apache Parquet output (`--format parquet`), for the engines users already run (DuckDB,
//! Spark, BigQuery): one file per dataset, through the `parquet` crate's Arrow writer.
//!
//! Types follow the SDTM variables: Char → UTF-8 string, Num → 64-bit float; SAS missing
//! values (`.`, `.A`–`.Z`) and empty strings are nulls, as XPT readers report them. Each field
//! carries its SDTM label, type and length as field metadata, the file the dataset's name,
//! label and class. Uncompressed and with fixed writer properties, so the same dataset gives
//! the same bytes.
//!
//! [`RowWriter`] writes rows of JSON values under declared column types, a batch at a time,
//! for the flattened rows of ViewDefinitions (`convert fhir --format parquet`).

use std::io::Write;
use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

use super::table::{Cell, Dataset, VarType};

fn props() -> WriterProperties {
    WriterProperties::builder()
        .set_created_by("kakehashi".to_owned())
        .build()
}

fn perr(e: parquet::errors::ParquetError) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

fn schema(ds: &Dataset) -> Schema {
    let fields: Vec<Field> = ds
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let (dt, ty, len) = match c.ty {
                VarType::Char => (DataType::Utf8, "Char", ds.char_length(i)),
                VarType::Num => (DataType::Float64, "Num", 8),
            };
            Field::new(&c.name, dt, true).with_metadata(
                [
                    ("label".to_owned(), c.label.clone()),
                    ("sdtm_type".to_owned(), ty.to_owned()),
                    ("length".to_owned(), len.to_string()),
                ]
                .into_iter()
                .collect(),
            )
        })
        .collect();
    Schema::new(fields).with_metadata(
        [
            ("dataset".to_owned(), ds.name.clone()),
            ("label".to_owned(), ds.label.clone()),
            ("class".to_owned(), ds.class.clone()),
        ]
        .into_iter()
        .collect(),
    )
}

pub fn write<W: Write + Send>(ds: &Dataset, w: W) -> std::io::Result<()> {
    let schema = Arc::new(schema(ds));
    let columns: Vec<ArrayRef> = ds
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| -> ArrayRef {
            match c.ty {
                VarType::Char => {
                    Arc::new(StringArray::from_iter(ds.rows.iter().map(|r| {
                        match &r[i] {
                            Cell::Char(s) if !s.is_empty() => Some(s.clone()),
                            Cell::Num(v) => Some(v.to_string()),
                            _ => None,
                        }
                    })))
                }
                VarType::Num => {
                    Arc::new(Float64Array::from_iter(ds.rows.iter().map(|r| {
                        match &r[i] {
                            Cell::Num(v) => Some(*v),
                            Cell::Char(s) => s.trim().parse().ok(),
                            _ => None,
                        }
                    })))
                }
            }
        })
        .collect();
    let batch = RecordBatch::try_new(schema.clone(), columns)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut writer = ArrowWriter::try_new(w, schema, Some(props())).map_err(perr)?;
    writer.write(&batch).map_err(perr)?;
    writer.close().map_err(perr)?;
    Ok(())
}

/// A JSON number, or a string holding one, as `T`.
fn number<T: std::str::FromStr>(
    v: &serde_json::Value,
    of: fn(&serde_json::Number) -> Option<T>,
) -> Option<T> {
    match v {
        serde_json::Value::Number(n) => of(n),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The Parquet type of a column of JSON values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    Str,
    Int,
    Float,
    Bool,
}

impl ColType {
    /// A SQL-on-FHIR column `type` (a FHIR primitive type name): integers and decimals keep
    /// their number type, booleans theirs; every other type (dates and times included, which
    /// may be partial) and an undeclared type are strings.
    pub fn of_fhir(ty: Option<&str>) -> ColType {
        match ty {
            Some("boolean") => ColType::Bool,
            Some("integer" | "positiveInt" | "unsignedInt" | "integer64") => ColType::Int,
            Some("decimal") => ColType::Float,
            _ => ColType::Str,
        }
    }
}

/// Rows of JSON values into one Parquet file, [`RowWriter::BATCH`] rows per row group.
pub struct RowWriter<W: Write + Send> {
    writer: ArrowWriter<W>,
    schema: Arc<Schema>,
    types: Vec<ColType>,
    rows: Vec<Vec<serde_json::Value>>,
    /// Values that did not fit their column's type (written as null), per column.
    pub mismatches: Vec<usize>,
    pub written: usize,
}

impl<W: Write + Send> RowWriter<W> {
    pub const BATCH: usize = 8192;

    /// `columns`: name, type and field metadata; `meta`: file metadata.
    pub fn new(
        w: W,
        columns: Vec<(String, ColType, Vec<(String, String)>)>,
        meta: Vec<(String, String)>,
    ) -> std::io::Result<Self> {
        let types: Vec<ColType> = columns.iter().map(|c| c.1).collect();
        let fields: Vec<Field> = columns
            .into_iter()
            .map(|(name, ty, m)| {
                let dt = match ty {
                    ColType::Str => DataType::Utf8,
                    ColType::Int => DataType::Int64,
                    ColType::Float => DataType::Float64,
                    ColType::Bool => DataType::Boolean,
                };
                Field::new(name, dt, true).with_metadata(m.into_iter().collect())
            })
            .collect();
        let schema = Arc::new(Schema::new(fields).with_metadata(meta.into_iter().collect()));
        let writer = ArrowWriter::try_new(w, schema.clone(), Some(props())).map_err(perr)?;
        Ok(RowWriter {
            writer,
            schema,
            mismatches: vec![0; types.len()],
            types,
            rows: Vec::new(),
            written: 0,
        })
    }

    pub fn push(&mut self, row: Vec<serde_json::Value>) -> std::io::Result<()> {
        self.rows.push(row);
        if self.rows.len() >= Self::BATCH {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        use serde_json::Value;
        if self.rows.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.rows);
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.types.len());
        for (i, ty) in self.types.iter().enumerate() {
            let cell = |r: &Vec<Value>| r.get(i).cloned().unwrap_or(Value::Null);
            let mut bad = 0usize;
            let mut check = |v: &Value, ok: bool| {
                if !ok && !v.is_null() {
                    bad += 1;
                }
            };
            let array: ArrayRef = match ty {
                ColType::Str => Arc::new(StringArray::from_iter(rows.iter().map(|r| {
                    match cell(r) {
                        Value::Null => None,
                        Value::String(s) => Some(s),
                        // A collection column, or an object: its JSON text.
                        other => Some(other.to_string()),
                    }
                }))),
                ColType::Int => Arc::new(Int64Array::from_iter(rows.iter().map(|r| {
                    let v = cell(r);
                    let x = number(&v, serde_json::Number::as_i64);
                    check(&v, x.is_some());
                    x
                }))),
                ColType::Float => Arc::new(Float64Array::from_iter(rows.iter().map(|r| {
                    let v = cell(r);
                    let x = number(&v, serde_json::Number::as_f64);
                    check(&v, x.is_some());
                    x
                }))),
                ColType::Bool => Arc::new(BooleanArray::from_iter(rows.iter().map(|r| {
                    let v = cell(r);
                    let x = match &v {
                        Value::Bool(b) => Some(*b),
                        Value::String(s) if s == "true" => Some(true),
                        Value::String(s) if s == "false" => Some(false),
                        _ => None,
                    };
                    check(&v, x.is_some());
                    x
                }))),
            };
            self.mismatches[i] += bad;
            columns.push(array);
        }
        let batch = RecordBatch::try_new(self.schema.clone(), columns)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        self.writer.write(&batch).map_err(perr)?;
        self.written += rows.len();
        Ok(())
    }

    /// Writes what is left and the footer; returns the mismatch counts per column.
    pub fn finish(mut self) -> std::io::Result<(usize, Vec<usize>)> {
        self.flush()?;
        self.writer.close().map_err(perr)?;
        Ok((self.written, self.mismatches))
    }
}
