//! The admin portal configuration from Secrets Manager: `moto_server` on loopback stands in
//! for the service (tests/common/moto.rs), and the real SDK client reaches it through
//! `AWS_ENDPOINT_URL`, as in production (`tls::aws_config_loader`).
// A failed expectation in a test is a failed test, not a panic on the request path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use access_token_revoker::{AdminApiClient, App, SecretsManagerPortal, tls};
use common::moto::{create_secret, get_secret_value_calls, moto, secrets_client};
use common::*;
use std::time::Duration;

fn secret_json(admin_url: &str, webhook_secret: Option<&str>) -> String {
    match webhook_secret {
        Some(s) => serde_json::json!({"admin_url": admin_url, "webhook_secret": s}),
        None => serde_json::json!({"admin_url": admin_url}),
    }
    .to_string()
}

async fn put_secret(client: &aws_sdk_secretsmanager::Client, name: &str, value: &str) {
    client
        .put_secret_value()
        .secret_id(name)
        .secret_string(value)
        .send()
        .await
        .expect("PutSecretValue on moto");
}

/// A secret pointing at a fresh loopback admin API, and the handler reading it with `ttl`.
async fn with_secret(
    secret_id: &str,
    ttl: Duration,
) -> (
    aws_sdk_secretsmanager::Client,
    Porta,
    App<SecretsManagerPortal, AdminApiClient>,
) {
    let client = secrets_client().await;
    let porta = Porta::with_fixture_tokens().await;
    let json = secret_json(porta.url(), Some(WEBHOOK_SECRET));
    create_secret(&client, secret_id, &json).await;
    let app = app_with_secret(client.clone(), secret_id, ttl);
    (client, porta, app)
}

fn app_with_secret(
    client: aws_sdk_secretsmanager::Client,
    secret_id: &str,
    ttl: Duration,
) -> App<SecretsManagerPortal, AdminApiClient> {
    App::new(
        settings(&[("THREESCALE_SECRET_ID", secret_id)]),
        SecretsManagerPortal::new(client, secret_id, ttl),
        AdminApiClient::new(fast_retries()).expect("HTTP client"),
    )
}

#[tokio::test]
async fn the_secret_configures_the_function_and_is_fetched_once_per_ttl() {
    let secret_id = "threescale/cached";
    let (client, porta, app) = with_secret(secret_id, Duration::from_secs(300)).await;
    let (logs, _guard) = Logs::capture();

    for attempt in 0..5 {
        let (status, body) = deliver(&app, "apigw-rest", "application-created").await;
        let expected = if attempt == 0 {
            "revoked"
        } else {
            "already_revoked"
        };
        assert_eq!((status, body["outcome"].as_str()), (200, Some(expected)));
    }
    assert!(!porta.is_alive(TOKEN).await);
    assert_eq!(
        porta.deletes().await,
        1,
        "a dead token is never deleted again"
    );
    assert_eq!(get_secret_value_calls(secret_id), 1, "cached for the TTL");

    // Within the TTL a rotated secret is not seen yet: the old shared secret still works.
    put_secret(
        &client,
        secret_id,
        &secret_json(porta.url(), Some("rotated-secret")),
    )
    .await;
    let (status, _) = deliver(&app, "apigw-rest", "application-created").await;
    assert_eq!(status, 200);
    assert_eq!(get_secret_value_calls(secret_id), 1);
    logs.assert_free_of(&[TOKEN, WEBHOOK_SECRET, "rotated-secret"]);
}

#[tokio::test]
async fn an_expired_cache_fetches_again_and_sees_a_rotation() {
    let secret_id = "threescale/rotating";
    let (client, porta, app) = with_secret(secret_id, Duration::ZERO).await;

    let (status, _) = deliver(&app, "apigw-http", "application-created").await;
    assert_eq!(status, 200);
    put_secret(
        &client,
        secret_id,
        &secret_json(porta.url(), Some("rotated-secret")),
    )
    .await;
    let (status, body) = deliver(&app, "apigw-http", "application-created").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("unauthorized")),
        "the old secret no longer works"
    );
    assert_eq!(get_secret_value_calls(secret_id), 2);
}

#[tokio::test]
async fn a_missing_secret_is_500_json_and_no_revocation() {
    let client = secrets_client().await;
    let porta = Porta::with_fixture_tokens().await;
    let app = app_with_secret(
        client,
        "threescale/does-not-exist",
        Duration::from_secs(300),
    );
    let (logs, _guard) = Logs::capture();
    let (status, body) = deliver(&app, "function-url", "application-created").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (500, Some("configuration_unavailable"))
    );
    assert_eq!(porta.deletes().await, 0);
    assert!(logs.text().contains("ResourceNotFoundException"));
    assert_eq!(
        logs.audit_lines()[0]["outcome"],
        "configuration_unavailable"
    );
}

#[tokio::test]
async fn a_malformed_secret_is_500_and_its_value_is_not_logged() {
    let client = secrets_client().await;
    let secret_id = "threescale/malformed";
    let leaky = r#"{"adminurl": "https://leaky-admin.3scale.net", "webhook_secret": "leaky"}"#;
    create_secret(&client, secret_id, leaky).await;
    let app = app_with_secret(client, secret_id, Duration::from_secs(300));
    let (logs, _guard) = Logs::capture();
    let (status, body) = deliver(&app, "apigw-http", "ping").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (500, Some("configuration_unavailable"))
    );
    logs.assert_free_of(&["leaky"]);
    assert!(!body.to_string().contains("leaky"));
}

#[tokio::test]
async fn an_unreachable_secrets_manager_is_500_not_a_crash() {
    moto();
    let port = free_port();
    let config = tls::aws_config_loader()
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .load()
        .await;
    let app = app_with_secret(
        aws_sdk_secretsmanager::Client::new(&config),
        "threescale/anything",
        Duration::from_secs(300),
    );
    let (status, body) = deliver(&app, "apigw-rest", "application-created").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (500, Some("configuration_unavailable"))
    );
}

#[tokio::test]
async fn a_failed_refresh_serves_the_last_good_configuration_for_another_ttl() {
    let ttl = Duration::from_secs(2);
    let secret_id = "threescale/outage";
    let (client, porta, app) = with_secret(secret_id, ttl).await;
    assert_eq!(
        deliver(&app, "apigw-http", "application-created").await.0,
        200
    );
    client
        .delete_secret()
        .secret_id(secret_id)
        .force_delete_without_recovery(true)
        .send()
        .await
        .expect("DeleteSecret");

    tokio::time::sleep(ttl + Duration::from_millis(200)).await;
    for _ in 0..3 {
        let (status, body) = deliver(&app, "apigw-http", "application-created").await;
        assert_eq!(
            (status, body["outcome"].as_str()),
            (200, Some("already_revoked")),
            "the admin portal is still reached"
        );
    }
    assert_eq!(
        get_secret_value_calls(secret_id),
        2,
        "one failed refresh, then the stale value is trusted for another TTL"
    );
    // One revocation (list, delete, verify), then one refused listing per delivery.
    assert_eq!(porta.calls().await.len(), 3 + 3);
}

#[tokio::test]
async fn a_maintenance_token_in_the_secret_drives_the_sweep_and_is_never_logged() {
    let client = secrets_client().await;
    let secret_id = "threescale/with-maintenance-token";
    let porta = Porta::with_fixture_tokens().await;
    let maintenance = common::porta::LONG_LIVED;
    let json = serde_json::json!({
        "admin_url": porta.url(),
        "webhook_secret": WEBHOOK_SECRET,
        "maintenance_token": maintenance,
    });
    create_secret(&client, secret_id, &json.to_string()).await;
    let event = std::fs::read_to_string(events_dir().join("payloads/application-created.xml"))
        .expect("payload");
    porta
        .add_failures(serde_json::json!([{
            "time": porta_time(7),
            "event": event,
        }]))
        .await;
    let app = app_with_secret(client, secret_id, Duration::from_secs(300));

    let (logs, _guard) = Logs::capture();
    let summary = run_sweep(&app).await;

    assert_eq!(
        (summary["revoked"].as_u64(), summary["deleted"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(!porta.is_alive(TOKEN).await);
    assert!(
        porta.is_alive(maintenance).await,
        "the maintenance token revokes nothing"
    );
    assert!(porta.failures().await.is_empty());
    assert_eq!(get_secret_value_calls(secret_id), 1);
    logs.assert_free_of(&[maintenance, TOKEN, WEBHOOK_SECRET]);
}
