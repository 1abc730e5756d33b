//! FHIRPath subset and the SQL-on-FHIR v2 ViewDefinition runner, over borrowed
//! `serde_json::Value` (stage 2 of the pipeline flattens FHIR with these).
//!
//! Written here rather than taken from a crate: `../shared/reference/notes-fhirpath-sof.md`
//! measured the candidates — helios-sof pins old serde versions and costs ~30 CPU-minutes per
//! clean build, rh-fhirpath converts decimals through f64 and has no way to register
//! functions, octofhir-fhirpath is async and needs a 286-crate schema stack to type choice
//! elements. SDTM mappings need registered functions and exact decimal text, so this module
//! keeps both: nodes are typed from our R4 element model, decimals are `rust_decimal`.

pub mod eval;
pub mod parser;
pub mod temporal;
pub mod ucum;
pub mod value;
pub mod view;

pub use eval::{evaluate, Env, Functions, NoFunctions};
pub use parser::{parse, Expr};
pub use value::{Coll, Item};
pub use view::{View, ViewError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FhirPathError {
    Syntax(String),
    Semantic(String),
    Execution(String),
}

impl std::fmt::Display for FhirPathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FhirPathError::Syntax(m) => write!(f, "FHIRPath syntax error: {m}"),
            FhirPathError::Semantic(m) => write!(f, "FHIRPath error: {m}"),
            FhirPathError::Execution(m) => write!(f, "FHIRPath evaluation error: {m}"),
        }
    }
}

impl std::error::Error for FhirPathError {}

/// Parses and evaluates one expression over one resource (no variables, no extra functions).
pub fn eval_str<'a>(
    expr: &str,
    resource: &'a serde_json::Value,
) -> Result<Coll<'a>, FhirPathError> {
    let e = parse(expr)?;
    eval::check(&e, &NoFunctions)?;
    let env = Env {
        resource: vec![Item::Node(resource, None)],
        vars: &|_| None,
        functions: &NoFunctions,
        resolver: None,
    };
    evaluate(&e, vec![Item::Node(resource, None)], &env)
}
