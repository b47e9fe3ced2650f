//! How one planned action ended: its [`Status`] and the typed [`Detail`] that says why.
//!
//! Every planned action ends with exactly one [`Outcome`]. The detail is an enum the code can
//! branch on; its `Display` is the wording the mail, the JSON result and the logs show.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

use crate::core::finding::{Action, Credential, Exemption, Finding};
use crate::core::live::{IamError, KeyStatus};
use crate::core::plan::undo_command;

/// How one planned action ended.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    serde::Deserialize,
    strum::Display,
    strum::IntoStaticStr,
    strum::EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Status {
    /// The action was taken.
    Done,
    /// The credential (or its user) was already gone or disabled.
    AlreadyDone,
    /// The live re-check found the credential used since the report: left alone.
    SkippedInUse,
    /// IAM refused or the call failed after retries.
    Failed,
    /// Not attempted: report mode, the cap, the deadline, or the key could not be identified.
    NotTaken,
}

/// Why an action ended the way it did: every case but a plain success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detail {
    /// Report mode: nothing is changed.
    ReportMode,
    /// More actions were planned than `MAX_ACTIONS`; none was taken.
    OverCap { planned: usize, max: u32 },
    /// The Lambda deadline was too near to start the action (its calls at their timeout and the
    /// summary's publish would not fit).
    Deadline,
    /// The user was found exempt when its tags were read again right before the action.
    ExemptNow(Exemption),
    /// The change was made, but IAM's answer to it was lost (the retry found it already done,
    /// or a read right after confirmed it).
    AnswerLost(IamError),
    /// The answer to the change was lost and whether it was made could not be confirmed.
    Unconfirmed { error: IamError, check: IamError },
    /// The report has no row for the user.
    NoReportRow,
    /// Root credentials are never acted on.
    Root,
    /// The report gives no creation time for the key, so its ID cannot be found.
    NoKeyCreationTime,
    /// No live key was created at the report's second: replaced or deleted since.
    NoLiveKey { created: DateTime<Utc> },
    /// Several live keys were created at that second: nothing is guessed.
    AmbiguousKey {
        count: usize,
        created: DateTime<Utc>,
    },
    /// The key was already not active.
    KeyNotActive(KeyStatus),
    /// The user has no console password any more.
    NoPassword,
    /// The credential or its user was already gone.
    Gone(IamError),
    /// The key was used after the report (when, if IAM says).
    KeyUsed(Option<DateTime<Utc>>),
    /// The password was used or set again after the report.
    PasswordUsedOrSet(Option<DateTime<Utc>>),
    /// IAM's answer has no last use although the report shows one: the answer is incomplete.
    UseMissing {
        operation: &'static str,
        reported: Option<DateTime<Utc>>,
    },
    /// The user's tags could not be read, so the exemption is unknown.
    TagsUnreadable(IamError),
    /// An IAM call failed.
    Call(IamError),
    /// An outcome went missing (a bug): reported as a failure, never a panic.
    Missing,
    /// The journal's intent record could not be written, so the change was not made.
    JournalUnwritable(String),
    /// Quarantine (`QUARANTINE_DAYS`): deactivated instead of deleted; deleted on a later run.
    Quarantined { delete_after: DateTime<Utc> },
    /// Quarantine: this tool deactivated the key at `since`; it is deleted from `until` on.
    QuarantineWait {
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    },
    /// Quarantine: the key is inactive but the journal does not show this tool deactivated it
    /// (or it was reactivated since), so it is not deleted.
    QuarantineNotOurs,
    /// A key this tool deactivated is active again (reactivated by someone): not deleted.
    Reactivated,
    /// The journal could not be read, so whether this tool deactivated the key is unknown.
    JournalUnreadable(String),
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let when = |t: &Option<DateTime<Utc>>| t.map_or("recently".to_string(), |t| t.to_rfc3339());
        match self {
            Detail::ReportMode => f.write_str("report mode: nothing is changed"),
            Detail::OverCap { planned, max } => write!(
                f,
                "{planned} actions planned, more than MAX_ACTIONS ({max}); none taken"
            ),
            Detail::Deadline => f.write_str(
                "too little time left before the Lambda deadline to take it and still publish the summary; not started",
            ),
            Detail::ExemptNow(e) => write!(
                f,
                "exempt when its tags were read again right before the action ({e}); not taken"
            ),
            Detail::AnswerLost(e) => write!(
                f,
                "done by this run; IAM's answer was lost ({e}) and the change was confirmed"
            ),
            Detail::Unconfirmed { error, check } => write!(
                f,
                "IAM's answer was lost ({error}) and whether the change was made could not be confirmed ({check}); check the credential"
            ),
            Detail::NoReportRow => f.write_str("no report row for the user"),
            Detail::Root => f.write_str("root credentials are never acted on"),
            Detail::NoKeyCreationTime => f.write_str(
                "the report gives no creation time for this key, so it cannot be identified",
            ),
            Detail::NoLiveKey { created } => write!(
                f,
                "no live access key was created at {created}; it was replaced or deleted since the report, so nothing is guessed"
            ),
            Detail::AmbiguousKey { count, created } => write!(
                f,
                "{count} live access keys were created at {created}; refusing to guess which one the report means"
            ),
            Detail::KeyNotActive(status) => write!(f, "key is already {status:?}"),
            Detail::NoPassword => f.write_str("the user has no console password any more"),
            Detail::Gone(e) => write!(f, "already gone: {e}"),
            Detail::KeyUsed(t) => write!(f, "used {}, after the report", when(t)),
            Detail::PasswordUsedOrSet(t) => {
                write!(f, "used or set {}, after the report", when(t))
            }
            Detail::UseMissing { operation, reported } => write!(
                f,
                "{operation} gives no last use, but the report shows one ({}); the answer is incomplete, nothing is decided on it",
                reported.map_or("-".to_string(), |t| t.to_rfc3339())
            ),
            Detail::TagsUnreadable(e) => write!(
                f,
                "cannot read the user's tags to check for an exemption: {e}"
            ),
            Detail::Call(e) => write!(f, "{e}"),
            Detail::Missing => f.write_str("internal error: an outcome went missing"),
            Detail::JournalUnwritable(e) => write!(
                f,
                "the journal's intent record could not be written ({e}); not taken"
            ),
            Detail::Quarantined { delete_after } => write!(
                f,
                "quarantined: deactivated instead of deleted; deleted on a run from {} on if it stays inactive and unused",
                delete_after.to_rfc3339()
            ),
            Detail::QuarantineWait { since, until } => write!(
                f,
                "in quarantine since {} (deactivated by this tool); deleted from {} on",
                since.to_rfc3339(),
                until.to_rfc3339()
            ),
            Detail::Reactivated => f.write_str(
                "active again since this tool deactivated it (reactivated by someone); not deleted",
            ),
            Detail::QuarantineNotOurs => f.write_str(
                "inactive, but the journal does not show this tool deactivated it (or it was reactivated since); not deleted",
            ),
            Detail::JournalUnreadable(e) => write!(
                f,
                "the journal could not be read ({e}), so the key's quarantine is unknown; not deleted"
            ),
        }
    }
}

impl Serialize for Detail {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The result of one planned action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub user: String,
    pub credential: Credential,
    /// What the rules planned.
    pub planned: Action,
    /// What was taken (the re-check may weaken a delete to a deactivate), when something was.
    pub taken: Option<Action>,
    pub access_key_id: Option<String>,
    pub status: Status,
    /// Why, for everything but a plain success: the error, the live last use, the reason.
    pub detail: Option<Detail>,
    /// The command that reverses the action, for actions taken.
    pub undo: Option<String>,
}

impl Outcome {
    /// An outcome for a planned action that was not attempted.
    pub fn not_taken(f: &Finding, why: Detail) -> Self {
        Outcome {
            user: f.user.clone(),
            credential: f.credential,
            planned: f.action,
            taken: None,
            access_key_id: None,
            status: Status::NotTaken,
            detail: Some(why),
            undo: None,
        }
    }

    /// The same action with another status and detail.
    pub fn with(mut self, status: Status, detail: Detail) -> Self {
        self.status = status;
        self.detail = Some(detail);
        self
    }

    /// The action was taken: done, with its undo command.
    pub fn done(mut self, action: Action) -> Self {
        self.status = Status::Done;
        self.detail = None;
        self.taken = Some(action);
        self.undo = undo_command(action, &self.user, self.access_key_id.as_deref());
        self
    }

    /// Done, though IAM's answer to the change was lost.
    pub fn done_answer_lost(self, action: Action, error: IamError) -> Self {
        let mut o = self.done(action);
        o.detail = Some(Detail::AnswerLost(error));
        o
    }

    /// A failed call: `already_done` when the entity was gone, `failed` otherwise.
    pub fn gone_or_failed(self, e: IamError) -> Self {
        if e.is_no_such_entity() {
            self.with(Status::AlreadyDone, Detail::Gone(e))
        } else {
            self.with(Status::Failed, Detail::Call(e))
        }
    }

    /// A placeholder for an outcome that went missing (never expected): a failure, not a panic.
    pub fn missing() -> Self {
        Outcome {
            user: String::new(),
            credential: Credential::Password,
            planned: Action::None,
            taken: None,
            access_key_id: None,
            status: Status::Failed,
            detail: Some(Detail::Missing),
            undo: None,
        }
    }
}
