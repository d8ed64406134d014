//! Turning the errors ansible prints on stderr (a syntax check that fails,
//! a playbook that cannot be loaded) into findings with a location.
//!
//! These errors have no machine-readable form — no callback sees a playbook
//! that does not parse — so this is the one place that reads ansible's text.
//! It reads only the two stable markers, never colors or layout:
//!
//! * ansible-core 2.19: `[ERROR]: <message>` followed by `Origin: <file>:<line>:<column>`;
//! * ansible-core ≤ 2.18: `ERROR! <message>` followed by
//!   `The error appears to be in '<file>': line <n>, column <m>`.

use std::path::Path;

use step_core::ansi::strip_ansi;
use step_core::{Finding, Location, Severity};

/// The errors in ansible's stderr, each a finding with `id`, severity
/// [`Severity::Error`] and a location when ansible gave one. Paths under
/// `workdir` are shown relative to it.
///
/// ```
/// let stderr = "[ERROR]: YAML parsing failed: did not find expected key.\n\
///               Origin: /src/site.yml:7:8\n\n7  bad: [\n";
/// let findings = step_ansible::diagnostics::parse_errors(stderr, "ansible-syntax",
///     std::path::Path::new("/src"));
/// assert_eq!(findings[0].location.as_ref().unwrap().to_string(), "site.yml:7:8");
/// assert_eq!(findings[0].message, "YAML parsing failed: did not find expected key.");
/// ```
pub fn parse_errors(stderr: &str, id: &str, workdir: &Path) -> Vec<Finding> {
    let mut findings: Vec<Finding> = Vec::new();
    for raw in stderr.lines() {
        let line = strip_ansi(raw);
        let line = line.trim();
        if let Some(message) = line
            .strip_prefix("[ERROR]:")
            .or_else(|| line.strip_prefix("ERROR!"))
        {
            findings.push(Finding::new(id, Severity::Error, message.trim()));
            continue;
        }
        let Some(current) = findings.last_mut() else {
            continue;
        };
        if current.location.is_some() {
            continue;
        }
        if let Some(origin) = line.strip_prefix("Origin:") {
            current.location = parse_origin(origin.trim(), workdir);
        } else if let Some(rest) = line.strip_prefix("The error appears to be in '") {
            current.location = parse_legacy_origin(rest, workdir);
        }
    }
    findings
}

/// `path:line:col`, `path:line` or `path`.
fn parse_origin(text: &str, workdir: &Path) -> Option<Location> {
    if text.is_empty() {
        return None;
    }
    let number = |s: &str| {
        (!s.is_empty() && s.chars().all(|c| c.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    if let Some((head, last)) = text.rsplit_once(':')
        && let Some(last) = number(last)
    {
        if let Some((file, line)) = head.rsplit_once(':')
            && let Some(line) = number(line)
        {
            return Some(Location::at(relative(file, workdir), line, Some(last)));
        }
        return Some(Location::at(relative(head, workdir), last, None));
    }
    Some(Location::file(relative(text, workdir)))
}

/// `/path/site.yml': line 7, column 8, but may …`
fn parse_legacy_origin(rest: &str, workdir: &Path) -> Option<Location> {
    let (file, after) = rest.split_once('\'')?;
    let number_after = |key: &str| -> Option<u32> {
        let start = after.find(key)? + key.len();
        let digits: String = after[start..]
            .trim_start()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    };
    Some(match number_after("line") {
        Some(line) => Location::at(relative(file, workdir), line, number_after("column")),
        None => Location::file(relative(file, workdir)),
    })
}

/// A path relative to the working directory when it is inside it.
pub fn relative(file: &str, workdir: &Path) -> String {
    Path::new(file)
        .strip_prefix(workdir)
        .ok()
        .and_then(|p| p.to_str())
        .filter(|p| !p.is_empty())
        .map_or_else(|| file.to_string(), str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from `ansible-playbook --syntax-check` (ansible-core 2.19).
    const YAML_ERROR: &str = include_str!("../tests/fixtures/captured/syntax-broken.stderr");
    const UNKNOWN_MODULE: &str = include_str!("../tests/fixtures/captured/syntax-broken2.stderr");

    #[test]
    fn yaml_error_has_file_line_and_column() {
        let f = parse_errors(YAML_ERROR, "ansible-syntax", Path::new("/tmp/ans-exp"));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].id, "ansible-syntax");
        assert_eq!(f[0].severity, Severity::Error);
        assert_eq!(f[0].location, Some(Location::at("broken.yml", 7, Some(8))));
        assert!(
            f[0].message.starts_with("YAML parsing failed"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn unknown_module_points_at_the_task() {
        let f = parse_errors(UNKNOWN_MODULE, "ansible-syntax", Path::new("/elsewhere"));
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].location,
            Some(Location::at("/tmp/ans-exp/broken2.yml", 4, Some(7)))
        );
        assert!(f[0].message.contains("no_such_module_xyz"));
    }

    #[test]
    fn legacy_format_and_colors_are_understood() {
        let text = "\u{1b}[0;31mERROR! Syntax Error while loading YAML.\u{1b}[0m\n\n\
            The error appears to be in '/w/site.yml': line 3, column 5, but may\n\
            be elsewhere in the file depending on the exact syntax problem.\n";
        let f = parse_errors(text, "x", Path::new("/w"));
        assert_eq!(f[0].message, "Syntax Error while loading YAML.");
        assert_eq!(f[0].location, Some(Location::at("site.yml", 3, Some(5))));
    }

    #[test]
    fn warnings_are_not_errors_and_origin_without_column_works() {
        let text =
            "[WARNING]: something\n[ERROR]: the role 'x' was not found\nOrigin: /w/site.yml:4\n";
        let f = parse_errors(text, "x", Path::new("/w"));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].location, Some(Location::at("site.yml", 4, None)));
        assert!(parse_errors("", "x", Path::new("/")).is_empty());
    }
}
