//! The one entry for every Lambda invocation: looks at the raw event and routes it.
//! EventBridge's `Scheduled Event` runs the sweep of failed deliveries; Secrets Manager's
//! rotation event (`Step`, `SecretId`, `ClientRequestToken`) runs a rotation step; an API
//! Gateway (REST or HTTP API) or Function URL event goes to the HTTP edge, in the envelope its
//! origin expects.
//!
//! Release builds abort on panic, and `lambda_http`'s own conversion of an event into a request
//! `expect`s: a body flagged base64 that does not decode, or a host, path or query that makes no
//! URI, would abort the process. So the `aws_lambda_events` types are deserialized here and
//! turned into a request by code that fails with a reason instead; such an event is a 400.

use crate::admin_api::AdminApi;
use crate::app::App;
use crate::audit::Audit;
use crate::http_edge::into_response;
use crate::outcome::Outcome;
use crate::portal::PortalSource;
use base64::Engine as _;
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayProxyRequest, ApiGatewayProxyResponse, ApiGatewayV2httpRequest,
    ApiGatewayV2httpResponse,
};
use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::http::{HeaderMap, HeaderValue, Method, Uri, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Context, Error, LambdaEvent, Request, RequestExt as _, Response};
use reqwest::Url;
use serde::Deserialize;
use serde_json::Value;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// The time a sweep or rotation step has when the invocation carries no deadline (a test, a
/// local invoke).
const DEFAULT_SWEEP_TIME: Duration = Duration::from_secs(60);

/// An HTTP event, in the order `lambda_http` tries them: a REST API event has `httpMethod`,
/// which an HTTP API or Function URL event lacks.
#[derive(Deserialize)]
#[serde(untagged)]
enum Envelope {
    /// API Gateway REST API (payload 1.0).
    RestApi(Box<ApiGatewayProxyRequest>),
    /// API Gateway HTTP API or a Function URL (payload 2.0).
    HttpApi(Box<ApiGatewayV2httpRequest>),
}

/// Which response envelope the origin expects.
#[derive(Debug, Clone, Copy)]
enum Origin {
    RestApi,
    HttpApi,
}

/// Why a function that writes no secret refuses a rotation event.
const NOT_ROTATING: &str = "a Secrets Manager rotation event, but this function has no secret to rotate (THREESCALE_SECRET_ID is not set)";

/// Handles one invocation of any kind, as `lambda_runtime` delivers it, without the means to
/// write a secret: a rotation event fails.
pub async fn handle<P: PortalSource, R: AdminApi>(
    app: &App<P, R>,
    event: LambdaEvent<Value>,
) -> Result<Value, Error> {
    if is_rotation(&event.payload) {
        tracing::error!("{NOT_ROTATING}");
        return Err(NOT_ROTATING.into());
    }
    handle_other(app, event).await
}

/// Handles one invocation of any kind; a rotation step writes the secret through `store`.
/// A refused or failed step is an error: Secrets Manager counts the step as failed.
#[cfg(feature = "secrets-manager")]
pub async fn handle_rotating<P, R, S>(
    app: &App<P, R>,
    store: &S,
    event: LambdaEvent<Value>,
) -> Result<Value, Error>
where
    P: PortalSource,
    R: AdminApi,
    S: crate::rotation::SecretStore,
{
    if is_rotation(&event.payload) {
        let deadline = deadline(&event.context);
        return Ok(app.rotate(store, event.payload, deadline).await?);
    }
    handle_other(app, event).await
}

/// When the invocation must be done by, as the Lambda context says (or a default).
fn deadline(context: &Context) -> Instant {
    let left = context
        .deadline()
        .duration_since(SystemTime::now())
        .ok()
        .filter(|_| context.deadline > 0)
        .unwrap_or(DEFAULT_SWEEP_TIME);
    Instant::now() + left
}

/// The sweep or an HTTP event.
async fn handle_other<P: PortalSource, R: AdminApi>(
    app: &App<P, R>,
    event: LambdaEvent<Value>,
) -> Result<Value, Error> {
    let LambdaEvent { payload, context } = event;
    if is_scheduled(&payload) {
        let summary = app.sweep(deadline(&context)).await;
        return Ok(serde_json::to_value(summary)?);
    }
    let Ok(envelope) = serde_json::from_value::<Envelope>(payload) else {
        let outcome = Outcome::MalformedEnvelope("not an API Gateway or Function URL event");
        app.conclude(&Audit::default(), &outcome);
        return Ok(plain_response(&outcome));
    };
    let (origin, request) = into_request(envelope, context);
    let response = match request {
        Ok(request) => app.respond(&request).await,
        Err(why) => {
            let outcome = Outcome::MalformedEnvelope(why);
            app.conclude(&Audit::default(), &outcome);
            into_response(&outcome)
        }
    };
    Ok(serde_json::to_value(into_envelope(origin, response))?)
}

/// What SAM's `Schedule` event source delivers, through EventBridge.
fn is_scheduled(payload: &Value) -> bool {
    payload.get("source").and_then(Value::as_str) == Some("aws.events")
        && payload.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event")
}

/// What Secrets Manager sends a rotation function. API Gateway, Function URL and EventBridge
/// events have none of these keys, so an event with one of them missing is still reported as
/// a malformed rotation event, not answered as HTTP.
pub fn is_rotation(payload: &Value) -> bool {
    ["Step", "SecretId", "ClientRequestToken"]
        .iter()
        .any(|key| payload.get(key).is_some())
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

/// The request `lambda_http` would build from `envelope`, or why it cannot be built.
fn into_request(envelope: Envelope, context: Context) -> (Origin, Result<Request, &'static str>) {
    match envelope {
        Envelope::RestApi(event) => (Origin::RestApi, rest_api_request(*event, context)),
        Envelope::HttpApi(event) => (Origin::HttpApi, http_api_request(*event, context)),
    }
}

/// What either envelope says about the request, before anything that can fail.
struct Parts {
    method: Method,
    headers: HeaderMap,
    domain_name: Option<String>,
    stage: Option<String>,
    raw_path: String,
    query: QueryMap,
    raw_query: Option<String>,
    body: Option<String>,
    is_base64_encoded: bool,
    path_parameters: QueryMap,
    stage_variables: QueryMap,
    origin: RequestContext,
}

fn rest_api_request(
    event: ApiGatewayProxyRequest,
    context: Context,
) -> Result<Request, &'static str> {
    // Multi-valued parameters are a superset of the single-valued ones when present.
    let query = if event.multi_value_query_string_parameters.is_empty() {
        event.query_string_parameters
    } else {
        event.multi_value_query_string_parameters
    };
    // multi_value_headers is the canonical source, as in lambda_http.
    let mut headers = event.multi_value_headers;
    headers.extend(event.headers);
    let request_context = event.request_context;
    assemble(
        Parts {
            method: event.http_method,
            headers,
            domain_name: request_context.domain_name.clone(),
            stage: request_context.stage.clone(),
            raw_path: event.path.unwrap_or_default(),
            raw_query: (!query.is_empty()).then(|| query.to_query_string()),
            query,
            body: event.body,
            is_base64_encoded: event.is_base64_encoded,
            path_parameters: QueryMap::from(event.path_parameters),
            stage_variables: QueryMap::from(event.stage_variables),
            origin: RequestContext::ApiGatewayV1(request_context),
        },
        context,
    )
}

fn http_api_request(
    event: ApiGatewayV2httpRequest,
    context: Context,
) -> Result<Request, &'static str> {
    // The raw query string, not queryStringParameters, which API Gateway has already decoded
    // and joined differently (aws/aws-lambda-rust-runtime#470).
    let raw_query = event.raw_query_string.filter(|q| !q.is_empty());
    let query = match raw_query.as_deref() {
        Some(raw) => raw.parse().unwrap_or_default(),
        None => event.query_string_parameters,
    };
    let mut headers = event.headers;
    if let Some(cookies) = event.cookies
        && let Ok(value) = HeaderValue::from_str(&cookies.join("; "))
    {
        headers.insert(header::COOKIE, value);
    }
    let request_context = event.request_context;
    assemble(
        Parts {
            method: request_context.http.method.clone(),
            headers,
            domain_name: request_context.domain_name.clone(),
            stage: request_context.stage.clone(),
            raw_path: event.raw_path.unwrap_or_default(),
            query,
            raw_query,
            body: event.body,
            is_base64_encoded: event.is_base64_encoded,
            path_parameters: QueryMap::from(event.path_parameters),
            stage_variables: QueryMap::from(event.stage_variables),
            origin: RequestContext::ApiGatewayV2(request_context),
        },
        context,
    )
}

/// The request, with what `lambda_http` attaches to it, or why it cannot be built.
fn assemble(parts: Parts, context: Context) -> Result<Request, &'static str> {
    let host = host(&parts.headers, parts.domain_name.as_deref());
    let path = with_stage(parts.stage.as_deref(), &parts.raw_path);
    let uri = request_uri(&parts.headers, host, &path, parts.raw_query.as_deref())?;
    let body = body(parts.is_base64_encoded, parts.body.as_deref())?;
    let request = build(uri, parts.method, parts.headers, body)?;
    Ok(request
        .with_raw_http_path(parts.raw_path)
        .with_query_string_parameters(parts.query)
        .with_path_parameters(parts.path_parameters)
        .with_stage_variables(parts.stage_variables)
        .with_request_context(parts.origin)
        .with_lambda_context(context))
}

fn build(
    uri: Uri,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Result<Request, &'static str> {
    let mut request = lambda_http::http::Request::builder()
        .uri(uri)
        .method(method)
        .body(body)
        .map_err(|_| "the request cannot be built")?;
    *request.headers_mut() = headers;
    Ok(request)
}

fn host<'a>(headers: &'a HeaderMap, domain_name: Option<&'a str>) -> Option<&'a str> {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or(domain_name)
}

/// The path with the stage in front, as API Gateway's own URL has it.
fn with_stage(stage: Option<&str>, path: &str) -> String {
    match stage {
        _ if std::env::var("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH").is_ok() => path.into(),
        None | Some("$default") => path.into(),
        Some(stage) if path.starts_with(&format!("/{stage}/")) => path.into(),
        Some(stage) => format!("/{stage}{path}"),
    }
}

/// The body, decoded as `aws_lambda_events` decodes it.
fn body(is_base64_encoded: bool, body: Option<&str>) -> Result<Body, &'static str> {
    match body {
        None => Ok(Body::Empty),
        Some(text) if is_base64_encoded => base64::engine::general_purpose::STANDARD
            .decode(text)
            .map(Body::from)
            .map_err(|_| "the body is flagged base64 but does not decode"),
        Some(text) => Ok(Body::from(text)),
    }
}

/// The request URI as `lambda_http` builds it: scheme, host and path through `Url`, then the
/// query as it came. Checked whole: the path and the query can each fit in a URI while
/// together they do not (found by fuzzing; tests/fuzz-regressions/lambda_event/).
fn request_uri(
    headers: &HeaderMap,
    host: Option<&str>,
    path: &str,
    query: Option<&str>,
) -> Result<Uri, &'static str> {
    let mut uri = match host {
        None => Url::parse(&format!("http://localhost{path}"))
            .map(|url| url.path().to_owned())
            .map_err(|_| "the path cannot make a URL")?,
        Some(host) => {
            let scheme = headers
                .get("x-forwarded-proto")
                .and_then(|s| s.to_str().ok())
                .unwrap_or("https");
            Url::parse(&format!("{scheme}://{host}{path}"))
                .map(String::from)
                .map_err(|_| "the host, scheme or path cannot make a URL")?
        }
    };
    if let Some(query) = query {
        uri.push('?');
        uri.push_str(query);
    }
    Uri::try_from(uri).map_err(|_| "the host, scheme, path or query cannot make a URI")
}

/// The response in the envelope the origin expects, as `lambda_http` shapes it.
fn into_envelope(origin: Origin, response: Response<Body>) -> Value {
    let (parts, body) = response.into_parts();
    let (is_base64_encoded, body) = match body {
        Body::Empty => (false, None),
        text @ Body::Text(_) => (false, Some(text)),
        binary @ Body::Binary(_) => (true, Some(binary)),
        _ => (false, None),
    };
    // The two envelope types share these fields but no trait: fill them alike.
    macro_rules! envelope {
        ($kind:ty, $headers:ident) => {{
            let mut envelope = <$kind>::default();
            envelope.status_code = i64::from(parts.status.as_u16());
            envelope.body = body;
            envelope.is_base64_encoded = is_base64_encoded;
            envelope.$headers = parts.headers;
            serde_json::to_value(envelope)
        }};
    }
    let serialized = match origin {
        // REST APIs merge both header fields: fill one, or each header comes twice.
        Origin::RestApi => envelope!(ApiGatewayProxyResponse, multi_value_headers),
        Origin::HttpApi => envelope!(ApiGatewayV2httpResponse, headers),
    };
    // Serializing these types cannot fail; should it, the bare fields still reach 3scale.
    serialized.unwrap_or_else(|_| plain_response(&Outcome::MalformedEnvelope("unserializable")))
}
