//! The write-ahead journal: what a run is about to change, what came of it, and the run's
//! manifest, as write-once JSON objects in S3 (`JOURNAL_BUCKET`).
//!
//! Pure: the object keys, the records, and the decisions that read the journal back
//! (quarantine, delete after deactivation). The writes are [`crate::app::journal`]'s.
//!
//! Layout under `JOURNAL_PREFIX`, one tree per account:
//!
//! ```text
//! <prefix><account>/runs/<run_id>/manifest.json              the run: mode, settings, counts
//! <prefix><account>/runs/<run_id>/actions/<seq>-intent.json  before a change: prior state, plan
//! <prefix><account>/runs/<run_id>/actions/<seq>-outcome.json after it: status, detail, undo
//! <prefix><account>/keys/<user>/<key_id>/<time>-<event>-<run_id>.json
//!                                                            what this tool did to a key
//! <prefix><account>/owner-mail/<user>/<credential>/<due>/<stage>.json
//!                                                            a mail sent to the owner
//! <prefix><account>/undo/<run_id>/<undo_id>/<seq>-intent.json  `undo` of a run: before a change
//! <prefix><account>/undo/<run_id>/<undo_id>/<seq>-outcome.json after it
//! ```
//!
//! Run IDs start with the run's UTC time, so S3's order is time order.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::core::finding::{Action, Credential};
use crate::core::outcome::Status;

/// The time format of run IDs and key events (sorts as it reads).
const STAMP: &str = "%Y%m%dT%H%M%SZ";

/// A run's ID: `<UTC time>-<8 hex digits>`, e.g. `20261201T020000Z-1a2b3c4d`.
pub fn run_id(started: DateTime<Utc>, entropy: u32) -> String {
    format!("{}-{entropy:08x}", started.format(STAMP))
}

/// True for a string [`run_id`] could have made (what `undo` accepts before reading S3).
pub fn is_run_id(s: &str) -> bool {
    let Some((time, hex)) = s.split_once('-') else {
        return false;
    };
    DateTime::parse_from_str(&format!("{time}+0000"), "%Y%m%dT%H%M%SZ%z").is_ok()
        && hex.len() == 8
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Where one account's journal lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The bucket's key prefix for this account: `<prefix><account>/`.
    root: String,
}

impl Layout {
    /// `prefix` ends with `/` or is empty.
    pub fn new(prefix: &str, account: &str) -> Self {
        Layout {
            root: format!("{prefix}{account}/"),
        }
    }

    pub fn runs(&self) -> String {
        format!("{}runs/", self.root)
    }

    pub fn run(&self, run_id: &str) -> String {
        format!("{}runs/{run_id}/", self.root)
    }

    pub fn manifest(&self, run_id: &str) -> String {
        format!("{}manifest.json", self.run(run_id))
    }

    pub fn intent(&self, run_id: &str, seq: usize) -> String {
        format!("{}actions/{seq:05}-intent.json", self.run(run_id))
    }

    pub fn outcome(&self, run_id: &str, seq: usize) -> String {
        format!("{}actions/{seq:05}-outcome.json", self.run(run_id))
    }

    pub fn keys(&self) -> String {
        format!("{}keys/", self.root)
    }

    /// `undo`'s records of one undo (`undo_id`) of run `run_id`.
    pub fn undo_intent(&self, run_id: &str, undo_id: &str, seq: usize) -> String {
        format!("{}undo/{run_id}/{undo_id}/{seq:05}-intent.json", self.root)
    }

    pub fn undo_outcome(&self, run_id: &str, undo_id: &str, seq: usize) -> String {
        format!("{}undo/{run_id}/{undo_id}/{seq:05}-outcome.json", self.root)
    }

    pub fn key_event(&self, e: &KeyEvent) -> String {
        format!(
            "{}keys/{}/{}/{}-{}-{}.json",
            self.root,
            e.user,
            e.key_id,
            e.at.format(STAMP),
            e.event.as_str(),
            e.run_id
        )
    }

    pub fn owner_mail(
        &self,
        user: &str,
        credential: Credential,
        due: NaiveDate,
        stage: MailStage,
    ) -> String {
        format!(
            "{}owner-mail/{user}/{credential}/{due}/{}.json",
            self.root,
            stage.as_str()
        )
    }

    /// The run ID of a manifest's key, if `key` is one.
    pub fn run_of_manifest<'k>(&self, key: &'k str) -> Option<&'k str> {
        key.strip_prefix(self.runs().as_str())?
            .strip_suffix("/manifest.json")
            .filter(|id| !id.contains('/'))
    }

    /// The key event a key under [`Layout::keys`] names.
    pub fn parse_key_event(&self, key: &str) -> Option<KeyEvent> {
        let rest = key.strip_prefix(self.keys().as_str())?;
        let mut parts = rest.splitn(3, '/');
        let (user, key_id, name) = (parts.next()?, parts.next()?, parts.next()?);
        let name = name.strip_suffix(".json")?;
        let (stamp, rest) = name.split_once('-')?;
        let (event, run_id) = rest.split_once('-')?;
        let at = DateTime::parse_from_str(&format!("{stamp}+0000"), "%Y%m%dT%H%M%SZ%z").ok()?;
        Some(KeyEvent {
            user: user.to_string(),
            key_id: key_id.to_string(),
            at: at.with_timezone(&Utc),
            event: KeyEventKind::parse(event)?,
            run_id: run_id.to_string(),
        })
    }
}

/// What this tool did to an access key, as one journal object (its name carries everything).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEvent {
    pub user: String,
    pub key_id: String,
    pub at: DateTime<Utc>,
    pub event: KeyEventKind,
    pub run_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyEventKind {
    /// This tool set the key inactive (stale, or quarantined instead of deleted).
    Deactivated,
    /// `undo` set it active again.
    Reactivated,
    /// This tool deleted it.
    Deleted,
}

impl KeyEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyEventKind::Deactivated => "deactivated",
            KeyEventKind::Reactivated => "reactivated",
            KeyEventKind::Deleted => "deleted",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "deactivated" => KeyEventKind::Deactivated,
            "reactivated" => KeyEventKind::Reactivated,
            "deleted" => KeyEventKind::Deleted,
            _ => return None,
        })
    }
}

/// Each key's latest event, by key ID (events of one key sort by time).
pub fn latest_events(events: impl IntoIterator<Item = KeyEvent>) -> HashMap<String, KeyEvent> {
    let mut latest: HashMap<String, KeyEvent> = HashMap::new();
    for e in events {
        match latest.get(&e.key_id) {
            Some(seen) if seen.at >= e.at => {}
            _ => {
                latest.insert(e.key_id.clone(), e);
            }
        }
    }
    latest
}

/// Before a change: the credential's state as the live re-check saw it, and what is about to be
/// done and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    pub run_id: String,
    pub seq: usize,
    pub account: String,
    pub at: DateTime<Utc>,
    pub user: String,
    pub arn: String,
    pub credential: Credential,
    pub access_key_id: Option<String>,
    /// `Active` / `Inactive` as IAM said right before.
    pub key_status: Option<String>,
    pub key_created: Option<DateTime<Utc>>,
    pub key_last_used: Option<DateTime<Utc>>,
    pub key_last_used_service: Option<String>,
    pub key_last_used_region: Option<String>,
    pub login_profile_created: Option<DateTime<Utc>>,
    pub password_last_used: Option<DateTime<Utc>>,
    pub action: Action,
    /// The rules (and stage) that call for it.
    pub reasons: Vec<String>,
}

/// After a change: how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeRecord {
    pub run_id: String,
    pub seq: usize,
    pub at: DateTime<Utc>,
    pub user: String,
    pub credential: Credential,
    pub access_key_id: Option<String>,
    pub action: Action,
    pub status: Status,
    /// What was done, when anything was.
    pub taken: Option<Action>,
    pub detail: Option<String>,
    pub undo: Option<String>,
}

/// The run, written at its end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub run_id: String,
    pub account: String,
    pub mode: String,
    pub started: DateTime<Utc>,
    pub finished: DateTime<Utc>,
    /// The policy the run applied (the audit JSON's `policy`).
    pub settings: serde_json::Value,
    /// The run's counters, by name.
    pub counts: serde_json::Map<String, serde_json::Value>,
    /// How many intent records the run wrote.
    pub intents: usize,
    pub problems: Vec<String>,
}

/// A stage of owner mail: at most one mail per credential per stage per due date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailStage {
    /// The credential entered the `WARN_DAYS` window before its action.
    Upcoming,
    /// The action is due tomorrow.
    LastNotice,
    /// The action was taken.
    Acted,
}

impl MailStage {
    pub fn as_str(self) -> &'static str {
        match self {
            MailStage::Upcoming => "upcoming",
            MailStage::LastNotice => "last-notice",
            MailStage::Acted => "acted",
        }
    }
}

/// What to do with a key due for deletion while quarantine is on (`QUARANTINE_DAYS` > 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Quarantine {
    /// Still active: deactivate it now; the quarantine starts.
    Deactivate,
    /// Deactivated by this tool long enough ago, inactive and unused since: delete it.
    Delete,
    /// Deactivated by this tool, but not long enough ago: delete on or after `until`.
    Wait {
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    },
    /// Inactive, but the journal does not show this tool deactivated it (or it was reactivated
    /// since): never deleted under quarantine.
    NotOurs,
    /// Used after this tool deactivated it: left alone.
    UsedSince(DateTime<Utc>),
}

/// The quarantine step for a key: `active` is its live status, `latest` the journal's latest
/// event for its ID, `last_used` its live last use.
pub fn quarantine(
    active: bool,
    latest: Option<&KeyEvent>,
    last_used: Option<DateTime<Utc>>,
    days: u32,
    now: DateTime<Utc>,
) -> Quarantine {
    if active {
        return Quarantine::Deactivate;
    }
    match latest {
        Some(e) if e.event == KeyEventKind::Deactivated => {
            after_deactivation(e.at, last_used, days, now)
        }
        _ => Quarantine::NotOurs,
    }
}

/// A key this tool deactivated at `since`: due for deletion `days` later if unused since.
pub fn after_deactivation(
    since: DateTime<Utc>,
    last_used: Option<DateTime<Utc>>,
    days: u32,
    now: DateTime<Utc>,
) -> Quarantine {
    if let Some(used) = last_used.filter(|u| *u > since) {
        return Quarantine::UsedSince(used);
    }
    let until = since + chrono::Duration::days(i64::from(days));
    if now >= until {
        Quarantine::Delete
    } else {
        Quarantine::Wait { since, until }
    }
}

/// The finding that deletes a key this tool deactivated at `since` (its intent record `i`),
/// when the report still shows it inactive in the same slot (created at the same second):
/// `DELETE_DEACTIVATED_AFTER_DAYS`'s second stage. A user `EXEMPT_USERS` names keeps the key.
pub fn follow_up(
    r: &crate::core::report::Record,
    i: &Intent,
    since: DateTime<Utc>,
    exempt: &crate::core::exemption::ExemptUsers,
) -> Option<crate::core::finding::Finding> {
    use crate::core::finding::{Finding, RuleId, Slot};
    let created = i.key_created?.timestamp();
    let slot = Slot::BOTH.into_iter().find(|s| {
        let k = &r.access_keys[s.index()];
        k.active == Some(false) && k.last_rotated.map(|t| t.timestamp()) == Some(created)
    })?;
    let mut f = Finding::blank(&r.user, &r.arn, Credential::AccessKey(slot));
    let k = &r.access_keys[slot.index()];
    f.rules = vec![RuleId::UnusedCredentials];
    f.stale = true;
    f.disable_due = true;
    f.key_created = k.last_rotated;
    f.last_used_service = k.last_used_service.clone();
    f.last_used_region = k.last_used_region.clone();
    f.last_activity = k.last_used_date.or(k.last_rotated);
    f.deactivated_since = Some(since);
    match exempt.matching(&r.user) {
        Some(pattern) => {
            f.exempt = true;
            f.exemption = Some(crate::core::finding::Exemption::Name {
                pattern: pattern.to_string(),
            });
        }
        None => f.action = Action::DeleteKey,
    }
    Some(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().expect("a time")
    }

    #[test]
    fn run_ids_sort_by_time_and_parse() {
        let a = run_id(t("2026-12-01T02:00:00Z"), 0xdead_beef);
        assert_eq!(a, "20261201T020000Z-deadbeef");
        assert!(is_run_id(&a));
        assert!(!is_run_id("20261201T020000Z-xyz"));
        assert!(!is_run_id("../etc"));
        assert!(run_id(t("2026-12-02T00:00:00Z"), 0) > a);
    }

    #[test]
    fn key_events_round_trip_through_their_object_key() {
        let l = Layout::new("journal/", "123456789012");
        let e = KeyEvent {
            user: "alice".into(),
            key_id: "AKIAEXAMPLE".into(),
            at: t("2026-12-01T02:03:04Z"),
            event: KeyEventKind::Deactivated,
            run_id: "20261201T020000Z-00000001".into(),
        };
        let key = l.key_event(&e);
        assert_eq!(
            key,
            "journal/123456789012/keys/alice/AKIAEXAMPLE/20261201T020304Z-deactivated-20261201T020000Z-00000001.json"
        );
        assert_eq!(l.parse_key_event(&key), Some(e));
        assert_eq!(l.parse_key_event("journal/123456789012/keys/x.json"), None);
        assert_eq!(
            l.run_of_manifest("journal/123456789012/runs/R1/manifest.json"),
            Some("R1")
        );
        assert_eq!(
            l.run_of_manifest("journal/123456789012/runs/R1/actions/00001-intent.json"),
            None
        );
    }

    #[test]
    fn the_latest_event_of_each_key_wins() {
        let e = |at: &str, event| KeyEvent {
            user: "u".into(),
            key_id: "K".into(),
            at: t(at),
            event,
            run_id: "r".into(),
        };
        let latest = latest_events([
            e("2026-01-02T00:00:00Z", KeyEventKind::Reactivated),
            e("2026-01-01T00:00:00Z", KeyEventKind::Deactivated),
        ]);
        assert_eq!(latest["K"].event, KeyEventKind::Reactivated);
    }

    #[test]
    fn quarantine_deletes_only_what_this_tool_deactivated_long_enough_ago() {
        let now = t("2026-12-31T00:00:00Z");
        let ev = |at: &str, event| KeyEvent {
            user: "u".into(),
            key_id: "K".into(),
            at: t(at),
            event,
            run_id: "r".into(),
        };
        let old = ev("2026-12-01T00:00:00Z", KeyEventKind::Deactivated);
        let recent = ev("2026-12-29T00:00:00Z", KeyEventKind::Deactivated);
        let back = ev("2026-12-02T00:00:00Z", KeyEventKind::Reactivated);
        assert_eq!(
            quarantine(true, Some(&old), None, 30, now),
            Quarantine::Deactivate
        );
        assert_eq!(
            quarantine(false, Some(&old), None, 30, now),
            Quarantine::Delete
        );
        assert_eq!(
            quarantine(false, Some(&old), None, 31, now),
            Quarantine::Wait {
                since: old.at,
                until: t("2027-01-01T00:00:00Z")
            }
        );
        assert!(matches!(
            quarantine(false, Some(&recent), None, 30, now),
            Quarantine::Wait { .. }
        ));
        assert_eq!(
            quarantine(false, Some(&back), None, 1, now),
            Quarantine::NotOurs
        );
        assert_eq!(quarantine(false, None, None, 1, now), Quarantine::NotOurs);
        let used = t("2026-12-10T00:00:00Z");
        assert_eq!(
            quarantine(false, Some(&old), Some(used), 30, now),
            Quarantine::UsedSince(used)
        );
        // Use before the deactivation does not count.
        assert_eq!(
            quarantine(false, Some(&old), Some(t("2026-11-01T00:00:00Z")), 30, now),
            Quarantine::Delete
        );
    }
}
