#!/usr/bin/env python3
"""A loopback stand-in for a 3scale admin portal (porta), for the local loop and the tests.

It answers as porta's own source does (3scale/porta; see ../shared/threescale/porta-facts.md):

* Authentication comes before any lookup (app/lib/api_authentication/by_access_token.rb): the
  token is the `access_token` parameter, else the HTTP Basic user name or password, whichever is
  non-empty. A Bearer header is not understood. An unknown or revoked token gets
  403 {"error":"Access denied"} (app/lib/filters/provider_required.rb); a token without the account_management scope, or a read-only one
  that tries to write, gets 403 {"error":"Your access token does not have the correct permissions"}.
* GET /admin/api/personal/access_tokens.json lists the caller's tokens, never their values.
* POST /admin/api/personal/access_tokens.json creates a token for the caller (name, permission,
  scopes[], expires_at; flat or token[...]): 201 with the value, the only answer that shows it;
  422 {"errors":{...}}; a read-only token gets the permissions 403. Before 3scale 2.16
  (POST /__stand_in/release {"release": "2.15"}) expires_at is dropped without a word.
  GET …/access_tokens.json?name=N lists the caller's tokens whose name contains N.
* DELETE /admin/api/personal/access_tokens/{id_or_value}.json runs find_from_id_or_value!: the
  numeric id first, with Rails' cast of a string to its leading integer ("7a3f" -> 7), then the
  value; 404 {"status":"Not found"} if neither matches one of the caller's tokens; 200, empty.
* GET /admin/api/webhooks/failures.json lists failed deliveries, oldest first, as
  {"webhooks-failures":[{"webhooks-failure":{id,time,error,url,event}}]}; DELETE with ?time=T
  pops from the oldest while time <= T (app/models/web_hook_failures.rb), without a time it
  empties the list; only an admin may (CanCan: 403 {"status":"Forbidden"} for a member).
* PUT /admin/api/accounts/{account}/applications/{id}.json sets the defined extra fields given
  as top-level form parameters, an empty value included (buyers_applications_controller.rb);
  GET shows the application, its extra fields as top-level keys.
* The Host header matters, as in porta (site_account_support.rb): the tenant's admin domain is
  --host (127.0.0.1). On another tenant's admin domain every token is refused with Access denied;
  on a host that is no admin domain a request with a token gets 404, one without Access denied.

Control endpoints for tests live under /__stand_in/ (porta has nothing there):
  POST /__stand_in/tokens    {"value", "id"?, "user"?, "scopes"?, "permission"?, "role"?,
                             "expires_at"? (ISO 8601; past: the token no longer authenticates)}
                             -> {"id": N}
  GET  /__stand_in/tokens    the live tokens
  POST /__stand_in/faults    [{"method"?, "path"? (regex), "status"?, "body"?, "headers"?,
                               "delay_ms"?, "gate"?, "times"?, "after"?}]: answered instead of
                             porta, in order; with "after": true porta acts first and its answer
                             is replaced; with "gate": NAME the request waits until that gate opens
  POST /__stand_in/gates     {"open": NAME}
  DELETE /__stand_in/faults  drops every queued fault
  POST /__stand_in/release   {"release": "2.15" | "2.16" | "master"}: which porta to be
  POST /__stand_in/hosts     {"admin": HOST, "other_tenants": [HOST...]}: whose domain is which
  GET  /__stand_in/requests  every porta request received: method, path, query, auth kind and
                             the client's port (one port: one kept-alive connection)
  POST /__stand_in/failures  failed deliveries to file: [{"event", "time"?, "id"?}] or porta's
                             own listing; GET lists them
  POST /__stand_in/applications  {"id", "account_id", "extra_fields"}; GET lists them
  GET  /__stand_in/applications/{id}/event?action=updated  the webhook XML porta would send

Usage: fake-admin-api.py [--host H] [--port P (0 picks one)] [--seed FILE.json]
By default it seeds scripts/local-porta.json: the events/ fixture tokens, alive, and a
long-lived token that must survive. `--seed ""` starts with no tokens.
The first line on stdout is the base URL. FAKE_ADMIN_PORT and FAKE_ADMIN_STATUS (a status forced
on every porta request, to watch the function retry) are read from the environment.
Logs a short SHA-256 fingerprint of a token, never the token.
"""
import argparse
import base64
import datetime
import hashlib
import uuid
import http.server
import json
import os
import re
import secrets
import sys
import threading
import time
import urllib.parse

# app/lib/filters/provider_required.rb: no token behind the request, so no provider account.
ACCESS_DENIED = (403, {"error": "Access denied"})
NOT_PERMITTED = (403, {"error": "Your access token does not have the correct permissions"})
NOT_FOUND = (404, {"status": "Not found"})
TOKENS = "/admin/api/personal/access_tokens"
TOKEN_PATH = re.compile(r"^/admin/api/personal/access_tokens/([^/]+)\.json$")
FAILURES = "/admin/api/webhooks/failures.json"
APPLICATION_PATH = re.compile(r"^/admin/api/accounts/(\d+)/applications/(\d+)\.json$")
CANCAN_DENIED = (403, {"status": "Forbidden"})
# The application extra fields the tenant defined; porta drops any other parameter.
DEFINED_FIELDS = ("token_value", "token_id", "environment")
# Ruby's String#to_i: leading digits, single underscores allowed between them.
RUBY_TO_I = re.compile(r"^\s*[+-]?\d+(?:_\d+)*")


def parse_time(text):
    """Ruby's Time.parse, for the ISO 8601 times porta prints; a naive time is taken as UTC."""
    parsed = datetime.datetime.fromisoformat(text.strip())
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)


def fingerprint(value):
    return hashlib.sha256(value.encode()).hexdigest()[:8]


def ruby_to_i(text):
    match = RUBY_TO_I.match(text)
    return int(match.group(0).replace("_", "")) if match else 0


def expired(token):
    """access_token.rb#expired?: expires_at.present? && expires_at < Time.now.utc"""
    if not token.get("expires_at"):
        return False
    at = datetime.datetime.fromisoformat(token["expires_at"].replace("Z", "+00:00"))
    return at < datetime.datetime.now(datetime.timezone.utc)


class Porta:
    """The tenant's state: tokens, queued faults and the request log."""

    def __init__(self):
        self.lock = threading.Lock()
        self.tokens = {}  # id -> {id, value, user, scopes, permission, name}
        self.next_id = 1
        self.faults = []
        self.requests = []
        self.failures = []  # a Redis list in porta: appended at the tail, oldest first
        self.applications = {}  # id -> {id, account_id, extra_fields}
        self.release = "master"  # "2.15" drops expires_at; POST /__stand_in/release
        self.admin_host = "127.0.0.1"  # this tenant's admin domain; POST /__stand_in/hosts
        self.other_tenants = set()  # other tenants' admin domains: none of our tokens there
        self.gates = {}  # name -> threading.Event; a fault with "gate" waits for it
        forced = os.environ.get("FAKE_ADMIN_STATUS")
        if forced:
            self.faults.append({"status": int(forced), "times": None,
                                "body": {"error": "forced by FAKE_ADMIN_STATUS"}})

    def add_token(self, spec):
        with self.lock:
            token_id = int(spec.get("id") or self.next_id)
            if token_id in self.tokens:
                raise ValueError("id taken")
            self.next_id = max(self.next_id, token_id) + 1
            self.tokens[token_id] = {
                "id": token_id,
                "value": str(spec["value"]),
                "user": int(spec.get("user", 1)),
                "scopes": list(spec.get("scopes", ["account_management"])),
                "permission": spec.get("permission", "rw"),
                "name": spec.get("name", f"token {token_id}"),
                "role": spec.get("role", "admin"),
                "expires_at": spec.get("expires_at"),
            }
            return token_id

    def shown(self, token):
        """access_token_representer.rb: never the value; expires_at only when set (2.16+)."""
        shown = {k: token[k] for k in ("id", "name", "scopes", "permission")}
        if token.get("expires_at") and self.release != "2.15":
            shown["expires_at"] = token["expires_at"]
        return shown

    def add_failures(self, data):
        if isinstance(data, dict):  # porta's own listing
            data = [item.get("webhooks-failure", item) for item in data.get("webhooks-failures", [])]
        now = datetime.datetime.now(datetime.timezone.utc)
        with self.lock:
            for item in data:
                self.failures.append({
                    "id": item.get("id") or str(uuid.uuid4()),
                    "time": item.get("time") or now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "error": item.get("error", "WebHookWorker::ClientError"),
                    "url": item.get("url", "https://example.execute-api.eu-west-1.amazonaws.com/webhook"),
                    "event": item["event"],
                })

    def authenticate(self, value):
        """by_access_token.rb: the tenant's token with this value, unless it has expired."""
        if not value:
            return None
        token = next((t for t in self.tokens.values() if t["value"] == value), None)
        return None if token is None or expired(token) else token

    def gate(self, name):
        with self.lock:
            return self.gates.setdefault(str(name), threading.Event())

    def take_fault(self, method, path):
        with self.lock:
            for fault in self.faults:
                if fault.get("method", method) != method:
                    continue
                if not re.search(fault.get("path", ""), path):
                    continue
                if fault.get("times") is not None:
                    fault["times"] -= 1
                    if fault["times"] <= 0:
                        self.faults.remove(fault)
                return fault
        return None


class Handler(http.server.BaseHTTPRequestHandler):
    # Keep-alive, as porta's front end does: the function reuses its connection.
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY on each accepted socket, as production servers set it: http.server writes the
    # headers and the body in two writes, and against a kept-alive client Nagle's algorithm
    # and delayed ACKs then held each response about 40 ms (44 ms a revocation instead of 1).
    disable_nagle_algorithm = True
    porta = None

    def do_GET(self):
        self.route("GET")

    def do_DELETE(self):
        self.route("DELETE")

    def do_POST(self):
        self.route("POST")

    def do_PUT(self):
        self.route("PUT")

    def route(self, method):
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.body = body
        if url.path.startswith("/__stand_in/"):
            return self.control(method, url.path, body)
        auth, token_value = self.credentials(url.query, body)
        with self.porta.lock:
            self.porta.requests.append(
                {"method": method, "path": url.path, "query": url.query, "auth": auth,
                 "client_port": self.client_address[1]})
        fault = self.porta.take_fault(method, url.path) or {}
        time.sleep(fault.get("delay_ms", 0) / 1000)
        if "gate" in fault:  # held until the test opens it: ordering without timing
            self.porta.gate(fault["gate"]).wait(60)
        if "status" in fault and not fault.get("after"):
            return self.answer(fault["status"], fault.get("body"), fault.get("headers"))
        status, payload = self.porta_answer(method, url.path, token_value)
        if "status" in fault:  # "after": porta acted, but its answer is lost on the way back
            status, payload = fault["status"], fault.get("body")
        self.answer(status, payload, fault.get("headers"))
        tag = fingerprint(token_value) if token_value else "-"
        sys.stderr.write(f"fake 3scale admin API: {method} {TOKEN_PATH.sub('…', url.path)}"
                         f" token sha256:{tag} -> {status}\n")

    def credentials(self, query, body):
        params = urllib.parse.parse_qs(query, keep_blank_values=True)
        if self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            params.update(urllib.parse.parse_qs(body.decode("utf-8", "replace"),
                                                keep_blank_values=True))
        # params.fetch(:access_token) { basic }: a blank parameter still wins over the header.
        if "access_token" in params:
            return "query", params["access_token"][0]
        header = self.headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                return "basic", ""
            return "basic", user or password
        return ("bearer" if header.startswith("Bearer ") else "none"), ""

    def porta_answer(self, method, path, token_value):
        with self.porta.lock:
            # site_account_support.rb: tokens are looked up on the domain's own tenant. A host
            # that is no tenant's admin domain raises NoAccountForDomain (a 404) as soon as a
            # token is looked up; without a token, force_provider_or_master_domain refuses it.
            host = self.internal_host()
            if host != self.porta.admin_host and host not in self.porta.other_tenants:
                return NOT_FOUND if token_value else ACCESS_DENIED
            if host != self.porta.admin_host:
                return ACCESS_DENIED  # another tenant: domain_account.access_tokens has no such token
            caller = self.porta.authenticate(token_value)
            if caller is None:
                return ACCESS_DENIED
            if "account_management" not in caller["scopes"]:
                return NOT_PERMITTED
            if path == FAILURES:
                return self.webhook_failures(method, caller)
            application = APPLICATION_PATH.match(path)
            if application and method == "PUT":
                return self.update_application(caller, application.group(1), application.group(2))
            if application and method == "GET":
                return self.show_application(application.group(1), application.group(2))
            own = sorted((t for t in self.porta.tokens.values() if t["user"] == caller["user"]),
                         key=lambda t: t["id"])
            if method == "GET" and path == TOKENS + ".json":
                # access_tokens_controller.rb#index: by_name is LIKE '%name%', not paginated.
                name = self.params().get("name", [""])[0]
                return 200, {"access_tokens": [{"access_token": self.porta.shown(t)}
                                               for t in own if name in t["name"]]}
            if method == "POST" and path == TOKENS + ".json":
                return self.create_token(caller)
            match = TOKEN_PATH.match(path)
            if method == "GET" and match:
                target = self.find_own(own, match.group(1))
                return (200, {"access_token": self.porta.shown(target)}) if target else NOT_FOUND
            if method == "DELETE" and match:
                if caller["permission"] != "rw":
                    return NOT_PERMITTED
                target = self.find_own(own, match.group(1))
                if target is None:
                    return NOT_FOUND
                del self.porta.tokens[target["id"]]
                return 200, None
            return NOT_FOUND

    @staticmethod
    def find_own(own, raw_key):
        """find_from_id_or_value!: the id first, as Rails casts the key ("7a3f" -> 7), then the value."""
        key = urllib.parse.unquote(raw_key)
        return (next((t for t in own if t["id"] == ruby_to_i(key)), None)
                or next((t for t in own if t["value"] == key), None))

    def params(self):
        """Rails' params: the query, then a form or JSON body; flat keys, `k[]` lists kept."""
        params = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query, keep_blank_values=True)
        kind = self.headers.get("Content-Type", "")
        if kind.startswith("application/x-www-form-urlencoded"):
            params.update(urllib.parse.parse_qs(self.body.decode("utf-8", "replace"),
                                                keep_blank_values=True))
        elif kind.startswith("application/json") and self.body:
            for key, value in json.loads(self.body).items():
                params[key] = value if isinstance(value, list) else [value]
        return params

    def create_token(self, caller):
        """access_tokens_controller.rb#create; the caller holds the lock.

        wrap_parameters puts flat body parameters into `token`; `token[...]` works as well.
        expires_at is permitted from 3scale 2.16: before, it is dropped without a word."""
        if caller["permission"] != "rw":
            return NOT_PERMITTED  # the create fails in the read-only transaction
        params = self.params()
        def param(name):
            return params.get(f"token[{name}]", params.get(name, [None]))[0]
        scopes = params.get("token[scopes][]", params.get("scopes[]", params.get("scopes", [])))
        errors = {}
        name, permission = param("name"), param("permission") or "ro"
        if not name:
            errors["name"] = ["can't be blank"]
        if permission not in ("ro", "rw"):
            errors["permission"] = ["is not included in the list"]
        allowed = {"cms", "finance", "account_management", "stats", "policy_registry"}
        if not scopes or not set(scopes) <= allowed:
            errors["scopes"] = ["invalid"]
        expires_at = param("expires_at") if self.porta.release != "2.15" else None
        if expires_at:
            try:
                at = datetime.datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
                if at.tzinfo is None or at <= datetime.datetime.now(datetime.timezone.utc):
                    raise ValueError
            except ValueError:
                errors["expires_at"] = ["must be in the future"]
        if errors:
            return 422, {"errors": errors}
        value = secrets.token_hex(48 if self.porta.release == "master" else 32)
        token_id = self.porta.next_id
        self.porta.next_id += 1
        self.porta.tokens[token_id] = {
            "id": token_id, "value": value, "user": caller["user"], "scopes": list(scopes),
            "permission": permission, "name": name, "role": caller["role"],
            "expires_at": expires_at or None}
        return 201, {"access_token": dict(self.porta.shown(self.porta.tokens[token_id]), value=value)}

    def webhook_failures(self, method, caller):
        """web_hooks_failures_controller.rb; the caller holds the lock."""
        if caller["role"] != "admin":
            return CANCAN_DENIED
        failures = self.porta.failures
        if method == "GET":
            return 200, {"webhooks-failures": [{"webhooks-failure": dict(f)} for f in failures]}
        if method != "DELETE":
            return NOT_FOUND
        params = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query, keep_blank_values=True)
        if "time" not in params:
            failures.clear()
            return 200, None
        try:
            until = parse_time(params["time"][0])
        except ValueError:
            return 400, {"error": "invalid time"}
        while failures and parse_time(failures[0]["time"]) <= until:
            failures.pop(0)
        return 200, None

    def internal_host(self):
        """request.internal_host: the Host header without its port, lower case."""
        host = (self.headers.get("Host") or "").strip().lower()
        if host.startswith("["):
            return host.split("]")[0] + "]"
        return host.rsplit(":", 1)[0] if host.count(":") == 1 else host

    def show_application(self, account_id, application_id):
        """buyers_applications_controller.rb#show; the caller holds the lock. Extra fields are
        top-level keys of the application (application_representer.rb), "" included."""
        app = self.porta.applications.get(int(application_id))
        if app is None or str(app["account_id"]) != account_id:
            return NOT_FOUND
        return 200, {"application": {"id": app["id"], "user_account_id": app["account_id"],
                                     "state": "live", **app["extra_fields"]}}

    def update_application(self, caller, account_id, application_id):
        """buyers_applications_controller.rb#update; the caller holds the lock."""
        if caller["permission"] != "rw":
            return NOT_PERMITTED
        app = self.porta.applications.get(int(application_id))
        if app is None or str(app["account_id"]) != account_id:
            return NOT_FOUND
        form = urllib.parse.parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        for field, values in form.items():
            if field in DEFINED_FIELDS:
                app["extra_fields"][field] = values[0].strip()
        return 200, {"application": {"id": app["id"], "user_account_id": app["account_id"],
                                     **app["extra_fields"]}}

    def control(self, method, path, body):
        porta = self.porta
        try:
            data = json.loads(body) if body else None
            if (method, path) == ("POST", "/__stand_in/tokens"):
                return self.answer(201, {"id": porta.add_token(data)})
            if (method, path) == ("GET", "/__stand_in/tokens"):
                with porta.lock:
                    return self.answer(200, list(porta.tokens.values()))
            if (method, path) == ("POST", "/__stand_in/faults"):
                with porta.lock:
                    # One answer each unless "times" says otherwise; "times": null is for ever.
                    porta.faults.extend(dict({"times": 1}, **fault) for fault in data)
                return self.answer(204, None)
            if (method, path) == ("DELETE", "/__stand_in/faults"):
                with porta.lock:
                    porta.faults.clear()
                return self.answer(204, None)
            if (method, path) == ("POST", "/__stand_in/gates"):
                porta.gate(data["open"]).set()
                return self.answer(204, None)
            if (method, path) == ("POST", "/__stand_in/hosts"):
                with porta.lock:
                    porta.admin_host = str(data.get("admin", porta.admin_host)).lower()
                    porta.other_tenants = {str(h).lower() for h in data.get("other_tenants", [])}
                return self.answer(204, None)
            if (method, path) == ("POST", "/__stand_in/release"):
                with porta.lock:
                    porta.release = str(data["release"])
                return self.answer(204, None)
            if (method, path) == ("GET", "/__stand_in/requests"):
                with porta.lock:
                    return self.answer(200, porta.requests)
            if (method, path) == ("POST", "/__stand_in/failures"):
                porta.add_failures(data)
                return self.answer(204, None)
            if (method, path) == ("GET", "/__stand_in/failures"):
                with porta.lock:
                    return self.answer(200, porta.failures)
            if (method, path) == ("POST", "/__stand_in/applications"):
                with porta.lock:
                    porta.applications[int(data["id"])] = {
                        "id": int(data["id"]), "account_id": int(data["account_id"]),
                        "extra_fields": dict(data.get("extra_fields", {}))}
                return self.answer(201, {"id": int(data["id"])})
            if (method, path) == ("GET", "/__stand_in/applications"):
                with porta.lock:
                    return self.answer(200, list(porta.applications.values()))
            event = re.match(r"^/__stand_in/applications/(\d+)/event$", path)
            if method == "GET" and event:
                return self.answer_xml(self.application_event(int(event.group(1))))
        except (ValueError, KeyError, TypeError) as err:
            return self.answer(400, {"error": type(err).__name__})
        return self.answer(404, NOT_FOUND[1])

    def application_event(self, application_id):
        """The XML porta's WebHook::Event would post for this application now: extra fields with
        a present value only (app/lib/fields/extra_fields.rb, extra_fields_to_xml)."""
        action = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get("action", ["updated"])[0]
        with self.porta.lock:
            app = self.porta.applications[application_id]
            fields = "".join(f"<{k}>{v.strip()}</{k}>" for k, v in app["extra_fields"].items() if v.strip())
            return ('<?xml version="1.0" encoding="UTF-8"?>\n'
                    f"<event><action>{action}</action><type>application</type><object><application>"
                    f"<id>{app['id']}</id><user_account_id>{app['account_id']}</user_account_id>"
                    f"<extra_fields>{fields}</extra_fields></application></object></event>")

    def answer_xml(self, xml):
        data = xml.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def answer(self, status, payload, headers=None):
        if payload is None:
            data = b""
        elif isinstance(payload, str):
            data = payload.encode()
        else:
            data = json.dumps(payload).encode()
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass  # the default line has the path, and with it the token


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("FAKE_ADMIN_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("FAKE_ADMIN_PORT", "9001")))
    parser.add_argument("--seed", default=os.path.join(os.path.dirname(__file__), "local-porta.json"),
                        help="JSON list of tokens to create at start ('' for none)")
    args = parser.parse_args()
    Handler.porta = Porta()
    Handler.porta.admin_host = args.host.lower()
    if args.seed:
        with open(args.seed, encoding="utf-8") as seed:
            for spec in json.load(seed):
                Handler.porta.add_token(spec)
    server = http.server.ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    url = f"http://{args.host}:{server.server_address[1]}"
    print(url, flush=True)
    sys.stderr.write(f"fake 3scale admin API on {url}\n")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
