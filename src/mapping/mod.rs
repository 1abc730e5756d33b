//! Mapping files: loading (YAML with positions), checking (JSON Schema + semantics) and
//! evaluating rows over HL7 messages. Rust supplies primitives only (field access, dates,
//! table lookups, templates); every conversion is a mapping file.

pub mod coverage;
pub mod eval;
pub mod examples;

pub mod load;
pub mod model;

pub use load::MappingSet;
