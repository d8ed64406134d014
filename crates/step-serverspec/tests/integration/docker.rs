//! The seed-like spec inside a busybox container via docker exec: the
//! service, port, store volume and process that exist in the container.

use serde_json::json;
use step_serverspec::{BackendKind, HostChecksConfig};

use crate::support::*;

/// Serves the store's state as /v2/info with busybox httpd, then sleeps.
const SERVICE: &str = "mkdir -p /www/v2 && cp /store/state.json /www/v2/info && httpd -p 8080 -h /www && exec sleep 600";

#[tokio::test(flavor = "multi_thread")]
async fn seed_spec_passes_via_docker_exec() {
    if !docker_ready() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = make_store(dir.path());
    let container = start_container(&store, SERVICE);

    let mut cfg = HostChecksConfig::new(fixtures().join("seed/marathon.yml"));
    cfg.backend = BackendKind::Docker;
    cfg.hosts = vec![container.0.clone()];
    cfg.vars = local_seed_vars(8080, std::path::Path::new("/store"), "600");
    cfg.vars.insert("owner".into(), json!("root"));
    cfg.vars.insert("process_name".into(), json!("sleep"));
    let outcome = run(cfg, &cx(dir.path())).await.expect("step runs");

    assert!(
        !outcome.is_failed(),
        "{:?}\n{}",
        outcome.message,
        failures(&outcome)
    );
    // No content-type check in the container (busybox httpd does not know
    // the type of `info`): the spec leaves it out for `backend == "docker"`.
    assert_eq!(outcome.checks.len(), 16, "{:#?}", outcome.checks);
    check(&outcome, "Port 8080 should be listening with tcp");
    check(&outcome, "File /store/state.json mode should eq \"0640\"");
    check(&outcome, "Process sleep should be running");
}

#[tokio::test(flavor = "multi_thread")]
async fn container_mismatches_show_expected_and_actual() {
    if !docker_ready() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = make_store(dir.path());
    let container = start_container(&store, SERVICE);
    let spec = dir.path().join("c.yml");
    std::fs::write(
        &spec,
        "- port: 9090\n- file: /store/state.json\n  owner: nobody\n- package: openssh-server\n- user: marathon\n- command: [cat, /nope]\n  stderr: {contain: 'No such file'}\n  exit_status: 0\n\
         - service: httpd\n  running: true\n  enabled: true\n- docker_container: other\n",
    )
    .expect("write");
    let mut cfg = HostChecksConfig::new(&spec);
    cfg.backend = BackendKind::Docker;
    cfg.hosts = vec![container.0.clone()];
    let outcome = run(cfg, &cx(dir.path())).await.expect("step runs");

    assert_eq!(
        outcome.outputs["failed"],
        json!(7),
        "{}",
        failures(&outcome)
    );
    let port = check(&outcome, "Port 9090 should be listening");
    assert_eq!(
        port.message.as_deref(),
        Some("expected: be listening\n  actual: nothing listens on this port")
    );
    let owner = check(
        &outcome,
        "File /store/state.json owner should eq \"nobody\"",
    );
    assert_eq!(
        owner.message.as_deref(),
        Some("expected: eq \"nobody\"\n  actual: \"root\"")
    );
    let pkg = check(&outcome, "Package openssh-server should be installed");
    assert_eq!(
        pkg.message.as_deref(),
        Some("expected: be installed\n  actual: not installed (unknown to dpkg)")
    );
    check(&outcome, "User marathon should exist");
    let exit = check(&outcome, "Command `cat /nope` exit status should eq 0");
    assert_eq!(exit.message.as_deref(), Some("expected: eq 0\n  actual: 1"));
    assert_eq!(
        check(
            &outcome,
            "Command `cat /nope` stderr should contain \"No such file\""
        )
        .status,
        step_core::Status::Passed
    );
    // No init system in the container: "running" falls back to the
    // process, "enabled" cannot be answered and says why.
    assert_eq!(
        check(&outcome, "Service httpd should be running").status,
        step_core::Status::Passed
    );
    let enabled = check(&outcome, "Service httpd should be enabled");
    let msg = enabled.message.as_deref().unwrap_or_default();
    assert!(
        msg.starts_with("expected: be enabled\n  actual: cannot tell whether it is enabled"),
        "{msg}"
    );
    // Containers cannot be inspected from inside one: an error, not a pass.
    let other = check(&outcome, "Docker container other should be running");
    assert_eq!(other.status, step_core::Status::Errored);
    assert_eq!(
        other.message.as_deref(),
        Some("could not check: `docker` is not installed on the target")
    );
}
