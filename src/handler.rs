//! One run, start to finish: event → report → rules → exemptions → actions → summary.
//!
//! This module only wires the pieces together; each step lives in the module named after it.
//! Everything before the action phase either succeeds or ends the run with an error, before any
//! credential is touched.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

use crate::audit::Audit;
use crate::aws::credential_report::{self, FetchError};
use crate::aws::{Clients, iam, sns};
use crate::config::{Mode, Policy, Runtime};
use crate::enforce::{self, Enforcer, Outcome, Status};
use crate::event::{self, EventError, Invocation};
use crate::exemption;
use crate::finding::{Credential, Finding, ser_time};
use crate::reads::{self, Reads};
use crate::report::{self, Record, ReportError};
use crate::rules;
use crate::summary;

/// Everything a run found and did: the audit JSON plus each action's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    #[serde(flatten)]
    pub audit: Audit,
    pub account_id: Option<String>,
    pub invocation: Invocation,
    #[serde(serialize_with = "ser_time")]
    pub report_generated_time: Option<DateTime<Utc>>,
    /// One outcome per planned action, in report order.
    pub actions: Vec<Outcome>,
    pub action_counts: ActionCounts,
    /// Users whose tags could not be read (their exemption is unknown, so they are not acted on).
    pub tag_errors: Vec<String>,
    /// Why the run counts as failed; empty for a successful run.
    pub problems: Vec<String>,
    /// The SNS message ID of the summary, when one was published.
    pub published_message_id: Option<String>,
}

impl RunReport {
    pub fn failed(&self) -> bool {
        !self.problems.is_empty()
    }
}

/// Outcomes by status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ActionCounts {
    pub done: usize,
    pub already_done: usize,
    pub skipped_in_use: usize,
    pub failed: usize,
    pub not_taken: usize,
}

impl ActionCounts {
    pub fn of(outcomes: &[Outcome]) -> Self {
        let n = |s: Status| outcomes.iter().filter(|o| o.status == s).count();
        ActionCounts {
            done: n(Status::Done),
            already_done: n(Status::AlreadyDone),
            skipped_in_use: n(Status::SkippedInUse),
            failed: n(Status::Failed),
            not_taken: n(Status::NotTaken),
        }
    }
}

/// Why a run did not complete, or completed but failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The event was refused; nothing was done.
    #[error("event refused, nothing was done: {0}")]
    Event(#[from] EventError),
    /// The credential report could not be fetched; nothing was done.
    #[error("could not get the credential report, nothing was done: {0}")]
    Fetch(#[from] FetchError),
    /// The credential report could not be read; nothing was done.
    #[error("could not read the credential report, nothing was done: {0}")]
    Parse(#[from] ReportError),
    /// The run completed but something went wrong (an action failed, the cap was hit, the summary
    /// could not be published). The report says what.
    #[error("the run failed: {}", .0.problems.join("; "))]
    Failed(Box<RunReport>),
}

impl RunError {
    /// A short name for the kind of error, used as the Lambda invocation's error type.
    pub fn kind(&self) -> &'static str {
        match self {
            RunError::Event(_) => "EventRefused",
            RunError::Fetch(_) => "ReportUnavailable",
            RunError::Parse(_) => "ReportUnreadable",
            RunError::Failed(_) => "RunFailed",
        }
    }

    /// True when the input (the event) was at fault rather than the run.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, RunError::Event(_))
    }
}

/// The settings a run needs that do not change between invocations.
#[derive(Debug, Clone)]
pub struct Settings {
    pub policy: Policy,
    pub runtime: Runtime,
}

/// Runs one sweep for `event` at `now`. `deadline` is when the Lambda will be stopped, if known.
pub async fn handle(
    clients: &Clients,
    settings: &Settings,
    event: &Value,
    now: DateTime<Utc>,
    deadline: Option<Instant>,
) -> Result<RunReport, RunError> {
    let invocation = event::classify(event, settings.policy.mode)?;
    let policy = Policy {
        mode: invocation.mode,
        ..settings.policy.clone()
    };
    let now = invocation.as_of.unwrap_or(now);
    tracing::info!(mode = %policy.mode, trigger = ?invocation.trigger, as_of = %now, "run started");

    let wait = Duration::from_secs(u64::from(settings.runtime.report_wait_seconds));
    let fetched = credential_report::fetch(&clients.iam, wait).await?;
    let report_generated_time = fetched.generated_time;
    // The CSV is not needed once parsed; dropping it keeps the peak memory of a 5,000-user run down.
    let records = report::parse(&fetched.content)?;
    drop(fetched);
    let mut findings = rules::evaluate(&records, &policy, now);
    let tag_errors = apply_tag_exemptions(
        clients,
        &policy,
        &settings.runtime,
        records.len(),
        &mut findings,
        now,
    )
    .await;
    for f in &findings {
        log_finding(f);
    }

    let mut problems = Vec::new();
    let actions = act(
        clients,
        settings,
        &policy,
        &records,
        &findings,
        &tag_errors,
        now,
        deadline,
        &mut problems,
    )
    .await;
    let action_counts = ActionCounts::of(&actions);
    problems.extend(action_problems(&actions, &action_counts));
    let mut report = RunReport {
        account_id: account_id(&records),
        audit: Audit::from_findings(findings, &policy, now),
        invocation,
        report_generated_time,
        actions,
        action_counts,
        tag_errors: tag_errors
            .iter()
            .map(|(u, e)| format!("{u}: {e}"))
            .collect(),
        problems,
        published_message_id: None,
    };

    if let Some(topic) = &settings.runtime.sns_topic_arn {
        let message = summary::build(&report);
        match sns::publish(&clients.sns, topic, &message).await {
            Ok(id) => report.published_message_id = Some(id),
            Err(e) => {
                tracing::error!(error = %e, "summary not published");
                report.problems.push(e.to_string());
            }
        }
    }
    log_run(&report);
    if report.failed() {
        Err(RunError::Failed(Box::new(report)))
    } else {
        Ok(report)
    }
}

type TagsResult = Result<Vec<(String, String)>, iam::IamError>;

/// Why the action phase fails the run: failed actions (naming the first few, so the alarm's
/// error text is enough to act on) and actions cut off by the deadline.
fn action_problems(actions: &[Outcome], counts: &ActionCounts) -> Vec<String> {
    let mut problems = Vec::new();
    if counts.failed > 0 {
        let named: Vec<String> = actions
            .iter()
            .filter(|o| o.status == Status::Failed)
            .take(5)
            .map(|o| {
                format!(
                    "{} {}: {}",
                    o.user,
                    o.credential,
                    o.detail.as_deref().unwrap_or("?")
                )
            })
            .collect();
        let more = counts.failed - named.len();
        let more = if more > 0 {
            format!("; and {more} more")
        } else {
            String::new()
        };
        problems.push(format!(
            "{} action(s) failed: {}{more}",
            counts.failed,
            named.join("; ")
        ));
    }
    let cut = actions
        .iter()
        .filter(|o| o.detail.as_deref() == Some(enforce::DEADLINE_REASON))
        .count();
    if cut > 0 {
        problems.push(format!(
            "{cut} action(s) not started because the Lambda deadline was near; raise the function's timeout"
        ));
    }
    problems
}

/// Reads the exemption tag of every user with a finding and applies it. Returns the users whose
/// tags could not be read, with the error.
async fn apply_tag_exemptions(
    clients: &Clients,
    policy: &Policy,
    runtime: &Runtime,
    users_in_account: usize,
    findings: &mut [Finding],
    now: DateTime<Utc>,
) -> HashMap<String, String> {
    let users: BTreeSet<String> = findings
        .iter()
        .filter(|f| !f.exempt && !f.rules.contains(&crate::finding::RuleId::RootAccessKey))
        .map(|f| f.user.clone())
        .collect();
    let results = read_tags(clients, runtime, users_in_account, users).await;
    let today = now.date_naive();
    let mut errors = HashMap::new();
    let mut values: HashMap<String, String> = HashMap::new();
    for (user, result) in results {
        match result {
            Ok(tags) => {
                if let Some((_, v)) = tags.into_iter().find(|(k, _)| *k == policy.exempt_tag_key) {
                    values.insert(user, v);
                }
            }
            Err(e) if e.is_no_such_entity() => {}
            Err(e) => {
                tracing::warn!(user = %user, error = %e, "cannot read the user's tags; the user is not acted on");
                errors.insert(user, e.to_string());
            }
        }
    }
    for f in findings.iter_mut() {
        exemption::apply_tag(
            f,
            &policy.exempt_tag_key,
            values.get(&f.user).map(String::as_str),
            today,
        );
    }
    errors
}

/// The tags of `users`, read the cheaper way ([`reads::choose`]): account-wide pages, or one
/// `ListUserTags` per user. A user missing from the pages (deleted or renamed since the report)
/// is asked on its own, and pages that cannot be read fall back to per-user calls, so the choice
/// never changes the answer, only the number of calls.
async fn read_tags(
    clients: &Clients,
    runtime: &Runtime,
    users_in_account: usize,
    users: BTreeSet<String>,
) -> Vec<(String, TagsResult)> {
    let mut found = Vec::new();
    let mut rest = users;
    if reads::choose(runtime.paged_reads, users_in_account, rest.len()) == Reads::Paged {
        match iam::all_user_tags(&clients.iam).await {
            Ok(mut all) => {
                rest.retain(|user| match all.remove(user) {
                    Some(tags) => {
                        found.push((user.clone(), Ok(tags)));
                        false
                    }
                    None => true,
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read tags in pages; reading them user by user");
            }
        }
    }
    let asked: Vec<(String, TagsResult)> = futures::stream::iter(rest)
        .map(|u| async move {
            let tags = iam::user_tags(&clients.iam, &u).await;
            (u, tags)
        })
        .buffer_unordered(runtime.concurrency.max(1) as usize)
        .collect()
        .await;
    found.extend(asked);
    found
}

/// Every user's password use, in pages, when enough passwords are due that pages take fewer
/// calls than one `GetUser` each; `None` otherwise or when the pages cannot be read (the
/// enforcer then asks per user).
async fn read_password_use(
    clients: &Clients,
    runtime: &Runtime,
    users_in_account: usize,
    passwords_due: usize,
) -> Option<HashMap<String, Option<DateTime<Utc>>>> {
    if reads::choose(runtime.paged_reads, users_in_account, passwords_due) != Reads::Paged {
        return None;
    }
    iam::all_password_last_used(&clients.iam)
        .await
        .inspect_err(|e| {
            tracing::warn!(error = %e, "cannot list password use in pages; asking user by user");
        })
        .ok()
}

/// The action phase: one outcome per planned action.
#[allow(clippy::too_many_arguments)]
async fn act(
    clients: &Clients,
    settings: &Settings,
    policy: &Policy,
    records: &[Record],
    findings: &[Finding],
    tag_errors: &HashMap<String, String>,
    now: DateTime<Utc>,
    deadline: Option<Instant>,
    problems: &mut Vec<String>,
) -> Vec<Outcome> {
    let planned: Vec<&Finding> = findings.iter().filter(|f| f.planned()).collect();
    if policy.mode == Mode::Report {
        return planned
            .iter()
            .map(|f| Outcome::not_taken(f, "report mode: nothing is changed"))
            .collect();
    }
    if planned.len() > policy.max_actions as usize {
        let why = format!(
            "{} actions planned, more than MAX_ACTIONS ({}); none taken",
            planned.len(),
            policy.max_actions
        );
        tracing::error!("{why}");
        problems.push(why.clone());
        let outcomes: Vec<Outcome> = planned
            .iter()
            .map(|f| Outcome::not_taken(f, &why))
            .collect();
        outcomes.iter().for_each(enforce::log);
        return outcomes;
    }
    let by_user: HashMap<&str, &Record> = records.iter().map(|r| (r.user.as_str(), r)).collect();
    let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(planned.len());
    let mut work = Vec::new();
    for f in &planned {
        match (tag_errors.get(&f.user), by_user.get(f.user.as_str())) {
            (Some(e), _) => {
                let mut o = Outcome::not_taken(f, "");
                o.status = Status::Failed;
                o.detail = Some(format!(
                    "cannot read the user's tags to check for an exemption: {e}"
                ));
                enforce::log(&o);
                outcomes.push(Some(o));
            }
            (None, Some(r)) => {
                outcomes.push(None);
                work.push((*f, *r));
            }
            (None, None) => {
                outcomes.push(Some(Outcome::not_taken(f, "no report row for the user")))
            }
        }
    }
    let passwords_due = work
        .iter()
        .filter(|(f, _)| f.credential == Credential::Password)
        .count();
    let password_use =
        read_password_use(clients, &settings.runtime, records.len(), passwords_due).await;
    let enforcer = Enforcer {
        iam: &clients.iam,
        policy,
        now,
        concurrency: settings.runtime.concurrency as usize,
        deadline,
        password_use: password_use.as_ref(),
    };
    let mut done = enforcer.run(work).await.into_iter();
    outcomes
        .into_iter()
        .map(|o| {
            o.or_else(|| done.next())
                .unwrap_or_else(unreachable_outcome)
        })
        .collect()
}

fn unreachable_outcome() -> Outcome {
    Outcome {
        user: String::new(),
        credential: Credential::Password,
        planned: crate::finding::Action::None,
        taken: None,
        access_key_id: None,
        status: Status::Failed,
        detail: Some("internal error: an outcome went missing".into()),
        undo: None,
    }
}

/// The account ID, from the report's ARNs (`arn:PARTITION:iam::ACCOUNT:…`).
pub fn account_id(records: &[Record]) -> Option<String> {
    records.iter().find_map(|r| {
        let parts: Vec<&str> = r.arn.splitn(6, ':').collect();
        (parts.len() == 6 && !parts[4].is_empty()).then(|| parts[4].to_string())
    })
}

/// One structured log event per finding.
fn log_finding(f: &Finding) {
    let rules: Vec<&str> = f.rules.iter().map(|r| r.as_str()).collect();
    tracing::info!(
        target: "iam_sweeper::finding",
        user = %f.user,
        credential = %f.credential,
        rules = %rules.join(","),
        last_activity = f.last_activity.map(|t| t.to_rfc3339()).unwrap_or_default(),
        last_activity_source = f.last_activity_source.unwrap_or(""),
        idle_days = f.idle_days.unwrap_or(-1),
        stale = f.stale,
        disable_due = f.disable_due,
        upcoming = f.upcoming,
        exempt = f.exempt,
        action = %f.action,
        "finding"
    );
}

fn log_run(r: &RunReport) {
    let c = &r.audit.counts;
    let a = &r.action_counts;
    tracing::info!(
        target: "iam_sweeper::run",
        account = r.account_id.as_deref().unwrap_or(""),
        mode = %r.audit.policy.mode,
        findings = c.findings,
        stale = c.stale,
        upcoming = c.upcoming,
        exempt = c.exempt,
        planned = c.actions_planned,
        done = a.done,
        already_done = a.already_done,
        skipped_in_use = a.skipped_in_use,
        failed = a.failed,
        not_taken = a.not_taken,
        published = r.published_message_id.is_some(),
        problems = %r.problems.join("; "),
        "run finished"
    );
}
