#!/usr/bin/env python3
"""Checks AWS CLI commands against the service models of botocore, for the deployment tests.

Run with the deployment tools' Python (.venv-tools: its botocore is pinned in
tools/requirements.txt):

  python aws_cli_check.py COMMANDS_JSON

COMMANDS_JSON is a file holding a list of commands, each a list of words after `aws`
(["cloudformation", "update-stack-set", "--stack-set-name", "x", ...]). Prints a JSON list of
problems: an unknown service or operation, or an option the operation does not take. The AWS
CLI's own additions are known by name: global options, `wait`, `logs tail`, `lambda invoke`'s
output file, `sns subscribe --notification-endpoint`.
"""

from __future__ import annotations

import json
import sys

import botocore.session
from botocore import xform_name

GLOBAL_OPTIONS = {
    "--query",
    "--output",
    "--region",
    "--profile",
    "--endpoint-url",
    "--debug",
    "--no-cli-pager",
    "--cli-read-timeout",
    "--cli-connect-timeout",
    "--cli-binary-format",
    "--no-paginate",
    "--color",
}

# Commands the AWS CLI (version 2) adds on top of the service models, with their options.
CUSTOM_COMMANDS = {
    ("logs", "tail"): {
        "--since",
        "--follow",
        "--format",
        "--filter-pattern",
        "--log-stream-names",
        "--log-stream-name-prefix",
        "--mode",
    },
}

# Options the AWS CLI renames.
RENAMED = {("sns", "subscribe"): {"--notification-endpoint": "Endpoint"}}


def members(op_model) -> set[str]:
    shape = op_model.input_shape
    names = set(shape.members) if shape is not None else set()
    return {"--" + xform_name(n, "-") for n in names}


def check(session, words: list[str]) -> list[str]:
    line = "aws " + " ".join(words)
    if words == ["--version"]:
        return []
    if len(words) < 2:
        return [f"`{line}`: no operation"]
    service, op = words[0], words[1]
    options = [w for w in words[2:] if w.startswith("--")]
    if (service, op) in CUSTOM_COMMANDS:
        allowed = CUSTOM_COMMANDS[(service, op)] | GLOBAL_OPTIONS
        return [f"`{line}`: {service} {op} has no option {o}" for o in options if o not in allowed]
    try:
        model = session.get_service_model(service)
    except Exception:  # noqa: BLE001 - reported
        return [f"`{line}`: no service {service}"]
    if op == "wait":
        waiter_name = words[2] if len(words) > 2 else ""
        waiters = session.get_waiter_model(service)
        by_cli = {xform_name(n, "-"): n for n in waiters.waiter_names}
        if waiter_name not in by_cli:
            return [f"`{line}`: {service} has no waiter {waiter_name}"]
        op_name = waiters.get_waiter(by_cli[waiter_name]).operation
    else:
        by_cli = {xform_name(n, "-"): n for n in model.operation_names}
        if op not in by_cli:
            return [f"`{line}`: {service} has no operation {op}"]
        op_name = by_cli[op]
    allowed = members(model.operation_model(op_name)) | GLOBAL_OPTIONS
    allowed |= set(RENAMED.get((service, op), {}))
    # Booleans are also written --no-<name>.
    allowed |= {"--no-" + o[2:] for o in allowed}
    return [f"`{line}`: {service} {op} has no option {o}" for o in options if o not in allowed]


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        commands = json.load(f)
    session = botocore.session.get_session()
    problems = [p for words in commands for p in check(session, words)]
    json.dump(problems, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
