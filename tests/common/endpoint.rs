//! The deployed webhook, for tests that need one to answer over HTTP: the function itself,
//! in-process, behind a few lines that play API Gateway's HTTP API. Each request becomes the
//! v2 event API Gateway would send, goes through `invocation::handle` as on Lambda, and its
//! envelope becomes the HTTP answer.

use access_token_revoker::{AdminApi, App, PortalSource};
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// The function answering on `http://127.0.0.1:PORT/webhook` until dropped.
pub struct WebhookEndpoint {
    url: String,
    server: tokio::task::JoinHandle<()>,
}

impl WebhookEndpoint {
    /// Serves `app` on a free loopback port.
    pub async fn start<P, R>(app: App<P, R>) -> Self
    where
        P: PortalSource + 'static,
        R: AdminApi + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("listener");
        let url = format!("http://{}/webhook", listener.local_addr().expect("address"));
        let app = Arc::new(app);
        let server = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, Arc::clone(&app)));
            }
        });
        Self { url, server }
    }

    /// The stack's `WebhookUrl`, as it would be output: no query.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for WebhookEndpoint {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// One request per connection (`connection: close`), as a test needs.
async fn serve<P: PortalSource, R: AdminApi>(mut socket: TcpStream, app: Arc<App<P, R>>) {
    let _ = socket.set_nodelay(true);
    let mut request = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&request[..head_end]).into_owned();
    let mut lines = head.lines();
    let mut start = lines.next().unwrap_or_default().split_whitespace();
    let method = start.next().unwrap_or_default().to_owned();
    let target = start.next().unwrap_or_default().to_owned();
    let headers: serde_json::Map<String, Value> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().into()))
        .collect();
    let length = headers
        .get("content-length")
        .and_then(Value::as_str)
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    while request.len() < head_end + length {
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&chunk[..n]),
        }
    }
    let body = String::from_utf8_lossy(&request[head_end..head_end + length]).into_owned();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut parameters = serde_json::Map::new();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        parameters
            .entry(name.into_owned())
            .or_insert(value.into_owned().into());
    }
    // The HTTP API (v2) event, as API Gateway builds it.
    let event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "queryStringParameters": parameters,
        "requestContext": {
            "accountId": "123456789012", "apiId": "local", "domainName": "127.0.0.1",
            "domainPrefix": "local", "requestId": "local", "routeKey": "$default",
            "stage": "$default", "time": "01/Dec/2026:00:00:00 +0000", "timeEpoch": 0,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": "test"}
        },
        "body": body,
        "isBase64Encoded": false
    });
    let invocation = lambda_http::LambdaEvent::new(event, lambda_http::Context::default());
    let envelope = access_token_revoker::invocation::handle(app.as_ref(), invocation)
        .await
        .unwrap_or_else(|err| json!({"statusCode": 500, "body": err.to_string()}));
    let status = envelope["statusCode"].as_u64().unwrap_or(500);
    let body = envelope["body"].as_str().unwrap_or_default();
    let answer = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = socket.write_all(answer.as_bytes()).await;
    let _ = socket.shutdown().await;
}
