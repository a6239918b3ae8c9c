//! The one entry for every Lambda invocation: looks at the raw event, checks it, routes it.
//! EventBridge's `Scheduled Event` runs the sweep of failed deliveries; anything else is taken
//! for an API Gateway or Function URL request.
//!
//! `lambda_http` turns an API Gateway or Function URL event into a request with `expect`s and
//! `unwrap`s: a body flagged base64 that does not decode, or a host, path or query that makes
//! no URI, would abort the process (release builds abort on panic). Such events are answered
//! 400 here, in the envelope their origin expects, before `lambda_http` converts anything.

use crate::admin_api::AdminApi;
use crate::config::PortalSource;
use crate::handler::{App, into_response};
use crate::outcome::Outcome;
use base64::Engine as _;
use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::http::{HeaderMap, Uri, header};
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Error, LambdaEvent, Request, Service as _, service_fn};
use reqwest::Url;
use serde_json::Value;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// The sweep's time when the invocation carries no deadline (a test, a local invoke).
const DEFAULT_SWEEP_TIME: Duration = Duration::from_secs(60);

/// Handles one invocation of any kind, as `lambda_runtime::run` delivers it.
pub async fn handle<P: PortalSource, R: AdminApi>(
    app: &App<P, R>,
    event: LambdaEvent<Value>,
) -> Result<Value, Error> {
    let LambdaEvent { payload, context } = event;
    if is_scheduled(&payload) {
        let left = context
            .deadline()
            .duration_since(SystemTime::now())
            .ok()
            .filter(|_| context.deadline > 0)
            .unwrap_or(DEFAULT_SWEEP_TIME);
        let summary = app.sweep(Instant::now() + left).await;
        return Ok(serde_json::to_value(summary)?);
    }
    let Ok(request) = serde_json::from_value::<LambdaRequest>(payload) else {
        let outcome = Outcome::MalformedEvent("not an API Gateway or Function URL event");
        app.conclude(&Default::default(), &outcome);
        return Ok(serde_json::to_value(plain_response(&outcome))?);
    };
    let request = match check(request) {
        Checked::Convertible(request) => request,
        Checked::Rejected(sanitized, why) => {
            let outcome = Outcome::MalformedEvent(why);
            app.conclude(&Default::default(), &outcome);
            let mut reject = Adapter::from(service_fn(|_: Request| async {
                Ok::<_, Error>(into_response(&outcome))
            }));
            let response = reject.call(LambdaEvent::new(sanitized, context)).await?;
            return Ok(serde_json::to_value(response)?);
        }
    };
    let mut adapter = Adapter::from(service_fn(|request: Request| app.handle(request)));
    let response = adapter.call(LambdaEvent::new(request, context)).await?;
    Ok(serde_json::to_value(response)?)
}

/// What SAM's `Schedule` event source delivers, through EventBridge.
fn is_scheduled(payload: &Value) -> bool {
    payload.get("source").and_then(Value::as_str) == Some("aws.events")
        && payload.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event")
}

/// A response for an event of no known origin: the fields every envelope shares.
fn plain_response(outcome: &Outcome) -> Value {
    serde_json::json!({
        "statusCode": outcome.status().as_u16(),
        "headers": {"content-type": "application/json"},
        "body": outcome.body().to_string(),
        "isBase64Encoded": false,
    })
}

/// What the check makes of an event `lambda_http` could deserialize.
enum Checked {
    /// `lambda_http` can convert it without panicking.
    Convertible(LambdaRequest),
    /// A sanitized copy (same origin, nothing that can fail) and why it was refused.
    Rejected(LambdaRequest, &'static str),
}

fn check(request: LambdaRequest) -> Checked {
    match request {
        LambdaRequest::ApiGatewayV1(mut ag) => {
            let host = host(&ag.headers, ag.request_context.domain_name.as_deref());
            let path = with_stage(ag.request_context.stage.as_deref(), ag.path.as_deref());
            let query = if ag.multi_value_query_string_parameters.is_empty() {
                &ag.query_string_parameters
            } else {
                &ag.multi_value_query_string_parameters
            };
            let query = (!query.is_empty()).then(|| query.to_query_string());
            let why = body_problem(ag.is_base64_encoded, ag.body.as_deref())
                .or_else(|| uri_problem(&ag.headers, host, &path, query.as_deref()));
            match why {
                None => Checked::Convertible(LambdaRequest::ApiGatewayV1(ag)),
                Some(why) => {
                    ag.body = None;
                    ag.is_base64_encoded = false;
                    ag.path = None;
                    ag.request_context.stage = None;
                    ag.request_context.domain_name = None;
                    ag.query_string_parameters = QueryMap::default();
                    ag.multi_value_query_string_parameters = QueryMap::default();
                    for headers in [&mut ag.headers, &mut ag.multi_value_headers] {
                        headers.remove(header::HOST);
                        headers.remove("x-forwarded-proto");
                    }
                    Checked::Rejected(LambdaRequest::ApiGatewayV1(ag), why)
                }
            }
        }
        LambdaRequest::ApiGatewayV2(mut ag) => {
            let host = host(&ag.headers, ag.request_context.domain_name.as_deref());
            let path = with_stage(ag.request_context.stage.as_deref(), ag.raw_path.as_deref());
            // lambda_http appends the raw query string to the URI as it is. Checked with the
            // rest of the URI, not apart: each can fit while together they are too long
            // for a URI (found by fuzzing; tests/fuzz-regressions/lambda_event/).
            let query = ag.raw_query_string.as_deref().filter(|q| !q.is_empty());
            let why = body_problem(ag.is_base64_encoded, ag.body.as_deref())
                .or_else(|| uri_problem(&ag.headers, host, &path, query));
            match why {
                None => Checked::Convertible(LambdaRequest::ApiGatewayV2(ag)),
                Some(why) => {
                    ag.body = None;
                    ag.is_base64_encoded = false;
                    ag.raw_path = None;
                    ag.raw_query_string = None;
                    ag.request_context.stage = None;
                    ag.request_context.domain_name = None;
                    ag.headers.remove(header::HOST);
                    ag.headers.remove("x-forwarded-proto");
                    Checked::Rejected(LambdaRequest::ApiGatewayV2(ag), why)
                }
            }
        }
        // Only the two API Gateway shapes are compiled in; anything else converts as it is.
        other => Checked::Convertible(other),
    }
}

fn host<'a>(headers: &'a HeaderMap, domain_name: Option<&'a str>) -> Option<&'a str> {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or(domain_name)
}

/// As `lambda_http` prefixes the stage to the path.
fn with_stage(stage: Option<&str>, path: Option<&str>) -> String {
    let path = path.unwrap_or_default();
    match stage {
        _ if std::env::var_os("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH").is_some() => path.into(),
        None | Some("$default") => path.into(),
        Some(stage) if path.starts_with(&format!("/{stage}/")) => path.into(),
        Some(stage) => format!("/{stage}{path}"),
    }
}

/// The same decoder `aws_lambda_events` uses, so what passes here decodes there.
fn body_problem(is_base64_encoded: bool, body: Option<&str>) -> Option<&'static str> {
    let body = body.filter(|_| is_base64_encoded)?;
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .is_err()
        .then_some("the body is flagged base64 but does not decode")
}

/// Builds the URI as `lambda_http` does, `?query` included, and says why it would fail.
fn uri_problem(
    headers: &HeaderMap,
    host: Option<&str>,
    path: &str,
    query: Option<&str>,
) -> Option<&'static str> {
    let mut uri = match host {
        None => match Url::parse(&format!("http://localhost{path}")) {
            Ok(url) => url.path().to_owned(),
            Err(_) => return Some("the path cannot make a URL"),
        },
        Some(host) => {
            let scheme = headers
                .get("x-forwarded-proto")
                .and_then(|s| s.to_str().ok())
                .unwrap_or("https");
            match Url::parse(&format!("{scheme}://{host}{path}")) {
                Ok(url) => url.to_string(),
                Err(_) => return Some("the host, scheme or path cannot make a URL"),
            }
        }
    };
    if let Some(query) = query {
        uri.push('?');
        uri.push_str(query);
    }
    Uri::try_from(uri)
        .is_err()
        .then_some("the host, scheme, path or query cannot make a URI")
}
