//! FHIRPath values: borrowed FHIR JSON nodes (typed from the R4 element model) and the
//! System types that literals and functions produce.

use std::cmp::Ordering;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::Value;

use super::temporal::{Kind, Temporal};

#[derive(Debug, Clone)]
pub enum Item<'a> {
    /// A node of the input, with its FHIR type where the model knows it (`Quantity`,
    /// `dateTime`, `code`, a resource type …).
    Node(&'a Value, Option<&'a str>),
    /// A primitive that also has an element part (`_birthDate`: id, extensions). The value
    /// may be JSON null when the element carries only extensions.
    PrimExt(&'a Value, Option<&'a str>, &'a Value),
    Bool(bool),
    Int(i64),
    Dec(Decimal),
    Str(String),
    Temporal(Temporal),
    Quantity(Decimal, String),
}

pub type Coll<'a> = Vec<Item<'a>>;

pub fn parse_decimal(s: &str) -> Option<Decimal> {
    Decimal::from_str(s)
        .or_else(|_| Decimal::from_scientific(s))
        .ok()
}

impl<'a> Item<'a> {
    /// Converts a primitive node into its System value (strings, numbers, booleans,
    /// temporals by FHIR type); complex nodes and System values come back unchanged.
    pub fn prim(&self) -> Item<'a> {
        let (v, ty) = match self {
            Item::Node(v, ty) => (v, ty),
            Item::PrimExt(Value::Null, ..) => return self.clone(),
            Item::PrimExt(v, ty, _) => return Item::Node(v, *ty).prim(),
            _ => return self.clone(),
        };
        match v {
            Value::Bool(b) => Item::Bool(*b),
            Value::Number(n) => {
                let t = n.to_string();
                match (ty, t.parse::<i64>()) {
                    (Some("decimal"), _) | (_, Err(_)) => {
                        parse_decimal(&t).map_or(Item::Str(t), Item::Dec)
                    }
                    (_, Ok(i)) => Item::Int(i),
                }
            }
            Value::String(s) => {
                let kind = match ty.unwrap_or("") {
                    "date" => Some(Kind::Date),
                    "dateTime" | "instant" => Some(Kind::DateTime),
                    "time" => Some(Kind::Time),
                    _ => None,
                };
                kind.and_then(|k| Temporal::parse(s, k))
                    .map_or_else(|| Item::Str(s.clone()), Item::Temporal)
            }
            Value::Object(o) if *ty == Some("Quantity") || ty.is_some_and(is_quantity_type) => {
                let value = o.get("value").map(|v| v.to_string());
                match value.as_deref().and_then(parse_decimal) {
                    Some(d) => {
                        let unit = o
                            .get("code")
                            .or_else(|| o.get("unit"))
                            .and_then(Value::as_str)
                            .unwrap_or("1");
                        Item::Quantity(d, unit.to_owned())
                    }
                    None => self.clone(),
                }
            }
            _ => self.clone(),
        }
    }

    pub fn as_str(&self) -> Option<String> {
        match self.prim() {
            Item::Str(s) => Some(s),
            Item::Node(Value::String(s), _) => Some(s.clone()),
            _ => None,
        }
    }

    /// `toString()` text.
    pub fn to_text(&self) -> Option<String> {
        Some(match self.prim() {
            Item::Str(s) => s,
            Item::Bool(b) => b.to_string(),
            Item::Int(i) => i.to_string(),
            Item::Dec(d) => d.to_string(),
            Item::Temporal(t) => t.to_text(),
            Item::Quantity(d, u) if super::ucum::is_calendar_word(&u) => format!("{d} {u}"),
            Item::Quantity(d, u) => format!("{d} '{u}'"),
            Item::Node(..) | Item::PrimExt(..) => return None,
        })
    }

    /// The item's type name: FHIR types for nodes, System types otherwise.
    pub fn type_name(&self) -> (&'static str, String) {
        match self {
            Item::Node(_, Some(t)) | Item::PrimExt(_, Some(t), _) => ("FHIR", t.to_string()),
            Item::PrimExt(v, None, _) => Item::Node(v, None).type_name(),
            Item::Node(v, None) => (
                "FHIR",
                match v {
                    Value::String(_) => "string",
                    Value::Bool(_) => "boolean",
                    Value::Number(n) if n.is_i64() => "integer",
                    Value::Number(_) => "decimal",
                    Value::Object(o) => {
                        return (
                            "FHIR",
                            o.get("resourceType")
                                .and_then(Value::as_str)
                                .unwrap_or("Element")
                                .to_owned(),
                        )
                    }
                    _ => "Element",
                }
                .to_owned(),
            ),
            Item::Bool(_) => ("System", "Boolean".into()),
            Item::Int(_) => ("System", "Integer".into()),
            Item::Dec(_) => ("System", "Decimal".into()),
            Item::Str(_) => ("System", "String".into()),
            Item::Temporal(t) => (
                "System",
                match t.kind {
                    Kind::Date => "Date",
                    Kind::DateTime => "DateTime",
                    Kind::Time => "Time",
                }
                .into(),
            ),
            Item::Quantity(..) => ("System", "Quantity".into()),
        }
    }

    /// `is(T)` / `ofType(T)`: exact type match, with `FHIR.` / `System.` qualifiers and the
    /// FHIR primitive ↔ System type correspondence of the specification (§ Types).
    /// `subtypes`: whether a specialisation matches too (`is` says a `code` is a `string`;
    /// the suite expects `as`/`ofType` to match the exact type only).
    pub fn is_type(&self, spec: &str, subtypes: bool) -> bool {
        let (ns, name) = match spec.split_once('.') {
            Some((ns, n)) => (Some(ns), n),
            None => (None, spec),
        };
        let (my_ns, my_name) = self.type_name();
        if ns.is_some_and(|ns| ns != my_ns) {
            return false;
        }
        if my_name == name {
            return true;
        }
        // Unqualified type names are matched leniently across namespaces the way view
        // runners do: `ofType(string)` keeps FHIR strings, `ofType(Quantity)` keeps both.
        if ns.is_none() {
            if my_ns == "System" {
                return my_name.eq_ignore_ascii_case(name)
                    || (my_name == "DateTime" && name == "instant");
            }
            if let Item::Node(_, Some(t)) | Item::PrimExt(_, Some(t), _) = self {
                return if subtypes {
                    is_subtype(t, name)
                } else {
                    is_quantity_type(t) && name == "Quantity"
                        || t == &name
                        || (name == "Resource" || name == "DomainResource") && is_subtype(t, name)
                };
            }
            if let Item::Node(v, None) = self {
                return match v {
                    Value::String(_) => name == "string" || name == "String",
                    _ => false,
                };
            }
        }
        false
    }
}

/// FHIR profiles of Quantity used as element types.
fn is_quantity_type(t: &str) -> bool {
    matches!(
        t,
        "Age" | "Distance" | "Duration" | "Count" | "SimpleQuantity" | "MoneyQuantity"
    )
}

/// FHIR type specialisation (`code` is a `string`, `Age` a `Quantity`, …).
fn is_subtype(t: &str, of: &str) -> bool {
    t == of
        || (of == "string" && matches!(t, "code" | "id" | "markdown"))
        || (of == "uri" && matches!(t, "url" | "canonical" | "oid" | "uuid"))
        || (of == "integer" && matches!(t, "positiveInt" | "unsignedInt"))
        || (of == "Quantity" && is_quantity_type(t))
        || of == "Resource" && t.starts_with(char::is_uppercase) && !t.contains('_')
        || of == "DomainResource" && t.starts_with(char::is_uppercase) && !t.contains('_')
}

/// `=` on two single items: `None` when the answer is empty (different temporal precision).
pub fn equals(a: &Item, b: &Item) -> Option<bool> {
    let (a, b) = (a.prim(), b.prim());
    match (&a, &b) {
        (Item::Node(x, _), Item::Node(y, _)) => Some(x == y),
        (Item::Node(..), _) | (_, Item::Node(..)) => Some(false),
        (Item::Temporal(x), Item::Temporal(y))
            if (x.kind == Kind::Time) != (y.kind == Kind::Time) =>
        {
            Some(false)
        }
        (Item::Temporal(_), _) | (_, Item::Temporal(_)) => {
            compare(&a, &b).map(|o| o == Ordering::Equal)
        }
        (Item::Quantity(..), Item::Quantity(..)) => compare(&a, &b).map(|o| o == Ordering::Equal),
        (Item::Str(x), Item::Str(y)) => Some(x == y),
        (Item::Bool(x), Item::Bool(y)) => Some(x == y),
        _ => match (number(&a), number(&b)) {
            (Some(x), Some(y)) => Some(x == y),
            _ => Some(false),
        },
    }
}

/// `~`: case- and whitespace-insensitive strings, decimals to the least precision.
pub fn equivalent(a: &Item, b: &Item) -> bool {
    let (a, b) = (a.prim(), b.prim());
    match (&a, &b) {
        (Item::Str(x), Item::Str(y)) => {
            let norm = |s: &str| {
                s.split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .to_lowercase()
            };
            norm(x) == norm(y)
        }
        (Item::Dec(_), _) | (_, Item::Dec(_)) => match (number(&a), number(&b)) {
            (Some(x), Some(y)) => {
                let dp = x.scale().min(y.scale());
                x.round_dp(dp) == y.round_dp(dp)
            }
            _ => false,
        },
        (Item::Temporal(x), Item::Temporal(y)) => x.compare(y) == Some(Ordering::Equal),
        (Item::Quantity(x, u), Item::Quantity(y, v)) => {
            match (quantity_unit(u), quantity_unit(v)) {
                // Compared in the first unit, at the lesser written precision.
                (Some(u), Some(v)) => super::ucum::convert(*y, v, u).is_some_and(|yy| {
                    let dp = x.scale().min(y.scale());
                    x.round_dp(dp) == yy.round_dp(dp)
                }),
                _ => false,
            }
        }
        _ => equals(&a, &b).unwrap_or(false),
    }
}

pub fn number(i: &Item) -> Option<Decimal> {
    match i.prim() {
        Item::Int(n) => Some(Decimal::from(n)),
        Item::Dec(d) => Some(d),
        _ => None,
    }
}

/// Ordering for `<`, `>`, …: `None` when incomparable or unknown.
pub fn compare(a: &Item, b: &Item) -> Option<Ordering> {
    let (a, b) = (a.prim(), b.prim());
    match (&a, &b) {
        (Item::Str(x), Item::Str(y)) => Some(x.cmp(y)),
        (Item::Temporal(x), Item::Temporal(y)) => {
            if x.kind == Kind::Time && y.kind != Kind::Time
                || y.kind == Kind::Time && x.kind != Kind::Time
            {
                return None;
            }
            x.compare(y)
        }
        // A string compared with a temporal is read as that temporal (constants, literals).
        (Item::Str(s), Item::Temporal(t)) => Temporal::parse(s, t.kind)?.compare(t),
        (Item::Temporal(t), Item::Str(s)) => t.compare(&Temporal::parse(s, t.kind)?),
        (Item::Quantity(x, u), Item::Quantity(y, v)) => {
            let (u, v) = (quantity_unit(u)?, quantity_unit(v)?);
            if u == v {
                return Some(x.cmp(y));
            }
            Some(super::ucum::convert(*x, u, v)?.cmp(y))
        }
        _ => Some(number(&a)?.cmp(&number(&b)?)),
    }
}

/// The UCUM code of a quantity unit; calendar `year`/`month` have none (not comparable
/// with definite durations).
fn quantity_unit(u: &str) -> Option<&str> {
    if super::ucum::is_calendar_word(u) {
        return super::ucum::calendar_code(u);
    }
    Some(u)
}

/// Converts a value for output (view columns, test comparison).
pub fn to_json(i: &Item) -> Value {
    match i {
        Item::Node(v, _) | Item::PrimExt(v, ..) => (*v).clone(),
        Item::Bool(b) => Value::Bool(*b),
        Item::Int(n) => Value::from(*n),
        Item::Dec(d) => decimal_json(d),
        Item::Str(s) => Value::String(s.clone()),
        Item::Temporal(t) => Value::String(t.to_text()),
        Item::Quantity(d, u) => serde_json::json!({"value": decimal_json(d), "code": u}),
    }
}

pub fn decimal_json(d: &Decimal) -> Value {
    serde_json::from_str::<serde_json::Number>(&d.to_string())
        .map(Value::Number)
        .unwrap_or_else(|_| Value::String(d.to_string()))
}
