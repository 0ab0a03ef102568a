//! Quickstart: create a stream, publish to it, and read it back with a pull consumer.
//!
//! Run with `cargo run -p nats-jetstream --example quickstart`. Connects to `NATS_URL`
//! when it is set; otherwise starts a local nats-server (with JetStream) through
//! the test kit, which provisions the pinned server binary if needed.
#![allow(clippy::print_stdout)]

#[path = "support/mod.rs"]
mod support;

use std::time::Duration;

use futures_util::StreamExt;
use jetstream::{ConsumerConfig, StreamConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (_local_server, client) = support::connect().await?;
    let js = jetstream::new(client);

    // A stream captures subjects; creating it again with the same config is fine.
    let stream = js
        .create_or_update_stream(StreamConfig {
            name: "QUICKSTART".into(),
            subjects: vec!["quickstart.>".into()],
            ..Default::default()
        })
        .await?;
    println!("stream {} ready", stream.cached_info().config.name);

    // Publish: synchronously (waits for the ack) and asynchronously (pipelined).
    let ack = js.publish("quickstart.hello", "hello JetStream").await?;
    println!("published to {} as sequence {}", ack.stream, ack.sequence);
    let mut acks = Vec::new();
    for i in 0..10 {
        acks.push(
            js.publish_async("quickstart.events", format!("event {i}"))
                .await?,
        );
    }
    for ack in acks {
        ack.await?;
    }

    // A durable pull consumer; read one batch with fetch, the rest with messages().
    let consumer = stream
        .create_or_update_consumer(ConsumerConfig {
            durable_name: Some("quickstart-reader".into()),
            ..Default::default()
        })
        .await?;
    let mut batch = consumer.fetch(5).max_wait(Duration::from_secs(1)).await?;
    while let Some(msg) = batch.next().await {
        let msg = msg?;
        println!(
            "fetched {}: {}",
            msg.subject(),
            String::from_utf8_lossy(msg.data())
        );
        msg.ack().await?;
    }
    let mut messages = consumer.messages().await?;
    for _ in 0..6 {
        let Some(msg) = messages.next().await else {
            break;
        };
        let msg = msg?;
        let meta = msg.metadata()?;
        println!(
            "message {} (stream seq {}): {}",
            msg.subject(),
            meta.sequence.stream,
            String::from_utf8_lossy(msg.data())
        );
        msg.ack().await?;
    }
    messages.stop();
    println!("done");
    Ok(())
}
