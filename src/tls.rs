//! One TLS stack for the whole binary: rustls 0.23 with ring, shared by reqwest (the admin API)
//! and the AWS SDK (Secrets Manager). ring rather than aws-lc-rs keeps the Lambda bootstrap
//! small; see the "Performance" section of the README.

#[cfg(feature = "secrets-manager")]
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

/// Makes ring rustls's process-wide crypto provider. reqwest is built with
/// `rustls-no-provider` and panics when a client is built before one is installed.
///
/// Idempotent: call it before building any HTTP client ([`AdminApiClient::new`] does).
///
/// [`AdminApiClient::new`]: crate::AdminApiClient::new
pub fn install_crypto_provider() {
    // Err only says a provider is installed already; ring is the only one linked in.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The AWS SDK configuration loader, with an HTTPS client on rustls + ring.
///
/// Like `aws_config::load_from_env`, it reads credentials, region and `AWS_ENDPOINT_URL` /
/// `AWS_ENDPOINT_URL_SECRETS_MANAGER` from the environment; nothing is fetched until the
/// first call. Unlike the SDK's default client, it ignores `HTTPS_PROXY`.
#[cfg(feature = "secrets-manager")]
pub fn aws_config_loader() -> aws_config::ConfigLoader {
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(https)
}
