//! `undo`: what reversing one journaled run means for each of its actions, given what IAM says
//! now, and the records `undo` writes of its own changes.
//!
//! Pure: the run's journal records ([`Intent`], [`OutcomeRecord`]) and the live facts come in,
//! a typed [`Step`] comes out. The reads and the changes are [`crate::app::undo`]'s.
//!
//! What can be reversed: a deactivated key is set active again (only the same key ID, only while
//! it is still inactive); a deleted console password is re-created (only while the user exists
//! and has none), with a new random password that must be changed at first sign-in. A deleted
//! key cannot come back: its secret is gone.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::core::finding::{Action, Credential};
use crate::core::journal::{Intent, Manifest, OutcomeRecord};
use crate::core::live::{IamError, KeyStatus, LiveKey};
use crate::core::outcome::Status;

/// How sure the journal is that the run made its change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The outcome says done.
    Made,
    /// The outcome says failed, with an undo command: IAM's answer was lost and whether the
    /// change was made could not be confirmed. Checked live like a made one.
    Unconfirmed,
    /// An intent with no outcome: the run stopped (or could not write the outcome) between the
    /// two. Checked live like a made one.
    NoOutcome,
    /// The run did not change the credential (the outcome's status says why).
    NotMade(Status),
}

impl Change {
    /// True when the change was or may have been made.
    pub fn possibly_made(self) -> bool {
        !matches!(self, Change::NotMade(_))
    }
}

/// One action of a run, as its journal records tell it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Journaled {
    /// The action's sequence number in the run.
    pub seq: usize,
    pub user: String,
    pub credential: Credential,
    /// What the run did, or set out to do.
    pub action: Action,
    pub key_id: Option<String>,
    pub change: Change,
    /// When the run made (or attempted) the change.
    pub at: DateTime<Utc>,
}

/// The action `seq` of a run from its intent and outcome records (either may be missing: an
/// intent alone is a change the run may have made; an outcome alone says how it ended).
pub fn journaled(
    seq: usize,
    intent: Option<&Intent>,
    outcome: Option<&OutcomeRecord>,
) -> Option<Journaled> {
    let key_id = outcome
        .and_then(|o| o.access_key_id.clone())
        .or_else(|| intent.and_then(|i| i.access_key_id.clone()));
    match (intent, outcome) {
        (_, Some(o)) => {
            let change = match o.status {
                Status::Done => Change::Made,
                Status::Failed if o.undo.is_some() => Change::Unconfirmed,
                other => Change::NotMade(other),
            };
            Some(Journaled {
                seq,
                user: o.user.clone(),
                credential: o.credential,
                action: o
                    .taken
                    .filter(|_| change == Change::Made)
                    .unwrap_or(o.action),
                key_id,
                change,
                at: o.at,
            })
        }
        (Some(i), None) => Some(Journaled {
            seq,
            user: i.user.clone(),
            credential: i.credential,
            action: i.action,
            key_id,
            change: Change::NoOutcome,
            at: i.at,
        }),
        (None, None) => None,
    }
}

/// The live read a decision needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// None: the journal alone decides.
    Nothing,
    /// The user's access keys (`ListAccessKeys`).
    Keys,
    /// Whether the user exists (`GetUser`) and has a console password (`GetLoginProfile`).
    Password,
}

/// Which live read deciding `j` needs.
pub fn read_needed(j: &Journaled) -> Read {
    if !j.change.possibly_made() {
        return Read::Nothing;
    }
    match j.action {
        Action::DeactivateKey => Read::Keys,
        // A deletion the journal confirms needs no read: nothing can bring the key back.
        Action::DeleteKey if j.change == Change::Made => Read::Nothing,
        Action::DeleteKey => Read::Keys,
        Action::DeleteLoginProfile => Read::Password,
        Action::None => Read::Nothing,
    }
}

/// What IAM says now, as [`read_needed`] asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Live {
    /// Nothing was read.
    NotRead,
    /// The user's access keys.
    Keys(Vec<LiveKey>),
    /// The user exists; its login profile's creation, when it has one.
    Password(Option<DateTime<Utc>>),
    /// The user does not exist (any more).
    UserGone,
}

/// What `undo` does for one action of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Set the key active again (`UpdateAccessKey`).
    Reactivate { key_id: String },
    /// Create a console password that must be changed at first sign-in (`CreateLoginProfile`).
    RecreatePassword,
    /// Nothing to do: the credential is as it was before the run, or the run did not change it.
    Nothing(Settled),
    /// The credential cannot be restored.
    Cannot(Cannot),
}

/// Why nothing needs doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// The run did not change the credential.
    NotChanged(Status),
    /// The key is active again (an earlier undo, or someone else).
    KeyActive,
    /// The user has a console password again (created at that time).
    PasswordPresent(DateTime<Utc>),
    /// The deletion was unconfirmed and the key is still there: it was not deleted.
    KeyNotDeleted { status: String },
    /// The run planned nothing here.
    NoAction,
}

/// Why a credential cannot be restored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cannot {
    /// The run deleted the key: its secret is gone.
    KeyDeleted { key_id: Option<String> },
    /// The key the run deactivated is no longer there (deleted or replaced since).
    KeyGone { key_id: String },
    /// The key is there but neither active nor inactive.
    KeyStatus { key_id: String, status: String },
    /// The user does not exist any more.
    UserGone,
    /// The records name no access key ID, so no key can be identified.
    NoKeyId,
}

/// The step for `j` given what IAM says now (`live`, as [`read_needed`] asked).
pub fn decide(j: &Journaled, live: &Live) -> Step {
    if let Change::NotMade(status) = j.change {
        return Step::Nothing(Settled::NotChanged(status));
    }
    if *live == Live::UserGone {
        return match j.action {
            Action::DeleteKey if j.change == Change::Made => Step::Cannot(Cannot::KeyDeleted {
                key_id: j.key_id.clone(),
            }),
            Action::None => Step::Nothing(Settled::NoAction),
            _ => Step::Cannot(Cannot::UserGone),
        };
    }
    match j.action {
        Action::None => Step::Nothing(Settled::NoAction),
        Action::DeactivateKey => {
            let Some(key_id) = j.key_id.clone() else {
                return Step::Cannot(Cannot::NoKeyId);
            };
            let found = match live {
                Live::Keys(keys) => keys.iter().find(|k| k.id == key_id),
                _ => None,
            };
            match found.map(|k| &k.status) {
                None => Step::Cannot(Cannot::KeyGone { key_id }),
                Some(KeyStatus::Inactive) => Step::Reactivate { key_id },
                Some(KeyStatus::Active) => Step::Nothing(Settled::KeyActive),
                Some(KeyStatus::Other(status)) => Step::Cannot(Cannot::KeyStatus {
                    key_id,
                    status: status.clone(),
                }),
            }
        }
        Action::DeleteKey => {
            let still = match (live, &j.key_id) {
                (Live::Keys(keys), Some(id)) if j.change != Change::Made => {
                    keys.iter().find(|k| &k.id == id)
                }
                _ => None,
            };
            match still {
                Some(k) => Step::Nothing(Settled::KeyNotDeleted {
                    status: k.status.as_str().to_string(),
                }),
                None => Step::Cannot(Cannot::KeyDeleted {
                    key_id: j.key_id.clone(),
                }),
            }
        }
        Action::DeleteLoginProfile => match live {
            Live::Password(Some(created)) => Step::Nothing(Settled::PasswordPresent(*created)),
            Live::Password(None) => Step::RecreatePassword,
            // Never asked without reading: treated as unknown, so nothing is created.
            _ => Step::Cannot(Cannot::UserGone),
        },
    }
}

/// What `undo` found and did: one [`Item`] per action of the run.
#[derive(Debug)]
pub struct Undo {
    pub run_id: String,
    pub account: String,
    /// `s3://bucket/<prefix><account>/runs/<run_id>/`.
    pub place: String,
    /// This undo's ID, when it applied changes (its records are under it).
    pub undo_id: Option<String>,
    pub apply: bool,
    /// One per action of the run (filtered by `--user`), in the run's order.
    pub items: Vec<Item>,
}

impl Undo {
    /// True when everything is restored, would be, or needs nothing: exit status 0.
    pub fn complete(&self) -> bool {
        self.items.iter().all(Item::complete)
    }
}

/// One action of the run and how `undo` ended for it.
#[derive(Debug)]
pub struct Item {
    /// The action's number in the run.
    pub seq: usize,
    /// Empty when no record of the action could be read.
    pub user: String,
    pub credential: Option<Credential>,
    /// What the run did or set out to do.
    pub action: Option<Action>,
    pub key_id: Option<String>,
    pub change: Option<Change>,
    pub end: End,
    /// A record of the undo's own that could not be written after its change (the change
    /// stands).
    pub record_problem: Option<String>,
}

impl Item {
    /// Restored, would be, or nothing to do. A deleted key is listed as not recoverable, with
    /// the way forward, and does not count against this: nothing `undo` could do is left
    /// undone, so a second `--apply` exits 0 like the first.
    pub fn complete(&self) -> bool {
        self.record_problem.is_none()
            && matches!(
                self.end,
                End::Would(_)
                    | End::Nothing(_)
                    | End::Reactivated
                    | End::Recreated(_)
                    | End::Cannot(Cannot::KeyDeleted { .. })
            )
    }
}

/// How `undo` ended for one action.
#[derive(Debug)]
pub enum End {
    /// A dry run: this change would be made ([`Step::Reactivate`] or
    /// [`Step::RecreatePassword`]).
    Would(Step),
    /// Nothing to do.
    Nothing(Settled),
    /// It cannot be restored.
    Cannot(Cannot),
    /// The key is active again.
    Reactivated,
    /// The console password is back, with this one-time password.
    Recreated(Password),
    /// The undo of this action failed; nothing was changed unless the detail says otherwise.
    Failed(Failure),
}

/// Why the undo of one action failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// A record of the run could not be read as the journal's JSON.
    #[error("the run's journal record cannot be read ({0}); nothing was changed")]
    Unreadable(String),
    /// The live read before the decision failed.
    #[error("cannot read the credential's current state ({0}); nothing was changed")]
    Read(IamError),
    /// The undo's intent record could not be written, so the change was not made.
    #[error("the undo's intent record could not be written ({0}); nothing was changed")]
    JournalUnwritable(String),
    /// IAM refused the change.
    #[error("{0}")]
    Change(IamError),
    /// `CreateLoginProfile` met a console password created since the check: someone else's,
    /// or this undo's own whose answer was lost (then nobody was shown it).
    #[error(
        "{error}: a console password appeared since it was checked (someone else's, or this undo's own whose answer was lost and which nobody was shown); if the user cannot sign in, set a new one with `aws iam update-login-profile --user-name {user} --password-reset-required --password <new>`"
    )]
    PasswordExistsNow { user: String, error: IamError },
}

/// A one-time console password: shown once on the terminal, never logged or recorded. Its
/// `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn new(password: String) -> Self {
        Password(password)
    }

    /// The password itself, for the one line that shows it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<hidden>)")
    }
}

/// One journaled run, as `runs` lists it.
#[derive(Debug)]
pub struct RunEntry {
    pub run_id: String,
    /// The manifest, or why it cannot be read.
    pub manifest: Result<Manifest, String>,
}

/// A manifest's counter, 0 when it has none.
pub fn count(m: &Manifest, name: &str) -> u64 {
    m.counts
        .get(name)
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0)
}

/// The change an undo record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UndoChange {
    /// `UpdateAccessKey` to `Active`.
    ReactivateKey,
    /// `CreateLoginProfile` with `PasswordResetRequired` (the password is never recorded).
    CreateLoginProfile,
}

/// Before an undo's change: what is about to be done, to what, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UndoIntent {
    /// This undo's ID (a run ID of its own).
    pub undo_id: String,
    /// The run being undone.
    pub run_id: String,
    /// This record's number within the undo (1, 2, …).
    pub seq: usize,
    /// The action of the run it reverses.
    pub run_seq: usize,
    pub account: String,
    pub at: DateTime<Utc>,
    /// Who ran `undo` (the caller's ARN), when known.
    pub operator: Option<String>,
    pub user: String,
    pub credential: Credential,
    pub access_key_id: Option<String>,
    pub change: UndoChange,
    /// What IAM showed right before (`key Inactive`, `no login profile`).
    pub prior: String,
}

/// How an undo's change ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UndoOutcome {
    pub undo_id: String,
    pub run_id: String,
    pub seq: usize,
    pub run_seq: usize,
    pub at: DateTime<Utc>,
    pub user: String,
    pub credential: Credential,
    pub access_key_id: Option<String>,
    pub change: UndoChange,
    /// `restored` or `failed`.
    pub status: UndoStatus,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UndoStatus {
    Restored,
    Failed,
}

/// The action `(seq, kind)` an object key under a run's `actions/` names, e.g.
/// `…/actions/00003-intent.json` → `(3, Record::Intent)`.
pub fn action_record(key: &str) -> Option<(usize, Record)> {
    let name = key.rsplit('/').next()?;
    let (seq, rest) = name.split_once('-')?;
    let kind = match rest {
        "intent.json" => Record::Intent,
        "outcome.json" => Record::Outcome,
        _ => return None,
    };
    (!seq.is_empty() && seq.bytes().all(|b| b.is_ascii_digit()))
        .then(|| seq.parse().ok().map(|n| (n, kind)))
        .flatten()
}

/// Which of an action's two records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    Intent,
    Outcome,
}

/// The time a run ID starts with (`20261201T020000Z-…`).
pub fn run_time(run_id: &str) -> Option<DateTime<Utc>> {
    let (stamp, _) = run_id.split_once('-')?;
    DateTime::parse_from_str(&format!("{stamp}+0000"), "%Y%m%dT%H%M%SZ%z")
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// `runs --since`: a date (`2026-12-01`, from its midnight UTC) or an RFC 3339 time.
pub fn parse_since(s: &str) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            format!("`{s}` is not a date (2026-12-01) or an RFC 3339 time (2026-12-01T02:00:00Z)")
        })
}

/// Whether a generated console password has what common password policies ask for: at least
/// 20 characters, with upper- and lowercase letters, digits and symbols.
pub fn strong_enough(password: &str) -> bool {
    password.chars().count() >= 20
        && password.chars().any(|c| c.is_ascii_uppercase())
        && password.chars().any(|c| c.is_ascii_lowercase())
        && password.chars().any(|c| c.is_ascii_digit())
        && password.chars().any(|c| c.is_ascii_punctuation())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::finding::Slot;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().expect("a time")
    }

    fn j(action: Action, change: Change) -> Journaled {
        Journaled {
            seq: 1,
            user: "alice".into(),
            credential: if action == Action::DeleteLoginProfile {
                Credential::Password
            } else {
                Credential::AccessKey(Slot::One)
            },
            action,
            key_id: Some("AKIA1".into()),
            change,
            at: t("2026-12-01T02:00:00Z"),
        }
    }

    fn key(id: &str, status: KeyStatus) -> LiveKey {
        LiveKey {
            id: id.into(),
            status,
            created: None,
        }
    }

    #[test]
    fn a_deactivated_key_comes_back_only_if_the_same_key_is_still_inactive() {
        let d = j(Action::DeactivateKey, Change::Made);
        assert_eq!(read_needed(&d), Read::Keys);
        let live = |k| Live::Keys(vec![k]);
        assert_eq!(
            decide(&d, &live(key("AKIA1", KeyStatus::Inactive))),
            Step::Reactivate {
                key_id: "AKIA1".into()
            }
        );
        assert_eq!(
            decide(&d, &live(key("AKIA1", KeyStatus::Active))),
            Step::Nothing(Settled::KeyActive)
        );
        assert_eq!(
            decide(&d, &live(key("AKIA2", KeyStatus::Inactive))),
            Step::Cannot(Cannot::KeyGone {
                key_id: "AKIA1".into()
            })
        );
        assert_eq!(decide(&d, &Live::UserGone), Step::Cannot(Cannot::UserGone));
        let unconfirmed = j(Action::DeactivateKey, Change::Unconfirmed);
        assert_eq!(
            decide(&unconfirmed, &live(key("AKIA1", KeyStatus::Inactive))),
            Step::Reactivate {
                key_id: "AKIA1".into()
            }
        );
    }

    #[test]
    fn deleted_keys_are_not_recoverable_and_passwords_come_back_once() {
        let del = j(Action::DeleteKey, Change::Made);
        assert_eq!(read_needed(&del), Read::Nothing);
        assert!(matches!(
            decide(&del, &Live::NotRead),
            Step::Cannot(Cannot::KeyDeleted { .. })
        ));
        let maybe = j(Action::DeleteKey, Change::Unconfirmed);
        assert_eq!(read_needed(&maybe), Read::Keys);
        assert!(matches!(
            decide(&maybe, &Live::Keys(vec![key("AKIA1", KeyStatus::Active)])),
            Step::Nothing(Settled::KeyNotDeleted { .. })
        ));
        let pw = j(Action::DeleteLoginProfile, Change::Made);
        assert_eq!(read_needed(&pw), Read::Password);
        assert_eq!(decide(&pw, &Live::Password(None)), Step::RecreatePassword);
        let at = t("2026-12-02T00:00:00Z");
        assert_eq!(
            decide(&pw, &Live::Password(Some(at))),
            Step::Nothing(Settled::PasswordPresent(at))
        );
        assert_eq!(decide(&pw, &Live::UserGone), Step::Cannot(Cannot::UserGone));
        let skipped = j(
            Action::DeleteLoginProfile,
            Change::NotMade(Status::SkippedInUse),
        );
        assert_eq!(read_needed(&skipped), Read::Nothing);
        assert_eq!(
            decide(&skipped, &Live::NotRead),
            Step::Nothing(Settled::NotChanged(Status::SkippedInUse))
        );
    }

    #[test]
    fn a_password_never_shows_in_debug_output() {
        let p = Password::new("Secret-Value-123456789!".into());
        assert!(!format!("{p:?}").contains("Secret"));
        assert_eq!(p.expose(), "Secret-Value-123456789!");
    }

    #[test]
    fn record_names_run_times_and_since() {
        assert_eq!(
            action_record("j/1/runs/R/actions/00012-outcome.json"),
            Some((12, Record::Outcome))
        );
        assert_eq!(action_record("j/1/runs/R/manifest.json"), None);
        assert_eq!(action_record("j/1/runs/R/actions/x-intent.json"), None);
        assert_eq!(
            run_time("20261201T020304Z-0000abcd"),
            Some(t("2026-12-01T02:03:04Z"))
        );
        assert_eq!(run_time("nonsense"), None);
        assert_eq!(parse_since("2026-12-01"), Ok(t("2026-12-01T00:00:00Z")));
        assert_eq!(
            parse_since("2026-12-01T03:00:00+01:00"),
            Ok(t("2026-12-01T02:00:00Z"))
        );
        assert!(parse_since("yesterday").is_err());
        assert!(strong_enough("Abcdefghij0123456789!"));
        assert!(!strong_enough("abcdefghij0123456789!"));
    }
}
