//! What a run found and did: the [`RunReport`], its run [`Problem`]s and its [`Counter`]s.
//!
//! One list of counters ([`Counter`]) feeds every output that counts something: the metrics
//! line, the SNS message attributes, the mail's subject and the run's log event.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

use crate::core::audit::Audit;
use crate::core::event::Invocation;
use crate::core::live::IamError;
use crate::core::outcome::{Outcome, Status};

/// Everything a run found and did: the audit JSON plus each action's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// This run's ID: in the mail, the logs and the journal (`undo RUN_ID`).
    pub run_id: String,
    #[serde(flatten)]
    pub audit: Audit,
    pub account_id: Option<String>,
    pub invocation: Invocation,
    pub report_generated_time: Option<DateTime<Utc>>,
    /// One outcome per planned action, in report order.
    pub actions: Vec<Outcome>,
    pub action_counts: ActionCounts,
    /// Users whose tags could not be read (their exemption is unknown, so they are not acted on).
    pub tag_errors: Vec<TagError>,
    /// Why the run counts as failed; empty for a successful run.
    pub problems: Vec<Problem>,
    /// The SNS message ID of the summary, when one was published.
    pub published_message_id: Option<String>,
    /// Findings and actions left out of `findings` and `actions` to keep the Lambda result
    /// under its size limit (see [`RunReport::bounded`]); the counts and the logs have them all.
    pub omitted: Omitted,
    /// Owner mail (`SENDER_EMAIL`): what was sent and who could not be reached.
    pub owner_mail: OwnerMailCounts,
    /// Where the journal is (`s3://bucket/prefix`), when one is configured.
    pub journal: Option<String>,
}

/// What owner mail did in one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OwnerMailCounts {
    /// Mails sent.
    pub sent: usize,
    /// Credentials due a mail whose user has no address tag.
    pub no_address: usize,
    /// Mails SES refused.
    pub failed: usize,
}

/// How many entries a bounded result leaves out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Omitted {
    pub findings: usize,
    pub actions: usize,
}

/// The most findings and actions a Lambda result lists (about 0.7 KB each: well under Lambda's
/// 6 MB response limit).
pub const RESULT_LIST_LIMIT: usize = 1_000;

impl RunReport {
    pub fn failed(&self) -> bool {
        !self.problems.is_empty()
    }

    /// The report with at most `limit` findings and actions listed: actionable findings and
    /// actions taken come first, so what matters stays in view; the rest are counted in
    /// `omitted`.
    pub fn bounded(mut self, limit: usize) -> Self {
        if self.audit.findings.len() > limit {
            // Findings with an action or an exemption before the merely reported ones.
            self.audit
                .findings
                .sort_by_key(|f| !(f.planned() || f.exempt || f.upcoming));
            self.omitted.findings = self.audit.findings.len() - limit;
            self.audit.findings.truncate(limit);
        }
        if self.actions.len() > limit {
            self.actions.sort_by_key(|o| o.status == Status::NotTaken);
            self.omitted.actions = self.actions.len() - limit;
            self.actions.truncate(limit);
        }
        self
    }

    /// The value of one counter.
    pub fn count(&self, counter: Counter) -> usize {
        let c = &self.audit.counts;
        let a = &self.action_counts;
        match counter {
            Counter::Findings => c.findings,
            Counter::Stale => c.stale,
            Counter::DisableDue => c.disable_due,
            Counter::Upcoming => c.upcoming,
            Counter::UnusedCredentials => c.unused_credentials,
            Counter::InitialSetupKeys => c.initial_setup_keys,
            Counter::RootAccessKeys => c.root_access_keys,
            Counter::Exempt => c.exempt,
            Counter::InvalidExemptions => c.invalid_exemptions,
            Counter::ActionsPlanned => c.actions_planned,
            Counter::Done => a.done,
            Counter::AlreadyDone => a.already_done,
            Counter::SkippedInUse => a.skipped_in_use,
            Counter::Failed => a.failed,
            Counter::NotTaken => a.not_taken,
            Counter::OwnerMailsSent => self.owner_mail.sent,
            Counter::OwnerAddressMissing => self.owner_mail.no_address,
        }
    }
}

/// Every number a run reports, in one list. Each output picks the counters it shows by the
/// names given here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumIter, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum Counter {
    Findings,
    Stale,
    DisableDue,
    Upcoming,
    UnusedCredentials,
    InitialSetupKeys,
    RootAccessKeys,
    Exempt,
    InvalidExemptions,
    ActionsPlanned,
    Done,
    Failed,
    SkippedInUse,
    NotTaken,
    AlreadyDone,
    OwnerMailsSent,
    OwnerAddressMissing,
}

impl Counter {
    /// The counter's name in the run's log event (snake_case, derived).
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The CloudWatch metric this counter is published as, if it is one.
    pub fn metric(self) -> Option<&'static str> {
        Some(match self {
            Counter::UnusedCredentials => "FindingsUnusedCredentials",
            Counter::InitialSetupKeys => "FindingsInitialSetupKey",
            Counter::RootAccessKeys => "FindingsRootAccessKey",
            Counter::Done => "ActionsDone",
            Counter::Failed => "ActionsFailed",
            Counter::SkippedInUse => "ActionsSkipped",
            Counter::NotTaken => "ActionsNotTaken",
            Counter::AlreadyDone => "ActionsAlreadyDone",
            _ => return None,
        })
    }

    /// The SNS message attribute this counter is sent as, if it is one.
    pub fn attribute(self) -> Option<&'static str> {
        Some(match self {
            Counter::Findings => "findings",
            Counter::ActionsPlanned => "actions_planned",
            Counter::Done => "actions_done",
            Counter::Failed => "actions_failed",
            Counter::Upcoming => "upcoming",
            _ => return None,
        })
    }

    /// The counter's words in the mail subject (`3 done`), if the subject shows it.
    pub fn subject_label(self) -> Option<&'static str> {
        Some(match self {
            Counter::Done => "done",
            Counter::Failed => "failed",
            Counter::SkippedInUse => "skipped",
            Counter::NotTaken => "not taken",
            Counter::ActionsPlanned => "would act",
            Counter::Findings => "findings",
            Counter::Upcoming => "upcoming",
            _ => return None,
        })
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

/// A user whose tags could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagError {
    pub user: String,
    pub error: IamError,
}

impl fmt::Display for TagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.user, self.error)
    }
}

impl Serialize for TagError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Why a run counts as failed. `Display` is what the mail, the result and the alarm's error show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// More actions were planned than `MAX_ACTIONS`; none was taken.
    OverCap { planned: usize, max: u32 },
    /// Actions failed; the first few are named (`user credential: error`).
    ActionsFailed { count: usize, named: Vec<String> },
    /// Actions not started because the Lambda deadline was near.
    DeadlineCut(usize),
    /// The summary could not be published.
    NotPublished(String),
    /// The journal could not be written or read (`JOURNAL_BUCKET`); what it cost is named.
    Journal(String),
    /// Owner mail could not be sent: how many, and the first error.
    OwnerMail { failed: usize, first: String },
    /// `SECURITY_HUB=true` and findings were not imported into Security Hub, or earlier findings
    /// of fixed credentials could not be closed: `not_imported` of `total` documents were not
    /// accepted, and `reasons` say why (the first few, each once).
    SecurityHub {
        /// The region imported into (the function's).
        region: String,
        not_imported: usize,
        total: usize,
        reasons: Vec<String>,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::OverCap { planned, max } => write!(
                f,
                "{planned} actions planned, more than MAX_ACTIONS ({max}); none taken"
            ),
            Problem::ActionsFailed { count, named } => {
                write!(f, "{count} action(s) failed: {}", named.join("; "))?;
                let more = count.saturating_sub(named.len());
                if more > 0 {
                    write!(f, "; and {more} more")?;
                }
                Ok(())
            }
            Problem::DeadlineCut(n) => write!(
                f,
                "{n} action(s) not started because the Lambda deadline was near; raise the function's timeout"
            ),
            Problem::NotPublished(e) => f.write_str(e),
            Problem::Journal(e) => write!(f, "journal: {e}"),
            Problem::OwnerMail { failed, first } => {
                write!(f, "{failed} owner mail(s) not sent: {first}")
            }
            Problem::SecurityHub {
                region,
                not_imported,
                total,
                reasons,
            } => write!(
                f,
                "Security Hub: {not_imported} of {total} finding(s) not imported ({}); check that \
                 Security Hub is enabled in this account in {region} and that the function's role \
                 allows securityhub:BatchImportFindings and securityhub:GetFindings",
                reasons.join("; ")
            ),
        }
    }
}

impl Serialize for Problem {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// How many failed actions a problem names; the rest are counted.
const NAMED_FAILURES: usize = 5;

/// Why the action phase fails the run: failed actions (naming the first few, so the alarm's
/// error text is enough to act on) and actions cut off by the deadline.
pub fn action_problems(actions: &[Outcome], counts: &ActionCounts) -> Vec<Problem> {
    let mut problems = Vec::new();
    if counts.failed > 0 {
        let named = actions
            .iter()
            .filter(|o| o.status == Status::Failed)
            .take(NAMED_FAILURES)
            .map(|o| {
                let detail = o
                    .detail
                    .as_ref()
                    .map_or("?".to_string(), ToString::to_string);
                format!("{} {}: {detail}", o.user, o.credential)
            })
            .collect();
        problems.push(Problem::ActionsFailed {
            count: counts.failed,
            named,
        });
    }
    let cut = actions
        .iter()
        .filter(|o| o.detail == Some(crate::core::outcome::Detail::Deadline))
        .count();
    if cut > 0 {
        problems.push(Problem::DeadlineCut(cut));
    }
    problems
}

/// The account ID, from the report's ARNs (`arn:PARTITION:iam::ACCOUNT:…`).
pub fn account_id<'a>(arns: impl IntoIterator<Item = &'a str>) -> Option<String> {
    arns.into_iter().find_map(|arn| {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        (parts.len() == 6 && !parts[4].is_empty()).then(|| parts[4].to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::config::{Mode, Policy};
    use crate::core::event::Trigger;
    use crate::core::outcome::Detail;
    use crate::core::report::{AccessKeyColumns, Record};

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_795_000_000, 0).expect("a time")
    }

    /// A user whose key was last used `days` ago (stale and due at 120, upcoming at 85).
    fn user(name: &str, days: i64) -> Record {
        let at = |d: i64| Some(now() - chrono::Duration::days(d));
        Record {
            user: name.into(),
            arn: format!("arn:aws:iam::123456789012:user/{name}"),
            user_creation_time: at(400),
            password_enabled: Some(false),
            password_last_used: None,
            password_last_changed: None,
            password_next_rotation: None,
            mfa_active: Some(false),
            access_keys: [
                AccessKeyColumns {
                    active: Some(true),
                    last_rotated: at(300),
                    last_used_date: at(days),
                    last_used_region: None,
                    last_used_service: None,
                },
                AccessKeyColumns::default(),
            ],
            certs: Default::default(),
        }
    }

    #[test]
    fn a_bounded_result_keeps_what_matters_and_counts_the_rest() {
        let policy = Policy {
            mode: Mode::Report,
            ..Policy::default()
        };
        // 3 merely stale users first, then 2 due for an action.
        let records: Vec<Record> = [("a", 40), ("b", 40), ("c", 40), ("d", 120), ("e", 120)]
            .iter()
            .map(|(n, d)| user(n, *d))
            .collect();
        let findings = crate::core::rules::evaluate(&records, &policy, now());
        let actions: Vec<Outcome> = findings
            .iter()
            .filter(|f| f.planned())
            .map(|f| Outcome::not_taken(f, Detail::ReportMode))
            .collect();
        let report = RunReport {
            run_id: "20261201T020000Z-00000000".into(),
            audit: Audit::from_findings(findings, &policy, now()),
            account_id: None,
            invocation: Invocation {
                trigger: Trigger::OnDemand,
                mode: Mode::Report,
                dry_run_requested: false,
                as_of: None,
            },
            report_generated_time: None,
            action_counts: ActionCounts::of(&actions),
            actions,
            tag_errors: Vec::new(),
            problems: Vec::new(),
            published_message_id: None,
            omitted: Omitted::default(),
            owner_mail: Default::default(),
            journal: None,
        };
        let whole = report.clone().bounded(10);
        assert_eq!(whole.audit.findings.len(), 5);
        assert_eq!(whole.omitted, Omitted::default());

        let bounded = report.bounded(1);
        assert_eq!(bounded.audit.findings.len(), 1);
        assert!(
            bounded.audit.findings[0].planned(),
            "actionable findings come first"
        );
        assert_eq!(bounded.actions.len(), 1);
        assert_eq!(
            bounded.omitted,
            Omitted {
                findings: 4,
                actions: 1
            }
        );
        assert_eq!(
            bounded.audit.counts.findings, 5,
            "the counts keep every finding"
        );
        let json = serde_json::to_value(&bounded).expect("JSON");
        assert_eq!(json["omitted"]["findings"], 4);
    }
}
