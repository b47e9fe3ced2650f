//! The organization mode, over the ports: the three steps the Step Functions workflow runs with
//! this binary.
//!
//! - [`list_accounts`]: the organization's ACTIVE accounts, filtered, written once to S3 for the
//!   Distributed Map to read;
//! - [`sweep_batch`]: a Distributed Map child's batch, each account swept as a single account is
//!   (the same [`sweep::handle`], with the member's IAM and Security Hub), concurrently, one
//!   account's failure never stopping the others;
//! - [`digest`]: the map's result files read back, and one SNS mail for the organization.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;
use tracing::Instrument as _;

use crate::app::Settings;
use crate::app::budget::PUBLISH_TIMEOUT;
use crate::app::ports::{
    Members, Notifier, ObjectStore, OrgError, OrgPage, Organization, PublishError, StoreError,
    Written,
};
use crate::app::sweep::{self, RunError};
use crate::core::config::{ConfigError, Runtime};
use crate::core::org::{
    AccountId, AccountResult, AccountStatus, BATCH_RESULT_BUDGET, BatchEvent, BatchResult,
    ChildExecution, Digest, DigestEvent, ExecutionName, ListedAccount, ListingResult, Manifest,
    OrgAccount, OrgEvent, OrgEventError, OrgSettings, OuId, OuPlacement, SKIPPED_LIST_LIMIT,
    SkipReason, Skipped, results_of, skip_reason,
};
use crate::core::run::RESULT_LIST_LIMIT;
use crate::render::digest as digest_mail;

/// Member accounts swept at once by one worker. IAM's rate limits are per account, so accounts
/// run side by side; a batch larger than this runs in waves within the same deadline.
pub const ACCOUNTS_IN_FLIGHT: usize = 10;

/// The most pages one list may take (20 accounts a page: 200,000 accounts), so a service that
/// keeps handing out new tokens cannot keep the step running until its timeout.
const MAX_PAGES: usize = 10_000;

/// What an organization step returns.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum OrgOutput {
    Batch(BatchResult),
    Listing(ListingResult),
    Digest(DigestSummary),
}

/// Why an organization step failed. A worker's batch fails only on a malformed event: an
/// account's failure is in its entry of the result.
#[derive(Debug, thiserror::Error)]
pub enum OrgRunError {
    /// The event was refused; nothing was done.
    #[error("event refused, nothing was done: {0}")]
    Event(#[from] OrgEventError),
    /// The organization settings are invalid; nothing was done.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The listing could not be made or written; no account list was written.
    #[error("the organization's accounts could not be listed: {0}")]
    Listing(#[from] ListingError),
    /// The digest found failed accounts or unreadable results, or could not publish its mail.
    #[error("the organization sweep failed: {}", .0.problems.join("; "))]
    Digest(Box<DigestSummary>),
}

impl OrgRunError {
    /// A short name for the kind of error, used as the Lambda invocation's error type.
    pub fn kind(&self) -> &'static str {
        match self {
            OrgRunError::Event(_) => "EventRefused",
            OrgRunError::Config(_) => "InvalidConfiguration",
            OrgRunError::Listing(_) => "ListingFailed",
            OrgRunError::Digest(_) => "OrganizationSweepFailed",
        }
    }

    /// True when the input (the event or the configuration) was at fault.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, OrgRunError::Event(_) | OrgRunError::Config(_))
    }
}

/// Why the listing failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListingError {
    #[error("ORG_BUCKET is not set; the listing step writes the account list there")]
    NoBucket,
    #[error("{0}")]
    Organizations(#[from] OrgError),
    #[error(
        "{operation} handed out the token it was called with, or more than {MAX_PAGES} pages; the \
         list cannot be trusted to be complete"
    )]
    Pagination { operation: &'static str },
    #[error("ListAccounts named an account ID that is not 12 digits: `{0}`")]
    BadAccountId(String),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error(
        "s3://{bucket}/{key} already holds a listing for this execution, and it is not a JSON \
         account list: {message}"
    )]
    ExistingUnreadable {
        bucket: String,
        key: String,
        message: String,
    },
}

/// Runs one organization step.
#[allow(clippy::too_many_arguments)]
pub async fn handle<O, M, H>(
    org: &O,
    members: &M,
    hub: &H,
    settings: &Settings,
    org_settings: &OrgSettings,
    event: OrgEvent,
    now: DateTime<Utc>,
    deadline: Option<Instant>,
) -> Result<OrgOutput, OrgRunError>
where
    O: Organization,
    M: Members,
    H: ObjectStore + Notifier,
{
    match event {
        OrgEvent::Batch(batch) => Ok(OrgOutput::Batch(
            sweep_batch(members, settings, &batch, now, deadline).await,
        )),
        OrgEvent::ListAccounts { execution } => Ok(OrgOutput::Listing(
            list_accounts(org, hub, org_settings, &execution).await?,
        )),
        OrgEvent::Digest(ev) => digest(hub, settings.runtime.sns_topic_arn.as_deref(), &ev)
            .await
            .map(OrgOutput::Digest)
            .map_err(|s| OrgRunError::Digest(Box::new(s))),
    }
}

// ---------------------------------------------------------------------------------------------
// the worker

/// Sweeps every account of `batch`, at most [`ACCOUNTS_IN_FLIGHT`] at once, each with the
/// single-account settings but no per-account mail (the digest mails once). The result lists
/// the accounts in the batch's order.
pub async fn sweep_batch<M: Members>(
    members: &M,
    settings: &Settings,
    batch: &BatchEvent,
    now: DateTime<Utc>,
    deadline: Option<Instant>,
) -> BatchResult {
    let settings = Settings {
        runtime: Runtime {
            sns_topic_arn: None,
            ..settings.runtime.clone()
        },
        ..settings.clone()
    };
    let event = Value::Object(batch.batch_input.sweep_event.clone());
    let execution = &batch.batch_input.execution;
    tracing::info!(execution = %execution, accounts = batch.items.len(), "batch started");
    let accounts = futures::stream::iter(&batch.items)
        .map(|item| {
            sweep_member(members, &settings, item, &event, now, deadline)
                .instrument(tracing::info_span!("account", account = %item.id))
        })
        .buffered(ACCOUNTS_IN_FLIGHT)
        .collect::<Vec<_>>()
        .await;
    for a in &accounts {
        log_account(execution, a);
    }
    let mut result = BatchResult { accounts };
    result.fit(BATCH_RESULT_BUDGET);
    result
}

/// One member account: assume its role, then the single-account sweep.
async fn sweep_member<M: Members>(
    members: &M,
    settings: &Settings,
    item: &ListedAccount,
    event: &Value,
    now: DateTime<Utc>,
    deadline: Option<Instant>,
) -> AccountResult {
    let account = match members.member(&item.id).await {
        Ok(account) => account,
        Err(e) => return AccountResult::failed(item.id.as_str(), &item.name, e.to_string()),
    };
    // The one place the organization mode runs a sweep.
    match sweep::handle(&*account, settings, event, now, deadline).await {
        Ok(report) => AccountResult::from_run(item, &report, RESULT_LIST_LIMIT),
        Err(RunError::Failed(report)) => AccountResult::from_run(item, &report, RESULT_LIST_LIMIT),
        Err(e) => AccountResult::failed(item.id.as_str(), &item.name, e.to_string()),
    }
}

/// One structured log event per account result.
fn log_account(execution: &ExecutionName, a: &AccountResult) {
    let counts = serde_json::to_string(&a.counts).unwrap_or_default();
    let problems = a.problems.join("; ");
    if a.status == AccountStatus::Failed {
        tracing::error!(
            target: "iam_sweeper::org",
            execution = %execution, account = %a.account_id, name = %a.name, status = %a.status,
            counts = %counts, actions = a.actions.len(), problems = %problems,
            run_id = a.run_id.as_deref().unwrap_or(""),
            "account swept"
        );
    } else {
        tracing::info!(
            target: "iam_sweeper::org",
            execution = %execution, account = %a.account_id, name = %a.name, status = %a.status,
            counts = %counts, actions = a.actions.len(), problems = %problems,
            run_id = a.run_id.as_deref().unwrap_or(""),
            "account swept"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// the listing

/// Every item of a paged Organizations list, strictly: a token handed out twice, or more than
/// [`MAX_PAGES`] pages, is an error rather than the end of the list. An empty page with a token
/// is followed like any other.
async fn all_pages<T>(
    operation: &'static str,
    mut fetch: impl AsyncFnMut(Option<&str>) -> Result<OrgPage<T>, OrgError>,
) -> Result<Vec<T>, ListingError> {
    let mut items = Vec::new();
    let mut token: Option<String> = None;
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for _ in 0..MAX_PAGES {
        let page = fetch(token.as_deref()).await?;
        items.extend(page.items);
        match page.next_token.filter(|t| !t.is_empty()) {
            None => return Ok(items),
            Some(next) => {
                if !seen.insert(next.clone()) {
                    return Err(ListingError::Pagination { operation });
                }
                token = Some(next);
            }
        }
    }
    Err(ListingError::Pagination { operation })
}

/// Every account under `roots` (the OUs and every OU nested in them).
async fn accounts_under<O: Organization>(
    org: &O,
    roots: &[OuId],
) -> Result<BTreeSet<String>, ListingError> {
    let mut accounts = BTreeSet::new();
    let mut visited: BTreeSet<String> = BTreeSet::new();
    let mut queue: VecDeque<String> = roots.iter().map(|o| o.as_str().to_string()).collect();
    while let Some(parent) = queue.pop_front() {
        if !visited.insert(parent.clone()) {
            continue;
        }
        let direct = all_pages("ListAccountsForParent", async |t| {
            org.parent_accounts_page(&parent, t).await
        })
        .await?;
        accounts.extend(direct.into_iter().map(|a| a.id));
        let children = all_pages("ListChildren", async |t| {
            org.child_ous_page(&parent, t).await
        })
        .await?;
        queue.extend(children);
    }
    Ok(accounts)
}

/// Lists the organization's accounts, keeps the ACTIVE ones the filters let through, writes them
/// (`[{"Id", "Name"}]`, by ID) once to `s3://ORG_BUCKET/ORG_PREFIXlistings/<execution>.json`, and
/// says what was skipped and why.
pub async fn list_accounts<O, S>(
    org: &O,
    store: &S,
    settings: &OrgSettings,
    execution: &ExecutionName,
) -> Result<ListingResult, ListingError>
where
    O: Organization,
    S: ObjectStore,
{
    let bucket = settings.bucket.as_deref().ok_or(ListingError::NoBucket)?;
    let all: Vec<OrgAccount> =
        all_pages("ListAccounts", async |t| org.accounts_page(t).await).await?;
    let filters = &settings.filters;
    let included = if filters.include_ous.is_empty() {
        BTreeSet::new()
    } else {
        accounts_under(org, &filters.include_ous).await?
    };
    let excluded = if filters.exclude_ous.is_empty() {
        BTreeSet::new()
    } else {
        accounts_under(org, &filters.exclude_ous).await?
    };

    let mut kept: Vec<ListedAccount> = Vec::new();
    let mut skipped: Vec<Skipped> = Vec::new();
    let mut seen: BTreeSet<AccountId> = BTreeSet::new();
    for account in all {
        let id: AccountId = account
            .id
            .parse()
            .map_err(|_| ListingError::BadAccountId(account.id.clone()))?;
        if !seen.insert(id.clone()) {
            continue;
        }
        let placement = OuPlacement {
            in_excluded: excluded.contains(&account.id),
            in_included: included.contains(&account.id),
        };
        let mut reason = skip_reason(&account, &id, placement, filters);
        if reason.is_none()
            && let Some(tag) = &filters.exclude_tag
        {
            let tags = all_pages("ListTagsForResource", async |t| {
                org.account_tags_page(&account.id, t).await
            })
            .await?;
            if tag.matches(&tags) {
                reason = Some(SkipReason::ExcludedTag);
            }
        }
        match reason {
            None => kept.push(ListedAccount {
                id,
                name: account.name,
            }),
            Some(reason) => skipped.push(Skipped {
                id: account.id,
                name: account.name,
                reason,
            }),
        }
    }
    kept.sort_by(|a, b| a.id.cmp(&b.id));
    skipped.sort_by(|a, b| a.id.cmp(&b.id));

    let key = settings.listing_key(execution);
    let body = serde_json::to_vec(&kept).unwrap_or_default();
    let count = match store.put_new(bucket, &key, body.clone()).await? {
        Written::Created => kept.len(),
        // A retry of this step, or a second start under the same name: the listing first written
        // stays the one the map reads.
        Written::AlreadyThere => {
            let existing = store.get(bucket, &key).await?.unwrap_or_default();
            let listed: Vec<ListedAccount> = serde_json::from_slice(&existing).map_err(|e| {
                ListingError::ExistingUnreadable {
                    bucket: bucket.into(),
                    key: key.clone(),
                    message: e.to_string(),
                }
            })?;
            if existing != body {
                tracing::warn!(
                    bucket,
                    key,
                    "a listing for this execution was already written and differs from this one; the first one stands"
                );
            }
            listed.len()
        }
    };
    let skipped_omitted = skipped.len().saturating_sub(SKIPPED_LIST_LIMIT);
    skipped.truncate(SKIPPED_LIST_LIMIT);
    for s in &skipped {
        tracing::info!(target: "iam_sweeper::org", execution = %execution, account = %s.id, name = %s.name, reason = %s.reason, "account skipped");
    }
    tracing::info!(execution = %execution, bucket, key, count, skipped = skipped.len() + skipped_omitted, "accounts listed");
    Ok(ListingResult {
        bucket: bucket.to_string(),
        key,
        count,
        skipped,
        skipped_omitted,
    })
}

// ---------------------------------------------------------------------------------------------
// the digest

/// What the digest step returns.
#[derive(Debug, Clone, Serialize)]
pub struct DigestSummary {
    pub execution: String,
    /// Accounts with a result (or listed without one).
    pub accounts: usize,
    pub ok: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Every counter summed over the accounts.
    pub totals: BTreeMap<String, u64>,
    /// The failed accounts' IDs, in the mail's order.
    pub failed_accounts: Vec<String>,
    /// Why the sweep counts as failed: failed accounts, unreadable results, an unpublished mail.
    pub problems: Vec<String>,
    pub published_message_id: Option<String>,
}

/// Reads the map's manifest, its result files and the listing, and publishes one mail for the
/// organization. `Err` (with the summary) when an account failed, a result could not be read or
/// the mail could not be published: the execution then fails and its alarm fires.
pub async fn digest<S: ObjectStore + Notifier>(
    store: &S,
    topic: Option<&str>,
    ev: &DigestEvent,
) -> Result<DigestSummary, DigestSummary> {
    let mut problems: Vec<String> = Vec::new();
    let children = read_results(store, ev, &mut problems).await;
    let listed =
        match read_json::<Vec<ListedAccount>>(store, &ev.listing.bucket, &ev.listing.key).await {
            Ok(listed) => Some(listed),
            Err(e) => {
                problems.push(format!(
                    "the listing is unreadable, so missing results cannot be told: {e}"
                ));
                None
            }
        };
    let d = Digest::assemble(
        &ev.execution,
        listed.as_deref(),
        results_of(&children),
        &ev.listing,
        problems,
    );
    let message = digest_mail::build(&d);
    let published = match topic {
        None => Err("SNS_TOPIC_ARN is not set: the digest has nowhere to go".to_string()),
        Some(topic) => tokio::time::timeout(PUBLISH_TIMEOUT, store.publish(topic, &message))
            .await
            .unwrap_or_else(|_| {
                Err(PublishError {
                    topic_arn: topic.to_string(),
                    code: None,
                    message: format!("no answer within {} s", PUBLISH_TIMEOUT.as_secs()),
                })
            })
            .map_err(|e| format!("the digest mail was not published: {e}")),
    };
    let failed: Vec<String> = d.failed_accounts().map(|a| a.account_id.clone()).collect();
    let mut summary_problems = d.problems.clone();
    if !failed.is_empty() {
        summary_problems.push(format!(
            "{} of {} account(s) failed: {}",
            failed.len(),
            d.accounts.len(),
            failed.join(", ")
        ));
    }
    let published_message_id = match published {
        Ok(id) => Some(id),
        Err(e) => {
            tracing::error!(error = %e, "digest not published");
            summary_problems.push(e);
            None
        }
    };
    let summary = DigestSummary {
        execution: d.execution.clone(),
        accounts: d.accounts.len(),
        ok: d.accounts.len() - failed.len(),
        failed: failed.len(),
        skipped: d.skipped.len() + d.skipped_omitted,
        totals: d.totals.clone(),
        failed_accounts: failed,
        problems: summary_problems,
        published_message_id,
    };
    tracing::info!(
        target: "iam_sweeper::org",
        execution = %summary.execution, accounts = summary.accounts, ok = summary.ok,
        failed = summary.failed, skipped = summary.skipped,
        totals = %serde_json::to_string(&summary.totals).unwrap_or_default(),
        published = summary.published_message_id.is_some(),
        problems = %summary.problems.join("; "),
        "organization digest"
    );
    if summary.problems.is_empty() {
        Ok(summary)
    } else {
        Err(summary)
    }
}

/// Every child execution of the map's result files; what cannot be read is a problem (its
/// accounts then show as "no result").
async fn read_results<S: ObjectStore>(
    store: &S,
    ev: &DigestEvent,
    problems: &mut Vec<String>,
) -> Vec<ChildExecution> {
    let manifest: Manifest = match read_json(store, &ev.results.bucket, &ev.results.key).await {
        Ok(m) => m,
        Err(e) => {
            problems.push(format!("the map's results are unreadable: {e}"));
            return Vec::new();
        }
    };
    let bucket = manifest
        .destination_bucket
        .clone()
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| ev.results.bucket.clone());
    let mut children = Vec::new();
    for file in manifest.result_files.all() {
        match read_json::<Vec<ChildExecution>>(store, &bucket, &file.key).await {
            Ok(c) => children.extend(c),
            Err(e) => problems.push(format!("a result file is unreadable: {e}")),
        }
    }
    children
}

/// Why an object could not be had as JSON.
#[derive(Debug, thiserror::Error)]
enum ReadError {
    #[error("s3://{bucket}/{key} does not exist")]
    Missing { bucket: String, key: String },
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("s3://{bucket}/{key} is not what was expected: {message}")]
    Shape {
        bucket: String,
        key: String,
        message: String,
    },
}

async fn read_json<T: serde::de::DeserializeOwned>(
    store: &impl ObjectStore,
    bucket: &str,
    key: &str,
) -> Result<T, ReadError> {
    let bytes = store
        .get(bucket, key)
        .await?
        .ok_or_else(|| ReadError::Missing {
            bucket: bucket.into(),
            key: key.into(),
        })?;
    serde_json::from_slice(&bytes).map_err(|e| ReadError::Shape {
        bucket: bucket.into(),
        key: key.into(),
        message: e.to_string(),
    })
}
