//! The typed configuration shared by `slack-notify` and
//! `wantedly/pretty-slack-notify`: the same struct serves the YAML loader and
//! Rust callers, and [`WebhookUrl`] keeps the webhook URL out of `Debug`
//! output and error messages.

use std::fmt;
use std::time::Duration;

use reqwest::Url;
use serde::{Deserialize, Deserializer};
use step_core::ConfigError;

/// How long one request may take before it counts as timed out.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// How many times a failed request (5xx, 429, timeout, connection error) is retried.
pub const DEFAULT_RETRIES: u32 = 3;
/// The first wait before a retry; it doubles with each further retry.
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(1);

/// The configuration of a Slack notification step.
///
/// Property names are the ones `wantedly/pretty-slack-notify` used
/// (`webhook_url`, `channel`, `username`, `notify_on`, `branches`,
/// `passed_message`, `failed_message`) plus the ones this implementation adds.
/// Empty strings count as "not set", so `channel: ${SLACK_CHANNEL:-}` works.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackNotifyConfig {
    /// The Slack incoming-webhook URL. Always treated as a secret: it is
    /// registered for masking before anything else happens and never appears
    /// in a message, an error or `Debug` output.
    pub webhook_url: WebhookUrl,
    /// The channel to post to instead of the webhook's default.
    #[serde(default)]
    pub channel: Option<String>,
    /// The name the message is posted under.
    #[serde(default)]
    pub username: Option<String>,
    /// The URL of an image used as the poster's icon.
    #[serde(default)]
    pub icon_url: Option<String>,
    /// An emoji (`:rocket:`) used as the poster's icon.
    #[serde(default)]
    pub icon_emoji: Option<String>,
    /// Which results are notified.
    #[serde(default)]
    pub notify_on: NotifyOn,
    /// A regular expression; the notification is sent only when the branch
    /// matches it (unanchored, as the seed's Ruby `=~`; write `^main$` to anchor).
    #[serde(default)]
    pub branches: Option<String>,
    /// The text for a passed run (a minijinja template).
    #[serde(default)]
    pub passed_message: Option<String>,
    /// The text for a failed run (a minijinja template). Also used for a
    /// cancelled run when `cancelled_message` is not set.
    #[serde(default)]
    pub failed_message: Option<String>,
    /// The text for a cancelled run (a minijinja template).
    #[serde(default)]
    pub cancelled_message: Option<String>,
    /// How long one request may take (`10s`, `1m`, or a number of seconds).
    #[serde(
        default = "default_timeout",
        deserialize_with = "step_core::config::duration::deserialize"
    )]
    pub timeout: Duration,
    /// How many times a request is retried after a 5xx answer, a 429, a
    /// timeout or a connection error.
    #[serde(default = "default_retries", deserialize_with = "count")]
    pub retries: u32,
    /// The first wait before a retry; it doubles with each further retry,
    /// up to 30s. A 429's `Retry-After` replaces it.
    #[serde(
        default = "default_retry_delay",
        deserialize_with = "step_core::config::duration::deserialize"
    )]
    pub retry_delay: Duration,
}

impl SlackNotifyConfig {
    /// A configuration with this webhook URL and every other property at its default.
    pub fn new(webhook_url: impl Into<String>) -> Self {
        SlackNotifyConfig {
            webhook_url: WebhookUrl::new(webhook_url),
            channel: None,
            username: None,
            icon_url: None,
            icon_emoji: None,
            notify_on: NotifyOn::Always,
            branches: None,
            passed_message: None,
            failed_message: None,
            cancelled_message: None,
            timeout: DEFAULT_TIMEOUT,
            retries: DEFAULT_RETRIES,
            retry_delay: DEFAULT_RETRY_DELAY,
        }
    }

    /// Turns empty strings into `None`, so an expanded `${VAR:-}` means "not set".
    pub(crate) fn normalized(mut self) -> Self {
        for field in [
            &mut self.channel,
            &mut self.username,
            &mut self.icon_url,
            &mut self.icon_emoji,
            &mut self.branches,
            &mut self.passed_message,
            &mut self.failed_message,
            &mut self.cancelled_message,
        ] {
            if field.as_deref().is_some_and(|s| s.trim().is_empty()) {
                *field = None;
            }
        }
        self
    }
}

fn default_timeout() -> Duration {
    DEFAULT_TIMEOUT
}

fn default_retries() -> u32 {
    DEFAULT_RETRIES
}

fn default_retry_delay() -> Duration {
    DEFAULT_RETRY_DELAY
}

/// A whole number written as a number or as text (`retries: "3"` after `$VAR` expansion).
fn count<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(u32),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Number(n) => Ok(n),
        Raw::Text(t) => t.trim().parse().map_err(|_| {
            serde::de::Error::custom(format!("`{t}` is not a whole number (0 or more)"))
        }),
    }
}

/// Which run results send a notification.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NotifyOn {
    /// Every result (the default; an empty string means this too, as in the seed).
    #[default]
    Always,
    /// Only passed runs.
    Passed,
    /// Only failed runs.
    Failed,
    /// Only cancelled runs.
    Cancelled,
}

impl NotifyOn {
    /// The name used in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyOn::Always => "always",
            NotifyOn::Passed => "passed",
            NotifyOn::Failed => "failed",
            NotifyOn::Cancelled => "cancelled",
        }
    }

    /// Parses `always`, `passed`, `failed`, `cancelled` (any case) or an empty string.
    pub fn parse(text: &str) -> Result<NotifyOn, ParseNotifyOnError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "" | "always" => Ok(NotifyOn::Always),
            "passed" => Ok(NotifyOn::Passed),
            "failed" => Ok(NotifyOn::Failed),
            "cancelled" => Ok(NotifyOn::Cancelled),
            _ => Err(ParseNotifyOnError {
                text: text.to_string(),
            }),
        }
    }
}

/// A text that is not a [`NotifyOn`] value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a notify_on value; expected always, passed, failed or cancelled")]
pub struct ParseNotifyOnError {
    /// The text that was given.
    pub text: String,
}

impl std::str::FromStr for NotifyOn {
    type Err = ParseNotifyOnError;

    /// The same as [`NotifyOn::parse`].
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        NotifyOn::parse(text)
    }
}

impl fmt::Display for NotifyOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for NotifyOn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        NotifyOn::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A Slack webhook URL: a secret. `Debug` prints `WebhookUrl(***)`, there is
/// no `Display`, and every error about it is worded without its value.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct WebhookUrl(String);

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookUrl(***)")
    }
}

impl WebhookUrl {
    /// Wraps a URL.
    pub fn new(url: impl Into<String>) -> Self {
        WebhookUrl(url.into())
    }

    /// The URL itself, for the one place that needs it: the request.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Parses and checks the URL: http or https, with a host. The error
    /// says what is wrong without repeating the URL.
    pub fn parse(&self) -> Result<Url, ConfigError> {
        let text = self.0.trim();
        if text.is_empty() {
            return Err(ConfigError::property(
                "webhook_url",
                "is empty; set it to the Slack incoming-webhook URL (for example `$SLACK_WEBHOOK_URL`)",
            ));
        }
        let url = Url::parse(text).map_err(|e| {
            ConfigError::property(
                "webhook_url",
                format!("is not a valid URL ({e}); the value is a secret and is not shown"),
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ConfigError::property(
                "webhook_url",
                "must be an http:// or https:// URL (the value is a secret and is not shown)",
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(ConfigError::property(
                "webhook_url",
                "has no host (the value is a secret and is not shown)",
            ));
        }
        Ok(url)
    }

    /// Every form of the URL that could end up in text and must be masked:
    /// the value as given, its normalized form, its path (which holds the
    /// token: `/services/T…/B…/<token>`), the path without its leading
    /// slash, the last path segment when it looks like a token, the query
    /// and any password.
    pub fn secret_forms(&self) -> Vec<String> {
        let mut forms = vec![self.0.clone()];
        let trimmed = self.0.trim();
        forms.push(trimmed.to_string());
        if let Ok(url) = Url::parse(trimmed) {
            forms.push(url.as_str().to_string());
            forms.push(url.as_str().trim_end_matches('/').to_string());
            let path = url.path();
            if path.trim_matches('/').len() >= 4 {
                forms.push(path.to_string());
                forms.push(path.trim_start_matches('/').to_string());
                forms.push(path.trim_end_matches('/').to_string());
            }
            if let Some(last) = url
                .path_segments()
                .and_then(|mut s| s.rfind(|p| !p.is_empty()))
                && last.len() >= 8
            {
                forms.push(last.to_string());
            }
            if let Some(query) = url.query() {
                forms.push(query.to_string());
            }
            if let Some(password) = url.password() {
                forms.push(password.to_string());
            }
        }
        let mut unique: Vec<String> = Vec::new();
        for form in forms {
            if form.len() >= step_core::mask::MIN_SECRET_LEN && !unique.contains(&form) {
                unique.push(form);
            }
        }
        unique
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn notify_on_parses_with_from_str() {
        assert_eq!(" Failed ".parse(), Ok(NotifyOn::Failed));
        assert_eq!("".parse(), Ok(NotifyOn::Always));
        let err = "sometimes".parse::<NotifyOn>().unwrap_err();
        assert_eq!(err.text, "sometimes");
        assert!(err.to_string().contains("expected always, passed"));
    }

    #[test]
    fn defaults_apply_and_numbers_may_be_text() {
        let cfg: SlackNotifyConfig = step_core::parse_config(json!({
            "webhook_url": "https://hooks.example/services/T1/B2/abcdefghijkl",
            "retries": "5",
            "timeout": "2s",
        }))
        .unwrap();
        assert_eq!(cfg.retries, 5);
        assert_eq!(cfg.timeout, Duration::from_secs(2));
        assert_eq!(cfg.retry_delay, DEFAULT_RETRY_DELAY);
        assert_eq!(cfg.notify_on, NotifyOn::Always);
    }

    #[test]
    fn notify_on_accepts_the_seeds_values_and_names_bad_ones() {
        assert_eq!(NotifyOn::parse("").unwrap(), NotifyOn::Always);
        assert_eq!(NotifyOn::parse("Failed").unwrap(), NotifyOn::Failed);
        let err = step_core::parse_config::<SlackNotifyConfig>(json!({
            "webhook_url": "https://x.example/a", "notify_on": "sometimes"
        }))
        .unwrap_err();
        assert_eq!(err.property.as_deref(), Some("notify_on"));
        assert!(
            err.message.contains("always, passed, failed or cancelled"),
            "{err}"
        );
    }

    #[test]
    fn debug_and_errors_never_show_the_url() {
        let cfg = SlackNotifyConfig::new("https://hooks.example/services/T1/B2/sekrit-token-123");
        assert!(!format!("{cfg:?}").contains("sekrit"));
        let bad = WebhookUrl::new("ftp://host/sekrit-token-123");
        let err = bad.parse().unwrap_err().to_string();
        assert!(!err.contains("sekrit"), "{err}");
        let bad = WebhookUrl::new("not a url sekrit-token-123");
        let err = bad.parse().unwrap_err().to_string();
        assert!(!err.contains("sekrit"), "{err}");
        assert!(err.contains("webhook_url"), "{err}");
    }

    #[test]
    fn secret_forms_cover_the_token_path() {
        let url = WebhookUrl::new("https://hooks.example/services/T1/B2/abcdefghijkl");
        let forms = url.secret_forms();
        for expected in [
            "https://hooks.example/services/T1/B2/abcdefghijkl",
            "/services/T1/B2/abcdefghijkl",
            "services/T1/B2/abcdefghijkl",
            "abcdefghijkl",
        ] {
            assert!(
                forms.iter().any(|f| f == expected),
                "{expected} missing from {forms:?}"
            );
        }
        // Short, ordinary segments are not registered: they would blank ordinary words.
        assert!(!forms.iter().any(|f| f == "services"));
    }
}
