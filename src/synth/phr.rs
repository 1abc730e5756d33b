//! `kakehashi synth-phr`: a deterministic year of home measurements as FHIR R4 Bulk NDJSON,
//! the way PHR apps and personal health devices send them: a body-composition scale each
//! morning (weight, body fat %, muscle mass, body water, BMI; LOINC where one exists, else
//! the IEEE 11073-10101 MDC code the scale sends; body water in kg on the scales of odd
//! subjects and in % on those of even ones; visceral-fat level and bone mass under the
//! scale vendor's own codes, [`VENDOR`], since no shared code exists), a thermometer each
//! morning, and a blood pressure monitor on waking and before sleep (one panel Observation,
//! LOINC 85354-9, with systolic and diastolic components, plus the pulse as its own
//! Observation; both carry the time point as `effectiveTiming.repeat.when`, WAKE or HS).
//! Every Observation references its Device and is performed by the patient (self-measured).
//! Some days are skipped, as at home.
//!
//! The generator also returns its own readings ([`Reading`]), so a test can check what
//! `convert sdtm` made of them value by value.

use chrono::{Duration, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::path::Path;

#[derive(Debug, Clone)]
pub struct PhrOptions {
    pub subjects: usize,
    pub days: u32,
    pub seed: u64,
    pub start: NaiveDate,
}

/// One value the generator wrote: the VS test it must become, when, and the number.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub patient: String,
    pub vstestcd: &'static str,
    /// Local date-time, `YYYY-MM-DDThh:mm:ss` (the Observation carries `+09:00`).
    pub dtc: String,
    pub value: f64,
    pub unit: &'static str,
    /// The planned time point (VSTPT) the reading carries, if any.
    pub tpt: Option<&'static str>,
}

/// The NDJSON files (name, lines) and the readings in them.
pub struct Phr {
    pub files: Vec<(&'static str, Vec<String>)>,
    pub readings: Vec<Reading>,
}

const LOINC: &str = "http://loinc.org";
const MDC: &str = "urn:iso:std:iso:11073:10101";
const UCUM: &str = "http://unitsofmeasure.org";
/// The code system the generator's scale vendor uses for the measures no shared code exists
/// for (visceral-fat level, bone mass). Like a real vendor's, the default tables do not know
/// it: a site adds its codes to `vital-signs` (README "Home and smart-device measurements").
pub const VENDOR: &str = "urn:kakehashi:synth-phr:scale-vendor";

/// (VSTESTCD, coding system, code, display, UCUM unit, decimals).
const SCALE: &[(&str, &str, &str, &str, &str, i32)] = &[
    ("WEIGHT", LOINC, "29463-7", "Body weight", "kg", 1),
    (
        "BODYFATP",
        LOINC,
        "41982-0",
        "Percentage of body fat Measured",
        "%",
        1,
    ),
    ("MUSCMASS", MDC, "188776", "MDC_MASS_BODY_MUSCLE", "kg", 1),
    ("TBW", MDC, "188764", "MDC_BODY_WATER", "kg", 1),
    (
        "BMI",
        LOINC,
        "39156-5",
        "Body mass index (BMI) [Ratio]",
        "kg/m2",
        1,
    ),
    (
        "VISFATLV",
        VENDOR,
        "visceral-fat-level",
        "Visceral fat level",
        "{score}",
        0,
    ),
    ("BMC", VENDOR, "bone-mass", "Bone mass", "kg", 1),
];

fn round(x: f64, d: i32) -> f64 {
    let p = 10f64.powi(d);
    (x * p).round() / p
}

/// A number as FHIR JSON writes it: the value with its decimals.
fn quantity(v: f64, unit: &str) -> Value {
    json!({"value": v, "unit": unit, "system": UCUM, "code": unit})
}

/// When an Observation was made: a date-time, or a Timing with the event and the planned
/// time point (FHIR EventTiming).
enum When<'a> {
    At(&'a str),
    Timed(&'a str, &'static str),
}

fn observation(
    id: String,
    patient: &str,
    device: &str,
    when: When,
    code: Value,
    body: Value,
) -> Value {
    let mut o = json!({
        "resourceType": "Observation",
        "id": id,
        "status": "final",
        "category": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "vital-signs"
        }]}],
        "code": code,
        "subject": {"reference": format!("Patient/{patient}")},
        "performer": [{"reference": format!("Patient/{patient}")}],
        "device": {"reference": format!("Device/{device}")}
    });
    let effective = match when {
        When::At(dtc) => ("effectiveDateTime", json!(format!("{dtc}+09:00"))),
        When::Timed(dtc, code) => (
            "effectiveTiming",
            json!({"event": [format!("{dtc}+09:00")], "repeat": {"when": [code]}}),
        ),
    };
    if let (Some(o), Some(b)) = (o.as_object_mut(), body.as_object()) {
        o.insert(effective.0.to_owned(), effective.1);
        for (k, v) in b {
            o.insert(k.clone(), v.clone());
        }
    }
    o
}

fn coding(system: &str, code: &str, display: &str) -> Value {
    json!({"coding": [{"system": system, "code": code, "display": display}]})
}

/// Everything for `opts.subjects` subjects over `opts.days` days; the same options give
/// the same bytes.
pub fn generate(opts: &PhrOptions) -> Phr {
    let (mut patients, mut devices, mut obs) = (vec![], vec![], vec![]);
    let mut readings = Vec::new();
    for s in 0..opts.subjects {
        let mut rng = ChaCha8Rng::seed_from_u64(opts.seed.wrapping_mul(1_000_003) + s as u64);
        let pid = format!("phr-{:04}", s + 1);
        let female = rng.gen_bool(0.5);
        let birth = NaiveDate::from_ymd_opt(
            rng.gen_range(1940..2000),
            rng.gen_range(1..13),
            rng.gen_range(1..29),
        )
        .unwrap_or(opts.start);
        patients.push(json!({
            "resourceType": "Patient",
            "id": pid,
            "identifier": [{"system": "urn:kakehashi:synth-phr", "value": pid}],
            "gender": if female { "female" } else { "male" },
            "birthDate": birth.format("%Y-%m-%d").to_string()
        }));
        for (kind, name) in [
            ("scale", "Body composition scale"),
            ("thermo", "Thermometer"),
            ("bp", "Blood pressure monitor"),
        ] {
            devices.push(json!({
                "resourceType": "Device",
                "id": format!("{pid}-{kind}"),
                "deviceName": [{"name": name, "type": "user-friendly-name"}],
                "patient": {"reference": format!("Patient/{pid}")}
            }));
        }
        let height: f64 = if female {
            rng.gen_range(1.50..1.70)
        } else {
            rng.gen_range(1.60..1.85)
        };
        let (mut weight, mut fat): (f64, f64) =
            (rng.gen_range(48.0..95.0), rng.gen_range(15.0..35.0));
        let (sys0, dia0): (f64, f64) = (rng.gen_range(110.0..150.0), rng.gen_range(65.0..95.0));
        let mut n = 0usize;
        let mut next_id = |pid: &str| {
            n += 1;
            format!("{pid}-{n:05}")
        };
        for day in 0..opts.days {
            let date = opts.start + Duration::days(day as i64);
            let d = date.format("%Y-%m-%d");
            // At home some days go unmeasured.
            if rng.gen_bool(0.1) {
                continue;
            }
            weight = (weight + rng.gen_range(-0.3..0.3)).clamp(40.0, 120.0);
            fat = (fat + rng.gen_range(-0.2..0.2)).clamp(8.0, 45.0);
            let w = round(weight, 1);
            let water = w * (1.0 - fat / 100.0) * 0.73;
            let values = [
                w,
                round(fat, 1),
                round(w * (1.0 - fat / 100.0) * 0.52, 1),
                round(water, 1),
                round(w / (height * height), 1),
                (fat / 3.0).round().clamp(1.0, 30.0),
                round(w * (1.0 - fat / 100.0) * 0.05, 1),
            ];
            let t = format!(
                "{d}T07:{:02}:{:02}",
                rng.gen_range(0..30),
                rng.gen_range(0..60)
            );
            for (row, v) in SCALE.iter().zip(values) {
                // The scales of even subjects send body water as a share of weight.
                let (test, sys, code, disp, unit, dec, v) = match *row {
                    ("TBW", sys, code, disp, _, dec) if s % 2 == 1 => {
                        ("TBWPCT", sys, code, disp, "%", dec, water / w * 100.0)
                    }
                    (t, sys, code, disp, unit, dec) => (t, sys, code, disp, unit, dec, v),
                };
                let v = round(v, dec);
                obs.push(observation(
                    next_id(&pid),
                    &pid,
                    &format!("{pid}-scale"),
                    When::At(&t),
                    coding(sys, code, disp),
                    json!({"valueQuantity": quantity(v, unit)}),
                ));
                readings.push(Reading {
                    patient: pid.clone(),
                    vstestcd: test,
                    dtc: t.clone(),
                    value: v,
                    unit,
                    tpt: None,
                });
            }
            let temp = round(rng.gen_range(35.9..37.3), 1);
            let tt = format!(
                "{d}T07:{:02}:{:02}",
                rng.gen_range(30..45),
                rng.gen_range(0..60)
            );
            obs.push(observation(
                next_id(&pid),
                &pid,
                &format!("{pid}-thermo"),
                When::At(&tt),
                coding(LOINC, "8310-5", "Body temperature"),
                json!({"valueQuantity": quantity(temp, "Cel")}),
            ));
            readings.push(Reading {
                patient: pid.clone(),
                vstestcd: "TEMP",
                dtc: tt,
                value: temp,
                unit: "Cel",
                tpt: None,
            });
            for (hour, when, tpt) in [(7, "WAKE", "UPON WAKING"), (21, "HS", "BEFORE SLEEP")] {
                let bt = format!(
                    "{d}T{hour:02}:{:02}:{:02}",
                    rng.gen_range(45..60),
                    rng.gen_range(0..60)
                );
                let sys = (sys0 + rng.gen_range(-12.0..12.0)).round();
                let dia = (dia0 + rng.gen_range(-8.0..8.0)).round();
                let pulse = rng.gen_range(55.0..95.0f64).round();
                obs.push(observation(
                    next_id(&pid),
                    &pid,
                    &format!("{pid}-bp"),
                    When::Timed(&bt, when),
                    coding(LOINC, "85354-9", "Blood pressure panel with all children optional"),
                    json!({"component": [
                        {"code": coding(LOINC, "8480-6", "Systolic blood pressure"), "valueQuantity": quantity(sys, "mm[Hg]")},
                        {"code": coding(LOINC, "8462-4", "Diastolic blood pressure"), "valueQuantity": quantity(dia, "mm[Hg]")}
                    ]}),
                ));
                obs.push(observation(
                    next_id(&pid),
                    &pid,
                    &format!("{pid}-bp"),
                    When::Timed(&bt, when),
                    coding(MDC, "149546", "MDC_PULS_RATE_NON_INV"),
                    json!({"valueQuantity": quantity(pulse, "/min")}),
                ));
                for (test, v, unit) in [
                    ("SYSBP", sys, "mm[Hg]"),
                    ("DIABP", dia, "mm[Hg]"),
                    ("PULSE", pulse, "/min"),
                ] {
                    readings.push(Reading {
                        patient: pid.clone(),
                        vstestcd: test,
                        dtc: bt.clone(),
                        value: v,
                        unit,
                        tpt: Some(tpt),
                    });
                }
            }
        }
    }
    let lines = |v: Vec<Value>| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    Phr {
        files: vec![
            ("Patient.ndjson", lines(patients)),
            ("Device.ndjson", lines(devices)),
            ("Observation.ndjson", lines(obs)),
        ],
        readings,
    }
}

/// Writes the NDJSON files into `dir` (created if needed); returns (files, resources).
pub fn write(opts: &PhrOptions, dir: &Path) -> std::io::Result<(usize, usize)> {
    std::fs::create_dir_all(dir)?;
    let phr = generate(opts);
    let mut resources = 0;
    for (name, lines) in &phr.files {
        resources += lines.len();
        let mut text = lines.join("\n");
        text.push('\n');
        std::fs::write(dir.join(name), text)?;
    }
    Ok((phr.files.len(), resources))
}
