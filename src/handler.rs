//! The HTTP edge: API Gateway request in, decision, JSON response out.

use crate::admin_api::{Revocation, TokenRevoker};
use crate::config::{PortalSource, Settings};
use crate::sensitive::AccessToken;
use crate::webhook::{self, DecodeError, MAX_BODY_BYTES, WebhookEvent};
use lambda_http::http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{Value, json};

/// The function: settings plus the two parts tests swap out.
#[derive(Debug)]
pub struct App<P, R> {
    settings: Settings,
    portal: P,
    revoker: R,
}

/// What the function decided about one delivery; maps to exactly one response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 3scale's webhook "Ping" (`GET ?ping=3scale`).
    Pong,
    /// A token was revoked.
    Revoked,
    /// The token was already gone (404/401/403 from 3scale).
    AlreadyRevoked,
    /// `DRY_RUN`: the token would have been revoked.
    DryRun,
    /// Nothing to do: the event is not configured, or carries no token.
    Ignored(&'static str),
    /// Not GET or POST.
    MethodNotAllowed,
    /// The body is over the size limit.
    TooLarge,
    /// The shared secret is missing or wrong.
    Unauthorized,
    /// The body is not a 3scale event.
    BadEvent(DecodeError),
    /// The token field holds something that cannot be a 3scale token.
    BadToken(String),
    /// The admin portal configuration could not be loaded.
    ConfigUnavailable,
    /// 3scale refused the revocation with a status a retry cannot fix.
    AdminRejected(u16),
    /// 3scale did not answer usefully after bounded retries.
    AdminUnavailable,
}

impl Outcome {
    /// The HTTP status 3scale sees: 2xx stops its retries, anything else schedules one.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Pong | Self::Revoked | Self::AlreadyRevoked | Self::DryRun | Self::Ignored(_) => {
                StatusCode::OK
            }
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::BadEvent(_) | Self::BadToken(_) => StatusCode::BAD_REQUEST,
            Self::ConfigUnavailable => StatusCode::INTERNAL_SERVER_ERROR,
            Self::AdminRejected(_) | Self::AdminUnavailable => StatusCode::BAD_GATEWAY,
        }
    }

    /// Short name used in the JSON body and the audit log.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Pong => "pong",
            Self::Revoked => "revoked",
            Self::AlreadyRevoked => "already_revoked",
            Self::DryRun => "dry_run",
            Self::Ignored(_) => "ignored",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::TooLarge => "body_too_large",
            Self::Unauthorized => "unauthorized",
            Self::BadEvent(e) => e.code(),
            Self::BadToken(_) => "invalid_token",
            Self::ConfigUnavailable => "configuration_unavailable",
            Self::AdminRejected(_) => "admin_api_rejected",
            Self::AdminUnavailable => "admin_api_unavailable",
        }
    }

    /// The JSON body: `{"outcome": …}` on success, `{"error": …, "message": …}` otherwise.
    pub fn body(&self) -> Value {
        match self {
            Self::Ignored(reason) => json!({"outcome": self.name(), "reason": reason}),
            Self::Pong | Self::Revoked | Self::AlreadyRevoked | Self::DryRun => {
                json!({"outcome": self.name()})
            }
            Self::MethodNotAllowed => self.error("only POST (events) and GET (ping) are accepted"),
            Self::TooLarge => {
                self.error(&format!("the body is larger than {MAX_BODY_BYTES} bytes"))
            }
            Self::Unauthorized => self.error("the secret query parameter is missing or wrong"),
            Self::BadEvent(e) => self.error(&e.to_string()),
            Self::BadToken(why) => self.error(why),
            Self::ConfigUnavailable => self
                .error("the admin portal configuration could not be loaded; see the function logs"),
            Self::AdminRejected(status) => self.error(&format!(
                "the 3scale admin API refused the revocation with {status}"
            )),
            Self::AdminUnavailable => self
                .error("the 3scale admin API did not answer usefully after retries; retry later"),
        }
    }

    fn error(&self, message: &str) -> Value {
        json!({"error": self.name(), "message": message})
    }

    /// The response 3scale receives.
    pub fn into_response(self) -> Response<Body> {
        let mut response = Response::new(Body::Text(self.body().to_string()));
        *response.status_mut() = self.status();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if self == Self::MethodNotAllowed {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
        }
        response
    }
}

/// What the audit line says about a delivery; never the token itself.
#[derive(Debug, Default)]
struct Audit {
    event_type: Option<String>,
    action: Option<String>,
    object: Option<String>,
    application_id: Option<String>,
    account_id: Option<String>,
    token_fingerprint: Option<String>,
    // What 3scale answered when it did not revoke: tells a dead token (403) from a wrong
    // admin_url (404) when reading the logs.
    admin_api_status: Option<u16>,
}

impl Audit {
    fn record_event(&mut self, event: &WebhookEvent) {
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

    fn log(&self, outcome: &Outcome) {
        let reason = match outcome {
            Outcome::Ignored(reason) => Some(*reason),
            _ => None,
        };
        tracing::info!(
            audit = true,
            outcome = outcome.name(),
            status = outcome.status().as_u16(),
            reason,
            event_type = self.event_type.as_deref(),
            action = self.action.as_deref(),
            object = self.object.as_deref(),
            application_id = self.application_id.as_deref(),
            account_id = self.account_id.as_deref(),
            token_sha256 = self.token_fingerprint.as_deref(),
            admin_api_status = self.admin_api_status,
            "webhook decision"
        );
    }
}

impl<P: PortalSource, R: TokenRevoker> App<P, R> {
    /// Wires settings, the admin portal source and the revoker.
    pub fn new(settings: Settings, portal: P, revoker: R) -> Self {
        Self {
            settings,
            portal,
            revoker,
        }
    }

    /// Handles one delivery. Always `Ok`: expected failures are JSON responses, not errors.
    pub async fn handle(&self, request: Request) -> Result<Response<Body>, lambda_http::Error> {
        Ok(self.respond(&request).await)
    }

    /// The response for one delivery, with exactly one audit log line.
    pub async fn respond(&self, request: &Request) -> Response<Body> {
        let mut audit = Audit::default();
        let outcome = self.decide(request, &mut audit).await;
        audit.log(&outcome);
        outcome.into_response()
    }

    async fn decide(&self, request: &Request, audit: &mut Audit) -> Outcome {
        let method = request.method();
        if method != Method::GET && method != Method::POST {
            return Outcome::MethodNotAllowed;
        }
        let body = request.body().as_ref();
        if body.len() > MAX_BODY_BYTES {
            return Outcome::TooLarge;
        }
        let portal = match self.portal.admin_portal().await {
            Ok(portal) => portal,
            Err(err) => {
                tracing::error!(error = %err, "admin portal configuration unavailable");
                return Outcome::ConfigUnavailable;
            }
        };
        let query = request.query_string_parameters_ref();
        if let Some(expected) = portal.webhook_secret() {
            let presented = query.and_then(|q| q.first("secret")).unwrap_or_default();
            if !expected.matches(presented) {
                return Outcome::Unauthorized;
            }
        }
        if method == Method::GET {
            return if query.and_then(|q| q.first("ping")) == Some("3scale") {
                Outcome::Pong
            } else {
                Outcome::Ignored("GET without ping=3scale")
            };
        }

        let event = match webhook::decode(body) {
            Ok(event) => event,
            Err(err) => return Outcome::BadEvent(err),
        };
        audit.record_event(&event);
        if !self
            .settings
            .revoke_on
            .matches(&event.event_type, &event.action)
        {
            return Outcome::Ignored("event type and action are not in REVOKE_ON");
        }
        let Some(raw_token) = event.extra_field(&self.settings.token_field) else {
            return Outcome::Ignored("the event has no token extra field");
        };
        let token = match AccessToken::parse(raw_token) {
            Ok(token) => token,
            Err(err) => return Outcome::BadToken(err.to_string()),
        };
        audit.token_fingerprint = Some(token.fingerprint());
        if self.settings.dry_run {
            return Outcome::DryRun;
        }

        match self.revoker.revoke(&portal, &token).await {
            Revocation::Revoked => Outcome::Revoked,
            Revocation::AlreadyRevoked(status) => {
                audit.admin_api_status = Some(status.as_u16());
                Outcome::AlreadyRevoked
            }
            Revocation::Rejected(status) => {
                audit.admin_api_status = Some(status.as_u16());
                Outcome::AdminRejected(status.as_u16())
            }
            Revocation::Unavailable(reason) => {
                tracing::warn!(reason = %reason, "admin API unavailable");
                Outcome::AdminUnavailable
            }
        }
    }
}
