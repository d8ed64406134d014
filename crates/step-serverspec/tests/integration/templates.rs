//! Spec templates: earlier steps' outputs and the environment appear in
//! rendered checks; undefined variables and bad specs are clear errors
//! naming the variable or the file, line and column.

use serde_json::json;
use step_core::{StepContext, StepError};
use step_serverspec::HostChecksConfig;

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn outputs_of_earlier_steps_appear_in_rendered_checks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let api_port = start_marathon_api().await;
    let spec = dir.path().join("from-outputs.yml");
    std::fs::write(
        &spec,
        "- http: \"http://{{ outputs.cluster.api_address }}/v2/info\"\n  json:\n    $.marathon_config.master: \"zk://{{ outputs.cluster.zk_peers|join(',') }}/mesos\"\n\
         - file: \"{{ env.STEPWISE_TEST_STORE }}\"\n  type: directory\n",
    )
    .expect("write");
    let outputs =
        json!({"cluster": {"api_address": format!("127.0.0.1:{api_port}"), "zk_peers": PEERS}});
    let mut env = step_core::Env::from_process();
    env.set("STEPWISE_TEST_STORE", dir.path().display().to_string());
    let cx = StepContext::for_dir(dir.path())
        .with_env(env)
        .with_outputs(outputs.as_object().cloned().unwrap_or_default());
    let outcome = run(HostChecksConfig::new(&spec), &cx).await.expect("runs");

    assert!(!outcome.is_failed(), "{}", failures(&outcome));
    check(
        &outcome,
        &format!(
            "HTTP GET http://127.0.0.1:{api_port}/v2/info body $.marathon_config.master should eq \"zk://zk1:2181,zk2:2181/mesos\""
        ),
    );
    check(
        &outcome,
        &format!("File {} should be a directory", dir.path().display()),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_undefined_variable_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("seed.yml");
    std::fs::write(
        &spec,
        "- port: 8080\n- command: \"curl -s http://{{ marathon_hostname }}:8080/v2/info\"\n",
    )
    .expect("write");
    let err = run(HostChecksConfig::new(&spec), &cx(dir.path()))
        .await
        .unwrap_err();
    let StepError::Template(t) = &err else {
        panic!("not a template error: {err}")
    };
    assert_eq!(t.name, "seed.yml");
    assert_eq!(t.line, Some(2));
    assert!(
        t.message.contains("undefined variable: marathon_hostname"),
        "{err}"
    );

    // The same for a missing output.
    std::fs::write(&spec, "- addr: \"{{ outputs.tf.address }}:22\"\n").expect("write");
    let err = run(HostChecksConfig::new(&spec), &cx(dir.path()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("outputs.tf.address"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn spec_errors_name_file_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("specs")).expect("mkdir");
    std::fs::write(dir.path().join("specs/a.yml"), "- port: 22\n").expect("write");
    std::fs::write(
        dir.path().join("specs/b.yaml"),
        "- file: /etc/hosts\n  mode: '0644'\n- port: 80\n  listenning: true\n",
    )
    .expect("write");
    let err = run(HostChecksConfig::new("specs"), &cx(dir.path()))
        .await
        .unwrap_err();
    let StepError::Config(c) = &err else {
        panic!("not a config error: {err}")
    };
    assert_eq!(c.property.as_deref(), Some("spec"));
    assert!(
        c.message
            .starts_with("specs/b.yaml:4:3: unknown key `listenning` (did you mean `listening`?); expected one of"),
        "{err}"
    );

    let err = run(HostChecksConfig::new("nope.yml"), &cx(dir.path()))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("property `spec`: cannot read"),
        "{err}"
    );
}
