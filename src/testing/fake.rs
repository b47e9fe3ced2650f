//! An in-memory AWS account behind the ports, for orchestration tests.
//!
//! It holds a credential report (served as given) and a live IAM state that may differ from it:
//! users with access keys (ID, status, creation, last use), a login profile, password use and
//! tags. Reads answer from the live state, actions change it, and every call is counted by
//! operation name. Faults are injected per operation (and optionally per user): an error
//! returned instead of the answer, before or after the change is applied. Security Hub keeps the
//! imported findings by ID and answers `GetFindings` with AWS's filters (product, generator,
//! active), a page at a time; an import or a listing can be made to fail.
//!
//! ```
//! # use iam_sweeper::testing::fake::FakeAccount;
//! let account = FakeAccount::new();
//! assert_eq!(account.calls("ListAccessKeys"), 0);
//! ```

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::app::ports::{
    Asff, FetchError, FetchedReport, FindingsPage, HubError, IamActions, IamError, IamPagedReads,
    IamReads, IamRestore, ImportFailure, ImportResult, KeyStatus, LiveKey, LiveUser, MailError,
    Mailer, Message, Notifier, ObjectStore, OpenFinding, PublishError, ReportSource, SecurityHub,
    StoreError, Tags, Written,
};
use crate::core::finding::Slot;
use crate::core::report::Record;
use crate::render::asff::RecordState;
use crate::testing::report::render;

/// One live access key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeKey {
    pub id: String,
    pub status: KeyStatus,
    pub created: DateTime<Utc>,
    pub last_used: Option<DateTime<Utc>>,
}

/// One live IAM user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FakeUser {
    pub keys: Vec<FakeKey>,
    /// The login profile's creation, when the user has a console password.
    pub login_profile: Option<DateTime<Utc>>,
    pub password_last_used: Option<DateTime<Utc>>,
    pub tags: Tags,
}

/// When an injected fault strikes relative to the change a call makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// The call fails and changes nothing.
    Before,
    /// The change is applied, then the answer is lost and the error returned.
    After,
}

/// An injected fault.
#[derive(Debug, Clone)]
struct Fault {
    operation: &'static str,
    user: Option<String>,
    error: IamError,
    when: When,
    /// How many calls it strikes; `None` for every call.
    times: Option<usize>,
}

/// The state behind the ports.
#[derive(Debug, Default)]
struct State {
    report: Option<Result<FetchedReport, FetchError>>,
    users: BTreeMap<String, FakeUser>,
    calls: BTreeMap<&'static str, usize>,
    /// Calls by operation and the user they named.
    user_calls: BTreeMap<(&'static str, String), usize>,
    /// The `max_wait` of the last report fetch.
    report_wait: Option<Duration>,
    /// Users the account-wide pages leave out (as if IAM lost them between two pages).
    unpaged: BTreeSet<String>,
    faults: Vec<Fault>,
    published: Vec<(String, Message)>,
    publish_error: Option<PublishError>,
    hub: FakeHub,
    /// S3: objects by (bucket, key).
    objects: BTreeMap<(String, String), Vec<u8>>,
    /// Buckets whose writes fail (as if the role lacked s3:PutObject).
    unwritable: BTreeSet<String>,
    /// SES: mails sent, as (from, to, subject, body).
    mails: Vec<(String, String, String, String)>,
    mail_error: Option<MailError>,
}

/// Security Hub behind the port: the findings by ID as last imported, each batch's size, and
/// the faults to answer with.
#[derive(Debug, Default)]
struct FakeHub {
    findings: BTreeMap<String, Asff>,
    batches: Vec<usize>,
    region: Option<String>,
    page_size: Option<usize>,
    import_error: Option<HubError>,
    list_error: Option<HubError>,
    /// Documents whose ID contains one of these are refused (counted in `FailedCount`).
    refused: Vec<String>,
}

/// An in-memory account implementing every port.
#[derive(Debug, Default)]
pub struct FakeAccount {
    state: RefCell<State>,
}

/// The operations that change IAM.
pub const MUTATIONS: [&str; 3] = ["UpdateAccessKey", "DeleteAccessKey", "DeleteLoginProfile"];

/// The access key ID the fake gives `user`'s key in `slot` when built from a report.
pub fn key_id(user: &str, slot: Slot) -> String {
    let clean: String = user
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    format!("AKIA{clean}{}", slot.number())
}

impl FakeAccount {
    /// An empty account with no report.
    pub fn new() -> Self {
        Self::default()
    }

    /// An account whose report is `records` and whose live state agrees with it: each active or
    /// inactive key exists with its report status, created 0.7 s past the report's second (IAM
    /// keeps sub-second creation times the report drops), last used as the report says; each
    /// user with a password has a login profile created at `password_last_changed` (else the
    /// user's creation), with the report's password use.
    pub fn from_records(records: &[Record]) -> Self {
        let account = Self::new();
        account.set_report(render(records).into_bytes());
        {
            let mut st = account.state.borrow_mut();
            for r in records.iter().filter(|r| !r.is_root()) {
                let mut u = FakeUser::default();
                for slot in Slot::BOTH {
                    let k = &r.access_keys[slot.index()];
                    let (Some(active), Some(created)) = (k.active, k.last_rotated) else {
                        continue;
                    };
                    u.keys.push(FakeKey {
                        id: key_id(&r.user, slot),
                        status: if active {
                            KeyStatus::Active
                        } else {
                            KeyStatus::Inactive
                        },
                        created: created + chrono::Duration::milliseconds(700),
                        last_used: k.last_used_date,
                    });
                }
                if r.has_password() {
                    u.login_profile = r.password_last_changed.or(r.user_creation_time);
                    u.password_last_used = r.password_last_used;
                }
                st.users.insert(r.user.clone(), u);
            }
        }
        account
    }

    /// Serves `content` as the credential report.
    pub fn set_report(&self, content: Vec<u8>) {
        self.state.borrow_mut().report = Some(Ok(FetchedReport {
            content,
            generated_time: None,
        }));
    }

    /// Sets when IAM generated the report being served.
    pub fn set_generated_time(&self, at: DateTime<Utc>) {
        if let Some(Ok(report)) = &mut self.state.borrow_mut().report {
            report.generated_time = Some(at);
        }
    }

    /// The `max_wait` the last report fetch was given, if there was one.
    pub fn report_wait(&self) -> Option<Duration> {
        self.state.borrow().report_wait
    }

    /// Makes fetching the report fail with `error`.
    pub fn fail_report(&self, error: FetchError) {
        self.state.borrow_mut().report = Some(Err(error));
    }

    /// Changes one live user (created when missing).
    pub fn user(&self, name: &str, change: impl FnOnce(&mut FakeUser)) {
        change(
            self.state
                .borrow_mut()
                .users
                .entry(name.into())
                .or_default(),
        );
    }

    /// Removes a user (deleted since the report).
    pub fn remove_user(&self, name: &str) {
        self.state.borrow_mut().users.remove(name);
    }

    /// Leaves `name` out of the account-wide pages (`GetAccountAuthorizationDetails`,
    /// `ListUsers`) while the per-user reads still answer for it.
    pub fn hide_from_pages(&self, name: &str) {
        self.state.borrow_mut().unpaged.insert(name.into());
    }

    /// A copy of one live user.
    pub fn live(&self, name: &str) -> Option<FakeUser> {
        self.state.borrow().users.get(name).cloned()
    }

    /// The live status of `user`'s key `key_id`, if it exists.
    pub fn key_status(&self, user: &str, key_id: &str) -> Option<KeyStatus> {
        self.live(user)?
            .keys
            .into_iter()
            .find(|k| k.id == key_id)
            .map(|k| k.status)
    }

    /// Sets a tag on a user.
    pub fn tag(&self, user: &str, key: &str, value: &str) {
        self.user(user, |u| {
            u.tags.retain(|(k, _)| k != key);
            u.tags.push((key.into(), value.into()));
        });
    }

    /// Every call of `operation` on `user` (or on any user) fails with `error`.
    pub fn fail(&self, operation: &'static str, user: Option<&str>, error: IamError) {
        self.fault(operation, user, error, When::Before, None);
    }

    /// Injects a fault: `times` calls (every call when `None`) of `operation` on `user` (any user
    /// when `None`) fail with `error`, before or after the change is applied.
    pub fn fault(
        &self,
        operation: &'static str,
        user: Option<&str>,
        error: IamError,
        when: When,
        times: Option<usize>,
    ) {
        self.state.borrow_mut().faults.push(Fault {
            operation,
            user: user.map(str::to_string),
            error,
            when,
            times,
        });
    }

    /// Makes every publish fail with `error`.
    pub fn fail_publish(&self, error: PublishError) {
        self.state.borrow_mut().publish_error = Some(error);
    }

    /// How many times `operation` was called.
    pub fn calls(&self, operation: &str) -> usize {
        self.state
            .borrow()
            .calls
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    /// How many times `operation` was called for `user`.
    pub fn calls_on(&self, operation: &str, user: &str) -> usize {
        self.state
            .borrow()
            .user_calls
            .iter()
            .filter(|((op, u), _)| *op == operation && u == user)
            .map(|(_, n)| n)
            .sum()
    }

    /// Calls by operation.
    pub fn all_calls(&self) -> BTreeMap<&'static str, usize> {
        self.state.borrow().calls.clone()
    }

    /// Every call made.
    pub fn total_calls(&self) -> usize {
        self.state.borrow().calls.values().sum()
    }

    /// Calls that change IAM.
    pub fn mutations(&self) -> usize {
        MUTATIONS.iter().map(|op| self.calls(op)).sum()
    }

    /// The messages published: (topic, message).
    pub fn published(&self) -> Vec<(String, Message)> {
        self.state.borrow().published.clone()
    }

    /// Sets the region Security Hub is in (`us-east-1` unless set).
    pub fn set_hub_region(&self, region: &str) {
        self.state.borrow_mut().hub.region = Some(region.into());
    }

    /// How many findings a `GetFindings` page holds (100 unless set).
    pub fn set_hub_page_size(&self, n: usize) {
        self.state.borrow_mut().hub.page_size = Some(n.max(1));
    }

    /// Makes every `BatchImportFindings` call fail with `error`.
    pub fn fail_hub_import(&self, error: HubError) {
        self.state.borrow_mut().hub.import_error = Some(error);
    }

    /// Makes every `GetFindings` call fail with `error`.
    pub fn fail_hub_list(&self, error: HubError) {
        self.state.borrow_mut().hub.list_error = Some(error);
    }

    /// Security Hub refuses (in `FailedFindings`) every document whose ID contains `part`.
    pub fn refuse_hub_findings(&self, part: &str) {
        self.state.borrow_mut().hub.refused.push(part.into());
    }

    /// Puts a finding into Security Hub as if an earlier run had imported it.
    pub fn put_hub_finding(&self, doc: Asff) {
        self.state
            .borrow_mut()
            .hub
            .findings
            .insert(doc.id.clone(), doc);
    }

    /// Every finding in Security Hub, by ID, as last imported.
    pub fn hub_findings(&self) -> BTreeMap<String, Asff> {
        self.state.borrow().hub.findings.clone()
    }

    /// The size of each `BatchImportFindings` call, in order.
    pub fn hub_batches(&self) -> Vec<usize> {
        self.state.borrow().hub.batches.clone()
    }

    /// Counts the call and returns the fault that strikes it, if any.
    fn call(&self, operation: &'static str, user: Option<&str>) -> Option<(IamError, When)> {
        let mut st = self.state.borrow_mut();
        *st.calls.entry(operation).or_default() += 1;
        if let Some(user) = user {
            *st.user_calls.entry((operation, user.into())).or_default() += 1;
        }
        let fault = st.faults.iter_mut().find(|f| {
            f.operation == operation
                && (f.user.is_none() || f.user.as_deref() == user)
                && f.times != Some(0)
        })?;
        if let Some(n) = fault.times.as_mut() {
            *n -= 1;
        }
        Some((fault.error.clone(), fault.when))
    }

    /// A read: the fault's error, or the answer.
    fn read<T>(
        &self,
        operation: &'static str,
        user: Option<&str>,
        answer: impl FnOnce(&State) -> Result<T, IamError>,
    ) -> Result<T, IamError> {
        if let Some((e, _)) = self.call(operation, user) {
            return Err(e);
        }
        answer(&self.state.borrow())
    }

    /// A change: applied unless a fault strikes before it; a fault after it loses the answer.
    fn change(
        &self,
        operation: &'static str,
        user: &str,
        apply: impl FnOnce(&mut State) -> Result<(), IamError>,
    ) -> Result<(), IamError> {
        let fault = self.call(operation, Some(user));
        if let Some((e, When::Before)) = fault {
            return Err(e);
        }
        let applied = apply(&mut self.state.borrow_mut());
        match fault {
            Some((e, _)) => Err(e),
            None => applied,
        }
    }
}

fn no_such(operation: &'static str, what: &str) -> IamError {
    IamError::NoSuchEntity {
        operation,
        message: format!("{what} cannot be found."),
    }
}

fn user_of<'a>(st: &'a State, op: &'static str, user: &str) -> Result<&'a FakeUser, IamError> {
    st.users
        .get(user)
        .ok_or_else(|| no_such(op, &format!("The user with name {user}")))
}

fn user_mut<'a>(
    st: &'a mut State,
    op: &'static str,
    user: &str,
) -> Result<&'a mut FakeUser, IamError> {
    st.users
        .get_mut(user)
        .ok_or_else(|| no_such(op, &format!("The user with name {user}")))
}

fn key_mut<'a>(
    st: &'a mut State,
    op: &'static str,
    user: &str,
    key_id: &str,
) -> Result<&'a mut FakeKey, IamError> {
    user_mut(st, op, user)?
        .keys
        .iter_mut()
        .find(|k| k.id == key_id)
        .ok_or_else(|| no_such(op, &format!("The Access Key with id {key_id}")))
}

impl FakeAccount {
    /// Every object in `bucket`, by key.
    pub fn objects(&self, bucket: &str) -> BTreeMap<String, Vec<u8>> {
        self.state
            .borrow()
            .objects
            .iter()
            .filter(|((b, _), _)| b == bucket)
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Puts an object as if written earlier.
    pub fn put_object(&self, bucket: &str, key: &str, body: &[u8]) {
        self.state
            .borrow_mut()
            .objects
            .insert((bucket.into(), key.into()), body.to_vec());
    }

    /// Every write to `bucket` fails from now on.
    pub fn make_unwritable(&self, bucket: &str) {
        self.state.borrow_mut().unwritable.insert(bucket.into());
    }

    /// Mails sent: (from, to, subject, body).
    pub fn mails(&self) -> Vec<(String, String, String, String)> {
        self.state.borrow().mails.clone()
    }

    /// Every `SendEmail` fails with `error`.
    pub fn fail_mail(&self, error: MailError) {
        self.state.borrow_mut().mail_error = Some(error);
    }
}

impl ObjectStore for FakeAccount {
    async fn put_new(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<Written, StoreError> {
        let mut st = self.state.borrow_mut();
        *st.calls.entry("PutObject").or_default() += 1;
        if st.unwritable.contains(bucket) {
            return Err(StoreError {
                operation: "PutObject",
                bucket: bucket.into(),
                key: key.into(),
                code: Some("AccessDenied".into()),
                message: "Access Denied".into(),
            });
        }
        let k = (bucket.to_string(), key.to_string());
        if st.objects.contains_key(&k) {
            return Ok(Written::AlreadyThere);
        }
        st.objects.insert(k, body);
        Ok(Written::Created)
    }

    async fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut st = self.state.borrow_mut();
        *st.calls.entry("GetObject").or_default() += 1;
        Ok(st
            .objects
            .get(&(bucket.to_string(), key.to_string()))
            .cloned())
    }

    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut st = self.state.borrow_mut();
        *st.calls.entry("ListObjectsV2").or_default() += 1;
        Ok(st
            .objects
            .keys()
            .filter(|(b, k)| b == bucket && k.starts_with(prefix))
            .map(|(_, k)| k.clone())
            .collect())
    }
}

impl Mailer for FakeAccount {
    async fn send_mail(
        &self,
        from: &str,
        to: &str,
        subject: &str,
        body: &str,
    ) -> Result<String, MailError> {
        let mut st = self.state.borrow_mut();
        *st.calls.entry("SendEmail").or_default() += 1;
        if let Some(e) = &st.mail_error {
            return Err(MailError {
                to: to.into(),
                ..e.clone()
            });
        }
        st.mails
            .push((from.into(), to.into(), subject.into(), body.into()));
        Ok(format!("mail-{}", st.mails.len()))
    }
}

impl IamRestore for FakeAccount {
    async fn activate_key(&self, user: &str, key_id: &str) -> Result<(), IamError> {
        self.change("UpdateAccessKey", user, |st| {
            key_mut(st, "UpdateAccessKey", user, key_id)?.status = KeyStatus::Active;
            Ok(())
        })
    }

    async fn create_login_profile(&self, user: &str, _password: &str) -> Result<(), IamError> {
        self.change("CreateLoginProfile", user, |st| {
            let u = user_mut(st, "CreateLoginProfile", user)?;
            if u.login_profile.is_some() {
                return Err(IamError::Other {
                    operation: "CreateLoginProfile",
                    code: Some("EntityAlreadyExists".into()),
                    message: format!("Login Profile for user {user} already exists."),
                });
            }
            u.login_profile = Some(Utc::now());
            Ok(())
        })
    }
}

impl ReportSource for FakeAccount {
    async fn fetch_report(&self, max_wait: Duration) -> Result<FetchedReport, FetchError> {
        let mut st = self.state.borrow_mut();
        *st.calls.entry("GetCredentialReport").or_default() += 1;
        st.report_wait = Some(max_wait);
        st.report.clone().unwrap_or(Err(FetchError::Empty))
    }
}

impl IamReads for FakeAccount {
    async fn list_access_keys(&self, user: &str) -> Result<Vec<LiveKey>, IamError> {
        self.read("ListAccessKeys", Some(user), |st| {
            Ok(user_of(st, "ListAccessKeys", user)?
                .keys
                .iter()
                .map(|k| LiveKey {
                    id: k.id.clone(),
                    status: k.status.clone(),
                    created: Some(k.created),
                })
                .collect())
        })
    }

    async fn access_key_last_used(
        &self,
        user: &str,
        key_id: &str,
    ) -> Result<Option<DateTime<Utc>>, IamError> {
        const OP: &str = "GetAccessKeyLastUsed";
        self.read(OP, Some(user), |st| {
            st.users
                .values()
                .flat_map(|u| &u.keys)
                .find(|k| k.id == key_id)
                .map(|k| k.last_used)
                .ok_or_else(|| no_such(OP, &format!("The Access Key with id {key_id}")))
        })
    }

    async fn user(&self, user: &str) -> Result<LiveUser, IamError> {
        self.read("GetUser", Some(user), |st| {
            let u = user_of(st, "GetUser", user)?;
            Ok(LiveUser {
                password_last_used: u.password_last_used,
                tags: u.tags.clone(),
            })
        })
    }

    async fn login_profile(&self, user: &str) -> Result<Option<DateTime<Utc>>, IamError> {
        self.read("GetLoginProfile", Some(user), |st| {
            Ok(st.users.get(user).and_then(|u| u.login_profile))
        })
    }

    async fn user_tags(&self, user: &str) -> Result<Tags, IamError> {
        self.read("ListUserTags", Some(user), |st| {
            Ok(user_of(st, "ListUserTags", user)?.tags.clone())
        })
    }
}

impl IamPagedReads for FakeAccount {
    async fn all_user_tags(&self) -> Result<HashMap<String, Tags>, IamError> {
        self.read("GetAccountAuthorizationDetails", None, |st| {
            Ok(st
                .users
                .iter()
                .filter(|(n, _)| !st.unpaged.contains(*n))
                .map(|(n, u)| (n.clone(), u.tags.clone()))
                .collect())
        })
    }
}

impl IamActions for FakeAccount {
    async fn deactivate_key(&self, user: &str, key_id: &str) -> Result<(), IamError> {
        const OP: &str = "UpdateAccessKey";
        self.change(OP, user, |st| {
            key_mut(st, OP, user, key_id)?.status = KeyStatus::Inactive;
            Ok(())
        })
    }

    async fn delete_key(&self, user: &str, key_id: &str) -> Result<(), IamError> {
        const OP: &str = "DeleteAccessKey";
        self.change(OP, user, |st| {
            key_mut(st, OP, user, key_id)?;
            user_mut(st, OP, user)?.keys.retain(|k| k.id != key_id);
            Ok(())
        })
    }

    async fn delete_login_profile(&self, user: &str) -> Result<(), IamError> {
        const OP: &str = "DeleteLoginProfile";
        self.change(OP, user, |st| {
            let u = user_mut(st, OP, user)?;
            match u.login_profile.take() {
                Some(_) => Ok(()),
                None => Err(no_such(OP, &format!("Login Profile for User {user}"))),
            }
        })
    }
}

impl Notifier for FakeAccount {
    async fn publish(&self, topic_arn: &str, message: &Message) -> Result<String, PublishError> {
        let mut st = self.state.borrow_mut();
        *st.calls.entry("Publish").or_default() += 1;
        if let Some(e) = &st.publish_error {
            return Err(e.clone());
        }
        st.published.push((topic_arn.to_string(), message.clone()));
        Ok(format!("message-{}", st.published.len()))
    }
}

impl SecurityHub for FakeAccount {
    fn hub_region(&self) -> String {
        (self.state.borrow().hub.region.clone()).unwrap_or_else(|| "us-east-1".into())
    }

    async fn import_findings(&self, batch: &[Asff]) -> Result<ImportResult, HubError> {
        let mut st = self.state.borrow_mut();
        *st.calls.entry("BatchImportFindings").or_default() += 1;
        if let Some(e) = &st.hub.import_error {
            return Err(e.clone());
        }
        st.hub.batches.push(batch.len());
        let mut result = ImportResult::default();
        for doc in batch {
            if st.hub.refused.iter().any(|p| doc.id.contains(p.as_str())) {
                result.failed.push(ImportFailure {
                    id: doc.id.clone(),
                    code: "InvalidInput".into(),
                    message: "refused by the fake Security Hub".into(),
                });
            } else {
                st.hub.findings.insert(doc.id.clone(), doc.clone());
                result.succeeded += 1;
            }
        }
        Ok(result)
    }

    async fn active_findings(
        &self,
        product_arn: &str,
        generator_ids: &[String],
        next_token: Option<&str>,
    ) -> Result<FindingsPage, HubError> {
        let mut st = self.state.borrow_mut();
        *st.calls.entry("GetFindings").or_default() += 1;
        if let Some(e) = &st.hub.list_error {
            return Err(e.clone());
        }
        let start: usize = next_token.map_or(Ok(0), str::parse).map_err(|_| HubError {
            operation: "GetFindings",
            code: Some("InvalidInputException".into()),
            message: "bad NextToken".into(),
        })?;
        let size = st.hub.page_size.unwrap_or(100);
        let matching: Vec<&Asff> = st
            .hub
            .findings
            .values()
            .filter(|d| {
                d.product_arn == product_arn
                    && generator_ids.contains(&d.generator_id)
                    && d.record_state == RecordState::Active
            })
            .collect();
        let findings = matching
            .iter()
            .skip(start)
            .take(size)
            .map(|d| OpenFinding {
                id: d.id.clone(),
                generator_id: d.generator_id.clone(),
                title: Some(d.title.clone()),
                created_at: Some(d.created_at.clone()),
                resources: d.resources.iter().map(|r| (r.kind, r.id.clone())).collect(),
            })
            .collect();
        let next_token = (start + size < matching.len()).then(|| (start + size).to_string());
        Ok(FindingsPage {
            findings,
            next_token,
        })
    }
}
