//! CloudWatch metrics in Embedded Metric Format: one JSON line per decision, built from its
//! audit, one per sweep, and one per rotation step.
//!
//! Written by hand: the EMF crates on crates.io ride on the `metrics` facade and a global
//! recorder, which is more than one line per decision needs.
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>

use crate::audit::Audit;
use crate::outcome::Outcome;
use serde_json::{Value, json};
use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "AccessTokenRevoker";

/// One EMF line being built: its values, and the metric definitions that name them.
struct EmfLine {
    values: serde_json::Map<String, Value>,
    metrics: Vec<Value>,
}

impl EmfLine {
    fn new(function_name: &str) -> Self {
        let mut values = serde_json::Map::new();
        // Lambda's log-level filter reads this; without it the line counts as INFO anyway.
        values.insert("level".into(), json!("INFO"));
        values.insert("FunctionName".into(), json!(function_name));
        Self {
            values,
            metrics: Vec::new(),
        }
    }

    /// A dimension's value (the function's name is always there).
    fn dimension(mut self, name: &str, value: &str) -> Self {
        self.values.insert(name.into(), json!(value));
        self
    }

    fn metric(&mut self, name: &str, unit: &str, value: impl Into<Value>) {
        self.metrics.push(json!({"Name": name, "Unit": unit}));
        self.values.insert(name.into(), value.into());
    }

    fn finish(mut self, dimensions: Value, timestamp_ms: u64) -> Value {
        self.values.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": dimensions,
                    "Metrics": self.metrics,
                }],
            }),
        );
        Value::Object(self.values)
    }
}

/// The EMF object for one decision. Dimensions are the function's name and the outcome's
/// name, both fixed vocabularies: no token, secret or application data.
pub fn emf(outcome: &Outcome, audit: &Audit, function_name: &str, timestamp_ms: u64) -> Value {
    let mut line = EmfLine::new(function_name).dimension("Outcome", outcome.name());
    line.metric("Decisions", "Count", 1);
    line.metric(
        "FailedRevocations",
        "Count",
        u8::from(outcome.is_failed_revocation()),
    );
    if let Some(cleared) = audit.token_field_cleared {
        line.metric("FieldClearFailures", "Count", u8::from(!cleared));
    }
    if let Some(revocation) = &audit.revocation {
        let ms = u64::try_from(revocation.elapsed.as_millis()).unwrap_or(u64::MAX);
        line.metric("AdminApiLatency", "Milliseconds", ms);
    }
    line.finish(
        json!([["FunctionName"], ["FunctionName", "Outcome"]]),
        timestamp_ms,
    )
}

/// What a sweep reports for its metric line: plain facts, handed over by the sweep.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepMetrics {
    /// The sweep could not do its work (no configuration, no maintenance token, not this
    /// tenant's admin portal, a refused listing, a failed delete).
    pub failed: bool,
    /// Filed deliveries whose revocation failed in this sweep; they stay filed.
    pub failed_entries: usize,
    /// Age of the oldest filed delivery this sweep left unhandled, in seconds.
    pub oldest_unhandled_age_s: Option<u64>,
}

/// The EMF object for one sweep: `SweepFailures` is 1 when it could not do its work,
/// `SweepFailedEntries` counts the filed deliveries it could not revoke, and
/// `OldestUnhandledFailureAge` (only when one is left) says how long one has waited.
/// Dimension: the function's name only.
pub fn emf_sweep(sweep: SweepMetrics, function_name: &str, timestamp_ms: u64) -> Value {
    let mut line = EmfLine::new(function_name);
    line.metric("SweepFailures", "Count", u8::from(sweep.failed));
    line.metric("SweepFailedEntries", "Count", sweep.failed_entries);
    if let Some(age) = sweep.oldest_unhandled_age_s {
        line.metric("OldestUnhandledFailureAge", "Seconds", age);
    }
    line.finish(json!([["FunctionName"]]), timestamp_ms)
}

/// What one rotation step reports for its metric line: plain facts, handed over by the
/// rotation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RotationMetrics {
    /// The step failed: Secrets Manager retries the rotation, and the token is not replaced.
    pub failed: bool,
    /// The step did its work, but a token that should be dead may be alive (finishSecret's
    /// delete of the old token, or createSecret's delete of a token it could not store).
    pub cleanup_failed: bool,
}

/// The EMF object for one rotation step: `RotationFailures` and `RotationCleanupFailures`,
/// each 0 or 1. Dimension: the function's name only.
pub fn emf_rotation(rotation: RotationMetrics, function_name: &str, timestamp_ms: u64) -> Value {
    let mut line = EmfLine::new(function_name);
    line.metric("RotationFailures", "Count", u8::from(rotation.failed));
    line.metric(
        "RotationCleanupFailures",
        "Count",
        u8::from(rotation.cleanup_failed),
    );
    line.finish(json!([["FunctionName"]]), timestamp_ms)
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
    pub fn record_sweep(&self, sweep: SweepMetrics) {
        (self.write)(&emf_sweep(sweep, &self.function_name, now_ms()).to_string());
    }

    /// Emits the metrics of one rotation step.
    pub fn record_rotation(&self, rotation: RotationMetrics) {
        (self.write)(&emf_rotation(rotation, &self.function_name, now_ms()).to_string());
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| u64::try_from(d.as_millis()).ok())
        .unwrap_or_default()
}

impl fmt::Debug for MetricsSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsSink")
            .field("function_name", &self.function_name)
            .finish_non_exhaustive()
    }
}
