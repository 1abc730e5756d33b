//! The table model every writer and reader shares.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarType {
    Char,
    Num,
}

/// One value. Numbers are IEEE doubles — what every submission format stores; their
/// shortest round-trip text (`8.55`) is what CSV, Dataset-JSON and the tests see.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Missing: blank character value, or the numeric missing value `.`.
    Null,
    Char(String),
    Num(f64),
    /// SAS special missing value `.A`–`.Z` or `._` (the letter or `_`).
    Missing(u8),
}

impl Cell {
    pub fn is_null(&self) -> bool {
        matches!(self, Cell::Null | Cell::Missing(_))
            || matches!(self, Cell::Char(s) if s.is_empty())
    }

    /// Text form (numbers as written, null as empty).
    pub fn text(&self) -> String {
        match self {
            Cell::Null => String::new(),
            Cell::Char(s) => s.clone(),
            Cell::Num(d) => format!("{d}"),
            Cell::Missing(c) => format!(".{}", *c as char),
        }
    }
}

/// One variable (column) with the metadata Define-XML and XPT need.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnMeta {
    pub name: String,
    pub label: String,
    pub ty: VarType,
    /// Core designation (Req/Exp/Perm).
    pub core: String,
    pub codelist: Option<String>,
    pub origin: String,
    pub method: Option<String>,
    /// Position in the natural key (1-based), when part of it.
    pub key_sequence: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Dataset name (`LB`, `SUPPLB`).
    pub name: String,
    pub label: String,
    pub class: String,
    /// "One record per …" (Define-XML `def:Structure`).
    pub structure: String,
    pub columns: Vec<ColumnMeta>,
    pub rows: Vec<Vec<Cell>>,
}

impl Dataset {
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// Longest value of a character column in bytes (at least 1, as XPT requires).
    pub fn char_length(&self, col: usize) -> usize {
        self.rows
            .iter()
            .map(|r| r[col].text().len())
            .max()
            .unwrap_or(0)
            .max(1)
    }
}
