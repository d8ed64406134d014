//! The descriptions `runner explain` shows for `slack-notify` and
//! `wantedly/pretty-slack-notify`. Both take the same properties; they
//! differ only in the conventions for `channel` and `username`.

use step_core::{PropertyDoc, PropertyType, StepDescription};

/// The `slack-notify` kind's name.
pub const KIND: &str = "slack-notify";
/// The seed's step name, a kind of its own with the seed's conventions.
pub const PRETTY_KIND: &str = "wantedly/pretty-slack-notify";

const TEMPLATE_VARIABLES: &str = "Message templates are minijinja (strict: an unknown variable is an error) and see: \
result (passed|failed|cancelled), result_title (Passed|Failed|Cancelled), pipeline, target, branch, commit, \
commit_short (8 characters), repo (owner/name), owner, repository, started_by, build_url, failed_step, \
failed_message, duration (`1m 5s`), elapsed_secs, run_id — unknown ones are empty strings and values are \
escaped for Slack (&, <, >) — plus env, outputs and run as in every stepwise template. Secrets known to the \
run are masked in what is sent.";

const SOURCES: &str = "The result, failed step and its message come from the run (after-steps see the final \
result; RUNNER_RESULT/WERCKER_RESULT are read when embedding without run info). Branch, commit, repository, \
author and build link come from the environment: STEPWISE_GIT_BRANCH, STEPWISE_GIT_COMMIT, STEPWISE_BUILD_URL \
first, then wercker's WERCKER_GIT_BRANCH, WERCKER_GIT_COMMIT, WERCKER_GIT_OWNER, WERCKER_GIT_REPOSITORY, \
WERCKER_STARTED_BY, WERCKER_RUN_URL, WERCKER_BUILD_URL, then GitHub Actions' and GitLab CI's.";

const DELIVERY: &str = "The message is posted as JSON: a text plus one attachment colored good (passed), \
danger (failed) or warning (cancelled), titled and linked to the build, with fields pipeline, target, branch, \
commit, started by, duration, failed step and its message. A 429 waits for its Retry-After (up to 60s); a 5xx, \
a timeout or a connection error is retried after retry_delay, doubling up to 30s; a 404 means \"webhook URL not \
found\"; another 4xx is final. A message that cannot be delivered makes the step fail with a warning (as an \
after-step it never changes the pipeline's result). The webhook URL is a secret: it is masked everywhere, its \
token path included, and never appears in a message or error.";

/// The properties both kinds take.
fn properties(
    description: StepDescription,
    username_doc: &str,
    channel_doc: &str,
) -> StepDescription {
    description
        .property(PropertyDoc::required(
            "webhook_url",
            PropertyType::String,
            "The Slack incoming-webhook URL, usually `$SLACK_WEBHOOK_URL`. Always a secret.",
        ))
        .property(PropertyDoc::optional("channel", PropertyType::String, channel_doc))
        .property(PropertyDoc::optional("username", PropertyType::String, username_doc))
        .property(PropertyDoc::optional(
            "icon_url",
            PropertyType::String,
            "An image URL used as the poster's icon (not together with icon_emoji).",
        ))
        .property(PropertyDoc::optional(
            "icon_emoji",
            PropertyType::String,
            "An emoji such as `:rocket:` used as the poster's icon (not together with icon_url).",
        ))
        .property(PropertyDoc::with_default(
            "notify_on",
            PropertyType::String,
            "always",
            "Which results are notified: always, passed, failed or cancelled. Others are skipped, saying why.",
        ))
        .property(PropertyDoc::optional(
            "branches",
            PropertyType::String,
            "A regular expression; only branches matching it are notified (unanchored; write `^main$` to \
             anchor). When set and the branch is unknown, the step skips.",
        ))
        .property(PropertyDoc::optional(
            "passed_message",
            PropertyType::String,
            "The text for a passed run (a template). Default: `[owner/repo] build(sha8) of BRANCH by USER passed`.",
        ))
        .property(PropertyDoc::optional(
            "failed_message",
            PropertyType::String,
            "The text for a failed run (a template); also for a cancelled run when cancelled_message is not set.",
        ))
        .property(PropertyDoc::optional(
            "cancelled_message",
            PropertyType::String,
            "The text for a cancelled run (a template).",
        ))
        .property(PropertyDoc::with_default(
            "timeout",
            PropertyType::Duration,
            "10s",
            "How long one request may take.",
        ))
        .property(PropertyDoc::with_default(
            "retries",
            PropertyType::Integer,
            "3",
            "Retries after a 5xx, a 429, a timeout or a connection error.",
        ))
        .property(PropertyDoc::with_default(
            "retry_delay",
            PropertyType::Duration,
            "1s",
            "The first wait before a retry; doubles with each further retry, up to 30s. A 429's Retry-After replaces it.",
        ))
        .output("sent", "true when Slack accepted the message, false when skipped or not delivered.")
        .output("attempts", "How many requests were made.")
}

/// The description of `slack-notify`.
pub fn slack_notify() -> StepDescription {
    let doc = format!(
        "Posts the run's result to a Slack incoming webhook; meant for after-steps, which run when the \
         pipeline passed, failed or was cancelled. {SOURCES}\n\n{DELIVERY}\n\n{TEMPLATE_VARIABLES}\n\n\
         For the seed's step name and conventions (`#` added to the channel, `<username> Passed` as the \
         username) use `{PRETTY_KIND}`."
    );
    let description = StepDescription::new(KIND, "Notify Slack of the run's result (passed, failed, cancelled).")
        .doc(&doc)
        .example(
            "build:\n  after-steps:\n    - slack-notify:\n        webhook_url: $SLACK_WEBHOOK_URL\n        \
             channel: \"#apollo\"\n        notify_on: failed\n        branches: ^(main|release/.*)$\n        \
             failed_message: \"{{ repo }}: {{ failed_step }} failed on {{ branch }} <{{ build_url }}|see the build>\"\n",
        );
    properties(
        description,
        "The name the message is posted under (the webhook's default when unset).",
        "The channel to post to instead of the webhook's default, sent as given (`#apollo`, `@alice`).",
    )
}

/// The description of `wantedly/pretty-slack-notify`.
pub fn pretty_slack_notify() -> StepDescription {
    let doc = format!(
        "The seed's wercker step, with its property names and conventions: a channel name without `#` or `@` \
         gets a `#` (`channel: apollo` posts to #apollo), and the message is posted as \
         `<username> Passed|Failed|Cancelled` (username defaults to `Wercker`). Otherwise it is `{KIND}`. \
         {SOURCES}\n\n{DELIVERY}\n\n{TEMPLATE_VARIABLES}"
    );
    let description = StepDescription::new(
        PRETTY_KIND,
        "Notify Slack of the run's result, as wercker's wantedly/pretty-slack-notify did.",
    )
    .doc(&doc)
    .example(
        "build:\n  after-steps:\n    - wantedly/pretty-slack-notify:\n        webhook_url: $SLACK_WEBHOOK_URL\n        \
         channel: apollo\n        username: wercker-bot\n",
    );
    let mut d = properties(
        description,
        "The name shown before the result (`wercker-bot Passed`); default `Wercker`.",
        "The channel to post to instead of the webhook's default; `#` is added when the name has no `#` or `@`.",
    );
    // The step's old form: `team` + `token` instead of `webhook_url`.
    for p in d.properties.iter_mut().filter(|p| p.name == "webhook_url") {
        p.required = false;
        p.doc.push_str(" Or the old form: `team` and `token`.");
    }
    d.property(PropertyDoc::optional(
        "team",
        PropertyType::String,
        "The old form: the Slack team (`<team>.slack.com`), with `token`; instead of webhook_url.",
    ))
    .property(PropertyDoc::optional(
        "token",
        PropertyType::String,
        "The old form: the incoming-webhook token, with `team`. A secret, like webhook_url.",
    ))
}
