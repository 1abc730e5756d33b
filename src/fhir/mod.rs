//! SS-MIX2 → FHIR R4: resource assembly from mapping files, logical ids, Bulk-Data NDJSON.

pub mod assemble;
pub mod input;
pub mod ledger;
pub mod ndjson;
pub mod profile;
pub mod structure;

pub use assemble::{convert_message, logical_id, Converted, FhirOptions};

use crate::diagnostics::{Diagnostic, Tally};
use crate::mapping::MappingSet;
use crate::ssmix2::{par_patients, read_item, select, StatePolicy, Storage};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// Which fields and codes the mappings used, per data type (written as coverage.json).
#[derive(Debug, Default, Serialize)]
pub struct Coverage {
    pub data_types: BTreeMap<String, DataTypeCoverage>,
    /// Code table → source code → times no entry matched.
    pub unmapped_codes: BTreeMap<String, BTreeMap<String, usize>>,
}

#[derive(Debug, Default, Serialize)]
pub struct DataTypeCoverage {
    pub messages: usize,
    pub converted: usize,
    /// `SEG-n` → [times present, times read by a mapping row].
    pub fields: BTreeMap<String, [usize; 2]>,
}

impl DataTypeCoverage {
    /// Fields present in messages that no mapping row ever read.
    pub fn unconsumed(&self) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(_, c)| c[1] == 0)
            .map(|(k, _)| k.as_str())
            .collect()
    }
}

/// What one conversion run did.
#[derive(Debug, Default, Serialize)]
pub struct FhirRun {
    pub patients: usize,
    pub messages: usize,
    pub messages_converted: usize,
    pub resources: BTreeMap<String, usize>,
    pub tally: Tally,
    pub coverage: Coverage,
    /// Where every stored file went (reconciliation.json).
    pub ledger: ledger::Ledger,
    #[serde(skip)]
    pub diagnostics: Vec<Diagnostic>,
}

/// Per message: data type, converted?, fields (read?), unmapped (table, code) pairs.
type MessageCoverage = (String, bool, Vec<(String, bool)>, Vec<(String, String)>);

struct PatientOut<H> {
    next_out: H,
    resources: Vec<Value>,
    history: Vec<Value>,
    bundle: Option<(String, Value)>,
    coverage: Vec<MessageCoverage>,
    messages: usize,
    converted: usize,
    ledger: ledger::Ledger,
    diagnostics: Vec<Diagnostic>,
}

/// Convert the current state of every patient to NDJSON files under `out` (one file per
/// resource type, written atomically). Patients run on all cores; output order is the walk
/// order, so files are byte-identical whatever the thread count.
pub fn convert_storage(
    storage: &Storage,
    set: &MappingSet,
    policy: &StatePolicy,
    opts: &FhirOptions,
    out: &Path,
    progress: impl FnMut(&FhirRun),
) -> std::io::Result<FhirRun> {
    convert_storage_with(storage, set, policy, opts, out, progress, &|_| (), |_| {})
}

/// [`convert_storage`] plus a next stage per patient: `next` runs on the worker threads with
/// the patient's current resources (while they are in memory), `collect` receives its
/// results in patient order. This is how SS-MIX2 → SDTM runs in one pass.
#[allow(clippy::too_many_arguments)]
pub fn convert_storage_with<H: Send>(
    storage: &Storage,
    set: &MappingSet,
    policy: &StatePolicy,
    opts: &FhirOptions,
    out: &Path,
    mut progress: impl FnMut(&FhirRun),
    next: &(dyn Fn(&[Value]) -> H + Sync),
    mut collect: impl FnMut(H),
) -> std::io::Result<FhirRun> {
    let mut writer = ndjson::Writer::create(out)?;
    let mut run = FhirRun::default();
    let mut io_error: Option<std::io::Error> = None;
    par_patients(
        storage.walk(),
        64,
        |pf| {
            let mut ledger = ledger::Ledger::default();
            for d in &pf.diagnostics {
                ledger.walk_diagnostic(d);
            }
            for it in &pf.items {
                ledger.found(&it.name.data_type);
            }
            let mut diagnostics = pf.diagnostics;
            let st = select(&pf.patient_id, pf.items, policy);
            diagnostics.extend(st.diagnostics);
            for it in &st.history {
                ledger.superseded(&it.name.data_type);
            }
            for d in &st.deleted {
                ledger.deleted(&d.item.name.data_type);
            }
            let mut resources = Vec::new();
            let mut coverage = Vec::new();
            let (mut messages, mut converted) = (0, 0);
            let mut seen = HashSet::new();
            for item in &st.current {
                messages += 1;
                let first = diagnostics.len();
                let r = read_item(item, &set.structures);
                diagnostics.extend(r.diagnostics);
                let (Some(msg), Some(groups)) = (&r.message, &r.groups) else {
                    let outcome = ledger::rejection(&mut diagnostics, first, item.location());
                    ledger.message(&item.name.data_type, outcome);
                    continue;
                };
                let at = item.location().with_message_id(msg.control_id());
                let c = convert_message(set, item, msg, groups, opts, &at);
                diagnostics.extend(c.diagnostics);
                let outcome = if c.resources.is_empty() {
                    ledger::rejection(&mut diagnostics, first, at.clone())
                } else {
                    converted += 1;
                    ledger::Outcome::Converted {
                        first_error: diagnostics[first..]
                            .iter()
                            .find(|d| d.is_error())
                            .map(|d| d.code),
                    }
                };
                ledger.message(&item.name.data_type, outcome);
                coverage.push((
                    item.name.data_type.clone(),
                    !c.resources.is_empty(),
                    c.fields,
                    c.unmapped,
                ));
                for x in c.resources {
                    let key = (
                        x["resourceType"].as_str().unwrap_or("").to_owned(),
                        x["id"].as_str().unwrap_or("").to_owned(),
                    );
                    if seen.insert(key) {
                        resources.push(x);
                    } else if !resources.contains(&x) {
                        // The same resource again (a study repeated in several order groups)
                        // is expected; a different one under the same id is not.
                        diagnostics.push(
                            Diagnostic::warning(
                                "F003",
                                "two resources with the same type and id; the first is kept",
                                at.clone(),
                            )
                            .help("make the id template of the message map more specific"),
                        );
                    }
                }
            }
            // Older versions: DELETE entries for deleted records, and the audit history.
            let mut history = Vec::new();
            let mut deletes = std::collections::BTreeSet::new();
            if opts.bundles || opts.history {
                let olds = st
                    .history
                    .iter()
                    .map(|i| (i, false))
                    .chain(st.deleted.iter().map(|d| (&d.item, true)));
                for (item, deleted) in olds {
                    let r = read_item(item, &set.structures);
                    if opts.history {
                        diagnostics.extend(r.diagnostics.iter().cloned());
                    }
                    let (Some(msg), Some(groups)) = (&r.message, &r.groups) else {
                        continue;
                    };
                    let at = item.location().with_message_id(msg.control_id());
                    let c = convert_message(set, item, msg, groups, opts, &at);
                    for x in c.resources {
                        let key = format!(
                            "{}/{}",
                            x["resourceType"].as_str().unwrap_or(""),
                            x["id"].as_str().unwrap_or("")
                        );
                        let current = key
                            .split_once('/')
                            .is_some_and(|(t, i)| seen.contains(&(t.to_owned(), i.to_owned())));
                        // A resource an older version produced and the current state does not
                        // was removed: by a deletion (flag 0), by a correction, or — for snapshot
                        // types such as PPR-01 with --snapshot-types — by its absence from the
                        // newest snapshot.
                        if !current {
                            deletes.insert(key);
                        }
                        if opts.history {
                            history.push(with_version(x, &item.name.timestamp, deleted));
                        }
                    }
                }
            }
            let bundle = opts
                .bundles
                .then(|| transaction_bundle(&pf.patient_id, &resources, &deletes));
            // References stay inside a patient; report the ones this output cannot resolve
            // (typically: no ADT-00 for the patient in these roots).
            let ids: HashSet<String> = resources
                .iter()
                .map(|r| {
                    format!(
                        "{}/{}",
                        r["resourceType"].as_str().unwrap_or(""),
                        r["id"].as_str().unwrap_or("")
                    )
                })
                .collect();
            let mut dangling = std::collections::BTreeSet::new();
            for r in &resources {
                collect_references(r, &mut |reference| {
                    if !ids.contains(reference) {
                        dangling.insert(reference.to_owned());
                    }
                });
            }
            // By target type: a reference's id holds the patient id, which diagnostics never
            // print (the location already names the patient's storage).
            let mut by_type: std::collections::BTreeMap<&str, usize> = Default::default();
            for reference in &dangling {
                let t = reference
                    .split_once('/')
                    .map_or(reference.as_str(), |(t, _)| t);
                *by_type.entry(t).or_default() += 1;
            }
            for (t, n) in by_type {
                let at = st.current.first().map(|i| i.location()).unwrap_or_default();
                diagnostics.push(
                    Diagnostic::warning("F004", format!("{n} reference(s) to {t} do not resolve in this output"), at)
                        .help("the archive has no message producing it (for Patient: no ADT-00 for this patient)"),
                );
            }
            let next_out = next(&resources);
            PatientOut {
                next_out,
                resources,
                history,
                bundle: bundle.map(|b| (pf.patient_id.clone(), b)),
                coverage,
                messages,
                converted,
                ledger,
                diagnostics,
            }
        },
        |r| {
            match r {
                Ok(p) => {
                    collect(p.next_out);
                    run.patients += 1;
                    run.messages += p.messages;
                    run.messages_converted += p.converted;
                    run.ledger.merge(p.ledger);
                    for (dt, ok, fields, unmapped) in p.coverage {
                        let c = run.coverage.data_types.entry(dt).or_default();
                        c.messages += 1;
                        c.converted += usize::from(ok);
                        for (f, used) in fields {
                            let e = c.fields.entry(f).or_default();
                            e[0] += 1;
                            e[1] += usize::from(used);
                        }
                        for (table, code) in unmapped {
                            *run.coverage
                                .unmapped_codes
                                .entry(table)
                                .or_default()
                                .entry(code)
                                .or_insert(0) += 1;
                        }
                    }
                    for x in &p.resources {
                        let t = x["resourceType"].as_str().unwrap_or("Unknown").to_owned();
                        *run.resources.entry(t.clone()).or_insert(0) += 1;
                        if io_error.is_none() {
                            if let Err(e) = writer.write(&t, x) {
                                io_error = Some(e);
                            }
                        }
                    }
                    if io_error.is_none() {
                        for x in &p.history {
                            let t = x["resourceType"].as_str().unwrap_or("Unknown");
                            if let Err(e) = writer.write(&format!("history/{t}"), x) {
                                io_error = Some(e);
                            }
                        }
                        if let Some((pid, b)) = &p.bundle {
                            if let Err(e) =
                                writer.write_file(&format!("bundles/{}.json", logical_id(pid)), b)
                            {
                                io_error = Some(e);
                            }
                        }
                    }
                    for d in p.diagnostics {
                        run.tally.add(&d);
                        run.diagnostics.push(d);
                    }
                }
                Err(d) => {
                    run.ledger.walk_diagnostic(&d);
                    run.tally.add(&d);
                    run.diagnostics.push(d);
                }
            }
            progress(&run);
        },
    );
    if let Some(e) = io_error {
        return Err(e);
    }
    for d in run.ledger.check() {
        run.tally.add(&d);
        run.diagnostics.push(d);
    }
    writer.write_diagnostics(&run.diagnostics)?;
    writer.write_json(
        "coverage.json",
        &serde_json::to_value(&run.coverage).map_err(std::io::Error::other)?,
    )?;
    writer.finish()?;
    Ok(run)
}

/// Call `f` with every `reference` string in a resource.
pub fn collect_references(v: &Value, f: &mut impl FnMut(&str)) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                match (k.as_str(), x) {
                    ("reference", Value::String(s)) => f(s),
                    _ => collect_references(x, f),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_references(x, f)),
        _ => {}
    }
}

/// A copy of a resource stamped with its SS-MIX2 version: meta.versionId is the storage
/// timestamp; deleted versions are tagged.
fn with_version(x: Value, timestamp: &str, deleted: bool) -> Value {
    let Value::Object(o) = x else { return x };
    let mut out = serde_json::Map::new();
    for (k, v) in o {
        let is_id = k == "id";
        if k == "meta" {
            continue;
        }
        out.insert(k, v);
        if is_id {
            out.insert("meta".into(), Value::Null);
        }
    }
    let mut meta = serde_json::Map::new();
    meta.insert("versionId".into(), Value::String(timestamp.to_owned()));
    if deleted {
        meta.insert("tag".into(), serde_json::json!([{ "system": "urn:kakehashi:ssmix2:condition-flag", "code": "0", "display": "deleted" }]));
    }
    out.insert("meta".into(), Value::Object(meta));
    Value::Object(out)
}

/// A transaction Bundle for one patient: PUT every current resource (ids are stable, so a
/// rerun overwrites), DELETE every record whose newest version is flag 0.
fn transaction_bundle(
    patient_id: &str,
    resources: &[Value],
    deletes: &std::collections::BTreeSet<String>,
) -> Value {
    let mut entries: Vec<Value> = resources
        .iter()
        .map(|r| {
            let url = format!(
                "{}/{}",
                r["resourceType"].as_str().unwrap_or(""),
                r["id"].as_str().unwrap_or("")
            );
            serde_json::json!({ "resource": r, "request": { "method": "PUT", "url": url } })
        })
        .collect();
    entries.extend(
        deletes
            .iter()
            .map(|url| serde_json::json!({ "request": { "method": "DELETE", "url": url } })),
    );
    serde_json::json!({ "resourceType": "Bundle", "id": logical_id(&format!("{patient_id}.transaction")), "type": "transaction", "entry": entries })
}
