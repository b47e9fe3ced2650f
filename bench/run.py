"""`make bench`: iam-sweeper's performance figures, in one run, on one machine.

Measures, against a 5,000-user account on the local AWS emulator (re-seeded before every run):
  (a) parse + rules on a 5,000-user report (criterion's median, read from target/criterion);
  (b) a report-mode sweep: wall time and peak RSS, reading tags in pages (PAGED_READS=true, as in
      (c) and (d)) and with the default per-user reads;
  (c) an enforce-mode sweep: wall time, peak RSS, API calls by operation, against the floor of
      calls that cannot be avoided and the emulator's own per-call cost;
  (d) Cloud Custodian (c7n, pinned) on the same data: report-only and enforce, ratios;
  (e) cold start: process start until the runtime asks for its first event;
  (f) the arm64 release zip, when `make build` has produced it;
  (g) an organization sweep (the organization mode, its steps run as the Step Functions workflow
      runs them, tests/emulator/org_demo.py): --org-accounts member accounts of --org-users users
      each, against one account's sweep time x accounts / accounts in flight, calls per account
      against the single-account floor plus one AssumeRole, peak RSS of the workers.
Prints a table and writes bench-results/latest.json.

Usage: python bench/run.py --binary target/release/iam-sweeper [--peer-python .venv-bench/bin/python]
       [--runs 3] [--users 5000] [--peer-users N] [--peer-runs N]
(d) runs only with --peer-python (the venv of bench/requirements.txt). Run it with the emulator's
venv (.venv), whose boto3 reads the emulator's state back after each enforce run.
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "emulator"))
import emulator_client  # noqa: E402  (the emulator's one client, shared with `make demo`)
from emulator_client import Emulator, EmulatorError  # noqa: E402

MUTATING = ("IAM.UpdateAccessKey", "IAM.DeleteAccessKey", "IAM.DeleteLoginProfile")


# --- the account -------------------------------------------------------------------------------

def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def account(users, now):
    """The benchmark account: 10% keys last used 100-300 days ago, 10% passwords unused for 120
    days, 5% initial-setup keys, the rest healthy. Same mix as src/testing/synthetic.rs."""
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


# --- the emulator (tests/emulator/emulator_client.py) -------------------------------------------

def aws_env(endpoint, extra=None):
    """The environment of a sweep against `endpoint`, logging at `warn` whatever RUST_LOG says."""
    return emulator_client.aws_env(endpoint, {"RUST_LOG": "warn", **(extra or {})})


GNU_TIME = "/usr/bin/time"


def measured(cmd, env, cwd=None):
    """Runs cmd; returns (exit code, wall seconds, peak RSS MiB, stdout).

    The peak RSS is the command's own, as GNU time reports it from wait4: GNU time forks the
    command from its own small address space. os.wait4 on a child spawned straight from this
    script would report at least this script's RSS (tens of MiB once boto3 is loaded): the kernel
    keeps the replaced address space's high-water mark at exec, and subprocess spawns with vfork,
    so the replaced one is this script's."""
    if not os.access(GNU_TIME, os.X_OK):
        raise SystemExit(f"{GNU_TIME} is needed to measure peak RSS (Debian: apt-get install time)")
    with tempfile.NamedTemporaryFile("r", prefix="bench-rss-", suffix=".txt") as rss_file:
        start = time.perf_counter()
        proc = subprocess.Popen([GNU_TIME, "-f", "%M", "-o", rss_file.name, *cmd], env=env,
                                cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = proc.communicate()
        wall = time.perf_counter() - start
        # "Command exited with non-zero status N" may come first; the figure is the last line.
        lines = rss_file.read().split()
        rss_kib = int(lines[-1]) if lines and lines[-1].isdigit() else None
    if proc.returncode not in (0, 1):
        sys.stderr.write(err.decode(errors="replace")[-2000:])
    if rss_kib is None:
        raise SystemExit(f"no peak RSS from {GNU_TIME} for {cmd[0]}")
    return proc.returncode, wall, rss_kib / 1024.0, out.decode()


# --- (a) criterion ------------------------------------------------------------------------------

def criterion_median():
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    path = os.path.join(target, "criterion", "report_5000_users", "parse_and_evaluate",
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

# Cloud Custodian (c7n, pinned in bench/requirements.txt, in its own venv: its boto3 pins differ
# from moto's). It reaches the emulator the way any boto3 program does: AWS_ENDPOINT_URL (botocore
# >= 1.31) with dummy credentials, so its STS GetCallerIdentity (the account id), the IAM listing
# and the credential report all land on 127.0.0.1. `report_delay: 1` is its sleep between
# GenerateCredentialReport and GetCredentialReport (the default is 10 s).
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

PEER_ENFORCE = """    actions:
      - type: remove-keys
        disable: true
        matched: true
"""

# Ours restricted to the same rule: only keys unused for more than 90 days are deactivated;
# passwords are reported but not deleted, and the initial-setup-key rule is out of reach. Reads
# are the defaults (per user, PAGED_READS=false): every action re-checked live, its user's tags
# read right before it.
SAME_RULE = {"DELETE_PASSWORDS": "false", "INITIAL_KEY_GRACE_DAYS": "36500",
             "STALE_AFTER_DAYS": "90", "DISABLE_AFTER_DAYS": "90"}

# Tags and password use read in account-wide pages, as the floor of (c) assumes (off by default:
# the role then needs two more permissions).
PAGED = {"PAGED_READS": "true"}


def peer(peer_python, emu, users, enforce):
    """One c7n run on a freshly re-seeded account: wall time, peak RSS of the custodian process,
    the users it matched and their matched keys, the API calls it made and, for enforce, the keys
    left Inactive (read back from the emulator afterwards)."""
    with tempfile.TemporaryDirectory() as tmp:
        policy = os.path.join(tmp, "policy.yml")
        with open(policy, "w") as f:
            f.write(PEER_POLICY.format(actions=PEER_ENFORCE if enforce else ""))
        emu.reseed(users)
        custodian = os.path.join(os.path.dirname(peer_python), "custodian")
        code, wall, rss, _ = measured(
            [custodian, "run", "--cache-period", "0", "-s", os.path.join(tmp, "out"),
             "--region", "us-east-1", policy], aws_env(emu.endpoint))
        assert code == 0, f"custodian exited {code}"
        path = os.path.join(tmp, "out", "stale-access-keys", "resources.json")
        with open(path) as f:
            resources = json.load(f)
        calls = emu.calls()
        matched = {r["UserName"]: len(r.get("c7n:matched-keys", [])) for r in resources}
        return {"wall_s": wall, "rss_mib": rss, "matched_users": len(matched),
                "matched_keys": sum(matched.values()), "users": sorted(matched), "calls": calls,
                "inactive_keys": inactive_keys(emu) if enforce else None}


def inactive_keys(emu):
    """Keys the emulator now holds as Inactive, as sorted [user, slot] pairs, from a fresh
    credential report (boto3 from the emulator's venv)."""
    import csv
    import io

    iam = emu.client("iam")
    iam.generate_credential_report()
    content = iam.get_credential_report()["Content"].decode()
    out = []
    for row in csv.DictReader(io.StringIO(content)):
        for slot in (1, 2):
            if (row.get(f"access_key_{slot}_active") == "false"
                    and row.get(f"access_key_{slot}_last_rotated") not in (None, "N/A")):
                out.append([row["user"], slot])
    return sorted(out)


def ours_same_rule(binary, emu, users, enforce, runs):
    """Ours restricted to the peer's rule, `runs` times on a freshly re-seeded account: median
    wall time, peak RSS, the keys it would deactivate (report) or left Inactive (enforce)."""
    samples = []
    for _ in range(runs):
        emu.reseed(users)
        env = dict(SAME_RULE, MODE="enforce", MAX_ACTIONS="100000") if enforce else SAME_RULE
        code, wall, rss, out = measured([binary, "invoke"], aws_env(emu.endpoint, env))
        assert code == 0, f"same-rule {'enforce' if enforce else 'report'} sweep exited {code}"
        samples.append((wall, rss, json.loads(out), emu.calls()))
    doc, calls = samples[0][2], samples[0][3]
    keys = [f for f in doc["findings"] if f["action"] == "deactivate_key"]
    result = {"wall_s": statistics.median(s[0] for s in samples),
              "rss_mib": max(s[1] for s in samples), "findings": len(keys),
              "users": sorted({f["user"] for f in keys}), "calls": calls}
    if enforce:
        result["actions"] = doc["action_counts"]
        result["inactive_keys"] = inactive_keys(emu)
    return result


def peer_section(args, emu, users):
    """(d): c7n and ours on the same rule and the same data, report-only then enforce."""
    runs = args.peer_runs or args.runs
    out = {"users": len(users), "runs": runs}
    for mode, enforce in (("report", False), ("enforce", True)):
        theirs = [peer(args.peer_python, emu, users, enforce) for _ in range(runs)]
        first = theirs[0]
        peer_result = dict(first, wall_s=statistics.median(t["wall_s"] for t in theirs),
                           rss_mib=max(t["rss_mib"] for t in theirs))
        ours = ours_same_rule(args.binary, emu, users, enforce, runs)
        ours_users, peer_users = set(ours["users"]), set(peer_result["users"])
        entry = {
            "peer": peer_result, "ours": ours,
            "wall_ratio": ours["wall_s"] / peer_result["wall_s"],
            "rss_ratio": ours["rss_mib"] / peer_result["rss_mib"],
            "speedup": peer_result["wall_s"] / ours["wall_s"],
            "memory_ratio": peer_result["rss_mib"] / ours["rss_mib"],
            "only_ours_users": sorted(ours_users - peer_users),
            "only_peer_users": sorted(peer_users - ours_users),
            "findings_diff": ours["findings"] - peer_result["matched_keys"],
        }
        if enforce:
            ours_off = {tuple(k) for k in ours["inactive_keys"]}
            peer_off = {tuple(k) for k in peer_result["inactive_keys"]}
            entry["inactive_only_ours"] = sorted(ours_off - peer_off)
            entry["inactive_only_peer"] = sorted(peer_off - ours_off)
        out[mode] = entry
    return out


# --- the run -------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--emulator-python", default=os.path.join(ROOT, ".venv", "bin", "python"))
    ap.add_argument("--peer-python", default=None)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--users", type=int, default=5000)
    ap.add_argument("--peer-users", type=int, default=None,
                    help="(d) on an account of this many users (default: --users), both tools")
    ap.add_argument("--peer-runs", type=int, default=None,
                    help="(d) runs of each tool and mode (default: --runs)")
    ap.add_argument("--org-accounts", type=int, default=100,
                    help="(g) member accounts of the organization sweep (0 skips it)")
    ap.add_argument("--org-users", type=int, default=100, help="(g) users per member account")
    ap.add_argument("--org-batch", type=int, default=10,
                    help="(g) accounts per Distributed Map batch (ItemBatcher MaxItemsPerBatch)")
    ap.add_argument("--org-concurrency", type=int, default=4,
                    help="(g) batches at once (the map's MaxConcurrency)")
    ap.add_argument("--zip", default=os.path.join(ROOT, "target", "lambda", "iam-sweeper",
                                                  "bootstrap.zip"))
    args = ap.parse_args()

    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    users = account(args.users, now)
    results = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                           "processor": platform.processor() or platform.machine()},
               "date": iso(now), "users": args.users}
    try:
        emu = Emulator.start(args.emulator_python)
    except EmulatorError as exc:
        raise SystemExit(str(exc)) from None
    try:
        results["a_parse_rules_ms"] = criterion_median()

        # (b) report mode, the nightly default, reading tags in pages (PAGED_READS=true, as the
        # floor assumes); then the same with the default per-user reads.
        runs = []
        for _ in range(args.runs):
            emu.reseed(users)
            code, wall, rss, out = measured([args.binary, "invoke"], aws_env(emu.endpoint, PAGED))
            assert code == 0, f"report-mode sweep exited {code}"
            runs.append((wall, rss, json.loads(out)["counts"]["findings"], emu.calls(),
                         emu.timings()))
        # Every call of a report-mode sweep is one the floor has too (the report, the tags in
        # pages), so the emulator's time serving them is the floor's time on the emulator.
        busy = [sum(t["seconds"] for op, t in r[4].items() if op.startswith("IAM.")) for r in runs]
        results["b_report"] = {"wall_s": statistics.median(r[0] for r in runs),
                               "rss_mib": max(r[1] for r in runs), "findings": runs[0][2],
                               "calls": runs[0][3], "emulator_busy_s": statistics.median(busy),
                               "emulator_s_by_operation": {op: t["seconds"]
                                                           for op, t in runs[0][4].items()}}
        runs = []
        for _ in range(args.runs):
            emu.reseed(users)
            code, wall, rss, out = measured([args.binary, "invoke"], aws_env(emu.endpoint))
            assert code == 0, f"report-mode sweep (per-user reads) exited {code}"
            runs.append((wall, rss, emu.calls()))
        results["b_report_per_user"] = {"wall_s": statistics.median(r[0] for r in runs),
                                        "rss_mib": max(r[1] for r in runs), "calls": runs[0][2]}

        # (c) enforce mode, every rule.
        runs = []
        enforce_env = {"MODE": "enforce", "MAX_ACTIONS": "100000", **PAGED}
        for _ in range(args.runs):
            emu.reseed(users)
            code, wall, rss, out = measured([args.binary, "invoke"],
                                            aws_env(emu.endpoint, enforce_env))
            assert code == 0, f"enforce-mode sweep exited {code}"
            runs.append((wall, rss, json.loads(out)["action_counts"], emu.calls()))
        calls = runs[0][3]
        total = sum(v for k, v in calls.items() if k.startswith("IAM."))
        floor_calls = floor_by_operation(args.users)
        floor = sum(floor_calls.values())
        # The floor's time: each floor call at the emulator's own cost for that operation, measured
        # in this run by one more enforce sweep with one call at a time (CONCURRENCY=1), so no
        # call's cost includes waiting for another's.
        emu.reseed(users)
        code, serial_wall, _, _ = measured([args.binary, "invoke"],
                                           aws_env(emu.endpoint, {**enforce_env,
                                                                  "CONCURRENCY": "1"}))
        assert code == 0, f"serial enforce-mode sweep exited {code}"
        serial = emu.timings()
        per_call = {op: t["seconds"] / t["calls"] for op, t in serial.items() if t["calls"]}
        missing = sorted(op for op in floor_calls if op not in per_call)
        floor_s = floor_time(floor_calls, serial)
        served_s = sum(t["seconds"] for op, t in serial.items() if op.startswith("IAM."))
        in_moto_s = sum(t["app_seconds"] for op, t in serial.items() if op.startswith("IAM."))
        wall = statistics.median(r[0] for r in runs)
        results["c_enforce"] = {"wall_s": wall,
                                "rss_mib": max(r[1] for r in runs), "actions": runs[0][2],
                                "calls": calls, "iam_calls": total, "floor_calls": floor,
                                "floor_by_operation": floor_calls,
                                "calls_over_floor": total / floor,
                                "emulator_ms_per_call": {op: v * 1000 for op, v in per_call.items()},
                                "floor_ops_without_cost": missing,
                                "floor_time_s": floor_s,
                                "serial_wall_s": serial_wall,
                                "serial_emulator_busy_s": served_s,
                                "serial_in_moto_s": in_moto_s,
                                "wall_over_floor_time": wall / floor_s}

        # (d) the peer on the same data, against ours restricted to the same rule.
        if args.peer_python:
            peer_users = users if args.peer_users in (None, args.users) else account(
                args.peer_users, now)
            results["d_peer"] = peer_section(args, emu, peer_users)

        if args.org_accounts:
            results["g_org"] = org_section(args, emu, now)

        results["e_cold_start_ms"] = (lambda s: s and s * 1000)(cold_start(args.binary, 5))
        results["f_zip_mib"] = (os.path.getsize(args.zip) / 2**20
                                if os.path.exists(args.zip) else None)
    finally:
        emu.stop()

    os.makedirs(os.path.join(ROOT, "bench-results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench-results", "latest.json"), "w") as f:
        json.dump(results, f, indent=2, sort_keys=True)
    print_table(results)


def org_section(args, emu, now):
    """(g) The organization mode: --org-accounts members of --org-users users (the benchmark mix),
    listed, swept in batches of --org-batch with --org-concurrency batches at once, digested; each
    step is the release binary invoked with the event the workflow sends it."""
    import org_demo  # tests/emulator: the workflow's steps against the emulator

    users = account(args.org_users, now)
    enforce_env = {"MODE": "enforce", "MAX_ACTIONS": "100000", **PAGED}
    # One account's time: the same users swept as a single account, in enforce mode.
    singles = []
    for _ in range(args.runs):
        emu.reseed(users)
        code, wall, rss, _ = measured([args.binary, "invoke"], aws_env(emu.endpoint, enforce_env))
        assert code == 0, f"single-account sweep exited {code}"
        singles.append((wall, rss, emu.calls()))
    single_wall = statistics.median(s[0] for s in singles)
    single_calls = iam_calls(singles[0][2])

    emu.reset()
    started = time.perf_counter()
    org = org_demo.build_organization(
        emu, [(f"member-{i:03d}", users) for i in range(args.org_accounts)])
    seed_s = time.perf_counter() - started
    emu.reset_calls()
    env = aws_env(emu.endpoint, {"ORG_BUCKET": org_demo.BUCKET, "ORG_PREFIX": org_demo.PREFIX,
                                 "SNS_TOPIC_ARN": org.topic,
                                 "ORG_EXCLUDE_ACCOUNTS": org_demo.MANAGEMENT_ACCOUNT,
                                 **enforce_env})
    execution = "bench"

    def step(event):
        with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
            json.dump(event, f)
            f.flush()
            code, wall, rss, out = measured([args.binary, "invoke", "--event", f.name], env)
        return code, wall, rss, (json.loads(out) if out.strip() else None)

    total_started = time.perf_counter()
    code, listing_wall, listing_rss, listing = step({"iam_sweeper": "list-accounts",
                                                     "execution": execution})
    assert code == 0 and listing["count"] == args.org_accounts, f"listing: {code} {listing}"
    items = json.loads(emu.client("s3").get_object(Bucket=listing["bucket"], Key=listing["key"])
                       ["Body"].read())
    events = org_demo.batch_events(items, args.org_batch, execution)
    started = time.perf_counter()
    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.org_concurrency) as pool:
        runs = list(pool.map(step, events))
    map_wall = time.perf_counter() - started
    assert all(r[0] == 0 for r in runs), f"a worker failed: {[r[0] for r in runs]}"
    calls = emu.calls()
    accounts = [a for r in runs for a in r[3]["accounts"]]
    failed = [a["account_id"] for a in accounts if a["status"] != "ok"]
    failed_problems = {a["account_id"]: a["problems"] for a in accounts if a["status"] != "ok"}
    manifest_key = org_demo.write_results(emu, execution, events,
                                          [(r[0], r[3], "") for r in runs])
    code, digest_wall, digest_rss, digest = step({
        "iam_sweeper": "digest", "execution": execution, "listing": listing,
        "results": {"Bucket": org_demo.BUCKET, "Key": manifest_key}})
    total_wall = time.perf_counter() - total_started
    in_flight = min(args.org_accounts, args.org_concurrency * min(args.org_batch, 10))
    expected = single_wall * args.org_accounts / in_flight
    floor = sum(floor_by_operation(args.org_users).values())
    per_account = iam_calls(calls) / args.org_accounts
    all_calls = sum(v for k, v in calls.items() if not k.startswith("ORGANIZATIONS."))
    return {"accounts": args.org_accounts, "users_per_account": args.org_users,
            "batch": args.org_batch, "concurrency": args.org_concurrency,
            "accounts_in_flight": in_flight, "seed_s": seed_s,
            "single_account_wall_s": single_wall, "single_account_iam_calls": single_calls,
            "listing_wall_s": listing_wall, "map_wall_s": map_wall, "digest_wall_s": digest_wall,
            "digest_exit": code, "digest": digest, "total_wall_s": total_wall,
            "expected_map_wall_s": expected, "map_over_expected": map_wall / expected,
            "speedup_over_serial": single_wall * args.org_accounts / map_wall,
            "iam_calls": iam_calls(calls), "iam_calls_per_account": per_account,
            "floor_calls_per_account": floor, "calls_per_account_over_floor": per_account / floor,
            "calls_per_account_over_single": per_account / single_calls,
            # The emulator is one Python process: its calls per second bound every sweep on it.
            "single_calls_per_s": single_calls / single_wall,
            "map_calls_per_s": all_calls / map_wall,
            "assume_role_per_account": calls.get("STS.AssumeRole", 0) / args.org_accounts,
            "organizations_calls": {k: v for k, v in calls.items()
                                    if k.startswith("ORGANIZATIONS.")},
            "worker_rss_mib": max(r[2] for r in runs), "listing_rss_mib": listing_rss,
            "digest_rss_mib": digest_rss, "failed_accounts": failed,
            "failed_problems": failed_problems,
            "actions_done": sum(a["counts"].get("done", 0) for a in accounts)}


def floor_by_operation(users):
    """The calls an enforce sweep of account(users) cannot avoid, by operation: per key action
    ListAccessKeys (for the key ID), GetAccessKeyLastUsed (live re-check) and the action; per
    password action the re-check (GetLoginProfile) and DeleteLoginProfile; the report (generate,
    one poll, get); listing and tags in pages of 100 users (ListUsers for PasswordLastUsed,
    GetAccountAuthorizationDetails for tags)."""
    kinds = [i % 20 for i in range(users)]
    stale_keys = sum(1 for k in kinds if k in (0, 1))
    setup_keys = sum(1 for k in kinds if k == 4)
    passwords = sum(1 for k in kinds if k in (2, 3))
    pages = math.ceil(users / 100)
    return {
        "IAM.ListAccessKeys": stale_keys + setup_keys,
        "IAM.GetAccessKeyLastUsed": stale_keys + setup_keys,
        "IAM.UpdateAccessKey": stale_keys,
        "IAM.DeleteAccessKey": setup_keys,
        "IAM.GetLoginProfile": passwords,
        "IAM.DeleteLoginProfile": passwords,
        "IAM.GenerateCredentialReport": 2,
        "IAM.GetCredentialReport": 1,
        "IAM.ListUsers": pages,
        "IAM.GetAccountAuthorizationDetails": pages,
    }


LISTING = ("IAM.ListUsers", "IAM.GetAccountAuthorizationDetails")


def floor_time(floor_calls, timings):
    """Seconds the emulator needs to serve the floor's calls, at its measured cost per call. The
    emulator answers a listing in one page of every user, so a listing's cost is what its calls
    took in all, not per page."""
    total = 0.0
    for op, n in floor_calls.items():
        t = timings.get(op)
        if not t or not t["calls"]:
            continue
        total += t["seconds"] if op in LISTING else n * t["seconds"] / t["calls"]
    return total


def fmt(v, unit, digits=2):
    return "n/a" if v is None else f"{v:.{digits}f} {unit}"


def iam_calls(calls):
    return sum(v for k, v in calls.items() if k.startswith("IAM."))


def print_table(r):
    rows = [
        ("(a) parse + rules, 5,000 users (median)", fmt(r.get("a_parse_rules_ms"), "ms"), "<= 5 ms"),
        ("(b) report-mode sweep: wall (median)", fmt(r["b_report"]["wall_s"], "s"), "<= 1 s"),
        ("(b) report-mode sweep: emulator busy serving it",
         fmt(r["b_report"].get("emulator_busy_s"), "s") + " ("
         + ", ".join(f"{op.removeprefix('IAM.')} {s:.2f} s"
                     for op, s in sorted(r["b_report"].get("emulator_s_by_operation", {}).items()))
         + ")", ""),
        ("(b) report-mode sweep: peak RSS", fmt(r["b_report"]["rss_mib"], "MiB", 1), "<= 30 MB"),
        ("(b) same, per-user reads (PAGED_READS=false)",
         f"{fmt(r['b_report_per_user']['wall_s'], 's')}, "
         f"{fmt(r['b_report_per_user']['rss_mib'], 'MiB', 1)}, "
         f"{iam_calls(r['b_report_per_user']['calls'])} IAM calls", ""),
        ("(c) enforce sweep: wall (median)", fmt(r["c_enforce"]["wall_s"], "s"), ""),
        ("(c) enforce sweep: peak RSS", fmt(r["c_enforce"]["rss_mib"], "MiB", 1), "<= 30 MB"),
        ("(c) enforce sweep: IAM calls / floor",
         f"{r['c_enforce']['iam_calls']} / {r['c_enforce']['floor_calls']} = "
         f"{r['c_enforce']['calls_over_floor']:.3f}", "<= 1.10"),
        ("(c) enforce sweep: wall / floor's time",
         f"{r['c_enforce']['wall_s']:.2f} / {r['c_enforce']['floor_time_s']:.2f} s = "
         f"{r['c_enforce']['wall_over_floor_time']:.3f}", "<= 1.30"),
    ]
    if "d_peer" in r:
        d = r["d_peer"]
        rows.append((f"(d) vs c7n: same rule, {d['users']} users", f"medians of {d['runs']} runs", ""))
        for mode, target in (("report", ">= 20x"), ("enforce", ">= 4x")):
            e = d[mode]
            ours, peer = e["ours"], e["peer"]
            rows += [
                (f"(d) {mode}: wall ours / c7n",
                 f"{ours['wall_s']:.2f} / {peer['wall_s']:.2f} s = {e['wall_ratio']:.3f} "
                 f"({e['speedup']:.1f}x)", target),
                (f"(d) {mode}: peak RSS ours / c7n",
                 f"{ours['rss_mib']:.1f} / {peer['rss_mib']:.1f} MiB = {e['rss_ratio']:.3f} "
                 f"({e['memory_ratio']:.1f}x)", ""),
                (f"(d) {mode}: IAM calls ours / c7n",
                 f"{iam_calls(ours['calls'])} / {iam_calls(peer['calls'])}", ""),
            ]
            if mode == "report":
                rows.append(("(d) report: keys to deactivate ours / c7n",
                             f"{ours['findings']} / {peer['matched_keys']} keys "
                             f"({peer['matched_users']} users)",
                             f"diff {e['findings_diff']:+d}; users only ours "
                             f"{len(e['only_ours_users'])}, only c7n {len(e['only_peer_users'])}"))
            else:
                rows.append(("(d) enforce: keys left Inactive ours / c7n",
                             f"{len(ours['inactive_keys'])} / {len(peer['inactive_keys'])}",
                             f"only ours {len(e['inactive_only_ours'])}, "
                             f"only c7n {len(e['inactive_only_peer'])}"))
    if "g_org" in r:
        g = r["g_org"]
        rows += [
            (f"(g) organization: {g['accounts']} accounts x {g['users_per_account']} users",
             f"batches of {g['batch']}, {g['concurrency']} at once, "
             f"{g['accounts_in_flight']} accounts in flight", ""),
            ("(g) map wall / (one account x accounts / in flight)",
             f"{g['map_wall_s']:.2f} / {g['expected_map_wall_s']:.2f} s = "
             f"{g['map_over_expected']:.2f}", f"{g['speedup_over_serial']:.1f}x over one by one"),
            ("(g) whole night: listing + map + digest",
             f"{g['total_wall_s']:.2f} s ({g['listing_wall_s']:.2f} + {g['map_wall_s']:.2f} + "
             f"{g['digest_wall_s']:.2f})", f"{g['actions_done']} actions done, "
             f"{len(g['failed_accounts'])} accounts failed"),
            ("(g) IAM calls per account / the same account swept alone",
             f"{g['iam_calls_per_account']:.1f} / {g['single_account_iam_calls']} = "
             f"{g['calls_per_account_over_single']:.3f}",
             f"+ {g['assume_role_per_account']:.2f} AssumeRole per account"),
            ("(g) IAM calls per account / the paged floor (c)",
             f"{g['iam_calls_per_account']:.1f} / {g['floor_calls_per_account']} = "
             f"{g['calls_per_account_over_floor']:.3f}", ""),
            ("(g) emulator calls per second: map / one account alone",
             f"{g['map_calls_per_s']:.0f} / {g['single_calls_per_s']:.0f}",
             "the emulator (one process) is the bound"),
            ("(g) peak RSS: worker / listing / digest",
             f"{g['worker_rss_mib']:.1f} / {g['listing_rss_mib']:.1f} / "
             f"{g['digest_rss_mib']:.1f} MiB", ""),
        ]
    rows += [
        ("(e) cold start to first /next (median)", fmt(r.get("e_cold_start_ms"), "ms", 1), "<= 50 ms"),
        ("(f) arm64 release zip", fmt(r.get("f_zip_mib"), "MiB"), "<= 4 MB"),
    ]
    width = max(len(a) for a, _, _ in rows)
    print(f"\niam-sweeper benchmarks, {r['users']} users, {r['machine']['cpus']} CPUs, "
          f"{r['machine']['platform']}, {r['date']}")
    for name, value, target in rows:
        print(f"  {name:<{width}}  {value:<34} {target}")
    c = r["c_enforce"]
    print("  (c) calls by operation (enforce): ours | floor | emulator ms per call")
    for op in sorted(set(c["calls"]) | set(c["floor_by_operation"])):
        cost = c["emulator_ms_per_call"].get(op)
        print(f"    {op:<34} {c['calls'].get(op, 0):>6} | {c['floor_by_operation'].get(op, 0):>6} | "
              f"{'n/a' if cost is None else f'{cost:.2f}'}")
    print(f"    (cost per call: the emulator's time from parsed request to last byte answered, in one "
          f"more sweep at CONCURRENCY=1: {c['serial_wall_s']:.2f} s wall, the emulator busy "
          f"{c['serial_emulator_busy_s']:.2f} s of it, {c['serial_in_moto_s']:.2f} s inside moto; "
          f"the emulator serves every "
          f"user in one page, so ListUsers and GetAccountAuthorizationDetails count at what their "
          f"calls took in all)")
    if "d_peer" in r:
        for mode in ("report", "enforce"):
            e = r["d_peer"][mode]
            print(f"  (d) calls by operation ({mode}, same rule): ours | c7n")
            ops = sorted(set(e["ours"]["calls"]) | set(e["peer"]["calls"]))
            for op in ops:
                print(f"    {op:<34} {e['ours']['calls'].get(op, 0):>6} | "
                      f"{e['peer']['calls'].get(op, 0):>6}")
    print("\nSaved to bench-results/latest.json")


if __name__ == "__main__":
    main()
