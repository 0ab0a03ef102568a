//! Object store: bucket management, put/get (pipelined chunks, digests), large objects,
//! corruption and truncation, replacement, delete, update_meta and rename, links across
//! buckets, unusual names, watch and list, status and seal, reads across a server restart,
//! and interoperability with async-nats.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE;
use base64::Engine as _;
use futures_util::{StreamExt, TryStreamExt};
use jetstream::{
    ErrorKind, JetStream, ObjectInfo, ObjectLink, ObjectMeta, ObjectStore, ObjectStoreConfig,
    StorageType,
};
use nats_core::HeaderMap;
use nats_testkit::{Direction, FaultProxy, Server};

use crate::pattern::Pattern;
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

async fn connect(server: &Server) -> JetStream {
    let client = nats_core::connect(server.url()).await.unwrap();
    jetstream::new(client)
}

async fn mem_store(js: &JetStream, bucket: &str) -> ObjectStore {
    js.create_object_store(ObjectStoreConfig {
        bucket: bucket.into(),
        storage: StorageType::Memory,
        ..Default::default()
    })
    .await
    .unwrap()
}

/// Messages stored in the bucket's stream.
async fn stream_messages(js: &JetStream, bucket: &str) -> u64 {
    js.stream(format!("OBJ_{bucket}"))
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .state
        .messages
}

/// A reader that fails after `ok_bytes`.
struct FailingReader {
    ok_bytes: usize,
}

impl AsyncRead for FailingReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.ok_bytes == 0 {
            return Poll::Ready(Err(io::Error::other("disk on fire")));
        }
        let n = self.ok_bytes.min(buf.remaining());
        buf.put_slice(&vec![7u8; n]);
        self.ok_bytes -= n;
        Poll::Ready(Ok(()))
    }
}

/// Reads an object to the end from `offset`, checking its content against the pattern.
async fn read_and_check(
    object: &mut jetstream::Object,
    pattern: &Pattern,
    mut offset: u64,
) -> io::Result<u64> {
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = object.read(&mut buf).await?;
        if n == 0 {
            return Ok(offset);
        }
        assert!(pattern.matches(offset, &buf[..n]), "wrong data at {offset}");
        offset += n as u64;
    }
}

fn kind_of(e: &io::Error) -> Option<ErrorKind> {
    e.get_ref()
        .and_then(|e| e.downcast_ref::<jetstream::Error>())
        .map(|e| e.kind())
}

#[tokio::test]
async fn bucket_management() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let config = ObjectStoreConfig {
        bucket: "assets".into(),
        description: Some("build artifacts".into()),
        storage: StorageType::Memory,
        ..Default::default()
    };
    let store = js.create_object_store(config.clone()).await.unwrap();
    assert_eq!(store.bucket(), "assets");
    let info = js.stream("OBJ_assets").await.unwrap().cached_info();
    assert_eq!(info.config.subjects, vec!["$O.assets.C.>", "$O.assets.M.>"]);
    assert!(info.config.allow_rollup_hdrs && info.config.allow_direct);
    assert_eq!(info.config.discard, jetstream::DiscardPolicy::New);

    // Same config again: fine; a different one: BucketExists.
    js.create_object_store(config.clone()).await.unwrap();
    let err = js
        .create_object_store(ObjectStoreConfig {
            description: Some("other".into()),
            ..config.clone()
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BucketExists);

    // Bind, update, create-or-update.
    assert_eq!(js.object_store("assets").await.unwrap().bucket(), "assets");
    let err = js.object_store("missing").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BucketNotFound);
    let updated = ObjectStoreConfig {
        description: Some("updated".into()),
        ttl: Some(Duration::from_secs(3600)),
        ..config.clone()
    };
    js.update_object_store(updated.clone()).await.unwrap();
    let status = js
        .object_store("assets")
        .await
        .unwrap()
        .status()
        .await
        .unwrap();
    assert_eq!(status.description(), Some("updated"));
    assert_eq!(status.ttl(), Duration::from_secs(3600));
    let err = js
        .update_object_store(ObjectStoreConfig {
            bucket: "missing".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BucketNotFound);
    js.create_or_update_object_store(ObjectStoreConfig {
        bucket: "fresh".into(),
        storage: StorageType::Memory,
        ..Default::default()
    })
    .await
    .unwrap();
    js.create_or_update_object_store(updated).await.unwrap();

    // Invalid names are refused before sending.
    for bad in ["", "a.b", "a b", "a*", "ä"] {
        let cfg = ObjectStoreConfig {
            bucket: bad.into(),
            ..Default::default()
        };
        assert_eq!(
            js.create_object_store(cfg).await.unwrap_err().kind(),
            ErrorKind::InvalidName,
            "{bad:?}"
        );
        assert_eq!(
            js.object_store(bad).await.unwrap_err().kind(),
            ErrorKind::InvalidName
        );
        assert_eq!(
            js.delete_object_store(bad).await.unwrap_err().kind(),
            ErrorKind::InvalidName
        );
    }

    // Listings show only object stores.
    js.create_stream(jetstream::StreamConfig {
        name: "PLAIN".into(),
        subjects: vec!["plain.>".into()],
        storage: StorageType::Memory,
        ..Default::default()
    })
    .await
    .unwrap();
    let mut names: Vec<String> = js.object_store_names().try_collect().await.unwrap();
    names.sort();
    assert_eq!(names, ["assets", "fresh"]);
    let statuses: Vec<jetstream::ObjectStoreStatus> =
        js.object_stores().try_collect().await.unwrap();
    let mut buckets: Vec<&str> = statuses.iter().map(|s| s.bucket()).collect();
    buckets.sort();
    assert_eq!(buckets, ["assets", "fresh"]);

    // Delete.
    js.delete_object_store("fresh").await.unwrap();
    assert_eq!(
        js.object_store("fresh").await.unwrap_err().kind(),
        ErrorKind::BucketNotFound
    );
    assert_eq!(
        js.delete_object_store("fresh").await.unwrap_err().kind(),
        ErrorKind::BucketNotFound
    );
    let names: Vec<String> = js.object_store_names().try_collect().await.unwrap();
    assert_eq!(names, ["assets"]);
}

#[tokio::test]
async fn put_and_get_in_every_form() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let store = mem_store(&js, "configs").await;

    let before = jiff::Timestamp::now();
    let mut headers = HeaderMap::new();
    headers.append("Content-Type", "text/plain");
    let info = store
        .put(
            ObjectMeta {
                name: "config-1".into(),
                description: Some("first".into()),
                headers: Some(headers),
                metadata: HashMap::from([("owner".to_string(), "infra".to_string())]),
                ..Default::default()
            },
            &b"first config"[..],
        )
        .await
        .unwrap();
    assert_eq!(info.name, "config-1");
    assert_eq!(info.bucket, "configs");
    assert_eq!((info.size, info.chunks), (12, 1));
    assert_eq!(info.nuid.len(), 22);
    assert!(!info.deleted && info.link.is_none());
    assert!(info.modified >= before);
    let digest = info.digest.clone().unwrap();
    assert!(
        digest.starts_with("SHA-256=") && digest.ends_with('='),
        "{digest}"
    );

    store.put_string("config-2", "second config").await.unwrap();
    store.put_bytes("config-3", vec![1u8, 2, 3]).await.unwrap();
    store
        .put_bytes(String::from("static"), &b"bytes"[..])
        .await
        .unwrap();

    // Reading: AsyncRead, bytes, string.
    let mut object = store.get("config-1").await.unwrap();
    assert_eq!(object.info().digest.as_deref(), Some(digest.as_str()));
    let mut text = String::new();
    object.read_to_string(&mut text).await.unwrap();
    assert_eq!(text, "first config");
    assert_eq!(store.get_string("config-2").await.unwrap(), "second config");
    assert_eq!(&store.get_bytes("config-3").await.unwrap()[..], &[1, 2, 3]);
    assert_eq!(&store.get_bytes("static").await.unwrap()[..], b"bytes");

    // The stored info: modified is the message time (not the zero mtime), fields round trip.
    let stored = store.info("config-1").await.unwrap();
    assert_eq!(stored.description.as_deref(), Some("first"));
    assert_eq!(
        stored.headers.as_ref().unwrap().get("Content-Type"),
        Some("text/plain")
    );
    assert_eq!(stored.metadata["owner"], "infra");
    assert_eq!(stored.digest, info.digest);
    assert_eq!(
        stored.chunk_size,
        Some(jetstream::object_store::DEFAULT_CHUNK_SIZE)
    );
    assert!(stored.modified >= before && stored.modified <= jiff::Timestamp::now());
    let raw = js
        .stream("OBJ_configs")
        .await
        .unwrap()
        .get_last_msg_for_subject(format!("$O.configs.M.{}", URL_SAFE.encode("config-1")))
        .await
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&raw.payload).unwrap();
    assert_eq!(json["mtime"], "0001-01-01T00:00:00Z");
    assert_eq!(json["options"]["max_chunk_size"], 131072);
    assert_eq!(
        raw.headers.as_ref().unwrap().get("Nats-Rollup"),
        Some("sub")
    );

    // An empty object: no chunks, the digest of nothing.
    let empty = store.put_bytes("empty", Vec::new()).await.unwrap();
    assert_eq!((empty.size, empty.chunks), (0, 0));
    assert_eq!(
        empty.digest.as_deref(),
        Some("SHA-256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=")
    );
    assert!(store.get_bytes("empty").await.unwrap().is_empty());

    // Errors.
    for missing in [
        store.get("nope").await.err(),
        store.info("nope").await.err(),
    ] {
        assert_eq!(missing.unwrap().kind(), ErrorKind::ObjectNotFound);
    }
    assert_eq!(
        store.get_string("nope").await.unwrap_err().kind(),
        ErrorKind::ObjectNotFound
    );
    assert_eq!(
        store.put_string("", "x").await.unwrap_err().kind(),
        ErrorKind::InvalidName
    );
    assert_eq!(
        store.info("").await.unwrap_err().kind(),
        ErrorKind::InvalidName
    );
    store.put_bytes("binary", vec![0xff, 0xfe]).await.unwrap();
    assert_eq!(
        store.get_string("binary").await.unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );

    // Handles and calls work from spawned tasks.
    let spawned = store.clone();
    tokio::spawn(async move { spawned.put_string("spawned", "task").await })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.get_string("spawned").await.unwrap(), "task");
}

#[tokio::test]
async fn chunking_follows_the_chunk_size() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let store = mem_store(&js, "chunks").await;
    let pattern = Pattern::new();
    let data = pattern.bytes(10_500);
    let info = store
        .put(
            ObjectMeta {
                name: "small-chunks".into(),
                chunk_size: Some(1000),
                ..Default::default()
            },
            &data[..],
        )
        .await
        .unwrap();
    assert_eq!((info.size, info.chunks), (10_500, 11));
    assert_eq!(info.chunk_size, Some(1000));
    // 11 chunks and one metadata message.
    assert_eq!(stream_messages(&js, "chunks").await, 12);
    assert_eq!(
        &store.get_bytes("small-chunks").await.unwrap()[..],
        &data[..]
    );

    // Exactly a multiple of the chunk size: no empty trailing chunk.
    let info = store
        .put(
            ObjectMeta {
                name: "exact".into(),
                chunk_size: Some(1000),
                ..Default::default()
            },
            &data[..3000],
        )
        .await
        .unwrap();
    assert_eq!((info.size, info.chunks), (3000, 3));
    assert_eq!(&store.get_bytes("exact").await.unwrap()[..], &data[..3000]);

    // Chunks larger than the server's max payload are refused; nothing is left behind.
    let before = stream_messages(&js, "chunks").await;
    let err = store
        .put(
            ObjectMeta {
                name: "huge-chunks".into(),
                chunk_size: Some(2 * 1024 * 1024),
                ..Default::default()
            },
            &pattern.bytes(3 * 1024 * 1024)[..],
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MaxPayloadExceeded, "{err}");
    assert_eq!(stream_messages(&js, "chunks").await, before);

    // Default chunk size: 128 KiB.
    let big = pattern.bytes(300_000);
    let info = store.put_bytes("default", big.clone()).await.unwrap();
    assert_eq!(info.chunks, 3);
    let mut object = store.get("default").await.unwrap();
    // Tiny reads work too.
    let mut out = Vec::new();
    let mut buf = [0u8; 7];
    loop {
        let n = object.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    assert_eq!(out, big);

    // An exact multiple of the chunk size: two chunks, read back whole (the digest checked).
    let exact = pattern.bytes(256 * 1024);
    let info = store.put_bytes("exact", exact.clone()).await.unwrap();
    assert_eq!((info.chunks, info.size), (2, 256 * 1024));
    assert_eq!(store.get_bytes("exact").await.unwrap(), exact);
}

#[tokio::test]
async fn files_round_trip() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let store = mem_store(&js, "files").await;
    let dir = server.dir().join("object-files");
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("report.bin");
    let data = Pattern::new().bytes(400_000);
    std::fs::write(&source, &data).unwrap();

    let info = store.put_file(&source).await.unwrap();
    assert_eq!(info.name, "report.bin");
    let name = "report.bin";
    assert_eq!(info.size, 400_000);
    let target = dir.join("copy.bin");
    store.get_file(name, &target).await.unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), data);

    assert_eq!(
        store
            .put_file(dir.join("missing.bin"))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Io
    );
    let not_created = dir.join("never.bin");
    assert_eq!(
        store
            .get_file("nope", &not_created)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::ObjectNotFound
    );
    assert!(!not_created.exists());
}

#[tokio::test]
async fn a_100_mib_object_round_trips_with_its_digest() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let store = mem_store(&js, "large").await;
    let pattern = Pattern::new();
    let size = 100u64 << 20;

    let start = Instant::now();
    let info = store.put("large.bin", pattern.reader(size)).await.unwrap();
    let put_time = start.elapsed();
    assert_eq!(info.size, size);
    assert_eq!(info.chunks, 800);

    let start = Instant::now();
    let mut object = store.get("large.bin").await.unwrap();
    let read = read_and_check(&mut object, &pattern, 0).await.unwrap();
    let get_time = start.elapsed();
    assert_eq!(read, size);
    let mb = size as f64 / (1 << 20) as f64;
    eprintln!(
        "100 MiB: put {:.0} MiB/s ({put_time:?}), get {:.0} MiB/s ({get_time:?})",
        mb / put_time.as_secs_f64(),
        mb / get_time.as_secs_f64()
    );
    // One metadata message and the chunks; the reader's consumer is gone.
    assert_eq!(stream_messages(&js, "large").await, 801);
    let stream = js.stream("OBJ_large").await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.consumer_count, 0);
}

/// Release-build throughput: `cargo test --release -p nats-jetstream --test integration
/// object_store::throughput_64_mib -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "throughput measurement; run in release"]
async fn throughput_64_mib() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let pattern = Pattern::new();
    let size = 64u64 << 20;
    for storage in [StorageType::Memory, StorageType::File] {
        let store = js
            .create_object_store(ObjectStoreConfig {
                bucket: format!("tp-{storage:?}"),
                storage,
                ..Default::default()
            })
            .await
            .unwrap();
        for round in 0..3 {
            let start = Instant::now();
            store.put("blob", pattern.reader(size)).await.unwrap();
            let put = start.elapsed();
            let start = Instant::now();
            let mut object = store.get("blob").await.unwrap();
            let mut sink = tokio::io::sink();
            let n = tokio::io::copy(&mut object, &mut sink).await.unwrap();
            let get = start.elapsed();
            assert_eq!(n, size);
            eprintln!(
                "{storage:?} round {round}: put {:.0} MiB/s, get {:.0} MiB/s",
                64.0 / put.as_secs_f64(),
                64.0 / get.as_secs_f64()
            );
        }
    }
    // The same with async-nats, for comparison.
    let theirs = async_nats::jetstream::new(async_nats::connect(server.url()).await.unwrap());
    let store = theirs
        .create_object_store(async_nats::jetstream::object_store::Config {
            bucket: "tp-async-nats".into(),
            storage: async_nats::jetstream::stream::StorageType::Memory,
            ..Default::default()
        })
        .await
        .unwrap();
    for round in 0..3 {
        let start = Instant::now();
        store.put("blob", &mut pattern.reader(size)).await.unwrap();
        let put = start.elapsed();
        let start = Instant::now();
        let mut object = store.get("blob").await.unwrap();
        let n = tokio::io::copy(&mut object, &mut tokio::io::sink())
            .await
            .unwrap();
        let get = start.elapsed();
        assert_eq!(n, size);
        eprintln!(
            "async-nats Memory round {round}: put {:.0} MiB/s, get {:.0} MiB/s",
            64.0 / put.as_secs_f64(),
            64.0 / get.as_secs_f64()
        );
    }
}

#[tokio::test]
async fn puts_are_pipelined_not_one_round_trip_per_chunk() {
    let server = Server::jetstream().start();
    let rtt = Duration::from_millis(25);
    // Everything the server sends arrives `rtt` late: every round trip takes at least that.
    let proxy = FaultProxy::for_server(&server);
    proxy.set_latency(Direction::ServerToClient, rtt);
    let client = nats_core::connect(proxy.url()).await.unwrap();
    let js = jetstream::new(client);
    let store = mem_store(&js, "far").await;
    let data = Pattern::new().bytes(64 * 16 * 1024);
    let meta = ObjectMeta {
        name: "far".into(),
        chunk_size: Some(16 * 1024),
        ..Default::default()
    };
    let start = Instant::now();
    let info = store.put(meta.clone(), &data[..]).await.unwrap();
    let put = start.elapsed();
    assert_eq!(info.chunks, 64);
    // One round trip per chunk would take at least 64 x 25 ms = 1.6 s.
    assert!(put < rtt * 32, "put took {put:?}");
    let start = Instant::now();
    assert_eq!(&store.get_bytes("far").await.unwrap()[..], &data[..]);
    let get = start.elapsed();
    assert!(get < rtt * 32, "get took {get:?}");
    // Replacing (lookup, chunks, meta, purge of the old chunks) is pipelined too.
    let start = Instant::now();
    store.put(meta, &data[..]).await.unwrap();
    let replace = start.elapsed();
    assert!(replace < rtt * 32, "replace took {replace:?}");
    eprintln!("with a {rtt:?} round trip: put {put:?}, get {get:?}, replace {replace:?}");
}

#[tokio::test]
async fn corrupted_and_truncated_objects_are_detected() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let store = mem_store(&js, "corrupt").await;
    let stream = js.stream("OBJ_corrupt").await.unwrap();
    let pattern = Pattern::new();
    let meta = |name: &str| ObjectMeta {
        name: name.into(),
        chunk_size: Some(1024),
        ..Default::default()
    };

    // Replace the second of three chunks by a different payload of the same size.
    let info = store
        .put(meta("a"), &pattern.bytes(3000)[..])
        .await
        .unwrap();
    let subject = format!("$O.corrupt.C.{}", info.nuid);
    let first = stream.get_next_msg_for_subject(&subject, 1).await.unwrap();
    let second = stream
        .get_next_msg_for_subject(&subject, first.sequence + 1)
        .await
        .unwrap();
    stream.delete_msg(second.sequence).await.unwrap();
    js.publish(subject.clone(), vec![0u8; 1024]).await.unwrap();
    let mut object = store.get("a").await.unwrap();
    let mut data = Vec::new();
    let err = object.read_to_end(&mut data).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert_eq!(kind_of(&err), Some(ErrorKind::DigestMismatch));
    // The last chunk of a corrupt object is never handed out.
    assert!(data.len() < 3000);
    assert_eq!(
        store.get_bytes("a").await.unwrap_err().kind(),
        ErrorKind::DigestMismatch
    );

    // A corrupt single-chunk object.
    let info = store.put_string("single", "hello").await.unwrap();
    let subject = format!("$O.corrupt.C.{}", info.nuid);
    let chunk = stream.get_last_msg_for_subject(&subject).await.unwrap();
    stream.delete_msg(chunk.sequence).await.unwrap();
    js.publish(subject, "jello").await.unwrap();
    assert_eq!(
        store.get_string("single").await.unwrap_err().kind(),
        ErrorKind::DigestMismatch
    );

    // A missing chunk in the middle or at the end: an error, never a hang.
    for (name, drop_index) in [("middle", 1usize), ("end", 2)] {
        let info = store
            .put(meta(name), &pattern.bytes(3000)[..])
            .await
            .unwrap();
        let subject = format!("$O.corrupt.C.{}", info.nuid);
        let mut seq = 0;
        for _ in 0..=drop_index {
            seq = stream
                .get_next_msg_for_subject(&subject, seq + 1)
                .await
                .unwrap()
                .sequence;
        }
        stream.delete_msg(seq).await.unwrap();
        let start = Instant::now();
        let result = tokio::time::timeout(Duration::from_secs(20), store.get_bytes(name))
            .await
            .expect("reading a truncated object hung");
        assert_eq!(
            result.unwrap_err().kind(),
            ErrorKind::DigestMismatch,
            "{name}"
        );
        assert!(start.elapsed() < Duration::from_secs(10), "{name}");
    }

    // All chunks gone (purged behind the metadata's back): ObjectNotFound, quickly.
    let info = store
        .put(meta("gone"), &pattern.bytes(3000)[..])
        .await
        .unwrap();
    stream
        .purge()
        .subject(format!("$O.corrupt.C.{}", info.nuid))
        .await
        .unwrap();
    let result = tokio::time::timeout(Duration::from_secs(20), store.get_bytes("gone"))
        .await
        .expect("reading a purged object hung");
    let kind = result.unwrap_err().kind();
    assert!(
        matches!(kind, ErrorKind::DigestMismatch | ErrorKind::ObjectNotFound),
        "{kind:?}"
    );
    // Failed reads delete their consumer too.
    assert_eq!(stream.info().await.unwrap().state.consumer_count, 0);
}

#[tokio::test]
async fn replacing_purges_old_chunks_and_failed_puts_leave_the_old_version() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let store = mem_store(&js, "history").await;
    let stream = js.stream("OBJ_history").await.unwrap();
    let pattern = Pattern::new();
    let meta = ObjectMeta {
        name: "doc".into(),
        chunk_size: Some(1000),
        ..Default::default()
    };
    let v1 = store
        .put(meta.clone(), &pattern.bytes(5000)[..])
        .await
        .unwrap();
    assert_eq!(stream_messages(&js, "history").await, 6);
    let v2 = store.put(meta.clone(), &b"version two"[..]).await.unwrap();
    assert_ne!(v1.nuid, v2.nuid);
    // One chunk and one metadata message: the old chunks and metadata are gone.
    assert_eq!(stream_messages(&js, "history").await, 2);
    let err = stream
        .get_last_msg_for_subject(format!("$O.history.C.{}", v1.nuid))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MessageNotFound);
    assert_eq!(store.get_string("doc").await.unwrap(), "version two");

    // A reader that fails halfway: the partial chunks are purged, v2 is intact.
    let err = store
        .put(meta.clone(), FailingReader { ok_bytes: 4500 })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert_eq!(stream_messages(&js, "history").await, 2);
    assert_eq!(store.get_string("doc").await.unwrap(), "version two");
    assert_eq!(store.info("doc").await.unwrap().nuid, v2.nuid);

    // A put that does not fit the bucket: refused, partial chunks purged, v2 intact.
    let small = js
        .create_object_store(ObjectStoreConfig {
            bucket: "small".into(),
            storage: StorageType::Memory,
            max_bytes: 64 * 1024,
            ..Default::default()
        })
        .await
        .unwrap();
    small.put_string("keep", "me").await.unwrap();
    let before = stream_messages(&js, "small").await;
    let err = small
        .put_bytes("too-big", pattern.bytes(200_000))
        .await
        .unwrap_err();
    assert_ne!(err.kind(), ErrorKind::Io, "{err}");
    assert_eq!(stream_messages(&js, "small").await, before);
    assert_eq!(small.get_string("keep").await.unwrap(), "me");
    assert_eq!(
        small.info("too-big").await.unwrap_err().kind(),
        ErrorKind::ObjectNotFound
    );
}

/// A put to a store whose stream does not listen on its chunk subjects yet (as a store
/// created a moment ago in a cluster, before its interest reached every server) retries its
/// first chunk, alone, and succeeds once the stream listens; one that never does fails with
/// `NoResponders` after the retries, and nothing is stored.
#[tokio::test]
async fn put_retries_its_first_chunk_while_no_stream_listens() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let store = mem_store(&js, "late").await;
    let full = js
        .stream("OBJ_late")
        .await
        .unwrap()
        .cached_info()
        .config
        .clone();
    let mut meta_only = full.clone();
    meta_only.subjects = vec!["$O.late.M.>".into()];
    js.update_stream(meta_only.clone()).await.unwrap();

    // The chunk subjects come back 100 ms into the put: its first chunk found no responder
    // and is sent again 250 ms later (the publish's retry wait).
    let data = Pattern::new().bytes(300_000);
    let restore = {
        let js = js.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            js.update_stream(full).await.unwrap();
        })
    };
    let started = Instant::now();
    let info = tokio::time::timeout(
        Duration::from_secs(10),
        store.put_bytes("obj", data.clone()),
    )
    .await
    .expect("the put is bounded")
    .unwrap();
    let took = started.elapsed();
    restore.await.unwrap();
    assert!(
        took >= Duration::from_millis(250),
        "the first chunk was not retried ({took:?})"
    );
    assert_eq!(info.chunks, 3);
    assert_eq!(&store.get_bytes("obj").await.unwrap()[..], &data[..]);
    assert_eq!(stream_messages(&js, "late").await, 3 + 1);

    // Never listening: the put gives up after its retries (2 x 250 ms), stores nothing, and
    // the object stays absent.
    js.update_stream(meta_only).await.unwrap();
    let started = Instant::now();
    let err = store.put_bytes("never", data).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoResponders, "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(stream_messages(&js, "late").await, 3 + 1);
    assert_eq!(
        store.info("never").await.unwrap_err().kind(),
        ErrorKind::ObjectNotFound
    );
}

#[tokio::test]
async fn delete_keeps_a_tombstone() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let store = mem_store(&js, "del").await;
    let info = store
        .put_bytes("gone", Pattern::new().bytes(300_000))
        .await
        .unwrap();
    store.put_string("stays", "here").await.unwrap();
    assert_eq!(stream_messages(&js, "del").await, 3 + 1 + 2);
    store.delete("gone").await.unwrap();
    // Chunks purged; the tombstone replaced the metadata.
    assert_eq!(stream_messages(&js, "del").await, 1 + 2);
    assert_eq!(
        store.get("gone").await.unwrap_err().kind(),
        ErrorKind::ObjectNotFound
    );
    assert_eq!(
        store.info("gone").await.unwrap_err().kind(),
        ErrorKind::ObjectNotFound
    );
    let tombstone = store.info_with_deleted("gone").await.unwrap();
    assert!(tombstone.deleted);
    assert_eq!((tombstone.size, tombstone.chunks), (0, 0));
    assert_eq!(tombstone.digest, None);
    assert_eq!(tombstone.nuid, info.nuid);
    // Again: fine; a missing object: ObjectNotFound.
    store.delete("gone").await.unwrap();
    assert_eq!(
        store.delete("never").await.unwrap_err().kind(),
        ErrorKind::ObjectNotFound
    );
    // A deleted name can be written again.
    store.put_string("gone", "back").await.unwrap();
    assert_eq!(store.get_string("gone").await.unwrap(), "back");
    assert_eq!(store.get_string("stays").await.unwrap(), "here");
}

#[tokio::test]
async fn update_meta_and_rename() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let store = mem_store(&js, "meta").await;
    let original = store.put_string("config", "data").await.unwrap();

    let mut headers = HeaderMap::new();
    headers.append("X-Kind", "yaml");
    let updated = store
        .update_meta(
            "config",
            ObjectMeta {
                name: "config".into(),
                description: Some("this is a config".into()),
                headers: Some(headers),
                metadata: HashMap::from([("v".to_string(), "2".to_string())]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.description.as_deref(), Some("this is a config"));
    let info = store.info("config").await.unwrap();
    assert_eq!(info.description.as_deref(), Some("this is a config"));
    assert_eq!(info.headers.unwrap().get("X-Kind"), Some("yaml"));
    assert_eq!(info.metadata["v"], "2");
    assert_eq!(
        (info.nuid, info.size, info.digest),
        (original.nuid.clone(), 4, original.digest.clone())
    );

    // Rename: the data follows, the old name is gone (its metadata purged).
    store
        .update_meta(
            "config",
            ObjectMeta {
                name: "config-1".into(),
                description: Some("updated config".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(store.get_string("config-1").await.unwrap(), "data");
    assert_eq!(
        store.info_with_deleted("config").await.unwrap_err().kind(),
        ErrorKind::ObjectNotFound
    );
    assert_eq!(stream_messages(&js, "meta").await, 2);

    // Renaming onto an existing object: ObjectExists; onto a deleted one: fine.
    store.put_string("other", "x").await.unwrap();
    let err = store
        .update_meta("config-1", ObjectMeta::from("other"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ObjectExists);
    store.delete("other").await.unwrap();
    store
        .update_meta("config-1", ObjectMeta::from("other"))
        .await
        .unwrap();
    assert_eq!(store.get_string("other").await.unwrap(), "data");

    // Missing: ObjectNotFound; deleted: ObjectDeleted (Go: ErrUpdateMetaDeleted).
    assert_eq!(
        store
            .update_meta("nope", ObjectMeta::from("x"))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::ObjectNotFound
    );
    store.delete("other").await.unwrap();
    assert_eq!(
        store
            .update_meta("other", ObjectMeta::from("y"))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::ObjectDeleted
    );
}

#[tokio::test]
async fn links_within_and_across_buckets() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let store = mem_store(&js, "main").await;
    let other = mem_store(&js, "other").await;
    let data = Pattern::new().bytes(300_000);
    let target = other.put_bytes("logo.png", data.clone()).await.unwrap();
    let local = store.put_string("readme", "hello").await.unwrap();

    // Object links: across buckets and within one.
    let link = store.add_link("logo", &target).await.unwrap();
    assert!(link.is_link());
    assert_eq!(
        link.link,
        Some(ObjectLink {
            bucket: "other".into(),
            name: Some("logo.png".into())
        })
    );
    assert_eq!((link.size, link.chunks, link.digest.clone()), (0, 0, None));
    assert_eq!(&store.get_bytes("logo").await.unwrap()[..], &data[..]);
    let object = store.get("logo").await.unwrap();
    assert_eq!(object.info().bucket, "other");
    assert_eq!(object.info().name, "logo.png");
    store.add_link("readme-link", &local).await.unwrap();
    assert_eq!(store.get_string("readme-link").await.unwrap(), "hello");
    let stored = store.info("logo").await.unwrap();
    assert_eq!(stored.link, link.link);

    // Bucket links: stored, but have no data.
    let bucket_link = store.add_bucket_link("everything", &other).await.unwrap();
    assert_eq!(
        bucket_link.link,
        Some(ObjectLink {
            bucket: "other".into(),
            name: None
        })
    );
    assert_eq!(
        store.get("everything").await.unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );

    // Refused: links to links, links to deleted objects, a name taken by an object.
    let err = store.add_link("chain", &stored).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let err = store.add_link("chain", &bucket_link).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    other.put_string("temp", "t").await.unwrap();
    other.delete("temp").await.unwrap();
    let deleted = other.info_with_deleted("temp").await.unwrap();
    let err = store.add_link("to-deleted", &deleted).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let err = store.add_link("readme", &target).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ObjectExists);
    let err = store.add_bucket_link("readme", &other).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ObjectExists);
    let err = store
        .add_link("x", &ObjectInfo::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidName);

    // A link may be replaced by another link; its target's deletion makes it dangle.
    store.add_link("logo", &local).await.unwrap();
    assert_eq!(store.get_string("logo").await.unwrap(), "hello");
    store.delete("readme").await.unwrap();
    assert_eq!(
        store.get("logo").await.unwrap_err().kind(),
        ErrorKind::ObjectNotFound
    );
    // Links can be renamed and deleted like objects.
    store
        .update_meta("readme-link", ObjectMeta::from("renamed-link"))
        .await
        .unwrap();
    assert!(store.info("renamed-link").await.unwrap().is_link());
    store.delete("renamed-link").await.unwrap();
}

#[tokio::test]
async fn any_utf8_name_works() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let store = mem_store(&js, "names").await;
    let stream = js.stream("OBJ_names").await.unwrap();
    let long = "n".repeat(1000);
    let names = [
        "BLOB.txt",
        "with space",
        ".*<>:\"/\\|?&",
        "dir/sub/file.tar.gz",
        "ünïcödé 🚀",
        "a.b.c",
        "=",
        ">",
        "*",
        "tab\tand\nnewline",
        long.as_str(),
    ];
    for (i, name) in names.iter().enumerate() {
        store
            .put_string(*name, &format!("content {i}"))
            .await
            .unwrap();
    }
    for (i, name) in names.iter().enumerate() {
        assert_eq!(
            store.get_string(*name).await.unwrap(),
            format!("content {i}"),
            "{name:?}"
        );
        assert_eq!(store.info(*name).await.unwrap().name, *name);
        // The metadata subject is the padded base64url of the name.
        let subject = format!("$O.names.M.{}", URL_SAFE.encode(name));
        stream.get_last_msg_for_subject(&subject).await.unwrap();
    }
    let mut listed: Vec<String> = store
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.name)
        .collect();
    listed.sort();
    let mut expected: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    expected.sort();
    assert_eq!(listed, expected);
    store.delete("with space").await.unwrap();
    store
        .update_meta(".*<>:\"/\\|?&", ObjectMeta::from("ünïcödé renamed"))
        .await
        .unwrap();
    assert_eq!(
        store.get_string("ünïcödé renamed").await.unwrap(),
        "content 2"
    );
}

async fn next_entry(watcher: &mut jetstream::ObjectWatcher) -> Option<ObjectInfo> {
    tokio::time::timeout(Duration::from_secs(10), watcher.next())
        .await
        .expect("watcher timed out")
        .expect("watcher ended")
        .unwrap()
}

async fn assert_quiet(watcher: &mut jetstream::ObjectWatcher) {
    let next = tokio::time::timeout(Duration::from_millis(300), watcher.next()).await;
    assert!(next.is_err(), "unexpected entry: {next:?}");
}

#[tokio::test]
async fn watch_semantics() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let store = mem_store(&js, "watched").await;

    // An empty bucket: the marker comes at once, then updates.
    let mut watcher = store.watch().await.unwrap();
    assert_eq!(next_entry(&mut watcher).await, None);
    store.put_string("config-1", "first config").await.unwrap();
    let entry = next_entry(&mut watcher).await.unwrap();
    assert_eq!((entry.name.as_str(), entry.size), ("config-1", 12));
    assert_eq!(entry.bucket, "watched");
    assert!(entry.modified > jiff::Timestamp::UNIX_EPOCH);

    // Current values first (latest per object), one marker, then updates in order.
    store
        .put_string("config-1", "first config v2")
        .await
        .unwrap();
    store.put_string("config-2", "second").await.unwrap();
    store.put_string("config-3", "third").await.unwrap();
    store.delete("config-3").await.unwrap();
    let mut watcher = store.watch().await.unwrap();
    let mut initial = Vec::new();
    while let Some(info) = next_entry(&mut watcher).await {
        initial.push((info.name, info.size, info.deleted));
    }
    initial.sort();
    assert_eq!(
        initial,
        [
            ("config-1".to_string(), 15, false),
            ("config-2".to_string(), 6, false),
            ("config-3".to_string(), 0, true)
        ]
    );
    assert_quiet(&mut watcher).await;
    store.put_string("config-4", "fourth").await.unwrap();
    store
        .update_meta(
            "config-1",
            ObjectMeta {
                name: "config-1".into(),
                description: Some("updated config".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    store.delete("config-2").await.unwrap();
    let e = next_entry(&mut watcher).await.unwrap();
    assert_eq!(e.name, "config-4");
    let e = next_entry(&mut watcher).await.unwrap();
    assert_eq!(
        (e.name.as_str(), e.description.as_deref()),
        ("config-1", Some("updated config"))
    );
    let e = next_entry(&mut watcher).await.unwrap();
    assert_eq!((e.name.as_str(), e.deleted), ("config-2", true));

    // ignore_deletes: tombstones are skipped, the marker still comes.
    let mut watcher = store.watch().ignore_deletes().await.unwrap();
    let mut names = Vec::new();
    while let Some(info) = next_entry(&mut watcher).await {
        names.push(info.name);
    }
    names.sort();
    assert_eq!(names, ["config-1", "config-4"]);

    // include_history: every stored metadata version (rollups keep one per name).
    let mut watcher = store.watch().include_history().await.unwrap();
    let mut count = 0;
    while next_entry(&mut watcher).await.is_some() {
        count += 1;
    }
    assert_eq!(count, 4);

    // updates_only: no initial values, no marker.
    let mut watcher = store.watch().updates_only().await.unwrap();
    assert_quiet(&mut watcher).await;
    store.put_string("config-5", "fifth").await.unwrap();
    assert_eq!(next_entry(&mut watcher).await.unwrap().name, "config-5");

    // Both: refused, as KV refuses it.
    let err = store
        .watch()
        .include_history()
        .updates_only()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);

    // A bucket whose only metadata was removed: still exactly one marker.
    let empty = mem_store(&js, "emptied").await;
    empty.put_string("x", "1").await.unwrap();
    empty.update_meta("x", ObjectMeta::from("y")).await.unwrap();
    let mut watcher = empty.watch().ignore_deletes().await.unwrap();
    assert_eq!(next_entry(&mut watcher).await.unwrap().name, "y");
    assert_eq!(next_entry(&mut watcher).await, None);
    assert_quiet(&mut watcher).await;
}

#[tokio::test]
async fn list_skips_deleted_objects() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let store = mem_store(&js, "listed").await;
    assert_eq!(store.list().await.unwrap(), Vec::<ObjectInfo>::new());
    for i in 1..=3 {
        store
            .put_string(format!("config-{i}"), "cfg")
            .await
            .unwrap();
    }
    store.delete("config-2").await.unwrap();
    let mut names: Vec<String> = store
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.name)
        .collect();
    names.sort();
    assert_eq!(names, ["config-1", "config-3"]);
    // list cleans up its consumer.
    let stream = js.stream("OBJ_listed").await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.consumer_count, 0);
}

#[tokio::test]
async fn status_and_seal() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let store = js
        .create_object_store(ObjectStoreConfig {
            bucket: "sealed".into(),
            description: Some("soon read only".into()),
            ttl: Some(Duration::from_secs(600)),
            storage: StorageType::Memory,
            compression: true,
            metadata: HashMap::from([("team".to_string(), "infra".to_string())]),
            ..Default::default()
        })
        .await
        .unwrap();
    store.put_string("config-1", "cfg1").await.unwrap();
    store.put_string("config-2", "cfg2").await.unwrap();
    let status = store.status().await.unwrap();
    assert_eq!(status.bucket(), "sealed");
    assert_eq!(status.description(), Some("soon read only"));
    assert_eq!(status.ttl(), Duration::from_secs(600));
    assert_eq!(status.storage(), StorageType::Memory);
    assert_eq!(status.replicas(), 1);
    assert!(!status.sealed());
    assert!(status.size() > 8);
    assert_eq!(status.backing_store(), "JetStream");
    assert_eq!(
        status.metadata().get("team").map(String::as_str),
        Some("infra")
    );
    assert!(status.is_compressed());
    assert_eq!(status.info().state.messages, 4);

    store.seal().await.unwrap();
    assert!(store.status().await.unwrap().sealed());
    // Writes fail; reads work.
    let kinds = [
        store
            .put_string("config-3", "x")
            .await
            .err()
            .map(|e| e.kind()),
        store
            .put_string("config-1", "x")
            .await
            .err()
            .map(|e| e.kind()),
        store.delete("config-1").await.err().map(|e| e.kind()),
        store
            .update_meta("config-1", ObjectMeta::from("renamed"))
            .await
            .err()
            .map(|e| e.kind()),
        store
            .add_bucket_link("link", &store)
            .await
            .err()
            .map(|e| e.kind()),
    ];
    for kind in kinds {
        assert_eq!(kind, Some(ErrorKind::BucketSealed));
    }
    assert_eq!(store.get_string("config-1").await.unwrap(), "cfg1");
    assert_eq!(store.list().await.unwrap().len(), 2);
    // Another handle sees it sealed too.
    let again = js.object_store("sealed").await.unwrap();
    assert_eq!(
        again.put_string("y", "y").await.unwrap_err().kind(),
        ErrorKind::BucketSealed
    );
}

#[tokio::test]
async fn a_get_interrupted_by_a_server_restart_resumes_or_fails_cleanly() {
    let mut server = Server::jetstream().start();
    let js = connect(&server).await;
    let store = js
        .create_object_store(ObjectStoreConfig {
            bucket: "restart".into(),
            storage: StorageType::File,
            ..Default::default()
        })
        .await
        .unwrap();
    let pattern = Pattern::new();
    let size = 32u64 << 20;
    store.put("big", pattern.reader(size)).await.unwrap();

    let mut object = store.get("big").await.unwrap();
    let mut head = vec![0u8; 1 << 20];
    object.read_exact(&mut head).await.unwrap();
    assert!(pattern.matches(0, &head));
    server.restart();
    let start = Instant::now();
    let rest = tokio::time::timeout(Duration::from_secs(60), async {
        let mut buf = vec![0u8; 256 * 1024];
        let mut offset = head.len() as u64;
        loop {
            let n = object.read(&mut buf).await?;
            if n == 0 {
                return Ok::<u64, io::Error>(offset);
            }
            assert!(pattern.matches(offset, &buf[..n]), "wrong data at {offset}");
            offset += n as u64;
        }
    })
    .await
    .expect("a read across a server restart hung");
    eprintln!("read after restart: {rest:?} in {:?}", start.elapsed());
    match rest {
        // File storage survives the restart: the ordered consumer resumes.
        Ok(total) => assert_eq!(total, size),
        Err(e) => panic!("the read failed instead of resuming: {e}"),
    }

    // A memory bucket loses its data on restart: the read fails, without hanging.
    let mem = mem_store(&js, "volatile").await;
    mem.put("big", pattern.reader(size)).await.unwrap();
    let mut object = mem.get("big").await.unwrap();
    object.read_exact(&mut head).await.unwrap();
    server.restart();
    let result = tokio::time::timeout(Duration::from_secs(60), async {
        let mut sink = Vec::new();
        object.read_to_end(&mut sink).await
    })
    .await
    .expect("a read of a lost memory bucket hung");
    let err = result.unwrap_err();
    eprintln!("memory bucket after restart: {err}");
}

#[tokio::test]
async fn deleting_an_object_while_it_is_read_fails_the_read_cleanly() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let store = mem_store(&js, "racing").await;
    let pattern = Pattern::new();
    let size = 32u64 << 20;
    store.put("big", pattern.reader(size)).await.unwrap();
    let mut object = store.get("big").await.unwrap();
    let mut head = vec![0u8; 1 << 20];
    object.read_exact(&mut head).await.unwrap();
    store.delete("big").await.unwrap();
    let start = Instant::now();
    let result = tokio::time::timeout(
        Duration::from_secs(30),
        read_and_check(&mut object, &pattern, 1 << 20),
    )
    .await
    .expect("reading a deleted object hung");
    let err = result.unwrap_err();
    assert_eq!(kind_of(&err), Some(ErrorKind::ObjectNotFound), "{err}");
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    assert!(start.elapsed() < Duration::from_secs(15));

    // Replaced while being read: the same.
    store.put("big", pattern.reader(size)).await.unwrap();
    let mut object = store.get("big").await.unwrap();
    object.read_exact(&mut head).await.unwrap();
    store.put_string("big", "small now").await.unwrap();
    let result = tokio::time::timeout(
        Duration::from_secs(30),
        read_and_check(&mut object, &pattern, 1 << 20),
    )
    .await
    .expect("reading a replaced object hung");
    assert_eq!(
        kind_of(&result.unwrap_err()),
        Some(ErrorKind::ObjectNotFound)
    );
}

#[tokio::test]
async fn interoperates_with_async_nats() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let theirs_client = async_nats::connect(server.url()).await.unwrap();
    let theirs_js = async_nats::jetstream::new(theirs_client);
    let pattern = Pattern::new();
    let big = pattern.bytes(1_000_000);

    // Written by async-nats, read by us.
    let theirs = theirs_js
        .create_object_store(async_nats::jetstream::object_store::Config {
            bucket: "theirs".into(),
            storage: async_nats::jetstream::stream::StorageType::Memory,
            ..Default::default()
        })
        .await
        .unwrap();
    theirs.put("big.bin", &mut &big[..]).await.unwrap();
    theirs
        .put("small", &mut &b"from async-nats"[..])
        .await
        .unwrap();
    theirs
        .put("name with spaces/ü", &mut &b"odd"[..])
        .await
        .unwrap();
    let their_info = theirs.info("big.bin").await.unwrap();

    let store = js.object_store("theirs").await.unwrap();
    let info = store.info("big.bin").await.unwrap();
    assert_eq!(info.size, 1_000_000);
    assert_eq!(info.chunks as usize, their_info.chunks);
    assert_eq!(info.digest, their_info.digest);
    assert_eq!(&store.get_bytes("big.bin").await.unwrap()[..], &big[..]);
    assert_eq!(store.get_string("small").await.unwrap(), "from async-nats");
    assert_eq!(store.get_string("name with spaces/ü").await.unwrap(), "odd");
    let mut names: Vec<String> = store
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.name)
        .collect();
    names.sort();
    assert_eq!(names, ["big.bin", "name with spaces/ü", "small"]);
    theirs.delete("small").await.unwrap();
    assert_eq!(
        store.get("small").await.unwrap_err().kind(),
        ErrorKind::ObjectNotFound
    );
    // Our put over their object: they read ours, and the old chunks are purged.
    store.put_string("big.bin", "replaced by us").await.unwrap();
    let mut object = theirs.get("big.bin").await.unwrap();
    let mut text = String::new();
    object.read_to_string(&mut text).await.unwrap();
    assert_eq!(text, "replaced by us");

    // Written by us, read by async-nats.
    let ours = mem_store(&js, "ours").await;
    let mut headers = HeaderMap::new();
    headers.append("X-Source", "jetstream");
    let info = ours
        .put(
            ObjectMeta {
                name: "big.bin".into(),
                description: Some("ours".into()),
                headers: Some(headers),
                metadata: HashMap::from([("k".to_string(), "v".to_string())]),
                chunk_size: Some(64 * 1024),
            },
            &big[..],
        )
        .await
        .unwrap();
    ours.put_string("small", "from us").await.unwrap();
    ours.add_link("small-link", &ours.info("small").await.unwrap())
        .await
        .unwrap();
    let theirs_view = theirs_js.get_object_store("ours").await.unwrap();
    let their_info = theirs_view.info("big.bin").await.unwrap();
    assert_eq!(their_info.size, 1_000_000);
    assert_eq!(their_info.chunks, info.chunks as usize);
    assert_eq!(their_info.digest, info.digest);
    assert_eq!(their_info.description.as_deref(), Some("ours"));
    assert_eq!(their_info.metadata.get("k").map(String::as_str), Some("v"));
    let mut object = theirs_view.get("big.bin").await.unwrap();
    let mut data = Vec::new();
    object.read_to_end(&mut data).await.unwrap();
    assert_eq!(data, big);
    for name in ["small", "small-link"] {
        let mut object = theirs_view.get(name).await.unwrap();
        let mut text = String::new();
        object.read_to_string(&mut text).await.unwrap();
        assert_eq!(text, "from us", "{name}");
    }
    // Our tombstones are tombstones to them.
    ours.delete("small").await.unwrap();
    assert!(theirs_view.get("small").await.is_err());
}
