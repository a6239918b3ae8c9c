//! `webhook::decode` on any bytes.

use access_token_revoker::webhook::{self, DecodeError, MAX_BODY_BYTES};
use base64::Engine as _;

/// A form decodes as its `xml` field reads: the same answer for the field written back in
/// canonical form, however the sender percent-encoded it.
fn check_form_decoding(data: &[u8]) {
    // An invalid byte becomes U+FFFD, 9 bytes once percent-encoded.
    if !data.starts_with(b"xml=") || data.len() * 9 > MAX_BODY_BYTES {
        return;
    }
    let Some((_, value)) = form_urlencoded::parse(data).find(|(key, _)| key == "xml") else {
        return;
    };
    let canonical = form_urlencoded::Serializer::new(String::new())
        .append_pair("xml", &value)
        .finish();
    assert_eq!(
        webhook::decode(data),
        webhook::decode(canonical.as_bytes()),
        "a form decodes as form_urlencoded reads it"
    );
}

/// `webhook::decode` on any bytes. An accepted raw XML body must decode to the same event
/// when 3scale form-encodes it and when API Gateway base64-encodes it. A form body decodes as
/// if `form_urlencoded::parse` had read its `xml` field.
pub fn decode(data: &[u8]) {
    check_form_decoding(data);
    let event = match webhook::decode(data) {
        Ok(event) => event,
        Err(DecodeError::TooLarge) => return assert!(data.len() > MAX_BODY_BYTES),
        Err(err) => {
            assert!(!err.code().is_empty() && !err.to_string().is_empty());
            return;
        }
    };
    assert!(!event.event_type.is_empty() && !event.action.is_empty());
    assert!(!event.object.kind.is_empty());
    for (name, value) in &event.object.extra_fields {
        assert!(!name.is_empty());
        assert_eq!(value.trim(), value, "extra field values are trimmed");
    }
    // Debug names the extra fields, never shows their values (they may hold the token).
    let mut blanked = event.clone();
    for (_, value) in &mut blanked.object.extra_fields {
        value.clear();
    }
    assert_eq!(format!("{event:?}"), format!("{blanked:?}"));

    let trimmed = data
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(data)
        .trim_ascii();
    if trimmed.first() == Some(&b'<') && data.len() * 4 < MAX_BODY_BYTES {
        let text = std::str::from_utf8(data).expect("accepted XML is UTF-8");
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("xml", text)
            .finish();
        assert_eq!(
            webhook::decode(form.as_bytes()).as_ref(),
            Ok(&event),
            "xml=…"
        );
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("params[xml]", text)
            .finish();
        assert_eq!(
            webhook::decode(form.as_bytes()).as_ref(),
            Ok(&event),
            "params[xml]=…"
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode(data);
        assert_eq!(
            webhook::decode(b64.as_bytes()).as_ref(),
            Ok(&event),
            "base64"
        );
    }
}
