//! Tracing: every JetStream operation opens a `tracing` span, and with the `otel`
//! feature a consumer's per-message span continues the publisher's trace through
//! the `traceparent` header.
//!
//! Run with `cargo run -p nats-jetstream --features otel --example tracing`. Connects to
//! `NATS_URL` when it is set; otherwise starts a local nats-server through the test kit.
//! The spans go to an in-memory OpenTelemetry exporter, printed at the end; in a service
//! you would install an OTLP exporter instead.
#![allow(clippy::print_stdout)]

#[path = "support/mod.rs"]
mod support;

use std::future::IntoFuture;
use std::time::Duration;

use jetstream::StreamConfig;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("example"));
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))?;

    let (_local_server, client) = support::connect().await?;
    let js = jetstream::new(client);
    let stream = js
        .create_or_update_stream(StreamConfig {
            name: "TRACING".into(),
            subjects: vec!["tracing.>".into()],
            ..Default::default()
        })
        .await?;

    // The producer: its publish carries the trace context in `traceparent`.
    js.publish("tracing.order", "order 1")
        .into_future()
        .instrument(tracing::info_span!("checkout"))
        .await?;

    // The consumer: the handler runs in the message's span, a child of the publish.
    let consumer = stream.create_consumer(Default::default()).await?;
    let (done, mut handled) = tokio::sync::mpsc::channel(1);
    let ctx = consumer
        .consume(move |msg| {
            let done = done.clone();
            async move {
                tracing::info_span!("ship order").in_scope(|| ());
                let _ = msg.ack().await;
                let _ = done.send(()).await;
            }
        })
        .await?;
    tokio::time::timeout(Duration::from_secs(10), handled.recv()).await?;
    ctx.stop();
    js.delete_stream("TRACING").await?;

    provider.force_flush()?;
    for span in exporter.get_finished_spans()? {
        println!(
            "trace {:032x} span {:016x} parent {:016x} {}",
            span.span_context.trace_id(),
            span.span_context.span_id(),
            span.parent_span_id,
            span.name
        );
    }
    println!(
        "`checkout`, `jetstream.publish`, `jetstream.receive` and `ship order` share one trace"
    );
    Ok(())
}
