//! Calls without a receiver (the rspec and serverspec DSL, resources,
//! matchers, `let`s) and methods on values (the common String, Array,
//! Hash and Integer methods; resource attributes; matcher chains).

use std::rc::Rc;

use ruby_prism::{CallNode, Node};

use super::dsl::{Group, Mark};
use super::eval::{Fault, Interp, R, id_str, line_of};
use super::matchers::{Failure, Matcher};
use super::resources::{KINDS, Resource};
use super::value::{RubyRegex, Value};

const GROUP_WORDS: &[&str] = &[
    "describe",
    "context",
    "feature",
    "xdescribe",
    "xcontext",
    "example_group",
];
const EXAMPLE_WORDS: &[&str] = &[
    "it", "specify", "example", "scenario", "xit", "xspecify", "xexample",
];
const LIBRARIES: &[&str] = &[
    "serverspec",
    "specinfra",
    "json",
    "yaml",
    "rspec",
    "net/ssh",
    "docker",
    "docker-api",
    "rubygems",
    "set",
    "pathname",
];

/// Metadata that decides whether a group or example runs.
enum Filter {
    Run(Option<String>),
    Exclude,
}

/// A call with no receiver.
pub fn bare_call<'pr>(
    it: &mut Interp<'pr, '_>,
    name: &str,
    call: &CallNode<'pr>,
    node: &Node<'pr>,
) -> R<Value> {
    if call.arguments().is_none()
        && call.block().is_none()
        && let Some(v) = lookup_let(it, name, node)?
    {
        return Ok(v);
    }
    match name {
        n if GROUP_WORDS.contains(&n) => define_group(it, n, call, node),
        n if EXAMPLE_WORDS.contains(&n) => define_example(it, n, call, node),
        "its" => define_its(it, call, node),
        "pending" | "skip" => {
            if it.example.is_some() {
                let reason = it
                    .args(call)?
                    .first()
                    .map(Value::to_s)
                    .unwrap_or_else(|| "No reason given".into());
                if name == "skip" {
                    return Err(Fault::Skip(reason));
                }
                if let Some((_, st)) = it.example.as_mut() {
                    st.pending = Some(reason);
                }
                return Ok(Value::Nil);
            }
            define_example(it, name, call, node)
        }
        "let" | "let!" | "subject" | "subject!" if it.example.is_none() => {
            define_let(it, name, call, node)
        }
        "subject" => current_subject(it, node),
        "before" | "prepend_before" | "append_before" => {
            let args = it.args(call)?;
            if args
                .iter()
                .any(|a| matches!(a, Value::Sym(s) if s == "all" || s == "context" || s == "suite"))
            {
                return it.unsupported("before(:all)", node);
            }
            let Some(block) = call.block() else {
                return Ok(Value::Nil);
            };
            let scopes = it.scopes.clone();
            if let Some(g) = it.groups.last() {
                g.borrow_mut().befores.push((Rc::new(block), scopes));
            }
            Ok(Value::Nil)
        }
        "after" | "around" => it.unsupported(format!("`{name}` hooks"), node),
        "shared_examples" | "shared_examples_for" | "shared_context" => {
            let args = it.args(call)?;
            let key = args.first().map(Value::to_s).unwrap_or_default();
            if let Some(block) = call.block() {
                it.shared.insert(key, Rc::new(block));
            }
            Ok(Value::Nil)
        }
        "it_behaves_like" | "it_should_behave_like" | "include_examples" | "include_context" => {
            include_shared(it, name, call, node)
        }
        "should" | "should_not" => {
            let subject = current_subject(it, node)?;
            expect_with(it, subject, call, node, name == "should_not")
        }
        "is_expected" => it.unsupported("`is_expected` without `.to`", node),
        "expect" => it.unsupported("`expect` without `.to`", node),
        _ => kernel_call(it, name, call, node),
    }
}

fn matcher<'pr>(
    it: &mut Interp<'pr, '_>,
    name: &str,
    call: &CallNode<'pr>,
    node: &Node<'pr>,
) -> R<Value> {
    if call.block().is_some() {
        return it.unsupported(format!("`{name}` with a block"), node);
    }
    let args = it.args(call)?;
    let first = || args.first().cloned().unwrap_or(Value::Nil);
    let m = match name {
        "eq" | "eql" | "equal" => {
            let w: &'static str = match name {
                "eq" => "eq",
                "eql" => "eql",
                _ => "equal",
            };
            Matcher::Eq(w, first())
        }
        "be" if args.is_empty() => Matcher::Compare(String::new(), Value::Nil),
        "be" => Matcher::Eq("equal", first()),
        "match" => Matcher::Match(first()),
        "include" => Matcher::Collection("include", args),
        "start_with" => Matcher::Collection("start_with", args),
        "end_with" => Matcher::Collection("end_with", args),
        "be_within" => Matcher::Within(first(), None),
        "be_truthy" => Matcher::Truth("truthy"),
        "be_falsey" | "be_falsy" => Matcher::Truth("falsey"),
        "be_nil" => Matcher::Truth("nil"),
        n if n.starts_with("be_")
            || n.starts_with("have_")
            || n.starts_with("belong_to_")
            || n == "contain"
            || n == "exist" =>
        {
            if matches!(
                n,
                "be_a"
                    | "be_an"
                    | "be_kind_of"
                    | "be_instance_of"
                    | "be_an_instance_of"
                    | "have_attributes"
            ) {
                return it.unsupported(format!("matcher `{n}`"), node);
            }
            let mut args = args;
            if n == "have_authorized_key"
                && let Some(Value::Str(key)) = args.first_mut()
            {
                // serverspec trims the key's comment in place, so the
                // example name shows the trimmed key.
                let words: Vec<&str> = key.split_whitespace().collect();
                if words.len() == 3 {
                    *key = format!("{} {}", words[0], words[1]);
                }
            }
            Matcher::Predicate {
                word: n.to_string(),
                args,
                chains: Vec::new(),
            }
        }
        _ => return it.unsupported(format!("method `{name}`"), node),
    };
    Ok(Value::Matcher(Rc::new(m)))
}

fn lookup_let<'pr>(it: &mut Interp<'pr, '_>, name: &str, node: &Node<'pr>) -> R<Option<Value>> {
    let Some((groups, st)) = it.example.as_ref() else {
        return Ok(None);
    };
    if let Some(v) = st.memo.get(name) {
        return Ok(Some(v.clone()));
    }
    let block = groups.iter().rev().find_map(|g| {
        let g = g.borrow();
        g.lets
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, b)| b.clone())
            .or_else(|| match &g.subject {
                Some((Some(n), b)) if n == name => Some(b.clone()),
                _ => None,
            })
    });
    let Some(block) = block else { return Ok(None) };
    let _ = node;
    let v = it.call_block(&block, Vec::new())?;
    if let Some((_, st)) = it.example.as_mut() {
        st.memo.insert(name.to_string(), v.clone());
    }
    Ok(Some(v))
}

/// The implicit or explicit subject of the running example.
pub fn current_subject<'pr>(it: &mut Interp<'pr, '_>, node: &Node<'pr>) -> R<Value> {
    if let Some((_, st)) = it.example.as_ref()
        && let Some(v) = st.memo.get("subject")
    {
        return Ok(v.clone());
    }
    let groups = match it.example.as_ref() {
        Some((g, _)) => g.clone(),
        None => return it.unsupported("`subject` outside an example", node),
    };
    let v = subject_at(it, &groups, groups.len(), node)?;
    if let Some((_, st)) = it.example.as_mut() {
        st.memo.insert("subject".into(), v.clone());
    }
    Ok(v)
}

fn subject_at<'pr>(
    it: &mut Interp<'pr, '_>,
    groups: &[super::dsl::GroupRef<'pr>],
    depth: usize,
    node: &Node<'pr>,
) -> R<Value> {
    for i in (0..depth).rev() {
        let (subject, its, described) = {
            let g = groups[i].borrow();
            (
                g.subject.as_ref().map(|(_, b)| b.clone()),
                g.its.clone(),
                g.described.clone(),
            )
        };
        if let Some(block) = subject {
            return it.call_block(&block, Vec::new());
        }
        if let Some(attr) = its {
            let parent = subject_at(it, groups, i, node)?;
            let attr = match attr {
                Value::Sym(s) | Value::Str(s) => s,
                _ => return it.unsupported("`its` with a non-symbol attribute", node),
            };
            let mut v = parent;
            for part in attr.split('.') {
                v = method_value(it, v, part, Vec::new(), node)?;
            }
            return Ok(v);
        }
        if let Some(d) = described {
            return Ok(d);
        }
    }
    let first = groups.last().and_then(|g| g.borrow().first_arg.clone());
    Ok(first.unwrap_or(Value::Nil))
}

/// `subject.should matcher`.
pub fn should_on<'pr>(
    it: &mut Interp<'pr, '_>,
    subject: Value,
    call: &CallNode<'pr>,
    node: &Node<'pr>,
    negated: bool,
) -> R<Value> {
    expect_with(it, subject, call, node, negated)
}

fn expect_with<'pr>(
    it: &mut Interp<'pr, '_>,
    subject: Value,
    call: &CallNode<'pr>,
    node: &Node<'pr>,
    negated: bool,
) -> R<Value> {
    if it.example.is_none() {
        return it.unsupported("an expectation outside an example", node);
    }
    let args = it.args(call)?;
    let Some(Value::Matcher(m)) = args.first() else {
        return it.unsupported("`should` without a matcher", node);
    };
    apply(it, &subject, m, negated, node)
}

fn apply<'pr>(
    it: &mut Interp<'pr, '_>,
    subject: &Value,
    m: &Matcher,
    negated: bool,
    node: &Node<'pr>,
) -> R<Value> {
    if let Matcher::Compare(op, _) = m
        && op.is_empty()
    {
        return it.unsupported("bare `be`", node);
    }
    if let Some((_, st)) = it.example.as_mut() {
        st.last = Some((m.description(), negated));
    }
    match m.matches(it.host, subject) {
        Ok(ok) if ok != negated => Ok(Value::Bool(true)),
        Ok(_) => Err(Fault::Expectation(match subject {
            Value::Resource(r) => format!(
                "expected {}{} to {}",
                r.to_s(),
                if negated { " not" } else { "" },
                m.description()
            ),
            v => m.failure_message(v, negated),
        })),
        Err(Failure::Unsupported(what)) => it.unsupported(what, node),
        Err(Failure::Error(e)) => it.error(e, node),
        Err(Failure::Mismatch(msg)) => Err(Fault::Expectation(msg)),
    }
}

/// `expect(x).to m`, `is_expected.not_to m`.
pub fn expectation<'pr>(
    it: &mut Interp<'pr, '_>,
    recv: &Node<'pr>,
    call: &CallNode<'pr>,
    node: &Node<'pr>,
    negated: bool,
) -> R<Value> {
    let Some(rc) = recv.as_call_node() else {
        return it.unsupported("`.to` on something other than expect/is_expected", node);
    };
    let rname = id_str(rc.name().as_slice());
    let subject = match (rname.as_str(), rc.receiver()) {
        ("is_expected", None) => current_subject(it, node)?,
        ("expect", None) => {
            if rc.block().is_some() {
                return it.unsupported("`expect { … }` block expectations", node);
            }
            it.args(&rc)?.into_iter().next().unwrap_or(Value::Nil)
        }
        _ => return it.unsupported("`.to` on something other than expect/is_expected", node),
    };
    expect_with(it, subject, call, node, negated)
}

fn parse_filter<'pr>(it: &Interp<'pr, '_>, meta: &[Value]) -> Filter {
    let _ = it;
    let mut skip = None;
    for m in meta {
        match m {
            Value::Sym(s) if s == "skip" || s == "pending" => {
                skip = Some("No reason given".to_string())
            }
            Value::Hash(pairs) => {
                for (k, v) in pairs {
                    match k.to_s().as_str() {
                        "if" if !v.truthy() => return Filter::Exclude,
                        "unless" if v.truthy() => return Filter::Exclude,
                        "skip" | "pending" if v.truthy() => {
                            skip = Some(match v {
                                Value::Str(s) => s.clone(),
                                _ => "No reason given".into(),
                            })
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Filter::Run(skip)
}

fn define_group<'pr>(
    it: &mut Interp<'pr, '_>,
    word: &str,
    call: &CallNode<'pr>,
    _node: &Node<'pr>,
) -> R<Value> {
    let args = it.args(call)?;
    let first = args.first().cloned().unwrap_or(Value::Nil);
    let mut parts = vec![first.to_s()];
    let mut meta = Vec::new();
    for a in args.iter().skip(1) {
        match a {
            Value::Str(s) => parts.push(s.clone()),
            other => meta.push(other.clone()),
        }
    }
    let skip = match parse_filter(it, &meta) {
        Filter::Exclude => return Ok(Value::Nil),
        Filter::Run(s) => s,
    };
    let mut g = Group::new(parts.join(" "));
    g.described = match &first {
        Value::Str(_) | Value::Nil => None,
        v => Some(v.clone()),
    };
    g.first_arg = Some(first);
    g.skip = if word.starts_with('x') {
        Some("Temporarily skipped with ".to_string() + word)
    } else {
        skip
    };
    let block = call.block();
    it.with_group(g, block.as_ref())?;
    Ok(Value::Nil)
}

fn define_example<'pr>(
    it: &mut Interp<'pr, '_>,
    word: &str,
    call: &CallNode<'pr>,
    node: &Node<'pr>,
) -> R<Value> {
    if it.groups.is_empty() {
        return it.unsupported(format!("`{word}` outside a describe"), node);
    }
    let args = it.args(call)?;
    let (desc, meta): (Option<String>, Vec<Value>) = match args.first() {
        Some(Value::Str(s)) => (Some(s.clone()), args[1..].to_vec()),
        Some(v @ Value::Sym(_)) if args.len() == 1 && word.starts_with('x') => {
            (None, vec![v.clone()])
        }
        Some(Value::Hash(_)) | Some(Value::Sym(_)) | None => (None, args.clone()),
        Some(other) => (Some(other.to_s()), args[1..].to_vec()),
    };
    let mark = match parse_filter(it, &meta) {
        Filter::Exclude => return Ok(Value::Nil),
        Filter::Run(Some(why)) => Mark::Skip(why),
        Filter::Run(None) => Mark::Run,
    };
    let block = call.block();
    let mark = match word {
        "xit" | "xspecify" | "xexample" => Mark::Skip(format!("Temporarily skipped with {word}")),
        "skip" => Mark::Skip(desc_reason(&args)),
        "pending" if block.is_none() => Mark::Pending(desc_reason(&args)),
        "pending" => Mark::Pending(String::new()),
        _ if block.is_none() && mark == Mark::Run => Mark::Skip("Not yet implemented".into()),
        _ => mark,
    };
    it.add_example(desc, line_of(node), block, mark);
    Ok(Value::Nil)
}

fn desc_reason(args: &[Value]) -> String {
    let _ = args;
    "No reason given".into()
}

fn define_its<'pr>(it: &mut Interp<'pr, '_>, call: &CallNode<'pr>, node: &Node<'pr>) -> R<Value> {
    let args = it.args(call)?;
    let attr = args.first().cloned().unwrap_or(Value::Nil);
    let description = match &attr {
        Value::Sym(s) | Value::Str(s) => s.clone(),
        other => other.inspect(),
    };
    let mut g = Group::new(description);
    g.its = Some(attr);
    g.seq = it.next_order();
    let mark = match parse_filter(it, &args[1.min(args.len())..]) {
        Filter::Exclude => return Ok(Value::Nil),
        Filter::Run(Some(why)) => Mark::Skip(why),
        Filter::Run(None) => Mark::Run,
    };
    it.groups.push(Rc::new(std::cell::RefCell::new(g)));
    it.add_example(None, line_of(node), call.block(), mark);
    it.groups.pop();
    Ok(Value::Nil)
}

fn define_let<'pr>(
    it: &mut Interp<'pr, '_>,
    word: &str,
    call: &CallNode<'pr>,
    node: &Node<'pr>,
) -> R<Value> {
    let args = it.args(call)?;
    let Some(block) = call.block() else {
        return it.unsupported(format!("`{word}` without a block"), node);
    };
    if word.ends_with('!') {
        return it.unsupported(format!("`{word}`"), node);
    }
    let Some(g) = it.groups.last().cloned() else {
        return it.unsupported(format!("`{word}` outside a describe"), node);
    };
    let name = args.first().map(Value::to_s);
    if word.starts_with("subject") {
        g.borrow_mut().subject = Some((name, Rc::new(block)));
    } else if let Some(name) = name {
        g.borrow_mut().lets.push((name, Rc::new(block)));
    }
    Ok(Value::Nil)
}

fn include_shared<'pr>(
    it: &mut Interp<'pr, '_>,
    word: &str,
    call: &CallNode<'pr>,
    node: &Node<'pr>,
) -> R<Value> {
    let args = it.args(call)?;
    let key = args.first().map(Value::to_s).unwrap_or_default();
    let Some(body) = it.shared.get(&key).cloned() else {
        return it.error(
            format!(
                "Could not find shared examples {}",
                Value::Str(key).inspect()
            ),
            node,
        );
    };
    if call.block().is_some() {
        return it.unsupported(format!("`{word}` with a block"), node);
    }
    let params: Vec<Value> = args.into_iter().skip(1).collect();
    if word == "include_examples" || word == "include_context" {
        it.scopes.push(Default::default());
        let r = it.call_block(&body, params);
        it.scopes.pop();
        return r.map(|_| Value::Nil);
    }
    let mut g = Group::new(format!("behaves like {key}"));
    g.seq = it.next_order();
    it.groups.push(Rc::new(std::cell::RefCell::new(g)));
    it.scopes.push(Default::default());
    let r = it.call_block(&body, params);
    it.scopes.pop();
    it.groups.pop();
    r.map(|_| Value::Nil)
}

/// A method call on a value.
pub fn method_call<'pr>(
    it: &mut Interp<'pr, '_>,
    recv: Value,
    name: &str,
    call: &CallNode<'pr>,
    node: &Node<'pr>,
) -> R<Value> {
    if let Some(block) = call.block() {
        let args = it.args(call)?;
        return block_method(it, recv, name, args, &block, node);
    }
    let args = it.args(call)?;
    method_value(it, recv, name, args, node)
}

fn iter_items(v: &Value) -> Option<Vec<Value>> {
    match v {
        Value::Array(a) => Some(a.clone()),
        Value::Range(a, b) => Some((*a..=*b).map(Value::Int).collect()),
        Value::Hash(h) => Some(
            h.iter()
                .map(|(k, v)| Value::Array(vec![k.clone(), v.clone()]))
                .collect(),
        ),
        _ => None,
    }
}

fn block_method<'pr>(
    it: &mut Interp<'pr, '_>,
    recv: Value,
    name: &str,
    args: Vec<Value>,
    block: &Node<'pr>,
    node: &Node<'pr>,
) -> R<Value> {
    if let (Value::Int(n), "times") = (&recv, name) {
        for i in 0..*n {
            it.call_block(block, vec![Value::Int(i)])?;
        }
        return Ok(recv);
    }
    let Some(items) = iter_items(&recv) else {
        return it.unsupported(
            format!("`{name}` with a block on a {}", recv.class_name()),
            node,
        );
    };
    let is_hash = matches!(recv, Value::Hash(_));
    let mut out = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let params = match (name, is_hash, &item) {
            ("each_with_index", _, _) => vec![item.clone(), Value::Int(i as i64)],
            (_, true, Value::Array(kv)) => kv.clone(),
            _ => vec![item.clone()],
        };
        let r = it.call_block(block, params)?;
        match name {
            "each" | "each_pair" | "each_with_index" => {}
            "map" | "collect" | "flat_map" => match (name, r) {
                ("flat_map", Value::Array(a)) => out.extend(a),
                (_, r) => out.push(r),
            },
            "select" | "filter" => {
                if r.truthy() {
                    out.push(item)
                }
            }
            "reject" => {
                if !r.truthy() {
                    out.push(item)
                }
            }
            "any?" => {
                if r.truthy() {
                    return Ok(Value::Bool(true));
                }
            }
            "all?" => {
                if !r.truthy() {
                    return Ok(Value::Bool(false));
                }
            }
            "find" | "detect" => {
                if r.truthy() {
                    return Ok(item);
                }
            }
            _ => return it.unsupported(format!("`{name}` with a block"), node),
        }
    }
    let _ = args;
    Ok(match name {
        "each" | "each_pair" | "each_with_index" => recv,
        "any?" | "find" | "detect" => {
            if name == "any?" {
                Value::Bool(false)
            } else {
                Value::Nil
            }
        }
        "all?" => Value::Bool(true),
        _ => Value::Array(out),
    })
}

/// A method without a block on a value.
pub fn method_value<'pr>(
    it: &mut Interp<'pr, '_>,
    recv: Value,
    name: &str,
    args: Vec<Value>,
    node: &Node<'pr>,
) -> R<Value> {
    let arg = |i: usize| args.get(i).cloned().unwrap_or(Value::Nil);
    match (name, &recv) {
        ("==", _) => return Ok(Value::Bool(recv.equals(&arg(0)))),
        ("!=", _) => return Ok(Value::Bool(!recv.equals(&arg(0)))),
        ("!", _) => return Ok(Value::Bool(!recv.truthy())),
        ("nil?", _) => return Ok(Value::Bool(matches!(recv, Value::Nil))),
        ("to_s", _) => return Ok(Value::Str(recv.to_s())),
        ("inspect", _) => return Ok(Value::Str(recv.inspect())),
        ("freeze" | "dup" | "clone", _) => return Ok(recv),
        _ => {}
    }
    match &recv {
        Value::Resource(r) => match r.attribute(it.host, name) {
            Ok(v) => Ok(v),
            Err(what) if what.starts_with(super::resources::NO_METHOD) => it.error(what, node),
            Err(what) => it.unsupported(what, node),
        },
        Value::Matcher(m) => {
            if let Matcher::Compare(op, _) = m.as_ref()
                && op.is_empty()
                && matches!(name, ">" | "<" | ">=" | "<=" | "==")
            {
                return Ok(Value::Matcher(Rc::new(Matcher::Compare(
                    name.to_string(),
                    arg(0),
                ))));
            }
            match m.chain(name, args) {
                Some(m) => Ok(Value::Matcher(Rc::new(m))),
                None => it.unsupported(format!("`.{name}` on matcher `{}`", m.description()), node),
            }
        }
        Value::Str(s) => super::strings::string_method(it, s, name, &args, node),
        Value::Sym(s) => match name {
            "to_sym" => Ok(recv.clone()),
            "length" | "size" => Ok(Value::Int(s.chars().count() as i64)),
            _ => it.unsupported(format!("Symbol#{name}"), node),
        },
        Value::Int(_) | Value::Float(_) => {
            super::strings::number_method(it, &recv, name, &args, node)
        }
        Value::Array(a) => super::strings::array_method(it, a, name, &args, node),
        Value::Hash(h) => hash_method(it, &recv, h, name, &args, node),
        Value::Nil => match name {
            "to_a" => Ok(Value::Array(Vec::new())),
            "to_i" => Ok(Value::Int(0)),
            _ => it.error(format!("undefined method `{name}' for nil:NilClass"), node),
        },
        Value::Range(a, b) => match name {
            "to_a" => Ok(Value::Array((*a..=*b).map(Value::Int).collect())),
            "include?" | "cover?" | "===" => Ok(Value::Bool(
                matches!(arg(0), Value::Int(i) if *a <= i && i <= *b),
            )),
            _ => it.unsupported(format!("Range#{name}"), node),
        },
        Value::Regex(r) => match name {
            "match?" | "=~" | "===" | "match" => {
                Ok(Value::Bool(r.compiled.is_match(&arg(0).to_s())))
            }
            "source" => Ok(Value::Str(r.source.clone())),
            _ => it.unsupported(format!("Regexp#{name}"), node),
        },
        Value::Bool(_) => match name {
            "&" => Ok(Value::Bool(recv.truthy() && arg(0).truthy())),
            "|" => Ok(Value::Bool(recv.truthy() || arg(0).truthy())),
            _ => it.unsupported(format!("{}#{name}", recv.class_name()), node),
        },
    }
}

/// Compiles a string used as a regexp (`String#=~`, `match`).
pub fn as_regex<'pr>(it: &Interp<'pr, '_>, v: &Value, node: &Node<'pr>) -> R<RubyRegex> {
    match v {
        Value::Regex(r) => Ok(r.clone()),
        Value::Str(s) => RubyRegex::new(&regex::escape(s), false, false, false)
            .or_else(|e| it.unsupported(e, node)),
        other => it.unsupported(format!("a {} used as a pattern", other.class_name()), node),
    }
}

/// Calls on the "main" object that are not rspec DSL: `require`, `set`,
/// host facts, resources, output, `raise`, and matchers.
fn kernel_call<'pr>(
    it: &mut Interp<'pr, '_>,
    name: &str,
    call: &CallNode<'pr>,
    node: &Node<'pr>,
) -> R<Value> {
    match name {
        "require" | "require_relative" => {
            let args = it.args(call)?;
            let lib = args.first().map(Value::to_s).unwrap_or_default();
            if lib == "spec_helper" || lib.ends_with("/spec_helper") {
                it.required_helper = true;
                return super::load_helper(it, node);
            }
            if LIBRARIES.contains(&lib.as_str()) {
                return Ok(Value::Bool(true));
            }
            it.unsupported(format!("require '{lib}'"), node)
        }
        "set" => {
            let args = it.args(call)?;
            let key = args.first().map(Value::to_s).unwrap_or_default();
            let value = args.get(1).cloned().unwrap_or(Value::Nil);
            super::apply_setting(it, &key, &value, node)?;
            it.settings.set.insert(key, value);
            Ok(Value::Nil)
        }
        "set_property" => {
            it.settings.property = it.args(call)?.into_iter().next().unwrap_or(Value::Nil);
            Ok(Value::Nil)
        }
        "property" => Ok(it.settings.property.clone()),
        "os" => {
            let os = it.host.os();
            Ok(Value::Hash(vec![
                (Value::Sym("family".into()), Value::Str(os.family)),
                (
                    Value::Sym("release".into()),
                    os.release.map_or(Value::Nil, Value::Str),
                ),
                (Value::Sym("arch".into()), Value::Str(os.arch)),
            ]))
        }
        "puts" | "p" | "print" | "warn" => Ok(Value::Nil),
        "raise" | "fail" => {
            let msg = it
                .args(call)?
                .first()
                .map(Value::to_s)
                .unwrap_or_else(|| "unhandled exception".into());
            it.error(msg, node)
        }
        n if KINDS.contains(&n) => {
            let args = it.args(call)?;
            if args.len() > 1 || call.block().is_some() {
                return it.unsupported(format!("`{n}` with options"), node);
            }
            Ok(Value::Resource(Rc::new(Resource {
                kind: n.to_string(),
                name: args.first().map(Value::to_s),
            })))
        }
        _ => matcher(it, name, call, node),
    }
}

/// A Hash method.
fn hash_method<'pr>(
    it: &mut Interp<'pr, '_>,
    recv: &Value,
    h: &[(Value, Value)],
    name: &str,
    args: &[Value],
    node: &Node<'pr>,
) -> R<Value> {
    let arg = |i: usize| args.get(i).cloned().unwrap_or(Value::Nil);
    match name {
        "[]" => Ok(recv.hash_get(&arg(0)).cloned().unwrap_or(Value::Nil)),
        "fetch" => match recv.hash_get(&arg(0)) {
            Some(v) => Ok(v.clone()),
            None if args.len() > 1 => Ok(arg(1)),
            None => it.error(format!("key not found: {}", arg(0).inspect()), node),
        },
        "key?" | "has_key?" | "include?" | "member?" => {
            Ok(Value::Bool(recv.hash_get(&arg(0)).is_some()))
        }
        "keys" => Ok(Value::Array(h.iter().map(|(k, _)| k.clone()).collect())),
        "values" => Ok(Value::Array(h.iter().map(|(_, v)| v.clone()).collect())),
        "length" | "size" | "count" => Ok(Value::Int(h.len() as i64)),
        "empty?" => Ok(Value::Bool(h.is_empty())),
        "dig" => {
            let mut v = recv.clone();
            for k in args {
                v = match &v {
                    Value::Hash(_) => v.hash_get(k).cloned().unwrap_or(Value::Nil),
                    Value::Array(a) => match k {
                        Value::Int(i) => a.get(*i as usize).cloned().unwrap_or(Value::Nil),
                        _ => Value::Nil,
                    },
                    _ => Value::Nil,
                };
            }
            Ok(v)
        }
        "merge" => {
            let mut out = h.to_vec();
            if let Value::Hash(other) = arg(0) {
                for (k, v) in other {
                    if let Some(slot) = out.iter_mut().find(|(x, _)| x.equals(&k)) {
                        slot.1 = v;
                    } else {
                        out.push((k, v));
                    }
                }
            }
            Ok(Value::Hash(out))
        }
        "to_a" => Ok(Value::Array(
            h.iter()
                .map(|(k, v)| Value::Array(vec![k.clone(), v.clone()]))
                .collect(),
        )),
        _ => it.unsupported(format!("Hash#{name}"), node),
    }
}
