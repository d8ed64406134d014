//! Removing terminal escape sequences from a tool's output before it is
//! parsed (`ANSIBLE_FORCE_COLOR`, docker-bench's colours, …).

use std::borrow::Cow;

/// `text` without ANSI escape sequences: colours and other CSI sequences,
/// OSC sequences such as hyperlinks, and lone escapes.
///
/// Text without an escape character is returned as is, without copying.
/// Tabs are kept (the parser behind this drops every other control
/// character but the newline, and a tab separates columns in some tools'
/// output).
///
/// ```
/// use step_core::ansi::strip_ansi;
///
/// assert_eq!(strip_ansi("\u{1b}[1;31mfatal\u{1b}[0m: x"), "fatal: x");
/// assert_eq!(strip_ansi("plain\ttext"), "plain\ttext");
/// ```
pub fn strip_ansi(text: &str) -> Cow<'_, str> {
    if !text.contains('\u{1b}') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for (i, part) in text.split('\t').enumerate() {
        if i > 0 {
            out.push('\t');
        }
        out.push_str(&strip_ansi_escapes::strip_str(part));
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_hyperlinks_and_cursor_moves_are_removed() {
        assert_eq!(strip_ansi("\u{1b}[1;36mab\u{1b}[0m c"), "ab c");
        assert_eq!(
            strip_ansi("\u{1b}]8;;http://x\u{1b}\\link\u{1b}]8;;\u{1b}\\"),
            "link"
        );
        assert_eq!(strip_ansi("\u{1b}[2K\u{1b}[1Gdone"), "done");
        assert_eq!(
            strip_ansi("[\u{1b}[0;33mWARN\u{1b}[0m] 1.1\tx"),
            "[WARN] 1.1\tx"
        );
    }

    #[test]
    fn text_without_escapes_is_not_copied() {
        let text = "no escapes here\n\twith a tab";
        assert!(matches!(strip_ansi(text), Cow::Borrowed(t) if t == text));
        assert_eq!(strip_ansi(""), "");
    }

    #[test]
    fn multi_byte_text_survives() {
        assert_eq!(strip_ansi("\u{1b}[32mgrün ✓\u{1b}[0m"), "grün ✓");
    }
}
