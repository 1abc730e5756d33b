//! Evaluating a parsed FHIRPath expression over borrowed FHIR JSON.
//!
//! Collections are `Vec<Item>`; nodes are borrowed from the input and typed with the R4
//! element model (`crate::r4model`), so `value.ofType(Quantity)`, `is(code)` and choice
//! elements (`value` → `valueQuantity`) resolve without a typed resource model.

use std::cmp::Ordering;

use rust_decimal::prelude::*;
use serde_json::Value;

use super::parser::{BinOp, Expr};
use super::temporal::{Kind, Temporal};
use super::value::{compare, equals, equivalent, number, parse_decimal, Coll, Item};
use super::FhirPathError;

/// Functions a caller adds to the language (SDTM helpers). Arguments arrive evaluated.
pub trait Functions: Sync {
    /// `None` = not one of mine.
    fn call<'a>(
        &self,
        name: &str,
        input: &Coll<'a>,
        args: &[Coll<'a>],
    ) -> Option<Result<Coll<'a>, FhirPathError>>;
    /// Accepted argument counts, for checking expressions before data is read.
    fn arity(&self, name: &str) -> Option<(usize, usize)>;
}

pub struct NoFunctions;
impl Functions for NoFunctions {
    fn call<'a>(
        &self,
        _: &str,
        _: &Coll<'a>,
        _: &[Coll<'a>],
    ) -> Option<Result<Coll<'a>, FhirPathError>> {
        None
    }
    fn arity(&self, _: &str) -> Option<(usize, usize)> {
        None
    }
}

/// What `resolve()` asks for a `Type/id` key: the resource, if the caller has it.
pub type Resolver<'e, 'a> = &'e dyn Fn(&str) -> Option<&'a Value>;

/// Everything an evaluation can see besides its focus.
pub struct Env<'a, 'e> {
    /// `%resource`, `%context`, `%rootResource`.
    pub resource: Coll<'a>,
    /// Other `%names` (constants, `%rowIndex`); `None` = undefined (an error).
    pub vars: &'e dyn Fn(&str) -> Option<Coll<'a>>,
    pub functions: &'e dyn Functions,
    /// What `resolve()` finds for a `Type/id` key beyond the resource's own `contained`
    /// (the caller's other resources); `None` = only contained resources resolve.
    pub resolver: Option<Resolver<'e, 'a>>,
}

#[derive(Clone, Default)]
struct Frame<'a> {
    this: Option<Item<'a>>,
    index: Option<i64>,
    total: Option<Coll<'a>>,
}

fn exec(msg: impl Into<String>) -> FhirPathError {
    FhirPathError::Execution(msg.into())
}

pub fn evaluate<'a>(
    expr: &Expr,
    input: Coll<'a>,
    env: &Env<'a, '_>,
) -> Result<Coll<'a>, FhirPathError> {
    let frame = Frame {
        this: input.first().cloned().filter(|_| input.len() == 1),
        ..Frame::default()
    };
    Evaluator { env }.eval(expr, &input, &frame)
}

/// Built-in functions and their argument counts (min, max).
pub const BUILTINS: &[(&str, usize, usize)] = &[
    ("empty", 0, 0),
    ("exists", 0, 1),
    ("all", 1, 1),
    ("allTrue", 0, 0),
    ("anyTrue", 0, 0),
    ("allFalse", 0, 0),
    ("anyFalse", 0, 0),
    ("subsetOf", 1, 1),
    ("supersetOf", 1, 1),
    ("count", 0, 0),
    ("distinct", 0, 0),
    ("isDistinct", 0, 0),
    ("where", 1, 1),
    ("select", 1, 1),
    ("repeat", 1, 1),
    ("ofType", 1, 1),
    ("is", 1, 1),
    ("as", 1, 1),
    ("single", 0, 0),
    ("first", 0, 0),
    ("last", 0, 0),
    ("tail", 0, 0),
    ("skip", 1, 1),
    ("take", 1, 1),
    ("intersect", 1, 1),
    ("exclude", 1, 1),
    ("union", 1, 1),
    ("combine", 1, 1),
    ("iif", 2, 3),
    ("not", 0, 0),
    ("toBoolean", 0, 0),
    ("convertsToBoolean", 0, 0),
    ("toInteger", 0, 0),
    ("convertsToInteger", 0, 0),
    ("toDecimal", 0, 0),
    ("convertsToDecimal", 0, 0),
    ("toString", 0, 0),
    ("convertsToString", 0, 0),
    ("toDate", 0, 0),
    ("convertsToDate", 0, 0),
    ("toDateTime", 0, 0),
    ("convertsToDateTime", 0, 0),
    ("toTime", 0, 0),
    ("convertsToTime", 0, 0),
    ("toQuantity", 0, 1),
    ("convertsToQuantity", 0, 1),
    ("indexOf", 1, 1),
    ("substring", 1, 2),
    ("startsWith", 1, 1),
    ("endsWith", 1, 1),
    ("contains", 1, 1),
    ("upper", 0, 0),
    ("lower", 0, 0),
    ("replace", 2, 2),
    ("matches", 1, 1),
    ("replaceMatches", 2, 2),
    ("length", 0, 0),
    ("toChars", 0, 0),
    ("split", 1, 1),
    ("join", 0, 1),
    ("trim", 0, 0),
    ("abs", 0, 0),
    ("ceiling", 0, 0),
    ("floor", 0, 0),
    ("round", 0, 1),
    ("truncate", 0, 0),
    ("sqrt", 0, 0),
    ("ln", 0, 0),
    ("exp", 0, 0),
    ("log", 1, 1),
    ("power", 1, 1),
    ("sum", 0, 0),
    ("min", 0, 0),
    ("max", 0, 0),
    ("avg", 0, 0),
    ("aggregate", 1, 2),
    ("children", 0, 0),
    ("descendants", 0, 0),
    ("extension", 1, 1),
    ("hasValue", 0, 0),
    ("trace", 1, 2),
    ("now", 0, 0),
    ("today", 0, 0),
    ("timeOfDay", 0, 0),
    ("lowBoundary", 0, 1),
    ("highBoundary", 0, 1),
    ("precision", 0, 0),
    ("getResourceKey", 0, 0),
    ("getReferenceKey", 0, 1),
    ("resolve", 0, 0),
];

/// Checks every function name and argument count in an expression (before data is read).
pub fn check(expr: &Expr, functions: &dyn Functions) -> Result<(), FhirPathError> {
    let mut result = Ok(());
    walk(expr, &mut |e| {
        if let Expr::Call(_, name, args) = e {
            let arity = BUILTINS
                .iter()
                .find(|(n, ..)| n == name)
                .map(|(_, a, b)| (*a, *b))
                .or_else(|| functions.arity(name));
            let ok = match arity {
                None => Err(FhirPathError::Semantic(format!(
                    "unknown function `{name}()`"
                ))),
                Some((lo, hi)) if args.len() < lo || args.len() > hi => {
                    Err(FhirPathError::Semantic(format!(
                        "`{name}()` takes {lo}..={hi} arguments, not {}",
                        args.len()
                    )))
                }
                _ => Ok(()),
            };
            if result.is_ok() {
                result = ok;
            }
        }
    });
    result
}

fn walk(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(e);
    match e {
        Expr::Member(a, _) | Expr::Neg(a) | Expr::Is(a, _) | Expr::As(a, _) => walk(a, f),
        Expr::Call(input, _, args) => {
            if let Some(i) = input {
                walk(i, f);
            }
            for a in args {
                walk(a, f);
            }
        }
        Expr::Indexer(a, b) | Expr::Binary(_, a, b) => {
            walk(a, f);
            walk(b, f);
        }
        _ => {}
    }
}

/// The type name written as a function argument (`ofType(FHIR.Quantity)`).
fn type_arg(e: &Expr) -> Option<String> {
    match e {
        Expr::Ident(s) => Some(s.clone()),
        Expr::Member(a, s) => Some(format!("{}.{s}", type_arg(a)?)),
        _ => None,
    }
}

const PRIMITIVE_SUFFIXES: &[&str] = &[
    "base64Binary",
    "boolean",
    "canonical",
    "code",
    "date",
    "dateTime",
    "decimal",
    "id",
    "instant",
    "integer",
    "markdown",
    "oid",
    "positiveInt",
    "string",
    "time",
    "unsignedInt",
    "uri",
    "url",
    "uuid",
];

/// Type of a choice element from its key suffix (`valueDateTime` → `dateTime`).
fn suffix_type(suffix: &str) -> &str {
    PRIMITIVE_SUFFIXES
        .iter()
        .find(|p| {
            p.len() == suffix.len()
                && p[..1].eq_ignore_ascii_case(&suffix[..1])
                && p[1..] == suffix[1..]
        })
        .copied()
        .unwrap_or(suffix)
}

fn owner_type<'a>(v: &'a Value, ty: Option<&'a str>) -> Option<&'a str> {
    ty.or_else(|| v.get("resourceType").and_then(Value::as_str))
}

/// `item.name`: children of one node, typed from the element model. Naming a choice
/// element by its JSON key (`valueQuantity`) is an error, as the specification says: write
/// `value.ofType(Quantity)`.
pub fn child<'a>(item: &Item<'a>, name: &str, out: &mut Coll<'a>) -> Result<(), FhirPathError> {
    let (node_v, ty) = match item {
        Item::Node(v, ty) => (*v, *ty),
        // A primitive's own children (id, extension) live in its `_name` element.
        Item::PrimExt(_, _, elem) => (*elem, Some("Element")),
        _ => return Ok(()),
    };
    let Value::Object(o) = node_v else {
        return Ok(());
    };
    let owner = owner_type(node_v, ty);
    let index = crate::r4model::global();
    let elem_type = |k: &str| -> Option<&'static str> {
        owner
            .and_then(|ow| index.element(ow, k))
            .map(|e| e.type_name.as_str())
            .filter(|t| *t != "ResourceList")
    };
    let mut push = |v: &'a Value, ext: Option<&'a Value>, t: Option<&'a str>| match (v, ext) {
        (Value::Array(a), ext) => {
            let exts = ext.and_then(Value::as_array);
            for (i, x) in a.iter().enumerate() {
                match exts.and_then(|e| e.get(i)).filter(|e| e.is_object()) {
                    Some(e) => out.push(Item::PrimExt(x, t, e)),
                    None if !x.is_null() => out.push(Item::Node(x, t)),
                    None => {}
                }
            }
        }
        (Value::Null, None) => {}
        (v, Some(e)) if e.is_object() => out.push(Item::PrimExt(v, t, e)),
        (v, _) => out.push(Item::Node(v, t)),
    };
    if let Some((k, v)) = o.get_key_value(name) {
        if is_choice_key(owner, k) {
            return Err(FhirPathError::Semantic(format!(
                "`{k}` is a choice element: write `{}.ofType(…)`",
                choice_base(k)
            )));
        }
        let ext = o.get(&format!("_{name}"));
        push(v, ext, elem_type(k));
        return Ok(());
    }
    if let Some(ext) = o.get(&format!("_{name}")) {
        // Only the element part is present (a primitive with extensions but no value).
        push(&Value::Null, Some(ext), elem_type(name));
        return Ok(());
    }
    for (k, v) in o {
        if k.len() > name.len()
            && k.starts_with(name)
            && k[name.len()..].starts_with(|c: char| c.is_ascii_uppercase())
        {
            let t = elem_type(k).unwrap_or_else(|| suffix_type(&k[name.len()..]));
            let ext = o.get(&format!("_{k}"));
            push(v, ext, Some(t));
        }
    }
    Ok(())
}

/// `valueQuantity` on a type whose model has `value[x]` (precomputed in the model).
fn is_choice_key(owner: Option<&str>, key: &str) -> bool {
    owner.is_some_and(|o| crate::r4model::global().is_choice_key(o, key))
}

fn choice_base(key: &str) -> &str {
    match key
        .char_indices()
        .skip(1)
        .find(|(_, c)| c.is_ascii_uppercase())
    {
        Some((i, _)) => &key[..i],
        None => key,
    }
}

/// Type names `is` / `as` / `ofType` accept.
fn known_type(t: &str) -> bool {
    let name = t.rsplit('.').next().unwrap_or(t);
    matches!(
        name,
        "Boolean"
            | "Integer"
            | "Decimal"
            | "String"
            | "Date"
            | "DateTime"
            | "Time"
            | "Quantity"
            | "Resource"
            | "DomainResource"
            | "Element"
            | "BackboneElement"
    ) || PRIMITIVE_SUFFIXES.contains(&name)
        || (name.starts_with(char::is_uppercase) && crate::r4model::global().has_type(name))
}

fn check_type(t: &str) -> Result<(), FhirPathError> {
    if known_type(t) {
        Ok(())
    } else {
        Err(exec(format!("unknown type `{t}`")))
    }
}

fn bool_of(c: &Coll) -> Result<Option<bool>, FhirPathError> {
    match c.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(match one.prim() {
            Item::Bool(b) => b,
            _ => true,
        })),
        _ => Err(exec(
            "a boolean was expected, found a collection of several items",
        )),
    }
}

fn single<'a, 'c>(c: &'c Coll<'a>, what: &str) -> Result<Option<&'c Item<'a>>, FhirPathError> {
    match c.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        _ => Err(exec(format!(
            "{what} expects a single item, found {}",
            c.len()
        ))),
    }
}

fn b<'a>(v: Option<bool>) -> Coll<'a> {
    v.map(|b| vec![Item::Bool(b)]).unwrap_or_default()
}

fn contains_item(c: &Coll, i: &Item) -> bool {
    c.iter().any(|x| equals(x, i) == Some(true))
}

fn distinct<'a>(c: Coll<'a>) -> Coll<'a> {
    let mut out: Coll<'a> = Vec::with_capacity(c.len());
    for i in c {
        if !contains_item(&out, &i) {
            out.push(i);
        }
    }
    out
}

struct Evaluator<'e, 'a, 'x> {
    env: &'e Env<'a, 'x>,
}

impl<'e, 'a, 'x> Evaluator<'e, 'a, 'x> {
    fn eval(&self, e: &Expr, ctx: &Coll<'a>, fr: &Frame<'a>) -> Result<Coll<'a>, FhirPathError> {
        Ok(match e {
            Expr::Empty => vec![],
            Expr::Bool(v) => vec![Item::Bool(*v)],
            Expr::Str(s) => vec![Item::Str(s.clone())],
            Expr::Num(n) => vec![match n.parse::<i64>() {
                Ok(i) if !n.contains('.') => Item::Int(i),
                _ => Item::Dec(parse_decimal(n).ok_or_else(|| exec("bad number"))?),
            }],
            Expr::Quantity(n, u) => vec![Item::Quantity(
                parse_decimal(n).ok_or_else(|| exec("bad number"))?,
                u.clone(),
            )],
            Expr::Date(s) => vec![temporal(s, Kind::Date)?],
            Expr::DateTime(s) => vec![temporal(s, Kind::DateTime)?],
            Expr::Time(s) => vec![temporal(s, Kind::Time)?],
            Expr::This => fr
                .this
                .clone()
                .map(|t| vec![t])
                .unwrap_or_else(|| ctx.clone()),
            Expr::Index => fr.index.map(|i| vec![Item::Int(i)]).unwrap_or_default(),
            Expr::Total => fr.total.clone().unwrap_or_default(),
            Expr::Var(name) => match name.as_str() {
                "resource" | "context" | "rootResource" => self.env.resource.clone(),
                "ucum" => vec![Item::Str("http://unitsofmeasure.org".into())],
                "sct" => vec![Item::Str("http://snomed.info/sct".into())],
                "loinc" => vec![Item::Str("http://loinc.org".into())],
                n if n.starts_with("vs-") => vec![Item::Str(format!(
                    "http://hl7.org/fhir/ValueSet/{}",
                    &n[3..]
                ))],
                n if n.starts_with("ext-") => vec![Item::Str(format!(
                    "http://hl7.org/fhir/StructureDefinition/{}",
                    &n[4..]
                ))],
                _ => (self.env.vars)(name).ok_or_else(|| {
                    FhirPathError::Semantic(format!("undefined variable `%{name}`"))
                })?,
            },
            Expr::Ident(name) => {
                let mut out = Vec::new();
                for item in ctx {
                    // A type name at the start of a path selects resources of that type.
                    if name.starts_with(char::is_uppercase) {
                        if let Item::Node(v, _) = item {
                            if v.get("resourceType").and_then(Value::as_str) == Some(name.as_str())
                            {
                                out.push(item.clone());
                                continue;
                            }
                        }
                    }
                    child(item, name, &mut out)?;
                }
                out
            }
            Expr::Member(inner, name) => {
                let input = self.eval(inner, ctx, fr)?;
                let mut out = Vec::new();
                for item in &input {
                    child(item, name, &mut out)?;
                }
                out
            }
            Expr::Indexer(inner, idx) => {
                let input = self.eval(inner, ctx, fr)?;
                let i = self.eval(idx, ctx, fr)?;
                match single(&i, "an indexer")?.map(Item::prim) {
                    Some(Item::Int(n)) if n >= 0 => {
                        input.into_iter().nth(n as usize).into_iter().collect()
                    }
                    Some(Item::Int(_)) | None => vec![],
                    Some(_) => return Err(exec("an index must be an integer")),
                }
            }
            Expr::Neg(inner) => {
                let v = self.eval(inner, ctx, fr)?;
                match single(&v, "unary minus")?.map(Item::prim) {
                    None => vec![],
                    Some(Item::Int(i)) => vec![Item::Int(-i)],
                    Some(Item::Dec(d)) => vec![Item::Dec(-d)],
                    Some(Item::Quantity(d, u)) => vec![Item::Quantity(-d, u)],
                    Some(_) => return Err(exec("unary minus needs a number")),
                }
            }
            Expr::Is(inner, t) => {
                check_type(t)?;
                let v = self.eval(inner, ctx, fr)?;
                b(single(&v, "`is`")?.map(|i| i.is_type(t, true)))
            }
            Expr::As(inner, t) => {
                check_type(t)?;
                let v = self.eval(inner, ctx, fr)?;
                v.into_iter().filter(|i| i.is_type(t, false)).collect()
            }
            Expr::Binary(op, l, r) => self.binary(*op, l, r, ctx, fr)?,
            Expr::Call(input, name, args) => {
                let input = match input {
                    Some(i) => self.eval(i, ctx, fr)?,
                    None => fr
                        .this
                        .clone()
                        .map(|t| vec![t])
                        .unwrap_or_else(|| ctx.clone()),
                };
                self.call(name, input, args, ctx, fr)?
            }
        })
    }

    fn binary(
        &self,
        op: BinOp,
        l: &Expr,
        r: &Expr,
        ctx: &Coll<'a>,
        fr: &Frame<'a>,
    ) -> Result<Coll<'a>, FhirPathError> {
        use BinOp::*;
        let lv = self.eval(l, ctx, fr)?;
        // Short-circuit the boolean operators where the specification allows it.
        match op {
            And | Or | Implies => {
                let a = bool_of(&lv)?;
                match (op, a) {
                    (And, Some(false)) => return Ok(b(Some(false))),
                    (Or, Some(true)) => return Ok(b(Some(true))),
                    (Implies, Some(false)) => return Ok(b(Some(true))),
                    _ => {}
                }
                let c = bool_of(&self.eval(r, ctx, fr)?)?;
                return Ok(b(match op {
                    And => match (a, c) {
                        (Some(true), Some(true)) => Some(true),
                        (_, Some(false)) => Some(false),
                        _ => None,
                    },
                    Or => match (a, c) {
                        (_, Some(true)) => Some(true),
                        (Some(false), Some(false)) => Some(false),
                        _ => None,
                    },
                    _ => match (a, c) {
                        (Some(true), c) => c,
                        (None, Some(true)) => Some(true),
                        _ => None,
                    },
                }));
            }
            _ => {}
        }
        let rv = self.eval(r, ctx, fr)?;
        Ok(match op {
            Xor => b(match (bool_of(&lv)?, bool_of(&rv)?) {
                (Some(x), Some(y)) => Some(x != y),
                _ => None,
            }),
            Union => {
                let mut all = lv;
                all.extend(rv);
                distinct(all)
            }
            Eq | Ne => {
                if lv.is_empty() || rv.is_empty() {
                    return Ok(vec![]);
                }
                let eq = if lv.len() != rv.len() {
                    Some(false)
                } else {
                    let mut acc = Some(true);
                    for (x, y) in lv.iter().zip(&rv) {
                        match equals(x, y) {
                            Some(true) => {}
                            Some(false) => {
                                acc = Some(false);
                                break;
                            }
                            None => acc = None,
                        }
                    }
                    acc
                };
                b(if op == Eq { eq } else { eq.map(|v| !v) })
            }
            Equiv | NotEquiv => {
                let eq =
                    lv.len() == rv.len() && lv.iter().all(|x| rv.iter().any(|y| equivalent(x, y)));
                b(Some(if op == Equiv { eq } else { !eq }))
            }
            Lt | Gt | Le | Ge => {
                let (Some(x), Some(y)) =
                    (single(&lv, "a comparison")?, single(&rv, "a comparison")?)
                else {
                    return Ok(vec![]);
                };
                let (px, py) = (x.prim(), y.prim());
                let comparable = matches!(
                    (&px, &py),
                    (Item::Str(_), Item::Str(_))
                        | (Item::Temporal(_), Item::Temporal(_))
                        | (Item::Temporal(_), Item::Str(_))
                        | (Item::Str(_), Item::Temporal(_))
                        | (Item::Quantity(..), Item::Quantity(..))
                ) || (number(&px).is_some() && number(&py).is_some());
                if !comparable {
                    return Err(exec("operands of a comparison are not comparable"));
                }
                b(compare(&px, &py).map(|o| match op {
                    Lt => o == Ordering::Less,
                    Gt => o == Ordering::Greater,
                    Le => o != Ordering::Greater,
                    _ => o != Ordering::Less,
                }))
            }
            In | Contains => {
                let (item, coll) = if op == In { (&lv, &rv) } else { (&rv, &lv) };
                match single(item, "a membership test")? {
                    None => vec![],
                    Some(i) => b(Some(contains_item(coll, i))),
                }
            }
            Concat => {
                let s = |c: &Coll| -> Result<String, FhirPathError> {
                    Ok(single(c, "`&`")?
                        .and_then(Item::to_text)
                        .unwrap_or_default())
                };
                vec![Item::Str(s(&lv)? + &s(&rv)?)]
            }
            Add | Sub | Mul | Div | IntDiv | Mod => {
                let (Some(x), Some(y)) = (single(&lv, "arithmetic")?, single(&rv, "arithmetic")?)
                else {
                    return Ok(vec![]);
                };
                arith(op, x.prim(), y.prim())?
            }
            And | Or | Implies => unreachable!("handled above"),
        })
    }

    fn lambda(
        &self,
        arg: &Expr,
        input: &Coll<'a>,
        mut f: impl FnMut(usize, &Item<'a>, Coll<'a>) -> Result<bool, FhirPathError>,
    ) -> Result<(), FhirPathError> {
        for (i, item) in input.iter().enumerate() {
            let fr = Frame {
                this: Some(item.clone()),
                index: Some(i as i64),
                total: None,
            };
            let r = self.eval(arg, &vec![item.clone()], &fr)?;
            if !f(i, item, r)? {
                break;
            }
        }
        Ok(())
    }

    fn call(
        &self,
        name: &str,
        input: Coll<'a>,
        args: &[Expr],
        ctx: &Coll<'a>,
        fr: &Frame<'a>,
    ) -> Result<Coll<'a>, FhirPathError> {
        let arg = |i: usize| -> Result<Coll<'a>, FhirPathError> {
            match args.get(i) {
                Some(a) => self.eval(a, ctx, fr),
                None => Ok(vec![]),
            }
        };
        let arity = BUILTINS.iter().find(|(n, ..)| *n == name);
        if let Some((_, lo, hi)) = arity {
            if args.len() < *lo || args.len() > *hi {
                return Err(FhirPathError::Semantic(format!(
                    "`{name}()` takes {lo}..={hi} arguments"
                )));
            }
        }
        let str_arg = |i: usize| -> Result<Option<String>, FhirPathError> {
            let v = arg(i)?;
            Ok(single(&v, name)?.and_then(Item::as_str))
        };
        let int_arg = |i: usize| -> Result<Option<i64>, FhirPathError> {
            let v = arg(i)?;
            match single(&v, name)?.map(Item::prim) {
                Some(Item::Int(n)) => Ok(Some(n)),
                None => Ok(None),
                Some(_) => Err(exec(format!("`{name}()` needs an integer argument"))),
            }
        };
        let one_str = || -> Result<Option<String>, FhirPathError> {
            match single(&input, name)? {
                None => Ok(None),
                Some(i) => match i.as_str() {
                    Some(s) => Ok(Some(s)),
                    None => Err(exec(format!("`{name}()` needs a string input"))),
                },
            }
        };
        let one_num = || -> Result<Option<Item<'a>>, FhirPathError> {
            match single(&input, name)?.map(Item::prim) {
                None => Ok(None),
                Some(i @ (Item::Int(_) | Item::Dec(_) | Item::Quantity(..))) => Ok(Some(i)),
                Some(_) => Err(exec(format!("`{name}()` needs a number"))),
            }
        };
        Ok(match name {
            "empty" => b(Some(input.is_empty())),
            "exists" => {
                if args.is_empty() {
                    b(Some(!input.is_empty()))
                } else {
                    let mut any = false;
                    self.lambda(&args[0], &input, |_, _, r| {
                        any = bool_of(&r)? == Some(true);
                        Ok(!any)
                    })?;
                    b(Some(any))
                }
            }
            "all" => {
                let mut all = true;
                self.lambda(&args[0], &input, |_, _, r| {
                    all = bool_of(&r)? == Some(true);
                    Ok(all)
                })?;
                b(Some(all))
            }
            "allTrue" | "anyTrue" | "allFalse" | "anyFalse" => {
                let mut vals = Vec::new();
                for i in &input {
                    match i.prim() {
                        Item::Bool(v) => vals.push(v),
                        _ => return Err(exec(format!("`{name}()` needs booleans"))),
                    }
                }
                b(Some(match name {
                    "allTrue" => vals.iter().all(|v| *v),
                    "anyTrue" => vals.iter().any(|v| *v),
                    "allFalse" => vals.iter().all(|v| !*v),
                    _ => vals.iter().any(|v| !*v),
                }))
            }
            "subsetOf" => {
                let other = arg(0)?;
                b(Some(input.iter().all(|i| contains_item(&other, i))))
            }
            "supersetOf" => {
                let other = arg(0)?;
                b(Some(other.iter().all(|i| contains_item(&input, i))))
            }
            "count" => vec![Item::Int(input.len() as i64)],
            "distinct" => distinct(input),
            "isDistinct" => {
                let n = input.len();
                b(Some(distinct(input).len() == n))
            }
            "where" => {
                let mut out = Vec::new();
                self.lambda(&args[0], &input, |_, item, r| {
                    if bool_of(&r)? == Some(true) {
                        out.push(item.clone());
                    }
                    Ok(true)
                })?;
                out
            }
            "select" => {
                let mut out = Vec::new();
                self.lambda(&args[0], &input, |_, _, r| {
                    out.extend(r);
                    Ok(true)
                })?;
                out
            }
            "repeat" => {
                let mut out: Coll<'a> = Vec::new();
                let mut queue = input;
                while !queue.is_empty() {
                    let mut next = Vec::new();
                    self.lambda(&args[0], &queue, |_, _, r| {
                        for i in r {
                            if !contains_item(&out, &i) {
                                out.push(i.clone());
                                next.push(i);
                            }
                        }
                        Ok(true)
                    })?;
                    queue = next;
                }
                out
            }
            "aggregate" => {
                let mut total = arg(1)?;
                for (i, item) in input.iter().enumerate() {
                    let fr = Frame {
                        this: Some(item.clone()),
                        index: Some(i as i64),
                        total: Some(total.clone()),
                    };
                    total = self.eval(&args[0], &vec![item.clone()], &fr)?;
                }
                total
            }
            "ofType" | "is" | "as" => {
                let t = type_arg(&args[0]).ok_or_else(|| {
                    FhirPathError::Semantic(format!("`{name}()` needs a type name"))
                })?;
                check_type(&t)?;
                match name {
                    "ofType" => input.into_iter().filter(|i| i.is_type(&t, false)).collect(),
                    "is" => b(single(&input, name)?.map(|i| i.is_type(&t, true))),
                    _ => single(&input, name)?
                        .filter(|i| i.is_type(&t, false))
                        .cloned()
                        .into_iter()
                        .collect(),
                }
            }
            "single" => single(&input, "single()")?.cloned().into_iter().collect(),
            "first" => input.into_iter().take(1).collect(),
            "last" => input.into_iter().last().into_iter().collect(),
            "tail" => input.into_iter().skip(1).collect(),
            "skip" => {
                let n = int_arg(0)?.unwrap_or(0).max(0) as usize;
                input.into_iter().skip(n).collect()
            }
            "take" => {
                let n = int_arg(0)?.unwrap_or(0).max(0) as usize;
                input.into_iter().take(n).collect()
            }
            "intersect" => {
                let other = arg(0)?;
                distinct(
                    input
                        .into_iter()
                        .filter(|i| contains_item(&other, i))
                        .collect(),
                )
            }
            "exclude" => {
                let other = arg(0)?;
                input
                    .into_iter()
                    .filter(|i| !contains_item(&other, i))
                    .collect()
            }
            "union" => {
                let mut all = input;
                all.extend(arg(0)?);
                distinct(all)
            }
            "combine" => {
                let mut all = input;
                all.extend(arg(0)?);
                all
            }
            "iif" => {
                if input.len() > 1 {
                    return Err(exec("iif() on a collection of several items"));
                }
                let this = input.first().cloned();
                let fr2 = Frame {
                    this: this.clone().or_else(|| fr.this.clone()),
                    ..fr.clone()
                };
                let c = self.eval(&args[0], ctx, &fr2)?;
                let cond = match c.as_slice() {
                    [] => false,
                    [one] => match one.prim() {
                        Item::Bool(v) => v,
                        _ => return Err(exec("iif() criterion must be a boolean")),
                    },
                    _ => return Err(exec("iif() criterion must be a single boolean")),
                };
                if cond {
                    self.eval(&args[1], ctx, &fr2)?
                } else if let Some(a) = args.get(2) {
                    self.eval(a, ctx, &fr2)?
                } else {
                    vec![]
                }
            }
            "not" => match single(&input, "not()")?.map(Item::prim) {
                None => vec![],
                Some(Item::Bool(v)) => b(Some(!v)),
                // Singleton evaluation: any other single item counts as true.
                Some(_) => b(Some(false)),
            },
            "toBoolean" | "convertsToBoolean" => {
                let v = single(&input, name)?.map(Item::prim).map(|i| match i {
                    Item::Bool(v) => Some(v),
                    Item::Int(1) => Some(true),
                    Item::Int(0) => Some(false),
                    Item::Dec(d) if d == Decimal::ONE => Some(true),
                    Item::Dec(d) if d.is_zero() => Some(false),
                    Item::Str(s) => match s.to_lowercase().as_str() {
                        "true" | "t" | "yes" | "y" | "1" | "1.0" => Some(true),
                        "false" | "f" | "no" | "n" | "0" | "0.0" => Some(false),
                        _ => None,
                    },
                    _ => None,
                });
                convert(name, v.map(|o| o.map(Item::Bool)))
            }
            "toInteger" | "convertsToInteger" => {
                let v = single(&input, name)?.map(Item::prim).map(|i| match i {
                    Item::Int(n) => Some(Item::Int(n)),
                    Item::Bool(v) => Some(Item::Int(v as i64)),
                    Item::Str(s)
                        if s.trim_start_matches(['+', '-'])
                            .bytes()
                            .all(|c| c.is_ascii_digit()) =>
                    {
                        s.parse().ok().map(Item::Int)
                    }
                    _ => None,
                });
                convert(name, v)
            }
            "toDecimal" | "convertsToDecimal" => {
                let v = single(&input, name)?.map(Item::prim).map(|i| match i {
                    Item::Int(n) => Some(Item::Dec(Decimal::from(n))),
                    Item::Dec(d) => Some(Item::Dec(d)),
                    Item::Bool(v) => Some(Item::Dec(Decimal::from(v as i64))),
                    Item::Str(s) if is_decimal_text(&s) => parse_decimal(&s).map(Item::Dec),
                    _ => None,
                });
                convert(name, v)
            }
            "toString" | "convertsToString" => {
                let v = single(&input, name)?.map(|i| i.to_text().map(Item::Str));
                convert(name, v)
            }
            "toDate" | "toDateTime" | "toTime" | "convertsToDate" | "convertsToDateTime"
            | "convertsToTime" => {
                let kind = if name.ends_with("DateTime") {
                    Kind::DateTime
                } else if name.ends_with("Date") {
                    Kind::Date
                } else {
                    Kind::Time
                };
                let v = single(&input, name)?.map(Item::prim).map(|i| match i {
                    Item::Temporal(t) if t.kind == kind => Some(Item::Temporal(t)),
                    Item::Temporal(t) if t.kind == Kind::Date && kind == Kind::DateTime => {
                        Some(Item::Temporal(Temporal { kind, ..t }))
                    }
                    Item::Temporal(t) if t.kind == Kind::DateTime && kind == Kind::Date => {
                        Some(Item::Temporal(Temporal {
                            kind,
                            parts: [t.parts[0], t.parts[1], t.parts[2], None, None, None],
                            frac: None,
                            tz: None,
                        }))
                    }
                    Item::Str(s) => Temporal::parse(&s, kind)
                        .or_else(|| {
                            (kind == Kind::DateTime)
                                .then(|| {
                                    Temporal::parse(&s, Kind::Date).map(|t| Temporal { kind, ..t })
                                })
                                .flatten()
                        })
                        .map(Item::Temporal),
                    _ => None,
                });
                convert(name, v)
            }
            "toQuantity" | "convertsToQuantity" => {
                let v = single(&input, name)?.map(Item::prim).map(|i| match i {
                    Item::Int(n) => Some(Item::Quantity(Decimal::from(n), "1".into())),
                    Item::Dec(d) => Some(Item::Quantity(d, "1".into())),
                    q @ Item::Quantity(..) => Some(q),
                    Item::Bool(v) => Some(Item::Quantity(
                        Decimal::new(if v { 10 } else { 0 }, 1),
                        "1".into(),
                    )),
                    Item::Str(s) => parse_quantity_text(&s),
                    _ => None,
                });
                convert(name, v)
            }
            "indexOf" => match (one_str()?, str_arg(0)?) {
                (Some(s), Some(sub)) => vec![Item::Int(
                    s.find(&sub).map_or(-1, |p| s[..p].chars().count() as i64),
                )],
                _ => vec![],
            },
            "substring" => {
                let (Some(s), Some(start)) = (one_str()?, int_arg(0)?) else {
                    return Ok(vec![]);
                };
                let chars: Vec<char> = s.chars().collect();
                if start < 0 || start as usize >= chars.len() {
                    return Ok(vec![]);
                }
                let len = if args.len() > 1 { int_arg(1)? } else { None };
                if args.len() > 1 && len.is_none() {
                    return Ok(vec![]);
                }
                let end = len.map_or(chars.len(), |l| {
                    (start as usize + l.max(0) as usize).min(chars.len())
                });
                vec![Item::Str(chars[start as usize..end].iter().collect())]
            }
            "startsWith" | "endsWith" | "contains" => match (one_str()?, str_arg(0)?) {
                (Some(s), Some(x)) => b(Some(match name {
                    "startsWith" => s.starts_with(&x),
                    "endsWith" => s.ends_with(&x),
                    _ => s.contains(&x),
                })),
                _ => vec![],
            },
            "upper" | "lower" | "trim" | "length" | "toChars" => match one_str()? {
                None => vec![],
                Some(s) => match name {
                    "upper" => vec![Item::Str(s.to_uppercase())],
                    "lower" => vec![Item::Str(s.to_lowercase())],
                    "trim" => vec![Item::Str(s.trim().to_owned())],
                    "length" => vec![Item::Int(s.chars().count() as i64)],
                    _ => s.chars().map(|c| Item::Str(c.to_string())).collect(),
                },
            },
            "replace" => match (one_str()?, str_arg(0)?, str_arg(1)?) {
                (Some(s), Some(p), Some(r)) => vec![Item::Str(if p.is_empty() {
                    let mut out = r.clone();
                    for c in s.chars() {
                        out.push(c);
                        out.push_str(&r);
                    }
                    out
                } else {
                    s.replace(&p, &r)
                })],
                _ => vec![],
            },
            "matches" | "replaceMatches" => {
                let (Some(s), Some(p)) = (one_str()?, str_arg(0)?) else {
                    return Ok(vec![]);
                };
                if p.is_empty() && name == "replaceMatches" {
                    return Ok(vec![Item::Str(s)]);
                }
                let replacement = if name == "matches" { None } else { str_arg(1)? };
                with_regex(&p, |re| {
                    if name == "matches" {
                        b(Some(re.is_match(&s)))
                    } else {
                        match replacement {
                            Some(r) => vec![Item::Str(
                                re.replace_all(
                                    &s,
                                    r.replace("$", "$$").replace("$$", "$").as_str(),
                                )
                                .into_owned(),
                            )],
                            None => vec![],
                        }
                    }
                })
                .map_err(|e| exec(format!("bad regular expression: {e}")))?
            }
            "split" => match (one_str()?, str_arg(0)?) {
                (Some(s), Some(sep)) => s
                    .split(sep.as_str())
                    .map(|p| Item::Str(p.to_owned()))
                    .collect(),
                _ => vec![],
            },
            "join" => {
                let sep = str_arg(0)?.unwrap_or_default();
                let parts: Vec<String> = input.iter().filter_map(Item::to_text).collect();
                vec![Item::Str(parts.join(&sep))]
            }
            "abs" | "ceiling" | "floor" | "truncate" | "sqrt" | "ln" | "exp" | "round" | "log"
            | "power" => {
                let Some(x) = one_num()? else {
                    return Ok(vec![]);
                };
                math(
                    name,
                    x,
                    || int_arg(0),
                    || Ok(arg(0)?.first().and_then(number)),
                )?
            }
            "sum" | "min" | "max" | "avg" => aggregate_fn(name, &input)?,
            "children" => {
                let mut out = Vec::new();
                for i in &input {
                    children(i, &mut out);
                }
                out
            }
            "descendants" => {
                let mut out = Vec::new();
                let mut queue = input;
                while !queue.is_empty() {
                    let mut next = Vec::new();
                    for i in &queue {
                        children(i, &mut next);
                    }
                    out.extend(next.iter().cloned());
                    queue = next;
                }
                out
            }
            "extension" => {
                let Some(url) = str_arg(0)? else {
                    return Ok(vec![]);
                };
                let mut out = Vec::new();
                for i in &input {
                    let mut exts = Vec::new();
                    child(i, "extension", &mut exts)?;
                    out.extend(exts.into_iter().filter(|e| matches!(e, Item::Node(v, _) if v.get("url").and_then(Value::as_str) == Some(url.as_str()))));
                }
                out
            }
            "hasValue" => b(Some(
                matches!(input.as_slice(), [Item::Node(v, _)] if !v.is_object() && !v.is_array()),
            )),
            "trace" => input,
            "now" | "today" | "timeOfDay" => {
                // Deterministic output is a project rule, so "now" is the configured
                // evaluation time, not the wall clock: view constants can override it.
                let now = (self.env.vars)("now").and_then(|c| c.into_iter().next());
                match (name, now.map(|i| i.prim())) {
                    (_, Some(Item::Temporal(t))) => vec![Item::Temporal(match name {
                        "today" => Temporal {
                            kind: Kind::Date,
                            parts: [t.parts[0], t.parts[1], t.parts[2], None, None, None],
                            frac: None,
                            tz: None,
                        },
                        "timeOfDay" => Temporal {
                            kind: Kind::Time,
                            parts: [None, None, None, t.parts[3], t.parts[4], t.parts[5]],
                            frac: t.frac.clone(),
                            tz: None,
                        },
                        _ => t,
                    })],
                    _ => return Err(exec(format!("`{name}()` needs the evaluation time (%now)"))),
                }
            }
            "lowBoundary" | "highBoundary" => {
                let high = name == "highBoundary";
                let precision = int_arg(0)?;
                match single(&input, name)?.map(Item::prim) {
                    None => vec![],
                    Some(Item::Temporal(t)) => t
                        .boundary_to(high, precision)
                        .map(Item::Temporal)
                        .into_iter()
                        .collect(),
                    Some(Item::Int(n)) => decimal_boundary(Decimal::from(n), high, precision),
                    Some(Item::Dec(d)) => decimal_boundary(d, high, precision),
                    Some(Item::Quantity(d, u)) => decimal_boundary(d, high, precision)
                        .into_iter()
                        .filter_map(|i| match i {
                            Item::Dec(d) => Some(Item::Quantity(d, u.clone())),
                            _ => None,
                        })
                        .collect(),
                    Some(Item::Node(v, Some("Period"))) => {
                        let key = if high { "end" } else { "start" };
                        match v
                            .get(key)
                            .and_then(Value::as_str)
                            .and_then(|s| Temporal::parse(s, Kind::DateTime))
                        {
                            Some(t) => vec![Item::Temporal(t.boundary(high))],
                            None => vec![],
                        }
                    }
                    Some(_) => vec![],
                }
            }
            "precision" => match single(&input, name)?.map(Item::prim) {
                Some(Item::Dec(d)) => vec![Item::Int(d.scale() as i64)],
                Some(Item::Int(_)) => vec![Item::Int(0)],
                Some(Item::Temporal(t)) => vec![Item::Int(temporal_precision_digits(&t))],
                _ => vec![],
            },
            "getResourceKey" => input
                .iter()
                .filter_map(|i| match i {
                    Item::Node(v, _) => Some(Item::Str(resource_key(v)?)),
                    _ => None,
                })
                .collect(),
            "getReferenceKey" => {
                let want = args.first().and_then(type_arg);
                input
                    .iter()
                    .filter_map(|i| match i {
                        Item::Node(v, _) => {
                            let r = v.get("reference")?.as_str()?;
                            let (ty, id) = reference_parts(r)?;
                            if want.as_deref().is_some_and(|w| w != ty) {
                                return None;
                            }
                            Some(Item::Str(format!("{ty}/{id}")))
                        }
                        _ => None,
                    })
                    .collect()
            }
            // `#id` finds a contained resource of the root; `Type/id` (relative, absolute,
            // versioned) asks the caller. What does not resolve is left out, as the
            // specification says.
            "resolve" => input
                .iter()
                .filter_map(|i| {
                    let Item::Node(v, _) = i else { return None };
                    let r = v.get("reference")?.as_str()?;
                    let found = match r.strip_prefix('#') {
                        Some(id) => self.env.resource.iter().find_map(|root| match root {
                            Item::Node(root, _) => root
                                .get("contained")?
                                .as_array()?
                                .iter()
                                .find(|c| c.get("id").and_then(Value::as_str) == Some(id)),
                            _ => None,
                        }),
                        None => {
                            let (ty, id) = reference_parts(r)?;
                            (self.env.resolver?)(&format!("{ty}/{id}"))
                        }
                    };
                    found.map(|v| Item::Node(v, None))
                })
                .collect(),
            _ => {
                let mut vals = Vec::with_capacity(args.len());
                for i in 0..args.len() {
                    vals.push(arg(i)?);
                }
                match self.env.functions.call(name, &input, &vals) {
                    Some(r) => r?,
                    None => {
                        return Err(FhirPathError::Semantic(format!(
                            "unknown function `{name}()`"
                        )))
                    }
                }
            }
        })
    }
}

/// The key `getResourceKey()` gives: `Type/id`, matching what `getReferenceKey()` gives for
/// a relative reference to it.
pub fn resource_key(v: &Value) -> Option<String> {
    Some(format!(
        "{}/{}",
        v.get("resourceType")?.as_str()?,
        v.get("id")?.as_str()?
    ))
}

/// `Patient/123`, `http://x/fhir/Patient/123/_history/2` → (`Patient`, `123`).
pub fn reference_parts(r: &str) -> Option<(&str, &str)> {
    let r = r.split("/_history/").next()?;
    let mut it = r.rsplit('/');
    let id = it.next()?;
    let ty = it.next()?;
    (ty.starts_with(char::is_uppercase) && !id.is_empty()).then_some((ty, id))
}

fn temporal<'a>(s: &str, k: Kind) -> Result<Item<'a>, FhirPathError> {
    Temporal::parse(s, k)
        .map(Item::Temporal)
        .ok_or_else(|| FhirPathError::Syntax(format!("`@{s}` is not a valid date/time")))
}

fn temporal_precision_digits(t: &Temporal) -> i64 {
    let p = t.precision();
    if p == 0 {
        return 0;
    }
    let digits: &[i64] = if t.kind == Kind::Time {
        &[2, 4, 6]
    } else {
        &[4, 6, 8, 10, 12, 14]
    };
    digits[p - 1] + t.frac.as_ref().map_or(0, |f| f.len() as i64)
}

fn convert<'a>(name: &str, v: Option<Option<Item<'a>>>) -> Coll<'a> {
    match v {
        None => vec![],
        Some(r) if name.starts_with("convertsTo") => vec![Item::Bool(r.is_some())],
        Some(r) => r.into_iter().collect(),
    }
}

fn is_decimal_text(s: &str) -> bool {
    let t = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (a, f) = t.split_once('.').unwrap_or((t, "0"));
    !a.is_empty()
        && a.bytes().all(|c| c.is_ascii_digit())
        && !f.is_empty()
        && f.bytes().all(|c| c.is_ascii_digit())
}

fn parse_quantity_text<'a>(s: &str) -> Option<Item<'a>> {
    let s = s.trim();
    let (n, u) = match s.split_once(' ') {
        Some((n, u)) => (n, u.trim()),
        None => (s, "'1'"),
    };
    if !is_decimal_text(n)
        && !n
            .trim_start_matches(['+', '-'])
            .bytes()
            .all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let u = if let Some(q) = u.strip_prefix('\'').and_then(|u| u.strip_suffix('\'')) {
        q.to_owned()
    } else if super::parser::parse(&format!("1 {u}")).is_ok_and(|e| matches!(e, Expr::Quantity(..)))
    {
        u.to_owned()
    } else {
        return None;
    };
    Some(Item::Quantity(parse_decimal(n)?, u))
}

fn decimal_boundary<'a>(d: Decimal, high: bool, precision: Option<i64>) -> Coll<'a> {
    // Half a unit of the last written digit either side (1.0 → 0.95 … 1.05), then
    // rounded outwards to the requested digits (8 by default).
    let p = precision.unwrap_or(8);
    if !(0..=28).contains(&p) {
        return vec![];
    }
    let p = p as u32;
    if !d.is_zero() && d.abs() < Decimal::new(1, p) {
        // No significant digit at that precision: the suite expects zero.
        return vec![Item::Dec(Decimal::new(0, p))];
    }
    let half = Decimal::new(5, d.scale() + 1);
    let v = if high { d + half } else { d - half };
    let strategy = if high {
        RoundingStrategy::ToPositiveInfinity
    } else {
        RoundingStrategy::ToNegativeInfinity
    };
    let mut r = v.round_dp_with_strategy(p, strategy);
    r.rescale(p);
    vec![Item::Dec(r)]
}

fn children<'a>(i: &Item<'a>, out: &mut Coll<'a>) {
    if let Item::Node(Value::Object(o), ty) = i {
        for (k, v) in o {
            if k == "resourceType" || k.starts_with('_') {
                continue;
            }
            let _ = child(&Item::Node(i_value(i), *ty), k, out).or_else(|_| {
                // Choice elements are children too (under their JSON key).
                out.push(Item::Node(v, None));
                Ok::<(), FhirPathError>(())
            });
        }
    }
}

fn i_value<'a>(i: &Item<'a>) -> &'a Value {
    match i {
        Item::Node(v, _) | Item::PrimExt(v, ..) => v,
        _ => &Value::Null,
    }
}

fn arith<'a>(op: BinOp, x: Item<'a>, y: Item<'a>) -> Result<Coll<'a>, FhirPathError> {
    use BinOp::*;
    if let (Item::Str(a), Item::Str(c), Add) = (&x, &y, op) {
        return Ok(vec![Item::Str(format!("{a}{c}"))]);
    }
    if let (Item::Temporal(_), Some(_)) = (&x, number(&y)) {
        return Err(exec("a date/time plus a number needs a unit"));
    }
    if let (Item::Temporal(t), Item::Quantity(q, u)) = (&x, &y) {
        if matches!(op, Add | Sub) {
            let q = if op == Sub { -*q } else { *q };
            return Ok(shift_temporal(t, q, u)?
                .into_iter()
                .map(Item::Temporal)
                .collect());
        }
    }
    if let (Item::Quantity(a, u), Item::Quantity(c, v)) = (&x, &y) {
        return Ok(match op {
            Add | Sub if u == v => vec![Item::Quantity(
                if op == Add { a + c } else { a - c },
                u.clone(),
            )],
            Mul => vec![Item::Quantity(a * c, format!("{u}.{v}"))],
            Div if !c.is_zero() => vec![Item::Quantity(
                a / c,
                if u == v {
                    "1".into()
                } else {
                    format!("{u}/{v}")
                },
            )],
            _ => vec![],
        });
    }
    if let (Item::Quantity(a, u), Some(n)) = (&x, number(&y)) {
        return Ok(match op {
            Mul => vec![Item::Quantity(a * n, u.clone())],
            Div if !n.is_zero() => vec![Item::Quantity(a / n, u.clone())],
            _ => vec![],
        });
    }
    let (Some(a), Some(c)) = (number(&x), number(&y)) else {
        return Err(exec("arithmetic needs numbers"));
    };
    let ints = matches!((&x, &y), (Item::Int(_), Item::Int(_)));
    let r = match op {
        Add => a.checked_add(c),
        Sub => a.checked_sub(c),
        Mul => a.checked_mul(c),
        Div => {
            if c.is_zero() {
                return Ok(vec![]);
            }
            return Ok(a
                .checked_div(c)
                .map(|d| vec![Item::Dec(d.normalize())])
                .unwrap_or_default());
        }
        IntDiv => {
            if c.is_zero() {
                return Ok(vec![]);
            }
            return Ok(vec![Item::Int((a / c).trunc().to_i64().unwrap_or(0))]);
        }
        Mod => {
            if c.is_zero() {
                return Ok(vec![]);
            }
            a.checked_rem(c)
        }
        _ => None,
    };
    Ok(match r {
        None => vec![],
        Some(r) if ints => r.to_i64().map(Item::Int).into_iter().collect(),
        Some(r) => vec![Item::Dec(r)],
    })
}

/// Date/time arithmetic: calendar keywords and the definite UCUM time units; `'a'`,
/// `'mo'` and non-time units are errors (the specification's rule).
fn shift_temporal(t: &Temporal, q: Decimal, unit: &str) -> Result<Option<Temporal>, FhirPathError> {
    use chrono::{Datelike, Duration, Months, NaiveDate, Timelike};
    let calendar = super::ucum::is_calendar_word(unit);
    let unit = if calendar {
        unit.trim_end_matches('s')
    } else {
        unit
    };
    let ms_per = |u: &str| -> Option<i64> {
        Some(match u {
            "week" | "wk" => 604_800_000,
            "day" | "d" => 86_400_000,
            "hour" | "h" => 3_600_000,
            "minute" | "min" => 60_000,
            "second" | "s" => 1000,
            "millisecond" | "ms" => 1,
            _ => return None,
        })
    };
    let mut out = t.clone();
    let y = t.parts[0].unwrap_or(2000) as i32;
    let ms0 = t
        .frac
        .as_deref()
        .map_or(0, |f| format!("{f:0<3}")[..3].parse::<i64>().unwrap_or(0));
    let Some(base) = NaiveDate::from_ymd_opt(y, t.parts[1].unwrap_or(1), t.parts[2].unwrap_or(1))
        .and_then(|d| {
            d.and_hms_milli_opt(
                t.parts[3].unwrap_or(0),
                t.parts[4].unwrap_or(0),
                t.parts[5].unwrap_or(0),
                ms0 as u32,
            )
        })
    else {
        return Ok(None);
    };
    let shifted = match unit {
        "year" | "month" => {
            let n = q.trunc().to_i64().unwrap_or(0);
            let m = Months::new((n.unsigned_abs() * if unit == "year" { 12 } else { 1 }) as u32);
            let r = if n >= 0 {
                base.checked_add_months(m)
            } else {
                base.checked_sub_months(m)
            };
            match r {
                Some(r) => r,
                None => return Ok(None),
            }
        }
        u => match ms_per(u) {
            Some(per) => {
                // Below the value's precision the amount is truncated (whole days on a date).
                // The amount is truncated to whole units, as the suite expects.
                let total = q.trunc().to_i64().unwrap_or(0) * per;
                let precision_ms = match t.precision() {
                    1..=3 if t.kind != Kind::Time => 86_400_000,
                    4 => 3_600_000,
                    5 => 60_000,
                    6 if t.frac.is_none() => 1000,
                    _ => 1,
                };
                if t.kind == Kind::Date && per < 86_400_000 {
                    return Err(exec("a date cannot be shifted by less than a day"));
                }
                base + Duration::milliseconds(total / precision_ms * precision_ms)
            }
            None => return Err(exec(format!("cannot add `{unit}` to a date/time"))),
        },
    };
    let set = |o: &mut Option<u32>, v: u32| {
        if o.is_some() {
            *o = Some(v);
        }
    };
    set(&mut out.parts[0], shifted.year() as u32);
    set(&mut out.parts[1], shifted.month());
    set(&mut out.parts[2], shifted.day());
    set(&mut out.parts[3], shifted.hour());
    set(&mut out.parts[4], shifted.minute());
    set(&mut out.parts[5], shifted.second());
    if let Some(f) = &out.frac {
        let ms = format!("{:03}", shifted.nanosecond() / 1_000_000);
        out.frac = Some(if f.len() >= 3 {
            format!("{ms}{}", &f[3..])
        } else {
            ms[..f.len()].to_owned()
        });
    }
    Ok(Some(out))
}

fn math<'a>(
    name: &str,
    x: Item<'a>,
    int_arg: impl Fn() -> Result<Option<i64>, FhirPathError>,
    num_arg: impl Fn() -> Result<Option<Decimal>, FhirPathError>,
) -> Result<Coll<'a>, FhirPathError> {
    let d = number(&x).or(match &x {
        Item::Quantity(d, _) => Some(*d),
        _ => None,
    });
    let Some(d) = d else { return Ok(vec![]) };
    let as_f = d.to_f64().unwrap_or(f64::NAN);
    let from_f = |f: f64| -> Coll<'a> {
        if f.is_finite() {
            Decimal::from_f64(f)
                .map(|d| vec![Item::Dec(d.round_dp(8).normalize())])
                .unwrap_or_default()
        } else {
            vec![]
        }
    };
    Ok(match name {
        "abs" => match x {
            Item::Int(i) => vec![Item::Int(i.abs())],
            Item::Quantity(q, u) => vec![Item::Quantity(q.abs(), u)],
            _ => vec![Item::Dec(d.abs())],
        },
        "ceiling" => vec![Item::Int(d.ceil().to_i64().unwrap_or(0))],
        "floor" => vec![Item::Int(d.floor().to_i64().unwrap_or(0))],
        "truncate" => vec![Item::Int(d.trunc().to_i64().unwrap_or(0))],
        "round" => {
            let p = int_arg()?.unwrap_or(0);
            if p < 0 {
                return Err(exec("round() precision must be ≥ 0"));
            }
            vec![Item::Dec(d.round_dp_with_strategy(
                p as u32,
                RoundingStrategy::MidpointAwayFromZero,
            ))]
        }
        "sqrt" => {
            if as_f < 0.0 {
                vec![]
            } else {
                from_f(as_f.sqrt())
            }
        }
        "ln" => from_f(as_f.ln()),
        "exp" => from_f(as_f.exp()),
        "log" => match num_arg()? {
            Some(base) => from_f(as_f.ln() / base.to_f64().unwrap_or(f64::NAN).ln()),
            None => vec![],
        },
        _ => match num_arg()? {
            Some(e) => {
                if let (Item::Int(base), Some(ei)) = (&x, e.to_i64().filter(|_| e.scale() == 0)) {
                    if ei >= 0 {
                        return Ok(base
                            .checked_pow(ei as u32)
                            .map(Item::Int)
                            .into_iter()
                            .collect());
                    }
                }
                from_f(as_f.powf(e.to_f64().unwrap_or(f64::NAN)))
            }
            None => vec![],
        },
    })
}

fn aggregate_fn<'a>(name: &str, input: &Coll<'a>) -> Result<Coll<'a>, FhirPathError> {
    if input.is_empty() {
        return Ok(if name == "sum" {
            vec![Item::Int(0)]
        } else {
            vec![]
        });
    }
    let prims: Vec<Item> = input.iter().map(Item::prim).collect();
    match name {
        "min" | "max" => {
            let mut best = prims[0].clone();
            for p in &prims[1..] {
                match compare(p, &best) {
                    Some(Ordering::Less) if name == "min" => best = p.clone(),
                    Some(Ordering::Greater) if name == "max" => best = p.clone(),
                    None => return Err(exec(format!("{name}() over incomparable items"))),
                    _ => {}
                }
            }
            Ok(vec![best])
        }
        _ => {
            let all_int = prims.iter().all(|p| matches!(p, Item::Int(_)));
            let mut total = Decimal::ZERO;
            for p in &prims {
                total += number(p).ok_or_else(|| exec(format!("{name}() needs numbers")))?;
            }
            if name == "avg" {
                return Ok(vec![Item::Dec(total / Decimal::from(prims.len() as i64))]);
            }
            Ok(vec![if all_int {
                Item::Int(total.to_i64().unwrap_or(0))
            } else {
                Item::Dec(total)
            }])
        }
    }
}

/// `matches` / `replaceMatches` patterns, compiled once per thread: a view calls them for
/// every resource, and compiling the pattern each time was a tenth of a conversion run
/// (README "Where the time goes"). Patterns come from mapping files, so there are few; the
/// cache is emptied past 256 in case an expression builds them from data.
fn with_regex<T>(p: &str, f: impl FnOnce(&regex::Regex) -> T) -> Result<T, regex::Error> {
    use std::cell::RefCell;
    use std::collections::HashMap;
    thread_local! {
        static CACHE: RefCell<HashMap<String, regex::Regex>> = RefCell::new(HashMap::new());
    }
    CACHE.with(|c| {
        if let Some(re) = c.borrow().get(p) {
            return Ok(f(re));
        }
        let re = regex::Regex::new(&format!("(?s){p}"))?;
        let out = f(&re);
        let mut c = c.borrow_mut();
        if c.len() >= 256 {
            c.clear();
        }
        c.insert(p.to_owned(), re);
        Ok(out)
    })
}
