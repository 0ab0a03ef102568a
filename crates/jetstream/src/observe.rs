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

/// The span of one delivered message. With the `otel` feature, when the span is
/// enabled and the message carries a W3C `traceparent` header, the span's parent
/// is the publisher's span, so the consumer's work continues the producer's trace.
pub(crate) fn receive(message: &nats_core::Message) -> Span {
    let span = tracing::debug_span!(
        "jetstream.receive",
        subject = %message.subject,
    );
    #[cfg(feature = "otel")]
    if !span.is_disabled() {
        if let Some(parent) = message.headers.as_ref().and_then(otel::extract) {
            use tracing_opentelemetry::OpenTelemetrySpanExt;
            // Fails only when no OpenTelemetry layer is installed: nothing to continue then.
            let _ = span.set_parent(parent);
        }
    }
    span
}

/// W3C trace context (`traceparent`, `tracestate`) in NATS headers.
#[cfg(feature = "otel")]
pub(crate) mod otel {
    use nats_core::HeaderMap;
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };
    use opentelemetry::Context;
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    pub(crate) const TRACEPARENT: &str = "traceparent";
    pub(crate) const TRACESTATE: &str = "tracestate";

    /// Adds the trace context of the current span to `headers`, unless it has
    /// none (no OpenTelemetry layer, or no valid trace) or the caller set a
    /// `traceparent` of their own. Makes no header map when there is nothing
    /// to add.
    pub(crate) fn inject(headers: &mut Option<HeaderMap>) {
        if headers
            .as_ref()
            .is_some_and(|h| h.get(TRACEPARENT).is_some())
        {
            return;
        }
        let cx = tracing::Span::current().context();
        let span = cx.span();
        let sc = span.span_context();
        if !sc.is_valid() {
            return;
        }
        let headers = headers.get_or_insert_with(HeaderMap::new);
        headers.insert(
            TRACEPARENT,
            format!(
                "00-{:032x}-{:016x}-{:02x}",
                sc.trace_id(),
                sc.span_id(),
                sc.trace_flags().to_u8()
            ),
        );
        let state = sc.trace_state().header();
        if !state.is_empty() {
            headers.insert(TRACESTATE, state);
        }
    }

    /// The remote parent a message's headers name, if they carry a valid
    /// version-00 `traceparent`.
    pub(crate) fn extract(headers: &HeaderMap) -> Option<Context> {
        let parent = headers.get(TRACEPARENT)?;
        let mut parts = parent.trim().split('-');
        let (version, trace, span, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if version != "00" || parts.next().is_some() || trace.len() != 32 || span.len() != 16 {
            return None;
        }
        let trace_id = TraceId::from_hex(trace).ok()?;
        let span_id = SpanId::from_hex(span).ok()?;
        let flags = u8::from_str_radix(flags, 16).ok()?;
        let state = headers
            .get(TRACESTATE)
            .and_then(|s| s.parse::<TraceState>().ok())
            .unwrap_or_default();
        let sc = SpanContext::new(trace_id, span_id, TraceFlags::new(flags), true, state);
        sc.is_valid()
            .then(|| Context::new().with_remote_span_context(sc))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn no_trace_no_headers() {
            // No OpenTelemetry layer: nothing to inject, and no empty header map made.
            let mut headers = None;
            inject(&mut headers);
            assert!(headers.is_none());
        }

        #[test]
        fn traceparent_round_trip_and_refusals() {
            let mut headers = HeaderMap::new();
            headers.insert(
                TRACEPARENT,
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            );
            headers.insert(TRACESTATE, "vendor=value");
            let cx = extract(&headers).unwrap();
            let span = cx.span();
            let sc = span.span_context();
            assert_eq!(
                format!("{:032x}", sc.trace_id()),
                "4bf92f3577b34da6a3ce929d0e0e4736"
            );
            assert_eq!(format!("{:016x}", sc.span_id()), "00f067aa0ba902b7");
            assert!(sc.is_sampled() && sc.is_remote());
            assert_eq!(sc.trace_state().get("vendor"), Some("value"));
            for bad in [
                "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
                "garbage",
            ] {
                let mut headers = HeaderMap::new();
                headers.insert(TRACEPARENT, bad);
                assert!(extract(&headers).is_none(), "{bad}");
            }
        }
    }
}

/// Metrics through the `metrics` facade (feature `metrics`): handles made once per
/// receive loop, so a message costs an atomic add, not a lookup.
#[cfg(feature = "metrics")]
pub(crate) mod metrics {
    use metrics::{Counter, Gauge, Histogram};

    /// The metrics of one consumer's receive loop (labels `stream`, `consumer`).
    #[derive(Clone)]
    pub(crate) struct ConsumerMetrics {
        pub delivered: Counter,
        pub outstanding: Gauge,
        pub ack_latency: Histogram,
    }

    impl ConsumerMetrics {
        pub(crate) fn new(stream: &str, consumer: &str) -> ConsumerMetrics {
            let labels = [
                ("stream", stream.to_owned()),
                ("consumer", consumer.to_owned()),
            ];
            ConsumerMetrics {
                delivered: metrics::counter!("jetstream_consumer_delivered_total", &labels),
                outstanding: metrics::gauge!("jetstream_consumer_pull_outstanding", &labels),
                ack_latency: metrics::histogram!("jetstream_consumer_ack_latency_seconds", &labels),
            }
        }
    }

    /// Asynchronous publishes waiting for their ack.
    pub(crate) fn publish_pending(pending: usize) {
        metrics::gauge!("jetstream_publish_pending_acks").set(pending as f64);
    }

    /// The connection's counters, as they are now.
    pub(crate) fn connection(stats: &nats_core::Statistics) {
        metrics::counter!("nats_messages_in_total").absolute(stats.in_messages);
        metrics::counter!("nats_bytes_in_total").absolute(stats.in_bytes);
        metrics::counter!("nats_messages_out_total").absolute(stats.out_messages);
        metrics::counter!("nats_bytes_out_total").absolute(stats.out_bytes);
        metrics::counter!("nats_reconnects_total").absolute(stats.reconnects);
        metrics::counter!("nats_slow_consumer_dropped_total").absolute(stats.dropped_messages);
    }
}
