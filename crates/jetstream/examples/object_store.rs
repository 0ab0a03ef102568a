//! Object store walkthrough: put objects from a reader, a string, bytes and a file; read them
//! back; delete; watch with the end-of-initial-values marker; update metadata and rename;
//! list; bucket status.
//!
//! Run with `cargo run -p nats-jetstream --example object_store`. Connects to `NATS_URL` when it
//! is set; otherwise starts a local nats-server (with JetStream) through the test kit, which
//! provisions the pinned server binary if needed.
#![allow(clippy::print_stdout)]

#[path = "support/mod.rs"]
mod support;

use std::time::Duration;

use futures_util::StreamExt;
use jetstream::{ErrorKind, ObjectMeta, ObjectStoreConfig, StorageType};
use tokio::io::AsyncReadExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (_local_server, client) = support::connect().await?;
    let js = jetstream::new(client);

    // A bucket is a stream (OBJ_configs); creating it again with the same config is fine.
    let store = js
        .create_or_update_object_store(ObjectStoreConfig {
            bucket: "configs".into(),
            description: Some("walkthrough".into()),
            storage: StorageType::Memory,
            ..Default::default()
        })
        .await?;

    // Put an object from any AsyncRead: it is sent in chunks, its digest computed on the fly.
    let config1 = &b"first config"[..];
    store.put("config-1", config1).await?;

    // Helpers: strings, bytes, files (named after the file name).
    store.put_string("config-2", "second config").await?;
    store.put_bytes("config-3", vec![0u8; 300_000]).await?;
    let path =
        std::env::temp_dir().join(format!("object-store-example-{}.txt", std::process::id()));
    tokio::fs::write(&path, "from a file").await?;
    let file_info = store.put_file(&path).await?;
    println!(
        "stored {} ({} bytes, {} chunks, {})",
        file_info.name,
        file_info.size,
        file_info.chunks,
        file_info.digest.as_deref().unwrap_or("")
    );

    // Get an object: an AsyncRead over its chunks, checked against the digest at the end.
    let mut object = store.get("config-1").await?;
    let mut data = String::new();
    object.read_to_string(&mut data).await?;
    let info = object.info();
    println!("{}.{} -> {data:?}", info.bucket, info.name);
    println!(
        "config-3 has {} bytes",
        store.get_bytes("config-3").await?.len()
    );
    let copy = std::env::temp_dir().join(format!("object-store-copy-{}.txt", std::process::id()));
    store.get_file(&file_info.name, &copy).await?;
    println!(
        "copied to {}: {:?}",
        copy.display(),
        tokio::fs::read_to_string(&copy).await?
    );

    // Delete: the chunks are purged, a tombstone stays; getting it is ObjectNotFound.
    store.delete("config-1").await?;
    match store.get("config-1").await {
        Err(e) if e.kind() == ErrorKind::ObjectNotFound => println!("config-1: {e}"),
        other => println!("unexpected: {:?}", other.map(|o| o.info().clone())),
    }

    // Watch: the current objects, then one `None`, then changes as they happen.
    store.put_string("config-1", "first config, again").await?;
    let mut watcher = store.watch().ignore_deletes().await?;
    loop {
        match tokio::time::timeout(Duration::from_secs(5), watcher.next()).await {
            Ok(Some(Ok(Some(info)))) => println!("watch: {} ({} bytes)", info.name, info.size),
            Ok(Some(Ok(None))) => {
                println!("watch: initial values done");
                break;
            }
            Ok(Some(Err(e))) => return Err(e.into()),
            Ok(None) | Err(_) => break,
        }
    }
    store
        .update_meta(
            "config-1",
            ObjectMeta {
                name: "config-1".into(),
                description: Some("updated config".into()),
                ..Default::default()
            },
        )
        .await?;
    if let Ok(Some(Ok(Some(info)))) =
        tokio::time::timeout(Duration::from_secs(5), watcher.next()).await
    {
        println!("watch: {} -> {:?}", info.name, info.description);
    }

    // Rename (refused if the new name is taken).
    store
        .update_meta(
            "config-2",
            ObjectMeta {
                name: "config-2-renamed".into(),
                description: Some("moved".into()),
                ..Default::default()
            },
        )
        .await?;
    if let Err(e) = store
        .update_meta("config-2-renamed", ObjectMeta::from("config-3"))
        .await
    {
        println!("rename onto config-3 refused: {e}");
    }

    // List the objects, and show the bucket's status.
    for info in store.list().await? {
        println!(
            "list: {} ({} bytes, modified {})",
            info.name, info.size, info.modified
        );
    }
    let status = store.status().await?;
    println!(
        "bucket {}: {} bytes in {:?} storage, sealed: {}, backed by {}",
        status.bucket(),
        status.size(),
        status.storage(),
        status.sealed(),
        status.backing_store()
    );

    let _ = tokio::fs::remove_file(&path).await;
    let _ = tokio::fs::remove_file(&copy).await;
    js.delete_object_store("configs").await?;
    println!("done");
    Ok(())
}
