//! Writing and reading the journal (`JOURNAL_BUCKET`) through the [`ObjectStore`] port.
//!
//! Every record is written once (`If-None-Match: *`). A write that meets an object already at
//! its key reads it back: the same bytes are this run's own earlier write whose answer was lost;
//! anything else is an error (two runs must never share a key). The layout and the records are
//! [`crate::core::journal`]'s.

use std::cell::Cell;
use std::collections::HashMap;
use std::time::Duration;

use chrono::NaiveDate;
use serde::Serialize;

use crate::app::budget::CALL_TIMEOUT;
use crate::app::ports::{ObjectStore, StoreError, Written};
use crate::core::config::JournalPlace;
use crate::core::finding::Credential;
use crate::core::journal::{
    Intent, KeyEvent, Layout, MailStage, Manifest, OutcomeRecord, latest_events,
};

/// Calls the journal adds to one action: the intent, the outcome and the key's event.
pub const CALLS_PER_ACTION: u32 = 3;

/// One run's journal.
pub struct Journal<'a, S> {
    store: &'a S,
    bucket: String,
    place: String,
    layout: Layout,
    run_id: String,
    account: String,
    seq: Cell<usize>,
}

impl<'a, S: ObjectStore> Journal<'a, S> {
    pub fn new(store: &'a S, place: &JournalPlace, account: &str, run_id: &str) -> Self {
        Journal {
            store,
            bucket: place.bucket.clone(),
            place: format!("s3://{}/{}", place.bucket, place.prefix),
            layout: Layout::new(&place.prefix, account),
            run_id: run_id.to_string(),
            account: account.to_string(),
            seq: Cell::new(0),
        }
    }

    /// `s3://bucket/prefix`, for the mail and the result.
    pub fn place(&self) -> &str {
        &self.place
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    pub fn account(&self) -> &str {
        &self.account
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The next action's sequence number (1, 2, …).
    pub fn next_seq(&self) -> usize {
        let n = self.seq.get() + 1;
        self.seq.set(n);
        n
    }

    /// How many sequence numbers were handed out.
    pub fn intents(&self) -> usize {
        self.seq.get()
    }

    pub async fn intent(&self, record: &Intent, timeout: Duration) -> Result<(), StoreError> {
        let key = self.layout.intent(&self.run_id, record.seq);
        self.write(&key, record, timeout).await
    }

    pub async fn outcome(
        &self,
        record: &OutcomeRecord,
        timeout: Duration,
    ) -> Result<(), StoreError> {
        let key = self.layout.outcome(&self.run_id, record.seq);
        self.write(&key, record, timeout).await
    }

    /// What this tool did to a key; the body repeats the intent, for reading one key's history.
    pub async fn key_event(
        &self,
        event: &KeyEvent,
        intent: &Intent,
        timeout: Duration,
    ) -> Result<(), StoreError> {
        let key = self.layout.key_event(event);
        self.write(&key, intent, timeout).await
    }

    pub async fn manifest(&self, manifest: &Manifest) -> Result<(), StoreError> {
        let key = self.layout.manifest(&self.run_id);
        self.write(&key, manifest, CALL_TIMEOUT).await
    }

    /// Each key's latest event in this account's journal, by key ID.
    pub async fn key_history(&self) -> Result<HashMap<String, KeyEvent>, StoreError> {
        let prefix = self.layout.keys();
        let keys = timed(
            CALL_TIMEOUT,
            "ListObjectsV2",
            &self.bucket,
            &prefix,
            self.store.list(&self.bucket, &prefix),
        )
        .await?;
        Ok(latest_events(
            keys.iter().filter_map(|k| self.layout.parse_key_event(k)),
        ))
    }

    /// The intent a key event was written with (its body).
    pub async fn event_intent(&self, event: &KeyEvent) -> Result<Option<Intent>, StoreError> {
        let key = self.layout.key_event(event);
        let Some(bytes) = timed(
            CALL_TIMEOUT,
            "GetObject",
            &self.bucket,
            &key,
            self.store.get(&self.bucket, &key),
        )
        .await?
        else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| self.unreadable("GetObject", &key, &e))
    }

    /// Claims the owner mail of one stage: `true` when this run is the first to (and so sends
    /// it), `false` when a record shows it was sent already.
    pub async fn claim_mail<T: Serialize>(
        &self,
        user: &str,
        credential: Credential,
        due: NaiveDate,
        stage: MailStage,
        record: &T,
    ) -> Result<bool, StoreError> {
        let key = self.layout.owner_mail(user, credential, due, stage);
        let body = self.encode(&key, record)?;
        let written = timed(
            CALL_TIMEOUT,
            "PutObject",
            &self.bucket,
            &key,
            self.store.put_new(&self.bucket, &key, body),
        )
        .await?;
        Ok(written == Written::Created)
    }

    fn encode<T: Serialize>(&self, key: &str, record: &T) -> Result<Vec<u8>, StoreError> {
        serde_json::to_vec_pretty(record).map_err(|e| self.unreadable("PutObject", key, &e))
    }

    fn unreadable(
        &self,
        operation: &'static str,
        key: &str,
        e: &dyn std::fmt::Display,
    ) -> StoreError {
        StoreError {
            operation,
            bucket: self.bucket.clone(),
            key: key.to_string(),
            code: None,
            message: format!("the record is not the journal's JSON: {e}"),
        }
    }

    async fn write<T: Serialize>(
        &self,
        key: &str,
        record: &T,
        timeout: Duration,
    ) -> Result<(), StoreError> {
        let body = self.encode(key, record)?;
        let put = self.store.put_new(&self.bucket, key, body.clone());
        match timed(timeout, "PutObject", &self.bucket, key, put).await? {
            Written::Created => Ok(()),
            Written::AlreadyThere => {
                let there = timed(
                    timeout,
                    "GetObject",
                    &self.bucket,
                    key,
                    self.store.get(&self.bucket, key),
                )
                .await?;
                if there.as_deref() == Some(body.as_slice()) {
                    Ok(())
                } else {
                    Err(StoreError {
                        operation: "PutObject",
                        bucket: self.bucket.clone(),
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

/// An S3 call bounded by `timeout`.
pub async fn timed<T>(
    timeout: Duration,
    operation: &'static str,
    bucket: &str,
    key: &str,
    call: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    tokio::time::timeout(timeout, call)
        .await
        .unwrap_or_else(|_| {
            Err(StoreError {
                operation,
                bucket: bucket.to_string(),
                key: key.to_string(),
                code: None,
                message: format!("no answer within {} s", timeout.as_secs_f32()),
            })
        })
}
