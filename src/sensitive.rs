//! Types that hold secrets and never print them.

use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

/// Longest personal access token accepted; 3scale issues 64 hex characters.
pub const MAX_TOKEN_LEN: usize = 256;

/// A 3scale personal access token taken from an application's extra field.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

/// Why a value cannot be a 3scale personal access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The field was present but blank.
    #[error("the token is empty")]
    Empty,
    /// Longer than [`MAX_TOKEN_LEN`].
    #[error("the token is longer than {MAX_TOKEN_LEN} characters")]
    TooLong,
    /// Has a character outside `[A-Za-z0-9_-]`.
    #[error("the token has characters outside [A-Za-z0-9_-]")]
    BadCharacter,
}

impl AccessToken {
    /// Accepts only what can be a 3scale token, so it is safe in a URL path segment.
    ///
    /// ```
    /// use access_token_revoker::sensitive::{AccessToken, TokenError};
    ///
    /// let token = AccessToken::parse("f00dfeed_0123-ab").unwrap();
    /// assert!(!format!("{token:?}").contains("f00dfeed"));
    /// assert_eq!(AccessToken::parse("../admin").unwrap_err(), TokenError::BadCharacter);
    /// ```
    pub fn parse(value: &str) -> Result<Self, TokenError> {
        if value.is_empty() {
            return Err(TokenError::Empty);
        }
        if value.len() > MAX_TOKEN_LEN {
            return Err(TokenError::TooLong);
        }
        if !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(TokenError::BadCharacter);
        }
        Ok(Self(value.to_owned()))
    }

    /// The token itself, for the one place that must send it: the revoke call.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A short, stable, non-reversible tag for correlating log lines.
    pub fn fingerprint(&self) -> String {
        fingerprint(self.0.as_bytes())
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccessToken(sha256:{})", self.fingerprint())
    }
}

/// The webhook shared secret that 3scale sends as the `secret` query parameter.
#[derive(Clone)]
pub struct SharedSecret(String);

impl SharedSecret {
    /// Wraps a configured secret; an empty string means "no secret".
    pub fn new(value: impl Into<String>) -> Option<Self> {
        let value = value.into();
        (!value.is_empty()).then_some(Self(value))
    }

    /// The secret itself, for the one place that must write it: the webhook URL `revoker setup`
    /// gives 3scale.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Only RFC 3986's unreserved characters: what every API Gateway passes through a query
    /// string unchanged (an HTTP API decodes `+` as a space, and `%XX`).
    pub fn survives_a_query_string(&self) -> bool {
        self.0
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
    }

    /// Constant-time check; hashing first keeps the length of the secret from leaking too.
    pub fn matches(&self, presented: &str) -> bool {
        let expected = Sha256::digest(self.0.as_bytes());
        let presented = Sha256::digest(presented.as_bytes());
        expected.ct_eq(&presented).into()
    }
}

impl fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedSecret(<redacted>)")
    }
}

/// First 8 hex digits of SHA-256: enough to correlate, far too few to recover a token.
pub fn fingerprint(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_3scale_token() {
        let raw = "2f1c7e5d9a0b4c3d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d";
        let token = AccessToken::parse(raw).expect("valid token");
        assert_eq!(token.expose(), raw);
    }

    #[test]
    fn rejects_what_cannot_be_a_token() {
        assert_eq!(AccessToken::parse(""), Err(TokenError::Empty));
        assert_eq!(
            AccessToken::parse(&"a".repeat(257)),
            Err(TokenError::TooLong)
        );
        assert!(AccessToken::parse(&"a".repeat(256)).is_ok());
        for bad in [
            "../admin",
            "a b",
            "tok%2F",
            "tok/en",
            "tök",
            "a.json?x=1",
            "a\n",
        ] {
            assert_eq!(
                AccessToken::parse(bad),
                Err(TokenError::BadCharacter),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn debug_never_shows_the_token_or_secret() {
        let token = AccessToken::parse("supersecrettokenvalue").expect("valid token");
        let shown = format!("{token:?}");
        assert!(!shown.contains("supersecrettokenvalue"), "{shown}");
        assert!(shown.contains(&token.fingerprint()));
        let secret = SharedSecret::new("hunter2").expect("non-empty");
        assert!(!format!("{secret:?}").contains("hunter2"));
    }

    #[test]
    fn shared_secret_compares_whole_values() {
        let secret = SharedSecret::new("s3cret-value").expect("non-empty");
        assert!(secret.matches("s3cret-value"));
        assert!(!secret.matches("s3cret-valu"));
        assert!(!secret.matches("s3cret-value "));
        assert!(!secret.matches(""));
        assert!(SharedSecret::new("").is_none());
    }

    #[test]
    fn fingerprint_is_short_and_stable() {
        assert_eq!(fingerprint(b"abc"), "ba7816bf");
        assert_ne!(fingerprint(b"abc"), fingerprint(b"abd"));
    }
}
