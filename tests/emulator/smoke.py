#!/usr/bin/env python3
"""Smoke test for moto_launcher.py: start it, seed, call IAM via boto3, check the
seed endpoints, stop it. Exits non-zero on any failure.

Run: .venv/bin/python tests/emulator/smoke.py [--bench N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

import boto3
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))


def http(base: str, method: str, path: str, body: object | None = None) -> object:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read() or b"null")


def check(cond: bool, what: str) -> None:
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        raise SystemExit(1)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", type=int, default=5000, help="users for the seeding benchmark (0: skip)")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="moto-smoke-")
    port_file = os.path.join(tmp, "port")
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "moto_launcher.py"), "--port-file", port_file, "--exit-on-stdin-eof"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline().strip()
        check(line.startswith("READY "), f"launcher printed {line!r}")
        port = int(line.split()[1])
        with open(port_file) as f:
            check(int(f.read()) == port, f"port file holds {port}")
        base = f"http://127.0.0.1:{port}"
        check(http(base, "GET", "/_seed/health") == {"ok": True}, "health")

        iam = boto3.client(
            "iam",
            endpoint_url=base,
            region_name="us-east-1",
            aws_access_key_id="AKIADUMMYDUMMYDUMMY0",  # not a seeded key
            aws_secret_access_key="dummy",
        )

        # ---- seed ----
        seeded = http(
            base,
            "POST",
            "/_seed/users",
            {
                "users": [
                    {
                        "name": "alice",
                        "created": "2025-01-01T00:00:00Z",
                        "password": None,
                        "tags": {"team": "data"},
                        "keys": [
                            {"created": "2025-01-01T00:00:05Z", "status": "Active", "last_used": None},
                            {
                                "created": "2025-06-01T12:00:00Z",
                                "status": "Inactive",
                                "last_used": "2025-07-01T08:30:00Z",
                                "service": "iam",
                                "region": "eu-west-1",
                            },
                        ],
                    },
                    {
                        "name": "bob",
                        "created": "2025-03-01T09:00:00+02:00",
                        "path": "/eng/",
                        "password": {"last_used": "2025-12-24T18:00:00Z"},
                        "keys": [{"created": "2025-03-01T07:00:03Z", "status": "Active", "last_used": None}],
                    },
                ]
            },
        )
        print(json.dumps(seeded, indent=2))
        alice_k1 = seeded["users"][0]["keys"][0]["id"]
        bob_k1 = seeded["users"][1]["keys"][0]["id"]
        check(seeded["users"][1]["arn"] == "arn:aws:iam::123456789012:user/eng/bob", "bob's ARN has the path")

        http(base, "POST", "/_seed/calls/reset", {})

        # ---- credential report ----
        try:
            iam.get_credential_report()
            check(False, "GetCredentialReport before Generate should fail")
        except ClientError as e:
            check(e.response["Error"]["Code"] == "ReportNotPresent", f"Get before Generate: {e.response['Error']['Code']}")
        print("Generate #1:", iam.generate_credential_report()["State"])
        print("Generate #2:", iam.generate_credential_report()["State"])

        pending = http(
            base,
            "POST",
            "/_seed/after_report",
            {
                "touch_keys": [{"user": "alice", "slot": 1, "last_used": "2026-02-01T10:00:00Z", "service": "s3", "region": "us-east-1"}],
                "touch_passwords": [{"user": "bob", "last_used": "2026-02-01T11:00:00Z"}],
            },
        )
        check(pending == {"pending": 2}, f"after_report pending {pending}")

        rep = iam.get_credential_report()
        csv = rep["Content"].decode()
        print("---- credential report (GeneratedTime %s, format %s) ----" % (rep["GeneratedTime"], rep["ReportFormat"]))
        print(csv, end="")
        print("---- end ----")
        check(",2025-01-01T00:00:05+00:00,N/A," in csv, "report shows alice key 1 unused (mutation not yet visible)")
        check("bob,arn:aws:iam::123456789012:user/eng/bob,2025-03-01T07:00:00+00:00,true,2025-12-24T18:00:00+00:00," in csv,
              "report shows bob's seeded password use, offset converted to UTC")

        # ... but the live re-check sees the mutation
        lu = iam.get_access_key_last_used(AccessKeyId=alice_k1)["AccessKeyLastUsed"]
        print("alice key 1 live:", lu)
        check(lu["ServiceName"] == "s3" and lu["LastUsedDate"].isoformat().startswith("2026-02-01T10:00:00"), "after_report applied to key slot 1")
        pu = iam.get_user(UserName="bob")["User"]
        print("bob live:", pu)
        check(pu["PasswordLastUsed"].isoformat().startswith("2026-02-01T11:00:00"), "after_report applied to password")
        keys = iam.list_access_keys(UserName="alice")["AccessKeyMetadata"]
        print("alice keys live:", keys)
        check([k["Status"] for k in keys] == ["Active", "Inactive"], "key statuses seeded")
        check(iam.list_user_tags(UserName="alice")["Tags"] == [{"Key": "team", "Value": "data"}], "tags seeded")
        lp = iam.get_login_profile(UserName="bob")["LoginProfile"]
        print("bob login profile:", lp)
        # one-shot: a second Get must not re-apply anything (nothing pending now)
        csv2 = iam.get_credential_report()["Content"].decode()
        check(",2026-02-01T10:00:00+00:00," in csv2, "next report shows the mutation")

        # ---- fail injection ----
        r = http(base, "POST", "/_seed/fail", {"action": "UpdateAccessKey", "user": "bob", "code": "AccessDenied", "status": 403, "times": 1})
        check(r == {"pending": 1}, f"fail registered {r}")
        iam.update_access_key(UserName="alice", AccessKeyId=alice_k1, Status="Inactive")  # other user: not affected
        try:
            iam.update_access_key(UserName="bob", AccessKeyId=bob_k1, Status="Inactive")
            check(False, "injected failure did not fire")
        except ClientError as e:
            print("injected error:", e.response["Error"], e.response["ResponseMetadata"]["HTTPStatusCode"])
            check(e.response["Error"]["Code"] == "AccessDenied" and e.response["ResponseMetadata"]["HTTPStatusCode"] == 403, "injected AccessDenied 403")
        iam.update_access_key(UserName="bob", AccessKeyId=bob_k1, Status="Inactive")  # times=1: now passes
        check(iam.list_access_keys(UserName="bob")["AccessKeyMetadata"][0]["Status"] == "Inactive", "second call reached moto")
        raw = urllib.request.Request(base + "/", data=b"Action=DeleteLoginProfile&Version=2010-05-08&UserName=bob", method="POST")
        raw.add_header("Content-Type", "application/x-www-form-urlencoded")
        raw.add_header("Authorization", "AWS4-HMAC-SHA256 Credential=AKIADUMMY/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=x")
        http(base, "POST", "/_seed/fail", {"action": "DeleteLoginProfile", "code": "Throttling", "status": 400})
        try:
            urllib.request.urlopen(raw)
        except urllib.error.HTTPError as e:
            print("raw injected error:", e.code, e.headers["Content-Type"], e.read().decode())

        # ---- call counts ----
        calls = http(base, "GET", "/_seed/calls")
        print("calls:", calls)
        check(calls.get("IAM.GenerateCredentialReport") == 2 and calls.get("IAM.UpdateAccessKey") == 3, "call counts")
        http(base, "POST", "/_seed/calls/reset", {})
        check(http(base, "GET", "/_seed/calls") == {}, "calls reset")

        # ---- moto-api ----
        http(base, "POST", "/_seed/fail", {"action": "ListUsers", "times": 5})
        http(base, "POST", "/_seed/after_report", {"touch_passwords": [{"user": "bob", "last_used": "2026-01-01T00:00:00Z"}]})
        iam.list_access_keys(UserName="bob")
        data = http(base, "GET", "/moto-api/data.json")
        check("iam" in data, "moto-api/data.json works")
        urllib.request.urlopen(urllib.request.Request(base + "/moto-api/reset", data=b"", method="POST")).read()
        check(http(base, "GET", "/_seed/calls") == {}, "reset cleared call counts")
        check(iam.list_users()["Users"] == [], "reset cleared users, and the ListUsers failure injection")
        check(http(base, "POST", "/_seed/after_report", {}) == {"pending": 0}, "reset cleared after_report")

        # ---- bench ----
        if args.bench:
            users = [
                {"name": f"user{i:05d}", "created": "2025-01-01T00:00:00Z", "password": None,
                 "keys": [{"created": "2025-01-01T00:00:01Z", "status": "Active", "last_used": None}]}
                for i in range(args.bench)
            ]
            t0 = time.perf_counter()
            out = http(base, "POST", "/_seed/users", {"users": users})
            t1 = time.perf_counter()
            check(len(out["users"]) == args.bench, f"seeded {args.bench} users with one key each in {t1 - t0:.3f} s (HTTP round trip)")
            iam.generate_credential_report()
            t0 = time.perf_counter()
            n = len(iam.get_credential_report()["Content"].splitlines())
            print(f"GetCredentialReport at {args.bench} users: {n} lines, {(time.perf_counter() - t0) * 1000:.0f} ms")
    finally:
        proc.stdin.close()  # --exit-on-stdin-eof: this alone must stop it
        try:
            rc = proc.wait(timeout=10)
            print(f"launcher exited with {rc}; port file removed: {not os.path.exists(port_file)}")
        except subprocess.TimeoutExpired:
            proc.kill()
            print("FAIL launcher did not exit on stdin EOF")
            return 1
    print("SMOKE OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
