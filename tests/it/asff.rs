//! Security Hub findings (`SECURITY_HUB=true`, `audit --format asff`), at three layers:
//!
//! - the command line: `iam-sweeper audit -` reads the report from standard input, and
//!   `--format asff` prints the documents a run would import;
//! - the orchestration on the in-memory fake account: batches of 100, pacing, a failed import as
//!   a run problem in the mail, exempt findings as WARNING, closing the findings of fixed
//!   credentials, paging through `GetFindings`;
//! - end to end against the emulator (moto, with Security Hub refusing until it is enabled, as
//!   AWS does): two nights give one finding per credential and rule, the second closes the
//!   finding of a credential fixed in between, and a refused import fails the run and says so
//!   in the mail.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use chrono::{DateTime, Duration, TimeZone, Utc};
use iam_sweeper::app::Settings;
use iam_sweeper::app::hub::IMPORT_INTERVAL;
use iam_sweeper::app::ports::{Asff, HubError};
use iam_sweeper::app::sweep::{self, RunError};
use iam_sweeper::core::config::{Mode, Policy, Runtime};
use iam_sweeper::core::report::{self, AccessKeyColumns, Record};
use iam_sweeper::core::run::{Problem, RunReport};
use iam_sweeper::render::asff::{ComplianceStatus, RecordState, ResourceType};
use iam_sweeper::testing::fake::FakeAccount;
use iam_sweeper::testing::report::render;
use iam_sweeper::testing::synthetic;
use serde_json::{Value, json};

use crate::support::emulator::{Emulator, ts};

const ACCOUNT: &str = "123456789012";
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:iam-sweeper";
const PRODUCT: &str = "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default";
const BIN: &str = env!("CARGO_BIN_EXE_iam-sweeper");

// ---------------------------------------------------------------------------------------------
// the command line

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

/// `iam-sweeper audit ARGS` with `stdin` on standard input and `env` on a clean environment.
fn audit(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("audit").args(args);
    for v in iam_sweeper::core::config::VARIABLES {
        cmd.env_remove(v);
    }
    cmd.env_remove("AWS_REGION");
    cmd.envs(env.iter().copied());
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const AS_OF: &str = "2016-09-15T00:00:00Z";

#[test]
fn audit_reads_the_report_from_standard_input() {
    let report = std::fs::read(fixture("seed-sample.csv")).unwrap();
    let from_file = audit(
        &[
            &fixture("seed-sample.csv"),
            "--as-of",
            AS_OF,
            "--format",
            "json",
        ],
        b"",
        &[],
    );
    let from_stdin = audit(&["-", "--as-of", AS_OF, "--format", "json"], &report, &[]);
    assert_eq!(from_stdin.status.code(), Some(3), "{}", stderr(&from_stdin));
    assert_eq!(from_stdin.stdout, from_file.stdout);

    let text = audit(&["-", "--as-of", AS_OF], &report, &[]);
    assert_eq!(text.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&text.stdout).contains("8 findings"));

    // A bad report on standard input is named as such.
    let bad = audit(&["-"], b"hello,world\n1,2\n", &[]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("standard input"), "{}", stderr(&bad));
    assert!(bad.stdout.is_empty());
    let empty = audit(&["-"], b"", &[]);
    assert_eq!(empty.status.code(), Some(2), "{}", stderr(&empty));
}

fn asff_of(o: &Output) -> Vec<Value> {
    assert_eq!(o.status.code(), Some(3), "{}", stderr(o));
    serde_json::from_slice::<Vec<Value>>(&o.stdout).expect("a JSON array of ASFF documents")
}

#[test]
fn audit_prints_the_security_hub_documents() {
    let report = std::fs::read(fixture("seed-sample.csv")).unwrap();
    let docs = asff_of(&audit(
        &[
            "-",
            "--as-of",
            AS_OF,
            "--format",
            "asff",
            "--region",
            "eu-west-1",
        ],
        &report,
        &[("CIS_VERSION", "5.0.0")],
    ));
    // 8 findings; the initial-setup keys are also unused: one document per rule.
    assert!(docs.len() >= 8, "{}", docs.len());
    let account = docs[0]["AwsAccountId"].as_str().unwrap().to_string();
    assert_eq!(
        account.len(),
        12,
        "the account comes from the report's ARNs"
    );
    let ids: BTreeSet<&str> = docs.iter().map(|d| d["Id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), docs.len(), "one ID per credential and rule");
    for d in &docs {
        assert_eq!(d["SchemaVersion"], "2018-10-08");
        assert_eq!(
            d["ProductArn"],
            format!("arn:aws:securityhub:eu-west-1:{account}:product/{account}/default")
        );
        assert!(
            d["Id"]
                .as_str()
                .unwrap()
                .starts_with(&format!("iam-sweeper/{account}/"))
        );
        assert!(
            d["GeneratorId"]
                .as_str()
                .unwrap()
                .starts_with("iam-sweeper/")
        );
        assert_eq!(d["CreatedAt"], "2016-09-15T00:00:00.000Z");
        assert_eq!(d["UpdatedAt"], d["CreatedAt"]);
        for r in d["Resources"].as_array().unwrap() {
            assert_eq!(r["Region"], "eu-west-1");
            assert_eq!(r["Partition"], "aws");
        }
        assert!(d.get("Workflow").is_none() && d.get("Note").is_none());
    }
    let elise = docs
        .iter()
        .find(|d| d["Id"] == format!("iam-sweeper/{account}/elise/access_key_1/unused-credentials"))
        .expect("elise's key");
    assert_eq!(elise["Compliance"]["Status"], "FAILED");
    assert_eq!(
        elise["Compliance"]["RelatedRequirements"],
        json!(["CIS AWS Foundations Benchmark v5.0.0/1.11"])
    );
    assert_eq!(elise["RecordState"], "ACTIVE");
    assert_eq!(elise["Resources"][0]["Type"], "AwsIamAccessKey");
    assert_eq!(elise["Resources"][1]["Type"], "AwsIamUser");
    assert_eq!(
        elise["ProductFields"]["iam-sweeper/action"],
        "deactivate_key"
    );
    assert_eq!(elise["ProductFields"]["iam-sweeper/idleDays"], "517");

    // The region: --region, else AWS_REGION, else us-east-1; the partition follows it.
    let region_of = |args: &[&str], env: &[(&str, &str)]| -> String {
        let mut all = vec!["-", "--as-of", AS_OF, "--format", "asff"];
        all.extend_from_slice(args);
        asff_of(&audit(&all, &report, env))[0]["ProductArn"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(region_of(&[], &[]).starts_with("arn:aws:securityhub:us-east-1:"));
    assert!(
        region_of(&[], &[("AWS_REGION", "cn-north-1")])
            .starts_with("arn:aws-cn:securityhub:cn-north-1:")
    );
    assert!(
        region_of(
            &["--region", "us-gov-west-1"],
            &[("AWS_REGION", "eu-west-1")]
        )
        .starts_with("arn:aws-us-gov:securityhub:us-gov-west-1:")
    );
}

#[test]
fn asff_of_a_report_that_names_no_account_is_refused() {
    let report = std::fs::read_to_string(fixture("seed-sample.csv")).unwrap();
    let header = report.lines().next().unwrap();
    let o = audit(
        &["-", "--format", "asff"],
        format!("{header}\n").as_bytes(),
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("account"), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
}

// ---------------------------------------------------------------------------------------------
// the orchestration on the fake account

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 2, 0, 0).unwrap()
}

fn ago(days: i64) -> DateTime<Utc> {
    now() - Duration::days(days)
}

/// A user whose key 1 was created a year ago and last used `days` ago.
fn key_user(name: &str, days: i64) -> Record {
    Record {
        user: name.into(),
        arn: format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
        user_creation_time: Some(ago(400)),
        password_enabled: Some(false),
        password_last_used: None,
        password_last_changed: None,
        password_next_rotation: None,
        mfa_active: Some(false),
        access_keys: [
            AccessKeyColumns {
                active: Some(true),
                last_rotated: Some(ago(365) + Duration::seconds(17)),
                last_used_date: Some(ago(days)),
                last_used_region: Some("eu-west-1".into()),
                last_used_service: Some("s3".into()),
            },
            AccessKeyColumns::default(),
        ],
        certs: Default::default(),
    }
}

fn root() -> Record {
    let mut r = key_user("root", 1);
    r.user = report::ROOT_USER.into();
    r.arn = format!("arn:aws:iam::{ACCOUNT}:root");
    r.password_enabled = None;
    r.access_keys = Default::default();
    r
}

fn account(users: &[Record]) -> FakeAccount {
    let records: Vec<Record> = std::iter::once(root())
        .chain(users.iter().cloned())
        .collect();
    FakeAccount::from_records(&records)
}

/// Serves a new night's report: the root row and `users`.
fn next_night(a: &FakeAccount, users: &[Record]) {
    let records: Vec<Record> = std::iter::once(root())
        .chain(users.iter().cloned())
        .collect();
    a.set_report(render(&records).into_bytes());
}

fn settings(mode: Mode) -> Settings {
    Settings {
        policy: Policy {
            mode,
            ..Policy::default()
        },
        runtime: Runtime {
            sns_topic_arn: Some(TOPIC.into()),
            security_hub: true,
            ..Runtime::default()
        },
    }
}

async fn run_at(
    a: &FakeAccount,
    settings: &Settings,
    at: DateTime<Utc>,
) -> Result<RunReport, RunError> {
    sweep::handle(a, settings, &json!({}), at, None).await
}

fn ok(result: Result<RunReport, RunError>) -> RunReport {
    match result {
        Ok(r) => r,
        Err(RunError::Failed(r)) => panic!("the run failed: {:?}", r.problems),
        Err(e) => panic!("{e}"),
    }
}

fn failed(result: Result<RunReport, RunError>) -> RunReport {
    match result {
        Err(RunError::Failed(r)) => *r,
        Ok(_) => panic!("the run succeeded"),
        Err(e) => panic!("{e}"),
    }
}

fn hub_problem(r: &RunReport) -> &Problem {
    r.problems
        .iter()
        .find(|p| matches!(p, Problem::SecurityHub { .. }))
        .unwrap_or_else(|| panic!("no Security Hub problem in {:?}", r.problems))
}

fn id(user: &str) -> String {
    format!("iam-sweeper/{ACCOUNT}/{user}/access_key_1/unused-credentials")
}

fn doc<'a>(docs: &'a BTreeMap<String, Asff>, user: &str) -> &'a Asff {
    docs.get(&id(user))
        .unwrap_or_else(|| panic!("no finding for {user}: {:?}", docs.keys()))
}

#[tokio::test]
async fn security_hub_is_left_alone_unless_asked() {
    let a = account(&[key_user("kim", 120)]);
    let mut s = settings(Mode::Report);
    s.runtime.security_hub = false;
    ok(run_at(&a, &s, now()).await);
    assert_eq!(a.calls("BatchImportFindings") + a.calls("GetFindings"), 0);
    assert!(a.hub_findings().is_empty());
}

#[tokio::test(start_paused = true)]
async fn two_hundred_fifty_findings_go_in_batches_of_100_paced() {
    // 250 synthetic users with a stale key 1: one finding each.
    let users: Vec<Record> = (0..5_000)
        .filter(|i| synthetic::kind_of(*i) == synthetic::Kind::StaleKey)
        .take(250)
        .map(|i| synthetic::user(i, now()))
        .collect();
    let a = account(&users);
    let started = tokio::time::Instant::now();
    let report = ok(run_at(&a, &settings(Mode::Report), now()).await);
    let took = started.elapsed();

    assert_eq!(report.audit.findings.len(), 250);
    assert_eq!(a.hub_batches(), [100, 100, 50]);
    assert_eq!(a.calls("BatchImportFindings"), 3);
    assert_eq!(a.calls("GetFindings"), 1);
    assert!(
        took >= IMPORT_INTERVAL * 2,
        "three imports at most 10 a second: {took:?}"
    );
    let docs = a.hub_findings();
    assert_eq!(docs.len(), 250);
    for d in docs.values() {
        assert_eq!(d.product_arn, PRODUCT);
        assert_eq!(d.compliance.status, ComplianceStatus::Failed);
        assert_eq!(d.record_state, RecordState::Active);
    }
    // The import comes before the summary, which stays clean.
    let mail = &a.published()[0].1;
    assert!(!mail.body.contains("FAILED"), "{}", mail.body);
}

#[tokio::test]
async fn a_failed_import_fails_the_run_and_the_mail_says_so() {
    let a = account(&[key_user("kim", 120), key_user("lee", 200)]);
    a.fail_hub_import(HubError {
        operation: "BatchImportFindings",
        code: Some("AccessDeniedException".into()),
        message: "User is not authorized to perform: securityhub:BatchImportFindings".into(),
    });
    let report = failed(run_at(&a, &settings(Mode::Report), now()).await);
    let problem = hub_problem(&report);
    assert!(
        matches!(
            problem,
            Problem::SecurityHub {
                not_imported: 2,
                total: 2,
                ..
            }
        ),
        "{problem:?}"
    );
    let text = problem.to_string();
    for words in [
        "Security Hub: 2 of 2 finding(s) not imported",
        "AccessDeniedException",
        "Security Hub is enabled in this account in us-east-1",
        "securityhub:BatchImportFindings",
        "securityhub:GetFindings",
    ] {
        assert!(text.contains(words), "{words}: {text}");
    }
    let mail = &a.published()[0].1;
    assert!(mail.subject.contains("FAILED"), "{}", mail.subject);
    assert!(mail.body.contains("THIS RUN FAILED"), "{}", mail.body);
    assert!(mail.body.contains("AccessDeniedException"), "{}", mail.body);
    assert!(report.published_message_id.is_some());
}

#[tokio::test]
async fn findings_security_hub_refuses_are_a_run_problem() {
    let a = account(&[key_user("kim", 120), key_user("lee", 200)]);
    a.refuse_hub_findings("/lee/");
    let report = failed(run_at(&a, &settings(Mode::Report), now()).await);
    let problem = hub_problem(&report);
    assert!(
        matches!(
            problem,
            Problem::SecurityHub {
                not_imported: 1,
                total: 2,
                ..
            }
        ),
        "{problem:?}"
    );
    assert!(
        problem.to_string().contains("refused (InvalidInput)"),
        "{problem}"
    );
    assert_eq!(a.hub_findings().len(), 1, "the other one is imported");
}

#[tokio::test]
async fn an_exempt_credential_is_a_warning_with_its_exemption() {
    let a = account(&[key_user("kim", 120), key_user("svc-build", 200)]);
    a.tag("kim", "iam-sweeper:exempt", "2027-03-31");
    let mut s = settings(Mode::Enforce);
    s.policy.exempt_users = iam_sweeper::core::config::ExemptUsers::parse("svc-*").unwrap();
    ok(run_at(&a, &s, now()).await);
    assert_eq!(a.mutations(), 0, "exempt credentials are not acted on");
    let docs = a.hub_findings();
    let kim = doc(&docs, "kim");
    assert_eq!(kim.compliance.status, ComplianceStatus::Warning);
    assert_eq!(kim.record_state, RecordState::Active);
    assert_eq!(kim.product_fields["iam-sweeper/exemption"], "tag");
    assert_eq!(
        kim.product_fields["iam-sweeper/exemptionValue"],
        "2027-03-31"
    );
    assert_eq!(
        kim.product_fields["iam-sweeper/exemptionExpires"],
        "2027-03-31"
    );
    let svc = doc(&docs, "svc-build");
    assert_eq!(svc.compliance.status, ComplianceStatus::Warning);
    assert_eq!(svc.product_fields["iam-sweeper/exemption"], "name");
    assert_eq!(svc.product_fields["iam-sweeper/exemptionPattern"], "svc-*");
    let v = serde_json::to_value(svc).unwrap();
    assert!(v.get("Workflow").is_none() && v.get("Note").is_none());
}

#[tokio::test]
async fn the_second_night_updates_the_same_findings_and_closes_the_fixed_one() {
    let users = [
        key_user("kim", 120),
        key_user("lee", 200),
        key_user("max", 95),
    ];
    let a = account(&users);
    ok(run_at(&a, &settings(Mode::Report), now()).await);
    let first = a.hub_findings();
    assert_eq!(first.len(), 3);

    // Between the nights, lee's key is used again.
    next_night(
        &a,
        &[
            key_user("kim", 120),
            key_user("lee", 0),
            key_user("max", 95),
        ],
    );
    let tomorrow = now() + Duration::days(1);
    let report = ok(run_at(&a, &settings(Mode::Report), tomorrow).await);
    assert_eq!(report.audit.findings.len(), 2);

    let second = a.hub_findings();
    assert_eq!(
        second.keys().collect::<Vec<_>>(),
        first.keys().collect::<Vec<_>>(),
        "the same three findings, no duplicates"
    );
    let lee = doc(&second, "lee");
    assert_eq!(lee.compliance.status, ComplianceStatus::Passed);
    assert_eq!(lee.record_state, RecordState::Archived);
    assert_eq!(
        lee.created_at,
        doc(&first, "lee").created_at,
        "its creation kept"
    );
    assert_eq!(lee.updated_at, "2026-11-24T02:00:00.000Z");
    assert_eq!(lee.resources[0].kind, ResourceType::AwsIamAccessKey);
    for user in ["kim", "max"] {
        let d = doc(&second, user);
        assert_eq!(d.compliance.status, ComplianceStatus::Failed, "{user}");
        assert_eq!(d.record_state, RecordState::Active);
        assert_eq!(
            d.created_at, "2026-11-23T02:00:00.000Z",
            "{user}: first seen"
        );
        assert_eq!(d.updated_at, "2026-11-24T02:00:00.000Z");
    }
    assert!(doc(&second, "kim").title.contains("121 days"));

    // A third night: the closed one is archived, so not listed nor closed again.
    ok(run_at(&a, &settings(Mode::Report), tomorrow + Duration::days(1)).await);
    assert_eq!(a.hub_batches(), [3, 3, 2]);
}

#[tokio::test]
async fn an_action_taken_closes_its_finding_with_the_key_id() {
    let a = account(&[key_user("kim", 120)]);
    let report = ok(run_at(&a, &settings(Mode::Enforce), now()).await);
    let key = report.actions[0].access_key_id.clone().expect("a key ID");
    let docs = a.hub_findings();
    let kim = doc(&docs, "kim");
    assert_eq!(kim.compliance.status, ComplianceStatus::Passed);
    assert_eq!(kim.record_state, RecordState::Archived);
    assert_eq!(kim.resources[0].id, key);
    assert_eq!(kim.product_fields["iam-sweeper/status"], "done");
    assert!(
        kim.remediation
            .as_ref()
            .unwrap()
            .recommendation
            .text
            .contains(&format!("--access-key-id {key} --status Active")),
        "the undo command"
    );
}

#[tokio::test]
async fn earlier_findings_are_listed_page_by_page_and_all_closed() {
    let users: Vec<Record> = (0..30)
        .map(|i| key_user(&format!("u{i:02}"), 120))
        .collect();
    let a = account(&users);
    ok(run_at(&a, &settings(Mode::Report), now()).await);
    assert_eq!(a.hub_findings().len(), 30);

    // Every key was used since: all 30 closed, read in pages of 7.
    a.set_hub_page_size(7);
    let used: Vec<Record> = (0..30).map(|i| key_user(&format!("u{i:02}"), 0)).collect();
    next_night(&a, &used);
    let before = a.calls("GetFindings");
    ok(run_at(&a, &settings(Mode::Report), now() + Duration::days(1)).await);
    assert_eq!(a.calls("GetFindings") - before, 5, "30 findings, 7 a page");
    assert!(
        a.hub_findings()
            .values()
            .all(|d| d.record_state == RecordState::Archived
                && d.compliance.status == ComplianceStatus::Passed)
    );
}

#[tokio::test]
async fn when_listing_fails_the_findings_are_still_imported_and_the_run_says_so() {
    let a = account(&[key_user("kim", 120)]);
    a.fail_hub_list(HubError {
        operation: "GetFindings",
        code: Some("AccessDeniedException".into()),
        message: "not authorized to perform: securityhub:GetFindings".into(),
    });
    let report = failed(run_at(&a, &settings(Mode::Report), now()).await);
    let text = hub_problem(&report).to_string();
    assert!(
        text.contains("GetFindings failed (AccessDeniedException)"),
        "{text}"
    );
    assert!(text.contains("not closed"), "{text}");
    assert_eq!(a.hub_findings().len(), 1);
}

#[tokio::test]
async fn a_what_if_run_leaves_security_hub_alone() {
    let a = account(&[key_user("kim", 120)]);
    let event = json!({"mode": "report", "as_of": "2027-01-01T02:00:00Z"});
    ok(sweep::handle(&a, &settings(Mode::Report), &event, now(), None).await);
    assert_eq!(a.calls("BatchImportFindings") + a.calls("GetFindings"), 0);
}

// ---------------------------------------------------------------------------------------------
// end to end against the emulator

/// A state of the emulator's Security Hub: by finding ID, (compliance, record state, created,
/// updated, first resource ID).
type HubState = BTreeMap<String, (String, String, String, String, String)>;

/// A Security Hub client on the emulator, for setting it up and reading it back.
pub(crate) async fn hub_client(e: &Emulator) -> aws_sdk_securityhub::Client {
    aws_sdk_securityhub::Client::new(&e.sdk_config().await)
}

pub(crate) async fn enable_security_hub(e: &Emulator) {
    hub_client(e)
        .await
        .enable_security_hub()
        .send()
        .await
        .expect("EnableSecurityHub");
}

/// Every finding in the emulator's Security Hub, each ID once.
async fn hub_state(e: &Emulator) -> HubState {
    let hub = hub_client(e).await;
    let mut out = HubState::new();
    let mut token = None;
    loop {
        let page = hub
            .get_findings()
            .set_next_token(token)
            .send()
            .await
            .expect("GetFindings");
        for f in page.findings() {
            let previous = out.insert(
                f.id().unwrap().to_string(),
                (
                    f.compliance()
                        .and_then(|c| c.status())
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    f.record_state()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    f.created_at().unwrap_or_default().to_string(),
                    f.updated_at().unwrap_or_default().to_string(),
                    f.resources()
                        .first()
                        .and_then(|r| r.id())
                        .unwrap_or_default()
                        .to_string(),
                ),
            );
            assert!(previous.is_none(), "a duplicate finding: {:?}", f.id());
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return out;
        }
    }
}

fn e2e_ago(d: Duration) -> String {
    ts(Utc::now() - d)
}

fn e2e_cast() -> Vec<Value> {
    let days = Duration::days;
    vec![
        json!({"name": "stale-key", "created": e2e_ago(days(400)),
               "keys": [{"created": e2e_ago(days(399)), "status": "Active", "last_used": e2e_ago(days(120))}]}),
        json!({"name": "stale-password", "created": e2e_ago(days(400)), "password": {"last_used": e2e_ago(days(100))}}),
        json!({"name": "old-key", "created": e2e_ago(days(400)),
               "keys": [{"created": e2e_ago(days(399)), "status": "Active", "last_used": e2e_ago(days(200))}]}),
        json!({"name": "healthy", "created": e2e_ago(days(400)), "password": {"last_used": e2e_ago(days(2))},
               "keys": [{"created": e2e_ago(days(399)), "status": "Active", "last_used": e2e_ago(days(1))}]}),
    ]
}

fn e2e_id(user: &str, credential: &str) -> String {
    format!("iam-sweeper/{ACCOUNT}/{user}/{credential}/unused-credentials")
}

#[tokio::test]
async fn two_nights_against_the_emulator_update_and_close_without_duplicates() {
    let e = Emulator::start();
    let seeded = e.seed(e2e_cast());
    enable_security_hub(&e).await;
    let topic = e.topic("sweeper").await;
    let env = [("SECURITY_HUB", "true"), ("SNS_TOPIC_ARN", topic.as_str())];

    let night1 = e.invoke(None, &env);
    assert_eq!(night1.code, Some(0), "{}", night1.stderr);
    let calls = e.calls();
    assert_eq!(calls["SECURITYHUB.BatchImportFindings"], 1, "{calls}");
    assert_eq!(calls["SECURITYHUB.GetFindings"], 1, "{calls}");
    let first = hub_state(&e).await;
    let want: BTreeSet<String> = [
        e2e_id("stale-key", "access_key_1"),
        e2e_id("stale-password", "password"),
        e2e_id("old-key", "access_key_1"),
    ]
    .into();
    assert_eq!(first.keys().cloned().collect::<BTreeSet<_>>(), want);
    for (id, (compliance, state, ..)) in &first {
        assert_eq!(
            (compliance.as_str(), state.as_str()),
            ("FAILED", "ACTIVE"),
            "{id}"
        );
    }

    // Between the nights someone deactivates old-key's key by hand.
    let key = seeded["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "old-key")
        .unwrap()["keys"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (iam, _) = e.clients().await;
    iam.update_access_key()
        .user_name("old-key")
        .access_key_id(&key)
        .status(aws_sdk_iam::types::StatusType::Inactive)
        .send()
        .await
        .expect("UpdateAccessKey");

    let night2 = e.invoke(None, &env);
    assert_eq!(night2.code, Some(0), "{}", night2.stderr);
    let second = hub_state(&e).await;
    assert_eq!(
        second.keys().collect::<Vec<_>>(),
        first.keys().collect::<Vec<_>>(),
        "one finding per credential: updated, never duplicated"
    );
    let (compliance, state, created, _, _) = &second[&e2e_id("old-key", "access_key_1")];
    assert_eq!(
        (compliance.as_str(), state.as_str()),
        ("PASSED", "ARCHIVED")
    );
    assert_eq!(created, &first[&e2e_id("old-key", "access_key_1")].2);
    for id in [
        e2e_id("stale-key", "access_key_1"),
        e2e_id("stale-password", "password"),
    ] {
        let (compliance, state, created, updated, _) = &second[&id];
        assert_eq!(
            (compliance.as_str(), state.as_str()),
            ("FAILED", "ACTIVE"),
            "{id}"
        );
        assert_eq!(created, &first[&id].2, "{id}: created on the first night");
        assert!(updated >= &first[&id].3, "{id}");
    }
    let mails = e.sns_messages();
    assert_eq!(mails.len(), 2);
    assert!(!mails[1].0.contains("FAILED"), "{}", mails[1].0);
}

#[tokio::test]
async fn an_enforce_night_archives_what_it_fixed_with_the_key_id() {
    let e = Emulator::start();
    let seeded = e.seed(e2e_cast());
    enable_security_hub(&e).await;
    let run = e.invoke(None, &[("SECURITY_HUB", "true"), ("MODE", "enforce")]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let key = seeded["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "stale-key")
        .unwrap()["keys"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let state = hub_state(&e).await;
    let (compliance, record, _, _, resource) = &state[&e2e_id("stale-key", "access_key_1")];
    assert_eq!(
        (compliance.as_str(), record.as_str()),
        ("PASSED", "ARCHIVED")
    );
    assert_eq!(resource, &key);
}

#[tokio::test]
async fn a_refused_import_fails_the_run_and_the_mail_says_so() {
    let e = Emulator::start();
    e.seed(e2e_cast());
    // Security Hub is not enabled: the emulator refuses like AWS (InvalidAccessException).
    let topic = e.topic("sweeper").await;
    let run = e.invoke(
        None,
        &[("SECURITY_HUB", "true"), ("SNS_TOPIC_ARN", topic.as_str())],
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stderr.contains("Security Hub"), "{}", run.stderr);
    assert!(
        run.stderr.contains("InvalidAccessException"),
        "{}",
        run.stderr
    );
    let result = run.json();
    let problems = result["problems"].to_string();
    assert!(problems.contains("not imported"), "{problems}");
    assert!(
        problems.contains("securityhub:BatchImportFindings"),
        "{problems}"
    );
    let mails = e.sns_messages();
    assert_eq!(mails.len(), 1);
    let (subject, body, attrs) = &mails[0];
    assert!(subject.contains("FAILED"), "{subject}");
    assert!(
        body.contains("Security Hub: 3 of 3 finding(s) not imported"),
        "{body}"
    );
    assert!(body.contains("InvalidAccessException"), "{body}");
    assert_eq!(attrs["status"]["Value"], "failed");
}
