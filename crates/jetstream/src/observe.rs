//! The `tracing` spans of JetStream operations: one constructor per kind of
//! operation, so names and fields stay the same everywhere.
//!
//! Spans are at `debug` level (acks at `trace`): with no subscriber, or one that
//! does not enable them, creating one costs a cached interest check and no field
//! is formatted.

use tracing::Span;

/// A JetStream API request (`$JS.API...`), management and direct gets alike.
pub(crate) fn api(subject: &str) -> Span {
    tracing::debug_span!("jetstream.api", subject)
}

/// A publish to a stream, waiting for its ack or handing out its ack future.
pub(crate) fn publish(subject: &str, asynchronous: bool) -> Span {
    tracing::debug_span!("jetstream.publish", subject, asynchronous)
}

/// An acknowledgement of a delivered message.
pub(crate) fn ack(kind: &'static str, reply: &str, confirmed: bool) -> Span {
    tracing::trace_span!("jetstream.ack", kind, reply, confirmed)
}

/// A pull request to a pull consumer (by `fetch`, `next`, `messages` and
/// `consume` alike): how many messages and bytes it asks for.
pub(crate) fn pull(stream: &str, consumer: &str, batch: usize, max_bytes: usize) -> Span {
    tracing::debug_span!("jetstream.pull", stream, consumer, batch, max_bytes)
}

/// A Key/Value operation.
#[cfg(feature = "kv")]
pub(crate) fn kv(op: &'static str, bucket: &str, key: &str) -> Span {
    tracing::debug_span!("jetstream.kv", op, bucket, key)
}

/// An object store operation.
#[cfg(feature = "object-store")]
pub(crate) fn object(op: &'static str, bucket: &str, name: &str) -> Span {
    tracing::debug_span!("jetstream.object", op, bucket, name)
}
