//! What the maintenance token does: read and delete failed webhook deliveries
//! (`app/controllers/admin/api/web_hooks_failures_controller.rb`), and clear an application's
//! extra fields (`buyers_applications_controller.rb#update`). It never revokes a token.

use super::answers::{self, TokenAnswer};
use super::{AdminApiClient, Answer, ApplicationRef, Call, Transient};
use crate::config::AdminPortal;
use crate::sensitive::AccessToken;
use reqwest::{Method, Url};
use tokio::time::Instant;

pub use super::answers::WebhookFailure;

/// Most of a failures listing that is read: porta does not paginate it.
pub const MAX_FAILURES_BODY: usize = 8 * 1024 * 1024;

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
    Rejected(u16),
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
fn done(answer: Answer) -> Result<Answer, MaintenanceError> {
    match answer.meaning() {
        TokenAnswer::Done => Ok(answer),
        TokenAnswer::Dead => Err(MaintenanceError::Refused),
        TokenAnswer::NotPermitted => Err(MaintenanceError::NotPermitted),
        TokenAnswer::NotFound => Err(MaintenanceError::NotFound),
        _ if answer.status.as_u16() == 403 && answers::is_cancan_denial(&answer.body) => {
            Err(MaintenanceError::NotAllowed)
        }
        _ => Err(MaintenanceError::Rejected(answer.status.as_u16())),
    }
}

/// `{admin_url}/admin/api/{segments…}`.
fn admin_api_url(admin_url: &Url, segments: &[&str]) -> Result<Url, MaintenanceError> {
    let mut url = admin_url.clone();
    url.path_segments_mut()
        .map_err(|()| MaintenanceError::BadInput("admin_url cannot take a path"))?
        .pop_if_empty()
        .extend(["admin", "api"])
        .extend(segments);
    Ok(url)
}

impl AdminApiClient {
    /// `GET …/webhooks/failures.json`.
    pub(super) async fn list_failures(
        &self,
        portal: &AdminPortal,
        maintenance: &AccessToken,
    ) -> Result<Vec<WebhookFailure>, MaintenanceError> {
        let url = admin_api_url(portal.admin_url(), &["webhooks", "failures.json"])?;
        let call = Call::new(Method::GET, url, maintenance).reading(MAX_FAILURES_BODY);
        let answer = done(self.call(&call, self.deadline()).await?)?;
        if answer.truncated {
            return Err(MaintenanceError::Unreadable("the listing is over 8 MiB"));
        }
        answers::webhook_failures(&answer.body)
            .map_err(|_| MaintenanceError::Unreadable("the listing is not porta's JSON"))
    }

    /// `DELETE …/webhooks/failures.json?time=T`: porta drops entries from the oldest while
    /// their time is at most `T` (`app/models/web_hook_failures.rb#delete_by_time`).
    pub(super) async fn delete_failures(
        &self,
        portal: &AdminPortal,
        maintenance: &AccessToken,
        time: &str,
    ) -> Result<(), MaintenanceError> {
        // Without a time porta deletes everything; never send that.
        if time.trim().is_empty() {
            return Err(MaintenanceError::BadInput("no time to delete up to"));
        }
        let mut url = admin_api_url(portal.admin_url(), &["webhooks", "failures.json"])?;
        url.query_pairs_mut().append_pair("time", time);
        let call = Call::new(Method::DELETE, url, maintenance);
        done(self.call(&call, self.deadline()).await?).map(drop)
    }

    /// `PUT …/accounts/{account}/applications/{application}.json` with `field=` for each field.
    pub(super) async fn clear_fields(
        &self,
        portal: &AdminPortal,
        maintenance: &AccessToken,
        application: ApplicationRef<'_>,
        fields: &[&str],
    ) -> Result<(), MaintenanceError> {
        let (Some(account), Some(app)) = (
            answers::parse_id(application.account_id),
            answers::parse_id(application.application_id),
        ) else {
            return Err(MaintenanceError::BadInput(
                "the event's account or application id is not a number",
            ));
        };
        let url = admin_api_url(
            portal.admin_url(),
            &[
                "accounts",
                &account.to_string(),
                "applications",
                &format!("{app}.json"),
            ],
        )?;
        let form = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields.iter().map(|field| (*field, "")))
            .finish();
        let call = Call::new(Method::PUT, url, maintenance).with_form(form);
        done(self.call(&call, self.deadline()).await?).map(drop)
    }

    fn deadline(&self) -> Instant {
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
