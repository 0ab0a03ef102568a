//! Pending limits: a subscription's queue is bounded by messages and bytes;
//! beyond them messages are dropped, counted and reported, and memory stays
//! bounded.

use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use nats_core::{Client, ConnectOptions, Event, PendingLimits, Subscriber};
use nats_testkit::Server;

use crate::reconnect::{wait_event, with_events};

/// Set in the child process that runs the memory test alone.
const RSS_CHILD: &str = "NATS_CORE_PENDING_RSS_CHILD";

/// The resident set size of this process, from `/proc/self/status`.
fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS in /proc/self/status");
    let kib: usize = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("VmRSS in kB");
    kib * 1024
}

/// Waits until `client` has read `n` messages from the server in total.
async fn wait_in_messages(client: &Client, n: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while client.statistics().in_messages < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {n} messages read",
            client.statistics().in_messages
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The next message, waiting at most 5 s.
async fn next(sub: &mut Subscriber) -> nats_core::Message {
    tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("a message within 5 s")
        .expect("subscription open")
}

/// 200 messages of 1 MB to a subscriber that never reads, with a byte limit of
/// 16 MiB: the process grows by about the limit, not by the 200 MB sent.
/// Runs alone in a child process so that other tests' memory does not count.
#[test]
fn a_never_read_subscriber_holds_no_more_than_its_byte_limit() {
    if std::env::var_os(RSS_CHILD).is_none() {
        let name = "pending::a_never_read_subscriber_holds_no_more_than_its_byte_limit";
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", name, "--nocapture", "--test-threads=1"])
            .env(RSS_CHILD, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
        assert!(stdout.contains("1 passed"), "child ran no test:\n{stdout}");
        return;
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(never_read_subscriber_body());
}

async fn never_read_subscriber_body() {
    const LIMIT: usize = 16 * 1024 * 1024;
    const SIZE: usize = 1_000_000;
    const COUNT: u64 = 200;
    let server = Server::new().start();
    let (opts, mut events) = with_events(ConnectOptions::new());
    let client = opts.connect(server.url()).await.unwrap();
    let mut sub = client
        .subscribe_with_limits("big", PendingLimits::new(usize::MAX, LIMIT))
        .await
        .unwrap();
    client.flush().await.unwrap();
    let publisher = nats_core::connect(server.url()).await.unwrap();
    let payload = Bytes::from(vec![7u8; SIZE]);
    // Warm up buffers and the allocator with a few messages that are read.
    for _ in 0..4 {
        publisher.publish("big", payload.clone()).await.unwrap();
        next(&mut sub).await;
    }
    let before = rss_bytes();

    for _ in 0..COUNT {
        publisher.publish("big", payload.clone()).await.unwrap();
    }
    publisher.flush().await.unwrap();
    wait_in_messages(&client, COUNT + 4).await;
    let grown = rss_bytes().saturating_sub(before);
    let held = LIMIT / SIZE; // 16 messages fit under the limit
    eprintln!("RSS grew by {} KiB", grown / 1024);
    assert!(
        grown < LIMIT + 16 * 1024 * 1024,
        "RSS grew by {} MiB for a byte limit of {} MiB",
        grown >> 20,
        LIMIT >> 20
    );

    assert_eq!(sub.pending_messages(), held);
    assert_eq!(sub.pending_bytes(), held * SIZE);
    assert_eq!(sub.dropped_messages(), COUNT - held as u64);
    assert_eq!(client.statistics().dropped_messages, COUNT - held as u64);
    let sid = sub.sid();
    wait_event(
        &mut events,
        |e| *e == Event::SlowConsumer(sid),
        Duration::from_secs(5),
    )
    .await;

    // Receiving gives the room back: the queue empties and takes messages again.
    for _ in 0..held {
        assert_eq!(next(&mut sub).await.length, SIZE);
    }
    assert_eq!((sub.pending_messages(), sub.pending_bytes()), (0, 0));
    publisher.publish("big", payload).await.unwrap();
    assert_eq!(next(&mut sub).await.length, SIZE);
    assert_eq!(sub.dropped_messages(), COUNT - held as u64);
}

#[tokio::test]
async fn connection_limits_apply_to_every_subscription_and_count_headers() {
    let server = Server::new().start();
    let (opts, mut events) =
        with_events(ConnectOptions::new().pending_limits(PendingLimits::new(1000, 1000)));
    let client = opts.connect(server.url()).await.unwrap();
    let mut sub = client.subscribe("p").await.unwrap();
    let mut queue = client.queue_subscribe("p", "q").await.unwrap();
    // A subscription with limits of its own is not bound by the connection's.
    let mut roomy = client
        .subscribe_with_limits("p", PendingLimits::new(1000, 100_000))
        .await
        .unwrap();
    assert_eq!(sub.pending_limits(), PendingLimits::new(1000, 1000));
    assert_eq!(roomy.pending_limits().bytes, 100_000);
    client.flush().await.unwrap();

    let mut headers = nats_core::HeaderMap::new();
    headers.insert("Pad", "x".repeat(200));
    let with_headers = 100 + headers_len(&headers);
    for _ in 0..20 {
        client
            .publish_with_headers("p", headers.clone(), vec![0u8; 100])
            .await
            .unwrap();
    }
    client.flush().await.unwrap();
    wait_in_messages(&client, 60).await;

    // Headers count: 1000 bytes hold three messages of ~330 bytes, not ten.
    let fits = 1000 / with_headers;
    assert_eq!(sub.pending_messages(), fits);
    assert_eq!(sub.pending_bytes(), fits * with_headers);
    assert_eq!(sub.dropped_messages(), 20 - fits as u64);
    assert_eq!(queue.pending_messages(), fits);
    assert_eq!(roomy.pending_messages(), 20);
    assert_eq!(roomy.dropped_messages(), 0);
    assert_eq!(client.statistics().dropped_messages, 2 * (20 - fits as u64));
    let seen = wait_event(
        &mut events,
        |e| matches!(e, Event::SlowConsumer(_)),
        Duration::from_secs(5),
    )
    .await;
    assert!(seen.iter().any(|e| matches!(e, Event::SlowConsumer(_))));

    for _ in 0..fits {
        next(&mut sub).await;
        next(&mut queue).await;
    }
    for _ in 0..20 {
        next(&mut roomy).await;
    }
    assert_eq!(
        sub.pending_bytes() + queue.pending_bytes() + roomy.pending_bytes(),
        0
    );
}

#[tokio::test]
async fn subscription_capacity_still_limits_messages() {
    let server = Server::new().start();
    let client = ConnectOptions::new()
        .subscription_capacity(5)
        .connect(server.url())
        .await
        .unwrap();
    let sub = client.subscribe("c").await.unwrap();
    assert_eq!(
        sub.pending_limits(),
        PendingLimits::new(5, PendingLimits::DEFAULT_BYTES)
    );
    for i in 0..12u32 {
        client.publish("c", i.to_string()).await.unwrap();
    }
    client.flush().await.unwrap();
    wait_in_messages(&client, 12).await;
    assert_eq!(sub.pending_messages(), 5);
    assert_eq!(sub.dropped_messages(), 7);
    // The defaults are the Go client's.
    let defaults = nats_core::connect(server.url()).await.unwrap();
    let sub = defaults.subscribe("d").await.unwrap();
    assert_eq!(
        sub.pending_limits(),
        PendingLimits::new(512 * 1024, 64 << 20)
    );
}

/// The size of the header block as the server sends it.
fn headers_len(headers: &nats_core::HeaderMap) -> usize {
    let mut len = "NATS/1.0\r\n".len() + 2;
    for (k, v) in headers.iter() {
        len += k.len() + 2 + v.len() + 2;
    }
    len
}
