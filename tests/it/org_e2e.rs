//! The organization mode end to end: the real binary against the local emulator, invoked with
//! the events the Step Functions workflow sends it.
//!
//! The emulator keeps one IAM per account and honours AssumeRole into any account; its
//! Organizations has an organization (the default account as management account) with member
//! accounts created through the API, one of them in an OU, one closed (SUSPENDED). Users are
//! seeded straight into each member's IAM. Each member's IAM is read back through the member role,
//! as the worker reaches it.

use aws_sdk_organizations::types::OrganizationFeatureSet;
use chrono::{Duration, Utc};
use iam_sweeper::app::ports::Members as _;
use iam_sweeper::aws::AwsAccount;
use iam_sweeper::aws::org::AwsOrg;
use iam_sweeper::core::org::{AccountId, settings_from_lookup};
use serde_json::{Value, json};

use crate::support::emulator::{Emulator, Run, ts};

const BUCKET: &str = "iam-sweeper-org";
const MANIFEST: &str = "results/run-1/manifest.json";
const EXECUTION: &str = "nightly-e2e";

fn ago(days: i64) -> String {
    ts(Utc::now() - Duration::days(days))
}

/// An organization in the emulator.
struct Org {
    e: Emulator,
    config: aws_config::SdkConfig,
    /// (ID, name) of the members in the `workloads` OU, by name.
    workloads: Vec<(String, String)>,
    /// The closed member.
    closed: String,
    ou: String,
    topic: String,
}

impl Org {
    /// `alpha`, `bravo`, `charlie` in OU `workloads`, each with a stale key (`stale`, unused for
    /// 120 days) and a healthy one (`fresh`); `delta` closed, in the root.
    async fn start() -> Org {
        let e = Emulator::start();
        let config = e.sdk_config().await;
        let org = aws_sdk_organizations::Client::new(&config);
        org.create_organization()
            .feature_set(OrganizationFeatureSet::All)
            .send()
            .await
            .expect("CreateOrganization");
        let roots = org.list_roots().send().await.expect("ListRoots");
        let root = roots.roots()[0].id().unwrap().to_string();
        let ou = org
            .create_organizational_unit()
            .parent_id(&root)
            .name("workloads")
            .send()
            .await
            .expect("CreateOrganizationalUnit")
            .organizational_unit
            .and_then(|o| o.id)
            .expect("OU ID");
        let create = async |name: &str| -> String {
            org.create_account()
                .email(format!("{name}@example.com"))
                .account_name(name)
                .send()
                .await
                .expect("CreateAccount")
                .create_account_status
                .and_then(|s| s.account_id)
                .expect("account ID")
        };
        let mut workloads = Vec::new();
        for name in ["alpha", "bravo", "charlie"] {
            let id = create(name).await;
            org.move_account()
                .account_id(&id)
                .source_parent_id(&root)
                .destination_parent_id(&ou)
                .send()
                .await
                .expect("MoveAccount");
            e.post(
                "/_seed/users",
                &json!({"account_id": id, "users": [
                    {"name": "stale", "created": ago(400),
                     "keys": [{"created": ago(399), "status": "Active", "last_used": ago(120)}]},
                    {"name": "fresh", "created": ago(400),
                     "keys": [{"created": ago(399), "status": "Active", "last_used": ago(1)}]},
                ]}),
            );
            workloads.push((id, name.to_string()));
        }
        let closed = create("delta").await;
        org.close_account()
            .account_id(&closed)
            .send()
            .await
            .expect("CloseAccount");
        s3(&config)
            .create_bucket()
            .bucket(BUCKET)
            .send()
            .await
            .expect("CreateBucket");
        let topic = e.topic("iam-sweeper-org").await;
        Org {
            e,
            config,
            workloads,
            closed,
            ou,
            topic,
        }
    }

    fn id(&self, name: &str) -> &str {
        &self.workloads.iter().find(|(_, n)| n == name).unwrap().0
    }

    /// `iam-sweeper invoke` with `event` and the organization's settings on top of `env`.
    fn invoke(&self, event: &Value, env: &[(&str, &str)]) -> Run {
        let mut all: Vec<(&str, &str)> = vec![
            ("ORG_BUCKET", BUCKET),
            ("ORG_PREFIX", "org/"),
            ("SNS_TOPIC_ARN", &self.topic),
        ];
        all.extend_from_slice(env);
        self.e.invoke(Some(event), &all)
    }

    /// The status of `user`'s keys in member `account`, read through a role of its own (the
    /// emulator honours any), so a refused member role does not stop the check.
    async fn keys(&self, account: &str, user: &str) -> Vec<String> {
        let settings =
            settings_from_lookup(|n| (n == "MEMBER_ROLE_NAME").then(|| "e2e-reader".into()))
                .unwrap();
        let hub = AwsAccount::new(&self.config);
        let member = AwsOrg::new(&self.config, &hub, &settings)
            .member(&account.parse::<AccountId>().unwrap())
            .await
            .expect("the member role");
        member
            .iam
            .list_access_keys()
            .user_name(user)
            .send()
            .await
            .expect("ListAccessKeys")
            .access_key_metadata
            .into_iter()
            .map(|k| k.status.map(|s| s.as_str().to_string()).unwrap_or_default())
            .collect()
    }

    fn batch(&self, names: &[&str], input: Value) -> Value {
        let items: Vec<Value> = names
            .iter()
            .map(|n| json!({"Id": self.id(n), "Name": n}))
            .collect();
        let mut batch_input = json!({"execution": EXECUTION});
        batch_input
            .as_object_mut()
            .unwrap()
            .extend(input.as_object().unwrap().clone());
        json!({"Items": items, "BatchInput": batch_input})
    }

    /// Writes the map's results as Step Functions does: the children (input batch, output or
    /// error) in one result file per status, and the manifest.
    async fn write_results(&self, succeeded: &[(&Value, &Value)], failed: &[&Value]) {
        let ok: Vec<Value> = succeeded
            .iter()
            .map(|(input, output)| {
                json!({"Input": input.to_string(), "Output": output.to_string(), "Status": "SUCCEEDED",
                       "InputDetails": {"Included": true}, "OutputDetails": {"Included": true},
                       "ExecutionArn": "arn:aws:states:us-east-1:123456789012:execution:sweep/map:1"})
            })
            .collect();
        let bad: Vec<Value> = failed
            .iter()
            .map(|input| {
                json!({"Input": input.to_string(), "Status": "FAILED",
                       "Error": "Lambda.AWSLambdaException", "Cause": "Rate exceeded"})
            })
            .collect();
        let s3 = s3(&self.config);
        for (key, body) in [
            ("results/run-1/SUCCEEDED_0.json", json!(ok)),
            ("results/run-1/FAILED_0.json", json!(bad)),
            (
                MANIFEST,
                json!({"DestinationBucket": BUCKET,
                   "MapRunArn": "arn:aws:states:us-east-1:123456789012:mapRun:sweep/map:1",
                   "ResultFiles": {
                       "SUCCEEDED": [{"Key": "results/run-1/SUCCEEDED_0.json", "Size": 1}],
                       "FAILED": [{"Key": "results/run-1/FAILED_0.json", "Size": 1}],
                       "PENDING": []}}),
            ),
        ] {
            s3.put_object()
                .bucket(BUCKET)
                .key(key)
                .body(body.to_string().into_bytes().into())
                .send()
                .await
                .expect("PutObject");
        }
    }
}

fn s3(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build(),
    )
}

fn account<'a>(result: &'a Value, id: &str) -> &'a Value {
    result["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account_id"] == id)
        .unwrap_or_else(|| panic!("no entry for {id} in {result}"))
}

/// The night of an organization: the listing, a batch in report mode, a batch in enforce mode
/// with one member's role refused, and the digest of the results.
#[tokio::test]
async fn an_organization_is_listed_swept_and_digested() {
    let o = Org::start().await;
    let (alpha, bravo, charlie) = (o.id("alpha"), o.id("bravo"), o.id("charlie"));

    // The listing: the workloads OU's accounts, by ID, written once to S3.
    let listing = o.invoke(
        &json!({"iam_sweeper": "list-accounts", "execution": EXECUTION}),
        &[("ORG_INCLUDE_OUS", &o.ou)],
    );
    assert_eq!(listing.code, Some(0), "{}", listing.stderr);
    let listing = listing.json();
    assert_eq!(listing["count"], 3, "{listing}");
    assert_eq!(listing["key"], format!("org/listings/{EXECUTION}.json"));
    let mut skipped: Vec<(String, String)> = listing["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().into(),
                s["reason"].as_str().unwrap().into(),
            )
        })
        .collect();
    skipped.sort();
    let mut expected = vec![
        ("123456789012".to_string(), "not-in-included-ou".to_string()),
        (o.closed.clone(), "suspended".to_string()),
    ];
    expected.sort();
    assert_eq!(skipped, expected);
    let object = s3(&o.config)
        .get_object()
        .bucket(BUCKET)
        .key(format!("org/listings/{EXECUTION}.json"))
        .send()
        .await
        .expect("the listing in S3");
    let listed: Value =
        serde_json::from_slice(&object.body.collect().await.unwrap().into_bytes()).unwrap();
    let mut ids = vec![alpha, bravo, charlie];
    ids.sort();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["Id"].as_str().unwrap())
        .collect();
    assert_eq!(names, ids, "sorted by ID");
    assert_eq!(listed[0].as_object().unwrap().len(), 2, "Id and Name only");

    // Report mode: every account swept, nothing changed.
    let report_batch = o.batch(&["alpha", "bravo", "charlie"], json!({"mode": "report"}));
    let run = o.invoke(&report_batch, &[("MODE", "enforce")]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let result = run.json();
    for id in [alpha, bravo, charlie] {
        let a = account(&result, id);
        assert_eq!(a["status"], "ok", "{a}");
        assert_eq!(a["mode"], "report");
        assert_eq!(a["counts"]["actions_planned"], 1, "{a}");
        assert_eq!(a["actions"][0]["status"], "not_taken");
        assert_eq!(
            o.keys(id, "stale").await,
            ["Active"],
            "report mode changed {id}"
        );
    }

    // Enforce mode, bravo's role refused: alpha and charlie acted on, bravo failed alone.
    o.e.post(
        "/_seed/fail",
        &json!({"service": "sts", "action": "AssumeRole", "code": "AccessDenied", "status": 403,
                "times": 100, "message": "not authorized to perform sts:AssumeRole",
                "params": {"RoleArn": format!("arn:aws:iam::{bravo}:role/iam-sweeper-member")}}),
    );
    let enforce_batch = o.batch(&["alpha", "bravo", "charlie"], json!({}));
    let run = o.invoke(&enforce_batch, &[("MODE", "enforce")]);
    assert_eq!(
        run.code,
        Some(0),
        "one account's failure is not the invocation's: {}",
        run.stderr
    );
    let enforce = run.json();
    let b = account(&enforce, bravo);
    assert_eq!(b["status"], "failed");
    assert!(
        b["problems"][0]
            .as_str()
            .unwrap()
            .starts_with("role not assumable: "),
        "{b}"
    );
    assert_eq!(o.keys(bravo, "stale").await, ["Active"], "bravo untouched");
    for id in [alpha, charlie] {
        let a = account(&enforce, id);
        assert_eq!(a["status"], "ok", "{a}");
        assert_eq!(a["counts"]["done"], 1, "{a}");
        assert!(
            a["actions"][0]["undo"]
                .as_str()
                .unwrap()
                .contains("update-access-key --user-name stale"),
            "{a}"
        );
        assert_eq!(o.keys(id, "stale").await, ["Inactive"], "{id}");
        assert_eq!(o.keys(id, "fresh").await, ["Active"], "{id}");
    }
    assert!(
        o.e.sns_messages().is_empty(),
        "the batches send no per-account mail"
    );

    // The digest: the enforce batch succeeded as a child; a third, made-up batch failed.
    let failed_batch = json!({"Items": [{"Id": "999988887777", "Name": "echo"}],
                              "BatchInput": {"execution": EXECUTION}});
    o.write_results(&[(&enforce_batch, &enforce)], &[&failed_batch])
        .await;
    let digest_event = json!({"iam_sweeper": "digest", "execution": EXECUTION, "listing": listing,
                              "results": {"Bucket": BUCKET, "Key": MANIFEST}});
    let run = o.invoke(&digest_event, &[]);
    assert_eq!(
        run.code,
        Some(1),
        "failed accounts fail the step: {}",
        run.stderr
    );
    let summary = run.json();
    let mut failed = vec![bravo, "999988887777"];
    failed.sort();
    assert_eq!(summary["failed_accounts"], json!(failed), "{summary}");
    assert_eq!(summary["ok"], 2);
    assert_eq!(summary["totals"]["done"], 2);
    assert!(
        run.stderr.contains("organization sweep failed"),
        "{}",
        run.stderr
    );

    let mails = o.e.sns_messages();
    assert_eq!(mails.len(), 1, "one mail for the organization");
    let (subject, body, attrs) = &mails[0];
    assert!(
        subject.starts_with("iam-sweeper FAILED org enforce: 4 accounts (2 failed), 2 done"),
        "{subject}"
    );
    assert_eq!(attrs["accounts_failed"]["Value"], "2");
    let pos = |s: &str| {
        body.find(s)
            .unwrap_or_else(|| panic!("{s:?} not in the mail:\n{body}"))
    };
    assert!(pos(&format!("- {bravo} bravo: FAILED")) < pos(&format!("- {alpha} alpha: ok")));
    assert!(pos("- 999988887777 echo: FAILED") < pos(&format!("- {charlie} charlie: ok")));
    assert!(
        body.contains("Lambda.AWSLambdaException: Rate exceeded"),
        "{body}"
    );
    assert!(
        body.contains(&format!(
            "undo (account {alpha}): aws iam update-access-key --user-name stale"
        )),
        "{body}"
    );
    assert!(
        body.contains(&format!("- {} delta: suspended", o.closed)),
        "{body}"
    );
}

#[tokio::test]
async fn a_digest_without_results_fails_and_says_so() {
    let o = Org::start().await;
    let listing = o.invoke(
        &json!({"iam_sweeper": "list-accounts", "execution": EXECUTION}),
        &[("ORG_EXCLUDE_ACCOUNTS", "123456789012")],
    );
    assert_eq!(listing.code, Some(0), "{}", listing.stderr);
    let listing = listing.json();
    assert_eq!(listing["count"], 3);
    let run = o.invoke(
        &json!({"iam_sweeper": "digest", "execution": EXECUTION, "listing": listing,
                "results": {"Bucket": BUCKET, "Key": "results/none/manifest.json"}}),
        &[],
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(
        run.json()["failed"],
        3,
        "every listed account, none all clear"
    );
    let mails = o.e.sns_messages();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].0.contains("FAILED"), "{}", mails[0].0);
    assert!(
        mails[0]
            .1
            .contains("results/none/manifest.json does not exist"),
        "{}",
        mails[0].1
    );
}

#[tokio::test]
async fn bad_organization_events_and_settings_exit_2_before_any_call() {
    let e = Emulator::start();
    for (event, env, says) in [
        (
            json!({"Items": [{"Id": "12"}], "BatchInput": {"execution": "x"}}),
            vec![],
            "12-digit",
        ),
        (
            json!({"iam_sweeper": "list-everything"}),
            vec![],
            "list-accounts",
        ),
        (
            json!({"iam_sweeper": "list-accounts", "execution": "x"}),
            vec![("ORG_INCLUDE_OUS", "finance")],
            "ORG_INCLUDE_OUS",
        ),
    ] {
        let run = e.invoke(Some(&event), &env);
        assert_eq!(run.code, Some(2), "{event}: {}", run.stderr);
        assert!(run.stderr.contains(says), "{event}: {}", run.stderr);
    }
    let calls = e.calls();
    assert!(calls.as_object().unwrap().is_empty(), "calls made: {calls}");
}

#[tokio::test]
async fn the_bundled_batch_event_runs_as_a_dry_run() {
    let e = Emulator::start();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("events/org-batch.json");
    let event: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let run = e.invoke(Some(&event), &[("MODE", "enforce")]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let result = run.json();
    for a in result["accounts"].as_array().unwrap() {
        assert_eq!(a["status"], "ok", "{a}");
        assert_eq!(a["mode"], "report", "the bundled batch asks for a dry run");
    }
    assert_eq!(e.calls()["STS.AssumeRole"], 2);
}

/// Under the Lambda runtime (the stub Runtime API of `lambda_runtime`): the bundled batch posts
/// the worker's result and logs one event per account; a malformed batch posts a typed error.
#[test]
fn under_the_lambda_runtime_a_batch_posts_its_result_and_a_bad_one_an_error() {
    use crate::lambda_runtime::{Posted, RuntimeApi, lambda_process, lines, stop};

    let e = Emulator::start();
    let event = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/events/org-batch.json"
    ))
    .expect("events/org-batch.json");
    let api = RuntimeApi::start(event);
    let mut child = lambda_process(&api, &e.endpoint(), &[("MODE", "enforce")]);
    let out = lines(child.stdout.take().unwrap());
    let err = lines(child.stderr.take().unwrap());
    let (path, posted) = api.first_post(&mut child);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (stdout, _) = stop(child, out, err);
    assert!(path.ends_with("/response"), "{path}: {posted:?}");
    let Posted::Response(result) = posted else {
        panic!("expected a response, got {posted:?}");
    };
    let ids: Vec<&str> = result["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["account_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["111111111111", "222222222222"], "{result}");
    let swept: Vec<Value> = stdout
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "account swept")
        .collect();
    assert_eq!(swept.len(), 2, "one log event per account: {stdout:?}");
    assert_eq!(swept[0]["fields"]["status"], "ok");

    let api = RuntimeApi::start(
        json!({"Items": [{"Id": "1234"}], "BatchInput": {"execution": "x"}})
            .to_string()
            .into_bytes(),
    );
    let mut child = lambda_process(&api, &e.endpoint(), &[]);
    let out = lines(child.stdout.take().unwrap());
    let err = lines(child.stderr.take().unwrap());
    let (path, posted) = api.first_post(&mut child);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let _ = stop(child, out, err);
    assert!(path.ends_with("/error"), "{path}: {posted:?}");
    let Posted::Error { body, .. } = posted else {
        panic!("expected an error, got {posted:?}");
    };
    assert_eq!(body["errorType"], "EventRefused", "{body}");
    assert!(
        body["errorMessage"].as_str().unwrap().contains("12-digit"),
        "{body}"
    );
}
