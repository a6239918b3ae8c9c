//! Writing the secret: the capability rotation alone has. The webhook-facing code reads the
//! secret through `PortalSource`; only the rotation door is handed a `SecretStore`, and in AWS
//! only the rotation function's role may call the writing operations.

use super::event::RotationToken;
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;

/// The stage clients read.
pub const AWSCURRENT: &str = "AWSCURRENT";
/// The stage of the version a rotation is making.
pub const AWSPENDING: &str = "AWSPENDING";

/// A secret's JSON text; `Debug` shows its length only.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretText(String);

impl SecretText {
    /// Wraps a secret's value.
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The text, to parse or to send.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretText({} bytes)", self.0.len())
    }
}

/// Which version's value to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version<'a> {
    /// The version clients read now (`AWSCURRENT`, always named: see `aws`).
    Current,
    /// The version with this id, if it holds `AWSPENDING`.
    Pending(&'a str),
}

/// What DescribeSecret says about the secret, as rotation needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretDescription {
    /// Its ARN.
    pub arn: Option<String>,
    /// Its name.
    pub name: Option<String>,
    /// Whether rotation is turned on (absent counts as off).
    pub rotation_enabled: bool,
    /// Every version id and its stages.
    pub versions: BTreeMap<String, Vec<String>>,
    /// `RotationRules.AutomaticallyAfterDays`.
    pub rotate_after_days: Option<i64>,
    /// `RotationRules.ScheduleExpression`, such as `rate(30 days)`.
    pub schedule_expression: Option<String>,
}

impl SecretDescription {
    /// The stages of a version, if the secret has it.
    pub fn stages(&self, version_id: &str) -> Option<&[String]> {
        self.versions.get(version_id).map(Vec::as_slice)
    }

    /// The version that holds `stage`.
    pub fn holder_of(&self, stage: &str) -> Option<&str> {
        self.versions
            .iter()
            .find(|(_, stages)| stages.iter().any(|s| s == stage))
            .map(|(id, _)| id.as_str())
    }
}

/// A Secrets Manager call that failed: the operation and the service's error code, never a
/// value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Secrets Manager {operation} failed: {code}")]
pub struct StoreError {
    /// `DescribeSecret`, `GetSecretValue`, `PutSecretValue` or `UpdateSecretVersionStage`.
    pub operation: &'static str,
    /// The error code (`AccessDeniedException`, …) or what went wrong on the way.
    pub code: String,
}

impl StoreError {
    /// The caller's role may not do this: the webhook-facing function was asked to rotate.
    pub fn is_access_denied(&self) -> bool {
        self.code == "AccessDeniedException"
    }
}

/// The four Secrets Manager operations of AWS's rotation template, on one secret.
pub trait SecretStore: Send + Sync {
    /// `DescribeSecret`.
    fn describe(
        &self,
        secret_id: &str,
    ) -> impl Future<Output = Result<SecretDescription, StoreError>> + Send;

    /// `GetSecretValue` of a version; `None` when it has no value (ResourceNotFoundException).
    fn value(
        &self,
        secret_id: &str,
        version: Version<'_>,
    ) -> impl Future<Output = Result<Option<SecretText>, StoreError>> + Send;

    /// `PutSecretValue` of version `version_id` with stage `AWSPENDING`.
    fn put_pending(
        &self,
        secret_id: &str,
        version_id: &str,
        rotation_token: Option<&RotationToken>,
        value: &SecretText,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// `UpdateSecretVersionStage`: moves `stage` to `move_to`, off `remove_from`.
    fn update_stage(
        &self,
        secret_id: &str,
        stage: &str,
        move_to: Option<&str>,
        remove_from: Option<&str>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
