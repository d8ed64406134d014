//! The seed-like spec on this machine: passes when the host is as
//! described, fails with expected vs actual per check when it is not.

use serde_json::json;
use step_core::Status;
use step_serverspec::HostChecksConfig;

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn seed_spec_passes_locally_with_a_container_and_its_volume() {
    if !docker_ready() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = make_store(dir.path());
    let api_port = start_marathon_api().await;
    let (_sleeper, arg) = start_sleeper();
    let container = start_container(&store, "exec sleep 600");

    let mut cfg = HostChecksConfig::new(fixtures().join("seed/marathon.yml"));
    cfg.vars = local_seed_vars(api_port, &store, &arg);
    cfg.vars.insert("container".into(), json!(container.0));
    let outcome = run(cfg, &cx(dir.path())).await.expect("step runs");

    assert!(
        !outcome.is_failed(),
        "{:?}\n{}",
        outcome.message,
        failures(&outcome)
    );
    // Every assertion is its own check, named the way serverspec would.
    let master = format!("zk://{}/mesos", PEERS.join(","));
    check(
        &outcome,
        &format!("Port {api_port} should be listening with tcp"),
    );
    check(
        &outcome,
        &format!(
            "HTTP GET http://127.0.0.1:{api_port}/v2/info body $.marathon_config.master should eq \"{master}\""
        ),
    );
    check(&outcome, "Process sleep should be running");
    check(
        &outcome,
        &format!(
            "Docker container {} should have volume /store mounted from {}",
            container.0,
            store.display()
        ),
    );
    assert_eq!(outcome.checks.len(), 20, "{:#?}", outcome.checks);
    assert_eq!(outcome.outputs["passed"], json!(20));
    assert_eq!(outcome.outputs["failed"], json!(0));
    assert_eq!(outcome.outputs["total"], json!(20));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mismatching_host_fails_with_expected_and_actual_per_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = make_store(dir.path());
    let api_port = start_marathon_api().await;
    let (_sleeper, arg) = start_sleeper();

    let mut cfg = HostChecksConfig::new(fixtures().join("seed/marathon.yml"));
    cfg.vars = local_seed_vars(api_port, &store, &arg);
    // The deployment expects other peers, a stricter mode and a process
    // that does not run.
    cfg.vars
        .insert("marathon_peers".into(), json!(["zk9:2181"]));
    cfg.vars.insert("state_mode".into(), json!("0600"));
    cfg.vars
        .insert("process_arg".into(), json!("--no-such-flag"));
    let outcome = run(cfg, &cx(dir.path())).await.expect("step runs");

    assert!(outcome.is_failed());
    let failed: Vec<_> = outcome
        .checks
        .iter()
        .filter(|c| c.status == Status::Failed)
        .collect();
    assert_eq!(failed.len(), 4, "{}", failures(&outcome));
    assert_eq!(outcome.outputs["failed"], json!(4));

    let json_path = check(
        &outcome,
        &format!(
            "HTTP GET http://127.0.0.1:{api_port}/v2/info body $.marathon_config.master should eq \"zk://zk9:2181/mesos\""
        ),
    );
    assert_eq!(
        json_path.message.as_deref(),
        Some(
            "expected: $.marathon_config.master to eq \"zk://zk9:2181/mesos\"\n  actual: \"zk://zk1:2181,zk2:2181/mesos\""
        )
    );
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
    let stdout = outcome
        .checks
        .iter()
        .find(|c| c.name.starts_with("Command `wget") && c.name.contains("stdout"))
        .expect("stdout check");
    let msg = stdout.message.as_deref().unwrap_or_default();
    assert!(
        msg.starts_with("expected: match /\"master\":\"zk://zk9:2181/mesos\"/"),
        "{msg}"
    );
    assert!(msg.contains("zk://zk1:2181,zk2:2181/mesos"), "{msg}");
    let args = check(
        &outcome,
        "Process sleep args should contain \"--no-such-flag\"",
    );
    let msg = args.message.as_deref().unwrap_or_default();
    assert!(msg.contains(&arg), "the actual args are shown: {msg}");

    // The step's message names the failed checks.
    let message = outcome.message.as_deref().unwrap_or_default();
    assert!(message.starts_with("4 of 17 checks failed: "), "{message}");
    assert!(message.contains("mode should eq \"0600\""), "{message}");
    // Checks that hold still pass.
    assert_eq!(
        check(
            &outcome,
            &format!("Port {api_port} should be listening with tcp")
        )
        .status,
        Status::Passed
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_in_process_checks_of_files_users_and_ports() {
    let dir = tempfile::tempdir().expect("tempdir");
    let api_port = start_marathon_api().await;
    let mut spec = String::new();
    for i in 0..400 {
        let f = dir.path().join(format!("f{i}"));
        std::fs::write(&f, "x").expect("write");
        spec.push_str(&format!("- file: {}\n  type: file\n", f.display()));
    }
    for _ in 0..300 {
        spec.push_str("- user: root\n  uid: 0\n");
    }
    for _ in 0..300 {
        spec.push_str(&format!("- port: {api_port}\n"));
    }
    let path = dir.path().join("many.yml");
    std::fs::write(&path, spec).expect("write spec");
    let outcome = run(HostChecksConfig::new(&path), &cx(dir.path()))
        .await
        .expect("runs");
    assert!(!outcome.is_failed(), "{}", failures(&outcome));
    assert_eq!(outcome.outputs["total"], json!(1000));
}

#[tokio::test(flavor = "multi_thread")]
async fn sysv_services_are_judged_by_their_init_script() {
    // This machine's image installs openssh-server with an init script and
    // rc links but does not start it; elsewhere the test has nothing to judge.
    let script = std::path::Path::new("/etc/init.d/ssh");
    if std::path::Path::new("/run/systemd/system").is_dir() || !script.is_file() {
        eprintln!("skipped: no sysv init script for ssh here");
        return;
    }
    let running = std::process::Command::new(script)
        .arg("status")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    let enabled = ["2", "3", "4", "5"].iter().any(|l| {
        std::fs::read_dir(format!("/etc/rc{l}.d"))
            .map(|d| {
                d.filter_map(Result::ok)
                    .any(|e| e.file_name().to_string_lossy().ends_with("ssh"))
            })
            .unwrap_or(false)
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("svc.yml");
    std::fs::write(
        &spec,
        format!("- service: ssh\n  running: {running}\n  enabled: {enabled}\n"),
    )
    .expect("write");
    let outcome = run(HostChecksConfig::new(&spec), &cx(dir.path()))
        .await
        .expect("runs");
    assert!(!outcome.is_failed(), "{}", failures(&outcome));
    let flipped = dir.path().join("flipped.yml");
    std::fs::write(
        &flipped,
        format!("- service: ssh\n  running: {}\n", !running),
    )
    .expect("write");
    let outcome = run(HostChecksConfig::new(&flipped), &cx(dir.path()))
        .await
        .expect("runs");
    let msg = outcome.checks[0].message.as_deref().unwrap_or_default();
    assert!(msg.ends_with("(sysv)"), "{msg}");
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelling_stops_running_commands_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("slow.yml");
    let marker = format!("{}", 86000 + std::process::id() % 1000);
    std::fs::write(
        &spec,
        format!("- command: sleep {marker}\n- file: /etc/passwd\n"),
    )
    .expect("write");
    let cancel = step_core::Cancel::new();
    let cx = cx(dir.path()).with_cancel(cancel.clone());
    let started = std::time::Instant::now();
    let stopper = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        cancel.cancel(step_core::CancelReason::Interrupted);
    });
    let err = run(HostChecksConfig::new(&spec), &cx).await.unwrap_err();
    let _ = stopper.await;
    assert!(matches!(err, step_core::StepError::Cancelled), "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    let left = std::process::Command::new("pgrep")
        .args(["-f", &format!("sleep {marker}")])
        .output()
        .expect("pgrep");
    assert!(
        left.stdout.is_empty(),
        "left behind: {}",
        String::from_utf8_lossy(&left.stdout)
    );
}
