//! An egress proxy: both clients honour `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY`, as read
//! when each is built. A loopback proxy records what it is asked: a `CONNECT` tunnel to the
//! HTTPS admin portal, and the Secrets Manager call (plain HTTP here, so `HTTP_PROXY`).
//! One test: the variables are the process's, so nothing may run beside it.
// A failed expectation in a test is a failed test, not a panic on the request path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use access_token_revoker::{AdminApiClient, App, SecretsManagerPortal, tls};
use common::certs::TestCa;
use common::*;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// A loopback HTTP proxy: tunnels `CONNECT`, answers any other request 502, and records the
/// request line of each.
async fn proxy() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(serve(client, Arc::clone(&record)));
        }
    });
    (url, seen)
}

async fn serve(mut client: TcpStream, seen: Arc<Mutex<Vec<String>>>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match client.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let line = head.lines().next().unwrap_or_default().to_owned();
    seen.lock().unwrap().push(line.clone());
    let mut parts = line.split_whitespace();
    if let (Some("CONNECT"), Some(target)) = (parts.next(), parts.next()) {
        let Ok(mut upstream) = TcpStream::connect(target).await else {
            let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
            return;
        };
        if client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await
            .is_ok()
        {
            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        }
    } else {
        let _ = client
            .write_all(
                b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )
            .await;
    }
}

fn set(name: &str, value: &str) {
    // SAFETY: this test binary has one test, and it sets these before building any client.
    unsafe { std::env::set_var(name, value) };
}

/// The function reading its configuration through `client`, built now (so with the
/// proxy variables as they are now).
fn app_reading(
    client: aws_sdk_secretsmanager::Client,
) -> App<SecretsManagerPortal, AdminApiClient> {
    let secret_id = "threescale/behind-a-proxy";
    App::new(
        settings(&[("THREESCALE_SECRET_ID", secret_id)]),
        SecretsManagerPortal::new(client, secret_id, Duration::from_secs(300)),
        AdminApiClient::new(fast_retries()).expect("client"),
    )
}

fn lines(seen: &Mutex<Vec<String>>) -> Vec<String> {
    seen.lock().unwrap().clone()
}

#[tokio::test]
async fn both_clients_go_through_https_proxy_unless_no_proxy_says_otherwise() {
    let (proxy_url, seen) = proxy().await;
    let ca = TestCa::new("Acme Corporate Root CA");
    let server = ca.loopback();
    let porta = Porta::tls_with_fixture_tokens(&server).await;
    let ca_path = server.dir().join("ca.pem");
    std::fs::write(&ca_path, &ca.pem).expect("CA file");
    let ca_file = ca_path.to_str().expect("UTF-8").to_owned();
    let secrets_manager = format!("http://127.0.0.1:{}", free_port());
    for (name, value) in [
        ("HTTPS_PROXY", proxy_url.as_str()),
        ("HTTP_PROXY", proxy_url.as_str()),
        ("NO_PROXY", ""),
        ("AWS_ENDPOINT_URL", secrets_manager.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ] {
        set(name, value);
    }
    let admin_port = porta.url().rsplit(':').next().expect("port").to_owned();
    let tunnel = format!("CONNECT 127.0.0.1:{admin_port} HTTP/1.1");

    // The admin API: a CONNECT tunnel, then TLS with the private CA through it.
    let through = app(
        porta.url(),
        Some(WEBHOOK_SECRET),
        &[("THREESCALE_ADMIN_CA_FILE", &ca_file)],
    );
    let revoked = deliver(&through, "apigw-http", "application-created").await;
    assert_eq!(revoked, (200, json!({"outcome": "revoked"})));
    assert!(!porta.is_alive(TOKEN).await);
    assert_eq!(lines(&seen), vec![tunnel.clone()], "one tunnel, kept alive");

    // Secrets Manager: the SDK's request goes to the proxy too.
    let from_secret = app_reading(aws_sdk_secretsmanager::Client::new(
        &tls::aws_config_loader().load().await,
    ));
    let (status, _) = deliver(&from_secret, "apigw-http", "ping").await;
    assert_eq!(status, 500, "the proxy answers 502 for Secrets Manager");
    let forwarded = lines(&seen);
    assert!(
        forwarded[1..]
            .iter()
            .all(|l| l.starts_with(&format!("POST {secrets_manager}/"))),
        "{forwarded:?}"
    );
    assert!(forwarded.len() > 1, "{forwarded:?}");

    // NO_PROXY: both go direct, and the proxy hears of neither.
    set("NO_PROXY", "127.0.0.1");
    let before = lines(&seen).len();
    let direct = app(
        porta.url(),
        Some(WEBHOOK_SECRET),
        &[("THREESCALE_ADMIN_CA_FILE", &ca_file)],
    );
    assert_eq!(
        deliver(&direct, "apigw-http", "ping").await,
        (200, json!({"outcome": "pong"}))
    );
    let direct_secret = app_reading(aws_sdk_secretsmanager::Client::new(
        &tls::aws_config_loader().load().await,
    ));
    let (status, body) = deliver(&direct_secret, "apigw-http", "ping").await;
    assert_eq!(status, 500);
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Secrets Manager unreachable"),
        "{body}"
    );
    assert_eq!(lines(&seen).len(), before, "{:?}", lines(&seen));
}
