//! Push consumers (issue 16): management, consume with acks, queue groups, flow control,
//! heartbeats, deletion, server restarts, and the ordered push consumer.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use jetstream::{
    AckPolicy, ConsumeContext, ConsumerConfig, ErrorKind, OrderedConsumerConfig, StorageType,
    StreamConfig,
};
use nats_testkit::Server;

async fn setup(server: &Server, storage: StorageType) -> (jetstream::JetStream, jetstream::Stream) {
    let client = nats_core::connect(server.url()).await.unwrap();
    let js = jetstream::new(client);
    let stream = js
        .create_stream(StreamConfig {
            name: "P".into(),
            subjects: vec!["p.>".into()],
            storage,
            ..Default::default()
        })
        .await
        .unwrap();
    (js, stream)
}

/// Publishes the numbers of `range` as payloads (stream sequence = number + 1 when the
/// stream started empty).
async fn publish_range(js: &jetstream::JetStream, range: std::ops::Range<u64>) {
    let mut acks = Vec::new();
    for i in range {
        acks.push(
            js.publish_async(format!("p.{}", i % 3), i.to_string())
                .await
                .unwrap(),
        );
    }
    for a in acks {
        a.await.unwrap();
    }
}

/// The number a message starts with (the rest, if any, is padding).
fn number(msg: &jetstream::Msg) -> u64 {
    let data = msg.data();
    let end = data.iter().position(|b| *b == b' ').unwrap_or(data.len());
    std::str::from_utf8(&data[..end]).unwrap().parse().unwrap()
}

/// Publishes the numbers of `range`, each padded to 4 KiB.
async fn publish_padded(js: &jetstream::JetStream, range: std::ops::Range<u64>) {
    let mut acks = Vec::new();
    for i in range {
        let mut data = format!("{i} ").into_bytes();
        data.resize(4096, b'x');
        acks.push(js.publish_async("p.pad", data).await.unwrap());
    }
    for a in acks {
        a.await.unwrap();
    }
}

/// Publishes once the client is connected again (after a server restart).
async fn publish_when_back(js: &jetstream::JetStream, range: std::ops::Range<u64>) {
    let start = Instant::now();
    let first = range.start;
    loop {
        match js
            .publish(format!("p.{}", first % 3), first.to_string())
            .retry_attempts(0)
            .await
        {
            Ok(_) => break,
            Err(e) => {
                assert!(start.elapsed() < Duration::from_secs(15), "{e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    publish_range(js, first + 1..range.end).await;
}

/// What a consume handler and its error handler saw.
#[derive(Clone, Default)]
struct Seen {
    payloads: Arc<Mutex<Vec<u64>>>,
    errors: Arc<Mutex<Vec<ErrorKind>>>,
}

impl Seen {
    fn payloads(&self) -> Vec<u64> {
        self.payloads.lock().unwrap().clone()
    }

    fn errors(&self) -> Vec<ErrorKind> {
        self.errors.lock().unwrap().clone()
    }

    fn count(&self) -> usize {
        self.payloads.lock().unwrap().len()
    }

    /// Waits (bounded) until `done` holds for what was seen.
    async fn wait(&self, within: Duration, what: &str, done: impl Fn(&Seen) -> bool) {
        let start = Instant::now();
        while !done(self) {
            assert!(
                start.elapsed() < within,
                "{what}: not within {within:?}; {} handled, errors {:?}",
                self.count(),
                self.errors()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A handler recording each payload and acking it (acks of ack-none messages are
/// no-ops), and an error handler recording the kinds.
async fn consume(consumer: &jetstream::PushConsumer, seen: &Seen) -> ConsumeContext {
    let (s, e) = (seen.clone(), seen.clone());
    consumer
        .consume(move |msg| {
            let s = s.clone();
            async move {
                let n = number(&msg);
                s.payloads.lock().unwrap().push(n);
                let _ = msg.ack().await;
            }
        })
        .error_handler(move |err| e.errors.lock().unwrap().push(err.kind()))
        .await
        .unwrap()
}

fn push_config(name: &str, deliver: &str) -> ConsumerConfig {
    ConsumerConfig {
        durable_name: Some(name.into()),
        deliver_subject: Some(deliver.into()),
        idle_heartbeat: Duration::from_millis(500),
        ..Default::default()
    }
}

#[tokio::test]
async fn push_consumers_are_created_updated_and_looked_up() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    let created = stream
        .create_push_consumer(push_config("pc", "deliver.pc"))
        .await
        .unwrap();
    assert_eq!(created.name(), "pc");
    assert_eq!(created.stream_name(), "P");
    let config = &created.cached_info().config;
    assert_eq!(config.deliver_subject.as_deref(), Some("deliver.pc"));
    assert_eq!(config.idle_heartbeat, Duration::from_millis(500));
    // Creating it again with the same config is fine; with another, refused.
    js.create_push_consumer("P", push_config("pc", "deliver.pc"))
        .await
        .unwrap();
    let err = js
        .create_push_consumer("P", push_config("pc", "deliver.other"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConsumerExists, "{err}");
    // Update, then look it up: both see the change.
    let updated = stream
        .update_push_consumer(ConsumerConfig {
            description: Some("updated".into()),
            ..push_config("pc", "deliver.pc")
        })
        .await
        .unwrap();
    assert_eq!(
        updated.cached_info().config.description.as_deref(),
        Some("updated")
    );
    let found = js.push_consumer("P", "pc").await.unwrap();
    assert_eq!(
        found.cached_info().config.description.as_deref(),
        Some("updated")
    );
    assert_eq!(found.info().await.unwrap().name, "pc");
    // Update of a missing one; create-or-update makes it.
    let err = js
        .update_push_consumer("P", push_config("nope", "deliver.nope"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConsumerNotFound, "{err}");
    let made = stream
        .create_or_update_push_consumer(push_config("nope", "deliver.nope"))
        .await
        .unwrap();
    assert_eq!(made.name(), "nope");
    let err = stream.push_consumer("missing").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConsumerNotFound, "{err}");
}

#[tokio::test]
async fn the_wrong_kind_of_consumer_is_refused_with_a_typed_error() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    publish_range(&js, 0..3).await;
    stream
        .create_consumer(ConsumerConfig {
            durable_name: Some("pull".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    // The push API on a pull consumer.
    let err = stream.push_consumer("pull").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConsumerIsPullBased, "{err}");
    assert!(err.to_string().contains("pull"), "{err}");
    // A push config without a deliver subject, or with a bad one: refused before sending.
    let err = stream
        .create_push_consumer(ConsumerConfig {
            durable_name: Some("x".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig, "{err}");
    let err = stream
        .create_push_consumer(push_config("x", "deliver.*"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidSubject, "{err}");
    let err = stream
        .create_push_consumer(ConsumerConfig {
            flow_control: true,
            idle_heartbeat: Duration::ZERO,
            ..push_config("x", "deliver.x")
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig, "{err}");
    assert!(
        stream.consumer("x").await.is_err(),
        "a refused config was sent"
    );
    // The pull API on a push consumer.
    stream
        .create_push_consumer(push_config("push", "deliver.push"))
        .await
        .unwrap();
    let pull_handle = stream.consumer("push").await.unwrap();
    let fetched = pull_handle.fetch(1).max_wait(Duration::from_secs(1)).await;
    let err = match fetched {
        Err(e) => e,
        Ok(mut batch) => batch
            .next()
            .await
            .expect("no error")
            .map(|_| ())
            .unwrap_err(),
    };
    assert_eq!(err.kind(), ErrorKind::ConsumerIsPushBased, "{err}");
}

#[tokio::test]
async fn consume_delivers_everything_and_acks_reach_the_server() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    publish_range(&js, 0..100).await;
    let consumer = stream
        .create_push_consumer(ConsumerConfig {
            ack_policy: AckPolicy::Explicit,
            ..push_config("acks", "deliver.acks")
        })
        .await
        .unwrap();
    let seen = Seen::default();
    let ctx = consume(&consumer, &seen).await;
    // One loop per handle (and its clones).
    let second = consumer
        .clone()
        .consume(|_msg| async {})
        .await
        .map(|_| ())
        .unwrap_err();
    assert_eq!(second.kind(), ErrorKind::InvalidArgument, "{second}");
    publish_range(&js, 100..150).await;
    seen.wait(Duration::from_secs(10), "all delivered", |s| {
        s.count() >= 150
    })
    .await;
    assert_eq!(seen.payloads(), (0..150).collect::<Vec<_>>());
    let start = Instant::now();
    loop {
        let info = consumer.info().await.unwrap();
        if info.num_ack_pending == 0 && info.ack_floor.stream_sequence == 150 {
            assert!(info.push_bound);
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "acks missing: {info:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ctx.drain().await;
    assert!(ctx.is_closed());
    // Once ended, the handle may consume again.
    let again = consume(&consumer, &Seen::default()).await;
    again.stop();
    assert!(seen.errors().is_empty(), "{:?}", seen.errors());
}

#[tokio::test]
async fn a_deliver_group_splits_the_messages_between_its_members() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    stream
        .create_push_consumer(ConsumerConfig {
            deliver_group: Some("workers".into()),
            flow_control: true,
            ..push_config("group", "deliver.group")
        })
        .await
        .unwrap();
    let (a, b) = (Seen::default(), Seen::default());
    let ctx_a = consume(&stream.push_consumer("group").await.unwrap(), &a).await;
    let ctx_b = consume(&stream.push_consumer("group").await.unwrap(), &b).await;
    js.client().flush().await.unwrap();
    publish_range(&js, 0..400).await;
    let total = |_: &Seen| a.count() + b.count() >= 400;
    a.wait(Duration::from_secs(10), "all delivered", total)
        .await;
    let (pa, pb) = (a.payloads(), b.payloads());
    assert!(
        !pa.is_empty() && !pb.is_empty(),
        "{} / {}",
        pa.len(),
        pb.len()
    );
    let all: BTreeSet<u64> = pa.iter().chain(&pb).copied().collect();
    assert_eq!(
        all.len(),
        400,
        "a message went to both members, or to neither"
    );
    assert_eq!(pa.len() + pb.len(), 400);
    // Each member gets only some of the heartbeats: neither reports them missed.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        a.errors().is_empty() && b.errors().is_empty(),
        "{:?} {:?}",
        a.errors(),
        b.errors()
    );
    ctx_a.drain().await;
    ctx_b.drain().await;
}

/// 48 MiB in 64 KiB messages with their number first: far beyond what the server sends
/// before it waits for a flow-control reply.
const BIG: u64 = 768;

async fn publish_big(js: &jetstream::JetStream) {
    let payload = vec![b'x'; 64 * 1024];
    let mut acks = Vec::new();
    for i in 0..BIG {
        let mut data = i.to_string().into_bytes();
        data.push(b' ');
        data.extend_from_slice(&payload);
        acks.push(js.publish_async("p.big", data).await.unwrap());
    }
    for a in acks {
        a.await.unwrap();
    }
}

/// A flow-controlled push consumer without acks (max_ack_pending does not pace it).
fn flow_controlled(name: &str, heartbeat: Duration) -> ConsumerConfig {
    ConsumerConfig {
        ack_policy: AckPolicy::None,
        flow_control: true,
        idle_heartbeat: heartbeat,
        ..push_config(name, &format!("deliver.{name}"))
    }
}

/// Consumes the big messages with a reader slower than the server.
async fn consume_big(consumer: &jetstream::PushConsumer, seen: &Seen) -> ConsumeContext {
    let (s, e) = (seen.clone(), seen.clone());
    consumer
        .consume(move |msg| {
            let s = s.clone();
            async move {
                let n = number(&msg);
                s.payloads.lock().unwrap().push(n);
                if n.is_multiple_of(64) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        })
        .error_handler(move |err| e.errors.lock().unwrap().push(err.kind()))
        .await
        .unwrap()
}

#[tokio::test]
async fn flow_control_is_answered_so_a_large_backlog_keeps_flowing() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    publish_big(&js).await;
    // Heartbeats every 10 s: were flow-control requests left unanswered, only the stalled
    // notices in heartbeats would move it on (that took 25 s with 5 s heartbeats, so about
    // 50 s here); answered, it takes a second or two.
    let consumer = stream
        .create_push_consumer(flow_controlled("fc", Duration::from_secs(10)))
        .await
        .unwrap();
    let seen = Seen::default();
    let ctx = consume_big(&consumer, &seen).await;
    seen.wait(Duration::from_secs(20), "the whole backlog", |s| {
        s.count() >= BIG as usize
    })
    .await;
    assert_eq!(seen.payloads(), (0..BIG).collect::<Vec<_>>());
    ctx.stop();
    assert!(seen.errors().is_empty(), "{:?}", seen.errors());
}

#[tokio::test]
async fn a_stalled_flow_control_announced_in_heartbeats_is_answered() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    publish_big(&js).await;
    // A plain subscriber takes the first messages and the flow-control request after them
    // without answering it, then goes away: the server waits, and says so in heartbeats.
    let mut raw = js.client().subscribe("deliver.stall").await.unwrap();
    js.client().flush().await.unwrap();
    let consumer = stream
        .create_push_consumer(flow_controlled("stall", Duration::from_millis(500)))
        .await
        .unwrap();
    let mut taken = 0u64;
    loop {
        let m = tokio::time::timeout(Duration::from_secs(5), raw.next())
            .await
            .expect("the server sent no flow-control request")
            .unwrap();
        if m.status.is_some() {
            if m.description.as_deref().unwrap_or("").starts_with("Flow") {
                break;
            }
            continue;
        }
        taken += 1;
    }
    drop(raw);
    let seen = Seen::default();
    let ctx = consume_big(&consumer, &seen).await;
    seen.wait(Duration::from_secs(30), "the rest of the backlog", |s| {
        s.payloads().last() == Some(&(BIG - 1))
    })
    .await;
    // The messages sent to the plain subscriber (up to the request, and any the server sent
    // before it noticed it was gone) are not delivered again (ack none); the rest are, in
    // order.
    let payloads = seen.payloads();
    let first = payloads[0];
    assert!(first >= taken, "{first} < {taken}");
    assert_eq!(payloads, (first..BIG).collect::<Vec<_>>());
    ctx.stop();
}

#[tokio::test]
async fn missed_heartbeats_are_reported_while_the_server_is_frozen() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    publish_range(&js, 0..10).await;
    let consumer = stream
        .create_push_consumer(push_config("hb", "deliver.hb"))
        .await
        .unwrap();
    let seen = Seen::default();
    let ctx = consume(&consumer, &seen).await;
    seen.wait(Duration::from_secs(5), "the first ten", |s| s.count() >= 10)
        .await;
    // Heartbeats arrive while the server runs: nothing is reported.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(seen.errors().is_empty(), "{:?}", seen.errors());
    let frozen = server.freeze();
    seen.wait(Duration::from_secs(5), "a missed heartbeat", |s| {
        s.errors().contains(&ErrorKind::HeartbeatMissed)
    })
    .await;
    frozen.thaw();
    // It keeps going: nothing ends the loop, later messages arrive.
    publish_range(&js, 10..20).await;
    seen.wait(Duration::from_secs(10), "the next ten", |s| s.count() >= 20)
        .await;
    assert!(!ctx.is_closed());
    assert_eq!(seen.payloads(), (0..20).collect::<Vec<_>>());
    ctx.drain().await;
}

#[tokio::test]
async fn consume_ends_with_consumer_not_found_when_the_consumer_is_deleted() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    publish_range(&js, 0..5).await;
    let consumer = stream
        .create_push_consumer(push_config("gone", "deliver.gone"))
        .await
        .unwrap();
    let seen = Seen::default();
    let ctx = consume(&consumer, &seen).await;
    seen.wait(Duration::from_secs(5), "the first five", |s| s.count() >= 5)
        .await;
    stream.delete_consumer("gone").await.unwrap();
    // Bound: two heartbeat intervals (1 s) and one consumer-info request, with room for a
    // loaded machine.
    tokio::time::timeout(Duration::from_secs(10), ctx.closed())
        .await
        .unwrap_or_else(|_| panic!("consume kept running: {:?}", seen.errors()));
    let errors = seen.errors();
    assert!(
        matches!(
            errors.last(),
            Some(ErrorKind::ConsumerNotFound | ErrorKind::ConsumerDeleted)
        ),
        "{errors:?}"
    );
    assert!(errors.contains(&ErrorKind::HeartbeatMissed), "{errors:?}");
}

#[tokio::test]
async fn a_durable_push_consumer_continues_after_a_server_restart() {
    let mut server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::File).await;
    publish_range(&js, 0..50).await;
    let consumer = stream
        .create_push_consumer(ConsumerConfig {
            ack_policy: AckPolicy::Explicit,
            ack_wait: Duration::from_secs(2),
            ..push_config("durable", "deliver.durable")
        })
        .await
        .unwrap();
    let seen = Seen::default();
    let ctx = consume(&consumer, &seen).await;
    seen.wait(Duration::from_secs(5), "the first fifty", |s| {
        s.count() >= 50
    })
    .await;
    server.restart();
    publish_when_back(&js, 50..100).await;
    seen.wait(Duration::from_secs(30), "all after the restart", |s| {
        s.payloads().into_iter().collect::<BTreeSet<_>>().len() >= 100
    })
    .await;
    let all: BTreeSet<u64> = seen.payloads().into_iter().collect();
    assert_eq!(all, (0..100).collect::<BTreeSet<_>>());
    assert!(!ctx.is_closed(), "{:?}", seen.errors());
    ctx.drain().await;
}

/// An ordered push consumer's loop recording payloads in the order handed out.
async fn consume_ordered(ordered: &jetstream::OrderedPushConsumer, seen: &Seen) -> ConsumeContext {
    let (s, e) = (seen.clone(), seen.clone());
    ordered
        .consume(move |msg| {
            let s = s.clone();
            async move {
                let n = number(&msg);
                assert_eq!(msg.metadata().unwrap().sequence.stream, n + 1);
                s.payloads.lock().unwrap().push(n);
            }
        })
        .heartbeat(Duration::from_millis(500))
        .error_handler(move |err| e.errors.lock().unwrap().push(err.kind()))
        .await
        .unwrap()
}

#[tokio::test]
async fn ordered_push_survives_the_deletion_of_its_consumer() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    publish_range(&js, 0..50).await;
    let ordered = stream
        .ordered_push_consumer(OrderedConsumerConfig {
            name_prefix: Some("op".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let seen = Seen::default();
    let ctx = consume_ordered(&ordered, &seen).await;
    seen.wait(Duration::from_secs(5), "the first fifty", |s| {
        s.count() >= 50
    })
    .await;
    let info = ordered.cached_info();
    assert!(info.config.flow_control && info.config.deliver_subject.is_some());
    assert_eq!(info.config.ack_policy, AckPolicy::None);
    let name = info.name.clone();
    assert_eq!(name, "op_1");
    stream.delete_consumer(&name).await.unwrap();
    publish_range(&js, 50..100).await;
    seen.wait(Duration::from_secs(15), "all after the deletion", |s| {
        s.count() >= 100
    })
    .await;
    assert_eq!(seen.payloads(), (0..100).collect::<Vec<_>>());
    assert_ne!(ordered.cached_info().name, name);
    assert_eq!(ordered.last_stream_sequence(), 100);
    ctx.drain().await;
    // Nothing more came after the last one: no duplicate at the end either.
    assert_eq!(seen.count(), 100);
}

#[tokio::test]
async fn ordered_push_delivers_everything_once_in_order_across_a_server_restart() {
    let mut server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::File).await;
    // 8 MiB: more than the server sends before it waits for flow control, so part of the
    // backlog is still at the server when it restarts.
    publish_padded(&js, 0..2000).await;
    let ordered = stream
        .ordered_push_consumer(OrderedConsumerConfig::default())
        .await
        .unwrap();
    // A slow handler, so the restart comes in the middle of the backlog.
    let seen = Seen::default();
    let (s, e) = (seen.clone(), seen.clone());
    let ctx = ordered
        .consume(move |msg| {
            let s = s.clone();
            async move {
                let n = number(&msg);
                s.payloads.lock().unwrap().push(n);
                if n.is_multiple_of(10) {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
        })
        .heartbeat(Duration::from_millis(500))
        .error_handler(move |err| e.errors.lock().unwrap().push(err.kind()))
        .await
        .unwrap();
    seen.wait(Duration::from_secs(10), "some of the backlog", |s| {
        s.count() >= 100
    })
    .await;
    server.restart();
    let at_restart = seen.count();
    publish_when_back(&js, 2000..2100).await;
    seen.wait(Duration::from_secs(30), "all after the restart", |s| {
        s.count() >= 2100
    })
    .await;
    ctx.drain().await;
    assert_eq!(seen.payloads(), (0..2100).collect::<Vec<_>>());
    assert!(
        at_restart < 2000,
        "the restart came after the backlog: {at_restart}"
    );
    assert!(!seen.errors().contains(&ErrorKind::ConnectionClosed));
}

#[tokio::test]
async fn an_ordered_push_consumer_checks_its_stream_and_runs_one_loop() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    let err = js
        .ordered_push_consumer("MISSING", OrderedConsumerConfig::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StreamNotFound, "{err}");
    let ordered = stream
        .ordered_push_consumer(OrderedConsumerConfig::default())
        .await
        .unwrap();
    let err = ordered.info().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConsumerNotFound, "{err}");
    let seen = Seen::default();
    let ctx = consume_ordered(&ordered, &seen).await;
    let err = ordered
        .consume(|_msg| async {})
        .await
        .map(|_| ())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(ordered.info().await.unwrap().push_bound);
    publish_range(&js, 0..10).await;
    seen.wait(Duration::from_secs(5), "ten", |s| s.count() >= 10)
        .await;
    ctx.drain().await;
    // A heartbeat setting on a plain push consumer is refused.
    let plain = stream
        .create_push_consumer(push_config("plain", "deliver.plain"))
        .await
        .unwrap();
    let err = plain
        .consume(|_msg| async {})
        .heartbeat(Duration::from_secs(1))
        .await
        .map(|_| ())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
}

#[tokio::test]
async fn ordered_push_reports_a_frozen_server_and_recovers_without_gaps() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    publish_range(&js, 0..10).await;
    let ordered = stream
        .ordered_push_consumer(OrderedConsumerConfig::default())
        .await
        .unwrap();
    let seen = Seen::default();
    let ctx = consume_ordered(&ordered, &seen).await;
    seen.wait(Duration::from_secs(5), "the first ten", |s| s.count() >= 10)
        .await;
    let frozen = server.freeze();
    seen.wait(Duration::from_secs(5), "a missed heartbeat", |s| {
        s.errors().contains(&ErrorKind::HeartbeatMissed)
    })
    .await;
    frozen.thaw();
    publish_range(&js, 10..30).await;
    seen.wait(Duration::from_secs(20), "the rest", |s| s.count() >= 30)
        .await;
    ctx.drain().await;
    assert_eq!(seen.payloads(), (0..30).collect::<Vec<_>>());
}

/// A context on a client whose subscriptions hold at most 20 messages unread.
async fn tiny_buffers(server: &Server) -> jetstream::JetStream {
    let client = nats_core::ConnectOptions::new()
        .pending_limits(nats_core::PendingLimits::new(20, 64 * 1024 * 1024))
        .connect(server.url())
        .await
        .unwrap();
    jetstream::new(client)
}

#[tokio::test]
async fn messages_dropped_by_a_slow_subscription_are_reported() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    publish_range(&js, 0..300).await;
    let small = tiny_buffers(&server).await;
    stream
        .create_push_consumer(ConsumerConfig {
            ack_policy: AckPolicy::None,
            ..push_config("slow", "deliver.slow")
        })
        .await
        .unwrap();
    let consumer = small.push_consumer("P", "slow").await.unwrap();
    let seen = Seen::default();
    let (s, e) = (seen.clone(), seen.clone());
    // A handler slower than the server.
    let ctx = consumer
        .consume(move |msg| {
            let s = s.clone();
            async move {
                s.payloads.lock().unwrap().push(number(&msg));
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
        .error_handler(move |err| e.errors.lock().unwrap().push(err.kind()))
        .await
        .unwrap();
    seen.wait(
        Duration::from_secs(15),
        "a report of the dropped messages",
        |s| s.errors().contains(&ErrorKind::Other),
    )
    .await;
    ctx.stop();
    assert!(seen.count() < 300, "nothing was dropped");
}

#[tokio::test]
async fn ordered_push_recovers_from_messages_dropped_by_a_slow_subscription() {
    let server = Server::jetstream().start();
    let (js, _stream) = setup(&server, StorageType::Memory).await;
    publish_range(&js, 0..500).await;
    let small = tiny_buffers(&server).await;
    let ordered = small
        .ordered_push_consumer("P", OrderedConsumerConfig::default())
        .await
        .unwrap();
    let seen = Seen::default();
    let (s, e) = (seen.clone(), seen.clone());
    // A handler slower than the server.
    let ctx = ordered
        .consume(move |msg| {
            let s = s.clone();
            async move {
                s.payloads.lock().unwrap().push(number(&msg));
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
        .heartbeat(Duration::from_millis(500))
        .error_handler(move |err| e.errors.lock().unwrap().push(err.kind()))
        .await
        .unwrap();
    seen.wait(Duration::from_secs(30), "everything, in order", |s| {
        s.count() >= 500
    })
    .await;
    ctx.drain().await;
    assert_eq!(seen.payloads(), (0..500).collect::<Vec<_>>());
    // It had to recreate its consumer: the drops happened.
    assert!(
        !ordered.cached_info().name.ends_with("_1"),
        "{}",
        ordered.cached_info().name
    );
}

/// A batched acknowledgement still goes out when the handler stops acknowledging and
/// nothing else is written: within the client's batch tick (the consumer is watched from a
/// second connection).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batched_push_ack_goes_out_when_the_handler_stops_acking() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    publish_range(&js, 0..5).await;
    let consumer = stream
        .create_push_consumer(ConsumerConfig {
            ack_policy: AckPolicy::Explicit,
            ..push_config("batched", "deliver.batched")
        })
        .await
        .unwrap();
    let observer = jetstream::new(nats_core::connect(server.url()).await.unwrap());
    let watched = observer.push_consumer("P", "batched").await.unwrap();
    let handled = Arc::new(Mutex::new(0u32));
    let count = handled.clone();
    let ctx = consumer
        .consume(move |msg| {
            let count = count.clone();
            async move {
                let first = {
                    let mut n = count.lock().unwrap();
                    *n += 1;
                    *n == 1
                };
                if first {
                    // Let the rest of the messages arrive behind this one first.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    msg.ack().await.unwrap();
                    // Then stop: nothing else is written for a while.
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
            }
        })
        .await
        .unwrap();
    let start = Instant::now();
    loop {
        let info = watched.info().await.unwrap();
        if info.ack_floor.stream_sequence == 1 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "the ack never went out: {info:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        *handled.lock().unwrap(),
        1,
        "the handler is still on the first message"
    );
    ctx.stop();
}
