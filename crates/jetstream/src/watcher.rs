//! The one watcher core behind the Key/Value and object-store watchers (and the listings
//! built on them): an ordered consumer read as "the initial values, one marker, then live
//! changes".
//!
//! The ordered consumer receives by push, with flow control, as nats.go's watchers do: the
//! server delivers without a pull request to serve per batch, which costs it less per entry
//! than pulls (on a server-bound machine the watch rate follows). Flow control bounds what the
//! client buffers: the server waits for the watcher to read up to each flow-control request.
//!
//! The end of the initial values is found exactly: the consumer's pending count at creation
//! (zero: the marker comes at once), and the pending count each message carries (zero:
//! nothing older is left). The core only delivers messages and the marker; turning a message
//! into an entry (and leaving some out) is the caller's job, and a message left out still
//! counts towards the marker.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream as _;

use crate::error::{Error, ErrorKind, Result};
use crate::message::Msg;
use crate::pull::engine::Control;
use crate::pull::{AnyEngine, DeleteOnDrop, Messages, OrderedEngine, Receive};
use crate::stream::Stream;
use crate::types::OrderedConsumerConfig;
use crate::OrderedConsumer;

/// Idle heartbeat of a watcher's consumer: a lost consumer (e.g. the bucket was deleted)
/// is noticed after two missed heartbeats.
const HEARTBEAT: Duration = Duration::from_secs(3);

/// One step of a watch.
// Returned once and matched at once: boxing the message would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum WatchEvent {
    /// A stored message.
    Msg(Msg),
    /// The initial values are all delivered.
    Marker,
}

/// Progress through the initial values.
#[derive(Debug)]
enum Initial {
    /// Waiting for this many initial messages; `received` so far.
    Expecting { expected: u64, received: u64 },
    /// The marker is to be yielded next.
    MarkerDue,
    /// The marker was yielded (or is not wanted).
    Done,
}

/// An ordered consumer read as initial values, marker, live changes. Dropping it removes
/// its server-side consumer.
pub(crate) struct WatchCore {
    #[cfg_attr(not(feature = "object-store"), allow(dead_code))]
    consumer: OrderedConsumer,
    messages: Messages,
    initial: Initial,
    /// Dropped with the core, which triggers the clean-up task.
    _cleanup: DeleteOnDrop,
}

impl std::fmt::Debug for WatchCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchCore")
            .field("initial", &self.initial)
            .finish_non_exhaustive()
    }
}

impl WatchCore {
    /// Starts watching `stream` with `config`. With `updates_only` no marker is sent.
    /// Errors come as the stream reports them (callers map them to bucket kinds).
    pub(crate) async fn start(
        stream: &Stream,
        config: OrderedConsumerConfig,
        updates_only: bool,
    ) -> Result<WatchCore> {
        let js = stream.context();
        let consumer = OrderedConsumer::build(js.clone(), stream.name(), config, HashMap::new())?;
        let control = Arc::new(Control::default());
        // Subscribes to a fresh inbox, then creates the first push consumer delivering to
        // it. The creation retries transient failures; a watch has no option of its own to
        // bound that, so it waits at most twice the context's timeout (room for one retry).
        let limit = js.timeout().saturating_mul(2);
        let receive = Receive::Push {
            heartbeat: HEARTBEAT,
        };
        let engine = tokio::time::timeout(
            limit,
            OrderedEngine::start(consumer.clone(), receive, control.clone()),
        )
        .await
        .map_err(|_| {
            Error::msg(
                ErrorKind::Timeout,
                format!(
                    "watch: no consumer on stream {:?} could be created within {limit:?}",
                    stream.name()
                ),
            )
        })??;
        // The consumer's pending count at its creation is the number of initial entries
        // (plus any delivered count, should the server report one).
        let info = consumer.cached_info();
        let expected = info.num_pending + info.delivered.consumer_sequence;
        let initial = match (updates_only, expected) {
            (true, _) => Initial::Done,
            (false, 0) => Initial::MarkerDue,
            (false, n) => Initial::Expecting {
                expected: n,
                received: 0,
            },
        };
        let messages = Messages::from_engine(AnyEngine::Ordered(engine), control, true, None);
        let cleanup = consumer.delete_on_drop();
        Ok(WatchCore {
            consumer,
            messages,
            initial,
            _cleanup: cleanup,
        })
    }

    /// Stops the watch: what already arrived is still delivered, then it ends.
    pub(crate) fn stop(&mut self) {
        self.messages.stop();
    }

    /// Whether the marker was delivered (or is not wanted).
    pub(crate) fn initial_done(&self) -> bool {
        matches!(self.initial, Initial::Done)
    }

    /// The ordered consumer, e.g. to delete its server-side consumer at once (the drop of
    /// the core does it too, in the background).
    #[cfg(feature = "object-store")]
    pub(crate) fn consumer(&self) -> OrderedConsumer {
        self.consumer.clone()
    }

    /// The next message or the marker. Missed heartbeats are not reported (the ordered
    /// consumer recovers on its own); other errors are, as the messages yield them (an
    /// error that ends them is followed by the end).
    pub(crate) fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<WatchEvent>>> {
        loop {
            if matches!(self.initial, Initial::MarkerDue) {
                self.initial = Initial::Done;
                return Poll::Ready(Some(Ok(WatchEvent::Marker)));
            }
            let msg = match Pin::new(&mut self.messages).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Ready(Some(Err(e))) if e.kind() == ErrorKind::HeartbeatMissed => continue,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(msg))) => msg,
            };
            if let Initial::Expecting { expected, received } = &mut self.initial {
                *received += 1;
                let latest = msg.numbers().is_some_and(|n| n.pending == 0);
                if latest || *received >= *expected {
                    self.initial = Initial::MarkerDue;
                }
            }
            return Poll::Ready(Some(Ok(WatchEvent::Msg(msg))));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_is_send_and_unpin() {
        fn assert_send_unpin<T: Send + Unpin + 'static>() {}
        assert_send_unpin::<WatchCore>();
    }
}
