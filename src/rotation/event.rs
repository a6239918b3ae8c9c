//! The event Secrets Manager invokes a rotation function with:
//! `{"Step", "SecretId", "ClientRequestToken", "RotationToken"?}`. `aws_lambda_events`' type
//! has no `RotationToken`, hence this one.

use super::RotationError;
use serde::Deserialize;
use serde_json::Value;
use std::fmt;

/// The rotation step Secrets Manager asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Make the new version (AWSPENDING): here, a new 3scale token.
    Create,
    /// Set the pending value in the service: a 3scale token is live when created.
    Set,
    /// Check that the pending value works.
    Test,
    /// Move AWSCURRENT to the new version; here, also delete the old token.
    Finish,
}

impl Step {
    /// The step as Secrets Manager and AWS's rotation templates spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Create => "createSecret",
            Self::Set => "setSecret",
            Self::Test => "testSecret",
            Self::Finish => "finishSecret",
        }
    }

    /// The templates' camelCase, and the snake_case of the user guide's event description.
    fn parse(text: &str) -> Option<Self> {
        match text {
            "createSecret" | "create_secret" => Some(Self::Create),
            "setSecret" | "set_secret" => Some(Self::Set),
            "testSecret" | "test_secret" => Some(Self::Test),
            "finishSecret" | "finish_secret" => Some(Self::Finish),
            _ => None,
        }
    }
}

/// The `RotationToken` Secrets Manager may send, for PutSecretValue; never logged (the SDK
/// marks it sensitive).
#[derive(Clone, PartialEq, Eq)]
pub struct RotationToken(String);

impl RotationToken {
    /// The token, for the one call that takes it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RotationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RotationToken(<redacted>)")
    }
}

/// One rotation invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationEvent {
    /// What to do.
    pub step: Step,
    /// The secret's ARN (Secrets Manager) or name (moto).
    pub secret_id: String,
    /// `ClientRequestToken`: the id of the secret version this rotation makes.
    pub version_id: String,
    /// Passed on to PutSecretValue when present.
    pub rotation_token: Option<RotationToken>,
}

#[derive(Deserialize)]
struct Raw {
    #[serde(rename = "Step")]
    step: Option<String>,
    #[serde(rename = "SecretId")]
    secret_id: Option<String>,
    #[serde(rename = "ClientRequestToken")]
    client_request_token: Option<String>,
    #[serde(rename = "RotationToken")]
    rotation_token: Option<String>,
}

impl RotationEvent {
    /// Reads the event; each refusal names the field, never its value.
    pub fn parse(payload: Value) -> Result<Self, RotationError> {
        let raw: Raw = serde_json::from_value(payload)
            .map_err(|_| RotationError::MalformedEvent("its fields are not all strings"))?;
        let present = |value: Option<String>, missing| {
            value
                .filter(|v| !v.trim().is_empty())
                .ok_or(RotationError::MalformedEvent(missing))
        };
        let step = present(raw.step, "it has no Step")?;
        let secret_id = present(raw.secret_id, "it has no SecretId")?;
        let version_id = present(raw.client_request_token, "it has no ClientRequestToken")?;
        let step = Step::parse(&step).ok_or(RotationError::UnknownStep)?;
        // Secrets Manager's version ids are 32 to 64 characters; this one goes into a token
        // name and a listing filter.
        if version_id.len() > 64 || !version_id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(RotationError::MalformedEvent(
                "its ClientRequestToken is not a version id",
            ));
        }
        Ok(Self {
            step,
            secret_id,
            version_id,
            rotation_token: raw
                .rotation_token
                .filter(|t| !t.is_empty())
                .map(RotationToken),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_are_read_as_secrets_manager_sends_them() {
        let event = RotationEvent::parse(json!({
            "Step": "createSecret",
            "SecretId": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbC123",
            "ClientRequestToken": "0b0e2c1a-6a55-4c3e-9b6e-3f4f3a2a1b0c",
            "RotationToken": "r0tation-t0ken",
        }))
        .expect("valid");
        assert_eq!(event.step, Step::Create);
        assert_eq!(
            event.rotation_token.as_ref().map(RotationToken::expose),
            Some("r0tation-t0ken")
        );
        assert!(!format!("{event:?}").contains("r0tation-t0ken"));
        let snake = json!({"Step": "finish_secret", "SecretId": "s", "ClientRequestToken": "t"});
        assert_eq!(
            RotationEvent::parse(snake).map(|e| e.step),
            Ok(Step::Finish)
        );

        for (payload, expected) in [
            (
                json!({"SecretId": "s", "ClientRequestToken": "t"}),
                RotationError::MalformedEvent("it has no Step"),
            ),
            (
                json!({"Step": "setSecret", "ClientRequestToken": "t"}),
                RotationError::MalformedEvent("it has no SecretId"),
            ),
            (
                json!({"Step": "setSecret", "SecretId": "s", "ClientRequestToken": " "}),
                RotationError::MalformedEvent("it has no ClientRequestToken"),
            ),
            (
                json!({"Step": "rotateSecret", "SecretId": "s", "ClientRequestToken": "t"}),
                RotationError::UnknownStep,
            ),
            (
                json!({"Step": 1, "SecretId": "s", "ClientRequestToken": "t"}),
                RotationError::MalformedEvent("its fields are not all strings"),
            ),
            (
                json!({"Step": "testSecret", "SecretId": "s", "ClientRequestToken": "a b"}),
                RotationError::MalformedEvent("its ClientRequestToken is not a version id"),
            ),
        ] {
            assert_eq!(
                RotationEvent::parse(payload.clone()),
                Err(expected),
                "{payload}"
            );
        }
    }
}
