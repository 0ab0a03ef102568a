//! Pulling and acknowledging as nats.go's `jetstream` package does (issue 16):
//! messages and bytes limits together, `next()` with a wait, warnings and
//! missed heartbeats of `messages()`, stopping `consume` from its error
//! handler, a shared `Messages`, `Msg::split`, `ack_next`, confirmed
//! nak/term/progress, and ordered consumer metadata.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use jetstream::{AckKind, ConsumerConfig, ErrorKind, OrderedConsumerConfig, StorageType};
use nats_testkit::Server;

use super::pull::{durable, publish_n, setup};

/// Waits until the consumer has `n` messages delivered and not acknowledged,
/// then a little longer, and returns the count then (more would show a limit
/// not honoured).
async fn settled_ack_pending(c: &jetstream::Consumer, n: u64) -> u64 {
    let start = Instant::now();
    while c.info().await.unwrap().num_ack_pending < n {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "fewer than {n} delivered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.info().await.unwrap().num_ack_pending
}

/// Publishes `n` messages of 1000 bytes each (about 1050 as the server counts
/// them, with subject and ack reply).
async fn publish_kb(js: &jetstream::JetStream, n: usize) {
    for _ in 0..n {
        js.publish("s.x", vec![b'x'; 1000]).await.unwrap();
    }
}

#[tokio::test]
async fn messages_and_bytes_limits_hold_together() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    publish_kb(&js, 20).await;

    // Bytes are the tighter limit: 3 messages of ~1050 bytes fit in 3500.
    let c = durable(&stream, "bytes").await;
    let mut messages = c
        .messages()
        .max_messages(100)
        .max_bytes(3500)
        .await
        .unwrap();
    assert_eq!(settled_ack_pending(&c, 3).await, 3);
    // Read on: every message comes exactly once while both budgets are topped up.
    let mut seen = BTreeSet::new();
    while seen.len() < 20 {
        let m = tokio::time::timeout(Duration::from_secs(5), messages.next())
            .await
            .expect("messages stalled")
            .unwrap()
            .unwrap();
        assert!(seen.insert(m.metadata().unwrap().sequence.stream));
        m.ack().await.unwrap();
    }
    drop(messages);

    // Messages are the tighter limit.
    let c = durable(&stream, "count").await;
    let _messages = c
        .messages()
        .max_messages(2)
        .max_bytes(1_000_000)
        .await
        .unwrap();
    assert_eq!(settled_ack_pending(&c, 2).await, 2);

    // The same on a consume loop (the options are shared).
    let c = durable(&stream, "consume").await;
    let ctx = c
        .consume(|_m| async move {
            // Never acknowledges: holds the loop on the first message.
            std::future::pending::<()>().await
        })
        .max_messages(100)
        .max_bytes(3500)
        .await
        .unwrap();
    assert_eq!(settled_ack_pending(&c, 3).await, 3);
    ctx.stop();

    // One fetch: whichever limit is reached first ends the batch.
    let c = durable(&stream, "fetch").await;
    let batch = c
        .fetch(10)
        .max_bytes(3500)
        .max_wait(Duration::from_secs(2))
        .await
        .unwrap();
    let got: Vec<_> = batch.map(|m| m.unwrap()).collect().await;
    assert_eq!(got.len(), 3);
    for m in &got {
        m.ack().await.unwrap();
    }
    let batch = c
        .fetch_bytes(1_000_000)
        .max_messages(2)
        .max_wait(Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(batch.count().await, 2);
}

#[tokio::test]
async fn next_takes_a_max_wait() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    let c = durable(&stream, "c").await;

    let start = Instant::now();
    let err = c
        .next()
        .max_wait(Duration::from_millis(500))
        .await
        .unwrap_err();
    let took = start.elapsed();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    // Designed: the server ends the pull after 500 ms (the client gives it 1 s more).
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_secs(3),
        "{took:?}"
    );

    // Still a future of its own: spawn it, then publish.
    let pending = tokio::spawn(c.next().max_wait(Duration::from_secs(5)));
    tokio::time::sleep(Duration::from_millis(100)).await;
    publish_n(&js, 1).await;
    let msg = pending.await.unwrap().unwrap();
    assert_eq!(msg.data().as_ref(), b"0");
    msg.ack().await.unwrap();

    // The plain call still waits (default 30 s) and gets a message.
    publish_n(&js, 1).await;
    c.next().await.unwrap().ack().await.unwrap();

    // Ordered consumers too.
    let ordered = stream
        .ordered_consumer(OrderedConsumerConfig {
            deliver_policy: jetstream::DeliverPolicy::New,
            ..Default::default()
        })
        .await
        .unwrap();
    let start = Instant::now();
    let err = ordered
        .next()
        .max_wait(Duration::from_millis(500))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(start.elapsed() < Duration::from_secs(3));
}

/// A consumer whose pulls of more than 5 messages are refused with
/// `409 Exceeded MaxRequestBatch`: a warning that does not end the pull.
async fn refusing_consumer(stream: &jetstream::Stream, name: &str) -> jetstream::Consumer {
    stream
        .create_consumer(ConsumerConfig {
            durable_name: Some(name.into()),
            max_batch: 5,
            ..Default::default()
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn messages_warnings_reach_the_handler_and_the_loop_goes_on() {
    let server = Server::jetstream().start();
    let (_js, stream) = setup(&server, StorageType::Memory).await;
    let c = refusing_consumer(&stream, "w").await;
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let w = warnings.clone();
    let mut messages = c
        .messages()
        .max_messages(10)
        .expiry(Duration::from_secs(2))
        .heartbeat(Duration::from_millis(500))
        .err_on_missing_heartbeat(false)
        .warning_handler(move |e| w.lock().unwrap().push(e))
        .await
        .unwrap();
    // The idiomatic `msg?` loop sees no item at all: warnings go to the handler.
    let item = tokio::time::timeout(Duration::from_secs(3), messages.next()).await;
    assert!(item.is_err(), "the stream yielded {:?}", item.unwrap());
    let warnings = warnings.lock().unwrap();
    assert!(
        warnings
            .iter()
            .any(|e| e.to_string().contains("MaxRequestBatch")),
        "{warnings:?}"
    );
    // Missed heartbeats went to the handler too, not to the stream.
    assert!(
        warnings
            .iter()
            .any(|e| e.kind() == ErrorKind::HeartbeatMissed),
        "{warnings:?}"
    );
}

#[tokio::test]
async fn missed_heartbeats_are_yielded_after_two_intervals() {
    let server = Server::jetstream().start();
    let (_js, stream) = setup(&server, StorageType::Memory).await;
    let c = refusing_consumer(&stream, "hb").await;
    // The refusal is the last thing the server sends: heartbeats never start.
    let heartbeat = Duration::from_secs(2);
    let start = Instant::now();
    let mut messages = c
        .messages()
        .max_messages(10)
        .expiry(Duration::from_secs(10))
        .heartbeat(heartbeat)
        .await
        .unwrap();
    let item = tokio::time::timeout(Duration::from_secs(10), messages.next())
        .await
        .expect("missed heartbeats not reported")
        .unwrap();
    let took = start.elapsed();
    assert_eq!(item.unwrap_err().kind(), ErrorKind::HeartbeatMissed);
    // Two intervals (4 s) after the refusal; counting in whole ticks took three (6 s).
    assert!(
        took >= heartbeat * 2 - Duration::from_millis(200) && took < Duration::from_millis(5_200),
        "{took:?}"
    );
    // A warning: the stream goes on.
    assert!(
        tokio::time::timeout(Duration::from_millis(500), messages.next())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn consume_error_handler_can_stop_its_own_loop() {
    let server = Server::jetstream().start();
    let (_js, stream) = setup(&server, StorageType::Memory).await;
    let c = refusing_consumer(&stream, "stop").await;
    let reported = Arc::new(AtomicUsize::new(0));

    // Goes on after a warning when the handler does not stop it.
    let r = reported.clone();
    let running = c
        .consume(|_m| async {})
        .max_messages(10)
        .error_handler(move |_| {
            r.fetch_add(1, Ordering::Relaxed);
        })
        .await
        .unwrap();

    let stopped = Arc::new(AtomicUsize::new(0));
    let s = stopped.clone();
    let ctx = c
        .consume(|_m| async {})
        .max_messages(10)
        .error_handler_with_context(move |err, ctx| {
            assert!(err.to_string().contains("MaxRequestBatch"), "{err}");
            s.fetch_add(1, Ordering::Relaxed);
            ctx.stop();
        })
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), ctx.closed())
        .await
        .expect("the handler's stop() did not end the loop");
    assert!(ctx.is_closed());
    assert_eq!(stopped.load(Ordering::Relaxed), 1);

    assert!(reported.load(Ordering::Relaxed) >= 1);
    assert!(!running.is_closed(), "a warning alone ends no loop");
    running.stop();
}

#[tokio::test]
async fn shared_messages_hand_each_message_to_one_worker() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    publish_n(&js, 200).await;
    let c = durable(&stream, "shared").await;
    let shared = c.messages().max_messages(20).await.unwrap().shared();
    let total = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let mut messages = shared.clone();
        let total = total.clone();
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while let Some(msg) = messages.next().await {
                let msg = msg.unwrap();
                mine.push(msg.metadata().unwrap().sequence.stream);
                msg.ack().await.unwrap();
                if total.fetch_add(1, Ordering::Relaxed) + 1 == 200 {
                    messages.stop();
                }
            }
            mine
        }));
    }
    let mut all = Vec::new();
    let mut busy = 0;
    for w in workers {
        let mine = tokio::time::timeout(Duration::from_secs(20), w)
            .await
            .expect("a worker did not end after stop()")
            .unwrap();
        busy += usize::from(!mine.is_empty());
        all.extend(mine);
    }
    all.sort_unstable();
    assert_eq!(all, (1..=200).collect::<Vec<u64>>());
    assert!(busy >= 2, "one worker took everything");
}

#[tokio::test]
async fn split_gives_the_message_and_its_acker() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    publish_n(&js, 1).await;
    let c = durable(&stream, "split").await;
    let (message, acker) = c.next().await.unwrap().split();
    assert_eq!(message.payload.as_ref(), b"0");
    assert_eq!(acker.metadata().unwrap().sequence.stream, 1);
    assert_eq!(acker.reply(), message.reply.as_deref());
    // The acker moves to another task.
    let acker = tokio::spawn(async move {
        acker.double_ack().await.unwrap();
        acker
    })
    .await
    .unwrap();
    assert_eq!(c.info().await.unwrap().num_ack_pending, 0);
    assert_eq!(
        acker.ack().await.unwrap_err().kind(),
        ErrorKind::AlreadyAcked
    );
}

#[tokio::test]
async fn confirmed_nak_term_and_progress() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    publish_n(&js, 2).await;
    let c = stream
        .create_consumer(ConsumerConfig {
            durable_name: Some("confirm".into()),
            ack_wait: Duration::from_secs(30),
            ..Default::default()
        })
        .await
        .unwrap();
    let first = c.next().await.unwrap();
    assert_eq!(first.metadata().unwrap().sequence.stream, 1);
    // Progress is confirmed and not final.
    first.double_ack_with(AckKind::Progress).await.unwrap();
    first.double_ack_with(AckKind::Progress).await.unwrap();
    // A confirmed nak: applied when it returns, so the message is back at once.
    first.double_ack_with(AckKind::Nak).await.unwrap();
    assert_eq!(
        first
            .double_ack_with(AckKind::Nak)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::AlreadyAcked
    );
    let again = c
        .fetch_no_wait(1)
        .await
        .unwrap()
        .next()
        .await
        .unwrap()
        .unwrap();
    let meta = again.metadata().unwrap();
    assert_eq!((meta.sequence.stream, meta.num_delivered), (1, 2));
    // A confirmed term: never delivered again.
    again.double_ack_with(AckKind::Term).await.unwrap();
    let info = c.info().await.unwrap();
    assert_eq!(info.num_ack_pending, 0);
    assert_eq!(info.ack_floor.stream_sequence, 1);
    let next = c.next().await.unwrap();
    assert_eq!(next.metadata().unwrap().sequence.stream, 2);
    // Fire-and-forget kinds through ack_with.
    next.ack_with(AckKind::Progress).await.unwrap();
    next.ack_with(AckKind::Ack).await.unwrap();
    assert_eq!(
        next.ack_with(AckKind::Term).await.unwrap_err().kind(),
        ErrorKind::AlreadyAcked
    );
}

#[tokio::test]
async fn ack_next_acknowledges_and_pulls_the_next() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    publish_n(&js, 6).await;
    let c = durable(&stream, "nxt").await;
    let mut msg = c.next().await.unwrap();
    let mut seqs = vec![msg.metadata().unwrap().sequence.stream];
    // One at a time through +NXT: each publish acks one and delivers the next.
    for _ in 0..3 {
        let mut batch = msg
            .ack_next(1)
            .unwrap()
            .max_wait(Duration::from_secs(2))
            .await
            .unwrap();
        assert_eq!(msg.ack().await.unwrap_err().kind(), ErrorKind::AlreadyAcked);
        msg = batch.next().await.unwrap().unwrap();
        assert!(batch.next().await.is_none(), "a batch of one");
        seqs.push(msg.metadata().unwrap().sequence.stream);
    }
    assert_eq!(seqs, [1, 2, 3, 4]);
    // A batch of two.
    let batch = msg
        .ack_next(2)
        .unwrap()
        .max_wait(Duration::from_secs(2))
        .await
        .unwrap();
    let rest: Vec<_> = batch.map(|m| m.unwrap()).collect().await;
    let rest_seqs: Vec<u64> = rest
        .iter()
        .map(|m| m.metadata().unwrap().sequence.stream)
        .collect();
    assert_eq!(rest_seqs, [5, 6]);
    // Nothing more: the batch ends at its max_wait, the message acked.
    let start = Instant::now();
    let batch = rest[1]
        .ack_next(1)
        .unwrap()
        .max_wait(Duration::from_millis(500))
        .await
        .unwrap();
    assert_eq!(batch.count().await, 0);
    assert!(start.elapsed() < Duration::from_secs(3));
    rest[0].ack().await.unwrap();
    let start = Instant::now();
    loop {
        let info = c.info().await.unwrap();
        if info.num_ack_pending == 0 && info.ack_floor.stream_sequence == 6 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "{info:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Refused at once: already acknowledged, a batch of 0.
    assert_eq!(
        rest[1].ack_next(1).unwrap_err().kind(),
        ErrorKind::AlreadyAcked
    );
    publish_n(&js, 1).await;
    let last = c.next().await.unwrap();
    assert_eq!(
        last.ack_next(0).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    // Split: the acker can do it too.
    let (_, acker) = last.split();
    let batch = acker
        .ack_next(1)
        .unwrap()
        .max_wait(Duration::from_millis(300))
        .await
        .unwrap();
    assert_eq!(batch.count().await, 0);
}

#[tokio::test]
async fn ordered_consumer_metadata_is_set_on_its_consumers() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    publish_n(&js, 3).await;
    let ordered = stream
        .ordered_consumer(OrderedConsumerConfig {
            metadata: [("owner".to_string(), "billing".to_string())].into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let info = ordered.info().await.unwrap();
    assert_eq!(
        info.config.metadata.get("owner").map(String::as_str),
        Some("billing")
    );
    // Also on the consumer it recreates for the next fetch.
    ordered.next().await.unwrap();
    ordered.next().await.unwrap();
    let info = ordered.info().await.unwrap();
    assert!(info.name.ends_with("_2"), "{}", info.name);
    assert_eq!(
        info.config.metadata.get("owner").map(String::as_str),
        Some("billing")
    );
    // Ordered messages are not acknowledged: no ack_next either.
    let msg = ordered.next().await.unwrap();
    assert_eq!(
        msg.ack_next(1).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
}
