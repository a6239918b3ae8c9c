//! The audit record: the facts of one decision, logged as one line. Never the token.

use crate::admin_api::Revocation;
use crate::outcome::Outcome;
use crate::webhook::WebhookEvent;

/// What the audit line says about a delivery.
#[derive(Debug, Default, Clone)]
pub struct Audit {
    /// What brought the event: `webhook` (a delivery; the default) or `sweep`.
    pub source: Option<&'static str>,
    /// `<type>` of the event.
    pub event_type: Option<String>,
    /// `<action>` of the event.
    pub action: Option<String>,
    /// Kind of the event's object.
    pub object: Option<String>,
    /// The application's id, for application events.
    pub application_id: Option<String>,
    /// The developer account's id.
    pub account_id: Option<String>,
    /// [`crate::sensitive::AccessToken::fingerprint`] of the token.
    pub token_fingerprint: Option<String>,
    /// What the admin API said, when it was called.
    pub revocation: Option<Revocation>,
    /// With `CLEAR_TOKEN_FIELD`: whether the application's token field was emptied.
    pub token_field_cleared: Option<bool>,
}

impl Audit {
    /// Records what the event says about itself.
    pub fn record_event(&mut self, event: &WebhookEvent) {
        self.event_type = Some(event.event_type.clone());
        self.action = Some(event.action.clone());
        self.object = Some(event.object.kind.clone());
        self.application_id = event
            .object
            .id
            .clone()
            .filter(|_| event.object.kind == "application");
        self.account_id = event.object.account_id.clone();
    }

    /// Writes the one audit line for `outcome`.
    pub fn log(&self, outcome: &Outcome) {
        let reason = match outcome {
            Outcome::Ignored(reason) | Outcome::ConfigurationUnavailable(reason) => Some(*reason),
            Outcome::AdminTlsFailed(tls) | Outcome::PingTlsFailed(tls) => Some(tls.code()),
            _ => None,
        };
        let revocation = self.revocation.as_ref();
        tracing::info!(
            audit = true,
            source = self.source.unwrap_or("webhook"),
            outcome = outcome.name(),
            status = outcome.status().as_u16(),
            reason,
            token_alive = token_alive(outcome),
            event_type = self.event_type.as_deref(),
            action = self.action.as_deref(),
            object = self.object.as_deref(),
            application_id = self.application_id.as_deref(),
            account_id = self.account_id.as_deref(),
            token_sha256 = self.token_fingerprint.as_deref(),
            // Which call decided, and what porta answered to it: tells a dead token (403 on
            // delete) from a wrong admin_url (404) or a token that survived (2xx on verify).
            admin_api_step = revocation.map(|r| r.step.name()),
            admin_api_status = revocation.and_then(|r| r.status),
            revoked_by = revocation.map(|r| if r.by_id { "id" } else { "value" }),
            admin_api_ms = revocation.map(|r| r.elapsed.as_millis() as u64),
            token_field_cleared = self.token_field_cleared,
            "webhook decision"
        );
    }
}

/// `Some(true)` when porta's answers prove the token still works.
fn token_alive(outcome: &Outcome) -> Option<bool> {
    match outcome {
        Outcome::Revoked | Outcome::AlreadyRevoked => Some(false),
        Outcome::TokenNotRevocable | Outcome::AmbiguousToken | Outcome::RevocationNotVerified => {
            Some(true)
        }
        _ => None,
    }
}
