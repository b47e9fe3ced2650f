#!/usr/bin/env python3
"""Fault-injecting HTTP proxy for iam-sweeper's end-to-end fault tests (stdlib only).

Sits between the binary (AWS_ENDPOINT_URL) and the emulator, on 127.0.0.1 and a free port:

  python fault_proxy.py http://127.0.0.1:EMULATOR_PORT [--port N] [--exit-on-stdin-eof]

prints ``READY <port>`` once listening and exits on SIGTERM/SIGINT, or when stdin closes with
--exit-on-stdin-eof. Client connections are HTTP/1.1 keep-alive (one thread per connection,
bodies read by Content-Length or chunked); each request is forwarded on a fresh upstream
connection. The AWS operation is the form body's ``Action=`` (query protocol: IAM, SNS) or the
``X-Amz-Target`` header; the service is the SigV4 credential scope's.

Control endpoints (never forwarded):

  POST /_proxy/rules   a JSON list of rules, appended (a single object is accepted too)
  POST /_proxy/reset   drop every rule and the log
  GET  /_proxy/log     {"inflight": N, "requests": [{"n", "t", "service", "op", "params",
                        "rule", "did", "status", "done"}, ...]}: every AWS request seen, in
                        arrival order ("t": seconds since the proxy started), logged on arrival
                        (so a delayed one shows with "done": false)

A rule: {"op": "GetUser" | "*", "service": "iam" (optional), "match": "UserName=alice"
(optional substring of the raw request body), "action": ..., "times": K (optional: fire at most
K times; default unlimited), "every": N (optional: fire on matches 1, 1+N, 1+2N, ...),
"per_op": true (optional: count "every" and "times" per operation, for "op": "*"),
"probability": p, "seed": s (optional: fire with probability p from a seeded generator)}.
Rules are tried in order; each matching rule counts the request; the first that fires applies
(one fault per request). Actions:

  throttle      400 with IAM's Throttling error XML (429 TooManyRequestsException JSON for a
                REST-JSON service such as Security Hub); not forwarded
  error_before  "status" (default 403) and "code" (default AccessDenied), "message"; not forwarded
  error_after   forwarded (so IAM applies it), then answered "status" (500) "code" (ServiceFailure)
  reset_after   forwarded, then the client connection is closed with SO_LINGER 0 (RST), no answer
  delay         sleep "seconds", then forwarded normally
  truncate      forwarded, then only the first "bytes" bytes of the body are sent with a matching
                Content-Length; or, with "before": S (and "nth": k, default 1), the body is cut
                just before the k-th occurrence of S (whole body when absent)
  drop_member   forwarded, then every XML element named "member" (nested ones included) is
                removed from the body, Content-Length fixed
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import signal
import socket
import struct
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

IAM_XMLNS = "https://iam.amazonaws.com/doc/2010-05-08/"
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection",
              "te", "trailer", "upgrade", "proxy-authenticate", "proxy-authorization"}
ACTIONS = {"throttle", "error_before", "error_after", "reset_after", "delay", "truncate", "drop_member"}
STARTED = time.monotonic()
_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/,\s]+/([^/,\s]+)/aws4_request")


class State:
    """Rules and the request log, shared by every connection thread."""

    def __init__(self, upstream: str) -> None:
        u = urlsplit(upstream)
        self.host, self.port = u.hostname or "127.0.0.1", u.port or 80
        self.lock = threading.Lock()
        self.rules: list[dict] = []
        self.log: list[dict] = []

    def add_rules(self, rules: list | dict) -> int:
        rules = rules if isinstance(rules, list) else [rules]
        for r in rules:
            if not isinstance(r, dict) or r.get("action") not in ACTIONS or not isinstance(r.get("op"), str):
                raise ValueError(f"a rule needs 'op' and 'action' (one of {sorted(ACTIONS)}): {r!r}")
            r.update(_matched={}, _fired={})
            if "probability" in r:
                r["_rng"] = random.Random(r.get("seed", 0))
        with self.lock:
            self.rules.extend(rules)
            return len(self.rules)

    def pick(self, service: str | None, op: str | None, body: bytes) -> tuple[int | None, dict | None]:
        """Counts the request against every matching rule up to the first that fires."""
        with self.lock:
            for i, r in enumerate(self.rules):
                if r["op"] not in ("*", op) or r.get("service", service) != service:
                    continue
                if "match" in r and r["match"].encode() not in body:
                    continue
                key = op if r.get("per_op") else None
                seen = r["_matched"][key] = r["_matched"].get(key, 0) + 1
                fired = r["_fired"].get(key, 0)
                fire = (seen - 1) % int(r.get("every", 1)) == 0
                fire = fire and (r.get("times") is None or fired < int(r["times"]))
                if fire and "_rng" in r:
                    fire = r["_rng"].random() < float(r["probability"])
                if fire:
                    r["_fired"][key] = fired + 1
                    return i, r
        return None, None


def error_xml(code: str, message: str) -> bytes:
    kind = "Receiver" if code in ("ServiceFailure", "InternalFailure") else "Sender"
    return (f'<ErrorResponse xmlns="{IAM_XMLNS}"><Error><Type>{kind}</Type><Code>{code}</Code>'
            f"<Message>{message}</Message></Error><RequestId>{uuid.uuid4()}</RequestId>"
            "</ErrorResponse>").encode()


def drop_elements(body: bytes, name: str) -> bytes:
    """Removes every <name ...>...</name> and <name/> element, nested same-name ones included."""
    tag = re.compile(rb"<(/?)" + re.escape(name.encode()) + rb"(?:\s[^>]*)?(/?)>")
    out, depth, start, pos = [], 0, 0, 0
    for m in tag.finditer(body):
        closing, empty = m.group(1) == b"/", m.group(2) == b"/"
        if depth == 0 and not closing:
            out.append(body[pos:m.start()])
            if empty:
                pos = m.end()
                continue
            start, depth = m.start(), 1
        elif depth > 0 and not empty:
            depth += -1 if closing else 1
            if depth == 0:
                pos = m.end()
    out.append(body[start:] if depth else body[pos:])  # an unclosed element is left as it is
    return b"".join(out)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as hyper expects
    state: State  # set on the class in main()

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while (size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)) > 0:
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def answer(self, status: int, body: bytes, headers: list[tuple[str, str]] = (), reason: str | None = None) -> None:
        self.send_response(status, reason)
        for k, v in headers:
            if k.lower() not in HOP_BY_HOP and k.lower() not in ("server", "date"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def forward(self, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(self.state.host, self.state.port, timeout=120)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.reason, resp.getheaders(), resp.read()
        finally:
            conn.close()

    def control(self, body: bytes) -> None:
        st, route = self.state, self.path.split("?")[0].rstrip("/")
        try:
            if route == "/_proxy/rules" and self.command == "POST":
                out = {"rules": st.add_rules(json.loads(body or b"[]"))}
            elif route == "/_proxy/reset" and self.command == "POST":
                with st.lock:
                    st.rules.clear()
                    st.log.clear()
                out = {"ok": True}
            elif route == "/_proxy/log" and self.command == "GET":
                with st.lock:
                    out = {"inflight": sum(not e["done"] for e in st.log), "requests": [dict(e) for e in st.log]}
            else:
                return self.answer(404, json.dumps({"error": f"no such endpoint {self.command} {route}"}).encode())
        except ValueError as exc:
            return self.answer(400, json.dumps({"error": str(exc)}).encode())
        self.answer(200, json.dumps(out).encode(), [("Content-Type", "application/json")])

    def handle_any(self) -> None:
        body = self.read_body()
        if self.path.startswith("/_proxy/"):
            return self.control(body)
        m = _SCOPE.search(self.headers.get("Authorization", ""))
        service = m.group(1).lower() if m else None
        params = {}
        if b"Action=" in body:
            params = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        op = params.pop("Action", None) or (self.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1] or None)
        params.pop("Version", None)
        index, rule = self.state.pick(service, op, body)
        action = rule["action"] if rule else "forward"
        entry = {"n": 0, "t": round(time.monotonic() - STARTED, 3), "service": service, "op": op,
                 "params": params, "rule": index, "did": action, "status": None, "done": False}
        with self.state.lock:
            entry["n"] = len(self.state.log) + 1
            self.state.log.append(entry)
        try:
            self.apply(rule or {"action": "forward"}, body, entry)
        except OSError:  # the client gave up (an SDK attempt timeout during a delay)
            self.close_connection = True
        finally:
            with self.state.lock:
                entry["done"] = True

    def apply(self, rule: dict, body: bytes, entry: dict) -> None:
        action = rule["action"]
        if action == "throttle":
            if entry["op"] is None:  # a REST-JSON service (Security Hub): its throttling error
                entry["status"] = 429
                return self.answer(429, b'{"Message": "Rate exceeded"}',
                                   [("Content-Type", "application/json"),
                                    ("x-amzn-ErrorType", "TooManyRequestsException")])
            entry["status"] = 400
            return self.answer(400, error_xml("Throttling", "Rate exceeded"), [("Content-Type", "text/xml")])
        if action == "error_before":
            entry["status"] = status = int(rule.get("status", 403))
            code = rule.get("code", "AccessDenied")
            xml = error_xml(code, rule.get("message", f"{code} (injected by fault_proxy)"))
            return self.answer(status, xml, [("Content-Type", "text/xml")])
        if action == "delay":
            time.sleep(float(rule.get("seconds", 1)))
        try:
            status, reason, headers, resp = self.forward(body)
        except OSError as exc:  # the emulator is gone (a test ended during a delay)
            entry["status"] = 502
            return self.answer(502, str(exc).encode())
        entry["status"] = status
        if action == "error_after":
            entry["status"] = status = int(rule.get("status", 500))
            xml = error_xml(rule.get("code", "ServiceFailure"), rule.get("message", "injected after forwarding"))
            return self.answer(status, xml, [("Content-Type", "text/xml")])
        if action == "reset_after":
            # Linger 0: the last close sends RST, not FIN. Closing the socket object here makes
            # the server's later shutdown(SHUT_WR) (a FIN) fail; the fd itself closes, with the
            # RST, when the handler's rfile is closed right after this request.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            entry["status"] = None
            return None
        if action == "truncate":
            if "before" in rule:
                cut, at = -1, 0
                for _ in range(int(rule.get("nth", 1))):
                    cut = resp.find(rule["before"].encode(), at)
                    if cut < 0:
                        break
                    at = cut + 1
                resp = resp if cut < 0 else resp[:cut]
            else:
                resp = resp[: int(rule["bytes"])]
        elif action == "drop_member":
            resp = drop_elements(resp, rule["member"])
        self.answer(status, resp, headers, reason)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a client that went away is no error
            super().handle_error(request, client_address)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("upstream", help="the emulator's URL, e.g. http://127.0.0.1:5000")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--exit-on-stdin-eof", action="store_true", help="exit when stdin is closed")
    args = parser.parse_args(argv)

    Handler.state = State(args.upstream)
    server = Server(("127.0.0.1", args.port), Handler)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if args.exit_on_stdin_eof:
        def watch_stdin() -> None:
            try:  # os.read: no buffered-reader lock left held at interpreter shutdown
                while os.read(sys.stdin.fileno(), 65536):
                    pass
            except (OSError, ValueError):
                pass
            stop.set()

        threading.Thread(target=watch_stdin, daemon=True).start()
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    print(f"READY {server.server_address[1]}", flush=True)
    while not stop.wait(0.1):
        pass
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
