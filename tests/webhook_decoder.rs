//! The pure decoder on every body in events/, in every envelope, and on hostile input.
// A failed expectation in a test is a failed test, not a panic on the request path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use access_token_revoker::webhook::{DecodeError, MAX_BODY_BYTES, decode};
use base64::Engine as _;
use common::{ENVELOPES, EVENT_NAMES, TOKEN, TOKEN_UPDATED, event_request, events_dir};

fn payload(name: &str) -> String {
    std::fs::read_to_string(events_dir().join("payloads").join(format!("{name}.xml")))
        .expect("payload")
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn form(xml: &str, field: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair(field, xml)
        .finish()
}

#[test]
fn every_event_body_decodes_as_its_payload_says() {
    // (event name, type, action, object kind, id, account id, token)
    let expected = [
        (
            "application-created",
            "application",
            "created",
            "application",
            "1409620384",
            Some(TOKEN),
        ),
        (
            "application-updated",
            "application",
            "updated",
            "application",
            "1409620384",
            Some(TOKEN_UPDATED),
        ),
        (
            "application-deleted",
            "application",
            "deleted",
            "application",
            "1409620384",
            Some(TOKEN),
        ),
        (
            "account-created",
            "account",
            "created",
            "account",
            "2445583467891",
            None,
        ),
        (
            "user-created",
            "user",
            "created",
            "user",
            "2445583467902",
            None,
        ),
        (
            "application-created-form",
            "application",
            "created",
            "application",
            "1409620384",
            Some(TOKEN),
        ),
        (
            "application-created-base64",
            "application",
            "created",
            "application",
            "1409620384",
            Some(TOKEN),
        ),
    ];
    for envelope in ENVELOPES {
        for (name, event_type, action, kind, id, token) in expected {
            let request = event_request(envelope, name);
            let event = decode(request.body().as_ref())
                .unwrap_or_else(|e| panic!("{envelope}/{name}: {e}"));
            assert_eq!(event.event_type, event_type, "{envelope}/{name}");
            assert_eq!(event.action, action, "{envelope}/{name}");
            assert_eq!(event.object.kind, kind, "{envelope}/{name}");
            assert_eq!(event.object.id.as_deref(), Some(id), "{envelope}/{name}");
            assert_eq!(
                event.object.account_id.as_deref(),
                Some("2445583467891"),
                "{envelope}/{name}"
            );
            assert_eq!(event.extra_field("token_value"), token, "{envelope}/{name}");
        }
    }
}

#[test]
fn the_ping_event_has_no_body_to_decode() {
    for envelope in ENVELOPES {
        let request = event_request(envelope, "ping");
        assert_eq!(decode(request.body().as_ref()), Err(DecodeError::Empty));
    }
    assert!(EVENT_NAMES.contains(&"ping"));
}

#[test]
fn every_delivery_shape_of_one_event_decodes_alike() {
    let xml = payload("application-created");
    let reference = decode(xml.as_bytes()).expect("plain XML");
    let shapes = [
        b64(xml.as_bytes()),
        form(&xml, "xml"),
        form(&xml, "params[xml]"),
        form(&b64(xml.as_bytes()), "xml"),
        b64(form(&xml, "xml").as_bytes()),
        format!("\u{feff}\n  {xml}\n"),
        // MIME-wrapped base64
        b64(xml.as_bytes())
            .as_bytes()
            .chunks(76)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("\r\n"),
        format!("other=1&{}", form(&xml, "xml")),
    ];
    for shape in shapes {
        assert_eq!(
            decode(shape.as_bytes()).as_ref(),
            Ok(&reference),
            "{shape:.40}"
        );
    }
}

#[test]
fn extra_fields_keep_entities_cdata_and_order() {
    let xml = r#"<event><type>application</type><action>created</action><object><application>
        <id>7</id><user_account_id>3</user_account_id>
        <extra_fields><token_value>  <![CDATA[abc]]>_def  </token_value><note>a &amp; b</note>
        <token_value>second</token_value></extra_fields></application></object></event>"#;
    let event = decode(xml.as_bytes()).expect("valid");
    assert_eq!(event.extra_field("token_value"), Some("abc_def"));
    assert_eq!(event.extra_field("note"), Some("a & b"));
    assert_eq!(event.extra_field("missing"), None);
    assert_eq!(event.object.extra_fields.len(), 3);
}

#[test]
fn only_the_objects_own_extra_fields_count() {
    // An extra field nested in <plan> is not the application's.
    let xml = r#"<event><type>application</type><action>created</action><object><application>
        <plan><extra_fields><token_value>plan-level</token_value></extra_fields></plan>
        </application></object></event>"#;
    let event = decode(xml.as_bytes()).expect("valid");
    assert_eq!(event.extra_field("token_value"), None);
    assert_eq!(event.object.id, None);
}

#[test]
fn debug_output_hides_extra_field_values() {
    let event = decode(payload("application-created").as_bytes()).expect("valid");
    let shown = format!("{event:?}");
    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(shown.contains("token_value"), "{shown}");
}

#[test]
fn hostile_and_broken_bodies_are_refused_with_a_reason() {
    let xml = payload("application-created");
    let too_large = format!("{xml}{}", " ".repeat(MAX_BODY_BYTES));
    let billion_laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><event><type>&lol2;</type></event>"#;
    let xxe = r#"<?xml version="1.0"?><!DOCTYPE event [<!ENTITY x SYSTEM "file:///etc/passwd">]><event><type>&x;</type></event>"#;
    let cases: Vec<(String, DecodeError)> = vec![
        (String::new(), DecodeError::Empty),
        ("   \n ".into(), DecodeError::Empty),
        (too_large, DecodeError::TooLarge),
        (billion_laughs.into(), DecodeError::Dtd),
        (xxe.into(), DecodeError::Dtd),
        (
            "<event>\n<type>application</typo></event>".into(),
            DecodeError::MalformedXml {
                line: 2,
                column: 18,
            },
        ),
        (
            "<order><id>1</id></order>".into(),
            DecodeError::NotAnEvent("the root element is not <event>"),
        ),
        (
            "<event><action>created</action><object><application/></object></event>".into(),
            DecodeError::NotAnEvent("<type> is missing"),
        ),
        (
            "<event><type>application</type><object><application/></object></event>".into(),
            DecodeError::NotAnEvent("<action> is missing"),
        ),
        (
            "<event><type>application</type><action>created</action><object/></event>".into(),
            DecodeError::NotAnEvent("<object> is missing or empty"),
        ),
        (
            "{\"event\":\"application\"}".into(),
            DecodeError::UnknownEncoding,
        ),
        ("name=app&token=abc".into(), DecodeError::UnknownEncoding),
        (
            "xml=not-xml-nor-base64!".into(),
            DecodeError::UnknownEncoding,
        ),
        // Two base64 layers: one is all API Gateway or 3scale ever adds.
        (
            b64(b64(xml.as_bytes()).as_bytes()),
            DecodeError::UnknownEncoding,
        ),
        (b64(b"plain text"), DecodeError::UnknownEncoding),
    ];
    for (body, expected) in cases {
        assert_eq!(decode(body.as_bytes()), Err(expected.clone()), "{body:.60}");
        assert!(!expected.code().is_empty());
    }
    assert!(matches!(
        decode(b"<event><type>application</type>"),
        Err(DecodeError::MalformedXml { .. })
    ));
    let not_utf8 = b"<event>\xff\xfe</event>";
    assert_eq!(decode(not_utf8), Err(DecodeError::NotUtf8));
}

#[test]
fn error_messages_never_quote_the_body() {
    let secret = "topsecretvalue";
    for body in [
        format!("<event><type>{secret}</typo></event>"),
        format!("<{secret}>"),
        format!("<!DOCTYPE {secret}><event/>"),
        format!("xml={secret}"),
    ] {
        let err = decode(body.as_bytes()).expect_err("invalid");
        assert!(!err.to_string().contains(secret), "{err}");
    }
}

#[test]
fn node_bombs_are_cut_off() {
    let mut xml = String::from("<event><type>a</type><action>b</action><object><application>");
    for _ in 0..30_000 {
        xml.push_str("<x/>");
    }
    xml.push_str("</application></object></event>");
    assert!(xml.len() < MAX_BODY_BYTES);
    assert!(matches!(
        decode(xml.as_bytes()),
        Err(DecodeError::MalformedXml { .. })
    ));
}

#[test]
fn the_nested_form_key_is_found_however_it_is_escaped() {
    let xml = payload("account-created");
    for body in [
        format!("params[xml]={}", form(&xml, "x").trim_start_matches("x=")),
        format!(
            "params%5Bxml%5D={}",
            form(&xml, "x").trim_start_matches("x=")
        ),
        format!(
            "params%5bxml%5d={}",
            form(&xml, "x").trim_start_matches("x=")
        ),
    ] {
        let event = decode(body.as_bytes()).unwrap_or_else(|e| panic!("{body:.30}: {e}"));
        assert_eq!(event.event_type, "account");
    }
}
