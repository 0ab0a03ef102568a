use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use jetstream::{DeliverPolicy, OrderedConsumerConfig, StorageType, StreamConfig};
use nats_testkit::Server;

async fn setup(server: &Server, storage: StorageType) -> (jetstream::JetStream, jetstream::Stream) {
    let client = nats_core::connect(server.url()).await.unwrap();
    let js = jetstream::new(client);
    let stream = js
        .create_stream(StreamConfig {
            name: "O".into(),
            subjects: vec!["o.>".into()],
            storage,
            ..Default::default()
        })
        .await
        .unwrap();
    (js, stream)
}

async fn publish_range(js: &jetstream::JetStream, range: std::ops::Range<u32>) {
    let mut acks = Vec::new();
    for i in range {
        acks.push(
            js.publish_async(format!("o.{}", i % 3), i.to_string())
                .await
                .unwrap(),
        );
    }
    for a in acks {
        a.await.unwrap();
    }
}

async fn read_exactly(messages: &mut jetstream::Messages, expected: std::ops::Range<u32>) {
    for i in expected {
        let m = tokio::time::timeout(Duration::from_secs(15), messages.next())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {i}"))
            .unwrap()
            .unwrap();
        assert_eq!(
            m.data(),
            i.to_string().as_bytes(),
            "out of order or duplicate"
        );
        assert_eq!(m.metadata().unwrap().sequence.stream, u64::from(i) + 1);
    }
}

#[tokio::test]
async fn ordered_messages_survive_consumer_deletion_mid_stream() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    publish_range(&js, 0..100).await;
    let ordered = stream
        .ordered_consumer(OrderedConsumerConfig {
            name_prefix: Some("ord".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ordered.cached_info().name, "ord_1");
    // A deleted consumer's waiting pull may vanish without a 409: the missed
    // heartbeats then trigger the recreation, so keep them short here.
    let mut messages = ordered
        .messages()
        .max_messages(10)
        .expiry(Duration::from_secs(2))
        .heartbeat(Duration::from_millis(500))
        .await
        .unwrap();
    read_exactly(&mut messages, 0..50).await;
    let name = ordered.cached_info().name.clone();
    stream.delete_consumer(&name).await.unwrap();
    publish_range(&js, 100..150).await;
    // Missed heartbeats, if the pull vanished, are reported on the way.
    read_through_warnings(&mut messages, 50..150).await;
    assert_ne!(ordered.cached_info().name, name);
    assert!(ordered.cached_info().name.starts_with("ord_"));
    assert_eq!(ordered.last_stream_sequence(), 150);
}

#[tokio::test]
async fn ordered_messages_survive_a_server_restart() {
    let mut server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::File).await;
    publish_range(&js, 0..100).await;
    let ordered = stream
        .ordered_consumer(OrderedConsumerConfig::default())
        .await
        .unwrap();
    let mut messages = ordered
        .messages()
        .heartbeat(Duration::from_millis(500))
        .expiry(Duration::from_secs(2))
        .await
        .unwrap();
    read_exactly(&mut messages, 0..60).await;
    server.restart();
    // Publish more once the client is back.
    let start = Instant::now();
    loop {
        match js.publish("o.0", "100").retry_attempts(0).await {
            Ok(_) => break,
            Err(e) => {
                assert!(start.elapsed() < Duration::from_secs(10), "{e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    publish_range(&js, 101..120).await;
    read_exactly(&mut messages, 60..120).await;
}

#[tokio::test]
async fn ordered_fetches_continue_where_the_last_one_ended() {
    let server = Server::jetstream().start();
    let (js, _stream) = setup(&server, StorageType::Memory).await;
    publish_range(&js, 0..25).await;
    let ordered = js
        .ordered_consumer(
            "O",
            OrderedConsumerConfig {
                name_prefix: Some("f".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let batch = ordered
            .fetch(10)
            .max_wait(Duration::from_millis(500))
            .await
            .unwrap();
        let msgs: Vec<_> = batch.collect().await;
        for m in msgs {
            seen.push(m.unwrap().metadata().unwrap().sequence.stream);
        }
    }
    assert_eq!(seen, (1..=25).collect::<Vec<u64>>());
    // Each fetch after the first made a new consumer: serials went up.
    assert_eq!(ordered.cached_info().name, "f_3");
    let m = ordered.fetch_no_wait(5).await.unwrap().count().await;
    assert_eq!(m, 0);
}

#[tokio::test]
async fn ordered_consume_with_filters_and_deliver_policy() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    publish_range(&js, 0..30).await;
    let ordered = stream
        .ordered_consumer(OrderedConsumerConfig {
            filter_subjects: vec!["o.1".into()],
            deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: 10 },
            ..Default::default()
        })
        .await
        .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let ctx = ordered
        .consume(move |m| {
            let s = s.clone();
            async move {
                assert_eq!(m.subject(), "o.1");
                s.lock()
                    .unwrap()
                    .push(m.metadata().unwrap().sequence.stream);
                // Ack-none messages refuse acks.
                assert!(m.ack().await.is_err());
            }
        })
        .await
        .unwrap();
    // o.1 holds i % 3 == 1: stream sequences 2, 5, 8, ...; from 10 on: 11, 14, ..., 29.
    let expected: Vec<u64> = (10..=30).filter(|s| (s - 1) % 3 == 1).collect();
    let start = Instant::now();
    while seen.lock().unwrap().len() < expected.len() {
        assert!(start.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    ctx.stop();
    assert_eq!(*seen.lock().unwrap(), expected);
}

#[tokio::test]
async fn ordered_next_and_invalid_input() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    publish_range(&js, 0..3).await;
    let ordered = stream
        .ordered_consumer(OrderedConsumerConfig::default())
        .await
        .unwrap();
    for i in 0..3u32 {
        let m = ordered.next().await.unwrap();
        assert_eq!(m.data(), i.to_string().as_bytes());
    }
    let err = js
        .ordered_consumer("NOPE", OrderedConsumerConfig::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), jetstream::ErrorKind::StreamNotFound);
    let err = js
        .ordered_consumer("bad.name", OrderedConsumerConfig::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), jetstream::ErrorKind::InvalidName);
}

#[tokio::test]
async fn one_receive_mode_at_a_time() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    publish_range(&js, 0..10).await;

    // Read by messages(): a second loop is refused while the first runs, and
    // fetching is refused for good.
    let looped = stream
        .ordered_consumer(OrderedConsumerConfig::default())
        .await
        .unwrap();
    let mut messages = looped.messages().await.unwrap();
    read_exactly(&mut messages, 0..5).await;
    match looped.messages().await {
        Err(e) => assert_eq!(e.kind(), jetstream::ErrorKind::InvalidArgument),
        Ok(_) => panic!("a second messages() loop was accepted"),
    }
    assert_eq!(
        looped.fetch(1).await.unwrap_err().kind(),
        jetstream::ErrorKind::InvalidArgument
    );
    // Once the loop is gone another may start, and it goes on in order.
    drop(messages);
    let mut messages = looped.messages().await.unwrap();
    read_exactly(&mut messages, 5..10).await;
    drop(messages);

    // Read by fetch: messages() and consume() are refused.
    let fetched = stream
        .ordered_consumer(OrderedConsumerConfig::default())
        .await
        .unwrap();
    let batch: Vec<_> = fetched.fetch(3).await.unwrap().collect().await;
    assert_eq!(batch.len(), 3);
    match fetched.messages().await {
        Err(e) => assert_eq!(e.kind(), jetstream::ErrorKind::InvalidArgument),
        Ok(_) => panic!("messages() after fetch() was accepted"),
    }
    match fetched.consume(|_msg| async {}).await {
        Err(e) => assert_eq!(e.kind(), jetstream::ErrorKind::InvalidArgument),
        Ok(_) => panic!("consume() after fetch() was accepted"),
    }
    let next = fetched.next().await.unwrap();
    assert_eq!(next.metadata().unwrap().sequence.stream, 4);
}

/// Reads `expected` in order (by payload and stream sequence), skipping
/// missed-heartbeat warnings.
async fn read_through_warnings(messages: &mut jetstream::Messages, expected: std::ops::Range<u32>) {
    for i in expected {
        loop {
            let item = tokio::time::timeout(Duration::from_secs(15), messages.next())
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {i}"))
                .expect("the ordered consumer ended");
            match item {
                Ok(m) => {
                    assert_eq!(
                        m.data(),
                        i.to_string().as_bytes(),
                        "out of order or duplicate"
                    );
                    assert_eq!(m.metadata().unwrap().sequence.stream, u64::from(i) + 1);
                    break;
                }
                Err(e) => assert_eq!(e.kind(), jetstream::ErrorKind::HeartbeatMissed, "{e}"),
            }
        }
    }
}

#[tokio::test]
async fn ordered_messages_report_missed_heartbeats_while_the_server_is_frozen() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    publish_range(&js, 0..10).await;
    let ordered = stream
        .ordered_consumer(OrderedConsumerConfig::default())
        .await
        .unwrap();
    let mut messages = ordered
        .messages()
        .expiry(Duration::from_secs(2))
        .heartbeat(Duration::from_millis(500))
        .await
        .unwrap();
    read_exactly(&mut messages, 0..10).await;
    let frozen = server.freeze();
    let start = Instant::now();
    let item = tokio::time::timeout(Duration::from_secs(4), messages.next()).await;
    let took = start.elapsed();
    drop(frozen);
    let err = item
        .expect("a frozen server went unreported")
        .expect("the ordered consumer ended")
        .unwrap_err();
    assert_eq!(err.kind(), jetstream::ErrorKind::HeartbeatMissed, "{err}");
    assert!(took >= Duration::from_millis(900), "{took:?}");
    // It recovers: in order, nothing lost, nothing twice.
    publish_range(&js, 10..20).await;
    read_through_warnings(&mut messages, 10..20).await;
}

#[tokio::test]
async fn two_ordered_fetches_at_once_never_deliver_twice() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    publish_range(&js, 0..10).await;
    let ordered = stream
        .ordered_consumer(OrderedConsumerConfig::default())
        .await
        .unwrap();
    let clone = ordered.clone();
    let wait = Duration::from_millis(500);
    // On clones, and on the same handle.
    for (a, b) in [(&ordered, &clone), (&ordered, &ordered)] {
        let (x, y) = tokio::join!(
            std::future::IntoFuture::into_future(a.fetch(3).max_wait(wait)),
            std::future::IntoFuture::into_future(b.fetch(3).max_wait(wait)),
        );
        let mut seen = Vec::new();
        let mut refused = 0;
        for batch in [x, y] {
            match batch {
                Ok(batch) => {
                    for m in batch.collect::<Vec<_>>().await {
                        seen.push(m.unwrap().metadata().unwrap().sequence.stream);
                    }
                }
                Err(e) => {
                    assert_eq!(e.kind(), jetstream::ErrorKind::InvalidArgument, "{e}");
                    refused += 1;
                }
            }
        }
        let mut unique = seen.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(seen.len(), unique.len(), "delivered twice: {seen:?}");
        assert_eq!(refused, 1, "{seen:?}");
    }
    // One at a time goes on in order: 1-3, 4-6 above, then 7.
    let next = ordered.next().await.unwrap();
    assert_eq!(next.metadata().unwrap().sequence.stream, 7);
    // A batch read to its end no longer blocks the next fetch, even if kept.
    let mut batch = ordered.fetch(1).await.unwrap();
    assert!(batch.next().await.unwrap().is_ok());
    let again = ordered
        .fetch(1)
        .await
        .unwrap()
        .next()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.metadata().unwrap().sequence.stream, 9);
    drop(batch);
}
