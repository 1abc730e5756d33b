//! Segment groups from a declared structure per message type.
//!
//! The structures are data (`mappings/ssmix2/messages/structures.txt`, embedded by default).
//! Matching is greedy and lenient, like the HL7 reference parsers: each segment goes to the
//! innermost open group that can still take it, else to an enclosing one; a segment no group
//! expects stays where it occurs (nothing is dropped) and is reported, as is a required
//! segment that never came.

use super::message::Message;
use super::path::FieldPath;
use crate::diagnostics::{Diagnostic, Location};
use std::collections::BTreeMap;

/// The embedded default structures file.
pub const DEFAULT_STRUCTURES: &str = include_str!("../../mappings/ssmix2/messages/structures.txt");
pub const DEFAULT_STRUCTURES_PATH: &str = "mappings/ssmix2/messages/structures.txt";

#[derive(Debug, Clone)]
pub enum Node {
    Segment {
        name: String,
        code: u32,
        optional: bool,
        repeat: bool,
    },
    Group(GroupDef),
}

#[derive(Debug, Clone)]
pub struct GroupDef {
    pub name: String,
    pub optional: bool,
    pub repeat: bool,
    pub children: Vec<Node>,
    /// Segment ids that can open this group.
    first: Vec<u32>,
    /// The leftmost segment of the group (its usual trigger segment).
    anchor: u32,
}

impl Node {
    fn optional(&self) -> bool {
        match self {
            Node::Segment { optional, .. } => *optional,
            Node::Group(g) => g.optional,
        }
    }
    fn repeat(&self) -> bool {
        match self {
            Node::Segment { repeat, .. } => *repeat,
            Node::Group(g) => g.repeat,
        }
    }
    fn label(&self) -> &str {
        match self {
            Node::Segment { name, .. } => name,
            Node::Group(g) => &g.name,
        }
    }
    fn leftmost(&self) -> u32 {
        match self {
            Node::Segment { name, .. } => seg_code(name),
            Node::Group(g) => g.anchor,
        }
    }
    fn can_open(&self, seg: u32) -> bool {
        match self {
            Node::Segment { code, .. } => *code == seg,
            Node::Group(g) => g.first.contains(&seg),
        }
    }
}

impl GroupDef {
    /// Whether `A/B/C` names nested groups of this structure.
    pub fn has_group_path(&self, path: &str) -> bool {
        let mut cur = self;
        for name in path.split('/') {
            let next = cur.children.iter().find_map(|c| match c {
                Node::Group(g) if g.name == name => Some(g),
                _ => None,
            });
            match next {
                Some(g) => cur = g,
                None => return false,
            }
        }
        true
    }
}

#[derive(Debug, Clone)]
pub struct MessageDef {
    pub structure: String,
    /// Field the SS-MIX2 care date (storage date folder) comes from; `None` for "-".
    pub care_date: Option<FieldPath>,
}

/// All declared message structures.
#[derive(Debug, Clone, Default)]
pub struct Structures {
    pub messages: BTreeMap<String, MessageDef>,
    pub structures: BTreeMap<String, GroupDef>,
    /// SS-MIX2 data type → the message types it may hold.
    pub datatypes: BTreeMap<String, Vec<String>>,
}

/// A segment id packed into an integer, so matching compares numbers, not strings.
pub fn seg_code(name: &str) -> u32 {
    let b = name.as_bytes();
    if b.len() != 3 {
        return 0;
    }
    (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2])
}

fn compute_first(children: &[Node]) -> Vec<u32> {
    let mut out = Vec::new();
    for c in children {
        match c {
            Node::Segment { code, .. } => out.push(*code),
            Node::Group(g) => out.extend(g.first.iter().copied()),
        }
        if !c.optional() {
            break;
        }
    }
    out
}

struct GrammarParser<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> GrammarParser<'a> {
    fn skip_ws(&mut self) {
        while self.s[self.i..].starts_with(' ') {
            self.i += 1;
        }
    }
    fn seq(&mut self, until_paren: bool) -> Result<Vec<Node>, (usize, String)> {
        let mut out = Vec::new();
        loop {
            self.skip_ws();
            let rest = &self.s[self.i..];
            if rest.is_empty() {
                if until_paren {
                    return Err((self.i, "missing ')'".into()));
                }
                return Ok(out);
            }
            if rest.starts_with(')') {
                if !until_paren {
                    return Err((self.i, "unbalanced ')'".into()));
                }
                self.i += 1;
                return Ok(out);
            }
            let start = self.i;
            let len = rest
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                .count();
            if len == 0 {
                return Err((
                    self.i,
                    format!(
                        "unexpected character {:?}",
                        rest.chars().next().unwrap_or(' ')
                    ),
                ));
            }
            let name = &rest[..len];
            self.i += len;
            let node = if self.s[self.i..].starts_with('(') {
                self.i += 1;
                let children = self.seq(true)?;
                if children.is_empty() {
                    return Err((start, format!("group {name} is empty")));
                }
                let first = compute_first(&children);
                let anchor = children[0].leftmost();
                Node::Group(GroupDef {
                    name: name.to_owned(),
                    optional: false,
                    repeat: false,
                    children,
                    first,
                    anchor,
                })
            } else {
                if name.len() != 3
                    || !name
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                {
                    return Err((start, format!("{name:?} is not a segment id (three upper-case letters or digits) and is not followed by '('")));
                }
                Node::Segment {
                    name: name.to_owned(),
                    code: seg_code(name),
                    optional: false,
                    repeat: false,
                }
            };
            let (optional, repeat) = match self.s[self.i..].chars().next() {
                Some('?') => (true, false),
                Some('*') => (true, true),
                Some('+') => (false, true),
                _ => (false, false),
            };
            if optional || repeat {
                self.i += 1;
            }
            out.push(match node {
                Node::Segment { name, code, .. } => Node::Segment {
                    name,
                    code,
                    optional,
                    repeat,
                },
                Node::Group(mut g) => {
                    g.optional = optional;
                    g.repeat = repeat;
                    Node::Group(g)
                }
            });
        }
    }
}

impl Structures {
    /// The embedded default structures.
    pub fn default_set() -> Structures {
        // The embedded file is checked by a unit test, so this cannot fail in a release.
        Self::parse(DEFAULT_STRUCTURES, DEFAULT_STRUCTURES_PATH).unwrap_or_default()
    }

    /// Parse a structures file; errors carry `file:line:col`.
    pub fn parse(text: &str, file: &str) -> Result<Structures, Vec<Diagnostic>> {
        let mut out = Structures::default();
        let mut errors = Vec::new();
        let loc = |line: usize, col: usize| Location {
            file: Some(file.into()),
            line: Some(line),
            column: Some(col),
            ..Default::default()
        };
        for (n, raw) in text.lines().enumerate() {
            let line = n + 1;
            let body = raw.split('#').next().unwrap_or("").trim_end();
            if body.trim().is_empty() {
                continue;
            }
            let words: Vec<&str> = body.split_whitespace().collect();
            match words[0] {
                "message" => {
                    if words.len() != 4 {
                        errors.push(Diagnostic::error("M101", "a message line needs: message <TYPE^TRIGGER> <structure> <care-date field|->", loc(line, 1)));
                        continue;
                    }
                    let care_date = if words[3] == "-" {
                        None
                    } else {
                        match words[3].parse::<FieldPath>() {
                            Ok(p) => Some(p),
                            Err(e) => {
                                let col = body.find(words[3]).unwrap_or(0) + 1 + e.at;
                                errors.push(Diagnostic::error("M102", e.message, loc(line, col)));
                                continue;
                            }
                        }
                    };
                    out.messages.insert(
                        words[1].to_owned(),
                        MessageDef {
                            structure: words[2].to_owned(),
                            care_date,
                        },
                    );
                }
                "structure" => {
                    let Some(eq) = body.find('=') else {
                        errors.push(Diagnostic::error(
                            "M101",
                            "a structure line needs: structure <NAME> = <grammar>",
                            loc(line, 1),
                        ));
                        continue;
                    };
                    let name = body["structure".len()..eq].trim().to_owned();
                    let mut p = GrammarParser {
                        s: &body[eq + 1..],
                        i: 0,
                    };
                    match p.seq(false) {
                        Ok(children) => {
                            let first = compute_first(&children);
                            let anchor = children.first().map(|c| c.leftmost()).unwrap_or_default();
                            out.structures.insert(
                                name.clone(),
                                GroupDef {
                                    name,
                                    optional: false,
                                    repeat: false,
                                    children,
                                    first,
                                    anchor,
                                },
                            );
                        }
                        Err((at, m)) => {
                            errors.push(Diagnostic::error("M103", m, loc(line, eq + 2 + at)))
                        }
                    }
                }
                "datatype" => {
                    if words.len() < 3 {
                        errors.push(Diagnostic::error(
                            "M101",
                            "a datatype line needs: datatype <data type> <TYPE^TRIGGER>…",
                            loc(line, 1),
                        ));
                        continue;
                    }
                    out.datatypes.insert(
                        words[1].to_owned(),
                        words[2..].iter().map(|w| w.to_string()).collect(),
                    );
                }
                other => errors.push(
                    Diagnostic::error("M101", format!("unknown line kind {other:?}"), loc(line, 1))
                        .help("lines start with `message`, `structure` or `datatype`"),
                ),
            }
        }
        for (trigger, def) in &out.messages {
            if !out.structures.contains_key(&def.structure) {
                let line = text
                    .lines()
                    .position(|l| {
                        l.starts_with("message") && l.split_whitespace().nth(1) == Some(trigger)
                    })
                    .map(|i| i + 1)
                    .unwrap_or(0);
                errors.push(Diagnostic::error(
                    "M104",
                    format!(
                        "message {trigger} names structure {} which is not declared",
                        def.structure
                    ),
                    loc(line, 1),
                ));
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// Structure for a message: by MSH-9.1^9.2, else by the MSH-9.3 structure id.
    pub fn for_message(&self, msg: &Message) -> Option<&GroupDef> {
        if let Some(def) = msg.message_type().and_then(|t| self.messages.get(&t)) {
            return self.structures.get(&def.structure);
        }
        msg.structure_id().and_then(|s| self.structures.get(&s))
    }

    pub fn message_def(&self, msg: &Message) -> Option<&MessageDef> {
        msg.message_type().and_then(|t| self.messages.get(&t))
    }

    /// Group a message's segments. Without a declared structure all segments form one
    /// flat root group (and a note says so).
    pub fn group(&self, msg: &Message) -> (GroupInstance, Vec<Diagnostic>) {
        match self.for_message(msg) {
            Some(def) => match_structure(def, msg),
            None => {
                let root = GroupInstance {
                    name: "MESSAGE".into(),
                    items: (0..msg.segment_count()).map(Item::Segment).collect(),
                };
                let d = Diagnostic::note(
                    "H012",
                    "no declared structure for this message type; segments are not grouped",
                    Location::default().with_segment("MSH-9"),
                );
                (root, vec![d])
            }
        }
    }
}

/// One occurrence of a group in a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInstance {
    pub name: String,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Segment(usize),
    /// A segment the grammar does not place here, kept in message order.
    Unexpected(usize),
    Group(GroupInstance),
}

impl GroupInstance {
    /// Indices of every segment in this group and its sub-groups, in message order.
    pub fn segment_indices(&self) -> Vec<usize> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out.sort_unstable();
        out
    }
    fn collect(&self, out: &mut Vec<usize>) {
        for it in &self.items {
            match it {
                Item::Segment(i) | Item::Unexpected(i) => out.push(*i),
                Item::Group(g) => g.collect(out),
            }
        }
    }
    /// The groups enclosing segment `index`, innermost first (this group last).
    pub fn chain_to(&self, index: usize) -> Option<Vec<&GroupInstance>> {
        for it in &self.items {
            match it {
                Item::Segment(i) | Item::Unexpected(i) if *i == index => return Some(vec![self]),
                Item::Group(g) => {
                    if let Some(mut chain) = g.chain_to(index) {
                        chain.push(self);
                        return Some(chain);
                    }
                }
                _ => {}
            }
        }
        None
    }

    /// Direct sub-groups with this name.
    pub fn groups<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a GroupInstance> + 'a {
        self.items.iter().filter_map(move |it| match it {
            Item::Group(g) if g.name == name => Some(g),
            _ => None,
        })
    }
    /// Every group with this name at any depth, in message order.
    pub fn find_all<'a>(&'a self, name: &str, out: &mut Vec<&'a GroupInstance>) {
        for it in &self.items {
            if let Item::Group(g) = it {
                if g.name == name {
                    out.push(g);
                }
                g.find_all(name, out);
            }
        }
    }
    /// Value at a path scoped to this group (occurrences count within the group).
    pub fn get<'m>(&self, msg: &'m Message, path: &FieldPath) -> super::message::Value<'m> {
        msg.get_in(self.segment_indices(), path)
    }
    /// An indented outline, for `kakehashi inspect --file` and snapshot tests.
    pub fn outline(&self, msg: &Message) -> String {
        let mut s = String::new();
        self.outline_into(msg, 0, &mut s);
        s
    }
    fn outline_into(&self, msg: &Message, depth: usize, s: &mut String) {
        s.push_str(&format!("{}{}\n", "  ".repeat(depth), self.name));
        for it in &self.items {
            match it {
                Item::Segment(i) => s.push_str(&format!(
                    "{}{}\n",
                    "  ".repeat(depth + 1),
                    msg.segment(*i).map(|x| x.name()).unwrap_or("?")
                )),
                Item::Unexpected(i) => s.push_str(&format!(
                    "{}{} (unexpected)\n",
                    "  ".repeat(depth + 1),
                    msg.segment(*i).map(|x| x.name()).unwrap_or("?")
                )),
                Item::Group(g) => g.outline_into(msg, depth + 1, s),
            }
        }
    }
}

struct Frame<'g> {
    def: &'g GroupDef,
    /// Index of the child last used, and how often it was used.
    pos: usize,
    count: usize,
    inst: GroupInstance,
}

impl Frame<'_> {
    fn new(def: &GroupDef) -> Frame<'_> {
        Frame {
            def,
            pos: 0,
            count: 0,
            inst: GroupInstance {
                name: def.name.clone(),
                items: Vec::new(),
            },
        }
    }
    /// The child index that can take `seg` from the current position on, if any. A
    /// *strong* match is a segment child or a group `seg` is the leftmost segment of; a weak
    /// one enters a group through its optional prefix only.
    fn find(&self, seg: u32, strong_only: bool) -> Option<usize> {
        (self.pos..self.def.children.len()).find(|&j| {
            let c = &self.def.children[j];
            let free = j > self.pos || self.count == 0 || c.repeat();
            free && c.can_open(seg) && (!strong_only || c.leftmost() == seg)
        })
    }
    /// Required children between `from` and `to` (exclusive) that never occurred.
    fn missing(&self, to: usize) -> Vec<&str> {
        let from = if self.count > 0 {
            self.pos + 1
        } else {
            self.pos
        };
        (from..to.min(self.def.children.len()))
            .filter(|&j| !self.def.children[j].optional())
            .map(|j| self.def.children[j].label())
            .collect()
    }
}

fn match_structure(def: &GroupDef, msg: &Message) -> (GroupInstance, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let mut stack: Vec<Frame> = vec![Frame::new(def)];
    // Locations are computed only when something is missing: `locate` is linear in the
    // message, and calling it per segment made grouping quadratic on 800-segment messages.
    let report_missing =
        |frame: &Frame, to: usize, at: &dyn Fn() -> Location, diags: &mut Vec<Diagnostic>| {
            let missing = frame.missing(to);
            if missing.is_empty() {
                return;
            }
            let loc = at();
            for m in missing {
                diags.push(Diagnostic::warning(
                    "H011",
                    format!("required {m} missing in {}", frame.def.name),
                    loc.clone(),
                ));
            }
        };
    for seg in msg.segments() {
        let name = seg.name();
        let code = seg_code(name);
        let i = seg.index();
        // Prefer the innermost frame with a strong match (a new repetition of an enclosing
        // group beats entering an optional nested group: an OMG^O19 ORC starts a new ORDER,
        // not a PRIOR_RESULT), then the innermost with any match.
        let strong = (0..stack.len())
            .rev()
            .find(|&d| stack[d].find(code, true).is_some());
        let depth = strong.map(|d| (d, true)).or_else(|| {
            (0..stack.len())
                .rev()
                .find(|&d| stack[d].find(code, false).is_some())
                .map(|d| (d, false))
        });
        let (depth, strong) = match depth {
            Some((d, s)) => (Some(d), s),
            None => (None, false),
        };
        let Some(depth) = depth else {
            if let Some(top) = stack.last_mut() {
                top.inst.items.push(Item::Unexpected(i));
                let z = name.starts_with('Z');
                let d = if z {
                    Diagnostic::note(
                        "H010",
                        format!(
                            "{name} is not declared in {}; kept in group {}",
                            def.name, top.def.name
                        ),
                        msg.locate(i),
                    )
                } else {
                    Diagnostic::warning(
                        "H010",
                        format!(
                            "{name} is not expected here by {}; kept in group {}",
                            def.name, top.def.name
                        ),
                        msg.locate(i),
                    )
                };
                diags.push(d);
            }
            continue;
        };
        while stack.len() > depth + 1 {
            if let Some(f) = stack.pop() {
                report_missing(&f, f.def.children.len(), &|| msg.locate(i), &mut diags);
                if let Some(parent) = stack.last_mut() {
                    parent.inst.items.push(Item::Group(f.inst));
                }
            }
        }
        // Descend from the frame that can take the segment into the groups that open with it.
        while let Some(top) = stack.last_mut() {
            let Some(j) = top.find(code, strong).or_else(|| top.find(code, false)) else {
                break;
            };
            if j != top.pos {
                report_missing(top, j, &|| msg.locate(i), &mut diags);
                top.pos = j;
                top.count = 0;
            }
            top.count += 1;
            let def = top.def;
            match &def.children[j] {
                Node::Segment { .. } => {
                    top.inst.items.push(Item::Segment(i));
                    break;
                }
                Node::Group(g) => stack.push(Frame::new(g)),
            }
        }
    }
    let end = Location::default().with_segment("end of message");
    while let Some(f) = stack.pop() {
        report_missing(&f, f.def.children.len(), &|| end.clone(), &mut diags);
        match stack.last_mut() {
            Some(parent) => parent.inst.items.push(Item::Group(f.inst)),
            None => return (f.inst, diags),
        }
    }
    (
        GroupInstance {
            name: def.name.clone(),
            items: Vec::new(),
        },
        diags,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Message {
        Message::parse(text.replace('\n', "\r")).unwrap().0
    }

    #[test]
    fn embedded_structures_load() {
        let s = Structures::parse(DEFAULT_STRUCTURES, DEFAULT_STRUCTURES_PATH).unwrap();
        assert!(s.messages.len() >= 30);
        assert_eq!(
            s.messages["OUL^R22"]
                .care_date
                .as_ref()
                .unwrap()
                .to_string(),
            "SPM-17"
        );
    }

    #[test]
    fn grammar_errors_are_located() {
        let e = Structures::parse("# c\nstructure X = MSH (PID", "f.txt").unwrap_err();
        assert_eq!(e[0].code, "M103");
        assert_eq!(e[0].location.line, Some(2));
        let e = Structures::parse("message A^B X -\n", "f.txt").unwrap_err();
        assert_eq!(e[0].code, "M104");
        let e = Structures::parse("structure X = MSH Pid\n", "f.txt").unwrap_err();
        assert_eq!(e[0].location.column, Some(19));
    }

    #[test]
    fn oul_r22_orc_follows_obr() {
        let m = parse("MSH|^~\\&|||||||OUL^R22^OUL_R22|1\nPID|1\nSPM|1\nOBR|1\nORC|SC\nOBX|1\nOBX|2\nOBR|2\nORC|SC\nOBX|3\nSPM|2\nOBR|3\nOBX|4");
        let (root, d) = Structures::default_set().group(&m);
        assert!(d.iter().all(|x| x.code != "H010"), "{d:?}");
        let specimens: Vec<_> = root.groups("SPECIMEN").collect();
        assert_eq!(specimens.len(), 2);
        let orders: Vec<_> = specimens[0].groups("ORDER").collect();
        assert_eq!(orders.len(), 2);
        let results: Vec<_> = orders[0].groups("RESULT").collect();
        assert_eq!(results.len(), 2);
        assert_eq!(
            orders[1].get(&m, &"OBX-2".parse().unwrap()),
            crate::hl7::Value::Absent
        );
        assert_eq!(
            orders[1].get(&m, &"OBX-1".parse().unwrap()).as_str(),
            Some("3")
        );
        assert_eq!(
            specimens[1].get(&m, &"OBX-1".parse().unwrap()).as_str(),
            Some("4")
        );
    }

    #[test]
    fn rde_o11_rp_groups() {
        let m = parse("MSH|^~\\&|||||||RDE^O11^RDE_O11|1\nPID|1\nPV1|1\nORC|NW\nRXE|1\nTQ1|1\nRXR|PO\nORC|NW\nRXE|2\nTQ1|1\nRXR|PO\nRXC|B");
        let (root, d) = Structures::default_set().group(&m);
        assert!(d.is_empty(), "{d:?}");
        let orders: Vec<_> = root.groups("ORDER").collect();
        assert_eq!(orders.len(), 2);
        assert_eq!(
            orders[1].get(&m, &"RXC-1".parse().unwrap()).as_str(),
            Some("B")
        );
        assert!(root
            .groups("PATIENT")
            .next()
            .unwrap()
            .groups("PATIENT_VISIT")
            .next()
            .is_some());
    }

    #[test]
    fn ppr_zd1_problem_groups_with_z_segments() {
        let m = parse("MSH|^~\\&|||||||PPR^ZD1^PPR_ZD1|1\nPID|1\nPV1|1\nPRB|AD\nZPR||1\nORC|NW\nPRB|AD\nZPR||2\nZI1|1\nORC|NW");
        let (root, d) = Structures::default_set().group(&m);
        assert!(d.is_empty(), "{d:?}");
        let probs: Vec<_> = root.groups("PROBLEM").collect();
        assert_eq!(probs.len(), 2);
        assert_eq!(
            probs[1].get(&m, &"ZPR-2".parse().unwrap()).as_str(),
            Some("2")
        );
        assert_eq!(probs[1].groups("ORDER").count(), 1);
    }

    #[test]
    fn unknown_segments_stay_in_place() {
        let m = parse("MSH|^~\\&|||||||ADT^A08^ADT_A01|1\nEVN|\nPID|1\nZXX|1\nPV1|1\nOBX|1");
        let (root, d) = Structures::default_set().group(&m);
        assert_eq!(root.items[3], Item::Unexpected(3));
        assert_eq!(d.iter().filter(|x| x.code == "H010").count(), 1);
        assert_eq!(root.segment_indices(), vec![0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn missing_required_segment_is_reported() {
        let m = parse("MSH|^~\\&|||||||ADT^A08^ADT_A01|1\nPID|1\nPV1|1");
        let (_, d) = Structures::default_set().group(&m);
        assert!(
            d.iter()
                .any(|x| x.code == "H011" && x.message.contains("EVN")),
            "{d:?}"
        );
    }
}

#[cfg(test)]
mod strong_match_tests {
    use super::*;

    #[test]
    fn omg_o19_each_orc_starts_an_order() {
        let m = Message::parse("MSH|^~\\&|||||||OMG^O19^OMG_O19|1\rPID|1\rORC|NW\rTQ1|1\rOBR|1\rORC|PA\rTQ1|1\rOBR|2\rOBX|1\rORC|CH\rTQ1|1\rOBR|3".into()).unwrap().0;
        let (root, d) = Structures::default_set().group(&m);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(root.groups("ORDER").count(), 3);
    }
}
