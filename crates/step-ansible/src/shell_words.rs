//! Splitting an `options` string (`-x "name, fqcn" --profile min`) into
//! argv words with POSIX shell quoting rules — without a shell.
//!
//! The seed's steps took extra flags as one string that a shell split. We
//! keep the property but never hand it to a shell: the `shlex` crate groups
//! and escapes with quotes and backslashes exactly as `sh` would, and
//! nothing is expanded (`$HOME`, `*`, `;` stay literal; `$VAR` in properties
//! is expanded by the runner before the step sees them). As in `sh`, a `#`
//! that starts a word starts a comment.

/// Why an options string could not be split: a `'` or `"` was opened and
/// never closed, or the string ends with a lone backslash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unterminated quote or trailing backslash")]
#[non_exhaustive]
pub struct SplitError;

/// Splits `text` into words like a POSIX shell does (quotes and
/// backslashes only; no expansion, no operators).
///
/// ```
/// use step_ansible::shell_words::split;
/// assert_eq!(split(r#"-x 'name, fqcn' --tags "a b" c\ d"#).unwrap(),
///            ["-x", "name, fqcn", "--tags", "a b", "c d"]);
/// ```
pub fn split(text: &str) -> Result<Vec<String>, SplitError> {
    shlex::split(text).ok_or(SplitError)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_words_split_on_any_whitespace() {
        assert_eq!(split("  -t  TAGS\t-v\n").unwrap(), ["-t", "TAGS", "-v"]);
        assert!(split("").unwrap().is_empty());
        assert!(split("   ").unwrap().is_empty());
    }

    #[test]
    fn quotes_group_and_empty_quotes_are_a_word() {
        assert_eq!(split("a 'b c' \"d e\"").unwrap(), ["a", "b c", "d e"]);
        assert_eq!(split("--x='1 2'3").unwrap(), ["--x=1 23"]);
        assert_eq!(split("'' \"\"").unwrap(), ["", ""]);
    }

    #[test]
    fn backslashes_escape_like_sh() {
        assert_eq!(split(r"a\ b").unwrap(), ["a b"]);
        assert_eq!(
            split(r#""a\"b" "c\d" 'e\f'"#).unwrap(),
            [r#"a"b"#, r"c\d", r"e\f"]
        );
        assert_eq!(split("a\\\nb").unwrap(), ["ab"]);
    }

    #[test]
    fn nothing_is_expanded() {
        assert_eq!(
            split("$HOME * ; | `x`").unwrap(),
            ["$HOME", "*", ";", "|", "`x`"]
        );
    }

    #[test]
    fn a_word_starting_with_a_hash_is_a_comment_as_in_sh() {
        assert_eq!(split("-v #all the rest").unwrap(), ["-v"]);
        assert_eq!(split("--tag=a#b").unwrap(), ["--tag=a#b"]);
    }

    #[test]
    fn unterminated_input_is_an_error() {
        assert_eq!(split("'abc"), Err(SplitError));
        assert_eq!(split("\"abc"), Err(SplitError));
        assert_eq!(split("abc\\"), Err(SplitError));
        assert_eq!(
            SplitError.to_string(),
            "unterminated quote or trailing backslash"
        );
    }
}
