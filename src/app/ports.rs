//! The ports: what a run needs from AWS, as small traits with plain types in and out.
//!
//! The sweep ([`super::sweep`]) and the action phase ([`super::act`]) are generic over these
//! traits. [`crate::aws`] implements them with the AWS SDK; the in-memory fake account of the
//! `test-support` feature implements them for orchestration tests. Nothing here names an SDK type:
//! the adapters turn SDK answers into these types and their errors into [`IamError`],
//! [`FetchError`], [`PublishError`] and [`HubError`].
//!
//! The futures need not be `Send`: the binary runs one invocation at a time on a single-threaded
//! runtime.
#![allow(async_fn_in_trait)]

use std::time::Duration;

use chrono::{DateTime, Utc};

pub use crate::core::live::{IamError, KeyStatus, LiveKey, LiveUser};
pub use crate::render::asff::{Asff, OpenFinding};
pub use crate::render::summary::Message;

/// A user's tags as (key, value) pairs.
pub type Tags = Vec<(String, String)>;

/// The credential report source: `GenerateCredentialReport` + `GetCredentialReport`, polled.
pub trait ReportSource {
    /// The report, waiting at most `max_wait` for IAM to produce it.
    async fn fetch_report(&self, max_wait: Duration) -> Result<FetchedReport, FetchError>;
}

/// Live IAM reads for one user, used right before an action and for exemption tags.
pub trait IamReads {
    /// The user's access keys (`ListAccessKeys`, every page).
    async fn list_access_keys(&self, user: &str) -> Result<Vec<LiveKey>, IamError>;
    /// When the key was last used (`GetAccessKeyLastUsed`); `None` when it never was.
    async fn access_key_last_used(
        &self,
        user: &str,
        key_id: &str,
    ) -> Result<Option<DateTime<Utc>>, IamError>;
    /// The user's password use and tags (`GetUser`).
    async fn user(&self, user: &str) -> Result<LiveUser, IamError>;
    /// The login profile's creation (`GetLoginProfile`); `None` when the user has no password.
    async fn login_profile(&self, user: &str) -> Result<Option<DateTime<Utc>>, IamError>;
    /// The user's tags (`ListUserTags`, every page).
    async fn user_tags(&self, user: &str) -> Result<Tags, IamError>;
}

/// Every user's tags at once, in account-wide pages (`PAGED_READS`).
pub trait IamPagedReads {
    /// Every user's tags (`GetAccountAuthorizationDetails`, `Filter=User`), by user name.
    async fn all_user_tags(&self) -> Result<std::collections::HashMap<String, Tags>, IamError>;
}

/// The remediation actions.
pub trait IamActions {
    /// Sets the key `Inactive` (`UpdateAccessKey`).
    async fn deactivate_key(&self, user: &str, key_id: &str) -> Result<(), IamError>;
    /// Deletes the key (`DeleteAccessKey`).
    async fn delete_key(&self, user: &str, key_id: &str) -> Result<(), IamError>;
    /// Deletes the console password (`DeleteLoginProfile`).
    async fn delete_login_profile(&self, user: &str) -> Result<(), IamError>;
}

/// Where the run summary goes (SNS).
pub trait Notifier {
    /// Publishes one message and returns the message ID.
    async fn publish(&self, topic_arn: &str, message: &Message) -> Result<String, PublishError>;
}

/// Security Hub in the function's account and region (`SECURITY_HUB=true`).
pub trait SecurityHub {
    /// The region findings go to: the function's.
    fn hub_region(&self) -> String;
    /// `BatchImportFindings` of one batch (at most 100 documents, 6 MB).
    async fn import_findings(&self, batch: &[Asff]) -> Result<ImportResult, HubError>;
    /// One page of `GetFindings`: the active findings of `product_arn` with one of
    /// `generator_ids`, from `next_token` on.
    async fn active_findings(
        &self,
        product_arn: &str,
        generator_ids: &[String],
        next_token: Option<&str>,
    ) -> Result<FindingsPage, HubError>;
}

/// Mail to one person (SES v2 `SendEmail`): owner warnings.
pub trait Mailer {
    /// Sends a plain-text mail from `from` (a verified SES identity) to `to`; returns the
    /// message ID.
    async fn send_mail(
        &self,
        from: &str,
        to: &str,
        subject: &str,
        body: &str,
    ) -> Result<String, MailError>;
}

/// A failed `SendEmail`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "SendEmail to {to} failed{}: {message}; check that SENDER_EMAIL is a verified SES identity, \
     that the recipient is verified while the account is in the SES sandbox, and that the role \
     allows ses:SendEmail",
    code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default()
)]
pub struct MailError {
    pub to: String,
    pub code: Option<String>,
    pub message: String,
}

/// What `undo` needs beyond the reads: the reversing changes.
pub trait IamRestore {
    /// Sets the key `Active` again (`UpdateAccessKey`).
    async fn activate_key(&self, user: &str, key_id: &str) -> Result<(), IamError>;
    /// Creates a console password that must be changed at first sign-in (`CreateLoginProfile`
    /// with `PasswordResetRequired`).
    async fn create_login_profile(&self, user: &str, password: &str) -> Result<(), IamError>;
}

/// Objects in S3: the journal's write-once records and the organization's listings and results.
pub trait ObjectStore {
    /// Writes `body` at `bucket`/`key` only if no object is there yet (`PutObject` with
    /// `If-None-Match: *`): [`Written::AlreadyThere`] when one is, and nothing is overwritten.
    async fn put_new(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<Written, StoreError>;
    /// The object's bytes (`GetObject`); `None` when there is no such key.
    async fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Every key under `prefix` (`ListObjectsV2`, every page), in S3's order (UTF-8 binary).
    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, StoreError>;
}

/// What a write-once `PutObject` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// The object was created.
    Created,
    /// An object was already at that key (412 `PreconditionFailed`); it was left as it was.
    AlreadyThere,
}

/// A failed S3 call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{operation} s3://{bucket}/{key} failed{}: {message}; check the bucket exists and the role \
     allows s3:{operation} on it",
    code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default()
)]
pub struct StoreError {
    /// The S3 call that failed.
    pub operation: &'static str,
    pub bucket: String,
    /// The key, or the prefix of a listing.
    pub key: String,
    /// The service's error code, when S3 answered at all.
    pub code: Option<String>,
    /// The service's message, or the root cause when the request never got an answer.
    pub message: String,
}

/// Everything a sweep of one account needs.
pub trait Account:
    ReportSource + IamReads + IamPagedReads + IamActions + Notifier + SecurityHub + ObjectStore + Mailer
{
}

impl<
    T: ReportSource
        + IamReads
        + IamPagedReads
        + IamActions
        + Notifier
        + SecurityHub
        + ObjectStore
        + Mailer,
> Account for T
{
}

/// A credential report as IAM returned it.
#[derive(Clone, PartialEq, Eq)]
pub struct FetchedReport {
    /// The report's CSV text as bytes (the SDK has already decoded the base64 on the wire).
    pub content: Vec<u8>,
    /// When IAM generated the report; activity after this instant is not in it.
    pub generated_time: Option<DateTime<Utc>>,
}

/// Shows the size rather than the bytes: the report names every user and can be 1.5 MB, which
/// has no place in a log line or a panic message.
impl std::fmt::Debug for FetchedReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchedReport")
            .field("content_bytes", &self.content.len())
            .field("generated_time", &self.generated_time)
            .finish()
    }
}

/// Why the credential report could not be fetched. Each variant means no report was read, so
/// the run must not be treated as "no findings".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The report was still not available when the wait ran out.
    #[error(
        "the IAM credential report was not available after waiting {waited:?} (last seen: {last}); \
         IAM is slow or throttling report generation: run again later or allow a longer wait"
    )]
    Timeout {
        /// How long the fetch waited in total.
        waited: Duration,
        /// The last report state or error IAM answered with.
        last: String,
    },
    /// IAM refused a call with an error that waiting does not fix.
    #[error(
        "{operation} failed{}: {message}; check that the function's role allows \
         iam:GenerateCredentialReport and iam:GetCredentialReport on \"*\" and that IAM is reachable",
        code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default()
    )]
    Api {
        /// The IAM call that failed.
        operation: &'static str,
        /// The service's error code, when IAM answered at all.
        code: Option<String>,
        /// The service's message, or the root cause when the request never got an answer.
        message: String,
    },
    /// IAM reported the report complete but returned no content.
    #[error(
        "GetCredentialReport returned an empty report; IAM produced no content: run again later"
    )]
    Empty,
}

/// A failed Publish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "publishing to {topic_arn} failed: {message}{}; check the topic exists and the function's role \
     allows sns:Publish on it",
    code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default()
)]
pub struct PublishError {
    /// The topic the message was for.
    pub topic_arn: String,
    /// The service's error code, when SNS answered at all.
    pub code: Option<String>,
    /// The service's message, or the root cause when the request never got an answer.
    pub message: String,
}

/// What `BatchImportFindings` answered for one batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportResult {
    /// Findings accepted.
    pub succeeded: usize,
    /// Findings refused, each with Security Hub's reason.
    pub failed: Vec<ImportFailure>,
}

/// One finding Security Hub refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportFailure {
    pub id: String,
    pub code: String,
    pub message: String,
}

/// One page of `GetFindings`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FindingsPage {
    pub findings: Vec<OpenFinding>,
    /// The next page's token; `None` on the last page.
    pub next_token: Option<String>,
}

/// A failed Security Hub call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{operation} failed{}: {message}",
    code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default()
)]
pub struct HubError {
    /// The Security Hub call that failed.
    pub operation: &'static str,
    /// The service's error code (`InvalidAccessException` when Security Hub is not enabled,
    /// `AccessDeniedException` when the role lacks the permission), when it answered at all.
    pub code: Option<String>,
    /// The service's message, or the root cause when the request never got an answer.
    pub message: String,
}

pub use crate::core::org::{AccountId, OrgAccount, OrgAccountStatus};

/// The organization's accounts and OUs (AWS Organizations, from the management or a
/// delegated administrator account), one page per call: the listing step follows the tokens.
pub trait Organization {
    /// One page of `ListAccounts` (at most 20 accounts; a page may be empty and still carry a
    /// token).
    async fn accounts_page(
        &self,
        next_token: Option<&str>,
    ) -> Result<OrgPage<OrgAccount>, OrgError>;
    /// One page of `ListChildren` of `parent` with `ChildType=ORGANIZATIONAL_UNIT`: the OU IDs.
    async fn child_ous_page(
        &self,
        parent: &str,
        next_token: Option<&str>,
    ) -> Result<OrgPage<String>, OrgError>;
    /// One page of `ListAccountsForParent`: the accounts directly in `parent`.
    async fn parent_accounts_page(
        &self,
        parent: &str,
        next_token: Option<&str>,
    ) -> Result<OrgPage<OrgAccount>, OrgError>;
    /// One page of `ListTagsForResource` for an account.
    async fn account_tags_page(
        &self,
        account_id: &str,
        next_token: Option<&str>,
    ) -> Result<OrgPage<(String, String)>, OrgError>;
}

/// One page of an Organizations list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgPage<T> {
    pub items: Vec<T>,
    /// The next page's token; `None` on the last page.
    pub next_token: Option<String>,
}

/// A failed Organizations call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{operation} failed{}: {message}; the listing runs in the organization's management account \
     or a delegated administrator, with organizations:{operation} allowed",
    code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default()
)]
pub struct OrgError {
    /// The Organizations call that failed.
    pub operation: &'static str,
    /// The service's error code, when Organizations answered at all.
    pub code: Option<String>,
    /// The service's message, or the root cause when the request never got an answer.
    pub message: String,
}

/// The member accounts: assume the member role in one and get an [`Account`] whose IAM and
/// Security Hub are the member's (its SNS, S3 and SES stay the hub's).
pub trait Members {
    type Member: Account;
    /// Assumes the member role in `account` (checked now, not at the first IAM call).
    async fn member(&self, account: &AccountId) -> Result<std::rc::Rc<Self::Member>, AssumeError>;
}

/// The member role could not be assumed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "role not assumable: {role_arn}{}: {message}; check the member role is deployed in the \
     account, trusts this function's role (and the external ID, when set), and that the function \
     may call sts:AssumeRole on it",
    code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default()
)]
pub struct AssumeError {
    pub role_arn: String,
    /// STS's error code, when it answered at all.
    pub code: Option<String>,
    pub message: String,
}
