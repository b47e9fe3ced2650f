//! Rule `root-access-key`: the root user has an active access key.
//!
//! The root user's keys cannot be managed by the function's role (and must not be), so this rule
//! only reports: its findings never carry an action.

use crate::core::finding::Slot;
use crate::core::report::Record;

/// True when `r` is the root row and its key in `slot` is active.
pub fn matches(r: &Record, slot: Slot) -> bool {
    r.is_root() && r.access_keys[slot.index()].is_active()
}
