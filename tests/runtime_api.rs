//! The real binary, served events by a stand-in for the Lambda Runtime API over loopback, as
//! Lambda serves them: a malformed event gets a 400 and the process goes on serving.
// A failed expectation in a test is a failed test, not a panic on the request path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::*;
use serde_json::Value;
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// What the function posted back for one invocation.
#[derive(Debug)]
enum Posted {
    Response(String, Value),
    Error(String, String),
}

/// A minimal Runtime API: hands out queued events on `/next`, collects what comes back.
struct RuntimeApi {
    address: String,
    events: mpsc::UnboundedSender<(String, Value)>,
    posted: mpsc::UnboundedReceiver<Posted>,
}

impl RuntimeApi {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("listener");
        let address = listener.local_addr().expect("address").to_string();
        let (events, queue) = mpsc::unbounded_channel();
        let (post, posted) = mpsc::unbounded_channel();
        let queue = Arc::new(tokio::sync::Mutex::new(queue));
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, Arc::clone(&queue), post.clone()));
            }
        });
        Self {
            address,
            events,
            posted,
        }
    }

    async fn invoke(&mut self, id: &str, event: Value) -> Posted {
        self.queue(id, event);
        self.next_posted().await
    }

    fn queue(&self, id: &str, event: Value) {
        self.events.send((id.to_owned(), event)).expect("queue");
    }

    /// The next answer the function posts, whichever invocation it is for.
    async fn next_posted(&mut self) -> Posted {
        tokio::time::timeout(Duration::from_secs(60), self.posted.recv())
            .await
            .expect("the function answers within a minute")
            .expect("an answer")
    }
}

async fn serve(
    mut socket: TcpStream,
    queue: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<(String, Value)>>>,
    post: mpsc::UnboundedSender<Posted>,
) {
    let mut pending = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        // One request: head, then Content-Length bytes of body.
        let head_end = loop {
            if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => pending.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&pending[..head_end]).to_string();
        let length = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        while pending.len() < head_end + length {
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => pending.extend_from_slice(&chunk[..n]),
            }
        }
        let body: Vec<u8> = pending.drain(..head_end + length).skip(head_end).collect();
        let body = String::from_utf8_lossy(&body).to_string();
        let target = head
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        let reply = if target.ends_with("/invocation/next") {
            let Some((id, event)) = queue.lock().await.recv().await else {
                return;
            };
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_millis()
                + 30_000;
            let event = event.to_string();
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                 lambda-runtime-aws-request-id: {id}\r\nlambda-runtime-deadline-ms: {deadline}\r\n\
                 lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:123456789012:function:revoker\r\n\
                 lambda-runtime-trace-id: Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1\r\n\
                 content-length: {}\r\n\r\n{event}",
                event.len()
            )
        } else {
            let id = target
                .split('/')
                .rev()
                .nth(1)
                .unwrap_or_default()
                .to_owned();
            let posted = if target.ends_with("/response") {
                Posted::Response(id, serde_json::from_str(&body).unwrap_or(Value::Null))
            } else {
                Posted::Error(id, body)
            };
            let _ = post.send(posted);
            "HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\n{}".to_owned()
        };
        if socket.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// The function's own process; killed when dropped.
struct Function {
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
}

impl Function {
    fn start(runtime_api: &str, admin_url: &str) -> Self {
        Self::start_with(runtime_api, admin_url, &[])
    }

    fn start_with(runtime_api: &str, admin_url: &str, vars: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_access-token-revoker"))
            .env_clear()
            .envs(vars.iter().copied())
            .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
            .env("AWS_LAMBDA_FUNCTION_NAME", "revoker-under-test")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("THREESCALE_ADMIN_URL", admin_url)
            .env("WEBHOOK_SECRET", WEBHOOK_SECRET)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the function's binary starts");
        let out = child.stdout.take().expect("piped stdout");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let lines = Arc::clone(&stdout);
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                lines.lock().expect("lines").push(line);
            }
        });
        Self { child, stdout }
    }

    fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn lines(&self) -> Vec<String> {
        self.stdout.lock().expect("lines").clone()
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn response(expected_id: &str, posted: Posted) -> (u64, Value) {
    match posted {
        Posted::Response(id, envelope) => {
            assert_eq!(id, expected_id, "the answer is for this invocation");
            let status = envelope["statusCode"].as_u64().expect("statusCode");
            let body =
                serde_json::from_str(envelope["body"].as_str().expect("body")).expect("JSON body");
            (status, body)
        }
        Posted::Error(id, body) => panic!("invocation {id} failed instead of answering: {body}"),
    }
}

#[tokio::test]
async fn a_malformed_base64_event_gets_400_and_the_process_keeps_serving() {
    let porta = Porta::with_fixture_tokens().await;
    let mut runtime = RuntimeApi::start().await;
    let mut function = Function::start(&runtime.address, porta.url());

    let mut bad: Value =
        serde_json::from_str(&event_json("apigw-http", "application-created")).expect("event");
    bad["body"] = "%%% this is not base64 %%%".into();
    bad["isBase64Encoded"] = true.into();
    let (status, body) = response("bad-1", runtime.invoke("bad-1", bad).await);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("malformed_event"))
    );

    let unknown = serde_json::json!({"hello": "world"});
    let (status, _) = response("bad-2", runtime.invoke("bad-2", unknown).await);
    assert_eq!(status, 400);
    assert!(function.is_running(), "the instance stays up");

    for envelope in ENVELOPES {
        let good: Value =
            serde_json::from_str(&event_json(envelope, "application-created-form")).expect("event");
        let (status, body) = response(envelope, runtime.invoke(envelope, good).await);
        assert_eq!(status, 200, "{envelope}");
        assert!(
            ["revoked", "already_revoked"].contains(&body["outcome"].as_str().unwrap_or_default())
        );
    }
    assert!(!porta.is_alive(TOKEN).await);
    assert!(function.is_running());

    // Every decision left an audit line and an EMF line on stdout, and nothing secret. The
    // answer can reach the Runtime API before the line reaches the pipe: wait for them.
    let counts = |lines: &[String]| {
        let emf = lines.iter().filter(|l| l.contains("\"_aws\"")).count();
        let audit = lines
            .iter()
            .filter(|l| l.contains("webhook decision"))
            .count();
        (emf, audit)
    };
    let mut lines = function.lines();
    for _ in 0..500 {
        if counts(&lines) >= (5, 5) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        lines = function.lines();
    }
    assert_eq!(counts(&lines), (5, 5), "{lines:#?}");
    for line in &lines {
        assert!(
            !line.contains(TOKEN) && !line.contains(WEBHOOK_SECRET),
            "{line}"
        );
    }
}

/// Which invocation each of the next `n` posted answers is for, in the order they came.
async fn answer_order(runtime: &mut RuntimeApi, n: usize) -> Vec<String> {
    let mut order = Vec::new();
    for _ in 0..n {
        match runtime.next_posted().await {
            Posted::Response(id, envelope) => {
                assert_eq!(envelope["statusCode"], 200, "{id}: {envelope}");
                order.push(id);
            }
            Posted::Error(id, body) => panic!("invocation {id} failed: {body}"),
        }
    }
    order
}

#[tokio::test]
async fn with_aws_lambda_max_concurrency_a_slow_revocation_does_not_hold_up_a_ping() {
    for concurrency in ["2", "1"] {
        let porta = Porta::with_fixture_tokens().await;
        // porta holds the DELETE until the test lets it go; the Ping only lists, without a token.
        porta
            .fault(serde_json::json!({"method": "DELETE", "gate": "delete"}))
            .await;
        let mut runtime = RuntimeApi::start().await;
        let mut function = Function::start_with(
            &runtime.address,
            porta.url(),
            &[("AWS_LAMBDA_MAX_CONCURRENCY", concurrency)],
        );
        let event = |name| -> Value {
            serde_json::from_str(&event_json("apigw-http", name)).expect("event")
        };
        runtime.queue("slow", event("application-created"));
        runtime.queue("ping", event("ping"));
        porta.received("DELETE", "/access_tokens/").await;
        let order = if concurrency == "2" {
            // The Ping is answered while the revocation is still held at porta.
            let first = answer_order(&mut runtime, 1).await;
            porta.open_gate("delete").await;
            [first, answer_order(&mut runtime, 1).await].concat()
        } else {
            // One at a time: nothing else is answered until the revocation is.
            porta.open_gate("delete").await;
            answer_order(&mut runtime, 2).await
        };
        let expected = if concurrency == "2" {
            ["ping", "slow"]
        } else {
            ["slow", "ping"]
        };
        assert_eq!(order, expected, "AWS_LAMBDA_MAX_CONCURRENCY={concurrency}");
        assert!(!porta.is_alive(TOKEN).await);
        assert!(function.is_running());
    }
}
