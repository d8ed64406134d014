//! rspec matchers: how each describes itself in example names (rspec's
//! generated descriptions, serverspec's custom ones) and how it decides a
//! verdict, on a plain value (`eq`, `match`, `include`, …) or on a
//! serverspec resource (predicates such as `be_running`, `have_uid 0`).

use super::host::Host;
use super::value::{RubyRegex, Value, english_list};

/// An rspec matcher value.
#[derive(Clone, Debug)]
pub enum Matcher {
    /// A predicate (`be_running`, `have_uid 0`, `contain 'x'`, `exist`):
    /// the word as written, its arguments and chained options.
    Predicate {
        /// The matcher's name as written (`be_running`).
        word: String,
        /// Its arguments.
        args: Vec<Value>,
        /// Chained calls (`with_version("1")`), in order.
        chains: Vec<(String, Vec<Value>)>,
    },
    /// `eq`, `eql`, `equal`.
    Eq(&'static str, Value),
    /// `match`.
    Match(Value),
    /// `include`, `start_with`, `end_with`.
    Collection(&'static str, Vec<Value>),
    /// `be > x` and friends.
    Compare(String, Value),
    /// `be_within(delta).of(x)`.
    Within(Value, Option<Value>),
    /// `be_truthy`, `be_falsey`, `be_nil`.
    Truth(&'static str),
}

/// A matcher's verdict that could not be reached.
#[derive(Clone, Debug)]
pub enum Failure {
    /// The matcher did not match; the message says why.
    Mismatch(String),
    /// No native answer (the construct is named).
    Unsupported(String),
    /// A Ruby error while matching (rspec reports the example as failed).
    Error(String),
}

/// Serverspec's own matchers that describe their chains.
const SERVERSPEC_DESCRIBED: &[&str] = &[
    "be_running",
    "be_enabled",
    "be_installed",
    "be_listening",
    "have_rule",
];

impl Matcher {
    /// rspec's description of the matcher (`be installed with version "1"`).
    pub fn description(&self) -> String {
        match self {
            Matcher::Predicate {
                word, args, chains, ..
            } => {
                let chain = |c: &str| {
                    chains
                        .iter()
                        .find(|(n, _)| n == c)
                        .and_then(|(_, a)| a.first())
                };
                if SERVERSPEC_DESCRIBED.contains(&word.as_str()) {
                    let mut m = word.replace('_', " ");
                    match word.as_str() {
                        "be_running" => {
                            if let Some(u) = chain("under") {
                                m += &format!(" under {}", u.to_s());
                            }
                        }
                        "be_enabled" => {
                            if let Some(u) = chain("under") {
                                m += &format!(" under {}", u.to_s());
                            }
                            if let Some(l) = chain("with_level") {
                                m += &format!(" with level {}", l.to_s());
                            }
                        }
                        "be_installed" => {
                            if let Some(p) = chain("by") {
                                m += &format!(" by \"{}\"", p.to_s());
                            }
                            if let Some(v) = chain("with_version") {
                                m += &format!(" with version \"{}\"", v.to_s());
                            }
                        }
                        "be_listening" => {
                            if let Some(a) = chain("on") {
                                m += &format!(" on {}", a.to_s());
                            }
                            if let Some(w) = chain("with") {
                                m += &format!(" with {}", w.to_s());
                            }
                        }
                        _ => {
                            m = format!(
                                "have rule \"{}\"",
                                args.first().map(Value::to_s).unwrap_or_default()
                            );
                            let t = chain("with_table");
                            let c = chain("with_chain");
                            if let Some(t) = t {
                                m += &format!(" with table {}", t.to_s());
                            }
                            if t.is_some() && c.is_some() {
                                m += " and";
                            }
                            if let Some(c) = c {
                                m += &format!(" with chain {}", c.to_s());
                            }
                        }
                    }
                    return m;
                }
                format!("{}{}", word.replace('_', " "), english_list(args))
            }
            Matcher::Eq(word, v) => format!("{word} {}", v.inspect()),
            Matcher::Match(v) => format!("match {}", v.inspect()),
            Matcher::Collection(word, items) => {
                format!("{}{}", word.replace('_', " "), english_list(items))
            }
            Matcher::Compare(op, v) => format!("be {op} {}", v.inspect()),
            Matcher::Within(d, of) => match of {
                Some(of) => format!("be within {} of {}", d.inspect(), of.inspect()),
                None => format!("be within {}", d.inspect()),
            },
            Matcher::Truth(word) => format!("be {word}"),
        }
    }

    /// A copy with a chained call added; `None` when the matcher takes no chains.
    pub fn chain(&self, name: &str, args: Vec<Value>) -> Option<Matcher> {
        match self {
            Matcher::Predicate {
                word,
                args: a,
                chains,
            } => {
                let mut chains = chains.clone();
                chains.push((name.to_string(), args));
                Some(Matcher::Predicate {
                    word: word.clone(),
                    args: a.clone(),
                    chains,
                })
            }
            Matcher::Within(d, None) if name == "of" => {
                Some(Matcher::Within(d.clone(), args.into_iter().next()))
            }
            _ => None,
        }
    }

    /// Whether `actual` matches.
    pub fn matches(&self, host: &Host, actual: &Value) -> Result<bool, Failure> {
        match self {
            Matcher::Predicate {
                word, args, chains, ..
            } => match actual {
                Value::Resource(r) => {
                    let name = word.strip_prefix("be_").unwrap_or(word);
                    r.predicate(host, name, args, chains)
                        .map_err(Failure::Unsupported)
                }
                other => value_predicate(word, other),
            },
            Matcher::Eq(_, expected) => Ok(expected.equals(actual)),
            Matcher::Match(expected) => {
                let re = match expected {
                    Value::Regex(r) => r.clone(),
                    Value::Str(s) => {
                        RubyRegex::new(s, false, false, false).map_err(Failure::Unsupported)?
                    }
                    other => {
                        return Err(Failure::Unsupported(format!(
                            "`match` with a {}",
                            other.class_name()
                        )));
                    }
                };
                match actual {
                    Value::Str(s) | Value::Sym(s) => Ok(re.compiled.is_match(s)),
                    Value::Nil => Err(Failure::Error(
                        "undefined method `match' for nil:NilClass".into(),
                    )),
                    other => Err(Failure::Unsupported(format!(
                        "`match` on a {}",
                        other.class_name()
                    ))),
                }
            }
            Matcher::Collection(word, items) => collection(word, items, actual),
            Matcher::Compare(op, expected) => compare(op, expected, actual),
            Matcher::Within(delta, of) => {
                let (Some(d), Some(of), Some(a)) = (
                    delta.as_f64(),
                    of.as_ref().and_then(Value::as_f64),
                    actual.as_f64(),
                ) else {
                    return Err(Failure::Unsupported("`be_within` on non-numbers".into()));
                };
                Ok((a - of).abs() <= d)
            }
            Matcher::Truth(word) => Ok(match *word {
                "truthy" => actual.truthy(),
                "falsey" => !actual.truthy(),
                _ => matches!(actual, Value::Nil),
            }),
        }
    }

    /// rspec's failure message for a value that did not match.
    pub fn failure_message(&self, actual: &Value, negated: bool) -> String {
        let not = if negated { " not" } else { "" };
        match self {
            Matcher::Eq(..) if !negated => format!(
                "expected: {}\n     got: {}",
                self.expected_inspect(),
                actual.inspect()
            ),
            _ => format!(
                "expected {}{not} to {}",
                actual.inspect(),
                self.description()
            ),
        }
    }

    fn expected_inspect(&self) -> String {
        match self {
            Matcher::Eq(_, v) => v.inspect(),
            _ => self.description(),
        }
    }
}

fn value_predicate(word: &str, actual: &Value) -> Result<bool, Failure> {
    match (word, actual) {
        ("be_empty", Value::Str(s)) => Ok(s.is_empty()),
        ("be_empty", Value::Array(a)) => Ok(a.is_empty()),
        ("be_empty", Value::Hash(h)) => Ok(h.is_empty()),
        ("be_zero", v) if v.as_f64().is_some() => Ok(v.as_f64() == Some(0.0)),
        _ => Err(Failure::Unsupported(format!(
            "`{word}` on a {}",
            actual.class_name()
        ))),
    }
}

fn collection(word: &str, items: &[Value], actual: &Value) -> Result<bool, Failure> {
    let unsupported = || {
        Err(Failure::Unsupported(format!(
            "`{word}` on a {}",
            actual.class_name()
        )))
    };
    match (word, actual) {
        ("include", Value::Str(s)) => Ok(items.iter().all(|i| match i {
            Value::Str(x) => s.contains(x.as_str()),
            _ => false,
        })),
        ("include", Value::Array(a)) => Ok(items.iter().all(|i| a.iter().any(|x| x.equals(i)))),
        ("include", Value::Hash(h)) => Ok(items.iter().all(|i| match i {
            Value::Hash(pairs) => pairs
                .iter()
                .all(|(k, v)| h.iter().any(|(k2, v2)| k.equals(k2) && v.equals(v2))),
            key => h.iter().any(|(k, _)| k.equals(key)),
        })),
        ("start_with", Value::Str(s)) => Ok(items
            .iter()
            .any(|i| matches!(i, Value::Str(x) if s.starts_with(x.as_str())))),
        ("end_with", Value::Str(s)) => Ok(items
            .iter()
            .any(|i| matches!(i, Value::Str(x) if s.ends_with(x.as_str())))),
        ("start_with", Value::Array(a)) => {
            Ok(items.len() <= a.len() && items.iter().zip(a).all(|(x, y)| x.equals(y)))
        }
        ("end_with", Value::Array(a)) => Ok(items.len() <= a.len()
            && items
                .iter()
                .rev()
                .zip(a.iter().rev())
                .all(|(x, y)| x.equals(y))),
        _ => unsupported(),
    }
}

fn compare(op: &str, expected: &Value, actual: &Value) -> Result<bool, Failure> {
    let ord = match (actual, expected) {
        (Value::Str(a), Value::Str(b)) => a.cmp(b),
        _ => match (actual.as_f64(), expected.as_f64()) {
            (Some(a), Some(b)) => a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal),
            _ => {
                return Err(Failure::Error(format!(
                    "comparison of {} with {} failed",
                    actual.class_name(),
                    expected.inspect()
                )));
            }
        },
    };
    use std::cmp::Ordering::*;
    Ok(match op {
        ">" => ord == Greater,
        ">=" => ord != Less,
        "<" => ord == Less,
        "<=" => ord != Greater,
        "==" => ord == Equal,
        _ => return Err(Failure::Unsupported(format!("`be {op}`"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pred(word: &str, args: Vec<Value>) -> Matcher {
        Matcher::Predicate {
            word: word.into(),
            args,
            chains: Vec::new(),
        }
    }

    #[test]
    fn descriptions_follow_rspec_and_serverspec() {
        assert_eq!(pred("be_file", vec![]).description(), "be file");
        assert_eq!(
            pred("be_mode", vec![Value::Int(644)]).description(),
            "be mode 644"
        );
        let v = vec![Value::Str("/a".into()), Value::Str("/b".into())];
        assert_eq!(
            pred("have_volume", v).description(),
            "have volume \"/a\" and \"/b\""
        );
        let installed = pred("be_installed", vec![])
            .chain("with_version", vec![Value::Str("1.2".into())])
            .unwrap();
        assert_eq!(installed.description(), "be installed with version \"1.2\"");
        let listening = pred("be_listening", vec![])
            .chain("with", vec![Value::Str("tcp".into())])
            .unwrap()
            .chain("on", vec![Value::Str("127.0.0.1".into())])
            .unwrap();
        assert_eq!(
            listening.description(),
            "be listening on 127.0.0.1 with tcp"
        );
        // `contain` does not describe its range.
        let contain = pred("contain", vec![Value::Str("x".into())])
            .chain("from", vec![Value::Str("a".into())])
            .unwrap();
        assert_eq!(contain.description(), "contain \"x\"");
        assert_eq!(
            Matcher::Eq("eq", Value::Str("a\n".into())).description(),
            "eq \"a\\n\""
        );
        assert_eq!(
            Matcher::Within(Value::Int(2), Some(Value::Int(11))).description(),
            "be within 2 of 11"
        );
        assert_eq!(
            Matcher::Compare(">".into(), Value::Int(0)).description(),
            "be > 0"
        );
    }

    #[test]
    fn value_matchers_decide_like_rspec() {
        let collection = |w, items: Vec<Value>, actual: &Value| collection(w, &items, actual);
        let s = Value::Str("hello world".into());
        assert_eq!(
            collection("include", vec![Value::Str("lo w".into())], &s).ok(),
            Some(true)
        );
        assert_eq!(
            collection("start_with", vec![Value::Str("he".into())], &s).ok(),
            Some(true)
        );
        assert_eq!(
            collection("end_with", vec![Value::Str("he".into())], &s).ok(),
            Some(false)
        );
        let a = Value::Array(vec![Value::Int(1), Value::Int(2)]);
        assert_eq!(
            collection("include", vec![Value::Int(2)], &a).ok(),
            Some(true)
        );
        assert_eq!(
            compare(">=", &Value::Int(2), &Value::Float(2.0)).ok(),
            Some(true)
        );
        assert!(compare(">", &Value::Int(2), &Value::Nil).is_err());
    }
}
