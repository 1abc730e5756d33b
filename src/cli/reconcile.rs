//! The reconciliation of a `convert` run: `reconciliation.json` and its terminal lines
//! (README "Reliability").

/// `reconciliation.json`: where every stored file and every resource went. Keys are data
/// types, resource types, codes and reasons: never patient values.
pub fn write_reconciliation(
    dir: &std::path::Path,
    fhir: Option<&kakehashi::fhir::FhirRun>,
    sdtm: Option<&kakehashi::sdtm::ledger::SdtmLedger>,
) -> std::io::Result<()> {
    let mut doc = serde_json::Map::new();
    let mut balanced = true;
    if let Some(run) = fhir {
        balanced &= run.ledger.check().is_empty();
        doc.insert(
            "ssmix2".into(),
            serde_json::json!({
                "data_types": run.ledger.data_types,
                "totals": run.ledger.totals(),
                "resources_written": run.resources,
            }),
        );
    }
    if let Some(l) = sdtm {
        balanced &= l.check().is_empty();
        doc.insert(
            "sdtm".into(),
            serde_json::to_value(l).map_err(std::io::Error::other)?,
        );
    }
    doc.insert("balanced".into(), balanced.into());
    kakehashi::sdtm::write_atomic(&dir.join("reconciliation.json"), |w| {
        serde_json::to_writer_pretty(&mut *w, &serde_json::Value::Object(doc))
            .map_err(std::io::Error::other)?;
        std::io::Write::write_all(w, b"\n")
    })?;
    Ok(())
}

/// The terminal lines for a reconciliation.
pub fn print_reconciliation(
    fhir: Option<&kakehashi::fhir::FhirRun>,
    sdtm: Option<&kakehashi::sdtm::ledger::SdtmLedger>,
) {
    if let Some(run) = fhir {
        let t = run.ledger.totals();
        let rejected: usize = t.rejected.values().sum();
        let codes: Vec<String> = t.rejected.iter().map(|(c, n)| format!("{c} {n}")).collect();
        println!(
            "reconciliation: {} file(s): {} current message(s) read = {} converted + {} rejected{}; {} superseded, {} deleted; {} resource(s) written{}",
            t.files,
            t.messages,
            t.converted,
            rejected,
            if codes.is_empty() { String::new() } else { format!(" ({})", codes.join(", ")) },
            t.superseded,
            t.deleted,
            run.resources.values().sum::<usize>(),
            if run.ledger.check().is_empty() { "" } else { " — DOES NOT BALANCE" },
        );
    }
    if let Some(l) = sdtm {
        let read: usize = l.resources.values().map(|e| e.read).sum();
        let gave: usize = l.resources.values().map(|e| e.gave_records).sum();
        let written: usize = l.records_written.values().sum();
        let rejected: usize = l.records_rejected.values().flat_map(|m| m.values()).sum();
        println!(
            "reconciliation: {read} resource(s) read = {gave} gave records + {} gave none; {written} SDTM record(s) written, {rejected} rejected (unmapped/), {} outside the date window{}",
            read - gave.min(read),
            l.records_outside_date_window,
            if l.check().is_empty() { "" } else { " — DOES NOT BALANCE" },
        );
    }
}
