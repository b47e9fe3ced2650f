//! Rule `unused-credentials` (CIS "credentials unused for N days or greater are disabled").
//!
//! A credential's age is measured from its last sign of use. A credential that was never used is
//! aged from when it was set, so a key issued last week is a week old, not "never used, so
//! infinitely stale". A password is judged by its last use when there is one, else by when it was
//! last set, else by the user's creation: the CIS audit text, AWS's remediation runbook and the
//! peers agree that a reset does not restart the clock of a password nobody signs in with.

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

/// Last activity of the console password: its last use when that is a date; else when it was
/// last set (never used, or no information); else the user's creation. `None` when the user has
/// no password, or no date at all is known.
pub fn password_activity(r: &Record) -> Option<Activity> {
    if !r.has_password() {
        return None;
    }
    r.password_last_used
        .map(|t| Activity::new(t, "password_last_used"))
        .or_else(|| {
            r.password_last_changed
                .map(|t| Activity::new(t, "password_last_changed"))
        })
        .or_else(|| creation(r))
}

/// Last activity of an access key: its last use; else its creation; else the user's creation.
/// `None` when no date at all is known. (Only active keys are judged unused: an inactive key is
/// already disabled.)
pub fn key_activity(r: &Record, slot: Slot) -> Option<Activity> {
    let key = &r.access_keys[slot.index()];
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
