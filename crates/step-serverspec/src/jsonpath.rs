//! A small JSON path: `$.marathon_config.master`, `$.list[0]`,
//! `$['key.with.dots']`, `$.list[-1]` (last). The leading `$` is optional.
//! Enough to pick one value out of a response body; no filters or wildcards,
//! so a path always names at most one value.

use std::fmt;

use serde_json::Value;

/// One step of a path.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(i64),
}

/// A JSON path that does not parse: the path and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON path `{path}`: {problem}")]
#[non_exhaustive]
pub struct JsonPathError {
    /// The path as written.
    pub path: String,
    /// What is wrong, and where.
    pub problem: String,
}

/// A parsed JSON path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonPath {
    source: String,
    segments: Vec<Segment>,
}

impl JsonPath {
    /// Parses a path; the error says what is wrong and where.
    pub fn parse(text: &str) -> Result<Self, JsonPathError> {
        let bad = |what: &str| JsonPathError {
            path: text.to_string(),
            problem: what.to_string(),
        };
        let mut segments = Vec::new();
        let rest = text.trim();
        let rest = rest.strip_prefix('$').unwrap_or(rest);
        let chars: Vec<char> = rest.chars().collect();
        let mut i = 0;
        // A path without `$` may start with a bare key.
        let mut expect_key = !rest.starts_with('.') && !rest.starts_with('[') && !rest.is_empty();
        while i < chars.len() || expect_key {
            if expect_key || chars[i] == '.' {
                if !expect_key {
                    i += 1;
                }
                expect_key = false;
                let start = i;
                while i < chars.len() && chars[i] != '.' && chars[i] != '[' {
                    i += 1;
                }
                if start == i {
                    return Err(bad("empty key"));
                }
                segments.push(Segment::Key(chars[start..i].iter().collect()));
            } else if chars[i] == '[' {
                i += 1;
                match chars.get(i) {
                    Some(&q) if q == '\'' || q == '"' => {
                        i += 1;
                        let start = i;
                        while i < chars.len() && chars[i] != q {
                            i += 1;
                        }
                        if i >= chars.len() {
                            return Err(bad("unterminated quoted key"));
                        }
                        segments.push(Segment::Key(chars[start..i].iter().collect()));
                        i += 1;
                    }
                    _ => {
                        let start = i;
                        while i < chars.len() && chars[i] != ']' {
                            i += 1;
                        }
                        let index: String = chars[start..i].iter().collect();
                        let index = index
                            .trim()
                            .parse::<i64>()
                            .map_err(|_| bad(&format!("`[{index}]` is not an index")))?;
                        segments.push(Segment::Index(index));
                    }
                }
                if chars.get(i) != Some(&']') {
                    return Err(bad("missing `]`"));
                }
                i += 1;
            } else {
                return Err(bad(&format!("unexpected `{}`", chars[i])));
            }
        }
        Ok(JsonPath {
            source: text.trim().to_string(),
            segments,
        })
    }

    /// The value at this path, if there is one.
    pub fn select<'a>(&self, root: &'a Value) -> Option<&'a Value> {
        let mut cur = root;
        for seg in &self.segments {
            cur = match (seg, cur) {
                (Segment::Key(k), Value::Object(map)) => map.get(k)?,
                (Segment::Index(i), Value::Array(items)) => {
                    let len = i64::try_from(items.len()).ok()?;
                    let at = if *i < 0 { len + i } else { *i };
                    items.get(usize::try_from(at).ok()?)?
                }
                // `$.list.0` reads naturally too.
                (Segment::Key(k), Value::Array(items)) => items.get(k.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(cur)
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selects_keys_indexes_and_quoted_keys() {
        let doc = json!({"a": {"b": [10, 20, {"c.d": true}]}, "x": 1});
        let sel = |p: &str| JsonPath::parse(p).unwrap().select(&doc).cloned();
        assert_eq!(sel("$.x"), Some(json!(1)));
        assert_eq!(sel("x"), Some(json!(1)));
        assert_eq!(sel("$.a.b[1]"), Some(json!(20)));
        assert_eq!(sel("a.b.0"), Some(json!(10)));
        assert_eq!(sel("$.a.b[-1]['c.d']"), Some(json!(true)));
        assert_eq!(sel("$"), Some(doc.clone()));
        assert_eq!(sel("$.a.nope"), None);
        assert_eq!(sel("$.a.b[9]"), None);
    }

    #[test]
    fn rejects_malformed_paths() {
        for bad in ["$.", "$.a[", "$.a[x]", "$['a", "$a..b"] {
            let err = JsonPath::parse(bad).expect_err(bad);
            assert_eq!(err.path, bad, "the error names the path as written");
        }
    }
}
