//! The write path against a real server: many tasks publishing (some
//! batched) and requesting on one connection, some of their writes made
//! directly by the caller and some by the connection task, reach
//! subscribers in each task's order, each once; also across a connection cut
//! in the middle of a frame. A batched publish nothing follows still goes out.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use nats_core::{Client, ConnectOptions, Event, State, Subscriber};
use nats_testkit::{FaultProxy, Server};
use tokio::task::JoinHandle;

use crate::reconnect::{wait_event, wait_state, with_events};

const PUBLISHERS: u32 = 8;
const EACH: u32 = 400;

/// The payload of step `seq` of task `p`: `p:seq`, padded now and then past
/// the size queued by reference (4 KiB).
fn payload(p: u32, seq: u32) -> Bytes {
    let mut s = format!("{p}:{seq}:");
    if seq % 37 == 5 {
        s.push_str(&"x".repeat(6000));
    }
    Bytes::from(s)
}

fn parse(payload: &[u8]) -> (u32, u32) {
    let s = std::str::from_utf8(payload).unwrap();
    let mut it = s.split(':');
    let p = it.next().unwrap().parse().unwrap();
    let q = it.next().unwrap().parse().unwrap();
    (p, q)
}

/// Answers every request on `order.>` with an empty reply.
async fn responder(server_url: &str) -> (Client, JoinHandle<()>) {
    let client = nats_core::connect(server_url).await.unwrap();
    let mut sub = client.subscribe("order.>").await.unwrap();
    client.flush().await.unwrap();
    let c = client.clone();
    let task = tokio::spawn(async move {
        while let Some(msg) = sub.next().await {
            if let Some(reply) = msg.reply {
                // The requester may be gone (a cut connection): ignore.
                let _ = c.publish(reply, Bytes::new()).await;
            }
        }
    });
    (client, task)
}

/// Task `p`: `EACH` steps on `order.<p>`, most of them publishes (some
/// batched), every seventh a request (which the observer sees as well), with
/// pauses so that some writes find the connection idle. Returns the steps
/// that failed (only when `tolerate` is set: a connection cut may fail a
/// request).
fn task(client: &Client, p: u32, tolerate: bool) -> JoinHandle<u32> {
    let client = client.clone();
    tokio::spawn(async move {
        let subject = format!("order.{p}");
        let mut failed = 0;
        for seq in 0..EACH {
            let result = if seq % 7 == 3 {
                client
                    .request(subject.clone(), payload(p, seq))
                    .await
                    .map(drop)
            } else if seq % 5 == 1 {
                client
                    .publish_batched(subject.clone(), payload(p, seq))
                    .await
            } else {
                client.publish(subject.clone(), payload(p, seq)).await
            };
            if let Err(e) = result {
                assert!(tolerate, "task {p} step {seq}: {e}");
                failed += 1;
            }
            match (seq + p) % 19 {
                0 => tokio::time::sleep(Duration::from_millis(1)).await,
                1..=4 => tokio::task::yield_now().await,
                _ => {}
            }
        }
        failed
    })
}

/// Receives until step `last` of every task arrived (panics after
/// `deadline`); returns each task's sequence numbers in the order received.
async fn observe(sub: &mut Subscriber, last: u32, deadline: Duration) -> HashMap<u32, Vec<u32>> {
    let mut seen: HashMap<u32, Vec<u32>> = HashMap::new();
    let until = Instant::now() + deadline;
    let complete = |seen: &HashMap<u32, Vec<u32>>| {
        (0..PUBLISHERS).all(|p| seen.get(&p).is_some_and(|v| v.last() == Some(&last)))
    };
    while !complete(&seen) {
        let left = until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, sub.next()).await {
            Ok(Some(msg)) => {
                let (p, q) = parse(&msg.payload);
                assert_eq!(msg.subject.as_str(), format!("order.{p}"));
                seen.entry(p).or_default().push(q);
            }
            Ok(None) => panic!("the observer's subscription ended"),
            Err(_) => panic!(
                "not every task's last step arrived: {:?}",
                seen.iter().map(|(p, v)| (*p, v.len())).collect::<Vec<_>>()
            ),
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_publishers_and_requesters_keep_their_order() {
    let server = Server::new().start();
    let (_responder, _r) = responder(&server.url()).await;
    let observer = nats_core::connect(server.url()).await.unwrap();
    let mut sub = observer.subscribe("order.>").await.unwrap();
    observer.flush().await.unwrap();

    let client = nats_core::connect(server.url()).await.unwrap();
    client.flush().await.unwrap();
    let tasks: Vec<_> = (0..PUBLISHERS).map(|p| task(&client, p, false)).collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), 0);
    }
    client.flush().await.unwrap();

    let seen = observe(&mut sub, EACH - 1, Duration::from_secs(30)).await;
    for p in 0..PUBLISHERS {
        assert_eq!(
            seen[&p],
            (0..EACH).collect::<Vec<_>>(),
            "task {p}: every step once, in order"
        );
    }
    // The mix this test is about: some writes went out from the caller.
    let direct = client.direct_writes();
    eprintln!("{direct} of {} steps written directly", PUBLISHERS * EACH);
    assert!(direct > 0, "no write was made directly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_cut_mid_frame_duplicates_and_reorders_nothing() {
    let server = Server::new().start();
    let (_responder, _r) = responder(&server.url()).await;
    let observer = nats_core::connect(server.url()).await.unwrap();
    let mut sub = observer.subscribe("order.>").await.unwrap();
    observer.flush().await.unwrap();

    let proxy = FaultProxy::for_server(&server);
    let (opts, mut events) = with_events(
        ConnectOptions::new()
            .reconnect_delay_callback(|_| Duration::from_millis(20))
            .reconnect_buffer_size(64 * 1024 * 1024),
    );
    let client = opts.connect(proxy.url()).await.unwrap();
    client.flush().await.unwrap();

    // Cut the connection after an odd number of bytes: most likely inside a
    // frame, while the tasks write; the client reconnects.
    proxy.cut_after(3_001);
    let tasks: Vec<_> = (0..PUBLISHERS).map(|p| task(&client, p, true)).collect();
    wait_event(
        &mut events,
        |e| matches!(e, Event::Disconnected),
        Duration::from_secs(20),
    )
    .await;
    proxy.pass();
    let mut failed = 0;
    for t in tasks {
        failed += t.await.unwrap();
    }
    wait_state(&client, State::Connected, Duration::from_secs(20)).await;
    // One more step each, once connected again: it must arrive.
    for p in 0..PUBLISHERS {
        client
            .publish(format!("order.{p}"), payload(p, EACH))
            .await
            .unwrap();
    }
    client.flush().await.unwrap();

    let seen = observe(&mut sub, EACH, Duration::from_secs(30)).await;
    let mut received = 0;
    for p in 0..PUBLISHERS {
        let got = &seen[&p];
        received += got.len();
        assert!(
            got.windows(2).all(|w| w[0] < w[1]),
            "task {p}: a step duplicated or out of order: {got:?}"
        );
    }
    // What the cut connection had taken is lost with it (the server drops
    // the incomplete frame); everything else arrives once.
    eprintln!(
        "{received} of {} steps arrived, {failed} failed, {} connects",
        PUBLISHERS * (EACH + 1),
        client.connects()
    );
    assert!(client.connects() >= 2, "the client reconnected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_batched_publish_arrives_without_a_later_write() {
    let server = Server::new().start();
    let observer = nats_core::connect(server.url()).await.unwrap();
    let mut sub = observer.subscribe("lone").await.unwrap();
    observer.flush().await.unwrap();
    let client = nats_core::connect(server.url()).await.unwrap();
    client.flush().await.unwrap();
    // Apart by more than the batch tick: each starts the ticking afresh.
    for i in 0..3 {
        let start = Instant::now();
        client
            .publish_batched("lone", format!("{i}"))
            .await
            .unwrap();
        let msg = tokio::time::timeout(Duration::from_secs(2), sub.next())
            .await
            .unwrap_or_else(|_| panic!("batched publish {i} never went out"))
            .unwrap();
        assert_eq!(msg.payload, format!("{i}"));
        eprintln!("batched publish {i} arrived after {:?}", start.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
