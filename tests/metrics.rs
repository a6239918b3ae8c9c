//! Embedded Metric Format lines: one per decision, valid by the EMF specification, and free of
//! tokens, secrets and application data.
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>
// A failed expectation in a test is a failed test, not a panic on the request path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use access_token_revoker::metrics::{MetricsSink, NAMESPACE};
use common::*;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// A sink that keeps every line it is given.
fn capture() -> (MetricsSink, Arc<Mutex<Vec<String>>>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&lines);
    let sink = MetricsSink::new("revoker-under-test", move |line| {
        kept.lock().expect("lines").push(line.to_owned());
    });
    (sink, lines)
}

/// Checks one line against the specification's required fields; returns it parsed.
fn assert_valid_emf(line: &str) -> Value {
    let root: Value = serde_json::from_str(line).expect("an EMF line is one JSON object");
    let aws = &root["_aws"];
    assert!(
        aws["Timestamp"]
            .as_u64()
            .is_some_and(|t| t > 1_600_000_000_000),
        "ms since epoch"
    );
    let directives = aws["CloudWatchMetrics"]
        .as_array()
        .expect("CloudWatchMetrics array");
    assert!(!directives.is_empty());
    for directive in directives {
        assert!(
            directive["Namespace"]
                .as_str()
                .is_some_and(|n| !n.is_empty())
        );
        let dimension_sets = directive["Dimensions"].as_array().expect("Dimensions");
        for set in dimension_sets {
            let set = set.as_array().expect("a dimension set is an array");
            assert!(!set.is_empty() && set.len() <= 30);
            for name in set {
                let name = name.as_str().expect("dimension names are strings");
                // Every dimension is a top-level string member.
                assert!(root[name].is_string(), "dimension {name} is a member");
            }
        }
        let metrics = directive["Metrics"].as_array().expect("Metrics");
        assert!(!metrics.is_empty() && metrics.len() <= 100);
        for metric in metrics {
            let name = metric["Name"].as_str().expect("metric Name");
            assert!(root[name].is_number(), "metric {name} is a numeric member");
            if let Some(unit) = metric.get("Unit") {
                assert!(["Count", "Milliseconds"].contains(&unit.as_str().unwrap_or_default()));
            }
        }
    }
    root
}

/// Every line kept so far, each checked by [`assert_valid_emf`].
fn all_valid_emf(lines: &Mutex<Vec<String>>) -> Vec<Value> {
    lines
        .lock()
        .expect("lines")
        .iter()
        .map(|l| assert_valid_emf(l))
        .collect()
}

fn metric_names(line: &Value) -> Vec<String> {
    line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["Name"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn each_decision_writes_one_valid_emf_line() {
    let porta = Porta::with_fixture_tokens().await;
    let (sink, lines) = capture();
    let app = app(porta.url(), Some(WEBHOOK_SECRET), &[]).with_metrics(sink);
    for name in [
        "application-created",
        "application-created",
        "user-created",
        "ping",
    ] {
        deliver(&app, "apigw-http", name).await;
    }
    let lines = lines.lock().expect("lines").clone();
    assert_eq!(lines.len(), 4, "one line per decision");
    let parsed: Vec<Value> = lines.iter().map(|l| assert_valid_emf(l)).collect();
    let outcomes: Vec<&str> = parsed
        .iter()
        .filter_map(|l| l["Outcome"].as_str())
        .collect();
    assert_eq!(outcomes, ["revoked", "already_revoked", "ignored", "pong"]);
    for line in &parsed {
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["FunctionName"], ["FunctionName", "Outcome"]])
        );
        assert_eq!(line["FunctionName"], "revoker-under-test");
        assert_eq!(line["Decisions"], 1);
        assert_eq!(line["FailedRevocations"], 0);
        assert_eq!(line["level"], "INFO");
    }
    // Latency only where the admin API was called.
    assert!(metric_names(&parsed[0]).contains(&"AdminApiLatency".to_owned()));
    assert!(parsed[0]["AdminApiLatency"].is_u64());
    assert!(!metric_names(&parsed[2]).contains(&"AdminApiLatency".to_owned()));
    assert!(parsed[2].get("AdminApiLatency").is_none());
    for line in &lines {
        for secret in [TOKEN, WEBHOOK_SECRET, "1409620384", "2445583467891"] {
            assert!(
                !line.contains(secret),
                "no token, secret or application data: {line}"
            );
        }
    }
}

#[tokio::test]
async fn every_5xx_delivery_counts_as_a_failed_revocation_and_a_failed_ping_does_not() {
    let porta = Porta::with_fixture_tokens().await;
    porta.fault(json!({"status": 503, "times": null})).await;
    let (sink, lines) = capture();
    let app = app(porta.url(), Some(WEBHOOK_SECRET), &[]).with_metrics(sink);
    let (status, _) = deliver(&app, "apigw-rest", "application-created").await;
    assert_eq!(status, 502);
    let (status, _) = read(
        &app.respond(&edited_request("apigw-rest", "ping", |e| {
            set_query(e, &[("secret", "wrong")])
        }))
        .await,
    );
    assert_eq!(status, 401);
    let parsed = all_valid_emf(&lines);
    assert_eq!(parsed[0]["Outcome"], "admin_api_unavailable");
    assert_eq!(parsed[0]["FailedRevocations"], 1);
    assert_eq!(parsed[1]["Outcome"], "unauthorized");
    assert_eq!(
        parsed[1]["FailedRevocations"], 0,
        "a 4xx is the caller's, not a revocation's"
    );
    assert_eq!(parsed.len(), 2);

    let (status, _) = deliver(&app, "apigw-rest", "ping").await;
    assert_eq!(status, 502);
    let ping = assert_valid_emf(lines.lock().expect("lines").last().expect("a line"));
    assert_eq!(ping["Outcome"], "admin_api_unreachable");
    assert_eq!(
        ping["FailedRevocations"], 0,
        "Ping revokes nothing; its 502 is counted by outcome only"
    );
}

#[tokio::test]
async fn each_sweep_writes_one_emf_line_and_a_sweep_that_cannot_work_counts_as_failed() {
    let porta = Porta::with_fixture_tokens().await;
    let event = std::fs::read_to_string(events_dir().join("payloads/application-created.xml"))
        .expect("payload");
    porta
        .add_failures(json!([{"time": porta_time(7), "event": event}]))
        .await;
    let mut seen = Vec::new();
    for (maintenance, failed) in [
        (None, 1),
        (Some("a-token-3scale-does-not-know"), 1),
        (Some(common::porta::LONG_LIVED), 0),
    ] {
        let (sink, lines) = capture();
        let vars: Vec<(&str, &str)> = maintenance
            .map(|t| ("MAINTENANCE_TOKEN", t))
            .into_iter()
            .collect();
        let app = app(porta.url(), Some(WEBHOOK_SECRET), &vars).with_metrics(sink);
        run_sweep(&app).await;
        let lines = lines.lock().expect("lines").clone();
        let sweep: Vec<Value> = lines
            .iter()
            .map(|l| assert_valid_emf(l))
            .filter(|l| l.get("SweepFailures").is_some())
            .collect();
        assert_eq!(sweep.len(), 1, "one sweep line: {lines:?}");
        assert_eq!(sweep[0]["SweepFailures"], failed, "{maintenance:?}");
        assert_eq!(
            sweep[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["FunctionName"]])
        );
        for line in &lines {
            assert!(!line.contains(common::porta::LONG_LIVED) && !line.contains(TOKEN));
        }
        seen.push(lines.len());
    }
    // The working sweep also wrote the revocation's own decision line.
    assert_eq!(seen, [1, 1, 2]);
    assert!(!porta.is_alive(TOKEN).await);
}

#[tokio::test]
async fn a_tls_failure_counts_as_a_failed_revocation_and_a_failed_tls_ping_does_not() {
    let ca = common::certs::TestCa::new("Acme Corporate Root CA");
    let server = ca.loopback();
    let porta = Porta::tls_with_fixture_tokens(&server).await;
    let (sink, lines) = capture();
    // No CA given: the certificate is not trusted.
    let app = app(porta.url(), Some(WEBHOOK_SECRET), &[]).with_metrics(sink);
    assert_eq!(
        deliver(&app, "apigw-http", "application-created").await.0,
        502
    );
    assert_eq!(deliver(&app, "apigw-http", "ping").await.0, 502);
    let parsed = all_valid_emf(&lines);
    assert_eq!(
        (&parsed[0]["Outcome"], &parsed[0]["FailedRevocations"]),
        (&json!("admin_tls_failed"), &json!(1))
    );
    assert_eq!(
        (&parsed[1]["Outcome"], &parsed[1]["FailedRevocations"]),
        (&json!("admin_url_tls_failed"), &json!(0))
    );
}

/// The template's saved query leaves out exactly the 5xx outcomes the metric does not count:
/// the failed Pings.
#[test]
fn the_saved_failed_revocations_query_leaves_out_exactly_the_failed_pings() {
    use access_token_revoker::Outcome;
    use access_token_revoker::admin_api::TlsFailure;
    let template = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("template.yaml"),
    )
    .expect("template.yaml");
    let list = template
        .split("fields.outcome not in [")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .expect("the failed-revocations query's exclusions");
    let mut excluded: Vec<&str> = list
        .split(',')
        .map(|n| n.trim().trim_matches('"'))
        .collect();
    excluded.sort_unstable();
    let mut pings: Vec<&str> = [
        Outcome::PingUnreachable(String::new()),
        Outcome::PingNotThreescale(String::new()),
        Outcome::PingNotTenantAdmin(String::new()),
        Outcome::PingTlsFailed(TlsFailure::NotTrusted),
        Outcome::AdminTlsFailed(TlsFailure::NotTrusted),
        Outcome::AdminApiUnavailable,
    ]
    .iter()
    .filter(|o| o.status().is_server_error() && !o.is_failed_revocation())
    .map(Outcome::name)
    .collect();
    pings.sort_unstable();
    assert_eq!(excluded, pings);
}

#[test]
fn a_rotation_step_writes_one_valid_emf_line_with_its_two_facts() {
    use access_token_revoker::metrics::RotationMetrics;
    for (failed, cleanup_failed) in [(false, false), (true, false), (false, true)] {
        let (sink, lines) = capture();
        sink.record_rotation(RotationMetrics {
            failed,
            cleanup_failed,
        });
        let lines = lines.lock().expect("lines").clone();
        assert_eq!(lines.len(), 1);
        let line = assert_valid_emf(&lines[0]);
        assert_eq!(
            metric_names(&line),
            ["RotationFailures", "RotationCleanupFailures"]
        );
        assert_eq!(line["RotationFailures"], u8::from(failed));
        assert_eq!(line["RotationCleanupFailures"], u8::from(cleanup_failed));
        assert_eq!(line["FunctionName"], "revoker-under-test");
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["FunctionName"]])
        );
    }
}
