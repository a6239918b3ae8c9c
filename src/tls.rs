//! One TLS stack for the whole binary: rustls 0.23 with ring, shared by reqwest (the admin API)
//! and the AWS SDK (Secrets Manager). ring rather than aws-lc-rs keeps the Lambda bootstrap
//! small; see the "Performance" section of the README. Also: the private CA the admin API
//! client adds to the system roots, and how long a Secrets Manager read may take.

#[cfg(feature = "secrets-manager")]
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

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

/// CA certificates the admin API client trusts on top of the system roots (a private or
/// corporate CA of an on-premises 3scale). `Debug` shows a fingerprint, never the PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminCa {
    certificates: Arc<[CertificateDer<'static>]>,
    digest: [u8; 32],
}

/// Why a CA bundle is unusable; says nothing of its content, and the caller names the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CaError {
    /// No `-----BEGIN CERTIFICATE-----` section at all.
    #[error("holds no PEM certificate")]
    NoCertificate,
    /// A certificate section whose base64 does not decode.
    #[error("is not valid PEM")]
    NotPem,
    /// A section that decodes, but not to a certificate a CA can be taken from (1-based).
    #[error("certificate {0} is not a usable X.509 CA certificate")]
    Unusable(usize),
}

impl AdminCa {
    /// Reads one or more PEM certificates, checking each as rustls will use it: a trust anchor.
    /// Sections other than certificates are skipped.
    pub fn from_pem(pem: &str) -> Result<Self, CaError> {
        let mut certificates = Vec::new();
        let mut anchors = rustls::RootCertStore::empty();
        let mut hasher = Sha256::new();
        for (at, section) in CertificateDer::pem_slice_iter(pem.as_bytes()).enumerate() {
            let der = section.map_err(|_| CaError::NotPem)?;
            anchors
                .add(der.clone())
                .map_err(|_| CaError::Unusable(at + 1))?;
            hasher.update((der.len() as u64).to_be_bytes());
            hasher.update(der.as_ref());
            certificates.push(der);
        }
        if certificates.is_empty() {
            return Err(CaError::NoCertificate);
        }
        Ok(Self {
            certificates: certificates.into(),
            digest: hasher.finalize().into(),
        })
    }

    /// The certificates, DER-encoded.
    pub fn certificates(&self) -> &[CertificateDer<'static>] {
        &self.certificates
    }

    /// SHA-256 over the certificates: tells one bundle from another.
    pub fn digest(&self) -> [u8; 32] {
        self.digest
    }

    /// The first 8 hex digits of [`Self::digest`], for logs.
    pub fn fingerprint(&self) -> String {
        self.digest
            .iter()
            .take(4)
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl fmt::Debug for AdminCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AdminCa({} certificates, sha256:{})",
            self.certificates.len(),
            self.fingerprint()
        )
    }
}

/// How long one read of the secret may take, retries included: the SDK's timeouts
/// ([`aws_config_loader`]) and the hard limit `SecretsManagerPortal` puts around them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretsManagerBound {
    /// Time allowed to connect (and to the proxy, with `HTTPS_PROXY`).
    pub connect: Duration,
    /// Time allowed between bytes of the answer.
    pub read: Duration,
    /// Time allowed for one attempt, TLS handshake included.
    pub attempt: Duration,
    /// Attempts, the first one included.
    pub attempts: u32,
    /// First retry delay (the SDK's standard strategy: random up to this, doubling).
    pub first_backoff: Duration,
    /// The whole read, every attempt and delay together.
    pub total: Duration,
}

/// Two attempts of 1.4 s within 3 s: a silent endpoint costs a delivery 3 s, not Lambda's
/// 60 s timeout, and 3 s plus the admin API's 8 s stays within the README's 11 s.
pub const SECRETS_MANAGER_BOUND: SecretsManagerBound = SecretsManagerBound {
    connect: Duration::from_secs(1),
    read: Duration::from_millis(1400),
    attempt: Duration::from_millis(1400),
    attempts: 2,
    first_backoff: Duration::from_millis(100),
    total: Duration::from_secs(3),
};

/// The AWS SDK configuration loader, with an HTTPS client on rustls + ring, bounded by
/// [`SECRETS_MANAGER_BOUND`].
///
/// Like `aws_config::load_from_env`, it reads credentials, region, `AWS_ENDPOINT_URL` /
/// `AWS_ENDPOINT_URL_SECRETS_MANAGER`, and `HTTPS_PROXY` / `NO_PROXY` from the environment;
/// nothing is fetched until the first call. It trusts the system roots only: `admin_ca_pem`
/// is for the admin portal.
#[cfg(feature = "secrets-manager")]
pub fn aws_config_loader() -> aws_config::ConfigLoader {
    use aws_config::retry::RetryConfig;
    use aws_config::timeout::TimeoutConfig;
    use aws_smithy_http_client::proxy::ProxyConfig;

    // What the SDK's own default client does (aws-smithy-runtime's default_https_client),
    // with ring instead of aws-lc-rs.
    let https =
        aws_smithy_http_client::Builder::new().build_with_connector_fn(|settings, components| {
            let mut connector = aws_smithy_http_client::ConnectorBuilder::default()
                .tls_provider(Provider::Rustls(CryptoMode::Ring));
            connector.set_connector_settings(settings.cloned());
            if let Some(components) = components {
                connector.set_sleep_impl(components.sleep_impl());
            }
            connector.set_proxy_config(Some(ProxyConfig::from_env()));
            connector.build()
        });
    let bound = SECRETS_MANAGER_BOUND;
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(bound.connect)
        .read_timeout(bound.read)
        .operation_attempt_timeout(bound.attempt)
        .operation_timeout(bound.total)
        .build();
    let retries = RetryConfig::standard()
        .with_max_attempts(bound.attempts)
        .with_initial_backoff(bound.first_backoff);
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https)
        .timeout_config(timeouts)
        .retry_config(retries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca_pem() -> String {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.self_signed(&key).expect("certificate").pem()
    }

    #[test]
    fn a_pem_bundle_is_read_checked_and_never_shown() {
        let (one, two) = (ca_pem(), ca_pem());
        let single = AdminCa::from_pem(&one).expect("one certificate");
        let bundle = AdminCa::from_pem(&format!("{one}\n{two}")).expect("a bundle");
        assert_eq!(
            (single.certificates().len(), bundle.certificates().len()),
            (1, 2)
        );
        assert_ne!(single.digest(), bundle.digest());
        assert_eq!(single, AdminCa::from_pem(&one).expect("same"));
        let shown = format!("{bundle:?}");
        assert!(shown.contains(&bundle.fingerprint()), "{shown}");
        assert!(!shown.contains("BEGIN"), "{shown}");

        assert_eq!(AdminCa::from_pem("").err(), Some(CaError::NoCertificate));
        assert_eq!(
            AdminCa::from_pem("just some text").err(),
            Some(CaError::NoCertificate)
        );
        let broken = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        assert_eq!(AdminCa::from_pem(broken).err(), Some(CaError::NotPem));
        let not_x509 = "-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n";
        assert_eq!(
            AdminCa::from_pem(&format!("{one}{not_x509}")).err(),
            Some(CaError::Unusable(2))
        );
    }

    #[test]
    fn the_sdk_timeouts_fit_within_the_secrets_manager_bound() {
        let b = SECRETS_MANAGER_BOUND;
        // Every attempt, each retry delay at its longest (the first doubles once per retry).
        let longest = b.attempt * b.attempts + b.first_backoff * (2u32.pow(b.attempts - 1) - 1);
        assert!(longest <= b.total, "{longest:?} > {:?}", b.total);
        assert!(b.connect <= b.attempt && b.read <= b.attempt);
        assert!(b.attempts >= 2, "one retry, for a dropped connection");
    }
}
