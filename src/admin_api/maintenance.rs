//! What the maintenance token's calls share: what porta's refusals mean for them, and the
//! admin API's URLs. The calls themselves are in `webhook_failures` and `applications`; the
//! maintenance token never revokes a token.

use super::answers::{self, TokenAnswer};
use super::{AdminApiClient, Answer, Transient};
use reqwest::Url;
use tokio::time::Instant;

/// Why a maintenance call did not do its job; never quotes porta's body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MaintenanceError {
    /// 403 Access denied.
    #[error(
        "the maintenance token is refused (revoked, expired, or admin_url is not the tenant's admin portal)"
    )]
    Refused,
    /// 403 `{"status":"Forbidden"}` from CanCan.
    #[error(
        "the maintenance token's user may not do this: it must be an admin, with webhooks allowed"
    )]
    NotAllowed,
    /// 403 naming permissions.
    #[error("the maintenance token lacks the Account Management API scope or Read & Write")]
    NotPermitted,
    /// 404.
    #[error("the admin API answered 404: check admin_url, or the application no longer exists")]
    NotFound,
    /// Another status that a retry cannot change.
    #[error("the admin API answered {0}")]
    UnexpectedStatus(u16),
    /// 422: porta refused what was sent; the fields it named.
    #[error("3scale refused the request as invalid (fields: {})", .0.join(", "))]
    Unprocessable(Vec<String>),
    /// A 2xx whose body is not what porta sends.
    #[error("the admin API's answer could not be read: {0}")]
    Unreadable(&'static str),
    /// An id or time that cannot go into a URL.
    #[error("{0}")]
    BadInput(&'static str),
    /// Unreachable, slow or failing after every attempt.
    #[error("{0}")]
    Unavailable(String),
}

impl From<Transient> for MaintenanceError {
    fn from(err: Transient) -> Self {
        Self::Unavailable(err.reason)
    }
}

/// Turns a non-2xx answer into the reason, or lets a 2xx through.
pub(super) fn done(answer: Answer) -> Result<Answer, MaintenanceError> {
    match answer.meaning() {
        TokenAnswer::Done => Ok(answer),
        TokenAnswer::Dead => Err(MaintenanceError::Refused),
        TokenAnswer::NotPermitted => Err(MaintenanceError::NotPermitted),
        TokenAnswer::NotFound => Err(MaintenanceError::NotFound),
        _ if answer.status.as_u16() == 403 && answers::is_cancan_denial(&answer.body) => {
            Err(MaintenanceError::NotAllowed)
        }
        _ => Err(MaintenanceError::UnexpectedStatus(answer.status.as_u16())),
    }
}

/// Like [`done`] for a write: a 422 names the fields porta refused.
pub(super) fn written(answer: Answer) -> Result<Answer, MaintenanceError> {
    if answer.status.as_u16() == 422 {
        return Err(MaintenanceError::Unprocessable(answers::invalid_fields(
            &answer.body,
        )));
    }
    done(answer)
}

/// `{admin_url}/admin/api/{segments…}`.
pub(super) fn admin_api_url(admin_url: &Url, segments: &[&str]) -> Result<Url, MaintenanceError> {
    let mut url = admin_url.clone();
    url.path_segments_mut()
        .map_err(|()| MaintenanceError::BadInput("admin_url cannot take a path"))?
        .pop_if_empty()
        .extend(["admin", "api"])
        .extend(segments);
    Ok(url)
}

impl AdminApiClient {
    pub(super) fn deadline(&self) -> Instant {
        Instant::now() + self.retry.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_stay_under_the_admin_api() {
        let base = Url::parse("https://acme-admin.3scale.net/prefix/").expect("url");
        let url = admin_api_url(&base, &["accounts", "7", "applications", "9.json"]).expect("url");
        assert_eq!(
            url.as_str(),
            "https://acme-admin.3scale.net/prefix/admin/api/accounts/7/applications/9.json"
        );
        let url = admin_api_url(&base, &["webhooks", "../../x"]).expect("url");
        assert_eq!(url.path(), "/prefix/admin/api/webhooks/..%2F..%2Fx");
    }
}
