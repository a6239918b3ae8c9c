//! Verified revocation against a loopback admin portal that answers as porta does: what
//! 3scale's token API says, what the function concludes, and that no other token is touched.
// A failed expectation in a test is a failed test, not a panic on the request path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::porta::LONG_LIVED;
use common::*;
use serde_json::json;

/// The `application-created` body with its extra fields replaced by `fields` (XML).
fn created_with_fields(fields: &str) -> String {
    let xml = std::fs::read_to_string(events_dir().join("payloads/application-created.xml"))
        .expect("payload");
    let start = xml.find("<extra_fields>").expect("extra fields");
    let end = xml.find("</extra_fields>").expect("extra fields end");
    format!("{}<extra_fields>{fields}{}", &xml[..start], &xml[end..])
}

/// Delivers `body` as an HTTP API event to the function pointed at `admin_url`.
async fn deliver_body(admin_url: &str, body: &str) -> ((u16, serde_json::Value), Logs) {
    let app = app(admin_url, Some(WEBHOOK_SECRET), &[]);
    let (logs, guard) = Logs::capture();
    let request = edited_request("apigw-http", "application-created", |e| {
        set_text_body(e, body)
    });
    let answer = read(&app.respond(&request).await);
    drop(guard);
    (answer, logs)
}

/// Delivers the fixture `application-created` event; checks the logs hold no secret.
async fn deliver_to(admin_url: &str) -> ((u16, serde_json::Value), Logs) {
    let app = app(admin_url, Some(WEBHOOK_SECRET), &[]);
    let (logs, guard) = Logs::capture();
    let answer = deliver(&app, "apigw-http", "application-created").await;
    drop(guard);
    logs.assert_free_of(&[TOKEN, WEBHOOK_SECRET, LONG_LIVED]);
    (answer, logs)
}

fn audit(logs: &Logs) -> serde_json::Value {
    let lines = logs.audit_lines();
    assert_eq!(lines.len(), 1, "one audit line per decision");
    lines[0].clone()
}

#[tokio::test]
async fn a_live_token_is_deleted_verified_dead_and_nothing_else_is_touched() {
    let porta = Porta::with_fixture_tokens().await;
    // Another user's token 8 does not clash: porta looks among the caller's own tokens.
    porta
        .add(json!({"id": 8, "user": 2, "value": "other-users-token"}))
        .await;

    let ((status, body), logs) = deliver_to(porta.url()).await;

    assert_eq!((status, body), (200, json!({"outcome": "revoked"})));
    assert!(!porta.is_alive(TOKEN).await);
    assert_eq!(porta.live_ids().await, vec![1, 8, 102]);
    // The value starts with "8": list first, then delete by value, then verify.
    assert_eq!(
        porta.calls().await,
        vec![
            "GET /admin/api/personal/access_tokens.json".to_owned(),
            format!("DELETE /admin/api/personal/access_tokens/{TOKEN}.json"),
            "GET /admin/api/personal/access_tokens.json".to_owned(),
        ]
    );
    let requests = porta.requests().await;
    for request in &requests {
        assert_eq!(request["auth"], "basic", "the token rides in HTTP Basic");
        assert_eq!(request["query"], "", "and never in a query string");
        assert_eq!(
            request["client_port"], requests[0]["client_port"],
            "one kept-alive connection for the three calls"
        );
    }
    let line = audit(&logs);
    assert_eq!(line["outcome"], "revoked");
    assert_eq!(line["token_alive"], false);
    assert_eq!(line["admin_api_step"], "verify");
    assert_eq!(line["admin_api_status"], 403);
    assert_eq!(line["revoked_by"], "value");
    assert!(line["admin_api_ms"].is_u64());
}

#[tokio::test]
async fn with_the_id_field_the_token_is_deleted_by_id_and_appears_in_no_url() {
    let porta = Porta::with_fixture_tokens().await;
    // Even with a clashing id 8, the id field makes the DELETE unambiguous.
    porta.add(json!({"id": 8, "value": "clashing-token"})).await;
    let body = created_with_fields(&format!(
        "<token_value>{TOKEN}</token_value><token_id>101</token_id>"
    ));

    let ((status, json), logs) = deliver_body(porta.url(), &body).await;

    assert_eq!((status, json), (200, json!({"outcome": "revoked"})));
    assert_eq!(porta.live_ids().await, vec![1, 8, 102]);
    assert_eq!(
        porta.calls().await,
        vec![
            "DELETE /admin/api/personal/access_tokens/101.json",
            "GET /admin/api/personal/access_tokens.json",
        ]
    );
    for request in porta.requests().await {
        assert!(!request.to_string().contains(TOKEN), "{request}");
    }
    assert_eq!(audit(&logs)["revoked_by"], "id");
    logs.assert_free_of(&[TOKEN]);
}

#[tokio::test]
async fn an_id_field_that_is_not_a_number_falls_back_to_the_value() {
    let porta = Porta::with_fixture_tokens().await;
    let body = created_with_fields(&format!(
        "<token_value>{TOKEN}</token_value><token_id>101; DROP</token_id>"
    ));
    let ((status, json), logs) = deliver_body(porta.url(), &body).await;
    assert_eq!((status, json["outcome"].as_str()), (200, Some("revoked")));
    assert_eq!(audit(&logs)["revoked_by"], "value");
    assert_eq!(porta.live_ids().await, vec![1, 102]);
}

#[tokio::test]
async fn a_value_that_starts_with_the_id_of_another_own_token_is_never_deleted() {
    let porta = Porta::with_fixture_tokens().await;
    // porta would read "8c3e…" as id 8 and delete this token instead.
    porta
        .add(json!({"id": 8, "value": "innocent-bystander"}))
        .await;

    let ((status, body), logs) = deliver_to(porta.url()).await;

    assert_eq!(
        (status, body["error"].as_str()),
        (502, Some("ambiguous_token"))
    );
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("TOKEN_ID_FIELD"))
    );
    assert_eq!(porta.deletes().await, 0, "nothing destructive was sent");
    assert_eq!(porta.live_ids().await, vec![1, 8, 101, 102]);
    let line = audit(&logs);
    assert_eq!(line["token_alive"], true);
    assert_eq!(line["admin_api_step"], "list");
}

#[tokio::test]
async fn underscores_count_as_ruby_reads_the_id() {
    let porta = Porta::with_fixture_tokens().await;
    let value = "1_2abcdef";
    porta.add(json!({"id": 12, "value": "bystander-12"})).await;
    porta.add(json!({"id": 30, "value": value})).await;
    let body = created_with_fields(&format!("<token_value>{value}</token_value>"));
    let ((status, json), _) = deliver_body(porta.url(), &body).await;
    assert_eq!(
        (status, json["error"].as_str()),
        (502, Some("ambiguous_token"))
    );
    assert!(porta.is_alive("bystander-12").await);
    assert!(porta.is_alive(value).await);
}

#[tokio::test]
async fn a_dead_token_is_already_revoked_and_nothing_is_deleted() {
    // The fixture token starts with a digit: the listing is refused, so no DELETE is sent.
    let porta = Porta::start().await;
    porta.add(json!({"id": 1, "value": LONG_LIVED})).await;
    let ((status, body), logs) = deliver_to(porta.url()).await;
    assert_eq!((status, body), (200, json!({"outcome": "already_revoked"})));
    assert_eq!(
        porta.calls().await,
        vec!["GET /admin/api/personal/access_tokens.json"]
    );
    let line = audit(&logs);
    assert_eq!(line["admin_api_step"], "list");
    assert_eq!(line["admin_api_status"], 403);

    // A value that cannot read as an id goes straight to the DELETE, which is refused.
    let body = created_with_fields("<token_value>deadbeef-never-issued</token_value>");
    let ((status, json), logs) = deliver_body(porta.url(), &body).await;
    assert_eq!(
        (status, json["outcome"].as_str()),
        (200, Some("already_revoked"))
    );
    assert_eq!(audit(&logs)["admin_api_step"], "delete");
    assert_eq!(porta.live_ids().await, vec![1]);
}

/// 96 hex digits, as porta master issues them (`SecureRandom.hex(48)`), starting with `lead`.
fn hex96(lead: &str) -> String {
    let tail = "0123456789abcdef".repeat(6);
    format!("{lead}{}", &tail[lead.len()..])
}

#[tokio::test]
async fn ninety_six_hex_tokens_as_porta_master_issues_them() {
    let porta = Porta::with_fixture_tokens().await;
    let by_value = hex96("fe");
    let clashing = hex96("12f");
    let by_id = hex96("7");
    porta.add(json!({"id": 120, "value": by_value})).await;
    porta.add(json!({"id": 12, "value": "bystander-12"})).await;
    porta.add(json!({"id": 121, "value": clashing})).await;
    let by_id_number = porta.add(json!({"value": by_id})).await;
    assert_eq!((by_value.len(), clashing.len(), by_id.len()), (96, 96, 96));

    let body = created_with_fields(&format!("<token_value>{by_value}</token_value>"));
    let ((status, json), _) = deliver_body(porta.url(), &body).await;
    assert_eq!((status, json["outcome"].as_str()), (200, Some("revoked")));
    assert!(!porta.is_alive(&by_value).await);

    // "12f…" reads as id 12, another of the owner's tokens: nothing is deleted.
    let body = created_with_fields(&format!("<token_value>{clashing}</token_value>"));
    let ((status, json), _) = deliver_body(porta.url(), &body).await;
    assert_eq!(
        (status, json["error"].as_str()),
        (502, Some("ambiguous_token"))
    );
    assert!(porta.is_alive(&clashing).await && porta.is_alive("bystander-12").await);

    let body = created_with_fields(&format!(
        "<token_value>{by_id}</token_value><token_id>{by_id_number}</token_id>"
    ));
    let ((status, json), logs) = deliver_body(porta.url(), &body).await;
    assert_eq!((status, json["outcome"].as_str()), (200, Some("revoked")));
    assert_eq!(audit(&logs)["revoked_by"], "id");
    assert!(!porta.is_alive(&by_id).await);
    logs.assert_free_of(&[&by_id]);
    assert!(porta.is_alive(LONG_LIVED).await);
}

#[tokio::test]
async fn an_expired_token_is_already_revoked_and_nothing_is_deleted() {
    let porta = Porta::with_fixture_tokens().await;
    let value = hex96("ab");
    porta
        .add(json!({"id": 130, "value": value, "expires_at": "2026-01-01T00:00:00Z"}))
        .await;
    let body = created_with_fields(&format!(
        "<token_value>{value}</token_value><token_id>130</token_id>"
    ));
    let ((status, json), logs) = deliver_body(porta.url(), &body).await;
    assert_eq!((status, json), (200, json!({"outcome": "already_revoked"})));
    let line = audit(&logs);
    assert_eq!(
        (&line["admin_api_step"], &line["admin_api_status"]),
        (&json!("delete"), &json!(403)),
        "porta refused the expired token before any lookup"
    );
    assert_eq!(
        porta.live_ids().await,
        vec![1, 101, 102, 130],
        "nothing deleted"
    );

    // The same token with a future expiry is alive, and is revoked.
    let porta = Porta::with_fixture_tokens().await;
    porta
        .add(json!({"id": 130, "value": value, "expires_at": "2999-01-01T00:00:00Z"}))
        .await;
    let ((status, json), _) = deliver_body(porta.url(), &body).await;
    assert_eq!((status, json["outcome"].as_str()), (200, Some("revoked")));
    assert!(!porta.is_alive(&value).await);
}

#[tokio::test]
async fn the_same_event_twice_is_revoked_then_already_revoked() {
    let porta = Porta::with_fixture_tokens().await;
    assert_eq!(deliver_to(porta.url()).await.0.1["outcome"], "revoked");
    assert_eq!(
        deliver_to(porta.url()).await.0.1["outcome"],
        "already_revoked"
    );
    assert_eq!(porta.live_ids().await, vec![1, 102]);
}

#[tokio::test]
async fn a_token_without_the_scope_or_write_permission_is_alive_and_not_revocable() {
    for spec in [
        json!({"id": 101, "value": TOKEN, "scopes": ["analytics"]}),
        json!({"id": 101, "value": TOKEN, "permission": "ro"}),
    ] {
        let porta = Porta::start().await;
        porta.add(spec.clone()).await;
        let ((status, body), logs) = deliver_to(porta.url()).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (502, Some("token_not_revocable")),
            "{spec}"
        );
        assert!(porta.is_alive(TOKEN).await);
        let line = audit(&logs);
        assert_eq!(line["token_alive"], true);
        assert_eq!(line["admin_api_status"], 403);
    }
}

#[tokio::test]
async fn a_404_points_at_a_wrong_admin_url_and_is_not_already_revoked() {
    let porta = Porta::with_fixture_tokens().await;
    let ((status, body), logs) = deliver_to(&format!("{}/not-the-admin-portal", porta.url())).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (502, Some("admin_api_rejected"))
    );
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("404") && m.contains("admin_url"))
    );
    assert_eq!(audit(&logs)["admin_api_status"], 404);
    assert!(porta.is_alive(TOKEN).await);

    // By id, a 404 also means the id is not one of the caller's tokens.
    let body = created_with_fields(&format!(
        "<token_value>{TOKEN}</token_value><token_id>999</token_id>"
    ));
    let ((status, json), _) = deliver_body(porta.url(), &body).await;
    assert_eq!(
        (status, json["error"].as_str()),
        (502, Some("admin_api_rejected"))
    );
    assert_eq!(porta.live_ids().await, vec![1, 101, 102]);
}

#[tokio::test]
async fn a_2xx_that_leaves_the_token_working_is_never_called_revoked() {
    let porta = Porta::with_fixture_tokens().await;
    // Something between us and porta answers 200 without deleting anything.
    porta
        .fault(json!({"method": "DELETE", "status": 200, "body": ""}))
        .await;
    let ((status, body), logs) = deliver_to(porta.url()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (502, Some("revocation_not_verified"))
    );
    assert!(porta.is_alive(TOKEN).await);
    let line = audit(&logs);
    assert_eq!(line["token_alive"], true);
    assert_eq!(line["admin_api_step"], "verify");
    assert_eq!(line["admin_api_status"], 200);
}

#[tokio::test]
async fn a_403_that_porta_would_not_send_is_not_taken_as_proof() {
    for body in [
        "<html>Request blocked by policy</html>",
        "",
        r#"{"status":"Forbidden"}"#,
    ] {
        let porta = Porta::with_fixture_tokens().await;
        porta
            .fault(json!({"status": 403, "body": body, "times": null}))
            .await;
        let ((status, json), _) = deliver_to(porta.url()).await;
        assert_eq!(
            (status, json["error"].as_str()),
            (502, Some("admin_api_rejected")),
            "{body:?}"
        );
        assert!(porta.is_alive(TOKEN).await);
    }
}

#[tokio::test]
async fn porta_bodies_never_reach_the_logs_or_the_answer() {
    let porta = Porta::with_fixture_tokens().await;
    porta
        .fault(
            json!({"status": 403, "body": format!("{{\"error\":\"no {TOKEN}\"}}"), "times": null}),
        )
        .await;
    let ((status, body), _logs) = deliver_to(porta.url()).await;
    assert_eq!(status, 502);
    assert!(!body.to_string().contains(TOKEN));
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried_then_verified() {
    for status in [429, 500, 502, 503, 504] {
        let porta = Porta::with_fixture_tokens().await;
        porta
            .fault(json!({"method": "DELETE", "status": status, "times": 2}))
            .await;
        let ((code, body), _) = deliver_to(porta.url()).await;
        assert_eq!(
            (code, body["outcome"].as_str()),
            (200, Some("revoked")),
            "{status}"
        );
        assert_eq!(porta.deletes().await, 3, "{status}");
        assert!(!porta.is_alive(TOKEN).await);
    }
}

#[tokio::test]
async fn a_lost_answer_to_the_delete_ends_with_the_token_dead() {
    // porta deleted the token but its 200 never arrived; the retry is refused, as the token is gone.
    let porta = Porta::with_fixture_tokens().await;
    porta
        .fault(json!({"method": "DELETE", "status": 502, "after": true}))
        .await;
    let ((code, body), logs) = deliver_to(porta.url()).await;
    assert_eq!(
        (code, body["outcome"].as_str()),
        (200, Some("already_revoked"))
    );
    assert_eq!(porta.deletes().await, 2);
    assert_eq!(audit(&logs)["admin_api_step"], "delete");
    assert_eq!(porta.live_ids().await, vec![1, 102]);
}

#[tokio::test]
async fn a_verification_that_cannot_be_made_is_not_revoked_and_the_retry_settles_it() {
    let porta = Porta::with_fixture_tokens().await;
    // The listing before the DELETE is answered; the one after fails on every attempt.
    porta
        .fault(json!({"method": "GET", "status": 200, "body": "{\"access_tokens\":[]}"}))
        .await;
    porta
        .fault(json!({"method": "GET", "status": 503, "times": fast_retries().attempts}))
        .await;
    let ((code, body), logs) = deliver_to(porta.url()).await;
    assert_eq!(
        (code, body["error"].as_str()),
        (502, Some("admin_api_unavailable"))
    );
    assert_eq!(audit(&logs)["admin_api_step"], "verify");
    assert!(!porta.is_alive(TOKEN).await);

    // 3scale retries the delivery a minute later: the token is found dead.
    let ((code, body), _) = deliver_to(porta.url()).await;
    assert_eq!(
        (code, body["outcome"].as_str()),
        (200, Some("already_revoked"))
    );
}

#[tokio::test]
async fn persistent_failure_is_502_after_bounded_attempts() {
    for status in [429, 503] {
        let porta = Porta::with_fixture_tokens().await;
        porta.fault(json!({"status": status, "times": null})).await;
        let ((code, body), logs) = deliver_to(porta.url()).await;
        assert_eq!(
            (code, body["error"].as_str()),
            (502, Some("admin_api_unavailable")),
            "{status}"
        );
        assert_eq!(
            porta.calls().await.len(),
            fast_retries().attempts,
            "{status}"
        );
        let warnings = logs
            .lines()
            .into_iter()
            .filter(|l| l["level"] == "WARN")
            .count();
        assert!(warnings >= 2, "each retry is logged");
        assert!(porta.is_alive(TOKEN).await);
    }
}

#[tokio::test]
async fn a_retry_after_beyond_our_budget_gives_up_at_once() {
    let porta = Porta::with_fixture_tokens().await;
    porta
        .fault(json!({"status": 429, "headers": {"Retry-After": "120"}, "times": null}))
        .await;
    let ((code, _), logs) = deliver_to(porta.url()).await;
    assert_eq!(code, 502);
    assert_eq!(
        porta.calls().await.len(),
        1,
        "no point waiting 120 s inside a Lambda"
    );
    assert!(
        !logs.text().contains("retrying"),
        "no retry was even scheduled"
    );
}

#[tokio::test]
async fn a_slow_admin_api_times_out_into_502() {
    let porta = Porta::with_fixture_tokens().await;
    porta
        .fault(json!({"delay_ms": 5000, "status": 200, "times": null}))
        .await;
    let ((code, body), logs) = deliver_to(porta.url()).await;
    assert_eq!(
        (code, body["error"].as_str()),
        (502, Some("admin_api_unavailable"))
    );
    // Every attempt was cut by its own timeout, not by the 5 s the server would take.
    assert_eq!(porta.calls().await.len(), fast_retries().attempts);
    // Two retries, then the verdict: each says the attempt timed out.
    let timeouts = logs.text().matches("admin API timed out").count();
    assert_eq!(timeouts, fast_retries().attempts, "{}", logs.text());
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
    for status in [400, 401, 410, 422, 301, 302] {
        let porta = Porta::with_fixture_tokens().await;
        porta
            .fault(json!({"status": status, "headers": {"Location": "https://elsewhere.example/"}, "times": null}))
            .await;
        let ((code, body), _) = deliver_to(porta.url()).await;
        assert_eq!(
            (code, body["error"].as_str()),
            (502, Some("admin_api_rejected")),
            "{status}"
        );
        assert_eq!(porta.calls().await.len(), 1, "{status}");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains(&status.to_string()))
        );
        assert!(porta.is_alive(TOKEN).await);
    }
}
