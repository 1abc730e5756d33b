//! Assembling FHIR resources from one stored message: pick the message maps for its data
//! type and message type, run each `produce` over its segment groups, give every resource
//! its deterministic logical id (JAMI recipe: storage items joined by dots, without the
//! timestamp, so later versions of a record overwrite earlier ones).

use crate::diagnostics::{Diagnostic, Location};
use crate::hl7::{GroupInstance, Message, Offset};
use crate::mapping::eval::{instances_for, Ctx};
use crate::mapping::MappingSet;
use crate::ssmix2::storage::Item;
use serde_json::{Map as JMap, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};

#[derive(Debug, Clone)]
pub struct FhirOptions {
    /// Facility code (医療機関コード, 10 digits) for identifier systems.
    pub facility: String,
    /// Offset for times that carry none (the time rule in hl7::time).
    pub offset: Offset,
    /// Also write a transaction Bundle per patient (PUT current, DELETE deleted records).
    pub bundles: bool,
    /// Also write superseded and deleted versions under history/ (meta.versionId = the
    /// SS-MIX2 timestamp), for audit.
    pub history: bool,
}

impl Default for FhirOptions {
    fn default() -> Self {
        FhirOptions {
            facility: "0000000000".into(),
            offset: Offset::JAPAN,
            bundles: false,
            history: false,
        }
    }
}

/// FHIR ids are `[A-Za-z0-9\-\.]{1,64}`: other characters become `-`; a longer id becomes a
/// hash of itself so it stays deterministic.
pub fn logical_id(raw: &str) -> String {
    let clean: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if !clean.is_empty() && clean.len() <= 64 {
        return clean;
    }
    let h = Sha256::digest(raw.as_bytes());
    format!(
        "h{}",
        h.iter()
            .take(20)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

/// What converting one message gave.
#[derive(Debug, Default)]
pub struct Converted {
    /// Resources in message order.
    pub resources: Vec<Value>,
    pub diagnostics: Vec<Diagnostic>,
    /// Every non-empty field of the message (`SEG-n`) and whether a mapping row read it.
    pub fields: Vec<(String, bool)>,
    /// (table, code) pairs no table entry matched.
    pub unmapped: Vec<(String, String)>,
}

/// Non-empty fields of a message and whether they were read.
fn field_coverage(msg: &Message, consumed: &HashSet<(usize, usize)>) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for seg in msg.segments() {
        let name = seg.name();
        // MSH-1/2 are the delimiters, not data.
        let first = if name == "MSH" { 3 } else { 1 };
        for f in first..=seg.field_count() {
            if seg.field_raw(f).is_some_and(|r| !r.is_empty()) {
                out.push((format!("{name}-{f}"), consumed.contains(&(seg.index(), f))));
            }
        }
    }
    out
}

/// Convert one message.
pub fn convert_message(
    set: &MappingSet,
    item: &Item,
    msg: &Message,
    groups: &GroupInstance,
    opts: &FhirOptions,
    at: &Location,
) -> Converted {
    let mut out = Vec::new();
    let mut diags = Vec::new();
    let mut consumed: HashSet<(usize, usize)> = HashSet::new();
    let mut unmapped = Vec::new();
    let mtype = msg.message_type().unwrap_or_default();
    let maps: Vec<_> = set.message_maps(&item.name.data_type, &mtype).collect();
    if maps.is_empty() {
        diags.push(
            Diagnostic::warning(
                "F001",
                format!(
                    "no mapping for data type {} with message type {mtype}; message not converted",
                    item.name.data_type
                ),
                at.clone(),
            )
            .help(
                "add a message map under mappings/ssmix2/messages/ (see kakehashi mappings check)",
            ),
        );
        return Converted {
            resources: out,
            diagnostics: diags,
            fields: field_coverage(msg, &consumed),
            unmapped,
        };
    }
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    vars.insert("pid".into(), item.name.patient_id.clone());
    vars.insert("facility".into(), opts.facility.clone());
    vars.insert(
        "date".into(),
        item.name.care_date.clone().unwrap_or_else(|| "-".into()),
    );
    vars.insert("type".into(), item.name.data_type.clone());
    vars.insert("order".into(), item.name.order_no.clone());
    vars.insert("timestamp".into(), item.name.timestamp.clone());
    let all: crate::mapping::eval::Scope = (0..msg.segment_count()).collect::<Vec<_>>().into();
    for mm in maps {
        for p in &mm.produce {
            let Some(map) = set.maps.get(&p.map) else {
                continue;
            };
            // Each instance: (anchor segment index, scopes innermost first).
            let runs = instances_for(msg, groups, &p.each);
            for run in runs {
                let (anchor, mut scopes, named) = (run.anchor, run.scopes, run.named);
                scopes.push(all.clone());
                vars.retain(|k, _| !k.starts_with("seq:"));
                vars.insert("seq".into(), format!("{anchor:03}"));
                for (name, a) in named {
                    vars.insert(format!("seq:{name}"), format!("{a:03}"));
                }
                let mut ctx = Ctx {
                    set,
                    msg,
                    scopes,
                    vars: vars.clone(),
                    group: run.group,
                    offset: opts.offset,
                    at: at.clone(),
                    diags: Vec::new(),
                    consumed: Default::default(),
                    unmapped: Vec::new(),
                };
                if !p.when.iter().all(|c| ctx.holds(c)) {
                    continue;
                }
                let mut body = JMap::new();
                ctx.rows(&map.rows, None, &mut body);
                let id = logical_id(&ctx.render(&p.id, None));
                consumed.extend(ctx.consumed.take());
                unmapped.append(&mut ctx.unmapped);
                let failed = ctx.diags.iter().any(Diagnostic::is_error);
                diags.append(&mut ctx.diags);
                if failed {
                    // A resource missing a value its mapping requires would be invalid FHIR:
                    // it is not written, and the errors above say why.
                    continue;
                }
                let mut r = JMap::new();
                r.insert("resourceType".into(), Value::String(map.fhir_type.clone()));
                r.insert("id".into(), Value::String(id));
                if let Some(pr) = p.profile.as_ref().or(map.profile.as_ref()) {
                    r.insert("meta".into(), serde_json::json!({ "profile": [pr] }));
                }
                r.extend(body);
                let r = Value::Object(r);
                // What the JSON Schema cannot see: required primitives, one type per choice.
                let problems = super::structure::problems(&r);
                if !problems.is_empty() {
                    diags.push(
                        Diagnostic::error(
                            "F005",
                            format!(
                                "{} {} is not valid FHIR R4 and is not written: {}",
                                map.fhir_type,
                                p.map,
                                problems.join("; ")
                            ),
                            at.clone(),
                        )
                        .help(format!("fix the segment map {} (a row for each required element, one value[x] type)", p.map)),
                    );
                    continue;
                }
                // A claimed JP Core profile whose constraints the resource breaks: written
                // (it is valid R4), but reported so the mapping gets fixed.
                let broken = super::profile::violations(&r);
                if !broken.is_empty() {
                    diags.push(
                        Diagnostic::warning(
                            "F006",
                            format!(
                                "{} {} does not meet its JP Core profile: {}",
                                map.fhir_type,
                                p.map,
                                broken.join(", ")
                            ),
                            at.clone(),
                        )
                        .help("see schemas/jp-core-constraints.yaml for each constraint and its JP Core source"),
                    );
                }
                out.push(r);
            }
        }
    }
    Converted {
        fields: field_coverage(msg, &consumed),
        resources: out,
        diagnostics: diags,
        unmapped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_valid_and_deterministic() {
        assert_eq!(
            logical_id("9999013.20110701.OMP-01.000000011000185.004"),
            "9999013.20110701.OMP-01.000000011000185.004"
        );
        assert_eq!(
            logical_id("1.L-OBSERVATIONS^OBSERVATIONS^99ZL01"),
            "1.L-OBSERVATIONS-OBSERVATIONS-99ZL01"
        );
        let long = "x".repeat(80);
        assert_eq!(logical_id(&long), logical_id(&long));
        assert!(logical_id(&long).len() <= 64);
    }
}
