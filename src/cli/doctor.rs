//! `revoker doctor`: each check one line, pass or fail, with what to do. It changes nothing
//! (the one PUT reads the webhook settings; see `WebHooksApi::webhook_settings`).

use super::webhook_url::{host_of, same_endpoint, secret_of, shown, with_secret};
use super::{
    Report, Status, Tenant, admin_portal, application_field, field_problems, labels,
    needed_switches, pong, refusal, surely_read_only, surely_read_write,
};
use crate::admin_api::web_hooks::{ACTIVE_LABEL, PROVIDER_ACTIONS_LABEL, label};
use crate::admin_api::{FieldsDefinitionsApi, WebHooksApi, WebhookFailuresApi};
use reqwest::Url;
use std::io::Write;

const RUN_SETUP: &str = "run `revoker setup --webhook-url URL`";

/// Runs every check; true when none failed.
pub async fn run<W: Write>(
    tenant: &Tenant,
    webhook_url: Option<&str>,
    report: &mut Report<W>,
) -> bool {
    let host = tenant.portal.admin_url().host_str().unwrap_or_default();
    match admin_portal(tenant, &tenant.token, tenant.token_source).await {
        Ok(_) => report.step(
            Status::Ok,
            "Admin portal",
            &format!(
                "{host} is a 3scale admin portal (a request without a token gets Access denied), \
                 and it accepts {} (its token listing answers 200)",
                tenant.token_source
            ),
        ),
        Err(why) => {
            report.step(Status::Fail, "Admin portal", &why);
            report.step(
                Status::Skip,
                "Everything else",
                "needs the admin portal and a token it accepts",
            );
            return finish(report);
        }
    }

    fields(tenant, report).await;
    maintenance_token(tenant, report).await;
    let stored = webhook_settings(tenant, webhook_url, report).await;
    ping(tenant, webhook_url, stored, report).await;
    finish(report)
}

fn finish<W: Write>(report: &mut Report<W>) -> bool {
    let checks = report.steps;
    let summary = match report.failed {
        0 => format!("doctor: all {checks} checks passed"),
        n => format!("doctor: {n} of {checks} checks failed"),
    };
    report.line(&summary);
    report.failed == 0
}

async fn fields<W: Write>(tenant: &Tenant, report: &mut Report<W>) {
    let definitions = match tenant
        .api
        .fields_definitions(&tenant.portal, &tenant.token)
        .await
    {
        Ok(definitions) => definitions,
        Err(err) => {
            let why = refusal(&err, tenant.token_source);
            report.step(Status::Fail, "Fields", &format!("could not be read: {why}"));
            return;
        }
    };
    for name in [&tenant.watched.token_field, &tenant.watched.token_id_field] {
        let step = format!("Field {name}");
        match application_field(&definitions, name) {
            None => report.step(
                Status::Fail,
                &step,
                &format!(
                    "applications have no such field, so 3scale drops it when an application is \
                     created: {RUN_SETUP}"
                ),
            ),
            Some(field) => match field_problems(field).as_slice() {
                [] => report.step(
                    Status::Ok,
                    &step,
                    "exists on applications, hidden, not required",
                ),
                problems => report.step(
                    Status::Fail,
                    &step,
                    &format!(
                        "{}: {RUN_SETUP}, or in Audience > Accounts > Settings > Fields \
                         Definitions > Application tick Hidden and untick Required",
                        problems.join(" and ")
                    ),
                ),
            },
        }
    }
}

async fn maintenance_token<W: Write>(tenant: &Tenant, report: &mut Report<W>) {
    const STEP: &str = "Maintenance token";
    let Some(token) = tenant.portal.maintenance_token() else {
        report.step(
            Status::Skip,
            STEP,
            "none configured (MAINTENANCE_TOKEN or the secret's maintenance_token): the sweep of \
             failed deliveries and CLEAR_TOKEN_FIELD need one",
        );
        return;
    };
    let whose = "the maintenance token";
    let tokens = match admin_portal(tenant, token, whose).await {
        Ok(tokens) => tokens,
        Err(why) => return report.step(Status::Fail, STEP, &why),
    };
    if surely_read_only(&tokens) {
        return report.step(
            Status::Fail,
            STEP,
            "it is Read Only: the sweep deletes tokens and filed failures, and needs Read & Write",
        );
    }
    let failures = match tenant.api.webhook_failures(&tenant.portal, token).await {
        Ok(listing) if listing.complete => listing.failures.len().to_string(),
        Ok(listing) => format!("over {}", listing.failures.len()),
        Err(err) => {
            let why = refusal(&err, whose);
            return report.step(
                Status::Fail,
                STEP,
                &format!("cannot read the webhook failures: {why}"),
            );
        }
    };
    let filed = format!("reads the webhook failures: {failures} filed now");
    if surely_read_write(&tokens) {
        report.step(
            Status::Ok,
            STEP,
            &format!("Account Management API, Read & Write; {filed}"),
        );
    } else {
        report.step(
            Status::Warn,
            STEP,
            &format!(
                "Account Management API; {filed}. Its user has Read Only tokens too, and 3scale \
                 does not say which one this is: check it is Read & Write in Account Settings > \
                 Personal > Tokens"
            ),
        );
    }
}

/// Checks the stored settings; answers the stored URL, for the Ping.
async fn webhook_settings<W: Write>(
    tenant: &Tenant,
    webhook_url: Option<&str>,
    report: &mut Report<W>,
) -> Option<Url> {
    const STEP: &str = "Webhook settings";
    let settings = match tenant
        .api
        .webhook_settings(&tenant.portal, &tenant.token)
        .await
    {
        Ok(settings) => settings,
        Err(err) => {
            let why = refusal(&err, tenant.token_source);
            report.step(
                Status::Fail,
                STEP,
                &format!(
                    "could not be read back from 3scale ({why}); {RUN_SETUP} to set them, or \
                     check them in Account Settings > Integrate > Webhooks"
                ),
            );
            return None;
        }
    };
    let mut problems = Vec::new();
    if !settings.active {
        problems.push(format!("{ACTIVE_LABEL} is off"));
    }
    if !settings.provider_actions {
        problems.push(format!(
            "{PROVIDER_ACTIONS_LABEL} is off, so 3scale sends nothing for an application created \
             with a token"
        ));
    }
    let switches = needed_switches(tenant).unwrap_or_else(|why| {
        problems.push(why);
        Vec::new()
    });
    for switch in switches.iter().filter(|switch| !settings.is_on(switch)) {
        problems.push(format!("{} is off", label(switch)));
    }
    let stored = settings.url.as_deref().and_then(|url| Url::parse(url).ok());
    match (&settings.url, &stored) {
        (None, _) => problems.push("it has no URL".to_owned()),
        (Some(url), None) => problems.push(format!("its URL ({}) is not a URL", host_of(url))),
        (Some(_), Some(stored)) => {
            if let Some(given) = webhook_url.and_then(|url| Url::parse(url).ok())
                && !same_endpoint(stored.as_str(), &given)
            {
                problems.push(format!(
                    "it points to {}, not to {}",
                    host_of(stored.as_str()),
                    shown_endpoint(&given)
                ));
            }
            match (tenant.portal.webhook_secret(), secret_of(stored)) {
                (None, _) => problems.push(
                    "no webhook secret is configured to check its URL against (WEBHOOK_SECRET, \
                     or the secret's webhook_secret)"
                        .to_owned(),
                ),
                (Some(_), None) => problems
                    .push("its URL carries no ?secret=, so the function answers 401".to_owned()),
                (Some(secret), Some(presented)) if !secret.matches(&presented) => problems.push(
                    "its URL's secret is not the function's webhook secret, so the function \
                     answers 401"
                        .to_owned(),
                ),
                _ => {}
            }
        }
    }
    if problems.is_empty() {
        let url = stored.as_ref().map(shown).unwrap_or_default();
        report.step(
            Status::Ok,
            STEP,
            &format!(
                "{url}; {ACTIVE_LABEL}, {PROVIDER_ACTIONS_LABEL}, {}; the URL's secret is the \
                 function's",
                labels(&switches)
            ),
        );
    } else {
        report.step(
            Status::Fail,
            STEP,
            &format!("{}: {RUN_SETUP}", problems.join("; ")),
        );
    }
    stored
}

/// The URL given to check against: scheme, host, port and path, without the query.
fn shown_endpoint(url: &Url) -> String {
    let port = url
        .port()
        .map(|port| format!(":{port}"))
        .unwrap_or_default();
    format!(
        "{}://{}{port}{}",
        url.scheme(),
        url.host_str().unwrap_or_default(),
        url.path()
    )
}

async fn ping<W: Write>(
    tenant: &Tenant,
    webhook_url: Option<&str>,
    stored: Option<Url>,
    report: &mut Report<W>,
) {
    const STEP: &str = "Ping";
    // As 3scale's Ping button: the URL the tenant stores, unless one is given to check.
    let url = match (webhook_url, tenant.portal.webhook_secret()) {
        (Some(given), Some(secret)) => match with_secret(given, secret) {
            Ok(url) => url,
            Err(why) => return report.step(Status::Fail, STEP, &why),
        },
        (Some(given), None) => match Url::parse(given) {
            Ok(url) => url,
            Err(_) => {
                return report.step(Status::Fail, STEP, "--webhook-url is not an absolute URL");
            }
        },
        (None, _) => match stored {
            Some(url) => url,
            None => {
                return report.step(
                    Status::Fail,
                    STEP,
                    "no webhook URL to ping: pass --webhook-url (the stack's WebhookUrl output)",
                );
            }
        },
    };
    // A stored URL without the function's secret may be another consumer's: its host only.
    let ours = tenant
        .portal
        .webhook_secret()
        .zip(secret_of(&url))
        .is_some_and(|(secret, presented)| secret.matches(&presented));
    let named = if ours || webhook_url.is_some() {
        shown(&url)
    } else {
        host_of(url.as_str())
    };
    match pong(&tenant.api.ping_webhook(&url).await) {
        Ok(()) => report.step(
            Status::Ok,
            STEP,
            &format!(
                "{named} answered pong: the function takes the secret and reaches the admin portal"
            ),
        ),
        Err(why) => report.step(
            Status::Fail,
            STEP,
            &format!(
                "{named} {why}. Check that the stack is deployed and that this is its WebhookUrl"
            ),
        ),
    }
}
