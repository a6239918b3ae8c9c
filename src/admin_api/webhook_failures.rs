//! 3scale's failed webhook deliveries, read and deleted with the maintenance token
//! (`app/controllers/admin/api/web_hooks_failures_controller.rb`): what one is, how porta
//! lists them, and the two calls.

use super::answers::{ListingError, visit_objects};
use super::maintenance::{MaintenanceError, admin_api_url, done};
use super::{AdminApiClient, Call};
use crate::portal::AdminPortal;
use crate::sensitive::AccessToken;
use reqwest::Method;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// Most of a failures listing that is read: porta does not paginate it. A longer one is read
/// this far, and the whole failures in it are handled; the rest wait for the next sweep.
pub const MAX_FAILURES_BODY: usize = 16 * 1024 * 1024;

/// The time one failures listing may take, its retry included: porta renders the whole list
/// at once, which takes longer than a token call. The sweep's unit tests tie it to its budget.
pub const LISTING_TIME: Duration = Duration::from_secs(20);

/// One attempt at the listing.
const LISTING_ATTEMPT: Duration = Duration::from_secs(15);

/// The failed deliveries 3scale listed, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailuresListing {
    /// The failures read, in porta's order.
    pub failures: Vec<WebhookFailure>,
    /// False when the listing was longer than [`MAX_FAILURES_BODY`]: more are filed after
    /// the last one here, perhaps in the same second.
    pub complete: bool,
}

/// The webhook failures API, with the maintenance token.
pub trait WebhookFailuresApi: Send + Sync {
    /// Lists the tenant's failed webhook deliveries, oldest first.
    fn webhook_failures(
        &self,
        portal: &AdminPortal,
        maintenance: &AccessToken,
    ) -> impl Future<Output = Result<FailuresListing, MaintenanceError>> + Send;

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

/// The whole failures at the start of a listing cut short, in porta's own shape only
/// (`{"webhooks-failures":[{"webhooks-failure":{…}}, …`): read one at a time, so what
/// came before the cut is kept.
pub fn parse_listing_prefix(body: &[u8]) -> Vec<WebhookFailure> {
    let mut failures = Vec::new();
    let mut json = serde_json::Deserializer::from_slice(body);
    // The error at the cut is expected; everything read before it is in `failures`.
    let _ = DeserializeSeed::deserialize(Listing(&mut failures), &mut json);
    failures
}

struct Listing<'a>(&'a mut Vec<WebhookFailure>);
struct Entries<'a>(&'a mut Vec<WebhookFailure>);

#[derive(serde::Deserialize)]
struct Entry {
    #[serde(rename = "webhooks-failure")]
    failure: RawFailure,
}

#[derive(serde::Deserialize)]
struct RawFailure {
    #[serde(default)]
    id: Option<serde_json::Value>,
    time: String,
    event: String,
}

impl<'de> DeserializeSeed<'de> for Listing<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, json: D) -> Result<(), D::Error> {
        json.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Listing<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("porta's failures listing")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "webhooks-failures" {
                map.next_value_seed(Entries(&mut *self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Entries<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, json: D) -> Result<(), D::Error> {
        json.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Entries<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a list of failures")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut entries: A) -> Result<(), A::Error> {
        while let Some(Entry { failure }) = entries.next_element::<Entry>()? {
            let id = match failure.id {
                Some(serde_json::Value::String(id)) => Some(id),
                Some(serde_json::Value::Number(n)) => Some(n.to_string()),
                _ => None,
            };
            self.0.push(WebhookFailure {
                id,
                time: failure.time,
                event: failure.event,
            });
        }
        Ok(())
    }
}

impl WebhookFailuresApi for AdminApiClient {
    /// `GET …/webhooks/failures.json`.
    async fn webhook_failures(
        &self,
        portal: &AdminPortal,
        maintenance: &AccessToken,
    ) -> Result<FailuresListing, MaintenanceError> {
        let url = admin_api_url(portal.admin_url(), &["webhooks", "failures.json"])?;
        let call = Call::new(Method::GET, url, maintenance)
            .reading(MAX_FAILURES_BODY)
            .patient(LISTING_ATTEMPT);
        let answer = done(self.call(&call, Instant::now() + LISTING_TIME).await?)?;
        if answer.truncated {
            let failures = parse_listing_prefix(&answer.body);
            if failures.is_empty() {
                return Err(MaintenanceError::Unreadable(
                    "the listing is over 16 MiB and its start is not porta's JSON",
                ));
            }
            tracing::warn!(
                read = failures.len(),
                "the failures listing is over 16 MiB: its oldest failures are handled now, the rest by later sweeps"
            );
            return Ok(FailuresListing {
                failures,
                complete: false,
            });
        }
        let failures = parse_listing(&answer.body)
            .map_err(|_| MaintenanceError::Unreadable("the listing is not porta's JSON"))?;
        Ok(FailuresListing {
            failures,
            complete: true,
        })
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
        done(self.call(&call, self.deadline()).await?).map(drop)
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

    #[test]
    fn a_listing_cut_short_keeps_its_whole_failures() {
        let porta = br#"{"webhooks-failures":[
            {"webhooks-failure":{"id":"a","time":"2026-11-25T10:00:00Z","error":"e","url":"u","event":"<event>1</event>"}},
            {"webhooks-failure":{"id":7,"time":"2026-11-25T10:00:01Z","error":"e","url":"u","event":"<event>2</event>"}}]}"#;
        let whole = parse_listing(porta).expect("listing");
        assert_eq!(parse_listing_prefix(porta), whole);
        let cut = porta.len() - 40;
        let prefix = parse_listing_prefix(&porta[..cut]);
        assert_eq!(prefix, whole[..1].to_vec());
        assert!(parse_listing_prefix(b"<html>").is_empty());
        assert!(parse_listing_prefix(br#"{"webhooks-failures":[{"time":"t"#).is_empty());
    }
}
