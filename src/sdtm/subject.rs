//! Subjects: which patient a resource belongs to, and the keyed pseudonym that replaces
//! the hospital patient id in every SDTM output.

use hmac::{KeyInit, Mac};
use serde_json::Value;

use crate::fhirpath::eval::reference_parts;

/// The key for subject pseudonyms. Never printed or written; reports carry its digest.
#[derive(Clone)]
pub struct SubjectKey(Vec<u8>);

/// The documented demonstration key (`--demo-key`): for the bundled synthetic sample only.
pub const DEMO_KEY: &str = "kakehashi-demo-key-not-for-real-patients";

impl SubjectKey {
    pub fn new(bytes: &[u8]) -> Option<SubjectKey> {
        let trimmed: Vec<u8> = bytes.trim_ascii().to_vec();
        (trimmed.len() >= 16).then_some(SubjectKey(trimmed))
    }

    pub fn demo() -> SubjectKey {
        SubjectKey(DEMO_KEY.as_bytes().to_vec())
    }

    /// 12 upper-case hex digits of HMAC-SHA256(key, patient key): 48 bits, so collisions
    /// stay improbable up to millions of patients (the run still checks for them).
    pub fn pseudonym(&self, patient_key: &str) -> String {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.0)
            .expect("HMAC takes keys of any length");
        mac.update(patient_key.as_bytes());
        let out = mac.finalize().into_bytes();
        out[..6].iter().map(|b| format!("{b:02X}")).collect()
    }

    /// HMAC-SHA256(key, label ‖ 0 ‖ data): keyed values for other purposes (date shifts,
    /// release numbering), separated from the pseudonyms by the label.
    pub fn derive(&self, label: &str, data: &str) -> [u8; 32] {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.0)
            .expect("HMAC takes keys of any length");
        mac.update(label.as_bytes());
        mac.update(&[0]);
        mac.update(data.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// SHA-256 of the key, first 16 hex digits: identifies which key was used.
    pub fn digest(&self) -> String {
        use sha2::Digest;
        let d = sha2::Sha256::digest(&self.0);
        d[..8].iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Elements that point at the patient a resource is about (FHIR Patient compartment,
/// the ones the SDTM domains read).
const SUBJECT_ELEMENTS: &[&str] = &["subject", "patient", "beneficiary", "individual"];

/// `Patient/<id>` of the patient a resource belongs to.
pub fn patient_of(r: &Value) -> Option<String> {
    if r.get("resourceType").and_then(Value::as_str) == Some("Patient") {
        return Some(format!("Patient/{}", r.get("id")?.as_str()?));
    }
    for e in SUBJECT_ELEMENTS {
        if let Some(reference) = r
            .get(*e)
            .and_then(|x| x.get("reference"))
            .and_then(Value::as_str)
        {
            if let Some(("Patient", id)) = reference_parts(reference) {
                return Some(format!("Patient/{id}"));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_keyed_and_stable() {
        let k = SubjectKey::new(b"0123456789abcdef-site-key").unwrap();
        let a = k.pseudonym("Patient/1");
        assert_eq!(a.len(), 12);
        assert_eq!(a, k.pseudonym("Patient/1"));
        assert_ne!(a, k.pseudonym("Patient/2"));
        assert_ne!(a, SubjectKey::demo().pseudonym("Patient/1"));
        assert!(SubjectKey::new(b"short").is_none());
    }

    #[test]
    fn resources_find_their_patient() {
        let o = serde_json::json!({"resourceType": "Observation", "subject": {"reference": "Patient/p1"}});
        assert_eq!(patient_of(&o).as_deref(), Some("Patient/p1"));
        let c = serde_json::json!({"resourceType": "Coverage", "beneficiary": {"reference": "http://x/fhir/Patient/p2/_history/1"}});
        assert_eq!(patient_of(&c).as_deref(), Some("Patient/p2"));
    }
}
