#!/usr/bin/env python3
r"""Init time of the function: from process start until its first
`GET /2018-06-01/runtime/invocation/next` on a loopback stand-in for the Lambda Runtime API.

Usage: scripts/init-time.py [--runs N] [--label TEXT] COMMAND...
  e.g. scripts/init-time.py target/release/access-token-revoker
       scripts/init-time.py --label "arm64, emulated" qemu-aarch64-static -L /usr/aarch64-linux-gnu \
           target/lambda/access-token-revoker/bootstrap

The function runs as in production, with THREESCALE_SECRET_ID set: it builds its HTTP
clients and the AWS SDK configuration, and reads the secret once during init; here
AWS_ENDPOINT_URL points at a closed loopback port, so that read is refused (twice: the
client's bounded retry, tls::SECRETS_MANAGER_BOUND, with its backoff), and init goes on as it
does when Secrets Manager is unreachable. scripts/first-delivery.py measures init with a secret
that is read. Each run
is a fresh process, stopped once it asks for its first event. Prints one line with the median,
min and max; it measures only and never fails on a time.
"""

import argparse
import http.server
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from function_env import function_env  # noqa: E402

NEXT = "/2018-06-01/runtime/invocation/next"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--label", default=None)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if not args.command:
        parser.error("give the command that runs the function")

    asked = threading.Event()
    stopped = threading.Event()
    asked_at = [0.0]

    class RuntimeApi(http.server.BaseHTTPRequestHandler):
        # TCP_NODELAY, as the real Runtime API: http.server writes headers and body apart.
        disable_nagle_algorithm = True

        def do_GET(self):
            if self.path == NEXT and not asked.is_set():
                asked_at[0] = time.perf_counter()
                asked.set()
                # Hold the request until the process is stopped: no event is ever served.
                stopped.wait(30)
            self.close_connection = True

        def log_message(self, *_):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()

    empty = tempfile.mkdtemp(prefix="init-time-")
    env = function_env(
        f"127.0.0.1:{server.server_address[1]}",
        empty,
        THREESCALE_SECRET_ID="threescale/admin",
        AWS_ENDPOINT_URL="http://127.0.0.1:9",
    )

    times_ms = []
    try:
        for _ in range(args.runs):
            asked.clear()
            stopped.clear()
            start = time.perf_counter()
            proc = subprocess.Popen(
                args.command,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            deadline = start + 60
            while not asked.wait(0.05) and proc.poll() is None and time.perf_counter() < deadline:
                pass
            ok = asked.is_set()
            proc.kill()
            code = proc.wait()
            stopped.set()
            if not ok:
                print(f"init: {args.command[0]} never asked for an event (exit {code})", file=sys.stderr)
                return 1
            times_ms.append((asked_at[0] - start) * 1000)
    finally:
        server.shutdown()

    label = args.label or os.path.basename(args.command[-1])
    print(
        f"init {label}: median {statistics.median(times_ms):.1f} ms "
        f"(min {min(times_ms):.1f}, max {max(times_ms):.1f}, {len(times_ms)} runs; "
        "process start to first /invocation/next)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
