//! A runner killed with SIGKILL leaves process groups and private temp
//! files behind; `runner cleanup` — from any working directory, with the
//! state kept in `--state-dir` or `STEPWISE_STATE_DIR` — ends the groups,
//! runs the teardowns and removes the temp files (issue #14 findings 9
//! and 13, issue #18 point 8).

use super::*;
use rustix::process::Signal;

const HOLD: &str = r#"
build:
  steps:
    - script:
        name: create
        code: |
          echo made > made.txt
          printf 'private: %s\n' "$STEPWISE_TMPDIR" > tmpdir.txt
          echo secret-ish > "$STEPWISE_TMPDIR/vars.json"
        teardown: echo gone > gone.txt
    - script:
        name: hold
        code: |
          setsid sleep 300 &
          echo $! > other-group.pid
          sleep 300 &
          echo $! > bg.pid
          echo $$ > hold.pid
          touch holding
          sleep 300
"#;

fn kill_and_check(state_env: bool) {
    let w = Work::new(HOLD);
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().join("journals");
    let mut cmd = w.cmd(&["run"]);
    if state_env {
        cmd.env("STEPWISE_STATE_DIR", &state_dir);
    } else {
        cmd.arg("--state-dir").arg(&state_dir);
    }
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_for(Duration::from_secs(20), || w
        .file("holding")
        .exists()));
    signal(&child, Signal::KILL);
    let _ = child.wait();
    let pids: Vec<i32> = ["hold.pid", "bg.pid"]
        .iter()
        .flat_map(|f| pids_in(&w.file(f)))
        .collect();
    assert_eq!(pids.len(), 2);
    assert!(
        pids.iter().all(|p| alive(*p)),
        "the step's processes should outlive the kill"
    );
    let tmp = w.read("tmpdir.txt");
    let tmp = tmp.trim().trim_start_matches("private: ");
    assert!(tmp.starts_with(state_dir.to_str().unwrap()), "{tmp}");
    assert!(std::path::Path::new(tmp).join("vars.json").exists());
    assert!(
        !w.file(".stepwise/state").exists(),
        "state went to the default dir"
    );
    // Cleanup from elsewhere, knowing only the state directory.
    let elsewhere = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(["cleanup", "--state-dir"])
        .arg(&state_dir)
        .current_dir(elsewhere.path())
        .env("CI", "true")
        .env_remove("STEPWISE_STATE_DIR")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("process group"), "{t}");
    assert!(
        all_dead(&pids),
        "processes of the killed run survived cleanup: {t}"
    );
    assert_eq!(w.read("gone.txt").trim(), "gone", "{t}");
    assert!(
        !std::path::Path::new(tmp).exists(),
        "private temp dir left: {t}"
    );
    assert!(
        std::fs::read_dir(&state_dir).unwrap().next().is_none(),
        "journal left behind"
    );
    // A process that left the run's session on purpose is not ours to end.
    for pid in pids_in(&w.file("other-group.pid")) {
        let _ = rustix::process::kill_process(
            rustix::process::Pid::from_raw(pid).unwrap(),
            Signal::KILL,
        );
    }
}

#[test]
fn cleanup_with_state_dir_from_another_directory_ends_groups_left_by_a_killed_run() {
    kill_and_check(false);
}

#[test]
fn state_dir_from_the_environment_is_honoured_by_run() {
    kill_and_check(true);
}

#[test]
fn terraform_survives_a_killed_runner_saves_its_state_and_cleanup_waits_for_it() {
    if !stepwise_tests::tool_available("terraform") {
        return;
    }
    let w = Work::new(
        r#"
build:
  steps:
    - terraform-apply:
        name: infra
        dir: infra
"#,
    );
    std::fs::create_dir_all(w.file("infra")).unwrap();
    std::fs::write(
        w.file("infra/main.tf"),
        r#"
resource "terraform_data" "slow" {
  provisioner "local-exec" {
    command = "touch ../provisioning; for i in 1 2 3 4 5 6 7 8 9 10; do echo tick $i; sleep 1; done"
  }
}
"#,
    )
    .unwrap();
    let state_dir = w.file("journals");
    let mut child = w
        .cmd(&["run", "--state-dir", state_dir.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(wait_for(Duration::from_secs(60), || w
        .file("provisioning")
        .exists()));
    std::thread::sleep(Duration::from_millis(500));
    signal(&child, Signal::KILL);
    let _ = child.wait();
    // Cleanup waits for terraform (it saves its state), then destroys.
    let out = w
        .cmd(&["cleanup", "--state-dir", state_dir.to_str().unwrap()])
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("waited for 1 tool"), "{t}");
    let state = w.read("infra/terraform.tfstate");
    let doc: serde_json::Value = serde_json::from_str(&state)
        .unwrap_or_else(|e| panic!("terraform left no readable state ({e}): {state:?}\n{t}"));
    assert_eq!(doc["resources"], serde_json::json!([]), "{t}");
    // The state terraform saved when it stopped held the interrupted
    // resource: the destroy had something to remove.
    assert!(t.contains("destroyed 1"), "{t}");
}

/// The same kill and cleanup inside a PID namespace whose session leader is
/// outside it, as under `docker exec` or a CI agent that enters a
/// container: there `getsid` is 0, and the runner must neither trip over it
/// nor lose track of its groups.
const NAMESPACED: &str = r#"
build:
  steps:
    - script:
        name: hold
        code: |
          sleep 300 &
          echo $! > bg.pid
          touch holding
          sleep 300
"#;

/// Run as pid 1 of the new namespace: starts the runner, kills it once the
/// step holds, runs cleanup, and prints what became of the step's process.
const NAMESPACED_DRIVER: &str = r#"
runner=$1
"$runner" run --state-dir "$PWD/state" > run.log 2>&1 &
pid=$!
i=0
while [ ! -e holding ] && [ "$i" -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
if [ ! -e holding ]; then echo "the step never started:"; cat run.log; exit 3; fi
kill -9 "$pid"
wait "$pid"
bg=$(cat bg.pid)
alive() { s=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) && [ "$s" != Z ]; }
alive "$bg" || { echo "the step's process died with the runner"; exit 4; }
"$runner" cleanup --state-dir "$PWD/state" > cleanup.log 2>&1 || { cat cleanup.log; exit 5; }
if alive "$bg"; then echo "the step's process survived cleanup:"; cat cleanup.log; exit 6; fi
cat cleanup.log
echo namespaced-ok
"#;

#[test]
fn a_run_in_a_pid_namespace_entered_from_outside_is_tracked_and_cleaned_up() {
    if !stepwise_tests::tool_available("unshare") {
        return;
    }
    // A new PID namespace needs CAP_SYS_ADMIN: a privilege of the machine,
    // not a tool to install, so without it the test skips (loudly) even
    // where tools are required.
    let probe = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!(
            "\n!!!!!!!! SKIPPED: cannot create a PID namespace here (unshare --pid needs CAP_SYS_ADMIN) !!!!!!!!\n"
        );
        return;
    }
    let w = Work::new(NAMESPACED);
    // No --kill-child on purpose: sh is pid 1 of the namespace, and the
    // namespace ends (with everything in it) when sh exits.
    let mut unshare = Command::new("unshare");
    unshare
        .args(["--pid", "--fork", "--mount-proc", "sh", "-c"])
        .arg(NAMESPACED_DRIVER)
        .arg("driver")
        .arg(env!("CARGO_BIN_EXE_runner"));
    w.quiet(&mut unshare);
    let out = unshare.output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("process group"), "{t}");
    assert!(t.contains("namespaced-ok"), "{t}");
}
