//! rspec's structure as the engine records it: example groups (their
//! descriptions, `let`s, `subject`, `before` hooks, skip metadata) and the
//! examples defined in them, each with the captured local variables of the
//! place it was written. Names follow rspec's `full_description`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use ruby_prism::Node;

use super::value::Value;

/// Local variables visible at a point (innermost scope last).
pub type Scopes = Vec<HashMap<String, Value>>;

/// One example group (`describe`, `context`, `its`, a shared group body).
pub struct Group<'pr> {
    /// Its description part ("" for a shared-examples body).
    pub description: String,
    /// The object described (`describe file('/x')`), when not a string.
    pub described: Option<Value>,
    /// The first description argument as given (string groups).
    pub first_arg: Option<Value>,
    /// `its(:attr)`: the attribute its subject reads from the parent's.
    pub its: Option<Value>,
    /// `let(:name) { … }` blocks.
    pub lets: Vec<(String, Rc<Node<'pr>>)>,
    /// `subject { … }` (with its optional name).
    pub subject: Option<(Option<String>, Rc<Node<'pr>>)>,
    /// `before { … }` hooks, with the locals they see.
    pub befores: Vec<(Rc<Node<'pr>>, Scopes)>,
    /// Skip reason from metadata (`:if => false`, `skip: 'why'`), or `xdescribe`.
    pub skip: Option<String>,
    /// Whether the group is part of the description chain (shared bodies are not).
    pub named: bool,
    /// Definition order, for rspec's run order.
    pub seq: usize,
}

impl Group<'_> {
    /// A group with a description.
    pub fn new(description: String) -> Self {
        Group {
            description,
            described: None,
            first_arg: None,
            its: None,
            lets: Vec::new(),
            subject: None,
            befores: Vec::new(),
            skip: None,
            named: true,
            seq: 0,
        }
    }
}

/// A shared handle on a group (examples keep their ancestry).
pub type GroupRef<'pr> = Rc<RefCell<Group<'pr>>>;

/// How an example was marked before it ran.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mark {
    /// Runs normally.
    Run,
    /// `xit`, `skip`, `:skip` metadata: not run, reported pending.
    Skip(String),
    /// `pending` without a block: not run, reported pending.
    Pending(String),
}

/// One example (`it`, `its`, `specify`).
pub struct Example<'pr> {
    /// Ancestry, outermost first.
    pub groups: Vec<GroupRef<'pr>>,
    /// Its doc string, if written.
    pub description: Option<String>,
    /// Line of the example.
    pub line: u32,
    /// The block.
    pub body: Option<Rc<Node<'pr>>>,
    /// Locals captured where it was written.
    pub scopes: Scopes,
    /// Skip / pending marks.
    pub mark: Mark,
    /// Order of definition within its innermost group, for rspec's run order.
    pub order: (usize, usize),
}

/// rspec's full description: the groups' parts and the example's, joined by spaces.
pub fn full_description(groups: &[GroupRef<'_>], example: &str) -> String {
    let mut parts: Vec<String> = groups
        .iter()
        .filter(|g| g.borrow().named)
        .map(|g| g.borrow().description.clone())
        .collect();
    parts.push(example.to_string());
    parts.join(" ")
}

/// rspec's run order: a group's own examples first, then its child groups,
/// each in definition order.
pub fn run_order_key(example: &Example<'_>) -> Vec<(u8, usize)> {
    let mut key: Vec<(u8, usize)> = example.groups.iter().map(|g| (1, g.borrow().seq)).collect();
    key.push((0, example.order.1));
    key
}

/// The nearest skip reason in the ancestry.
pub fn inherited_skip(groups: &[GroupRef<'_>]) -> Option<String> {
    groups.iter().rev().find_map(|g| g.borrow().skip.clone())
}
