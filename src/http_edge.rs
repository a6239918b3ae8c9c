//! The HTTP edge: a webhook delivery (or 3scale's Ping) in, a decision, a JSON response out.

use crate::admin_api::{AdminApi, Probe};
use crate::app::App;
use crate::audit::Audit;
use crate::decision::decide_event;
use crate::outcome::Outcome;
use crate::portal::PortalSource;
use crate::webhook::{self, MAX_BODY_BYTES};
use lambda_http::http::{HeaderValue, Method, header};
use lambda_http::{Body, Request, RequestExt, Response};

/// The response 3scale receives for `outcome`.
pub fn into_response(outcome: &Outcome) -> Response<Body> {
    let mut response = Response::new(Body::Text(outcome.body().to_string()));
    *response.status_mut() = outcome.status();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if *outcome == Outcome::MethodNotAllowed {
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
    }
    response
}

impl<P: PortalSource, R: AdminApi> App<P, R> {
    /// The response for one delivery, with exactly one audit log line.
    pub async fn respond(&self, request: &Request) -> Response<Body> {
        let mut audit = Audit::default();
        let outcome = self.decide(request, &mut audit).await;
        self.conclude(&audit, &outcome);
        into_response(&outcome)
    }

    async fn decide(&self, request: &Request, audit: &mut Audit) -> Outcome {
        let method = request.method();
        if method != Method::GET && method != Method::POST {
            return Outcome::MethodNotAllowed;
        }
        let body = request.body().as_ref();
        if body.len() > MAX_BODY_BYTES {
            return Outcome::BodyTooLarge;
        }
        let portal = match self.portal.admin_portal().await {
            Ok(portal) => portal,
            Err(err) => {
                tracing::error!(error = %err, "admin portal configuration unavailable");
                return Outcome::ConfigurationUnavailable;
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
            if query.and_then(|q| q.first("ping")) != Some("3scale") {
                return Outcome::Ignored("GET without ping=3scale");
            }
            // 3scale's Ping button then proves the whole chain: secret, configuration, admin_url.
            return match self.api.probe(&portal).await {
                Probe::AdminApi => Outcome::Pong,
                Probe::NotAdminApi(what) => Outcome::PingNotThreescale(what),
                Probe::Unreachable(why) => Outcome::PingUnreachable(why),
            };
        }

        let event = match webhook::decode(body) {
            Ok(event) => event,
            Err(err) => return Outcome::UnreadableBody(err),
        };
        decide_event(
            &self.settings,
            &self.portal,
            &portal,
            &self.api,
            &event,
            audit,
        )
        .await
    }
}
