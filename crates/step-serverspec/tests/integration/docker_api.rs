//! `docker inspect` from the Engine API socket against the real `docker`
//! CLI on the same engine: a running container with a volume, an image, a
//! name that is neither, with and without `--type container`.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use step_serverspec::docker_api::{Answer, DockerApi, Kind};
use step_serverspec::facts::parse_docker_inspect;

use crate::support::*;

const IMAGE: &str = "stepwise/busybox:latest";

/// The API as the CLI would reach it from this test's environment.
fn api() -> DockerApi {
    DockerApi::from_env(|k| std::env::var(k).ok())
        .expect("the docker CLI here uses a unix socket without a context")
}

/// `docker inspect ARGS… -- NAME`: exit code, stdout, stderr.
fn cli(args: &[&str], name: &str) -> (i32, String, String) {
    let out = Command::new("docker")
        .arg("inspect")
        .args(args)
        .arg("--")
        .arg(name)
        .output()
        .expect("docker inspect");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The fields the checks read: identity, state, mounts, tags.
fn verdict_fields(json: &str) -> Value {
    let v: Value = serde_json::from_str(json).expect("JSON array");
    let o = &v[0];
    serde_json::json!({
        "n": v.as_array().map(Vec::len),
        "id": o["Id"], "running": o.pointer("/State/Running"),
        "restarting": o.pointer("/State/Restarting"), "mounts": o["Mounts"],
        "tags": o["RepoTags"],
    })
}

async fn ask(kind: Kind, name: &str) -> Answer {
    api().inspect(kind, name, Duration::from_secs(30)).await
}

#[tokio::test(flavor = "multi_thread")]
async fn api_answers_as_the_cli_does() {
    if !docker_ready() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = make_store(dir.path());
    let name = format!("stepwise-spec3-api-{}", std::process::id());
    let out = Command::new("docker")
        .args(["run", "-d", "--network", "none", "--name", &name, "-v"])
        .arg(format!("{}:/store", store.display()))
        .args([IMAGE, "sleep", "600"])
        .output()
        .expect("docker run");
    let _guard = Container(name.clone());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    for target in [name.as_str(), IMAGE] {
        let (code, stdout, stderr) = cli(&[], target);
        assert_eq!(code, 0, "{stderr}");
        let Answer::Found(json) = ask(Kind::Any, target).await else {
            panic!("the API does not find {target}");
        };
        assert_eq!(verdict_fields(&json), verdict_fields(&stdout), "{target}");
    }
    let (code, stdout, _) = cli(&["--type", "container"], &name);
    assert_eq!(code, 0);
    let Answer::Found(json) = ask(Kind::Container, &name).await else {
        panic!("the API does not find container {name}");
    };
    let info = parse_docker_inspect(&json).expect("container JSON");
    assert_eq!(info, parse_docker_inspect(&stdout).expect("CLI JSON"));
    assert!(info.running, "{info:?}");
    assert!(
        info.mounts.iter().any(|(dst, _)| dst == "/store"),
        "{info:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn api_misses_what_the_cli_misses() {
    if !docker_ready() {
        return;
    }
    let missing = format!("stepwise-spec3-missing-{}:never", std::process::id());
    let (code, stdout, stderr) = cli(&[], &missing);
    assert_eq!((code, stdout.trim()), (1, "[]"), "{stderr}");
    assert_eq!(
        stderr.trim(),
        format!("Error: No such object: {missing}"),
        "the message the API path reproduces"
    );
    assert_eq!(ask(Kind::Any, &missing).await, Answer::Missing);

    // `--type container`: an image is no container.
    for name in [missing.as_str(), IMAGE] {
        let (code, _, stderr) = cli(&["--type", "container"], name);
        assert_eq!(code, 1, "{name}");
        assert!(stderr.contains("No such container"), "{stderr}");
        assert_eq!(ask(Kind::Container, name).await, Answer::Missing, "{name}");
    }
}
