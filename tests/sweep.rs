//! The sweep of 3scale's failed webhook deliveries, and clearing the token field, against the
//! porta stand-in: what an outage leaves behind ends dead, and nothing is deleted unhandled.
// A failed expectation in a test is a failed test, not a panic on the request path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::porta::LONG_LIVED;
use common::*;
use serde_json::{Value, json};

/// The long-lived admin token (id 1 in the stand-in) doubles as the maintenance token.
const MAINTENANCE: &str = LONG_LIVED;

/// Tokens created during the outage, one per application; two start with a digit.
const OUTAGE_TOKENS: [&str; 3] = [
    "b7c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5",
    "3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c",
    "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d",
];

fn xml(name: &str) -> String {
    std::fs::read_to_string(events_dir().join(format!("payloads/{name}.xml"))).expect("payload")
}

/// An `application-created` event for application `id` carrying `token`.
fn created_event(id: u64, token: &str) -> String {
    xml("application-created")
        .replace("<id>1409620384</id>", &format!("<id>{id}</id>"))
        .replace(TOKEN, token)
}

/// A stand-in where the outage tokens are alive and their deliveries are filed as failures,
/// one a minute over seven minutes, with an ignorable update among them.
async fn after_an_outage() -> Porta {
    let porta = Porta::with_fixture_tokens().await;
    for (n, token) in OUTAGE_TOKENS.iter().enumerate() {
        porta.add(json!({"id": 201 + n, "value": token})).await;
    }
    porta
        .add_failures(json!([
            {"time": porta_time(7), "event": created_event(11, OUTAGE_TOKENS[0])},
            {"time": porta_time(6), "event": xml("application-updated")},
            {"time": porta_time(5), "event": created_event(12, OUTAGE_TOKENS[1])},
            {"time": porta_time(3), "event": created_event(13, OUTAGE_TOKENS[2])},
        ]))
        .await;
    porta
}

async fn sweep_with(porta: &Porta, vars: &[(&str, &str)]) -> (Value, Logs) {
    let app = app(porta.url(), Some(WEBHOOK_SECRET), vars);
    let (logs, guard) = Logs::capture();
    let summary = run_sweep(&app).await;
    drop(guard);
    logs.assert_free_of(&[MAINTENANCE, TOKEN, TOKEN_UPDATED]);
    logs.assert_free_of(&OUTAGE_TOKENS);
    (summary, logs)
}

async fn sweep(porta: &Porta) -> (Value, Logs) {
    sweep_with(porta, &[("MAINTENANCE_TOKEN", MAINTENANCE)]).await
}

fn summary_line(logs: &Logs) -> Value {
    logs.lines()
        .into_iter()
        .filter_map(|l| l.get("fields").cloned())
        .find(|f| f["message"] == "sweep summary")
        .expect("one sweep summary line")
}

#[tokio::test]
async fn a_seven_minute_outage_is_swept_and_every_token_ends_dead() {
    let porta = after_an_outage().await;

    let (summary, logs) = sweep(&porta).await;

    assert_eq!(
        summary,
        json!({"seen": 4, "revoked": 3, "already_revoked": 0, "ignored": 1, "unusable": 0,
               "failed": 0, "deleted": 4})
    );
    for token in OUTAGE_TOKENS {
        assert!(!porta.is_alive(token).await, "swept tokens end dead");
    }
    assert_eq!(
        porta.live_ids().await,
        vec![1, 101, 102],
        "nothing else touched"
    );
    assert!(porta.failures().await.is_empty());
    // Each swept delivery is audited as a live one would be, and the sweep sums it up.
    let audit = logs.audit_lines();
    assert_eq!(audit.len(), 4);
    assert!(audit.iter().all(|a| a["source"] == "sweep"));
    assert_eq!(summary_line(&logs)["revoked"], 3);
    // The maintenance token only listed and deleted failures; each token revoked itself.
    let maintenance_calls: Vec<String> = porta
        .requests()
        .await
        .iter()
        .filter(|r| r["path"].as_str().is_some_and(|p| p.contains("/webhooks/")))
        .map(|r| {
            format!(
                "{} {}",
                r["method"].as_str().unwrap_or_default(),
                r["query"].as_str().unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(maintenance_calls.len(), 2, "{maintenance_calls:?}");
    assert!(maintenance_calls[1].starts_with("DELETE time="));

    // A second sweep finds nothing left to do.
    let (summary, _) = sweep(&porta).await;
    assert_eq!(summary["seen"], 0);
}

#[tokio::test]
async fn a_failed_entry_stays_filed_and_the_sweep_goes_on_past_it() {
    let porta = after_an_outage().await;
    // The second token's revocation fails on every attempt of this sweep.
    porta
        .fault(
            json!({"method": "DELETE", "path": format!("/{}\\.json$", OUTAGE_TOKENS[1]),
                       "status": 503, "times": fast_retries().attempts}),
        )
        .await;

    let (summary, logs) = sweep(&porta).await;

    assert_eq!(
        (
            summary["revoked"].as_u64(),
            summary["ignored"].as_u64(),
            summary["failed"].as_u64()
        ),
        (Some(2), Some(1), Some(1))
    );
    assert_eq!(summary["deleted"], 2, "the two handled before the failure");
    assert!(summary.get("stopped").is_none(), "{summary}");
    assert!(summary["oldest_unhandled_age_s"].as_u64() >= Some(5 * 60));
    let left: Vec<Value> = porta.failures().await;
    assert_eq!(
        left.len(),
        2,
        "the failed one, and the one after it that porta cannot delete apart"
    );
    assert!(
        left[0]["event"]
            .as_str()
            .is_some_and(|e| e.contains(OUTAGE_TOKENS[1]))
    );
    assert!(porta.is_alive(OUTAGE_TOKENS[1]).await);
    assert!(
        !porta.is_alive(OUTAGE_TOKENS[2]).await,
        "revoked past the failure"
    );
    assert_eq!(summary_line(&logs)["failed"], 1);

    // The next sweep picks up what is left: the failed one now works, the other is dead.
    let (summary, _) = sweep(&porta).await;
    assert_eq!(
        (
            summary["revoked"].as_u64(),
            summary["already_revoked"].as_u64(),
            summary["deleted"].as_u64()
        ),
        (Some(1), Some(1), Some(2))
    );
    for token in OUTAGE_TOKENS {
        assert!(!porta.is_alive(token).await);
    }
}

#[tokio::test]
async fn a_failure_filed_in_the_last_minute_is_revoked_now_and_deleted_later() {
    let porta = Porta::with_fixture_tokens().await;
    porta
        .add(json!({"id": 201, "value": OUTAGE_TOKENS[0]}))
        .await;
    porta
        .add_failures(
            json!([{"time": porta_time(0), "event": created_event(11, OUTAGE_TOKENS[0])}]),
        )
        .await;
    let (summary, _) = sweep(&porta).await;
    assert_eq!(
        (summary["revoked"].as_u64(), summary["deleted"].as_u64()),
        (Some(1), Some(0))
    );
    assert!(!porta.is_alive(OUTAGE_TOKENS[0]).await);
    assert_eq!(
        porta.failures().await.len(),
        1,
        "held back: a newer one may share its second"
    );
}

#[tokio::test]
async fn without_a_usable_maintenance_token_nothing_is_read_or_deleted() {
    // None configured: the function behaves as before, and says so once per sweep.
    let porta = after_an_outage().await;
    let (summary, logs) = sweep_with(&porta, &[]).await;
    assert_eq!(summary["stopped"], "no maintenance_token");
    assert!(
        logs.text()
            .contains("sweep skipped: the secret has no maintenance_token")
    );
    assert!(porta.requests().await.is_empty());

    // One 3scale does not know, and one whose user is not an admin.
    porta
        .add(json!({"id": 2, "value": "member-token-no-webhooks", "role": "member"}))
        .await;
    for (token, says, stopped) in [
        (
            "unknown-maintenance-token",
            "the maintenance token is refused",
            "the maintenance token is refused: admin_url is not this tenant's admin portal, \
             or the token is dead",
        ),
        (
            "member-token-no-webhooks",
            "it must be an admin",
            "the failures listing failed",
        ),
    ] {
        let (summary, logs) = sweep_with(&porta, &[("MAINTENANCE_TOKEN", token)]).await;
        assert_eq!(summary["stopped"], stopped, "{token}");
        assert!(logs.text().contains(says), "{token}: {}", logs.text());
        logs.assert_free_of(&[token]);
    }
    assert_eq!(porta.failures().await.len(), 4, "nothing deleted");
    for token in OUTAGE_TOKENS {
        assert!(porta.is_alive(token).await);
    }
}

#[tokio::test]
async fn the_token_field_is_cleared_and_the_update_webhook_it_fires_is_ignored() {
    let porta = Porta::with_fixture_tokens().await;
    porta
        .add_application(
            1_409_620_384,
            2_445_583_467_891,
            json!({"environment": "production", "token_value": TOKEN, "token_id": "101"}),
        )
        .await;
    let vars = [
        ("MAINTENANCE_TOKEN", MAINTENANCE),
        ("CLEAR_TOKEN_FIELD", "true"),
    ];
    let app = app(porta.url(), Some(WEBHOOK_SECRET), &vars);
    let (logs, guard) = Logs::capture();

    let (status, body) = deliver(&app, "apigw-http", "application-created").await;

    drop(guard);
    assert_eq!((status, body), (200, json!({"outcome": "revoked"})));
    assert_eq!(
        porta.extra_fields(1_409_620_384).await,
        json!({"environment": "production", "token_value": "", "token_id": ""})
    );
    assert_eq!(logs.audit_lines()[0]["token_field_cleared"], true);
    logs.assert_free_of(&[TOKEN, MAINTENANCE]);

    // The update fires `application`/`updated`, without the emptied fields; it is ignored.
    let updated = porta.application_event(1_409_620_384, "updated").await;
    assert!(!updated.contains("token_value"));
    let request = edited_request("apigw-http", "application-created", |e| {
        set_text_body(e, &updated)
    });
    let (status, body) = read(&app.respond(&request).await);
    assert_eq!((status, body["outcome"].as_str()), (200, Some("ignored")));
}

#[tokio::test]
async fn a_failed_clear_is_logged_and_counted_but_the_answer_stands() {
    // No such application in the admin portal: the PUT gets 404.
    let porta = Porta::with_fixture_tokens().await;
    let vars = [
        ("MAINTENANCE_TOKEN", MAINTENANCE),
        ("CLEAR_TOKEN_FIELD", "true"),
    ];
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let kept = std::sync::Arc::clone(&lines);
    let with_maintenance = app(porta.url(), Some(WEBHOOK_SECRET), &vars).with_metrics(
        access_token_revoker::metrics::MetricsSink::new("t", move |l| {
            kept.lock().expect("lines").push(l.to_owned());
        }),
    );
    let (logs, guard) = Logs::capture();
    let (status, body) = deliver(&with_maintenance, "apigw-rest", "application-created").await;
    drop(guard);
    assert_eq!((status, body), (200, json!({"outcome": "revoked"})));
    assert!(!porta.is_alive(TOKEN).await);
    assert_eq!(logs.audit_lines()[0]["token_field_cleared"], false);
    assert!(logs.text().contains("clearing the token field failed"));
    let emf: Value = serde_json::from_str(&lines.lock().expect("lines")[0]).expect("EMF");
    assert_eq!(emf["FieldClearFailures"], 1);

    // Without a maintenance token, CLEAR_TOKEN_FIELD is refused at start, not on each delivery.
    let refused = access_token_revoker::Settings::from_lookup(|name| match name {
        "THREESCALE_ADMIN_URL" => Some(porta.url().to_owned()),
        "CLEAR_TOKEN_FIELD" => Some("true".to_owned()),
        _ => None,
    });
    assert!(
        refused
            .err()
            .is_some_and(|e| e.to_string().contains("CLEAR_TOKEN_FIELD"))
    );
}

#[tokio::test]
async fn a_permanent_failure_first_never_stalls_the_sweep() {
    let porta = Porta::with_fixture_tokens().await;
    // A read-only token can never revoke itself: token_not_revocable, on every sweep.
    let stuck = "0ddba11c0ffee0ddba11c0ffee0ddba11";
    porta
        .add(json!({"id": 301, "value": stuck, "permission": "ro"}))
        .await;
    for (n, token) in OUTAGE_TOKENS.iter().take(2).enumerate() {
        porta.add(json!({"id": 201 + n, "value": token})).await;
    }
    porta
        .add_failures(json!([
            {"time": porta_time(90), "event": created_event(10, stuck)},
            {"time": porta_time(80), "event": created_event(11, OUTAGE_TOKENS[0])},
            {"time": porta_time(70), "event": created_event(12, OUTAGE_TOKENS[1])},
        ]))
        .await;
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let kept = std::sync::Arc::clone(&lines);
    let app = app(
        porta.url(),
        Some(WEBHOOK_SECRET),
        &[("MAINTENANCE_TOKEN", MAINTENANCE)],
    )
    .with_metrics(access_token_revoker::metrics::MetricsSink::new(
        "t",
        move |l| kept.lock().expect("lines").push(l.to_owned()),
    ));

    for sweep in 1..=2 {
        let summary = run_sweep(&app).await;
        assert_eq!(
            (summary["failed"].as_u64(), summary["deleted"].as_u64()),
            (Some(1), Some(0)),
            "sweep {sweep}: {summary}"
        );
        for token in OUTAGE_TOKENS.iter().take(2) {
            assert!(!porta.is_alive(token).await, "sweep {sweep}");
        }
        assert!(porta.is_alive(stuck).await);
        assert_eq!(
            porta.failures().await.len(),
            3,
            "the failed entry stays filed"
        );
        // 90 minutes old, and counted once per sweep.
        assert!(summary["oldest_unhandled_age_s"].as_u64() >= Some(89 * 60));
        let sweeps: Vec<Value> = lines
            .lock()
            .expect("lines")
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|l| l.get("SweepFailedEntries").is_some())
            .collect();
        assert_eq!(sweeps.len(), sweep);
        let counted: u64 = sweeps
            .iter()
            .filter_map(|l| l["SweepFailedEntries"].as_u64())
            .sum();
        assert_eq!(counted, sweep as u64, "the count goes up");
        assert!(sweeps[sweep - 1]["OldestUnhandledFailureAge"].as_u64() >= Some(89 * 60));
    }
}

#[tokio::test]
async fn a_forged_delivery_naming_another_application_clears_nothing() {
    let porta = Porta::with_fixture_tokens().await;
    let theirs = "7e57ab1e7e57ab1e7e57ab1e7e57ab1e";
    porta.add(json!({"id": 401, "value": theirs})).await;
    porta
        .add_application(
            77,
            2_445_583_467_891,
            json!({"token_value": theirs, "token_id": "401"}),
        )
        .await;
    // No webhook secret, and a body naming application 77 with a token of its own choosing.
    let app = app(
        porta.url(),
        None,
        &[
            ("MAINTENANCE_TOKEN", MAINTENANCE),
            ("CLEAR_TOKEN_FIELD", "true"),
        ],
    );
    let forged = created_event(77, TOKEN);
    let request = edited_request("apigw-http", "application-created", |e| {
        set_text_body(e, &forged)
    });
    let (logs, guard) = Logs::capture();
    let (status, _) = read(&app.respond(&request).await);
    drop(guard);

    assert_eq!(status, 200);
    assert_eq!(
        porta.extra_fields(77).await,
        json!({"token_value": theirs, "token_id": "401"}),
        "another token's value is never wiped"
    );
    assert!(porta.is_alive(theirs).await);
    assert_eq!(logs.audit_lines()[0]["token_field_cleared"], false);
    assert!(logs.text().contains("does not hold this token"));
    logs.assert_free_of(&[TOKEN, theirs, MAINTENANCE]);
    let puts = porta
        .calls()
        .await
        .iter()
        .filter(|c| c.starts_with("PUT "))
        .count();
    assert_eq!(puts, 0, "nothing written");
}
