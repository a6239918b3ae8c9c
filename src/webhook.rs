//! Pure decoder for 3scale webhook deliveries: bytes in, [`WebhookEvent`] out.
//!
//! 3scale renders `<event><type/><action/><object><{kind}>…</{kind}></object></event>` and
//! posts it either as the raw body (`application/xml`) or form-encoded in a field
//! (`xml`; RestClient nests it as `params[xml]`). Either may arrive base64-encoded.

use std::borrow::Cow;

/// Largest webhook body accepted (bytes, after any base64 decoding by API Gateway).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// XML node budget: a real 3scale event has a few hundred nodes.
const MAX_XML_NODES: u32 = 20_000;

/// Form fields that may carry the event XML.
const FORM_XML_FIELDS: [&str; 2] = ["xml", "params[xml]"];

/// One 3scale webhook event, reduced to what the revoker needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    /// `<type>`: application, account, user, …
    pub event_type: String,
    /// `<action>`: created, updated, deleted, …
    pub action: String,
    /// The object the event is about.
    pub object: EventObject,
}

/// The element inside `<object>`, e.g. `<application>`.
#[derive(Clone, PartialEq, Eq)]
pub struct EventObject {
    /// Element name: application, account, user, …
    pub kind: String,
    /// The object's `<id>`.
    pub id: Option<String>,
    /// The developer account it belongs to (`user_account_id`, `account_id`, or the account's own id).
    pub account_id: Option<String>,
    /// `<extra_fields>` children in document order; values are custom fields and may be secret.
    pub extra_fields: Vec<(String, String)>,
}

// Extra fields may hold the token: Debug shows their names only.
impl std::fmt::Debug for EventObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.extra_fields.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("EventObject")
            .field("kind", &self.kind)
            .field("id", &self.id)
            .field("account_id", &self.account_id)
            .field("extra_field_names", &names)
            .finish()
    }
}

impl WebhookEvent {
    /// The first non-empty value of the named extra field.
    pub fn extra_field(&self, name: &str) -> Option<&str> {
        self.object
            .extra_fields
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }
}

/// Why a body is not a 3scale webhook event. Messages never quote the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// No body at all.
    #[error("the body is empty")]
    Empty,
    /// Over [`MAX_BODY_BYTES`].
    #[error("the body is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    /// Neither XML, a form with an `xml` field, nor base64 of either.
    #[error("the body is not XML, a form with an xml field, or base64 of either")]
    UnknownEncoding,
    /// The XML text is not UTF-8.
    #[error("the XML is not valid UTF-8")]
    NotUtf8,
    /// A `<!DOCTYPE>`: refused, as it enables entity expansion.
    #[error("the XML has a DTD, which is not accepted")]
    Dtd,
    /// Not well-formed XML.
    #[error("malformed XML at line {line}, column {column}")]
    MalformedXml {
        /// 1-based line of the error.
        line: u32,
        /// 1-based column of the error.
        column: u32,
    },
    /// Well-formed XML that is not a 3scale `<event>`.
    #[error("not a 3scale event: {0}")]
    NotAnEvent(&'static str),
}

impl DecodeError {
    /// Stable machine-readable code for the JSON error body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "empty_body",
            Self::TooLarge => "body_too_large",
            Self::UnknownEncoding => "unknown_encoding",
            Self::NotUtf8 => "invalid_utf8",
            Self::Dtd => "dtd_not_allowed",
            Self::MalformedXml { .. } => "malformed_xml",
            Self::NotAnEvent(_) => "not_a_3scale_event",
        }
    }
}

/// Decodes a webhook body in any of the shapes 3scale and API Gateway produce.
///
/// ```
/// use access_token_revoker::webhook::decode;
///
/// let xml = "<event><action>created</action><type>application</type><object><application>\
///     <id>42</id><user_account_id>7</user_account_id>\
///     <extra_fields><token_value>abc123</token_value></extra_fields>\
///     </application></object></event>";
/// let event = decode(xml.as_bytes()).unwrap();
/// assert_eq!((event.event_type.as_str(), event.action.as_str()), ("application", "created"));
/// assert_eq!(event.object.account_id.as_deref(), Some("7"));
/// assert_eq!(event.extra_field("token_value"), Some("abc123"));
///
/// // The same event as 3scale's form-encoded delivery.
/// let form = format!("xml={}", xml.replace('<', "%3C").replace('>', "%3E"));
/// assert_eq!(decode(form.as_bytes()).unwrap(), event);
/// ```
pub fn decode(body: &[u8]) -> Result<WebhookEvent, DecodeError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(DecodeError::TooLarge);
    }
    decode_layer(body, true)
}

// `allow_base64` stops after one base64 layer, so input cannot make us recurse.
fn decode_layer(body: &[u8], allow_base64: bool) -> Result<WebhookEvent, DecodeError> {
    let body = trim(body);
    if body.is_empty() {
        return Err(DecodeError::Empty);
    }
    if let Some(parsed) = parse_if_xml(body) {
        return parsed;
    }
    if let Some(xml) = form_xml_field(body) {
        return decode_form_value(&xml, allow_base64);
    }
    if allow_base64 && let Some(decoded) = base64_decode(body) {
        return decode_layer(&decoded, false);
    }
    Err(DecodeError::UnknownEncoding)
}

fn decode_form_value(value: &str, allow_base64: bool) -> Result<WebhookEvent, DecodeError> {
    let value = trim(value.as_bytes());
    if let Some(parsed) = parse_if_xml(value) {
        return parsed;
    }
    match base64_decode(value) {
        Some(decoded) if allow_base64 && trim(&decoded).first() == Some(&b'<') => {
            decode_layer(&decoded, false)
        }
        _ => Err(DecodeError::UnknownEncoding),
    }
}

/// `Some` when the (trimmed) bytes start like XML: then they must parse as a 3scale event.
fn parse_if_xml(bytes: &[u8]) -> Option<Result<WebhookEvent, DecodeError>> {
    (bytes.first() == Some(&b'<')).then(|| {
        std::str::from_utf8(bytes)
            .map_err(|_| DecodeError::NotUtf8)
            .and_then(parse_xml)
    })
}

fn form_xml_field(body: &[u8]) -> Option<Cow<'_, str>> {
    // Cheap pre-check: base64 padding also has '=', and parsing such a body as a form decodes
    // all of it (its '+' signs) only to find no xml field.
    let ends_an_xml_key = |at: usize| {
        let before = body.get(..at).unwrap_or_default();
        [&b"xml"[..], b"xml]", b"xml%5D"].iter().any(|key| {
            before
                .len()
                .checked_sub(key.len())
                .and_then(|start| before.get(start..))
                .is_some_and(|tail| tail.eq_ignore_ascii_case(key))
        })
    };
    let mut equals = body.iter().enumerate().filter(|(_, b)| **b == b'=');
    if !equals.any(|(at, _)| ends_an_xml_key(at)) {
        return None;
    }
    form_urlencoded::parse(body)
        .find(|(key, _)| FORM_XML_FIELDS.contains(&key.as_ref()))
        .map(|(_, value)| value)
}

fn base64_decode(input: &[u8]) -> Option<Vec<u8>> {
    // MIME-style base64 may be wrapped; drop line breaks before decoding.
    let compact: Cow<'_, [u8]> = if input.iter().any(u8::is_ascii_whitespace) {
        Cow::Owned(
            input
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect(),
        )
    } else {
        Cow::Borrowed(input)
    };
    // SIMD decoder: already in the tree through the AWS SDK, and 3x the plain one.
    base64_simd::STANDARD.decode_to_vec(compact.as_ref()).ok()
}

fn trim(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    bytes.trim_ascii()
}

fn parse_xml(text: &str) -> Result<WebhookEvent, DecodeError> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_XML_NODES,
        ..roxmltree::ParsingOptions::default()
    };
    let doc = roxmltree::Document::parse_with_options(text, options).map_err(|err| match err {
        roxmltree::Error::DtdDetected => DecodeError::Dtd,
        other => {
            let pos = other.pos();
            DecodeError::MalformedXml {
                line: pos.row,
                column: pos.col,
            }
        }
    })?;
    let event = doc.root_element();
    if event.tag_name().name() != "event" {
        return Err(DecodeError::NotAnEvent("the root element is not <event>"));
    }
    let event_type =
        child_text(event, "type").ok_or(DecodeError::NotAnEvent("<type> is missing"))?;
    let action =
        child_text(event, "action").ok_or(DecodeError::NotAnEvent("<action> is missing"))?;
    let object = child(event, "object")
        .and_then(|o| o.children().find(roxmltree::Node::is_element))
        .ok_or(DecodeError::NotAnEvent("<object> is missing or empty"))?;

    let kind = object.tag_name().name().to_owned();
    let id = child_text(object, "id");
    let account_id = if kind == "account" {
        id.clone()
    } else {
        child_text(object, "user_account_id").or_else(|| child_text(object, "account_id"))
    };
    let extra_fields = child(object, "extra_fields")
        .map(|fields| {
            fields
                .children()
                .filter(roxmltree::Node::is_element)
                .map(|f| (f.tag_name().name().to_owned(), text_of(f)))
                .collect()
        })
        .unwrap_or_default();

    Ok(WebhookEvent {
        event_type,
        action,
        object: EventObject {
            kind,
            id,
            account_id,
            extra_fields,
        },
    })
}

fn child<'a, 'input>(
    node: roxmltree::Node<'a, 'input>,
    name: &str,
) -> Option<roxmltree::Node<'a, 'input>> {
    node.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

fn child_text(node: roxmltree::Node<'_, '_>, name: &str) -> Option<String> {
    child(node, name)
        .map(text_of)
        .filter(|text| !text.is_empty())
}

// Joins text and CDATA pieces; 3scale strips values, so surrounding whitespace is noise.
fn text_of(node: roxmltree::Node<'_, '_>) -> String {
    let mut text = String::new();
    for piece in node.children().filter(roxmltree::Node::is_text) {
        text.push_str(piece.text().unwrap_or_default());
    }
    text.trim().to_owned()
}
