//! The typed form of mapping files, built from the checked JSON value.

use crate::hl7::FieldPath;
use serde_json::Value;

/// Where a mapping element was written: `file:line:col`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pos {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

impl std::fmt::Display for Pos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// A source value.
#[derive(Debug, Clone, PartialEq)]
pub enum Src {
    /// An HL7 field path; `each` (`PID-5[*]`) runs the row once per repetition.
    Field { path: FieldPath, each: bool },
    /// Relative to the current repetition (datatype maps, nested rows): `.1`, `.1.2`, `.`.
    Rel {
        comp: Option<usize>,
        sub: Option<usize>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    Equals(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    /// The value is (or is not) a number with an optional comparator (`< 0.5`).
    Numeric(bool),
    Present(bool),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cond {
    pub src: Src,
    pub test: Test,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    #[default]
    Omit,
    Warn,
    Error,
    /// Tables only: keep the source code unchanged.
    Keep,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Conv {
    #[default]
    String,
    Code,
    Decimal,
    Integer,
    PositiveInt,
    Date,
    DateTime,
    Instant,
    Boolean,
    Uri,
    Id,
    /// The number of `< 0.5`.
    QuantityValue,
    /// The comparator of `< 0.5`, if any.
    QuantityComparator,
    /// The bounds of a reference range (`6.6-8.1`, `<85`).
    RangeLow,
    RangeHigh,
    /// A number written with leading zeros, as a string without them (`01` → `1`):
    /// JP Core's Rp numbers and orders in an Rp.
    Ordinal,
}

/// One step of a target path: `name`, `name[2]` (1-based in files, stored 0-based) or `name[+]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub name: String,
    pub index: Index,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    None,
    At(usize),
    Append,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RowSource {
    From(Src),
    Value(Value),
    Rows,
    Join(Vec<Src>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub to: Vec<Step>,
    pub to_text: String,
    pub source: RowSource,
    /// With `RowSource::Rows`: an optional source the nested rows are relative to.
    pub scope: Option<Src>,
    /// With `RowSource::Rows`: run the nested rows once per sub-group of this name.
    pub each_group: Option<String>,
    pub conv: Conv,
    /// `part: {sep, index}`: only the index-th (1-based) piece of the source text split on
    /// `sep` is used (ORC-4 `<order>_<Rp>_<order in Rp>`); no such piece = missing.
    pub part: Option<(String, usize)>,
    pub table: Option<String>,
    pub via: Option<String>,
    /// All must hold.
    pub when: Vec<Cond>,
    pub rows: Vec<Row>,
    pub on_missing: Policy,
    pub on_unmapped: Policy,
    pub on_invalid: Policy,
    pub pos: Pos,
}

/// A segment map (one resource from a segment group) or a datatype map (one FHIR datatype
/// from one HL7 field repetition).
#[derive(Debug, Clone)]
pub struct Map {
    pub name: String,
    pub is_datatype: bool,
    /// Resource type (segment maps) or datatype (datatype maps).
    pub fhir_type: String,
    pub profile: Option<String>,
    pub rows: Vec<Row>,
    pub examples: Vec<Example>,
    pub pos: Pos,
}

/// A runnable example of a map: input and the JSON it must produce.
#[derive(Debug, Clone)]
pub struct Example {
    pub title: String,
    pub hl7: Option<String>,
    pub each: Option<String>,
    pub field: Option<String>,
    pub expect: Value,
    /// Top-level elements that must not be produced.
    pub absent: Vec<String>,
    pub pos: Pos,
}

#[derive(Debug, Clone)]
pub struct CodeTable {
    pub name: String,
    pub codes: std::collections::BTreeMap<String, String>,
    pub fallback: Option<String>,
    pub pos: Pos,
}

#[derive(Debug, Clone)]
pub struct Produce {
    pub map: String,
    pub each: String,
    pub id: String,
    /// All must hold.
    pub when: Vec<Cond>,
    /// Profile claimed instead of the segment map's own.
    pub profile: Option<String>,
    pub pos: Pos,
}

#[derive(Debug, Clone)]
pub struct MessageMap {
    pub name: String,
    pub data_types: Vec<String>,
    pub message_types: Vec<String>,
    pub produce: Vec<Produce>,
    pub pos: Pos,
}

/// Template variables a mapping may use in `id` and `value` strings.
pub const TEMPLATE_VARS: &[&str] = &[
    "pid",
    "facility",
    "date",
    "type",
    "order",
    "timestamp",
    "seq",
    "code",
];
