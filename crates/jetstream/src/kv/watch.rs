//! Watching a bucket: [`Watch`] (the options) and [`Watcher`] (the stream of entries).
//!
//! A watcher reads the bucket through an ordered consumer, which recreates its server-side
//! consumer after gaps, reconnects and server restarts, so entries arrive in order without
//! gaps or duplicates. The marker logic is the watcher core shared with the object store
//! (`crate::watcher`).

use futures_core::Stream;
use futures_util::future::BoxFuture;
use std::future::IntoFuture;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::entry::{Entry, Operation};
use super::{bucket_not_found, KeyValue};
use crate::error::{Error, ErrorKind, Result};
use crate::pull::watch_start;
use crate::types::{DeliverPolicy, OrderedConsumerConfig};
use crate::validate::validate_kv_key;
use crate::watcher::{WatchCore, WatchEvent};

impl KeyValue {
    /// Watches one key, or the keys matching a pattern (`"sue.*"`, `"sue.>"`, `">"`).
    ///
    /// Await it for a [`Watcher`]: first the current value of every matching key, then one
    /// `None`, then every change as it happens. Options change what comes first:
    /// [`include_history`](Watch::include_history),
    /// [`updates_only`](Watch::updates_only), [`resume_from_revision`](Watch::resume_from_revision);
    /// and what is delivered: [`ignore_deletes`](Watch::ignore_deletes),
    /// [`meta_only`](Watch::meta_only).
    ///
    /// Starting waits at most twice the context's
    /// [`timeout`](crate::JetStreamOptions::timeout) for the watcher's consumer, then fails
    /// with [`ErrorKind::Timeout`]; a deleted bucket: [`ErrorKind::BucketNotFound`].
    ///
    /// ```no_run
    /// # async fn run(kv: jetstream::KeyValue) -> Result<(), jetstream::Error> {
    /// use futures_util::StreamExt;
    ///
    /// let mut watcher = kv.watch("sue.*").ignore_deletes().await?;
    /// while let Some(entry) = watcher.next().await {
    ///     match entry? {
    ///         Some(entry) => println!("{} @ {}: {:?}", entry.key(), entry.revision(), entry.value()),
    ///         None => println!("up to date; now waiting for changes"),
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn watch(&self, key: impl AsRef<str>) -> Watch {
        Watch::new(self.clone(), vec![key.as_ref().to_string()])
    }

    /// Watches every key of the bucket; see [`watch`](Self::watch).
    pub fn watch_all(&self) -> Watch {
        Watch::new(self.clone(), Vec::new())
    }

    /// Watches the keys matching any of `keys` (keys or patterns that do not overlap); see
    /// [`watch`](Self::watch).
    ///
    /// ```no_run
    /// # async fn run(kv: jetstream::KeyValue) -> Result<(), jetstream::Error> {
    /// let watcher = kv.watch_filtered(["sue.*", "bob.*"]).updates_only().await?;
    /// # let _ = watcher;
    /// # Ok(()) }
    /// ```
    pub fn watch_filtered(&self, keys: impl IntoIterator<Item = impl AsRef<str>>) -> Watch {
        let keys = keys.into_iter().map(|k| k.as_ref().to_string()).collect();
        Watch::new(self.clone(), keys)
    }
}

/// The options of a watch, from [`KeyValue::watch`] and friends; await it for a [`Watcher`].
#[derive(Debug, Clone)]
#[must_use = "a watch does nothing until awaited"]
pub struct Watch {
    kv: KeyValue,
    keys: Vec<String>,
    include_history: bool,
    ignore_deletes: bool,
    updates_only: bool,
    meta_only: bool,
    resume_from_revision: Option<u64>,
}

impl Watch {
    fn new(kv: KeyValue, keys: Vec<String>) -> Watch {
        Watch {
            kv,
            keys,
            include_history: false,
            ignore_deletes: false,
            updates_only: false,
            meta_only: false,
            resume_from_revision: None,
        }
    }

    /// Starts with every revision still stored, not only the latest one of each key.
    /// Exclusive with [`updates_only`](Self::updates_only).
    pub fn include_history(mut self) -> Self {
        self.include_history = true;
        self
    }

    /// Leaves out deletes and purges.
    pub fn ignore_deletes(mut self) -> Self {
        self.ignore_deletes = true;
        self
    }

    /// Only changes made after the watch started; no initial values and no `None` marker.
    pub fn updates_only(mut self) -> Self {
        self.updates_only = true;
        self
    }

    /// Delivers entries without their values (cheaper when only keys and revisions matter).
    pub fn meta_only(mut self) -> Self {
        self.meta_only = true;
        self
    }

    /// Starts at this revision (every entry from there on, then live changes), e.g. the
    /// revision after the last one a previous watcher delivered. At least 1.
    pub fn resume_from_revision(mut self, revision: u64) -> Self {
        self.resume_from_revision = Some(revision);
        self
    }

    fn consumer_config(&self) -> Result<OrderedConsumerConfig> {
        let invalid = |m: &'static str| Err(Error::msg(ErrorKind::InvalidArgument, m));
        let start = watch_start(self.updates_only, self.include_history)?;
        if self.updates_only && self.resume_from_revision.is_some() {
            return invalid("watch: updates_only and resume_from_revision are exclusive");
        }
        if self.resume_from_revision == Some(0) {
            return invalid("watch: revisions start at 1");
        }
        for key in &self.keys {
            validate_kv_key(key, true)?;
        }
        let filter_subjects = if self.keys.is_empty() || self.keys.iter().any(|k| k == ">") {
            vec![self.kv.read_subject(">")]
        } else {
            self.keys.iter().map(|k| self.kv.read_subject(k)).collect()
        };
        let deliver_policy = match self.resume_from_revision {
            Some(start_sequence) => DeliverPolicy::ByStartSequence { start_sequence },
            None => start,
        };
        Ok(OrderedConsumerConfig {
            filter_subjects,
            deliver_policy,
            headers_only: self.meta_only,
            ..Default::default()
        })
    }

    async fn start(self) -> Result<Watcher> {
        let config = self.consumer_config()?;
        let kv = self.kv;
        let core = WatchCore::start(kv.stream(), config, self.updates_only)
            .await
            .map_err(|e| bucket_not_found(e, kv.bucket()))?;
        Ok(Watcher {
            kv,
            core,
            ignore_deletes: self.ignore_deletes,
        })
    }
}

impl IntoFuture for Watch {
    type Output = Result<Watcher>;
    type IntoFuture = BoxFuture<'static, Result<Watcher>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.start())
    }
}

/// The entries of a watch, from [`Watch`]: a [`Stream`] of `Result<Option<Entry>>`.
///
/// It yields the current entries first, then exactly one `Ok(None)` once they are all
/// delivered (at once when there are none; never with
/// [`updates_only`](Watch::updates_only)), then every change as it is stored. The same entry
/// is never delivered twice, and none is skipped, even across reconnects and server restarts.
///
/// Disconnects, server restarts and lost consumers are recovered from; a warning on the way
/// (e.g. [`HeartbeatMissed`](crate::ErrorKind::HeartbeatMissed) while the server is
/// unreachable) is yielded as an `Err` and the watcher goes on. An error that ends it (e.g.
/// [`BucketNotFound`](crate::ErrorKind::BucketNotFound) once the bucket was deleted, or
/// `ConnectionClosed`) is its last item. Dropping the watcher stops it and removes its
/// consumer from the server.
///
/// ```no_run
/// # async fn run(kv: jetstream::KeyValue) -> Result<(), jetstream::Error> {
/// use futures_util::StreamExt;
///
/// let mut watcher = kv.watch_all().await?;
/// let mut current = Vec::new();
/// while let Some(Some(entry)) = watcher.next().await.transpose()? {
///     current.push(entry);
/// }
/// println!("{} keys now; following changes", current.len());
/// while let Some(entry) = watcher.next().await {
///     if let Some(entry) = entry? {
///         println!("{} -> {:?}", entry.key(), entry.value());
///     }
/// }
/// # Ok(()) }
/// ```
pub struct Watcher {
    kv: KeyValue,
    core: WatchCore,
    ignore_deletes: bool,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("bucket", &self.kv.bucket())
            .field("initial_done", &self.core.initial_done())
            .field("ignore_deletes", &self.ignore_deletes)
            .finish_non_exhaustive()
    }
}

impl Watcher {
    /// Stops the watcher: it yields what already arrived, then ends.
    pub fn stop(&mut self) {
        self.core.stop();
    }
}

impl Stream for Watcher {
    type Item = Result<Option<Entry>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            let msg = match this.core.poll_event(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Ready(Some(Err(e))) => {
                    // A warning, or the error that ends the watch (which then ends too).
                    return Poll::Ready(Some(Err(bucket_not_found(e, this.kv.bucket()))));
                }
                Poll::Ready(Some(Ok(WatchEvent::Marker))) => return Poll::Ready(Some(Ok(None))),
                Poll::Ready(Some(Ok(WatchEvent::Msg(msg)))) => msg,
            };
            let entry = match Entry::from_msg(&this.kv, &msg) {
                Ok(entry) => entry,
                Err(e) => return Poll::Ready(Some(Err(e))),
            };
            if this.ignore_deletes && entry.operation() != Operation::Put {
                continue;
            }
            return Poll::Ready(Some(Ok(Some(entry))));
        }
    }
}
