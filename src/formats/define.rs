//! Define-XML 2.1 from the same metadata the datasets carry (labels, types, lengths, key
//! sequence, codelists with NCI codes, origins, methods for derived variables), with
//! value-level metadata for findings results (`--ORRES` by `--TESTCD`: type and length per
//! test) and leaf links to the dataset files. Written with quick-xml; valid against the
//! Define-XML 2.1 XSD (`xmllint --schema`, in the tests); [`cross_check`] does what the XSD
//! cannot (every OID referenced exists, every variable described, lengths and types match).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use super::ct::Ct;
use super::dataset_json::{item_group_oid, item_oid, numeric_type};
use super::table::{Cell, Dataset, VarType};

#[derive(Debug, Clone)]
pub struct DefineContext<'a> {
    pub study_id: String,
    /// ISO 8601 creation time (fixed by the caller, never the clock).
    pub created: String,
    pub originator: String,
    /// Extension of the dataset files the leaves point at (`xpt`, `json`).
    pub leaf_ext: String,
    pub ct: Option<&'a Ct>,
}

type W<'w, O> = Writer<&'w mut O>;

fn start<O: Write>(w: &mut W<O>, name: &str, attrs: &[(&str, &str)]) -> std::io::Result<()> {
    let mut e = BytesStart::new(name);
    for (k, v) in attrs {
        e.push_attribute((*k, *v));
    }
    w.write_event(Event::Start(e)).map(|_| ())
}

fn empty<O: Write>(w: &mut W<O>, name: &str, attrs: &[(&str, &str)]) -> std::io::Result<()> {
    let mut e = BytesStart::new(name);
    for (k, v) in attrs {
        e.push_attribute((*k, *v));
    }
    w.write_event(Event::Empty(e)).map(|_| ())
}

fn end<O: Write>(w: &mut W<O>, name: &str) -> std::io::Result<()> {
    w.write_event(Event::End(BytesEnd::new(name))).map(|_| ())
}

fn text<O: Write>(w: &mut W<O>, t: &str) -> std::io::Result<()> {
    w.write_event(Event::Text(BytesText::new(t))).map(|_| ())
}

fn description<O: Write>(w: &mut W<O>, t: &str) -> std::io::Result<()> {
    start(w, "Description", &[])?;
    start(w, "TranslatedText", &[("xml:lang", "en")])?;
    text(w, t)?;
    end(w, "TranslatedText")?;
    end(w, "Description")
}

fn class_name(class: &str) -> &'static str {
    match class {
        "Special-Purpose" => "SPECIAL PURPOSE",
        "Interventions" => "INTERVENTIONS",
        "Events" => "EVENTS",
        "Findings" => "FINDINGS",
        "Trial Design" => "TRIAL DESIGN",
        _ => "RELATIONSHIP",
    }
}

/// Define-XML DataType and Length (None for date/time types) of a column.
pub fn data_type(ds: &Dataset, col: usize) -> (&'static str, Option<usize>, Option<usize>) {
    let c = &ds.columns[col];
    match c.ty {
        VarType::Char if c.name.ends_with("DTC") => ("datetime", None, None),
        VarType::Char => ("text", Some(ds.char_length(col)), None),
        VarType::Num => {
            let texts: Vec<String> = ds
                .rows
                .iter()
                .filter_map(|r| match &r[col] {
                    Cell::Num(x) => Some(format!("{x}")),
                    _ => None,
                })
                .collect();
            let digits = |s: &String| s.chars().filter(char::is_ascii_digit).count();
            let length = texts.iter().map(digits).max().unwrap_or(1).max(1);
            if numeric_type(ds, col) == "integer" {
                ("integer", Some(length), None)
            } else {
                let decimals = texts
                    .iter()
                    .map(|s| s.split_once('.').map_or(0, |(_, f)| f.len()))
                    .max()
                    .unwrap_or(0);
                ("float", Some(length), Some(decimals))
            }
        }
    }
}

fn origin(o: &str) -> (&'static str, &'static str) {
    match o {
        "Derived" => ("Derived", "Sponsor"),
        "Assigned" => ("Assigned", "Sponsor"),
        "Protocol" => ("Protocol", "Sponsor"),
        "Predecessor" => ("Predecessor", "Sponsor"),
        // Collected at the site, in the hospital's records (eSource).
        _ => ("Collected", "Investigator"),
    }
}

/// The findings prefix of a dataset with `--TESTCD` and `--ORRES` (value-level metadata).
fn findings_prefix(ds: &Dataset) -> Option<String> {
    let p = ds
        .columns
        .iter()
        .find_map(|c| c.name.strip_suffix("TESTCD"))?
        .to_owned();
    (ds.column(&format!("{p}ORRES")).is_some() && !p.is_empty()).then_some(p)
}

/// Writes define.xml for the datasets.
pub fn write(
    datasets: &[Dataset],
    cx: &DefineContext,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let mut w = Writer::new_with_indent(out, b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let study = &cx.study_id;
    let file_oid = format!("DEFINE.{study}");
    start(
        &mut w,
        "ODM",
        &[
            ("xmlns", "http://www.cdisc.org/ns/odm/v1.3"),
            ("xmlns:xlink", "http://www.w3.org/1999/xlink"),
            ("xmlns:def", "http://www.cdisc.org/ns/def/v2.1"),
            ("ODMVersion", "1.3.2"),
            ("FileType", "Snapshot"),
            ("FileOID", &file_oid),
            ("CreationDateTime", &cx.created),
            ("Originator", &cx.originator),
            ("SourceSystem", "kakehashi"),
            ("SourceSystemVersion", env!("CARGO_PKG_VERSION")),
            ("def:Context", "Submission"),
        ],
    )?;
    start(&mut w, "Study", &[("OID", &format!("ST.{study}"))])?;
    start(&mut w, "GlobalVariables", &[])?;
    for (el, v) in [
        ("StudyName", study.as_str()),
        ("StudyDescription", study.as_str()),
        ("ProtocolName", study.as_str()),
    ] {
        start(&mut w, el, &[])?;
        text(&mut w, v)?;
        end(&mut w, el)?;
    }
    end(&mut w, "GlobalVariables")?;
    start(
        &mut w,
        "MetaDataVersion",
        &[
            ("OID", &format!("MDV.{study}")),
            ("Name", &format!("{study} SDTM")),
            ("def:DefineVersion", "2.1.0"),
        ],
    )?;
    start(&mut w, "def:Standards", &[])?;
    empty(
        &mut w,
        "def:Standard",
        &[
            ("OID", "STD.SDTMIG"),
            ("Name", "SDTMIG"),
            ("Type", "IG"),
            ("Version", "3.4"),
            ("Status", "Final"),
        ],
    )?;
    let ct_version = cx
        .ct
        .map(|c| c.version.clone())
        .unwrap_or_else(|| "unspecified".into());
    empty(
        &mut w,
        "def:Standard",
        &[
            ("OID", "STD.CT"),
            ("Name", "CDISC/NCI"),
            ("Type", "CT"),
            ("PublishingSet", "SDTM"),
            ("Version", &ct_version),
            ("Status", "Final"),
        ],
    )?;
    end(&mut w, "def:Standards")?;

    // Value-level metadata: --ORRES per --TESTCD in findings datasets.
    let mut vlm: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new(); // ORRES item → [(testcd, vlm item)]
    let mut vlm_items: Vec<(String, String, &'static str, usize, String)> = Vec::new(); // (oid, name, type, length, testcd label)
    for ds in datasets {
        let Some(p) = findings_prefix(ds) else {
            continue;
        };
        let (tc, or) = (
            ds.column(&format!("{p}TESTCD")),
            ds.column(&format!("{p}ORRES")),
        );
        let (Some(tc), Some(or)) = (tc, or) else {
            continue;
        };
        let mut per_test: BTreeMap<String, (bool, usize)> = BTreeMap::new();
        for r in &ds.rows {
            let Cell::Char(t) = &r[tc] else { continue };
            let e = per_test.entry(t.clone()).or_insert((true, 1));
            if let Cell::Char(v) = &r[or] {
                e.0 &= v.parse::<f64>().is_ok();
                e.1 = e.1.max(v.len());
            }
        }
        let orres_oid = item_oid(&ds.name, &format!("{p}ORRES"));
        for (test, (numeric, len)) in per_test {
            let oid = format!("{orres_oid}.{test}");
            vlm.entry(orres_oid.clone())
                .or_default()
                .push((test.clone(), oid.clone()));
            vlm_items.push((
                oid,
                format!("{p}ORRES"),
                if numeric { "float" } else { "text" },
                len,
                format!("{}.{}TESTCD", ds.name, p),
            ));
        }
    }
    for (orres, tests) in &vlm {
        start(
            &mut w,
            "def:ValueListDef",
            &[("OID", &format!("VL.{orres}"))],
        )?;
        for (i, (test, oid)) in tests.iter().enumerate() {
            start(
                &mut w,
                "ItemRef",
                &[
                    ("ItemOID", oid),
                    ("OrderNumber", &(i + 1).to_string()),
                    ("Mandatory", "No"),
                ],
            )?;
            empty(
                &mut w,
                "def:WhereClauseRef",
                &[("WhereClauseOID", &format!("WC.{oid}.{test}"))],
            )?;
            end(&mut w, "ItemRef")?;
        }
        end(&mut w, "def:ValueListDef")?;
    }
    for (oid, _, _, _, testcd) in &vlm_items {
        let test = oid.rsplit('.').next().unwrap_or("");
        let (ds, var) = testcd.split_once('.').unwrap_or(("", ""));
        start(
            &mut w,
            "def:WhereClauseDef",
            &[("OID", &format!("WC.{oid}.{test}"))],
        )?;
        start(
            &mut w,
            "RangeCheck",
            &[
                ("Comparator", "EQ"),
                ("SoftHard", "Soft"),
                ("def:ItemOID", &item_oid(ds, var)),
            ],
        )?;
        start(&mut w, "CheckValue", &[])?;
        text(&mut w, test)?;
        end(&mut w, "CheckValue")?;
        end(&mut w, "RangeCheck")?;
        end(&mut w, "def:WhereClauseDef")?;
    }

    // Datasets.
    let mut methods: Vec<(String, String, String)> = Vec::new();
    for ds in datasets {
        let lf = format!("LF.{}", ds.name);
        start(
            &mut w,
            "ItemGroupDef",
            &[
                ("OID", &item_group_oid(&ds.name)),
                ("Name", &ds.name),
                ("Domain", ds.name.strip_prefix("SUPP").unwrap_or(&ds.name)),
                ("Repeating", if ds.name == "DM" { "No" } else { "Yes" }),
                ("IsReferenceData", "No"),
                ("SASDatasetName", &ds.name),
                ("Purpose", "Tabulation"),
                (
                    "def:Structure",
                    if ds.structure.is_empty() {
                        "One record per record"
                    } else {
                        &ds.structure
                    },
                ),
                ("def:StandardOID", "STD.SDTMIG"),
                ("def:ArchiveLocationID", &lf),
            ],
        )?;
        description(&mut w, &ds.label)?;
        for (i, c) in ds.columns.iter().enumerate() {
            let oid = item_oid(&ds.name, &c.name);
            let order = (i + 1).to_string();
            let key = c.key_sequence.map(|k| k.to_string());
            let method = (c.origin == "Derived" && c.method.is_some())
                .then(|| format!("MT.{}.{}", ds.name, c.name));
            let mut attrs = vec![
                ("ItemOID", oid.as_str()),
                ("OrderNumber", order.as_str()),
                ("Mandatory", if c.core == "Req" { "Yes" } else { "No" }),
            ];
            if let Some(k) = &key {
                attrs.push(("KeySequence", k));
            }
            if let Some(m) = &method {
                attrs.push(("MethodOID", m));
                methods.push((
                    m.clone(),
                    format!("{}.{}", ds.name, c.name),
                    c.method.clone().unwrap_or_default(),
                ));
            }
            empty(&mut w, "ItemRef", &attrs)?;
        }
        empty(&mut w, "def:Class", &[("Name", class_name(&ds.class))])?;
        let file = format!("{}.{}", ds.name.to_lowercase(), cx.leaf_ext);
        start(&mut w, "def:leaf", &[("ID", &lf), ("xlink:href", &file)])?;
        start(&mut w, "def:title", &[])?;
        text(&mut w, &file)?;
        end(&mut w, "def:title")?;
        end(&mut w, "def:leaf")?;
        end(&mut w, "ItemGroupDef")?;
    }

    // Variables.
    let mut codelist_values: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for ds in datasets {
        for (i, c) in ds.columns.iter().enumerate() {
            let (dt, len, sig) = data_type(ds, i);
            let oid = item_oid(&ds.name, &c.name);
            let len_s = len.map(|l| l.to_string());
            let sig_s = sig.map(|s| s.to_string());
            let mut attrs = vec![
                ("OID", oid.as_str()),
                ("Name", c.name.as_str()),
                ("DataType", dt),
            ];
            if let Some(l) = &len_s {
                attrs.push(("Length", l));
            }
            if let Some(s) = &sig_s {
                attrs.push(("SignificantDigits", s));
            }
            attrs.push(("SASFieldName", c.name.as_str()));
            start(&mut w, "ItemDef", &attrs)?;
            description(&mut w, &c.label)?;
            // A result codelist (C102580 for LBSTRESC) binds character results only: a
            // number in --STRESC is not a coded value.
            let result_var = c.name.ends_with("STRESC") || c.name.ends_with("ORRES");
            let values: BTreeSet<String> = ds
                .rows
                .iter()
                .filter_map(|r| match &r[i] {
                    Cell::Char(s) if !(result_var && s.trim().parse::<f64>().is_ok()) => {
                        Some(s.clone())
                    }
                    _ => None,
                })
                .collect();
            if let Some(cl) = c.codelist.as_ref().filter(|_| !values.is_empty()) {
                empty(
                    &mut w,
                    "CodeListRef",
                    &[("CodeListOID", &format!("CL.{cl}"))],
                )?;
                codelist_values
                    .entry(cl.clone())
                    .or_default()
                    .extend(values);
            }
            let (ty, source) = origin(&c.origin);
            empty(&mut w, "def:Origin", &[("Type", ty), ("Source", source)])?;
            if vlm.contains_key(&oid) {
                empty(
                    &mut w,
                    "def:ValueListRef",
                    &[("ValueListOID", &format!("VL.{oid}"))],
                )?;
            }
            end(&mut w, "ItemDef")?;
        }
    }
    for (oid, name, dt, len, _) in &vlm_items {
        let len = len.to_string();
        start(
            &mut w,
            "ItemDef",
            &[
                ("OID", oid),
                ("Name", name),
                ("DataType", dt),
                ("Length", &len),
                ("SASFieldName", name),
            ],
        )?;
        description(
            &mut w,
            &format!("{name} for {}", oid.rsplit('.').next().unwrap_or("")),
        )?;
        empty(
            &mut w,
            "def:Origin",
            &[("Type", "Collected"), ("Source", "Investigator")],
        )?;
        end(&mut w, "ItemDef")?;
    }

    // Code lists: the values the data use, with their NCI codes.
    for (cl, values) in &codelist_values {
        let known = cx.ct.and_then(|ct| ct.codelists.get(cl));
        let name = known.map(|k| k.name.clone()).unwrap_or_else(|| cl.clone());
        let mut attrs = vec![
            ("OID", format!("CL.{cl}")),
            ("Name", name),
            ("DataType", "text".to_owned()),
        ];
        if known.is_some() {
            attrs.push(("def:StandardOID", "STD.CT".to_owned()));
        }
        let a: Vec<(&str, &str)> = attrs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        start(&mut w, "CodeList", &a)?;
        for v in values {
            match known.and_then(|k| k.terms.get(v)) {
                Some(t) => {
                    start(&mut w, "EnumeratedItem", &[("CodedValue", v)])?;
                    empty(
                        &mut w,
                        "Alias",
                        &[("Context", "nci:ExtCodeID"), ("Name", &t.code)],
                    )?;
                    end(&mut w, "EnumeratedItem")?;
                }
                None => empty(
                    &mut w,
                    "EnumeratedItem",
                    &[("CodedValue", v), ("def:ExtendedValue", "Yes")],
                )?,
            }
        }
        empty(
            &mut w,
            "Alias",
            &[("Context", "nci:ExtCodeID"), ("Name", cl)],
        )?;
        end(&mut w, "CodeList")?;
    }
    for (oid, var, m) in &methods {
        start(
            &mut w,
            "MethodDef",
            &[
                ("OID", oid),
                ("Name", &format!("Algorithm for {var}")),
                ("Type", "Computation"),
            ],
        )?;
        description(&mut w, m)?;
        end(&mut w, "MethodDef")?;
    }
    end(&mut w, "MetaDataVersion")?;
    end(&mut w, "Study")?;
    end(&mut w, "ODM")?;
    Ok(())
}

/// What the XSD cannot check: every OID referenced is defined, every dataset variable is
/// described in order, and lengths and types agree with the data. Returns the problems.
pub fn cross_check(define_xml: &str, datasets: &[Dataset]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut defined: HashMap<String, String> = HashMap::new(); // OID → element
    let mut refs: Vec<(String, String)> = Vec::new(); // (attribute, OID)
    let mut items: HashMap<String, (String, Option<usize>)> = HashMap::new(); // ItemDef OID → (DataType, Length)
    let mut group_refs: HashMap<String, Vec<String>> = HashMap::new();
    let mut current_group: Option<String> = None;
    let mut reader = quick_xml::Reader::from_str(define_xml);
    loop {
        let ev = match reader.read_event() {
            Ok(e) => e,
            Err(e) => {
                problems.push(format!("not well-formed XML: {e}"));
                break;
            }
        };
        let (e, is_start) = match &ev {
            Event::Start(e) => (e.clone(), true),
            Event::Empty(e) => (e.clone(), false),
            Event::End(e) if e.name().as_ref() == b"ItemGroupDef" => {
                current_group = None;
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
        let attrs: HashMap<String, String> = e
            .attributes()
            .flatten()
            .map(|a| {
                (
                    String::from_utf8_lossy(a.key.as_ref()).into_owned(),
                    String::from_utf8_lossy(&a.value).into_owned(),
                )
            })
            .collect();
        if let Some(oid) = attrs.get("OID").or_else(|| attrs.get("ID")) {
            if defined.insert(oid.clone(), name.clone()).is_some() {
                problems.push(format!("{oid} is defined twice"));
            }
        }
        for k in [
            "ItemOID",
            "MethodOID",
            "CodeListOID",
            "ValueListOID",
            "WhereClauseOID",
            "def:ArchiveLocationID",
            "def:StandardOID",
            "def:ItemOID",
        ] {
            if let Some(v) = attrs.get(k) {
                refs.push((k.to_owned(), v.clone()));
            }
        }
        if name == "ItemGroupDef" && is_start {
            current_group = attrs.get("OID").cloned();
        }
        if name == "ItemRef" {
            if let (Some(g), Some(i)) = (&current_group, attrs.get("ItemOID")) {
                group_refs.entry(g.clone()).or_default().push(i.clone());
            }
        }
        if name == "ItemDef" {
            if let Some(oid) = attrs.get("OID") {
                items.insert(
                    oid.clone(),
                    (
                        attrs.get("DataType").cloned().unwrap_or_default(),
                        attrs.get("Length").and_then(|l| l.parse().ok()),
                    ),
                );
            }
        }
    }
    for (k, oid) in refs {
        if !defined.contains_key(&oid) {
            problems.push(format!("{k}=\"{oid}\" refers to nothing"));
        }
    }
    for ds in datasets {
        let g = item_group_oid(&ds.name);
        let listed = group_refs.get(&g).cloned().unwrap_or_default();
        let want: Vec<String> = ds
            .columns
            .iter()
            .map(|c| item_oid(&ds.name, &c.name))
            .collect();
        if listed != want {
            problems.push(format!(
                "{g}: variables {listed:?}, the dataset has {want:?}"
            ));
        }
        for (i, c) in ds.columns.iter().enumerate() {
            let oid = item_oid(&ds.name, &c.name);
            let Some((dt, len)) = items.get(&oid) else {
                continue;
            };
            let (want_dt, want_len, _) = data_type(ds, i);
            if dt != want_dt {
                problems.push(format!("{oid}: DataType {dt}, data say {want_dt}"));
            }
            if *len != want_len {
                problems.push(format!("{oid}: Length {len:?}, data say {want_len:?}"));
            }
            if c.ty == VarType::Char && dt == "text" && len.is_some_and(|l| l < ds.char_length(i)) {
                problems.push(format!("{oid}: Length shorter than the longest value"));
            }
        }
    }
    problems
}
