//! The admin portal configuration from Secrets Manager: `moto_server` on loopback stands in
//! for the service (tests/common/moto.rs), and the real SDK client reaches it through
//! `AWS_ENDPOINT_URL`, as in production (`tls::aws_config_loader`).
// A failed expectation in a test is a failed test, not a panic on the request path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use access_token_revoker::{AdminApiClient, App, SecretsManagerPortal, tls};
use common::certs::TestCa;
use common::moto::{create_secret, get_secret_value_calls, moto, secrets_client};
use common::*;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

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
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains("Secrets Manager unreachable"), "{message}");
    assert!(!message.contains("threescale/anything"), "no secret named");
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

// ----- a private CA in the secret ----------------------------------------------------------

/// The secret's JSON for an HTTPS admin portal with its private CA.
fn secret_with_ca(admin_url: &str, ca_pem: &str) -> String {
    serde_json::json!({
        "admin_url": admin_url,
        "webhook_secret": WEBHOOK_SECRET,
        "admin_ca_pem": ca_pem,
    })
    .to_string()
}

/// A run of the PEM's base64, long enough that no log line holds it by chance.
fn pem_body(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

#[tokio::test]
async fn a_private_ca_in_admin_ca_pem_gives_pong_then_a_verified_revocation_and_is_never_logged() {
    let client = secrets_client().await;
    let ca = TestCa::new("Acme Corporate Root CA");
    let server = ca.loopback();
    let porta = Porta::tls_with_fixture_tokens(&server).await;
    let secret_id = "threescale/private-ca";
    create_secret(&client, secret_id, &secret_with_ca(porta.url(), &ca.pem)).await;
    let app = app_with_secret(client, secret_id, Duration::from_secs(300));

    let (logs, guard) = Logs::capture();
    let pong = deliver(&app, "apigw-http", "ping").await;
    let revoked = deliver(&app, "apigw-http", "application-created").await;
    drop(guard);

    assert_eq!(pong, (200, serde_json::json!({"outcome": "pong"})));
    assert_eq!(revoked, (200, serde_json::json!({"outcome": "revoked"})));
    assert!(!porta.is_alive(TOKEN).await, "verified dead over TLS");
    assert_eq!(porta.connections().await.1, 0, "no handshake failed");
    assert_eq!(get_secret_value_calls(secret_id), 1);
    let body = pem_body(&ca.pem);
    logs.assert_free_of(&[&body[..48], &body[body.len() - 48..], TOKEN, WEBHOOK_SECRET]);
    assert!(!logs.text().contains("BEGIN CERTIFICATE"));
}

#[tokio::test]
async fn a_ca_rotated_in_the_secret_is_used_once_the_ttl_is_over() {
    let client = secrets_client().await;
    let (old_ca, new_ca) = (TestCa::new("Old Root CA"), TestCa::new("New Root CA"));
    let (old_server, new_server) = (old_ca.loopback(), new_ca.loopback());
    let old_porta = Porta::tls_with_fixture_tokens(&old_server).await;
    let new_porta = Porta::tls_with_fixture_tokens(&new_server).await;
    let secret_id = "threescale/rotated-ca";
    create_secret(
        &client,
        secret_id,
        &secret_with_ca(old_porta.url(), &old_ca.pem),
    )
    .await;
    let app = app_with_secret(client.clone(), secret_id, Duration::ZERO);
    let (logs, guard) = Logs::capture();

    assert_eq!(deliver(&app, "apigw-http", "ping").await.0, 200);
    // The portal moved to a certificate of the new CA, the secret not yet: not trusted.
    put_secret(
        &client,
        secret_id,
        &secret_with_ca(new_porta.url(), &old_ca.pem),
    )
    .await;
    let (status, body) = deliver(&app, "apigw-http", "ping").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (502, Some("admin_url_tls_failed"))
    );
    // The new CA in the secret: read after the TTL, and the client is built again for it.
    put_secret(
        &client,
        secret_id,
        &secret_with_ca(new_porta.url(), &new_ca.pem),
    )
    .await;
    let pong = deliver(&app, "apigw-http", "ping").await;
    let revoked = deliver(&app, "apigw-http", "application-created").await;
    drop(guard);

    assert_eq!(pong.0, 200, "{pong:?}");
    assert_eq!(revoked, (200, serde_json::json!({"outcome": "revoked"})));
    assert!(!new_porta.is_alive(TOKEN).await);
    assert!(old_porta.is_alive(TOKEN).await);
    assert_eq!(
        logs.text()
            .matches("admin API client built with the private CA")
            .count(),
        2,
        "once per CA, however many requests"
    );
    for pem in [&old_ca.pem, &new_ca.pem] {
        logs.assert_free_of(&[&pem_body(pem)[..48]]);
    }
}

#[tokio::test]
async fn a_bad_admin_ca_pem_is_configuration_unavailable_naming_the_field_only() {
    let client = secrets_client().await;
    let secret_id = "threescale/bad-ca";
    let bad = "-----BEGIN CERTIFICATE-----\nbm90LWEtY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";
    create_secret(
        &client,
        secret_id,
        &secret_with_ca("https://127.0.0.1:9", bad),
    )
    .await;
    let app = app_with_secret(client, secret_id, Duration::from_secs(300));
    let (logs, guard) = Logs::capture();
    let (status, body) = deliver(&app, "apigw-http", "ping").await;
    drop(guard);
    assert_eq!(
        (status, body["error"].as_str()),
        (500, Some("configuration_unavailable"))
    );
    assert!(
        logs.text()
            .contains("admin_ca_pem certificate 1 is not a usable"),
        "{}",
        logs.text()
    );
    logs.assert_free_of(&["bm90LWEtY2VydGlmaWNhdGU"]);
    assert!(!body.to_string().contains("bm90LWEtY2VydGlmaWNhdGU"));
}

// ----- bounded reads -----------------------------------------------------------------------

/// Longest a delivery may wait for the configuration: one bounded read, and scheduling slack.
fn read_bound() -> Duration {
    tls::SECRETS_MANAGER_BOUND.total + Duration::from_secs(1)
}

/// A loopback relay to moto that can go silent, as a misrouted VPC endpoint, a proxy or a
/// network appliance does: it then accepts connections and reads, and never answers.
struct Relay {
    url: String,
    silent: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
}

impl Relay {
    /// Relays to moto until [`Self::go_silent`]; with `silent`, from the start.
    async fn start(silent: bool) -> Self {
        moto();
        let upstream = std::env::var("AWS_ENDPOINT_URL")
            .expect("moto's URL")
            .trim_start_matches("http://")
            .to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let silent = Arc::new(AtomicBool::new(silent));
        let accepted = Arc::new(AtomicUsize::new(0));
        let (flag, count) = (Arc::clone(&silent), Arc::clone(&accepted));
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let (flag, upstream) = (Arc::clone(&flag), upstream.clone());
                tokio::spawn(relay(client, upstream, flag));
            }
        });
        Self {
            url,
            silent,
            accepted,
        }
    }

    fn go_silent(&self) {
        self.silent.store(true, Ordering::SeqCst);
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    async fn client(&self) -> aws_sdk_secretsmanager::Client {
        let config = tls::aws_config_loader()
            .endpoint_url(&self.url)
            .load()
            .await;
        aws_sdk_secretsmanager::Client::new(&config)
    }
}

async fn relay(client: tokio::net::TcpStream, upstream: String, silent: Arc<AtomicBool>) {
    let (mut from_client, mut to_client) = client.into_split();
    let mut chunk = vec![0u8; 16 * 1024];
    let moto = if silent.load(Ordering::SeqCst) {
        None
    } else {
        tokio::net::TcpStream::connect(&upstream).await.ok()
    };
    let Some(moto) = moto else {
        // Silent from the start: read everything, answer nothing.
        while matches!(from_client.read(&mut chunk).await, Ok(n) if n > 0) {}
        return;
    };
    let (mut from_moto, mut to_moto) = moto.into_split();
    let flag = Arc::clone(&silent);
    tokio::spawn(async move {
        let mut chunk = vec![0u8; 16 * 1024];
        while let Ok(n @ 1..) = from_moto.read(&mut chunk).await {
            if !flag.load(Ordering::SeqCst) && to_client.write_all(&chunk[..n]).await.is_err() {
                return;
            }
        }
    });
    while let Ok(n @ 1..) = from_client.read(&mut chunk).await {
        // Once silent, what the client sends goes nowhere.
        if !silent.load(Ordering::SeqCst) && to_moto.write_all(&chunk[..n]).await.is_err() {
            return;
        }
    }
}

#[tokio::test]
async fn a_silent_secrets_manager_is_configuration_unavailable_within_the_bound_when_cold() {
    let relay = Relay::start(true).await;
    let porta = Porta::with_fixture_tokens().await;
    let app = app_with_secret(
        relay.client().await,
        "threescale/silent",
        Duration::from_secs(300),
    );
    let (logs, guard) = Logs::capture();
    let started = Instant::now();
    let (status, body) = deliver(&app, "apigw-http", "application-created").await;
    let took = started.elapsed();
    drop(guard);
    assert_eq!(
        (status, body["error"].as_str()),
        (500, Some("configuration_unavailable"))
    );
    assert!(took <= read_bound(), "{took:?}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains("Secrets Manager timed out"), "{message}");
    assert!(!message.contains("threescale/silent") && !logs.text().contains("threescale/silent"));
    assert!(relay.accepted() >= 1, "it did reach the silent endpoint");
    assert_eq!(porta.requests().await.len(), 0);
}

#[tokio::test]
async fn a_refresh_from_a_silent_secrets_manager_keeps_serving_the_cached_configuration() {
    let relay = Relay::start(false).await;
    let client = relay.client().await;
    let secret_id = "threescale/goes-silent";
    let porta = Porta::with_fixture_tokens().await;
    create_secret(
        &client,
        secret_id,
        &secret_json(porta.url(), Some(WEBHOOK_SECRET)),
    )
    .await;
    let ttl = Duration::from_secs(1);
    let app = Arc::new(app_with_secret(client, secret_id, ttl));
    let warm = deliver(&app, "apigw-http", "application-created").await;
    assert_eq!(warm, (200, serde_json::json!({"outcome": "revoked"})));

    relay.go_silent();
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    // One delivery refreshes (and waits for it, bounded); those beside it take the cached value.
    let started = Instant::now();
    let (refreshing, beside) =
        tokio::join!(deliver(&app, "apigw-http", "application-created"), async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let started = Instant::now();
            (
                deliver(&app, "apigw-http", "application-created").await,
                started.elapsed(),
            )
        });
    let took = started.elapsed();
    let already = (200, serde_json::json!({"outcome": "already_revoked"}));
    assert_eq!(refreshing, already, "the cached admin_url still reached");
    assert_eq!(beside.0, already);
    assert!(took <= read_bound(), "{took:?}");
    assert!(
        beside.1 < tls::SECRETS_MANAGER_BOUND.attempt,
        "a delivery beside the refresh does not wait for it: {:?}",
        beside.1
    );
    // The stale value is trusted for another TTL: no read, no wait.
    let accepted = relay.accepted();
    let started = Instant::now();
    assert_eq!(
        deliver(&app, "apigw-http", "application-created").await,
        already
    );
    assert!(started.elapsed() < tls::SECRETS_MANAGER_BOUND.attempt);
    assert_eq!(relay.accepted(), accepted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_concurrent_cold_deliveries_share_one_bounded_read() {
    let relay = Relay::start(true).await;
    let app = Arc::new(app_with_secret(
        relay.client().await,
        "threescale/silent-burst",
        Duration::from_secs(300),
    ));
    let mut deliveries = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let app = Arc::clone(&app);
        deliveries.spawn(async move {
            let started = Instant::now();
            let answer = deliver(&app, "apigw-rest", "application-created").await;
            (answer, started.elapsed())
        });
    }
    let answers = deliveries.join_all().await;
    assert_eq!(answers.len(), 8);
    for ((status, body), took) in &answers {
        assert_eq!(
            (*status, body["error"].as_str()),
            (500, Some("configuration_unavailable"))
        );
        assert!(*took <= read_bound(), "{took:?}");
    }
    let attempts = usize::try_from(tls::SECRETS_MANAGER_BOUND.attempts).expect("small");
    assert!(
        relay.accepted() <= attempts,
        "one read for all eight ({} connections)",
        relay.accepted()
    );
}

/// The function binary, started as Lambda would with `THREESCALE_SECRET_ID`, its
/// Runtime API on `runtime_api`; stdout and stderr captured.
fn start_function(
    secret_id: &str,
    runtime_api: &str,
    extra: &[(&str, &str)],
) -> std::process::Child {
    moto();
    Command::new(env!("CARGO_BIN_EXE_access-token-revoker"))
        .env("THREESCALE_SECRET_ID", secret_id)
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "access-token-revoker")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_LEVEL", "INFO")
        .envs(extra.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the function binary starts")
}

#[tokio::test]
async fn without_a_webhook_secret_the_deployed_function_refuses_to_start() {
    let client = secrets_client().await;
    let porta = Porta::with_fixture_tokens().await;
    create_secret(&client, "threescale/open", &secret_json(porta.url(), None)).await;
    // Nothing listens there: a function that got past its init would fail to reach it.
    let runtime_api = format!("127.0.0.1:{}", free_port());

    let output = start_function("threescale/open", &runtime_api, &[])
        .wait_with_output()
        .expect("the function exits");

    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("refusing to start"), "{said}");
    assert!(said.contains("ALLOW_UNAUTHENTICATED_WEBHOOKS"), "{said}");
    assert!(porta.requests().await.is_empty(), "nothing reached 3scale");
}

#[tokio::test]
async fn with_allow_unauthenticated_webhooks_it_starts_warns_and_serves() {
    let client = secrets_client().await;
    let porta = Porta::with_fixture_tokens().await;
    create_secret(
        &client,
        "threescale/open-allowed",
        &secret_json(porta.url(), None),
    )
    .await;
    // A Runtime API that only records that the function asked for its first event.
    let runtime = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let runtime_api = runtime.local_addr().expect("addr").to_string();

    let mut function = start_function(
        "threescale/open-allowed",
        &runtime_api,
        &[("ALLOW_UNAUTHENTICATED_WEBHOOKS", "true")],
    );
    let (mut asked, _) = runtime.accept().expect("the function asks for an event");
    let mut request = [0u8; 1024];
    let n = std::io::Read::read(&mut asked, &mut request).expect("request");
    assert!(String::from_utf8_lossy(&request[..n]).contains("/invocation/next"));
    function.kill().expect("kill");
    let output = function.wait_with_output().expect("output");
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        said.contains("anyone who can reach the webhook URL"),
        "{said}"
    );

    // In-process, the same settings serve a delivery without any secret.
    let vars = [
        ("THREESCALE_SECRET_ID", "threescale/open-allowed"),
        ("ALLOW_UNAUTHENTICATED_WEBHOOKS", "true"),
    ];
    let settings = settings(&vars);
    let portal = SecretsManagerPortal::new(client, "threescale/open-allowed", Duration::ZERO)
        .requiring(settings.secret_requirements());
    let app = App::new(
        settings,
        portal,
        AdminApiClient::new(fast_retries()).expect("client"),
    );
    let unsigned = edited_request("apigw-http", "application-created", |e| set_query(e, &[]));
    let (status, body) = read(&app.respond(&unsigned).await);
    assert_eq!((status, body["outcome"].as_str()), (200, Some("revoked")));
}

#[tokio::test]
async fn a_secret_that_could_never_serve_is_refused_by_name() {
    let client = secrets_client().await;
    for (id, secret, says) in [
        (
            "threescale/cleartext",
            serde_json::json!({"admin_url": "http://acme-admin.3scale.net", "webhook_secret": "s"}),
            "must use https",
        ),
        (
            "threescale/plus",
            serde_json::json!({"admin_url": "https://acme-admin.3scale.net", "webhook_secret": "a+b"}),
            "webhook_secret may hold only",
        ),
    ] {
        create_secret(&client, id, &secret.to_string()).await;
        let app = app_with_secret(client.clone(), id, Duration::ZERO);
        let (logs, guard) = Logs::capture();
        let (status, body) = deliver(&app, "apigw-http", "ping").await;
        drop(guard);
        assert_eq!(
            (status, body["error"].as_str()),
            (500, Some("configuration_unavailable")),
            "{id}"
        );
        assert!(logs.text().contains(says), "{id}: {}", logs.text());
        logs.assert_free_of(&["a+b", "acme-admin.3scale.net\""]);

        let runtime_api = format!("127.0.0.1:{}", free_port());
        let output = start_function(id, &runtime_api, &[])
            .wait_with_output()
            .expect("the function exits");
        assert!(!output.status.success(), "{id} refused at start");
    }
}
