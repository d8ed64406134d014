//! # step-slack
//!
//! Slack notifications of a run's result: the `slack-notify` step kind and
//! the seed's `wantedly/pretty-slack-notify`, which takes the same
//! properties and keeps the seed's conventions for channel and username.
//!
//! Why a step of its own rather than a `curl` in a script: a notification
//! is the one step that runs after everything else went wrong, so it must
//! not go wrong itself. It reads the final result from the run (after-steps
//! see passed, failed or cancelled, and which step failed with what
//! message), retries what is worth retrying (429 with `Retry-After`, 5xx,
//! timeouts) within bounds, reports a lost message as a failed step with a
//! warning instead of an error, and treats the webhook URL — whose path is
//! the credential — as a secret from the first moment, in events and in its
//! own error strings alike.
//!
//! The pieces are usable on their own: [`SlackNotifyConfig`] and
//! [`SlackNotify`] for the whole step, [`RunFacts`] for what is known about
//! the run, [`Payload`] for the JSON body, [`Webhook`] for posting any
//! payload with the same retry and secrecy rules.
//!
//! ```
//! use step_core::{RunInfo, RunResult, StepContext, Env};
//! use step_slack::{SlackNotify, SlackNotifyConfig, RunFacts};
//!
//! let mut config = SlackNotifyConfig::new("https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX");
//! config.channel = Some("#apollo".into());
//! let step = SlackNotify::new(config).unwrap();
//!
//! let mut env = Env::new();
//! env.set("STEPWISE_GIT_BRANCH", "main");
//! let cx = StepContext::for_dir(std::env::temp_dir()).with_env(env).with_run(RunInfo {
//!     pipeline: "build".into(),
//!     result: Some(RunResult::Failed),
//!     failed_step: Some("terraform-apply".into()),
//!     ..RunInfo::default()
//! });
//! let facts = RunFacts::from_context(&cx).unwrap();
//! let payload = step.payload(&cx, &facts).unwrap();
//! assert_eq!(payload.text, "build of main failed");
//! assert_eq!(payload.attachments[0].color, "danger");
//!
//! let kinds = step_slack::kinds();
//! assert_eq!(kinds[0].description().kind, "slack-notify");
//! ```

pub mod config;
pub mod delivery;
pub mod describe;
pub mod facts;
pub mod payload;
pub mod step;

pub use config::{NotifyOn, ParseNotifyOnError, SlackNotifyConfig, WebhookUrl};
pub use delivery::{Delivery, DeliveryError, RetryPolicy, Webhook};
pub use facts::RunFacts;
pub use payload::{Attachment, Field, Payload};
pub use step::{Flavor, SlackNotify};

use serde_json::Value;
use step_core::step::FnKind;
use step_core::{ConfigError, Step, StepKind};

/// The step kinds this crate provides, for the runner's registry:
/// `slack-notify` and `wantedly/pretty-slack-notify`.
pub fn kinds() -> Vec<Box<dyn StepKind>> {
    vec![
        Box::new(FnKind::named(
            "slack-notify",
            &[],
            describe::slack_notify,
            build_slack_notify,
        )),
        Box::new(FnKind::named(
            "wantedly/pretty-slack-notify",
            &[],
            describe::pretty_slack_notify,
            build_pretty_slack_notify,
        )),
    ]
}

fn build_slack_notify(properties: Value) -> Result<Box<dyn Step>, ConfigError> {
    let config = parse(properties)?;
    Ok(Box::new(SlackNotify::new(config)?))
}

fn build_pretty_slack_notify(properties: Value) -> Result<Box<dyn Step>, ConfigError> {
    let config = parse(old_form(properties)?)?;
    Ok(Box::new(SlackNotify::pretty(config)?))
}

/// The step's old form, `team` + `token`, as the webhook URL it stood for
/// (`https://<team>.slack.com/services/hooks/incoming-webhook?token=<token>`).
fn old_form(properties: Value) -> Result<Value, ConfigError> {
    let Value::Object(mut map) = properties else {
        return Ok(properties);
    };
    let text = |v: Option<Value>| match v {
        Some(Value::String(s)) => Some(s),
        Some(Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    };
    let team = text(map.remove("team"));
    let token = text(map.remove("token"));
    match (team, token) {
        (None, None) => {}
        (Some(team), Some(token)) => {
            if map.contains_key("webhook_url") {
                return Err(ConfigError::new(
                    "set `webhook_url` or the old form's `team` and `token`, not both",
                ));
            }
            let ok =
                !team.is_empty() && team.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            if !ok {
                return Err(ConfigError::property(
                    "team",
                    "must be a Slack team name (letters, digits, `-`)",
                ));
            }
            let url =
                format!("https://{team}.slack.com/services/hooks/incoming-webhook?token={token}");
            map.insert("webhook_url".into(), Value::String(url));
        }
        (Some(_), None) => return Err(ConfigError::property("token", "is required with `team`")),
        (None, Some(_)) => return Err(ConfigError::property("team", "is required with `token`")),
    }
    Ok(Value::Object(map))
}

/// [`step_core::parse_config`], plus the property's name for a missing
/// required property (serde reports that at the parent, so step-core's
/// error carries no property there).
fn parse(properties: Value) -> Result<SlackNotifyConfig, ConfigError> {
    step_core::parse_config::<SlackNotifyConfig>(properties).map_err(|mut err| {
        if err.property.is_none()
            && let Some(rest) = err.message.strip_prefix("missing field `")
            && let Some(end) = rest.find('`')
        {
            err.property = Some(rest[..end].to_string());
            err.message = "is required".to_string();
        }
        err
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_old_form_becomes_a_webhook_url() {
        let v = old_form(serde_json::json!({"team": "acme", "token": "t0ken", "channel": "x"}))
            .unwrap();
        assert_eq!(
            v["webhook_url"],
            "https://acme.slack.com/services/hooks/incoming-webhook?token=t0ken"
        );
        assert!(v.get("team").is_none() && v.get("token").is_none());
        assert!(old_form(serde_json::json!({"team": "acme"})).is_err());
        assert!(
            old_form(serde_json::json!({"team": "a", "token": "b", "webhook_url": "c"})).is_err()
        );
        assert!(
            build_pretty_slack_notify(serde_json::json!({"team": "acme", "token": "t0ken"}))
                .is_ok()
        );
    }
}

/// Compiles the README's Rust example, so the documented API stays real.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
