//! Consumer management: create (durable and ephemeral), update, look up, list, pause and
//! resume, delete; on the context (with a stream name) and on a stream handle.
//!
//! Run with `cargo run -p nats-jetstream --example consumers`. Connects to `NATS_URL` when it is
//! set; otherwise starts a local nats-server (with JetStream) through the test kit.
#![allow(clippy::print_stdout)]

#[path = "support/mod.rs"]
mod support;

use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use jetstream::{AckPolicy, ConsumerConfig, DeliverPolicy, ErrorKind, StorageType, StreamConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (_local_server, client) = support::connect().await?;
    let js = jetstream::new(client);

    let stream = js
        .create_or_update_stream(StreamConfig {
            name: "EXAMPLE_TASKS".into(),
            subjects: vec!["example.tasks.>".into()],
            storage: StorageType::Memory,
            ..Default::default()
        })
        .await?;
    for i in 0..5 {
        js.publish(format!("example.tasks.{}", i % 2), format!("task {i}"))
            .await?;
    }

    // A durable consumer, created through the stream handle. Creating it again with the same
    // config is fine; a different config under the same name is refused.
    let config = ConsumerConfig {
        durable_name: Some("worker".into()),
        description: Some("processes every task".into()),
        ack_policy: AckPolicy::Explicit,
        ack_wait: Duration::from_secs(30),
        ..Default::default()
    };
    let worker = stream.create_consumer(config.clone()).await?;
    stream.create_consumer(config.clone()).await?;
    let Err(err) = stream
        .create_consumer(ConsumerConfig {
            max_deliver: 3,
            ..config.clone()
        })
        .await
    else {
        return Err("expected an error: different config".into());
    };
    assert_eq!(err.kind(), ErrorKind::ConsumerExists);
    println!(
        "consumer {} on {}: {} pending; recreating it differently: {err}",
        worker.name(),
        worker.stream_name(),
        worker.cached_info().num_pending
    );

    // Update it, or create-or-update another one through the context.
    let mut updated = worker.cached_info().config.clone();
    updated.max_deliver = 3;
    js.update_consumer("EXAMPLE_TASKS", updated).await?;
    let odd = js
        .create_or_update_consumer(
            "EXAMPLE_TASKS",
            ConsumerConfig {
                durable_name: Some("odd".into()),
                filter_subject: Some("example.tasks.1".into()),
                deliver_policy: DeliverPolicy::All,
                ..Default::default()
            },
        )
        .await?;
    println!(
        "{} sees {} tasks",
        odd.name(),
        odd.cached_info().num_pending
    );

    // An ephemeral consumer: no durable name; the server removes it after inactivity.
    let ephemeral = stream
        .create_consumer(ConsumerConfig {
            ack_policy: AckPolicy::None,
            inactive_threshold: Some(Duration::from_secs(10)),
            ..Default::default()
        })
        .await?;
    println!(
        "ephemeral consumer named {} by the server",
        ephemeral.name()
    );

    // Look one up; info() refreshes cached_info().
    let worker = js.consumer("EXAMPLE_TASKS", "worker").await?;
    let info = worker.info().await?;
    println!(
        "worker: max_deliver {}, delivered up to #{}, {} pending",
        info.config.max_deliver, info.delivered.stream_sequence, info.num_pending
    );

    // List the stream's consumers.
    let mut consumers = stream.list_consumers();
    while let Some(info) = consumers.next().await {
        let info = info?;
        println!("consumer {}: {} pending", info.name, info.num_pending);
    }
    let names: Vec<String> = stream.consumer_names().try_collect().await?;
    println!("consumer names: {names:?}");

    // Pause and resume (server 2.11+).
    let until = jiff::Timestamp::now() + Duration::from_secs(60);
    match worker.pause(until).await {
        Ok(paused) => {
            println!("paused until {:?}", paused.pause_until);
            worker.resume().await?;
            println!("resumed");
        }
        Err(e) if e.kind() == ErrorKind::NotSupported => println!("pause: {e}"),
        Err(e) => return Err(e.into()),
    }

    // Delete.
    stream.delete_consumer("odd").await?;
    js.delete_consumer("EXAMPLE_TASKS", "worker").await?;
    let Err(err) = js.consumer("EXAMPLE_TASKS", "worker").await else {
        return Err("expected an error: deleted".into());
    };
    assert_eq!(err.kind(), ErrorKind::ConsumerNotFound);
    println!("deleted; looking it up now: {err}");
    js.delete_stream("EXAMPLE_TASKS").await?;
    Ok(())
}
