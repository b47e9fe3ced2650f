//! The action phase: for each planned action, re-check live IAM state, then act.
//!
//! Every planned action ends with exactly one [`Outcome`]. The cap (`MAX_ACTIONS`) is checked
//! before anything is touched; a Lambda deadline that comes near stops new actions from starting.
//! One action failing never stops the others.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use tokio::time::Instant;

use crate::app::Settings;
use crate::app::ports::{IamActions, IamPagedReads, IamReads, KeyStatus};
use crate::app::reads;
use crate::app::sweep::{log_outcome, not_taken};
use crate::core::config::{Mode, Policy};
use crate::core::finding::{Finding, Slot};
use crate::core::outcome::{Detail, Outcome, Status};
use crate::core::plan::{self, KeyAction, Planned};
use crate::core::recheck::{self, KeyMatch};
use crate::core::report::Record;
use crate::core::run::{Problem, TagError};

/// No new action starts when less than this remains before the Lambda deadline.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(30);

/// The action phase: one outcome per planned action, in report order.
#[allow(clippy::too_many_arguments)]
pub async fn act<A: IamReads + IamPagedReads + IamActions>(
    account: &A,
    settings: &Settings,
    policy: &Policy,
    records: &[Record],
    findings: &[Finding],
    tag_errors: &[TagError],
    now: DateTime<Utc>,
    deadline: Option<Instant>,
    problems: &mut Vec<Problem>,
) -> Vec<Outcome> {
    let planned = plan::plan(findings);
    if policy.mode == Mode::Report {
        return not_taken(&planned, &Detail::ReportMode);
    }
    if plan::over_cap(planned.len(), policy.max_actions) {
        let why = Detail::OverCap {
            planned: planned.len(),
            max: policy.max_actions,
        };
        tracing::error!("{why}");
        problems.push(Problem::OverCap {
            planned: planned.len(),
            max: policy.max_actions,
        });
        let outcomes = not_taken(&planned, &why);
        outcomes.iter().for_each(log_outcome);
        return outcomes;
    }
    let by_user: HashMap<&str, &Record> = records.iter().map(|r| (r.user.as_str(), r)).collect();
    let tag_errors: HashMap<&str, &TagError> =
        tag_errors.iter().map(|e| (e.user.as_str(), e)).collect();
    let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(planned.len());
    let mut work = Vec::new();
    for &(f, p) in &planned {
        match (
            tag_errors.get(f.user.as_str()),
            by_user.get(f.user.as_str()),
        ) {
            (Some(e), _) => {
                let o = Outcome::not_taken(f, Detail::NoReportRow)
                    .with(Status::Failed, Detail::TagsUnreadable(e.error.clone()));
                log_outcome(&o);
                outcomes.push(Some(o));
            }
            (None, Some(r)) => {
                outcomes.push(None);
                work.push((f, p, *r));
            }
            (None, None) => outcomes.push(Some(Outcome::not_taken(f, Detail::NoReportRow))),
        }
    }
    let passwords_due = work
        .iter()
        .filter(|(_, p, _)| *p == Planned::Password)
        .count();
    let password_use =
        reads::read_password_use(account, &settings.runtime, records.len(), passwords_due).await;
    let enforcer = Enforcer {
        account,
        policy,
        now,
        concurrency: settings.runtime.concurrency as usize,
        deadline,
        password_use: password_use.as_ref(),
    };
    let mut done = enforcer.run(work).await.into_iter();
    outcomes
        .into_iter()
        .map(|o| o.or_else(|| done.next()).unwrap_or_else(Outcome::missing))
        .collect()
}

/// What the enforcer needs besides the findings.
struct Enforcer<'a, A> {
    account: &'a A,
    policy: &'a Policy,
    now: DateTime<Utc>,
    concurrency: usize,
    /// When the Lambda will be stopped, if running in Lambda.
    deadline: Option<Instant>,
    /// Every user's `PasswordLastUsed`, read in pages (`ListUsers`) just before the action phase,
    /// when many passwords are due (see [`crate::app::reads`]). A user found here is not asked
    /// again with `GetUser`; `GetLoginProfile` still confirms, per action, that the password
    /// exists and was not set again since the report. `None`: `GetUser` per password.
    password_use: Option<&'a HashMap<String, Option<DateTime<Utc>>>>,
}

impl<A: IamReads + IamActions> Enforcer<'_, A> {
    /// Takes every planned action in `planned` (each with its report record), in order, with
    /// bounded concurrency. Returns one outcome per planned action, in the same order.
    async fn run(&self, planned: Vec<(&Finding, Planned, &Record)>) -> Vec<Outcome> {
        futures::stream::iter(planned)
            .map(|(f, p, r)| self.one(f, p, r))
            .buffered(self.concurrency.max(1))
            .collect()
            .await
    }

    async fn one(&self, f: &Finding, p: Planned, r: &Record) -> Outcome {
        if let Some(deadline) = self.deadline
            && deadline.saturating_duration_since(Instant::now()) < DEADLINE_MARGIN
        {
            return Outcome::not_taken(f, Detail::Deadline);
        }
        let outcome = match p {
            Planned::Key { slot, created, .. } => self.key(f, r, slot, created).await,
            Planned::Password => self.password(f, r).await,
        };
        log_outcome(&outcome);
        outcome
    }

    async fn key(
        &self,
        f: &Finding,
        r: &Record,
        slot: Slot,
        created: Option<DateTime<Utc>>,
    ) -> Outcome {
        let base = Outcome::not_taken(f, Detail::NoKeyCreationTime);
        let Some(created) = created else {
            return base;
        };
        let keys = match self.account.list_access_keys(&f.user).await {
            Ok(k) => k,
            Err(e) => return base.gone_or_failed(e),
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
                return base.with(Status::NotTaken, Detail::NoLiveKey { created });
            }
            KeyMatch::Ambiguous(count) => {
                return base.with(Status::NotTaken, Detail::AmbiguousKey { count, created });
            }
        };
        let base = Outcome {
            access_key_id: Some(key.id.clone()),
            ..base
        };
        if key.status != KeyStatus::Active {
            return base.with(Status::AlreadyDone, Detail::KeyNotActive(key.status));
        }
        let last_used = match self.account.access_key_last_used(&f.user, &key.id).await {
            Ok(u) => u,
            Err(e) => return base.gone_or_failed(e),
        };
        let Some(action) = recheck::key_action(r, slot, last_used, self.policy, self.now) else {
            return base.with(Status::SkippedInUse, Detail::KeyUsed(last_used));
        };
        let result = match action {
            KeyAction::Deactivate => self.account.deactivate_key(&f.user, &key.id).await,
            KeyAction::Delete => self.account.delete_key(&f.user, &key.id).await,
        };
        match result {
            Ok(()) => base.done(action.action()),
            Err(e) => base.gone_or_failed(e),
        }
    }

    async fn password(&self, f: &Finding, r: &Record) -> Outcome {
        let base = Outcome::not_taken(f, Detail::NoPassword);
        let profile = match self.account.login_profile(&f.user).await {
            Ok(Some(created)) => created,
            Ok(None) => return base.with(Status::AlreadyDone, Detail::NoPassword),
            Err(e) => return base.gone_or_failed(e),
        };
        let listed = self.password_use.and_then(|all| all.get(&f.user)).copied();
        let last_used = match listed {
            Some(used) => used,
            None => match self.account.password_last_used(&f.user).await {
                Ok(u) => u,
                Err(e) => return base.gone_or_failed(e),
            },
        };
        if !recheck::password_due(r, last_used, Some(profile), self.policy, self.now) {
            let when = last_used.max(Some(profile));
            return base.with(Status::SkippedInUse, Detail::PasswordUsedOrSet(when));
        }
        match self.account.delete_login_profile(&f.user).await {
            Ok(()) => base.done(Planned::Password.action()),
            Err(e) => base.gone_or_failed(e),
        }
    }
}
