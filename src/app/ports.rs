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

/// Everything a sweep of one account needs.
pub trait Account:
    ReportSource + IamReads + IamPagedReads + IamActions + Notifier + SecurityHub
{
}

impl<T: ReportSource + IamReads + IamPagedReads + IamActions + Notifier + SecurityHub> Account
    for T
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
