//! Rule `initial-setup-key` (CIS "do not set up access keys during initial user setup for IAM
//! users that have a console password").
//!
//! The console's user wizard used to offer a key along with the password; such keys tend to be
//! forgotten. A key matches when its user has a console password, it has never been used (active
//! or inactive: CIS says such keys should be deleted, whatever their status), and it was created
//! within `INITIAL_KEY_WINDOW_SECONDS` of the user.

use chrono::{DateTime, Utc};

use crate::core::config::Policy;
use crate::core::finding::Slot;
use crate::core::report::Record;

/// True when the key in `slot` was created at user setup and never used.
pub fn matches(r: &Record, slot: Slot, policy: &Policy) -> bool {
    let key = &r.access_keys[slot.index()];
    let exists = key.active.is_some();
    if !r.has_password() || !exists || key.last_used_date.is_some() {
        return false;
    }
    match (key.last_rotated, r.user_creation_time) {
        (Some(created), Some(user_created)) => {
            let gap = created.signed_duration_since(user_created).abs();
            gap <= chrono::Duration::seconds(i64::from(policy.initial_key_window_seconds))
        }
        _ => false,
    }
}

/// When enforce mode may act on a matching key: once it is `INITIAL_KEY_GRACE_DAYS` old.
pub fn due_at(r: &Record, slot: Slot, policy: &Policy) -> Option<DateTime<Utc>> {
    r.access_keys[slot.index()]
        .last_rotated
        .map(|created| created + chrono::Duration::days(i64::from(policy.initial_key_grace_days)))
}
