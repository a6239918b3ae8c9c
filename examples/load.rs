//! The load the function holds, measured: `scripts/load` runs this with the release binary.
//!
//! The binary runs as Lambda runs it, behind a stand-in for the Runtime API on loopback, with
//! `AWS_LAMBDA_MAX_CONCURRENCY` invocations at once, against an in-process stand-in for the
//! 3scale admin API that answers as porta does for the calls a revocation makes
//! (`scripts/fake-admin-api.py` is the full one): HTTP Basic token, the token listing, the
//! DELETE by id or value, 403 `Access denied` for a dead token. Every socket has TCP_NODELAY.
//! Each delivery is `events/apigw-http/application-created.json` with its own token.
//!
//! Scenarios, each in a fresh function process, then one table:
//! * burst: deliveries at up to 64 in flight; every token ends dead, no other token touched;
//! * 429 storm: every other admin API answer is 429 with Retry-After; each delivery ends
//!   `revoked`, `already_revoked` or a 5xx within its bound, never `revoked` while the token
//!   lives; the 5xx ones are delivered again, as 3scale retries;
//! * one at a time, and the soak: deliveries in sequence, with the RSS at the start and the end.
//!
//! `--admin-url URL` runs the one-at-a-time scenario against another admin API stand-in that
//! has `scripts/fake-admin-api.py`'s control endpoints instead (to measure that stand-in).
// A measuring tool, not the request path: a failed expectation stops the run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use base64::Engine as _;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, oneshot};

const WEBHOOK_SECRET: &str = "load-webhook-secret";
/// The token in the fixture event, swapped for each delivery's own.
const FIXTURE_TOKEN: &str = "8c3e1f0d7b2a4c6e9f5d1b3a7c0e2f4d6b8a1c3e5f7d9b0a2c4e6f8d1b3a5c7e";
/// Users that own the delivery tokens; each also owns a token that must survive.
const USERS: u64 = 64;
/// A delivery ends within this: 8 s of admin API calls at most, and the function's own work.
const DELIVERY_BOUND: Duration = Duration::from_secs(10);

// ----- a minimal HTTP/1.1 server side, enough for the function's two clients ------------------

struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one request from a kept-alive connection; `None` when the client is done.
async fn read_request(socket: &mut TcpStream, pending: &mut Vec<u8>) -> Option<Request> {
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => pending.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&pending[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut start = lines.next()?.split_whitespace();
    let method = start.next()?.to_owned();
    let target = start.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    while pending.len() < head_end + length {
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => pending.extend_from_slice(&chunk[..n]),
        }
    }
    let body = pending[head_end..head_end + length].to_vec();
    pending.drain(..head_end + length);
    Some(Request {
        method,
        target,
        headers,
        body,
    })
}

/// Head and body in one write, as production servers do.
async fn respond(
    socket: &mut TcpStream,
    status: u16,
    headers: &[(&str, String)],
    body: &[u8],
) -> bool {
    let reason = match status {
        200 => "OK",
        202 => "Accepted",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        _ => "Other",
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    socket.write_all(&bytes).await.is_ok()
}

async fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("loopback");
    let address = listener.local_addr().expect("address").to_string();
    (listener, address)
}

// ----- the 3scale admin API stand-in --------------------------------------------------------

struct Token {
    value: String,
    user: u64,
}

#[derive(Default)]
struct PortaState {
    tokens: HashMap<u64, Token>,
    by_value: HashMap<String, u64>,
    by_user: HashMap<u64, BTreeSet<u64>>,
    /// DELETEs that removed a token other than the one that authenticated them.
    deleted_other: u64,
}

/// One tenant's admin API: porta's answers for list and delete, optionally a 429 storm.
struct Porta {
    state: Mutex<PortaState>,
    storm: AtomicBool,
    answers: AtomicU64,
    throttled: AtomicU64,
}

const ACCESS_DENIED: &[u8] = br#"{"error":"Access denied"}"#;
const NOT_FOUND: &[u8] = br#"{"status":"Not found"}"#;
const TOKENS_PATH: &str = "/admin/api/personal/access_tokens";

impl Porta {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(PortaState::default()),
            storm: AtomicBool::new(false),
            answers: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
        })
    }

    fn add(&self, id: u64, value: &str, user: u64) {
        let mut state = self.state.lock().expect("porta");
        state.tokens.insert(
            id,
            Token {
                value: value.to_owned(),
                user,
            },
        );
        state.by_value.insert(value.to_owned(), id);
        state.by_user.entry(user).or_default().insert(id);
    }

    fn is_alive(&self, value: &str) -> bool {
        self.state
            .lock()
            .expect("porta")
            .by_value
            .contains_key(value)
    }

    fn deleted_other(&self) -> u64 {
        self.state.lock().expect("porta").deleted_other
    }

    /// porta's answer: status, extra headers, body.
    fn answer(&self, request: &Request) -> (u16, Vec<(&'static str, String)>, Vec<u8>) {
        let json = || vec![("content-type", "application/json; charset=utf-8".to_owned())];
        if self.storm.load(Ordering::Relaxed)
            && self
                .answers
                .fetch_add(1, Ordering::Relaxed)
                .is_multiple_of(2)
        {
            self.throttled.fetch_add(1, Ordering::Relaxed);
            let mut headers = json();
            headers.push(("retry-after", "1".to_owned()));
            return (429, headers, br#"{"error":"Too many requests"}"#.to_vec());
        }
        let Some(caller) = basic_user(request) else {
            return (403, json(), ACCESS_DENIED.to_vec());
        };
        let mut state = self.state.lock().expect("porta");
        let Some(&caller_id) = state.by_value.get(&caller) else {
            return (403, json(), ACCESS_DENIED.to_vec());
        };
        let user = state.tokens[&caller_id].user;
        let own: Vec<u64> = state.by_user[&user].iter().copied().collect();
        let path = request.target.split('?').next().unwrap_or_default();
        if request.method == "GET" && path == format!("{TOKENS_PATH}.json") {
            let listing: Vec<Value> = own
                .iter()
                .map(|id| {
                    json!({"access_token": {"id": id, "name": format!("token {id}"),
                        "scopes": ["account_management"], "permission": "rw", "expires_at": null}})
                })
                .collect();
            let body = json!({ "access_tokens": listing }).to_string();
            return (200, json(), body.into_bytes());
        }
        let key = path
            .strip_prefix(TOKENS_PATH)
            .and_then(|p| p.strip_prefix('/'))
            .and_then(|p| p.strip_suffix(".json"));
        if let (Some(key), "DELETE") = (key, request.method.as_str()) {
            // find_from_id_or_value!: the id Rails reads from the key first, then the value.
            let target = own
                .iter()
                .copied()
                .find(|id| Some(*id) == ruby_to_i(key))
                .or_else(|| own.iter().copied().find(|id| state.tokens[id].value == key));
            let Some(target) = target else {
                return (404, json(), NOT_FOUND.to_vec());
            };
            if target != caller_id {
                state.deleted_other += 1;
            }
            if let Some(token) = state.tokens.remove(&target) {
                state.by_value.remove(&token.value);
                if let Some(set) = state.by_user.get_mut(&token.user) {
                    set.remove(&target);
                }
            }
            return (200, Vec::new(), Vec::new());
        }
        (404, json(), NOT_FOUND.to_vec())
    }
}

/// The token in an HTTP Basic header: the user name, else the password.
fn basic_user(request: &Request) -> Option<String> {
    let encoded = request.header("authorization")?.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':').unwrap_or((&text, ""));
    let token = if user.is_empty() { password } else { user };
    (!token.is_empty()).then(|| token.to_owned())
}

/// Ruby's String#to_i on a token key: its leading digits, if any.
fn ruby_to_i(key: &str) -> Option<u64> {
    let digits: String = key.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

async fn serve_porta(listener: TcpListener, porta: Arc<Porta>) {
    while let Ok((mut socket, _)) = listener.accept().await {
        let _ = socket.set_nodelay(true);
        let porta = Arc::clone(&porta);
        tokio::spawn(async move {
            let mut pending = Vec::new();
            while let Some(request) = read_request(&mut socket, &mut pending).await {
                let (status, headers, body) = porta.answer(&request);
                if !respond(&mut socket, status, &headers, &body).await {
                    return;
                }
            }
        });
    }
}

// ----- the Lambda Runtime API stand-in ------------------------------------------------------

/// What the function posted for one invocation.
enum Posted {
    Response(Value),
    Error(String),
}

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<Posted>>>>;
type Queue = Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<(String, String)>>>;

struct RuntimeApi {
    address: String,
    queue: mpsc::UnboundedSender<(String, String)>,
    pending: Pending,
    next_id: AtomicU64,
}

impl RuntimeApi {
    async fn start() -> Arc<Self> {
        let (listener, address) = listen().await;
        let (queue, events) = mpsc::unbounded_channel();
        let events: Queue = Arc::new(tokio::sync::Mutex::new(events));
        let pending: Pending = Arc::default();
        let answers = Arc::clone(&pending);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let _ = socket.set_nodelay(true);
                let events = Arc::clone(&events);
                let answers = Arc::clone(&answers);
                tokio::spawn(async move {
                    let mut pending = Vec::new();
                    while let Some(request) = read_request(&mut socket, &mut pending).await {
                        if !serve_runtime(&mut socket, request, &events, &answers).await {
                            return;
                        }
                    }
                });
            }
        });
        Arc::new(Self {
            address,
            queue,
            pending,
            next_id: AtomicU64::new(0),
        })
    }

    /// Hands `event` to the next `/invocation/next` and waits for what the function posts.
    async fn invoke(&self, event: String) -> Posted {
        let id = format!("load-{}", self.next_id.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = oneshot::channel();
        self.pending.lock().expect("pending").insert(id.clone(), tx);
        self.queue.send((id, event)).expect("runtime API is up");
        rx.await
            .unwrap_or_else(|_| Posted::Error("no answer".to_owned()))
    }
}

async fn serve_runtime(
    socket: &mut TcpStream,
    request: Request,
    events: &Queue,
    answers: &Pending,
) -> bool {
    if request.target.ends_with("/invocation/next") {
        let Some((id, event)) = events.lock().await.recv().await else {
            return false;
        };
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() + 60_000)
            .unwrap_or_default();
        let headers = [
            ("content-type", "application/json".to_owned()),
            ("lambda-runtime-aws-request-id", id),
            ("lambda-runtime-deadline-ms", deadline.to_string()),
            (
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:revoker".to_owned(),
            ),
            (
                "lambda-runtime-trace-id",
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
                    .to_owned(),
            ),
        ];
        return respond(socket, 200, &headers, event.as_bytes()).await;
    }
    let mut parts = request.target.rsplit('/');
    let kind = parts.next().unwrap_or_default();
    let id = parts.next().unwrap_or_default().to_owned();
    let posted = match kind {
        "response" => Posted::Response(serde_json::from_slice(&request.body).unwrap_or_default()),
        _ => Posted::Error(String::from_utf8_lossy(&request.body).into_owned()),
    };
    if let Some(tx) = answers.lock().expect("pending").remove(&id) {
        let _ = tx.send(posted);
    } else {
        eprintln!("load: the function posted {kind} for an unknown invocation");
    }
    respond(socket, 202, &[], b"{}").await
}

// ----- the function's process ---------------------------------------------------------------

struct Function {
    child: Child,
    decision_lines: Arc<AtomicU64>,
    leaked: Arc<AtomicU64>,
}

impl Function {
    fn start(binary: &str, runtime_api: &str, admin_url: &str, concurrency: usize) -> Self {
        let mut child = Command::new(binary)
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
            .env("AWS_LAMBDA_FUNCTION_NAME", "revoker-under-load")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("AWS_LAMBDA_MAX_CONCURRENCY", concurrency.to_string())
            .env("THREESCALE_ADMIN_URL", admin_url)
            .env("WEBHOOK_SECRET", WEBHOOK_SECRET)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("{binary} starts: {err}"));
        let out = child.stdout.take().expect("piped stdout");
        let decision_lines = Arc::new(AtomicU64::new(0));
        let leaked = Arc::new(AtomicU64::new(0));
        let (lines, leaks) = (Arc::clone(&decision_lines), Arc::clone(&leaked));
        // Drained as Lambda drains it; the audit lines are counted, and none may hold the secret.
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if line.contains("webhook decision") {
                    lines.fetch_add(1, Ordering::Relaxed);
                }
                if line.contains(WEBHOOK_SECRET) {
                    leaks.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        Self {
            child,
            decision_lines,
            leaked,
        }
    }

    /// (VmRSS, VmHWM) in KiB: the resident set now, and its peak.
    fn rss_kib(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ----- deliveries ---------------------------------------------------------------------------

/// A token value as porta makes them (hex), starting with a letter so that its leading digits
/// are no other token's id.
fn token_value(n: u64) -> String {
    let mut x = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut out = String::from("a");
    while out.len() < 64 {
        // splitmix64
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.push_str(&format!("{:016x}", z ^ (z >> 31)));
    }
    out.truncate(64);
    out
}

struct Deliveries {
    template: Value,
}

impl Deliveries {
    fn load() -> Self {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/events/apigw-http/application-created.json"
        );
        let text = std::fs::read_to_string(path).expect("the fixture event");
        let mut template: Value = serde_json::from_str(&text).expect("event JSON");
        template["rawQueryString"] = format!("secret={WEBHOOK_SECRET}").into();
        template["queryStringParameters"]["secret"] = WEBHOOK_SECRET.into();
        assert!(
            template["body"]
                .as_str()
                .is_some_and(|b| b.contains(FIXTURE_TOKEN)),
            "the fixture's body carries the fixture token"
        );
        Self { template }
    }

    /// The application:created delivery whose token field holds `token`.
    fn event(&self, token: &str) -> String {
        let mut event = self.template.clone();
        let body = event["body"]
            .as_str()
            .unwrap_or_default()
            .replace(FIXTURE_TOKEN, token);
        event["headers"]["content-length"] = body.len().to_string().into();
        event["body"] = body.into();
        event.to_string()
    }
}

/// How one delivery ended.
struct Delivered {
    status: u16,
    outcome: String,
    elapsed: Duration,
    /// The answer said revoked or already revoked while porta still had the token.
    claimed_dead_but_alive: bool,
}

fn read_answer(posted: Posted) -> (u16, String) {
    match posted {
        Posted::Response(envelope) => {
            let status = envelope["statusCode"].as_u64().unwrap_or(0) as u16;
            let body: Value = envelope["body"]
                .as_str()
                .and_then(|b| serde_json::from_str(b).ok())
                .unwrap_or_default();
            let outcome = body["outcome"]
                .as_str()
                .or(body["error"].as_str())
                .unwrap_or("no_outcome")
                .to_owned();
            (status, outcome)
        }
        Posted::Error(body) => {
            eprintln!("load: the invocation failed: {body}");
            (0, "invocation_error".to_owned())
        }
    }
}

async fn deliver(
    runtime: &RuntimeApi,
    deliveries: &Deliveries,
    token: &str,
    alive: impl Fn(&str) -> bool,
) -> Delivered {
    let event = deliveries.event(token);
    let started = Instant::now();
    let (status, outcome) = read_answer(runtime.invoke(event).await);
    let elapsed = started.elapsed();
    let claimed_dead = outcome == "revoked" || outcome == "already_revoked";
    Delivered {
        status,
        outcome,
        elapsed,
        claimed_dead_but_alive: claimed_dead && alive(token),
    }
}

// ----- scenarios ----------------------------------------------------------------------------

#[derive(Default)]
struct Row {
    name: String,
    deliveries: usize,
    /// Deliveries sent again after a 5xx, as 3scale retries them.
    retries: usize,
    in_flight: usize,
    outcomes: Vec<(String, usize)>,
    p50: Duration,
    p99: Duration,
    max: Duration,
    per_second: f64,
    memory: String,
    checks: Vec<(String, bool)>,
}

impl Row {
    fn passed(&self) -> bool {
        self.checks.iter().all(|(_, ok)| *ok)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The row of a scenario: the figures of its deliveries; the memory and checks come after.
fn summarize(name: &str, in_flight: usize, results: &[Delivered], wall: Duration) -> Row {
    let mut row = Row {
        name: name.to_owned(),
        in_flight,
        ..Row::default()
    };
    let mut times: Vec<Duration> = results.iter().map(|d| d.elapsed).collect();
    times.sort();
    row.deliveries = results.len();
    row.p50 = percentile(&times, 50.0);
    row.p99 = percentile(&times, 99.0);
    row.max = times.last().copied().unwrap_or_default();
    row.per_second = results.len() as f64 / wall.as_secs_f64();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for d in results {
        *counts
            .entry(format!("{} {}", d.outcome, d.status))
            .or_default() += 1;
    }
    let mut outcomes: Vec<(String, usize)> = counts.into_iter().collect();
    outcomes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    row.outcomes = outcomes;
    row
}

/// The function's peak RSS so far.
fn peak(function: &Function) -> String {
    format!("peak {}", mib(function.rss_kib().1))
}

/// Tokens 0..n of users 1..=USERS, and each user's token that must survive.
fn seed(porta: &Porta, first: u64, n: u64) -> (Vec<String>, Vec<String>) {
    let mut tokens = Vec::with_capacity(n as usize);
    for i in 0..n {
        let value = token_value(first + i);
        porta.add(1_000_000 + first + i, &value, i % USERS + 1);
        tokens.push(value);
    }
    let mut bystanders = Vec::new();
    for user in 1..=USERS {
        let value = format!("b{}", &token_value(u64::MAX - user)[1..]);
        porta.add(500_000 + user, &value, user);
        bystanders.push(value);
    }
    (tokens, bystanders)
}

struct Setup {
    binary: String,
}

impl Setup {
    async fn start(&self, concurrency: usize) -> (Arc<Porta>, Arc<RuntimeApi>, Function) {
        let porta = Porta::new();
        let (listener, address) = listen().await;
        tokio::spawn(serve_porta(listener, Arc::clone(&porta)));
        let runtime = RuntimeApi::start().await;
        let function = Function::start(
            &self.binary,
            &runtime.address,
            &format!("http://{address}"),
            concurrency,
        );
        (porta, runtime, function)
    }
}

/// One delivery per token, at most `limit` in flight; each token with how its delivery ended.
async fn deliver_all(
    runtime: &Arc<RuntimeApi>,
    porta: &Arc<Porta>,
    limit: &Arc<Semaphore>,
    tokens: &[String],
) -> Vec<(String, Delivered)> {
    let deliveries = Arc::new(Deliveries::load());
    let mut tasks = Vec::new();
    for token in tokens.iter().cloned() {
        let permit = Arc::clone(limit).acquire_owned().await.expect("semaphore");
        let (runtime, deliveries, porta) = (
            Arc::clone(runtime),
            Arc::clone(&deliveries),
            Arc::clone(porta),
        );
        tasks.push(tokio::spawn(async move {
            let delivered = deliver(&runtime, &deliveries, &token, |t| porta.is_alive(t)).await;
            drop(permit);
            (token, delivered)
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("delivery task"));
    }
    results
}

/// No token but the deliveries' own was deleted: every user's survivor is alive.
fn untouched(porta: &Porta, bystanders: &[String]) -> (String, bool) {
    (
        "no other token touched".to_owned(),
        porta.deleted_other() == 0 && bystanders.iter().all(|t| porta.is_alive(t)),
    )
}

async fn burst(setup: &Setup, n: u64, in_flight: usize) -> Row {
    let (porta, runtime, mut function) = setup.start(in_flight).await;
    let (tokens, bystanders) = seed(&porta, 0, n);
    let limit = Arc::new(Semaphore::new(in_flight));
    let started = Instant::now();
    let results: Vec<Delivered> = deliver_all(&runtime, &porta, &limit, &tokens)
        .await
        .into_iter()
        .map(|(_, delivered)| delivered)
        .collect();
    let mut row = summarize("burst", in_flight, &results, started.elapsed());
    row.memory = peak(&function);
    let revoked = results.iter().filter(|d| d.outcome == "revoked").count();
    row.checks = vec![
        (
            "every delivery revoked".to_owned(),
            revoked == results.len(),
        ),
        (
            "every token dead".to_owned(),
            tokens.iter().all(|t| !porta.is_alive(t)),
        ),
        untouched(&porta, &bystanders),
        common_checks(&mut function, &results),
    ];
    row
}

async fn storm(setup: &Setup, n: u64, in_flight: usize) -> Row {
    let (porta, runtime, mut function) = setup.start(in_flight).await;
    let (tokens, bystanders) = seed(&porta, 0, n);
    porta.storm.store(true, Ordering::Relaxed);
    let limit = Arc::new(Semaphore::new(in_flight));
    let started = Instant::now();
    let mut results: Vec<Delivered> = Vec::new();
    let mut round = tokens.clone();
    let mut rounds = 0;
    // The first delivery, then up to five retries of each 5xx one, as 3scale retries.
    while !round.is_empty() && rounds < 6 {
        rounds += 1;
        let mut again = Vec::new();
        for (token, delivered) in deliver_all(&runtime, &porta, &limit, &round).await {
            if delivered.status >= 500 {
                again.push(token);
            }
            results.push(delivered);
        }
        round = again;
    }
    let mut row = summarize("429 storm", in_flight, &results, started.elapsed());
    row.memory = peak(&function);
    row.deliveries = tokens.len();
    row.retries = results.len() - tokens.len();
    let allowed = results
        .iter()
        .all(|d| d.outcome == "revoked" || d.outcome == "already_revoked" || d.status >= 500);
    let alive_after = tokens.iter().filter(|t| porta.is_alive(t)).count();
    row.checks = vec![
        (
            "each ends revoked, already_revoked or 5xx".to_owned(),
            allowed,
        ),
        (
            format!("each within {} s", DELIVERY_BOUND.as_secs()),
            row.max <= DELIVERY_BOUND,
        ),
        (
            format!(
                "{} of {} admin API answers were 429",
                porta.throttled.load(Ordering::Relaxed),
                porta.answers.load(Ordering::Relaxed)
            ),
            porta.throttled.load(Ordering::Relaxed) > 0,
        ),
        (
            format!("{alive_after} tokens alive after {rounds} rounds"),
            true,
        ),
        untouched(&porta, &bystanders),
        common_checks(&mut function, &results),
    ];
    row
}

/// Deliveries one after the other; with `soak`, the RSS after the first `warm` and at the end.
async fn sequence(setup: &Setup, name: &str, n: u64, warm: u64) -> Row {
    let (porta, runtime, mut function) = setup.start(1).await;
    let (tokens, bystanders) = seed(&porta, 0, n);
    let deliveries = Deliveries::load();
    let mut results = Vec::with_capacity(tokens.len());
    let mut rss_start = 0;
    let mut rss_max = 0;
    let started = Instant::now();
    for (i, token) in tokens.iter().enumerate() {
        results.push(deliver(&runtime, &deliveries, token, |t| porta.is_alive(t)).await);
        if i as u64 + 1 == warm {
            rss_start = function.rss_kib().0;
        }
        if i as u64 + 1 > warm && i % 1000 == 0 {
            rss_max = rss_max.max(function.rss_kib().0);
        }
    }
    let mut row = summarize(name, 1, &results, started.elapsed());
    let rss_end = function.rss_kib().0;
    rss_max = rss_max.max(rss_end);
    let revoked = results.iter().filter(|d| d.outcome == "revoked").count();
    row.checks = vec![
        (
            "every delivery revoked".to_owned(),
            revoked == results.len(),
        ),
        untouched(&porta, &bystanders),
        common_checks(&mut function, &results),
    ];
    if warm > 0 {
        // Flat: no more than 1 MiB above the RSS after the warm-up, at any sample.
        let growth = rss_max.saturating_sub(rss_start);
        row.memory = format!(
            "{} after {warm}, {} at the end",
            mib(rss_start),
            mib(rss_end)
        );
        row.checks.push((
            format!("RSS flat (max {} above the start)", mib(growth)),
            growth <= 1024,
        ));
    } else {
        row.memory = peak(&function);
    }
    row
}

/// One at a time against an external stand-in with fake-admin-api.py's control endpoints.
async fn external(setup: &Setup, admin_url: &str, n: u64) -> Row {
    let runtime = RuntimeApi::start().await;
    let mut function = Function::start(&setup.binary, &runtime.address, admin_url, 1);
    let deliveries = Deliveries::load();
    let address = admin_url
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let mut results = Vec::new();
    let mut tokens = Vec::new();
    for i in 0..n {
        let token = token_value(7_000_000 + i);
        let spec = json!({"value": token, "user": 7}).to_string();
        let (status, _) = control(address, "POST", "/__stand_in/tokens", &spec).await;
        assert_eq!(status, 201, "the stand-in creates the token");
        tokens.push(token);
    }
    let started = Instant::now();
    for token in &tokens {
        results.push(deliver(&runtime, &deliveries, token, |_| false).await);
    }
    let wall = started.elapsed();
    let (_, live) = control(address, "GET", "/__stand_in/tokens", "").await;
    let dead = tokens.iter().all(|t| !live.contains(t.as_str()));
    let mut row = summarize(&format!("one at a time, {admin_url}"), 1, &results, wall);
    row.memory = peak(&function);
    row.checks = vec![
        ("every token dead".to_owned(), dead),
        common_checks(&mut function, &results),
    ];
    row
}

/// One request on its own connection to a control endpoint: (status, body).
async fn control(address: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut socket = TcpStream::connect(address)
        .await
        .expect("the admin API stand-in answers");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    socket.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    socket.read_to_end(&mut answer).await.expect("read");
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn common_checks(function: &mut Function, results: &[Delivered]) -> (String, bool) {
    // The audit lines are written before the answer is posted; give the reader a moment.
    std::thread::sleep(Duration::from_millis(200));
    let lines = function.decision_lines.load(Ordering::Relaxed) as usize;
    let ok = function.is_running()
        && results.iter().all(|d| !d.claimed_dead_but_alive)
        && lines == results.len()
        && function.leaked.load(Ordering::Relaxed) == 0;
    (
        "process up; never revoked while alive; one audit line each, no secret".to_owned(),
        ok,
    )
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

fn print_table(rows: &[Row]) {
    println!(
        "| Scenario | Deliveries | In flight | p50 | p99 | Max | Deliveries/s | Memory (RSS) | Outcomes | Checks |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for row in rows {
        let outcomes: Vec<String> = row
            .outcomes
            .iter()
            .map(|(o, c)| format!("{o}: {c}"))
            .collect();
        let checks: Vec<String> = row
            .checks
            .iter()
            .map(|(c, ok)| format!("{}{c}", if *ok { "" } else { "FAILED: " }))
            .collect();
        let deliveries = match row.retries {
            0 => row.deliveries.to_string(),
            retries => format!("{} + {retries} retried", row.deliveries),
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {:.0} | {} | {} | {} |",
            row.name,
            deliveries,
            row.in_flight,
            ms(row.p50),
            ms(row.p99),
            ms(row.max),
            row.per_second,
            row.memory,
            outcomes.join(", "),
            checks.join("; ")
        );
    }
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let mut binary = None;
    let mut quick = false;
    let mut admin_url = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--admin-url" => admin_url = args.next(),
            _ if binary.is_none() => binary = Some(arg),
            _ => {
                eprintln!("usage: load FUNCTION_BINARY [--quick] [--admin-url URL]");
                std::process::exit(2);
            }
        }
    }
    let Some(binary) = binary else {
        eprintln!("usage: load FUNCTION_BINARY [--quick] [--admin-url URL]");
        std::process::exit(2);
    };
    let setup = Setup { binary };
    let mut rows = Vec::new();
    if let Some(url) = admin_url {
        rows.push(external(&setup, &url, if quick { 20 } else { 200 }).await);
    } else {
        let (burst_n, storm_n, one_n, soak_n, warm) = if quick {
            (500, 200, 200, 5_000, 1_000)
        } else {
            (5_000, 1_000, 1_000, 100_000, 1_000)
        };
        for (name, n) in [
            ("burst", burst_n),
            ("429 storm", storm_n),
            ("one at a time", one_n),
            ("soak", soak_n),
        ] {
            eprintln!("load: {name}, {n} deliveries ...");
            rows.push(match name {
                "burst" => burst(&setup, n, 64).await,
                "429 storm" => storm(&setup, n, 64).await,
                "one at a time" => sequence(&setup, name, n, 0).await,
                _ => sequence(&setup, name, n, warm).await,
            });
        }
    }
    print_table(&rows);
    if rows.iter().any(|r| !r.passed()) {
        eprintln!("load: a check failed (see the table)");
        std::process::exit(1);
    }
}
