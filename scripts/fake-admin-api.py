#!/usr/bin/env python3
"""A loopback stand-in for the 3scale admin portal's personal access token API, for local runs.

DELETE /admin/api/personal/access_tokens/{token}.json?access_token={token}
  -> 200 the first time, 403 afterwards (as 3scale does: a revoked token cannot authenticate).
FAKE_ADMIN_STATUS=503 forces a status for every call, to watch the function retry.
Logs a short SHA-256 fingerprint, never the token.
"""
import hashlib
import http.server
import json
import os
import re
import sys
import urllib.parse

HOST = os.environ.get("FAKE_ADMIN_HOST", "127.0.0.1")
PORT = int(os.environ.get("FAKE_ADMIN_PORT", "9001"))
FORCED = os.environ.get("FAKE_ADMIN_STATUS")
PATH = re.compile(r"^/admin/api/personal/access_tokens/([A-Za-z0-9_-]+)\.json$")
revoked = set()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_DELETE(self):
        url = urllib.parse.urlsplit(self.path)
        match = PATH.match(url.path)
        auth = urllib.parse.parse_qs(url.query).get("access_token", [""])[0]
        if not match:
            return self.answer(404, {"status": "Not found"}, "-")
        token = match.group(1)
        tag = hashlib.sha256(token.encode()).hexdigest()[:8]
        if FORCED:
            return self.answer(int(FORCED), {"error": "forced by FAKE_ADMIN_STATUS"}, tag)
        if auth != token or token in revoked:
            return self.answer(403, {"error": "Access denied"}, tag)
        revoked.add(token)
        return self.answer(200, {}, tag)

    def answer(self, status, body, tag):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        sys.stderr.write(f"fake 3scale admin API: DELETE token sha256:{tag} -> {status}\n")

    def log_message(self, *args):
        pass  # the default line has the path, and with it the token


if __name__ == "__main__":
    server = http.server.ThreadingHTTPServer((HOST, PORT), Handler)
    sys.stderr.write(f"fake 3scale admin API on http://{HOST}:{PORT}\n")
    server.serve_forever()
