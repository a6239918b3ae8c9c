//! 3scale's failed webhook deliveries, read and deleted with the maintenance token
//! (`app/controllers/admin/api/web_hooks_failures_controller.rb`): what one is, how porta
//! lists them, and the two calls.

use super::answers::{ListingError, visit_objects};
use super::maintenance::{MaintenanceError, admin_api_url, done};
use super::{AdminApiClient, Call};
use crate::portal::AdminPortal;
use crate::sensitive::AccessToken;
use reqwest::Method;
use std::future::Future;

/// Most of a failures listing that is read: porta does not paginate it.
pub const MAX_FAILURES_BODY: usize = 8 * 1024 * 1024;

/// The webhook failures API, with the maintenance token.
pub trait WebhookFailuresApi: Send + Sync {
    /// Lists the tenant's failed webhook deliveries, oldest first.
    fn webhook_failures(
        &self,
        portal: &AdminPortal,
        maintenance: &AccessToken,
    ) -> impl Future<Output = Result<Vec<WebhookFailure>, MaintenanceError>> + Send;

    /// Deletes the failed deliveries from the oldest up to and including `time`.
    fn delete_webhook_failures(
        &self,
        portal: &AdminPortal,
        maintenance: &AccessToken,
        time: &str,
    ) -> impl Future<Output = Result<(), MaintenanceError>> + Send;
}

/// One failed webhook delivery, as porta lists it
/// (`app/representers/web_hook_failure_representer.rb`).
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookFailure {
    /// The event's UUID.
    pub id: Option<String>,
    /// When 3scale gave up, as porta prints it (`2026-11-25T10:00:00Z`); sent back to delete.
    pub time: String,
    /// The event XML exactly as it was posted; it may carry a token.
    pub event: String,
}

// The event may hold a token: Debug shows its size only.
impl std::fmt::Debug for WebhookFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookFailure")
            .field("id", &self.id)
            .field("time", &self.time)
            .field("event_bytes", &self.event.len())
            .finish()
    }
}

/// The failed deliveries of a listing, in its order (porta's is oldest first).
///
/// porta wraps each (`{"webhooks-failures":[{"webhooks-failure":{…}}]}`); any object with a
/// string `time` and a string `event`, at any depth, counts.
///
/// ```
/// use access_token_revoker::admin_api::webhook_failures::parse_listing;
///
/// let listing = br#"{"webhooks-failures":[{"webhooks-failure":
///     {"id":"5d1c","time":"2026-11-25T10:00:00Z","error":"x","url":"u","event":"<event/>"}}]}"#;
/// let failures = parse_listing(listing).unwrap();
/// assert_eq!(failures[0].time, "2026-11-25T10:00:00Z");
/// assert_eq!(failures[0].event, "<event/>");
/// ```
pub fn parse_listing(body: &[u8]) -> Result<Vec<WebhookFailure>, ListingError> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|_| ListingError)?;
    let mut failures = Vec::new();
    visit_objects(&value, |object| {
        let time = object.get("time").and_then(serde_json::Value::as_str);
        let event = object.get("event").and_then(serde_json::Value::as_str);
        let (Some(time), Some(event)) = (time, event) else {
            return true;
        };
        let id = object.get("id").and_then(|id| match id {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        });
        failures.push(WebhookFailure {
            id,
            time: time.to_owned(),
            event: event.to_owned(),
        });
        false
    });
    Ok(failures)
}

impl WebhookFailuresApi for AdminApiClient {
    /// `GET …/webhooks/failures.json`.
    async fn webhook_failures(
        &self,
        portal: &AdminPortal,
        maintenance: &AccessToken,
    ) -> Result<Vec<WebhookFailure>, MaintenanceError> {
        let url = admin_api_url(portal.admin_url(), &["webhooks", "failures.json"])?;
        let call = Call::new(Method::GET, url, maintenance).reading(MAX_FAILURES_BODY);
        let answer = done(self.call(portal, &call, self.deadline()).await?)?;
        if answer.truncated {
            return Err(MaintenanceError::Unreadable("the listing is over 8 MiB"));
        }
        parse_listing(&answer.body)
            .map_err(|_| MaintenanceError::Unreadable("the listing is not porta's JSON"))
    }

    /// `DELETE …/webhooks/failures.json?time=T`: porta drops entries from the oldest while
    /// their time is at most `T` (`app/models/web_hook_failures.rb#delete_by_time`).
    async fn delete_webhook_failures(
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
        done(self.call(portal, &call, self.deadline()).await?).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_come_in_porta_order_and_other_shapes_are_tolerated() {
        let porta = br#"{"webhooks-failures":[
            {"webhooks-failure":{"id":"a","time":"2026-11-25T10:00:00Z","error":"e","url":"u","event":"<event>1</event>"}},
            {"webhooks-failure":{"id":"b","time":"2026-11-25T10:00:01Z","error":"e","url":"u","event":"<event>2</event>"}},
            {"webhooks-failure":{"id":3,"time":"2026-11-25T10:00:02Z","event":"<event>3</event>"}}]}"#;
        let failures = parse_listing(porta).expect("listing");
        let ids: Vec<_> = failures.iter().map(|f| f.id.as_deref()).collect();
        assert_eq!(ids, [Some("a"), Some("b"), Some("3")]);
        assert_eq!(failures[1].event, "<event>2</event>");
        assert!(!format!("{failures:?}").contains("<event>"));
        assert_eq!(parse_listing(br#"{"webhooks-failures":[]}"#), Ok(vec![]));
        assert_eq!(
            parse_listing(br#"[{"time":"t","event":7},{"time":"t"}]"#),
            Ok(vec![])
        );
        assert_eq!(parse_listing(b"<webhooks-failures/>"), Err(ListingError));
    }
}
