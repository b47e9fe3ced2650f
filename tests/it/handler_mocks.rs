//! The handler (`iam_sweeper::handler::handle`) end to end on mocked IAM and SNS clients.
//!
//! Every test builds a credential report from `Record`s, a "live IAM" world that agrees with it
//! (each key's `CreateDate` 0.7 s past the report's second, last use as in the report), and
//! mocked clients in `RuleMode::MatchAny` answering from that world. A test changes the world or
//! puts an overriding rule in front (the first matching rule wins), runs one sweep at a fixed
//! `now`, and checks the `RunReport` and how often each mutating IAM operation was called.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_iam::config::http::HttpResponse;
use aws_sdk_iam::config::retry::RetryConfig;
use aws_sdk_iam::error::ErrorMetadata;
use aws_sdk_iam::operation::delete_access_key::DeleteAccessKeyOutput;
use aws_sdk_iam::operation::delete_login_profile::DeleteLoginProfileOutput;
use aws_sdk_iam::operation::generate_credential_report::GenerateCredentialReportOutput;
use aws_sdk_iam::operation::get_access_key_last_used::GetAccessKeyLastUsedOutput;
use aws_sdk_iam::operation::get_account_authorization_details::GetAccountAuthorizationDetailsOutput;
use aws_sdk_iam::operation::get_credential_report::GetCredentialReportOutput;
use aws_sdk_iam::operation::get_login_profile::{GetLoginProfileError, GetLoginProfileOutput};
use aws_sdk_iam::operation::get_user::GetUserOutput;
use aws_sdk_iam::operation::list_access_keys::ListAccessKeysOutput;
use aws_sdk_iam::operation::list_user_tags::ListUserTagsOutput;
use aws_sdk_iam::operation::list_users::ListUsersOutput;
use aws_sdk_iam::operation::update_access_key::UpdateAccessKeyOutput;
use aws_sdk_iam::primitives::{Blob, DateTime as SmithyDateTime};
use aws_sdk_iam::types::error::NoSuchEntityException;
use aws_sdk_iam::types::{
    AccessKeyLastUsed, AccessKeyMetadata, EntityType, LoginProfile, ReportStateType, StatusType,
    Tag, User, UserDetail,
};
use aws_sdk_sns::operation::publish::PublishOutput;
use aws_smithy_mocks::{MockResponse, Rule, RuleMode, mock, mock_client};
use aws_smithy_types::body::SdkBody;
use chrono::{DateTime, TimeZone, Utc};
use iam_sweeper::core::audit::Audit;
use iam_sweeper::aws::Clients;
use iam_sweeper::aws::credential_report::FetchError;
use iam_sweeper::core::config::{InitialKeyAction, Mode, Policy, Runtime};
use iam_sweeper::enforce::{Outcome, Status};
use iam_sweeper::core::event::{Invocation, Trigger};
use iam_sweeper::core::finding::{Action, Credential, Exemption, Slot};
use iam_sweeper::handler::{self, ActionCounts, RunError, RunReport, Settings};
use iam_sweeper::core::report::{self, AccessKeyColumns, Record};
use iam_sweeper::{rules, summary, synthetic};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// time, names, report rows

const ACCOUNT: &str = "123456789012";
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:iam-sweeper";
const TAG_KEY: &str = "iam-sweeper:exempt";

/// The run's clock: every date in a report is relative to it.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 2, 0, 0)
        .single()
        .expect("valid date")
}

fn ago(days: i64) -> DateTime<Utc> {
    now() - chrono::Duration::days(days)
}

fn hours_ago(hours: i64) -> DateTime<Utc> {
    now() - chrono::Duration::hours(hours)
}

fn smithy(dt: DateTime<Utc>) -> SmithyDateTime {
    SmithyDateTime::from_secs_and_nanos(dt.timestamp(), dt.timestamp_subsec_nanos())
}

/// The access key ID the live world gives `user`'s key in `slot`.
fn key_id(user: &str, slot: Slot) -> String {
    format!(
        "AKIA{}{}",
        user.to_ascii_uppercase().replace('-', ""),
        slot.number()
    )
}

fn root() -> Record {
    Record {
        user: report::ROOT_USER.into(),
        arn: format!("arn:aws:iam::{ACCOUNT}:root"),
        user_creation_time: Some(ago(2000)),
        password_enabled: None,
        password_last_used: Some(ago(3)),
        password_last_changed: None,
        password_next_rotation: None,
        mfa_active: Some(true),
        access_keys: Default::default(),
        certs: Default::default(),
    }
}

/// A user created 400 days ago with no password and no keys.
fn user(name: &str) -> Record {
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

fn active_key(created: DateTime<Utc>, used: Option<DateTime<Utc>>) -> AccessKeyColumns {
    AccessKeyColumns {
        active: Some(true),
        last_rotated: Some(created),
        last_used_date: used,
        last_used_region: used.map(|_| "eu-west-1".into()),
        last_used_service: used.map(|_| "s3".into()),
    }
}

/// Key 1 last used `days` days ago (created a year before); a second key used yesterday.
fn key_used(name: &str, days: i64) -> Record {
    let mut r = user(name);
    r.access_keys = [
        active_key(ago(365) + chrono::Duration::seconds(17), Some(ago(days))),
        active_key(ago(30) + chrono::Duration::seconds(42), Some(ago(1))),
    ];
    r
}

/// Key 1 unused for 120 days: deactivated in enforce mode.
fn stale_key(name: &str) -> Record {
    key_used(name, 120)
}

/// A console user set up 20 days ago with a key created 2 s later and never used: deleted in
/// enforce mode (initial-setup key). The password was used yesterday.
fn initial_key(name: &str) -> Record {
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
fn stale_password(name: &str) -> Record {
    let mut r = user(name);
    r.password_enabled = Some(true);
    r.password_last_changed = Some(ago(400));
    r.password_last_used = Some(ago(120));
    r
}

fn csv(users: &[Record]) -> String {
    let mut all = vec![root()];
    all.extend_from_slice(users);
    report::render(&all)
}

// ---------------------------------------------------------------------------------------------
// the live IAM world the mocks answer from

#[derive(Clone, Debug)]
struct LiveKey {
    id: String,
    status: StatusType,
    created: DateTime<Utc>,
    last_used: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, Default)]
struct LiveUser {
    keys: Vec<LiveKey>,
    /// The login profile's CreateDate; `None` means GetLoginProfile answers NoSuchEntity.
    profile_created: Option<DateTime<Utc>>,
    password_last_used: Option<DateTime<Utc>>,
    tags: Vec<(String, String)>,
}

#[derive(Clone, Debug, Default)]
struct World {
    users: BTreeMap<String, LiveUser>,
}

impl World {
    /// IAM as the report describes it, each key created 0.7 s after the report's second.
    fn from_report(records: &[Record]) -> Self {
        let mut users = BTreeMap::new();
        for r in records.iter().filter(|r| !r.is_root()) {
            let keys = Slot::BOTH
                .into_iter()
                .filter_map(|slot| {
                    let k = &r.access_keys[slot.index()];
                    k.last_rotated.map(|created| LiveKey {
                        id: key_id(&r.user, slot),
                        status: if k.is_active() {
                            StatusType::Active
                        } else {
                            StatusType::Inactive
                        },
                        created: created + chrono::Duration::milliseconds(700),
                        last_used: k.last_used_date,
                    })
                })
                .collect();
            let live = LiveUser {
                keys,
                profile_created: r
                    .has_password()
                    .then(|| r.password_last_changed.or(r.user_creation_time))
                    .flatten(),
                password_last_used: r.password_last_used,
                tags: Vec::new(),
            };
            users.insert(r.user.clone(), live);
        }
        World { users }
    }

    fn user(&mut self, name: &str) -> &mut LiveUser {
        self.users.get_mut(name).expect("user in the world")
    }

    fn tag(mut self, name: &str, value: &str) -> Self {
        self.user(name).tags.push((TAG_KEY.into(), value.into()));
        self
    }
}

/// Users per page of the mocked account-wide reads: small, so a handful of users spans pages.
const MOCK_PAGE: usize = 2;

/// The page of the world's users (in name order) that `marker` starts, and the next marker.
fn page_of<'a>(
    world: &'a World,
    marker: Option<&str>,
) -> (Vec<(&'a String, &'a LiveUser)>, Option<String>) {
    let start: usize = marker.map_or(0, |m| m.parse().expect("a marker this mock issued"));
    let page: Vec<_> = world.users.iter().skip(start).take(MOCK_PAGE).collect();
    let next = (start + MOCK_PAGE < world.users.len()).then(|| (start + MOCK_PAGE).to_string());
    (page, next)
}

fn tags_of(live: &LiveUser) -> Vec<Tag> {
    live.tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().expect("valid tag"))
        .collect()
}

/// A live user as `GetUser` and `ListUsers` describe it, with `PasswordLastUsed`.
fn live_user(name: &str, live: &LiveUser) -> User {
    User::builder()
        .path("/")
        .user_name(name)
        .user_id(format!("AIDA{}", name.to_ascii_uppercase()))
        .arn(format!("arn:aws:iam::{ACCOUNT}:user/{name}"))
        .create_date(smithy(ago(400)))
        .set_password_last_used(live.password_last_used.map(smithy))
        .build()
        .expect("valid User")
}

/// The world's users as `ListUsers` pages them, with `PasswordLastUsed`.
fn list_users_output(world: &World, marker: Option<&str>) -> ListUsersOutput {
    let (page, next) = page_of(world, marker);
    let users = page
        .into_iter()
        .map(|(name, live)| live_user(name, live))
        .collect();
    ListUsersOutput::builder()
        .set_users(Some(users))
        .is_truncated(next.is_some())
        .set_marker(next)
        .build()
        .expect("valid ListUsers output")
}

/// The world's users as `GetAccountAuthorizationDetails` pages them, with their tags.
fn authorization_details_output(
    world: &World,
    marker: Option<&str>,
) -> GetAccountAuthorizationDetailsOutput {
    let (page, next) = page_of(world, marker);
    let users = page
        .into_iter()
        .map(|(name, live)| {
            let tags = tags_of(live);
            UserDetail::builder()
                .user_name(name)
                .set_tags((!tags.is_empty()).then_some(tags))
                .build()
        })
        .collect();
    GetAccountAuthorizationDetailsOutput::builder()
        .set_user_detail_list(Some(users))
        .is_truncated(next.is_some())
        .set_marker(next)
        .build()
}

fn list_keys_output(live: &LiveUser) -> ListAccessKeysOutput {
    let keys = live
        .keys
        .iter()
        .map(|k| {
            AccessKeyMetadata::builder()
                .access_key_id(&k.id)
                .status(k.status.clone())
                .create_date(smithy(k.created))
                .build()
        })
        .collect();
    ListAccessKeysOutput::builder()
        .set_access_key_metadata(Some(keys))
        .is_truncated(false)
        .build()
        .expect("valid ListAccessKeys output")
}

/// IAM's NoSuchEntity as the SDK models it, with the code the crate maps on.
fn no_such_entity(what: &str) -> NoSuchEntityException {
    let message = format!("The {what} cannot be found.");
    NoSuchEntityException::builder()
        .message(&message)
        .meta(
            ErrorMetadata::builder()
                .code("NoSuchEntity")
                .message(&message)
                .build(),
        )
        .build()
}

/// The query-protocol error body IAM and SNS send.
fn error_xml(code: &str, message: &str) -> String {
    format!(
        "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message>\
         </Error><RequestId>x</RequestId></ErrorResponse>"
    )
}

/// A rule answering `$op` (for requests `$when` accepts) with a real wire error, every time.
macro_rules! wire_error {
    ($op:path, $status:expr, $code:expr, $msg:expr) => {
        wire_error!($op, $status, $code, $msg, |_req| true)
    };
    ($op:path, $status:expr, $code:expr, $msg:expr, $when:expr) => {
        mock!($op)
            .match_requests($when)
            .sequence()
            .http_status($status, Some(error_xml($code, $msg)))
            .repeatedly()
            .build()
    };
}

const THROTTLING_XML: &str = "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>\
    <Message>Rate exceeded</Message></Error><RequestId>x</RequestId></ErrorResponse>";

/// Every rule of one run, so a test can count the calls of each operation.
struct Mocks {
    generate: Rule,
    get_report: Rule,
    list_tags: Rule,
    authorization_details: Rule,
    list_users: Rule,
    list_keys: Rule,
    key_last_used: Rule,
    login_profile: Rule,
    get_user: Rule,
    update_key: Rule,
    delete_key: Rule,
    delete_profile: Rule,
    publish: Rule,
    /// (subject, body) of every message published.
    published: Arc<Mutex<Vec<(String, String)>>>,
    /// Every UpdateAccessKey the default rule accepted: (user, key ID, status).
    updates: Arc<Mutex<Vec<(String, String, String)>>>,
}

impl Mocks {
    fn new(report_csv: String, world: &World) -> Self {
        let world = Arc::new(world.clone());
        let content = Blob::new(report_csv.into_bytes());
        let generate = mock!(aws_sdk_iam::Client::generate_credential_report).then_output(|| {
            GenerateCredentialReportOutput::builder()
                .state(ReportStateType::Complete)
                .build()
        });
        let get_report = mock!(aws_sdk_iam::Client::get_credential_report).then_output(move || {
            GetCredentialReportOutput::builder()
                .content(content.clone())
                .generated_time(smithy(hours_ago(1)))
                .build()
        });
        let w = Arc::clone(&world);
        let list_tags =
            mock!(aws_sdk_iam::Client::list_user_tags).then_compute_output(move |req| {
                let tags = w
                    .users
                    .get(req.user_name().unwrap_or_default())
                    .map(tags_of)
                    .unwrap_or_default();
                ListUserTagsOutput::builder()
                    .set_tags(Some(tags))
                    .is_truncated(false)
                    .build()
                    .expect("valid ListUserTags output")
            });
        let w = Arc::clone(&world);
        let authorization_details = mock!(aws_sdk_iam::Client::get_account_authorization_details)
            .then_compute_output(move |req| {
                assert_eq!(req.filter(), [EntityType::User], "users only");
                authorization_details_output(&w, req.marker())
            });
        let w = Arc::clone(&world);
        let list_users = mock!(aws_sdk_iam::Client::list_users)
            .then_compute_output(move |req| list_users_output(&w, req.marker()));
        let w = Arc::clone(&world);
        let list_keys =
            mock!(aws_sdk_iam::Client::list_access_keys).then_compute_output(move |req| {
                let live = w.users.get(req.user_name().unwrap_or_default());
                list_keys_output(&live.cloned().unwrap_or_default())
            });
        let w = Arc::clone(&world);
        let key_last_used = mock!(aws_sdk_iam::Client::get_access_key_last_used)
            .then_compute_output(move |req| {
                let id = req.access_key_id().unwrap_or_default();
                let (user, key) = w
                    .users
                    .iter()
                    .find_map(|(name, u)| u.keys.iter().find(|k| k.id == id).map(|k| (name, k)))
                    .expect("GetAccessKeyLastUsed for a key of the world");
                let (service, region) = match key.last_used {
                    Some(_) => ("s3", "eu-west-1"),
                    None => ("N/A", "N/A"),
                };
                GetAccessKeyLastUsedOutput::builder()
                    .user_name(user)
                    .access_key_last_used(
                        AccessKeyLastUsed::builder()
                            .set_last_used_date(key.last_used.map(smithy))
                            .service_name(service)
                            .region(region)
                            .build()
                            .expect("valid AccessKeyLastUsed"),
                    )
                    .build()
            });
        let w = Arc::clone(&world);
        let login_profile =
            mock!(aws_sdk_iam::Client::get_login_profile).then_compute_response(move |req| {
                let name = req.user_name().unwrap_or_default();
                match w.users.get(name).and_then(|u| u.profile_created) {
                    Some(created) => MockResponse::Output(
                        GetLoginProfileOutput::builder()
                            .login_profile(
                                LoginProfile::builder()
                                    .user_name(name)
                                    .create_date(smithy(created))
                                    .build()
                                    .expect("valid LoginProfile"),
                            )
                            .build(),
                    ),
                    None => MockResponse::Error(GetLoginProfileError::NoSuchEntityException(
                        no_such_entity(&format!("Login Profile for User {name}")),
                    )),
                }
            });
        let w = Arc::clone(&world);
        let get_user = mock!(aws_sdk_iam::Client::get_user).then_compute_output(move |req| {
            let name = req.user_name().unwrap_or_default();
            let live = w.users.get(name).cloned().unwrap_or_default();
            GetUserOutput::builder()
                .user(live_user(name, &live))
                .build()
        });
        let updates: Arc<Mutex<Vec<(String, String, String)>>> = Arc::default();
        let seen = Arc::clone(&updates);
        let update_key =
            mock!(aws_sdk_iam::Client::update_access_key).then_compute_output(move |req| {
                seen.lock().expect("lock").push((
                    req.user_name().unwrap_or_default().to_owned(),
                    req.access_key_id().unwrap_or_default().to_owned(),
                    req.status()
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                ));
                UpdateAccessKeyOutput::builder().build()
            });
        let delete_key = mock!(aws_sdk_iam::Client::delete_access_key)
            .then_output(|| DeleteAccessKeyOutput::builder().build());
        let delete_profile = mock!(aws_sdk_iam::Client::delete_login_profile)
            .then_output(|| DeleteLoginProfileOutput::builder().build());
        let published: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
        let sent = Arc::clone(&published);
        let publish = mock!(aws_sdk_sns::Client::publish).then_compute_output(move |req| {
            sent.lock().expect("lock").push((
                req.subject().unwrap_or_default().to_owned(),
                req.message().unwrap_or_default().to_owned(),
            ));
            PublishOutput::builder().message_id("msg-1").build()
        });
        Mocks {
            generate,
            get_report,
            list_tags,
            authorization_details,
            list_users,
            list_keys,
            key_last_used,
            login_profile,
            get_user,
            update_key,
            delete_key,
            delete_profile,
            publish,
            published,
            updates,
        }
    }

    fn defaults(&self) -> [&Rule; 13] {
        [
            &self.generate,
            &self.get_report,
            &self.list_tags,
            &self.authorization_details,
            &self.list_users,
            &self.list_keys,
            &self.key_last_used,
            &self.login_profile,
            &self.get_user,
            &self.update_key,
            &self.delete_key,
            &self.delete_profile,
            &self.publish,
        ]
    }

    /// Clients with the SDK's retries off, so each rule answer is one call. `overrides` come
    /// first and win over the world's answers; a rule for the other service never matches.
    fn clients(&self, overrides: &[&Rule]) -> Clients {
        self.clients_with(overrides, RetryConfig::disabled())
    }

    fn clients_with(&self, overrides: &[&Rule], retry: RetryConfig) -> Clients {
        let rules: Vec<&Rule> = overrides.iter().copied().chain(self.defaults()).collect();
        let iam_retry = retry.clone();
        let iam = mock_client!(
            aws_sdk_iam,
            RuleMode::MatchAny,
            rules.iter().copied(),
            |c| c.retry_config(iam_retry.clone())
        );
        let sns = mock_client!(
            aws_sdk_sns,
            RuleMode::MatchAny,
            rules.iter().copied(),
            |c| c.retry_config(retry.clone())
        );
        Clients { iam, sns }
    }

    /// Calls of the default UpdateAccessKey, DeleteAccessKey and DeleteLoginProfile rules.
    fn mutations(&self) -> usize {
        self.update_key.num_calls() + self.delete_key.num_calls() + self.delete_profile.num_calls()
    }

    /// Calls of every default rule.
    fn total_calls(&self) -> usize {
        self.defaults().iter().map(|r| r.num_calls()).sum()
    }

    fn published(&self) -> Vec<(String, String)> {
        self.published.lock().expect("lock").clone()
    }

    fn updates(&self) -> Vec<(String, String, String)> {
        self.updates.lock().expect("lock").clone()
    }
}

/// A scenario: report rows plus the live world derived from them.
fn scenario(users: &[Record]) -> (String, World) {
    (csv(users), World::from_report(users))
}

/// Settings with per-user reads only (`PAGED_READS=false`, the default), so each test counts the
/// per-user calls; the paged reads have their own tests, which compare the two.
fn settings(mode: Mode) -> Settings {
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
fn scheduled_event() -> Value {
    json!({
        "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event", "source": "aws.events",
        "account": ACCOUNT, "time": "2026-11-23T02:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/nightly"], "detail": {}
    })
}

async fn run(clients: &Clients, settings: &Settings) -> Result<RunReport, RunError> {
    handler::handle(clients, settings, &scheduled_event(), now(), None).await
}

/// The report of a run that completed but failed.
fn failed_report(result: Result<RunReport, RunError>) -> RunReport {
    match result {
        Err(RunError::Failed(report)) => *report,
        Ok(report) => panic!(
            "expected RunError::Failed, the run succeeded: {:?}",
            report.actions
        ),
        Err(other) => panic!("expected RunError::Failed, got {other}"),
    }
}

fn ok_report(result: Result<RunReport, RunError>) -> RunReport {
    match result {
        Ok(report) => report,
        Err(RunError::Failed(report)) => panic!(
            "expected success, the run failed: {:?}; actions {:?}",
            report.problems, report.actions
        ),
        Err(other) => panic!("expected success, got {other}"),
    }
}

/// The one outcome for `user`'s `credential`.
fn outcome<'a>(report: &'a RunReport, user: &str, credential: Credential) -> &'a Outcome {
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

const KEY1: Credential = Credential::AccessKey(Slot::One);

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
// 1. report mode

#[tokio::test]
async fn report_mode_lists_planned_actions_as_not_taken_and_changes_nothing() {
    let (report_csv, world) = scenario(&[
        stale_key("kim"),
        initial_key("ivan"),
        stale_password("pat"),
        key_used("hana", 2),
    ]);
    let mocks = Mocks::new(report_csv, &world);
    let publish_report = mock!(aws_sdk_sns::Client::publish)
        .match_requests(|req| {
            req.topic_arn() == Some(TOPIC)
                && req
                    .subject()
                    .is_some_and(|s| s.contains(ACCOUNT) && s.contains("report"))
        })
        .then_output(|| PublishOutput::builder().message_id("msg-report").build());
    let clients = mocks.clients(&[&publish_report]);

    let report = ok_report(run(&clients, &settings(Mode::Report)).await);

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
        assert_eq!(o.taken, None);
        assert_eq!(o.undo, None);
        assert!(
            o.detail.as_deref().unwrap_or("").contains("report mode"),
            "{o:?}"
        );
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

    assert_eq!(mocks.mutations(), 0);
    assert_eq!(
        mocks.list_keys.num_calls(),
        0,
        "no live re-check in report mode"
    );
    assert_eq!(publish_report.num_calls(), 1);
    assert_eq!(
        mocks.publish.num_calls(),
        0,
        "the subject names the account and the mode"
    );
    assert_eq!(report.published_message_id.as_deref(), Some("msg-report"));
}

// ---------------------------------------------------------------------------------------------
// 2. enforce: re-check, then act

#[tokio::test]
async fn enforce_rechecks_then_deactivates_deletes_key_and_deletes_password_with_undo() {
    let (report_csv, world) =
        scenario(&[stale_key("kim"), initial_key("ivan"), stale_password("pat")]);
    let mocks = Mocks::new(report_csv, &world);
    let kim_key = key_id("kim", Slot::One);
    let expected = kim_key.clone();
    let deactivate_kim = mock!(aws_sdk_iam::Client::update_access_key)
        .match_requests(move |req| {
            req.user_name() == Some("kim")
                && req.access_key_id() == Some(expected.as_str())
                && req.status() == Some(&StatusType::Inactive)
        })
        .then_output(|| UpdateAccessKeyOutput::builder().build());
    let ivan_key = key_id("ivan", Slot::One);
    let expected = ivan_key.clone();
    let delete_ivan = mock!(aws_sdk_iam::Client::delete_access_key)
        .match_requests(move |req| {
            req.user_name() == Some("ivan") && req.access_key_id() == Some(expected.as_str())
        })
        .then_output(|| DeleteAccessKeyOutput::builder().build());
    let delete_pat = mock!(aws_sdk_iam::Client::delete_login_profile)
        .match_requests(|req| req.user_name() == Some("pat"))
        .then_output(|| DeleteLoginProfileOutput::builder().build());
    let clients = mocks.clients(&[&deactivate_kim, &delete_ivan, &delete_pat]);

    let report = ok_report(run(&clients, &settings(Mode::Enforce)).await);

    let kim = outcome(&report, "kim", KEY1);
    assert_eq!(kim.status, Status::Done, "{kim:?}");
    assert_eq!(kim.taken, Some(Action::DeactivateKey));
    assert_eq!(kim.access_key_id.as_deref(), Some(kim_key.as_str()));
    assert_eq!(
        kim.undo.as_deref(),
        Some(
            format!("aws iam update-access-key --user-name kim --access-key-id {kim_key} --status Active")
                .as_str()
        )
    );
    let ivan = outcome(&report, "ivan", KEY1);
    assert_eq!(ivan.status, Status::Done, "{ivan:?}");
    assert_eq!(ivan.taken, Some(Action::DeleteKey));
    assert_eq!(ivan.access_key_id.as_deref(), Some(ivan_key.as_str()));
    assert!(
        ivan.undo
            .as_deref()
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
    assert_eq!(report.published_message_id.as_deref(), Some("msg-1"));

    // Each action exactly once, on the right key; nothing else mutated.
    assert_eq!(deactivate_kim.num_calls(), 1);
    assert_eq!(delete_ivan.num_calls(), 1);
    assert_eq!(delete_pat.num_calls(), 1);
    assert_eq!(mocks.mutations(), 0, "updates: {:?}", mocks.updates());
    // The re-checks: keys listed and their last use read for the two key actions, the login
    // profile and the user read for the password.
    assert_eq!(mocks.list_keys.num_calls(), 2);
    assert_eq!(mocks.key_last_used.num_calls(), 2);
    assert_eq!(mocks.login_profile.num_calls(), 1);
    assert_eq!(mocks.get_user.num_calls(), 1);
    assert_eq!(mocks.publish.num_calls(), 1);
}

// ---------------------------------------------------------------------------------------------
// 3, 4. used since the report

#[tokio::test]
async fn key_used_since_the_report_is_skipped_in_use_and_not_deactivated() {
    let (report_csv, mut world) = scenario(&[stale_key("kim")]);
    world.user("kim").keys[0].last_used = Some(hours_ago(2));
    let mocks = Mocks::new(report_csv, &world);
    let clients = mocks.clients(&[]);

    let report = ok_report(run(&clients, &settings(Mode::Enforce)).await);

    let kim = outcome(&report, "kim", KEY1);
    assert_eq!(kim.status, Status::SkippedInUse, "{kim:?}");
    assert_eq!(kim.taken, None);
    assert_eq!(kim.undo, None);
    assert!(
        kim.detail
            .as_deref()
            .is_some_and(|d| d.contains(&hours_ago(2).to_rfc3339())),
        "{kim:?}"
    );
    assert_eq!(report.action_counts, counts(0, 0, 1, 0, 0));
    assert_eq!(mocks.key_last_used.num_calls(), 1);
    assert_eq!(mocks.update_key.num_calls(), 0);
    assert_eq!(mocks.mutations(), 0);
}

#[tokio::test]
async fn password_used_since_the_report_is_skipped_in_use_and_not_deleted() {
    let (report_csv, mut world) = scenario(&[stale_password("pat")]);
    world.user("pat").password_last_used = Some(hours_ago(1));
    let mocks = Mocks::new(report_csv, &world);
    let clients = mocks.clients(&[]);

    let report = ok_report(run(&clients, &settings(Mode::Enforce)).await);

    let pat = outcome(&report, "pat", Credential::Password);
    assert_eq!(pat.status, Status::SkippedInUse, "{pat:?}");
    assert_eq!(report.action_counts, counts(0, 0, 1, 0, 0));
    assert_eq!(mocks.login_profile.num_calls(), 1);
    assert_eq!(mocks.get_user.num_calls(), 1);
    assert_eq!(mocks.delete_profile.num_calls(), 0);
    assert_eq!(mocks.mutations(), 0);
}

// ---------------------------------------------------------------------------------------------
// 5. key identification

#[tokio::test]
async fn key_without_a_live_match_or_with_two_is_not_taken_and_nothing_is_guessed() {
    let (report_csv, mut world) = scenario(&[stale_key("kim"), stale_key("tom")]);
    // kim's key was replaced since the report: the live key is a second younger.
    world.user("kim").keys[0].created += chrono::Duration::seconds(1);
    // tom has two live keys created within the same second as the report's.
    let twin = LiveKey {
        id: "AKIATOMTWIN".into(),
        ..world.user("tom").keys[0].clone()
    };
    world.user("tom").keys[0].created -= chrono::Duration::milliseconds(500);
    world.user("tom").keys.push(twin);
    let mocks = Mocks::new(report_csv, &world);
    let clients = mocks.clients(&[]);

    let report = ok_report(run(&clients, &settings(Mode::Enforce)).await);

    let kim = outcome(&report, "kim", KEY1);
    assert_eq!(kim.status, Status::NotTaken, "{kim:?}");
    assert!(
        kim.detail
            .as_deref()
            .is_some_and(|d| d.contains("no live access key")),
        "{kim:?}"
    );
    assert_eq!(kim.access_key_id, None);
    let tom = outcome(&report, "tom", KEY1);
    assert_eq!(tom.status, Status::NotTaken, "{tom:?}");
    assert!(
        tom.detail
            .as_deref()
            .is_some_and(|d| d.contains("2 live access keys")),
        "{tom:?}"
    );
    assert_eq!(tom.access_key_id, None);
    assert_eq!(report.action_counts, counts(0, 0, 0, 0, 2));
    assert_eq!(mocks.list_keys.num_calls(), 2);
    assert_eq!(mocks.key_last_used.num_calls(), 0);
    assert_eq!(mocks.mutations(), 0);
}

// ---------------------------------------------------------------------------------------------
// 6. already gone

#[tokio::test]
async fn no_such_entity_on_update_delete_profile_or_list_keys_counts_as_already_done() {
    let (report_csv, world) =
        scenario(&[stale_key("kim"), stale_password("pat"), stale_key("gus")]);
    let mocks = Mocks::new(report_csv, &world);
    let update_gone = wire_error!(
        aws_sdk_iam::Client::update_access_key,
        404,
        "NoSuchEntity",
        "The Access Key with id AKIAKIM1 cannot be found.",
        |req: &aws_sdk_iam::operation::update_access_key::UpdateAccessKeyInput| req.user_name()
            == Some("kim")
    );
    let profile_gone = wire_error!(
        aws_sdk_iam::Client::delete_login_profile,
        404,
        "NoSuchEntity",
        "Login Profile for User pat cannot be found."
    );
    let user_gone = wire_error!(
        aws_sdk_iam::Client::list_access_keys,
        404,
        "NoSuchEntity",
        "The user with name gus cannot be found.",
        |req: &aws_sdk_iam::operation::list_access_keys::ListAccessKeysInput| req.user_name()
            == Some("gus")
    );
    let clients = mocks.clients(&[&update_gone, &profile_gone, &user_gone]);

    let report = ok_report(run(&clients, &settings(Mode::Enforce)).await);

    for (user, credential) in [("kim", KEY1), ("pat", Credential::Password), ("gus", KEY1)] {
        let o = outcome(&report, user, credential);
        assert_eq!(o.status, Status::AlreadyDone, "{o:?}");
        assert_eq!(o.undo, None, "{o:?}");
        assert!(
            o.detail
                .as_deref()
                .is_some_and(|d| d.contains("NoSuchEntity")),
            "{o:?}"
        );
    }
    assert_eq!(report.action_counts, counts(0, 3, 0, 0, 0));
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(update_gone.num_calls(), 1);
    assert_eq!(profile_gone.num_calls(), 1);
    assert_eq!(user_gone.num_calls(), 1);
    assert_eq!(mocks.mutations(), 0);
}

#[tokio::test]
async fn password_already_removed_since_the_report_is_already_done() {
    // GetLoginProfile answers NoSuchEntity: nothing to delete.
    let (report_csv, mut world) = scenario(&[stale_password("pat")]);
    world.user("pat").profile_created = None;
    let mocks = Mocks::new(report_csv, &world);
    let clients = mocks.clients(&[]);

    let report = ok_report(run(&clients, &settings(Mode::Enforce)).await);

    assert_eq!(
        outcome(&report, "pat", Credential::Password).status,
        Status::AlreadyDone
    );
    assert_eq!(mocks.get_user.num_calls(), 0);
    assert_eq!(mocks.mutations(), 0);
}

// ---------------------------------------------------------------------------------------------
// 7. one action fails, the others go on

#[tokio::test]
async fn access_denied_on_one_user_fails_that_action_only_and_fails_the_run() {
    let (report_csv, world) = scenario(&[stale_key("kim"), stale_key("dan")]);
    let mocks = Mocks::new(report_csv, &world);
    let denied = wire_error!(
        aws_sdk_iam::Client::update_access_key,
        403,
        "AccessDenied",
        "User: arn:aws:sts::123456789012:assumed-role/sweeper is not authorized to perform: iam:UpdateAccessKey",
        |req: &aws_sdk_iam::operation::update_access_key::UpdateAccessKeyInput| req.user_name()
            == Some("dan")
    );
    let clients = mocks.clients(&[&denied]);

    let report = failed_report(run(&clients, &settings(Mode::Enforce)).await);

    let dan = outcome(&report, "dan", KEY1);
    assert_eq!(dan.status, Status::Failed, "{dan:?}");
    assert_eq!(dan.taken, None);
    assert_eq!(dan.undo, None);
    let detail = dan.detail.as_deref().unwrap_or_default();
    assert!(
        detail.contains("UpdateAccessKey") && detail.contains("AccessDenied"),
        "{detail}"
    );
    let kim = outcome(&report, "kim", KEY1);
    assert_eq!(kim.status, Status::Done, "{kim:?}");
    assert_eq!(report.action_counts, counts(1, 0, 0, 1, 0));
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("1 action(s) failed: dan access_key_1: UpdateAccessKey")),
        "{:?}",
        report.problems
    );
    assert_eq!(denied.num_calls(), 1);
    assert_eq!(
        mocks.updates(),
        vec![("kim".into(), key_id("kim", Slot::One), "Inactive".into())]
    );
    // The summary still goes out, saying the run failed.
    assert_eq!(mocks.publish.num_calls(), 1);
    assert!(
        mocks.published()[0].0.contains("FAILED"),
        "{:?}",
        mocks.published()
    );
}

// ---------------------------------------------------------------------------------------------
// 8. the cap

#[tokio::test]
async fn more_planned_actions_than_max_actions_takes_none_and_fails_the_run() {
    let (report_csv, world) = scenario(&[stale_key("kim"), stale_password("pat")]);
    let mocks = Mocks::new(report_csv, &world);
    let clients = mocks.clients(&[]);
    let mut s = settings(Mode::Enforce);
    s.policy.max_actions = 1;

    let report = failed_report(run(&clients, &s).await);

    assert_eq!(report.actions.len(), 2);
    for o in &report.actions {
        assert_eq!(o.status, Status::NotTaken, "{o:?}");
        assert!(
            o.detail
                .as_deref()
                .is_some_and(|d| d.contains("MAX_ACTIONS")),
            "{o:?}"
        );
    }
    assert_eq!(report.action_counts, counts(0, 0, 0, 0, 2));
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("MAX_ACTIONS (1)")),
        "{:?}",
        report.problems
    );
    assert_eq!(mocks.mutations(), 0);
    assert_eq!(
        mocks.list_keys.num_calls() + mocks.login_profile.num_calls(),
        0
    );
    assert_eq!(mocks.publish.num_calls(), 1);
}

#[tokio::test]
async fn exactly_max_actions_planned_are_all_taken() {
    let (report_csv, world) = scenario(&[stale_key("kim"), stale_password("pat")]);
    let mocks = Mocks::new(report_csv, &world);
    let clients = mocks.clients(&[]);
    let mut s = settings(Mode::Enforce);
    s.policy.max_actions = 2;

    let report = ok_report(run(&clients, &s).await);

    assert_eq!(report.action_counts, counts(2, 0, 0, 0, 0));
    assert_eq!(mocks.mutations(), 2);
}

// ---------------------------------------------------------------------------------------------
// 9. the report cannot be had: nothing is touched

fn assert_nothing_after_fetch(mocks: &Mocks) {
    assert_eq!(mocks.list_tags.num_calls(), 0);
    assert_eq!(mocks.list_keys.num_calls(), 0);
    assert_eq!(mocks.login_profile.num_calls(), 0);
    assert_eq!(mocks.mutations(), 0);
    assert_eq!(mocks.publish.num_calls(), 0);
}

#[tokio::test]
async fn access_denied_on_generate_is_a_fetch_error_and_touches_nothing() {
    let (report_csv, world) = scenario(&[stale_key("kim")]);
    let mocks = Mocks::new(report_csv, &world);
    let denied = wire_error!(
        aws_sdk_iam::Client::generate_credential_report,
        403,
        "AccessDenied",
        "not authorized to perform: iam:GenerateCredentialReport"
    );
    let clients = mocks.clients(&[&denied]);

    let err = run(&clients, &settings(Mode::Enforce))
        .await
        .expect_err("no report");

    let RunError::Fetch(FetchError::Api {
        operation, code, ..
    }) = &err
    else {
        panic!("expected a fetch API error, got {err:?}");
    };
    assert_eq!(*operation, "GenerateCredentialReport");
    assert_eq!(code.as_deref(), Some("AccessDenied"));
    assert_eq!(denied.num_calls(), 1, "AccessDenied is not polled again");
    assert_eq!(mocks.get_report.num_calls(), 0);
    assert_nothing_after_fetch(&mocks);
}

#[tokio::test(start_paused = true)]
async fn report_never_complete_times_out_and_touches_nothing() {
    let (report_csv, world) = scenario(&[stale_key("kim")]);
    let mocks = Mocks::new(report_csv, &world);
    let started = mock!(aws_sdk_iam::Client::generate_credential_report).then_output(|| {
        GenerateCredentialReportOutput::builder()
            .state(ReportStateType::Started)
            .build()
    });
    let clients = mocks.clients(&[&started]);
    let mut s = settings(Mode::Enforce);
    s.runtime.report_wait_seconds = 3;

    let start = tokio::time::Instant::now();
    let err = run(&clients, &s).await.expect_err("never ready");

    let RunError::Fetch(FetchError::Timeout { waited, last }) = &err else {
        panic!("expected a fetch timeout, got {err:?}");
    };
    assert!(*waited <= Duration::from_secs(3), "{waited:?}");
    assert!(
        start.elapsed() <= Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    assert!(last.contains("STARTED"), "{last}");
    assert!(
        started.num_calls() > 1,
        "polled {} times",
        started.num_calls()
    );
    assert_eq!(mocks.get_report.num_calls(), 0);
    assert_nothing_after_fetch(&mocks);
}

#[tokio::test(start_paused = true)]
async fn limit_exceeded_forever_is_an_error_not_an_empty_report() {
    let (report_csv, world) = scenario(&[stale_key("kim")]);
    let mocks = Mocks::new(report_csv, &world);
    let limited = wire_error!(
        aws_sdk_iam::Client::generate_credential_report,
        409,
        "LimitExceeded",
        "Report generation limit exceeded"
    );
    let clients = mocks.clients(&[&limited]);
    let mut s = settings(Mode::Enforce);
    s.runtime.report_wait_seconds = 5;

    let err = run(&clients, &s).await.expect_err("never ready");

    let RunError::Fetch(FetchError::Timeout { last, .. }) = &err else {
        panic!("expected a fetch timeout, got {err:?}");
    };
    assert!(last.contains("LimitExceeded"), "{last}");
    assert!(limited.num_calls() > 1);
    assert_nothing_after_fetch(&mocks);
}

#[tokio::test]
async fn unreadable_report_is_a_parse_error_and_touches_nothing() {
    let mocks = Mocks::new(
        "\u{0}\u{1}<html>Service Unavailable</html>\n".into(),
        &World::default(),
    );
    let clients = mocks.clients(&[]);

    let err = run(&clients, &settings(Mode::Enforce))
        .await
        .expect_err("garbage");

    assert!(matches!(err, RunError::Parse(_)), "{err:?}");
    assert_eq!(mocks.get_report.num_calls(), 1);
    assert_nothing_after_fetch(&mocks);
}

#[tokio::test]
async fn report_with_one_bad_row_is_a_parse_error_even_for_the_good_rows() {
    let good = csv(&[stale_key("kim")]);
    let bad_row = report::render(&[stale_key("zed")])
        .lines()
        .nth(1)
        .expect("a row")
        .replace(&ago(120).to_rfc3339(), "last tuesday");
    let report_csv = format!("{good}{bad_row}\n");
    let world = World::from_report(&[stale_key("kim"), stale_key("zed")]);
    let mocks = Mocks::new(report_csv, &world);
    let clients = mocks.clients(&[]);

    let err = run(&clients, &settings(Mode::Enforce))
        .await
        .expect_err("half a report");

    let RunError::Parse(e) = &err else {
        panic!("expected a parse error, got {err:?}");
    };
    assert!(
        e.to_string().contains("line 4") && e.to_string().contains("access_key_1_last_used_date"),
        "{e}"
    );
    assert_nothing_after_fetch(&mocks);
}

// ---------------------------------------------------------------------------------------------
// 10, 11. the event

#[tokio::test]
async fn bad_events_are_refused_before_any_call() {
    let (report_csv, world) = scenario(&[stale_key("kim")]);
    let mocks = Mocks::new(report_csv, &world);
    let clients = mocks.clients(&[]);
    let cases = [
        (json!({"mode": "enforce"}), Mode::Report),
        (json!({"mode": "report", "dry_run": true}), Mode::Enforce),
        (json!({"mode": "enforcing"}), Mode::Enforce),
        (json!({"as_of": "2027-01-01T00:00:00Z"}), Mode::Enforce),
        (json!(["report"]), Mode::Enforce),
    ];
    for (event, deployed) in cases {
        let result = handler::handle(&clients, &settings(deployed), &event, now(), None).await;
        let err = result.expect_err("refused");
        assert!(matches!(err, RunError::Event(_)), "{event}: {err:?}");
        assert!(err.is_bad_input());
    }
    assert_eq!(mocks.total_calls(), 0);
}

#[tokio::test]
async fn report_event_on_an_enforcing_deployment_is_a_dry_run() {
    let (report_csv, world) = scenario(&[stale_key("kim"), stale_password("pat")]);
    let mocks = Mocks::new(report_csv, &world);
    let clients = mocks.clients(&[]);

    let result = handler::handle(
        &clients,
        &settings(Mode::Enforce),
        &json!({"mode": "report"}),
        now(),
        None,
    )
    .await;
    let report = ok_report(result);

    assert!(report.invocation.dry_run_requested);
    assert_eq!(report.invocation.mode, Mode::Report);
    assert_eq!(report.invocation.trigger, Trigger::OnDemand);
    assert_eq!(report.audit.policy.mode, Mode::Report);
    assert_eq!(report.action_counts, counts(0, 0, 0, 0, 2));
    assert_eq!(mocks.mutations(), 0);
    assert_eq!(mocks.list_keys.num_calls(), 0);
    let published = mocks.published();
    assert_eq!(published.len(), 1);
    assert!(published[0].0.contains(" report:"), "{}", published[0].0);
    assert!(
        published[0].1.contains("dry run requested"),
        "{}",
        published[0].1
    );
}

// ---------------------------------------------------------------------------------------------
// 12. the summary cannot be published

#[tokio::test]
async fn publish_failure_fails_the_run_but_keeps_the_outcomes() {
    let (report_csv, world) = scenario(&[stale_key("kim"), stale_password("pat")]);
    let mocks = Mocks::new(report_csv, &world);
    let denied = wire_error!(
        aws_sdk_sns::Client::publish,
        403,
        "AuthorizationError",
        "not authorized to perform: SNS:Publish"
    );
    let clients = mocks.clients(&[&denied]);

    let report = failed_report(run(&clients, &settings(Mode::Enforce)).await);

    assert_eq!(report.action_counts, counts(2, 0, 0, 0, 0));
    assert_eq!(outcome(&report, "kim", KEY1).status, Status::Done);
    assert!(outcome(&report, "kim", KEY1).undo.is_some());
    assert_eq!(
        outcome(&report, "pat", Credential::Password).status,
        Status::Done
    );
    assert_eq!(report.published_message_id, None);
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    let problem = &report.problems[0];
    assert!(
        problem.contains("publishing to")
            && problem.contains(TOPIC)
            && problem.contains("AuthorizationError"),
        "{problem}"
    );
    assert_eq!(denied.num_calls(), 1);
    assert_eq!(mocks.mutations(), 2);
}

// ---------------------------------------------------------------------------------------------
// 13. exemption tags

#[tokio::test]
async fn exemption_tags_true_or_future_date_exempt_expired_or_invalid_do_not() {
    let (report_csv, world) = scenario(&[
        stale_key("keep"),
        stale_key("until"),
        stale_key("lapsed"),
        stale_key("typo"),
    ]);
    let world = world
        .tag("keep", "true")
        .tag("until", "2999-01-01")
        .tag("lapsed", "2000-01-01")
        .tag("typo", "maybe");
    let mocks = Mocks::new(report_csv, &world);
    let clients = mocks.clients(&[]);

    let report = ok_report(run(&clients, &settings(Mode::Enforce)).await);

    let finding = |user: &str| {
        report
            .audit
            .findings
            .iter()
            .find(|f| f.user == user && f.credential == KEY1)
            .unwrap_or_else(|| panic!("finding for {user}"))
    };
    for (user, value) in [("keep", "true"), ("until", "2999-01-01")] {
        let f = finding(user);
        assert!(f.exempt, "{f:?}");
        assert_eq!(f.action, Action::None);
        assert_eq!(
            f.exemption,
            Some(Exemption::Tag {
                key: TAG_KEY.into(),
                value: value.into()
            })
        );
        assert!(report.actions.iter().all(|o| o.user != user));
    }
    let lapsed = finding("lapsed");
    assert!(
        !lapsed.exempt && lapsed.invalid_exemption.is_none(),
        "{lapsed:?}"
    );
    let typo = finding("typo");
    assert!(!typo.exempt, "{typo:?}");
    assert!(
        typo.invalid_exemption
            .as_deref()
            .is_some_and(|e| e.contains("maybe")),
        "{typo:?}"
    );
    assert_eq!(outcome(&report, "lapsed", KEY1).status, Status::Done);
    assert_eq!(outcome(&report, "typo", KEY1).status, Status::Done);
    assert_eq!(report.action_counts, counts(2, 0, 0, 0, 0));
    assert_eq!(report.audit.counts.exempt, 2);
    assert_eq!(report.audit.counts.invalid_exemptions, 1);
    assert_eq!(mocks.list_tags.num_calls(), 4);
    let mut updated: Vec<String> = mocks.updates().into_iter().map(|(u, _, _)| u).collect();
    updated.sort();
    assert_eq!(updated, ["lapsed", "typo"]);
    assert_eq!(
        mocks.list_keys.num_calls(),
        2,
        "exempt users are not even re-checked"
    );
}

#[tokio::test]
async fn unreadable_tags_fail_that_users_action_without_touching_the_user() {
    let (report_csv, world) = scenario(&[stale_key("kim"), stale_key("dan")]);
    let mocks = Mocks::new(report_csv, &world);
    let denied = wire_error!(
        aws_sdk_iam::Client::list_user_tags,
        403,
        "AccessDenied",
        "not authorized to perform: iam:ListUserTags",
        |req: &aws_sdk_iam::operation::list_user_tags::ListUserTagsInput| req.user_name()
            == Some("dan")
    );
    let list_dan = mock!(aws_sdk_iam::Client::list_access_keys)
        .match_requests(|req| req.user_name() == Some("dan"))
        .then_output(|| panic!("dan's keys must not be listed"));
    let clients = mocks.clients(&[&denied, &list_dan]);

    let report = failed_report(run(&clients, &settings(Mode::Enforce)).await);

    let dan = outcome(&report, "dan", KEY1);
    assert_eq!(dan.status, Status::Failed, "{dan:?}");
    assert_eq!(dan.taken, None);
    let detail = dan.detail.as_deref().unwrap_or_default();
    assert!(
        detail.contains("tags") && detail.contains("AccessDenied"),
        "{detail}"
    );
    assert_eq!(outcome(&report, "kim", KEY1).status, Status::Done);
    assert_eq!(report.action_counts, counts(1, 0, 0, 1, 0));
    assert_eq!(report.tag_errors.len(), 1);
    assert!(
        report.tag_errors[0].starts_with("dan: "),
        "{:?}",
        report.tag_errors
    );
    assert_eq!(denied.num_calls(), 1);
    assert_eq!(list_dan.num_calls(), 0);
    assert_eq!(
        mocks.updates(),
        vec![("kim".into(), key_id("kim", Slot::One), "Inactive".into())]
    );
}

// ---------------------------------------------------------------------------------------------
// 13b. paged reads: tags and password use for many users in account-wide pages

/// A night with many findings: stale keys (one user exempt by tag), stale passwords (one used
/// since the report) and an initial-setup key.
fn many_findings() -> (String, World) {
    let (report_csv, world) = scenario(&[
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
    let mut world = world.tag("keep", "true");
    world.user("back").password_last_used = Some(hours_ago(2));
    (report_csv, world)
}

/// The outcomes of a run as comparable text (status, action taken, key, detail).
fn outcomes(report: &RunReport) -> Vec<String> {
    report
        .actions
        .iter()
        .map(|o| {
            format!(
                "{} {} {:?} {:?} {:?} {:?}",
                o.user, o.credential, o.status, o.taken, o.access_key_id, o.detail
            )
        })
        .collect()
}

#[tokio::test]
async fn paged_reads_decide_exactly_as_per_user_reads_in_fewer_calls() {
    let (report_csv, world) = many_findings();
    let per_user = Mocks::new(report_csv.clone(), &world);
    let by_user = ok_report(run(&per_user.clients(&[]), &settings(Mode::Enforce)).await);
    let paged = Mocks::new(report_csv, &world);
    let by_page = ok_report(run(&paged.clients(&[]), &paged_settings(Mode::Enforce)).await);

    assert_eq!(outcomes(&by_page), outcomes(&by_user));
    assert_eq!(
        serde_json::to_value(&by_page.audit).unwrap(),
        serde_json::to_value(&by_user.audit).unwrap()
    );
    assert_eq!(by_page.action_counts, counts(6, 0, 1, 0, 0));
    assert!(
        by_page
            .audit
            .findings
            .iter()
            .any(|f| f.user == "keep" && f.exempt)
    );
    assert_eq!(
        outcome(&by_page, "back", Credential::Password).status,
        Status::SkippedInUse,
        "a password used since the report, as ListUsers shows it, is left alone"
    );

    // Per user: a ListUserTags for each of the 8 users with a finding, a GetUser per password.
    assert_eq!(per_user.list_tags.num_calls(), 8);
    assert_eq!(per_user.get_user.num_calls(), 3);
    assert_eq!(per_user.authorization_details.num_calls(), 0);
    assert_eq!(per_user.list_users.num_calls(), 0);
    // Paged: 9 users in pages of 2 (this mock's page size) = 5 pages each, no per-user reads.
    assert_eq!(paged.list_tags.num_calls(), 0);
    assert_eq!(paged.get_user.num_calls(), 0);
    assert_eq!(paged.authorization_details.num_calls(), 5);
    assert_eq!(paged.list_users.num_calls(), 5);
    // The rest of the live re-check is unchanged: every password is still confirmed to exist.
    assert_eq!(paged.login_profile.num_calls(), 3);
    assert_eq!(paged.list_keys.num_calls(), per_user.list_keys.num_calls());
    assert_eq!(
        paged.key_last_used.num_calls(),
        per_user.key_last_used.num_calls()
    );
    assert_eq!(paged.mutations(), per_user.mutations());
}

#[tokio::test]
async fn report_mode_reads_tags_in_pages_and_never_lists_password_use() {
    let (report_csv, world) = many_findings();
    let mocks = Mocks::new(report_csv, &world);

    let report = ok_report(run(&mocks.clients(&[]), &paged_settings(Mode::Report)).await);

    assert!(
        report
            .audit
            .findings
            .iter()
            .any(|f| f.user == "keep" && f.exempt)
    );
    assert_eq!(mocks.authorization_details.num_calls(), 5);
    assert_eq!(mocks.list_tags.num_calls(), 0);
    assert_eq!(
        mocks.list_users.num_calls(),
        0,
        "no re-check in report mode"
    );
    assert_eq!(mocks.mutations(), 0);
}

#[tokio::test]
async fn refused_paged_reads_fall_back_to_per_user_reads_with_the_same_outcomes() {
    let (report_csv, world) = many_findings();
    let per_user = Mocks::new(report_csv.clone(), &world);
    let by_user = ok_report(run(&per_user.clients(&[]), &settings(Mode::Enforce)).await);
    let mocks = Mocks::new(report_csv, &world);
    let no_details = wire_error!(
        aws_sdk_iam::Client::get_account_authorization_details,
        403,
        "AccessDenied",
        "not authorized to perform: iam:GetAccountAuthorizationDetails"
    );
    let no_list = wire_error!(
        aws_sdk_iam::Client::list_users,
        403,
        "AccessDenied",
        "not authorized to perform: iam:ListUsers"
    );
    let clients = mocks.clients(&[&no_details, &no_list]);

    let report = ok_report(run(&clients, &paged_settings(Mode::Enforce)).await);

    assert_eq!(outcomes(&report), outcomes(&by_user));
    assert_eq!((no_details.num_calls(), no_list.num_calls()), (1, 1));
    assert_eq!(mocks.list_tags.num_calls(), 8);
    assert_eq!(mocks.get_user.num_calls(), 3);
    assert!(report.problems.is_empty() && report.tag_errors.is_empty());
}

#[tokio::test]
async fn a_user_missing_from_the_pages_is_asked_on_its_own() {
    let (report_csv, world) = many_findings();
    let world = world.tag("k2", "true");
    let mocks = Mocks::new(report_csv, &world);
    // Pages that do not list k2 (as if IAM had lost it between two pages).
    let mut without_k2 = world.clone();
    without_k2.users.remove("k2");
    let pages = mock!(aws_sdk_iam::Client::get_account_authorization_details)
        .then_compute_output(move |req| authorization_details_output(&without_k2, req.marker()));
    let clients = mocks.clients(&[&pages]);

    let report = ok_report(run(&clients, &paged_settings(Mode::Enforce)).await);

    assert_eq!(pages.num_calls(), 4, "8 users in pages of 2");
    assert_eq!(
        mocks.list_tags.num_calls(),
        1,
        "only k2 is asked on its own"
    );
    assert!(
        report
            .audit
            .findings
            .iter()
            .any(|f| f.user == "k2" && f.exempt),
        "k2's tag, read on its own, still exempts it"
    );
    assert!(report.actions.iter().all(|o| o.user != "k2"));
}

#[tokio::test]
async fn few_findings_read_per_user_even_when_pages_are_allowed() {
    let (report_csv, world) = scenario(&[stale_key("solo"), key_used("busy", 1)]);
    let mocks = Mocks::new(report_csv, &world);

    let report = ok_report(run(&mocks.clients(&[]), &paged_settings(Mode::Enforce)).await);

    assert_eq!(report.action_counts, counts(1, 0, 0, 0, 0));
    assert_eq!(mocks.list_tags.num_calls(), 1);
    assert_eq!(mocks.authorization_details.num_calls(), 0);
    assert_eq!(mocks.list_users.num_calls(), 0);
}

// ---------------------------------------------------------------------------------------------
// 14. throttling (the SDK's standard retry, as deployed)

fn standard_retry() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(5)
}

#[tokio::test(start_paused = true)]
async fn throttling_that_clears_is_ridden_out_by_sdk_retries() {
    let (report_csv, world) = scenario(&[stale_key("kim")]);
    let mocks = Mocks::new(report_csv, &world);
    let kim = world.users["kim"].clone();
    let throttled = mock!(aws_sdk_iam::Client::list_access_keys)
        .match_requests(|req| req.user_name() == Some("kim"))
        .sequence()
        .http_status(400, Some(THROTTLING_XML.into()))
        .times(2)
        .output(move || list_keys_output(&kim))
        .build();
    let clients = mocks.clients_with(&[&throttled], standard_retry());

    let report = ok_report(run(&clients, &settings(Mode::Enforce)).await);

    assert_eq!(outcome(&report, "kim", KEY1).status, Status::Done);
    assert_eq!(report.action_counts, counts(1, 0, 0, 0, 0));
    assert_eq!(
        throttled.num_calls(),
        3,
        "two throttled attempts, then the answer"
    );
    assert_eq!(mocks.list_keys.num_calls(), 0);
    assert_eq!(mocks.update_key.num_calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn throttling_that_never_clears_fails_that_action_only() {
    let (report_csv, world) = scenario(&[stale_key("kim"), stale_key("dan")]);
    let mocks = Mocks::new(report_csv, &world);
    let throttled = mock!(aws_sdk_iam::Client::update_access_key)
        .match_requests(|req| req.user_name() == Some("dan"))
        .then_http_response(|| {
            HttpResponse::new(
                400.try_into().expect("valid status"),
                SdkBody::from(THROTTLING_XML),
            )
        });
    let clients = mocks.clients_with(&[&throttled], standard_retry());

    let report = failed_report(run(&clients, &settings(Mode::Enforce)).await);

    let dan = outcome(&report, "dan", KEY1);
    assert_eq!(dan.status, Status::Failed, "{dan:?}");
    let detail = dan.detail.as_deref().unwrap_or_default();
    assert!(detail.contains("Throttling"), "{detail}");
    assert_eq!(outcome(&report, "kim", KEY1).status, Status::Done);
    assert_eq!(report.action_counts, counts(1, 0, 0, 1, 0));
    assert_eq!(
        throttled.num_calls(),
        5,
        "all five attempts of the standard retry"
    );
    assert_eq!(mocks.update_key.num_calls(), 1);
    assert_eq!(mocks.publish.num_calls(), 1);
}

// ---------------------------------------------------------------------------------------------
// 15. the Lambda deadline

#[tokio::test]
async fn deadline_near_starts_no_action() {
    let (report_csv, world) =
        scenario(&[stale_key("kim"), initial_key("ivan"), stale_password("pat")]);
    let mocks = Mocks::new(report_csv, &world);
    let clients = mocks.clients(&[]);
    let deadline = Some(tokio::time::Instant::now() + Duration::from_secs(10));

    let result = handler::handle(
        &clients,
        &settings(Mode::Enforce),
        &scheduled_event(),
        now(),
        deadline,
    )
    .await;
    // Actions left undone fail the run, so the alarm fires.
    let report = match result {
        Err(RunError::Failed(r)) => *r,
        Ok(_) => panic!("a run cut short by the deadline must fail"),
        Err(e) => panic!("the run should complete: {e}"),
    };
    assert!(
        report.problems.iter().any(|p| p.contains("deadline")),
        "{:?}",
        report.problems
    );

    assert_eq!(report.actions.len(), 3);
    for o in &report.actions {
        assert_eq!(o.status, Status::NotTaken, "{o:?}");
        assert!(
            o.detail.as_deref().is_some_and(|d| d.contains("deadline")),
            "{o:?}"
        );
    }
    assert_eq!(report.action_counts, counts(0, 0, 0, 0, 3));
    assert_eq!(mocks.mutations(), 0);
    assert_eq!(
        mocks.list_keys.num_calls() + mocks.login_profile.num_calls(),
        0
    );
}

#[tokio::test]
async fn deadline_far_away_does_not_hold_actions_back() {
    let (report_csv, world) = scenario(&[stale_key("kim")]);
    let mocks = Mocks::new(report_csv, &world);
    let clients = mocks.clients(&[]);
    let deadline = Some(tokio::time::Instant::now() + Duration::from_secs(600));

    let result = handler::handle(
        &clients,
        &settings(Mode::Enforce),
        &scheduled_event(),
        now(),
        deadline,
    )
    .await;

    assert_eq!(ok_report(result).action_counts, counts(1, 0, 0, 0, 0));
    assert_eq!(mocks.update_key.num_calls(), 1);
}

// ---------------------------------------------------------------------------------------------
// 16. the summary

#[tokio::test]
async fn summary_lists_every_section_with_undo_commands_dates_and_errors() {
    let upcoming = key_used("uma", 85); // disabled in 5 days
    let (report_csv, mut world) = scenario(&[
        stale_key("kim"),
        stale_password("pat"),
        upcoming,
        stale_key("ella"),
        stale_key("sam"),
        stale_key("dan"),
    ]);
    world.user("sam").keys[0].last_used = Some(hours_ago(2));
    let world = world.tag("ella", "true");
    let mocks = Mocks::new(report_csv, &world);
    let denied = wire_error!(
        aws_sdk_iam::Client::update_access_key,
        403,
        "AccessDenied",
        "not authorized to perform: iam:UpdateAccessKey",
        |req: &aws_sdk_iam::operation::update_access_key::UpdateAccessKeyInput| req.user_name()
            == Some("dan")
    );
    let clients = mocks.clients(&[&denied]);

    let report = failed_report(run(&clients, &settings(Mode::Enforce)).await);
    assert_eq!(report.action_counts, counts(2, 0, 1, 1, 0));
    let message = summary::build(&report);

    // What was published is this very summary.
    let published = mocks.published();
    assert_eq!(
        published,
        vec![(message.subject.clone(), message.body.clone())]
    );

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
        let start = body
            .find(&format!("\n{title}"))
            .unwrap_or_else(|| panic!("no section {title} in\n{body}"));
        let rest = &body[start + 1..];
        let end = rest.find("\n\n").unwrap_or(rest.len());
        rest[..end].to_string()
    };
    let taken = section("ACTIONS TAKEN");
    let kim_key = key_id("kim", Slot::One);
    assert!(
        taken.contains(&format!(
            "aws iam update-access-key --user-name kim --access-key-id {kim_key} --status Active"
        )),
        "{taken}"
    );
    assert!(
        taken.contains(
            "aws iam create-login-profile --user-name pat --password '<new>' --password-reset-required"
        ),
        "{taken}"
    );
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
    let actions: Vec<Outcome> = findings
        .iter()
        .filter(|f| f.planned())
        .map(|f| Outcome::not_taken(f, "report mode: nothing is changed"))
        .collect();
    let report = RunReport {
        account_id: handler::account_id(&records),
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
    };

    let message = summary::build(&report);

    assert!(
        message.body.len() < summary::MAX_BODY_BYTES,
        "{}",
        message.body.len()
    );
    assert!(
        message
            .body
            .trim_end()
            .ends_with("see the function's logs for everything."),
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

// ---------------------------------------------------------------------------------------------
// odds and ends the scenarios above rely on

#[tokio::test]
async fn initial_key_action_deactivate_deactivates_instead_of_deleting() {
    let (report_csv, world) = scenario(&[initial_key("ivan")]);
    let mocks = Mocks::new(report_csv, &world);
    let clients = mocks.clients(&[]);
    let mut s = settings(Mode::Enforce);
    s.policy.initial_key_action = InitialKeyAction::Deactivate;

    let report = ok_report(run(&clients, &s).await);

    let ivan = outcome(&report, "ivan", KEY1);
    assert_eq!(
        (ivan.status, ivan.taken),
        (Status::Done, Some(Action::DeactivateKey))
    );
    assert_eq!(mocks.delete_key.num_calls(), 0);
    assert_eq!(
        mocks.updates(),
        vec![("ivan".into(), key_id("ivan", Slot::One), "Inactive".into())]
    );
}
