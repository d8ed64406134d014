//! Turning a step's properties (a JSON value, from YAML or from code) into
//! its typed config, with errors that name the property at fault.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ConfigError;

/// Deserializes a step's properties into its config type. Errors name the
/// property path (`vars.region`) and say what was expected, so the runner can
/// point at the line and column in the pipeline file.
///
/// ```
/// #[derive(serde::Deserialize)]
/// #[serde(deny_unknown_fields)]
/// struct Cfg { retries: u32 }
/// let err = step_core::parse_config::<Cfg>(serde_json::json!({"retries": "x"})).err().unwrap();
/// assert_eq!(err.property.as_deref(), Some("retries"));
/// ```
pub fn parse_config<T: DeserializeOwned>(properties: Value) -> Result<T, ConfigError> {
    let properties = match properties {
        Value::Null => Value::Object(Default::default()),
        other => other,
    };
    serde_path_to_error::deserialize(properties).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner().to_string();
        let property = if path == "." || path.is_empty() {
            unknown_field_name(&inner)
        } else {
            Some(path)
        };
        ConfigError {
            property,
            message: inner,
        }
    })
}

/// serde reports an unknown field at the parent's path; pull the field's
/// name out so the error still names it.
fn unknown_field_name(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let end = rest.find('`')?;
    Some(rest[..end].to_string())
}

/// A property that accepts one value or a list of them (`template: a.json`
/// or `template: [a.json, b.json]`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    /// A single value.
    One(T),
    /// A list of values.
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    /// The values as a vector.
    pub fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::One(v) => vec![v],
            OneOrMany::Many(v) => v,
        }
    }
}

impl<T> Default for OneOrMany<T> {
    fn default() -> Self {
        OneOrMany::Many(Vec::new())
    }
}

/// Deserializes a duration written as `90s`, `5m`, `1h30m` or a number of seconds.
pub mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// A text that is not a duration.
    #[derive(Debug, Clone, PartialEq, thiserror::Error)]
    #[error(
        "`{text}` is not a duration ({source}); expected a number with a unit, like 90s, 5m or 1h"
    )]
    #[non_exhaustive]
    pub struct DurationError {
        /// The text as written.
        pub text: String,
        /// What the parser found wrong.
        #[source]
        pub source: humantime::DurationError,
    }

    /// Parses `90s`, `5m`, `1h`, `500ms` or a plain number of seconds.
    pub fn parse(text: &str) -> Result<Duration, DurationError> {
        let t = text.trim();
        if let Ok(secs) = t.parse::<u64>() {
            return Ok(Duration::from_secs(secs));
        }
        humantime::parse_duration(t).map_err(|source| DurationError {
            text: text.to_string(),
            source,
        })
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Secs(u64),
        Text(String),
    }

    /// serde `deserialize_with` for `Duration`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        match Raw::deserialize(d)? {
            Raw::Secs(s) => Ok(Duration::from_secs(s)),
            Raw::Text(t) => parse(&t).map_err(serde::de::Error::custom),
        }
    }

    /// serde `serialize_with` for `Duration`.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    /// The same for `Option<Duration>`.
    pub mod option {
        use std::time::Duration;

        use serde::{Deserialize, Deserializer, Serializer};

        /// serde `deserialize_with` for `Option<Duration>`.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            #[derive(Deserialize)]
            struct W(#[serde(deserialize_with = "super::deserialize")] Duration);
            Ok(Option::<W>::deserialize(d)?.map(|w| w.0))
        }

        /// serde `serialize_with` for `Option<Duration>`.
        pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => super::serialize(d, s),
                None => s.serialize_none(),
            }
        }
    }
}
