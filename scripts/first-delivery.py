#!/usr/bin/env python3
"""The first delivery of a cold function over TLS, and the warm ones after it, measured.

Usage: scripts/first-delivery.py [--runs N] [--warm N] CERTS_DIR BINARY
  e.g. cargo run --example test_ca -- /tmp/certs
       scripts/first-delivery.py /tmp/certs target/release/access-token-revoker

Each run is a fresh process of BINARY, as Lambda runs it: behind a loopback stand-in for the
Runtime API, with THREESCALE_SECRET_ID read from moto_server (AWS_ENDPOINT_URL), and the admin
portal played by scripts/fake-admin-api.py on HTTPS with a certificate of a private CA given as
the secret's admin_ca_pem (CERTS_DIR, as examples/test_ca.rs writes it). The process gets the application-created
event as soon as it asks for one; each delivery carries its token's id, so a revocation is
DELETE by id then the verifying listing. Reported, never enforced:
  init   process start to its first GET /invocation/next
  first  event handed out to its answer: the configuration read (Secrets Manager), the TLS
         handshake with the admin portal, DELETE and verify
  warm   the same for the deliveries after it, on the kept-alive connection
Needs moto_server on PATH (scripts/bench: `need moto`).
"""

import argparse
import http.server
import json
import os
import queue
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from function_env import function_env  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NEXT = "/2018-06-01/runtime/invocation/next"
SECRET = "local-webhook-secret"  # the events/ fixtures' ?secret=
FIXTURE_TOKEN = "8c3e1f0d7b2a4c6e9f5d1b3a7c0e2f4d6b8a1c3e5f7d9b0a2c4e6f8d1b3a5c7e"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"nothing listens on {port}")


def create_secret(moto_port, name, secret):
    urllib.request.urlopen(urllib.request.Request(
        f"http://127.0.0.1:{moto_port}/", method="POST",
        data=json.dumps({"Name": name, "SecretString": json.dumps(secret)}).encode(),
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "secretsmanager.CreateSecret",
            "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/"
                             "secretsmanager/aws4_request, SignedHeaders=host, Signature=0",
        })).read()


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    """Hands out queued events, timing each from hand-out to its answer."""
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    events = None  # queue.Queue of (request id, event JSON)
    answers = None  # queue.Queue of (request id, seconds, body)
    handed = {}
    first_next = [None]

    def do_GET(self):
        if self.path != NEXT:
            return self.reply(404, b"")
        if self.first_next[0] is None:
            self.first_next[0] = time.perf_counter()
        request_id, event = self.events.get()
        data = event.encode()
        self.handed[request_id] = time.perf_counter()
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60_000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                         "arn:aws:lambda:us-east-1:123456789012:function:access-token-revoker")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        parts = self.path.split("/")
        if len(parts) > 5 and parts[5] == "response":
            request_id = parts[4]
            self.answers.put((request_id, time.perf_counter() - self.handed[request_id], body))
        self.reply(202, b"{}")

    def reply(self, status, data):
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_):
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--warm", type=int, default=20)
    parser.add_argument("certs")
    parser.add_argument("binary")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="first-delivery-")
    certs = args.certs
    children = []
    try:
        admin = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "scripts/fake-admin-api.py"), "--port", "0",
             "--seed", "", "--tls-cert", f"{certs}/admin.pem", "--tls-key", f"{certs}/admin.key"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        children.append(admin)
        admin_url = admin.stdout.readline().strip()
        trust = ssl.create_default_context(cafile=f"{certs}/ca.pem")

        def add_token(token_id, value):
            urllib.request.urlopen(urllib.request.Request(
                f"{admin_url}/__stand_in/tokens", method="POST",
                data=json.dumps({"id": token_id, "value": value}).encode(),
                headers={"Content-Type": "application/json"}), context=trust).read()

        moto_port = free_port()
        moto = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(moto_port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        children.append(moto)
        wait_for_port(moto_port)
        with open(f"{certs}/ca.pem", encoding="ascii") as f:
            create_secret(moto_port, "threescale/bench",
                          {"admin_url": admin_url, "webhook_secret": SECRET, "admin_ca_pem": f.read()})

        RuntimeApi.events, RuntimeApi.answers = queue.Queue(), queue.Queue()
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
        server.daemon_threads = True
        # A killed process leaves its last request's socket broken: nothing to report.
        server.handle_error = lambda *_: None
        threading.Thread(target=server.serve_forever, daemon=True).start()
        with open(os.path.join(ROOT, "events/apigw-http/application-created.json"), encoding="utf-8") as f:
            fixture = f.read()
        env = function_env(
            f"127.0.0.1:{server.server_address[1]}",
            work,
            AWS_ENDPOINT_URL=f"http://127.0.0.1:{moto_port}",
            THREESCALE_SECRET_ID="threescale/bench",
        )

        inits, firsts, warms = [], [], []
        next_id = 1000
        for run in range(args.runs):
            RuntimeApi.first_next[0] = None
            # A queue per run: the last run's process still waits on the old one.
            RuntimeApi.events = queue.Queue()
            for n in range(1 + args.warm):
                next_id += 1
                token = f"{next_id:064x}"
                add_token(next_id, token)
                body = json.loads(fixture)
                body["body"] = body["body"].replace(FIXTURE_TOKEN, token).replace(
                    "</token_value>", f"</token_value><token_id>{next_id}</token_id>")
                RuntimeApi.events.put((f"run{run}-{n}", json.dumps(body)))
            started = time.perf_counter()
            proc = subprocess.Popen([args.binary], env=env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                times = []
                for _ in range(1 + args.warm):
                    request_id, took, answer = RuntimeApi.answers.get(timeout=60)
                    outcome = json.loads(json.loads(answer)["body"]).get("outcome")
                    if outcome != "revoked":
                        print(f"{request_id}: {answer.decode(errors='replace')}", file=sys.stderr)
                        return 1
                    times.append(took * 1000)
            finally:
                proc.kill()
                proc.wait()
            inits.append((RuntimeApi.first_next[0] - started) * 1000)
            firsts.append(times[0])
            warms.extend(times[1:])
        server.shutdown()
    finally:
        for child in children:
            child.kill()
            child.wait()

    def line(name, values, what):
        print(f"{name:5} median {statistics.median(values):7.2f} ms (min {min(values):.2f}, "
              f"max {max(values):.2f}, n={len(values)}): {what}")

    label = os.path.basename(args.binary)
    print(f"TLS to the admin portal, private CA from the secret ({label}, {args.runs} cold starts):")
    line("init", inits, "process start to the first /invocation/next")
    line("first", firsts, "first delivery: config read, TLS handshake, DELETE, verify")
    line("warm", warms, f"the {args.warm} after it, kept-alive connection")
    return 0


if __name__ == "__main__":
    sys.exit(main())
