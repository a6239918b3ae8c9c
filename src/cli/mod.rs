//! `revoker`, the tool a 3scale admin runs: `setup` sets a tenant up for the function, `doctor`
//! checks that setup without changing it, `issue` creates a single-use token. The same library
//! as the function: its admin API client, its settings and its Secrets Manager source; the
//! Lambda never calls into this module.
//!
//! Every step writes one line to the [`Report`] (stderr in `revoker`), in the admin portal's
//! words. No token and no webhook secret ever appear in a line; only `issue` writes a token
//! value, to its own output.

pub mod config;
pub mod doctor;
pub mod issue;
mod report;
pub mod setup;
mod webhook_url;

pub use config::{Sources, Tenant};
pub use report::{Report, Status};

use crate::admin_api::answers::Probe;
use crate::admin_api::fields_definitions::APPLICATION;
use crate::admin_api::personal_tokens::{ACCOUNT_MANAGEMENT, READ_WRITE};
use crate::admin_api::web_hooks::{self, SWITCHES, switches_for};
use crate::admin_api::{
    FieldsDefinition, MaintenanceError, PersonalTokensApi, TokenApi, TokenInfo, WebhookPing,
};
use crate::outcome::Outcome;
use crate::sensitive::AccessToken;

/// What a refusal of porta's means, for the token described by `whose` ("the token").
fn refusal(err: &MaintenanceError, whose: &str) -> String {
    match err {
        MaintenanceError::Refused => format!(
            "3scale refused {whose} (Access denied): it is revoked or expired, or admin_url is \
             another tenant's admin portal"
        ),
        MaintenanceError::NotPermitted => format!(
            "3scale says {whose} does not have the correct permissions: it needs the Account \
             Management API scope and Read & Write"
        ),
        MaintenanceError::NotAllowed => format!(
            "3scale says {whose}'s user may not do this: it must be an admin of the tenant, with \
             webhooks allowed"
        ),
        MaintenanceError::NotFound => "the admin API answered 404: admin_url is not the tenant's \
             admin portal (a developer portal URL?)"
            .to_owned(),
        MaintenanceError::UnexpectedStatus(status) => format!("the admin API answered {status}"),
        MaintenanceError::Unprocessable(fields) if fields.is_empty() => {
            "3scale refused what was sent as invalid".to_owned()
        }
        MaintenanceError::Unprocessable(fields) => {
            format!("3scale refused the {} sent as invalid", fields.join(", "))
        }
        MaintenanceError::Unreadable(what) => (*what).to_owned(),
        MaintenanceError::BadInput(why) => (*why).to_owned(),
        MaintenanceError::Unavailable(why) => format!("{why} (after retries)"),
    }
}

/// The first check of every command that uses a token: `admin_url` is a 3scale admin portal
/// (a request without a token gets porta's own `Access denied`), and this tenant's: `token`'s
/// own listing answers 200. porta answers a token sent to a developer portal with 404, and one
/// sent to another tenant's admin portal with `Access denied`, like a dead token
/// (`lib/developer_portal/lib/site_account_support.rb`, `by_access_token.rb`).
async fn admin_portal(
    tenant: &Tenant,
    token: &AccessToken,
    whose: &str,
) -> Result<Vec<TokenInfo>, String> {
    let host = tenant.portal.admin_url().host_str().unwrap_or_default();
    match tenant.api.probe(&tenant.portal).await {
        Probe::AdminApi => {}
        Probe::NotAdminApi(what) => {
            return Err(format!(
                "{host} {what}: it is not a 3scale admin portal; set --admin-url to the tenant's, \
                 such as https://ACME-admin.3scale.net"
            ));
        }
        Probe::Unreachable(why) => return Err(format!("{host}: {why}")),
    }
    tenant
        .api
        .own_tokens(&tenant.portal, token, None)
        .await
        .map_err(|err| refusal(&err, whose))
}

/// Whether the listing proves the token that made it is Read Only: it has Account Management
/// (porta answered the listing), and every such token of its user is `ro`. 3scale does not say
/// which listed token made the call.
fn surely_read_only(tokens: &[TokenInfo]) -> bool {
    let mut managing = tokens
        .iter()
        .filter(|t| t.scopes.iter().any(|s| s == ACCOUNT_MANAGEMENT))
        .peekable();
    managing.peek().is_some() && managing.all(|t| t.permission != READ_WRITE)
}

/// Whether the listing proves it Read & Write: every Account Management token of the user is.
fn surely_read_write(tokens: &[TokenInfo]) -> bool {
    let mut managing = tokens
        .iter()
        .filter(|t| t.scopes.iter().any(|s| s == ACCOUNT_MANAGEMENT))
        .peekable();
    managing.peek().is_some() && managing.all(TokenInfo::can_manage_accounts)
}

/// The event switches `REVOKE_ON` needs, in 3scale's order; an entry no 3scale event matches
/// is an error that names it.
fn needed_switches(tenant: &Tenant) -> Result<Vec<&'static str>, String> {
    let mut needed = Vec::new();
    for (event_type, action) in tenant.watched.revoke_on.entries() {
        let switches = switches_for(event_type, action);
        if switches.is_empty() {
            return Err(format!(
                "REVOKE_ON names {event_type}:{action}, and 3scale has no webhook event of that                  type and action"
            ));
        }
        needed.extend(switches);
    }
    Ok(SWITCHES
        .iter()
        .map(|(switch, _)| *switch)
        .filter(|switch| needed.contains(switch))
        .collect())
}

/// The admin portal's words for these switches: `Application created, Application updated`.
fn labels(switches: &[&str]) -> String {
    switches
        .iter()
        .map(|switch| web_hooks::label(switch))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The application field definition named `name`, if the tenant has one.
fn application_field<'a>(
    definitions: &'a [FieldsDefinition],
    name: &str,
) -> Option<&'a FieldsDefinition> {
    definitions
        .iter()
        .find(|field| field.target == APPLICATION && field.name == name)
}

/// What is wrong with a field the function reads: shown to developers, or required of them.
fn field_problems(field: &FieldsDefinition) -> Vec<&'static str> {
    let mut problems = Vec::new();
    if !field.hidden {
        problems.push("visible to developers in the developer portal");
    }
    if field.required {
        problems.push("required");
    }
    problems
}

/// Whether the webhook answered as the function answers 3scale's Ping; else what it answered.
fn pong(ping: &WebhookPing) -> Result<(), String> {
    let (status, body) = match ping {
        WebhookPing::NoAnswer(why) => return Err(format!("no answer ({why})")),
        WebhookPing::Answered { status, body } => (*status, body),
    };
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    if status == 200 && json.as_ref() == Some(&Outcome::Pong.body()) {
        return Ok(());
    }
    let said = |key: &str| {
        json.as_ref()
            .and_then(|json| json.get(key))
            .and_then(serde_json::Value::as_str)
            .map(|text| text.chars().take(300).collect::<String>())
    };
    Err(match (status, said("error"), said("message")) {
        (401, Some(_), _) => "answered 401: the function refused the URL's secret, which is not              its webhook secret (WEBHOOK_SECRET, or the secret's webhook_secret)"
            .to_owned(),
        (_, Some(error), Some(message)) => format!("answered {status} {error}: {message}"),
        (_, Some(error), None) => format!("answered {status} {error}"),
        _ => format!(
            "answered {status}, not as the function answers: is the URL the stack's WebhookUrl?"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(permission: &str, scopes: &[&str]) -> TokenInfo {
        TokenInfo {
            id: 1,
            name: "t".to_owned(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            permission: permission.to_owned(),
            expires_at: None,
        }
    }

    #[test]
    fn the_listing_settles_the_permission_only_when_all_agree() {
        let rw = token("rw", &["account_management"]);
        let ro = token("ro", &["account_management", "stats"]);
        let stats_rw = token("rw", &["stats"]);
        assert!(surely_read_only(&[ro.clone(), stats_rw.clone()]));
        assert!(!surely_read_only(&[ro.clone(), rw.clone()]));
        assert!(surely_read_write(&[rw.clone(), stats_rw]));
        assert!(!surely_read_write(&[rw, ro]));
        assert!(!surely_read_only(&[]) && !surely_read_write(&[]));
    }

    #[test]
    fn only_the_functions_pong_is_a_pong() {
        let answered = |status, body: &str| WebhookPing::Answered {
            status,
            body: body.as_bytes().to_vec(),
        };
        assert_eq!(pong(&answered(200, r#"{"outcome":"pong"}"#)), Ok(()));
        for (ping, says) in [
            (answered(200, "pong"), "not as the function answers"),
            (
                answered(200, r#"{"outcome":"ignored"}"#),
                "not as the function",
            ),
            (
                answered(401, r#"{"error":"unauthorized","message":"x"}"#),
                "refused the URL's secret",
            ),
            (
                answered(502, r#"{"error":"admin_url_not_3scale","message":"m"}"#),
                "502 admin_url_not_3scale: m",
            ),
            (
                WebhookPing::NoAnswer("timed out".into()),
                "no answer (timed out)",
            ),
        ] {
            let said = pong(&ping).expect_err("not a pong");
            assert!(said.contains(says), "{said}");
        }
    }

    #[test]
    fn refusals_say_what_to_do_in_3scale_words() {
        let text = refusal(&MaintenanceError::Refused, "THREESCALE_TOKEN");
        assert!(text.contains("Access denied") && text.contains("THREESCALE_TOKEN"));
        let text = refusal(&MaintenanceError::Unprocessable(vec!["url".into()]), "x");
        assert!(text.contains("url"), "{text}");
    }
}
