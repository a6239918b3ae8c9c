//! The maintenance token across a rotation. After finishSecret the old token is dead, while an
//! instance may hold the old secret for up to `SECRET_TTL_SECONDS`: a call that 3scale refuses
//! with `Access denied` is made once more with the secret read again, bypassing the cache.

use crate::admin_api::MaintenanceError;
use crate::portal::{AdminPortal, PortalSource};
use crate::sensitive::AccessToken;
use std::future::Future;
use std::sync::Arc;

/// The configuration's maintenance token, or why a maintenance call cannot be made.
pub fn maintenance_token(portal: &AdminPortal) -> Result<&AccessToken, MaintenanceError> {
    portal.maintenance_token().ok_or(MaintenanceError::BadInput(
        "the secret has no maintenance_token",
    ))
}

/// Runs `call` with `portal`. If 3scale refuses the maintenance token, reads the configuration
/// again once and, when it holds another token, runs `call` again with it; `portal` is then the
/// new configuration, for the calls that follow.
pub async fn with_maintenance_token<P, T, F, Fut>(
    source: &P,
    portal: &mut Arc<AdminPortal>,
    call: F,
) -> Result<T, MaintenanceError>
where
    P: PortalSource,
    F: Fn(Arc<AdminPortal>) -> Fut,
    Fut: Future<Output = Result<T, MaintenanceError>>,
{
    match call(Arc::clone(portal)).await {
        Err(MaintenanceError::Refused) => {}
        other => return other,
    }
    let fresh = match source.refresh().await {
        Ok(fresh) => fresh,
        Err(err) => {
            tracing::warn!(error = %err, "3scale refused the maintenance token, and the secret could not be read again");
            return Err(MaintenanceError::Refused);
        }
    };
    // Same token: it is dead (or admin_url is wrong); a second call would be refused too.
    if fresh.maintenance_token() == portal.maintenance_token() {
        return Err(MaintenanceError::Refused);
    }
    tracing::info!(
        "3scale refused the cached maintenance token; the secret now holds another (a rotation): trying again with it"
    );
    *portal = fresh;
    call(Arc::clone(portal)).await
}
