//! The one question every door asks: this event, revoke its token? Knows nothing of HTTP.

use crate::admin_api::{
    AdminApi, ApplicationRef, FieldClearing, TokenId, TokenToRevoke, Verdict, answers,
};
use crate::audit::Audit;
use crate::outcome::Outcome;
use crate::portal::{AdminPortal, PortalSource};
use crate::refresh::{maintenance_token, with_maintenance_token};
use crate::sensitive::AccessToken;
use crate::settings::Settings;
use crate::tenant::{self, TenantProof};
use crate::webhook::WebhookEvent;
use std::sync::Arc;

/// Decides about one decoded event and revokes its token if it should; fills in `audit`.
/// `source` is read again if 3scale refuses `portal`'s maintenance token. `tenant_proven`: a
/// caller has already proven `admin_url` is this tenant's admin portal (the sweep does).
pub async fn decide_event<P: PortalSource, R: AdminApi>(
    settings: &Settings,
    source: &P,
    portal: &Arc<AdminPortal>,
    api: &R,
    tenant_proven: bool,
    event: &WebhookEvent,
    audit: &mut Audit,
) -> Outcome {
    audit.record_event(event);
    if !settings.revoke_on.matches(&event.event_type, &event.action) {
        return Outcome::Ignored("event type and action are not in REVOKE_ON");
    }
    let Some(raw_token) = event.extra_field(&settings.token_field) else {
        return Outcome::Ignored("the event has no token extra field");
    };
    let token = match AccessToken::parse(raw_token) {
        Ok(token) => token,
        Err(err) => return Outcome::InvalidToken(err.to_string()),
    };
    audit.token_fingerprint = Some(token.fingerprint());
    let id = event.extra_field(&settings.token_id_field).and_then(|raw| {
        let id = answers::parse_id(raw).map(TokenId);
        if id.is_none() {
            // Fall back to the value, with its id-clash check; the field name is safe to log.
            tracing::warn!(field = %settings.token_id_field, "the token id field is not a number; ignoring it");
        }
        id
    });
    if settings.dry_run {
        return Outcome::DryRun;
    }

    let revocation = api
        .revoke(portal, TokenToRevoke { value: &token, id })
        .await;
    let outcome = match &revocation.verdict {
        Verdict::Revoked => Outcome::Revoked,
        Verdict::AlreadyRevoked => Outcome::AlreadyRevoked,
        Verdict::NotRevocable => Outcome::TokenNotRevocable,
        Verdict::Ambiguous => Outcome::AmbiguousToken,
        Verdict::NotVerified => Outcome::RevocationNotVerified,
        Verdict::Inconclusive => Outcome::AdminApiRejected(revocation.status),
        Verdict::Unavailable(reason) => {
            tracing::warn!(reason = %reason, "admin API unavailable");
            Outcome::AdminApiUnavailable
        }
        Verdict::TlsFailed(tls) => {
            tracing::warn!(tls_failure = tls.code(), "TLS with the admin API failed");
            Outcome::AdminTlsFailed(*tls)
        }
    };
    audit.revocation = Some(revocation);
    let outcome = match outcome {
        Outcome::AlreadyRevoked if !tenant_proven => confirm_tenant(source, portal, api).await,
        other => other,
    };
    if settings.clear_token_field && matches!(outcome, Outcome::Revoked | Outcome::AlreadyRevoked) {
        audit.token_field_cleared =
            Some(clear_token_fields(settings, source, portal, api, event, &token).await);
    }
    outcome
}

/// "Already revoked" on porta's `Access denied` holds only on this tenant's admin portal: on
/// another tenant's, a live token is refused alike. With a maintenance token, the host is
/// proven first; a refusal there means the token may be alive.
async fn confirm_tenant<P: PortalSource, R: AdminApi>(
    source: &P,
    portal: &Arc<AdminPortal>,
    api: &R,
) -> Outcome {
    let mut portal = Arc::clone(portal);
    match tenant::prove(source, &mut portal, api).await {
        TenantProof::NoMaintenanceToken | TenantProof::Proven => Outcome::AlreadyRevoked,
        TenantProof::Unreachable(why) => {
            tracing::warn!(reason = %why, "the token was refused, but whether admin_url is this tenant's admin portal could not be checked");
            Outcome::AdminApiUnavailable
        }
        refused @ (TenantProof::NotTenantAdmin(_) | TenantProof::Unexplained(_)) => {
            tracing::warn!(reason = %refused.explanation(), "the token was refused, but admin_url refuses the maintenance token too: it may not be this tenant's admin portal, and the token may be alive");
            Outcome::AdminApiRejected(refused.status())
        }
    }
}

/// Empties the token and id fields of the event's application, if it holds this token. A
/// failure is logged and counted, but changes nothing for 3scale: the token is dead either way.
async fn clear_token_fields<P: PortalSource, R: AdminApi>(
    settings: &Settings,
    source: &P,
    portal: &Arc<AdminPortal>,
    api: &R,
    event: &WebhookEvent,
    token: &AccessToken,
) -> bool {
    if portal.maintenance_token().is_none() {
        tracing::warn!("CLEAR_TOKEN_FIELD is on, but the secret has no maintenance_token");
        return false;
    }
    let (Some(account_id), Some(application_id)) = (
        event.object.account_id.as_deref(),
        event
            .object
            .id
            .as_deref()
            .filter(|_| event.object.kind == "application"),
    ) else {
        tracing::warn!("the event names no application whose token field could be cleared");
        return false;
    };
    let application = ApplicationRef {
        account_id,
        application_id,
    };
    let fields = [
        settings.token_field.as_str(),
        settings.token_id_field.as_str(),
    ];
    let fields = &fields;
    let mut portal = Arc::clone(portal);
    let clearing = with_maintenance_token(source, &mut portal, |p| async move {
        let maintenance = maintenance_token(&p)?;
        api.clear_token_fields(
            &p,
            maintenance,
            application,
            &settings.token_field,
            token,
            fields,
        )
        .await
    });
    match clearing.await {
        Ok(FieldClearing::Cleared | FieldClearing::AlreadyEmpty) => true,
        Ok(FieldClearing::NotThisToken) => {
            // A forged event, or a value replaced since: never wipe what another token wrote.
            tracing::warn!(
                "the application's token field does not hold this token; it was not cleared"
            );
            false
        }
        Err(err) => {
            tracing::warn!(error = %err, "clearing the token field failed");
            false
        }
    }
}
