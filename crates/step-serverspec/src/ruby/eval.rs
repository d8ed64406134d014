//! The evaluator: walks prism's syntax tree for the supported subset of
//! Ruby (literals, locals, interpolation, collections and their loops,
//! conditionals, common String/Array/Hash methods) and the rspec and
//! serverspec DSL. Anything outside the subset stops with
//! [`Fault::Unsupported`] naming the construct and its line; it is never
//! guessed at.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use ruby_prism::Node;

use super::dsl::{Example, Group, GroupRef, Mark, Scopes};
use super::host::Host;
use super::value::{RubyRegex, Value};

/// Why evaluation stopped.
#[derive(Clone, Debug)]
pub enum Fault {
    /// A construct outside the supported subset, at a line.
    Unsupported(String, u32),
    /// A Ruby error (rspec fails the example, or the file when loading).
    Error(String, u32),
    /// An expectation that did not hold (inside an example).
    Expectation(String),
    /// `pending`/`skip` called inside an example body.
    Skip(String),
}

/// Evaluation result.
pub type R<T> = Result<T, Fault>;

/// What the running example has seen so far.
#[derive(Default)]
pub struct ExampleState {
    /// Memoized `let`s and `subject`.
    pub memo: HashMap<String, Value>,
    /// The last matcher's description and whether it was negated.
    pub last: Option<(String, bool)>,
    /// `pending` was declared inside the body (with its reason).
    pub pending: Option<String>,
}

/// Run-wide settings from the helper and the spec (`set`, `set_property`).
#[derive(Default, Clone)]
pub struct Settings {
    /// `set :name, value`.
    pub set: HashMap<String, Value>,
    /// The properties hash (`property[...]`).
    pub property: Value,
}

/// The evaluator for one spec file.
pub struct Interp<'pr, 'h> {
    /// The file as rspec names it (`./spec/x_spec.rb`).
    pub file: String,
    /// The target.
    pub host: &'h Host,
    /// Local variable scopes.
    pub scopes: Scopes,
    /// Globals and constants (`$x`, `@x` at top level, `FOO`).
    pub globals: HashMap<String, Value>,
    /// The environment (`ENV`).
    pub env: HashMap<String, String>,
    /// Settings.
    pub settings: Settings,
    /// The open group stack.
    pub groups: Vec<GroupRef<'pr>>,
    /// Examples defined so far.
    pub examples: Vec<Example<'pr>>,
    /// `shared_examples` by name.
    pub shared: HashMap<String, Rc<Node<'pr>>>,
    /// The running example, if any.
    pub example: Option<(Vec<GroupRef<'pr>>, ExampleState)>,
    /// A `require 'spec_helper'` seen (the caller evaluates the helper first).
    pub required_helper: bool,
    counter: usize,
}

/// The text of a constant id.
pub fn id_str(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The line a node starts on.
pub fn line_of(node: &Node<'_>) -> u32 {
    u32::try_from(node.location().start_line()).unwrap_or(0)
}

impl<'pr, 'h> Interp<'pr, 'h> {
    /// An evaluator for `file` on `host`.
    pub fn new(
        file: String,
        host: &'h Host,
        env: HashMap<String, String>,
        settings: Settings,
    ) -> Self {
        Interp {
            file,
            host,
            scopes: vec![HashMap::new()],
            globals: HashMap::new(),
            env,
            settings,
            groups: Vec::new(),
            examples: Vec::new(),
            shared: HashMap::new(),
            example: None,
            required_helper: false,
            counter: 0,
        }
    }

    pub(crate) fn unsupported<T>(&self, what: impl Into<String>, node: &Node<'_>) -> R<T> {
        Err(Fault::Unsupported(what.into(), line_of(node)))
    }

    pub(crate) fn error<T>(&self, what: impl Into<String>, node: &Node<'_>) -> R<T> {
        Err(Fault::Error(what.into(), line_of(node)))
    }

    /// Evaluates statements in order; the value of the last.
    pub fn eval_body(&mut self, node: Option<Node<'pr>>) -> R<Value> {
        let Some(node) = node else {
            return Ok(Value::Nil);
        };
        if let Some(st) = node.as_statements_node() {
            let mut last = Value::Nil;
            for n in st.body().iter() {
                last = self.eval(&n)?;
            }
            return Ok(last);
        }
        self.eval(&node)
    }

    /// Evaluates a statement list.
    pub fn eval_stmts(&mut self, st: Option<ruby_prism::StatementsNode<'pr>>) -> R<Value> {
        let mut last = Value::Nil;
        if let Some(st) = st {
            for n in st.body().iter() {
                last = self.eval(&n)?;
            }
        }
        Ok(last)
    }

    fn lookup_local(&self, name: &str) -> Option<Value> {
        self.scopes.iter().rev().find_map(|s| s.get(name).cloned())
    }

    fn assign_local(&mut self, name: String, value: Value) {
        for scope in self.scopes.iter_mut().rev() {
            if let Some(slot) = scope.get_mut(&name) {
                *slot = value;
                return;
            }
        }
        if let Some(last) = self.scopes.last_mut() {
            last.insert(name, value);
        }
    }

    /// Evaluates one node.
    pub fn eval(&mut self, node: &Node<'pr>) -> R<Value> {
        if let Some(v) = self.eval_literal(node)? {
            return Ok(v);
        }
        if let Some(v) = self.eval_variable(node)? {
            return Ok(v);
        }
        if let Some(v) = self.eval_control(node)? {
            return Ok(v);
        }
        if let Some(v) = self.eval_collection(node)? {
            return Ok(v);
        }
        if let Some(v) = self.eval_global(node)? {
            return Ok(v);
        }
        match node {
            Node::ProgramNode { .. } => {
                let p = node
                    .as_program_node()
                    .ok_or_else(|| Fault::Error("bad program".into(), 0))?;
                let st = p.statements();
                let mut last = Value::Nil;
                for n in st.body().iter() {
                    last = self.eval(&n)?;
                }
                Ok(last)
            }
            Node::StatementsNode { .. } => {
                let mut last = Value::Nil;
                if let Some(st) = node.as_statements_node() {
                    for n in st.body().iter() {
                        last = self.eval(&n)?;
                    }
                }
                Ok(last)
            }
            Node::ParenthesesNode { .. } => {
                let p = node
                    .as_parentheses_node()
                    .ok_or_else(|| Fault::Error("bad parens".into(), 0))?;
                self.eval_body(p.body())
            }
            Node::CaseNode { .. } => self.eval_case(node),
            Node::CallNode { .. } => self.eval_call(node),
            _ => self.unsupported(node_kind_name(node), node),
        }
    }

    /// Literals: nil, booleans, numbers, strings, symbols, regexps, arrays, hashes, ranges.
    fn eval_literal(&mut self, node: &Node<'pr>) -> R<Option<Value>> {
        let v = match node {
            Node::NilNode { .. } => Ok(Value::Nil),
            Node::TrueNode { .. } => Ok(Value::Bool(true)),
            Node::FalseNode { .. } => Ok(Value::Bool(false)),
            Node::IntegerNode { .. } => {
                let Some(i) = node.as_integer_node() else {
                    return Ok(Some(Value::Nil));
                };
                let v: Result<i32, _> = i.value().try_into();
                match v {
                    Ok(v) => Ok(Value::Int(i64::from(v))),
                    Err(_) => self.unsupported("an integer beyond 32 bits", node),
                }
            }
            Node::FloatNode { .. } => Ok(Value::Float(
                node.as_float_node().map_or(0.0, |f| f.value()),
            )),
            Node::StringNode { .. } => {
                let s = node
                    .as_string_node()
                    .map(|s| id_str(s.unescaped()))
                    .unwrap_or_default();
                Ok(Value::Str(s))
            }
            Node::SymbolNode { .. } => {
                let s = node
                    .as_symbol_node()
                    .map(|s| id_str(s.unescaped()))
                    .unwrap_or_default();
                Ok(Value::Sym(s))
            }
            Node::InterpolatedStringNode { .. } => {
                let Some(n) = node.as_interpolated_string_node() else {
                    return Ok(Some(Value::Nil));
                };
                Ok(Value::Str(self.interpolate(n.parts().iter())?))
            }
            Node::InterpolatedSymbolNode { .. } => {
                let Some(n) = node.as_interpolated_symbol_node() else {
                    return Ok(Some(Value::Nil));
                };
                Ok(Value::Sym(self.interpolate(n.parts().iter())?))
            }
            Node::RegularExpressionNode { .. } => {
                let Some(r) = node.as_regular_expression_node() else {
                    return Ok(Some(Value::Nil));
                };
                let src = id_str(r.unescaped());
                self.regex(
                    &src,
                    r.is_ignore_case(),
                    r.is_multi_line(),
                    r.is_extended(),
                    node,
                )
            }
            Node::InterpolatedRegularExpressionNode { .. } => {
                let Some(r) = node.as_interpolated_regular_expression_node() else {
                    return Ok(Some(Value::Nil));
                };
                let src = self.interpolate(r.parts().iter())?;
                self.regex(
                    &src,
                    r.is_ignore_case(),
                    r.is_multi_line(),
                    r.is_extended(),
                    node,
                )
            }
            _ => return Ok(None),
        };
        Ok(Some(v?))
    }

    /// Arrays, hashes and ranges.
    fn eval_collection(&mut self, node: &Node<'pr>) -> R<Option<Value>> {
        let v = match node {
            Node::ArrayNode { .. } => {
                let Some(a) = node.as_array_node() else {
                    return Ok(Some(Value::Nil));
                };
                let mut items = Vec::new();
                for e in a.elements().iter() {
                    if e.as_splat_node().is_some() {
                        return self.unsupported("splat `*` in an array", &e);
                    }
                    items.push(self.eval(&e)?);
                }
                Ok(Value::Array(items))
            }
            Node::HashNode { .. } => {
                let Some(h) = node.as_hash_node() else {
                    return Ok(Some(Value::Nil));
                };
                self.hash_pairs(h.elements().iter())
            }
            Node::KeywordHashNode { .. } => {
                let Some(h) = node.as_keyword_hash_node() else {
                    return Ok(Some(Value::Nil));
                };
                self.hash_pairs(h.elements().iter())
            }
            Node::RangeNode { .. } => {
                let Some(r) = node.as_range_node() else {
                    return Ok(Some(Value::Nil));
                };
                let lo = match r.left() {
                    Some(n) => self.eval(&n)?,
                    None => Value::Nil,
                };
                let hi = match r.right() {
                    Some(n) => self.eval(&n)?,
                    None => Value::Nil,
                };
                match (lo, hi) {
                    (Value::Int(a), Value::Int(b)) => {
                        Ok(Value::Range(a, if r.is_exclude_end() { b - 1 } else { b }))
                    }
                    _ => self.unsupported("a range of non-integers", node),
                }
            }
            _ => return Ok(None),
        };
        Ok(Some(v?))
    }

    /// Local, instance and global variables and constants.
    fn eval_variable(&mut self, node: &Node<'pr>) -> R<Option<Value>> {
        let v = match node {
            Node::LocalVariableReadNode { .. } => {
                let name = node
                    .as_local_variable_read_node()
                    .map(|n| id_str(n.name().as_slice()))
                    .unwrap_or_default();
                Ok(self.lookup_local(&name).unwrap_or(Value::Nil))
            }
            Node::LocalVariableWriteNode { .. } => {
                let Some(w) = node.as_local_variable_write_node() else {
                    return Ok(Some(Value::Nil));
                };
                let v = self.eval(&w.value())?;
                self.assign_local(id_str(w.name().as_slice()), v.clone());
                Ok(v)
            }
            Node::LocalVariableOperatorWriteNode { .. } => {
                let Some(w) = node.as_local_variable_operator_write_node() else {
                    return Ok(Some(Value::Nil));
                };
                let name = id_str(w.name().as_slice());
                let op = id_str(w.binary_operator().as_slice());
                let cur = self.lookup_local(&name).unwrap_or(Value::Nil);
                let rhs = self.eval(&w.value())?;
                let v = super::calls::method_value(self, cur, &op, vec![rhs], node)?;
                self.assign_local(name, v.clone());
                Ok(v)
            }
            Node::LocalVariableOrWriteNode { .. } => {
                let Some(w) = node.as_local_variable_or_write_node() else {
                    return Ok(Some(Value::Nil));
                };
                let name = id_str(w.name().as_slice());
                match self.lookup_local(&name) {
                    Some(v) if v.truthy() => Ok(v),
                    _ => {
                        let v = self.eval(&w.value())?;
                        self.assign_local(name, v.clone());
                        Ok(v)
                    }
                }
            }
            _ => return Ok(None),
        };
        Ok(Some(v?))
    }

    /// Instance and global variables and constants.
    fn eval_global(&mut self, node: &Node<'pr>) -> R<Option<Value>> {
        let v = match node {
            Node::InstanceVariableReadNode { .. } => {
                let name = node
                    .as_instance_variable_read_node()
                    .map(|n| id_str(n.name().as_slice()))
                    .unwrap_or_default();
                Ok(self.globals.get(&name).cloned().unwrap_or(Value::Nil))
            }
            Node::InstanceVariableWriteNode { .. } => {
                let Some(w) = node.as_instance_variable_write_node() else {
                    return Ok(Some(Value::Nil));
                };
                let v = self.eval(&w.value())?;
                self.globals.insert(id_str(w.name().as_slice()), v.clone());
                Ok(v)
            }
            Node::GlobalVariableReadNode { .. } => {
                let name = node
                    .as_global_variable_read_node()
                    .map(|n| id_str(n.name().as_slice()))
                    .unwrap_or_default();
                Ok(self.globals.get(&name).cloned().unwrap_or(Value::Nil))
            }
            Node::GlobalVariableWriteNode { .. } => {
                let Some(w) = node.as_global_variable_write_node() else {
                    return Ok(Some(Value::Nil));
                };
                let v = self.eval(&w.value())?;
                self.globals.insert(id_str(w.name().as_slice()), v.clone());
                Ok(v)
            }
            Node::ConstantWriteNode { .. } => {
                let Some(w) = node.as_constant_write_node() else {
                    return Ok(Some(Value::Nil));
                };
                let v = self.eval(&w.value())?;
                self.globals.insert(id_str(w.name().as_slice()), v.clone());
                Ok(v)
            }
            Node::ConstantReadNode { .. } => {
                let name = node
                    .as_constant_read_node()
                    .map(|n| id_str(n.name().as_slice()))
                    .unwrap_or_default();
                match self.globals.get(&name) {
                    Some(v) => Ok(v.clone()),
                    None => self.unsupported(format!("constant `{name}`"), node),
                }
            }
            _ => return Ok(None),
        };
        Ok(Some(v?))
    }

    /// `and`/`or`, `if`/`unless`/`else`.
    fn eval_control(&mut self, node: &Node<'pr>) -> R<Option<Value>> {
        let v = match node {
            Node::AndNode { .. } => {
                let Some(a) = node.as_and_node() else {
                    return Ok(Some(Value::Nil));
                };
                let l = self.eval(&a.left())?;
                if !l.truthy() {
                    return Ok(Some(l));
                }
                self.eval(&a.right())
            }
            Node::OrNode { .. } => {
                let Some(a) = node.as_or_node() else {
                    return Ok(Some(Value::Nil));
                };
                let l = self.eval(&a.left())?;
                if l.truthy() {
                    return Ok(Some(l));
                }
                self.eval(&a.right())
            }
            Node::IfNode { .. } => {
                let Some(i) = node.as_if_node() else {
                    return Ok(Some(Value::Nil));
                };
                if self.eval(&i.predicate())?.truthy() {
                    self.eval_stmts(i.statements())
                } else {
                    self.eval_body(i.subsequent())
                }
            }
            Node::UnlessNode { .. } => {
                let Some(i) = node.as_unless_node() else {
                    return Ok(Some(Value::Nil));
                };
                if !self.eval(&i.predicate())?.truthy() {
                    self.eval_stmts(i.statements())
                } else {
                    match i.else_clause() {
                        Some(e) => self.eval_stmts(e.statements()),
                        None => Ok(Value::Nil),
                    }
                }
            }
            Node::ElseNode { .. } => {
                let Some(e) = node.as_else_node() else {
                    return Ok(Some(Value::Nil));
                };
                self.eval_stmts(e.statements())
            }
            _ => return Ok(None),
        };
        Ok(Some(v?))
    }

    fn regex(&self, src: &str, i: bool, m: bool, x: bool, node: &Node<'_>) -> R<Value> {
        match RubyRegex::new(src, i, m, x) {
            Ok(r) => Ok(Value::Regex(r)),
            Err(e) => self.unsupported(format!("regexp: {e}"), node),
        }
    }

    fn interpolate(&mut self, parts: ruby_prism::NodeListIter<'pr>) -> R<String> {
        let mut out = String::new();
        for part in parts {
            match &part {
                Node::StringNode { .. } => {
                    if let Some(s) = part.as_string_node() {
                        out.push_str(&id_str(s.unescaped()));
                    }
                }
                Node::EmbeddedStatementsNode { .. } => {
                    let Some(e) = part.as_embedded_statements_node() else {
                        continue;
                    };
                    let v = self.eval_stmts(e.statements())?;
                    out.push_str(&v.to_s());
                }
                Node::EmbeddedVariableNode { .. } => {
                    let Some(e) = part.as_embedded_variable_node() else {
                        continue;
                    };
                    out.push_str(&self.eval(&e.variable())?.to_s());
                }
                other => {
                    let v = self.eval(other)?;
                    out.push_str(&v.to_s());
                }
            }
        }
        Ok(out)
    }

    fn hash_pairs(&mut self, elements: ruby_prism::NodeListIter<'pr>) -> R<Value> {
        let mut pairs: Vec<(Value, Value)> = Vec::new();
        for e in elements {
            let Some(a) = e.as_assoc_node() else {
                return self.unsupported("`**` in a hash", &e);
            };
            let k = self.eval(&a.key())?;
            let v = self.eval(&a.value())?;
            if let Some(slot) = pairs.iter_mut().find(|(x, _)| x.equals(&k)) {
                slot.1 = v;
            } else {
                pairs.push((k, v));
            }
        }
        Ok(Value::Hash(pairs))
    }

    fn eval_case(&mut self, node: &Node<'pr>) -> R<Value> {
        let Some(c) = node.as_case_node() else {
            return Ok(Value::Nil);
        };
        let subject = match c.predicate() {
            Some(p) => Some(self.eval(&p)?),
            None => None,
        };
        for w in c.conditions().iter() {
            let Some(w) = w.as_when_node() else {
                return self.unsupported("`case … in` pattern matching", node);
            };
            for cond in w.conditions().iter() {
                let v = self.eval(&cond)?;
                let hit = match &subject {
                    Some(s) => case_eq(&v, s),
                    None => v.truthy(),
                };
                if hit {
                    return self.eval_stmts(w.statements());
                }
            }
        }
        match c.else_clause() {
            Some(e) => self.eval_stmts(e.statements()),
            None => Ok(Value::Nil),
        }
    }

    /// Arguments of a call, evaluated (keyword arguments become a trailing hash).
    pub fn args(&mut self, call: &ruby_prism::CallNode<'pr>) -> R<Vec<Value>> {
        let mut out = Vec::new();
        if let Some(args) = call.arguments() {
            for a in args.arguments().iter() {
                if a.as_splat_node().is_some() || a.as_block_argument_node().is_some() {
                    return self.unsupported("splat or block argument", &a);
                }
                out.push(self.eval(&a)?);
            }
        }
        Ok(out)
    }

    /// Runs a block with parameters bound to `params`, in a new scope.
    pub fn call_block(&mut self, block: &Node<'pr>, params: Vec<Value>) -> R<Value> {
        let Some(b) = block.as_block_node() else {
            return self.unsupported("a block argument (`&`)", block);
        };
        let mut scope = HashMap::new();
        if let Some(p) = b.parameters() {
            let Some(bp) = p.as_block_parameters_node() else {
                return self.unsupported("numbered block parameters", block);
            };
            if let Some(ps) = bp.parameters() {
                let names: Vec<Node<'pr>> = ps.requireds().iter().collect();
                let single_array = names.len() > 1 && params.len() == 1;
                let values = if single_array {
                    match &params[0] {
                        Value::Array(a) => a.clone(),
                        v => vec![v.clone()],
                    }
                } else {
                    params
                };
                for (i, n) in names.iter().enumerate() {
                    if let Some(r) = n.as_required_parameter_node() {
                        scope.insert(
                            id_str(r.name().as_slice()),
                            values.get(i).cloned().unwrap_or(Value::Nil),
                        );
                    } else {
                        return self.unsupported("destructuring block parameters", n);
                    }
                }
                if ps.optionals().iter().next().is_some()
                    || ps.rest().is_some()
                    || ps.keywords().iter().next().is_some()
                {
                    return self.unsupported("optional or rest block parameters", block);
                }
            }
        }
        self.scopes.push(scope);
        let r = self.eval_body(b.body());
        self.scopes.pop();
        r
    }

    fn eval_call(&mut self, node: &Node<'pr>) -> R<Value> {
        let Some(call) = node.as_call_node() else {
            return Ok(Value::Nil);
        };
        let name = id_str(call.name().as_slice());
        if let Some(recv) = call.receiver() {
            let expects = recv.as_call_node().is_some_and(|c| {
                c.receiver().is_none() && matches!(c.name().as_slice(), b"expect" | b"is_expected")
            });
            if expects && matches!(name.as_str(), "to" | "not_to" | "to_not") {
                return super::calls::expectation(self, &recv, &call, node, name != "to");
            }
            if name == "should" || name == "should_not" {
                let subject = self.eval(&recv)?;
                return super::calls::should_on(self, subject, &call, node, name == "should_not");
            }
            if let Some(c) = recv.as_constant_read_node() {
                let cname = id_str(c.name().as_slice());
                if cname == "ENV" {
                    return self.env_call(&name, &call, node);
                }
                if cname == "RSpec" {
                    return self.rspec_call(&name, &call, node);
                }
                if cname == "File"
                    && matches!(
                        name.as_str(),
                        "exist?"
                            | "exists?"
                            | "directory?"
                            | "file?"
                            | "dirname"
                            | "basename"
                            | "join"
                            | "expand_path"
                    )
                {
                    return self.file_class(&name, &call, node);
                }
            }
            let r = self.eval(&recv)?;
            return super::calls::method_call(self, r, &name, &call, node);
        }
        super::calls::bare_call(self, &name, &call, node)
    }

    fn env_call(
        &mut self,
        name: &str,
        call: &ruby_prism::CallNode<'pr>,
        node: &Node<'pr>,
    ) -> R<Value> {
        let args = self.args(call)?;
        let key = args.first().map(Value::to_s).unwrap_or_default();
        match name {
            "[]" => Ok(self
                .env
                .get(&key)
                .map_or(Value::Nil, |v| Value::Str(v.clone()))),
            "fetch" => match (self.env.get(&key), args.get(1)) {
                (Some(v), _) => Ok(Value::Str(v.clone())),
                (None, Some(d)) => Ok(d.clone()),
                (None, None) => self.error(
                    format!("key not found: {}", Value::Str(key).inspect()),
                    node,
                ),
            },
            "key?" | "has_key?" | "include?" => Ok(Value::Bool(self.env.contains_key(&key))),
            _ => self.unsupported(format!("ENV.{name}"), node),
        }
    }

    fn rspec_call(
        &mut self,
        name: &str,
        call: &ruby_prism::CallNode<'pr>,
        node: &Node<'pr>,
    ) -> R<Value> {
        match name {
            "describe" => super::calls::bare_call(self, "describe", call, node),
            "shared_examples" | "shared_examples_for" | "shared_context" => {
                super::calls::bare_call(self, name, call, node)
            }
            "configure" => {
                let Some(b) = call.block() else {
                    return Ok(Value::Nil);
                };
                let Some(bn) = b.as_block_node() else {
                    return Ok(Value::Nil);
                };
                let body = bn.body();
                if let Some(body) = body
                    && let Some(st) = body.as_statements_node()
                {
                    for s in st.body().iter() {
                        let ok = s.as_call_node().is_some_and(|c| {
                            let n = id_str(c.name().as_slice());
                            c.receiver().is_some() && n.ends_with('=')
                        });
                        if !ok {
                            return self.unsupported(
                                "RSpec.configure doing more than setting options",
                                &s,
                            );
                        }
                    }
                }
                Ok(Value::Nil)
            }
            _ => self.unsupported(format!("RSpec.{name}"), node),
        }
    }

    fn file_class(
        &mut self,
        name: &str,
        call: &ruby_prism::CallNode<'pr>,
        node: &Node<'pr>,
    ) -> R<Value> {
        let args = self.args(call)?;
        let a = args.first().map(Value::to_s).unwrap_or_default();
        let p = std::path::Path::new(&a);
        Ok(match name {
            "dirname" => Value::Str(
                p.parent()
                    .map(|x| x.display().to_string())
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| ".".into()),
            ),
            "basename" => Value::Str(
                p.file_name()
                    .map(|x| x.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
            "join" => Value::Str(args.iter().map(Value::to_s).collect::<Vec<_>>().join("/")),
            "expand_path" => return self.unsupported("File.expand_path", node),
            _ => {
                return self.unsupported(
                    format!("File.{name} (reads the machine running the specs)"),
                    node,
                );
            }
        })
    }

    /// Allocates a fresh order number for a definition.
    pub fn next_order(&mut self) -> usize {
        self.counter += 1;
        self.counter
    }

    /// Opens a group, evaluates its body, closes it.
    pub fn with_group(&mut self, mut group: Group<'pr>, body: Option<&Node<'pr>>) -> R<()> {
        group.seq = self.next_order();
        self.groups.push(Rc::new(RefCell::new(group)));
        self.scopes.push(HashMap::new());
        let r = match body {
            Some(b) => self.call_block(b, Vec::new()).map(|_| ()),
            None => Ok(()),
        };
        self.scopes.pop();
        self.groups.pop();
        r
    }

    /// Records an example in the current group.
    pub fn add_example(
        &mut self,
        description: Option<String>,
        line: u32,
        body: Option<Node<'pr>>,
        mark: Mark,
    ) {
        let order = (self.groups.len(), self.next_order());
        self.examples.push(Example {
            groups: self.groups.clone(),
            description,
            line,
            body: body.map(Rc::new),
            scopes: self.scopes.clone(),
            mark,
            order,
        });
    }
}

/// Ruby's `===` as `case`/`when` uses it.
pub fn case_eq(pattern: &Value, v: &Value) -> bool {
    match (pattern, v) {
        (Value::Regex(r), Value::Str(s) | Value::Sym(s)) => r.compiled.is_match(s),
        (Value::Range(a, b), Value::Int(i)) => a <= i && i <= b,
        _ => pattern.equals(v),
    }
}

/// A readable name of a node kind (`DefNode` → "def (a method definition)").
pub fn node_kind_name(node: &Node<'_>) -> String {
    let raw = match node {
        Node::DefNode { .. } => "`def` (method definitions)",
        Node::ClassNode { .. } => "`class`",
        Node::ModuleNode { .. } => "`module`",
        Node::BeginNode { .. } => "`begin`/`rescue`",
        Node::WhileNode { .. } => "`while`",
        Node::UntilNode { .. } => "`until`",
        Node::ForNode { .. } => "`for`",
        Node::XStringNode { .. } | Node::InterpolatedXStringNode { .. } => {
            "backticks (a command run by Ruby itself)"
        }
        Node::LambdaNode { .. } => "lambdas",
        Node::YieldNode { .. } => "`yield`",
        Node::ReturnNode { .. } => "`return`",
        Node::MultiWriteNode { .. } => "multiple assignment",
        Node::ConstantPathNode { .. } => "a constant path (`A::B`)",
        Node::SelfNode { .. } => "`self`",
        Node::InstanceVariableOrWriteNode { .. } => "`@x ||=`",
        Node::RescueModifierNode { .. } => "`rescue` modifier",
        Node::SuperNode { .. } | Node::ForwardingSuperNode { .. } => "`super`",
        Node::DefinedNode { .. } => "`defined?`",
        Node::MatchPredicateNode { .. } | Node::MatchRequiredNode { .. } => "pattern matching",
        Node::SourceFileNode { .. } => "`__FILE__`",
        _ => "",
    };
    if raw.is_empty() {
        "this Ruby syntax".to_string()
    } else {
        raw.to_string()
    }
}
