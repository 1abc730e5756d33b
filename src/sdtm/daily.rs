//! `--daily-summary`: many readings a day (home and device measurements) become one derived
//! record per subject, test and day holding their mean (domain file `derive.daily_summary`).
//!
//! A summary record: --DTC is the day; --STRESN the mean of the readings' standard results,
//! rounded to one decimal more than the most precise reading; --STRESC the same number;
//! --ORRES/--ORRESU the same in standard units (the readings may have come in different
//! units); --DRVFL = Y; the count of readings in the `count` column (SUPP--). Every other
//! column keeps its value when all readings agree, else is null. Readings without a numeric
//! result are not averaged and stay as they are.

use std::collections::BTreeMap;

use rust_decimal::prelude::*;
use serde_json::Value;

use super::derive::text;
use super::engine::Row;
use super::spec::{DailySummary, Results};

pub fn summarise(rows: Vec<Row>, s: &DailySummary, r: &Results) -> Vec<Row> {
    let mut groups: BTreeMap<Vec<String>, Vec<Row>> = BTreeMap::new();
    let mut out = Vec::new();
    for row in rows {
        let numeric = row.get(&r.stresn).and_then(Value::as_f64).is_some();
        let day = text(row.get(&s.dtc)).filter(|d| d.len() >= 10);
        match (numeric, day) {
            (true, Some(day)) => {
                let mut key: Vec<String> =
                    s.by.iter()
                        .map(|c| text(row.get(c)).unwrap_or_default())
                        .collect();
                key.push(day[..10].to_owned());
                groups.entry(key).or_default().push(row);
            }
            _ => out.push(row),
        }
    }
    for (key, readings) in groups {
        out.push(summary(&key, readings, s, r));
    }
    out
}

fn decimals(v: &Value) -> u32 {
    v.as_f64()
        .and_then(Decimal::from_f64)
        .map(|d| d.normalize().scale())
        .unwrap_or(0)
}

fn summary(key: &[String], readings: Vec<Row>, s: &DailySummary, r: &Results) -> Row {
    let n = readings.len();
    let values: Vec<Decimal> = readings
        .iter()
        .filter_map(|x| x.get(&r.stresn).and_then(Value::as_f64))
        .filter_map(Decimal::from_f64)
        .collect();
    let dp = readings
        .iter()
        .filter_map(|x| x.get(&r.stresn))
        .map(decimals)
        .max()
        .unwrap_or(0)
        + 1;
    let sum: Decimal = values.iter().sum();
    let mean = (sum / Decimal::from(values.len().max(1)))
        .round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero)
        .normalize();
    // Columns all readings agree on keep their value.
    let mut row = Row::new();
    let first = &readings[0];
    for (k, v) in first {
        if readings.iter().all(|x| x.get(k) == Some(v)) {
            row.insert(k.clone(), v.clone());
        } else {
            row.insert(k.clone(), Value::Null);
        }
    }
    let day = key.last().cloned().unwrap_or_default();
    row.insert(s.dtc.clone(), Value::from(day));
    row.insert(
        r.stresn.clone(),
        crate::fhirpath::value::decimal_json(&mean),
    );
    row.insert(r.stresc.clone(), Value::from(mean.to_string()));
    row.insert(r.orres.clone(), Value::from(mean.to_string()));
    let stresu = readings
        .iter()
        .find_map(|x| text(x.get(&r.stresu)))
        .map(Value::from)
        .unwrap_or(Value::Null);
    row.insert(r.stresu.clone(), stresu.clone());
    row.insert(r.orresu.clone(), stresu);
    row.insert(s.flag.clone(), Value::from("Y"));
    row.insert(s.count.clone(), Value::from(n));
    row
}
