//! Writing benchmark: `cargo bench --bench formats [-- --rows N]`.
//!
//! A 1,000,000-row LB dataset with the variables of our LB domain file (synthetic values of
//! realistic widths) written as SAS XPORT v5 and as Dataset-JSON (JSON and NDJSON): rows/s
//! and MB/s, and reading the XPT back.

use kakehashi::formats::dataset_json::{self, JsonContext};
use kakehashi::formats::{xpt, Cell, ColumnMeta, Dataset, VarType};
use std::time::Instant;

fn rows_arg() -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--rows")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

fn lb(rows: usize) -> Dataset {
    let spec = kakehashi::sdtm::SdtmSpec::load(None).expect("SDTM mappings");
    let d = spec.domains.iter().find(|d| d.domain == "LB").expect("LB");
    let columns: Vec<ColumnMeta> = d
        .variables
        .iter()
        .map(|v| ColumnMeta {
            name: v.name.clone(),
            label: v.label.clone(),
            ty: if v.ty == kakehashi::sdtm::spec::VarType::Num {
                VarType::Num
            } else {
                VarType::Char
            },
            core: v.core.clone(),
            codelist: v.codelist.clone(),
            origin: v.origin.clone(),
            method: v.method.clone(),
            key_sequence: None,
        })
        .collect();
    let tests = [
        ("ALB", "Albumin", "g/L"),
        ("CREAT", "Creatinine", "mg/dL"),
        ("WBC", "Leukocytes", "10^9/L"),
        ("HBA1C", "Hemoglobin A1C", "%"),
    ];
    let mut x: u64 = 42;
    let data = (0..rows)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let (cd, name, unit) = tests[(x % 4) as usize];
            let v = (x % 10_000) as f64 / 100.0;
            columns
                .iter()
                .map(|c| match c.name.as_str() {
                    "STUDYID" => Cell::Char("KKH-BENCH-01".into()),
                    "DOMAIN" => Cell::Char("LB".into()),
                    "USUBJID" => Cell::Char(format!("KKH-BENCH-01-01-{:012X}", i / 40)),
                    "LBSEQ" => Cell::Num((i % 40 + 1) as f64),
                    "LBTESTCD" => Cell::Char(cd.into()),
                    "LBTEST" => Cell::Char(name.into()),
                    "LBORRES" | "LBSTRESC" => Cell::Char(format!("{v}")),
                    "LBSTRESN" => Cell::Num(v),
                    "LBORRESU" | "LBSTRESU" => Cell::Char(unit.into()),
                    "LBDTC" => {
                        Cell::Char(format!("2024-{:02}-{:02}T10:30:00", i % 12 + 1, i % 28 + 1))
                    }
                    "LBDY" | "VISITNUM" => Cell::Num((i % 60) as f64 + 1.0),
                    _ if c.ty == VarType::Num => Cell::Null,
                    _ => Cell::Null,
                })
                .collect()
        })
        .collect();
    Dataset {
        name: "LB".into(),
        label: d.label.clone(),
        class: d.class.clone(),
        structure: d.structure.clone(),
        columns,
        rows: data,
    }
}

fn main() {
    let rows = rows_arg();
    let ds = lb(rows);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-formats");
    std::fs::create_dir_all(&dir).expect("dir");
    println!(
        "kakehashi formats benchmark — LB, {rows} rows, {} variables",
        ds.columns.len()
    );
    // Serialisation is timed into a byte-counting sink, so the numbers measure our code,
    // not the disk's write-back (files of 160–200 MB saturate this machine's disk); one
    // XPT file is also written to disk and read back.
    struct Count(u64);
    impl std::io::Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len() as u64;
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let report = |what: &str, bytes: u64, secs: f64| {
        let mb = bytes as f64 / 1e6;
        println!(
            "{what:<26} {secs:>6.2} s  {:>10.0} rows/s  {:>7.1} MB/s  ({mb:.0} MB)",
            rows as f64 / secs,
            mb / secs
        );
    };
    let cx = JsonContext {
        study_id: "KKH-BENCH-01".into(),
        created: "2000-01-01T00:00:00".into(),
        originator: "bench".into(),
    };
    for what in ["XPT v5 write", "Dataset-JSON write", "Dataset-NDJSON write"] {
        let mut best = (f64::MAX, 0u64);
        for _ in 0..3 {
            let mut c = Count(0);
            let t = Instant::now();
            match what {
                "XPT v5 write" => {
                    xpt::write(&ds, &mut c, &xpt::XptOptions::default()).expect("xpt")
                }
                "Dataset-JSON write" => dataset_json::write_json(&ds, &cx, &mut c).expect("json"),
                _ => dataset_json::write_ndjson(&ds, &cx, &mut c).expect("ndjson"),
            }
            let secs = t.elapsed().as_secs_f64();
            if secs < best.0 {
                best = (secs, c.0);
            }
        }
        report(what, best.1, best.0);
    }
    let p = dir.join("lb.xpt");
    let t = Instant::now();
    let mut w = std::io::BufWriter::new(std::fs::File::create(&p).expect("file"));
    xpt::write(&ds, &mut w, &xpt::XptOptions::default()).expect("xpt");
    drop(w);
    let size = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
    report("XPT v5 write to a file", size, t.elapsed().as_secs_f64());
    let bytes = std::fs::read(&p).expect("read");
    let t = Instant::now();
    let back = xpt::read(&bytes).expect("parse");
    assert_eq!(back[0].dataset.rows.len(), rows);
    report("XPT v5 read (in memory)", size, t.elapsed().as_secs_f64());
}
