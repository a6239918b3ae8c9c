//! Client for the 3scale Account Management API, as the function uses it: a token revokes
//! itself (`tokens`); with a maintenance token, the failed webhook deliveries are read and
//! deleted (`webhook_failures`) and an application's token fields cleared (`applications`).
//! `answers` says what porta's answers mean, purely.

pub mod answers;
pub mod applications;
pub mod fields_definitions;
pub mod maintenance;
pub mod personal_tokens;
pub mod tokens;
pub mod web_hooks;
pub mod webhook_failures;

pub use answers::Probe;
pub use applications::{ApplicationRef, ApplicationsApi, FieldClearing};
pub use fields_definitions::{FieldsDefinition, FieldsDefinitionsApi, NewField};
pub use maintenance::MaintenanceError;
pub use personal_tokens::{CreatedToken, NewToken, PersonalTokensApi, TokenInfo};
pub use tokens::{Revocation, Step, TokenApi, TokenId, TokenToRevoke, Verdict, tokens_url};
pub use web_hooks::{WebHooksApi, WebhookPing, WebhookSettings};
pub use webhook_failures::{FailuresListing, WebhookFailure, WebhookFailuresApi};

use crate::sensitive::AccessToken;
use answers::{MAX_ERROR_BODY, TokenAnswer, classify};
use backon::{ExponentialBuilder, Retryable as _};
use reqwest::{Method, StatusCode, Url, header};
use std::time::Duration;
use tokio::time::Instant;

/// The admin API as the function uses it: the handler and the sweep are generic over it, so a
/// test or the fuzz harness can put a stand-in in its place.
pub trait AdminApi: TokenApi + PersonalTokensApi + WebhookFailuresApi + ApplicationsApi {}

impl<T: TokenApi + PersonalTokensApi + WebhookFailuresApi + ApplicationsApi> AdminApi for T {}

/// How long and how often to try; keep `total` well under the Lambda timeout.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts per call, the first one included.
    pub attempts: usize,
    /// Time allowed to connect.
    pub connect_timeout: Duration,
    /// Time allowed for one whole attempt.
    pub attempt_timeout: Duration,
    /// First backoff delay; it doubles, with jitter.
    pub first_delay: Duration,
    /// Longest single backoff delay.
    pub max_delay: Duration,
    /// Hard limit on every call, attempt and delay of one revocation together.
    pub total: Duration,
}

impl Default for RetryPolicy {
    /// Three attempts per call, at most 8 s per revocation (and 8 s per field clear), so a
    /// delivery ends well inside API Gateway's 30 s (`http_edge`'s tests hold it to that).
    fn default() -> Self {
        Self {
            attempts: 3,
            connect_timeout: Duration::from_secs(2),
            attempt_timeout: Duration::from_secs(3),
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(1),
            total: Duration::from_secs(8),
        }
    }
}

/// The reqwest client for the 3scale admin portal.
#[derive(Debug, Clone)]
pub struct AdminApiClient {
    http: reqwest::Client,
    retry: RetryPolicy,
}

/// One call to porta: what to send, with which token (none for the Ping probe).
struct Call<'a> {
    method: Method,
    url: Url,
    token: Option<&'a AccessToken>,
    /// Content type and body.
    body: Option<(&'static str, String)>,
    body_limit: usize,
    /// Whether a transient failure is tried again.
    retried: bool,
    /// This call's time per attempt, when not the client's.
    attempt_timeout: Option<Duration>,
}

impl<'a> Call<'a> {
    /// A call with no body whose answer is read up to [`MAX_ERROR_BODY`].
    fn new(method: Method, url: Url, token: &'a AccessToken) -> Self {
        Self {
            token: Some(token),
            ..Self::anonymous(method, url)
        }
    }

    /// A call with no credentials at all.
    fn anonymous(method: Method, url: Url) -> Self {
        Self {
            method,
            url,
            token: None,
            body: None,
            body_limit: MAX_ERROR_BODY,
            retried: true,
            attempt_timeout: None,
        }
    }

    /// Reads up to `limit` bytes of a 2xx answer.
    fn reading(mut self, limit: usize) -> Self {
        self.body_limit = limit;
        self
    }

    /// One attempt only: for a call whose lost answer must not be repeated.
    fn once(mut self) -> Self {
        self.retried = false;
        self
    }

    /// Allows each attempt `timeout` instead of the client's per-attempt time.
    fn patient(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }

    /// Sends `form` as `application/x-www-form-urlencoded`.
    fn with_form(mut self, form: String) -> Self {
        self.body = Some(("application/x-www-form-urlencoded", form));
        self
    }

    /// Sends `json` as `application/json`.
    fn with_json(mut self, json: String) -> Self {
        self.body = Some(("application/json", json));
        self
    }
}

/// One answer from porta: its status and the start of its body.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    body: Vec<u8>,
    /// The body was longer than the call's limit and was cut.
    truncated: bool,
}

impl Answer {
    fn meaning(&self) -> TokenAnswer {
        classify(self.status.as_u16(), &self.body)
    }
}

/// A failure worth another attempt.
#[derive(Debug)]
struct Transient {
    reason: String,
    status: Option<u16>,
    retry_after: Option<Duration>,
}

impl AdminApiClient {
    /// Builds the HTTP client once per cold start.
    pub fn new(retry: RetryPolicy) -> Result<Self, reqwest::Error> {
        crate::tls::install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(retry.connect_timeout)
            .timeout(retry.attempt_timeout)
            // A redirect would turn DELETE into GET, or carry the token to another host.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("access-token-revoker/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { http, retry })
    }

    /// One call, retried on transient failures until `deadline`.
    async fn call(&self, call: &Call<'_>, deadline: Instant) -> Result<Answer, Transient> {
        let policy = self.retry;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(policy.first_delay)
            .with_max_delay(policy.max_delay)
            .with_max_times(if call.retried {
                policy.attempts.saturating_sub(1)
            } else {
                0
            })
            .with_jitter();
        let attempts = (|| self.attempt(call))
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .adjust(move |err: &Transient, next| {
                // Honour Retry-After, but never wait past our own deadline: 3scale retries later.
                let wait = match (err.retry_after, next) {
                    (Some(asked), Some(_)) => asked,
                    (_, next) => next?,
                };
                let left = deadline.saturating_duration_since(Instant::now());
                (wait < left).then_some(wait)
            })
            .notify(|err: &Transient, wait| {
                tracing::warn!(reason = %err.reason, retry_in_ms = wait.as_millis() as u64, "admin API call failed; retrying");
            });
        match tokio::time::timeout_at(deadline, attempts).await {
            Ok(answer) => answer,
            Err(_) => Err(Transient {
                reason: "no answer in the time allowed".to_owned(),
                status: None,
                retry_after: None,
            }),
        }
    }

    async fn attempt(&self, call: &Call<'_>) -> Result<Answer, Transient> {
        let mut request = self
            .http
            .request(call.method.clone(), call.url.clone())
            .header(header::ACCEPT, "application/json");
        if let Some(timeout) = call.attempt_timeout {
            request = request.timeout(timeout);
        }
        if let Some(token) = call.token {
            // porta reads the Basic user name or password; it does not understand Bearer.
            request = request.basic_auth(token.expose(), None::<&str>);
        }
        if let Some((content_type, body)) = &call.body {
            request = request
                .header(header::CONTENT_TYPE, *content_type)
                .body(body.clone());
        }
        let mut response = request.send().await.map_err(|err| Transient {
            // reqwest's Display would include the URL, and with it perhaps the token.
            reason: describe(&err),
            status: None,
            retry_after: None,
        })?;
        let status = response.status();
        let limit = if status.is_success() {
            call.body_limit
        } else {
            MAX_ERROR_BODY
        };
        let (body, truncated) =
            read_limited(&mut response, limit)
                .await
                .map_err(|err| Transient {
                    reason: describe(&err),
                    status: Some(status.as_u16()),
                    retry_after: None,
                })?;
        let answer = Answer {
            status,
            body,
            truncated,
        };
        if answer.meaning() == TokenAnswer::Transient {
            return Err(Transient {
                reason: format!("admin API answered {}", status.as_u16()),
                status: Some(status.as_u16()),
                retry_after: retry_after(response.headers()),
            });
        }
        Ok(answer)
    }
}

/// Up to `limit` bytes of the body, and whether there was more; never logged or returned.
async fn read_limited(
    response: &mut reqwest::Response,
    limit: usize,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

fn retry_after(headers: &header::HeaderMap) -> Option<Duration> {
    headers
        .get(header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

fn describe(err: &reqwest::Error) -> String {
    format!("admin API {}", failure_kind(err))
}

/// What went wrong, in words that hold no URL.
fn failure_kind(err: &reqwest::Error) -> &'static str {
    if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else if err.is_request() {
        "request failed"
    } else {
        "transport error"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_only() {
        let mut headers = header::HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(header::RETRY_AFTER, header::HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(
            header::RETRY_AFTER,
            header::HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), None);
    }
}
