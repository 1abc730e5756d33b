//! FHIRPath Date / DateTime / Time values with their precision, compared the way the
//! specification says: component by component, and "unknown" (empty) when two values are
//! equal as far as the less precise one goes but differ in precision.

use std::cmp::Ordering;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Date,
    DateTime,
    Time,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Temporal {
    pub kind: Kind,
    /// year, month, day, hour, minute, second (Time uses the last three only).
    pub parts: [Option<u32>; 6],
    /// Fraction of a second as written (digits only).
    pub frac: Option<String>,
    /// Offset in minutes east of UTC.
    pub tz: Option<i32>,
}

fn num(s: &str, len: usize) -> Option<u32> {
    (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

impl Temporal {
    /// Parses FHIR/FHIRPath date, dateTime and time text (without the `@`).
    pub fn parse(text: &str, kind: Kind) -> Option<Temporal> {
        let mut t = Temporal {
            kind,
            parts: [None; 6],
            frac: None,
            tz: None,
        };
        let (date, time) = match kind {
            Kind::Time => ("", Some(text)),
            _ => match text.split_once('T') {
                Some((d, t)) => (d, Some(t)),
                None => (text, None),
            },
        };
        if kind != Kind::Time {
            let mut it = date.split('-');
            t.parts[0] = Some(num(it.next()?, 4)?);
            if let Some(m) = it.next() {
                t.parts[1] = Some(num(m, 2)?).filter(|m| (1..=12).contains(m));
                t.parts[1]?;
            }
            if let Some(d) = it.next() {
                t.parts[2] = Some(num(d, 2)?).filter(|d| (1..=31).contains(d));
                t.parts[2]?;
            }
            if it.next().is_some() {
                return None;
            }
        }
        if let Some(time) = time {
            if kind == Kind::Date {
                return None;
            }
            let (clock, tz) = split_tz(time)?;
            if kind == Kind::Time && tz.is_some() {
                return None;
            }
            t.tz = tz;
            if !clock.is_empty() {
                let mut it = clock.split(':');
                t.parts[3] = Some(num(it.next()?, 2)?).filter(|h| *h < 24);
                t.parts[3]?;
                if let Some(m) = it.next() {
                    t.parts[4] = Some(num(m, 2)?).filter(|m| *m < 60);
                    t.parts[4]?;
                }
                if let Some(s) = it.next() {
                    let (sec, frac) = match s.split_once('.') {
                        Some((a, f)) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => {
                            (a, Some(f.to_owned()))
                        }
                        Some(_) => return None,
                        None => (s, None),
                    };
                    t.parts[5] = Some(num(sec, 2)?).filter(|s| *s < 60);
                    t.parts[5]?;
                    t.frac = frac;
                }
                if it.next().is_some() {
                    return None;
                }
            } else if kind == Kind::Time {
                return None;
            }
        }
        Some(t)
    }

    /// Number of components present (seconds and their fraction count as one).
    pub fn precision(&self) -> usize {
        let start = if self.kind == Kind::Time { 3 } else { 0 };
        (start..6).take_while(|&i| self.parts[i].is_some()).count()
    }

    fn millis(&self) -> u32 {
        self.frac.as_deref().map_or(0, |f| {
            let mut s: String = f.chars().take(3).collect();
            while s.len() < 3 {
                s.push('0');
            }
            s.parse().unwrap_or(0)
        })
    }

    /// Shifts a value with a full clock to UTC so values in different zones compare.
    fn to_utc(&self) -> Temporal {
        let (Some(tz), Some(y), Some(mo), Some(d), Some(h), Some(mi)) = (
            self.tz,
            self.parts[0],
            self.parts[1],
            self.parts[2],
            self.parts[3],
            self.parts[4],
        ) else {
            return self.clone();
        };
        let Some(dt) = chrono::NaiveDate::from_ymd_opt(y as i32, mo, d)
            .and_then(|d| d.and_hms_opt(h, mi, 0))
            .map(|dt| dt - chrono::Duration::minutes(tz as i64))
        else {
            return self.clone();
        };
        use chrono::{Datelike, Timelike};
        let mut t = self.clone();
        t.parts[0] = Some(dt.year() as u32);
        t.parts[1] = Some(dt.month());
        t.parts[2] = Some(dt.day());
        t.parts[3] = Some(dt.hour());
        t.parts[4] = Some(dt.minute());
        t.tz = Some(0);
        t
    }

    /// `None` when the answer is unknown (different precision, equal prefix).
    pub fn compare(&self, other: &Temporal) -> Option<Ordering> {
        if self.tz.is_some() != other.tz.is_some()
            && self.parts[3].is_some()
            && other.parts[3].is_some()
        {
            return None;
        }
        let (a, b) = if self.tz.is_some() && other.tz.is_some() && self.tz != other.tz {
            (self.to_utc(), other.to_utc())
        } else {
            (self.clone(), other.clone())
        };
        let start = if a.kind == Kind::Time { 3 } else { 0 };
        let (pa, pb) = (a.precision(), b.precision());
        for i in start..start + pa.min(pb) {
            let ord = a.parts[i].cmp(&b.parts[i]);
            if ord != Ordering::Equal {
                return Some(ord);
            }
            if i == 5 {
                let ord = a.millis().cmp(&b.millis());
                if ord != Ordering::Equal {
                    return Some(ord);
                }
            }
        }
        (pa == pb).then_some(Ordering::Equal)
    }

    pub fn to_text(&self) -> String {
        let mut s = String::new();
        if self.kind != Kind::Time {
            if let Some(y) = self.parts[0] {
                s.push_str(&format!("{y:04}"));
            }
            for p in &self.parts[1..3] {
                match p {
                    Some(v) => s.push_str(&format!("-{v:02}")),
                    None => break,
                }
            }
        }
        if let Some(h) = self.parts[3] {
            if self.kind != Kind::Time {
                s.push('T');
            }
            s.push_str(&format!("{h:02}"));
            for p in &self.parts[4..6] {
                match p {
                    Some(v) => s.push_str(&format!(":{v:02}")),
                    None => break,
                }
            }
            if let Some(f) = &self.frac {
                s.push('.');
                s.push_str(f);
            }
        } else if self.kind == Kind::DateTime && self.tz.is_some() && self.parts[2].is_some() {
            s.push('T');
        }
        if let Some(tz) = self.tz {
            if tz == 0 {
                s.push('Z');
            } else {
                let sign = if tz < 0 { '-' } else { '+' };
                s.push_str(&format!("{sign}{:02}:{:02}", tz.abs() / 60, tz.abs() % 60));
            }
        }
        s
    }

    /// `lowBoundary()` / `highBoundary()`: the earliest / latest value the precision allows,
    /// to the millisecond (dateTime boundaries without a zone span +14:00 … −12:00).
    pub fn boundary(&self, high: bool) -> Temporal {
        self.boundary_to(high, None).unwrap_or_else(|| self.clone())
    }

    /// Boundary to a number of digits (`@2014.lowBoundary(6)` = `@2014-01`); `None` when
    /// the digits do not name a precision of this kind.
    pub fn boundary_to(&self, high: bool, digits: Option<i64>) -> Option<Temporal> {
        let full = self.full_boundary(high);
        let Some(d) = digits else { return Some(full) };
        let keep = match (self.kind, d) {
            (Kind::Time, 2) => 4,
            (Kind::Time, 4) => 5,
            (Kind::Time, 6 | 9) => 6,
            (Kind::Time, _) => return None,
            (_, 4) => 1,
            (_, 6) => 2,
            (_, 8) => 3,
            (Kind::DateTime, 10) => 4,
            (Kind::DateTime, 12) => 5,
            (Kind::DateTime, 14 | 17) => 6,
            _ => return None,
        };
        let mut t = full;
        for p in t.parts.iter_mut().skip(keep) {
            *p = None;
        }
        if keep < 6 || d == 14 || (self.kind == Kind::Time && d == 6) {
            t.frac = None;
        }
        if keep <= 3 {
            t.tz = None;
            if self.kind == Kind::DateTime {
                t.kind = Kind::Date;
            }
        }
        Some(t)
    }

    fn full_boundary(&self, high: bool) -> Temporal {
        let mut t = self.clone();
        let year = t.parts[0].unwrap_or(1) as i32;
        if t.kind != Kind::Time {
            if t.parts[1].is_none() {
                t.parts[1] = Some(if high { 12 } else { 1 });
            }
            if t.parts[2].is_none() {
                t.parts[2] = Some(if high {
                    days_in_month(year, t.parts[1].unwrap_or(1))
                } else {
                    1
                });
            }
        }
        if t.kind != Kind::Date {
            for (i, hi) in [(3, 23), (4, 59), (5, 59)] {
                if t.parts[i].is_none() {
                    t.parts[i] = Some(if high { hi } else { 0 });
                }
            }
            if t.frac.is_none() {
                t.frac = Some(if high { "999" } else { "000" }.to_owned());
            }
            if t.kind == Kind::DateTime && t.tz.is_none() {
                t.tz = Some(if high { -12 * 60 } else { 14 * 60 });
            }
        }
        t
    }
}

/// Splits a trailing `Z` / `±hh:mm` off a clock text.
fn split_tz(time: &str) -> Option<(&str, Option<i32>)> {
    if let Some(c) = time.strip_suffix('Z') {
        return Some((c, Some(0)));
    }
    if let Some(pos) = time.rfind(['+', '-']) {
        let (clock, off) = time.split_at(pos);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (h, m) = off[1..].split_once(':')?;
        let (h, m) = (num(h, 2)? as i32, num(m, 2)? as i32);
        if h > 14 || m > 59 {
            return None;
        }
        return Some((clock, Some(sign * (h * 60 + m))));
    }
    Some((time, None))
}

pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> Temporal {
        Temporal::parse(s, Kind::DateTime).unwrap()
    }

    #[test]
    fn precision_decides_comparisons() {
        assert_eq!(dt("2012-04").compare(&dt("2012-05")), Some(Ordering::Less));
        assert_eq!(dt("2012-04").compare(&dt("2012-04-15")), None);
        assert_eq!(
            dt("2012-04-15T10:00:00+09:00").compare(&dt("2012-04-15T01:00:00Z")),
            Some(Ordering::Equal)
        );
        assert_eq!(
            dt("2012-04-15T10:00:00.5").to_text(),
            "2012-04-15T10:00:00.5"
        );
        assert!(Temporal::parse("2012-13", Kind::Date).is_none());
    }

    #[test]
    fn boundaries() {
        let d = Temporal::parse("1970-06", Kind::Date).unwrap();
        assert_eq!(d.boundary(false).to_text(), "1970-06-01");
        assert_eq!(d.boundary(true).to_text(), "1970-06-30");
        assert_eq!(
            dt("2010-10-10").boundary(true).to_text(),
            "2010-10-10T23:59:59.999-12:00"
        );
    }
}
