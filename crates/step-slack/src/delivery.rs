//! Posting a [`Payload`] to a webhook, reliably and without leaking it.
//!
//! One request at a time, each bounded by a timeout. A 429 waits for the
//! `Retry-After` seconds Slack asks for; a 5xx, a timeout or a connection
//! error waits a delay that doubles with each retry (bounded by
//! [`MAX_RETRY_DELAY`]); any other 4xx is final, because retrying a rejected
//! message only repeats the rejection. Redirects are not followed: a webhook
//! never redirects, and following one would send the message elsewhere.
//!
//! The webhook URL is a secret, and reqwest's errors include the URL: every
//! error is stripped of it (`without_url`) and the text that is left is
//! masked once more against every form of the URL before it leaves here.

use std::time::Duration;

use reqwest::{StatusCode, Url};
use step_core::backoff::{Backoff, sleep_unless_cancelled};
use step_core::{Cancel, Env, Masker};

use crate::config::WebhookUrl;
use crate::payload::Payload;

/// The longest wait between two attempts after a 5xx, timeout or connection error.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);
/// The longest `Retry-After` honoured; a longer one ends the attempts (waiting
/// minutes in an after-step helps nobody).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// How much of an error response's body is quoted in a message.
const MAX_BODY_CHARS: usize = 200;

/// The seconds of a `Retry-After: N` header. A number too large for a
/// `u64` saturates (it is past any deadline, so the retries stop) rather
/// than being mistaken for a missing header.
pub fn parse_retry_after(value: &str) -> Option<u64> {
    let v = value.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(v.parse::<u64>().unwrap_or(u64::MAX))
}

/// How hard to try.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub retries: u32,
    /// The limit for one request.
    pub timeout: Duration,
    /// The first wait before a retry; doubled for each further one.
    pub retry_delay: Duration,
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1-based) when the server did
    /// not say how long to wait.
    pub fn backoff(&self, retry: u32) -> Duration {
        Backoff::doubling(self.retry_delay)
            .capped(MAX_RETRY_DELAY)
            .delay(retry)
    }
}

/// A message that arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// How many requests it took.
    pub attempts: u32,
    /// The final HTTP status.
    pub status: u16,
}

/// Why a message did not arrive. No variant holds the webhook URL.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// HTTP 404: the webhook does not exist (deleted, or a wrong URL).
    #[error("webhook URL not found (HTTP 404): the webhook was removed or the URL is wrong")]
    NotFound,
    /// Another 4xx: Slack refused the message; retrying would not help.
    #[error("Slack rejected the message: {0}")]
    Rejected(String),
    /// Every attempt failed with something worth retrying.
    #[error("no success after {attempts} attempt{}; last: {last}", if *attempts == 1 { "" } else { "s" })]
    GaveUp {
        /// How many requests were made.
        attempts: u32,
        /// What the last one got.
        last: String,
    },
    /// Slack asked to wait longer than [`MAX_RETRY_AFTER`].
    #[error("rate limited: Slack asked to retry after {secs}s, longer than the {}s this step waits", MAX_RETRY_AFTER.as_secs())]
    RetryAfterTooLong {
        /// What `Retry-After` said.
        secs: u64,
    },
    /// The HTTP client could not be set up (a bad proxy setting).
    #[error("could not set up the HTTP client: {0}")]
    Client(String),
    /// The run was cancelled while sending or waiting.
    #[error("cancelled")]
    Cancelled,
}

/// A webhook to post to: the parsed URL, an HTTP client honouring the
/// policy's timeout, and a masker for every form of the URL.
pub struct Webhook {
    url: Url,
    client: reqwest::Client,
    policy: RetryPolicy,
    masker: Masker,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("url", &"***")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// What one attempt got, when it is worth another try.
enum Retryable {
    RateLimited { retry_after: Option<u64> },
    Status(String),
    Failed(String),
}

impl Retryable {
    fn describe(&self) -> String {
        match self {
            Retryable::RateLimited { .. } => "rate limited (HTTP 429)".to_string(),
            Retryable::Status(s) | Retryable::Failed(s) => s.clone(),
        }
    }
}

impl Webhook {
    /// A webhook for this URL. Proxies come from the step's environment
    /// (`HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` and `NO_PROXY`, either case),
    /// not from the process's, so a context's environment is the whole truth.
    pub fn new(url: &WebhookUrl, policy: RetryPolicy, env: &Env) -> Result<Webhook, DeliveryError> {
        let masker = Masker::new(url.secret_forms());
        let parsed = url
            .parse()
            .map_err(|e| DeliveryError::Client(masker.mask(&e.to_string()).into_owned()))?;
        let mut builder = reqwest::Client::builder()
            .timeout(policy.timeout)
            .connect_timeout(policy.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("stepwise-slack/", env!("CARGO_PKG_VERSION")))
            .no_proxy();
        if let Some(proxy) = proxy_from(env, parsed.scheme())? {
            builder = builder.proxy(proxy);
        }
        let client = builder.build().map_err(|e| {
            DeliveryError::Client(masker.mask(&error_chain(e.without_url())).into_owned())
        })?;
        Ok(Webhook {
            url: parsed,
            client,
            policy,
            masker,
        })
    }

    /// The policy in use.
    pub fn policy(&self) -> RetryPolicy {
        self.policy
    }

    /// Posts the payload as JSON, retrying as the policy allows.
    /// `on_retry` hears, before each wait, what went wrong and how long the
    /// wait is (for a log line); its text never holds the URL. Returns how
    /// many requests were made alongside the result.
    pub async fn post(
        &self,
        payload: &Payload,
        cancel: &Cancel,
        mut on_retry: impl FnMut(&str),
    ) -> (u32, Result<Delivery, DeliveryError>) {
        let total = self.policy.retries.saturating_add(1);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let outcome = tokio::select! {
                biased;
                _ = cancel.cancelled() => return (attempt, Err(DeliveryError::Cancelled)),
                outcome = self.attempt(payload) => outcome,
            };
            let retryable = match outcome {
                Ok(Ok(status)) => {
                    return (
                        attempt,
                        Ok(Delivery {
                            attempts: attempt,
                            status,
                        }),
                    );
                }
                Ok(Err(final_error)) => return (attempt, Err(final_error)),
                Err(retryable) => retryable,
            };
            if attempt >= total {
                return (
                    attempt,
                    Err(DeliveryError::GaveUp {
                        attempts: attempt,
                        last: retryable.describe(),
                    }),
                );
            }
            let wait = match retryable {
                Retryable::RateLimited {
                    retry_after: Some(secs),
                } => {
                    if Duration::from_secs(secs) > MAX_RETRY_AFTER {
                        return (attempt, Err(DeliveryError::RetryAfterTooLong { secs }));
                    }
                    Duration::from_secs(secs)
                }
                _ => self.policy.backoff(attempt),
            };
            on_retry(&format!(
                "Slack webhook: {}; retrying in {} (attempt {} of {total})",
                retryable.describe(),
                format_wait(wait),
                attempt + 1
            ));
            if sleep_unless_cancelled(cancel, wait).await.is_err() {
                return (attempt, Err(DeliveryError::Cancelled));
            }
        }
    }

    /// One request. `Ok(Ok(status))` arrived, `Ok(Err(_))` is final,
    /// `Err(_)` is worth a retry.
    async fn attempt(&self, payload: &Payload) -> Result<Result<u16, DeliveryError>, Retryable> {
        let response = match self
            .client
            .post(self.url.clone())
            .json(payload)
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => return Err(Retryable::Failed(self.describe_error(e))),
        };
        let status = response.status();
        if status.is_success() {
            return Ok(Ok(status.as_u16()));
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body = self.body_excerpt(response).await;
        let what = match &body {
            Some(b) => format!("HTTP {} ({b})", status_text(status)),
            None => format!("HTTP {}", status_text(status)),
        };
        match status {
            StatusCode::NOT_FOUND => Ok(Err(DeliveryError::NotFound)),
            StatusCode::TOO_MANY_REQUESTS => Err(Retryable::RateLimited { retry_after }),
            s if s.is_server_error() => Err(Retryable::Status(what)),
            _ => Ok(Err(DeliveryError::Rejected(what))),
        }
    }

    /// The start of an error response's body on one line (Slack answers
    /// `invalid_payload`, `channel_not_found` and the like), masked.
    async fn body_excerpt(&self, mut response: reqwest::Response) -> Option<String> {
        let mut bytes = Vec::new();
        // Read only what is quoted: a hostile or broken server may send a lot.
        while bytes.len() < MAX_BODY_CHARS * 4 {
            match response.chunk().await {
                Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
                _ => break,
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if one_line.is_empty() {
            return None;
        }
        let mut excerpt: String = one_line.chars().take(MAX_BODY_CHARS).collect();
        if one_line.chars().count() > MAX_BODY_CHARS {
            excerpt.push('…');
        }
        Some(self.masker.mask(&excerpt).into_owned())
    }

    /// A reqwest error as text without the URL: what kind of failure, and its causes.
    fn describe_error(&self, e: reqwest::Error) -> String {
        let text = if e.is_timeout() {
            format!("no answer within {}", format_wait(self.policy.timeout))
        } else if e.is_connect() {
            format!("could not connect: {}", error_chain(e.without_url()))
        } else {
            error_chain(e.without_url())
        };
        self.masker.mask(&text).into_owned()
    }
}

/// An error and its sources, joined with `: `, skipping repeats.
fn error_chain(e: reqwest::Error) -> String {
    let mut parts: Vec<String> = vec![e.to_string()];
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

fn status_text(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

fn format_wait(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// The proxy for `scheme` from the step's environment, if one is set.
fn proxy_from(env: &Env, scheme: &str) -> Result<Option<reqwest::Proxy>, DeliveryError> {
    let get = |names: &[&str]| {
        names
            .iter()
            .filter_map(|n| env.get(n))
            .map(str::trim)
            .find(|v| !v.is_empty())
            .map(str::to_string)
    };
    let (name, value) = match scheme {
        "https" => match get(&["HTTPS_PROXY", "https_proxy"]) {
            Some(v) => ("HTTPS_PROXY", v),
            None => match get(&["ALL_PROXY", "all_proxy"]) {
                Some(v) => ("ALL_PROXY", v),
                None => return Ok(None),
            },
        },
        _ => match get(&["HTTP_PROXY", "http_proxy"]) {
            Some(v) => ("HTTP_PROXY", v),
            None => match get(&["ALL_PROXY", "all_proxy"]) {
                Some(v) => ("ALL_PROXY", v),
                None => return Ok(None),
            },
        },
    };
    // A proxy URL may carry a password: the error names the variable, not the value.
    let proxy = reqwest::Proxy::all(&value)
        .map_err(|_| DeliveryError::Client(format!("{name} is not a valid proxy URL")))?;
    let no_proxy = get(&["NO_PROXY", "no_proxy"]).and_then(|v| reqwest::NoProxy::from_string(&v));
    Ok(Some(proxy.no_proxy(no_proxy)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_bounded() {
        let p = RetryPolicy {
            retries: 10,
            timeout: Duration::from_secs(1),
            retry_delay: Duration::from_millis(500),
        };
        assert_eq!(p.backoff(1), Duration::from_millis(500));
        assert_eq!(p.backoff(2), Duration::from_secs(1));
        assert_eq!(p.backoff(3), Duration::from_secs(2));
        assert_eq!(p.backoff(40), MAX_RETRY_DELAY);
    }

    #[test]
    fn a_bad_proxy_is_named_without_its_value() {
        let mut env = Env::new();
        env.set("HTTPS_PROXY", "http://user:pw-secret@[bad");
        let url = WebhookUrl::new("https://hooks.example/services/T/B/tokentokentoken");
        let policy = RetryPolicy {
            retries: 0,
            timeout: Duration::from_secs(1),
            retry_delay: Duration::from_secs(1),
        };
        let err = Webhook::new(&url, policy, &env).unwrap_err().to_string();
        assert!(err.contains("HTTPS_PROXY"), "{err}");
        assert!(!err.contains("pw-secret"), "{err}");
    }
}
