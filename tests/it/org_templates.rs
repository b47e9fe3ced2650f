//! The organization templates: `org/hub.yaml` (the EventBridge schedule, the Step Functions
//! workflow with its Distributed Map, the hub function, bucket, topic and alarms) and
//! `org/member-role.yaml` (the role a service-managed stack set puts in every member account).
//!
//! - Both pass cfn-lint with warnings failing, its Step Functions definition checks included (a
//!   broken copy of the definition is refused, so the checks do run on this template); the hub
//!   passes `sam validate --lint`. The tools come from `IAM_SWEEPER_TOOLS_PYTHON`'s directory
//!   (set by `make test`; default `.venv-tools/bin/python`, built by `make tools`); when they are
//!   missing the tests fail, they never skip.
//! - Structure: least privilege of the hub's three roles, the member role's trust and its
//!   permissions equal to the single-account role's, the environment equal to the single-account
//!   one plus the organization settings, the map's wiring to the parameters, the bucket, the
//!   schedule and the alarms.
//! - The organization parameters let through only what the function's settings accept.
//! - The workflow's data flow, run in the emulator's Step Functions interpreter with canned
//!   function results (see `the_workflow_runs_in_the_emulator` for what moto 5.2.5 cannot run).
//! - `docs/organization.md`: its stack-set commands call as the delegated administrator with the
//!   named-IAM capability, and every `aws` command is one the pinned AWS CLI's models know
//!   (`tests/emulator/aws_cli_check.py`).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use iam_sweeper::core::org::{self, OrgEvent};
use serde_json::{Value as Json, json};
use serde_yaml::Value;

use crate::support::cfn::{
    is_ref, is_topic_arn, resource, resources_of_type, scalar, strings, tagged,
};

use crate::support::emulator::python;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

// ---------------------------------------------------------------------------------------------
// reading the templates

fn load(path: &str) -> Value {
    let text = std::fs::read_to_string(Path::new(ROOT).join(path))
        .unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path} is not YAML: {e}"))
}

fn hub() -> Value {
    load("org/hub.yaml")
}

fn member() -> Value {
    load("org/member-role.yaml")
}

fn single() -> Value {
    load("template.yaml")
}

fn is_tag(v: &Value, tag: &str, target: &str) -> bool {
    matches!(tagged(v), Some((t, inner)) if t == tag && inner.as_str() == Some(target))
}

fn is_sub(v: &Value, text: &str) -> bool {
    is_tag(v, "Sub", text)
}

/// A role's statements, as written (an `!If [cond, statement, !Ref AWS::NoValue]` stays whole).
fn raw_statements(role: &Value) -> Vec<&Value> {
    assert_eq!(role["Type"], "AWS::IAM::Role");
    assert!(
        role["Properties"]["ManagedPolicyArns"].is_null(),
        "no managed policies: every permission is listed in the template"
    );
    let policies = role["Properties"]["Policies"]
        .as_sequence()
        .expect("Policies");
    assert_eq!(policies.len(), 1, "one inline policy");
    policies[0]["PolicyDocument"]["Statement"]
        .as_sequence()
        .expect("Statement")
        .iter()
        .collect()
}

/// A role's statements, each with the condition it is granted under (`None`: always).
fn statements(role: &Value) -> Vec<(Option<String>, Value)> {
    let mut out = Vec::new();
    for s in raw_statements(role) {
        match tagged(s) {
            Some((tag, args)) if tag == "If" => {
                let args = args.as_sequence().expect("!If args");
                assert_eq!(args.len(), 3);
                assert!(
                    is_ref(&args[2], "AWS::NoValue"),
                    "nothing granted otherwise"
                );
                let cond = args[0].as_str().expect("condition name").to_string();
                out.push((Some(cond), args[1].clone()));
            }
            _ => out.push((None, s.clone())),
        }
    }
    for (_, s) in &out {
        assert_eq!(s["Effect"], "Allow", "{s:?}");
        for a in strings(&s["Action"]) {
            assert!(!a.contains('*'), "wildcard action {a}");
        }
    }
    out
}

fn by_sid(statements: &[(Option<String>, Value)]) -> BTreeMap<String, (Option<String>, Value)> {
    statements
        .iter()
        .map(|(c, s)| {
            (
                s["Sid"]
                    .as_str()
                    .expect("every statement has a Sid")
                    .to_string(),
                (c.clone(), s.clone()),
            )
        })
        .collect()
}

fn function(t: &Value) -> &Value {
    let fns = resources_of_type(t, "AWS::Serverless::Function");
    assert_eq!(fns.len(), 1, "one function");
    fns[0].1
}

/// Environment variable → value expression.
fn environment(t: &Value) -> BTreeMap<String, Value> {
    function(t)["Properties"]["Environment"]["Variables"]
        .as_mapping()
        .expect("Environment.Variables")
        .iter()
        .map(|(k, v)| (k.as_str().expect("variable name").to_string(), v.clone()))
        .collect()
}

/// The state machine's definition as JSON, and its substitutions.
fn definition(t: &Value) -> (Json, BTreeMap<String, Value>) {
    let sm = resource(t, "StateMachine");
    assert_eq!(sm["Type"], "AWS::StepFunctions::StateMachine");
    let d = &sm["Properties"]["Definition"];
    assert!(
        d.is_mapping(),
        "Definition is an object, not a DefinitionString: cfn-lint checks only that one"
    );
    let json: Json = serde_json::to_value(d).expect("the definition has no intrinsic function");
    let subs = sm["Properties"]["DefinitionSubstitutions"]
        .as_mapping()
        .expect("DefinitionSubstitutions")
        .iter()
        .map(|(k, v)| (k.as_str().unwrap().to_string(), v.clone()))
        .collect();
    (json, subs)
}

/// The organization settings the hub adds to the single-account environment (the contract with
/// the function; `org::VARIABLES` is the function's own list).
const ORG_VARIABLES: [(&str, &str); 9] = [
    ("MEMBER_ROLE_NAME", "MemberRoleName"),
    ("MEMBER_EXTERNAL_ID", "MemberExternalId"),
    ("ORG_BUCKET", "HubBucket"),
    ("ORG_PREFIX", "Prefix"),
    ("ORG_INCLUDE_OUS", "IncludeOus"),
    ("ORG_EXCLUDE_OUS", "ExcludeOus"),
    ("ORG_INCLUDE_ACCOUNTS", "IncludeAccounts"),
    ("ORG_EXCLUDE_ACCOUNTS", "ExcludeAccounts"),
    ("ORG_EXCLUDE_TAG", "ExcludeTag"),
];

/// Lambda's own transient errors: the only ones any step retries.
const LAMBDA_TRANSIENT: [&str; 4] = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
];

// ---------------------------------------------------------------------------------------------
// the linters

/// A deployment tool from the tools environment (`make tools`); fails the test when missing.
fn tool(name: &str) -> PathBuf {
    let python = std::env::var_os("IAM_SWEEPER_TOOLS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(ROOT).join(".venv-tools/bin/python"));
    let bin = python
        .parent()
        .expect("the tools' bin directory")
        .join(name);
    assert!(
        bin.exists(),
        "{name} is missing at {}: run `make tools` (make test builds it and sets \
         IAM_SWEEPER_TOOLS_PYTHON)",
        bin.display()
    );
    bin
}

fn run_tool(name: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(tool(name))
        .args(args)
        .current_dir(ROOT)
        .env("SAM_CLI_TELEMETRY", "0")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {name}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn both_templates_pass_cfn_lint_with_warnings_failing() {
    let (ok, out) = run_tool(
        "cfn-lint",
        &[
            "--non-zero-exit-code",
            "warning",
            "--",
            "org/hub.yaml",
            "org/member-role.yaml",
        ],
    );
    assert!(ok, "cfn-lint:\n{out}");
}

#[test]
fn cfn_lint_checks_the_workflow_definition() {
    // The same template with one unknown field in the map state: cfn-lint's Step Functions rule
    // (E3601) must refuse it, which shows the definition is one cfn-lint reads (an object, not a
    // DefinitionString built with !Sub, which it skips).
    let text = std::fs::read_to_string(Path::new(ROOT).join("org/hub.yaml")).unwrap();
    let field = "MaxConcurrencyPath: $.settings.max_concurrency";
    assert_eq!(text.matches(field).count(), 1);
    let broken = text.replace(field, "MaxConcurencyPath: $.settings.max_concurrency");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.yaml");
    std::fs::write(&path, broken).unwrap();
    let (ok, out) = run_tool(
        "cfn-lint",
        &[
            "--non-zero-exit-code",
            "warning",
            "--",
            path.to_str().unwrap(),
        ],
    );
    assert!(!ok, "a broken definition passed cfn-lint:\n{out}");
    assert!(
        out.contains("E3601") && out.contains("MaxConcurencyPath"),
        "E3601 on the broken field:\n{out}"
    );
}

#[test]
fn the_hub_passes_sam_validate_lint() {
    let (ok, out) = run_tool(
        "sam",
        &[
            "validate",
            "--lint",
            "--region",
            "us-east-1",
            "--template-file",
            "org/hub.yaml",
        ],
    );
    assert!(ok, "sam validate --lint:\n{out}");
}

#[test]
fn make_validate_lints_both_templates() {
    let makefile = std::fs::read_to_string(Path::new(ROOT).join("Makefile")).unwrap();
    let validate: String = makefile
        .split("\nvalidate:")
        .nth(1)
        .expect("a validate target")
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with('\t'))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        validate.contains("cfn-lint --non-zero-exit-code warning")
            && validate.contains("org/hub.yaml")
            && validate.contains("org/member-role.yaml"),
        "make validate runs cfn-lint on both templates:\n{validate}"
    );
    assert!(
        validate.contains("sam validate --lint")
            && validate.contains("--template-file org/hub.yaml"),
        "make validate runs sam validate --lint on the hub:\n{validate}"
    );
}

// ---------------------------------------------------------------------------------------------
// the function and its settings

#[test]
fn the_hub_function_is_the_single_account_binary() {
    let t = hub();
    let f = function(&t);
    assert_eq!(f["Metadata"]["BuildMethod"], "rust-cargolambda");
    assert_eq!(f["Metadata"]["BuildProperties"]["Binary"], "iam-sweeper");
    let p = &f["Properties"];
    // CodeUri is relative to the template: the crate root, one level up from org/.
    assert_eq!(p["CodeUri"], "..");
    assert!(Path::new(ROOT).join("org").join("../Cargo.toml").exists());
    assert_eq!(p["Runtime"], "provided.al2023");
    assert_eq!(strings(&p["Architectures"]), ["arm64"]);
    assert_eq!(p["Handler"], "bootstrap");
    assert!(is_ref(&p["Timeout"], "Timeout"));
    assert_eq!(t["Parameters"]["Timeout"]["MaxValue"].as_u64(), Some(900));
    assert!(is_tag(&p["Role"], "GetAtt", "FunctionRole.Arn"));
    assert!(p["Policies"].is_null(), "no SAM policy templates");
    assert!(
        p["Events"].is_null(),
        "the schedule starts the workflow, not the function"
    );
}

#[test]
fn the_environment_is_the_single_account_one_plus_the_organization_settings() {
    let (h, s) = (hub(), single());
    let (hub_env, single_env) = (environment(&h), environment(&s));
    let org_names: BTreeSet<&str> = ORG_VARIABLES.iter().map(|(v, _)| *v).collect();
    assert_eq!(
        org_names,
        org::VARIABLES.iter().copied().collect(),
        "the organization settings the function reads"
    );
    let want: BTreeSet<&str> = single_env
        .keys()
        .map(String::as_str)
        .chain(org_names.iter().copied())
        .collect();
    let got: BTreeSet<&str> = hub_env.keys().map(String::as_str).collect();
    assert_eq!(
        got, want,
        "hub environment vs template.yaml's plus the org ones"
    );

    // Every single-account setting: the same expression, and a parameter with the same type,
    // default and bounds (template.rs checks those against the binary).
    for (name, value) in &single_env {
        assert_eq!(&hub_env[name], value, "{name}");
        if name == "SNS_TOPIC_ARN" {
            assert!(is_topic_arn(value));
            continue;
        }
        let (tag, param) = tagged(value).expect("an intrinsic function");
        if tag != "Ref" {
            // JOURNAL_BUCKET: the same !If on the same condition and bucket, compared above and
            // in the hub role's test.
            continue;
        }
        let param = param.as_str().unwrap();
        let (hp, sp) = (&h["Parameters"][param], &s["Parameters"][param]);
        for key in [
            "Type",
            "Default",
            "AllowedValues",
            "AllowedPattern",
            "MinValue",
            "MaxValue",
            "MinLength",
            "MaxLength",
        ] {
            assert_eq!(hp[key], sp[key], "parameter {param}: {key}");
        }
    }

    for (var, param) in ORG_VARIABLES {
        assert!(is_ref(&hub_env[var], param), "{var}: !Ref {param}");
        if param == "HubBucket" {
            assert_eq!(resource(&h, param)["Type"], "AWS::S3::Bucket");
            continue;
        }
        let p = &h["Parameters"][param];
        let default = scalar(&p["Default"]).unwrap_or_else(|| panic!("{param}: no Default"));
        let want_default = if var == "MEMBER_ROLE_NAME" {
            org::DEFAULT_MEMBER_ROLE
        } else {
            ""
        };
        assert_eq!(default, want_default, "{param}: the function's default");
    }
    // The hub and the member role agree on the role's name and the external ID, and their bounds.
    let m = member();
    for key in ["Type", "Default", "AllowedPattern"] {
        assert_eq!(
            h["Parameters"]["MemberRoleName"][key], m["Parameters"]["MemberRoleName"][key],
            "member role name: {key}"
        );
        assert_eq!(
            h["Parameters"]["MemberExternalId"][key], m["Parameters"]["ExternalId"][key],
            "external ID: {key}"
        );
    }
    assert_eq!(h["Parameters"]["Mode"]["Default"], "report");
}

// ---------------------------------------------------------------------------------------------
// least privilege

#[test]
fn the_hub_role_lists_the_organization_assumes_only_the_member_role_and_touches_only_its_prefix() {
    let t = hub();
    let role = resource(&t, "FunctionRole");
    assert!(is_ref(&role["Properties"]["RoleName"], "HubRoleName"));
    let trust = &role["Properties"]["AssumeRolePolicyDocument"]["Statement"];
    assert_eq!(trust.as_sequence().unwrap().len(), 1);
    assert_eq!(trust[0]["Principal"]["Service"], "lambda.amazonaws.com");

    let st = by_sid(&statements(role));
    assert_eq!(
        st.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "AssumeMemberRole",
            "Digest",
            "DigestEncryption",
            "JournalListing",
            "JournalRecords",
            "ListOrganization",
            "ListResults",
            "Logs",
            "OwnerMail",
            "ReadListingAndResults",
            "WriteListing"
        ]
    );
    // The journal and the owner mail are the hub's (the function writes and sends them with its
    // own credentials, every member account's under its own key): the same statements, under the
    // same conditions, as the single-account role's.
    let single_template = single();
    let single_role = resource(&single_template, "FunctionRole");
    for sid in ["JournalRecords", "JournalListing", "OwnerMail"] {
        let find = |role: &Value| -> Value {
            raw_statements(role)
                .into_iter()
                .find(|st| tagged(st).is_some_and(|(_, args)| args[1]["Sid"].as_str() == Some(sid)))
                .unwrap_or_else(|| panic!("no {sid} statement"))
                .clone()
        };
        assert_eq!(find(role), find(single_role), "{sid}");
    }
    for cond in [
        "CreateJournal",
        "ExpireJournal",
        "LockJournal",
        "SendOwnerMail",
    ] {
        assert_eq!(
            t["Conditions"][cond], single_template["Conditions"][cond],
            "{cond}"
        );
    }
    assert_eq!(
        t["Rules"], single_template["Rules"],
        "the same parameter rules"
    );
    for name in ["JournalBucket", "JournalBucketPolicy"] {
        assert_eq!(
            resource(&t, name),
            resource(&single_template, name),
            "{name}: as in the single-account stack"
        );
    }
    for (sid, (_, s)) in &st {
        let actions = strings(&s["Action"]);
        assert!(
            actions
                .iter()
                .all(|a| !a.starts_with("iam:") && !a.starts_with("securityhub:")),
            "{sid}: the hub holds no IAM or Security Hub permission; the member roles do"
        );
        if s["Resource"].as_str() == Some("*") {
            assert_eq!(sid, "ListOrganization", "only the organization reads on *");
        }
    }

    let (cond, s) = &st["ListOrganization"];
    assert!(cond.is_none());
    let mut reads = strings(&s["Action"]);
    reads.sort();
    assert_eq!(
        reads,
        [
            "organizations:DescribeOrganization",
            "organizations:ListAccounts",
            "organizations:ListAccountsForParent",
            "organizations:ListChildren",
            "organizations:ListTagsForResource"
        ]
    );

    let (cond, s) = &st["AssumeMemberRole"];
    assert!(cond.is_none());
    assert_eq!(strings(&s["Action"]), ["sts:AssumeRole"]);
    assert!(is_sub(
        &s["Resource"],
        "arn:${AWS::Partition}:iam::*:role/${MemberRoleName}"
    ));
    let c = s["Condition"].as_mapping().unwrap();
    assert_eq!(c.len(), 1);
    let eq = s["Condition"]["StringEquals"].as_mapping().unwrap();
    assert_eq!(eq.len(), 1);
    assert!(is_ref(
        &s["Condition"]["StringEquals"]["aws:ResourceOrgID"],
        "OrganizationId"
    ));

    // S3: the listing is written, listing and results read, only under the prefix.
    let (_, s) = &st["WriteListing"];
    assert_eq!(strings(&s["Action"]), ["s3:PutObject"]);
    assert!(is_sub(
        &s["Resource"],
        "${HubBucket.Arn}/${Prefix}listings/*"
    ));
    let (_, s) = &st["ReadListingAndResults"];
    assert_eq!(strings(&s["Action"]), ["s3:GetObject"]);
    let res = s["Resource"].as_sequence().unwrap();
    assert_eq!(res.len(), 2);
    assert!(is_sub(&res[0], "${HubBucket.Arn}/${Prefix}listings/*"));
    assert!(is_sub(&res[1], "${HubBucket.Arn}/${Prefix}results/*"));
    let (_, s) = &st["ListResults"];
    assert_eq!(strings(&s["Action"]), ["s3:ListBucket"]);
    assert!(is_tag(&s["Resource"], "GetAtt", "HubBucket.Arn"));
    let prefixes = s["Condition"]["StringLike"]["s3:prefix"]
        .as_sequence()
        .expect("listing limited to the prefix");
    for p in prefixes {
        let (tag, text) = tagged(p).expect("!Sub");
        assert_eq!(tag, "Sub");
        assert!(text.as_str().unwrap().starts_with("${Prefix}"), "{p:?}");
    }

    let (cond, s) = &st["Digest"];
    assert!(cond.is_none());
    assert_eq!(strings(&s["Action"]), ["sns:Publish"]);
    assert!(is_topic_arn(&s["Resource"]));
    let (cond, s) = &st["DigestEncryption"];
    assert_eq!(cond.as_deref(), Some("UsesTopicKey"));
    assert_eq!(
        strings(&s["Action"]),
        ["kms:GenerateDataKey", "kms:Decrypt"]
    );
    let (_, s) = &st["Logs"];
    assert!(is_tag(&s["Resource"], "GetAtt", "LogGroup.Arn"));
}

#[test]
fn the_workflow_role_invokes_the_function_reads_the_listing_writes_results_and_runs_its_children() {
    let t = hub();
    let sm = resource(&t, "StateMachine");
    assert_eq!(sm["Properties"]["StateMachineType"], "STANDARD");
    assert!(is_tag(
        &sm["Properties"]["RoleArn"],
        "GetAtt",
        "StateMachineRole.Arn"
    ));
    assert!(is_sub(
        &sm["Properties"]["StateMachineName"],
        "${AWS::StackName}-sweep"
    ));
    let role = resource(&t, "StateMachineRole");
    let trust = &role["Properties"]["AssumeRolePolicyDocument"]["Statement"];
    assert_eq!(trust.as_sequence().unwrap().len(), 1);
    assert_eq!(trust[0]["Principal"]["Service"], "states.amazonaws.com");

    let st = by_sid(&statements(role));
    assert!(st.values().all(|(c, _)| c.is_none()));
    assert_eq!(
        st.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "ChildWorkflowExecutions",
            "ChildWorkflows",
            "InvokeFunction",
            "ItemReader",
            "ResultWriter"
        ]
    );
    for (sid, (_, s)) in &st {
        assert_ne!(s["Resource"].as_str(), Some("*"), "{sid} on every resource");
    }
    let s = &st["InvokeFunction"].1;
    assert_eq!(strings(&s["Action"]), ["lambda:InvokeFunction"]);
    assert!(is_tag(&s["Resource"], "GetAtt", "Function.Arn"));
    let s = &st["ItemReader"].1;
    assert_eq!(strings(&s["Action"]), ["s3:GetObject"]);
    assert!(is_sub(
        &s["Resource"],
        "${HubBucket.Arn}/${Prefix}listings/*"
    ));
    let s = &st["ResultWriter"].1;
    let mut writer = strings(&s["Action"]);
    writer.sort();
    assert_eq!(
        writer,
        [
            "s3:AbortMultipartUpload",
            "s3:GetObject",
            "s3:ListMultipartUploadParts",
            "s3:PutObject"
        ]
    );
    assert!(is_sub(
        &s["Resource"],
        "${HubBucket.Arn}/${Prefix}results/*"
    ));
    // The Distributed Map's child executions: of this state machine only (its name is the
    // StateMachineName above).
    let s = &st["ChildWorkflows"].1;
    assert_eq!(strings(&s["Action"]), ["states:StartExecution"]);
    assert!(is_sub(
        &s["Resource"],
        "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:${AWS::StackName}-sweep"
    ));
    let s = &st["ChildWorkflowExecutions"].1;
    assert_eq!(
        strings(&s["Action"]),
        ["states:DescribeExecution", "states:StopExecution"]
    );
    assert!(is_sub(
        &s["Resource"],
        "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${AWS::StackName}-sweep/*"
    ));
}

#[test]
fn the_member_role_trusts_only_the_hub_role_of_the_organization() {
    let t = member();
    assert!(
        t["Transform"].is_null(),
        "service-managed stack sets take no transform"
    );
    let roles = resources_of_type(&t, "AWS::IAM::Role");
    assert_eq!(roles.len(), 1, "one role");
    assert_eq!(
        t["Resources"].as_mapping().unwrap().len(),
        1,
        "nothing but the role"
    );
    let role = roles[0].1;
    assert!(is_ref(&role["Properties"]["RoleName"], "MemberRoleName"));
    let trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        .as_sequence()
        .unwrap();
    assert_eq!(trust.len(), 1, "one trust statement");
    let s = &trust[0];
    assert_eq!(s["Effect"], "Allow");
    assert_eq!(strings(&s["Action"]), ["sts:AssumeRole"]);
    // The hub's account, narrowed to the hub role by aws:PrincipalArn.
    let (tag, sub) = tagged(&s["Principal"]["AWS"]).expect("!Sub [arn, {HubAccount}]");
    assert_eq!(tag, "Sub");
    assert_eq!(
        sub[0].as_str(),
        Some("arn:${AWS::Partition}:iam::${HubAccount}:root")
    );
    let (tag, select) = tagged(&sub[1]["HubAccount"]).expect("!Select");
    assert_eq!(tag, "Select");
    assert_eq!(select[0].as_u64(), Some(4), "the account field of the ARN");
    let (tag, split) = tagged(&select[1]).expect("!Split");
    assert_eq!(tag, "Split");
    assert_eq!(split[0], ":");
    assert!(is_ref(&split[1], "HubRoleArn"));

    // Either branch: the hub role, the organization; the external ID only when set.
    let (tag, branches) = tagged(&s["Condition"]).expect("!If HasExternalId");
    assert_eq!(tag, "If");
    assert_eq!(branches[0], "HasExternalId");
    for (i, with_external_id) in [(1, true), (2, false)] {
        let c = &branches[i];
        assert_eq!(c.as_mapping().unwrap().len(), 2, "{c:?}");
        assert_eq!(c["ArnEquals"].as_mapping().unwrap().len(), 1);
        assert!(is_ref(&c["ArnEquals"]["aws:PrincipalArn"], "HubRoleArn"));
        assert!(is_ref(
            &c["StringEquals"]["aws:PrincipalOrgID"],
            "OrganizationId"
        ));
        let eq = c["StringEquals"].as_mapping().unwrap();
        if with_external_id {
            assert_eq!(eq.len(), 2);
            assert!(is_ref(&c["StringEquals"]["sts:ExternalId"], "ExternalId"));
        } else {
            assert_eq!(eq.len(), 1, "no external ID when none is set");
        }
    }
    let (tag, cond) = tagged(&t["Conditions"]["HasExternalId"]).expect("!Not");
    assert_eq!(tag, "Not");
    let (tag, eq) = tagged(&cond[0]).expect("!Equals");
    assert_eq!(tag, "Equals");
    assert!(is_ref(&eq[0], "ExternalId"));
    assert_eq!(eq[1], "");
    assert_eq!(t["Parameters"]["ExternalId"]["Default"], "");
    assert!(
        t["Parameters"]["HubRoleArn"]["Default"].is_null(),
        "no default: the hub role must be named"
    );
    assert!(t["Parameters"]["OrganizationId"]["Default"].is_null());
    assert_eq!(
        t["Parameters"]["OrganizationId"]["AllowedPattern"],
        hub()["Parameters"]["OrganizationId"]["AllowedPattern"]
    );
    // The hub role's name is fixed, so its ARN is known before the hub is deployed.
    let h = hub();
    assert!(is_ref(
        &resource(&h, "FunctionRole")["Properties"]["RoleName"],
        "HubRoleName"
    ));
    assert!(is_tag(
        &h["Outputs"]["HubRoleArn"]["Value"],
        "GetAtt",
        "FunctionRole.Arn"
    ));
}

#[test]
fn the_member_role_may_do_exactly_what_the_single_account_role_may_do_to_iam_and_security_hub() {
    let (m, s) = (member(), single());
    let member_role = resources_of_type(&m, "AWS::IAM::Role")[0].1;
    let single_role = resource(&s, "FunctionRole");
    // The single-account role's IAM and Security Hub statements, as written (conditions included).
    let wanted: Vec<&Value> = raw_statements(single_role)
        .into_iter()
        .filter(|st| {
            let body = match tagged(st) {
                Some((_, args)) => &args[1],
                None => st,
            };
            strings(&body["Action"])
                .iter()
                .any(|a| a.starts_with("iam:") || a.starts_with("securityhub:"))
        })
        .collect();
    let got = raw_statements(member_role);
    assert_eq!(got, wanted, "the member role's statements");
    // Every statement is IAM or Security Hub: SNS, logs and the queue are the hub's.
    for (_, st) in statements(member_role) {
        for a in strings(&st["Action"]) {
            assert!(
                a.starts_with("iam:") || a.starts_with("securityhub:"),
                "{a}"
            );
        }
    }
    // The conditions those statements name mean the same, on parameters with the same values.
    for (cond, param) in [
        ("AllowPagedReads", "PagedReads"),
        ("EnableSecurityHub", "SecurityHub"),
    ] {
        assert_eq!(m["Conditions"][cond], s["Conditions"][cond], "{cond}");
        for key in ["Type", "Default", "AllowedValues"] {
            assert_eq!(
                m["Parameters"][param][key], s["Parameters"][param][key],
                "{param}: {key}"
            );
            assert_eq!(
                hub()["Parameters"][param][key],
                s["Parameters"][param][key],
                "hub {param}: {key}"
            );
        }
    }
    assert!(m["Resources"]["MemberRole"]["Properties"]["MaxSessionDuration"].as_u64() >= Some(900));
}

// ---------------------------------------------------------------------------------------------
// the workflow

#[test]
fn the_workflow_lists_maps_and_digests_as_the_function_expects() {
    let t = hub();
    let (d, subs) = definition(&t);
    let states = d["States"].as_object().expect("States");
    assert_eq!(d["StartAt"], "ListAccounts");
    assert_eq!(
        states.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        BTreeSet::from(["Settings", "ListAccounts", "SweepAccounts", "Digest"])
    );
    assert_eq!(states["ListAccounts"]["Next"], "Settings");
    assert_eq!(states["Settings"]["Next"], "SweepAccounts");
    assert_eq!(states["SweepAccounts"]["Next"], "Digest");
    assert_eq!(states["Digest"]["End"], true);
    assert!(
        d["TimeoutSeconds"].as_u64().is_some_and(|s| s < 86_400),
        "an execution ends before the next night's"
    );
    assert!(is_tag(&subs["FunctionArn"], "GetAtt", "Function.Arn"));

    // 1. The listing.
    let list = &states["ListAccounts"];
    assert_eq!(list["Resource"], "arn:aws:states:::lambda:invoke");
    assert_eq!(list["Parameters"]["FunctionName"], "${FunctionArn}");
    assert_eq!(
        list["Parameters"]["Payload"],
        json!({"iam_sweeper": "list-accounts", "execution.$": "$$.Execution.Name"})
    );
    // The function's result, whole (optional fields included), at $.listing; the execution's
    // input is not used.
    assert_eq!(list["ResultSelector"], json!({"listing.$": "$.Payload"}));
    assert_eq!(list["ResultPath"], "$");

    // 2. The Distributed Map over the listing.
    let map = &states["SweepAccounts"];
    assert_eq!(map["Type"], "Map");
    assert_eq!(
        map["ItemReader"],
        json!({"Resource": "arn:aws:states:::s3:getObject",
               "ReaderConfig": {"InputType": "JSON"},
               "Parameters": {"Bucket.$": "$.listing.bucket", "Key.$": "$.listing.key"}})
    );
    assert_eq!(
        map["ItemBatcher"],
        json!({"MaxItemsPerBatchPath": "$.settings.max_items_per_batch",
               "BatchInput": {"execution.$": "$$.Execution.Name"}})
    );
    assert_eq!(map["MaxConcurrencyPath"], "$.settings.max_concurrency");
    assert_eq!(
        map["ToleratedFailurePercentagePath"],
        "$.settings.tolerated_failure_percentage"
    );
    assert!(map["MaxConcurrency"].is_null() && map["ToleratedFailurePercentage"].is_null());
    assert_eq!(
        map["ResultWriter"],
        json!({"Resource": "arn:aws:states:::s3:putObject",
               "Parameters": {"Bucket": "${Bucket}", "Prefix": "${ResultsPrefix}"}})
    );
    assert!(is_ref(&subs["Bucket"], "HubBucket"));
    assert!(is_sub(&subs["ResultsPrefix"], "${Prefix}results"));
    assert_eq!(map["ResultPath"], "$.map");
    assert!(map["Catch"].is_null());

    // The numbers come from the parameters through Settings (a Number parameter reaches the
    // definition as a string, which Step Functions refuses where it wants an integer).
    assert_eq!(states["Settings"]["ResultPath"], "$.settings");
    let settings = &states["Settings"]["Parameters"];
    for (field, param, min, max, default) in [
        ("max_concurrency", "MaxConcurrency", 1, 10_000, 10),
        (
            "tolerated_failure_percentage",
            "ToleratedFailurePercentage",
            0,
            100,
            100,
        ),
        ("max_items_per_batch", "MaxItemsPerBatch", 1, 100, 1),
    ] {
        assert_eq!(
            settings[format!("{field}.$")],
            format!("States.StringToJson('${{{param}}}')"),
            "{field}"
        );
        assert!(is_ref(&subs[param], param), "{param} substituted");
        let p = &t["Parameters"][param];
        assert_eq!(p["Type"], "Number", "{param}");
        assert_eq!(p["MinValue"].as_u64(), Some(min), "{param}");
        assert_eq!(p["MaxValue"].as_u64(), Some(max), "{param}");
        assert_eq!(p["Default"].as_u64(), Some(default), "{param}");
    }

    let processor = &map["ItemProcessor"];
    assert_eq!(
        processor["ProcessorConfig"],
        json!({"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"})
    );
    let child_states = processor["States"].as_object().unwrap();
    assert_eq!(child_states.len(), 1);
    let child = &processor["States"][processor["StartAt"].as_str().unwrap()];
    assert_eq!(child["Resource"], "arn:aws:states:::lambda:invoke");
    assert_eq!(
        child["Parameters"],
        json!({"FunctionName": "${FunctionArn}", "Payload.$": "$"}),
        "the batch {{Items, BatchInput}} is the payload"
    );
    assert_eq!(child["OutputPath"], "$.Payload");
    assert_eq!(child["End"], true);

    // 3. The digest.
    let digest = &states["Digest"];
    assert_eq!(digest["Resource"], "arn:aws:states:::lambda:invoke");
    assert_eq!(digest["Parameters"]["FunctionName"], "${FunctionArn}");
    assert_eq!(
        digest["Parameters"]["Payload"],
        json!({"iam_sweeper": "digest", "execution.$": "$$.Execution.Name",
               "listing.$": "$.listing", "results.$": "$.map.ResultWriterDetails"})
    );

    // Every task retries Lambda's transient errors only; a function error is never retried (a
    // retried digest would mail twice, a retried sweep would act twice) nor caught.
    for (name, task) in [
        ("ListAccounts", list),
        ("SweepBatch", child),
        ("Digest", digest),
    ] {
        assert!(task["Catch"].is_null(), "{name}: nothing caught");
        let retry = task["Retry"].as_array().expect("Retry");
        assert_eq!(retry.len(), 1, "{name}");
        let errors: Vec<&str> = retry[0]["ErrorEquals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap())
            .collect();
        assert_eq!(errors, LAMBDA_TRANSIENT, "{name}");
    }

    // Every placeholder is substituted.
    let text = d.to_string();
    let mut placeholders = BTreeSet::new();
    for part in text.split("${").skip(1) {
        placeholders.insert(part.split('}').next().unwrap().to_string());
    }
    assert_eq!(
        placeholders,
        subs.keys().cloned().collect::<BTreeSet<_>>(),
        "placeholders vs DefinitionSubstitutions"
    );
}

#[test]
fn the_events_the_workflow_sends_are_the_sample_events_and_decode() {
    let (d, _) = definition(&hub());
    let read = |p: &str| -> Json {
        serde_json::from_str(&std::fs::read_to_string(Path::new(ROOT).join(p)).unwrap())
            .unwrap_or_else(|e| panic!("{p}: {e}"))
    };
    let list = read("events/org-list.json");
    let digest = read("events/org-digest.json");
    // The sample events carry exactly the fields the workflow sends.
    let fields = |payload: &Json| -> BTreeSet<String> {
        payload
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.trim_end_matches(".$").to_string())
            .collect()
    };
    let sent_list = &d["States"]["ListAccounts"]["Parameters"]["Payload"];
    let sent_digest = &d["States"]["Digest"]["Parameters"]["Payload"];
    assert_eq!(fields(&list), fields(sent_list));
    assert_eq!(fields(&digest), fields(sent_digest));
    assert_eq!(list["iam_sweeper"], sent_list["iam_sweeper"]);
    assert_eq!(digest["iam_sweeper"], sent_digest["iam_sweeper"]);

    match org::detect(&list) {
        Some(Ok(OrgEvent::ListAccounts { execution })) => {
            assert_eq!(execution.as_str(), list["execution"])
        }
        other => panic!("events/org-list.json: {other:?}"),
    }
    match org::detect(&digest) {
        Some(Ok(OrgEvent::Digest(e))) => {
            assert_eq!(e.results.key, digest["results"]["Key"]);
            assert_eq!(e.listing.count, 3);
        }
        other => panic!("events/org-digest.json: {other:?}"),
    }
}

#[test]
fn the_hub_bucket_is_private_versioned_encrypted_tls_only_and_expires() {
    let t = hub();
    let b = resource(&t, "HubBucket");
    assert_eq!(b["Type"], "AWS::S3::Bucket");
    assert_eq!(b["DeletionPolicy"], "Retain");
    let p = &b["Properties"];
    assert_eq!(p["VersioningConfiguration"]["Status"], "Enabled");
    assert_eq!(
        p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
            ["SSEAlgorithm"],
        "AES256"
    );
    for k in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(p["PublicAccessBlockConfiguration"][k], true, "{k}");
    }
    assert_eq!(
        p["OwnershipControls"]["Rules"][0]["ObjectOwnership"],
        "BucketOwnerEnforced"
    );
    let rules = p["LifecycleConfiguration"]["Rules"].as_sequence().unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0]["Status"], "Enabled");
    assert!(is_ref(&rules[0]["ExpirationInDays"], "ExpireAfterDays"));
    assert!(rules[0]["NoncurrentVersionExpiration"]["NoncurrentDays"].is_number());
    assert!(rules[0]["Prefix"].is_null() && rules[0]["Filter"].is_null());

    let policy = resource(&t, "HubBucketPolicy");
    assert!(is_ref(&policy["Properties"]["Bucket"], "HubBucket"));
    let st = policy["Properties"]["PolicyDocument"]["Statement"]
        .as_sequence()
        .unwrap();
    assert_eq!(st.len(), 1);
    assert_eq!(st[0]["Effect"], "Deny");
    assert_eq!(st[0]["Principal"], "*");
    assert_eq!(st[0]["Action"], "s3:*");
    assert_eq!(
        scalar(&st[0]["Condition"]["Bool"]["aws:SecureTransport"]).as_deref(),
        Some("false")
    );
    let res = st[0]["Resource"].as_sequence().unwrap();
    assert!(is_tag(&res[0], "GetAtt", "HubBucket.Arn"));
    assert!(is_sub(&res[1], "${HubBucket.Arn}/*"));
}

#[test]
fn the_schedule_starts_the_workflow_and_alarms_mail_its_failures() {
    let t = hub();
    let s = resource(&t, "Schedule");
    assert_eq!(s["Type"], "AWS::Scheduler::Schedule");
    let p = &s["Properties"];
    assert!(
        p["Name"].is_null(),
        "a generated name: two stacks never collide"
    );
    assert!(is_ref(&p["ScheduleExpression"], "ScheduleExpression"));
    assert!(is_ref(&p["ScheduleExpressionTimezone"], "ScheduleTimezone"));
    assert!(is_ref(&p["Target"]["Arn"], "StateMachine"));
    assert!(is_tag(
        &p["Target"]["RoleArn"],
        "GetAtt",
        "ScheduleRole.Arn"
    ));
    assert_eq!(
        t["Parameters"]["ScheduleExpression"]["Default"],
        "cron(0 2 * * ? *)"
    );
    let st = statements(resource(&t, "ScheduleRole"));
    assert_eq!(st.len(), 1);
    assert_eq!(strings(&st[0].1["Action"]), ["states:StartExecution"]);
    assert!(is_ref(&st[0].1["Resource"], "StateMachine"));
    let trust = &resource(&t, "ScheduleRole")["Properties"]["AssumeRolePolicyDocument"];
    assert_eq!(
        trust["Statement"][0]["Principal"]["Service"],
        "scheduler.amazonaws.com"
    );

    let mut watched = BTreeSet::new();
    for (name, alarm) in resources_of_type(&t, "AWS::CloudWatch::Alarm") {
        let p = &alarm["Properties"];
        assert_eq!(p["Namespace"], "AWS/States", "{name}");
        let dims = p["Dimensions"].as_sequence().unwrap();
        assert_eq!(dims.len(), 1, "{name}");
        assert_eq!(dims[0]["Name"], "StateMachineArn");
        assert!(is_ref(&dims[0]["Value"], "StateMachine"), "{name}");
        let actions = p["AlarmActions"].as_sequence().expect("AlarmActions");
        assert!(
            !actions.is_empty() && actions.iter().all(is_topic_arn),
            "{name} mails the topic"
        );
        let metric = p["MetricName"].as_str().unwrap().to_string();
        if metric == "ExecutionsStarted" {
            assert_eq!(p["ComparisonOperator"], "LessThanThreshold");
            assert_eq!(
                p["TreatMissingData"], "breaching",
                "a night with no run alarms"
            );
        } else {
            assert_eq!(
                p["ComparisonOperator"], "GreaterThanOrEqualToThreshold",
                "{name}"
            );
            assert_eq!(p["Threshold"].as_u64(), Some(1), "{name}");
            assert_eq!(p["Statistic"], "Sum", "{name}");
        }
        watched.insert(metric);
    }
    assert_eq!(
        watched,
        BTreeSet::from(
            [
                "ExecutionsAborted",
                "ExecutionsFailed",
                "ExecutionsStarted",
                "ExecutionsTimedOut"
            ]
            .map(String::from)
        )
    );

    // The topic: created (or given), encrypted with a key CloudWatch may use, as in the
    // single-account template.
    let topic = resource(&t, "Topic");
    assert_eq!(topic["Condition"], "CreateTopic");
    let (tag, args) = tagged(&topic["Properties"]["KmsMasterKeyId"]).expect("!If");
    assert_eq!(tag, "If");
    assert_eq!(args[0], "HasTopicKmsKey");
    assert!(is_ref(&args[1], "TopicKmsKeyArn"));
    assert!(is_tag(&args[2], "GetAtt", "TopicKey.Arn"));
    let key = resource(&t, "TopicKey");
    assert_eq!(key["Condition"], "CreateTopicKey");
    let key_statements = key["Properties"]["KeyPolicy"]["Statement"]
        .as_sequence()
        .unwrap();
    assert!(key_statements.iter().any(|s| {
        s["Principal"]["Service"] == "cloudwatch.amazonaws.com"
            && strings(&s["Action"]).contains(&"kms:Decrypt".to_string())
            && strings(&s["Action"]).contains(&"kms:GenerateDataKey*".to_string())
    }));
    let s = single();
    for cond in [
        "CreateTopic",
        "HasTopicKmsKey",
        "CreateTopicKey",
        "UsesTopicKey",
    ] {
        assert_eq!(t["Conditions"][cond], s["Conditions"][cond], "{cond}");
    }
    assert_eq!(
        key["Properties"]["KeyPolicy"],
        resource(&s, "TopicKey")["Properties"]["KeyPolicy"],
        "the same key policy as the single-account topic's"
    );
}

// ---------------------------------------------------------------------------------------------
// the workflow in the emulator

/// The emulator, started so that its Step Functions interpreter can call back into it: moto's
/// interpreter reaches Lambda and S3 at `localhost:$MOTO_PORT`, so the port is chosen here.
struct SfnEmulator {
    child: Child,
    _stdin: ChildStdin,
    port: u16,
}

impl Drop for SfnEmulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SfnEmulator {
    fn start() -> SfnEmulator {
        let python = python();
        assert!(
            python.exists(),
            "the emulator's Python environment is missing at {}: run `make venv`",
            python.display()
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new(&python)
            .arg(Path::new(ROOT).join("tests/emulator/moto_launcher.py"))
            .args(["--port", &port.to_string(), "--exit-on-stdin-eof"])
            .env("MOTO_PORT", port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the emulator: {e}"));
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("READY ") {
                    let _ = tx.send(());
                }
            }
        });
        if rx.recv_timeout(Duration::from_secs(60)).is_err() {
            let _ = child.kill();
            panic!("the emulator did not start on port {port} within 60 s");
        }
        SfnEmulator {
            child,
            _stdin: stdin,
            port,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into()
    }

    /// A moto control call.
    fn control(&self, path: &str, body: &Json) {
        let resp = Self::agent()
            .post(&self.url(path))
            .send_json(body)
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        assert!(resp.status().is_success(), "POST {path}: {}", resp.status());
    }

    /// A signed-looking header naming the service (moto routes by it and checks no signature).
    fn auth(service: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential=AKIAORGTEMPLATES0000/20261201/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0"
        )
    }

    /// A Step Functions (JSON protocol) call.
    fn sfn(&self, action: &str, body: &Json) -> Json {
        let mut resp = Self::agent()
            .post(&self.url("/"))
            .header("X-Amz-Target", format!("AWSStepFunctions.{action}"))
            .header("Content-Type", "application/x-amz-json-1.0")
            .header("Authorization", Self::auth("states"))
            .send(body.to_string())
            .unwrap_or_else(|e| panic!("{action}: {e}"));
        let status = resp.status();
        let text = resp.body_mut().read_to_string().unwrap();
        assert!(status.is_success(), "{action}: {status}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    fn s3_put(&self, path: &str, body: &str) {
        let resp = Self::agent()
            .put(&self.url(path))
            .header("Authorization", Self::auth("s3"))
            .send(body)
            .unwrap_or_else(|e| panic!("PUT {path}: {e}"));
        assert!(resp.status().is_success(), "PUT {path}: {}", resp.status());
    }

    fn s3_get(&self, path: &str) -> Option<String> {
        let mut resp = Self::agent()
            .get(&self.url(path))
            .header("Authorization", Self::auth("s3"))
            .call()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        resp.status()
            .is_success()
            .then(|| resp.body_mut().read_to_string().unwrap())
    }

    /// Creates the state machine, runs one execution to its end, returns (description, history).
    fn execute(&self, definition: &Json, name: &str) -> (Json, Vec<Json>) {
        let created = self.sfn(
            "CreateStateMachine",
            &json!({"name": format!("sweep-{name}"), "definition": definition.to_string(),
                    "roleArn": "arn:aws:iam::123456789012:role/workflow"}),
        );
        let started = self.sfn(
            "StartExecution",
            &json!({"stateMachineArn": created["stateMachineArn"], "name": name, "input": "{}"}),
        );
        let arn = started["executionArn"].clone();
        let deadline = Instant::now() + Duration::from_secs(60);
        let description = loop {
            let d = self.sfn("DescribeExecution", &json!({"executionArn": arn}));
            if d["status"] != "RUNNING" {
                break d;
            }
            assert!(Instant::now() < deadline, "execution {name} still running");
            std::thread::sleep(Duration::from_millis(100));
        };
        let history = self.sfn(
            "GetExecutionHistory",
            &json!({"executionArn": arn, "maxResults": 1000}),
        );
        (
            description,
            history["events"].as_array().cloned().unwrap_or_default(),
        )
    }
}

/// The payload of each Lambda task the execution scheduled, in order.
fn lambda_payloads(history: &[Json]) -> Vec<Json> {
    history
        .iter()
        .filter(|e| e["type"] == "TaskScheduled")
        .map(|e| {
            let params: Json = serde_json::from_str(
                e["taskScheduledEventDetails"]["parameters"]
                    .as_str()
                    .expect("parameters"),
            )
            .unwrap();
            params["Payload"].clone()
        })
        .collect()
}

/// The emulator's test values for the definition's substitutions.
const BUCKET: &str = "iam-sweeper-hub-test";
const PREFIX: &str = "iam-sweeper/";

fn emulated_definition(without_results: bool) -> Json {
    let (d, subs) = definition(&hub());
    let values: BTreeMap<&str, String> = BTreeMap::from([
        (
            "FunctionArn",
            "arn:aws:lambda:us-east-1:123456789012:function:iam-sweeper-hub".to_string(),
        ),
        ("Bucket", BUCKET.to_string()),
        ("ResultsPrefix", format!("{PREFIX}results")),
        ("MaxConcurrency", "2".to_string()),
        ("ToleratedFailurePercentage", "100".to_string()),
        // moto has no ItemBatcher: it is replaced below by an ItemSelector that builds the same
        // one-account batch, so the batch size is 1 here.
        ("MaxItemsPerBatch", "1".to_string()),
    ]);
    assert_eq!(
        values
            .keys()
            .map(|k| k.to_string())
            .collect::<BTreeSet<_>>(),
        subs.keys().cloned().collect::<BTreeSet<_>>()
    );
    let mut text = d.to_string();
    for (k, v) in &values {
        text = text.replace(&format!("${{{k}}}"), v);
    }
    let mut d: Json = serde_json::from_str(&text).unwrap();
    let map = d["States"]["SweepAccounts"].as_object_mut().unwrap();
    let batcher = map.remove("ItemBatcher").expect("ItemBatcher");
    map.insert(
        "ItemSelector".into(),
        json!({"Items.$": "States.Array($$.Map.Item.Value)",
               "BatchInput": batcher["BatchInput"].clone()}),
    );
    if without_results {
        // The map's output is then its children's results, which moto does not write to S3.
        map.remove("ResultWriter");
        map.remove("Next");
        map.insert("End".into(), json!(true));
        d["States"].as_object_mut().unwrap().remove("Digest");
    }
    d
}

/// The workflow's data flow in moto 5.2.5's Step Functions interpreter, with the function's
/// results canned (moto's Lambda without Docker answers from a queue of results, then with the
/// payload it was sent, which shows what each step sent). Checked: the Settings numbers; the
/// listing step's payload, and its result kept whole at `$.listing` (an optional field
/// included); the map reading the listing object from S3 through the ItemReader; each child's
/// payload, a one-account batch with the execution's name, decoded by the function's own event
/// decoder; the ResultWriter's manifest under `<prefix>results/` and the `ResultWriterDetails`
/// handed to the digest; the digest's payload, decoded the same way.
///
/// Not checked here, and why (moto 5.2.5):
/// - `ItemBatcher`: moto's ASL parser refuses the field, so the run replaces it with an
///   `ItemSelector` building the same batch of one account (`MaxItemsPerBatch`'s default); the
///   batcher's fields are checked in `the_workflow_lists_maps_and_digests_as_the_function_expects`
///   and by cfn-lint.
/// - the result files: moto's ResultWriter writes only an empty manifest (`ResultFiles` lists no
///   SUCCEEDED/FAILED file), so the digest reading real result files is tested on the function
///   side, with files shaped as Step Functions writes them.
/// - `ToleratedFailurePercentagePath` (moto: "currently have no effect") and the effect of
///   `MaxConcurrencyPath`; the retries (moto's Lambda without Docker always answers 200, so
///   neither a Lambda service error nor a function error can be raised); IAM (moto enforces no
///   role); the schedule starting the execution; the alarms.
#[test]
fn the_workflow_runs_in_the_emulator() {
    let emu = SfnEmulator::start();
    emu.control(
        "/moto-api/config",
        &json!({"stepfunctions": {"execute_state_machine": true},
                "lambda": {"use_docker": false}}),
    );
    emu.s3_put(&format!("/{BUCKET}"), "");
    let accounts = json!([
        {"Id": "111122223333", "Name": "dev"},
        {"Id": "222233334444", "Name": "prod"},
        {"Id": "333344445555", "Name": "sandbox"}
    ]);

    for (execution, without_results) in [("nightly-1", false), ("nightly-2", true)] {
        let key = format!("{PREFIX}listings/{execution}.json");
        emu.s3_put(&format!("/{BUCKET}/{key}"), &accounts.to_string());
        let mut listing = json!({"bucket": BUCKET, "key": key, "count": 3,
                             "skipped": [{"id": "444455556666", "name": "old", "reason": "suspended"}]});
        if !without_results {
            // An optional field of the listing result travels to the digest as well.
            listing["skipped_omitted"] = json!(2);
        }
        // The listing step's result; every later invocation answers with its own payload.
        emu.control(
            "/moto-api/static/lambda-simple/response",
            &json!({"results": [listing.to_string()], "region": "us-east-1"}),
        );
        let (description, history) = emu.execute(&emulated_definition(without_results), execution);
        assert_eq!(
            description["status"], "SUCCEEDED",
            "{execution}: {description:#}"
        );
        let output: Json = serde_json::from_str(description["output"].as_str().unwrap()).unwrap();
        assert_eq!(
            output["settings"],
            json!({"max_concurrency": 2, "tolerated_failure_percentage": 100,
                   "max_items_per_batch": 1}),
            "the parameters reach the map as numbers"
        );
        assert_eq!(
            output["listing"], listing,
            "the listing result, as returned"
        );

        let payloads = lambda_payloads(&history);
        assert_eq!(
            payloads[0],
            json!({"iam_sweeper": "list-accounts", "execution": execution})
        );
        assert!(matches!(
            org::detect(&payloads[0]),
            Some(Ok(OrgEvent::ListAccounts { .. }))
        ));

        if without_results {
            // Each child echoed its batch: one account each, in the listing's order.
            let batches = output["map"].as_array().expect("the children's results");
            let want: Vec<Json> = accounts
                .as_array()
                .unwrap()
                .iter()
                .map(|a| json!({"Items": [a], "BatchInput": {"execution": execution}}))
                .collect();
            assert_eq!(batches, &want);
            for b in batches {
                match org::detect(b) {
                    Some(Ok(OrgEvent::Batch(batch))) => assert_eq!(batch.items.len(), 1),
                    other => panic!("a child's payload does not decode as a batch: {other:?}"),
                }
            }
            continue;
        }

        let details = &output["map"]["ResultWriterDetails"];
        assert_eq!(details["Bucket"], BUCKET);
        let manifest_key = details["Key"].as_str().expect("Key");
        assert!(
            manifest_key.starts_with(&format!("{PREFIX}results/"))
                && manifest_key.ends_with("/manifest.json"),
            "{manifest_key}"
        );
        let manifest: Json = serde_json::from_str(
            &emu.s3_get(&format!("/{BUCKET}/{manifest_key}"))
                .expect("the manifest was written"),
        )
        .unwrap();
        assert_eq!(manifest["DestinationBucket"], BUCKET);
        for status in ["SUCCEEDED", "FAILED", "PENDING"] {
            assert!(manifest["ResultFiles"][status].is_array(), "{status}");
        }
        // The digest got the listing and the manifest's place; it echoed its payload.
        let digest = &output["digest"]["digest"];
        assert_eq!(
            digest,
            &json!({"iam_sweeper": "digest", "execution": execution,
                    "listing": listing, "results": details})
        );
        assert_eq!(payloads.last(), Some(digest));
        match org::detect(digest) {
            Some(Ok(OrgEvent::Digest(e))) => {
                assert_eq!(e.results.key, manifest_key);
                assert_eq!(e.listing.key, key);
                assert_eq!(e.execution.as_str(), execution);
                assert_eq!(e.listing.skipped_omitted, 2);
            }
            other => panic!("the digest's payload does not decode: {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// the guide

/// Every `aws` and `sam` command of `docs/organization.md`: its shell blocks (continuation lines
/// joined, comments dropped) and the `aws` commands quoted inline, as words.
fn guide_commands() -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(Path::new(ROOT).join("docs/organization.md")).unwrap();
    let mut lines = Vec::new();
    let mut in_sh = false;
    let mut pending = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            in_sh = !in_sh && trimmed == "```sh";
            continue;
        }
        if in_sh {
            let line = match line.find(" #") {
                Some(i) => &line[..i],
                None if trimmed.starts_with('#') => "",
                None => line,
            };
            match line.trim_end().strip_suffix('\\') {
                Some(head) => pending.push_str(head),
                None => {
                    pending.push_str(line);
                    lines.push(std::mem::take(&mut pending));
                }
            }
        }
    }
    let prose = text.replace('\n', " ");
    for (i, part) in prose.split('`').enumerate() {
        if i % 2 == 1 && part.starts_with("aws ") {
            lines.push(part.to_string());
        }
    }
    lines
        .iter()
        .map(|l| l.split_whitespace().map(String::from).collect::<Vec<_>>())
        .filter(|w| matches!(w.first().map(String::as_str), Some("aws" | "sam")))
        .collect()
}

fn option<'a>(cmd: &'a [String], name: &str) -> Option<&'a str> {
    cmd.iter()
        .position(|w| w == name)
        .and_then(|i| cmd.get(i + 1))
        .map(String::as_str)
}

/// The `ParameterKey=` names of a command's `--parameters`.
fn parameter_keys(cmd: &[String]) -> BTreeSet<String> {
    cmd.iter()
        .filter_map(|w| w.strip_prefix("ParameterKey="))
        .map(|w| w.split(',').next().unwrap().to_string())
        .collect()
}

#[test]
fn the_organization_guide_commands_work_as_written() {
    let cmds = guide_commands();
    let member_params: BTreeSet<String> = member()["Parameters"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    let mut seen = BTreeSet::new();
    for cmd in &cmds {
        let line = cmd.join(" ");
        if cmd[0] == "sam" {
            assert!(
                !cmd.iter().any(|w| w == "--parameter-overrides"),
                "`{line}`: the next deploy would undo it"
            );
            match cmd[1].as_str() {
                "build" => {
                    assert_eq!(
                        option(cmd, "--template-file"),
                        Some("org/hub.yaml"),
                        "{line}"
                    );
                    seen.insert("sam build");
                }
                "deploy" => {
                    assert_eq!(
                        option(cmd, "--capabilities"),
                        Some("CAPABILITY_NAMED_IAM"),
                        "`{line}`: the hub role is named"
                    );
                    let built = option(cmd, "--template-file").expect("the built template");
                    let build_dir = cmds
                        .iter()
                        .find(|c| c[0] == "sam" && c[1] == "build")
                        .and_then(|c| option(c, "--build-dir"))
                        .expect("sam build --build-dir");
                    assert_eq!(built, format!("{build_dir}/template.yaml"), "{line}");
                    seen.insert("sam deploy");
                }
                other => panic!("`{line}`: sam {other}"),
            }
            continue;
        }
        let op = cmd.get(2).map(String::as_str).unwrap_or_default();
        if cmd[1] == "cloudformation"
            && (op.contains("stack-set") || op.contains("stack-instances"))
        {
            assert_eq!(
                option(cmd, "--call-as"),
                Some("DELEGATED_ADMIN"),
                "`{line}`: from the delegated administrator"
            );
            seen.insert(op);
        }
        if cmd[1] == "cloudformation"
            && ["create-stack-set", "update-stack-set", "create-stack"].contains(&op)
        {
            assert_eq!(
                option(cmd, "--capabilities"),
                Some("CAPABILITY_NAMED_IAM"),
                "`{line}`: the member role is named"
            );
            let keys = parameter_keys(cmd);
            assert!(keys.is_subset(&member_params), "`{line}`: {keys:?}");
            if op != "update-stack-set" {
                assert_eq!(
                    option(cmd, "--template-body"),
                    Some("file://org/member-role.yaml"),
                    "{line}"
                );
                for required in ["HubRoleArn", "OrganizationId"] {
                    assert!(keys.contains(required), "`{line}`: no {required}");
                }
            } else {
                assert_eq!(
                    keys, member_params,
                    "`{line}`: every parameter, given or kept"
                );
            }
            if op == "create-stack-set" {
                assert_eq!(option(cmd, "--permission-model"), Some("SERVICE_MANAGED"));
                assert!(
                    option(cmd, "--auto-deployment").is_some_and(|a| a.contains("Enabled=true")),
                    "`{line}`: new accounts get the role"
                );
            }
        }
    }
    for needed in [
        "sam build",
        "sam deploy",
        "create-stack-set",
        "create-stack-instances",
        "update-stack-set",
    ] {
        assert!(seen.contains(needed), "the guide has no {needed}");
    }

    // Every aws command is one the pinned AWS CLI's service models know, with options it takes.
    let aws: Vec<Vec<String>> = cmds
        .iter()
        .filter(|c| c[0] == "aws")
        .map(|c| c[1..].to_vec())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("commands.json");
    std::fs::write(&path, serde_json::to_vec(&aws).unwrap()).unwrap();
    let python = tool("python");
    let out = Command::new(&python)
        .arg(Path::new(ROOT).join("tests/emulator/aws_cli_check.py"))
        .arg(&path)
        .output()
        .expect("run aws_cli_check.py");
    assert!(
        out.status.success(),
        "aws_cli_check.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let problems: Json = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(problems, json!([]), "commands the AWS CLI would refuse");

    // The guide's parameter table names parameters the hub has.
    let text = std::fs::read_to_string(Path::new(ROOT).join("docs/organization.md")).unwrap();
    let h = hub();
    let table = text
        .split("\n## Parameters\n")
        .nth(1)
        .unwrap()
        .split("\n## ")
        .next()
        .unwrap();
    for row in table.lines().filter(|l| l.starts_with("| `")) {
        let first = row.split('|').nth(1).unwrap();
        for name in first.split('`').skip(1).step_by(2) {
            assert!(
                !h["Parameters"][name].is_null(),
                "the guide names a parameter the hub does not have: {name}"
            );
        }
    }
}

/// Whether each value passes the parameter's `AllowedPattern` (a whole match, as CloudFormation
/// applies it) and its length bounds, evaluated by Python's `re`.
fn template_accepts(param: &Value, values: &[String]) -> Vec<bool> {
    let script = r#"
import json, re, sys
p = json.load(sys.stdin)
out = []
for v in p["values"]:
    ok = p["pattern"] is None or re.fullmatch(p["pattern"], v, re.S) is not None
    ok = ok and (p["max"] is None or len(v) <= p["max"]) and (p["min"] is None or len(v) >= p["min"])
    out.append(ok)
print(json.dumps(out))
"#;
    let input = json!({
        "pattern": param["AllowedPattern"].as_str(),
        "max": param["MaxLength"].as_u64(),
        "min": param["MinLength"].as_u64(),
        "values": values,
    });
    let mut child = Command::new(python())
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run python");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Whether the function accepts `value` for `variable` (the other organization settings unset).
fn function_accepts(variable: &str, value: &str) -> bool {
    match org::settings_from_lookup(|k| (k == variable).then(|| value.to_string())) {
        Ok(_) => true,
        Err(e) => {
            assert!(
                e.problems.iter().all(|p| p.variable == variable),
                "{variable}={value}: {e}"
            );
            false
        }
    }
}

/// A stack never deploys a setting every run would refuse: whatever a parameter's pattern lets
/// through, the function accepts (the function may accept more: spaces after commas, a prefix
/// without its final /).
#[test]
fn the_organization_parameters_let_through_only_what_the_function_accepts() {
    let h = hub();
    let long = |c: &str, n: usize| c.repeat(n);
    let ous = vec![
        "".to_string(),
        "ou-ab12-abcdefgh".into(),
        "r-ab12".into(),
        "ou-ab12-abcdefgh,ou-cd34-ijklmnop".into(),
        "ou-ab12-abcdefgh, r-ab12".into(),
        "finance".into(),
        "ou-AB12-abcdefgh".into(),
        "ou-ab12-abcdefgh,".into(),
    ];
    let accounts = vec![
        "".to_string(),
        "111122223333".into(),
        "111122223333,444455556666".into(),
        "11112222333".into(),
        "111122223333,".into(),
        "1111222233334".into(),
        "abc".into(),
    ];
    let cases: Vec<(&str, &str, Vec<String>)> = vec![
        (
            "MEMBER_ROLE_NAME",
            "MemberRoleName",
            vec![
                "iam-sweeper-member".into(),
                "a".into(),
                long("r", 64),
                long("r", 65),
                "has space".into(),
                "role/path".into(),
            ],
        ),
        (
            "MEMBER_EXTERNAL_ID",
            "MemberExternalId",
            vec![
                "".into(),
                "a".into(),
                "ab".into(),
                "3b9f6c1e-sweeper".into(),
                "a:b/c@d=e,f.g_h+i".into(),
                long("x", 1224),
                long("x", 1225),
                "has space".into(),
            ],
        ),
        ("ORG_INCLUDE_OUS", "IncludeOus", ous.clone()),
        ("ORG_EXCLUDE_OUS", "ExcludeOus", ous),
        ("ORG_INCLUDE_ACCOUNTS", "IncludeAccounts", accounts.clone()),
        ("ORG_EXCLUDE_ACCOUNTS", "ExcludeAccounts", accounts),
        (
            "ORG_EXCLUDE_TAG",
            "ExcludeTag",
            vec![
                "".into(),
                "iam-sweeper:skip".into(),
                "iam-sweeper:skip=true".into(),
                "k=".into(),
                "=v".into(),
                " =v".into(),
                long("k", 128),
                long("k", 129),
                format!("{}={}", long("k", 128), long("v", 256)),
            ],
        ),
        (
            "ORG_PREFIX",
            "Prefix",
            vec![
                "".into(),
                "iam-sweeper/".into(),
                "a/b/".into(),
                "a".into(),
                "/a/".into(),
                "a//".into(),
                "a b/".into(),
            ],
        ),
    ];
    for (variable, param, values) in cases {
        let p = &h["Parameters"][param];
        assert!(!p.is_null(), "{param}");
        let default = scalar(&p["Default"]).unwrap();
        assert!(function_accepts(variable, &default), "{param}: Default");
        let mut values = values;
        values.push(default);
        let by_template = template_accepts(p, &values);
        assert_eq!(
            by_template.last(),
            Some(&true),
            "{param}: the template refuses its own default"
        );
        let mut any_refused = false;
        for (v, ok) in values.iter().zip(by_template) {
            if ok {
                assert!(
                    function_accepts(variable, v),
                    "{param} lets `{v}` through, which the function refuses ({variable})"
                );
            } else {
                any_refused = true;
            }
        }
        assert!(
            any_refused,
            "{param}: no sample was refused; is there a pattern?"
        );
    }
}
