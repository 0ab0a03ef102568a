//! Stream configuration: the body of `STREAM.CREATE` / `STREAM.UPDATE` and the `config` of a
//! [`StreamInfo`](crate::StreamInfo).

use std::collections::HashMap;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::server_enum::server_enum;

use super::serde_util::{
    empty_string_as_none, is_default, is_false, is_zero_duration, is_zero_i32, is_zero_i64,
    is_zero_u64, nanos, null_default, opt_time,
};

/// The configuration of a stream.
///
/// Build it with a struct literal and `..Default::default()`; the defaults are the server's
/// defaults:
///
/// ```
/// use jetstream::StreamConfig;
///
/// let config = StreamConfig {
///     name: "ORDERS".to_string(),
///     subjects: vec!["orders.>".to_string()],
///     ..Default::default()
/// };
/// # let _ = config;
/// ```
///
/// # Limits: `0` versus `-1`
///
/// The `i64` limits (`max_consumers`, `max_msgs`, `max_bytes`, `max_msgs_per_subject`) and
/// `max_msg_size` default to `0`, which the server normalises to `-1` ("unlimited"); `-1` can
/// also be set explicitly. They are always sent, exactly as nats.go does, and read back
/// verbatim. So the configuration returned in a [`StreamInfo`](crate::StreamInfo) shows the
/// server's normalised values (`-1` limits, `num_replicas: 1`, a 2 minute `duplicate_window`,
/// server-injected `_nats.*` metadata) and is not `==` to a config built with defaults, even
/// though the server treats them as the same stream: its idempotent create and update compare
/// the normalised forms. Sending the returned config back (e.g. to update one field) is safe.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamConfig {
    /// Stream name: printable ASCII without `.`, `*`, `>`, `/`, `\` or whitespace, at most 255
    /// characters. Cannot be changed.
    pub name: String,
    /// A human-readable description (at most 4 KiB).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_string_as_none"
    )]
    pub description: Option<String>,
    /// Subjects the stream captures; wildcards allowed. Empty with no mirror or sources means
    /// `[name]` on the server. Not allowed on mirrors.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub subjects: Vec<String>,
    /// When messages may be removed: by limits, once every consumer acknowledged them, or
    /// once any consumer acknowledged them (work queue).
    pub retention: RetentionPolicy,
    /// Maximum number of consumers; `-1` unlimited, `0` the server default (unlimited).
    pub max_consumers: i64,
    /// Maximum number of messages kept; `-1` unlimited, `0` the server default (unlimited).
    pub max_msgs: i64,
    /// Maximum total size of the stream in bytes; `-1` unlimited, `0` the server default
    /// (unlimited, unless the account requires a value).
    pub max_bytes: i64,
    /// What to do when a limit is reached: drop the oldest messages or refuse new ones.
    pub discard: DiscardPolicy,
    /// With [`DiscardPolicy::New`] and `max_msgs_per_subject > 0`, refuse new messages per
    /// subject instead of for the whole stream (server 2.9.1+).
    #[serde(skip_serializing_if = "is_false")]
    pub discard_new_per_subject: bool,
    /// Maximum age of a message; zero means no limit. If set, at least 100 ms.
    #[serde(with = "nanos")]
    pub max_age: Duration,
    /// Maximum number of messages kept per subject; `-1` unlimited, `0` the server default
    /// (unlimited).
    pub max_msgs_per_subject: i64,
    /// Largest message the stream accepts in bytes; `-1` unlimited, `0` the server default
    /// (unlimited).
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub max_msg_size: i32,
    /// Where the messages are stored. Cannot be changed.
    pub storage: StorageType,
    /// Number of replicas in a cluster (at most 5); `0` means 1.
    pub num_replicas: usize,
    /// Disables publish acknowledgements for this stream.
    #[serde(skip_serializing_if = "is_false")]
    pub no_ack: bool,
    /// Window in which a repeated `Nats-Msg-Id` is detected as a duplicate; zero means the
    /// server default (2 minutes, or `max_age` if smaller).
    #[serde(with = "nanos", skip_serializing_if = "is_zero_duration")]
    pub duplicate_window: Duration,
    /// Where to place the stream's replicas in a super-cluster.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    /// Makes this stream a mirror of another stream (excludes `subjects` and `sources`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirror: Option<StreamSource>,
    /// Streams whose messages are copied into this one.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub sources: Vec<StreamSource>,
    /// Seals the stream: no more writes, deletes or purges. Only via update; irreversible.
    #[serde(skip_serializing_if = "is_false")]
    pub sealed: bool,
    /// Forbids deleting single messages through the API. Cannot be turned off later.
    #[serde(skip_serializing_if = "is_false")]
    pub deny_delete: bool,
    /// Forbids purging through the API. Cannot be turned off later.
    #[serde(skip_serializing_if = "is_false")]
    pub deny_purge: bool,
    /// Allows the `Nats-Rollup` header, which purges older messages when a message is stored.
    #[serde(skip_serializing_if = "is_false")]
    pub allow_rollup_hdrs: bool,
    /// Enables `DIRECT.GET`: any replica (or mirror) answers message gets (server 2.9+).
    #[serde(skip_serializing_if = "is_false")]
    pub allow_direct: bool,
    /// On a mirror: join the origin stream's direct-get group (server 2.9+).
    #[serde(skip_serializing_if = "is_false")]
    pub mirror_direct: bool,
    /// Storage compression (server 2.10+). Always sent.
    pub compression: Compression,
    /// Sequence number of the first message stored (server 2.10+); `0` means 1.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub first_seq: u64,
    /// Transforms the subject of every message on ingest (server 2.10+).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_transform: Option<SubjectTransform>,
    /// Republishes every stored message to another subject (server 2.9+).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub republish: Option<RePublish>,
    /// Default limits for the stream's consumers (server 2.10+).
    #[serde(skip_serializing_if = "is_default")]
    pub consumer_limits: ConsumerLimits,
    /// Application metadata (server 2.10+; at most 128 KiB). Keys starting with `_nats` are
    /// reserved; the server adds `_nats.ver`, `_nats.level` and `_nats.req.level`.
    #[serde(
        skip_serializing_if = "HashMap::is_empty",
        deserialize_with = "null_default"
    )]
    pub metadata: HashMap<String, String>,
    /// Allows per-message TTLs with the `Nats-TTL` header (server 2.11+). Can be enabled but
    /// not disabled.
    #[serde(skip_serializing_if = "is_false")]
    pub allow_msg_ttl: bool,
    /// When set, the server places a delete marker when a subject's last message is removed by
    /// `max_age` or a purge, and keeps it this long (at least 1 s; server 2.11+). Zero disables.
    #[serde(with = "nanos", skip_serializing_if = "is_zero_duration")]
    pub subject_delete_marker_ttl: Duration,
    /// Makes the stream a counter stream, updated with `Nats-Incr` (server 2.12+). Cannot be
    /// changed.
    #[serde(skip_serializing_if = "is_false")]
    pub allow_msg_counter: bool,
    /// Allows atomic batch publishing (server 2.12+).
    #[serde(skip_serializing_if = "is_false")]
    pub allow_atomic: bool,
    /// Allows scheduled messages with `Nats-Schedule` (server 2.12+). Cannot be disabled.
    #[serde(skip_serializing_if = "is_false")]
    pub allow_msg_schedules: bool,
    /// Allows fast batch publishing (server 2.14+).
    #[serde(skip_serializing_if = "is_false")]
    pub allow_batched: bool,
    /// How writes are persisted (server 2.12+). Cannot be changed.
    #[serde(skip_serializing_if = "is_default")]
    pub persist_mode: PersistMode,
}

/// A stream to mirror or source messages from.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamSource {
    /// Name of the stream to copy from.
    pub name: String,
    /// Start copying at this stream sequence.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub opt_start_seq: u64,
    /// Start copying at messages stored at or after this time.
    #[serde(with = "opt_time", skip_serializing_if = "Option::is_none")]
    pub opt_start_time: Option<Timestamp>,
    /// Copy only messages matching this subject (exclusive with `subject_transforms`).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_string_as_none"
    )]
    pub filter_subject: Option<String>,
    /// Filters and transforms applied to copied messages (server 2.10+). A transform with an
    /// empty destination only filters.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub subject_transforms: Vec<SubjectTransform>,
    /// Where the source stream lives when it is in another account or domain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external: Option<External>,
    /// The JetStream domain the source stream lives in: a shorthand for
    /// `external: Some(External { api_prefix: "$JS.<domain>.API", .. })`, as nats.go's
    /// `StreamSource.Domain`. Exclusive with `external` ([`ErrorKind::InvalidConfig`]).
    ///
    /// Never sent as such: creating or updating the stream sends the `external` it stands
    /// for, so the configuration the server returns has `external` set and `domain` empty.
    ///
    /// ```
    /// use jetstream::StreamSource;
    ///
    /// let source = StreamSource {
    ///     name: "ORDERS".into(),
    ///     domain: Some("hub".into()),
    ///     ..Default::default()
    /// };
    /// # let _ = source;
    /// ```
    ///
    /// [`ErrorKind::InvalidConfig`]: crate::ErrorKind::InvalidConfig
    #[serde(skip)]
    pub domain: Option<String>,
    /// Durable sourcing (server 2.14+): copy through this existing push consumer of the
    /// source stream instead of an ephemeral one the server creates, so the position
    /// survives. The consumer must use [`AckPolicy::FlowControl`] with idle heartbeats and
    /// deliver to `deliver_subject`. Excludes `opt_start_seq`, `opt_start_time` and
    /// `filter_subject` (the consumer decides where to start and what to copy).
    ///
    /// ```
    /// use jetstream::{StreamConsumerSource, StreamSource};
    ///
    /// let source = StreamSource {
    ///     name: "ORDERS".into(),
    ///     consumer: Some(StreamConsumerSource {
    ///         name: "orders-copy".into(),
    ///         deliver_subject: "deliver.orders-copy".into(),
    ///     }),
    ///     ..Default::default()
    /// };
    /// # let _ = source;
    /// ```
    ///
    /// [`AckPolicy::FlowControl`]: crate::AckPolicy::FlowControl
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer: Option<StreamConsumerSource>,
}

impl StreamSource {
    /// The source as sent to the server: `domain` turned into the `external` API prefix it
    /// stands for. Both set: [`ErrorKind::InvalidConfig`](crate::ErrorKind::InvalidConfig).
    pub(crate) fn resolve_domain(&self) -> crate::Result<StreamSource> {
        let mut source = self.clone();
        if let Some(domain) = source.domain.take() {
            if source.external.is_some() {
                return Err(crate::Error::msg(
                    crate::ErrorKind::InvalidConfig,
                    format!(
                        "source {:?}: domain and external can not both be set",
                        source.name
                    ),
                ));
            }
            source.external = Some(External {
                api_prefix: format!("$JS.{domain}.API"),
                deliver_prefix: None,
            });
        }
        Ok(source)
    }
}

/// The durable consumer a stream copies its source through (server 2.14+); see
/// [`StreamSource::consumer`].
///
/// ```
/// use jetstream::StreamConsumerSource;
///
/// let consumer = StreamConsumerSource {
///     name: "orders-copy".into(),
///     deliver_subject: "deliver.orders-copy".into(),
/// };
/// # let _ = consumer;
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamConsumerSource {
    /// Name of the durable consumer on the source stream.
    pub name: String,
    /// The consumer's deliver subject (where the server pushes the copied messages).
    pub deliver_subject: String,
}

/// The API and delivery prefixes of a stream in another account or JetStream domain.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct External {
    /// API prefix of the other side, e.g. `$JS.hub.API` for the domain `hub` (no trailing dot).
    #[serde(rename = "api")]
    pub api_prefix: String,
    /// Prefix for the subjects messages are delivered on, when the account needs one.
    #[serde(
        rename = "deliver",
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_string_as_none"
    )]
    pub deliver_prefix: Option<String>,
}

/// A subject transform: messages matching `source` get the subject `destination`.
///
/// On the wire these are `src` and `dest`.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SubjectTransform {
    /// Subject filter the transform applies to (may contain wildcards).
    #[serde(rename = "src")]
    pub source: String,
    /// Destination subject, which may use `{{wildcard(1)}}`-style mappings. Empty means "keep
    /// the subject" (filter only, for sources).
    #[serde(rename = "dest")]
    pub destination: String,
}

/// Republishes stored messages matching `source` to `destination`.
///
/// On the wire these are `src` and `dest`.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RePublish {
    /// Subject filter of the messages to republish.
    #[serde(rename = "src")]
    pub source: String,
    /// Destination subject (may use subject mapping functions).
    #[serde(rename = "dest")]
    pub destination: String,
    /// Republish only the headers (plus `Nats-Msg-Size`), not the payload.
    #[serde(skip_serializing_if = "is_false")]
    pub headers_only: bool,
}

/// Where to place a stream's replicas.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Placement {
    /// Name of the cluster to place the stream in.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_string_as_none"
    )]
    pub cluster: Option<String>,
    /// Server tags every chosen server must have.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub tags: Vec<String>,
    /// Preferred server to become leader (server 2.11+).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_string_as_none"
    )]
    pub preferred: Option<String>,
}

/// Default limits the server applies to a stream's consumers (server 2.10+).
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ConsumerLimits {
    /// Default (and maximum) inactivity threshold for consumers; zero means none.
    #[serde(with = "nanos", skip_serializing_if = "is_zero_duration")]
    pub inactive_threshold: Duration,
    /// Default (and maximum) `max_ack_pending` for consumers; zero means none.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_ack_pending: i64,
}

server_enum! {
    /// When a stream may remove messages.
    pub enum RetentionPolicy as "retention policy" {
        /// Keep messages until a limit (count, size, age) removes them.
        #[default]
        Limits = "limits",
        /// Keep messages while a consumer that has not acknowledged them exists.
        Interest = "interest",
        /// Remove each message once it is acknowledged; each subject has at most one consumer.
        WorkQueue = "workqueue",
    }
}

server_enum! {
    /// What a stream does when a limit is reached.
    pub enum DiscardPolicy as "discard policy" {
        /// Remove the oldest messages to make room.
        #[default]
        Old = "old",
        /// Refuse new messages.
        New = "new",
    }
}

server_enum! {
    /// Where a stream stores its messages.
    pub enum StorageType as "storage type" {
        /// On disk.
        #[default]
        File = "file",
        /// In memory.
        Memory = "memory",
    }
}

server_enum! {
    /// Storage compression of a stream.
    pub enum Compression as "compression" {
        /// No compression.
        #[default]
        None = "none",
        /// S2 compression (file storage).
        S2 = "s2",
    }
}

server_enum! {
    /// How a stream persists writes (server 2.12+).
    pub enum PersistMode as "persist mode" {
        /// Every write is persisted before it is acknowledged (the normal mode).
        #[default]
        Default = "default" | "",
        /// Writes are flushed asynchronously: faster, may lose recent messages on a crash. File
        /// storage, one replica, no atomic batches.
        Async = "async",
    }
}
