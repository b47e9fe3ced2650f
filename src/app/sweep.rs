//! One run, start to finish: event → report → rules → exemptions → actions → Security Hub →
//! summary.
//!
//! This module only wires the pieces together over the ports; each step lives in the module
//! named after it. Everything before the action phase either succeeds or ends the run with an
//! error, before any credential is touched.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use crate::app::Settings;
use crate::app::act;
use crate::app::budget::{Budget, PUBLISH_TIMEOUT};
use crate::app::hub;
use crate::app::journal::Journal;
use crate::app::owner_mail;
use crate::app::ports::{Account, FetchError};
use crate::app::reads;
use crate::core::audit::Audit;
use crate::core::config::Policy;
use crate::core::event::{self, EventError};
use crate::core::exemption;
use crate::core::finding::Finding;
use crate::core::journal::{self, KeyEventKind, Manifest};
use crate::core::report::{self, ReportError};
use crate::core::rules;
use crate::core::run::{self, ActionCounts, Counter, Problem, RunReport};
use crate::render::summary;

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
    #[error("the run failed: {}", problems(.0))]
    Failed(Box<RunReport>),
}

fn problems(r: &RunReport) -> String {
    r.problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
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

    /// The run's report, when the run got as far as one.
    pub fn report(&self) -> Option<&RunReport> {
        match self {
            RunError::Failed(r) => Some(r),
            _ => None,
        }
    }
}

/// Runs one sweep of `account` for `event` at `now`. `deadline` is when the Lambda will be
/// stopped, if known.
pub async fn handle<A: Account>(
    account: &A,
    settings: &Settings,
    event: &serde_json::Value,
    now: DateTime<Utc>,
    deadline: Option<Instant>,
) -> Result<RunReport, RunError> {
    use tracing::Instrument;
    let run_id = journal::run_id(now, entropy(now));
    // Every log event of the run carries its ID (the span's field).
    let span = tracing::info_span!("run", run_id = %run_id);
    sweep(account, settings, event, now, deadline, run_id)
        .instrument(span)
        .await
}

async fn sweep<A: Account>(
    account: &A,
    settings: &Settings,
    event: &serde_json::Value,
    now: DateTime<Utc>,
    deadline: Option<Instant>,
    run_id: String,
) -> Result<RunReport, RunError> {
    let invocation = event::classify(event, settings.policy.mode)?;
    let policy = Policy {
        mode: invocation.mode,
        ..settings.policy.clone()
    };
    let started = now;
    let now = invocation.as_of.unwrap_or(now);
    tracing::info!(run_id = %run_id, mode = %policy.mode, trigger = ?invocation.trigger, as_of = %now, "run started");

    let budget = Budget::new(deadline);
    let wait = budget.report_wait(Duration::from_secs(u64::from(
        settings.runtime.report_wait_seconds,
    )));
    let (records, report_generated_time) = match read_report(account, wait).await {
        Ok(read) => read,
        Err(e) => {
            // Nothing was touched; a human still hears of it (the mail and the failed invocation).
            if let Some(topic) = &settings.runtime.sns_topic_arn {
                let message = summary::failure(&policy, topic, &run_id, &e.to_string());
                if let Err(p) = publish(account, topic, &message).await {
                    tracing::error!(error = %p, "failure summary not published");
                }
            }
            return Err(e);
        }
    };
    let mut findings = rules::evaluate(&records, &policy, now);
    let users = reads::users_needing_tags(&findings, &policy);
    let tag_errors = reads::apply_tag_exemptions(
        account,
        users,
        &policy,
        &settings.runtime,
        records.len(),
        &mut findings,
        now,
    )
    .await;
    let mut problems = Vec::new();
    let account_id = run::account_id(records.iter().map(|r| r.arn.as_str()));
    // A what-if run (`as_of`) describes no real night: nothing is journaled.
    let journal = settings
        .runtime
        .journal
        .as_ref()
        .filter(|_| invocation.as_of.is_none())
        .map(|place| {
            Journal::new(
                account,
                place,
                account_id.as_deref().unwrap_or("unknown-account"),
                &run_id,
            )
        });
    let journaling = match &journal {
        Some(j) => Some(act::Journaling {
            journal: j,
            history: read_history(
                j,
                settings,
                &records,
                &policy,
                now,
                &mut findings,
                &mut problems,
            )
            .await,
        }),
        None => None,
    };
    findings.iter().for_each(log_finding);

    let phase = act::act(
        account,
        settings,
        &policy,
        &records,
        &findings,
        &tag_errors,
        now,
        deadline,
        journaling.as_ref(),
        &mut problems,
    )
    .await;
    // What the tag reads right before the actions found is reported like tags read up front:
    // an exemption takes the finding's action away, an invalid value is named.
    for (user, value) in &phase.tag_values {
        for f in findings.iter_mut().filter(|f| &f.user == user) {
            exemption::apply_tag(f, &policy.exempt_tag_key, Some(value), now.date_naive());
        }
    }
    let mut tag_errors = tag_errors;
    tag_errors.extend(phase.tag_errors);
    let actions = phase.outcomes;
    let action_counts = ActionCounts::of(&actions);
    problems.extend(run::action_problems(&actions, &action_counts));
    let (owner_mail, mail_problem) = owner_mail::send(
        account,
        settings,
        &policy,
        account_id.as_deref().unwrap_or("unknown-account"),
        &findings,
        &actions,
        journal.as_ref(),
        now,
    )
    .await;
    problems.extend(mail_problem);
    let mut report = RunReport {
        run_id: run_id.clone(),
        owner_mail,
        journal: journal.as_ref().map(|j| j.place().to_string()),
        account_id,
        audit: Audit::from_findings(findings, &policy, now).check_names(&records),
        invocation,
        report_generated_time,
        actions,
        action_counts,
        tag_errors,
        problems,
        published_message_id: None,
        omitted: Default::default(),
    };

    // After the actions (outcomes and key IDs known), before the summary (a failed import is in
    // the mail). A what-if run (`as_of`) describes no real night: Security Hub is left alone.
    if settings.runtime.security_hub {
        if report.invocation.as_of.is_none() {
            let exported = hub::export(account, &report, now, deadline).await;
            report.problems.extend(exported.problem);
        } else {
            tracing::info!("what-if run (as_of): findings not imported into Security Hub");
        }
    }

    if let Some(j) = &journal {
        let manifest = Manifest {
            run_id: run_id.clone(),
            account: j.account().to_string(),
            mode: report.audit.policy.mode.to_string(),
            started,
            finished: started.max(now),
            settings: serde_json::to_value(&report.audit.policy).unwrap_or_default(),
            counts: counters(&report).as_object().cloned().unwrap_or_default(),
            intents: j.intents(),
            problems: report.problems.iter().map(ToString::to_string).collect(),
        };
        if let Err(e) = j.manifest(&manifest).await {
            tracing::error!(target: "iam_sweeper::journal", error = %e, "run manifest not written");
            report.problems.push(Problem::Journal(format!(
                "the run manifest could not be written: {e}"
            )));
        }
    }

    if let Some(topic) = &settings.runtime.sns_topic_arn {
        let message = summary::build(&report);
        match publish(account, topic, &message).await {
            Ok(id) => report.published_message_id = Some(id),
            Err(e) => {
                tracing::error!(error = %e, "summary not published");
                report.problems.push(Problem::NotPublished(e.to_string()));
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

/// A run ID's random part: distinct for two runs started in the same second.
fn entropy(started: DateTime<Utc>) -> u32 {
    use std::hash::BuildHasher;
    let seed = started.timestamp_nanos_opt().unwrap_or_default();
    // RandomState is seeded per process from the operating system's randomness.
    std::hash::RandomState::new().hash_one(seed) as u32
}

/// Each key's latest journal event, when quarantine or deletion after deactivation needs it, and
/// the deletions `DELETE_DEACTIVATED_AFTER_DAYS` makes due (added to `findings`). A journal that
/// cannot be read deletes nothing it would have decided.
async fn read_history<A: Account>(
    j: &Journal<'_, A>,
    settings: &Settings,
    records: &[crate::core::report::Record],
    policy: &Policy,
    now: DateTime<Utc>,
    findings: &mut Vec<Finding>,
    problems: &mut Vec<Problem>,
) -> Option<Result<std::collections::HashMap<String, journal::KeyEvent>, String>> {
    let rt = &settings.runtime;
    if rt.quarantine_days == 0 && rt.delete_deactivated_after_days.is_none() {
        return None;
    }
    let history = match j.key_history().await {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(target: "iam_sweeper::journal", error = %e, "journal unreadable");
            problems.push(Problem::Journal(format!(
                "the journal's key history could not be read ({e}); no key was deleted on its account"
            )));
            return Some(Err(e.to_string()));
        }
    };
    if let Some(days) = rt.delete_deactivated_after_days {
        let by_user: std::collections::HashMap<&str, &crate::core::report::Record> =
            records.iter().map(|r| (r.user.as_str(), r)).collect();
        let mut due: Vec<&journal::KeyEvent> = history
            .values()
            .filter(|e| {
                e.event == KeyEventKind::Deactivated
                    && e.at + chrono::Duration::days(i64::from(days)) <= now
            })
            .collect();
        due.sort_by(|a, b| (&a.user, &a.key_id).cmp(&(&b.user, &b.key_id)));
        for e in due {
            let Some(r) = by_user.get(e.user.as_str()) else {
                continue;
            };
            match j.event_intent(e).await {
                Ok(Some(intent)) => {
                    let already = |f: &Finding| {
                        f.user == e.user
                            && f.key_created.map(|t| t.timestamp())
                                == intent.key_created.map(|t| t.timestamp())
                    };
                    if findings.iter().any(|f| already(f) && f.planned()) {
                        continue;
                    }
                    if let Some(f) = journal::follow_up(r, &intent, e.at, &policy.exempt_users) {
                        findings.retain(|g| !already(g));
                        findings.push(f);
                    }
                }
                Ok(None) => {}
                Err(err) => problems.push(Problem::Journal(format!(
                    "the record of {}'s key {} could not be read ({err}); it was not deleted",
                    e.user, e.key_id
                ))),
            }
        }
    }
    Some(Ok(history))
}

/// Fetches and parses the credential report; nothing is decided on part of one.
async fn read_report<A: Account>(
    account: &A,
    wait: Duration,
) -> Result<(Vec<crate::core::report::Record>, Option<DateTime<Utc>>), RunError> {
    // The wait bounds the whole fetch, calls in flight included.
    let fetched = tokio::time::timeout(wait, account.fetch_report(wait))
        .await
        .unwrap_or_else(|_| {
            Err(FetchError::Timeout {
                waited: wait,
                last: "no answer from IAM".into(),
            })
        })?;
    // The CSV is not needed once parsed; dropping it keeps the peak memory of a 5,000-user run
    // down.
    let records = report::parse(&fetched.content)?;
    Ok((records, fetched.generated_time))
}

/// Publishes within its timeout.
async fn publish<A: Account>(
    account: &A,
    topic: &str,
    message: &crate::app::ports::Message,
) -> Result<String, crate::app::ports::PublishError> {
    tokio::time::timeout(PUBLISH_TIMEOUT, account.publish(topic, message))
        .await
        .unwrap_or_else(|_| {
            Err(crate::app::ports::PublishError {
                topic_arn: topic.to_string(),
                code: None,
                message: format!("no answer within {} s", PUBLISH_TIMEOUT.as_secs()),
            })
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

/// The run's counters as one JSON object, from the one list of counters.
fn counters(r: &RunReport) -> serde_json::Value {
    use strum::IntoEnumIterator;
    Counter::iter()
        .map(|c| (c.name().to_string(), serde_json::Value::from(r.count(c))))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn log_run(r: &RunReport) {
    tracing::info!(
        target: "iam_sweeper::run",
        account = r.account_id.as_deref().unwrap_or(""),
        run_id = %r.run_id,
        mode = %r.audit.policy.mode,
        counts = %counters(r),
        published = r.published_message_id.is_some(),
        problems = %problems(r),
        "run finished"
    );
}
