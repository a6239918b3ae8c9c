//! The HTTP edge: a webhook delivery (or 3scale's Ping) in, a decision, a JSON response out.

use crate::admin_api::{AdminApi, Probe};
use crate::app::App;
use crate::audit::Audit;
use crate::decision::decide_event;
use crate::outcome::Outcome;
use crate::portal::{AdminPortal, PortalSource};
use crate::tenant::{self, TenantProof};
use crate::webhook::{self, MAX_BODY_BYTES};
use lambda_http::http::{HeaderValue, Method, header};
use lambda_http::{Body, Request, RequestExt, Response};
use std::sync::Arc;

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
                return Outcome::ConfigurationUnavailable(err.summary());
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
            return self.ping(&portal).await;
        }

        let event = match webhook::decode(body) {
            Ok(event) => event,
            Err(err) => return Outcome::UnreadableBody(err),
        };
        // Nothing has proven the host yet: an "already revoked" needs that first.
        let proven = false;
        decide_event(
            &self.settings,
            &self.portal,
            &portal,
            &self.api,
            proven,
            &event,
            audit,
        )
        .await
    }

    /// 3scale's Ping button: the secret and the configuration held; now `admin_url`.
    ///
    /// A tokenless listing refused in porta's words proves a 3scale admin API. It cannot tell
    /// this tenant's admin portal from another tenant's, where every token of this tenant is
    /// refused alike; the maintenance token's own listing, answered 200, proves that too.
    async fn ping(&self, portal: &Arc<AdminPortal>) -> Outcome {
        match self.api.probe(portal).await {
            Probe::AdminApi => {}
            Probe::NotAdminApi(what) => return Outcome::PingNotThreescale(what),
            Probe::Unreachable(why) => return Outcome::PingUnreachable(why),
            Probe::TlsFailed(tls) => return Outcome::PingTlsFailed(tls),
        }
        // With the secret read again if 3scale refuses a token a rotation has replaced.
        let mut portal = Arc::clone(portal);
        match tenant::prove(&self.portal, &mut portal, &self.api).await {
            TenantProof::NoMaintenanceToken | TenantProof::Proven => Outcome::Pong,
            TenantProof::Unreachable(why) => Outcome::PingUnreachable(why),
            refused @ (TenantProof::NotTenantAdmin(_) | TenantProof::Unexplained(_)) => {
                Outcome::PingNotTenantAdmin(refused.explanation())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::admin_api::RetryPolicy;
    use std::time::Duration;

    /// API Gateway's integration timeout (HTTP API: 30 s): past it 3scale gets a 503.
    const API_GATEWAY_LIMIT: Duration = Duration::from_secs(30);

    #[test]
    fn a_delivery_ends_before_api_gateway_gives_up() {
        // The revocation, then with CLEAR_TOKEN_FIELD the field's read and clear: one
        // deadline each; and the secret's read, bounded on its own (tls::SECRETS_MANAGER_BOUND).
        let admin_api = RetryPolicy::default().total * 2;
        assert_eq!(admin_api, Duration::from_secs(16), "the README says 16 s");
        let secret = crate::tls::SECRETS_MANAGER_BOUND.total;
        assert_eq!(secret, Duration::from_secs(3), "the README says 3 s");
        assert!(admin_api + secret <= API_GATEWAY_LIMIT);
    }
}
