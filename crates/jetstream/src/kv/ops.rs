//! Reading and writing entries: get, put, create, update, delete, purge, purge_all and
//! purge_deletes.

use std::future::{Future, IntoFuture};
use std::time::Duration;
use tracing::Instrument;

use bytes::Bytes;
use futures_util::future::BoxFuture;

use super::entry::{Entry, Operation, KV_OPERATION, OPERATION_DELETE, OPERATION_PURGE, ROLLUP};
use super::{bucket_not_found, check_key, KeyValue};
use crate::error::{Error, ErrorKind, Result};

/// Default age above which [`PurgeDeletes`] removes delete and purge markers.
const DEFAULT_PURGE_DELETES_OLDER_THAN: Duration = Duration::from_secs(30 * 60);

/// `WrongLastSequence` from the server is a revision mismatch in KV terms.
fn wrong_revision(e: Error, key: &str) -> Error {
    if e.kind() == ErrorKind::WrongLastSequence {
        e.with_kind(ErrorKind::WrongLastRevision)
            .with_message(format!("{key:?} is not at the expected revision"))
    } else {
        e
    }
}

/// A missing message is a missing key.
fn key_not_found(e: Error, key: &str) -> Error {
    if e.kind() == ErrorKind::MessageNotFound {
        e.with_kind(ErrorKind::KeyNotFound)
            .with_message(format!("{key:?}"))
    } else {
        e
    }
}

impl KeyValue {
    /// The latest value of `key`. A key that never existed, or whose latest entry is a delete
    /// or purge: [`ErrorKind::KeyNotFound`].
    ///
    /// ```no_run
    /// # async fn run(kv: jetstream::KeyValue) -> Result<(), jetstream::Error> {
    /// match kv.get("sue.color").await {
    ///     Ok(entry) => println!("{:?} (revision {})", entry.value(), entry.revision()),
    ///     Err(e) if e.kind() == jetstream::ErrorKind::KeyNotFound => println!("no color"),
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// The future is small (448 bytes), as callers that keep many gets in flight move it
    /// around (into `FuturesUnordered`, `buffer_unordered`), every move copying all of it.
    // Not an `async fn`, which stores its arguments twice.
    #[allow(clippy::manual_async_fn)]
    pub fn get<'a>(
        &'a self,
        key: impl AsRef<str> + 'a,
    ) -> impl Future<Output = Result<Entry>> + 'a {
        async move {
            let key = key.as_ref();
            let entry = self.last_entry(key).await?;
            live(entry, key)
        }
    }

    /// The entry of `key` at `revision`. Missing, another key's revision, or a delete or
    /// purge: [`ErrorKind::KeyNotFound`].
    pub async fn get_revision(&self, key: impl AsRef<str>, revision: u64) -> Result<Entry> {
        let key = key.as_ref();
        let entry = self.revision_entry(key, revision).await?;
        live(entry, key)
    }

    /// The latest entry of `key`, delete and purge markers included: `Ok(None)` when the key
    /// has no entry at all (never written, or its history was removed). Unlike
    /// [`get`](Self::get), a deleted or purged key gives its marker, an [`Entry`] whose
    /// [`operation`](Entry::operation) is [`Operation::Delete`] or [`Operation::Purge`]
    /// (as async-nats `Store::entry`).
    ///
    /// ```no_run
    /// # async fn run(kv: jetstream::KeyValue) -> Result<(), jetstream::Error> {
    /// use jetstream::Operation;
    ///
    /// match kv.entry("sue.color").await? {
    ///     Some(entry) if entry.operation() == Operation::Put => println!("{:?}", entry.value()),
    ///     Some(marker) => println!("removed at revision {}", marker.revision()),
    ///     None => println!("never set"),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn entry(&self, key: impl AsRef<str>) -> Result<Option<Entry>> {
        match self.last_entry(key.as_ref()).await {
            Ok(entry) => Ok(Some(entry)),
            Err(e) if e.kind() == ErrorKind::KeyNotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The entry of `key` at `revision`, delete and purge markers included: `Ok(None)` when
    /// that revision is missing or belongs to another key. Unlike
    /// [`get_revision`](Self::get_revision), a marker is returned as an entry.
    ///
    /// ```no_run
    /// # async fn run(kv: jetstream::KeyValue) -> Result<(), jetstream::Error> {
    /// if let Some(entry) = kv.entry_for_revision("sue.color", 3).await? {
    ///     println!("#3 was a {}", entry.operation());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn entry_for_revision(
        &self,
        key: impl AsRef<str>,
        revision: u64,
    ) -> Result<Option<Entry>> {
        match self.revision_entry(key.as_ref(), revision).await {
            Ok(entry) => Ok(Some(entry)),
            Err(e) if e.kind() == ErrorKind::KeyNotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The entry of `key` at `revision`, markers included.
    async fn revision_entry(&self, key: &str, revision: u64) -> Result<Entry> {
        let span = crate::observe::kv("get_revision", self.bucket(), key);
        async move {
            check_key(key)?;
            let msg = self
                .inner
                .stream
                .get_msg(revision)
                .await
                .map_err(|e| bucket_not_found(key_not_found(e, key), self.bucket()))?;
            if msg.subject != self.read_subject(key) {
                return Err(Error::msg(
                    ErrorKind::KeyNotFound,
                    format!("revision {revision} is not an entry of {key:?}"),
                ));
            }
            Ok(Entry::from_stored(self, msg))
        }
        .instrument(span)
        .await
    }

    /// The latest entry of `key`, delete and purge markers included.
    pub(crate) fn last_entry<'a>(
        &'a self,
        key: &'a str,
    ) -> impl Future<Output = Result<Entry>> + 'a {
        let span = crate::observe::kv("get", self.bucket(), key);
        async move {
            check_key(key)?;
            let msg = self
                .inner
                .stream
                .last_for_literal(self.direct_get_subject(key), || self.read_subject(key))
                .await
                .map_err(|e| bucket_not_found(key_not_found(e, key), self.bucket()))?;
            Ok(Entry::from_stored(self, msg))
        }
        .instrument(span)
    }

    /// Stores `value` under `key`, whatever is there; returns the new revision.
    ///
    /// ```no_run
    /// # async fn run(kv: jetstream::KeyValue) -> Result<(), jetstream::Error> {
    /// let revision = kv.put("sue.color", "blue").await?;
    /// # let _ = revision;
    /// # Ok(()) }
    /// ```
    pub async fn put(&self, key: impl AsRef<str>, value: impl Into<Bytes>) -> Result<u64> {
        let key = key.as_ref();
        let span = crate::observe::kv("put", self.bucket(), key);
        async move {
            check_key(key)?;
            match self
                .js()
                .publish(self.write_subject(key), value.into())
                .await
            {
                Ok(ack) => Ok(ack.sequence),
                Err(e) => Err(self.write_error(e).await),
            }
        }
        .instrument(span)
        .await
    }

    /// Stores `value` under `key` only if the key has no value (it never existed, or was
    /// deleted or purged); returns the new revision. A live value:
    /// [`ErrorKind::KeyExists`].
    ///
    /// ```no_run
    /// # async fn run(kv: jetstream::KeyValue) -> Result<(), jetstream::Error> {
    /// match kv.create("lock", "owner-1").await {
    ///     Ok(revision) => println!("got the lock at {revision}"),
    ///     Err(e) if e.kind() == jetstream::ErrorKind::KeyExists => println!("taken"),
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn create(&self, key: impl AsRef<str>, value: impl Into<Bytes>) -> Result<u64> {
        self.create_inner(key.as_ref(), value.into(), None).await
    }

    /// [`create`](Self::create) with a time to live for this value (at least 1 s): the
    /// server removes it then, leaving a marker that reads as a purge. Needs a bucket with
    /// [`limit_marker_ttl`](super::KeyValueConfig::limit_marker_ttl) (server 2.11+).
    ///
    /// ```no_run
    /// # async fn run(kv: jetstream::KeyValue) -> Result<(), jetstream::Error> {
    /// use std::time::Duration;
    ///
    /// kv.create_with_ttl("session.42", "alive", Duration::from_secs(30)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn create_with_ttl(
        &self,
        key: impl AsRef<str>,
        value: impl Into<Bytes>,
        ttl: Duration,
    ) -> Result<u64> {
        self.create_inner(key.as_ref(), value.into(), Some(ttl))
            .await
    }

    async fn create_inner(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<u64> {
        let span = crate::observe::kv("create", self.bucket(), key);
        async move {
            check_key(key)?;
            let first = self.publish_expecting(key, value.clone(), 0, ttl).await;
            let first_error = match first {
                Ok(revision) => return Ok(revision),
                Err(e) if e.kind() == ErrorKind::WrongLastSequence => e,
                Err(e) => return Err(e),
            };
            // The expected-sequence-0 check also fails over a delete or purge marker: then retry,
            // expecting the marker's revision.
            match self.last_entry(key).await {
                Ok(entry) if entry.operation() != Operation::Put => self
                    .publish_expecting(key, value, entry.revision(), ttl)
                    .await
                    .map_err(|e| exists(e, key)),
                _ => Err(exists(first_error, key)),
            }
        }
        .instrument(span)
        .await
    }

    async fn publish_expecting(
        &self,
        key: &str,
        value: Bytes,
        last_revision: u64,
        ttl: Option<Duration>,
    ) -> Result<u64> {
        let mut publish = self
            .js()
            .publish(self.write_subject(key), value)
            .expected_last_subject_sequence(last_revision);
        if let Some(ttl) = ttl {
            publish = publish.ttl(ttl);
        }
        match publish.await {
            Ok(ack) => Ok(ack.sequence),
            Err(e) => Err(self.write_error(e).await),
        }
    }

    /// Stores `value` under `key` only if the key's latest revision is `last_revision`;
    /// returns the new revision. Otherwise: [`ErrorKind::WrongLastRevision`].
    ///
    /// ```no_run
    /// # async fn run(kv: jetstream::KeyValue) -> Result<(), jetstream::Error> {
    /// let entry = kv.get("counter").await?;
    /// let next: u64 = std::str::from_utf8(entry.value()).unwrap_or("0").parse().unwrap_or(0) + 1;
    /// kv.update("counter", next.to_string(), entry.revision()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn update(
        &self,
        key: impl AsRef<str>,
        value: impl Into<Bytes>,
        last_revision: u64,
    ) -> Result<u64> {
        let key = key.as_ref();
        let span = crate::observe::kv("update", self.bucket(), key);
        async move {
            check_key(key)?;
            self.publish_expecting(key, value.into(), last_revision, None)
                .await
                .map_err(|e| wrong_revision(e, key))
        }
        .instrument(span)
        .await
    }

    /// Deletes `key`: writes a delete marker, keeping the earlier revisions in the history.
    /// `.last_revision(n)` makes it conditional ([`ErrorKind::WrongLastRevision`]).
    ///
    /// ```no_run
    /// # async fn run(kv: jetstream::KeyValue) -> Result<(), jetstream::Error> {
    /// kv.delete("sue.color").await?;
    /// kv.delete("sue.age").last_revision(7).await?;
    /// # Ok(()) }
    /// ```
    pub fn delete(&self, key: impl AsRef<str>) -> Delete {
        Delete {
            kv: self.clone(),
            key: key.as_ref().to_string(),
            last_revision: None,
        }
    }

    /// Purges `key`: writes a purge marker and removes every earlier revision.
    /// `.last_revision(n)` makes it conditional, `.ttl(d)` removes the marker itself after
    /// `d` (buckets with limit markers).
    ///
    /// ```no_run
    /// # async fn run(kv: jetstream::KeyValue) -> Result<(), jetstream::Error> {
    /// kv.purge("sue.color").await?;
    /// # Ok(()) }
    /// ```
    pub fn purge(&self, key: impl AsRef<str>) -> Purge {
        Purge {
            kv: self.clone(),
            key: key.as_ref().to_string(),
            last_revision: None,
            ttl: None,
        }
    }

    /// Purges every key that has a value or a delete marker: its history is removed and a
    /// purge marker is left (see [`purge_deletes`](Self::purge_deletes) to remove markers).
    ///
    /// One purge per key, not one atomic operation: when it fails or its future is
    /// dropped, some keys may be purged and others not; calling it again finishes the job.
    pub async fn purge_all(&self) -> Result<()> {
        let entries = self.latest_entries().await?;
        let mut acks = Vec::new();
        let sent = async {
            for entry in entries {
                if entry.operation() == Operation::Purge {
                    continue;
                }
                acks.push(
                    self.js()
                        .publish_async(self.write_subject(entry.key()), Bytes::new())
                        .header(KV_OPERATION, OPERATION_PURGE)
                        .header(ROLLUP, "sub")
                        .await?,
                );
            }
            for ack in acks {
                ack.await?;
            }
            Ok(())
        };
        match sent.await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.write_error(e).await),
        }
    }

    /// Removes the history of keys whose latest entry is a delete or purge marker, and the
    /// markers themselves when they are older than
    /// [`older_than`](PurgeDeletes::older_than) (default 30 minutes; `Duration::ZERO` removes
    /// every marker).
    ///
    /// ```no_run
    /// # async fn run(kv: jetstream::KeyValue) -> Result<(), jetstream::Error> {
    /// kv.purge_deletes().await?;
    /// kv.purge_deletes().older_than(std::time::Duration::ZERO).await?;
    /// # Ok(()) }
    /// ```
    pub fn purge_deletes(&self) -> PurgeDeletes {
        PurgeDeletes {
            kv: self.clone(),
            older_than: DEFAULT_PURGE_DELETES_OLDER_THAN,
        }
    }

    pub(crate) fn js(&self) -> &crate::JetStream {
        self.inner.stream.context()
    }

    /// Writes a delete or purge marker.
    async fn write_marker(
        &self,
        key: &str,
        operation: &'static str,
        last_revision: Option<u64>,
        ttl: Option<Duration>,
    ) -> Result<()> {
        check_key(key)?;
        let mut publish = self
            .js()
            .publish(self.write_subject(key), Bytes::new())
            .header(KV_OPERATION, operation);
        if operation == OPERATION_PURGE {
            publish = publish.header(ROLLUP, "sub");
        }
        if let Some(revision) = last_revision {
            publish = publish.expected_last_subject_sequence(revision);
        }
        if let Some(ttl) = ttl {
            publish = publish.ttl(ttl);
        }
        match publish.await {
            Ok(_) => Ok(()),
            Err(e) => Err(wrong_revision(self.write_error(e).await, key)),
        }
    }

    /// A failed write: a missing stream is a missing bucket, also when the publish only found
    /// no responder (the stream is then asked whether it still exists).
    async fn write_error(&self, e: Error) -> Error {
        let e = self.inner.stream.explain_no_responders(e).await;
        bucket_not_found(e, self.bucket())
    }
}

/// Deletes and purges read as missing keys.
fn live(entry: Entry, key: &str) -> Result<Entry> {
    match entry.operation() {
        Operation::Put => Ok(entry),
        op => Err(Error::msg(
            ErrorKind::KeyNotFound,
            format!("{key:?} (latest entry: {op})"),
        )),
    }
}

/// A create that failed because the key has a value.
fn exists(e: Error, key: &str) -> Error {
    if e.kind() == ErrorKind::WrongLastSequence {
        e.with_kind(ErrorKind::KeyExists)
            .with_message(format!("{key:?} has a value"))
    } else {
        e
    }
}

/// A delete of a key, from [`KeyValue::delete`]; await it.
#[derive(Debug)]
#[must_use = "a delete does nothing until awaited"]
pub struct Delete {
    kv: KeyValue,
    key: String,
    last_revision: Option<u64>,
}

impl Delete {
    /// Deletes only if the key's latest revision is `revision`
    /// ([`ErrorKind::WrongLastRevision`] otherwise).
    pub fn last_revision(mut self, revision: u64) -> Self {
        self.last_revision = Some(revision);
        self
    }
}

impl IntoFuture for Delete {
    type Output = Result<()>;
    type IntoFuture = BoxFuture<'static, Result<()>>;

    fn into_future(self) -> Self::IntoFuture {
        let span = crate::observe::kv("delete", self.kv.bucket(), &self.key);
        Box::pin(
            async move {
                self.kv
                    .write_marker(&self.key, OPERATION_DELETE, self.last_revision, None)
                    .await
            }
            .instrument(span),
        )
    }
}

/// A purge of a key, from [`KeyValue::purge`]; await it.
#[derive(Debug)]
#[must_use = "a purge does nothing until awaited"]
pub struct Purge {
    kv: KeyValue,
    key: String,
    last_revision: Option<u64>,
    ttl: Option<Duration>,
}

impl Purge {
    /// Purges only if the key's latest revision is `revision`
    /// ([`ErrorKind::WrongLastRevision`] otherwise).
    pub fn last_revision(mut self, revision: u64) -> Self {
        self.last_revision = Some(revision);
        self
    }

    /// Removes the purge marker itself after `ttl` (at least 1 s). Needs a bucket with
    /// [`limit_marker_ttl`](super::KeyValueConfig::limit_marker_ttl) (server 2.11+).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }
}

impl IntoFuture for Purge {
    type Output = Result<()>;
    type IntoFuture = BoxFuture<'static, Result<()>>;

    fn into_future(self) -> Self::IntoFuture {
        let span = crate::observe::kv("purge", self.kv.bucket(), &self.key);
        Box::pin(
            async move {
                self.kv
                    .write_marker(&self.key, OPERATION_PURGE, self.last_revision, self.ttl)
                    .await
            }
            .instrument(span),
        )
    }
}

/// Removal of delete and purge markers, from [`KeyValue::purge_deletes`]; await it.
#[derive(Debug)]
#[must_use = "a purge does nothing until awaited"]
pub struct PurgeDeletes {
    kv: KeyValue,
    older_than: Duration,
}

impl PurgeDeletes {
    /// Markers at least this old are removed too (default 30 minutes); younger ones are kept
    /// (only the history before them goes). `Duration::ZERO` removes every marker.
    pub fn older_than(mut self, age: Duration) -> Self {
        self.older_than = age;
        self
    }

    async fn run(self) -> Result<()> {
        let kv = &self.kv;
        let now = jiff::Timestamp::now();
        for entry in kv.latest_entries().await? {
            if entry.operation() == Operation::Put {
                continue;
            }
            let age = now.duration_since(entry.created());
            let threshold = jiff::SignedDuration::try_from(self.older_than)
                .unwrap_or(jiff::SignedDuration::MAX);
            let old = age >= threshold;
            let mut purge = kv
                .inner
                .stream
                .purge()
                .subject(kv.read_subject(entry.key()));
            if !old {
                purge = purge.keep(1);
            }
            purge.await.map_err(|e| bucket_not_found(e, kv.bucket()))?;
        }
        Ok(())
    }
}

impl IntoFuture for PurgeDeletes {
    type Output = Result<()>;
    type IntoFuture = BoxFuture<'static, Result<()>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}
