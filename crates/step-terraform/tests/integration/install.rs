//! terraform-install against a local mirror (an axum server on 127.0.0.1
//! started by each test, counting requests): a real terraform zipped by the
//! test, requirement resolution against an index page, the cache, and the
//! refusals — wrong checksum, truncated body, zip-slip — that leave the
//! cache unchanged and execute nothing.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Bytes;
use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use serde_json::json;
use sha2::{Digest, Sha256};
use step_core::{EnvChange, Step, StepError};
use step_terraform::TerraformInstall;
use step_terraform::install::mirror::{Mirror, Platform};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::Sandbox;

/// A mirror served from memory; `hits` counts every request.
#[derive(Clone)]
struct LocalMirror {
    base: String,
    hits: Arc<AtomicUsize>,
}

impl LocalMirror {
    async fn start(files: HashMap<String, Bytes>) -> LocalMirror {
        let hits = Arc::new(AtomicUsize::new(0));
        let files = Arc::new(files);
        let counter = hits.clone();
        let app = axum::Router::new().fallback(move |uri: Uri| {
            let files = files.clone();
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                match files.get(uri.path()) {
                    Some(body) => (StatusCode::OK, body.clone()).into_response(),
                    None => StatusCode::NOT_FOUND.into_response(),
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        LocalMirror {
            base: format!("http://{addr}/terraform"),
            hits,
        }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// Files of one release at their mirror paths: the zip and a SHA256SUMS
/// that lists `sum_of` (normally the zip itself).
fn release(version: &str, zip: &[u8], sum_of: &[u8]) -> HashMap<String, Bytes> {
    let platform = Platform::current().unwrap();
    let v = semver::Version::parse(version).unwrap();
    let zip_name = Mirror::zip_name(&v, &platform);
    let sums = format!(
        "{}  terraform_{version}_darwin_arm64.zip\n{}  {zip_name}\n",
        "0".repeat(64),
        sha256(sum_of)
    );
    HashMap::from([
        (
            format!("/terraform/{version}/{zip_name}"),
            Bytes::from(zip.to_vec()),
        ),
        (
            format!("/terraform/{version}/{}", Mirror::sums_name(&v)),
            Bytes::from(sums),
        ),
    ])
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A zip (stored, uncompressed: fast) of `(name, content, mode)` entries.
fn zip_of(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, content, mode) in entries {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .unix_permissions(*mode);
        out.start_file(*name, options).unwrap();
        out.write_all(content).unwrap();
    }
    out.finish().unwrap().into_inner()
}

/// A stand-in terraform that records being executed.
fn fake_terraform(executed_marker: &Path) -> Vec<u8> {
    format!(
        "#!/bin/sh\ntouch '{}'\necho '{{\"terraform_version\":\"0.0.0\"}}'\n",
        executed_marker.display()
    )
    .into_bytes()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn install_step(mirror: &LocalMirror, version: &str, sb: &Sandbox) -> TerraformInstall {
    TerraformInstall::from_properties(json!({
        "version": version,
        "mirror": mirror.base,
        "cache_dir": sb.path("cache").to_string_lossy(),
    }))
    .unwrap()
}

/// A context whose PATH has no terraform, so the installer must fetch.
fn cx_without_terraform(sb: &Sandbox) -> step_core::StepContext {
    let mut env = sb.env();
    std::fs::create_dir_all(sb.path("bin")).unwrap();
    env.set(
        "PATH",
        format!("{}:/usr/bin:/bin", sb.path("bin").display()),
    );
    assert!(
        !Path::new("/usr/bin/terraform").exists() && !Path::new("/bin/terraform").exists(),
        "this test expects terraform only outside /usr/bin and /bin"
    );
    sb.cx_with(env, None, step_core::Cancel::new())
}

fn terraform_version(binary: &Path) -> String {
    let out = std::process::Command::new(binary)
        .args(["version", "-json"])
        .env_remove("TF_CLI_CONFIG_FILE")
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["terraform_version"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installs_a_real_terraform_from_a_local_mirror_then_uses_the_cache() {
    if !crate::support::terraform() {
        return;
    }
    let real = stepwise_tests::which("terraform").unwrap();
    let version = terraform_version(&real);
    let binary = std::fs::read(&real).unwrap();
    let zip = zip_of(&[("terraform", &binary, 0o755)]);
    let mirror = LocalMirror::start(release(&version, &zip, &zip)).await;
    let sb = Sandbox::new();
    let cx = cx_without_terraform(&sb);

    let outcome = install_step(&mirror, &version, &sb)
        .run(&cx)
        .await
        .expect("install runs");
    assert!(!outcome.is_failed(), "{:?}", outcome.message);
    let installed = sb.path("cache").join(&version).join("terraform");
    assert_eq!(
        outcome.outputs["path"],
        installed.to_string_lossy().as_ref()
    );
    assert_eq!(outcome.outputs["version"], version.as_str());
    assert_eq!(
        outcome.env,
        vec![EnvChange::PrependPath {
            dir: sb
                .path("cache")
                .join(&version)
                .to_string_lossy()
                .into_owned()
        }]
    );
    assert_eq!(
        terraform_version(&installed),
        version,
        "the installed binary reports its version"
    );
    assert_eq!(mirror.hits(), 2, "checksums and archive");
    assert_eq!(
        entries(&sb.path("cache")),
        vec![version.clone()],
        "no temporary files left"
    );
    let progress: Vec<String> = sb
        .lines()
        .into_iter()
        .filter(|l| l.contains("% ("))
        .collect();
    assert!(progress.len() >= 5, "progress every ~10%: {progress:#?}");
    assert!(
        sb.lines().iter().any(|l| l.contains("SHA-256 matches")),
        "{:#?}",
        sb.lines()
    );

    // Second run: a cache hit; the server sees no request.
    let again = install_step(&mirror, &version, &sb)
        .run(&cx)
        .await
        .expect("install runs");
    assert!(!again.is_failed());
    assert!(
        again
            .message
            .as_deref()
            .unwrap_or("")
            .contains("using cached"),
        "{:?}",
        again.message
    );
    assert_eq!(mirror.hits(), 2);

    // With terraform's directory first on PATH (as the runner applies the
    // env change), a later `terraform` step finds the installed one.
    let mut env = cx.env().clone();
    for change in &outcome.env {
        env.apply(change);
    }
    let found = step_core::ToolSpec::new("terraform", "")
        .find(&env, sb.dir.path())
        .unwrap();
    assert_eq!(found.path, installed);
}

#[tokio::test]
async fn a_matching_terraform_on_path_is_used_without_any_request() {
    if !crate::support::terraform() {
        return;
    }
    let version = terraform_version(&stepwise_tests::which("terraform").unwrap());
    let mirror = LocalMirror::start(HashMap::new()).await;
    let sb = Sandbox::new();
    let outcome = install_step(&mirror, &version, &sb)
        .run(&sb.cx())
        .await
        .expect("runs");
    assert_eq!(
        outcome.status,
        step_core::outcome::OutcomeStatus::Skipped,
        "{:?}",
        outcome.message
    );
    assert!(
        outcome
            .message
            .unwrap_or_default()
            .contains("already matches")
    );
    assert_eq!(mirror.hits(), 0);
}

#[tokio::test]
async fn a_requirement_is_resolved_against_the_mirror_index() {
    let sb = Sandbox::new();
    let executed = sb.path("executed");
    let zip = zip_of(&[
        ("terraform", &fake_terraform(&executed), 0o755),
        ("LICENSE.txt", b"MPL", 0o644),
    ]);
    let mut files = release("1.11.2", &zip, &zip);
    let index = r#"<html><body><ul>
        <li><a href="../">../</a></li>
        <li><a href="/terraform/2.0.0/">terraform_2.0.0</a></li>
        <li><a href="/terraform/1.12.0-beta1/">terraform_1.12.0-beta1</a></li>
        <li><a href="/terraform/1.11.2/">terraform_1.11.2</a></li>
        <li><a href="/terraform/1.10.5/">terraform_1.10.5</a></li>
        </ul></body></html>"#;
    files.insert("/terraform/".into(), Bytes::from(index));
    let mirror = LocalMirror::start(files).await;
    let cx = cx_without_terraform(&sb);

    let outcome = install_step(&mirror, ">=1.10, <2", &sb)
        .run(&cx)
        .await
        .expect("install runs");
    assert!(!outcome.is_failed(), "{:?}", outcome.message);
    assert_eq!(
        outcome.outputs["version"], "1.11.2",
        "highest release, no pre-release"
    );
    assert!(sb.path("cache/1.11.2/terraform").is_file());
    assert!(sb.path("cache/1.11.2/LICENSE.txt").is_file());
    assert_eq!(mirror.hits(), 3, "index, checksums, archive");
    assert!(
        !executed.exists(),
        "the installer executes nothing it downloaded"
    );

    // The same requirement is now a cache hit, without asking the index.
    let again = install_step(&mirror, "~> 1.11", &sb)
        .run(&cx)
        .await
        .expect("runs");
    assert_eq!(again.outputs["version"], "1.11.2");
    assert_eq!(mirror.hits(), 3);

    // A requirement nothing matches says what the index lists.
    let err = install_step(&mirror, "~> 3.0", &sb)
        .run(&cx)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("no terraform release matching `~> 3.0`") && msg.contains("2.0.0"),
        "{msg}"
    );
}

#[tokio::test]
async fn a_wrong_checksum_is_refused_and_the_cache_left_unchanged() {
    let sb = Sandbox::new();
    let executed = sb.path("executed");
    let zip = zip_of(&[("terraform", &fake_terraform(&executed), 0o755)]);
    let mirror = LocalMirror::start(release("1.11.2", &zip, b"something else")).await;
    let cx = cx_without_terraform(&sb);

    let err = install_step(&mirror, "1.11.2", &sb)
        .run(&cx)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("checksum mismatch for terraform_1.11.2_"),
        "{msg}"
    );
    assert!(
        msg.contains(&sha256(b"something else")) && msg.contains(&sha256(&zip)),
        "{msg}"
    );
    assert!(msg.contains("cache left unchanged"), "{msg}");
    assert_eq!(entries(&sb.path("cache")), Vec::<String>::new());
    assert!(!executed.exists());
}

#[tokio::test]
async fn a_zip_slip_entry_is_refused_and_the_cache_left_unchanged() {
    let sb = Sandbox::new();
    let executed = sb.path("executed");
    let zip = zip_of(&[
        ("terraform", &fake_terraform(&executed), 0o755),
        ("../escaped.sh", b"#!/bin/sh\necho pwned\n", 0o755),
    ]);
    // The checksum is right: only the archive's content is wrong.
    let mirror = LocalMirror::start(release("1.11.2", &zip, &zip)).await;
    let cx = cx_without_terraform(&sb);

    let err = install_step(&mirror, "1.11.2", &sb)
        .run(&cx)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("`../escaped.sh` points outside the target directory"),
        "{msg}"
    );
    assert_eq!(entries(&sb.path("cache")), Vec::<String>::new());
    assert!(!sb.path("escaped.sh").exists());
    assert!(!executed.exists());
}

#[tokio::test]
async fn a_truncated_download_is_refused_and_the_cache_left_unchanged() {
    let sb = Sandbox::new();
    let executed = sb.path("executed");
    let zip = zip_of(&[
        ("terraform", &vec![b'x'; 256 * 1024], 0o755),
        ("t", &fake_terraform(&executed), 0o755),
    ]);
    let files = release("1.11.2", &zip, &zip);
    let base = truncating_server(files).await;
    let step = TerraformInstall::from_properties(json!({
        "version": "1.11.2",
        "mirror": base,
        "cache_dir": sb.path("cache").to_string_lossy(),
    }))
    .unwrap();
    let cx = cx_without_terraform(&sb);

    let err = step.run(&cx).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("was truncated") || msg.contains("broke off"),
        "{msg}"
    );
    assert!(matches!(err, StepError::Other(_)));
    assert_eq!(entries(&sb.path("cache")), Vec::<String>::new());
    assert!(!executed.exists());
}

/// A raw HTTP/1.1 server that announces each file's full length but sends
/// only the first half of any `.zip` before closing the connection — what a
/// dropped download looks like to the client.
async fn truncating_server(files: HashMap<String, Bytes>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let files = Arc::new(files);
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let files = files.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&request);
                let path = text.split_whitespace().nth(1).unwrap_or("/").to_string();
                let Some(body) = files.get(&path) else {
                    let _ = sock
                        .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .await;
                    return;
                };
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let sent = if path.ends_with(".zip") {
                    &body[..body.len() / 2]
                } else {
                    &body[..]
                };
                let _ = sock.write_all(sent).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    format!("http://{addr}/terraform")
}

async fn refused_archive(entries: &[(&str, &[u8], u32)]) -> (String, Sandbox) {
    let sb = Sandbox::new();
    let zip = zip_of(entries);
    let mirror = LocalMirror::start(release("1.11.2", &zip, &zip)).await;
    let cx = cx_without_terraform(&sb);
    let err = install_step(&mirror, "1.11.2", &sb)
        .run(&cx)
        .await
        .unwrap_err();
    assert_eq!(entries_of_cache(&sb), Vec::<String>::new());
    (err.to_string(), sb)
}

fn entries_of_cache(sb: &Sandbox) -> Vec<String> {
    entries(&sb.path("cache"))
}

#[tokio::test]
async fn an_absolute_entry_is_refused_as_documented() {
    let (msg, sb) = refused_archive(&[
        ("terraform", b"#!/bin/sh\n", 0o755),
        ("/tmp/stepwise-absolute-entry", b"x", 0o644),
    ])
    .await;
    assert!(
        msg.contains("`/tmp/stepwise-absolute-entry` points outside"),
        "{msg}"
    );
    assert!(!sb.path("cache/1.11.2").exists());
}

#[tokio::test]
async fn a_duplicate_terraform_entry_is_refused() {
    let (msg, _sb) = refused_archive(&[
        ("terraform", b"#!/bin/sh\necho first\n", 0o755),
        ("./terraform", b"#!/bin/sh\necho second\n", 0o755),
    ])
    .await;
    assert!(msg.contains("twice"), "{msg}");
}

#[tokio::test]
async fn an_endless_download_stops_at_the_cap_and_leaves_nothing() {
    let sb = Sandbox::new();
    let zip = zip_of(&[("terraform", b"#!/bin/sh\n", 0o755)]);
    let files = release("1.11.2", &zip, &zip);
    let base = endless_zip_server(files).await;
    let step = TerraformInstall::from_properties(json!({
        "version": "1.11.2",
        "mirror": base,
        "cache_dir": sb.path("cache").to_string_lossy(),
        "max_download_mib": 2,
    }))
    .unwrap();
    let cx = cx_without_terraform(&sb);
    let err = tokio::time::timeout(std::time::Duration::from_secs(30), step.run(&cx))
        .await
        .expect("the download did not stop")
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("longer than 2.0 MiB"), "{msg}");
    assert_eq!(entries_of_cache(&sb), Vec::<String>::new());
}

/// Serves the checksums normally and any `.zip` as an endless chunked body.
async fn endless_zip_server(files: HashMap<String, Bytes>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let files = Arc::new(files);
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let files = files.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&request);
                let path = text.split_whitespace().nth(1).unwrap_or("/").to_string();
                if path.ends_with(".zip") {
                    let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
                    if sock.write_all(head.as_bytes()).await.is_err() {
                        return;
                    }
                    let chunk = [b'z'; 64 * 1024];
                    loop {
                        let mut piece = format!("{:x}\r\n", chunk.len()).into_bytes();
                        piece.extend_from_slice(&chunk);
                        piece.extend_from_slice(b"\r\n");
                        if sock.write_all(&piece).await.is_err() {
                            return;
                        }
                    }
                }
                let body = files.get(&path).cloned().unwrap_or_default();
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(&body).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    format!("http://{addr}/terraform")
}
