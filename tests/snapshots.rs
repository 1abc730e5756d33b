//! Snapshots of what users see: the segment-group outline of every shared SS-MIX2 sample
//! (structure grouping is the contract the mapping stage builds on) and the inventory of the
//! bundled sample archive.

mod common;

use kakehashi::diagnostics::Location;
use kakehashi::hl7::Structures;
use kakehashi::ssmix2::inventory::Inventory;
use kakehashi::ssmix2::read::parse_bytes;
use kakehashi::ssmix2::{StatePolicy, Storage};

#[test]
fn group_outlines_of_the_jami_samples() {
    let root = common::shared("data/ssmix2/nhoHQ__SSMIX2DataTestingTool/sampleData/999");
    let structures = Structures::default_set();
    let mut all = String::new();
    for f in common::files_under(&root) {
        let r = parse_bytes(
            &std::fs::read(&f).unwrap(),
            &structures,
            &Location::file(&f),
        );
        let m = r.message.unwrap();
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        all.push_str(&format!("## {name}\n{}", r.groups.unwrap().outline(&m)));
        for d in r.diagnostics.iter().filter(|d| d.code.starts_with("H01")) {
            all.push_str(&format!("! {} {}\n", d.code, d.message));
        }
        all.push('\n');
    }
    insta::assert_snapshot!(all);
}

#[test]
fn inventory_of_the_bundled_sample() {
    let s = Storage::open(&[common::repo("fixtures/ssmix2")]);
    let structures = Structures::default_set();
    let inv = Inventory::of_storage(&s, &structures, &StatePolicy::default(), |_| {});
    insta::assert_json_snapshot!(inv);
}
