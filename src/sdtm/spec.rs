//! Loading and checking the FHIR → SDTM mapping files (`mappings/sdtm/domains/*.yaml`,
//! `mappings/sdtm/terminology/*.yaml`): JSON Schema first, then every ViewDefinition is
//! compiled, every variable, key, derivation and lookup table is cross-checked — all before
//! any data is read. Errors point at `file:line:col`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use include_dir::{include_dir, Dir};
use serde_json::Value;

use super::functions::SdtmFunctions;
use crate::diagnostics::{Diagnostic, Location};
use crate::fhirpath::parser::{parse, Expr};
use crate::fhirpath::{Item, View};
use crate::yaml::{self, Doc};

static EMBEDDED: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/mappings/sdtm");
const SCHEMA: &str = include_str!("../../schemas/sdtm.schema.json");
const FOLDERS: &[(&str, &str)] = &[
    ("domains", "sdtm-domain"),
    ("terminology", "sdtm-terminology"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarType {
    Char,
    Num,
}

#[derive(Debug, Clone)]
pub struct Variable {
    pub name: String,
    pub label: String,
    pub ty: VarType,
    pub core: String,
    pub codelist: Option<String>,
    pub origin: String,
    pub method: Option<String>,
    /// Helper columns for the ASCII datasets when the value is not ASCII: the first with an
    /// ASCII value wins (an English name, a transliteration, the code).
    pub ascii_fallback: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Supp {
    pub qnam: String,
    pub qlabel: String,
    pub column: String,
    pub qorig: String,
}

#[derive(Debug, Clone, Default)]
pub struct Results {
    pub orres: String,
    pub orresu: String,
    pub ucum: Option<String>,
    pub standard_unit: Option<String>,
    pub stresc: String,
    /// A view column with the standard term of a non-numeric result (`qualitative-results`).
    pub stresc_coded: Option<String>,
    pub stresn: String,
    pub stresu: String,
    pub ornrlo: Option<String>,
    pub ornrhi: Option<String>,
    pub stnrlo: Option<String>,
    pub stnrhi: Option<String>,
    pub nrind: Option<String>,
}

/// `derive.daily_summary`: with `--daily-summary`, numeric readings of one subject, `by`
/// values and day become one record holding their mean (src/sdtm/daily.rs).
#[derive(Debug, Clone, Default)]
pub struct DailySummary {
    pub dtc: String,
    pub by: Vec<String>,
    /// Helper column with the number of readings averaged (to SUPP--).
    pub count: String,
    /// --DRVFL.
    pub flag: String,
}

#[derive(Debug, Clone, Default)]
pub struct Derive {
    pub daily_summary: Option<DailySummary>,
    pub seq: Option<String>,
    pub study_days: Vec<(String, String)>,
    pub visit: Option<(Option<String>, String)>,
    pub epoch: Option<String>,
    /// (flag, by, dtc) for --LOBXFL.
    pub last_before_exposure: Option<(String, String, String)>,
    pub results: Option<Results>,
    pub subject_level: bool,
    /// `coverage: lab`: the domain's records count as lab results with a CDISC test code,
    /// its rejects for a missing Required variable as results without one.
    pub coverage_lab: bool,
    /// `coverage_name: CMTRT`: the variable whose ASCII values the coverage report checks for
    /// the `SYSTEM:code` fallback.
    pub coverage_name: Option<String>,
    /// (--STDTC variable, keep records before the reference start (true) or on/after it):
    /// MH holds history before RFSTDTC, CE the events from it on.
    pub reference_period: Option<(String, bool)>,
    /// View columns that identify a record rejected for a null Required variable in the
    /// reject listing (`unmapped/<domain>.csv`): codes, never patient values.
    pub unmapped_by: Vec<String>,
    /// (--STDTC variable, fixed values): one record per subject with a reference start,
    /// dated RFSTDTC: the subject's entry into a real-world-data cohort (DS assumption 1:
    /// every subject who entered the study has a disposition record).
    pub entry_record: Option<(String, Vec<(String, String)>)>,
}

#[derive(Debug, Clone)]
pub struct Domain {
    pub file: String,
    pub domain: String,
    pub label: String,
    pub class: String,
    pub structure: String,
    pub keys: Vec<String>,
    pub views: Vec<View>,
    pub variables: Vec<Variable>,
    pub supp: Vec<Supp>,
    pub derive: Derive,
    /// `file:line` of each view, for run-time diagnostics.
    pub view_lines: Vec<usize>,
    /// The views as written, recompiled with the study's `%` values for a run.
    pub view_json: Vec<Value>,
    /// View column → terminology tables its expression looks codes up in (for the help of
    /// a reject diagnostic: the table to extend).
    pub column_tables: BTreeMap<String, Vec<String>>,
}

impl Domain {
    pub fn variable(&self, name: &str) -> Option<&Variable> {
        self.variables.iter().find(|v| v.name == name)
    }
}

/// (system URI or `*`, one value per field).
type Entry = (String, Vec<Option<String>>);

#[derive(Debug, Clone, Default)]
pub struct Terminology {
    pub name: String,
    pub file: String,
    pub fields: Vec<String>,
    pub codelists: BTreeMap<String, String>,
    /// Field → values deliberately outside its extensible codelist.
    pub extensions: BTreeMap<String, Vec<String>>,
    /// code → (system URI or `*`, values per field).
    exact: HashMap<String, Vec<Entry>>,
    /// code prefix → (system, values); looked up by the prefix lengths in use, longest first.
    prefixes: HashMap<String, Vec<Entry>>,
    prefix_lengths: Vec<usize>,
    /// Codes with `?` positions (any one character), most specific first. JLAC10 needs them:
    /// the result-identification digits at the end of the 17 (`2B030??????????57`, PT-INR)
    /// pick the CDISC test where the analyte prefix alone cannot.
    patterns: Vec<(Vec<u8>, Entry)>,
    pub has_systems: bool,
}

impl Terminology {
    /// Values of `field` for a code (with its system when the table has systems).
    pub fn get(&self, system: Option<&str>, code: &str, field: &str) -> Option<&str> {
        let i = self.fields.iter().position(|f| f == field)?;
        // Lookups run for every resource and column: no allocation on this path.
        let sys = if self.has_systems { system? } else { "*" };
        fn pick<'t>(
            c: &'t [(String, Vec<Option<String>>)],
            sys: &str,
        ) -> Option<&'t Vec<Option<String>>> {
            c.iter()
                .find(|(s, _)| s == sys)
                .or_else(|| c.iter().find(|(s, _)| s == "*"))
                .map(|(_, v)| v)
        }
        let hit = self
            .exact
            .get(code)
            .and_then(|c| pick(c, sys))
            .or_else(|| self.pattern(sys, code))
            .or_else(|| {
                self.prefix_lengths
                    .iter()
                    .filter(|l| **l <= code.len() && code.is_char_boundary(**l))
                    .find_map(|l| self.prefixes.get(&code[..*l]).and_then(|c| pick(c, sys)))
            })?;
        hit.get(i)?.as_deref()
    }

    fn pattern(&self, sys: &str, code: &str) -> Option<&Vec<Option<String>>> {
        let fits = |p: &[u8]| {
            p.len() == code.len()
                && p.iter()
                    .zip(code.as_bytes())
                    .all(|(a, b)| *a == b'?' || a == b)
        };
        let mut hits = self.patterns.iter().filter(|(p, _)| fits(p));
        let first = hits.clone().find(|(_, (s, _))| s == sys);
        first
            .or_else(|| hits.find(|(_, (s, _))| s == "*"))
            .map(|(_, (_, v))| v)
    }

    /// Every (field, value) pair, for checking values against the CDISC codelists.
    pub fn values(&self) -> Vec<(&str, &str)> {
        let mut out = Vec::new();
        let all = self
            .exact
            .values()
            .chain(self.prefixes.values())
            .flatten()
            .chain(self.patterns.iter().map(|(_, e)| e))
            .map(|(_, v)| v);
        for vals in all {
            for (f, v) in self.fields.iter().zip(vals) {
                if let Some(v) = v {
                    out.push((f.as_str(), v.as_str()));
                }
            }
        }
        out
    }
}

#[derive(Debug, Default)]
pub struct SdtmSpec {
    pub domains: Vec<Domain>,
    pub terminology: BTreeMap<String, Terminology>,
    /// Display path → where it came from (`embedded` or the override folder).
    pub files: BTreeMap<String, String>,
}

struct Source {
    rel: String,
    display: String,
    text: String,
    origin: String,
}

fn gather(overrides: Option<&Path>) -> (Vec<Source>, Vec<Diagnostic>) {
    let mut files: BTreeMap<String, Source> = BTreeMap::new();
    let mut diags = Vec::new();
    for (folder, _) in FOLDERS {
        if let Some(dir) = EMBEDDED.get_dir(folder) {
            for f in dir.files() {
                let rel = f.path().to_string_lossy().replace('\\', "/");
                if rel.ends_with(".yaml") {
                    files.insert(
                        rel.clone(),
                        Source {
                            display: format!("mappings/sdtm/{rel}"),
                            rel,
                            text: f.contents_utf8().unwrap_or_default().to_owned(),
                            origin: "embedded".into(),
                        },
                    );
                }
            }
        }
    }
    if let Some(root) = overrides {
        if !root.is_dir() {
            diags.push(Diagnostic::error(
                "M300",
                "SDTM mappings folder does not exist",
                Location::file(root),
            ));
        }
        for (folder, _) in FOLDERS {
            let Ok(rd) = std::fs::read_dir(root.join(folder)) else {
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
                            Source {
                                rel,
                                display: p.display().to_string(),
                                text,
                                origin: root.display().to_string(),
                            },
                        );
                    }
                    Err(e) => diags.push(Diagnostic::error(
                        "M300",
                        format!("cannot read mapping file: {e}"),
                        Location::file(&p),
                    )),
                }
            }
        }
    }
    (files.into_values().collect(), diags)
}

struct Ctx<'d> {
    doc: &'d Doc,
    file: &'d str,
    diags: Vec<Diagnostic>,
}

impl Ctx<'_> {
    fn at(&self, pointer: &str) -> Location {
        let (line, col) = self.doc.position(pointer);
        let mut l = Location::file(self.file).with_line(line);
        l.column = Some(col);
        l
    }
    fn err(&mut self, code: &'static str, msg: impl Into<String>, pointer: &str) {
        let d = Diagnostic::error(code, msg, self.at(pointer));
        self.diags.push(d);
    }
    fn err_help(
        &mut self,
        code: &'static str,
        msg: impl Into<String>,
        pointer: &str,
        help: impl Into<String>,
    ) {
        let d = Diagnostic::error(code, msg, self.at(pointer)).help(help);
        self.diags.push(d);
    }
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

fn opt(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
}

/// Every FHIRPath string of a view, with its JSON pointer.
fn view_expressions(v: &Value, ptr: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                let p = format!("{ptr}/{k}");
                match (k.as_str(), x) {
                    ("path" | "forEach" | "forEachOrNull", Value::String(e)) => {
                        out.push((p, e.clone()))
                    }
                    _ => view_expressions(x, &p, out),
                }
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                view_expressions(x, &format!("{ptr}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn calls<'e>(e: &'e Expr, out: &mut Vec<(&'e str, &'e [Expr])>) {
    match e {
        Expr::Call(input, name, args) => {
            out.push((name.as_str(), args.as_slice()));
            if let Some(i) = input {
                calls(i, out);
            }
            for a in args {
                calls(a, out);
            }
        }
        Expr::Member(a, _) | Expr::Neg(a) | Expr::Is(a, _) | Expr::As(a, _) => calls(a, out),
        Expr::Indexer(a, b) | Expr::Binary(_, a, b) => {
            calls(a, out);
            calls(b, out);
        }
        _ => {}
    }
}

impl SdtmSpec {
    /// The embedded SDTM mappings, overridden file by file by `overrides`.
    pub fn load(overrides: Option<&Path>) -> Result<SdtmSpec, Vec<Diagnostic>> {
        let (files, mut diags) = gather(overrides);
        let validator = yaml::validator(SCHEMA).map_err(|e| {
            vec![Diagnostic::error(
                "M302",
                format!("SDTM schema {e}"),
                Location::default(),
            )]
        })?;
        let mut spec = SdtmSpec::default();
        let mut docs = Vec::new();
        for f in &files {
            spec.files.insert(f.display.clone(), f.origin.clone());
            let doc = match yaml::parse(&f.text) {
                Ok(d) => d,
                Err(e) => {
                    let mut l = Location::file(&f.display).with_line(e.line);
                    l.column = Some(e.column);
                    diags.push(Diagnostic::error(
                        "M301",
                        format!("not valid YAML: {}", e.message),
                        l,
                    ));
                    continue;
                }
            };
            let mut ok = true;
            for e in validator.iter_errors(&doc.value) {
                ok = false;
                let ptr = e.instance_path().to_string();
                let (line, col) = doc.position(&ptr);
                let mut l = Location::file(&f.display).with_line(line);
                l.column = Some(col);
                diags.push(Diagnostic::error(
                    "M302",
                    format!("{e} (at {})", if ptr.is_empty() { "/" } else { &ptr }),
                    l,
                ));
            }
            if ok {
                docs.push((f, doc));
            }
        }
        // Terminology first: domains refer to it.
        for (f, doc) in &docs {
            if doc.value["kind"] != "sdtm-terminology" {
                continue;
            }
            let mut cx = Ctx {
                doc,
                file: &f.display,
                diags: Vec::new(),
            };
            check_name(&mut cx, &f.rel, "terminology");
            let t = load_terminology(&mut cx);
            diags.extend(cx.diags);
            spec.terminology.insert(t.name.clone(), t);
        }
        let functions = SdtmFunctions::new(spec.terminology.clone(), false);
        let mut seen_domains = HashMap::new();
        for (f, doc) in &docs {
            if doc.value["kind"] != "sdtm-domain" {
                continue;
            }
            let mut cx = Ctx {
                doc,
                file: &f.display,
                diags: Vec::new(),
            };
            check_name(&mut cx, &f.rel, "domains");
            if let Some(d) = load_domain(&mut cx, &functions, &spec.terminology) {
                if let Some(prev) = seen_domains.insert(d.domain.clone(), d.file.clone()) {
                    cx.err(
                        "M303",
                        format!("domain {} is also defined in {prev}", d.domain),
                        "/domain",
                    );
                } else {
                    spec.domains.push(d);
                }
            }
            diags.extend(cx.diags);
        }
        if diags.iter().any(Diagnostic::is_error) {
            return Err(diags);
        }
        // Subject-level (DM) first: the other domains need its reference dates.
        spec.domains
            .sort_by_key(|d| (!d.derive.subject_level, d.domain.clone()));
        Ok(spec)
    }

    pub fn functions(&self, keep_offset: bool) -> SdtmFunctions {
        SdtmFunctions::new(self.terminology.clone(), keep_offset)
    }
}

/// The `%` values a view may use beyond its own constants, from the study file
/// (`%study_id`, `%study_products`).
pub fn externals(study: Option<&super::study::Study>) -> Vec<(String, Vec<Item<'static>>)> {
    let id = study.map(|s| s.study_id.clone()).unwrap_or_default();
    let products = study.map(|s| s.study_products.clone()).unwrap_or_default();
    vec![
        ("study_id".into(), vec![Item::Str(id)]),
        (
            "study_products".into(),
            products.into_iter().map(Item::Str).collect(),
        ),
    ]
}

fn check_name(cx: &mut Ctx, rel: &str, folder: &str) {
    let name = s(&cx.doc.value["name"]);
    let stem = rel
        .rsplit('/')
        .next()
        .unwrap_or("")
        .trim_end_matches(".yaml");
    if stem != name {
        cx.err(
            "M303",
            format!("name {name:?} differs from the file name {stem:?}"),
            "/name",
        );
    }
    if !rel.starts_with(&format!("{folder}/")) {
        cx.err(
            "M303",
            format!("this kind of file belongs in {folder}/"),
            "/kind",
        );
    }
}

fn load_terminology(cx: &mut Ctx) -> Terminology {
    let v = cx.doc.value.clone();
    let mut t = Terminology {
        name: s(&v["name"]),
        file: cx.file.to_owned(),
        fields: v["fields"]
            .as_array()
            .into_iter()
            .flatten()
            .map(s)
            .collect(),
        ..Terminology::default()
    };
    for (k, c) in v["codelists"].as_object().into_iter().flatten() {
        if !t.fields.contains(k) {
            cx.err(
                "M304",
                format!("codelist given for unknown field {k}"),
                &format!("/codelists/{k}"),
            );
        }
        t.codelists.insert(k.clone(), s(c));
    }
    for (k, xs) in v["extensions"].as_object().into_iter().flatten() {
        t.extensions.insert(
            k.clone(),
            xs.as_array().into_iter().flatten().map(s).collect(),
        );
    }
    let systems: HashMap<String, String> = v["systems"]
        .as_object()
        .map(|o| o.iter().map(|(k, x)| (k.clone(), s(x))).collect())
        .unwrap_or_default();
    t.has_systems = v.get("systems").is_some();
    let lead = if t.has_systems { 2 } else { 1 };
    let mut seen = HashSet::new();
    for (i, e) in v["entries"].as_array().into_iter().flatten().enumerate() {
        let ptr = format!("/entries/{i}");
        let cells: Vec<Option<String>> = e
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| match c {
                Value::Null => None,
                Value::String(x) => Some(x.clone()),
                other => Some(other.to_string()),
            })
            .collect();
        if cells.len() != lead + t.fields.len() {
            cx.err(
                "M304",
                format!(
                    "entry has {} cells, expected {} ({}code + {})",
                    cells.len(),
                    lead + t.fields.len(),
                    if t.has_systems { "system, " } else { "" },
                    t.fields.join(", ")
                ),
                &ptr,
            );
            continue;
        }
        let system = if t.has_systems {
            let alias = cells[0].clone().unwrap_or_default();
            if alias == "*" {
                "*".to_owned()
            } else {
                match systems.get(&alias) {
                    Some(uri) => uri.clone(),
                    None => {
                        cx.err_help(
                            "M304",
                            format!("unknown system alias {alias}"),
                            &format!("{ptr}/0"),
                            format!(
                                "declare it under systems: (known: {})",
                                systems.keys().cloned().collect::<Vec<_>>().join(", ")
                            ),
                        );
                        continue;
                    }
                }
            }
        } else {
            "*".to_owned()
        };
        let Some(code) = cells[lead - 1].clone() else {
            cx.err("M304", "entry without a code", &ptr);
            continue;
        };
        if !seen.insert((system.clone(), code.clone())) {
            cx.err("M304", format!("code {code} listed twice"), &ptr);
            continue;
        }
        let vals = cells[lead..].to_vec();
        if code.contains('?') {
            if code.ends_with('*') {
                cx.err_help(
                    "M304",
                    format!("code {code} mixes `?` positions with a `*` prefix"),
                    &ptr,
                    "a `?` pattern matches codes of exactly its length; spell the tail out with `?`",
                );
                continue;
            }
            t.patterns.push((code.into_bytes(), (system, vals)));
            continue;
        }
        match code.strip_suffix('*') {
            Some(p) => {
                if !t.prefix_lengths.contains(&p.len()) {
                    t.prefix_lengths.push(p.len());
                }
                t.prefixes
                    .entry(p.to_owned())
                    .or_default()
                    .push((system, vals));
            }
            None => t.exact.entry(code).or_default().push((system, vals)),
        }
    }
    t.prefix_lengths.sort_unstable_by(|a, b| b.cmp(a));
    // Most specific (fewest `?`) first; the sort is stable, so file order breaks ties.
    t.patterns
        .sort_by_key(|(p, _)| p.iter().filter(|c| **c == b'?').count());
    t
}

fn load_domain(
    cx: &mut Ctx,
    functions: &SdtmFunctions,
    terms: &BTreeMap<String, Terminology>,
) -> Option<Domain> {
    let v = cx.doc.value.clone();
    let mut d = Domain {
        file: cx.file.to_owned(),
        domain: s(&v["domain"]),
        label: s(&v["label"]),
        class: s(&v["class"]),
        structure: s(&v["structure"]),
        keys: v["keys"].as_array().into_iter().flatten().map(s).collect(),
        views: Vec::new(),
        variables: Vec::new(),
        supp: Vec::new(),
        derive: Derive::default(),
        view_lines: Vec::new(),
        view_json: Vec::new(),
        column_tables: BTreeMap::new(),
    };
    for (i, x) in v["variables"].as_array().into_iter().flatten().enumerate() {
        let name = s(&x["name"]);
        if d.variables.iter().any(|v: &Variable| v.name == name) {
            cx.err(
                "M305",
                format!("variable {name} declared twice"),
                &format!("/variables/{i}/name"),
            );
        }
        d.variables.push(Variable {
            name,
            label: s(&x["label"]),
            ty: if x["type"] == "Num" {
                VarType::Num
            } else {
                VarType::Char
            },
            core: s(&x["core"]),
            codelist: opt(&x["codelist"]),
            origin: opt(&x["origin"]).unwrap_or_else(|| "Collected".into()),
            method: opt(&x["method"]),
            ascii_fallback: match &x["ascii_fallback"] {
                Value::Array(a) => a.iter().map(s).collect(),
                other => opt(other).into_iter().collect(),
            },
        });
    }
    for (i, x) in v["supp"].as_array().into_iter().flatten().enumerate() {
        let _ = i;
        d.supp.push(Supp {
            qnam: s(&x["qnam"]),
            qlabel: s(&x["qlabel"]),
            column: s(&x["column"]),
            qorig: opt(&x["qorig"]).unwrap_or_else(|| "Collected".into()),
        });
    }
    let dv = &v["derive"];
    d.derive.seq = opt(&dv["seq"]);
    d.derive.subject_level = dv["subject_level"].as_bool().unwrap_or(false);
    d.derive.coverage_lab = dv["coverage"].as_str() == Some("lab");
    d.derive.coverage_name = opt(&dv["coverage_name"]);
    if dv["reference_period"].is_object() {
        let r = &dv["reference_period"];
        d.derive.reference_period = Some((s(&r["dtc"]), r["keep"] == "before"));
    }
    d.derive.unmapped_by = dv["unmapped_by"]
        .as_array()
        .into_iter()
        .flatten()
        .map(s)
        .collect();
    if dv["entry_record"].is_object() {
        let r = &dv["entry_record"];
        let values = r["values"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), s(v)))
            .collect();
        d.derive.entry_record = Some((s(&r["dtc"]), values));
    }
    d.derive.epoch = opt(&dv["epoch"]);
    for (k, x) in dv["study_days"].as_object().into_iter().flatten() {
        d.derive.study_days.push((k.clone(), s(x)));
    }
    if dv["visit"].is_object() {
        d.derive.visit = Some((opt(&dv["visit"]["encounter"]), s(&dv["visit"]["dtc"])));
    }
    if dv["last_before_exposure"].is_object() {
        let l = &dv["last_before_exposure"];
        d.derive.last_before_exposure = Some((s(&l["flag"]), s(&l["by"]), s(&l["dtc"])));
    }
    if dv["daily_summary"].is_object() {
        let x = &dv["daily_summary"];
        d.derive.daily_summary = Some(DailySummary {
            dtc: s(&x["dtc"]),
            by: x["by"].as_array().into_iter().flatten().map(s).collect(),
            count: s(&x["count"]),
            flag: s(&x["flag"]),
        });
    }
    if dv["results"].is_object() {
        let r = &dv["results"];
        d.derive.results = Some(Results {
            orres: s(&r["orres"]),
            orresu: s(&r["orresu"]),
            ucum: opt(&r["ucum"]),
            standard_unit: opt(&r["standard_unit"]),
            stresc: s(&r["stresc"]),
            stresc_coded: opt(&r["stresc_coded"]),
            stresn: s(&r["stresn"]),
            stresu: s(&r["stresu"]),
            ornrlo: opt(&r["ornrlo"]),
            ornrhi: opt(&r["ornrhi"]),
            stnrlo: opt(&r["stnrlo"]),
            stnrhi: opt(&r["stnrhi"]),
            nrind: opt(&r["nrind"]),
        });
    }
    // Views: compile, and check lookup tables/fields.
    let mut columns: Vec<HashSet<String>> = Vec::new();
    for (i, view) in v["views"].as_array().into_iter().flatten().enumerate() {
        let ptr = format!("/views/{i}");
        let mut exprs = Vec::new();
        view_expressions(view, &ptr, &mut exprs);
        for (p, text) in &exprs {
            let Ok(e) = parse(text) else { continue };
            let mut cs = Vec::new();
            calls(&e, &mut cs);
            for (name, args) in cs {
                if name == "translit" {
                    match args.first() {
                        Some(Expr::Str(table)) if terms.contains_key(table) => {}
                        Some(Expr::Str(table)) => cx.err(
                            "M306",
                            format!("unknown terminology table {table:?} in translit()"),
                            p,
                        ),
                        _ => cx.err("M306", "translit() takes a table name literal", p),
                    }
                    continue;
                }
                if name != "lookup" {
                    continue;
                }
                let (Some(Expr::Str(table)), Some(Expr::Str(field))) = (args.first(), args.get(1))
                else {
                    cx.err(
                        "M306",
                        "lookup() takes two string literals: table and field",
                        p,
                    );
                    continue;
                };
                if let Some(col) = p
                    .strip_suffix("/path")
                    .and_then(|c| view.pointer(&format!("{}/name", &c[ptr.len()..])))
                    .and_then(Value::as_str)
                {
                    let e = d.column_tables.entry(col.to_owned()).or_default();
                    if !e.contains(table) {
                        e.push(table.clone());
                    }
                }
                match terms.get(table) {
                    None => {
                        cx.err_help(
                            "M306",
                            format!("unknown terminology table {table:?}"),
                            p,
                            format!(
                                "known: {}",
                                terms.keys().cloned().collect::<Vec<_>>().join(", ")
                            ),
                        );
                    }
                    Some(t) if !t.fields.contains(field) => {
                        cx.err_help(
                            "M306",
                            format!("table {table} has no field {field:?}"),
                            p,
                            format!("its fields: {}", t.fields.join(", ")),
                        );
                    }
                    _ => {}
                }
            }
        }
        let mut vd = view.clone();
        vd["resourceType"] = Value::from("ViewDefinition");
        match View::compile_with(&vd, functions, &externals(None)) {
            Ok(compiled) => {
                d.view_json.push(vd.clone());
                columns.push(compiled.columns().iter().map(|c| c.name.clone()).collect());
                d.views.push(compiled);
                d.view_lines.push(cx.doc.position(&ptr).0);
            }
            Err(e) => {
                cx.err(
                    "M307",
                    format!("view does not compile: {}", e.message),
                    &format!("{ptr}{}", e.pointer),
                );
            }
        }
    }
    if columns.len() != d.views.len() {
        return None;
    }
    let all_cols: HashSet<&String> = columns.iter().flatten().collect();
    // Every variable needs a source: a view column, a derivation, or the engine.
    let mut derived: HashSet<String> = [
        "STUDYID", "DOMAIN", "USUBJID", "SUBJID", "SITEID", "VISITNUM", "VISIT", "EPOCH",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    derived.extend(d.derive.seq.iter().cloned());
    derived.extend(d.derive.daily_summary.iter().map(|s| s.flag.clone()));
    derived.extend(d.derive.study_days.iter().map(|(_, dy)| dy.clone()));
    derived.extend(
        d.derive
            .last_before_exposure
            .iter()
            .map(|(f, _, _)| f.clone()),
    );
    if let Some(r) = &d.derive.results {
        derived.extend([r.stresc.clone(), r.stresn.clone(), r.stresu.clone()]);
        derived.extend(r.stnrlo.iter().chain(&r.stnrhi).chain(&r.nrind).cloned());
    }
    if d.derive.subject_level {
        derived.extend(
            [
                "RFSTDTC", "RFENDTC", "RFXSTDTC", "RFXENDTC", "AGE", "AGEU", "DMDY", "ARMCD",
                "ARM", "ACTARMCD", "ACTARM", "ARMNRS", "ACTARMUD", "RFICDTC", "RFPENDTC",
                "COUNTRY",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
    }
    for (i, var) in d.variables.clone().iter().enumerate() {
        if !all_cols.contains(&var.name) && !derived.contains(&var.name) {
            cx.err(
                "M305",
                format!(
                    "variable {} has no source: no view column and no derivation fills it",
                    var.name
                ),
                &format!("/variables/{i}/name"),
            );
        }
        for fb in &var.ascii_fallback {
            if !all_cols.contains(fb) {
                cx.err(
                    "M305",
                    format!("ascii_fallback column {fb:?} is not a view column"),
                    &format!("/variables/{i}/ascii_fallback"),
                );
            }
        }
        if !var.name.starts_with(&d.domain)
            && ![
                "STUDYID", "DOMAIN", "USUBJID", "SUBJID", "SITEID", "VISITNUM", "VISIT", "VISITDY",
                "EPOCH",
            ]
            .contains(&var.name.as_str())
            && !d.derive.subject_level
        {
            cx.err(
                "M305",
                format!(
                    "variable {} does not start with the domain prefix {}",
                    var.name, d.domain
                ),
                &format!("/variables/{i}/name"),
            );
        }
    }
    for c in &all_cols {
        let sdtm_like = c.chars().next().is_some_and(|ch| ch.is_ascii_uppercase());
        if sdtm_like && d.variable(c).is_none() {
            cx.err_help("M305", format!("view column {c} looks like an SDTM variable but is not declared under variables"), "/views", "declare it, or name helper columns in lower case");
        }
    }
    for (i, k) in d.keys.clone().iter().enumerate() {
        if d.variable(k).is_none() {
            cx.err(
                "M305",
                format!("key {k} is not a declared variable"),
                &format!("/keys/{i}"),
            );
        }
    }
    let check_var = |cx: &mut Ctx, name: &str, ptr: &str, d: &Domain| {
        if d.variable(name).is_none() {
            cx.err(
                "M308",
                format!("derivation names {name}, which is not a declared variable"),
                ptr,
            );
        }
    };
    if let Some(seq) = d.derive.seq.clone() {
        check_var(cx, &seq, "/derive/seq", &d);
    }
    for (dtc, dy) in d.derive.study_days.clone() {
        check_var(cx, &dtc, "/derive/study_days", &d);
        check_var(cx, &dy, "/derive/study_days", &d);
    }
    if let Some(r) = d.derive.results.clone() {
        for v in [&r.orres, &r.orresu, &r.stresc, &r.stresn, &r.stresu]
            .into_iter()
            .chain(r.ornrlo.iter())
            .chain(r.ornrhi.iter())
            .chain(r.stnrlo.iter())
            .chain(r.stnrhi.iter())
            .chain(r.nrind.iter())
        {
            check_var(cx, v, "/derive/results", &d);
        }
        for h in r
            .ucum
            .iter()
            .chain(r.standard_unit.iter())
            .chain(r.stresc_coded.iter())
        {
            if !all_cols.contains(h) {
                cx.err(
                    "M308",
                    format!("helper column {h:?} is not a view column"),
                    "/derive/results",
                );
            }
        }
    }
    if let Some(v) = d.derive.coverage_name.clone() {
        check_var(cx, &v, "/derive/coverage_name", &d);
    }
    if let Some(ds) = d.derive.daily_summary.clone() {
        check_var(cx, &ds.dtc, "/derive/daily_summary/dtc", &d);
        check_var(cx, &ds.flag, "/derive/daily_summary/flag", &d);
        for b in &ds.by {
            check_var(cx, b, "/derive/daily_summary/by", &d);
        }
        if !all_cols.contains(&ds.count) {
            cx.err(
                "M308",
                format!("helper column {:?} is not a view column", ds.count),
                "/derive/daily_summary/count",
            );
        }
        if d.derive.results.is_none() {
            cx.err(
                "M308",
                "daily_summary averages the standard results: it needs derive.results",
                "/derive/daily_summary",
            );
        }
    }
    if let Some((dtc, _)) = d.derive.reference_period.clone() {
        check_var(cx, &dtc, "/derive/reference_period/dtc", &d);
    }
    if let Some((dtc, values)) = d.derive.entry_record.clone() {
        check_var(cx, &dtc, "/derive/entry_record/dtc", &d);
        for (k, _) in &values {
            check_var(cx, k, &format!("/derive/entry_record/values/{k}"), &d);
        }
    }
    for (i, c) in d.derive.unmapped_by.iter().enumerate() {
        if !all_cols.contains(c) {
            cx.err(
                "M308",
                format!("unmapped_by column {c:?} is not a view column"),
                &format!("/derive/unmapped_by/{i}"),
            );
        }
    }
    for s in d.supp.clone() {
        if !all_cols.contains(&s.column) {
            cx.err(
                "M308",
                format!(
                    "supp {} reads column {:?}, which no view has",
                    s.qnam, s.column
                ),
                "/supp",
            );
        }
    }
    Some(d)
}
