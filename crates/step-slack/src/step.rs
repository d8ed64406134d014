//! [`SlackNotify`]: the step. It registers the webhook URL as a secret,
//! gathers the run's facts, decides whether to send (`notify_on`,
//! `branches`), renders the message, builds the payload and posts it.
//!
//! A notification that cannot be delivered is a *failed* outcome with a
//! warning line, never an error or a panic: as an after-step it is reported
//! and the pipeline's result stays what it was.

use regex::Regex;
use step_core::{ConfigError, Outcome, RunResult, Step, StepContext, StepError};

use crate::config::{NotifyOn, SlackNotifyConfig};
use crate::delivery::{DeliveryError, RetryPolicy, Webhook};
use crate::facts::RunFacts;
use crate::payload::{Payload, attachment};

/// The text used when no `passed_message`/`failed_message`/`cancelled_message`
/// is set: `[owner/repo] build(0a1b2c3d) of main by alice passed`, the seed's
/// wording, with unknown parts left out.
pub const DEFAULT_MESSAGE: &str = "{% if repo %}[{{ repo }}] {% endif %}{{ pipeline or 'run' }}\
{% if commit_short %}({{ commit_short }}){% endif %}{% if branch %} of {{ branch }}{% endif %}\
{% if target %} for {{ target }}{% endif %}{% if started_by %} by {{ started_by }}{% endif %} {{ result }}";

/// The username `wantedly/pretty-slack-notify` posts as when none is given.
pub const PRETTY_DEFAULT_USERNAME: &str = "Wercker";

/// Which kind's conventions a step follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// `slack-notify`: `channel` and `username` are sent as given.
    Standard,
    /// `wantedly/pretty-slack-notify`: the seed's conventions — a channel
    /// name without `#` or `@` gets a `#`, and the username is
    /// `<username> Passed|Failed|Cancelled` (username defaults to `Wercker`).
    Pretty,
}

/// Posts the run's result to a Slack incoming webhook.
#[derive(Debug)]
pub struct SlackNotify {
    config: SlackNotifyConfig,
    branches: Option<Regex>,
    flavor: Flavor,
}

impl SlackNotify {
    /// A `slack-notify` step from its configuration; checks the URL, the
    /// branch pattern, the templates and the limits.
    pub fn new(config: SlackNotifyConfig) -> Result<SlackNotify, ConfigError> {
        SlackNotify::with_flavor(config, Flavor::Standard)
    }

    /// A `wantedly/pretty-slack-notify` step: the seed's conventions for
    /// channel and username (see [`Flavor::Pretty`]).
    pub fn pretty(config: SlackNotifyConfig) -> Result<SlackNotify, ConfigError> {
        SlackNotify::with_flavor(config, Flavor::Pretty)
    }

    /// A step following the given kind's conventions.
    pub fn with_flavor(
        config: SlackNotifyConfig,
        flavor: Flavor,
    ) -> Result<SlackNotify, ConfigError> {
        let config = config.normalized();
        // Checked here so a bad URL is a configuration error before anything runs.
        config.webhook_url.parse()?;
        let branches = match &config.branches {
            Some(pattern) => Some(Regex::new(pattern).map_err(|e| {
                ConfigError::property(
                    "branches",
                    format!("is not a valid regular expression: {e}"),
                )
            })?),
            None => None,
        };
        if config.icon_url.is_some() && config.icon_emoji.is_some() {
            return Err(ConfigError::new(
                "set `icon_url` or `icon_emoji`, not both (Slack uses only one)",
            ));
        }
        if config.timeout.is_zero() {
            return Err(ConfigError::property("timeout", "must be longer than 0s"));
        }
        for (name, source) in [
            ("passed_message", &config.passed_message),
            ("failed_message", &config.failed_message),
            ("cancelled_message", &config.cancelled_message),
        ] {
            if let Some(source) = source {
                step_core::template::environment()
                    .template_from_str(source)
                    .map_err(|e| {
                        ConfigError::property(name, format!("is not a valid template: {e}"))
                    })?;
            }
        }
        Ok(SlackNotify {
            config,
            branches,
            flavor,
        })
    }

    /// The configuration (with empty strings turned into `None`).
    pub fn config(&self) -> &SlackNotifyConfig {
        &self.config
    }

    /// The conventions followed.
    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// Why this run is not notified, or `None` to send.
    pub fn skip_reason(&self, facts: &RunFacts) -> Option<String> {
        let wanted = match self.config.notify_on {
            NotifyOn::Always => None,
            NotifyOn::Passed => Some(RunResult::Passed),
            NotifyOn::Failed => Some(RunResult::Failed),
            NotifyOn::Cancelled => Some(RunResult::Cancelled),
        };
        if let Some(wanted) = wanted
            && wanted != facts.result
        {
            return Some(format!(
                "not notified: the run {} and notify_on is `{}`",
                facts.result, self.config.notify_on
            ));
        }
        if let Some(pattern) = &self.branches {
            return match &facts.branch {
                Some(branch) if pattern.is_match(branch) => None,
                Some(branch) => Some(format!(
                    "not notified: branch `{branch}` does not match branches /{}/",
                    pattern.as_str()
                )),
                None => Some(format!(
                    "not notified: branches /{}/ is set but the branch is unknown (set STEPWISE_GIT_BRANCH)",
                    pattern.as_str()
                )),
            };
        }
        None
    }

    /// The message text for this run: the result's template (or
    /// [`DEFAULT_MESSAGE`]) rendered with the run's variables.
    pub fn message(&self, cx: &StepContext, facts: &RunFacts) -> Result<String, StepError> {
        let (name, custom) = match facts.result {
            RunResult::Passed => ("passed_message", self.config.passed_message.as_deref()),
            RunResult::Failed => ("failed_message", self.config.failed_message.as_deref()),
            RunResult::Cancelled => match self.config.cancelled_message.as_deref() {
                Some(t) => ("cancelled_message", Some(t)),
                None => ("failed_message", self.config.failed_message.as_deref()),
            },
        };
        let (name, source) = match custom {
            Some(source) => (name, source),
            None => ("default message", DEFAULT_MESSAGE),
        };
        let text = step_core::template::render(name, source, &facts.template_variables(cx))?;
        Ok(text.trim().to_string())
    }

    /// The payload for this run, with every secret the run knows masked.
    pub fn payload(&self, cx: &StepContext, facts: &RunFacts) -> Result<Payload, StepError> {
        let text = self.message(cx, facts)?;
        let (channel, username) = match self.flavor {
            Flavor::Standard => (self.config.channel.clone(), self.config.username.clone()),
            Flavor::Pretty => (
                self.config.channel.as_deref().map(|c| {
                    if c.starts_with('#') || c.starts_with('@') {
                        c.to_string()
                    } else {
                        format!("#{c}")
                    }
                }),
                Some(format!(
                    "{} {}",
                    self.config
                        .username
                        .as_deref()
                        .unwrap_or(PRETTY_DEFAULT_USERNAME),
                    facts.result_title()
                )),
            ),
        };
        let mut payload = Payload {
            attachments: vec![attachment(facts, &text)],
            text,
            channel,
            username,
            icon_url: self.config.icon_url.clone(),
            icon_emoji: self.config.icon_emoji.clone(),
        };
        payload.mask_with(&cx.events().masker());
        Ok(payload)
    }

    fn policy(&self) -> RetryPolicy {
        RetryPolicy {
            retries: self.config.retries,
            timeout: self.config.timeout,
            retry_delay: self.config.retry_delay,
        }
    }

    /// Where the message goes, for a person: the channel, or the webhook's default.
    fn destination(&self, payload: &Payload) -> String {
        match &payload.channel {
            Some(c) => format!("Slack channel {c}"),
            None => "the Slack webhook's default channel".to_string(),
        }
    }
}

#[async_trait::async_trait]
impl Step for SlackNotify {
    async fn run(&self, cx: &StepContext) -> Result<Outcome, StepError> {
        // First thing: from here on no event can show the URL or its token.
        cx.events()
            .add_secrets(self.config.webhook_url.secret_forms());
        let facts = RunFacts::from_context(cx)?;
        if let Some(reason) = self.skip_reason(&facts) {
            return Ok(Outcome::skipped(reason)
                .with_output("sent", false)
                .with_output("attempts", 0));
        }
        let payload = self.payload(cx, &facts)?;
        let webhook = match Webhook::new(&self.config.webhook_url, self.policy(), cx.env()) {
            Ok(w) => w,
            Err(e) => return Err(StepError::other(format!("Slack notification: {e}"))),
        };
        let (attempts, result) = webhook
            .post(&payload, cx.cancel(), |line| cx.warn(line))
            .await;
        match result {
            Ok(delivery) => {
                let tries = if delivery.attempts > 1 {
                    format!(" after {} attempts", delivery.attempts)
                } else {
                    String::new()
                };
                Ok(Outcome::passed()
                    .with_message(format!(
                        "notified {} that the run {}{tries}",
                        self.destination(&payload),
                        facts.result
                    ))
                    .with_output("sent", true)
                    .with_output("attempts", delivery.attempts))
            }
            Err(DeliveryError::Cancelled) => Err(StepError::Cancelled),
            Err(e) => {
                let message = format!("Slack notification not sent: {e}");
                cx.warn(message.clone());
                Ok(Outcome::failed(message)
                    .with_output("sent", false)
                    .with_output("attempts", attempts))
            }
        }
    }

    fn commands(&self) -> Vec<String> {
        vec!["(in-process) POST the result to the Slack webhook".to_string()]
    }
}
