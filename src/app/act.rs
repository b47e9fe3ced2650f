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
use crate::app::journal::{self as journal_io, Journal};
use crate::app::ports::{IamActions, IamError, IamReads, KeyStatus, LiveUser, ObjectStore};
use crate::core::config::{Mode, Policy};
use crate::core::exemption;
use crate::core::finding::{Action, Finding, Slot};
use crate::core::journal::{self, Intent, KeyEvent, KeyEventKind, OutcomeRecord, Quarantine};
use crate::core::outcome::{Detail, Outcome, Status};
use crate::core::plan::{self, KeyAction, Planned};
use crate::core::recheck::{self, KeyMatch};
use crate::core::report::Record;
use crate::core::run::{Problem, TagError};

/// What the journal gives the action phase: where to write, and each key's latest event (read
/// once, when quarantine or deletion after deactivation needs it; `Err` when it could not be).
pub struct Journaling<'j, A> {
    pub journal: &'j Journal<'j, A>,
    pub history: Option<Result<HashMap<String, KeyEvent>, String>>,
}

/// The action phase: one outcome per planned action, in report order.
#[allow(clippy::too_many_arguments)]
pub async fn act<A: IamReads + IamActions + ObjectStore>(
    account: &A,
    settings: &Settings,
    policy: &Policy,
    records: &[Record],
    findings: &[Finding],
    tag_errors: &[TagError],
    now: DateTime<Utc>,
    deadline: Option<Instant>,
    journaling: Option<&Journaling<'_, A>>,
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
        journaling,
        quarantine_days: settings.runtime.quarantine_days,
        delete_deactivated_after_days: settings.runtime.delete_deactivated_after_days,
        journal_problems: RefCell::new(Vec::new()),
    };
    let mut done = enforcer.run(work).await.into_iter();
    // A user found exempt right before its action is an exemption, not an action: reported as
    // an exempt finding (the tag value comes back in `tag_values`), with no outcome.
    let outcomes = outcomes
        .into_iter()
        .map(|o| o.or_else(|| done.next()).unwrap_or_else(Outcome::missing))
        .filter(|o| !matches!(o.detail, Some(Detail::ExemptNow(_))))
        .collect();
    let journal_problems = enforcer.journal_problems.take();
    if let Some(first) = journal_problems.first() {
        problems.push(Problem::Journal(format!(
            "{} record(s) of actions taken could not be written, the first: {first}",
            journal_problems.len()
        )));
    }
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

/// What the re-check decided for a key.
enum KeyDecision {
    /// Take `action`; `true` when quarantine turned a deletion into it.
    Act(KeyAction, bool),
    /// Take nothing, for this reason.
    Skip(Status, Detail),
}

/// One tag read right before an action.
enum TagRead {
    /// The user's exemption tag value, if the user has the tag.
    Value(String, Option<String>),
    Error(TagError),
}

/// What the enforcer needs besides the findings.
struct Enforcer<'a, A> {
    /// The journal, when one is configured: an intent before each change, its outcome after.
    journaling: Option<&'a Journaling<'a, A>>,
    quarantine_days: u32,
    delete_deactivated_after_days: Option<u32>,
    /// Outcome and key-event records that could not be written (the change stands).
    journal_problems: RefCell<Vec<String>>,
    account: &'a A,
    /// What the tag reads right before each action found, for the report.
    seen: RefCell<Vec<TagRead>>,
    policy: &'a Policy,
    now: DateTime<Utc>,
    concurrency: usize,
    /// What fits before the Lambda deadline.
    budget: Budget,
}

impl<A: IamReads + IamActions + ObjectStore> Enforcer<'_, A> {
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
        let calls = CALLS_PER_ACTION
            + if self.journaling.is_some() {
                journal_io::CALLS_PER_ACTION
            } else {
                0
            };
        let Some(timeout) = self.budget.call_timeout(calls) else {
            let o = Outcome::not_taken(f, Detail::Deadline);
            log_outcome(&o);
            return o;
        };
        let outcome = match p {
            Planned::Key {
                slot,
                created,
                action,
                deactivated_since,
            } => {
                self.key(f, r, slot, created, action, deactivated_since, timeout)
                    .await
            }
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

    #[allow(clippy::too_many_arguments)]
    async fn key(
        &self,
        f: &Finding,
        r: &Record,
        slot: Slot,
        created: Option<DateTime<Utc>>,
        planned: KeyAction,
        deactivated_since: Option<DateTime<Utc>>,
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
        let (action, quarantined) =
            match self.key_decision(r, slot, &key, active, last_used, deactivated_since) {
                KeyDecision::Act(action, quarantined) => (action, quarantined),
                KeyDecision::Skip(status, detail) => return base.with(status, detail),
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
        let report_key = &r.access_keys[slot.index()];
        let mut reasons: Vec<String> = f.rules.iter().map(|r| r.as_str().to_string()).collect();
        if quarantined {
            reasons.push("quarantine: deactivated instead of deleted (QUARANTINE_DAYS)".into());
        }
        if let Some(since) = deactivated_since {
            reasons.push(format!(
                "deactivated by this tool on {} and inactive since (DELETE_DEACTIVATED_AFTER_DAYS)",
                since.to_rfc3339()
            ));
        }
        let intent = self.intent(f, action.action(), reasons, |i| {
            i.access_key_id = Some(key.id.clone());
            i.key_status = Some(key.status.as_str().to_string());
            i.key_created = key.created;
            i.key_last_used = last_used;
            i.key_last_used_service = report_key.last_used_service.clone();
            i.key_last_used_region = report_key.last_used_region.clone();
        });
        let intent = match self.write_intent(intent, timeout).await {
            Ok(i) => i,
            Err(e) => return base.with(Status::Failed, Detail::JournalUnwritable(e)),
        };
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
        let mut outcome = match result {
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
        };
        if quarantined && outcome.status == Status::Done && outcome.detail.is_none() {
            outcome.detail = Some(Detail::Quarantined {
                delete_after: self.now + chrono::Duration::days(i64::from(self.quarantine_days)),
            });
        }
        self.record_outcome(intent, &outcome, timeout).await;
        outcome
    }

    /// What to do with a key the re-check found: `Ok((action, quarantined))`, or why nothing is
    /// done. The rules decide, then quarantine may turn a deletion into a deactivation; a key
    /// this tool deactivated earlier is deleted only if inactive and unused since.
    fn key_decision(
        &self,
        r: &Record,
        slot: Slot,
        key: &crate::app::ports::LiveKey,
        active: bool,
        last_used: Option<DateTime<Utc>>,
        deactivated_since: Option<DateTime<Utc>>,
    ) -> KeyDecision {
        let used =
            |t: DateTime<Utc>| KeyDecision::Skip(Status::SkippedInUse, Detail::KeyUsed(Some(t)));
        if let Some(since) = deactivated_since {
            if active {
                return KeyDecision::Skip(Status::NotTaken, Detail::Reactivated);
            }
            let days = self.delete_deactivated_after_days.unwrap_or(0);
            return match journal::after_deactivation(since, last_used, days, self.now) {
                Quarantine::Delete => KeyDecision::Act(KeyAction::Delete, false),
                Quarantine::UsedSince(t) => used(t),
                Quarantine::Wait { since, until } => {
                    KeyDecision::Skip(Status::NotTaken, Detail::QuarantineWait { since, until })
                }
                Quarantine::Deactivate | Quarantine::NotOurs => {
                    KeyDecision::Skip(Status::NotTaken, Detail::QuarantineNotOurs)
                }
            };
        }
        let Some(action) = recheck::key_action(r, slot, active, last_used, self.policy, self.now)
        else {
            return KeyDecision::Skip(Status::SkippedInUse, Detail::KeyUsed(last_used));
        };
        if action != KeyAction::Delete || self.quarantine_days == 0 {
            return KeyDecision::Act(action, false);
        }
        let history = self.journaling.and_then(|j| j.history.as_ref());
        match history {
            // Quarantine without a journal is refused by the configuration; nothing is deleted.
            None => KeyDecision::Skip(Status::NotTaken, Detail::QuarantineNotOurs),
            // Deactivating is reversible and safe whatever the journal says; deleting is not.
            Some(Err(_)) if active => KeyDecision::Act(KeyAction::Deactivate, true),
            Some(Err(e)) => {
                KeyDecision::Skip(Status::NotTaken, Detail::JournalUnreadable(e.clone()))
            }
            Some(Ok(h)) => match journal::quarantine(
                active,
                h.get(&key.id),
                last_used,
                self.quarantine_days,
                self.now,
            ) {
                Quarantine::Deactivate => KeyDecision::Act(KeyAction::Deactivate, true),
                Quarantine::Delete => KeyDecision::Act(KeyAction::Delete, false),
                Quarantine::Wait { since, until } => {
                    KeyDecision::Skip(Status::NotTaken, Detail::QuarantineWait { since, until })
                }
                Quarantine::NotOurs => {
                    KeyDecision::Skip(Status::NotTaken, Detail::QuarantineNotOurs)
                }
                Quarantine::UsedSince(t) => used(t),
            },
        }
    }

    /// The intent record of an action about to be taken (filled in by `fill`), when a journal
    /// is configured.
    fn intent(
        &self,
        f: &Finding,
        action: Action,
        reasons: Vec<String>,
        fill: impl FnOnce(&mut Intent),
    ) -> Option<Intent> {
        let j = self.journaling?.journal;
        let mut i = Intent {
            run_id: j.run_id().to_string(),
            seq: j.next_seq(),
            account: j.account().to_string(),
            at: self.now,
            user: f.user.clone(),
            arn: f.arn.clone(),
            credential: f.credential,
            access_key_id: None,
            key_status: None,
            key_created: None,
            key_last_used: None,
            key_last_used_service: None,
            key_last_used_region: None,
            login_profile_created: None,
            password_last_used: None,
            action,
            reasons,
        };
        fill(&mut i);
        Some(i)
    }

    /// Writes the intent before the change: `Err` (and no change) when it cannot be written.
    async fn write_intent(
        &self,
        intent: Option<Intent>,
        timeout: Duration,
    ) -> Result<Option<Intent>, String> {
        let (Some(j), Some(i)) = (self.journaling, intent) else {
            return Ok(None);
        };
        match j.journal.intent(&i, timeout).await {
            Ok(()) => Ok(Some(i)),
            Err(e) => {
                tracing::error!(target: "iam_sweeper::journal", user = %i.user, credential = %i.credential, error = %e, "intent not written; action not taken");
                Err(e.to_string())
            }
        }
    }

    /// Writes how the change ended, and what it did to the key (for quarantine and
    /// `DELETE_DEACTIVATED_AFTER_DAYS`). A record that cannot be written is a run problem; the
    /// change stands.
    async fn record_outcome(&self, intent: Option<Intent>, o: &Outcome, timeout: Duration) {
        let (Some(j), Some(i)) = (self.journaling, intent) else {
            return;
        };
        let record = OutcomeRecord {
            run_id: i.run_id.clone(),
            seq: i.seq,
            at: self.now,
            user: o.user.clone(),
            credential: o.credential,
            access_key_id: o.access_key_id.clone(),
            action: i.action,
            status: o.status,
            taken: o.taken,
            detail: o.detail.as_ref().map(ToString::to_string),
            undo: o.undo.clone(),
        };
        if let Err(e) = j.journal.outcome(&record, timeout).await {
            self.journal_problems.borrow_mut().push(e.to_string());
        }
        let kind = match (o.status, o.taken) {
            (Status::Done, Some(Action::DeactivateKey)) => KeyEventKind::Deactivated,
            (Status::Done, Some(Action::DeleteKey)) => KeyEventKind::Deleted,
            _ => return,
        };
        let Some(key_id) = o.access_key_id.clone() else {
            return;
        };
        let event = KeyEvent {
            user: o.user.clone(),
            key_id,
            at: self.now,
            event: kind,
            run_id: i.run_id.clone(),
        };
        if let Err(e) = j.journal.key_event(&event, &i, timeout).await {
            self.journal_problems.borrow_mut().push(e.to_string());
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
        let reasons = f.rules.iter().map(|r| r.as_str().to_string()).collect();
        let intent = self.intent(f, action, reasons, |i| {
            i.login_profile_created = Some(profile);
            i.password_last_used = last_used;
        });
        let intent = match self.write_intent(intent, timeout).await {
            Ok(i) => i,
            Err(e) => return base.with(Status::Failed, Detail::JournalUnwritable(e)),
        };
        let outcome = match Budget::call(
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
        };
        self.record_outcome(intent, &outcome, timeout).await;
        outcome
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
