//! consume_concurrent: concurrency reaches n and never more, per-subject
//! ordering, panic isolation, drain waits for running handlers, automatic
//! in-progress, nothing lost or duplicated.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jetstream::{ConsumerConfig, ErrorKind, StorageType};
use nats_testkit::Server;

use crate::pull::{durable, setup};
use crate::typed::wait_until;

/// Counts handlers running now and the most seen at once.
#[derive(Default)]
struct Gauge {
    now: AtomicUsize,
    max: AtomicUsize,
}

impl Gauge {
    fn enter(&self) {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
    }
    fn leave(&self) {
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
    fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }
}

async fn publish_to(js: &jetstream::JetStream, subjects: &[&str], per_subject: usize) {
    let mut acks = Vec::new();
    for i in 0..per_subject {
        for s in subjects {
            acks.push(js.publish_async(*s, format!("{i}")).await.unwrap());
        }
    }
    for a in acks {
        a.await.unwrap();
    }
}

#[tokio::test]
async fn concurrency_reaches_n_and_never_exceeds_it() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    publish_to(&js, &["s.x"], 40).await;
    let c = durable(&stream, "c").await;
    let gauge = Arc::new(Gauge::default());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (g, s) = (gauge.clone(), seen.clone());
    let ctx = c
        .consume_concurrent(8, move |msg| {
            let (g, s) = (g.clone(), s.clone());
            async move {
                g.enter();
                tokio::time::sleep(Duration::from_millis(200)).await;
                g.leave();
                s.lock()
                    .unwrap()
                    .push(msg.metadata().unwrap().sequence.stream);
                msg.ack().await.unwrap();
            }
        })
        .await
        .unwrap();
    wait_until(|| seen.lock().unwrap().len() == 40).await;
    ctx.drain().await;
    assert_eq!(
        gauge.max(),
        8,
        "at most, and at some point exactly, 8 at once"
    );
    let mut seqs = seen.lock().unwrap().clone();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=40).collect::<Vec<u64>>());
}

#[tokio::test]
async fn messages_of_one_subject_never_run_concurrently() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    let subjects = ["s.a", "s.b", "s.c", "s.d"];
    publish_to(&js, &subjects, 10).await;
    let c = durable(&stream, "c").await;
    let gauge = Arc::new(Gauge::default());
    let busy: Arc<Mutex<HashSet<String>>> = Arc::default();
    let order: Arc<Mutex<HashMap<String, Vec<String>>>> = Arc::default();
    let overlaps = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let (g, b, o, x, d) = (
        gauge.clone(),
        busy.clone(),
        order.clone(),
        overlaps.clone(),
        done.clone(),
    );
    let ctx = c
        .consume_concurrent(8, move |msg| {
            let (g, b, o, x, d) = (g.clone(), b.clone(), o.clone(), x.clone(), d.clone());
            async move {
                let subject = msg.subject().to_string();
                if !b.lock().unwrap().insert(subject.clone()) {
                    x.fetch_add(1, Ordering::SeqCst);
                }
                g.enter();
                tokio::time::sleep(Duration::from_millis(20)).await;
                g.leave();
                o.lock()
                    .unwrap()
                    .entry(subject.clone())
                    .or_default()
                    .push(String::from_utf8(msg.data().to_vec()).unwrap());
                b.lock().unwrap().remove(&subject);
                msg.ack().await.unwrap();
                d.fetch_add(1, Ordering::SeqCst);
            }
        })
        .per_subject_ordering()
        .await
        .unwrap();
    wait_until(|| done.load(Ordering::SeqCst) == 40).await;
    ctx.drain().await;
    assert_eq!(
        overlaps.load(Ordering::SeqCst),
        0,
        "a subject ran twice at once"
    );
    let expected: Vec<String> = (0..10).map(|i| i.to_string()).collect();
    for s in subjects {
        assert_eq!(order.lock().unwrap()[s], expected, "order of {s}");
    }
    // Different subjects still ran side by side (4 subjects, 8 slots).
    assert!(gauge.max() >= 2, "max concurrency {}", gauge.max());
    assert!(gauge.max() <= 4, "max concurrency {}", gauge.max());
}

#[tokio::test]
async fn a_panicking_handler_is_reported_and_the_others_go_on() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    let c = durable(&stream, "c").await;
    let handled = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(Mutex::new(Vec::new()));
    let (h, e) = (handled.clone(), errors.clone());
    let ctx = c
        .consume_concurrent(4, move |msg| {
            let h = h.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                assert_ne!(msg.data(), "boom", "the handler fails on purpose");
                msg.ack().await.unwrap();
                h.fetch_add(1, Ordering::SeqCst);
            }
        })
        .error_handler(move |err| e.lock().unwrap().push(err))
        .await
        .unwrap();
    for i in 0..20 {
        let data = if i == 5 {
            "boom".to_string()
        } else {
            format!("{i}")
        };
        js.publish("s.x", data).await.unwrap();
    }
    wait_until(|| handled.load(Ordering::SeqCst) == 19).await;
    assert!(!ctx.is_closed(), "the loop goes on after a panic");
    // And it keeps taking new messages.
    js.publish("s.x", "after").await.unwrap();
    wait_until(|| handled.load(Ordering::SeqCst) == 20).await;
    ctx.drain().await;
    let errors = errors.lock().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].kind(), ErrorKind::HandlerPanicked);
    assert!(
        errors[0].to_string().contains("on purpose"),
        "{}",
        errors[0]
    );
}

#[tokio::test]
async fn drain_waits_for_running_handlers() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    publish_to(&js, &["s.x"], 4).await;
    let c = durable(&stream, "c").await;
    let started = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let (s, f) = (started.clone(), finished.clone());
    let ctx = c
        .consume_concurrent(4, move |msg| {
            let (s, f) = (s.clone(), f.clone());
            async move {
                s.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(800)).await;
                msg.ack().await.unwrap();
                f.fetch_add(1, Ordering::SeqCst);
            }
        })
        .await
        .unwrap();
    wait_until(|| started.load(Ordering::SeqCst) == 4).await;
    assert!(finished.load(Ordering::SeqCst) < 4);
    tokio::time::timeout(Duration::from_secs(10), ctx.drain())
        .await
        .expect("drain returns once the handlers are done");
    assert_eq!(finished.load(Ordering::SeqCst), 4, "drain returned early");
    assert!(ctx.is_closed());
    let info = c.info().await.unwrap();
    assert_eq!(info.num_ack_pending, 0);
}

/// Runs one slow handler per message (3 s, ack_wait 1 s) and returns how often
/// each message was delivered.
async fn slow_handlers(auto_in_progress: bool) -> Vec<u64> {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    publish_to(&js, &["s.x"], 2).await;
    let c = stream
        .create_consumer(ConsumerConfig {
            durable_name: Some("slow".into()),
            ack_wait: Duration::from_secs(1),
            ..Default::default()
        })
        .await
        .unwrap();
    let deliveries = Arc::new(Mutex::new(Vec::new()));
    let d = deliveries.clone();
    let builder = c.consume_concurrent(4, move |msg| {
        let d = d.clone();
        async move {
            d.lock()
                .unwrap()
                .push(msg.metadata().unwrap().sequence.stream);
            tokio::time::sleep(Duration::from_secs(3)).await;
            let _ = msg.double_ack().await;
        }
    });
    let builder = if auto_in_progress {
        builder.auto_in_progress()
    } else {
        builder
    };
    let ctx = builder.await.unwrap();
    // Both handlers finished, with time for redeliveries to show.
    tokio::time::sleep(Duration::from_secs(4)).await;
    ctx.drain().await;
    let mut got = deliveries.lock().unwrap().clone();
    got.sort_unstable();
    got
}

#[tokio::test]
async fn auto_in_progress_keeps_a_slow_message_from_redelivery() {
    let (with, without) = tokio::join!(slow_handlers(true), slow_handlers(false));
    assert_eq!(with, [1, 2], "delivered once each");
    // The control: without it, ack_wait expires while the handlers run.
    assert!(without.len() > 2, "expected redeliveries: {without:?}");
}

#[tokio::test]
async fn nothing_is_lost_or_duplicated_at_high_concurrency() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    let subjects = ["s.a", "s.b", "s.c", "s.d", "s.e"];
    publish_to(&js, &subjects, 400).await;
    let c = durable(&stream, "c").await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let ctx = c
        .consume_concurrent(64, move |msg| {
            let s = s.clone();
            async move {
                let seq = msg.metadata().unwrap().sequence.stream;
                tokio::time::sleep(Duration::from_millis(seq % 5)).await;
                msg.ack().await.unwrap();
                s.lock().unwrap().push(seq);
            }
        })
        .await
        .unwrap();
    wait_until(|| seen.lock().unwrap().len() >= 2000).await;
    ctx.drain().await;
    let mut seqs = seen.lock().unwrap().clone();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=2000).collect::<Vec<u64>>());
    let info = c.info().await.unwrap();
    assert_eq!((info.num_pending, info.num_ack_pending), (0, 0));
    assert_eq!(info.num_redelivered, 0);
}

#[tokio::test]
async fn zero_handlers_are_refused() {
    let server = Server::jetstream().start();
    let (_js, stream) = setup(&server, StorageType::Memory).await;
    let c = durable(&stream, "c").await;
    let err = c.consume_concurrent(0, |_msg| async {}).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
}

#[tokio::test]
async fn auto_in_progress_covers_messages_waiting_for_their_subject() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    // Three messages of one subject: with per-subject ordering the second and
    // third wait 1.5 s and 3 s behind the first, longer than ack_wait.
    publish_to(&js, &["s.x"], 3).await;
    let c = stream
        .create_consumer(ConsumerConfig {
            durable_name: Some("queued".into()),
            ack_wait: Duration::from_secs(1),
            ..Default::default()
        })
        .await
        .unwrap();
    let deliveries = Arc::new(Mutex::new(Vec::new()));
    let d = deliveries.clone();
    let ctx = c
        .consume_concurrent(4, move |msg| {
            let d = d.clone();
            async move {
                d.lock()
                    .unwrap()
                    .push(msg.metadata().unwrap().sequence.stream);
                tokio::time::sleep(Duration::from_millis(1500)).await;
                let _ = msg.double_ack().await;
            }
        })
        .per_subject_ordering()
        .auto_in_progress()
        .await
        .unwrap();
    wait_until(|| deliveries.lock().unwrap().len() >= 3).await;
    // The last handler finished, with time for redeliveries to show.
    tokio::time::sleep(Duration::from_secs(3)).await;
    ctx.drain().await;
    assert_eq!(
        *deliveries.lock().unwrap(),
        [1, 2, 3],
        "once each, in order"
    );
    assert_eq!(c.info().await.unwrap().num_redelivered, 0);
}

#[tokio::test]
async fn messages_can_be_handled_concurrently_too() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    publish_to(&js, &["s.x", "s.y"], 20).await;

    // A consumer's messages(), with its pull options kept.
    let c = durable(&stream, "c").await;
    let gauge = Arc::new(Gauge::default());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (g, s) = (gauge.clone(), seen.clone());
    let ctx = c
        .messages()
        .max_messages(16)
        .concurrent(8, move |msg| {
            let (g, s) = (g.clone(), s.clone());
            async move {
                g.enter();
                tokio::time::sleep(Duration::from_millis(100)).await;
                g.leave();
                s.lock()
                    .unwrap()
                    .push(msg.metadata().unwrap().sequence.stream);
                msg.ack().await.unwrap();
            }
        })
        .await
        .unwrap();
    wait_until(|| seen.lock().unwrap().len() == 40).await;
    ctx.drain().await;
    assert_eq!(
        gauge.max(),
        8,
        "at most, and at some point exactly, 8 at once"
    );
    let mut seqs = seen.lock().unwrap().clone();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=40).collect::<Vec<u64>>());
    assert_eq!(c.info().await.unwrap().num_ack_pending, 0);

    // An ordered consumer's messages(): every message once.
    let ordered = stream.ordered_consumer(Default::default()).await.unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let ctx = ordered
        .messages()
        .concurrent(4, move |msg| {
            let s = s.clone();
            async move {
                s.lock()
                    .unwrap()
                    .push(msg.metadata().unwrap().sequence.stream);
            }
        })
        .stop_after(40)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), ctx.closed())
        .await
        .expect("the loop ends after 40");
    let mut seqs = seen.lock().unwrap().clone();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=40).collect::<Vec<u64>>());
}
