//! What a failed connection to the admin portal says, read from the error alone: pure, no I/O.
//!
//! rustls reports why it refused a certificate as a `rustls::Error`, which reaches reqwest's
//! error wrapped in an `std::io::Error` (tokio-rustls) somewhere down its source chain.

use rustls::CertificateError;
use std::error::Error;
use std::fmt;

/// A TLS failure with the admin portal: the same on every attempt, so never retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsFailure {
    /// The chain ends at no trusted root: a private CA missing from `admin_ca_pem`.
    NotTrusted,
    /// The certificate is not issued for `admin_url`'s host.
    NameMismatch,
    /// The certificate is expired, or not valid yet (a clock or renewal problem).
    Expired,
    /// No TLS session at all: no common version or cipher, not TLS, or an alert.
    Handshake,
}

impl TlsFailure {
    /// The audit line's `reason`.
    pub fn code(self) -> &'static str {
        match self {
            Self::NotTrusted => "tls_not_trusted",
            Self::NameMismatch => "tls_name_mismatch",
            Self::Expired => "tls_expired",
            Self::Handshake => "tls_handshake",
        }
    }
}

impl fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotTrusted => {
                "certificate not trusted: its CA is not among the system roots; \
                 add the CA to the secret as admin_ca_pem"
            }
            Self::NameMismatch => {
                "certificate name mismatch: the certificate is not issued for admin_url's host"
            }
            Self::Expired => "certificate expired or not yet valid",
            Self::Handshake => "handshake failure: no TLS session could be agreed",
        })
    }
}

/// The TLS failure somewhere in `err`'s source chain, if there is one.
///
/// ```
/// use access_token_revoker::admin_api::transport::{tls_failure, TlsFailure};
/// use rustls::{CertificateError, Error};
///
/// let io = std::io::Error::new(
///     std::io::ErrorKind::InvalidData,
///     Error::InvalidCertificate(CertificateError::UnknownIssuer),
/// );
/// assert_eq!(tls_failure(&io), Some(TlsFailure::NotTrusted));
/// let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
/// assert_eq!(tls_failure(&refused), None);
/// ```
pub fn tls_failure(err: &(dyn Error + 'static)) -> Option<TlsFailure> {
    let mut next = Some(err);
    while let Some(err) = next {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(from_rustls(tls));
        }
        // io::Error's own `source` skips the error it wraps: look inside it instead.
        next = match err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn Error + 'static)),
            None => err.source(),
        };
    }
    None
}

fn from_rustls(err: &rustls::Error) -> TlsFailure {
    match err {
        rustls::Error::InvalidCertificate(why) => match why {
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                TlsFailure::NameMismatch
            }
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => TlsFailure::Expired,
            // Unknown issuer, a bad signature, revocation, the wrong purpose: not trusted.
            _ => TlsFailure::NotTrusted,
        },
        _ => TlsFailure::Handshake,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    /// An error whose source is `inner`, as reqwest and hyper wrap theirs.
    #[derive(Debug)]
    struct Wrapper(Box<dyn Error + Send + Sync>);

    impl fmt::Display for Wrapper {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("client error (Connect)")
        }
    }

    impl Error for Wrapper {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&*self.0)
        }
    }

    fn wrapped(err: rustls::Error) -> Wrapper {
        let io = io::Error::new(io::ErrorKind::InvalidData, err);
        Wrapper(Box::new(Wrapper(Box::new(io))))
    }

    #[test]
    fn each_certificate_error_is_named_for_what_it_is() {
        for (why, failure) in [
            (CertificateError::UnknownIssuer, TlsFailure::NotTrusted),
            (CertificateError::BadSignature, TlsFailure::NotTrusted),
            (CertificateError::Revoked, TlsFailure::NotTrusted),
            (CertificateError::InvalidPurpose, TlsFailure::NotTrusted),
            (CertificateError::NotValidForName, TlsFailure::NameMismatch),
            (CertificateError::Expired, TlsFailure::Expired),
            (CertificateError::NotValidYet, TlsFailure::Expired),
        ] {
            let err = wrapped(rustls::Error::InvalidCertificate(why.clone()));
            assert_eq!(tls_failure(&err), Some(failure), "{why:?}");
        }
        let alert = rustls::Error::AlertReceived(rustls::AlertDescription::ProtocolVersion);
        assert_eq!(tls_failure(&wrapped(alert)), Some(TlsFailure::Handshake));
        let garbage = rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType);
        assert_eq!(tls_failure(&wrapped(garbage)), Some(TlsFailure::Handshake));
    }

    #[test]
    fn other_failures_are_not_tls() {
        let refused = Wrapper(Box::new(io::Error::from(io::ErrorKind::ConnectionRefused)));
        assert_eq!(tls_failure(&refused), None);
        let eof = Wrapper(Box::new(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "tls handshake eof",
        )));
        assert_eq!(
            tls_failure(&eof),
            None,
            "a dropped connection may be retried"
        );
    }

    #[test]
    fn messages_say_the_four_kinds_in_plain_words() {
        for (failure, says) in [
            (TlsFailure::NotTrusted, "not trusted"),
            (TlsFailure::NameMismatch, "name mismatch"),
            (TlsFailure::Expired, "expired or not yet valid"),
            (TlsFailure::Handshake, "handshake failure"),
        ] {
            assert!(failure.to_string().contains(says), "{failure:?}");
        }
    }
}
