//! Field paths: `PID-5`, `PID-5[2].1`, `OBX[3]-5.1.2`, `MSH-9.2`.
//!
//! `SEG[occurrence]-field[repetition].component.subcomponent`, all 1-based; an omitted
//! occurrence or repetition means the first. The same syntax names locations in diagnostics.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldPath {
    pub segment: String,
    pub occurrence: Option<usize>,
    pub field: usize,
    pub repetition: Option<usize>,
    pub component: Option<usize>,
    pub subcomponent: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathError {
    pub at: usize,
    pub message: String,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid field path at column {}: {}",
            self.at + 1,
            self.message
        )
    }
}

impl std::error::Error for PathError {}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn err<T>(&self, m: &str) -> Result<T, PathError> {
        Err(PathError {
            at: self.i,
            message: m.to_owned(),
        })
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn number(&mut self, what: &str) -> Result<usize, PathError> {
        let start = self.i;
        while self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
        let digits = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
        match digits.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => {
                self.i = start;
                self.err(&format!("expected a {what} number (1 or more)"))
            }
        }
    }
    fn index(&mut self, what: &str) -> Result<Option<usize>, PathError> {
        if self.eat(b'[') {
            let n = self.number(what)?;
            if !self.eat(b']') {
                return self.err("expected ']'");
            }
            Ok(Some(n))
        } else {
            Ok(None)
        }
    }
}

impl FromStr for FieldPath {
    type Err = PathError;
    fn from_str(text: &str) -> Result<Self, PathError> {
        let mut c = Cursor {
            s: text.as_bytes(),
            i: 0,
        };
        let start = c.i;
        while c.i - start < 3
            && c.s
                .get(c.i)
                .is_some_and(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            c.i += 1;
        }
        if c.i - start != 3 {
            c.i = start;
            return c.err("expected a three-character segment id such as PID");
        }
        let segment = text[start..c.i].to_owned();
        let occurrence = c.index("segment occurrence")?;
        if !c.eat(b'-') {
            return c.err("expected '-' before the field number");
        }
        let field = c.number("field")?;
        let repetition = c.index("repetition")?;
        let component = if c.eat(b'.') {
            Some(c.number("component")?)
        } else {
            None
        };
        let subcomponent = if component.is_some() && c.eat(b'.') {
            Some(c.number("subcomponent")?)
        } else {
            None
        };
        if c.i != c.s.len() {
            return c.err("unexpected text after the path");
        }
        Ok(FieldPath {
            segment,
            occurrence,
            field,
            repetition,
            component,
            subcomponent,
        })
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.segment)?;
        if let Some(o) = self.occurrence {
            write!(f, "[{o}]")?;
        }
        write!(f, "-{}", self.field)?;
        if let Some(r) = self.repetition {
            write!(f, "[{r}]")?;
        }
        if let Some(c) = self.component {
            write!(f, ".{c}")?;
        }
        if let Some(s) = self.subcomponent {
            write!(f, ".{s}")?;
        }
        Ok(())
    }
}

/// Location of one segment for diagnostics: `OBX[3]` (occurrence among segments of that name).
pub fn segment_label(name: &str, occurrence: usize) -> String {
    format!("{name}[{occurrence}]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for p in [
            "PID-5",
            "PID-5[2].1",
            "OBX[3]-5",
            "OBX[3]-5.1.2",
            "MSH-9.2",
            "ZPR-2.1",
        ] {
            assert_eq!(p.parse::<FieldPath>().unwrap().to_string(), p);
        }
    }

    #[test]
    fn parts() {
        let p: FieldPath = "OBX[3]-6[2].1.2".parse().unwrap();
        assert_eq!(
            (
                p.segment.as_str(),
                p.occurrence,
                p.field,
                p.repetition,
                p.component,
                p.subcomponent
            ),
            ("OBX", Some(3), 6, Some(2), Some(1), Some(2))
        );
    }

    #[test]
    fn errors_are_located() {
        assert_eq!("PI-5".parse::<FieldPath>().unwrap_err().at, 0);
        assert_eq!("PID5".parse::<FieldPath>().unwrap_err().at, 3);
        assert_eq!("PID-0".parse::<FieldPath>().unwrap_err().at, 4);
        assert_eq!("PID-5[x]".parse::<FieldPath>().unwrap_err().at, 6);
        assert_eq!("PID-5.1x".parse::<FieldPath>().unwrap_err().at, 7);
    }
}
