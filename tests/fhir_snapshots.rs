//! One insta snapshot per message of the shared SS-MIX2 samples: the FHIR resources it
//! converts to (or the diagnostics when it cannot be read), so any change in mapping output
//! is reviewed message by message.

mod common;

use kakehashi::fhir::{convert_message, FhirOptions};
use kakehashi::hl7::Structures;
use kakehashi::mapping::MappingSet;
use kakehashi::ssmix2::read::read_item;
use kakehashi::ssmix2::{FileName, Item, Source};

#[test]
fn every_shared_sample_message() {
    let set = MappingSet::load(None).unwrap();
    let structures = Structures::default_set();
    let root = common::shared("data/ssmix2");
    let files: Vec<_> = common::files_under(&root)
        .into_iter()
        .filter(|p| {
            !p.extension()
                .is_some_and(|e| e == "txt" || e == "csv" || e == "json")
        })
        .collect();
    assert!(files.len() >= 40);
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_snapshot_path("snapshots/messages");
    settings.bind(|| {
        for f in files {
            let fname = f.file_name().unwrap().to_string_lossy().into_owned();
            let Ok((name, _)) = FileName::parse(&fname) else { continue };
            let item = Item { name, path: f.clone(), source: Source::Standard, root: 0 };
            let r = read_item(&item, &structures);
            let rel = f.strip_prefix(&root).unwrap().to_string_lossy().replace('/', "__");
            let value = match (&r.message, &r.groups) {
                (Some(m), Some(g)) => {
                    let c = convert_message(&set, &item, m, g, &FhirOptions::default(), &item.location());
                    serde_json::json!({ "resources": c.resources, "diagnostics": c.diagnostics.iter().map(|d| format!("{} {}", d.code, d.message)).collect::<Vec<_>>() })
                }
                _ => serde_json::json!({ "unreadable": r.diagnostics.iter().map(|d| format!("{} {}", d.code, d.message)).collect::<Vec<_>>() }),
            };
            // Pretty JSON text, so decimals show as written (98.50), not as serde internals.
            insta::assert_snapshot!(rel, serde_json::to_string_pretty(&value).unwrap());
        }
    });
}
