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

* Tenant settings, as `revoker setup` makes them (see the section "Tenant settings"):
  GET/POST /admin/api/fields_definitions.json, GET/PUT/DELETE …/fields_definitions/{id}.json
  (flat or fields_definition[...]; applications are the target "Cinstance"); PUT
  /admin/api/webhooks.json (flat or web_hook[...]; only permitted attributes; {"webhook":{...}};
  a url over 255 characters is a 422); POST /admin/api/accounts/{account}/applications.json,
  which fires the "application created" webhook as porta would. The application extra fields
  an update or a create keeps are the fields definitions of "Cinstance" that are no builtin.

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
  POST /__stand_in/fields_definitions  [{"name", "target"? (Cinstance), "label"?, "hidden"?,
                             "required"?}]: the tenant's own fields (the builtins stay); GET lists
  POST /__stand_in/webhook   the webhook settings as porta stores them, or null for none; GET
  GET  /__stand_in/deliveries  the webhooks sent: {"event", "path", "status", "body"}
  GET  /__stand_in/connections  {"accepted": N, "tls_failed": N}: TCP connections accepted,
                             and of those, TLS handshakes that failed (the client refused the
                             certificate, or spoke no TLS)

Usage: fake-admin-api.py [--host H] [--port P (0 picks one)] [--seed FILE.json]
                         [--tls-cert CERT.pem --tls-key KEY.pem]
With --tls-cert (or FAKE_ADMIN_TLS_CERT and FAKE_ADMIN_TLS_KEY) it serves HTTPS with that
certificate chain, as an on-premises 3scale behind a private CA does; the handshake runs in
each connection's own thread, so a client that stalls it holds up no one else.
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
import socket
import ssl
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

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


def application_xml(app, action):
    """The event XML for an application: extra fields with a present value only
    (app/lib/fields/extra_fields.rb, extra_fields_to_xml)."""
    fields = "".join(f"<{k}>{v.strip()}</{k}>" for k, v in app["extra_fields"].items() if v.strip())
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<event><action>{action}</action><type>application</type><object><application>"
            f"<id>{app['id']}</id><user_account_id>{app['account_id']}</user_account_id>"
            f"<extra_fields>{fields}</extra_fields></application></object></event>")


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
        self.connections = {"accepted": 0, "tls_failed": 0}
        self.release = "master"  # "2.15" drops expires_at; POST /__stand_in/release
        self.admin_host = "127.0.0.1"  # this tenant's admin domain; POST /__stand_in/hosts
        self.other_tenants = set()  # other tenants' admin domains: none of our tokens there
        self.gates = {}  # name -> threading.Event; a fault with "gate" waits for it
        self.settings = TenantSettings()  # fields definitions, the webhook, deliveries
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


# ---------------------------------------------------------------------------------------------
# Tenant settings, as `revoker setup` makes them (issue 15). porta:
#   app/controllers/admin/api/fields_definitions_controller.rb, app/models/fields_definition.rb,
#   app/controllers/admin/api/web_hooks_controller.rb, app/models/web_hook.rb,
#   app/lib/api_support/params.rb (wrap_parameters for form and JSON bodies),
#   app/controllers/admin/api/buyers_applications_controller.rb#create, app/models/web_hook/event.rb
# See /work/notes/porta-fields-webhooks.md for the answers quoted here.

FIELDS_PATH = re.compile(r"^/admin/api/fields_definitions(?:/(\d+))?\.json$")
WEBHOOK_SETTINGS = "/admin/api/webhooks.json"
NEW_APPLICATION_PATH = re.compile(r"^/admin/api/accounts/(\d+)/applications\.json$")
# WebHook.switchable_attributes: the *_on columns of web_hooks, in db/schema.rb order.
WEBHOOK_SWITCHES = (
    "account_created_on", "account_updated_on", "account_deleted_on",
    "user_created_on", "user_updated_on", "user_deleted_on",
    "application_created_on", "application_updated_on", "application_deleted_on",
    "account_plan_changed_on", "application_plan_changed_on", "application_user_key_updated_on",
    "application_key_created_on", "application_key_deleted_on",
    "application_suspended_on", "application_key_updated_on")
WEBHOOK_PERMITTED = ("url", "active", "provider_actions") + WEBHOOK_SWITCHES
# wrap_parameters ::WebHook wraps the model's attribute names; push_application_content_type is
# one, but is not permitted.
WEBHOOK_ATTRIBUTES = ("id", "account_id", "created_at", "updated_at", "tenant_id",
                      "push_application_content_type") + WEBHOOK_PERMITTED
FIELDS_ATTRIBUTES = ("id", "account_id", "created_at", "updated_at", "target", "hidden",
                     "required", "label", "name", "choices", "hint", "read_only", "pos",
                     "tenant_id", "position")
FIELDS_CREATE = ("target", "label", "required", "hidden", "read_only", "choices", "name")
FIELDS_UPDATE = ("target", "label", "required", "hidden", "read_only", "choices", "position")
# Builtin fields per target (app/models/{account,user,cinstance}.rb): name -> required on target.
BUILTIN_FIELDS = {"Account": {"org_name": True}, "User": {"username": True, "email": True},
                  "Cinstance": {"name": True, "description": False}}
FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z\d_-]*$")
RAILS_FALSE = {"0", "f", "F", "false", "FALSE", "off", "OFF"}


def rails_bool(value):
    """ActiveModel::Type::Boolean (Rails 7.2.3): "" is nil; only the FALSE_VALUES are false."""
    if isinstance(value, bool) or value is None:
        return value
    if value == "":
        return None
    if not isinstance(value, (str, int, float)):
        return True
    return value not in RAILS_FALSE and value != 0


def now_text():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def rack_params(pairs):
    """Rack's nested form keys: `a[b]=1` -> {"a": {"b": "1"}}, `a[]=1` -> {"a": ["1"]}."""
    params = {}
    for key, value in pairs:
        match = re.match(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$", key)
        if not match:
            continue
        keys = [match.group(1)] + re.findall(r"\[([^\[\]]*)\]", match.group(2))
        target = params
        for at, name in enumerate(keys):
            last = at == len(keys) - 1
            following = None if last else keys[at + 1]
            if last:
                target[name] = value
            elif following == "":
                target.setdefault(name, [])
                if isinstance(target[name], list):
                    target[name].append(value)
                break
            else:
                target = target.setdefault(name, {})
                if not isinstance(target, dict):
                    break
    return params


class TenantSettings:
    """The tenant's fields definitions, its one webhook (has_one :web_hook) and what was sent."""

    def __init__(self):
        self.fields = []
        self.next_field_id = 1
        for target, names in BUILTIN_FIELDS.items():
            for name, required in names.items():
                self.add_field({"target": target, "name": name, "label": name.replace("_", " ").title(),
                                "required": required})
        # Today's application extra fields (DEFINED_FIELDS), the token fields hidden.
        self.set_own_fields([{"name": name, "hidden": name != "environment"} for name in DEFINED_FIELDS])
        self.web_hook = None  # none until saved: current_account.web_hook || build_web_hook
        self.deliveries = []

    def add_field(self, spec):
        field = {"id": self.next_field_id, "target": spec.get("target", "Cinstance"),
                 "name": spec["name"], "label": spec.get("label", spec["name"]),
                 "required": bool(spec.get("required", False)), "hidden": bool(spec.get("hidden", False)),
                 "read_only": bool(spec.get("read_only", False)), "choices": list(spec.get("choices", [])),
                 "position": len(self.fields), "created_at": now_text(), "updated_at": now_text()}
        self.next_field_id += 1
        self.fields.append(field)
        return field

    def set_own_fields(self, specs):
        self.fields = [f for f in self.fields if f["name"] in BUILTIN_FIELDS.get(f["target"], {})]
        for spec in specs:
            self.add_field(spec)

    def extra_field_names(self, target="Cinstance"):
        """defined_fields_names_for(Cinstance), less the builtins, which are columns."""
        return {f["name"] for f in self.fields
                if f["target"] == target and f["name"] not in BUILTIN_FIELDS[target]}

    @staticmethod
    def default_web_hook():
        """db/schema.rb: every boolean false but push_application_content_type."""
        hook = {"url": None, "active": False, "provider_actions": False,
                "push_application_content_type": True, "updated_at": None}
        hook.update({switch: False for switch in WEBHOOK_SWITCHES})
        return hook

    @staticmethod
    def shown_web_hook(hook):
        """web_hook_representer.rb: wraps_resource 'webhook'; a nil url is left out."""
        shown = {k: hook.get(k) for k in WEBHOOK_PERMITTED if k != "url"}
        if hook.get("url") is not None:
            shown = {"url": hook["url"], **shown}
        return {"webhook": shown}

    def deliver(self, porta, url, xml, as_xml, event):
        """WebHookWorker#push: raw XML as application/xml, or the form parameter xml."""
        if as_xml:
            data, kind = xml.encode(), "application/xml"
        else:
            data, kind = urllib.parse.urlencode({"xml": xml}).encode(), "application/x-www-form-urlencoded"
        record = {"event": event, "path": urllib.parse.urlsplit(url).path}
        try:
            request = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": kind})
            with urllib.request.urlopen(request, timeout=60) as response:
                record.update(status=response.status, body=response.read().decode("utf-8", "replace"))
        except urllib.error.HTTPError as err:
            record.update(status=err.code, body=err.read().decode("utf-8", "replace"))
        except (OSError, ValueError) as err:
            record.update(status=None, body=type(err).__name__)
        with porta.lock:
            self.deliveries.append(record)


class TenantSettingsRoutes:
    """Handler routes for TenantSettings; the caller of each *_answer holds porta's lock."""

    def body_params(self):
        """request.request_parameters: the body, parsed by its content type only."""
        kind = self.headers.get("Content-Type", "")
        if kind.startswith("application/x-www-form-urlencoded"):
            return rack_params(urllib.parse.parse_qsl(self.body.decode("utf-8", "replace"),
                                                      keep_blank_values=True))
        if kind.startswith("application/json") and self.body.strip():
            try:
                data = json.loads(self.body)
            except ValueError:
                return None
            return data if isinstance(data, dict) else {"_json": data}
        return {}

    def wrapped(self, wrapper, attributes):
        """ParamsWrapper + wrap_parameters_check + params.fetch/require(wrapper): the wrapped
        hash, or porta's error answer. Flat body keys that are attribute names are wrapped,
        only if the request has a content type and the wrapper key is not sent already."""
        query = rack_params(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query,
                                                   keep_blank_values=True))
        body = self.body_params()
        if body is None:
            return None, (400, {"status": "Bad Request"})
        params = {**query, **body}
        kind = self.headers.get("Content-Type", "")
        wraps = kind.startswith(("application/x-www-form-urlencoded", "application/json"))
        if wraps and wrapper not in params:
            params[wrapper] = {k: v for k, v in body.items() if k in attributes}
        if wrapper not in params:
            return None, (400, f"Required parameter missing: {wrapper}")
        if not isinstance(params[wrapper], dict):
            return None, (422, f"Wrong type for parameter: {wrapper}")
        return params[wrapper], None

    def tenant_settings_answer(self, method, path, caller):
        fields = FIELDS_PATH.match(path)
        if fields:
            return self.fields_definitions(method, fields.group(1), caller)
        if path == WEBHOOK_SETTINGS and method in ("PUT", "PATCH"):
            return self.update_web_hook(caller)
        new_application = NEW_APPLICATION_PATH.match(path)
        if new_application and method == "POST":
            return self.create_application(caller, int(new_application.group(1)))
        return None

    # fields_definitions_controller.rb
    def fields_definitions(self, method, field_id, caller):
        settings = self.porta.settings
        shown = lambda f: {"fields_definition": {k: f[k] for k in (
            "id", "target", "name", "label", "required", "hidden", "read_only", "choices",
            "position", "created_at", "updated_at")}}
        if field_id is None and method == "GET":
            ordered = sorted(settings.fields, key=lambda f: f["position"])
            return 200, {"fields_definitions": [shown(f) for f in ordered]}
        if field_id is None and method == "POST":
            params, error = self.wrapped("fields_definition", FIELDS_ATTRIBUTES)
            if error:
                return error
            params = {k: v for k, v in params.items() if k in FIELDS_CREATE}
            if not params:  # params.require: a blank hash is missing
                return 400, "Required parameter missing: fields_definition"
            field = {"target": params.get("target") if params.get("target") in BUILTIN_FIELDS else None,
                     "name": params.get("name") or "", "label": params.get("label") or "",
                     "required": bool(rails_bool(params.get("required", False))),
                     "hidden": bool(rails_bool(params.get("hidden", False))),
                     "read_only": bool(rails_bool(params.get("read_only", False)))}
            errors = self.field_errors(field, new=True)
            if errors:
                return 422, {"errors": errors}
            if caller["permission"] != "rw":
                return NOT_PERMITTED  # the INSERT fails in the read-only transaction
            return 201, shown(settings.add_field(field))
        field = next((f for f in settings.fields if str(f["id"]) == field_id), None)
        if field is None:
            return NOT_FOUND
        if method == "GET":
            return 200, shown(field)
        if method == "DELETE":
            if caller["permission"] != "rw":
                return NOT_PERMITTED
            if not BUILTIN_FIELDS[field["target"]].get(field["name"]):  # required builtins stay
                settings.fields.remove(field)
            return 200, None
        if method != "PUT":
            return NOT_FOUND
        params, error = self.wrapped("fields_definition", FIELDS_ATTRIBUTES)
        if error:
            return error
        params = {k: v for k, v in params.items() if k in FIELDS_UPDATE}
        if not params:
            return 400, "Required parameter missing: fields_definition"
        changed = dict(field)
        for key in ("required", "hidden", "read_only"):
            if key in params:
                changed[key] = bool(rails_bool(params[key]))
        if "label" in params:
            changed["label"] = params["label"]
        # set_required_if_required_field_on_target; target and name are attr_readonly.
        if BUILTIN_FIELDS[field["target"]].get(field["name"]):
            changed.update(required=True, hidden=False, read_only=False)
        errors = self.field_errors(changed, new=False)
        if errors:
            return 422, {"errors": errors}
        if changed != field:
            if caller["permission"] != "rw":
                return NOT_PERMITTED
            changed["updated_at"] = now_text()
            field.update(changed)
        return 200, shown(field)

    def field_errors(self, field, new):
        """fields_definition.rb's validations that matter here."""
        errors = {}
        for key in ("label", "target", "name"):
            if not field.get(key):
                errors[key] = ["can't be blank"]
        if new and field.get("name") and not FIELD_NAME.match(field["name"]):
            errors["name"] = ["Name should start with letters, and can contain numbers, - and _"]
        elif new and any(f["target"] == field["target"] and f["name"] == field["name"]
                         for f in self.porta.settings.fields):
            errors["name"] = ["has already been taken"]
        if field.get("required") and (field.get("hidden") or field.get("read_only")):
            errors["required"] = ["Fields cannot be required AND hidden/read_only"]
        return errors

    # web_hooks_controller.rb#update: params.fetch(:web_hook).permit(url, active, provider_actions, *_on)
    def update_web_hook(self, caller):
        settings = self.porta.settings
        params, error = self.wrapped("web_hook", WEBHOOK_ATTRIBUTES)
        if error:
            return error
        record = settings.web_hook
        current = dict(record) if record else settings.default_web_hook()
        changed = dict(current)
        for key, value in params.items():
            if key == "url":
                changed["url"] = value if isinstance(value, str) else None
            elif key in WEBHOOK_PERMITTED:  # anything else is dropped, as porta does in production
                changed[key] = rails_bool(value)
        url = changed.get("url")
        errors = {}
        if url is not None and len(url) > 255:
            errors.setdefault("url", []).append("is too long (maximum is 255 characters)")
        # URI::DEFAULT_PARSER.make_regexp(%w[http https]), :if => :active; unanchored.
        if changed.get("active") and not re.search(r"https?://[^\s/?#]+", url or ""):
            errors.setdefault("url", []).append("Must be a valid URL such as http://example.com")
        if errors:
            return 422, {"errors": errors}
        if record is None or changed != current:
            if caller["permission"] != "rw":
                return NOT_PERMITTED  # the INSERT or UPDATE fails in the read-only transaction
            changed["updated_at"] = now_text()
            settings.web_hook = changed
        return 200, settings.shown_web_hook(changed)

    # buyers_applications_controller.rb#create, then WebHook::Event for "created"
    def create_application(self, caller, account_id):
        if caller["permission"] != "rw":
            return NOT_PERMITTED
        form = rack_params(urllib.parse.parse_qsl(self.body.decode("utf-8", "replace"),
                                                  keep_blank_values=True))
        if not form.get("plan_id"):
            return NOT_FOUND  # application_plans.find(params[:plan_id])
        if not form.get("name"):
            return 422, {"errors": {"name": ["can't be blank"]}}
        extra = {k: v for k, v in form.items()
                 if k in self.porta.settings.extra_field_names() and isinstance(v, str)}
        app_id = max(self.porta.applications, default=0) + 1
        app = {"id": app_id, "account_id": account_id, "extra_fields": extra}
        self.porta.applications[app_id] = app
        self.fire_web_hook(app, "created")
        return 201, {"application": {"id": app_id, "user_account_id": account_id, "state": "live",
                                     "name": form["name"], "plan_id": form["plan_id"], **extra}}

    def fire_web_hook(self, app, event):
        """WebHook::Event#valid?: the webhook active, the event's switch on, and, for an action
        of an admin's token (a provider user), provider_actions on (push_user?)."""
        hook = self.porta.settings.web_hook
        if not hook or not hook.get("active") or not hook.get(f"application_{event}_on"):
            return
        if not hook.get("provider_actions") or not hook.get("url"):
            return
        threading.Thread(target=self.porta.settings.deliver, daemon=True,
                         args=(self.porta, hook["url"], application_xml(app, event),
                               hook.get("push_application_content_type", True),
                               f"application:{event}")).start()

    def tenant_settings_control(self, method, path, data):
        porta = self.porta
        settings = porta.settings
        with porta.lock:
            if (method, path) == ("POST", "/__stand_in/fields_definitions"):
                settings.set_own_fields(data)
                return 204, None
            if (method, path) == ("GET", "/__stand_in/fields_definitions"):
                return 200, list(settings.fields)
            if (method, path) == ("POST", "/__stand_in/webhook"):
                if data is None:
                    settings.web_hook = None
                else:
                    hook = settings.default_web_hook()
                    hook.update(data)
                    hook["updated_at"] = now_text()
                    settings.web_hook = hook
                return 204, None
            if (method, path) == ("GET", "/__stand_in/webhook"):
                return 200, settings.web_hook
            if (method, path) == ("GET", "/__stand_in/deliveries"):
                return 200, list(settings.deliveries)
        return None


class Handler(TenantSettingsRoutes, http.server.BaseHTTPRequestHandler):
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
            routed = self.tenant_settings_answer(method, path, caller)
            if routed:
                return routed
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
            if field in self.porta.settings.extra_field_names():
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
            if (method, path) == ("GET", "/__stand_in/connections"):
                with porta.lock:
                    return self.answer(200, porta.connections)
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
            routed = self.tenant_settings_control(method, path, data)
            if routed:
                return self.answer(*routed)
            event = re.match(r"^/__stand_in/applications/(\d+)/event$", path)
            if method == "GET" and event:
                return self.answer_xml(self.application_event(int(event.group(1))))
        except (ValueError, KeyError, TypeError) as err:
            return self.answer(400, {"error": type(err).__name__})
        return self.answer(404, NOT_FOUND[1])

    def application_event(self, application_id):
        """The XML porta's WebHook::Event would post for this application now."""
        action = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get("action", ["updated"])[0]
        with self.porta.lock:
            return application_xml(self.porta.applications[application_id], action)

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


class Server(http.server.ThreadingHTTPServer):
    """Counts connections; with `tls` set, serves HTTPS, each handshake in its own thread."""
    daemon_threads = True
    tls = None  # an ssl.SSLContext

    def finish_request(self, request, client_address):
        porta = Handler.porta
        with porta.lock:
            porta.connections["accepted"] += 1
        if self.tls is None:
            return super().finish_request(request, client_address)
        request.settimeout(10)
        try:
            secure = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            with porta.lock:
                porta.connections["tls_failed"] += 1
            return
        secure.settimeout(None)
        try:
            super().finish_request(secure, client_address)
        finally:
            try:
                secure.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            secure.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("FAKE_ADMIN_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("FAKE_ADMIN_PORT", "9001")))
    parser.add_argument("--seed", default=os.path.join(os.path.dirname(__file__), "local-porta.json"),
                        help="JSON list of tokens to create at start ('' for none)")
    parser.add_argument("--tls-cert", default=os.environ.get("FAKE_ADMIN_TLS_CERT"),
                        help="PEM certificate chain: serve HTTPS")
    parser.add_argument("--tls-key", default=os.environ.get("FAKE_ADMIN_TLS_KEY"),
                        help="PEM private key of --tls-cert")
    args = parser.parse_args()
    Handler.porta = Porta()
    Handler.porta.admin_host = args.host.lower()
    if args.seed:
        with open(args.seed, encoding="utf-8") as seed:
            for spec in json.load(seed):
                Handler.porta.add_token(spec)
    server = Server((args.host, args.port), Handler)
    scheme = "http"
    if args.tls_cert:
        server.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.tls.load_cert_chain(args.tls_cert, args.tls_key)
        scheme = "https"
    url = f"{scheme}://{args.host}:{server.server_address[1]}"
    print(url, flush=True)
    sys.stderr.write(f"fake 3scale admin API on {url}\n")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
