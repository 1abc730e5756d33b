//! The standards the validator ships with, and the overrides a user gives.
//!
//! A converter for regulators is judged by the validator's verdict, so a verdict without the
//! standard is no verdict: SDTMIG 3.4 metadata, CDISC CT 2025-03, the published CDISC Open
//! Rules for SDTMIG and the ISO 3166-1 alpha-3 codes are embedded (derived, compacted copies
//! in `schemas/cdisc/`, written by `scripts/gen-standards.py`; see its header for what each
//! keeps). ISO 8601 is a rule (KKH0004), not data. Each piece can be replaced from a folder or
//! file; every report states which versions it used.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::library::Library;
use super::rule::Rule;
use crate::formats::ct::Ct;

const DATASETS: &str = include_str!("../../schemas/cdisc/sdtmig-3.4/Datasets.csv");
const VARIABLES: &str = include_str!("../../schemas/cdisc/sdtmig-3.4/Variables.csv");
const CT_GZ: &[u8] = include_bytes!("../../schemas/cdisc/sdtm-ct.tsv.gz");
const OPEN_RULES_GZ: &[u8] = include_bytes!("../../schemas/cdisc/open-rules-sdtmig.yaml.gz");
const COUNTRIES: &str = include_str!("../../schemas/cdisc/iso3166-1-alpha3.txt");
const VERSIONS: &str = include_str!("../../schemas/cdisc/VERSIONS");

/// The embedded CT release.
pub const CT_VERSION: &str = "2025-03-28";

/// What to use instead of an embedded piece (all `None`: the embedded defaults).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// SDTMIG metadata folder (`Datasets.csv`, `Variables.csv`).
    pub sdtmig: Option<PathBuf>,
    /// SDTMIG version the published rules are selected for (default: the metadata's).
    pub standard: Option<String>,
    /// CDISC CT release (NCI EVS `SDTM Terminology.txt`) and its release date.
    pub ct: Option<PathBuf>,
    pub ct_version: Option<String>,
    /// Folder of published rules (`CORE-*/rule.yml`).
    pub open_rules: Option<PathBuf>,
    /// Run only the project's own rules (no published rules).
    pub no_open_rules: bool,
}

/// One standard in use: what, which version, from where.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InUse {
    pub standard: String,
    pub version: String,
    pub source: String,
}

/// Everything a validation run uses: metadata, terminology, rules, and their versions.
pub struct Standards {
    pub library: Library,
    pub rules: Vec<Rule>,
    pub in_use: Vec<InUse>,
}

fn gunzip(bytes: &[u8]) -> String {
    let mut s = String::new();
    // The embedded files are written by our own script: a failure is a build defect.
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut s)
        .expect("embedded standard file is valid gzip");
    s
}

fn embedded_version(key: &str) -> (String, String) {
    VERSIONS
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, '\t');
            Some((f.next()?, f.next()?, f.next()?))
        })
        .find(|(k, _, _)| *k == key)
        .map(|(_, v, d)| (v.to_owned(), d.to_owned()))
        .unwrap_or_default()
}

/// The embedded published rules (one `#%% CORE-…` chunk each).
pub fn embedded_open_rules() -> Result<Vec<Rule>, String> {
    let text = gunzip(OPEN_RULES_GZ);
    let mut out = Vec::new();
    for chunk in text.split("#%% ").filter(|c| !c.trim().is_empty()) {
        let (id, body) = chunk.split_once('\n').unwrap_or((chunk, ""));
        out.push(Rule::parse_yaml(body).map_err(|e| format!("embedded {id}: {e}"))?);
    }
    Ok(out)
}

/// Published rules of a folder (`CORE-*/rule.yml`).
pub fn open_rules_in(dir: &Path) -> Result<Vec<Rule>, String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("rule.yml"))
        .filter(|p| p.exists())
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        out.push(Rule::parse_yaml(&text).map_err(|e| format!("{}: {e}", p.display()))?);
    }
    if out.is_empty() {
        return Err(format!("{}: no CORE-*/rule.yml in it", dir.display()));
    }
    Ok(out)
}

/// Rules that apply to an SDTMIG version (rules that name no version apply to all).
pub fn for_version(rules: Vec<Rule>, standard: &str) -> Vec<Rule> {
    rules
        .into_iter()
        .filter(|r| {
            standard.is_empty() || r.versions.is_empty() || r.versions.iter().any(|v| v == standard)
        })
        .collect()
}

fn countries(text: &str) -> HashSet<String> {
    text.lines()
        .filter_map(|l| l.split('\t').next())
        .filter(|c| c.len() == 3)
        .map(str::to_owned)
        .collect()
}

impl Standards {
    /// The embedded defaults with the given overrides; every piece is named in `in_use`.
    pub fn load(o: &Overrides) -> Result<Standards, String> {
        let mut in_use = Vec::new();
        let mut library = match &o.sdtmig {
            Some(d) => {
                let l = Library::load(d)
                    .map_err(|e| format!("cannot read SDTMIG metadata in {}: {e}", d.display()))?;
                in_use.push(InUse {
                    standard: "SDTMIG".into(),
                    version: l.sdtmig_version.clone(),
                    source: d.display().to_string(),
                });
                l
            }
            None => {
                let (v, d) = embedded_version("sdtmig");
                in_use.push(InUse {
                    standard: "SDTMIG".into(),
                    version: v,
                    source: format!("embedded: {d}"),
                });
                Library::parse(DATASETS, VARIABLES).expect("embedded SDTMIG metadata parses")
            }
        };
        in_use.push(InUse {
            standard: "SDTM model".into(),
            version: super::sdtm_model::VERSION.into(),
            source:
                "embedded: class variables of SDTM v2.0 §3.1 and §4 (src/validate/sdtm_model.rs)"
                    .into(),
        });
        library.countries = Some(countries(COUNTRIES));
        library.ct = Some(match &o.ct {
            Some(p) => {
                let v = o.ct_version.clone().unwrap_or_else(|| "unspecified".into());
                let ct =
                    Ct::load(p, &v).map_err(|e| format!("cannot read CT {}: {e}", p.display()))?;
                in_use.push(InUse {
                    standard: "CDISC CT".into(),
                    version: v,
                    source: p.display().to_string(),
                });
                ct
            }
            None => {
                let (v, d) = embedded_version("ct");
                in_use.push(InUse {
                    standard: "CDISC CT".into(),
                    version: v.clone(),
                    source: format!("embedded: {d}"),
                });
                Ct::parse(&gunzip(CT_GZ), &v)
            }
        });
        let (v, d) = embedded_version("iso3166");
        in_use.push(InUse {
            standard: "ISO 3166-1 alpha-3".into(),
            version: v,
            source: format!("embedded: {d}"),
        });
        let (v, d) = embedded_version("iso8601");
        in_use.push(InUse {
            standard: "ISO 8601".into(),
            version: v,
            source: format!("rule KKH0004: {d}"),
        });
        let mut rules = super::rules::embedded()?;
        in_use.push(InUse {
            standard: "kakehashi rules".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            source: format!("embedded: {} rules (rules/)", rules.len()),
        });
        let standard = o
            .standard
            .clone()
            .unwrap_or_else(|| library.sdtmig_version.clone());
        if !o.no_open_rules {
            let (published, source, version) = match &o.open_rules {
                Some(d) => (open_rules_in(d)?, d.display().to_string(), String::new()),
                None => {
                    let (v, d) = embedded_version("open-rules");
                    (embedded_open_rules()?, format!("embedded: {d}"), v)
                }
            };
            let published = for_version(published, &standard);
            in_use.push(InUse {
                standard: "CDISC Open Rules".into(),
                version,
                source: format!("{source}; {} apply to SDTMIG {standard}", published.len()),
            });
            rules.extend(published);
        }
        Ok(Standards {
            library,
            rules,
            in_use,
        })
    }

    /// One line per standard, for terminal reports.
    pub fn summary(&self) -> String {
        self.in_use
            .iter()
            .map(|u| format!("  {} {} ({})\n", u.standard, u.version, u.source))
            .collect()
    }
}
