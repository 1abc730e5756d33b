//! JP Core profile constraints, checked on every resource that claims a JP Core profile.
//! The constraints are data (`schemas/jp-core-constraints.yaml`): FHIRPath expressions that
//! hold on a conforming resource, each restating one line of the JP Core profile sources.
//! No JP Core package or FHIR validator runs offline here, so this is how a claimed
//! `meta.profile` is kept honest.

use std::sync::OnceLock;

use serde_json::Value;

use crate::fhirpath::{self, evaluate, Env, Expr, Item, NoFunctions};

const SOURCE: &str = include_str!("../../schemas/jp-core-constraints.yaml");

/// One constraint: which profiles it applies to and the expression that must be true.
pub struct Constraint {
    pub id: String,
    pub profiles: Vec<String>,
    pub source: String,
    pub expression: String,
    pub compiled: Expr,
    /// How to break it (for its test): `remove`, `remove_prefix`, `remove_where`, `set`.
    pub violation: Value,
}

/// The constraints, parsed and compiled once. The file is ours and embedded: a constraint
/// that does not parse is a build defect, caught by the tests.
pub fn constraints() -> &'static [Constraint] {
    static C: OnceLock<Vec<Constraint>> = OnceLock::new();
    C.get_or_init(|| {
        let doc = crate::yaml::parse(SOURCE)
            .map(|d| d.value)
            .unwrap_or(Value::Null);
        doc["constraints"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| {
                let s = |k: &str| c[k].as_str().unwrap_or("").to_owned();
                let expression = s("expression");
                let compiled = fhirpath::parse(&expression).ok()?;
                fhirpath::eval::check(&compiled, &NoFunctions).ok()?;
                Some(Constraint {
                    id: s("id"),
                    profiles: c["profiles"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|p| p.as_str().map(str::to_owned))
                        .collect(),
                    source: s("source"),
                    expression,
                    compiled,
                    violation: c["violation"].clone(),
                })
            })
            .collect()
    })
}

/// Number of constraints the file declares (to check that every one compiled).
pub fn declared() -> usize {
    SOURCE
        .lines()
        .filter(|l| l.trim_start().starts_with("- id:"))
        .count()
}

/// Ids of the constraints a resource breaks, for the JP Core profiles it claims.
pub fn violations(resource: &Value) -> Vec<&'static str> {
    let claimed: Vec<&str> = resource["meta"]["profile"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|p| p.strip_prefix("http://jpfhir.jp/fhir/core/StructureDefinition/"))
        .collect();
    if claimed.is_empty() {
        return Vec::new();
    }
    let env = Env {
        resource: vec![Item::Node(resource, None)],
        vars: &|_| None,
        functions: &NoFunctions,
        resolver: None,
    };
    constraints()
        .iter()
        .filter(|c| c.profiles.iter().any(|p| claimed.contains(&p.as_str())))
        .filter(|c| {
            let r = evaluate(&c.compiled, vec![Item::Node(resource, None)], &env);
            !matches!(r.as_deref(), Ok([one]) if matches!(one.prim(), Item::Bool(true)))
        })
        .map(|c| c.id.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_declared_constraint_compiles() {
        assert!(declared() > 10);
        assert_eq!(constraints().len(), declared());
    }
}
