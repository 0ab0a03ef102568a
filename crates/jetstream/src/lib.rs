//! A NATS JetStream client: streams, pull and push consumers, publishing, the Key/Value store and the
//! Object store, on top of the [`nats_core`] client and tokio.
//!
//! It follows the design of the Go client's simplified `jetstream` package: a [`JetStream`]
//! context made from a connected [`nats_core::Client`], cheap handles ([`Stream`],
//! [`Consumer`], [`OrderedConsumer`], [`KeyValue`], [`ObjectStore`]) holding the last info
//! fetched, pull consumers (`fetch`, `messages`, `consume`) and push consumers
//! ([`PushConsumer::consume`], [`OrderedPushConsumer`]), and builders for calls with
//! options that you `.await` directly. Every wait is bounded (a timeout, a heartbeat, or a
//! drop), every queue is bounded (pull budgets, the async publish window, object-store
//! windows), and bad input is refused with a typed error before anything is sent.
//!
//! The package is `nats-jetstream`; the library is `jetstream`. A guide with a chapter per
//! area, and migration tables from nats.go's `jetstream` package and from async-nats, are in
//! the `docs/` folder of the source.
//!
//! # Connecting
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = nats_core::connect("nats://127.0.0.1:4222").await?;
//! let js = jetstream::new(client);
//! // Or: jetstream::with_domain(client, "hub"), or jetstream::with_options(client, options).
//! let account = js.account_info().await?;
//! println!("{} streams, {} consumers", account.streams, account.consumers);
//! # Ok(()) }
//! ```
//!
//! Authentication, TLS and reconnect options are on [`nats_core::ConnectOptions`]; the context's
//! own options (API prefix, domain, request timeout, async publish window) are in
//! [`JetStreamOptions`].
//!
//! # Feature flags
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `kv` | on | the Key/Value store: [`JetStream::create_key_value`], [`KeyValue`], [`kv::Watcher`] |
//! | `object-store` | on | the Object store: [`JetStream::create_object_store`], [`ObjectStore`], [`Object`]; depends on `sha2` |
//! | `metrics` | off | counters, gauges and an ack-latency histogram through the `metrics` facade (per consumer: delivered, outstanding pulls, ack latency; async publishes pending; the connection's counters with `JetStream::record_connection_metrics`); depends on `metrics` |
//! | `otel` | off | W3C trace context from publisher to consumer through OpenTelemetry (see [`Msg::span`]); depends on `opentelemetry` and `tracing-opentelemetry` |
//! | `serde` | on | typed messages: [`JetStream::publish_json`], [`Msg::json`], [`Consumer::consume_json`], typed Key/Value views (`KeyValue::typed`) with JSON; no extra dependency (serde and serde_json are used for the JetStream API anyway) |
//!
//! Concurrent processing ([`Consumer::consume_concurrent`]) and typed Key/Value views with
//! your own [`kv::Codec`] (`KeyValue::typed_with`, feature `kv`) need no feature of their own.
//!
//! Streams, consumers, publishing, atomic batches and counters are always there. Without
//! default features (`default-features = false`) the crate is the stream and consumer API only.
//!
//! # Streams
//!
//! ```no_run
//! # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
//! use std::time::Duration;
//! use jetstream::{StorageType, StreamConfig};
//!
//! let stream = js
//!     .create_or_update_stream(StreamConfig {
//!         name: "ORDERS".into(),
//!         subjects: vec!["orders.>".into()],
//!         storage: StorageType::File,
//!         max_age: Duration::from_secs(24 * 3600),
//!         ..Default::default()
//!     })
//!     .await?;
//! println!("{} messages", stream.info().await?.state.messages);
//! let last = stream.get_last_msg_for_subject("orders.new").await?;
//! println!("last order: sequence {}", last.sequence);
//! let purged = stream.purge().subject("orders.cancelled").await?;
//! println!("purged {purged}");
//! # Ok(()) }
//! ```
//!
//! # Consumers
//!
//! A durable pull consumer, read three ways: one batch with [`Consumer::fetch`], a
//! [`Messages`] stream with [`Consumer::messages`], or a handler on a task of its own with
//! [`Consumer::consume`]. The continuous two keep pulls outstanding, refill them at a
//! threshold, watch idle heartbeats and pull again after a reconnect.
//!
//! ```no_run
//! # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
//! use std::time::Duration;
//! use futures_util::StreamExt;
//! use jetstream::{AckPolicy, ConsumerConfig};
//!
//! let consumer = js
//!     .create_or_update_consumer(
//!         "ORDERS",
//!         ConsumerConfig {
//!             durable_name: Some("processor".into()),
//!             ack_policy: AckPolicy::Explicit,
//!             ..Default::default()
//!         },
//!     )
//!     .await?;
//!
//! // One pull of up to 10 messages, waiting at most 2 s.
//! let mut batch = consumer.fetch(10).max_wait(Duration::from_secs(2)).await?;
//! while let Some(msg) = batch.next().await {
//!     let msg = msg?;
//!     msg.ack().await?;
//! }
//!
//! // A continuous stream.
//! let mut messages = consumer.messages().max_messages(200).await?;
//! if let Some(msg) = messages.next().await {
//!     let msg = msg?;
//!     println!("{} (delivered {} times)", msg.subject(), msg.metadata()?.num_delivered);
//!     msg.ack().await?;
//! }
//! messages.stop();
//!
//! // A handler, one message at a time, in order.
//! let ctx = consumer
//!     .consume(|msg| async move {
//!         let _ = msg.ack().await;
//!     })
//!     .error_handler(|err| eprintln!("consume: {err}"))
//!     .await?;
//! ctx.drain().await;
//!
//! // Every message of the stream once, in order, without acks.
//! let ordered = js
//!     .ordered_consumer("ORDERS", jetstream::OrderedConsumerConfig::default())
//!     .await?;
//! let msg = ordered.next().await?;
//! # let _ = msg;
//! # Ok(()) }
//! ```
//!
//! # Push consumers
//!
//! The server sends to a deliver subject; [`PushConsumer::consume`] subscribes, answers flow
//! control, watches the consumer's idle heartbeats and keeps going across reconnects. It
//! returns the same [`ConsumeContext`] as a pull consumer's loop.
//!
//! ```no_run
//! # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
//! use std::time::Duration;
//! use jetstream::ConsumerConfig;
//!
//! let push = js
//!     .create_or_update_push_consumer(
//!         "ORDERS",
//!         ConsumerConfig {
//!             durable_name: Some("mailer".into()),
//!             deliver_subject: Some("deliver.mailer".into()),
//!             idle_heartbeat: Duration::from_secs(5),
//!             flow_control: true,
//!             ..Default::default()
//!         },
//!     )
//!     .await?;
//! let ctx = push
//!     .consume(|msg| async move {
//!         let _ = msg.ack().await;
//!     })
//!     .await?;
//! ctx.drain().await;
//! # Ok(()) }
//! ```
//!
//! # Concurrent processing
//!
//! [`Consumer::consume_concurrent`] runs up to `n` handlers at once on the same consume loop:
//! the pull budget follows `n`, messages of one subject can be kept in order
//! ([`ConsumeConcurrent::per_subject_ordering`]), long handlers can have `in_progress` sent
//! for them ([`ConsumeConcurrent::auto_in_progress`]), a panicking handler is reported
//! without stopping the others, and `drain()` waits for the running handlers.
//!
//! ```no_run
//! # async fn run(consumer: jetstream::Consumer) -> Result<(), jetstream::Error> {
//! let ctx = consumer
//!     .consume_concurrent(32, |msg| async move {
//!         // ... a call that mostly waits
//!         let _ = msg.ack().await;
//!     })
//!     .per_subject_ordering()
//!     .await?;
//! ctx.drain().await;
//! # Ok(()) }
//! ```
//!
//! # Typed messages
//!
//! With the `serde` feature: publish values as JSON, decode delivered messages, and keep
//! typed views of Key/Value buckets. A payload that does not decode is an error of kind
//! [`ErrorKind::Decode`] naming the subject (and key) with serde's message
//! ([`Error::decode_error`]); in [`Consumer::consume_json`] such a poison message reaches the
//! error handler still unacknowledged ([`Error::take_msg`]), to be terminated.
//!
//! ```no_run
//! # #[cfg(all(feature = "serde", feature = "kv"))]
//! # async fn run(js: jetstream::JetStream, consumer: jetstream::Consumer) -> Result<(), jetstream::Error> {
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Order { id: u64 }
//!
//! js.publish_json("orders.new", &Order { id: 1 }).await?;
//! let msg = consumer.next().await?;
//! let order: Order = msg.json()?;
//! msg.ack().await?;
//!
//! let orders = js.key_value("orders").await?.typed::<Order>();
//! orders.put("order.1", &order).await?;
//! let stored = orders.get("order.1").await?;
//! assert_eq!(stored.value().map(|o| o.id), Some(1));
//! # Ok(()) }
//! ```
//!
//! # Publishing
//!
//! ```no_run
//! # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
//! // Synchronous: waits for the stream's ack.
//! let ack = js.publish("orders.new", "order 1").msg_id("order-1").await?;
//! println!("stored as {} in {} (duplicate: {})", ack.sequence, ack.stream, ack.duplicate);
//!
//! // Optimistic concurrency: refused unless the subject's last sequence is still this one.
//! js.publish("orders.new", "order 2")
//!     .expected_last_subject_sequence(ack.sequence)
//!     .await?;
//!
//! // Asynchronous: awaiting the builder sends; the returned future resolves to the ack.
//! let mut acks = Vec::new();
//! for i in 0..100 {
//!     acks.push(js.publish_async("orders.new", format!("order {i}")).await?);
//! }
//! for ack in acks {
//!     ack.await?;
//! }
//! # Ok(()) }
//! ```
//!
//! # Key/Value store
//!
//! ```no_run
//! # #[cfg(feature = "kv")]
//! # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
//! use futures_util::StreamExt;
//! use jetstream::KeyValueConfig;
//!
//! let kv = js
//!     .create_or_update_key_value(KeyValueConfig {
//!         bucket: "profiles".into(),
//!         history: 5,
//!         ..Default::default()
//!     })
//!     .await?;
//! let revision = kv.put("sue.color", "blue").await?;
//! kv.update("sue.color", "green", revision).await?; // fails if someone wrote in between
//! let entry = kv.get("sue.color").await?;
//! println!("{} = {:?} (revision {})", entry.key(), entry.value(), entry.revision());
//!
//! let mut watcher = kv.watch("sue.*").await?;
//! while let Some(update) = watcher.next().await {
//!     match update? {
//!         Some(entry) => println!("{} -> {:?}", entry.key(), entry.value()),
//!         None => println!("(current values done; now live)"),
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # Object store
//!
//! ```no_run
//! # #[cfg(feature = "object-store")]
//! # async fn run(js: jetstream::JetStream) -> Result<(), Box<dyn std::error::Error>> {
//! use jetstream::ObjectStoreConfig;
//! use tokio::io::AsyncReadExt;
//!
//! let store = js
//!     .create_or_update_object_store(ObjectStoreConfig {
//!         bucket: "files".into(),
//!         ..Default::default()
//!     })
//!     .await?;
//! // Any tokio AsyncRead; the data is chunked, hashed and pipelined.
//! let file = tokio::fs::File::open("report.pdf").await?;
//! let info = store.put("reports/2026.pdf", file).await?;
//! println!("{} bytes in {} chunks", info.size, info.chunks);
//!
//! // Reading is streamed; the SHA-256 digest is checked at the end.
//! let mut object = store.get("reports/2026.pdf").await?;
//! let mut data = Vec::new();
//! object.read_to_end(&mut data).await?;
//! # Ok(()) }
//! ```
//!
//! # Errors
//!
//! Every fallible call returns [`Result`] with this crate's [`Error`]. Decide what to do with
//! [`Error::kind`], a `#[non_exhaustive]` [`ErrorKind`]; when the server refused a request,
//! [`Error::api_error`] gives its [`ApiError`] (`code`, `err_code`, `description`). Kinds come
//! from the server's `err_code`, never from its description text, which changes between
//! server versions. The `Display` text says what failed and why, once, and names the stream,
//! consumer, bucket, key or object involved.
//!
//! ```no_run
//! # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
//! use jetstream::{ErrorKind, StreamConfig};
//!
//! match js.stream("ORDERS").await {
//!     Ok(stream) => println!("found {}", stream.name()),
//!     Err(e) if e.kind() == ErrorKind::StreamNotFound => {
//!         js.create_stream(StreamConfig {
//!             name: "ORDERS".into(),
//!             subjects: vec!["orders.>".into()],
//!             ..Default::default()
//!         })
//!         .await?;
//!     }
//!     Err(e) => {
//!         if let Some(api) = e.api_error() {
//!             eprintln!("server said {} (err_code {})", api.description, api.err_code);
//!         }
//!         return Err(e);
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Timeouts: API requests, synchronous publishes and [`Msg::double_ack`] wait at most the
//! context's [`timeout`](JetStreamOptions::timeout) (default 5 s), then fail with
//! [`ErrorKind::Timeout`]; a fetch waits its `max_wait` (default 30 s); continuous pulls
//! report missed heartbeats ([`ErrorKind::HeartbeatMissed`]) and keep going.
//!
//! # Observability
//!
//! Every operation opens a [`tracing`](https://docs.rs/tracing) span: `jetstream.api`
//! (`subject`), `jetstream.publish` (`subject`), `jetstream.pull` (`stream`, `consumer`,
//! `batch`), `jetstream.ack` (at `trace`), `jetstream.kv` (`op`, `bucket`, `key`) and
//! `jetstream.object` (`op`, `bucket`, `name`), all at `debug` under the `jetstream`
//! target, and each delivered message has a `jetstream.receive` span ([`Msg::span`]); they
//! cost nothing measurable while no subscriber enables them. With the `otel` feature a
//! publish carries the W3C `traceparent` of its span and the receive span continues it.
//! [`ClientTrace`] hooks see every API request and reply (Go's `WithClientTrace`). The
//! guide's observability chapter has the details.
//!
//! # Cancel safety
//!
//! Every future and stream here may be dropped at any point without breaking the connection,
//! leaking a subscription, or leaving a task running forever; `Drop` never spawns a task
//! (watchers arm their clean-up task when they start). What a drop cannot undo is what the
//! server already received:
//!
//! - **Requests.** A dropped API call (create, update, delete, purge, ...), synchronous
//!   publish or KV write may still be applied by the server: the request may have been
//!   sent, only its answer is lost. Retry publishes with the same
//!   [`msg_id`](Publish::msg_id) to have the stream drop the duplicate, and KV writes with
//!   `create` / `update` (conditional) where a repeat matters. [`JetStream::increment`] is
//!   not idempotent.
//! - **Async publishes.** Dropping a [`PublishAsync`] before it resolves sends nothing
//!   when it was still waiting for a window slot; dropping a [`PubAckFuture`] frees its slot,
//!   but the message was sent and may be stored. With an async publish handler on the
//!   context ([`JetStreamOptions::publish_async_error_handler`]), the outcome of a dropped
//!   future still reaches the handler.
//! - **Pulls.** Dropping a [`Fetch`] future, a [`MessageBatch`], a [`Messages`] stream or the
//!   future of [`Consumer::next`] mid-way unsubscribes: messages the server already sent for
//!   the outstanding pull but that you did not read are not handed to anyone. With
//!   [`AckPolicy::Explicit`] they are redelivered once `ack_wait` expires (and count against
//!   `max_ack_pending` until then); with [`AckPolicy::None`] the consumer has moved past
//!   them. [`Messages::stop`] and [`ConsumeContext::drain`] end a loop without losing what
//!   arrived. An [`OrderedConsumer`] resumes after the last message it handed out, so
//!   nothing is skipped.
//! - **Acks.** [`Msg::ack`] (and `nak`, `term`) marks the message as acknowledged before it
//!   sends; if the future is dropped before it completes, the ack may not have been sent,
//!   a second call reports [`ErrorKind::AlreadyAcked`], and the server redelivers the
//!   message after `ack_wait`.
//! - **Atomic batches.** A dropped [`Batch::add`] may have sent its message without the
//!   batch counting it: drop the batch (the server abandons it) and start a new one.
//! - **Object store.** A dropped [`ObjectStore::put`] leaves the chunks already sent in the
//!   bucket, under a name no metadata points to (the previous version of the object stays
//!   readable); they are not purged. A dropped [`ObjectStore::get`] or [`Object`] leaves its
//!   reader's server-side consumer until the server removes it after 30 s of inactivity.
//!   See each method for the details.
#![deny(missing_docs)]

mod ack;
mod ascii;
mod batch;
mod consumer;
mod consumers_api;
mod context;
mod direct_get;
mod error;
#[cfg(doctest)]
mod guide;
mod list;
mod message;
mod observe;
mod publish;
mod pull;
mod push;
mod rfc3339;
mod stream;
mod streams_api;
#[cfg(test)]
mod test_rng;
mod trace;
mod types;
mod validate;
#[cfg(any(feature = "kv", feature = "object-store"))]
mod watcher;

pub use ack::{AckKind, Acker};
pub use batch::{Batch, MAX_BATCH_SIZE};
pub use consumer::{Consumer, ConsumerPauseResponse};
pub use context::{new, with_domain, with_options, JetStream, JetStreamOptions};
pub use direct_get::{GetMsg, GetMsgPayload, StoredMessage};
pub use error::{ApiError, DecodeError, Error, ErrorCode, ErrorKind, Result};
pub use list::{ConsumerList, ConsumerNames, StreamList, StreamNames, SubjectCounts};
pub use message::{Msg, MsgMetadata, SequencePair};
pub use publish::{
    PubAckFuture, Publish, PublishAckHandler, PublishAsync, PublishErrorHandler, Schedule,
};
#[cfg(feature = "serde")]
pub use pull::JsonHandler;
pub use pull::{
    Consume, ConsumeConcurrent, ConsumeContext, Fetch, MessageBatch, Messages, MessagesBuilder,
    Next, OrderedConsumer, SharedMessages,
};
pub use push::{OrderedPushConsumer, PushConsume, PushConsumer};
pub use stream::{Purge, Stream, StreamInfoBuilder};
pub use trace::ClientTrace;
pub use types::{
    AccountInfo, AccountLimits, AckPolicy, ApiStats, ClusterInfo, Compression, ConsumerConfig,
    ConsumerInfo, ConsumerLimits, DeliverPolicy, DiscardPolicy, External, LostStreamData,
    OrderedConsumerConfig, PeerInfo, PersistMode, Placement, PriorityGroupState, PriorityPolicy,
    PubAck, RePublish, ReplayPolicy, RetentionPolicy, SequenceInfo, StorageType, StreamAlternate,
    StreamConfig, StreamConsumerSource, StreamInfo, StreamSource, StreamSourceInfo, StreamState,
    SubjectTransform, Tier, UnknownValue,
};

#[cfg(feature = "kv")]
pub mod kv;
#[cfg(feature = "kv")]
pub use kv::{
    Entry, History, KeyValue, KeyValueConfig, KeyValueNames, KeyValueStatus, KeyValueStores,
    ListHistory, Operation,
};

#[cfg(feature = "object-store")]
pub mod object_store;
#[cfg(feature = "object-store")]
pub use object_store::{
    ListObjects, Object, ObjectInfo, ObjectLink, ObjectList, ObjectMeta, ObjectStore,
    ObjectStoreConfig, ObjectStoreNames, ObjectStoreStatus, ObjectStores, ObjectWatch,
    ObjectWatcher,
};
