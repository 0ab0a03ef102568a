//! Cluster information shared by stream and consumer infos.

use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::serde_util::{empty_string_as_none, is_false, nanos, null_default, opt_time};

/// The RAFT group behind a stream or consumer: its leader and replicas.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ClusterInfo {
    /// Name of the cluster the asset lives in.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_string_as_none"
    )]
    pub name: Option<String>,
    /// Name of the RAFT group.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_string_as_none"
    )]
    pub raft_group: Option<String>,
    /// Server name of the current leader; `None` while there is no leader.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_string_as_none"
    )]
    pub leader: Option<String>,
    /// When the current leader was elected.
    #[serde(with = "opt_time", skip_serializing_if = "Option::is_none")]
    pub leader_since: Option<Timestamp>,
    /// Whether the asset belongs to the system account.
    #[serde(skip_serializing_if = "is_false")]
    pub system_account: bool,
    /// Account whose traffic the replication uses.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_string_as_none"
    )]
    pub traffic_account: Option<String>,
    /// The other members of the group (the leader is not listed).
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub replicas: Vec<PeerInfo>,
}

/// One replica of a RAFT group, as seen by the leader.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct PeerInfo {
    /// Server name of the peer.
    pub name: String,
    /// Whether the peer is caught up with the leader.
    pub current: bool,
    /// Whether the leader considers the peer offline.
    #[serde(skip_serializing_if = "is_false")]
    pub offline: bool,
    /// Time since the leader last heard from the peer.
    #[serde(with = "nanos")]
    pub active: Duration,
    /// Number of operations the peer is behind the leader.
    pub lag: u64,
    /// The peer's id (a hash of the server name).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_string_as_none"
    )]
    pub peer: Option<String>,
}
