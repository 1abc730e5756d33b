//! Running a rule over a study: build the frame the rule type looks at (records, variables,
//! datasets or the study), join matched datasets, compute operations, evaluate the check per
//! row, and report each failing row as `Dataset, Record, Variable, Value` findings — the
//! shape of the CDISC Open Rules results.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use regex::Regex;
use serde_json::Value;

use super::data::{Study, Table, V};
use super::library::Library;
use super::rule::Rule;
use crate::formats::VarType;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Finding {
    pub dataset: String,
    /// 1-based record number; `None` for dataset-level findings.
    pub record: Option<usize>,
    pub variable: String,
    pub value: String,
    pub rule: String,
    pub severity: String,
    pub message: String,
}

/// What an operation computes.
#[derive(Debug, Clone)]
enum Op {
    Scalar(V),
    List(Vec<String>),
    PerRow(Vec<V>),
    /// A list per row (`None` when the row cannot have one, e.g. no group key).
    PerRowList(Vec<Option<Vec<String>>>),
}

/// The rows a rule looks at.
#[derive(Clone)]
pub(super) struct Frame {
    dataset: String,
    pub(super) domain: String,
    pub(super) cols: Vec<String>,
    pub(super) rows: Arc<Vec<Vec<V>>>,
    /// Record number of each row in its dataset (None for metadata frames).
    pub(super) records: Vec<Option<usize>>,
}

/// Record frames with their matched datasets joined, by dataset and match specification.
/// Most rules that join match DM (or SUPP--) the same way, and building the join copies
/// every record: it was a fifth of a validation run, once per rule (README "Where the time
/// goes"). The frames are read-only once built (an operation that writes copies the rows).
/// Active only during [`super::validate_study`], which empties it when it returns, so a
/// study changed between runs is never seen through stale frames. A frame is dropped as soon
/// as the last rule that will ask for it has had it ([`FrameCache::start`] counts them
/// beforehand): only the frames still to be shared stay in memory, not every join of the
/// run (they doubled the peak memory of `convert` when all were kept).
#[derive(Default)]
pub struct FrameCache(std::sync::Mutex<Option<HashMap<String, Shared>>>);

/// A frame and how many more rules will ask for it (`None`: not built yet).
pub struct Shared {
    frame: Option<Arc<Frame>>,
    left: usize,
}

impl FrameCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<HashMap<String, Shared>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts caching for `rules` over `study`: counts, per frame key, the rule runs that
    /// will ask for it; keys asked for once are not cached at all.
    pub(super) fn start(&self, rules: &[Rule], study: &Study, lib: &Library) {
        let mut uses: HashMap<String, Shared> = HashMap::new();
        for rule in rules.iter().filter(|r| uses_record_frame(r)) {
            for t in study.tables.iter().filter(|t| in_scope(rule, t, lib)) {
                let e = uses.entry(frame_key(rule, t)).or_insert(Shared {
                    frame: None,
                    left: 0,
                });
                e.left += 1;
            }
        }
        uses.retain(|_, s| s.left > 1);
        *self.lock() = Some(uses);
    }

    /// Stops caching and drops every frame left.
    pub(super) fn stop(&self) {
        *self.lock() = None;
    }
}

impl Clone for FrameCache {
    /// A copied study starts with an empty cache (frames are rebuilt on demand).
    fn clone(&self) -> Self {
        FrameCache::default()
    }
}

impl std::fmt::Debug for FrameCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FrameCache")
    }
}

impl Frame {
    pub(super) fn col(&self, name: &str) -> Option<usize> {
        self.cols.iter().position(|c| c.eq_ignore_ascii_case(name))
    }
}

/// The items of a value printed as a Python list (`['C49562', 'C49563']`).
fn list_items(s: &str) -> Option<Vec<&str>> {
    let inner = s.strip_prefix('[')?.strip_suffix(']')?;
    if inner.is_empty() {
        return Some(vec![]);
    }
    Some(inner.split(", ").map(|x| x.trim_matches('\'')).collect())
}

fn py_list(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|s| format!("'{s}'"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// `v.get(key)` for the small JSON objects of rule conditions, by a linear scan: they have
/// a handful of keys, and hashing the key (SipHash, as serde_json's map does) for every
/// record and condition was a tenth of a validation run (README "Where the time goes").
fn field<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
    v.as_object()?
        .iter()
        .find(|(k, _)| k.as_str() == key)
        .map(|(_, x)| x)
}

/// `v[key]`: as [`field`], `Null` when absent.
fn at<'v>(v: &'v Value, key: &str) -> &'v Value {
    static NULL: Value = Value::Null;
    field(v, key).unwrap_or(&NULL)
}

fn prefix_of(domain: &str) -> String {
    let d = domain.strip_prefix("SUPP").unwrap_or(domain);
    // Associated-persons domains (APSU, APMH …) name their variables after the domain they
    // mirror: APSU has SUSEQ (SDTMIG-AP §2.2).
    let d = match d.strip_prefix("AP") {
        Some(rest) if rest.len() == 2 && rest.chars().all(|c| c.is_ascii_alphabetic()) => rest,
        _ => d,
    };
    d.chars().take(2).collect()
}

struct Ctx<'a> {
    rule: &'a Rule,
    study: &'a Study,
    lib: &'a Library,
    table: Option<&'a Table>,
    frame: Frame,
    ops: HashMap<String, Op>,
    /// Whole-frame operator results, by the address of their condition in the rule.
    cache: HashMap<usize, Vec<bool>>,
    /// Compiled patterns (a rule's regex is compiled once, not per record).
    regexes: HashMap<String, Option<Regex>>,
    /// Operation lists as sets, for membership per record (`$dm_usubjid` holds every
    /// subject: cloning and scanning it per record is quadratic).
    sets: HashMap<String, HashSet<String>>,
    /// The frame's `--` prefix, computed once (names are resolved per record).
    prefix: String,
}

/// Dataset class from the library, else guessed from the topic variable.
fn class_of(t: &Table, lib: &Library) -> String {
    let d = t.domain();
    if let Some(c) = lib.class_of(&d) {
        return c;
    }
    if t.name.starts_with("SUPP") || t.name == "RELREC" {
        return "RELATIONSHIP".into();
    }
    if ["DM", "CO", "SE", "SV", "SM"].contains(&d.as_str()) {
        return "SPECIAL PURPOSE".into();
    }
    if ["TA", "TE", "TV", "TI", "TS", "TD", "TM", "TX"].contains(&d.as_str()) {
        return "TRIAL DESIGN".into();
    }
    let p = prefix_of(&d);
    let has = |s: &str| t.col(&format!("{p}{s}")).is_some();
    if has("TESTCD") || has("ORRES") {
        "FINDINGS".into()
    } else if has("TERM") {
        "EVENTS".into()
    } else if has("TRT") {
        "INTERVENTIONS".into()
    } else {
        "FINDINGS".into()
    }
}

fn domain_matches(pattern: &str, t: &Table) -> bool {
    let p = pattern.to_uppercase();
    if p == "ALL" {
        return true;
    }
    if p == "SUPP--" || p == "SUPPXX" {
        return t.name.starts_with("SUPP");
    }
    if let Some(parent) = p.strip_prefix("SUPP") {
        return t.name == p || (t.name.starts_with("SUPP") && t.name[4..].starts_with(parent));
    }
    t.domain() == p
        || t.name == p
        || (t.name.len() > 2
            && t.name.starts_with(&p)
            && !t.name.starts_with("SUPP")
            && p.len() == 2
            && t.domain() == p)
}

fn in_scope(rule: &Rule, t: &Table, lib: &Library) -> bool {
    let s = &rule.scope;
    let class = class_of(t, lib);
    // Findings About is a Findings specialisation: a rule scoped to either class sees it.
    let is = |c: &String| {
        c.eq_ignore_ascii_case(&class)
            || (class == "FINDINGS ABOUT" && c.eq_ignore_ascii_case("FINDINGS"))
    };
    let class_ok = |list: &Vec<String>| list.iter().any(|c| c.eq_ignore_ascii_case("ALL") || is(c));
    if !s.include_classes.is_empty() && !class_ok(&s.include_classes) {
        return false;
    }
    if s.exclude_classes.iter().any(is) {
        return false;
    }
    if !s.include_domains.is_empty() && !s.include_domains.iter().any(|d| domain_matches(d, t)) {
        return false;
    }
    if s.exclude_domains.iter().any(|d| domain_matches(d, t)) {
        return false;
    }
    true
}

/// Runs one rule over the study.
pub fn run(rule: &Rule, study: &Study, lib: &Library) -> Vec<Finding> {
    let mut out = Vec::new();
    match rule.rule_type.as_str() {
        "Domain Presence Check" => {
            let mut cols = Vec::new();
            let mut row = Vec::new();
            for t in &study.tables {
                cols.push(t.name.clone());
                row.push(V::Str(t.file.clone()));
            }
            let frame = Frame {
                dataset: "STUDY".into(),
                domain: "STUDY".into(),
                cols,
                rows: vec![row].into(),
                records: vec![None],
            };
            let anchor = study.tables.iter().find(|t| in_scope(rule, t, lib));
            evaluate(rule, study, lib, anchor, frame, &mut out);
        }
        _ => {
            for t in study.tables.iter().filter(|t| in_scope(rule, t, lib)) {
                let frame = match rule.rule_type.as_str() {
                    "Variable Metadata Check"
                    | "Variable Metadata Check against Library Metadata" => variable_frame(t, lib),
                    "Dataset Metadata Check" => Frame {
                        dataset: t.name.clone(),
                        domain: t.domain(),
                        cols: vec![
                            "dataset_name".into(),
                            "dataset_label".into(),
                            "dataset_location".into(),
                            "dataset_size".into(),
                            "dataset_domain".into(),
                            "DOMAIN".into(),
                        ],
                        rows: vec![vec![
                            V::Str(t.name.clone()),
                            V::Str(t.label.clone()),
                            V::Str(t.file.clone()),
                            V::Num(t.rows.len() as f64),
                            V::Str(t.domain()),
                            V::Str(t.domain()),
                        ]]
                        .into(),
                        records: vec![Some(1)],
                    },
                    "Value Check with Dataset Metadata" => value_frame(t),
                    "Define Item Metadata Check"
                    | "Define Item Metadata Check against Library Metadata" => {
                        let rows = study
                            .define
                            .as_deref()
                            .and_then(|x| super::define_items::rows(x, &t.name))
                            .unwrap_or_default();
                        Frame {
                            dataset: t.name.clone(),
                            domain: t.domain(),
                            cols: super::define_items::COLUMNS
                                .iter()
                                .map(|c| c.to_string())
                                .collect(),
                            records: (1..=rows.len()).map(Some).collect(),
                            rows: rows.into(),
                        }
                    }
                    _ => cached_record_frame(rule, study, t),
                };
                evaluate(rule, study, lib, Some(t), frame, &mut out);
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// [`record_frame`], shared through the study's [`FrameCache`] when the rule joins other
/// datasets (a frame without joins shares the table's rows already).
fn cached_record_frame(rule: &Rule, study: &Study, t: &Table) -> Frame {
    if rule.match_datasets.is_empty() {
        return record_frame(rule, study, t);
    }
    let key = frame_key(rule, t);
    // Takes the built frame if there is one, counting this use; drops it after its last.
    let take = |m: &mut HashMap<String, Shared>| -> Option<Arc<Frame>> {
        let e = m.get_mut(&key)?;
        let f = e.frame.clone()?;
        e.left = e.left.saturating_sub(1);
        if e.left == 0 {
            m.remove(&key);
        }
        Some(f)
    };
    if let Some(f) = study.frames.lock().as_mut().and_then(take) {
        return (*f).clone();
    }
    let frame = record_frame(rule, study, t);
    if let Some(m) = study.frames.lock().as_mut() {
        // Another thread may have built it meanwhile: then this use counts against that one.
        if take(m).is_none() {
            if let Some(e) = m.get_mut(&key) {
                e.left = e.left.saturating_sub(1);
                if e.left == 0 {
                    m.remove(&key);
                } else {
                    e.frame = Some(Arc::new(frame.clone()));
                }
            }
        }
    }
    frame
}

/// The rule types whose frame is the records of a dataset ([`record_frame`]); `run` builds
/// the others itself.
fn uses_record_frame(rule: &Rule) -> bool {
    !rule.match_datasets.is_empty()
        && !matches!(
            rule.rule_type.as_str(),
            "Domain Presence Check"
                | "Variable Metadata Check"
                | "Variable Metadata Check against Library Metadata"
                | "Dataset Metadata Check"
                | "Value Check with Dataset Metadata"
                | "Define Item Metadata Check"
                | "Define Item Metadata Check against Library Metadata"
        )
}

/// Frames are shared by dataset and match specification.
fn frame_key(rule: &Rule, t: &Table) -> String {
    format!(
        "{}\u{0}{}",
        t.name,
        serde_json::to_string(&rule.match_datasets).unwrap_or_default()
    )
}

fn record_frame(rule: &Rule, study: &Study, t: &Table) -> Frame {
    let mut frame = Frame {
        dataset: t.name.clone(),
        domain: t.domain(),
        cols: t.columns.iter().map(|c| c.name.clone()).collect(),
        rows: t.rows.clone(),
        records: (1..=t.rows.len()).map(Some).collect(),
    };
    // A relationship dataset (SUPP--, CO, RELREC) that a rule matches as a child of itself is
    // looked at with its parent record beside it: RDOMAIN names the parent dataset, IDVAR
    // the parent variable and IDVARVAL its value (CORE-000206).
    let is_self = |m: &Value| {
        let n = m["Name"].as_str().unwrap_or("");
        m["Child"].as_bool() == Some(true)
            && ((n.eq_ignore_ascii_case("SUPP--") && t.name.starts_with("SUPP"))
                || n.eq_ignore_ascii_case(&t.name))
    };
    if t.col("RDOMAIN").is_some() && rule.match_datasets.iter().any(is_self) {
        join_parents(&mut frame, study, t);
    }
    for m in &rule.match_datasets {
        if is_self(m) {
            continue;
        }
        let name = m["Name"].as_str().unwrap_or("");
        let keys: Vec<String> = m["Keys"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|k| k.as_str().map(str::to_owned))
            .collect();
        let others: Vec<&Table> = if name.eq_ignore_ascii_case("SUPP--") {
            study
                .tables
                .iter()
                .filter(|x| x.name == format!("SUPP{}", t.name))
                .collect()
        } else {
            study.table(name).into_iter().collect()
        };
        for other in others {
            if other.name.starts_with("SUPP") {
                // Supplemental qualifiers join as columns: QNAM → QVAL per parent record.
                join(
                    &mut frame,
                    &pivot_supp(other),
                    &[
                        "USUBJID".to_owned(),
                        "IDVAR".to_owned(),
                        "IDVARVAL".to_owned(),
                    ],
                    true,
                );
                continue;
            }
            if other.name == "RELREC" && keys.is_empty() {
                let wildcard = m["Wildcard"].as_str().unwrap_or("**");
                super::relrec::merge(&mut frame, study, other, wildcard);
                continue;
            }
            let child = m["Child"].as_bool().unwrap_or(false) || other.name == "RELREC";
            join(&mut frame, other, &keys, child);
        }
    }
    frame
}

/// Adds the columns of each relationship record's parent (RDOMAIN, USUBJID, IDVAR =
/// IDVARVAL); null where no parent record matches.
fn join_parents(frame: &mut Frame, study: &Study, t: &Table) {
    let (Some(rd), Some(u), Some(iv), Some(ivv)) = (
        t.col("RDOMAIN"),
        t.col("USUBJID"),
        t.col("IDVAR"),
        t.col("IDVARVAL"),
    ) else {
        return;
    };
    let mut added: Vec<String> = Vec::new();
    let mut hits: Vec<Option<(&Table, usize)>> = Vec::with_capacity(t.rows.len());
    let mut indexes: HashMap<(String, String), HashMap<(String, String), usize>> = HashMap::new();
    for r in t.rows.iter() {
        let (dom, var) = (
            r[rd].text().trim().to_owned(),
            r[iv].text().trim().to_owned(),
        );
        let Some(parent) = study.table(&dom).filter(|_| !var.is_empty()) else {
            hits.push(None);
            continue;
        };
        let index = indexes
            .entry((dom.clone(), var.clone()))
            .or_insert_with(|| {
                let (pu, pv) = (parent.col("USUBJID"), parent.col(&var));
                let mut m = HashMap::new();
                if let (Some(pu), Some(pv)) = (pu, pv) {
                    for (i, pr) in parent.rows.iter().enumerate() {
                        m.entry((pr[pu].text(), key_text(&pr[pv]))).or_insert(i);
                    }
                }
                m
            });
        let hit = index.get(&(r[u].text(), key_text(&r[ivv]))).copied();
        if hit.is_some() {
            for c in &parent.columns {
                if frame.col(&c.name).is_none() && !added.contains(&c.name) {
                    added.push(c.name.clone());
                }
            }
        }
        hits.push(hit.map(|i| (parent, i)));
    }
    for (row, hit) in Arc::make_mut(&mut frame.rows).iter_mut().zip(&hits) {
        for name in &added {
            row.push(
                hit.and_then(|(p, i)| p.col(name).map(|c| p.rows[i][c].clone()))
                    .unwrap_or(V::Null),
            );
        }
    }
    frame.cols.extend(added);
}

/// Key text for joins: numbers in shortest form, so `1`, `1.0` and `1.00` meet.
pub(super) fn key_text(v: &V) -> String {
    match v {
        V::Num(x) => format!("{x}"),
        V::Str(s) => match s.trim().parse::<f64>() {
            Ok(x) if x.is_finite() => format!("{x}"),
            _ => s.trim().to_owned(),
        },
        V::Null => String::new(),
    }
}

/// A SUPP-- dataset as one row per parent record: USUBJID, IDVAR, IDVARVAL and one column per
/// QNAM holding its QVAL.
fn pivot_supp(t: &Table) -> Table {
    let (u, iv, ivv, qn, qv) = (
        t.col("USUBJID"),
        t.col("IDVAR"),
        t.col("IDVARVAL"),
        t.col("QNAM"),
        t.col("QVAL"),
    );
    let mut qnams: Vec<String> = Vec::new();
    let mut rows: Vec<(Vec<String>, BTreeMap<String, V>)> = Vec::new();
    for r in t.rows.iter() {
        let get = |i: Option<usize>| i.map(|i| r[i].text()).unwrap_or_default();
        let key = vec![get(u), get(iv), get(ivv).trim().to_owned()];
        let q = get(qn);
        if !qnams.contains(&q) {
            qnams.push(q.clone());
        }
        let val = qv.map(|i| r[i].clone()).unwrap_or(V::Null);
        match rows.iter_mut().find(|(k, _)| *k == key) {
            Some((_, m)) => {
                m.insert(q, val);
            }
            None => rows.push((key, BTreeMap::from([(q, val)]))),
        }
    }
    let mut columns: Vec<super::data::Column> = ["USUBJID", "IDVAR", "IDVARVAL"]
        .iter()
        .map(|n| super::data::Column {
            name: n.to_string(),
            label: String::new(),
            ty: VarType::Char,
            length: None,
        })
        .collect();
    columns.extend(qnams.iter().map(|q| super::data::Column {
        name: q.clone(),
        label: String::new(),
        ty: VarType::Char,
        length: None,
    }));
    let rows = rows
        .into_iter()
        .map(|(k, m)| {
            let mut r: Vec<V> = k.into_iter().map(V::Str).collect();
            r.extend(qnams.iter().map(|q| m.get(q).cloned().unwrap_or(V::Null)));
            r
        })
        .collect::<Vec<_>>()
        .into();
    Table {
        name: t.name.clone(),
        label: t.label.clone(),
        file: t.file.clone(),
        columns,
        rows,
    }
}

/// Left join of `other`'s columns onto the frame by keys. For relationship datasets
/// (SUPP--, RELREC: keys IDVAR/IDVARVAL) the key values are matched through IDVAR.
fn join(frame: &mut Frame, other: &Table, keys: &[String], relationship: bool) {
    let prefix = prefix_of(&frame.domain);
    let new_cols: Vec<(usize, String)> = other
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| frame.col(&c.name).is_none())
        .map(|(i, c)| (i, c.name.clone()))
        .collect();
    let key_idx: Vec<(Option<usize>, Option<usize>)> = keys
        .iter()
        .map(|k| {
            let k = k.replace("--", &prefix);
            (frame.col(&k), other.col(&k))
        })
        .collect();
    let idvar = other.col("IDVAR");
    let idvarval = other.col("IDVARVAL");
    let mut index: HashMap<Vec<String>, Vec<usize>> = HashMap::new();
    for (ri, r) in other.rows.iter().enumerate() {
        let key: Vec<String> = key_idx
            .iter()
            .filter(|(_, o)| {
                !(relationship && o.is_some_and(|o| Some(o) == idvar || Some(o) == idvarval))
            })
            .map(|(_, o)| o.map(|o| key_text(&r[o])).unwrap_or_default())
            .collect();
        let key = if relationship {
            let mut k = key;
            if let (Some(a), Some(b)) = (idvar, idvarval) {
                k.push(format!("{}={}", r[a].text().trim(), key_text(&r[b])));
            }
            k
        } else {
            key
        };
        index.entry(key).or_default().push(ri);
    }
    for c in &new_cols {
        frame.cols.push(c.1.clone());
    }
    // Every column of the matched dataset is also reachable as `DS.COL` (`TV.VISITDY`).
    let qualified: Vec<(usize, String)> = other
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| (i, format!("{}.{}", other.name, c.name)))
        .collect();
    for c in &qualified {
        frame.cols.push(c.1.clone());
    }
    // One-to-many: a record matching several rows of the other dataset is looked at once
    // per match (under its own record number), as a merge does.
    let mut rows = Vec::with_capacity(frame.rows.len());
    let mut records = Vec::with_capacity(frame.rows.len());
    for (row, rec) in frame.rows.iter().zip(&frame.records) {
        let key: Vec<String> = key_idx
            .iter()
            .filter(|(_, o)| {
                !(relationship && o.is_some_and(|o| Some(o) == idvar || Some(o) == idvarval))
            })
            .map(|(f, _)| f.map(|f| key_text(&row[f])).unwrap_or_default())
            .collect();
        let hits: Vec<usize> = if relationship {
            // Try every column of the record as the IDVAR the relationship row names.
            let mut found = Vec::new();
            for (name, v) in frame.cols.iter().zip(row.iter()) {
                let mut k = key.clone();
                k.push(format!("{name}={}", key_text(v)));
                if let Some(i) = index.get(&k) {
                    found = vec![i[0]];
                    break;
                }
            }
            found
        } else {
            index.get(&key).cloned().unwrap_or_default()
        };
        let targets: Vec<Option<usize>> = if hits.is_empty() {
            vec![None]
        } else {
            hits.into_iter().map(Some).collect()
        };
        for h in targets {
            let mut r = row.clone();
            for (i, _) in new_cols.iter().chain(qualified.iter()) {
                r.push(h.map(|h| other.rows[h][*i].clone()).unwrap_or(V::Null));
            }
            rows.push(r);
            records.push(*rec);
        }
    }
    frame.rows = rows.into();
    frame.records = records;
}

fn variable_frame(t: &Table, lib: &Library) -> Frame {
    let cols = [
        "variable_name",
        "variable_label",
        "variable_size",
        "variable_data_type",
        "variable_order_number",
        "variable_format",
        "library_variable_name",
        "library_variable_label",
        "library_variable_data_type",
        "library_variable_core",
        "library_variable_order_number",
    ];
    let domain = t.domain();
    let rows = t
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let lib_v = lib.variable(&domain, &c.name);
            vec![
                V::Str(c.name.clone()),
                V::Str(c.label.clone()),
                c.length.map(|l| V::Num(l as f64)).unwrap_or(V::Null),
                V::Str(if c.ty == VarType::Num { "Num" } else { "Char" }.into()),
                V::Num((i + 1) as f64),
                V::Null,
                lib_v.map(|v| V::Str(v.name.clone())).unwrap_or(V::Null),
                lib_v.map(|v| V::Str(v.label.clone())).unwrap_or(V::Null),
                lib_v.map(|v| V::Str(v.ty.clone())).unwrap_or(V::Null),
                lib_v.map(|v| V::Str(v.core.clone())).unwrap_or(V::Null),
                lib_v.map(|v| V::Num(v.order as f64)).unwrap_or(V::Null),
            ]
        })
        .collect::<Vec<_>>();
    let n = rows.len();
    Frame {
        dataset: t.name.clone(),
        domain,
        cols: cols.iter().map(|s| s.to_string()).collect(),
        rows: rows.into(),
        records: (1..=n).map(Some).collect(),
    }
}

fn value_frame(t: &Table) -> Frame {
    let mut rows = Vec::new();
    let mut records = Vec::new();
    for (ri, r) in t.rows.iter().enumerate() {
        for (c, v) in t.columns.iter().zip(r) {
            rows.push(vec![V::Str(c.name.clone()), v.clone()]);
            records.push(Some(ri + 1));
        }
    }
    Frame {
        dataset: t.name.clone(),
        domain: t.domain(),
        cols: vec!["variable_name".into(), "variable_value".into()],
        rows: rows.into(),
        records,
    }
}

fn evaluate(
    rule: &Rule,
    study: &Study,
    lib: &Library,
    table: Option<&Table>,
    frame: Frame,
    out: &mut Vec<Finding>,
) {
    let mut cx = Ctx {
        rule,
        study,
        lib,
        table,
        prefix: prefix_of(&frame.domain),
        frame,
        ops: HashMap::new(),
        cache: HashMap::new(),
        regexes: HashMap::new(),
        sets: HashMap::new(),
    };
    for op in &rule.operations {
        if let Some((id, v)) = cx.operation(op) {
            cx.ops.insert(id, v);
        }
    }
    let n = cx.frame.rows.len();
    let mut failing = Vec::new();
    for r in 0..n {
        if cx.cond(&rule.check, r) {
            failing.push(r);
        }
    }
    if failing.is_empty() {
        return;
    }
    let vars = cx.output_variables();
    let dataset_level = rule.sensitivity.eq_ignore_ascii_case("Dataset");
    // Dataset sensitivity: one finding per dataset, from its first failing row.
    let rows: Vec<usize> = if dataset_level {
        vec![failing[0]]
    } else {
        failing
    };
    for r in rows {
        let record = if dataset_level {
            None
        } else {
            cx.frame.records[r]
        };
        for v in &vars {
            let value = cx.display(v, r);
            out.push(Finding {
                dataset: cx.frame.dataset.clone(),
                record,
                variable: v.clone(),
                value,
                rule: rule.id.clone(),
                severity: rule.severity.clone(),
                message: rule.message.clone(),
            });
        }
    }
}

/// Dates as (year, month, day, hour, minute, second) prefixes for comparison.
fn date_parts(s: &str) -> Option<Vec<u32>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let re = date_regex();
    let c = re.captures(s)?;
    let mut v = Vec::new();
    for i in 1..=6 {
        match c.get(i) {
            Some(m) => v.push(m.as_str().parse().ok()?),
            None => break,
        }
    }
    Some(v)
}

fn date_regex() -> &'static Regex {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(?:\.\d+)?)?)?)?)?)?(?:Z|[+-]\d{2}:\d{2})?$").expect("valid")
    })
}

/// SDTMIG §4.4.2 ISO 8601 forms: right-truncated, or with `-` for unknown components,
/// intervals with `/`. Returns whether `s` is valid.
pub fn valid_iso8601(s: &str) -> bool {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| {
        let date = r"(?:\d{4}|-)(?:-(?:\d{2}|-)(?:-(?:\d{2}|-))?)?";
        let time = r"(?:T(?:\d{2}|-)(?::(?:\d{2}|-)(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:\d{2})?)?";
        Regex::new(&format!("^{date}{time}$")).expect("valid")
    });
    let s = s.trim();
    if s.is_empty() {
        return true;
    }
    let part_ok = |p: &str| -> bool {
        if !re.is_match(p) || p == "-" || p.starts_with('T') {
            return false;
        }
        // Calendar check on complete dates.
        if let Some(d) = p.get(..10) {
            if d.len() == 10
                && d.bytes().enumerate().all(|(i, b)| {
                    if i == 4 || i == 7 {
                        b == b'-'
                    } else {
                        b.is_ascii_digit()
                    }
                })
                && chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err()
            {
                return false;
            }
        }
        if let Some(t) = p.split_once('T').map(|x| x.1) {
            let hh: Option<u32> = t.get(..2).and_then(|h| h.parse().ok());
            let mm: Option<u32> = t.get(3..5).and_then(|m| m.parse().ok());
            if hh.is_some_and(|h| h > 23) || mm.is_some_and(|m| m > 59) {
                return false;
            }
        }
        let date = p.split('T').next().unwrap_or("");
        let mut parts = date.splitn(3, '-');
        let (_, month, day) = (parts.next(), parts.next(), parts.next());
        if month
            .and_then(|m| m.parse::<u32>().ok())
            .is_some_and(|m| !(1..=12).contains(&m))
        {
            return false;
        }
        if day
            .and_then(|d| d.parse::<u32>().ok())
            .is_some_and(|d| !(1..=31).contains(&d))
        {
            return false;
        }
        true
    };
    match s.split_once('/') {
        Some((a, b)) => part_ok(a) && part_ok(b),
        None => part_ok(s),
    }
}

pub fn valid_duration(s: &str) -> bool {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(r"^-?P(?:(?:\d+(?:[.,]\d+)?Y)?(?:\d+(?:[.,]\d+)?M)?(?:\d+(?:[.,]\d+)?D)?(?:T(?:\d+(?:[.,]\d+)?H)?(?:\d+(?:[.,]\d+)?M)?(?:\d+(?:[.,]\d+)?S)?)?|\d+(?:[.,]\d+)?W)$").expect("valid")
    });
    let s = s.trim();
    s.is_empty() || (re.is_match(s) && s != "P" && !s.ends_with('T'))
}

fn complete_date(s: &str) -> bool {
    date_parts(s).is_some_and(|p| p.len() >= 3) || {
        // A complete date may carry a time.
        let d = s.trim();
        d.len() >= 10
            && chrono::NaiveDate::parse_from_str(&d[..10], "%Y-%m-%d").is_ok()
            && valid_iso8601(d)
    }
}

/// Dates compare as full date-times, missing components at their minimum (`2018-02-19`
/// is midnight), as the published Open Rules test cases expect (CORE-000711: `2018-11-06T12:00`
/// is after `2018-11-06`). CORE 0.17 compares at the common precision instead.
fn cmp_dates(a: &str, b: &str) -> Option<std::cmp::Ordering> {
    sort_dates(a, b)
}

/// For sorting: a total order on dates, missing components at their minimum (`2018-02` sorts
/// as 2018-02-01T00:00).
fn sort_dates(a: &str, b: &str) -> Option<std::cmp::Ordering> {
    let full = |s: &str| -> Option<Vec<u32>> {
        let mut p = date_parts(s)?;
        let mins = [0, 1, 1, 0, 0, 0];
        while p.len() < 6 {
            p.push(mins[p.len()]);
        }
        Some(p)
    };
    Some(full(a)?.cmp(&full(b)?))
}

impl Ctx<'_> {
    fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A rule's variable name with `--` replaced by the domain prefix; borrowed when there
    /// is nothing to replace (this runs once per row and variable: see README "Where the
    /// time goes").
    fn name<'n>(&self, n: &'n str) -> std::borrow::Cow<'n, str> {
        if let Some(rest) = n.strip_prefix("--") {
            std::borrow::Cow::Owned(format!("{}{rest}", self.prefix()))
        } else {
            std::borrow::Cow::Borrowed(n)
        }
    }

    fn get(&self, name: &str, r: usize) -> Option<V> {
        if name.starts_with('$') {
            return match self.ops.get(name)? {
                Op::Scalar(v) => Some(v.clone()),
                Op::List(l) => Some(V::Str(py_list(l))),
                Op::PerRow(v) => v.get(r).cloned(),
                Op::PerRowList(v) => v.get(r).cloned().flatten().map(|l| V::Str(py_list(&l))),
            };
        }
        let n = self.name(name);
        self.frame.col(&n).map(|c| self.frame.rows[r][c].clone())
    }

    fn list_of(&self, v: &Value, r: usize) -> Option<Vec<String>> {
        match v {
            Value::Array(a) => {
                let mut out = Vec::new();
                for x in a {
                    match x {
                        Value::String(s) if s.starts_with('$') => match self.ops.get(s.as_str()) {
                            Some(Op::PerRowList(l)) => out.extend(l.get(r).cloned().flatten()?),
                            Some(Op::List(l)) => out.extend(l.clone()),
                            Some(Op::Scalar(v)) => out.push(v.text()),
                            Some(Op::PerRow(p)) => {
                                out.push(p.get(r).map(V::text).unwrap_or_default())
                            }
                            None => out.push(s.clone()),
                        },
                        Value::String(s) => out.push(s.clone()),
                        other => out.push(other.to_string()),
                    }
                }
                Some(out)
            }
            Value::String(s) if s.starts_with('$') => match self.ops.get(s.as_str())? {
                Op::PerRowList(l) => l.get(r).cloned().flatten(),
                Op::List(l) => Some(l.clone()),
                Op::Scalar(v) => Some(vec![v.text()]),
                Op::PerRow(p) => Some(vec![p.get(r).map(V::text).unwrap_or_default()]),
            },
            Value::String(s) => {
                let n = self.name(s);
                match self.frame.col(&n) {
                    // A column holding a list-like text.
                    Some(c) => Some(parse_list(&self.frame.rows[r][c].text())),
                    None => Some(vec![s.clone()]),
                }
            }
            _ => None,
        }
    }

    /// The comparator of a condition for row r.
    fn comparator(&self, c: &Value, r: usize) -> Option<V> {
        let v = &at(c, "value");
        let literal = at(c, "value_is_literal").as_bool().unwrap_or(false);
        if at(c, "value_is_reference").as_bool() == Some(true) {
            // The value names a variable whose value (in this record) names the variable to
            // compare with: IDVARVAL against the variable IDVAR names.
            let named = self.frame.col(&self.name(v.as_str()?))?;
            let target = self.frame.rows[r][named].text();
            return Some(
                self.frame
                    .col(target.trim())
                    .map(|ci| self.frame.rows[r][ci].clone())
                    .unwrap_or(V::Null),
            );
        }
        match v {
            Value::String(s) if !literal && s.starts_with('$') => self.get(s, r),
            Value::String(s) if !literal => {
                let n = self.name(s);
                match self.frame.col(&n) {
                    Some(ci) => Some(self.frame.rows[r][ci].clone()),
                    None => Some(V::Str(s.clone())),
                }
            }
            Value::String(s) => Some(V::Str(s.clone())),
            Value::Number(n) => Some(V::Num(n.as_f64().unwrap_or(f64::NAN))),
            Value::Bool(b) => Some(V::Str(if *b { "True" } else { "False" }.into())),
            Value::Null => None,
            other => Some(V::Str(other.to_string())),
        }
    }

    fn cond(&mut self, c: &Value, r: usize) -> bool {
        if let Some(all) = field(c, "all").and_then(Value::as_array) {
            return all.iter().all(|x| self.cond(x, r));
        }
        if let Some(any) = field(c, "any").and_then(Value::as_array) {
            return any.iter().any(|x| self.cond(x, r));
        }
        if let Some(not) = field(c, "not") {
            return !self.cond(not, r);
        }
        self.leaf(c, r)
    }

    fn leaf(&mut self, c: &Value, r: usize) -> bool {
        let op = at(c, "operator").as_str().unwrap_or("");
        let name = at(c, "name").as_str().unwrap_or("");
        // Whole-frame operators are computed once per condition.
        if matches!(
            op,
            "is_unique_set"
                | "is_not_unique_set"
                | "is_not_unique_relationship"
                | "is_unique_relationship"
                | "present_on_multiple_rows_within"
                | "not_present_on_multiple_rows_within"
                | "is_inconsistent_across_dataset"
                | "empty_within_except_last_row"
                | "target_is_not_sorted_by"
                | "does_not_have_next_corresponding_record"
        ) {
            let key = c as *const Value as usize;
            if !self.cache.contains_key(&key) {
                let v = self.frame_op(op, c);
                self.cache.insert(key, v);
            }
            return self.cache[&key].get(r).copied().unwrap_or(false);
        }
        let target_exists = name.starts_with('$') && self.ops.contains_key(name)
            || self.frame.col(&self.name(name)).is_some();
        match op {
            "exists" => return target_exists,
            "not_exists" => return !target_exists,
            _ => {}
        }
        if let Some(pat) = at(c, "value").as_str().filter(|_| op.contains("regex")) {
            if !self.regexes.contains_key(pat) {
                self.regexes
                    .insert(pat.to_owned(), Regex::new(&format!("^(?:{pat})")).ok());
            }
        }
        let target = self.get(name, r);
        // A condition on a variable the dataset lacks is false (only `exists` /
        // `not_exists` speak about absence), as in the reference engine.
        let Some(t) = target else { return false };
        let ts = t.text();
        let ci = |s: &str| s.to_lowercase();
        let cmp_val = || self.comparator(c, r);
        let num_cmp = |f: fn(f64, f64) -> bool| -> bool {
            match (t.num(), cmp_val().and_then(|v| v.num())) {
                (Some(a), Some(b)) => f(a, b),
                _ => false,
            }
        };
        let prefix_n = at(c, "prefix").as_u64().map(|n| n as usize);
        let suffix_n = at(c, "suffix").as_u64().map(|n| n as usize);
        let part = |s: &str| -> String {
            match (prefix_n, suffix_n) {
                (Some(n), _) => s.chars().take(n).collect(),
                (_, Some(n)) => {
                    let chars: Vec<char> = s.chars().collect();
                    chars[chars.len().saturating_sub(n)..].iter().collect()
                }
                _ => s.to_owned(),
            }
        };
        let regex_match = |s: &str| -> bool {
            let pat = at(c, "value").as_str().unwrap_or("");
            self.regexes
                .get(pat)
                .and_then(Option::as_ref)
                .is_some_and(|re| re.is_match(s))
        };
        // Patterns see numbers in their shortest form (`1`, not `1.0`).
        let raw = match &t {
            V::Num(x) => format!("{x}"),
            other => other.text(),
        };
        match op {
            "empty" => t.is_null(),
            "non_empty" => !t.is_null(),
            "equal_to" | "not_equal_to" => {
                let numeric = at(c, "type_insensitive").as_bool() == Some(true);
                let eq = match cmp_val() {
                    Some(v) if numeric && t.num().is_some() && v.num().is_some() => {
                        t.num() == v.num()
                    }
                    Some(v) => values_equal(&t, &v),
                    None => t.is_null(),
                };
                if op == "equal_to" {
                    eq && !(t.is_null() && cmp_val().is_some_and(|v| !v.is_null()))
                } else {
                    !eq
                }
            }
            "equal_to_case_insensitive" => {
                !t.is_null() && cmp_val().is_some_and(|v| !v.is_null() && ci(&ts) == ci(&v.text()))
            }
            "not_equal_to_case_insensitive" => cmp_val().is_none_or(|v| ci(&ts) != ci(&v.text())),
            "greater_than" => num_cmp(|a, b| a > b),
            "greater_than_or_equal_to" => num_cmp(|a, b| a >= b),
            "less_than" => num_cmp(|a, b| a < b),
            "less_than_or_equal_to" => num_cmp(|a, b| a <= b),
            "longer_than" => at(c, "value")
                .as_u64()
                .is_some_and(|n| ts.chars().count() > n as usize),
            "shorter_than" => at(c, "value")
                .as_u64()
                .is_some_and(|n| ts.chars().count() < n as usize),
            "has_equal_length" => at(c, "value")
                .as_u64()
                .is_some_and(|n| ts.chars().count() == n as usize),
            "is_contained_by"
            | "is_not_contained_by"
            | "prefix_is_not_contained_by"
            | "suffix_is_not_contained_by"
            | "prefix_is_contained_by" => {
                if let Some(id) = at(c, "value").as_str().filter(|s| s.starts_with('$')) {
                    if let Some(Op::List(l)) = self.ops.get(id) {
                        let set = self
                            .sets
                            .entry(id.to_owned())
                            .or_insert_with(|| l.iter().cloned().collect());
                        // A list value (define codelist codes) is inside when all of it is.
                        let inside = match list_items(&ts) {
                            Some(items) => items.iter().all(|x| set.contains(*x)),
                            None => set.contains(&part(&ts)),
                        };
                        return if op.contains("not") { !inside } else { inside };
                    }
                }
                // No list for this row (no group key): nothing to say.
                let Some(list) = self.list_of(at(c, "value"), r) else {
                    return false;
                };
                let x = part(&ts);
                let inside = list.contains(&x);
                if op.contains("not") {
                    !inside
                } else {
                    inside
                }
            }
            "is_contained_by_case_insensitive" | "is_not_contained_by_case_insensitive" => {
                let list = self.list_of(at(c, "value"), r).unwrap_or_default();
                let inside = list.iter().any(|v| ci(v) == ci(&ts));
                if op.contains("not") {
                    !inside
                } else {
                    inside
                }
            }
            "contains" | "does_not_contain" => {
                let v = cmp_val().map(|v| v.text()).unwrap_or_default();
                let has = ts.contains(&v) || parse_list(&ts).contains(&v);
                if op == "contains" {
                    has
                } else {
                    !has
                }
            }
            "contains_all" | "not_contains_all" => {
                let want = self.list_of(at(c, "value"), r).unwrap_or_default();
                let have: HashSet<String> = match self.ops.get(name) {
                    Some(Op::List(l)) => l.iter().cloned().collect(),
                    _ if name == "variable_name" => {
                        self.frame.rows.iter().map(|x| x[0].text()).collect()
                    }
                    _ => parse_list(&ts).into_iter().collect(),
                };
                let all = want.iter().all(|w| have.contains(w));
                if op == "contains_all" {
                    all
                } else {
                    !all
                }
            }
            "shares_no_elements_with" => {
                let a = self.list_of(&Value::from(name), r).unwrap_or_default();
                let b = self.list_of(at(c, "value"), r).unwrap_or_default();
                !a.iter().any(|x| b.contains(x))
            }
            "matches_regex" | "prefix_matches_regex" | "suffix_matches_regex" => {
                !t.is_null() && regex_match(&part(&raw))
            }
            "not_matches_regex" | "not_prefix_matches_regex" | "not_suffix_matches_regex" => {
                !t.is_null() && !regex_match(&part(&raw))
            }
            "starts_with" => cmp_val().is_some_and(|v| ts.starts_with(&v.text())),
            "ends_with" => cmp_val().is_some_and(|v| ts.ends_with(&v.text())),
            "prefix_equal_to" | "prefix_not_equal_to" => {
                let eq = cmp_val().is_some_and(|v| part(&ts) == v.text());
                if op == "prefix_equal_to" {
                    eq
                } else {
                    !eq
                }
            }
            "is_complete_date" => complete_date(&ts),
            "is_incomplete_date" => !complete_date(&ts),
            "invalid_date" => !t.is_null() && !valid_iso8601(&ts),
            "invalid_duration" => !t.is_null() && !valid_duration(&ts),
            "date_equal_to"
            | "date_not_equal_to"
            | "date_greater_than"
            | "date_greater_than_or_equal_to"
            | "date_less_than"
            | "date_less_than_or_equal_to" => {
                let Some(o) = cmp_val().and_then(|v| cmp_dates(&ts, &v.text())) else {
                    return false;
                };
                use std::cmp::Ordering::*;
                match op {
                    "date_equal_to" => o == Equal,
                    "date_not_equal_to" => o != Equal,
                    "date_greater_than" => o == Greater,
                    "date_greater_than_or_equal_to" => o != Less,
                    "date_less_than" => o == Less,
                    _ => o != Greater,
                }
            }
            "does_not_equal_string_part" => {
                let Some(v) = cmp_val() else { return false };
                let pat = at(c, "regex").as_str().unwrap_or("(.*)");
                // Compiled once per rule run, not per record (it was a tenth of a run).
                if !self.regexes.contains_key(pat) {
                    self.regexes.insert(pat.to_owned(), Regex::new(pat).ok());
                }
                self.regexes[pat]
                    .as_ref()
                    .and_then(|re| {
                        re.captures(&v.text())
                            .and_then(|m| m.get(1).map(|g| g.as_str().to_owned()))
                    })
                    .is_some_and(|p| p != ts)
            }
            "is_not_ordered_subset_of" => {
                let a = parse_list(&ts);
                let b = self.list_of(at(c, "value"), r).unwrap_or_default();
                let pos: Vec<Option<usize>> =
                    a.iter().map(|x| b.iter().position(|y| y == x)).collect();
                pos.iter().any(Option::is_none) || pos.windows(2).any(|w| w[0] > w[1])
            }
            _ => false,
        }
    }

    /// Operators over the whole frame: one bool per row.
    fn frame_op(&self, op: &str, c: &Value) -> Vec<bool> {
        let n = self.frame.rows.len();
        let name = self.name(at(c, "name").as_str().unwrap_or(""));
        let col = self.frame.col(&name);
        let value_cols: Vec<usize> = match &at(c, "value") {
            Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str())
                .filter_map(|s| self.frame.col(&self.name(s)))
                .collect(),
            Value::String(s) => self.frame.col(&self.name(s)).into_iter().collect(),
            _ => vec![],
        };
        let within = at(c, "within")
            .as_str()
            .and_then(|w| self.frame.col(&self.name(w)));
        let key = |r: usize, cols: &[usize]| -> Vec<String> {
            cols.iter().map(|c| self.frame.rows[r][*c].text()).collect()
        };
        // Row indexes by the value of the `within` column (one group when there is none).
        let groups_within = || {
            let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
            for r in 0..n {
                let k = within
                    .map(|w| self.frame.rows[r][w].text())
                    .unwrap_or_default();
                groups.entry(k).or_default().push(r);
            }
            groups
        };
        match op {
            "is_unique_set" | "is_not_unique_set" => {
                let mut cols: Vec<usize> = col.into_iter().collect();
                cols.extend(value_cols.iter().copied());
                let mut counts: HashMap<Vec<String>, usize> = HashMap::new();
                for r in 0..n {
                    *counts.entry(key(r, &cols)).or_default() += 1;
                }
                (0..n)
                    .map(|r| (counts[&key(r, &cols)] > 1) == (op == "is_not_unique_set"))
                    .collect()
            }
            "is_not_unique_relationship" | "is_unique_relationship" => {
                let (Some(a), Some(b)) = (col, value_cols.first().copied()) else {
                    return vec![false; n];
                };
                // A non-empty value breaks the relationship when it goes with two different
                // values, or with a value and an empty one; an empty value breaks nothing
                // (a BODSYS whose BDSYCD is never coded is not a many-to-one, as CORE reads it).
                let mut fwd: HashMap<String, HashSet<String>> = HashMap::new();
                let mut back: HashMap<String, HashSet<String>> = HashMap::new();
                for r in 0..n {
                    let (x, y) = (self.frame.rows[r][a].text(), self.frame.rows[r][b].text());
                    if !x.is_empty() {
                        fwd.entry(x.clone()).or_default().insert(y.clone());
                    }
                    if !y.is_empty() {
                        back.entry(y).or_default().insert(x);
                    }
                }
                let broken = |s: &HashSet<String>| {
                    let filled = s.iter().filter(|v| !v.is_empty()).count();
                    filled > 1 || (filled == 1 && s.contains(""))
                };
                (0..n)
                    .map(|r| {
                        let (x, y) = (self.frame.rows[r][a].text(), self.frame.rows[r][b].text());
                        if x.is_empty() && y.is_empty() {
                            return false;
                        }
                        let bad =
                            fwd.get(&x).is_some_and(broken) || back.get(&y).is_some_and(broken);
                        bad == (op == "is_not_unique_relationship")
                    })
                    .collect()
            }
            "present_on_multiple_rows_within" | "not_present_on_multiple_rows_within" => {
                let Some(a) = col else { return vec![false; n] };
                let mut counts: HashMap<(String, String), usize> = HashMap::new();
                for r in 0..n {
                    let w = within
                        .map(|w| self.frame.rows[r][w].text())
                        .unwrap_or_default();
                    *counts.entry((w, self.frame.rows[r][a].text())).or_default() += 1;
                }
                let limit = at(c, "value").as_u64().unwrap_or(1) as usize;
                (0..n)
                    .map(|r| {
                        let w = within
                            .map(|w| self.frame.rows[r][w].text())
                            .unwrap_or_default();
                        let many = counts[&(w, self.frame.rows[r][a].text())] > limit;
                        many == (op == "present_on_multiple_rows_within")
                    })
                    .collect()
            }
            "empty_within_except_last_row" => {
                let w = within.or_else(|| value_cols.first().copied());
                let (Some(a), Some(w)) = (col, w) else {
                    return vec![false; n];
                };
                let order = at(c, "ordering")
                    .as_str()
                    .and_then(|o| self.frame.col(&self.name(o)));
                let mut last: HashMap<String, (String, usize)> = HashMap::new();
                for r in 0..n {
                    let key = order
                        .map(|o| self.frame.rows[r][o].text())
                        .unwrap_or_default();
                    let e = last
                        .entry(self.frame.rows[r][w].text())
                        .or_insert((key.clone(), r));
                    if key >= e.0 {
                        *e = (key, r);
                    }
                }
                (0..n)
                    .map(|r| {
                        last[&self.frame.rows[r][w].text()].1 != r
                            && self.frame.rows[r][a].is_null()
                    })
                    .collect()
            }
            "does_not_have_next_corresponding_record" => {
                let (Some(a), Some(b)) = (col, value_cols.first().copied()) else {
                    return vec![false; n];
                };
                let order = at(c, "ordering")
                    .as_str()
                    .and_then(|o| self.frame.col(&self.name(o)));
                let mut groups = groups_within();
                let mut bad = vec![false; n];
                for rows in groups.values_mut() {
                    if let Some(o) = order {
                        rows.sort_by(|x, y| {
                            let (p, q) = (&self.frame.rows[*x][o], &self.frame.rows[*y][o]);
                            p.num()
                                .partial_cmp(&q.num())
                                .unwrap_or(std::cmp::Ordering::Equal)
                        });
                    }
                    for w in rows.windows(2) {
                        if self.frame.rows[w[0]][a].text() != self.frame.rows[w[1]][b].text() {
                            bad[w[0]] = true;
                        }
                    }
                }
                bad
            }
            "target_is_not_sorted_by" => {
                let Some(seq) = col else {
                    return vec![false; n];
                };
                let spec = at(c, "value")
                    .as_array()
                    .and_then(|a| a.first())
                    .cloned()
                    .unwrap_or(Value::Null);
                let Some(by) = spec["name"]
                    .as_str()
                    .and_then(|b| self.frame.col(&self.name(b)))
                else {
                    return vec![false; n];
                };
                let desc = spec["sort_order"].as_str() == Some("desc");
                let nulls_first = spec["null_position"].as_str() == Some("first");
                let groups = groups_within();
                let mut bad = vec![false; n];
                for rows in groups.values() {
                    // A partial date that contains another date of the group (`2005-10` and
                    // `2005-10-06`) cannot be ordered against it: both are reported and
                    // left out of the order check, as the reference engine does.
                    let dates: Vec<(usize, String, usize)> = rows
                        .iter()
                        .filter_map(|&r| {
                            let d = self.frame.rows[r][by].text().trim().to_owned();
                            let p = date_parts(&d)?.len();
                            Some((r, d, p))
                        })
                        .collect();
                    let mut overlapping: HashSet<usize> = HashSet::new();
                    for (i, (ra, da, pa)) in dates.iter().enumerate() {
                        for (rb, db, pb) in &dates[i + 1..] {
                            let (short, long) = if pa < pb { (da, db) } else { (db, da) };
                            if pa != pb && long.starts_with(short.as_str()) {
                                overlapping.insert(*ra);
                                overlapping.insert(*rb);
                            }
                        }
                    }
                    for &r in &overlapping {
                        bad[r] = true;
                    }
                    let rows: Vec<usize> = rows
                        .iter()
                        .copied()
                        .filter(|r| !overlapping.contains(r))
                        .collect();
                    let mut by_seq = rows.clone();
                    // Missing sequence numbers sort last (as pandas sorts NaN).
                    by_seq.sort_by(|a, b| {
                        let (x, y) = (
                            self.frame.rows[*a][seq].num(),
                            self.frame.rows[*b][seq].num(),
                        );
                        match (x, y) {
                            (Some(x), Some(y)) => {
                                x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal)
                            }
                            (None, Some(_)) => std::cmp::Ordering::Greater,
                            (Some(_), None) => std::cmp::Ordering::Less,
                            (None, None) => std::cmp::Ordering::Equal,
                        }
                    });
                    let mut by_date = rows.clone();
                    by_date.sort_by(|a, b| {
                        let (x, y) = (
                            self.frame.rows[*a][by].text(),
                            self.frame.rows[*b][by].text(),
                        );
                        match (x.is_empty(), y.is_empty()) {
                            (true, true) => std::cmp::Ordering::Equal,
                            (true, false) => {
                                if nulls_first {
                                    std::cmp::Ordering::Less
                                } else {
                                    std::cmp::Ordering::Greater
                                }
                            }
                            (false, true) => {
                                if nulls_first {
                                    std::cmp::Ordering::Greater
                                } else {
                                    std::cmp::Ordering::Less
                                }
                            }
                            _ => {
                                let o = sort_dates(&x, &y).unwrap_or_else(|| x.cmp(&y));
                                if desc {
                                    o.reverse()
                                } else {
                                    o
                                }
                            }
                        }
                    });
                    for (a, b) in by_seq.iter().zip(&by_date) {
                        if a != b
                            && self.frame.rows[*a][by].text() != self.frame.rows[*b][by].text()
                        {
                            bad[*a] = true;
                        }
                    }
                }
                bad
            }
            "is_inconsistent_across_dataset" => {
                let Some(a) = col else { return vec![false; n] };
                let mut seen: HashMap<Vec<String>, HashSet<String>> = HashMap::new();
                for r in 0..n {
                    seen.entry(key(r, &value_cols))
                        .or_default()
                        .insert(self.frame.rows[r][a].text());
                }
                (0..n)
                    .map(|r| seen[&key(r, &value_cols)].len() > 1)
                    .collect()
            }
            _ => vec![false; n],
        }
    }

    fn operation(&self, op: &Value) -> Option<(String, Op)> {
        let id = op["id"].as_str()?.to_owned();
        let name = op["name"].as_str().map(|n| self.name(n));
        let domain = op["domain"]
            .as_str()
            .map(|d| d.replace("--", &self.frame.domain));
        let kind = op["operator"].as_str()?;
        let table_of = |d: &Option<String>| -> Option<&Table> {
            match d {
                Some(d) => self
                    .study
                    .table(d)
                    .or_else(|| self.study.tables.iter().find(|t| t.domain() == *d)),
                None => self.table,
            }
        };
        let v = match kind {
            "distinct" if op["value_is_reference"].as_bool() == Some(true) => {
                // The variables of the dataset each record's RDOMAIN names.
                let rd = self.frame.col("RDOMAIN")?;
                Op::PerRowList(
                    self.frame
                        .rows
                        .iter()
                        .map(|r| {
                            let d = r[rd].text();
                            self.study
                                .table(&d)
                                .map(|t| t.columns.iter().map(|c| c.name.clone()).collect())
                        })
                        .collect(),
                )
            }
            "distinct" if op["group"].is_array() => {
                // Distinct values per group (per subject): a list for each record.
                let t = table_of(&domain)?;
                let c = t.col(name.as_deref()?)?;
                let groups: Vec<String> = op["group"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|g| g.as_str().map(str::to_owned))
                    .collect();
                let gcols: Vec<usize> = groups.iter().map(|g| t.col(g)).collect::<Option<_>>()?;
                let mut lists: HashMap<Vec<String>, Vec<String>> = HashMap::new();
                for r in t.rows.iter() {
                    let k: Vec<String> = gcols.iter().map(|g| r[*g].text()).collect();
                    let v = r[c].text();
                    let l = lists.entry(k).or_default();
                    if !v.is_empty() && !l.contains(&v) {
                        l.push(v);
                    }
                }
                let fcols: Vec<Option<usize>> = groups.iter().map(|g| self.frame.col(g)).collect();
                Op::PerRowList(
                    self.frame
                        .rows
                        .iter()
                        .map(|r| {
                            let k: Option<Vec<String>> =
                                fcols.iter().map(|g| g.map(|g| r[g].text())).collect();
                            k.map(|k| lists.get(&k).cloned().unwrap_or_default())
                        })
                        .collect(),
                )
            }
            "distinct" => {
                let t = table_of(&domain)?;
                let c = t.col(name.as_deref()?)?;
                let mut seen = Vec::new();
                for r in t.rows.iter() {
                    let s = r[c].text();
                    if !s.is_empty() && !seen.contains(&s) {
                        seen.push(s);
                    }
                }
                Op::List(seen)
            }
            "variable_exists" => Op::Scalar(V::Str(
                if self.table.and_then(|t| t.col(name.as_deref()?)).is_some() {
                    "True"
                } else {
                    "False"
                }
                .into(),
            )),
            "dataset_names" => Op::List(self.study.tables.iter().map(|t| t.name.clone()).collect()),
            // The DOMAIN value of each dataset, as the reference engine lists them: a dataset
            // without one (SUPP--, or a file whose DOMAIN column is missing) lists "".
            // (each value once, as the reference engine's set of them)
            "study_domains" => {
                let mut seen: Vec<String> = Vec::new();
                for t in &self.study.tables {
                    let d = t
                        .col("DOMAIN")
                        .and_then(|i| t.rows.iter().map(|r| &r[i]).find(|v| !v.is_null()))
                        .map(|v| v.text().trim().to_owned())
                        .unwrap_or_default();
                    if !seen.contains(&d) {
                        seen.push(d);
                    }
                }
                Op::List(seen)
            }
            "get_column_order_from_dataset" => Op::List(
                self.table
                    .map(|t| t.columns.iter().map(|c| c.name.clone()).collect())
                    .unwrap_or_default(),
            ),
            "record_count" => Op::Scalar(V::Str(
                table_of(&domain)
                    .map(|t| t.rows.len())
                    .unwrap_or(0)
                    .to_string(),
            )),
            "variable_count" => {
                // `--X` counts every dataset that has its own --X.
                let raw = op["name"].as_str()?;
                let count = self
                    .study
                    .tables
                    .iter()
                    .filter(|t| {
                        let n = match raw.strip_prefix("--") {
                            Some(rest) => format!("{}{rest}", prefix_of(&t.domain())),
                            None => raw.to_owned(),
                        };
                        t.col(&n).is_some()
                    })
                    .count();
                Op::Scalar(V::Str(count.to_string()))
            }
            "extract_metadata" => {
                let t = self.table?;
                Op::Scalar(V::Str(match op["name"].as_str()? {
                    "dataset_name" => t.name.clone(),
                    "dataset_label" => t.label.clone(),
                    "dataset_location" => t.file.clone(),
                    _ => return None,
                }))
            }
            // Class-level metadata as the reference engine reads it (`sdtm_model`): the
            // model's variables for the class, or the standard's with the SDTMIG entries in
            // place; filtered by a metadata key when the rule gives one.
            "get_model_filtered_variables"
            | "get_model_column_order"
            | "get_column_order_from_library"
            | "get_dataset_filtered_variables"
            | "required_variables"
            | "expected_variables" => {
                let vars = if matches!(
                    kind,
                    "get_model_filtered_variables" | "get_model_column_order"
                ) {
                    self.lib
                        .model_variables(&self.frame.domain, &self.frame.cols)
                } else {
                    self.lib
                        .standard_variables(&self.frame.domain, &self.frame.cols)
                };
                let filter: Option<(&str, &str)> = match kind {
                    "required_variables" => Some(("core", "Req")),
                    "expected_variables" => Some(("core", "Exp")),
                    _ => op["key_name"]
                        .as_str()
                        .map(|k| (k, op["key_value"].as_str().unwrap_or(""))),
                };
                let mut names: Vec<String> = Vec::new();
                for v in vars {
                    let keep = match filter {
                        Some(("core", want)) => v.core == want,
                        Some(("role", want)) => v.role == want,
                        Some(_) => false,
                        None => true,
                    };
                    if keep && !names.contains(&v.name) {
                        names.push(v.name);
                    }
                }
                if kind == "get_dataset_filtered_variables" {
                    names.retain(|n| self.frame.col(n).is_some());
                }
                Op::List(names)
            }
            // The dataset's own label (as submitted), else the standard's.
            "domain_label" => Op::Scalar(V::Str(
                self.table
                    .map(|t| t.label.clone())
                    .filter(|l| !l.is_empty())
                    .or_else(|| self.lib.domain_label(&self.frame.domain))
                    .unwrap_or_default(),
            )),
            "domain_is_custom" => Op::Scalar(V::Str(
                if self.lib.is_custom(&self.frame.domain) {
                    "True"
                } else {
                    "False"
                }
                .into(),
            )),
            // Per record, the model variables of the parent dataset the record's RDOMAIN
            // names (SUPP-- QNAMs must not reuse them).
            "get_parent_model_column_order" => {
                let rd = self.frame.col("RDOMAIN");
                let mut by_domain: HashMap<String, Option<Vec<String>>> = HashMap::new();
                let lists = self
                    .frame
                    .rows
                    .iter()
                    .map(|r| {
                        let d = rd.map(|i| r[i].text()).unwrap_or_default();
                        by_domain
                            .entry(d.clone())
                            .or_insert_with(|| {
                                let parent = self.study.tables.iter().find(|t| t.domain() == d)?;
                                let cols: Vec<String> =
                                    parent.columns.iter().map(|c| c.name.clone()).collect();
                                let mut names: Vec<String> = Vec::new();
                                for v in self.lib.model_variables(&d, &cols) {
                                    if !names.contains(&v.name) {
                                        names.push(v.name);
                                    }
                                }
                                Some(names)
                            })
                            .clone()
                    })
                    .collect();
                Op::PerRowList(lists)
            }
            "min_date" | "max_date" => {
                let t = table_of(&domain)?;
                let c = t.col(name.as_deref()?)?;
                let groups: Vec<String> = op["group"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|g| g.as_str().map(str::to_owned))
                    .collect();
                let gcols: Vec<Option<usize>> = groups.iter().map(|g| t.col(g)).collect();
                let mut best: HashMap<Vec<String>, String> = HashMap::new();
                for r in t.rows.iter() {
                    let s = r[c].text();
                    if s.is_empty() {
                        continue;
                    }
                    let k: Vec<String> = gcols
                        .iter()
                        .map(|g| g.map(|g| r[g].text()).unwrap_or_default())
                        .collect();
                    let e = best.entry(k).or_insert_with(|| s.clone());
                    let better = if kind == "min_date" { s < *e } else { s > *e };
                    if better {
                        *e = s;
                    }
                }
                let fcols: Vec<Option<usize>> = groups.iter().map(|g| self.frame.col(g)).collect();
                Op::PerRow(
                    self.frame
                        .rows
                        .iter()
                        .map(|r| {
                            let k: Vec<String> = fcols
                                .iter()
                                .map(|g| g.map(|g| r[g].text()).unwrap_or_default())
                                .collect();
                            best.get(&k).map(|s| V::Str(s.clone())).unwrap_or(V::Null)
                        })
                        .collect(),
                )
            }
            "dy" => {
                // Study day of `name` from DM.RFSTDTC, per record.
                let dm = self.study.table("DM")?;
                let (u, rf) = (dm.col("USUBJID")?, dm.col("RFSTDTC")?);
                let rfst: HashMap<String, String> = dm
                    .rows
                    .iter()
                    .map(|r| (r[u].text(), r[rf].text()))
                    .collect();
                let (fu, fc) = (
                    self.frame.col("USUBJID")?,
                    self.frame.col(name.as_deref()?)?,
                );
                Op::PerRow(
                    self.frame
                        .rows
                        .iter()
                        .map(|r| {
                            let day = rfst
                                .get(&r[fu].text())
                                .and_then(|s| crate::sdtm::derive::study_day(&r[fc].text(), s));
                            day.map(|d| V::Str(d.to_string())).unwrap_or(V::Null)
                        })
                        .collect(),
                )
            }
            "codelist_terms" => {
                let cls: Vec<String> = op["codelists"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c.as_str().map(str::to_owned))
                    .collect();
                Op::List(
                    self.lib
                        .codelist_terms(&cls, op["returntype"].as_str() == Some("code")),
                )
            }
            _ => return None,
        };
        Some((id, v))
    }

    fn output_variables(&self) -> Vec<String> {
        if !self.rule.output_variables.is_empty() {
            return self
                .rule
                .output_variables
                .iter()
                .map(|v| self.name(v).into_owned())
                .collect();
        }
        let mut names = Vec::new();
        collect_names(&self.rule.check, &mut names);
        let mut out: Vec<String> = Vec::new();
        for n in names {
            let n = self.name(&n).into_owned();
            if !out.contains(&n) {
                out.push(n);
            }
        }
        out
    }

    fn display(&self, v: &str, r: usize) -> String {
        if let Some(Op::List(l)) = self.ops.get(v) {
            return py_list(l);
        }
        match self.get(v, r) {
            Some(x) => x.text(),
            // What the reference engine prints for a variable the dataset lacks.
            None if matches!(
                self.rule.rule_type.as_str(),
                "Record Data" | "Domain Presence Check" | ""
            ) =>
            {
                "Not in dataset".into()
            }
            None => String::new(),
        }
    }
}

fn collect_names(c: &Value, out: &mut Vec<String>) {
    if let Some(a) = c
        .get("all")
        .or_else(|| field(c, "any"))
        .and_then(Value::as_array)
    {
        for x in a {
            collect_names(x, out);
        }
        return;
    }
    if let Some(n) = field(c, "not") {
        collect_names(n, out);
        return;
    }
    if let Some(n) = at(c, "name").as_str() {
        out.push(n.to_owned());
    }
}

/// `['A', 'B']` / `A, B` → items.
pub fn parse_list(s: &str) -> Vec<String> {
    let t = s.trim();
    if let Some(inner) = t.strip_prefix('[').and_then(|x| x.strip_suffix(']')) {
        return inner
            .split(',')
            .map(|x| x.trim().trim_matches('\'').trim_matches('"').to_owned())
            .filter(|x| !x.is_empty())
            .collect();
    }
    vec![t.to_owned()]
}

fn values_equal(a: &V, b: &V) -> bool {
    if a.is_null() && b.is_null() {
        return true;
    }
    match (a.num(), b.num()) {
        (Some(x), Some(y)) if matches!(a, V::Num(_)) || matches!(b, V::Num(_)) => x == y,
        _ => a.text().trim_end() == b.text().trim_end(),
    }
}

/// Counts of findings by severity and by dataset, for summaries.
pub fn summary(findings: &[Finding]) -> BTreeMap<(String, String), usize> {
    let mut m = BTreeMap::new();
    for f in findings {
        *m.entry((f.severity.clone(), f.dataset.clone()))
            .or_insert(0) += 1;
    }
    m
}
