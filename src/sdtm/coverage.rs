//! The coverage report of an SDTM run (report.json `coverage`, one summary line): how many
//! lab results reached a CDISC test code, and how many medication and diagnosis names reached
//! the ASCII datasets as names rather than as their `SYSTEM:code` fallback. Which domains and
//! variables count is declared in the domain files (`derive.coverage`, `derive.coverage_name`).

use super::assemble::Output;
use super::spec::Domain;
use serde::Serialize;

/// Lab results (LB, and the infection tests routed to MB and IS).
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct LabCoverage {
    pub results: usize,
    /// Results written with a CDISC test code (records of LB, MB and IS).
    pub with_cdisc_test_code: usize,
    /// Results not written because no table knew the code (`unmapped/lb.csv`).
    pub without: usize,
    /// `with_cdisc_test_code / results`, 1.0 when there were none.
    pub share: f64,
}

/// Names of one variable in the ASCII datasets.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct NameCoverage {
    pub variable: String,
    pub records: usize,
    /// An English name (table) or a transliteration.
    pub named: usize,
    /// The `SYSTEM:code` fallback: the name could not be rendered in ASCII.
    pub code_fallback: usize,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Coverage {
    pub lab: LabCoverage,
    pub names: Vec<NameCoverage>,
}

/// `HOT9:100607002`, `LOCAL:999001`: the shape of the fallback codes (code-system-names).
fn is_code_fallback(v: &str) -> bool {
    match v.split_once(':') {
        Some((sys, code)) => {
            !sys.is_empty()
                && sys
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                && !code.is_empty()
                && !code.contains(' ')
        }
        None => false,
    }
}

/// The coverage of `out`, for the domains the mapping files declare (`derive.coverage: lab`,
/// `derive.coverage_name: VAR`).
pub fn coverage(out: &Output, domains: &[Domain]) -> Coverage {
    let dataset = |name: &str| out.datasets.iter().find(|d| d.name == name);
    let mut with = 0;
    let mut without = 0;
    for d in domains.iter().filter(|d| d.derive.coverage_lab) {
        with += dataset(&d.domain).map_or(0, |x| x.rows.len());
        // Rejects for a missing Required variable (the test code the tables did not give);
        // unit rejects (D007) had a test code.
        without += out.rejected.get(&d.domain).map_or(0, |r| {
            r.rows
                .iter()
                .filter(|((reason, _), _)| reason.starts_with("missing"))
                .map(|(_, (n, _))| n)
                .sum::<usize>()
        });
    }
    let results = with + without;
    let lab = LabCoverage {
        results,
        with_cdisc_test_code: with,
        without,
        share: if results == 0 {
            1.0
        } else {
            with as f64 / results as f64
        },
    };
    let mut names = Vec::new();
    for d in domains {
        let Some(var) = &d.derive.coverage_name else {
            continue;
        };
        let Some(ds) = dataset(&d.domain) else {
            continue;
        };
        let Some(i) = ds.columns.iter().position(|c| &c.name == var) else {
            continue;
        };
        let fallback = ds
            .rows
            .iter()
            .filter(|r| is_code_fallback(&r[i].text()))
            .count();
        names.push(NameCoverage {
            variable: format!("{}.{var}", d.domain),
            records: ds.rows.len(),
            named: ds.rows.len() - fallback,
            code_fallback: fallback,
        });
    }
    Coverage { lab, names }
}

/// `coverage: lab results 99.6% with a CDISC test code (3 of 812 without); CM.CMTRT 210 of 213 named, …`
pub fn summary(c: &Coverage) -> String {
    let mut s = format!(
        "coverage: lab results {:.1}% with a CDISC test code ({} of {} without)",
        c.lab.share * 100.0,
        c.lab.without,
        c.lab.results
    );
    for n in &c.names {
        s.push_str(&format!(
            "; {} {} of {} named, {} as code",
            n.variable, n.named, n.records, n.code_fallback
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::is_code_fallback;

    #[test]
    fn fallback_codes_are_recognised() {
        assert!(is_code_fallback("HOT9:100607002"));
        assert!(is_code_fallback("LOCAL:999001"));
        assert!(!is_code_fallback("ACETAMINOPHEN"));
        assert!(!is_code_fallback("DRUG A: 5 MG"));
        assert!(!is_code_fallback("Hot:1"));
    }
}
