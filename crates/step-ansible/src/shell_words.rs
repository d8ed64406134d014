//! Splitting an `options` string (`-x "name, fqcn" --profile min`) into
//! argv words with POSIX shell quoting rules — without a shell.
//!
//! The seed's steps took extra flags as one string that a shell split. We
//! keep the property but never hand it to a shell: quotes and backslashes
//! group and escape exactly as `sh` would, and nothing is expanded (`$HOME`,
//! `*`, `;` stay literal; `$VAR` in properties is expanded by the runner
//! before the step sees them).

/// Why an options string could not be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    /// A `'` or `"` was opened and never closed.
    #[error("unterminated {0} quote")]
    UnterminatedQuote(&'static str),
    /// The string ends with a lone backslash.
    #[error("trailing backslash")]
    TrailingBackslash,
}

/// Splits `text` into words like a POSIX shell does (quotes and
/// backslashes only; no expansion, no operators).
///
/// ```
/// use step_ansible::shell_words::split;
/// assert_eq!(split(r#"-x 'name, fqcn' --tags "a b" c\ d"#).unwrap(),
///            ["-x", "name, fqcn", "--tags", "a b", "c d"]);
/// ```
pub fn split(text: &str) -> Result<Vec<String>, SplitError> {
    let mut words = Vec::new();
    let mut word = String::new();
    // Whether a word has started: `''` is an empty word, not nothing.
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(SplitError::UnterminatedQuote("single")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        // Inside double quotes a backslash escapes only these.
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(SplitError::UnterminatedQuote("double")),
                        },
                        Some(c) => word.push(c),
                        None => return Err(SplitError::UnterminatedQuote("double")),
                    }
                }
            }
            '\\' => match chars.next() {
                // A backslash-newline is a line continuation.
                Some('\n') => {}
                Some(c) => {
                    in_word = true;
                    word.push(c);
                }
                None => return Err(SplitError::TrailingBackslash),
            },
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
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
    fn unterminated_input_is_an_error() {
        assert_eq!(split("'abc"), Err(SplitError::UnterminatedQuote("single")));
        assert_eq!(split("\"abc"), Err(SplitError::UnterminatedQuote("double")));
        assert_eq!(split("abc\\"), Err(SplitError::TrailingBackslash));
    }
}
