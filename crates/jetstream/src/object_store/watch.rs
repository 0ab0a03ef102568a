//! Watching a bucket's metadata ([`ObjectWatch`], [`ObjectWatcher`]) and listing its objects
//! ([`ObjectStore::list`], [`ObjectStore::list_objects`]).
//!
//! A watcher is an ordered consumer on `$O.<bucket>.M.>`: by default the latest metadata of
//! every object (deliver last per subject), then one `None` marking the end of the initial
//! values, then live updates; the marker logic is the watcher core shared with the Key/Value
//! store (`crate::watcher`). Dropping a watcher deletes its server-side consumer.

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
use crate::pull::watch_start;
use crate::types::OrderedConsumerConfig;
use crate::watcher::{WatchCore, WatchEvent};

/// Lifetime of a watcher's server-side consumer once nobody reads it (should the
/// clean-up on drop not reach the server).
const WATCH_INACTIVE_THRESHOLD: Duration = Duration::from_secs(60);
/// How long [`ObjectStore::list`] waits for its consumer's deletion.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(1);

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

    async fn start(self) -> Result<ObjectWatcher> {
        let deliver_policy = watch_start(self.updates_only, self.include_history)?;
        let core = WatchCore::start(
            &self.store.stream,
            OrderedConsumerConfig {
                filter_subjects: vec![self.store.all_meta_subject()],
                deliver_policy,
                inactive_threshold: Some(WATCH_INACTIVE_THRESHOLD),
                ..Default::default()
            },
            self.updates_only,
        )
        .await
        .map_err(bucket_error)?;
        Ok(ObjectWatcher {
            core,
            ignore_deletes: self.ignore_deletes,
        })
    }
}

impl IntoFuture for ObjectWatch {
    type Output = Result<ObjectWatcher>;
    type IntoFuture = BoxFuture<'static, Result<ObjectWatcher>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.start())
    }
}

/// The changes to a bucket's objects, from [`ObjectStore::watch`]: a
/// [`futures_core::Stream`] of `Result<Option<ObjectInfo>>`.
///
/// First the current objects (with `modified` set to when their metadata was stored), then
/// exactly one `Ok(None)` marking the end of those initial values (also for an empty bucket;
/// not with [`updates_only`](ObjectWatch::updates_only)), then every change as it happens.
/// Dropping it stops the watch and removes its consumer from the server;
/// [`stop`](Self::stop) ends it without dropping it.
///
/// Disconnects and server restarts are recovered from; a warning on the way is yielded as an
/// `Err` and the watcher goes on. An error that ends it (e.g.
/// [`BucketNotFound`](ErrorKind::BucketNotFound) once the bucket was deleted) is its last
/// item. Metadata that does not decode is skipped (as nats.go does).
///
/// It shares its core with the Key/Value [`Watcher`](crate::kv::Watcher): same marker rule,
/// same recovery.
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
    core: WatchCore,
    ignore_deletes: bool,
}

impl fmt::Debug for ObjectWatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectWatcher")
            .field("initial_done", &self.core.initial_done())
            .field("ignore_deletes", &self.ignore_deletes)
            .finish_non_exhaustive()
    }
}

impl ObjectWatcher {
    /// Stops the watcher: it yields what already arrived, then ends (as Go's
    /// `ObjectWatcher.Stop`).
    ///
    /// ```no_run
    /// # async fn run(store: jetstream::ObjectStore) -> Result<(), jetstream::Error> {
    /// use futures_util::StreamExt;
    ///
    /// let mut watcher = store.watch().await?;
    /// watcher.stop();
    /// while let Some(entry) = watcher.next().await {
    ///     let _ = entry?; // what had already arrived
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stop(&mut self) {
        self.core.stop();
    }
}

impl futures_core::Stream for ObjectWatcher {
    type Item = Result<Option<ObjectInfo>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            let msg = match this.core.poll_event(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(bucket_error(e)))),
                Poll::Ready(Some(Ok(WatchEvent::Marker))) => return Poll::Ready(Some(Ok(None))),
                Poll::Ready(Some(Ok(WatchEvent::Msg(msg)))) => msg,
            };
            let Ok(meta) = msg.metadata() else { continue };
            let info = match ObjectInfo::decode(msg.data(), meta.timestamp) {
                Ok(info) => info,
                Err(e) => {
                    // As nats.go: metadata that does not decode is skipped.
                    tracing::debug!(error = %e, subject = msg.subject(), "object store watch: bad metadata");
                    continue;
                }
            };
            if this.ignore_deletes && info.deleted {
                continue;
            }
            return Poll::Ready(Some(Ok(Some(info))));
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
    /// an empty list. [`list_objects`](Self::list_objects) gives them one by one, and can
    /// include deleted objects.
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
        let mut watcher = self.watch().ignore_deletes().start().await?;
        let timeout = self.js.timeout();
        let mut objects = Vec::new();
        let result = loop {
            match next_listed(&mut watcher, timeout, &self.bucket).await {
                Some(Ok(info)) => objects.push(info),
                Some(Err(e)) => break Err(e),
                None => break Ok(objects),
            }
        };
        // Remove the consumer before returning, so that it is gone once the list is.
        let consumer = watcher.core.consumer();
        drop(watcher);
        consumer.delete_current(CLEANUP_TIMEOUT).await;
        result
    }

    /// The info of every object in the bucket, one by one as they are read (deleted ones
    /// left out unless [`show_deleted`](ListObjects::show_deleted)); await it for an
    /// [`ObjectList`]. An empty bucket gives an empty stream.
    ///
    /// Each next object is awaited at most the context's
    /// [`timeout`](crate::JetStreamOptions::timeout) ([`ErrorKind::Timeout`]); starting is
    /// bounded as [`watch`](Self::watch).
    ///
    /// ```no_run
    /// # async fn run(store: jetstream::ObjectStore) -> Result<(), jetstream::Error> {
    /// use futures_util::StreamExt;
    ///
    /// let mut objects = store.list_objects().show_deleted().await?;
    /// while let Some(info) = objects.next().await {
    ///     let info = info?;
    ///     println!("{}{}", info.name, if info.deleted { " (deleted)" } else { "" });
    /// }
    /// # Ok(()) }
    /// ```
    pub fn list_objects(&self) -> ListObjects {
        ListObjects {
            store: self.clone(),
            show_deleted: false,
        }
    }
}

/// The next object of a listing: `None` at the marker.
async fn next_listed(
    watcher: &mut ObjectWatcher,
    timeout: Duration,
    bucket: &str,
) -> Option<Result<ObjectInfo>> {
    match tokio::time::timeout(timeout, watcher.next()).await {
        Ok(Some(Ok(Some(info)))) => Some(Ok(info)),
        Ok(Some(Ok(None))) => None,
        Ok(Some(Err(e))) => Some(Err(e)),
        Ok(None) => Some(Err(Error::msg(
            ErrorKind::ConnectionClosed,
            "the object listing ended early",
        ))),
        Err(_) => Some(Err(Error::msg(
            ErrorKind::Timeout,
            format!("listing bucket {bucket:?}: no entry within {timeout:?}"),
        ))),
    }
}

/// Options of [`ObjectStore::list_objects`]; await it for an [`ObjectList`].
#[derive(Debug, Clone)]
#[must_use = "a listing does nothing until awaited"]
pub struct ListObjects {
    store: ObjectStore,
    show_deleted: bool,
}

impl ListObjects {
    /// Lists deleted objects too (their tombstones: `deleted: true`, size 0), as Go's
    /// `ListObjectsShowDeleted`.
    pub fn show_deleted(mut self) -> Self {
        self.show_deleted = true;
        self
    }

    async fn start(self) -> Result<ObjectList> {
        let mut watch = self.store.watch();
        if !self.show_deleted {
            watch = watch.ignore_deletes();
        }
        let watcher = watch.start().await?;
        let timeout = self.store.js.timeout();
        let bucket = self.store.bucket.clone();
        let stream = futures_util::stream::unfold(Some(watcher), move |watcher| {
            let bucket = bucket.clone();
            async move {
                let mut watcher = watcher?;
                match next_listed(&mut watcher, timeout, &bucket).await {
                    None => None,
                    Some(Ok(info)) => Some((Ok(info), Some(watcher))),
                    Some(Err(e)) => Some((Err(e), None)),
                }
            }
        })
        .boxed();
        Ok(ObjectList { inner: stream })
    }
}

impl IntoFuture for ListObjects {
    type Output = Result<ObjectList>;
    type IntoFuture = BoxFuture<'static, Result<ObjectList>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.start())
    }
}

/// The objects of a bucket, from [`ObjectStore::list_objects`]: a [`futures_core::Stream`]
/// of `Result<ObjectInfo>`, read lazily. It ends after the last object; an error is its last
/// item. Dropping it early removes its consumer from the server.
pub struct ObjectList {
    inner: BoxStream<'static, Result<ObjectInfo>>,
}

impl fmt::Debug for ObjectList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectList").finish_non_exhaustive()
    }
}

impl futures_core::Stream for ObjectList {
    type Item = Result<ObjectInfo>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
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
        assert_send_unpin::<ListObjects>();
        assert_send_unpin::<ObjectList>();
        fn assert_send<T: Send>(_: &T) {}
        let store: Option<ObjectStore> = None;
        if let Some(store) = store {
            assert_send(&store.list());
        }
    }
}
