//! Privacy levels between the SDTM datasets and the files written: pseudonymised (the
//! default) scrubs the subject's identifiers out of free text, anonymised also generalises
//! and suppresses until k-anonymity holds. Every run writes `privacy.json` saying what was
//! done. The policy is a data file (`mappings/privacy/policy.yaml`).

pub mod anonymise;
pub mod policy;
pub mod scrub;

pub use anonymise::{anonymise, AnonReport};
pub use policy::{Level, Policy};
pub use scrub::Identifiers;

/// The privacy report written beside every SDTM output (`privacy.json`): the level, the
/// policy, what was removed, masked or generalised, k reached and what was suppressed, and
/// the digest of the subject key (never the key).
pub fn report(
    level: Level,
    policy: &Policy,
    key_digest: &str,
    scrubbed: &std::collections::BTreeMap<String, usize>,
    anon: Option<&AnonReport>,
) -> serde_json::Value {
    let mut removed = vec![
        "patient names and kana readings, addresses, postal codes, telecom, insurance numbers: no SDTM variable carries them".to_owned(),
        "birth date: becomes AGE/AGEU (BRTHDTC only when the study file asks)".to_owned(),
    ];
    let subject_ids = match level {
        Level::Identified => {
            removed.clear();
            removed.push("none beyond what SDTM has no variable for (names, addresses, telecom); SUBJID is the hospital patient id".to_owned());
            "hospital patient id (site-internal output)".to_owned()
        }
        Level::Pseudonymised => {
            removed.push(
                "hospital patient ids: replaced by HMAC-SHA256(key, patient) in SUBJID/USUBJID"
                    .to_owned(),
            );
            "HMAC-SHA256 of the patient id under the subject key (12 hex digits)".to_owned()
        }
        Level::Anonymised => {
            removed.push(
                "hospital patient ids and their pseudonyms: replaced by release numbers".to_owned(),
            );
            anon.map(|a| a.subject_ids.clone()).unwrap_or_default()
        }
    };
    serde_json::json!({
        "level": level.name(),
        "policy_source": policy.source,
        "policy": policy,
        "subject_key_digest": key_digest,
        "subject_ids": subject_ids,
        "identifiers_removed": removed,
        "free_text_scrubbed": if level == Level::Identified { serde_json::Value::Null } else { serde_json::json!(scrubbed) },
        "anonymised": anon,
    })
}
