//! [`OrderedPushConsumer`]: the ordered consumer, receiving by push. The configuration,
//! the cursor and the recreation of server-side consumers are those of the pull-based
//! [`OrderedConsumer`]; only the receiving differs.

use std::sync::Arc;

use crate::error::Result;
use crate::types::{ConsumerInfo, OrderedConsumerConfig};
use crate::{JetStream, OrderedConsumer, Stream};

/// An ordered consumer that receives by push: an ephemeral push consumer (ack none, flow
/// control and idle heartbeats on, one replica in memory) delivering to an inbox of this
/// client, replaced by a new one starting after the last message handed out whenever
/// continuity is in doubt. It delivers the stream (or its filtered part) in order, with no
/// gap and no duplicate, across reconnects, server restarts and deletions of its
/// server-side consumer.
///
/// Made by [`JetStream::ordered_push_consumer`] or [`Stream::ordered_push_consumer`]; read
/// with [`consume`](Self::consume). nats.go's `jetstream` package has no such type (its
/// legacy `nats.OrderedConsumer()` subscription option is the same idea); prefer the pull
/// [`OrderedConsumer`] unless push delivery is what you need.
///
/// ```no_run
/// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
/// use jetstream::OrderedConsumerConfig;
///
/// let ordered = js
///     .ordered_push_consumer(
///         "ORDERS",
///         OrderedConsumerConfig {
///             filter_subjects: vec!["orders.new".into()],
///             ..Default::default()
///         },
///     )
///     .await?;
/// let ctx = ordered
///     .consume(|msg| async move {
///         println!("{:?}", msg.data());
///     })
///     .error_handler(|err| eprintln!("ordered push: {err}"))
///     .await?;
/// // ... later
/// ctx.drain().await;
/// println!("read up to stream sequence {}", ordered.last_stream_sequence());
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct OrderedPushConsumer {
    pub(crate) inner: OrderedConsumer,
}

impl OrderedPushConsumer {
    /// Checks the configuration and that the stream exists; the first server-side consumer
    /// is created when consuming starts.
    async fn create(
        js: &JetStream,
        stream: &str,
        config: OrderedConsumerConfig,
    ) -> Result<OrderedPushConsumer> {
        let inner = OrderedConsumer::build(js.clone(), stream, config, Default::default())?;
        js.stream(stream).await?;
        Ok(OrderedPushConsumer { inner })
    }

    /// The stream this consumer reads.
    pub fn stream_name(&self) -> &str {
        self.inner.stream_name()
    }

    /// The JetStream context this consumer uses.
    pub fn context(&self) -> &JetStream {
        self.inner.context()
    }

    /// The info of the current server-side consumer, as last fetched (a default one before
    /// consuming started).
    pub fn cached_info(&self) -> Arc<ConsumerInfo> {
        self.inner.cached_info()
    }

    /// Fetches the info of the current server-side consumer;
    /// [`ErrorKind::ConsumerNotFound`](crate::ErrorKind::ConsumerNotFound) when there is
    /// none right now (before consuming, or while it is being replaced).
    pub async fn info(&self) -> Result<ConsumerInfo> {
        self.inner.info().await
    }

    /// The stream sequence of the last message handed out (0 when none was).
    pub fn last_stream_sequence(&self) -> u64 {
        self.inner.last_stream_sequence()
    }
}

impl JetStream {
    /// An ordered push consumer on `stream`: in-order, gap-free delivery without acks, by
    /// push. Refused before sending: an invalid stream name, filter or name prefix; a
    /// missing stream: [`ErrorKind::StreamNotFound`](crate::ErrorKind::StreamNotFound).
    /// See [`OrderedPushConsumer`].
    pub async fn ordered_push_consumer(
        &self,
        stream: impl AsRef<str>,
        config: OrderedConsumerConfig,
    ) -> Result<OrderedPushConsumer> {
        OrderedPushConsumer::create(self, stream.as_ref(), config).await
    }
}

impl Stream {
    /// An ordered push consumer on this stream; see [`JetStream::ordered_push_consumer`].
    ///
    /// ```no_run
    /// # async fn run(stream: jetstream::Stream) -> Result<(), jetstream::Error> {
    /// let ordered = stream
    ///     .ordered_push_consumer(jetstream::OrderedConsumerConfig::default())
    ///     .await?;
    /// let ctx = ordered.consume(|msg| async move { println!("{}", msg.subject()) }).await?;
    /// # let _ = ctx;
    /// # Ok(()) }
    /// ```
    pub async fn ordered_push_consumer(
        &self,
        config: OrderedConsumerConfig,
    ) -> Result<OrderedPushConsumer> {
        OrderedPushConsumer::create(&self.js, self.name(), config).await
    }
}
