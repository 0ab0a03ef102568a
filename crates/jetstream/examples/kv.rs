//! Key/Value store walkthrough: buckets, put/get/update/create/delete, watching, keys,
//! purges and status.
//!
//! Run with `cargo run -p nats-jetstream --example kv`. Connects to `NATS_URL` when it is set;
//! otherwise starts a local nats-server (with JetStream) through the test kit, which
//! provisions the pinned server binary if needed.
#![allow(clippy::print_stdout)]

#[path = "support/mod.rs"]
mod support;

use std::time::Duration;

use futures_util::StreamExt;
use jetstream::{ErrorKind, KeyValueConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (_local_server, client) = support::connect().await?;
    let js = jetstream::new(client);

    // Start from a clean bucket when running against a shared server.
    match js.delete_key_value("profiles").await {
        Err(e) if e.kind() != ErrorKind::BucketNotFound => return Err(e.into()),
        _ => {}
    }

    // A bucket; its name is unique within the JetStream account.
    let kv = js
        .create_key_value(KeyValueConfig {
            bucket: "profiles".into(),
            history: 5,
            ..Default::default()
        })
        .await?;

    // Put creates or replaces a value and returns its revision.
    let revision = kv.put("sue.color", "blue").await?;

    // An entry carries the value with its key, revision, time and operation.
    let entry = kv.get("sue.color").await?;
    println!(
        "{} @ {} -> {:?}",
        entry.key(),
        entry.revision(),
        String::from_utf8_lossy(entry.value())
    );

    // Update only succeeds if the revision is still the latest one.
    kv.update("sue.color", "red", revision).await?;
    match kv.update("sue.color", "green", revision).await {
        Err(e) if e.kind() == ErrorKind::WrongLastRevision => println!("stale update: {e}"),
        other => println!("unexpected: {other:?}"),
    }

    // Create fails when the key already has a value.
    match kv.create("sue.color", "purple").await {
        Err(e) if e.kind() == ErrorKind::KeyExists => println!("create: {e}"),
        other => println!("unexpected: {other:?}"),
    }

    // Delete leaves a marker (the history is kept); getting the key then fails.
    kv.delete("sue.color").await?;
    match kv.get("sue.color").await {
        Err(e) if e.kind() == ErrorKind::KeyNotFound => println!("get after delete: {e}"),
        other => println!("unexpected: {other:?}"),
    }
    // A deleted key can be created again.
    kv.create("sue.color", "blue").await?;

    // A watcher sends the current values, then `None`, then every change.
    let mut watcher = kv.watch("sue.*").await?;
    kv.put("sue.age", "43").await?;
    kv.put("sue.color", "red").await?;
    // First the current values (here only sue.color), then the marker.
    while let Some(entry) = next(&mut watcher).await? {
        print_entry("current", &entry);
    }
    println!("watch: all current values seen, now following changes");
    // Then the changes, as they happen.
    for _ in 0..2 {
        if let Some(entry) = next(&mut watcher).await? {
            print_entry("update", &entry);
        }
    }
    drop(watcher);

    // Keys with a value, sorted.
    kv.put("bucket", "profiles").await?;
    println!("keys: {:?}", kv.keys().await?);

    // History of one key, deletes included.
    for entry in kv.history("sue.color").await? {
        println!(
            "history: #{} {} {:?}",
            entry.revision(),
            entry.operation(),
            String::from_utf8_lossy(entry.value())
        );
    }

    // Purge removes a key's history and leaves a marker; purge_deletes removes the history
    // of deleted or purged keys, and with a zero age the markers too.
    kv.purge("sue.age").await?;
    kv.purge_deletes().older_than(Duration::ZERO).await?;
    println!("keys after purge: {:?}", kv.keys().await?);

    // Status is fetched fresh from the server.
    let status = kv.status().await?;
    println!(
        "bucket {}: {} entries, {} bytes, history {}, backed by {}",
        status.bucket(),
        status.values(),
        status.bytes(),
        status.history(),
        status.backing_store()
    );

    js.delete_key_value("profiles").await?;
    println!("done");
    Ok(())
}

/// The next item of a watcher, waiting at most 5 s.
async fn next(
    watcher: &mut jetstream::kv::Watcher,
) -> Result<Option<jetstream::Entry>, Box<dyn std::error::Error>> {
    match tokio::time::timeout(Duration::from_secs(5), watcher.next()).await? {
        Some(item) => Ok(item?),
        None => Err("the watcher ended".into()),
    }
}

fn print_entry(what: &str, entry: &jetstream::Entry) {
    println!(
        "watch {what}: {} @ {} -> {:?}",
        entry.key(),
        entry.revision(),
        String::from_utf8_lossy(entry.value())
    );
}
