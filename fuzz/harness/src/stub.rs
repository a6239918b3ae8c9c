//! A stand-in admin API for the `lambda_event` target.

use crate::token_url::check_tokens_url;
use access_token_revoker::AdminPortal;
use access_token_revoker::admin_api::answers::Probe;
use access_token_revoker::admin_api::{
    ApplicationRef, ApplicationsApi, CreatedToken, FailuresListing, FieldClearing,
    MaintenanceError, NewToken, PersonalTokensApi, Revocation, Step, TokenApi, TokenId, TokenInfo,
    TokenToRevoke, Verdict, WebhookFailure, WebhookFailuresApi,
};
use access_token_revoker::sensitive::AccessToken;
use access_token_revoker::sweep::parse_time;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The admin API with fixed answers and no network, checking what it is asked.
pub struct Stub {
    verdict: Verdict,
    failures: Result<Vec<WebhookFailure>, MaintenanceError>,
    pub(crate) maintenance_ok: bool,
    pub(crate) calls: Arc<Calls>,
}

/// What the stub was asked to do.
#[derive(Default)]
pub struct Calls {
    pub(crate) revokes: AtomicUsize,
    deletes: AtomicUsize,
    clears: AtomicUsize,
}

impl Calls {
    pub(crate) fn all(&self) -> usize {
        self.revokes.load(Ordering::Relaxed)
            + self.deletes.load(Ordering::Relaxed)
            + self.clears.load(Ordering::Relaxed)
    }
}

impl Stub {
    pub(crate) fn new(
        verdict: Verdict,
        failures: Result<Vec<WebhookFailure>, MaintenanceError>,
    ) -> Self {
        Self {
            verdict,
            failures,
            maintenance_ok: true,
            calls: Arc::default(),
        }
    }

    fn maintenance(&self) -> Result<(), MaintenanceError> {
        if self.maintenance_ok {
            Ok(())
        } else {
            Err(MaintenanceError::Unavailable("stub".to_owned()))
        }
    }
}

impl TokenApi for Stub {
    async fn probe(&self, portal: &AdminPortal) -> Probe {
        check_tokens_url(portal.admin_url(), None);
        Probe::AdminApi
    }

    async fn revoke(&self, portal: &AdminPortal, token: TokenToRevoke<'_>) -> Revocation {
        self.calls.revokes.fetch_add(1, Ordering::Relaxed);
        assert!(AccessToken::parse(token.value.expose()).is_ok());
        check_tokens_url(portal.admin_url(), None);
        check_tokens_url(portal.admin_url(), Some(token));
        Revocation {
            verdict: self.verdict.clone(),
            step: Step::Verify,
            status: Some(403),
            by_id: token.id.is_some(),
            elapsed: Duration::ZERO,
        }
    }
}

impl PersonalTokensApi for Stub {
    async fn own_tokens(
        &self,
        _portal: &AdminPortal,
        _token: &AccessToken,
        _name: Option<&str>,
    ) -> Result<Vec<TokenInfo>, MaintenanceError> {
        self.maintenance()?;
        Ok(vec![TokenInfo {
            id: 1,
            name: "maintenance".to_owned(),
            scopes: vec!["account_management".to_owned()],
            permission: "rw".to_owned(),
            expires_at: None,
        }])
    }

    async fn create_token(
        &self,
        _portal: &AdminPortal,
        _token: &AccessToken,
        _new: NewToken<'_>,
    ) -> Result<CreatedToken, MaintenanceError> {
        panic!("nothing on the request path creates a token")
    }

    async fn delete_token(
        &self,
        _portal: &AdminPortal,
        _token: &AccessToken,
        _id: TokenId,
    ) -> Result<(), MaintenanceError> {
        panic!("nothing on the request path deletes a token by id")
    }
}

impl WebhookFailuresApi for Stub {
    async fn webhook_failures(
        &self,
        _portal: &AdminPortal,
        _maintenance: &AccessToken,
    ) -> Result<FailuresListing, MaintenanceError> {
        self.failures.clone().map(|failures| FailuresListing {
            failures,
            complete: true,
        })
    }

    async fn delete_webhook_failures(
        &self,
        _portal: &AdminPortal,
        _maintenance: &AccessToken,
        time: &str,
    ) -> Result<(), MaintenanceError> {
        self.calls.deletes.fetch_add(1, Ordering::Relaxed);
        // Without a readable time porta would delete everything, or the wrong entries.
        assert!(parse_time(time).is_some(), "delete up to {time:?}");
        let listed = self.failures.as_ref().expect("deleting what was listed");
        assert!(listed.iter().any(|f| f.time == time), "a listed time");
        self.maintenance()
    }
}

impl ApplicationsApi for Stub {
    async fn clear_token_fields(
        &self,
        _portal: &AdminPortal,
        _maintenance: &AccessToken,
        application: ApplicationRef<'_>,
        token_field: &str,
        token: &AccessToken,
        fields: &[&str],
    ) -> Result<FieldClearing, MaintenanceError> {
        self.calls.clears.fetch_add(1, Ordering::Relaxed);
        assert!(!fields.is_empty() && fields.iter().all(|f| !f.is_empty()));
        assert!(fields.contains(&token_field));
        assert!(AccessToken::parse(token.expose()).is_ok());
        assert!(!application.account_id.is_empty() && !application.application_id.is_empty());
        self.maintenance().map(|()| FieldClearing::Cleared)
    }
}

const VERDICTS: usize = 7;

pub(crate) fn verdict(n: u8) -> Verdict {
    match usize::from(n) % VERDICTS {
        0 => Verdict::Revoked,
        1 => Verdict::AlreadyRevoked,
        2 => Verdict::NotRevocable,
        3 => Verdict::Ambiguous,
        4 => Verdict::NotVerified,
        5 => Verdict::Inconclusive,
        _ => Verdict::Unavailable("stub".to_owned()),
    }
}
