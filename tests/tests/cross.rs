//! Acceptance points that cross crates: a tool step's outputs read by a
//! later `script` step through the runner, teardowns registered by
//! terraform-apply, a failing Slack after-step that leaves the result alone,
//! and the seed's dockerbench toggle.

#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use stepwise_tests::{runner_bin, tool_available, workspace_root};

fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(runner_bin());
    c.args(args)
        .current_dir(dir)
        .env("CI", "true")
        .stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn packer_build_artifacts_reach_a_following_script_step() {
    if !tool_available("packer") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("null.json"),
        r#"{"builders":[{"type":"null","name":"first","communicator":"none"}],
            "provisioners":[{"type":"shell-local","inline":["echo provisioned"]}]}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("stepwise.yml"),
        r#"
build:
  steps:
    - packer-build:
        id: pk
        template: null.json
    - script:
        name: read artifact
        code: |
          echo "artifact=${{ outputs.pk.first.builder_id }} count=${{ outputs.pk.artifact_count }}" > artifact.txt
"#,
    )
    .unwrap();
    let out = run(dir.path(), &["run"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let artifact = std::fs::read_to_string(dir.path().join("artifact.txt")).unwrap();
    assert!(artifact.contains("artifact=fnoeding.null"), "{artifact}");
    assert!(artifact.contains("count=1"), "{artifact}");
}

#[test]
fn terraform_outputs_reach_a_script_step_and_the_registered_destroy_runs_per_target() {
    if !tool_available("terraform") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("tf")).unwrap();
    std::fs::write(
        dir.path().join("tf/main.tf"),
        r#"
variable "marker" { type = string }
resource "terraform_data" "m" {
  input = var.marker
  provisioner "local-exec" { command = "touch ${var.marker}" }
  provisioner "local-exec" {
    when    = destroy
    command = "rm -f ${self.input}"
  }
}
output "marker_path" { value = var.marker }
"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("stepwise.yml"),
        r#"
deploy:
  steps:
    - for_each:
        var: T
        values: [alpha, beta]
        steps:
          - terraform-apply:
              id: tf
              dir: tf
              vars:
                marker: ${WERCKER_ROOT}/marker-$T
          - script:
              name: use output
              code: |
                test -f "${{ outputs.tf.marker_path }}"
                echo "${{ outputs.tf.marker_path }}" > "seen-$T"
"#,
    )
    .unwrap();
    let out = run(dir.path(), &["run", "deploy"], &[]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    for target in ["alpha", "beta"] {
        let seen = std::fs::read_to_string(dir.path().join(format!("seen-{target}"))).unwrap();
        assert!(seen.trim().ends_with(&format!("marker-{target}")), "{seen}");
        assert!(
            !dir.path().join(format!("marker-{target}")).exists(),
            "the registered destroy did not remove {target}'s marker\n{t}"
        );
    }
    assert!(t.contains("teardown: terraform-apply"), "{t}");
}

/// A tiny HTTP server on 127.0.0.1 that answers every request with `status`
/// and records the request paths.
fn server(status: u16) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(20) {
            let Ok(mut s) = stream else { continue };
            let mut buf = vec![0u8; 65536];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            seen2
                .lock()
                .unwrap()
                .push(req.lines().next().unwrap_or_default().to_string());
            let _ = write!(
                s,
                "HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno"
            );
        }
    });
    (format!("http://{addr}"), seen)
}

#[test]
fn a_slack_after_step_that_cannot_deliver_leaves_the_result_and_leaks_no_url() {
    let (base, seen) = server(500);
    let token_path = "/services/T000/B000/sEcReTtOkEn123";
    let url = format!("{base}{token_path}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("stepwise.yml"),
        r#"
build:
  steps:
    - script: {code: "echo building"}
  after-steps:
    - wantedly/pretty-slack-notify:
        webhook_url: $SLACK_WEBHOOK_URL
        channel: apollo
        username: wercker-bot
        retries: 1
        timeout: 2s
"#,
    )
    .unwrap();
    let out = run(
        dir.path(),
        &["run", "--events", "events.jsonl", "--junit", "junit.xml"],
        &[("SLACK_WEBHOOK_URL", &url)],
    );
    let t = text(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a failing after-step changed the result:\n{t}"
    );
    assert_eq!(seen.lock().unwrap().len(), 2, "one try and one retry");
    assert!(t.contains("500"), "{t}");
    let events = std::fs::read_to_string(dir.path().join("events.jsonl")).unwrap();
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    for (name, content) in [("terminal", &t), ("events", &events), ("junit", &junit)] {
        assert!(
            !content.contains("sEcReTtOkEn123"),
            "{name} leaks the webhook token:\n{content}"
        );
        assert!(
            !content.contains(token_path),
            "{name} leaks the webhook path"
        );
    }
}

#[test]
fn dockerbench_runs_only_with_the_seed_toggle() {
    let log = workspace_root().join("crates/step-dockerbench/tests/fixtures/current.log.json");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("stepwise.yml"),
        format!(
            "deploy:\n  steps:\n    - dockerbench:\n        when: APOLLO_dockerbench_run_test\n        log: {}\n        max_warnings: 100\n",
            log.display()
        ),
    )
    .unwrap();
    let out = run(dir.path(), &["run", "deploy"], &[]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(
        t.contains("skipped") && t.contains("APOLLO_dockerbench_run_test"),
        "{t}"
    );
    let out = run(
        dir.path(),
        &["run", "deploy"],
        &[("APOLLO_dockerbench_run_test", "true")],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("dockerbench passed"), "{t}");
    let out = run(
        dir.path(),
        &["run", "deploy", "--var", "APOLLO_dockerbench_run_test=true"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn install_packages_without_apt_get_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("stepwise.yml"),
        "build:\n  steps:\n    - install-packages:\n        packages: wget unzip\n",
    )
    .unwrap();
    let out = run(
        dir.path(),
        &["run"],
        &[("PATH", "/nonexistent-stepwise-path")],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("apt-get") && t.contains("not found"), "{t}");
}

#[test]
fn the_legacy_step_fixture_passes_and_fails_as_wercker_would() {
    let steps_dir = workspace_root().join("tests/tests/fixtures");
    let steps_dir = steps_dir.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (target, code, expect) in [
        ("web", 0, "info: checking web in fast mode"),
        ("bad", 1, "target must not be empty"),
    ] {
        std::fs::write(
            dir.path().join("wercker.yml"),
            format!("build:\n  steps:\n    - legacy-step/owner-check:\n        target: {target}\n"),
        )
        .unwrap();
        let out = run(dir.path(), &["run", "--steps-dir", steps_dir], &[]);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(code), "{t}");
        assert!(t.contains(expect), "{t}");
    }
    let out = run(
        dir.path(),
        &[
            "validate-step",
            &format!("{steps_dir}/legacy-step/owner-check"),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
