//! The function as one value: its settings, where the admin portal configuration comes from,
//! the admin API client and where metrics go. Each door (the HTTP edge, the sweep) adds its
//! entry point to it in its own module.

use crate::admin_api::AdminApi;
use crate::audit::Audit;
use crate::metrics::MetricsSink;
use crate::outcome::Outcome;
use crate::portal::PortalSource;
use crate::settings::Settings;

/// The function: settings plus the two parts tests swap out, and where metrics go.
#[derive(Debug)]
pub struct App<P, R> {
    pub(crate) settings: Settings,
    pub(crate) portal: P,
    pub(crate) api: R,
    pub(crate) metrics: MetricsSink,
}

impl<P: PortalSource, R: AdminApi> App<P, R> {
    /// Wires settings, the admin portal source and the admin API client; metrics go to stdout.
    pub fn new(settings: Settings, portal: P, api: R) -> Self {
        let metrics = MetricsSink::stdout(&settings.function_name);
        Self {
            settings,
            portal,
            api,
            metrics,
        }
    }

    /// Sends metric lines to `metrics` instead of stdout.
    pub fn with_metrics(mut self, metrics: MetricsSink) -> Self {
        self.metrics = metrics;
        self
    }

    /// Records a decision: its audit line, and its metrics.
    pub fn conclude(&self, audit: &Audit, outcome: &Outcome) {
        audit.log(outcome);
        self.metrics.record(outcome, audit);
    }
}
