//! The action plan: which findings enforce mode acts on, and what each action is.
//!
//! A finding's [`Action`] is what the JSON shows; here it becomes a typed plan tied to its
//! credential, so a key action can only be planned for a key and a password action only for a
//! password.

use chrono::{DateTime, Utc};

use crate::core::finding::{Action, Credential, Finding, Slot};

/// What can be done to an access key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum KeyAction {
    /// `UpdateAccessKey Status=Inactive` (reversible).
    Deactivate,
    /// `DeleteAccessKey` (not reversible).
    Delete,
}

impl KeyAction {
    /// The finding-level action this is.
    pub fn action(self) -> Action {
        match self {
            KeyAction::Deactivate => Action::DeactivateKey,
            KeyAction::Delete => Action::DeleteKey,
        }
    }

    /// The key action an [`Action`] names, if it names one.
    pub fn of(action: Action) -> Option<KeyAction> {
        match action {
            Action::DeactivateKey => Some(KeyAction::Deactivate),
            Action::DeleteKey => Some(KeyAction::Delete),
            Action::None | Action::DeleteLoginProfile => None,
        }
    }
}

/// One planned action, tied to its credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Planned {
    /// Deactivate or delete the user's access key in `slot`, created at `created` (the report's
    /// `access_key_N_last_rotated`: how the live re-check finds its ID).
    Key {
        slot: Slot,
        action: KeyAction,
        created: Option<DateTime<Utc>>,
        /// For the deletion of a key this tool deactivated earlier
        /// (`DELETE_DEACTIVATED_AFTER_DAYS`): when the journal says it did.
        deactivated_since: Option<DateTime<Utc>>,
    },
    /// Delete the user's console password (login profile).
    Password,
}

impl Planned {
    /// The plan for a finding: `None` when enforce mode does nothing with it (no action due,
    /// exempt, or a root key, which is never acted on).
    pub fn of(f: &Finding) -> Option<Planned> {
        match (f.credential, f.action) {
            (Credential::AccessKey(slot), action) => {
                KeyAction::of(action).map(|action| Planned::Key {
                    slot,
                    action,
                    created: f.key_created,
                    deactivated_since: f.deactivated_since,
                })
            }
            (Credential::Password, Action::DeleteLoginProfile) => Some(Planned::Password),
            _ => None,
        }
    }

    /// The finding-level action this is.
    pub fn action(self) -> Action {
        match self {
            Planned::Key { action, .. } => action.action(),
            Planned::Password => Action::DeleteLoginProfile,
        }
    }
}

/// The findings enforce mode acts on, in report order, each with its plan.
pub fn plan(findings: &[Finding]) -> Vec<(&Finding, Planned)> {
    findings
        .iter()
        .filter_map(|f| Planned::of(f).map(|p| (f, p)))
        .collect()
}

/// True when more actions are planned than `MAX_ACTIONS` allows: then none is taken.
pub fn over_cap(planned: usize, max_actions: u32) -> bool {
    planned > max_actions as usize
}

/// The command that reverses `action` on `user` (rules.md), for a summary reader to copy.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_actions_map_both_ways() {
        for a in [KeyAction::Deactivate, KeyAction::Delete] {
            assert_eq!(KeyAction::of(a.action()), Some(a));
        }
        assert_eq!(KeyAction::of(Action::DeleteLoginProfile), None);
        assert_eq!(KeyAction::of(Action::None), None);
    }

    #[test]
    fn over_cap_only_when_more_than_the_cap() {
        assert!(!over_cap(25, 25));
        assert!(over_cap(26, 25));
        assert!(over_cap(1, 0));
    }
}
