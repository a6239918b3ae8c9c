//! The raw Lambda event in, the envelope out: the same path a real invocation takes, including
//! events that `lambda_http` alone would turn into a panic (and, in release, an abort).
// A failed expectation in a test is a failed test, not a panic on the request path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use access_token_revoker::invocation;
use common::*;
use lambda_http::{Context, LambdaEvent};
use serde_json::{Value, json};

async fn invoke<P, R>(app: &access_token_revoker::App<P, R>, event: Value) -> Value
where
    P: access_token_revoker::PortalSource,
    R: access_token_revoker::AdminApi,
{
    invocation::handle(app, LambdaEvent::new(event, Context::default()))
        .await
        .expect("an invocation never errs on input")
}

fn event(envelope: &str, name: &str) -> Value {
    serde_json::from_str(&event_json(envelope, name)).expect("event JSON")
}

/// Status and JSON body of an API Gateway / Function URL response envelope.
fn answer(envelope: &Value) -> (u64, Value) {
    let status = envelope["statusCode"].as_u64().expect("statusCode");
    let body = envelope["body"].as_str().expect("text body");
    (status, serde_json::from_str(body).expect("JSON body"))
}

#[tokio::test]
async fn every_fixture_answers_as_the_handler_does_in_its_own_envelope() {
    for envelope in ENVELOPES {
        for name in EVENT_NAMES {
            let porta = Porta::with_fixture_tokens().await;
            let app = app(porta.url(), Some(WEBHOOK_SECRET), &[]);
            let expected = deliver(&app, envelope, name).await;

            let porta = Porta::with_fixture_tokens().await;
            let app = app_at(porta.url());
            let response = invoke(&app, event(envelope, name)).await;

            let (status, body) = answer(&response);
            assert_eq!((status as u16, body), expected, "{envelope}/{name}");
            // HTTP APIs and Function URLs get the v2 envelope, which alone has cookies.
            let v2 = envelope != "apigw-rest";
            assert_eq!(response.get("cookies").is_some(), v2, "{envelope}");
        }
    }
}

fn app_at(
    admin_url: &str,
) -> access_token_revoker::App<
    access_token_revoker::EnvironmentPortal,
    access_token_revoker::AdminApiClient,
> {
    app(admin_url, Some(WEBHOOK_SECRET), &[])
}

#[tokio::test]
async fn a_body_flagged_base64_that_does_not_decode_is_400_and_the_next_event_is_served() {
    let porta = Porta::with_fixture_tokens().await;
    let app = app_at(porta.url());
    for envelope in ENVELOPES {
        for body in ["%%% not base64 %%%", "abc", "YWJj=", "YW Jj"] {
            let mut bad = event(envelope, "application-created");
            bad["body"] = body.into();
            bad["isBase64Encoded"] = true.into();
            let response = invoke(&app, bad).await;
            let (status, json) = answer(&response);
            assert_eq!(
                (status, json["error"].as_str()),
                (400, Some("malformed_event")),
                "{envelope} {body:?}"
            );
            assert_eq!(
                response.get("cookies").is_some(),
                envelope != "apigw-rest",
                "the envelope of the event's origin"
            );
        }
    }
    assert_eq!(porta.deletes().await, 0);
    // The instance is still up and serving.
    let (status, json) = answer(&invoke(&app, event("apigw-http", "application-created")).await);
    assert_eq!((status, json["outcome"].as_str()), (200, Some("revoked")));
}

/// A change to an event.
type Edit = Box<dyn Fn(&mut Value)>;

#[tokio::test]
async fn hosts_paths_and_queries_that_make_no_uri_are_400_not_a_panic() {
    let porta = Porta::with_fixture_tokens().await;
    let app = app_at(porta.url());
    let edits: Vec<(&str, Edit)> = vec![
        (
            "host with a space",
            Box::new(|e| e["headers"]["host"] = "exa mple.com".into()),
        ),
        (
            "port out of range",
            Box::new(|e| e["headers"]["host"] = "example.com:99999".into()),
        ),
        (
            "bad x-forwarded-proto",
            Box::new(|e| e["headers"]["x-forwarded-proto"] = "h ttp".into()),
        ),
        (
            "path that names a port",
            Box::new(|e| {
                e["headers"] = json!({});
                e["requestContext"]["domainName"] = Value::Null;
                e["requestContext"]["stage"] = Value::Null;
                e["rawPath"] = ":99999".into();
                e["path"] = ":99999".into();
            }),
        ),
    ];
    for envelope in ENVELOPES {
        for (what, edit) in &edits {
            let mut bad = event(envelope, "application-created");
            edit(&mut bad);
            let (status, json) = answer(&invoke(&app, bad).await);
            assert_eq!(
                (status, json["error"].as_str()),
                (400, Some("malformed_event")),
                "{envelope}: {what}"
            );
        }
    }
    for query in ["a b", "x=\"y\"", "<>"] {
        let mut bad = event("apigw-http", "application-created");
        bad["rawQueryString"] = query.into();
        let (status, _) = answer(&invoke(&app, bad).await);
        assert_eq!(status, 400, "{query}");
    }
    assert_eq!(porta.deletes().await, 0);
}

/// http's `Uri` holds at most 65,534 bytes, and lambda_http joins the host, path and query
/// into one and `expect`s it to parse. Found by fuzzing (tests/fuzz-regressions/lambda_event/).
#[tokio::test]
async fn a_path_and_query_that_fit_apart_but_not_together_are_400_not_a_panic() {
    let porta = Porta::with_fixture_tokens().await;
    let app = app_at(porta.url());
    let long = "a".repeat(40_000);
    for envelope in ENVELOPES {
        let mut bad = event(envelope, "application-created");
        if envelope == "apigw-rest" {
            bad["path"] = format!("/{long}").into();
        } else {
            bad["rawPath"] = format!("/{long}").into();
        }
        set_query(&mut bad, &[("secret", WEBHOOK_SECRET), ("x", &long)]);
        let (status, json) = answer(&invoke(&app, bad).await);
        assert_eq!(
            (status, json["error"].as_str()),
            (400, Some("malformed_event")),
            "{envelope}"
        );
    }
    assert_eq!(porta.deletes().await, 0);
    let (status, json) = answer(&invoke(&app, event("apigw-http", "application-created")).await);
    assert_eq!((status, json["outcome"].as_str()), (200, Some("revoked")));
}

#[tokio::test]
async fn events_of_no_known_shape_are_400_json() {
    let porta = Porta::with_fixture_tokens().await;
    let app = app_at(porta.url());
    for raw in [
        json!({}),
        json!(null),
        json!([1, 2]),
        json!("text"),
        json!({"httpMethod": "NOPE NOPE", "requestContext": {}}),
        json!({"version": "2.0", "requestContext": {"http": {"method": 7}}}),
    ] {
        let (status, json) = answer(&invoke(&app, raw.clone()).await);
        assert_eq!(
            (status, json["error"].as_str()),
            (400, Some("malformed_event")),
            "{raw}"
        );
    }
}

#[tokio::test]
async fn rejected_events_are_audited_without_their_content() {
    let porta = Porta::with_fixture_tokens().await;
    let app = app_at(porta.url());
    let mut bad = event("function-url", "application-created");
    bad["body"] = format!("{TOKEN}!").into();
    bad["isBase64Encoded"] = true.into();
    let (logs, guard) = Logs::capture();
    invoke(&app, bad).await;
    drop(guard);
    let audit = logs.audit_lines();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["outcome"], "malformed_event");
    assert_eq!(audit[0]["status"], 400);
    logs.assert_free_of(&[TOKEN, WEBHOOK_SECRET]);
}
