//! The live re-check, pure half: given what IAM says now, is the planned action still right?
//!
//! The credential report can be four hours old. Before acting, the enforcer reads the live state
//! and hands it here; this module re-runs the very same rules on the report row updated with the
//! live facts, so the re-check can never disagree with the rules about what "unused" means.

use chrono::{DateTime, Utc};

use crate::core::config::Policy;
use crate::core::finding::{Action, Credential, Slot};
use crate::core::plan::KeyAction;
use crate::core::report::Record;
use crate::core::rules;

/// Which live key a report slot refers to. The report has no key IDs; the only link is the key's
/// creation time (`access_key_N_last_rotated` = `CreateDate`), compared to the second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyMatch<T> {
    One(T),
    /// No live key was created at that second: the key was replaced or deleted.
    NoneFound,
    /// Two or more keys share that second: refuse to guess.
    Ambiguous(usize),
}

/// Finds the one live key created at `created` (to the second) among `(key, created)` pairs.
pub fn match_key<T>(
    keys: impl IntoIterator<Item = (T, Option<DateTime<Utc>>)>,
    created: DateTime<Utc>,
) -> KeyMatch<T> {
    let mut found: Vec<T> = keys
        .into_iter()
        .filter(|(_, c)| c.is_some_and(|c| c.timestamp() == created.timestamp()))
        .map(|(k, _)| k)
        .collect();
    match found.len() {
        0 => KeyMatch::NoneFound,
        1 => KeyMatch::One(found.remove(0)),
        n => KeyMatch::Ambiguous(n),
    }
}

/// The action still due for an access key, given its live status and last use. `None` means the
/// key was used since the report (or disabled) and nothing is due any more.
pub fn key_action(
    record: &Record,
    slot: Slot,
    live_active: bool,
    live_last_used: Option<DateTime<Utc>>,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Option<KeyAction> {
    let mut r = record.clone();
    let key = &mut r.access_keys[slot.index()];
    key.active = Some(live_active);
    key.last_used_date = later(key.last_used_date, live_last_used);
    KeyAction::of(action_for(&r, Credential::AccessKey(slot), policy, now))
}

/// True when deleting the console password is still due, given its live last use and the live
/// login profile's creation (a password set again since the report is new).
pub fn password_due(
    record: &Record,
    live_last_used: Option<DateTime<Utc>>,
    profile_created: Option<DateTime<Utc>>,
    policy: &Policy,
    now: DateTime<Utc>,
) -> bool {
    let mut r = record.clone();
    r.password_last_used = later(r.password_last_used, live_last_used);
    r.password_last_changed = later(r.password_last_changed, profile_created);
    action_for(&r, Credential::Password, policy, now) == Action::DeleteLoginProfile
}

/// True when IAM's live answer has no last use although the report shows one: use is never
/// undone, so the answer lost its date on the way and must not read as "never used".
pub fn live_use_missing(reported: Option<DateTime<Utc>>, live: Option<DateTime<Utc>>) -> bool {
    reported.is_some() && live.is_none()
}

fn later(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    a.max(b)
}

fn action_for(r: &Record, credential: Credential, policy: &Policy, now: DateTime<Utc>) -> Action {
    rules::evaluate(std::slice::from_ref(r), policy, now)
        .into_iter()
        .find(|f| f.credential == credential)
        .map_or(Action::None, |f| f.action)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::report::{AccessKeyColumns, parse_timestamp};
    use chrono::Duration;

    fn t(s: &str) -> DateTime<Utc> {
        parse_timestamp(s).unwrap()
    }

    fn record() -> Record {
        Record {
            user: "u".into(),
            arn: "arn:aws:iam::123456789012:user/u".into(),
            user_creation_time: Some(t("2025-01-01T00:00:00Z")),
            password_enabled: Some(true),
            password_last_used: Some(t("2025-02-01T00:00:00Z")),
            password_last_changed: Some(t("2025-01-01T00:00:00Z")),
            password_next_rotation: None,
            mfa_active: Some(false),
            access_keys: [
                AccessKeyColumns {
                    active: Some(true),
                    last_rotated: Some(t("2025-01-01T00:00:02Z")),
                    last_used_date: None,
                    last_used_region: None,
                    last_used_service: None,
                },
                AccessKeyColumns::default(),
            ],
            certs: Default::default(),
        }
    }

    #[test]
    fn matches_keys_to_the_second() {
        let created = t("2025-01-01T00:00:02Z");
        let keys = vec![
            ("A", Some(t("2025-01-01T00:00:02.700Z"))),
            ("B", Some(t("2025-01-01T00:00:03Z"))),
        ];
        assert_eq!(match_key(keys.clone(), created), KeyMatch::One("A"));
        assert_eq!(
            match_key(keys, t("2025-01-01T00:00:04Z")),
            KeyMatch::NoneFound
        );
        let twins = vec![("A", Some(created)), ("B", Some(created))];
        assert_eq!(match_key(twins, created), KeyMatch::Ambiguous(2));
    }

    #[test]
    fn still_unused_keeps_the_action() {
        let now = t("2026-01-01T00:00:00Z");
        assert_eq!(
            key_action(&record(), Slot::One, true, None, &Policy::default(), now),
            Some(KeyAction::Delete)
        );
    }

    #[test]
    fn used_since_the_report_cancels_or_weakens_the_action() {
        let now = t("2026-01-01T00:00:00Z");
        let p = Policy::default();
        // Used an hour ago: nothing is due.
        assert_eq!(
            key_action(
                &record(),
                Slot::One,
                true,
                Some(now - Duration::hours(1)),
                &p,
                now
            ),
            None
        );
        // Used once, long ago: no longer an initial-setup key, but still unused for 90 days.
        assert_eq!(
            key_action(
                &record(),
                Slot::One,
                true,
                Some(now - Duration::days(100)),
                &p,
                now
            ),
            Some(KeyAction::Deactivate)
        );
    }

    #[test]
    fn password_used_or_reset_since_the_report_is_kept() {
        let now = t("2026-01-01T00:00:00Z");
        let p = Policy::default();
        assert!(password_due(&record(), None, None, &p, now));
        assert!(!password_due(
            &record(),
            Some(now - Duration::days(2)),
            None,
            &p,
            now
        ));
        // A never-used password set again since the report is new; a password that was used
        // is judged by its last use, whatever a reset did (CIS).
        let mut never_used = record();
        never_used.password_last_used = None;
        assert!(password_due(&never_used, None, None, &p, now));
        assert!(!password_due(
            &never_used,
            None,
            Some(now - Duration::days(2)),
            &p,
            now
        ));
        assert!(password_due(
            &record(),
            None,
            Some(now - Duration::days(2)),
            &p,
            now
        ));
    }

    #[test]
    fn an_initial_setup_key_found_inactive_is_still_deleted_one_to_deactivate_is_not() {
        let now = t("2026-01-01T00:00:00Z");
        let mut r = record();
        r.password_enabled = Some(true);
        r.user_creation_time = Some(t("2025-01-01T00:00:00Z"));
        assert_eq!(
            key_action(&r, Slot::One, false, None, &Policy::default(), now),
            Some(KeyAction::Delete)
        );
        let deactivate = Policy {
            initial_key_action: crate::core::config::InitialKeyAction::Deactivate,
            ..Policy::default()
        };
        assert_eq!(
            key_action(&r, Slot::One, false, None, &deactivate, now),
            None
        );
    }
}
