//! fhirbolt (typed FHIR R4 models, strict mode) as an independent oracle: every resource we
//! write must parse strictly — it catches what the R4 JSON Schema misses, such as a missing
//! required primitive or two value[x] — and survive a round-trip unchanged (decimals keep
//! their text). Behind the `fhirbolt-oracle` feature: `cargo test --all-features`.
#![cfg(feature = "fhirbolt-oracle")]

mod common;

use fhirbolt::model::r4::Resource;
use fhirbolt::serde::{DeserializationConfig, DeserializationMode};
use serde_json::Value;

fn strict(json: &str) -> Result<Resource, String> {
    fhirbolt::json::from_str::<Resource>(
        json,
        Some(DeserializationConfig {
            mode: DeserializationMode::Strict,
        }),
    )
    .map_err(|e| e.to_string())
}

#[test]
fn the_oracle_rejects_what_it_should() {
    assert!(
        strict(r#"{"resourceType":"Observation","code":{"text":"x"}}"#)
            .unwrap_err()
            .contains("status")
    );
    assert!(strict(r#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueString":"a","valueQuantity":{"value":1}}"#).is_err());
    assert!(strict(r#"{"resourceType":"Patient","gendr":"male"}"#).is_err());
}

#[test]
fn every_resource_parses_strictly_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let roots = [
        common::repo("fixtures/ssmix2"),
        common::shared("data/ssmix2/nhoHQ__SSMIX2DataTestingTool/sampleData"),
        common::shared("data/ssmix2/yuakagi__ssmixtwins-generated/standard_root"),
    ];
    common::convert_all(&roots, dir.path());
    let mut checked = 0;
    for path in common::files_under(dir.path()) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name == "diagnostics.ndjson" || name == "coverage.json" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let docs: Vec<&str> = if name.ends_with(".ndjson") {
            text.lines().collect()
        } else {
            vec![text.as_str()]
        };
        for (i, doc) in docs.into_iter().enumerate() {
            let parsed =
                strict(doc).unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), i + 1));
            let back: Value =
                serde_json::from_str(&fhirbolt::json::to_string(&parsed, None).unwrap()).unwrap();
            let ours: Value = serde_json::from_str(doc).unwrap();
            assert_eq!(
                back,
                ours,
                "{}:{} changes in a round-trip",
                path.display(),
                i + 1
            );
            checked += 1;
        }
    }
    assert!(checked > 500, "{checked}");
}
