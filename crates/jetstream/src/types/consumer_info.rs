//! Consumer information: the reply of `CONSUMER.INFO` and `CONSUMER.CREATE`.

use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::serde_util::{empty_string_as_none, is_false, null_default, opt_nanos, opt_time};
use super::{ClusterInfo, ConsumerConfig};

/// A consumer's configuration and state, as returned by the server.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ConsumerInfo {
    /// Name of the consumer's stream.
    pub stream_name: String,
    /// Name of the consumer.
    pub name: String,
    /// When the consumer was created.
    pub created: Timestamp,
    /// The configuration in force, with the server's defaults filled in.
    pub config: ConsumerConfig,
    /// The last message delivered.
    pub delivered: SequenceInfo,
    /// The acknowledgement floor: every message up to here is acknowledged.
    pub ack_floor: SequenceInfo,
    /// Number of delivered messages waiting for an ack.
    pub num_ack_pending: u64,
    /// Number of messages that were delivered more than once.
    pub num_redelivered: u64,
    /// Number of pull requests waiting for messages.
    pub num_waiting: u64,
    /// Number of messages matching the consumer's filters not yet delivered.
    pub num_pending: u64,
    /// The consumer's RAFT group, in a cluster.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterInfo>,
    /// Push consumers: whether a subscriber is bound to the deliver subject.
    #[serde(skip_serializing_if = "is_false")]
    pub push_bound: bool,
    /// Whether the consumer is paused (server 2.11+).
    #[serde(skip_serializing_if = "is_false")]
    pub paused: bool,
    /// How long the consumer stays paused (server 2.11+).
    #[serde(with = "opt_nanos", skip_serializing_if = "Option::is_none")]
    pub pause_remaining: Option<Duration>,
    /// State of each priority group (server 2.11+).
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub priority_groups: Vec<PriorityGroupState>,
    /// When the server produced this information (server 2.10+).
    #[serde(with = "opt_time", skip_serializing_if = "Option::is_none")]
    pub ts: Option<Timestamp>,
}

/// A position of a consumer: the consumer and stream sequences of one message.
///
/// On the wire the sequences are `consumer_seq` and `stream_seq`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SequenceInfo {
    /// Consumer sequence: counts deliveries, including redeliveries.
    #[serde(rename = "consumer_seq")]
    pub consumer_sequence: u64,
    /// Stream sequence of the message.
    #[serde(rename = "stream_seq")]
    pub stream_sequence: u64,
    /// When this position last changed.
    #[serde(with = "opt_time", skip_serializing_if = "Option::is_none")]
    pub last_active: Option<Timestamp>,
}

/// State of one priority group of a pull consumer (server 2.11+).
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct PriorityGroupState {
    /// Name of the group.
    pub group: String,
    /// Id of the pinned client, with [`PriorityPolicy::PinnedClient`](crate::PriorityPolicy).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_string_as_none"
    )]
    pub pinned_client_id: Option<String>,
    /// When the client was pinned.
    #[serde(with = "opt_time", skip_serializing_if = "Option::is_none")]
    pub pinned_ts: Option<Timestamp>,
}
