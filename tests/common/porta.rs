//! The loopback 3scale admin portal: `scripts/fake-admin-api.py`, the same stand-in the local
//! loop runs, started on a free port for one test and stopped when it drops.

use serde_json::{Value, json};
use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A running stand-in for one tenant's admin portal.
pub struct Porta {
    url: String,
    child: Child,
    http: reqwest::Client,
}

impl Porta {
    /// Starts an empty admin portal: no tokens, no faults.
    pub async fn start() -> Self {
        Self::spawn(None).await
    }

    /// Starts an empty admin portal that serves HTTPS with `server`'s certificate.
    pub async fn start_tls(server: &super::certs::ServerFiles) -> Self {
        Self::spawn(Some(server)).await
    }

    async fn spawn(tls: Option<&super::certs::ServerFiles>) -> Self {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/fake-admin-api.py");
        let mut command = Command::new("python3");
        command.arg(&script).args(["--port", "0", "--seed", ""]);
        if let Some(files) = tls {
            command.arg("--tls-cert").arg(&files.cert);
            command.arg("--tls-key").arg(&files.key);
        }
        let mut child = command
            .env_remove("FAKE_ADMIN_STATUS")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs scripts/fake-admin-api.py");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut url = String::new();
        BufReader::new(stdout)
            .read_line(&mut url)
            .expect("the stand-in prints its URL");
        let url = url.trim().to_owned();
        let scheme = if tls.is_some() { "https" } else { "http" };
        assert!(
            url.starts_with(&format!("{scheme}://127.0.0.1:")),
            "stand-in said {url:?}"
        );
        access_token_revoker::tls::install_crypto_provider();
        // The test's own control calls: they trust whatever certificate the stand-in shows,
        // bad ones included, and go around any proxy a test sets for the function.
        let http = reqwest::Client::builder()
            .tls_danger_accept_invalid_certs(true)
            .no_proxy()
            .build()
            .expect("control client");
        Self { url, child, http }
    }

    /// Starts an HTTPS admin portal (`server`'s certificate) where user 1 owns the events/
    /// fixture tokens, as [`Self::with_fixture_tokens`] does.
    pub async fn tls_with_fixture_tokens(server: &super::certs::ServerFiles) -> Self {
        let porta = Self::start_tls(server).await;
        porta.add_fixture_tokens().await;
        porta
    }

    /// Starts an admin portal where user 1 owns the events/ fixture tokens, as ids 101 and
    /// 102, next to a long-lived token (id 1) that must outlive every test.
    pub async fn with_fixture_tokens() -> Self {
        let porta = Self::start().await;
        porta.add_fixture_tokens().await;
        porta
    }

    async fn add_fixture_tokens(&self) {
        self.add(json!({"id": 1, "value": LONG_LIVED})).await;
        self.add(json!({"id": 101, "value": super::TOKEN})).await;
        self.add(json!({"id": 102, "value": super::TOKEN_UPDATED}))
            .await;
    }

    /// Failed TLS handshakes, once `expected` are counted or 2 s have passed, and 200 ms more
    /// for any late one: the stand-in counts a refusal when its side of the handshake ends,
    /// which can be after the function has moved on.
    pub async fn settled_tls_failures(&self, expected: u64) -> u64 {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while self.connections().await.1 < expected && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        self.connections().await.1
    }

    /// TCP connections accepted so far, and how many of them failed their TLS handshake.
    pub async fn connections(&self) -> (u64, u64) {
        let c = self.control("GET", "connections", None).await;
        (
            c["accepted"].as_u64().expect("accepted"),
            c["tls_failed"].as_u64().expect("tls_failed"),
        )
    }

    /// The admin portal's base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Creates a token: `{"value", "id"?, "user"? (1), "scopes"? (account_management),
    /// "permission"? (rw), "role"? (admin), "expires_at"? (ISO 8601)}`.
    pub async fn add(&self, spec: Value) -> u64 {
        let answer = self.control("POST", "tokens", Some(spec)).await;
        answer["id"].as_u64().expect("token id")
    }

    /// Whether a token with this value still exists.
    pub async fn is_alive(&self, value: &str) -> bool {
        self.control("GET", "tokens", None)
            .await
            .as_array()
            .expect("token list")
            .iter()
            .any(|t| t["value"] == value)
    }

    /// The ids of every live token.
    pub async fn live_ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .control("GET", "tokens", None)
            .await
            .as_array()
            .expect("token list")
            .iter()
            .filter_map(|t| t["id"].as_u64())
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Queues answers given instead of porta's: `{"method"?, "path"? (regex), "status",
    /// "body"?, "headers"?, "delay_ms"?, "times"? (1; null for ever)}`.
    pub async fn fault(&self, fault: Value) {
        self.control("POST", "faults", Some(json!([fault]))).await;
    }

    /// Drops every queued fault: porta answers as itself again.
    pub async fn clear_faults(&self) {
        self.control("DELETE", "faults", None).await;
    }

    /// Lets the requests held by a fault's `"gate": name` go on.
    pub async fn open_gate(&self, name: &str) {
        self.control("POST", "gates", Some(json!({"open": name})))
            .await;
    }

    /// Sets which host is this tenant's admin domain, and which are other tenants'.
    pub async fn hosts(&self, admin: &str, other_tenants: &[&str]) {
        self.control(
            "POST",
            "hosts",
            Some(json!({"admin": admin, "other_tenants": other_tenants})),
        )
        .await;
    }

    /// Waits until the stand-in has received a request matching `method` and `path_part`.
    pub async fn received(&self, method: &str, path_part: &str) {
        for _ in 0..600 {
            let seen = self.requests().await.iter().any(|r| {
                r["method"] == method && r["path"].as_str().is_some_and(|p| p.contains(path_part))
            });
            if seen {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("no {method} …{path_part}… reached the stand-in");
    }

    /// Every admin API request received: `{"method", "path", "query", "auth", "client_port"}`.
    pub async fn requests(&self) -> Vec<Value> {
        self.control("GET", "requests", None)
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// `METHOD path` of every admin API request, in order.
    pub async fn calls(&self) -> Vec<String> {
        self.requests()
            .await
            .iter()
            .map(|r| {
                format!(
                    "{} {}",
                    r["method"].as_str().unwrap_or_default(),
                    r["path"].as_str().unwrap_or_default()
                )
            })
            .collect()
    }

    /// How many DELETE requests were received.
    pub async fn deletes(&self) -> usize {
        self.calls()
            .await
            .iter()
            .filter(|c| c.starts_with("DELETE "))
            .count()
    }

    /// Files failed deliveries, oldest first: `{"event", "time"?, "id"?}`.
    pub async fn add_failures(&self, failures: Value) {
        self.control("POST", "failures", Some(failures)).await;
    }

    /// The failed deliveries still filed.
    pub async fn failures(&self) -> Vec<Value> {
        self.control("GET", "failures", None)
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Creates an application of `account_id` with these extra fields.
    pub async fn add_application(&self, id: u64, account_id: u64, extra_fields: Value) {
        let spec = json!({"id": id, "account_id": account_id, "extra_fields": extra_fields});
        self.control("POST", "applications", Some(spec)).await;
    }

    /// An application's extra fields as porta now stores them.
    pub async fn extra_fields(&self, id: u64) -> Value {
        self.control("GET", "applications", None)
            .await
            .as_array()
            .and_then(|apps| apps.iter().find(|a| a["id"] == id).cloned())
            .map(|app| app["extra_fields"].clone())
            .unwrap_or(Value::Null)
    }

    /// The webhook XML porta would now send for the application (`action`: updated, …).
    pub async fn application_event(&self, id: u64, action: &str) -> String {
        let url = format!(
            "{}/__stand_in/applications/{id}/event?action={action}",
            self.url
        );
        let response = self.http.get(url).send().await.expect("event call");
        assert!(response.status().is_success());
        response.text().await.expect("event XML")
    }

    async fn control(&self, method: &str, what: &str, body: Option<Value>) -> Value {
        let url = format!("{}/__stand_in/{what}", self.url);
        let request = match method {
            "POST" => self.http.post(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.get(url),
        };
        let request = match body {
            Some(body) => request
                .header("content-type", "application/json")
                .body(body.to_string()),
            None => request,
        };
        let response = request.send().await.expect("stand-in control call");
        assert!(response.status().is_success(), "{}", response.status());
        let bytes = response.bytes().await.expect("control body");
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    }
}

/// The tenant settings `revoker setup` makes: fields definitions and the webhook.
impl Porta {
    /// Replaces the tenant's own fields definitions (the builtins stay): `[{"name",
    /// "target"? (Cinstance), "label"?, "hidden"?, "required"?}]`; `[]` is a fresh tenant.
    pub async fn set_own_fields(&self, fields: Value) {
        self.control("POST", "fields_definitions", Some(fields))
            .await;
    }

    /// Every field definition, as porta stores it.
    pub async fn fields_definitions(&self) -> Vec<Value> {
        self.control("GET", "fields_definitions", None)
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The application field named `name`, if there is one.
    pub async fn application_field(&self, name: &str) -> Option<Value> {
        self.fields_definitions()
            .await
            .into_iter()
            .find(|f| f["target"] == "Cinstance" && f["name"] == name)
    }

    /// Stores webhook settings (absent switches off), or none with `Value::Null`.
    pub async fn set_webhook(&self, settings: Value) {
        self.control("POST", "webhook", Some(settings)).await;
    }

    /// The webhook settings as porta stores them (`updated_at` included), or `Value::Null`.
    pub async fn webhook(&self) -> Value {
        self.control("GET", "webhook", None).await
    }

    /// The webhooks the stand-in sent: `{"event", "path", "status", "body"}`.
    pub async fn deliveries(&self) -> Vec<Value> {
        self.control("GET", "deliveries", None)
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Every live token, values included: `{"id", "value", "name", "scopes", "permission", …}`.
    pub async fn tokens(&self) -> Vec<Value> {
        self.control("GET", "tokens", None)
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Which porta to be: `2.15` (no `expires_at`), `2.16` or `master`.
    pub async fn set_release(&self, release: &str) {
        self.control("POST", "release", Some(json!({"release": release})))
            .await;
    }
}

/// A long-lived token of the same user that no revocation may touch.
pub const LONG_LIVED: &str = "long-lived-admin-token-of-user-1";

impl Drop for Porta {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
