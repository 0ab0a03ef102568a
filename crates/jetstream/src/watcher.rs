//! The one watcher core behind the Key/Value and object-store watchers (and the listings
//! built on them): an ordered consumer read as "the initial values, one marker, then live
//! changes".
//!
//! The end of the initial values is found exactly: the consumer's pending count at creation
//! (zero: the marker comes at once), and the pending count each message carries (zero:
//! nothing older is left). The core only delivers messages and the marker; turning a message
//! into an entry (and leaving some out) is the caller's job, and a message left out still
//! counts towards the marker.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream as _;

use crate::error::{ErrorKind, Result};
use crate::message::Msg;
use crate::pull::{DeleteOnDrop, Messages};
use crate::stream::Stream;
use crate::types::OrderedConsumerConfig;
use crate::OrderedConsumer;

/// Idle heartbeat of a watcher's pulls: a lost consumer (e.g. the bucket was deleted) is
/// noticed after two missed heartbeats.
const HEARTBEAT: Duration = Duration::from_secs(3);
/// How many bytes of entries a watcher keeps requested (and at most buffers).
const WATCH_BYTES: usize = 8 * 1024 * 1024;

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
        let consumer = stream.watch_consumer(config).await?;
        // Nothing was pulled yet, so the consumer's pending count is the number of initial
        // entries (plus any delivered count, should the server report one).
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
        // Bound the buffered entries by bytes, not by count: values may be large. The
        // budget always fits the largest message the server allows.
        let budget = WATCH_BYTES.max(2 * stream.context().client().max_payload() + 4096);
        let messages = consumer
            .messages()
            .max_bytes(budget)
            .heartbeat(HEARTBEAT)
            .await?;
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
