//! Stream management: create/update/delete, handles and cached info, listing and paging,
//! purge, message get/delete, domains, clusters, JetStream not enabled, config round trip.

use std::collections::{HashMap, HashSet};
use std::future::IntoFuture;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use jetstream::{
    Compression, ConsumerLimits, DiscardPolicy, ErrorCode, ErrorKind, JetStream, JetStreamOptions,
    PersistMode, RePublish, RetentionPolicy, StorageType, StreamConfig, SubjectTransform,
};
use nats_core::{Client, HeaderMap};
use nats_testkit::Server;
use serde_json::{json, Value};

/// Connects to `url` and returns the core client and a default JetStream context.
pub(crate) async fn connect(url: impl AsRef<str>) -> (Client, JetStream) {
    let client = nats_core::connect(url.as_ref()).await.unwrap();
    let js = jetstream::new(client.clone());
    (client, js)
}

/// A memory stream named `name` capturing `subjects`.
pub(crate) fn mem_stream(name: &str, subjects: &[&str]) -> StreamConfig {
    StreamConfig {
        name: name.to_string(),
        subjects: subjects.iter().map(|s| s.to_string()).collect(),
        storage: StorageType::Memory,
        ..Default::default()
    }
}

/// Publishes through core request/reply and checks the stream stored it (no dependency on
/// the crate's publish API). Returns the stream sequence.
pub(crate) async fn store(client: &Client, subject: &str, payload: &'static str) -> u64 {
    store_with_headers(client, subject, None, payload).await
}

pub(crate) async fn store_with_headers(
    client: &Client,
    subject: &str,
    headers: Option<HeaderMap>,
    payload: &'static str,
) -> u64 {
    // A replicated stream may still be electing its leader right after it was
    // created: no responders then. Retry for a while.
    let start = std::time::Instant::now();
    let reply = loop {
        let reply = match headers.clone() {
            Some(h) => client.request_with_headers(subject, h, payload).await,
            None => client.request(subject, payload).await,
        };
        match reply {
            Err(e)
                if e.kind() == nats_core::ErrorKind::NoResponders
                    && start.elapsed() < std::time::Duration::from_secs(10) =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            other => break other.unwrap(),
        }
    };
    let ack: Value = serde_json::from_slice(&reply.payload).unwrap();
    assert!(ack.get("error").is_none(), "publish failed: {ack}");
    ack["seq"].as_u64().unwrap()
}

#[tokio::test]
async fn create_stream_is_idempotent_and_a_different_config_is_name_in_use() {
    let server = Server::jetstream().start();
    let (_client, js) = connect(server.url()).await;
    let config = mem_stream("ORDERS", &["orders.>"]);
    let stream = js.create_stream(config.clone()).await.unwrap();
    assert_eq!(stream.name(), "ORDERS");
    assert_eq!(stream.cached_info().config.subjects, ["orders.>"]);
    assert_eq!(stream.cached_info().config.storage, StorageType::Memory);

    // The same config again: the server treats it as a no-op.
    let again = js.create_stream(config.clone()).await.unwrap();
    assert_eq!(again.cached_info().created, stream.cached_info().created);

    // Another config under the same name.
    let err = js
        .create_stream(mem_stream("ORDERS", &["other.>"]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StreamNameInUse);
    assert_eq!(
        err.api_error().unwrap().err_code,
        ErrorCode::STREAM_NAME_IN_USE
    );

    // Overlapping subjects of another stream are a configuration error.
    let err = js
        .create_stream(mem_stream("OTHER", &["orders.new"]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig);
}

#[tokio::test]
async fn update_and_create_or_update() {
    let server = Server::jetstream().start();
    let (_client, js) = connect(server.url()).await;

    let err = js.update_stream(mem_stream("S", &["s"])).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StreamNotFound);

    // create_or_update creates a missing stream...
    let created = js
        .create_or_update_stream(mem_stream("S", &["s"]))
        .await
        .unwrap();
    assert_eq!(created.cached_info().config.max_msgs, -1);

    // ...and updates an existing one.
    let mut config = created.cached_info().config.clone();
    config.max_msgs = 100;
    config.description = Some("updated".into());
    let updated = js.create_or_update_stream(config.clone()).await.unwrap();
    assert_eq!(updated.cached_info().config.max_msgs, 100);

    config.subjects.push("t".into());
    let updated = js.update_stream(config.clone()).await.unwrap();
    assert_eq!(updated.cached_info().config.subjects, ["s", "t"]);
    assert_eq!(
        updated.cached_info().config.description.as_deref(),
        Some("updated")
    );

    // Storage can not change.
    config.storage = StorageType::File;
    let err = js.update_stream(config).await.unwrap_err();
    assert!(err.api_error().is_some(), "{err:?}");
}

#[tokio::test]
async fn stream_handle_info_refreshes_the_shared_cache() {
    let server = Server::jetstream().start();
    let (client, js) = connect(server.url()).await;

    let err = js.stream("MISSING").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StreamNotFound);
    assert_eq!(err.api_error().unwrap().err_code.0, 10059);

    js.create_stream(mem_stream("S", &["s.>"])).await.unwrap();
    let stream = js.stream("S").await.unwrap();
    let clone = stream.clone();
    assert_eq!(stream.cached_info().state.messages, 0);

    store(&client, "s.a", "1").await;
    store(&client, "s.b", "2").await;
    // The cache is not refreshed by itself.
    assert_eq!(stream.cached_info().state.messages, 0);
    let info = clone.info().await.unwrap();
    assert_eq!(info.state.messages, 2);
    assert_eq!(info.state.last_seq, 2);
    // The clone refreshed the cache of the original too.
    assert_eq!(stream.cached_info().state.messages, 2);
    assert_eq!(stream.context().api_prefix(), "$JS.API");
}

#[tokio::test]
async fn info_with_subjects_filter_and_deleted_details() {
    let server = Server::jetstream().start();
    let (client, js) = connect(server.url()).await;
    let stream = js.create_stream(mem_stream("S", &["s.>"])).await.unwrap();
    for subject in ["s.a", "s.a", "s.b", "s.c.x", "s.c.y"] {
        store(&client, subject, "x").await;
    }
    stream.delete_msg(2).await.unwrap();

    let info = stream
        .info_with()
        .subjects_filter("s.>")
        .deleted_details(true)
        .await
        .unwrap();
    let expected: HashMap<String, u64> = [("s.a", 1), ("s.b", 1), ("s.c.x", 1), ("s.c.y", 1)]
        .into_iter()
        .map(|(s, n)| (s.to_string(), n))
        .collect();
    assert_eq!(info.state.subjects, expected);
    assert_eq!(info.state.deleted, [2]);
    assert_eq!(stream.cached_info().state.deleted, [2]);

    let info = stream.info_with().subjects_filter("s.c.*").await.unwrap();
    assert_eq!(info.state.subjects.len(), 2);
    assert!(info.state.deleted.is_empty());

    // A plain info has neither.
    let info = stream.info().await.unwrap();
    assert!(info.state.subjects.is_empty());
    assert!(info.state.deleted.is_empty());
    assert_eq!(info.state.num_deleted, 1);

    let err = stream
        .info_with()
        .subjects_filter("s..x")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidSubject);
}

#[tokio::test]
async fn delete_stream() {
    let server = Server::jetstream().start();
    let (_client, js) = connect(server.url()).await;
    js.create_stream(mem_stream("S", &["s"])).await.unwrap();
    js.delete_stream("S").await.unwrap();
    assert_eq!(
        js.stream("S").await.unwrap_err().kind(),
        ErrorKind::StreamNotFound
    );
    assert_eq!(
        js.delete_stream("S").await.unwrap_err().kind(),
        ErrorKind::StreamNotFound
    );
    // String and &String names work too.
    js.create_stream(mem_stream("S", &["s"])).await.unwrap();
    let name = String::from("S");
    js.stream(&name).await.unwrap();
    js.delete_stream(name).await.unwrap();
}

#[tokio::test]
async fn invalid_input_is_refused_before_sending() {
    // A server without JetStream: anything sent would fail with JetStreamNotEnabled.
    let server = Server::new().start();
    let (_client, js) = connect(server.url()).await;

    for name in ["", "a.b", "a b", "a*", "a>", "a/b"] {
        let err = js
            .create_stream(mem_stream(name, &["x"]))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidName, "{name:?}");
        assert_eq!(
            js.stream(name).await.unwrap_err().kind(),
            ErrorKind::InvalidName
        );
        assert_eq!(
            js.delete_stream(name).await.unwrap_err().kind(),
            ErrorKind::InvalidName
        );
        assert_eq!(
            js.update_stream(mem_stream(name, &["x"]))
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidName
        );
    }
    for subject in ["", "a..b", "a b", ">.a", "a."] {
        let err = js
            .create_stream(mem_stream("S", &[subject]))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidSubject, "{subject:?}");
        let err = js.stream_name_by_subject(subject).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidSubject, "{subject:?}");
        let mut names = js.stream_names().subject(subject);
        let first = names.next().await.unwrap().unwrap_err();
        assert_eq!(first.kind(), ErrorKind::InvalidSubject);
        assert!(names.next().await.is_none());
        let mut list = js.list_streams().subject(subject);
        assert_eq!(
            list.next().await.unwrap().unwrap_err().kind(),
            ErrorKind::InvalidSubject
        );
        assert!(list.next().await.is_none());
    }
    let mirror = StreamConfig {
        name: "M".into(),
        subjects: vec!["m".into()],
        mirror: Some(jetstream::StreamSource {
            name: "S".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(
        js.create_stream(mirror).await.unwrap_err().kind(),
        ErrorKind::InvalidConfig
    );
}

#[tokio::test]
async fn list_streams_and_names_with_subject_filter() {
    let server = Server::jetstream().start();
    let (_client, js) = connect(server.url()).await;

    // No streams: the server sends `"streams": null`.
    assert!(js.list_streams().next().await.is_none());
    let none: Vec<String> = js.stream_names().try_collect().await.unwrap();
    assert!(none.is_empty());

    js.create_stream(mem_stream("ORDERS", &["orders.>"]))
        .await
        .unwrap();
    js.create_stream(mem_stream("USERS", &["users.*"]))
        .await
        .unwrap();
    js.create_stream(mem_stream("LOGS", &["logs"]))
        .await
        .unwrap();

    let mut names: Vec<String> = js.stream_names().try_collect().await.unwrap();
    names.sort();
    assert_eq!(names, ["LOGS", "ORDERS", "USERS"]);
    let infos: Vec<jetstream::StreamInfo> = js.list_streams().try_collect().await.unwrap();
    let mut listed: Vec<&str> = infos.iter().map(|i| i.config.name.as_str()).collect();
    listed.sort();
    assert_eq!(listed, ["LOGS", "ORDERS", "USERS"]);

    let filtered: Vec<String> = js
        .stream_names()
        .subject("users.new")
        .try_collect()
        .await
        .unwrap();
    assert_eq!(filtered, ["USERS"]);
    let filtered: Vec<jetstream::StreamInfo> = js
        .list_streams()
        .subject("orders.*")
        .try_collect()
        .await
        .unwrap();
    assert_eq!(filtered.len(), 1);
    assert_eq!(filtered[0].config.name, "ORDERS");
    let filtered: Vec<String> = js
        .stream_names()
        .subject("nothing")
        .try_collect()
        .await
        .unwrap();
    assert!(filtered.is_empty());
}

#[tokio::test]
async fn stream_name_by_subject() {
    let server = Server::jetstream().start();
    let (_client, js) = connect(server.url()).await;
    js.create_stream(mem_stream("ORDERS", &["orders.>"]))
        .await
        .unwrap();
    js.create_stream(mem_stream("USERS", &["users.*"]))
        .await
        .unwrap();
    assert_eq!(
        js.stream_name_by_subject("orders.new").await.unwrap(),
        "ORDERS"
    );
    assert_eq!(js.stream_name_by_subject("users.*").await.unwrap(), "USERS");
    assert_eq!(
        js.stream_name_by_subject(String::from("users.bob"))
            .await
            .unwrap(),
        "USERS"
    );
    let err = js.stream_name_by_subject("other").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StreamNotFound);
}

#[tokio::test]
async fn listing_pages_through_more_than_1024_streams() {
    let server = Server::jetstream().start();
    let (_client, js) = connect(server.url()).await;
    const N: usize = 1030;
    futures_util::stream::iter(0..N)
        .map(|i| {
            let js = js.clone();
            async move {
                js.create_stream(mem_stream(
                    &format!("S{i:04}"),
                    &[format!("s.{i}").as_str()],
                ))
                .await
                .unwrap();
            }
        })
        .buffer_unordered(16)
        .collect::<()>()
        .await;

    // STREAM.LIST pages at 256 (five pages here), STREAM.NAMES at 1024 (two).
    let infos: Vec<jetstream::StreamInfo> = js.list_streams().try_collect().await.unwrap();
    let names: HashSet<String> = infos.into_iter().map(|i| i.config.name).collect();
    assert_eq!(names.len(), N);
    let expected: HashSet<String> = (0..N).map(|i| format!("S{i:04}")).collect();
    assert_eq!(names, expected);

    let names: Vec<String> = js.stream_names().try_collect().await.unwrap();
    assert_eq!(names.len(), N);
    assert_eq!(names.into_iter().collect::<HashSet<_>>(), expected);
    assert_eq!(js.account_info().await.unwrap().streams, N);
}

/// A fake JetStream API on a custom prefix that serves `total` names in pages of `limit`,
/// recording the offsets asked for. Tests the paging loop with small pages.
async fn fake_pager(
    client: &Client,
    subject: &str,
    field: &'static str,
    total: usize,
    limit: usize,
) -> tokio::sync::mpsc::UnboundedReceiver<usize> {
    let mut sub = client.subscribe(subject).await.unwrap();
    client.flush().await.unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let client = client.clone();
    tokio::spawn(async move {
        while let Some(msg) = sub.next().await {
            let request: Value = serde_json::from_slice(&msg.payload).unwrap();
            let offset = request["offset"].as_u64().unwrap() as usize;
            tx.send(offset).unwrap();
            let end = (offset + limit).min(total);
            let items: Vec<Value> = (offset..end)
                .map(|i| match field {
                    "names" => json!(format!("N{i}")),
                    _ => json!({"stream_name": "S", "name": format!("N{i}"),
                                "config": {"name": format!("N{i}"), "ack_policy": "none"}}),
                })
                .collect();
            let key = if subject_is_stream(&msg.subject) {
                "streams"
            } else {
                "consumers"
            };
            let body = json!({"total": total, "offset": offset, "limit": limit, key: items});
            client
                .publish(msg.reply.unwrap().to_string(), body.to_string())
                .await
                .unwrap();
        }
    });
    rx
}

fn subject_is_stream(subject: &str) -> bool {
    subject.contains(".STREAM.")
}

#[tokio::test]
async fn paging_asks_for_each_page_in_turn() {
    let server = Server::new().start();
    let client = nats_core::connect(server.url()).await.unwrap();
    let js = jetstream::with_options(
        client.clone(),
        JetStreamOptions {
            api_prefix: "FAKE.API".into(),
            ..Default::default()
        },
    );
    assert_eq!(js.api_prefix(), "FAKE.API");
    let mut offsets = fake_pager(&client, "FAKE.API.STREAM.NAMES", "names", 7, 3).await;
    let names: Vec<String> = js.stream_names().try_collect().await.unwrap();
    assert_eq!(names, (0..7).map(|i| format!("N{i}")).collect::<Vec<_>>());
    let mut asked = Vec::new();
    while let Ok(o) = offsets.try_recv() {
        asked.push(o);
    }
    assert_eq!(asked, [0, 3, 6]);

    // Pages are fetched lazily: one item needs one page.
    let mut offsets = fake_pager(&client, "FAKE.API.CONSUMER.LIST.S", "infos", 5, 2).await;
    let fake_stream = {
        // A handle for stream `S` through the fake API: CONSUMER.LIST.S is served above, and
        // STREAM.INFO.S is answered here.
        let mut info_sub = client.subscribe("FAKE.API.STREAM.INFO.S").await.unwrap();
        client.flush().await.unwrap();
        let responder = client.clone();
        tokio::spawn(async move {
            if let Some(msg) = info_sub.next().await {
                let body = json!({"config": {"name": "S"}, "created": "2024-01-01T00:00:00Z"});
                responder
                    .publish(msg.reply.unwrap().to_string(), body.to_string())
                    .await
                    .unwrap();
            }
        });
        js.stream("S").await.unwrap()
    };
    let mut consumers = fake_stream.list_consumers();
    let first = consumers.next().await.unwrap().unwrap();
    assert_eq!(first.name, "N0");
    assert_eq!(offsets.recv().await, Some(0));
    assert!(offsets.try_recv().is_err());
    let rest: Vec<jetstream::ConsumerInfo> = consumers.try_collect().await.unwrap();
    assert_eq!(rest.len(), 4);
    let mut asked = vec![0];
    while let Ok(o) = offsets.try_recv() {
        asked.push(o);
    }
    assert_eq!(asked, [0, 2, 4]);

    // A server that claims more than it sends: an empty page ends the listing.
    let _offsets = fake_pager(&client, "FAKE.API.CONSUMER.NAMES.S", "names", 1000, 0).await;
    let names: Vec<String> = fake_stream.consumer_names().try_collect().await.unwrap();
    assert!(names.is_empty());
}

#[tokio::test]
async fn purge_variants() {
    let server = Server::jetstream().start();
    let (client, js) = connect(server.url()).await;
    let stream = js.create_stream(mem_stream("P", &["p.>"])).await.unwrap();
    let fill = |n: usize| {
        let client = client.clone();
        async move {
            for i in 0..n {
                let subject = if i % 2 == 0 { "p.even" } else { "p.odd" };
                store(&client, subject, "x").await;
            }
        }
    };

    fill(10).await;
    assert_eq!(stream.purge().subject("p.even").await.unwrap(), 5);
    assert_eq!(stream.purge().await.unwrap(), 5);
    assert_eq!(stream.info().await.unwrap().state.messages, 0);

    fill(10).await; // sequences 11..=20
    assert_eq!(stream.purge().sequence(15).await.unwrap(), 4);
    assert_eq!(stream.purge().keep(3).await.unwrap(), 3);
    assert_eq!(stream.info().await.unwrap().state.messages, 3);
    assert_eq!(stream.purge().subject("p.odd").keep(0).await.unwrap(), 2);
    assert_eq!(
        stream.purge().subject("p.>").sequence(100).await.unwrap(),
        1
    );

    let err = stream.purge().sequence(5).keep(1).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let err = stream.purge().subject("p..x").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidSubject);

    // A purge future can be spawned: the builder borrows nothing.
    let purged = tokio::spawn(stream.purge().into_future()).await.unwrap();
    assert_eq!(purged.unwrap(), 0);

    js.delete_stream("P").await.unwrap();
    assert_eq!(
        stream.purge().await.unwrap_err().kind(),
        ErrorKind::StreamNotFound
    );
}

async fn check_message_gets(js: &JetStream, client: &Client, allow_direct: bool) {
    let name = if allow_direct { "DIRECT" } else { "LEADER" };
    let prefix = name.to_lowercase();
    let stream = js
        .create_stream(StreamConfig {
            allow_direct,
            ..mem_stream(name, &[format!("{prefix}.>").as_str()])
        })
        .await
        .unwrap();
    assert_eq!(stream.cached_info().config.allow_direct, allow_direct);
    let a = format!("{prefix}.a");
    let b = format!("{prefix}.b");
    let mut headers = HeaderMap::new();
    headers.insert("X-Key", "value 1");
    headers.append("X-Multi", "one");
    headers.append("X-Multi", "two");
    store_with_headers(client, &a, Some(headers), "first").await; // 1
    store(client, &b, "second").await; // 2
    store(client, &a, "third").await; // 3
    store(client, &b, "").await; // 4

    let before = jiff::Timestamp::now();
    let msg = stream.get_msg(1).await.unwrap();
    assert_eq!(msg.sequence, 1);
    assert_eq!(msg.subject, a);
    assert_eq!(msg.payload, Bytes::from_static(b"first"));
    let headers = msg.headers.as_ref().expect("headers");
    assert_eq!(headers.get("X-Key"), Some("value 1"));
    assert_eq!(
        headers.get_all("X-Multi").collect::<Vec<_>>(),
        ["one", "two"]
    );
    // The direct get headers are moved into the fields.
    assert_eq!(headers.get("Nats-Sequence"), None);
    assert_eq!(headers.len(), 3);
    assert!(msg.time <= before);
    assert!(msg.time > before - Duration::from_secs(60));

    let msg = stream.get_msg(2).await.unwrap();
    assert!(msg.headers.is_none(), "{:?}", msg.headers);
    assert_eq!(&msg.payload[..], b"second");

    let last = stream.get_last_msg_for_subject(&a).await.unwrap();
    assert_eq!((last.sequence, &last.payload[..]), (3, &b"third"[..]));
    let last = stream
        .get_last_msg_for_subject(format!("{prefix}.*"))
        .await
        .unwrap();
    assert_eq!(last.sequence, 4);
    assert!(last.payload.is_empty());

    let next = stream.get_next_msg_for_subject(&b, 1).await.unwrap();
    assert_eq!(next.sequence, 2);
    let next = stream.get_next_msg_for_subject(&b, 3).await.unwrap();
    assert_eq!(next.sequence, 4);
    let next = stream
        .get_next_msg_for_subject(format!("{prefix}.>"), 2)
        .await
        .unwrap();
    assert_eq!(next.sequence, 2);

    for err in [
        stream.get_msg(99).await.unwrap_err(),
        stream
            .get_last_msg_for_subject(format!("{prefix}.none"))
            .await
            .unwrap_err(),
        stream.get_next_msg_for_subject(&a, 4).await.unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::MessageNotFound, "{err:?}");
    }
    let err = stream.get_last_msg_for_subject("a..b").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidSubject);

    // Deleted and securely deleted messages are gone.
    stream.delete_msg(1).await.unwrap();
    stream.secure_delete_msg(2).await.unwrap();
    for seq in [1, 2] {
        let err = stream.get_msg(seq).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MessageNotFound);
    }
    let err = stream.delete_msg(1).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MessageNotFound, "{err:?}");
    assert!(err.api_error().is_some(), "{err:?}");
    let info = stream.info().await.unwrap();
    assert_eq!(info.state.messages, 2);
}

#[tokio::test]
async fn get_and_delete_messages_direct_and_through_the_leader() {
    let server = Server::jetstream().start();
    let (client, js) = connect(server.url()).await;
    check_message_gets(&js, &client, true).await;
    check_message_gets(&js, &client, false).await;
}

#[tokio::test]
async fn stream_config_round_trips_through_the_server() {
    let server = Server::jetstream().start();
    let (_client, js) = connect(server.url()).await;
    let metadata: HashMap<String, String> = [("owner".to_string(), "team-a".to_string())].into();

    // Every limit and flag that combines with the others.
    let first = StreamConfig {
        name: "FULL".into(),
        subjects: vec!["full.>".into(), "other.*".into()],
        description: Some("all the fields".into()),
        retention: RetentionPolicy::Limits,
        max_consumers: 10,
        max_msgs: 1000,
        max_bytes: 1 << 20,
        discard: DiscardPolicy::New,
        discard_new_per_subject: true,
        max_age: Duration::from_secs(3600),
        max_msgs_per_subject: 5,
        max_msg_size: 1024,
        storage: StorageType::File,
        num_replicas: 1,
        no_ack: true,
        duplicate_window: Duration::from_secs(30),
        deny_delete: true,
        deny_purge: true,
        allow_direct: true,
        compression: Compression::S2,
        first_seq: 100,
        subject_transform: Some(SubjectTransform {
            source: "full.>".into(),
            destination: "moved.>".into(),
        }),
        republish: Some(RePublish {
            source: "moved.>".into(),
            destination: "repub.>".into(),
            headers_only: true,
        }),
        consumer_limits: ConsumerLimits {
            inactive_threshold: Duration::from_secs(60),
            max_ack_pending: 50,
        },
        metadata: metadata.clone(),
        allow_msg_ttl: true,
        allow_atomic: true,
        allow_batched: true,
        ..Default::default()
    };
    let got = js
        .create_stream(first.clone())
        .await
        .unwrap()
        .cached_info()
        .config
        .clone();
    let fetched = js
        .stream("FULL")
        .await
        .unwrap()
        .cached_info()
        .config
        .clone();
    assert_eq!(got, fetched);
    // The server adds `_nats.*` metadata; everything else comes back as sent.
    assert!(got.metadata.keys().any(|k| k.starts_with("_nats.")));
    let mut expected = first.clone();
    expected.metadata = got.metadata.clone();
    assert_eq!(
        got.metadata.get("owner").map(String::as_str),
        Some("team-a")
    );
    assert_eq!(got, expected);
    // Creating it again with the same config is still a no-op.
    js.create_stream(first).await.unwrap();

    // The fields that exclude some of the above.
    let second = StreamConfig {
        name: "MORE".into(),
        subjects: vec!["more.>".into()],
        retention: RetentionPolicy::Interest,
        storage: StorageType::File,
        allow_rollup_hdrs: true,
        subject_delete_marker_ttl: Duration::from_secs(5),
        allow_msg_ttl: true,
        allow_msg_schedules: true,
        persist_mode: PersistMode::Async,
        max_msgs: -1,
        max_bytes: -1,
        max_consumers: -1,
        max_msgs_per_subject: -1,
        max_msg_size: -1,
        num_replicas: 1,
        duplicate_window: Duration::from_secs(120),
        ..Default::default()
    };
    let got = js
        .create_stream(second.clone())
        .await
        .unwrap()
        .cached_info()
        .config
        .clone();
    let mut expected = second;
    expected.metadata = got.metadata.clone();
    assert_eq!(got, expected);

    let counter = StreamConfig {
        name: "COUNTER".into(),
        subjects: vec!["counter.>".into()],
        allow_msg_counter: true,
        storage: StorageType::Memory,
        ..Default::default()
    };
    let got = js
        .create_stream(counter)
        .await
        .unwrap()
        .cached_info()
        .config
        .clone();
    assert!(got.allow_msg_counter);

    // A work queue and a mirror with a source transform.
    let wq = js
        .create_stream(StreamConfig {
            retention: RetentionPolicy::WorkQueue,
            allow_direct: true,
            ..mem_stream("WQ", &["wq.>"])
        })
        .await
        .unwrap();
    assert_eq!(
        wq.cached_info().config.retention,
        RetentionPolicy::WorkQueue
    );
    let mirror = js
        .create_stream(StreamConfig {
            name: "MIRROR".into(),
            storage: StorageType::Memory,
            mirror: Some(jetstream::StreamSource {
                name: "WQ".into(),
                subject_transforms: vec![SubjectTransform {
                    source: "wq.>".into(),
                    destination: "mirrored.>".into(),
                }],
                ..Default::default()
            }),
            mirror_direct: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let config = &mirror.cached_info().config;
    assert!(config.mirror_direct);
    assert_eq!(
        config.mirror.as_ref().unwrap().subject_transforms[0].destination,
        "mirrored.>"
    );
}
