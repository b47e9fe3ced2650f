#!/usr/bin/env python3
"""Turns the SAM template into plain CloudFormation with SAM's own translator, offline.

Run with the deployment tools' Python (.venv-tools, pinned in tools/requirements.txt: the
samtranslator the SAM CLI deploys with). The translation is the one `sam validate` and
CloudFormation's AWS::Serverless transform make, with the parameter values given:

  python sam_translate.py TEMPLATE PARAMETERS_JSON CODE_S3_URI

PARAMETERS_JSON is an object {"Mode": "enforce", ...}; CODE_S3_URI (s3://bucket/key) replaces the
function's local CodeUri, as `sam package` would. The CloudFormation template is printed as JSON.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

from boto3 import Session  # noqa: E402
from samtranslator.parser import parser  # noqa: E402
from samtranslator.translator.translator import Translator  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402


def main() -> int:
    template_path, params_json, code_uri = sys.argv[1:4]
    with open(template_path, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    parameters = json.loads(params_json)
    unknown = set(parameters) - set(template.get("Parameters", {}))
    if unknown:
        print(f"not parameters of the template: {sorted(unknown)}", file=sys.stderr)
        return 2
    for resource in template["Resources"].values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = code_uri
    translator = Translator(
        managed_policy_map=None,
        sam_parser=parser.Parser(),
        plugins=[],
        boto_session=Session(region_name="us-east-1"),
    )
    translated = translator.translate(
        sam_template=template,
        parameter_values=parameters,
        get_managed_policy_map=lambda: {},
    )
    json.dump(translated, sys.stdout, indent=1, sort_keys=True, default=str)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
