//! An organization, swept account by account: the events the Step Functions workflow sends the
//! binary, the settings of the organization mode, the listing's filters, and the shapes of a
//! worker's result and of the digest built from every worker's result.
//!
//! Three events arrive, besides the single-account ones of [`crate::core::event`]:
//!
//! - a Distributed Map child's batch, `{"Items": [{"Id", "Name", ...}], "BatchInput": {...}}`: sweep
//!   each listed account (the worker);
//! - `{"iam_sweeper": "list-accounts", "execution": ...}`: list the organization's accounts to
//!   sweep;
//! - `{"iam_sweeper": "digest", "execution": ..., "listing": {...}, "results": {...}}`: one mail for
//!   the whole organization from the map's result files.
//!
//! Everything here is pure: the Organizations answers, the S3 objects and the runs' reports
//! arrive as values.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::core::config::{ConfigError, Mode, Problem as SettingProblem};
use crate::core::outcome::{Outcome, Status};
use crate::core::run::{Counter, RunReport};

// ---------------------------------------------------------------------------------------------
// identifiers

/// A 12-digit AWS account ID.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountId(String);

impl AccountId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AccountId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(AccountId(s))
        } else {
            Err(format!("`{s}` is not a 12-digit AWS account ID"))
        }
    }
}

impl std::str::FromStr for AccountId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        AccountId::try_from(s.to_string())
    }
}

impl From<AccountId> for String {
    fn from(a: AccountId) -> String {
        a.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Step Functions execution name (1 to 80 letters, digits, `-` and `_`): it names the
/// listing's S3 object, so nothing else is let in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ExecutionName(String);

impl ExecutionName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ExecutionName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let ok = (1..=80).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(ExecutionName(s))
        } else {
            Err(format!(
                "`{s}` is not an execution name (1 to 80 letters, digits, - and _)"
            ))
        }
    }
}

impl From<ExecutionName> for String {
    fn from(e: ExecutionName) -> String {
        e.0
    }
}

impl fmt::Display for ExecutionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An organizational unit (`ou-…`) or root (`r-…`) ID.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OuId(String);

impl OuId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `ou-<4 to 32 lowercase letters or digits>-<8 to 32 lowercase letters or digits>`, or a
    /// root, `r-<4 to 32>`.
    pub fn parse(s: &str) -> Option<OuId> {
        let part = |p: &str, min: usize| {
            (min..=32).contains(&p.len())
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        };
        let ok = if let Some(rest) = s.strip_prefix("ou-") {
            rest.split_once('-')
                .is_some_and(|(root, ou)| part(root, 4) && part(ou, 8))
        } else if let Some(rest) = s.strip_prefix("r-") {
            part(rest, 4)
        } else {
            false
        };
        ok.then(|| OuId(s.to_string()))
    }
}

impl fmt::Display for OuId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The partition of `region`: `aws-cn` for `cn-*`, `aws-us-gov` for `us-gov-*`, else `aws`.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The member role to assume in `account`.
pub fn member_role_arn(region: &str, account: &AccountId, role_name: &str) -> String {
    format!("arn:{}:iam::{account}:role/{role_name}", partition(region))
}

// ---------------------------------------------------------------------------------------------
// settings

/// `MEMBER_ROLE_NAME` when unset.
pub const DEFAULT_MEMBER_ROLE: &str = "iam-sweeper-member";

/// Every environment variable the organization mode reads (besides the single-account ones,
/// which apply to each member account's sweep).
pub const VARIABLES: [&str; 9] = [
    "MEMBER_ROLE_NAME",
    "MEMBER_EXTERNAL_ID",
    "ORG_BUCKET",
    "ORG_PREFIX",
    "ORG_INCLUDE_OUS",
    "ORG_EXCLUDE_OUS",
    "ORG_INCLUDE_ACCOUNTS",
    "ORG_EXCLUDE_ACCOUNTS",
    "ORG_EXCLUDE_TAG",
];

/// The organization mode's settings, read when an organization event arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgSettings {
    /// `MEMBER_ROLE_NAME`: the role assumed in each member account.
    pub member_role_name: String,
    /// `MEMBER_EXTERNAL_ID`: sent with every AssumeRole when set.
    pub member_external_id: Option<String>,
    /// `ORG_BUCKET`: where the listing is written (needed by the listing step only).
    pub bucket: Option<String>,
    /// `ORG_PREFIX`: the key prefix in that bucket, empty or ending with `/`.
    pub prefix: String,
    pub filters: Filters,
}

/// Which accounts the listing keeps. Each filter that is set must let an account through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// `ORG_INCLUDE_OUS`: only accounts in these OUs or their nested OUs.
    pub include_ous: Vec<OuId>,
    /// `ORG_EXCLUDE_OUS`: no account in these OUs or their nested OUs.
    pub exclude_ous: Vec<OuId>,
    /// `ORG_INCLUDE_ACCOUNTS`: only these accounts.
    pub include_accounts: BTreeSet<AccountId>,
    /// `ORG_EXCLUDE_ACCOUNTS`: never these accounts.
    pub exclude_accounts: BTreeSet<AccountId>,
    /// `ORG_EXCLUDE_TAG`: no account carrying this tag.
    pub exclude_tag: Option<TagFilter>,
}

/// `key` (any value) or `key=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagFilter {
    pub key: String,
    pub value: Option<String>,
}

impl TagFilter {
    /// True when `tags` carry the tag (with the value, when one is given).
    pub fn matches(&self, tags: &[(String, String)]) -> bool {
        tags.iter()
            .any(|(k, v)| k == &self.key && self.value.as_ref().is_none_or(|want| want == v))
    }
}

impl fmt::Display for TagFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "{}={v}", self.key),
            None => f.write_str(&self.key),
        }
    }
}

/// Reads the organization settings through `lookup` (normally `std::env::var`), every problem
/// at once, each naming its variable. An empty value counts as unset.
pub fn settings_from_lookup(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<OrgSettings, ConfigError> {
    let get = |name: &str| {
        lookup(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let mut problems = Vec::new();
    let mut problem = |variable: &'static str, message: String| {
        problems.push(SettingProblem { variable, message });
    };

    let member_role_name = get("MEMBER_ROLE_NAME").unwrap_or_else(|| DEFAULT_MEMBER_ROLE.into());
    let role_ok = (1..=64).contains(&member_role_name.len())
        && member_role_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
    if !role_ok {
        problem(
            "MEMBER_ROLE_NAME",
            format!(
                "`{member_role_name}` is not an IAM role name (1 to 64 letters, digits and +=,.@_-)"
            ),
        );
    }
    let member_external_id = get("MEMBER_EXTERNAL_ID");
    if let Some(id) = &member_external_id {
        let ok = (2..=1224).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+=,.@:/_-".contains(&b));
        if !ok {
            problem(
                "MEMBER_EXTERNAL_ID",
                "is not an STS external ID (2 to 1224 letters, digits and +=,.@:/_-)".into(),
            );
        }
    }
    let bucket = get("ORG_BUCKET");
    if let Some(name) = &bucket {
        let b = name.as_bytes();
        let ok = (3..=63).contains(&b.len())
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'.')
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric();
        if !ok {
            problem(
                "ORG_BUCKET",
                format!(
                    "`{name}` is not an S3 bucket name (3 to 63 lowercase letters, digits, dots and hyphens)"
                ),
            );
        }
    }
    let raw_prefix = get("ORG_PREFIX").unwrap_or_default();
    if raw_prefix.starts_with('/') || raw_prefix.contains("//") {
        problem(
            "ORG_PREFIX",
            format!("`{raw_prefix}` must not start with / or contain //"),
        );
    }
    let prefix = if raw_prefix.is_empty() || raw_prefix.ends_with('/') {
        raw_prefix
    } else {
        format!("{raw_prefix}/")
    };

    let mut ous = |name: &'static str| -> Vec<OuId> {
        let mut out: Vec<OuId> = Vec::new();
        for part in get(name).unwrap_or_default().split(',').map(str::trim) {
            if part.is_empty() {
                continue;
            }
            match OuId::parse(part) {
                Some(ou) if !out.contains(&ou) => out.push(ou),
                Some(_) => {}
                None => problem(
                    name,
                    format!("`{part}` is not an OU ID (ou-xxxx-xxxxxxxx) or a root ID (r-xxxx)"),
                ),
            }
        }
        out
    };
    let include_ous = ous("ORG_INCLUDE_OUS");
    let exclude_ous = ous("ORG_EXCLUDE_OUS");
    let mut accounts = |name: &'static str| -> BTreeSet<AccountId> {
        let mut out = BTreeSet::new();
        for part in get(name).unwrap_or_default().split(',').map(str::trim) {
            if part.is_empty() {
                continue;
            }
            match part.parse::<AccountId>() {
                Ok(id) => {
                    out.insert(id);
                }
                Err(e) => problem(name, e),
            }
        }
        out
    };
    let include_accounts = accounts("ORG_INCLUDE_ACCOUNTS");
    let exclude_accounts = accounts("ORG_EXCLUDE_ACCOUNTS");
    let exclude_tag = get("ORG_EXCLUDE_TAG").and_then(|v| {
        let (key, value) = match v.split_once('=') {
            Some((k, val)) => (k.trim().to_string(), Some(val.trim().to_string())),
            None => (v.clone(), None),
        };
        if key.is_empty() || key.chars().count() > 128 {
            problem(
                "ORG_EXCLUDE_TAG",
                format!("`{v}` is not `key` or `key=value` with a tag key of 1 to 128 characters"),
            );
            return None;
        }
        Some(TagFilter { key, value })
    });

    if problems.is_empty() {
        Ok(OrgSettings {
            member_role_name,
            member_external_id,
            bucket,
            prefix,
            filters: Filters {
                include_ous,
                exclude_ous,
                include_accounts,
                exclude_accounts,
                exclude_tag,
            },
        })
    } else {
        Err(ConfigError { problems })
    }
}

impl OrgSettings {
    /// The listing's key for `execution`.
    pub fn listing_key(&self, execution: &ExecutionName) -> String {
        format!("{}listings/{execution}.json", self.prefix)
    }
}

// ---------------------------------------------------------------------------------------------
// the listing

/// An account as Organizations lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgAccount {
    /// The ID as Organizations gave it (checked when listed).
    pub id: String,
    pub name: String,
    pub status: OrgAccountStatus,
}

/// An account's status in Organizations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgAccountStatus {
    Active,
    Suspended,
    PendingClosure,
    /// A status this version does not know, verbatim: never swept.
    Other(String),
}

/// Why the listing left an account out.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::Display,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum SkipReason {
    /// Status SUSPENDED.
    Suspended,
    /// Status PENDING_CLOSURE.
    PendingClosure,
    /// Any other status than ACTIVE.
    NotActive,
    /// In `ORG_EXCLUDE_ACCOUNTS`.
    ExcludedAccount,
    /// Not in `ORG_INCLUDE_ACCOUNTS`.
    NotIncludedAccount,
    /// In one of `ORG_EXCLUDE_OUS` (or below).
    ExcludedOu,
    /// In none of `ORG_INCLUDE_OUS` (nor below).
    NotInIncludedOu,
    /// Carries `ORG_EXCLUDE_TAG`.
    ExcludedTag,
}

/// Where an account sits relative to the OU filters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OuPlacement {
    /// Under one of `ORG_EXCLUDE_OUS`.
    pub in_excluded: bool,
    /// Under one of `ORG_INCLUDE_OUS` (meaningless when none is set).
    pub in_included: bool,
}

/// Why `account` is left out before its tags are read, if it is: status first, then the
/// account lists, then the OUs.
pub fn skip_reason(
    account: &OrgAccount,
    id: &AccountId,
    placement: OuPlacement,
    filters: &Filters,
) -> Option<SkipReason> {
    match account.status {
        OrgAccountStatus::Active => {}
        OrgAccountStatus::Suspended => return Some(SkipReason::Suspended),
        OrgAccountStatus::PendingClosure => return Some(SkipReason::PendingClosure),
        OrgAccountStatus::Other(_) => return Some(SkipReason::NotActive),
    }
    if filters.exclude_accounts.contains(id) {
        return Some(SkipReason::ExcludedAccount);
    }
    if !filters.include_accounts.is_empty() && !filters.include_accounts.contains(id) {
        return Some(SkipReason::NotIncludedAccount);
    }
    if placement.in_excluded {
        return Some(SkipReason::ExcludedOu);
    }
    if !filters.include_ous.is_empty() && !placement.in_included {
        return Some(SkipReason::NotInIncludedOu);
    }
    None
}

/// One account of the listing file the Distributed Map reads: `{"Id", "Name"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedAccount {
    #[serde(rename = "Id")]
    pub id: AccountId,
    #[serde(rename = "Name", default)]
    pub name: String,
}

/// An account the listing left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Skipped {
    pub id: String,
    pub name: String,
    pub reason: SkipReason,
}

/// The most skipped accounts a listing result names (the rest are counted): the result travels
/// through Step Functions, whose states carry at most 256 KiB.
pub const SKIPPED_LIST_LIMIT: usize = 1_000;

/// What the listing step returns (and the digest event carries back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListingResult {
    pub bucket: String,
    pub key: String,
    /// Accounts to sweep.
    pub count: usize,
    /// Accounts left out, each with its reason (at most [`SKIPPED_LIST_LIMIT`]).
    pub skipped: Vec<Skipped>,
    /// Skipped accounts left out of `skipped`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skipped_omitted: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

// ---------------------------------------------------------------------------------------------
// events

/// An event of the organization mode.
#[derive(Debug, Clone, PartialEq)]
pub enum OrgEvent {
    /// A Distributed Map child's batch: sweep these accounts.
    Batch(BatchEvent),
    /// List the organization's accounts to sweep.
    ListAccounts { execution: ExecutionName },
    /// One mail for the organization from the map's results.
    Digest(DigestEvent),
}

/// A worker's batch: `{"Items": [...], "BatchInput": {...}}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchEvent {
    #[serde(rename = "Items")]
    pub items: Vec<ListedAccount>,
    #[serde(rename = "BatchInput")]
    pub batch_input: BatchInput,
}

/// The workflow's input to every batch: the execution's name, and what it asks of each sweep
/// (`mode`, `as_of`: the single-account event, checked per account as a single-account event is).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BatchInput {
    pub execution: ExecutionName,
    #[serde(flatten)]
    pub sweep_event: serde_json::Map<String, Value>,
}

/// `{"iam_sweeper": "list-accounts" | "digest", ...}`.
#[derive(Debug, Deserialize)]
#[serde(tag = "iam_sweeper", rename_all = "kebab-case", deny_unknown_fields)]
enum StepEvent {
    ListAccounts {
        execution: ExecutionName,
    },
    Digest {
        execution: ExecutionName,
        listing: ListingResult,
        results: ResultWriterDetails,
    },
}

/// The digest's event: the listing's result and where the map wrote its results.
#[derive(Debug, Clone, PartialEq)]
pub struct DigestEvent {
    pub execution: ExecutionName,
    pub listing: ListingResult,
    pub results: ResultWriterDetails,
}

/// The Distributed Map's `ResultWriterDetails`: where its manifest is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultWriterDetails {
    #[serde(rename = "Bucket")]
    pub bucket: String,
    #[serde(rename = "Key")]
    pub key: String,
}

/// Why an organization event was refused. Nothing is done for a refused event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrgEventError {
    #[error(
        "the batch event does not decode: {0}; a Distributed Map batch is {{\"Items\": [{{\"Id\": \"<12-digit account>\", \"Name\": \"...\"}}], \"BatchInput\": {{\"execution\": \"<name>\"}}}}"
    )]
    BadBatch(String),
    #[error("the batch lists account {0} more than once; each account is swept once per batch")]
    DuplicateAccount(AccountId),
    #[error(
        "the workflow event does not decode: {0}; send {{\"iam_sweeper\": \"list-accounts\", \"execution\": \"<name>\"}} or the digest event"
    )]
    BadStep(String),
}

/// The organization event `event` is, if it is one: `None` for a single-account event.
pub fn detect(event: &Value) -> Option<Result<OrgEvent, OrgEventError>> {
    let obj = event.as_object()?;
    if obj.contains_key("Items") || obj.contains_key("BatchInput") {
        return Some(decode_batch(event));
    }
    if obj.contains_key("iam_sweeper") {
        let step = StepEvent::deserialize(event).map_err(|e| OrgEventError::BadStep(e.to_string()));
        return Some(step.map(|s| match s {
            StepEvent::ListAccounts { execution } => OrgEvent::ListAccounts { execution },
            StepEvent::Digest {
                execution,
                listing,
                results,
            } => OrgEvent::Digest(DigestEvent {
                execution,
                listing,
                results,
            }),
        }));
    }
    None
}

fn decode_batch(event: &Value) -> Result<OrgEvent, OrgEventError> {
    let batch =
        BatchEvent::deserialize(event).map_err(|e| OrgEventError::BadBatch(e.to_string()))?;
    let mut seen = BTreeSet::new();
    for item in &batch.items {
        if !seen.insert(&item.id) {
            return Err(OrgEventError::DuplicateAccount(item.id.clone()));
        }
    }
    Ok(OrgEvent::Batch(batch))
}

// ---------------------------------------------------------------------------------------------
// a worker's result

/// How one account's sweep ended.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, strum::Display,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum AccountStatus {
    // Failed sorts first: the digest lists failed accounts first.
    Failed,
    Ok,
}

/// One action of an account's sweep, as the worker's result and the digest carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionEntry {
    pub user: String,
    /// `password`, `access_key_1`, `access_key_2`.
    pub credential: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// What was taken (or planned, when nothing was).
    pub action: String,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The command that reverses it, for actions taken (run in the member account).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo: Option<String>,
}

impl From<&Outcome> for ActionEntry {
    fn from(o: &Outcome) -> Self {
        ActionEntry {
            user: o.user.clone(),
            credential: o.credential.to_string(),
            access_key_id: o.access_key_id.clone(),
            action: o.taken.unwrap_or(o.planned).as_str().to_string(),
            status: o.status,
            detail: o.detail.as_ref().map(ToString::to_string),
            undo: o.undo.clone(),
        }
    }
}

/// One account's sweep, in the worker's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountResult {
    pub account_id: String,
    #[serde(default)]
    pub name: String,
    pub status: AccountStatus,
    /// The run's mode, when the run started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// The run's counters ([`Counter`] names); empty when the run never got a report.
    #[serde(default)]
    pub counts: BTreeMap<String, u64>,
    /// The run's actions, at most the result limit (the rest counted in `omitted_actions`).
    #[serde(default)]
    pub actions: Vec<ActionEntry>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted_actions: usize,
    /// Why the account failed; empty for an account swept cleanly.
    #[serde(default)]
    pub problems: Vec<String>,
    /// The run's ID (journal, logs), when the run started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
}

impl AccountResult {
    /// An account whose sweep produced `report` (failed when the report has problems), with at
    /// most `limit` actions listed (actions taken first).
    pub fn from_run(item: &ListedAccount, report: &RunReport, limit: usize) -> Self {
        use strum::IntoEnumIterator;
        let mut actions: Vec<&Outcome> = report.actions.iter().collect();
        actions.sort_by_key(|o| o.status == Status::NotTaken);
        let omitted_actions = actions.len().saturating_sub(limit);
        AccountResult {
            account_id: item.id.to_string(),
            name: item.name.clone(),
            status: if report.failed() {
                AccountStatus::Failed
            } else {
                AccountStatus::Ok
            },
            mode: Some(report.audit.policy.mode),
            counts: Counter::iter()
                .map(|c| (c.name().to_string(), report.count(c) as u64))
                .collect(),
            actions: actions
                .into_iter()
                .take(limit)
                .map(ActionEntry::from)
                .collect(),
            omitted_actions,
            problems: report.problems.iter().map(ToString::to_string).collect(),
            run_id: Some(report.run_id.clone()),
        }
    }

    /// An account that failed before its sweep had a report (role not assumable, event refused,
    /// report unavailable, no result).
    pub fn failed(account_id: &str, name: &str, problem: String) -> Self {
        AccountResult {
            account_id: account_id.to_string(),
            name: name.to_string(),
            status: AccountStatus::Failed,
            mode: None,
            counts: BTreeMap::new(),
            actions: Vec::new(),
            omitted_actions: 0,
            problems: vec![problem],
            run_id: None,
        }
    }
}

/// What a worker returns: one entry per account of its batch, in the batch's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchResult {
    pub accounts: Vec<AccountResult>,
}

/// The most bytes a worker's result may take: Step Functions fails a child execution whose
/// output passes 256 KiB (`States.DataLimitExceeded`), which would report accounts that were
/// swept as failed. Room is left for the Lambda integration's wrapper.
pub const BATCH_RESULT_BUDGET: usize = 200 * 1024;

impl BatchResult {
    /// Lists fewer actions until the result's JSON fits in `max_bytes`: the longest list is
    /// halved first, and actions taken stay ahead of those not taken; every action left out is
    /// counted in its account's `omitted_actions` (the journal and the logs have them all).
    pub fn fit(&mut self, max_bytes: usize) {
        let size = |r: &BatchResult| serde_json::to_vec(r).map_or(usize::MAX, |v| v.len());
        while size(self) > max_bytes {
            let Some(longest) = self
                .accounts
                .iter_mut()
                .filter(|a| !a.actions.is_empty())
                .max_by_key(|a| a.actions.len())
            else {
                return;
            };
            let keep = longest.actions.len() / 2;
            longest.omitted_actions += longest.actions.len() - keep;
            longest.actions.truncate(keep);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// the digest

/// The Distributed Map's `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Manifest {
    #[serde(rename = "DestinationBucket", default)]
    pub destination_bucket: Option<String>,
    #[serde(rename = "MapRunArn", default)]
    pub map_run_arn: Option<String>,
    #[serde(rename = "ResultFiles")]
    pub result_files: ResultFiles,
}

/// The result files, by the status of the child executions they hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ResultFiles {
    #[serde(rename = "SUCCEEDED", default)]
    pub succeeded: Vec<ResultFile>,
    #[serde(rename = "FAILED", default)]
    pub failed: Vec<ResultFile>,
    #[serde(rename = "PENDING", default)]
    pub pending: Vec<ResultFile>,
}

impl ResultFiles {
    /// Every file, succeeded first.
    pub fn all(&self) -> impl Iterator<Item = &ResultFile> {
        self.succeeded
            .iter()
            .chain(&self.failed)
            .chain(&self.pending)
    }
}

/// One result file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ResultFile {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "Size", default)]
    pub size: Option<u64>,
}

/// One child execution in a result file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ChildExecution {
    #[serde(rename = "Status")]
    pub status: ChildStatus,
    /// The child's input, as a JSON string (an object when written by hand).
    #[serde(rename = "Input", default)]
    pub input: Option<Value>,
    /// The child's output, as a JSON string (an object when written by hand).
    #[serde(rename = "Output", default)]
    pub output: Option<Value>,
    #[serde(rename = "Error", default)]
    pub error: Option<String>,
    #[serde(rename = "Cause", default)]
    pub cause: Option<String>,
    #[serde(rename = "Name", default)]
    pub name: Option<String>,
}

/// A child execution's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, strum::Display)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum ChildStatus {
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
    Running,
    PendingRedrive,
    #[serde(other)]
    Unknown,
}

/// The accounts a child execution's input listed (`Items[].Id`), read leniently: a failed child
/// may have failed on its input.
fn input_accounts(input: Option<&Value>) -> Vec<(String, String)> {
    let Some(value) = input.and_then(json_of) else {
        return Vec::new();
    };
    value["Items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| {
            let id = item["Id"].as_str()?.to_string();
            let name = item["Name"].as_str().unwrap_or_default().to_string();
            Some((id, name))
        })
        .collect()
}

/// A value that is JSON text or already JSON.
fn json_of(v: &Value) -> Option<Value> {
    match v {
        Value::String(s) => serde_json::from_str(s).ok(),
        Value::Null => None,
        other => Some(other.clone()),
    }
}

/// The worker's result in a child's output: `{"accounts": [...]}`, or the Lambda integration's
/// whole answer with the result in `Payload`.
fn batch_result(output: Option<&Value>) -> Result<BatchResult, String> {
    let value = output
        .and_then(json_of)
        .ok_or_else(|| "the child execution has no output".to_string())?;
    let value = match value.get("Payload") {
        Some(p) if value.get("accounts").is_none() => json_of(p).unwrap_or(Value::Null),
        _ => value,
    };
    BatchResult::deserialize(&value)
        .map_err(|e| format!("its output is not a worker's result: {e}"))
}

/// Every account's result from the child executions of the map: a succeeded child's accounts
/// as the worker reported them; a failed, timed-out or aborted child's accounts (from its input)
/// failed with its error. An account with several entries (a redriven child) keeps a succeeded
/// child's entry.
pub fn results_of(children: &[ChildExecution]) -> Vec<AccountResult> {
    let mut by_account: BTreeMap<String, (bool, AccountResult)> = BTreeMap::new();
    let mut keep = |from_success: bool, r: AccountResult| match by_account.get(&r.account_id) {
        Some((true, _)) if !from_success => {}
        _ => {
            by_account.insert(r.account_id.clone(), (from_success, r));
        }
    };
    for child in children {
        let listed = input_accounts(child.input.as_ref());
        if child.status == ChildStatus::Succeeded {
            match batch_result(child.output.as_ref()) {
                Ok(batch) => {
                    let reported: BTreeSet<String> = batch
                        .accounts
                        .iter()
                        .map(|a| a.account_id.clone())
                        .collect();
                    for a in batch.accounts {
                        keep(true, a);
                    }
                    for (id, name) in listed.into_iter().filter(|(id, _)| !reported.contains(id)) {
                        keep(
                            false,
                            AccountResult::failed(
                                &id,
                                &name,
                                "the worker's result does not name this account of its batch"
                                    .into(),
                            ),
                        );
                    }
                }
                Err(e) => {
                    for (id, name) in listed {
                        keep(
                            false,
                            AccountResult::failed(
                                &id,
                                &name,
                                format!("the worker succeeded but {e}"),
                            ),
                        );
                    }
                }
            }
        } else {
            let why = match (&child.error, &child.cause) {
                (Some(e), Some(c)) => format!("{e}: {c}"),
                (Some(e), None) => e.clone(),
                (None, Some(c)) => c.clone(),
                (None, None) => "no error given".into(),
            };
            for (id, name) in listed {
                keep(
                    false,
                    AccountResult::failed(
                        &id,
                        &name,
                        format!("the batch's execution {}: {why}", child.status),
                    ),
                );
            }
        }
    }
    by_account.into_values().map(|(_, r)| r).collect()
}

/// The organization's sweep, as the digest mail tells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Digest {
    pub execution: String,
    /// Every account the listing kept, and any other with a result: failed first, then by ID.
    pub accounts: Vec<AccountResult>,
    pub skipped: Vec<Skipped>,
    pub skipped_omitted: usize,
    /// Every counter summed over the accounts.
    pub totals: BTreeMap<String, u64>,
    /// Problems of the digest itself: results or the listing missing or unreadable.
    pub problems: Vec<String>,
}

impl Digest {
    /// Puts the accounts in order (failed first, then by ID) and sums the counters.
    ///
    /// `listed` is the listing's accounts when it could be read: a listed account without a
    /// result is failed ("no result"), never taken for clean.
    pub fn assemble(
        execution: &ExecutionName,
        listed: Option<&[ListedAccount]>,
        results: Vec<AccountResult>,
        listing: &ListingResult,
        problems: Vec<String>,
    ) -> Digest {
        let mut by_id: BTreeMap<String, AccountResult> = results
            .into_iter()
            .map(|r| (r.account_id.clone(), r))
            .collect();
        for a in listed.into_iter().flatten() {
            by_id.entry(a.id.to_string()).or_insert_with(|| {
                AccountResult::failed(
                    a.id.as_str(),
                    &a.name,
                    "no result: the map wrote no result for this account".into(),
                )
            });
        }
        let mut accounts: Vec<AccountResult> = by_id.into_values().collect();
        accounts.sort_by(|a, b| (a.status, &a.account_id).cmp(&(b.status, &b.account_id)));
        let mut totals: BTreeMap<String, u64> = BTreeMap::new();
        for a in &accounts {
            for (k, v) in &a.counts {
                *totals.entry(k.clone()).or_default() += v;
            }
        }
        Digest {
            execution: execution.to_string(),
            accounts,
            skipped: listing.skipped.clone(),
            skipped_omitted: listing.skipped_omitted,
            totals,
            problems,
        }
    }

    pub fn failed_accounts(&self) -> impl Iterator<Item = &AccountResult> {
        self.accounts
            .iter()
            .filter(|a| a.status == AccountStatus::Failed)
    }

    /// True when an account failed or the results could not all be read.
    pub fn failed(&self) -> bool {
        !self.problems.is_empty() || self.failed_accounts().next().is_some()
    }

    /// A counter's total.
    pub fn total(&self, counter: Counter) -> u64 {
        self.totals.get(counter.name()).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    #[test]
    fn partitions_follow_the_region() {
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition("eu-west-1"), "aws");
        let id: AccountId = "111122223333".parse().unwrap();
        assert_eq!(
            member_role_arn("cn-northwest-1", &id, "r"),
            "arn:aws-cn:iam::111122223333:role/r"
        );
    }

    #[test]
    fn settings_default_and_every_problem_at_once() {
        let s = settings_from_lookup(env(&[])).unwrap();
        assert_eq!(s.member_role_name, DEFAULT_MEMBER_ROLE);
        assert_eq!(s.prefix, "");
        assert_eq!(s.filters, Filters::default());
        let s = settings_from_lookup(env(&[
            ("ORG_PREFIX", "org"),
            ("ORG_INCLUDE_OUS", "ou-ab12-abcdefgh, r-ab12"),
            ("ORG_EXCLUDE_ACCOUNTS", "111122223333,,444455556666"),
            ("ORG_EXCLUDE_TAG", "sweep=off"),
        ]))
        .unwrap();
        assert_eq!(s.prefix, "org/");
        assert_eq!(
            s.listing_key(&ExecutionName::try_from("x".to_string()).unwrap()),
            "org/listings/x.json"
        );
        assert_eq!(s.filters.include_ous.len(), 2);
        assert_eq!(s.filters.exclude_accounts.len(), 2);
        assert_eq!(
            s.filters.exclude_tag,
            Some(TagFilter {
                key: "sweep".into(),
                value: Some("off".into())
            })
        );
        let e = settings_from_lookup(env(&[
            ("MEMBER_ROLE_NAME", "has space"),
            ("ORG_INCLUDE_OUS", "finance"),
            ("ORG_EXCLUDE_ACCOUNTS", "12345"),
            ("ORG_EXCLUDE_TAG", "=x"),
            ("ORG_BUCKET", "Not_A_Bucket"),
        ]))
        .unwrap_err();
        let named: Vec<&str> = e.problems.iter().map(|p| p.variable).collect();
        assert_eq!(
            named,
            [
                "MEMBER_ROLE_NAME",
                "ORG_BUCKET",
                "ORG_INCLUDE_OUS",
                "ORG_EXCLUDE_ACCOUNTS",
                "ORG_EXCLUDE_TAG"
            ]
        );
    }

    #[test]
    fn events_are_detected_and_checked() {
        assert!(detect(&json!({})).is_none());
        assert!(detect(&json!({"mode": "report"})).is_none());
        let batch = json!({"Items": [{"Id": "111122223333", "Name": "a", "Email": "x"}],
                           "BatchInput": {"execution": "e1", "mode": "report"}});
        let Some(Ok(OrgEvent::Batch(b))) = detect(&batch) else {
            panic!("a batch")
        };
        assert_eq!(b.items[0].name, "a");
        assert_eq!(b.batch_input.sweep_event["mode"], "report");
        let bad_id = json!({"Items": [{"Id": "1111"}], "BatchInput": {"execution": "e1"}});
        assert!(matches!(
            detect(&bad_id),
            Some(Err(OrgEventError::BadBatch(_)))
        ));
        let dup = json!({"Items": [{"Id": "111122223333"}, {"Id": "111122223333"}],
                         "BatchInput": {"execution": "e1"}});
        assert!(matches!(
            detect(&dup),
            Some(Err(OrgEventError::DuplicateAccount(_)))
        ));
        let extra = json!({"Items": [], "BatchInput": {"execution": "e1"}, "More": 1});
        assert!(matches!(detect(&extra), Some(Err(_))));
        let list = json!({"iam_sweeper": "list-accounts", "execution": "e1"});
        assert!(matches!(
            detect(&list),
            Some(Ok(OrgEvent::ListAccounts { .. }))
        ));
        for bad in [
            json!({"iam_sweeper": "list-accounts", "execution": "../x"}),
            json!({"iam_sweeper": "list-accounts", "execution": "e1", "extra": 1}),
            json!({"iam_sweeper": "sweep-everything"}),
        ] {
            assert!(matches!(detect(&bad), Some(Err(_))), "{bad}");
        }
    }

    #[test]
    fn the_filters_give_one_reason_each() {
        let id: AccountId = "111122223333".parse().unwrap();
        let acct = |status| OrgAccount {
            id: id.to_string(),
            name: "a".into(),
            status,
        };
        let f = Filters::default();
        let none = OuPlacement::default();
        assert_eq!(
            skip_reason(&acct(OrgAccountStatus::Suspended), &id, none, &f),
            Some(SkipReason::Suspended)
        );
        assert_eq!(
            skip_reason(&acct(OrgAccountStatus::PendingClosure), &id, none, &f),
            Some(SkipReason::PendingClosure)
        );
        assert_eq!(
            skip_reason(&acct(OrgAccountStatus::Active), &id, none, &f),
            None
        );
        let f = Filters {
            include_ous: vec![OuId::parse("r-ab12").unwrap()],
            ..Filters::default()
        };
        assert_eq!(
            skip_reason(&acct(OrgAccountStatus::Active), &id, none, &f),
            Some(SkipReason::NotInIncludedOu)
        );
        assert_eq!(
            serde_json::to_value(SkipReason::NotInIncludedOu).unwrap(),
            "not-in-included-ou"
        );
        let tag = TagFilter {
            key: "k".into(),
            value: None,
        };
        assert!(tag.matches(&[("k".into(), "anything".into())]));
        assert!(!tag.matches(&[("other".into(), "k".into())]));
    }

    #[test]
    fn a_batch_result_is_cut_to_fit_step_functions() {
        let action = ActionEntry {
            user: "u".repeat(64),
            credential: "access_key_1".into(),
            access_key_id: Some("AKIAAAAAAAAAAAAAAAAA".into()),
            action: "deactivate_key".into(),
            status: Status::Done,
            detail: None,
            undo: Some("x".repeat(150)),
        };
        let mut big = AccountResult::failed("111122223333", "a", "p".into());
        big.actions = vec![action.clone(); 1_000];
        let mut small = AccountResult::failed("222233334444", "b", "p".into());
        small.actions = vec![action; 10];
        let mut r = BatchResult {
            accounts: vec![big, small],
        };
        r.fit(BATCH_RESULT_BUDGET);
        assert!(serde_json::to_vec(&r).unwrap().len() <= BATCH_RESULT_BUDGET);
        let a = &r.accounts[0];
        assert_eq!(a.actions.len() + a.omitted_actions, 1_000);
        assert!(a.omitted_actions > 0);
        assert_eq!(
            r.accounts[1].actions.len(),
            10,
            "the short list is left whole"
        );
    }

    #[test]
    fn child_executions_become_account_results() {
        let ok = json!({"accounts": [{"account_id": "111122223333", "name": "a", "status": "ok",
                                       "counts": {"findings": 2}, "actions": [], "problems": []}]});
        let children: Vec<ChildExecution> = serde_json::from_value(json!([
            {"Status": "SUCCEEDED",
             "Input": json!({"Items": [{"Id": "111122223333", "Name": "a"}, {"Id": "222233334444", "Name": "b"}]}).to_string(),
             "Output": ok.to_string()},
            {"Status": "FAILED", "Error": "States.Timeout", "Cause": "took too long",
             "Input": json!({"Items": [{"Id": "555566667777", "Name": "c"}]}).to_string()},
            {"Status": "SUCCEEDED", "Input": json!({"Items": [{"Id": "888899990000"}]}).to_string(),
             "Output": json!({"Payload": {"accounts": []}, "StatusCode": 200}).to_string()},
        ]))
        .unwrap();
        let results = results_of(&children);
        let status: Vec<(&str, AccountStatus)> = results
            .iter()
            .map(|r| (r.account_id.as_str(), r.status))
            .collect();
        assert_eq!(
            status,
            [
                ("111122223333", AccountStatus::Ok),
                ("222233334444", AccountStatus::Failed),
                ("555566667777", AccountStatus::Failed),
                ("888899990000", AccountStatus::Failed),
            ]
        );
        assert!(results[2].problems[0].contains("States.Timeout: took too long"));
    }
}
