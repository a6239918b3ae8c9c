//! The personal access token API: a verified revocation.
//!
//! The token authenticates itself (HTTP Basic, empty password), is deleted by its id when one
//! is known, and must fail to authenticate afterwards before anyone is told it is revoked.

use super::answers::{self, MAX_LISTING_BODY, Probe, TokenAnswer};
use super::{AdminApiClient, Answer, Call, TlsFailure, Transient};
use crate::portal::AdminPortal;
use crate::sensitive::AccessToken;
use reqwest::{Method, Url};
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// What a single-use token does on its own behalf: revoke itself; and the Ping's probe.
pub trait TokenApi: Send + Sync {
    /// Revokes `token` on `portal` and checks it is dead, within a bounded time.
    fn revoke(
        &self,
        portal: &AdminPortal,
        token: TokenToRevoke<'_>,
    ) -> impl Future<Output = Revocation> + Send;

    /// Asks `portal`, with no token, for the token listing: porta refuses it in its own words,
    /// which proves `admin_url` reaches a 3scale admin API. One attempt, for 3scale's Ping.
    fn probe(&self, portal: &AdminPortal) -> impl Future<Output = Probe> + Send;
}

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
    Inconclusive,
    /// The admin portal was unreachable, slow, throttling or failing after every attempt.
    Unavailable(String),
    /// TLS with the admin portal failed; not retried, since it would fail the same way.
    TlsFailed(TlsFailure),
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
        move |err| match err.tls {
            Some(tls) => Self::at(step, Verdict::TlsFailed(tls), None),
            None => Self::at(step, Verdict::Unavailable(err.reason), err.status),
        }
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
    /// Lists the caller's tokens (`GET …/access_tokens.json`), retrying transient failures.
    async fn list(
        &self,
        step: Step,
        portal: &AdminPortal,
        token: &AccessToken,
        deadline: Instant,
    ) -> Result<Answer, Stop> {
        let url = tokens_url(portal.admin_url(), None).ok_or_else(Stop::no_path(step))?;
        let call = Call::new(Method::GET, url, token).reading(MAX_LISTING_BODY);
        self.call(portal, &call, deadline)
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
                Err(_) => stop(Verdict::Inconclusive),
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
            .call(
                portal,
                &Call::new(Method::DELETE, url, token.value),
                deadline,
            )
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

impl TokenApi for AdminApiClient {
    /// One unauthenticated `GET …/access_tokens.json`, within the client's per-attempt timeouts.
    async fn probe(&self, portal: &AdminPortal) -> Probe {
        let Some(url) = tokens_url(portal.admin_url(), None) else {
            return Probe::NotAdminApi("was not sent: admin_url cannot take a path".to_owned());
        };
        match self
            .attempt(portal, &Call::anonymous(Method::GET, url))
            .await
        {
            Ok(answer) => answers::probe(answer.status.as_u16(), &answer.body),
            Err(Transient { tls: Some(tls), .. }) => Probe::TlsFailed(tls),
            Err(failed) => Probe::Unreachable(failed.reason),
        }
    }

    /// List if needed, delete, verify: the whole revocation, with its evidence.
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
        TokenAnswer::Done | TokenAnswer::NotFound | TokenAnswer::Unexpected => {
            Verdict::Inconclusive
        }
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
}
