//! Japanese names → ASCII for the XPT copy of --TRT/--TERM, by one documented rule:
//! NFKC width folding, then at each position the longest word of a site-extendable table
//! (`japanese-terms`: 錠 → TABLET, 塩酸塩 → HYDROCHLORIDE), else kana by modified Hepburn,
//! upper case. A name with a character neither covers (most kanji) has no transliteration.
//!
//! Written by hand because the one maintained kana crate (wana_kana) follows WanaKana's
//! input-method spelling, not Hepburn: it gives フェ → "fye", ダー → "daa", ヴィ → "voi",
//! where drug and place names need FE, DA, VI.

use super::spec::Terminology;
use unicode_normalization::UnicodeNormalization;

/// Longest table word tried at each position, in characters.
const MAX_WORD: usize = 12;

/// The ASCII rendering of `name`, or `None` when some character has no rule.
pub fn transliterate(name: &str, words: Option<&Terminology>) -> Option<String> {
    let folded: Vec<char> = name
        .nfkc()
        .map(|c| match c {
            // Dashes NFKC leaves alone.
            '\u{2212}' | '\u{2010}' | '\u{2013}' | '\u{2014}' | '\u{30FB}' => '-',
            '\u{3000}' => ' ',
            c => c,
        })
        .collect();
    // Hiragana → katakana: one syllable table serves both (words match the original).
    let kata = |c: char| match c {
        '\u{3041}'..='\u{3096}' => char::from_u32(c as u32 + 0x60).unwrap_or(c),
        c => c,
    };
    let mut out = String::new();
    let mut geminate = false;
    // Kana next to Latin letters or digits get a space between (インフルエンザＨＡ → INFURUENZA HA).
    let mut last_kana = false;
    let mut i = 0;
    while i < folded.len() {
        if let Some((len, en)) = words.and_then(|t| word_at(&folded[i..], t)) {
            out.push(' ');
            out.push_str(en);
            out.push(' ');
            geminate = false;
            last_kana = false;
            i += len;
            continue;
        }
        let c = kata(folded[i]);
        if c.is_ascii() {
            if last_kana && c.is_ascii_alphanumeric() {
                out.push(' ');
            }
            out.push(c.to_ascii_uppercase());
            geminate = false;
            last_kana = false;
            i += 1;
            continue;
        }
        match c {
            'ッ' => {
                geminate = true;
                i += 1;
                continue;
            }
            // The long-vowel mark is dropped (ダーゼン → DAZEN), as in passport Hepburn.
            'ー' => {
                i += 1;
                continue;
            }
            _ => {}
        }
        let next = folded.get(i + 1).copied().map(kata);
        let (syllable, used) = match (kana(c), next.and_then(small)) {
            (Some(base), Some(tail)) => (combine(c, base, tail)?, 2),
            (Some(base), None) => (base.to_owned(), 1),
            (None, _) => match small(c) {
                // A small vowel on its own reads as the vowel.
                Some(v) => (v.trim_start_matches('Y').to_owned(), 1),
                None => return None,
            },
        };
        if geminate {
            if let Some(first) = syllable.chars().next().filter(|c| !"AIUEO".contains(*c)) {
                out.push(if syllable.starts_with("CH") {
                    'T'
                } else {
                    first
                });
            }
            geminate = false;
        }
        if !last_kana && out.ends_with(|c: char| c.is_ascii_alphanumeric()) {
            out.push(' ');
        }
        out.push_str(&syllable);
        last_kana = true;
        i += used;
    }
    let s = out.split_whitespace().collect::<Vec<_>>().join(" ");
    (!s.is_empty() && s.is_ascii()).then_some(s)
}

fn word_at<'t>(s: &[char], t: &'t Terminology) -> Option<(usize, &'t str)> {
    (1..=s.len().min(MAX_WORD)).rev().find_map(|n| {
        let w: String = s[..n].iter().collect();
        t.get(None, &w, "EN").map(|en| (n, en))
    })
}

/// Kana followed by a small kana: the consonant of the first and the vowel of the second
/// (キャ KYA, シャ SHA, ファ FA, ティ TI, ウィ WI, ヴァ VA).
fn combine(first: char, base: &str, tail: &str) -> Option<String> {
    let consonant = match first {
        'ウ' => "W",
        'ヴ' => "V",
        _ => base.trim_end_matches(['A', 'I', 'U', 'E', 'O']),
    };
    if consonant.is_empty() {
        return Some(format!("{base}{}", tail.trim_start_matches('Y')));
    }
    // SH, CH and J absorb the Y of ャュョ (シャ SHA, not SHYA).
    let tail = if ["SH", "CH", "J"].contains(&consonant) || !tail.starts_with('Y') {
        tail.trim_start_matches('Y')
    } else {
        tail
    };
    // Only i-row kana take ャュョ; any kana takes a small vowel (loanword spellings).
    if tail.len() > 1 && !base.ends_with('I') {
        return None;
    }
    Some(format!("{consonant}{tail}"))
}

fn small(c: char) -> Option<&'static str> {
    Some(match c {
        'ァ' => "A",
        'ィ' => "I",
        'ゥ' => "U",
        'ェ' => "E",
        'ォ' => "O",
        'ャ' => "YA",
        'ュ' => "YU",
        'ョ' => "YO",
        'ヮ' => "WA",
        _ => return None,
    })
}

fn kana(c: char) -> Option<&'static str> {
    const ROWS: [(&str, [&str; 5]); 18] = [
        ("アイウエオ", ["A", "I", "U", "E", "O"]),
        ("カキクケコ", ["KA", "KI", "KU", "KE", "KO"]),
        ("サシスセソ", ["SA", "SHI", "SU", "SE", "SO"]),
        ("タチツテト", ["TA", "CHI", "TSU", "TE", "TO"]),
        ("ナニヌネノ", ["NA", "NI", "NU", "NE", "NO"]),
        ("ハヒフヘホ", ["HA", "HI", "FU", "HE", "HO"]),
        ("マミムメモ", ["MA", "MI", "MU", "ME", "MO"]),
        ("ヤ・ユ・ヨ", ["YA", "", "YU", "", "YO"]),
        ("ラリルレロ", ["RA", "RI", "RU", "RE", "RO"]),
        ("ワヰ・ヱヲ", ["WA", "I", "", "E", "O"]),
        ("ガギグゲゴ", ["GA", "GI", "GU", "GE", "GO"]),
        ("ザジズゼゾ", ["ZA", "JI", "ZU", "ZE", "ZO"]),
        ("ダヂヅデド", ["DA", "JI", "ZU", "DE", "DO"]),
        ("バビブベボ", ["BA", "BI", "BU", "BE", "BO"]),
        ("パピプペポ", ["PA", "PI", "PU", "PE", "PO"]),
        ("・・ヴ・・", ["", "", "VU", "", ""]),
        ("ン・・・・", ["N", "", "", "", ""]),
        ("ヵ・・ヶ・", ["KA", "", "", "KE", ""]),
    ];
    ROWS.iter().find_map(|(row, romaji)| {
        row.chars()
            .position(|k| k == c && k != '・')
            .map(|p| romaji[p])
            .filter(|r| !r.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::transliterate;

    #[test]
    fn modified_hepburn() {
        let t = |s: &str| transliterate(s, None);
        assert_eq!(t("アセトアミノフェン").as_deref(), Some("ASETOAMINOFEN"));
        assert_eq!(t("ダーゼン").as_deref(), Some("DAZEN"));
        assert_eq!(t("シャンプー").as_deref(), Some("SHANPU"));
        assert_eq!(t("マッチ").as_deref(), Some("MATCHI"));
        assert_eq!(t("ヴィタミン").as_deref(), Some("VITAMIN"));
        assert_eq!(t("ウィルス").as_deref(), Some("WIRUSU"));
        assert_eq!(t("ティッシュ").as_deref(), Some("TISSHU"));
        assert_eq!(t("きゅうり").as_deref(), Some("KYUURI"));
        assert_eq!(t("ｱﾑﾛｼﾞﾋﾟﾝ５ｍｇ").as_deref(), Some("AMUROJIPIN 5MG"));
        assert_eq!(t("インフルエンザＨＡ").as_deref(), Some("INFURUENZA HA"));
        // Kanji without a table word: no transliteration.
        assert_eq!(t("胃炎"), None);
    }
}
