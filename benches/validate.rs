//! Validation benchmark: `cargo bench --bench validate`.
//!
//! The full default validation (embedded SDTMIG 3.4, CDISC CT, every published Open Rule,
//! kakehashi's own rules and checks) of the 18 SAS-written CDISC pilot datasets
//! (`../shared/data/sdtm/cdiscpilot01`), as `kakehashi validate DIR` runs it: loading the
//! standards, reading the XPT files, running the rules. One thread and all cores, best of 3;
//! the issue-12 budget is 3 s on 2 cores. Then our own rules only (`--no-open-rules`).

mod common;

use common::peak_rss_mb;
use kakehashi::validate::{load_folder, validate_study, Overrides, Standards};
use std::path::Path;
use std::time::Instant;

fn main() {
    let pilot = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/sdtm/cdiscpilot01");
    println!(
        "kakehashi validation benchmark — {} cores; CDISC pilot ({})",
        rayon::current_num_threads(),
        pilot.display()
    );
    for (what, overrides) in [
        ("full default validation", Overrides::default()),
        (
            "own rules only (--no-open-rules)",
            Overrides {
                no_open_rules: true,
                ..Overrides::default()
            },
        ),
    ] {
        for n in [1, rayon::current_num_threads()] {
            let pool = common::pool(n);
            let mut best = f64::MAX;
            let mut summary = (0, 0, 0);
            for _ in 0..3 {
                let t = Instant::now();
                let (rules, datasets, findings) = pool.install(|| {
                    let std = Standards::load(&overrides).expect("embedded standards");
                    let (study, _) = load_folder(&pilot);
                    let f = validate_study(&study, &std.rules, &std.library);
                    (std.rules.len(), study.tables.len(), f.len())
                });
                best = best.min(t.elapsed().as_secs_f64());
                summary = (rules, datasets, findings);
            }
            let (rules, datasets, findings) = summary;
            println!(
                "{what}, {n} thread(s): {datasets} datasets, {rules} rules, {findings} findings in {best:.2} s; peak {:.0} MB",
                peak_rss_mb()
            );
        }
    }
}
