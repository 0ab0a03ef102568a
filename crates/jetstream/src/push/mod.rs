//! Push consumers: the server sends messages to a deliver subject that the client
//! subscribes to, instead of the client pulling them.
//!
//! - `api.rs`: create, update and look up push consumers on the context and on a stream.
//! - `engine.rs`: the receive loop of one subscription on a deliver subject (heartbeats, flow
//!   control, the consumer check when the server goes quiet, reconnects).
//! - `consume.rs`: [`PushConsume`], the builder of a consume loop; it runs on the same loop
//!   task and [`ConsumeContext`](crate::ConsumeContext) as a pull consumer's `consume`.
//! - `ordered.rs`: [`OrderedPushConsumer`], the push form of the ordered consumer, built on
//!   the same reset logic as the pull one.

mod api;
mod consume;
pub(crate) mod engine;
mod ordered;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub use consume::PushConsume;
pub use ordered::OrderedPushConsumer;

use crate::consumer::Consumer;
use crate::error::Result;
use crate::types::ConsumerInfo;
use crate::JetStream;

/// A handle to a push consumer (one with a `deliver_subject`): cheap to clone, holding the
/// last fetched [`ConsumerInfo`]. As nats.go's `jetstream.PushConsumer`.
///
/// Get one from [`JetStream::create_push_consumer`], [`JetStream::push_consumer`],
/// [`Stream::create_push_consumer`](crate::Stream::create_push_consumer) and friends; read
/// it with [`consume`](Self::consume). A handle (and its clones) runs one consume loop at a
/// time; with a `deliver_group`, several handles share the messages.
///
/// ```no_run
/// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
/// use std::time::Duration;
/// use jetstream::ConsumerConfig;
///
/// let consumer = js
///     .create_push_consumer(
///         "ORDERS",
///         ConsumerConfig {
///             durable_name: Some("mailer".into()),
///             deliver_subject: Some("deliver.mailer".into()),
///             idle_heartbeat: Duration::from_secs(5),
///             flow_control: true,
///             ..Default::default()
///         },
///     )
///     .await?;
/// let ctx = consumer
///     .consume(|msg| async move {
///         let _ = msg.ack().await;
///     })
///     .error_handler(|err| eprintln!("push consumer: {err}"))
///     .await?;
/// // ... later
/// ctx.drain().await;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct PushConsumer {
    pub(crate) consumer: Consumer,
    /// A consume loop runs on this handle (or a clone).
    consuming: Arc<AtomicBool>,
}

impl PushConsumer {
    pub(crate) fn new(js: JetStream, info: ConsumerInfo) -> PushConsumer {
        PushConsumer {
            consumer: Consumer::new(js, info),
            consuming: Arc::default(),
        }
    }

    /// The consumer's name.
    pub fn name(&self) -> &str {
        self.consumer.name()
    }

    /// The name of the consumer's stream.
    pub fn stream_name(&self) -> &str {
        self.consumer.stream_name()
    }

    /// The JetStream context this handle uses.
    pub fn context(&self) -> &JetStream {
        self.consumer.context()
    }

    /// The last fetched info, without asking the server. Clones share it.
    pub fn cached_info(&self) -> Arc<ConsumerInfo> {
        self.consumer.cached_info()
    }

    /// Fetches the consumer's current info and refreshes the cache; deleted:
    /// [`ErrorKind::ConsumerNotFound`](crate::ErrorKind::ConsumerNotFound).
    ///
    /// ```no_run
    /// # async fn run(consumer: jetstream::PushConsumer) -> Result<(), jetstream::Error> {
    /// let info = consumer.info().await?;
    /// println!("{} pending, bound: {}", info.num_pending, info.push_bound);
    /// # Ok(()) }
    /// ```
    pub async fn info(&self) -> Result<ConsumerInfo> {
        self.consumer.info().await
    }

    /// Claims the handle for one consume loop; `None` while one runs.
    fn begin_consume(&self) -> Option<ConsumingGuard> {
        self.consuming
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
            .then(|| ConsumingGuard(self.consuming.clone()))
    }
}

/// Held by the one consume loop of a push consumer handle; dropping it lets another start.
#[derive(Debug)]
pub(crate) struct ConsumingGuard(Arc<AtomicBool>);

impl Drop for ConsumingGuard {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Never run: checks at compile time that the futures can be spawned.
    #[allow(dead_code)]
    fn futures_are_send(js: JetStream, stream: crate::Stream, push: PushConsumer) {
        use crate::types::{ConsumerConfig, OrderedConsumerConfig};
        use std::future::IntoFuture;
        fn is_send<T: Send + 'static>(_: T) {}
        let (j, s, p) = (js.clone(), stream.clone(), push.clone());
        is_send(async move {
            let _ = j.create_push_consumer("S", ConsumerConfig::default()).await;
            let _ = j.update_push_consumer("S", ConsumerConfig::default()).await;
            let _ = j
                .create_or_update_push_consumer("S", ConsumerConfig::default())
                .await;
            let _ = j.push_consumer("S", "C").await;
            let _ = s.push_consumer("C").await;
            let _ = p.info().await;
            let ordered = s
                .ordered_push_consumer(OrderedConsumerConfig::default())
                .await;
            let _ = ordered.map(|o| o.consume(|_m| async {}).into_future());
            let _ = p.consume(|_m| async {}).await;
        });
        is_send(push.consume(|_m| async {}).into_future());
    }

    #[test]
    fn handles_are_send_sync_clone() {
        fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
        assert_send_sync::<PushConsumer>();
        assert_send_sync::<OrderedPushConsumer>();
    }
}
