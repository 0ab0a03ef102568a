//! Object store: large objects kept in a JetStream stream as chunks, with a metadata message
//! per object (ADR-20, interoperable with nats.go and async-nats).
//!
//! A bucket `b` is the stream `OBJ_b` capturing `$O.b.C.>` (chunks) and `$O.b.M.>` (metadata).
//! An object is written as chunk messages on `$O.b.C.<nuid>` (a fresh NUID per upload), then
//! one metadata message ([`ObjectInfo`] as JSON) on `$O.b.M.<base64url(name)>` published with
//! `Nats-Rollup: sub`, so only the newest metadata per name is kept. Replacing an object purges
//! the old chunks once the new metadata is stored; deleting one purges its chunks and leaves
//! a tombstone (`deleted: true`) that watchers see.
//!
//! - [`ObjectStore::put`] streams from any [`tokio::io::AsyncRead`] in chunks (128 KiB by
//!   default), computing the SHA-256 digest on the fly; chunk publishes are pipelined with a
//!   bounded window of acks in flight, so memory stays bounded whatever the object size.
//! - [`ObjectStore::get`] returns an [`Object`], a [`tokio::io::AsyncRead`] fed by an ordered
//!   consumer; the digest, size and chunk count are checked when the last chunk arrives.
//!
//! ```no_run
//! # async fn run(js: jetstream::JetStream) -> Result<(), Box<dyn std::error::Error>> {
//! use jetstream::ObjectStoreConfig;
//! use tokio::io::AsyncReadExt;
//!
//! let store = js
//!     .create_object_store(ObjectStoreConfig {
//!         bucket: "configs".into(),
//!         ..Default::default()
//!     })
//!     .await?;
//! store.put_string("config-1", "first config").await?;
//! let mut object = store.get("config-1").await?;
//! let mut text = String::new();
//! object.read_to_string(&mut text).await?;
//! assert_eq!(text, "first config");
//! # Ok(()) }
//! ```
//!
//! # Cancellation
//!
//! Dropping a [`put`](ObjectStore::put) future before it completes leaves the chunks already
//! sent in the stream without metadata pointing at them (nothing spawns a cleanup task from a
//! drop); the previous version of the object stays intact. Dropping an [`Object`] mid-read is
//! harmless: its server-side consumer expires after 30 s of inactivity.

mod config;
mod digest;
mod get;
mod info;
mod links;
mod put;
mod store_api;
mod watch;
mod wire;

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE;
use base64::Engine as _;

pub use config::{ObjectStoreConfig, ObjectStoreStatus};
pub use get::Object;
pub use info::{ObjectInfo, ObjectLink, ObjectMeta};
pub use store_api::{ObjectStoreNames, ObjectStores};
pub use watch::{ListObjects, ObjectList, ObjectWatch, ObjectWatcher};

use crate::error::{Error, ErrorKind, Result};
use crate::{JetStream, Stream};

/// Prefix of the stream behind a bucket: `OBJ_<bucket>`.
pub(crate) const STREAM_PREFIX: &str = "OBJ_";
/// Chunk size used when [`ObjectMeta::chunk_size`] is not set: 128 KiB.
pub const DEFAULT_CHUNK_SIZE: u32 = 128 * 1024;
/// The header that makes a metadata message replace the older ones of its subject.
const ROLLUP_HEADER: &str = "Nats-Rollup";
const ROLLUP_SUBJECT: &str = "sub";

/// A handle to an object store bucket. Cheap to clone; clones share the connection.
///
/// Get one from [`JetStream::create_object_store`], [`JetStream::object_store`] and friends.
///
/// ```no_run
/// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
/// let store = js.object_store("configs").await?;
/// let info = store.put_bytes("blob.bin", vec![0u8; 1 << 20]).await?;
/// println!("{} bytes in {} chunks, {:?}", info.size, info.chunks, info.digest);
/// let data = store.get_bytes("blob.bin").await?;
/// assert_eq!(data.len(), 1 << 20);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct ObjectStore {
    pub(crate) js: JetStream,
    pub(crate) bucket: Arc<str>,
    pub(crate) stream: Stream,
}

impl ObjectStore {
    pub(crate) fn new(js: JetStream, bucket: &str, stream: Stream) -> ObjectStore {
        ObjectStore {
            js,
            bucket: Arc::from(bucket),
            stream,
        }
    }

    /// The bucket's name.
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
    /// let store = js.object_store("configs").await?;
    /// assert_eq!(store.bucket(), "configs");
    /// # Ok(()) }
    /// ```
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// `$O.<bucket>.C.<nuid>`: the subject of one upload's chunks.
    pub(crate) fn chunk_subject(&self, nuid: &str) -> String {
        format!("$O.{}.C.{nuid}", self.bucket)
    }

    /// `$O.<bucket>.M.<encoded name>`: the subject of an object's metadata.
    pub(crate) fn meta_subject(&self, name: &str) -> String {
        format!("$O.{}.M.{}", self.bucket, encode_object_name(name))
    }

    /// `$O.<bucket>.M.>`: every metadata subject.
    pub(crate) fn all_meta_subject(&self) -> String {
        format!("$O.{}.M.>", self.bucket)
    }

    /// A fresh NUID (22 characters), taken from a new inbox name.
    pub(crate) fn new_nuid(&self) -> String {
        let inbox = self.js.client().new_inbox();
        inbox.rsplit('.').next().unwrap_or(&inbox).to_string()
    }

    /// Purges `subject`, logging (not returning) a failure: used to clean up after a failed
    /// put and to drop the chunks of a replaced version, where the outcome of the operation
    /// does not depend on it.
    pub(crate) async fn purge_quietly(&self, subject: &str) {
        if let Err(e) = self.stream.purge().subject(subject).await {
            tracing::debug!(error = %e, subject, "object store: purge failed");
        }
    }
}

/// The metadata subject token of an object name: base64 URL-safe *with* padding, as nats.go
/// (`base64.URLEncoding`) and async-nats write it.
pub(crate) fn encode_object_name(name: &str) -> String {
    URL_SAFE.encode(name)
}

/// Object names may hold any characters (ADR-6); they only have to be non-empty.
pub(crate) fn validate_object_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::msg(
            ErrorKind::InvalidName,
            "object name must not be empty",
        ));
    }
    Ok(())
}

impl ObjectStore {
    /// A failed write: [`bucket_error`], also when the publish only found no responder (the
    /// stream is then asked whether it still exists).
    pub(crate) async fn write_error(&self, e: Error) -> Error {
        bucket_error(self.stream.explain_no_responders(e).await)
    }
}

/// Maps errors of writes to the bucket's stream to object store kinds: a sealed stream is a
/// sealed bucket, a missing stream a missing bucket.
pub(crate) fn bucket_error(e: Error) -> Error {
    match e.kind() {
        ErrorKind::StreamSealed => e.with_kind(ErrorKind::BucketSealed),
        ErrorKind::StreamNotFound => e.with_kind(ErrorKind::BucketNotFound),
        _ => e,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_encode_as_padded_base64url() {
        assert_eq!(encode_object_name("a"), "YQ==");
        assert_eq!(encode_object_name("BLOB.txt"), "QkxPQi50eHQ=");
        // '+' and '/' of the standard alphabet become '-' and '_'.
        assert_eq!(encode_object_name("\u{fb}\u{ff}"), "w7vDvw==");
        assert_eq!(encode_object_name("??>"), "Pz8-");
        assert_eq!(encode_object_name("???"), "Pz8_");
        for name in ["with space", "a/b\\c", ".*<>:\"|?&", "ünïcödé 🚀", "x.y.z"] {
            let token = encode_object_name(name);
            crate::validate::validate_subject(&format!("$O.b.M.{token}"), false).unwrap();
        }
    }

    #[test]
    fn empty_names_are_refused() {
        assert_eq!(
            validate_object_name("").unwrap_err().kind(),
            ErrorKind::InvalidName
        );
        validate_object_name(" ").unwrap();
    }

    #[test]
    fn handles_are_send_sync() {
        fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
        assert_send_sync::<ObjectStore>();
    }
}
