use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use jetstream::{AckPolicy, ConsumerConfig, ErrorKind, StorageType, StreamConfig};
use nats_testkit::Server;

pub(crate) async fn setup(
    server: &Server,
    storage: StorageType,
) -> (jetstream::JetStream, jetstream::Stream) {
    let client = nats_core::connect(server.url()).await.unwrap();
    let js = jetstream::new(client);
    let stream = js
        .create_stream(StreamConfig {
            name: "S".into(),
            subjects: vec!["s.>".into()],
            storage,
            ..Default::default()
        })
        .await
        .unwrap();
    (js, stream)
}

pub(crate) async fn publish_n(js: &jetstream::JetStream, n: usize) {
    let mut acks = Vec::new();
    for i in 0..n {
        acks.push(js.publish_async("s.x", format!("{i}")).await.unwrap());
    }
    for a in acks {
        a.await.unwrap();
    }
}

pub(crate) async fn durable(stream: &jetstream::Stream, name: &str) -> jetstream::Consumer {
    stream
        .create_consumer(ConsumerConfig {
            durable_name: Some(name.into()),
            ..Default::default()
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn fetch_fewer_than_asked_returns_at_expiry() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    publish_n(&js, 3).await;
    let c = durable(&stream, "c").await;
    let start = Instant::now();
    let mut batch = c.fetch(10).max_wait(Duration::from_secs(1)).await.unwrap();
    let mut got = Vec::new();
    while let Some(m) = batch.next().await {
        let m = m.unwrap();
        got.push(m.data().clone());
        m.ack().await.unwrap();
    }
    assert_eq!(got, ["0", "1", "2"]);
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

/// A batch tells the stream sequence of the last message it yielded, and
/// where the consumer started in the stream shows in it.
#[tokio::test]
async fn fetch_batch_knows_the_last_stream_sequence_yielded() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    publish_n(&js, 5).await;
    let c = stream
        .create_consumer(ConsumerConfig {
            durable_name: Some("from3".into()),
            deliver_policy: jetstream::DeliverPolicy::ByStartSequence { start_sequence: 3 },
            ..Default::default()
        })
        .await
        .unwrap();
    let mut batch = c.fetch(2).await.unwrap();
    assert_eq!(batch.last_stream_sequence(), None);
    let mut seen = Vec::new();
    while let Some(m) = batch.next().await {
        let m = m.unwrap();
        m.ack().await.unwrap();
        seen.push(batch.last_stream_sequence());
    }
    assert_eq!(seen, [Some(3), Some(4)]);
}

#[tokio::test]
async fn fetch_no_wait_with_nothing_is_immediate_and_empty() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    let c = durable(&stream, "c").await;
    let start = Instant::now();
    let batch = c.fetch_no_wait(10).await.unwrap();
    assert_eq!(batch.count().await, 0);
    assert!(start.elapsed() < Duration::from_secs(1));
    publish_n(&js, 4).await;
    // The server signals consumers asynchronously: wait until it counts them.
    let start = Instant::now();
    while c.info().await.unwrap().num_pending < 4 {
        assert!(start.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let batch = c.fetch_no_wait(10).await.unwrap();
    assert_eq!(batch.count().await, 4);
}

#[tokio::test]
async fn fetch_bytes_respects_the_budget() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    for _ in 0..10 {
        js.publish("s.x", vec![b'x'; 100]).await.unwrap();
    }
    let c = durable(&stream, "c").await;
    // Each message is ~100 payload + subject + reply (~50): 350 bytes fit 2.
    let batch = c
        .fetch_bytes(350)
        .max_wait(Duration::from_secs(1))
        .await
        .unwrap();
    let msgs: Vec<_> = batch.collect().await;
    assert!(!msgs.is_empty() && msgs.len() < 4, "{}", msgs.len());
    let total: usize = msgs.iter().map(|m| m.as_ref().unwrap().size()).sum();
    assert!(total <= 350);
}

#[tokio::test]
async fn next_and_metadata() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    publish_n(&js, 2).await;
    let c = durable(&stream, "meta").await;
    let m = c.next().await.unwrap();
    let meta = m.metadata().unwrap();
    assert_eq!(meta.stream, "S");
    assert_eq!(meta.consumer, "meta");
    assert_eq!(meta.sequence.stream, 1);
    assert_eq!(meta.sequence.consumer, 1);
    assert_eq!(meta.num_delivered, 1);
    assert_eq!(meta.num_pending, 1);
    assert!(meta.timestamp.as_second() > 1_700_000_000);
    m.ack().await.unwrap();
    assert_eq!(m.ack().await.unwrap_err().kind(), ErrorKind::AlreadyAcked);
    assert_eq!(m.nak().await.unwrap_err().kind(), ErrorKind::AlreadyAcked);
}

#[tokio::test]
async fn ack_kinds_and_redelivery() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    publish_n(&js, 3).await;
    let c = stream
        .create_consumer(ConsumerConfig {
            durable_name: Some("acks".into()),
            ack_wait: Duration::from_secs(1),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut batch = c.fetch(3).max_wait(Duration::from_secs(1)).await.unwrap();
    let m0 = batch.next().await.unwrap().unwrap();
    let m1 = batch.next().await.unwrap().unwrap();
    let m2 = batch.next().await.unwrap().unwrap();
    m0.double_ack().await.unwrap();
    m1.in_progress().await.unwrap();
    m1.in_progress().await.unwrap();
    m1.nak().await.unwrap();
    m2.term_with_reason("bad data").await.unwrap();
    // m1 comes back at once (nak), delivered twice; m0 and m2 never again.
    let again = c.next().await.unwrap();
    assert_eq!(&again.data()[..], b"1");
    assert_eq!(again.metadata().unwrap().num_delivered, 2);
    again
        .nak_with_delay(Duration::from_millis(500))
        .await
        .unwrap();
    let start = Instant::now();
    let third = c.next().await.unwrap();
    assert_eq!(&third.data()[..], b"1");
    assert!(start.elapsed() >= Duration::from_millis(300));
    third.term().await.unwrap();
    let none = c.fetch_no_wait(5).await.unwrap().count().await;
    assert_eq!(none, 0);
}

#[tokio::test]
async fn ack_none_messages_cannot_be_acked() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    publish_n(&js, 1).await;
    let c = stream
        .create_consumer(ConsumerConfig {
            durable_name: Some("none".into()),
            ack_policy: AckPolicy::None,
            ..Default::default()
        })
        .await
        .unwrap();
    let m = c.next().await.unwrap();
    assert_eq!(
        m.ack().await.unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
}

#[tokio::test]
async fn messages_stream_in_order_with_refills() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    publish_n(&js, 1000).await;
    let c = durable(&stream, "m").await;
    let mut messages = c.messages().max_messages(50).await.unwrap();
    for i in 0..1000 {
        let m = messages.next().await.unwrap().unwrap();
        assert_eq!(m.data(), format!("{i}").as_bytes());
        m.ack().await.unwrap();
    }
    messages.stop();
    let rest: Vec<_> = messages.collect().await;
    assert!(rest.iter().all(|r| r.is_ok()));
}

#[tokio::test]
async fn consume_handles_in_order_and_drains() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    publish_n(&js, 500).await;
    let c = durable(&stream, "cons").await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let ctx = c
        .consume(move |m| {
            let s = s.clone();
            async move {
                s.lock()
                    .unwrap()
                    .push(m.metadata().unwrap().sequence.stream);
                m.ack().await.unwrap();
            }
        })
        .max_messages(100)
        .await
        .unwrap();
    let start = Instant::now();
    while seen.lock().unwrap().len() < 500 {
        assert!(start.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    ctx.drain().await;
    assert!(ctx.is_closed());
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen, (1..=500).collect::<Vec<u64>>());
}

#[tokio::test]
async fn consumer_deleted_ends_consume_messages_and_fetch() {
    let server = Server::jetstream().start();
    let (_js, stream) = setup(&server, StorageType::Memory).await;
    let c = durable(&stream, "gone").await;
    let errors = Arc::new(Mutex::new(Vec::new()));
    let e = errors.clone();
    let ctx = c
        .consume(|_m| async {})
        .error_handler(move |err| e.lock().unwrap().push(err.kind()))
        .await
        .unwrap();
    let mut messages = c.messages().await.unwrap();
    let fetch = c.fetch(10).max_wait(Duration::from_secs(20)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stream.delete_consumer("gone").await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), ctx.closed())
        .await
        .expect("consume did not end");
    assert!(errors.lock().unwrap().contains(&ErrorKind::ConsumerDeleted));
    let err = tokio::time::timeout(Duration::from_secs(5), messages.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConsumerDeleted);
    let items: Vec<_> = tokio::time::timeout(Duration::from_secs(5), fetch.collect::<Vec<_>>())
        .await
        .unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(
        items[0].as_ref().unwrap_err().kind(),
        ErrorKind::ConsumerDeleted
    );
}

#[tokio::test]
async fn consume_survives_a_server_restart_without_loss() {
    let mut server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::File).await;
    publish_n(&js, 200).await;
    let c = durable(&stream, "durable").await;
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(std::collections::BTreeSet::new()));
    let (n, s) = (count.clone(), seen.clone());
    let ctx = c
        .consume(move |m| {
            let (n, s) = (n.clone(), s.clone());
            async move {
                let seq = m.metadata().unwrap().sequence.stream;
                if m.double_ack().await.is_ok() {
                    s.lock().unwrap().insert(seq);
                    n.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
        .expiry(Duration::from_secs(2))
        .heartbeat(Duration::from_millis(500))
        .await
        .unwrap();
    let start = Instant::now();
    while seen.lock().unwrap().len() < 200 {
        assert!(start.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.restart();
    // Publish more after the restart (the client reconnects on its own).
    let start = Instant::now();
    loop {
        match js.publish("s.x", "after").retry_attempts(0).await {
            Ok(_) => break,
            Err(_) if start.elapsed() < Duration::from_secs(10) => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(e) => panic!("publish after restart: {e}"),
        }
    }
    for _ in 0..99 {
        js.publish("s.x", "after").await.unwrap();
    }
    let start = Instant::now();
    while seen.lock().unwrap().len() < 300 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "only {} of 300 after restart",
            seen.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ctx.stop();
    assert_eq!(seen.lock().unwrap().len(), 300);
}

#[tokio::test]
async fn missed_heartbeats_are_reported_when_pulls_are_dropped() {
    let server = Server::jetstream().start();
    let (_js, stream) = setup(&server, StorageType::Memory).await;
    // One waiting pull at most: with heartbeats set, the server drops further
    // pulls silently; only the missing heartbeats show it.
    let c = stream
        .create_consumer(ConsumerConfig {
            durable_name: Some("hb".into()),
            max_waiting: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    let _first = c.messages().expiry(Duration::from_secs(10)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut second = c
        .messages()
        .expiry(Duration::from_secs(2))
        .heartbeat(Duration::from_millis(500))
        .await
        .unwrap();
    let start = Instant::now();
    let item = tokio::time::timeout(Duration::from_secs(5), second.next())
        .await
        .expect("missed heartbeats not reported")
        .unwrap();
    assert_eq!(item.unwrap_err().kind(), ErrorKind::HeartbeatMissed);
    assert!(start.elapsed() >= Duration::from_millis(900));

    let mut batch = c
        .fetch(1)
        .max_wait(Duration::from_secs(4))
        .heartbeat(Duration::from_millis(500))
        .await
        .unwrap();
    let item = tokio::time::timeout(Duration::from_secs(5), batch.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(item.unwrap_err().kind(), ErrorKind::HeartbeatMissed);
}

#[tokio::test]
async fn invalid_options_are_refused() {
    let server = Server::jetstream().start();
    let (_js, stream) = setup(&server, StorageType::Memory).await;
    let c = durable(&stream, "v").await;
    // Both limits together are fine (pull_parity); a threshold above its budget is not.
    let e = c
        .messages()
        .max_messages(10)
        .max_bytes(1000)
        .threshold_bytes(2000)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    let e = c
        .messages()
        .expiry(Duration::from_millis(10))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    let e = c
        .fetch(1)
        .max_wait(Duration::from_secs(1))
        .heartbeat(Duration::from_secs(1))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    let e = c.fetch(0).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
}

#[tokio::test]
async fn messages_survive_a_server_restart_without_loss() {
    let mut server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::File).await;
    publish_n(&js, 100).await;
    let c = durable(&stream, "restart").await;
    let mut messages = c
        .messages()
        .expiry(Duration::from_secs(2))
        .heartbeat(Duration::from_millis(500))
        .await
        .unwrap();
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 100 {
        let m = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if m.double_ack().await.is_ok() {
            seen.insert(m.metadata().unwrap().sequence.stream);
        }
    }
    server.restart();
    let start = Instant::now();
    loop {
        match js.publish("s.x", "after").retry_attempts(0).await {
            Ok(_) => break,
            Err(e) => {
                assert!(start.elapsed() < Duration::from_secs(10), "{e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    for _ in 0..49 {
        js.publish("s.x", "after").await.unwrap();
    }
    let start = Instant::now();
    while seen.len() < 150 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "only {}",
            seen.len()
        );
        match tokio::time::timeout(Duration::from_secs(5), messages.next()).await {
            Ok(Some(Ok(m))) => {
                if m.double_ack().await.is_ok() {
                    seen.insert(m.metadata().unwrap().sequence.stream);
                }
            }
            // Missed heartbeats while the server was away are warnings: go on.
            Ok(Some(Err(e))) => assert_eq!(e.kind(), ErrorKind::HeartbeatMissed, "{e}"),
            Ok(None) => panic!("messages ended"),
            Err(_) => {}
        }
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        (1..=150).collect::<Vec<u64>>()
    );
}

#[tokio::test]
async fn stopping_the_server_reports_missed_heartbeats_then_recovers() {
    let mut server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::File).await;
    let c = durable(&stream, "down").await;
    let errors = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::new(AtomicUsize::new(0));
    let (e, n) = (errors.clone(), seen.clone());
    let ctx = c
        .consume(move |m| {
            let n = n.clone();
            async move {
                m.ack().await.unwrap();
                n.fetch_add(1, Ordering::Relaxed);
            }
        })
        .expiry(Duration::from_secs(2))
        .heartbeat(Duration::from_millis(500))
        .error_handler(move |err| e.lock().unwrap().push(err.kind()))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.stop();
    let start = Instant::now();
    while !errors.lock().unwrap().contains(&ErrorKind::HeartbeatMissed) {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "no missed-heartbeat report while the server is down: {:?}",
            errors.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !ctx.is_closed(),
        "missed heartbeats are warnings, not the end"
    );
    server.start();
    let start = Instant::now();
    loop {
        match js.publish("s.x", "back").retry_attempts(0).await {
            Ok(_) => break,
            Err(e) => {
                assert!(start.elapsed() < Duration::from_secs(10), "{e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    let start = Instant::now();
    while seen.load(Ordering::Relaxed) < 1 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "consume did not recover"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ctx.stop();
}

#[tokio::test]
async fn double_ack_waits_at_most_the_context_timeout() {
    let server = Server::jetstream().start();
    let client = nats_core::connect(server.url()).await.unwrap();
    let js = jetstream::with_options(
        client,
        jetstream::JetStreamOptions {
            timeout: Duration::from_millis(500),
            ..Default::default()
        },
    );
    let stream = js
        .create_stream(StreamConfig {
            name: "DA".into(),
            subjects: vec!["da".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    js.publish("da", "x").await.unwrap();
    let c = durable(&stream, "da").await;
    let msg = c.next().await.unwrap();
    // A frozen server (SIGSTOP: the connection stays up, nothing answers): the
    // double ack gives up after the context's 500 ms, not after the client's
    // 10 s request timeout.
    let frozen = server.freeze();
    let started = Instant::now();
    let result = msg.double_ack().await;
    let took = started.elapsed();
    frozen.thaw();
    assert_eq!(result.unwrap_err().kind(), ErrorKind::Timeout);
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(3),
        "double_ack took {took:?}"
    );
    drop(server);
}

/// Pull inboxes take their pending limits from the pull's own budget: a connection whose
/// default allows only 5 unread messages (256 bytes) still gets every message of a 200
/// message fetch and of `messages()`, even when the reader starts late, with no drop.
#[tokio::test]
async fn pulls_never_drop_under_a_low_connection_pending_limit() {
    let server = Server::jetstream().start();
    let client = nats_core::ConnectOptions::new()
        .pending_limits(nats_core::PendingLimits::new(5, 256))
        .connect(server.url())
        .await
        .unwrap();
    let js = jetstream::new(client.clone());
    let stream = js
        .create_stream(StreamConfig {
            name: "S".into(),
            subjects: vec!["s.>".into()],
            storage: StorageType::Memory,
            ..Default::default()
        })
        .await
        .unwrap();
    publish_n(&js, 200).await;
    let c = durable(&stream, "c").await;

    let mut batch = c.fetch(200).max_wait(Duration::from_secs(2)).await.unwrap();
    // Let the whole batch arrive before reading any of it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut fetched = 0;
    while let Some(m) = batch.next().await {
        m.unwrap().ack().await.unwrap();
        fetched += 1;
    }
    assert_eq!(fetched, 200);

    let o = stream
        .ordered_consumer(jetstream::OrderedConsumerConfig::default())
        .await
        .unwrap();
    let mut messages = o.messages().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    for i in 0..200 {
        let m = tokio::time::timeout(Duration::from_secs(5), messages.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(m.data().as_ref(), format!("{i}").as_bytes());
    }
    assert_eq!(client.statistics().dropped_messages, 0);
}

/// An acknowledgement batched with those of the messages behind it (they
/// were waiting in the inbox) still goes out on its own when the user
/// stops there: within the client's batch tick, not at the next write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batched_ack_goes_out_when_the_user_stops_acking() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    publish_n(&js, 10).await;
    let c = durable(&stream, "c").await;
    // A second connection looks at the consumer: a request on the first
    // would take the batched ack along.
    let observer = jetstream::new(nats_core::connect(server.url()).await.unwrap());
    let watched = observer.consumer("S", "c").await.unwrap();

    for round in 0..3u64 {
        let mut batch = c.fetch(3).await.unwrap();
        // Let the whole batch arrive: the first message then has two behind it.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let m = batch.next().await.unwrap().unwrap();
        m.ack().await.unwrap();
        let start = Instant::now();
        loop {
            let info = watched.info().await.unwrap();
            if info.ack_floor.stream_sequence == round * 3 + 1 {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(2),
                "round {round}: the ack never went out ({info:?})"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // The rest of the batch, acknowledged in one go at the end.
        while let Some(m) = batch.next().await {
            m.unwrap().ack().await.unwrap();
        }
        // The server has the acks once the flush returns; it applies them to the
        // consumer a moment later.
        js.client().flush().await.unwrap();
        let start = Instant::now();
        loop {
            let info = watched.info().await.unwrap();
            if info.ack_floor.stream_sequence == round * 3 + 3 && info.num_ack_pending == 0 {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(2),
                "round {round}: the batch's acks never all went out ({info:?})"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
