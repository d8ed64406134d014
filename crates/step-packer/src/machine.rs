//! Packer's machine-readable output (`packer -machine-readable …`).
//!
//! Every line is `timestamp,target,type,data…`. Packer escapes the data
//! fields so the line stays splittable: a comma becomes `%!(PACKER_COMMA)`,
//! a newline a literal `\n` and a carriage return a literal `\r`. It does
//! not escape backslashes, so a message that itself contained the two
//! characters `\n` reads back as a newline; nothing can tell them apart.
//!
//! ```
//! use step_packer::machine::{parse_line, MachineLine};
//!
//! let line = parse_line(r"1795680962,,ui,message,    first: hello%!(PACKER_COMMA) world").unwrap();
//! assert_eq!(line.kind, "ui");
//! assert_eq!(line.ui(), Some(("message", "    first: hello, world")));
//! assert!(parse_line("panic: runtime error").is_none());
//! ```

/// One machine-readable line, its data fields decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineLine {
    /// Unix time the line was written.
    pub timestamp: u64,
    /// The build it belongs to (empty for messages of the whole run).
    pub target: String,
    /// The message type: `ui`, `artifact`, `artifact-count`, `error`, `error-count`, …
    pub kind: String,
    /// The data fields, decoded.
    pub data: Vec<String>,
}

impl MachineLine {
    /// For a `ui` line: its level (`say`, `message`, `error`) and text.
    pub fn ui(&self) -> Option<(&str, &str)> {
        if self.kind != "ui" {
            return None;
        }
        let level = self.data.first()?;
        let text = self.data.get(1).map(String::as_str).unwrap_or_default();
        Some((level.as_str(), text))
    }

    /// The data field at `index`, or `""`.
    pub fn field(&self, index: usize) -> &str {
        self.data.get(index).map(String::as_str).unwrap_or_default()
    }
}

/// Decodes one data field: `%!(PACKER_COMMA)` → `,`, `\n` → newline, `\r` → carriage return.
pub fn decode(field: &str) -> String {
    field
        .replace("%!(PACKER_COMMA)", ",")
        .replace("\\n", "\n")
        .replace("\\r", "\r")
}

/// Parses one line of machine-readable output; `None` for anything else
/// (a plugin's plain stderr, a Go panic), which callers show as it is.
pub fn parse_line(line: &str) -> Option<MachineLine> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut fields = line.split(',');
    let timestamp = fields.next()?;
    if timestamp.is_empty() || !timestamp.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let timestamp = timestamp.parse().ok()?;
    let target = fields.next()?.to_string();
    let kind = fields.next()?;
    if kind.is_empty()
        || !kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        return None;
    }
    Some(MachineLine {
        timestamp,
        target,
        kind: kind.to_string(),
        data: fields.map(decode).collect(),
    })
}

/// Parses every machine-readable line of a text, skipping the others.
pub fn parse_lines(text: &str) -> Vec<MachineLine> {
    text.lines().filter_map(parse_line).collect()
}

/// The text of a `ui` line as a person should read it: decoded, without
/// the blank lines packer puts around section headers. `None` when nothing
/// is left.
pub fn readable_ui_text(text: &str) -> Option<String> {
    let trimmed = text.trim_matches(|c| c == '\n' || c == '\r');
    if trimmed.trim().is_empty() {
        None
    } else {
        Some(trimmed.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commas_and_newlines_are_decoded() {
        let l =
            parse_line(r"1795680962,,ui,say,\n==> Wait completed after 12 ms%!(PACKER_COMMA) ok")
                .unwrap();
        assert_eq!(l.timestamp, 1_795_680_962);
        assert_eq!(l.target, "");
        assert_eq!(
            l.ui(),
            Some(("say", "\n==> Wait completed after 12 ms, ok"))
        );
    }

    #[test]
    fn artifact_lines_keep_their_fields() {
        let l = parse_line("1795680962,second,artifact,1,file,0,image-second.raw").unwrap();
        assert_eq!(l.target, "second");
        assert_eq!(l.kind, "artifact");
        assert_eq!(l.data, vec!["1", "file", "0", "image-second.raw"]);
        assert_eq!(l.ui(), None);
        // An empty trailing field (an artifact without id) stays a field.
        let l = parse_line("1795680962,img,artifact,1,id,").unwrap();
        assert_eq!(l.data, vec!["1", "id", ""]);
    }

    #[test]
    fn plain_text_is_not_machine_readable() {
        for line in [
            "",
            "panic: runtime error: index out of range",
            "Error: Failed to prepare build",
            "12,ab",
            "2021-01-01T00:00:00Z,,ui,say,x",
            "123,target,Not A Type,x",
        ] {
            assert!(parse_line(line).is_none(), "{line:?}");
        }
    }

    #[test]
    fn every_line_of_a_captured_build_parses() {
        let text = include_str!("../tests/fixtures/output/build-null-artifacts.txt");
        let lines = parse_lines(text);
        assert_eq!(lines.len(), text.lines().count());
        assert!(
            lines
                .iter()
                .any(|l| l.ui() == Some(("message", "    first: hello, world")))
        );
    }

    #[test]
    fn readable_text_drops_surrounding_blank_lines() {
        assert_eq!(
            readable_ui_text("\n==> Builds finished.\n").as_deref(),
            Some("==> Builds finished.")
        );
        assert_eq!(readable_ui_text("\n\n"), None);
        assert_eq!(readable_ui_text("a\nb").as_deref(), Some("a\nb"));
    }
}
