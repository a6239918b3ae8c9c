//! The admin portal configuration from AWS Secrets Manager: a JSON secret, its shape, and a
//! per-instance cache.

use crate::portal::{AdminPortal, PortalSource, SecretRequirements, SourceError};
use aws_sdk_secretsmanager::Client as SecretsManagerClient;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Reads the configuration from Secrets Manager, at most once per TTL per instance.
///
/// Hand-rolled rather than `aws_secretsmanager_caching`: that crate turns on the SDK's default
/// features, which bring a second TLS stack (rustls 0.21 + ring + hyper 0.14).
#[derive(Debug)]
pub struct SecretsManagerPortal {
    client: SecretsManagerClient,
    secret_id: String,
    ttl: Duration,
    requirements: SecretRequirements,
    // A Mutex, not an RwLock: concurrent cold misses wait for one fetch instead of racing.
    cached: Mutex<Option<(Instant, Arc<AdminPortal>)>>,
}

impl SecretsManagerPortal {
    /// A lazy source: nothing is fetched until the first request needs it.
    pub fn new(client: SecretsManagerClient, secret_id: impl Into<String>, ttl: Duration) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
            ttl,
            requirements: SecretRequirements::default(),
            cached: Mutex::new(None),
        }
    }

    /// Refuses a secret that lacks what `requirements` name, as a bad secret.
    pub fn requiring(mut self, requirements: SecretRequirements) -> Self {
        self.requirements = requirements;
        self
    }

    async fn fetch(&self) -> Result<AdminPortal, SourceError> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            // What GetSecretValue returns without a stage; moto needs it said once a rotation
            // has moved the stage (it keeps answering the version it first made current).
            .version_stage("AWSCURRENT")
            .send()
            .await
            .map_err(|err| {
                let err = err.into_service_error();
                SourceError::Unavailable(err.meta().code().unwrap_or("no response").to_owned())
            })?;
        let json = output
            .secret_string()
            .ok_or_else(|| SourceError::BadSecret("the secret has no SecretString".to_owned()))?;
        let portal = portal_from_secret(json)?;
        self.requirements.check(&portal)?;
        Ok(portal)
    }
}

/// The secret's JSON: `{"admin_url", "webhook_secret", "maintenance_token", "maintenance_token_id"}`.
#[derive(serde::Deserialize)]
struct SecretJson {
    admin_url: String,
    #[serde(default)]
    webhook_secret: Option<String>,
    #[serde(default)]
    maintenance_token: Option<String>,
    /// Written by rotation next to the token; a person may type it as a string.
    #[serde(default)]
    maintenance_token_id: Option<TokenIdJson>,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum TokenIdJson {
    Number(u64),
    Text(String),
}

/// Reads and validates the secret's JSON; errors name fields, never values.
pub fn portal_from_secret(json: &str) -> Result<AdminPortal, SourceError> {
    // serde's message could quote the secret; report the shape only.
    let shape: SecretJson = serde_json::from_str(json).map_err(|_| {
        SourceError::BadSecret(
            "expected JSON {\"admin_url\": \"...\", \"webhook_secret\": \"...\"}".to_owned(),
        )
    })?;
    let maintenance_token_id = match shape.maintenance_token_id {
        None => None,
        Some(TokenIdJson::Number(id)) => Some(id),
        Some(TokenIdJson::Text(text)) => Some(text.trim().parse().map_err(|_| {
            SourceError::BadSecret("maintenance_token_id must be the token's numeric id".to_owned())
        })?),
    };
    AdminPortal::new(&shape.admin_url, shape.webhook_secret.as_deref())
        .and_then(|portal| portal.with_maintenance_token(shape.maintenance_token.as_deref()))
        .map(|portal| portal.with_maintenance_token_id(maintenance_token_id))
        .map_err(|e| SourceError::BadSecret(e.to_string()))
}

impl PortalSource for SecretsManagerPortal {
    async fn admin_portal(&self) -> Result<Arc<AdminPortal>, SourceError> {
        let mut cached = self.cached.lock().await;
        if let Some((fetched_at, portal)) = cached.as_ref()
            && fetched_at.elapsed() < self.ttl
        {
            return Ok(Arc::clone(portal));
        }
        match self.fetch().await {
            Ok(portal) => {
                let portal = Arc::new(portal);
                *cached = Some((Instant::now(), Arc::clone(&portal)));
                tracing::info!(
                    secret_ttl_s = self.ttl.as_secs(),
                    "admin portal configuration loaded"
                );
                Ok(portal)
            }
            // A refresh that fails keeps the last good value for another TTL: a Secrets
            // Manager blip must not stop revocations, nor turn every request into a retry.
            // Only a cold instance with nothing cached reports the error.
            Err(err) => match cached.take() {
                Some((_, stale)) => {
                    tracing::warn!(error = %err, "refreshing the admin portal configuration failed; using the cached one");
                    *cached = Some((Instant::now(), Arc::clone(&stale)));
                    Ok(stale)
                }
                None => Err(err),
            },
        }
    }

    /// Reads the secret now whatever the cache's age, and caches it; a failure keeps the cache.
    async fn refresh(&self) -> Result<Arc<AdminPortal>, SourceError> {
        let mut cached = self.cached.lock().await;
        let portal = Arc::new(self.fetch().await?);
        *cached = Some((Instant::now(), Arc::clone(&portal)));
        tracing::info!("admin portal configuration read again, bypassing the cache");
        Ok(portal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_json_is_validated_without_echoing_it() {
        let p = portal_from_secret(
            r#"{"admin_url":"https://acme-admin.3scale.net","webhook_secret":"s3"}"#,
        )
        .expect("valid");
        assert_eq!(p.admin_url().as_str(), "https://acme-admin.3scale.net/");
        assert!(p.webhook_secret().is_some_and(|s| s.matches("s3")));
        let no_secret = portal_from_secret(
            r#"{"admin_url":"https://acme-admin.3scale.net","webhook_secret":""}"#,
        )
        .expect("valid");
        assert!(no_secret.webhook_secret().is_none());

        let err = portal_from_secret(r#"{"webhook_secret":"leaky-value"}"#)
            .expect_err("admin_url missing");
        assert!(!err.to_string().contains("leaky-value"), "{err}");
        assert!(portal_from_secret("not json").is_err());
        let with_maintenance = portal_from_secret(
            r#"{"admin_url":"https://acme-admin.3scale.net","maintenance_token":"m41nt"}"#,
        )
        .expect("valid");
        assert_eq!(
            with_maintenance.maintenance_token().map(|t| t.expose()),
            Some("m41nt")
        );
        assert!(!format!("{with_maintenance:?}").contains("m41nt"));
        let err = portal_from_secret(
            r#"{"admin_url":"https://acme-admin.3scale.net","maintenance_token":"bad token!"}"#,
        )
        .expect_err("not a token");
        assert!(!err.to_string().contains("bad token"), "{err}");
        for (id, expected) in [(r#"7"#, Some(7)), (r#""42""#, Some(42))] {
            let json = format!(
                r#"{{"admin_url":"https://acme-admin.3scale.net","maintenance_token":"m41nt","maintenance_token_id":{id}}}"#
            );
            let portal = portal_from_secret(&json).expect("valid");
            assert_eq!(portal.maintenance_token_id(), expected, "{id}");
        }
        let err = portal_from_secret(
            r#"{"admin_url":"https://acme-admin.3scale.net","maintenance_token_id":"m41nt"}"#,
        )
        .expect_err("not an id");
        assert!(!err.to_string().contains("m41nt"), "{err}");
    }
}
