//! CloudWatch metrics in Embedded Metric Format: one JSON line per decision, built from its
//! audit, and one per sweep.
//!
//! Written by hand: the EMF crates on crates.io ride on the `metrics` facade and a global
//! recorder, which is more than one line per decision needs.
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>

use crate::audit::Audit;
use crate::outcome::Outcome;
use crate::sweep::SweepSummary;
use serde_json::{Value, json};
use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "AccessTokenRevoker";

/// The EMF object for one decision. Dimensions are the function's name and the outcome's
/// name, both fixed vocabularies: no token, secret or application data.
pub fn emf(outcome: &Outcome, audit: &Audit, function_name: &str, timestamp_ms: u64) -> Value {
    let failed = u8::from(outcome.is_failed_revocation());
    let mut metrics = vec![
        json!({"Name": "Decisions", "Unit": "Count"}),
        json!({"Name": "FailedRevocations", "Unit": "Count"}),
    ];
    let mut line = json!({
        // Lambda's log-level filter reads this; without it the line counts as INFO anyway.
        "level": "INFO",
        "FunctionName": function_name,
        "Outcome": outcome.name(),
        "Decisions": 1,
        "FailedRevocations": failed,
    });
    if let Some(cleared) = audit.token_field_cleared {
        metrics.push(json!({"Name": "FieldClearFailures", "Unit": "Count"}));
        line["FieldClearFailures"] = json!(u8::from(!cleared));
    }
    if let Some(revocation) = &audit.revocation {
        metrics.push(json!({"Name": "AdminApiLatency", "Unit": "Milliseconds"}));
        line["AdminApiLatency"] = json!(revocation.elapsed.as_millis() as u64);
    }
    line["_aws"] = json!({
        "Timestamp": timestamp_ms,
        "CloudWatchMetrics": [{
            "Namespace": NAMESPACE,
            "Dimensions": [["FunctionName"], ["FunctionName", "Outcome"]],
            "Metrics": metrics,
        }],
    });
    line
}

/// The EMF object for one sweep: `SweepFailures` is 1 when it could not do its work (see
/// [`SweepSummary::is_failure`]). Dimension: the function's name only.
pub fn emf_sweep(summary: &SweepSummary, function_name: &str, timestamp_ms: u64) -> Value {
    json!({
        "level": "INFO",
        "FunctionName": function_name,
        "SweepFailures": u8::from(summary.is_failure()),
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["FunctionName"]],
                "Metrics": [{"Name": "SweepFailures", "Unit": "Count"}],
            }],
        },
    })
}

/// Where metric lines go: stdout in Lambda, a buffer in tests.
#[derive(Clone)]
pub struct MetricsSink {
    function_name: Arc<str>,
    write: Arc<dyn Fn(&str) + Send + Sync>,
}

impl MetricsSink {
    /// Lines to stdout, where Lambda hands them to CloudWatch Logs, which extracts the metrics.
    pub fn stdout(function_name: &str) -> Self {
        Self::new(function_name, |line| println!("{line}"))
    }

    /// Lines to `write`.
    pub fn new(function_name: &str, write: impl Fn(&str) + Send + Sync + 'static) -> Self {
        Self {
            function_name: Arc::from(function_name),
            write: Arc::new(write),
        }
    }

    /// Emits the metrics of one decision.
    pub fn record(&self, outcome: &Outcome, audit: &Audit) {
        (self.write)(&emf(outcome, audit, &self.function_name, now_ms()).to_string());
    }

    /// Emits the metric of one sweep.
    pub fn record_sweep(&self, summary: &SweepSummary) {
        (self.write)(&emf_sweep(summary, &self.function_name, now_ms()).to_string());
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

impl fmt::Debug for MetricsSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsSink")
            .field("function_name", &self.function_name)
            .finish_non_exhaustive()
    }
}
