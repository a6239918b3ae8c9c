//! The webhook URL: the stack's `WebhookUrl` with the secret as `?secret=`, compared and shown
//! without the secret.

use crate::admin_api::web_hooks::MAX_URL_CHARS;
use crate::portal::is_loopback;
use crate::sensitive::SharedSecret;
use reqwest::Url;

/// The URL 3scale should call: `base` plus `secret=`; refuses what 3scale or the function would
/// not take. Errors never quote the URL's query.
pub fn with_secret(base: &str, secret: &SharedSecret) -> Result<Url, String> {
    let mut url = Url::parse(base.trim()).map_err(|_| {
        "--webhook-url is not an absolute URL: pass the stack's WebhookUrl output".to_owned()
    })?;
    match url.scheme() {
        "https" if url.host().is_some() => {}
        // The secret would cross the network in the clear; the local loop is on loopback.
        "http" if url.host().is_some_and(|host| is_loopback(&host)) => {}
        _ => {
            return Err(
                "--webhook-url must be https (http only to a loopback host): it carries the secret"
                    .to_owned(),
            );
        }
    }
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err("--webhook-url must have no credentials and no #fragment".to_owned());
    }
    if secret_of(&url).is_some() {
        return Err(
            "--webhook-url already has a secret= parameter: pass the stack's WebhookUrl without \
             it; the secret comes from WEBHOOK_SECRET or the secret's webhook_secret"
                .to_owned(),
        );
    }
    url.query_pairs_mut().append_pair("secret", secret.expose());
    let length = url.as_str().chars().count();
    if length > MAX_URL_CHARS {
        return Err(format!(
            "the webhook URL with ?secret= is {length} characters; 3scale keeps at most \
             {MAX_URL_CHARS} (app/models/web_hook.rb): use a shorter webhook secret, or a \
             shorter URL (an API Gateway custom domain)"
        ));
    }
    Ok(url)
}

/// The value of the URL's `secret` parameter, if it has one.
pub fn secret_of(url: &Url) -> Option<String> {
    url.query_pairs()
        .find(|(name, _)| name == "secret")
        .map(|(_, value)| value.into_owned())
}

/// The URL with every query value hidden, the secret's first: for our own URL.
pub fn shown(url: &Url) -> String {
    let mut shown = url.clone();
    let pairs: Vec<(String, &str)> = url
        .query_pairs()
        .map(|(name, _)| (name.into_owned(), "REDACTED"))
        .collect();
    if !pairs.is_empty() {
        shown.set_query(None);
        shown.query_pairs_mut().extend_pairs(pairs);
    }
    shown.to_string()
}

/// Only the host of a URL that is not ours: its path and query may hold another's secrets.
pub fn host_of(url: &str) -> String {
    Url::parse(url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
        .unwrap_or_else(|| "a value that is not a URL".to_owned())
}

/// The same endpoint: scheme, host, port and path; the query aside.
pub fn same_endpoint(stored: &str, ours: &Url) -> bool {
    Url::parse(stored).is_ok_and(|stored| {
        stored.scheme() == ours.scheme()
            && stored.host_str() == ours.host_str()
            && stored.port_or_known_default() == ours.port_or_known_default()
            && stored.path() == ours.path()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> SharedSecret {
        SharedSecret::new("s3cr3t-Value").expect("non-empty")
    }

    #[test]
    fn the_secret_is_appended_and_never_shown() {
        let url = with_secret(
            "https://abc.execute-api.eu-west-1.amazonaws.com/webhook",
            &secret(),
        )
        .expect("valid");
        assert_eq!(
            url.as_str(),
            "https://abc.execute-api.eu-west-1.amazonaws.com/webhook?secret=s3cr3t-Value"
        );
        assert_eq!(secret_of(&url).as_deref(), Some("s3cr3t-Value"));
        assert_eq!(
            shown(&url),
            "https://abc.execute-api.eu-west-1.amazonaws.com/webhook?secret=REDACTED"
        );
        let kept = with_secret("http://127.0.0.1:9000/webhook?stage=x", &secret()).expect("ok");
        assert_eq!(kept.query(), Some("stage=x&secret=s3cr3t-Value"));
        assert_eq!(
            shown(&kept),
            "http://127.0.0.1:9000/webhook?stage=REDACTED&secret=REDACTED"
        );
        assert!(same_endpoint(
            "https://abc.execute-api.eu-west-1.amazonaws.com:443/webhook?secret=old",
            &url
        ));
        assert!(!same_endpoint(
            "https://abc.execute-api.eu-west-1.amazonaws.com/other",
            &url
        ));
        assert!(!same_endpoint("not a url", &url));
        assert_eq!(
            host_of("https://hooks.example.com/x?token=t0k"),
            "hooks.example.com"
        );
    }

    #[test]
    fn urls_3scale_or_the_function_would_not_take_are_refused() {
        for bad in [
            "abc.execute-api.amazonaws.com/webhook",
            "http://abc.execute-api.amazonaws.com/webhook",
            "ftp://127.0.0.1/webhook",
            "https://user:pw@abc.example.com/webhook",
            "https://abc.example.com/webhook#x",
            "https://abc.example.com/webhook?secret=inline",
        ] {
            let err = with_secret(bad, &secret()).expect_err(bad);
            assert!(!err.contains("s3cr3t") && !err.contains("inline"), "{err}");
        }
        let long = format!("https://abc.example.com/{}", "w".repeat(220));
        let err = with_secret(&long, &secret()).expect_err("too long");
        assert!(err.contains("255") && err.contains("at most"), "{err}");
        let just = format!("https://abc.example.com/{}", "w".repeat(255 - 44));
        assert_eq!(
            with_secret(&just, &secret()).map(|u| u.as_str().len()),
            Ok(255)
        );
    }
}
