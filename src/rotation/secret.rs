//! One version of the secret as rotation reads and writes it: every field kept as it is, and
//! the admin portal configuration `secrets_manager::portal_from_secret` makes of it.

use super::RotationError;
use super::store::SecretText;
use crate::admin_api::CreatedToken;
use crate::portal::AdminPortal;
use crate::secrets_manager::portal_from_secret;
use crate::sensitive::AccessToken;
use serde_json::{Map, Value};

/// A version of the secret.
pub(super) struct Secret {
    /// Which version, for messages: "the current version", "the pending version".
    which: &'static str,
    fields: Map<String, Value>,
    pub(super) portal: AdminPortal,
}

impl Secret {
    /// Reads a version's JSON with the same rules as the webhook side.
    pub(super) fn parse(text: &SecretText, which: &'static str) -> Result<Self, RotationError> {
        let bad = |why: String| RotationError::BadSecret { which, why };
        let portal = portal_from_secret(text.expose()).map_err(|e| bad(e.to_string()))?;
        let fields = serde_json::from_str(text.expose())
            .map_err(|_| bad("it is not a JSON object".to_owned()))?;
        Ok(Self {
            which,
            fields,
            portal,
        })
    }

    /// The version's maintenance token.
    pub(super) fn token(&self) -> Result<&AccessToken, RotationError> {
        self.portal
            .maintenance_token()
            .ok_or(RotationError::NoMaintenanceToken(self.which))
    }

    /// The id of the version's maintenance token, which rotation always writes.
    pub(super) fn token_id(&self) -> Result<u64, RotationError> {
        self.portal
            .maintenance_token_id()
            .ok_or_else(|| RotationError::BadSecret {
                which: self.which,
                why: "it has no maintenance_token_id".to_owned(),
            })
    }

    /// The same JSON with `token` as the maintenance token: every other field as it was.
    pub(super) fn with_token(&self, token: &CreatedToken) -> SecretText {
        let mut fields = self.fields.clone();
        fields.insert(
            "maintenance_token".to_owned(),
            Value::from(token.value.expose()),
        );
        fields.insert("maintenance_token_id".to_owned(), Value::from(token.id.0));
        SecretText::new(Value::Object(fields).to_string())
    }

    /// Every field but the two rotation writes.
    #[cfg(test)]
    fn others(&self) -> Map<String, Value> {
        let mut fields = self.fields.clone();
        fields.remove("maintenance_token");
        fields.remove("maintenance_token_id");
        fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin_api::TokenId;

    #[test]
    fn only_the_two_token_fields_change() {
        let text = SecretText::new(
            r#"{"admin_url":"https://acme-admin.3scale.net","webhook_secret":"s3",
                "maintenance_token":"0ld","nested":{"a":[1,2.5,null,"x"]},"note":"kept"}"#,
        );
        let current = Secret::parse(&text, "the current version").expect("valid");
        assert_eq!(current.token().map(AccessToken::expose), Ok("0ld"));
        let created = CreatedToken {
            id: TokenId(77),
            value: AccessToken::parse("n3w").expect("token"),
            expires_at: None,
        };
        let next =
            Secret::parse(&current.with_token(&created), "the pending version").expect("valid");
        assert_eq!(next.token().map(AccessToken::expose), Ok("n3w"));
        assert_eq!(next.portal.maintenance_token_id(), Some(77));
        assert_eq!(next.others(), current.others());
        assert_eq!(next.others().len(), 4);
        assert!(!format!("{:?}", current.with_token(&created)).contains("n3w"));

        let none = SecretText::new(r#"{"admin_url":"https://acme-admin.3scale.net"}"#);
        let secret = Secret::parse(&none, "the current version").expect("valid");
        assert_eq!(
            secret.token().err(),
            Some(RotationError::NoMaintenanceToken("the current version"))
        );
        let err = Secret::parse(&SecretText::new(r#"["leaky"]"#), "the current version")
            .err()
            .expect("not an object");
        assert!(!err.to_string().contains("leaky"), "{err}");
    }
}
