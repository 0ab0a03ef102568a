//! Typed messages: publish values as JSON, read them back as values, keep a typed view of a
//! Key/Value bucket, and deal with a poison message (one that does not decode).
//!
//! Run with `cargo run -p nats-jetstream --example typed`. Connects to `NATS_URL` when it is
//! set; otherwise starts a local nats-server (with JetStream) through the test kit.
#![allow(clippy::print_stdout)]

#[path = "support/mod.rs"]
mod support;

use std::time::Duration;

use futures_util::StreamExt;
use jetstream::{ConsumerConfig, KeyValueConfig, StorageType, StreamConfig};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Order {
    id: u64,
    item: String,
    quantity: u32,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (_local_server, client) = support::connect().await?;
    let js = jetstream::new(client);

    let stream = js
        .create_or_update_stream(StreamConfig {
            name: "EXAMPLE_TYPED".into(),
            subjects: vec!["example.typed.>".into()],
            storage: StorageType::Memory,
            ..Default::default()
        })
        .await?;
    stream.purge().await?;

    // Publish values; the builder takes the usual options.
    for id in 1..=3 {
        let order = Order {
            id,
            item: format!("book {id}"),
            quantity: id as u32,
        };
        js.publish_json("example.typed.orders", &order)
            .msg_id(format!("order-{id}"))
            .await?;
    }
    // And one message that is not an order.
    js.publish("example.typed.orders", "not json").await?;

    // Read them back typed, one at a time: Msg::json.
    let consumer = stream
        .create_consumer(ConsumerConfig {
            durable_name: Some("typed-reader".into()),
            ..Default::default()
        })
        .await?;
    let mut batch = consumer.fetch(4).max_wait(Duration::from_secs(2)).await?;
    while let Some(msg) = batch.next().await {
        let msg = msg?;
        match msg.json::<Order>() {
            Ok(order) => {
                println!("order {} for {} x {}", order.id, order.quantity, order.item);
                msg.ack().await?;
            }
            Err(err) => {
                let d = err.decode_error().ok_or("a decode error")?;
                println!("poison on {}: {}", d.subject(), d.reason());
                msg.term_with_reason(err.to_string()).await?;
            }
        }
    }

    // The same with a handler: consume_json decodes first; a poison message goes to the
    // error handler, still unacknowledged, to be terminated there.
    let worker = stream
        .create_consumer(ConsumerConfig {
            durable_name: Some("typed-worker".into()),
            ..Default::default()
        })
        .await?;
    let (done_tx, mut done_rx) = tokio::sync::mpsc::channel(8);
    let ctx = worker
        .consume_json(move |msg, order: Order| {
            let done = done_tx.clone();
            async move {
                let _ = msg.ack().await;
                let _ = done.send(order.id).await;
            }
        })
        .error_handler(|mut err| {
            if let Some(msg) = err.take_msg() {
                println!("terminating a poison message: {err}");
                tokio::spawn(async move { msg.term().await });
            }
        })
        .await?;
    for _ in 0..3 {
        let id = tokio::time::timeout(Duration::from_secs(5), done_rx.recv()).await?;
        println!("handled order {id:?}");
    }
    ctx.drain().await;

    // A typed view of a bucket: values in and out as Order, JSON underneath.
    let kv = js
        .create_or_update_key_value(KeyValueConfig {
            bucket: "example_orders".into(),
            history: 5,
            storage: StorageType::Memory,
            ..Default::default()
        })
        .await?;
    let orders = kv.typed::<Order>();
    let first = Order {
        id: 7,
        item: "lamp".into(),
        quantity: 1,
    };
    let revision = orders.put("order.7", &first).await?;
    let more = Order {
        quantity: 2,
        ..first.clone()
    };
    orders.update("order.7", &more, revision).await?;
    let entry = orders.get("order.7").await?;
    println!(
        "order.7 @ revision {}: {:?}",
        entry.revision(),
        entry.value()
    );
    for entry in orders.history("order.7").await? {
        println!("  history {}: {:?}", entry.revision(), entry.value());
    }
    let mut watcher = orders.watch("order.*").await?;
    while let Some(update) = watcher.next().await {
        match update? {
            Some(entry) => println!("watch: {} = {:?}", entry.key(), entry.value()),
            None => break, // all current values seen
        }
    }

    js.delete_key_value("example_orders").await?;
    js.delete_stream("EXAMPLE_TYPED").await?;
    Ok(())
}
