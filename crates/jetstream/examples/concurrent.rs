//! Concurrent processing: a handler that waits on something slow (here a 20 ms sleep standing
//! in for a call to another service), run for up to `n` messages at once, with the messages
//! of one subject kept in order, and a drain that waits for the running handlers.
//!
//! Run with `cargo run -p nats-jetstream --example concurrent`. Connects to `NATS_URL` when it
//! is set; otherwise starts a local nats-server (with JetStream) through the test kit.
#![allow(clippy::print_stdout)]

#[path = "support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jetstream::{ConsumerConfig, StorageType, StreamConfig};

const MESSAGES: usize = 400;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (_local_server, client) = support::connect().await?;
    let js = jetstream::new(client);

    let stream = js
        .create_or_update_stream(StreamConfig {
            name: "EXAMPLE_CONCURRENT".into(),
            subjects: vec!["example.accounts.>".into()],
            storage: StorageType::Memory,
            ..Default::default()
        })
        .await?;
    stream.purge().await?;
    for i in 0..MESSAGES {
        // Events of 20 accounts: each account's events must be applied in order.
        drop(
            js.publish_async(format!("example.accounts.{}", i % 20), format!("event {i}"))
                .await?,
        );
    }
    js.publish_async_complete().await?;

    for n in [1, 16, 64] {
        let consumer = stream
            .create_consumer(ConsumerConfig {
                durable_name: Some(format!("workers-{n}")),
                ..Default::default()
            })
            .await?;
        let handled = Arc::new(AtomicUsize::new(0));
        let counter = handled.clone();
        let start = Instant::now();
        let ctx = consumer
            .consume_concurrent(n, move |msg| {
                let counter = counter.clone();
                async move {
                    tokio::time::sleep(Duration::from_millis(20)).await; // the slow call
                    if msg.ack().await.is_ok() {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
            .per_subject_ordering()
            .auto_in_progress()
            .error_handler(|err| println!("consume: {err}"))
            .await?;
        while handled.load(Ordering::Relaxed) < MESSAGES {
            if start.elapsed() > Duration::from_secs(60) {
                return Err("the messages were not handled in 60 s".into());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        ctx.drain().await; // returns once the running handlers are done
        let took = start.elapsed();
        println!(
            "n = {n:>2}: {MESSAGES} messages in {took:.2?} ({:.0} msgs/s); at most 20 at once, one per account",
            MESSAGES as f64 / took.as_secs_f64()
        );
    }

    js.delete_stream("EXAMPLE_CONCURRENT").await?;
    Ok(())
}
