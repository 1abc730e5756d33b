//! The SDTM mapping files checked against the standards we did not write: variable names,
//! labels, types and core designations against SDTMIG 3.4 metadata, terminology values
//! against the CDISC CT release (`../shared/reference/`). And: broken mapping files fail
//! with located errors before any data is read.

mod common;

use std::collections::{HashMap, HashSet};

use kakehashi::sdtm::SdtmSpec;

/// (dataset, variable) → (label, type, core) from SDTMIG 3.4 Variables.csv.
fn sdtmig() -> HashMap<(String, String), (String, String, String)> {
    let mut r =
        csv::Reader::from_path(common::shared("reference/sdtmig-3.4/Variables.csv")).unwrap();
    let h = r.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    let (ds, var, label, ty, core) = (
        col("Dataset Name"),
        col("Variable Name"),
        col("Variable Label"),
        col("Type"),
        col("Core"),
    );
    r.records()
        .map(|x| x.unwrap())
        .map(|x| {
            (
                (x[ds].to_owned(), x[var].to_owned()),
                (x[label].to_owned(), x[ty].to_owned(), x[core].to_owned()),
            )
        })
        .collect()
}

/// Codelist C-code → (extensible, submission values), from the CT release.
fn ct() -> HashMap<String, (bool, HashSet<String>)> {
    let text =
        std::fs::read_to_string(common::shared("reference/cdisc-ct/SDTM_Terminology.txt")).unwrap();
    let mut out: HashMap<String, (bool, HashSet<String>)> = HashMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 5 {
            continue;
        }
        if f[1].is_empty() {
            out.entry(f[0].to_owned()).or_default().0 = f[2] == "Yes";
        } else {
            out.entry(f[1].to_owned())
                .or_default()
                .1
                .insert(f[4].to_owned());
        }
    }
    out
}

#[test]
fn embedded_sdtm_mappings_load_and_cover_the_domains() {
    let spec = SdtmSpec::load(None).unwrap_or_else(|d| {
        panic!(
            "{}",
            d.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    let names: Vec<&str> = spec.domains.iter().map(|d| d.domain.as_str()).collect();
    for d in ["DM", "LB", "VS", "CM", "MH", "AE", "EX", "DS", "SV"] {
        assert!(names.contains(&d), "{d} missing: {names:?}");
    }
    assert_eq!(names[0], "DM", "the subject-level domain runs first");
}

#[test]
fn domain_variables_match_sdtmig_3_4() {
    let spec = SdtmSpec::load(None).unwrap();
    let ig = sdtmig();
    // The validator's library: the IG tables plus the SDTM model's timing variables, which
    // every general-observation-class domain may use (MHSTDY, MHENDY).
    let lib = kakehashi::validate::Standards::load(&Default::default())
        .unwrap()
        .library;
    let mut problems = Vec::new();
    let mut checked = 0;
    for d in &spec.domains {
        for v in &d.variables {
            let Some((label, ty, core)) = ig.get(&(d.domain.clone(), v.name.clone())) else {
                if lib
                    .variable(&d.domain, &v.name)
                    .is_some_and(|m| m.role == "Timing" && m.label.is_empty())
                {
                    continue;
                }
                problems.push(format!(
                    "{}.{} is not an SDTMIG 3.4 {} variable",
                    d.domain, v.name, d.domain
                ));
                continue;
            };
            checked += 1;
            if &v.label != label {
                problems.push(format!(
                    "{}.{} label {:?}, SDTMIG {:?}",
                    d.domain, v.name, v.label, label
                ));
            }
            let our_ty = if v.ty == kakehashi::sdtm::spec::VarType::Num {
                "Num"
            } else {
                "Char"
            };
            if our_ty != ty {
                problems.push(format!(
                    "{}.{} type {our_ty}, SDTMIG {ty}",
                    d.domain, v.name
                ));
            }
            if &v.core != core {
                problems.push(format!(
                    "{}.{} core {}, SDTMIG {core}",
                    d.domain, v.name, v.core
                ));
            }
        }
        // Every Req and Exp variable of the domain is declared (SDTMIG §4.1.5).
        for ((ds, var), (_, _, core)) in &ig {
            if ds == &d.domain && (core == "Req" || core == "Exp") && d.variable(var).is_none() {
                problems.push(format!("{}.{var} ({core}) is not declared", d.domain));
            }
        }
    }
    println!("{checked} variables checked against SDTMIG 3.4");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn terminology_values_are_cdisc_submission_values() {
    let spec = SdtmSpec::load(None).unwrap();
    let ct = ct();
    let mut problems = Vec::new();
    let mut checked = 0;
    for t in spec.terminology.values() {
        for (field, value) in t.values() {
            let Some(cl) = t.codelists.get(field) else {
                continue;
            };
            let Some((extensible, values)) = ct.get(cl) else {
                problems.push(format!(
                    "{}: codelist {cl} is not in the CT release",
                    t.name
                ));
                continue;
            };
            checked += 1;
            if values.contains(value) {
                continue;
            }
            let declared = t
                .extensions
                .get(field)
                .is_some_and(|x| x.iter().any(|v| v == value));
            if !(declared && *extensible) {
                problems.push(format!(
                    "{}: {field} value {value:?} is not in codelist {cl}{}",
                    t.name,
                    if declared {
                        " (declared as an extension, but the codelist is not extensible)"
                    } else {
                        ""
                    }
                ));
            }
        }
    }
    for d in &spec.domains {
        for v in &d.variables {
            if let Some(cl) = &v.codelist {
                if !ct.contains_key(cl) {
                    problems.push(format!(
                        "{}.{}: codelist {cl} is not in the CT release",
                        d.domain, v.name
                    ));
                }
            }
        }
    }
    println!("{checked} terminology values checked against CDISC CT");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn override_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (rel, text) in files {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

fn errors_of(files: &[(&str, &str)]) -> Vec<String> {
    let dir = override_dir(files);
    match SdtmSpec::load(Some(dir.path())) {
        Ok(_) => vec![],
        Err(d) => d.iter().map(|x| x.to_string()).collect(),
    }
}

const BROKEN_VS: &str = "kind: sdtm-domain
name: vs
domain: VS
label: Vital Signs
class: Findings
keys: [STUDYID, USUBJID, VSTESTCD]
views:
  - resource: Observation
    select:
      - column:
          - {name: VSTESTCD, path: \"code.lookup('no-such-table', 'VSTESTCD')\"}
          - {name: VSORRES, path: \"value.ofType(Quantity).value.\"}
          - {name: VSSTRAY, path: \"'x'\"}
variables:
  - {name: STUDYID, label: Study Identifier, type: Char, core: Req}
  - {name: DOMAIN, label: Domain Abbreviation, type: Char, core: Req}
  - {name: USUBJID, label: Unique Subject Identifier, type: Char, core: Req}
  - {name: VSTESTCD, label: Vital Signs Test Short Name, type: Char, core: Req}
  - {name: VSORRES, label: Result or Finding in Original Units, type: Char, core: Exp}
  - {name: VSNOSRC, label: Nothing fills this, type: Char, core: Perm}
";

#[test]
fn broken_domain_files_fail_with_located_errors() {
    let errs = errors_of(&[("domains/vs.yaml", BROKEN_VS)]).join("\n");
    assert!(
        errs.contains("error[M306]: unknown terminology table \"no-such-table\""),
        "{errs}"
    );
    assert!(
        errs.contains("vs.yaml:11:"),
        "lookup error points at its line: {errs}"
    );
    assert!(
        errs.contains("error[M307]") && errs.contains("vs.yaml:12:"),
        "syntax error located: {errs}"
    );
    // Columns that compile are still checked: an undeclared SDTM-looking column, a
    // variable nothing fills.
    let fixed = BROKEN_VS
        .replace(
            "value.ofType(Quantity).value.\"",
            "value.ofType(Quantity).value\"",
        )
        .replace("no-such-table", "vital-signs");
    let errs = errors_of(&[("domains/vs.yaml", &fixed)]).join("\n");
    assert!(
        errs.contains("view column VSSTRAY looks like an SDTM variable"),
        "{errs}"
    );
    assert!(errs.contains("variable VSNOSRC has no source"), "{errs}");
}

#[test]
fn broken_terminology_files_fail_with_located_errors() {
    let t = "kind: sdtm-terminology\nname: sex\nfields: [SEX]\nsystems: {A: http://x}\nentries:\n  - [B, male, M]\n  - [A, female]\n";
    let errs = errors_of(&[("terminology/sex.yaml", t)]).join("\n");
    assert!(
        errs.contains("unknown system alias B") && errs.contains("sex.yaml:6:"),
        "{errs}"
    );
    assert!(
        errs.contains("entry has 2 cells, expected 3") && errs.contains("sex.yaml:7:"),
        "{errs}"
    );
    let wrong_name = "kind: sdtm-terminology\nname: other\nfields: [SEX]\nentries: []\n";
    let errs = errors_of(&[("terminology/sex.yaml", wrong_name)]).join("\n");
    assert!(
        errs.contains("M303") && errs.contains("differs from the file name"),
        "{errs}"
    );
    let schema = "kind: sdtm-domain\nname: zz\ndomain: zz\n";
    let errs = errors_of(&[("domains/zz.yaml", schema)]).join("\n");
    assert!(errs.contains("M302"), "schema errors: {errs}");
}

#[test]
fn a_site_overrides_a_terminology_table_file_by_file() {
    // A site adds its local BNP code; the rest of the embedded table set is unchanged.
    let mut text = String::from_utf8(
        std::fs::read(common::repo("mappings/sdtm/terminology/lab-tests.yaml")).unwrap(),
    )
    .unwrap();
    text = text.replace("entries:\n", "entries:\n  - [\"*\", L9001, BNP, Brain Natriuretic Peptide, CHEMISTRY, PLASMA, null, ng/L]\n");
    let dir = override_dir(&[("terminology/lab-tests.yaml", &text)]);
    let spec = SdtmSpec::load(Some(dir.path())).unwrap();
    let t = &spec.terminology["lab-tests"];
    assert_eq!(t.get(Some("urn:any"), "L9001", "LBTESTCD"), Some("BNP"));
    assert_eq!(
        t.get(
            Some("http://medis.or.jp/CodeSystem/master-JLAC10-17digits"),
            "3D046000001906202",
            "LBTESTCD"
        ),
        Some("HBA1C")
    );
    assert!(spec.terminology.contains_key("units"));
    assert!(spec.files.values().any(|o| o != "embedded"));
}

/// SQL-on-FHIR v2's required FHIRPath subset ("shareable" views run on any runner).
const SOF_REQUIRED: &[&str] = &[
    "where",
    "exists",
    "empty",
    "extension",
    "join",
    "ofType",
    "first",
    "not",
    "lowBoundary",
    "highBoundary",
    "getResourceKey",
    "getReferenceKey",
];

/// Every FHIRPath expression of a ViewDefinition (paths, forEach, where), recursively.
fn view_expressions(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(o) => {
            for (k, x) in o {
                match (k.as_str(), x) {
                    (
                        "path" | "forEach" | "forEachOrNull" | "repeat",
                        serde_json::Value::String(s),
                    ) => out.push(s.clone()),
                    ("repeat", serde_json::Value::Array(a)) => {
                        out.extend(a.iter().filter_map(|p| p.as_str().map(str::to_owned)))
                    }
                    _ => view_expressions(x, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| view_expressions(x, out)),
        _ => {}
    }
}

/// Issue 15: every function a view calls outside SQL-on-FHIR v2's required subset is
/// listed, with why it is needed, in the README's portability table; a new one fails here
/// until it is documented.
#[test]
fn issue15_every_non_standard_view_function_is_listed_in_the_readme() {
    let readme = std::fs::read_to_string(common::repo("README.md")).unwrap();
    let start = readme
        .find("<!-- portability:begin -->")
        .expect("portability table markers");
    let end = readme.find("<!-- portability:end -->").unwrap();
    let table = &readme[start..end];
    let mut used: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    for f in common::files_under(&common::repo("mappings/sdtm/domains")) {
        let doc = kakehashi::yaml::parse(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let mut exprs = Vec::new();
        view_expressions(&doc.value["views"], &mut exprs);
        assert!(!exprs.is_empty(), "{} has views", f.display());
        for e in exprs {
            let parsed = kakehashi::fhirpath::parse(&e).unwrap_or_else(|x| panic!("{e}: {x:?}"));
            let mut names = std::collections::BTreeSet::new();
            parsed.functions(&mut names);
            for n in names
                .into_iter()
                .filter(|n| !SOF_REQUIRED.contains(&n.as_str()))
            {
                used.entry(n)
                    .or_default()
                    .insert(f.file_name().unwrap().to_string_lossy().into_owned());
            }
        }
    }
    assert!(
        used.contains_key("lookup") && used.contains_key("dtc"),
        "{used:?}"
    );
    let missing: Vec<&String> = used
        .keys()
        .filter(|n| !table.contains(&format!("`{n}(")))
        .collect();
    assert!(
        missing.is_empty(),
        "not in the README's portability table: {missing:?} (used by {used:?})"
    );
}
