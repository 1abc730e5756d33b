//! One rule, one file, one test: every rule in `rules/` loads and its own positive and
//! negative examples give exactly the findings they declare.

use std::collections::BTreeSet;

use kakehashi::validate::{rules, run, Library};

#[test]
fn every_rule_file_passes_its_own_examples() {
    let files = rules::files();
    assert!(files.len() >= 15, "{} rule files", files.len());
    let lib = Library::empty();
    let mut failures = Vec::new();
    for (name, text) in &files {
        let (rule, tests) = rules::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            !rule.description.is_empty(),
            "{name}: every rule documents itself"
        );
        assert!(
            !rule.cg_ids.is_empty() || !rule.core_ids.is_empty(),
            "{name}: names the CDISC rules it implements"
        );
        assert!(
            tests.iter().any(|t| t.expect.is_empty()),
            "{name}: needs a positive example (no findings)"
        );
        assert!(
            tests.iter().any(|t| !t.expect.is_empty()),
            "{name}: needs a negative example"
        );
        for t in &tests {
            let got: BTreeSet<String> = run(&rule, &t.study, &lib)
                .into_iter()
                .map(|f| {
                    format!(
                        "{},{},{},{}",
                        f.dataset,
                        f.record.map(|r| r.to_string()).unwrap_or_default(),
                        f.variable,
                        f.value
                    )
                })
                .collect();
            let want: BTreeSet<String> = t.expect.iter().cloned().collect();
            if got != want {
                failures.push(format!(
                    "{name} / {}: expected {want:?}, got {got:?}",
                    t.name
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
