//! The kinds' descriptions (`runner explain`) and configuration checks.

use std::collections::BTreeSet;

use serde_json::json;

use crate::support::*;

/// The property names serde accepts, read from its "unknown field" error
/// (`expected one of `a`, `b``), so the test follows the config struct.
fn accepted_properties(kind: &str) -> BTreeSet<String> {
    let err = build(
        kind,
        json!({"webhook_url": "https://x.example/a", "zzz_unknown": 1}),
    )
    .err()
    .expect("unknown property rejected");
    assert_eq!(err.property.as_deref(), Some("zzz_unknown"), "{err}");
    let list = err
        .message
        .split("expected one of")
        .nth(1)
        .expect("serde lists the fields");
    list.split(',')
        .map(|s| s.trim().trim_matches('`').to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

#[test]
fn every_accepted_property_is_described_and_every_described_one_is_accepted() {
    for kind in step_slack::kinds() {
        let d = kind.description();
        let described: BTreeSet<String> = d.properties.iter().map(|p| p.name.clone()).collect();
        let mut accepted = accepted_properties(&d.kind);
        // The pretty kind's old form, `team` + `token`, becomes webhook_url
        // before the config is read, so it is webhook_url or those two.
        let old_form = d.kind == step_slack::describe::PRETTY_KIND;
        if old_form {
            accepted.extend(["team".to_string(), "token".to_string()]);
        }
        assert_eq!(described, accepted, "{}", d.kind);
        assert!(!d.summary.is_empty() && !d.doc.is_empty() && !d.example.is_empty());
        assert!(d.properties.iter().all(|p| !p.doc.is_empty()), "{}", d.kind);
        assert_eq!(
            d.properties
                .iter()
                .filter(|p| p.required)
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>(),
            if old_form {
                vec![]
            } else {
                vec!["webhook_url"]
            }
        );
        assert!(d.outputs.iter().any(|o| o.name == "sent"));
    }
}

#[test]
fn there_are_two_kinds_the_seeds_name_among_them() {
    let names: Vec<String> = step_slack::kinds()
        .iter()
        .map(|k| k.description().kind)
        .collect();
    assert_eq!(names, vec!["slack-notify", "wantedly/pretty-slack-notify"]);
    // The doc documents the template variables and where facts come from.
    let doc = step_slack::kinds()[0].description().doc;
    for needle in [
        "commit_short",
        "failed_message",
        "STEPWISE_GIT_BRANCH",
        "WERCKER_GIT_BRANCH",
        "Retry-After",
    ] {
        assert!(doc.contains(needle), "doc lacks {needle}");
    }
}

#[test]
fn the_seeds_properties_build_under_both_names() {
    let seed = json!({
        "webhook_url": "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX",
        "channel": "apollo",
        "username": "wercker-bot",
        "notify_on": "failed",
        "branches": "^master$",
        "passed_message": "ok",
        "failed_message": "{{ repo }} broke",
        "icon_url": "https://example.com/icon.png",
    });
    build("wantedly/pretty-slack-notify", seed.clone()).expect("seed config builds");
    build("slack-notify", seed).expect("same properties build slack-notify");
}

#[test]
fn bad_configurations_name_the_property() {
    let url = "https://hooks.example/services/T/B/abcdefghijkl";
    let cases = [
        (
            json!({"webhook_url": url, "branches": "(unclosed"}),
            Some("branches"),
        ),
        (
            json!({"webhook_url": url, "failed_message": "{% if %}"}),
            Some("failed_message"),
        ),
        (
            json!({"webhook_url": url, "timeout": "soon"}),
            Some("timeout"),
        ),
        (json!({"webhook_url": url, "timeout": 0}), Some("timeout")),
        (json!({"webhook_url": url, "retries": -1}), Some("retries")),
        (
            json!({"webhook_url": url, "notify_on": "sometimes"}),
            Some("notify_on"),
        ),
        (json!({"webhook_url": ""}), Some("webhook_url")),
        (json!({"channel": "x"}), Some("webhook_url")),
        (json!({"webhook_url": url, "team": "x"}), Some("team")),
        (
            json!({"webhook_url": url, "icon_url": "https://x/i.png", "icon_emoji": ":x:"}),
            None,
        ),
    ];
    for (properties, property) in cases {
        let err = build("slack-notify", properties.clone())
            .err()
            .unwrap_or_else(|| panic!("{properties} accepted"));
        assert_eq!(err.property.as_deref(), property, "{properties}: {err}");
    }
}

#[test]
fn empty_optional_properties_mean_unset() {
    // `channel: ${SLACK_CHANNEL:-}` expands to an empty string.
    let step = step_slack::SlackNotify::new(
        step_core::parse_config(json!({
            "webhook_url": "https://hooks.example/services/T/B/abcdefghijkl",
            "channel": "", "branches": "", "icon_url": "", "icon_emoji": ":x:",
        }))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(step.config().channel, None);
    assert_eq!(step.config().branches, None);
}
