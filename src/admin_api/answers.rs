//! What porta's answers mean: pure functions of a status and a body, no I/O.
//!
//! porta authenticates before it looks anything up, so for a token acting on itself:
//! - 403 `{"error":"Access denied"}`: no provider account behind the request, which for a
//!   token sent to its tenant's admin domain means it does not authenticate (revoked, expired,
//!   unknown) (`app/lib/filters/provider_required.rb`, run after
//!   `app/lib/api_authentication/by_access_token.rb` found no token);
//! - 403 naming permissions: the token authenticated and is alive, but lacks the scope, or is
//!   read-only and tried to write (`show_access_key_permission_error`);
//! - 404 `{"status":"Not found"}`: the token authenticated and the path resolved to nothing;
//! - an empty 403 is a suspended tenant, and `{"status":"Forbidden"}` a provider key without a
//!   user or a CanCan denial: neither says anything about the token.

/// Most of an error body that is read; the rest is never looked at.
pub const MAX_ERROR_BODY: usize = 4 * 1024;
/// Most of a token listing that is read; porta does not paginate it.
pub const MAX_LISTING_BODY: usize = 256 * 1024;

/// What one answer of the personal access token API says about the token that sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenAnswer {
    /// 2xx: the token authenticated and the call was done.
    Done,
    /// 403 `{"error":"Access denied"}`: the token does not authenticate.
    Dead,
    /// 403 naming permissions: the token is alive but lacks the scope or write permission.
    NotPermitted,
    /// 404: the token authenticated but the path is not this tenant's token API, or the id is not theirs.
    NotFound,
    /// 408, 429 or 5xx: worth another attempt.
    Transient,
    /// Anything else, a 403 porta would not send included: evidence of nothing.
    Unexpected,
}

/// Classifies porta's answer; `body` is at most [`MAX_ERROR_BODY`] bytes of it.
///
/// ```
/// use access_token_revoker::admin_api::answers::{classify, TokenAnswer};
///
/// assert_eq!(classify(403, br#"{"error":"Access denied"}"#), TokenAnswer::Dead);
/// assert_eq!(
///     classify(403, br#"{"error":"Your access token does not have the correct permissions"}"#),
///     TokenAnswer::NotPermitted
/// );
/// assert_eq!(classify(403, b"<html>WAF says no</html>"), TokenAnswer::Unexpected);
/// ```
pub fn classify(status: u16, body: &[u8]) -> TokenAnswer {
    match status {
        200..=299 => TokenAnswer::Done,
        403 => classify_forbidden(body),
        404 => TokenAnswer::NotFound,
        408 | 429 | 500..=599 => TokenAnswer::Transient,
        _ => TokenAnswer::Unexpected,
    }
}

fn classify_forbidden(body: &[u8]) -> TokenAnswer {
    #[derive(serde::Deserialize)]
    struct RenderError {
        error: String,
    }
    // `render_error` writes exactly `{"error": message}`; anything else is not porta's verdict.
    match json_object::<RenderError>(body) {
        Some(RenderError { error }) if error == "Access denied" => TokenAnswer::Dead,
        Some(RenderError { error }) if error.to_ascii_lowercase().contains("permission") => {
            TokenAnswer::NotPermitted
        }
        _ => TokenAnswer::Unexpected,
    }
}

/// `body` as `T`, only if it is one JSON object in UTF-8, as porta renders its errors.
///
/// serde's derive alone is laxer: it also reads a struct from an array (`["Access denied"]`
/// would be porta's verdict on a dead token), and from bytes it skips a field without
/// checking that it is UTF-8. The fuzz target `answers` checks both (fuzz/harness/src/answers.rs).
pub(crate) fn json_object<T: serde::de::DeserializeOwned>(body: &[u8]) -> Option<T> {
    let text = std::str::from_utf8(body).ok()?;
    let is_object = text
        .trim_start_matches([' ', '\t', '\n', '\r'])
        .starts_with('{');
    is_object.then(|| serde_json::from_str(text).ok()).flatten()
}

/// What `admin_url` turned out to be, asked for the token listing with no token (3scale's Ping).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// porta's own 403 `{"error":"Access denied"}`: a 3scale admin API.
    AdminApi,
    /// Something answered, but not as porta does: what came back.
    NotAdminApi(String),
    /// No answer, or a failing one (408, 429, 5xx): why.
    Unreachable(String),
    /// The TLS handshake failed: which way.
    TlsFailed(super::TlsFailure),
}

/// Classifies the answer to an unauthenticated `GET …/personal/access_tokens.json`.
///
/// ```
/// use access_token_revoker::admin_api::answers::{probe, Probe};
///
/// assert_eq!(probe(403, br#"{"error":"Access denied"}"#), Probe::AdminApi);
/// assert!(matches!(probe(404, b"<html>Not Found</html>"), Probe::NotAdminApi(_)));
/// assert!(matches!(probe(503, b""), Probe::Unreachable(_)));
/// ```
pub fn probe(status: u16, body: &[u8]) -> Probe {
    let not_porta = |what: String| Probe::NotAdminApi(format!("answered {status}{what}"));
    match classify(status, body) {
        TokenAnswer::Dead => Probe::AdminApi,
        TokenAnswer::Transient => Probe::Unreachable(format!("admin API answered {status}")),
        TokenAnswer::Done => not_porta(" to a request without a token".to_owned()),
        _ if status == 403 => not_porta(
            ", but not with {\"error\":\"Access denied\"} (an empty 403 is a suspended account)"
                .to_owned(),
        ),
        _ if (300..400).contains(&status) => {
            not_porta(", a redirect: use the admin portal's own https:// URL".to_owned())
        }
        _ => not_porta(String::new()),
    }
}

/// The token listing could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the token listing is not JSON")]
pub struct ListingError;

/// Every `id` of every object in a token listing, read tolerantly.
///
/// porta wraps each token (`{"access_tokens":[{"access_token":{"id":7,…}}]}`); any object
/// with a numeric `id`, at any depth, counts, so a change of wrapping cannot hide an id.
///
/// ```
/// use access_token_revoker::admin_api::answers::token_ids;
///
/// let listing = br#"{"access_tokens":[{"access_token":{"id":7,"name":"ci"}},{"id":"12"}]}"#;
/// assert_eq!(token_ids(listing).unwrap(), vec![7, 12]);
/// ```
pub fn token_ids(body: &[u8]) -> Result<Vec<u64>, ListingError> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|_| ListingError)?;
    let mut ids = Vec::new();
    visit_objects(&value, |object| {
        if let Some(id) = object.get("id").and_then(as_id) {
            ids.push(id);
        }
        true
    });
    Ok(ids)
}

/// Calls `visit` on every object in `value`, in document order; descends into an object's
/// values only when `visit` returns true. An explicit stack: serde_json caps nesting at 128,
/// and this keeps it flat anyway.
pub(crate) fn visit_objects<'a>(
    value: &'a serde_json::Value,
    mut visit: impl FnMut(&'a serde_json::Map<String, serde_json::Value>) -> bool,
) {
    let mut stack = vec![value];
    while let Some(node) = stack.pop() {
        match node {
            serde_json::Value::Object(map) if visit(map) => stack.extend(map.values().rev()),
            // Reversed onto the stack, so they come off in document order.
            serde_json::Value::Array(items) => stack.extend(items.iter().rev()),
            _ => {}
        }
    }
}

fn as_id(value: &serde_json::Value) -> Option<u64> {
    match value {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => parse_id(s),
        _ => None,
    }
}

/// A token id as 3scale prints it: decimal digits only.
pub fn parse_id(text: &str) -> Option<u64> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The id Rails finds when it is given `value` as an id: Ruby's `String#to_i`.
///
/// `find_from_id_or_value!` tries `find_by(id: value)` first, and Rails casts `"7a3f…"` to
/// `7`. Ruby reads leading digits, with single underscores between digits (`"1_2x"` is 12).
/// `None` when the value does not start with a digit, or the number is beyond any id.
///
/// ```
/// use access_token_revoker::admin_api::answers::id_rails_would_read;
///
/// assert_eq!(id_rails_would_read("7a3f"), Some(7));
/// assert_eq!(id_rails_would_read("1_2x"), Some(12));
/// assert_eq!(id_rails_would_read("1__2"), Some(1));
/// assert_eq!(id_rails_would_read("a7"), None);
/// ```
pub fn id_rails_would_read(value: &str) -> Option<u64> {
    let bytes = value.as_bytes();
    if !bytes.first().is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let mut id: u64 = 0;
    let mut previous_was_digit = false;
    for (at, &byte) in bytes.iter().enumerate() {
        match byte {
            b'0'..=b'9' => {
                id = id.checked_mul(10)?.checked_add(u64::from(byte - b'0'))?;
                previous_was_digit = true;
            }
            b'_' if previous_was_digit && bytes.get(at + 1).is_some_and(u8::is_ascii_digit) => {
                previous_was_digit = false;
            }
            _ => break,
        }
    }
    Some(id)
}

/// 403 `{"status":"Forbidden"}`: CanCan refused an authenticated user
/// (`app/lib/access_control.rb`), e.g. a member where only admins may act.
pub fn is_cancan_denial(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Status {
        status: String,
    }
    json_object::<Status>(body).is_some_and(|s| s.status == "Forbidden")
}

/// The names of the fields porta's 422 `{"errors":{field:[…]}}` complains about; never the
/// messages, which may quote what was sent.
pub fn invalid_fields(body: &[u8]) -> Vec<String> {
    json_object::<serde_json::Map<String, serde_json::Value>>(body)
        .and_then(|object| object.get("errors").and_then(|e| e.as_object()).cloned())
        .map(|errors| {
            errors
                .keys()
                .filter(|k| k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_what_they_say_about_the_token() {
        for status in [200, 201, 204] {
            assert_eq!(classify(status, b""), TokenAnswer::Done);
        }
        assert_eq!(
            classify(403, br#"{"error":"Access denied"}"#),
            TokenAnswer::Dead
        );
        assert_eq!(
            classify(403, b" {\"error\" : \"Access denied\"}\n"),
            TokenAnswer::Dead
        );
        assert_eq!(
            classify(
                403,
                br#"{"error":"Your access token does not have the correct permissions"}"#
            ),
            TokenAnswer::NotPermitted
        );
        assert_eq!(
            classify(404, br#"{"status":"Not found"}"#),
            TokenAnswer::NotFound
        );
        for status in [408, 429, 500, 502, 503, 504] {
            assert_eq!(classify(status, b""), TokenAnswer::Transient);
        }
        for status in [301, 302, 400, 401, 410, 422] {
            assert_eq!(classify(status, b""), TokenAnswer::Unexpected);
        }
    }

    #[test]
    fn a_403_that_porta_would_not_send_proves_nothing() {
        for body in [
            &b"<html><body>Request blocked</body></html>"[..],
            // A suspended tenant: the token may come back to life with it.
            b"",
            // A provider key without a user, or a CanCan denial.
            br#"{"status":"Forbidden"}"#,
            br#"{"error":"access denied by the WAF"}"#,
            br#"{"message":"Forbidden"}"#,
            br#"{"error":["Access denied"]}"#,
            br#"["Forbidden"]"#,
            b"Forbidden",
            // JSON that is not one object, or not UTF-8: serde's derive alone took these.
            br#"["Access denied"]"#,
            br#"["Your access token does not have the correct permissions"]"#,
            b"{\"\":\"\x93\",\"error\":\"Access denied\"}",
        ] {
            assert_eq!(classify(403, body), TokenAnswer::Unexpected, "{body:?}");
        }
    }

    #[test]
    fn listings_give_every_id_and_reject_non_json() {
        let porta = br#"{"access_tokens":[
            {"access_token":{"id":3,"name":"a","scopes":["account_management"],"permission":"rw"}},
            {"access_token":{"id":18446744073709551615,"name":"b"}}]}"#;
        assert_eq!(token_ids(porta), Ok(vec![3, u64::MAX]));
        assert_eq!(
            token_ids(br#"[{"id":1},{"id":-2},{"id":"x"}]"#),
            Ok(vec![1])
        );
        assert_eq!(token_ids(br#"{"access_tokens":[]}"#), Ok(vec![]));
        assert_eq!(token_ids(b"<html/>"), Err(ListingError));
        let deep = "[".repeat(10_000);
        assert_eq!(token_ids(deep.as_bytes()), Err(ListingError));
    }

    #[test]
    fn rails_reads_the_leading_integer_as_ruby_does() {
        for (value, id) in [
            ("8c3e1f0d", Some(8)),
            ("007abc", Some(7)),
            ("123", Some(123)),
            ("1_000x", Some(1000)),
            ("1_", Some(1)),
            ("1_a", Some(1)),
            ("18446744073709551615", Some(u64::MAX)),
            ("18446744073709551616", None),
            ("abc", None),
            ("_1", None),
            ("-1", None),
            ("", None),
        ] {
            assert_eq!(id_rails_would_read(value), id, "{value}");
        }
    }

    #[test]
    fn ids_are_digits_only() {
        assert_eq!(parse_id("42"), Some(42));
        assert_eq!(parse_id(" 42 "), Some(42));
        for bad in ["", "4 2", "-1", "+1", "0x10", "99999999999999999999"] {
            assert_eq!(parse_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_422_names_its_fields_never_its_messages() {
        assert_eq!(
            invalid_fields(br#"{"errors":{"expires_at":["must be in the future"],"name":["x"]}}"#),
            vec!["expires_at".to_owned(), "name".to_owned()]
        );
        assert!(invalid_fields(b"oops").is_empty());
        assert!(invalid_fields(br#"{"errors":{"a b":["x"]}}"#).is_empty());
    }

    #[test]
    fn a_cancan_denial_is_told_apart() {
        assert!(is_cancan_denial(br#"{"status":"Forbidden"}"#));
        assert!(!is_cancan_denial(br#"{"error":"Access denied"}"#));
        assert!(!is_cancan_denial(b""));
        assert!(!is_cancan_denial(br#"["Forbidden"]"#));
        assert!(!is_cancan_denial(
            b"{\"x\":\"\xff\",\"status\":\"Forbidden\"}"
        ));
        assert!(is_cancan_denial(b" \r\n{\"status\":\"Forbidden\",\"x\":1}"));
    }
}
