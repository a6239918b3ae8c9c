//! The admin portal configuration from AWS Secrets Manager: a JSON secret, its shape, and a
//! per-instance cache whose reads are bounded and shared.

use crate::portal::{AdminPortal, PortalSource, SecretRequirements, SourceError};
use crate::tls::{AdminCa, SECRETS_MANAGER_BOUND};
use aws_sdk_secretsmanager::Client as SecretsManagerClient;
use aws_sdk_secretsmanager::error::SdkError;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

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
    // Held only to look or to store, never across a read: a slow Secrets Manager must not
    // queue every delivery of the instance behind it.
    cache: Mutex<Cache>,
}

#[derive(Debug, Default)]
struct Cache {
    current: Option<(Instant, Arc<AdminPortal>)>,
    /// The read under way: concurrent cold requests wait for this one instead of each reading.
    read: Option<Arc<Read>>,
}

/// One read of the secret, shared by every request that waits for it.
type Read = OnceCell<Result<Arc<AdminPortal>, SourceError>>;

impl SecretsManagerPortal {
    /// A lazy source: nothing is fetched until the first request needs it.
    pub fn new(client: SecretsManagerClient, secret_id: impl Into<String>, ttl: Duration) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
            ttl,
            requirements: SecretRequirements::default(),
            cache: Mutex::default(),
        }
    }

    /// Refuses a secret that lacks what `requirements` name, as a bad secret.
    pub fn requiring(mut self, requirements: SecretRequirements) -> Self {
        self.requirements = requirements;
        self
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn fetch(&self) -> Result<AdminPortal, SourceError> {
        let call = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            // What GetSecretValue returns without a stage; moto needs it said once a rotation
            // has moved the stage (it keeps answering the version it first made current).
            .version_stage("AWSCURRENT")
            .send();
        // The SDK's own timeouts bound it already (tls::aws_config_loader); this holds for any
        // client, however it was configured.
        let output = tokio::time::timeout(SECRETS_MANAGER_BOUND.total, call)
            .await
            .map_err(|_| SourceError::TimedOut)?
            .map_err(|err| source_error(&err))?;
        let json = output
            .secret_string()
            .ok_or_else(|| SourceError::BadSecret("the secret has no SecretString".to_owned()))?;
        let portal = portal_from_secret(json)?;
        self.requirements.check(&portal)?;
        Ok(portal)
    }

    /// Reads the secret and stores what it gives: a new value, or the cached one kept.
    async fn read_and_store(&self, read: &Arc<Read>) -> Result<Arc<AdminPortal>, SourceError> {
        let fetched = self.fetch().await;
        let mut cache = self.cache();
        if cache.read.as_ref().is_some_and(|r| Arc::ptr_eq(r, read)) {
            cache.read = None;
        }
        match fetched {
            Ok(portal) => {
                let portal = Arc::new(portal);
                cache.current = Some((Instant::now(), Arc::clone(&portal)));
                tracing::info!(
                    secret_ttl_s = self.ttl.as_secs(),
                    admin_ca = portal.admin_ca().map(AdminCa::fingerprint),
                    "admin portal configuration loaded"
                );
                Ok(portal)
            }
            // A refresh that fails keeps the last good value for another TTL: a Secrets
            // Manager blip must not stop revocations, nor turn every request into a retry.
            // Only a cold instance with nothing cached reports the error.
            Err(err) => match cache.current.take() {
                Some((_, stale)) => {
                    tracing::warn!(error = %err, "refreshing the admin portal configuration failed; using the cached one");
                    cache.current = Some((Instant::now(), Arc::clone(&stale)));
                    Ok(stale)
                }
                None => Err(err),
            },
        }
    }
}

/// An SDK error as a [`SourceError`]: its kind, and the service's error code if it answered.
/// The rotation's secret store reads its failures the same way.
pub(crate) fn source_error<E: aws_sdk_secretsmanager::error::ProvideErrorMetadata, R>(
    err: &SdkError<E, R>,
) -> SourceError {
    match err {
        SdkError::TimeoutError(_) => SourceError::TimedOut,
        SdkError::DispatchFailure(failure) if failure.is_timeout() => SourceError::TimedOut,
        SdkError::DispatchFailure(failure) if failure.is_io() => {
            SourceError::Unreachable("the connection failed")
        }
        SdkError::DispatchFailure(_) => SourceError::Unreachable("the request was not sent"),
        SdkError::ResponseError(_) => SourceError::Unreachable("its answer could not be read"),
        SdkError::ServiceError(service) => SourceError::Unavailable(
            service
                .err()
                .code()
                .unwrap_or("an unnamed error")
                .to_owned(),
        ),
        _ => SourceError::Unavailable("the request could not be built".to_owned()),
    }
}

/// The secret's JSON: `{"admin_url", "webhook_secret", "maintenance_token", "maintenance_token_id",
/// "admin_ca_pem"}`.
#[derive(serde::Deserialize)]
struct SecretJson {
    admin_url: String,
    #[serde(default)]
    webhook_secret: Option<String>,
    #[serde(default)]
    maintenance_token: Option<String>,
    #[serde(default)]
    admin_ca_pem: Option<String>,
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
    let admin_ca = admin_ca(shape.admin_ca_pem.as_deref())?;
    AdminPortal::new(&shape.admin_url, shape.webhook_secret.as_deref())
        .and_then(|portal| portal.with_maintenance_token(shape.maintenance_token.as_deref()))
        .map(|portal| {
            portal
                .with_maintenance_token_id(maintenance_token_id)
                .with_admin_ca(admin_ca)
        })
        .map_err(|e| SourceError::BadSecret(e.to_string()))
}

/// `admin_ca_pem`, checked once here rather than at the first handshake; empty is none.
fn admin_ca(pem: Option<&str>) -> Result<Option<AdminCa>, SourceError> {
    match pem.map(str::trim).filter(|pem| !pem.is_empty()) {
        None => Ok(None),
        Some(pem) => AdminCa::from_pem(pem)
            .map(Some)
            .map_err(|e| SourceError::BadSecret(format!("admin_ca_pem {e}"))),
    }
}

impl PortalSource for SecretsManagerPortal {
    async fn admin_portal(&self) -> Result<Arc<AdminPortal>, SourceError> {
        let read = {
            let mut cache = self.cache();
            match (&cache.current, &cache.read) {
                (Some((fetched_at, portal)), _) if fetched_at.elapsed() < self.ttl => {
                    return Ok(Arc::clone(portal));
                }
                // Another request is refreshing: the value it replaces is still good for this one.
                (Some((_, stale)), Some(_)) => return Ok(Arc::clone(stale)),
                (None, Some(read)) => Arc::clone(read),
                (_, None) => Arc::clone(cache.read.insert(Arc::default())),
            }
        };
        // Whoever gets here first reads; the others wait for that one read, which is bounded.
        read.get_or_init(|| self.read_and_store(&read))
            .await
            .clone()
    }

    /// Reads the secret now whatever the cache's age, and caches it; a failure keeps the cache.
    /// Bounded as any read; not shared with one under way, which may answer with the cache.
    async fn refresh(&self) -> Result<Arc<AdminPortal>, SourceError> {
        let portal = Arc::new(self.fetch().await?);
        self.cache().current = Some((Instant::now(), Arc::clone(&portal)));
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

    #[test]
    fn admin_ca_pem_is_read_once_here_and_never_echoed() {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let pem = params.self_signed(&key).expect("CA").pem();
        let json = |pem: &str| {
            serde_json::json!({"admin_url": "https://acme-admin.3scale.net", "admin_ca_pem": pem})
                .to_string()
        };
        let with_ca = portal_from_secret(&json(&pem)).expect("valid");
        assert_eq!(
            with_ca.admin_ca().map(|ca| ca.certificates().len()),
            Some(1)
        );
        assert!(!format!("{with_ca:?}").contains("BEGIN"));
        assert!(
            portal_from_secret(&json("  "))
                .expect("empty is none")
                .admin_ca()
                .is_none()
        );
        let err = portal_from_secret(&json("c2VjcmV0LWlzaA==")).expect_err("no certificate");
        assert_eq!(
            err,
            SourceError::BadSecret("admin_ca_pem holds no PEM certificate".to_owned())
        );
    }
}
