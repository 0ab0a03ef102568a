//! Opt-in soak test (slow): publishing and consuming while the server is
//! crashed and restarted over and over.
//!
//! `NATS_SOAK_SECS=120 cargo test -p nats-jetstream --test integration soak -- --ignored --nocapture`
//! (60 s without the variable). A publisher sends with message ids, retrying
//! until acked; a durable AckExplicit consumer (`consume`, `ack`) and an
//! ordered consumer (`messages`) read at the same time; every 3 s the server
//! gets SIGKILL and is started again on the same store. Checked: every acked
//! publish reaches the durable consumer (nothing lost), the ordered consumer
//! yields every stream sequence exactly once and in order, and nothing hangs.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use jetstream::{OrderedConsumerConfig, StorageType};
use nats_testkit::Server;

use crate::audit_consumers::crash_restart_and_wait;
use crate::pull::{durable, setup};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "soak: slow; NATS_SOAK_SECS=<seconds> and --ignored to run it"]
async fn publish_and_consume_through_repeated_server_crashes() {
    let secs: u64 = std::env::var("NATS_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let mut server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::File).await;
    let consumer = durable(&stream, "soak").await;
    let stop = Arc::new(AtomicBool::new(false));

    // Publisher: ids 0.., each retried (same message id) until acked.
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let publisher = tokio::spawn({
        let (js, stop, acked) = (js.clone(), stop.clone(), acked.clone());
        async move {
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let sent = js
                    .publish("s.x", i.to_string())
                    .msg_id(format!("m{i}"))
                    .retry_attempts(20)
                    .retry_wait(Duration::from_millis(100))
                    .timeout(Duration::from_secs(2))
                    .await;
                match sent {
                    Ok(_) => {
                        acked.lock().unwrap().insert(i);
                        i += 1;
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        }
    });

    // Durable AckExplicit consumer: counts deliveries per id.
    let received: Arc<Mutex<HashMap<u64, u32>>> = Arc::default();
    let events: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let count = |events: &Arc<Mutex<HashMap<String, u32>>>, what: String| {
        *events.lock().unwrap().entry(what).or_default() += 1;
    };
    let ctx = consumer
        .consume({
            let (received, events) = (received.clone(), events.clone());
            move |m| {
                let (received, events) = (received.clone(), events.clone());
                async move {
                    let id: u64 = std::str::from_utf8(m.data()).unwrap().parse().unwrap();
                    *received.lock().unwrap().entry(id).or_default() += 1;
                    // A plain ack: a double ack of a message delivered before a
                    // SIGKILL can go unanswered by the restarted server, and
                    // each would hold the loop for the whole request timeout.
                    if let Err(e) = m.ack().await {
                        count(&events, format!("ack {:?}", e.kind()));
                    }
                }
            }
        })
        .error_handler({
            let events = events.clone();
            move |e| count(&events, format!("consume {:?}: {e}", e.kind()))
        })
        .expiry(Duration::from_secs(5))
        .heartbeat(Duration::from_secs(1))
        .await
        .unwrap();

    // Ordered consumer: every stream sequence once, in order.
    let ordered_last = Arc::new(AtomicU64::new(0));
    let mut ordered = stream
        .ordered_consumer(OrderedConsumerConfig::default())
        .await
        .unwrap()
        .messages()
        .await
        .unwrap();
    let reader = tokio::spawn({
        let last = ordered_last.clone();
        async move {
            while let Some(item) = ordered.next().await {
                let Ok(m) = item else { continue }; // warnings (missed heartbeats)
                let seq = m.metadata().unwrap().sequence.stream;
                let prev = last.load(Ordering::SeqCst);
                assert_eq!(seq, prev + 1, "ordered consumer: gap or duplicate");
                last.store(seq, Ordering::SeqCst);
            }
        }
    });

    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut crashes = 0;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(3)).await;
        crash_restart_and_wait(&mut server, &js).await;
        crashes += 1;
    }
    stop.store(true, Ordering::SeqCst);
    tokio::time::timeout(Duration::from_secs(30), publisher)
        .await
        .expect("the publisher hung")
        .unwrap();

    // Everything acked arrives (redeliveries allowed), and the ordered
    // consumer catches up with the stream.
    let acked = acked.lock().unwrap().clone();
    let stored = stream.info().await.unwrap().state.last_seq;
    let settle = Instant::now();
    loop {
        let missing = {
            let received = received.lock().unwrap();
            acked.iter().filter(|id| !received.contains_key(id)).count()
        };
        let ordered_at = ordered_last.load(Ordering::SeqCst);
        if missing == 0 && ordered_at >= stored {
            break;
        }
        if settle.elapsed() >= Duration::from_secs(60) {
            let info = consumer.info().await.map(|i| {
                format!(
                    "delivered {:?}, ack floor {:?}, ack pending {}, pending {}, waiting {}",
                    i.delivered, i.ack_floor, i.num_ack_pending, i.num_pending, i.num_waiting
                )
            });
            let got = received.lock().unwrap().len();
            panic!(
                "after {crashes} crashes: {missing} acked messages never consumed \
                 ({} received); ordered consumer at {ordered_at} of {stored}; consumer: {info:?}; \
                 events: {:?}; client: {:?}",
                got,
                events.lock().unwrap(),
                js.client().statistics()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let redelivered: u32 = received
        .lock()
        .unwrap()
        .values()
        .map(|n| n.saturating_sub(1))
        .sum();
    eprintln!(
        "soak: {secs} s, {crashes} crashes, {} messages acked, {stored} stored, \
         {redelivered} redeliveries, ordered consumer exactly once in order",
        acked.len()
    );
    assert!(!reader.is_finished(), "the ordered consumer ended");
    ctx.stop();
    reader.abort();
}
