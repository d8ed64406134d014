//! Secrets never leave the process in clear: not through the state
//! journal, `runner state`, `runner cleanup`, target names, nor through
//! encoded forms a tool or a template filter prints (issue #14, findings
//! 1–6).

use super::*;

const CRED: &str = "cr3d-value-&-more";
const OPS: &str = "0ps-s3cret-part";

/// Exported copies of secrets reach a teardown; the state holds references.
const EXPORTS: &str = r#"
secrets: [DEPLOY_CRED, OPS_CRED]
build:
  steps:
    - script:
        name: export
        code: |
          export COPY="$DEPLOY_CRED"
          export DB_URL="postgres://app:${OPS_CRED}@db"
    - script:
        name: create
        code: touch created
        teardown: |
          printf '%s\n' "$COPY" > copy.txt
          printf '%s\n' "$DB_URL" > url.txt
          echo "teardown says $COPY"
"#;

fn state_text(w: &Work) -> String {
    let mut all = String::new();
    if let Ok(rd) = std::fs::read_dir(w.file(".stepwise/state")) {
        for e in rd.flatten() {
            all += &std::fs::read_to_string(e.path()).unwrap_or_default();
        }
    }
    all
}

#[test]
fn exported_copies_of_secrets_are_stored_as_references_and_cleanup_masks_and_restores_them() {
    let w = Work::new(EXPORTS);
    let out = w
        .cmd(&["run", "--keep"])
        .env("DEPLOY_CRED", CRED)
        .env("OPS_CRED", OPS)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let state = state_text(&w);
    assert!(state.contains("DB_URL"), "{state}");
    for secret in [CRED, OPS] {
        assert!(!state.contains(secret), "state leaks {secret}:\n{state}");
    }
    assert!(state.contains("DEPLOY_CRED") && state.contains("OPS_CRED"));
    // Cleanup in a new process: it knows the secret names from the state.
    let out = w
        .cmd(&["cleanup"])
        .env("DEPLOY_CRED", CRED)
        .env("OPS_CRED", OPS)
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("teardown says ***"), "{t}");
    assert!(!t.contains(CRED), "cleanup output leaks: {t}");
    assert_eq!(w.read("copy.txt").trim(), CRED);
    assert_eq!(w.read("url.txt").trim(), format!("postgres://app:{OPS}@db"));
}

#[test]
fn cleanup_masks_secrets_named_only_by_the_run() {
    let w = Work::new(
        r#"
build:
  steps:
    - script:
        name: create
        code: "true"
        teardown: echo "plain name holds $MYVALUE"
"#,
    );
    let value = "not-named-like-a-secret-42";
    let out = w
        .cmd(&["run", "--keep", "--secret", "MYVALUE"])
        .env("MYVALUE", value)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!state_text(&w).contains(value));
    let out = w.cmd(&["cleanup"]).env("MYVALUE", value).output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("plain name holds ***"), "{t}");
    assert!(!t.contains(value), "{t}");
}

#[test]
fn a_secret_for_each_value_is_masked_as_a_target_name() {
    let w = Work::new(
        r#"
secrets: [REGION_KEY]
build:
  steps:
    - for_each:
        var: T
        values: ["$REGION_KEY", plain-target]
        steps:
          - script:
              name: work
              code: echo "working"
              teardown: "true"
"#,
    );
    let secret = "target-secret-9000";
    let out = w
        .cmd(&[
            "run",
            "--keep",
            "--events",
            "events.jsonl",
            "--junit",
            "junit.xml",
        ])
        .env("REGION_KEY", secret)
        .output()
        .unwrap();
    let term = text(&out);
    assert_eq!(out.status.code(), Some(0), "{term}");
    assert!(term.contains("plain-target"), "{term}");
    let state = state_text(&w);
    let listed = text(
        &w.cmd(&["state"])
            .env("REGION_KEY", secret)
            .output()
            .unwrap(),
    );
    for (name, content) in [
        ("terminal", term),
        ("events", w.read("events.jsonl")),
        ("junit", w.read("junit.xml")),
        ("state file", state),
        ("runner state", listed),
    ] {
        assert!(!content.is_empty(), "{name} is empty");
        assert!(
            !content.contains(secret),
            "{name} leaks the target:\n{content}"
        );
    }
}

#[test]
fn tojson_and_percent_encoded_forms_of_a_secret_are_masked() {
    if !stepwise_tests::tool_available("python3") {
        return;
    }
    let w = Work::new(
        r#"
secrets: [HOOK]
build:
  steps:
    - script:
        name: leaky
        code: |
          echo 'tojson: ${{ env.HOOK | tojson }}'
          python3 -c 'import os, urllib.parse as u; print("quote:", u.quote(os.environ["HOOK"]))'
          python3 -c 'import os, urllib.parse as u; print("quote_plus:", u.quote_plus(os.environ["HOOK"]))'
"#,
    );
    let hook = "https://hooks.example.invalid/T0/B1/x&y <z>'s";
    let out = w
        .cmd(&["run", "--events", "events.jsonl"])
        .env("HOOK", hook)
        .output()
        .unwrap();
    let term = text(&out);
    assert_eq!(out.status.code(), Some(0), "{term}");
    for label in ["tojson: ", "quote: ", "quote_plus: "] {
        let line = term
            .lines()
            .find(|l| l.contains(label))
            .unwrap_or_else(|| panic!("no `{label}` line in {term}"));
        assert!(line.contains("***"), "{line}");
        for piece in ["hooks", "T0/B1", "%26", "u0026"] {
            assert!(!line.contains(piece), "`{label}` leaks `{piece}`: {line}");
        }
    }
}

#[test]
fn short_secret_values_are_refused_with_a_warning_naming_the_variable() {
    let w = Work::new("build:\n  steps:\n    - script:\n        code: echo \"v=$PIN\"\n");
    let out = w
        .cmd(&["run", "--secret", "PIN"])
        .env("PIN", "123")
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(
        t.contains("PIN") && t.contains("shorter than 4") && t.contains("not masked"),
        "{t}"
    );
}

#[test]
fn a_failed_teardown_message_holding_a_secret_is_stored_and_shown_masked() {
    if !stepwise_tests::tool_available("terraform") {
        return;
    }
    let w = Work::new(
        r#"
secrets: [DEPLOY_TOKEN]
build:
  steps:
    - terraform-apply:
        name: infra
        dir: infra
        secret_vars:
          token: DEPLOY_TOKEN
"#,
    );
    std::fs::create_dir_all(w.file("infra")).unwrap();
    std::fs::write(
        w.file("infra/main.tf"),
        r#"
variable "token" { type = string }
resource "terraform_data" "leaky" {
  input = var.token
  provisioner "local-exec" {
    when    = destroy
    command = "echo leaked:${self.input}; exit 3"
  }
}
"#,
    )
    .unwrap();
    let secret = "tf-token-value-5150";
    let out = w
        .cmd(&["run"])
        .env("DEPLOY_TOKEN", secret)
        .env("TF_PLUGIN_CACHE_DIR", "")
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "the destroy should fail: {t}");
    assert!(!t.contains(secret), "{t}");
    let state = state_text(&w);
    assert!(state.contains("failed"), "{state}");
    assert!(!state.contains(secret), "state leaks:\n{state}");
    let listed = text(
        &w.cmd(&["state"])
            .env("DEPLOY_TOKEN", secret)
            .output()
            .unwrap(),
    );
    assert!(listed.contains("leaked:***"), "{listed}");
    assert!(!listed.contains(secret), "runner state leaks:\n{listed}");
    // The resource is still in terraform's state: remove it without the
    // failing provisioner so nothing is left behind.
    let _ = std::fs::remove_dir_all(w.file(".stepwise"));
}
