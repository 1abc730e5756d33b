//! CDISC Controlled Terminology from the NCI EVS text release (`SDTM Terminology.txt`:
//! tab-separated Code, Codelist Code, Extensible, Codelist Name, Submission Value, Synonyms,
//! Definition, NCI Preferred Term). Used for the NCI codes of Define-XML code lists.

use std::collections::HashMap;
use std::path::Path;

#[derive(Debug, Clone, Default)]
pub struct Term {
    pub code: String,
    pub preferred: String,
}

#[derive(Debug, Clone, Default)]
pub struct Codelist {
    pub code: String,
    pub name: String,
    /// The codelist's short name (`SEX`, `DOMAIN`).
    pub short: String,
    pub extensible: bool,
    pub terms: HashMap<String, Term>,
}

#[derive(Debug, Clone, Default)]
pub struct Ct {
    /// The release date (`2025-03-28`), as given by the caller.
    pub version: String,
    pub codelists: HashMap<String, Codelist>,
}

impl Ct {
    pub fn parse(text: &str, version: &str) -> Ct {
        let mut ct = Ct {
            version: version.to_owned(),
            ..Ct::default()
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() < 8 {
                continue;
            }
            if f[1].is_empty() {
                let cl = ct.codelists.entry(f[0].to_owned()).or_default();
                cl.code = f[0].to_owned();
                cl.name = f[3].to_owned();
                cl.short = f[4].to_owned();
                cl.extensible = f[2] == "Yes";
            } else {
                ct.codelists
                    .entry(f[1].to_owned())
                    .or_default()
                    .terms
                    .insert(
                        f[4].to_owned(),
                        Term {
                            code: f[0].to_owned(),
                            preferred: f[7].to_owned(),
                        },
                    );
            }
        }
        ct
    }

    pub fn load(path: &Path, version: &str) -> std::io::Result<Ct> {
        Ok(Ct::parse(&std::fs::read_to_string(path)?, version))
    }
}
