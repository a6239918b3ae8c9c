//! Certificates made at test time (rcgen, on ring): a private CA, and the admin portal's
//! certificates it issues, good ones and bad ones, written where the HTTPS stand-in reads them.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, date_time_ymd,
};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A private CA, as an on-premises 3scale's corporate CA.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate, PEM: what goes into `admin_ca_pem`.
    pub pem: String,
}

/// When a certificate is valid.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// From 2020 to 4000.
    Current,
    /// 2020 to 2021: expired.
    Expired,
}

/// A server certificate and its key in files of their own, removed on drop.
pub struct ServerFiles {
    dir: PathBuf,
    /// The certificate, PEM.
    pub cert: PathBuf,
    /// Its private key, PEM.
    pub key: PathBuf,
}

impl TestCa {
    /// A new CA named `name`.
    pub fn new(name: &str) -> Self {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let pem = params.self_signed(&key).expect("CA certificate").pem();
        Self {
            issuer: Issuer::new(params, key),
            pem,
        }
    }

    /// A server certificate for `names` (DNS names or IP addresses).
    pub fn issue(&self, names: &[&str], validity: Validity) -> ServerFiles {
        let key = KeyPair::generate().expect("server key");
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).expect("server params");
        params
            .distinguished_name
            .push(DnType::CommonName, "3scale admin portal stand-in");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = match validity {
            Validity::Current => date_time_ymd(4000, 1, 1),
            Validity::Expired => date_time_ymd(2021, 1, 1),
        };
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("server certificate");
        ServerFiles::write(&cert.pem(), &key.serialize_pem())
    }

    /// A certificate for the loopback stand-in: `127.0.0.1` and `localhost`.
    pub fn loopback(&self) -> ServerFiles {
        self.issue(&["127.0.0.1", "localhost"], Validity::Current)
    }
}

impl ServerFiles {
    fn write(cert: &str, key: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "revoker-tls-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let files = Self {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
            dir,
        };
        std::fs::write(&files.cert, cert).expect("cert file");
        std::fs::write(&files.key, key).expect("key file");
        files
    }

    /// The folder both files are in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for ServerFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
