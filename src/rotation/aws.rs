//! The `SecretStore` of AWS Secrets Manager, through the SDK client `main` builds.

use super::event::RotationToken;
use super::store::{
    AWSCURRENT, AWSPENDING, SecretDescription, SecretStore, SecretText, StoreError, Version,
};
use crate::portal::SourceError;
use crate::secrets_manager::source_error;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};

/// Secrets Manager, written through the SDK.
#[derive(Debug, Clone)]
pub struct SecretsManagerStore {
    client: Client,
}

impl SecretsManagerStore {
    /// A store on `client`; nothing is called until a rotation step runs.
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

/// The service's error code, or what kept the call from getting one (as the configuration
/// read says it); never the message, which may quote the request.
fn failure<E: ProvideErrorMetadata, R>(
    operation: &'static str,
    err: &SdkError<E, R>,
) -> StoreError {
    let code = match source_error(err) {
        SourceError::Unavailable(code) => code,
        SourceError::TimedOut => "timed out".to_owned(),
        SourceError::Unreachable(why) => why.to_owned(),
        SourceError::BadSecret(why) => why,
    };
    StoreError { operation, code }
}

impl SecretStore for SecretsManagerStore {
    async fn describe(&self, secret_id: &str) -> Result<SecretDescription, StoreError> {
        let output = self
            .client
            .describe_secret()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|err| failure("DescribeSecret", &err))?;
        let rules = output.rotation_rules();
        Ok(SecretDescription {
            arn: output.arn().map(str::to_owned),
            name: output.name().map(str::to_owned),
            // moto leaves the key out until rotation was first requested.
            rotation_enabled: output.rotation_enabled().unwrap_or(false),
            versions: output
                .version_ids_to_stages()
                .map(|map| map.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            rotate_after_days: rules.and_then(|r| r.automatically_after_days()),
            schedule_expression: rules
                .and_then(|r| r.schedule_expression())
                .map(str::to_owned),
        })
    }

    async fn value(
        &self,
        secret_id: &str,
        version: Version<'_>,
    ) -> Result<Option<SecretText>, StoreError> {
        let request = self.client.get_secret_value().secret_id(secret_id);
        // The stage is always named: moto answers a stageless call with the version it first
        // made current, even after a rotation moved AWSCURRENT.
        let request = match version {
            Version::Current => request.version_stage(AWSCURRENT),
            Version::Pending(id) => request.version_id(id).version_stage(AWSPENDING),
        };
        match request.send().await {
            Ok(output) => Ok(output.secret_string().map(SecretText::new)),
            // The pending version Secrets Manager made before createSecret has no value yet.
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(err) => Err(failure("GetSecretValue", &err)),
        }
    }

    async fn put_pending(
        &self,
        secret_id: &str,
        version_id: &str,
        rotation_token: Option<&RotationToken>,
        value: &SecretText,
    ) -> Result<(), StoreError> {
        self.client
            .put_secret_value()
            .secret_id(secret_id)
            // Always this version's id: the SDK would otherwise make up an idempotency token.
            .client_request_token(version_id)
            .secret_string(value.expose())
            .version_stages(AWSPENDING)
            .set_rotation_token(rotation_token.map(|t| t.expose().to_owned()))
            .send()
            .await
            .map(drop)
            .map_err(|err| failure("PutSecretValue", &err))
    }

    async fn update_stage(
        &self,
        secret_id: &str,
        stage: &str,
        move_to: Option<&str>,
        remove_from: Option<&str>,
    ) -> Result<(), StoreError> {
        self.client
            .update_secret_version_stage()
            .secret_id(secret_id)
            .version_stage(stage)
            .set_move_to_version_id(move_to.map(str::to_owned))
            .set_remove_from_version_id(remove_from.map(str::to_owned))
            .send()
            .await
            .map(drop)
            .map_err(|err| failure("UpdateSecretVersionStage", &err))
    }
}
