//! Metrics: with the `metrics` feature, consumers, acks, async publishes and the
//! connection report through the `metrics` facade; here they are rendered as
//! Prometheus text.
//!
//! Run with `cargo run -p nats-jetstream --features metrics --example metrics`. Connects to
//! `NATS_URL` when it is set; otherwise starts a local nats-server through the test kit.
#![allow(clippy::print_stdout)]

#[path = "support/mod.rs"]
mod support;

use futures_util::StreamExt;
use jetstream::{ConsumerConfig, StreamConfig};
use metrics_exporter_prometheus::PrometheusBuilder;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Any `metrics` recorder works; this one renders the Prometheus text format.
    let prometheus = PrometheusBuilder::new().install_recorder()?;

    let (_local_server, client) = support::connect().await?;
    let js = jetstream::new(client);
    let stream = js
        .create_or_update_stream(StreamConfig {
            name: "METRICS".into(),
            subjects: vec!["metrics.>".into()],
            ..Default::default()
        })
        .await?;
    for i in 0..100 {
        drop(
            js.publish_async("metrics.orders", format!("order {i}"))
                .await?,
        );
    }
    js.publish_async_complete().await?;

    let consumer = stream
        .create_consumer(ConsumerConfig {
            durable_name: Some("billing".into()),
            ..Default::default()
        })
        .await?;
    let mut batch = consumer.fetch(100).await?;
    while let Some(msg) = batch.next().await {
        msg?.ack().await?;
    }
    js.delete_stream("METRICS").await?;

    // Where a service answers `GET /metrics`:
    js.record_connection_metrics();
    println!("{}", prometheus.render());
    Ok(())
}
