//! Security Hub findings: the run's findings as ASFF documents (the AWS Security Finding Format).
//!
//! Pure: a [`Finding`], the [`Outcome`] of its action if it had one, and a [`Context`] (account,
//! region, partition, the run's time) in; one [`Asff`] per rule the finding matched out, with
//! ASFF's own field names, ready for `BatchImportFindings` (through the SDK adapter) or for
//! `iam-sweeper audit --format asff`.
//!
//! - **Identity.** `Id` is `iam-sweeper/<account>/<user>/<credential>/<rule>` (the root user is
//!   `root`; keys are named by slot, `access_key_1`, since the report has no key ID): the same
//!   credential on the next night updates the same finding. `GeneratorId` is
//!   `iam-sweeper/<rule>`.
//! - **State.** A finding to fix is `Compliance.Status=FAILED`; an exempt one `WARNING`, with its
//!   exemption in `ProductFields`; one this run resolved (the action was taken, or the re-check
//!   found the credential already disabled, gone or used since the report) `PASSED` and
//!   `RecordState=ARCHIVED`. A finding raised earlier and not found any more is closed the same
//!   way with [`closed`]. `Workflow` and `Note` are never set: they belong to the people triaging.
//! - **Limits.** Title, description, recommendation and field values are cut to ASFF's lengths,
//!   so a document stays far below [`MAX_DOCUMENT_BYTES`].

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::core::cis::CisVersion;
use crate::core::exemption::TagValue;
use crate::core::finding::{Action, Credential, Exemption, Finding, RuleId};
use crate::core::outcome::{Outcome, Status};
use crate::core::plan::undo_command;

/// The ASFF schema version every document declares.
pub const SCHEMA_VERSION: &str = "2018-10-08";
/// The finding type: a check against the CIS AWS Foundations Benchmark.
pub const CIS_TYPE: &str = "Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark";
/// The product name shown in Security Hub (a custom integration may set it).
pub const PRODUCT_NAME: &str = "iam-sweeper";
/// Prefix of every `Id`, `GeneratorId` and `ProductFields` key of this tool.
pub const PREFIX: &str = "iam-sweeper";
/// Security Hub refuses a finding larger than this.
pub const MAX_DOCUMENT_BYTES: usize = 240 * 1024;
/// At most this many findings per `BatchImportFindings` call.
pub const MAX_BATCH_FINDINGS: usize = 100;
/// At most this many bytes per `BatchImportFindings` call.
pub const MAX_BATCH_BYTES: usize = 6 * 1024 * 1024;

const MAX_TITLE: usize = 256;
const MAX_DESCRIPTION: usize = 1024;
const MAX_RECOMMENDATION: usize = 512;
const MAX_FIELD_VALUE: usize = 2048;

/// Every rule, each with its own `GeneratorId`.
pub const RULES: [RuleId; 3] = [
    RuleId::UnusedCredentials,
    RuleId::InitialSetupKey,
    RuleId::RootAccessKey,
];

// A new rule must be added to RULES (the closing of earlier findings looks them up by it).
const _: fn(RuleId) = |r| match r {
    RuleId::UnusedCredentials | RuleId::InitialSetupKey | RuleId::RootAccessKey => {}
};

/// An AWS partition, as ASFF names it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::Display, strum::IntoStaticStr,
)]
pub enum Partition {
    #[serde(rename = "aws")]
    #[strum(serialize = "aws")]
    Aws,
    #[serde(rename = "aws-cn")]
    #[strum(serialize = "aws-cn")]
    AwsCn,
    #[serde(rename = "aws-us-gov")]
    #[strum(serialize = "aws-us-gov")]
    AwsUsGov,
}

impl Partition {
    /// The partition a region belongs to (`cn-…` → aws-cn, `us-gov-…` → aws-us-gov, else aws).
    pub fn of_region(region: &str) -> Partition {
        if region.starts_with("cn-") {
            Partition::AwsCn
        } else if region.starts_with("us-gov-") {
            Partition::AwsUsGov
        } else {
            Partition::Aws
        }
    }

    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Where and when the documents are for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// The account the findings are about and imported into (Security Hub requires both equal).
    pub account: String,
    /// The region imported into: the function's.
    pub region: String,
    pub partition: Partition,
    /// The run's time: `UpdatedAt`, and `CreatedAt` of a new finding.
    pub now: DateTime<Utc>,
    /// `CIS_VERSION`, for the requirements of a closed finding.
    pub cis_version: CisVersion,
}

impl Context {
    /// A context whose partition follows from the region.
    pub fn new(
        account: &str,
        region: &str,
        now: DateTime<Utc>,
        cis_version: CisVersion,
    ) -> Context {
        Context {
            account: account.to_string(),
            region: region.to_string(),
            partition: Partition::of_region(region),
            now,
            cis_version,
        }
    }

    /// The product ARN of the account's own findings: `arn:P:securityhub:R:A:product/A/default`.
    pub fn product_arn(&self) -> String {
        format!(
            "arn:{}:securityhub:{}:{}:product/{}/default",
            self.partition, self.region, self.account, self.account
        )
    }

    fn time(&self) -> String {
        timestamp(self.now)
    }
}

/// An RFC 3339 timestamp as ASFF writes them (`2026-11-23T02:00:00.000Z`).
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

// ---------------------------------------------------------------------------------------------
// the document

/// One ASFF finding, with the attributes this tool sets (ASFF's PascalCase names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Asff {
    pub schema_version: String,
    pub id: String,
    pub product_arn: String,
    pub product_name: String,
    pub generator_id: String,
    pub aws_account_id: String,
    pub types: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    pub severity: Severity,
    pub title: String,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<Remediation>,
    pub product_fields: BTreeMap<String, String>,
    pub resources: Vec<Resource>,
    pub compliance: Compliance,
    pub record_state: RecordState,
    pub finding_provider_fields: FindingProviderFields,
}

/// `Severity` and `FindingProviderFields.Severity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Severity {
    pub label: SeverityLabel,
    /// The severity in this tool's words (the label, as there is no other scale).
    pub original: String,
}

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
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum SeverityLabel {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

/// `FindingProviderFields`: where a provider puts its severity and types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FindingProviderFields {
    pub severity: Severity,
    pub types: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Remediation {
    pub recommendation: Recommendation,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Recommendation {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Compliance {
    pub status: ComplianceStatus,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related_requirements: Vec<String>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::Display, strum::IntoStaticStr,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum ComplianceStatus {
    /// Something to fix.
    Failed,
    /// Exempt: reported, not acted on.
    Warning,
    /// Fixed.
    Passed,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::Display, strum::IntoStaticStr,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum RecordState {
    Active,
    Archived,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Resource {
    #[serde(rename = "Type")]
    pub kind: ResourceType,
    pub id: String,
    pub partition: Partition,
    pub region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<ResourceDetails>,
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::Display,
    strum::IntoStaticStr,
    strum::EnumString,
)]
pub enum ResourceType {
    AwsIamUser,
    AwsIamAccessKey,
    AwsAccount,
}

impl ResourceType {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_iam_user: Option<IamUserDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_iam_access_key: Option<IamAccessKeyDetails>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IamUserDetails {
    pub user_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IamAccessKeyDetails {
    pub principal_name: String,
    pub principal_type: String,
    pub account_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// Only when this run changed it (`Inactive` after a deactivation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<AccessKeyStatus>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccessKeyStatus {
    Active,
    Inactive,
}

/// An active finding this tool raised earlier, as `GetFindings` returns it: what closing it
/// needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenFinding {
    pub id: String,
    pub generator_id: String,
    pub title: Option<String>,
    /// Kept as Security Hub returned it: a closed finding keeps its creation time.
    pub created_at: Option<String>,
    /// The resources, as (type, ID); types this tool does not write are left out.
    pub resources: Vec<(ResourceType, String)>,
}

// ---------------------------------------------------------------------------------------------
// identity

/// `iam-sweeper/<rule>`.
pub fn generator_id(rule: RuleId) -> String {
    format!("{PREFIX}/{rule}")
}

/// Every `GeneratorId` of this tool: what `GetFindings` filters on.
pub fn generator_ids() -> Vec<String> {
    RULES.iter().map(|r| generator_id(*r)).collect()
}

/// The rule a `GeneratorId` of this tool names.
pub fn rule_of(generator: &str) -> Option<RuleId> {
    RULES.into_iter().find(|r| generator_id(*r) == generator)
}

/// The credential as the `Id` names it: `password`, `access_key_1`, `root_access_key_2`.
pub fn credential_label(c: Credential) -> String {
    match c {
        Credential::Password => "password".into(),
        Credential::AccessKey(s) => format!("access_key_{}", s.number()),
        Credential::RootAccessKey(s) => format!("root_access_key_{}", s.number()),
    }
}

/// `iam-sweeper/<account>/<user>/<credential>/<rule>`: stable from one night to the next.
pub fn finding_id(account: &str, f: &Finding, rule: RuleId) -> String {
    let user = match f.credential {
        Credential::RootAccessKey(_) => "root",
        _ => f.user.as_str(),
    };
    format!(
        "{PREFIX}/{account}/{user}/{}/{rule}",
        credential_label(f.credential)
    )
}

// ---------------------------------------------------------------------------------------------
// building

/// Where the finding stands after the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// To fix: FAILED, active.
    Open,
    /// Exempt: WARNING, active.
    Exempt,
    /// Resolved by this run or found resolved by its re-check: PASSED, archived.
    Resolved,
}

fn state(f: &Finding, outcome: Option<&Outcome>) -> State {
    match outcome.map(|o| o.status) {
        Some(Status::Done | Status::AlreadyDone | Status::SkippedInUse) => State::Resolved,
        _ if f.exempt => State::Exempt,
        _ => State::Open,
    }
}

/// The documents of every finding, each with its action's outcome (matched by user and
/// credential).
pub fn documents(findings: &[Finding], outcomes: &[Outcome], ctx: &Context) -> Vec<Asff> {
    let by_credential: HashMap<(&str, Credential), &Outcome> = outcomes
        .iter()
        .map(|o| ((o.user.as_str(), o.credential), o))
        .collect();
    findings
        .iter()
        .flat_map(|f| {
            let o = by_credential.get(&(f.user.as_str(), f.credential)).copied();
            finding_documents(f, o, ctx)
        })
        .collect()
}

/// One document per rule the finding matched (none for a credential that is only upcoming).
pub fn finding_documents(f: &Finding, outcome: Option<&Outcome>, ctx: &Context) -> Vec<Asff> {
    f.rules
        .iter()
        .map(|rule| document(f, *rule, outcome, ctx))
        .collect()
}

/// The document of one finding under one rule.
pub fn document(f: &Finding, rule: RuleId, outcome: Option<&Outcome>, ctx: &Context) -> Asff {
    let state = state(f, outcome);
    let version = f.controls.cis_version;
    let severity = severity(f, rule, state);
    let (status, record) = match state {
        State::Open => (ComplianceStatus::Failed, RecordState::Active),
        State::Exempt => (ComplianceStatus::Warning, RecordState::Active),
        State::Resolved => (ComplianceStatus::Passed, RecordState::Archived),
    };
    let types = vec![CIS_TYPE.to_string()];
    Asff {
        schema_version: SCHEMA_VERSION.into(),
        id: finding_id(&ctx.account, f, rule),
        product_arn: ctx.product_arn(),
        product_name: PRODUCT_NAME.into(),
        generator_id: generator_id(rule),
        aws_account_id: ctx.account.clone(),
        types: types.clone(),
        created_at: ctx.time(),
        updated_at: ctx.time(),
        severity: severity.clone(),
        title: cut(&title(f, rule), MAX_TITLE),
        description: cut(&description(f, rule, outcome, state), MAX_DESCRIPTION),
        remediation: Some(Remediation {
            recommendation: Recommendation {
                text: cut(&recommendation(f, rule, outcome, state), MAX_RECOMMENDATION),
                url: control_url(version, rule),
            },
        }),
        product_fields: product_fields(f, rule, outcome, state, ctx.now.date_naive()),
        resources: resources(f, outcome, ctx),
        compliance: Compliance {
            status,
            related_requirements: requirement(version, rule).into_iter().collect(),
        },
        record_state: record,
        finding_provider_fields: FindingProviderFields { severity, types },
    }
}

/// The document that closes a finding raised earlier whose credential is fixed now: PASSED and
/// archived, its identity, title, resources and creation time kept.
pub fn closed(open: &OpenFinding, ctx: &Context) -> Asff {
    let rule = rule_of(&open.generator_id);
    let severity = Severity {
        label: SeverityLabel::Informational,
        original: SeverityLabel::Informational.to_string(),
    };
    let types = vec![CIS_TYPE.to_string()];
    let mut resources: Vec<Resource> = open
        .resources
        .iter()
        .map(|(kind, id)| Resource {
            kind: *kind,
            id: id.clone(),
            partition: ctx.partition,
            region: ctx.region.clone(),
            details: None,
        })
        .collect();
    if resources.is_empty() {
        resources.push(account_resource(ctx));
    }
    let mut fields = BTreeMap::new();
    field(&mut fields, "status", "resolved");
    field(&mut fields, "resolvedAt", &ctx.time());
    if let Some(rule) = rule {
        field(&mut fields, "rule", rule.as_str());
    }
    Asff {
        schema_version: SCHEMA_VERSION.into(),
        id: open.id.clone(),
        product_arn: ctx.product_arn(),
        product_name: PRODUCT_NAME.into(),
        generator_id: open.generator_id.clone(),
        aws_account_id: ctx.account.clone(),
        types: types.clone(),
        created_at: open.created_at.clone().unwrap_or_else(|| ctx.time()),
        updated_at: ctx.time(),
        severity: severity.clone(),
        title: cut(
            open.title.as_deref().unwrap_or("iam-sweeper finding"),
            MAX_TITLE,
        ),
        description: format!(
            "Resolved: iam-sweeper no longer finds this on {}; the credential was fixed, disabled, \
             deleted or used again since the finding was raised.",
            ctx.now.format("%Y-%m-%d")
        ),
        remediation: None,
        product_fields: fields,
        resources,
        compliance: Compliance {
            status: ComplianceStatus::Passed,
            related_requirements: rule
                .and_then(|r| requirement(ctx.cis_version, r))
                .into_iter()
                .collect(),
        },
        record_state: RecordState::Archived,
        finding_provider_fields: FindingProviderFields { severity, types },
    }
}

/// The document's size as sent (its JSON).
pub fn size(doc: &Asff) -> usize {
    serde_json::to_vec(doc).map_or(usize::MAX, |v| v.len())
}

// ---------------------------------------------------------------------------------------------
// the parts

fn severity(f: &Finding, rule: RuleId, state: State) -> Severity {
    let label = match (state, rule) {
        (State::Resolved, _) => SeverityLabel::Informational,
        (_, RuleId::RootAccessKey) => SeverityLabel::Critical,
        (State::Exempt, _) => SeverityLabel::Low,
        _ if f.disable_due => SeverityLabel::Medium,
        _ => SeverityLabel::Low,
    };
    Severity {
        label,
        original: label.to_string(),
    }
}

/// `CIS AWS Foundations Benchmark v5.0.0/1.11`, where the version has a control for the rule.
fn requirement(version: CisVersion, rule: RuleId) -> Option<String> {
    version
        .control(rule)
        .map(|c| format!("CIS AWS Foundations Benchmark v{version}/{c}"))
}

/// The Security Hub control's documentation, where the rule has one.
fn control_url(version: CisVersion, rule: RuleId) -> Option<String> {
    version.security_hub_control(rule).map(|c| {
        format!(
            "https://docs.aws.amazon.com/securityhub/latest/userguide/iam-controls.html#{}",
            c.to_ascii_lowercase().replace('.', "-")
        )
    })
}

/// `console password`, `access key 1`.
fn credential_words(c: Credential) -> String {
    match c {
        Credential::Password => "console password".into(),
        Credential::AccessKey(s) | Credential::RootAccessKey(s) => {
            format!("access key {}", s.number())
        }
    }
}

fn title(f: &Finding, rule: RuleId) -> String {
    let what = credential_words(f.credential);
    match rule {
        RuleId::UnusedCredentials => match f.idle_days {
            Some(days) => format!("IAM user {}: {what} unused for {days} days", f.user),
            None => format!("IAM user {}: {what} unused", f.user),
        },
        RuleId::InitialSetupKey => format!(
            "IAM user {}: {what} created with the console user and never used",
            f.user
        ),
        RuleId::RootAccessKey => format!("Root user: active {what}"),
    }
}

fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

fn description(f: &Finding, rule: RuleId, outcome: Option<&Outcome>, state: State) -> String {
    let version = f.controls.cis_version;
    let control = version
        .control(rule)
        .map_or(String::new(), |c| format!(" {c}"));
    let mut parts = Vec::new();
    let what = credential_words(f.credential);
    let whose = match f.credential {
        Credential::RootAccessKey(_) => "the root user".to_string(),
        _ => format!("IAM user {}", f.user),
    };
    parts.push(
        match (f.last_activity, f.last_activity_source, f.idle_days) {
            (Some(at), Some(source), Some(days)) => format!(
                "The {what} of {whose} was last active on {} ({source}), {days} days ago.",
                day(at)
            ),
            _ => format!("The report shows no activity for the {what} of {whose}."),
        },
    );
    parts.push(match rule {
        RuleId::UnusedCredentials => format!(
            "CIS AWS Foundations Benchmark v{version}{control} asks that credentials unused for {} days or more be disabled.",
            version.unused_days()
        ),
        RuleId::InitialSetupKey => format!(
            "CIS AWS Foundations Benchmark v{version}{control} asks that no access key be set up together with a console user's password."
        ),
        RuleId::RootAccessKey => format!(
            "CIS AWS Foundations Benchmark v{version}{control} asks that the root user have no access key. iam-sweeper never acts on root credentials."
        ),
    });
    if let Some(on) = f.disable_on
        && f.action != Action::None
    {
        parts.push(format!(
            "iam-sweeper's enforce mode takes action ({}) from {}.",
            f.action,
            day(on)
        ));
    } else if let (Some(on), false) = (f.disable_on, f.exempt) {
        parts.push(format!("Due on {}.", day(on)));
    }
    match state {
        State::Exempt => parts.push(format!(
            "Exempt ({}): reported, not acted on.",
            f.exemption
                .as_ref()
                .map_or("exempt".to_string(), ToString::to_string)
        )),
        State::Resolved => parts.push(resolved_words(outcome)),
        State::Open => {
            if let Some(o) = outcome {
                parts.push(format!(
                    "This run: {} ({}).",
                    o.status,
                    o.detail.as_ref().map_or(String::new(), ToString::to_string)
                ));
            }
        }
    }
    if let Some(invalid) = &f.invalid_exemption {
        parts.push(format!("Exemption not honoured: {invalid}."));
    }
    parts.join(" ")
}

fn resolved_words(outcome: Option<&Outcome>) -> String {
    let Some(o) = outcome else {
        return "Resolved.".into();
    };
    match (o.status, o.taken) {
        (Status::Done, Some(a)) => format!("Resolved: this run took the action ({a})."),
        _ => format!(
            "Resolved: {}.",
            o.detail
                .as_ref()
                .map_or(o.status.to_string(), ToString::to_string)
        ),
    }
}

/// The command that fixes the finding by hand.
fn fix_command(f: &Finding, key_id: Option<&str>) -> String {
    let key = key_id.unwrap_or("<key-id>");
    match (f.credential, f.action) {
        (Credential::RootAccessKey(_), _) => {
            "sign in as the root user and delete the access key (Security credentials)".into()
        }
        (Credential::Password, _) => {
            format!("aws iam delete-login-profile --user-name {}", f.user)
        }
        (Credential::AccessKey(_), Action::DeleteKey) => format!(
            "aws iam delete-access-key --user-name {} --access-key-id {key}",
            f.user
        ),
        (Credential::AccessKey(_), _) => format!(
            "aws iam update-access-key --user-name {} --access-key-id {key} --status Inactive",
            f.user
        ),
    }
}

fn recommendation(f: &Finding, rule: RuleId, outcome: Option<&Outcome>, state: State) -> String {
    let key_id = outcome.and_then(|o| o.access_key_id.as_deref());
    let find_key = match (f.credential, key_id) {
        (Credential::AccessKey(_), None) => format!(
            " (the key's ID: aws iam list-access-keys --user-name {})",
            f.user
        ),
        _ => String::new(),
    };
    match state {
        State::Resolved => match outcome.and_then(|o| o.undo.as_deref()) {
            Some(undo) => format!("Nothing to do. To undo this run's action: {undo}"),
            None => "Nothing to do.".into(),
        },
        State::Exempt => format!(
            "Exempt ({}): confirm the exemption is still wanted; without it: {}{find_key}",
            f.exemption
                .as_ref()
                .map_or("exempt".to_string(), ToString::to_string),
            fix_command(f, key_id)
        ),
        State::Open if rule == RuleId::RootAccessKey => {
            format!(
                "Remove the root user's access key: {}",
                fix_command(f, key_id)
            )
        }
        State::Open => {
            let undo = undo_command(f.action, &f.user, key_id)
                .map_or(String::new(), |u| format!(". Undo: {u}"));
            format!(
                "Disable the credential if it is not needed: {}{find_key}{undo}",
                fix_command(f, key_id)
            )
        }
    }
}

fn field(fields: &mut BTreeMap<String, String>, key: &str, value: &str) {
    if !value.is_empty() {
        fields.insert(format!("{PREFIX}/{key}"), cut(value, MAX_FIELD_VALUE));
    }
}

fn product_fields(
    f: &Finding,
    rule: RuleId,
    outcome: Option<&Outcome>,
    state: State,
    today: NaiveDate,
) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    let version = f.controls.cis_version;
    field(&mut m, "rule", rule.as_str());
    field(&mut m, "user", &f.user);
    field(&mut m, "credential", &credential_label(f.credential));
    field(&mut m, "cisVersion", &version.to_string());
    field(&mut m, "cisControl", version.control(rule).unwrap_or(""));
    field(
        &mut m,
        "securityHubControl",
        version.security_hub_control(rule).unwrap_or(""),
    );
    if let Some(t) = f.last_activity {
        field(&mut m, "lastActivity", &timestamp(t));
    }
    field(
        &mut m,
        "lastActivitySource",
        f.last_activity_source.unwrap_or(""),
    );
    if let Some(d) = f.idle_days {
        field(&mut m, "idleDays", &d.to_string());
    }
    if let Some(t) = f.disable_on {
        field(&mut m, "disableOn", &timestamp(t));
    }
    field(
        &mut m,
        "lastUsedService",
        f.last_used_service.as_deref().unwrap_or(""),
    );
    field(
        &mut m,
        "lastUsedRegion",
        f.last_used_region.as_deref().unwrap_or(""),
    );
    field(&mut m, "action", f.action.as_str());
    let status = match (state, outcome) {
        (State::Exempt, None) => "exempt",
        (_, Some(o)) => o.status.into(),
        (_, None) => "none",
    };
    field(&mut m, "status", status);
    if let Some(o) = outcome {
        field(&mut m, "taken", o.taken.map_or("", Action::as_str));
        field(
            &mut m,
            "accessKeyId",
            o.access_key_id.as_deref().unwrap_or(""),
        );
        field(
            &mut m,
            "detail",
            &o.detail.as_ref().map_or(String::new(), ToString::to_string),
        );
        field(&mut m, "undo", o.undo.as_deref().unwrap_or(""));
    }
    match &f.exemption {
        Some(Exemption::Name { pattern }) => {
            field(&mut m, "exemption", "name");
            field(&mut m, "exemptionPattern", pattern);
        }
        Some(Exemption::Tag { key, value }) => {
            field(&mut m, "exemption", "tag");
            field(&mut m, "exemptionTag", key);
            field(&mut m, "exemptionValue", value);
            // A date exempts up to and including that day: say when it ends.
            let until = match TagValue::read(value, today) {
                TagValue::Until(d) | TagValue::Expired(d) => d.to_string(),
                TagValue::Always => "never".into(),
                TagValue::Invalid => String::new(),
            };
            field(&mut m, "exemptionExpires", &until);
        }
        None => {}
    }
    if let Some(invalid) = &f.invalid_exemption {
        field(&mut m, "invalidExemption", invalid);
    }
    m
}

fn account_resource(ctx: &Context) -> Resource {
    Resource {
        kind: ResourceType::AwsAccount,
        id: format!("AWS::::Account:{}", ctx.account),
        partition: ctx.partition,
        region: ctx.region.clone(),
        details: None,
    }
}

fn resources(f: &Finding, outcome: Option<&Outcome>, ctx: &Context) -> Vec<Resource> {
    let user = Resource {
        kind: ResourceType::AwsIamUser,
        id: f.arn.clone(),
        partition: ctx.partition,
        region: ctx.region.clone(),
        details: Some(ResourceDetails {
            aws_iam_user: Some(IamUserDetails {
                user_name: f.user.clone(),
            }),
            ..ResourceDetails::default()
        }),
    };
    match f.credential {
        Credential::RootAccessKey(_) => vec![account_resource(ctx)],
        Credential::Password => vec![user],
        Credential::AccessKey(slot) => {
            let key_id = outcome.and_then(|o| o.access_key_id.clone());
            let status = outcome
                .filter(|o| o.status == Status::Done && o.taken == Some(Action::DeactivateKey))
                .map(|_| AccessKeyStatus::Inactive);
            let key = Resource {
                kind: ResourceType::AwsIamAccessKey,
                // The key ID when the live re-check resolved it; else the user and the slot.
                id: key_id
                    .clone()
                    .unwrap_or_else(|| format!("{}/access_key_{}", f.arn, slot.number())),
                partition: ctx.partition,
                region: ctx.region.clone(),
                details: Some(ResourceDetails {
                    aws_iam_access_key: Some(IamAccessKeyDetails {
                        principal_name: f.user.clone(),
                        principal_type: "IAMUser".into(),
                        account_id: ctx.account.clone(),
                        access_key_id: key_id,
                        created_at: f.key_created.map(timestamp),
                        status,
                    }),
                    ..ResourceDetails::default()
                }),
            };
            vec![key, user]
        }
    }
}

/// At most `max` characters, with an ellipsis when cut.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::config::Policy;
    use crate::core::finding::Slot;
    use crate::core::outcome::Detail;
    use crate::core::report::{AccessKeyColumns, Record};
    use crate::core::rules;
    use crate::testing::synthetic;
    use chrono::TimeZone;
    use serde_json::Value;

    const ACCOUNT: &str = "123456789012";

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 2, 0, 0).unwrap()
    }

    fn ctx(region: &str) -> Context {
        Context::new(ACCOUNT, region, now(), CisVersion::V5_0_0)
    }

    /// The synthetic mix (stale keys, stale passwords, initial-setup keys) plus a root access
    /// key, under CIS 5.0.0.
    fn records() -> Vec<Record> {
        let mut records = synthetic::records(40, now());
        records[0].access_keys[0] = AccessKeyColumns {
            active: Some(true),
            last_rotated: Some(now() - chrono::Duration::days(900)),
            ..AccessKeyColumns::default()
        };
        records
    }

    fn policy() -> Policy {
        Policy {
            cis_version: CisVersion::V5_0_0,
            ..Policy::default()
        }
    }

    fn findings() -> Vec<Finding> {
        rules::evaluate(&records(), &policy(), now())
    }

    fn json(doc: &Asff) -> Value {
        serde_json::to_value(doc).unwrap()
    }

    fn text(v: &Value, path: &[&str]) -> String {
        let mut at = v;
        for p in path {
            at = &at[*p];
        }
        at.as_str()
            .unwrap_or_else(|| panic!("{path:?} is not a string in {v}"))
            .to_string()
    }

    #[test]
    fn every_document_has_the_required_asff_attributes() {
        let docs = documents(&findings(), &[], &ctx("eu-west-1"));
        assert!(docs.len() >= 9, "{}", docs.len());
        for doc in &docs {
            let v = json(doc);
            assert_eq!(text(&v, &["SchemaVersion"]), "2018-10-08");
            for field in [
                "Id",
                "ProductArn",
                "GeneratorId",
                "AwsAccountId",
                "CreatedAt",
                "UpdatedAt",
                "Title",
                "Description",
            ] {
                assert!(!text(&v, &[field]).is_empty(), "{field} in {v}");
            }
            assert_eq!(text(&v, &["AwsAccountId"]), ACCOUNT);
            assert_eq!(
                text(&v, &["ProductArn"]),
                "arn:aws:securityhub:eu-west-1:123456789012:product/123456789012/default"
            );
            assert_eq!(v["Types"], serde_json::json!([CIS_TYPE]));
            assert_eq!(v["FindingProviderFields"]["Types"], v["Types"]);
            assert!(!text(&v, &["Severity", "Label"]).is_empty());
            assert_eq!(
                v["FindingProviderFields"]["Severity"]["Label"],
                v["Severity"]["Label"]
            );
            for t in ["CreatedAt", "UpdatedAt"] {
                assert_eq!(
                    DateTime::parse_from_rfc3339(&text(&v, &[t])).unwrap(),
                    now(),
                    "{t}"
                );
            }
            let resources = v["Resources"].as_array().unwrap();
            assert!(!resources.is_empty() && resources.len() <= 32, "{v}");
            for r in resources {
                assert!(!text(r, &["Type"]).is_empty() && !text(r, &["Id"]).is_empty());
                assert_eq!(text(r, &["Partition"]), "aws");
                assert_eq!(text(r, &["Region"]), "eu-west-1");
            }
            assert!(v.get("Workflow").is_none() && v.get("Note").is_none());
            assert!(v.get("WorkflowState").is_none());
            assert!(doc.title.chars().count() <= 256);
            assert!(doc.description.chars().count() <= 1024);
            let rec = &doc.remediation.as_ref().unwrap().recommendation;
            assert!(rec.text.chars().count() <= 512);
            assert!(doc.product_fields.len() <= 50);
            assert!(size(doc) <= MAX_DOCUMENT_BYTES / 20, "{} bytes", size(doc));
        }
    }

    #[test]
    fn ids_are_stable_from_night_to_night_and_unique() {
        let first = documents(&findings(), &[], &ctx("us-east-1"));
        let later = Context {
            now: now() + chrono::Duration::days(1),
            ..ctx("us-east-1")
        };
        // A day later the initial-setup keys are also unused for 30 days: one more rule each,
        // the other IDs unchanged.
        let next = documents(
            &rules::evaluate(&records(), &policy(), later.now),
            &[],
            &later,
        );
        let ids = |d: &[Asff]| d.iter().map(|d| d.id.clone()).collect::<Vec<_>>();
        let next_ids = ids(&next);
        assert!(ids(&first).iter().all(|id| next_ids.contains(id)));
        assert_eq!(
            ids(&documents(&findings(), &[], &later)),
            ids(&first),
            "the same findings on another night"
        );
        let unique: std::collections::HashSet<String> = ids(&first).into_iter().collect();
        assert_eq!(unique.len(), first.len());
        let stale = first
            .iter()
            .find(|d| d.id.contains("/user-00000/"))
            .unwrap();
        assert_eq!(
            stale.id,
            "iam-sweeper/123456789012/user-00000/access_key_1/unused-credentials"
        );
        assert_eq!(stale.generator_id, "iam-sweeper/unused-credentials");
        let root: Vec<&Asff> = first.iter().filter(|d| d.id.contains("/root/")).collect();
        assert_eq!(root.len(), 1);
        assert_eq!(
            root[0].id,
            "iam-sweeper/123456789012/root/root_access_key_1/root-access-key"
        );
        assert_eq!(root[0].severity.label, SeverityLabel::Critical);
        assert_eq!(root[0].resources[0].kind, ResourceType::AwsAccount);
        assert_eq!(root[0].resources[0].id, "AWS::::Account:123456789012");
    }

    #[test]
    fn an_initial_setup_key_that_is_also_unused_gives_one_document_per_rule() {
        let mut f = findings()
            .into_iter()
            .find(|f| f.rules == [RuleId::InitialSetupKey])
            .unwrap();
        f.rules.insert(0, RuleId::UnusedCredentials);
        let docs = finding_documents(&f, None, &ctx("us-east-1"));
        let gens: Vec<&str> = docs.iter().map(|d| d.generator_id.as_str()).collect();
        assert_eq!(
            gens,
            [
                "iam-sweeper/unused-credentials",
                "iam-sweeper/initial-setup-key"
            ]
        );
        assert_eq!(
            docs[0].compliance.related_requirements,
            ["CIS AWS Foundations Benchmark v5.0.0/1.11"]
        );
        assert_eq!(
            docs[1].compliance.related_requirements,
            ["CIS AWS Foundations Benchmark v5.0.0/1.10"]
        );
        assert_eq!(
            docs[0].product_fields["iam-sweeper/securityHubControl"],
            "IAM.22"
        );
        assert!(
            docs[0]
                .remediation
                .as_ref()
                .unwrap()
                .recommendation
                .url
                .as_deref()
                .is_some_and(|u| u.ends_with("#iam-22"))
        );
        assert_ne!(docs[0].id, docs[1].id);
    }

    #[test]
    fn an_open_finding_is_failed_and_says_what_enforce_mode_does() {
        let f = findings()
            .into_iter()
            .find(|f| f.user == "user-00000")
            .unwrap();
        let o = Outcome::not_taken(&f, Detail::ReportMode);
        let doc = &finding_documents(&f, Some(&o), &ctx("us-east-1"))[0];
        assert_eq!(doc.compliance.status, ComplianceStatus::Failed);
        assert_eq!(doc.record_state, RecordState::Active);
        assert_eq!(doc.severity.label, SeverityLabel::Medium);
        let fields = &doc.product_fields;
        assert_eq!(fields["iam-sweeper/action"], "deactivate_key");
        assert_eq!(fields["iam-sweeper/status"], "not_taken");
        assert!(fields["iam-sweeper/detail"].contains("report mode"));
        let text = &doc.remediation.as_ref().unwrap().recommendation.text;
        assert!(
            text.contains("aws iam update-access-key --user-name user-00000 --access-key-id <key-id> --status Inactive"),
            "{text}"
        );
        assert!(text.contains("--status Active"), "the undo: {text}");
        assert_eq!(doc.resources[0].kind, ResourceType::AwsIamAccessKey);
        assert_eq!(
            doc.resources[0].id,
            "arn:aws:iam::123456789012:user/user-00000/access_key_1"
        );
        assert_eq!(doc.resources[1].kind, ResourceType::AwsIamUser);
        assert_eq!(
            doc.resources[1].id,
            "arn:aws:iam::123456789012:user/user-00000"
        );
    }

    #[test]
    fn an_action_taken_resolves_the_finding_with_its_key_id_and_undo() {
        let f = findings()
            .into_iter()
            .find(|f| f.user == "user-00000")
            .unwrap();
        let mut o = Outcome::not_taken(&f, Detail::ReportMode);
        o.access_key_id = Some("AKIAUSER000001".into());
        let o = o.done(Action::DeactivateKey);
        let doc = &finding_documents(&f, Some(&o), &ctx("us-east-1"))[0];
        assert_eq!(doc.compliance.status, ComplianceStatus::Passed);
        assert_eq!(doc.record_state, RecordState::Archived);
        assert_eq!(doc.severity.label, SeverityLabel::Informational);
        assert_eq!(doc.resources[0].id, "AKIAUSER000001");
        let key = doc.resources[0]
            .details
            .as_ref()
            .unwrap()
            .aws_iam_access_key
            .as_ref()
            .unwrap();
        assert_eq!(key.access_key_id.as_deref(), Some("AKIAUSER000001"));
        assert_eq!(key.status, Some(AccessKeyStatus::Inactive));
        assert_eq!(doc.product_fields["iam-sweeper/status"], "done");
        assert_eq!(doc.product_fields["iam-sweeper/taken"], "deactivate_key");
        let undo = "aws iam update-access-key --user-name user-00000 --access-key-id AKIAUSER000001 --status Active";
        assert_eq!(doc.product_fields["iam-sweeper/undo"], undo);
        assert!(
            doc.remediation
                .as_ref()
                .unwrap()
                .recommendation
                .text
                .contains(undo)
        );
    }

    #[test]
    fn an_exempt_finding_is_a_warning_naming_its_exemption() {
        let mut fs = findings();
        let f = fs.iter_mut().find(|f| f.user == "user-00000").unwrap();
        crate::core::exemption::apply_tag(
            f,
            "iam-sweeper:exempt",
            Some("2027-01-31"),
            now().date_naive(),
        );
        let doc = &finding_documents(f, None, &ctx("us-east-1"))[0];
        assert_eq!(doc.compliance.status, ComplianceStatus::Warning);
        assert_eq!(doc.record_state, RecordState::Active);
        let fields = &doc.product_fields;
        assert_eq!(fields["iam-sweeper/exemption"], "tag");
        assert_eq!(fields["iam-sweeper/exemptionTag"], "iam-sweeper:exempt");
        assert_eq!(fields["iam-sweeper/exemptionValue"], "2027-01-31");
        assert_eq!(fields["iam-sweeper/exemptionExpires"], "2027-01-31");
        assert_eq!(fields["iam-sweeper/status"], "exempt");
        assert!(
            doc.description
                .contains("Exempt (tag iam-sweeper:exempt=2027-01-31)")
        );

        let by_name = Policy {
            exempt_users: crate::core::exemption::ExemptUsers::parse("user-0000*").unwrap(),
            ..policy()
        };
        let f = rules::evaluate(&records(), &by_name, now())
            .into_iter()
            .find(|f| f.user == "user-00000")
            .unwrap();
        let doc = &finding_documents(&f, None, &ctx("us-east-1"))[0];
        assert_eq!(doc.compliance.status, ComplianceStatus::Warning);
        assert_eq!(doc.product_fields["iam-sweeper/exemption"], "name");
        assert_eq!(
            doc.product_fields["iam-sweeper/exemptionPattern"],
            "user-0000*"
        );
    }

    #[test]
    fn the_partition_follows_the_region() {
        for (region, partition) in [
            ("us-east-1", "aws"),
            ("eu-central-2", "aws"),
            ("cn-north-1", "aws-cn"),
            ("cn-northwest-1", "aws-cn"),
            ("us-gov-west-1", "aws-us-gov"),
        ] {
            let c = ctx(region);
            assert_eq!(c.partition.as_str(), partition, "{region}");
            assert_eq!(
                c.product_arn(),
                format!("arn:{partition}:securityhub:{region}:{ACCOUNT}:product/{ACCOUNT}/default")
            );
        }
    }

    #[test]
    fn closing_keeps_the_identity_and_archives() {
        let open = OpenFinding {
            id: "iam-sweeper/123456789012/kim/access_key_2/unused-credentials".into(),
            generator_id: generator_id(RuleId::UnusedCredentials),
            title: Some("IAM user kim: access key 2 unused for 120 days".into()),
            created_at: Some("2026-10-01T02:00:00.000Z".into()),
            resources: vec![(
                ResourceType::AwsIamUser,
                "arn:aws:iam::123456789012:user/kim".into(),
            )],
        };
        let doc = closed(&open, &ctx("us-east-1"));
        assert_eq!(doc.id, open.id);
        assert_eq!(doc.generator_id, open.generator_id);
        assert_eq!(doc.title, "IAM user kim: access key 2 unused for 120 days");
        assert_eq!(doc.created_at, "2026-10-01T02:00:00.000Z");
        assert_eq!(doc.updated_at, "2026-11-23T02:00:00.000Z");
        assert_eq!(doc.compliance.status, ComplianceStatus::Passed);
        assert_eq!(
            doc.compliance.related_requirements,
            ["CIS AWS Foundations Benchmark v5.0.0/1.11"]
        );
        assert_eq!(doc.record_state, RecordState::Archived);
        assert_eq!(doc.resources[0].id, "arn:aws:iam::123456789012:user/kim");
        let v = json(&doc);
        assert!(v.get("Workflow").is_none() && v.get("Note").is_none());
        let none = closed(
            &OpenFinding {
                resources: Vec::new(),
                ..open
            },
            &ctx("us-east-1"),
        );
        assert_eq!(none.resources[0].kind, ResourceType::AwsAccount);
    }

    #[test]
    fn long_text_is_cut_to_asff_lengths() {
        let mut f = findings()
            .into_iter()
            .find(|f| f.user == "user-00000")
            .unwrap();
        f.invalid_exemption = Some("x".repeat(5_000));
        let doc = &finding_documents(&f, None, &ctx("us-east-1"))[0];
        assert_eq!(doc.description.chars().count(), 1024);
        assert!(doc.description.ends_with('…'));
        assert_eq!(
            doc.product_fields["iam-sweeper/invalidExemption"]
                .chars()
                .count(),
            2048
        );
        assert!(size(doc) < MAX_DOCUMENT_BYTES);
    }

    #[test]
    fn every_rule_has_a_generator_id_and_back() {
        assert_eq!(generator_ids().len(), RULES.len());
        for r in RULES {
            assert_eq!(rule_of(&generator_id(r)), Some(r));
        }
        assert_eq!(rule_of("someone-else/unused-credentials"), None);
        assert_eq!(
            credential_label(Credential::AccessKey(Slot::Two)),
            "access_key_2"
        );
    }
}
