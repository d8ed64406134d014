//! The Apollo example's local cloud (`examples/apollo/terraform/local`)
//! destroys what an interrupted create started (issue #14 finding 8): a
//! SIGINT while a stand-in's provisioner runs leaves a tainted resource,
//! whose own destroy provisioner terraform skips; the run directory's sweep
//! still stops the stand-in.

// Set-up that cannot work (no temp dir, no terraform) should panic loudly.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use stepwise_tests::{tool_available, workspace_root};

/// Live processes whose command line names `needle`.
fn processes_naming(needle: &str) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let cmd = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.contains(needle) && stepwise_tests::alive(pid as i32) {
            found.push((pid, cmd));
        }
    }
    found
}

fn terraform(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new("terraform");
    cmd.args(args)
        .current_dir(dir)
        .env("TF_IN_AUTOMATION", "1")
        .env("CHECKPOINT_DISABLE", "1")
        .env_remove("TF_CLI_CONFIG_FILE")
        .stdin(Stdio::null());
    cmd
}

#[test]
fn a_stand_in_started_by_an_interrupted_provisioner_is_destroyed() {
    if !tool_available("terraform") || !tool_available("python3") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let example = tmp.path().join("apollo");
    stepwise_tests::copy_tree(&workspace_root().join("examples/apollo"), &example);
    let tf = example.join("terraform/local");
    let run_dir = example.join(".run/trial");
    let vars = [
        "-var=target=trial",
        "-var=port_base=31700",
        "-var=zookeeper_count=1",
    ];
    let init = terraform(&tf, &["init", "-input=false", "-no-color"])
        .output()
        .unwrap();
    assert!(init.status.success(), "{init:?}");
    let mut apply_args = vec!["apply", "-auto-approve", "-input=false", "-no-color"];
    apply_args.extend(vars);
    let mut apply = terraform(&tf, &apply_args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Interrupt while the stand-in starts: its process is there, its
    // resource is not created yet.
    let needle = format!("--pidfile {}/", run_dir.display());
    let started = Instant::now();
    while processes_naming(&needle).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no stand-in started"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = Command::new("kill")
        .args(["-INT", &apply.id().to_string()])
        .status();
    let _ = apply.wait();
    let mut destroy_args = vec!["destroy", "-auto-approve", "-input=false", "-no-color"];
    destroy_args.extend(vars);
    let destroy = terraform(&tf, &destroy_args).output().unwrap();
    let said = String::from_utf8_lossy(&destroy.stdout).into_owned();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut left = processes_naming(&needle);
    while !left.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        left = processes_naming(&needle);
    }
    for (pid, _) in &left {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
    assert!(destroy.status.success(), "{said}");
    assert!(
        left.is_empty(),
        "stand-ins survived the destroy: {left:#?}\n{said}"
    );
}
