#!/usr/bin/env python3
"""In-process moto server for iam-sweeper's end-to-end tests, `make demo` and `make bench`.

Serves moto 5.2.5's normal WSGI app (the same one `moto_server` / ThreadedMotoServer
serve) on 127.0.0.1, wrapped in a small WSGI middleware that adds test-only
endpoints under ``/_seed/``:

  POST /_seed/users          create users, passwords, tags and access keys with
                             *backdated* timestamps, straight in moto's IAM backend
  POST /_seed/after_report   mutations applied right after the next successful
                             GetCredentialReport ("credential used between the
                             report and the live re-check")
  POST /_seed/fail           make the next N calls of an IAM action fail with an
                             AWS-style XML error ("service" for another query-protocol
                             service, e.g. "sts"; "params": {"RoleArn": ...} to strike only
                             calls with those request parameters)
  POST /_seed/report_override
                             {"content_b64": "..."}: every later GetCredentialReport
                             answers with these bytes as the report (a malformed
                             report, say) instead of moto's; null clears it
  GET  /_seed/calls          count of API calls served, by "SERVICE.Action"
  GET  /_seed/timings        {"SERVICE.Action": {"calls": N, "seconds": S, "app_seconds": A}}:
                             the time the server spent on each kind of call, from the
                             parsed request to the last byte of the answer (S), and the
                             part of it inside moto (A): the emulator's own per-call
                             cost, for benchmarks
  POST /_seed/calls/reset    zero those counts and timings
  GET  /_seed/health         {"ok": true}
  GET  /_seed/ses_sent       every mail SES accepted: [{"source", "to", "subject", "body", ...}]

Security Hub is made faithful to AWS in one respect: BatchImportFindings and GetFindings
answer InvalidAccessException until EnableSecurityHub was called for the account and region
(moto 5.2.5 accepts them regardless). Its REST-JSON calls are counted by their path
("SECURITYHUB.BatchImportFindings", ...).

moto's own ``/moto-api/reset`` and ``/moto-api/data.json`` keep working; a reset
also clears this launcher's pending mutations, failure injections, report override
and counters.

Usage:
  python moto_launcher.py [--port N] [--port-file PATH] [--exit-on-stdin-eof] [--verbose]

When listening it writes the port to PATH atomically (temp file + rename) and
prints ``READY <port>`` to stdout. It exits cleanly on SIGTERM/SIGINT, and on stdin
EOF when --exit-on-stdin-eof is given (so it dies with the test process that
spawned it with a pipe on stdin). emulator_client.py (Python) and tests/it/support/emulator.rs
(Rust) start it and talk to it this way.

Only the standard library and what `moto[server]` pulls in are used.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import io
import json
import os
import re
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timezone
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

from werkzeug.serving import make_server

from moto.core import DEFAULT_ACCOUNT_ID  # "123456789012"
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)

# moto.iam.models is imported lazily (first use) so that startup stays fast.

SEED_PREFIX = "/_seed/"

# The "SERVICE.Action" of the request the current server thread is serving, set by the
# middleware and read by the request handler to attribute the time it spent.
_serving = threading.local()
DEFAULT_REGION = "us-east-1"
SEEDED_PASSWORD = "Seeded-Passw0rd!"  # moto does not check password policy
IAM_XMLNS = "https://iam.amazonaws.com/doc/2010-05-08/"

# SigV4: "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/iam/aws4_request, ..."
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/([^/,\s]+)/aws4_request")

# Security Hub speaks REST-JSON: the action is the method and path, not Action= or X-Amz-Target.
_SECURITYHUB_ACTIONS = {
    ("POST", "/findings/import"): "BatchImportFindings",
    ("POST", "/findings"): "GetFindings",
    ("POST", "/accounts"): "EnableSecurityHub",
    ("GET", "/accounts"): "DescribeHub",
    ("DELETE", "/accounts"): "DisableSecurityHub",
}
_securityhub_checked = False


def require_securityhub_enabled() -> None:
    """Make BatchImportFindings and GetFindings refuse an account and region where Security Hub
    is not enabled, as AWS does (InvalidAccessException, HTTP 401). Installed on the first
    Security Hub call, so that startup does not import moto's Security Hub."""
    global _securityhub_checked
    if _securityhub_checked:
        return
    _securityhub_checked = True
    from moto.securityhub.exceptions import SecurityHubClientError
    from moto.securityhub.models import SecurityHubBackend

    def refuse_unless_enabled(method: Callable) -> Callable:
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            if not self.enabled:
                raise SecurityHubClientError(
                    "InvalidAccessException",
                    f"Account {self.account_id} is not subscribed to AWS Security Hub",
                )
            return method(self, *args, **kwargs)

        return wrapper

    for name in ("batch_import_findings", "get_findings"):
        setattr(SecurityHubBackend, name, refuse_unless_enabled(getattr(SecurityHubBackend, name)))


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


class SeedError(Exception):
    """A bad seed request; reported as HTTP 400 {"error": ...}."""


def parse_time(value: Any, what: str) -> datetime:
    """RFC 3339 / ISO 8601 -> naive UTC datetime, which is what moto itself stores
    (moto.core.utils.utcnow() returns a naive datetime; User.to_csv formats it with a
    literal "+00:00"). A value without an offset is taken as UTC."""
    if not isinstance(value, str):
        raise SeedError(f"{what}: expected an RFC 3339 string, got {value!r}")
    try:
        dt = datetime.fromisoformat(value.strip())  # 3.11 accepts "Z" and fractions
    except ValueError as exc:
        raise SeedError(f"{what}: not an RFC 3339 timestamp: {value!r}") from exc
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    return dt


def parse_optional_time(value: Any, what: str) -> datetime | None:
    return None if value is None else parse_time(value, what)


def fmt_time(dt: datetime) -> str:
    """Naive UTC datetime -> RFC 3339 with Z (fractional seconds kept if present)."""
    return dt.isoformat() + "Z"


def iam_backend(account_id: str = DEFAULT_ACCOUNT_ID) -> Any:
    # Always look it up again: /moto-api/reset replaces the backend objects.
    from moto.iam.models import iam_backends

    return iam_backends[account_id]["aws"]


def ses_sent() -> list[dict]:
    """Every mail SES (v1 or v2) accepted, in every account and region, oldest first."""
    from moto.ses.models import ses_backends

    sent = []
    for account_id, regions in ses_backends.items():
        for region, backend in regions.items():
            for m in backend.sent_messages:
                sent.append(
                    {
                        "account": account_id,
                        "region": region,
                        "source": getattr(m, "source", None),
                        "to": list((getattr(m, "destinations", None) or {}).get("ToAddresses", [])),
                        "subject": getattr(m, "subject", None),
                        "body": getattr(m, "body", None),
                    }
                )
    return sent


def json_response(start_response: Callable, status: int, obj: Any) -> list[bytes]:
    body = json.dumps(obj).encode()
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}
    start_response(
        f"{status} {reason.get(status, 'Error')}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]


# --------------------------------------------------------------------------------------
# Seeding (writes straight into moto's IAM backend)
# --------------------------------------------------------------------------------------


def seed_users(payload: dict) -> dict:
    from moto.iam.models import AccessKeyLastUsed

    users = payload.get("users")
    if not isinstance(users, list):
        raise SeedError('body must be {"users": [...]}')
    account_id = str(payload.get("account_id", DEFAULT_ACCOUNT_ID))

    # Validate and parse everything first, so a bad entry creates nothing.
    plans = []
    seen: set[str] = set()
    for i, u in enumerate(users):
        where = f"users[{i}]"
        if not isinstance(u, dict) or not isinstance(u.get("name"), str) or not u["name"]:
            raise SeedError(f"{where}: needs a non-empty string 'name'")
        name = u["name"]
        if name in seen:
            raise SeedError(f"{where}: duplicate user name {name!r}")
        seen.add(name)
        created = parse_time(u.get("created"), f"{where}.created")
        password = u.get("password")
        if password is not None and not isinstance(password, dict):
            raise SeedError(f"{where}.password: expected null or an object")
        pw_last_used = (
            parse_optional_time(password.get("last_used"), f"{where}.password.last_used")
            if password is not None
            else None
        )
        tags = u.get("tags") or {}
        if not isinstance(tags, dict):
            raise SeedError(f"{where}.tags: expected an object of strings")
        keys = u.get("keys") or []
        if not isinstance(keys, list) or len(keys) > 2:
            raise SeedError(f"{where}.keys: expected a list of at most 2 keys (IAM's limit)")
        key_plans = []
        for j, k in enumerate(keys):
            kw = f"{where}.keys[{j}]"
            if not isinstance(k, dict):
                raise SeedError(f"{kw}: expected an object")
            status = k.get("status", "Active")
            if status not in ("Active", "Inactive"):
                raise SeedError(f"{kw}.status: must be Active or Inactive")
            key_plans.append(
                (
                    parse_time(k.get("created"), f"{kw}.created"),
                    status,
                    parse_optional_time(k.get("last_used"), f"{kw}.last_used"),
                    str(k.get("service") or "s3"),
                    str(k.get("region") or DEFAULT_REGION),
                )
            )
        plans.append((name, u.get("path") or "/", created, password, pw_last_used, tags, key_plans))

    backend = iam_backend(account_id)
    clash = [p[0] for p in plans if p[0] in backend.users]
    if clash:
        raise SeedError(f"users already exist: {clash[:10]}")

    out = []
    for name, path, created, password, pw_last_used, tags, key_plans in plans:
        user = backend.create_user(
            region_name=DEFAULT_REGION,
            user_name=name,
            path=path,
            tags=[{"Key": str(k), "Value": str(v)} for k, v in tags.items()],
        )
        user.create_date = created
        if password is not None:
            backend.create_login_profile(name, SEEDED_PASSWORD)
            # None -> the report says "no_information"
            user.password_last_used = pw_last_used
        key_out = []
        for k_created, status, k_last_used, service, region in key_plans:
            key = backend.create_access_key(name)
            key.create_date = k_created
            key.status = status
            if k_last_used is not None:
                key.last_used = AccessKeyLastUsed(timestamp=k_last_used, service=service, region=region)
            key_out.append({"id": key.access_key_id, "created": fmt_time(k_created)})
        out.append({"name": name, "arn": user.arn, "keys": key_out})
    return {"users": out}


# --------------------------------------------------------------------------------------
# The middleware
# --------------------------------------------------------------------------------------


class SeedingMiddleware:
    """WSGI wrapper around moto's DomainDispatcherApplication."""

    def __init__(self, app: Callable) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.seconds: Counter[str] = Counter()  # time the server spent, by "SERVICE.Action"
        self.app_seconds: Counter[str] = Counter()  # the part of it inside moto
        self.failures: list[dict] = []  # failure injections, oldest first
        self.after_report: list[tuple[str, dict]] = []  # ("key"|"password", spec)
        self.report_override: bytes | None = None  # GetCredentialReport content, if set

    # ---- state ----------------------------------------------------------------------

    def reset_state(self) -> None:
        with self.lock:
            self.calls.clear()
            self.seconds.clear()
            self.app_seconds.clear()
            self.failures.clear()
            self.after_report.clear()
            self.report_override = None

    # ---- WSGI entry -----------------------------------------------------------------

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(SEED_PREFIX):
            return self.handle_seed(environ, start_response, path[len(SEED_PREFIX) :].strip("/"))
        if path.rstrip("/") == "/moto-api/reset" and environ.get("REQUEST_METHOD") == "POST":
            self.reset_state()
            return self.app(environ, start_response)
        if path.startswith("/moto-api"):
            return self.app(environ, start_response)

        # An AWS API call: buffer the body so we can read Action= without consuming
        # it for moto, then hand moto a fresh stream with a correct CONTENT_LENGTH.
        body = self.buffer_body(environ)
        service, action, params = self.identify(environ, body)

        if service and action:
            _serving.op = f"{service.upper()}.{action}"
            with self.lock:
                self.calls[f"{service.upper()}.{action}"] += 1
            injected = self.take_failure(service, action, params)
            if injected is not None:
                return self.error_response(start_response, injected)

        started = time.perf_counter()
        if service == "iam" and action == "GetCredentialReport":
            response = self.run_then_apply_after_report(environ, start_response)
        else:
            response = self.app(environ, start_response)
        if service and action:
            served = time.perf_counter() - started
            with self.lock:
                self.app_seconds[f"{service.upper()}.{action}"] += served
        return response

    def record_served(self, op: str, seconds: float) -> None:
        """Called by the request handler once the answer is written."""
        with self.lock:
            self.seconds[op] += seconds

    # ---- request inspection ---------------------------------------------------------

    @staticmethod
    def buffer_body(environ: dict) -> bytes:
        stream = environ.get("wsgi.input")
        length = environ.get("CONTENT_LENGTH") or ""
        if stream is None:
            body = b""
        elif length.isdigit():
            body = stream.read(int(length)) if int(length) else b""
        elif environ.get("wsgi.input_terminated"):  # chunked upload, werkzeug de-chunks
            body = stream.read()
        else:
            body = b""
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("wsgi.input_terminated", None)
        return body

    @staticmethod
    def identify(environ: dict, body: bytes) -> tuple[str | None, str | None, dict[str, str]]:
        """(service, action, form/query params) of an AWS request, as far as it can tell."""
        service = None
        m = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if m is None:  # presigned URL
            m = _CREDENTIAL_SCOPE.search(
                environ.get("QUERY_STRING", "").replace("%2F", "/").replace("%2f", "/")
            )
        if m:
            service = m.group(2).lower()

        params: dict[str, str] = {}
        for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items():
            params[k] = v[0]
        ctype = environ.get("CONTENT_TYPE", "")
        if body and ("x-www-form-urlencoded" in ctype or (not ctype and b"Action=" in body)):
            for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items():
                params[k] = v[0]

        action = params.get("Action")
        if action is None and service == "securityhub":
            require_securityhub_enabled()
            key = (environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "").rstrip("/"))
            action = _SECURITYHUB_ACTIONS.get(key)
        if action is None:  # JSON protocol: X-Amz-Target: AmazonSQS.ReceiveMessage
            target = environ.get("HTTP_X_AMZ_TARGET", "")
            if target:
                action = target.rsplit(".", 1)[-1]
        return service, action, params

    # ---- failure injection ----------------------------------------------------------

    def take_failure(self, service: str, action: str, params: dict[str, str]) -> dict | None:
        with self.lock:
            for rule in self.failures:
                if rule["service"] != service or rule["action"] != action:
                    continue
                if rule["user"] is not None and params.get("UserName") != rule["user"]:
                    continue
                if any(params.get(k) != v for k, v in rule["params"].items()):
                    continue
                rule["times"] -= 1
                if rule["times"] <= 0:
                    self.failures.remove(rule)
                return dict(rule)
        return None

    @staticmethod
    def error_response(start_response: Callable, rule: dict) -> list[bytes]:
        """An AWS query-protocol (IAM) XML error, byte for byte the shape IAM sends."""
        request_id = str(uuid.uuid4())
        err_type = "Receiver" if rule["status"] >= 500 else "Sender"
        message = rule["message"] or (
            f"User: arn:aws:iam::{DEFAULT_ACCOUNT_ID}:user/iam-sweeper is not authorized to "
            f"perform: iam:{rule['action']} (injected by moto_launcher)"
            if rule["code"] == "AccessDenied"
            else f"{rule['code']} (injected by moto_launcher)"
        )
        xml = (
            f'<ErrorResponse xmlns="{IAM_XMLNS}">'
            f"<Error><Type>{err_type}</Type><Code>{_xml_escape(rule['code'])}</Code>"
            f"<Message>{_xml_escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        start_response(
            f"{rule['status']} Injected",
            [
                ("Content-Type", "text/xml"),
                ("Content-Length", str(len(xml))),
                ("x-amzn-RequestId", request_id),
            ],
        )
        return [xml]

    # ---- after_report ---------------------------------------------------------------

    def run_then_apply_after_report(self, environ: dict, start_response: Callable) -> list[bytes]:
        """Let moto build the whole GetCredentialReport response first (moto rebuilds the
        report on every Get), then apply the pending mutations, then send the response:
        the report shows the old state, any later live call shows the new one. With a
        report override, the override is the report and moto is not asked."""
        with self.lock:
            override = self.report_override
        if override is not None:
            with self.lock:
                pending, self.after_report = self.after_report, []
            if pending:
                apply_mutations(pending)
            return self.report_response(start_response, override)

        captured: dict[str, Any] = {}

        def capture(status: str, headers: list, exc_info: Any = None) -> Callable:
            captured["status"], captured["headers"] = status, headers
            return start_response(status, headers, exc_info) if exc_info else (lambda _b: None)

        result = self.app(environ, capture)
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        if captured.get("status", "").startswith("200"):
            with self.lock:
                pending, self.after_report = self.after_report, []
            if pending:
                apply_mutations(pending)
        start_response(captured["status"], captured["headers"])
        return [body]

    @staticmethod
    def report_response(start_response: Callable, content: bytes) -> list[bytes]:
        """A GetCredentialReport answer carrying ``content``, in the shape IAM sends."""
        request_id = str(uuid.uuid4())
        xml = (
            f'<GetCredentialReportResponse xmlns="{IAM_XMLNS}">'
            "<GetCredentialReportResult>"
            f"<Content>{base64.b64encode(content).decode()}</Content>"
            "<ReportFormat>text/csv</ReportFormat>"
            "<GeneratedTime>2026-01-01T00:00:00Z</GeneratedTime>"
            "</GetCredentialReportResult>"
            f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
            "</GetCredentialReportResponse>"
        ).encode()
        start_response(
            "200 OK",
            [
                ("Content-Type", "text/xml"),
                ("Content-Length", str(len(xml))),
                ("x-amzn-RequestId", request_id),
            ],
        )
        return [xml]

    # ---- /_seed/ endpoints ----------------------------------------------------------

    def handle_seed(self, environ: dict, start_response: Callable, route: str) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            if route == "health" and method == "GET":
                return json_response(start_response, 200, {"ok": True})
            if route == "calls" and method == "GET":
                with self.lock:
                    return json_response(start_response, 200, dict(sorted(self.calls.items())))
            if route == "timings" and method == "GET":
                with self.lock:
                    timings = {
                        op: {
                            "calls": n,
                            "seconds": round(self.seconds[op], 6),
                            "app_seconds": round(self.app_seconds[op], 6),
                        }
                        for op, n in sorted(self.calls.items())
                    }
                return json_response(start_response, 200, timings)
            if route == "ses_sent" and method == "GET":
                return json_response(start_response, 200, ses_sent())
            if route == "calls/reset" and method == "POST":
                with self.lock:
                    self.calls.clear()
                    self.seconds.clear()
                    self.app_seconds.clear()
                return json_response(start_response, 200, {"ok": True})
            if route in ("users", "after_report", "fail", "report_override"):
                if method != "POST":
                    return json_response(start_response, 405, {"error": f"POST /_seed/{route}"})
                payload = self.read_json(environ)
                if route == "users":
                    return json_response(start_response, 200, seed_users(payload))
                if route == "after_report":
                    return json_response(start_response, 200, self.add_after_report(payload))
                if route == "report_override":
                    return json_response(start_response, 200, self.set_report_override(payload))
                return json_response(start_response, 200, self.add_failure(payload))
            return json_response(start_response, 404, {"error": f"no such seed endpoint: {method} /_seed/{route}"})
        except SeedError as exc:
            return json_response(start_response, 400, {"error": str(exc)})
        except Exception as exc:  # moto exceptions (EntityAlreadyExists, ...) and bugs
            return json_response(start_response, 400, {"error": f"{type(exc).__name__}: {exc}"})

    @staticmethod
    def read_json(environ: dict) -> dict:
        body = SeedingMiddleware.buffer_body(environ)
        try:
            payload = json.loads(body or b"{}")
        except ValueError as exc:
            raise SeedError(f"body is not JSON: {exc}") from exc
        if not isinstance(payload, dict):
            raise SeedError("body must be a JSON object")
        return payload

    def add_after_report(self, payload: dict) -> dict:
        new: list[tuple[str, dict]] = []
        for i, t in enumerate(payload.get("touch_keys") or []):
            where = f"touch_keys[{i}]"
            if not isinstance(t, dict) or not isinstance(t.get("user"), str):
                raise SeedError(f"{where}: needs 'user'")
            slot = t.get("slot", 1)
            if not isinstance(slot, int) or slot < 1:
                raise SeedError(f"{where}.slot: 1-based integer")
            new.append(
                (
                    "key",
                    {
                        "user": t["user"],
                        "slot": slot,
                        "last_used": parse_time(t.get("last_used"), f"{where}.last_used"),
                        "service": str(t.get("service") or "s3"),
                        "region": str(t.get("region") or DEFAULT_REGION),
                        "account_id": str(t.get("account_id", DEFAULT_ACCOUNT_ID)),
                    },
                )
            )
        for i, t in enumerate(payload.get("touch_passwords") or []):
            where = f"touch_passwords[{i}]"
            if not isinstance(t, dict) or not isinstance(t.get("user"), str):
                raise SeedError(f"{where}: needs 'user'")
            new.append(
                (
                    "password",
                    {
                        "user": t["user"],
                        "last_used": parse_time(t.get("last_used"), f"{where}.last_used"),
                        "account_id": str(t.get("account_id", DEFAULT_ACCOUNT_ID)),
                    },
                )
            )
        with self.lock:
            self.after_report.extend(new)
            return {"pending": len(self.after_report)}

    def set_report_override(self, payload: dict) -> dict:
        if "content_b64" not in payload:
            raise SeedError('body must be {"content_b64": "..."} (or null to clear)')
        encoded = payload["content_b64"]
        if encoded is None:
            content = None
        elif not isinstance(encoded, str):
            raise SeedError("content_b64: expected a base64 string or null")
        else:
            try:
                content = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise SeedError(f"content_b64: not base64: {exc}") from exc
        with self.lock:
            self.report_override = content
        return {"override_bytes": None if content is None else len(content)}

    def add_failure(self, payload: dict) -> dict:
        action = payload.get("action")
        if not isinstance(action, str) or not action:
            raise SeedError("needs 'action', e.g. UpdateAccessKey")
        status = payload.get("status", 403)
        times = payload.get("times", 1)
        if not isinstance(status, int) or not 400 <= status <= 599:
            raise SeedError("status: an HTTP error status 400-599")
        if not isinstance(times, int) or times < 1:
            raise SeedError("times: a positive integer")
        match = payload.get("params") or {}
        if not isinstance(match, dict) or not all(isinstance(v, str) for v in match.values()):
            raise SeedError("params: an object of request parameters to strings")
        rule = {
            "service": str(payload.get("service", "iam")).lower(),
            "action": action,
            "user": payload.get("user"),
            "code": str(payload.get("code", "AccessDenied")),
            "status": status,
            "times": times,
            "message": payload.get("message"),
            "params": match,
        }
        with self.lock:
            self.failures.append(rule)
            return {"pending": sum(r["times"] for r in self.failures)}


def apply_mutations(pending: list[tuple[str, dict]]) -> None:
    """Apply after_report mutations. A mutation whose user or key slot no longer
    exists is skipped (reported on stderr): the test asked for something impossible."""
    from moto.iam.models import AccessKeyLastUsed

    for kind, m in pending:
        try:
            user = iam_backend(m["account_id"]).users[m["user"]]
            if kind == "key":
                key = user.access_keys[m["slot"] - 1]
                key.last_used = AccessKeyLastUsed(
                    timestamp=m["last_used"], service=m["service"], region=m["region"]
                )
            else:
                user.password_last_used = m["last_used"]
        except (KeyError, IndexError):
            print(f"moto_launcher: after_report: no target for {kind} {m}", file=sys.stderr, flush=True)


def _xml_escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


# --------------------------------------------------------------------------------------
# Server lifecycle
# --------------------------------------------------------------------------------------


class TimedHandler(MotoRequestHandler):
    """moto's request handler, timing each API call from the parsed request to the last byte
    of the answer (the wait for the next request on a kept-alive connection is not counted)."""

    def run_wsgi(self) -> None:
        _serving.op = None
        started = time.perf_counter()
        try:
            super().run_wsgi()
        finally:
            op = _serving.op
            if op is not None and isinstance(self.server.app, SeedingMiddleware):
                self.server.app.record_served(op, time.perf_counter() - started)


class QuietHandler(TimedHandler):
    """The timed request handler without the per-request access log line."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


def write_port_file(path: str, port: int) -> None:
    """Write atomically: readers see either no file or the whole port number."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".moto-port-", dir=directory)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(f"{port}\n")
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--port-file", help="write the port number here once listening")
    parser.add_argument("--exit-on-stdin-eof", action="store_true", help="exit when stdin is closed")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)

    app = SeedingMiddleware(DomainDispatcherApplication(create_backend_app))
    server = make_server(
        "127.0.0.1",  # never anything else
        args.port,
        app,
        threaded=True,
        request_handler=TimedHandler if args.verbose else QuietHandler,
    )
    port = server.server_address[1]

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    if args.exit_on_stdin_eof:

        def watch_stdin() -> None:
            try:
                while sys.stdin.buffer.read(65536):
                    pass
            except (OSError, ValueError):
                pass
            stop.set()

        threading.Thread(target=watch_stdin, name="stdin-eof", daemon=True).start()

    # serve_forever runs in a thread so the main thread can call shutdown() (calling
    # it from the serving thread, or from a signal handler interrupting it, deadlocks).
    serving = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="moto-server", daemon=True
    )
    serving.start()

    if args.port_file:
        write_port_file(args.port_file, port)
    print(f"READY {port}", flush=True)

    try:
        while not stop.wait(0.1):
            pass
    finally:
        server.shutdown()
        server.server_close()
        serving.join(timeout=5)
        if args.port_file:
            try:
                with open(args.port_file) as f:
                    if f.read().strip() == str(port):
                        os.unlink(args.port_file)
            except OSError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
