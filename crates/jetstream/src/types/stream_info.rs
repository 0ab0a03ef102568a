//! Stream information: the reply of `STREAM.INFO`, `STREAM.CREATE` and `STREAM.UPDATE`.

use std::collections::HashMap;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::serde_util::{empty_string_as_none, null_default, opt_nanos, opt_time};
use super::{ClusterInfo, External, StreamConfig, SubjectTransform};
use crate::ApiError;

/// A stream's configuration and state, as returned by the server.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct StreamInfo {
    /// The configuration in force, with the server's defaults filled in.
    pub config: StreamConfig,
    /// When the stream was created.
    pub created: Timestamp,
    /// Counters and sequences of the stored messages.
    pub state: StreamState,
    /// The stream's RAFT group, in a cluster.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterInfo>,
    /// Progress of the mirror, when this stream is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirror: Option<StreamSourceInfo>,
    /// Progress of each source.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub sources: Vec<StreamSourceInfo>,
    /// Mirrors of this stream (and the stream itself) that can answer direct gets, nearest
    /// first.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub alternates: Vec<StreamAlternate>,
    /// JetStream domain of the stream.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_string_as_none"
    )]
    pub domain: Option<String>,
    /// When the server produced this information (server 2.10+).
    #[serde(with = "opt_time", skip_serializing_if = "Option::is_none")]
    pub ts: Option<Timestamp>,
}

/// Counters and sequences of a stream's stored messages.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct StreamState {
    /// Number of messages stored.
    pub messages: u64,
    /// Bytes stored.
    pub bytes: u64,
    /// Sequence of the first stored message.
    pub first_seq: u64,
    /// Time of the first stored message; `None` when the stream is empty.
    #[serde(with = "opt_time", skip_serializing_if = "Option::is_none")]
    pub first_ts: Option<Timestamp>,
    /// Sequence of the last stored message (stays after messages are removed).
    pub last_seq: u64,
    /// Time of the last stored message; `None` when nothing was ever stored.
    #[serde(with = "opt_time", skip_serializing_if = "Option::is_none")]
    pub last_ts: Option<Timestamp>,
    /// Number of consumers.
    pub consumer_count: usize,
    /// Number of distinct subjects stored.
    pub num_subjects: u64,
    /// Message count per subject; only filled when the info was requested with a subjects
    /// filter.
    #[serde(
        skip_serializing_if = "HashMap::is_empty",
        deserialize_with = "null_default"
    )]
    pub subjects: HashMap<String, u64>,
    /// Number of deleted messages between `first_seq` and `last_seq`.
    pub num_deleted: u64,
    /// Sequences of the deleted messages; only filled when requested with deleted details.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub deleted: Vec<u64>,
    /// Messages lost to storage corruption, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lost: Option<LostStreamData>,
}

/// Messages a stream lost to storage corruption.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct LostStreamData {
    /// Sequences of the lost messages.
    #[serde(deserialize_with = "null_default")]
    pub msgs: Vec<u64>,
    /// Bytes lost.
    pub bytes: u64,
}

/// Progress of a mirror or source.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct StreamSourceInfo {
    /// Name of the origin stream.
    pub name: String,
    /// Where the origin lives when it is in another account or domain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external: Option<External>,
    /// Number of messages not yet copied.
    pub lag: u64,
    /// Time since the last contact with the origin; `None` if never (wire `-1`).
    #[serde(with = "opt_nanos", skip_serializing_if = "Option::is_none")]
    pub active: Option<Duration>,
    /// The last error while copying, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    /// Filter of the copied messages.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_string_as_none"
    )]
    pub filter_subject: Option<String>,
    /// Filters and transforms of the copied messages.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub subject_transforms: Vec<SubjectTransform>,
}

/// A stream (or mirror) that can answer direct gets for a stream.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct StreamAlternate {
    /// Name of the stream or mirror.
    pub name: String,
    /// Its JetStream domain.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_string_as_none"
    )]
    pub domain: Option<String>,
    /// The cluster it lives in.
    pub cluster: String,
}
