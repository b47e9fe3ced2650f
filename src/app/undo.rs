//! `iam-sweeper undo RUN_ID` and `iam-sweeper runs`, over the ports.
//!
//! `undo` reads the run's journal records (every intent and outcome under
//! `<prefix><account>/runs/<run_id>/actions/`), reads IAM live for each action the run made (or
//! may have made), and decides with [`crate::core::undo`]. With `apply` it makes the reversing
//! changes, each one after its own write-once intent record (no record, no change) and followed
//! by its outcome, under `<prefix><account>/undo/<run_id>/<undo_id>/`; a reactivated key also
//! gets a `reactivated` key event, so quarantine never deletes a key a human brought back.
//! Nothing is changed before every record of the run has been read.
//!
//! `runs` lists the run manifests under `<prefix><account>/runs/`, newest first.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures::StreamExt;

use crate::app::budget::CALL_TIMEOUT;
use crate::app::journal::timed;
use crate::app::ports::{IamError, IamReads, IamRestore, ObjectStore, StoreError, Written};
use crate::core::config::JournalPlace;
use crate::core::journal::{self, Intent, KeyEvent, KeyEventKind, Layout, Manifest, OutcomeRecord};
use crate::core::undo::{
    self as decide, Journaled, Live, Read, Record, Step, UndoChange, UndoIntent, UndoOutcome,
    UndoStatus,
};
pub use crate::core::undo::{End, Failure, Item, Password, RunEntry, Undo, count};

/// Journal records read at once.
const READ_CONCURRENCY: usize = 16;

/// What `undo` is asked to do.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The journal: `JOURNAL_BUCKET` / `JOURNAL_PREFIX`, or the command line's.
    pub place: &'a JournalPlace,
    /// The account whose journal tree is read (the caller's, unless `--account`).
    pub account: &'a str,
    pub run_id: &'a str,
    /// Only this user's actions (`--user`).
    pub user: Option<&'a str>,
    /// Make the changes (`--apply`); otherwise only say what would be done.
    pub apply: bool,
    /// Who runs it (the caller's ARN), for the undo's records.
    pub operator: Option<&'a str>,
    pub now: DateTime<Utc>,
}

/// Why `undo` or `runs` could not start.
#[derive(Debug, thiserror::Error)]
pub enum UndoError {
    #[error(
        "`{0}` is not a run ID (they look like 20261201T020000Z-1a2b3c4d); `iam-sweeper runs` lists the journaled runs"
    )]
    NotARunId(String),
    #[error(
        "no journal records for run {run_id} under {place}; `iam-sweeper runs` lists the journaled runs (check --account, JOURNAL_BUCKET and JOURNAL_PREFIX)"
    )]
    UnknownRun { run_id: String, place: String },
    #[error("run {run_id} took no action on user {user}; leave out --user to see what it did")]
    NoSuchUser { run_id: String, user: String },
    #[error("cannot read the journal: {0}")]
    Store(#[from] StoreError),
}

impl UndoError {
    /// True when the command line was at fault (exit status 2).
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, UndoError::Store(_))
    }
}

/// Undoes (or, without `apply`, describes undoing) run `req.run_id`.
pub async fn undo<A: ObjectStore + IamReads + IamRestore>(
    account: &A,
    req: &Request<'_>,
) -> Result<Undo, UndoError> {
    if !journal::is_run_id(req.run_id) {
        return Err(UndoError::NotARunId(req.run_id.to_string()));
    }
    let bucket = req.place.bucket.as_str();
    let layout = Layout::new(&req.place.prefix, req.account);
    let run_prefix = layout.run(req.run_id);
    let place = format!("s3://{bucket}/{run_prefix}");
    let keys = timed(
        CALL_TIMEOUT,
        "ListObjectsV2",
        bucket,
        &run_prefix,
        account.list(bucket, &run_prefix),
    )
    .await?;
    if keys.is_empty() {
        return Err(UndoError::UnknownRun {
            run_id: req.run_id.to_string(),
            place,
        });
    }
    let actions_prefix = format!("{run_prefix}actions/");
    let mut by_seq: BTreeMap<usize, [Option<String>; 2]> = BTreeMap::new();
    for key in keys.iter().filter(|k| k.starts_with(&actions_prefix)) {
        if let Some((seq, kind)) = decide::action_record(key) {
            by_seq.entry(seq).or_default()[kind as usize] = Some(key.clone());
        }
    }
    let read = futures::stream::iter(by_seq)
        .map(|(seq, [intent, outcome])| async move {
            let intent = read_record::<Intent, _>(account, bucket, intent.as_deref()).await?;
            let outcome =
                read_record::<OutcomeRecord, _>(account, bucket, outcome.as_deref()).await?;
            Ok::<_, StoreError>((seq, intent, outcome))
        })
        .buffered(READ_CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    let mut records = Vec::with_capacity(read.len());
    for r in read {
        records.push(r?);
    }

    let mut writer = req.apply.then(|| Writer {
        store: account,
        bucket,
        layout: &layout,
        run_id: req.run_id,
        undo_id: journal::run_id(req.now, rand::random()),
        seq: 0,
    });
    let mut items = Vec::new();
    for (seq, intent, outcome) in records {
        let user = match (&outcome, &intent) {
            (Ok(Some(o)), _) => o.user.clone(),
            (_, Ok(Some(i))) => i.user.clone(),
            _ => String::new(),
        };
        // A record that cannot be attributed is kept: it may be the user's.
        if let Some(u) = req.user
            && !user.is_empty()
            && user != u
        {
            continue;
        }
        let (intent, outcome) = match (intent, outcome) {
            (Ok(i), Ok(o)) => (i, o),
            (Err(e), _) | (_, Err(e)) => {
                items.push(Item {
                    seq,
                    user,
                    credential: None,
                    action: None,
                    key_id: None,
                    change: None,
                    end: End::Failed(Failure::Unreadable(e)),
                    record_problem: None,
                });
                continue;
            }
        };
        let Some(j) = decide::journaled(seq, intent.as_ref(), outcome.as_ref()) else {
            continue;
        };
        let (end, record_problem) = one(account, req, &j, writer.as_mut()).await;
        items.push(Item {
            seq,
            user: j.user.clone(),
            credential: Some(j.credential),
            action: Some(j.action),
            key_id: j.key_id.clone(),
            change: Some(j.change),
            end,
            record_problem,
        });
    }
    if let Some(u) = req.user
        && !items.iter().any(|i| i.user == u)
    {
        return Err(UndoError::NoSuchUser {
            run_id: req.run_id.to_string(),
            user: u.to_string(),
        });
    }
    let undo_id = writer.filter(|w| w.seq > 0).map(|w| w.undo_id);
    if let Some(id) = &undo_id {
        tracing::info!(target: "iam_sweeper::undo", run_id = req.run_id, undo_id = %id, "undo applied; its records are under undo/");
    }
    Ok(Undo {
        run_id: req.run_id.to_string(),
        account: req.account.to_string(),
        place,
        undo_id,
        apply: req.apply,
        items,
    })
}

/// A record of the run, `None` when there is none; `Err` (inside) when it is not the
/// journal's JSON.
async fn read_record<T: serde::de::DeserializeOwned, S: ObjectStore>(
    store: &S,
    bucket: &str,
    key: Option<&str>,
) -> Result<Result<Option<T>, String>, StoreError> {
    let Some(key) = key else {
        return Ok(Ok(None));
    };
    let bytes = timed(
        CALL_TIMEOUT,
        "GetObject",
        bucket,
        key,
        store.get(bucket, key),
    )
    .await?;
    Ok(match bytes {
        None => Ok(None),
        Some(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| format!("s3://{bucket}/{key}: {e}")),
    })
}

/// Decides, and with a writer applies, the undo of one action: its end and a record problem.
async fn one<A: ObjectStore + IamReads + IamRestore>(
    account: &A,
    req: &Request<'_>,
    j: &Journaled,
    writer: Option<&mut Writer<'_, A>>,
) -> (End, Option<String>) {
    let live = match live(account, j).await {
        Ok(l) => l,
        Err(e) => return (End::Failed(Failure::Read(e)), None),
    };
    let step = decide::decide(j, &live);
    let change = match &step {
        Step::Nothing(s) => return (End::Nothing(s.clone()), None),
        Step::Cannot(c) => return (End::Cannot(c.clone()), None),
        Step::Reactivate { .. } => UndoChange::ReactivateKey,
        Step::RecreatePassword => UndoChange::CreateLoginProfile,
    };
    let Some(w) = writer else {
        return (End::Would(step), None);
    };
    w.seq += 1;
    let intent = UndoIntent {
        undo_id: w.undo_id.clone(),
        run_id: req.run_id.to_string(),
        seq: w.seq,
        run_seq: j.seq,
        account: req.account.to_string(),
        at: req.now,
        operator: req.operator.map(str::to_string),
        user: j.user.clone(),
        credential: j.credential,
        access_key_id: j.key_id.clone(),
        change,
        prior: match change {
            UndoChange::ReactivateKey => "key Inactive".into(),
            UndoChange::CreateLoginProfile => "no login profile".into(),
        },
    };
    let intent_key = w.layout.undo_intent(w.run_id, &w.undo_id, w.seq);
    if let Err(e) = w.put(&intent_key, &intent).await {
        tracing::error!(target: "iam_sweeper::undo", user = %j.user, credential = %j.credential, error = %e, "undo intent not written; change not made");
        return (End::Failed(Failure::JournalUnwritable(e.to_string())), None);
    }
    let result = match &step {
        Step::Reactivate { key_id } => account
            .activate_key(&j.user, key_id)
            .await
            .map(|()| End::Reactivated),
        _ => {
            let password = new_password(&mut rand::rng());
            account
                .create_login_profile(&j.user, &password)
                .await
                .map(|()| End::Recreated(Password::new(password)))
        }
    };
    let (end, status, detail) = match result {
        Ok(end) => (end, UndoStatus::Restored, None),
        Err(e) => {
            let already = change == UndoChange::CreateLoginProfile
                && matches!(&e, IamError::Other { code: Some(c), .. } if c == "EntityAlreadyExists");
            let failure = if already {
                Failure::PasswordExistsNow {
                    user: j.user.clone(),
                    error: e,
                }
            } else {
                Failure::Change(e)
            };
            let detail = failure.to_string();
            (End::Failed(failure), UndoStatus::Failed, Some(detail))
        }
    };
    let outcome = UndoOutcome {
        undo_id: w.undo_id.clone(),
        run_id: req.run_id.to_string(),
        seq: w.seq,
        run_seq: j.seq,
        at: req.now,
        user: j.user.clone(),
        credential: j.credential,
        access_key_id: j.key_id.clone(),
        change,
        status,
        detail,
    };
    let mut problems = Vec::new();
    let outcome_key = w.layout.undo_outcome(w.run_id, &w.undo_id, w.seq);
    if let Err(e) = w.put(&outcome_key, &outcome).await {
        problems.push(format!("its outcome record was not written: {e}"));
    }
    if let (End::Reactivated, Some(key_id)) = (&end, &j.key_id) {
        // Strictly after the run's own event, so it is the key's latest.
        let at = req.now.max(j.at + chrono::Duration::seconds(1));
        let event = KeyEvent {
            user: j.user.clone(),
            key_id: key_id.clone(),
            at,
            event: KeyEventKind::Reactivated,
            run_id: w.undo_id.clone(),
        };
        let key = w.layout.key_event(&event);
        if let Err(e) = w.put(&key, &intent).await {
            problems.push(format!(
                "its key event was not written, so quarantine does not know the key was restored: {e}"
            ));
        }
    }
    for p in &problems {
        tracing::error!(target: "iam_sweeper::undo", user = %j.user, credential = %j.credential, problem = %p, "undo record not written");
    }
    let problem = (!problems.is_empty()).then(|| problems.join("; "));
    (end, problem)
}

/// The live read [`decide::read_needed`] asks for.
async fn live<A: IamReads>(account: &A, j: &Journaled) -> Result<Live, IamError> {
    let gone = |e: IamError| {
        if e.is_no_such_entity() {
            Ok(Live::UserGone)
        } else {
            Err(e)
        }
    };
    match decide::read_needed(j) {
        Read::Nothing => Ok(Live::NotRead),
        Read::Keys => match account.list_access_keys(&j.user).await {
            Ok(keys) => Ok(Live::Keys(keys)),
            Err(e) => gone(e),
        },
        Read::Password => {
            if let Err(e) = account.user(&j.user).await {
                return gone(e);
            }
            match account.login_profile(&j.user).await {
                Ok(p) => Ok(Live::Password(p)),
                Err(e) => gone(e),
            }
        }
    }
}

/// The undo's own records: write-once, each at its own key.
struct Writer<'a, S> {
    store: &'a S,
    bucket: &'a str,
    layout: &'a Layout,
    run_id: &'a str,
    undo_id: String,
    /// Records written so far (the last intent's number).
    seq: usize,
}

impl<S: ObjectStore> Writer<'_, S> {
    /// Writes `record` at `key` unless an object is there; one with the same bytes is this
    /// write's own whose answer was lost, anything else an error.
    async fn put<T: serde::Serialize>(&self, key: &str, record: &T) -> Result<(), StoreError> {
        let body = serde_json::to_vec_pretty(record).map_err(|e| StoreError {
            operation: "PutObject",
            bucket: self.bucket.to_string(),
            key: key.to_string(),
            code: None,
            message: format!("the record cannot be encoded: {e}"),
        })?;
        let put = self.store.put_new(self.bucket, key, body.clone());
        match timed(CALL_TIMEOUT, "PutObject", self.bucket, key, put).await? {
            Written::Created => Ok(()),
            Written::AlreadyThere => {
                let get = self.store.get(self.bucket, key);
                let there = timed(CALL_TIMEOUT, "GetObject", self.bucket, key, get).await?;
                if there.as_deref() == Some(body.as_slice()) {
                    Ok(())
                } else {
                    Err(StoreError {
                        operation: "PutObject",
                        bucket: self.bucket.to_string(),
                        key: key.to_string(),
                        code: Some("PreconditionFailed".into()),
                        message:
                            "another record is already at this key; records are never overwritten"
                                .into(),
                    })
                }
            }
        }
    }
}

const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
const DIGITS: &[u8] = b"23456789";
/// Symbols IAM password policies accept (none that shells or terminals mangle when pasted).
const SYMBOLS: &[u8] = b"!@#$%^&*()_+-=[]{}|";
/// Characters in a generated password: about 150 bits.
pub const PASSWORD_LEN: usize = 24;

/// A random console password of [`PASSWORD_LEN`] characters with at least one uppercase and
/// one lowercase letter, digit and symbol (look-alikes such as `O`/`0` and `l`/`1` left out).
pub fn new_password<R: rand::Rng + ?Sized>(rng: &mut R) -> String {
    use rand::RngExt as _;
    use rand::seq::SliceRandom as _;
    let classes = [UPPER, LOWER, DIGITS, SYMBOLS];
    let all: Vec<u8> = classes.concat();
    let mut chars: Vec<u8> = classes
        .iter()
        .map(|c| c[rng.random_range(0..c.len())])
        .collect();
    while chars.len() < PASSWORD_LEN {
        chars.push(all[rng.random_range(0..all.len())]);
    }
    chars.shuffle(rng);
    chars.into_iter().map(char::from).collect()
}

/// The runs of `account` whose manifest is under `place`, newest first; with `since`, only
/// those started at or after it (by their ID's time).
pub async fn runs<S: ObjectStore>(
    store: &S,
    place: &JournalPlace,
    account: &str,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<RunEntry>, StoreError> {
    let bucket = place.bucket.as_str();
    let layout = Layout::new(&place.prefix, account);
    let prefix = layout.runs();
    let keys = timed(
        CALL_TIMEOUT,
        "ListObjectsV2",
        bucket,
        &prefix,
        store.list(bucket, &prefix),
    )
    .await?;
    let mut ids: Vec<String> = keys
        .iter()
        .filter_map(|k| layout.run_of_manifest(k))
        .filter(|id| match (since, decide::run_time(id)) {
            (None, _) => true,
            (Some(since), Some(t)) => t >= since,
            (Some(_), None) => false,
        })
        .map(str::to_string)
        .collect();
    ids.sort_by(|a, b| b.cmp(a));
    let read = futures::stream::iter(ids)
        .map(|run_id| {
            let key = layout.manifest(&run_id);
            async move {
                let manifest: Result<Option<Manifest>, String> =
                    read_record(store, bucket, Some(&key)).await?;
                Ok::<_, StoreError>(RunEntry {
                    run_id,
                    manifest: manifest
                        .and_then(|m| m.ok_or_else(|| format!("s3://{bucket}/{key} is gone"))),
                })
            }
        })
        .buffered(READ_CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    read.into_iter().collect()
}

/// `Record` indexes the pair of an action's records.
const _: () = assert!(Record::Intent as usize == 0 && Record::Outcome as usize == 1);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_are_long_and_mixed_and_differ() {
        let mut rng = rand::rng();
        let a = new_password(&mut rng);
        let b = new_password(&mut rng);
        assert_eq!(a.chars().count(), PASSWORD_LEN);
        assert!(decide::strong_enough(&a), "{a}");
        assert_ne!(a, b);
        for _ in 0..200 {
            assert!(decide::strong_enough(&new_password(&mut rng)));
        }
    }
}
