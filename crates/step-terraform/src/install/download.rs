//! HTTP for the installer: small text documents (index, checksums) and the
//! release archive, streamed to a file while it is hashed, with progress as
//! log lines and cancellation between chunks.
//!
//! Error messages name URLs with credentials and query removed
//! ([`super::mirror::redact`]); reqwest's own errors are shown without
//! their URL for the same reason.

use std::io::Write;
use std::time::Duration;

use sha2::{Digest, Sha256};
use step_core::{StepContext, StepError};

use super::mirror::redact;

/// The default cap on an archive download whose size the mirror does not
/// give (terraform's release zips are a few tens of MiB).
pub const DEFAULT_MAX_DOWNLOAD_MIB: u64 = 512;

/// A finished download.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Downloaded {
    /// Bytes received.
    pub bytes: u64,
    /// Their SHA-256, lower-case hex.
    pub sha256: String,
}

/// An HTTP client for one installation.
pub(crate) struct Fetcher {
    client: reqwest::Client,
}

impl Fetcher {
    /// A client with a connect timeout, an idle-read timeout and an overall
    /// limit per request.
    pub fn new(total: Duration) -> Result<Fetcher, StepError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .read_timeout(Duration::from_secs(60))
            .timeout(total)
            .user_agent(concat!("stepwise-terraform/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                StepError::other(format!("could not create an HTTP client: {}", chain(&e)))
            })?;
        Ok(Fetcher { client })
    }

    async fn get(
        &self,
        cx: &StepContext,
        url: &str,
        what: &str,
    ) -> Result<reqwest::Response, StepError> {
        let response = tokio::select! {
            r = self.client.get(url).send() => r,
            _ = cx.cancel().cancelled() => return Err(StepError::Cancelled),
        }
        .map_err(|e| {
            StepError::other(format!(
                "could not fetch {what} from {}: {}",
                redact(url),
                chain(&e)
            ))
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(StepError::other(format!(
                "could not fetch {what} from {}: HTTP {status}",
                redact(url)
            )));
        }
        Ok(response)
    }

    /// A small text document (at most `limit` bytes).
    pub async fn text(
        &self,
        cx: &StepContext,
        url: &str,
        what: &str,
        limit: usize,
    ) -> Result<String, StepError> {
        let mut response = self.get(cx, url, what).await?;
        let mut body = Vec::new();
        loop {
            let chunk = tokio::select! {
                c = response.chunk() => c,
                _ = cx.cancel().cancelled() => return Err(StepError::Cancelled),
            }
            .map_err(|e| {
                StepError::other(format!(
                    "reading {what} from {} failed: {}",
                    redact(url),
                    chain(&e)
                ))
            })?;
            let Some(chunk) = chunk else { break };
            if body.len() + chunk.len() > limit {
                return Err(StepError::other(format!(
                    "{what} at {} is larger than {} KiB; is this the right mirror?",
                    redact(url),
                    limit / 1024
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    /// Streams `url` into `out`, hashing as it goes, and logs progress
    /// (every 10 % when the size is known, every 10 MiB otherwise). A body
    /// shorter than its `Content-Length` is an error; so is one longer than
    /// it, or than `cap` bytes (checked as it arrives, so an endless body
    /// stops at the cap).
    pub async fn download(
        &self,
        cx: &StepContext,
        url: &str,
        name: &str,
        out: &mut std::fs::File,
        cap: u64,
    ) -> Result<Downloaded, StepError> {
        let mut response = self.get(cx, url, name).await?;
        let expected = response.content_length();
        if let Some(total) = expected
            && total > cap
        {
            return Err(StepError::other(format!(
                "{name} at {} is {} — more than the {} this step downloads (max_download_mib)",
                redact(url),
                mib(total),
                mib(cap)
            )));
        }
        let limit = expected.unwrap_or(cap);
        cx.info(format!(
            "downloading {name} from {}{}",
            redact(url),
            expected
                .map(|n| format!(" ({})", mib(n)))
                .unwrap_or_default()
        ));
        let mut hasher = Sha256::new();
        let mut received: u64 = 0;
        let mut next_report: u64 = 1;
        loop {
            let chunk = tokio::select! {
                c = response.chunk() => c,
                _ = cx.cancel().cancelled() => return Err(StepError::Cancelled),
            }
            .map_err(|e| {
                StepError::other(format!(
                    "download of {name} from {} broke off after {}: {}",
                    redact(url),
                    mib(received),
                    chain(&e)
                ))
            })?;
            let Some(chunk) = chunk else { break };
            if received.saturating_add(chunk.len() as u64) > limit {
                return Err(StepError::other(format!(
                    "download of {name} from {} stopped: the body is longer than {}{}",
                    redact(url),
                    mib(limit),
                    if expected.is_some() {
                        " (its Content-Length)"
                    } else {
                        " (max_download_mib)"
                    }
                )));
            }
            hasher.update(&chunk);
            out.write_all(&chunk)
                .map_err(|e| StepError::io(format!("writing the download of {name}"), e))?;
            received += chunk.len() as u64;
            match expected {
                Some(total) if total > 0 => {
                    let tenths = received.saturating_mul(10) / total;
                    if tenths >= next_report && tenths < 10 {
                        cx.info(format!(
                            "{name}: {}% ({} of {})",
                            tenths * 10,
                            mib(received),
                            mib(total)
                        ));
                        next_report = tenths + 1;
                    }
                }
                _ => {
                    let step = 10 * 1024 * 1024;
                    if received / step >= next_report {
                        cx.info(format!("{name}: {} so far", mib(received)));
                        next_report = received / step + 1;
                    }
                }
            }
        }
        if let Some(total) = expected
            && received != total
        {
            return Err(StepError::other(format!(
                "download of {name} from {} was truncated: got {received} of {total} bytes",
                redact(url)
            )));
        }
        out.flush()
            .and_then(|()| out.sync_all())
            .map_err(|e| StepError::io(format!("writing the download of {name}"), e))?;
        cx.info(format!("{name}: 100% ({})", mib(received)));
        let sha256 = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(Downloaded {
            bytes: received,
            sha256,
        })
    }
}

/// An error and its sources, one after the other; reqwest's URL is left out.
fn chain(err: &reqwest::Error) -> String {
    let mut text = String::new();
    let mut current: Option<&dyn std::error::Error> = None;
    let stripped = format!("{}", StrippedUrl(err));
    text.push_str(&stripped);
    if let Some(source) = std::error::Error::source(err) {
        current = Some(source);
    }
    while let Some(e) = current {
        let s = e.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        current = e.source();
    }
    text
}

/// reqwest's `Display` appends ` for url (…)`; this shows the rest.
struct StrippedUrl<'a>(&'a reqwest::Error);

impl std::fmt::Display for StrippedUrl<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let full = self.0.to_string();
        let cut = full.find(" for url (").unwrap_or(full.len());
        f.write_str(&full[..cut])
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}
