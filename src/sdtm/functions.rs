//! FHIRPath functions the SDTM mapping files may call, registered with the evaluator:
//!
//! * `lookup('table', 'FIELD')` — a terminology table value for the input Coding,
//!   CodeableConcept, Quantity (its UCUM code) or code string (first match wins);
//! * `dtc()` — a FHIR date/dateTime/instant as an SDTM ISO 8601 `--DTC` value, keeping its
//!   precision; the UTC offset is dropped (local clock time) unless the study keeps it.

use std::collections::BTreeMap;

use serde_json::Value;

use super::spec::Terminology;
use crate::fhirpath::{Coll, FhirPathError, Functions, Item};

#[derive(Debug, Clone)]
pub struct SdtmFunctions {
    terms: BTreeMap<String, Terminology>,
    keep_offset: bool,
}

impl SdtmFunctions {
    pub fn new(terms: BTreeMap<String, Terminology>, keep_offset: bool) -> Self {
        SdtmFunctions { terms, keep_offset }
    }

    pub fn table(&self, name: &str) -> Option<&Terminology> {
        self.terms.get(name)
    }
}

/// (system, code) pairs an item stands for.
fn codes<'v>(item: &'v Item) -> Vec<(Option<&'v str>, String)> {
    match item {
        Item::Node(Value::Object(o), _) => {
            if let Some(cs) = o.get("coding").and_then(Value::as_array) {
                return cs
                    .iter()
                    .filter_map(|c| {
                        Some((
                            c.get("system").and_then(Value::as_str),
                            c.get("code")?.as_str()?.to_owned(),
                        ))
                    })
                    .collect();
            }
            match o.get("code").and_then(Value::as_str) {
                Some(code) => vec![(o.get("system").and_then(Value::as_str), code.to_owned())],
                None => vec![],
            }
        }
        Item::Node(Value::String(s), _) => vec![(None, s.clone())],
        Item::Str(s) => vec![(None, s.clone())],
        Item::Quantity(_, u) => vec![(Some("http://unitsofmeasure.org"), u.clone())],
        other => other.to_text().map(|t| vec![(None, t)]).unwrap_or_default(),
    }
}

/// FHIR date/dateTime → SDTM `--DTC` (ISO 8601 extended, right-truncated).
pub fn to_dtc(s: &str, keep_offset: bool) -> Option<String> {
    let s = s.trim();
    let (date, time) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let ok_date = !date.is_empty()
        && date
            .split('-')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && date.len() <= 10;
    if !ok_date {
        return None;
    }
    let Some(time) = time else {
        return Some(date.to_owned());
    };
    let (clock, offset) = if let Some(c) = time.strip_suffix('Z') {
        (c, "Z".to_owned())
    } else if let Some(i) = time.rfind(['+', '-']) {
        (&time[..i], time[i..].to_owned())
    } else {
        (time, String::new())
    };
    if clock.is_empty()
        || !clock
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b':' || b == b'.')
    {
        return None;
    }
    Some(if keep_offset {
        format!("{date}T{clock}{offset}")
    } else {
        format!("{date}T{clock}")
    })
}

impl Functions for SdtmFunctions {
    fn call<'a>(
        &self,
        name: &str,
        input: &Coll<'a>,
        args: &[Coll<'a>],
    ) -> Option<Result<Coll<'a>, FhirPathError>> {
        match name {
            "lookup" => {
                let arg = |i: usize| args.get(i).and_then(|a| a.first()).and_then(Item::as_str);
                let (Some(table), Some(field)) = (arg(0), arg(1)) else {
                    return Some(Err(FhirPathError::Execution(
                        "lookup() needs a table and a field name".into(),
                    )));
                };
                let Some(t) = self.terms.get(&table) else {
                    return Some(Err(FhirPathError::Execution(format!(
                        "unknown terminology table {table}"
                    ))));
                };
                for item in input {
                    for (system, code) in codes(item) {
                        if let Some(v) = t.get(system, &code, &field) {
                            return Some(Ok(vec![Item::Str(v.to_owned())]));
                        }
                    }
                }
                Some(Ok(vec![]))
            }
            // translit('table'): the ASCII rendering of a Japanese name (src/sdtm/romaji.rs),
            // words of the table first, kana by modified Hepburn; empty when impossible.
            "translit" => {
                let table = args.first().and_then(|a| a.first()).and_then(Item::as_str);
                let words = match table {
                    Some(t) => match self.terms.get(&t) {
                        Some(w) => Some(w),
                        None => {
                            return Some(Err(FhirPathError::Execution(format!(
                                "unknown terminology table {t}"
                            ))))
                        }
                    },
                    None => None,
                };
                Some(Ok(input
                    .iter()
                    .filter_map(|i| i.as_str().or_else(|| i.to_text()))
                    .filter_map(|s| super::romaji::transliterate(&s, words))
                    .map(Item::Str)
                    .collect()))
            }
            "dtc" => Some(Ok(input
                .iter()
                .filter_map(|i| i.as_str().or_else(|| i.to_text()))
                .filter_map(|s| to_dtc(&s, self.keep_offset))
                .map(Item::Str)
                .collect())),
            _ => None,
        }
    }

    fn arity(&self, name: &str) -> Option<(usize, usize)> {
        match name {
            "lookup" => Some((2, 2)),
            "dtc" => Some((0, 0)),
            "translit" => Some((1, 1)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtc_keeps_precision_and_drops_the_offset_by_default() {
        assert_eq!(
            to_dtc("2024-01-25T10:30:00+09:00", false).as_deref(),
            Some("2024-01-25T10:30:00")
        );
        assert_eq!(
            to_dtc("2024-01-25T10:30:00+09:00", true).as_deref(),
            Some("2024-01-25T10:30:00+09:00")
        );
        assert_eq!(to_dtc("2024-01", false).as_deref(), Some("2024-01"));
        assert_eq!(
            to_dtc("2019-02-17T19:07:21-05:00", false).as_deref(),
            Some("2019-02-17T19:07:21")
        );
        assert_eq!(to_dtc("2024-01-25 10:30", false), None);
    }
}
