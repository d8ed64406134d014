//! The seed's style of serverspec suite (per-role directories, a
//! properties file mapping hosts to roles, a `*_spec.rb.j2` filled from
//! the deployment's outputs) run natively on this machine, over ssh and
//! inside a container: the same files, the same examples.

use serde_json::json;
use step_core::{Status, Step, StepContext};
use step_serverspec::serverspec_native::EngineChoice;
use step_serverspec::{Serverspec, ServerspecConfig};

use crate::support::*;

fn suite() -> std::path::PathBuf {
    fixtures().join("seed-serverspec")
}

fn config(properties: &std::path::Path, api_port: u16) -> ServerspecConfig {
    let mut cfg = ServerspecConfig::new(suite());
    cfg.engine = EngineChoice::Native;
    cfg.properties = Some(properties.to_path_buf());
    cfg.vars
        .insert("marathon_hostname".into(), json!("127.0.0.1"));
    cfg.vars.insert("marathon_port".into(), json!(api_port));
    cfg.vars.insert("marathon_peers".into(), json!(PEERS));
    cfg
}

fn context(dir: &std::path::Path, vars: &[(&str, String)]) -> StepContext {
    let mut env = step_core::Env::from_process();
    for (k, v) in vars {
        env.set(*k, v.clone());
    }
    cx(dir).with_env(env)
}

fn assert_all_passed(outcome: &step_core::Outcome, expected: usize) {
    assert!(
        !outcome.is_failed(),
        "{:?}\n{}",
        outcome.message,
        failures(outcome)
    );
    assert_eq!(outcome.checks.len(), expected, "{:#?}", outcome.checks);
    assert!(outcome.checks.iter().all(|c| c.status == Status::Passed));
}

#[tokio::test(flavor = "multi_thread")]
async fn seed_suite_passes_natively_on_this_machine() {
    if !docker_ready() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = make_store(dir.path());
    let api_port = start_marathon_api().await;
    let container = start_container(&store, "exec sleep 600");
    let props = dir.path().join("properties.yml");
    std::fs::write(
        &props,
        format!(
            "localhost:\n  :roles: [base, marathon]\n  :api_port: {api_port}\n  :store_dir: {}\n  :owner: {}\n  :container: {}\n",
            store.display(),
            current_user(),
            container.0
        ),
    )
    .expect("write");
    let outcome = Serverspec::new(config(&props, api_port))
        .run(&context(dir.path(), &[]))
        .await
        .expect("the suite runs");
    assert_all_passed(&outcome, 19);
    check(
        &outcome,
        &format!("Port \"{api_port}\" is expected to be listening with tcp"),
    );
    check(
        &outcome,
        &format!(
            "Docker container \"{}\" is expected to have volume \"/store\" and \"{}\"",
            container.0,
            store.display()
        ),
    );
    let api = check(
        &outcome,
        &format!(
            "Command \"wget -q -O - http://127.0.0.1:{api_port}/v2/info\" stdout is expected to match \".*\\\"master\\\":\\\"zk://zk1:2181,zk2:2181/mesos\\\".*\""
        ),
    );
    assert_eq!(
        api.group.as_deref(),
        Some("./spec/marathon/marathon_api_spec.rb")
    );

    // The wrong peers in the outputs: the template's expectation fails.
    let mut cfg = config(&props, api_port);
    cfg.vars
        .insert("marathon_peers".into(), json!(["zk9:2181"]));
    let outcome = Serverspec::new(cfg)
        .run(&context(dir.path(), &[]))
        .await
        .expect("runs");
    assert_eq!(
        outcome.outputs["failed"],
        json!(1),
        "{}",
        failures(&outcome)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn seed_suite_passes_natively_over_ssh() {
    let Some(sshd) = start_sshd() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let store = make_store(dir.path());
    let api_port = start_marathon_api().await;
    let props = dir.path().join("properties.yml");
    std::fs::write(
        &props,
        format!(
            "127.0.0.1:\n  :roles: [base, marathon]\n  :api_port: {api_port}\n  :store_dir: {}\n  :owner: {}\n",
            store.display(),
            current_user()
        ),
    )
    .expect("write");
    let env = [
        ("SPEC_BACKEND", "ssh".to_string()),
        ("SSH_USER", current_user()),
        ("SSH_PORT", sshd.port.to_string()),
        ("SSH_KEY", sshd.identity_file().display().to_string()),
    ];
    let outcome = Serverspec::new(config(&props, api_port))
        .run(&context(dir.path(), &env))
        .await
        .expect("the suite runs");
    assert!(
        !outcome.is_failed(),
        "{:?}\n{}\nsshd log:\n{}",
        outcome.message,
        failures(&outcome),
        sshd.log()
    );
    assert_all_passed(&outcome, 16);
}

#[tokio::test(flavor = "multi_thread")]
async fn seed_suite_passes_natively_inside_a_container() {
    if !docker_ready() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = make_store(dir.path());
    let container = start_container(
        &store,
        "mkdir -p /www/v2 && cp /store/state.json /www/v2/info && httpd -p 8080 -h /www && exec sleep 600",
    );
    let props = dir.path().join("properties.yml");
    std::fs::write(
        &props,
        format!(
            "{}:\n  :roles: [base, marathon]\n  :api_port: 8080\n  :store_dir: /store\n  :owner: root\n",
            container.0
        ),
    )
    .expect("write");
    let outcome = Serverspec::new(config(&props, 8080))
        .run(&context(
            dir.path(),
            &[("SPEC_BACKEND", "docker".to_string())],
        ))
        .await
        .expect("the suite runs");
    assert_all_passed(&outcome, 16);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_undefined_template_variable_names_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let props = dir.path().join("properties.yml");
    std::fs::write(&props, "localhost:\n  :roles: [marathon]\n").expect("write");
    let mut cfg = config(&props, 8080);
    cfg.vars.remove("marathon_peers");
    let err = Serverspec::new(cfg)
        .run(&context(dir.path(), &[]))
        .await
        .expect_err("rendering fails");
    let msg = err.to_string();
    assert!(msg.contains("marathon_api_spec.rb.j2"), "{msg}");
    assert!(msg.contains("marathon_peers"), "{msg}");
}
