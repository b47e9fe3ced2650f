//! The rules: a pure function of (report records, policy, now) to findings.
//!
//! Each rule lives in its own module and only answers "does this credential match, and since
//! when"; this module combines the answers into one finding per credential with the strongest
//! action. Nothing here reads a clock, the environment or the network.

pub mod initial_setup_key;
pub mod root_access_key;
pub mod unused_credentials;

use chrono::{DateTime, Duration, Utc};

use crate::core::cis::CisVersion;
use crate::core::config::{InitialKeyAction, Policy};
use crate::core::finding::{Action, Credential, Exemption, Finding, RuleId, Slot};
use crate::core::report::Record;
use unused_credentials::Activity;

/// Evaluates every credential of every record. Findings come in report order: per user the
/// password, then key 1, then key 2.
pub fn evaluate(records: &[Record], policy: &Policy, now: DateTime<Utc>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for r in records {
        if r.is_root() {
            for slot in Slot::BOTH {
                if root_access_key::matches(r, slot) {
                    findings.push(root_finding(r, slot, policy.cis_version, now));
                }
            }
            continue;
        }
        let exemption = policy
            .exempt_users
            .matching(&r.user)
            .map(|p| Exemption::Name {
                pattern: p.to_string(),
            });
        if let Some(activity) = unused_credentials::password_activity(r) {
            let mut c = Candidate::new(Credential::Password, activity);
            c.unused(
                policy,
                now,
                policy.delete_passwords,
                Action::DeleteLoginProfile,
            );
            findings.extend(c.finish(r, policy, now, &exemption));
        }
        for slot in Slot::BOTH {
            // Unused credentials: active keys only (an inactive key is already disabled).
            // Initial-setup keys: active or inactive.
            let active = r.access_keys[slot.index()].is_active();
            let initial = initial_setup_key::matches(r, slot, policy);
            if !active && !initial {
                continue;
            }
            let Some(activity) = unused_credentials::key_activity(r, slot) else {
                continue;
            };
            let mut c = Candidate::new(Credential::AccessKey(slot), activity);
            if active {
                c.unused(policy, now, policy.disable_keys, Action::DeactivateKey);
            }
            if initial {
                c.rules.push(RuleId::InitialSetupKey);
                let action = match policy.initial_key_action {
                    InitialKeyAction::Delete => Some(Action::DeleteKey),
                    // Nothing to do for a key already inactive.
                    InitialKeyAction::Deactivate => active.then_some(Action::DeactivateKey),
                };
                if let (Some(due), Some(action)) =
                    (initial_setup_key::due_at(r, slot, policy), action)
                {
                    c.schedule(due, action, now);
                }
            }
            findings.extend(c.finish(r, policy, now, &exemption));
        }
    }
    findings
}

/// One credential under evaluation: the rules it matched and the actions that are scheduled.
struct Candidate {
    credential: Credential,
    activity: Activity,
    rules: Vec<RuleId>,
    stale: bool,
    /// The earliest moment an enabled action applies.
    disable_on: Option<DateTime<Utc>>,
    /// The strongest action already due.
    action: Action,
}

impl Candidate {
    fn new(credential: Credential, activity: Activity) -> Self {
        Candidate {
            credential,
            activity,
            rules: Vec::new(),
            stale: false,
            disable_on: None,
            action: Action::None,
        }
    }

    /// Applies `unused-credentials`: stale at `STALE_AFTER_DAYS`, `action` at
    /// `DISABLE_AFTER_DAYS` when its switch is on.
    fn unused(&mut self, policy: &Policy, now: DateTime<Utc>, enabled: bool, action: Action) {
        self.stale = unused_credentials::unused_for(&self.activity, policy.stale_after_days, now);
        if self.stale {
            self.rules.push(RuleId::UnusedCredentials);
        }
        if enabled {
            let due = unused_credentials::reaches(&self.activity, policy.disable_after_days);
            self.schedule(due, action, now);
        }
    }

    /// Records that `action` applies from `due` on.
    fn schedule(&mut self, due: DateTime<Utc>, action: Action, now: DateTime<Utc>) {
        self.disable_on = Some(self.disable_on.map_or(due, |d| d.min(due)));
        if now >= due {
            self.action = self.action.max(action);
        }
    }

    /// The finding, if the credential matched a rule or will be acted on within `WARN_DAYS`.
    fn finish(
        self,
        r: &Record,
        policy: &Policy,
        now: DateTime<Utc>,
        exemption: &Option<Exemption>,
    ) -> Option<Finding> {
        let disable_due = self.disable_on.is_some_and(|d| now >= d);
        let upcoming = !disable_due
            && self
                .disable_on
                .is_some_and(|d| d - now <= Duration::days(i64::from(policy.warn_days)));
        if self.rules.is_empty() && !upcoming {
            return None;
        }
        let mut f = base_finding(r, self.credential, Some(self.activity), now);
        f.controls = policy.cis_version.controls(&self.rules);
        f.rules = self.rules;
        f.stale = self.stale;
        f.disable_due = disable_due;
        f.disable_on = self.disable_on;
        f.upcoming = upcoming;
        f.exempt = exemption.is_some();
        f.exemption = exemption.clone();
        f.action = if f.exempt { Action::None } else { self.action };
        Some(f)
    }
}

fn root_finding(r: &Record, slot: Slot, version: CisVersion, now: DateTime<Utc>) -> Finding {
    let key = &r.access_keys[slot.index()];
    let activity = key
        .last_used_date
        .map(|at| Activity {
            at,
            source: slot_column(slot, "last_used_date"),
        })
        .or_else(|| {
            key.last_rotated.map(|at| Activity {
                at,
                source: slot_column(slot, "last_rotated"),
            })
        });
    let mut f = base_finding(r, Credential::RootAccessKey(slot), activity, now);
    f.rules = vec![RuleId::RootAccessKey];
    f.controls = version.controls(&f.rules);
    f
}

fn slot_column(slot: Slot, suffix: &str) -> &'static str {
    match (slot, suffix) {
        (Slot::One, "last_used_date") => "access_key_1_last_used_date",
        (Slot::Two, "last_used_date") => "access_key_2_last_used_date",
        (Slot::One, _) => "access_key_1_last_rotated",
        (Slot::Two, _) => "access_key_2_last_rotated",
    }
}

fn base_finding(
    r: &Record,
    credential: Credential,
    activity: Option<Activity>,
    now: DateTime<Utc>,
) -> Finding {
    let key = credential.slot().map(|s| &r.access_keys[s.index()]);
    Finding {
        user: r.user.clone(),
        arn: r.arn.clone(),
        credential,
        rules: Vec::new(),
        last_activity: activity.map(|a| a.at),
        last_activity_source: activity.map(|a| a.source),
        idle_days: activity.map(|a| idle_days(a.at, now)),
        stale: false,
        disable_due: false,
        disable_on: None,
        upcoming: false,
        exempt: false,
        exemption: None,
        invalid_exemption: None,
        action: Action::None,
        key_created: key.and_then(|k| k.last_rotated),
        last_used_service: key.and_then(|k| k.last_used_service.clone()),
        last_used_region: key.and_then(|k| k.last_used_region.clone()),
        key_slot: credential.slot().map(Slot::number),
        controls: CisVersion::default().controls(&[]),
        deactivated_since: None,
    }
}

/// Whole days from `at` to `now` (0 when `at` is in the future).
pub fn idle_days(at: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    (now.signed_duration_since(at).num_seconds() / 86_400).max(0)
}
