//! Apache Parquet output (`--format parquet`), for the engines users already run (DuckDB,
//! Spark, BigQuery): one file per dataset, through the `parquet` crate's Arrow writer.
//!
//! Types follow the SDTM variables: Char → UTF-8 string, Num → 64-bit float; SAS missing
//! values (`.`, `.A`–`.Z`) and empty strings are nulls, as XPT readers report them. Each field
//! carries its SDTM label, type and length as field metadata, the file the dataset's name,
//! label and class. Uncompressed and with fixed writer properties, so the same dataset gives
//! the same bytes.

use std::io::Write;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

use super::table::{Cell, Dataset, VarType};

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
    let err = |e: parquet::errors::ParquetError| std::io::Error::other(e.to_string());
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
    let props = WriterProperties::builder()
        .set_created_by("kakehashi".to_owned())
        .build();
    let mut writer = ArrowWriter::try_new(w, schema, Some(props)).map_err(err)?;
    writer.write(&batch).map_err(err)?;
    writer.close().map_err(err)?;
    Ok(())
}
