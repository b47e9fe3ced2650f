"""The organization mode against the local emulator, for `make demo` and `make bench`.

The emulator plays AWS Organizations (the default account 123456789012 as management account),
STS (AssumeRole into any account) and one IAM per member account; this module plays the Step
Functions workflow: it sends the binary the events the workflow sends (the listing, one event per
Distributed Map batch, the digest) and writes the map's results to S3 in Step Functions' format
(result files of child executions and a manifest) between the batches and the digest.

    with Emulator.start() as emu:
        org = build_organization(emu, [("alpha", users), ("bravo", users)])
        night = run_night(binary, emu, org, {"MODE": "enforce"})
        print(night.digest_mail["message"])
"""

from __future__ import annotations

import concurrent.futures
import json
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

BUCKET = "iam-sweeper-org"
PREFIX = "org/"
MANAGEMENT_ACCOUNT = "123456789012"


@dataclass
class Organization:
    """An organization built in the emulator."""

    root: str
    accounts: dict[str, str]  # name -> account ID
    topic: str
    extra_env: dict[str, str] = field(default_factory=dict)


@dataclass
class Night:
    """One organization sweep, step by step."""

    listing: dict
    batches: list[dict]  # each worker's result
    digest: dict
    digest_code: int
    digest_mail: dict | None
    seconds: dict[str, float]  # wall time of each step


def build_organization(emu: Any, members: list[tuple[str, list[dict]]],
                       suspended: list[str] = (), tagged: dict[str, dict[str, str]] | None = None,
                       ) -> Organization:
    """Creates the organization, one member account per (name, users) (users seeded straight into
    its IAM, shape as moto_launcher.py's /_seed/users), closes the accounts named in `suspended`,
    tags accounts, and creates the results bucket and the digest's topic."""
    org = emu.client("organizations")
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    accounts = {}
    for name, users in members:
        status = org.create_account(Email=f"{name}@example.com", AccountName=name)
        account_id = status["CreateAccountStatus"]["AccountId"]
        accounts[name] = account_id
        if users:
            emu.post("/_seed/users", {"account_id": account_id, "users": users})
    for name in suspended:
        org.close_account(AccountId=accounts[name])
    for name, tags in (tagged or {}).items():
        org.tag_resource(ResourceId=accounts[name],
                         Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    emu.client("s3").create_bucket(Bucket=BUCKET)
    topic = emu.create_topic("iam-sweeper-org")
    return Organization(root=root, accounts=accounts, topic=topic)


def invoke(binary: str, emu: Any, event: dict, env: dict[str, str]) -> tuple[int, Any, str]:
    """`iam-sweeper invoke --event` with `event`: (exit code, the JSON result or None, stderr)."""
    run = subprocess.run([binary, "invoke", "--event", "/dev/stdin"], input=json.dumps(event),
                         env=emu.aws_env(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        result = json.loads(run.stdout) if run.stdout.strip() else None
    except ValueError:
        result = None
    return run.returncode, result, run.stderr


def batch_events(items: list[dict], batch_size: int, execution: str) -> list[dict]:
    """The Distributed Map's children's events: the listing's items in batches."""
    return [{"Items": items[i:i + batch_size], "BatchInput": {"execution": execution}}
            for i in range(0, len(items), batch_size)]


def write_results(emu: Any, execution: str, events: list[dict],
                  runs: list[tuple[int, Any, str]]) -> str:
    """Writes the map's results as Step Functions' ResultWriter does: each child execution (its
    input, and its output or error) in a result file by status, and the manifest naming them.
    `runs` are the workers' (exit code, result, stderr), one per event. Returns the manifest's key."""
    s3 = emu.client("s3")
    children = []
    for event, (code, result, err) in zip(events, runs):
        if code == 0 and result is not None:
            children.append({"Status": "SUCCEEDED", "Input": json.dumps(event),
                             "Output": json.dumps(result)})
        else:
            children.append({"Status": "FAILED", "Input": json.dumps(event),
                             "Error": "Lambda.Unknown", "Cause": err.strip()[-500:]})
    manifest_key = f"{PREFIX}results/{execution}/manifest.json"
    files = {"SUCCEEDED": [], "FAILED": [], "PENDING": []}
    for status in ("SUCCEEDED", "FAILED"):
        these = [c for c in children if c["Status"] == status]
        if these:
            key = f"{PREFIX}results/{execution}/{status}_0.json"
            body = json.dumps(these).encode()
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
            files[status].append({"Key": key, "Size": len(body)})
    manifest = {"DestinationBucket": BUCKET, "MapRunArn": f"arn:aws:states:us-east-1:"
                f"{MANAGEMENT_ACCOUNT}:mapRun:iam-sweeper/map:{execution}", "ResultFiles": files}
    s3.put_object(Bucket=BUCKET, Key=manifest_key, Body=json.dumps(manifest).encode())
    return manifest_key


def run_night(binary: str, emu: Any, org: Organization, env: dict[str, str],
              batch_size: int = 5, concurrency: int = 4, execution: str = "nightly") -> Night:
    """The workflow's night: list, sweep every batch (`concurrency` workers at once, as the map's
    MaxConcurrency), write the results, digest."""
    env = {"ORG_BUCKET": BUCKET, "ORG_PREFIX": PREFIX, "SNS_TOPIC_ARN": org.topic,
           **org.extra_env, **env}
    seconds = {}
    started = time.perf_counter()
    code, listing, err = invoke(binary, emu, {"iam_sweeper": "list-accounts",
                                              "execution": execution}, env)
    if code != 0:
        raise RuntimeError(f"the listing failed ({code}): {err}")
    seconds["listing"] = time.perf_counter() - started

    s3 = emu.client("s3")
    items = json.loads(s3.get_object(Bucket=listing["bucket"], Key=listing["key"])["Body"].read())
    events = batch_events(items, batch_size, execution)

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=concurrency) as pool:
        runs = list(pool.map(lambda ev: invoke(binary, emu, ev, env), events))
    seconds["map"] = time.perf_counter() - started
    results = [result for code, result, _ in runs if code == 0 and result is not None]
    manifest_key = write_results(emu, execution, events, [(c, r, e) for c, r, e in runs])

    before = len(emu.sns_messages())
    started = time.perf_counter()
    digest_code, digest, err = invoke(binary, emu, {
        "iam_sweeper": "digest", "execution": execution, "listing": listing,
        "results": {"Bucket": BUCKET, "Key": manifest_key}}, env)
    seconds["digest"] = time.perf_counter() - started
    if digest is None:
        raise RuntimeError(f"the digest printed no summary ({digest_code}): {err}")
    sent = emu.sns_messages()[before:]
    return Night(listing=listing, batches=results, digest=digest, digest_code=digest_code,
                 digest_mail=sent[0] if sent else None, seconds=seconds)


def _ago(days: int, seconds: int = 0) -> str:
    import datetime as dt
    t = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    t -= dt.timedelta(days=days, seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _key(created: str, last_used: str | None = None, status: str = "Active") -> dict:
    return {"created": created, "status": status, "last_used": last_used}


def demo(binary: str, emu: Any) -> None:
    """`make demo`'s organization part: four member accounts (one closed, one tagged out), swept
    in enforce mode as the workflow would, and the digest mail printed."""
    members = [
        ("payments", [
            {"name": "ci-deploy", "created": _ago(500), "keys": [_key(_ago(499), _ago(130))]},
            {"name": "maria", "created": _ago(500), "password": {"last_used": _ago(2)},
             "keys": [_key(_ago(300), _ago(1))]},
        ]),
        ("analytics", [
            {"name": "etl", "created": _ago(400), "keys": [_key(_ago(399), _ago(95))]},
            {"name": "jonas", "created": _ago(400), "password": {"last_used": _ago(100)}},
            {"name": "reports", "created": _ago(400), "keys": [_key(_ago(399), _ago(86))]},
        ]),
        ("sandbox", [
            {"name": "experiment", "created": _ago(400), "keys": [_key(_ago(399), _ago(200))]},
        ]),
        ("legacy", []),
    ]
    org = build_organization(emu, members, suspended=["legacy"],
                             tagged={"sandbox": {"iam-sweeper": "skip"}})
    org.extra_env = {"ORG_EXCLUDE_ACCOUNTS": MANAGEMENT_ACCOUNT,
                     "ORG_EXCLUDE_TAG": "iam-sweeper=skip"}
    print("\n\nThe organization mode: an organization of "
          + ", ".join(f"{n} ({i})" for n, i in org.accounts.items()))
    print("Running the workflow's steps: list-accounts, one Distributed Map batch, digest "
          "(MODE=enforce, ORG_EXCLUDE_TAG=iam-sweeper=skip)\n")
    night = run_night(binary, emu, org, {"MODE": "enforce"}, batch_size=5)
    listing = night.listing
    print(f"Listing: {listing['count']} accounts to sweep, written to "
          f"s3://{listing['bucket']}/{listing['key']}; skipped: "
          + ", ".join(f"{s['name']} ({s['reason']})" for s in listing["skipped"]))
    for batch in night.batches:
        for a in batch["accounts"]:
            print(f"  {a['account_id']} {a['name']}: {a['status']}, "
                  f"{a['counts'].get('done', 0)} done, {a['counts'].get('findings', 0)} findings")
    mail = night.digest_mail
    if mail is None:
        raise SystemExit(f"the digest sent no mail (exit {night.digest_code})")
    print("=" * 78)
    print(f"Subject: {mail['subject']}")
    print("Attributes: " + ", ".join(f"{k}={v['Value']}"
                                     for k, v in sorted(mail["attributes"].items())))
    print("-" * 78)
    print(mail["message"])
    print("=" * 78)
    if night.digest_code != 0:
        raise SystemExit(f"the digest step failed (exit {night.digest_code})")
