"""`make bench`: iam-sweeper's performance figures, in one run, on one machine.

Measures, against a 5,000-user account on the local AWS emulator (re-seeded before every run):
  (a) parse + rules on a 5,000-user report (criterion's median, read from target/criterion);
  (b) a report-mode sweep: wall time and peak RSS;
  (c) an enforce-mode sweep: wall time, peak RSS, API calls by operation, against the floor of
      calls that cannot be avoided and the emulator's own per-call cost;
  (d) Cloud Custodian (c7n, pinned) on the same data: report-only and enforce, ratios;
  (e) cold start: process start until the runtime asks for its first event;
  (f) the arm64 release zip, when `make build` has produced it.
Prints a table and writes bench-results/latest.json.

Usage: python bench/run.py --binary target/release/iam-sweeper [--peer-python .venv-bench/bin/python]
       [--runs 3] [--users 5000]
"""

import argparse
import datetime as dt
import http.server
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAUNCHER = os.path.join(ROOT, "tests", "emulator", "moto_launcher.py")
DUMMY_KEY = "AKIADUMMYDUMMYDUMMY0"
MUTATING = ("IAM.UpdateAccessKey", "IAM.DeleteAccessKey", "IAM.DeleteLoginProfile")


# --- the account -------------------------------------------------------------------------------

def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def account(users, now):
    """The benchmark account: 10% keys last used 100-300 days ago, 10% passwords unused for 120
    days, 5% initial-setup keys, the rest healthy. Same mix as src/synthetic.rs."""
    out = []
    for i in range(users):
        spread = (i * 7919) % 201
        created = now - dt.timedelta(days=400 + spread)
        fresh = now - dt.timedelta(hours=1 + i % 150)
        user = {"name": f"user-{i:05d}", "created": iso(created), "password": None,
                "keys": [{"created": iso(created + dt.timedelta(days=1)), "status": "Active",
                          "last_used": iso(fresh)}]}
        kind = i % 20
        if kind in (0, 1):
            user["keys"][0]["last_used"] = iso(now - dt.timedelta(days=100 + spread % 201))
        elif kind in (2, 3):
            user["password"] = {"last_used": iso(now - dt.timedelta(days=120))}
            user["keys"] = []
        elif kind == 4:
            setup = now - dt.timedelta(days=30)
            user["created"] = iso(setup)
            user["password"] = {"last_used": iso(fresh)}
            user["keys"] = [{"created": iso(setup + dt.timedelta(seconds=2)), "status": "Active",
                             "last_used": None}]
        out.append(user)
    return out


# --- the emulator ------------------------------------------------------------------------------

class Emulator:
    def __init__(self, python):
        self.proc = subprocess.Popen([python, LAUNCHER, "--exit-on-stdin-eof"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("READY "):
            raise SystemExit(f"the emulator did not start: {line!r}")
        self.port = int(line.split()[1])
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def call(self, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.endpoint + path, data=data,
                                     headers={"Content-Type": "application/json"},
                                     method="POST" if body is not None else "GET")
        with urllib.request.urlopen(req, timeout=120) as resp:
            raw = resp.read()
            return json.loads(raw) if raw.strip() else None

    def reseed(self, users):
        self.call("/moto-api/reset", {})
        self.call("/_seed/users", {"users": users})
        self.call("/_seed/calls/reset", {})

    def calls(self):
        return self.call("/_seed/calls")

    def stop(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def aws_env(endpoint, extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-east-1",
                "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": DUMMY_KEY,
                "AWS_SECRET_ACCESS_KEY": "dummy", "AWS_EC2_METADATA_DISABLED": "true",
                "RUST_LOG": "warn"})
    env.update(extra or {})
    return env


def measured(cmd, env, cwd=None):
    """Runs cmd; returns (exit code, wall seconds, peak RSS MiB, stdout)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    out_chunks = []
    reader = threading.Thread(target=lambda: out_chunks.append(proc.stdout.read()))
    err_chunks = []
    err_reader = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()))
    reader.start()
    err_reader.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    reader.join()
    err_reader.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        sys.stderr.write((err_chunks[0] or b"").decode(errors="replace")[-2000:])
    return proc.returncode, wall, usage.ru_maxrss / 1024.0, (out_chunks[0] or b"").decode()


# --- (a) criterion ------------------------------------------------------------------------------

def criterion_median():
    path = os.path.join(ROOT, "target", "criterion", "report_5000_users", "parse_and_evaluate",
                        "new", "estimates.json")
    try:
        with open(path) as f:
            return json.load(f)["median"]["point_estimate"] / 1e6
    except (OSError, KeyError, ValueError):
        return None


# --- (e) cold start ------------------------------------------------------------------------------

def cold_start(binary, runs):
    """Process start until the runtime's first GET /runtime/invocation/next."""
    times = []
    for _ in range(runs):
        ready = threading.Event()

        class Api(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                ready.set()
                time.sleep(0.2)
                self.send_response(500)
                self.end_headers()

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Api)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        env = aws_env("http://127.0.0.1:9", {
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
            "AWS_LAMBDA_FUNCTION_NAME": "iam-sweeper", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_LOG_FORMAT": "JSON"})
        start = time.perf_counter()
        proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        ok = ready.wait(10)
        elapsed = time.perf_counter() - start
        proc.kill()
        proc.wait()
        server.shutdown()
        if ok:
            times.append(elapsed)
    return statistics.median(times) if times else None


# --- (d) the peer --------------------------------------------------------------------------------

PEER_POLICY = """policies:
  - name: stale-access-keys
    resource: iam-user
    filters:
      - type: credential
        key: access_keys.last_used_date
        value_type: age
        value: 90
        op: greater-than
        report_delay: 1
{actions}
"""


def peer(peer_python, emu, users, enforce):
    actions = ("    actions:\n      - type: remove-keys\n        disable: true\n"
               "        matched: true\n") if enforce else ""
    with tempfile.TemporaryDirectory() as tmp:
        policy = os.path.join(tmp, "policy.yml")
        with open(policy, "w") as f:
            f.write(PEER_POLICY.format(actions=actions))
        emu.reseed(users)
        custodian = os.path.join(os.path.dirname(peer_python), "custodian")
        code, wall, rss, _ = measured(
            [custodian, "run", "--cache-period", "0", "-s", os.path.join(tmp, "out"),
             "--region", "us-east-1", policy], aws_env(emu.endpoint))
        resources = []
        path = os.path.join(tmp, "out", "stale-access-keys", "resources.json")
        if os.path.exists(path):
            with open(path) as f:
                resources = json.load(f)
        return {"exit": code, "wall_s": wall, "rss_mib": rss, "matched_users": len(resources),
                "calls": emu.calls()}


# --- the run -------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--emulator-python", default=os.path.join(ROOT, ".venv", "bin", "python"))
    ap.add_argument("--peer-python", default=None)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--users", type=int, default=5000)
    ap.add_argument("--zip", default=os.path.join(ROOT, "target", "lambda", "iam-sweeper",
                                                  "bootstrap.zip"))
    args = ap.parse_args()

    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    users = account(args.users, now)
    key_actions = sum(1 for i in range(args.users) if i % 20 in (0, 1, 4))
    pw_actions = sum(1 for i in range(args.users) if i % 20 in (2, 3))
    results = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                           "processor": platform.processor() or platform.machine()},
               "date": iso(now), "users": args.users}
    emu = Emulator(args.emulator_python)
    try:
        results["a_parse_rules_ms"] = criterion_median()

        # (b) report mode, the nightly default.
        runs = []
        for _ in range(args.runs):
            emu.reseed(users)
            code, wall, rss, out = measured([args.binary, "invoke"], aws_env(emu.endpoint))
            assert code == 0, f"report-mode sweep exited {code}"
            runs.append((wall, rss, json.loads(out)["counts"]["findings"], emu.calls()))
        results["b_report"] = {"wall_s": statistics.median(r[0] for r in runs),
                               "rss_mib": max(r[1] for r in runs), "findings": runs[0][2],
                               "calls": runs[0][3]}

        # (c) enforce mode, every rule.
        runs = []
        enforce_env = {"MODE": "enforce", "MAX_ACTIONS": "100000"}
        for _ in range(args.runs):
            emu.reseed(users)
            code, wall, rss, out = measured([args.binary, "invoke"],
                                            aws_env(emu.endpoint, enforce_env))
            assert code == 0, f"enforce-mode sweep exited {code}"
            runs.append((wall, rss, json.loads(out)["action_counts"], emu.calls()))
        calls = runs[0][3]
        total = sum(v for k, v in calls.items() if k.startswith("IAM."))
        floor = (3 * key_actions + 2 * pw_actions + 3
                 + 2 * math.ceil(args.users / 100))
        results["c_enforce"] = {"wall_s": statistics.median(r[0] for r in runs),
                                "rss_mib": max(r[1] for r in runs), "actions": runs[0][2],
                                "calls": calls, "iam_calls": total, "floor_calls": floor,
                                "calls_over_floor": total / floor}

        # (d) the peer on the same data, against ours restricted to the same rule.
        if args.peer_python:
            same_rule = {"DELETE_PASSWORDS": "false", "INITIAL_KEY_GRACE_DAYS": "36500",
                         "STALE_AFTER_DAYS": "90", "DISABLE_AFTER_DAYS": "90"}
            peer_report = peer(args.peer_python, emu, users, enforce=False)
            emu.reseed(users)
            _, ours_wall, ours_rss, out = measured([args.binary, "invoke"],
                                                   aws_env(emu.endpoint, same_rule))
            ours_findings = sum(1 for f in json.loads(out)["findings"]
                                if f["action"] == "deactivate_key")
            peer_enforce = peer(args.peer_python, emu, users, enforce=True)
            emu.reseed(users)
            _, ours_e_wall, ours_e_rss, _ = measured(
                [args.binary, "invoke"],
                aws_env(emu.endpoint, dict(same_rule, MODE="enforce", MAX_ACTIONS="100000")))
            results["d_peer"] = {
                "report": {"peer": peer_report, "ours_wall_s": ours_wall, "ours_rss_mib": ours_rss,
                           "ours_findings": ours_findings,
                           "speedup": peer_report["wall_s"] / ours_wall,
                           "memory_ratio": peer_report["rss_mib"] / ours_rss},
                "enforce": {"peer": peer_enforce, "ours_wall_s": ours_e_wall,
                            "ours_rss_mib": ours_e_rss,
                            "speedup": peer_enforce["wall_s"] / ours_e_wall,
                            "memory_ratio": peer_enforce["rss_mib"] / ours_e_rss},
            }

        results["e_cold_start_ms"] = (lambda s: s and s * 1000)(cold_start(args.binary, 5))
        results["f_zip_mib"] = (os.path.getsize(args.zip) / 2**20
                                if os.path.exists(args.zip) else None)
    finally:
        emu.stop()

    os.makedirs(os.path.join(ROOT, "bench-results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench-results", "latest.json"), "w") as f:
        json.dump(results, f, indent=2, sort_keys=True)
    print_table(results)


def fmt(v, unit, digits=2):
    return "n/a" if v is None else f"{v:.{digits}f} {unit}"


def print_table(r):
    rows = [
        ("(a) parse + rules, 5,000 users (median)", fmt(r.get("a_parse_rules_ms"), "ms"), "<= 5 ms"),
        ("(b) report-mode sweep: wall (median)", fmt(r["b_report"]["wall_s"], "s"), "<= 1 s"),
        ("(b) report-mode sweep: peak RSS", fmt(r["b_report"]["rss_mib"], "MiB", 1), "<= 30 MB"),
        ("(c) enforce sweep: wall (median)", fmt(r["c_enforce"]["wall_s"], "s"), ""),
        ("(c) enforce sweep: peak RSS", fmt(r["c_enforce"]["rss_mib"], "MiB", 1), "<= 30 MB"),
        ("(c) enforce sweep: IAM calls / floor",
         f"{r['c_enforce']['iam_calls']} / {r['c_enforce']['floor_calls']}", "within 10%"),
    ]
    if "d_peer" in r:
        d = r["d_peer"]
        rows += [
            ("(d) peer report-only: wall ours / c7n",
             f"{d['report']['ours_wall_s']:.2f} s / {d['report']['peer']['wall_s']:.2f} s "
             f"({d['report']['speedup']:.1f}x)", ">= 20x"),
            ("(d) peer report-only: RSS ours / c7n",
             f"{d['report']['ours_rss_mib']:.1f} / {d['report']['peer']['rss_mib']:.1f} MiB", ""),
            ("(d) findings ours / c7n",
             f"{d['report']['ours_findings']} / {d['report']['peer']['matched_users']}", ""),
            ("(d) peer enforce: wall ours / c7n",
             f"{d['enforce']['ours_wall_s']:.2f} s / {d['enforce']['peer']['wall_s']:.2f} s "
             f"({d['enforce']['speedup']:.1f}x)", ">= 4x"),
        ]
    rows += [
        ("(e) cold start to first /next (median)", fmt(r.get("e_cold_start_ms"), "ms", 1), "<= 50 ms"),
        ("(f) arm64 release zip", fmt(r.get("f_zip_mib"), "MiB"), "<= 4 MB"),
    ]
    width = max(len(a) for a, _, _ in rows)
    print(f"\niam-sweeper benchmarks, {r['users']} users, {r['machine']['cpus']} CPUs, "
          f"{r['machine']['platform']}, {r['date']}")
    for name, value, target in rows:
        print(f"  {name:<{width}}  {value:<28} {target}")
    print("  calls by operation (enforce):")
    for op, n in sorted(r["c_enforce"]["calls"].items()):
        print(f"    {op:<34} {n}")
    print("\nSaved to bench-results/latest.json")


if __name__ == "__main__":
    main()
