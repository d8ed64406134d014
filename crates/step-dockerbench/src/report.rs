//! What a docker-bench-security run found, independent of the log format it
//! was read from: the checks with their results, the sections they belong to,
//! and the score.
//!
//! Both parsers ([`crate::json_log`] and [`crate::text_log`]) produce a
//! [`BenchReport`]; the gate only ever looks at this type.

use std::fmt;

use serde::Serialize;

/// The result docker-bench-security gave a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum BenchResult {
    /// The check passed.
    Pass,
    /// The check failed: what the gate counts.
    Warn,
    /// Informational: the check could not judge (file not found, …) or only reports.
    Info,
    /// A manual check a person has to review.
    Note,
}

impl BenchResult {
    /// Parses `PASS`, `WARN`, `INFO` or `NOTE` (any case).
    pub fn parse(text: &str) -> Option<BenchResult> {
        match text.trim().to_ascii_uppercase().as_str() {
            "PASS" => Some(BenchResult::Pass),
            "WARN" => Some(BenchResult::Warn),
            "INFO" => Some(BenchResult::Info),
            "NOTE" => Some(BenchResult::Note),
            _ => None,
        }
    }

    /// `PASS`, `WARN`, `INFO` or `NOTE`.
    pub fn as_str(self) -> &'static str {
        match self {
            BenchResult::Pass => "PASS",
            BenchResult::Warn => "WARN",
            BenchResult::Info => "INFO",
            BenchResult::Note => "NOTE",
        }
    }
}

impl fmt::Display for BenchResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which of the bench's two logs a report was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// `docker-bench-security.log.json`.
    Json,
    /// `docker-bench-security.log` (the text log, current or 2015 layout).
    Text,
}

impl LogFormat {
    /// `json` or `text`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Json => "json",
            LogFormat::Text => "text",
        }
    }
}

/// A section of the benchmark (`5 - Container Runtime`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BenchSection {
    /// The section id (`5`).
    pub id: String,
    /// Its title (`Container Runtime`); empty when the log did not say.
    pub desc: String,
}

impl BenchSection {
    /// `5 - Container Runtime`, or just `5` without a title.
    pub fn label(&self) -> String {
        if self.desc.is_empty() {
            self.id.clone()
        } else {
            format!("{} - {}", self.id, self.desc)
        }
    }
}

/// One check and its result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BenchCheck {
    /// The check id (`5.4`), without the padding old versions print.
    pub id: String,
    /// What the check ensures (`Ensure that privileged containers are not used (Automated)`).
    pub desc: String,
    /// Its result.
    pub result: BenchResult,
    /// The id of the section it belongs to (`5`).
    pub section: String,
    /// The bench's details (JSON `details`, or the text log's indented `* …` lines joined by newlines).
    pub details: Option<String>,
    /// The items the details list (JSON `items`: containers, images, users).
    pub items: Vec<String>,
    /// How to fix it (JSON `remediation`, or the text log's section B), when the bench printed it (`-p`).
    pub remediation: Option<String>,
    /// What the fix costs (JSON `remediation-impact`).
    pub remediation_impact: Option<String>,
    /// The 1-based line of the check in the text log (text logs only).
    pub line: Option<u32>,
}

impl BenchCheck {
    /// A check with an id, description and result, in the section named by
    /// the first part of its id.
    pub fn new(id: impl Into<String>, desc: impl Into<String>, result: BenchResult) -> Self {
        let id = id.into();
        let section = section_of(&id);
        BenchCheck {
            id,
            desc: desc.into(),
            result,
            section,
            details: None,
            items: Vec::new(),
            remediation: None,
            remediation_impact: None,
            line: None,
        }
    }

    /// `5.4 - Ensure that privileged containers are not used (Automated)`.
    pub fn title(&self) -> String {
        if self.desc.is_empty() {
            self.id.clone()
        } else {
            format!("{} - {}", self.id, self.desc)
        }
    }

    /// Whether the check counts towards the score when the log does not
    /// state one: manual and "Not Scored" checks do not.
    pub fn is_scored(&self) -> bool {
        !(self.desc.contains("(Manual)") || self.desc.contains("(Not Scored)"))
    }
}

/// The section id of a check id: its first dotted part (`5.4` → `5`).
pub fn section_of(id: &str) -> String {
    id.split('.').next().unwrap_or(id).to_string()
}

/// How many checks had each result.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ResultCounts {
    /// PASS results.
    pub pass: u64,
    /// WARN results (ignored ones included).
    pub warn: u64,
    /// INFO results.
    pub info: u64,
    /// NOTE results.
    pub note: u64,
}

impl ResultCounts {
    /// All checks.
    pub fn total(&self) -> u64 {
        self.pass + self.warn + self.info + self.note
    }

    /// Adds one result.
    pub fn add(&mut self, result: BenchResult) {
        match result {
            BenchResult::Pass => self.pass += 1,
            BenchResult::Warn => self.warn += 1,
            BenchResult::Info => self.info += 1,
            BenchResult::Note => self.note += 1,
        }
    }
}

impl fmt::Display for ResultCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} PASS, {} WARN, {} INFO, {} NOTE",
            self.pass, self.warn, self.info, self.note
        )
    }
}

/// Everything one run of the bench reported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BenchReport {
    /// Which log it was read from.
    pub format: LogFormat,
    /// The bench's version, when the log says (JSON `dockerbenchsecurity`).
    pub version: Option<String>,
    /// The sections, in log order.
    pub sections: Vec<BenchSection>,
    /// The checks, in log order.
    pub checks: Vec<BenchCheck>,
    /// The score the log states (JSON `score`, text `[INFO] Score: N`).
    pub logged_score: Option<i64>,
    /// The number of checks the log states (JSON `checks`, text `[INFO] Checks: N`).
    pub logged_checks: Option<u64>,
}

impl BenchReport {
    /// An empty report read from a log of this format.
    pub fn new(format: LogFormat) -> Self {
        BenchReport {
            format,
            version: None,
            sections: Vec::new(),
            checks: Vec::new(),
            logged_score: None,
            logged_checks: None,
        }
    }

    /// How many checks had each result.
    pub fn counts(&self) -> ResultCounts {
        let mut counts = ResultCounts::default();
        for check in &self.checks {
            counts.add(check.result);
        }
        counts
    }

    /// The score: the one the log states, else [`BenchReport::computed_score`].
    pub fn score(&self) -> i64 {
        self.logged_score.unwrap_or_else(|| self.computed_score())
    }

    /// The bench's scoring rule applied to the checks: +1 per scored PASS,
    /// −1 per scored WARN. Which checks the bench scores is not in its logs;
    /// checks marked `(Manual)` or `(Not Scored)` are taken as unscored.
    pub fn computed_score(&self) -> i64 {
        self.checks
            .iter()
            .filter(|c| c.is_scored())
            .map(|c| match c.result {
                BenchResult::Pass => 1,
                BenchResult::Warn => -1,
                _ => 0,
            })
            .sum()
    }

    /// The section with this id; a bare one when the log never named it
    /// (a run limited with `-c check_5_4` prints no section header).
    pub fn section(&self, id: &str) -> BenchSection {
        self.sections
            .iter()
            .find(|s| s.id == id)
            .cloned()
            .unwrap_or_else(|| BenchSection {
                id: id.to_string(),
                desc: String::new(),
            })
    }

    /// The sections that hold at least one check, in log order, with those
    /// the log never named added after them.
    pub fn sections_with_checks(&self) -> Vec<BenchSection> {
        let mut out: Vec<BenchSection> = Vec::new();
        for s in &self.sections {
            if self.checks.iter().any(|c| c.section == s.id) && !out.iter().any(|o| o.id == s.id) {
                out.push(s.clone());
            }
        }
        for c in &self.checks {
            if !out.iter().any(|o| o.id == c.section) {
                out.push(self.section(&c.section));
            }
        }
        out
    }
}

/// Normalizes a check id as users write it: `check_5_4` → `5.4`,
/// ` 5.4 ` → `5.4`.
pub fn normalize_check_id(id: &str) -> String {
    let id = id.trim();
    match id.strip_prefix("check_") {
        Some(rest) => rest.replace('_', "."),
        None => id.to_string(),
    }
}
