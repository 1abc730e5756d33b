//! YAML → `serde_json::Value`, keeping where every node came from (shared by the mapping
//! files of both stages and the study file).
//!
//! The mapping files are YAML for people and JSON Schema-checked for machines; errors must
//! point at `file:line:col`, which serde-based YAML loaders do not keep. So the document is
//! built from saphyr-parser's spanned events, recording the position of every JSON pointer.

use saphyr_parser::{Event, Parser, ScalarStyle};
use serde_json::{Map, Number, Value};
use std::collections::HashMap;
use std::str::FromStr;

#[derive(Debug, Clone)]
pub struct Doc {
    pub value: Value,
    /// JSON pointer (`/rows/3/to`) → (line, column), both 1-based.
    pub spans: HashMap<String, (usize, usize)>,
}

impl Doc {
    /// Position of a pointer, or of its nearest ancestor that has one.
    pub fn position(&self, pointer: &str) -> (usize, usize) {
        let mut p = pointer.to_owned();
        loop {
            if let Some(pos) = self.spans.get(&p) {
                return *pos;
            }
            match p.rfind('/') {
                Some(i) => p.truncate(i),
                None => return (1, 1),
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

enum Frame {
    Seq(Vec<Value>, String),
    Map(Map<String, Value>, String, Option<String>),
}

fn escape_pointer(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

fn scalar(text: &str, style: ScalarStyle) -> Value {
    if style != ScalarStyle::Plain {
        return Value::String(text.to_owned());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        t => {
            let numeric = t
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_digit() || b == b'-')
                && t.bytes()
                    .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'.' | b'e' | b'E' | b'+'));
            match (numeric, Number::from_str(t)) {
                // Leading zeros (codes such as 023) stay text.
                (true, Ok(n)) if !(t.len() > 1 && t.starts_with('0') && !t.starts_with("0.")) => {
                    Value::Number(n)
                }
                _ => Value::String(t.to_owned()),
            }
        }
    }
}

/// Parse one YAML document.
pub fn parse(text: &str) -> Result<Doc, YamlError> {
    let mut spans = HashMap::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Value> = None;
    let mut docs = 0;
    for ev in Parser::new_from_str(text) {
        let (ev, span) = ev.map_err(|e| YamlError {
            line: e.marker().line(),
            column: e.marker().col() + 1,
            message: e.info().to_owned(),
        })?;
        let pos = (span.start.line(), span.start.col() + 1);
        // The pointer of the node this event starts, and whether it is a mapping key.
        let (pointer, is_key) = match stack.last() {
            None => (String::new(), false),
            Some(Frame::Seq(v, p)) => (format!("{p}/{}", v.len()), false),
            Some(Frame::Map(_, p, key)) => match key {
                None => (String::new(), true),
                Some(k) => (format!("{p}/{}", escape_pointer(k)), false),
            },
        };
        let node = match ev {
            Event::StreamStart | Event::StreamEnd | Event::Nothing | Event::DocumentEnd => continue,
            Event::DocumentStart(_) => {
                docs += 1;
                if docs > 1 {
                    return Err(YamlError {
                        line: pos.0,
                        column: pos.1,
                        message: "one YAML document per mapping file".into(),
                    });
                }
                continue;
            }
            Event::Alias(_) => {
                return Err(YamlError {
                    line: pos.0,
                    column: pos.1,
                    message: "YAML aliases are not supported in mapping files".into(),
                })
            }
            Event::SequenceStart(..) => {
                spans.insert(pointer.clone(), pos);
                stack.push(Frame::Seq(Vec::new(), pointer));
                continue;
            }
            Event::MappingStart(..) => {
                if is_key {
                    return Err(YamlError {
                        line: pos.0,
                        column: pos.1,
                        message: "mapping keys must be plain text".into(),
                    });
                }
                spans.insert(pointer.clone(), pos);
                stack.push(Frame::Map(Map::new(), pointer, None));
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(v, _)) => Value::Array(v),
                _ => unreachable_error(pos)?,
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(m, _, _)) => Value::Object(m),
                _ => unreachable_error(pos)?,
            },
            Event::Scalar(text, style, _, _) => {
                if is_key {
                    if let Some(Frame::Map(m, p, key)) = stack.last_mut() {
                        if m.contains_key(text.as_ref()) {
                            return Err(YamlError {
                                line: pos.0,
                                column: pos.1,
                                message: format!("duplicate key {:?}", text.as_ref()),
                            });
                        }
                        spans.insert(format!("{p}/{}", escape_pointer(&text)), pos);
                        *key = Some(text.into_owned());
                    }
                    continue;
                }
                spans.entry(pointer.clone()).or_insert(pos);
                scalar(&text, style)
            }
        };
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq(v, _)) => v.push(node),
            Some(Frame::Map(m, _, key)) => {
                if let Some(k) = key.take() {
                    m.insert(k, node);
                }
            }
        }
    }
    Ok(Doc {
        value: root.unwrap_or(Value::Null),
        spans,
    })
}

fn unreachable_error(pos: (usize, usize)) -> Result<Value, YamlError> {
    Err(YamlError {
        line: pos.0,
        column: pos.1,
        message: "unbalanced YAML structure".into(),
    })
}

/// The compiled validator of an embedded JSON Schema, compiled once per process (a
/// compile costs more than checking a file; loaders run once per run, but the mapping
/// checker and the fuzz targets run them many times).
pub fn validator(schema: &'static str) -> Result<&'static jsonschema::Validator, String> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static CACHE: OnceLock<Mutex<HashMap<usize, &'static jsonschema::Validator>>> = OnceLock::new();
    let key = schema.as_ptr() as usize;
    let cache = CACHE.get_or_init(Default::default);
    if let Some(v) = cache.lock().ok().and_then(|c| c.get(&key).copied()) {
        return Ok(v);
    }
    let value: Value = serde_json::from_str(schema).map_err(|e| format!("not JSON: {e}"))?;
    let v = jsonschema::validator_for(&value).map_err(|e| format!("does not compile: {e}"))?;
    // A handful of embedded schemas, each leaked once: they live as long as the process.
    let v: &'static jsonschema::Validator = Box::leak(Box::new(v));
    if let Ok(mut c) = cache.lock() {
        c.insert(key, v);
    }
    Ok(v)
}

/// A YAML settings file checked against its JSON Schema, with every error located at
/// `file:line:col`: `codes` are the diagnostic codes for (not YAML, schema mismatch), `help`
/// the help line of schema errors. Shared by the privacy policy and the criteria files.
pub fn load_checked(
    text: &str,
    file: &str,
    schema: &'static str,
    codes: (&'static str, &'static str),
    help: &str,
) -> Result<Doc, Vec<crate::diagnostics::Diagnostic>> {
    use crate::diagnostics::{Diagnostic, Location};
    let at = |line: usize, col: usize| {
        let mut l = Location::file(file).with_line(line);
        l.column = Some(col);
        l
    };
    let doc = parse(text).map_err(|e| {
        vec![Diagnostic::error(
            codes.0,
            format!("not valid YAML: {}", e.message),
            at(e.line, e.column),
        )]
    })?;
    let validator = validator(schema).map_err(|e| {
        vec![Diagnostic::error(
            codes.1,
            format!("schema: {e}"),
            Location::default(),
        )]
    })?;
    let diags: Vec<Diagnostic> = validator
        .iter_errors(&doc.value)
        .map(|e| {
            let ptr = e.instance_path().to_string();
            let (line, col) = doc.position(&ptr);
            Diagnostic::error(
                codes.1,
                format!("{e} (at {})", if ptr.is_empty() { "/" } else { &ptr }),
                at(line, col),
            )
            .help(help)
        })
        .collect();
    if diags.is_empty() {
        Ok(doc)
    } else {
        Err(diags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_positions() {
        let d = parse("kind: segment\nrows:\n  - to: gender\n    from: PID-8\n    code: '023'\n  - to: x\n    value: 98.50\n    n: 023\n").unwrap();
        assert_eq!(d.value["rows"][0]["from"], "PID-8");
        assert_eq!(d.value["rows"][0]["code"], "023");
        assert_eq!(d.value["rows"][1]["value"].to_string(), "98.50");
        assert_eq!(d.value["rows"][1]["n"], "023");
        assert_eq!(d.spans["/rows/1/to"], (6, 5));
        assert_eq!(d.position("/rows/0/from"), (4, 5));
        assert_eq!(d.position("/rows/0/nope/deeper"), (3, 5));
    }

    #[test]
    fn errors_are_located() {
        let e = parse("a: 1\nb: [1, 2\n").unwrap_err();
        assert!(e.line >= 2, "{e:?}");
        let e = parse("a: 1\na: 2\n").unwrap_err();
        assert_eq!((e.line, e.message.contains("duplicate")), (2, true));
        assert!(parse("a: &x 1\nb: *x\n").is_err());
    }
}
