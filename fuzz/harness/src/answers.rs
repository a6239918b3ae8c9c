//! porta's answers: the 403 bodies, the token listing, the failures listing, token ids,
//! failure times and what one delete of the failures may remove.

use access_token_revoker::admin_api::WebhookFailure;
use access_token_revoker::admin_api::answers::{self, Probe, TokenAnswer};
use access_token_revoker::admin_api::webhook_failures::parse_listing;
use access_token_revoker::sweep::{deletable_prefix, parse_time};
use serde_json::Value;

/// Every parser of porta's answers, on the same bytes: the 403 classifier and the CanCan
/// check, the token listing, the failures listing and what one delete of it may remove,
/// token ids as porta prints them and as Rails reads a value, and failure times, one a line.
pub fn answers(data: &[u8]) {
    let object = serde_json::from_slice::<serde_json::Map<String, Value>>(data).ok();
    let field = |name: &str| {
        object
            .as_ref()
            .and_then(|o| o.get(name))
            .and_then(Value::as_str)
    };

    // 403: porta's render_error is `{"error": message}`; nothing else is its verdict.
    match answers::classify(403, data) {
        TokenAnswer::Dead => assert_eq!(field("error"), Some("Access denied")),
        TokenAnswer::NotPermitted => {
            assert!(field("error").is_some_and(|e| e.to_ascii_lowercase().contains("permission")))
        }
        TokenAnswer::Unexpected => {}
        other => panic!("a 403 read as {other:?}"),
    }
    if answers::is_cancan_denial(data) {
        assert_eq!(field("status"), Some("Forbidden"));
    }
    let status = data
        .get(..2)
        .map_or(200, |b| u16::from_le_bytes([b[0], b[1]]) % 600);
    // Ping: only porta's own refusal proves admin_url, and what is said never quotes the body.
    for status in [status, 403] {
        match answers::probe(status, data) {
            Probe::AdminApi => assert_eq!(answers::classify(status, data), TokenAnswer::Dead),
            other => assert_eq!(other, answers::probe(status, b""), "the body is not quoted"),
        }
    }
    if status != 403 {
        let body_free = answers::classify(status, b"");
        assert_eq!(
            answers::classify(status, data),
            body_free,
            "only a 403 reads the body"
        );
    }

    // Listings are JSON or refused.
    let json_ok = serde_json::from_slice::<Value>(data).is_ok();
    assert_eq!(answers::token_ids(data).is_ok(), json_ok);
    let failures = parse_listing(data);
    assert_eq!(failures.is_ok(), json_ok);
    if let Ok(failures) = failures {
        check_deletable_prefix(&failures);
    }

    // Ids and times, one a line.
    let text = String::from_utf8_lossy(data);
    let mut lines = Vec::new();
    for line in text.lines().take(16) {
        check_ids(line);
        if let Some(time) = parse_time(line) {
            check_time(line, time);
        }
        lines.push(WebhookFailure {
            id: None,
            time: line.to_owned(),
            event: String::new(),
        });
    }
    check_time_order(&lines);
    check_deletable_prefix(&lines);
}

fn check_ids(text: &str) {
    if let Some(id) = answers::parse_id(text) {
        let digits = text.trim();
        assert!(!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(digits.parse::<u64>().ok(), Some(id));
    }
    // Ruby's String#to_i: leading digits, single underscores between digits.
    let bytes = text.as_bytes();
    let mut digits = String::new();
    for (at, &b) in bytes.iter().enumerate() {
        let digit_at =
            |i: Option<usize>| i.and_then(|i| bytes.get(i)).is_some_and(u8::is_ascii_digit);
        if b.is_ascii_digit() {
            digits.push(char::from(b));
        } else if !(b == b'_' && digit_at(at.checked_sub(1)) && digit_at(Some(at + 1))) {
            break;
        }
    }
    let ruby = if bytes.first().is_some_and(u8::is_ascii_digit) {
        digits.parse::<u64>().ok()
    } else {
        None
    };
    assert_eq!(answers::id_rails_would_read(text), ruby, "{text:?}");
}

/// Unix seconds as porta prints them, without the zone: `YYYY-MM-DDTHH:MM:SS`.
fn format_time(time: u64) -> String {
    i64::try_from(time)
        .ok()
        .and_then(|t| jiff::Timestamp::from_second(t).ok())
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S").to_string())
        .unwrap_or_default()
}

/// A time that parsed names that second: written back in UTC it reads the same, and a
/// whole-second stamp in UTC is its own text.
fn check_time(text: &str, time: u64) {
    let utc = format!("{}Z", format_time(time));
    assert_eq!(parse_time(&utc), Some(time), "{text:?} written back");
    let text = text.trim();
    let stamp = text
        .strip_suffix(['Z', 'z'])
        .or_else(|| text.strip_suffix("+00:00"))
        .filter(|stamp| stamp.len() == 19 && stamp.get(17..) != Some("60"));
    if let Some(stamp) = stamp {
        assert!(
            format_time(time).eq_ignore_ascii_case(&stamp.replacen(' ', "T", 1)),
            "{text:?}"
        );
    }
}

/// For real dates, Unix-seconds order is the order of the stamps as text.
fn check_time_order(failures: &[WebhookFailure]) {
    let real: Vec<(String, u64)> = failures
        .iter()
        .filter_map(|f| {
            let time = parse_time(&f.time)?;
            let normal = f.time.trim().get(..19)?.replacen(' ', "T", 1);
            (format_time(time) == normal).then_some((normal, time))
        })
        .collect();
    for (a, ta) in &real {
        for (b, tb) in &real {
            assert_eq!(a.cmp(b), ta.cmp(tb), "{a} vs {b}");
        }
    }
}

/// `deletable_prefix` against a brute-force reading of its contract, for every `handled`.
fn check_deletable_prefix(failures: &[WebhookFailure]) {
    let failures = &failures[..failures.len().min(16)];
    let times: Vec<Option<u64>> = failures.iter().map(|f| parse_time(&f.time)).collect();
    let latest = times.iter().flatten().max().copied().unwrap_or(0);
    // The largest k whose first k entries all parse, with the entry after them strictly newer
    // than all of them, or, when nothing is after them, older than `safe_before`.
    let valid = |k: usize, safe_before: u64| -> Option<u64> {
        let first: Option<Vec<u64>> = times.get(..k)?.iter().copied().collect();
        let max = first?.into_iter().max()?;
        match times.get(k) {
            Some(next) => next.filter(|next| *next > max).map(|_| max),
            None => (max < safe_before).then_some(max),
        }
    };
    for safe_before in [0, latest, latest.saturating_add(1), u64::MAX] {
        for handled in 0..=failures.len() + 1 {
            let got = deletable_prefix(failures, handled, safe_before);
            let want = (1..=handled.min(failures.len()))
                .rev()
                .find_map(|k| valid(k, safe_before).map(|t| (k, t)));
            match (got, want) {
                (None, None) => {}
                (Some((k, time)), Some((want_k, want_t))) => {
                    assert_eq!(k, want_k, "count, handled {handled}");
                    assert!(k <= handled);
                    assert_eq!(parse_time(time), Some(want_t), "the delete's time");
                    assert!(failures[..k].iter().any(|f| f.time == time));
                }
                (got, want) => panic!("handled {handled}: got {got:?}, want {want:?}"),
            }
        }
    }
}
