//! Text longer than a variable may hold (SDTMIG 3.4 §4.5.3.2): the first 200 characters stay
//! in the parent variable, the rest continues in SUPP-- records `<VAR>1`, `<VAR>2` …, split
//! between words. XPT v5 caps character values at 200 bytes, so this is what keeps a long
//! verbatim term (a compounded product's ingredient list) whole instead of failing the write.

/// The most a character value holds (XPT v5, SDTMIG).
pub const MAX: usize = 200;

/// Splits `text` into pieces of at most `limit` bytes, between words where a space allows.
/// The space at a split starts the later piece: XPT drops trailing blanks but keeps leading
/// ones, so plain concatenation gives the text back from XPT and Dataset-JSON alike.
pub fn split(text: &str, limit: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while rest.len() > limit {
        let mut cut = limit;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        // At the last space inside the window (not its first byte: no empty pieces).
        if let Some(sp) = rest[..=cut.min(rest.len() - 1)]
            .rfind(' ')
            .filter(|&i| i > 0)
        {
            cut = sp;
        }
        out.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    out.push(rest);
    out
}

/// The QNAM of continuation `n` of variable `var`: `AETERM1`; an 8-character name gives up
/// its last characters for the number (`AEACNOTH` → `AEACNOT1`).
pub fn qnam(var: &str, n: usize) -> String {
    let digits = n.to_string();
    let keep = var.len().min(8 - digits.len());
    format!("{}{digits}", &var[..keep])
}

/// QLABEL of continuation `n`, within the 40 characters a label may have.
pub fn qlabel(label: &str, n: usize) -> String {
    let suffix = format!(" (cont. {n})");
    let keep = label.len().min(40 - suffix.len());
    let mut cut = keep;
    while !label.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{suffix}", label[..cut].trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_join_back_and_respect_the_limit() {
        let words = "Clinimix 4.25/10 sulfite-free (4.25% Amino Acid in 10% Dextrose) Injection";
        let text = [words; 6].join(" + ");
        let parts = split(&text, MAX);
        assert!(parts.len() > 1);
        assert!(parts.iter().all(|p| p.len() <= MAX && !p.is_empty()));
        assert_eq!(parts.concat(), text);
        // Split between words: every continuation starts at a space, no piece ends with one
        // (XPT would drop it).
        assert!(parts[1..].iter().all(|p| p.starts_with(' ')));
        assert!(parts.iter().all(|p| !p.ends_with(' ')));
        let solid = "x".repeat(450);
        assert_eq!(
            split(&solid, MAX)
                .iter()
                .map(|p| p.len())
                .collect::<Vec<_>>(),
            [200, 200, 50]
        );
        assert_eq!(split("short", MAX), ["short"]);
    }

    #[test]
    fn continuation_names_fit_eight_characters() {
        assert_eq!(qnam("CMTRT", 1), "CMTRT1");
        assert_eq!(qnam("AEACNOTH", 1), "AEACNOT1");
        assert_eq!(qnam("AEACNOTH", 12), "AEACNO12");
        assert_eq!(
            qlabel("Reported Name of Drug, Med, or Therapy", 1),
            "Reported Name of Drug, Med, or (cont. 1)"
        );
        assert!(qlabel("Reported Name of Drug, Med, or Therapy", 1).len() <= 40);
    }
}
