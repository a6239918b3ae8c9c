//! What the function decided about one delivery, and the status 3scale sees for it.

use crate::webhook::{DecodeError, MAX_BODY_BYTES};
use lambda_http::http::StatusCode;
use serde_json::{Value, json};

/// What the function decided about one delivery; maps to exactly one response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 3scale's webhook "Ping" (`GET ?ping=3scale`).
    Pong,
    /// The token was deleted and no longer authenticates.
    Revoked,
    /// porta refused the token before anything was deleted (403 Access denied).
    AlreadyRevoked,
    /// `DRY_RUN`: the token would have been revoked.
    DryRun,
    /// Nothing to do: the event is not configured, or carries no token.
    Ignored(&'static str),
    /// The Lambda event is not one this function serves, or cannot be converted safely.
    MalformedEnvelope(&'static str),
    /// Not GET or POST.
    MethodNotAllowed,
    /// The body is over the size limit.
    BodyTooLarge,
    /// The shared secret is missing or wrong.
    Unauthorized,
    /// The body is not a 3scale event.
    UnreadableBody(DecodeError),
    /// The token field holds something that cannot be a 3scale token.
    InvalidToken(String),
    /// The admin portal configuration could not be loaded.
    ConfigurationUnavailable,
    /// The token is alive but lacks the `account_management` scope or write permission.
    TokenNotRevocable,
    /// The value starts with the id of another of the caller's tokens; nothing was deleted.
    AmbiguousToken,
    /// 3scale answered the DELETE with 2xx, yet the token still authenticates.
    RevocationNotVerified,
    /// 3scale answered with a status a retry cannot fix and that proves nothing.
    AdminApiRejected(Option<u16>),
    /// 3scale did not answer usefully after bounded retries.
    AdminApiUnavailable,
    /// Ping: `admin_url` did not answer the probe, or answered 408, 429 or 5xx: why.
    PingUnreachable(String),
    /// Ping: something answered the probe, but not as a 3scale admin API does: what came back.
    PingNotThreescale(String),
    /// Ping: a 3scale admin API, but the maintenance token's listing was not answered 200, so
    /// not this tenant's admin portal (or a dead maintenance token): what came back.
    PingNotTenantAdmin(String),
}

impl Outcome {
    /// The HTTP status 3scale sees: 2xx stops its retries, anything else schedules one.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Pong | Self::Revoked | Self::AlreadyRevoked | Self::DryRun | Self::Ignored(_) => {
                StatusCode::OK
            }
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::MalformedEnvelope(_) | Self::UnreadableBody(_) | Self::InvalidToken(_) => {
                StatusCode::BAD_REQUEST
            }
            Self::ConfigurationUnavailable => StatusCode::INTERNAL_SERVER_ERROR,
            Self::TokenNotRevocable
            | Self::AmbiguousToken
            | Self::RevocationNotVerified
            | Self::AdminApiRejected(_)
            | Self::AdminApiUnavailable
            | Self::PingUnreachable(_)
            | Self::PingNotThreescale(_)
            | Self::PingNotTenantAdmin(_) => StatusCode::BAD_GATEWAY,
        }
    }

    /// A 5xx for a delivery, which may have left a token alive; not a failed Ping.
    pub fn is_failed_revocation(&self) -> bool {
        self.status().is_server_error()
            && !matches!(self, Self::PingUnreachable(_) | Self::PingNotThreescale(_))
    }

    /// Short name used in the JSON body and the audit log.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Pong => "pong",
            Self::Revoked => "revoked",
            Self::AlreadyRevoked => "already_revoked",
            Self::DryRun => "dry_run",
            Self::Ignored(_) => "ignored",
            Self::MalformedEnvelope(_) => "malformed_event",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::BodyTooLarge => "body_too_large",
            Self::Unauthorized => "unauthorized",
            Self::UnreadableBody(e) => e.code(),
            Self::InvalidToken(_) => "invalid_token",
            Self::ConfigurationUnavailable => "configuration_unavailable",
            Self::TokenNotRevocable => "token_not_revocable",
            Self::AmbiguousToken => "ambiguous_token",
            Self::RevocationNotVerified => "revocation_not_verified",
            Self::AdminApiRejected(_) => "admin_api_rejected",
            Self::AdminApiUnavailable => "admin_api_unavailable",
            Self::PingUnreachable(_) => "admin_api_unreachable",
            Self::PingNotThreescale(_) => "admin_url_not_3scale",
            Self::PingNotTenantAdmin(_) => "admin_url_not_tenant_admin",
        }
    }

    /// The JSON body: `{"outcome": …}` on success, `{"error": …, "message": …}` otherwise.
    pub fn body(&self) -> Value {
        let message = match self {
            Self::Ignored(reason) => return json!({"outcome": self.name(), "reason": reason}),
            Self::Pong | Self::Revoked | Self::AlreadyRevoked | Self::DryRun => {
                return json!({"outcome": self.name()});
            }
            Self::MalformedEnvelope(why) => (*why).to_owned(),
            Self::MethodNotAllowed => "only POST (events) and GET (ping) are accepted".to_owned(),
            Self::BodyTooLarge => format!("the body is larger than {MAX_BODY_BYTES} bytes"),
            Self::Unauthorized => "the secret query parameter is missing or wrong".to_owned(),
            Self::UnreadableBody(e) => e.to_string(),
            Self::InvalidToken(why) => why.clone(),
            Self::ConfigurationUnavailable => {
                "the admin portal configuration could not be loaded; see the function logs"
                    .to_owned()
            }
            Self::TokenNotRevocable => "the token is still valid but 3scale refused to revoke it: \
                it needs the Account Management API scope with Read & Write permission"
                .to_owned(),
            Self::AmbiguousToken => "the token is still valid: its value begins with the id of \
                another of its owner's tokens, which 3scale would delete instead. Store the \
                token's id in the application's token id extra field (TOKEN_ID_FIELD)"
                .to_owned(),
            Self::RevocationNotVerified => "3scale accepted the revocation but the token still \
                works; it was not revoked"
                .to_owned(),
            Self::AdminApiRejected(Some(status)) => {
                format!("the 3scale admin API answered {status}; check admin_url")
            }
            Self::AdminApiRejected(None) => "the 3scale admin API answered unexpectedly".to_owned(),
            Self::AdminApiUnavailable => {
                "the 3scale admin API did not answer usefully after retries; retry later".to_owned()
            }
            Self::PingUnreachable(why) => format!("admin_url could not be reached: {why}"),
            Self::PingNotThreescale(what) => format!(
                "admin_url is not a 3scale admin portal: \
                 GET /admin/api/personal/access_tokens.json without a token {what}; 3scale's \
                 admin API answers 403 {{\"error\":\"Access denied\"}}"
            ),
            Self::PingNotTenantAdmin(what) => format!(
                "admin_url answers as a 3scale admin API, but not as this tenant's admin portal: \
                 {what}"
            ),
        };
        json!({"error": self.name(), "message": message})
    }
}
