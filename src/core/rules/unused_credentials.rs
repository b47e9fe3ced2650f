//! Rule `unused-credentials` (CIS "credentials unused for N days or greater are disabled").
//!
//! A credential's age is measured from its last sign of use. A credential that was never used is
//! aged from when it was set, so a key issued last week is a week old, not "never used, so
//! infinitely stale". For passwords the later of last use and last change counts: a password
//! re-issued yesterday to someone who last signed in 200 days ago is one day old.

use chrono::{DateTime, Utc};

use crate::core::finding::Slot;
use crate::core::report::Record;

/// The moment a credential was last used (or set), and the report column that says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Activity {
    pub at: DateTime<Utc>,
    pub source: &'static str,
}

impl Activity {
    fn new(at: DateTime<Utc>, source: &'static str) -> Self {
        Activity { at, source }
    }
}

/// Last activity of the console password: the later of last use and last change; else the user's
/// creation. `None` when the user has no password, or no date at all is known.
pub fn password_activity(r: &Record) -> Option<Activity> {
    if !r.has_password() {
        return None;
    }
    let used = r
        .password_last_used
        .map(|t| Activity::new(t, "password_last_used"));
    let changed = r
        .password_last_changed
        .map(|t| Activity::new(t, "password_last_changed"));
    let latest = match (used, changed) {
        (Some(u), Some(c)) => Some(if c.at > u.at { c } else { u }),
        (u, c) => u.or(c),
    };
    latest.or_else(|| creation(r))
}

/// Last activity of an active access key: its last use; else its creation; else the user's
/// creation. `None` when the key is inactive (already disabled) or no date at all is known.
pub fn key_activity(r: &Record, slot: Slot) -> Option<Activity> {
    let key = &r.access_keys[slot.index()];
    if !key.is_active() {
        return None;
    }
    let (used, rotated) = match slot {
        Slot::One => ("access_key_1_last_used_date", "access_key_1_last_rotated"),
        Slot::Two => ("access_key_2_last_used_date", "access_key_2_last_rotated"),
    };
    key.last_used_date
        .map(|t| Activity::new(t, used))
        .or_else(|| key.last_rotated.map(|t| Activity::new(t, rotated)))
        .or_else(|| creation(r))
}

fn creation(r: &Record) -> Option<Activity> {
    r.user_creation_time
        .map(|t| Activity::new(t, "user_creation_time"))
}

/// Unused for `days` days or more: `now - at >= days * 24h`, compared as a duration.
pub fn unused_for(activity: &Activity, days: u32, now: DateTime<Utc>) -> bool {
    now.signed_duration_since(activity.at) >= chrono::Duration::days(i64::from(days))
}

/// When the credential reaches `days` days unused.
pub fn reaches(activity: &Activity, days: u32) -> DateTime<Utc> {
    activity.at + chrono::Duration::days(i64::from(days))
}
