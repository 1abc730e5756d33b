//! The coverage report of an SDTM run (report.json `coverage`, one summary line): how many
//! lab results reached a CDISC test code, and how many medication and diagnosis names reached
//! the ASCII datasets as names rather than as their `SYSTEM:code` fallback.

use super::assemble::Output;
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

pub fn coverage(out: &Output) -> Coverage {
    let records = |name: &str| {
        out.datasets
            .iter()
            .find(|d| d.name == name)
            .map_or(0, |d| d.rows.len())
    };
    let with = records("LB") + records("MB") + records("IS");
    let without: usize = out.rejected.get("LB").map_or(0, |r| {
        r.rows
            .iter()
            .filter(|((reason, _), _)| reason.contains("TESTCD"))
            .map(|(_, (n, _))| n)
            .sum()
    });
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
    for (ds, var) in [("CM", "CMTRT"), ("MH", "MHTERM")] {
        let Some(d) = out.datasets.iter().find(|d| d.name == ds) else {
            continue;
        };
        let Some(i) = d.columns.iter().position(|c| c.name == var) else {
            continue;
        };
        let fallback = d
            .rows
            .iter()
            .filter(|r| is_code_fallback(&r[i].text()))
            .count();
        names.push(NameCoverage {
            variable: format!("{ds}.{var}"),
            records: d.rows.len(),
            named: d.rows.len() - fallback,
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
