//! The action phase: for each planned action, re-check live IAM state, then act.
//!
//! Every planned action ends with exactly one [`Outcome`]. The cap (`MAX_ACTIONS`) is checked
//! before anything is touched; a Lambda deadline that comes near stops new actions from starting.
//! One action failing never stops the others.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Serialize;
use tokio::time::Instant;

use crate::aws::iam::{self, IamError, KeyStatus};
use crate::config::Policy;
use crate::finding::{Action, Credential, Finding};
use crate::recheck::{self, KeyMatch};
use crate::report::Record;

/// No new action starts when less than this remains before the Lambda deadline.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(30);

/// The `detail` of an action not started because the deadline was near.
pub const DEADLINE_REASON: &str = "less than 30 s left before the Lambda deadline; not started";

/// How one planned action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
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

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Done => "done",
            Status::AlreadyDone => "already_done",
            Status::SkippedInUse => "skipped_in_use",
            Status::Failed => "failed",
            Status::NotTaken => "not_taken",
        }
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
    pub detail: Option<String>,
    /// The command that reverses the action, for actions taken.
    pub undo: Option<String>,
}

impl Outcome {
    /// An outcome for a planned action that was not attempted.
    pub fn not_taken(f: &Finding, reason: &str) -> Self {
        Outcome {
            user: f.user.clone(),
            credential: f.credential,
            planned: f.action,
            taken: None,
            access_key_id: None,
            status: Status::NotTaken,
            detail: Some(reason.to_string()),
            undo: None,
        }
    }

    fn with(mut self, status: Status, detail: impl Into<Option<String>>) -> Self {
        self.status = status;
        self.detail = detail.into();
        self
    }
}

/// The command that reverses `action` (rules.md), for a summary reader to copy.
pub fn undo_command(action: Action, user: &str, key_id: Option<&str>) -> Option<String> {
    let key = key_id.unwrap_or("<key-id>");
    match action {
        Action::DeactivateKey => Some(format!(
            "aws iam update-access-key --user-name {user} --access-key-id {key} --status Active"
        )),
        Action::DeleteLoginProfile => Some(format!(
            "aws iam create-login-profile --user-name {user} --password '<new>' --password-reset-required"
        )),
        Action::DeleteKey => Some(format!(
            "not recoverable; aws iam create-access-key --user-name {user} issues a new one"
        )),
        Action::None => None,
    }
}

/// What the enforcer needs besides the findings.
pub struct Enforcer<'a> {
    pub iam: &'a aws_sdk_iam::Client,
    pub policy: &'a Policy,
    pub now: DateTime<Utc>,
    pub concurrency: usize,
    /// When the Lambda will be stopped, if running in Lambda.
    pub deadline: Option<Instant>,
    /// Every user's `PasswordLastUsed`, read in pages (`ListUsers`) just before the action phase,
    /// when many passwords are due (see [`crate::reads`]). A user found here is not asked again
    /// with `GetUser`; `GetLoginProfile` still confirms, per action, that the password exists and
    /// was not set again since the report. `None`: `GetUser` per password.
    pub password_use: Option<&'a HashMap<String, Option<DateTime<Utc>>>>,
}

impl Enforcer<'_> {
    /// Takes every planned action in `planned` (each with its report record), in order, with
    /// bounded concurrency. Returns one outcome per planned action, in the same order.
    pub async fn run(&self, planned: Vec<(&Finding, &Record)>) -> Vec<Outcome> {
        futures::stream::iter(planned)
            .map(|(f, r)| self.one(f, r))
            .buffered(self.concurrency.max(1))
            .collect()
            .await
    }

    async fn one(&self, f: &Finding, r: &Record) -> Outcome {
        if let Some(deadline) = self.deadline
            && deadline.saturating_duration_since(Instant::now()) < DEADLINE_MARGIN
        {
            return Outcome::not_taken(f, DEADLINE_REASON);
        }
        let outcome = match f.credential {
            Credential::AccessKey(slot) => self.key(f, r, slot).await,
            Credential::Password => self.password(f, r).await,
            Credential::RootAccessKey(_) => {
                Outcome::not_taken(f, "root credentials are never acted on")
            }
        };
        log(&outcome);
        outcome
    }

    async fn key(&self, f: &Finding, r: &Record, slot: crate::finding::Slot) -> Outcome {
        let base = Outcome::not_taken(f, "");
        let Some(created) = f.key_created else {
            return base.with(
                Status::NotTaken,
                "the report gives no creation time for this key, so it cannot be identified"
                    .to_string(),
            );
        };
        let keys = match iam::list_access_keys(self.iam, &f.user).await {
            Ok(k) => k,
            Err(e) => return gone_or_failed(base, e),
        };
        let key = match recheck::match_key(
            keys.into_iter().map(|k| {
                let c = k.created;
                (k, c)
            }),
            created,
        ) {
            KeyMatch::One(k) => k,
            KeyMatch::NoneFound => {
                return base.with(Status::NotTaken, format!("no live access key was created at {created}; it was replaced or deleted since the report, so nothing is guessed"));
            }
            KeyMatch::Ambiguous(n) => {
                return base.with(Status::NotTaken, format!("{n} live access keys were created at {created}; refusing to guess which one the report means"));
            }
        };
        let base = Outcome {
            access_key_id: Some(key.id.clone()),
            ..base
        };
        if key.status != KeyStatus::Active {
            return base.with(
                Status::AlreadyDone,
                format!("key is already {:?}", key.status),
            );
        }
        let last_used = match iam::access_key_last_used(self.iam, &f.user, &key.id).await {
            Ok(u) => u,
            Err(e) => return gone_or_failed(base, e),
        };
        let action = recheck::key_action(r, slot, last_used, self.policy, self.now);
        let result = match action {
            Action::None => {
                let when = last_used.map_or("recently".to_string(), |t| t.to_rfc3339());
                return base.with(
                    Status::SkippedInUse,
                    format!("used {when}, after the report"),
                );
            }
            Action::DeactivateKey => iam::deactivate_key(self.iam, &f.user, &key.id).await,
            Action::DeleteKey => iam::delete_key(self.iam, &f.user, &key.id).await,
            Action::DeleteLoginProfile => unreachable_action(),
        };
        finish(base, action, result)
    }

    async fn password(&self, f: &Finding, r: &Record) -> Outcome {
        let base = Outcome::not_taken(f, "");
        let profile = match iam::login_profile(self.iam, &f.user).await {
            Ok(Some(created)) => created,
            Ok(None) => {
                return base.with(
                    Status::AlreadyDone,
                    "the user has no console password any more".to_string(),
                );
            }
            Err(e) => return gone_or_failed(base, e),
        };
        let listed = self.password_use.and_then(|all| all.get(&f.user)).copied();
        let last_used = match listed {
            Some(used) => used,
            None => match iam::password_last_used(self.iam, &f.user).await {
                Ok(u) => u,
                Err(e) => return gone_or_failed(base, e),
            },
        };
        match recheck::password_action(r, last_used, Some(profile), self.policy, self.now) {
            Action::None => {
                let when = last_used
                    .max(Some(profile))
                    .map_or("recently".to_string(), |t| t.to_rfc3339());
                base.with(
                    Status::SkippedInUse,
                    format!("used or set {when}, after the report"),
                )
            }
            action => {
                let result = iam::delete_login_profile(self.iam, &f.user).await;
                finish(base, action, result)
            }
        }
    }
}

/// A re-check can only lower a key action to another key action; a password action on a key
/// cannot arise. Kept as a failure rather than a panic.
fn unreachable_action() -> Result<(), IamError> {
    Err(IamError::Other {
        operation: "re-check",
        code: None,
        message: "internal error: a password action was planned for an access key".into(),
    })
}

fn gone_or_failed(base: Outcome, e: IamError) -> Outcome {
    if e.is_no_such_entity() {
        base.with(Status::AlreadyDone, format!("already gone: {e}"))
    } else {
        base.with(Status::Failed, e.to_string())
    }
}

fn finish(base: Outcome, action: Action, result: Result<(), IamError>) -> Outcome {
    match result {
        Ok(()) => Outcome {
            taken: Some(action),
            undo: undo_command(action, &base.user, base.access_key_id.as_deref()),
            ..base.with(Status::Done, None::<String>)
        },
        Err(e) => gone_or_failed(base, e),
    }
}

/// One structured log event per action outcome.
pub fn log(o: &Outcome) {
    let status = o.status.as_str();
    let detail = o.detail.as_deref().unwrap_or("");
    let key = o.access_key_id.as_deref().unwrap_or("");
    let taken = o.taken.map_or("none", |a| a.as_str());
    let undo = o.undo.as_deref().unwrap_or("");
    if o.status == Status::Failed {
        tracing::error!(target: "iam_sweeper::action", user = %o.user, credential = %o.credential, planned = %o.planned, taken, access_key_id = key, status, detail, "action failed");
    } else {
        tracing::info!(target: "iam_sweeper::action", user = %o.user, credential = %o.credential, planned = %o.planned, taken, access_key_id = key, status, detail, undo, "action");
    }
}
