//! Stream management: create, update, inspect, list, read and delete single messages, purge,
//! delete.
//!
//! Run with `cargo run -p nats-jetstream --example streams`. Connects to `NATS_URL` when it is set;
//! otherwise starts a local nats-server (with JetStream) through the test kit.
#![allow(clippy::print_stdout)]

#[path = "support/mod.rs"]
mod support;

use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use jetstream::{ErrorKind, StorageType, StreamConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (_local_server, client) = support::connect().await?;
    let js = jetstream::new(client);

    // Start clean when running against a shared server.
    match js.delete_stream("EXAMPLE_ORDERS").await {
        Ok(()) => println!("deleted EXAMPLE_ORDERS left over from an earlier run"),
        Err(e) if e.kind() == ErrorKind::StreamNotFound => {}
        Err(e) => return Err(e.into()),
    }

    // Create: the same config again is a no-op, a different one is refused.
    let config = StreamConfig {
        name: "EXAMPLE_ORDERS".into(),
        subjects: vec!["example.orders.>".into()],
        storage: StorageType::Memory,
        max_age: Duration::from_secs(3600),
        allow_direct: true,
        ..Default::default()
    };
    let stream = js.create_stream(config.clone()).await?;
    js.create_stream(config.clone()).await?;
    let Err(err) = js
        .create_stream(StreamConfig {
            subjects: vec!["example.other".into()],
            ..config.clone()
        })
        .await
    else {
        return Err("expected an error: different config".into());
    };
    assert_eq!(err.kind(), ErrorKind::StreamNameInUse);
    println!(
        "created {}; a different config under its name: {err}",
        stream.name()
    );

    // Update (here: a message limit), or create-or-update.
    let mut updated = stream.cached_info().config.clone();
    updated.max_msgs = 10_000;
    js.update_stream(updated).await?;
    js.create_or_update_stream(StreamConfig {
        name: "EXAMPLE_AUDIT".into(),
        subjects: vec!["example.audit".into()],
        storage: StorageType::Memory,
        ..Default::default()
    })
    .await?;

    // Store a few messages.
    for (subject, payload) in [
        ("example.orders.new", "order 1"),
        ("example.orders.new", "order 2"),
        ("example.orders.shipped", "order 1"),
        ("example.orders.cancelled", "order 2"),
    ] {
        js.publish(subject, payload).await?;
    }

    // Info: `info()` asks the server and refreshes `cached_info()`.
    let info = stream.info().await?;
    println!(
        "{}: {} messages, sequences {}..={}, max_msgs {}",
        info.config.name,
        info.state.messages,
        info.state.first_seq,
        info.state.last_seq,
        stream.cached_info().config.max_msgs
    );
    let info = stream
        .info_with()
        .subjects_filter("example.orders.>")
        .await?;
    for (subject, count) in &info.state.subjects {
        println!("  {subject}: {count}");
    }

    // Listing: infos or names, optionally filtered by subject.
    let mut streams = js.list_streams();
    while let Some(info) = streams.next().await {
        let info = info?;
        println!(
            "stream {} ({} messages)",
            info.config.name, info.state.messages
        );
    }
    let names: Vec<String> = js
        .stream_names()
        .subject("example.orders.*")
        .try_collect()
        .await?;
    println!("streams capturing example.orders.*: {names:?}");
    println!(
        "example.audit is stored by {}",
        js.stream_name_by_subject("example.audit").await?
    );

    // Single messages: by sequence, last on a subject, next on a subject.
    let first = stream.get_msg(1).await?;
    println!(
        "#1 on {} at {}: {:?}",
        first.subject, first.time, first.payload
    );
    let last = stream
        .get_last_msg_for_subject("example.orders.new")
        .await?;
    println!("last new order: #{} {:?}", last.sequence, last.payload);
    let next = stream
        .get_next_msg_for_subject("example.orders.*", 3)
        .await?;
    println!(
        "first message at or after #3: #{} on {}",
        next.sequence, next.subject
    );

    // Delete single messages; gets of deleted messages fail with MessageNotFound.
    stream.delete_msg(1).await?;
    stream.secure_delete_msg(2).await?;
    let Err(err) = stream.get_msg(1).await else {
        return Err("expected an error: deleted".into());
    };
    assert_eq!(err.kind(), ErrorKind::MessageNotFound);

    // Purge: by subject, keeping the newest n, below a sequence, or everything.
    let purged = stream.purge().subject("example.orders.cancelled").await?;
    println!("purged {purged} cancelled orders");
    let purged = stream.purge().keep(1).await?;
    println!("purged {purged}, kept the newest message");
    let purged = stream.purge().await?;
    println!("purged the remaining {purged}");

    // Delete.
    js.delete_stream("EXAMPLE_ORDERS").await?;
    js.delete_stream("EXAMPLE_AUDIT").await?;
    let Err(err) = js.stream("EXAMPLE_ORDERS").await else {
        return Err("expected an error: deleted".into());
    };
    assert_eq!(err.kind(), ErrorKind::StreamNotFound);
    println!("deleted; looking it up now: {err}");
    Ok(())
}
