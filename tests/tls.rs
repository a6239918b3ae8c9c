//! TLS with the admin portal, over real handshakes: `scripts/fake-admin-api.py` serves HTTPS
//! with certificates made for each test by a private CA (tests/common/certs.rs). A private
//! CA given to the function (`THREESCALE_ADMIN_CA_FILE` here; the secret's `admin_ca_pem` in
//! tests/secrets_manager.rs) is trusted beside the system roots; every way a certificate can be
//! refused is named, for a delivery and for the Ping, after one connection and no retry.
// A failed expectation in a test is a failed test, not a panic on the request path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::certs::{ServerFiles, TestCa, Validity};
use common::porta::LONG_LIVED;
use common::*;
use serde_json::json;

/// The function pointed at `porta`, trusting `ca_file` if given.
fn app_for(
    porta: &Porta,
    ca_file: Option<&std::path::Path>,
) -> access_token_revoker::App<
    access_token_revoker::EnvironmentPortal,
    access_token_revoker::AdminApiClient,
> {
    let path = ca_file.map(|p| p.to_str().expect("UTF-8 path").to_owned());
    let vars: Vec<(&str, &str)> = path
        .as_deref()
        .map(|p| vec![("THREESCALE_ADMIN_CA_FILE", p)])
        .unwrap_or_default();
    app(porta.url(), Some(WEBHOOK_SECRET), &vars)
}

/// `ca`'s certificate in a file of its own, as `THREESCALE_ADMIN_CA_FILE` names it, beside
/// the server's certificate (and removed with it).
fn ca_file(ca: &TestCa, beside: &ServerFiles) -> std::path::PathBuf {
    let path = beside.dir().join("ca.pem");
    std::fs::write(&path, &ca.pem).expect("CA file");
    path
}

/// A delivery and a Ping both fail with `failure` (`tls_…` in the audit line), the message
/// saying `says`; each after exactly one refused handshake, nothing reaching porta's API.
async fn refused_the_same_way(porta: &Porta, ca: Option<&std::path::Path>, code: &str, says: &str) {
    let app = app_for(porta, ca);
    let (logs, guard) = Logs::capture();
    let (status, body) = deliver(&app, "apigw-http", "application-created").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (502, Some("admin_tls_failed")),
        "{body}"
    );
    let message = body["message"].as_str().expect("message");
    assert!(message.contains(says), "{message}");
    assert_eq!(
        porta.settled_tls_failures(1).await,
        1,
        "one handshake, no retry"
    );

    let (status, body) = deliver(&app, "apigw-http", "ping").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (502, Some("admin_url_tls_failed")),
        "{body}"
    );
    assert!(
        body["message"].as_str().expect("message").contains(says),
        "{body}"
    );
    assert_eq!(
        porta.settled_tls_failures(2).await,
        2,
        "the Ping: one handshake"
    );
    drop(guard);

    assert!(porta.requests().await.is_empty(), "no request got through");
    assert!(porta.is_alive(TOKEN).await, "the token is still alive");
    let audit = logs.audit_lines();
    assert_eq!(
        (audit[0]["outcome"].as_str(), audit[0]["reason"].as_str()),
        (Some("admin_tls_failed"), Some(code))
    );
    assert_eq!(
        (audit[1]["outcome"].as_str(), audit[1]["reason"].as_str()),
        (Some("admin_url_tls_failed"), Some(code))
    );
    logs.assert_free_of(&[TOKEN, WEBHOOK_SECRET]);
}

#[tokio::test]
async fn a_private_ca_file_gives_pong_then_a_verified_revocation_on_one_connection() {
    let ca = TestCa::new("Acme Corporate Root CA");
    let server = ca.loopback();
    let porta = Porta::tls_with_fixture_tokens(&server).await;
    let file = ca_file(&ca, &server);
    let app = app_for(&porta, Some(&file));
    assert!(porta.url().starts_with("https://"));

    let (logs, guard) = Logs::capture();
    let pong = deliver(&app, "apigw-http", "ping").await;
    assert_eq!(pong, (200, json!({"outcome": "pong"})));
    let revoked = deliver(&app, "apigw-http", "application-created").await;
    assert_eq!(revoked, (200, json!({"outcome": "revoked"})));
    drop(guard);

    assert!(!porta.is_alive(TOKEN).await);
    assert!(porta.is_alive(LONG_LIVED).await);
    let requests = porta.requests().await;
    assert_eq!(
        requests.len(),
        4,
        "the probe, then list, delete, verify: {requests:?}"
    );
    assert!(
        requests
            .iter()
            .all(|r| r["client_port"] == requests[0]["client_port"]),
        "one kept-alive TLS connection for all of them"
    );
    assert_eq!(porta.connections().await.1, 0, "no handshake failed");
    assert_eq!(
        logs.text()
            .matches("admin API client built with the private CA")
            .count(),
        1,
        "the client is built once for the CA, not per request"
    );
    let body_of_pem: String = ca.pem.lines().filter(|l| !l.starts_with("-----")).collect();
    logs.assert_free_of(&[TOKEN, WEBHOOK_SECRET, &body_of_pem[..40]]);
}

#[tokio::test]
async fn without_the_private_ca_the_certificate_is_not_trusted() {
    let ca = TestCa::new("Acme Corporate Root CA");
    let server = ca.loopback();
    let porta = Porta::tls_with_fixture_tokens(&server).await;
    refused_the_same_way(&porta, None, "tls_not_trusted", "not trusted").await;
}

#[tokio::test]
async fn another_ca_than_the_one_given_is_not_trusted_either() {
    let ca = TestCa::new("Acme Corporate Root CA");
    let other = TestCa::new("Some Other CA");
    let server = ca.loopback();
    let porta = Porta::tls_with_fixture_tokens(&server).await;
    let file = ca_file(&other, &server);
    refused_the_same_way(&porta, Some(&file), "tls_not_trusted", "not trusted").await;
}

#[tokio::test]
async fn a_certificate_for_another_host_is_a_name_mismatch() {
    let ca = TestCa::new("Acme Corporate Root CA");
    let server = ca.issue(&["acme-admin.example.com"], Validity::Current);
    let porta = Porta::tls_with_fixture_tokens(&server).await;
    let file = ca_file(&ca, &server);
    refused_the_same_way(&porta, Some(&file), "tls_name_mismatch", "name mismatch").await;
}

#[tokio::test]
async fn an_expired_certificate_is_expired() {
    let ca = TestCa::new("Acme Corporate Root CA");
    let server = ca.issue(&["127.0.0.1", "localhost"], Validity::Expired);
    let porta = Porta::tls_with_fixture_tokens(&server).await;
    let file = ca_file(&ca, &server);
    refused_the_same_way(
        &porta,
        Some(&file),
        "tls_expired",
        "expired or not yet valid",
    )
    .await;
}

#[tokio::test]
async fn plain_http_behind_an_https_admin_url_is_a_handshake_failure() {
    let porta = Porta::with_fixture_tokens().await;
    let https = porta.url().replace("http://", "https://");
    let app = app(&https, Some(WEBHOOK_SECRET), &[]);
    let (status, body) = deliver(&app, "apigw-rest", "application-created").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (502, Some("admin_tls_failed")),
        "{body}"
    );
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("handshake failure"),
        "{body}"
    );
    assert_eq!(
        porta.connections().await.0,
        1 + 1,
        "the control client's, and one attempt"
    );
    assert!(porta.is_alive(TOKEN).await);
}

#[tokio::test]
async fn a_ca_file_that_is_not_pem_stops_the_start_naming_the_variable_only() {
    let server = TestCa::new("Acme Corporate Root CA").loopback();
    let path = server.dir().join("ca.pem");
    std::fs::write(
        &path,
        "-----BEGIN CERTIFICATE-----\nc2VjcmV0LWlzaA==\n-----END CERTIFICATE-----\n",
    )
    .expect("file");
    let lookup = |name: &str| match name {
        "THREESCALE_ADMIN_URL" => Some("https://127.0.0.1:9".to_owned()),
        "THREESCALE_ADMIN_CA_FILE" => Some(path.to_str().expect("UTF-8").to_owned()),
        _ => None,
    };
    let err = access_token_revoker::Settings::from_lookup(lookup).expect_err("not a certificate");
    let text = err.to_string();
    assert!(
        text.starts_with("THREESCALE_ADMIN_CA_FILE is invalid"),
        "{text}"
    );
    assert!(!text.contains("c2VjcmV0"), "{text}");
}
