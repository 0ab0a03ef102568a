//! Fault paths of store handles and acks (issue 13, section 3): a bucket or stream deleted
//! behind a live KV, object-store or stream handle says so (not "JetStream not enabled"),
//! object-store watches and listings are bounded, and `double_ack` does not wait once the
//! connection its message came on is gone.

use std::future::{Future, IntoFuture};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use jetstream::{
    ConsumerConfig, ErrorKind, JetStream, JetStreamOptions, KeyValueConfig, ObjectStoreConfig,
    StorageType, StreamConfig,
};
use nats_testkit::Server;

/// What one call may take here: a write to a missing stream retries its publish (0.5 s)
/// before it asks the server about the stream.
const CALL_BOUND: Duration = Duration::from_secs(3);

async fn connect(server: &Server) -> JetStream {
    jetstream::new(nats_core::connect(server.url()).await.unwrap())
}

/// Runs `call` and returns its error kind, failing if it succeeds or takes longer than
/// [`CALL_BOUND`].
async fn kind_of<T, F>(what: &str, call: F) -> ErrorKind
where
    F: Future<Output = Result<T, jetstream::Error>>,
{
    let started = Instant::now();
    let result = tokio::time::timeout(CALL_BOUND * 3, call)
        .await
        .unwrap_or_else(|_| panic!("{what}: still waiting after {:?}", CALL_BOUND * 3));
    let took = started.elapsed();
    let err = match result {
        Ok(_) => panic!("{what}: succeeded"),
        Err(e) => e,
    };
    assert!(took < CALL_BOUND, "{what}: took {took:?} ({err})");
    err.kind()
}

#[tokio::test]
async fn kv_calls_on_a_deleted_bucket_say_bucket_not_found() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let kv = js
        .create_key_value(KeyValueConfig {
            bucket: "gone".into(),
            storage: StorageType::Memory,
            history: 3,
            ..Default::default()
        })
        .await
        .unwrap();
    let revision = kv.put("k", "v").await.unwrap();
    let mut live = kv.watch_all().await.unwrap();
    assert_eq!(live.next().await.unwrap().unwrap().unwrap().key(), "k");
    assert!(live.next().await.unwrap().unwrap().is_none());

    js.delete_key_value("gone").await.unwrap();

    let expected = ErrorKind::BucketNotFound;
    assert_eq!(kind_of("get", kv.get("k")).await, expected);
    assert_eq!(
        kind_of("get_revision", kv.get_revision("k", revision)).await,
        expected
    );
    assert_eq!(kind_of("put", kv.put("k", "v2")).await, expected);
    assert_eq!(kind_of("create", kv.create("new", "v")).await, expected);
    assert_eq!(
        kind_of("update", kv.update("k", "v3", revision)).await,
        expected
    );
    assert_eq!(
        kind_of("delete", kv.delete("k").into_future()).await,
        expected
    );
    assert_eq!(
        kind_of("purge", kv.purge("k").into_future()).await,
        expected
    );
    assert_eq!(kind_of("keys", kv.keys()).await, expected);
    assert_eq!(kind_of("history", kv.history("k")).await, expected);
    assert_eq!(
        kind_of("watch", kv.watch("k").into_future()).await,
        expected
    );
    // The watcher that was running reports it as its last item.
    let last = tokio::time::timeout(CALL_BOUND * 3, live.next())
        .await
        .expect("the live watcher said nothing");
    assert_eq!(last.unwrap().unwrap_err().kind(), expected);
    let end = tokio::time::timeout(CALL_BOUND, live.next()).await;
    assert!(matches!(end, Ok(None)), "the watcher did not end");
}

#[tokio::test]
async fn object_store_calls_on_a_deleted_bucket_say_bucket_not_found() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let store = js
        .create_object_store(ObjectStoreConfig {
            bucket: "gone".into(),
            storage: StorageType::Memory,
            ..Default::default()
        })
        .await
        .unwrap();
    store.put_string("doc", "hello").await.unwrap();
    let mut live = store.watch().await.unwrap();
    assert_eq!(live.next().await.unwrap().unwrap().unwrap().name, "doc");
    assert!(live.next().await.unwrap().unwrap().is_none());

    js.delete_object_store("gone").await.unwrap();

    let expected = ErrorKind::BucketNotFound;
    assert_eq!(
        kind_of("put", store.put_string("new", "data")).await,
        expected
    );
    assert_eq!(kind_of("get", store.get("doc")).await, expected);
    assert_eq!(kind_of("get_bytes", store.get_bytes("doc")).await, expected);
    assert_eq!(kind_of("info", store.info("doc")).await, expected);
    assert_eq!(kind_of("delete", store.delete("doc")).await, expected);
    assert_eq!(kind_of("list", store.list()).await, expected);
    assert_eq!(
        kind_of("watch", store.watch().into_future()).await,
        expected
    );
    let last = tokio::time::timeout(CALL_BOUND * 3, live.next())
        .await
        .expect("the live watcher said nothing");
    assert_eq!(last.unwrap().unwrap_err().kind(), expected);
    let end = tokio::time::timeout(CALL_BOUND, live.next()).await;
    assert!(matches!(end, Ok(None)), "the watcher did not end");
}

#[tokio::test]
async fn message_gets_on_a_deleted_stream_say_stream_not_found() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let mut handles = Vec::new();
    for (name, allow_direct) in [("DIRECT", true), ("LEADER", false)] {
        let stream = js
            .create_stream(StreamConfig {
                name: name.into(),
                subjects: vec![format!("{name}.>")],
                storage: StorageType::Memory,
                allow_direct,
                ..Default::default()
            })
            .await
            .unwrap();
        js.publish(format!("{name}.a"), "1").await.unwrap();
        handles.push((name, stream));
    }
    for (name, _) in &handles {
        js.delete_stream(name).await.unwrap();
    }
    for (name, stream) in &handles {
        let subject = format!("{name}.a");
        let expected = ErrorKind::StreamNotFound;
        assert_eq!(kind_of(name, stream.get_msg(1)).await, expected);
        assert_eq!(
            kind_of(name, stream.get_last_msg_for_subject(&subject)).await,
            expected
        );
        assert_eq!(
            kind_of(name, stream.get_last_msg_for_subject(format!("{name}.*"))).await,
            expected
        );
        assert_eq!(
            kind_of(name, stream.get_next_msg_for_subject(&subject, 1)).await,
            expected
        );
    }
}

#[tokio::test]
async fn a_get_after_direct_gets_were_turned_off_reads_through_the_leader() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let config = StreamConfig {
        name: "S".into(),
        subjects: vec!["s.>".into()],
        storage: StorageType::Memory,
        allow_direct: true,
        ..Default::default()
    };
    let stream = js.create_stream(config.clone()).await.unwrap();
    js.publish("s.a", "one").await.unwrap();
    // Another handle turns direct gets off; this one still believes they are on.
    js.update_stream(StreamConfig {
        allow_direct: false,
        ..config
    })
    .await
    .unwrap();
    assert!(stream.cached_info().config.allow_direct);
    assert_eq!(&stream.get_msg(1).await.unwrap().payload[..], b"one");
    let last = stream.get_last_msg_for_subject("s.a").await.unwrap();
    assert_eq!(last.sequence, 1);
    assert_eq!(
        stream.get_msg(2).await.unwrap_err().kind(),
        ErrorKind::MessageNotFound
    );
}

#[tokio::test]
async fn a_kv_get_after_direct_gets_were_turned_off_reads_through_the_leader() {
    let server = Server::jetstream().start();
    let js = connect(&server).await;
    let kv = js
        .create_key_value(KeyValueConfig {
            bucket: "B".into(),
            storage: StorageType::Memory,
            ..Default::default()
        })
        .await
        .unwrap();
    kv.put("k", "one").await.unwrap();
    assert_eq!(kv.get("k").await.unwrap().value().as_ref(), b"one");
    // Another handle turns direct gets off; this one still believes they are on.
    let mut config = js
        .stream("KV_B")
        .await
        .unwrap()
        .cached_info()
        .config
        .clone();
    assert!(config.allow_direct);
    config.allow_direct = false;
    js.update_stream(config).await.unwrap();
    let entry = kv.get("k").await.unwrap();
    assert_eq!(entry.value().as_ref(), b"one");
    assert_eq!(entry.revision(), 1);
    assert_eq!(
        kv.get("nothing").await.unwrap_err().kind(),
        ErrorKind::KeyNotFound
    );
}

/// A user who may read the bucket's stream info but not create consumers: every consumer
/// create request is refused with a permissions error (an `-ERR`, no reply).
const NO_CONSUMERS: &str = r#"
authorization {
  users = [
    { user: admin, password: admin }
    { user: reader, password: reader, permissions: { publish: { deny: ["$JS.API.CONSUMER.>", "orders.secret"] } } }
  ]
}
"#;

#[tokio::test]
async fn object_watch_and_list_fail_at_once_when_no_consumer_may_be_made() {
    let server = Server::jetstream().config(NO_CONSUMERS).start();
    let admin = jetstream::new(
        nats_core::connect(server.client_url_with("admin:admin"))
            .await
            .unwrap(),
    );
    admin
        .create_object_store(ObjectStoreConfig {
            bucket: "b".into(),
            storage: StorageType::Memory,
            ..Default::default()
        })
        .await
        .unwrap()
        .put_string("doc", "data")
        .await
        .unwrap();
    let timeout = Duration::from_millis(500);
    let reader = jetstream::with_options(
        nats_core::connect(server.client_url_with("reader:reader"))
            .await
            .unwrap(),
        JetStreamOptions {
            timeout,
            ..Default::default()
        },
    );
    let store = reader.object_store("b").await.unwrap();
    // Documented bound: twice the context's timeout for the watcher's consumer.
    let bound = timeout * 2;
    for what in ["list", "watch"] {
        let started = Instant::now();
        let call = async {
            match what {
                "list" => store.list().await.map(|_| ()),
                _ => store.watch().await.map(|_| ()),
            }
        };
        let result = tokio::time::timeout(Duration::from_secs(10), call)
            .await
            .unwrap_or_else(|_| panic!("{what}: no answer within 10 s"));
        let took = started.elapsed();
        // The refused consumer create is a final error: surfaced at once, not
        // retried until the bound (a server that does not answer at all is the
        // fault matrix's freeze and stall columns).
        assert_eq!(
            result.unwrap_err().kind(),
            ErrorKind::PermissionDenied,
            "{what}"
        );
        assert!(took < bound, "{what} took {took:?}");
    }
}

#[tokio::test]
async fn double_ack_fails_at_once_once_the_delivery_connection_is_lost() {
    let mut server = Server::jetstream().start();
    let client = nats_core::connect(server.url()).await.unwrap();
    // A long context timeout: each double ack would hold the handler this long.
    let js = jetstream::with_options(
        client.clone(),
        JetStreamOptions {
            timeout: Duration::from_secs(3),
            ..Default::default()
        },
    );
    let stream = js
        .create_stream(StreamConfig {
            name: "S".into(),
            subjects: vec!["s".into()],
            storage: StorageType::File,
            ..Default::default()
        })
        .await
        .unwrap();
    for i in 0..4 {
        js.publish("s", format!("{i}")).await.unwrap();
    }
    let consumer = stream
        .create_consumer(ConsumerConfig {
            durable_name: Some("worker".into()),
            ack_wait: Duration::from_secs(1),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut batch = consumer.fetch(4).await.unwrap();
    let mut msgs = Vec::new();
    while let Some(m) = batch.next().await {
        msgs.push(m.unwrap());
    }
    assert_eq!(msgs.len(), 4);
    // Proves the double ack works while the connection is up.
    let first = msgs.remove(0);
    first.double_ack().await.unwrap();

    // The server crashes: a handler working through the backlog must not wait per message.
    server.stop();
    wait_for_state(&client, nats_core::State::Disconnected).await;
    let started = Instant::now();
    for m in &msgs[..2] {
        let err = m.double_ack().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionClosed, "{err}");
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(500),
        "two double acks took {took:?}"
    );

    // Back again: the deliveries of the lost connection still fail at once ...
    server.start();
    wait_for_state(&client, nats_core::State::Connected).await;
    let started = Instant::now();
    let err = msgs[2].double_ack().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionClosed, "{err}");
    assert!(started.elapsed() < Duration::from_millis(500));
    // ... and were not marked acknowledged: a redelivery on the new connection acks.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut acked = std::collections::BTreeSet::new();
    // (The crash may have lost the ack of message 1 too: it may come again.)
    while !(2..=4).all(|seq| acked.contains(&seq)) {
        assert!(Instant::now() < deadline, "only {acked:?} redelivered");
        let Ok(m) = consumer.next().await else {
            continue;
        };
        m.double_ack().await.unwrap();
        acked.insert(m.metadata().unwrap().sequence.stream);
    }
}

async fn wait_for_state(client: &nats_core::Client, state: nats_core::State) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.connection_state() != state {
        assert!(Instant::now() < deadline, "never {state}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A refused publish or API request says `PermissionDenied` at once (the core client matches
/// the server's `-ERR 'Permissions Violation ...'` to the waiting request), not `Timeout`
/// after the context's timeout; the connection stays usable.
#[tokio::test]
async fn refused_publishes_and_api_requests_say_permission_denied() {
    let server = Server::jetstream().config(NO_CONSUMERS).start();
    let admin = jetstream::new(
        nats_core::connect(server.client_url_with("admin:admin"))
            .await
            .unwrap(),
    );
    let stream = admin
        .create_stream(StreamConfig {
            name: "ORDERS".into(),
            subjects: vec!["orders.>".into()],
            storage: StorageType::Memory,
            ..Default::default()
        })
        .await
        .unwrap();
    let reader = jetstream::with_options(
        nats_core::connect(server.client_url_with("reader:reader"))
            .await
            .unwrap(),
        JetStreamOptions {
            timeout: Duration::from_secs(5),
            ..Default::default()
        },
    );
    let reader_stream = reader.stream("ORDERS").await.unwrap();
    assert_eq!(
        kind_of(
            "publish",
            reader.publish("orders.secret", "x").into_future()
        )
        .await,
        ErrorKind::PermissionDenied
    );
    assert_eq!(
        kind_of(
            "create_consumer",
            reader_stream.create_consumer(ConsumerConfig {
                durable_name: Some("d".into()),
                ..Default::default()
            })
        )
        .await,
        ErrorKind::PermissionDenied
    );
    // Still usable: an allowed publish is stored.
    let ack = reader.publish("orders.open", "y").await.unwrap();
    assert_eq!(ack.sequence, 1);
    assert_eq!(stream.info().await.unwrap().state.messages, 1);
}
