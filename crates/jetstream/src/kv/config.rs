//! [`KeyValueConfig`] and the stream configuration it maps to.

use std::collections::HashMap;
use std::time::Duration;

use super::STREAM_PREFIX;
use crate::error::{Error, ErrorKind, Result};
use crate::types::{
    Compression, DiscardPolicy, Placement, RePublish, StorageType, StreamConfig, StreamSource,
    SubjectTransform,
};
use crate::validate::validate_bucket_name;

/// Most revisions a bucket can keep per key.
pub(crate) const MAX_HISTORY: i64 = 64;

/// Duplicate window of a bucket without a shorter TTL.
const DEFAULT_DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// The configuration of a Key/Value bucket.
///
/// Build it with a struct literal and `..Default::default()`; only `bucket` is required.
///
/// ```
/// use std::time::Duration;
/// use jetstream::KeyValueConfig;
///
/// let config = KeyValueConfig {
///     bucket: "sessions".into(),
///     history: 3,
///     ttl: Some(Duration::from_secs(3600)),
///     ..Default::default()
/// };
/// # let _ = config;
/// ```
///
/// It is turned into the configuration of the stream `KV_<bucket>` capturing `$KV.<bucket>.>`
/// (allow rollups and direct gets, deny deletes, discard new), as every NATS client does, so
/// buckets are shared with other clients.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeyValueConfig {
    /// The bucket name: `A-Z`, `a-z`, `0-9`, `_` and `-`.
    pub bucket: String,
    /// A human-readable description.
    pub description: Option<String>,
    /// Largest value accepted, in bytes; `0` (or `-1`) means unlimited.
    pub max_value_size: i32,
    /// How many revisions are kept per key: 1 to 64; `0` means 1.
    pub history: i64,
    /// How long a value is kept; `None` (or zero) means forever.
    pub ttl: Option<Duration>,
    /// Largest total size of the bucket, in bytes; `0` (or `-1`) means unlimited. When it is
    /// reached, writes are refused.
    pub max_bytes: i64,
    /// Where the bucket is stored (default file).
    pub storage: StorageType,
    /// Number of replicas in a cluster; `0` means 1.
    pub num_replicas: usize,
    /// Where to place the bucket's replicas.
    pub placement: Option<Placement>,
    /// Republishes every write to another subject.
    pub republish: Option<RePublish>,
    /// Makes this bucket a read replica of another bucket (its name, with or without `KV_`;
    /// in another JetStream domain: set the source's `domain`). Reads are served locally;
    /// writes go to the origin bucket.
    ///
    /// The mirror's stream gets `mirror_direct`, as nats.go and async-nats set it (so there
    /// is no field for it): once caught up, the mirror also answers direct gets of the origin
    /// bucket in its own domain, so reads of the origin may be served by a mirror that
    /// lags a little behind. For an origin the server can see it decides this by itself;
    /// for one in another domain only the client's setting makes the mirror serve them.
    ///
    /// ```
    /// use jetstream::{KeyValueConfig, StreamSource};
    ///
    /// let replica = KeyValueConfig {
    ///     bucket: "profiles-replica".into(),
    ///     mirror: Some(StreamSource {
    ///         name: "profiles".into(),
    ///         domain: Some("hub".into()),
    ///         ..Default::default()
    ///     }),
    ///     ..Default::default()
    /// };
    /// # let _ = replica;
    /// ```
    pub mirror: Option<StreamSource>,
    /// Buckets (or, with explicit `subject_transforms`, any streams) whose entries are copied
    /// into this one. A source without transforms is taken as a bucket: `KV_` is prefixed to
    /// its name and its keys are mapped into this bucket.
    pub sources: Vec<StreamSource>,
    /// Compresses the stored data (S2; server 2.10+).
    pub compression: bool,
    /// Enables per-key TTLs and limit markers (server 2.11+): when a key's value is removed
    /// by its TTL or the bucket's `ttl`, the server leaves a marker (seen by watchers as a
    /// purge) kept this long. At least 1 s; `None` (or zero) disables it.
    pub limit_marker_ttl: Option<Duration>,
    /// Application metadata.
    pub metadata: HashMap<String, String>,
}

impl KeyValueConfig {
    /// The stream configuration of the bucket, checked before anything is sent.
    pub(crate) fn to_stream_config(&self) -> Result<StreamConfig> {
        validate_bucket_name(&self.bucket)?;
        let invalid = |why: String| {
            Err(Error::msg(
                ErrorKind::InvalidConfig,
                format!("bucket {:?}: {why}", self.bucket),
            ))
        };
        let history = match self.history {
            0 => 1,
            h if !(1..=MAX_HISTORY).contains(&h) => {
                return invalid(format!("history must be 1 to {MAX_HISTORY}, not {h}"))
            }
            h => h,
        };
        let limit_marker_ttl = self.limit_marker_ttl.unwrap_or_default();
        if !limit_marker_ttl.is_zero() && limit_marker_ttl < Duration::from_secs(1) {
            return invalid("limit_marker_ttl must be at least 1 s".into());
        }
        if self.mirror.is_some() && !self.sources.is_empty() {
            return invalid("a mirror can not have sources".into());
        }
        let max_age = self.ttl.unwrap_or_default();
        let duplicate_window = if !max_age.is_zero() && max_age < DEFAULT_DUPLICATE_WINDOW {
            max_age
        } else {
            DEFAULT_DUPLICATE_WINDOW
        };
        let minus_one_if_zero = |v: i64| if v == 0 { -1 } else { v };
        let mut config = StreamConfig {
            name: format!("{STREAM_PREFIX}{}", self.bucket),
            description: self.description.clone(),
            max_msgs_per_subject: history,
            max_bytes: minus_one_if_zero(self.max_bytes),
            max_age,
            max_msg_size: if self.max_value_size == 0 {
                -1
            } else {
                self.max_value_size
            },
            max_msgs: -1,
            max_consumers: -1,
            storage: self.storage,
            num_replicas: self.num_replicas.max(1),
            placement: self.placement.clone(),
            republish: self.republish.clone(),
            compression: if self.compression {
                Compression::S2
            } else {
                Compression::None
            },
            metadata: self.metadata.clone(),
            allow_rollup_hdrs: true,
            deny_delete: true,
            allow_direct: true,
            discard: DiscardPolicy::New,
            duplicate_window,
            allow_msg_ttl: !limit_marker_ttl.is_zero(),
            subject_delete_marker_ttl: limit_marker_ttl,
            ..Default::default()
        };
        if let Some(mirror) = &self.mirror {
            let mut mirror = mirror.clone();
            mirror.name = with_stream_prefix(&mirror.name);
            config.mirror = Some(mirror);
            config.mirror_direct = true;
        } else {
            config.subjects = vec![format!("$KV.{}.>", self.bucket)];
            config.sources = self
                .sources
                .iter()
                .map(|source| self.map_source(source))
                .collect();
        }
        Ok(config)
    }

    /// A source without transforms is a bucket: prefix its stream name and map its keys into
    /// this bucket (unless it is the same bucket in another domain or account).
    fn map_source(&self, source: &StreamSource) -> StreamSource {
        if !source.subject_transforms.is_empty() {
            return source.clone();
        }
        let mut source = source.clone();
        let origin = source
            .name
            .strip_prefix(STREAM_PREFIX)
            .unwrap_or(&source.name)
            .to_string();
        source.name = with_stream_prefix(&origin);
        let remote = source.external.is_some() || source.domain.is_some();
        if !(remote && origin == self.bucket) {
            source.subject_transforms = vec![SubjectTransform {
                source: format!("$KV.{origin}.>"),
                destination: format!("$KV.{}.>", self.bucket),
            }];
        }
        source
    }
}

fn with_stream_prefix(name: &str) -> String {
    if name.starts_with(STREAM_PREFIX) {
        name.to_string()
    } else {
        format!("{STREAM_PREFIX}{name}")
    }
}

/// Whether an existing bucket's stream is the desired one once the `discard` and
/// `allow_direct` settings that old clients did not set are ignored (such buckets are then
/// repaired with an update). Compares the fields the bucket config controls, with the server's
/// normalisation of `0` limits to `-1` and replicas to 1.
pub(crate) fn same_apart_from_legacy(existing: &StreamConfig, desired: &StreamConfig) -> bool {
    let limit = |v: i64| if v == 0 { -1 } else { v };
    let size = |v: i32| if v == 0 { -1 } else { v };
    let mirror_name = |c: &StreamConfig| c.mirror.as_ref().map(|m| m.name.clone());
    let user_metadata = |c: &StreamConfig| {
        c.metadata
            .iter()
            .filter(|(k, _)| !k.starts_with("_nats"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<HashMap<_, _>>()
    };
    existing.subjects == desired.subjects
        && existing.description == desired.description
        && existing.max_msgs_per_subject == desired.max_msgs_per_subject
        && existing.max_age == desired.max_age
        && limit(existing.max_bytes) == limit(desired.max_bytes)
        && size(existing.max_msg_size) == size(desired.max_msg_size)
        && existing.storage == desired.storage
        && existing.num_replicas.max(1) == desired.num_replicas.max(1)
        && existing.compression == desired.compression
        && existing.allow_rollup_hdrs == desired.allow_rollup_hdrs
        && existing.deny_delete == desired.deny_delete
        && existing.allow_msg_ttl == desired.allow_msg_ttl
        && existing.subject_delete_marker_ttl == desired.subject_delete_marker_ttl
        && mirror_name(existing) == mirror_name(desired)
        && existing.republish == desired.republish
        && user_metadata(existing) == user_metadata(desired)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn defaults_map_to_the_kv_stream() {
        let config = KeyValueConfig {
            bucket: "b".into(),
            ..Default::default()
        }
        .to_stream_config()
        .unwrap();
        assert_eq!(config.name, "KV_b");
        assert_eq!(config.subjects, vec!["$KV.b.>".to_string()]);
        assert_eq!(config.max_msgs_per_subject, 1);
        assert_eq!((config.max_bytes, config.max_msg_size), (-1, -1));
        assert_eq!((config.max_msgs, config.max_consumers), (-1, -1));
        assert_eq!(config.num_replicas, 1);
        assert_eq!(config.discard, DiscardPolicy::New);
        assert!(config.allow_rollup_hdrs && config.deny_delete && config.allow_direct);
        assert!(!config.deny_purge && !config.allow_msg_ttl);
        assert_eq!(config.duplicate_window, Duration::from_secs(120));
        assert_eq!(config.compression, Compression::None);
        assert_eq!(config.max_age, Duration::ZERO);
    }

    #[test]
    fn options_map_to_stream_fields() {
        let config = KeyValueConfig {
            bucket: "b".into(),
            history: 64,
            ttl: Some(Duration::from_secs(30)),
            max_bytes: 1000,
            max_value_size: 100,
            compression: true,
            num_replicas: 3,
            limit_marker_ttl: Some(Duration::from_secs(5)),
            ..Default::default()
        }
        .to_stream_config()
        .unwrap();
        assert_eq!(config.max_msgs_per_subject, 64);
        assert_eq!(config.max_age, Duration::from_secs(30));
        assert_eq!(config.duplicate_window, Duration::from_secs(30));
        assert_eq!((config.max_bytes, config.max_msg_size), (1000, 100));
        assert_eq!(config.compression, Compression::S2);
        assert_eq!(config.num_replicas, 3);
        assert!(config.allow_msg_ttl);
        assert_eq!(config.subject_delete_marker_ttl, Duration::from_secs(5));
    }

    #[test]
    fn invalid_configs_are_refused() {
        let kind = |c: KeyValueConfig| c.to_stream_config().unwrap_err().kind();
        let base = KeyValueConfig {
            bucket: "b".into(),
            ..Default::default()
        };
        assert_eq!(
            kind(KeyValueConfig {
                bucket: "a.b".into(),
                ..Default::default()
            }),
            ErrorKind::InvalidName
        );
        assert_eq!(
            kind(KeyValueConfig {
                history: 65,
                ..base.clone()
            }),
            ErrorKind::InvalidConfig
        );
        assert_eq!(
            kind(KeyValueConfig {
                history: -1,
                ..base.clone()
            }),
            ErrorKind::InvalidConfig
        );
        assert_eq!(
            kind(KeyValueConfig {
                limit_marker_ttl: Some(Duration::from_millis(500)),
                ..base
            }),
            ErrorKind::InvalidConfig
        );
    }

    #[test]
    fn mirrors_and_sources() {
        let mirror = KeyValueConfig {
            bucket: "m".into(),
            mirror: Some(StreamSource {
                name: "origin".into(),
                ..Default::default()
            }),
            ..Default::default()
        }
        .to_stream_config()
        .unwrap();
        assert!(mirror.subjects.is_empty());
        assert_eq!(mirror.mirror.unwrap().name, "KV_origin");
        assert!(mirror.mirror_direct);

        let sourced = KeyValueConfig {
            bucket: "s".into(),
            sources: vec![
                StreamSource {
                    name: "KV_a".into(),
                    ..Default::default()
                },
                StreamSource {
                    name: "events".into(),
                    subject_transforms: vec![SubjectTransform {
                        source: "events.>".into(),
                        destination: "$KV.s.>".into(),
                    }],
                    ..Default::default()
                },
            ],
            ..Default::default()
        }
        .to_stream_config()
        .unwrap();
        assert_eq!(sourced.subjects, vec!["$KV.s.>".to_string()]);
        assert_eq!(sourced.sources[0].name, "KV_a");
        assert_eq!(
            sourced.sources[0].subject_transforms,
            vec![SubjectTransform {
                source: "$KV.a.>".into(),
                destination: "$KV.s.>".into()
            }]
        );
        assert_eq!(sourced.sources[1].name, "events");
        assert_eq!(sourced.sources[1].subject_transforms.len(), 1);
    }

    #[test]
    fn legacy_buckets_compare_equal_apart_from_discard_and_direct() {
        let desired = KeyValueConfig {
            bucket: "b".into(),
            history: 3,
            ..Default::default()
        }
        .to_stream_config()
        .unwrap();
        let mut existing = desired.clone();
        existing.discard = DiscardPolicy::Old;
        existing.allow_direct = false;
        existing.max_bytes = 0;
        existing
            .metadata
            .insert("_nats.ver".into(), "2.14.6".into());
        assert!(same_apart_from_legacy(&existing, &desired));
        existing.max_msgs_per_subject = 5;
        assert!(!same_apart_from_legacy(&existing, &desired));
    }
}
