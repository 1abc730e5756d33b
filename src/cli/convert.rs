use super::reconcile::{print_reconciliation, write_reconciliation};
use super::views::{self, FhirFormat, ViewOpts};
use super::{preflight, progress};
use kakehashi::diagnostics::{Diagnostic, Tally};
use kakehashi::fhir::{convert_storage, convert_storage_with, FhirOptions};
use kakehashi::hl7::Offset;
use kakehashi::mapping::MappingSet;
use kakehashi::privacy::{Level, Policy};
use kakehashi::sdtm::{Engine, Output, SdtmSpec, Study, SubjectKey};
use kakehashi::ssmix2::{StatePolicy, Storage};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub enum Target {
    /// SS-MIX2 storage → FHIR R4 (JP Core) as Bulk-Data NDJSON, one file per resource type.
    Fhir(FhirArgs),
    /// FHIR R4 (NDJSON, Bundles, resources; ours or anyone's) → CDISC SDTM datasets.
    Sdtm(SdtmArgs),
}

#[derive(clap::Args, Debug)]
pub struct FhirArgs {
    /// SS-MIX2 storage roots.
    #[arg(required = true)]
    pub roots: Vec<PathBuf>,
    /// Output folder (created); holds <ResourceType>.ndjson and diagnostics.ndjson.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Folder of mapping files that override or extend the embedded ones, file by file
    /// (messages/, segments/, datatypes/, codes/).
    #[arg(long)]
    pub mappings: Option<PathBuf>,
    /// Facility code (医療機関コード, 10 digits) for Patient.identifier's system.
    #[arg(long, default_value = "0000000000")]
    pub facility: String,
    /// UTC offset for SS-MIX2 times, which carry none (never the host's zone).
    #[arg(long, default_value = "+09:00")]
    pub tz_offset: String,
    /// Data types whose newest file replaces all earlier ones of the patient.
    #[arg(long, value_delimiter = ',', default_value = "ADT-00")]
    pub snapshot_types: Vec<String>,
    /// Also write bundles/<patient>.json: a transaction Bundle per patient, PUT for every
    /// current resource and DELETE for every record whose newest version is flag 0.
    #[arg(long)]
    pub bundles: bool,
    /// Also write superseded and deleted versions to history/<Type>.ndjson
    /// (meta.versionId = the SS-MIX2 timestamp), for audit.
    #[arg(long)]
    pub history: bool,
    /// Formats, comma-separated: ndjson (always written), parquet (also the flattened rows
    /// of every ViewDefinition, views/<view>.parquet).
    #[arg(long, value_delimiter = ',', default_value = "ndjson")]
    pub format: Vec<FhirFormat>,
    /// SDTM mapping overrides whose views --format parquet writes (domains/, terminology/).
    #[arg(long)]
    pub sdtm_mappings: Option<PathBuf>,
    #[command(flatten)]
    pub view_opts: ViewOpts,
}

pub fn run(t: Target) -> ExitCode {
    match t {
        Target::Fhir(a) => fhir(a),
        Target::Sdtm(a) => sdtm(a),
    }
}

fn fhir(a: FhirArgs) -> ExitCode {
    let Some(offset) = Offset::parse(&a.tz_offset) else {
        eprintln!("error: --tz-offset must look like +09:00");
        return ExitCode::from(2);
    };
    let set = match MappingSet::load(a.mappings.as_deref()) {
        Ok(s) => s,
        Err(diags) => {
            for d in &diags {
                eprintln!("{d}");
            }
            eprintln!(
                "error: the mapping files have {} error(s); nothing was converted",
                diags.iter().filter(|d| d.is_error()).count()
            );
            return ExitCode::from(1);
        }
    };
    // The views --format parquet writes, checked before any data is read.
    let views = if a.format.contains(&FhirFormat::Parquet) {
        let loaded = SdtmSpec::load(a.sdtm_mappings.as_deref())
            .and_then(|spec| views::prepare(&spec, &a.view_opts).map(|v| (spec, v)));
        match loaded {
            Ok(x) => Some(x),
            Err(d) => {
                print_diags(&d);
                return ExitCode::from(1);
            }
        }
    } else {
        None
    };
    if let Err(c) = preflight::roots(&a.roots) {
        return c;
    }
    let staging = match preflight::staging(&a.output) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let storage = Storage::open(&a.roots);
    let policy = StatePolicy {
        snapshot_types: a.snapshot_types,
    };
    let opts = FhirOptions {
        facility: a.facility,
        offset,
        bundles: a.bundles,
        history: a.history,
    };
    let pb = progress("converting");
    let r = convert_storage(&storage, &set, &policy, &opts, staging.path(), |run| {
        pb.set_message(format!(
            "{} patients, {} resources",
            run.patients,
            run.resources.values().sum::<usize>()
        ));
    });
    pb.finish_and_clear();
    let run = match r {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot write under {}: {e}", a.output.display());
            return ExitCode::from(2);
        }
    };
    if let Err(e) = write_reconciliation(staging.path(), Some(&run), None) {
        eprintln!("error: cannot write under {}: {e}", a.output.display());
        return ExitCode::from(2);
    }
    let view_errors = match &views {
        Some((spec, v)) => match views::write(v, spec, staging.path(), &a.output) {
            Ok(n) => n,
            Err(e) => {
                eprintln!("error: cannot write under {}: {e}", a.output.display());
                return ExitCode::from(2);
            }
        },
        None => 0,
    };
    if let Err(c) = preflight::commit(staging, &a.output) {
        return c;
    }
    println!(
        "patients {}, messages {} ({} converted)",
        run.patients, run.messages, run.messages_converted
    );
    print_reconciliation(Some(&run), None);
    for (t, n) in &run.resources {
        println!("  {t:<20} {n:>8}");
    }
    println!(
        "diagnostics: {} error(s), {} warning(s), {} note(s) — {}",
        run.tally.errors,
        run.tally.warnings,
        run.tally.notes,
        a.output.join("diagnostics.ndjson").display()
    );
    for d in run.diagnostics.iter().filter(|d| d.is_error()).take(10) {
        eprintln!("{d}");
    }
    if run.tally.errors + view_errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// What every SDTM run needs besides its input.
#[derive(clap::Args, Debug)]
pub struct SdtmOpts {
    /// Study file (YAML; only `study_id` is required — see README "Study file").
    #[arg(long)]
    pub study: PathBuf,
    /// Folder overriding or extending the embedded SDTM mapping files, file by file
    /// (domains/, terminology/).
    #[arg(long)]
    pub sdtm_mappings: Option<PathBuf>,
    /// File holding the key for subject pseudonyms (at least 16 bytes). Without it the
    /// environment variable KAKEHASHI_SUBJECT_KEY is used; the key is never printed.
    #[arg(long)]
    pub subject_key_file: Option<PathBuf>,
    /// Use the documented demonstration key (synthetic data only).
    #[arg(long)]
    pub demo_key: bool,
    /// Many readings a day become one VS record per subject, test and day with their mean
    /// (VSDRVFL = Y, the count in SUPPVS.VSNREAD); also the study setting `daily_summary`.
    #[arg(long)]
    pub daily_summary: bool,
    #[command(flatten)]
    pub files: FileOpts,
    #[command(flatten)]
    pub privacy: PrivacyOpts,
}

/// The privacy level of SDTM output (README "Privacy levels").
#[derive(clap::Args, Debug, Clone)]
pub struct PrivacyOpts {
    /// identified (site-internal; needs --allow-identified), pseudonymised (keyed ids, free
    /// text scrubbed) or anonymised (also bands, date shifts, k-anonymity).
    #[arg(long, value_enum, default_value = "pseudonymised")]
    pub privacy: Level,
    /// Privacy policy file overriding the embedded one (mappings/privacy/policy.yaml).
    #[arg(long)]
    pub privacy_policy: Option<PathBuf>,
    /// Confirms that identified output (hospital patient ids, unscrubbed text) is wanted.
    #[arg(long)]
    pub allow_identified: bool,
}

/// How SDTM files are written.
#[derive(clap::Args, Debug, Clone)]
pub struct FileOpts {
    /// Output formats, comma-separated: xpt (SAS XPORT v5), json / ndjson (Dataset-JSON 1.1),
    /// csv, parquet (Apache Parquet). define.xml is written with xpt or json.
    #[arg(long, value_delimiter = ',', default_value = "xpt,json")]
    pub format: Vec<kakehashi::sdtm::Format>,
    /// Creation time written into XPT headers, Dataset-JSON and define.xml (ISO 8601). A
    /// fixed default keeps output byte-identical between runs.
    #[arg(long, default_value = "2000-01-01T00:00:00")]
    pub created: String,
    /// CDISC CT release (NCI EVS "SDTM Terminology.txt") instead of the embedded 2025-03-28:
    /// for the NCI codes in define.xml and for validation.
    #[arg(long)]
    pub ct: Option<PathBuf>,
    /// Version (release date) of that CT file, e.g. 2025-09-26.
    #[arg(long)]
    pub ct_version: Option<String>,
    /// SDTMIG metadata folder instead of the embedded SDTMIG 3.4 (for validation).
    #[arg(long)]
    pub sdtmig: Option<PathBuf>,
    /// Published Open Rules folder instead of the embedded ones (for validation).
    #[arg(long)]
    pub open_rules: Option<PathBuf>,
    /// Exit 0 even when the validation of what was written finds Errors (the findings are
    /// still reported and written to validation.json).
    #[arg(long)]
    pub allow_findings: bool,
}

impl FileOpts {
    fn standards(&self) -> Result<kakehashi::validate::Standards, String> {
        kakehashi::validate::Standards::load(&kakehashi::validate::Overrides {
            sdtmig: self.sdtmig.clone(),
            standard: None,
            ct: self.ct.clone(),
            ct_version: self.ct_version.clone(),
            open_rules: self.open_rules.clone(),
            no_open_rules: false,
        })
    }
}

#[derive(clap::Args, Debug)]
pub struct SdtmArgs {
    /// FHIR R4 input: NDJSON files, Bundle or resource JSON files, or folders of them.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Output folder for the SDTM datasets.
    #[arg(short, long)]
    pub output: PathBuf,
    #[command(flatten)]
    pub sdtm: SdtmOpts,
    /// Patient buckets for input larger than memory (0: one per 64 MiB of input). The
    /// output does not depend on it.
    #[arg(long, default_value_t = 0)]
    pub buckets: usize,
}

fn subject_key(o: &SdtmOpts) -> Result<SubjectKey, String> {
    if let Some(f) = &o.subject_key_file {
        let bytes = std::fs::read(f).map_err(|e| format!("cannot read --subject-key-file: {e}"))?;
        return SubjectKey::new(&bytes)
            .ok_or_else(|| "the subject key must be at least 16 bytes".to_owned());
    }
    if let Ok(k) = std::env::var("KAKEHASHI_SUBJECT_KEY") {
        return SubjectKey::new(k.as_bytes())
            .ok_or_else(|| "KAKEHASHI_SUBJECT_KEY must be at least 16 bytes".to_owned());
    }
    if o.demo_key {
        eprintln!("warning: using the public demonstration subject key (--demo-key): never for real patients");
        return Ok(SubjectKey::demo());
    }
    Err("no subject key: give --subject-key-file, set KAKEHASHI_SUBJECT_KEY, or --demo-key for synthetic data".into())
}

fn print_diags(diags: &[Diagnostic]) {
    for d in diags {
        eprintln!("{d}");
    }
}

/// Everything an SDTM run loads before it reads data.
struct Loaded {
    spec: SdtmSpec,
    study: Study,
    key: SubjectKey,
    privacy: Privacy,
    standards: kakehashi::validate::Standards,
}

fn load_sdtm(o: &SdtmOpts) -> Result<Loaded, ExitCode> {
    let policy = match &o.privacy.privacy_policy {
        Some(p) => Policy::load(p).map_err(|d| {
            print_diags(&d);
            eprintln!("error: the privacy policy has errors; nothing was converted");
            ExitCode::from(1)
        })?,
        None => Policy::embedded(),
    };
    if o.privacy.privacy == Level::Identified && !o.privacy.allow_identified {
        eprintln!("error: identified output holds hospital patient ids and unscrubbed text; it is for site-internal use only and needs --allow-identified");
        return Err(ExitCode::from(2));
    }
    let privacy = Privacy {
        level: o.privacy.privacy,
        policy,
    };
    let spec = SdtmSpec::load(o.sdtm_mappings.as_deref()).map_err(|d| {
        print_diags(&d);
        eprintln!("error: the SDTM mapping files have errors; nothing was converted");
        ExitCode::from(1)
    })?;
    let mut study = Study::load(&o.study).map_err(|d| {
        print_diags(&d);
        eprintln!("error: the study file cannot be used; nothing was written");
        ExitCode::from(2)
    })?;
    study.daily_summary |= o.daily_summary;
    let key = subject_key(o).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })?;
    let standards = o.files.standards().map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })?;
    Ok(Loaded {
        spec,
        study,
        key,
        privacy,
        standards,
    })
}

pub struct Privacy {
    pub level: Level,
    pub policy: Policy,
}

impl Privacy {
    fn configure(&self, engine: &mut Engine) {
        engine.privacy = self.level;
        engine.scrub = self.policy.scrub.clone();
    }
}

/// What an SDTM run found: conversion errors and validation Errors in what it wrote.
struct Verdict {
    errors: usize,
    validation_errors: usize,
    ledger: kakehashi::sdtm::ledger::SdtmLedger,
}

impl Verdict {
    fn exit(&self, files: &FileOpts, upstream_errors: usize) -> ExitCode {
        if self.errors + upstream_errors > 0 {
            ExitCode::from(1)
        } else if self.validation_errors > 0 && !files.allow_findings {
            eprintln!(
                "error: the datasets written have {} validation Error(s) (validation.json); pass --allow-findings to accept them",
                self.validation_errors
            );
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        }
    }
}

/// Writes the SDTM datasets, validates them with the full standards and writes the run
/// report; prints a summary.
fn finish_sdtm(
    out: &mut Output,
    dir: &std::path::Path,
    shown: &std::path::Path,
    l: &Loaded,
    files: &FileOpts,
) -> Result<Verdict, std::io::Error> {
    let (study, key, privacy) = (&l.study, &l.key, &l.privacy);
    std::fs::create_dir_all(dir)?;
    let anon = (privacy.level == Level::Anonymised)
        .then(|| kakehashi::privacy::anonymise(out, &privacy.policy.anonymised, key));
    let privacy_report = kakehashi::privacy::report(
        privacy.level,
        &privacy.policy,
        &key.digest(),
        &out.scrubbed,
        anon.as_ref(),
    );
    let std = &l.standards;
    let opts = kakehashi::sdtm::WriteOptions {
        formats: files.format.clone(),
        created: files.created.clone(),
        ct: std.library.ct.as_ref(),
        study_id: study.study_id.clone(),
    };
    let empty = out.drop_empty_datasets();
    let coverage = kakehashi::sdtm::coverage::coverage(out, &l.spec.domains);
    let ledger = out.reconciliation();
    out.diagnostics.extend(ledger.check());
    let (written, write_diags) = kakehashi::sdtm::write_outputs(out, dir, &opts)?;
    out.diagnostics.extend(write_diags);
    // The full validation of what was just written: the same standards and rules as
    // `kakehashi validate`, with the define.xml just written.
    let mut written_study = kakehashi::validate::Study::from_datasets(&out.datasets);
    written_study.define = std::fs::read_to_string(dir.join("define.xml")).ok();
    let findings = kakehashi::validate::validate_study(&written_study, &std.rules, &std.library);
    let meta = kakehashi::validate::report::Meta {
        standards: &std.in_use,
        rules_run: std.rules.len(),
        datasets: written_study.tables.len(),
    };
    kakehashi::sdtm::write_atomic(&dir.join("validation.json"), |w| {
        kakehashi::validate::report::json(&findings, &meta, w)
    })?;
    print!(
        "{}",
        kakehashi::validate::report::text(&findings, &meta, 10)
    );
    let validation_errors = findings.iter().filter(|f| f.severity == "Error").count();
    let mut w = kakehashi::fhir::ndjson::Writer::create(dir)?;
    w.write_diagnostics(&out.diagnostics)?;
    let report = serde_json::json!({
        "study_id": study.study_id,
        "subjects": out.subjects,
        "resources": out.resources,
        "records_outside_date_window": out.dropped_by_window,
        "subject_key_digest": key.digest(),
        "datasets": out.datasets.iter().map(|d| serde_json::json!({"name": d.name, "records": d.rows.len(), "variables": d.columns.len()})).collect::<Vec<_>>(),
        "datasets_without_records": empty,
        "validation": kakehashi::validate::report::counts(&findings),
        "standards": std.in_use,
        "japanese_datasets": out.japanese.iter().map(|d| d.name.clone()).collect::<Vec<_>>(),
        "coverage": coverage,
    });
    w.write_json("report.json", &report)?;
    w.write_json("privacy.json", &privacy_report)?;
    w.finish()?;
    let mut t = Tally::default();
    for d in &out.diagnostics {
        t.add(d);
    }
    println!(
        "SDTM: {} subjects from {} resources",
        out.subjects, out.resources
    );
    println!(
        "privacy: {}; {} text value(s) scrubbed{}",
        privacy.level.name(),
        out.scrubbed.values().sum::<usize>(),
        match &anon {
            Some(a) => format!(
                "; k = {} reached {} ({} subject(s) suppressed, ages in {}-year bands)",
                a.k, a.k_reached, a.subjects_suppressed, a.age_band_width
            ),
            None => String::new(),
        }
    );
    for d in &out.datasets {
        println!("  {:<8} {:>8} records", d.name, d.rows.len());
    }
    if !empty.is_empty() {
        println!(
            "  no records (not written, not in define.xml): {}",
            empty.join(", ")
        );
    }
    if !out.japanese.is_empty() {
        println!("  Japanese-text datasets in {}", shown.join("ja").display());
    }
    println!("{}", kakehashi::sdtm::coverage::summary(&coverage));
    println!(
        "diagnostics: {} error(s), {} warning(s), {} note(s) — {} files written to {}",
        t.errors,
        t.warnings,
        t.notes,
        written.len(),
        shown.display()
    );
    for d in out.diagnostics.iter().filter(|d| d.is_error()).take(10) {
        eprintln!("{d}");
    }
    Ok(Verdict {
        errors: t.errors,
        validation_errors,
        ledger,
    })
}

fn sdtm(a: SdtmArgs) -> ExitCode {
    let l = match load_sdtm(&a.sdtm) {
        Ok(x) => x,
        Err(c) => return c,
    };
    let mut engine = match Engine::new(&l.spec, &l.study, l.key.clone()) {
        Ok(e) => e,
        Err(d) => {
            print_diags(&d);
            return ExitCode::from(1);
        }
    };
    l.privacy.configure(&mut engine);
    if let Err(c) = preflight::inputs(&a.inputs) {
        return c;
    }
    let staging = match preflight::staging(&a.output) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let pb = progress("reading FHIR");
    let spill = staging.path().join(".kakehashi-spill");
    let r =
        kakehashi::sdtm::stream::convert_paths(&mut engine, &a.inputs, a.buckets, &spill, &|m| {
            pb.set_message(m)
        });
    pb.finish_and_clear();
    let (mut out, mut read_diags) = match r {
        Ok(x) => x,
        Err(e) => {
            eprintln!(
                "error: cannot use the scratch folder {}: {e}",
                spill.display()
            );
            return ExitCode::from(2);
        }
    };
    read_diags.append(&mut out.diagnostics);
    out.diagnostics = read_diags;
    let v = match finish_sdtm(&mut out, staging.path(), &a.output, &l, &a.sdtm.files) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: cannot write under {}: {e}", a.output.display());
            return ExitCode::from(2);
        }
    };
    if let Err(e) = write_reconciliation(staging.path(), None, Some(&v.ledger)) {
        eprintln!("error: cannot write under {}: {e}", a.output.display());
        return ExitCode::from(2);
    }
    if let Err(c) = preflight::commit(staging, &a.output) {
        return c;
    }
    print_reconciliation(None, Some(&v.ledger));
    v.exit(&a.sdtm.files, 0)
}

/// SS-MIX2 → FHIR → SDTM in one pass: each patient's FHIR resources go straight to the SDTM
/// engine while they are in memory; FHIR NDJSON is written to OUT/fhir, SDTM to OUT/sdtm.
pub fn end_to_end(a: AllArgs) -> ExitCode {
    let (Some(output), Some(study)) = (a.output.clone(), a.study.clone()) else {
        eprintln!("error: both stages need --study and -o/--output");
        return ExitCode::from(2);
    };
    let opts = SdtmOpts {
        study,
        sdtm_mappings: a.sdtm_mappings.clone(),
        subject_key_file: a.subject_key_file.clone(),
        demo_key: a.demo_key,
        daily_summary: a.daily_summary,
        files: a.files.clone(),
        privacy: a.privacy.clone(),
    };
    let a = AllArgs {
        output: Some(output.clone()),
        ..a
    };
    let out_dir = output;
    let l = match load_sdtm(&opts) {
        Ok(x) => x,
        Err(c) => return c,
    };
    let (spec, study, key, privacy) = (&l.spec, &l.study, &l.key, &l.privacy);
    let Some(offset) = Offset::parse(&a.tz_offset) else {
        eprintln!("error: --tz-offset must look like +09:00");
        return ExitCode::from(2);
    };
    let set = match MappingSet::load(a.mappings.as_deref()) {
        Ok(s) => s,
        Err(diags) => {
            print_diags(&diags);
            return ExitCode::from(1);
        }
    };
    let mut engine = match Engine::new(spec, study, key.clone()) {
        Ok(e) => e,
        Err(d) => {
            print_diags(&d);
            return ExitCode::from(1);
        }
    };
    privacy.configure(&mut engine);
    let engine = engine;
    let views = if a.files.format.contains(&kakehashi::sdtm::Format::Parquet) {
        match views::prepare(spec, &a.view_opts) {
            Ok(v) => v,
            Err(d) => {
                print_diags(&d);
                return ExitCode::from(1);
            }
        }
    } else {
        Vec::new()
    };
    if let Err(c) = preflight::roots(&a.roots) {
        return c;
    }
    let staging = match preflight::staging(&out_dir) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let storage = Storage::open(&a.roots);
    let policy = StatePolicy {
        snapshot_types: a.snapshot_types.clone(),
    };
    let opts = FhirOptions {
        facility: a.facility.clone(),
        offset,
        bundles: false,
        history: false,
    };
    let pb = progress("converting");
    let mut collected = kakehashi::sdtm::Collected::new(spec);
    let next = |resources: &[serde_json::Value]| engine.storage_patient(resources);
    let r = convert_storage_with(
        &storage,
        &set,
        &policy,
        &opts,
        &staging.path().join("fhir"),
        |run| pb.set_message(format!("{} patients", run.patients)),
        &next,
        |rs| {
            for r in rs {
                collected.take(r);
            }
        },
    );
    pb.finish_and_clear();
    let run = match r {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot write under {}: {e}", out_dir.display());
            return ExitCode::from(2);
        }
    };
    println!(
        "FHIR: patients {}, messages {} ({} converted), {} resources — {}",
        run.patients,
        run.messages,
        run.messages_converted,
        run.resources.values().sum::<usize>(),
        out_dir.join("fhir").display()
    );
    let mut out = collected.finish();
    let view_errors = if views.is_empty() {
        0
    } else {
        match views::write(
            &views,
            spec,
            &staging.path().join("fhir"),
            &out_dir.join("fhir"),
        ) {
            Ok(n) => n,
            Err(e) => {
                eprintln!("error: cannot write under {}: {e}", out_dir.display());
                return ExitCode::from(2);
            }
        }
    };
    // Stage-1 diagnostics name SS-MIX2 paths (which hold patient ids by design): they stay
    // in fhir/diagnostics.ndjson and never go into the SDTM folder.
    let stage1_errors = run.tally.errors;
    if stage1_errors > 0 {
        eprintln!(
            "FHIR stage: {stage1_errors} error(s) — {}",
            out_dir.join("fhir/diagnostics.ndjson").display()
        );
    }
    let v = match finish_sdtm(
        &mut out,
        &staging.path().join("sdtm"),
        &out_dir.join("sdtm"),
        &l,
        &a.files,
    ) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: cannot write under {}: {e}", out_dir.display());
            return ExitCode::from(2);
        }
    };
    if let Err(e) = write_reconciliation(staging.path(), Some(&run), Some(&v.ledger)) {
        eprintln!("error: cannot write under {}: {e}", out_dir.display());
        return ExitCode::from(2);
    }
    if let Err(c) = preflight::commit(staging, &out_dir) {
        return c;
    }
    print_reconciliation(Some(&run), Some(&v.ledger));
    v.exit(&a.files, stage1_errors + view_errors)
}

/// `kakehashi convert ROOT… --study S -o OUT`: both stages.
#[derive(clap::Args, Debug)]
pub struct AllArgs {
    /// SS-MIX2 storage roots.
    pub roots: Vec<PathBuf>,
    /// Output folder: fhir/ and sdtm/ are written under it.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Study file (YAML; only `study_id` is required).
    #[arg(long)]
    pub study: Option<PathBuf>,
    /// SDTM mapping overrides (domains/, terminology/).
    #[arg(long)]
    pub sdtm_mappings: Option<PathBuf>,
    /// Key for subject pseudonyms (else KAKEHASHI_SUBJECT_KEY).
    #[arg(long)]
    pub subject_key_file: Option<PathBuf>,
    /// Use the documented demonstration key (synthetic data only).
    #[arg(long)]
    pub demo_key: bool,
    /// As for `convert sdtm`: VS daily means instead of every reading.
    #[arg(long)]
    pub daily_summary: bool,
    #[command(flatten)]
    pub files: FileOpts,
    #[command(flatten)]
    pub privacy: PrivacyOpts,
    /// Folder of SS-MIX2 → FHIR mapping overrides (as for `convert fhir`).
    #[arg(long)]
    pub mappings: Option<PathBuf>,
    #[arg(long, default_value = "0000000000")]
    pub facility: String,
    #[arg(long, default_value = "+09:00")]
    pub tz_offset: String,
    #[arg(long, value_delimiter = ',', default_value = "ADT-00")]
    pub snapshot_types: Vec<String>,
    #[command(flatten)]
    pub view_opts: ViewOpts,
}

/// `convert`: a stage (`fhir`, `sdtm`) or, with SS-MIX2 roots and --study, both.
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ConvertCmd {
    #[command(subcommand)]
    pub target: Option<Target>,
    #[command(flatten)]
    pub all: AllArgs,
}

pub fn run_cmd(c: ConvertCmd) -> ExitCode {
    match (c.target, c.all) {
        (Some(t), _) => run(t),
        (None, a) if !a.roots.is_empty() => end_to_end(a),
        _ => {
            eprintln!("error: give SS-MIX2 roots with --study and -o (both stages), or a stage: `convert fhir` / `convert sdtm`");
            ExitCode::from(2)
        }
    }
}
