//! One self-contained HTML page (no network, no script) with the statistics or the
//! attrition table: an SVG bar chart and a table per result, suppressed cells marked.

use std::fmt::Write;

use super::aggregate::{StatTable, Stats};
use super::feasibility::Attrition;
use super::suppress::Status;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:.5em 0 2em}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}td.n{text-align:right}tr.total td{font-weight:bold}td.sup{color:#a00}.note{color:#555}svg text{font-size:11px}";

fn head(title: &str, out: &mut String) {
    let _ = write!(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{0}</title><style>{STYLE}</style></head><body><h1>{0}</h1>", esc(title));
}

fn bar_chart(t: &StatTable, out: &mut String) {
    let bars: Vec<(String, u64)> = t
        .rows
        .iter()
        .filter(|r| !r.total)
        .filter_map(|r| r.count.map(|c| (r.labels.join(" "), c)))
        .collect();
    if bars.is_empty() {
        return;
    }
    let max = bars.iter().map(|b| b.1).max().unwrap_or(1).max(1) as f64;
    let h = 18 * bars.len() + 4;
    let _ = write!(
        out,
        "<svg class=\"chart\" width=\"640\" height=\"{h}\" role=\"img\" aria-label=\"{}\">",
        esc(&t.title)
    );
    for (i, (label, c)) in bars.iter().enumerate() {
        let y = 2 + i * 18;
        let w = (*c as f64 / max * 380.0).round().max(1.0);
        let _ = write!(
            out,
            "<text x=\"0\" y=\"{}\">{}</text><rect class=\"bar\" x=\"200\" y=\"{y}\" width=\"{w}\" height=\"14\" fill=\"#4a7ab0\"></rect><text x=\"{}\" y=\"{}\">{c}</text>",
            y + 11,
            esc(&label.chars().take(30).collect::<String>()),
            205.0 + w,
            y + 11
        );
    }
    out.push_str("</svg>");
}

fn cell(count: Option<u64>, status: &Status) -> String {
    match (count, status) {
        (Some(c), _) => format!("<td class=\"n\">{c}</td>"),
        (None, Status::Primary) => {
            "<td class=\"n sup\" title=\"fewer than the threshold\">*</td>".into()
        }
        (None, _) => {
            "<td class=\"n sup\" title=\"suppressed so a small cell cannot be recovered\">**</td>"
                .into()
        }
    }
}

pub fn stats_page(s: &Stats, title: &str) -> String {
    let mut out = String::new();
    head(title, &mut out);
    let _ = write!(
        out,
        "<p class=\"note\">Counts are patients. <b>*</b>: fewer than {0} (suppressed); <b>**</b>: suppressed so that a small cell cannot be recovered from totals. Subjects: <span id=\"subjects\">{1}</span>.</p>",
        s.threshold,
        s.subjects.map(|n| n.to_string()).unwrap_or_else(|| "*".into())
    );
    for t in &s.tables {
        let _ = write!(
            out,
            "<section class=\"stat\" id=\"{}\"><h2>{}</h2>",
            esc(&t.id),
            esc(&t.title)
        );
        bar_chart(t, &mut out);
        out.push_str("<table><tr>");
        for c in &t.columns {
            let _ = write!(out, "<th>{}</th>", esc(c));
        }
        let has_mean = t.rows.iter().any(|r| r.mean.is_some());
        out.push_str("<th>patients</th>");
        if has_mean {
            out.push_str("<th>mean</th>");
        }
        out.push_str("</tr>");
        for r in &t.rows {
            let _ = write!(out, "<tr{}>", if r.total { " class=\"total\"" } else { "" });
            for l in &r.labels {
                let _ = write!(out, "<td>{}</td>", esc(l));
            }
            out.push_str(&cell(r.count, &r.status));
            if has_mean {
                let _ = write!(
                    out,
                    "<td class=\"n\">{}</td>",
                    r.mean.map(|m| m.to_string()).unwrap_or_else(|| "*".into())
                );
            }
            out.push_str("</tr>");
        }
        out.push_str("</table></section>");
    }
    out.push_str("</body></html>\n");
    out
}

pub fn attrition_page(a: &Attrition) -> String {
    let mut out = String::new();
    head(&format!("Feasibility: {}", a.name), &mut out);
    let _ = write!(out, "<p class=\"note\">Patients remaining after each step. <b>*</b>: fewer than {} (suppressed); <b>**</b>: suppressed so that a small cell, or a small number excluded by a step, cannot be recovered.</p><table id=\"attrition\"><tr><th>step</th>", a.threshold);
    for s in &a.sites {
        let _ = write!(out, "<th>site {}</th>", esc(s));
    }
    out.push_str("<th>all sites</th></tr>");
    for (i, step) in a.steps.iter().enumerate() {
        let _ = write!(out, "<tr><td>{}</td>", esc(step));
        for c in a.cells.iter().filter(|c| c.step == i) {
            out.push_str(&cell(c.count, &c.status));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table></body></html>\n");
    out
}
