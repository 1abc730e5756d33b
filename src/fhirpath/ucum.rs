//! Enough UCUM to compare and convert the units clinical data uses: metric prefixes on
//! g, m, L, s, mol, eq, U, IU; time units; `10*n` factors; `.`/`/` products and exponents.
//! Written by hand because no maintained Rust UCUM crate exists; units outside this set
//! are still compared by exact code, just never converted.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

/// A unit reduced to a factor times base dimensions (`mg/dL` = 0.01 × g·m⁻³… in base units).
#[derive(Debug, Clone, PartialEq)]
pub struct Canonical {
    pub factor: Decimal,
    pub dims: BTreeMap<&'static str, i32>,
}

const PREFIXES: &[(&str, i32)] = &[
    ("da", 1),
    ("k", 3),
    ("h", 2),
    ("d", -1),
    ("c", -2),
    ("m", -3),
    ("u", -6),
    ("n", -9),
    ("p", -12),
    ("f", -15),
];

/// (atom, factor numerator as text, base dimension, dimension power, prefixable)
const ATOMS: &[(&str, &str, &str, i32, bool)] = &[
    ("g", "1", "g", 1, true),
    ("m", "1", "m", 1, true),
    ("L", "0.001", "m", 3, true),
    ("l", "0.001", "m", 3, true),
    ("s", "1", "s", 1, true),
    ("min", "60", "s", 1, false),
    ("h", "3600", "s", 1, false),
    ("d", "86400", "s", 1, false),
    ("wk", "604800", "s", 1, false),
    ("mol", "1", "mol", 1, true),
    ("eq", "1", "eq", 1, true),
    ("U", "1", "U", 1, true),
    ("[iU]", "1", "[iU]", 1, true),
    ("[IU]", "1", "[iU]", 1, true),
    ("%", "0.01", "1", 0, false),
    ("1", "1", "1", 0, false),
    ("mm[Hg]", "1", "mm[Hg]", 1, false),
    ("Cel", "1", "Cel", 1, false),
    ("[degF]", "1", "[degF]", 1, false),
    ("[lb_av]", "453.59237", "g", 1, false),
    ("[in_i]", "0.0254", "m", 1, false),
    ("/min", "1", "/min", 1, false),
];

fn pow10(e: i32) -> Decimal {
    let mut d = Decimal::ONE;
    let ten = Decimal::from(10);
    for _ in 0..e.abs() {
        d = if e > 0 { d * ten } else { d / ten };
    }
    d
}

fn atom(s: &str) -> Option<(Decimal, &'static str, i32)> {
    let lookup = |a: &str| ATOMS.iter().find(|(n, ..)| *n == a);
    if let Some((_, f, dim, p, _)) = lookup(s) {
        return Some((f.parse().ok()?, dim, *p));
    }
    for (pre, e) in PREFIXES {
        if let Some(rest) = s.strip_prefix(pre) {
            if let Some((_, f, dim, p, true)) = lookup(rest) {
                let f: Decimal = f.parse().ok()?;
                return Some((f * pow10(*e), dim, *p));
            }
        }
    }
    None
}

/// Parses a UCUM code into a canonical form; `None` for codes outside the supported set.
pub fn canonical(code: &str) -> Option<Canonical> {
    let mut c = Canonical {
        factor: Decimal::ONE,
        dims: BTreeMap::new(),
    };
    let code = code.trim();
    if code.is_empty() {
        return None;
    }
    let mut sign = 1;
    let mut rest = code;
    if let Some(r) = rest.strip_prefix('/') {
        sign = -1;
        rest = r;
    }
    loop {
        let end = rest
            .char_indices()
            .find(|(i, ch)| {
                (*ch == '.' || *ch == '/')
                    && rest[..*i].matches('[').count() == rest[..*i].matches(']').count()
            })
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        let term = &rest[..end];
        apply_term(term, sign, &mut c)?;
        if end == rest.len() {
            break;
        }
        sign = if rest[end..].starts_with('/') { -1 } else { 1 };
        rest = &rest[end + 1..];
    }
    c.dims.retain(|_, p| *p != 0);
    Some(c)
}

fn apply_term(term: &str, sign: i32, c: &mut Canonical) -> Option<()> {
    // Annotations `{...}` are dimensionless.
    let term = match term.find('{') {
        Some(i) => &term[..i],
        None => term,
    };
    if term.is_empty() {
        return Some(());
    }
    // `10*3`, `10^9`
    if let Some((base, exp)) = term.split_once(['*', '^']) {
        let b: i32 = base.parse().ok()?;
        let e: i32 = exp.parse().ok()?;
        if b != 10 {
            return None;
        }
        let f = pow10(e);
        c.factor = if sign > 0 { c.factor * f } else { c.factor / f };
        return Some(());
    }
    if term.bytes().all(|b| b.is_ascii_digit()) && term != "1" {
        let f: Decimal = term.parse().ok()?;
        c.factor = if sign > 0 { c.factor * f } else { c.factor / f };
        return Some(());
    }
    // Trailing exponent: `m2`, `s-1`.
    let split = term
        .char_indices()
        .rev()
        .take_while(|(_, ch)| ch.is_ascii_digit() || *ch == '-' || *ch == '+')
        .last()
        .map(|(i, _)| i)
        .filter(|i| *i > 0 && !term.ends_with(']'));
    let (name, exp) = match split {
        Some(i) => (&term[..i], term[i..].parse::<i32>().ok()?),
        None => (term, 1),
    };
    let (f, dim, p) = atom(name)?;
    let e = exp * sign;
    for _ in 0..e.abs() {
        c.factor = if e > 0 { c.factor * f } else { c.factor / f };
    }
    if dim != "1" {
        *c.dims.entry(dim).or_default() += p * e;
    }
    Some(())
}

/// UCUM code for a FHIRPath calendar-duration keyword (`week` → `wk`); `year` and `month`
/// have none (they are not fixed lengths).
pub fn calendar_code(word: &str) -> Option<&'static str> {
    Some(match word.trim_end_matches('s') {
        "week" => "wk",
        "day" => "d",
        "hour" => "h",
        "minute" => "min",
        "second" => "s",
        "millisecond" => "ms",
        _ => return None,
    })
}

pub fn is_calendar_word(u: &str) -> bool {
    matches!(
        u.trim_end_matches('s'),
        "year" | "month" | "week" | "day" | "hour" | "minute" | "second" | "millisecond"
    )
}

/// Converts `value` from one unit to another; `None` when the units are not commensurable
/// or not understood.
pub fn convert(value: Decimal, from: &str, to: &str) -> Option<Decimal> {
    if from == to {
        return Some(value);
    }
    let (a, b) = (canonical(from)?, canonical(to)?);
    if a.dims != b.dims {
        return None;
    }
    Some(value * a.factor / b.factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn converts_clinical_units() {
        assert_eq!(convert(d("4"), "g", "mg"), Some(d("4000")));
        assert_eq!(convert(d("100"), "mg/dL", "g/L"), Some(d("1")));
        assert_eq!(convert(d("1"), "wk", "d"), Some(d("7")));
        assert_eq!(convert(d("5.2"), "10*3/uL", "10*9/L"), Some(d("5.2")));
        assert_eq!(convert(d("170"), "cm", "m"), Some(d("1.7")));
        assert_eq!(convert(d("1"), "mmol/L", "mg/dL"), None);
        assert_eq!(convert(d("1"), "cm2", "m2"), Some(d("0.0001")));
        assert!(canonical("kg/m2").is_some());
        assert!(canonical("mm[Hg]").is_some());
    }
}
