//! SQL-on-FHIR v2 ViewDefinition: compile once (every expression parsed and checked, every
//! constant and column name validated), then run per resource into rows.

use std::collections::HashMap;

use serde_json::Value;

use super::eval::{check, evaluate, Env, Functions, Resolver};
use super::parser::{parse, Expr};
use super::temporal::{Kind, Temporal};
use super::value::{parse_decimal, to_json, Coll, Item};
use super::FhirPathError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewError {
    /// JSON pointer of the offending part of the view (`/select/0/column/1/path`).
    pub pointer: String,
    pub message: String,
}

impl std::fmt::Display for ViewError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.pointer, self.message)
    }
}

fn verr(pointer: &str, message: impl Into<String>) -> ViewError {
    ViewError {
        pointer: pointer.to_owned(),
        message: message.into(),
    }
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub path: String,
    /// The declared FHIR/SQL type (`string`, `integer`, `decimal`, `boolean`, `date` …).
    pub ty: Option<String>,
    pub collection: bool,
    /// Anything else the column carries (descriptions, SDTM extensions): left to callers.
    pub extra: serde_json::Map<String, Value>,
    expr: Expr,
}

#[derive(Debug, Clone, Default)]
struct Select {
    for_each: Option<(Expr, bool)>,
    repeat: Vec<Expr>,
    columns: Vec<Column>,
    selects: Vec<Select>,
    union_all: Vec<Select>,
}

#[derive(Debug, Clone)]
pub struct View {
    pub name: Option<String>,
    pub resource: String,
    root: Select,
    wheres: Vec<Expr>,
    constants: HashMap<String, Vec<Item<'static>>>,
    names: Vec<String>,
}

impl Select {
    fn column_list(&self) -> Vec<&Column> {
        let mut out: Vec<&Column> = self.columns.iter().collect();
        for s in &self.selects {
            out.extend(s.column_list());
        }
        if let Some(first) = self.union_all.first() {
            out.extend(first.column_list());
        }
        out
    }
}

fn constant_item(c: &Value, ptr: &str) -> Result<(String, Item<'static>), ViewError> {
    let o = c
        .as_object()
        .ok_or_else(|| verr(ptr, "a constant must be an object"))?;
    let name = o
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| verr(ptr, "a constant needs a `name`"))?;
    let (key, v) = o
        .iter()
        .find(|(k, _)| k.starts_with("value"))
        .ok_or_else(|| verr(ptr, format!("constant `{name}` has no value[x]")))?;
    let ty = &key[5..];
    let item = match (ty, v) {
        ("Boolean", Value::Bool(b)) => Item::Bool(*b),
        ("Integer" | "PositiveInt" | "UnsignedInt", Value::Number(n)) => Item::Int(
            n.as_i64()
                .ok_or_else(|| verr(ptr, "integer constant out of range"))?,
        ),
        ("Decimal", Value::Number(n)) => Item::Dec(
            parse_decimal(&n.to_string()).ok_or_else(|| verr(ptr, "bad decimal constant"))?,
        ),
        ("Date", Value::String(s)) => Item::Temporal(
            Temporal::parse(s, Kind::Date).ok_or_else(|| verr(ptr, "bad date constant"))?,
        ),
        ("DateTime" | "Instant", Value::String(s)) => Item::Temporal(
            Temporal::parse(s, Kind::DateTime).ok_or_else(|| verr(ptr, "bad dateTime constant"))?,
        ),
        ("Time", Value::String(s)) => Item::Temporal(
            Temporal::parse(s, Kind::Time).ok_or_else(|| verr(ptr, "bad time constant"))?,
        ),
        (_, Value::String(s)) => Item::Str(s.clone()),
        _ => return Err(verr(ptr, format!("constant `{name}`: unsupported {key}"))),
    };
    Ok((name.to_owned(), item))
}

const RESERVED_VARS: &[&str] = &[
    "rowIndex",
    "resource",
    "context",
    "rootResource",
    "ucum",
    "sct",
    "loinc",
];

struct Compiler<'f> {
    functions: &'f dyn Functions,
    constants: Vec<String>,
}

impl Compiler<'_> {
    fn expr(&self, v: Option<&Value>, ptr: &str) -> Result<Expr, ViewError> {
        let s = v
            .and_then(Value::as_str)
            .ok_or_else(|| verr(ptr, "a FHIRPath expression (string) is required"))?;
        let e = parse(s).map_err(|e| verr(ptr, e.to_string()))?;
        check(&e, self.functions).map_err(|e| verr(ptr, e.to_string()))?;
        let mut bad = None;
        visit_vars(&e, &mut |name| {
            if !RESERVED_VARS.contains(&name) && !self.constants.iter().any(|c| c == name) {
                bad.get_or_insert_with(|| name.to_owned());
            }
        });
        if let Some(name) = bad {
            return Err(verr(ptr, format!("undefined constant `%{name}`")));
        }
        Ok(e)
    }

    fn select(&self, v: &Value, ptr: &str) -> Result<Select, ViewError> {
        let o = v
            .as_object()
            .ok_or_else(|| verr(ptr, "a select must be an object"))?;
        let mut s = Select::default();
        let fe = o.get("forEach");
        let fon = o.get("forEachOrNull");
        if fe.is_some() && fon.is_some() {
            return Err(verr(ptr, "forEach and forEachOrNull are exclusive"));
        }
        if let Some(f) = fe {
            s.for_each = Some((self.expr(Some(f), &format!("{ptr}/forEach"))?, false));
        }
        if let Some(f) = fon {
            s.for_each = Some((self.expr(Some(f), &format!("{ptr}/forEachOrNull"))?, true));
        }
        if let Some(r) = o.get("repeat") {
            let arr = r
                .as_array()
                .ok_or_else(|| verr(&format!("{ptr}/repeat"), "repeat is a list of paths"))?;
            for (i, p) in arr.iter().enumerate() {
                s.repeat
                    .push(self.expr(Some(p), &format!("{ptr}/repeat/{i}"))?);
            }
        }
        if let Some(cols) = o.get("column") {
            let arr = cols
                .as_array()
                .ok_or_else(|| verr(&format!("{ptr}/column"), "column is a list"))?;
            for (i, c) in arr.iter().enumerate() {
                let cp = format!("{ptr}/column/{i}");
                let co = c
                    .as_object()
                    .ok_or_else(|| verr(&cp, "a column must be an object"))?;
                let name = co
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| verr(&cp, "a column needs a `name`"))?;
                let valid = name.starts_with(|c: char| c.is_ascii_alphabetic())
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !valid {
                    return Err(verr(
                        &cp,
                        format!("column name `{name}` is not a valid identifier"),
                    ));
                }
                let expr = self.expr(co.get("path"), &format!("{cp}/path"))?;
                let collection = match co.get("collection") {
                    None => false,
                    Some(Value::Bool(b)) => *b,
                    Some(_) => return Err(verr(&cp, "collection must be a boolean")),
                };
                let mut extra = co.clone();
                for k in ["name", "path", "type", "collection"] {
                    extra.remove(k);
                }
                s.columns.push(Column {
                    name: name.to_owned(),
                    path: co
                        .get("path")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                    ty: co.get("type").and_then(Value::as_str).map(str::to_owned),
                    collection,
                    extra,
                    expr,
                });
            }
        }
        for (key, target) in [("select", &mut s.selects), ("unionAll", &mut s.union_all)] {
            if let Some(sel) = o.get(key) {
                let arr = sel
                    .as_array()
                    .ok_or_else(|| verr(&format!("{ptr}/{key}"), format!("{key} is a list")))?;
                for (i, x) in arr.iter().enumerate() {
                    target.push(self.select(x, &format!("{ptr}/{key}/{i}"))?);
                }
            }
        }
        if let Some(first) = s.union_all.first() {
            let names: Vec<&str> = first
                .column_list()
                .iter()
                .map(|c| c.name.as_str())
                .collect();
            for (i, u) in s.union_all.iter().enumerate().skip(1) {
                let other: Vec<&str> = u.column_list().iter().map(|c| c.name.as_str()).collect();
                if other != names {
                    return Err(verr(
                        &format!("{ptr}/unionAll/{i}"),
                        format!(
                            "unionAll branches must have the same columns: {names:?} vs {other:?}"
                        ),
                    ));
                }
            }
        }
        Ok(s)
    }
}

fn visit_vars(e: &Expr, f: &mut dyn FnMut(&str)) {
    match e {
        Expr::Var(v) => f(v),
        Expr::Member(a, _) | Expr::Neg(a) | Expr::Is(a, _) | Expr::As(a, _) => visit_vars(a, f),
        Expr::Call(i, _, args) => {
            if let Some(i) = i {
                visit_vars(i, f);
            }
            for a in args {
                visit_vars(a, f);
            }
        }
        Expr::Indexer(a, b) | Expr::Binary(_, a, b) => {
            visit_vars(a, f);
            visit_vars(b, f);
        }
        _ => {}
    }
}

type Row = Vec<Value>;

impl View {
    /// Compiles a ViewDefinition (with or without `resourceType`).
    pub fn compile(v: &Value, functions: &dyn Functions) -> Result<View, ViewError> {
        View::compile_with(v, functions, &[])
    }

    /// Compiles with extra `%name` values supplied by the caller (study settings such as
    /// `%study_products`), visible like the view's own constants.
    pub fn compile_with(
        v: &Value,
        functions: &dyn Functions,
        external: &[(String, Vec<Item<'static>>)],
    ) -> Result<View, ViewError> {
        let o = v
            .as_object()
            .ok_or_else(|| verr("", "a ViewDefinition must be a JSON object"))?;
        let resource = o
            .get("resource")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                verr(
                    "/resource",
                    "`resource` (the FHIR resource type) is required",
                )
            })?
            .to_owned();
        let mut constants = HashMap::new();
        if let Some(cs) = o.get("constant") {
            let arr = cs
                .as_array()
                .ok_or_else(|| verr("/constant", "constant is a list"))?;
            for (i, c) in arr.iter().enumerate() {
                let (n, item) = constant_item(c, &format!("/constant/{i}"))?;
                constants.insert(n, vec![item]);
            }
        }
        for (n, items) in external {
            constants.entry(n.clone()).or_insert_with(|| items.clone());
        }
        let comp = Compiler {
            functions,
            constants: constants.keys().cloned().collect(),
        };
        let sel = o
            .get("select")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
            .ok_or_else(|| verr("/select", "at least one select is required"))?;
        let mut root = Select::default();
        for (i, s) in sel.iter().enumerate() {
            root.selects.push(comp.select(s, &format!("/select/{i}"))?);
        }
        let mut wheres = Vec::new();
        if let Some(ws) = o.get("where") {
            let arr = ws
                .as_array()
                .ok_or_else(|| verr("/where", "where is a list"))?;
            for (i, w) in arr.iter().enumerate() {
                wheres.push(comp.expr(w.get("path"), &format!("/where/{i}/path"))?);
            }
        }
        let view = View {
            name: o.get("name").and_then(Value::as_str).map(str::to_owned),
            resource,
            root,
            wheres,
            constants,
            names: Vec::new(),
        };
        let mut view = view;
        view.names = view.columns().iter().map(|c| c.name.clone()).collect();
        let mut seen = std::collections::HashSet::new();
        for c in view.columns() {
            if !seen.insert(c.name.as_str()) {
                return Err(verr(
                    "/select",
                    format!("column name `{}` is used twice", c.name),
                ));
            }
        }
        Ok(view)
    }

    /// Column names in output order (computed once).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Columns in output order.
    pub fn columns(&self) -> Vec<&Column> {
        self.root.column_list()
    }

    /// Rows for one resource (none when it is of another type or a `where` excludes it).
    pub fn run(
        &self,
        resource: &Value,
        functions: &dyn Functions,
    ) -> Result<Vec<Row>, FhirPathError> {
        self.run_with(resource, functions, None)
    }

    /// [`View::run`] with a `resolver` for `resolve()` of references to resources other than
    /// the contained ones (`Type/id` → resource).
    pub fn run_with<'a>(
        &self,
        resource: &'a Value,
        functions: &dyn Functions,
        resolver: Option<Resolver<'_, 'a>>,
    ) -> Result<Vec<Row>, FhirPathError> {
        let sc = Scope {
            resource,
            functions,
            resolver,
        };
        if resource.get("resourceType").and_then(Value::as_str) != Some(self.resource.as_str()) {
            return Ok(vec![]);
        }
        let node = Item::Node(resource, None);
        for w in &self.wheres {
            let r = self.eval(w, Some(&node), 0, &sc)?;
            match r.as_slice() {
                [] => return Ok(vec![]),
                [one] => match one.prim() {
                    Item::Bool(true) => {}
                    Item::Bool(false) => return Ok(vec![]),
                    _ => {
                        return Err(FhirPathError::Execution(
                            "a `where` path must give a boolean".into(),
                        ))
                    }
                },
                _ => {
                    return Err(FhirPathError::Execution(
                        "a `where` path gave several values".into(),
                    ))
                }
            }
        }
        self.rows(&self.root, Some(&node), 0, &sc)
    }

    fn eval<'a>(
        &self,
        e: &Expr,
        focus: Option<&Item<'a>>,
        row_index: i64,
        sc: &Scope<'a, '_>,
    ) -> Result<Coll<'a>, FhirPathError> {
        let vars = |name: &str| -> Option<Coll<'a>> {
            if name == "rowIndex" {
                return Some(vec![Item::Int(row_index)]);
            }
            self.constants.get(name).cloned()
        };
        let env = Env {
            resource: vec![Item::Node(sc.resource, None)],
            vars: &vars,
            functions: sc.functions,
            resolver: sc.resolver,
        };
        evaluate(e, focus.cloned().into_iter().collect(), &env)
    }

    fn rows<'a>(
        &self,
        s: &Select,
        focus: Option<&Item<'a>>,
        row_index: i64,
        sc: &Scope<'a, '_>,
    ) -> Result<Vec<Row>, FhirPathError> {
        // Below an empty forEachOrNull everything is evaluated on an empty focus: columns
        // become null while `%rowIndex` stays defined (0).
        let foci: Vec<(Option<Item<'a>>, i64)> = match (focus, &s.for_each) {
            (None, _) => vec![(None, 0)],
            (Some(focus), Some((fe, or_null))) => {
                let items = self.eval(fe, Some(focus), row_index, sc)?;
                if items.is_empty() && *or_null {
                    vec![(None, 0)]
                } else {
                    items
                        .into_iter()
                        .enumerate()
                        .map(|(i, x)| (Some(x), i as i64))
                        .collect()
                }
            }
            (Some(focus), None) if !s.repeat.is_empty() => {
                let mut out = Vec::new();
                self.repeat(&s.repeat, focus, sc, &mut out)?;
                out.into_iter()
                    .enumerate()
                    .map(|(i, x)| (Some(x), i as i64))
                    .collect()
            }
            (Some(focus), None) => vec![(Some(focus.clone()), row_index)],
        };
        let mut result = Vec::new();
        for (f, idx) in foci {
            let f = f.as_ref();
            let mut own = Vec::with_capacity(s.columns.len());
            for c in &s.columns {
                let vals = self.eval(&c.expr, f, idx, sc)?;
                own.push(if c.collection {
                    Value::Array(vals.iter().map(to_json).collect())
                } else {
                    match vals.as_slice() {
                        [] => Value::Null,
                        [one] => to_json(one),
                        _ => {
                            return Err(FhirPathError::Execution(format!(
                                "column `{}` gave {} values; declare `collection: true` or narrow the path",
                                c.name,
                                vals.len()
                            )))
                        }
                    }
                });
            }
            let mut parts: Vec<Vec<Row>> = vec![vec![own]];
            for sub in &s.selects {
                parts.push(self.rows(sub, f, idx, sc)?);
            }
            if !s.union_all.is_empty() {
                let mut u = Vec::new();
                // An empty focus gives one null row, not one per branch.
                let branches = if f.is_some() {
                    &s.union_all[..]
                } else {
                    &s.union_all[..1]
                };
                for branch in branches {
                    u.extend(self.rows(branch, f, idx, sc)?);
                }
                parts.push(u);
            }
            let mut acc: Vec<Row> = vec![vec![]];
            for p in parts {
                let mut next = Vec::with_capacity(acc.len() * p.len());
                for a in &acc {
                    for r in &p {
                        let mut row = a.clone();
                        row.extend(r.iter().cloned());
                        next.push(row);
                    }
                }
                acc = next;
            }
            result.extend(acc);
        }
        Ok(result)
    }

    fn repeat<'a>(
        &self,
        paths: &[Expr],
        focus: &Item<'a>,
        sc: &Scope<'a, '_>,
        out: &mut Vec<Item<'a>>,
    ) -> Result<(), FhirPathError> {
        for p in paths {
            for item in self.eval(p, Some(focus), 0, sc)? {
                out.push(item.clone());
                self.repeat(paths, &item, sc, out)?;
            }
        }
        Ok(())
    }
}

/// What every expression of one resource's evaluation shares.
struct Scope<'a, 's> {
    resource: &'a Value,
    functions: &'s dyn Functions,
    resolver: Option<Resolver<'s, 'a>>,
}
