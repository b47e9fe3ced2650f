//! The SAM template (`template.yaml`) against the code: least-privilege role, no drift between the
//! function's environment and `config::VARIABLES`, parameter bounds equal to what the binary
//! accepts, the runtime and the async-invocation settings, the alarms and the metrics they watch.

use std::collections::{BTreeMap, BTreeSet};

use iam_sweeper::core::config::{self, VARIABLES};
use iam_sweeper::render::metrics;
use serde_yaml::Value;

use crate::support::cfn::{
    is_ref, is_topic_arn, resource, resources_of_type, scalar, strings, tagged,
};

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml");
    let text = std::fs::read_to_string(path).expect("read template.yaml");
    serde_yaml::from_str(&text).expect("template.yaml is YAML")
}

fn function(t: &Value) -> &Value {
    let fns = resources_of_type(t, "AWS::Serverless::Function");
    assert_eq!(fns.len(), 1, "one function");
    fns[0].1
}

/// The role's statements; a statement under `!If [cond, statement, !Ref AWS::NoValue]` counts.
fn statements(t: &Value) -> Vec<Value> {
    let role = resource(t, "FunctionRole");
    assert_eq!(role["Type"], "AWS::IAM::Role");
    let mut out = Vec::new();
    for policy in role["Properties"]["Policies"]
        .as_sequence()
        .expect("Policies")
    {
        for s in policy["PolicyDocument"]["Statement"]
            .as_sequence()
            .expect("Statement")
        {
            match tagged(s) {
                Some((tag, args)) if tag == "If" => {
                    for branch in args.as_sequence().expect("!If args").iter().skip(1) {
                        if branch.is_mapping() {
                            out.push(branch.clone());
                        } else {
                            assert!(is_ref(branch, "AWS::NoValue"), "{branch:?}");
                        }
                    }
                }
                _ => out.push(s.clone()),
            }
        }
    }
    assert!(
        role["Properties"]["ManagedPolicyArns"].is_null(),
        "no managed policies: every permission is listed in the template"
    );
    out
}

const REPORT_ACTIONS: [&str; 2] = ["iam:GenerateCredentialReport", "iam:GetCredentialReport"];

/// The live re-check and the actions, on IAM users only (AWS facts: least privilege).
const USER_ACTIONS: [&str; 8] = [
    "iam:ListAccessKeys",
    "iam:GetAccessKeyLastUsed",
    "iam:GetUser",
    "iam:GetLoginProfile",
    "iam:ListUserTags",
    "iam:UpdateAccessKey",
    "iam:DeleteAccessKey",
    "iam:DeleteLoginProfile",
];

/// The account-wide reads that replace per-user reads on nights with many findings; granted only
/// when the `PagedReads` parameter allows them (see `paged_reads_are_granted_only_when_allowed`).
const PAGED_ACTIONS: [&str; 1] = ["iam:GetAccountAuthorizationDetails"];

/// Security Hub: import findings and list this tool's open ones; granted only when the
/// `SecurityHub` parameter is on (see `security_hub_is_granted_only_when_on`).
const HUB_ACTIONS: [&str; 2] = ["securityhub:BatchImportFindings", "securityhub:GetFindings"];

/// Everything else the function may do: publish the summary (and use the topic's key), send a
/// failed event to its queue, write its logs, write and read its journal, mail owners.
const OTHER_ACTIONS: [&str; 10] = [
    "s3:PutObject",
    "s3:GetObject",
    "s3:ListBucket",
    "ses:SendEmail",
    "sns:Publish",
    "kms:GenerateDataKey",
    "kms:Decrypt",
    "sqs:SendMessage",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
];

#[test]
fn the_role_grants_exactly_the_needed_actions() {
    let t = template();
    let mut iam_actions = BTreeSet::new();
    for s in statements(&t) {
        assert_eq!(s["Effect"], "Allow");
        assert!(s["NotAction"].is_null() && s["NotResource"].is_null());
        let actions = strings(&s["Action"]);
        assert!(!actions.is_empty(), "{s:?}");
        for a in &actions {
            assert!(!a.contains('*'), "wildcard action {a}");
            if a.starts_with("iam:") {
                assert!(iam_actions.insert(a.clone()), "{a} granted twice");
            } else if HUB_ACTIONS.contains(&a.as_str()) {
                assert_eq!(actions.len(), 1, "{a} in a statement of its own");
            } else {
                assert!(OTHER_ACTIONS.contains(&a.as_str()), "unexpected action {a}");
            }
        }
        let resource = &s["Resource"];
        if actions.iter().any(|a| REPORT_ACTIONS.contains(&a.as_str())) {
            // The credential report has no resource ARN.
            let mut got = actions.clone();
            got.sort();
            let mut want: Vec<String> = REPORT_ACTIONS.iter().map(|a| a.to_string()).collect();
            want.sort();
            assert_eq!(got, want, "only the report actions on Resource \"*\"");
            assert_eq!(resource.as_str(), Some("*"));
        } else if actions.iter().any(|a| PAGED_ACTIONS.contains(&a.as_str())) {
            // Neither call has a narrower resource.
            let got: BTreeSet<&str> = actions.iter().map(String::as_str).collect();
            assert_eq!(
                got,
                PAGED_ACTIONS.into_iter().collect(),
                "only the paged reads"
            );
            assert_eq!(resource.as_str(), Some("*"));
        } else if actions.iter().any(|a| HUB_ACTIONS.contains(&a.as_str())) {
            // Checked in security_hub_is_granted_only_when_on.
        } else if actions.iter().any(|a| a.starts_with("iam:")) {
            assert!(
                actions.iter().all(|a| USER_ACTIONS.contains(&a.as_str())),
                "{actions:?}"
            );
            let (tag, arn) = tagged(resource).expect("a !Sub user ARN");
            assert_eq!(tag, "Sub");
            assert_eq!(
                arn.as_str(),
                Some("arn:${AWS::Partition}:iam::${AWS::AccountId}:user/*"),
                "users of this account, in this partition"
            );
        } else {
            assert_ne!(
                resource.as_str(),
                Some("*"),
                "{actions:?} on every resource"
            );
            if actions.contains(&"sns:Publish".to_string()) {
                assert!(is_topic_arn(resource), "sns:Publish on the topic only");
            }
        }
    }
    let want: BTreeSet<String> = REPORT_ACTIONS
        .iter()
        .chain(USER_ACTIONS.iter())
        .chain(PAGED_ACTIONS.iter())
        .map(|a| a.to_string())
        .collect();
    assert_eq!(iam_actions, want);

    let f = function(&t);
    let role = &f["Properties"]["Role"];
    let (tag, target) = tagged(role).expect("Role: !GetAtt FunctionRole.Arn");
    assert_eq!(
        (tag.as_str(), target.as_str()),
        ("GetAtt", Some("FunctionRole.Arn"))
    );
    assert!(
        f["Properties"]["Policies"].is_null(),
        "no SAM policy templates beside the explicit role"
    );
}

#[test]
fn security_hub_is_granted_only_when_on() {
    let t = template();
    let role = resource(&t, "FunctionRole");
    let conditional: Vec<(&Value, &Value)> =
        role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            .as_sequence()
            .expect("Statement")
            .iter()
            .filter_map(|s| {
                let (tag, args) = tagged(s)?;
                let sid = args[1]["Sid"].as_str()?;
                (tag == "If" && sid.starts_with("SecurityHub")).then_some((&args[0], &args[1]))
            })
            .collect();
    assert_eq!(conditional.len(), 2, "import and list, each under !If");
    let mut granted = Vec::new();
    for (cond, st) in conditional {
        assert_eq!(cond.as_str(), Some("EnableSecurityHub"));
        granted.extend(strings(&st["Action"]));
    }
    granted.sort();
    assert_eq!(granted, HUB_ACTIONS);
    let (tag, cond) = tagged(&t["Conditions"]["EnableSecurityHub"]).expect("!Equals");
    assert_eq!(tag, "Equals");
    assert!(is_ref(&cond[0], "SecurityHub"));
    assert_eq!(cond[1].as_str(), Some("true"));
    assert!(is_ref(&environment(&t)["SECURITY_HUB"], "SecurityHub"));
    assert_eq!(
        scalar(&t["Parameters"]["SecurityHub"]["Default"]).as_deref(),
        Some("false"),
        "off by default"
    );
}

#[test]
fn paged_reads_are_granted_only_when_allowed() {
    let t = template();
    let role = resource(&t, "FunctionRole");
    let conditional: Vec<&Value> = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        .as_sequence()
        .expect("Statement")
        .iter()
        .filter(|s| {
            tagged(s).is_some_and(|(tag, args)| {
                tag == "If" && args[1]["Sid"].as_str() == Some("PagedReads")
            })
        })
        .collect();
    assert_eq!(conditional.len(), 1, "one PagedReads statement, under !If");
    let (_, args) = tagged(conditional[0]).unwrap();
    assert_eq!(args[0].as_str(), Some("AllowPagedReads"));
    assert!(
        is_ref(&args[2], "AWS::NoValue"),
        "nothing granted otherwise"
    );
    let (tag, cond) = tagged(&t["Conditions"]["AllowPagedReads"]).expect("!Equals");
    assert_eq!(tag, "Equals");
    assert!(is_ref(&cond[0], "PagedReads"));
    assert_eq!(cond[1].as_str(), Some("true"));
    // The binary is told the same thing, so it never makes a call the role refuses.
    assert!(is_ref(&environment(&t)["PAGED_READS"], "PagedReads"));
    let p = &t["Parameters"]["PagedReads"];
    assert_eq!(strings(&p["AllowedValues"]), ["true", "false"]);
    assert_eq!(
        scalar(&p["Default"]).as_deref(),
        Some("false"),
        "by default the role holds only the per-user reads"
    );
}

/// Environment variable → template parameter.
fn environment(t: &Value) -> BTreeMap<String, Value> {
    function(t)["Properties"]["Environment"]["Variables"]
        .as_mapping()
        .expect("Environment.Variables")
        .iter()
        .map(|(k, v)| (k.as_str().expect("variable name").to_string(), v.clone()))
        .collect()
}

#[test]
fn the_environment_is_exactly_config_variables() {
    let t = template();
    let env = environment(&t);
    let set: BTreeSet<&str> = env.keys().map(String::as_str).collect();
    let want: BTreeSet<&str> = VARIABLES.iter().copied().collect();
    assert_eq!(set, want, "template environment vs config::VARIABLES");
    for (name, value) in &env {
        if name == "SNS_TOPIC_ARN" {
            assert!(is_topic_arn(value), "SNS_TOPIC_ARN: the topic condition");
            continue;
        }
        if name == "JOURNAL_BUCKET" {
            assert!(
                is_journal_bucket(value),
                "JOURNAL_BUCKET: the journal condition"
            );
            continue;
        }
        let (tag, param) = tagged(value).unwrap_or_else(|| panic!("{name} is not a !Ref"));
        assert_eq!(tag, "Ref", "{name}");
        let param = param.as_str().expect("parameter name");
        assert!(
            !t["Parameters"][param].is_null(),
            "{name} refers to a missing parameter {param}"
        );
    }
}

/// Whether the binary accepts `value` for `variable` (a companion threshold set so that only this
/// variable is judged).
fn accepted(variable: &str, value: &str) -> bool {
    let mut vars: BTreeMap<&str, String> = BTreeMap::new();
    vars.insert(variable, value.to_string());
    match variable {
        "STALE_AFTER_DAYS" => vars.insert("DISABLE_AFTER_DAYS", "36500".into()),
        "DISABLE_AFTER_DAYS" => vars.insert("STALE_AFTER_DAYS", "1".into()),
        "QUARANTINE_DAYS" | "DELETE_DEACTIVATED_AFTER_DAYS" | "JOURNAL_PREFIX" => {
            vars.insert("JOURNAL_BUCKET", "journal-bucket".into())
        }
        _ => None,
    };
    match config::from_lookup(|k| vars.get(k).cloned()) {
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

#[test]
fn parameter_bounds_match_what_the_binary_accepts() {
    let t = template();
    let params = &t["Parameters"];
    for (name, value) in environment(&t) {
        if name == "SNS_TOPIC_ARN" || name == "JOURNAL_BUCKET" {
            continue;
        }
        let (_, param) = tagged(&value).expect("!Ref");
        let p = &params[param.as_str().expect("parameter name")];
        let default = scalar(&p["Default"]).unwrap_or_else(|| panic!("{name}: no Default"));
        assert!(accepted(&name, &default), "{name}: Default {default}");
        match p["Type"].as_str() {
            Some("Number") => {
                let min = p["MinValue"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("{name}: MinValue"));
                let max = p["MaxValue"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("{name}: MaxValue"));
                assert!(accepted(&name, &min.to_string()), "{name}: MinValue {min}");
                assert!(accepted(&name, &max.to_string()), "{name}: MaxValue {max}");
                if min > 0 {
                    assert!(
                        !accepted(&name, &(min - 1).to_string()),
                        "{name}: below MinValue"
                    );
                }
                if name == "REPORT_WAIT_SECONDS" {
                    // Stricter than the binary on purpose: the longest wait must end well before
                    // the shortest timeout (report_wait_ends_well_before_the_shortest_timeout).
                    assert!(max < 900, "{name}: MaxValue {max}");
                } else {
                    assert!(
                        !accepted(&name, &(max + 1).to_string()),
                        "{name}: above MaxValue"
                    );
                }
            }
            Some("String") => {
                let allowed = strings(&p["AllowedValues"]);
                for v in &allowed {
                    assert!(accepted(&name, v), "{name}: AllowedValue {v}");
                }
                if !allowed.is_empty() {
                    assert!(
                        !accepted(&name, "bogus"),
                        "{name}: a value outside AllowedValues"
                    );
                }
                if let Some(max) = p["MaxLength"].as_u64() {
                    let too_long = "k".repeat(max as usize + 1);
                    assert!(!accepted(&name, &too_long), "{name}: MaxLength {max}");
                }
            }
            other => panic!("{name}: parameter type {other:?}"),
        }
    }
}

#[test]
fn parameter_defaults_are_the_binary_defaults() {
    let t = template();
    let params = &t["Parameters"];
    let vars: BTreeMap<String, String> = environment(&t)
        .into_iter()
        // The topic and the journal's bucket are the stack's own resources.
        .filter(|(name, _)| name != "SNS_TOPIC_ARN" && name != "JOURNAL_BUCKET")
        .map(|(name, v)| {
            let (_, param) = tagged(&v).expect("!Ref");
            let p = &params[param.as_str().expect("parameter name")];
            (name, scalar(&p["Default"]).unwrap_or_default())
        })
        .collect();
    let from_template = config::from_lookup(|k| vars.get(k).cloned()).expect("defaults are valid");
    let built_in = config::from_lookup(|_| None).expect("built-in defaults");
    assert_eq!(from_template, built_in);
}

#[test]
fn mode_defaults_to_report() {
    let t = template();
    let mode = &t["Parameters"]["Mode"];
    assert_eq!(mode["Default"], "report");
    assert_eq!(strings(&mode["AllowedValues"]), ["report", "enforce"]);
    assert!(is_ref(&environment(&t)["MODE"], "Mode"));
}

#[test]
fn a_failed_run_is_not_retried_and_goes_to_a_destination() {
    let t = template();
    let config = &function(&t)["Properties"]["EventInvokeConfig"];
    assert_eq!(config["MaximumRetryAttempts"].as_u64(), Some(0));
    let on_failure = &config["DestinationConfig"]["OnFailure"];
    assert_eq!(on_failure["Type"], "SQS");
    let (tag, target) = tagged(&on_failure["Destination"]).expect("!GetAtt");
    assert_eq!(
        (tag.as_str(), target.as_str()),
        ("GetAtt", Some("DeadLetterQueue.Arn"))
    );
    let queue = &resource(&t, "DeadLetterQueue")["Properties"];
    assert_eq!(
        queue["SqsManagedSseEnabled"], true,
        "the queue is encrypted"
    );
}

#[test]
fn runtime_architecture_and_handler() {
    let t = template();
    assert_eq!(t["Transform"], "AWS::Serverless-2016-10-31");
    let f = function(&t);
    assert_eq!(f["Metadata"]["BuildMethod"], "rust-cargolambda");
    assert_eq!(f["Metadata"]["BuildProperties"]["Binary"], "iam-sweeper");
    let p = &f["Properties"];
    assert_eq!(p["Runtime"], "provided.al2023");
    assert_eq!(strings(&p["Architectures"]), ["arm64"]);
    assert_eq!(p["Handler"], "bootstrap");
    assert_eq!(p["MemorySize"].as_u64(), Some(128));
    assert!(is_ref(&p["Timeout"], "Timeout"));
    let timeout = &t["Parameters"]["Timeout"];
    assert_eq!(timeout["Default"].as_u64(), Some(300));
    assert_eq!(timeout["MaxValue"].as_u64(), Some(900));
    assert_eq!(p["LoggingConfig"]["LogFormat"], "JSON");
    assert!(is_ref(&p["LoggingConfig"]["LogGroup"], "LogGroup"));
    let group = &resource(&t, "LogGroup")["Properties"];
    assert!(is_ref(&group["RetentionInDays"], "LogRetentionInDays"));
    assert_eq!(
        t["Parameters"]["LogRetentionInDays"]["Default"].as_u64(),
        Some(90)
    );

    let events = p["Events"].as_mapping().expect("Events");
    assert_eq!(events.len(), 1);
    let (_, schedule) = events.iter().next().unwrap();
    assert_eq!(schedule["Type"], "ScheduleV2");
    assert!(is_ref(
        &schedule["Properties"]["ScheduleExpression"],
        "ScheduleExpression"
    ));
    assert!(is_ref(
        &schedule["Properties"]["ScheduleExpressionTimezone"],
        "ScheduleTimezone"
    ));
    assert_eq!(
        t["Parameters"]["ScheduleExpression"]["Default"],
        "cron(0 2 * * ? *)"
    );
    assert_eq!(t["Parameters"]["ScheduleTimezone"]["Default"], "UTC");
}

/// `!GetAtt target` (either spelling) as "Resource.Attribute".
fn get_att(v: &Value) -> Option<String> {
    let (tag, target) = tagged(v)?;
    if tag != "GetAtt" {
        return None;
    }
    match target {
        Value::String(s) => Some(s.clone()),
        Value::Sequence(parts) => Some(strings(&Value::Sequence(parts.clone())).join(".")),
        _ => None,
    }
}

/// `!Condition name` / `!Not [...]` and the like: (function, argument).
fn condition_fn(v: &Value) -> (String, &Value) {
    tagged(v).unwrap_or_else(|| panic!("a condition function: {v:?}"))
}

#[test]
fn the_topic_is_encrypted_and_either_created_or_given() {
    let t = template();
    let topic = resource(&t, "Topic");
    assert_eq!(topic["Condition"], "CreateTopic");
    let key = &topic["Properties"]["KmsMasterKeyId"];
    let (tag, args) = tagged(key).expect("!If [HasTopicKmsKey, key, the stack's key]");
    assert_eq!(tag, "If");
    assert_eq!(args[0], "HasTopicKmsKey");
    assert!(is_ref(&args[1], "TopicKmsKeyArn"));
    assert_eq!(get_att(&args[2]).as_deref(), Some("TopicKey.Arn"));
    let sub = resource(&t, "EmailSubscription");
    assert_eq!(sub["Condition"], "SubscribeEmail");
    assert!(is_ref(&sub["Properties"]["Endpoint"], "AlertEmail"));
    assert_eq!(t["Parameters"]["ExistingTopicArn"]["Default"], "");
    assert!(is_topic_arn(&t["Outputs"]["TopicArn"]["Value"]));
    assert!(is_ref(&t["Outputs"]["FunctionName"]["Value"], "Function"));
}

/// The dimensions the custom-metric alarms watch, as (name, value): this stack's function and the
/// enforcing runs. The binary's EMF line must have exactly this dimension set
/// (`deploy::the_binary_writes_the_dimensions_the_alarms_watch`).
pub(crate) const ALARM_DIMENSIONS: [&str; 2] = ["FunctionName", metrics::DIMENSION];

#[test]
fn alarms_notify_the_topic_and_watch_metrics_the_binary_writes() {
    let t = template();
    let alarms = resources_of_type(&t, "AWS::CloudWatch::Alarm");
    let mut custom = BTreeSet::new();
    let mut lambda_metrics = BTreeSet::new();
    for (name, alarm) in alarms {
        let p = &alarm["Properties"];
        let actions = p["AlarmActions"].as_sequence().expect("AlarmActions");
        assert!(
            actions.iter().all(is_topic_arn),
            "{name} notifies the topic"
        );
        let dims = p["Dimensions"].as_sequence().expect("Dimensions");
        let dim = |d: &str| {
            dims.iter()
                .find(|x| x["Name"] == d)
                .map(|x| &x["Value"])
                .unwrap_or_else(|| panic!("{name}: no {d} dimension"))
        };
        // Every alarm watches this stack's function only: another stack's runs in the same
        // account and region never fire it.
        assert!(is_ref(dim("FunctionName"), "Function"), "{name}");
        match p["Namespace"].as_str() {
            Some("AWS/Lambda") => {
                assert_eq!(dims.len(), 1, "{name}: FunctionName only");
                lambda_metrics.insert(p["MetricName"].as_str().expect("MetricName").to_string());
            }
            Some(ns) => {
                assert_eq!(ns, metrics::NAMESPACE, "{name}");
                let metric = p["MetricName"].as_str().expect("MetricName").to_string();
                assert!(
                    metrics::count_metrics().any(|(_, m)| m == metric.as_str()),
                    "{name} watches {metric}, which the binary does not write"
                );
                let names: BTreeSet<&str> =
                    dims.iter().filter_map(|d| d["Name"].as_str()).collect();
                assert_eq!(names, BTreeSet::from(ALARM_DIMENSIONS), "{name}");
                assert_eq!(dim(metrics::DIMENSION), "enforce", "{name}");
                custom.insert(metric);
            }
            None => panic!("{name}: no namespace"),
        }
    }
    assert_eq!(
        lambda_metrics,
        BTreeSet::from(["Errors".to_string(), "Invocations".to_string()]),
        "alarms on the function's errors and on a night without a run"
    );
    assert_eq!(
        custom,
        BTreeSet::from(["ActionsFailed".to_string(), "ActionsNotTaken".to_string()])
    );
}

/// Two stacks in one account and region must not collide: SAM names a `ScheduleV2` schedule after
/// its logical ID (`FunctionNightly`) unless told to omit the name, and EventBridge Scheduler
/// refuses a second schedule of that name (`ConflictException`). Deployed twice in
/// `deploy::the_translated_template_deploys_twice_in_one_account`.
#[test]
fn the_schedule_has_a_generated_name() {
    let t = template();
    let events = function(&t)["Properties"]["Events"]
        .as_mapping()
        .expect("Events");
    for (name, event) in events {
        let p = &event["Properties"];
        assert_eq!(p["OmitName"], true, "{name:?}: OmitName: true");
        assert!(p["Name"].is_null(), "{name:?}: no fixed Name");
    }
}

/// CloudWatch alarms can publish to an encrypted topic only if its key lets
/// `cloudwatch.amazonaws.com` use it, which `alias/aws/sns` cannot: a created topic is encrypted
/// with a key the stack creates, with that permission, unless the operator brings one.
#[test]
fn the_topic_key_lets_cloudwatch_alarms_publish() {
    let t = template();
    fn mentions(v: &Value, what: &str) -> bool {
        match v {
            Value::String(s) => s == what,
            Value::Sequence(items) => items.iter().any(|i| mentions(i, what)),
            Value::Mapping(m) => m.values().any(|i| mentions(i, what)),
            Value::Tagged(t) => mentions(&t.value, what),
            _ => false,
        }
    }
    assert!(
        !mentions(&t["Resources"], "alias/aws/sns"),
        "the AWS managed key is never used: alarms could not publish"
    );

    // TopicKey exists exactly when the stack creates the topic and no key is given.
    let key = resource(&t, "TopicKey");
    assert_eq!(key["Type"], "AWS::KMS::Key");
    assert_eq!(key["Condition"], "CreateTopicKey");
    let (f, args) = condition_fn(&t["Conditions"]["CreateTopicKey"]);
    assert_eq!(f, "And");
    let args = args.as_sequence().expect("!And [...]");
    assert_eq!(args.len(), 2);
    let (f0, c0) = condition_fn(&args[0]);
    assert_eq!(
        (f0.as_str(), c0.as_str()),
        ("Condition", Some("CreateTopic"))
    );
    let (f1, not) = condition_fn(&args[1]);
    assert_eq!(f1, "Not");
    let (f2, c2) = condition_fn(&not[0]);
    assert_eq!(
        (f2.as_str(), c2.as_str()),
        ("Condition", Some("HasTopicKmsKey"))
    );
    assert_eq!(key["Properties"]["EnableKeyRotation"], true);

    // Its policy: CloudWatch may use it; the account administers it and delegates its use to
    // IAM policies (the function's role).
    let statements = key["Properties"]["KeyPolicy"]["Statement"]
        .as_sequence()
        .expect("KeyPolicy.Statement");
    let cloudwatch: Vec<&Value> = statements
        .iter()
        .filter(|s| s["Principal"]["Service"] == "cloudwatch.amazonaws.com")
        .collect();
    assert_eq!(cloudwatch.len(), 1, "one statement for CloudWatch alarms");
    let s = cloudwatch[0];
    assert_eq!(s["Effect"], "Allow");
    assert!(
        s["Condition"].is_null(),
        "unconditional: alarms must always be able to publish"
    );
    let actions: BTreeSet<String> = strings(&s["Action"]).into_iter().collect();
    assert_eq!(
        actions,
        BTreeSet::from([
            "kms:Decrypt".to_string(),
            "kms:GenerateDataKey*".to_string()
        ])
    );
    assert_eq!(s["Resource"], "*");
    let account: Vec<&Value> = statements
        .iter()
        .filter(|s| {
            tagged(&s["Principal"]["AWS"]).is_some_and(|(tag, v)| {
                tag == "Sub"
                    && v.as_str() == Some("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")
            })
        })
        .collect();
    assert_eq!(account.len(), 1, "the account's own statement");
    assert_eq!(account[0]["Action"], "kms:*");
    assert_eq!(statements.len(), 2, "nobody else");

    // The function may use whichever key encrypts the topic.
    let role = resource(&t, "FunctionRole");
    let encryption: Vec<(&Value, &Value)> =
        role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            .as_sequence()
            .expect("Statement")
            .iter()
            .filter_map(|s| {
                let (tag, args) = tagged(s)?;
                (tag == "If" && args[1]["Sid"] == "SummaryEncryption")
                    .then_some((&args[0], &args[1]))
            })
            .collect();
    assert_eq!(
        encryption.len(),
        1,
        "one SummaryEncryption statement, under !If"
    );
    let (cond, st) = encryption[0];
    assert_eq!(cond.as_str(), Some("UsesTopicKey"));
    let (tag, args) = tagged(&st["Resource"]).expect("!If [HasTopicKmsKey, given, created]");
    assert_eq!(tag, "If");
    assert_eq!(args[0], "HasTopicKmsKey");
    assert!(is_ref(&args[1], "TopicKmsKeyArn"));
    assert_eq!(get_att(&args[2]).as_deref(), Some("TopicKey.Arn"));
    let (f, ors) = condition_fn(&t["Conditions"]["UsesTopicKey"]);
    assert_eq!(f, "Or");
    let names: BTreeSet<String> = ors
        .as_sequence()
        .expect("!Or [...]")
        .iter()
        .map(|c| {
            let (f, name) = condition_fn(c);
            assert_eq!(f, "Condition");
            name.as_str().expect("condition name").to_string()
        })
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["HasTopicKmsKey".to_string(), "CreateTopicKey".to_string()])
    );
}

/// The report wait can never outlast the function: the longest `ReportWaitSeconds` leaves, under
/// the shortest `Timeout`, the publish reserve and one call at its full timeout. (At run time the
/// wait is also cut to the time left before the deadline:
/// `deploy::the_report_wait_is_bounded_by_the_deadline_at_run_time`.)
#[test]
fn report_wait_ends_well_before_the_shortest_timeout() {
    use iam_sweeper::app::budget::{CALL_TIMEOUT, PUBLISH_RESERVE};
    let t = template();
    let wait = &t["Parameters"]["ReportWaitSeconds"];
    let timeout = &t["Parameters"]["Timeout"];
    let longest_wait = wait["MaxValue"]
        .as_u64()
        .expect("ReportWaitSeconds MaxValue");
    let shortest_timeout = timeout["MinValue"].as_u64().expect("Timeout MinValue");
    let margin = (PUBLISH_RESERVE + CALL_TIMEOUT).as_secs();
    assert!(
        longest_wait + margin <= shortest_timeout,
        "ReportWaitSeconds up to {longest_wait} s with Timeout from {shortest_timeout} s leaves \
         less than {margin} s to act and publish"
    );
    assert!(
        wait["AllowedValues"].is_null() && timeout["AllowedValues"].is_null(),
        "plain bounds, which CloudFormation checks before anything is created"
    );
    let default_wait = wait["Default"].as_u64().expect("Default");
    let default_timeout = timeout["Default"].as_u64().expect("Default");
    assert!(default_wait + margin <= default_timeout);
    assert!(accepted("REPORT_WAIT_SECONDS", &longest_wait.to_string()));
}

/// A night without a run says so: nothing else fires when the schedule never invokes the
/// function (no run, no error, no metric).
#[test]
fn a_night_without_a_run_alarms() {
    let t = template();
    let alarms: Vec<(&str, &Value)> = resources_of_type(&t, "AWS::CloudWatch::Alarm")
        .into_iter()
        .filter(|(_, a)| a["Properties"]["MetricName"] == "Invocations")
        .collect();
    assert_eq!(alarms.len(), 1, "one alarm on the function's invocations");
    let (name, alarm) = alarms[0];
    let p = &alarm["Properties"];
    assert_eq!(p["Namespace"], "AWS/Lambda", "{name}");
    assert_eq!(p["Statistic"], "Sum");
    let period = p["Period"].as_u64().expect("Period");
    let periods = p["EvaluationPeriods"].as_u64().expect("EvaluationPeriods");
    assert_eq!(period * periods, 86_400, "a day: the schedule runs nightly");
    assert_eq!(p["ComparisonOperator"], "LessThanThreshold");
    assert_eq!(p["Threshold"].as_u64(), Some(1));
    assert_eq!(
        p["TreatMissingData"], "breaching",
        "no data at all is exactly what a missed night looks like"
    );
    let dims = p["Dimensions"].as_sequence().expect("Dimensions");
    assert_eq!(dims.len(), 1);
    assert_eq!(dims[0]["Name"], "FunctionName");
    assert!(is_ref(&dims[0]["Value"], "Function"));
}

/// `!If [CreateJournal, !Ref JournalBucket, ""]`.
fn is_journal_bucket(v: &Value) -> bool {
    let Some((tag, args)) = tagged(v) else {
        return false;
    };
    let args = args.as_sequence().map(Vec::as_slice).unwrap_or_default();
    tag == "If"
        && args.len() == 3
        && args[0].as_str() == Some("CreateJournal")
        && is_ref(&args[1], "JournalBucket")
        && args[2].as_str() == Some("")
}

/// The statements whose actions include `action`.
fn granting(t: &Value, action: &str) -> Vec<Value> {
    statements(t)
        .into_iter()
        .filter(|s| strings(&s["Action"]).iter().any(|a| a == action))
        .collect()
}

#[test]
fn the_journal_bucket_is_versioned_encrypted_private_and_tls_only() {
    let t = template();
    let b = resource(&t, "JournalBucket");
    assert_eq!(b["Type"], "AWS::S3::Bucket");
    assert_eq!(b["Condition"], "CreateJournal");
    assert_eq!(
        b["DeletionPolicy"], "Retain",
        "the record outlives the stack"
    );
    let p = &b["Properties"];
    assert_eq!(p["VersioningConfiguration"]["Status"], "Enabled");
    assert!(
        !p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
            ["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
            .is_null()
    );
    for flag in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(p["PublicAccessBlockConfiguration"][flag], true, "{flag}");
    }
    // Lifecycle and Object Lock follow their parameters.
    let (_, lifecycle) = tagged(&p["LifecycleConfiguration"]).expect("!If");
    assert_eq!(lifecycle[0], "ExpireJournal");
    assert!(is_ref(
        &lifecycle[1]["Rules"][0]["ExpirationInDays"],
        "JournalRetentionDays"
    ));
    let (_, lock) = tagged(&p["ObjectLockConfiguration"]).expect("!If");
    assert_eq!(lock[0], "LockJournal");
    assert!(is_ref(
        &lock[1]["Rule"]["DefaultRetention"]["Days"],
        "JournalLockDays"
    ));
    // TLS only.
    let policy = resource(&t, "JournalBucketPolicy");
    let deny = &policy["Properties"]["PolicyDocument"]["Statement"][0];
    assert_eq!(deny["Effect"], "Deny");
    assert_eq!(deny["Condition"]["Bool"]["aws:SecureTransport"], "false");
}

#[test]
fn the_function_may_only_write_read_and_list_the_journal_prefix() {
    let t = template();
    for action in ["s3:PutObject", "s3:GetObject"] {
        let s = granting(&t, action);
        assert_eq!(s.len(), 1, "{action}");
        let (tag, arn) = tagged(&s[0]["Resource"]).expect("!Sub");
        assert_eq!(tag, "Sub");
        assert_eq!(arn.as_str(), Some("${JournalBucket.Arn}/${JournalPrefix}*"));
    }
    let list = granting(&t, "s3:ListBucket");
    assert_eq!(list.len(), 1);
    assert_eq!(strings(&list[0]["Action"]), vec!["s3:ListBucket"]);
    let (tag, prefix) = tagged(&list[0]["Condition"]["StringLike"]["s3:prefix"]).expect("!Sub");
    assert_eq!(
        (tag.as_str(), prefix.as_str()),
        ("Sub", Some("${JournalPrefix}*"))
    );
    let mail = granting(&t, "ses:SendEmail");
    assert_eq!(mail.len(), 1);
    assert!(is_ref(
        &mail[0]["Condition"]["StringEquals"]["ses:FromAddress"],
        "SenderEmail"
    ));
    // No other S3 or SES action anywhere.
    for s in statements(&t) {
        for a in strings(&s["Action"]) {
            if a.starts_with("s3:") || a.starts_with("ses:") {
                assert!(
                    [
                        "s3:PutObject",
                        "s3:GetObject",
                        "s3:ListBucket",
                        "ses:SendEmail"
                    ]
                    .contains(&a.as_str()),
                    "{a}"
                );
            }
        }
    }
}

#[test]
fn quarantine_without_the_journal_is_refused_by_a_rule() {
    let t = template();
    let rule = &t["Rules"]["QuarantineNeedsTheJournal"];
    assert!(!rule.is_null(), "the rule");
    let text = serde_yaml::to_string(rule).expect("YAML");
    for name in ["Journal", "QuarantineDays", "DeleteDeactivatedAfterDays"] {
        assert!(text.contains(name), "{name} in {text}");
    }
}
