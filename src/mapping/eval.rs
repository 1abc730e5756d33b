//! Evaluating rows over one message: field access, conditions, tables, datatype maps,
//! conversions, templates. Values are built as `serde_json::Value` (decimals keep their
//! source text through `arbitrary_precision`).

use super::load::MappingSet;
use super::model::*;
use crate::diagnostics::{Diagnostic, Location};
use crate::hl7::message::Repetition;
use crate::hl7::structure::Item;
use crate::hl7::{GroupInstance, Message, Offset, Timestamp, Value as HValue};
use serde_json::{Map as JMap, Number, Value};
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::Rc;
use std::str::FromStr;
use unicode_normalization::UnicodeNormalization;

/// Everything a row may read besides the message.
pub struct Ctx<'a> {
    pub set: &'a MappingSet,
    pub msg: &'a Message,
    /// Segment indices of the current group and its ancestors, innermost first.
    pub scopes: Vec<Scope>,
    pub vars: BTreeMap<String, String>,
    /// The innermost group the map runs on, for rows with `each: GROUP`.
    pub group: Option<&'a GroupInstance>,
    pub offset: Offset,
    /// Where the message came from (file, message id), for diagnostics.
    pub at: Location,
    pub diags: Vec<Diagnostic>,
    /// (segment index, field) pairs read, for the coverage report.
    pub consumed: RefCell<HashSet<(usize, usize)>>,
    /// (table, code) pairs no table entry matched.
    pub unmapped: Vec<(String, String)>,
}

/// A leaf value read from the message.
enum Got<'a> {
    Absent,
    Null,
    Text(Cow<'a, str>),
}

impl<'a> Ctx<'a> {
    fn find_segment(&self, name: &str, occurrence: usize) -> Option<crate::hl7::Segment<'a>> {
        // The innermost scope holding a segment of that name decides.
        for scope in &self.scopes {
            let mut found = 0;
            for &i in scope.iter() {
                if let Some(s) = self.msg.segment(i).filter(|s| s.name() == name) {
                    found += 1;
                    if found == occurrence {
                        return Some(s);
                    }
                }
            }
            if found > 0 {
                return None;
            }
        }
        None
    }

    fn located(&self, row: &Row, what: &str) -> Location {
        let mut l = self.at.clone();
        l.segment = Some(format!("{what} (mapping {})", row.pos));
        l
    }

    fn report(&mut self, policy: Policy, code: &'static str, msg: String, row: &Row, what: &str) {
        let l = self.located(row, what);
        match policy {
            Policy::Error => self.diags.push(Diagnostic::error(code, msg, l)),
            Policy::Warn => self.diags.push(Diagnostic::warning(code, msg, l)),
            _ => {}
        }
    }

    /// All repetitions a field source covers (one unless `[*]`).
    fn reps(&self, src: &Src, cur: Option<Repetition<'a>>) -> Vec<Repetition<'a>> {
        match src {
            Src::Field { path, each } => {
                let Some(seg) = self.find_segment(&path.segment, path.occurrence.unwrap_or(1))
                else {
                    return Vec::new();
                };
                self.consumed.borrow_mut().insert((seg.index(), path.field));
                let field = seg.field(path.field);
                if *each {
                    field.repetitions().filter(|r| !r.raw.is_empty()).collect()
                } else {
                    field
                        .repetition(path.repetition.unwrap_or(1))
                        .filter(|r| !r.raw.is_empty())
                        .into_iter()
                        .collect()
                }
            }
            Src::Rel { .. } => cur.into_iter().collect(),
        }
    }

    fn leaf(rep: Repetition<'a>, comp: Option<usize>, sub: Option<usize>) -> Got<'a> {
        let v = match (comp, sub) {
            (None, _) => {
                if rep.raw.is_empty() {
                    HValue::Absent
                } else {
                    rep.value(1).clone_if_whole(rep)
                }
            }
            (Some(c), None) => rep
                .component(c)
                .map(|x| x.value())
                .unwrap_or(HValue::Absent),
            (Some(c), Some(s)) => rep
                .component(c)
                .and_then(|x| x.subcomponent(s).map(|t| (t, x)))
                .map(|(t, x)| HValue::of(t, x.delimiters()))
                .unwrap_or(HValue::Absent),
        };
        match v {
            HValue::Absent => Got::Absent,
            HValue::Null => Got::Null,
            HValue::Text(t) => Got::Text(t),
        }
    }

    /// Values a source yields: one per repetition for `[*]`, else at most one.
    fn values(
        &self,
        src: &Src,
        cur: Option<Repetition<'a>>,
    ) -> Vec<(Option<Repetition<'a>>, Got<'a>)> {
        match src {
            Src::Field { path, .. } => self
                .reps(src, cur)
                .into_iter()
                .map(|r| {
                    let g = Self::leaf(r, path.component, path.subcomponent);
                    (Some(r), g)
                })
                .collect(),
            Src::Rel { comp, sub } => match cur {
                Some(r) => vec![(Some(r), Self::leaf(r, *comp, *sub))],
                None => Vec::new(),
            },
        }
    }

    fn first_text(&self, src: &Src, cur: Option<Repetition<'a>>) -> Option<String> {
        self.values(src, cur)
            .into_iter()
            .find_map(|(_, g)| match g {
                Got::Text(t) => Some(t.into_owned()),
                _ => None,
            })
    }

    /// Whether a condition holds at message level (no current repetition).
    pub fn holds(&self, c: &Cond) -> bool {
        self.test(c, None)
    }

    fn test(&self, c: &Cond, cur: Option<Repetition<'a>>) -> bool {
        let v = self.first_text(&c.src, cur);
        match &c.test {
            Test::Present(p) => v.is_some() == *p,
            Test::Equals(e) => v.as_deref() == Some(e.as_str()),
            Test::In(list) => v.is_some_and(|x| list.contains(&x)),
            Test::NotIn(list) => !v.is_some_and(|x| list.contains(&x)),
            Test::Numeric(want) => {
                v.is_some_and(|x| fhir_decimal(split_comparator(x.trim()).1).is_some()) == *want
            }
        }
    }

    pub fn render(&self, template: &str, code: Option<&str>) -> String {
        let mut out = String::with_capacity(template.len() + 16);
        let mut rest = template;
        while let Some(i) = rest.find('{') {
            out.push_str(&rest[..i]);
            let Some(j) = rest[i..].find('}') else { break };
            let var = &rest[i + 1..i + j];
            match (var, code) {
                ("code", Some(c)) => out.push_str(c),
                // A field path ({IPC-3}): its value in the current scopes (ids keyed by content,
                // such as a DICOM study UID that several order groups repeat).
                _ if var.contains('-') => {
                    if let Ok(path) = var.parse::<crate::hl7::FieldPath>() {
                        let src = Src::Field { path, each: false };
                        out.push_str(&self.first_text(&src, None).unwrap_or_default());
                    }
                }
                _ => out.push_str(self.vars.get(var).map(String::as_str).unwrap_or("")),
            }
            rest = &rest[i + j + 1..];
        }
        out.push_str(rest);
        out
    }

    fn constant(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.render(s, None)),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.constant(x)).collect()),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| (k.clone(), self.constant(x)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    fn convert(&mut self, text: &str, row: &Row, what: &str) -> Option<Value> {
        let t = text.trim();
        let bad = |s: &mut Self, kind: &str| {
            s.report(
                row.on_invalid,
                "F102",
                format!("value cannot be converted to {kind}; omitted"),
                row,
                what,
            );
            None
        };
        match row.conv {
            // Strings are Unicode NFC (JIS-decoded text can carry decomposed kana marks).
            Conv::String => Some(Value::String(text.nfc().collect())),
            Conv::Uri => Some(Value::String(text.to_owned())),
            Conv::Code | Conv::Id => {
                if t.is_empty() {
                    return bad(self, "a code");
                }
                Some(Value::String(
                    t.split_whitespace().collect::<Vec<_>>().join(" "),
                ))
            }
            Conv::Decimal => match fhir_decimal(t) {
                Some(d) => Number::from_str(&d).ok().map(Value::Number),
                None => bad(self, "a decimal"),
            },
            Conv::QuantityValue => match fhir_decimal(split_comparator(t).1) {
                Some(d) => Number::from_str(&d).ok().map(Value::Number),
                None => bad(self, "a number (with an optional comparator)"),
            },
            // No comparator is not an error: most values have none.
            Conv::QuantityComparator => split_comparator(t).0.map(|c| Value::String(c.to_owned())),
            Conv::RangeLow | Conv::RangeHigh => match parse_range(t) {
                Some((lo, hi)) => {
                    let bound = if row.conv == Conv::RangeLow { lo } else { hi };
                    bound
                        .and_then(|b| Number::from_str(&b).ok())
                        .map(Value::Number)
                }
                None => bad(self, "a reference range (a-b, <b, >a)"),
            },
            Conv::Ordinal => match t.parse::<u64>() {
                Ok(n) if t.bytes().all(|b| b.is_ascii_digit()) => {
                    Some(Value::String(n.to_string()))
                }
                _ => bad(self, "a number"),
            },
            Conv::Integer | Conv::PositiveInt => match t.parse::<i64>() {
                Ok(n) if row.conv == Conv::Integer || n > 0 => Some(Value::Number(n.into())),
                _ => bad(self, "an integer"),
            },
            Conv::Boolean => match t {
                "Y" | "y" | "true" | "1" => Some(Value::Bool(true)),
                "N" | "n" | "false" | "0" => Some(Value::Bool(false)),
                _ => bad(self, "a boolean"),
            },
            Conv::Date | Conv::DateTime | Conv::Instant => match Timestamp::parse(t) {
                Ok(ts) => match row.conv {
                    Conv::Date => Some(Value::String(ts.to_fhir_date())),
                    Conv::DateTime => Some(Value::String(ts.to_fhir_datetime(self.offset))),
                    _ if ts.second.is_some() => {
                        Some(Value::String(ts.to_fhir_datetime(self.offset)))
                    }
                    _ => bad(self, "an instant (seconds required)"),
                },
                Err(_) => bad(self, "a date/time"),
            },
        }
    }

    /// Evaluate rows into `target`.
    pub fn rows(
        &mut self,
        rows: &[Row],
        cur: Option<Repetition<'a>>,
        target: &mut JMap<String, Value>,
    ) {
        for row in rows {
            self.row(row, cur, target);
        }
    }

    fn row(&mut self, row: &Row, cur: Option<Repetition<'a>>, target: &mut JMap<String, Value>) {
        if !row.when.iter().all(|c| self.test(c, cur)) {
            return;
        }
        let what = match &row.source {
            RowSource::From(Src::Field { path, .. }) => path.to_string(),
            RowSource::From(Src::Rel { comp, sub }) => format!(
                ".{}{}",
                comp.map(|c| c.to_string()).unwrap_or_default(),
                sub.map(|s| format!(".{s}")).unwrap_or_default()
            ),
            _ => row.to_text.clone(),
        };
        let mut produced: Vec<Value> = Vec::new();
        match &row.source {
            RowSource::Value(v) => produced.push(self.constant(v)),
            RowSource::Rows if row.each_group.is_some() => {
                // Once per sub-group of the current group (a DiagnosticReport's results).
                let name = row.each_group.as_deref().unwrap_or("");
                let subs: Vec<&'a GroupInstance> = self
                    .group
                    .map(|g| {
                        g.items
                            .iter()
                            .filter_map(|it| match it {
                                Item::Group(x) if x.name == name => Some(x),
                                _ => None,
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let saved = (self.group, self.vars.clone());
                for g in subs {
                    let segs = g.segment_indices();
                    let anchor = segs.first().copied().unwrap_or(0);
                    self.vars
                        .insert(format!("seq:{name}"), format!("{anchor:03}"));
                    self.scopes.insert(0, segs.into());
                    self.group = Some(g);
                    let mut obj = JMap::new();
                    self.rows(&row.rows, cur, &mut obj);
                    self.scopes.remove(0);
                    if !obj.is_empty() {
                        produced.push(Value::Object(obj));
                    }
                }
                (self.group, self.vars) = saved;
            }
            RowSource::Rows => {
                let scopes: Vec<Option<Repetition<'a>>> = match &row.scope {
                    Some(s) => self.reps(s, cur).into_iter().map(Some).collect(),
                    None => vec![cur],
                };
                for c in scopes {
                    let mut obj = JMap::new();
                    self.rows(&row.rows, c, &mut obj);
                    if !obj.is_empty() {
                        produced.push(Value::Object(obj));
                    }
                }
            }
            RowSource::Join(srcs) => {
                let parts: Vec<String> = srcs
                    .iter()
                    .filter_map(|s| self.first_text(s, cur))
                    .collect();
                if !parts.is_empty() {
                    produced.push(Value::String(parts.join(" ").nfc().collect()));
                }
            }
            RowSource::From(src) => {
                for (rep, got) in self.values(src, cur) {
                    if let Some(via) = &row.via {
                        let Some(map) = self.set.maps.get(via) else {
                            continue;
                        };
                        let mut obj = JMap::new();
                        self.rows(&map.rows, rep, &mut obj);
                        if !obj.is_empty() {
                            produced.push(Value::Object(obj));
                        }
                        continue;
                    }
                    let Got::Text(text) = got else { continue };
                    let text = match &row.part {
                        None => text,
                        Some((sep, i)) => match i
                            .checked_sub(1)
                            .and_then(|k| text.split(sep.as_str()).nth(k))
                        {
                            Some(piece) if !piece.trim().is_empty() => {
                                std::borrow::Cow::Owned(piece.to_owned())
                            }
                            _ => continue,
                        },
                    };
                    let mapped: Option<String> = match &row.table {
                        None => Some(text.into_owned()),
                        Some(tb) => match self.set.tables.get(tb) {
                            Some(t) => match t.codes.get(text.as_ref()) {
                                Some(m) => Some(m.clone()),
                                None => match (&t.fallback, row.on_unmapped) {
                                    (Some(fb), _) => Some(self.render(fb, Some(&text))),
                                    (None, Policy::Keep) => Some(text.into_owned()),
                                    (None, p) => {
                                        self.unmapped.push((tb.clone(), text.to_string()));
                                        self.report(
                                            p,
                                            "F101",
                                            format!("code not in table {tb}; omitted"),
                                            row,
                                            &what,
                                        );
                                        None
                                    }
                                },
                            },
                            None => None,
                        },
                    };
                    if let Some(m) = mapped {
                        if let Some(v) = self.convert(&m, row, &what) {
                            produced.push(v);
                        }
                    }
                }
            }
        }
        if produced.is_empty() {
            if matches!(row.source, RowSource::From(_) | RowSource::Join(_)) {
                self.report(
                    row.on_missing,
                    "F100",
                    "required value is missing".into(),
                    row,
                    &what,
                );
            }
            return;
        }
        for v in produced {
            set_path(target, &row.to, v);
        }
    }
}

/// A number as FHIR `decimal` wants it, keeping its digits (precision): `+5` → `5`,
/// `.5` → `0.5`, `007.50` → `7.50`. `None` when it is not a plain decimal number.
pub fn fhir_decimal(t: &str) -> Option<String> {
    let t = t.trim();
    let (neg, body) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    if !int.bytes().all(|c| c.is_ascii_digit())
        || frac.is_some_and(|f| f.is_empty() || !f.bytes().all(|c| c.is_ascii_digit()))
        || (int.is_empty() && frac.is_none())
    {
        return None;
    }
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let mut out = String::with_capacity(t.len() + 1);
    if neg {
        out.push('-');
    }
    out.push_str(int);
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    Some(out)
}

/// A leading comparator (`<`, `<=`, `>`, `>=`, also `≦ ≧ ＜ ＞`) and the rest, trimmed.
pub fn split_comparator(t: &str) -> (Option<&'static str>, &str) {
    let t = t.trim();
    for (p, c) in [
        ("<=", "<="),
        (">=", ">="),
        ("≦", "<="),
        ("≧", ">="),
        ("<", "<"),
        (">", ">"),
        ("＜", "<"),
        ("＞", ">"),
    ] {
        if let Some(rest) = t.strip_prefix(p) {
            return (Some(c), rest.trim());
        }
    }
    (None, t)
}

/// A reference range: `6.6-8.1`, `<85`, `>10`, `6.6～8.1` → (low, high) as FHIR decimals.
pub fn parse_range(t: &str) -> Option<(Option<String>, Option<String>)> {
    let t = t.trim();
    match split_comparator(t) {
        (Some(c), rest) if c.starts_with('<') => return Some((None, Some(fhir_decimal(rest)?))),
        (Some(_), rest) => return Some((Some(fhir_decimal(rest)?), None)),
        _ => {}
    }
    // The separator is the first '-', '～' or '~' after the first character (a leading '-'
    // is a sign).
    let start = t.char_indices().nth(1).map(|(i, _)| i)?;
    let (i, sep) = t[start..]
        .char_indices()
        .find(|(_, c)| matches!(c, '-' | '～' | '~'))?;
    let lo = &t[..start + i];
    let hi = &t[start + i + sep.len_utf8()..];
    Some((Some(fhir_decimal(lo)?), Some(fhir_decimal(hi)?)))
}

trait WholeRep<'a> {
    fn clone_if_whole(self, rep: Repetition<'a>) -> HValue<'a>;
}

impl<'a> WholeRep<'a> for HValue<'a> {
    /// For `.` (the whole repetition): the unescaped text when it has one component,
    /// otherwise the raw composite.
    fn clone_if_whole(self, rep: Repetition<'a>) -> HValue<'a> {
        if rep.components().count() == 1 {
            self
        } else {
            HValue::Text(Cow::Borrowed(rep.raw))
        }
    }
}

/// Set `value` at a target path, creating objects and arrays on the way.
pub fn set_path(target: &mut JMap<String, Value>, steps: &[Step], value: Value) {
    let Some((last, init)) = steps.split_last() else {
        return;
    };
    let mut obj = target;
    for step in init {
        let slot = obj
            .entry(step.name.clone())
            .or_insert_with(|| match step.index {
                Index::None => Value::Object(JMap::new()),
                _ => Value::Array(Vec::new()),
            });
        let next = match (step.index, slot) {
            (Index::None, Value::Object(o)) => o,
            (Index::At(n), Value::Array(a)) => {
                while a.len() <= n {
                    a.push(Value::Object(JMap::new()));
                }
                match &mut a[n] {
                    Value::Object(o) => o,
                    _ => return,
                }
            }
            (Index::Append, Value::Array(a)) => {
                a.push(Value::Object(JMap::new()));
                match a.last_mut() {
                    Some(Value::Object(o)) => o,
                    _ => return,
                }
            }
            _ => return,
        };
        obj = next;
    }
    match last.index {
        Index::None => {
            obj.insert(last.name.clone(), value);
        }
        Index::At(n) => {
            let a = obj
                .entry(last.name.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(a) = a {
                while a.len() < n {
                    a.push(Value::Null);
                }
                if a.len() == n {
                    a.push(value);
                } else {
                    a[n] = value;
                }
            }
        }
        Index::Append => {
            let a = obj
                .entry(last.name.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(a) = a {
                a.push(value);
            }
        }
    }
}

/// The segment indices of one group instance. Shared (`Rc`), because every OBX of an order
/// sees the same ORDER, SPECIMEN and message scopes: copying them per OBX was quadratic.
pub type Scope = Rc<[usize]>;

/// One place a map runs: its anchor segment, the segment indices of its scopes (innermost
/// first; the whole message is added by the caller) and the anchors of enclosing groups.
pub struct Run<'g> {
    pub anchor: usize,
    pub scopes: Vec<Scope>,
    pub named: Vec<(String, usize)>,
    pub group: Option<&'g GroupInstance>,
}

/// Group instances named by a path such as `SPECIMEN/ORDER/RESULT`, each with its ancestors
/// (innermost first).
fn group_chains<'g>(root: &'g GroupInstance, path: &str) -> Vec<Vec<&'g GroupInstance>> {
    let mut level: Vec<Vec<&GroupInstance>> = vec![vec![root]];
    for name in path.split('/') {
        let mut next = Vec::new();
        for chain in &level {
            let Some(g) = chain.first().copied() else {
                continue;
            };
            let children = g.items.iter().filter_map(|it| match it {
                Item::Group(x) if x.name == name => Some(x),
                _ => None,
            });
            for child in children {
                let mut c = vec![child];
                c.extend(chain.iter().copied());
                next.push(c);
            }
        }
        level = next;
    }
    level
}

/// Scopes and anchors of a group chain; each group's segment list is computed once per message.
fn chain_info(
    chain: &[&GroupInstance],
    cache: &mut HashMap<*const GroupInstance, Scope>,
) -> (Vec<Scope>, Vec<(String, usize)>) {
    let scopes: Vec<Scope> = chain
        .iter()
        .map(|g| {
            cache
                .entry(*g as *const GroupInstance)
                .or_insert_with(|| g.segment_indices().into())
                .clone()
        })
        .collect();
    let named = chain
        .iter()
        .zip(&scopes)
        .map(|(g, s)| (g.name.clone(), s.first().copied().unwrap_or(0)))
        .collect();
    (scopes, named)
}

/// Where `each` (`message`, a segment id, or a group path) runs in a message.
pub fn instances_for<'g>(msg: &Message, groups: &'g GroupInstance, each: &str) -> Vec<Run<'g>> {
    let mut cache = HashMap::new();
    if each == "message" {
        let all: Vec<usize> = (0..msg.segment_count()).collect();
        return vec![Run {
            anchor: 0,
            scopes: vec![all.into()],
            named: Vec::new(),
            group: Some(groups),
        }];
    }
    if each.len() == 3
        && each
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return msg
            .segments()
            .filter(|s| s.name() == each)
            .map(|s| {
                // Scoped by the groups around it: an RXC sees its own ORDER's ORC/RXE/TQ1.
                let chain = groups.chain_to(s.index()).unwrap_or_default();
                let (outer, named) = chain_info(&chain, &mut cache);
                let mut scopes: Vec<Scope> = vec![Rc::from([s.index()])];
                scopes.extend(outer);
                Run {
                    anchor: s.index(),
                    scopes,
                    named,
                    group: chain.first().copied(),
                }
            })
            .collect();
    }
    group_chains(groups, each)
        .into_iter()
        .map(|chain| {
            let (scopes, named) = chain_info(&chain, &mut cache);
            let anchor = scopes.first().and_then(|s| s.first().copied()).unwrap_or(0);
            Run {
                anchor,
                scopes,
                named,
                group: chain.first().copied(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::model::{Index, Step};

    #[test]
    fn numbers_comparators_and_ranges() {
        assert_eq!(fhir_decimal("98.50").as_deref(), Some("98.50"));
        assert_eq!(fhir_decimal("+007.5").as_deref(), Some("7.5"));
        assert_eq!(fhir_decimal(".5").as_deref(), Some("0.5"));
        assert_eq!(fhir_decimal("-0.10").as_deref(), Some("-0.10"));
        for bad in ["", "-", "1.", "1e5", "seven", "1,000", " 1 +"] {
            assert_eq!(fhir_decimal(bad), None, "{bad}");
        }
        assert_eq!(split_comparator("< 0.5"), (Some("<"), "0.5"));
        assert_eq!(split_comparator("≧100"), (Some(">="), "100"));
        assert_eq!(split_comparator("7.2"), (None, "7.2"));
        assert_eq!(
            parse_range("6.6-8.1"),
            Some((Some("6.6".into()), Some("8.1".into())))
        );
        assert_eq!(
            parse_range("-1.0-2.5"),
            Some((Some("-1.0".into()), Some("2.5".into())))
        );
        assert_eq!(parse_range("<85"), Some((None, Some("85".into()))));
        assert_eq!(parse_range(">10"), Some((Some("10".into()), None)));
        assert_eq!(
            parse_range("3.5～5.0"),
            Some((Some("3.5".into()), Some("5.0".into())))
        );
        assert_eq!(parse_range("陰性"), None);
    }

    #[test]
    fn set_path_builds_nested_elements() {
        let mut o = JMap::new();
        let p = |s: &[(&str, Index)]| {
            s.iter()
                .map(|(n, i)| Step {
                    name: n.to_string(),
                    index: *i,
                })
                .collect::<Vec<_>>()
        };
        set_path(
            &mut o,
            &p(&[("name", Index::Append), ("family", Index::None)]),
            Value::String("A".into()),
        );
        set_path(
            &mut o,
            &p(&[("name", Index::Append), ("given", Index::Append)]),
            Value::String("B".into()),
        );
        set_path(
            &mut o,
            &p(&[("name", Index::At(0)), ("given", Index::Append)]),
            Value::String("C".into()),
        );
        assert_eq!(
            Value::Object(o),
            serde_json::json!({"name": [{"family": "A", "given": ["C"]}, {"given": ["B"]}]})
        );
    }
}
