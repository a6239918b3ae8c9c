//! 3scale's Ping (`GET ?ping=3scale`): with a good secret it also asks `admin_url`, with no
//! token, for the token listing, and only porta's own refusal makes it answer `pong`.
// A failed expectation in a test is a failed test, not a panic on the request path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const LISTING: &str = "/admin/api/personal/access_tokens.json";

/// A loopback web site that is not 3scale: every request gets `answer`, a whole HTTP response.
async fn site(answer: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                if socket.read(&mut request).await.is_ok() {
                    let _ = socket.write_all(answer.as_bytes()).await;
                }
            });
        }
    });
    url
}

/// A loopback server that accepts connections and never answers.
async fn silent_site() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    url
}

async fn ping(admin_url: &str) -> ((u16, serde_json::Value), Logs) {
    let app = app(admin_url, Some(WEBHOOK_SECRET), &[]);
    let (logs, _guard) = Logs::capture();
    let answer = deliver(&app, "apigw-http", "ping").await;
    logs.assert_free_of(&[WEBHOOK_SECRET, "secret="]);
    (answer, logs)
}

/// Pings the function pointed at `admin_url`: a 502 `error` whose message says `says`, and an
/// audit line with that outcome. Returns the message.
async fn ping_fails(admin_url: &str, error: &str, says: &str) -> String {
    let ((status, body), logs) = ping(admin_url).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (502, Some(error)),
        "{body}"
    );
    let message = body["message"].as_str().unwrap_or_default().to_owned();
    assert!(message.contains(says), "{message}");
    assert_eq!(logs.audit_lines()[0]["outcome"], error);
    message
}

#[tokio::test]
async fn against_porta_ping_is_pong_after_one_tokenless_listing_in_every_envelope() {
    for envelope in ENVELOPES {
        let porta = Porta::with_fixture_tokens().await;
        let app = app(porta.url(), Some(WEBHOOK_SECRET), &[]);
        let (status, body) = deliver(&app, envelope, "ping").await;
        assert_eq!(
            (status, body),
            (200, json!({"outcome": "pong"})),
            "{envelope}"
        );
        let requests = porta.requests().await;
        assert_eq!(requests.len(), 1, "{envelope}: one probe, {requests:?}");
        assert_eq!(
            (
                &requests[0]["method"],
                &requests[0]["path"],
                &requests[0]["auth"]
            ),
            (&json!("GET"), &json!(LISTING), &json!("none")),
            "{envelope}: unauthenticated, no token anywhere"
        );
        assert_eq!(requests[0]["query"], "");
        assert!(porta.is_alive(TOKEN).await);
    }
}

#[tokio::test]
async fn a_wrong_secret_is_401_before_anything_is_sent_to_3scale() {
    let porta = Porta::with_fixture_tokens().await;
    let app = app(porta.url(), Some(WEBHOOK_SECRET), &[]);
    let request = edited_request("apigw-rest", "ping", |e| {
        set_query(e, &[("secret", "wrong"), ("ping", "3scale")])
    });
    let (status, _) = read(&app.respond(&request).await);
    assert_eq!(status, 401);
    assert!(porta.requests().await.is_empty());
}

#[tokio::test]
async fn a_site_that_answers_404_is_not_3scale_and_the_answer_says_what_came_back() {
    let url = site(
        "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 26\r\n\
         Connection: close\r\n\r\n<html>nothing here</html>\n",
    )
    .await;
    let message = ping_fails(&url, "admin_url_not_3scale", "answered 404").await;
    assert!(
        !message.contains("nothing here"),
        "the body is never quoted"
    );
}

#[tokio::test]
async fn a_site_that_lets_anyone_list_tokens_is_not_3scale() {
    let url = site(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\
         Connection: close\r\n\r\n{\"access_tokens\":[]}",
    )
    .await;
    ping_fails(&url, "admin_url_not_3scale", "answered 200").await;
}

#[tokio::test]
async fn a_403_that_porta_would_not_send_is_not_proof() {
    for answer in [
        json!({"status": 403, "body": ""}), // a suspended account
        json!({"status": 403, "body": "<html>WAF</html>"}),
        json!({"status": 403, "body": {"status": "Forbidden"}}), // CanCan's denial
    ] {
        let porta = Porta::with_fixture_tokens().await;
        porta.fault(answer).await;
        ping_fails(porta.url(), "admin_url_not_3scale", "answered 403").await;
    }
}

#[tokio::test]
async fn a_closed_port_is_unreachable() {
    let url = format!("http://127.0.0.1:{}", free_port());
    ping_fails(&url, "admin_api_unreachable", "could not connect").await;
}

#[tokio::test]
async fn a_silent_admin_portal_is_unreachable_once_the_attempt_times_out() {
    ping_fails(&silent_site().await, "admin_api_unreachable", "timed out").await;
}

#[tokio::test]
async fn a_failing_admin_portal_is_unreachable_after_one_attempt() {
    let porta = Porta::with_fixture_tokens().await;
    porta.fault(json!({"status": 503, "times": null})).await;
    ping_fails(porta.url(), "admin_api_unreachable", "503").await;
    assert_eq!(
        porta.requests().await.len(),
        1,
        "Ping is one attempt, no retries"
    );
}
