//! Rule files. Our rules (`rules/*.yaml`) and the published CDISC Open Rules (CORE
//! `rule.yml`) share one declarative language — conditions (`all` / `any` / `not` of
//! `name` + `operator` + `value`), operations, matched datasets, scope, sensitivity, an
//! outcome message — so one engine runs both: ours for the checks this project owns, CDISC's
//! to score the engine against their expected results.

use serde_json::Value;

#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub include_domains: Vec<String>,
    pub exclude_domains: Vec<String>,
    pub include_classes: Vec<String>,
    pub exclude_classes: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Rule {
    /// Our id (`KKH-SD0001`) or the CORE id for published rules.
    pub id: String,
    pub core_ids: Vec<String>,
    /// SDTMIG conformance rule ids (CGxxxx).
    pub cg_ids: Vec<String>,
    pub rule_type: String,
    pub sensitivity: String,
    pub severity: String,
    pub message: String,
    pub description: String,
    pub output_variables: Vec<String>,
    pub check: Value,
    pub operations: Vec<Value>,
    pub match_datasets: Vec<Value>,
    pub scope: Scope,
    /// Which SDTMIG versions the rule applies to (empty = all).
    pub versions: Vec<String>,
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a
            .iter()
            .filter_map(|x| {
                x.as_str()
                    .map(str::to_owned)
                    .or_else(|| x.as_i64().map(|i| i.to_string()))
            })
            .collect(),
        Value::String(s) => vec![s.clone()],
        _ => vec![],
    }
}

impl Rule {
    /// From a parsed rule document (ours or CORE's `rule.yml`).
    pub fn from_value(v: &Value) -> Result<Rule, String> {
        let core = v["Core"]["Id"].as_str().map(str::to_owned);
        let id = v["Id"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| core.clone())
            .ok_or("a rule needs `Id` (or `Core: {Id}`)")?;
        if v.get("Check").is_none() {
            return Err(format!("{id}: no `Check`"));
        }
        let mut cg_ids = Vec::new();
        let mut versions = Vec::new();
        for a in v["Authorities"].as_array().into_iter().flatten() {
            for st in a["Standards"].as_array().into_iter().flatten() {
                if st["Name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case("SDTMIG"))
                {
                    if let Some(ver) = st["Version"].as_str() {
                        versions.push(ver.to_owned());
                    }
                    for r in st["References"].as_array().into_iter().flatten() {
                        if let Some(cg) = r["Rule Identifier"]["Id"].as_str() {
                            if !cg_ids.contains(&cg.to_owned()) {
                                cg_ids.push(cg.to_owned());
                            }
                        }
                    }
                }
            }
        }
        let mut core_ids: Vec<String> = core.into_iter().collect();
        core_ids.extend(strings(&v["Implements"]["CORE"]));
        cg_ids.extend(strings(&v["Implements"]["SDTMIG"]));
        let scope = &v["Scope"];
        Ok(Rule {
            id,
            core_ids,
            cg_ids,
            rule_type: v["Rule Type"].as_str().unwrap_or("Record Data").to_owned(),
            sensitivity: v["Sensitivity"].as_str().unwrap_or("Record").to_owned(),
            severity: v["Severity"].as_str().unwrap_or("Error").to_owned(),
            message: v["Outcome"]["Message"]
                .as_str()
                .unwrap_or("")
                .trim()
                .to_owned(),
            description: v["Description"].as_str().unwrap_or("").trim().to_owned(),
            output_variables: strings(&v["Outcome"]["Output Variables"]),
            check: v["Check"].clone(),
            operations: v["Operations"].as_array().cloned().unwrap_or_default(),
            match_datasets: v["Match Datasets"].as_array().cloned().unwrap_or_default(),
            scope: Scope {
                include_domains: strings(&scope["Domains"]["Include"]),
                exclude_domains: strings(&scope["Domains"]["Exclude"]),
                include_classes: strings(&scope["Classes"]["Include"]),
                exclude_classes: strings(&scope["Classes"]["Exclude"]),
            },
            versions,
        })
    }

    pub fn parse_yaml(text: &str) -> Result<Rule, String> {
        let doc =
            crate::yaml::parse(text).map_err(|e| format!("line {}: {}", e.line, e.message))?;
        Rule::from_value(&doc.value)
    }
}
