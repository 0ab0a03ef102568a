//! Push consumers: create one with flow control and heartbeats, consume it with acks, share
//! one between the members of a deliver group, and read a stream in order with an ordered
//! push consumer.
//!
//! Run with `cargo run -p nats-jetstream --example push`. Connects to `NATS_URL` when it is
//! set; otherwise starts a local nats-server (with JetStream) through the test kit.
#![allow(clippy::print_stdout)]

#[path = "support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use jetstream::{
    AckPolicy, ConsumerConfig, ErrorKind, OrderedConsumerConfig, StorageType, StreamConfig,
};
use tokio::sync::mpsc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (_local_server, client) = support::connect().await?;
    let js = jetstream::new(client);

    let stream = js
        .create_or_update_stream(StreamConfig {
            name: "EXAMPLE_EVENTS".into(),
            subjects: vec!["example.events.>".into()],
            storage: StorageType::Memory,
            ..Default::default()
        })
        .await?;
    for i in 0..10 {
        js.publish(format!("example.events.{}", i % 2), format!("event {i}"))
            .await?;
    }

    // A durable push consumer: the server sends to `deliver.mailer`, answering heartbeats
    // and flow control is the consume loop's job.
    let push = stream
        .create_or_update_push_consumer(ConsumerConfig {
            durable_name: Some("mailer".into()),
            deliver_subject: Some("example.deliver.mailer".into()),
            ack_policy: AckPolicy::Explicit,
            idle_heartbeat: Duration::from_secs(1),
            flow_control: true,
            ..Default::default()
        })
        .await?;
    let (tx, mut rx) = mpsc::channel(16);
    let ctx = push
        .consume(move |msg| {
            let tx = tx.clone();
            async move {
                let text = String::from_utf8_lossy(msg.data()).into_owned();
                if msg.ack().await.is_ok() {
                    let _ = tx.send(text).await;
                }
            }
        })
        .error_handler(|err| println!("push consumer: {err}"))
        .await?;
    for _ in 0..10 {
        let Some(text) = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await? else {
            return Err("the consume loop ended".into());
        };
        println!("mailer got {text}");
    }
    ctx.drain().await;

    // The push API on a pull consumer is a typed error.
    stream
        .create_or_update_consumer(ConsumerConfig {
            durable_name: Some("puller".into()),
            ..Default::default()
        })
        .await?;
    let Err(err) = stream.push_consumer("puller").await else {
        return Err("expected an error: a pull consumer".into());
    };
    assert_eq!(err.kind(), ErrorKind::ConsumerIsPullBased);
    println!("push_consumer(\"puller\"): {err}");

    // A deliver group: each message goes to one member.
    stream
        .create_or_update_push_consumer(ConsumerConfig {
            durable_name: Some("workers".into()),
            deliver_subject: Some("example.deliver.workers".into()),
            deliver_group: Some("workers".into()),
            ..Default::default()
        })
        .await?;
    let handled = Arc::new(AtomicUsize::new(0));
    let mut members = Vec::new();
    for member in 0..2 {
        let handled = handled.clone();
        let handle = stream.push_consumer("workers").await?;
        members.push(
            handle
                .consume(move |msg| {
                    let handled = handled.clone();
                    async move {
                        println!("member {member}: {}", String::from_utf8_lossy(msg.data()));
                        let _ = msg.ack().await;
                        handled.fetch_add(1, Ordering::Relaxed);
                    }
                })
                .await?,
        );
    }
    let start = std::time::Instant::now();
    while handled.load(Ordering::Relaxed) < 10 && start.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for member in &members {
        member.drain().await;
    }

    // An ordered push consumer: the stream in order, once, without acks.
    let ordered = stream
        .ordered_push_consumer(OrderedConsumerConfig {
            filter_subjects: vec!["example.events.0".into()],
            ..Default::default()
        })
        .await?;
    let (tx, mut rx) = mpsc::channel(16);
    let ctx = ordered
        .consume(move |msg| {
            let tx = tx.clone();
            async move {
                let seq = msg.metadata().map(|m| m.sequence.stream).unwrap_or(0);
                let _ = tx.send(seq).await;
            }
        })
        .await?;
    for _ in 0..5 {
        let seq = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await?;
        println!("ordered: stream sequence {seq:?}");
    }
    ctx.drain().await;
    println!("ordered read up to {}", ordered.last_stream_sequence());

    js.delete_stream("EXAMPLE_EVENTS").await?;
    Ok(())
}
