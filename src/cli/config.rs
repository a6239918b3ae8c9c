//! Where `revoker` finds the tenant: its flags, then the environment, then the secret, read as
//! the function reads them. The token never comes from the command line.

use crate::admin_api::{AdminApiClient, RetryPolicy};
use crate::portal::{AdminPortal, PortalSource};
use crate::secrets_manager::SecretsManagerPortal;
use crate::sensitive::AccessToken;
use crate::settings::{DEFAULT_SECRET_TTL, Watched};
use std::sync::Arc;
use std::time::Duration;

/// What the command line says about where the tenant is.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// `--admin-url`: wins over `THREESCALE_ADMIN_URL` and the secret's `admin_url`.
    pub admin_url: Option<String>,
    /// `--secret-id`: the function's secret in Secrets Manager.
    pub secret_id: Option<String>,
}

/// One tenant, as `revoker` talks to it.
#[derive(Debug)]
pub struct Tenant {
    /// The function's own admin API client.
    pub api: AdminApiClient,
    /// The admin portal, the webhook secret and the maintenance token, if any.
    pub portal: AdminPortal,
    /// The token `revoker` acts with.
    pub token: AccessToken,
    /// Where the token came from, to name it in messages.
    pub token_source: &'static str,
    /// `TOKEN_FIELD`, `TOKEN_ID_FIELD` and `REVOKE_ON`.
    pub watched: Watched,
}

/// Patient enough for a person waiting at a terminal, and for a cold Lambda behind the webhook.
pub fn retries() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        connect_timeout: Duration::from_secs(5),
        attempt_timeout: Duration::from_secs(20),
        first_delay: Duration::from_millis(500),
        max_delay: Duration::from_secs(3),
        total: Duration::from_secs(60),
    }
}

impl Tenant {
    /// Reads everything through `var` (the process environment in `revoker`); errors name
    /// variables and fields, never values.
    pub async fn load(
        sources: &Sources,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        let get = |name: &str| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let watched = Watched::from_lookup(get).map_err(|err| err.to_string())?;
        let secret = match &sources.secret_id {
            Some(id) => Some(secret(id).await?),
            None => None,
        };
        let admin_url = sources
            .admin_url
            .clone()
            .or_else(|| get("THREESCALE_ADMIN_URL"))
            .or_else(|| secret.as_ref().map(|s| s.admin_url().to_string()))
            .ok_or(
                "set --admin-url or THREESCALE_ADMIN_URL to the tenant's admin portal, or \
                 --secret-id to the function's secret",
            )?;
        let webhook_secret = get("WEBHOOK_SECRET").or_else(|| {
            let shared = secret.as_ref()?.webhook_secret()?;
            Some(shared.expose().to_owned())
        });
        let maintenance_token = get("MAINTENANCE_TOKEN").or_else(|| {
            let token = secret.as_ref()?.maintenance_token()?;
            Some(token.expose().to_owned())
        });
        let portal = AdminPortal::new(&admin_url, webhook_secret.as_deref())
            .and_then(|portal| portal.with_maintenance_token(maintenance_token.as_deref()))
            .map_err(|err| err.to_string())?;
        let (token, token_source) = match get("THREESCALE_TOKEN") {
            Some(value) => (
                AccessToken::parse(&value).map_err(|err| {
                    format!("THREESCALE_TOKEN is not a personal access token: {err}")
                })?,
                "THREESCALE_TOKEN",
            ),
            None => match secret.as_ref().and_then(|s| s.maintenance_token()) {
                Some(token) => (token.clone(), "the secret's maintenance_token"),
                None => {
                    return Err("set THREESCALE_TOKEN to a personal access token (Account \
                         Management API, Read & Write), or --secret-id to a secret with a \
                         maintenance_token"
                        .to_owned());
                }
            },
        };
        let api = AdminApiClient::new(retries()).map_err(|_| "could not build the HTTP client")?;
        Ok(Self {
            api,
            portal,
            token,
            token_source,
            watched,
        })
    }
}

/// The function's secret, read as the function reads it (honours `AWS_ENDPOINT_URL`).
async fn secret(secret_id: &str) -> Result<Arc<AdminPortal>, String> {
    let aws = crate::tls::aws_config_loader().load().await;
    let client = aws_sdk_secretsmanager::Client::new(&aws);
    SecretsManagerPortal::new(client, secret_id, DEFAULT_SECRET_TTL)
        .admin_portal()
        .await
        .map_err(|err| format!("--secret-id: {err}"))
}
