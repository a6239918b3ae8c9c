//! A whole invocation, raw Lambda event to response, through `invocation::handle` with a
//! stub admin API.

use crate::edits::{set_header, set_pointer, set_query};
use crate::stub::{Calls, Stub, verdict};
use access_token_revoker::admin_api::webhook_failures::parse_listing;
use access_token_revoker::admin_api::{MaintenanceError, Verdict, WebhookFailure};
use access_token_revoker::metrics::MetricsSink;
use access_token_revoker::{App, EnvironmentPortal, Outcome, PortalOrigin, Settings, invocation};
use base64::Engine as _;
use lambda_http::{Context, LambdaEvent};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// The events a structured input starts from: each envelope's deliveries, and the schedule.
pub const FIXTURES: [&str; 13] = [
    include_str!("../../../events/apigw-rest/application-created.json"),
    include_str!("../../../events/apigw-rest/application-created-form.json"),
    include_str!("../../../events/apigw-rest/application-created-base64.json"),
    include_str!("../../../events/apigw-rest/ping.json"),
    include_str!("../../../events/apigw-http/application-created.json"),
    include_str!("../../../events/apigw-http/application-created-form.json"),
    include_str!("../../../events/apigw-http/application-created-base64.json"),
    include_str!("../../../events/apigw-http/ping.json"),
    include_str!("../../../events/function-url/application-created.json"),
    include_str!("../../../events/function-url/application-created-form.json"),
    include_str!("../../../events/function-url/application-updated.json"),
    include_str!("../../../events/function-url/ping.json"),
    include_str!("../../../events/scheduled/sweep.json"),
];

/// porta's failures listing, as the sweep's stub answers it for a raw event.
const FAILURES_LISTING: &str = include_str!("../../../events/payloads/webhook-failures.json");

/// The admin URL the function is configured with: a prefix, to keep the URL check honest.
pub const ADMIN_URL: &str = "https://acme-admin.3scale.net/prefix/";
/// The shared secret the fixtures carry.
pub const WEBHOOK_SECRET: &str = "local-webhook-secret";

/// Times a structured input's failures are filed at: ordered, repeated, unreadable, future.
const FAILURE_TIMES: [&str; 8] = [
    "2026-11-25T09:52:10Z",
    "2026-11-25T09:52:10Z",
    "2026-11-25T09:53:00+00:00",
    "2026-11-25 09:54:00 UTC",
    "2026-11-25T09:51:00Z",
    "yesterday",
    "2999-01-01T00:00:00Z",
    "",
];

/// The function as deployed, with `vars` on top of an admin URL, the fixtures' webhook
/// secret and a maintenance token, the stub behind it, and metrics built but dropped.
fn app(vars: &[(&str, &str)], stub: Stub) -> App<EnvironmentPortal, Stub> {
    let base = [
        ("THREESCALE_ADMIN_URL", ADMIN_URL),
        ("WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("MAINTENANCE_TOKEN", "m41ntenance_token"),
    ];
    let settings = Settings::from_lookup(|name| {
        vars.iter()
            .chain(&base)
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    })
    .expect("valid settings");
    let PortalOrigin::Environment(portal) = settings.portal.clone() else {
        unreachable!("THREESCALE_ADMIN_URL configures the portal");
    };
    App::new(settings, EnvironmentPortal(portal), stub)
        .with_metrics(MetricsSink::new("fuzz", |_| {}))
}

/// The fixtures and porta's failures listing, parsed once: each input starts from a copy.
struct Parsed(Vec<Value>, Vec<WebhookFailure>);

fn listed_failures() -> Vec<WebhookFailure> {
    PARSED.with(|parsed| parsed.1.clone())
}

thread_local! {
    static PARSED: Parsed = Parsed(
        FIXTURES
            .iter()
            .map(|f| serde_json::from_str(f).expect("fixture JSON"))
            .collect(),
        parse_listing(FAILURES_LISTING.as_bytes()).expect("porta's listing"),
    );
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime");
}

/// A whole invocation. Input that starts like JSON is the raw Lambda event; input whose first
/// byte is 0x80 or more edits one of [`FIXTURES`] first ([`structured_event`]), to get deep.
pub fn lambda_event(data: &[u8]) {
    let (payload, vars, stub) = match data.first() {
        Some(&first) if first >= 0x80 => structured_event(first, &data[1..]),
        _ => {
            let Ok(payload) = serde_json::from_slice::<Value>(data) else {
                return;
            };
            (
                payload,
                Vec::new(),
                Stub::new(Verdict::Revoked, Ok(listed_failures())),
            )
        }
    };
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let calls = Arc::clone(&stub.calls);
    let app = app(&vars, stub);
    let scheduled = payload.get("source").and_then(Value::as_str) == Some("aws.events")
        && payload.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event");
    let rotation = invocation::is_rotation(&payload);
    let response = RUNTIME.with(|rt| {
        rt.block_on(invocation::handle(
            &app,
            LambdaEvent::new(payload, Context::default()),
        ))
    });
    // Without a secret store a rotation event fails, Secrets Manager's way, touching nothing.
    if rotation {
        assert!(response.is_err(), "a rotation event without a store");
        assert_eq!(calls.all(), 0, "a refused rotation called the admin API");
        return;
    }
    let response = response.expect("an invocation never errs on input");
    check_response(&calls, scheduled, &response);
}

fn check_response(calls: &Calls, scheduled: bool, response: &Value) {
    if scheduled {
        let seen = response
            .get("seen")
            .and_then(Value::as_u64)
            .expect("a sweep summary");
        let deleted = response
            .get("deleted")
            .and_then(Value::as_u64)
            .expect("deleted");
        assert!(deleted <= seen);
        return;
    }
    let status = response
        .get("statusCode")
        .and_then(Value::as_u64)
        .expect("a statusCode");
    assert!(
        [200, 400, 401, 405, 413, 500, 502].contains(&status),
        "status {status}"
    );
    let body: Value = response
        .get("body")
        .and_then(Value::as_str)
        .and_then(|b| serde_json::from_str(b).ok())
        .expect("a JSON body");
    let said = body
        .get("outcome")
        .or_else(|| body.get("error"))
        .and_then(Value::as_str)
        .expect("an outcome or an error");
    assert!(!said.is_empty());
    // Refused requests never reach the admin API.
    if [400, 401, 405, 413].contains(&status) {
        assert_eq!(
            calls.all(),
            0,
            "{status} {said} after calling the admin API"
        );
    }
    if said == Outcome::Revoked.name() {
        assert_eq!(calls.revokes.load(Ordering::Relaxed), 1);
    }
}

/// `flags` picks the fixture; the next byte sets `DRY_RUN` (bit 0), `CLEAR_TOKEN_FIELD` (1),
/// a wider `REVOKE_ON` (2), `TOKEN_ID_FIELD=environment` (3), the stub's verdict (4-6) and
/// failing maintenance calls (7);
/// then edits separated by 0xFF, each a tag byte and a value:
///
/// | tag & 0x0F | edit |
/// |---|---|
/// | 0 | body, as text |
/// | 1 | body, the value's bytes base64-encoded, `isBase64Encoded` |
/// | 2 | body, as text, flagged `isBase64Encoded` |
/// | 3 | path (`rawPath` / `path`) |
/// | 4 | `host` header |
/// | 5 | query string (`rawQueryString` and the parameter maps) |
/// | 6 | method |
/// | 7 | `x-forwarded-proto` header |
/// | 8 | stage |
/// | 9 | `requestContext.domainName` |
/// | 10 | a header, `name:value` |
/// | 11 | the failures listing the stub answers, as porta's JSON |
/// | 12 | one more failure for the sweep: a time (first byte) and the event XML |
/// | 13 | cookies (v2), `;`-separated |
/// | 14 | JSON edit: `/pointer=json` |
/// | 15 | a multi-value header (v1), `name:value` |
///
/// With tag & 0x40, the value after its first byte `n` is repeated `2^(n % 17)` times, to at
/// most 70 KB: lengths past a URI's 64 KiB are a few bytes away, while most stay short. (Longer
/// ones cost milliseconds an input under ASan; the body's 256 KiB limit has its own tests.)
pub fn structured_event(flags: u8, rest: &[u8]) -> (Value, Vec<(&'static str, String)>, Stub) {
    let mut event =
        PARSED.with(|parsed| parsed.0[usize::from(flags & 0x7F) % FIXTURES.len()].clone());
    let (settings, edits) = rest.split_first().unwrap_or((&0, &[]));
    let mut vars = Vec::new();
    if settings & 1 != 0 {
        vars.push(("DRY_RUN", "true".to_owned()));
    }
    if settings & 2 != 0 {
        vars.push(("CLEAR_TOKEN_FIELD", "true".to_owned()));
    }
    if settings & 4 != 0 {
        vars.push(("REVOKE_ON", "application:*,account:created".to_owned()));
    }
    if settings & 8 != 0 {
        vars.push(("TOKEN_ID_FIELD", "environment".to_owned()));
    }
    let v2 = event.get("version").and_then(Value::as_str) == Some("2.0");
    let mut failures: Result<Vec<WebhookFailure>, MaintenanceError> = Ok(listed_failures());

    for edit in edits.split(|b| *b == 0xFF).take(32) {
        let Some((&tag, value)) = edit.split_first() else {
            continue;
        };
        let value: Vec<u8> = match value.split_first() {
            Some((&n, unit)) if tag & 0x40 != 0 && !unit.is_empty() => {
                let times = (1usize << (n % 17)).min(70_000 / unit.len());
                unit.repeat(times.max(1))
            }
            _ => value.to_vec(),
        };
        let text = String::from_utf8_lossy(&value).into_owned();
        match tag & 0x0F {
            0 => {
                event["body"] = text.into();
                event["isBase64Encoded"] = false.into();
            }
            1 => {
                event["body"] = base64::engine::general_purpose::STANDARD
                    .encode(&value)
                    .into();
                event["isBase64Encoded"] = true.into();
            }
            2 => {
                event["body"] = text.into();
                event["isBase64Encoded"] = true.into();
            }
            3 => event[if v2 { "rawPath" } else { "path" }] = text.into(),
            4 => set_header(&mut event, v2, "host", &text),
            5 => set_query(&mut event, v2, &text),
            6 => {
                if v2 {
                    event["requestContext"]["http"]["method"] = text.into();
                } else {
                    event["httpMethod"] = text.into();
                }
            }
            7 => set_header(&mut event, v2, "x-forwarded-proto", &text),
            8 => event["requestContext"]["stage"] = text.into(),
            9 => event["requestContext"]["domainName"] = text.into(),
            10 | 15 => {
                let (name, header) = text.split_once(':').unwrap_or((&text, ""));
                let key = if tag & 0x0F == 15 {
                    "multiValueHeaders"
                } else {
                    "headers"
                };
                let header = if key == "headers" {
                    Value::from(header)
                } else {
                    Value::from(vec![header])
                };
                if let Some(headers) = event.get_mut(key).and_then(Value::as_object_mut) {
                    headers.insert(name.to_owned(), header);
                }
            }
            11 => {
                failures = parse_listing(&value).map_err(|_| MaintenanceError::Unreadable("stub"));
            }
            12 => {
                let (at, xml) = text.split_at_checked(1).unwrap_or(("", &text));
                let time =
                    FAILURE_TIMES[at.bytes().next().map_or(0, usize::from) % FAILURE_TIMES.len()];
                if let Ok(list) = failures.as_mut() {
                    list.push(WebhookFailure {
                        id: None,
                        time: time.to_owned(),
                        event: xml.to_owned(),
                    });
                }
            }
            13 => {
                event["cookies"] = text
                    .split(';')
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
                    .into();
            }
            14 => {
                if let Some((pointer, json)) = text.split_once('=')
                    && let Ok(json) = serde_json::from_str::<Value>(json)
                {
                    set_pointer(&mut event, pointer, json);
                }
            }
            _ => unreachable!("tag & 0x0F"),
        }
    }
    let mut stub = Stub::new(verdict((settings >> 4) & 7), failures);
    stub.maintenance_ok = settings & 0x80 == 0;
    (event, vars, stub)
}
