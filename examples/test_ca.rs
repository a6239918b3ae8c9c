//! Writes a private CA and a certificate it issues for the loopback admin portal stand-in, for
//! `scripts/smoke-local` and `scripts/first-delivery.py`: `cargo run --example test_ca -- DIR`
//! makes DIR/ca.pem (what `admin_ca_pem` or `THREESCALE_ADMIN_CA_FILE` holds) and DIR/admin.pem,
//! DIR/admin.key (`scripts/fake-admin-api.py --tls-cert/--tls-key`), for 127.0.0.1 and
//! localhost. The same certificates as the tests make (tests/common/certs.rs, rcgen on ring).
// A test tool, not the request path: a failed step stops it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[allow(dead_code)] // the tests use more of it
#[path = "../tests/common/certs.rs"]
mod certs;

fn main() {
    let Some(dir) = std::env::args_os().nth(1).map(std::path::PathBuf::from) else {
        eprintln!("usage: test_ca DIR");
        std::process::exit(2);
    };
    std::fs::create_dir_all(&dir).expect("DIR");
    let ca = certs::TestCa::new("access-token-revoker local test CA");
    let server = ca.loopback();
    std::fs::write(dir.join("ca.pem"), &ca.pem).expect("ca.pem");
    std::fs::copy(&server.cert, dir.join("admin.pem")).expect("admin.pem");
    std::fs::copy(&server.key, dir.join("admin.key")).expect("admin.key");
}
