//! SS-MIX2 file names: `PID_date_type_order_timestamp_dept_flag`.
//!
//! Parsed leniently: fields are taken from the right, so a patient id containing `_`
//! still parses; extended-storage content folders without the department field (6 fields,
//! as NHO's own samples have) are accepted too.

use serde::Serialize;
use std::fmt;

/// The condition flag (コンディションフラグ).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Flag {
    /// `0`: deleted.
    Deleted,
    /// `1`: valid, the latest version.
    Current,
    /// `2`: superseded by a newer version.
    Superseded,
}

impl Flag {
    pub fn code(self) -> char {
        match self {
            Flag::Deleted => '0',
            Flag::Current => '1',
            Flag::Superseded => '2',
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct FileName {
    pub patient_id: String,
    /// `YYYYMMDD`, or `None` for the `-` folder (data with no care date).
    pub care_date: Option<String>,
    pub data_type: String,
    pub order_no: String,
    /// 発生日時 as written (14–17 digits).
    pub timestamp: String,
    pub department: Option<String>,
    pub flag: Flag,
}

/// Why a name did not parse (no patient value is included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameError(pub String);

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Problems that do not stop a name from being used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameWarning {
    OrderNoLength(usize),
    OrderNoNotDigits,
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn valid_date(s: &str) -> bool {
    s.len() == 8 && all_digits(s) && chrono::NaiveDate::parse_from_str(s, "%Y%m%d").is_ok()
}

impl FileName {
    /// Parse a file (or content-folder) name.
    pub fn parse(name: &str) -> Result<(FileName, Vec<NameWarning>), NameError> {
        let parts: Vec<&str> = name.split('_').collect();
        if parts.len() < 6 {
            return Err(NameError(format!(
                "expected 7 fields separated by '_', found {}",
                parts.len()
            )));
        }
        let n = parts.len();
        // With 6 fields, or when the field before the flag is a timestamp, the department is absent.
        let no_dept = n == 6
            || (n >= 7
                && parts[n - 2].len() >= 14
                && all_digits(parts[n - 2])
                && !all_digits(parts[n - 3]));
        let (flag, dept, ts, order, dtype, date, pid_end) = if no_dept {
            (
                parts[n - 1],
                None,
                parts[n - 2],
                parts[n - 3],
                parts[n - 4],
                parts[n - 5],
                n - 5,
            )
        } else {
            (
                parts[n - 1],
                Some(parts[n - 2]),
                parts[n - 3],
                parts[n - 4],
                parts[n - 5],
                parts[n - 6],
                n - 6,
            )
        };
        let patient_id = parts[..pid_end].join("_");
        if patient_id.is_empty() {
            return Err(NameError("patient id field is empty".into()));
        }
        let flag = match flag {
            "0" => Flag::Deleted,
            "1" => Flag::Current,
            "2" => Flag::Superseded,
            _ => return Err(NameError("condition flag must be 0, 1 or 2".into())),
        };
        let care_date = match date {
            "-" => None,
            d if valid_date(d) => Some(d.to_owned()),
            _ => return Err(NameError("care date must be YYYYMMDD or '-'".into())),
        };
        if dtype.is_empty() {
            return Err(NameError("data type field is empty".into()));
        }
        if !(14..=17).contains(&ts.len()) || !all_digits(ts) || !valid_date(&ts[..8]) {
            return Err(NameError(
                "timestamp must be 14-17 digits starting with a valid date".into(),
            ));
        }
        let department = match dept {
            None | Some("-") => None,
            Some(d)
                if (2..=3).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_alphanumeric()) =>
            {
                Some(d.to_owned())
            }
            Some(_) => {
                return Err(NameError(
                    "department code must be '-' or 2-3 letters/digits".into(),
                ))
            }
        };
        let mut warnings = Vec::new();
        if !order.bytes().all(|b| b.is_ascii_alphanumeric()) || order.is_empty() {
            return Err(NameError("order number must be letters/digits".into()));
        }
        if !all_digits(order) {
            warnings.push(NameWarning::OrderNoNotDigits);
        }
        if !(13..=22).contains(&order.len()) {
            warnings.push(NameWarning::OrderNoLength(order.len()));
        }
        let fname = FileName {
            patient_id,
            care_date,
            data_type: dtype.to_owned(),
            order_no: order.to_owned(),
            timestamp: ts.to_owned(),
            department,
            flag,
        };
        Ok((fname, warnings))
    }

    /// The `date` folder: `YYYYMMDD` or `-`.
    pub fn date_folder(&self) -> &str {
        self.care_date.as_deref().unwrap_or("-")
    }

    /// Timestamp right-padded to 17 digits, so 14- to 17-digit stamps compare correctly.
    pub fn sortable_timestamp(&self) -> String {
        format!("{:0<17}", self.timestamp)
    }

    /// Expected folder path below a root: `PID[0:3]/PID[3:6]/PID/date/type`.
    pub fn expected_dirs(&self) -> [String; 5] {
        let p: Vec<char> = self.patient_id.chars().collect();
        let a: String = p.iter().take(3).collect();
        let b: String = p.iter().skip(3).take(3).collect();
        [
            a,
            b,
            self.patient_id.clone(),
            self.date_folder().to_owned(),
            self.data_type.clone(),
        ]
    }

    pub fn to_name(&self) -> String {
        format!(
            "{}_{}_{}_{}_{}_{}_{}",
            self.patient_id,
            self.date_folder(),
            self.data_type,
            self.order_no,
            self.timestamp,
            self.department.as_deref().unwrap_or("-"),
            self.flag.code()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_names() {
        let (f, w) =
            FileName::parse("9999013_20110701_OMP-01_000000011000185_20110701224603984_01_1")
                .unwrap();
        assert!(w.is_empty());
        assert_eq!(f.patient_id, "9999013");
        assert_eq!(f.care_date.as_deref(), Some("20110701"));
        assert_eq!(f.data_type, "OMP-01");
        assert_eq!(f.department.as_deref(), Some("01"));
        assert_eq!(f.flag, Flag::Current);
        assert_eq!(
            f.to_name(),
            "9999013_20110701_OMP-01_000000011000185_20110701224603984_01_1"
        );
        let (f, _) =
            FileName::parse("9999013_-_ADT-00_999999999999999_20111220224447339_-_1").unwrap();
        assert_eq!(f.care_date, None);
        assert_eq!(f.department, None);
        assert_eq!(
            f.expected_dirs(),
            ["999", "901", "9999013", "-", "ADT-00"].map(String::from)
        );
    }

    #[test]
    fn lenient_lengths() {
        // 13-digit order number and 15-digit timestamp (NHO samples), 3-char department.
        let (f, w) =
            FileName::parse("9999013_20111220_OMG-11_2011122000300_201112202244473_09A_2").unwrap();
        assert!(w.is_empty());
        assert_eq!(f.flag, Flag::Superseded);
        assert_eq!(f.sortable_timestamp(), "20111220224447300");
        let (_, w) = FileName::parse("1_20111220_OMG-11_12345_20111220224447_01_1").unwrap();
        assert_eq!(w, vec![NameWarning::OrderNoLength(5)]);
    }

    #[test]
    fn underscore_in_patient_id_and_missing_department() {
        let (f, _) =
            FileName::parse("AB_12_20240101_OML-11_000000000000001_20240101000000000_01_0")
                .unwrap();
        assert_eq!(f.patient_id, "AB_12");
        assert_eq!(f.flag, Flag::Deleted);
        let (f, _) = FileName::parse("1234567_20240101_L-OBSERVATIONS^OBSERVATIONS^99ZL01_0000000000000001_20240101090000000_1").unwrap();
        assert_eq!(f.department, None);
        assert_eq!(f.data_type, "L-OBSERVATIONS^OBSERVATIONS^99ZL01");
    }

    #[test]
    fn bad_names() {
        for bad in [
            "README.txt",
            "1_20110701_OMP-01_000000011000185_20110701224603984_01_9",
            "1_20111301_OMP-01_000000011000185_20110701224603984_01_1",
            "1_20110701_OMP-01_000000011000185_2011070122_01_1",
            "1_20110701_OMP-01_000000011000185_20110701224603984_0123_1",
            "_20110701_OMP-01_000000011000185_20110701224603984_01_1",
        ] {
            assert!(FileName::parse(bad).is_err(), "{bad}");
        }
    }
}
