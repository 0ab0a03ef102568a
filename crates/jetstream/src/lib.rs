//! The best JetStream client for Rust: streams, pull consumers, publish, Key/Value and object
//! store on top of [`nats_core`].
//!
//! Every fallible call returns [`Result`] with this crate's [`Error`]; match on
//! [`Error::kind`], and use [`Error::api_error`] for the server's `err_code`.
#![deny(missing_docs)]

mod batch;
mod consumer;
mod consumers_api;
mod context;
mod direct_get;
mod error;
mod list;
mod message;
mod publish;
mod pull;
mod stream;
mod streams_api;
mod types;
mod validate;

pub use batch::{Batch, MAX_BATCH_SIZE};
pub use consumer::{Consumer, ConsumerPauseResponse};
pub use context::{new, with_domain, with_options, JetStream, JetStreamOptions};
pub use direct_get::StoredMessage;
pub use error::{ApiError, Error, ErrorCode, ErrorKind, Result};
pub use list::{ConsumerList, ConsumerNames, StreamList, StreamNames};
pub use message::{Msg, MsgMetadata, SequencePair};
pub use publish::{PubAckFuture, Publish, PublishAsync};
pub use pull::{
    Consume, ConsumeContext, Fetch, MessageBatch, Messages, MessagesBuilder, OrderedConsumer,
};
pub use stream::{Purge, Stream, StreamInfoBuilder};
pub use types::{
    AccountInfo, AccountLimits, AckPolicy, ApiStats, ClusterInfo, Compression, ConsumerConfig,
    ConsumerInfo, ConsumerLimits, DeliverPolicy, DiscardPolicy, External, LostStreamData,
    OrderedConsumerConfig, PeerInfo, PersistMode, Placement, PriorityGroupState, PriorityPolicy,
    PubAck, RePublish, ReplayPolicy, RetentionPolicy, SequenceInfo, StorageType, StreamAlternate,
    StreamConfig, StreamInfo, StreamSource, StreamSourceInfo, StreamState, SubjectTransform, Tier,
    UnknownValue,
};

#[cfg(feature = "kv")]
pub mod kv;
#[cfg(feature = "kv")]
pub use kv::{
    Entry, KeyValue, KeyValueConfig, KeyValueNames, KeyValueStatus, KeyValueStores, Operation,
};

#[cfg(feature = "object-store")]
pub mod object_store;
#[cfg(feature = "object-store")]
pub use object_store::{
    Object, ObjectInfo, ObjectLink, ObjectMeta, ObjectStore, ObjectStoreConfig, ObjectStoreNames,
    ObjectStoreStatus, ObjectStores, ObjectWatch, ObjectWatcher,
};
