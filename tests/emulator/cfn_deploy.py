#!/usr/bin/env python3
"""Deploys translated CloudFormation templates into moto's CloudFormation, in process, and prints
what got created, for the deployment test (tests/it/deploy.rs).

  python cfn_deploy.py CASES_JSON

CASES_JSON is a file holding a list of cases:

  [{"label": "defaults", "template": {...CloudFormation...}, "parameters": {"Mode": "report"},
    "stacks": ["iam-sweeper", "iam-sweeper-b"]}, ...]

Each case starts from an empty emulator (one account, us-east-1) holding only the function's code
(s3://code/bootstrap.zip), and creates one stack per name, in order, in that same account. moto's
CloudFormation skips the resource types it does not implement; for those this script resolves the
resource's properties with moto's own resolver (conditions, Ref, GetAtt, Sub, If) against the
stack and creates the resource through its service's API, as CloudFormation would, with the name
CloudFormation would give it when the template gives none. A type it knows no API for is listed
under "not_checked".

Printed, as JSON, per case and stack: "error" (the create failed: the exception), "resources"
(logical id, type, physical id, "by": "cloudformation" | "api"), "not_checked", "outputs", and
what the tests read back through the APIs: "schedules", "alarms", "topics" (attributes, and the
key policy of a topic's KMS key), "role_policies", "function", "event_invoke_configs".
"""

from __future__ import annotations

import ast
import io
import json
import sys
import warnings
import zipfile
from typing import Any

import logging

import boto3
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

REGION = "us-east-1"
CODE_BUCKET = "code"
CODE_KEY = "bootstrap.zip"


# moto logs each skipped resource type on stdout; they are listed in the result instead.
logging.getLogger("moto").setLevel(logging.ERROR)
warnings.simplefilter("ignore")


def client(service: str) -> Any:
    return boto3.client(
        service,
        region_name=REGION,
        aws_access_key_id="AKIADUMMYDUMMYDUMMY0",
        aws_secret_access_key="dummy",
    )


def code_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\n")
    return buf.getvalue()


def moto_stack(stack_id: str) -> Any:
    from moto.cloudformation.models import cloudformation_backends

    return cloudformation_backends[DEFAULT_ACCOUNT_ID][REGION].stacks[stack_id]


def drop_none(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: drop_none(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [drop_none(x) for x in v]
    return v


# The resource types moto 5.2.5's CloudFormation skips, and how CloudFormation creates them.
def create_schedule(name: str, p: dict[str, Any]) -> str:
    args = {
        "Name": p.get("Name") or name,
        "ScheduleExpression": p["ScheduleExpression"],
        "FlexibleTimeWindow": p["FlexibleTimeWindow"],
        "Target": p["Target"],
    }
    for k in ("GroupName", "ScheduleExpressionTimezone", "State", "Description"):
        if k in p:
            args[k] = p[k]
    client("scheduler").create_schedule(**args)
    return args["Name"]


def create_alarm(name: str, p: dict[str, Any]) -> str:
    args = dict(p)
    args["AlarmName"] = p.get("AlarmName") or name
    for k in ("Period", "EvaluationPeriods"):
        args[k] = int(args[k])
    args["Threshold"] = float(args["Threshold"])
    client("cloudwatch").put_metric_alarm(**args)
    return args["AlarmName"]


def create_subscription(_name: str, p: dict[str, Any]) -> str:
    return client("sns").subscribe(
        TopicArn=p["TopicArn"], Protocol=p["Protocol"], Endpoint=p["Endpoint"]
    )["SubscriptionArn"]


def create_event_invoke_config(_name: str, p: dict[str, Any]) -> str:
    args = {"FunctionName": p["FunctionName"], "Qualifier": p["Qualifier"]}
    for k in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
        if k in p:
            args[k] = int(p[k])
    if "DestinationConfig" in p:
        args["DestinationConfig"] = p["DestinationConfig"]
    client("lambda").put_function_event_invoke_config(**args)
    return f"{p['FunctionName']}:{p['Qualifier']}"


def create_bucket_policy(_name: str, p: dict[str, Any]) -> str:
    doc = p["PolicyDocument"]
    client("s3").put_bucket_policy(
        Bucket=p["Bucket"], Policy=doc if isinstance(doc, str) else json.dumps(doc)
    )
    return p["Bucket"]


BY_API = {
    "AWS::S3::BucketPolicy": create_bucket_policy,
    "AWS::Scheduler::Schedule": create_schedule,
    "AWS::CloudWatch::Alarm": create_alarm,
    "AWS::SNS::Subscription": create_subscription,
    "AWS::Lambda::EventInvokeConfig": create_event_invoke_config,
}


def deploy(name: str, template: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    from moto.cloudformation.parsing import clean_json, generate_resource_name, resource_class_from_type

    cf = client("cloudformation")
    try:
        stack_id = cf.create_stack(
            StackName=name,
            TemplateBody=json.dumps(template),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            Capabilities=["CAPABILITY_IAM"],
        )["StackId"]
    except Exception as e:  # noqa: BLE001 - reported to the test
        return {"error": f"{type(e).__name__}: {e}"}
    stack = moto_stack(stack_id)
    rmap = stack.resource_map
    out: dict[str, Any] = {"resources": [], "not_checked": [], "api_errors": []}
    # moto lists a skipped resource too, without a logical ID: keep only what it created.
    described = [
        r
        for r in cf.describe_stack_resources(StackName=name)["StackResources"]
        if r.get("LogicalResourceId")
    ]
    for r in described:
        out["resources"].append(
            {
                "logical": r["LogicalResourceId"],
                "type": r["ResourceType"],
                "physical": r["PhysicalResourceId"],
                "status": r["ResourceStatus"],
                "by": "cloudformation",
            }
        )
    made = {r["LogicalResourceId"] for r in described}
    for logical, res in template["Resources"].items():
        if logical in made:
            continue
        condition = res.get("Condition")
        if condition and not rmap.lazy_condition_map[condition]:
            continue
        rtype = res["Type"]
        if resource_class_from_type(rtype):
            out["api_errors"].append(f"{logical}: moto implements {rtype} but did not create it")
            continue
        create = BY_API.get(rtype)
        if create is None:
            out["not_checked"].append({"logical": logical, "type": rtype})
            continue
        props = clean_json(json.loads(json.dumps(res.get("Properties", {}))), rmap)
        props = drop_none(props)
        try:
            physical = create(generate_resource_name(rtype, name, logical), props)
        except Exception as e:  # noqa: BLE001 - reported to the test
            out["api_errors"].append(f"{logical} ({rtype}): {type(e).__name__}: {e}")
            continue
        out["resources"].append(
            {"logical": logical, "type": rtype, "physical": physical, "by": "api"}
        )
    out["outputs"] = {
        o["OutputKey"]: o["OutputValue"]
        for o in cf.describe_stacks(StackName=name)["Stacks"][0].get("Outputs", [])
    }
    return out


def policy_document(doc: Any) -> Any:
    """An inline policy as moto 5.2.5 hands it back from a stack: the Python text of the object,
    with a None where the template's `!If` chose AWS::NoValue (CloudFormation drops those)."""
    if isinstance(doc, str):
        try:
            doc = json.loads(doc)
        except ValueError:
            doc = ast.literal_eval(doc)
    if isinstance(doc, dict) and isinstance(doc.get("Statement"), list):
        doc["Statement"] = [st for st in doc["Statement"] if st is not None]
    return doc


def read_back(stack_names: list[str]) -> dict[str, Any]:
    """The account's state after every stack of the case was created."""
    sched = client("scheduler")
    schedules = []
    for s in sched.list_schedules()["Schedules"]:
        full = sched.get_schedule(Name=s["Name"], GroupName=s.get("GroupName", "default"))
        schedules.append(
            {
                "name": full["Name"],
                "target": full["Target"]["Arn"],
                "role": full["Target"]["RoleArn"],
                "expression": full["ScheduleExpression"],
                "timezone": full.get("ScheduleExpressionTimezone"),
                "state": full.get("State"),
            }
        )
    alarms = [
        {
            "name": a["AlarmName"],
            "namespace": a["Namespace"],
            "metric": a["MetricName"],
            "dimensions": {d["Name"]: d["Value"] for d in a.get("Dimensions", [])},
            "actions": a.get("AlarmActions", []),
            "comparison": a["ComparisonOperator"],
            "threshold": a["Threshold"],
            "period": a["Period"],
            "treat_missing": a.get("TreatMissingData"),
        }
        for a in client("cloudwatch").describe_alarms()["MetricAlarms"]
    ]
    sns = client("sns")
    kms = client("kms")
    topics = {}
    for t in sns.list_topics()["Topics"]:
        attrs = sns.get_topic_attributes(TopicArn=t["TopicArn"])["Attributes"]
        key = attrs.get("KmsMasterKeyId")
        key_policy = None
        if key and not key.startswith("alias/"):
            try:
                policy = kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]
                # moto hands back the policy of a key made by CloudFormation as an object.
                key_policy = json.loads(policy) if isinstance(policy, str) else policy
            except Exception as e:  # noqa: BLE001 - reported to the test
                key_policy = {"error": f"{type(e).__name__}: {e}"}
        subs = sns.list_subscriptions_by_topic(TopicArn=t["TopicArn"])["Subscriptions"]
        topics[t["TopicArn"]] = {
            "kms_master_key_id": key,
            "key_policy": key_policy,
            "subscriptions": [{"protocol": s["Protocol"], "endpoint": s["Endpoint"]} for s in subs],
        }
    iam = client("iam")
    role_policies = {}
    for role in iam.list_roles()["Roles"]:
        names = iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"]
        role_policies[role["Arn"]] = {
            "trust": role["AssumeRolePolicyDocument"],
            "policies": {
                n: policy_document(
                    iam.get_role_policy(RoleName=role["RoleName"], PolicyName=n)["PolicyDocument"]
                )
                for n in names
            },
        }
    lam = client("lambda")
    functions = {}
    for f in lam.list_functions()["Functions"]:
        configs = lam.list_function_event_invoke_configs(FunctionName=f["FunctionName"])
        functions[f["FunctionArn"]] = {
            "name": f["FunctionName"],
            "role": f["Role"],
            "timeout": f["Timeout"],
            "runtime": f.get("Runtime"),
            "architectures": f.get("Architectures"),
            "environment": f.get("Environment", {}).get("Variables", {}),
            "event_invoke_configs": [
                {
                    "maximum_retry_attempts": c.get("MaximumRetryAttempts"),
                    "on_failure": c.get("DestinationConfig", {}).get("OnFailure", {}).get(
                        "Destination"
                    ),
                }
                for c in configs.get("FunctionEventInvokeConfigs", [])
            ],
        }
    queues = client("sqs").list_queues().get("QueueUrls", [])
    groups = [g["logGroupName"] for g in client("logs").describe_log_groups()["logGroups"]]
    return {
        "stacks": stack_names,
        "schedules": schedules,
        "alarms": alarms,
        "topics": topics,
        "roles": role_policies,
        "functions": functions,
        "queues": queues,
        "log_groups": groups,
    }


def run_case(case: dict[str, Any]) -> dict[str, Any]:
    with mock_aws():
        s3 = client("s3")
        s3.create_bucket(Bucket=CODE_BUCKET)
        s3.put_object(Bucket=CODE_BUCKET, Key=CODE_KEY, Body=code_zip())
        stacks = {
            name: deploy(name, case["template"], case["parameters"]) for name in case["stacks"]
        }
        return {"label": case["label"], "stacks": stacks, "account": read_back(case["stacks"])}


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        cases = json.load(f)
    json.dump([run_case(c) for c in cases], sys.stdout, indent=1, default=str)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
