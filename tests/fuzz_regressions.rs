//! The fuzz targets as plain tests: every seed (fuzz/seeds/ and the events/ that
//! `scripts/fuzz` also starts from) and every minimized input a fuzzer found
//! (tests/fuzz-regressions/TARGET/) goes through the same harness `cargo fuzz` runs,
//! the fuzz-harness crate (fuzz/harness/). A panic is a failed property.
// A failed expectation in a test is a failed test, not a panic on the request path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use fuzz_harness as harness;

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every file directly in `dir`, sorted; none if it does not exist.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.is_file());
    files.sort();
    files
}

/// The events/ fixtures in every envelope, and the scheduled event.
fn event_files() -> Vec<PathBuf> {
    ["apigw-rest", "apigw-http", "function-url", "scheduled"]
        .iter()
        .flat_map(|dir| files(&root().join("events").join(dir)))
        .collect()
}

/// What `scripts/fuzz` seeds `target` with, then what fuzzing found.
fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let mut inputs = Vec::new();
    let mut add = |name: String, bytes: Vec<u8>| inputs.push((name, bytes));
    let read = |path: &Path| std::fs::read(path).expect("readable");
    for path in files(&root().join("fuzz/seeds").join(target))
        .into_iter()
        .chain(files(&root().join("tests/fuzz-regressions").join(target)))
    {
        add(path.display().to_string(), read(&path));
    }
    match target {
        "decode" => {
            for path in files(&root().join("events/payloads")) {
                if path.extension().is_some_and(|e| e == "xml") {
                    add(path.display().to_string(), read(&path));
                }
            }
            for path in event_files() {
                let event: serde_json::Value =
                    serde_json::from_slice(&read(&path)).expect("event JSON");
                if let Some(body) = event.get("body").and_then(|b| b.as_str()) {
                    add(format!("{} (body)", path.display()), body.into());
                }
            }
        }
        "answers" => {
            let path = root().join("events/payloads/webhook-failures.json");
            add(path.display().to_string(), read(&path));
        }
        "lambda_event" => {
            for path in event_files() {
                add(path.display().to_string(), read(&path));
            }
        }
        _ => {}
    }
    inputs
}

fn replay(target: &str, run: fn(&[u8])) {
    let inputs = inputs(target);
    assert!(inputs.len() >= 4, "{target}: only {} seeds", inputs.len());
    for (name, bytes) in inputs {
        if std::panic::catch_unwind(|| run(&bytes)).is_err() {
            panic!("{target}: {name} failed a property (see the panic above)");
        }
    }
}

#[test]
fn decode_seeds_and_findings() {
    replay("decode", harness::decode);
}

#[test]
fn token_url_seeds_and_findings() {
    replay("token_url", harness::token_url);
}

#[test]
fn answers_seeds_and_findings() {
    replay("answers", harness::answers);
}

#[test]
fn lambda_event_seeds_and_findings() {
    replay("lambda_event", harness::lambda_event);
}

/// Each of the fixtures a structured input edits, unedited, is served as events/ says.
#[test]
fn every_structured_fixture_is_served() {
    for flags in 0x80..0x80 + harness::FIXTURES.len() as u8 {
        for settings in [0x00, 0x01, 0x0E, 0x70, 0x86] {
            harness::lambda_event(&[flags, settings]);
        }
    }
}
