//! The common methods of Ruby's String, Integer/Float and Array that spec
//! files use to build names and expectations.

use ruby_prism::Node;

use super::calls::as_regex;
use super::eval::{Interp, R};
use super::resources::ruby_to_i;
use super::value::{Value, float_to_s};

/// A String method.
pub fn string_method<'pr>(
    it: &mut Interp<'pr, '_>,
    s: &str,
    name: &str,
    args: &[Value],
    node: &Node<'pr>,
) -> R<Value> {
    let arg = |i: usize| args.get(i).cloned().unwrap_or(Value::Nil);
    let text = |i: usize| args.get(i).map(Value::to_s).unwrap_or_default();
    Ok(match name {
        "+" => match arg(0) {
            Value::Str(o) => Value::Str(format!("{s}{o}")),
            other => {
                return it.error(
                    format!(
                        "no implicit conversion of {} into String",
                        other.class_name()
                    ),
                    node,
                );
            }
        },
        "*" => match arg(0) {
            Value::Int(n) if n >= 0 => Value::Str(s.repeat(n as usize)),
            _ => return it.unsupported("String#* without a count", node),
        },
        "%" => return it.unsupported("String#% formatting", node),
        "<<" | "concat" => Value::Str(format!("{s}{}", text(0))),
        "strip" => Value::Str(
            s.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\0')
                .to_string(),
        ),
        "lstrip" => Value::Str(
            s.trim_start_matches(|c: char| c.is_ascii_whitespace())
                .to_string(),
        ),
        "rstrip" => Value::Str(
            s.trim_end_matches(|c: char| c.is_ascii_whitespace() || c == '\0')
                .to_string(),
        ),
        "chomp" if args.is_empty() => Value::Str(
            s.strip_suffix("\r\n")
                .or_else(|| s.strip_suffix('\n'))
                .or_else(|| s.strip_suffix('\r'))
                .unwrap_or(s)
                .to_string(),
        ),
        "chomp" => Value::Str(s.strip_suffix(text(0).as_str()).unwrap_or(s).to_string()),
        "downcase" => Value::Str(s.to_lowercase()),
        "upcase" => Value::Str(s.to_uppercase()),
        "capitalize" => {
            let mut c = s.chars();
            Value::Str(
                c.next()
                    .map(|f| f.to_uppercase().collect::<String>() + &c.as_str().to_lowercase())
                    .unwrap_or_default(),
            )
        }
        "to_s" | "to_str" => Value::Str(s.to_string()),
        "to_sym" | "intern" => Value::Sym(s.to_string()),
        "to_i" => Value::Int(ruby_to_i(s)),
        "to_f" => Value::Float(s.trim().parse().unwrap_or(0.0)),
        "length" | "size" => Value::Int(s.chars().count() as i64),
        "empty?" => Value::Bool(s.is_empty()),
        "include?" => Value::Bool(s.contains(text(0).as_str())),
        "start_with?" => Value::Bool(args.iter().any(|a| s.starts_with(a.to_s().as_str()))),
        "end_with?" => Value::Bool(args.iter().any(|a| s.ends_with(a.to_s().as_str()))),
        "lines" => Value::Array(
            s.split_inclusive('\n')
                .map(|l| Value::Str(l.to_string()))
                .collect(),
        ),
        "split" => split(it, s, args, node)?,
        "==" | "eql?" => Value::Bool(matches!(arg(0), Value::Str(o) if o == s)),
        "<=>" => return it.unsupported("String#<=>", node),
        _ => return string_pattern_method(it, s, name, args, node),
    })
}

/// String methods that take patterns or indexes.
fn string_pattern_method<'pr>(
    it: &mut Interp<'pr, '_>,
    s: &str,
    name: &str,
    args: &[Value],
    node: &Node<'pr>,
) -> R<Value> {
    let arg = |i: usize| args.get(i).cloned().unwrap_or(Value::Nil);
    let text = |i: usize| args.get(i).map(Value::to_s).unwrap_or_default();
    Ok(match name {
        "=~" | "match?" | "match" => {
            let re = match arg(0) {
                Value::Str(p) if name != "=~" => {
                    super::value::RubyRegex::new(&p, false, false, false)
                        .or_else(|e| it.unsupported(e, node))?
                }
                v => as_regex(it, &v, node)?,
            };
            match (name, re.compiled.find(s)) {
                ("match?", m) => Value::Bool(m.is_some()),
                ("=~", Some(m)) => Value::Int(s[..m.start()].chars().count() as i64),
                ("match", Some(_)) => return it.unsupported("MatchData", node),
                _ => Value::Nil,
            }
        }
        "sub" | "gsub" => {
            let re = as_regex(it, &arg(0), node)?;
            let rep = text(1);
            if rep.contains('\\') {
                return it.unsupported("back-references in a replacement", node);
            }
            let rep = rep.replace('$', "$$");
            Value::Str(if name == "sub" {
                re.compiled.replace(s, rep.as_str()).into_owned()
            } else {
                re.compiled.replace_all(s, rep.as_str()).into_owned()
            })
        }
        "tr" => {
            let (from, to): (Vec<char>, Vec<char>) =
                (text(0).chars().collect(), text(1).chars().collect());
            if from.contains(&'-') || from.first() == Some(&'^') {
                return it.unsupported("String#tr with ranges", node);
            }
            Value::Str(
                s.chars()
                    .map(|c| match from.iter().position(|f| *f == c) {
                        Some(i) => *to.get(i).or(to.last()).unwrap_or(&c),
                        None => c,
                    })
                    .collect(),
            )
        }
        "[]" => match arg(0) {
            Value::Int(i) => {
                let chars: Vec<char> = s.chars().collect();
                let idx = if i < 0 { chars.len() as i64 + i } else { i };
                chars
                    .get(idx as usize)
                    .map_or(Value::Nil, |c| Value::Str(c.to_string()))
            }
            Value::Str(sub) => {
                if s.contains(sub.as_str()) {
                    Value::Str(sub)
                } else {
                    Value::Nil
                }
            }
            _ => return it.unsupported("String#[] with this index", node),
        },
        _ => return it.unsupported(format!("String#{name}"), node),
    })
}

fn split<'pr>(it: &mut Interp<'pr, '_>, s: &str, args: &[Value], node: &Node<'pr>) -> R<Value> {
    let parts: Vec<String> = match args.first() {
        None => s.split_ascii_whitespace().map(String::from).collect(),
        Some(Value::Str(sep)) if sep == " " => {
            s.split_ascii_whitespace().map(String::from).collect()
        }
        Some(Value::Str(sep)) => {
            let mut v: Vec<String> = s.split(sep.as_str()).map(String::from).collect();
            while v.last().is_some_and(String::is_empty) {
                v.pop();
            }
            v
        }
        Some(v) => {
            let re = as_regex(it, v, node)?;
            let mut v: Vec<String> = re.compiled.split(s).map(String::from).collect();
            while v.last().is_some_and(String::is_empty) {
                v.pop();
            }
            v
        }
    };
    if args.len() > 1 {
        return it.unsupported("String#split with a limit", node);
    }
    Ok(Value::Array(parts.into_iter().map(Value::Str).collect()))
}

/// An Integer or Float method.
pub fn number_method<'pr>(
    it: &mut Interp<'pr, '_>,
    n: &Value,
    name: &str,
    args: &[Value],
    node: &Node<'pr>,
) -> R<Value> {
    let b = args.first().cloned().unwrap_or(Value::Nil);
    if let (Value::Int(x), Value::Int(y)) = (n, &b) {
        let (x, y) = (*x, *y);
        return Ok(match name {
            "+" => Value::Int(x.wrapping_add(y)),
            "-" => Value::Int(x.wrapping_sub(y)),
            "*" => Value::Int(x.wrapping_mul(y)),
            "/" if y != 0 => Value::Int(x.div_euclid(y)),
            "%" if y != 0 => Value::Int(x.rem_euclid(y)),
            "/" | "%" => return it.error("divided by 0", node),
            ">" => Value::Bool(x > y),
            "<" => Value::Bool(x < y),
            ">=" => Value::Bool(x >= y),
            "<=" => Value::Bool(x <= y),
            _ => return it.unsupported(format!("Integer#{name}"), node),
        });
    }
    let (Some(x), y) = (n.as_f64(), b.as_f64()) else {
        return it.unsupported(format!("{}#{name}", n.class_name()), node);
    };
    Ok(match (name, y) {
        ("to_i", _) => Value::Int(x.trunc() as i64),
        ("to_f", _) => Value::Float(x),
        ("to_s", _) => Value::Str(if let Value::Int(i) = n {
            i.to_string()
        } else {
            float_to_s(x)
        }),
        ("zero?", _) => Value::Bool(x == 0.0),
        ("+", Some(y)) => Value::Float(x + y),
        ("-", Some(y)) => Value::Float(x - y),
        ("*", Some(y)) => Value::Float(x * y),
        ("/", Some(y)) => Value::Float(x / y),
        (">", Some(y)) => Value::Bool(x > y),
        ("<", Some(y)) => Value::Bool(x < y),
        (">=", Some(y)) => Value::Bool(x >= y),
        ("<=", Some(y)) => Value::Bool(x <= y),
        _ => return it.unsupported(format!("{}#{name}", n.class_name()), node),
    })
}

/// An Array method.
pub fn array_method<'pr>(
    it: &mut Interp<'pr, '_>,
    a: &[Value],
    name: &str,
    args: &[Value],
    node: &Node<'pr>,
) -> R<Value> {
    let arg = |i: usize| args.get(i).cloned().unwrap_or(Value::Nil);
    Ok(match name {
        "[]" => match arg(0) {
            Value::Int(i) => {
                let idx = if i < 0 { a.len() as i64 + i } else { i };
                a.get(idx as usize).cloned().unwrap_or(Value::Nil)
            }
            _ => return it.unsupported("Array#[] with this index", node),
        },
        "first" if args.is_empty() => a.first().cloned().unwrap_or(Value::Nil),
        "last" if args.is_empty() => a.last().cloned().unwrap_or(Value::Nil),
        "length" | "size" | "count" if args.is_empty() => Value::Int(a.len() as i64),
        "empty?" => Value::Bool(a.is_empty()),
        "any?" if args.is_empty() => Value::Bool(a.iter().any(Value::truthy)),
        "include?" | "member?" => Value::Bool(a.iter().any(|x| x.equals(&arg(0)))),
        "join" => Value::Str(
            a.iter()
                .map(Value::to_s)
                .collect::<Vec<_>>()
                .join(&arg(0).to_s()),
        ),
        "+" => match arg(0) {
            Value::Array(b) => Value::Array(a.iter().cloned().chain(b).collect()),
            _ => return it.error("no implicit conversion into Array", node),
        },
        "-" => match arg(0) {
            Value::Array(b) => Value::Array(
                a.iter()
                    .filter(|x| !b.iter().any(|y| y.equals(x)))
                    .cloned()
                    .collect(),
            ),
            _ => return it.error("no implicit conversion into Array", node),
        },
        "<<" | "push" => {
            let mut v = a.to_vec();
            v.extend(args.iter().cloned());
            Value::Array(v)
        }
        "to_a" | "entries" => Value::Array(a.to_vec()),
        _ => return array_reshape(it, a, name, node),
    })
}

/// Array methods that reshape it (`compact`, `flatten`, `uniq`, `sort`, `to_h`).
fn array_reshape<'pr>(
    it: &mut Interp<'pr, '_>,
    a: &[Value],
    name: &str,
    node: &Node<'pr>,
) -> R<Value> {
    Ok(match name {
        "compact" => Value::Array(
            a.iter()
                .filter(|v| !matches!(v, Value::Nil))
                .cloned()
                .collect(),
        ),
        "flatten" => {
            let mut out = Vec::new();
            flatten(a, &mut out);
            Value::Array(out)
        }
        "uniq" => {
            let mut out: Vec<Value> = Vec::new();
            for v in a {
                if !out.iter().any(|x| x.equals(v)) {
                    out.push(v.clone());
                }
            }
            Value::Array(out)
        }
        "reverse" => Value::Array(a.iter().rev().cloned().collect()),
        "sort" => {
            let mut v = a.to_vec();
            if v.iter().all(|x| matches!(x, Value::Str(_))) {
                v.sort_by_key(Value::to_s);
            } else if v.iter().all(|x| matches!(x, Value::Int(_))) {
                v.sort_by_key(|x| if let Value::Int(i) = x { *i } else { 0 });
            } else {
                return it.unsupported("Array#sort of mixed values", node);
            }
            Value::Array(v)
        }
        "to_h" => {
            let mut pairs = Vec::new();
            for v in a {
                match v {
                    Value::Array(kv) if kv.len() == 2 => pairs.push((kv[0].clone(), kv[1].clone())),
                    _ => return it.error("wrong element type (expected array of 2)", node),
                }
            }
            Value::Hash(pairs)
        }
        _ => return it.unsupported(format!("Array#{name}"), node),
    })
}

fn flatten(a: &[Value], out: &mut Vec<Value>) {
    for v in a {
        match v {
            Value::Array(inner) => flatten(inner, out),
            other => out.push(other.clone()),
        }
    }
}
