"""`make demo`: a full enforcing sweep against the local AWS emulator.

Starts the emulator on 127.0.0.1 (with emulator_client.py), seeds it with the six users of the CIS
sample table (elise, brandon, rakesh, helene, paras, anitha) aged so that every rule fires, creates
an SNS topic and a journal bucket, runs `iam-sweeper invoke` in enforce mode, prints the email
exactly as SNS received it; lists the journaled run (`iam-sweeper runs`) and undoes it
(`iam-sweeper undo RUN_ID`, then `--apply`), showing the keys and the password come back; then the organization mode (org_demo.py): a few member accounts swept as the Step Functions
workflow would, and the organization's digest mail printed; and stops the emulator.

Usage: python demo.py PATH/TO/iam-sweeper
"""

import datetime as dt
import json
import subprocess
import sys

import org_demo
from emulator_client import Emulator, EmulatorError


def ago(days=0, seconds=0):
    t = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    t -= dt.timedelta(days=days, seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def key(created, last_used=None, status="Active", service="s3", region="us-east-1"):
    return {"created": created, "status": status, "last_used": last_used,
            "service": service, "region": region}


# The sample table of the CIS recommendation, with ages chosen so each rule fires.
USERS = [
    # A key last used 120 days ago: unused-credentials, deactivated.
    {"name": "elise", "created": ago(500),
     "keys": [key(ago(499), ago(120))]},
    # A console user whose key was created with it 10 days ago and never used:
    # initial-setup-key, deleted (past the 7-day grace period).
    {"name": "brandon", "created": ago(10), "password": {"last_used": None},
     "keys": [key(ago(10, -3))]},
    # Both keys inactive: already disabled, nothing to do.
    {"name": "rakesh", "created": ago(500),
     "keys": [key(ago(499), ago(300), status="Inactive"), key(ago(450), status="Inactive")]},
    # A key last used 86 days ago: disabled in 4 days unless used (upcoming).
    {"name": "helene", "created": ago(500),
     "keys": [key(ago(499), ago(86), region="eu-west-1", service="dynamodb")]},
    # Everything recent but key 2, unused for 40 days: stale, reported, not yet due.
    {"name": "paras", "created": ago(500), "password": {"last_used": ago(2)},
     "keys": [key(ago(499), ago(3)), key(ago(300), ago(40), service="sqs")]},
    # Password unused for 100 days, key 1 unused for 95 days, and key 2 created with the user
    # 200 days ago and never used: every action at once.
    {"name": "anitha", "created": ago(200), "password": {"last_used": ago(100)},
     "keys": [key(ago(199), ago(95)), key(ago(200, -2))]},
]


JOURNAL_BUCKET = "iam-sweeper-journal"


def key_states(emu, users):
    iam = emu.client("iam")
    out = {}
    for u in users:
        keys = iam.list_access_keys(UserName=u)["AccessKeyMetadata"]
        try:
            iam.get_login_profile(UserName=u)
            password = "password"
        except iam.exceptions.NoSuchEntityException:
            password = "no password"
        out[u] = ", ".join([k["Status"] for k in keys] + [password])
    return out


def undo_demo(binary, emu, env, run_id):
    """The run's journal, then its undo: a dry run, then --apply."""
    objects = emu.client("s3").list_objects_v2(Bucket=JOURNAL_BUCKET).get("Contents", [])
    print(f"\nJournal: {len(objects)} objects in s3://{JOURNAL_BUCKET}/iam-sweeper/, "
          f"{sum(o['Size'] for o in objects)} bytes:")
    for o in objects:
        print(f"  {o['Key']}")
    for args in (["runs"], ["undo", run_id], ["undo", run_id, "--apply"]):
        print(f"\n$ iam-sweeper {' '.join(args)}")
        sys.stdout.flush()
        done = subprocess.run([binary, *args], env=env, stdout=subprocess.PIPE, text=True)
        print(done.stdout, end="")
        if done.returncode != 0:
            sys.exit(f"iam-sweeper {' '.join(args)} exited {done.returncode}")
    print("\nAfter the undo (keys, password):")
    for user, state in key_states(emu, ["elise", "anitha"]).items():
        print(f"  {user}: {state}")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    binary = sys.argv[1]
    try:
        emu = Emulator.start(sys.executable)
    except EmulatorError as exc:
        sys.exit(str(exc))
    with emu:
        emu.seed_users(USERS)
        topic = emu.create_topic("iam-sweeper")
        print(f"Emulator on 127.0.0.1:{emu.port}, seeded with {len(USERS)} users; topic {topic}")
        print("Running: iam-sweeper invoke   (MODE=enforce)\n")

        emu.client("s3").create_bucket(Bucket=JOURNAL_BUCKET)
        env = emu.aws_env({"MODE": "enforce", "SNS_TOPIC_ARN": topic,
                           "JOURNAL_BUCKET": JOURNAL_BUCKET, "JOURNAL_PREFIX": "iam-sweeper/"})
        run = subprocess.run([binary, "invoke"], env=env, stdout=subprocess.PIPE, text=True)
        if run.returncode != 0:
            sys.exit(f"iam-sweeper invoke exited {run.returncode}")
        result = json.loads(run.stdout)
        counts = result["action_counts"]
        print(f"\nResult: {result['counts']['findings']} findings, {counts['done']} actions done, "
              f"{counts['failed']} failed.\n")

        sent = emu.sns_messages()
        if len(sent) != 1:
            sys.exit(f"expected one SNS message, found {len(sent)}")
        mail = sent[0]
        print("=" * 78)
        print(f"Subject: {mail['subject']}")
        print("Attributes: " + ", ".join(f"{k}={v['Value']}"
                                         for k, v in sorted(mail["attributes"].items())))
        print("-" * 78)
        print(mail["message"])
        print("=" * 78)
        undo_demo(binary, emu, env, result["run_id"])

        emu.reset()
        org_demo.demo(binary, emu)


if __name__ == "__main__":
    main()
