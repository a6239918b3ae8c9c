//! Whether `admin_url` is this tenant's admin portal. porta refuses every token of another
//! tenant with the same 403 `Access denied` as a dead token (`by_access_token.rb` looks tokens
//! up on the host's tenant), so only a token of this tenant that authenticates there proves
//! the host: the maintenance token's own listing, answered 200.

use crate::admin_api::{AdminApi, MaintenanceError};
use crate::portal::{AdminPortal, PortalSource};
use crate::refresh::{maintenance_token, with_maintenance_token};
use std::sync::Arc;

/// What the maintenance token's own listing says about the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantProof {
    /// No maintenance token: nothing can tell this tenant's admin portal from another's.
    NoMaintenanceToken,
    /// It authenticated there (whatever it may do): this tenant's admin portal.
    Proven,
    /// Refused with `Access denied` (another tenant's admin portal, or a dead maintenance
    /// token) or answered 404 (a host that is no admin portal).
    NotTenantAdmin(MaintenanceError),
    /// No usable answer: unreachable, slow, failing.
    Unreachable(String),
    /// Another answer, which proves nothing either way.
    Unexplained(MaintenanceError),
}

impl TenantProof {
    /// What the refusal says, in words an operator can act on.
    pub fn explanation(&self) -> String {
        match self {
            Self::NotTenantAdmin(MaintenanceError::Refused) => {
                "it refuses the maintenance token (403 Access denied): admin_url is another \
                 tenant's admin portal, or the maintenance token is revoked or expired"
                    .to_owned()
            }
            Self::NotTenantAdmin(MaintenanceError::NotFound) => {
                "it answers the maintenance token's listing with 404: admin_url is not an \
                 admin portal (a developer portal, or another host of the installation)"
                    .to_owned()
            }
            Self::NotTenantAdmin(err) | Self::Unexplained(err) => err.to_string(),
            Self::Unreachable(why) => why.clone(),
            Self::NoMaintenanceToken => "the secret has no maintenance_token".to_owned(),
            Self::Proven => "this tenant's admin portal".to_owned(),
        }
    }

    /// porta's status behind a refusal, for the audit line.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::NotTenantAdmin(MaintenanceError::Refused) => Some(403),
            Self::NotTenantAdmin(MaintenanceError::NotFound) => Some(404),
            Self::Unexplained(MaintenanceError::UnexpectedStatus(status)) => Some(*status),
            _ => None,
        }
    }
}

/// Lists the maintenance token's own tokens on `portal`, reading the secret again if 3scale
/// refuses a token a rotation has replaced (`portal` is then the new configuration).
pub async fn prove<P: PortalSource, R: AdminApi>(
    source: &P,
    portal: &mut Arc<AdminPortal>,
    api: &R,
) -> TenantProof {
    if portal.maintenance_token().is_none() {
        return TenantProof::NoMaintenanceToken;
    }
    let listed = with_maintenance_token(source, portal, |p| async move {
        api.own_tokens(&p, maintenance_token(&p)?, None).await
    });
    match listed.await {
        Ok(_)
        | Err(
            MaintenanceError::NotPermitted
            | MaintenanceError::NotAllowed
            | MaintenanceError::Unreadable(_),
        ) => TenantProof::Proven,
        Err(err @ (MaintenanceError::Refused | MaintenanceError::NotFound)) => {
            TenantProof::NotTenantAdmin(err)
        }
        Err(MaintenanceError::Unavailable(why)) => TenantProof::Unreachable(why),
        Err(other) => TenantProof::Unexplained(other),
    }
}
