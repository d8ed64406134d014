//! Variable expansion in step properties: `$VAR`, `${VAR}`,
//! `${VAR:-default}`, `${VAR:?message}`, `$$` for a literal `$`; and step
//! outputs, `${{ outputs.<id>.<name> }}` (a minijinja expression).
//!
//! An unset variable is an error naming it (wercker silently used ""; a
//! deploy that runs with an empty region is worse than one that stops).

use serde_json::{Map, Value};

/// Why a value could not be expanded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    /// `$NAME` with NAME unset.
    #[error("variable `{name}` is not set")]
    Unset {
        /// The variable.
        name: String,
    },
    /// `${NAME:?message}` with NAME unset or empty.
    #[error("variable `{name}` is not set: {message}")]
    Required {
        /// The variable.
        name: String,
        /// The message given.
        message: String,
    },
    /// `${` without a closing `}` or with an invalid name.
    #[error(
        "malformed variable reference `{text}`; expected $NAME, ${{NAME}}, ${{NAME:-default}} or $$ for a literal $"
    )]
    Malformed {
        /// The text.
        text: String,
    },
    /// `${{ … }}` could not be evaluated.
    #[error("{0}")]
    Template(String),
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Expands `$VAR` forms in `text` with `lookup`. `${{ … }}` is left as it is
/// (outputs are rendered afterwards by [`render_outputs`]).
pub fn expand_vars(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ExpandError> {
    if !text.contains('$') {
        return Ok(text.to_string());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let after = &rest[1..];
        if let Some(r) = after.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if after.starts_with("{{") {
            // An outputs expression: copy through to its end.
            match after.find("}}") {
                Some(end) => {
                    out.push_str(&rest[..end + 3]);
                    rest = &rest[end + 3..];
                }
                None => {
                    return Err(ExpandError::Malformed {
                        text: rest.chars().take(30).collect(),
                    });
                }
            }
        } else if let Some(inner) = after.strip_prefix('{') {
            let Some(close) = inner.find('}') else {
                return Err(ExpandError::Malformed {
                    text: rest.chars().take(30).collect(),
                });
            };
            let body = &inner[..close];
            out.push_str(&braced(body, lookup)?);
            rest = &inner[close + 1..];
        } else if after.starts_with(is_name_start) {
            let end = after.find(|c| !is_name_char(c)).unwrap_or(after.len());
            let name = &after[..end];
            match lookup(name) {
                Some(v) => out.push_str(&v),
                None => return Err(ExpandError::Unset { name: name.into() }),
            }
            rest = &after[end..];
        } else {
            // A `$` not followed by a name (`$1`, `$ `, end of text) stays.
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn braced(body: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, ExpandError> {
    let name_end = body.find(|c| !is_name_char(c)).unwrap_or(body.len());
    let name = &body[..name_end];
    if name.is_empty() || !name.starts_with(is_name_start) {
        return Err(ExpandError::Malformed {
            text: format!("${{{body}}}"),
        });
    }
    let op = &body[name_end..];
    let value = lookup(name);
    if op.is_empty() {
        return value.ok_or_else(|| ExpandError::Unset { name: name.into() });
    }
    if let Some(default) = op.strip_prefix(":-") {
        return match value {
            Some(v) if !v.is_empty() => Ok(v),
            _ => expand_vars(default, lookup),
        };
    }
    if let Some(default) = op.strip_prefix('-') {
        return match value {
            Some(v) => Ok(v),
            None => expand_vars(default, lookup),
        };
    }
    if let Some(message) = op.strip_prefix(":?") {
        return match value {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(ExpandError::Required {
                name: name.into(),
                message: if message.is_empty() {
                    "it is required".into()
                } else {
                    message.into()
                },
            }),
        };
    }
    Err(ExpandError::Malformed {
        text: format!("${{{body}}}"),
    })
}

/// The names of the variables `text` refers to, with whether each has a
/// default (`${X:-d}`), for load-time checks.
pub fn referenced_vars(text: &str) -> Vec<(String, bool)> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('$') {
            rest = r;
        } else if after.starts_with("{{") {
            rest = after.find("}}").map_or("", |e| &after[e + 2..]);
        } else if let Some(inner) = after.strip_prefix('{') {
            let close = inner.find('}').unwrap_or(inner.len());
            let body = &inner[..close];
            let name_end = body.find(|c| !is_name_char(c)).unwrap_or(body.len());
            let op = &body[name_end..];
            if name_end > 0 {
                found.push((
                    body[..name_end].to_string(),
                    op.starts_with(":-") || op.starts_with('-'),
                ));
            }
            rest = inner.get(close + 1..).unwrap_or("");
        } else if after.starts_with(is_name_start) {
            let end = after.find(|c| !is_name_char(c)).unwrap_or(after.len());
            found.push((after[..end].to_string(), false));
            rest = &after[end..];
        } else {
            rest = after;
        }
    }
    found
}

/// Renders every `${{ expr }}` in `text` with `context`. A value that is
/// one expression and nothing else keeps its JSON type (a list of hosts
/// stays a list); otherwise values are inserted as text.
pub fn render_outputs(text: &str, context: &Value, name: &str) -> Result<Value, ExpandError> {
    if !text.contains("${{") {
        return Ok(Value::String(text.to_string()));
    }
    let trimmed = text.trim();
    if trimmed.starts_with("${{") && trimmed.ends_with("}}") && trimmed.matches("${{").count() == 1
    {
        let expr = &trimmed[3..trimmed.len() - 2];
        return step_core::template::eval(name, expr.trim(), context)
            .map_err(|e| ExpandError::Template(e.message));
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("${{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 3..];
        let Some(end) = after.find("}}") else {
            return Err(ExpandError::Malformed {
                text: rest[i..].chars().take(30).collect(),
            });
        };
        let value = step_core::template::eval(name, after[..end].trim(), context)
            .map_err(|e| ExpandError::Template(e.message))?;
        match value {
            Value::String(s) => out.push_str(&s),
            Value::Null => {}
            other => out.push_str(&other.to_string()),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(Value::String(out))
}

/// Where an expansion failed: the property path (`vars.region`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PropertyError {
    /// The top-level property.
    pub property: String,
    /// The error.
    pub error: ExpandError,
}

/// The context `${{ … }}` expressions are evaluated in, built on first
/// use: most steps have no expression, and building it copies the whole
/// environment and every output.
pub struct TemplateContext<'a> {
    value: std::cell::OnceCell<Value>,
    make: &'a dyn Fn() -> Value,
}

impl<'a> TemplateContext<'a> {
    /// A context that `make` builds when an expression first needs it.
    pub fn new(make: &'a dyn Fn() -> Value) -> TemplateContext<'a> {
        TemplateContext {
            value: std::cell::OnceCell::new(),
            make,
        }
    }

    /// The context, built now if it was not yet.
    pub fn get(&self) -> &Value {
        self.value.get_or_init(self.make)
    }
}

/// Expands every string in a step's properties: variables (except in the
/// properties listed in `raw`, such as a script's `code`, which the shell
/// expands) and then outputs expressions (everywhere).
pub fn expand_properties(
    props: &Map<String, Value>,
    raw: &[&str],
    lookup: &dyn Fn(&str) -> Option<String>,
    context: &TemplateContext<'_>,
) -> Result<Map<String, Value>, PropertyError> {
    let mut out = Map::new();
    for (k, v) in props {
        let vars = !raw.contains(&k.as_str());
        let expanded =
            expand_value(v, vars, lookup, context, k).map_err(|error| PropertyError {
                property: k.clone(),
                error,
            })?;
        out.insert(k.clone(), expanded);
    }
    Ok(out)
}

fn expand_value(
    v: &Value,
    vars: bool,
    lookup: &dyn Fn(&str) -> Option<String>,
    context: &TemplateContext<'_>,
    name: &str,
) -> Result<Value, ExpandError> {
    Ok(match v {
        Value::String(s) => {
            let s = if vars {
                expand_vars(s, lookup)?
            } else {
                s.clone()
            };
            if s.contains("${{") {
                render_outputs(&s, context.get(), name)?
            } else {
                Value::String(s)
            }
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| expand_value(i, vars, lookup, context, name))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, i)| Ok((k.clone(), expand_value(i, vars, lookup, context, name)?)))
                .collect::<Result<_, ExpandError>>()?,
        ),
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env(name: &str) -> Option<String> {
        match name {
            "A" => Some("1".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_all_forms() {
        assert_eq!(expand_vars("x$A-${A}", &env).unwrap(), "x1-1");
        assert_eq!(
            expand_vars("${B:-d}${EMPTY:-e}${A:-z}", &env).unwrap(),
            "de1"
        );
        assert_eq!(
            expand_vars("cost $$5 and $1", &env).unwrap(),
            "cost $5 and $1"
        );
        assert_eq!(
            expand_vars("keep ${{ outputs.x.y }}", &env).unwrap(),
            "keep ${{ outputs.x.y }}"
        );
        assert_eq!(
            expand_vars("$NOPE", &env).unwrap_err(),
            ExpandError::Unset {
                name: "NOPE".into()
            }
        );
        assert!(matches!(
            expand_vars("${B:?set B}", &env),
            Err(ExpandError::Required { .. })
        ));
        assert!(matches!(
            expand_vars("${A", &env),
            Err(ExpandError::Malformed { .. })
        ));
    }

    #[test]
    fn lists_referenced_variables() {
        assert_eq!(
            referenced_vars("$A ${B:-x} $$C ${{ outputs.d }} ${E}"),
            vec![("A".into(), false), ("B".into(), true), ("E".into(), false)]
        );
    }

    #[test]
    fn renders_outputs_keeping_types() {
        let ctx = json!({"outputs": {"tf": {"hosts": ["a", "b"], "port": 80}}});
        assert_eq!(
            render_outputs("${{ outputs.tf.hosts }}", &ctx, "p").unwrap(),
            json!(["a", "b"])
        );
        assert_eq!(
            render_outputs(
                "http://${{ outputs.tf.hosts[0] }}:${{ outputs.tf.port }}/",
                &ctx,
                "p"
            )
            .unwrap(),
            json!("http://a:80/")
        );
        assert!(render_outputs("${{ outputs.nope.x }}", &ctx, "p").is_err());
    }

    #[test]
    fn the_template_context_is_built_only_for_an_expression() {
        let built = std::cell::Cell::new(0);
        let make = || {
            built.set(built.get() + 1);
            json!({"outputs": {"a": {"x": "X"}}})
        };
        let context = TemplateContext::new(&make);
        let plain = json!({"code": "echo $A", "list": ["$A", "b"]})
            .as_object()
            .cloned()
            .unwrap();
        let out = expand_properties(&plain, &["code"], &env, &context).unwrap();
        assert_eq!(out["list"], json!(["1", "b"]));
        assert_eq!(built.get(), 0, "no expression, no context");
        let templated = json!({"a": "${{ outputs.a.x }}", "b": "${{ outputs.a.x }}-2"})
            .as_object()
            .cloned()
            .unwrap();
        let out = expand_properties(&templated, &[], &env, &context).unwrap();
        assert_eq!((&out["a"], &out["b"]), (&json!("X"), &json!("X-2")));
        assert_eq!(built.get(), 1, "built once, then reused");
    }
}
