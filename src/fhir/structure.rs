//! What the R4 JSON Schema cannot check, checked on every resource the converter builds:
//! required elements (minimum cardinality 1, primitives included — the schema cannot
//! require `status` because `_status` may carry it) and at most one type per choice
//! element (`valueQuantity` and `valueString` together). Cardinalities come from
//! `schemas/fhir-r4-required.txt` (derived by `scripts/gen-fhir-required.py`).

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use serde_json::Value;

use crate::r4model::{self, FhirIndex};

const REQUIRED: &str = include_str!("../../schemas/fhir-r4-required.txt");

/// Type (without underscores: `ObservationReferenceRange`) → required elements.
fn required() -> &'static HashMap<String, Vec<String>> {
    static R: OnceLock<HashMap<String, Vec<String>>> = OnceLock::new();
    R.get_or_init(|| {
        REQUIRED
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .filter_map(|l| {
                let mut p = l.split(' ');
                Some((p.next()?.to_owned(), p.map(str::to_owned).collect()))
            })
            .collect()
    })
}

/// The choice element a key expands (`valueQuantity` → `value`), if it is one.
fn choice_base<'k>(ix: &FhirIndex, owner: &str, key: &'k str) -> Option<&'k str> {
    if !ix.is_choice_key(owner, key) {
        return None;
    }
    let t = &ix.element(owner, key)?.type_name;
    let suffix_len = t.len();
    (key.len() > suffix_len && key[key.len() - suffix_len..].eq_ignore_ascii_case(t))
        .then(|| &key[..key.len() - suffix_len])
}

/// Problems of one resource, as element paths with what is wrong (no values).
pub fn problems(resource: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(t) = resource.get("resourceType").and_then(Value::as_str) {
        walk(r4model::global(), t, t, resource, &mut out);
    }
    out
}

fn walk(ix: &FhirIndex, ty: &str, path: &str, v: &Value, out: &mut Vec<String>) {
    let Some(obj) = v.as_object() else { return };
    let flat = ty.replace('_', "");
    for req in required().get(&flat).into_iter().flatten() {
        let present = match req.strip_suffix("[x]") {
            Some(base) => obj
                .keys()
                .any(|k| choice_base(ix, ty, k.trim_start_matches('_')) == Some(base)),
            None => obj.contains_key(req) || obj.contains_key(&format!("_{req}")),
        };
        if !present {
            out.push(format!("{path}.{req} is required but missing"));
        }
    }
    let mut choices: BTreeMap<&str, usize> = BTreeMap::new();
    for (k, child) in obj {
        let key = k.trim_start_matches('_');
        if k.starts_with('_') && obj.contains_key(key) {
            // The primitive's extension twin: counted with the value.
        } else if let Some(base) = choice_base(ix, ty, key) {
            *choices.entry(base).or_default() += 1;
        }
        if k.starts_with('_') || k == "resourceType" {
            continue;
        }
        let Some(el) = ix.element(ty, k) else {
            continue;
        };
        let child_ty = el.type_name.as_str();
        if r4model::is_primitive(child_ty) {
            continue;
        }
        let items: Vec<(String, &Value)> = match child {
            Value::Array(a) => a
                .iter()
                .enumerate()
                .map(|(i, x)| (format!("{path}.{k}[{i}]"), x))
                .collect(),
            x => vec![(format!("{path}.{k}"), x)],
        };
        for (p, x) in items {
            if child_ty == "ResourceList" {
                if let Some(t) = x.get("resourceType").and_then(Value::as_str) {
                    walk(ix, t, &p, x, out);
                }
            } else {
                walk(ix, child_ty, &p, x, out);
            }
        }
    }
    for (base, n) in choices {
        if n > 1 {
            out.push(format!("{path}.{base}[x] has {n} types at once"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn required_primitives_and_choices() {
        let ok = json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
            "valueQuantity": {"value": 1}, "referenceRange": [{"low": {"value": 1}}],
            "component": [{"code": {"text": "y"}, "valueString": "a"}]});
        assert!(problems(&ok).is_empty(), "{:?}", problems(&ok));
        let mut bad = ok.clone();
        bad.as_object_mut().unwrap().remove("status");
        bad["valueString"] = json!("x");
        bad["component"][0].as_object_mut().unwrap().remove("code");
        bad["text"] = json!({"status": "generated"});
        let p = problems(&bad);
        assert!(
            p.contains(&"Observation.status is required but missing".to_owned()),
            "{p:?}"
        );
        assert!(
            p.contains(&"Observation.value[x] has 2 types at once".to_owned()),
            "{p:?}"
        );
        assert!(
            p.contains(&"Observation.component[0].code is required but missing".to_owned()),
            "{p:?}"
        );
        assert!(
            p.contains(&"Observation.text.div is required but missing".to_owned()),
            "{p:?}"
        );
        // `_status` carrying an extension satisfies the cardinality.
        let mut ext = ok.clone();
        ext.as_object_mut().unwrap().remove("status");
        ext["_status"] = json!({"extension": [{"url": "http://x", "valueCode": "unknown"}]});
        assert!(problems(&ext).is_empty(), "{:?}", problems(&ext));
        // Required choice: Immunization.occurrence[x].
        let imm = json!({"resourceType": "Immunization", "status": "completed", "vaccineCode": {"text": "v"}, "patient": {"reference": "Patient/1"}});
        assert_eq!(
            problems(&imm),
            vec!["Immunization.occurrence[x] is required but missing".to_owned()]
        );
    }
}
