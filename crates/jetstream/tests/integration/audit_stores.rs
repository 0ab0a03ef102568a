//! Audit of the KV and object store issues: behaviour the other suites did not prove yet.
//! Reads through direct gets (and through the leader on buckets made by old clients), the
//! repair of such buckets, the full stream mapping of a bucket, limit markers refused on a
//! server without API level 1, bucket binds of streams that are not buckets, invalid names
//! refused by every management call, KV and object stores on 2.10, and an object watcher
//! across a server restart and after it is dropped.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use jetstream::{
    ErrorKind, JetStream, KeyValueConfig, ObjectStoreConfig, Operation, RePublish, StorageType,
    StreamConfig,
};
use nats_core::{Client, Subscriber};
use nats_testkit::Server;
use serde_json::json;

use crate::common::{raw_create_stream, raw_stream_info};

const WAIT: Duration = Duration::from_secs(5);

async fn connect(server: &Server) -> (Client, JetStream) {
    let client = nats_core::connect(server.url()).await.unwrap();
    let js = jetstream::new(client.clone());
    (client, js)
}

fn memory(bucket: &str) -> KeyValueConfig {
    KeyValueConfig {
        bucket: bucket.into(),
        storage: StorageType::Memory,
        ..Default::default()
    }
}

/// Every request seen on `subject` so far: (subject, payload), once the server saw them.
async fn seen(client: &Client, sniffer: &mut Subscriber) -> Vec<(String, String)> {
    client.flush().await.unwrap();
    let mut out = Vec::new();
    while let Ok(Some(msg)) = tokio::time::timeout(Duration::from_millis(200), sniffer.next()).await
    {
        out.push((
            msg.subject.to_string(),
            String::from_utf8_lossy(&msg.payload).into_owned(),
        ));
    }
    out
}

#[tokio::test]
async fn kv_reads_use_direct_gets() {
    let server = Server::jetstream().start();
    let (client, js) = connect(&server).await;
    let kv = js
        .create_key_value(KeyValueConfig {
            history: 2,
            ..memory("b")
        })
        .await
        .unwrap();
    let r1 = kv.put("k", "1").await.unwrap();
    kv.put("k", "2").await.unwrap();

    let sniffer_client = nats_core::connect(server.url()).await.unwrap();
    let mut direct = sniffer_client
        .subscribe("$JS.API.DIRECT.GET.KV_b.>")
        .await
        .unwrap();
    let mut direct_by_seq = sniffer_client
        .subscribe("$JS.API.DIRECT.GET.KV_b")
        .await
        .unwrap();
    let mut leader = sniffer_client
        .subscribe("$JS.API.STREAM.MSG.GET.>")
        .await
        .unwrap();
    sniffer_client.flush().await.unwrap();

    assert_eq!(kv.get("k").await.unwrap().value().as_ref(), b"2");
    assert_eq!(
        kv.get_revision("k", r1).await.unwrap().value().as_ref(),
        b"1"
    );
    // get: the subject form with an empty body; get_revision: the sequence in the body.
    assert_eq!(
        seen(&client, &mut direct).await,
        [("$JS.API.DIRECT.GET.KV_b.$KV.b.k".to_string(), String::new())]
    );
    let by_seq = seen(&client, &mut direct_by_seq).await;
    assert_eq!(by_seq.len(), 1, "{by_seq:?}");
    let body: serde_json::Value = serde_json::from_str(&by_seq[0].1).unwrap();
    assert_eq!(body["seq"], r1);
    assert!(seen(&client, &mut leader).await.is_empty());
}

#[tokio::test]
async fn kv_legacy_bucket_is_read_through_the_leader_and_repaired_on_create() {
    let server = Server::jetstream().start();
    let (client, js) = connect(&server).await;
    // A bucket as old clients made it: discard old, no direct gets.
    raw_create_stream(
        &client,
        json!({
            "name": "KV_legacy",
            "subjects": ["$KV.legacy.>"],
            "storage": "memory",
            "max_msgs_per_subject": 3,
            "max_msgs": -1,
            "max_bytes": -1,
            "max_msg_size": -1,
            "max_consumers": -1,
            "num_replicas": 1,
            "discard": "old",
            "allow_rollup_hdrs": true,
            "deny_delete": true,
            "allow_direct": false,
            "duplicate_window": 120_000_000_000u64,
        }),
    )
    .await;

    let kv = js.key_value("legacy").await.unwrap();
    let r1 = kv.put("k", "1").await.unwrap();
    kv.put("k", "2").await.unwrap();
    kv.put("gone", "x").await.unwrap();
    kv.delete("gone").await.unwrap();

    let sniffer_client = nats_core::connect(server.url()).await.unwrap();
    let mut leader = sniffer_client
        .subscribe("$JS.API.STREAM.MSG.GET.KV_legacy")
        .await
        .unwrap();
    let mut direct = sniffer_client
        .subscribe("$JS.API.DIRECT.GET.>")
        .await
        .unwrap();
    sniffer_client.flush().await.unwrap();
    assert_eq!(kv.get("k").await.unwrap().value().as_ref(), b"2");
    assert_eq!(
        kv.get_revision("k", r1).await.unwrap().value().as_ref(),
        b"1"
    );
    assert_eq!(
        kv.get("gone").await.unwrap_err().kind(),
        ErrorKind::KeyNotFound
    );
    assert_eq!(
        kv.get("never").await.unwrap_err().kind(),
        ErrorKind::KeyNotFound
    );
    assert_eq!(seen(&client, &mut leader).await.len(), 4);
    assert!(seen(&client, &mut direct).await.is_empty());
    kv.create("gone", "back").await.unwrap();

    // Creating the bucket with the config it already has (apart from the legacy settings)
    // repairs it instead of failing; another config is still BucketExists.
    let config = KeyValueConfig {
        history: 3,
        ..memory("legacy")
    };
    let repaired = js.create_key_value(config.clone()).await.unwrap();
    let info = raw_stream_info(&client, "KV_legacy").await;
    assert_eq!(info["config"]["discard"], "new");
    assert_eq!(info["config"]["allow_direct"], true);
    // Nothing was lost: k (2 revisions), gone (value, delete marker, value).
    assert_eq!(info["state"]["messages"], 5);
    assert_eq!(
        repaired.get("gone").await.unwrap().value().as_ref(),
        b"back"
    );
    let err = js
        .create_key_value(KeyValueConfig {
            history: 5,
            ..config
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BucketExists);
}

#[tokio::test]
async fn kv_bucket_maps_every_setting_to_the_stream() {
    let server = Server::jetstream().start();
    let (client, js) = connect(&server).await;

    // No TTL: a 2 minute duplicate window; a TTL longer than that keeps 2 minutes.
    js.create_key_value(memory("plain")).await.unwrap();
    let c = raw_stream_info(&client, "KV_plain").await["config"].clone();
    assert_eq!(c["duplicate_window"], 120_000_000_000u64);
    assert_eq!(c["max_age"], 0);
    assert_eq!(c["max_msgs_per_subject"], 1);
    assert_eq!(c["max_consumers"], -1);
    assert_eq!(c["num_replicas"], 1);
    assert_eq!(c["compression"], "none");
    assert_ne!(c["deny_purge"], true);
    assert_ne!(c["allow_msg_ttl"], true);

    js.create_key_value(KeyValueConfig {
        history: 7,
        ttl: Some(Duration::from_secs(3600)),
        max_bytes: 1 << 20,
        max_value_size: 1024,
        compression: true,
        republish: Some(RePublish {
            source: ">".into(),
            destination: "repub.>".into(),
            headers_only: false,
        }),
        limit_marker_ttl: Some(Duration::from_secs(2)),
        metadata: [("team".to_string(), "a".to_string())].into(),
        ..memory("full")
    })
    .await
    .unwrap();
    let c = raw_stream_info(&client, "KV_full").await["config"].clone();
    assert_eq!(c["duplicate_window"], 120_000_000_000u64);
    assert_eq!(c["max_age"], 3_600_000_000_000u64);
    assert_eq!(c["max_msgs_per_subject"], 7);
    assert_eq!(c["max_bytes"], 1 << 20);
    assert_eq!(c["max_msg_size"], 1024);
    assert_eq!(c["compression"], "s2");
    assert_eq!(c["storage"], "memory");
    assert_eq!(c["republish"]["src"], ">");
    assert_eq!(c["republish"]["dest"], "repub.>");
    assert_eq!(c["allow_msg_ttl"], true);
    assert_eq!(c["subject_delete_marker_ttl"], 2_000_000_000u64);
    assert_eq!(c["metadata"]["team"], "a");
    assert_eq!(c["discard"], "new");
    assert_eq!(c["allow_direct"], true);
    assert_eq!(c["allow_rollup_hdrs"], true);
    assert_eq!(c["deny_delete"], true);

    // The republish works: a put is seen on the republish subject.
    let kv = js.key_value("full").await.unwrap();
    let mut republished = client.subscribe("repub.>").await.unwrap();
    client.flush().await.unwrap();
    kv.put("k", "v").await.unwrap();
    let msg = tokio::time::timeout(WAIT, republished.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(msg.subject.to_string(), "repub.$KV.full.k");
    assert_eq!(msg.payload.as_ref(), b"v");
}

#[tokio::test]
async fn kv_binding_a_stream_that_is_not_a_bucket_fails() {
    let server = Server::jetstream().start();
    let (_, js) = connect(&server).await;
    js.create_stream(StreamConfig {
        name: "KV_plain".into(),
        subjects: vec!["plain.>".into()],
        storage: StorageType::Memory,
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(
        js.key_value("plain").await.unwrap_err().kind(),
        ErrorKind::BucketNotFound
    );
}

#[tokio::test]
async fn invalid_bucket_names_are_refused_by_every_management_call() {
    let server = Server::jetstream().start();
    let (_, js) = connect(&server).await;
    for bad in ["", "a.b", "a b", "a*", "a>", "ä"] {
        let kv = || KeyValueConfig {
            bucket: bad.into(),
            ..Default::default()
        };
        let obj = || ObjectStoreConfig {
            bucket: bad.into(),
            ..Default::default()
        };
        let kinds = [
            js.update_key_value(kv()).await.unwrap_err().kind(),
            js.create_or_update_key_value(kv())
                .await
                .unwrap_err()
                .kind(),
            js.update_object_store(obj()).await.unwrap_err().kind(),
            js.create_or_update_object_store(obj())
                .await
                .unwrap_err()
                .kind(),
        ];
        assert_eq!(kinds, [ErrorKind::InvalidName; 4], "{bad:?}");
    }
}

#[tokio::test]
async fn kv_limit_markers_need_a_server_with_api_level_1() {
    let server = Server::builder().jetstream(true).version("2.10.26").start();
    let (client, js) = connect(&server).await;
    assert!(client.server_info().version.starts_with("2.10."));
    let err = js
        .create_key_value(KeyValueConfig {
            limit_marker_ttl: Some(Duration::from_secs(1)),
            ..memory("ttl")
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotSupported, "{err}");
    // Refused before the stream was created.
    assert_eq!(
        js.key_value("ttl").await.unwrap_err().kind(),
        ErrorKind::BucketNotFound
    );

    // Buckets without limit markers work on 2.10.
    let kv = js
        .create_key_value(KeyValueConfig {
            history: 3,
            ..memory("old")
        })
        .await
        .unwrap();
    let r = kv.create("k", "1").await.unwrap();
    kv.update("k", "2", r).await.unwrap();
    kv.delete("k").await.unwrap();
    kv.create("k", "3").await.unwrap();
    let ops: Vec<Operation> = kv
        .history("k")
        .await
        .unwrap()
        .iter()
        .map(|e| e.operation())
        .collect();
    assert_eq!(ops, [Operation::Put, Operation::Delete, Operation::Put]);
    assert_eq!(kv.keys().await.unwrap(), ["k"]);
}

#[tokio::test]
async fn kv_source_of_the_same_bucket_elsewhere_keeps_its_keys() {
    let server = Server::jetstream().start();
    let (client, js) = connect(&server).await;
    // The same bucket in another domain: no key mapping, only the stream prefix.
    js.create_key_value(KeyValueConfig {
        sources: vec![jetstream::StreamSource {
            name: "same".into(),
            external: Some(jetstream::External {
                api_prefix: "$JS.elsewhere.API".into(),
                ..Default::default()
            }),
            ..Default::default()
        }],
        ..memory("same")
    })
    .await
    .unwrap();
    let c = raw_stream_info(&client, "KV_same").await["config"].clone();
    assert_eq!(c["subjects"], json!(["$KV.same.>"]));
    assert_eq!(c["sources"][0]["name"], "KV_same");
    assert_eq!(c["sources"][0]["external"]["api"], "$JS.elsewhere.API");
    assert!(
        c["sources"][0].get("subject_transforms").is_none(),
        "{}",
        c["sources"][0]
    );
}

#[tokio::test]
async fn object_store_works_on_2_10() {
    let server = Server::builder().jetstream(true).version("2.10.26").start();
    let (_, js) = connect(&server).await;
    let store = js
        .create_object_store(ObjectStoreConfig {
            bucket: "old".into(),
            storage: StorageType::Memory,
            compression: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let data = vec![42u8; 300_000];
    store.put_bytes("blob", data.clone()).await.unwrap();
    assert_eq!(store.get_bytes("blob").await.unwrap(), data);
    store.delete("blob").await.unwrap();
    assert_eq!(
        store.get("blob").await.unwrap_err().kind(),
        ErrorKind::ObjectNotFound
    );
    assert!(store.list().await.unwrap().is_empty());
}

async fn next_object(watcher: &mut jetstream::ObjectWatcher) -> Option<jetstream::ObjectInfo> {
    tokio::time::timeout(WAIT, watcher.next())
        .await
        .expect("watcher: nothing within 5 s")
        .expect("watcher ended")
        .expect("watcher error")
}

#[tokio::test]
async fn object_watch_survives_a_restart_and_dropping_it_removes_its_consumer() {
    let mut server = Server::jetstream().start();
    let (_, js) = connect(&server).await;
    let store = js
        .create_object_store(ObjectStoreConfig {
            bucket: "w".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let consumers = || async { store.status().await.unwrap().info().state.consumer_count };
    store.put_string("a", "1").await.unwrap();
    let mut watcher = store.watch().await.unwrap();
    assert_eq!(next_object(&mut watcher).await.unwrap().name, "a");
    assert_eq!(next_object(&mut watcher).await, None);

    server.restart();
    let start = Instant::now();
    while store.put_string("b", "2").await.is_err() {
        assert!(start.elapsed() < Duration::from_secs(10), "server not back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(next_object(&mut watcher).await.unwrap().name, "b");
    // No second marker, no duplicate.
    let quiet = tokio::time::timeout(Duration::from_millis(300), watcher.next()).await;
    assert!(quiet.is_err(), "{quiet:?}");

    assert_eq!(consumers().await, 1);
    drop(watcher);
    let start = Instant::now();
    while consumers().await != 0 {
        assert!(
            start.elapsed() < WAIT,
            "the watcher's consumer is still there"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
