//! The maintenance token rotates itself through Secrets Manager's rotation protocol, as AWS's
//! rotation template (`SecretsManagerRotationTemplate/lambda_function.py`) runs it:
//!
//! - every step first checks, with DescribeSecret, that the event is for this function's
//!   secret, that rotation is on and that the version is AWSPENDING; an AWSCURRENT version
//!   means the step already ran, and nothing is done again;
//! - `createSecret`: the current token creates its successor in 3scale, with the same scopes
//!   and permission and a name that carries the version id, and the secret's JSON, with only
//!   `maintenance_token` and `maintenance_token_id` changed, becomes the AWSPENDING version;
//! - `setSecret`: nothing to set (a 3scale token is live once created): the current token must
//!   still authenticate;
//! - `testSecret`: the new token lists itself with Account Management, Read & Write, and can
//!   read the failed webhook deliveries if the current one can;
//! - `finishSecret`: AWSCURRENT moves to the new version, and the old token is deleted and
//!   proven dead, with every token an earlier rotation of this secret left behind.
//!
//! Steps may run more than once (Secrets Manager retries a failed rotation): each is
//! idempotent. Nothing is created in 3scale before DescribeSecret, which the webhook-facing
//! function's role may not call, has succeeded.

mod aws;
mod event;
mod secret;
mod steps;
mod store;

pub use aws::SecretsManagerStore;
pub use event::{RotationEvent, RotationToken, Step};
pub use store::{
    AWSCURRENT, AWSPENDING, SecretDescription, SecretStore, SecretText, StoreError, Version,
};

use crate::admin_api::{AdminApi, MaintenanceError};
use crate::app::App;
use crate::metrics::RotationMetrics;
use crate::portal::PortalSource;
use serde_json::{Value, json};
use tokio::time::Instant;

/// Why a rotation step refused or failed: the invocation fails, so Secrets Manager counts the
/// step as failed. Names fields and operations, never a value or the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RotationError {
    /// The event lacks a field, or a field is not a string.
    #[error("not a usable Secrets Manager rotation event: {0}")]
    MalformedEvent(&'static str),
    /// `Step` is none of the four.
    #[error("unknown rotation Step: expected createSecret, setSecret, testSecret or finishSecret")]
    UnknownStep,
    /// The function reads no secret (`THREESCALE_ADMIN_URL`).
    #[error(
        "this function has no secret to rotate: THREESCALE_SECRET_ID is not set (it runs on THREESCALE_ADMIN_URL)"
    )]
    NotRotating,
    /// The event's `SecretId` is not `THREESCALE_SECRET_ID`.
    #[error("the rotation event is for another secret than THREESCALE_SECRET_ID; nothing was done")]
    OtherSecret,
    /// The function's role may not call a rotation operation: this is not the rotation function.
    #[error(
        "Secrets Manager denied {operation} to this function's role: only the rotation function may rotate the secret; nothing was done"
    )]
    AccessDenied {
        /// The operation refused.
        operation: &'static str,
    },
    /// Another Secrets Manager failure.
    #[error("{0}")]
    Store(StoreError),
    /// `RotationEnabled` is false or absent.
    #[error("rotation is not enabled on the secret")]
    NotEnabled,
    /// `ClientRequestToken` is not among the secret's versions.
    #[error("the event's ClientRequestToken is not a version of the secret")]
    UnknownVersion,
    /// The version is neither AWSPENDING nor AWSCURRENT.
    #[error("the event's version of the secret is neither AWSPENDING nor AWSCURRENT")]
    NotPending,
    /// A version rotation needs has no value.
    #[error("{0} of the secret has no value")]
    NoValue(&'static str),
    /// A version's JSON is not what the function reads.
    #[error("{which} of the secret is not usable: {why}")]
    BadSecret {
        /// Which version.
        which: &'static str,
        /// What is wrong, naming fields only.
        why: String,
    },
    /// A version has no `maintenance_token`.
    #[error("{0} of the secret has no maintenance_token: there is no token to rotate")]
    NoMaintenanceToken(&'static str),
    /// 3scale answers the current token with 403 Access denied.
    #[error(
        "3scale refuses the current maintenance_token (revoked, expired, or admin_url is not the tenant's admin portal); nothing was created"
    )]
    CurrentRefused,
    /// `maintenance_token_id` names none of the token owner's tokens.
    #[error(
        "maintenance_token_id is not the id of any token of the maintenance token's user: set it to the token's own id; nothing was created"
    )]
    UnknownTokenId,
    /// The current token lacks what creating its successor needs.
    #[error(
        "the current maintenance token lacks Account Management API, Read & Write, so it cannot create its successor; nothing was created"
    )]
    CurrentNotManaging,
    /// No `maintenance_token_id`, and deleting the token by value would delete another.
    #[error(
        "the secret has no maintenance_token_id, and the token's value begins with the id of another token of its user, which 3scale would delete in its place: add \"maintenance_token_id\" (the token's numeric id) to the secret; nothing was created"
    )]
    AmbiguousBootstrap,
    /// 3scale answered the create with 422.
    #[error("3scale refused to create the new token as invalid (fields: {}); nothing was created", .0.join(", "))]
    CreateRefused(Vec<String>),
    /// Another 3scale answer that stops the step.
    #[error("{what}: {err}")]
    ThreeScale {
        /// What was being done.
        what: &'static str,
        /// porta's answer.
        err: MaintenanceError,
    },
    /// PutSecretValue failed after the new token was created.
    #[error("{err}; the new 3scale token {}", if *.orphan_deleted { "was deleted again" } else { "could not be deleted: the next attempt of this rotation deletes it" })]
    PutFailed {
        /// Secrets Manager's failure.
        err: StoreError,
        /// Whether the token that could not be stored is gone.
        orphan_deleted: bool,
    },
    /// 3scale answers the new token with 403 Access denied.
    #[error("3scale refuses the new maintenance token")]
    PendingRefused,
    /// The new token authenticates but cannot do the maintenance token's work.
    #[error("the new maintenance token fails its test: {0}")]
    TestFailed(&'static str),
}

impl RotationError {
    fn store(err: StoreError) -> Self {
        if err.is_access_denied() {
            Self::AccessDenied {
                operation: err.operation,
            }
        } else {
            Self::Store(err)
        }
    }

    /// A token 3scale should no longer hold may be alive.
    fn left_a_token(&self) -> bool {
        matches!(
            self,
            Self::PutFailed {
                orphan_deleted: false,
                ..
            }
        )
    }
}

/// What a step did, for its log line and its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Done {
    said: &'static str,
    cleanup_failed: bool,
}

impl Done {
    fn said(said: &'static str) -> Self {
        Self {
            said,
            cleanup_failed: false,
        }
    }
}

impl<P: PortalSource, R: AdminApi> App<P, R> {
    /// Runs the rotation step Secrets Manager asked for with `payload`, writing the secret
    /// through `store`. An error fails the invocation, and so the step. One log line and one
    /// metric line per step.
    pub async fn rotate<S: SecretStore>(
        &self,
        store: &S,
        payload: Value,
        deadline: Instant,
    ) -> Result<Value, RotationError> {
        let started = Instant::now();
        let event = RotationEvent::parse(payload);
        let result = match &event {
            Ok(event) => self.rotation_step(store, event, deadline).await,
            Err(err) => Err(err.clone()),
        };
        let (step, version) = match &event {
            Ok(event) => (event.step.name(), event.version_id.as_str()),
            Err(_) => ("unknown", "unknown"),
        };
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match &result {
            Ok(done) => tracing::info!(
                rotation = true,
                step,
                version,
                outcome = done.said,
                cleanup_failed = done.cleanup_failed,
                elapsed_ms,
                "rotation step"
            ),
            Err(err) => tracing::error!(
                rotation = true,
                step,
                version,
                error = %err,
                elapsed_ms,
                "rotation step failed"
            ),
        }
        self.metrics.record_rotation(RotationMetrics {
            failed: result.is_err(),
            cleanup_failed: match &result {
                Ok(done) => done.cleanup_failed,
                Err(err) => err.left_a_token(),
            },
        });
        result.map(|done| {
            json!({
                "step": step,
                "outcome": done.said,
                "cleanup_failed": done.cleanup_failed,
            })
        })
    }
}
