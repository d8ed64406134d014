//! The JSON body posted to a Slack incoming webhook: a text (also the
//! notification's fallback) and one attachment colored by the run's result,
//! with the run's facts as fields and a link to the build when one is known.
//!
//! Only the fields Slack's incoming webhooks document are used, so the same
//! body works with Slack and with Slack-compatible receivers (Mattermost,
//! Rocket.Chat).

use serde::{Deserialize, Serialize};
use step_core::RunResult;

use crate::facts::{RunFacts, escape};

/// The longest failed-step message put into a field; longer ones are cut
/// (Slack truncates long fields anyway, and a log excerpt is better read in
/// the build).
pub const MAX_FIELD_CHARS: usize = 1500;

/// A message for a Slack incoming webhook.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Payload {
    /// The message text (shown above the attachment and in notifications).
    pub text: String,
    /// The channel to post to instead of the webhook's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The name to post as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// An image URL to use as the icon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon_url: Option<String>,
    /// An emoji to use as the icon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon_emoji: Option<String>,
    /// The attachments (this step sends one).
    #[serde(default)]
    pub attachments: Vec<Attachment>,
}

/// A Slack message attachment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    /// Plain text for clients that cannot show attachments.
    pub fallback: String,
    /// `good`, `danger` or `warning`.
    pub color: String,
    /// The heading.
    pub title: String,
    /// Where the heading links to (the build).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title_link: Option<String>,
    /// Text under the heading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Name/value pairs shown as a table.
    #[serde(default)]
    pub fields: Vec<Field>,
}

/// One field of an attachment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    /// The field's name.
    pub title: String,
    /// Its value.
    pub value: String,
    /// Whether it is short enough to sit beside another field.
    pub short: bool,
}

impl Field {
    fn new(title: &str, value: impl Into<String>, short: bool) -> Self {
        Field {
            title: title.into(),
            value: value.into(),
            short,
        }
    }
}

/// The attachment color for a result: passed `good`, failed `danger`,
/// cancelled `warning`.
pub fn color_for(result: RunResult) -> &'static str {
    match result {
        RunResult::Passed => "good",
        RunResult::Failed => "danger",
        RunResult::Cancelled => "warning",
    }
}

/// The attachment for a run: colored by the result, titled
/// `owner/repo: pipeline result`, linked to the build, with fields for
/// pipeline, target, branch, commit, started by, duration, and the failed
/// step and its message. Fields whose value is unknown are left out.
pub fn attachment(facts: &RunFacts, fallback: &str) -> Attachment {
    let pipeline = if facts.pipeline.is_empty() {
        "run"
    } else {
        facts.pipeline.as_str()
    };
    let mut title = format!("{} {}", escape(pipeline), facts.result.as_str());
    if let Some(target) = &facts.target {
        title.push_str(&format!(" ({})", escape(target)));
    }
    if let Some(repo) = facts.repo() {
        title = format!("{}: {title}", escape(&repo));
    }
    let mut fields = Vec::new();
    if !facts.pipeline.is_empty() {
        fields.push(Field::new("Pipeline", escape(&facts.pipeline), true));
    }
    if let Some(target) = &facts.target {
        fields.push(Field::new("Target", escape(target), true));
    }
    if let Some(branch) = &facts.branch {
        fields.push(Field::new("Branch", escape(branch), true));
    }
    if let Some(commit) = facts.commit_short() {
        fields.push(Field::new("Commit", escape(&commit), true));
    }
    if let Some(who) = &facts.started_by {
        fields.push(Field::new("Started by", escape(who), true));
    }
    if let Some(duration) = facts.duration_text() {
        fields.push(Field::new("Duration", duration, true));
    }
    if facts.result != RunResult::Passed {
        if let Some(step) = &facts.failed_step {
            fields.push(Field::new("Failed step", escape(step), true));
        }
        if let Some(message) = &facts.failed_message {
            fields.push(Field::new(
                "Message",
                escape(&cut(message, MAX_FIELD_CHARS)),
                false,
            ));
        }
    }
    Attachment {
        fallback: fallback.to_string(),
        color: color_for(facts.result).to_string(),
        title,
        title_link: facts.build_url.clone(),
        text: None,
        fields,
    }
}

/// At most `max` characters, with `…` when cut.
fn cut(text: &str, max: usize) -> String {
    let trimmed = text.trim();
    if trimmed.chars().count() <= max {
        return trimmed.to_string();
    }
    let mut out: String = trimmed.chars().take(max).collect();
    out.push('…');
    out
}

impl Payload {
    /// Applies `mask` to every text the payload carries, so no secret known
    /// to the run (the webhook URL included) is sent to Slack.
    pub fn mask_with(&mut self, masker: &step_core::Masker) {
        let mut texts: Vec<&mut String> = vec![&mut self.text];
        texts.extend(self.channel.as_mut());
        texts.extend(self.username.as_mut());
        texts.extend(self.icon_url.as_mut());
        texts.extend(self.icon_emoji.as_mut());
        for a in &mut self.attachments {
            texts.push(&mut a.fallback);
            texts.push(&mut a.title);
            texts.extend(a.title_link.as_mut());
            texts.extend(a.text.as_mut());
            for f in &mut a.fields {
                texts.push(&mut f.title);
                texts.push(&mut f.value);
            }
        }
        for t in texts {
            masker.mask_in_place(t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn facts(result: RunResult) -> RunFacts {
        RunFacts {
            result,
            pipeline: "build".into(),
            target: None,
            branch: Some("main".into()),
            commit: Some("0123456789".into()),
            owner: Some("acme".into()),
            repository: Some("apollo".into()),
            started_by: None,
            build_url: None,
            failed_step: Some("terraform-apply".into()),
            failed_message: Some("x".repeat(MAX_FIELD_CHARS + 10)),
            elapsed: Some(Duration::from_secs(3)),
            run_id: String::new(),
        }
    }

    #[test]
    fn passed_runs_carry_no_failure_fields_and_long_messages_are_cut() {
        let a = attachment(&facts(RunResult::Passed), "t");
        assert_eq!(a.title, "acme/apollo: build passed");
        assert!(a.fields.iter().all(|f| f.title != "Failed step"));
        let a = attachment(&facts(RunResult::Failed), "t");
        let msg = a.fields.iter().find(|f| f.title == "Message").unwrap();
        assert_eq!(msg.value.chars().count(), MAX_FIELD_CHARS + 1);
        assert!(msg.value.ends_with('…'));
    }

    #[test]
    fn unset_options_are_left_out_of_the_json() {
        let p = Payload {
            text: "hi".into(),
            channel: None,
            username: None,
            icon_url: None,
            icon_emoji: None,
            attachments: vec![],
        };
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"text":"hi","attachments":[]}"#
        );
    }
}
