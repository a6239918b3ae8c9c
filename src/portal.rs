//! The 3scale admin portal the function talks to: its URL and the secrets that go with it,
//! validated, and the trait that says where a current one comes from.

use crate::sensitive::{AccessToken, SharedSecret};
use crate::tls::AdminCa;
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
    admin_ca: Option<AdminCa>,
    maintenance_token_id: Option<u64>,
}

/// Why an admin portal configuration is unusable; never quotes the URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortalError {
    /// Not an absolute URL.
    #[error("admin_url is not a valid absolute URL")]
    BadUrl,
    /// Not https, nor http to a loopback host.
    #[error(
        "admin_url must use https (http only to a loopback host: 127.0.0.0/8, ::1 or localhost); \
         over http the tokens would cross the network in the clear"
    )]
    BadScheme,
    /// Userinfo would be sent as Basic auth; the token authenticates itself.
    #[error("admin_url must not contain credentials")]
    Credentials,
    /// A query or fragment would be mangled by the revoke path.
    #[error("admin_url must not have a query or fragment")]
    QueryOrFragment,
    /// A webhook secret that the webhook URL cannot carry intact.
    #[error(
        "webhook_secret may hold only letters, digits and - . _ ~ \
         (API Gateway's HTTP API decodes + as a space and %XX in the query string)"
    )]
    WebhookSecretCharacters,
    /// The maintenance token cannot be a 3scale token.
    #[error("maintenance_token is not a personal access token: {0}")]
    MaintenanceToken(crate::sensitive::TokenError),
}

impl AdminPortal {
    /// Validates the admin portal URL, e.g. `https://acme-admin.3scale.net`.
    pub fn new(admin_url: &str, webhook_secret: Option<&str>) -> Result<Self, PortalError> {
        let url = Url::parse(admin_url.trim()).map_err(|_| PortalError::BadUrl)?;
        let scheme_ok = match url.scheme() {
            "https" => url.host().is_some(),
            // The local loop's stand-in; anywhere else http would carry tokens in the clear.
            "http" => url.host().is_some_and(|host| is_loopback(&host)),
            _ => false,
        };
        if !scheme_ok {
            return Err(PortalError::BadScheme);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(PortalError::Credentials);
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(PortalError::QueryOrFragment);
        }
        let webhook_secret = webhook_secret.and_then(SharedSecret::new);
        if webhook_secret
            .as_ref()
            .is_some_and(|secret| !secret.survives_a_query_string())
        {
            return Err(PortalError::WebhookSecretCharacters);
        }
        Ok(Self {
            admin_url: url,
            webhook_secret,
            maintenance_token: None,
            admin_ca: None,
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

    /// Adds CA certificates to trust for the admin portal, beside the system roots.
    pub fn with_admin_ca(mut self, admin_ca: Option<AdminCa>) -> Self {
        self.admin_ca = admin_ca;
        self
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

    /// The private CA the admin portal's certificate chains to, if one is configured.
    pub fn admin_ca(&self) -> Option<&AdminCa> {
        self.admin_ca.as_ref()
    }
}

/// `127.0.0.0/8`, `::1` or `localhost`: where plain http never leaves the machine.
pub(crate) fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
        url::Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
    }
}

impl fmt::Debug for AdminPortal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminPortal")
            .field("host", &self.admin_url.host_str())
            .field("webhook_secret", &self.webhook_secret.is_some())
            .field("maintenance_token", &self.maintenance_token.is_some())
            .field("admin_ca", &self.admin_ca)
            .field("maintenance_token_id", &self.maintenance_token_id)
            .finish()
    }
}

/// What a deployed configuration must hold, given the settings (`Settings::secret_requirements`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SecretRequirements {
    /// A `webhook_secret`, unless `ALLOW_UNAUTHENTICATED_WEBHOOKS=true`.
    pub webhook_secret: bool,
    /// A `maintenance_token`, with `CLEAR_TOKEN_FIELD=true`.
    pub maintenance_token: bool,
}

impl SecretRequirements {
    /// Refuses a configuration that lacks what the settings need; names fields, never values.
    pub fn check(&self, portal: &AdminPortal) -> Result<(), SourceError> {
        if self.webhook_secret && portal.webhook_secret().is_none() {
            return Err(SourceError::BadSecret(
                "the secret has no webhook_secret, so anyone who can reach the webhook URL could \
                 post events; add one, or set ALLOW_UNAUTHENTICATED_WEBHOOKS=true"
                    .to_owned(),
            ));
        }
        if self.maintenance_token && portal.maintenance_token().is_none() {
            return Err(SourceError::BadSecret(
                "CLEAR_TOKEN_FIELD is on, but the secret has no maintenance_token".to_owned(),
            ));
        }
        Ok(())
    }
}

/// Why the admin portal configuration could not be had right now; names no secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// No connection to Secrets Manager, or no readable answer: what went wrong.
    #[error("Secrets Manager unreachable: {0}")]
    Unreachable(&'static str),
    /// Secrets Manager did not answer within the bound (`tls::SECRETS_MANAGER_BOUND`).
    #[error("Secrets Manager timed out")]
    TimedOut,
    /// Secrets Manager refused the call: its error code.
    #[error("Secrets Manager call failed: {0}")]
    Unavailable(String),
    /// The secret exists but is not the expected JSON.
    #[error("the secret is not usable: {0}")]
    BadSecret(String),
}

impl SourceError {
    /// What a caller is told: the kind of failure, with no detail from the secret.
    pub fn summary(&self) -> &'static str {
        match self {
            Self::Unreachable(_) => "Secrets Manager unreachable",
            Self::TimedOut => "Secrets Manager timed out",
            Self::Unavailable(_) => "Secrets Manager refused the call",
            Self::BadSecret(_) => "the secret is not usable",
        }
    }
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
    fn http_is_for_loopback_hosts_only() {
        for local in [
            "http://127.0.0.1:9001",
            "http://127.9.9.9",
            "http://[::1]:8080/prefix/",
            "http://localhost:9001",
            "http://LOCALHOST",
        ] {
            assert!(AdminPortal::new(local, None).is_ok(), "{local}");
        }
        for remote in [
            "http://acme-admin.3scale.net",
            "http://10.0.0.7:3000",
            "http://[::2]",
            "http://localhost.example.com",
            "http://128.0.0.1",
        ] {
            assert_eq!(
                AdminPortal::new(remote, None).err(),
                Some(PortalError::BadScheme),
                "{remote}"
            );
        }
    }

    #[test]
    fn a_webhook_secret_must_survive_the_query_string() {
        let url = "https://acme-admin.3scale.net";
        assert!(AdminPortal::new(url, Some("Ab09-._~")).is_ok());
        for bad in ["a+b", "a b", "a%2Bb", "a&b", "a=b", "a#b", "é"] {
            let err = AdminPortal::new(url, Some(bad)).err();
            assert_eq!(err, Some(PortalError::WebhookSecretCharacters), "{bad}");
            assert!(!err.map(|e| e.to_string()).unwrap_or_default().contains(bad));
        }
    }

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
