//! `kakehashi mappings test`: run every example written in the mapping files.
//!
//! An example is documentation that runs: a segment map's example is a message, a datatype
//! map's example is one field; `expect` is the JSON the map must produce (every key given
//! must be there with that value; arrays are compared element by element).

use super::eval::{instances_for, Ctx};
use super::model::{Example, Map, Pos};
use super::MappingSet;
use crate::diagnostics::Location;
use crate::hl7::{Message, Offset};
use serde_json::{Map as JMap, Value};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct Outcome {
    pub map: String,
    pub title: String,
    pub pos: Pos,
    /// `None` when the example passed.
    pub failure: Option<String>,
}

/// Whether `got` contains everything `want` says; the first difference otherwise.
pub fn contains(want: &Value, got: &Value, path: &str) -> Result<(), String> {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                let p = format!("{path}.{k}");
                match g.get(k) {
                    Some(gv) => contains(wv, gv, &p)?,
                    None => return Err(format!("{p} is missing")),
                }
            }
            Ok(())
        }
        (Value::Array(w), Value::Array(g)) => {
            if w.len() != g.len() {
                return Err(format!(
                    "{path} has {} elements, expected {}",
                    g.len(),
                    w.len()
                ));
            }
            w.iter()
                .zip(g)
                .enumerate()
                .try_for_each(|(i, (wv, gv))| contains(wv, gv, &format!("{path}[{i}]")))
        }
        // With arbitrary_precision numbers compare by their text, so 98.50 must stay 98.50.
        (w, g) if w == g => Ok(()),
        (w, g) => Err(format!("{path} is {g}, expected {w}")),
    }
}

fn run_one(set: &MappingSet, map: &Map, ex: &Example) -> Result<(), String> {
    let (text, each) = if map.is_datatype {
        let field = ex
            .field
            .as_deref()
            .ok_or("a datatype map example needs `field`")?;
        (format!("MSH|^~\\&|\rZZZ|{field}\r"), None)
    } else {
        let hl7 = ex
            .hl7
            .as_deref()
            .ok_or("a segment map example needs `hl7`")?;
        (
            hl7.trim_end().replace("\r\n", "\r").replace('\n', "\r"),
            Some(ex.each.clone().unwrap_or_else(|| "message".into())),
        )
    };
    let (msg, _) = Message::parse(text)
        .map_err(|d| format!("the example message does not parse: {}", d.message))?;
    let (groups, _) = set.structures.group(&msg);
    let mut vars = BTreeMap::new();
    vars.insert(
        "pid".to_owned(),
        msg.get_path("PID-3.1")
            .into_owned()
            .unwrap_or_else(|| "PID".into()),
    );
    for (k, v) in [
        ("facility", "0000000000"),
        ("date", "-"),
        ("type", "EXAMPLE"),
        ("order", "ORDER"),
        ("timestamp", "00000000000000000"),
    ] {
        vars.insert(k.to_owned(), v.to_owned());
    }
    let all: super::eval::Scope = (0..msg.segment_count()).collect::<Vec<_>>().into();
    let mut group = None;
    let (mut scopes, cur_field) = match &each {
        None => (vec![all.clone()], true),
        Some(each) => {
            let runs = instances_for(&msg, &groups, each);
            let run = runs
                .into_iter()
                .next()
                .ok_or(format!("the example has no {each:?} to run on"))?;
            group = run.group;
            let (anchor, scopes, named) = (run.anchor, run.scopes, run.named);
            vars.insert("seq".into(), format!("{anchor:03}"));
            for (name, a) in named {
                vars.insert(format!("seq:{name}"), format!("{a:03}"));
            }
            (scopes, false)
        }
    };
    scopes.push(all);
    let mut ctx = Ctx {
        set,
        msg: &msg,
        scopes,
        vars,
        group,
        offset: Offset::JAPAN,
        at: Location::default(),
        diags: Vec::new(),
        consumed: Default::default(),
        unmapped: Vec::new(),
    };
    let cur = if cur_field {
        msg.segment(1).and_then(|s| s.field(1).repetition(1))
    } else {
        None
    };
    let mut body = JMap::new();
    ctx.rows(&map.rows, cur, &mut body);
    let got = Value::Object(body);
    if let Some(a) = ex.absent.iter().find(|a| got.get(a.as_str()).is_some()) {
        return Err(format!(
            "{}.{a} is produced but must be absent\n    produced: {got}",
            map.fhir_type
        ));
    }
    contains(&ex.expect, &got, &map.fhir_type).map_err(|e| format!("{e}\n    produced: {got}"))
}

/// Run every example of every map, in name order.
pub fn run_examples(set: &MappingSet) -> Vec<Outcome> {
    let mut names: Vec<&String> = set.maps.keys().collect();
    names.sort();
    let mut out = Vec::new();
    for n in names {
        let map = &set.maps[n];
        for ex in &map.examples {
            out.push(Outcome {
                map: map.name.clone(),
                title: ex.title.clone(),
                pos: ex.pos.clone(),
                failure: run_one(set, map, ex).err(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subset_comparison() {
        assert!(contains(
            &json!({"a": [{"b": 1}]}),
            &json!({"a": [{"b": 1, "c": 2}], "d": 3}),
            "X"
        )
        .is_ok());
        assert_eq!(
            contains(&json!({"a": 1}), &json!({"b": 1}), "X").unwrap_err(),
            "X.a is missing"
        );
        assert!(contains(&json!({"a": [1, 2]}), &json!({"a": [1]}), "X")
            .unwrap_err()
            .contains("1 elements"));
        assert!(contains(&json!({"v": "x"}), &json!({"v": "y"}), "X").is_err());
    }
}
