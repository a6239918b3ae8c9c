//! Client for the 3scale personal access token API: a verified revocation.
//!
//! The token authenticates itself (HTTP Basic, empty password), is deleted by its id when one
//! is known, and must fail to authenticate afterwards before anyone is told it is revoked.

pub mod answers;

use crate::config::AdminPortal;
use crate::sensitive::AccessToken;
use answers::{MAX_ERROR_BODY, MAX_LISTING_BODY, TokenAnswer, classify};
use backon::{ExponentialBuilder, Retryable as _};
use reqwest::{Method, StatusCode, Url, header};
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// A personal access token's numeric id, as 3scale's create-token answer gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenId(pub u64);

/// The token to revoke, and its id when the event carries one.
#[derive(Debug, Clone, Copy)]
pub struct TokenToRevoke<'a> {
    /// The token, which also authenticates every call.
    pub value: &'a AccessToken,
    /// Its id: then the DELETE names the id and the token appears in no URL.
    pub id: Option<TokenId>,
}

/// What became of a revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Deleted, and the token no longer authenticates.
    Revoked,
    /// porta refused the token before anything was deleted: it was already dead.
    AlreadyRevoked,
    /// The token is alive but lacks the `account_management` scope or write permission.
    NotRevocable,
    /// The value starts with the id of another of the caller's tokens; nothing was sent.
    Ambiguous,
    /// porta answered the DELETE with 2xx, yet the token still authenticates.
    NotVerified,
    /// An answer a retry cannot change and that proves nothing: 404, another 3xx/4xx.
    Rejected,
    /// The admin portal was unreachable, slow, throttling or failing after every attempt.
    Unavailable(String),
}

/// Which call of a revocation gave the deciding answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// `GET …/access_tokens.json` before deleting, to rule out an id clash.
    List,
    /// `DELETE …/access_tokens/{id or value}.json`.
    Delete,
    /// `GET …/access_tokens.json` after deleting, which must be refused.
    Verify,
}

impl Step {
    /// The name used in the audit line.
    pub fn name(self) -> &'static str {
        match self {
            Self::List => "list",
            Self::Delete => "delete",
            Self::Verify => "verify",
        }
    }
}

/// A verdict with the evidence the audit line reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    /// What became of the token.
    pub verdict: Verdict,
    /// The call whose answer decided it.
    pub step: Step,
    /// porta's status on that call, if it answered.
    pub status: Option<u16>,
    /// Whether the DELETE named the id rather than the value.
    pub by_id: bool,
    /// Time spent talking to the admin API, retries included.
    pub elapsed: Duration,
}

/// Revokes personal access tokens; the handler is generic over it so tests can swap it.
pub trait TokenRevoker: Send + Sync {
    /// Revokes `token` on `portal` and checks it is dead, within a bounded time.
    fn revoke(
        &self,
        portal: &AdminPortal,
        token: TokenToRevoke<'_>,
    ) -> impl Future<Output = Revocation> + Send;
}

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
    /// Three attempts per call, at most 8 s per revocation, for a 15 s Lambda timeout.
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

/// One answer from porta: its status and the start of its body.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    body: Vec<u8>,
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

/// Where a revocation stopped early, with its evidence.
struct Stop {
    step: Step,
    verdict: Verdict,
    status: Option<u16>,
}

impl Stop {
    fn at(step: Step, verdict: Verdict, status: Option<u16>) -> Self {
        Self {
            step,
            verdict,
            status,
        }
    }

    fn unavailable(step: Step) -> impl FnOnce(Transient) -> Self {
        move |err| Self::at(step, Verdict::Unavailable(err.reason), err.status)
    }

    fn no_path(step: Step) -> impl FnOnce() -> Self {
        move || {
            Self::at(
                step,
                Verdict::Unavailable("admin_url cannot take a path".to_owned()),
                None,
            )
        }
    }
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
    async fn call(
        &self,
        method: Method,
        url: &Url,
        token: &AccessToken,
        body_limit: usize,
        deadline: Instant,
    ) -> Result<Answer, Transient> {
        let policy = self.retry;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(policy.first_delay)
            .with_max_delay(policy.max_delay)
            .with_max_times(policy.attempts.saturating_sub(1))
            .with_jitter();
        let attempts = (|| self.attempt(method.clone(), url, token, body_limit))
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
                reason: format!("no answer within {} ms", policy.total.as_millis()),
                status: None,
                retry_after: None,
            }),
        }
    }

    async fn attempt(
        &self,
        method: Method,
        url: &Url,
        token: &AccessToken,
        body_limit: usize,
    ) -> Result<Answer, Transient> {
        let mut response = self
            .http
            .request(method, url.clone())
            // porta reads the Basic user name or password; it does not understand Bearer.
            .basic_auth(token.expose(), None::<&str>)
            .header(header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|err| Transient {
                // reqwest's Display would include the URL, and with it perhaps the token.
                reason: describe(&err),
                status: None,
                retry_after: None,
            })?;
        let status = response.status();
        let limit = if status.is_success() {
            body_limit
        } else {
            MAX_ERROR_BODY
        };
        // Read no more than the limit; the body is never logged or returned.
        let mut body = Vec::new();
        while body.len() < limit {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(err) => {
                    return Err(Transient {
                        reason: describe(&err),
                        status: Some(status.as_u16()),
                        retry_after: None,
                    });
                }
            }
        }
        body.truncate(limit);
        let answer = Answer { status, body };
        if answer.meaning() == TokenAnswer::Transient {
            return Err(Transient {
                reason: format!("admin API answered {}", status.as_u16()),
                status: Some(status.as_u16()),
                retry_after: retry_after(response.headers()),
            });
        }
        Ok(answer)
    }

    /// Lists the caller's tokens (`GET …/access_tokens.json`), retrying transient failures.
    async fn list(
        &self,
        step: Step,
        portal: &AdminPortal,
        token: &AccessToken,
        deadline: Instant,
    ) -> Result<Answer, Stop> {
        let url = tokens_url(portal.admin_url(), None).ok_or_else(Stop::no_path(step))?;
        self.call(Method::GET, &url, token, MAX_LISTING_BODY, deadline)
            .await
            .map_err(Stop::unavailable(step))
    }

    /// Rules out the id clash of `find_from_id_or_value!` before a DELETE by value.
    async fn check_no_id_clash(
        &self,
        portal: &AdminPortal,
        token: &AccessToken,
        deadline: Instant,
    ) -> Result<(), Stop> {
        // No token has id 0, so a value that reads as 0 cannot clash.
        let Some(clash) = answers::id_rails_would_read(token.expose()).filter(|id| *id != 0) else {
            return Ok(());
        };
        let answer = self.list(Step::List, portal, token, deadline).await?;
        let stop = |verdict| Err(Stop::at(Step::List, verdict, Some(answer.status.as_u16())));
        match answer.meaning() {
            TokenAnswer::Done => match answers::token_ids(&answer.body) {
                Ok(ids) if ids.contains(&clash) => stop(Verdict::Ambiguous),
                Ok(_) => Ok(()),
                Err(_) => stop(Verdict::Rejected),
            },
            other => stop(verdict_before_delete(other)),
        }
    }

    /// List if needed, delete, verify; `Ok` carries the verifying answer's status.
    async fn verified_revocation(
        &self,
        portal: &AdminPortal,
        token: TokenToRevoke<'_>,
        deadline: Instant,
    ) -> Result<Option<u16>, Stop> {
        if token.id.is_none() {
            self.check_no_id_clash(portal, token.value, deadline)
                .await?;
        }

        let url =
            tokens_url(portal.admin_url(), Some(token)).ok_or_else(Stop::no_path(Step::Delete))?;
        let deleted = self
            .call(Method::DELETE, &url, token.value, MAX_ERROR_BODY, deadline)
            .await
            .map_err(Stop::unavailable(Step::Delete))?;
        match deleted.meaning() {
            TokenAnswer::Done => {}
            other => {
                let status = Some(deleted.status.as_u16());
                return Err(Stop::at(Step::Delete, verdict_before_delete(other), status));
            }
        }

        // porta said it deleted something; only a refused token proves it was this one.
        let check = self
            .list(Step::Verify, portal, token.value, deadline)
            .await?;
        let status = Some(check.status.as_u16());
        match check.meaning() {
            TokenAnswer::Dead => Ok(status),
            _ => Err(Stop::at(Step::Verify, Verdict::NotVerified, status)),
        }
    }
}

impl TokenRevoker for AdminApiClient {
    async fn revoke(&self, portal: &AdminPortal, token: TokenToRevoke<'_>) -> Revocation {
        let started = Instant::now();
        let deadline = started + self.retry.total;
        let stop = match self.verified_revocation(portal, token, deadline).await {
            Ok(status) => Stop::at(Step::Verify, Verdict::Revoked, status),
            Err(stop) => stop,
        };
        let Stop {
            step,
            verdict,
            status,
        } = stop;
        Revocation {
            verdict,
            step,
            status,
            by_id: token.id.is_some(),
            elapsed: started.elapsed(),
        }
    }
}

/// What an answer to the listing or the DELETE means when nothing has been deleted yet.
fn verdict_before_delete(answer: TokenAnswer) -> Verdict {
    match answer {
        TokenAnswer::Dead => Verdict::AlreadyRevoked,
        TokenAnswer::NotPermitted => Verdict::NotRevocable,
        TokenAnswer::Done | TokenAnswer::NotFound | TokenAnswer::Unexpected => Verdict::Rejected,
        TokenAnswer::Transient => Verdict::Unavailable("admin API failing".to_owned()),
    }
}

/// `{admin_url}/admin/api/personal/access_tokens.json`, or `…/{id or value}.json` for a token.
///
/// Segments are pushed through `Url`, which percent-encodes them; raw input is never spliced in.
pub fn tokens_url(admin_url: &Url, token: Option<TokenToRevoke<'_>>) -> Option<Url> {
    let mut url = admin_url.clone();
    {
        let mut segments = url.path_segments_mut().ok()?;
        segments.pop_if_empty().extend(["admin", "api", "personal"]);
        match token {
            None => segments.push("access_tokens.json"),
            Some(TokenToRevoke { id: Some(id), .. }) => segments
                .push("access_tokens")
                .push(&format!("{}.json", id.0)),
            Some(TokenToRevoke { value, id: None }) => segments
                .push("access_tokens")
                .push(&format!("{}.json", value.expose())),
        };
    }
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
    fn urls_are_built_from_segments() {
        let token = AccessToken::parse("abc_DEF-123").expect("valid");
        let by_value = TokenToRevoke {
            value: &token,
            id: None,
        };
        let by_id = TokenToRevoke {
            value: &token,
            id: Some(TokenId(42)),
        };
        for base in [
            "https://acme-admin.3scale.net",
            "https://acme-admin.3scale.net/",
        ] {
            let base = Url::parse(base).expect("url");
            let url = tokens_url(&base, Some(by_value)).expect("path");
            assert_eq!(
                url.as_str(),
                "https://acme-admin.3scale.net/admin/api/personal/access_tokens/abc_DEF-123.json"
            );
            let url = tokens_url(&base, Some(by_id)).expect("path");
            assert_eq!(
                url.as_str(),
                "https://acme-admin.3scale.net/admin/api/personal/access_tokens/42.json"
            );
            let url = tokens_url(&base, None).expect("path");
            assert_eq!(
                url.as_str(),
                "https://acme-admin.3scale.net/admin/api/personal/access_tokens.json"
            );
        }
        let prefixed = Url::parse("https://gw.example.com/3scale/").expect("url");
        let url = tokens_url(&prefixed, Some(by_value)).expect("path");
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
