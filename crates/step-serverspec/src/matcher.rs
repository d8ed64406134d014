//! Matchers: how a spec says what a value should be (`eq`, `match`,
//! `contain`, `not`, `gt`/`lt`/`ge`/`le`, a JSON `path`), how they read in a
//! check's description ("should match /zk:/"), and how they judge an actual
//! value, with a message that shows expected and actual when they do not hold.
//!
//! In YAML a matcher is either a plain value (meaning `eq`) or a mapping of
//! matcher keys; several keys in one mapping must all hold. The matcher is
//! deserialized by hand so that every error keeps serde-saphyr's line and
//! column.

use std::fmt;

use regex::Regex;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::jsonpath::JsonPath;

/// Longest rendering of an actual value in a failure message.
const MAX_SHOWN: usize = 400;

/// What a value should be.
#[derive(Clone, Debug)]
pub enum Matcher {
    /// Equal to this value (numbers compare numerically, also against
    /// numeric strings; other values compare by their text).
    Eq(Value),
    /// A regular expression that must find a match in the value's text.
    Match(Pattern),
    /// A substring of a text value, an element of a list, or a key of a map.
    Contain(Value),
    /// The inner matcher must not hold.
    Not(Box<Matcher>),
    /// Greater than (numeric).
    Gt(f64),
    /// Less than (numeric).
    Lt(f64),
    /// Greater than or equal (numeric).
    Ge(f64),
    /// Less than or equal (numeric).
    Le(f64),
    /// The value (JSON text, or already structured) has a value at this JSON
    /// path, which the inner matcher (when given) must accept.
    Path(JsonPath, Option<Box<Matcher>>),
    /// Every one of these must hold.
    All(Vec<Matcher>),
}

/// A compiled regular expression that remembers its source.
#[derive(Clone, Debug)]
pub struct Pattern {
    source: String,
    regex: Regex,
}

impl Pattern {
    /// Compiles a pattern.
    pub fn new(source: &str) -> Result<Self, PatternError> {
        Regex::new(source)
            .map(|regex| Pattern {
                source: source.to_string(),
                regex,
            })
            .map_err(|error| PatternError {
                pattern: source.to_string(),
                error,
            })
    }

    /// The pattern's text.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

/// A regular expression that does not compile.
#[derive(Debug, thiserror::Error)]
#[error("invalid regular expression `{pattern}`: {error}")]
#[non_exhaustive]
pub struct PatternError {
    /// The pattern as written.
    pub pattern: String,
    /// What the regex crate says about it.
    #[source]
    pub error: regex::Error,
}

/// Why a matcher did not hold: the expectation and the actual value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// What was expected ("eq \"0644\"").
    pub expected: String,
    /// What was there, shown readably (long values are cut).
    pub actual: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expected: {}\n  actual: {}", self.expected, self.actual)
    }
}

impl Matcher {
    /// `eq` a value.
    pub fn eq(value: impl Into<Value>) -> Self {
        Matcher::Eq(value.into())
    }

    /// The matcher as it reads after "should" ("eq 0", "match /x/", "not contain \"a\"").
    pub fn describe(&self) -> String {
        match self {
            Matcher::Eq(v) => format!("eq {}", show_expected(v)),
            Matcher::Match(p) => format!("match /{}/", p.as_str()),
            Matcher::Contain(v) => format!("contain {}", show_expected(v)),
            Matcher::Not(inner) => format!("not {}", inner.describe()),
            Matcher::Gt(n) => format!("be > {}", show_number(*n)),
            Matcher::Lt(n) => format!("be < {}", show_number(*n)),
            Matcher::Ge(n) => format!("be >= {}", show_number(*n)),
            Matcher::Le(n) => format!("be <= {}", show_number(*n)),
            Matcher::Path(path, None) => format!("have {path}"),
            Matcher::Path(path, Some(inner)) => {
                format!("have {path} that should {}", inner.describe())
            }
            Matcher::All(all) => all
                .iter()
                .map(Matcher::describe)
                .collect::<Vec<_>>()
                .join(" and "),
        }
    }

    /// Judges `actual`. `Err` says what was expected and what was there.
    pub fn check(&self, actual: &Value) -> Result<(), Mismatch> {
        if self.holds(actual)? {
            Ok(())
        } else {
            Err(Mismatch {
                expected: self.describe(),
                actual: show_actual(actual),
            })
        }
    }

    /// Whether the matcher holds; `Err` for a mismatch whose message is more
    /// specific than "expected X, actual Y" (a JSON path that is missing).
    fn holds(&self, actual: &Value) -> Result<bool, Mismatch> {
        Ok(match self {
            Matcher::Eq(expected) => values_equal(expected, actual),
            Matcher::Match(p) => p.regex.is_match(&as_text(actual)),
            Matcher::Contain(expected) => match actual {
                Value::Array(items) => items.iter().any(|i| values_equal(expected, i)),
                Value::Object(map) => map.contains_key(as_text(expected).as_str()),
                other => as_text(other).contains(as_text(expected).as_str()),
            },
            Matcher::Not(inner) => !inner.holds(actual).unwrap_or(false),
            Matcher::Gt(n) => as_number(actual).is_some_and(|a| a > *n),
            Matcher::Lt(n) => as_number(actual).is_some_and(|a| a < *n),
            Matcher::Ge(n) => as_number(actual).is_some_and(|a| a >= *n),
            Matcher::Le(n) => as_number(actual).is_some_and(|a| a <= *n),
            Matcher::Path(path, inner) => {
                let parsed;
                let doc = match actual {
                    Value::String(text) => match serde_json::from_str::<Value>(text) {
                        Ok(v) => {
                            parsed = v;
                            &parsed
                        }
                        Err(e) => {
                            return Err(Mismatch {
                                expected: self.describe(),
                                actual: format!("not JSON ({e}): {}", show_actual(actual)),
                            });
                        }
                    },
                    other => other,
                };
                let Some(found) = path.select(doc) else {
                    return Err(Mismatch {
                        expected: self.describe(),
                        actual: format!("nothing at {path} in {}", show_actual(doc)),
                    });
                };
                match inner {
                    None => true,
                    Some(inner) => {
                        inner.check(found).map_err(|m| Mismatch {
                            expected: format!("{path} to {}", m.expected),
                            actual: m.actual,
                        })?;
                        true
                    }
                }
            }
            Matcher::All(all) => {
                for m in all {
                    m.check(actual)?;
                }
                true
            }
        })
    }

    /// Whether this matcher is a plain `eq` of a boolean, and which.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Matcher::Eq(Value::Bool(b)) => Some(*b),
            _ => None,
        }
    }
}

/// Equality with the coercions a spec author expects: `mode: 644` equals
/// `"644"`, `exit_status: "0"` equals `0`, `1.0` equals `1`.
pub fn values_equal(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Number(_), _) | (_, Value::Number(_)) => {
            match (as_number(expected), as_number(actual)) {
                (Some(a), Some(b)) => a == b,
                _ => as_text(expected) == as_text(actual),
            }
        }
        (Value::String(a), Value::String(b)) => a == b,
        (Value::Bool(a), Value::String(b)) | (Value::String(b), Value::Bool(a)) => {
            b == if *a { "true" } else { "false" }
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| values_equal(x, y))
        }
        (a, b) => a == b,
    }
}

/// The text of a value: strings as they are, everything else as JSON.
pub fn as_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn as_number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        Value::Bool(_) | Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

fn show_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

/// An expected value as it reads in a description: numbers and booleans
/// bare, text in quotes.
pub fn show_expected(value: &Value) -> String {
    match value {
        Value::Number(n) => n.as_f64().map(show_number).unwrap_or_else(|| n.to_string()),
        other => other.to_string(),
    }
}

/// An actual value for a failure message: quoted text, cut when long.
pub fn show_actual(value: &Value) -> String {
    let text = match value {
        Value::Number(n) => n.as_f64().map(show_number).unwrap_or_else(|| n.to_string()),
        other => other.to_string(),
    };
    cut(&text, MAX_SHOWN)
}

/// Cuts `text` to about `max` bytes on a character boundary, saying how much was left out.
pub fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &text[..end], text.len())
}

const MATCHER_KEYS: &[&str] = &[
    "eq", "match", "contain", "not", "gt", "lt", "ge", "le", "path",
];

impl<'de> Deserialize<'de> for Matcher {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(MatcherVisitor)
    }
}

struct MatcherVisitor;

impl<'de> Visitor<'de> for MatcherVisitor {
    type Value = Matcher;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value, or a mapping with one or more of eq, match, contain, not, gt, lt, ge, le, path")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Matcher, E> {
        Ok(Matcher::Eq(Value::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Matcher, E> {
        Ok(Matcher::Eq(Value::from(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Matcher, E> {
        Ok(Matcher::Eq(Value::from(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Matcher, E> {
        Ok(Matcher::Eq(Value::from(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Matcher, E> {
        Ok(Matcher::Eq(Value::String(v.to_string())))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Matcher, E> {
        Ok(Matcher::Eq(Value::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<Matcher, E> {
        Ok(Matcher::Eq(Value::Null))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Matcher, D::Error> {
        Matcher::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Matcher, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Value>()? {
            items.push(item);
        }
        Ok(Matcher::Eq(Value::Array(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Matcher, A::Error> {
        let mut all = Vec::new();
        let mut path: Option<JsonPath> = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "eq" => all.push(Matcher::Eq(map.next_value::<Value>()?)),
                "match" => {
                    let source = map.next_value::<String>()?;
                    all.push(Matcher::Match(
                        Pattern::new(&source).map_err(de::Error::custom)?,
                    ));
                }
                "contain" => all.push(Matcher::Contain(map.next_value::<Value>()?)),
                "not" => all.push(Matcher::Not(Box::new(map.next_value::<Matcher>()?))),
                "gt" => all.push(Matcher::Gt(map.next_value::<f64>()?)),
                "lt" => all.push(Matcher::Lt(map.next_value::<f64>()?)),
                "ge" => all.push(Matcher::Ge(map.next_value::<f64>()?)),
                "le" => all.push(Matcher::Le(map.next_value::<f64>()?)),
                "path" => {
                    let text = map.next_value::<String>()?;
                    path = Some(JsonPath::parse(&text).map_err(de::Error::custom)?);
                }
                other => return Err(de::Error::unknown_field(other, MATCHER_KEYS)),
            }
        }
        let inner = match all.len() {
            0 => None,
            1 => all.pop(),
            _ => Some(Matcher::All(all)),
        };
        match (path, inner) {
            (Some(path), inner) => Ok(Matcher::Path(path, inner.map(Box::new))),
            (None, Some(m)) => Ok(m),
            (None, None) => Err(de::Error::custom(
                "empty matcher: give a value or one of eq, match, contain, not, gt, lt, ge, le, path",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(yaml: &str) -> Matcher {
        serde_saphyr::from_str::<Matcher>(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"))
    }

    #[test]
    fn plain_values_mean_eq_with_numeric_coercion() {
        assert!(m("0").check(&json!(0)).is_ok());
        assert!(m("0").check(&json!("0")).is_ok());
        assert!(m("'0644'").check(&json!("0644")).is_ok());
        assert!(m("true").check(&json!(true)).is_ok());
        let err = m("200").check(&json!(404)).unwrap_err();
        assert_eq!(err.expected, "eq 200");
        assert_eq!(err.actual, "404");
    }

    #[test]
    fn match_contain_not_and_comparisons() {
        assert!(m("{match: '^zk://'}").check(&json!("zk://a/mesos")).is_ok());
        assert!(m("{match: '^zk://'}").check(&json!("http://")).is_err());
        assert!(m("{contain: b}").check(&json!("abc")).is_ok());
        assert!(
            m("{contain: docker}")
                .check(&json!(["root", "docker"]))
                .is_ok()
        );
        assert!(m("{not: {contain: x}}").check(&json!("abc")).is_ok());
        assert!(m("{not: 1}").check(&json!(1)).is_err());
        assert!(m("{gt: 1, lt: 5}").check(&json!(3)).is_ok());
        let err = m("{gt: 1, lt: 5}").check(&json!(7)).unwrap_err();
        assert_eq!(err.expected, "be < 5");
        assert!(m("{ge: 3}").check(&json!("3")).is_ok());
        assert!(m("{le: 3}").check(&json!("x")).is_err());
    }

    #[test]
    fn json_path_applies_the_rest_to_the_selected_value() {
        let body =
            json!(r#"{"marathon_config":{"master":"zk://a:2181,b:2181/mesos"},"list":[1,2]}"#);
        assert!(
            m("{path: $.marathon_config.master, eq: 'zk://a:2181,b:2181/mesos'}")
                .check(&body)
                .is_ok()
        );
        assert!(m("{path: '$.list[1]', eq: 2}").check(&body).is_ok());
        assert!(m("{path: $.list}").check(&body).is_ok());
        let err = m("{path: $.marathon_config.master, eq: zk://c/mesos}")
            .check(&body)
            .unwrap_err();
        assert_eq!(
            err.expected,
            "$.marathon_config.master to eq \"zk://c/mesos\""
        );
        assert_eq!(err.actual, "\"zk://a:2181,b:2181/mesos\"");
        let err = m("{path: $.nope}").check(&body).unwrap_err();
        assert!(err.actual.starts_with("nothing at $.nope"), "{err}");
        let err = m("{path: $.a}").check(&json!("not json")).unwrap_err();
        assert!(err.actual.starts_with("not JSON"), "{err}");
    }

    #[test]
    fn bad_matchers_are_errors_with_positions() {
        let err = serde_saphyr::from_str::<Matcher>("{match: '('}").unwrap_err();
        assert!(
            err.to_string().contains("invalid regular expression"),
            "{err}"
        );
        let err = serde_saphyr::from_str::<Matcher>("{equals: 1}").unwrap_err();
        assert!(err.to_string().contains("unknown field `equals`"), "{err}");
        assert!(err.location().is_some());
    }

    #[test]
    fn long_actual_values_are_cut() {
        let long = "x".repeat(2000);
        let err = m("short").check(&json!(long)).unwrap_err();
        assert!(err.actual.len() < 600);
        assert!(err.actual.contains("2002 bytes in all"));
    }
}
