//! The SDTM v2.0 model's class tables (CDISC, Final 2021-11-29, the model SDTMIG 3.4 is
//! built on): the variables each general observation class allows, in model order, with
//! their role. Written from SDTM v2.0 §3.1.1–3.1.5 and §4 (facts: names, roles, order).
//!
//! Why by hand: the SDTMIG export in `../shared` (and the one we embed) holds the domain
//! tables only; class-level rules (allowed variables, variable order, timing variables,
//! SUPP-- QNAMs that name a model variable) need the model, which CDISC publishes in its
//! Library behind an API key. The model is small and changes once every few years.

/// The model version these tables are.
pub const VERSION: &str = "2.0";

/// Roles, as the model names them.
const T: &str = "Topic";
const ID: &str = "Identifier";
const TM: &str = "Timing";
const GQ: &str = "Grouping Qualifier";
const SQ: &str = "Synonym Qualifier";
const RQ: &str = "Record Qualifier";
const VQ: &str = "Variable Qualifier";
const RS: &str = "Result Qualifier";

/// One model variable: `--` stands for the domain prefix.
pub type ModelVar = (&'static str, &'static str);

/// §3.1.4 Identifiers for All Classes.
#[rustfmt::skip]
pub const IDENTIFIERS: &[ModelVar] = &[
    ("STUDYID", ID), ("DOMAIN", ID), ("USUBJID", ID), ("POOLID", ID), ("SPDEVID", ID),
    ("NHOID", ID), ("FETUSID", ID), ("FOCID", ID), ("--SEQ", ID), ("--GRPID", ID),
    ("--REFID", ID), ("--RECID", ID), ("--SPID", ID), ("--LNKID", ID), ("--LNKGRP", ID),
    ("--BEATNO", ID),
];

/// §3.1.5 Timing Variables for All Classes.
#[rustfmt::skip]
pub const TIMING: &[ModelVar] = &[
    ("VISITNUM", TM), ("VISIT", TM), ("VISITDY", TM), ("TAETORD", TM), ("EPOCH", TM),
    ("RPHASE", TM), ("RPPLDY", TM), ("RPPLSTDY", TM), ("RPPLENDY", TM), ("--DTC", TM),
    ("--STDTC", TM), ("--ENDTC", TM), ("--DY", TM), ("--STDY", TM), ("--ENDY", TM),
    ("--NOMDY", TM), ("--NOMLBL", TM), ("--RPDY", TM), ("--RPSTDY", TM), ("--RPENDY", TM),
    ("--XDY", TM), ("--XSTDY", TM), ("--XENDY", TM), ("--CHDY", TM), ("--CHSTDY", TM),
    ("--CHENDY", TM), ("--DUR", TM), ("--TPT", TM), ("--TPTNUM", TM), ("--ELTM", TM),
    ("--TPTREF", TM), ("--RFTDTC", TM), ("--STRF", TM), ("--ENRF", TM), ("--EVLINT", TM),
    ("--EVINTX", TM), ("--STRTPT", TM), ("--STTPT", TM), ("--ENRTPT", TM), ("--ENTPT", TM),
    ("MIDS", TM), ("RELMIDS", TM), ("MIDSDTC", TM), ("--STINT", TM), ("--ENINT", TM),
    ("--DETECT", TM), ("--PTFL", TM), ("--PDUR", TM),
];

/// §3.1.1 The Interventions Observation Class.
#[rustfmt::skip]
pub const INTERVENTIONS: &[ModelVar] = &[
    ("--TRT", T), ("--MODIFY", SQ), ("--DECOD", SQ), ("--MOOD", RQ), ("--CAT", GQ),
    ("--SCAT", GQ), ("--PRESP", VQ), ("--OCCUR", RQ), ("--REASOC", RQ), ("--STAT", RQ),
    ("--REASND", RQ), ("--CNTMOD", RQ), ("--EPCHGI", RQ), ("--INDC", RQ), ("--CLAS", VQ),
    ("--CLASCD", VQ), ("--DOSE", RQ), ("--DOSTXT", RQ), ("--DOSU", VQ), ("--TDOSD", RQ),
    ("--FTDOSD", VQ), ("--DOSFRM", VQ), ("--DOSFRQ", RQ), ("--DOSTOT", RQ), ("--DOSRGM", RQ),
    ("--ROUTE", RQ), ("--LOT", RQ), ("--LOC", RQ), ("--METHOD", RQ), ("--LAT", VQ),
    ("--DIR", VQ), ("--PORTOT", VQ), ("--FAST", RQ), ("--PSTRG", RQ), ("--PSTRGU", VQ),
    ("--TRTV", RQ), ("--VAMT", RQ), ("--VAMTU", VQ), ("--ADJ", RQ), ("--RSDISC", RQ),
    ("--USCHFL", RQ), ("--RSTIND", RQ), ("--RSTMOD", RQ),
];

/// §3.1.2 The Events Observation Class.
#[rustfmt::skip]
pub const EVENTS: &[ModelVar] = &[
    ("--TERM", T), ("--MODIFY", SQ), ("--LLT", VQ), ("--LLTCD", VQ), ("--DECOD", SQ),
    ("--EVDTYP", VQ), ("--PTCD", VQ), ("--HLT", VQ), ("--HLTCD", VQ), ("--HLGT", VQ),
    ("--HLGTCD", VQ), ("--CAT", GQ), ("--SCAT", GQ), ("--PRESP", VQ), ("--OCCUR", RQ),
    ("--REASOC", RQ), ("--STAT", RQ), ("--REASND", RQ), ("--BODSYS", RQ), ("--BDSYCD", VQ),
    ("--SOC", VQ), ("--SOCCD", VQ), ("--CNTMOD", RQ), ("--EPCHGI", RQ), ("--LOC", RQ),
    ("--LAT", VQ), ("--DIR", VQ), ("--PORTOT", VQ), ("--PARTY", RQ), ("--PRTYID", VQ),
    ("--SEV", RQ), ("--SER", RQ), ("--ACN", RQ), ("--ACNOTH", RQ), ("--ACNDEV", RQ),
    ("--REL", RQ), ("--RLDEV", RQ), ("--RELNST", RQ), ("--PATT", RQ), ("--OUT", RQ),
    ("--SCAN", RQ), ("--SCONG", RQ), ("--SDISAB", RQ), ("--SDTH", RQ), ("--SHOSP", RQ),
    ("--SLIFE", RQ), ("--SOD", RQ), ("--SMIE", RQ), ("--SINTV", RQ), ("--UNANT", RQ),
    ("--RLPRT", RQ), ("--RLPRC", RQ), ("--CONTRT", RQ), ("--TOX", VQ), ("--TOXGR", RQ),
    ("--USCHFL", RQ),
];

/// §3.1.3 The Findings Observation Class.
#[rustfmt::skip]
pub const FINDINGS: &[ModelVar] = &[
    ("--TESTCD", T), ("--TEST", SQ), ("--SBMRKS", VQ), ("--CELSTA", VQ), ("--CSMRKS", VQ),
    ("--CNTMOD", RQ), ("--EPCHGI", RQ), ("--TSTCND", VQ), ("--CNDAGT", RQ), ("--BDAGNT", VQ),
    ("--ABCLID", RQ), ("--MRKSTR", RQ), ("--GATE", RQ), ("--GATDEF", RQ), ("--TSTOPO", VQ),
    ("--MSCBCE", VQ), ("--AGENT", RQ), ("--CONC", VQ), ("--CONCU", VQ), ("--MODIFY", SQ),
    ("--TSTDTL", VQ), ("--SPTSTD", RQ), ("--CAT", GQ), ("--SCAT", GQ), ("--TSTPNL", GQ),
    ("--POS", RQ), ("--BODSYS", RQ), ("--ORRES", RS), ("--ORRESU", VQ), ("--RESSCL", RQ),
    ("--RESTYP", RQ), ("--COLSRT", VQ), ("--ORNRLO", VQ), ("--ORNRHI", VQ), ("--ORREF", VQ),
    ("--LLOD", VQ), ("--STRESC", RS), ("--IMPLBL", RQ), ("--STRESN", RS), ("--STRESU", VQ),
    ("--STNRLO", VQ), ("--STNRHI", VQ), ("--STNRC", VQ), ("--STREFC", VQ), ("--STREFN", VQ),
    ("--NRIND", VQ), ("--RESCAT", VQ), ("--INHERT", VQ), ("--GENREF", VQ), ("--CHROM", VQ),
    ("--SYM", VQ), ("--SYMTYP", VQ), ("--GENLOC", VQ), ("--GENSR", VQ), ("--SEQID", VQ),
    ("--PVRID", VQ), ("--COPYID", VQ), ("--CHRON", VQ), ("--DISTR", VQ), ("--RESLOC", RQ),
    ("--STAT", RQ), ("--REASND", RQ), ("--XFN", RQ), ("--NAM", RQ), ("--LOINC", RQ),
    ("--SPEC", RQ), ("--ANTREG", VQ), ("--SPCCND", RQ), ("--SPCUFL", RQ), ("--LOC", RQ),
    ("--LAT", VQ), ("--DIR", VQ), ("--PORTOT", VQ), ("--METHOD", RQ), ("--RUNID", RQ),
    ("--ANMETH", RQ), ("--TMTHSN", RQ), ("--LEAD", RQ), ("--CSTATE", RQ), ("--LOBXFL", RQ),
    ("--BLFL", RQ), ("--FAST", RQ), ("--DRVFL", RQ), ("--EVAL", RQ), ("--EVALID", VQ),
    ("--ACPTFL", RQ), ("--TOX", VQ), ("--TOXGR", RQ), ("--SEV", RQ), ("--CLSIG", RQ),
    ("--DTHREL", RQ), ("--LLOQ", VQ), ("--ULOQ", VQ), ("--REASPF", RQ), ("--EXCLFL", RQ),
    ("--REASEX", RQ), ("--USCHFL", RQ), ("--REPNUM", RQ), ("--RSTIND", RQ), ("--RSTMOD", RQ),
];

/// §3.1.3.1 Findings About: the Findings variables with --OBJ after --TEST.
#[rustfmt::skip]
pub const FINDINGS_ABOUT_EXTRA: &[ModelVar] = &[("--OBJ", RQ)];

/// §4 Associated Persons: identifiers added to every AP-- domain (USUBJID is not used).
#[rustfmt::skip]
pub const ASSOCIATED_PERSONS: &[ModelVar] =
    &[("APID", ID), ("RSUBJID", ID), ("RDEVID", ID), ("SREL", ID)];

/// The class's own topic and qualifier variables in model order, for the four general
/// observation classes (`INTERVENTIONS`, `EVENTS`, `FINDINGS`, `FINDINGS ABOUT`).
pub fn class_variables(class: &str) -> Option<Vec<ModelVar>> {
    Some(match class {
        "INTERVENTIONS" => INTERVENTIONS.to_vec(),
        "EVENTS" => EVENTS.to_vec(),
        "FINDINGS" => FINDINGS.to_vec(),
        "FINDINGS ABOUT" => {
            let mut v = FINDINGS[..2].to_vec();
            v.extend_from_slice(FINDINGS_ABOUT_EXTRA);
            v.extend_from_slice(&FINDINGS[2..]);
            v
        }
        _ => return None,
    })
}

use super::library::{Library, StdVar};

/// How the reference engine (CDISC CORE) reads a dataset name for class-level metadata:
/// SUPP--/SQ-- are SUPPQUAL, AP-- is the parent domain plus the AP identifiers.
struct Target {
    /// The SDTMIG dataset whose metadata applies (`EG` for `APEG`).
    domain: String,
    /// What `--` becomes.
    prefix: String,
    ap: bool,
}

fn target(dataset: &str) -> Target {
    let up = dataset.to_uppercase();
    if (up.starts_with("SUPP") || up.starts_with("SQ")) && up.len() > 2 {
        let ap = up.starts_with("SQAP");
        return Target {
            domain: "SUPPQUAL".into(),
            prefix: up,
            ap,
        };
    }
    if let Some(rest) = up.strip_prefix("AP").filter(|r| !r.is_empty()) {
        return Target {
            domain: rest.into(),
            prefix: rest.into(),
            ap: true,
        };
    }
    Target {
        domain: up.clone(),
        prefix: up,
        ap: false,
    }
}

fn expand(vars: &[ModelVar], prefix: &str, out: &mut Vec<StdVar>) {
    out.extend(vars.iter().map(|(n, r)| StdVar {
        name: n.replace("--", prefix),
        role: (*r).into(),
        core: "Perm".into(),
    }));
}

/// The identifiers, with the AP ones merged in model ordinal order (as a stable sort of
/// both tables by ordinal) and without USUBJID.
fn identifiers(ap: bool) -> Vec<ModelVar> {
    if !ap {
        return IDENTIFIERS.to_vec();
    }
    let mut v: Vec<(usize, ModelVar)> = IDENTIFIERS
        .iter()
        .enumerate()
        .chain(ASSOCIATED_PERSONS.iter().enumerate())
        .map(|(i, x)| (i, *x))
        .filter(|(_, x)| x.0 != "USUBJID")
        .collect();
    v.sort_by_key(|(i, _)| *i);
    v.into_iter().map(|(_, x)| x).collect()
}

impl Library {
    /// Whether the dataset is a domain the SDTMIG does not define.
    pub fn is_custom(&self, dataset: &str) -> bool {
        self.class_of(&target(dataset).domain).is_none()
    }

    /// The observation class: the SDTMIG's for a standard domain; for a custom one, the
    /// class its topic variable says (--TERM, --TRT, QNAM, --TESTCD with --OBJ).
    pub fn model_class(&self, dataset: &str, columns: &[String]) -> Option<String> {
        let t = target(dataset);
        if let Some(c) = self.class_of(&t.domain) {
            return Some(c.to_uppercase());
        }
        let p: String = t.prefix.chars().take(2).collect();
        let has = |s: &str| {
            columns
                .iter()
                .any(|c| c.eq_ignore_ascii_case(&format!("{p}{s}")))
        };
        Some(
            if has("TERM") {
                "EVENTS"
            } else if has("TRT") {
                "INTERVENTIONS"
            } else if columns.iter().any(|c| c == "QNAM") {
                "RELATIONSHIP"
            } else if has("TESTCD") {
                if has("OBJ") {
                    "FINDINGS ABOUT"
                } else {
                    "FINDINGS"
                }
            } else {
                return None;
            }
            .to_owned(),
        )
    }

    /// The SDTMIG's own table for a standard domain (model timing additions left out).
    fn ig_variables(&self, domain: &str) -> Vec<StdVar> {
        let mut v: Vec<_> = self
            .variables(domain)
            .iter()
            .filter(|v| !v.from_model)
            .collect();
        v.sort_by_key(|v| v.order);
        v.into_iter()
            .map(|v| StdVar {
                name: v.name.clone(),
                role: v.role.clone(),
                core: v.core.clone(),
            })
            .collect()
    }

    /// The three model sections (identifiers, class variables, timing) of a general
    /// observation class, prefix applied.
    fn sections(&self, class: &str, t: &Target) -> Option<[Vec<StdVar>; 3]> {
        let class_vars = class_variables(class)?;
        let (mut a, mut b, mut c) = (vec![], vec![], vec![]);
        expand(&identifiers(t.ap), &t.prefix, &mut a);
        expand(&class_vars, &t.prefix, &mut b);
        expand(TIMING, &t.prefix, &mut c);
        Some([a, b, c])
    }

    /// The variables the SDTM model allows in a dataset, in model order: identifiers,
    /// the class's variables and timing for a general observation class (standard or
    /// custom); the SDTMIG table otherwise (CORE's `get_model_column_order`).
    pub fn model_variables(&self, dataset: &str, columns: &[String]) -> Vec<StdVar> {
        let t = target(dataset);
        let class = self.model_class(dataset, columns).unwrap_or_default();
        match self.sections(&class, &t) {
            Some([a, b, c]) => a.into_iter().chain(b).chain(c).collect(),
            None => self.ig_variables(&t.domain),
        }
    }

    /// The variables of a dataset by its standard: for a standard general-observation
    /// domain the model's variables with the SDTMIG's entries in their place (an SDTMIG
    /// variable the model lacks goes to the end of its role's section); for another
    /// standard domain its SDTMIG table; for a custom domain the model's variables of the
    /// class it shows (CORE's `get_column_order_from_library`).
    pub fn standard_variables(&self, dataset: &str, columns: &[String]) -> Vec<StdVar> {
        let t = target(dataset);
        let class = self.model_class(dataset, columns).unwrap_or_default();
        let Some([ids, class_vars, timing]) = self.sections(&class, &t) else {
            return if self.is_custom(dataset) {
                vec![]
            } else {
                self.ig_variables(&t.domain)
            };
        };
        let (n_ids, n_timing) = (ids.len(), timing.len());
        let mut out: Vec<StdVar> = ids.into_iter().chain(class_vars).chain(timing).collect();
        if self.is_custom(dataset) {
            return out;
        }
        for ig in self.ig_variables(&t.domain) {
            let name = ig.name.replace("--", &t.prefix);
            let ig = StdVar { name, ..ig };
            if let Some(i) = out.iter().position(|v| v.name == ig.name) {
                out[i] = ig;
                continue;
            }
            let at = match ig.role.as_str() {
                "Identifier" => n_ids,
                "Timing" => out.len(),
                _ => out.len() - n_timing,
            };
            out.insert(at, ig);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_have_no_duplicates_and_the_sizes_of_the_model() {
        for (name, t, n) in [
            ("identifiers", IDENTIFIERS, 16),
            ("timing", TIMING, 48),
            ("interventions", INTERVENTIONS, 43),
            ("events", EVENTS, 56),
            ("findings", FINDINGS, 100),
        ] {
            assert_eq!(t.len(), n, "{name}");
            let mut names: Vec<&str> = t.iter().map(|v| v.0).collect();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), n, "{name} has a duplicate");
        }
        let fa = class_variables("FINDINGS ABOUT").unwrap();
        assert_eq!(
            &fa[..3].iter().map(|v| v.0).collect::<Vec<_>>(),
            &["--TESTCD", "--TEST", "--OBJ"]
        );
        assert!(class_variables("SPECIAL PURPOSE").is_none());
    }
}
