//! A YAML document as a tree of nodes that remember their line and column,
//! read with serde-saphyr. The pipeline loader walks this tree, so every
//! error it reports can point at the exact place in the file.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_saphyr::Spanned;

use crate::diag::Pos;

/// A YAML node with its position.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Where the node starts.
    pub pos: Pos,
    /// Its value.
    pub value: NodeValue,
}

/// A YAML value.
#[derive(Clone, Debug, PartialEq)]
pub enum NodeValue {
    /// `~`, `null` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float, with the text it was written as (`1.10` stays "1.10" when
    /// a property wants text).
    Float(f64, String),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in file order.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The string value, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A scalar rendered as text (strings, numbers, booleans).
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            NodeValue::Str(s) => Some(s.clone()),
            NodeValue::Int(i) => Some(i.to_string()),
            NodeValue::Float(_, text) => Some(text.clone()),
            NodeValue::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// The mapping entries, if this is a mapping.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            NodeValue::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The sequence items, if this is a sequence.
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            NodeValue::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// Whether this is null.
    pub fn is_null(&self) -> bool {
        matches!(self.value, NodeValue::Null)
    }

    /// What kind of value this is, for messages ("a string", "a list").
    pub fn type_name(&self) -> &'static str {
        match self.value {
            NodeValue::Null => "null",
            NodeValue::Bool(_) => "a boolean",
            NodeValue::Int(_) => "an integer",
            NodeValue::Float(..) => "a number",
            NodeValue::Str(_) => "a string",
            NodeValue::Seq(_) => "a list",
            NodeValue::Map(_) => "a mapping",
        }
    }

    /// The node as a JSON value (mapping keys become strings).
    pub fn to_json(&self) -> Value {
        match &self.value {
            NodeValue::Null => Value::Null,
            NodeValue::Bool(b) => Value::Bool(*b),
            NodeValue::Int(i) => Value::from(*i),
            NodeValue::Float(f, _) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            NodeValue::Str(s) => Value::String(s.clone()),
            NodeValue::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeValue::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.scalar_text().unwrap_or_default(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// A YAML document could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct YamlError {
    /// Where, when known.
    pub pos: Pos,
    /// What went wrong.
    pub message: String,
}

/// Parses YAML text into a node tree. Empty documents are `Null`.
pub fn parse(text: &str) -> Result<Node, YamlError> {
    if text.trim().is_empty() {
        return Ok(Node {
            pos: Pos::new(1, 1),
            value: NodeValue::Null,
        });
    }
    // YAML 1.2 booleans only: `var: N` or `values: [y, n]` stay text.
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    match serde_saphyr::from_str_with_options::<Spanned<Raw>>(text, options) {
        Ok(spanned) => Ok(to_node(spanned, text)),
        Err(err) => {
            let pos = err
                .location()
                .map(|l| Pos::new(l.line(), l.column()))
                .unwrap_or_default();
            let message = err.without_snippet().to_string();
            // The message may repeat the position; keep it as the tool says it.
            Err(YamlError { pos, message })
        }
    }
}

fn to_node(spanned: Spanned<Raw>, source: &str) -> Node {
    let pos = Pos::new(spanned.referenced.line(), spanned.referenced.column());
    let span = spanned.referenced.span();
    let raw_text = || -> Option<String> {
        let start = usize::try_from(span.byte_offset()?).ok()?;
        let len = usize::try_from(span.byte_len()?).ok()?;
        source.get(start..start + len).map(|s| s.trim().to_string())
    };
    let value = match spanned.value.0 {
        RawValue::Null => NodeValue::Null,
        RawValue::Bool(b) => NodeValue::Bool(b),
        RawValue::Int(i) => NodeValue::Int(i),
        RawValue::Float(f) => NodeValue::Float(
            f,
            raw_text()
                .filter(|t| t.parse::<f64>().is_ok())
                .unwrap_or_else(|| f.to_string()),
        ),
        RawValue::Str(s) => NodeValue::Str(s),
        RawValue::Seq(items) => {
            NodeValue::Seq(items.into_iter().map(|i| to_node(i, source)).collect())
        }
        RawValue::Map(entries) => NodeValue::Map(
            entries
                .into_iter()
                .map(|(k, v)| (to_node(k, source), to_node(v, source)))
                .collect(),
        ),
    };
    Node { pos, value }
}

/// The deserialized form before positions are attached.
struct Raw(RawValue);

enum RawValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<Raw>, Spanned<Raw>)>),
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Raw, E> {
        Ok(Raw(RawValue::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<Raw, E> {
        Ok(Raw(RawValue::Null))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
        Raw::deserialize(d)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw(RawValue::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw(RawValue::Int(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Raw, E> {
        match i64::try_from(v) {
            Ok(i) => Ok(Raw(RawValue::Int(i))),
            Err(_) => Ok(Raw(RawValue::Str(v.to_string()))),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw(RawValue::Float(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw(RawValue::Str(v.to_string())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Raw, E> {
        Ok(Raw(RawValue::Str(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Raw>>()? {
            items.push(item);
        }
        Ok(Raw(RawValue::Seq(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<Raw>>()? {
            let value = map.next_value::<Spanned<Raw>>()?;
            entries.push((key, value));
        }
        Ok(Raw(RawValue::Map(entries)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_carry_positions() {
        let doc = parse("build:\n  steps:\n    - script:\n        code: echo hi\n").unwrap();
        let (k, v) = &doc.as_map().unwrap()[0];
        assert_eq!(k.as_str(), Some("build"));
        assert_eq!(k.pos, Pos::new(1, 1));
        let (steps_k, steps) = &v.as_map().unwrap()[0];
        assert_eq!(steps_k.pos, Pos::new(2, 3));
        let step = &steps.as_seq().unwrap()[0];
        let (script_k, props) = &step.as_map().unwrap()[0];
        assert_eq!(script_k.pos, Pos::new(3, 7));
        let (code_k, code_v) = &props.as_map().unwrap()[0];
        assert_eq!(code_k.pos, Pos::new(4, 9));
        assert_eq!(code_v.as_str(), Some("echo hi"));
        assert_eq!(code_v.pos, Pos::new(4, 15));
    }

    #[test]
    fn floats_keep_their_text() {
        let doc = parse("v: 1.10\n").unwrap();
        let (_, v) = &doc.as_map().unwrap()[0];
        assert_eq!(v.scalar_text().as_deref(), Some("1.10"));
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = parse("build:\n  steps: [a, b\n").unwrap_err();
        assert!(err.pos.line >= 2, "{err:?}");
    }
}
