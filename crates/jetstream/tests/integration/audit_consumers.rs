//! Audit of publishing (issue 6) and consumers (issue 7): the behaviours the
//! other test files leave out, each against a real nats-server.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use jetstream::{ErrorKind, JetStreamOptions, OrderedConsumerConfig, StorageType, StreamConfig};
use nats_testkit::Server;
use tokio::sync::Notify;

use crate::pull::{durable, setup};

/// Crashes the server (SIGKILL: no `409 Server Shutdown` reaches waiting
/// pulls) and starts it again without blocking the runtime's other worker,
/// then waits until the client is back and JetStream answers again.
pub(crate) async fn crash_restart_and_wait(server: &mut Server, js: &jetstream::JetStream) {
    let reconnects = js.client().statistics().reconnects;
    tokio::task::block_in_place(|| {
        server.stop();
        server.start();
    });
    let start = Instant::now();
    while js.client().statistics().reconnects == reconnects {
        assert!(start.elapsed() < Duration::from_secs(15), "no reconnect");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    while js.account_info().await.is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "JetStream not back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---------------------------------------------------------------------------
// Re-pull after a reconnect the loop did not see happen (it was not polled
// while the connection went down and came back: a busy handler, or a
// `Messages` nobody read). Default heartbeats (15 s; 5 s ordered) would only
// recover after 30 s (10 s), so the bounds below tell the two apart.
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consume_repulls_after_a_reconnect_while_the_handler_was_busy() {
    let mut server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::File).await;
    js.publish("s.x", "before").await.unwrap();
    let c = durable(&stream, "busy").await;
    let started = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (st, rel, s) = (started.clone(), release.clone(), seen.clone());
    let ctx = c
        .consume(move |m| {
            let (st, rel, s) = (st.clone(), rel.clone(), s.clone());
            async move {
                // Only the first delivery waits (a crash may redeliver it).
                if m.data() == "before" && s.lock().unwrap().is_empty() {
                    st.notify_one();
                    rel.notified().await;
                }
                let _ = m.ack().await;
                s.lock().unwrap().push(m.data().clone());
            }
        })
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), started.notified())
        .await
        .expect("first message not handled");
    crash_restart_and_wait(&mut server, &js).await;
    js.publish("s.x", "after").await.unwrap();
    release.notify_one();
    let start = Instant::now();
    while !seen.lock().unwrap().iter().any(|d| d == "after") {
        assert!(
            start.elapsed() < Duration::from_secs(8),
            "no pull after the reconnect: {:?}",
            seen.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A crash may lose the (unconfirmed) ack of "before": it may come again.
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen[0], "before");
    assert_eq!(seen.last().unwrap(), "after");
    assert!(
        seen[..seen.len() - 1].iter().all(|d| d == "before"),
        "{seen:?}"
    );
    ctx.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_repull_after_a_reconnect_while_not_read() {
    let mut server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::File).await;
    js.publish("s.x", "before").await.unwrap();
    let c = durable(&stream, "idle").await;
    let mut messages = c.messages().await.unwrap();
    let m = messages.next().await.unwrap().unwrap();
    assert_eq!(m.data(), "before");
    m.ack().await.unwrap();
    crash_restart_and_wait(&mut server, &js).await;
    js.publish("s.x", "after").await.unwrap();
    // A crash may lose the (unconfirmed) ack: "before" may come again;
    // "after" must follow without waiting for missed heartbeats.
    let deadline = Instant::now() + Duration::from_secs(8);
    loop {
        let m = tokio::time::timeout_at(deadline.into(), messages.next())
            .await
            .expect("no pull after the reconnect")
            .unwrap()
            .unwrap();
        let meta = m.metadata().unwrap();
        m.ack().await.unwrap();
        if m.data() == "after" {
            assert_eq!(meta.sequence.stream, 2);
            break;
        }
        // The crash may have lost the delivery count too: only the sequence is sure.
        assert_eq!(meta.sequence.stream, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordered_messages_recreate_after_a_reconnect_while_not_read() {
    let mut server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::File).await;
    for i in 0..3 {
        js.publish("s.x", format!("{i}")).await.unwrap();
    }
    let ordered = stream
        .ordered_consumer(OrderedConsumerConfig {
            name_prefix: Some("rc".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = ordered.messages().await.unwrap();
    for i in 0..3 {
        let m = messages.next().await.unwrap().unwrap();
        assert_eq!(m.data(), format!("{i}").as_str());
    }
    crash_restart_and_wait(&mut server, &js).await;
    for i in 3..6 {
        js.publish("s.x", format!("{i}")).await.unwrap();
    }
    for i in 3..6u64 {
        let m = tokio::time::timeout(Duration::from_secs(6), messages.next())
            .await
            .expect("ordered consumer not recreated after the reconnect")
            .unwrap()
            .unwrap();
        assert_eq!(m.metadata().unwrap().sequence.stream, i + 1);
    }
    assert!(ordered.cached_info().name.starts_with("rc_"));
    assert_ne!(ordered.cached_info().name, "rc_1");
}

// ---------------------------------------------------------------------------
// 409 Batch Completed. The server sends it when a pull's message count is
// used up while its byte budget is not. The client's byte-mode pulls ask for
// 1 000 000 messages, so a proxy on a custom API prefix forwards every call
// to the real JetStream API and caps the batch of pulls at 7: the statuses
// then come from the real server.
// ---------------------------------------------------------------------------

const CAPPED_BATCH: u64 = 7;

/// Forwards `PROXY.API.>` to `$JS.API.>`, capping pull batches; counts pulls.
async fn start_capping_proxy(url: &str) -> Arc<AtomicUsize> {
    let client = nats_core::connect(url).await.unwrap();
    let mut sub = client.subscribe("PROXY.API.>").await.unwrap();
    client.flush().await.unwrap();
    let pulls = Arc::new(AtomicUsize::new(0));
    let counted = pulls.clone();
    tokio::spawn(async move {
        while let Some(m) = sub.next().await {
            let rest = m.subject.strip_prefix("PROXY.API.").unwrap().to_string();
            let target = format!("$JS.API.{rest}");
            let Some(reply) = m.reply.as_ref().map(|r| r.to_string()) else {
                continue;
            };
            if rest.starts_with("CONSUMER.MSG.NEXT.") {
                let mut body: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
                let batch = body["batch"].as_u64().unwrap_or(1).min(CAPPED_BATCH);
                body["batch"] = batch.into();
                counted.fetch_add(1, Ordering::Relaxed);
                client
                    .publish_with_reply(target, reply, serde_json::to_vec(&body).unwrap())
                    .await
                    .unwrap();
            } else {
                let answer = client.request(target, m.payload.clone()).await.unwrap();
                client.publish(reply, answer.payload).await.unwrap();
            }
        }
    });
    pulls
}

#[tokio::test]
async fn batch_completed_does_not_stall_consume_or_fetch_bytes() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    for i in 0..100 {
        js.publish("s.x", format!("{i:03}")).await.unwrap();
    }
    durable(&stream, "bc").await;
    let pulls = start_capping_proxy(&server.url()).await;
    let client = nats_core::connect(server.url()).await.unwrap();
    let proxied = jetstream::with_options(
        client,
        JetStreamOptions {
            api_prefix: "PROXY.API".into(),
            ..Default::default()
        },
    );
    let c = proxied.consumer("S", "bc").await.unwrap();

    // fetch_bytes: 7 messages, then 409 Batch Completed ends the batch at once,
    // without an error (not at the 10 s expiry).
    let start = Instant::now();
    let items: Vec<_> = c
        .fetch_bytes(64 * 1024)
        .max_wait(Duration::from_secs(10))
        .await
        .unwrap()
        .collect()
        .await;
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "fetch_bytes stalled"
    );
    assert_eq!(items.len(), CAPPED_BATCH as usize);
    for m in &items {
        m.as_ref().unwrap().ack().await.unwrap();
    }

    // consume in byte mode: every Batch Completed gives the unused bytes back,
    // so the next pull goes out at once (the default heartbeat is 15 s).
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
        .max_bytes(64 * 1024)
        .await
        .unwrap();
    let start = Instant::now();
    while seen.lock().unwrap().len() < 93 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "consume stalled after a Batch Completed: {} of 93",
            seen.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    ctx.stop();
    assert_eq!(*seen.lock().unwrap(), (8..=100).collect::<Vec<u64>>());
    // 93 messages in batches of at most 7: at least 14 pulls after the fetch.
    assert!(pulls.load(Ordering::Relaxed) >= 15);
}

// ---------------------------------------------------------------------------
// publish_async: per-ack timeout, dropped futures, options on the async path.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn publish_async_ack_timeout_and_dropped_futures_free_their_slots() {
    let server = Server::jetstream().start();
    let client = nats_core::connect(server.url()).await.unwrap();
    let js = jetstream::with_options(
        client.clone(),
        JetStreamOptions {
            max_pending_acks: 2,
            ..Default::default()
        },
    );
    // Someone listens (so no 503) but never answers: acks never come.
    let _silent = client.subscribe("silent").await.unwrap();
    client.flush().await.unwrap();

    let start = Instant::now();
    let ack = js
        .publish_async("silent", "x")
        .timeout(Duration::from_millis(300))
        .await
        .unwrap();
    assert_eq!(js.publish_async_pending(), 1);
    assert_eq!(ack.await.unwrap_err().kind(), ErrorKind::Timeout);
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(2),
        "{took:?}"
    );
    assert_eq!(
        js.publish_async_pending(),
        0,
        "a timed-out ack keeps its slot"
    );

    // Fill the window, then drop the futures: the next publish does not wait.
    let a = js.publish_async("silent", "a").await.unwrap();
    let b = js.publish_async("silent", "b").await.unwrap();
    assert_eq!(js.publish_async_pending(), 2);
    drop((a, b));
    assert_eq!(js.publish_async_pending(), 0);
    let start = Instant::now();
    let c = js.publish_async("silent", "c").await.unwrap();
    assert!(start.elapsed() < Duration::from_millis(500));
    drop(c);
    js.publish_async_complete().await.unwrap();
}

#[tokio::test]
async fn publish_async_carries_the_options() {
    let server = Server::jetstream().start();
    let (js, _stream) = setup(&server, StorageType::Memory).await;
    let first = js
        .publish_async("s.a", "1")
        .msg_id("one")
        .await
        .unwrap()
        .await
        .unwrap();
    let dup = js
        .publish_async("s.a", "again")
        .msg_id("one")
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(dup.duplicate);
    assert_eq!(dup.sequence, first.sequence);
    let err = js
        .publish_async("s.a", "x")
        .expected_last_sequence(7)
        .await
        .unwrap()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongLastSequence);
    let err = js
        .publish_async("s.a", "x")
        .expected_stream("OTHER")
        .await
        .unwrap()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StreamMismatch);
}

// ---------------------------------------------------------------------------
// Ordered consumer (re)creation: an error that retrying cannot fix ends the
// loop at once; transient ones are retried at most max_reset_attempts times
// (10 by default).
// ---------------------------------------------------------------------------

#[tokio::test]
async fn ordered_consumer_surfaces_a_consumer_limit_at_once() {
    let server = Server::jetstream().start();
    let client = nats_core::connect(server.url()).await.unwrap();
    let js = jetstream::new(client);
    // One consumer at most: once another takes the slot, recreating fails.
    let stream = js
        .create_stream(StreamConfig {
            name: "ONE".into(),
            subjects: vec!["one".into()],
            storage: StorageType::Memory,
            max_consumers: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    for i in 0..3 {
        js.publish("one", format!("{i}")).await.unwrap();
    }
    // The default: no max_reset_attempts.
    let ordered = stream
        .ordered_consumer(OrderedConsumerConfig {
            name_prefix: Some("lim".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = ordered
        .messages()
        .expiry(Duration::from_secs(2))
        .heartbeat(Duration::from_millis(500))
        .await
        .unwrap();
    for _ in 0..3 {
        messages.next().await.unwrap().unwrap();
    }
    // Not polled meanwhile: the loop cannot recreate before the slot is taken.
    stream.delete_consumer("lim_1").await.unwrap();
    durable(&stream, "blocker").await;
    let err = tokio::time::timeout(Duration::from_secs(3), messages.next())
        .await
        .expect("the ordered consumer kept retrying a consumer limit")
        .unwrap()
        .unwrap_err();
    assert_eq!(err.api_error().map(|a| a.err_code.0), Some(10026), "{err}");
    assert!(messages.next().await.is_none());
    assert_eq!(ordered.last_stream_sequence(), 3);
}

#[tokio::test]
async fn ordered_consumer_gives_up_after_max_reset_attempts() {
    let server = Server::jetstream().start();
    let client = nats_core::connect(server.url()).await.unwrap();
    let js = jetstream::with_options(
        client,
        JetStreamOptions {
            timeout: Duration::from_millis(300),
            ..Default::default()
        },
    );
    let (_, stream) = setup(&server, StorageType::Memory).await;
    js.publish("s.x", "0").await.unwrap();
    let ordered = js
        .ordered_consumer(
            stream.name(),
            OrderedConsumerConfig {
                max_reset_attempts: Some(2),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut messages = ordered
        .messages()
        .expiry(Duration::from_secs(2))
        .heartbeat(Duration::from_millis(500))
        .await
        .unwrap();
    messages.next().await.unwrap().unwrap();
    // A frozen server: every creation request times out (a transient error).
    let frozen = server.freeze();
    let start = Instant::now();
    let mut errors = Vec::new();
    let ended = tokio::time::timeout(Duration::from_secs(8), async {
        while let Some(item) = messages.next().await {
            errors.push(item.unwrap_err().kind());
        }
    })
    .await;
    let took = start.elapsed();
    drop(frozen);
    ended.unwrap_or_else(|_| panic!("the ordered consumer kept retrying: {errors:?}"));
    assert_eq!(
        errors.first(),
        Some(&ErrorKind::HeartbeatMissed),
        "{errors:?}"
    );
    assert_eq!(errors.last(), Some(&ErrorKind::Timeout), "{errors:?}");
    // Missed heartbeats (~1 s), then two attempts with a 1 s backoff between them.
    assert!(took >= Duration::from_millis(1900), "{took:?}");
}

// ---------------------------------------------------------------------------
// Dropping the handles stops the loops.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn dropping_the_consume_context_or_messages_stops_pulling() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    let c = durable(&stream, "drop").await;
    let handled = Arc::new(AtomicUsize::new(0));
    let h = handled.clone();
    let ctx = c
        .consume(move |m| {
            let h = h.clone();
            async move {
                m.ack().await.unwrap();
                h.fetch_add(1, Ordering::Relaxed);
            }
        })
        .await
        .unwrap();
    js.publish("s.x", "1").await.unwrap();
    let start = Instant::now();
    while handled.load(Ordering::Relaxed) < 1 {
        assert!(start.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(ctx);
    let messages = c.messages().await.unwrap();
    drop(messages);
    tokio::time::sleep(Duration::from_millis(200)).await;
    for i in 0..5 {
        js.publish("s.x", format!("{i}")).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(handled.load(Ordering::Relaxed), 1);
    // Nothing was handed to the dropped loops: all five are still there.
    let n = c
        .fetch(10)
        .max_wait(Duration::from_millis(500))
        .await
        .unwrap()
        .count()
        .await;
    assert_eq!(n, 5);
}
