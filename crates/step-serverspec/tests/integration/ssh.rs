//! The seed-like spec over ssh to an sshd started on 127.0.0.1: the same
//! spec, the same results, through one batched script on one connection.

use serde_json::json;
use step_core::Status;
use step_serverspec::{BackendKind, HostChecksConfig};

use crate::support::*;

fn ssh_config(sshd: &Sshd, spec: std::path::PathBuf) -> HostChecksConfig {
    let mut cfg = HostChecksConfig::new(spec);
    cfg.backend = BackendKind::Ssh;
    cfg.hosts = vec!["127.0.0.1".into()];
    cfg.user = Some(current_user());
    cfg.port = Some(sshd.port);
    cfg.identity_file = Some(sshd.identity_file());
    cfg.known_hosts_file = Some(sshd.known_hosts_file());
    cfg
}

#[tokio::test(flavor = "multi_thread")]
async fn seed_spec_passes_over_ssh_to_localhost() {
    if !docker_ready() {
        return;
    }
    let Some(sshd) = start_sshd() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let store = make_store(dir.path());
    let api_port = start_marathon_api().await;
    let (_sleeper, arg) = start_sleeper();
    let container = start_container(&store, "exec sleep 600");

    let mut cfg = ssh_config(&sshd, fixtures().join("seed/marathon.yml"));
    cfg.vars = local_seed_vars(api_port, &store, &arg);
    cfg.vars.insert("container".into(), json!(container.0));
    let outcome = run(cfg, &cx(dir.path())).await.expect("step runs");

    assert!(
        !outcome.is_failed(),
        "{:?}\n{}\nsshd log:\n{}",
        outcome.message,
        failures(&outcome),
        sshd.log()
    );
    assert_eq!(outcome.checks.len(), 20);
    assert_eq!(
        outcome.message.as_deref(),
        Some("20 checks passed on 1 host")
    );
    let port = check(
        &outcome,
        &format!("Port {api_port} should be listening with tcp"),
    );
    assert_eq!(
        port.group.as_deref(),
        Some(&*format!(
            "127.0.0.1: {}",
            fixtures().join("seed/marathon.yml").display()
        ))
    );
    // One connection for the whole spec: sshd accepted exactly one session.
    let accepted = sshd.log().matches("Accepted publickey").count();
    assert_eq!(accepted, 1, "sshd log:\n{}", sshd.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn mismatches_over_ssh_show_expected_and_actual() {
    let Some(sshd) = start_sshd() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let store = make_store(dir.path());
    let api_port = start_marathon_api().await;
    let (_sleeper, arg) = start_sleeper();

    let mut cfg = ssh_config(&sshd, fixtures().join("seed/marathon.yml"));
    cfg.vars = local_seed_vars(api_port, &store, &arg);
    cfg.vars
        .insert("marathon_peers".into(), json!(["zk9:2181"]));
    cfg.vars.insert("state_mode".into(), json!("0600"));
    // No known_hosts file: the host key is accepted on first use into a
    // run-local file, not into the user's ~/.ssh/known_hosts.
    cfg.known_hosts_file = None;
    let outcome = run(cfg, &cx(dir.path())).await.expect("step runs");
    let home = std::env::var("HOME").unwrap_or_default();
    let user_known =
        std::fs::read_to_string(format!("{home}/.ssh/known_hosts")).unwrap_or_default();
    assert!(
        !user_known.contains(&format!("[127.0.0.1]:{}", sshd.port)),
        "~/.ssh/known_hosts was changed"
    );

    assert!(outcome.is_failed());
    let failed: Vec<&str> = outcome
        .checks
        .iter()
        .filter(|c| c.status != Status::Passed)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(failed.len(), 3, "{}", failures(&outcome));
    let mode = check(
        &outcome,
        &format!(
            "File {}/state.json mode should eq \"0600\"",
            store.display()
        ),
    );
    assert_eq!(
        mode.message.as_deref(),
        Some("expected: eq \"0600\"\n  actual: \"0640\"")
    );
    let message = outcome.message.as_deref().unwrap_or_default();
    assert!(
        message.starts_with("3 of 17 checks failed on 1 host: "),
        "{message}"
    );
    assert!(message.contains("(127.0.0.1)"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_host_errors_every_check_with_the_reason() {
    if !stepwise_tests::tool_available("ssh") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("s.yml");
    std::fs::write(&spec, "- user: root\n- port: 22\n").expect("write");
    let mut cfg = HostChecksConfig::new(&spec);
    cfg.backend = BackendKind::Ssh;
    cfg.hosts = vec!["127.0.0.1".into()];
    cfg.port = Some(free_port());
    let outcome = run(cfg, &cx(dir.path())).await.expect("step runs");
    assert!(outcome.is_failed());
    assert_eq!(outcome.checks.len(), 2);
    for c in &outcome.checks {
        assert_eq!(c.status, Status::Errored);
        let msg = c.message.as_deref().unwrap_or_default();
        assert!(
            msg.starts_with(
                "could not check: ssh 127.0.0.1 did not run the checks (exit code 255)"
            ),
            "{msg}"
        );
        assert!(msg.contains("Connection refused"), "{msg}");
    }
}
