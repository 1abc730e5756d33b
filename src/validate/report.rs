//! Validation reports: a terminal summary, JSON and CSV in the Open Rules results shape
//! (Dataset, Record, Variable, Value, plus rule, severity and message), and one
//! self-contained HTML page (no network): summary by severity and dataset, a sortable issue
//! table, and an explanation per rule.

use std::collections::BTreeMap;
use std::io::Write;

use super::engine::Finding;
use super::rule::Rule;
use super::standards::InUse;

/// What a report states besides its findings: the standards and how much was checked.
pub struct Meta<'a> {
    pub standards: &'a [InUse],
    pub rules_run: usize,
    pub datasets: usize,
}

pub fn counts(findings: &[Finding]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for f in findings {
        *m.entry(f.severity.clone()).or_insert(0) += 1;
    }
    m
}

pub fn text(findings: &[Finding], meta: &Meta, limit: usize) -> String {
    let mut s = String::new();
    let c = counts(findings);
    s.push_str("standards:\n");
    for u in meta.standards {
        s.push_str(&format!("  {} {} ({})\n", u.standard, u.version, u.source));
    }
    s.push_str(&format!(
        "validated {} dataset(s) with {} rule(s): {} finding(s){}{}\n",
        meta.datasets,
        meta.rules_run,
        findings.len(),
        if c.is_empty() { "" } else { " — " },
        c.iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let mut by_rule: BTreeMap<(&str, &str), (usize, &str)> = BTreeMap::new();
    for f in findings {
        let e = by_rule
            .entry((f.rule.as_str(), f.dataset.as_str()))
            .or_insert((0, f.message.as_str()));
        e.0 += 1;
    }
    for ((rule, ds), (n, msg)) in by_rule.iter().take(limit) {
        s.push_str(&format!("  {rule:<12} {ds:<8} {n:>6}  {msg}\n"));
    }
    if by_rule.len() > limit {
        s.push_str(&format!(
            "  … {} more rule/dataset pairs (use --format json or --html)\n",
            by_rule.len() - limit
        ));
    }
    s
}

/// `{standards, rules_run, datasets, counts, findings}`; each finding in the Open Rules
/// results shape plus rule, severity and message.
pub fn json(findings: &[Finding], meta: &Meta, out: &mut impl Write) -> std::io::Result<()> {
    let rows: Vec<serde_json::Value> = findings
        .iter()
        .map(|f| {
            serde_json::json!({
                "Dataset": f.dataset, "Record": f.record, "Variable": f.variable, "Value": f.value,
                "Rule": f.rule, "Severity": f.severity, "Message": f.message,
            })
        })
        .collect();
    let doc = serde_json::json!({
        "standards": meta.standards,
        "rules_run": meta.rules_run,
        "datasets": meta.datasets,
        "counts": counts(findings),
        "findings": rows,
    });
    serde_json::to_writer_pretty(&mut *out, &doc).map_err(std::io::Error::other)?;
    out.write_all(b"\n")
}

pub fn csv(findings: &[Finding], out: &mut impl Write) -> std::io::Result<()> {
    let mut w = ::csv::Writer::from_writer(out);
    w.write_record([
        "Dataset", "Record", "Variable", "Value", "Rule", "Severity", "Message",
    ])
    .map_err(std::io::Error::other)?;
    for f in findings {
        let rec = f.record.map(|r| r.to_string()).unwrap_or_default();
        w.write_record([
            f.dataset.as_str(),
            rec.as_str(),
            f.variable.as_str(),
            f.value.as_str(),
            f.rule.as_str(),
            f.severity.as_str(),
            f.message.as_str(),
        ])
        .map_err(std::io::Error::other)?;
    }
    w.flush()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One self-contained page (inline CSS and script; no network).
pub fn html(
    findings: &[Finding],
    rules: &[Rule],
    title: &str,
    meta: &Meta,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let c = counts(findings);
    let mut by_ds: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for f in findings {
        *by_ds
            .entry((f.dataset.as_str(), f.severity.as_str()))
            .or_insert(0) += 1;
    }
    let severities: Vec<&String> = c.keys().collect();
    let mut h = String::new();
    h.push_str("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>");
    h.push_str(&esc(title));
    h.push_str("</title><style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}th{background:#f0f0f0;cursor:pointer}.Error{color:#b00}.Warning{color:#a60}.num{text-align:right}</style></head><body>");
    h.push_str(&format!("<h1>{}</h1>", esc(title)));
    h.push_str("<h2>Standards</h2><table id=\"standards\"><tr><th>Standard</th><th>Version</th><th>Source</th></tr>");
    for u in meta.standards {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&u.standard),
            esc(&u.version),
            esc(&u.source)
        ));
    }
    h.push_str("</table>");
    h.push_str(&format!(
        "<p>{} dataset(s), {} rule(s). Total findings: <strong id=\"total\">{}</strong></p>",
        meta.datasets,
        meta.rules_run,
        findings.len()
    ));
    h.push_str(
        "<h2>By severity</h2><table id=\"severity\"><tr><th>Severity</th><th>Findings</th></tr>",
    );
    for (k, v) in &c {
        h.push_str(&format!(
            "<tr><td class=\"{0}\">{0}</td><td class=\"num\" data-severity=\"{0}\">{1}</td></tr>",
            esc(k),
            v
        ));
    }
    h.push_str("</table><h2>By dataset</h2><table id=\"datasets\"><tr><th>Dataset</th>");
    for s in &severities {
        h.push_str(&format!("<th>{}</th>", esc(s)));
    }
    h.push_str("</tr>");
    let datasets: std::collections::BTreeSet<&str> = by_ds.keys().map(|(d, _)| *d).collect();
    for d in datasets {
        h.push_str(&format!("<tr><td>{}</td>", esc(d)));
        for s in &severities {
            h.push_str(&format!(
                "<td class=\"num\">{}</td>",
                by_ds.get(&(d, s.as_str())).copied().unwrap_or(0)
            ));
        }
        h.push_str("</tr>");
    }
    h.push_str("</table><h2>Issues</h2><p>Click a column heading to sort.</p><table id=\"issues\"><thead><tr><th>Dataset</th><th>Record</th><th>Variable</th><th>Value</th><th>Rule</th><th>Severity</th><th>Message</th></tr></thead><tbody>");
    for f in findings {
        h.push_str(&format!(
            "<tr><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td><a href=\"#{}\">{}</a></td><td class=\"{}\">{}</td><td>{}</td></tr>",
            esc(&f.dataset),
            f.record.map(|r| r.to_string()).unwrap_or_default(),
            esc(&f.variable),
            esc(&f.value),
            esc(&f.rule),
            esc(&f.rule),
            esc(&f.severity),
            esc(&f.severity),
            esc(&f.message)
        ));
    }
    h.push_str("</tbody></table><h2>Rules</h2>");
    let fired: std::collections::BTreeSet<&str> =
        findings.iter().map(|f| f.rule.as_str()).collect();
    for r in rules.iter().filter(|r| fired.contains(r.id.as_str())) {
        h.push_str(&format!(
            "<div class=\"rule\" id=\"{}\"><h3>{} <span class=\"{}\">{}</span></h3><p>{}</p><p>{}</p><p>Implements: {}</p></div>",
            esc(&r.id),
            esc(&r.id),
            esc(&r.severity),
            esc(&r.severity),
            esc(&r.message),
            esc(&r.description),
            esc(&r.cg_ids.iter().chain(&r.core_ids).cloned().collect::<Vec<_>>().join(", "))
        ));
    }
    // Sorting: click a heading; numbers sort numerically. The page stays usable without it.
    h.push_str("<script>document.querySelectorAll('#issues th').forEach(function(th,i){th.addEventListener('click',function(){var tb=document.querySelector('#issues tbody');var rows=Array.from(tb.rows);var asc=th.dataset.asc!=='1';th.dataset.asc=asc?'1':'0';rows.sort(function(a,b){var x=a.cells[i].textContent,y=b.cells[i].textContent;var nx=parseFloat(x),ny=parseFloat(y);var c=(!isNaN(nx)&&!isNaN(ny))?nx-ny:x.localeCompare(y);return asc?c:-c;});rows.forEach(function(r){tb.appendChild(r);});});});document.body.dataset.ready='1';</script>");
    h.push_str("</body></html>\n");
    out.write_all(h.as_bytes())
}
