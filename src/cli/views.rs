//! `--format parquet` for FHIR output (`convert fhir`, and the fhir/ folder of `convert`):
//! the flattened rows of every ViewDefinition under `views/` (src/sdtm/view_rows.rs).

use kakehashi::diagnostics::Diagnostic;
use kakehashi::sdtm::view_rows::{self, NamedView};
use kakehashi::sdtm::SdtmSpec;
use std::path::{Path, PathBuf};

/// `convert fhir --format`: the NDJSON is always written (it is the FHIR output);
/// `parquet` adds the view rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FhirFormat {
    Ndjson,
    Parquet,
}

/// Flags for the view rows, shared by `convert fhir` and `convert`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ViewOpts {
    /// SQL-on-FHIR v2 ViewDefinitions (`*.json`) whose rows are written as Parquet with the
    /// SDTM domain files' views (with `--format parquet`).
    #[arg(long)]
    pub views: Option<PathBuf>,
}

/// The views to write, every file checked before any data is read.
pub fn prepare(spec: &SdtmSpec, o: &ViewOpts) -> Result<Vec<NamedView>, Vec<Diagnostic>> {
    let mut views = view_rows::domain_views(spec);
    if let Some(dir) = &o.views {
        views.extend(view_rows::user_views(dir, spec)?);
    }
    Ok(views)
}

/// Writes `fhir_dir/views/*.parquet` and `views/diagnostics.ndjson`; prints a summary.
/// Returns the number of errors.
pub fn write(
    views: &[NamedView],
    spec: &SdtmSpec,
    fhir_dir: &Path,
    shown_dir: &Path,
) -> std::io::Result<usize> {
    let out = fhir_dir.join("views");
    let (written, diags) = view_rows::write_parquet(views, spec, fhir_dir, &out)?;
    let mut text = String::new();
    for d in &diags {
        text.push_str(&serde_json::to_string(d).map_err(std::io::Error::other)?);
        text.push('\n');
    }
    std::fs::write(out.join("diagnostics.ndjson"), text)?;
    let errors = diags.iter().filter(|d| d.is_error()).count();
    println!(
        "views: {} Parquet file(s), {} row(s), {} error(s), {} warning(s) — {}",
        written.len(),
        written.values().sum::<usize>(),
        errors,
        diags.len() - errors,
        shown_dir.join("views").display()
    );
    for d in diags.iter().take(10) {
        eprintln!("{d}");
    }
    Ok(errors)
}
