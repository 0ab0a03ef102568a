//! How ordered consumers are made ([`JetStream::ordered_consumer`],
//! [`Stream::ordered_consumer`](crate::Stream::ordered_consumer)) and read (fetches, `next`,
//! `messages`, `consume`): the public calls over the machinery in `ordered`.

use std::collections::HashMap;

use super::ordered::OrderedConsumer;
use crate::error::Error;
use crate::types::OrderedConsumerConfig;
use crate::JetStream;

impl JetStream {
    /// An ordered consumer on `stream`: in-order, gap-free delivery without acks.
    pub async fn ordered_consumer(
        &self,
        stream: impl AsRef<str>,
        config: OrderedConsumerConfig,
    ) -> Result<OrderedConsumer, Error> {
        OrderedConsumer::create(self.clone(), stream.as_ref(), config, HashMap::new()).await
    }

    /// [`ordered_consumer`](Self::ordered_consumer) whose server-side consumers all carry
    /// this application `metadata` (server 2.10+): nats.go's
    /// `OrderedConsumerConfig.Metadata`. (A separate call keeps [`OrderedConsumerConfig`]
    /// the exact struct it has always been.)
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
    /// let metadata = [("owner".to_string(), "billing".to_string())].into();
    /// let ordered = js
    ///     .ordered_consumer_with_metadata("ORDERS", Default::default(), metadata)
    ///     .await?;
    /// assert_eq!(ordered.info().await?.config.metadata["owner"], "billing");
    /// # Ok(()) }
    /// ```
    pub async fn ordered_consumer_with_metadata(
        &self,
        stream: impl AsRef<str>,
        config: OrderedConsumerConfig,
        metadata: HashMap<String, String>,
    ) -> Result<OrderedConsumer, Error> {
        OrderedConsumer::create(self.clone(), stream.as_ref(), config, metadata).await
    }
}

impl crate::Stream {
    /// An ordered consumer on this stream.
    pub async fn ordered_consumer(
        &self,
        config: OrderedConsumerConfig,
    ) -> Result<OrderedConsumer, Error> {
        OrderedConsumer::create(self.js.clone(), self.name(), config, HashMap::new()).await
    }

    /// An ordered consumer on this stream whose server-side consumers carry this
    /// application `metadata`: see [`JetStream::ordered_consumer_with_metadata`].
    pub async fn ordered_consumer_with_metadata(
        &self,
        config: OrderedConsumerConfig,
        metadata: HashMap<String, String>,
    ) -> Result<OrderedConsumer, Error> {
        OrderedConsumer::create(self.js.clone(), self.name(), config, metadata).await
    }
}

impl OrderedConsumer {
    /// Pulls up to `max_messages` messages in order, continuing after the last
    /// message any earlier call delivered.
    pub fn fetch(&self, max_messages: usize) -> super::Fetch {
        super::Fetch::new(super::Source::Ordered(self.clone()), max_messages, 0, false)
    }

    /// Pulls messages up to a budget of `max_bytes` bytes, in order.
    pub fn fetch_bytes(&self, max_bytes: usize) -> super::Fetch {
        super::Fetch::new(
            super::Source::Ordered(self.clone()),
            super::DEFAULT_BYTES_BATCH,
            max_bytes.max(1),
            false,
        )
    }

    /// Pulls up to `max_messages` available now, in order.
    pub fn fetch_no_wait(&self, max_messages: usize) -> super::Fetch {
        super::Fetch::new(super::Source::Ordered(self.clone()), max_messages, 0, true)
    }

    /// The next message in order (waits up to 30 s, then `Timeout`; another
    /// wait: [`Next::max_wait`](super::Next::max_wait)).
    ///
    /// ```no_run
    /// # async fn run(ordered: jetstream::OrderedConsumer) -> Result<(), jetstream::Error> {
    /// let msg = ordered.next().max_wait(std::time::Duration::from_secs(1)).await?;
    /// # Ok(()) }
    /// ```
    pub fn next(&self) -> super::Next {
        super::Next::new(super::Source::Ordered(self.clone()))
    }

    /// A continuous, ordered stream of messages; await the builder to start.
    pub fn messages(&self) -> super::MessagesBuilder {
        super::MessagesBuilder::from_source(super::Source::Ordered(self.clone()))
    }

    /// Runs `handler` for every message in order on a task of its own. As with
    /// [`Consumer::consume`](crate::Consumer::consume), a panic in the handler ends the loop and reaches
    /// the error handler as [`ErrorKind::HandlerPanicked`](crate::ErrorKind::HandlerPanicked).
    pub fn consume<F, Fut>(&self, handler: F) -> super::Consume<F>
    where
        F: FnMut(crate::Msg) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        super::Consume::from_source(super::Source::Ordered(self.clone()), handler)
    }
}
