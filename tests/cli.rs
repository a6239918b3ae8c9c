//! `revoker`, the real binary, against the porta stand-in and the function itself serving the
//! webhook in-process: setup on fresh and broken tenants, doctor on good and broken setups,
//! issue on 3scale 2.16 and before, and no secret in any output but `issue`'s own value.
// A failed expectation in a test is a failed test, not a panic on the request path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The admin's token `revoker` acts with (user 1, Account Management, Read & Write).
const ADMIN: &str = "c1a0d3e5f7b9a2c4e6f8d0b2a4c6e8f0a1b3c5d7e9f1a3b5c7d9e1f3a5b7c9d1";
/// A maintenance token of the same user.
const MAINTENANCE: &str = "m41n7e4a4ce70ke4f0rthesweep0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8";
/// Another consumer's webhook, and the secret in its query that no output may show.
const OTHER_HOOK: &str = "https://hooks.other.example/3scale?token=other-consumers-secret";

/// What one run of `revoker` left.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn succeeded(&self) -> bool {
        self.code == Some(0)
    }

    /// The step line that starts with `status` and names `step`.
    fn line(&self, status: &str, step: &str) -> Option<&str> {
        let prefix = format!("{status:<7} {step}:");
        self.stderr.lines().find(|l| l.starts_with(&prefix))
    }

    fn has(&self, status: &str, step: &str, words: &str) -> bool {
        self.line(status, step).is_some_and(|l| l.contains(words))
    }

    /// Fails, showing the whole run, unless the step's line says `words`.
    #[track_caller]
    fn must(&self, status: &str, step: &str, words: &str) {
        assert!(
            self.has(status, step, words),
            "no `{status} {step}: …{words}…` line in:\n{self:?}"
        );
    }

    /// Neither output holds a token or a secret.
    fn assert_free_of_secrets(&self, extra: &[&str]) {
        for secret in [ADMIN, MAINTENANCE, WEBHOOK_SECRET, "other-consumers-secret"]
            .iter()
            .chain(extra)
        {
            for (name, text) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
                assert!(
                    !text.contains(secret),
                    "{name} shows a secret ({} chars):\n{text}",
                    secret.len()
                );
            }
        }
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {:?}\n{}{}", self.code, self.stderr, self.stdout)
    }
}

/// Runs `revoker` with only these variables set; asserts no secret in its output.
async fn revoker(args: &[&str], env: &[(&str, &str)]) -> Run {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_revoker"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .await
        .expect("revoker runs");
    let run = Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    let issued = args.first() == Some(&"issue");
    let value = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("TOKEN_VALUE="))
        .map(str::to_owned);
    match (&value, issued) {
        // issue's own value, on stdout only.
        (Some(value), true) => {
            assert!(!run.stderr.contains(value.as_str()), "{run:?}");
            run.assert_free_of_secrets(&[]);
        }
        (None, _) => run.assert_free_of_secrets(&[]),
        (Some(_), false) => panic!("only issue prints a token: {run:?}"),
    }
    run
}

/// A tenant: the porta stand-in with the admin's token, and the function deployed for it.
struct Tenant {
    porta: Porta,
    function: WebhookEndpoint,
}

impl Tenant {
    /// A fresh tenant: no token fields, no webhook settings.
    async fn fresh() -> Self {
        let porta = Porta::start().await;
        porta
            .add(json!({"id": 1, "value": ADMIN, "name": "admin"}))
            .await;
        porta.set_own_fields(json!([])).await;
        let function = WebhookEndpoint::start(app(porta.url(), Some(WEBHOOK_SECRET), &[])).await;
        Self { porta, function }
    }

    /// A tenant `revoker setup` has set up.
    async fn set_up() -> Self {
        let tenant = Self::fresh().await;
        let run = tenant.setup(&[]).await;
        assert!(run.succeeded(), "{run:?}");
        tenant
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("THREESCALE_ADMIN_URL", self.porta.url().to_owned()),
            ("THREESCALE_TOKEN", ADMIN.to_owned()),
            ("WEBHOOK_SECRET", WEBHOOK_SECRET.to_owned()),
        ]
    }

    async fn run_with(&self, args: &[&str], extra: &[(&'static str, &str)]) -> Run {
        let mut env = self.env();
        for (name, value) in extra {
            env.retain(|(n, _)| n != name);
            env.push((name, (*value).to_owned()));
        }
        let env: Vec<(&str, &str)> = env.iter().map(|(n, v)| (*n, v.as_str())).collect();
        revoker(args, &env).await
    }

    async fn setup(&self, flags: &[&str]) -> Run {
        let mut args = vec!["setup", "--webhook-url", self.function.url()];
        args.extend_from_slice(flags);
        self.run_with(&args, &[]).await
    }

    /// `setup` with another token.
    async fn setup_as(&self, token: &str) -> Run {
        let args = ["setup", "--webhook-url", self.function.url()];
        self.run_with(&args, &[("THREESCALE_TOKEN", token)]).await
    }

    async fn doctor(&self, extra: &[(&'static str, &str)]) -> Run {
        let args = ["doctor", "--webhook-url", self.function.url()];
        self.run_with(&args, extra).await
    }

    /// What setup may change: the fields and the webhook, as stored.
    async fn state(&self) -> (Vec<Value>, Value) {
        (
            self.porta.fields_definitions().await,
            self.porta.webhook().await,
        )
    }

    /// The webhook URL setup stores.
    fn hook_url(&self) -> String {
        format!("{}?secret={WEBHOOK_SECRET}", self.function.url())
    }

    /// Changes the stored webhook settings.
    async fn edit_webhook(&self, edit: impl FnOnce(&mut Value)) {
        let mut hook = self.porta.webhook().await;
        edit(&mut hook);
        self.porta.set_webhook(hook).await;
    }
}

fn assert_hidden_and_optional(field: &Value) {
    assert_eq!(
        (&field["hidden"], &field["required"]),
        (&json!(true), &json!(false)),
        "{field}"
    );
}

#[tokio::test]
async fn setup_on_a_fresh_tenant_creates_the_fields_sets_the_webhook_and_pings() {
    let tenant = Tenant::fresh().await;
    assert_eq!(tenant.porta.webhook().await, Value::Null);

    let run = tenant.setup(&[]).await;
    assert!(run.succeeded(), "{run:?}");
    for field in ["token_value", "token_id"] {
        let stored = tenant.porta.application_field(field).await.expect(field);
        assert_hidden_and_optional(&stored);
        run.must("changed", &format!("Field {field}"), "created");
    }
    let hook = tenant.porta.webhook().await;
    assert_eq!(hook["url"], tenant.hook_url().as_str());
    for switch in ["active", "provider_actions", "application_created_on"] {
        assert_eq!(hook[switch], true, "{switch}: {hook}");
    }
    assert_eq!(
        hook["application_updated_on"], false,
        "only what REVOKE_ON names"
    );
    run.must("changed", "Webhook", "Application created");
    run.must("changed", "Webhook", "secret=REDACTED");
    run.must("ok", "Ping", "answered pong");
    assert!(run.stderr.contains("setup: done; 3 changes"), "{run:?}");
    // The Ping is 3scale's: GET with the secret, then ping=3scale.
    assert!(
        tenant
            .porta
            .calls()
            .await
            .contains(&"GET /admin/api/personal/access_tokens.json".to_owned()),
        "the function's own Ping probe reached porta"
    );
}

#[tokio::test]
async fn setup_makes_a_visible_field_hidden_and_says_it_was_visible() {
    let tenant = Tenant::fresh().await;
    tenant
        .porta
        .set_own_fields(json!([
            {"name": "token_value", "hidden": false, "required": true},
            {"name": "token_id", "hidden": true}
        ]))
        .await;
    let run = tenant.setup(&[]).await;
    assert!(run.succeeded(), "{run:?}");
    run.must("changed", "Field token_value", "was visible to developers");
    run.must("changed", "Field token_value", "required");
    run.must("ok", "Field token_id", "hidden");
    let field = tenant
        .porta
        .application_field("token_value")
        .await
        .expect("kept");
    assert_hidden_and_optional(&field);
}

#[tokio::test]
async fn setup_run_twice_changes_nothing_the_second_time_and_says_so() {
    let tenant = Tenant::set_up().await;
    let before = tenant.state().await;
    let calls = tenant.porta.calls().await.len();

    let run = tenant.setup(&[]).await;
    assert!(run.succeeded(), "{run:?}");
    assert!(run.stderr.contains("setup: nothing to change"), "{run:?}");
    assert!(!run.stderr.contains("changed "), "{run:?}");
    run.must("ok", "Webhook", "already");
    assert_eq!(tenant.state().await, before, "updated_at included");
    assert_only_reads(&calls_since(&tenant.porta, calls).await);
}

/// The admin API calls made since `before` of them were.
async fn calls_since(porta: &Porta, before: usize) -> Vec<String> {
    porta.calls().await.split_off(before)
}

/// Only reads: GETs, and the one PUT that reads the webhook settings.
fn assert_only_reads(calls: &[String]) {
    let puts = calls.iter().filter(|c| c.starts_with("PUT ")).count();
    let others = calls
        .iter()
        .filter(|c| !c.starts_with("GET ") && !c.starts_with("PUT "));
    assert_eq!(others.count(), 0, "{calls:#?}");
    assert_eq!(puts, 1, "{calls:#?}");
    assert!(calls.contains(&"PUT /admin/api/webhooks.json".to_owned()));
}

#[tokio::test]
async fn a_webhook_pointing_elsewhere_is_refused_then_replaced_with_replace_webhook() {
    let tenant = Tenant::fresh().await;
    tenant
        .porta
        .set_webhook(
            json!({"url": OTHER_HOOK, "active": true, "provider_actions": true,
                            "account_created_on": true}),
        )
        .await;
    let before = tenant.state().await;

    let refused = tenant.setup(&[]).await;
    assert!(!refused.succeeded(), "{refused:?}");
    refused.must("FAIL", "Webhook", "hooks.other.example");
    refused.must("FAIL", "Webhook", "--replace-webhook");
    assert!(
        !refused.stderr.contains("/3scale"),
        "only the host: {refused:?}"
    );
    assert!(
        refused.stderr.contains("nothing was changed"),
        "{refused:?}"
    );
    assert_eq!(tenant.state().await, before, "not even the fields");

    let replaced = tenant.setup(&["--replace-webhook"]).await;
    assert!(replaced.succeeded(), "{replaced:?}");
    replaced.must("changed", "Webhook", "it pointed to hooks.other.example");
    let hook = tenant.porta.webhook().await;
    assert_eq!(hook["url"], tenant.hook_url().as_str());
    assert_eq!(
        hook["account_created_on"], true,
        "other switches are left alone"
    );
}

#[tokio::test]
async fn a_read_only_token_or_a_dead_one_changes_nothing() {
    const READ_ONLY: &str = "r0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1";
    // User 2 has only a Read Only token; user 1 a Read Only one beside the admin's.
    let tenant = Tenant::fresh().await;
    tenant
        .porta
        .add(json!({"value": READ_ONLY, "user": 2, "permission": "ro"}))
        .await;
    tenant
        .porta
        .add(json!({"value": format!("{READ_ONLY}1"), "user": 1, "permission": "ro"}))
        .await;
    let before = tenant.state().await;

    let only_ro = tenant.setup_as(READ_ONLY).await;
    only_ro.assert_free_of_secrets(&[READ_ONLY]);
    assert!(!only_ro.succeeded(), "{only_ro:?}");
    only_ro.must("FAIL", "Admin portal", "Read Only");

    // 3scale cannot say which of user 1's tokens this is: the first write is refused.
    let ro_sibling = format!("{READ_ONLY}1");
    let mixed = tenant.setup_as(&ro_sibling).await;
    mixed.assert_free_of_secrets(&[&ro_sibling]);
    assert!(!mixed.succeeded(), "{mixed:?}");
    // No webhook settings yet: reading them stores porta's defaults, which is refused.
    mixed.must("FAIL", "Webhook", "does not have the correct permissions");

    let dead = tenant.setup_as("deadbeef00deadbeef00").await;
    assert!(!dead.succeeded(), "{dead:?}");
    dead.must("FAIL", "Admin portal", "Access denied");
    for run in [&only_ro, &mixed, &dead] {
        assert!(run.stderr.contains("nothing was changed"), "{run:?}");
    }
    assert_eq!(tenant.state().await, before);

    // With webhook settings stored, the read works and the first field is refused.
    tenant
        .porta
        .set_webhook(json!({"url": tenant.hook_url()}))
        .await;
    let before = tenant.state().await;
    let mixed = tenant.setup_as(&ro_sibling).await;
    assert!(!mixed.succeeded(), "{mixed:?}");
    mixed.must("FAIL", "Fields", "does not have the correct permissions");
    assert!(mixed.stderr.contains("nothing was changed"), "{mixed:?}");
    assert_eq!(tenant.state().await, before);
}

#[tokio::test]
async fn a_webhook_url_over_255_characters_is_refused_before_any_call() {
    let tenant = Tenant::fresh().await;
    let long = format!("{}/{}", tenant.function.url(), "x".repeat(230));
    let run = tenant
        .run_with(&["setup", "--webhook-url", &long], &[])
        .await;
    assert!(!run.succeeded(), "{run:?}");
    run.must("FAIL", "Webhook URL", "at most 255");
    assert!(tenant.porta.requests().await.is_empty());
    assert_eq!(tenant.porta.webhook().await, Value::Null);
}

#[tokio::test]
async fn doctor_passes_on_a_good_setup_with_or_without_the_webhook_url() {
    let tenant = Tenant::set_up().await;
    tenant
        .porta
        .add(json!({"value": MAINTENANCE, "user": 1, "name": "maintenance"}))
        .await;
    tenant
        .porta
        .add_failures(json!([{"event": "<event/>"}, {"event": "<event/>"}]))
        .await;
    let before = tenant.state().await;
    let calls = tenant.porta.calls().await.len();

    let run = tenant.doctor(&[("MAINTENANCE_TOKEN", MAINTENANCE)]).await;
    assert!(run.succeeded(), "{run:?}");
    run.must("ok", "Admin portal", "Access denied");
    run.must("ok", "Field token_value", "hidden");
    run.must("ok", "Field token_id", "hidden");
    run.must("ok", "Maintenance token", "Read & Write");
    run.must("ok", "Maintenance token", "2 filed now");
    run.must("ok", "Webhook settings", "Application created");
    run.must("ok", "Ping", "answered pong");
    assert!(
        run.stderr.contains("doctor: all 6 checks passed"),
        "{run:?}"
    );

    // Without --webhook-url it pings what 3scale stores, as 3scale's Ping button does.
    let run = tenant.run_with(&["doctor"], &[]).await;
    assert!(run.succeeded(), "{run:?}");
    run.must("skip", "Maintenance token", "none configured");
    run.must("ok", "Ping", "secret=REDACTED");

    assert_eq!(tenant.state().await, before, "doctor changes nothing");
    let calls = calls_since(&tenant.porta, calls).await;
    let (first, second) = calls.split_at(
        calls
            .iter()
            .position(|c| c == "PUT /admin/api/webhooks.json")
            .unwrap()
            + 1,
    );
    assert_only_reads(first);
    assert_only_reads(second);
}

#[tokio::test]
async fn doctor_fails_on_each_broken_setup_and_says_what_to_do() {
    let tenant = Tenant::set_up().await;
    let good = (
        tenant.porta.fields_definitions().await,
        tenant.porta.webhook().await,
    );
    let own_fields = |token_value: Value, token_id: Option<Value>| {
        let mut fields = vec![json!({"name": "token_value", "hidden": true})];
        fields[0]
            .as_object_mut()
            .unwrap()
            .extend(token_value.as_object().cloned().unwrap_or_default());
        if let Some(id) = token_id {
            fields.push(id);
        }
        Value::Array(fields)
    };
    let hidden_id = json!({"name": "token_id", "hidden": true});
    let cases: Vec<(&str, Value, Option<Value>, &str, &str)> = vec![
        (
            "a visible token field",
            own_fields(json!({"hidden": false}), Some(hidden_id.clone())),
            None,
            "Field token_value",
            "visible to developers",
        ),
        (
            "a required token field",
            own_fields(
                json!({"required": true, "hidden": false}),
                Some(hidden_id.clone()),
            ),
            None,
            "Field token_value",
            "required",
        ),
        (
            "no token id field",
            own_fields(json!({}), None),
            None,
            "Field token_id",
            "no such field",
        ),
        (
            "webhooks disabled",
            Value::Null,
            Some(json!({"active": false})),
            "Webhook settings",
            "Webhooks enabled is off",
        ),
        (
            "admin portal actions do not fire",
            Value::Null,
            Some(json!({"provider_actions": false})),
            "Webhook settings",
            "Actions in the admin portal also trigger webhooks is off",
        ),
        (
            "application created unticked",
            Value::Null,
            Some(json!({"application_created_on": false})),
            "Webhook settings",
            "Application created is off",
        ),
        (
            "another secret in the URL",
            Value::Null,
            Some(json!({"url": format!("{}?secret=stale", tenant.function.url())})),
            "Webhook settings",
            "not the function's webhook secret",
        ),
        (
            "no secret in the URL",
            Value::Null,
            Some(json!({"url": tenant.function.url()})),
            "Webhook settings",
            "carries no ?secret=",
        ),
        (
            "the webhook of another consumer",
            Value::Null,
            Some(json!({"url": OTHER_HOOK})),
            "Webhook settings",
            "it points to hooks.other.example, not to http://127.0.0.1:",
        ),
    ];
    for (case, fields, hook, step, words) in cases {
        if fields.is_array() {
            tenant.porta.set_own_fields(fields).await;
        }
        if let Some(change) = hook {
            tenant
                .edit_webhook(|stored| {
                    stored
                        .as_object_mut()
                        .unwrap()
                        .extend(change.as_object().cloned().unwrap_or_default())
                })
                .await;
        }
        let run = tenant.doctor(&[]).await;
        assert!(!run.succeeded(), "{case}: {run:?}");
        assert!(run.has("FAIL", step, words), "{case}: {run:?}");
        assert!(run.has("FAIL", step, "revoker setup"), "{case}: {run:?}");
        assert!(
            run.stderr.contains("doctor: 1 of 6 checks failed"),
            "{case}: {run:?}"
        );
        // Back to good, by hand.
        let own: Vec<Value> = good
            .0
            .iter()
            .filter(|f| {
                f["target"] == "Cinstance" && f["name"].as_str().unwrap().starts_with("token")
            })
            .cloned()
            .collect();
        tenant.porta.set_own_fields(Value::Array(own)).await;
        tenant.porta.set_webhook(good.1.clone()).await;
    }
    assert!(tenant.doctor(&[]).await.succeeded(), "back to good");
}

#[tokio::test]
async fn doctor_fails_when_the_webhook_does_not_answer_or_the_settings_cannot_be_read() {
    let tenant = Tenant::set_up().await;
    // The stored URL points at a port nothing listens on: the deployed function is gone.
    let gone = format!("http://127.0.0.1:{}/webhook", free_port());
    let run = tenant
        .run_with(&["doctor", "--webhook-url", &gone], &[])
        .await;
    assert!(!run.succeeded(), "{run:?}");
    run.must("FAIL", "Ping", "no answer");
    run.must("FAIL", "Webhook settings", "not to http://127.0.0.1");

    // Without --webhook-url the stored URL is pinged; another consumer's is named by host only.
    let foreign = format!(
        "http://127.0.0.1:{}/other-consumer?token=other-consumers-secret",
        free_port()
    );
    tenant
        .edit_webhook(|hook| hook["url"] = foreign.as_str().into())
        .await;
    let run = tenant.run_with(&["doctor"], &[]).await;
    run.must("FAIL", "Ping", "127.0.0.1 no answer");
    assert!(!run.stderr.contains("other-consumer"), "{run:?}");
    tenant
        .edit_webhook(|hook| hook["url"] = tenant.hook_url().into())
        .await;

    // A function that does not share the secret: 401 to the Ping.
    let other = WebhookEndpoint::start(app(tenant.porta.url(), Some("another-secret"), &[])).await;
    let run = tenant
        .run_with(&["doctor", "--webhook-url", other.url()], &[])
        .await;
    run.must("FAIL", "Ping", "refused the URL's secret");

    tenant
        .porta
        .fault(
            json!({"method": "PUT", "path": "^/admin/api/webhooks.json$", "status": 400,
                      "body": "Required parameter missing: web_hook"}),
        )
        .await;
    let run = tenant.doctor(&[]).await;
    assert!(!run.succeeded(), "{run:?}");
    run.must("FAIL", "Webhook settings", "could not be read back");
    run.must("FAIL", "Webhook settings", "revoker setup");
    run.must("ok", "Ping", "answered pong");
}

#[tokio::test]
async fn doctor_fails_on_a_wrong_admin_url_or_a_maintenance_token_that_cannot_sweep() {
    let tenant = Tenant::set_up().await;
    // The function's own URL is no admin portal.
    let run = tenant
        .run_with(
            &["doctor"],
            &[("THREESCALE_ADMIN_URL", tenant.function.url())],
        )
        .await;
    assert!(!run.succeeded(), "{run:?}");
    run.must("FAIL", "Admin portal", "not a 3scale admin portal");
    run.must("skip", "Everything else", "admin portal");

    const MEMBER: &str = "me3be7a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8";
    const READ_ONLY: &str = "r0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1";
    let porta = &tenant.porta;
    porta
        .add(json!({"value": MEMBER, "user": 3, "role": "member"}))
        .await;
    porta
        .add(json!({"value": READ_ONLY, "user": 4, "permission": "ro"}))
        .await;
    for (token, words) in [
        ("d3adbeefd3adbeef", "Access denied"),
        (MEMBER, "cannot read the webhook failures"),
        (READ_ONLY, "Read Only"),
    ] {
        let run = tenant.doctor(&[("MAINTENANCE_TOKEN", token)]).await;
        run.assert_free_of_secrets(&[token]);
        assert!(!run.succeeded(), "{run:?}");
        run.must("FAIL", "Maintenance token", words);
    }
}

#[tokio::test]
async fn issue_on_3scale_2_16_sets_the_expiry_and_prints_value_id_and_curl() {
    let tenant = Tenant::fresh().await;
    tenant.porta.set_release("2.16").await;
    let asked = jiff::Timestamp::now() + jiff::SignedDuration::from_mins(30);
    let run = tenant
        .run_with(
            &[
                "issue",
                "--name",
                "partner onboarding",
                "--expires-in",
                "30m",
            ],
            &[],
        )
        .await;
    assert!(run.succeeded(), "{run:?}");
    let (value, id) = issued(&run);
    let tokens = tokens_named(&tenant.porta, "partner onboarding").await;
    let token = tokens
        .iter()
        .find(|t| t["value"] == value.as_str())
        .expect("created");
    assert_eq!(token["id"].as_u64(), Some(id));
    assert_eq!(
        (token["permission"].as_str(), token["scopes"].clone()),
        (Some("rw"), json!(["account_management"]))
    );
    let expires: jiff::Timestamp = token["expires_at"]
        .as_str()
        .expect("expiry")
        .parse()
        .expect("time");
    assert!(
        (expires - asked).abs() < jiff::SignedDuration::from_secs(60),
        "{expires}"
    );
    run.must("ok", "Token", "expires at");
    assert!(run.line("warn", "Expiry").is_none(), "{run:?}");
    assert!(run.stderr.contains("-u \"$TOKEN_VALUE:\""), "{run:?}");
    assert!(
        run.stderr
            .contains("-d token_value=\"$TOKEN_VALUE\" -d token_id=\"$TOKEN_ID\""),
        "{run:?}"
    );
}

#[tokio::test]
async fn issue_before_3scale_2_16_warns_that_the_expiry_is_ignored() {
    let tenant = Tenant::fresh().await;
    tenant.porta.set_release("2.15").await;
    let run = tenant
        .run_with(&["issue", "--name", "old 3scale"], &[])
        .await;
    assert!(run.succeeded(), "{run:?}");
    let (value, _) = issued(&run);
    assert!(tenant.porta.is_alive(&value).await);
    let tokens = tokens_named(&tenant.porta, "old 3scale").await;
    assert_eq!(tokens[0]["expires_at"], Value::Null);
    run.must("warn", "Expiry", "ignored expires_at");

    let refused = tenant
        .run_with(
            &["issue", "--name", "x"],
            &[("THREESCALE_TOKEN", "n0ts0l1ve")],
        )
        .await;
    assert!(
        !refused.succeeded() && refused.stdout.is_empty(),
        "{refused:?}"
    );
    refused.must("FAIL", "Token", "Access denied");
    let bad = tenant
        .run_with(&["issue", "--name", "x", "--expires-in", "soon"], &[])
        .await;
    assert_eq!(bad.code, Some(2), "{bad:?}");
}

/// Form bodies and JSON answers, which this crate's reqwest leaves out.
trait FormBody {
    fn form_body(self, pairs: &[(&str, &str)]) -> Self;
}

impl FormBody for reqwest::RequestBuilder {
    fn form_body(self, pairs: &[(&str, &str)]) -> Self {
        let form = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(form)
    }
}

trait JsonBody {
    async fn json_body(self) -> Value;
}

impl JsonBody for reqwest::Response {
    async fn json_body(self) -> Value {
        json_of(self).await
    }
}

async fn json_of(response: reqwest::Response) -> Value {
    serde_json::from_slice(&response.bytes().await.expect("body")).expect("JSON")
}

/// The stand-in's tokens of this name, values included.
async fn tokens_named(porta: &Porta, name: &str) -> Vec<Value> {
    porta
        .tokens()
        .await
        .into_iter()
        .filter(|t| t["name"] == name)
        .collect()
}

/// The value and the id `issue` printed on stdout.
fn issued(run: &Run) -> (String, u64) {
    let line = |name: &str| {
        run.stdout
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("{name} in {run:?}"))
            .to_owned()
    };
    (
        line("TOKEN_VALUE="),
        line("TOKEN_ID=").parse().expect("numeric id"),
    )
}

#[tokio::test]
async fn a_token_issued_and_used_once_is_revoked_by_the_function() {
    let tenant = Tenant::set_up().await;
    let run = tenant
        .run_with(&["issue", "--name", "single use"], &[])
        .await;
    assert!(run.succeeded(), "{run:?}");
    let (value, id) = issued(&run);

    // The curl issue suggests: 3scale stores the application and fires its webhook.
    let created = reqwest::Client::new()
        .post(format!(
            "{}/admin/api/accounts/7/applications.json",
            tenant.porta.url()
        ))
        .basic_auth(&value, None::<&str>)
        .form_body(&[
            ("plan_id", "1"),
            ("name", "Partner integration"),
            ("token_value", value.as_str()),
            ("token_id", &id.to_string()),
        ])
        .send()
        .await
        .expect("create application");
    assert_eq!(created.status(), 201);

    let deadline = Instant::now() + Duration::from_secs(30);
    let delivery = loop {
        if let Some(delivery) = tenant.porta.deliveries().await.pop() {
            break delivery;
        }
        assert!(Instant::now() < deadline, "no webhook delivered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(delivery["event"], "application:created");
    assert_eq!(delivery["status"], 200, "{delivery}");
    assert_eq!(delivery["body"], r#"{"outcome":"revoked"}"#);
    assert!(!tenant.porta.is_alive(&value).await);
    assert!(tenant.porta.is_alive(ADMIN).await);
}

#[tokio::test]
async fn the_stand_in_answers_the_webhooks_put_and_fields_definitions_as_porta_does() {
    let porta = Porta::start().await;
    porta.add(json!({"value": ADMIN})).await;
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}/admin/api/{path}", porta.url());
    let put = |form: &[(&str, &str)]| {
        http.put(url("webhooks.json"))
            .basic_auth(ADMIN, None::<&str>)
            .form_body(form)
            .send()
    };
    // No Content-Type: nothing is wrapped, and fetch(:web_hook) raises.
    let bare = http
        .put(url("webhooks.json"))
        .basic_auth(ADMIN, None::<&str>)
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 400);
    assert_eq!(porta.webhook().await, Value::Null);
    // Flat and nested, only permitted attributes.
    let flat = put(&[
        ("url", "https://a.example/w"),
        ("active", "1"),
        ("push_application_content_type", "false"),
    ]);
    let flat: Value = flat.await.unwrap().json_body().await;
    assert_eq!(flat["webhook"]["active"], true);
    assert!(
        flat["webhook"]
            .get("push_application_content_type")
            .is_none()
    );
    assert_eq!(porta.webhook().await["push_application_content_type"], true);
    let nested = put(&[("web_hook[provider_actions]", "true"), ("active", "false")]);
    let nested: Value = nested.await.unwrap().json_body().await;
    assert_eq!(
        (
            &nested["webhook"]["provider_actions"],
            &nested["webhook"]["active"]
        ),
        (&json!(true), &json!(true)),
        "a nested web_hook is not re-wrapped"
    );
    // A body without a permitted attribute reads the settings.
    let stored = porta.webhook().await;
    let read = http
        .put(url("webhooks.json"))
        .basic_auth(ADMIN, None::<&str>)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(json_of(read).await, nested);
    assert_eq!(porta.webhook().await, stored, "updated_at kept");
    let long = format!("https://a.example/{}", "w".repeat(240));
    let too_long = put(&[("url", &long)]).await.unwrap();
    assert_eq!(too_long.status(), 422);

    let fields = http
        .post(url("fields_definitions.json"))
        .basic_auth(ADMIN, None::<&str>)
        .form_body(&[
            ("fields_definition[target]", "Cinstance"),
            ("fields_definition[name]", "tier"),
            ("fields_definition[label]", "Tier"),
            ("fields_definition[hidden]", "true"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(fields.status(), 201);
    let created: Value = fields.json_body().await;
    let id = created["fields_definition"]["id"].as_u64().unwrap();
    let update = |form: Vec<(&'static str, &'static str)>| {
        http.put(url(&format!("fields_definitions/{id}.json")))
            .basic_auth(ADMIN, None::<&str>)
            .form_body(&form)
            .send()
    };
    assert_eq!(
        update(vec![("required", "true")]).await.unwrap().status(),
        422,
        "required AND hidden"
    );
    let renamed: Value = update(vec![("name", "other"), ("hidden", "false")])
        .await
        .unwrap()
        .json_body()
        .await;
    assert_eq!(
        (
            &renamed["fields_definition"]["name"],
            &renamed["fields_definition"]["hidden"]
        ),
        (&json!("tier"), &json!(false)),
        "name is not permitted on update"
    );
    // The application extra fields follow the definitions.
    porta.add_application(5, 7, json!({})).await;
    http.put(url("accounts/7/applications/5.json"))
        .basic_auth(ADMIN, None::<&str>)
        .form_body(&[("tier", "gold"), ("token_value", "x"), ("undefined", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        porta.extra_fields(5).await,
        json!({"tier": "gold", "token_value": "x"})
    );
}
