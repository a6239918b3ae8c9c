#!/usr/bin/env python3
"""Writes events/: 3scale webhook bodies and the API Gateway / Function URL events that carry them.

Run from the repo root: `python3 scripts/gen-events.py` (or `--check` to fail if events/ is stale).
The bodies follow 3scale/porta's `WebHook::Event#to_xml` and `extra_fields_to_xml`.
"""
import base64
import json
import pathlib
import sys
import urllib.parse

ROOT = pathlib.Path(__file__).resolve().parent.parent / "events"

# A made-up token of 3scale's shape (64 hex digits). Tests assert it never reaches a log line.
TOKEN = "8c3e1f0d7b2a4c6e9f5d1b3a7c0e2f4d6b8a1c3e5f7d9b0a2c4e6f8d1b3a5c7e"
TOKEN_UPDATED = "5b1d9f3a7e0c2b4d6f8a1c3e5d7b9f0a2c4e6b8d1f3a5c7e9b0d2f4a6c8e1b3d"
# The shared secret the fixtures carry in their webhook URL (`?secret=`).
WEBHOOK_SECRET = "local-webhook-secret"


def application(action, token, extra_state="live"):
    fields = f"<token_value>{token}</token_value>" if token else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<event>
  <action>{action}</action>
  <type>application</type>
  <object>
    <application>
      <id>1409620384</id>
      <created_at>2026-11-24T10:15:42Z</created_at>
      <updated_at>2026-11-24T10:15:42Z</updated_at>
      <state>{extra_state}</state>
      <user_account_id>2445583467891</user_account_id>
      <first_traffic_at/>
      <first_daily_traffic_at/>
      <end_user_required>false</end_user_required>
      <service_id>2555417902188</service_id>
      <user_key>3f9a2c7e1b5d8f0a4c6e2b9d7f1a3c5e</user_key>
      <provider_verification_key>9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b</provider_verification_key>
      <plan custom="false" default="true">
        <id>2357356113745</id>
        <name>Basic</name>
        <type>application_plan</type>
        <state>published</state>
        <service_id>2555417902188</service_id>
        <end_user_required>false</end_user_required>
        <setup_fee>0.0</setup_fee>
        <cost_per_month>0.0</cost_per_month>
        <trial_period_days/>
        <cancellation_period>0</cancellation_period>
        <system_name>basic</system_name>
        <approval_required>false</approval_required>
      </plan>
      <redirect_url/>
      <service_name>Payments API</service_name>
      <plan_name>Basic</plan_name>
      <org_name>Acme Partner Ltd</org_name>
      <name>Partner integration</name>
      <description>Created through the Account Management API by the onboarding pipeline</description>
      <extra_fields>
        <environment>production</environment>
        {fields}
      </extra_fields>
    </application>
  </object>
</event>
"""


ACCOUNT_CREATED = """<?xml version="1.0" encoding="UTF-8"?>
<event>
  <action>created</action>
  <type>account</type>
  <object>
    <account>
      <id>2445583467891</id>
      <created_at>2026-11-24T10:12:03Z</created_at>
      <updated_at>2026-11-24T10:12:03Z</updated_at>
      <state>approved</state>
      <org_name>Acme Partner Ltd</org_name>
      <extra_fields>
        <vat_code>GB123456789</vat_code>
      </extra_fields>
      <monthly_billing_enabled>true</monthly_billing_enabled>
      <monthly_charging_enabled>true</monthly_charging_enabled>
      <credit_card_stored>false</credit_card_stored>
      <plans/>
    </account>
  </object>
</event>
"""

USER_CREATED = """<?xml version="1.0" encoding="UTF-8"?>
<event>
  <action>created</action>
  <type>user</type>
  <object>
    <user>
      <id>2445583467902</id>
      <created_at>2026-11-24T10:12:03Z</created_at>
      <updated_at>2026-11-24T10:12:03Z</updated_at>
      <account_id>2445583467891</account_id>
      <state>active</state>
      <role>admin</role>
      <username>partner-admin</username>
      <email>admin@partner.example</email>
      <extra_fields/>
    </user>
  </object>
</event>
"""

PAYLOADS = {
    "application-created": application("created", TOKEN),
    "application-updated": application("updated", TOKEN_UPDATED),
    "application-deleted": application("deleted", TOKEN, extra_state="suspended"),
    "account-created": ACCOUNT_CREATED,
    "user-created": USER_CREATED,
}

# name -> (method, payload name or None, delivery, extra query)
# delivery: "xml" = application/xml text; "base64" = application/xml, isBase64Encoded (as
# `cargo lambda watch` sends it); "form" = form-encoded `xml` field, which API Gateway base64-encodes.
EVENTS = {
    "application-created": ("POST", "application-created", "xml", {}),
    "application-updated": ("POST", "application-updated", "xml", {}),
    "application-deleted": ("POST", "application-deleted", "xml", {}),
    "account-created": ("POST", "account-created", "xml", {}),
    "user-created": ("POST", "user-created", "xml", {}),
    "application-created-form": ("POST", "application-created", "form", {}),
    "application-created-base64": ("POST", "application-created", "base64", {}),
    "ping": ("GET", None, None, {"ping": "3scale"}),
}

PATH = "/webhook"


def body_of(payload, delivery):
    if payload is None:
        return None, False, None
    xml = PAYLOADS[payload]
    if delivery == "xml":
        return xml, False, "application/xml"
    if delivery == "base64":
        return base64.b64encode(xml.encode()).decode(), True, "application/xml"
    if delivery == "form":
        form = urllib.parse.urlencode({"xml": xml})
        return base64.b64encode(form.encode()).decode(), True, "application/x-www-form-urlencoded"
    raise ValueError(delivery)


def headers_for(content_type, host):
    h = {
        "accept": "*/*",
        "host": host,
        "user-agent": "rest-client/2.1.0 (linux x86_64) ruby/3.1.4p223",
        "x-forwarded-for": "203.0.113.10",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    if content_type:
        h["content-type"] = content_type
    return h


def rest_event(method, body, b64, content_type, query):
    host = "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"
    h = headers_for(content_type, host)
    h = {k.title(): v for k, v in h.items()}
    return {
        "resource": PATH,
        "path": PATH,
        "httpMethod": method,
        "headers": h,
        "multiValueHeaders": {k: [v] for k, v in h.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()},
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "a1b2c3d4e5",
            "domainName": host,
            "httpMethod": method,
            "identity": {"sourceIp": "203.0.113.10", "userAgent": h["User-Agent"]},
            "path": "/Prod" + PATH,
            "protocol": "HTTP/1.1",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "requestTime": "24/Nov/2026:10:15:43 +0000",
            "requestTimeEpoch": 1795515343000,
            "resourceId": "abc123",
            "resourcePath": PATH,
            "stage": "Prod",
        },
        "body": body,
        "isBase64Encoded": b64,
    }


def v2_event(method, body, b64, content_type, query, host, api_id, route_key):
    h = headers_for(content_type, host)
    if body is not None:
        h["content-length"] = str(len(base64.b64decode(body)) if b64 else len(body.encode()))
    event = {
        "version": "2.0",
        "routeKey": route_key.format(method=method),
        "rawPath": PATH,
        "rawQueryString": urllib.parse.urlencode(query),
        "headers": h,
        "queryStringParameters": query,
        "requestContext": {
            "accountId": "anonymous" if route_key == "$default" else "123456789012",
            "apiId": api_id,
            "domainName": host,
            "domainPrefix": api_id,
            "http": {
                "method": method,
                "path": PATH,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.10",
                "userAgent": h["user-agent"],
            },
            "requestId": "LV7fzho-PHcEJPw=",
            "routeKey": route_key.format(method=method),
            "stage": "$default",
            "time": "24/Nov/2026:10:15:43 +0000",
            "timeEpoch": 1795515343067,
        },
        "isBase64Encoded": b64,
    }
    if body is not None:
        event["body"] = body
    return event


# What SAM's Schedule event source delivers through EventBridge: it starts the sweep.
SCHEDULED_EVENT = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-11-25T10:05:00Z",
    "region": "eu-west-1",
    "resources": ["arn:aws:events:eu-west-1:123456789012:rule/access-token-revoker-FailedDeliveriesSweep"],
    "detail": {},
}


# What Secrets Manager sends the rotation function, one event per step of one rotation. The
# secret and version are the ones scripts/smoke-local makes in moto (RotateSecret with this
# ClientRequestToken); RotationToken is a stand-in that must never reach a log line.
ROTATION_SECRET = "threescale/local-rotation"
ROTATION_VERSION = "7c0e2f4d-6b8a-4c3e-9f5d-1b3a7c0e2f4d"
ROTATION_STEPS = ["createSecret", "setSecret", "testSecret", "finishSecret"]


def rotation_event(step):
    return {"Step": step, "SecretId": ROTATION_SECRET, "ClientRequestToken": ROTATION_VERSION,
            "RotationToken": "local-rotation-token-never-logged"}


def failures_listing():
    """GET /admin/api/webhooks/failures.json after an outage, as porta renders it
    (app/representers/web_hook_failure(s)_representer.rb): oldest first, the exact XML posted."""
    def failure(uuid, time, payload):
        return {"webhooks-failure": {
            "id": uuid, "time": time, "error": "WebHookWorker::ClientError",
            "url": "https://f6g7h8i9j0.execute-api.eu-west-1.amazonaws.com/webhook?secret=" + WEBHOOK_SECRET,
            "event": PAYLOADS[payload]}}
    return {"webhooks-failures": [
        failure("0b7e2c3a-1d4f-4e8a-9b6c-5d2e1f0a3b4c", "2026-11-25T09:52:10Z", "application-created"),
        failure("6f1a9d2e-3c5b-4a7e-8d0f-2b4c6e8a0d1f", "2026-11-25T09:55:41Z", "application-updated"),
    ]}


def all_files():
    files = {}
    for name, xml in PAYLOADS.items():
        files[f"payloads/{name}.xml"] = xml
    files["payloads/webhook-failures.json"] = json.dumps(failures_listing(), indent=2) + "\n"
    files["scheduled/sweep.json"] = json.dumps(SCHEDULED_EVENT, indent=2) + "\n"
    for step in ROTATION_STEPS:
        files[f"rotation/{step}.json"] = json.dumps(rotation_event(step), indent=2) + "\n"
    for name, (method, payload, delivery, extra) in EVENTS.items():
        body, b64, ctype = body_of(payload, delivery)
        query = {"secret": WEBHOOK_SECRET, **extra}
        variants = {
            "apigw-rest": rest_event(method, body, b64, ctype, query),
            "apigw-http": v2_event(method, body, b64, ctype, query,
                                   "f6g7h8i9j0.execute-api.eu-west-1.amazonaws.com", "f6g7h8i9j0",
                                   "{method} " + PATH),
            "function-url": v2_event(method, body, b64, ctype, query,
                                     "k1l2m3n4o5p6q7r8s9t0u1v2w3x4y5z6.lambda-url.eu-west-1.on.aws",
                                     "k1l2m3n4o5p6q7r8s9t0u1v2w3x4y5z6", "$default"),
        }
        for kind, event in variants.items():
            files[f"{kind}/{name}.json"] = json.dumps(event, indent=2) + "\n"
    return files


def main():
    check = "--check" in sys.argv
    stale = []
    for rel, text in all_files().items():
        path = ROOT / rel
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(rel)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    if stale:
        sys.exit("events/ is stale; run python3 scripts/gen-events.py: " + ", ".join(stale))


if __name__ == "__main__":
    main()
