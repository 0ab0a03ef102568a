//! The JetStream wire model: configurations users build, and the infos the server returns.
//!
//! Configurations (`StreamConfig`, `ConsumerConfig`) have public fields and `Default`, and are
//! never `#[non_exhaustive]`. Responses are `#[serde(default)]` (missing fields parse) and
//! `#[non_exhaustive]` (new server fields can be added); unknown fields are ignored.
//! Durations are integer nanoseconds on the wire; Go's zero time reads as `None`.

mod account;
pub(crate) mod api;
mod cluster;
mod consumer_config;
mod consumer_info;
pub(crate) mod serde_util;
pub(crate) mod server_enum;
mod stream_config;
mod stream_info;

#[cfg(test)]
mod tests;

pub use account::{AccountInfo, AccountLimits, ApiStats, Tier};
pub use api::PubAck;
pub use cluster::{ClusterInfo, PeerInfo};
pub use consumer_config::{
    AckPolicy, ConsumerConfig, DeliverPolicy, OrderedConsumerConfig, PriorityPolicy, ReplayPolicy,
};
pub use consumer_info::{ConsumerInfo, PriorityGroupState, SequenceInfo};
pub use server_enum::UnknownValue;
pub use stream_config::{
    Compression, ConsumerLimits, DiscardPolicy, External, PersistMode, Placement, RePublish,
    RetentionPolicy, StorageType, StreamConfig, StreamConsumerSource, StreamSource,
    SubjectTransform,
};
pub use stream_info::{LostStreamData, StreamAlternate, StreamInfo, StreamSourceInfo, StreamState};
