//! Key/Value and object store: the calls added for parity with nats.go's `jetstream` package
//! and async-nats (issue 16): `put_path` naming as Go (`put_file` keeps the file name), deleted objects shown on request,
//! `update_meta` of a deleted object, `ObjectWatcher::stop`, KV entries that are markers,
//! lazy history and object listings, KV status metadata, and the watcher core both stores
//! share (the marker after a left-out last entry).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE;
use base64::Engine as _;
use futures_util::{StreamExt, TryStreamExt};
use jetstream::{
    ErrorKind, JetStream, KeyValue, KeyValueConfig, ObjectMeta, ObjectStore, ObjectStoreConfig,
    Operation, StorageType,
};
use nats_testkit::Server;
use tokio::io::AsyncReadExt;

const WAIT: Duration = Duration::from_secs(10);

async fn connect(server: &Server) -> JetStream {
    jetstream::new(nats_core::connect(server.url()).await.unwrap())
}

async fn object_store(js: &JetStream, bucket: &str) -> ObjectStore {
    js.create_object_store(ObjectStoreConfig {
        bucket: bucket.into(),
        storage: StorageType::Memory,
        ..Default::default()
    })
    .await
    .unwrap()
}

async fn kv(js: &JetStream, bucket: &str) -> KeyValue {
    js.create_key_value(KeyValueConfig {
        bucket: bucket.into(),
        storage: StorageType::Memory,
        history: 10,
        ..Default::default()
    })
    .await
    .unwrap()
}

/// Waits until the stream has no consumer left (clean-up is asynchronous).
async fn no_consumers_left(js: &JetStream, stream: &str) {
    let start = Instant::now();
    loop {
        let count = js
            .stream(stream)
            .await
            .unwrap()
            .info()
            .await
            .unwrap()
            .state
            .consumer_count;
        if count == 0 {
            return;
        }
        assert!(
            start.elapsed() < WAIT,
            "{count} consumers still on {stream}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn put_path_names_the_object_after_the_path_as_go() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let store = object_store(&js, "files").await;
    let dir = server.dir().join("parity files");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let source = dir.join("sub").join("report.txt");
    std::fs::write(&source, b"quarterly numbers").unwrap();
    let path = source.to_str().unwrap().to_string();

    let info = store.put_path(&source).await.unwrap();
    assert_eq!(info.name, path);
    // What a Go client reads: the metadata message under base64url(path), naming the path.
    let meta = js
        .stream("OBJ_files")
        .await
        .unwrap()
        .get_last_msg_for_subject(format!("$O.files.M.{}", URL_SAFE.encode(&path)))
        .await
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&meta.payload).unwrap();
    assert_eq!(json["name"], path.as_str());
    // The file name alone is not an object: put_file would have used it.
    assert_eq!(
        store.info("report.txt").await.unwrap_err().kind(),
        ErrorKind::ObjectNotFound
    );
    assert_eq!(store.put_file(&source).await.unwrap().name, "report.txt");

    // get_file is symmetric: the same path as the name, any target.
    let target = dir.join("copy.txt");
    store.get_file(&path, &target).await.unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), b"quarterly numbers");

    // A relative path is kept as given, `..` and all.
    let relative = relative_to_cwd(&source);
    let info = store.put_path(&relative).await.unwrap();
    assert_eq!(info.name, relative);
    assert!(relative.starts_with(".."), "{relative}");
    assert_eq!(
        store.get_string(&relative).await.unwrap(),
        "quarterly numbers"
    );

    // A path that is not UTF-8 can not name an object: refused before anything is sent.
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let bad = dir.join(std::ffi::OsStr::from_bytes(b"bad-\xff.bin"));
        std::fs::write(&bad, b"x").unwrap();
        assert_eq!(
            store.put_path(&bad).await.unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }
}

/// An absolute `path` written relative to the current directory: `../` up to the root.
fn relative_to_cwd(path: &std::path::Path) -> String {
    let cwd = std::env::current_dir().unwrap();
    let ups = cwd.components().count() - 1;
    let below_root = path.strip_prefix("/").unwrap().to_str().unwrap();
    format!("{}{below_root}", "../".repeat(ups))
}

#[tokio::test]
async fn deleted_objects_are_shown_on_request() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let store = object_store(&js, "shown").await;
    store.put_string("kept", "kept data").await.unwrap();
    store.put_string("gone", "gone data").await.unwrap();
    store.delete("gone").await.unwrap();

    // Hidden by default.
    assert_eq!(
        store.get("gone").await.unwrap_err().kind(),
        ErrorKind::ObjectNotFound
    );
    assert_eq!(
        store.info("gone").await.unwrap_err().kind(),
        ErrorKind::ObjectNotFound
    );
    let names: Vec<String> = store
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.name)
        .collect();
    assert_eq!(names, ["kept"]);
    let listed: Vec<_> = store
        .list_objects()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, "kept");

    // Shown on request (Go GetObjectShowDeleted, GetObjectInfoShowDeleted,
    // ListObjectsShowDeleted).
    let mut object = store.get_with_deleted("gone").await.unwrap();
    assert!(object.info().deleted);
    let mut data = Vec::new();
    object.read_to_end(&mut data).await.unwrap();
    assert!(data.is_empty());
    assert!(store.info_with_deleted("gone").await.unwrap().deleted);
    let mut all: Vec<(String, bool)> = store
        .list_objects()
        .show_deleted()
        .await
        .unwrap()
        .map_ok(|i| (i.name, i.deleted))
        .try_collect()
        .await
        .unwrap();
    all.sort();
    assert_eq!(
        all,
        [("gone".to_string(), true), ("kept".to_string(), false)]
    );
    // A live object reads the same either way.
    assert_eq!(store.get_with_deleted("kept").await.unwrap().info().size, 9);
    // Missing stays missing.
    assert_eq!(
        store.get_with_deleted("never").await.unwrap_err().kind(),
        ErrorKind::ObjectNotFound
    );

    // update_meta: a deleted object has its own error; a missing one is not found.
    assert_eq!(
        store
            .update_meta("gone", ObjectMeta::from("revived"))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::ObjectDeleted
    );
    assert_eq!(
        store
            .update_meta("never", ObjectMeta::from("x"))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::ObjectNotFound
    );
    // Nothing was written by the refused update.
    assert_eq!(
        store.info("revived").await.unwrap_err().kind(),
        ErrorKind::ObjectNotFound
    );
}

#[tokio::test]
async fn object_list_is_lazy_and_its_consumer_goes_when_dropped() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let store = object_store(&js, "lazy").await;
    for i in 0..20 {
        store.put_string(format!("obj-{i:02}"), "x").await.unwrap();
    }
    let mut objects = store.list_objects().await.unwrap();
    let first = tokio::time::timeout(WAIT, objects.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first.name, "obj-00");
    drop(objects);
    no_consumers_left(&js, "OBJ_lazy").await;

    // Read to the end: every object once, then the end.
    let names: Vec<String> = store
        .list_objects()
        .await
        .unwrap()
        .map_ok(|i| i.name)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(names.len(), 20);
    // An empty bucket: an empty stream.
    let empty = object_store(&js, "empty").await;
    let none: Vec<_> = empty
        .list_objects()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(none.is_empty());
}

#[tokio::test]
async fn object_watcher_stop_ends_it() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let store = object_store(&js, "stopped").await;
    store.put_string("a", "1").await.unwrap();
    let mut watcher = store.watch().await.unwrap();
    let first = tokio::time::timeout(WAIT, watcher.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first.unwrap().name, "a");
    assert!(tokio::time::timeout(WAIT, watcher.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap()
        .is_none());
    watcher.stop();
    // After the stop the watcher ends (what already arrived may come first), and a change
    // made now is not waited for.
    store.put_string("b", "2").await.unwrap();
    let rest = tokio::time::timeout(WAIT, async {
        let mut rest = Vec::new();
        while let Some(item) = watcher.next().await {
            rest.push(item.unwrap());
        }
        rest
    })
    .await
    .expect("a stopped watcher ends");
    assert!(rest.len() <= 1, "{rest:?}");
}

#[tokio::test]
async fn kv_entry_returns_markers_as_entries() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let kv = kv(&js, "markers").await;

    assert!(kv.entry("never").await.unwrap().is_none());
    let put = kv.put("color", "blue").await.unwrap();
    let live = kv.entry("color").await.unwrap().unwrap();
    assert_eq!(live.operation(), Operation::Put);
    assert_eq!(live.value().as_ref(), b"blue");
    assert_eq!(live.revision(), put);

    kv.delete("color").await.unwrap();
    // get keeps its contract: a deleted key is not found.
    assert_eq!(
        kv.get("color").await.unwrap_err().kind(),
        ErrorKind::KeyNotFound
    );
    let deleted = kv.entry("color").await.unwrap().unwrap();
    assert_eq!(deleted.operation(), Operation::Delete);
    assert_eq!(deleted.key(), "color");
    assert!(deleted.revision() > put);

    // By revision: the marker is an entry, the earlier value too; get_revision unchanged.
    let at = kv
        .entry_for_revision("color", deleted.revision())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(at.operation(), Operation::Delete);
    assert_eq!(
        kv.get_revision("color", deleted.revision())
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::KeyNotFound
    );
    let old = kv.entry_for_revision("color", put).await.unwrap().unwrap();
    assert_eq!(old.value().as_ref(), b"blue");
    // Another key's revision, or one that does not exist: None.
    let other = kv.put("size", "L").await.unwrap();
    assert!(kv
        .entry_for_revision("color", other)
        .await
        .unwrap()
        .is_none());
    assert!(kv
        .entry_for_revision("color", other + 100)
        .await
        .unwrap()
        .is_none());

    kv.purge("color").await.unwrap();
    let purged = kv.entry("color").await.unwrap().unwrap();
    assert_eq!(purged.operation(), Operation::Purge);

    // Bad input is refused before anything is sent.
    assert_eq!(
        kv.entry("bad key").await.unwrap_err().kind(),
        ErrorKind::InvalidKey
    );
    assert_eq!(
        kv.entry_for_revision("color", 0).await.unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
}

#[tokio::test]
async fn kv_history_as_a_lazy_stream() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let kv = kv(&js, "hist").await;
    kv.put("k", "1").await.unwrap();
    kv.put("other", "x").await.unwrap();
    kv.put("k", "2").await.unwrap();
    kv.delete("k").await.unwrap();
    kv.put("k", "3").await.unwrap();

    let entries: Vec<_> = kv
        .list_history("k")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let seen: Vec<(Operation, Vec<u8>)> = entries
        .iter()
        .map(|e| (e.operation(), e.value().to_vec()))
        .collect();
    assert_eq!(
        seen,
        [
            (Operation::Put, b"1".to_vec()),
            (Operation::Put, b"2".to_vec()),
            (Operation::Delete, Vec::new()),
            (Operation::Put, b"3".to_vec()),
        ]
    );
    // The Vec convenience gives the same.
    assert_eq!(kv.history("k").await.unwrap(), entries);

    // Options as Go's History: ignore deletes, meta only.
    let puts: Vec<_> = kv
        .list_history("k")
        .ignore_deletes()
        .meta_only()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(puts.len(), 3);
    assert!(puts.iter().all(|e| e.operation() == Operation::Put));
    assert!(puts.iter().all(|e| e.value().is_empty()));

    // No entries: KeyNotFound, as history().
    let mut none = kv.list_history("missing").await.unwrap();
    let item = tokio::time::timeout(WAIT, none.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(item.unwrap_err().kind(), ErrorKind::KeyNotFound);
    assert!(none.next().await.is_none());

    // Lazy: the first entry comes before the rest is read; dropping it early removes its
    // consumer.
    for i in 0..30 {
        kv.put("many", format!("{i}")).await.unwrap();
    }
    let mut many = kv.list_history("many").await.unwrap();
    let first = tokio::time::timeout(WAIT, many.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first.value().as_ref(), b"20"); // history 10: the oldest kept
    drop(many);
    no_consumers_left(&js, "KV_hist").await;
}

#[tokio::test]
async fn kv_status_metadata_leaves_out_server_keys() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let kv = js
        .create_key_value(KeyValueConfig {
            bucket: "meta".into(),
            storage: StorageType::Memory,
            metadata: HashMap::from([("team".to_string(), "a".to_string())]),
            ..Default::default()
        })
        .await
        .unwrap();
    let status = kv.status().await.unwrap();
    assert_eq!(
        status.metadata(),
        &HashMap::from([("team".to_string(), "a".to_string())])
    );
    // The server's own keys are still in the stream info.
    let raw = &status.stream_info().config.metadata;
    assert!(
        raw.keys().any(|k| k.starts_with("_nats")),
        "the server added no _nats keys: {raw:?}"
    );
    // The configuration reads back (Go KeyValueStatus.Config()) and updates the bucket.
    let mut config = status.config();
    assert_eq!(config.bucket, "meta");
    assert_eq!(config.history, 1);
    assert_eq!(config.storage, StorageType::Memory);
    assert_eq!(config.ttl, None);
    assert_eq!(config.metadata, *status.metadata());
    config.description = Some("changed".into());
    config.history = 5;
    js.update_key_value(config).await.unwrap();
    let status = kv.status().await.unwrap();
    assert_eq!(status.description(), Some("changed"));
    assert_eq!(status.history(), 5);
    assert_eq!(status.metadata().get("team").map(String::as_str), Some("a"));

    // The same from the bucket listing, and as the object store does.
    let listed: Vec<_> = js.key_value_stores().try_collect().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].metadata().keys().all(|k| !k.starts_with("_nats")));
    let objects = js
        .create_object_store(ObjectStoreConfig {
            bucket: "ometa".into(),
            storage: StorageType::Memory,
            metadata: HashMap::from([("team".to_string(), "a".to_string())]),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        objects.status().await.unwrap().metadata(),
        status.metadata()
    );
}

/// The shared watcher core: the marker comes after the last initial entry even when that
/// entry is left out (a deleted object, a KV delete marker with `ignore_deletes`).
#[tokio::test]
async fn both_watchers_mark_the_end_after_a_left_out_last_entry() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;

    let store = object_store(&js, "core").await;
    store.put_string("a", "1").await.unwrap();
    store.put_string("b", "2").await.unwrap();
    store.delete("b").await.unwrap();
    let mut watcher = store.watch().ignore_deletes().await.unwrap();
    let mut items = Vec::new();
    loop {
        let item = tokio::time::timeout(WAIT, watcher.next())
            .await
            .expect("object watcher: marker within the bound")
            .unwrap()
            .unwrap();
        match item {
            Some(info) => items.push(info.name),
            None => break,
        }
    }
    assert_eq!(items, ["a"]);
    store.put_string("c", "3").await.unwrap();
    let live = tokio::time::timeout(WAIT, watcher.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(live.name, "c");

    let kv = kv(&js, "core").await;
    kv.put("a", "1").await.unwrap();
    kv.put("b", "2").await.unwrap();
    kv.delete("b").await.unwrap();
    let mut watcher = kv.watch_all().ignore_deletes().await.unwrap();
    let mut keys = Vec::new();
    loop {
        let item = tokio::time::timeout(WAIT, watcher.next())
            .await
            .expect("kv watcher: marker within the bound")
            .unwrap()
            .unwrap();
        match item {
            Some(entry) => keys.push(entry.key().to_string()),
            None => break,
        }
    }
    assert_eq!(keys, ["a"]);
    watcher.stop();
}
