//! Free-text scrubbing: the subject's own identifiers (names and their kana readings, phone
//! numbers, addresses, postal codes, patient ids — from Patient, Patient.contact (NK1) and
//! RelatedPerson) are masked wherever they appear in a text value of the subject's records.
//!
//! Text and identifiers are compared in one folded form (NFKC, so full-width digits and
//! half-width kana meet their usual forms; hiragana → katakana; lower case; spaces, hyphens
//! and dashes ignored), and the match is mapped back to the original characters, so
//! 「本人 山田　太郎（やまだ たろう）０３－１２３４－５６７８」 loses all three.

use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

use super::policy::Scrub;

/// One subject's identifiers, folded.
#[derive(Debug, Default, Clone)]
pub struct Identifiers {
    needles: Vec<Vec<char>>,
}

/// Characters that never count when comparing (spaces, hyphens, dashes, minus signs).
fn ignorable(c: char) -> bool {
    c.is_whitespace() || matches!(c, '-' | '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{30FB}')
}

fn fold_str(s: &str, out: &mut Vec<char>) {
    for n in s.nfkc() {
        if ignorable(n) {
            continue;
        }
        let n = match n {
            // Hiragana → katakana (same block offset).
            '\u{3041}'..='\u{3096}' => char::from_u32(n as u32 + 0x60).unwrap_or(n),
            _ => n,
        };
        out.extend(n.to_lowercase());
    }
}

/// A character with the voicing marks that follow it (half-width ﾀﾞ composes to ダ only
/// when normalised together).
fn groups(s: &str) -> Vec<(usize, usize, String)> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let mut j = i + 1;
        while j < chars.len()
            && matches!(chars[j], '\u{FF9E}' | '\u{FF9F}' | '\u{3099}' | '\u{309A}')
        {
            j += 1;
        }
        out.push((i, j - 1, chars[i..j].iter().collect()));
        i = j;
    }
    out
}

fn fold(s: &str) -> Vec<char> {
    let mut out = Vec::new();
    for (_, _, g) in groups(s) {
        fold_str(&g, &mut out);
    }
    out
}

impl Identifiers {
    /// Gathers the identifiers of the patient among `resources` (one patient's resources).
    pub fn of(resources: &[Value], policy: &Scrub) -> Identifiers {
        let mut raw: Vec<String> = Vec::new();
        for r in resources {
            match r.get("resourceType").and_then(Value::as_str) {
                Some("Patient") => {
                    if let Some(id) = r.get("id").and_then(Value::as_str) {
                        raw.push(id.to_owned());
                    }
                    person(r, &mut raw);
                    for c in r
                        .get("contact")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        if let Some(n) = c.get("name") {
                            name(n, &mut raw);
                        }
                        person(c, &mut raw);
                    }
                }
                Some("RelatedPerson") => person(r, &mut raw),
                _ => {}
            }
        }
        let mut needles: Vec<Vec<char>> = raw
            .iter()
            .map(|s| fold(s))
            .filter(|f| {
                let ascii = f.iter().all(|c| c.is_ascii());
                f.len()
                    >= if ascii {
                        policy.min_length_ascii
                    } else {
                        policy.min_length_japanese
                    }
            })
            .collect();
        // Longest first, so a full name is masked as one span.
        needles.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        needles.dedup();
        Identifiers { needles }
    }

    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// The text with every identifier masked, or None when nothing matched.
    pub fn scrub(&self, text: &str, mask: &str) -> Option<String> {
        if self.needles.is_empty() {
            return None;
        }
        let chars: Vec<char> = text.chars().collect();
        let mut folded = Vec::with_capacity(chars.len());
        let mut origin = Vec::with_capacity(chars.len());
        for (first, last, g) in groups(text) {
            let before = folded.len();
            fold_str(&g, &mut folded);
            origin.extend(std::iter::repeat_n((first, last), folded.len() - before));
        }
        let mut masked = vec![false; chars.len()];
        let mut any = false;
        for n in &self.needles {
            if n.len() > folded.len() {
                continue;
            }
            for start in 0..=folded.len() - n.len() {
                if folded[start..start + n.len()] == n[..] {
                    any = true;
                    for m in &mut masked[origin[start].0..=origin[start + n.len() - 1].1] {
                        *m = true;
                    }
                }
            }
        }
        if !any {
            return None;
        }
        // Ignorable characters between two masked ones belong to the span
        // (山田　太郎 is one mask, not two).
        for i in 1..chars.len().saturating_sub(1) {
            if !masked[i] && ignorable(chars[i]) && masked[i - 1] {
                let mut j = i;
                while j < chars.len() && !masked[j] && ignorable(chars[j]) {
                    j += 1;
                }
                if j < chars.len() && masked[j] {
                    for m in &mut masked[i..j] {
                        *m = true;
                    }
                }
            }
        }
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        while i < chars.len() {
            if masked[i] {
                out.push_str(mask);
                while i < chars.len() && masked[i] {
                    i += 1;
                }
            } else {
                out.push(chars[i]);
                i += 1;
            }
        }
        Some(out)
    }
}

fn name(n: &Value, raw: &mut Vec<String>) {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let family = text(n.get("family"));
    let given: Vec<String> = n
        .get("given")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|g| g.as_str().map(str::to_owned))
        .collect();
    raw.extend(text(n.get("text")));
    raw.extend(family.clone());
    raw.extend(given.iter().cloned());
    if let Some(f) = &family {
        // Family and given names written together, in either order.
        let g = given.concat();
        if !g.is_empty() {
            raw.push(format!("{f}{g}"));
            raw.push(format!("{g}{f}"));
        }
    }
}

/// Names, telecom, addresses and identifiers of a Patient / contact / RelatedPerson.
fn person(p: &Value, raw: &mut Vec<String>) {
    let list = |k: &str| -> Vec<&Value> {
        p.get(k)
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default()
    };
    for n in list("name") {
        name(n, raw);
    }
    for i in list("identifier") {
        raw.extend(i.get("value").and_then(Value::as_str).map(str::to_owned));
    }
    for t in list("telecom") {
        raw.extend(t.get("value").and_then(Value::as_str).map(str::to_owned));
    }
    let mut addresses = list("address");
    if let Some(a) = p.get("address").filter(|a| a.is_object()) {
        addresses.push(a);
    }
    for a in addresses {
        for k in ["text", "postalCode"] {
            raw.extend(a.get(k).and_then(Value::as_str).map(str::to_owned));
        }
        let lines: Vec<String> = a
            .get("line")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|l| l.as_str().map(str::to_owned))
            .collect();
        raw.push(lines.concat());
        raw.extend(lines);
    }
}

/// Variables that are never free text (keys, codes the engine wrote, dates).
pub fn never_scrubbed(var: &str) -> bool {
    matches!(
        var,
        "STUDYID"
            | "DOMAIN"
            | "RDOMAIN"
            | "USUBJID"
            | "SUBJID"
            | "SITEID"
            | "IDVAR"
            | "IDVARVAL"
            | "QNAM"
            | "QLABEL"
            | "QORIG"
    ) || var.ends_with("DTC")
        || var.ends_with("SEQ")
}

/// Scrubs every text value of the rows that is written (`written(variable)`); counts
/// the values masked per `DATASET.VARIABLE`.
pub fn rows<'a>(
    ids: &Identifiers,
    policy: &Scrub,
    rows: impl Iterator<Item = &'a mut std::collections::BTreeMap<String, Value>>,
    counts: &mut std::collections::BTreeMap<String, usize>,
    dataset: &str,
    written: impl Fn(&str) -> bool,
) {
    if ids.is_empty() {
        return;
    }
    for row in rows {
        for (k, v) in row.iter_mut() {
            if never_scrubbed(k) || !written(k) {
                continue;
            }
            if let Value::String(s) = v {
                if let Some(new) = ids.scrub(s, &policy.mask) {
                    *s = new;
                    *counts.entry(format!("{dataset}.{k}")).or_default() += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ids() -> Identifiers {
        let p = json!({"resourceType": "Patient", "id": "0000123456",
            "identifier": [{"value": "0000123456"}],
            "name": [{"family": "山田", "given": ["太郎"], "text": "山田 太郎"},
                     {"family": "ヤマダ", "given": ["タロウ"]}],
            "telecom": [{"value": "03-1234-5678"}],
            "address": [{"text": "東京都千代田区丸の内1-1", "postalCode": "100-0005"}],
            "contact": [{"name": {"family": "山田", "given": ["花子"]}, "telecom": [{"value": "090-1111-2222"}]}]});
        let policy = crate::privacy::Policy::embedded().scrub;
        Identifiers::of(&[p], &policy)
    }

    #[test]
    fn japanese_and_ascii_forms_are_masked() {
        let i = ids();
        let cases = [
            ("本人（山田　太郎）より", "本人（***）より"),
            ("やまだ たろう様", "***様"),
            ("ﾔﾏﾀﾞﾀﾛｳ", "***"),
            ("TEL ０３－１２３４－５６７８ まで", "TEL *** まで"),
            ("tel 0312345678", "tel ***"),
            ("ID:0000123456", "ID:***"),
            ("妻 花子 090 1111 2222", "妻 ***"),
            ("〒100-0005", "〒***"),
        ];
        for (input, want) in cases {
            assert_eq!(i.scrub(input, "***").as_deref(), Some(want), "{input}");
        }
        assert_eq!(i.scrub("胸部X線 異常なし", "***"), None);
    }
}
