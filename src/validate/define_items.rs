//! define.xml as the rules of type "Define Item Metadata Check" see it: one row per variable
//! of a dataset's ItemGroupDef, in ItemRef order, with the ItemDef's attributes and its
//! codelist (NCI code of the list, coded values and their NCI codes).

use std::collections::HashMap;

use quick_xml::events::Event;

use super::data::V;

/// The columns of a define item row, as the reference engine names them.
pub const COLUMNS: &[&str] = &[
    "define_variable_name",
    "define_variable_label",
    "define_variable_data_type",
    "define_variable_role",
    "define_variable_size",
    "define_variable_ccode",
    "define_variable_format",
    "define_variable_allowed_terms",
    "define_variable_origin_type",
    "define_variable_has_no_data",
    "define_variable_order_number",
    "define_variable_has_codelist",
    "define_variable_codelist_coded_values",
    "define_variable_codelist_coded_codes",
    "define_variable_mandatory",
    "define_variable_has_comment",
];

#[derive(Default)]
struct Item {
    name: String,
    label: String,
    data_type: String,
    length: Option<f64>,
    format: String,
    codelist: Option<String>,
    origin: String,
    comment: bool,
}

#[derive(Default)]
struct CodeList {
    code: String,
    values: Vec<String>,
    codes: Vec<String>,
}

struct Ref {
    item: String,
    role: String,
    mandatory: String,
    order: Option<f64>,
    no_data: bool,
}

fn attrs(e: &quick_xml::events::BytesStart) -> HashMap<String, String> {
    e.attributes()
        .flatten()
        .map(|a| {
            (
                String::from_utf8_lossy(a.key.as_ref()).into_owned(),
                String::from_utf8_lossy(&a.value).into_owned(),
            )
        })
        .collect()
}

fn py_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    format!("[{}]", quoted.join(", "))
}

/// The rows for dataset `name` (matched by ItemGroupDef Name or Domain); `None` when the
/// define has no ItemGroupDef for it.
pub fn rows(xml: &str, name: &str) -> Option<Vec<Vec<V>>> {
    let mut groups: HashMap<String, Vec<Ref>> = HashMap::new();
    let mut items: HashMap<String, Item> = HashMap::new();
    let mut lists: HashMap<String, CodeList> = HashMap::new();
    let (mut group, mut item, mut list): (Option<String>, Option<String>, Option<String>) =
        (None, None, None);
    let mut in_list_item = false;
    let mut in_description = false;
    let mut reader = quick_xml::Reader::from_str(xml);
    loop {
        let ev = match reader.read_event() {
            Ok(e) => e,
            Err(_) => return None,
        };
        match ev {
            Event::Start(e) | Event::Empty(e) => {
                let a = attrs(&e);
                let get = |k: &str| a.get(k).cloned().unwrap_or_default();
                match e.name().as_ref() {
                    b"ItemGroupDef" => {
                        let key = a
                            .get("Name")
                            .or(a.get("Domain"))
                            .cloned()
                            .unwrap_or_default();
                        groups.entry(key.to_uppercase()).or_default();
                        group = Some(key.to_uppercase());
                    }
                    b"ItemRef" => {
                        if let Some(g) = &group {
                            groups.entry(g.clone()).or_default().push(Ref {
                                item: get("ItemOID"),
                                role: get("Role"),
                                mandatory: get("Mandatory"),
                                order: a.get("OrderNumber").and_then(|o| o.parse().ok()),
                                no_data: get("def:HasNoData") == "Yes",
                            });
                        }
                    }
                    b"ItemDef" => {
                        let oid = get("OID");
                        items.insert(
                            oid.clone(),
                            Item {
                                name: get("Name"),
                                data_type: get("DataType"),
                                length: a.get("Length").and_then(|l| l.parse().ok()),
                                format: get("def:DisplayFormat"),
                                comment: a.contains_key("def:CommentOID"),
                                ..Item::default()
                            },
                        );
                        item = Some(oid);
                    }
                    b"Description" => in_description = true,
                    b"CodeListRef" => {
                        if let Some(i) = item.as_ref().and_then(|o| items.get_mut(o)) {
                            i.codelist = Some(get("CodeListOID"));
                        }
                    }
                    b"def:Origin" => {
                        if let Some(i) = item.as_ref().and_then(|o| items.get_mut(o)) {
                            i.origin = get("Type");
                        }
                    }
                    b"CodeList" => {
                        let oid = get("OID");
                        lists.entry(oid.clone()).or_default();
                        list = Some(oid);
                    }
                    b"CodeListItem" | b"EnumeratedItem" => {
                        in_list_item = true;
                        if let Some(l) = list.as_ref().and_then(|o| lists.get_mut(o)) {
                            l.values.push(get("CodedValue"));
                        }
                    }
                    b"Alias" if get("Context") == "nci:ExtCodeID" => {
                        if let Some(l) = list.as_ref().and_then(|o| lists.get_mut(o)) {
                            if in_list_item {
                                l.codes.push(get("Name"));
                            } else {
                                l.code = get("Name");
                            }
                        }
                    }
                    _ => {}
                }
            }
            Event::Text(t) if in_description => {
                if let (Some(i), Ok(s)) = (item.as_ref().and_then(|o| items.get_mut(o)), t.decode())
                {
                    if i.label.is_empty() {
                        i.label = s.trim().to_owned();
                    }
                }
            }
            Event::End(e) => match e.name().as_ref() {
                b"ItemGroupDef" => group = None,
                b"ItemDef" => item = None,
                b"Description" => in_description = false,
                b"CodeList" => list = None,
                b"CodeListItem" | b"EnumeratedItem" => in_list_item = false,
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    let refs = groups.get(&name.to_uppercase())?;
    let text = |s: &str| {
        if s.is_empty() {
            V::Null
        } else {
            V::Str(s.to_owned())
        }
    };
    Some(
        refs.iter()
            .filter_map(|r| {
                let i = items.get(&r.item)?;
                let cl = i.codelist.as_ref().and_then(|c| lists.get(c));
                Some(vec![
                    text(&i.name),
                    text(&i.label),
                    text(&i.data_type),
                    text(&r.role),
                    i.length.map(V::Num).unwrap_or(V::Null),
                    cl.map(|c| text(&c.code)).unwrap_or(V::Null),
                    text(&i.format),
                    cl.map(|c| V::Str(py_list(&c.values))).unwrap_or(V::Null),
                    text(&i.origin),
                    V::Str(if r.no_data { "Yes" } else { "No" }.into()),
                    r.order.map(V::Num).unwrap_or(V::Null),
                    V::Str(if cl.is_some() { "True" } else { "False" }.into()),
                    cl.map(|c| V::Str(py_list(&c.values))).unwrap_or(V::Null),
                    cl.map(|c| V::Str(py_list(&c.codes))).unwrap_or(V::Null),
                    text(&r.mandatory),
                    V::Str(if i.comment { "True" } else { "False" }.into()),
                ])
            })
            .collect(),
    )
}
