//! Client for the 3scale Account Management API call that revokes a personal access token.

use crate::config::AdminPortal;
use crate::sensitive::AccessToken;
use backon::{ExponentialBuilder, Retryable as _};
use reqwest::{StatusCode, Url, header};
use std::future::Future;
use std::time::Duration;

/// What became of a revocation request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// 3scale deleted the token (2xx).
    Revoked,
    /// 3scale no longer knows the token (404) or refuses it (401/403): it is already dead.
    AlreadyRevoked(StatusCode),
    /// The call was refused in a way a retry cannot fix (another 3xx/4xx).
    Rejected(StatusCode),
    /// The admin portal was unreachable, slow, throttling or failing after every attempt.
    Unavailable(String),
}

/// Revokes personal access tokens; the handler is generic over it so tests can swap it.
pub trait TokenRevoker: Send + Sync {
    /// Revokes `token` on `portal`, retrying transient failures within a bounded time.
    fn revoke(
        &self,
        portal: &AdminPortal,
        token: &AccessToken,
    ) -> impl Future<Output = Revocation> + Send;
}

/// How long and how often to try; keep `total` well under the Lambda timeout.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included.
    pub attempts: usize,
    /// Time allowed to connect.
    pub connect_timeout: Duration,
    /// Time allowed for one whole attempt.
    pub attempt_timeout: Duration,
    /// First backoff delay; it doubles, with jitter.
    pub first_delay: Duration,
    /// Longest single backoff delay.
    pub max_delay: Duration,
    /// Hard limit on all attempts and delays together.
    pub total: Duration,
}

impl Default for RetryPolicy {
    /// Three attempts in at most 8 s, for a 15 s Lambda timeout.
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

/// A failure worth another attempt.
#[derive(Debug)]
struct Transient {
    reason: String,
    retry_after: Option<Duration>,
}

impl AdminApiClient {
    /// Builds the HTTP client once per cold start.
    pub fn new(retry: RetryPolicy) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(retry.connect_timeout)
            .timeout(retry.attempt_timeout)
            // A redirect would turn DELETE into GET, or carry the token to another host.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("access-token-revoker/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { http, retry })
    }

    async fn attempt(&self, url: &Url) -> Result<Revocation, Transient> {
        let response = self
            .http
            .delete(url.clone())
            .header(header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|err| Transient {
                // reqwest's Display would include the URL, and with it the token.
                reason: describe(&err),
                retry_after: None,
            })?;
        let status = response.status();
        // The body is never read: 3scale may echo the token in it.
        match status {
            s if s.is_success() => Ok(Revocation::Revoked),
            StatusCode::NOT_FOUND | StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                Ok(Revocation::AlreadyRevoked(status))
            }
            StatusCode::TOO_MANY_REQUESTS | StatusCode::REQUEST_TIMEOUT => Err(Transient {
                reason: format!("admin API answered {}", status.as_u16()),
                retry_after: retry_after(response.headers()),
            }),
            s if s.is_server_error() => Err(Transient {
                reason: format!("admin API answered {}", status.as_u16()),
                retry_after: retry_after(response.headers()),
            }),
            _ => Ok(Revocation::Rejected(status)),
        }
    }
}

impl TokenRevoker for AdminApiClient {
    async fn revoke(&self, portal: &AdminPortal, token: &AccessToken) -> Revocation {
        let Some(url) = revoke_url(portal.admin_url(), token) else {
            return Revocation::Unavailable("admin_url cannot take a path".to_owned());
        };
        let policy = self.retry;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(policy.first_delay)
            .with_max_delay(policy.max_delay)
            .with_max_times(policy.attempts.saturating_sub(1))
            .with_jitter();
        let deadline = tokio::time::Instant::now() + policy.total;
        let attempts = (|| self.attempt(&url))
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .adjust(move |err: &Transient, next| {
                // Honour Retry-After, but never wait past our own deadline: 3scale retries later.
                let wait = match (err.retry_after, next) {
                    (Some(asked), Some(_)) => asked,
                    (_, next) => next?,
                };
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                (wait < left).then_some(wait)
            })
            .notify(|err: &Transient, wait| {
                tracing::warn!(reason = %err.reason, retry_in_ms = wait.as_millis() as u64, "revoke attempt failed; retrying");
            });
        match tokio::time::timeout_at(deadline, attempts).await {
            Ok(Ok(revocation)) => revocation,
            Ok(Err(last)) => Revocation::Unavailable(last.reason),
            Err(_) => {
                Revocation::Unavailable(format!("no answer within {} ms", policy.total.as_millis()))
            }
        }
    }
}

/// `{admin_url}/admin/api/personal/access_tokens/{token}.json?access_token={token}`.
///
/// Segments are pushed through `Url`, which percent-encodes them; raw input is never spliced in.
pub fn revoke_url(admin_url: &Url, token: &AccessToken) -> Option<Url> {
    let mut url = admin_url.clone();
    {
        let mut segments = url.path_segments_mut().ok()?;
        segments.pop_if_empty().extend([
            "admin",
            "api",
            "personal",
            "access_tokens",
            &format!("{}.json", token.expose()),
        ]);
    }
    // The personal token API authenticates with the token itself, as a query parameter.
    url.query_pairs_mut()
        .append_pair("access_token", token.expose());
    Some(url)
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
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else if err.is_request() {
        "request failed"
    } else {
        "transport error"
    };
    format!("admin API {kind}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revoke_url_is_built_from_segments() {
        let token = AccessToken::parse("abc_DEF-123").expect("valid");
        for base in [
            "https://acme-admin.3scale.net",
            "https://acme-admin.3scale.net/",
        ] {
            let url = revoke_url(&Url::parse(base).expect("url"), &token).expect("path");
            assert_eq!(
                url.as_str(),
                "https://acme-admin.3scale.net/admin/api/personal/access_tokens/abc_DEF-123.json?access_token=abc_DEF-123"
            );
        }
        let prefixed = Url::parse("https://gw.example.com/3scale/").expect("url");
        let url = revoke_url(&prefixed, &token).expect("path");
        assert_eq!(
            url.path(),
            "/3scale/admin/api/personal/access_tokens/abc_DEF-123.json"
        );
    }

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
