//! Writing objects: [`ObjectStore::put`] and its helpers for bytes, strings and files.
//!
//! The reader is consumed one chunk at a time (bytes given whole to
//! [`ObjectStore::put_bytes`] are cut into slices instead: no chunk is copied). Each chunk
//! is hashed and sent with an asynchronous publish; up to a window of acks (64 chunks, at
//! most 8 MiB of chunks) is awaited lazily, oldest first, so the upload is pipelined rather
//! than one round trip per chunk, and memory stays bounded whatever the object size.
//!
//! The first chunk goes alone, as a synchronous publish: it is retried while no stream
//! answers (as every synchronous publish is, see [`crate::Publish::retry_attempts`]), which
//! happens to a store created a moment ago in a cluster, before its subjects reached every
//! server. Only once it is stored do the others follow, so a retry can never put a chunk
//! behind a later one. One round trip more for a multi-chunk object; none for a single chunk,
//! whose ack was awaited before the metadata anyway.

use std::collections::VecDeque;
use std::io;
use std::path::Path;
use tracing::Instrument;

use bytes::{Bytes, BytesMut};
use jiff::Timestamp;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::digest::format_digest;
use super::DEFAULT_CHUNK_SIZE;
use super::{bucket_error, validate_object_name, ObjectInfo, ObjectMeta, ObjectStore};
use crate::error::{Error, ErrorKind, Result};
use crate::publish::PubAckFuture;

/// At most this many chunk acks in flight per put.
const MAX_WINDOW_CHUNKS: usize = 64;
/// ... and at most this many bytes of chunks in flight.
const MAX_WINDOW_BYTES: usize = 8 * 1024 * 1024;

/// How many chunks of `chunk_size` may wait for their ack at once.
pub(crate) fn window_for(chunk_size: usize) -> usize {
    (MAX_WINDOW_BYTES / chunk_size.max(1)).clamp(2, MAX_WINDOW_CHUNKS)
}

/// What an upload produced.
struct Uploaded {
    size: u64,
    chunks: u32,
    digest: String,
}

impl ObjectStore {
    /// Stores an object read from `reader`, replacing any object of the same name.
    ///
    /// The data is split into chunks of [`ObjectMeta::chunk_size`] (128 KiB by default),
    /// published with a bounded window of acks in flight while its SHA-256 is computed; the
    /// metadata is published last. The first chunk goes alone and is retried while no stream
    /// answers (as a synchronous [`publish`](crate::JetStream::publish) is), so a bucket
    /// created a moment ago in a cluster takes its first put. The chunks of a replaced version
    /// are purged only after the new metadata is stored. On failure the chunks sent so far are
    /// purged and the previous version stays as it was. Errors: an empty name
    /// ([`ErrorKind::InvalidName`]), a sealed bucket ([`ErrorKind::BucketSealed`]), reading
    /// ([`ErrorKind::Io`]), publishing.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe. Dropping the future while chunks are being sent leaves those chunks
    /// in the bucket's stream under a fresh chunk subject that no metadata points to: the
    /// object and its previous version are unchanged, but the chunks take space until the
    /// bucket's stream is purged or they age out (`ttl`); no clean-up runs on drop. Dropped
    /// after the new metadata was stored but before the old version's chunks were purged,
    /// the new version is in place and the old chunks stay behind the same way. The same
    /// holds for [`put_bytes`](Self::put_bytes), [`put_string`](Self::put_string) and
    /// [`put_file`](Self::put_file).
    ///
    /// ```no_run
    /// # async fn run(store: jetstream::ObjectStore) -> Result<(), Box<dyn std::error::Error>> {
    /// use jetstream::ObjectMeta;
    ///
    /// let file = tokio::fs::File::open("video.mp4").await?;
    /// let meta = ObjectMeta {
    ///     name: "videos/launch.mp4".into(),
    ///     chunk_size: Some(512 * 1024),
    ///     ..Default::default()
    /// };
    /// let info = store.put(meta, file).await?;
    /// println!("{} bytes, {}", info.size, info.digest.unwrap_or_default());
    /// # Ok(()) }
    /// ```
    pub async fn put(
        &self,
        meta: impl Into<ObjectMeta>,
        reader: impl AsyncRead + Unpin,
    ) -> Result<ObjectInfo> {
        self.put_inner(meta.into(), Source::Reader(reader)).await
    }

    /// Stores `data` under `name`.
    ///
    /// ```no_run
    /// # async fn run(store: jetstream::ObjectStore) -> Result<(), jetstream::Error> {
    /// let info = store.put_bytes("blob.bin", vec![1u8, 2, 3]).await?;
    /// assert_eq!(info.size, 3);
    /// # Ok(()) }
    /// ```
    pub async fn put_bytes(
        &self,
        name: impl Into<String>,
        data: impl Into<Bytes>,
    ) -> Result<ObjectInfo> {
        // The chunks are slices of `data`: nothing is copied.
        let source: Source<tokio::io::Empty> = Source::Bytes(data.into());
        self.put_inner(ObjectMeta::from(name.into()), source).await
    }

    /// Stores the text `data` under `name`.
    ///
    /// ```no_run
    /// # async fn run(store: jetstream::ObjectStore) -> Result<(), jetstream::Error> {
    /// store.put_string("config-2", "second config").await?;
    /// # Ok(()) }
    /// ```
    pub async fn put_string(&self, name: impl Into<String>, data: &str) -> Result<ObjectInfo> {
        self.put_inner(
            ObjectMeta::from(name.into()),
            Source::Reader(data.as_bytes()),
        )
        .await
    }

    /// Stores the file at `path`, named after its file name (`"dir/a.txt"` is stored as
    /// `"a.txt"`). A missing file: [`ErrorKind::Io`]. To name the object after the whole
    /// path, as Go's `PutFile` does, use [`put_path`](Self::put_path).
    ///
    /// ```no_run
    /// # async fn run(store: jetstream::ObjectStore) -> Result<(), jetstream::Error> {
    /// let info = store.put_file("/etc/hosts").await?;
    /// assert_eq!(info.name, "hosts");
    /// # Ok(()) }
    /// ```
    pub async fn put_file(&self, path: impl AsRef<Path>) -> Result<ObjectInfo> {
        let path = path.as_ref();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| {
                Error::msg(
                    ErrorKind::InvalidArgument,
                    format!("{} has no file name", path.display()),
                )
            })?;
        self.put_file_as(path, name).await
    }

    /// Stores the file at `path`, named after the path exactly as given, as Go's `PutFile`
    /// does (`"dir/a.txt"` is stored as `"dir/a.txt"`, `"/etc/hosts"` as `"/etc/hosts"`), so
    /// Go and Rust clients sharing a bucket agree on the name; read it back with
    /// [`get_file`](Self::get_file) and the same path. A missing file: [`ErrorKind::Io`]; a
    /// path that is not UTF-8: [`ErrorKind::InvalidArgument`] (object names are text).
    ///
    /// ```no_run
    /// # async fn run(store: jetstream::ObjectStore) -> Result<(), jetstream::Error> {
    /// let info = store.put_path("/etc/hosts").await?;
    /// assert_eq!(info.name, "/etc/hosts");
    /// store.get_file("/etc/hosts", "/tmp/hosts.copy").await?;
    ///
    /// // Under another name:
    /// let file = tokio::fs::File::open("/etc/hosts").await.map_err(jetstream::Error::from_io)?;
    /// store.put("hosts", file).await?;
    /// # Ok(()) }
    /// ```
    pub async fn put_path(&self, path: impl AsRef<Path>) -> Result<ObjectInfo> {
        let path = path.as_ref();
        let name = path.to_str().map(str::to_string).ok_or_else(|| {
            Error::msg(
                ErrorKind::InvalidArgument,
                format!(
                    "{} is not valid UTF-8: it can not name an object",
                    path.display()
                ),
            )
        })?;
        self.put_file_as(path, name).await
    }

    /// Stores the file at `path` as `name`, the name checked before the file is opened.
    async fn put_file_as(&self, path: &Path, name: String) -> Result<ObjectInfo> {
        validate_object_name(&name)?;
        let file = tokio::fs::File::open(path).await.map_err(|e| {
            Error::with_source(ErrorKind::Io, e)
                .with_message(format!("can not open {}", path.display()))
        })?;
        self.put_inner(ObjectMeta::from(name), Source::Reader(file))
            .await
    }

    async fn put_inner<R: AsyncRead + Unpin>(
        &self,
        meta: ObjectMeta,
        mut source: Source<R>,
    ) -> Result<ObjectInfo> {
        let span = crate::observe::object("put", self.bucket(), &meta.name);
        async move {
            validate_object_name(&meta.name)?;
            let chunk_size = match meta.chunk_size {
                None | Some(0) => DEFAULT_CHUNK_SIZE,
                Some(n) => n,
            };
            let previous = match self.info_inner(&meta.name, true).await {
                Ok(info) => Some(info),
                Err(e) if e.kind() == ErrorKind::ObjectNotFound => None,
                Err(e) => return Err(e),
            };
            let nuid = self.new_nuid();
            let chunk_subject = self.chunk_subject(&nuid);
            let uploaded = match self
                .upload(&chunk_subject, chunk_size as usize, &mut source)
                .await
            {
                Ok(uploaded) => uploaded,
                Err((e, sent_any)) => {
                    if sent_any {
                        self.purge_quietly(&chunk_subject).await;
                    }
                    return Err(e);
                }
            };
            let mut info = ObjectInfo {
                name: meta.name,
                description: meta.description,
                bucket: self.bucket.to_string(),
                nuid,
                size: uploaded.size,
                chunks: uploaded.chunks,
                modified: Timestamp::now(),
                digest: Some(uploaded.digest),
                deleted: false,
                link: None,
                headers: meta.headers.filter(|h| !h.is_empty()),
                metadata: meta.metadata,
                chunk_size: Some(chunk_size),
            };
            if let Err(e) = self.publish_meta(&info).await {
                if uploaded.chunks > 0 {
                    self.purge_quietly(&chunk_subject).await;
                }
                return Err(e);
            }
            if let Some(old) = previous {
                if !old.deleted && !old.is_link() && !old.nuid.is_empty() && old.nuid != info.nuid {
                    self.purge_quietly(&self.chunk_subject(&old.nuid)).await;
                }
            }
            info.modified = Timestamp::now();
            Ok(info)
        }
        .instrument(span)
        .await
    }

    /// Sends the chunks; on failure, returns the error and whether anything may have been
    /// stored (after every ack in flight resolved, so a purge comes after them).
    async fn upload<R: AsyncRead + Unpin>(
        &self,
        subject: &str,
        chunk_size: usize,
        source: &mut Source<R>,
    ) -> std::result::Result<Uploaded, (Error, bool)> {
        let window = window_for(chunk_size);
        let mut in_flight: VecDeque<PubAckFuture> = VecDeque::with_capacity(window);
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut chunks = 0u32;
        let sent = async {
            loop {
                let chunk = source.next_chunk(chunk_size).await.map_err(|e| {
                    Error::with_source(ErrorKind::Io, e).with_message("reading the object failed")
                })?;
                if chunk.is_empty() {
                    break;
                }
                let last = chunk.len() < chunk_size;
                hasher.update(&chunk);
                size += chunk.len() as u64;
                chunks = chunks.checked_add(1).ok_or_else(|| {
                    Error::msg(
                        ErrorKind::InvalidArgument,
                        "object has more chunks than fit in a u32: use a larger chunk size",
                    )
                })?;
                if chunks == 1 {
                    // Alone, and retried while no stream answers (see the module's doc).
                    self.js
                        .publish(subject, chunk)
                        .await
                        .map_err(bucket_error)?;
                } else {
                    if in_flight.len() >= window {
                        if let Some(ack) = in_flight.pop_front() {
                            ack.await.map_err(bucket_error)?;
                        }
                    }
                    let ack = self
                        .js
                        .publish_async(subject, chunk)
                        .await
                        .map_err(bucket_error)?;
                    in_flight.push_back(ack);
                }
                if last {
                    break;
                }
            }
            while let Some(ack) = in_flight.pop_front() {
                ack.await.map_err(bucket_error)?;
            }
            Ok::<(), Error>(())
        }
        .await;
        match sent {
            Ok(()) => Ok(Uploaded {
                size,
                chunks,
                digest: format_digest(&hasher.finalize()),
            }),
            Err(e) => {
                // Each ack is bounded by the publish timeout.
                for ack in in_flight {
                    let _ = ack.await;
                }
                Err((self.write_error(e).await, chunks > 0))
            }
        }
    }
}

/// Where the chunks of a put come from.
enum Source<R> {
    /// Read from a reader, each chunk into a buffer of its own.
    Reader(R),
    /// Bytes already in memory: each chunk is a slice of them, nothing is copied.
    Bytes(Bytes),
}

impl<R: AsyncRead + Unpin> Source<R> {
    /// The next chunk of up to `size` bytes: a shorter one is the last, an empty one means
    /// there is nothing left.
    async fn next_chunk(&mut self, size: usize) -> io::Result<Bytes> {
        match self {
            Source::Reader(reader) => read_chunk(reader, size).await,
            Source::Bytes(rest) => Ok(rest.split_to(size.min(rest.len()))),
        }
    }
}

/// Reads up to `size` bytes: a shorter chunk means the reader is at its end. The buffer
/// is not zeroed first: the reader fills it.
async fn read_chunk<R: AsyncRead + Unpin>(reader: &mut R, size: usize) -> io::Result<Bytes> {
    let mut buf = BytesMut::with_capacity(size);
    while buf.len() < size {
        // `read_buf` reads at most the spare capacity, which is exactly what is missing.
        match reader.read_buf(&mut buf).await {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(buf.freeze())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn window_is_bounded_by_chunks_and_bytes() {
        assert_eq!(window_for(128 * 1024), 64);
        assert_eq!(window_for(1024 * 1024), 8);
        assert_eq!(window_for(64 * 1024 * 1024), 2);
        assert_eq!(window_for(1), 64);
    }

    #[tokio::test]
    async fn chunks_fill_up_across_short_reads() {
        // A reader that returns at most 3 bytes per read still gives full chunks.
        let data: Vec<u8> = (0..20u8).collect();
        let mut reader = tokio_test_reader(&data);
        let first = read_chunk(&mut reader, 8).await.unwrap();
        assert_eq!(&first[..], &data[..8]);
        let second = read_chunk(&mut reader, 8).await.unwrap();
        assert_eq!(&second[..], &data[8..16]);
        let last = read_chunk(&mut reader, 8).await.unwrap();
        assert_eq!(&last[..], &data[16..]);
        assert!(read_chunk(&mut reader, 8).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn bytes_are_chunked_as_slices_without_copies() {
        let data = Bytes::from((0..20u8).collect::<Vec<u8>>());
        let mut source: Source<tokio::io::Empty> = Source::Bytes(data.clone());
        let first = source.next_chunk(8).await.unwrap();
        assert_eq!(&first[..], &data[..8]);
        // The same memory as the caller's bytes.
        assert_eq!(first.as_ptr(), data.as_ptr());
        assert_eq!(&source.next_chunk(8).await.unwrap()[..], &data[8..16]);
        assert_eq!(&source.next_chunk(8).await.unwrap()[..], &data[16..]);
        assert!(source.next_chunk(8).await.unwrap().is_empty());

        // An exact multiple ends with an empty chunk, as a reader does.
        let mut exact: Source<tokio::io::Empty> = Source::Bytes(data.slice(..16));
        assert_eq!(exact.next_chunk(8).await.unwrap().len(), 8);
        assert_eq!(exact.next_chunk(8).await.unwrap().len(), 8);
        assert!(exact.next_chunk(8).await.unwrap().is_empty());
    }

    fn tokio_test_reader(data: &[u8]) -> impl AsyncRead + Unpin + '_ {
        struct Trickle<'a>(&'a [u8]);
        impl AsyncRead for Trickle<'_> {
            fn poll_read(
                mut self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> std::task::Poll<io::Result<()>> {
                let n = self.0.len().min(3).min(buf.remaining());
                buf.put_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                std::task::Poll::Ready(Ok(()))
            }
        }
        Trickle(data)
    }
}
