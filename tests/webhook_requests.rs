//! The HTTP edge, driven with the events/ fixtures of every envelope (API Gateway REST,
//! HTTP API, Function URL) against a loopback stand-in for the 3scale admin portal.
// A failed expectation in a test is a failed test, not a panic on the request path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::*;

#[tokio::test]
async fn application_created_revokes_its_token_in_every_envelope_and_delivery_shape() {
    for envelope in ENVELOPES {
        for name in [
            "application-created",
            "application-created-form",
            "application-created-base64",
        ] {
            let porta = Porta::with_fixture_tokens().await;
            let app = app(porta.url(), Some(WEBHOOK_SECRET), &[]);
            let (logs, _guard) = Logs::capture();

            let answer = deliver(&app, envelope, name).await;

            assert_eq!(
                answer,
                (200, serde_json::json!({"outcome": "revoked"})),
                "{envelope}/{name}"
            );
            assert_eq!(porta.deletes().await, 1, "{envelope}/{name}");
            assert!(!porta.is_alive(TOKEN).await);
            assert_eq!(
                porta.live_ids().await,
                vec![1, 102],
                "no other token touched"
            );

            let audit = logs.audit_lines();
            assert_eq!(audit.len(), 1, "one audit line per decision");
            let line = &audit[0];
            assert_eq!(line["outcome"], "revoked");
            assert_eq!(line["event_type"], "application");
            assert_eq!(line["action"], "created");
            assert_eq!(line["application_id"], "1409620384");
            assert_eq!(line["account_id"], "2445583467891");
            assert_eq!(line["token_sha256"].as_str().map(str::len), Some(8));
            logs.assert_free_of(&[TOKEN, WEBHOOK_SECRET, "secret="]);
        }
    }
}

#[tokio::test]
async fn other_events_are_acknowledged_and_ignored() {
    for envelope in ENVELOPES {
        for name in [
            "application-updated",
            "application-deleted",
            "account-created",
            "user-created",
        ] {
            let porta = Porta::with_fixture_tokens().await;
            let app = app(porta.url(), Some(WEBHOOK_SECRET), &[]);
            let (logs, _guard) = Logs::capture();

            let (status, body) = deliver(&app, envelope, name).await;

            assert_eq!(status, 200, "{envelope}/{name}");
            assert_eq!(body["outcome"], "ignored");
            assert_eq!(body["reason"], "event type and action are not in REVOKE_ON");
            assert!(porta.deletes().await == 0, "{envelope}/{name}");
            assert_eq!(logs.audit_lines().len(), 1);
            logs.assert_free_of(&[TOKEN, TOKEN_UPDATED, WEBHOOK_SECRET]);
        }
    }
}

#[tokio::test]
async fn revoke_on_and_token_field_are_honoured() {
    let porta = Porta::with_fixture_tokens().await;
    let updates = app(
        porta.url(),
        None,
        &[("REVOKE_ON", "application:created,application:updated")],
    );
    let (status, body) = deliver(&updates, "apigw-http", "application-updated").await;
    assert_eq!((status, body["outcome"].as_str()), (200, Some("revoked")));
    assert_eq!(porta.deletes().await, 1);
    assert!(!porta.is_alive(TOKEN_UPDATED).await);
    assert!(porta.is_alive(TOKEN).await);

    // With another field name, the fixture has no token to revoke.
    let porta = Porta::with_fixture_tokens().await;
    let other_field = app(porta.url(), None, &[("TOKEN_FIELD", "one_time_token")]);
    let (status, body) = deliver(&other_field, "apigw-http", "application-created").await;
    assert_eq!(status, 200);
    assert_eq!(body["outcome"], "ignored");
    assert_eq!(body["reason"], "the event has no token extra field");
    assert!(porta.deletes().await == 0);
}

#[tokio::test]
async fn dry_run_decides_without_calling_3scale() {
    let porta = Porta::with_fixture_tokens().await;
    let app = app(porta.url(), None, &[("DRY_RUN", "true")]);
    let (logs, _guard) = Logs::capture();
    let (status, body) = deliver(&app, "apigw-rest", "application-created").await;
    assert_eq!(
        (status, body),
        (200, serde_json::json!({"outcome": "dry_run"}))
    );
    assert!(porta.deletes().await == 0);
    assert_eq!(logs.audit_lines()[0]["outcome"], "dry_run");
    logs.assert_free_of(&[TOKEN]);
}

#[tokio::test]
async fn a_missing_or_wrong_secret_is_401_and_revokes_nothing() {
    for envelope in ENVELOPES {
        for query in [
            vec![],
            vec![("secret", "wrong")],
            vec![("secret", "local-webhook-secre")],
            vec![("secret", "local-webhook-secret-and-more")],
            vec![("Secret", WEBHOOK_SECRET)],
        ] {
            let porta = Porta::with_fixture_tokens().await;
            let app = app(porta.url(), Some(WEBHOOK_SECRET), &[]);
            let (logs, _guard) = Logs::capture();
            let request = edited_request(envelope, "application-created", |e| set_query(e, &query));

            let (status, body) = read(&app.respond(&request).await);

            assert_eq!(status, 401, "{envelope} {query:?}");
            assert_eq!(body["error"], "unauthorized");
            assert!(porta.deletes().await == 0);
            assert_eq!(logs.audit_lines()[0]["outcome"], "unauthorized");
            logs.assert_free_of(&[TOKEN, WEBHOOK_SECRET]);
        }
    }
}

#[tokio::test]
async fn without_a_configured_secret_the_query_is_not_checked() {
    let porta = Porta::with_fixture_tokens().await;
    let app = app(porta.url(), None, &[]);
    let request = edited_request("function-url", "application-created", |e| set_query(e, &[]));
    let (status, body) = read(&app.respond(&request).await);
    assert_eq!((status, body["outcome"].as_str()), (200, Some("revoked")));
}

#[tokio::test]
async fn bad_bodies_get_4xx_json_and_revoke_nothing() {
    let huge = format!("<event>{}</event>", "x".repeat(256 * 1024));
    let cases: Vec<(String, u16, &str)> = vec![
        ("<event><type>application".into(), 400, "malformed_xml"),
        (
            "<!DOCTYPE e [<!ENTITY a \"b\">]><event/>".into(),
            400,
            "dtd_not_allowed",
        ),
        ("<order/>".into(), 400, "not_a_3scale_event"),
        ("{\"json\": true}".into(), 400, "unknown_encoding"),
        (String::new(), 400, "empty_body"),
        (huge, 413, "body_too_large"),
    ];
    for envelope in ENVELOPES {
        for (body, want_status, want_error) in &cases {
            let porta = Porta::with_fixture_tokens().await;
            let app = app(porta.url(), Some(WEBHOOK_SECRET), &[]);
            let request =
                edited_request(envelope, "application-created", |e| set_text_body(e, body));
            let (status, json) = read(&app.respond(&request).await);
            assert_eq!(
                (status, json["error"].as_str()),
                (*want_status, Some(*want_error)),
                "{envelope}"
            );
            assert!(json["message"].is_string());
            assert!(porta.deletes().await == 0);
        }
    }
}

#[tokio::test]
async fn a_token_that_cannot_be_a_3scale_token_is_400_and_never_sent() {
    let xml = std::fs::read_to_string(events_dir().join("payloads/application-created.xml"))
        .expect("payload");
    let long = "a".repeat(257);
    for bad in [
        "../../admin/api/accounts",
        "abc def",
        "abc%2F..",
        "tok.json?x=",
        long.as_str(),
    ] {
        let escaped = bad.replace('&', "&amp;");
        let body = xml.replace(TOKEN, &escaped);
        let porta = Porta::with_fixture_tokens().await;
        let app = app(porta.url(), None, &[]);
        let (logs, _guard) = Logs::capture();
        let request = edited_request("apigw-http", "application-created", |e| {
            set_text_body(e, &body)
        });
        let (status, json) = read(&app.respond(&request).await);
        assert_eq!(
            (status, json["error"].as_str()),
            (400, Some("invalid_token")),
            "{bad}"
        );
        assert!(porta.deletes().await == 0);
        logs.assert_free_of(&[bad]);
    }
    // An empty field is the same as no field: 3scale omits empty values anyway.
    let body = xml.replace(TOKEN, "");
    let porta = Porta::with_fixture_tokens().await;
    let empty = app(porta.url(), None, &[]);
    let request = edited_request("apigw-http", "application-created", |e| {
        set_text_body(e, &body)
    });
    let (status, json) = read(&empty.respond(&request).await);
    assert_eq!((status, json["outcome"].as_str()), (200, Some("ignored")));
}

#[tokio::test]
async fn other_methods_are_405_and_get_without_ping_is_ignored() {
    let porta = Porta::with_fixture_tokens().await;
    let app = app(porta.url(), None, &[]);
    for envelope in ENVELOPES {
        let request = edited_request(envelope, "application-created", |e| {
            if e["version"] == "2.0" {
                e["requestContext"]["http"]["method"] = "PUT".into();
            } else {
                e["httpMethod"] = "PUT".into();
                e["requestContext"]["httpMethod"] = "PUT".into();
            }
        });
        let response = app.respond(&request).await;
        assert_eq!(
            response.headers().get("allow").map(|v| v.as_bytes()),
            Some(&b"GET, POST"[..])
        );
        let (status, json) = read(&response);
        assert_eq!(
            (status, json["error"].as_str()),
            (405, Some("method_not_allowed"))
        );

        let request = edited_request(envelope, "ping", |e| set_query(e, &[]));
        let (status, json) = read(&app.respond(&request).await);
        assert_eq!((status, json["outcome"].as_str()), (200, Some("ignored")));
    }
    assert!(porta.deletes().await == 0);
}
