//! The scheduled sweep: 3scale's failed webhook deliveries, each run through the same decision
//! as a live delivery, then deleted from 3scale's list up to the last one handled in order.
//!
//! 3scale gives up on a delivery after six attempts and files it under webhook failures,
//! never to send it again (`app/workers/web_hook_worker.rb`). Without the sweep, a token whose
//! deliveries all failed would stay alive for good. What one delete may remove is `deletion`.

mod deletion;

use crate::admin_api::{AdminApi, WebhookFailure};
use crate::app::App;
use crate::audit::Audit;
use crate::decision::decide_event;
use crate::metrics::SweepMetrics;
use crate::outcome::Outcome;
use crate::portal::PortalSource;
use crate::refresh::{maintenance_token, with_maintenance_token};
use crate::tenant::{self, TenantProof};
use crate::webhook;
pub use deletion::{deletable_prefix, parse_time};
use serde::Serialize;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// Time kept free at the end of an invocation: one revocation, one field clear and one
/// delete, each bounded by `RetryPolicy::default().total` (8 s), and a 2 s margin.
pub const RESERVE: Duration = Duration::from_secs(26);

/// Failures newer than this are handled but left in 3scale's list until the next sweep, so a
/// delete can never reach one filed in the same second after the listing was read.
pub const HOLD_BACK: Duration = Duration::from_secs(60);

/// What one sweep did; logged as one line and returned to the invoker.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct SweepSummary {
    /// Failures listed by 3scale.
    pub seen: usize,
    /// Tokens deleted and verified dead.
    pub revoked: usize,
    /// Tokens porta already refused.
    pub already_revoked: usize,
    /// Events not in `REVOKE_ON`, or without a token (and `dry_run`).
    pub ignored: usize,
    /// Events that can never be acted on: not a 3scale event, or a token field that cannot be a token.
    pub unusable: usize,
    /// Revocations that failed; each stays filed, and the sweep goes on past it.
    pub failed: usize,
    /// Failures deleted from 3scale's list.
    pub deleted: usize,
    /// Why the sweep did not get through the whole list, if it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<SweepStop>,
    /// The handled failures could not be deleted; the next sweep handles them again.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub delete_failed: bool,
    /// How long ago the oldest failure still filed and not handled was filed: one that
    /// failed now, or that this sweep did not reach. Seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oldest_unhandled_age_s: Option<u64>,
}

/// Why a sweep ended before the end of 3scale's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepStop {
    /// The secret could not be read.
    ConfigurationUnavailable,
    /// The secret has no `maintenance_token`.
    NoMaintenanceToken,
    /// `admin_url` refused the maintenance token's own listing: another tenant's admin portal,
    /// a host that is no admin portal, or a dead maintenance token.
    NotTenantAdmin,
    /// 3scale did not list its failed deliveries to the maintenance token.
    ListingFailed,
    /// Too close to the invocation's deadline to start another revocation.
    OutOfTime,
}

impl SweepStop {
    /// The reason as the summary line and the invoker's answer give it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConfigurationUnavailable => "configuration_unavailable",
            Self::NoMaintenanceToken => "no maintenance_token",
            Self::NotTenantAdmin => {
                "the maintenance token is refused: admin_url is not this tenant's admin portal, \
                 or the token is dead"
            }
            Self::ListingFailed => "the failures listing failed",
            Self::OutOfTime => "out of time",
        }
    }
}

impl Serialize for SweepStop {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl SweepSummary {
    /// The sweep could not do its work: no configuration, no maintenance token, not this
    /// tenant's admin portal, a refused listing, or a failed delete. A failed revocation has
    /// its own decision and metric, and the entries left filed their own.
    pub fn is_failure(&self) -> bool {
        self.delete_failed
            || matches!(
                self.stopped,
                Some(
                    SweepStop::ConfigurationUnavailable
                        | SweepStop::NoMaintenanceToken
                        | SweepStop::NotTenantAdmin
                        | SweepStop::ListingFailed
                )
            )
    }

    /// The facts the sweep's metric line carries.
    pub fn metrics(&self) -> SweepMetrics {
        SweepMetrics {
            failed: self.is_failure(),
            failed_entries: self.failed,
            oldest_unhandled_age_s: self.oldest_unhandled_age_s,
        }
    }

    fn stopped(reason: SweepStop) -> Self {
        Self {
            stopped: Some(reason),
            ..Self::default()
        }
    }

    fn count(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Revoked => self.revoked += 1,
            Outcome::AlreadyRevoked => self.already_revoked += 1,
            Outcome::Ignored(_) | Outcome::DryRun => self.ignored += 1,
            o if o.is_failed_revocation() => self.failed += 1,
            _ => self.unusable += 1,
        }
    }

    fn log(&self) {
        tracing::info!(
            sweep = true,
            seen = self.seen,
            revoked = self.revoked,
            already_revoked = self.already_revoked,
            ignored = self.ignored,
            unusable = self.unusable,
            failed = self.failed,
            deleted = self.deleted,
            stopped = self.stopped.map(SweepStop::as_str),
            delete_failed = self.delete_failed,
            "sweep summary"
        );
    }
}

impl<P: PortalSource, R: AdminApi> App<P, R> {
    /// Sweeps 3scale's failed deliveries, starting no revocation after `deadline - RESERVE`.
    pub async fn sweep(&self, deadline: Instant) -> SweepSummary {
        let summary = self.sweep_inner(deadline).await;
        summary.log();
        self.metrics.record_sweep(summary.metrics());
        summary
    }

    async fn sweep_inner(&self, deadline: Instant) -> SweepSummary {
        let mut portal = match self.portal.admin_portal().await {
            Ok(portal) => portal,
            Err(err) => {
                tracing::error!(error = %err, "sweep: admin portal configuration unavailable");
                return SweepSummary::stopped(SweepStop::ConfigurationUnavailable);
            }
        };
        if portal.maintenance_token().is_none() {
            tracing::info!("sweep skipped: the secret has no maintenance_token");
            return SweepSummary::stopped(SweepStop::NoMaintenanceToken);
        }
        // Each maintenance call is made once more with the secret read again if 3scale refuses
        // the cached token, which a rotation may have replaced: `portal` is then the new one.
        let api = &self.api;
        // On another tenant's admin portal every token is refused alike, so a dead token
        // there would read as already revoked: first prove the host.
        match tenant::prove(&self.portal, &mut portal, api).await {
            TenantProof::NotTenantAdmin(err) => {
                tracing::error!(error = %err, "sweep: admin_url is not this tenant's admin portal, or the maintenance token is dead; nothing read or deleted");
                return SweepSummary::stopped(SweepStop::NotTenantAdmin);
            }
            TenantProof::Unreachable(why) => {
                tracing::error!(error = %why, "sweep: the admin portal did not answer; nothing read or deleted");
                return SweepSummary::stopped(SweepStop::ListingFailed);
            }
            // Authenticated there, or an answer the listing below will judge.
            TenantProof::Proven | TenantProof::Unexplained(_) | TenantProof::NoMaintenanceToken => {
            }
        }
        let listed = with_maintenance_token(&self.portal, &mut portal, |p| async move {
            api.webhook_failures(&p, maintenance_token(&p)?).await
        });
        let listing = match listed.await {
            Ok(listing) => listing,
            Err(err) => {
                tracing::error!(error = %err, "sweep: 3scale's failed deliveries could not be listed; nothing deleted");
                return SweepSummary::stopped(SweepStop::ListingFailed);
            }
        };
        let listed_at = unix_now();
        let failures = &listing.failures;
        // A listing cut short: more may be filed in the last one's second, so the last one
        // waits for a later sweep, and the delete stops short of it.
        let to_handle = if listing.complete {
            failures.len()
        } else {
            failures.len().saturating_sub(1)
        };
        let mut summary = SweepSummary {
            seen: failures.len(),
            ..SweepSummary::default()
        };
        // Entries left filed and unhandled: failed, or not reached.
        let mut unhandled: Vec<&WebhookFailure> = Vec::new();
        let mut handled = None;
        for (at, failure) in failures.iter().enumerate().take(to_handle) {
            if Instant::now() + RESERVE > deadline {
                summary.stopped = Some(SweepStop::OutOfTime);
                handled.get_or_insert(at);
                unhandled.extend(failures.get(at..to_handle).unwrap_or_default());
                break;
            }
            let mut audit = Audit {
                source: Some("sweep"),
                ..Audit::default()
            };
            let outcome = match webhook::decode(failure.event.as_bytes()) {
                Ok(event) => {
                    let (settings, source) = (&self.settings, &self.portal);
                    decide_event(settings, source, &portal, api, true, &event, &mut audit).await
                }
                Err(err) => Outcome::UnreadableBody(err),
            };
            self.conclude(&audit, &outcome);
            summary.count(&outcome);
            // It stays filed, and the next sweep tries it again; the ones after it go on.
            if outcome.is_failed_revocation() {
                handled.get_or_insert(at);
                unhandled.push(failure);
            }
        }
        let handled = handled.unwrap_or(to_handle);
        summary.oldest_unhandled_age_s = unhandled
            .iter()
            .filter_map(|failure| parse_time(&failure.time))
            .min()
            .map(|filed| listed_at.saturating_sub(filed));
        if summary.failed > 0 {
            tracing::warn!(
                failed = summary.failed,
                oldest_unhandled_age_s = summary.oldest_unhandled_age_s,
                "sweep: some failed deliveries could not be handled; they stay filed for the next sweep"
            );
        }

        let safe_before = listed_at.saturating_sub(HOLD_BACK.as_secs());
        if let Some((count, time)) = deletable_prefix(failures, handled, safe_before) {
            let deleted = with_maintenance_token(&self.portal, &mut portal, |p| async move {
                api.delete_webhook_failures(&p, maintenance_token(&p)?, time)
                    .await
            });
            match deleted.await {
                Ok(()) => summary.deleted = count,
                Err(err) => {
                    summary.delete_failed = true;
                    tracing::error!(error = %err, "sweep: deleting handled failures failed; the next sweep handles them again");
                }
            }
        }
        summary
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_sweep_that_could_not_do_its_work_is_a_failure() {
        let with = |stopped, delete_failed| SweepSummary {
            stopped,
            delete_failed,
            ..SweepSummary::default()
        };
        assert!(!with(None, false).is_failure());
        assert!(with(None, true).is_failure());
        for stop in [
            SweepStop::ConfigurationUnavailable,
            SweepStop::NoMaintenanceToken,
            SweepStop::NotTenantAdmin,
            SweepStop::ListingFailed,
        ] {
            assert!(with(Some(stop), false).is_failure(), "{stop:?}");
        }
        // The next sweep goes on; a failed revocation has its own metric and alarm.
        assert!(!with(Some(SweepStop::OutOfTime), false).is_failure());
    }

    #[test]
    fn the_reserve_covers_the_last_revocation_its_field_clear_and_the_delete() {
        let call = crate::admin_api::RetryPolicy::default().total;
        assert!(RESERVE >= call * 3 + Duration::from_secs(2), "{RESERVE:?}");
    }

    /// The Lambda timeout the template gives the function that sweeps.
    fn template_timeout() -> Duration {
        let template = include_str!("../../template.yaml");
        let seconds = template
            .lines()
            .filter_map(|line| line.trim().strip_prefix("Timeout: "))
            .filter_map(|value| value.trim().parse::<u64>().ok())
            .min()
            .expect("template.yaml sets a Timeout");
        Duration::from_secs(seconds)
    }

    #[test]
    fn the_host_check_the_listing_and_the_reserve_fit_in_the_lambda_timeout() {
        let host_check = crate::admin_api::RetryPolicy::default().total;
        let listing = crate::admin_api::webhook_failures::LISTING_TIME;
        // At least one revocation's worth of time is left after the two calls before it.
        assert!(host_check + listing + RESERVE <= template_timeout());
    }
}
