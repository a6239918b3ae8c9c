//! The fuzz harness: one function per boundary where outside bytes come in, each fed raw
//! bytes and each panicking when a property fails. `fuzz_targets/*.rs` hand them to
//! libFuzzer; the main crate's `tests/fuzz_regressions.rs` includes this very file to replay
//! the seeds and every past finding as plain tests, so it uses only the main crate's
//! dependencies.
//!
//! - [`decode`]: `webhook::decode`, and the same XML form-encoded and base64-encoded.
//! - [`token_url`]: `AccessToken::parse` and `tokens_url`: the path stays under
//!   `…/admin/api/personal/access_tokens`, on the admin portal's host.
//! - [`answers`]: porta's 403 bodies, the token listing, the failures listing, token ids,
//!   failure times and what one delete of the failures may remove.
//! - [`lambda_event`]: a whole invocation, raw Lambda event to response, through
//!   `invocation::handle` (and so `lambda_http`) with a stub admin API.

use access_token_revoker::admin_api::answers::{self, Probe, TokenAnswer, WebhookFailure};
use access_token_revoker::admin_api::{
    AdminApi, ApplicationRef, MaintenanceError, Revocation, Step, TokenId, TokenToRevoke, Verdict,
    tokens_url,
};
use access_token_revoker::config::{AdminPortal, FixedPortal, PortalSetting, Settings};
use access_token_revoker::invocation;
use access_token_revoker::metrics::MetricsSink;
use access_token_revoker::sensitive::{AccessToken, MAX_TOKEN_LEN, TokenError};
use access_token_revoker::sweep::{deletable_prefix, parse_time};
use access_token_revoker::webhook::{self, DecodeError, MAX_BODY_BYTES};
use access_token_revoker::{App, Outcome};
use base64::Engine as _;
use lambda_http::{Context, LambdaEvent};
use reqwest::Url;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// decode

/// The decoder reads forms in one pass of its own: the answer must be the one it gives for
/// the field's value as `form_urlencoded` decodes it, written back in canonical form.
fn check_form_decoding(data: &[u8]) {
    // An invalid byte becomes U+FFFD, 9 bytes once percent-encoded.
    if !data.starts_with(b"xml=") || data.len() * 9 > MAX_BODY_BYTES {
        return;
    }
    let Some((_, value)) = form_urlencoded::parse(data).find(|(key, _)| key == "xml") else {
        return;
    };
    let canonical = form_urlencoded::Serializer::new(String::new())
        .append_pair("xml", &value)
        .finish();
    assert_eq!(
        webhook::decode(data),
        webhook::decode(canonical.as_bytes()),
        "a form decodes as form_urlencoded reads it"
    );
}

/// `webhook::decode` on any bytes. An accepted raw XML body must decode to the same event
/// when 3scale form-encodes it and when API Gateway base64-encodes it. A form body decodes as
/// if `form_urlencoded::parse` had read its `xml` field.
pub fn decode(data: &[u8]) {
    check_form_decoding(data);
    let event = match webhook::decode(data) {
        Ok(event) => event,
        Err(DecodeError::TooLarge) => return assert!(data.len() > MAX_BODY_BYTES),
        Err(err) => {
            assert!(!err.code().is_empty() && !err.to_string().is_empty());
            return;
        }
    };
    assert!(!event.event_type.is_empty() && !event.action.is_empty());
    assert!(!event.object.kind.is_empty());
    for (name, value) in &event.object.extra_fields {
        assert!(!name.is_empty());
        assert_eq!(value.trim(), value, "extra field values are trimmed");
    }
    // Debug names the extra fields, never shows their values (they may hold the token).
    let mut blanked = event.clone();
    for (_, value) in &mut blanked.object.extra_fields {
        value.clear();
    }
    assert_eq!(format!("{event:?}"), format!("{blanked:?}"));

    let trimmed = data
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(data)
        .trim_ascii();
    if trimmed.first() == Some(&b'<') && data.len() * 4 < MAX_BODY_BYTES {
        let text = std::str::from_utf8(data).expect("accepted XML is UTF-8");
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("xml", text)
            .finish();
        assert_eq!(
            webhook::decode(form.as_bytes()).as_ref(),
            Ok(&event),
            "xml=…"
        );
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("params[xml]", text)
            .finish();
        assert_eq!(
            webhook::decode(form.as_bytes()).as_ref(),
            Ok(&event),
            "params[xml]=…"
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode(data);
        assert_eq!(
            webhook::decode(b64.as_bytes()).as_ref(),
            Ok(&event),
            "base64"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// token_url

/// Admin portal URLs, with and without a path prefix, that the revoke URL is built on.
pub const ADMIN_URLS: [&str; 8] = [
    "https://acme-admin.3scale.net",
    "https://acme-admin.3scale.net/",
    "https://gw.example.com/3scale/",
    "https://gw.example.com/3scale",
    "http://127.0.0.1:9001",
    "https://[::1]:8443/a/b/",
    "https://gw.example.com/a%2Fb//",
    "http://gw.example.com:8080/%2e%2e/x/..",
];

/// Input: flags, then `token 0xFF id 0xFF admin_url`. `AccessToken::parse` must accept exactly
/// `[A-Za-z0-9_-]{1,256}`; what it accepts must build a URL that stays under the token API of
/// the admin portal's host, by value and by id, and on a fuzzed admin URL too.
pub fn token_url(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut parts = rest.split(|b| *b == 0xFF);
    let raw_token = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let raw_id = parts.next().unwrap_or_default();
    let raw_admin = String::from_utf8_lossy(parts.next().unwrap_or_default());

    let parsed = AccessToken::parse(&raw_token);
    let expected = if raw_token.is_empty() {
        Err(TokenError::Empty)
    } else if raw_token.len() > MAX_TOKEN_LEN {
        Err(TokenError::TooLong)
    } else if !raw_token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        Err(TokenError::BadCharacter)
    } else {
        Ok(raw_token.as_ref())
    };
    assert_eq!(
        parsed.as_ref().map(AccessToken::expose),
        expected.as_ref().map(|t| *t)
    );
    let Ok(token) = parsed else {
        return;
    };
    // Debug shows a fingerprint; a token longer than all of it cannot hide in it by chance.
    assert!(token.expose().len() <= 28 || !format!("{token:?}").contains(token.expose()));

    let id = std::str::from_utf8(raw_id)
        .ok()
        .and_then(answers::parse_id)
        .unwrap_or_else(|| {
            raw_id
                .iter()
                .fold(0u64, |n, b| n.rotate_left(8) ^ u64::from(*b))
        });
    let mut admins = vec![ADMIN_URLS[usize::from(flags) % ADMIN_URLS.len()].to_owned()];
    if !raw_admin.is_empty() {
        admins.push(raw_admin.into_owned());
    }
    for admin in admins {
        let Ok(portal) = AdminPortal::new(&admin, None) else {
            continue;
        };
        let admin_url = portal.admin_url();
        check_tokens_url(admin_url, None);
        check_tokens_url(
            admin_url,
            Some(TokenToRevoke {
                value: &token,
                id: None,
            }),
        );
        check_tokens_url(
            admin_url,
            Some(TokenToRevoke {
                value: &token,
                id: Some(TokenId(id)),
            }),
        );
    }
}

/// The token API URL for `token` on `admin_url`: same origin, the admin URL's path, then
/// exactly `admin/api/personal/access_tokens(.json|/{id or value}.json)`; no query, no fragment.
pub fn check_tokens_url(admin_url: &Url, token: Option<TokenToRevoke<'_>>) {
    let url = tokens_url(admin_url, token).expect("an http(s) admin_url always takes a path");
    assert_eq!(url.scheme(), admin_url.scheme());
    assert_eq!(
        url.host_str(),
        admin_url.host_str(),
        "the host never changes"
    );
    assert_eq!(url.port(), admin_url.port());
    assert_eq!((url.username(), url.password()), ("", None));
    assert_eq!((url.query(), url.fragment()), (None, None));
    let base = admin_url.path();
    let base = base.strip_suffix('/').unwrap_or(base);
    let under = format!("{base}/admin/api/personal/access_tokens");
    let expected = match token {
        None => format!("{under}.json"),
        Some(TokenToRevoke { id: Some(id), .. }) => format!("{under}/{}.json", id.0),
        Some(TokenToRevoke { value, id: None }) => format!("{under}/{}.json", value.expose()),
    };
    // The one liberty the url crate takes: an admin path of "//" gives "/admin/…", not "//admin/…".
    let expected = match expected.strip_prefix("//") {
        Some(single) if base == "/" => format!("/{single}"),
        _ => expected,
    };
    assert_eq!(url.path(), expected);
    // What goes on the wire is the string: read back, it is the same URL.
    assert_eq!(Url::parse(url.as_str()).as_ref(), Ok(&url));
}

// ---------------------------------------------------------------------------------------------
// answers

/// Every parser of porta's answers, on the same bytes: the 403 classifier and the CanCan
/// check, the token listing, the failures listing and what one delete of it may remove,
/// token ids as porta prints them and as Rails reads a value, and failure times, one a line.
pub fn answers(data: &[u8]) {
    let object = serde_json::from_slice::<serde_json::Map<String, Value>>(data).ok();
    let field = |name: &str| {
        object
            .as_ref()
            .and_then(|o| o.get(name))
            .and_then(Value::as_str)
    };

    // 403: porta's render_error is `{"error": message}`; nothing else is its verdict.
    match answers::classify(403, data) {
        TokenAnswer::Dead => assert_eq!(field("error"), Some("Access denied")),
        TokenAnswer::NotPermitted => {
            assert!(field("error").is_some_and(|e| e.to_ascii_lowercase().contains("permission")))
        }
        TokenAnswer::Unexpected => {}
        other => panic!("a 403 read as {other:?}"),
    }
    if answers::is_cancan_denial(data) {
        assert_eq!(field("status"), Some("Forbidden"));
    }
    let status = data
        .get(..2)
        .map_or(200, |b| u16::from_le_bytes([b[0], b[1]]) % 600);
    // Ping: only porta's own refusal proves admin_url, and what is said never quotes the body.
    for status in [status, 403] {
        match answers::probe(status, data) {
            Probe::Porta => assert_eq!(answers::classify(status, data), TokenAnswer::Dead),
            other => assert_eq!(other, answers::probe(status, b""), "the body is not quoted"),
        }
    }
    if status != 403 {
        let body_free = answers::classify(status, b"");
        assert_eq!(
            answers::classify(status, data),
            body_free,
            "only a 403 reads the body"
        );
    }

    // Listings are JSON or refused.
    let json_ok = serde_json::from_slice::<Value>(data).is_ok();
    assert_eq!(answers::token_ids(data).is_ok(), json_ok);
    let failures = answers::webhook_failures(data);
    assert_eq!(failures.is_ok(), json_ok);
    if let Ok(failures) = failures {
        check_deletable_prefix(&failures);
    }

    // Ids and times, one a line.
    let text = String::from_utf8_lossy(data);
    let mut lines = Vec::new();
    for line in text.lines().take(16) {
        check_ids(line);
        if let Some(time) = parse_time(line) {
            check_time(line, time);
        }
        lines.push(WebhookFailure {
            id: None,
            time: line.to_owned(),
            event: String::new(),
        });
    }
    check_time_order(&lines);
    check_deletable_prefix(&lines);
}

fn check_ids(text: &str) {
    if let Some(id) = answers::parse_id(text) {
        let digits = text.trim();
        assert!(!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(digits.parse::<u64>().ok(), Some(id));
    }
    // Ruby's String#to_i: leading digits, single underscores between digits.
    let bytes = text.as_bytes();
    let mut digits = String::new();
    for (at, &b) in bytes.iter().enumerate() {
        let digit_at =
            |i: Option<usize>| i.and_then(|i| bytes.get(i)).is_some_and(u8::is_ascii_digit);
        if b.is_ascii_digit() {
            digits.push(char::from(b));
        } else if !(b == b'_' && digit_at(at.checked_sub(1)) && digit_at(Some(at + 1))) {
            break;
        }
    }
    let ruby = if bytes.first().is_some_and(u8::is_ascii_digit) {
        digits.parse::<u64>().ok()
    } else {
        None
    };
    assert_eq!(answers::id_rails_would_read(text), ruby, "{text:?}");
}

#[path = "../../tests/common/civil_time.rs"]
mod civil_time;
use civil_time::format_unix as format_time;

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A time that parsed reads back as itself, when it names a real second of a real day.
fn check_time(text: &str, time: u64) {
    let stamp = text
        .trim()
        .get(..19)
        .expect("a parsed time has a 19-byte stamp");
    let normal = stamp.replacen(' ', "T", 1);
    let field = |range: std::ops::Range<usize>| -> u64 {
        normal
            .get(range)
            .and_then(|s| s.parse().ok())
            .expect("digits")
    };
    let (year, month, day, second) = (field(0..4), field(5..7), field(8..10), field(17..19));
    if day <= days_in_month(year, month) && second < 60 {
        assert_eq!(format_time(time), normal, "{text:?}");
    }
}

/// For real dates, Unix-seconds order is the order of the stamps as text.
fn check_time_order(failures: &[WebhookFailure]) {
    let real: Vec<(String, u64)> = failures
        .iter()
        .filter_map(|f| {
            let time = parse_time(&f.time)?;
            let normal = f.time.trim().get(..19)?.replacen(' ', "T", 1);
            (format_time(time) == normal).then_some((normal, time))
        })
        .collect();
    for (a, ta) in &real {
        for (b, tb) in &real {
            assert_eq!(a.cmp(b), ta.cmp(tb), "{a} vs {b}");
        }
    }
}

/// `deletable_prefix` against a brute-force reading of its contract, for every `handled`.
fn check_deletable_prefix(failures: &[WebhookFailure]) {
    let failures = &failures[..failures.len().min(16)];
    let times: Vec<Option<u64>> = failures.iter().map(|f| parse_time(&f.time)).collect();
    let latest = times.iter().flatten().max().copied().unwrap_or(0);
    // The largest k whose first k entries all parse, with the entry after them strictly newer
    // than all of them, or, when nothing is after them, older than `safe_before`.
    let valid = |k: usize, safe_before: u64| -> Option<u64> {
        let first: Option<Vec<u64>> = times.get(..k)?.iter().copied().collect();
        let max = first?.into_iter().max()?;
        match times.get(k) {
            Some(next) => next.filter(|next| *next > max).map(|_| max),
            None => (max < safe_before).then_some(max),
        }
    };
    for safe_before in [0, latest, latest.saturating_add(1), u64::MAX] {
        for handled in 0..=failures.len() + 1 {
            let got = deletable_prefix(failures, handled, safe_before);
            let want = (1..=handled.min(failures.len()))
                .rev()
                .find_map(|k| valid(k, safe_before).map(|t| (k, t)));
            match (got, want) {
                (None, None) => {}
                (Some((k, time)), Some((want_k, want_t))) => {
                    assert_eq!(k, want_k, "count, handled {handled}");
                    assert!(k <= handled);
                    assert_eq!(parse_time(time), Some(want_t), "the delete's time");
                    assert!(failures[..k].iter().any(|f| f.time == time));
                }
                (got, want) => panic!("handled {handled}: got {got:?}, want {want:?}"),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// lambda_event

/// The events a structured input starts from: each envelope's deliveries, and the schedule.
pub const FIXTURES: [&str; 13] = [
    include_str!("../../events/apigw-rest/application-created.json"),
    include_str!("../../events/apigw-rest/application-created-form.json"),
    include_str!("../../events/apigw-rest/application-created-base64.json"),
    include_str!("../../events/apigw-rest/ping.json"),
    include_str!("../../events/apigw-http/application-created.json"),
    include_str!("../../events/apigw-http/application-created-form.json"),
    include_str!("../../events/apigw-http/application-created-base64.json"),
    include_str!("../../events/apigw-http/ping.json"),
    include_str!("../../events/function-url/application-created.json"),
    include_str!("../../events/function-url/application-created-form.json"),
    include_str!("../../events/function-url/application-updated.json"),
    include_str!("../../events/function-url/ping.json"),
    include_str!("../../events/scheduled/sweep.json"),
];

/// porta's failures listing, as the sweep's stub answers it for a raw event.
const FAILURES_LISTING: &str = include_str!("../../events/payloads/webhook-failures.json");

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

/// The admin API with fixed answers and no network, checking what it is asked.
pub struct Stub {
    verdict: Verdict,
    failures: Result<Vec<WebhookFailure>, MaintenanceError>,
    maintenance_ok: bool,
    calls: Arc<Calls>,
}

/// What the stub was asked to do.
#[derive(Default)]
pub struct Calls {
    revokes: AtomicUsize,
    deletes: AtomicUsize,
    clears: AtomicUsize,
}

impl Calls {
    fn all(&self) -> usize {
        self.revokes.load(Ordering::Relaxed)
            + self.deletes.load(Ordering::Relaxed)
            + self.clears.load(Ordering::Relaxed)
    }
}

impl Stub {
    fn new(verdict: Verdict, failures: Result<Vec<WebhookFailure>, MaintenanceError>) -> Self {
        Self {
            verdict,
            failures,
            maintenance_ok: true,
            calls: Arc::default(),
        }
    }

    fn maintenance(&self) -> Result<(), MaintenanceError> {
        if self.maintenance_ok {
            Ok(())
        } else {
            Err(MaintenanceError::Unavailable("stub".to_owned()))
        }
    }
}

impl AdminApi for Stub {
    async fn probe(&self, portal: &AdminPortal) -> Probe {
        check_tokens_url(portal.admin_url(), None);
        Probe::Porta
    }

    async fn revoke(&self, portal: &AdminPortal, token: TokenToRevoke<'_>) -> Revocation {
        self.calls.revokes.fetch_add(1, Ordering::Relaxed);
        assert!(AccessToken::parse(token.value.expose()).is_ok());
        check_tokens_url(portal.admin_url(), None);
        check_tokens_url(portal.admin_url(), Some(token));
        Revocation {
            verdict: self.verdict.clone(),
            step: Step::Verify,
            status: Some(403),
            by_id: token.id.is_some(),
            elapsed: Duration::ZERO,
        }
    }

    async fn webhook_failures(
        &self,
        _portal: &AdminPortal,
        _maintenance: &AccessToken,
    ) -> Result<Vec<WebhookFailure>, MaintenanceError> {
        self.failures.clone()
    }

    async fn delete_webhook_failures(
        &self,
        _portal: &AdminPortal,
        _maintenance: &AccessToken,
        time: &str,
    ) -> Result<(), MaintenanceError> {
        self.calls.deletes.fetch_add(1, Ordering::Relaxed);
        // Without a readable time porta would delete everything, or the wrong entries.
        assert!(parse_time(time).is_some(), "delete up to {time:?}");
        let listed = self.failures.as_ref().expect("deleting what was listed");
        assert!(listed.iter().any(|f| f.time == time), "a listed time");
        self.maintenance()
    }

    async fn clear_extra_fields(
        &self,
        _portal: &AdminPortal,
        _maintenance: &AccessToken,
        application: ApplicationRef<'_>,
        fields: &[&str],
    ) -> Result<(), MaintenanceError> {
        self.calls.clears.fetch_add(1, Ordering::Relaxed);
        assert!(!fields.is_empty() && fields.iter().all(|f| !f.is_empty()));
        assert!(!application.account_id.is_empty() && !application.application_id.is_empty());
        self.maintenance()
    }
}

const VERDICTS: usize = 7;

fn verdict(n: u8) -> Verdict {
    match usize::from(n) % VERDICTS {
        0 => Verdict::Revoked,
        1 => Verdict::AlreadyRevoked,
        2 => Verdict::NotRevocable,
        3 => Verdict::Ambiguous,
        4 => Verdict::NotVerified,
        5 => Verdict::Rejected,
        _ => Verdict::Unavailable("stub".to_owned()),
    }
}

/// The function as deployed, with `vars` on top of an admin URL, the fixtures' webhook
/// secret and a maintenance token, the stub behind it, and metrics built but dropped.
fn app(vars: &[(&str, &str)], stub: Stub) -> App<FixedPortal, Stub> {
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
    let PortalSetting::Environment(portal) = settings.portal.clone() else {
        unreachable!("THREESCALE_ADMIN_URL configures the portal");
    };
    App::new(settings, FixedPortal(portal), stub).with_metrics(MetricsSink::new("fuzz", |_| {}))
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
        answers::webhook_failures(FAILURES_LISTING.as_bytes()).expect("porta's listing"),
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
    let response = RUNTIME
        .with(|rt| {
            rt.block_on(invocation::handle(
                &app,
                LambdaEvent::new(payload, Context::default()),
            ))
        })
        .expect("an invocation never errs on input");
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
                failures = answers::webhook_failures(&value)
                    .map_err(|_| MaintenanceError::Unreadable("stub"));
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

fn set_header(event: &mut Value, v2: bool, name: &str, value: &str) {
    for key in ["headers", "multiValueHeaders"] {
        let Some(headers) = event.get_mut(key).and_then(Value::as_object_mut) else {
            continue;
        };
        // REST API fixtures spell headers in title case; drop any spelling of this one.
        headers.retain(|k, _| !k.eq_ignore_ascii_case(name));
        let header = if key == "headers" {
            Value::from(value)
        } else {
            Value::from(vec![value])
        };
        headers.insert(name.to_owned(), header);
        if v2 {
            break;
        }
    }
}

fn set_query(event: &mut Value, v2: bool, query: &str) {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let single: serde_json::Map<String, Value> = pairs
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect();
    event["queryStringParameters"] = single.into();
    if v2 {
        event["rawQueryString"] = query.into();
    } else {
        let mut multi = serde_json::Map::new();
        for (k, v) in pairs {
            let values = multi.entry(k).or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(values) = values {
                values.push(v.into());
            }
        }
        event["multiValueQueryStringParameters"] = multi.into();
    }
}

/// Sets the value at a JSON pointer, adding the last key to an existing object if needed.
fn set_pointer(root: &mut Value, pointer: &str, value: Value) {
    if pointer.is_empty() {
        *root = value;
    } else if let Some(slot) = root.pointer_mut(pointer) {
        *slot = value;
    } else if let Some((parent, key)) = pointer.rsplit_once('/')
        && let Some(Value::Object(map)) = root.pointer_mut(parent)
    {
        map.insert(key.replace("~1", "/").replace("~0", "~"), value);
    }
}
