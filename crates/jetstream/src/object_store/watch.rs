//! Watching a bucket's metadata ([`ObjectWatch`], [`ObjectWatcher`]) and listing its objects
//! ([`ObjectStore::list`]).
//!
//! A watcher is an ordered consumer on `$O.<bucket>.M.>`: by default the latest metadata of
//! every object (deliver last per subject), then one `None` marking the end of the initial
//! values, then live updates. The marker comes when a delivered entry has nothing pending
//! after it, or at once when the consumer starts with nothing pending (an empty bucket).
//! Dropping a watcher deletes its server-side consumer.

use std::fmt;
use std::future::IntoFuture;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;

use super::{bucket_error, ObjectInfo, ObjectStore};
use crate::error::{Error, ErrorKind, Result};
use crate::pull::{watch_start, DeleteOnDrop};
use crate::types::OrderedConsumerConfig;
use crate::{Messages, OrderedConsumer};

/// Lifetime of a watcher's server-side consumer once it is no longer pulled from (should the
/// clean-up on drop not reach the server).
const WATCH_INACTIVE_THRESHOLD: Duration = Duration::from_secs(60);

/// Options of [`ObjectStore::watch`]; await it for an [`ObjectWatcher`].
///
/// ```no_run
/// # async fn run(store: jetstream::ObjectStore) -> Result<(), jetstream::Error> {
/// use futures_util::StreamExt;
///
/// let mut watcher = store.watch().ignore_deletes().await?;
/// while let Some(entry) = watcher.next().await {
///     match entry? {
///         Some(info) => println!("{} changed ({} bytes)", info.name, info.size),
///         None => println!("initial values done"),
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a watch does nothing until awaited"]
pub struct ObjectWatch {
    store: ObjectStore,
    include_history: bool,
    ignore_deletes: bool,
    updates_only: bool,
}

impl ObjectWatch {
    /// Delivers every stored version of the metadata first, not only the latest per object.
    /// Exclusive with [`updates_only`](Self::updates_only).
    pub fn include_history(mut self) -> Self {
        self.include_history = true;
        self
    }

    /// Skips deleted objects (tombstones).
    pub fn ignore_deletes(mut self) -> Self {
        self.ignore_deletes = true;
        self
    }

    /// Delivers only changes made from now on: no initial values and no `None` marker.
    /// Exclusive with [`include_history`](Self::include_history).
    pub fn updates_only(mut self) -> Self {
        self.updates_only = true;
        self
    }

    async fn start(self) -> Result<(OrderedConsumer, ObjectWatcher)> {
        let deliver_policy = watch_start(self.updates_only, self.include_history)?;
        let consumer = self
            .store
            .stream
            .watch_consumer(OrderedConsumerConfig {
                filter_subjects: vec![self.store.all_meta_subject()],
                deliver_policy,
                inactive_threshold: Some(WATCH_INACTIVE_THRESHOLD),
                ..Default::default()
            })
            .await
            .map_err(bucket_error)?;
        let nothing_pending = consumer.cached_info().num_pending == 0;
        let messages = consumer.messages().await.map_err(bucket_error)?;
        let state = WatchState {
            messages,
            marker_due: !self.updates_only && nothing_pending,
            initial_done: self.updates_only || nothing_pending,
            ignore_deletes: self.ignore_deletes,
        };
        let entries = futures_util::stream::unfold(state, |mut state| async move {
            let item = state.next_entry().await?;
            Some((item, state))
        })
        .boxed();
        let cleanup = consumer.delete_on_drop();
        Ok((
            consumer,
            ObjectWatcher {
                entries,
                _cleanup: cleanup,
            },
        ))
    }
}

impl IntoFuture for ObjectWatch {
    type Output = Result<ObjectWatcher>;
    type IntoFuture = BoxFuture<'static, Result<ObjectWatcher>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { self.start().await.map(|(_, watcher)| watcher) })
    }
}

/// The changes to a bucket's objects, from [`ObjectStore::watch`]: a
/// [`futures_core::Stream`] of `Result<Option<ObjectInfo>>`.
///
/// First the current objects (with `modified` set to when their metadata was stored), then
/// exactly one `Ok(None)` marking the end of those initial values (also for an empty bucket;
/// not with [`updates_only`](ObjectWatch::updates_only)), then every change as it happens.
/// Dropping it stops the watch and removes its consumer from the server.
///
/// Disconnects and server restarts are recovered from; a warning on the way (e.g.
/// [`HeartbeatMissed`](ErrorKind::HeartbeatMissed)) is yielded as an `Err` and the watcher
/// goes on. An error that ends it (e.g. [`BucketNotFound`](ErrorKind::BucketNotFound) once
/// the bucket was deleted) is its last item.
///
/// ```no_run
/// # async fn run(store: jetstream::ObjectStore) -> Result<(), jetstream::Error> {
/// use futures_util::StreamExt;
///
/// let mut watcher = store.watch().updates_only().await?;
/// if let Some(Ok(Some(info))) = watcher.next().await {
///     println!("{} was {}", info.name, if info.deleted { "deleted" } else { "written" });
/// }
/// # Ok(()) }
/// ```
pub struct ObjectWatcher {
    entries: BoxStream<'static, Result<Option<ObjectInfo>>>,
    /// Dropped with the watcher, which triggers the clean-up task.
    _cleanup: DeleteOnDrop,
}

impl fmt::Debug for ObjectWatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectWatcher").finish_non_exhaustive()
    }
}

impl futures_core::Stream for ObjectWatcher {
    type Item = Result<Option<ObjectInfo>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.entries.poll_next_unpin(cx)
    }
}

struct WatchState {
    messages: Messages,
    /// The `None` marker is to be yielded next.
    marker_due: bool,
    /// The marker was sent (or is not wanted).
    initial_done: bool,
    ignore_deletes: bool,
}

impl WatchState {
    async fn next_entry(&mut self) -> Option<Result<Option<ObjectInfo>>> {
        loop {
            if self.marker_due {
                self.marker_due = false;
                self.initial_done = true;
                return Some(Ok(None));
            }
            let msg = match self.messages.next().await? {
                Ok(msg) => msg,
                // A warning: the ordered consumer recovers on its own.
                Err(e) if e.kind() == ErrorKind::HeartbeatMissed => continue,
                Err(e) => return Some(Err(bucket_error(e))),
            };
            let Ok(meta) = msg.metadata() else { continue };
            if !self.initial_done && meta.num_pending == 0 {
                self.marker_due = true;
            }
            let info = match ObjectInfo::decode(msg.data(), meta.timestamp) {
                Ok(info) => info,
                Err(e) => {
                    // As nats.go: metadata that does not decode is skipped.
                    tracing::debug!(error = %e, subject = msg.subject(), "object store watch: bad metadata");
                    continue;
                }
            };
            if self.ignore_deletes && info.deleted {
                continue;
            }
            return Some(Ok(Some(info)));
        }
    }
}

impl ObjectStore {
    /// Watches the bucket's objects; see [`ObjectWatcher`] for what it yields. Options:
    /// [`include_history`](ObjectWatch::include_history),
    /// [`ignore_deletes`](ObjectWatch::ignore_deletes),
    /// [`updates_only`](ObjectWatch::updates_only).
    ///
    /// Starting waits at most twice the context's
    /// [`timeout`](crate::JetStreamOptions::timeout) for the watcher's consumer (retrying
    /// what may pass, e.g. a lost reply), then fails with [`ErrorKind::Timeout`]; a deleted
    /// bucket: [`ErrorKind::BucketNotFound`].
    ///
    /// ```no_run
    /// # async fn run(store: jetstream::ObjectStore) -> Result<(), jetstream::Error> {
    /// use futures_util::StreamExt;
    ///
    /// let mut watcher = store.watch().await?;
    /// while let Some(Ok(Some(info))) = watcher.next().await {
    ///     println!("{}", info.name);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn watch(&self) -> ObjectWatch {
        ObjectWatch {
            store: self.clone(),
            include_history: false,
            ignore_deletes: false,
            updates_only: false,
        }
    }

    /// The info of every object in the bucket (deleted ones left out); an empty bucket gives
    /// an empty list.
    ///
    /// Bounded by the context's [`timeout`](crate::JetStreamOptions::timeout): it waits at
    /// most twice that for its consumer (as [`watch`](Self::watch)) and at most that for each
    /// next object, then fails with [`ErrorKind::Timeout`]. Any error the watch reports ends
    /// the listing with that error (a deleted bucket: [`ErrorKind::BucketNotFound`]).
    ///
    /// ```no_run
    /// # async fn run(store: jetstream::ObjectStore) -> Result<(), jetstream::Error> {
    /// for info in store.list().await? {
    ///     println!("{}: {} bytes", info.name, info.size);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list(&self) -> Result<Vec<ObjectInfo>> {
        let (consumer, mut watcher) = self.watch().ignore_deletes().start().await?;
        let timeout = self.js.timeout();
        let mut objects = Vec::new();
        let result = loop {
            match tokio::time::timeout(timeout, watcher.next()).await {
                Ok(Some(Ok(Some(info)))) => objects.push(info),
                Ok(Some(Ok(None))) => break Ok(objects),
                Ok(Some(Err(e))) => break Err(e),
                Ok(None) => {
                    break Err(Error::msg(
                        ErrorKind::ConnectionClosed,
                        "the object listing ended early",
                    ))
                }
                Err(_) => {
                    break Err(Error::msg(
                        ErrorKind::Timeout,
                        format!(
                            "listing bucket {:?}: no entry within {timeout:?}",
                            self.bucket
                        ),
                    ))
                }
            }
        };
        drop(watcher);
        let name = consumer.cached_info().name.clone();
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            self.js.delete_consumer(self.stream.name(), &name),
        )
        .await;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_types_are_send() {
        fn assert_send_unpin<T: Send + Unpin + 'static>() {}
        assert_send_unpin::<ObjectWatcher>();
        assert_send_unpin::<ObjectWatch>();
        assert_send_unpin::<<ObjectWatch as IntoFuture>::IntoFuture>();
    }
}
