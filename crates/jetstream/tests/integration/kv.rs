//! Key/Value store against a real nats-server: buckets, entries, watchers, listings, purges,
//! limit markers, mirrors and sources, and interop with async-nats.

use std::future::IntoFuture;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use jetstream::kv::Watcher;
use jetstream::{
    Entry, ErrorCode, ErrorKind, JetStream, KeyValue, KeyValueConfig, Operation, StorageType,
    StreamSource,
};
use nats_testkit::Server;

use crate::common::raw_stream_info;

const WAIT: Duration = Duration::from_secs(5);

async fn connect(server: &Server) -> JetStream {
    jetstream::new(nats_core::connect(server.url()).await.unwrap())
}

fn config(bucket: &str) -> KeyValueConfig {
    KeyValueConfig {
        bucket: bucket.into(),
        storage: StorageType::Memory,
        ..Default::default()
    }
}

async fn bucket(js: &JetStream, name: &str, history: i64) -> KeyValue {
    js.create_key_value(KeyValueConfig {
        history,
        ..config(name)
    })
    .await
    .unwrap()
}

/// The next item of a watcher, within a bound.
async fn next(watcher: &mut Watcher) -> Option<Entry> {
    tokio::time::timeout(WAIT, watcher.next())
        .await
        .expect("watcher: nothing within 5 s")
        .expect("watcher ended")
        .expect("watcher error")
}

/// The next item, which must be an entry.
async fn next_entry(watcher: &mut Watcher) -> Entry {
    next(watcher)
        .await
        .expect("expected an entry, got the marker")
}

/// Nothing arrives for a while.
async fn assert_quiet(watcher: &mut Watcher, wait: Duration) {
    if let Ok(item) = tokio::time::timeout(wait, watcher.next()).await {
        panic!("expected nothing, got {item:?}");
    }
}

fn summary(entry: &Entry) -> (String, Operation, Vec<u8>) {
    (
        entry.key().to_string(),
        entry.operation(),
        entry.value().to_vec(),
    )
}

fn put(key: &str, value: &str) -> (String, Operation, Vec<u8>) {
    (key.to_string(), Operation::Put, value.as_bytes().to_vec())
}

fn marker(key: &str, op: Operation) -> (String, Operation, Vec<u8>) {
    (key.to_string(), op, Vec::new())
}

/// Retries `f` until it succeeds or 5 s have passed.
async fn eventually<T, F, Fut>(mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, jetstream::Error>>,
{
    let start = Instant::now();
    loop {
        match f().await {
            Ok(v) => return v,
            Err(e) if start.elapsed() < WAIT => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("still failing after 5 s: {e}"),
        }
    }
}

#[tokio::test]
async fn kv_bucket_lifecycle_and_stream_mapping() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;

    let kv = js
        .create_key_value(KeyValueConfig {
            bucket: "profiles".into(),
            description: Some("people".into()),
            history: 5,
            ttl: Some(Duration::from_secs(60)),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(kv.bucket(), "profiles");

    // The stream is exactly what every client makes of a bucket.
    let info = raw_stream_info(js.client(), "KV_profiles").await;
    let c = &info["config"];
    assert_eq!(c["subjects"], serde_json::json!(["$KV.profiles.>"]));
    assert_eq!(c["max_msgs_per_subject"], 5);
    assert_eq!(c["max_age"], 60_000_000_000u64);
    assert_eq!(c["duplicate_window"], 60_000_000_000u64);
    assert_eq!(c["discard"], "new");
    assert_eq!(c["allow_direct"], true);
    assert_eq!(c["deny_delete"], true);
    assert_eq!(c["allow_rollup_hdrs"], true);
    assert_eq!(c["max_msgs"], -1);
    assert_eq!(c["max_bytes"], -1);
    assert_eq!(c["max_msg_size"], -1);
    assert_eq!(c["storage"], "file");
    assert_eq!(c["description"], "people");

    // Same config again: fine. Another config: BucketExists.
    let same = KeyValueConfig {
        bucket: "profiles".into(),
        description: Some("people".into()),
        history: 5,
        ttl: Some(Duration::from_secs(60)),
        ..Default::default()
    };
    js.create_key_value(same.clone()).await.unwrap();
    let err = js
        .create_key_value(KeyValueConfig {
            history: 2,
            ..same.clone()
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BucketExists);

    // Bind, update, create_or_update.
    let bound = js.key_value("profiles").await.unwrap();
    assert_eq!(bound.bucket(), "profiles");
    js.update_key_value(KeyValueConfig {
        history: 10,
        ..same.clone()
    })
    .await
    .unwrap();
    assert_eq!(bound.status().await.unwrap().history(), 10);
    let err = js.update_key_value(config("nope")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BucketNotFound);
    js.create_or_update_key_value(config("fresh"))
        .await
        .unwrap();
    let updated = js
        .create_or_update_key_value(KeyValueConfig {
            history: 3,
            ..config("fresh")
        })
        .await
        .unwrap();
    assert_eq!(updated.status().await.unwrap().history(), 3);

    // Missing and invalid names.
    assert_eq!(
        js.key_value("missing").await.unwrap_err().kind(),
        ErrorKind::BucketNotFound
    );
    for bad in ["a.b", "", "a b", "a*"] {
        assert_eq!(
            js.key_value(bad).await.unwrap_err().kind(),
            ErrorKind::InvalidName
        );
        assert_eq!(
            js.create_key_value(config(bad)).await.unwrap_err().kind(),
            ErrorKind::InvalidName
        );
        assert_eq!(
            js.delete_key_value(bad).await.unwrap_err().kind(),
            ErrorKind::InvalidName
        );
    }
    let err = js
        .create_key_value(KeyValueConfig {
            history: 65,
            ..config("big")
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig);

    // Listings only show buckets.
    js.create_stream(jetstream::StreamConfig {
        name: "NOT_A_BUCKET".into(),
        subjects: vec!["plain.>".into()],
        storage: StorageType::Memory,
        ..Default::default()
    })
    .await
    .unwrap();
    let mut names: Vec<String> = js.key_value_store_names().try_collect().await.unwrap();
    names.sort();
    assert_eq!(names, vec!["fresh", "profiles"]);
    let stores: Vec<_> = js.key_value_stores().try_collect().await.unwrap();
    let mut buckets: Vec<&str> = stores.iter().map(|s| s.bucket()).collect();
    buckets.sort();
    assert_eq!(buckets, vec!["fresh", "profiles"]);

    // Delete.
    js.delete_key_value("fresh").await.unwrap();
    assert_eq!(
        js.key_value("fresh").await.unwrap_err().kind(),
        ErrorKind::BucketNotFound
    );
    assert_eq!(
        js.delete_key_value("fresh").await.unwrap_err().kind(),
        ErrorKind::BucketNotFound
    );
}

#[tokio::test]
async fn kv_put_get_and_revisions() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let kv = bucket(&js, "b", 5).await;

    let before = jiff::Timestamp::now();
    let r1 = kv.put("sue.color", "blue").await.unwrap();
    let r2 = kv.put("sue.color", String::from("green")).await.unwrap();
    let r3 = kv.put("bob", Bytes::from_static(b"x")).await.unwrap();
    assert!(r1 < r2 && r2 < r3);

    let entry = kv.get("sue.color").await.unwrap();
    assert_eq!(entry.bucket(), "b");
    assert_eq!(entry.key(), "sue.color");
    assert_eq!(entry.value().as_ref(), b"green");
    assert_eq!(entry.revision(), r2);
    assert_eq!(entry.operation(), Operation::Put);
    assert_eq!(entry.delta(), 0);
    let age = entry.created().duration_since(before);
    assert!(age.as_secs_f64().abs() < 5.0, "created {}", entry.created());

    let old = kv.get_revision("sue.color", r1).await.unwrap();
    assert_eq!(old.value().as_ref(), b"blue");
    assert_eq!(old.revision(), r1);
    // A revision of another key, or none at all.
    assert_eq!(
        kv.get_revision("sue.color", r3).await.unwrap_err().kind(),
        ErrorKind::KeyNotFound
    );
    assert_eq!(
        kv.get_revision("sue.color", 999).await.unwrap_err().kind(),
        ErrorKind::KeyNotFound
    );
    assert_eq!(
        kv.get("missing").await.unwrap_err().kind(),
        ErrorKind::KeyNotFound
    );

    // Keys are checked before anything is sent.
    for bad in ["", ".a", "a.", "a..b", "a b", "a*", ">", "_kv.x", "ä"] {
        assert_eq!(
            kv.put(bad, "v").await.unwrap_err().kind(),
            ErrorKind::InvalidKey,
            "{bad:?}"
        );
        assert_eq!(kv.get(bad).await.unwrap_err().kind(), ErrorKind::InvalidKey);
        assert_eq!(
            kv.create(bad, "v").await.unwrap_err().kind(),
            ErrorKind::InvalidKey
        );
        assert_eq!(
            kv.update(bad, "v", 1).await.unwrap_err().kind(),
            ErrorKind::InvalidKey
        );
        assert_eq!(
            kv.delete(bad).await.unwrap_err().kind(),
            ErrorKind::InvalidKey
        );
        assert_eq!(
            kv.purge(bad).await.unwrap_err().kind(),
            ErrorKind::InvalidKey
        );
    }
    assert_eq!(
        kv.watch("a..b").await.unwrap_err().kind(),
        ErrorKind::InvalidKey
    );
    // Every valid key character round-trips.
    kv.put("a-b_c/d=e.F9", "ok").await.unwrap();
    assert_eq!(
        kv.get("a-b_c/d=e.F9").await.unwrap().value().as_ref(),
        b"ok"
    );

    // Handles and builders are 'static: they can be spawned.
    let kv2 = kv.clone();
    tokio::spawn(async move { kv2.put("spawned", "yes").await })
        .await
        .unwrap()
        .unwrap();
    tokio::spawn(kv.delete("spawned").into_future())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn kv_create_update_and_create_after_delete_or_purge() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let kv = bucket(&js, "b", 10).await;

    let r1 = kv.create("k", "one").await.unwrap();
    let err = kv.create("k", "again").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::KeyExists);
    assert_eq!(
        err.api_error().map(|a| a.err_code),
        Some(ErrorCode::STREAM_WRONG_LAST_SEQUENCE)
    );

    let r2 = kv.update("k", "two", r1).await.unwrap();
    let err = kv.update("k", "stale", r1).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongLastRevision);
    assert!(err.api_error().is_some());
    // Update of a key that does not exist, expecting revision 0: like a create.
    kv.update("new", "v", 0).await.unwrap();
    assert_eq!(
        kv.update("other", "v", 5).await.unwrap_err().kind(),
        ErrorKind::WrongLastRevision
    );

    // A deleted key can be created again (over its delete marker).
    kv.delete("k").await.unwrap();
    let r3 = kv.create("k", "three").await.unwrap();
    assert!(r3 > r2);
    assert_eq!(kv.get("k").await.unwrap().value().as_ref(), b"three");
    // And a purged one.
    kv.purge("k").await.unwrap();
    kv.create("k", "four").await.unwrap();
    assert_eq!(kv.get("k").await.unwrap().value().as_ref(), b"four");
    assert_eq!(
        kv.create("k", "five").await.unwrap_err().kind(),
        ErrorKind::KeyExists
    );
}

#[tokio::test]
async fn kv_delete_and_purge_with_revisions() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let kv = bucket(&js, "b", 10).await;

    let r1 = kv.put("k", "a").await.unwrap();
    let r2 = kv.put("k", "b").await.unwrap();
    let err = kv.delete("k").last_revision(r1).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongLastRevision);
    kv.delete("k").last_revision(r2).await.unwrap();
    assert_eq!(
        kv.get("k").await.unwrap_err().kind(),
        ErrorKind::KeyNotFound
    );
    // The delete keeps the history; get_revision of the marker is not a value.
    let history = kv.history("k").await.unwrap();
    let ops: Vec<_> = history.iter().map(summary).collect();
    assert_eq!(
        ops,
        vec![put("k", "a"), put("k", "b"), marker("k", Operation::Delete)]
    );
    let delete_revision = history[2].revision();
    assert_eq!(
        kv.get_revision("k", delete_revision)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::KeyNotFound
    );
    assert_eq!(
        kv.get_revision("k", r1).await.unwrap().value().as_ref(),
        b"a"
    );

    // Purge removes the history, leaving only its marker.
    let r4 = kv.put("k", "c").await.unwrap();
    let err = kv.purge("k").last_revision(r1).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongLastRevision);
    kv.purge("k").last_revision(r4).await.unwrap();
    let history = kv.history("k").await.unwrap();
    assert_eq!(
        history.iter().map(summary).collect::<Vec<_>>(),
        vec![marker("k", Operation::Purge)]
    );
    assert_eq!(
        kv.get("k").await.unwrap_err().kind(),
        ErrorKind::KeyNotFound
    );
    // Deleting a key that never existed just writes a marker.
    kv.delete("never").await.unwrap();
    assert_eq!(kv.keys().await.unwrap(), Vec::<String>::new());
}

#[tokio::test]
async fn kv_history_ends_and_respects_the_limit() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let kv = bucket(&js, "b", 3).await;

    // A key without entries: KeyNotFound, promptly.
    let start = Instant::now();
    assert_eq!(
        kv.history("nothing").await.unwrap_err().kind(),
        ErrorKind::KeyNotFound
    );
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );

    for i in 0..5 {
        kv.put("k", format!("v{i}")).await.unwrap();
    }
    kv.put("other", "x").await.unwrap();
    let history = kv.history("k").await.unwrap();
    let values: Vec<_> = history.iter().map(summary).collect();
    assert_eq!(values, vec![put("k", "v2"), put("k", "v3"), put("k", "v4")]);
    assert!(history
        .windows(2)
        .all(|w| w[0].revision() < w[1].revision()));
}

#[tokio::test]
async fn kv_keys_and_list_keys() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let kv = bucket(&js, "b", 5).await;

    // An empty bucket: no keys, promptly.
    let start = Instant::now();
    assert_eq!(kv.keys().await.unwrap(), Vec::<String>::new());
    let listed: Vec<String> = kv.list_keys().await.unwrap().try_collect().await.unwrap();
    assert!(listed.is_empty());
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );

    kv.put("sue.color", "blue").await.unwrap();
    kv.put("sue.age", "43").await.unwrap();
    kv.put("sue.age", "44").await.unwrap();
    kv.put("bucket", "profiles").await.unwrap();
    kv.put("gone", "x").await.unwrap();
    kv.delete("gone").await.unwrap();
    kv.put("purged", "x").await.unwrap();
    kv.purge("purged").await.unwrap();

    assert_eq!(
        kv.keys().await.unwrap(),
        vec!["bucket", "sue.age", "sue.color"]
    );
    let mut listed: Vec<String> = kv
        .list_keys()
        .filter("sue.*")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    listed.sort();
    assert_eq!(listed, vec!["sue.age", "sue.color"]);
    let mut listed: Vec<String> = kv
        .list_keys()
        .filters(["bucket", "sue.color", "gone"])
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    listed.sort();
    assert_eq!(listed, vec!["bucket", "sue.color"]);
    let err = kv.list_keys().filter("a..b").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidKey);
}

#[tokio::test]
async fn kv_watch_initial_values_marker_then_updates() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let kv = bucket(&js, "profiles", 5).await;
    kv.put("sue.color", "blue").await.unwrap();
    kv.put("bob.color", "red").await.unwrap();

    let mut watcher = kv.watch("sue.*").await.unwrap();
    kv.put("sue.age", "43").await.unwrap();
    kv.put("sue.color", "red").await.unwrap();

    // The current value of each matching key (those stored when the watch started), then
    // the marker, then the updates.
    assert_eq!(
        summary(&next_entry(&mut watcher).await),
        put("sue.color", "blue")
    );
    assert_eq!(next(&mut watcher).await, None);
    assert_eq!(
        summary(&next_entry(&mut watcher).await),
        put("sue.age", "43")
    );
    assert_eq!(
        summary(&next_entry(&mut watcher).await),
        put("sue.color", "red")
    );
    kv.delete("sue.age").await.unwrap();
    kv.put("bob.age", "50").await.unwrap();
    let deleted = next_entry(&mut watcher).await;
    assert_eq!(summary(&deleted), marker("sue.age", Operation::Delete));
    assert_quiet(&mut watcher, Duration::from_millis(300)).await;
}

#[tokio::test]
async fn kv_watch_marker_is_exact_and_comes_once() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let kv = bucket(&js, "b", 5).await;

    // Empty bucket: the marker comes first.
    let mut empty = kv.watch_all().await.unwrap();
    assert_eq!(next(&mut empty).await, None);
    kv.put("a", "1").await.unwrap();
    assert_eq!(summary(&next_entry(&mut empty).await), put("a", "1"));
    assert_quiet(&mut empty, Duration::from_millis(200)).await;

    // With values: every current value, then the marker, then nothing.
    for i in 0..20 {
        kv.put(format!("k{i}"), i.to_string()).await.unwrap();
    }
    let mut watcher = kv.watch_all().await.unwrap();
    for _ in 0..21 {
        next_entry(&mut watcher).await;
    }
    assert_eq!(next(&mut watcher).await, None);
    assert_quiet(&mut watcher, Duration::from_millis(300)).await;

    // A pattern that matches nothing: marker at once, even though the bucket has values.
    let mut none = kv.watch("zzz.*").await.unwrap();
    assert_eq!(next(&mut none).await, None);
    // ignore_deletes over only deleted keys: just the marker.
    kv.delete("a").await.unwrap();
    let mut ignoring = kv.watch("a").ignore_deletes().await.unwrap();
    assert_eq!(next(&mut ignoring).await, None);
    assert_quiet(&mut ignoring, Duration::from_millis(200)).await;
}

#[tokio::test]
async fn kv_watch_options() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let kv = bucket(&js, "b", 10).await;
    let r1 = kv.put("k", "1").await.unwrap();
    kv.put("k", "2").await.unwrap();
    kv.put("j", "x").await.unwrap();
    kv.delete("j").await.unwrap();

    // include_history: every revision, then the marker.
    let mut w = kv.watch("k").include_history().await.unwrap();
    assert_eq!(summary(&next_entry(&mut w).await), put("k", "1"));
    assert_eq!(summary(&next_entry(&mut w).await), put("k", "2"));
    assert_eq!(next(&mut w).await, None);

    // Default: latest per key, deletes included.
    let mut w = kv.watch_all().await.unwrap();
    assert_eq!(summary(&next_entry(&mut w).await), put("k", "2"));
    assert_eq!(
        summary(&next_entry(&mut w).await),
        marker("j", Operation::Delete)
    );
    assert_eq!(next(&mut w).await, None);

    // ignore_deletes: no delete markers, initially or live.
    let mut w = kv.watch_all().ignore_deletes().await.unwrap();
    assert_eq!(summary(&next_entry(&mut w).await), put("k", "2"));
    assert_eq!(next(&mut w).await, None);
    kv.delete("k").await.unwrap();
    kv.put("k", "3").await.unwrap();
    assert_eq!(summary(&next_entry(&mut w).await), put("k", "3"));

    // updates_only: no initial values and no marker.
    let mut w = kv.watch_all().updates_only().await.unwrap();
    assert_quiet(&mut w, Duration::from_millis(300)).await;
    kv.put("k", "4").await.unwrap();
    let e = next_entry(&mut w).await;
    assert_eq!(summary(&e), put("k", "4"));
    assert_eq!(e.delta(), 0);

    // meta_only: entries without values.
    let mut w = kv.watch("k").meta_only().await.unwrap();
    let e = next_entry(&mut w).await;
    assert_eq!((e.key(), e.operation()), ("k", Operation::Put));
    assert!(e.value().is_empty());
    assert_eq!(next(&mut w).await, None);

    // resume_from_revision: every entry from there on (history and markers), then the marker.
    let mut w = kv.watch_all().resume_from_revision(r1 + 1).await.unwrap();
    let mut resumed = Vec::new();
    while let Some(e) = next(&mut w).await {
        resumed.push(e.revision());
    }
    assert_eq!(resumed.first(), Some(&(r1 + 1)));
    assert_eq!(resumed.len(), 6);

    // watch_filtered: several keys.
    kv.put("x.1", "a").await.unwrap();
    kv.put("y.1", "b").await.unwrap();
    let mut w = kv.watch_filtered(["x.*", "y.*"]).await.unwrap();
    let mut keys = vec![
        next_entry(&mut w).await.key().to_string(),
        next_entry(&mut w).await.key().to_string(),
    ];
    keys.sort();
    assert_eq!(keys, vec!["x.1", "y.1"]);
    assert_eq!(next(&mut w).await, None);

    // Conflicting options are refused.
    for watch in [
        kv.watch_all().updates_only().include_history(),
        kv.watch_all().updates_only().resume_from_revision(1),
        kv.watch_all().resume_from_revision(0),
    ] {
        assert_eq!(watch.await.unwrap_err().kind(), ErrorKind::InvalidArgument);
    }
}

#[tokio::test]
async fn kv_watch_delta_counts_newer_entries() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let kv = bucket(&js, "b", 10).await;
    for i in 0..3 {
        kv.put("k", i.to_string()).await.unwrap();
    }
    let mut w = kv.watch("k").include_history().await.unwrap();
    let deltas = [
        next_entry(&mut w).await.delta(),
        next_entry(&mut w).await.delta(),
        next_entry(&mut w).await.delta(),
    ];
    assert_eq!(deltas, [2, 1, 0]);
}

#[tokio::test]
async fn kv_watch_survives_a_server_restart() {
    let mut server = Server::jetstream().start();
    let js = connect(&server).await;
    let kv = js
        .create_key_value(KeyValueConfig {
            bucket: "durable".into(),
            history: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    kv.put("a", "1").await.unwrap();
    let mut watcher = kv.watch_all().await.unwrap();
    assert_eq!(summary(&next_entry(&mut watcher).await), put("a", "1"));
    assert_eq!(next(&mut watcher).await, None);

    server.restart();
    let start = Instant::now();
    loop {
        match kv.put("a", "2").await {
            Ok(_) => break,
            Err(e) => {
                assert!(start.elapsed() < Duration::from_secs(8), "{e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    kv.put("b", "3").await.unwrap();
    let got = [
        summary(&next_entry(&mut watcher).await),
        summary(&next_entry(&mut watcher).await),
    ];
    assert_eq!(got, [put("a", "2"), put("b", "3")]);
    // No second marker, no duplicates.
    assert_quiet(&mut watcher, Duration::from_millis(300)).await;
}

#[tokio::test]
async fn kv_watcher_reads_by_push_with_flow_control() {
    // As nats.go's watchers: a push consumer with flow control and heartbeats, which costs
    // the server less per entry than serving pulls.
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let kv = bucket(&js, "b", 1).await;
    for i in 0..50 {
        kv.put(format!("k{i}"), "v").await.unwrap();
    }
    let mut watcher = kv.watch_all().await.unwrap();
    let infos: Vec<_> = kv.stream().list_consumers().try_collect().await.unwrap();
    assert_eq!(infos.len(), 1);
    let config = &infos[0].config;
    assert!(config.deliver_subject.is_some(), "{config:?}");
    assert!(config.flow_control, "{config:?}");
    assert_eq!(config.idle_heartbeat, Duration::from_secs(3));
    for _ in 0..50 {
        next_entry(&mut watcher).await;
    }
    assert_eq!(next(&mut watcher).await, None);
    kv.put("k0", "w").await.unwrap();
    assert_eq!(summary(&next_entry(&mut watcher).await), put("k0", "w"));
}

#[tokio::test]
async fn kv_dropping_a_watcher_removes_its_consumer() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let kv = bucket(&js, "b", 1).await;
    let consumers = || async {
        kv.stream()
            .info()
            .await
            .map(|info| info.state.consumer_count)
    };
    let watcher = kv.watch_all().await.unwrap();
    assert_eq!(consumers().await.unwrap(), 1);
    drop(watcher);
    let start = Instant::now();
    while consumers().await.unwrap() != 0 {
        assert!(
            start.elapsed() < WAIT,
            "the watcher's consumer is still there"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // keys() and history() clean up after themselves too.
    kv.put("k", "v").await.unwrap();
    kv.keys().await.unwrap();
    kv.history("k").await.unwrap();
    let start = Instant::now();
    while consumers().await.unwrap() != 0 {
        assert!(start.elapsed() < WAIT, "consumers left behind");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn kv_purge_all_keeps_markers() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let kv = bucket(&js, "b", 5).await;
    for key in ["sue.color", "sue.age", "bucket"] {
        kv.put(key, "1").await.unwrap();
        kv.put(key, "2").await.unwrap();
    }
    kv.put("deleted", "1").await.unwrap();
    kv.delete("deleted").await.unwrap();

    kv.purge_all().await.unwrap();
    assert_eq!(kv.keys().await.unwrap(), Vec::<String>::new());
    for key in ["sue.color", "sue.age", "bucket", "deleted"] {
        let history = kv.history(key).await.unwrap();
        assert_eq!(
            history.iter().map(summary).collect::<Vec<_>>(),
            vec![marker(key, Operation::Purge)],
            "{key}"
        );
    }
    assert_eq!(kv.status().await.unwrap().values(), 4);
    // Purging an empty bucket is fine.
    bucket(&js, "empty", 1).await.purge_all().await.unwrap();
}

#[tokio::test]
async fn kv_purge_deletes_thresholds() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let kv = bucket(&js, "b", 10).await;
    kv.put("live", "1").await.unwrap();
    kv.put("old", "1").await.unwrap();
    kv.put("old", "2").await.unwrap();
    kv.delete("old").await.unwrap();
    tokio::time::sleep(Duration::from_millis(2000)).await;
    kv.put("young", "1").await.unwrap();
    kv.purge("young").await.unwrap();
    kv.put("recent", "1").await.unwrap();
    kv.delete("recent").await.unwrap();

    // Default (30 minutes): every marker stays, the history before it goes.
    kv.purge_deletes().await.unwrap();
    assert_eq!(kv.history("old").await.unwrap().len(), 1);
    assert_eq!(
        summary(&kv.history("recent").await.unwrap()[0]),
        marker("recent", Operation::Delete)
    );
    assert_eq!(kv.status().await.unwrap().values(), 4);

    // 1 s: the older marker goes, the younger ones stay.
    kv.purge_deletes()
        .older_than(Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(
        kv.history("old").await.unwrap_err().kind(),
        ErrorKind::KeyNotFound
    );
    assert_eq!(kv.history("young").await.unwrap().len(), 1);
    assert_eq!(kv.history("recent").await.unwrap().len(), 1);

    // Zero: every marker goes; values stay.
    kv.purge_deletes().older_than(Duration::ZERO).await.unwrap();
    assert_eq!(kv.status().await.unwrap().values(), 1);
    assert_eq!(kv.get("live").await.unwrap().value().as_ref(), b"1");
    // A purged-away key can be created as new.
    kv.create("old", "again").await.unwrap();
}

#[tokio::test]
async fn kv_status_is_fresh() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let kv = js
        .create_key_value(KeyValueConfig {
            bucket: "profiles".into(),
            history: 4,
            ttl: Some(Duration::from_secs(3600)),
            compression: true,
            metadata: [("team".to_string(), "a".to_string())].into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let status = kv.status().await.unwrap();
    assert_eq!(status.bucket(), "profiles");
    assert_eq!(status.values(), 0);
    assert_eq!(status.bytes(), 0);
    assert_eq!(status.history(), 4);
    assert_eq!(status.ttl(), Duration::from_secs(3600));
    assert_eq!(status.backing_store(), "JetStream");
    assert!(status.is_compressed());
    assert_eq!(status.limit_marker_ttl(), None);
    assert_eq!(status.metadata().get("team").map(String::as_str), Some("a"));
    assert_eq!(status.stream_info().config.name, "KV_profiles");

    kv.put("sue.color", "blue").await.unwrap();
    kv.put("sue.age", "43").await.unwrap();
    kv.put("bucket", "profiles").await.unwrap();
    let status = kv.status().await.unwrap();
    assert_eq!(status.values(), 3);
    assert!(status.bytes() > 0);

    let plain = bucket(&js, "plain", 1).await.status().await.unwrap();
    assert!(!plain.is_compressed());
    assert_eq!(plain.ttl(), Duration::ZERO);
    assert_eq!(plain.history(), 1);
    js.delete_key_value("plain").await.unwrap();
}

#[tokio::test]
async fn kv_limit_markers_and_per_key_ttl() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    assert_eq!(
        js.create_key_value(KeyValueConfig {
            limit_marker_ttl: Some(Duration::from_millis(100)),
            ..config("bad")
        })
        .await
        .unwrap_err()
        .kind(),
        ErrorKind::InvalidConfig
    );
    let kv = js
        .create_key_value(KeyValueConfig {
            history: 5,
            limit_marker_ttl: Some(Duration::from_secs(1)),
            ..config("ttl")
        })
        .await
        .unwrap();
    let status = kv.status().await.unwrap();
    assert_eq!(status.limit_marker_ttl(), Some(Duration::from_secs(1)));
    assert!(status.stream_info().config.allow_msg_ttl);

    let mut watcher = kv.watch("session").await.unwrap();
    assert_eq!(next(&mut watcher).await, None);

    // A value with its own TTL: created, then removed by the server, which leaves a marker
    // (read as a purge) that itself expires.
    kv.create_with_ttl("session", "alive", Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(
        summary(&next_entry(&mut watcher).await),
        put("session", "alive")
    );
    assert_eq!(
        kv.create_with_ttl("session", "again", Duration::from_secs(1))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::KeyExists
    );
    let expired = next_entry(&mut watcher).await;
    assert_eq!(summary(&expired), marker("session", Operation::Purge));
    assert_eq!(
        kv.get("session").await.unwrap_err().kind(),
        ErrorKind::KeyNotFound
    );
    // Created again over the server's marker.
    kv.create("session", "back").await.unwrap();
    assert_eq!(
        summary(&next_entry(&mut watcher).await),
        put("session", "back")
    );

    // A purge marker with a TTL goes away by itself.
    kv.put("temp", "x").await.unwrap();
    kv.purge("temp").ttl(Duration::from_secs(1)).await.unwrap();
    assert_eq!(kv.history("temp").await.unwrap().len(), 1);
    let start = Instant::now();
    loop {
        match kv.history("temp").await {
            Err(e) if e.kind() == ErrorKind::KeyNotFound => break,
            Ok(_) => {
                assert!(start.elapsed() < WAIT, "the purge marker did not expire");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("{e}"),
        }
    }

    // Without limit markers, per-key TTLs are refused by the server.
    let plain = bucket(&js, "plain", 1).await;
    let err = plain
        .create_with_ttl("k", "v", Duration::from_secs(5))
        .await
        .unwrap_err();
    assert_eq!(
        err.api_error().map(|a| a.err_code),
        Some(ErrorCode::MESSAGE_TTL_DISABLED),
        "{err}"
    );
}

#[tokio::test]
async fn kv_mirror_bucket_reads_locally_and_writes_to_the_origin() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let origin = bucket(&js, "origin", 5).await;
    origin.put("a", "1").await.unwrap();
    origin.put("b", "2").await.unwrap();

    let mirror = js
        .create_key_value(KeyValueConfig {
            history: 5,
            mirror: Some(StreamSource {
                name: "origin".into(),
                ..Default::default()
            }),
            ..config("replica")
        })
        .await
        .unwrap();
    let info = raw_stream_info(js.client(), "KV_replica").await;
    assert_eq!(info["config"]["mirror"]["name"], "KV_origin");
    assert_eq!(info["config"]["mirror_direct"], true);
    assert!(info["config"].get("subjects").is_none());

    // Reads come from the mirror once it caught up.
    let entry = eventually(|| mirror.get("b")).await;
    assert_eq!(entry.value().as_ref(), b"2");
    assert_eq!(entry.key(), "b");
    assert_eq!(entry.bucket(), "replica");

    // A bound handle behaves the same; writes through it land in the origin.
    let bound = js.key_value("replica").await.unwrap();
    bound.put("c", "3").await.unwrap();
    assert_eq!(origin.get("c").await.unwrap().value().as_ref(), b"3");
    let mut watcher = bound.watch_all().updates_only().await.unwrap();
    origin.put("d", "4").await.unwrap();
    assert_eq!(summary(&next_entry(&mut watcher).await), put("d", "4"));
    let start = Instant::now();
    let keys = loop {
        let keys = bound.keys().await.unwrap();
        if keys.len() == 4 || start.elapsed() > WAIT {
            break keys;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(keys, vec!["a", "b", "c", "d"]);
}

#[tokio::test]
async fn kv_bucket_sourced_from_other_buckets() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let east = bucket(&js, "east", 1).await;
    let west = bucket(&js, "west", 1).await;
    east.put("e", "1").await.unwrap();
    west.put("w", "2").await.unwrap();
    let all = js
        .create_key_value(KeyValueConfig {
            sources: vec![
                StreamSource {
                    name: "east".into(),
                    ..Default::default()
                },
                StreamSource {
                    name: "KV_west".into(),
                    ..Default::default()
                },
            ],
            ..config("all")
        })
        .await
        .unwrap();
    let w = eventually(|| all.get("w")).await;
    assert_eq!(w.value().as_ref(), b"2");
    let e = eventually(|| all.get("e")).await;
    assert_eq!(e.value().as_ref(), b"1");
    // The sourced bucket has its own keys too.
    all.put("own", "3").await.unwrap();
    assert_eq!(all.keys().await.unwrap(), vec!["e", "own", "w"]);
}

#[tokio::test]
async fn kv_through_a_jetstream_domain() {
    let server = Server::jetstream().jetstream_domain("hub").start();
    let client = nats_core::connect(server.url()).await.unwrap();
    let js = jetstream::with_domain(client, "hub");
    let kv = bucket(&js, "b", 3).await;
    let revision = kv.put("k", "v").await.unwrap();
    kv.update("k", "w", revision).await.unwrap();
    assert_eq!(kv.get("k").await.unwrap().value().as_ref(), b"w");
    kv.delete("k").await.unwrap();
    assert_eq!(kv.history("k").await.unwrap().len(), 3);
    assert_eq!(kv.keys().await.unwrap(), Vec::<String>::new());
}

#[tokio::test]
async fn kv_interop_with_async_nats() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let theirs = async_nats::jetstream::new(async_nats::connect(server.url()).await.unwrap());

    // A bucket made and written by async-nats, read by us.
    let their_kv = theirs
        .create_key_value(async_nats::jetstream::kv::Config {
            bucket: "theirs".into(),
            history: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    their_kv.put("a", Bytes::from_static(b"1")).await.unwrap();
    their_kv.put("a", Bytes::from_static(b"2")).await.unwrap();
    their_kv.put("b", Bytes::from_static(b"x")).await.unwrap();
    their_kv.delete("b").await.unwrap();
    their_kv.put("c", Bytes::from_static(b"y")).await.unwrap();
    their_kv.purge("c").await.unwrap();

    let ours = js.key_value("theirs").await.unwrap();
    assert_eq!(ours.get("a").await.unwrap().value().as_ref(), b"2");
    assert_eq!(
        ours.get("b").await.unwrap_err().kind(),
        ErrorKind::KeyNotFound
    );
    assert_eq!(
        ours.get("c").await.unwrap_err().kind(),
        ErrorKind::KeyNotFound
    );
    assert_eq!(ours.keys().await.unwrap(), vec!["a"]);
    let history: Vec<_> = ours
        .history("b")
        .await
        .unwrap()
        .iter()
        .map(summary)
        .collect();
    assert_eq!(history, vec![put("b", "x"), marker("b", Operation::Delete)]);
    let history: Vec<_> = ours
        .history("c")
        .await
        .unwrap()
        .iter()
        .map(summary)
        .collect();
    assert_eq!(history, vec![marker("c", Operation::Purge)]);
    // Our create goes over their delete marker; theirs sees it.
    ours.create("b", "ours").await.unwrap();
    assert_eq!(
        their_kv.get("b").await.unwrap(),
        Some(Bytes::from_static(b"ours"))
    );

    // A bucket made and written by us, read by async-nats.
    let kv = bucket(&js, "ours", 5).await;
    let r1 = kv.put("k", "1").await.unwrap();
    kv.update("k", "2", r1).await.unwrap();
    kv.put("gone", "x").await.unwrap();
    kv.delete("gone").await.unwrap();
    kv.put("purged", "x").await.unwrap();
    kv.purge("purged").await.unwrap();

    let their_view = theirs.get_key_value("ours").await.unwrap();
    assert_eq!(
        their_view.get("k").await.unwrap(),
        Some(Bytes::from_static(b"2"))
    );
    let entry = their_view.entry("k").await.unwrap().unwrap();
    assert_eq!(entry.revision, r1 + 1);
    assert_eq!(their_view.get("gone").await.unwrap(), None);
    assert_eq!(their_view.get("purged").await.unwrap(), None);
    let gone = their_view.entry("gone").await.unwrap().unwrap();
    assert_eq!(gone.operation, async_nats::jetstream::kv::Operation::Delete);
    let purged = their_view.entry("purged").await.unwrap().unwrap();
    assert_eq!(
        purged.operation,
        async_nats::jetstream::kv::Operation::Purge
    );
    let mut their_keys: Vec<String> = their_view
        .keys()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    their_keys.sort();
    assert_eq!(their_keys, vec!["k"]);
    // Their create goes over our delete marker.
    their_view
        .create("gone", Bytes::from_static(b"theirs"))
        .await
        .unwrap();
    assert_eq!(kv.get("gone").await.unwrap().value().as_ref(), b"theirs");
}

#[tokio::test]
async fn kv_watcher_ends_when_the_bucket_is_deleted() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let kv = bucket(&js, "b", 1).await;
    let mut watcher = kv.watch_all().await.unwrap();
    assert_eq!(next(&mut watcher).await, None);
    js.delete_key_value("b").await.unwrap();
    // Noticed at once, or after two missed heartbeats (6 s) at most.
    let err = tokio::time::timeout(Duration::from_secs(9), watcher.next())
        .await
        .expect("no error within 9 s")
        .expect("ended without an error")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BucketNotFound, "{err}");
    let end = tokio::time::timeout(WAIT, watcher.next()).await.unwrap();
    assert!(end.is_none(), "{end:?}");
    // Watching a missing bucket fails at once.
    assert_eq!(
        kv.watch_all().await.unwrap_err().kind(),
        ErrorKind::BucketNotFound
    );
}

/// A get's future is small (its layers keep their arguments once; it is moved into
/// `FuturesUnordered` and the like, every move copying all of it) and reads the entry.
#[tokio::test]
async fn kv_get_future_is_small() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let kv = bucket(&js, "small", 1).await;
    kv.put("k", "v").await.unwrap();
    let get = kv.get("k");
    // 848 bytes as nested `async fn`s.
    assert!(
        std::mem::size_of_val(&get) <= 480,
        "{}",
        std::mem::size_of_val(&get)
    );
    assert_eq!(&get.await.unwrap().value()[..], b"v");
}
