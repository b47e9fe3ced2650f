//! The sweep (`iam_sweeper::app::sweep::handle`) end to end on the in-memory fake account.
//!
//! Every test builds a credential report from `Record`s and a `FakeAccount` whose live IAM
//! agrees with it (each key created 0.7 s past the report's second, last use as in the report),
//! changes the live world or injects a fault, runs one sweep at a fixed `now`, and checks the
//! `RunReport`, the calls made and the live state left behind. What only the SDK does (wire
//! errors, retries, pagination, the report's polling) is tested on mocked clients in `aws_edge`.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use iam_sweeper::app::Settings;
use iam_sweeper::app::ports::{FetchError, IamError, KeyStatus, PublishError};
use iam_sweeper::app::sweep::{self, RunError};
use iam_sweeper::core::audit::Audit;
use iam_sweeper::core::config::{InitialKeyAction, Mode, Policy, Runtime};
use iam_sweeper::core::event::{Invocation, Trigger};
use iam_sweeper::core::finding::{Action, Credential, Exemption, Finding, Slot};
use iam_sweeper::core::outcome::{Detail, Outcome, Status};
use iam_sweeper::core::report::{self, AccessKeyColumns, Record};
use iam_sweeper::core::rules;
use iam_sweeper::core::run::{self, ActionCounts, Problem, RunReport};
use iam_sweeper::render::summary;
use iam_sweeper::testing::fake::{FakeAccount, FakeKey, FakeUser, key_id};
use iam_sweeper::testing::{report::render, synthetic};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// time, report rows, the account

pub(crate) const ACCOUNT: &str = "123456789012";
pub(crate) const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:iam-sweeper";
const TAG_KEY: &str = "iam-sweeper:exempt";
pub(crate) const KEY1: Credential = Credential::AccessKey(Slot::One);

/// The run's clock: every date in a report is relative to it.
pub(crate) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 2, 0, 0).unwrap()
}

pub(crate) fn ago(days: i64) -> DateTime<Utc> {
    now() - chrono::Duration::days(days)
}

pub(crate) fn hours_ago(hours: i64) -> DateTime<Utc> {
    now() - chrono::Duration::hours(hours)
}

pub(crate) fn root() -> Record {
    Record {
        user: report::ROOT_USER.into(),
        arn: format!("arn:aws:iam::{ACCOUNT}:root"),
        user_creation_time: Some(ago(2000)),
        password_enabled: None,
        password_last_used: Some(ago(3)),
        mfa_active: Some(true),
        ..user("root")
    }
}

/// A user created 400 days ago with no password and no keys.
pub(crate) fn user(name: &str) -> Record {
    Record {
        user: name.into(),
        arn: format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
        user_creation_time: Some(ago(400)),
        password_enabled: Some(false),
        password_last_used: None,
        password_last_changed: None,
        password_next_rotation: None,
        mfa_active: Some(false),
        access_keys: Default::default(),
        certs: Default::default(),
    }
}

pub(crate) fn active_key(created: DateTime<Utc>, used: Option<DateTime<Utc>>) -> AccessKeyColumns {
    AccessKeyColumns {
        active: Some(true),
        last_rotated: Some(created),
        last_used_date: used,
        last_used_region: used.map(|_| "eu-west-1".into()),
        last_used_service: used.map(|_| "s3".into()),
    }
}

/// Key 1 last used `days` days ago (created a year before); a second key used yesterday.
pub(crate) fn key_used(name: &str, days: i64) -> Record {
    let mut r = user(name);
    r.access_keys = [
        active_key(ago(365) + chrono::Duration::seconds(17), Some(ago(days))),
        active_key(ago(30) + chrono::Duration::seconds(42), Some(ago(1))),
    ];
    r
}

/// Key 1 unused for 120 days: deactivated in enforce mode.
pub(crate) fn stale_key(name: &str) -> Record {
    key_used(name, 120)
}

/// A console user set up 20 days ago with a key created 2 s later and never used: deleted in
/// enforce mode (initial-setup key). The password was used yesterday.
pub(crate) fn initial_key(name: &str) -> Record {
    let setup = ago(20);
    let mut r = user(name);
    r.user_creation_time = Some(setup);
    r.password_enabled = Some(true);
    r.password_last_changed = Some(setup);
    r.password_last_used = Some(ago(1));
    r.access_keys[0] = active_key(setup + chrono::Duration::seconds(2), None);
    r
}

/// A console password set 400 days ago and last used 120 days ago: deleted in enforce mode.
pub(crate) fn stale_password(name: &str) -> Record {
    let mut r = user(name);
    r.password_enabled = Some(true);
    r.password_last_changed = Some(ago(400));
    r.password_last_used = Some(ago(120));
    r
}

/// The account: a report of the root row and `users`, generated an hour ago, and live IAM as
/// the report describes it.
pub(crate) fn account(users: &[Record]) -> FakeAccount {
    let records: Vec<Record> = std::iter::once(root())
        .chain(users.iter().cloned())
        .collect();
    let a = FakeAccount::from_records(&records);
    a.set_generated_time(hours_ago(1));
    a
}

/// The live state of `users`, to show a run left them as they were.
fn live(a: &FakeAccount, users: &[&str]) -> Vec<Option<FakeUser>> {
    users.iter().map(|u| a.live(u)).collect()
}

/// The live status of `user`'s key 1 (`None` once deleted).
pub(crate) fn key1(a: &FakeAccount, user: &str) -> Option<KeyStatus> {
    a.key_status(user, &key_id(user, Slot::One))
}

fn denied(operation: &'static str) -> IamError {
    IamError::Other {
        operation,
        code: Some("AccessDenied".into()),
        message: format!("not authorized to perform: iam:{operation}"),
    }
}

fn gone(operation: &'static str, what: &str) -> IamError {
    IamError::NoSuchEntity {
        operation,
        message: format!("{what} cannot be found."),
    }
}

/// Settings with per-user reads only (`PAGED_READS=false`, the default), so each test counts the
/// per-user calls; the paged reads have their own tests, which compare the two.
pub(crate) fn settings(mode: Mode) -> Settings {
    Settings {
        policy: Policy {
            mode,
            ..Policy::default()
        },
        runtime: Runtime {
            sns_topic_arn: Some(TOPIC.into()),
            report_wait_seconds: 30,
            concurrency: 4,
            paged_reads: false,
            ..Runtime::default()
        },
    }
}

/// Settings with paged reads allowed (`PAGED_READS=true`).
fn paged_settings(mode: Mode) -> Settings {
    let mut s = settings(mode);
    s.runtime.paged_reads = true;
    s
}

/// What an EventBridge rule schedule sends.
pub(crate) fn scheduled_event() -> Value {
    json!({
        "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event", "source": "aws.events",
        "account": ACCOUNT, "time": "2026-11-23T02:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/nightly"], "detail": {}
    })
}

pub(crate) async fn run(a: &FakeAccount, settings: &Settings) -> Result<RunReport, RunError> {
    run_until(a, settings, None).await
}

/// A scheduled run with the Lambda's `deadline`.
async fn run_until(
    a: &FakeAccount,
    settings: &Settings,
    deadline: Option<tokio::time::Instant>,
) -> Result<RunReport, RunError> {
    sweep::handle(a, settings, &scheduled_event(), now(), deadline).await
}

/// The report of a run that completed but failed.
pub(crate) fn failed_report(result: Result<RunReport, RunError>) -> RunReport {
    match result {
        Err(RunError::Failed(report)) => *report,
        Ok(report) => panic!(
            "expected RunError::Failed, the run succeeded: {:?}",
            report.actions
        ),
        Err(other) => panic!("expected RunError::Failed, got {other}"),
    }
}

pub(crate) fn ok_report(result: Result<RunReport, RunError>) -> RunReport {
    match result {
        Ok(report) => report,
        Err(RunError::Failed(r)) => panic!("the run failed: {:?}; {:?}", r.problems, r.actions),
        Err(other) => panic!("expected success, got {other}"),
    }
}

/// The one outcome for `user`'s `credential`.
pub(crate) fn outcome<'a>(
    report: &'a RunReport,
    user: &str,
    credential: Credential,
) -> &'a Outcome {
    let found: Vec<&Outcome> = report
        .actions
        .iter()
        .filter(|o| o.user == user && o.credential == credential)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "outcomes for {user} {credential}: {found:?}"
    );
    found[0]
}

/// The outcome's detail as the mail and the logs show it.
fn detail(o: &Outcome) -> String {
    o.detail
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default()
}

fn problems(report: &RunReport) -> Vec<String> {
    report.problems.iter().map(ToString::to_string).collect()
}

fn counts(done: usize, already: usize, skipped: usize, failed: usize, not: usize) -> ActionCounts {
    ActionCounts {
        done,
        already_done: already,
        skipped_in_use: skipped,
        failed,
        not_taken: not,
    }
}

// ---------------------------------------------------------------------------------------------
// report mode

#[tokio::test]
async fn report_mode_lists_planned_actions_as_not_taken_and_changes_nothing() {
    let a = account(&[
        stale_key("kim"),
        initial_key("ivan"),
        stale_password("pat"),
        key_used("hana", 2),
    ]);

    let report = ok_report(run(&a, &settings(Mode::Report)).await);

    assert_eq!(report.audit.policy.mode, Mode::Report);
    assert_eq!(
        report.audit.findings.len(),
        3,
        "{:?}",
        report.audit.findings
    );
    assert_eq!(report.actions.len(), 3);
    for o in &report.actions {
        assert_eq!(o.status, Status::NotTaken, "{o:?}");
        assert_eq!((o.taken, &o.undo), (None, &None));
        assert_eq!(o.detail, Some(Detail::ReportMode));
        assert!(detail(o).contains("report mode"), "{o:?}");
    }
    assert_eq!(outcome(&report, "kim", KEY1).planned, Action::DeactivateKey);
    assert_eq!(outcome(&report, "ivan", KEY1).planned, Action::DeleteKey);
    assert_eq!(
        outcome(&report, "pat", Credential::Password).planned,
        Action::DeleteLoginProfile
    );
    assert_eq!(report.action_counts, counts(0, 0, 0, 0, 3));
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.account_id.as_deref(), Some(ACCOUNT));
    assert_eq!(report.report_generated_time, Some(hours_ago(1)));

    assert_eq!(a.mutations(), 0);
    assert_eq!(
        a.calls("ListAccessKeys"),
        0,
        "no live re-check in report mode"
    );
    let published = a.published();
    assert_eq!(published.len(), 1);
    let (topic, message) = &published[0];
    assert_eq!(topic, TOPIC);
    assert!(
        message.subject.contains(ACCOUNT) && message.subject.contains("report"),
        "the subject names the account and the mode: {}",
        message.subject
    );
    assert_eq!(report.published_message_id.as_deref(), Some("message-1"));
}

// ---------------------------------------------------------------------------------------------
// enforce: re-check, then act

#[tokio::test]
async fn enforce_rechecks_then_deactivates_deletes_key_and_deletes_password_with_undo() {
    let a = account(&[stale_key("kim"), initial_key("ivan"), stale_password("pat")]);

    let report = ok_report(run(&a, &settings(Mode::Enforce)).await);

    let (kim_key, ivan_key) = (key_id("kim", Slot::One), key_id("ivan", Slot::One));
    let kim = outcome(&report, "kim", KEY1);
    assert_eq!(kim.status, Status::Done, "{kim:?}");
    assert_eq!(kim.taken, Some(Action::DeactivateKey));
    assert_eq!(kim.access_key_id.as_deref(), Some(kim_key.as_str()));
    assert_eq!(
        kim.undo,
        Some(format!(
            "aws iam update-access-key --user-name kim --access-key-id {kim_key} --status Active"
        ))
    );
    let ivan = outcome(&report, "ivan", KEY1);
    assert_eq!(ivan.status, Status::Done, "{ivan:?}");
    assert_eq!(ivan.taken, Some(Action::DeleteKey));
    assert_eq!(ivan.access_key_id.as_deref(), Some(ivan_key.as_str()));
    assert!(
        (ivan.undo.as_deref())
            .is_some_and(|u| u.contains("aws iam create-access-key --user-name ivan")),
        "{ivan:?}"
    );
    let pat = outcome(&report, "pat", Credential::Password);
    assert_eq!(pat.status, Status::Done, "{pat:?}");
    assert_eq!(pat.taken, Some(Action::DeleteLoginProfile));
    assert_eq!(
        pat.undo.as_deref(),
        Some(
            "aws iam create-login-profile --user-name pat --password '<new>' --password-reset-required"
        )
    );
    assert_eq!(report.action_counts, counts(3, 0, 0, 0, 0));
    assert!(report.problems.is_empty());
    assert_eq!(report.published_message_id.as_deref(), Some("message-1"));

    // Each action exactly once, on the right key; nothing else changed.
    assert_eq!(a.calls_on("UpdateAccessKey", "kim"), 1);
    assert_eq!(a.calls_on("DeleteAccessKey", "ivan"), 1);
    assert_eq!(a.calls_on("DeleteLoginProfile", "pat"), 1);
    assert_eq!(a.mutations(), 3, "{:?}", a.all_calls());
    assert_eq!(key1(&a, "kim"), Some(KeyStatus::Inactive));
    assert_eq!(
        a.key_status("kim", &key_id("kim", Slot::Two)),
        Some(KeyStatus::Active)
    );
    assert_eq!(key1(&a, "ivan"), None);
    assert!(a.live("ivan").unwrap().login_profile.is_some());
    assert_eq!(a.live("pat").unwrap().login_profile, None);
    // The re-checks: keys listed and their last use read for the two key actions, the login
    // profile and the user read for the password; before each action the user's tags are read
    // twice, from GetUser and ListUserTags (the password's GetUser serves both).
    assert_eq!(a.calls("ListAccessKeys"), 2);
    assert_eq!(a.calls("GetAccessKeyLastUsed"), 2);
    assert_eq!(a.calls("GetLoginProfile"), 1);
    assert_eq!(a.calls("GetUser"), 3);
    assert_eq!(a.calls("ListUserTags"), 3);
    assert_eq!(a.calls("Publish"), 1);
}

#[tokio::test]
async fn initial_key_action_deactivate_deactivates_instead_of_deleting() {
    let a = account(&[initial_key("ivan")]);
    let mut s = settings(Mode::Enforce);
    s.policy.initial_key_action = InitialKeyAction::Deactivate;

    let report = ok_report(run(&a, &s).await);

    let ivan = outcome(&report, "ivan", KEY1);
    assert_eq!(
        (ivan.status, ivan.taken),
        (Status::Done, Some(Action::DeactivateKey))
    );
    assert_eq!(a.calls("DeleteAccessKey"), 0);
    assert_eq!(a.calls("UpdateAccessKey"), 1);
    assert_eq!(key1(&a, "ivan"), Some(KeyStatus::Inactive));
}

// ---------------------------------------------------------------------------------------------
// the live re-check: used since the report, key identification, already gone

#[tokio::test]
async fn key_used_since_the_report_is_skipped_in_use_and_not_deactivated() {
    let a = account(&[stale_key("kim")]);
    a.user("kim", |u| u.keys[0].last_used = Some(hours_ago(2)));

    let report = ok_report(run(&a, &settings(Mode::Enforce)).await);

    let kim = outcome(&report, "kim", KEY1);
    assert_eq!(kim.status, Status::SkippedInUse, "{kim:?}");
    assert_eq!((kim.taken, &kim.undo), (None, &None));
    assert_eq!(kim.detail, Some(Detail::KeyUsed(Some(hours_ago(2)))));
    assert!(detail(kim).contains(&hours_ago(2).to_rfc3339()), "{kim:?}");
    assert_eq!(report.action_counts, counts(0, 0, 1, 0, 0));
    assert_eq!(a.calls("GetAccessKeyLastUsed"), 1);
    assert_eq!(a.calls("UpdateAccessKey"), 0);
    assert_eq!(a.mutations(), 0);
}

#[tokio::test]
async fn password_used_since_the_report_is_skipped_in_use_and_not_deleted() {
    let a = account(&[stale_password("pat")]);
    a.user("pat", |u| u.password_last_used = Some(hours_ago(1)));

    let report = ok_report(run(&a, &settings(Mode::Enforce)).await);

    let pat = outcome(&report, "pat", Credential::Password);
    assert_eq!(pat.status, Status::SkippedInUse, "{pat:?}");
    assert_eq!(report.action_counts, counts(0, 0, 1, 0, 0));
    assert_eq!(a.calls("GetLoginProfile"), 1);
    assert_eq!(a.calls("GetUser"), 1);
    assert_eq!(a.calls("DeleteLoginProfile"), 0);
    assert_eq!(a.mutations(), 0);
}

#[tokio::test]
async fn key_without_a_live_match_or_with_two_is_not_taken_and_nothing_is_guessed() {
    let a = account(&[stale_key("kim"), stale_key("tom")]);
    // kim's key was replaced since the report: the live key is a second younger.
    a.user("kim", |u| u.keys[0].created += chrono::Duration::seconds(1));
    // tom has two live keys created within the same second as the report's.
    a.user("tom", |u| {
        let twin = FakeKey {
            id: "AKIATOMTWIN".into(),
            ..u.keys[0].clone()
        };
        u.keys[0].created -= chrono::Duration::milliseconds(500);
        u.keys.push(twin);
    });

    let report = ok_report(run(&a, &settings(Mode::Enforce)).await);

    let kim = outcome(&report, "kim", KEY1);
    assert_eq!(kim.status, Status::NotTaken, "{kim:?}");
    assert!(
        matches!(kim.detail, Some(Detail::NoLiveKey { .. })),
        "{kim:?}"
    );
    assert!(detail(kim).contains("no live access key"), "{kim:?}");
    assert_eq!(kim.access_key_id, None);
    let tom = outcome(&report, "tom", KEY1);
    assert_eq!(tom.status, Status::NotTaken, "{tom:?}");
    assert!(
        matches!(tom.detail, Some(Detail::AmbiguousKey { count: 2, .. })),
        "{tom:?}"
    );
    assert!(detail(tom).contains("2 live access keys"), "{tom:?}");
    assert_eq!(tom.access_key_id, None);
    assert_eq!(report.action_counts, counts(0, 0, 0, 0, 2));
    assert_eq!(a.calls("ListAccessKeys"), 2);
    assert_eq!(a.calls("GetAccessKeyLastUsed"), 0);
    assert_eq!(a.mutations(), 0);
}

/// NoSuchEntity on UpdateAccessKey or ListAccessKeys: the key or user is already gone. On
/// DeleteLoginProfile right after GetLoginProfile saw the password, it is this run's own change
/// whose answer was lost (the SDK retried the call): done.
#[tokio::test]
async fn no_such_entity_is_already_done_or_on_a_delete_this_runs_lost_answer() {
    let a = account(&[stale_key("kim"), stale_password("pat"), stale_key("gus")]);
    let kim_key = key_id("kim", Slot::One);
    let kim_gone = gone(
        "UpdateAccessKey",
        &format!("The Access Key with id {kim_key}"),
    );
    a.fail("UpdateAccessKey", Some("kim"), kim_gone);
    let pat_gone = gone("DeleteLoginProfile", "Login Profile for User pat");
    a.fail("DeleteLoginProfile", None, pat_gone);
    let gus_gone = gone("ListAccessKeys", "The user with name gus");
    a.fail("ListAccessKeys", Some("gus"), gus_gone);
    let before = live(&a, &["kim", "pat", "gus"]);

    let report = ok_report(run(&a, &settings(Mode::Enforce)).await);

    for (user, credential) in [("kim", KEY1), ("gus", KEY1)] {
        let o = outcome(&report, user, credential);
        assert_eq!(o.status, Status::AlreadyDone, "{o:?}");
        assert_eq!(o.undo, None, "{o:?}");
        assert!(matches!(o.detail, Some(Detail::Gone(_))), "{o:?}");
        assert!(detail(o).contains("NoSuchEntity"), "{o:?}");
    }
    let pat = outcome(&report, "pat", Credential::Password);
    assert_eq!(
        (pat.status, pat.taken),
        (Status::Done, Some(Action::DeleteLoginProfile))
    );
    assert!(pat.undo.is_some(), "{pat:?}");
    assert!(matches!(pat.detail, Some(Detail::AnswerLost(_))), "{pat:?}");
    assert!(detail(pat).contains("NoSuchEntity"), "{pat:?}");
    assert_eq!(report.action_counts, counts(1, 2, 0, 0, 0));
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(a.calls_on("UpdateAccessKey", "kim"), 1);
    assert_eq!(a.calls_on("DeleteLoginProfile", "pat"), 1);
    assert_eq!(a.calls_on("ListAccessKeys", "gus"), 1);
    assert_eq!(a.mutations(), 2, "only the two refused calls");
    assert_eq!(live(&a, &["kim", "pat", "gus"]), before);
}

#[tokio::test]
async fn password_already_removed_since_the_report_is_already_done() {
    // GetLoginProfile finds no password: nothing to delete.
    let a = account(&[stale_password("pat")]);
    a.user("pat", |u| u.login_profile = None);

    let report = ok_report(run(&a, &settings(Mode::Enforce)).await);

    assert_eq!(
        outcome(&report, "pat", Credential::Password).status,
        Status::AlreadyDone
    );
    assert_eq!(a.calls("GetUser"), 0);
    assert_eq!(a.mutations(), 0);
}

// ---------------------------------------------------------------------------------------------
// one action fails, the others go on

#[tokio::test]
async fn access_denied_on_one_user_fails_that_action_only_and_fails_the_run() {
    let a = account(&[stale_key("kim"), stale_key("dan")]);
    a.fail("UpdateAccessKey", Some("dan"), denied("UpdateAccessKey"));

    let report = failed_report(run(&a, &settings(Mode::Enforce)).await);

    let dan = outcome(&report, "dan", KEY1);
    assert_eq!(dan.status, Status::Failed, "{dan:?}");
    assert_eq!((dan.taken, &dan.undo), (None, &None));
    assert_eq!(dan.detail, Some(Detail::Call(denied("UpdateAccessKey"))));
    let text = detail(dan);
    assert!(
        text.contains("UpdateAccessKey") && text.contains("AccessDenied"),
        "{text}"
    );
    assert_eq!(outcome(&report, "kim", KEY1).status, Status::Done);
    assert_eq!(report.action_counts, counts(1, 0, 0, 1, 0));
    assert!(
        problems(&report)
            .iter()
            .any(|p| p.contains("1 action(s) failed: dan access_key_1: UpdateAccessKey")),
        "{:?}",
        report.problems
    );
    assert_eq!(a.calls_on("UpdateAccessKey", "dan"), 1);
    assert_eq!(a.calls("UpdateAccessKey"), 2);
    assert_eq!(
        (key1(&a, "kim"), key1(&a, "dan")),
        (Some(KeyStatus::Inactive), Some(KeyStatus::Active))
    );
    // The summary still goes out, saying the run failed.
    let published = a.published();
    assert_eq!(published.len(), 1);
    assert!(published[0].1.subject.contains("FAILED"), "{published:?}");
}

/// What the IAM adapter returns once the SDK's retries give up on throttling (see `aws_edge`).
#[tokio::test]
async fn throttling_that_never_clears_fails_that_action_only() {
    let a = account(&[stale_key("kim"), stale_key("dan")]);
    let throttled = IamError::Other {
        operation: "UpdateAccessKey",
        code: Some("Throttling".into()),
        message: "Rate exceeded".into(),
    };
    a.fail("UpdateAccessKey", Some("dan"), throttled);

    let report = failed_report(run(&a, &settings(Mode::Enforce)).await);

    let dan = outcome(&report, "dan", KEY1);
    assert_eq!(dan.status, Status::Failed, "{dan:?}");
    assert!(detail(dan).contains("Throttling"), "{dan:?}");
    assert_eq!(outcome(&report, "kim", KEY1).status, Status::Done);
    assert_eq!(report.action_counts, counts(1, 0, 0, 1, 0));
    assert_eq!(
        a.calls_on("UpdateAccessKey", "dan"),
        1,
        "the retries are the SDK's"
    );
    assert_eq!(key1(&a, "kim"), Some(KeyStatus::Inactive));
    assert_eq!(a.calls("Publish"), 1);
}

// ---------------------------------------------------------------------------------------------
// the cap and the deadline

#[tokio::test]
async fn more_planned_actions_than_max_actions_takes_none_and_fails_the_run() {
    let a = account(&[stale_key("kim"), stale_password("pat")]);
    let mut s = settings(Mode::Enforce);
    s.policy.max_actions = 1;

    let report = failed_report(run(&a, &s).await);

    assert_eq!(report.actions.len(), 2);
    for o in &report.actions {
        assert_eq!(o.status, Status::NotTaken, "{o:?}");
        assert!(detail(o).contains("MAX_ACTIONS"), "{o:?}");
    }
    assert_eq!(report.action_counts, counts(0, 0, 0, 0, 2));
    assert!(
        problems(&report)
            .iter()
            .any(|p| p.contains("MAX_ACTIONS (1)")),
        "{:?}",
        report.problems
    );
    assert_eq!(a.mutations(), 0);
    assert_eq!(a.calls("ListAccessKeys") + a.calls("GetLoginProfile"), 0);
    assert_eq!(a.calls("Publish"), 1);
}

#[tokio::test]
async fn exactly_max_actions_planned_are_all_taken() {
    let a = account(&[stale_key("kim"), stale_password("pat")]);
    let mut s = settings(Mode::Enforce);
    s.policy.max_actions = 2;

    let report = ok_report(run(&a, &s).await);

    assert_eq!(report.action_counts, counts(2, 0, 0, 0, 0));
    assert_eq!(a.mutations(), 2);
}

#[tokio::test]
async fn deadline_near_starts_no_action() {
    let a = account(&[stale_key("kim"), initial_key("ivan"), stale_password("pat")]);
    let deadline = Some(tokio::time::Instant::now() + Duration::from_secs(10));

    // Actions left undone fail the run, so the alarm fires.
    let report = failed_report(run_until(&a, &settings(Mode::Enforce), deadline).await);

    assert!(
        problems(&report).iter().any(|p| p.contains("deadline")),
        "{:?}",
        report.problems
    );
    assert_eq!(report.actions.len(), 3);
    for o in &report.actions {
        assert_eq!(o.status, Status::NotTaken, "{o:?}");
        assert!(detail(o).contains("deadline"), "{o:?}");
    }
    assert_eq!(report.action_counts, counts(0, 0, 0, 0, 3));
    assert_eq!(a.mutations(), 0);
    assert_eq!(a.calls("ListAccessKeys") + a.calls("GetLoginProfile"), 0);
}

#[tokio::test]
async fn deadline_far_away_does_not_hold_actions_back() {
    let a = account(&[stale_key("kim")]);
    let deadline = Some(tokio::time::Instant::now() + Duration::from_secs(600));

    let report = ok_report(run_until(&a, &settings(Mode::Enforce), deadline).await);

    assert_eq!(report.action_counts, counts(1, 0, 0, 0, 0));
    assert_eq!(a.calls("UpdateAccessKey"), 1);
}

// ---------------------------------------------------------------------------------------------
// the report cannot be had: nothing is touched

/// The report was asked for once, and nothing else happened but the failure summary, which names
/// `err`: no tags read, no re-check, no change.
fn assert_nothing_after_fetch(a: &FakeAccount, err: &RunError) {
    let calls: Vec<_> = a.all_calls().into_iter().collect();
    assert_eq!(calls, [("GetCredentialReport", 1), ("Publish", 1)]);
    let published = a.published();
    let (topic, message) = &published[0];
    assert_eq!(topic, TOPIC);
    assert!(message.subject.contains("FAILED"), "{}", message.subject);
    assert!(message.body.contains(&err.to_string()), "{}", message.body);
    assert!(
        message.body.contains("Nothing was touched"),
        "{}",
        message.body
    );
}

/// The fetch's errors reach the caller as they are. How the adapter arrives at each (no polling
/// after AccessDenied, the bounded wait, LimitExceeded polled until the wait runs out) is tested
/// on `credential_report::fetch` in `aws_edge`.
#[tokio::test]
async fn a_report_that_cannot_be_fetched_is_a_fetch_error_and_touches_nothing() {
    let cases = [
        FetchError::Api {
            operation: "GenerateCredentialReport",
            code: Some("AccessDenied".into()),
            message: "not authorized to perform: iam:GenerateCredentialReport".into(),
        },
        FetchError::Timeout {
            waited: Duration::from_millis(1_500),
            last: "GenerateCredentialReport state STARTED".into(),
        },
        // LimitExceeded forever is an error, never an empty report.
        FetchError::Timeout {
            waited: Duration::from_millis(1_500),
            last: "GenerateCredentialReport: LimitExceeded: Report generation limit exceeded"
                .into(),
        },
    ];
    for error in cases {
        let a = account(&[stale_key("kim")]);
        a.fail_report(error.clone());
        let mut s = settings(Mode::Enforce);
        s.runtime.report_wait_seconds = 3;

        let err = run(&a, &s).await.expect_err("no report");

        assert!(matches!(&err, RunError::Fetch(e) if *e == error), "{err:?}");
        assert_eq!(
            a.report_wait(),
            Some(Duration::from_secs(3)),
            "the wait is REPORT_WAIT_SECONDS"
        );
        assert_nothing_after_fetch(&a, &err);
    }
}

#[tokio::test]
async fn unreadable_report_is_a_parse_error_and_touches_nothing() {
    let a = FakeAccount::new();
    a.set_report(b"\0\x01<html>Service Unavailable</html>\n".to_vec());

    let err = run(&a, &settings(Mode::Enforce))
        .await
        .expect_err("garbage");

    assert!(matches!(err, RunError::Parse(_)), "{err:?}");
    assert_nothing_after_fetch(&a, &err);
}

#[tokio::test]
async fn report_with_one_bad_row_is_a_parse_error_even_for_the_good_rows() {
    let a = account(&[stale_key("kim"), stale_key("zed")]);
    let good = render(&[root(), stale_key("kim")]);
    let bad_row = render(&[stale_key("zed")])
        .lines()
        .nth(1)
        .expect("a row")
        .replace(&ago(120).to_rfc3339(), "last tuesday");
    a.set_report(format!("{good}{bad_row}\n").into_bytes());

    let err = run(&a, &settings(Mode::Enforce))
        .await
        .expect_err("half a report");

    let RunError::Parse(e) = &err else {
        panic!("expected a parse error, got {err:?}");
    };
    let e = e.to_string();
    assert!(
        e.contains("line 4") && e.contains("access_key_1_last_used_date"),
        "{e}"
    );
    assert_nothing_after_fetch(&a, &err);
}

// ---------------------------------------------------------------------------------------------
// the event

#[tokio::test]
async fn bad_events_are_refused_before_any_call() {
    let a = account(&[stale_key("kim")]);
    let cases = [
        (json!({"mode": "enforce"}), Mode::Report),
        (json!({"mode": "report", "dry_run": true}), Mode::Enforce),
        (json!({"mode": "enforcing"}), Mode::Enforce),
        (json!({"as_of": "2027-01-01T00:00:00Z"}), Mode::Enforce),
        (json!(["report"]), Mode::Enforce),
    ];
    for (event, deployed) in cases {
        let result = sweep::handle(&a, &settings(deployed), &event, now(), None).await;
        let err = result.expect_err("refused");
        assert!(matches!(err, RunError::Event(_)), "{event}: {err:?}");
        assert!(err.is_bad_input());
    }
    assert_eq!(a.total_calls(), 0);
}

#[tokio::test]
async fn report_event_on_an_enforcing_deployment_is_a_dry_run() {
    let a = account(&[stale_key("kim"), stale_password("pat")]);
    let event = json!({"mode": "report"});

    let result = sweep::handle(&a, &settings(Mode::Enforce), &event, now(), None).await;
    let report = ok_report(result);

    assert!(report.invocation.dry_run_requested);
    assert_eq!(report.invocation.mode, Mode::Report);
    assert_eq!(report.invocation.trigger, Trigger::OnDemand);
    assert_eq!(report.audit.policy.mode, Mode::Report);
    assert_eq!(report.action_counts, counts(0, 0, 0, 0, 2));
    assert_eq!(a.mutations(), 0);
    assert_eq!(a.calls("ListAccessKeys"), 0);
    let published = a.published();
    assert_eq!(published.len(), 1);
    let message = &published[0].1;
    assert!(message.subject.contains(" report:"), "{}", message.subject);
    assert!(
        message.body.contains("dry run requested"),
        "{}",
        message.body
    );
}

// ---------------------------------------------------------------------------------------------
// the summary cannot be published

#[tokio::test]
async fn publish_failure_fails_the_run_but_keeps_the_outcomes() {
    let a = account(&[stale_key("kim"), stale_password("pat")]);
    a.fail_publish(PublishError {
        topic_arn: TOPIC.into(),
        code: Some("AuthorizationError".into()),
        message: "not authorized to perform: SNS:Publish".into(),
    });

    let report = failed_report(run(&a, &settings(Mode::Enforce)).await);

    assert_eq!(report.action_counts, counts(2, 0, 0, 0, 0));
    assert_eq!(outcome(&report, "kim", KEY1).status, Status::Done);
    assert!(outcome(&report, "kim", KEY1).undo.is_some());
    assert_eq!(
        outcome(&report, "pat", Credential::Password).status,
        Status::Done
    );
    assert_eq!(report.published_message_id, None);
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(matches!(report.problems[0], Problem::NotPublished(_)));
    let problem = report.problems[0].to_string();
    assert!(
        problem.contains("publishing to")
            && problem.contains(TOPIC)
            && problem.contains("AuthorizationError"),
        "{problem}"
    );
    assert_eq!(a.calls("Publish"), 1);
    assert_eq!(a.mutations(), 2);
}

// ---------------------------------------------------------------------------------------------
// exemption tags

/// Four users with stale keys, tagged `true`, a future date, a past date and a typo.
fn tagged() -> FakeAccount {
    let a = account(&[
        stale_key("keep"),
        stale_key("until"),
        stale_key("lapsed"),
        stale_key("typo"),
    ]);
    a.tag("keep", TAG_KEY, "true");
    a.tag("until", TAG_KEY, "2999-01-01");
    a.tag("lapsed", TAG_KEY, "2000-01-01");
    a.tag("typo", TAG_KEY, "maybe");
    a
}

fn key1_finding<'a>(report: &'a RunReport, user: &str) -> &'a Finding {
    (report.audit.findings.iter())
        .find(|f| f.user == user && f.credential == KEY1)
        .unwrap_or_else(|| panic!("finding for {user}"))
}

/// In enforce mode under the cap, each user's tags are read once, right before the action and
/// after the live re-check (docs/rules.md), so a tag added while the run was under way counts.
#[tokio::test]
async fn exemption_tags_true_or_future_date_exempt_expired_or_invalid_do_not() {
    let a = tagged();

    let report = ok_report(run(&a, &settings(Mode::Enforce)).await);

    for (user, value) in [("keep", "true"), ("until", "2999-01-01")] {
        let tag = Exemption::Tag {
            key: TAG_KEY.into(),
            value: value.into(),
        };
        // Found exempt right before the action: an exemption, not an action (no outcome).
        assert!(
            report.actions.iter().all(|o| o.user != user),
            "{:?}",
            report.actions
        );
        assert_eq!(key1(&a, user), Some(KeyStatus::Active));
        let f = key1_finding(&report, user);
        assert!(f.exempt, "{f:?}");
        assert_eq!(f.exemption, Some(tag));
    }
    let lapsed = key1_finding(&report, "lapsed");
    assert!(
        !lapsed.exempt && lapsed.invalid_exemption.is_none(),
        "{lapsed:?}"
    );
    assert!(!key1_finding(&report, "typo").exempt);
    assert_eq!(outcome(&report, "lapsed", KEY1).status, Status::Done);
    assert_eq!(outcome(&report, "typo", KEY1).status, Status::Done);
    assert_eq!(report.action_counts, counts(2, 0, 0, 0, 0));
    assert_eq!(report.audit.counts.exempt, 2);
    assert_eq!(a.calls("ListUserTags"), 4);
    assert_eq!(a.calls("UpdateAccessKey"), 2);
    assert_eq!(key1(&a, "lapsed"), Some(KeyStatus::Inactive));
    assert_eq!(key1(&a, "typo"), Some(KeyStatus::Inactive));
    assert_eq!(a.calls("ListAccessKeys"), 4, "re-checked, then tags read");
}

/// The two assertions of the test above that the tags read right before an action do not meet:
/// an exempt finding loses its action, and an invalid tag value is reported, never silently
/// ignored (docs/rules.md, "Names and exemptions").
#[tokio::test]
async fn tags_read_before_an_action_still_drop_its_action_and_report_an_invalid_value() {
    let a = tagged();

    let report = ok_report(run(&a, &settings(Mode::Enforce)).await);

    for user in ["keep", "until"] {
        let f = key1_finding(&report, user);
        assert_eq!(f.action, Action::None, "{f:?}");
    }
    let typo = key1_finding(&report, "typo");
    assert!(
        (typo.invalid_exemption.as_deref()).is_some_and(|e| e.contains("maybe")),
        "{typo:?}"
    );
    assert_eq!(report.audit.counts.invalid_exemptions, 1);
}

#[tokio::test]
async fn unreadable_tags_fail_that_users_action_without_touching_the_user() {
    let a = account(&[stale_key("kim"), stale_key("dan")]);
    a.fail("ListUserTags", Some("dan"), denied("ListUserTags"));

    let report = failed_report(run(&a, &settings(Mode::Enforce)).await);

    let dan = outcome(&report, "dan", KEY1);
    assert_eq!(dan.status, Status::Failed, "{dan:?}");
    assert_eq!(dan.taken, None);
    let unreadable = Detail::TagsUnreadable(denied("ListUserTags"));
    assert_eq!(dan.detail, Some(unreadable));
    let text = detail(dan);
    assert!(
        text.contains("tags") && text.contains("AccessDenied"),
        "{text}"
    );
    assert_eq!(outcome(&report, "kim", KEY1).status, Status::Done);
    assert_eq!(report.action_counts, counts(1, 0, 0, 1, 0));
    assert_eq!(a.calls_on("ListUserTags", "dan"), 1);
    assert_eq!(a.calls_on("ListAccessKeys", "dan"), 1, "re-checked first");
    assert_eq!(a.calls("UpdateAccessKey"), 1);
    assert_eq!(
        (key1(&a, "kim"), key1(&a, "dan")),
        (Some(KeyStatus::Inactive), Some(KeyStatus::Active))
    );

    // Tags read up front (report mode) name the user in the run's tag errors.
    let a = account(&[stale_key("kim"), stale_key("dan")]);
    a.fail("ListUserTags", Some("dan"), denied("ListUserTags"));
    let report = ok_report(run(&a, &settings(Mode::Report)).await);
    assert_eq!(report.tag_errors.len(), 1);
    assert!(
        report.tag_errors[0].to_string().starts_with("dan: "),
        "{:?}",
        report.tag_errors
    );
}

// ---------------------------------------------------------------------------------------------
// paged reads: tags for many users in account-wide reads
//
// Tags are read up front only where a decision needs them: the plan in report mode, the cap in
// enforce mode; in enforce mode under the cap each action reads its user's tags (and password
// use) right before it is taken, whatever `PAGED_READS` says. The fake answers an account-wide
// read in one call; following `Marker` across IAM's pages is the adapter's, tested in `aws_edge`.

/// A night with many findings: stale keys (one user exempt by tag), stale passwords (one used
/// since the report) and an initial-setup key.
fn many_findings() -> FakeAccount {
    let a = account(&[
        stale_key("k1"),
        stale_key("k2"),
        stale_key("k3"),
        stale_key("keep"),
        stale_password("p1"),
        stale_password("p2"),
        stale_password("back"),
        initial_key("fresh"),
        key_used("busy", 1),
    ]);
    a.tag("keep", TAG_KEY, "true");
    a.user("back", |u| u.password_last_used = Some(hours_ago(2)));
    a
}

/// The outcomes of a run as comparable text (status, action taken, key, detail).
fn outcomes(report: &RunReport) -> Vec<String> {
    (report.actions.iter())
        .map(|o| {
            let (user, credential, status) = (&o.user, o.credential, o.status);
            let (taken, key, detail) = (o.taken, &o.access_key_id, &o.detail);
            format!("{user} {credential} {status:?} {taken:?} {key:?} {detail:?}")
        })
        .collect()
}

fn is_exempt(report: &RunReport, user: &str) -> bool {
    (report.audit.findings.iter()).any(|f| f.user == user && f.exempt)
}

/// Runs `many_findings` per user and with pages allowed, in `mode`; both must decide the same.
async fn per_user_and_paged(mode: Mode) -> (FakeAccount, RunReport, FakeAccount, RunReport) {
    let per_user = many_findings();
    let by_user = ok_report(run(&per_user, &settings(mode)).await);
    let paged = many_findings();
    let by_page = ok_report(run(&paged, &paged_settings(mode)).await);
    assert_eq!(outcomes(&by_page), outcomes(&by_user));
    assert_eq!(
        serde_json::to_value(&by_page.audit).unwrap(),
        serde_json::to_value(&by_user.audit).unwrap()
    );
    assert!(is_exempt(&by_page, "keep"));
    (per_user, by_user, paged, by_page)
}

#[tokio::test]
async fn paged_reads_decide_exactly_as_per_user_reads_in_fewer_calls() {
    // Report mode: the 8 users with a planned action, in one ListUserTags each or one page.
    let (per_user, _, paged, by_page) = per_user_and_paged(Mode::Report).await;
    assert_eq!(by_page.action_counts, counts(0, 0, 0, 0, 7));
    assert_eq!(per_user.calls("ListUserTags"), 8);
    assert_eq!(per_user.calls("GetAccountAuthorizationDetails"), 0);
    assert_eq!(paged.calls("ListUserTags"), 0);
    assert_eq!(paged.calls("GetAccountAuthorizationDetails"), 1);

    // Enforce mode: the same decisions either way, from reads right before each action.
    let (per_user, _, paged, by_page) = per_user_and_paged(Mode::Enforce).await;
    assert_eq!(by_page.action_counts, counts(6, 0, 1, 0, 0));
    assert_eq!(
        outcome(&by_page, "back", Credential::Password).status,
        Status::SkippedInUse,
        "a password used since the report, as GetUser shows it, is left alone"
    );
    for a in [&per_user, &paged] {
        // A ListUserTags for each of the 7 actions that pass their re-check, a GetUser and a
        // GetLoginProfile per password, a GetUser (the second read of the tags) per key action
        // that passes its re-check, no account-wide read.
        assert_eq!(a.calls("ListUserTags"), 7);
        assert_eq!(a.calls("GetUser"), 8);
        assert_eq!(a.calls("GetLoginProfile"), 3);
        assert_eq!(a.calls("GetAccountAuthorizationDetails"), 0);
        assert_eq!(a.calls("ListUsers"), 0);
    }
    assert_eq!(paged.all_calls(), per_user.all_calls());
}

#[tokio::test]
async fn report_mode_reads_tags_in_pages_and_never_lists_password_use() {
    let a = many_findings();

    let report = ok_report(run(&a, &paged_settings(Mode::Report)).await);

    assert!(is_exempt(&report, "keep"));
    assert_eq!(a.calls("GetAccountAuthorizationDetails"), 1);
    assert_eq!(a.calls("ListUserTags"), 0);
    assert_eq!(a.calls("ListUsers"), 0, "no re-check in report mode");
    assert_eq!(a.mutations(), 0);
}

#[tokio::test]
async fn refused_paged_reads_fall_back_to_per_user_reads_with_the_same_outcomes() {
    let per_user = many_findings();
    let by_user = ok_report(run(&per_user, &settings(Mode::Report)).await);
    let a = many_findings();
    let pages_denied = denied("GetAccountAuthorizationDetails");
    a.fail("GetAccountAuthorizationDetails", None, pages_denied);

    let report = ok_report(run(&a, &paged_settings(Mode::Report)).await);

    assert_eq!(outcomes(&report), outcomes(&by_user));
    assert_eq!(
        serde_json::to_value(&report.audit).unwrap(),
        serde_json::to_value(&by_user.audit).unwrap()
    );
    assert_eq!(a.calls("GetAccountAuthorizationDetails"), 1);
    assert_eq!(a.calls("ListUserTags"), 8);
    assert!(report.problems.is_empty() && report.tag_errors.is_empty());
}

#[tokio::test]
async fn a_user_missing_from_the_pages_is_asked_on_its_own() {
    let a = many_findings();
    a.tag("k2", TAG_KEY, "true");
    // Pages that do not list k2 (as if IAM had lost it between two pages).
    a.hide_from_pages("k2");

    let report = ok_report(run(&a, &paged_settings(Mode::Report)).await);

    assert_eq!(a.calls("GetAccountAuthorizationDetails"), 1);
    assert_eq!(a.calls("ListUserTags"), 1, "only k2 is asked on its own");
    assert_eq!(a.calls_on("ListUserTags", "k2"), 1);
    assert!(
        is_exempt(&report, "k2"),
        "k2's tag, read on its own, still exempts it"
    );
    assert!(report.actions.iter().all(|o| o.user != "k2"));
}

#[tokio::test]
async fn few_findings_read_per_user_even_when_pages_are_allowed() {
    let a = account(&[stale_key("solo"), key_used("busy", 1)]);

    let report = ok_report(run(&a, &paged_settings(Mode::Enforce)).await);

    assert_eq!(report.action_counts, counts(1, 0, 0, 0, 0));
    assert_eq!(a.calls("ListUserTags"), 1);
    assert_eq!(a.calls("GetAccountAuthorizationDetails"), 0);
    assert_eq!(a.calls("ListUsers"), 0);

    // Up front too (report mode): one user needs tags, fewer calls than a page.
    let a = account(&[stale_key("solo"), key_used("busy", 1)]);
    ok_report(run(&a, &paged_settings(Mode::Report)).await);
    assert_eq!(a.calls("ListUserTags"), 1);
    assert_eq!(a.calls("GetAccountAuthorizationDetails"), 0);
}

// ---------------------------------------------------------------------------------------------
// the summary

#[tokio::test]
async fn summary_lists_every_section_with_undo_commands_dates_and_errors() {
    let a = account(&[
        stale_key("kim"),
        stale_password("pat"),
        key_used("uma", 85), // disabled in 5 days
        stale_key("ella"),
        stale_key("sam"),
        stale_key("dan"),
    ]);
    a.user("sam", |u| u.keys[0].last_used = Some(hours_ago(2)));
    a.tag("ella", TAG_KEY, "true");
    a.fail("UpdateAccessKey", Some("dan"), denied("UpdateAccessKey"));

    let report = failed_report(run(&a, &settings(Mode::Enforce)).await);
    // ella's tag, read right before her action, stops it: she is exempt, not an action.
    assert_eq!(report.action_counts, counts(2, 0, 1, 1, 0));
    let message = summary::build(&report);

    // What was published is this very summary.
    assert_eq!(a.published(), vec![(TOPIC.to_string(), message.clone())]);

    let subject = &message.subject;
    assert!(subject.len() < 100, "{subject}");
    assert!(
        subject.chars().all(|c| c == ' ' || c.is_ascii_graphic()),
        "{subject:?}"
    );
    for part in [
        ACCOUNT,
        "enforce",
        "FAILED",
        "2 done",
        "1 failed",
        "1 skipped",
    ] {
        assert!(subject.contains(part), "{part} missing from {subject}");
    }

    let body = &message.body;
    let section = |title: &str| -> String {
        let start = (body.find(&format!("\n{title}")))
            .unwrap_or_else(|| panic!("no section {title} in\n{body}"));
        let rest = &body[start + 1..];
        rest[..rest.find("\n\n").unwrap_or(rest.len())].to_string()
    };
    let taken = section("ACTIONS TAKEN");
    let kim_key = key_id("kim", Slot::One);
    let undo_kim = format!(
        "aws iam update-access-key --user-name kim --access-key-id {kim_key} --status Active"
    );
    assert!(taken.contains(&undo_kim), "{taken}");
    let undo_pat =
        "aws iam create-login-profile --user-name pat --password '<new>' --password-reset-required";
    assert!(taken.contains(undo_pat), "{taken}");
    let upcoming = section("UPCOMING");
    assert!(upcoming.contains("uma access_key_1"), "{upcoming}");
    assert!(
        upcoming.contains("disabled on 2026-11-28 02:00 UTC"),
        "{upcoming}"
    );
    let exempt = section("EXEMPT");
    assert!(
        exempt.contains("ella") && exempt.contains("tag iam-sweeper:exempt=true"),
        "{exempt}"
    );
    let skipped = section("SKIPPED: USED SINCE THE REPORT");
    assert!(skipped.contains("sam access_key_1"), "{skipped}");
    let failed = section("FAILED");
    assert!(failed.contains("dan access_key_1"), "{failed}");
    assert!(
        failed.contains(
            "error: UpdateAccessKey: not authorized to perform: iam:UpdateAccessKey (AccessDenied)"
        ),
        "{failed}"
    );
    assert!(body.contains("THIS RUN FAILED"), "{body}");
}

#[test]
fn summary_of_5000_findings_stays_under_the_sns_limit() {
    let policy = Policy::default();
    let records = synthetic::records(20_000, now());
    let findings = rules::evaluate(&records, &policy, now());
    assert_eq!(findings.len(), 5_000);
    let actions: Vec<Outcome> = (findings.iter())
        .filter(|f| f.planned())
        .map(|f| Outcome::not_taken(f, Detail::ReportMode))
        .collect();
    let report = RunReport {
        run_id: "20261201T020000Z-00000000".into(),
        account_id: run::account_id(records.iter().map(|r| r.arn.as_str())),
        audit: Audit::from_findings(findings, &policy, now()),
        invocation: Invocation {
            trigger: Trigger::Schedule,
            mode: Mode::Report,
            dry_run_requested: false,
            as_of: None,
        },
        report_generated_time: Some(hours_ago(1)),
        action_counts: ActionCounts::of(&actions),
        actions,
        tag_errors: Vec::new(),
        problems: Vec::new(),
        published_message_id: None,
        omitted: Default::default(),
        owner_mail: Default::default(),
        journal: None,
    };

    let message = summary::build(&report);

    assert!(
        message.body.len() < summary::MAX_BODY_BYTES,
        "{}",
        message.body.len()
    );
    assert!(
        (message.body.trim_end()).ends_with("see the function's logs for everything."),
        "{}",
        &message.body[message.body.len() - 300..]
    );
    assert!(message.body.contains("more lines left out"));
    assert!(message.subject.len() < 100 && message.subject.contains(ACCOUNT));
    assert!(
        message.subject.contains("5000 findings"),
        "{}",
        message.subject
    );
}
