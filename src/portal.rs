//! The 3scale admin portal the function talks to: its URL and the secrets that go with it,
//! validated, and the trait that says where a current one comes from.

use crate::sensitive::{AccessToken, SharedSecret};
use reqwest::Url;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

/// The 3scale admin portal this function revokes tokens on.
#[derive(Clone)]
pub struct AdminPortal {
    admin_url: Url,
    webhook_secret: Option<SharedSecret>,
    maintenance_token: Option<AccessToken>,
    maintenance_token_id: Option<u64>,
}

/// Why an admin portal configuration is unusable; never quotes the URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortalError {
    /// Not an absolute URL.
    #[error("admin_url is not a valid absolute URL")]
    BadUrl,
    /// Not http or https.
    #[error("admin_url must use https (or http for local runs)")]
    BadScheme,
    /// Userinfo would be sent as Basic auth; the token authenticates itself.
    #[error("admin_url must not contain credentials")]
    Credentials,
    /// A query or fragment would be mangled by the revoke path.
    #[error("admin_url must not have a query or fragment")]
    QueryOrFragment,
    /// The maintenance token cannot be a 3scale token.
    #[error("maintenance_token is not a personal access token: {0}")]
    MaintenanceToken(crate::sensitive::TokenError),
}

impl AdminPortal {
    /// Validates the admin portal URL, e.g. `https://acme-admin.3scale.net`.
    pub fn new(admin_url: &str, webhook_secret: Option<&str>) -> Result<Self, PortalError> {
        let url = Url::parse(admin_url.trim()).map_err(|_| PortalError::BadUrl)?;
        if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
            return Err(PortalError::BadScheme);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(PortalError::Credentials);
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(PortalError::QueryOrFragment);
        }
        Ok(Self {
            admin_url: url,
            webhook_secret: webhook_secret.and_then(SharedSecret::new),
            maintenance_token: None,
            maintenance_token_id: None,
        })
    }

    /// Adds the long-lived token that sweeps failed deliveries and clears fields; empty is none.
    pub fn with_maintenance_token(mut self, token: Option<&str>) -> Result<Self, PortalError> {
        self.maintenance_token = match token.map(str::trim).filter(|t| !t.is_empty()) {
            None => None,
            Some(token) => Some(AccessToken::parse(token).map_err(PortalError::MaintenanceToken)?),
        };
        Ok(self)
    }

    /// Adds the maintenance token's numeric id, which rotation writes next to it.
    pub fn with_maintenance_token_id(mut self, id: Option<u64>) -> Self {
        self.maintenance_token_id = id;
        self
    }

    /// The maintenance token's id, if the secret names it (`maintenance_token_id`).
    pub fn maintenance_token_id(&self) -> Option<u64> {
        self.maintenance_token_id
    }

    /// The admin portal base URL.
    pub fn admin_url(&self) -> &Url {
        &self.admin_url
    }

    /// The shared secret webhook URLs must carry, if one is configured.
    pub fn webhook_secret(&self) -> Option<&SharedSecret> {
        self.webhook_secret.as_ref()
    }

    /// The maintenance token, if one is configured.
    pub fn maintenance_token(&self) -> Option<&AccessToken> {
        self.maintenance_token.as_ref()
    }
}

impl fmt::Debug for AdminPortal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminPortal")
            .field("host", &self.admin_url.host_str())
            .field("webhook_secret", &self.webhook_secret.is_some())
            .field("maintenance_token", &self.maintenance_token.is_some())
            .field("maintenance_token_id", &self.maintenance_token_id)
            .finish()
    }
}

/// Why the admin portal configuration could not be had right now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// Secrets Manager could not be reached or refused the call.
    #[error("Secrets Manager call failed: {0}")]
    Unavailable(String),
    /// The secret exists but is not the expected JSON.
    #[error("the secret is not usable: {0}")]
    BadSecret(String),
}

/// Where the handler gets the admin portal configuration; swap it in tests.
pub trait PortalSource: Send + Sync {
    /// The current configuration, possibly cached.
    fn admin_portal(&self) -> impl Future<Output = Result<Arc<AdminPortal>, SourceError>> + Send;

    /// The configuration read again now, bypassing any cache: after 3scale refused the cached
    /// maintenance token, which a rotation may have replaced. A fixed source has nothing newer.
    fn refresh(&self) -> impl Future<Output = Result<Arc<AdminPortal>, SourceError>> + Send {
        self.admin_portal()
    }
}

/// A configuration fixed at start, from environment variables (local runs).
#[derive(Debug, Clone)]
pub struct EnvironmentPortal(pub Arc<AdminPortal>);

impl PortalSource for EnvironmentPortal {
    async fn admin_portal(&self) -> Result<Arc<AdminPortal>, SourceError> {
        Ok(Arc::clone(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_urls_are_validated_without_echoing_them() {
        assert_eq!(
            AdminPortal::new("ftp://acme-admin.3scale.net", None).err(),
            Some(PortalError::BadScheme)
        );
        assert_eq!(
            AdminPortal::new("https://acme-admin.3scale.net/?x=1", None).err(),
            Some(PortalError::QueryOrFragment)
        );
        assert_eq!(
            AdminPortal::new("https://tok:pw@acme-admin.3scale.net", None).err(),
            Some(PortalError::Credentials)
        );
        let portal = AdminPortal::new("https://acme-admin.3scale.net", Some(""))
            .and_then(|p| p.with_maintenance_token(Some("m41nt")))
            .expect("valid");
        assert!(portal.webhook_secret().is_none());
        assert!(!format!("{portal:?}").contains("m41nt"));
    }
}
