//! Decoding a realistic 3scale webhook; the target is at most 10 µs for a 2 KB body.
// A failed expectation in a test is a failed test, not a panic on the request path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use access_token_revoker::webhook::decode;
use base64::Engine as _;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn bodies() -> Vec<(&'static str, Vec<u8>)> {
    let xml = include_str!("../events/payloads/application-created.xml");
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("xml", xml)
        .finish();
    let base64 = base64::engine::general_purpose::STANDARD.encode(xml);
    vec![
        ("xml", xml.as_bytes().to_vec()),
        ("form", form.into_bytes()),
        ("base64", base64.into_bytes()),
    ]
}

fn bench_decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode_application_created");
    for (shape, body) in bodies() {
        assert!(decode(&body).is_ok(), "{shape} must decode");
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(format!("{shape}_{}B", body.len()), |b| {
            b.iter(|| decode(black_box(&body)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_decode);
criterion_main!(benches);
