//! The HTML run report (`--report FILE.html`): one self-contained file.
//!
//! No network, inline CSS and JavaScript, works from `file://`. It shows:
//!
//! - a timeline: one lane per target (the steps outside any `for_each` in
//!   a lane named after the pipeline), one bar per step placed at its start
//!   and as long as it ran, coloured by result — where the time went and
//!   what ran in parallel. The bars are drawn by the script from the JSON
//!   in `<script id="timeline-data">`, so the page also works as data;
//! - findings grouped by tool, with `file:line`;
//! - host checks (of `host-checks` and `serverspec` steps) with
//!   expected/actual (their message);
//! - teardowns and their status;
//! - each step's log (already masked by the event sink), collapsed.

use std::fmt::Write as _;

use serde_json::json;

use super::summary::{StepRow, Summary};
use super::{format_duration, is_teardown, tool_of};

/// Where each step started, in milliseconds since the run began, by row
/// index of the [`Summary`] (`None`: unknown).
pub type Starts = [Option<u64>];

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn status_class(row: &StepRow) -> &'static str {
    match row.status {
        Some(s) => match s {
            step_core::Status::Passed => "passed",
            step_core::Status::Warned => "warned",
            step_core::Status::Skipped => "skipped",
            step_core::Status::Failed | step_core::Status::TimedOut => "failed",
            step_core::Status::Errored | step_core::Status::Cancelled => "errored",
            // A status added later: shown as an error.
            _ => "errored",
        },
        None => "unfinished",
    }
}

/// The timeline's data: lanes of bars, as the page's script reads it.
fn timeline_json(summary: &Summary, starts: &Starts) -> String {
    let pipeline = summary.pipeline().unwrap_or("stepwise");
    let mut lanes: Vec<(String, Vec<serde_json::Value>)> = Vec::new();
    let mut end = 0u64;
    for (i, row) in summary.rows().iter().enumerate() {
        let lane = row.target.clone().unwrap_or_else(|| pipeline.to_owned());
        let start = starts.get(i).copied().flatten().unwrap_or(0);
        let ms = u64::try_from(row.duration.as_millis()).unwrap_or(u64::MAX);
        end = end.max(start.saturating_add(ms));
        let bar = json!({
            "step": row.step, "kind": row.kind, "status": status_class(row),
            "result": row.result(), "start": start, "ms": ms,
            "took": format_duration(row.duration),
        });
        match lanes.iter_mut().find(|(n, _)| *n == lane) {
            Some((_, bars)) => bars.push(bar),
            None => lanes.push((lane, vec![bar])),
        }
    }
    let total = summary
        .duration()
        .map_or(end, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .max(end)
        .max(1);
    let lanes: Vec<_> = lanes
        .into_iter()
        .map(|(name, bars)| json!({"name": name, "bars": bars}))
        .collect();
    // `<` escaped: the JSON sits inside a script element.
    json!({"total": total, "lanes": lanes})
        .to_string()
        .replace('<', "\\u003c")
}

const STYLE: &str = r#"
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
.result-passed{color:#1a7f37}.result-failed,.result-cancelled{color:#cf222e}
#timeline{border:1px solid #ccc;padding:.5em}
.lane{display:flex;align-items:center;margin:.25em 0}
.lane-label{width:10em;font-weight:600;overflow:hidden;text-overflow:ellipsis}
.track{position:relative;flex:1;height:1.6em;background:#f6f8fa}
.bar{position:absolute;top:.15em;height:1.3em;min-width:3px;border-radius:2px;font-size:.75em;
 color:#fff;overflow:hidden;white-space:nowrap;padding:0 2px;box-sizing:border-box}
.bar.passed{background:#2da44e}.bar.warned{background:#bf8700}.bar.skipped{background:#8c959f}
.bar.failed{background:#cf222e}.bar.errored{background:#8250df}.bar.unfinished{background:#57606a}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #d0d7de;padding:.2em .5em;text-align:left;vertical-align:top}
.sev-error,.sev-high,.st-failed,.st-errored{color:#cf222e;font-weight:600}.sev-medium,.sev-low,.st-warned{color:#9a6700}
td.expect{white-space:pre-line}
pre{background:#f6f8fa;padding:.5em;overflow:auto;max-height:30em}
"#;

const SCRIPT: &str = r#"
(function(){
  var data = JSON.parse(document.getElementById('timeline-data').textContent);
  var root = document.getElementById('timeline');
  data.lanes.forEach(function(lane){
    var l = document.createElement('div'); l.className = 'lane'; l.dataset.lane = lane.name;
    var name = document.createElement('div'); name.className = 'lane-label'; name.textContent = lane.name;
    var track = document.createElement('div'); track.className = 'track';
    lane.bars.forEach(function(b){
      var bar = document.createElement('div');
      bar.className = 'bar ' + b.status;
      bar.style.left = (100 * b.start / data.total) + '%';
      bar.style.width = (100 * b.ms / data.total) + '%';
      bar.title = b.step + ' (' + (b.kind || 'not run') + '): ' + b.result + ', ' + b.took;
      bar.textContent = b.step;
      bar.dataset.status = b.status;
      track.appendChild(bar);
    });
    l.appendChild(name); l.appendChild(track); root.appendChild(l);
  });
  document.body.dataset.rendered = 'yes';
})();
"#;

/// The whole page.
pub fn html(summary: &Summary, starts: &Starts) -> String {
    let pipeline = summary.pipeline().unwrap_or("stepwise");
    let result = summary.result().map_or("unfinished", |r| r.as_str());
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>stepwise: {p} {result}</title><style>{STYLE}</style></head><body>\n\
         <h1>stepwise: <code>{p}</code> <span class=\"result-{result}\">{result}</span></h1>\n\
         <p id=\"result-line\">{line}</p>\n<h2>Timeline</h2>\n<div id=\"timeline\"></div>\n",
        p = escape(pipeline),
        line = escape(&summary.result_line()),
    );
    findings(summary, &mut h);
    checks(summary, &mut h);
    teardowns(summary, &mut h);
    logs(summary, &mut h);
    let _ = write!(
        h,
        "<script type=\"application/json\" id=\"timeline-data\">{}</script>\n\
         <script>{SCRIPT}</script>\n</body></html>\n",
        timeline_json(summary, starts)
    );
    h
}

fn findings(summary: &Summary, h: &mut String) {
    let mut tools: Vec<(&str, Vec<(&StepRow, &step_core::Finding)>)> = Vec::new();
    for row in summary.rows() {
        let tool = tool_of(row.kind.as_deref());
        for f in &row.findings {
            match tools.iter_mut().find(|(t, _)| *t == tool) {
                Some((_, list)) => list.push((row, f)),
                None => tools.push((tool, vec![(row, f)])),
            }
        }
    }
    let total: usize = tools.iter().map(|(_, l)| l.len()).sum();
    let _ = writeln!(h, "<h2 id=\"findings\">Findings ({total})</h2>");
    for (tool, list) in tools {
        let _ = writeln!(
            h,
            "<details open class=\"tool\" data-tool=\"{t}\"><summary>{t} ({n})</summary><table>\
             <tr><th>severity</th><th>rule</th><th>location</th><th>message</th><th>step</th></tr>",
            t = escape(tool),
            n = list.len()
        );
        for (row, f) in list {
            let loc = f
                .location
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            let ignored = if f.ignored { " (ignored)" } else { "" };
            let _ = writeln!(
                h,
                "<tr class=\"finding\"><td class=\"sev-{s}\">{s}{ignored}</td><td><code>{}</code></td>\
                 <td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                escape(&f.id),
                escape(&loc),
                escape(&f.message),
                escape(&row.label()),
                s = f.severity,
            );
        }
        h.push_str("</table></details>\n");
    }
}

fn checks(summary: &Summary, h: &mut String) {
    // Other tools' checks (docker-bench's, ansible's recap) are findings
    // or results of their own sections.
    let all: Vec<_> = summary
        .rows()
        .iter()
        .filter(|r| tool_of(r.kind.as_deref()) == "host-checks")
        .flat_map(|r| r.checks.iter().map(move |c| (r, c)))
        .collect();
    let failed = all.iter().filter(|(_, c)| c.status.is_failure()).count();
    let _ = writeln!(
        h,
        "<h2 id=\"checks\">Host checks ({} checks, {failed} failed)</h2>\n<table>\
         <tr><th>result</th><th>check</th><th>expected / actual</th><th>location</th><th>step</th></tr>",
        all.len()
    );
    for (row, c) in all {
        let loc = c
            .location
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        let st = if c.status.is_failure() {
            "failed"
        } else {
            "passed"
        };
        let _ = writeln!(
            h,
            "<tr class=\"check {st}\"><td class=\"st-{st}\">{}</td><td>{}</td><td class=\"expect\">{}</td>\
             <td><code>{}</code></td><td>{}</td></tr>",
            c.status,
            escape(&c.name),
            escape(c.message.as_deref().unwrap_or("")),
            escape(&loc),
            escape(&row.label()),
        );
    }
    h.push_str("</table>\n");
}

fn teardowns(summary: &Summary, h: &mut String) {
    let rows: Vec<_> = summary
        .rows()
        .iter()
        .filter(|r| is_teardown(&r.step))
        .collect();
    let _ = writeln!(
        h,
        "<h2 id=\"teardowns\">Teardowns ({})</h2>\n<table><tr><th>teardown</th><th>result</th><th>duration</th><th>message</th></tr>",
        rows.len()
    );
    for row in rows {
        let _ = writeln!(
            h,
            "<tr class=\"teardown\"><td>{}</td><td class=\"st-{}\">{}</td><td>{}</td><td>{}</td></tr>",
            escape(&row.label()),
            status_class(row),
            row.result(),
            format_duration(row.duration),
            escape(row.message.as_deref().unwrap_or("")),
        );
    }
    h.push_str("</table>\n");
}

fn logs(summary: &Summary, h: &mut String) {
    h.push_str("<h2 id=\"logs\">Logs</h2>\n");
    for row in summary.rows() {
        let _ = write!(
            h,
            "<details class=\"log\"><summary>{} — <span class=\"st-{}\">{}</span> in {}</summary><pre>",
            escape(&row.label()),
            status_class(row),
            row.result(),
            format_duration(row.duration)
        );
        if row.output_dropped > 0 {
            let _ = writeln!(h, "[{} earlier lines not kept]", row.output_dropped);
        }
        for line in &row.output {
            h.push_str(&escape(line));
            h.push('\n');
        }
        if let Some(m) = &row.message {
            let _ = writeln!(h, "→ {}", escape(m));
        }
        h.push_str("</pre></details>\n");
    }
}
