//! Deploying for real, as a new operator does on day one: the template turned into plain
//! CloudFormation by SAM's own translator (the pinned SAM CLI's, in `.venv-tools`) for seven
//! parameter sets, each deployed twice, under two stack names, into one account of the emulator's
//! CloudFormation; the operator guide's commands; the Makefile's deployment targets; the
//! `samconfig.toml` example as the SAM CLI reads it; and the run-time bound of the report wait.
//!
//! The translator and the SAM CLI run with `IAM_SWEEPER_TOOLS_PYTHON` (set by `make test`;
//! default `.venv-tools/bin/python`, built by `make tools`); the emulator with the emulator's
//! Python (`support::emulator::python`). When either is missing the tests fail, they never skip.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::emulator::{Emulator, python};
use crate::support::proxy::Proxy;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The deployment tools' Python: the pinned SAM CLI and its translator.
fn tools_python() -> PathBuf {
    let p = std::env::var_os("IAM_SWEEPER_TOOLS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(ROOT).join(".venv-tools/bin/python"));
    assert!(
        p.exists(),
        "the deployment tools' Python is missing at {}: run `make tools` (make test builds it and \
         sets IAM_SWEEPER_TOOLS_PYTHON)",
        p.display()
    );
    p
}

/// Runs `tests/emulator/<script>` with `python` and returns its standard output; fails the test
/// with its standard error when it fails.
fn run_script(python: &Path, script: &str, args: &[&str]) -> String {
    let out = Command::new(python)
        .arg(Path::new(ROOT).join("tests/emulator").join(script))
        .args(args)
        .current_dir(ROOT)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {script} with {}: {e}", python.display()));
    assert!(
        out.status.success(),
        "{script} {args:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn json_of(text: &str, what: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{what} is not JSON ({e}):\n{text}"))
}

// ---------------------------------------------------------------------------------------------
// The template, translated and deployed twice into one account.
// ---------------------------------------------------------------------------------------------

const CODE_URI: &str = "s3://code/bootstrap.zip";
const STACKS: [&str; 2] = ["iam-sweeper", "iam-sweeper-b"];
const ACCOUNT: &str = "123456789012";
const OTHER_ACCOUNT_TOPIC: &str = "arn:aws:sns:us-east-1:111111111111:iam-sweeper";
const OTHER_ACCOUNT_KEY: &str =
    "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const OWN_KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/0987dcba-09fe-87dc-65ba-ab0987654321";

/// Resource types that are not checked in the emulator: none. moto 5.2.5's CloudFormation skips
/// `AWS::Scheduler::Schedule`, `AWS::CloudWatch::Alarm`, `AWS::SNS::Subscription`,
/// `AWS::S3::BucketPolicy` and `AWS::Lambda::EventInvokeConfig`; `tests/emulator/cfn_deploy.py` creates those through their
/// own APIs, with the properties moto's resolver gives for the stack, as CloudFormation would.
/// What the emulator does not check at all: that a key policy or an IAM policy allows a call
/// (moto does not enforce them), so the key policy's grant to CloudWatch is read back and
/// checked here, and an operator's own key (`TopicKmsKeyArn`) is not checked: its policy is theirs.
const NOT_CHECKED: [&str; 0] = [];

/// The seven parameter sets: (label, parameters).
fn parameter_sets() -> Vec<(&'static str, Value)> {
    vec![
        ("defaults", json!({})),
        (
            "enforce, email, exemptions",
            json!({"Mode": "enforce", "AlertEmail": "secops@example.com",
                   "ExemptUsers": "svc-*,break-glass", "CisVersion": "5.0.0", "MaxActions": "50"}),
        ),
        (
            "central topic with its key",
            json!({"ExistingTopicArn": OTHER_ACCOUNT_TOPIC, "TopicKmsKeyArn": OTHER_ACCOUNT_KEY}),
        ),
        (
            "central topic, no key",
            json!({"ExistingTopicArn": OTHER_ACCOUNT_TOPIC, "AlertEmail": "ignored@example.com"}),
        ),
        (
            "own key for the created topic",
            json!({"TopicKmsKeyArn": OWN_KEY, "AlertEmail": "secops@example.com"}),
        ),
        (
            "paged reads and Security Hub",
            json!({"Mode": "enforce", "PagedReads": "true", "SecurityHub": "true",
                   "Concurrency": "16"}),
        ),
        (
            "long runs, other schedule, other thresholds",
            json!({"Timeout": "900", "ReportWaitSeconds": "240",
                   "ScheduleExpression": "cron(30 3 ? * MON-FRI *)",
                   "ScheduleTimezone": "Europe/Paris", "LogRetentionInDays": "365",
                   "StaleAfterDays": "20", "DisableAfterDays": "45",
                   "InitialKeyAction": "deactivate", "DisableKeys": "false"}),
        ),
    ]
}

/// The template as SAM's translator makes it, with `params`.
fn translate(params: &Value) -> Value {
    let out = run_script(
        &tools_python(),
        "sam_translate.py",
        &["template.yaml", &params.to_string(), CODE_URI],
    );
    json_of(&out, "the translated template")
}

/// A parameter's value: given, else the template's default.
fn param(template: &Value, params: &Value, name: &str) -> String {
    match &params[name] {
        Value::String(s) => s.clone(),
        _ => match &template["Parameters"][name]["Default"] {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Null => panic!("parameter {name} has no default"),
            other => other.to_string(),
        },
    }
}

/// Evaluates a CloudFormation condition expression (JSON form) with the parameters.
fn condition(template: &Value, params: &Value, expr: &Value) -> bool {
    let value = |v: &Value| -> String {
        match v {
            Value::String(s) => s.clone(),
            Value::Object(o) if o.contains_key("Ref") => {
                param(template, params, o["Ref"].as_str().expect("Ref name"))
            }
            other => panic!("cannot evaluate {other} in a condition"),
        }
    };
    let obj = expr.as_object().expect("a condition function");
    let (f, args) = obj.iter().next().expect("one function");
    match f.as_str() {
        "Condition" => condition(
            template,
            params,
            &template["Conditions"][args.as_str().expect("condition name")],
        ),
        "Fn::Equals" => value(&args[0]) == value(&args[1]),
        "Fn::Not" => !condition(template, params, &args[0]),
        "Fn::And" => args
            .as_array()
            .expect("list")
            .iter()
            .all(|a| condition(template, params, a)),
        "Fn::Or" => args
            .as_array()
            .expect("list")
            .iter()
            .any(|a| condition(template, params, a)),
        other => panic!("condition function {other}"),
    }
}

/// The resources CloudFormation creates with `params`: logical ID → type.
fn expected_resources(template: &Value, params: &Value) -> BTreeMap<String, String> {
    template["Resources"]
        .as_object()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| {
            r["Condition"]
                .as_str()
                .is_none_or(|c| condition(template, params, &json!({ "Condition": c })))
        })
        .map(|(k, r)| (k.clone(), r["Type"].as_str().expect("Type").to_string()))
        .collect()
}

/// Whether a policy statement allows `principal` (a service) every one of `actions`.
fn allows_service(statement: &Value, service: &str, actions: &[&str]) -> bool {
    let principals = match &statement["Principal"]["Service"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        _ => vec![],
    };
    let granted: Vec<String> = match &statement["Action"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        _ => vec![],
    };
    let matches = |pattern: &str, action: &str| match pattern.strip_suffix('*') {
        Some(prefix) => action.starts_with(prefix),
        None => pattern == action,
    };
    statement["Effect"] == "Allow"
        && statement["Condition"].is_null()
        && statement["Resource"] == "*"
        && principals.iter().any(|p| p == service)
        && actions
            .iter()
            .all(|a| granted.iter().any(|g| matches(g, a)))
}

/// One stack's resources as created: logical ID → (type, physical ID, created by).
fn created(stack: &Value) -> BTreeMap<String, (String, String, String)> {
    let mut out = BTreeMap::new();
    for r in stack["resources"].as_array().expect("resources") {
        let logical = r["logical"].as_str().expect("logical").to_string();
        if let Some("cloudformation") = r["by"].as_str() {
            assert_eq!(r["status"], "CREATE_COMPLETE", "{logical}");
        }
        let prev = out.insert(
            logical.clone(),
            (
                r["type"].as_str().unwrap_or_default().to_string(),
                r["physical"].as_str().unwrap_or_default().to_string(),
                r["by"].as_str().unwrap_or_default().to_string(),
            ),
        );
        assert!(prev.is_none(), "{logical} created twice");
    }
    out
}

/// The test: every parameter set, two stacks in one account, every resource created, and what
/// each stack's resources say read back through the emulator's APIs.
#[test]
fn the_translated_template_deploys_twice_in_one_account() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sets = parameter_sets();
    let mut cases = Vec::new();
    let mut translated = Vec::new();
    for (label, params) in &sets {
        let t = translate(params);
        assert!(
            t.get("Transform").is_none() && t["Resources"].is_object(),
            "{label}: plain CloudFormation"
        );
        cases.push(json!({"label": label, "template": t, "parameters": params,
                          "stacks": STACKS}));
        translated.push(t);
    }
    let cases_path = dir.path().join("cases.json");
    std::fs::write(&cases_path, serde_json::to_vec(&cases).unwrap()).expect("write cases");
    let out = run_script(
        &python(),
        "cfn_deploy.py",
        &[cases_path.to_str().expect("UTF-8 path")],
    );
    let results = json_of(&out, "the deployment results");
    let results = results.as_array().expect("one result per case");
    assert_eq!(results.len(), sets.len());

    let mut failures = Vec::new();
    let mut by_api = BTreeSet::new();
    let mut created_count = 0;
    for (((label, params), t), result) in sets.iter().zip(&translated).zip(results) {
        let mut check = |ok: bool, what: String| {
            if !ok {
                failures.push(format!("{label}: {what}"));
            }
        };
        let want = expected_resources(t, params);
        let account = &result["account"];
        let mut functions = BTreeSet::new();
        for stack_name in STACKS {
            let stack = &result["stacks"][stack_name];
            if let Some(e) = stack["error"].as_str() {
                check(
                    false,
                    format!("{stack_name}: the stack was not created: {e}"),
                );
                continue;
            }
            for e in stack["api_errors"].as_array().into_iter().flatten() {
                check(false, format!("{stack_name}: {e}"));
            }
            for n in stack["not_checked"].as_array().into_iter().flatten() {
                let ty = n["type"].as_str().unwrap_or_default();
                check(
                    NOT_CHECKED.contains(&ty),
                    format!("{stack_name}: {ty} was neither created nor named as not checked"),
                );
            }
            let got = created(stack);
            created_count += got.len();
            let got_types: BTreeMap<String, String> = got
                .iter()
                .map(|(k, (ty, _, _))| (k.clone(), ty.clone()))
                .collect();
            check(
                got_types == want,
                format!("{stack_name}: created {got_types:?}, expected {want:?}"),
            );
            for (ty, by) in got.values().map(|(ty, _, by)| (ty, by)) {
                if by == "api" {
                    by_api.insert(ty.clone());
                }
            }
            let physical = |logical: &str| got.get(logical).map(|(_, p, _)| p.clone());
            let function = physical("Function").unwrap_or_default();
            functions.insert(function.clone());
            let function_arn = format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:{function}");
            let f = &account["functions"][&function_arn];

            // The settings reach the function.
            let env = &f["environment"];
            check(
                env["MODE"] == param(t, params, "Mode"),
                format!("{stack_name}: MODE {}", env["MODE"]),
            );
            check(
                f["timeout"].as_u64().map(|n| n.to_string()) == Some(param(t, params, "Timeout")),
                format!("{stack_name}: timeout {}", f["timeout"]),
            );
            check(
                env["REPORT_WAIT_SECONDS"].to_string().trim_matches('"')
                    == param(t, params, "ReportWaitSeconds"),
                format!(
                    "{stack_name}: REPORT_WAIT_SECONDS {}",
                    env["REPORT_WAIT_SECONDS"]
                ),
            );

            // Where the summary and the alarms go.
            let existing = param(t, params, "ExistingTopicArn");
            let topic = if existing.is_empty() {
                physical("Topic").unwrap_or_default()
            } else {
                existing.clone()
            };
            check(
                env["SNS_TOPIC_ARN"] == topic.as_str(),
                format!(
                    "{stack_name}: SNS_TOPIC_ARN {} vs {topic}",
                    env["SNS_TOPIC_ARN"]
                ),
            );

            // A failed run: not retried, its event to this stack's queue.
            let queue_url = physical("DeadLetterQueue").unwrap_or_default();
            let queue_arn = format!(
                "arn:aws:sqs:us-east-1:{ACCOUNT}:{}",
                queue_url.rsplit('/').next().unwrap_or_default()
            );
            let configs = f["event_invoke_configs"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            check(
                configs.len() == 1
                    && configs[0]["maximum_retry_attempts"] == 0
                    && configs[0]["on_failure"] == queue_arn.as_str(),
                format!("{stack_name}: event invoke config {configs:?} (queue {queue_arn})"),
            );

            // The log group is the stack's.
            check(
                account["log_groups"]
                    .as_array()
                    .is_some_and(|g| g.iter().any(|g| g == &format!("/aws/lambda/{stack_name}"))),
                format!("{stack_name}: no log group /aws/lambda/{stack_name}"),
            );

            // The schedule: generated name, this stack's function and role.
            let schedule_name = physical("FunctionNightly").unwrap_or_default();
            let schedules = account["schedules"].as_array().cloned().unwrap_or_default();
            let schedule = schedules
                .iter()
                .find(|s| s["name"] == schedule_name.as_str());
            check(
                schedule.is_some_and(|s| {
                    s["target"] == function_arn.as_str()
                        && s["expression"] == param(t, params, "ScheduleExpression")
                        && s["timezone"] == param(t, params, "ScheduleTimezone")
                        && s["state"] == "ENABLED"
                }),
                format!("{stack_name}: schedule {schedule_name}: {schedule:?}"),
            );
            check(
                schedule_name.starts_with(&format!("{stack_name}-")),
                format!("{stack_name}: schedule name {schedule_name} is not generated"),
            );

            // The alarms: this stack's function, this stack's topic.
            let alarm_names: BTreeSet<String> = got
                .values()
                .filter(|(ty, _, _)| ty == "AWS::CloudWatch::Alarm")
                .map(|(_, p, _)| p.clone())
                .collect();
            check(
                alarm_names.len() == 4,
                format!("{stack_name}: alarms {alarm_names:?}"),
            );
            for a in account["alarms"].as_array().into_iter().flatten() {
                let name = a["name"].as_str().unwrap_or_default();
                if !alarm_names.contains(name) {
                    continue;
                }
                check(
                    a["dimensions"]["FunctionName"] == function.as_str(),
                    format!(
                        "{name}: dimensions {} (function {function})",
                        a["dimensions"]
                    ),
                );
                check(
                    a["actions"] == json!([topic]),
                    format!("{name}: actions {} (topic {topic})", a["actions"]),
                );
            }

            // The alarms can publish: the created topic's key lets CloudWatch use it.
            let key_given = param(t, params, "TopicKmsKeyArn");
            let function_role = f["role"].as_str().unwrap_or_default();
            let statements =
                account["roles"][function_role]["policies"]["iam-sweeper"]["Statement"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
            let kms_grant = statements
                .iter()
                .find(|s| s["Sid"] == "SummaryEncryption")
                .map(|s| s["Resource"].clone());
            if existing.is_empty() {
                let t_attrs = &account["topics"][&topic];
                let key = t_attrs["kms_master_key_id"].as_str().unwrap_or_default();
                if key_given.is_empty() {
                    let key_id = physical("TopicKey").unwrap_or_default();
                    let key_arn = format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{key_id}");
                    check(
                        key == key_arn,
                        format!("{stack_name}: topic key {key:?}, the stack's key is {key_arn}"),
                    );
                    let policy = &t_attrs["key_policy"]["Statement"];
                    check(
                        policy.as_array().is_some_and(|st| {
                            st.iter().any(|s| {
                                allows_service(
                                    s,
                                    "cloudwatch.amazonaws.com",
                                    &["kms:GenerateDataKey", "kms:Decrypt"],
                                )
                            })
                        }),
                        format!(
                            "{stack_name}: the key policy does not let CloudWatch publish: {policy}"
                        ),
                    );
                    check(
                        kms_grant == Some(json!(key_arn)),
                        format!("{stack_name}: the function's key grant {kms_grant:?}"),
                    );
                } else {
                    // The operator's key: its policy is theirs (not checked).
                    check(
                        key == key_given,
                        format!("{stack_name}: topic key {key:?}, given {key_given}"),
                    );
                    check(
                        kms_grant == Some(json!(key_given)),
                        format!("{stack_name}: the function's key grant {kms_grant:?}"),
                    );
                }
                check(
                    !key.starts_with("alias/"),
                    format!("{stack_name}: topic encrypted with {key}"),
                );
                let email = param(t, params, "AlertEmail");
                let subs = t_attrs["subscriptions"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let want_subs = if email.is_empty() {
                    vec![]
                } else {
                    vec![json!({"protocol": "email", "endpoint": email})]
                };
                check(
                    subs == want_subs,
                    format!("{stack_name}: subscriptions {subs:?}"),
                );
            } else {
                let want = (!key_given.is_empty()).then(|| json!(key_given));
                check(
                    kms_grant == want,
                    format!(
                        "{stack_name}: the function's key grant {kms_grant:?}, key {key_given:?}"
                    ),
                );
            }
        }
        // Two stacks, two of everything named: nothing collides.
        check(
            functions.len() == STACKS.len(),
            format!("functions {functions:?}"),
        );
        let schedules = account["schedules"].as_array().map_or(0, Vec::len);
        check(
            schedules == STACKS.len(),
            format!("{schedules} schedules for {} stacks", STACKS.len()),
        );
    }
    assert!(
        failures.is_empty(),
        "{} problem(s) deploying the template:\n- {}",
        failures.len(),
        failures.join("\n- ")
    );
    eprintln!(
        "{created_count} resources created in {} stacks; through their APIs (moto's \
         CloudFormation skips them): {by_api:?}",
        sets.len() * STACKS.len()
    );
}

// ---------------------------------------------------------------------------------------------
// The operator guide, the samconfig example and the Makefile.
// ---------------------------------------------------------------------------------------------

fn guide() -> String {
    std::fs::read_to_string(Path::new(ROOT).join("docs/operator-guide.md")).expect("guide")
}

/// The text of the guide's `## title` section.
fn section<'a>(text: &'a str, title: &str) -> &'a str {
    let start = text
        .find(&format!("\n## {title}\n"))
        .unwrap_or_else(|| panic!("the guide has no section {title:?}"))
        + 1;
    let rest = &text[start..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    &rest[..end]
}

/// Shell words of one command line, quotes removed (enough for the guide's commands).
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            (None, '#') if cur.is_empty() && !any => break,
            (None, c) => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Every command in the guide's shell blocks, and the `aws` commands in its inline code,
/// continuation lines joined, split at pipes and `&&`, as shell words, with what follows a
/// redirection kept. (Prose may quote a command to warn against it: only `aws` ones are taken.)
fn commands(text: &str) -> Vec<Vec<String>> {
    let mut lines = Vec::new();
    let mut in_sh = false;
    let mut pending = String::new();
    for line in text.lines() {
        if line.starts_with("```") {
            in_sh = !in_sh && line.trim() == "```sh";
            continue;
        }
        if in_sh {
            match line.strip_suffix('\\') {
                Some(head) => pending.push_str(head),
                None => {
                    pending.push_str(line);
                    lines.push(std::mem::take(&mut pending));
                }
            }
        }
    }
    // Inline code that is a command, in prose (joined across line breaks).
    let prose = text.replace('\n', " ");
    for (i, part) in prose.split('`').enumerate() {
        if i % 2 == 1 && part.starts_with("aws ") {
            lines.push(part.to_string());
        }
    }
    let mut out = Vec::new();
    for line in lines {
        let mut cmd = Vec::new();
        for w in words(&line) {
            if w == "|" || w == "&&" || w == ";" {
                out.push(std::mem::take(&mut cmd));
            } else {
                cmd.push(w);
            }
        }
        out.push(cmd);
    }
    out.retain(|c: &Vec<String>| !c.is_empty());
    out
}

fn has(cmd: &[String], word: &str) -> bool {
    cmd.iter().any(|w| w == word)
}

fn option_value<'a>(cmd: &'a [String], option: &str) -> Option<&'a str> {
    cmd.iter()
        .position(|w| w == option)
        .and_then(|i| cmd.get(i + 1))
        .map(String::as_str)
}

/// Item 3: a setting given with `sam deploy --parameter-overrides` alone is undone by the next
/// plain `sam deploy`, which sends `samconfig.toml`'s saved values again. The guide changes
/// settings in `samconfig.toml`, says why, and its command to switch to enforce, applied to the
/// example configuration, gives a configuration the SAM CLI reads as `Mode=enforce` with every
/// other setting kept.
#[test]
fn the_guide_changes_settings_through_samconfig() {
    let text = guide();
    for cmd in commands(&text) {
        let line = cmd.join(" ");
        assert!(
            !(line.contains("sam deploy") && has(&cmd, "--parameter-overrides")),
            "`{line}`: a setting given only on the command line is reverted by the next deploy"
        );
    }
    let switch = section(&text, "Switch to enforce");
    for needed in ["samconfig.toml", "Mode=enforce", "make deploy", "not saved"] {
        assert!(switch.contains(needed), "Switch to enforce: no {needed:?}");
    }
    assert!(section(&text, "Exemptions").contains("samconfig.toml"));
    let upgrading = section(&text, "Upgrading");
    assert!(upgrading.contains("make deploy") && upgrading.contains("samconfig.toml"));

    // The switch, done as the guide says, on the example configuration and on one written by
    // `sam deploy --guided` (which quotes every value).
    let switch_cmds: Vec<Vec<String>> = commands(switch)
        .into_iter()
        .filter(|c| c[0] != "make")
        .collect();
    assert!(
        !switch_cmds.is_empty(),
        "the switch edits samconfig.toml with a command"
    );
    let example = tempfile::tempdir().expect("temp dir");
    std::fs::copy(
        Path::new(ROOT).join("samconfig.example.toml"),
        example.path().join("samconfig.toml"),
    )
    .expect("copy the example");
    let guided = tempfile::tempdir().expect("temp dir");
    let answers = json!({"Mode": "report", "AlertEmail": "secops@example.com",
                         "ExemptUsers": "svc-*,break-glass", "StaleAfterDays": ""});
    run_script(
        &tools_python(),
        "samconfig_read.py",
        &[
            "--write-guided",
            guided.path().to_str().expect("UTF-8 path"),
            "samconfig.toml",
            &answers.to_string(),
        ],
    );
    for dir in [example.path(), guided.path()] {
        let before = read_samconfig(dir, "samconfig.toml");
        for cmd in &switch_cmds {
            let status = Command::new(&cmd[0])
                .args(&cmd[1..])
                .current_dir(dir)
                .status()
                .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
            assert!(status.success(), "{cmd:?}: {status}");
        }
        let after = read_samconfig(dir, "samconfig.toml");
        assert_eq!(before["parameter_overrides"]["Mode"], "report");
        assert_eq!(
            after["parameter_overrides"]["Mode"],
            "enforce",
            "{}",
            std::fs::read_to_string(dir.join("samconfig.toml")).unwrap_or_default()
        );
        let mut rest = after.clone();
        rest["parameter_overrides"]["Mode"] = json!("report");
        assert_eq!(rest, before, "only Mode changed");
    }
}

/// `samconfig.toml` as the SAM CLI reads it: the deploy command's parameters, with
/// `parameter_overrides` parsed by the SAM CLI's own option type.
fn read_samconfig(dir: &Path, file: &str) -> Value {
    let out = run_script(
        &tools_python(),
        "samconfig_read.py",
        &[dir.to_str().expect("UTF-8 path"), file],
    );
    json_of(&out, "samconfig")
}

/// The example configuration deploys the stack the Makefile assumes, with the IAM capability,
/// in report mode, and names only parameters the template has.
#[test]
fn the_samconfig_example_is_what_the_sam_cli_and_the_makefile_expect() {
    let config = read_samconfig(Path::new(ROOT), "samconfig.example.toml");
    assert_eq!(config["stack_name"], "iam-sweeper");
    assert_eq!(config["capabilities"], "CAPABILITY_IAM");
    assert_eq!(config["confirm_changeset"], true);
    let overrides = config["parameter_overrides"]
        .as_object()
        .expect("parameter_overrides");
    assert_eq!(overrides["Mode"], "report", "report mode first");
    let template: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(Path::new(ROOT).join("template.yaml")).expect("template"),
    )
    .expect("YAML");
    for key in overrides.keys() {
        assert!(
            !template["Parameters"][key.as_str()].is_null(),
            "{key} is not a parameter of template.yaml"
        );
    }
    let make = make(&["-n", "deploy"], &[]);
    assert!(
        make.stdout.contains("--stack-name iam-sweeper"),
        "make deploy's default stack is the example's:\n{}",
        make.stdout
    );
}

/// Item 4: the stack-set commands work as written: every stack-set call says who calls
/// (`--call-as`, which a delegated administrator must set to `DELEGATED_ADMIN`), creating or
/// updating the stack set acknowledges the IAM capability, and the template saved for it is
/// JSON whatever the CLI's configured output format. Every `aws` command of the guide names an
/// operation and options the AWS CLI has (checked against the pinned botocore's service models).
#[test]
fn the_guide_stack_set_commands_work_as_written() {
    let text = guide();
    let cmds = commands(&text);
    let aws: Vec<&Vec<String>> = cmds.iter().filter(|c| c[0] == "aws").collect();
    let mut stack_set_calls = 0;
    for cmd in &aws {
        let line = cmd.join(" ");
        let op = cmd.get(2).map(String::as_str).unwrap_or_default();
        if cmd.get(1).map(String::as_str) == Some("cloudformation")
            && (op.contains("stack-set") || op.contains("stack-instances"))
        {
            stack_set_calls += 1;
            assert!(has(cmd, "--call-as"), "`{line}`: no --call-as");
            if op == "create-stack-set" || op == "update-stack-set" {
                assert_eq!(
                    option_value(cmd, "--capabilities"),
                    Some("CAPABILITY_IAM"),
                    "`{line}`: the template creates a role"
                );
            }
        }
        if let Some(i) = cmd.iter().position(|w| w == ">") {
            let file = cmd.get(i + 1).map(String::as_str).unwrap_or_default();
            if file.ends_with(".json") && has(cmd, "--query") {
                assert_eq!(
                    option_value(cmd, "--output"),
                    Some("json"),
                    "`{line}`: {file} is JSON only with --output json"
                );
            }
        }
    }
    assert!(stack_set_calls >= 4, "{stack_set_calls} stack-set calls");
    assert!(text.contains("DELEGATED_ADMIN"));

    // Operations and options, against the service models of the pinned botocore.
    let list: Vec<Vec<String>> = aws
        .iter()
        .map(|c| {
            let end = c.iter().position(|w| w == ">").unwrap_or(c.len());
            c[1..end].to_vec()
        })
        .collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("commands.json");
    std::fs::write(&path, serde_json::to_vec(&list).unwrap()).expect("write");
    let out = run_script(
        &tools_python(),
        "aws_cli_check.py",
        &[path.to_str().expect("UTF-8 path")],
    );
    let problems = json_of(&out, "the CLI check");
    assert_eq!(problems, json!([]), "commands the AWS CLI would refuse");
}

/// A finished `make`.
struct Made {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn make(args: &[&str], env: &[(&str, &str)]) -> Made {
    let out = Command::new("make")
        .arg("--no-print-directory")
        .args(args)
        .current_dir(ROOT)
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .env_remove("MAKELEVEL")
        .envs(env.iter().copied())
        .output()
        .expect("run make");
    Made {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Item 6: `make deploy` adds the arm64 Rust target before SAM builds (as `make build` does), and
/// deploys the stack the other targets assume, whatever `sam deploy --guided` would offer.
#[test]
fn make_deploy_adds_the_rust_target_and_names_the_stack() {
    let m = make(&["-n", "deploy", "STACK=stack-under-test"], &[]);
    assert_eq!(m.code, Some(0), "{}", m.stderr);
    let target = m
        .stdout
        .find("rustup target add aarch64-unknown-linux-gnu")
        .unwrap_or_else(|| panic!("make deploy does not add the Rust target:\n{}", m.stdout));
    let build = m.stdout.find("sam build").expect("sam build");
    assert!(target < build, "the target is added before the build");
    let deploys: Vec<&str> = m
        .stdout
        .lines()
        .filter(|l| l.contains("sam deploy"))
        .collect();
    assert!(
        deploys.iter().any(|l| l.contains("--guided")),
        "{deploys:?}"
    );
    for l in &deploys {
        assert!(l.contains("--stack-name stack-under-test"), "{l}");
    }
}

/// Item 5: `aws logs tail` and `--cli-binary-format` exist only in AWS CLI version 2. The guide
/// says so, and the make targets that call the CLI refuse version 1 before calling anything.
#[test]
fn make_targets_and_the_guide_need_aws_cli_v2() {
    let text = guide();
    assert!(text.contains("version 2 of the AWS CLI") || text.contains("AWS CLI version 2"));
    let tools = section(&text, "Tools");
    assert!(tools.contains("aws logs tail") && tools.contains("--cli-binary-format"));

    let dir = tempfile::tempdir().expect("temp dir");
    let fake = dir.path().join("aws");
    let log = dir.path().join("calls.log");
    std::fs::write(
        &fake,
        "#!/bin/sh\nif [ \"$1\" = --version ]; then echo \"$FAKE_AWS_VERSION\" >&2; exit 0; fi\n\
         echo \"$*\" >> \"$FAKE_AWS_LOG\"\n",
    )
    .expect("write the fake aws");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let aws = format!("AWS={}", fake.display());
    let log_s = log.to_str().expect("UTF-8 path");
    for target in ["logs", "invoke-remote"] {
        let m = make(
            &[target, &aws, "STACK=s1", "FUNCTION=f1"],
            &[
                (
                    "FAKE_AWS_VERSION",
                    "aws-cli/1.36.4 Python/3.11.9 Linux/6.1 botocore/1.35.4",
                ),
                ("FAKE_AWS_LOG", log_s),
            ],
        );
        assert_ne!(m.code, Some(0), "make {target} ran with AWS CLI v1");
        assert!(
            m.stderr.contains("AWS CLI version 2"),
            "make {target}: {}",
            m.stderr
        );
        assert!(!log.exists(), "make {target} called the v1 CLI");
    }
    let m = make(
        &["logs", &aws, "STACK=s1"],
        &[
            (
                "FAKE_AWS_VERSION",
                "aws-cli/2.22.35 Python/3.12.6 Linux/6.1 exe/x86_64",
            ),
            ("FAKE_AWS_LOG", log_s),
        ],
    );
    assert_eq!(m.code, Some(0), "{}", m.stderr);
    let calls = std::fs::read_to_string(&log).expect("the v2 CLI was called");
    assert_eq!(
        calls.trim(),
        "logs tail /aws/lambda/s1 --since 1d --format short"
    );
}

// ---------------------------------------------------------------------------------------------
// The binary in Lambda: the report wait and the metrics the alarms watch.
// ---------------------------------------------------------------------------------------------

/// Item 6, at run time: `REPORT_WAIT_SECONDS=900` (what the binary accepts) under a 30 s deadline,
/// and a credential report that never comes: the run gives up in time to publish its FAILED
/// summary and post its result before the deadline (`app::budget` cuts the wait to the time left
/// less the publish reserve).
#[test]
fn the_report_wait_is_bounded_by_the_deadline_at_run_time() {
    use crate::lambda_runtime::{RuntimeApi, lambda_process, lines, scheduled_event, stop};
    let e = Emulator::start();
    let topic = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(e.topic("sweeper"));
    let p = Proxy::start(&e);
    p.rules(json!([{"op": "GenerateCredentialReport", "action": "delay", "seconds": 120}]));
    let deadline_in = Duration::from_secs(30);
    let api = RuntimeApi::start_with_deadline(scheduled_event(), deadline_in);
    let mut child = lambda_process(
        &api,
        &p.endpoint(),
        &[
            ("SNS_TOPIC_ARN", topic.as_str()),
            ("REPORT_WAIT_SECONDS", "900"),
        ],
    );
    let out = lines(child.stdout.take().unwrap());
    let err = lines(child.stderr.take().unwrap());
    let (_, posted) = api.first_post_within(&mut child, deadline_in + Duration::from_secs(15));
    let posted_at = Instant::now();
    let handed_out = api.handed_out.lock().unwrap().expect("handed out");
    std::thread::sleep(Duration::from_millis(300));
    let (_, stderr) = stop(child, out, err);
    let took = posted_at - handed_out;
    assert!(
        took < deadline_in,
        "posted {took:?} after the start, past the {deadline_in:?} deadline: {posted:?}\n{}",
        stderr.join("\n")
    );
    let mails = e.sns_messages();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0].0.contains("FAILED"), "{:?}", mails[0].0);
}

/// Item 1: the binary's metrics carry the dimensions the alarms watch (the function's name and
/// the mode), so one stack's alarm never fires on another stack's run. A CloudWatch alarm matches
/// a metric only with exactly its dimension set.
#[test]
fn the_binary_writes_the_dimensions_the_alarms_watch() {
    use crate::lambda_runtime::{RuntimeApi, lambda_process, lines, scheduled_event, stop};
    use crate::template::ALARM_DIMENSIONS;
    let e = Emulator::start();
    let api = RuntimeApi::start(scheduled_event());
    let mut child = lambda_process(&api, &e.endpoint(), &[("MODE", "enforce")]);
    let out = lines(child.stdout.take().unwrap());
    let err = lines(child.stderr.take().unwrap());
    api.first_post(&mut child);
    std::thread::sleep(Duration::from_millis(300));
    let (stdout, _) = stop(child, out, err);
    let emf: Vec<Value> = stdout
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["_aws"]["CloudWatchMetrics"].is_array())
        .collect();
    assert_eq!(emf.len(), 1, "one metrics line: {stdout:?}");
    let line = &emf[0];
    let want: BTreeSet<&str> = ALARM_DIMENSIONS.into_iter().collect();
    let sets: Vec<BTreeSet<&str>> = line["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
        .as_array()
        .expect("Dimensions")
        .iter()
        .map(|set| {
            set.as_array()
                .expect("a set")
                .iter()
                .filter_map(Value::as_str)
                .collect()
        })
        .collect();
    assert!(
        sets.contains(&want),
        "the metrics' dimension sets {sets:?} lack the alarms' {want:?}"
    );
    assert_eq!(line["FunctionName"], "iam-sweeper");
    assert_eq!(line["Mode"], "enforce");
}
