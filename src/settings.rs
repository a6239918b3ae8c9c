//! Settings from the environment, read once at cold start: which events to act on, which extra
//! fields to read, and where the admin portal configuration comes from.

use crate::portal::{AdminPortal, PortalError, SecretRequirements};
use std::sync::Arc;
use std::time::Duration;

/// Extra field that holds the token unless `TOKEN_FIELD` says otherwise.
pub const DEFAULT_TOKEN_FIELD: &str = "token_value";
/// Extra field that may hold the token's numeric id unless `TOKEN_ID_FIELD` says otherwise.
pub const DEFAULT_TOKEN_ID_FIELD: &str = "token_id";
/// Events acted on unless `REVOKE_ON` says otherwise.
pub const DEFAULT_REVOKE_ON: &str = "application:created";
/// Secret cache lifetime unless `SECRET_TTL_SECONDS` says otherwise.
pub const DEFAULT_SECRET_TTL: Duration = Duration::from_secs(300);

/// Everything read from environment variables at cold start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where the admin portal configuration comes from.
    pub portal: PortalOrigin,
    /// Name of the application extra field that carries the token.
    pub token_field: String,
    /// Name of the application extra field that may carry the token's numeric id.
    pub token_id_field: String,
    /// Which `type:action` events trigger a revocation.
    pub revoke_on: EventFilter,
    /// How long a fetched secret is trusted before it is fetched again.
    pub secret_ttl: Duration,
    /// Decide and log, but never call the admin API.
    pub dry_run: bool,
    /// After a revocation, empty the token (and id) field with the maintenance token.
    pub clear_token_field: bool,
    /// Serve a secret without `webhook_secret`: anyone who can reach the URL may post events.
    pub allow_unauthenticated_webhooks: bool,
    /// The Lambda function's name (`AWS_LAMBDA_FUNCTION_NAME`), the metrics' dimension.
    pub function_name: String,
}

/// Where the admin portal configuration comes from: Secrets Manager, or the environment.
#[derive(Debug, Clone)]
pub enum PortalOrigin {
    /// `THREESCALE_SECRET_ID`: a JSON secret in Secrets Manager.
    SecretsManager {
        /// Secret name or ARN.
        secret_id: String,
    },
    /// `THREESCALE_ADMIN_URL` (+ `WEBHOOK_SECRET`), for local runs.
    Environment(Arc<AdminPortal>),
}

/// A setting that cannot be used; names the variable, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Neither `THREESCALE_SECRET_ID` nor `THREESCALE_ADMIN_URL` is set.
    #[error("set THREESCALE_SECRET_ID (production) or THREESCALE_ADMIN_URL (local runs)")]
    NoPortal,
    /// A variable has a value that cannot be parsed.
    #[error("{name} is invalid: {why}")]
    Invalid {
        /// The variable's name.
        name: &'static str,
        /// What is wrong, without the value.
        why: String,
    },
}

impl Settings {
    /// Reads settings through `var` (pass `|k| std::env::var(k).ok()` in production).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let portal = match (get("THREESCALE_SECRET_ID"), get("THREESCALE_ADMIN_URL")) {
            (Some(secret_id), _) => PortalOrigin::SecretsManager { secret_id },
            (None, Some(admin_url)) => PortalOrigin::Environment(Arc::new(
                AdminPortal::new(&admin_url, get("WEBHOOK_SECRET").as_deref())
                    .map_err(|why| ConfigError::Invalid {
                        name: match why {
                            PortalError::WebhookSecretCharacters => "WEBHOOK_SECRET",
                            _ => "THREESCALE_ADMIN_URL",
                        },
                        why: why.to_string(),
                    })?
                    .with_maintenance_token(get("MAINTENANCE_TOKEN").as_deref())
                    .map_err(|why| ConfigError::Invalid {
                        name: "MAINTENANCE_TOKEN",
                        why: why.to_string(),
                    })?,
            )),
            (None, None) => return Err(ConfigError::NoPortal),
        };

        let Watched {
            token_field,
            token_id_field,
            revoke_on,
        } = Watched::from_lookup(get)?;
        let secret_ttl = match get("SECRET_TTL_SECONDS") {
            None => DEFAULT_SECRET_TTL,
            Some(v) => Duration::from_secs(v.parse().map_err(|_| ConfigError::Invalid {
                name: "SECRET_TTL_SECONDS",
                why: "expected a whole number of seconds".to_owned(),
            })?),
        };
        let flag = |name: &'static str| match get(name).map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("false" | "0" | "no" | "off") => Ok(false),
            Some("true" | "1" | "yes" | "on") => Ok(true),
            Some(_) => Err(ConfigError::Invalid {
                name,
                why: "expected true or false".to_owned(),
            }),
        };
        let dry_run = flag("DRY_RUN")?;
        let clear_token_field = flag("CLEAR_TOKEN_FIELD")?;
        let allow_unauthenticated_webhooks = flag("ALLOW_UNAUTHENTICATED_WEBHOOKS")?;
        if let PortalOrigin::Environment(portal) = &portal
            && clear_token_field
            && portal.maintenance_token().is_none()
        {
            // Said once at start, not as a warning on every delivery.
            return Err(ConfigError::Invalid {
                name: "CLEAR_TOKEN_FIELD",
                why: "needs MAINTENANCE_TOKEN, which empties the field".to_owned(),
            });
        }
        let function_name =
            get("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| env!("CARGO_PKG_NAME").to_owned());
        Ok(Self {
            function_name,
            portal,
            token_field,
            token_id_field,
            revoke_on,
            secret_ttl,
            dry_run,
            clear_token_field,
            allow_unauthenticated_webhooks,
        })
    }
}

/// What the function watches for: the events that revoke (`REVOKE_ON`), and the application
/// extra fields that carry the token (`TOKEN_FIELD`, `TOKEN_ID_FIELD`). `revoker` reads them
/// exactly as the function does, to set 3scale up for them.
#[derive(Debug, Clone)]
pub struct Watched {
    /// Name of the application extra field that carries the token.
    pub token_field: String,
    /// Name of the application extra field that may carry the token's numeric id.
    pub token_id_field: String,
    /// Which `type:action` events trigger a revocation.
    pub revoke_on: EventFilter,
}

impl Watched {
    /// Reads the three variables through `var`; blank is unset.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let token_field = get("TOKEN_FIELD").unwrap_or_else(|| DEFAULT_TOKEN_FIELD.to_owned());
        let token_id_field =
            get("TOKEN_ID_FIELD").unwrap_or_else(|| DEFAULT_TOKEN_ID_FIELD.to_owned());
        if token_id_field == token_field {
            return Err(ConfigError::Invalid {
                name: "TOKEN_ID_FIELD",
                why: "must differ from TOKEN_FIELD".to_owned(),
            });
        }
        let revoke_on = EventFilter::parse(
            get("REVOKE_ON").as_deref().unwrap_or(DEFAULT_REVOKE_ON),
        )
        .map_err(|why| ConfigError::Invalid {
            name: "REVOKE_ON",
            why,
        })?;
        Ok(Self {
            token_field,
            token_id_field,
            revoke_on,
        })
    }
}

impl Settings {
    /// What a secret read from Secrets Manager must hold for these settings.
    pub fn secret_requirements(&self) -> SecretRequirements {
        SecretRequirements {
            webhook_secret: !self.allow_unauthenticated_webhooks,
            maintenance_token: self.clear_token_field,
        }
    }
}

/// The set of `type:action` pairs that trigger a revocation; `*` matches any action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFilter(Vec<(String, String)>);

impl EventFilter {
    /// Parses a comma list such as `application:created,application:updated`.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut pairs = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (event_type, action) = entry
                .split_once(':')
                .map(|(t, a)| (t.trim(), a.trim()))
                .filter(|(t, a)| !t.is_empty() && !a.is_empty())
                .ok_or_else(|| {
                    format!("entry {} is not of the form type:action", pairs.len() + 1)
                })?;
            pairs.push((event_type.to_owned(), action.to_owned()));
        }
        if pairs.is_empty() {
            return Err("no type:action entries".to_owned());
        }
        Ok(Self(pairs))
    }

    /// Each `(type, action)` entry, in the order given; `action` may be `*`.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(t, a)| (t.as_str(), a.as_str()))
    }

    /// Whether an event of this type and action should revoke its token.
    pub fn matches(&self, event_type: &str, action: &str) -> bool {
        self.0
            .iter()
            .any(|(t, a)| t == event_type && (a == action || a == "*"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_apply_when_only_the_admin_url_is_set() {
        let s = settings(&[("THREESCALE_ADMIN_URL", "http://127.0.0.1:9001")]).expect("valid");
        assert_eq!(s.token_field, "token_value");
        assert_eq!(s.token_id_field, "token_id");
        assert_eq!(s.secret_ttl, Duration::from_secs(300));
        assert!(!s.dry_run);
        assert!(s.revoke_on.matches("application", "created"));
        assert!(!s.revoke_on.matches("application", "updated"));
        assert!(matches!(s.portal, PortalOrigin::Environment(_)));
    }

    #[test]
    fn secret_id_wins_over_the_admin_url() {
        let s = settings(&[
            ("THREESCALE_SECRET_ID", "threescale/admin"),
            ("THREESCALE_ADMIN_URL", "http://127.0.0.1:9001"),
        ])
        .expect("valid");
        assert!(
            matches!(s.portal, PortalOrigin::SecretsManager { ref secret_id } if secret_id == "threescale/admin")
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        assert_eq!(settings(&[]).err(), Some(ConfigError::NoPortal));
        let base = ("THREESCALE_ADMIN_URL", "http://127.0.0.1:9001");
        for (name, value) in [
            ("REVOKE_ON", "application"),
            ("REVOKE_ON", " , "),
            ("SECRET_TTL_SECONDS", "five"),
            ("DRY_RUN", "maybe"),
            ("CLEAR_TOKEN_FIELD", "sometimes"),
            ("MAINTENANCE_TOKEN", "not a token!"),
            ("CLEAR_TOKEN_FIELD", "true"),
            ("ALLOW_UNAUTHENTICATED_WEBHOOKS", "perhaps"),
            ("WEBHOOK_SECRET", "with+plus"),
            ("TOKEN_ID_FIELD", "token_value"),
        ] {
            match settings(&[base, (name, value)]) {
                Err(ConfigError::Invalid { name: got, .. }) => assert_eq!(got, name),
                other => panic!("{name}={value}: {other:?}"),
            }
        }
        let err = settings(&[(
            "THREESCALE_ADMIN_URL",
            "https://tok:pw@acme-admin.3scale.net",
        )])
        .expect_err("credentials refused");
        assert!(!err.to_string().contains("tok:pw"), "{err}");
    }

    #[test]
    fn revoke_on_takes_lists_and_wildcards() {
        let f =
            EventFilter::parse(" application:created , application:* ,user:deleted").expect("ok");
        assert!(f.matches("application", "created"));
        assert!(f.matches("application", "updated"));
        assert!(f.matches("user", "deleted"));
        assert!(!f.matches("account", "created"));
    }
}
