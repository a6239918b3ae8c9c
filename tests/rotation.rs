//! The maintenance token's rotation through Secrets Manager's protocol: `moto_server` holds the
//! secret (the real SDK, through `AWS_ENDPOINT_URL`), the porta stand-in the tokens. Each test
//! drives the four steps as Secrets Manager does: `RotateSecret` first (it fails on moto, for
//! want of a Lambda, but leaves the empty AWSPENDING version and turns rotation on, as AWS does
//! before it invokes `createSecret`), then each step's event through `invocation::handle_rotating`.
// A failed expectation in a test is a failed test, not a panic on the request path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use access_token_revoker::metrics::MetricsSink;
use access_token_revoker::rotation::{
    RotationToken, SecretDescription, SecretStore, SecretText, SecretsManagerStore, StoreError,
    Version,
};
use access_token_revoker::{AdminApiClient, App, SecretsManagerPortal, invocation};
use aws_sdk_secretsmanager::types::RotationRulesType;
use common::moto::{
    create_secret, get_secret_value_calls, recorded, recorded_calls, secrets_client,
};
use common::*;
use lambda_http::{Context, LambdaEvent};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The maintenance token in the first secret: id 1 of user 1 in the stand-in.
const M0: &str = "c0ffee0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6";
/// Another token of the same admin, which no rotation may touch: id 2.
const OTHER: &str = "d00d0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7";
/// What Secrets Manager may pass for PutSecretValue; never logged.
const ROTATION_TOKEN: &str = "rotation-token-from-secrets-manager";
/// The events/ fixtures carry it, so deliveries pass the secret check.
const WEBHOOK: &str = WEBHOOK_SECRET;
const STEPS: [&str; 4] = ["createSecret", "setSecret", "testSecret", "finishSecret"];
/// Any Lambda ARN moto does not know: RotateSecret then changes the secret and stops.
const NO_SUCH_LAMBDA: &str = "arn:aws:lambda:us-east-1:123456789012:function:not-in-moto";

/// A version id (ClientRequestToken) as Secrets Manager makes them.
fn version(n: u32) -> String {
    format!("{n:08x}-7e57-4000-8000-00000000000{}", n % 10)
}

fn first_secret(admin_url: &str) -> Value {
    json!({
        "admin_url": admin_url,
        "webhook_secret": WEBHOOK,
        "maintenance_token": M0,
        "maintenance_token_id": 1,
        "note": "kept as it is",
        "nested": {"list": [1, 2.5, null, "x"], "flag": true},
    })
}

/// A secret in moto, the stand-in with the maintenance token and another token of its user,
/// and the function configured by the secret's name.
struct Setup {
    client: aws_sdk_secretsmanager::Client,
    porta: Porta,
    name: String,
    arn: String,
    app: App<SecretsManagerPortal, AdminApiClient>,
    store: SecretsManagerStore,
    metrics: Arc<Mutex<Vec<String>>>,
}

async fn setup(name: &str) -> Setup {
    setup_with(name, first_secret).await
}

async fn setup_with(name: &str, secret: impl FnOnce(&str) -> Value) -> Setup {
    let client = secrets_client().await;
    let porta = Porta::start().await;
    porta
        .add(json!({"id": 1, "value": M0, "name": "maintenance"}))
        .await;
    porta
        .add(json!({"id": 2, "value": OTHER, "name": "someone's own"}))
        .await;
    create_secret(&client, name, &secret(porta.url()).to_string()).await;
    let arn = client
        .describe_secret()
        .secret_id(name)
        .send()
        .await
        .expect("DescribeSecret")
        .arn()
        .expect("ARN")
        .to_owned();
    let metrics = Arc::new(Mutex::new(Vec::new()));
    let app = app_for(&client, name, &[], &metrics);
    Setup {
        store: SecretsManagerStore::new(client.clone()),
        client,
        porta,
        name: name.to_owned(),
        arn,
        app,
        metrics,
    }
}

/// The function as deployed: the secret's name in THREESCALE_SECRET_ID, a 300 s cache.
fn app_for(
    client: &aws_sdk_secretsmanager::Client,
    name: &str,
    vars: &[(&str, &str)],
    metrics: &Arc<Mutex<Vec<String>>>,
) -> App<SecretsManagerPortal, AdminApiClient> {
    let mut all = vec![("THREESCALE_SECRET_ID", name)];
    all.extend_from_slice(vars);
    let lines = Arc::clone(metrics);
    App::new(
        settings(&all),
        SecretsManagerPortal::new(client.clone(), name, Duration::from_secs(300)),
        AdminApiClient::new(fast_retries()).expect("HTTP client"),
    )
    .with_metrics(MetricsSink::new("rotation-under-test", move |line| {
        lines.lock().expect("metrics").push(line.to_owned());
    }))
}

fn event(arn: &str, step: &str, version: &str) -> Value {
    json!({
        "Step": step,
        "SecretId": arn,
        "ClientRequestToken": version,
        "RotationToken": ROTATION_TOKEN,
    })
}

impl Setup {
    /// What Secrets Manager does before it invokes createSecret.
    async fn begin(&self, version: &str) {
        let started = self
            .client
            .rotate_secret()
            .secret_id(&self.name)
            .rotation_lambda_arn(NO_SUCH_LAMBDA)
            .rotation_rules(
                RotationRulesType::builder()
                    .automatically_after_days(30)
                    .build(),
            )
            .client_request_token(version)
            .send()
            .await;
        let err = started.expect_err("moto knows no such Lambda");
        assert!(
            err.as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception())
        );
    }

    async fn step_with<S: SecretStore>(
        &self,
        store: &S,
        step: &str,
        version: &str,
    ) -> Result<Value, String> {
        let event = LambdaEvent::new(event(&self.arn, step, version), Context::default());
        invocation::handle_rotating(&self.app, store, event)
            .await
            .map_err(|e| e.to_string())
    }

    async fn step(&self, step: &str, version: &str) -> Result<Value, String> {
        self.step_with(&self.store, step, version).await
    }

    /// A whole rotation, each step answered Ok.
    async fn rotate(&self, version: &str) {
        self.begin(version).await;
        for step in STEPS {
            let done = self.step(step, version).await;
            assert_eq!(
                done.as_ref().map(|d| d["step"].clone()),
                Ok(json!(step)),
                "{step}: {done:?}"
            );
        }
    }

    /// The secret's JSON clients read now.
    async fn current(&self) -> Map<String, Value> {
        let text = self
            .client
            .get_secret_value()
            .secret_id(&self.name)
            .version_stage("AWSCURRENT")
            .send()
            .await
            .expect("GetSecretValue")
            .secret_string()
            .expect("a string")
            .to_owned();
        serde_json::from_str(&text).expect("JSON object")
    }

    async fn stages(&self) -> BTreeMap<String, Vec<String>> {
        let described = self
            .client
            .describe_secret()
            .secret_id(&self.name)
            .send()
            .await
            .expect("DescribeSecret");
        described
            .version_ids_to_stages()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    fn metric_lines(&self) -> Vec<Value> {
        self.metrics
            .lock()
            .expect("metrics")
            .iter()
            .map(|l| serde_json::from_str(l).expect("EMF JSON"))
            .filter(|l: &Value| l.get("RotationFailures").is_some())
            .collect()
    }

    /// PutSecretValue and UpdateSecretVersionStage calls on this secret.
    fn writes(&self) -> usize {
        let ids = [self.name.as_str(), self.arn.as_str()];
        recorded_calls("PutSecretValue", &ids) + recorded_calls("UpdateSecretVersionStage", &ids)
    }

    /// What a refused step must leave as it was: 3scale's tokens, the secret's stages and
    /// value, and no write to the secret.
    async fn snapshot(&self) -> Snapshot {
        Snapshot {
            live_tokens: self.porta.live_ids().await,
            stages: self.stages().await,
            current: self.current().await,
            secret_writes: self.writes(),
        }
    }

    async fn pending_value(&self, version: &str) -> SecretText {
        self.store
            .value(&self.arn, Version::Pending(version))
            .await
            .expect("GetSecretValue")
            .expect("a pending value")
    }
}

#[derive(Debug, PartialEq)]
struct Snapshot {
    live_tokens: Vec<u64>,
    stages: BTreeMap<String, Vec<String>>,
    current: Map<String, Value>,
    secret_writes: usize,
}

fn token_of(secret: &Map<String, Value>) -> (String, u64) {
    (
        secret["maintenance_token"]
            .as_str()
            .expect("token")
            .to_owned(),
        secret["maintenance_token_id"].as_u64().expect("id"),
    )
}

/// Every field but the two rotation writes.
fn others(secret: &Map<String, Value>) -> Map<String, Value> {
    let mut others = secret.clone();
    others.remove("maintenance_token");
    others.remove("maintenance_token_id");
    others
}

fn holder_of(stages: &BTreeMap<String, Vec<String>>, stage: &str) -> Option<String> {
    stages
        .iter()
        .find(|(_, s)| s.iter().any(|s| s == stage))
        .map(|(v, _)| v.clone())
}

#[tokio::test]
async fn a_full_rotation_makes_a_new_token_current_and_the_old_one_dead() {
    let s = setup("rotation/full").await;
    let (logs, guard) = Logs::capture();
    let before = s.current().await;
    let first_version = holder_of(&s.stages().await, "AWSCURRENT").expect("a current version");

    let v1 = version(1);
    s.begin(&v1).await;
    for step in STEPS {
        let started = Instant::now();
        let done = s.step(step, &v1).await.expect("step");
        eprintln!(
            "round trip {step}: {:.1} ms",
            started.elapsed().as_secs_f64() * 1e3
        );
        assert_eq!(done["step"], step);
    }

    let after = s.current().await;
    let (token, id) = token_of(&after);
    assert_ne!(token, M0);
    assert_eq!(
        others(&after),
        others(&before),
        "every other field as it was"
    );
    assert_eq!(
        s.stages().await,
        BTreeMap::from([
            (first_version, vec!["AWSPREVIOUS".to_owned()]),
            (v1.clone(), vec!["AWSCURRENT".to_owned()]),
        ])
    );
    assert!(!s.porta.is_alive(M0).await, "the old token is dead");
    assert!(s.porta.is_alive(&token).await);
    assert!(
        s.porta.is_alive(OTHER).await,
        "the user's other token is untouched"
    );
    let created = s
        .porta
        .tokens()
        .await
        .into_iter()
        .find(|t| t["id"] == id)
        .expect("the new token");
    let name = created["name"].as_str().expect("name");
    assert!(
        name.starts_with("access-token-revoker maintenance token") && name.contains(&v1),
        "{name}"
    );
    assert_eq!(created["scopes"], json!(["account_management"]));
    assert_eq!(created["permission"], "rw");
    let expires: jiff::Timestamp = created["expires_at"]
        .as_str()
        .expect("expires_at")
        .parse()
        .expect("time");
    let days = expires.duration_since(jiff::Timestamp::now()).as_secs_f64() / 86_400.0;
    assert!(
        (89.0..=90.0).contains(&days),
        "three rotations of 30 days: {days}"
    );
    // Secrets Manager's RotationToken went on to PutSecretValue.
    assert_eq!(recorded_calls("PutSecretValue", &[&s.arn]), 1);

    // The sweep now works with the new token.
    porta_failure(&s.porta, 501, "b7c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5", 5).await;
    let summary = run_sweep(&s.app).await;
    assert_eq!(
        (summary["revoked"].as_u64(), summary["deleted"].as_u64()),
        (Some(1), Some(1))
    );

    drop(guard);
    let lines = s.metric_lines();
    assert_eq!(lines.len(), 4, "one metric line per step");
    for line in &lines {
        assert_eq!(
            (
                line["RotationFailures"].as_u64(),
                line["RotationCleanupFailures"].as_u64()
            ),
            (Some(0), Some(0))
        );
    }
    let steps: Vec<Value> = logs
        .lines()
        .into_iter()
        .filter_map(|l| l.get("fields").cloned())
        .filter(|f| f["message"] == "rotation step")
        .collect();
    assert_eq!(steps.len(), 4);
    logs.assert_free_of(&[M0, &token, OTHER, ROTATION_TOKEN, WEBHOOK]);
}

/// A live token of user 1 and its failed `application/created` delivery, filed `minutes_ago`.
async fn porta_failure(porta: &Porta, id: u64, token: &str, minutes_ago: i64) {
    porta.add(json!({"id": id, "value": token})).await;
    let event = std::fs::read_to_string(events_dir().join("payloads/application-created.xml"))
        .expect("payload")
        .replace(TOKEN, token);
    porta
        .add_failures(json!([{"time": porta_time(minutes_ago), "event": event}]))
        .await;
}

#[tokio::test]
async fn the_rotation_token_reaches_put_secret_value() {
    let s = setup("rotation/rotation-token").await;
    let v1 = version(1);
    s.begin(&v1).await;
    s.step("createSecret", &v1).await.expect("created");
    let puts: Vec<Value> = recorded("PutSecretValue")
        .into_iter()
        .filter(|b| b["SecretId"] == s.arn.as_str())
        .collect();
    assert_eq!(puts.len(), 1);
    assert_eq!(puts[0]["RotationToken"], ROTATION_TOKEN);
    assert_eq!(puts[0]["ClientRequestToken"], v1.as_str());
    assert_eq!(puts[0]["VersionStages"], json!(["AWSPENDING"]));
}

#[tokio::test]
async fn each_step_delivered_twice_changes_nothing_the_second_time() {
    let s = setup("rotation/twice").await;
    let (logs, guard) = Logs::capture();
    let v1 = version(1);
    s.begin(&v1).await;

    let outcomes = |done: Result<Value, String>| done.expect("step")["outcome"].clone();
    assert_eq!(outcomes(s.step("createSecret", &v1).await), "created");
    let first = s.pending_value(&v1).await;
    let calls = s.porta.calls().await.len();
    assert_eq!(
        outcomes(s.step("createSecret", &v1).await),
        "already_created"
    );
    assert_eq!(
        s.pending_value(&v1).await,
        first,
        "the pending value is the same"
    );
    assert_eq!(
        s.porta.calls().await.len(),
        calls,
        "3scale is not asked again"
    );
    assert_eq!(s.writes(), 1, "one PutSecretValue");
    let creates = |calls: Vec<String>| calls.iter().filter(|c| c.starts_with("POST ")).count();
    assert_eq!(creates(s.porta.calls().await), 1, "one token created");

    for step in ["setSecret", "testSecret"] {
        for _ in 0..2 {
            assert_eq!(
                s.step(step, &v1).await.map(|d| d["step"].clone()),
                Ok(json!(step))
            );
        }
    }
    let live = s.porta.live_ids().await;
    assert_eq!(live.len(), 3, "M0, OTHER and the new token: {live:?}");

    assert_eq!(outcomes(s.step("finishSecret", &v1).await), "finished");
    let stages = s.stages().await;
    let current = s.current().await;
    let live = s.porta.live_ids().await;
    let calls = s.porta.calls().await.len();
    let writes = s.writes();
    assert_eq!(writes, 3, "one put and two stage moves");
    // Each step again, after the rotation: the version is AWSCURRENT, nothing is done.
    for step in STEPS {
        assert_eq!(
            outcomes(s.step(step, &v1).await),
            "already_current",
            "{step}"
        );
    }
    assert_eq!(s.stages().await, stages);
    assert_eq!(s.current().await, current);
    assert_eq!(s.porta.live_ids().await, live);
    assert_eq!(s.porta.calls().await.len(), calls, "3scale is not called");
    assert_eq!(s.writes(), writes);
    drop(guard);
    logs.assert_free_of(&[M0, &token_of(&current).0, ROTATION_TOKEN]);
}

/// A store whose PutSecretValue fails once, as a throttled or interrupted call would.
struct FailingPut<'a> {
    inner: &'a SecretsManagerStore,
    fail: AtomicBool,
}

impl SecretStore for FailingPut<'_> {
    async fn describe(&self, secret_id: &str) -> Result<SecretDescription, StoreError> {
        self.inner.describe(secret_id).await
    }

    async fn value(
        &self,
        secret_id: &str,
        version: Version<'_>,
    ) -> Result<Option<SecretText>, StoreError> {
        self.inner.value(secret_id, version).await
    }

    async fn put_pending(
        &self,
        secret_id: &str,
        version_id: &str,
        rotation_token: Option<&RotationToken>,
        value: &SecretText,
    ) -> Result<(), StoreError> {
        if self.fail.swap(false, Ordering::SeqCst) {
            return Err(StoreError {
                operation: "PutSecretValue",
                code: "InternalServiceError".to_owned(),
            });
        }
        self.inner
            .put_pending(secret_id, version_id, rotation_token, value)
            .await
    }

    async fn update_stage(
        &self,
        secret_id: &str,
        stage: &str,
        move_to: Option<&str>,
        remove_from: Option<&str>,
    ) -> Result<(), StoreError> {
        self.inner
            .update_stage(secret_id, stage, move_to, remove_from)
            .await
    }
}

#[tokio::test]
async fn a_failed_put_deletes_the_token_it_would_have_stored() {
    let s = setup("rotation/failed-put").await;
    let (logs, guard) = Logs::capture();
    let v1 = version(1);
    s.begin(&v1).await;
    let failing = FailingPut {
        inner: &s.store,
        fail: AtomicBool::new(true),
    };

    let err = s
        .step_with(&failing, "createSecret", &v1)
        .await
        .expect_err("the put failed");
    assert!(
        err.contains("PutSecretValue failed: InternalServiceError"),
        "{err}"
    );
    assert!(err.contains("was deleted again"), "{err}");
    assert_eq!(s.porta.live_ids().await, vec![1, 2], "the orphan is gone");
    assert_eq!(s.store.value(&s.arn, Version::Pending(&v1)).await, Ok(None));
    let line = s.metric_lines().pop().expect("a metric line");
    assert_eq!(
        (
            line["RotationFailures"].as_u64(),
            line["RotationCleanupFailures"].as_u64()
        ),
        (Some(1), Some(0))
    );

    // Secrets Manager retries: the step now succeeds, with one new token.
    let done = s
        .step_with(&failing, "createSecret", &v1)
        .await
        .expect("created");
    assert_eq!(done["outcome"], "created");
    assert_eq!(s.porta.live_ids().await.len(), 3);
    drop(guard);
    logs.assert_free_of(&[M0, ROTATION_TOKEN]);
    for token in s.porta.tokens().await {
        logs.assert_free_of(&[token["value"].as_str().expect("value")]);
    }
}

#[tokio::test]
async fn a_token_left_by_a_lost_create_answer_is_deleted_before_a_new_one_is_made() {
    let s = setup("rotation/lost-answer").await;
    let v1 = version(1);
    s.begin(&v1).await;
    // porta creates the token, but its answer never arrives: the value is lost.
    s.porta
        .fault(json!({"method": "POST", "path": "access_tokens\\.json$", "status": 502, "after": true}))
        .await;
    let err = s.step("createSecret", &v1).await.expect_err("no answer");
    assert!(err.contains("creating the new maintenance token"), "{err}");
    let leftover: Vec<Value> = s
        .porta
        .tokens()
        .await
        .into_iter()
        .filter(|t| t["name"].as_str().is_some_and(|n| n.contains(&v1)))
        .collect();
    assert_eq!(
        leftover.len(),
        1,
        "porta holds a token nobody knows the value of"
    );

    s.step("createSecret", &v1).await.expect("created");
    let named: Vec<Value> = s
        .porta
        .tokens()
        .await
        .into_iter()
        .filter(|t| t["name"].as_str().is_some_and(|n| n.contains(&v1)))
        .collect();
    assert_eq!(named.len(), 1, "one token of this rotation");
    assert_ne!(
        named[0]["id"], leftover[0]["id"],
        "the leftover was deleted"
    );
    let pending: Map<String, Value> =
        serde_json::from_str(s.pending_value(&v1).await.expose()).expect("JSON");
    assert_eq!(pending["maintenance_token_id"], named[0]["id"]);
}

#[tokio::test]
async fn a_failed_delete_of_the_old_token_is_counted_and_the_next_rotation_deletes_it() {
    let s = setup("rotation/failed-cleanup").await;
    let (logs, guard) = Logs::capture();
    s.rotate(&version(1)).await;
    let (a, a_id) = token_of(&s.current().await);

    let v2 = version(2);
    s.begin(&v2).await;
    for step in ["createSecret", "setSecret", "testSecret"] {
        s.step(step, &v2).await.expect(step);
    }
    // 3scale fails every delete of A: its own revocation and the stale-token cleanup.
    s.porta
        .fault(json!({"method": "DELETE", "path": format!("/access_tokens/{a_id}\\.json$"), "status": 500, "times": null}))
        .await;
    let done = s
        .step("finishSecret", &v2)
        .await
        .expect("the rotation is not undone");
    assert_eq!(
        (done["outcome"].as_str(), done["cleanup_failed"].as_bool()),
        (Some("finished"), Some(true))
    );
    let line = s.metric_lines().pop().expect("a metric line");
    assert_eq!(
        (
            line["RotationFailures"].as_u64(),
            line["RotationCleanupFailures"].as_u64()
        ),
        (Some(0), Some(1))
    );
    let (b, _) = token_of(&s.current().await);
    assert_ne!(a, b);
    assert_eq!(holder_of(&s.stages().await, "AWSCURRENT"), Some(v2.clone()));
    assert!(s.porta.is_alive(&a).await, "A survived the failed cleanup");
    assert!(
        logs.text()
            .contains("the previous maintenance token may be alive")
    );

    s.porta.clear_faults().await;
    s.rotate(&version(3)).await;
    let (c, _) = token_of(&s.current().await);
    assert!(!s.porta.is_alive(&a).await, "the next rotation deleted A");
    assert!(!s.porta.is_alive(&b).await, "and its own previous token");
    assert!(s.porta.is_alive(&c).await);
    assert!(s.porta.is_alive(OTHER).await);
    assert_eq!(s.porta.live_ids().await.len(), 2, "OTHER and C");
    let line = s.metric_lines().pop().expect("a metric line");
    assert_eq!(line["RotationCleanupFailures"], 0);
    drop(guard);
    logs.assert_free_of(&[M0, &a, &b, &c, OTHER, ROTATION_TOKEN]);
}

#[tokio::test]
async fn a_sweep_with_the_old_secret_cached_right_after_finish_reads_it_again_and_succeeds() {
    let s = setup("rotation/stale-sweep").await;
    // The webhook-facing instance read the secret before the rotation: M0, cached for 300 s.
    let summary = run_sweep(&s.app).await;
    assert_eq!(summary["seen"], 0);
    assert_eq!(get_secret_value_calls(&s.name), 1);

    s.rotate(&version(1)).await;
    assert!(!s.porta.is_alive(M0).await);
    porta_failure(&s.porta, 501, "b7c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5", 5).await;
    let (logs, guard) = Logs::capture();
    let summary = run_sweep(&s.app).await;
    drop(guard);

    assert_eq!(
        (
            summary["revoked"].as_u64(),
            summary["deleted"].as_u64(),
            summary.get("stopped")
        ),
        (Some(1), Some(1), None),
        "{summary}"
    );
    assert!(s.porta.failures().await.is_empty());
    assert_eq!(
        get_secret_value_calls(&s.name),
        2,
        "read again once, on the refusal"
    );
    assert!(logs.text().contains("the secret now holds another"));
    logs.assert_free_of(&[M0, &token_of(&s.current().await).0]);
}

#[tokio::test]
async fn a_field_clear_with_the_old_secret_cached_reads_it_again_and_succeeds() {
    let s = setup("rotation/stale-clear").await;
    s.porta.add(json!({"id": 101, "value": TOKEN})).await;
    s.porta
        .add_application(
            1_409_620_384,
            2_445_583_467_891,
            json!({"token_value": TOKEN, "token_id": "101"}),
        )
        .await;
    let metrics = Arc::new(Mutex::new(Vec::new()));
    let app = app_for(
        &s.client,
        &s.name,
        &[("CLEAR_TOKEN_FIELD", "true")],
        &metrics,
    );
    // A Ping reads the secret: M0 is cached.
    assert_eq!(
        deliver(&app, "apigw-http", "ping").await.1["outcome"],
        "pong"
    );

    s.rotate(&version(1)).await;
    let (logs, guard) = Logs::capture();
    let (status, body) = deliver(&app, "apigw-http", "application-created").await;
    drop(guard);
    assert_eq!((status, body), (200, json!({"outcome": "revoked"})));
    assert_eq!(logs.audit_lines()[0]["token_field_cleared"], true);
    assert_eq!(
        s.porta.extra_fields(1_409_620_384).await,
        json!({"token_value": "", "token_id": ""})
    );
    logs.assert_free_of(&[M0, TOKEN, &token_of(&s.current().await).0]);
}

#[tokio::test]
async fn the_first_secret_without_an_id_rotates_and_its_token_is_deleted_by_value() {
    let s = setup_with("rotation/bootstrap", |url| {
        let mut secret = first_secret(url);
        without_id(&mut secret);
        secret
    })
    .await;
    let (logs, guard) = Logs::capture();
    s.rotate(&version(1)).await;
    let (token, id) = token_of(&s.current().await);
    assert!(
        !s.porta.is_alive(M0).await,
        "deleted by value, verified refused"
    );
    assert!(s.porta.is_alive(OTHER).await);
    let deleted_by_value = s
        .porta
        .calls()
        .await
        .iter()
        .any(|c| c.starts_with("DELETE ") && c.ends_with(&format!("/access_tokens/{M0}.json")));
    assert!(deleted_by_value);

    // The next rotation knows the id.
    s.rotate(&version(2)).await;
    assert!(!s.porta.is_alive(&token).await);
    assert!(
        s.porta
            .calls()
            .await
            .iter()
            .any(|c| c == &format!("DELETE /admin/api/personal/access_tokens/{id}.json"))
    );
    drop(guard);
    logs.assert_free_of(&[M0, &token, OTHER]);
}

#[tokio::test]
async fn before_3scale_2_16_the_dropped_expiry_is_logged_and_the_rotation_goes_on() {
    let s = setup("rotation/release-2-15").await;
    s.porta.set_release("2.15").await;
    let (logs, guard) = Logs::capture();
    s.rotate(&version(1)).await;
    drop(guard);
    let (token, id) = token_of(&s.current().await);
    let created = s
        .porta
        .tokens()
        .await
        .into_iter()
        .find(|t| t["id"] == id)
        .expect("token");
    assert_eq!(created["expires_at"], Value::Null);
    assert!(logs.text().contains("3scale dropped expires_at"));
    assert!(!s.porta.is_alive(M0).await);
    logs.assert_free_of(&[M0, &token]);
}

/// A secret made from the first one by `edit`, and its rotation to version 1 begun.
async fn begun_with(name: &str, edit: impl FnOnce(&mut Value)) -> (Setup, String) {
    let s = setup_with(name, |url| {
        let mut secret = first_secret(url);
        edit(&mut secret);
        secret
    })
    .await;
    let v1 = version(1);
    s.begin(&v1).await;
    (s, v1)
}

fn without_id(secret: &mut Value) {
    secret
        .as_object_mut()
        .expect("object")
        .remove("maintenance_token_id");
}

/// A store that refuses everything as the webhook-facing function's role does.
struct Denied;

impl SecretStore for Denied {
    async fn describe(&self, _: &str) -> Result<SecretDescription, StoreError> {
        Err(denied("DescribeSecret"))
    }
    async fn value(&self, _: &str, _: Version<'_>) -> Result<Option<SecretText>, StoreError> {
        Err(denied("GetSecretValue"))
    }
    async fn put_pending(
        &self,
        _: &str,
        _: &str,
        _: Option<&RotationToken>,
        _: &SecretText,
    ) -> Result<(), StoreError> {
        Err(denied("PutSecretValue"))
    }
    async fn update_stage(
        &self,
        _: &str,
        _: &str,
        _: Option<&str>,
        _: Option<&str>,
    ) -> Result<(), StoreError> {
        Err(denied("UpdateSecretVersionStage"))
    }
}

fn denied(operation: &'static str) -> StoreError {
    StoreError {
        operation,
        code: "AccessDeniedException".to_owned(),
    }
}

/// Runs `step` for `version` and checks it failed with `expected` in its message, leaving the
/// tokens, the secret and 3scale as they were.
async fn refused(s: &Setup, step: &str, version: &str, expected: &str) {
    refused_event(s, event(&s.arn, step, version), expected).await;
}

async fn refused_event(s: &Setup, event: Value, expected: &str) {
    let before = s.snapshot().await;
    let (logs, guard) = Logs::capture();
    let err = invocation::handle_rotating(
        &s.app,
        &s.store,
        LambdaEvent::new(event.clone(), Context::default()),
    )
    .await
    .expect_err("refused");
    drop(guard);
    let err = err.to_string();
    assert!(err.contains(expected), "{event}: {err}");
    assert_eq!(
        s.snapshot().await,
        before,
        "{event}: nothing created, moved or deleted"
    );
    assert!(!err.contains(&s.arn) && !err.contains(&s.name), "{err}");
    let line = s.metric_lines().pop().expect("a metric line");
    assert_eq!(line["RotationFailures"], 1);
    assert!(logs.text().contains("rotation step failed"));
    logs.assert_free_of(&[M0, OTHER, ROTATION_TOKEN, WEBHOOK]);
}

#[tokio::test]
async fn a_malformed_event_or_another_secret_is_refused_and_nothing_changes() {
    let s = setup("rotation/bad-events").await;
    let v1 = version(1);
    s.begin(&v1).await;
    let other = "rotation/bad-events-other";
    create_secret(&s.client, other, &first_secret(s.porta.url()).to_string()).await;
    let other_arn = s
        .client
        .describe_secret()
        .secret_id(other)
        .send()
        .await
        .expect("describe")
        .arn()
        .expect("arn")
        .to_owned();

    refused_event(&s, event(&other_arn, "createSecret", &v1), "another secret").await;
    refused_event(&s, event(other, "createSecret", &v1), "another secret").await;
    refused(&s, "rotateSecret", &v1, "unknown rotation Step").await;
    refused_event(
        &s,
        json!({"Step": "createSecret", "SecretId": s.arn}),
        "has no ClientRequestToken",
    )
    .await;
    refused_event(
        &s,
        json!({"Step": "createSecret", "ClientRequestToken": v1}),
        "has no SecretId",
    )
    .await;
    refused_event(
        &s,
        json!({"SecretId": s.arn, "ClientRequestToken": v1}),
        "has no Step",
    )
    .await;
    refused_event(
        &s,
        json!({"Step": ["createSecret"], "SecretId": s.arn, "ClientRequestToken": v1}),
        "not all strings",
    )
    .await;
    refused(
        &s,
        "createSecret",
        &version(9),
        "not a version of the secret",
    )
    .await;
    // The AWSCURRENT version's step already ran: nothing is done, and it is no failure.
    let current = holder_of(&s.stages().await, "AWSCURRENT").expect("current");
    let done = s
        .step("createSecret", &current)
        .await
        .expect("early return");
    assert_eq!(done["outcome"], "already_current");
    assert_eq!(
        recorded_calls("GetSecretValue", &[other, &other_arn]),
        0,
        "the other secret is not read"
    );
}

#[tokio::test]
async fn a_rotation_of_a_secret_not_enabled_for_rotation_is_refused() {
    let s = setup("rotation/not-enabled").await;
    let current = holder_of(&s.stages().await, "AWSCURRENT").expect("current");
    refused(&s, "createSecret", &current, "rotation is not enabled").await;
}

#[tokio::test]
async fn the_webhook_facing_function_cannot_rotate_and_touches_nothing() {
    let s = setup("rotation/denied").await;
    let v1 = version(1);
    s.begin(&v1).await;
    let before = s.snapshot().await;
    let (logs, guard) = Logs::capture();
    for step in STEPS {
        let err = s.step_with(&Denied, step, &v1).await.expect_err("denied");
        assert!(
            err.contains("denied DescribeSecret to this function's role"),
            "{err}"
        );
        assert!(
            err.contains("only the rotation function may rotate"),
            "{err}"
        );
    }
    drop(guard);
    assert_eq!(s.snapshot().await, before);
    assert!(s.porta.calls().await.is_empty(), "3scale is not called");
    logs.assert_free_of(&[M0, ROTATION_TOKEN]);

    // A function configured without Secrets Manager has no secret to rotate.
    let local = app(s.porta.url(), Some(WEBHOOK), &[("MAINTENANCE_TOKEN", M0)]);
    let err = invocation::handle(
        &local,
        LambdaEvent::new(event(&s.arn, "createSecret", &v1), Context::default()),
    )
    .await
    .expect_err("no secret to rotate")
    .to_string();
    assert!(err.contains("no secret to rotate"), "{err}");
    assert_eq!(s.snapshot().await, before);
}

#[tokio::test]
async fn a_secret_without_a_maintenance_token_has_nothing_to_rotate() {
    let (s, v1) = begun_with("rotation/no-token", |secret| {
        secret
            .as_object_mut()
            .expect("object")
            .remove("maintenance_token");
    })
    .await;
    refused(&s, "createSecret", &v1, "has no maintenance_token").await;
}

#[tokio::test]
async fn a_current_token_3scale_refuses_creates_nothing() {
    let (s, v1) = begun_with("rotation/dead-token", |secret| {
        secret["maintenance_token"] = json!("deadbeef0a1b2c3d4e5f60718293a4b5");
    })
    .await;
    for step in ["createSecret", "setSecret"] {
        refused(
            &s,
            step,
            &v1,
            "3scale refuses the current maintenance_token",
        )
        .await;
    }
}

#[tokio::test]
async fn a_create_answered_403_or_422_creates_nothing() {
    let (s, v1) = begun_with("rotation/create-refused", |_| {}).await;
    for (status, body, expected) in [
        (
            403,
            json!({"error": "Access denied"}),
            "3scale refuses the current maintenance_token",
        ),
        (
            403,
            json!({"error": "Your access token does not have the correct permissions"}),
            "lacks the Account Management API scope or Read & Write",
        ),
        (
            422,
            json!({"errors": {"expires_at": ["Date must follow ISO8601 format and be future"]}}),
            "invalid (fields: expires_at)",
        ),
    ] {
        s.porta
            .fault(json!({"method": "POST", "path": "access_tokens\\.json$", "status": status, "body": body}))
            .await;
        refused(&s, "createSecret", &v1, expected).await;
    }
}

#[tokio::test]
async fn a_maintenance_token_id_that_is_not_the_tokens_creates_nothing() {
    let (s, v1) = begun_with("rotation/wrong-id", |secret| {
        secret["maintenance_token_id"] = json!(99);
    })
    .await;
    let expected = "maintenance_token_id is not the id of any token";
    refused(&s, "createSecret", &v1, expected).await;
}

#[tokio::test]
async fn a_read_only_maintenance_token_creates_nothing() {
    const READ_ONLY: &str = "e0e0e0e00a1b2c3d4e5f60718293a4b5";
    let (s, v1) = begun_with("rotation/read-only", |secret| {
        secret["maintenance_token"] = json!(READ_ONLY);
        secret["maintenance_token_id"] = json!(3);
    })
    .await;
    let read_only = json!({"id": 3, "value": READ_ONLY, "permission": "ro"});
    s.porta.add(read_only).await;
    let expected = "lacks Account Management API, Read & Write";
    refused(&s, "createSecret", &v1, expected).await;
}

#[tokio::test]
async fn a_first_secret_whose_token_reads_as_another_tokens_id_is_refused() {
    // 3scale reads "2…" as id 2 first: deleting this token by value would delete OTHER.
    const CLASHING: &str = "2c0ffee0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c";
    let (s, v1) = begun_with("rotation/bootstrap-clash", |secret| {
        secret["maintenance_token"] = json!(CLASHING);
        without_id(secret);
    })
    .await;
    s.porta.add(json!({"id": 7, "value": CLASHING})).await;
    refused(&s, "createSecret", &v1, "add \"maintenance_token_id\"").await;
}

#[tokio::test]
async fn a_ping_with_the_old_secret_cached_reads_it_again_and_pongs() {
    let s = setup("rotation/stale-ping").await;
    assert_eq!(
        deliver(&s.app, "apigw-rest", "ping").await,
        (200, json!({"outcome": "pong"}))
    );
    s.rotate(&version(1)).await;
    let (logs, guard) = Logs::capture();
    let answer = deliver(&s.app, "apigw-rest", "ping").await;
    drop(guard);
    assert_eq!(
        answer,
        (200, json!({"outcome": "pong"})),
        "not admin_url_not_tenant_admin"
    );
    assert_eq!(get_secret_value_calls(&s.name), 2);
    logs.assert_free_of(&[M0, &token_of(&s.current().await).0]);
}
