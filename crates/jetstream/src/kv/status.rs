//! [`KeyValueStatus`]: a bucket's configuration and usage.

use std::collections::HashMap;
use std::time::Duration;

use super::{bucket_not_found, KeyValue, KeyValueConfig, STREAM_PREFIX};
use crate::error::Result;
use crate::types::{Compression, StreamInfo};

impl KeyValue {
    /// The bucket's current status, fetched from the server (never cached).
    ///
    /// ```no_run
    /// # async fn run(kv: jetstream::KeyValue) -> Result<(), jetstream::Error> {
    /// let status = kv.status().await?;
    /// println!(
    ///     "{}: {} entries, {} bytes, history {}",
    ///     status.bucket(),
    ///     status.values(),
    ///     status.bytes(),
    ///     status.history()
    /// );
    /// # Ok(()) }
    /// ```
    pub async fn status(&self) -> Result<KeyValueStatus> {
        let info = self
            .stream()
            .info()
            .await
            .map_err(|e| bucket_not_found(e, self.bucket()))?;
        Ok(KeyValueStatus::new(self.bucket().to_string(), info))
    }
}

/// The configuration and usage of a bucket, from [`KeyValue::status`] or
/// [`JetStream::key_value_stores`](crate::JetStream::key_value_stores).
#[derive(Clone, Debug, PartialEq)]
pub struct KeyValueStatus {
    bucket: String,
    metadata: HashMap<String, String>,
    info: StreamInfo,
}

impl KeyValueStatus {
    pub(crate) fn new(bucket: String, info: StreamInfo) -> KeyValueStatus {
        // The server adds `_nats.*` keys of its own; show only the application's metadata,
        // as the object store's status does.
        let metadata = info
            .config
            .metadata
            .iter()
            .filter(|(k, _)| !k.starts_with("_nats"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        KeyValueStatus {
            bucket,
            metadata,
            info,
        }
    }

    /// The status of the bucket behind a stream, if it is a bucket's stream.
    pub(crate) fn from_stream_info(info: StreamInfo) -> Option<KeyValueStatus> {
        let bucket = info.config.name.strip_prefix(STREAM_PREFIX)?.to_string();
        Some(KeyValueStatus::new(bucket, info))
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The bucket's description.
    pub fn description(&self) -> Option<&str> {
        self.info.config.description.as_deref()
    }

    /// How many entries are stored (revisions of all keys, markers included).
    pub fn values(&self) -> u64 {
        self.info.state.messages
    }

    /// How many revisions are kept per key.
    pub fn history(&self) -> i64 {
        self.info.config.max_msgs_per_subject
    }

    /// How long values are kept; zero means forever.
    pub fn ttl(&self) -> Duration {
        self.info.config.max_age
    }

    /// How long the markers of expired values are kept; `None` when the bucket has no limit
    /// markers.
    pub fn limit_marker_ttl(&self) -> Option<Duration> {
        let ttl = self.info.config.subject_delete_marker_ttl;
        (!ttl.is_zero()).then_some(ttl)
    }

    /// The size of the stored data, in bytes.
    pub fn bytes(&self) -> u64 {
        self.info.state.bytes
    }

    /// What stores the bucket: always `"JetStream"`.
    pub fn backing_store(&self) -> &str {
        "JetStream"
    }

    /// Whether the stored data is compressed.
    pub fn is_compressed(&self) -> bool {
        self.info.config.compression != Compression::None
    }

    /// The bucket's application metadata, without the server's `_nats.*` entries (those
    /// stay in [`stream_info`](Self::stream_info)), as
    /// [`ObjectStoreStatus::metadata`](crate::ObjectStoreStatus::metadata).
    pub fn metadata(&self) -> &HashMap<String, String> {
        &self.metadata
    }

    /// The bucket's configuration, read back from its stream (as Go's
    /// `KeyValueStatus.Config()`): e.g. to change one setting with
    /// [`update_key_value`](crate::JetStream::update_key_value). Unlimited sizes read as
    /// `-1`; `mirror` and `sources` are the stream's (names with `KV_`), which
    /// `update_key_value` takes as they are; `metadata` is [`metadata`](Self::metadata).
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream, kv: jetstream::KeyValue) -> Result<(), jetstream::Error> {
    /// let mut config = kv.status().await?.config();
    /// config.description = Some("profiles of every user".into());
    /// js.update_key_value(config).await?;
    /// # Ok(()) }
    /// ```
    pub fn config(&self) -> KeyValueConfig {
        let c = &self.info.config;
        let non_zero = |d: Duration| (!d.is_zero()).then_some(d);
        KeyValueConfig {
            bucket: self.bucket.clone(),
            description: c.description.clone(),
            max_value_size: c.max_msg_size,
            history: c.max_msgs_per_subject,
            ttl: non_zero(c.max_age),
            max_bytes: c.max_bytes,
            storage: c.storage,
            num_replicas: c.num_replicas,
            placement: c.placement.clone(),
            republish: c.republish.clone(),
            mirror: c.mirror.clone(),
            sources: c.sources.clone(),
            compression: c.compression != Compression::None,
            limit_marker_ttl: non_zero(c.subject_delete_marker_ttl),
            metadata: self.metadata.clone(),
        }
    }

    /// The info of the stream behind the bucket.
    pub fn stream_info(&self) -> &StreamInfo {
        &self.info
    }
}
