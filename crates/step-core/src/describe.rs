//! Self-description of a step kind: its properties (name, type, required,
//! default, doc) and outputs — what wercker's `step.yml` held. The runner
//! uses it for `runner validate`, `runner steps`, `runner explain` and for
//! "did you mean" suggestions.

use serde::Serialize;

/// The type of a property, for documentation and validation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PropertyType {
    /// Text.
    String,
    /// `true` / `false`.
    Bool,
    /// A whole number.
    Integer,
    /// A duration such as `90s` or `5m`.
    Duration,
    /// A list of values.
    List,
    /// A mapping of names to values.
    Map,
    /// One string or a list of strings.
    StringOrList,
    /// A path to a file or directory.
    Path,
    /// Anything (free-form).
    Any,
}

impl PropertyType {
    /// The name shown in `runner explain`.
    pub fn as_str(&self) -> &'static str {
        match self {
            PropertyType::String => "string",
            PropertyType::Bool => "bool",
            PropertyType::Integer => "integer",
            PropertyType::Duration => "duration",
            PropertyType::List => "list",
            PropertyType::Map => "map",
            PropertyType::StringOrList => "string or list",
            PropertyType::Path => "path",
            PropertyType::Any => "any",
        }
    }
}

/// One property of a step kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PropertyDoc {
    /// The property's name in YAML and in the config struct.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub ty: PropertyType,
    /// Whether it must be given.
    pub required: bool,
    /// The default, as text, when there is one.
    pub default: Option<String>,
    /// One or two sentences for a person.
    pub doc: String,
}

impl PropertyDoc {
    /// A required property.
    pub fn required(name: &str, ty: PropertyType, doc: &str) -> Self {
        PropertyDoc {
            name: name.into(),
            ty,
            required: true,
            default: None,
            doc: doc.into(),
        }
    }

    /// An optional property without a default.
    pub fn optional(name: &str, ty: PropertyType, doc: &str) -> Self {
        PropertyDoc {
            name: name.into(),
            ty,
            required: false,
            default: None,
            doc: doc.into(),
        }
    }

    /// An optional property with a default.
    pub fn with_default(name: &str, ty: PropertyType, default: &str, doc: &str) -> Self {
        PropertyDoc {
            name: name.into(),
            ty,
            required: false,
            default: Some(default.into()),
            doc: doc.into(),
        }
    }
}

/// One output a step publishes when it has an `id`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OutputDoc {
    /// The output's name (`${{ outputs.<id>.<name> }}`).
    pub name: String,
    /// What it holds.
    pub doc: String,
}

/// The description of a step kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StepDescription {
    /// The kind's name in YAML (`packer-validate`).
    pub kind: String,
    /// Other names that resolve to the same kind with the same properties.
    pub aliases: Vec<String>,
    /// One line: what the step does.
    pub summary: String,
    /// Longer text: behaviour, caveats.
    pub doc: String,
    /// The properties.
    pub properties: Vec<PropertyDoc>,
    /// The outputs.
    pub outputs: Vec<OutputDoc>,
    /// A YAML example.
    pub example: String,
    /// Properties that name files or directories the step reads (relative
    /// to its working directory). `runner validate` checks that they exist
    /// before anything runs.
    pub reads: Vec<String>,
    /// Whether the step publishes outputs beyond the declared ones (a
    /// terraform config's own outputs, a legacy step's): references to
    /// undeclared names are then not errors.
    pub open_outputs: bool,
}

impl StepDescription {
    /// A description with a kind name and one-line summary.
    pub fn new(kind: &str, summary: &str) -> Self {
        StepDescription {
            kind: kind.into(),
            aliases: Vec::new(),
            summary: summary.into(),
            doc: String::new(),
            properties: Vec::new(),
            outputs: Vec::new(),
            example: String::new(),
            reads: Vec::new(),
            open_outputs: false,
        }
    }

    /// Declares properties that name paths the step reads (`playbook`,
    /// `spec`, `dir`); see [`StepDescription::reads`].
    pub fn reads(mut self, properties: &[&str]) -> Self {
        self.reads.extend(properties.iter().map(|p| p.to_string()));
        self
    }

    /// Declares that the step publishes outputs beyond the declared ones;
    /// see [`StepDescription::open_outputs`].
    pub fn open_outputs(mut self) -> Self {
        self.open_outputs = true;
        self
    }

    /// Adds an alias.
    pub fn alias(mut self, alias: &str) -> Self {
        self.aliases.push(alias.into());
        self
    }

    /// Sets the longer doc text.
    pub fn doc(mut self, doc: &str) -> Self {
        self.doc = doc.into();
        self
    }

    /// Adds a property.
    pub fn property(mut self, property: PropertyDoc) -> Self {
        self.properties.push(property);
        self
    }

    /// Adds an output.
    pub fn output(mut self, name: &str, doc: &str) -> Self {
        self.outputs.push(OutputDoc {
            name: name.into(),
            doc: doc.into(),
        });
        self
    }

    /// Sets the YAML example.
    pub fn example(mut self, example: &str) -> Self {
        self.example = example.into();
        self
    }

    /// The property with this name.
    pub fn find_property(&self, name: &str) -> Option<&PropertyDoc> {
        self.properties.iter().find(|p| p.name == name)
    }
}
