//! GitLab CI: collapsible log sections per step.
//!
//! A section is opened by `ESC[0Ksection_start:<unix time>:<name>[collapsed=true]\rESC[0K<header>`
//! and closed by `ESC[0Ksection_end:<unix time>:<name>\rESC[0K`. GitLab
//! shows the header with the section's duration and folds the lines in
//! between. Names may hold letters, digits, `_`, `.` and `-` only.
//! The Code Quality report lives in [`super::codequality`].

/// The escape that clears the line (GitLab's runner hides the marker).
const CLEAR: &str = "\x1b[0K";

/// The seconds since the Unix epoch of an event's RFC 3339 time (0 when it
/// cannot be read: the section still opens and closes).
pub fn unix_time(rfc3339: &str) -> u64 {
    humantime::parse_rfc3339(rfc3339)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

/// A section name from a counter and a label: `step_3_aws_deploy`.
pub fn section_name(index: usize, label: &str) -> String {
    let mut name = format!("step_{index}_");
    let mut last_underscore = true;
    for c in label.chars() {
        if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
            name.push(c);
            last_underscore = false;
        } else if !last_underscore {
            name.push('_');
            last_underscore = true;
        }
    }
    while name.ends_with('_') {
        name.pop();
    }
    name
}

/// The line that opens a section (without newline).
pub fn section_start(time: u64, name: &str, collapsed: bool, header: &str) -> String {
    let options = if collapsed { "[collapsed=true]" } else { "" };
    format!("{CLEAR}section_start:{time}:{name}{options}\r{CLEAR}{header}")
}

/// The line that closes a section (without newline).
pub fn section_end(time: u64, name: &str) -> String {
    format!("{CLEAR}section_end:{time}:{name}\r{CLEAR}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_names_keep_only_allowed_characters() {
        assert_eq!(
            section_name(3, "[aws] deploy: v1.2"),
            "step_3_aws_deploy_v1.2"
        );
    }

    #[test]
    fn markers_have_gitlab_s_shape() {
        assert_eq!(
            section_start(1700000000, "step_1_x", true, "==> x"),
            "\x1b[0Ksection_start:1700000000:step_1_x[collapsed=true]\r\x1b[0K==> x"
        );
        assert_eq!(
            section_end(1700000005, "step_1_x"),
            "\x1b[0Ksection_end:1700000005:step_1_x\r\x1b[0K"
        );
        assert_eq!(unix_time("2025-01-01T00:00:00.000Z"), 1735689600);
    }
}
