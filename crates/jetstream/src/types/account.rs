//! Account information: the reply of `$JS.API.INFO`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::serde_util::{empty_string_as_none, null_default};

/// JetStream usage and limits of the account, as returned by `$JS.API.INFO`.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct AccountInfo {
    /// Memory storage used, in bytes.
    pub memory: u64,
    /// File storage used, in bytes.
    pub storage: u64,
    /// Memory storage reserved by streams with `max_bytes`, in bytes.
    pub reserved_memory: u64,
    /// File storage reserved by streams with `max_bytes`, in bytes.
    pub reserved_storage: u64,
    /// Number of streams.
    pub streams: usize,
    /// Number of consumers.
    pub consumers: usize,
    /// The account's limits.
    pub limits: AccountLimits,
    /// JetStream domain of the responding server, if it has one.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_string_as_none"
    )]
    pub domain: Option<String>,
    /// API usage statistics and the server's API level.
    pub api: ApiStats,
    /// Usage and limits per replication tier (`"R1"`, `"R3"`, ...) when the account has
    /// tiered limits.
    #[serde(
        skip_serializing_if = "HashMap::is_empty",
        deserialize_with = "null_default"
    )]
    pub tiers: HashMap<String, Tier>,
}

/// JetStream limits of an account (or of one tier). `-1` means unlimited.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct AccountLimits {
    /// Maximum memory storage, in bytes.
    pub max_memory: i64,
    /// Maximum file storage, in bytes.
    pub max_storage: i64,
    /// Maximum number of streams.
    pub max_streams: i64,
    /// Maximum number of consumers.
    pub max_consumers: i64,
    /// Maximum `max_ack_pending` a consumer may have.
    pub max_ack_pending: i64,
    /// Maximum `max_bytes` of a memory stream.
    pub memory_max_stream_bytes: i64,
    /// Maximum `max_bytes` of a file stream.
    pub storage_max_stream_bytes: i64,
    /// Whether streams must set `max_bytes`.
    pub max_bytes_required: bool,
}

/// Usage and limits of one replication tier of an account.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Tier {
    /// Memory storage used, in bytes.
    pub memory: u64,
    /// File storage used, in bytes.
    pub storage: u64,
    /// Memory storage reserved, in bytes.
    pub reserved_memory: u64,
    /// File storage reserved, in bytes.
    pub reserved_storage: u64,
    /// Number of streams.
    pub streams: usize,
    /// Number of consumers.
    pub consumers: usize,
    /// The tier's limits.
    pub limits: AccountLimits,
}

/// JetStream API statistics of an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ApiStats {
    /// JetStream API level of the responding server: 0 before 2.11, 1 for 2.11, 2-3 for 2.12,
    /// 4 for 2.14. Gate features on this, not on the version string.
    pub level: u32,
    /// Number of API requests.
    pub total: u64,
    /// Number of API requests that failed.
    pub errors: u64,
    /// Number of API requests in flight (server 2.11+).
    pub inflight: u64,
}
