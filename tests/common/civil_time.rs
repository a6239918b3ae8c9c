//! Unix seconds → porta's `YYYY-MM-DDTHH:MM:SS`, the inverse of `sweep::parse_time`.
//! Shared with the fuzz harness (fuzz/src/lib.rs includes this file by path).

/// Unix seconds → `YYYY-MM-DDTHH:MM:SS` in UTC (Howard Hinnant's civil_from_days).
pub fn format_unix(t: u64) -> String {
    let days = (t / 86_400) as i64;
    let secs = t % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}
