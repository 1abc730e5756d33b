//! The identifier leak scan shared by the SDTM and privacy tests: every identifying value
//! of the input Patients (names, kana readings, ids, telecom, addresses), with the variants
//! a leak could take (no spaces, full-width, no hyphens, the other kana script), searched
//! in every output file.

use std::collections::HashSet;
use std::path::Path;

/// Every identifying value of the input Patients, with the variants a leak could take.
pub fn identifiers(fhir_dir: &Path) -> Vec<String> {
    let (resources, _) = kakehashi::fhir::input::read_all(&[fhir_dir.to_path_buf()]);
    let mut out = HashSet::new();
    for r in resources.iter().filter(|r| r["resourceType"] == "Patient") {
        let mut add = |s: &str| {
            let s = s.trim();
            if s.chars().count() >= 4 || (!s.is_ascii() && s.chars().count() >= 2) {
                out.insert(s.to_owned());
                let nospace: String = s
                    .chars()
                    .filter(|c| !c.is_whitespace() && *c != '\u{3000}')
                    .collect();
                out.insert(nospace.clone());
                // Full-width digits and letters (NFKC folds them back).
                let wide: String = nospace
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() {
                            char::from_u32(c as u32 + 0xFEE0).unwrap()
                        } else {
                            c
                        }
                    })
                    .collect();
                out.insert(wide);
                out.insert(nospace.replace('-', ""));
                // The same reading in the other kana script.
                let other_kana: String = nospace
                    .chars()
                    .map(|c| match c {
                        '\u{3041}'..='\u{3096}' => char::from_u32(c as u32 + 0x60).unwrap(),
                        '\u{30A1}'..='\u{30F6}' => char::from_u32(c as u32 - 0x60).unwrap(),
                        c => c,
                    })
                    .collect();
                out.insert(other_kana);
            }
        };
        if let Some(id) = r["id"].as_str() {
            add(id);
            add(id.split('.').next().unwrap_or(id));
        }
        for i in r["identifier"].as_array().into_iter().flatten() {
            add(i["value"].as_str().unwrap_or(""));
        }
        for n in r["name"].as_array().into_iter().flatten() {
            add(n["text"].as_str().unwrap_or(""));
            add(n["family"].as_str().unwrap_or(""));
            for g in n["given"].as_array().into_iter().flatten() {
                add(g.as_str().unwrap_or(""));
            }
        }
        // Contacts (NK1): their names and phone numbers are identifiers too.
        for c in r["contact"].as_array().into_iter().flatten() {
            add(c["name"]["text"].as_str().unwrap_or(""));
            add(c["name"]["family"].as_str().unwrap_or(""));
            for t in c["telecom"].as_array().into_iter().flatten() {
                add(t["value"].as_str().unwrap_or(""));
            }
        }
        for t in r["telecom"].as_array().into_iter().flatten() {
            add(t["value"].as_str().unwrap_or(""));
        }
        for a in r["address"].as_array().into_iter().flatten() {
            add(a["text"].as_str().unwrap_or(""));
            add(a["postalCode"].as_str().unwrap_or(""));
            for l in a["line"].as_array().into_iter().flatten() {
                add(l.as_str().unwrap_or(""));
            }
        }
        // The birth date is a quasi-identifier, not an identifier: a visit on the day of
        // birth legitimately carries that date. BRTHDTC itself must not be written.
    }
    out.into_iter()
        .filter(|s| s.chars().count() >= 4 || !s.is_ascii())
        .collect()
}

/// Whether `text` holds `id`: Japanese text anywhere; ASCII values as whole tokens (a ZIP
/// code inside the digits of a measurement is not a leak).
pub fn holds(text: &str, id: &str) -> bool {
    text.match_indices(id).any(|(i, _)| holds_at(text, id, i))
}

/// The occurrence of `id` at byte `i` counts: always for Japanese text, for ASCII only as a
/// whole token.
fn holds_at(text: &str, id: &str, i: usize) -> bool {
    if !id.is_ascii() {
        return true;
    }
    let before = text[..i].chars().next_back();
    let after = text[i + id.len()..].chars().next();
    let joins = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '.');
    !joins(before) && !joins(after)
}

/// Files under `out` holding an identifier of the input, with the identifier's length
/// (never the value, unless LEAK_DEBUG is set).
pub fn leaks(fhir_dir: &Path, out: &Path) -> Vec<String> {
    let ids = identifiers(fhir_dir);
    assert!(ids.len() > 10, "the scan needs identifiers to look for");
    // One pass per file over all identifiers at once (Aho-Corasick), then the token rule.
    let ac = aho_corasick::AhoCorasick::new(&ids).unwrap();
    let mut found = Vec::new();
    for f in super::files_under(out) {
        // XPT is binary around its ASCII text: read every file as (lossy) text.
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
        let mut hit: std::collections::BTreeSet<usize> = Default::default();
        for m in ac.find_overlapping_iter(&text) {
            let id = &ids[m.pattern().as_usize()];
            if !hit.contains(&m.pattern().as_usize()) && holds_at(&text, id, m.start()) {
                hit.insert(m.pattern().as_usize());
            }
        }
        for i in hit {
            let id = &ids[i];
            found.push(format!(
                "{} contains an identifier of the input ({} chars{})",
                f.display(),
                id.chars().count(),
                if std::env::var_os("LEAK_DEBUG").is_some() {
                    format!(": {id}")
                } else {
                    String::new()
                }
            ));
        }
    }
    found
}

pub fn leak_scan(fhir_dir: &Path, out: &Path) {
    for f in super::files_under(out) {
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
        let header = text.lines().next().unwrap_or("");
        let column = header.split(',').any(|c| c == "BRTHDTC") || text.contains("Name=\"BRTHDTC\"");
        assert!(
            !column,
            "{}: BRTHDTC is written only when the study asks",
            f.display()
        );
    }
    let found = leaks(fhir_dir, out);
    assert!(found.is_empty(), "{}", found.join("\n"));
}
