//! The FHIR R4 element model: which elements each type has and of which type, from
//! `schemas/fhir-r4-elements.txt` (derived from the official R4 JSON Schema by
//! `scripts/gen-fhir-elements.py`). Shared by mapping checks and the FHIRPath evaluator.

use std::collections::HashMap;

pub const ELEMENTS: &str = include_str!("../schemas/fhir-r4-elements.txt");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub type_name: String,
    pub repeats: bool,
}

#[derive(Debug, Default)]
pub struct FhirIndex {
    types: HashMap<String, HashMap<String, Element>>,
    /// Per type, the JSON keys that are expansions of a choice element (`valueQuantity`
    /// of `value[x]`).
    choice_keys: HashMap<String, std::collections::HashSet<String>>,
}

/// FHIR primitive types: a path cannot continue below them.
pub fn is_primitive(t: &str) -> bool {
    t.chars().next().is_some_and(|c| c.is_ascii_lowercase()) || t == "xhtml"
}

impl FhirIndex {
    pub fn load() -> FhirIndex {
        let mut types = HashMap::new();
        for line in ELEMENTS
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let mut parts = line.split(' ');
            let Some(name) = parts.next() else { continue };
            let mut els = HashMap::new();
            for p in parts {
                if let Some((el, t)) = p.split_once(':') {
                    let repeats = t.ends_with('*');
                    els.insert(
                        el.to_owned(),
                        Element {
                            type_name: t.trim_end_matches('*').to_owned(),
                            repeats,
                        },
                    );
                }
            }
            types.insert(name.to_owned(), els);
        }
        let mut choice_keys = HashMap::new();
        let type_names: std::collections::HashSet<String> = types.keys().cloned().collect();
        for (owner, els) in &types {
            // Group element names by the part before their last type-name suffix.
            let mut groups: HashMap<&str, Vec<&str>> = HashMap::new();
            for name in els.keys() {
                for (i, c) in name.char_indices().skip(1) {
                    if !c.is_ascii_uppercase() {
                        continue;
                    }
                    let suffix = &name[i..];
                    let lower = format!("{}{}", suffix[..1].to_ascii_lowercase(), &suffix[1..]);
                    let is_type = type_names.contains(suffix)
                        || els.get(name).is_some_and(|e| e.type_name == lower);
                    if is_type {
                        groups.entry(&name[..i]).or_default().push(name);
                        break;
                    }
                }
            }
            let set: std::collections::HashSet<String> = groups
                .into_iter()
                .filter(|(base, members)| members.len() >= 2 && !els.contains_key(*base))
                .flat_map(|(_, m)| m.into_iter().map(str::to_owned))
                .collect();
            if !set.is_empty() {
                choice_keys.insert(owner.clone(), set);
            }
        }
        FhirIndex { types, choice_keys }
    }

    /// Whether `key` is a choice-element expansion on `owner` (`Observation`,
    /// `valueQuantity`).
    pub fn is_choice_key(&self, owner: &str, key: &str) -> bool {
        self.choice_keys.get(owner).is_some_and(|s| s.contains(key))
    }

    pub fn has_type(&self, t: &str) -> bool {
        self.types.contains_key(t) || is_primitive(t)
    }

    pub fn element(&self, owner: &str, name: &str) -> Option<&Element> {
        self.types.get(owner)?.get(name)
    }

    /// Element names of a type, for "did you mean" help.
    pub fn names(&self, owner: &str) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .types
            .get(owner)
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        v.sort_unstable();
        v
    }
}

/// The closest candidate by edit distance, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    fn dist(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut cur = vec![i + 1];
            for (j, cb) in b.iter().enumerate() {
                cur.push(
                    (prev[j] + usize::from(ca != *cb))
                        .min(prev[j + 1] + 1)
                        .min(cur[j] + 1),
                );
            }
            prev = cur;
        }
        prev[b.len()]
    }
    candidates
        .iter()
        .map(|c| (dist(word, c), *c))
        .filter(|(d, _)| *d <= 2.max(word.len() / 4))
        .min()
        .map(|(_, c)| c)
}

/// The index, loaded once per process (the FHIRPath evaluator types nodes with it).
pub fn global() -> &'static FhirIndex {
    static INDEX: std::sync::OnceLock<FhirIndex> = std::sync::OnceLock::new();
    INDEX.get_or_init(FhirIndex::load)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_knows_r4() {
        let ix = FhirIndex::load();
        assert_eq!(
            ix.element("Patient", "name"),
            Some(&Element {
                type_name: "HumanName".into(),
                repeats: true
            })
        );
        assert_eq!(
            ix.element("Observation", "valueQuantity")
                .unwrap()
                .type_name,
            "Quantity"
        );
        assert_eq!(ix.element("Patient", "gender").unwrap().type_name, "code");
        assert!(ix.element("Patient", "gendr").is_none());
        assert_eq!(did_you_mean("gendr", &ix.names("Patient")), Some("gender"));
    }
}
