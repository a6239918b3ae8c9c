//! The scheduled sweep: 3scale's failed webhook deliveries, each run through the same decision
//! as a live delivery, then deleted from 3scale's list up to the last one handled in order.
//!
//! 3scale gives up on a delivery after six attempts and files it under webhook failures,
//! never to send it again (`app/workers/web_hook_worker.rb`). Without the sweep, a token whose
//! deliveries all failed would stay alive for good.

use crate::admin_api::{AdminApi, WebhookFailure};
use crate::audit::Audit;
use crate::config::PortalSource;
use crate::decision::decide_event;
use crate::handler::App;
use crate::outcome::Outcome;
use crate::webhook;
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
    /// Revocations that failed; the sweep stops at the first.
    pub failed: usize,
    /// Failures deleted from 3scale's list.
    pub deleted: usize,
    /// Why the sweep did not get through the whole list, if it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<SweepStop>,
    /// The handled failures could not be deleted; the next sweep handles them again.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub delete_failed: bool,
}

/// Why a sweep ended before the end of 3scale's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepStop {
    /// The secret could not be read.
    ConfigurationUnavailable,
    /// The secret has no `maintenance_token`.
    NoMaintenanceToken,
    /// 3scale did not list its failed deliveries to the maintenance token.
    ListingFailed,
    /// Too close to the invocation's deadline to start another revocation.
    OutOfTime,
    /// A revocation answered 5xx; it stays filed for the next sweep.
    RevocationFailed,
}

impl SweepStop {
    /// The reason as the summary line and the invoker's answer give it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConfigurationUnavailable => "configuration_unavailable",
            Self::NoMaintenanceToken => "no maintenance_token",
            Self::ListingFailed => "the failures listing failed",
            Self::OutOfTime => "out of time",
            Self::RevocationFailed => "a revocation failed; it is kept for the next sweep",
        }
    }
}

impl Serialize for SweepStop {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl SweepSummary {
    /// The sweep could not do its work: no configuration, no maintenance token, a refused
    /// listing, or a failed delete. A failed revocation has its own decision and metric.
    pub fn is_failure(&self) -> bool {
        self.delete_failed
            || matches!(
                self.stopped,
                Some(
                    SweepStop::ConfigurationUnavailable
                        | SweepStop::NoMaintenanceToken
                        | SweepStop::ListingFailed
                )
            )
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
        self.metrics.record_sweep(&summary);
        summary
    }

    async fn sweep_inner(&self, deadline: Instant) -> SweepSummary {
        let portal = match self.portal.admin_portal().await {
            Ok(portal) => portal,
            Err(err) => {
                tracing::error!(error = %err, "sweep: admin portal configuration unavailable");
                return SweepSummary::stopped(SweepStop::ConfigurationUnavailable);
            }
        };
        let Some(maintenance) = portal.maintenance_token() else {
            tracing::info!("sweep skipped: the secret has no maintenance_token");
            return SweepSummary::stopped(SweepStop::NoMaintenanceToken);
        };
        let failures = match self.api.webhook_failures(&portal, maintenance).await {
            Ok(failures) => failures,
            Err(err) => {
                tracing::error!(error = %err, "sweep: 3scale's failed deliveries could not be listed; nothing deleted");
                return SweepSummary::stopped(SweepStop::ListingFailed);
            }
        };
        let listed_at = unix_now();
        let mut summary = SweepSummary {
            seen: failures.len(),
            ..SweepSummary::default()
        };
        let mut handled = 0;
        for failure in &failures {
            if Instant::now() + RESERVE > deadline {
                summary.stopped = Some(SweepStop::OutOfTime);
                break;
            }
            let mut audit = Audit {
                source: Some("sweep"),
                ..Audit::default()
            };
            let outcome = match webhook::decode(failure.event.as_bytes()) {
                Ok(event) => {
                    decide_event(&self.settings, &portal, &self.api, &event, &mut audit).await
                }
                Err(err) => Outcome::BadEvent(err),
            };
            self.conclude(&audit, &outcome);
            summary.count(&outcome);
            if outcome.is_failed_revocation() {
                summary.stopped = Some(SweepStop::RevocationFailed);
                break;
            }
            handled += 1;
        }

        let safe_before = listed_at.saturating_sub(HOLD_BACK.as_secs());
        if let Some((count, time)) = deletable_prefix(&failures, handled, safe_before) {
            match self
                .api
                .delete_webhook_failures(&portal, maintenance, time)
                .await
            {
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

/// How many of the first `handled` failures one `DELETE ?time=T` removes, and that `T`.
///
/// porta pops entries from the oldest while their time is at most `T`, and stops at the first
/// newer one. `T` is the latest time among the entries to delete; the entry after them must be
/// strictly newer, or porta would take it too. When every listed entry goes, entries filed
/// after the listing come next, so `T` must also be before `safe_before` (Unix seconds).
pub fn deletable_prefix(
    failures: &[WebhookFailure],
    handled: usize,
    safe_before: u64,
) -> Option<(usize, &str)> {
    let times: Vec<Option<u64>> = failures.iter().map(|f| parse_time(&f.time)).collect();
    let mut count = handled.min(failures.len());
    // An unreadable time cannot be ordered: nothing from it on can be deleted safely.
    if let Some(unreadable) = times.iter().take(count).position(Option::is_none) {
        count = unreadable;
    }
    while count > 0 {
        let (latest_at, latest) = times
            .iter()
            .take(count)
            .enumerate()
            .filter_map(|(at, t)| t.map(|t| (at, t)))
            .max_by_key(|(_, t)| *t)?;
        let next_is_newer = match times.get(count) {
            Some(next) => next.is_some_and(|next| next > latest),
            None => latest < safe_before,
        };
        if next_is_newer {
            return failures
                .get(latest_at)
                .map(|failure| (count, failure.time.as_str()));
        }
        count -= 1;
    }
    None
}

/// `YYYY-MM-DDTHH:MM:SSZ` (or `+00:00`), as porta prints failure times, in Unix seconds.
pub fn parse_time(text: &str) -> Option<u64> {
    let text = text.trim();
    let (stamp, zone) = text.split_at_checked(19)?;
    if !matches!(zone, "Z" | "+00:00" | "UTC" | " UTC") {
        return None;
    }
    let bytes = stamp.as_bytes();
    let shape_ok = bytes.iter().enumerate().all(|(at, b)| match at {
        4 | 7 => *b == b'-',
        10 => *b == b'T' || *b == b' ',
        13 | 16 => *b == b':',
        _ => b.is_ascii_digit(),
    });
    if !shape_ok {
        return None;
    }
    let number = |range: std::ops::Range<usize>| stamp.get(range)?.parse::<i64>().ok();
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    // Days from 1970-01-01 to the date (Howard Hinnant's days_from_civil).
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * m + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    u64::try_from(days * 86_400 + hour * 3_600 + minute * 60 + second).ok()
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

    fn failure(time: &str) -> WebhookFailure {
        WebhookFailure {
            id: None,
            time: time.to_owned(),
            event: String::new(),
        }
    }

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
            SweepStop::ListingFailed,
        ] {
            assert!(with(Some(stop), false).is_failure(), "{stop:?}");
        }
        // The next sweep goes on; a failed revocation has its own metric and alarm.
        assert!(!with(Some(SweepStop::OutOfTime), false).is_failure());
        assert!(!with(Some(SweepStop::RevocationFailed), false).is_failure());
    }

    #[test]
    fn the_reserve_covers_the_last_revocation_its_field_clear_and_the_delete() {
        let call = crate::admin_api::RetryPolicy::default().total;
        assert!(RESERVE >= call * 3 + Duration::from_secs(2), "{RESERVE:?}");
    }

    #[test]
    fn porta_times_parse_to_unix_seconds() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_time("2026-11-25T10:00:00Z"), Some(1_795_600_800));
        assert_eq!(parse_time("2000-02-29T23:59:59+00:00"), Some(951_868_799));
        for bad in [
            "0000-01-01T00:00:00Z",
            "",
            "2026-11-25",
            "2026-11-25T10:00:00+01:00",
            "2026-13-01T00:00:00Z",
            "yyyy-mm-ddThh:mm:ssZ",
            "1969-12-31T23:59:59Z",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_delete_stops_short_of_what_was_not_handled() {
        let list = [
            failure("2026-11-25T10:00:00Z"),
            failure("2026-11-25T10:00:01Z"),
            failure("2026-11-25T10:00:02Z"),
            failure("2026-11-25T10:00:03Z"),
        ];
        let later = parse_time("2026-11-25T11:00:00Z").expect("time");
        assert_eq!(
            deletable_prefix(&list, 4, later),
            Some((4, "2026-11-25T10:00:03Z"))
        );
        assert_eq!(
            deletable_prefix(&list, 2, later),
            Some((2, "2026-11-25T10:00:01Z"))
        );
        assert_eq!(deletable_prefix(&list, 0, later), None);
        // Everything handled, but the newest is too recent: it waits for the next sweep.
        let soon = parse_time("2026-11-25T10:00:03Z").expect("time");
        assert_eq!(
            deletable_prefix(&list, 4, soon),
            Some((3, "2026-11-25T10:00:02Z"))
        );
    }

    #[test]
    fn same_second_and_out_of_order_neighbours_are_never_taken() {
        let later = parse_time("2026-11-25T11:00:00Z").expect("time");
        // The first unhandled entry shares the second of the last handled one.
        let list = [
            failure("2026-11-25T10:00:00Z"),
            failure("2026-11-25T10:00:05Z"),
            failure("2026-11-25T10:00:05Z"),
        ];
        assert_eq!(
            deletable_prefix(&list, 2, later),
            Some((1, "2026-11-25T10:00:00Z"))
        );
        // Filed out of order: the unhandled third is older than the handled second.
        let list = [
            failure("2026-11-25T10:00:00Z"),
            failure("2026-11-25T10:00:09Z"),
            failure("2026-11-25T10:00:04Z"),
        ];
        assert_eq!(
            deletable_prefix(&list, 2, later),
            Some((1, "2026-11-25T10:00:00Z"))
        );
        // An unreadable time cannot be ordered: porta might take it, so nothing is deleted.
        let list = [
            failure("2026-11-25T10:00:00Z"),
            failure("yesterday"),
            failure("2026-11-25T10:00:09Z"),
        ];
        assert_eq!(deletable_prefix(&list, 3, later), None);
    }
}
