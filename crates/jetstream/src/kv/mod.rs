//! Key/Value store: buckets of keys with revisions, history and watchers, built on streams.
//!
//! A bucket `b` is the stream `KV_b` capturing `$KV.b.>`; the value of key `k` is the newest
//! message on `$KV.b.k`, and its revision is that message's stream sequence. Deletes and purges
//! write markers (headers `KV-Operation: DEL` / `PURGE`), so watchers see them and history is
//! kept (purge removes the older revisions of the key).
//!
//! ```no_run
//! # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
//! use futures_util::StreamExt;
//! use jetstream::KeyValueConfig;
//!
//! let kv = js
//!     .create_key_value(KeyValueConfig {
//!         bucket: "profiles".into(),
//!         history: 5,
//!         ..Default::default()
//!     })
//!     .await?;
//! let revision = kv.put("sue.color", "blue").await?;
//! kv.update("sue.color", "red", revision).await?;
//! let entry = kv.get("sue.color").await?;
//! println!("{} @ {} -> {:?}", entry.key(), entry.revision(), entry.value());
//!
//! let mut watcher = kv.watch("sue.*").await?;
//! while let Some(update) = watcher.next().await {
//!     match update? {
//!         Some(entry) => println!("{} is now {:?}", entry.key(), entry.value()),
//!         None => println!("(all current values seen)"),
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Consistency: reads use direct gets, which any replica (or mirror) may answer, so a read
//! right after a write on another replica may return the previous value.

mod bucket;
mod config;
mod entry;
mod keys;
mod ops;
mod status;
mod typed;
mod watch;

use std::sync::Arc;

use crate::error::{Error, ErrorKind};
use crate::stream::Stream;
use crate::validate::validate_kv_key;

pub use bucket::{KeyValueNames, KeyValueStores};
pub use config::KeyValueConfig;
pub use entry::{Entry, Operation};
pub use keys::{History, Keys, ListHistory, ListKeys};
pub use ops::{Delete, Purge, PurgeDeletes};
pub use status::KeyValueStatus;
pub use typed::{Codec, Json, TypedEntry, TypedKeyValue, TypedWatcher};
pub use watch::{Watch, Watcher};

/// Prefix of the stream behind a bucket.
pub(crate) const STREAM_PREFIX: &str = "KV_";

/// A handle to a Key/Value bucket. Cheap to clone; clones share the connection.
///
/// Get one from [`JetStream::create_key_value`](crate::JetStream::create_key_value) or
/// [`JetStream::key_value`](crate::JetStream::key_value).
///
/// ```no_run
/// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
/// let kv = js.key_value("profiles").await?;
/// kv.put("sue.color", "blue").await?;
/// let entry = kv.get("sue.color").await?;
/// assert_eq!(entry.value().as_ref(), b"blue");
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct KeyValue {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The bucket name (without `KV_`); shared with the entries read from it.
    bucket: Arc<str>,
    /// The stream `KV_<bucket>`.
    stream: Stream,
    /// Where keys live inside the stream: `$KV.<bucket>.`, or `$KV.<origin>.` for a mirror.
    read_prefix: String,
    /// Where writes are published: `read_prefix`, behind the API prefix when JetStream is
    /// reached through a domain or import, or the mirror origin's external API.
    write_prefix: String,
    /// `<api>.DIRECT.GET.<stream>.<read_prefix>`: a key appended, the direct get of its
    /// latest entry.
    direct_get_prefix: String,
}

impl KeyValue {
    /// A handle for the bucket behind `stream` (whose info is cached in the handle).
    pub(crate) fn from_stream(bucket: &str, stream: Stream) -> KeyValue {
        let info = stream.cached_info();
        let js = stream.context();
        let custom_prefix = js.api_prefix() != "$JS.API";
        let (read_prefix, write_prefix) = match &info.config.mirror {
            Some(mirror) => {
                let origin = mirror
                    .name
                    .strip_prefix(STREAM_PREFIX)
                    .unwrap_or(&mirror.name);
                let read = format!("$KV.{origin}.");
                let write = match mirror.external.as_ref().map(|e| e.api_prefix.as_str()) {
                    Some(api) if !api.is_empty() => {
                        format!("{}.{read}", api.trim_end_matches('.'))
                    }
                    _ if custom_prefix => format!("{}.{read}", js.api_prefix()),
                    _ => read.clone(),
                };
                (read, write)
            }
            None => {
                let read = format!("$KV.{bucket}.");
                let write = if custom_prefix {
                    format!("{}.{read}", js.api_prefix())
                } else {
                    read.clone()
                };
                (read, write)
            }
        };
        let direct_get_prefix =
            js.api_subject(&format!("DIRECT.GET.{}.{read_prefix}", stream.name()));
        KeyValue {
            inner: Arc::new(Inner {
                bucket: Arc::from(bucket),
                stream,
                read_prefix,
                write_prefix,
                direct_get_prefix,
            }),
        }
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.inner.bucket
    }

    /// The bucket's name, shared (an entry keeps it without a copy).
    pub(crate) fn bucket_shared(&self) -> Arc<str> {
        self.inner.bucket.clone()
    }

    /// The stream behind the bucket (`KV_<bucket>`), e.g. for its
    /// [`cached_info`](Stream::cached_info).
    pub fn stream(&self) -> &Stream {
        &self.inner.stream
    }

    /// The subject a key is stored under inside the stream.
    pub(crate) fn read_subject(&self, key: &str) -> String {
        concat(&self.inner.read_prefix, key)
    }

    /// The subject a write of `key` is published to.
    pub(crate) fn write_subject(&self, key: &str) -> String {
        concat(&self.inner.write_prefix, key)
    }

    /// The direct-get API subject of `key`'s latest entry.
    pub(crate) fn direct_get_subject(&self, key: &str) -> String {
        concat(&self.inner.direct_get_prefix, key)
    }

    /// The key of a subject stored in the stream.
    pub(crate) fn key_of<'a>(&self, subject: &'a str) -> &'a str {
        subject
            .strip_prefix(self.inner.read_prefix.as_str())
            .unwrap_or(subject)
    }
}

/// Checks a key used for a write or a get.
pub(crate) fn check_key(key: &str) -> Result<(), Error> {
    validate_kv_key(key, false)
}

/// `prefix` then `key`, in one allocation of the right size.
fn concat(prefix: &str, key: &str) -> String {
    let mut s = String::with_capacity(prefix.len() + key.len());
    s.push_str(prefix);
    s.push_str(key);
    s
}

/// `StreamNotFound` means the bucket is gone.
pub(crate) fn bucket_not_found(e: Error, bucket: &str) -> Error {
    if e.kind() == ErrorKind::StreamNotFound {
        e.with_kind(ErrorKind::BucketNotFound)
            .with_message(format!("{bucket:?}"))
    } else {
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_and_builders_are_send_sync_static() {
        fn handle<T: Clone + Send + Sync + 'static>() {}
        fn builder<T: Send + 'static>() {}
        fn stream<T: Send + Unpin + 'static>() {}
        handle::<KeyValue>();
        builder::<Delete>();
        builder::<Purge>();
        builder::<PurgeDeletes>();
        builder::<Watch>();
        builder::<ListKeys>();
        builder::<ListHistory>();
        stream::<Watcher>();
        stream::<Keys>();
        stream::<History>();
        stream::<KeyValueNames>();
        stream::<KeyValueStores>();
    }
}
