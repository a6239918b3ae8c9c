//! The admin portal configuration from AWS Secrets Manager: a JSON secret, cached per instance.

use crate::config::{AdminPortal, PortalSource, SourceError};
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
            cached: Mutex::new(None),
        }
    }

    async fn fetch(&self) -> Result<AdminPortal, SourceError> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
            .map_err(|err| {
                let err = err.into_service_error();
                SourceError::Unavailable(err.meta().code().unwrap_or("no response").to_owned())
            })?;
        let json = output
            .secret_string()
            .ok_or_else(|| SourceError::BadSecret("the secret has no SecretString".to_owned()))?;
        AdminPortal::from_secret_json(json)
    }
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
}
