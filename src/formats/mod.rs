//! Plain tables with their metadata, and the files they are written to (CSV now; SAS
//! XPORT v5, Dataset-JSON and Define-XML build on the same model). Knows nothing about
//! how the tables were made.

pub mod csv;
pub mod ct;
pub mod dataset_json;
pub mod define;
pub mod parquet;
pub mod table;
pub mod xpt;

pub use table::{Cell, ColumnMeta, Dataset, VarType};
