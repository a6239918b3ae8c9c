//! One `moto_server` per test binary standing in for Secrets Manager, reached by the real SDK
//! through `AWS_ENDPOINT_URL`, as in production (`tls::aws_config_loader`), with request
//! recording on, so tests can count the calls the function made.

use access_token_revoker::tls;
use base64::Engine as _;
use std::io::Read as _;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub struct Moto {
    recording: PathBuf,
    // Held open for the life of the test process; when it closes, the wrapper stops moto.
    _stdin: Mutex<ChildStdin>,
    _child: Mutex<Child>,
}

/// One moto_server for this test binary, with request recording on.
pub fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| {
        let port = super::free_port();
        let recording = std::env::temp_dir().join(format!(
            "moto-recording-{}-{port}.jsonl",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&recording);
        // `sh` below always starts, so look for moto_server first rather than time out.
        let on_path = std::env::var_os("PATH").is_some_and(|path| {
            std::env::split_paths(&path).any(|dir| dir.join("moto_server").is_file())
        });
        assert!(
            on_path,
            "moto_server is not on PATH: run the tests with scripts/test, \
             or pip install 'moto[server]'"
        );
        // `read` returns when this process exits and the pipe closes, so moto never outlives us.
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "moto_server -H 127.0.0.1 -p {port} >/dev/null 2>&1 & m=$!; read _; kill $m"
            ))
            .env("MOTO_ENABLE_RECORDING", "True")
            .env("MOTO_RECORDER_FILEPATH", &recording)
            .stdin(Stdio::piped())
            .spawn()
            .expect("sh");
        let stdin = child.stdin.take().expect("piped stdin");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let url = format!("http://127.0.0.1:{port}");
        // SAFETY: set once, before any test reads the environment (every test calls moto() first,
        // and OnceLock blocks them until this closure returns).
        unsafe {
            std::env::set_var("AWS_ENDPOINT_URL", &url);
            std::env::set_var("AWS_ACCESS_KEY_ID", "test");
            std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
            std::env::set_var("AWS_REGION", "us-east-1");
            std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        }
        Moto {
            recording,
            _stdin: Mutex::new(stdin),
            _child: Mutex::new(child),
        }
    })
}

/// A client of this binary's moto_server.
pub async fn secrets_client() -> aws_sdk_secretsmanager::Client {
    moto();
    aws_sdk_secretsmanager::Client::new(&tls::aws_config_loader().load().await)
}

pub async fn create_secret(client: &aws_sdk_secretsmanager::Client, name: &str, value: &str) {
    client
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .expect("CreateSecret on moto");
}

/// The bodies of the `operation` requests (`GetSecretValue`, `PutSecretValue`, …) moto
/// recorded, in order, parsed.
pub fn recorded(operation: &str) -> Vec<serde_json::Value> {
    let mut text = String::new();
    if let Ok(mut file) = std::fs::File::open(&moto().recording) {
        file.read_to_string(&mut text).expect("recording");
    }
    let target = format!("secretsmanager.{operation}");
    text.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|entry| {
            entry["headers"]
                .as_object()
                .and_then(|h| {
                    h.iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case("x-amz-target"))
                })
                .and_then(|(_, v)| v.as_str())
                == Some(target.as_str())
        })
        .filter_map(|entry| {
            let raw = entry["body"].as_str().unwrap_or_default();
            let body = if entry["body_encoded"] == true {
                base64::engine::general_purpose::STANDARD.decode(raw).ok()?
            } else {
                raw.as_bytes().to_vec()
            };
            serde_json::from_slice(&body).ok()
        })
        .collect()
}

/// How many `operation` requests moto recorded for one of `secret_ids`.
pub fn recorded_calls(operation: &str, secret_ids: &[&str]) -> usize {
    recorded(operation)
        .iter()
        .filter(|body| {
            body["SecretId"]
                .as_str()
                .is_some_and(|id| secret_ids.contains(&id))
        })
        .count()
}

/// GetSecretValue calls moto recorded for this secret id.
pub fn get_secret_value_calls(secret_id: &str) -> usize {
    recorded_calls("GetSecretValue", &[secret_id])
}
