//! One message through the mapping engine: the row rules that matter to users, each with
//! its own small input.

mod common;

use serde_json::Value;

fn convert(name: &str, text: &str) -> (Vec<Value>, Vec<kakehashi::diagnostics::Diagnostic>) {
    common::convert_text(name, text)
}

const ADT00: &str = "1234567_-_ADT-00_999999999999999_20240101100000000_-_1";

#[test]
fn patient_names_are_nfc_and_identifier_uses_the_facility() {
    let (r, d) = convert(ADT00, "MSH|^~\\&|A|B|GW|RCV|20240101100000||ADT^A08^ADT_A01|C1|P|2.5\nEVN||20240101\nPID|0001||1234567^^^^PI||\u{30AB}\u{3099}ン^タロウ^^^^^L^P||19480405|M\nPV1|0001|O");
    assert!(d.is_empty(), "{d:?}");
    let p = &r[0];
    assert_eq!(
        p["name"][0]["family"], "\u{30AC}ン",
        "decomposed kana are composed (NFC)"
    );
    assert_eq!(
        p["identifier"][0]["system"],
        "urn:oid:1.2.392.100495.20.3.51.11312345678"
    );
    assert_eq!(p["id"], "1234567.ADT-00");
}

#[test]
fn partial_dates_keep_their_precision_and_times_get_the_offset() {
    let name = "1234567_-_ADT-61_999999999999999_20240101100000000_-_1";
    let (r, _) = convert(name, "MSH|^~\\&|A|B|GW|RCV|20240101100000||ADT^A60^ADT_A60|C1|P|2.5\nEVN||20240101\nPID|0001||1234567\nIAM|1|FA^食物^HL70127|1^ソバ^99XYZ|SV^重度^HL70128|湿疹|A^追加^HL70323|||||199601");
    assert_eq!(r[0]["onsetDateTime"], "1996-01");
    assert_eq!(r[0]["reaction"][0]["severity"], "severe");
    // A local coding system falls back to the facility-scoped URN.
    assert_eq!(
        r[0]["code"]["coding"][0]["system"],
        "urn:kakehashi:local-code-system:0000000000:99XYZ".replace("0000000000", "1312345678")
    );
}

#[test]
fn bad_values_are_reported_with_field_and_mapping_row_never_the_value() {
    let name = "1234567_20240101_OML-11_000000000000001_20240101100000000_01_1";
    let msg = "MSH|^~\\&|A|B|GW|RCV|20240101100000||OUL^R22^OUL_R22|C9|P|2.5\nPID|0001||1234567\nSPM|1||||||||||||||||202401010900\nOBR|1|000000000000001||E001^血液^99O03\nORC|SC|000000000000001\nOBX|1|NM|3A010000002327101^総蛋白^JC10||seven|g/dL^g/dL^ISO+|||||F|||20240230\n";
    let (r, d) = convert(name, msg);
    let obs = r
        .iter()
        .find(|x| x["resourceType"] == "Observation")
        .expect("still converted");
    assert!(obs.get("valueQuantity").is_none() || obs["valueQuantity"].get("value").is_none());
    assert!(
        obs.get("effectiveDateTime").is_none(),
        "2024-02-30 is not a date"
    );
    let f102: Vec<_> = d.iter().filter(|x| x.code == "F102").collect();
    assert_eq!(f102.len(), 2, "{d:?}");
    for x in &f102 {
        let seg = x.location.segment.as_deref().unwrap();
        assert!(
            seg.contains("OBX-") && seg.contains("OBX-Observation-Lab.yaml:"),
            "{seg}"
        );
        assert_eq!(x.location.message_id.as_deref(), Some("C9"));
        assert!(!x.to_string().contains("seven") && !x.to_string().contains("20240230"));
    }
}

#[test]
fn cancel_triggers_give_cancelled_encounters() {
    let name = "1234567_20240101_ADT-22_999999999999999_20240101100000000_01_0";
    let (r, d) = convert(name, "MSH|^~\\&|A|B|GW|RCV|20240101100000||ADT^A11^ADT_A09|C1|P|2.5\nEVN||20240101\nPID|0001||1234567\nPV1|0001|I|32^302^1^^^N|||||||01||||||||||||||||||||||||||||||||||202401010900");
    assert!(d.is_empty(), "{d:?}");
    assert_eq!(r[0]["status"], "cancelled");
    assert_eq!(r[0]["class"]["code"], "IMP");
    assert_eq!(r[0]["period"]["start"], "2024-01-01T09:00:00+09:00");
}
