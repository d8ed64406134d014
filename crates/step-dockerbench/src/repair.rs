//! Repairing docker-bench-security's JSON log.
//!
//! The bench writes its JSON with `printf "\"%s\""`: values are never
//! escaped (a known upstream bug). A remediation that says `set "icc": false`,
//! a detail holding a tab or a newline, or a path with a backslash makes the
//! file invalid JSON. [`repair_json`] is a small state machine that knows
//! the shape the bench writes and fixes exactly those faults:
//!
//! * a `"` inside a string that cannot end it (what follows is not what may
//!   follow a key, a value or an array item) is escaped;
//! * raw control characters inside strings are escaped;
//! * a backslash that does not start a valid JSON escape is doubled;
//! * a trailing comma before `}` or `]` is dropped (runs limited with
//!   `-c`/`-e` can leave one);
//! * an unterminated string, object or array at the end (a run that was
//!   killed) is closed.
//!
//! Valid JSON passes through unchanged, so the parser only calls this after
//! `serde_json` refused the original text.

/// What a repair changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RepairStats {
    /// Quotes escaped inside strings.
    pub quotes: usize,
    /// Control characters escaped inside strings.
    pub control_chars: usize,
    /// Backslashes doubled.
    pub backslashes: usize,
    /// Trailing commas dropped.
    pub trailing_commas: usize,
    /// Strings, objects and arrays closed at the end of the text.
    pub closed_at_end: usize,
}

impl RepairStats {
    /// Whether anything changed.
    pub fn changed(&self) -> bool {
        *self != RepairStats::default()
    }

    /// "3 quotes, 1 control character escaped" — for a warning.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        let mut push = |n: usize, what: &str| {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        };
        push(self.quotes, "unescaped quote(s)");
        push(self.control_chars, "raw control character(s)");
        push(self.backslashes, "stray backslash(es)");
        push(self.trailing_commas, "trailing comma(s)");
        push(
            self.closed_at_end,
            "unclosed string/object/array(s) at the end",
        );
        if parts.is_empty() {
            "nothing".to_string()
        } else {
            parts.join(", ")
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Container {
    /// An object; `expect_key` is true after `{` and `,`, false after `:`.
    Object {
        expect_key: bool,
    },
    Array,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StringRole {
    Key,
    Value,
    Item,
    TopLevel,
}

const JSON_WS: &[char] = &[' ', '\t', '\n', '\r'];

/// Repairs the faults described in the module docs; returns the new text
/// and what changed.
///
/// ```
/// use step_dockerbench::repair::repair_json;
/// let broken = "{\"remediation\": \"set \"icc\": false\"}";
/// let (fixed, stats) = repair_json(broken);
/// let v: serde_json::Value = serde_json::from_str(&fixed).unwrap();
/// assert_eq!(v["remediation"], "set \"icc\": false");
/// assert_eq!(stats.quotes, 2);
/// ```
pub fn repair_json(input: &str) -> (String, RepairStats) {
    let mut out = String::with_capacity(input.len() + 64);
    let mut stats = RepairStats::default();
    let mut stack: Vec<Container> = Vec::new();
    let mut in_string: Option<StringRole> = None;
    let mut iter = input.char_indices().peekable();

    while let Some((i, c)) = iter.next() {
        if let Some(role) = in_string {
            match c {
                '\\' => match iter.peek().map(|&(_, n)| n) {
                    Some('"' | '\\' | '/' | 'b' | 'f' | 'n' | 'r' | 't') => {
                        out.push('\\');
                        if let Some((_, n)) = iter.next() {
                            out.push(n);
                        }
                    }
                    Some('u') if is_unicode_escape(&input[i + 1..]) => {
                        out.push('\\');
                    }
                    _ => {
                        out.push_str("\\\\");
                        stats.backslashes += 1;
                    }
                },
                '"' => {
                    if closes_string(role, &input[i + 1..]) {
                        out.push('"');
                        in_string = None;
                    } else {
                        out.push_str("\\\"");
                        stats.quotes += 1;
                    }
                }
                c if (c as u32) < 0x20 => {
                    stats.control_chars += 1;
                    match c {
                        '\n' => out.push_str("\\n"),
                        '\r' => out.push_str("\\r"),
                        '\t' => out.push_str("\\t"),
                        other => out.push_str(&format!("\\u{:04x}", other as u32)),
                    }
                }
                c => out.push(c),
            }
            continue;
        }
        match c {
            '"' => {
                let role = match stack.last() {
                    Some(Container::Object { expect_key: true }) => StringRole::Key,
                    Some(Container::Object { expect_key: false }) => StringRole::Value,
                    Some(Container::Array) => StringRole::Item,
                    None => StringRole::TopLevel,
                };
                in_string = Some(role);
                out.push('"');
            }
            '{' => {
                stack.push(Container::Object { expect_key: true });
                out.push('{');
            }
            '[' => {
                stack.push(Container::Array);
                out.push('[');
            }
            '}' | ']' => {
                if drop_trailing_comma(&mut out) {
                    stats.trailing_commas += 1;
                }
                stack.pop();
                out.push(c);
            }
            ':' => {
                if let Some(Container::Object { expect_key }) = stack.last_mut() {
                    *expect_key = false;
                }
                out.push(':');
            }
            ',' => {
                if let Some(Container::Object { expect_key }) = stack.last_mut() {
                    *expect_key = true;
                }
                out.push(',');
            }
            c => out.push(c),
        }
    }

    if in_string.is_some() {
        out.push('"');
        stats.closed_at_end += 1;
    }
    while let Some(open) = stack.pop() {
        if drop_trailing_comma(&mut out) {
            stats.trailing_commas += 1;
        }
        // A key without a value cannot be closed into valid JSON; leave it
        // for serde_json to reject.
        out.push(match open {
            Container::Object { .. } => '}',
            Container::Array => ']',
        });
        stats.closed_at_end += 1;
    }
    (out, stats)
}

/// `rest` starts at the `u` after a backslash; a valid escape is `u` plus
/// four hex digits.
fn is_unicode_escape(rest: &str) -> bool {
    let b = rest.as_bytes();
    b.len() >= 5 && b[0] == b'u' && b[1..5].iter().all(u8::is_ascii_hexdigit)
}

/// Whether a `"` inside a string of this role ends it, judged by what
/// follows it (`rest`).
fn closes_string(role: StringRole, rest: &str) -> bool {
    let r = rest.trim_start_matches(JSON_WS);
    let Some(next) = r.chars().next() else {
        return true;
    };
    let after_comma = || r[1..].trim_start_matches(JSON_WS);
    match role {
        StringRole::Key => next == ':',
        StringRole::Value => match next {
            '}' => true,
            ',' => starts_with_key(after_comma()),
            _ => false,
        },
        StringRole::Item => match next {
            ']' => true,
            ',' => {
                let a = after_comma();
                a.starts_with('"') || a.starts_with('{') || a.starts_with('[') || a.is_empty()
            }
            _ => false,
        },
        StringRole::TopLevel => matches!(next, ',' | ':' | '}' | ']'),
    }
}

/// Whether `s` starts with an object key: `"name"` followed by `:`, or a
/// `}` (a trailing comma before the end of the object).
fn starts_with_key(s: &str) -> bool {
    if s.starts_with('}') || s.is_empty() {
        return true;
    }
    let Some(body) = s.strip_prefix('"') else {
        return false;
    };
    for (i, c) in body.char_indices() {
        match c {
            '"' => return body[i + 1..].trim_start_matches(JSON_WS).starts_with(':'),
            '\\' => return false,
            c if (c as u32) < 0x20 => return false,
            _ => {}
        }
    }
    false
}

/// Drops a `,` that is the last non-space character of `out`.
fn drop_trailing_comma(out: &mut String) -> bool {
    let trimmed = out.trim_end_matches(JSON_WS);
    if trimmed.ends_with(',') {
        let comma = trimmed.len() - 1;
        out.remove(comma);
        true
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn fix(s: &str) -> Value {
        let (fixed, _) = repair_json(s);
        match serde_json::from_str(&fixed) {
            Ok(v) => v,
            Err(e) => panic!("repaired text is not JSON ({e}):\n{fixed}"),
        }
    }

    #[test]
    fn valid_json_is_unchanged() {
        let s = r#"{"a": "x \"y\" \\ \u00e9", "b": [1, "2", {"c": null}], "d": true}"#;
        let (fixed, stats) = repair_json(s);
        assert_eq!(fixed, s);
        assert!(!stats.changed(), "{stats:?}");
    }

    #[test]
    fn quotes_inside_values_are_escaped() {
        let v = fix(r#"{"desc": "Ensure "a", "b" are set", "result": "WARN"}"#);
        assert_eq!(v["desc"], r#"Ensure "a", "b" are set"#);
        assert_eq!(v["result"], "WARN");
    }

    #[test]
    fn quote_at_end_of_value_before_closing_brace() {
        let v = fix("{\"details\": \"users: \"root\"\"\n}");
        assert_eq!(v["details"], "users: \"root\"");
    }

    #[test]
    fn quotes_inside_array_items_are_escaped() {
        let v = fix(r#"{"items": ["a"b", "c"]}"#);
        assert_eq!(v["items"][0], "a\"b");
        assert_eq!(v["items"][1], "c");
    }

    #[test]
    fn control_characters_and_bad_backslashes_are_escaped() {
        let v =
            fix("{\"details\": \"a\tb\nc\u{1}\", \"remediation\": \"grep -E '^\\s*x' \\\\ ok\"}");
        assert_eq!(v["details"], "a\tb\nc\u{1}");
        assert_eq!(v["remediation"], "grep -E '^\\s*x' \\ ok");
    }

    #[test]
    fn trailing_commas_and_truncation_are_fixed() {
        let v = fix(
            "{\"tests\": [{\"id\": \"1\", \"results\": [{\"id\": \"1.1\", \"result\": \"WARN\"},],},",
        );
        assert_eq!(v["tests"][0]["results"][0]["result"], "WARN");
        let v = fix("{\"tests\": [{\"id\": \"1\", \"desc\": \"Host Conf");
        assert_eq!(v["tests"][0]["desc"], "Host Conf");
    }

    #[test]
    fn garbage_stays_garbage() {
        let (fixed, _) = repair_json("this is not json");
        assert!(serde_json::from_str::<Value>(&fixed).is_err());
    }
}
