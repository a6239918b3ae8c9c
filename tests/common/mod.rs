//! Shared test helpers: fixtures from events/, a loopback 3scale admin portal, log capture.
#![allow(dead_code)] // each test crate uses a different subset
// Test helpers: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

pub mod certs;
pub mod endpoint;
#[cfg(feature = "secrets-manager")]
pub mod moto;
pub mod porta;
#[allow(unused_imports)] // not every test crate needs the deployed webhook
pub use endpoint::WebhookEndpoint;
#[allow(unused_imports)] // not every test crate talks to the admin portal
pub use porta::Porta;

use access_token_revoker::{
    AdminApiClient, App, EnvironmentPortal, PortalOrigin, RetryPolicy, Settings,
};
use lambda_http::{Body, Request, Response};
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing_subscriber::fmt::MakeWriter;

/// The token in events/ `application-*` payloads (see scripts/gen-events.py).
pub const TOKEN: &str = "8c3e1f0d7b2a4c6e9f5d1b3a7c0e2f4d6b8a1c3e5f7d9b0a2c4e6f8d1b3a5c7e";
/// The token in events/ `application-updated`.
pub const TOKEN_UPDATED: &str = "5b1d9f3a7e0c2b4d6f8a1c3e5d7b9f0a2c4e6b8d1f3a5c7e9b0d2f4a6c8e1b3d";
/// The shared secret the events/ fixtures carry as `?secret=`.
pub const WEBHOOK_SECRET: &str = "local-webhook-secret";
/// Envelope folders in events/.
pub const ENVELOPES: [&str; 3] = ["apigw-rest", "apigw-http", "function-url"];
/// Every event name, in each envelope folder.
pub const EVENT_NAMES: [&str; 8] = [
    "application-created",
    "application-updated",
    "application-deleted",
    "account-created",
    "user-created",
    "application-created-form",
    "application-created-base64",
    "ping",
];

pub fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("events")
}

/// The raw API Gateway / Function URL JSON of `events/{envelope}/{name}.json`.
pub fn event_json(envelope: &str, name: &str) -> String {
    let path = events_dir().join(envelope).join(format!("{name}.json"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Builds the request exactly as the Lambda runtime would from `events/{envelope}/{name}.json`.
pub fn event_request(envelope: &str, name: &str) -> Request {
    request_from_json(&event_json(envelope, name))
}

pub fn request_from_json(json: &str) -> Request {
    lambda_http::request::from_str(json).expect("a valid API Gateway event")
}

/// An event from events/ with its JSON edited first (to change the query, body, method…).
pub fn edited_request(
    envelope: &str,
    name: &str,
    edit: impl FnOnce(&mut serde_json::Value),
) -> Request {
    let mut value: serde_json::Value =
        serde_json::from_str(&event_json(envelope, name)).expect("event JSON");
    edit(&mut value);
    request_from_json(&value.to_string())
}

/// Sets the query string in either envelope shape.
pub fn set_query(event: &mut serde_json::Value, pairs: &[(&str, &str)]) {
    let map: serde_json::Map<String, serde_json::Value> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
        .collect();
    if event.get("version").and_then(|v| v.as_str()) == Some("2.0") {
        let raw = pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        event["rawQueryString"] = raw.into();
        event["queryStringParameters"] = map.into();
    } else {
        let multi: serde_json::Map<String, serde_json::Value> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), serde_json::json!([v])))
            .collect();
        event["queryStringParameters"] = map.into();
        event["multiValueQueryStringParameters"] = multi.into();
    }
}

/// Replaces the body with plain text.
pub fn set_text_body(event: &mut serde_json::Value, body: &str) {
    event["body"] = body.into();
    event["isBase64Encoded"] = false.into();
}

/// Settings as the function reads them from its environment.
pub fn settings(vars: &[(&str, &str)]) -> Settings {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Settings::from_lookup(|k| map.get(k).cloned()).expect("valid settings")
}

/// Retries fast enough for tests, same shape as production.
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        connect_timeout: Duration::from_millis(500),
        attempt_timeout: Duration::from_millis(400),
        first_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(50),
        total: Duration::from_secs(3),
    }
}

/// The real handler with the admin portal at `admin_url` and the given extra env settings.
pub fn app(
    admin_url: &str,
    webhook_secret: Option<&str>,
    vars: &[(&str, &str)],
) -> App<EnvironmentPortal, AdminApiClient> {
    let mut all = vec![("THREESCALE_ADMIN_URL", admin_url)];
    if let Some(secret) = webhook_secret {
        all.push(("WEBHOOK_SECRET", secret));
    }
    all.extend_from_slice(vars);
    let settings = settings(&all);
    let PortalOrigin::Environment(portal) = settings.portal.clone() else {
        panic!("THREESCALE_ADMIN_URL configures the portal");
    };
    App::new(
        settings,
        EnvironmentPortal(portal),
        AdminApiClient::new(fast_retries()).expect("HTTP client"),
    )
}

/// Status and parsed JSON body; asserts the response is JSON.
pub fn read(response: &Response<Body>) -> (u16, serde_json::Value) {
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert_eq!(content_type, "application/json");
    let json = serde_json::from_slice(response.body().as_ref()).expect("JSON body");
    (response.status().as_u16(), json)
}

/// Captures every log line (JSON, TRACE and up, all crates): this thread's apart, for the
/// lines a test counts, and every other thread's too, for the secrecy checks.
#[derive(Clone, Default)]
pub struct Logs {
    own: Arc<Mutex<Vec<u8>>>,
    elsewhere: Arc<Mutex<Vec<u8>>>,
}

/// While it lives, lines are captured; this thread's go to its own subscriber.
pub struct Capture {
    _default: tracing::subscriber::DefaultGuard,
    elsewhere: Arc<Mutex<Vec<u8>>>,
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Ok(mut sinks) = other_threads().lock() {
            sinks.retain(|sink| !Arc::ptr_eq(sink, &self.elsewhere));
        }
    }
}

/// One capture's buffer.
type Sink = Arc<Mutex<Vec<u8>>>;

/// Buffers of the captures under way; the global subscriber writes every line to each.
fn other_threads() -> &'static Mutex<Vec<Sink>> {
    static SINKS: std::sync::OnceLock<Mutex<Vec<Sink>>> = std::sync::OnceLock::new();
    SINKS.get_or_init(|| {
        // Threads with no subscriber of their own (runtime workers, blocking pools) log here.
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(|| FanOut)
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        Mutex::new(Vec::new())
    })
}

/// Writes to every capture under way.
struct FanOut;

impl Write for FanOut {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(sinks) = other_threads().lock() {
            for sink in sinks.iter() {
                if let Ok(mut sink) = sink.lock() {
                    sink.extend_from_slice(buf);
                }
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    /// Starts capturing; capture ends when the guard drops.
    pub fn capture() -> (Self, Capture) {
        let logs = Self::default();
        other_threads()
            .lock()
            .expect("sinks")
            .push(Arc::clone(&logs.elsewhere));
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(logs.clone())
            .finish();
        let guard = Capture {
            _default: tracing::subscriber::set_default(subscriber),
            elsewhere: Arc::clone(&logs.elsewhere),
        };
        (logs, guard)
    }

    /// This thread's lines.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.own.lock().expect("log buffer")).into_owned()
    }

    /// What other threads logged meanwhile (other tests' lines among them).
    pub fn elsewhere(&self) -> String {
        String::from_utf8_lossy(&self.elsewhere.lock().expect("log buffer")).into_owned()
    }

    /// Parsed log lines.
    pub fn lines(&self) -> Vec<serde_json::Value> {
        self.text()
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON log line"))
            .collect()
    }

    /// The `fields` of each audit line.
    pub fn audit_lines(&self) -> Vec<serde_json::Value> {
        self.lines()
            .into_iter()
            .filter_map(|l| l.get("fields").cloned())
            .filter(|f| f.get("audit") == Some(&serde_json::Value::Bool(true)))
            .collect()
    }

    /// Fails if any captured line, on any thread, holds any of `secrets`, as it is or in the
    /// HTTP Basic form a token travels in (`base64("token:")`).
    pub fn assert_free_of(&self, secrets: &[&str]) {
        use base64::Engine as _;
        let text = self.text() + &self.elsewhere();
        for secret in secrets {
            let basic = base64::engine::general_purpose::STANDARD.encode(format!("{secret}:"));
            for form in [*secret, basic.as_str()] {
                assert!(
                    !text.contains(form),
                    "a log line contains a secret ({} chars):\n{text}",
                    secret.len()
                );
            }
        }
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.own
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Logs {
    type Writer = Logs;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// A loopback port nothing listens on any more (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// porta's time of a failed delivery filed `minutes_ago` before now (`2026-11-25T10:00:00Z`).
pub fn porta_time(minutes_ago: i64) -> String {
    let at = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(minutes_ago);
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `events/scheduled/sweep.json`: the event EventBridge's schedule delivers.
pub fn scheduled_event() -> serde_json::Value {
    let text = std::fs::read_to_string(events_dir().join("scheduled/sweep.json")).expect("event");
    serde_json::from_str(&text).expect("JSON")
}

/// Runs one sweep, as the scheduled event does; returns its summary.
pub async fn run_sweep<P, R>(app: &App<P, R>) -> serde_json::Value
where
    P: access_token_revoker::PortalSource,
    R: access_token_revoker::AdminApi,
{
    let event = lambda_http::LambdaEvent::new(scheduled_event(), lambda_http::Context::default());
    access_token_revoker::invocation::handle(app, event)
        .await
        .expect("a sweep never errs")
}

/// Sends `events/{envelope}/{name}.json` through the handler; returns status and JSON body.
pub async fn deliver<P, R>(app: &App<P, R>, envelope: &str, name: &str) -> (u16, serde_json::Value)
where
    P: access_token_revoker::PortalSource,
    R: access_token_revoker::AdminApi,
{
    read(&app.respond(&event_request(envelope, name)).await)
}
