//! Reading objects: [`ObjectStore::get`] returns an [`Object`], an [`AsyncRead`] fed chunk by
//! chunk by an ordered consumer on `$O.<bucket>.C.<nuid>`.
//!
//! The reader knows from the metadata how many chunks and bytes to expect, so it never waits
//! for data that can not come: a chunk with nothing pending after it before the count is
//! reached means the object was truncated or deleted, and whenever no chunk arrives for a few
//! seconds the reader checks whether the object is still there and its next chunk stored.
//! Every wait is bounded.

use std::fmt;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tracing::Instrument;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};
use tokio::time::Instant;

use super::digest::{corrupt, to_io, verify_digest};
use super::put::window_for;
use super::{bucket_error, ObjectInfo, ObjectStore};
use crate::error::{Error, ErrorKind, Result};
use crate::types::{DeliverPolicy, OrderedConsumerConfig};
use crate::{Messages, OrderedConsumer};

/// How long the reader waits for a chunk before checking that the object is still there.
const STALL_CHECK: Duration = Duration::from_secs(2);
/// How long links may chain.
const MAX_LINK_DEPTH: usize = 8;
/// Lifetime of the reader's server-side consumer once it is no longer pulled from.
const READER_INACTIVE_THRESHOLD: Duration = Duration::from_secs(30);
/// How long to try deleting the reader's consumer once done.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(1);

/// An object being read: a [`tokio::io::AsyncRead`] over its data, from
/// [`ObjectStore::get`].
///
/// The data is checked when the last chunk arrives: its SHA-256 against the digest, and its
/// size and chunk count against the metadata. A mismatch, or an object deleted, replaced or
/// truncated while being read, fails the read with an [`io::Error`] that wraps a
/// [`jetstream::Error`](crate::Error): [`ErrorKind::DigestMismatch`] (as
/// [`io::ErrorKind::InvalidData`]), [`ErrorKind::ObjectNotFound`] (as
/// [`io::ErrorKind::NotFound`]) or [`ErrorKind::Timeout`] (as [`io::ErrorKind::TimedOut`]).
/// Get it back with [`Error::from_io`](crate::Error::from_io) or
/// `io_error.get_ref().and_then(|e| e.downcast_ref::<jetstream::Error>())`. A corrupt
/// object's last chunk is never handed out.
///
/// Dropping an `Object` before its end is fine: it unsubscribes, and the ephemeral consumer
/// that fed it (objects of more than one chunk) is removed by the server once it has been
/// inactive for 30 s (it is deleted at once only when the read reaches the end or fails).
///
/// ```no_run
/// # async fn run(store: jetstream::ObjectStore) -> Result<(), Box<dyn std::error::Error>> {
/// use tokio::io::AsyncReadExt;
///
/// let mut object = store.get("config-1").await?;
/// println!("{} bytes", object.info().size);
/// let mut data = Vec::new();
/// object.read_to_end(&mut data).await?;
/// # Ok(()) }
/// ```
pub struct Object {
    info: ObjectInfo,
    chunks: BoxStream<'static, Result<Bytes>>,
    current: Bytes,
    finished: bool,
}

impl fmt::Debug for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Object")
            .field("info", &self.info)
            .field("buffered", &self.current.len())
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl Object {
    /// The object's info (for an object reached through a link: the target's).
    pub fn info(&self) -> &ObjectInfo {
        &self.info
    }

    async fn open(store: ObjectStore, info: ObjectInfo) -> Result<Object> {
        let reader = ChunkReader::start(store, info.clone()).await?;
        let chunks = futures_util::stream::unfold(reader, |mut reader| async move {
            let item = reader.next_chunk().await?;
            Some((item, reader))
        })
        .boxed();
        Ok(Object {
            info,
            chunks,
            current: Bytes::new(),
            finished: false,
        })
    }
}

impl AsyncRead for Object {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if !this.current.is_empty() {
                let n = this.current.len().min(buf.remaining());
                buf.put_slice(&this.current.split_to(n));
                return Poll::Ready(Ok(()));
            }
            if this.finished || buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            match this.chunks.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => this.current = chunk,
                Poll::Ready(Some(Err(e))) => {
                    this.finished = true;
                    return Poll::Ready(Err(to_io(e)));
                }
                Poll::Ready(None) => {
                    this.finished = true;
                    return Poll::Ready(Ok(()));
                }
            }
        }
    }
}

/// Where the chunks come from.
enum Source {
    /// Nothing to read (no chunks).
    Empty,
    /// A single chunk: one direct get.
    Single,
    /// An ordered consumer filtered on the chunk subject.
    Consumer {
        consumer: OrderedConsumer,
        messages: Messages,
    },
}

/// The chunk-by-chunk reading state behind an [`Object`].
struct ChunkReader {
    store: ObjectStore,
    info: ObjectInfo,
    subject: String,
    source: Option<Source>,
    hasher: Sha256,
    chunks: u32,
    bytes: u64,
    last_seq: u64,
    stall_limit: Duration,
}

enum Progress {
    /// The next chunk is stored: keep waiting for the consumer.
    Available,
    /// The object can not be completed.
    Failed(Error),
}

impl ChunkReader {
    async fn start(store: ObjectStore, info: ObjectInfo) -> Result<ChunkReader> {
        let subject = store.chunk_subject(&info.nuid);
        let source = match info.chunks {
            0 => Source::Empty,
            1 => Source::Single,
            _ => {
                let consumer = store
                    .stream
                    .ordered_consumer(OrderedConsumerConfig {
                        filter_subjects: vec![subject.clone()],
                        deliver_policy: DeliverPolicy::All,
                        inactive_threshold: Some(READER_INACTIVE_THRESHOLD),
                        max_reset_attempts: Some(10),
                        ..Default::default()
                    })
                    .await
                    .map_err(bucket_error)?;
                let estimate = match info.chunk_size {
                    Some(n) => n as usize,
                    None => usize::try_from(info.size.div_ceil(u64::from(info.chunks)))
                        .unwrap_or(usize::MAX),
                };
                let messages = consumer
                    .messages()
                    .max_messages(window_for(estimate))
                    .expiry(Duration::from_secs(10))
                    .heartbeat(Duration::from_secs(2))
                    .await
                    .map_err(bucket_error)?;
                Source::Consumer { consumer, messages }
            }
        };
        let stall_limit = (store.js.timeout() * 6).max(Duration::from_secs(10));
        Ok(ChunkReader {
            store,
            info,
            subject,
            source: Some(source),
            hasher: Sha256::new(),
            chunks: 0,
            bytes: 0,
            last_seq: 0,
            stall_limit,
        })
    }

    /// The next chunk; `None` after the last one (or after an error).
    async fn next_chunk(&mut self) -> Option<Result<Bytes>> {
        loop {
            let source = self.source.take()?;
            let result = match source {
                Source::Empty => self.finish().map(|()| Bytes::new()),
                Source::Single => self.single().await,
                Source::Consumer { consumer, messages } => {
                    self.read_consumer(consumer, messages).await
                }
            };
            match result {
                // An empty chunk hands nothing to the reader: go on, or end.
                Ok(chunk) if chunk.is_empty() => continue,
                other => return Some(other),
            }
        }
    }

    /// Checks the totals and the digest once every chunk was read.
    fn finish(&mut self) -> Result<()> {
        if self.chunks != self.info.chunks || self.bytes != self.info.size {
            return Err(corrupt(format!(
                "received a corrupt object: {} bytes in {} chunks, expected {} bytes in {}",
                self.bytes, self.chunks, self.info.size, self.info.chunks
            )));
        }
        let hasher = std::mem::take(&mut self.hasher);
        verify_digest(self.info.digest.as_deref(), &hasher.finalize())
    }

    fn take_chunk(&mut self, data: &Bytes) -> Result<()> {
        self.chunks += 1;
        self.bytes += data.len() as u64;
        if self.chunks > self.info.chunks || self.bytes > self.info.size {
            return Err(corrupt(format!(
                "received a corrupt object: more data than its {} bytes in {} chunks",
                self.info.size, self.info.chunks
            )));
        }
        self.hasher.update(data);
        Ok(())
    }

    async fn single(&mut self) -> Result<Bytes> {
        let msg = self
            .store
            .stream
            .get_last_msg_for_subject(&self.subject)
            .await
            .map_err(|e| match e.kind() {
                ErrorKind::MessageNotFound => self.gone_error(),
                _ => bucket_error(e),
            })?;
        self.take_chunk(&msg.payload)?;
        self.finish()?;
        Ok(msg.payload)
    }

    fn gone_error(&self) -> Error {
        gone_error(&self.info)
    }

    /// The next chunk from the consumer; the consumer is kept for the next call, or deleted
    /// once the last chunk arrived or reading failed.
    async fn read_consumer(
        &mut self,
        consumer: OrderedConsumer,
        mut messages: Messages,
    ) -> Result<Bytes> {
        match self.next_message(&mut messages).await {
            Ok(data) if self.chunks < self.info.chunks => {
                self.source = Some(Source::Consumer { consumer, messages });
                Ok(data)
            }
            done => {
                messages.stop();
                drop(messages);
                consumer.delete_current(CLEANUP_TIMEOUT).await;
                done
            }
        }
    }

    async fn next_message(&mut self, messages: &mut Messages) -> Result<Bytes> {
        let mut last_progress = Instant::now();
        loop {
            let next = tokio::time::timeout(STALL_CHECK, messages.next()).await;
            let msg = match next {
                Ok(Some(Ok(msg))) => msg,
                // A warning: the ordered consumer recovers on its own.
                Ok(Some(Err(e))) if e.kind() == ErrorKind::HeartbeatMissed => continue,
                Ok(Some(Err(e))) => return Err(bucket_error(e)),
                Ok(None) => {
                    return Err(Error::msg(
                        ErrorKind::ConnectionClosed,
                        "the object's chunks stopped arriving",
                    ))
                }
                Err(_) => {
                    if let Progress::Failed(e) = self.check_progress().await {
                        return Err(e);
                    }
                    if last_progress.elapsed() >= self.stall_limit {
                        return Err(Error::msg(
                            ErrorKind::Timeout,
                            format!(
                                "no chunk of object {:?} arrived in {:?}",
                                self.info.name, self.stall_limit
                            ),
                        ));
                    }
                    continue;
                }
            };
            last_progress = Instant::now();
            let Some((stream_seq, pending)) = msg.numbers().map(|n| (n.stream_seq, n.pending))
            else {
                continue;
            };
            self.last_seq = stream_seq;
            let data = msg.data().clone();
            self.take_chunk(&data)?;
            if self.chunks == self.info.chunks {
                self.finish()?;
                return Ok(data);
            }
            if pending == 0 {
                // Nothing stored after this chunk, yet chunks are missing.
                return Err(match self.check_progress().await {
                    Progress::Failed(e) => e,
                    Progress::Available => self.truncated_error(),
                });
            }
            return Ok(data);
        }
    }

    /// Checks, when no chunk comes, whether one can still come. Only `Sync` parts of the
    /// reader are borrowed across the wait, so the reading future stays `Send`.
    fn check_progress(&self) -> impl std::future::Future<Output = Progress> + Send + '_ {
        check_progress(
            &self.store,
            &self.info,
            &self.subject,
            self.chunks,
            self.last_seq,
        )
    }

    fn truncated_error(&self) -> Error {
        truncated_error(self.chunks, &self.info)
    }
}

fn truncated_error(chunks: u32, info: &ObjectInfo) -> Error {
    corrupt(format!(
        "received a corrupt object: only {chunks} of {} chunks are stored",
        info.chunks
    ))
}

/// The object's chunk went missing: deleted, replaced or truncated.
fn gone_error(info: &ObjectInfo) -> Error {
    Error::msg(
        ErrorKind::ObjectNotFound,
        format!(
            "the data of object {:?} is gone: it was deleted or replaced while being read",
            info.name
        ),
    )
}

/// Whether the object can still be completed: its metadata still points at these chunks and
/// the next chunk is stored. Unreachable servers count as "keep waiting".
async fn check_progress(
    store: &ObjectStore,
    info: &ObjectInfo,
    subject: &str,
    chunks: u32,
    last_seq: u64,
) -> Progress {
    match store.info_inner(&info.name, true).await {
        Ok(current) if current.nuid != info.nuid || current.deleted => {
            return Progress::Failed(gone_error(info))
        }
        _ => {}
    }
    match store
        .stream
        .get_next_msg_for_subject(subject, last_seq + 1)
        .await
    {
        Err(e) if e.kind() == ErrorKind::MessageNotFound => {
            if chunks == 0 {
                Progress::Failed(gone_error(info))
            } else {
                Progress::Failed(truncated_error(chunks, info))
            }
        }
        Err(e) if e.kind() == ErrorKind::StreamNotFound => Progress::Failed(bucket_error(e)),
        _ => Progress::Available,
    }
}

impl ObjectStore {
    /// Opens an object for reading. Links are followed, also into other buckets; a link to a
    /// whole bucket can not be read ([`ErrorKind::InvalidArgument`]). Missing or deleted:
    /// [`ErrorKind::ObjectNotFound`]. See [`Object`] for how the data is checked.
    ///
    /// ```no_run
    /// # async fn run(store: jetstream::ObjectStore) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut object = store.get("videos/launch.mp4").await?;
    /// let mut file = tokio::fs::File::create("launch.mp4").await?;
    /// tokio::io::copy(&mut object, &mut file).await?;
    /// # Ok(()) }
    /// ```
    pub async fn get(&self, name: impl AsRef<str>) -> Result<Object> {
        let span = crate::observe::object("get", self.bucket(), name.as_ref());
        async move {
            let (store, info) = self.resolve(name.as_ref(), false).await?;
            Object::open(store, info).await
        }
        .instrument(span)
        .await
    }

    /// Opens an object for reading, also when it was deleted (as Go's `Get` with
    /// `GetObjectShowDeleted`): a deleted object reads as empty, and its
    /// [`info`](Object::info) is the tombstone (`deleted: true`). Missing:
    /// [`ErrorKind::ObjectNotFound`]. Links are followed as by [`get`](Self::get); only the
    /// name given may be deleted, not a link's target.
    ///
    /// ```no_run
    /// # async fn run(store: jetstream::ObjectStore) -> Result<(), jetstream::Error> {
    /// let object = store.get_with_deleted("old.log").await?;
    /// if object.info().deleted {
    ///     println!("deleted at {}", object.info().modified);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn get_with_deleted(&self, name: impl AsRef<str>) -> Result<Object> {
        let span = crate::observe::object("get", self.bucket(), name.as_ref());
        async move {
            let (store, info) = self.resolve(name.as_ref(), true).await?;
            Object::open(store, info).await
        }
        .instrument(span)
        .await
    }

    /// The object's info and store, following links.
    async fn resolve(&self, name: &str, with_deleted: bool) -> Result<(ObjectStore, ObjectInfo)> {
        let mut store = self.clone();
        let mut info = store.info_inner(name, with_deleted).await?;
        for _ in 0..MAX_LINK_DEPTH {
            let Some(link) = info.link.clone() else {
                return Ok((store, info));
            };
            let Some(target) = link.name else {
                return Err(Error::msg(
                    ErrorKind::InvalidArgument,
                    format!(
                        "object {:?} is a link to bucket {:?}: it has no data",
                        info.name, link.bucket
                    ),
                ));
            };
            if link.bucket != store.bucket() {
                store = self.js.object_store(&link.bucket).await?;
            }
            info = store.info_inner(&target, false).await?;
        }
        Err(Error::msg(
            ErrorKind::InvalidArgument,
            format!("object {name:?}: links nest more than {MAX_LINK_DEPTH} deep"),
        ))
    }

    /// Reads a whole object into memory.
    ///
    /// ```no_run
    /// # async fn run(store: jetstream::ObjectStore) -> Result<(), jetstream::Error> {
    /// let data = store.get_bytes("blob.bin").await?;
    /// println!("{} bytes", data.len());
    /// # Ok(()) }
    /// ```
    pub async fn get_bytes(&self, name: impl AsRef<str>) -> Result<Bytes> {
        let mut object = self.get(name).await?;
        // Trust the size for the allocation only up to a point.
        let hint = usize::try_from(object.info.size.min(256 << 20)).unwrap_or(0);
        let mut data = Vec::with_capacity(hint);
        object
            .read_to_end(&mut data)
            .await
            .map_err(Error::from_io)?;
        Ok(Bytes::from(data))
    }

    /// Reads a whole object as UTF-8 text (not UTF-8: [`ErrorKind::InvalidArgument`]).
    ///
    /// ```no_run
    /// # async fn run(store: jetstream::ObjectStore) -> Result<(), jetstream::Error> {
    /// let text = store.get_string("config-2").await?;
    /// assert_eq!(text, "second config");
    /// # Ok(()) }
    /// ```
    pub async fn get_string(&self, name: impl AsRef<str>) -> Result<String> {
        let data = self.get_bytes(name).await?;
        String::from_utf8(data.to_vec()).map_err(|e| {
            Error::with_source(ErrorKind::InvalidArgument, e)
                .with_message("the object is not valid UTF-8")
        })
    }

    /// Writes the object `name` to the file at `path` (created or truncated), as Go's
    /// `GetFile`: the object name and the path are independent, so an object stored by
    /// [`put_path`](Self::put_path) under its path is read back with that same path as
    /// `name`. If reading fails, the partly written file is removed. File errors:
    /// [`ErrorKind::Io`].
    ///
    /// Cancel safety: dropping the future mid-way leaves the partly written file in place.
    ///
    /// ```no_run
    /// # async fn run(store: jetstream::ObjectStore) -> Result<(), jetstream::Error> {
    /// store.get_file("videos/launch.mp4", "/tmp/launch.mp4").await?;
    /// # Ok(()) }
    /// ```
    pub async fn get_file(&self, name: impl AsRef<str>, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let mut object = self.get(name).await?;
        let io_error = |e: io::Error| {
            Error::with_source(ErrorKind::Io, e)
                .with_message(format!("can not write {}", path.display()))
        };
        let mut file = tokio::fs::File::create(path).await.map_err(io_error)?;
        let copied = async {
            tokio::io::copy(&mut object, &mut file)
                .await
                .map_err(Error::from_io)?;
            file.flush().await.map_err(io_error)?;
            file.sync_all().await.map_err(io_error)
        }
        .await;
        if copied.is_err() {
            drop(file);
            let _ = tokio::fs::remove_file(path).await;
        }
        copied
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_is_send_and_unpin() {
        fn assert_send_unpin<T: Send + Unpin + 'static>() {}
        assert_send_unpin::<Object>();
    }
}
