//! After-steps never stop a run from starting, and never fail for a
//! variable that is not set: such a variable expands to empty (with a
//! warning), and a Slack notification whose `webhook_url` ends up empty
//! is skipped with a notice naming the variable — so the seed's
//! `webhook_url: $SLACK_WEBHOOK_URL` works locally without Slack.

use serde_json::Value;
use step_core::Env;

use crate::expand::referenced_vars;
use crate::model::{Entry, StepEntry, When};
use crate::registry::Registry;

/// The after-steps as they will run, the variables to set to empty, and
/// what to tell the user (warnings, then notices).
pub(super) struct Prepared {
    pub entries: Vec<Entry>,
    pub warnings: Vec<String>,
    pub notices: Vec<String>,
}

/// Prepares after-steps: unset variables in their properties are set to
/// empty in `env` (one warning each); Slack steps with an empty webhook
/// URL get a `when` that does not hold, with a notice.
pub(super) fn prepare(entries: &[Entry], env: &mut Env, registry: &Registry) -> Prepared {
    let mut out = Prepared {
        entries: entries.to_vec(),
        warnings: Vec::new(),
        notices: Vec::new(),
    };
    let mut unset = Vec::new();
    for_each_step(&out.entries, &mut |step| {
        let mut strings = Vec::new();
        for (prop, value) in &step.properties {
            if step.kind == "script" && (prop == "code" || prop == "teardown") {
                continue;
            }
            collect(value, &mut strings);
        }
        for s in strings {
            for (name, has_default) in referenced_vars(&s) {
                if !has_default && env.get(&name).is_none() && !unset.contains(&name) {
                    unset.push(name);
                }
            }
        }
    });
    for name in &unset {
        env.set(name.clone(), "");
        out.warnings.push(format!(
            "after-steps: variable `{name}` is not set; it expands to empty"
        ));
    }
    let env = &*env;
    let mut notices = Vec::new();
    for_each_step_mut(&mut out.entries, &mut |step| {
        if let Some(n) = skip_empty_slack(step, env, registry) {
            notices.push(n);
        }
    });
    out.notices = notices;
    out
}

/// A Slack step whose webhook URL expands to empty: made to skip.
fn skip_empty_slack(step: &mut StepEntry, env: &Env, registry: &Registry) -> Option<String> {
    let kind = registry.description(&step.kind)?.kind.clone();
    if kind != step_slack::describe::KIND && kind != step_slack::describe::PRETTY_KIND {
        return None;
    }
    // The old form (`team` + `token`): the token is what may be missing.
    let prop = if step.properties.contains_key("token") {
        "token"
    } else {
        "webhook_url"
    };
    let Some(Value::String(url)) = step.properties.get(prop) else {
        return None;
    };
    let expanded = crate::expand::expand_vars(url, &|n| env.get(n).map(str::to_string)).ok()?;
    if !expanded.trim().is_empty() {
        return None;
    }
    let vars: Vec<String> = referenced_vars(url).into_iter().map(|(n, _)| n).collect();
    let why = match vars.first() {
        Some(v) => format!("`{v}` is not set or empty"),
        None => "it is written empty".to_string(),
    };
    step.common.when = Some(match vars.first() {
        Some(v) => When::Cond(crate::when::Cond::Compare {
            var: v.clone(),
            value: crate::when::Operand::Literal(String::new()),
            negate: true,
        }),
        None => When::Always(false),
    });
    Some(format!(
        "{} skipped: {prop} is empty ({why}); set it to notify Slack",
        step.display_name()
    ))
}

fn collect(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|i| collect(i, out)),
        Value::Object(m) => m.values().for_each(|i| collect(i, out)),
        _ => {}
    }
}

fn for_each_step(entries: &[Entry], f: &mut dyn FnMut(&StepEntry)) {
    for e in entries {
        match e {
            Entry::Step(s) if s.common.when.is_none() => f(s),
            Entry::Step(_) => {}
            Entry::Group(g) => {
                for_each_step(&g.steps, f);
                for_each_step(&g.finally, f);
            }
        }
    }
}

fn for_each_step_mut(entries: &mut [Entry], f: &mut dyn FnMut(&mut StepEntry)) {
    for e in entries {
        match e {
            Entry::Step(s) => f(s),
            Entry::Group(g) => {
                for_each_step_mut(&mut g.steps, f);
                for_each_step_mut(&mut g.finally, f);
            }
        }
    }
}
