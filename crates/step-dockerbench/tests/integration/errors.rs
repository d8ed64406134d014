//! Clear errors: bad configuration, a missing script, a daemon the bench
//! cannot reach, and logs that are missing, unreadable or empty.

use serde_json::{Value, json};
use step_core::{ConfigError, Env, StepError};
use tempfile::TempDir;

use crate::common::{context_with_env, run_in, run_step, standin};

fn build_error(props: Value) -> ConfigError {
    match step_dockerbench::kinds()[0].build(props) {
        Ok(_) => panic!("expected a configuration error"),
        Err(e) => e,
    }
}

async fn step_error(dir: &std::path::Path, props: Value) -> StepError {
    match run_step(dir, props).await.0 {
        Ok(o) => panic!("expected an error, got {:?}: {:?}", o.status, o.message),
        Err(e) => e,
    }
}

#[test]
fn configuration_errors_name_the_property() {
    let e = build_error(json!({}));
    assert!(
        e.message.contains("set `script`") && e.message.contains("`log`"),
        "{e}"
    );

    let e = build_error(json!({"script": "bench", "log": "x.log"}));
    assert_eq!(e.property.as_deref(), Some("log"));

    let e = build_error(json!({"log": "x.log", "checks": ["5.4"]}));
    assert_eq!(e.property.as_deref(), Some("checks"), "{e}");

    let e = build_error(
        json!({"log": "x.log", "fail_on": ["5.4"], "ignore": [{"id": "check_5_4", "reason": "r"}]}),
    );
    assert_eq!(e.property.as_deref(), Some("fail_on"));
    assert!(e.message.contains("5.4 is also in `ignore`"), "{e}");

    // YAML reads 5.10 as the number 5.1: refuse numbers.
    let e = build_error(json!({"log": "x.log", "fail_on": [5.1]}));
    assert!(
        e.property
            .as_deref()
            .is_some_and(|p| p.starts_with("fail_on")),
        "{e:?}"
    );
    assert!(e.message.contains("quote check ids"), "{e}");
    let e = build_error(json!({"log": "x.log", "ignore": [{"id": 2.8, "reason": "r"}]}));
    assert!(e.message.contains("quote check ids"), "{e}");

    let e = build_error(json!({"log": "x.log", "ignore": [{"id": "2.8", "reason": " "}]}));
    assert_eq!(e.property.as_deref(), Some("ignore[0].reason"));

    let e = build_error(json!({"script": "bench", "backend": "docker"}));
    assert_eq!(e.property.as_deref(), Some("host"));
    let e = build_error(json!({"script": "bench", "host": "web1"}));
    assert_eq!(e.property.as_deref(), Some("host"));
    let e = build_error(json!({"script": "bench", "backend": "telnet", "host": "h"}));
    assert!(e.message.contains("unknown backend `telnet`"), "{e}");

    let e = build_error(json!({"script": "bench", "checks": "5.4;rm -rf /"}));
    assert_eq!(e.property.as_deref(), Some("checks"));
    let e = build_error(json!({"script": "bench", "containers": ["a,b"]}));
    assert_eq!(e.property.as_deref(), Some("containers"));

    let e = build_error(json!({"log": "x.log", "max_warning": 3}));
    assert_eq!(e.property.as_deref(), Some("max_warning"));

    // The accepted spellings.
    for props in [
        json!({"script": "bench", "backend": "ssh", "host": "web1"}),
        json!({"script": "bench", "backend": {"ssh": {"user": "core", "port": 2222}}, "host": "web1"}),
        json!({"script": "bench", "checks": "check_5_4, container_images", "exclude": ["2.1"]}),
    ] {
        assert!(
            step_dockerbench::kinds()[0].build(props.clone()).is_ok(),
            "{props}"
        );
    }
}

#[test]
fn script_arguments_are_the_bench_flags() {
    let config: step_dockerbench::DockerBenchConfig = step_core::parse_config(json!({
        "script": "bench",
        "checks": ["5.4", "container_images"],
        "exclude": "check_2_1",
        "containers": ["web", "api-.*"],
        "exclude_containers": ["sidecar"],
        "args": ["-n", "5"],
    }))
    .expect("config");
    assert_eq!(
        config.script_args(),
        [
            "-b",
            "-p",
            "-c",
            "check_5_4,container_images",
            "-e",
            "check_2_1",
            "-i",
            "web,api-.*",
            "-x",
            "sidecar",
            "-n",
            "5"
        ]
    );
}

#[tokio::test]
async fn a_missing_log_is_a_configuration_error_naming_log() {
    let dir = TempDir::new().expect("temp dir");
    let e = step_error(
        dir.path(),
        json!({"log": "nowhere/docker-bench-security.log"}),
    )
    .await;
    match &e {
        StepError::Config(c) => {
            assert_eq!(c.property.as_deref(), Some("log"));
            assert!(
                c.message.contains("nowhere/docker-bench-security.log.json"),
                "{c}"
            );
        }
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unreadable_log_is_an_io_error_naming_the_file() {
    let dir = TempDir::new().expect("temp dir");
    // A symlink loop cannot be opened, even by root.
    std::os::unix::fs::symlink("loop.log", dir.path().join("loop.log")).expect("symlink");
    let e = step_error(dir.path(), json!({"log": "loop.log"})).await;
    match &e {
        StepError::Io { context, .. } => assert!(context.contains("loop.log"), "{context}"),
        other => panic!("expected an I/O error, got {other:?}"),
    }
    assert!(
        e.to_string()
            .contains("could not read the docker-bench log"),
        "{e}"
    );
}

#[tokio::test]
async fn a_log_without_results_is_an_error_not_a_pass() {
    let dir = TempDir::new().expect("temp dir");
    std::fs::write(
        dir.path().join("docker-bench-security.log"),
        "Initializing 2024-05-02T10:14:07+00:00\n\n\nSection A - Check results\n",
    )
    .expect("write");
    let e = step_error(dir.path(), json!({"log": ".", "max_warnings": 0})).await;
    assert!(e.to_string().contains("holds no check results"), "{e}");
    assert!(
        matches!(&e, StepError::ToolOutput { tool, .. } if tool == "docker-bench-security"),
        "{e:?}"
    );

    // The JSON log is broken and there is no text log to fall back to.
    let dir = TempDir::new().expect("temp dir");
    std::fs::write(dir.path().join("b.log.json"), "{\"tests\": [ oops").expect("write");
    let e = step_error(dir.path(), json!({"log": "b.log.json"})).await;
    let text = e.to_string();
    assert!(
        text.contains("b.log.json is unreadable") && text.contains("no text log"),
        "{text}"
    );
}

#[tokio::test]
async fn a_missing_script_is_a_configuration_error_naming_script() {
    let dir = TempDir::new().expect("temp dir");
    let e = step_error(
        dir.path(),
        json!({"script": "no-such-dir/docker-bench-security.sh"}),
    )
    .await;
    match &e {
        StepError::Config(c) => {
            assert_eq!(c.property.as_deref(), Some("script"));
            assert!(c.message.contains("does not exist"), "{c}");
        }
        other => panic!("expected a config error, got {other:?}"),
    }
    std::fs::create_dir(dir.path().join("empty")).expect("mkdir");
    let e = step_error(dir.path(), json!({"script": "empty"})).await;
    assert!(
        e.to_string().contains("holds no docker-bench-security.sh"),
        "{e}"
    );
}

#[tokio::test]
async fn an_unreachable_daemon_is_a_clear_error() {
    if !stepwise_tests::tool_available("docker") {
        return;
    }
    let dir = TempDir::new().expect("temp dir");
    let script = standin(dir.path());
    let mut env = Env::from_process();
    env.set(
        "DOCKER_HOST",
        format!("unix://{}/no-daemon.sock", dir.path().display()),
    );
    let (cx, memory) = context_with_env(dir.path(), env);
    let e = match run_in(&cx, json!({"script": script, "log_dir": "logs"})).await {
        Ok(o) => panic!("expected an error, got {:?}", o.message),
        Err(e) => e,
    };
    let text = e.to_string();
    assert!(text.contains("docker daemon is unreachable"), "{text}");
    assert!(
        text.contains("Error connecting to docker daemon (does docker ps work?)"),
        "{text}"
    );
    assert!(text.contains("exit code 1"), "{text}");
    // The bench's own output reached the event stream.
    assert!(
        memory
            .lines()
            .iter()
            .any(|l| l.contains("Error connecting to docker daemon"))
    );
    // It is not mistaken for a run: no log was read.
    assert!(!dir.path().join("logs/docker-bench-security.log").exists());
}
