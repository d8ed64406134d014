//! `docker inspect` on this machine, answered from the Docker Engine API
//! over its unix socket instead of starting the `docker` CLI (a Go binary
//! start plus the same API round trips: 150–300 ms each).
//!
//! The answers keep the CLI's meaning:
//! - the engine is the one the CLI would reach: `DOCKER_HOST` unset or
//!   `unix://PATH`, no context chosen (`DOCKER_CONTEXT`, or `currentContext`
//!   in the CLI's `config.json`), no pinned `DOCKER_API_VERSION`; anything
//!   else leaves the work to the CLI;
//! - an object's JSON is the API's own bytes, which is what the CLI prints
//!   (inside a JSON array);
//! - `docker inspect NAME` tries the object types in the CLI's order
//!   (container, image, network, volume, plugin; swarm objects only on a
//!   swarm manager, where the work is left to the CLI), skipping "not found" and
//!   "invalid reference format" as the CLI does;
//! - every other answer (a refused connection, an unexpected status, a
//!   timeout) is [`Answer::AskCli`]: the caller then runs the CLI, so its
//!   error text and exit status stay the CLI's own.

use std::path::{Path, PathBuf};
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

/// The object types `docker inspect` can be asked for here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `docker inspect --type container`.
    Container,
    /// `docker inspect` without `--type`: every type, in the CLI's order.
    Any,
}

/// What the engine said about a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The object, as the CLI prints it: a JSON array with the API's JSON.
    Found(String),
    /// No object of the asked types has that name (the CLI's "No such
    /// container"/"No such object", exit 1).
    Missing,
    /// Not certain here: run the CLI.
    AskCli,
}

/// The engine's API socket, where the CLI would reach the same engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DockerApi {
    socket: PathBuf,
}

impl DockerApi {
    /// The socket the `docker` CLI would use in an environment read through
    /// `get` (variable name → value), or `None` when the CLI would go
    /// elsewhere (tcp, ssh, a context) or the choice is not certain.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Option<DockerApi> {
        let set = |k: &str| get(k).filter(|v| !v.is_empty());
        if set("DOCKER_API_VERSION").is_some() {
            return None;
        }
        if set("DOCKER_CONTEXT").is_some_and(|c| c != "default") {
            return None;
        }
        let socket = match set("DOCKER_HOST") {
            Some(host) => PathBuf::from(host.strip_prefix("unix://")?),
            None => {
                let dir = match set("DOCKER_CONFIG") {
                    Some(d) => PathBuf::from(d),
                    None => PathBuf::from(set("HOME")?).join(".docker"),
                };
                if set("DOCKER_CONTEXT").is_none() && !default_context(&dir.join("config.json"))? {
                    return None;
                }
                PathBuf::from("/var/run/docker.sock")
            }
        };
        socket.is_absolute().then_some(DockerApi { socket })
    }

    /// An API at an explicit socket path.
    pub fn at(socket: impl Into<PathBuf>) -> DockerApi {
        DockerApi {
            socket: socket.into(),
        }
    }

    /// `docker inspect [--type container] -- NAME`, within `timeout`.
    pub async fn inspect(&self, kind: Kind, name: &str, timeout: Duration) -> Answer {
        if !plain_ref(name) {
            return Answer::AskCli;
        }
        tokio::time::timeout(timeout, self.inspect_now(kind, name))
            .await
            .unwrap_or(Answer::AskCli)
    }

    async fn inspect_now(&self, kind: Kind, name: &str) -> Answer {
        let Ok(mut conn) = Conn::open(&self.socket).await else {
            return Answer::AskCli;
        };
        let paths: &[&str] = match kind {
            Kind::Container => &["/containers/{}/json"],
            Kind::Any => &[
                "/containers/{}/json",
                "/images/{}/json",
                "/networks/{}",
                "/volumes/{}",
            ],
        };
        for path in paths {
            match conn.get(&path.replace("{}", name)).await {
                Ok((200, body)) => return found(&body),
                Ok((status, body)) if skippable(status, &body) => {}
                _ => return Answer::AskCli,
            }
        }
        if kind == Kind::Container {
            return Answer::Missing;
        }
        // Swarm objects are asked for only on a swarm manager. The CLI reads
        // `Swarm.ControlAvailable` of `GET /info`; the engine sets it when it
        // is an active manager, the same test that makes `GET /swarm` answer
        // 503 "not a swarm manager", which costs 1 ms where `/info` costs 90.
        match conn.get("/swarm").await {
            Ok((503, body)) if not_a_manager(&body) => {}
            _ => return Answer::AskCli,
        }
        match conn.get(&format!("/plugins/{name}/json")).await {
            Ok((200, body)) => found(&body),
            Ok((status, body)) if skippable(status, &body) => Answer::Missing,
            _ => Answer::AskCli,
        }
    }
}

/// The CLI's array around one object's JSON.
fn found(body: &[u8]) -> Answer {
    match std::str::from_utf8(body) {
        Ok(text) => Answer::Found(format!("[{}]", text.trim())),
        Err(_) => Answer::AskCli,
    }
}

/// An error the CLI skips to try the next type: not found, or a name that
/// is no valid reference for this type.
fn skippable(status: u16, body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body);
    status == 404
        || (status == 400
            && (text.contains("invalid reference format") || text.contains("not supported")))
}

/// `GET /swarm`'s 503 of a node that is no active swarm manager.
fn not_a_manager(body: &[u8]) -> bool {
    String::from_utf8_lossy(body).contains("not a swarm manager")
}

/// Whether the CLI's config file (missing or without `currentContext`)
/// leaves the default context; `None` when it cannot be read as JSON.
fn default_context(config: &Path) -> Option<bool> {
    let text = match std::fs::read_to_string(config) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some(true),
        Err(_) => return None,
    };
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some(match json.get("currentContext").and_then(|c| c.as_str()) {
        None | Some("") | Some("default") => true,
        Some(_) => false,
    })
}

/// A name the API path takes as it is, with no escaping: the characters
/// of container names and image references, not starting with `-` (a flag
/// to the CLI) and not all dots (`.`/`..` would change the path).
pub fn plain_ref(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('-')
        && !name.bytes().all(|b| b == b'.')
        && !name.contains("/.")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-/:@".contains(&b))
}

/// One HTTP/1.1 connection to the engine, reused for a name's requests.
struct Conn {
    sender: hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
}

impl Conn {
    async fn open(socket: &Path) -> Result<Conn, String> {
        let stream = tokio::net::UnixStream::connect(socket)
            .await
            .map_err(|e| e.to_string())?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            // Ends when the sender is dropped; its errors reach the requests.
            let _ = conn.await;
        });
        Ok(Conn { sender })
    }

    /// `GET path`: the status and the body.
    async fn get(&mut self, path: &str) -> Result<(u16, Bytes), String> {
        let req = hyper::Request::get(path)
            .header(hyper::header::HOST, "docker")
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        self.sender.ready().await.map_err(|e| e.to_string())?;
        let resp = self
            .sender
            .send_request(req)
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((status, body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn socket_follows_the_cli_choice() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path().to_str().unwrap();
        let default = Some(DockerApi::at("/var/run/docker.sock"));
        assert_eq!(DockerApi::from_env(env(&[("HOME", h)])), default);
        assert_eq!(
            DockerApi::from_env(env(&[("HOME", h), ("DOCKER_HOST", "unix:///tmp/d.sock")])),
            Some(DockerApi::at("/tmp/d.sock"))
        );
        for (k, v) in [
            ("DOCKER_HOST", "tcp://127.0.0.1:2375"),
            ("DOCKER_HOST", "ssh://box"),
            ("DOCKER_CONTEXT", "remote"),
            ("DOCKER_API_VERSION", "1.41"),
        ] {
            assert_eq!(
                DockerApi::from_env(env(&[("HOME", h), (k, v)])),
                None,
                "{k}={v}"
            );
        }
        std::fs::create_dir(home.path().join(".docker")).unwrap();
        let config = home.path().join(".docker/config.json");
        std::fs::write(&config, r#"{"auths":{}}"#).unwrap();
        assert_eq!(DockerApi::from_env(env(&[("HOME", h)])), default);
        std::fs::write(&config, r#"{"currentContext":"remote"}"#).unwrap();
        assert_eq!(DockerApi::from_env(env(&[("HOME", h)])), None);
        std::fs::write(&config, "not json").unwrap();
        assert_eq!(DockerApi::from_env(env(&[("HOME", h)])), None);
    }

    #[test]
    fn only_plain_references_skip_the_cli() {
        for ok in [
            "web",
            "stepwise-test:latest",
            "reg:5000/a/b@sha256:00",
            "a.b_c",
        ] {
            assert!(plain_ref(ok), "{ok}");
        }
        for bad in [
            "", "-f", "..", "a/../b", "a b", "a?b", "a#b", "a%2f", "$(x)",
        ] {
            assert!(!plain_ref(bad), "{bad}");
        }
    }

    #[tokio::test]
    async fn no_socket_leaves_it_to_the_cli() {
        let dir = tempfile::tempdir().unwrap();
        let api = DockerApi::at(dir.path().join("missing.sock"));
        let answer = api.inspect(Kind::Any, "web", Duration::from_secs(5)).await;
        assert_eq!(answer, Answer::AskCli);
    }

    #[test]
    fn skips_what_the_cli_skips() {
        assert!(skippable(404, b"{}"));
        assert!(skippable(400, br#"{"message":"invalid reference format"}"#));
        assert!(!skippable(500, b"{}"));
        assert!(not_a_manager(
            br#"{"message":"This node is not a swarm manager. Use"}"#
        ));
        assert!(!not_a_manager(b"{}"));
    }
}
