//! The native serverspec engine: runs `*_spec.rb` files without Ruby.
//!
//! Each file is parsed with prism (Ruby's own parser, through the
//! `ruby-prism` crate) and evaluated by a small interpreter for the subset
//! of Ruby and of the rspec/serverspec DSL that spec files use (see the
//! crate README for the table). Examples are collected as rspec defines
//! them, then run one by one against a [`host::Host`], whose answers follow
//! specinfra's commands for the detected OS and are cached per run.
//!
//! A construct outside the subset is never guessed at: the file is reported
//! as [`FileOutcome::Unsupported`] with the construct and file:line, and the
//! step decides (fall back to rspec, or fail those examples).

pub mod calls;
pub mod census;
pub mod dsl;
pub mod eval;
pub mod grep;
pub mod host;
pub mod inproc;
pub mod local;
pub mod lsb;
pub mod matchers;
pub mod ps;
pub mod resources;
pub mod strings;
pub mod value;

use std::collections::HashMap;
use std::rc::Rc;

use ruby_prism::Node;

use dsl::{Example, Mark, full_description, inherited_skip};
use eval::{ExampleState, Fault, Interp, R, Settings, line_of};
use host::Host;
use value::Value;

/// The verdict of one example.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// It passed.
    Passed,
    /// It failed.
    Failed,
    /// Pending or skipped.
    Pending,
}

impl Verdict {
    /// rspec's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Failed => "failed",
            Verdict::Pending => "pending",
        }
    }
}

/// One example's result.
#[derive(Clone, Debug)]
pub struct ExampleResult {
    /// rspec's `full_description`.
    pub full_description: String,
    /// Its verdict.
    pub verdict: Verdict,
    /// Why it failed or is pending.
    pub message: Option<String>,
    /// The spec file, as rspec names it.
    pub file: String,
    /// The example's line.
    pub line: u32,
}

/// What running one file gave.
#[derive(Clone, Debug)]
pub enum FileOutcome {
    /// Every example ran natively.
    Ran(Vec<ExampleResult>),
    /// A construct outside the subset; `examples` holds what would have
    /// been reported as failing under `engine: native`.
    Unsupported {
        /// The construct.
        construct: String,
        /// `file:line`.
        at: String,
        /// The file's examples, failed as unsupported (engine: native).
        examples: Vec<ExampleResult>,
    },
}

/// What the suite's `spec_helper.rb` set up.
#[derive(Clone, Default)]
pub struct Helper {
    /// Its settings (`set`, `set_property`).
    pub settings: Settings,
    /// Globals and constants it defined.
    pub globals: HashMap<String, Value>,
    /// A construct it uses that the engine does not support, with file:line.
    pub fault: Option<(String, String)>,
    /// The helper's path as shown.
    pub file: String,
}

/// Evaluates `spec_helper.rb` (its settings only).
pub fn eval_helper(
    host: &Host,
    file: &str,
    source: &str,
    env: &HashMap<String, String>,
    settings: Settings,
) -> Helper {
    let parsed = ruby_prism::parse(source.as_bytes());
    let mut helper = Helper {
        file: file.to_string(),
        ..Helper::default()
    };
    if let Some(e) = parsed.errors().next() {
        helper.fault = Some((
            format!("a syntax error: {}", String::from_utf8_lossy(e.message())),
            format!("{file}:{}", e.location().start_line()),
        ));
        return helper;
    }
    let mut it = Interp::new(file.to_string(), host, env.clone(), settings);
    let root = parsed.node();
    match it.eval(&root) {
        Ok(_) if !it.examples.is_empty() || !it.shared.is_empty() => {
            helper.fault = Some((
                "examples or shared examples in spec_helper".into(),
                format!("{file}:1"),
            ));
        }
        Ok(_) => {}
        Err(Fault::Unsupported(what, line)) | Err(Fault::Error(what, line)) => {
            helper.fault = Some((what, format!("{file}:{line}")));
        }
        Err(_) => {
            helper.fault = Some(("an expectation in spec_helper".into(), format!("{file}:1")))
        }
    }
    helper.settings = it.settings;
    helper.globals = it.globals;
    helper
}

thread_local! {
    static HELPER: std::cell::RefCell<Option<Rc<Helper>>> = const { std::cell::RefCell::new(None) };
}

/// `require 'spec_helper'`: merge what the helper set up.
pub(crate) fn load_helper(it: &mut Interp<'_, '_>, node: &Node<'_>) -> R<Value> {
    let helper = HELPER.with(|h| h.borrow().clone());
    let Some(helper) = helper else {
        return it.error("cannot load such file -- spec_helper", node);
    };
    if let Some((what, at)) = &helper.fault {
        return Err(Fault::Unsupported(
            format!("{what} (at {at})"),
            line_of(node),
        ));
    }
    for (k, v) in &helper.settings.set {
        it.settings.set.insert(k.clone(), v.clone());
    }
    if !matches!(helper.settings.property, Value::Nil) {
        it.settings.property = helper.settings.property.clone();
    }
    it.globals
        .extend(helper.globals.iter().map(|(k, v)| (k.clone(), v.clone())));
    Ok(Value::Bool(true))
}

/// Settings the engine understands; others are unsupported.
pub(crate) fn apply_setting(
    it: &mut Interp<'_, '_>,
    key: &str,
    value: &Value,
    node: &Node<'_>,
) -> R<()> {
    match key {
        "backend" => match value.to_s().as_str() {
            "exec" | "ssh" | "docker" => Ok(()),
            other => it.unsupported(format!("set :backend, :{other}"), node),
        },
        "path" => {
            it.host.set_path(value.to_s());
            Ok(())
        }
        "host" | "docker_container" | "ssh_options" | "request_pty" | "disable_sudo"
        | "sudo_password" | "shell" => Ok(()),
        other => it.unsupported(format!("set :{other}"), node),
    }
}

/// Runs one spec file natively.
pub fn run_file(
    host: &Host,
    helper: Option<Rc<Helper>>,
    file: &str,
    source: &str,
    env: &HashMap<String, String>,
    settings: Settings,
) -> FileOutcome {
    HELPER.with(|h| *h.borrow_mut() = helper);
    let parsed = ruby_prism::parse(source.as_bytes());
    if let Some(e) = parsed.errors().next() {
        let line = e.location().start_line();
        return unsupported(
            format!("a syntax error: {}", String::from_utf8_lossy(e.message())),
            file,
            line.try_into().unwrap_or(0),
            Vec::new(),
        );
    }
    let mut it = Interp::new(file.to_string(), host, env.clone(), settings);
    let root = parsed.node();
    match it.eval(&root) {
        Ok(_) => {}
        Err(Fault::Unsupported(what, line)) => return unsupported(what, file, line, Vec::new()),
        Err(Fault::Error(what, line)) => {
            return FileOutcome::Ran(vec![ExampleResult {
                full_description: format!("An error occurred while loading {file}"),
                verdict: Verdict::Failed,
                message: Some(what),
                file: file.to_string(),
                line,
            }]);
        }
        Err(_) => {
            return unsupported(
                "an expectation outside an example".into(),
                file,
                1,
                Vec::new(),
            );
        }
    }
    let mut examples = std::mem::take(&mut it.examples);
    examples.sort_by_cached_key(dsl::run_order_key);
    if host.is_local() {
        prefetch(host, &examples);
    }
    let mut results = Vec::new();
    let mut first_unsupported = None;
    for ex in &examples {
        match run_example(&mut it, ex) {
            Ok(r) => results.push(r),
            Err((what, line)) => {
                if first_unsupported.is_none() {
                    first_unsupported = Some((what.clone(), line));
                }
                results.push(ExampleResult {
                    full_description: full_description(
                        &ex.groups,
                        ex.description.as_deref().unwrap_or(""),
                    ),
                    verdict: Verdict::Failed,
                    message: Some(format!("unsupported: {what} at {file}:{line}")),
                    file: file.to_string(),
                    line: ex.line,
                });
            }
        }
    }
    match first_unsupported {
        Some((what, line)) => unsupported(what, file, line, results),
        None => FileOutcome::Ran(results),
    }
}

/// Starts, in the background, the commands the file's examples will run
/// first thing: the `command` of an example whose subject is that command
/// (`its(:stdout)`, `it { should … }`), and `docker inspect` of a
/// container or image. Examples that will not run start nothing.
fn prefetch(host: &Host, examples: &[Example<'_>]) {
    for ex in examples {
        let runs = match &ex.mark {
            Mark::Run => true,
            Mark::Pending(_) => ex.body.is_some(),
            Mark::Skip(_) => false,
        };
        if !runs || inherited_skip(&ex.groups).is_some() {
            continue;
        }
        let mut its = false;
        for g in ex.groups.iter().rev() {
            let g = g.borrow();
            its |= g.its.is_some();
            if g.subject.is_some() || !g.lets.is_empty() {
                break;
            }
            let Some(Value::Resource(r)) = &g.described else {
                continue;
            };
            match (r.kind.as_str(), &r.name) {
                ("command", Some(line)) if its || ex.description.is_none() => host.prefetch(line),
                ("docker_container" | "docker_image", Some(name)) => {
                    host.prefetch_docker_inspect(name)
                }
                _ => {}
            }
            break;
        }
    }
}

fn unsupported(what: String, file: &str, line: u32, examples: Vec<ExampleResult>) -> FileOutcome {
    let examples = if examples.is_empty() {
        vec![ExampleResult {
            full_description: format!("{file}:{line}"),
            verdict: Verdict::Failed,
            message: Some(format!("unsupported: {what} at {file}:{line}")),
            file: file.to_string(),
            line,
        }]
    } else {
        examples
    };
    FileOutcome::Unsupported {
        construct: what,
        at: format!("{file}:{line}"),
        examples,
    }
}

fn run_example<'pr>(
    it: &mut Interp<'pr, '_>,
    ex: &Example<'pr>,
) -> Result<ExampleResult, (String, u32)> {
    let file = it.file.clone();
    let result = |desc: &str, verdict, message| ExampleResult {
        full_description: full_description(&ex.groups, desc),
        verdict,
        message,
        file: file.clone(),
        line: ex.line,
    };
    let doc = ex.description.clone();
    if let Some(why) = inherited_skip(&ex.groups) {
        return Ok(result(
            doc.as_deref().unwrap_or(""),
            Verdict::Pending,
            Some(why),
        ));
    }
    let mut state = ExampleState::default();
    match &ex.mark {
        Mark::Skip(why) => {
            return Ok(result(
                doc.as_deref().unwrap_or(""),
                Verdict::Pending,
                Some(why.clone()),
            ));
        }
        Mark::Pending(why) if ex.body.is_none() => {
            return Ok(result(
                doc.as_deref().unwrap_or(""),
                Verdict::Pending,
                Some(why.clone()),
            ));
        }
        Mark::Pending(why) => {
            state.pending = Some(if why.is_empty() {
                "No reason given".into()
            } else {
                why.clone()
            })
        }
        Mark::Run => {}
    }
    it.example = Some((ex.groups.clone(), state));
    let outcome = run_body(it, ex);
    let state = it.example.take().map(|(_, s)| s).unwrap_or_default();
    let generated = || match &state.last {
        Some((d, false)) => format!("is expected to {d}"),
        Some((d, true)) => format!("is expected not to {d}"),
        None => format!("example at {}:{}", file, ex.line),
    };
    let errored = matches!(outcome, Err(Fault::Error(..))) && state.last.is_none();
    let desc = match doc.clone() {
        Some(d) => d,
        // rspec names a failing example without expectations by nothing.
        None if errored => String::new(),
        None => generated(),
    };
    match (outcome, &state.pending) {
        (Ok(()), None) => Ok(result(&desc, Verdict::Passed, None)),
        (Ok(()), Some(why)) => Ok(result(
            &desc,
            Verdict::Failed,
            Some(format!(
                "Expected pending '{why}' to fail. No error was raised."
            )),
        )),
        (Err(Fault::Unsupported(what, line)), _) => Err((what, line)),
        (Err(Fault::Skip(why)), _) => Ok(result(&desc, Verdict::Pending, Some(why))),
        (Err(Fault::Expectation(_) | Fault::Error(..)), Some(why)) => {
            Ok(result(&desc, Verdict::Pending, Some(why.clone())))
        }
        (Err(Fault::Expectation(msg)), None) => Ok(result(&desc, Verdict::Failed, Some(msg))),
        (Err(Fault::Error(msg, line)), None) => Ok(result(
            &desc,
            Verdict::Failed,
            Some(format!("{msg} (at {file}:{line})")),
        )),
    }
}

fn run_body<'pr>(it: &mut Interp<'pr, '_>, ex: &Example<'pr>) -> R<()> {
    for g in &ex.groups {
        let befores = g.borrow().befores.clone();
        for (block, scopes) in befores {
            it.scopes = scopes;
            it.call_block(&block, Vec::new())?;
        }
    }
    it.scopes = ex.scopes.clone();
    if let Some(body) = &ex.body {
        it.call_block(body, Vec::new())?;
    }
    Ok(())
}
