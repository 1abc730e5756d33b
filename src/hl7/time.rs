//! HL7 v2 timestamps (DTM/TS) at any precision, and the one time-zone rule.
//!
//! **The rule** (also in the README): an HL7 time that carries an offset (`+0900`) keeps
//! it; a time without one is local time at the configured offset, `+09:00` by default
//! (SS-MIX2 stores Japan time and MSH-7 carries no zone). The host's time zone is never
//! consulted. Precision is kept: `201107` stays a year-month; FHIR `dateTime` needs seconds
//! once a time is present, so hours/minutes are padded with `:00` for FHIR only, while the
//! ISO 8601 partial form (for SDTM `--DTC`) stops at the precision received.

use chrono::NaiveDate;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Precision {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
}

/// A UTC offset in minutes, e.g. +540 for Japan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offset(pub i32);

impl Offset {
    pub const JAPAN: Offset = Offset(9 * 60);

    /// Parse `+09:00`, `+0900`, `-05:30` or `Z`.
    pub fn parse(s: &str) -> Option<Offset> {
        if s == "Z" {
            return Some(Offset(0));
        }
        let (sign, rest) = match s.as_bytes().first()? {
            b'+' => (1, &s[1..]),
            b'-' => (-1, &s[1..]),
            _ => return None,
        };
        let digits: String = rest.chars().filter(|c| *c != ':').collect();
        if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) || rest.len() > 5 {
            return None;
        }
        let h: i32 = digits[..2].parse().ok()?;
        let m: i32 = digits[2..].parse().ok()?;
        if h > 14 || m > 59 {
            return None;
        }
        Some(Offset(sign * (h * 60 + m)))
    }
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { '-' } else { '+' };
        let a = self.0.abs();
        write!(f, "{sign}{:02}:{:02}", a / 60, a % 60)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timestamp {
    pub year: i32,
    pub month: Option<u32>,
    pub day: Option<u32>,
    pub hour: Option<u32>,
    pub minute: Option<u32>,
    pub second: Option<u32>,
    /// Fraction of a second as received (`3399` for `.3399`).
    pub fraction: Option<String>,
    pub offset: Option<Offset>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeError(pub &'static str);

impl fmt::Display for TimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for TimeError {}

impl Timestamp {
    /// Parse `YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]`, checking the calendar.
    pub fn parse(s: &str) -> Result<Timestamp, TimeError> {
        let s = s.trim();
        let (main, offset) = match s.find(['+', '-']) {
            Some(i) => (
                &s[..i],
                Some(Offset::parse(&s[i..]).ok_or(TimeError("invalid time-zone offset"))?),
            ),
            None => (s, None),
        };
        let (digits, fraction) = match main.find('.') {
            Some(i) => (&main[..i], Some(&main[i + 1..])),
            None => (main, None),
        };
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TimeError("timestamp contains non-digits"));
        }
        if !matches!(digits.len(), 4 | 6 | 8 | 10 | 12 | 14) {
            return Err(TimeError(
                "timestamp length is not YYYY[MM[DD[HH[MM[SS]]]]]",
            ));
        }
        let num =
            |a: usize, b: usize| -> Option<u32> { digits.get(a..b).and_then(|x| x.parse().ok()) };
        let year = num(0, 4).ok_or(TimeError("invalid year"))? as i32;
        let month = num(4, 6);
        let day = num(6, 8);
        let hour = num(8, 10);
        let minute = num(10, 12);
        let second = num(12, 14);
        if let Some(f) = fraction {
            if digits.len() != 14
                || f.is_empty()
                || f.len() > 4
                || !f.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(TimeError(
                    "fraction of a second needs seconds and 1-4 digits",
                ));
            }
        }
        if let Some(m) = month {
            if !(1..=12).contains(&m) {
                return Err(TimeError("month out of range"));
            }
        }
        if let (Some(m), Some(d)) = (month, day) {
            if NaiveDate::from_ymd_opt(year, m, d).is_none() {
                return Err(TimeError("no such calendar date"));
            }
        }
        if hour.is_some_and(|h| h > 23)
            || minute.is_some_and(|m| m > 59)
            || second.is_some_and(|s| s > 59)
        {
            return Err(TimeError("time of day out of range"));
        }
        Ok(Timestamp {
            year,
            month,
            day,
            hour,
            minute,
            second,
            fraction: fraction.map(str::to_owned),
            offset,
        })
    }

    pub fn precision(&self) -> Precision {
        match (self.month, self.day, self.hour, self.minute, self.second) {
            (None, ..) => Precision::Year,
            (_, None, ..) => Precision::Month,
            (_, _, None, ..) => Precision::Day,
            (_, _, _, None, _) => Precision::Hour,
            (_, _, _, _, None) => Precision::Minute,
            _ => Precision::Second,
        }
    }

    fn date_part(&self) -> String {
        let mut s = format!("{:04}", self.year);
        if let Some(m) = self.month {
            s.push_str(&format!("-{m:02}"));
            if let Some(d) = self.day {
                s.push_str(&format!("-{d:02}"));
            }
        }
        s
    }

    /// FHIR `dateTime`: partial dates stay partial; with a time, seconds are padded and the
    /// offset is the message's own or `default_offset` (see the module rule).
    pub fn to_fhir_datetime(&self, default_offset: Offset) -> String {
        let mut s = self.date_part();
        if let Some(h) = self.hour {
            let m = self.minute.unwrap_or(0);
            let sec = self.second.unwrap_or(0);
            s.push_str(&format!("T{h:02}:{m:02}:{sec:02}"));
            if let Some(f) = &self.fraction {
                s.push('.');
                s.push_str(f);
            }
            s.push_str(&self.offset.unwrap_or(default_offset).to_string());
        }
        s
    }

    /// FHIR `date` (day precision at most).
    pub fn to_fhir_date(&self) -> String {
        self.date_part()
    }

    /// ISO 8601 partial as SDTM `--DTC` wants it: local time, truncated at the precision
    /// received (`2011-07-01T10`), no offset.
    pub fn to_iso8601_partial(&self) -> String {
        let mut s = self.date_part();
        if let Some(h) = self.hour {
            s.push_str(&format!("T{h:02}"));
            if let Some(m) = self.minute {
                s.push_str(&format!(":{m:02}"));
                if let Some(sec) = self.second {
                    s.push_str(&format!(":{sec:02}"));
                }
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    #[test]
    fn every_precision_is_kept() {
        let j = Offset::JAPAN;
        assert_eq!(ts("2011").to_fhir_datetime(j), "2011");
        assert_eq!(ts("201107").to_fhir_datetime(j), "2011-07");
        assert_eq!(ts("20110701").to_fhir_datetime(j), "2011-07-01");
        assert_eq!(
            ts("2011070110").to_fhir_datetime(j),
            "2011-07-01T10:00:00+09:00"
        );
        assert_eq!(
            ts("201107011030").to_fhir_datetime(j),
            "2011-07-01T10:30:00+09:00"
        );
        assert_eq!(
            ts("20111220224447.3399").to_fhir_datetime(j),
            "2011-12-20T22:44:47.3399+09:00"
        );
        assert_eq!(ts("2011070110").to_iso8601_partial(), "2011-07-01T10");
        assert_eq!(ts("201107").to_iso8601_partial(), "2011-07");
        assert_eq!(ts("2011070110").precision(), Precision::Hour);
    }

    #[test]
    fn explicit_offset_wins_over_default() {
        assert_eq!(
            ts("20110701103000-0500").to_fhir_datetime(Offset::JAPAN),
            "2011-07-01T10:30:00-05:00"
        );
        assert_eq!(
            ts("20110701103000").to_fhir_datetime(Offset::parse("+00:00").unwrap()),
            "2011-07-01T10:30:00+00:00"
        );
    }

    #[test]
    fn host_time_zone_is_never_used() {
        std::env::set_var("TZ", "America/New_York");
        assert_eq!(
            ts("201107011030").to_fhir_datetime(Offset::JAPAN),
            "2011-07-01T10:30:00+09:00"
        );
    }

    #[test]
    fn invalid_times_are_rejected() {
        for bad in [
            "20240230",
            "2024133",
            "202413",
            "2011070125",
            "abcd",
            "20110701.5",
            "2011-07-01",
            "20110701103000+9",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
        assert!(Timestamp::parse("20240229").is_ok());
    }
}
