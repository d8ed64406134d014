//! Ruby values as the native engine sees them: the literal types specs use
//! (nil, booleans, numbers, strings, symbols, arrays, hashes, regexps),
//! serverspec resources and rspec matchers. `inspect` and `to_s` follow
//! Ruby 3.1's output exactly, because rspec builds example names from them.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::rc::Rc;

use super::matchers::Matcher;
use super::resources::Resource;

/// A Ruby value.
#[derive(Clone, Debug, Default)]
pub enum Value {
    /// `nil`.
    #[default]
    Nil,
    /// `true` / `false`.
    Bool(bool),
    /// An Integer.
    Int(i64),
    /// A Float.
    Float(f64),
    /// A String.
    Str(String),
    /// A Symbol (without the colon).
    Sym(String),
    /// An Array.
    Array(Vec<Value>),
    /// A Hash, in insertion order.
    Hash(Vec<(Value, Value)>),
    /// A Regexp.
    Regex(RubyRegex),
    /// A Range of integers (inclusive end).
    Range(i64, i64),
    /// A serverspec resource (`file('/etc/hosts')`).
    Resource(Rc<Resource>),
    /// An rspec matcher (`be_running`, `eq 0`).
    Matcher(Rc<Matcher>),
}

/// Compiles a pattern once per process: a regexp literal in a loop or a
/// shared example is evaluated once per example, and every file's thread
/// shares the compiled program (a `Regex` clone is a reference count).
/// Bounded: the cache starts over past 1,024 patterns.
fn compile_cached(pattern: &str) -> Result<regex::Regex, regex::Error> {
    static CACHE: std::sync::OnceLock<std::sync::Mutex<HashMap<String, regex::Regex>>> =
        std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(re) = cache.lock().ok().and_then(|c| c.get(pattern).cloned()) {
        return Ok(re);
    }
    let re = regex::Regex::new(pattern)?;
    if let Ok(mut c) = cache.lock() {
        if c.len() >= 1024 {
            c.clear();
        }
        c.insert(pattern.to_string(), re.clone());
    }
    Ok(re)
}

/// A Ruby regexp: its source and flags, compiled for the `regex` crate.
#[derive(Clone, Debug)]
pub struct RubyRegex {
    /// The source between the slashes.
    pub source: String,
    /// `i` flag.
    pub ignore_case: bool,
    /// `m` flag (dot matches newline).
    pub multiline: bool,
    /// `x` flag.
    pub extended: bool,
    /// The translated pattern.
    pub compiled: regex::Regex,
}

impl RubyRegex {
    /// Translates a Ruby regexp: `^`/`$` are line anchors in Ruby, `\A`,
    /// `\z`, `\Z`, `\h` are spelled differently; Ruby's `m` is `s` here.
    /// Look-around and back-references have no translation: an error.
    pub fn new(
        source: &str,
        ignore_case: bool,
        multiline: bool,
        extended: bool,
    ) -> Result<Self, String> {
        let translated = translate_regex(source)?;
        let mut flags = String::from("m");
        if ignore_case {
            flags.push('i');
        }
        if multiline {
            flags.push('s');
        }
        if extended {
            flags.push('x');
        }
        let compiled = compile_cached(&format!("(?{flags}){translated}"))
            .map_err(|e| format!("regexp /{source}/ has no equivalent here: {e}"))?;
        Ok(RubyRegex {
            source: source.to_string(),
            ignore_case,
            multiline,
            extended,
            compiled,
        })
    }

    /// `/source/flags`, as Ruby's `inspect`.
    pub fn inspect(&self) -> String {
        let mut s = format!("/{}/", self.source);
        if self.multiline {
            s.push('m');
        }
        if self.ignore_case {
            s.push('i');
        }
        if self.extended {
            s.push('x');
        }
        s
    }
}

fn translate_regex(source: &str) -> Result<String, String> {
    let mut out = String::with_capacity(source.len());
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('A') => out.push_str(r"\A"),
                Some('z') => out.push_str(r"\z"),
                Some('Z') => out.push_str(r"(?:\n?\z)"),
                Some('h') => out.push_str("[0-9a-fA-F]"),
                Some('H') => out.push_str("[^0-9a-fA-F]"),
                Some('/') => out.push('/'),
                Some(d @ '1'..='9') => {
                    return Err(format!("back-reference \\{d} is not supported"));
                }
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push_str(r"\\"),
            },
            '(' if chars.peek() == Some(&'?') => {
                let rest: String = chars.clone().take(3).collect();
                if rest.starts_with("?=")
                    || rest.starts_with("?!")
                    || rest.starts_with("?<=")
                    || rest.starts_with("?<!")
                {
                    return Err("look-around is not supported".into());
                }
                if rest.starts_with("?<") {
                    out.push_str("(?P");
                    chars.next();
                    continue;
                }
                out.push('(');
            }
            _ => out.push(c),
        }
    }
    Ok(out)
}

impl Value {
    /// Ruby truthiness: everything but `nil` and `false`.
    pub fn truthy(&self) -> bool {
        !matches!(self, Value::Nil | Value::Bool(false))
    }

    /// The Ruby class name, for error messages.
    pub fn class_name(&self) -> &'static str {
        match self {
            Value::Nil => "NilClass",
            Value::Bool(true) => "TrueClass",
            Value::Bool(false) => "FalseClass",
            Value::Int(_) => "Integer",
            Value::Float(_) => "Float",
            Value::Str(_) => "String",
            Value::Sym(_) => "Symbol",
            Value::Array(_) => "Array",
            Value::Hash(_) => "Hash",
            Value::Regex(_) => "Regexp",
            Value::Range(..) => "Range",
            Value::Resource(_) => "Serverspec::Type",
            Value::Matcher(_) => "RSpec::Matchers",
        }
    }

    /// Ruby's `to_s`.
    pub fn to_s(&self) -> String {
        match self {
            Value::Nil => String::new(),
            Value::Str(s) | Value::Sym(s) => s.clone(),
            Value::Resource(r) => r.to_s(),
            _ => self.inspect(),
        }
    }

    /// Ruby's `inspect`.
    pub fn inspect(&self) -> String {
        match self {
            Value::Nil => "nil".into(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => float_to_s(*f),
            Value::Str(s) => inspect_str(s),
            Value::Sym(s) => inspect_sym(s),
            Value::Array(items) => {
                let parts: Vec<String> = items.iter().map(Value::inspect).collect();
                format!("[{}]", parts.join(", "))
            }
            Value::Hash(pairs) => {
                if pairs.is_empty() {
                    return "{}".into();
                }
                let parts: Vec<String> = pairs
                    .iter()
                    .map(|(k, v)| format!("{}=>{}", k.inspect(), v.inspect()))
                    .collect();
                format!("{{{}}}", parts.join(", "))
            }
            Value::Regex(r) => r.inspect(),
            Value::Range(a, b) => format!("{a}..{b}"),
            Value::Resource(r) => r.to_s(),
            Value::Matcher(m) => m.description(),
        }
    }

    /// Ruby's `==` for the value types specs compare.
    pub fn equals(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Int(a), Value::Float(b)) | (Value::Float(b), Value::Int(a)) => {
                (*a as f64) == *b
            }
            (Value::Nil, Value::Nil) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Str(a), Value::Str(b)) | (Value::Sym(a), Value::Sym(b)) => a == b,
            (Value::Array(a), Value::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.equals(y))
            }
            (Value::Hash(a), Value::Hash(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, v)| b.iter().any(|(k2, v2)| k.equals(k2) && v.equals(v2)))
            }
            (Value::Regex(a), Value::Regex(b)) => a.inspect() == b.inspect(),
            (Value::Range(a, b), Value::Range(c, d)) => a == c && b == d,
            _ => false,
        }
    }

    /// A number as f64, for comparisons.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The value of `key` in a hash (Ruby `hash[key]`).
    pub fn hash_get(&self, key: &Value) -> Option<&Value> {
        match self {
            Value::Hash(pairs) => pairs.iter().find(|(k, _)| k.equals(key)).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Converts JSON (a properties file) to Ruby values; object keys become
    /// symbols, as serverspec's properties files loaded with symbolized keys
    /// are read (`property[:roles]`), and strings as YAML would give them.
    pub fn from_json(json: &serde_json::Value, symbol_keys: bool) -> Value {
        match json {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => n
                .as_i64()
                .map(Value::Int)
                .unwrap_or_else(|| Value::Float(n.as_f64().unwrap_or(0.0))),
            serde_json::Value::String(s) => Value::Str(s.clone()),
            serde_json::Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|v| Value::from_json(v, symbol_keys))
                    .collect(),
            ),
            serde_json::Value::Object(map) => Value::Hash(
                map.iter()
                    .map(|(k, v)| {
                        let key = if symbol_keys {
                            Value::Sym(k.clone())
                        } else {
                            Value::Str(k.clone())
                        };
                        (key, Value::from_json(v, symbol_keys))
                    })
                    .collect(),
            ),
        }
    }
}

/// Ruby's `Float#to_s` for the common cases (`1.0`, `0.5`, `1.0e+20`).
pub fn float_to_s(f: f64) -> String {
    if f.is_finite() && f == f.trunc() && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

/// Ruby's `String#inspect`.
pub fn inspect_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{1b}' => out.push_str("\\e"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            '#' if matches!(chars.peek(), Some('{') | Some('$') | Some('@')) => out.push_str("\\#"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn inspect_sym(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.trim_end_matches(['?', '!', '='])
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        format!(":{s}")
    } else {
        format!(":{}", inspect_str(s))
    }
}

/// rspec's `EnglishPhrasing.list`: ` "a"`, ` "a" and "b"`, ` "a", "b", and "c"`.
pub fn english_list(items: &[Value]) -> String {
    let shown: Vec<String> = items.iter().map(Value::inspect).collect();
    match shown.len() {
        0 => String::new(),
        1 => format!(" {}", shown[0]),
        2 => format!(" {} and {}", shown[0], shown[1]),
        n => format!(" {}, and {}", shown[..n - 1].join(", "), shown[n - 1]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inspect_follows_ruby() {
        assert_eq!(
            Value::Str("a\"b\n#{x}".into()).inspect(),
            r#""a\"b\n\#{x}""#
        );
        assert_eq!(Value::Sym("tcp".into()).inspect(), ":tcp");
        assert_eq!(Value::Sym("a b".into()).inspect(), ":\"a b\"");
        assert_eq!(Value::Float(1.0).inspect(), "1.0");
        let h = Value::Hash(vec![
            (Value::Str("a".into()), Value::Int(1)),
            (Value::Sym("b".into()), Value::Array(vec![Value::Nil])),
        ]);
        assert_eq!(h.inspect(), r#"{"a"=>1, :b=>[nil]}"#);
        let list = [Value::Int(1), Value::Int(2), Value::Int(3)];
        assert_eq!(english_list(&list), " 1, 2, and 3");
        assert_eq!(english_list(&list[..2]), " 1 and 2");
    }

    #[test]
    fn regexps_translate_or_refuse() {
        let r = RubyRegex::new(r"^root:\h+", false, false, false).unwrap();
        assert!(r.compiled.is_match("x\nroot:ab"));
        assert_eq!(r.inspect(), r"/^root:\h+/");
        assert!(RubyRegex::new(r"a(?=b)", false, false, false).is_err());
        assert!(RubyRegex::new(r"(a)\1", false, false, false).is_err());
        let m = RubyRegex::new("a.b", true, true, false).unwrap();
        assert!(m.compiled.is_match("A\nB"));
        assert_eq!(m.inspect(), "/a.b/mi");
    }
}
