//! A YAML document as a tree of nodes that remember their line and column.
//! The pipeline loader walks this tree, so every error it reports can point
//! at the exact place in the file.
//!
//! The tree is built straight from the events of granit-parser (the YAML
//! 1.2 parser under serde-saphyr, which the step crates use): going through
//! serde with a span wrapper per node cost three times the parse itself.
//! What the builder adds to the parser:
//! - the YAML 1.2 core schema for plain scalars, with YAML 1.2 booleans only
//!   (`y`, `yes`, `on` stay text), and the core tags (`!!str`, `!!int`, …);
//! - anchors and aliases, and merge keys (`<<: *defaults`, `<<: [*a, *b]`);
//! - a key written twice in one mapping is an error at the second one;
//! - one document per file, and limits on nesting and on alias expansion.

use std::borrow::Cow;
use std::collections::HashMap;

use granit_parser::{Event, Parser, ScalarStyle, Span, Tag};
use serde_json::Value;

use crate::diag::Pos;

/// Deepest nesting of sequences and mappings accepted.
const MAX_DEPTH: usize = 128;

/// Most nodes a document may hold once its aliases are expanded (an alias
/// counts the size of what it repeats): stops "billion laughs" documents.
const MAX_NODES: usize = 1_000_000;

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

impl YamlError {
    fn at(pos: Pos, message: impl Into<String>) -> YamlError {
        YamlError {
            pos,
            message: message.into(),
        }
    }
}

/// Parses YAML text into a node tree. Empty documents are `Null`.
pub fn parse(text: &str) -> Result<Node, YamlError> {
    let mut builder = Builder::default();
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|e| {
            let at = e.marker();
            YamlError::at(pos_of(at.line(), at.col()), e.info())
        })?;
        builder.event(event, &span)?;
    }
    Ok(builder.root.unwrap_or(Node {
        pos: Pos::new(1, 1),
        value: NodeValue::Null,
    }))
}

fn pos_of(line: usize, col: usize) -> Pos {
    Pos::new(line as u64, col as u64 + 1)
}

fn start_of(span: &Span) -> Pos {
    pos_of(span.start.line(), span.start.col())
}

/// A sequence or mapping being read.
struct Frame {
    pos: Pos,
    anchor: usize,
    kind: FrameKind,
}

enum FrameKind {
    Seq(Vec<Node>),
    Map {
        entries: Entries,
        /// The key read, waiting for its value (`true`: the merge key).
        key: Option<(Node, bool)>,
        /// What `<<` keys bring in, in the order written.
        merges: Vec<Node>,
    },
}

/// Turns the parser's events into one [`Node`] tree.
#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    /// Anchored nodes by the parser's anchor id, with their node counts.
    anchors: HashMap<usize, (Node, usize)>,
    root: Option<Node>,
    documents: usize,
    nodes: usize,
}

impl Builder {
    fn event(&mut self, event: Event<'_>, span: &Span) -> Result<(), YamlError> {
        let pos = start_of(span);
        match event {
            Event::DocumentStart(..) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(YamlError::at(
                        pos,
                        "a second YAML document starts here; a pipeline file holds one document (remove the `---` or split the file)",
                    ));
                }
            }
            Event::Scalar(value, style, anchor, tag) => {
                let merge_key = style == ScalarStyle::Plain && tag.is_none() && value == "<<";
                let value = scalar(value, style, tag.as_deref(), pos)?;
                let node = Node { pos, value };
                count(&mut self.nodes, 1, pos)?;
                self.remember(anchor, &node, 1);
                self.add(node, merge_key)?;
            }
            Event::Alias(id) => {
                let Some((anchored, size)) = self.anchors.get(&id) else {
                    return Err(YamlError::at(
                        pos,
                        "this alias refers to a node that contains it; an alias can only repeat a node that has ended",
                    ));
                };
                // Counted before the copy is made.
                count(&mut self.nodes, *size, pos)?;
                let node = placed(anchored, pos);
                self.add(node, false)?;
            }
            Event::SequenceStart(_, anchor, _) => {
                self.open(pos, anchor, FrameKind::Seq(Vec::new()))?
            }
            Event::MappingStart(_, anchor, _) => self.open(
                pos,
                anchor,
                FrameKind::Map {
                    entries: Entries::default(),
                    key: None,
                    merges: Vec::new(),
                },
            )?,
            Event::SequenceEnd | Event::MappingEnd => self.close()?,
            // Stream and document ends, and presentation-only events.
            _ => {}
        }
        Ok(())
    }

    fn open(&mut self, pos: Pos, anchor: usize, kind: FrameKind) -> Result<(), YamlError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(YamlError::at(
                pos,
                format!("the document nests lists and mappings deeper than {MAX_DEPTH} levels"),
            ));
        }
        self.stack.push(Frame { pos, anchor, kind });
        Ok(())
    }

    fn close(&mut self) -> Result<(), YamlError> {
        let Some(frame) = self.stack.pop() else {
            return Ok(());
        };
        let value = match frame.kind {
            FrameKind::Seq(items) => NodeValue::Seq(items),
            FrameKind::Map {
                mut entries,
                merges,
                ..
            } => {
                // Keys written in the mapping win; among merged mappings,
                // the first that has a key wins.
                for source in merges {
                    if let NodeValue::Map(merged) = source.value {
                        for (k, v) in merged {
                            if !entries.contains(&k.value) {
                                entries.push(k, v);
                            }
                        }
                    }
                }
                NodeValue::Map(entries.list)
            }
        };
        let node = Node {
            pos: frame.pos,
            value,
        };
        if frame.anchor != 0 {
            let size = count_nodes(&node);
            self.remember(frame.anchor, &node, size);
        }
        // Its items were counted as they were added.
        count(&mut self.nodes, 1, node.pos)?;
        self.add(node, false)
    }

    fn remember(&mut self, anchor: usize, node: &Node, size: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), size));
        }
    }

    /// Places a finished node in the collection being read (or as the root).
    fn add(&mut self, node: Node, merge_key: bool) -> Result<(), YamlError> {
        let Some(frame) = self.stack.last_mut() else {
            self.root = Some(node);
            return Ok(());
        };
        match &mut frame.kind {
            FrameKind::Seq(items) => items.push(node),
            FrameKind::Map {
                entries,
                key,
                merges,
            } => match key.take() {
                None => *key = Some((node, merge_key)),
                Some((_, true)) => merge_sources(node, merges)?,
                Some((k, false)) => {
                    if entries.contains(&k.value) {
                        let name = k.scalar_text().unwrap_or_else(|| k.type_name().to_string());
                        return Err(YamlError::at(
                            k.pos,
                            format!("the key `{name}` appears twice in the same mapping; keep one"),
                        ));
                    }
                    entries.push(k, node);
                }
            },
        }
        Ok(())
    }
}

/// Counts `size` more nodes against [`MAX_NODES`] (a free function, so that
/// an alias can count while its anchored node is borrowed).
fn count(nodes: &mut usize, size: usize, pos: Pos) -> Result<(), YamlError> {
    *nodes = nodes.saturating_add(size);
    if *nodes > MAX_NODES {
        return Err(YamlError::at(
            pos,
            format!(
                "the document is too large to read safely: more than {MAX_NODES} values once its aliases are expanded"
            ),
        ));
    }
    Ok(())
}

/// The value of a merge key: a mapping, or a list of mappings.
fn merge_sources(value: Node, merges: &mut Vec<Node>) -> Result<(), YamlError> {
    let bad = |pos| {
        YamlError::at(
            pos,
            "the merge key `<<` takes a mapping or a list of mappings (e.g. `<<: *defaults`)",
        )
    };
    match value.value {
        NodeValue::Map(_) => merges.push(value),
        NodeValue::Seq(items) => {
            for item in items {
                if !matches!(item.value, NodeValue::Map(_)) {
                    return Err(bad(item.pos));
                }
                merges.push(item);
            }
        }
        _ => return Err(bad(value.pos)),
    }
    Ok(())
}

/// A copy of an anchored node where an alias repeats it: every node of the
/// copy is placed at the alias, where the reader wrote it.
fn placed(node: &Node, pos: Pos) -> Node {
    let value = match &node.value {
        NodeValue::Seq(items) => NodeValue::Seq(items.iter().map(|i| placed(i, pos)).collect()),
        NodeValue::Map(entries) => NodeValue::Map(
            entries
                .iter()
                .map(|(k, v)| (placed(k, pos), placed(v, pos)))
                .collect(),
        ),
        other => other.clone(),
    };
    Node { pos, value }
}

fn count_nodes(node: &Node) -> usize {
    1 + match &node.value {
        NodeValue::Seq(items) => items.iter().map(count_nodes).sum(),
        NodeValue::Map(entries) => entries
            .iter()
            .map(|(k, v)| count_nodes(k) + count_nodes(v))
            .sum(),
        _ => 0,
    }
}

/// A mapping's entries in file order, with an index of its scalar keys
/// once it has [`INDEX_FROM`] of them: every key added is looked up
/// (duplicates, merges), which must not cost a scan of thousands of keys.
#[derive(Default)]
struct Entries {
    list: Vec<(Node, Node)>,
    index: Option<std::collections::HashSet<KeyId>>,
}

/// How many entries a mapping has before its keys are indexed.
const INDEX_FROM: usize = 16;

/// A scalar key as [`same_value`] compares it (a NaN key has none: it
/// equals no other key).
#[derive(Hash, PartialEq, Eq)]
enum KeyId {
    Null,
    Bool(bool),
    Int(i64),
    Float(u64),
    Str(String),
}

fn key_id(value: &NodeValue) -> Option<KeyId> {
    Some(match value {
        NodeValue::Null => KeyId::Null,
        NodeValue::Bool(b) => KeyId::Bool(*b),
        NodeValue::Int(i) => KeyId::Int(*i),
        // 0.0 and -0.0 are equal keys, as `==` has it.
        NodeValue::Float(f, _) if *f == 0.0 => KeyId::Float(0.0f64.to_bits()),
        NodeValue::Float(f, _) if f.is_nan() => return None,
        NodeValue::Float(f, _) => KeyId::Float(f.to_bits()),
        NodeValue::Str(s) => KeyId::Str(s.clone()),
        NodeValue::Seq(_) | NodeValue::Map(_) => return None,
    })
}

impl Entries {
    /// Whether a key equal to `key` is already here.
    fn contains(&self, key: &NodeValue) -> bool {
        match (&self.index, key_id(key)) {
            (Some(index), Some(id)) => index.contains(&id),
            _ => self.list.iter().any(|(e, _)| same_value(&e.value, key)),
        }
    }

    fn push(&mut self, key: Node, value: Node) {
        if let (Some(index), Some(id)) = (&mut self.index, key_id(&key.value)) {
            index.insert(id);
        }
        self.list.push((key, value));
        if self.index.is_none() && self.list.len() >= INDEX_FROM {
            self.index = Some(
                self.list
                    .iter()
                    .filter_map(|(k, _)| key_id(&k.value))
                    .collect(),
            );
        }
    }
}

/// Whether two values are the same, wherever they were written (keys of a
/// mapping compare this way).
fn same_value(a: &NodeValue, b: &NodeValue) -> bool {
    match (a, b) {
        (NodeValue::Str(x), NodeValue::Str(y)) => x == y,
        (NodeValue::Null, NodeValue::Null) => true,
        (NodeValue::Bool(x), NodeValue::Bool(y)) => x == y,
        (NodeValue::Int(x), NodeValue::Int(y)) => x == y,
        (NodeValue::Float(x, _), NodeValue::Float(y, _)) => x == y,
        (NodeValue::Seq(x), NodeValue::Seq(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_value(&p.value, &q.value))
        }
        (NodeValue::Map(x), NodeValue::Map(y)) => {
            x.len() == y.len()
                && x.iter().zip(y).all(|((pk, pv), (qk, qv))| {
                    same_value(&pk.value, &qk.value) && same_value(&pv.value, &qv.value)
                })
        }
        _ => false,
    }
}

/// A scalar's value: by its core tag when it has one, else plain scalars
/// by the core schema and quoted or block scalars as text.
fn scalar(
    text: Cow<'_, str>,
    style: ScalarStyle,
    tag: Option<&Tag>,
    pos: Pos,
) -> Result<NodeValue, YamlError> {
    let wrong = |what: &str| {
        YamlError::at(
            pos,
            format!("`{text}` is tagged `!!{what}` but is not {}", article(what)),
        )
    };
    match tag.and_then(Tag::core_suffix) {
        Some("str") => Ok(NodeValue::Str(text.into_owned())),
        Some("null") => Ok(NodeValue::Null),
        Some("bool") => match plain(&text) {
            v @ NodeValue::Bool(_) => Ok(v),
            _ => Err(wrong("bool")),
        },
        Some("int") => match plain(&text) {
            v @ NodeValue::Int(_) => Ok(v),
            _ => Err(wrong("int")),
        },
        Some("float") => match plain(&text) {
            v @ NodeValue::Float(..) => Ok(v),
            NodeValue::Int(i) => Ok(NodeValue::Float(i as f64, text.into_owned())),
            _ => Err(wrong("float")),
        },
        // A plain scalar with a local tag (`!Ref x`) is still read by the
        // schema; the non-specific `!` means text.
        _ if style == ScalarStyle::Plain && !tag.is_some_and(is_non_specific) => Ok(plain(&text)),
        _ => Ok(NodeValue::Str(text.into_owned())),
    }
}

/// The bare `!` tag (granit gives it an empty handle and `!` as suffix).
fn is_non_specific(tag: &Tag) -> bool {
    tag.handle().is_empty() && tag.suffix() == "!"
}

fn article(what: &str) -> &'static str {
    match what {
        "bool" => "true or false",
        "int" => "an integer",
        _ => "a number",
    }
}

/// A plain scalar by the YAML 1.2 core schema (booleans: `true`/`false`
/// in three spellings only). Numbers keep what they were written as where
/// a number would lose it: a float keeps its text (`1.10`), a decimal with
/// a leading zero (`017`) is a float with its text, and an integer beyond
/// 64 bits is text.
fn plain(text: &str) -> NodeValue {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => NodeValue::Null,
        "true" | "True" | "TRUE" => NodeValue::Bool(true),
        "false" | "False" | "FALSE" => NodeValue::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            NodeValue::Float(f64::INFINITY, text.to_string())
        }
        "-.inf" | "-.Inf" | "-.INF" => NodeValue::Float(f64::NEG_INFINITY, text.to_string()),
        ".nan" | ".NaN" | ".NAN" => NodeValue::Float(f64::NAN, text.to_string()),
        _ => number(text).unwrap_or_else(|| NodeValue::Str(text.to_string())),
    }
}

fn number(text: &str) -> Option<NodeValue> {
    let (negative, body) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(digits) = body.strip_prefix(prefix) {
            return with_radix(text, digits, radix, negative);
        }
    }
    if is_decimal(body) {
        let digits: String = body.chars().filter(|c| *c != '_').collect();
        let signed = if negative {
            format!("-{digits}")
        } else {
            digits.clone()
        };
        let as_float = || {
            signed
                .parse::<f64>()
                .ok()
                .map(|f| NodeValue::Float(f, text.to_string()))
        };
        if digits.len() > 1 && digits.starts_with('0') {
            return as_float();
        }
        if let Ok(i) = signed.parse::<i64>() {
            return Some(NodeValue::Int(i));
        }
        if !negative && digits.parse::<u64>().is_ok() {
            return Some(NodeValue::Str(digits));
        }
        return as_float();
    }
    if is_float(body) {
        return text
            .parse::<f64>()
            .ok()
            .map(|f| NodeValue::Float(f, text.to_string()));
    }
    None
}

fn with_radix(text: &str, digits: &str, radix: u32, negative: bool) -> Option<NodeValue> {
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let Ok(u) = u64::from_str_radix(digits, radix) else {
        return Some(NodeValue::Str(text.to_string()));
    };
    Some(if negative {
        i64::try_from(-i128::from(u))
            .map_or_else(|_| NodeValue::Str(text.to_string()), NodeValue::Int)
    } else {
        i64::try_from(u).map_or_else(|_| NodeValue::Str(u.to_string()), NodeValue::Int)
    })
}

/// Digits, with single underscores between them (`1_000`).
fn is_decimal(body: &str) -> bool {
    let b = body.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_digit()
        && b[b.len() - 1].is_ascii_digit()
        && b.iter().all(|c| c.is_ascii_digit() || *c == b'_')
        && !body.contains("__")
}

/// `1.5`, `1.`, `.5`, each with an optional exponent, or digits with one.
fn is_float(body: &str) -> bool {
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.bytes().all(|c| c.is_ascii_digit());
    let mantissa_ok = digits(int)
        && digits(frac)
        && (!int.is_empty() || !frac.is_empty())
        && (mantissa.contains('.') || exponent.is_some());
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok
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
        let err = parse("a: 'unclosed\nb: 1\n").unwrap_err();
        assert_eq!(
            (err.pos, err.message.as_str()),
            (Pos::new(1, 4), "unclosed quote")
        );
    }

    /// The node under `key` of a mapping.
    fn entry<'a>(doc: &'a Node, key: &str) -> &'a Node {
        let map = doc
            .as_map()
            .unwrap_or_else(|| panic!("not a mapping: {doc:?}"));
        map.iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("no key {key} in {doc:?}"))
    }

    fn value_of(doc: &Node, key: &str) -> NodeValue {
        entry(doc, key).value.clone()
    }

    #[test]
    fn plain_scalars_follow_the_core_schema_with_yaml_1_2_booleans() {
        use NodeValue::*;
        let cases: &[(&str, NodeValue)] = &[
            ("~", Null),
            ("null", Null),
            ("NULL", Null),
            ("", Null),
            ("true", Bool(true)),
            ("False", Bool(false)),
            ("yes", Str("yes".into())),
            ("on", Str("on".into())),
            ("n", Str("n".into())),
            ("tRue", Str("tRue".into())),
            ("42", Int(42)),
            ("-7", Int(-7)),
            ("+3", Int(3)),
            ("1_000", Int(1000)),
            ("0x1F", Int(31)),
            ("-0x1F", Int(-31)),
            ("0o17", Int(15)),
            ("0b101", Int(5)),
            ("0X1F", Str("0X1F".into())),
            ("0o8", Str("0o8".into())),
            ("1__0", Str("1__0".into())),
            ("017", Float(17.0, "017".into())),
            ("9223372036854775807", Int(i64::MAX)),
            ("9223372036854775808", Str("9223372036854775808".into())),
            ("0x8000000000000000", Str("9223372036854775808".into())),
            ("1.10", Float(1.1, "1.10".into())),
            (".5", Float(0.5, ".5".into())),
            ("1.", Float(1.0, "1.".into())),
            ("1e3", Float(1000.0, "1e3".into())),
            ("-1.5E-3", Float(-0.0015, "-1.5E-3".into())),
            ("3.14_15", Str("3.14_15".into())),
            ("1e", Str("1e".into())),
            (".", Str(".".into())),
            ("1.2.3", Str("1.2.3".into())),
            ("2001-12-14", Str("2001-12-14".into())),
            ("12:30", Str("12:30".into())),
            ("-.inf", Float(f64::NEG_INFINITY, "-.inf".into())),
        ];
        for (text, want) in cases {
            let doc = parse(&format!("v: {text}\n")).unwrap();
            assert_eq!(&value_of(&doc, "v"), want, "v: {text}");
        }
        assert!(matches!(value_of(&parse("v: .NaN").unwrap(), "v"), Float(f, _) if f.is_nan()));
    }

    #[test]
    fn quoted_block_and_tagged_scalars() {
        use NodeValue::*;
        let doc = parse(concat!(
            "a: '1'\nb: \"true\"\nc: |\n  x\n  y\nd: >\n  folded\n  text\n",
            "e: !!str 123\nf: !!int '7'\ng: !!float '1'\nh: !!bool 'true'\ni: !!null ''\n",
            "j: !Ref 5\nk: ! 5\nl: \"\\u00e9\\t\"\n",
        ))
        .unwrap();
        assert_eq!(value_of(&doc, "a"), Str("1".into()));
        assert_eq!(value_of(&doc, "b"), Str("true".into()));
        assert_eq!(value_of(&doc, "c"), Str("x\ny\n".into()));
        assert_eq!(value_of(&doc, "d"), Str("folded text\n".into()));
        assert_eq!(value_of(&doc, "e"), Str("123".into()));
        assert_eq!(value_of(&doc, "f"), Int(7));
        assert_eq!(value_of(&doc, "g"), Float(1.0, "1".into()));
        assert_eq!(value_of(&doc, "h"), Bool(true));
        assert_eq!(value_of(&doc, "i"), Null);
        assert_eq!(value_of(&doc, "j"), Int(5));
        assert_eq!(value_of(&doc, "k"), Str("5".into()));
        assert_eq!(value_of(&doc, "l"), Str("\u{e9}\t".into()));
        let err = parse("a: !!int twelve\n").unwrap_err();
        assert_eq!(err.pos, Pos::new(1, 10), "{err:?}");
        assert!(
            err.message.contains("`twelve` is tagged `!!int`"),
            "{err:?}"
        );
    }

    #[test]
    fn aliases_repeat_their_anchor_at_the_alias() {
        let doc = parse("a: &s hello\nb: *s\nc: [*s, *s]\nd: &m {x: 1}\ne: *m\n").unwrap();
        let map = doc.as_map().unwrap();
        assert_eq!(map[1].1.as_str(), Some("hello"));
        assert_eq!(map[1].1.pos, Pos::new(2, 4));
        let c = map[2].1.as_seq().unwrap();
        assert_eq!((c[0].as_str(), c[1].pos), (Some("hello"), Pos::new(3, 9)));
        let (k, v) = &map[4].1.as_map().unwrap()[0];
        assert_eq!(
            (k.as_str(), &v.value, v.pos),
            (Some("x"), &NodeValue::Int(1), Pos::new(5, 4))
        );
        // A redefined anchor: an alias takes the latest definition.
        let doc = parse("a: &a 1\nb: &a 2\nc: *a\n").unwrap();
        assert_eq!(value_of(&doc, "c"), NodeValue::Int(2));
    }

    #[test]
    fn merge_keys_bring_in_what_the_mapping_does_not_set() {
        let doc = parse(concat!(
            "base: &b {x: 1, y: 2}\n",
            "other: &o {x: 9, z: 3}\n",
            "one:\n  <<: *b\n  y: 5\n",
            "list:\n  w: 0\n  <<: [*b, *o]\n",
            "quoted:\n  '<<': 1\n",
        ))
        .unwrap();
        let one = entry(&doc, "one");
        let keys: Vec<_> = one
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, _)| k.as_str().unwrap())
            .collect();
        assert_eq!(keys, ["y", "x"]);
        assert_eq!(value_of(one, "y"), NodeValue::Int(5));
        assert_eq!(value_of(one, "x"), NodeValue::Int(1));
        let list = entry(&doc, "list");
        assert_eq!(
            value_of(list, "x"),
            NodeValue::Int(1),
            "the first merged mapping wins"
        );
        assert_eq!(value_of(list, "z"), NodeValue::Int(3));
        assert_eq!(list.as_map().unwrap().len(), 4);
        let quoted = entry(&doc, "quoted");
        assert_eq!(
            value_of(quoted, "<<"),
            NodeValue::Int(1),
            "a quoted `<<` is a plain key"
        );
        for bad in ["a:\n  <<: 5\n", "a:\n  <<: [{x: 1}, 2]\n"] {
            let err = parse(bad).unwrap_err();
            assert!(
                err.message.contains("merge key `<<` takes a mapping"),
                "{bad}: {err:?}"
            );
            assert_eq!(err.pos.line, 2, "{bad}: {err:?}");
        }
    }

    #[test]
    fn a_key_written_twice_is_an_error_at_the_second() {
        for (text, pos, key) in [
            (
                "build:\n  steps: []\nbuild:\n  steps: []\n",
                Pos::new(3, 1),
                "build",
            ),
            ("a: {x: 1, x: 2}\n", Pos::new(1, 11), "x"),
            ("1: a\n1: b\n", Pos::new(2, 1), "1"),
        ] {
            let err = parse(text).unwrap_err();
            assert_eq!(err.pos, pos, "{text}");
            assert_eq!(
                err.message,
                format!("the key `{key}` appears twice in the same mapping; keep one")
            );
        }
        // Different values that print alike are different keys.
        assert!(parse("1: a\n'1': b\n").is_ok());
        // A large mapping (its keys indexed) finds a duplicate the same way,
        // and merges into it the same way.
        let mut big: String = (0..5000).map(|i| format!("k{i}: {i}\n")).collect();
        assert!(parse(&big).is_ok());
        big.push_str("other: &o {k7: x, extra: y}\n");
        big.push_str("merged:\n  <<: *o\n");
        big.extend((0..40).map(|i| format!("  k{i}: {i}\n")));
        let doc = parse(&big).unwrap();
        let merged = entry(&doc, "merged");
        assert_eq!(
            value_of(merged, "k7"),
            NodeValue::Int(7),
            "written keys win"
        );
        assert_eq!(value_of(merged, "extra"), NodeValue::Str("y".into()));
        assert_eq!(merged.as_map().unwrap().len(), 41);
        big.push_str("k4999: again\n");
        let err = parse(&big).unwrap_err();
        // 5000 keys, `other`, `merged:`, `<<`, 40 keys, then the duplicate.
        assert_eq!(err.pos.line, 5000 + 3 + 40 + 1, "{err:?}");
        assert!(err.message.contains("`k4999` appears twice"), "{err:?}");
        let floats = "0.0: a\n-0.0: b\n";
        assert!(parse(floats).is_err(), "0.0 and -0.0 are one key");
    }

    #[test]
    fn one_document_per_file() {
        assert_eq!(
            value_of(&parse("---\na: 1\n...\n").unwrap(), "a"),
            NodeValue::Int(1)
        );
        for text in ["a: 1\n---\nb: 2\n", "---\na: 1\n---\n"] {
            let err = parse(text).unwrap_err();
            assert!(err.message.contains("second YAML document"), "{err:?}");
            assert_eq!(err.pos.column, 1, "{err:?}");
        }
        assert!(parse("# only a comment\n").unwrap().is_null());
        assert!(parse("").unwrap().is_null());
    }

    #[test]
    fn hostile_documents_are_refused_not_expanded() {
        let err = parse("x: &a [*a]\n").unwrap_err();
        assert_eq!(err.pos, Pos::new(1, 8));
        assert!(err.message.contains("contains it"), "{err:?}");
        // Nine levels of ten aliases each: 10^9 values once expanded.
        let mut text = String::from("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let p = i - 1;
            text.push_str(&format!(
                "l{i}: &l{i} [{}]\n",
                vec![format!("*l{p}"); 10].join(", ")
            ));
        }
        let err = parse(&text).unwrap_err();
        assert!(err.message.contains("too large to read safely"), "{err:?}");
        let deep = format!(
            "{}1{}",
            "[".repeat(MAX_DEPTH + 1),
            "]".repeat(MAX_DEPTH + 1)
        );
        let err = parse(&deep).unwrap_err();
        assert!(err.message.contains("deeper than"), "{err:?}");
        assert!(
            parse(&format!(
                "{}1{}",
                "[".repeat(MAX_DEPTH),
                "]".repeat(MAX_DEPTH)
            ))
            .is_ok()
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// Any text made of YAML's own characters reads to a tree or to an
        /// error with a position and a message; nothing panics.
        #[test]
        fn any_yaml_like_text_reads_or_fails_cleanly(
            text in "([a-z0-9 :,\\-\\[\\]{}&*!<>|'\"#?~._%@`\t]|\n  |\n- |\n|<<: \\*a|&a ){0,60}"
        ) {
            match parse(&text) {
                Ok(_) => {}
                Err(e) => {
                    proptest::prop_assert!(e.pos.line >= 1, "{:?} for {:?}", e, text);
                    proptest::prop_assert!(!e.message.is_empty(), "{:?} for {:?}", e, text);
                }
            }
        }
    }
}
