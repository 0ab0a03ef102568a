//! Bucket configuration ([`ObjectStoreConfig`]) and status ([`ObjectStoreStatus`]), and how
//! they map to the backing stream `OBJ_<bucket>`.

use std::collections::HashMap;
use std::time::Duration;

use super::STREAM_PREFIX;
use crate::types::{Compression, DiscardPolicy, Placement, StorageType, StreamConfig, StreamInfo};

/// The configuration of an object store bucket.
///
/// ```
/// use std::time::Duration;
/// use jetstream::{ObjectStoreConfig, StorageType};
///
/// let config = ObjectStoreConfig {
///     bucket: "assets".into(),
///     description: Some("build artifacts".into()),
///     ttl: Some(Duration::from_secs(7 * 24 * 3600)),
///     storage: StorageType::File,
///     compression: true,
///     ..Default::default()
/// };
/// # let _ = config;
/// ```
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ObjectStoreConfig {
    /// The bucket name: `[A-Za-z0-9_-]+`.
    pub bucket: String,
    /// A human-readable description.
    pub description: Option<String>,
    /// How long objects are kept (the stream's `max_age`); `None` keeps them forever.
    pub ttl: Option<Duration>,
    /// Maximum size of the bucket in bytes (chunks and metadata); `0` or `-1` unlimited.
    pub max_bytes: i64,
    /// Where the data is stored.
    pub storage: StorageType,
    /// Number of replicas in a cluster; `0` means 1.
    pub num_replicas: usize,
    /// Where to place the replicas in a super-cluster.
    pub placement: Option<Placement>,
    /// Compresses the stored data (S2; server 2.10+).
    pub compression: bool,
    /// Application metadata of the bucket (server 2.10+).
    pub metadata: HashMap<String, String>,
}

impl ObjectStoreConfig {
    /// The stream configuration nats.go writes for this bucket (`prepareObjectStoreConfig`).
    pub(crate) fn to_stream_config(&self) -> StreamConfig {
        let bucket = &self.bucket;
        StreamConfig {
            name: format!("{STREAM_PREFIX}{bucket}"),
            description: self.description.clone(),
            subjects: vec![format!("$O.{bucket}.C.>"), format!("$O.{bucket}.M.>")],
            max_age: self.ttl.unwrap_or_default(),
            max_bytes: if self.max_bytes == 0 {
                -1
            } else {
                self.max_bytes
            },
            storage: self.storage,
            num_replicas: self.num_replicas.max(1),
            placement: self.placement.clone(),
            discard: DiscardPolicy::New,
            allow_rollup_hdrs: true,
            allow_direct: true,
            metadata: self.metadata.clone(),
            compression: if self.compression {
                Compression::S2
            } else {
                Compression::None
            },
            ..Default::default()
        }
    }
}

/// The status of an object store bucket, from [`ObjectStore::status`](super::ObjectStore::status)
/// or [`JetStream::object_stores`](crate::JetStream::object_stores).
///
/// ```no_run
/// # async fn run(store: jetstream::ObjectStore) -> Result<(), jetstream::Error> {
/// let status = store.status().await?;
/// println!("{}: {} bytes, sealed: {}", status.bucket(), status.size(), status.sealed());
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectStoreStatus {
    bucket: String,
    metadata: HashMap<String, String>,
    info: StreamInfo,
}

impl ObjectStoreStatus {
    pub(crate) fn new(bucket: impl Into<String>, info: StreamInfo) -> ObjectStoreStatus {
        // The server adds `_nats.*` keys of its own; show only the application's metadata.
        let metadata = info
            .config
            .metadata
            .iter()
            .filter(|(k, _)| !k.starts_with("_nats"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        ObjectStoreStatus {
            bucket: bucket.into(),
            metadata,
            info,
        }
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The bucket's description.
    pub fn description(&self) -> Option<&str> {
        self.info.config.description.as_deref()
    }

    /// How long objects are kept (the stream's `max_age`); zero means forever.
    pub fn ttl(&self) -> Duration {
        self.info.config.max_age
    }

    /// Where the data is stored.
    pub fn storage(&self) -> StorageType {
        self.info.config.storage
    }

    /// Number of replicas.
    pub fn replicas(&self) -> usize {
        self.info.config.num_replicas
    }

    /// Whether the bucket is sealed (read only).
    pub fn sealed(&self) -> bool {
        self.info.config.sealed
    }

    /// Bytes stored: chunks and metadata messages.
    pub fn size(&self) -> u64 {
        self.info.state.bytes
    }

    /// What backs the bucket: always `"JetStream"`.
    pub fn backing_store(&self) -> &str {
        "JetStream"
    }

    /// The bucket's application metadata (without the server's `_nats.*` keys).
    pub fn metadata(&self) -> &HashMap<String, String> {
        &self.metadata
    }

    /// Whether the data is compressed.
    pub fn is_compressed(&self) -> bool {
        self.info.config.compression != Compression::None
    }

    /// The info of the backing stream `OBJ_<bucket>`.
    pub fn info(&self) -> &StreamInfo {
        &self.info
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_config_matches_nats_go() {
        let config = ObjectStoreConfig {
            bucket: "b".into(),
            ttl: Some(Duration::from_secs(60)),
            compression: true,
            ..Default::default()
        };
        let s = config.to_stream_config();
        assert_eq!(s.name, "OBJ_b");
        assert_eq!(s.subjects, vec!["$O.b.C.>", "$O.b.M.>"]);
        assert_eq!(s.max_age, Duration::from_secs(60));
        assert_eq!(s.max_bytes, -1);
        assert_eq!(s.num_replicas, 1);
        assert_eq!(s.discard, DiscardPolicy::New);
        assert!(s.allow_rollup_hdrs && s.allow_direct);
        assert_eq!(s.compression, Compression::S2);
    }

    #[test]
    fn status_reads_the_stream() {
        let mut info = StreamInfo::default();
        info.config.max_age = Duration::from_secs(5);
        info.config.compression = Compression::S2;
        info.config
            .metadata
            .insert("_nats.ver".into(), "2.12.0".into());
        info.config.metadata.insert("owner".into(), "infra".into());
        info.state.bytes = 42;
        let status = ObjectStoreStatus::new("b", info);
        assert_eq!(status.bucket(), "b");
        assert_eq!(status.ttl(), Duration::from_secs(5));
        assert_eq!(status.size(), 42);
        assert!(status.is_compressed());
        assert_eq!(status.backing_store(), "JetStream");
        assert_eq!(status.metadata().len(), 1);
        assert_eq!(
            ObjectStoreStatus::new("b", StreamInfo::default()).ttl(),
            Duration::ZERO
        );
    }
}
