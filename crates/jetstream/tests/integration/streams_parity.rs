//! Streams and consumers: the calls added for parity with nats.go's `jetstream` package and
//! async-nats (get-or-create, a handle without info, message gets from the leader or
//! without headers, lazily paged subject counts, sources with a domain or a durable
//! consumer, KV mirrors joining their origin's direct gets), and the message delete and get
//! errors.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use jetstream::{
    AckPolicy, ConsumerConfig, ErrorCode, ErrorKind, JetStream, JetStreamOptions, KeyValueConfig,
    StorageType, StreamConfig, StreamConsumerSource, StreamSource,
};
use nats_core::{Client, HeaderMap, Message};
use nats_testkit::Server;
use serde_json::{json, Value};

use crate::streams::{connect, mem_stream, store, store_with_headers};

const WAIT: Duration = Duration::from_secs(10);

/// Records every message on `subject` (a wildcard), seen from its own connection.
struct Monitor {
    client: Client,
    sub: nats_core::Subscriber,
}

impl Monitor {
    async fn new(url: &str, subject: &str) -> Monitor {
        let client = nats_core::connect(url).await.unwrap();
        let sub = client.subscribe(subject.to_string()).await.unwrap();
        client.flush().await.unwrap();
        Monitor { client, sub }
    }

    /// Everything that arrived so far (after a round trip through the server, so that what
    /// was published before this call has been delivered).
    async fn drain(&mut self) -> Vec<Message> {
        self.client.flush().await.unwrap();
        // The observed client's own publishes went out before its awaited call returned;
        // a short grace period covers the server's fan-out to this connection.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut seen = Vec::new();
        while let Ok(Some(msg)) =
            tokio::time::timeout(Duration::from_millis(50), self.sub.next()).await
        {
            seen.push(msg);
        }
        seen
    }

    async fn subjects(&mut self) -> Vec<String> {
        self.drain()
            .await
            .into_iter()
            .map(|m| m.subject.to_string())
            .collect()
    }
}

async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < WAIT, "{what}: not within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn durable(name: &str) -> ConsumerConfig {
    ConsumerConfig {
        durable_name: Some(name.to_string()),
        ..Default::default()
    }
}

#[tokio::test]
async fn get_or_create_stream_returns_the_existing_stream_or_creates_it() {
    let server = Server::jetstream().start();
    let (client, js) = connect(server.url()).await;
    let config = mem_stream("GOC", &["goc.>"]);

    // Missing: created with the config.
    let created = js.get_or_create_stream(config.clone()).await.unwrap();
    assert_eq!(created.cached_info().config.subjects, ["goc.>"]);
    store(&client, "goc.a", "x").await;

    // Existing: returned as it is, even with another config (nothing is updated).
    let other = StreamConfig {
        max_msgs: 5,
        description: Some("other".into()),
        ..config.clone()
    };
    let got = js.get_or_create_stream(other.clone()).await.unwrap();
    let info = got.cached_info();
    assert_eq!(info.state.messages, 1);
    assert_eq!(info.config.max_msgs, -1);
    assert_eq!(info.config.description, None);
    assert_eq!(info.created, created.cached_info().created);

    // Racing creators all get the one stream.
    let racers: Vec<_> = (0..8)
        .map(|i| {
            let js = js.clone();
            let config = StreamConfig {
                max_msgs: 10 + i,
                ..mem_stream("RACE", &["race.>"])
            };
            tokio::spawn(async move { js.get_or_create_stream(config).await })
        })
        .collect();
    let mut created_at = Vec::new();
    for racer in racers {
        created_at.push(racer.await.unwrap().unwrap().cached_info().created);
    }
    created_at.dedup();
    assert_eq!(created_at.len(), 1, "{created_at:?}");

    // Checked before sending.
    let err = js
        .get_or_create_stream(mem_stream("a.b", &["x"]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidName);
}

#[tokio::test]
async fn get_or_create_consumer_returns_the_existing_consumer_or_creates_it() {
    let server = Server::jetstream().start();
    let (client, js) = connect(server.url()).await;
    let stream = js.create_stream(mem_stream("S", &["s.>"])).await.unwrap();
    store(&client, "s.a", "x").await;

    let created = js
        .get_or_create_consumer("S", durable("worker"))
        .await
        .unwrap();
    assert_eq!(created.name(), "worker");
    assert_eq!(created.cached_info().num_pending, 1);

    // Existing (by durable_name or name): returned as it is.
    let other = ConsumerConfig {
        description: Some("other".into()),
        ack_policy: AckPolicy::None,
        ..durable("worker")
    };
    let got = stream.get_or_create_consumer(other).await.unwrap();
    assert_eq!(got.cached_info().config.ack_policy, AckPolicy::Explicit);
    assert_eq!(got.cached_info().config.description, None);
    let by_name = ConsumerConfig {
        name: Some("worker".into()),
        ..Default::default()
    };
    let got = stream.get_or_create_consumer(by_name).await.unwrap();
    assert_eq!(got.cached_info().created, created.cached_info().created);

    // Racing creators all get the one consumer.
    let racers: Vec<_> = (0..8)
        .map(|i| {
            let stream = stream.clone();
            let config = ConsumerConfig {
                max_deliver: 10 + i,
                ..durable("raced")
            };
            tokio::spawn(async move { stream.get_or_create_consumer(config).await })
        })
        .collect();
    let mut created_at = Vec::new();
    for racer in racers {
        created_at.push(racer.await.unwrap().unwrap().cached_info().created);
    }
    created_at.dedup();
    assert_eq!(created_at.len(), 1, "{created_at:?}");

    // An unnamed ephemeral can not be looked up; a missing stream is reported.
    let err = js
        .get_or_create_consumer("S", ConsumerConfig::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig);
    let err = js
        .get_or_create_consumer("NOPE", durable("c"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StreamNotFound);
}

#[tokio::test]
async fn stream_no_info_asks_nothing_until_used() {
    let server = Server::jetstream().start();
    let (client, js) = connect(server.url()).await;
    js.create_stream(StreamConfig {
        allow_direct: true,
        ..mem_stream("D", &["d.>"])
    })
    .await
    .unwrap();
    store(&client, "d.a", "one").await;
    let mut api = Monitor::new(&server.url(), "$JS.API.>").await;

    let stream = js.stream_no_info("D").unwrap();
    assert!(api.subjects().await.is_empty(), "the handle sent a request");
    let cached = stream.cached_info();
    assert_eq!(cached.config.name, "D");
    assert!(!cached.config.allow_direct);
    assert_eq!(cached.state.messages, 0);

    // Without the info, gets go to the leader.
    let msg = stream.get_msg(1).await.unwrap();
    assert_eq!(&msg.payload[..], b"one");
    assert_eq!(api.subjects().await, ["$JS.API.STREAM.MSG.GET.D"]);

    // info() fills the cache; from then on the direct get is used.
    let info = stream.info().await.unwrap();
    assert_eq!(info.state.messages, 1);
    assert!(stream.cached_info().config.allow_direct);
    stream.get_msg(1).await.unwrap();
    assert_eq!(
        api.subjects().await,
        ["$JS.API.STREAM.INFO.D", "$JS.API.DIRECT.GET.D"]
    );

    // A missing stream shows on first use; a bad name at once.
    let missing = js.stream_no_info("MISSING").unwrap();
    assert_eq!(
        missing.info().await.unwrap_err().kind(),
        ErrorKind::StreamNotFound
    );
    assert_eq!(
        js.stream_no_info("a b").unwrap_err().kind(),
        ErrorKind::InvalidName
    );
}

/// Deleting what is not stored (any more): `MessageNotFound`, for memory streams (err_code
/// 10043) and file streams (10057, "no message found" / "stream store EOF").
#[tokio::test]
async fn deleting_a_sequence_that_is_gone_is_message_not_found() {
    let server = Server::jetstream().start();
    let (client, js) = connect(server.url()).await;
    for storage in [StorageType::Memory, StorageType::File] {
        let name = format!("DEL{storage:?}").to_uppercase();
        let prefix = name.to_lowercase();
        let stream = js
            .create_stream(StreamConfig {
                storage,
                ..mem_stream(&name, &[format!("{prefix}.>").as_str()])
            })
            .await
            .unwrap();
        for _ in 0..3 {
            store(&client, &format!("{prefix}.a"), "x").await;
        }
        stream.delete_msg(1).await.unwrap();
        stream.secure_delete_msg(2).await.unwrap();
        let gone = [
            stream.delete_msg(1).await,        // deleted
            stream.secure_delete_msg(1).await, // deleted
            stream.delete_msg(2).await,        // securely deleted
            stream.delete_msg(99).await,       // never stored
            stream.secure_delete_msg(99).await,
        ];
        for err in gone.into_iter().map(Result::unwrap_err) {
            assert_eq!(err.kind(), ErrorKind::MessageNotFound, "{storage:?}: {err}");
            // The server's own error is still there.
            let code = err.api_error().expect("api error").err_code;
            assert!(
                [
                    ErrorCode::SEQUENCE_NOT_FOUND,
                    ErrorCode::STREAM_MSG_DELETE_FAILED
                ]
                .contains(&code),
                "{code}"
            );
        }
        // Sequence 0 is refused before anything is sent.
        let mut api = Monitor::new(&server.url(), "$JS.API.>").await;
        for err in [
            stream.delete_msg(0).await.unwrap_err(),
            stream.secure_delete_msg(0).await.unwrap_err(),
        ] {
            assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        }
        assert!(api.subjects().await.is_empty());
        assert_eq!(stream.info().await.unwrap().state.messages, 1);
    }

    // A delete refused for another reason keeps its kind, although the err_code (10057) is
    // the one a file stream uses for a missing message.
    let denied = js
        .create_stream(StreamConfig {
            storage: StorageType::File,
            deny_delete: true,
            ..mem_stream("DENIED", &["denied.>"])
        })
        .await
        .unwrap();
    store(&client, "denied.a", "x").await;
    let err = denied.delete_msg(1).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Api, "{err}");
    assert_eq!(
        err.api_error().unwrap().err_code,
        ErrorCode::STREAM_MSG_DELETE_FAILED
    );
}

#[tokio::test]
async fn get_msg_zero_is_refused_before_sending() {
    let server = Server::jetstream().start();
    let (client, js) = connect(server.url()).await;
    for allow_direct in [false, true] {
        let name = if allow_direct { "DIRECT" } else { "LEADER" };
        let prefix = name.to_lowercase();
        let stream = js
            .create_stream(StreamConfig {
                allow_direct,
                ..mem_stream(name, &[format!("{prefix}.>").as_str()])
            })
            .await
            .unwrap();
        store(&client, &format!("{prefix}.a"), "x").await;
        let mut api = Monitor::new(&server.url(), "$JS.API.>").await;
        let err = stream.get_msg(0).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
        let err = stream.get_msg_with().sequence(0).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        // A get that names no message at all.
        let err = stream.get_msg_with().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(
            api.subjects().await.is_empty(),
            "{name}: a request was sent"
        );
        // From sequence 0 onwards is fine for the "next" get.
        let next = stream
            .get_next_msg_for_subject(format!("{prefix}.>"), 0)
            .await
            .unwrap();
        assert_eq!(next.sequence, 1);
    }
}

#[tokio::test]
async fn from_leader_reads_through_the_leader_on_a_direct_stream() {
    let server = Server::jetstream().start();
    let (client, js) = connect(server.url()).await;
    let stream = js
        .create_stream(StreamConfig {
            allow_direct: true,
            ..mem_stream("RYW", &["ryw.>"])
        })
        .await
        .unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("X-Key", "v");
    store_with_headers(&client, "ryw.a", Some(headers), "first").await;
    store(&client, "ryw.b", "second").await;
    let mut api = Monitor::new(&server.url(), "$JS.API.>").await;

    let direct = stream.get_msg(1).await.unwrap();
    assert_eq!(api.subjects().await, ["$JS.API.DIRECT.GET.RYW"]);

    let leader = stream
        .get_msg_with()
        .sequence(1)
        .from_leader()
        .await
        .unwrap();
    assert_eq!(api.subjects().await, ["$JS.API.STREAM.MSG.GET.RYW"]);
    assert_eq!(leader, direct);
    assert_eq!(leader.headers.unwrap().get("X-Key"), Some("v"));

    let last = stream
        .get_msg_with()
        .last_for_subject("ryw.b")
        .from_leader()
        .await
        .unwrap();
    assert_eq!((last.sequence, &last.payload[..]), (2, &b"second"[..]));
    let next = stream
        .get_msg_with()
        .next_for_subject("ryw.*", 2)
        .from_leader()
        .await
        .unwrap();
    assert_eq!(next.sequence, 2);
    assert_eq!(
        api.subjects().await,
        ["$JS.API.STREAM.MSG.GET.RYW", "$JS.API.STREAM.MSG.GET.RYW"]
    );
    let err = stream
        .get_msg_with()
        .sequence(9)
        .from_leader()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MessageNotFound);
}

/// `no_headers`: the server is asked not to send the headers (`no_hdr`), and does not, on
/// both paths.
#[tokio::test]
async fn no_headers_gets_only_the_payload() {
    let server = Server::jetstream().start();
    let (client, js) = connect(server.url()).await;
    let mut headers = HeaderMap::new();
    headers.insert("X-Big", "x".repeat(1000));
    for allow_direct in [true, false] {
        let name = if allow_direct { "NHD" } else { "NHL" };
        let prefix = name.to_lowercase();
        let stream = js
            .create_stream(StreamConfig {
                allow_direct,
                ..mem_stream(name, &[format!("{prefix}.>").as_str()])
            })
            .await
            .unwrap();
        store_with_headers(
            &client,
            &format!("{prefix}.a"),
            Some(headers.clone()),
            "body",
        )
        .await;
        // The replies, as they come back on the client's inbox.
        let mut replies = Monitor::new(&server.url(), "_INBOX.>").await;

        let payload = stream
            .get_msg_with()
            .sequence(1)
            .no_headers()
            .await
            .unwrap();
        assert_eq!(payload, Bytes::from_static(b"body"));
        let last = stream
            .get_msg_with()
            .last_for_subject(format!("{prefix}.a"))
            .no_headers()
            .await
            .unwrap();
        assert_eq!(last, Bytes::from_static(b"body"));
        let seen = replies.drain().await;
        assert_eq!(seen.len(), 2, "{name}");
        for reply in &seen {
            if allow_direct {
                assert!(reply.headers.is_none(), "headers sent: {:?}", reply.headers);
                assert_eq!(&reply.payload[..], b"body");
            } else {
                let body: Value = serde_json::from_slice(&reply.payload).unwrap();
                assert!(body["message"].get("hdrs").is_none(), "{body}");
                assert_eq!(body["message"]["seq"], 1);
            }
        }
        // The same get with headers does carry them.
        let full = stream.get_msg(1).await.unwrap();
        assert_eq!(full.headers.unwrap().get("X-Big").map(str::len), Some(1000));

        let err = stream
            .get_msg_with()
            .sequence(5)
            .no_headers()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MessageNotFound);
        // Leader path on a direct stream, payload only.
        let payload = stream
            .get_msg_with()
            .sequence(1)
            .no_headers()
            .from_leader()
            .await
            .unwrap();
        assert_eq!(payload, Bytes::from_static(b"body"));
    }
}

#[tokio::test]
async fn subject_counts_from_a_real_server() {
    let server = Server::jetstream().start();
    let (client, js) = connect(server.url()).await;
    let stream = js.create_stream(mem_stream("SC", &["sc.>"])).await.unwrap();
    for subject in ["sc.a", "sc.a", "sc.b", "sc.c.x", "sc.c.y", "sc.c.y"] {
        store(&client, subject, "x").await;
    }
    let all: Vec<(String, u64)> = stream.subject_counts(">").try_collect().await.unwrap();
    let expected =
        [("sc.a", 2), ("sc.b", 1), ("sc.c.x", 1), ("sc.c.y", 2)].map(|(s, n)| (s.to_string(), n));
    assert_eq!(all, expected);
    let some: Vec<(String, u64)> = stream.subject_counts("sc.c.*").try_collect().await.unwrap();
    assert_eq!(some, expected[2..]);
    let none: Vec<(String, u64)> = stream.subject_counts("sc.z").try_collect().await.unwrap();
    assert!(none.is_empty());
    // The listing does not touch the cached info.
    assert!(stream.cached_info().state.subjects.is_empty());

    let mut bad = stream.subject_counts("sc..x");
    assert_eq!(
        bad.next().await.unwrap().unwrap_err().kind(),
        ErrorKind::InvalidSubject
    );
    assert!(bad.next().await.is_none());
    js.delete_stream("SC").await.unwrap();
    let err = stream
        .subject_counts(">")
        .next()
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StreamNotFound);
}

/// A fake `STREAM.INFO.S` on a custom API prefix that serves `total` subjects in pages of
/// `limit`, recording the offsets asked for.
async fn fake_subject_pages(
    client: &Client,
    total: usize,
    limit: usize,
) -> tokio::sync::mpsc::UnboundedReceiver<usize> {
    let mut sub = client.subscribe("FAKE.API.STREAM.INFO.S").await.unwrap();
    client.flush().await.unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let client = client.clone();
    tokio::spawn(async move {
        while let Some(msg) = sub.next().await {
            let request: Value = serde_json::from_slice(&msg.payload).unwrap();
            assert_eq!(request["subjects_filter"], "s.>");
            let offset = request["offset"].as_u64().unwrap_or(0) as usize;
            tx.send(offset).unwrap();
            let end = (offset + limit).min(total);
            let subjects: serde_json::Map<String, Value> = (offset..end)
                .map(|i| (format!("s.{i:03}"), json!(i + 1)))
                .collect();
            let body = json!({
                "config": {"name": "S"}, "created": "2024-01-01T00:00:00Z",
                "state": {"messages": 99, "subjects": subjects},
                "total": total, "offset": offset, "limit": limit,
            });
            client
                .publish(msg.reply.unwrap().to_string(), body.to_string())
                .await
                .unwrap();
        }
    });
    rx
}

fn fake_js(client: &Client) -> JetStream {
    jetstream::with_options(
        client.clone(),
        JetStreamOptions {
            api_prefix: "FAKE.API".into(),
            ..Default::default()
        },
    )
}

#[tokio::test]
async fn subject_counts_fetch_each_page_when_it_is_needed() {
    let server = Server::new().start();
    let client = nats_core::connect(server.url()).await.unwrap();
    let js = fake_js(&client);
    let stream = js.stream_no_info("S").unwrap();
    let mut offsets = fake_subject_pages(&client, 7, 3).await;

    let mut counts = stream.subject_counts("s.>");
    let first = counts.next().await.unwrap().unwrap();
    assert_eq!(first, ("s.000".to_string(), 1));
    assert_eq!(offsets.recv().await, Some(0));
    // The rest of the first page needs no request.
    for i in 1..3 {
        assert_eq!(counts.next().await.unwrap().unwrap().1, i + 1);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(offsets.try_recv().is_err(), "a page was fetched early");
    let rest: Vec<(String, u64)> = counts.try_collect().await.unwrap();
    assert_eq!(
        rest.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(),
        ["s.003", "s.004", "s.005", "s.006"]
    );
    assert_eq!(offsets.recv().await, Some(3));
    assert_eq!(offsets.recv().await, Some(6));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(offsets.try_recv().is_err());

    // info_with collects every page into the info, with the same pager.
    let info = stream.info_with().subjects_filter("s.>").await.unwrap();
    assert_eq!(info.state.subjects.len(), 7);
    assert_eq!(info.state.subjects["s.006"], 7);
    assert_eq!(info.state.messages, 99);
    let mut asked = Vec::new();
    while asked.len() < 3 {
        asked.push(offsets.recv().await.unwrap());
    }
    assert_eq!(asked, [0, 3, 6]);
}

/// A JetStream hub (domain `hub`) and a leaf node of it with its own JetStream (domain
/// `leaf`), connected: a client of the leaf reaches the hub's API as `$JS.hub.API`.
async fn hub_and_leaf() -> (Server, Server) {
    let port = nats_testkit::free_port();
    let hub = Server::jetstream()
        .jetstream_domain("hub")
        .config(&format!("leafnodes {{ listen: \"127.0.0.1:{port}\" }}"))
        .start();
    let leaf = Server::jetstream()
        .jetstream_domain("leaf")
        .config(&format!(
            "leafnodes {{ remotes: [ {{ url: \"nats-leaf://127.0.0.1:{port}\" }} ] }}"
        ))
        .start();
    let client = nats_core::connect(leaf.url()).await.unwrap();
    let hub_from_leaf = jetstream::with_domain(client, "hub");
    wait_until("the leaf node connected", || {
        let js = hub_from_leaf.clone();
        async move { js.account_info().await.is_ok() }
    })
    .await;
    (hub, leaf)
}

#[tokio::test]
async fn source_with_a_domain_is_sent_as_its_external_prefix() {
    let (hub, leaf) = hub_and_leaf().await;
    let (hub_client, hub_js) = connect(hub.url()).await;
    let (_leaf_client, js) = connect(leaf.url()).await;
    hub_js
        .create_stream(mem_stream("ORIGIN", &["origin.>"]))
        .await
        .unwrap();
    for _ in 0..3 {
        store(&hub_client, "origin.a", "x").await;
    }
    let in_hub = |name: &str| StreamSource {
        name: name.into(),
        domain: Some("hub".into()),
        ..Default::default()
    };
    let copy = js
        .create_stream(StreamConfig {
            sources: vec![in_hub("ORIGIN")],
            ..mem_stream("COPY", &[])
        })
        .await
        .unwrap();
    let mirror = js
        .create_stream(StreamConfig {
            mirror: Some(in_hub("ORIGIN")),
            ..mem_stream("MIRROR", &[])
        })
        .await
        .unwrap();
    for stream in [&copy, &mirror] {
        let config = &stream.cached_info().config;
        let source = config.mirror.as_ref().or(config.sources.first()).unwrap();
        assert_eq!(source.domain, None);
        assert_eq!(
            source.external.as_ref().map(|e| e.api_prefix.as_str()),
            Some("$JS.hub.API")
        );
        wait_until("copied from the hub", || async move {
            stream.info().await.unwrap().state.messages == 3
        })
        .await;
    }

    // Domain and external together are refused before sending.
    let both = StreamSource {
        external: Some(jetstream::External {
            api_prefix: "$JS.hub.API".into(),
            deliver_prefix: None,
        }),
        ..in_hub("ORIGIN")
    };
    let err = js
        .create_stream(StreamConfig {
            sources: vec![both],
            ..mem_stream("BOTH", &[])
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig);
}

/// Durable sourcing (server 2.14): the source's `consumer` round-trips and the stream copies
/// through that push consumer.
#[tokio::test]
async fn source_through_a_durable_consumer() {
    let server = Server::jetstream().start();
    let (client, js) = connect(server.url()).await;
    js.create_stream(mem_stream("ORIGIN", &["origin.>"]))
        .await
        .unwrap();
    for _ in 0..3 {
        store(&client, "origin.a", "x").await;
    }
    // The consumer the copy goes through (a push consumer, made through the raw API).
    for (name, deliver) in [("SC", "deliver.source"), ("MC", "deliver.mirror")] {
        let request = json!({"stream_name": "ORIGIN", "config": {
            "durable_name": name, "deliver_subject": deliver,
            "ack_policy": "flow_control", "idle_heartbeat": 1_000_000_000u64,
        }});
        let reply = client
            .request(
                format!("$JS.API.CONSUMER.CREATE.ORIGIN.{name}"),
                request.to_string(),
            )
            .await
            .unwrap();
        let v: Value = serde_json::from_slice(&reply.payload).unwrap();
        assert!(v.get("error").is_none(), "consumer create: {v}");
    }
    let through = |name: &str, deliver: &str| StreamSource {
        name: "ORIGIN".into(),
        consumer: Some(StreamConsumerSource {
            name: name.into(),
            deliver_subject: deliver.into(),
        }),
        ..Default::default()
    };
    let copy = js
        .create_stream(StreamConfig {
            sources: vec![through("SC", "deliver.source")],
            ..mem_stream("COPY", &[])
        })
        .await
        .unwrap();
    let mirror = js
        .create_stream(StreamConfig {
            mirror: Some(through("MC", "deliver.mirror")),
            ..mem_stream("MIRROR", &[])
        })
        .await
        .unwrap();
    assert_eq!(
        copy.cached_info().config.sources[0].consumer,
        through("SC", "deliver.source").consumer
    );
    assert_eq!(
        mirror
            .cached_info()
            .config
            .mirror
            .as_ref()
            .unwrap()
            .consumer,
        through("MC", "deliver.mirror").consumer
    );
    // Read back unchanged, too.
    let fetched = js.stream("COPY").await.unwrap();
    assert_eq!(
        fetched.cached_info().config.sources,
        copy.cached_info().config.sources
    );
    for stream in [&copy, &mirror] {
        wait_until("copied through the durable consumer", || async move {
            stream.info().await.unwrap().state.messages == 3
        })
        .await;
    }
    // The copies advanced the durable consumers.
    for name in ["SC", "MC"] {
        let consumer = js.consumer("ORIGIN", name).await.unwrap();
        assert_eq!(consumer.cached_info().delivered.stream_sequence, 3);
    }

    // Options the consumer decides are refused before sending.
    let err = js
        .create_stream(StreamConfig {
            sources: vec![StreamSource {
                opt_start_seq: 2,
                ..through("SC", "deliver.source")
            }],
            ..mem_stream("BAD", &[])
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig);
}

/// A KV mirror joins the direct gets of its origin (`mirror_direct`, as nats.go sets it).
/// The server decides that by itself for an origin it can see, but not for an origin in
/// another domain, so the client must set it: in the leaf, where the origin bucket is not,
/// the mirror answers the origin's direct gets.
#[tokio::test]
async fn kv_mirror_of_a_bucket_in_another_domain_answers_its_direct_gets() {
    let (hub, leaf) = hub_and_leaf().await;
    let (_hub_client, hub_js) = connect(hub.url()).await;
    let (client, js) = connect(leaf.url()).await;
    let origin = hub_js
        .create_key_value(KeyValueConfig {
            bucket: "origin".into(),
            storage: StorageType::Memory,
            ..Default::default()
        })
        .await
        .unwrap();
    origin.put("k", "v1").await.unwrap();
    let mirror = js
        .create_key_value(KeyValueConfig {
            bucket: "replica".into(),
            storage: StorageType::Memory,
            mirror: Some(StreamSource {
                name: "origin".into(),
                domain: Some("hub".into()),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    let config = js
        .stream("KV_replica")
        .await
        .unwrap()
        .cached_info()
        .config
        .clone();
    assert!(config.mirror_direct);
    let source = config.mirror.unwrap();
    assert_eq!(source.name, "KV_origin");
    assert_eq!(source.external.unwrap().api_prefix, "$JS.hub.API");
    let replica = &mirror;
    wait_until("the mirror caught up", || async move {
        replica.get("k").await.is_ok()
    })
    .await;
    assert_eq!(mirror.get("k").await.unwrap().value().as_ref(), b"v1");

    let request = "$JS.API.DIRECT.GET.KV_origin.$KV.origin.k";
    let start = Instant::now();
    let reply = loop {
        match client.request(request, "").await {
            Ok(reply) if reply.status.is_none() => break reply,
            other => {
                let why = other.map(|r| r.status);
                assert!(start.elapsed() < WAIT, "no direct get answer: {why:?}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert_eq!(&reply.payload[..], b"v1");
    assert_eq!(
        reply.headers.unwrap().get("Nats-Stream"),
        Some("KV_replica")
    );
}

/// The server's own pages: more than 100,000 subjects come in two `STREAM.INFO` replies.
#[tokio::test]
async fn subject_counts_across_the_servers_pages() {
    const SUBJECTS: usize = 100_001;
    let server = Server::jetstream().start();
    let (client, js) = connect(server.url()).await;
    let stream = js
        .create_stream(mem_stream("MANY", &["m.>"]))
        .await
        .unwrap();
    for i in 0..SUBJECTS {
        client.publish(format!("m.{i}"), "").await.unwrap();
    }
    client.flush().await.unwrap();
    wait_until("all stored", || {
        let stream = stream.clone();
        async move { stream.info().await.unwrap().state.messages == SUBJECTS as u64 }
    })
    .await;
    let mut api = Monitor::new(&server.url(), "$JS.API.STREAM.INFO.MANY").await;
    let mut counts = stream.subject_counts("m.>");
    let mut seen = 0;
    while let Some(count) = counts.next().await {
        let (_, messages) = count.unwrap();
        assert_eq!(messages, 1);
        seen += 1;
        if seen == 1 {
            assert_eq!(api.drain().await.len(), 1);
        }
    }
    assert_eq!(seen, SUBJECTS);
    let pages = api.drain().await;
    assert_eq!(pages.len(), 1);
    let request: Value = serde_json::from_slice(&pages[0].payload).unwrap();
    assert_eq!(request["offset"], 100_000);
}
