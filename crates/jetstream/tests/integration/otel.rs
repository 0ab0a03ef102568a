//! With the `otel` feature, a publish carries the W3C trace context of its span
//! and the consumer's per-message span continues that trace (checked with an
//! in-memory OpenTelemetry exporter).

use std::time::Duration;

use futures_util::StreamExt;
use jetstream::StreamConfig;
use nats_testkit::Server;
use opentelemetry::trace::{SpanId, TraceId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

fn finished(provider: &SdkTracerProvider, exporter: &InMemorySpanExporter) -> Vec<SpanData> {
    provider.force_flush().unwrap();
    exporter.get_finished_spans().unwrap()
}

fn named<'a>(spans: &'a [SpanData], name: &str) -> Vec<&'a SpanData> {
    spans.iter().filter(|s| s.name == name).collect()
}

// One thread: the subscriber set for this test sees the spans of every task.
#[tokio::test(flavor = "current_thread")]
async fn the_consumer_continues_the_publishers_trace() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));

    let server = Server::jetstream().start();
    let js = jetstream::new(nats_core::connect(server.url()).await.unwrap());
    let stream = js
        .create_stream(StreamConfig {
            name: "ORDERS".into(),
            subjects: vec!["orders.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();

    // Two producers, each in a trace of its own.
    for (name, subject) in [("producer-a", "orders.a"), ("producer-b", "orders.b")] {
        let span = tracing::info_span!("producer", name);
        async {
            js.publish(subject, "order").await.unwrap();
        }
        .instrument(span)
        .await;
    }
    // A publish outside any span starts a trace of its own: its publish span.
    js.publish("orders.c", "untraced").await.unwrap();
    let traced = stream.get_last_msg_for_subject("orders.a").await.unwrap();
    let parent = traced.headers.as_ref().unwrap().get("traceparent").unwrap();
    assert!(
        parent.starts_with("00-") && parent.ends_with("-01"),
        "{parent}"
    );

    // consume(): the handler runs in the message's span.
    let consumer = stream.create_consumer(Default::default()).await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let ctx = consumer
        .consume(move |msg| {
            let tx = tx.clone();
            async move {
                tracing::info_span!("handler").in_scope(|| ());
                let _ = tx.send(msg.subject().to_string());
                msg.ack().await.unwrap();
            }
        })
        .await
        .unwrap();
    for _ in 0..3 {
        tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap();
    }
    ctx.stop();

    // fetch: the message's span, used by hand.
    let consumer = stream.create_consumer(Default::default()).await.unwrap();
    let mut batch = consumer.fetch(3).await.unwrap();
    while let Some(msg) = batch.next().await {
        let msg = msg.unwrap();
        let span = msg.span().clone();
        async move {
            msg.ack().await.unwrap();
        }
        .instrument(span)
        .await;
    }
    drop(batch);
    tokio::time::sleep(Duration::from_millis(200)).await;

    let spans = finished(&provider, &exporter);
    let producers = named(&spans, "producer");
    assert_eq!(producers.len(), 2);
    let publishes = named(&spans, "jetstream.publish");
    let receives = named(&spans, "jetstream.receive");
    assert_eq!(receives.len(), 6, "3 by consume, 3 by fetch");
    for producer in &producers {
        let trace: TraceId = producer.span_context.trace_id();
        // The publish span is the producer's child...
        let publish: Vec<_> = publishes
            .iter()
            .filter(|p| p.span_context.trace_id() == trace)
            .collect();
        assert_eq!(publish.len(), 1);
        let publish_id: SpanId = publish[0].span_context.span_id();
        // ...and each of the two deliveries of its message continues from it.
        let continued: Vec<_> = receives
            .iter()
            .filter(|r| r.span_context.trace_id() == trace)
            .collect();
        assert_eq!(continued.len(), 2, "one per consumer");
        for r in continued {
            assert_eq!(r.parent_span_id, publish_id);
        }
    }
    // The handler's own span sits inside the delivery's span.
    let handlers = named(&spans, "handler");
    assert_eq!(handlers.len(), 3);
    for h in handlers {
        assert!(receives
            .iter()
            .any(|r| r.span_context.span_id() == h.parent_span_id));
    }
}
