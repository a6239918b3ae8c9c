//! `revoker setup`: the fields, the webhook and the Ping, each found, changed only if needed,
//! and said. Everything is read and checked before the first change, so a token 3scale
//! refuses, or a webhook that belongs to someone else, stops it with nothing changed.

use super::webhook_url::{host_of, same_endpoint, shown, with_secret};
use super::{
    Report, Status, Tenant, admin_portal, application_field, field_problems, labels,
    needed_switches, pong, refusal, surely_read_only,
};
use crate::admin_api::fields_definitions::APPLICATION;
use crate::admin_api::web_hooks::{ACTIVE_LABEL, PROVIDER_ACTIONS_LABEL, WebhookUpdate, label};
use crate::admin_api::{
    FieldsDefinition, FieldsDefinitionsApi, NewField, WebHooksApi, WebhookSettings,
};
use reqwest::Url;
use std::io::Write;

/// What `setup` is asked to do.
#[derive(Debug, Clone)]
pub struct SetupOptions {
    /// The stack's `WebhookUrl`, without the secret.
    pub webhook_url: String,
    /// Take over a webhook that points elsewhere.
    pub replace_webhook: bool,
}

/// What one field needs.
enum FieldPlan {
    Fine,
    Create,
    Fix(FieldsDefinition),
}

/// Sets the tenant up; true when everything is as it should be, the Ping included.
pub async fn run<W: Write>(
    tenant: &Tenant,
    options: &SetupOptions,
    report: &mut Report<W>,
) -> bool {
    let done = match setup(tenant, options, report).await {
        Ok(()) => report.failed == 0,
        Err((step, why)) => {
            report.step(Status::Fail, step, &why);
            false
        }
    };
    let summary = match (done, report.changed) {
        (true, 0) => {
            "setup: nothing to change; 3scale was already set up for the function".to_owned()
        }
        (true, n) => format!("setup: done; {n} change{}", plural(n)),
        (false, 0) => "setup: stopped; nothing was changed in 3scale".to_owned(),
        (false, n) => format!("setup: stopped after {n} change{}", plural(n)),
    };
    report.line(&summary);
    done
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

type Stop = (&'static str, String);

async fn setup<W: Write>(
    tenant: &Tenant,
    options: &SetupOptions,
    report: &mut Report<W>,
) -> Result<(), Stop> {
    // What is wanted, before anything is asked of 3scale.
    let secret = tenant.portal.webhook_secret().ok_or((
        "Webhook secret",
        "none configured: set WEBHOOK_SECRET, or webhook_secret in the function's secret \
         (--secret-id); without one, anyone who finds the URL can call the function"
            .to_owned(),
    ))?;
    let target = with_secret(&options.webhook_url, secret).map_err(|why| ("Webhook URL", why))?;
    let switches = needed_switches(tenant).map_err(|why| ("Webhook events", why))?;

    // Read everything; change nothing yet.
    let tokens = admin_portal(tenant, &tenant.token, tenant.token_source)
        .await
        .map_err(|why| ("Admin portal", why))?;
    if surely_read_only(&tokens) {
        return Err((
            "Admin portal",
            format!(
                "{} is Read Only: setup needs a token with Read & Write",
                tenant.token_source
            ),
        ));
    }
    let host = tenant.portal.admin_url().host_str().unwrap_or_default();
    report.step(
        Status::Ok,
        "Admin portal",
        &format!(
            "{host} is a 3scale admin portal and accepts {}",
            tenant.token_source
        ),
    );
    let definitions = tenant
        .api
        .fields_definitions(&tenant.portal, &tenant.token)
        .await
        .map_err(|err| {
            (
                "Fields",
                format!(
                    "could not read the fields definitions: {}",
                    refusal(&err, tenant.token_source)
                ),
            )
        })?;
    let fields = [&tenant.watched.token_field, &tenant.watched.token_id_field];
    let plans: Vec<(&String, FieldPlan)> = fields
        .iter()
        .map(|name| {
            let plan = match application_field(&definitions, name) {
                None => FieldPlan::Create,
                Some(field) if field_problems(field).is_empty() => FieldPlan::Fine,
                Some(field) => FieldPlan::Fix(field.clone()),
            };
            (*name, plan)
        })
        .collect();
    let current = tenant
        .api
        .webhook_settings(&tenant.portal, &tenant.token)
        .await
        .map_err(|err| {
            (
                "Webhook",
                format!(
                    "3scale's webhook settings could not be read ({}); nothing was changed",
                    refusal(&err, tenant.token_source)
                ),
            )
        })?;
    if let Some(stored) = current.url.as_deref()
        && !same_endpoint(stored, &target)
        && !options.replace_webhook
    {
        return Err((
            "Webhook",
            format!(
                "the tenant's webhook points to {}, not to this function; 3scale has one \
                 webhook per tenant, and setup would take it over. If nothing needs {0} any \
                 more, run setup again with --replace-webhook",
                host_of(stored)
            ),
        ));
    }

    // Change what needs it, one step at a time.
    for (name, plan) in plans {
        let step = format!("Field {name}");
        let text = match plan {
            FieldPlan::Fine => {
                report.step(
                    Status::Ok,
                    &step,
                    "exists on applications, hidden, not required",
                );
                continue;
            }
            FieldPlan::Create => {
                let new = NewField {
                    target: APPLICATION,
                    name,
                    label: name,
                    hidden: true,
                    required: false,
                };
                let created = tenant
                    .api
                    .create_fields_definition(&tenant.portal, &tenant.token, new)
                    .await;
                kept(created, tenant, "create it")?;
                "created on applications, hidden, not required".to_owned()
            }
            FieldPlan::Fix(field) => {
                let was = field_problems(&field).join(" and ");
                let fixed = tenant
                    .api
                    .update_fields_definition(&tenant.portal, &tenant.token, field.id, true, false)
                    .await;
                kept(fixed, tenant, "change it")?;
                format!("was {was}; now hidden, not required")
            }
        };
        report.step(Status::Changed, &step, &text);
    }

    let wanted = |settings: &WebhookSettings| {
        settings.url.as_deref() == Some(target.as_str())
            && settings.active
            && settings.provider_actions
            && switches.iter().all(|switch| settings.is_on(switch))
    };
    let described = format!(
        "{}; {ACTIVE_LABEL}, {PROVIDER_ACTIONS_LABEL}, {}",
        shown(&target),
        labels(&switches)
    );
    if wanted(&current) {
        report.step(Status::Ok, "Webhook", &format!("already {described}"));
    } else {
        let before = was(&current, &target, &switches);
        let update = WebhookUpdate {
            url: target.as_str(),
            switch_on: &switches,
        };
        let saved = tenant
            .api
            .update_webhook(&tenant.portal, &tenant.token, update)
            .await
            .map_err(|err| ("Webhook", refusal(&err, tenant.token_source)))?;
        if !wanted(&saved) {
            return Err((
                "Webhook",
                "3scale answered the update with other settings than were sent".to_owned(),
            ));
        }
        report.step(
            Status::Changed,
            "Webhook",
            &format!("now {described} ({before})"),
        );
    }

    // 3scale's Ping ignores "Webhooks enabled" and the switches (WebHook#ping): it proves the
    // URL, the secret and the function's own configuration, which the settings above do not.
    match pong(&tenant.api.ping_webhook(&target).await) {
        Ok(()) => report.step(
            Status::Ok,
            "Ping",
            &format!(
                "{} answered pong: the function takes the secret and reaches the admin portal",
                shown(&target)
            ),
        ),
        Err(why) => report.step(
            Status::Fail,
            "Ping",
            &format!(
                "{} {why}. Check that the stack is deployed and that this is its WebhookUrl",
                shown(&target)
            ),
        ),
    }
    Ok(())
}

/// A field as porta saved it must be hidden and not required: porta forces a builtin such
/// as `name` to required and visible (`fields_definition.rb`).
fn kept(
    saved: Result<FieldsDefinition, crate::admin_api::MaintenanceError>,
    tenant: &Tenant,
    what: &str,
) -> Result<(), Stop> {
    match saved {
        Ok(field) if field_problems(&field).is_empty() => Ok(()),
        Ok(field) => Err((
            "Fields",
            format!(
                "3scale keeps {} {}: choose another TOKEN_FIELD or TOKEN_ID_FIELD",
                field.name,
                field_problems(&field).join(" and ")
            ),
        )),
        Err(err) => Err((
            "Fields",
            format!("could not {what}: {}", refusal(&err, tenant.token_source)),
        )),
    }
}

/// What the webhook was before, in a few words, without the old URL's query.
fn was(current: &WebhookSettings, target: &Url, switches: &[&'static str]) -> String {
    let url = match current.url.as_deref() {
        None => "it had no URL".to_owned(),
        Some(url) if url == target.as_str() => "same URL".to_owned(),
        Some(url) if same_endpoint(url, target) => "the URL had another secret".to_owned(),
        Some(url) => format!("it pointed to {}", host_of(url)),
    };
    let mut off = Vec::new();
    if !current.active {
        off.push(ACTIVE_LABEL);
    }
    if !current.provider_actions {
        off.push(PROVIDER_ACTIONS_LABEL);
    }
    off.extend(
        switches
            .iter()
            .filter(|switch| !current.is_on(switch))
            .map(|switch| label(switch)),
    );
    if off.is_empty() {
        format!("before: {url}")
    } else {
        format!("before: {url}; off: {}", off.join(", "))
    }
}
