//! Templates (minijinja) with strict undefined: a missing variable is an
//! error that names it. minijinja's `debug` feature, which would print
//! variable values in errors, is off.

use serde_json::Value;

/// A template could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct TemplateError {
    /// The template's name (a file path or a property).
    pub name: String,
    /// The line in the template, when known.
    pub line: Option<usize>,
    /// What went wrong (for undefined variables: their names).
    pub message: String,
}

/// A minijinja environment with strict undefined behaviour and no HTML escaping.
pub fn environment() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env
}

/// Renders `source` (named `name` in errors) with `context`.
pub fn render(name: &str, source: &str, context: &Value) -> Result<String, TemplateError> {
    let env = environment();
    let tmpl = env
        .template_from_named_str(name, source)
        .map_err(|e| convert(name, source, context, e))?;
    tmpl.render(minijinja::Value::from(minijinja::value::Serde(context)))
        .map_err(|e| convert(name, source, context, e))
}

/// Evaluates one expression (`outputs.tf.address`) with `context`.
pub fn eval(name: &str, expr: &str, context: &Value) -> Result<Value, TemplateError> {
    let env = environment();
    let compiled = env.compile_expression(expr).map_err(|e| TemplateError {
        name: name.to_string(),
        line: None,
        message: format!("`{expr}` is not a valid expression: {}", detail(&e)),
    })?;
    let value = compiled
        .eval(minijinja::Value::from(minijinja::value::Serde(context)))
        .map_err(|e| {
            let missing = missing_in(compiled.undeclared_variables(true), context);
            TemplateError {
                name: name.to_string(),
                line: None,
                message: if missing.is_empty() {
                    format!("`{expr}`: {}", detail(&e))
                } else {
                    format!("`{expr}`: undefined: {}", missing.join(", "))
                },
            }
        })?;
    if value.is_undefined() {
        let missing = missing_in(compiled.undeclared_variables(true), context);
        return Err(TemplateError {
            name: name.to_string(),
            line: None,
            message: format!("`{expr}`: undefined: {}", missing.join(", ")),
        });
    }
    serde_json::to_value(&value).map_err(|e| TemplateError {
        name: name.to_string(),
        line: None,
        message: e.to_string(),
    })
}

fn detail(e: &minijinja::Error) -> String {
    match e.detail() {
        Some(d) => format!("{} ({d})", e.kind()),
        None => e.kind().to_string(),
    }
}

fn convert(name: &str, source: &str, context: &Value, e: minijinja::Error) -> TemplateError {
    let mut message = detail(&e);
    if e.kind() == minijinja::ErrorKind::UndefinedError {
        let env = environment();
        if let Ok(t) = env.template_from_str(source) {
            let missing = missing_in(t.undeclared_variables(true), context);
            if !missing.is_empty() {
                message = format!("undefined variable: {}", missing.join(", "));
            }
        }
    }
    TemplateError {
        name: name.to_string(),
        line: e.line(),
        message,
    }
}

/// Which of the referenced (dotted) variables the context lacks.
fn missing_in(vars: std::collections::HashSet<String>, context: &Value) -> Vec<String> {
    let mut missing: Vec<String> = vars
        .into_iter()
        .filter(|v| {
            let mut cur = context;
            for part in v.split('.') {
                match cur.get(part) {
                    Some(next) => cur = next,
                    None => return true,
                }
            }
            false
        })
        .collect();
    missing.sort();
    missing
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_with_filters_like_the_seed() {
        let ctx = json!({"marathon_peers": ["a:2181", "b:2181"]});
        let out = render("t", "zk://{{ marathon_peers|join(',') }}/mesos", &ctx).unwrap();
        assert_eq!(out, "zk://a:2181,b:2181/mesos");
    }

    #[test]
    fn undefined_variables_are_named() {
        let err = render(
            "spec.yml",
            "a\n{{ outputs.tf.addr }}",
            &json!({"outputs": {}}),
        )
        .unwrap_err();
        assert!(err.message.contains("outputs.tf.addr"), "{err}");
        assert_eq!(err.line, Some(2));
        let err = eval("p", "outputs.x.y", &json!({"outputs": {}})).unwrap_err();
        assert!(err.message.contains("outputs.x.y"), "{err}");
    }
}
