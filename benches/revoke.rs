//! What verification costs: a revocation against a loopback admin portal that answers as porta
//! does, over one kept-alive connection. `dead_token_by_id` is one round trip (the DELETE is
//! refused); `revoked_by_id` adds the verifying listing; `revoked_by_value` also lists first.
// A failed expectation in a test is a failed test, not a panic on the request path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use access_token_revoker::admin_api::TokenApi as _;
use access_token_revoker::admin_api::{TokenId, TokenToRevoke, Verdict};
use access_token_revoker::sensitive::AccessToken;
use access_token_revoker::{AdminApiClient, AdminPortal, RetryPolicy};
use criterion::{Criterion, criterion_group, criterion_main};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
const LISTING: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n{\"access_tokens\":[]}";
const ACCESS_DENIED: &[u8] = b"HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: 25\r\n\r\n{\"error\":\"Access denied\"}";

/// Per connection: a listing after a DELETE is refused, as porta refuses a deleted token. If
/// the client opened a new connection to verify, it would be told the token lives, and the
/// bench would stop on its assertion.
async fn serve(listener: TcpListener) {
    while let Ok((mut socket, _)) = listener.accept().await {
        tokio::spawn(async move {
            let mut pending = Vec::new();
            let mut chunk = [0u8; 4096];
            let mut deleted = false;
            loop {
                let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") else {
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => pending.extend_from_slice(&chunk[..n]),
                    }
                    continue;
                };
                let head: Vec<u8> = pending.drain(..end + 4).collect();
                let answer = if head.starts_with(b"DELETE") {
                    if head.windows(8).any(|w| w == b"/999.jso") {
                        ACCESS_DENIED
                    } else {
                        deleted = true;
                        OK
                    }
                } else if std::mem::take(&mut deleted) {
                    ACCESS_DENIED
                } else {
                    LISTING
                };
                if socket.write_all(answer).await.is_err() {
                    return;
                }
            }
        });
    }
}

fn bench_revoke(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let listener = runtime
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .expect("loopback listener");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    runtime.spawn(serve(listener));
    let portal = AdminPortal::new(&url, None).expect("portal");
    let client = AdminApiClient::new(RetryPolicy::default()).expect("client");
    let token = AccessToken::parse("8c3e1f0d7b2a4c6e9f5d1b3a7c0e2f4d").expect("token");

    let mut group = c.benchmark_group("revoke_loopback");
    for (name, id, expected) in [
        (
            "dead_token_by_id",
            Some(TokenId(999)),
            Verdict::AlreadyRevoked,
        ),
        ("revoked_by_id", Some(TokenId(101)), Verdict::Revoked),
        ("revoked_by_value", None, Verdict::Revoked),
    ] {
        let revoke =
            || runtime.block_on(client.revoke(&portal, TokenToRevoke { value: &token, id }));
        assert_eq!(revoke().verdict, expected, "{name}");
        group.bench_function(name, |b| b.iter(revoke));
    }
    group.finish();
}

criterion_group!(benches, bench_revoke);
criterion_main!(benches);
