//! Secrets never reach the terminal, the events file or the JUnit file —
//! whole, split across two writes, multi-line, or base64-encoded.

use super::*;

#[test]
fn secrets_are_masked_in_terminal_events_and_junit() {
    let w = Work::new(
        r#"
secrets: [DEPLOY_PASS]
build:
  steps:
    - script:
        name: leaky
        code: |
          echo "whole: $DEPLOY_PASS"
          printf 'split: %s' "${DEPLOY_PASS:0:5}"; sleep 0.3; printf '%s\n' "${DEPLOY_PASS:5}"
          echo "multi: $MULTI_TOKEN"
          echo "b64: $(printf '%s' "$DEPLOY_PASS" | base64)"
          echo "b64 with newline: $(echo "$DEPLOY_PASS" | base64)"
          echo "in a failure message: $DEPLOY_PASS" >&2
          exit 1
"#,
    );
    let secret = "hunter2-very-secret";
    let multi = "first-line-of-key\nsecond-line-of-key";
    let out = w
        .cmd(&["run", "--events", "events.jsonl", "--junit", "junit.xml"])
        .env("DEPLOY_PASS", secret)
        .env("MULTI_TOKEN", multi)
        .output()
        .unwrap();
    let term = text(&out);
    assert_eq!(out.status.code(), Some(1), "{term}");
    let events = w.read("events.jsonl");
    let junit = w.read("junit.xml");
    assert!(term.contains("whole: ***"), "{term}");
    assert!(events.contains("split: ***"), "{events}");
    assert!(!junit.is_empty() && !events.is_empty());
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
    for (name, content) in [("terminal", &term), ("events", &events), ("junit", &junit)] {
        for needle in [
            secret,
            "first-line-of-key",
            "second-line-of-key",
            b64.as_str(),
            "hunter2-ve",
        ] {
            assert!(
                !content.contains(needle),
                "{name} output leaks `{needle}`:\n{content}"
            );
        }
    }
}
