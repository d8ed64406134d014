//! Reading `docker-bench-security.log`, the text log.
//!
//! Used when the JSON log is missing (versions before 1.3.4 write none) or
//! broken beyond repair. What the parser knows about the layout:
//!
//! * check lines are `[WARN] 1.1.1 - Ensure … (Automated)`; 2015 versions
//!   pad the id: `[WARN] 1.1  - Create a separate partition…`;
//! * indented lines `[WARN]      * Container running in Privileged mode: web`
//!   are details of the check above them, not checks;
//! * `[INFO] 5 - Container Runtime` opens a section and
//!   `[INFO] 1.1 - Linux Hosts Specific Configuration` a subsection (an INFO
//!   line whose id is the parent of the next id);
//! * lines without an id are not checks: the "Some tests might require root
//!   to run" warning printed before the run, `[INFO] Checks: 117`,
//!   `[INFO] Score: 1` (read as the logged totals), deprecated checks;
//! * `Section B - Remediation measures` (with `-p`) repeats ids with their
//!   remediation: `[INFO] 5.4 - You should not run … Remediation Impact: …`;
//! * the bench appends to this file (`tee -a`), so a log can hold several
//!   runs: only the last one (from the last `Initializing` line) is read;
//! * colours (without `-b`) are ANSI escapes, stripped first.

use std::collections::HashMap;
use std::sync::OnceLock;

use regex::Regex;
use step_core::ansi::strip_ansi;

use crate::report::{BenchCheck, BenchReport, BenchResult, BenchSection, LogFormat, section_of};

fn tagged_line() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^\s*\[(PASS|WARN|INFO|NOTE)\] ?(.*)$").expect("a literal pattern")
    })
}

fn id_line() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^((?:\d+|[A-Za-z])(?:\.\d+)*)\s+-\s+(.*)$").expect("a literal pattern")
    })
}

fn totals_line() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^(Checks|Score):\s*(-?\d+)\s*$").expect("a literal pattern"))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Results,
    Remediation,
    Score,
}

/// A line with an id, before we know whether it is a check or a header.
struct IdEntry {
    result: BenchResult,
    id: String,
    desc: String,
    line: u32,
    details: Vec<String>,
}

/// Parses the text log (current or 2015 layout) into a report.
///
/// ```
/// let log = "\
/// [WARN] Some tests might require root to run
///
/// Initializing 2024-05-02T10:00:00+00:00
///
/// [INFO] 5 - Container Runtime
/// [WARN] 5.4 - Ensure that privileged containers are not used (Automated)
/// [WARN]      * Container running in Privileged mode: web
/// [PASS] 5.5 - Ensure sensitive host system directories are not mounted on containers (Automated)
/// ";
/// let report = step_dockerbench::text_log::parse_text_log(log);
/// let counts = report.counts();
/// assert_eq!((counts.warn, counts.pass, counts.total()), (1, 1, 2));
/// assert_eq!(report.checks[0].details.as_deref(), Some("Container running in Privileged mode: web"));
/// ```
pub fn parse_text_log(text: &str) -> BenchReport {
    let lines: Vec<String> = text
        .lines()
        .map(|l| strip_ansi(l.trim_end_matches('\r')).into_owned())
        .collect();
    // The bench appends; the last run starts at the last `Initializing` line.
    let start = lines
        .iter()
        .rposition(|l| l.trim_start().starts_with("Initializing"))
        .unwrap_or(0);

    let mut report = BenchReport::new(LogFormat::Text);
    let mut entries: Vec<IdEntry> = Vec::new();
    let mut remediations: HashMap<String, String> = HashMap::new();
    let mut phase = Phase::Results;

    for (index, line) in lines.iter().enumerate().skip(start) {
        let line_no = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let trimmed = line.trim();
        if trimmed.starts_with("Section A") {
            phase = Phase::Results;
            continue;
        }
        if trimmed.starts_with("Section B") {
            phase = Phase::Remediation;
            continue;
        }
        if trimmed.starts_with("Section C") {
            phase = Phase::Score;
            continue;
        }
        let Some(caps) = tagged_line().captures(line) else {
            continue;
        };
        let Some(result) = caps.get(1).and_then(|m| BenchResult::parse(m.as_str())) else {
            continue;
        };
        let rest = caps.get(2).map_or("", |m| m.as_str());
        let rest_trimmed = rest.trim();

        if let Some(t) = totals_line().captures(rest_trimmed) {
            let n = t.get(2).and_then(|m| m.as_str().parse::<i64>().ok());
            match t.get(1).map(|m| m.as_str()) {
                Some("Score") => report.logged_score = n,
                _ => report.logged_checks = n.and_then(|n| u64::try_from(n).ok()),
            }
            continue;
        }
        match phase {
            Phase::Score => continue,
            Phase::Remediation => {
                if let Some(c) = id_line().captures(rest_trimmed) {
                    let id = c.get(1).map_or("", |m| m.as_str()).to_string();
                    let text = c.get(2).map_or("", |m| m.as_str()).trim().to_string();
                    remediations.insert(id, text);
                }
                continue;
            }
            Phase::Results => {}
        }
        // `[WARN]      * detail`: indented, starts with `*`.
        if rest.starts_with(char::is_whitespace) || rest_trimmed.starts_with('*') {
            if let Some(last) = entries.last_mut() {
                let detail = rest_trimmed.trim_start_matches('*').trim();
                if !detail.is_empty() {
                    last.details.push(detail.to_string());
                }
            }
            continue;
        }
        let Some(c) = id_line().captures(rest_trimmed) else {
            // No id: the "not root" warning, a deprecated check, a notice.
            continue;
        };
        let id = c.get(1).map_or("", |m| m.as_str()).to_string();
        let desc = c.get(2).map_or("", |m| m.as_str()).trim().to_string();
        // Old versions print a check's header line again for a second
        // failing container; it is still one check.
        if let Some(last) = entries.last_mut()
            && last.id == id
            && last.result == result
            && last.desc == desc
        {
            continue;
        }
        entries.push(IdEntry {
            result,
            id,
            desc,
            line: line_no,
            details: Vec::new(),
        });
    }

    let mut current_section: Option<String> = None;
    for (i, entry) in entries.iter().enumerate() {
        let is_header = entry.result == BenchResult::Info
            && (!entry.id.contains('.')
                || entries
                    .get(i + 1)
                    .is_some_and(|next| next.id.starts_with(&format!("{}.", entry.id))));
        if is_header {
            if !entry.id.contains('.') {
                if !report.sections.iter().any(|s| s.id == entry.id) {
                    report.sections.push(BenchSection {
                        id: entry.id.clone(),
                        desc: entry.desc.clone(),
                    });
                }
                current_section = Some(entry.id.clone());
            }
            continue;
        }
        let mut check = BenchCheck::new(entry.id.clone(), entry.desc.clone(), entry.result);
        if let Some(section) = &current_section
            && section_of(&entry.id) == *section
        {
            check.section = section.clone();
        }
        check.line = Some(entry.line);
        if !entry.details.is_empty() {
            check.details = Some(entry.details.join("\n"));
        }
        if let Some(text) = remediations.get(&entry.id) {
            match text.split_once(" Remediation Impact: ") {
                Some((fix, impact)) => {
                    check.remediation = Some(fix.trim().to_string());
                    check.remediation_impact = Some(impact.trim().to_string());
                }
                None => check.remediation = Some(text.clone()),
            }
        }
        report.checks.push(check);
    }
    report
}
