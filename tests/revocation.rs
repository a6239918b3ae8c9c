//! What 3scale's admin API answers, and what the function then tells 3scale.

mod common;

use common::*;
use std::time::{Duration, Instant};
use wiremock::{Mock, ResponseTemplate, matchers::method};

/// Delivers `application-created` with the admin portal at `admin_url`; checks the logs.
async fn deliver_to(admin_url: &str) -> ((u16, serde_json::Value), Logs) {
    let app = app(admin_url, Some(WEBHOOK_SECRET), &[]);
    let (logs, _guard) = Logs::capture();
    let answer = deliver(&app, "apigw-http", "application-created").await;
    drop(_guard);
    logs.assert_free_of(&[TOKEN, WEBHOOK_SECRET]);
    (answer, logs)
}

#[tokio::test]
async fn a_2xx_is_revoked() {
    for status in [200, 204] {
        let server = admin_api(ResponseTemplate::new(status)).await;
        let ((code, body), logs) = deliver_to(&server.uri()).await;
        assert_eq!(
            (code, body),
            (200, serde_json::json!({"outcome": "revoked"}))
        );
        assert_eq!(revoke_calls(&server).await.len(), 1);
        assert_eq!(logs.audit_lines()[0]["status"], 200);
    }
}

#[tokio::test]
async fn not_found_or_refused_means_already_revoked_and_is_not_retried() {
    for status in [404, 401, 403] {
        // 3scale's 403 body names the token it refused; it must not reach our logs.
        let server = admin_api(
            ResponseTemplate::new(status)
                .set_body_string(format!("{{\"error\":\"Access denied for {TOKEN}\"}}")),
        )
        .await;
        let ((code, body), logs) = deliver_to(&server.uri()).await;
        assert_eq!(
            (code, body),
            (200, serde_json::json!({"outcome": "already_revoked"})),
            "{status}"
        );
        assert_eq!(revoke_calls(&server).await.len(), 1, "{status}: no retry");
        assert_eq!(logs.audit_lines()[0]["outcome"], "already_revoked");
        assert_eq!(logs.audit_lines()[0]["admin_api_status"], status);
    }
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried_then_succeed() {
    for status in [429, 500, 502, 503, 504] {
        let server = wiremock::MockServer::start().await;
        Mock::given(method("DELETE"))
            .respond_with(ResponseTemplate::new(status))
            .up_to_n_times(2)
            .mount(&server)
            .await;
        Mock::given(method("DELETE"))
            .respond_with(ResponseTemplate::new(200))
            .mount(&server)
            .await;
        let ((code, body), _) = deliver_to(&server.uri()).await;
        assert_eq!(
            (code, body["outcome"].as_str()),
            (200, Some("revoked")),
            "{status}"
        );
        assert_eq!(revoke_calls(&server).await.len(), 3, "{status}");
    }
}

#[tokio::test]
async fn persistent_failure_is_502_after_bounded_attempts() {
    for status in [429, 503] {
        let server = admin_api(ResponseTemplate::new(status)).await;
        let ((code, body), logs) = deliver_to(&server.uri()).await;
        assert_eq!(
            (code, body["error"].as_str()),
            (502, Some("admin_api_unavailable")),
            "{status}"
        );
        assert_eq!(
            revoke_calls(&server).await.len(),
            fast_retries().attempts,
            "{status}"
        );
        let warnings = logs
            .lines()
            .into_iter()
            .filter(|l| l["level"] == "WARN")
            .count();
        assert!(warnings >= 2, "each retry is logged");
    }
}

#[tokio::test]
async fn a_retry_after_beyond_our_budget_gives_up_at_once() {
    let server = admin_api(ResponseTemplate::new(429).insert_header("retry-after", "120")).await;
    let started = Instant::now();
    let ((code, _), _) = deliver_to(&server.uri()).await;
    assert_eq!(code, 502);
    assert_eq!(
        revoke_calls(&server).await.len(),
        1,
        "no point waiting 120 s inside a Lambda"
    );
    assert!(started.elapsed() < fast_retries().total);
}

#[tokio::test]
async fn a_slow_admin_api_times_out_into_502() {
    let server = admin_api(ResponseTemplate::new(200).set_delay(Duration::from_secs(5))).await;
    let started = Instant::now();
    let ((code, body), _) = deliver_to(&server.uri()).await;
    let elapsed = started.elapsed();
    assert_eq!(
        (code, body["error"].as_str()),
        (502, Some("admin_api_unavailable"))
    );
    assert_eq!(revoke_calls(&server).await.len(), fast_retries().attempts);
    // Bounded by the policy, not by the 5 s the server would take.
    assert!(
        elapsed <= fast_retries().total + Duration::from_millis(500),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn an_unreachable_admin_api_is_502() {
    let port = free_port();
    let ((code, body), logs) = deliver_to(&format!("http://127.0.0.1:{port}")).await;
    assert_eq!(
        (code, body["error"].as_str()),
        (502, Some("admin_api_unavailable"))
    );
    assert!(logs.text().contains("could not connect"));
}

#[tokio::test]
async fn other_client_errors_and_redirects_are_502_without_retry() {
    for status in [400, 410, 422, 301, 302] {
        let server = admin_api(
            ResponseTemplate::new(status).insert_header("location", "https://elsewhere.example/"),
        )
        .await;
        let ((code, body), _) = deliver_to(&server.uri()).await;
        assert_eq!(
            (code, body["error"].as_str()),
            (502, Some("admin_api_rejected")),
            "{status}"
        );
        assert_eq!(revoke_calls(&server).await.len(), 1, "{status}");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains(&status.to_string()))
        );
    }
}

#[tokio::test]
async fn the_admin_url_path_prefix_is_kept() {
    let server = wiremock::MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(wiremock::matchers::path(format!(
            "/tenant-a/admin/api/personal/access_tokens/{TOKEN}.json"
        )))
        .and(wiremock::matchers::query_param("access_token", TOKEN))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let ((code, body), _) = deliver_to(&format!("{}/tenant-a/", server.uri())).await;
    assert_eq!((code, body["outcome"].as_str()), (200, Some("revoked")));
}
