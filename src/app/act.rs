//! The action phase: for each planned action, re-check live IAM state, then act.
//!
//! Every planned action ends with exactly one [`Outcome`]. The cap (`MAX_ACTIONS`) is checked
//! before anything is touched; a Lambda deadline that comes near stops new actions from starting.
//! One action failing never stops the others.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use tokio::time::Instant;

use crate::app::Settings;
use crate::app::budget::{Budget, CALLS_PER_ACTION};
use crate::app::ports::{IamActions, IamError, IamReads, KeyStatus, LiveUser};
use crate::core::config::{Mode, Policy};
use crate::core::exemption;
use crate::core::finding::{Action, Finding, Slot};
use crate::core::outcome::{Detail, Outcome, Status};
use crate::core::plan::{self, KeyAction, Planned};
use crate::core::recheck::{self, KeyMatch};
use crate::core::report::Record;
use crate::core::run::{Problem, TagError};

/// The action phase: one outcome per planned action, in report order.
#[allow(clippy::too_many_arguments)]
pub async fn act<A: IamReads + IamActions>(
    account: &A,
    settings: &Settings,
    policy: &Policy,
    records: &[Record],
    findings: &[Finding],
    tag_errors: &[TagError],
    now: DateTime<Utc>,
    deadline: Option<Instant>,
    problems: &mut Vec<Problem>,
) -> Phase {
    let planned = plan::plan(findings);
    if policy.mode == Mode::Report {
        return Phase::only(not_taken(&planned, &Detail::ReportMode));
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
        return Phase::only(outcomes);
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
                let o = Outcome::not_taken(f, Detail::TagsUnreadable(e.error.clone()))
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
    let enforcer = Enforcer {
        account,
        policy,
        now,
        concurrency: settings.runtime.concurrency as usize,
        budget: Budget::new(deadline),
        seen: RefCell::new(Vec::new()),
    };
    let mut done = enforcer.run(work).await.into_iter();
    // A user found exempt right before its action is an exemption, not an action: reported as
    // an exempt finding (the tag value comes back in `tag_values`), with no outcome.
    let outcomes = outcomes
        .into_iter()
        .map(|o| o.or_else(|| done.next()).unwrap_or_else(Outcome::missing))
        .filter(|o| !matches!(o.detail, Some(Detail::ExemptNow(_))))
        .collect();
    let mut phase = Phase {
        outcomes,
        ..Phase::default()
    };
    for read in enforcer.seen.into_inner() {
        match read {
            TagRead::Value(user, Some(value)) => phase.tag_values.push((user, value)),
            TagRead::Value(_, None) => {}
            TagRead::Error(e) if e.error.is_no_such_entity() => {}
            TagRead::Error(e) => phase.tag_errors.push(e),
        }
    }
    phase
}

/// What the action phase did and saw.
#[derive(Debug, Default)]
pub struct Phase {
    /// One outcome per planned action, in report order.
    pub outcomes: Vec<Outcome>,
    /// Exemption tag values read right before actions: (user, value).
    pub tag_values: Vec<(String, String)>,
    /// Users whose tags could not be read right before an action.
    pub tag_errors: Vec<TagError>,
}

impl Phase {
    fn only(outcomes: Vec<Outcome>) -> Self {
        Phase {
            outcomes,
            ..Phase::default()
        }
    }
}

/// One tag read right before an action.
enum TagRead {
    /// The user's exemption tag value, if the user has the tag.
    Value(String, Option<String>),
    Error(TagError),
}

/// What the enforcer needs besides the findings.
struct Enforcer<'a, A> {
    account: &'a A,
    /// What the tag reads right before each action found, for the report.
    seen: RefCell<Vec<TagRead>>,
    policy: &'a Policy,
    now: DateTime<Utc>,
    concurrency: usize,
    /// What fits before the Lambda deadline.
    budget: Budget,
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
        // Every call the action may need, at its timeout, and the publish must fit.
        let Some(timeout) = self.budget.call_timeout(CALLS_PER_ACTION) else {
            let o = Outcome::not_taken(f, Detail::Deadline);
            log_outcome(&o);
            return o;
        };
        let outcome = match p {
            Planned::Key {
                slot,
                created,
                action,
            } => self.key(f, r, slot, created, action, timeout).await,
            Planned::Password => self.password(f, r, timeout).await,
        };
        log_outcome(&outcome);
        outcome
    }

    /// The user's exemption, read again right before acting (after the live re-check), so a
    /// tag added while the run was under way is honoured. `Err` is the outcome to report.
    ///
    /// Two independent answers carry the tags: `GetUser` (`known`, when the re-check already
    /// read it) and `ListUserTags`, read last. The exemption counts when either shows it, so one
    /// answer that lost its tags cannot take an exemption away.
    async fn still_not_exempt(
        &self,
        base: &Outcome,
        known: Option<LiveUser>,
        timeout: Duration,
    ) -> Result<(), Outcome> {
        const OP: &str = "ListUserTags";
        let got_user = match known {
            Some(u) => Ok(u),
            None => Budget::call(timeout, "GetUser", self.account.user(&base.user)).await,
        };
        let listed = Budget::call(timeout, OP, self.account.user_tags(&base.user)).await;
        let read = got_user.and_then(|u| {
            listed.map(|mut tags| {
                let key = &self.policy.exempt_tag_key;
                if exemption::tag_value(&tags, key).is_none()
                    && let Some(v) = exemption::tag_value(&u.tags, key)
                {
                    tags.push((key.clone(), v.to_string()));
                }
                tags
            })
        });
        self.seen.borrow_mut().push(match &read {
            Ok(tags) => TagRead::Value(
                base.user.clone(),
                exemption::tag_value(tags, &self.policy.exempt_tag_key).map(str::to_string),
            ),
            Err(e) => TagRead::Error(TagError {
                user: base.user.clone(),
                error: e.clone(),
            }),
        });
        match read {
            Ok(tags) => {
                match exemption::by_tags(&tags, &self.policy.exempt_tag_key, self.now.date_naive())
                {
                    Some(e) => Err(base.clone().with(Status::NotTaken, Detail::ExemptNow(e))),
                    None => Ok(()),
                }
            }
            Err(e) if e.is_no_such_entity() => {
                Err(base.clone().with(Status::AlreadyDone, Detail::Gone(e)))
            }
            Err(e) => Err(base.clone().with(Status::Failed, Detail::TagsUnreadable(e))),
        }
    }

    async fn key(
        &self,
        f: &Finding,
        r: &Record,
        slot: Slot,
        created: Option<DateTime<Utc>>,
        planned: KeyAction,
        timeout: Duration,
    ) -> Outcome {
        let base = Outcome::not_taken(f, Detail::NoKeyCreationTime);
        let Some(created) = created else {
            return base;
        };
        let user = f.user.as_str();
        let keys = match Budget::call(
            timeout,
            "ListAccessKeys",
            self.account.list_access_keys(user),
        )
        .await
        {
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
        // A key to deactivate that is no longer active is already done; a never-used
        // initial-setup key is deleted whether active or inactive.
        let active = key.status == KeyStatus::Active;
        let deletable = planned == KeyAction::Delete && key.status == KeyStatus::Inactive;
        if !active && !deletable {
            return base.with(Status::AlreadyDone, Detail::KeyNotActive(key.status));
        }
        let last_used = match Budget::call(
            timeout,
            "GetAccessKeyLastUsed",
            self.account.access_key_last_used(user, &key.id),
        )
        .await
        {
            Ok(u) => u,
            Err(e) => return base.gone_or_failed(e),
        };
        let Some(action) = recheck::key_action(r, slot, active, last_used, self.policy, self.now)
        else {
            return base.with(Status::SkippedInUse, Detail::KeyUsed(last_used));
        };
        if recheck::live_use_missing(r.access_keys[slot.index()].last_used_date, last_used) {
            return base.with(
                Status::Failed,
                Detail::UseMissing {
                    operation: "GetAccessKeyLastUsed",
                    reported: r.access_keys[slot.index()].last_used_date,
                },
            );
        }
        if let Err(o) = self.still_not_exempt(&base, None, timeout).await {
            return o;
        }
        let result = match action {
            KeyAction::Deactivate => {
                Budget::call(
                    timeout,
                    "UpdateAccessKey",
                    self.account.deactivate_key(user, &key.id),
                )
                .await
            }
            KeyAction::Delete => {
                Budget::call(
                    timeout,
                    "DeleteAccessKey",
                    self.account.delete_key(user, &key.id),
                )
                .await
            }
        };
        match result {
            Ok(()) => base.done(action.action()),
            // The re-check had just seen the key: a delete that now finds it gone was this run's
            // own change whose answer was lost (the SDK retried it).
            Err(e) if e.is_no_such_entity() && action == KeyAction::Delete => {
                base.done_answer_lost(action.action(), e)
            }
            Err(e) if e.is_no_such_entity() => base.gone_or_failed(e),
            Err(e) => {
                let check = Budget::call(
                    timeout,
                    "ListAccessKeys",
                    self.account.list_access_keys(user),
                )
                .await;
                let made = check.as_ref().map(|keys| match action {
                    KeyAction::Delete => keys.iter().all(|k| k.id != key.id),
                    KeyAction::Deactivate => keys
                        .iter()
                        .any(|k| k.id == key.id && k.status == KeyStatus::Inactive),
                });
                self.after_lost_answer(base, action.action(), e, made)
            }
        }
    }

    async fn password(&self, f: &Finding, r: &Record, timeout: Duration) -> Outcome {
        let base = Outcome::not_taken(f, Detail::NoPassword);
        let user = f.user.as_str();
        let profile = match Budget::call(
            timeout,
            "GetLoginProfile",
            self.account.login_profile(user),
        )
        .await
        {
            Ok(Some(created)) => created,
            Ok(None) => return base.with(Status::AlreadyDone, Detail::NoPassword),
            Err(e) => return base.gone_or_failed(e),
        };
        // Password use is read for this user right before acting, never from an earlier list.
        let live = match Budget::call(timeout, "GetUser", self.account.user(user)).await {
            Ok(u) => u,
            Err(e) => return base.gone_or_failed(e),
        };
        let last_used = live.password_last_used;
        if recheck::live_use_missing(r.password_last_used, last_used) {
            return base.with(
                Status::Failed,
                Detail::UseMissing {
                    operation: "GetUser",
                    reported: r.password_last_used,
                },
            );
        }
        if !recheck::password_due(r, last_used, Some(profile), self.policy, self.now) {
            let when = last_used.max(Some(profile));
            return base.with(Status::SkippedInUse, Detail::PasswordUsedOrSet(when));
        }
        if let Err(o) = self.still_not_exempt(&base, Some(live), timeout).await {
            return o;
        }
        let action = Planned::Password.action();
        match Budget::call(
            timeout,
            "DeleteLoginProfile",
            self.account.delete_login_profile(user),
        )
        .await
        {
            Ok(()) => base.done(action),
            // GetLoginProfile had just seen the password: this run deleted it, and its answer
            // was lost.
            Err(e) if e.is_no_such_entity() => base.done_answer_lost(action, e),
            Err(e) => {
                let check =
                    Budget::call(timeout, "GetLoginProfile", self.account.login_profile(user))
                        .await;
                let made = check.as_ref().map(Option::is_none);
                self.after_lost_answer(base, action, e, made)
            }
        }
    }

    /// A change whose answer did not arrive: `made` is what a read right after says (was the
    /// change made?). Made → done (answer lost); not made → failed; unknown → failed, with the
    /// undo command in case it was made.
    fn after_lost_answer(
        &self,
        base: Outcome,
        action: Action,
        error: IamError,
        made: Result<bool, &IamError>,
    ) -> Outcome {
        match made {
            Ok(true) => base.done_answer_lost(action, error),
            Ok(false) => base.with(Status::Failed, Detail::Call(error)),
            Err(check) => {
                let mut o = base.with(
                    Status::Failed,
                    Detail::Unconfirmed {
                        error,
                        check: check.clone(),
                    },
                );
                o.undo = plan::undo_command(action, &o.user, o.access_key_id.as_deref());
                o
            }
        }
    }
}

/// One structured log event per action outcome.
pub fn log_outcome(o: &Outcome) {
    let status: &str = o.status.into();
    let detail = o
        .detail
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    let key = o.access_key_id.as_deref().unwrap_or("");
    let taken = o.taken.map_or("none", |a| a.as_str());
    let undo = o.undo.as_deref().unwrap_or("");
    if o.status == Status::Failed {
        tracing::error!(target: "iam_sweeper::action", user = %o.user, credential = %o.credential, planned = %o.planned, taken, access_key_id = key, status, detail, "action failed");
    } else {
        tracing::info!(target: "iam_sweeper::action", user = %o.user, credential = %o.credential, planned = %o.planned, taken, access_key_id = key, status, detail, undo, "action");
    }
}

/// Outcomes for findings that are planned but not attempted, one per plan entry.
fn not_taken(planned: &[(&Finding, Planned)], why: &Detail) -> Vec<Outcome> {
    planned
        .iter()
        .map(|(f, _)| Outcome::not_taken(f, why.clone()))
        .collect()
}
