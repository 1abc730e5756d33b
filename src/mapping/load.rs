//! Loading and checking mapping files — completely, before any data is read.
//!
//! Each file is parsed (YAML with positions), validated against `schemas/mapping.schema.json`
//! with `jsonschema`, turned into the typed model, and then checked as a set: every target
//! path exists in FHIR R4 with the right type, every source field exists in its segment,
//! every `via` datatype map, code table and segment map exists and fits where it is used.
//! Every problem is a diagnostic at `file:line:col`.

use super::model::*;
use crate::diagnostics::{Diagnostic, Location};
use crate::hl7::{FieldPath, Structures};
use crate::r4model::{did_you_mean, is_primitive, FhirIndex};
use crate::yaml::{self, Doc};
use include_dir::{include_dir, Dir};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

static EMBEDDED: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/mappings/ssmix2");
pub const SCHEMA: &str = include_str!("../../schemas/mapping.schema.json");
const FIELDS: &str = include_str!("../../mappings/ssmix2/segments/_fields.txt");
const KINDS: [(&str, &str); 4] = [
    ("messages", "message"),
    ("segments", "segment"),
    ("datatypes", "datatype"),
    ("codes", "codes"),
];

/// Every mapping the converter uses.
#[derive(Debug, Default)]
pub struct MappingSet {
    pub messages: Vec<MessageMap>,
    pub maps: HashMap<String, Map>,
    pub tables: HashMap<String, CodeTable>,
    pub structures: Structures,
    /// Files loaded: display path → origin (`embedded` or the override folder).
    pub files: BTreeMap<String, String>,
}

struct SourceFile {
    rel: String,
    display: String,
    text: String,
    origin: String,
}

fn loc(pos: &Pos) -> Location {
    Location {
        file: Some(pos.file.clone().into()),
        line: Some(pos.line),
        column: Some(pos.column),
        ..Default::default()
    }
}

fn err(code: &'static str, msg: impl Into<String>, pos: &Pos) -> Diagnostic {
    Diagnostic::error(code, msg, loc(pos))
}

/// The embedded default files plus, file by file, those of `overrides` (same relative path
/// replaces, new paths add).
fn gather(overrides: Option<&Path>) -> (Vec<SourceFile>, Vec<Diagnostic>) {
    let mut files: BTreeMap<String, SourceFile> = BTreeMap::new();
    let mut diags = Vec::new();
    for (folder, _) in KINDS {
        if let Some(dir) = EMBEDDED.get_dir(folder) {
            for f in dir.files() {
                let rel = f.path().to_string_lossy().replace('\\', "/");
                if !rel.ends_with(".yaml") {
                    continue;
                }
                let text = f.contents_utf8().unwrap_or_default().to_owned();
                files.insert(
                    rel.clone(),
                    SourceFile {
                        display: format!("mappings/ssmix2/{rel}"),
                        rel,
                        text,
                        origin: "embedded".into(),
                    },
                );
            }
        }
    }
    if let Some(root) = overrides {
        if !root.is_dir() {
            diags.push(Diagnostic::error(
                "M200",
                "mappings folder does not exist",
                Location::file(root),
            ));
        }
        for (folder, _) in KINDS {
            let dir = root.join(folder);
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut paths: Vec<_> = rd
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect();
            paths.sort();
            for p in paths {
                let name = p
                    .file_name()
                    .map(|n| n.to_string_lossy().replace(".yml", ".yaml"))
                    .unwrap_or_default();
                let rel = format!("{folder}/{name}");
                match std::fs::read_to_string(&p) {
                    Ok(text) => {
                        files.insert(
                            rel.clone(),
                            SourceFile {
                                rel,
                                display: p.display().to_string(),
                                text,
                                origin: root.display().to_string(),
                            },
                        );
                    }
                    Err(e) => diags.push(Diagnostic::error(
                        "M200",
                        format!("mapping file cannot be read ({})", e.kind()),
                        Location::file(&p),
                    )),
                }
            }
        }
    }
    (files.into_values().collect(), diags)
}

struct Builder<'a> {
    doc: &'a Doc,
    file: &'a str,
    diags: Vec<Diagnostic>,
}

impl Builder<'_> {
    fn pos(&self, pointer: &str) -> Pos {
        let (line, column) = self.doc.position(pointer);
        Pos {
            file: self.file.to_owned(),
            line,
            column,
        }
    }

    fn src(&mut self, text: &str, pointer: &str) -> Option<Src> {
        if let Some(rest) = text.strip_prefix('.') {
            if rest.is_empty() {
                return Some(Src::Rel {
                    comp: None,
                    sub: None,
                });
            }
            let parts: Vec<&str> = rest.split('.').collect();
            let nums: Vec<Option<usize>> = parts
                .iter()
                .map(|p| p.parse::<usize>().ok().filter(|n| *n >= 1))
                .collect();
            if parts.len() > 2 || nums.iter().any(Option::is_none) {
                let p = self.pos(pointer);
                self.diags.push(err(
                    "M204",
                    format!("{text:?} is not a component path (.1 or .1.2)"),
                    &p,
                ));
                return None;
            }
            return Some(Src::Rel {
                comp: nums[0],
                sub: nums.get(1).copied().flatten(),
            });
        }
        let (clean, each) = match text.find("[*]") {
            Some(i) => (format!("{}{}", &text[..i], &text[i + 3..]), true),
            None => (text.to_owned(), false),
        };
        match clean.parse::<FieldPath>() {
            Ok(path) if each && path.repetition.is_some() => {
                let p = self.pos(pointer);
                self.diags.push(err(
                    "M204",
                    "a path takes [*] or a repetition number, not both",
                    &p,
                ));
                None
            }
            Ok(path) => Some(Src::Field { path, each }),
            Err(e) => {
                let mut p = self.pos(pointer);
                p.column += e.at;
                self.diags
                    .push(err("M204", format!("{}: {:?}", e.message, text), &p).help(
                    "HL7 paths look like PID-5, PID-5[*], OBX[2]-6.1; in datatype maps .1 or .1.2",
                ));
                None
            }
        }
    }

    /// `when`: one condition or a list of conditions that must all hold.
    fn conds(&mut self, v: &Value, pointer: &str) -> Option<Vec<Cond>> {
        match v.as_array() {
            Some(list) => list
                .iter()
                .enumerate()
                .map(|(i, c)| self.cond(c, &format!("{pointer}/{i}")))
                .collect(),
            None => self.cond(v, pointer).map(|c| vec![c]),
        }
    }

    fn cond(&mut self, v: &Value, pointer: &str) -> Option<Cond> {
        let src = self.src(v.get("from")?.as_str()?, &format!("{pointer}/from"))?;
        let test = if let Some(e) = v.get("equals").and_then(Value::as_str) {
            Test::Equals(e.to_owned())
        } else if let Some(a) = v.get("in").and_then(Value::as_array) {
            Test::In(
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect(),
            )
        } else if let Some(n) = v.get("numeric").and_then(Value::as_bool) {
            Test::Numeric(n)
        } else if let Some(a) = v.get("not_in").and_then(Value::as_array) {
            Test::NotIn(
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect(),
            )
        } else {
            Test::Present(v.get("present").and_then(Value::as_bool).unwrap_or(true))
        };
        Some(Cond { src, test })
    }

    fn target(&mut self, text: &str, pointer: &str) -> Option<Vec<Step>> {
        let mut steps = Vec::new();
        for part in text.split('.') {
            let (name, index) = match part.find('[') {
                None => (part, Index::None),
                Some(i) if part.ends_with(']') => {
                    let inner = &part[i + 1..part.len() - 1];
                    let idx = if inner == "+" {
                        Index::Append
                    } else if let Ok(n) = inner.parse::<usize>() {
                        if n == 0 {
                            let p = self.pos(pointer);
                            self.diags
                                .push(err("M205", "target indexes are 1-based", &p));
                            return None;
                        }
                        Index::At(n - 1)
                    } else {
                        let p = self.pos(pointer);
                        self.diags.push(err(
                            "M205",
                            format!("bad index in {part:?}: use [n] or [+]"),
                            &p,
                        ));
                        return None;
                    };
                    (&part[..i], idx)
                }
                Some(_) => {
                    let p = self.pos(pointer);
                    self.diags
                        .push(err("M205", format!("bad step {part:?} in target path"), &p));
                    return None;
                }
            };
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                let p = self.pos(pointer);
                self.diags.push(err(
                    "M205",
                    format!("bad element name {name:?} in target path"),
                    &p,
                ));
                return None;
            }
            steps.push(Step {
                name: name.to_owned(),
                index,
            });
        }
        Some(steps)
    }

    fn policy(v: Option<&Value>) -> Policy {
        match v.and_then(Value::as_str) {
            Some("warn") => Policy::Warn,
            Some("error") => Policy::Error,
            Some("keep") => Policy::Keep,
            _ => Policy::Omit,
        }
    }

    fn rows(&mut self, v: &Value, pointer: &str) -> Vec<Row> {
        let mut out = Vec::new();
        for (i, r) in v.as_array().into_iter().flatten().enumerate() {
            let p = format!("{pointer}/{i}");
            if let Some(row) = self.row(r, &p) {
                out.push(row);
            }
        }
        out
    }

    fn row(&mut self, r: &Value, pointer: &str) -> Option<Row> {
        let to_text = r.get("to")?.as_str()?.to_owned();
        let to = self.target(&to_text, &format!("{pointer}/to"))?;
        let from = match r.get("from").and_then(Value::as_str) {
            Some(f) => Some(self.src(f, &format!("{pointer}/from"))?),
            None => None,
        };
        let rows = r
            .get("rows")
            .map(|v| self.rows(v, &format!("{pointer}/rows")))
            .unwrap_or_default();
        let source = if let Some(v) = r.get("value") {
            RowSource::Value(v.clone())
        } else if r.get("rows").is_some() {
            RowSource::Rows
        } else if let Some(j) = r.get("join").and_then(Value::as_array) {
            let mut srcs = Vec::new();
            for (k, s) in j.iter().enumerate() {
                srcs.push(self.src(s.as_str().unwrap_or(""), &format!("{pointer}/join/{k}"))?);
            }
            RowSource::Join(srcs)
        } else {
            RowSource::From(from.clone()?)
        };
        let conv = match r.get("as").and_then(Value::as_str) {
            Some("code") => Conv::Code,
            Some("decimal") => Conv::Decimal,
            Some("integer") => Conv::Integer,
            Some("positiveInt") => Conv::PositiveInt,
            Some("date") => Conv::Date,
            Some("dateTime") => Conv::DateTime,
            Some("instant") => Conv::Instant,
            Some("boolean") => Conv::Boolean,
            Some("uri") => Conv::Uri,
            Some("id") => Conv::Id,
            Some("quantity-value") => Conv::QuantityValue,
            Some("quantity-comparator") => Conv::QuantityComparator,
            Some("range-low") => Conv::RangeLow,
            Some("range-high") => Conv::RangeHigh,
            Some("ordinal") => Conv::Ordinal,
            _ => Conv::String,
        };
        let when = match r.get("when") {
            Some(w) => self.conds(w, &format!("{pointer}/when"))?,
            None => Vec::new(),
        };
        Some(Row {
            to,
            to_text,
            each_group: r.get("each").and_then(Value::as_str).map(str::to_owned),
            scope: if matches!(source, RowSource::Rows) {
                from
            } else {
                None
            },
            source,
            conv: if r.get("as").is_some() {
                conv
            } else {
                Conv::String
            },
            part: r.get("part").and_then(|p| {
                Some((
                    p.get("sep")?.as_str()?.to_owned(),
                    usize::try_from(p.get("index")?.as_u64()?).ok()?,
                ))
            }),
            table: r.get("table").and_then(Value::as_str).map(str::to_owned),
            via: r.get("via").and_then(Value::as_str).map(str::to_owned),
            when,
            rows,
            on_missing: Self::policy(r.get("on_missing")),
            on_unmapped: match r.get("on_unmapped").and_then(Value::as_str) {
                None => Policy::Warn,
                Some(_) => Self::policy(r.get("on_unmapped")),
            },
            on_invalid: match r.get("on_invalid").and_then(Value::as_str) {
                None => Policy::Warn,
                Some(_) => Self::policy(r.get("on_invalid")),
            },
            pos: self.pos(pointer),
        })
    }
}

/// Fill in `as` from the target type where the file did not say.
fn infer_conv(t: &str) -> Conv {
    match t {
        "decimal" => Conv::Decimal,
        "integer" | "unsignedInt" => Conv::Integer,
        "positiveInt" => Conv::PositiveInt,
        "boolean" => Conv::Boolean,
        "date" => Conv::Date,
        "dateTime" => Conv::DateTime,
        "instant" => Conv::Instant,
        "code" => Conv::Code,
        "uri" | "url" | "canonical" | "oid" | "uuid" => Conv::Uri,
        "id" => Conv::Id,
        _ => Conv::String,
    }
}

struct Checker<'a> {
    ix: &'a FhirIndex,
    maps: &'a HashMap<String, Map>,
    tables: &'a HashMap<String, CodeTable>,
    fields: &'a HashMap<String, usize>,
    diags: Vec<Diagnostic>,
}

impl Checker<'_> {
    /// Resolve a target path from `owner`; returns the element type.
    fn resolve(&mut self, owner: &str, row: &Row) -> Option<String> {
        let mut t = owner.to_owned();
        for (i, step) in row.to.iter().enumerate() {
            if is_primitive(&t) {
                self.diags.push(err(
                    "M213",
                    format!(
                        "{t} is a primitive type; {:?} cannot continue below it",
                        row.to_text
                    ),
                    &row.pos,
                ));
                return None;
            }
            let Some(el) = self.ix.element(&t, &step.name).cloned() else {
                let names = self.ix.names(&t);
                let mut d = err(
                    "M213",
                    format!("{t} has no element {:?} in FHIR R4", step.name),
                    &row.pos,
                );
                if let Some(s) = did_you_mean(&step.name, &names) {
                    d = d.help(format!("did you mean `{s}`?"));
                }
                self.diags.push(d);
                return None;
            };
            match (el.repeats, step.index) {
                (true, Index::None) => {
                    self.diags.push(err(
                        "M213",
                        format!(
                            "{t}.{} repeats: write {}[+] to add one or {}[1] for the first",
                            step.name, step.name, step.name
                        ),
                        &row.pos,
                    ));
                    return None;
                }
                (false, Index::At(_) | Index::Append) => {
                    self.diags.push(err(
                        "M213",
                        format!("{t}.{} does not repeat; drop the index", step.name),
                        &row.pos,
                    ));
                    return None;
                }
                _ => {}
            }
            let _ = i;
            t = el.type_name;
        }
        Some(t)
    }

    fn src(&mut self, s: &Src, has_cur: bool, pos: &Pos) {
        match s {
            Src::Field { path, .. } => match self.fields.get(&path.segment) {
                None => self.diags.push(err("M214", format!("segment {} is not known (mappings/ssmix2/segments/_fields.txt)", path.segment), pos)),
                Some(&max) if path.field > max => self.diags.push(err("M214", format!("{} has {max} fields; {path} does not exist", path.segment), pos)),
                _ => {}
            },
            Src::Rel { .. } if !has_cur => self.diags.push(err("M214", "a component path (.1) needs a current field: use it in datatype maps or under a row with `from` and `rows`", pos)),
            _ => {}
        }
    }

    fn rows(&mut self, owner: &str, rows: &mut [Row], has_cur: bool) {
        for row in rows.iter_mut() {
            let Some(t) = self.resolve(owner, row) else {
                continue;
            };
            for c in row.when.clone() {
                self.src(&c.src, has_cur, &row.pos);
            }
            let each = matches!(&row.source, RowSource::From(Src::Field { each: true, .. }))
                || matches!(&row.scope, Some(Src::Field { each: true, .. }));
            if each && row.to.last().map(|s| s.index) != Some(Index::Append) {
                self.diags.push(err("M217", "a source with [*] adds one element per repetition: the target must end with [+]", &row.pos));
            }
            if let Some(tb) = &row.table {
                if !self.tables.contains_key(tb) {
                    self.diags.push(
                        err(
                            "M211",
                            format!("code table {tb:?} does not exist"),
                            &row.pos,
                        )
                        .help("code tables live in mappings/ssmix2/codes/<name>.yaml"),
                    );
                }
            }
            match &row.source {
                RowSource::Rows => {
                    if let Some(s) = row.scope.clone() {
                        self.src(&s, has_cur, &row.pos);
                    }
                    if is_primitive(&t) {
                        self.diags.push(err(
                            "M213",
                            format!(
                                "{:?} is a {t}; nested rows need a complex element",
                                row.to_text
                            ),
                            &row.pos,
                        ));
                    } else {
                        let inner_cur = has_cur || row.scope.is_some();
                        let mut nested = std::mem::take(&mut row.rows);
                        self.rows(&t, &mut nested, inner_cur);
                        row.rows = nested;
                    }
                }
                RowSource::From(s) => {
                    let s = s.clone();
                    self.src(&s, has_cur, &row.pos);
                    if let Some(v) = &row.via {
                        match self.maps.get(v) {
                            None => self.diags.push(err(
                                "M210",
                                format!("datatype map {v:?} does not exist"),
                                &row.pos,
                            )),
                            Some(m) if !m.is_datatype => self.diags.push(err(
                                "M210",
                                format!("{v:?} is a segment map, not a datatype map"),
                                &row.pos,
                            )),
                            Some(m) if m.fhir_type != t => self.diags.push(err(
                                "M210",
                                format!(
                                    "{v:?} produces {} but {:?} is a {t}",
                                    m.fhir_type, row.to_text
                                ),
                                &row.pos,
                            )),
                            _ => {}
                        }
                    } else if !is_primitive(&t) {
                        self.diags.push(err(
                            "M213",
                            format!(
                                "{:?} is a {t}: map it with `via` or nested `rows`",
                                row.to_text
                            ),
                            &row.pos,
                        ));
                    } else if row.conv == Conv::String {
                        row.conv = infer_conv(&t);
                    }
                }
                RowSource::Join(srcs) => {
                    for s in srcs.clone() {
                        self.src(&s, has_cur, &row.pos);
                    }
                }
                RowSource::Value(v) => {
                    if v.is_object() == is_primitive(&t) && !v.is_object() {
                        self.diags.push(err(
                            "M213",
                            format!(
                                "{:?} is a {t}: a constant for it must be an object",
                                row.to_text
                            ),
                            &row.pos,
                        ));
                    }
                    if let Some(s) = v.as_str() {
                        check_template(s, &row.pos, &mut self.diags);
                    }
                }
            }
        }
    }
}

fn check_template(s: &str, pos: &Pos, diags: &mut Vec<Diagnostic>) {
    let mut rest = s;
    while let Some(i) = rest.find('{') {
        let Some(j) = rest[i..].find('}') else {
            diags.push(err("M216", "unclosed { in template", pos));
            return;
        };
        let var = &rest[i + 1..i + j];
        let group_seq = var.strip_prefix("seq:").is_some_and(|g| {
            !g.is_empty() && g.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
        });
        let field = var.parse::<FieldPath>().is_ok();
        if !TEMPLATE_VARS.contains(&var) && !group_seq && !field {
            diags.push(
                err("M216", format!("unknown template variable {{{var}}}"), pos).help(format!(
                    "known: {}, seq:GROUP for the anchor of an enclosing group, or a field path such as {{IPC-3}}",
                    TEMPLATE_VARS.join(", ")
                )),
            );
        }
        rest = &rest[i + j + 1..];
    }
}

impl MappingSet {
    /// Load the embedded mappings, overridden file by file by `overrides`.
    pub fn load(overrides: Option<&Path>) -> Result<MappingSet, Vec<Diagnostic>> {
        let (files, diags) = gather(overrides);
        Self::build(files, diags)
    }

    /// Load only the given files (`messages/x.yaml` → text), without the embedded ones: for
    /// checking one file's text, and for the fuzz target of the loader.
    pub fn from_texts(files: &[(&str, &str)]) -> Result<MappingSet, Vec<Diagnostic>> {
        let files = files
            .iter()
            .map(|(rel, text)| SourceFile {
                rel: (*rel).to_owned(),
                display: (*rel).to_owned(),
                text: (*text).to_owned(),
                origin: "text".into(),
            })
            .collect();
        Self::build(files, Vec::new())
    }

    fn build(
        files: Vec<SourceFile>,
        mut diags: Vec<Diagnostic>,
    ) -> Result<MappingSet, Vec<Diagnostic>> {
        let validator = yaml::validator(SCHEMA).map_err(|e| {
            vec![Diagnostic::error(
                "M202",
                format!("mapping schema {e}"),
                Location::default(),
            )]
        })?;
        let mut set = MappingSet {
            structures: Structures::default_set(),
            ..Default::default()
        };
        let mut fields = HashMap::new();
        for l in FIELDS.lines().filter(|l| !l.starts_with('#')) {
            if let Some((s, n)) = l.split_once(' ') {
                if let Ok(n) = n.trim().parse() {
                    fields.insert(s.to_owned(), n);
                }
            }
        }
        for f in &files {
            set.files.insert(f.display.clone(), f.origin.clone());
            let doc = match yaml::parse(&f.text) {
                Ok(d) => d,
                Err(e) => {
                    let p = Pos {
                        file: f.display.clone(),
                        line: e.line,
                        column: e.column,
                    };
                    diags.push(err("M201", format!("not valid YAML: {}", e.message), &p));
                    continue;
                }
            };
            let mut schema_ok = true;
            for e in validator.iter_errors(&doc.value) {
                schema_ok = false;
                let ptr = e.instance_path().to_string();
                let (line, column) = doc.position(&ptr);
                let p = Pos {
                    file: f.display.clone(),
                    line,
                    column,
                };
                diags.push(err(
                    "M202",
                    format!("{} (at {})", e, if ptr.is_empty() { "/" } else { &ptr }),
                    &p,
                ));
            }
            if !schema_ok {
                continue;
            }
            let v = &doc.value;
            let name = v["name"].as_str().unwrap_or_default().to_owned();
            let kind = v["kind"].as_str().unwrap_or_default();
            let mut b = Builder {
                doc: &doc,
                file: &f.display,
                diags: Vec::new(),
            };
            let pos = b.pos("/name");
            let stem = f
                .rel
                .rsplit('/')
                .next()
                .unwrap_or("")
                .trim_end_matches(".yaml");
            let folder = f.rel.split('/').next().unwrap_or("");
            if stem != name {
                b.diags.push(err(
                    "M203",
                    format!("name {name:?} differs from the file name {stem:?}"),
                    &pos,
                ));
            }
            if KINDS.iter().find(|(fo, _)| *fo == folder).map(|(_, k)| *k) != Some(kind) {
                b.diags.push(err(
                    "M203",
                    format!(
                        "a {kind} file belongs in the {} folder",
                        KINDS
                            .iter()
                            .find(|(_, k)| *k == kind)
                            .map(|(fo, _)| *fo)
                            .unwrap_or("?")
                    ),
                    &b.pos("/kind"),
                ));
            }
            match kind {
                "message" => {
                    let mut produce = Vec::new();
                    for (i, p) in v["produce"].as_array().into_iter().flatten().enumerate() {
                        let ptr = format!("/produce/{i}");
                        let when = match p.get("when") {
                            Some(w) => b.conds(w, &format!("{ptr}/when")).unwrap_or_default(),
                            None => Vec::new(),
                        };
                        produce.push(Produce {
                            map: p["map"].as_str().unwrap_or_default().to_owned(),
                            each: p["each"].as_str().unwrap_or_default().to_owned(),
                            id: p["id"].as_str().unwrap_or_default().to_owned(),
                            when,
                            profile: p.get("profile").and_then(Value::as_str).map(str::to_owned),
                            pos: b.pos(&ptr),
                        });
                    }
                    let strs = |k: &str| {
                        v[k].as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|x| x.as_str().map(str::to_owned))
                            .collect::<Vec<_>>()
                    };
                    set.messages.push(MessageMap {
                        name,
                        data_types: strs("data_types"),
                        message_types: strs("message_types"),
                        produce,
                        pos,
                    });
                }
                "segment" | "datatype" => {
                    let rows = b.rows(&v["rows"], "/rows");
                    let is_datatype = kind == "datatype";
                    let fhir_type = v[if is_datatype { "type" } else { "resource" }]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    let examples = v
                        .get("examples")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .enumerate()
                        .map(|(i, e)| Example {
                            title: e["title"].as_str().unwrap_or_default().to_owned(),
                            hl7: e.get("hl7").and_then(Value::as_str).map(str::to_owned),
                            each: e.get("each").and_then(Value::as_str).map(str::to_owned),
                            field: e.get("field").and_then(Value::as_str).map(str::to_owned),
                            expect: e["expect"].clone(),
                            absent: e
                                .get("absent")
                                .and_then(Value::as_array)
                                .into_iter()
                                .flatten()
                                .filter_map(|x| x.as_str().map(str::to_owned))
                                .collect(),
                            pos: b.pos(&format!("/examples/{i}")),
                        })
                        .collect();
                    set.maps.insert(
                        name.clone(),
                        Map {
                            name,
                            is_datatype,
                            fhir_type,
                            profile: v.get("profile").and_then(Value::as_str).map(str::to_owned),
                            rows,
                            examples,
                            pos,
                        },
                    );
                }
                _ => {
                    let codes = v["codes"]
                        .as_object()
                        .map(|m| {
                            m.iter()
                                .map(|(k, x)| {
                                    (k.clone(), x.as_str().unwrap_or_default().to_owned())
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    let fallback = v.get("fallback").and_then(Value::as_str).map(str::to_owned);
                    if let Some(fb) = &fallback {
                        check_template(fb, &b.pos("/fallback"), &mut b.diags);
                    }
                    set.tables.insert(
                        name.clone(),
                        CodeTable {
                            name,
                            codes,
                            fallback,
                            pos,
                        },
                    );
                }
            }
            diags.extend(b.diags);
        }

        // Checks across files.
        let ix = crate::r4model::global();
        let mut maps = std::mem::take(&mut set.maps);
        let snapshot: HashMap<String, Map> = maps.clone();
        let mut ck = Checker {
            ix,
            maps: &snapshot,
            tables: &set.tables,
            fields: &fields,
            diags: Vec::new(),
        };
        let mut names: Vec<String> = maps.keys().cloned().collect();
        names.sort();
        for n in names {
            if let Some(m) = maps.get_mut(&n) {
                if !ix.has_type(&m.fhir_type) {
                    ck.diags.push(err(
                        "M213",
                        format!("{:?} is not a FHIR R4 type", m.fhir_type),
                        &m.pos,
                    ));
                    continue;
                }
                let has_cur = m.is_datatype;
                let owner = m.fhir_type.clone();
                ck.rows(&owner, &mut m.rows, has_cur);
            }
        }
        for mm in &set.messages {
            for p in &mm.produce {
                match snapshot.get(&p.map) {
                    None => ck.diags.push(err(
                        "M212",
                        format!("segment map {:?} does not exist", p.map),
                        &p.pos,
                    )),
                    Some(m) if m.is_datatype => ck.diags.push(err(
                        "M212",
                        format!(
                            "{:?} is a datatype map; `produce` needs a segment map",
                            p.map
                        ),
                        &p.pos,
                    )),
                    // A claimed JP Core profile must be one of the map's resource type.
                    Some(m) => {
                        if let Some(pr) = &p.profile {
                            let name = pr.rsplit('/').next().unwrap_or("");
                            let of_type = name
                                .strip_prefix("JP_")
                                .and_then(|n| n.strip_prefix(m.fhir_type.as_str()))
                                .is_some_and(|rest| rest.is_empty() || rest.starts_with('_'));
                            if !of_type {
                                ck.diags.push(
                                    err(
                                        "M218",
                                        format!(
                                            "profile {pr:?} is not a JP Core profile of {}",
                                            m.fhir_type
                                        ),
                                        &p.pos,
                                    )
                                    .help(format!("name a profile JP_{}… under http://jpfhir.jp/fhir/core/StructureDefinition/", m.fhir_type)),
                                );
                            }
                        }
                    }
                }
                check_template(&p.id, &p.pos, &mut ck.diags);
                for c in &p.when {
                    ck.src(&c.src.clone(), false, &p.pos);
                }
                if p.each != "message"
                    && !(p.each.len() == 3
                        && p.each
                            .bytes()
                            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))
                {
                    for mt in &mm.message_types {
                        let Some(def) = set
                            .structures
                            .messages
                            .get(mt)
                            .and_then(|d| set.structures.structures.get(&d.structure))
                        else {
                            ck.diags.push(err(
                                "M215",
                                format!("message type {mt} has no declared structure"),
                                &mm.pos,
                            ));
                            continue;
                        };
                        if !def.has_group_path(&p.each) {
                            ck.diags.push(err(
                                "M215",
                                format!("{} has no group path {:?}", def.name, p.each),
                                &p.pos,
                            ));
                        }
                    }
                }
            }
        }
        diags.extend(ck.diags);
        set.maps = maps;
        set.messages.sort_by(|a, b| a.name.cmp(&b.name));
        if diags.iter().any(Diagnostic::is_error) {
            Err(diags)
        } else {
            Ok(set)
        }
    }

    /// The message maps for a data type and message type.
    pub fn message_maps<'a>(
        &'a self,
        data_type: &'a str,
        message_type: &'a str,
    ) -> impl Iterator<Item = &'a MessageMap> + 'a {
        self.messages.iter().filter(move |m| {
            m.data_types.iter().any(|d| d == data_type)
                && m.message_types.iter().any(|t| t == message_type)
        })
    }
}
