//! `AccessToken::parse` and `tokens_url`: the path stays under
//! `…/admin/api/personal/access_tokens`, on the admin portal's host.

use access_token_revoker::AdminPortal;
use access_token_revoker::admin_api::{TokenId, TokenToRevoke, answers, tokens_url};
use access_token_revoker::sensitive::{AccessToken, MAX_TOKEN_LEN, TokenError};
use reqwest::Url;

/// Admin portal URLs, with and without a path prefix, that the revoke URL is built on.
pub const ADMIN_URLS: [&str; 8] = [
    "https://acme-admin.3scale.net",
    "https://acme-admin.3scale.net/",
    "https://gw.example.com/3scale/",
    "https://gw.example.com/3scale",
    "http://127.0.0.1:9001",
    "https://[::1]:8443/a/b/",
    "https://gw.example.com/a%2Fb//",
    "https://gw.example.com:8080/%2e%2e/x/..",
];

/// Input: flags, then `token 0xFF id 0xFF admin_url`. `AccessToken::parse` must accept exactly
/// `[A-Za-z0-9_-]{1,256}`; what it accepts must build a URL that stays under the token API of
/// the admin portal's host, by value and by id, and on a fuzzed admin URL too.
pub fn token_url(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut parts = rest.split(|b| *b == 0xFF);
    let raw_token = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let raw_id = parts.next().unwrap_or_default();
    let raw_admin = String::from_utf8_lossy(parts.next().unwrap_or_default());

    let parsed = AccessToken::parse(&raw_token);
    let expected = if raw_token.is_empty() {
        Err(TokenError::Empty)
    } else if raw_token.len() > MAX_TOKEN_LEN {
        Err(TokenError::TooLong)
    } else if !raw_token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        Err(TokenError::BadCharacter)
    } else {
        Ok(raw_token.as_ref())
    };
    assert_eq!(
        parsed.as_ref().map(AccessToken::expose),
        expected.as_ref().map(|t| *t)
    );
    let Ok(token) = parsed else {
        return;
    };
    // Debug shows a fingerprint; a token longer than all of it cannot hide in it by chance.
    assert!(token.expose().len() <= 28 || !format!("{token:?}").contains(token.expose()));

    let id = std::str::from_utf8(raw_id)
        .ok()
        .and_then(answers::parse_id)
        .unwrap_or_else(|| {
            raw_id
                .iter()
                .fold(0u64, |n, b| n.rotate_left(8) ^ u64::from(*b))
        });
    let mut admins = vec![ADMIN_URLS[usize::from(flags) % ADMIN_URLS.len()].to_owned()];
    if !raw_admin.is_empty() {
        admins.push(raw_admin.into_owned());
    }
    for admin in admins {
        let Ok(portal) = AdminPortal::new(&admin, None) else {
            continue;
        };
        let admin_url = portal.admin_url();
        check_tokens_url(admin_url, None);
        check_tokens_url(
            admin_url,
            Some(TokenToRevoke {
                value: &token,
                id: None,
            }),
        );
        check_tokens_url(
            admin_url,
            Some(TokenToRevoke {
                value: &token,
                id: Some(TokenId(id)),
            }),
        );
    }
}

/// The token API URL for `token` on `admin_url`: same origin, the admin URL's path, then
/// exactly `admin/api/personal/access_tokens(.json|/{id or value}.json)`; no query, no fragment.
pub fn check_tokens_url(admin_url: &Url, token: Option<TokenToRevoke<'_>>) {
    let url = tokens_url(admin_url, token).expect("an http(s) admin_url always takes a path");
    assert_eq!(url.scheme(), admin_url.scheme());
    assert_eq!(
        url.host_str(),
        admin_url.host_str(),
        "the host never changes"
    );
    assert_eq!(url.port(), admin_url.port());
    assert_eq!((url.username(), url.password()), ("", None));
    assert_eq!((url.query(), url.fragment()), (None, None));
    let base = admin_url.path();
    let base = base.strip_suffix('/').unwrap_or(base);
    let under = format!("{base}/admin/api/personal/access_tokens");
    let expected = match token {
        None => format!("{under}.json"),
        Some(TokenToRevoke { id: Some(id), .. }) => format!("{under}/{}.json", id.0),
        Some(TokenToRevoke { value, id: None }) => format!("{under}/{}.json", value.expose()),
    };
    // The one liberty the url crate takes: an admin path of "//" gives "/admin/…", not "//admin/…".
    let expected = match expected.strip_prefix("//") {
        Some(single) if base == "/" => format!("/{single}"),
        _ => expected,
    };
    assert_eq!(url.path(), expected);
    // What goes on the wire is the string: read back, it is the same URL.
    assert_eq!(Url::parse(url.as_str()).as_ref(), Ok(&url));
}
