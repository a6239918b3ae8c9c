//! Which admin portal `admin_url` names. porta answers by Host: on another tenant's admin
//! domain every token of this tenant is refused with `Access denied`, exactly as a dead token
//! is, and a host that is no admin domain answers a token with 404
//! (`lib/developer_portal/lib/site_account_support.rb`). The stand-in does the same: its
//! tenant's admin domain is 127.0.0.1, and `localhost` names the same socket by another host.
// A failed expectation in a test is a failed test, not a panic on the request path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use access_token_revoker::metrics::MetricsSink;
use common::porta::LONG_LIVED;
use common::*;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// The stand-in's own URL with `localhost` for 127.0.0.1: another host, the same server.
fn by_other_host(porta: &Porta) -> String {
    porta.url().replace("127.0.0.1", "localhost")
}

/// The function at `admin_url` with the long-lived admin token as its maintenance token.
fn with_maintenance(
    admin_url: &str,
) -> access_token_revoker::App<
    access_token_revoker::EnvironmentPortal,
    access_token_revoker::AdminApiClient,
> {
    app(
        admin_url,
        Some(WEBHOOK_SECRET),
        &[("MAINTENANCE_TOKEN", LONG_LIVED)],
    )
}

#[tokio::test]
async fn with_a_maintenance_token_ping_proves_the_tenant_and_a_wrong_host_fails() {
    let porta = Porta::with_fixture_tokens().await;
    let (status, body) = deliver(&with_maintenance(porta.url()), "apigw-http", "ping").await;
    assert_eq!((status, body), (200, json!({"outcome": "pong"})));
    let listings: Vec<Value> = porta.requests().await;
    assert_eq!(
        listings
            .iter()
            .map(|r| r["auth"].as_str())
            .collect::<Vec<_>>(),
        [Some("none"), Some("basic")],
        "a tokenless listing, then the maintenance token's own"
    );

    // Another tenant's admin portal: the tokenless listing is refused as on ours.
    porta.hosts("127.0.0.1", &["localhost"]).await;
    let app = with_maintenance(&by_other_host(&porta));
    let (logs, guard) = Logs::capture();
    let (status, body) = deliver(&app, "apigw-http", "ping").await;
    drop(guard);
    assert_eq!(
        (status, body["error"].as_str()),
        (502, Some("admin_url_not_tenant_admin")),
        "{body}"
    );
    assert!(body["message"].as_str().unwrap().contains("another tenant"));
    assert_eq!(
        logs.audit_lines()[0]["outcome"],
        "admin_url_not_tenant_admin"
    );
    logs.assert_free_of(&[LONG_LIVED, WEBHOOK_SECRET]);

    // A host that is no admin portal at all (a developer portal, say): 404 to the token.
    porta.hosts("127.0.0.1", &[]).await;
    let (status, body) = deliver(&app, "apigw-http", "ping").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (502, Some("admin_url_not_tenant_admin"))
    );
    assert!(body["message"].as_str().unwrap().contains("404"), "{body}");

    // Without a maintenance token, Ping cannot tell: it proves a 3scale admin API only.
    let (status, _) = deliver(
        &common::app(&by_other_host(&porta), Some(WEBHOOK_SECRET), &[]),
        "apigw-http",
        "ping",
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn on_another_tenants_admin_portal_the_sweep_refuses_and_touches_nothing() {
    let porta = Porta::with_fixture_tokens().await;
    porta.hosts("127.0.0.1", &["localhost"]).await;
    let event = std::fs::read_to_string(events_dir().join("payloads/application-created.xml"))
        .expect("payload");
    porta
        .add_failures(json!([{"time": porta_time(10), "event": event}]))
        .await;
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let kept = Arc::clone(&lines);
    let app = with_maintenance(&by_other_host(&porta))
        .with_metrics(MetricsSink::new("t", move |l| {
            kept.lock().unwrap().push(l.to_owned())
        }));

    let summary = run_sweep(&app).await;

    assert!(
        summary["stopped"]
            .as_str()
            .is_some_and(|s| s.contains("not this tenant's admin portal")),
        "{summary}"
    );
    assert_eq!(summary["seen"], 0, "the failures were not even read");
    assert_eq!(porta.failures().await.len(), 1, "nothing deleted");
    assert!(porta.is_alive(TOKEN).await, "and nothing revoked");
    let emf: Value = serde_json::from_str(&lines.lock().unwrap()[0]).expect("EMF");
    assert_eq!(emf["SweepFailures"], 1, "counted, so its alarm fires");
}

#[tokio::test]
async fn without_a_maintenance_token_a_wrong_host_reads_as_already_revoked_and_is_counted() {
    let porta = Porta::with_fixture_tokens().await;
    porta.hosts("127.0.0.1", &["localhost"]).await;
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let kept = Arc::clone(&lines);
    let app =
        app(&by_other_host(&porta), Some(WEBHOOK_SECRET), &[])
            .with_metrics(MetricsSink::new("t", move |l| {
                kept.lock().unwrap().push(l.to_owned())
            }));

    let (status, body) = deliver(&app, "apigw-http", "application-created").await;

    // porta's answer there is a dead token's: the function cannot know better. The token
    // lives, and the only-already-revoked alarm is what notices.
    assert_eq!((status, body), (200, json!({"outcome": "already_revoked"})));
    assert!(porta.is_alive(TOKEN).await);
    let emf: Value = serde_json::from_str(&lines.lock().unwrap()[0]).expect("EMF");
    assert_eq!(
        (emf["Outcome"].as_str(), emf["Decisions"].as_u64()),
        (Some("already_revoked"), Some(1))
    );
    let dimensions = &emf["_aws"]["CloudWatchMetrics"][0]["Dimensions"];
    assert!(
        dimensions
            .as_array()
            .unwrap()
            .contains(&json!(["FunctionName", "Outcome"]))
    );

    // A host that is no admin portal answers the token with 404: a failed revocation.
    porta.hosts("127.0.0.1", &[]).await;
    let (status, body) = deliver(&app, "apigw-http", "application-created").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (502, Some("admin_api_rejected")),
        "{body}"
    );
    assert!(porta.is_alive(TOKEN).await);
}

#[tokio::test]
async fn with_a_maintenance_token_already_revoked_is_said_only_on_this_tenants_portal() {
    let porta = Porta::with_fixture_tokens().await;
    porta.hosts("127.0.0.1", &["localhost"]).await;

    // Another tenant's admin portal refuses the live token as if it were dead; the
    // maintenance token is refused there too, so the answer is no "already revoked".
    let (logs, guard) = Logs::capture();
    let (status, body) = deliver(
        &with_maintenance(&by_other_host(&porta)),
        "apigw-http",
        "application-created",
    )
    .await;
    drop(guard);
    assert_eq!(
        (status, body["error"].as_str()),
        (502, Some("admin_api_rejected")),
        "{body}"
    );
    assert!(porta.is_alive(TOKEN).await);
    assert!(
        logs.text()
            .contains("may not be this tenant's admin portal")
    );
    assert_eq!(
        logs.audit_lines()[0].get("token_alive"),
        None,
        "unknown, not dead"
    );
    logs.assert_free_of(&[TOKEN, LONG_LIVED, WEBHOOK_SECRET]);

    // On this tenant's portal a dead token is already revoked, once the host is proven.
    let app = with_maintenance(porta.url());
    let (status, body) = deliver(&app, "apigw-http", "application-created").await;
    assert_eq!((status, body), (200, json!({"outcome": "revoked"})));
    let before = porta.requests().await.len();
    let (status, body) = deliver(&app, "apigw-http", "application-created").await;
    assert_eq!((status, body), (200, json!({"outcome": "already_revoked"})));
    let asked: Vec<String> = porta.requests().await[before..]
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["method"].as_str().unwrap(),
                r["auth"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        asked,
        ["GET basic", "GET basic"],
        "the token's own listing (its value starts with a digit), refused; then the \
         maintenance token's, answered"
    );
}
