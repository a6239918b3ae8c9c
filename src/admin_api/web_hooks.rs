//! The tenant's one webhook (`has_one :web_hook`, `app/models/account/provider_methods.rb`), as
//! the admin API sets it (`app/controllers/admin/api/web_hooks_controller.rb`), and 3scale's
//! Ping of its URL (`WebHook#ping`, `app/models/web_hook.rb`).
//!
//! There is no GET of the settings: `resource :webhooks, only: [:update]` (`config/routes.rb`).
//! A PUT that carries no permitted attribute reads them: see [`WebHooksApi::webhook_settings`].

use super::answers::MAX_ERROR_BODY;
use super::maintenance::{MaintenanceError, admin_api_url, done, written};
use super::{AdminApiClient, Call, failure_kind, read_limited};
use crate::portal::AdminPortal;
use crate::sensitive::AccessToken;
use reqwest::{Method, Url};
use std::fmt;
use std::future::Future;

/// The longest URL porta stores: `validates :url, … length: { maximum: 255 }` (`web_hook.rb`).
pub const MAX_URL_CHARS: usize = 255;

/// Every event switch (`WebHook.switchable_attributes`: the `*_on` columns of `web_hooks` in
/// `db/schema.rb`), with its label in the admin portal (`config/locales/en.yml`,
/// `formtastic.labels.web_hook`).
pub const SWITCHES: [(&str, &str); 16] = [
    ("account_created_on", "Account created"),
    ("account_updated_on", "Account updated"),
    ("account_deleted_on", "Account deleted"),
    ("user_created_on", "User created"),
    ("user_updated_on", "User updated"),
    ("user_deleted_on", "User deleted"),
    ("application_created_on", "Application created"),
    ("application_updated_on", "Application updated"),
    ("application_deleted_on", "Application deleted"),
    ("account_plan_changed_on", "Account Plan changed"),
    ("application_plan_changed_on", "Application Plan changed"),
    ("application_user_key_updated_on", "API Key changed"),
    ("application_key_created_on", "Application Key created"),
    ("application_key_deleted_on", "Application Key deleted"),
    ("application_suspended_on", "Application suspended"),
    ("application_key_updated_on", "Application Key updated"),
];
/// The label of `active`.
pub const ACTIVE_LABEL: &str = "Webhooks enabled";
/// The label of `provider_actions`.
pub const PROVIDER_ACTIONS_LABEL: &str = "Actions in the admin portal also trigger webhooks";

/// The switches that send the events `type:action` names; `*` is every action of the type.
///
/// porta sends an event when `webhook["#{type}_#{event}_on"]` is on (`WebHook#enabled?`), the
/// type of an application being `application` (`WebHook::Event#resource_type`).
///
/// ```
/// use access_token_revoker::admin_api::web_hooks::switches_for;
///
/// assert_eq!(switches_for("application", "created"), ["application_created_on"]);
/// assert_eq!(switches_for("user", "*").len(), 3);
/// assert!(switches_for("application", "frobbed").is_empty());
/// ```
pub fn switches_for(event_type: &str, action: &str) -> Vec<&'static str> {
    let prefix = format!("{event_type}_");
    SWITCHES
        .iter()
        .map(|(switch, _)| *switch)
        .filter(|switch| match action {
            "*" => switch.starts_with(&prefix),
            _ => {
                switch
                    .strip_prefix(&prefix)
                    .and_then(|rest| rest.strip_suffix("_on"))
                    == Some(action)
            }
        })
        .collect()
}

/// The label of a switch, as the admin portal shows it.
pub fn label(switch: &str) -> &str {
    SWITCHES
        .iter()
        .find(|(name, _)| *name == switch)
        .map_or(switch, |(_, label)| label)
}

/// The webhook settings porta answers (`app/representers/web_hook_representer.rb`).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct WebhookSettings {
    /// Where 3scale posts events; absent until one is set. It may carry a secret.
    pub url: Option<String>,
    /// "Webhooks enabled".
    pub active: bool,
    /// "Actions in the admin portal also trigger webhooks".
    pub provider_actions: bool,
    /// The event switches that are on, in [`SWITCHES`] order.
    pub switched_on: Vec<&'static str>,
}

impl WebhookSettings {
    /// Whether this event switch is on.
    pub fn is_on(&self, switch: &str) -> bool {
        self.switched_on.contains(&switch)
    }
}

// The URL may carry a shared secret: Debug shows its host only.
impl fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = self
            .url
            .as_deref()
            .and_then(|url| Url::parse(url).ok())
            .and_then(|url| url.host_str().map(str::to_owned));
        f.debug_struct("WebhookSettings")
            .field("url_host", &host)
            .field("active", &self.active)
            .field("provider_actions", &self.provider_actions)
            .field("switched_on", &self.switched_on)
            .finish()
    }
}

/// What to set: the URL, `active` and `provider_actions` on, and these switches on. Other
/// switches are left as they are.
#[derive(Clone, Copy)]
pub struct WebhookUpdate<'a> {
    /// The URL, secret included.
    pub url: &'a str,
    /// Switches to turn on.
    pub switch_on: &'a [&'static str],
}

/// What the webhook's URL answered to 3scale's Ping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookPing {
    /// An HTTP answer: its status and the start of its body.
    Answered {
        /// The status.
        status: u16,
        /// Up to 4 KiB of the body.
        body: Vec<u8>,
    },
    /// No answer: why, without the URL.
    NoAnswer(String),
}

/// The webhook settings API.
pub trait WebHooksApi: Send + Sync {
    /// The current settings, read with a PUT that carries no permitted attribute.
    fn webhook_settings(
        &self,
        portal: &AdminPortal,
        token: &AccessToken,
    ) -> impl Future<Output = Result<WebhookSettings, MaintenanceError>> + Send;

    /// Sets the URL, `active`, `provider_actions` and switches; answers the settings as saved.
    fn update_webhook(
        &self,
        portal: &AdminPortal,
        token: &AccessToken,
        update: WebhookUpdate<'_>,
    ) -> impl Future<Output = Result<WebhookSettings, MaintenanceError>> + Send;

    /// Exactly what 3scale's Ping button sends: `GET url` with `ping=3scale` added to its query.
    fn ping_webhook(&self, url: &Url) -> impl Future<Output = WebhookPing> + Send;
}

impl WebHooksApi for AdminApiClient {
    /// `PUT …/webhooks.json` with the JSON body `{}`.
    ///
    /// porta wraps the body's WebHook attributes into `web_hook` (`wrap_parameters ::WebHook`,
    /// for JSON and form bodies: `app/lib/api_support/params.rb`). With no attribute in the body
    /// that is `web_hook: {}`, which `params.fetch(:web_hook)` accepts (fetch, not require);
    /// `permit` keeps nothing, and porta sets no `action_on_unpermitted_parameters` (nothing in
    /// `config/`), so `webhook.update({})` changes nothing and the responder answers 200 with the
    /// settings (`app/lib/three_scale/api/responder.rb`: `put?` → `display(resource)`). Without
    /// a Content-Type nothing is wrapped, and the answer would be 400 `Required parameter
    /// missing: web_hook`. No porta test covers this call; the reading is from the code
    /// (Rails 7.2.3 `params_wrapper.rb`, `strong_parameters.rb#fetch`).
    ///
    /// A tenant that never saved webhook settings has none (`current_account.web_hook ||
    /// build_web_hook`): this call then stores porta's defaults, every switch off, which is
    /// what 3scale acts on anyway. A read-only token cannot store them (403).
    async fn webhook_settings(
        &self,
        portal: &AdminPortal,
        token: &AccessToken,
    ) -> Result<WebhookSettings, MaintenanceError> {
        let url = admin_api_url(portal.admin_url(), &["webhooks.json"])?;
        let call = Call::new(Method::PUT, url, token).with_json("{}".to_owned());
        let answer = done(self.call(&call, self.deadline()).await?)?;
        parse_settings(&answer.body)
    }

    /// `PUT …/webhooks.json`, flat form parameters (wrapped into `web_hook`).
    async fn update_webhook(
        &self,
        portal: &AdminPortal,
        token: &AccessToken,
        update: WebhookUpdate<'_>,
    ) -> Result<WebhookSettings, MaintenanceError> {
        let url = admin_api_url(portal.admin_url(), &["webhooks.json"])?;
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("url", update.url)
            .append_pair("active", "true")
            .append_pair("provider_actions", "true")
            .extend_pairs(update.switch_on.iter().map(|switch| (*switch, "true")))
            .finish();
        let call = Call::new(Method::PUT, url, token).with_form(form);
        let answer = written(self.call(&call, self.deadline()).await?)?;
        parse_settings(&answer.body)
    }

    /// One attempt, no redirect followed, as porta's `HTTPClient.get(url, ping: "3scale")`:
    /// httpclient appends `&ping=3scale` to the query the URL already has.
    async fn ping_webhook(&self, url: &Url) -> WebhookPing {
        let mut url = url.clone();
        url.query_pairs_mut().append_pair("ping", "3scale");
        let mut response = match self.http.get(url).send().await {
            Ok(response) => response,
            Err(err) => return WebhookPing::NoAnswer(failure_kind(&err).to_owned()),
        };
        let status = response.status().as_u16();
        match read_limited(&mut response, MAX_ERROR_BODY).await {
            Ok((body, _)) => WebhookPing::Answered { status, body },
            Err(err) => WebhookPing::NoAnswer(failure_kind(&err).to_owned()),
        }
    }
}

/// `{"webhook":{"url":…,"active":…,"provider_actions":…,"…_on":…}}`; `url` is left out while
/// unset (representable skips nil).
///
/// ```
/// use access_token_revoker::admin_api::web_hooks::parse_settings;
///
/// let body = br#"{"webhook":{"active":true,"provider_actions":false,"application_created_on":true}}"#;
/// let settings = parse_settings(body).unwrap();
/// assert!(settings.active && settings.is_on("application_created_on") && settings.url.is_none());
/// ```
pub fn parse_settings(body: &[u8]) -> Result<WebhookSettings, MaintenanceError> {
    let unreadable = MaintenanceError::Unreadable("the webhook settings are not porta's JSON");
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|_| unreadable.clone())?;
    let object = value
        .get("webhook")
        .and_then(serde_json::Value::as_object)
        .ok_or(unreadable)?;
    let on = |key: &str| {
        object
            .get(key)
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false)
    };
    Ok(WebhookSettings {
        url: object
            .get("url")
            .and_then(serde_json::Value::as_str)
            .filter(|url| !url.is_empty())
            .map(str::to_owned),
        active: on("active"),
        provider_actions: on("provider_actions"),
        switched_on: SWITCHES
            .iter()
            .map(|(switch, _)| *switch)
            .filter(|switch| on(switch))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_name_maps_to_its_switch() {
        for (switch, _) in SWITCHES {
            let (event_type, rest) = switch.split_once('_').expect("type_");
            let action = rest.strip_suffix("_on").expect("_on");
            assert_eq!(switches_for(event_type, action), [switch], "{switch}");
        }
        assert_eq!(switches_for("application", "*").len(), 9);
        assert_eq!(switches_for("account", "*").len(), 4);
        // "account_" must not pick up "application_…", nor "user_" "application_user_key…".
        assert!(
            switches_for("user", "*")
                .iter()
                .all(|s| s.starts_with("user_"))
        );
        assert!(switches_for("application", "user_key").is_empty());
        assert!(switches_for("cinstance", "created").is_empty());
        assert_eq!(label("application_created_on"), "Application created");
    }

    #[test]
    fn settings_are_read_as_porta_writes_them_and_debug_hides_the_url() {
        let body = br#"{"webhook":{"url":"https://hooks.example.com/w?secret=s3cr3t","active":true,
            "provider_actions":true,"account_created_on":false,"application_created_on":true,
            "application_deleted_on":true}}"#;
        let settings = parse_settings(body).expect("settings");
        assert_eq!(
            settings.switched_on,
            ["application_created_on", "application_deleted_on"]
        );
        let shown = format!("{settings:?}");
        assert!(
            shown.contains("hooks.example.com") && !shown.contains("s3cr3t"),
            "{shown}"
        );
        assert_eq!(
            parse_settings(br#"{"webhook":{"url":null}}"#),
            Ok(WebhookSettings::default())
        );
        assert!(parse_settings(br#"{"errors":{"url":["is too long"]}}"#).is_err());
        assert!(parse_settings(b"[]").is_err());
    }
}
