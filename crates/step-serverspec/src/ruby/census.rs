//! Which constructs a spec file uses, by walking prism's tree: the rows
//! of the crate README's coverage table ("the share of the corpus each
//! construct covers") are counted with this, never by pattern matching
//! the text.

use std::collections::BTreeSet;

use ruby_prism::{Node, Visit};

use super::resources::KINDS;

/// Families of constructs, in the order the README lists them.
pub const FAMILIES: &[(&str, &[&str])] = &[
    (
        "1. skeleton",
        &[
            "require",
            "set",
            "describe/context",
            "it { should }",
            "should_not",
            "its(:attr)",
            "it 'text' do",
            "is_expected.to",
            "expect(x).to",
        ],
    ),
    (
        "2. common resources",
        &["file", "service", "package", "command", "port"],
    ),
    (
        "3. collections and loops",
        &[
            "array literal",
            "%w[] words",
            "hash literal",
            ".each",
            ".each_with_index",
            ".each_pair",
            "ranges",
        ],
    ),
    (
        "4. variables and strings",
        &[
            "local variables",
            "string interpolation",
            "string/array methods",
        ],
    ),
    (
        "5. host facts",
        &[
            "os[...]",
            "property[...]",
            "ENV[...]",
            "globals and constants",
        ],
    ),
    (
        "6. more resources",
        &[
            "user",
            "group",
            "process",
            "interface",
            "kernel_module",
            "docker_container",
            "docker_image",
            "cron",
            "host",
            "default_gateway",
            "routing_table",
            "bridge",
            "linux_kernel_parameter",
            "x509_certificate",
            "iptables",
            "selinux",
            "be_mounted",
        ],
    ),
    (
        "7. rspec extras",
        &[
            "let",
            "subject",
            "before",
            "shared_examples",
            "it_behaves_like",
            "include_examples",
            "metadata :if",
            "xit/pending/skip",
        ],
    ),
    (
        "8. conditionals",
        &["if/elsif", "unless", "case/when", "ternary"],
    ),
    (
        "9. matchers",
        &[
            "match",
            "eq",
            "contain",
            "contain.from/to/after/before",
            "include",
            "start_with/end_with",
            "be_within",
            "be > x",
            "exist",
            "be_mode",
            "be_owned_by",
            "be_grouped_into",
            "be_linked_to",
            "be_readable.by",
            "be_running.under",
            "be_listening.with/on",
            "be_installed.with_version",
            "have_entry",
            "be_enabled.with_level",
            "belong_to_group",
            "have_uid",
            "have_home_directory",
            "have_login_shell",
            "have_authorized_key",
        ],
    ),
];

#[derive(Default)]
struct Census {
    used: BTreeSet<&'static str>,
}

const STRING_METHODS: &[&str] = &[
    "strip",
    "chomp",
    "split",
    "join",
    "downcase",
    "upcase",
    "sub",
    "gsub",
    "sort",
    "first",
    "last",
    "length",
    "size",
    "include?",
    "start_with?",
    "end_with?",
    "to_i",
    "to_s",
    "map",
    "reject",
    "select",
    "+",
];

fn label(name: &str, bare: bool, recv_name: Option<&str>) -> Option<&'static str> {
    let l = match (bare, name) {
        (true, "require") => "require",
        (true, "set" | "set_property") => "set",
        (true, "describe" | "context") => "describe/context",
        (true, "its") => "its(:attr)",
        (_, "should_not") => "should_not",
        (true, "let") => "let",
        (true, "subject") => "subject",
        (true, "before") => "before",
        (true, "shared_examples" | "shared_examples_for") => "shared_examples",
        (true, "it_behaves_like" | "it_should_behave_like") => "it_behaves_like",
        (true, "include_examples") => "include_examples",
        (true, "xit" | "pending" | "skip") => "xit/pending/skip",
        (true, "os") => "os[...]",
        (true, "property") => "property[...]",
        (true, "match") => "match",
        (true, "eq") => "eq",
        (true, "contain") => "contain",
        (true, "include") => "include",
        (true, "start_with" | "end_with") => "start_with/end_with",
        (true, "be_within") => "be_within",
        (true, "exist") => "exist",
        (true, "be_mode") => "be_mode",
        (true, "be_owned_by") => "be_owned_by",
        (true, "be_grouped_into") => "be_grouped_into",
        (true, "be_linked_to") => "be_linked_to",
        (true, "be_mounted") => "be_mounted",
        (true, "have_entry") => "have_entry",
        (true, "belong_to_group") => "belong_to_group",
        (true, "have_uid") => "have_uid",
        (true, "have_home_directory") => "have_home_directory",
        (true, "have_login_shell") => "have_login_shell",
        (true, "have_authorized_key") => "have_authorized_key",
        (false, "each") => ".each",
        (false, "each_with_index") => ".each_with_index",
        (false, "each_pair") => ".each_pair",
        (false, "from" | "to" | "after" | "before") if recv_name == Some("contain") => {
            "contain.from/to/after/before"
        }
        (false, "by")
            if recv_name == Some("be_readable")
                || recv_name == Some("be_executable")
                || recv_name == Some("be_writable") =>
        {
            "be_readable.by"
        }
        (false, "under") => "be_running.under",
        (false, "with" | "on") if recv_name == Some("be_listening") => "be_listening.with/on",
        (false, "with_version") => "be_installed.with_version",
        (false, "with_level") => "be_enabled.with_level",
        (false, "to" | "not_to" | "to_not") if recv_name == Some("is_expected") => "is_expected.to",
        (false, "to" | "not_to" | "to_not") if recv_name == Some("expect") => "expect(x).to",
        (false, ">" | "<" | ">=" | "<=") if recv_name == Some("be") => "be > x",
        (false, "[]") if recv_name == Some("ENV") => "ENV[...]",
        (false, m) if STRING_METHODS.contains(&m) => "string/array methods",
        (true, k) => return KINDS.iter().find(|x| **x == k).copied(),
        _ => return None,
    };
    Some(l)
}

impl<'pr> Visit<'pr> for Census {
    fn visit_branch_node_enter(&mut self, node: Node<'pr>) {
        self.classify(&node);
    }

    fn visit_leaf_node_enter(&mut self, node: Node<'pr>) {
        self.classify(&node);
    }
}

impl Census {
    fn classify(&mut self, node: &Node<'_>) {
        let used = &mut self.used;
        match node {
            Node::CallNode { .. } => {
                let Some(c) = node.as_call_node() else { return };
                let name = String::from_utf8_lossy(c.name().as_slice()).into_owned();
                let recv = c.receiver();
                let recv_name = recv.as_ref().and_then(|r| {
                    r.as_call_node()
                        .map(|rc| String::from_utf8_lossy(rc.name().as_slice()).into_owned())
                        .or_else(|| {
                            r.as_constant_read_node()
                                .map(|k| String::from_utf8_lossy(k.name().as_slice()).into_owned())
                        })
                });
                if let Some(l) = label(&name, recv.is_none(), recv_name.as_deref()) {
                    used.insert(l);
                }
                if name == "it" && recv.is_none() {
                    let text = c.arguments().is_some_and(|a| {
                        a.arguments().iter().any(|x| x.as_string_node().is_some())
                    });
                    used.insert(if text {
                        "it 'text' do"
                    } else {
                        "it { should }"
                    });
                }
                if recv.is_none() && (name == "describe" || name == "it" || name == "context") {
                    let meta = c.arguments().is_some_and(|a| {
                        a.arguments()
                            .iter()
                            .any(|x| x.as_keyword_hash_node().is_some())
                    });
                    if meta {
                        used.insert("metadata :if");
                    }
                }
            }
            Node::ArrayNode { .. } => {
                let words = node
                    .as_array_node()
                    .and_then(|a| a.opening_loc())
                    .is_some_and(|l| l.as_slice().starts_with(b"%"));
                used.insert(if words { "%w[] words" } else { "array literal" });
            }
            Node::HashNode { .. } | Node::KeywordHashNode { .. } => {
                used.insert("hash literal");
            }
            Node::RangeNode { .. } => {
                used.insert("ranges");
            }
            Node::LocalVariableWriteNode { .. } => {
                used.insert("local variables");
            }
            Node::InterpolatedStringNode { .. } => {
                used.insert("string interpolation");
            }
            Node::GlobalVariableWriteNode { .. }
            | Node::ConstantWriteNode { .. }
            | Node::InstanceVariableWriteNode { .. } => {
                used.insert("globals and constants");
            }
            Node::IfNode { .. } => {
                let ternary = node
                    .as_if_node()
                    .is_some_and(|i| i.if_keyword_loc().is_none());
                used.insert(if ternary { "ternary" } else { "if/elsif" });
            }
            Node::UnlessNode { .. } => {
                used.insert("unless");
            }
            Node::CaseNode { .. } => {
                used.insert("case/when");
            }
            _ => {}
        }
    }
}

/// The constructs (README labels) one Ruby source uses.
pub fn constructs(source: &str) -> BTreeSet<&'static str> {
    let parsed = ruby_prism::parse(source.as_bytes());
    let mut census = Census::default();
    census.visit(&parsed.node());
    census.used
}
