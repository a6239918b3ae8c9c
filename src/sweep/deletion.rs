//! What one `DELETE …/webhooks/failures.json?time=T` may remove: porta deletes from the oldest
//! while the time is at most `T` (`app/models/web_hook_failures.rb#delete_by_time`), so `T`
//! must never reach a failure the sweep did not handle. Pure: no I/O, no clock.

use crate::admin_api::WebhookFailure;

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

/// A failure's time, as porta prints it (`2026-11-25T10:00:00Z`, RFC 3339), in Unix seconds.
pub fn parse_time(text: &str) -> Option<u64> {
    let stamp: jiff::Timestamp = text.trim().parse().ok()?;
    u64::try_from(stamp.as_second()).ok()
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
    fn porta_times_parse_to_unix_seconds() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_time("2026-11-25T10:00:00Z"), Some(1_795_600_800));
        assert_eq!(parse_time("2000-02-29T23:59:59+00:00"), Some(951_868_799));
        // An instant: a tenant's own zone names the same second.
        assert_eq!(parse_time("2026-11-25T11:00:00+01:00"), Some(1_795_600_800));
        for bad in [
            "0000-01-01T00:00:00Z",
            "",
            "2026-11-25",
            "2026-11-25T10:00:00",
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
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
