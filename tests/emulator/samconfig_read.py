#!/usr/bin/env python3
"""Reads a samconfig file the way the SAM CLI does, for the deployment tests.

Run with the deployment tools' Python (.venv-tools: the pinned SAM CLI):

  python samconfig_read.py DIR FILENAME
  python samconfig_read.py --write-guided DIR FILENAME PARAMETERS_JSON

Prints, as JSON, the `deploy` command's parameters of the `default` environment (global ones
included), with parameter_overrides parsed by the SAM CLI's own option type into an object.

With --write-guided it first writes DIR/FILENAME as `sam deploy --guided` saves one, with the SAM
CLI's own code (stack iam-sweeper, capability CAPABILITY_IAM, the parameters of PARAMETERS_JSON,
an object), then reads it back the same way.
"""

from __future__ import annotations

import json
import sys

from samcli.cli.types import CfnParameterOverridesType
from samcli.commands.deploy.guided_config import GuidedConfig
from samcli.lib.config.samconfig import SamConfig


def write_guided(directory: str, filename: str, parameters: dict[str, str]) -> None:
    config = SamConfig(directory, filename=filename)
    guided = GuidedConfig(template_file="template.yaml", section="parameters")
    for key, value in (("stack_name", "iam-sweeper"), ("capabilities", "CAPABILITY_IAM")):
        config.put(["deploy"], "parameters", key, value, env="default")
    guided._save_parameter_overrides(["deploy"], "default", parameters, config)
    config.flush()


def main() -> int:
    args = sys.argv[1:]
    if args[0] == "--write-guided":
        write_guided(args[1], args[2], json.loads(args[3]))
        args = args[1:3]
    directory, filename = args[:2]
    config = SamConfig(directory, filename=filename)
    if not config.exists():
        print(f"{directory}/{filename}: no such samconfig file", file=sys.stderr)
        return 2
    params = dict(config.get_all(["deploy"], "parameters", "default"))
    if "parameter_overrides" in params:
        params["parameter_overrides"] = CfnParameterOverridesType().convert(
            params["parameter_overrides"], None, None
        )
    json.dump(params, sys.stdout, indent=1, sort_keys=True, default=str)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
