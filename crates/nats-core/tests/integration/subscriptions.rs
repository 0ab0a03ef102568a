use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use nats_core::{ConnectOptions, Event};
use nats_testkit::Server;

#[tokio::test]
async fn unsubscribe_after_ends_the_stream() {
    let server = Server::new().start();
    let client = nats_core::connect(server.url()).await.unwrap();
    let mut sub = client.subscribe("n").await.unwrap();
    sub.unsubscribe_after(3).await.unwrap();
    for _ in 0..10 {
        client.publish("n", "x").await.unwrap();
    }
    let mut n = 0;
    while let Some(_m) = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .unwrap()
    {
        n += 1;
    }
    assert_eq!(n, 3);
}

#[tokio::test]
async fn unsubscribe_stops_delivery_and_drop_cleans_up() {
    let server = Server::new().start();
    let client = nats_core::connect(server.url()).await.unwrap();
    let base = client.subscription_count();
    let mut sub = client.subscribe("u").await.unwrap();
    assert_eq!(client.subscription_count(), base + 1);
    sub.unsubscribe().await.unwrap();
    client.publish("u", "x").await.unwrap();
    client.flush().await.unwrap();
    assert!(sub.next().await.is_none());
    assert_eq!(client.subscription_count(), base);
    let sub2 = client.subscribe("u2").await.unwrap();
    drop(sub2);
    assert_eq!(client.subscription_count(), base);
}

#[tokio::test]
async fn subscriber_drain_yields_buffered_then_ends() {
    let server = Server::new().start();
    let client = nats_core::connect(server.url()).await.unwrap();
    let mut sub = client.subscribe("dr").await.unwrap();
    for i in 0..500 {
        client.publish("dr", format!("{i}")).await.unwrap();
    }
    sub.drain().await.unwrap();
    client.publish("dr", "after").await.unwrap();
    let mut got = Vec::new();
    while let Some(m) = sub.next().await {
        got.push(m.payload);
    }
    assert_eq!(got.len(), 500);
    assert_eq!(&got[499][..], b"499");
}

#[tokio::test]
async fn queue_groups_split_messages() {
    let server = Server::new().start();
    let client = nats_core::connect(server.url()).await.unwrap();
    let mut a = client.queue_subscribe("work", "q").await.unwrap();
    let mut b = client.queue_subscribe("work", "q").await.unwrap();
    client.flush().await.unwrap();
    for _ in 0..200 {
        client.publish("work", "x").await.unwrap();
    }
    client.flush().await.unwrap();
    async fn count(s: &mut nats_core::Subscriber) -> usize {
        let mut n = 0;
        while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(200), s.next()).await {
            n += 1;
        }
        n
    }
    let (na, nb) = (count(&mut a).await, count(&mut b).await);
    assert_eq!(na + nb, 200);
    assert!(na > 0 && nb > 0, "{na} {nb}");
}

#[tokio::test]
async fn slow_subscriber_drops_and_does_not_stall_others() {
    let server = Server::new().start();
    let slow_events = Arc::new(AtomicU64::new(0));
    let ev = slow_events.clone();
    let client = ConnectOptions::new()
        .subscription_capacity(10)
        .event_callback(move |e| {
            let ev = ev.clone();
            async move {
                if let Event::SlowConsumer(_) = e {
                    ev.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
        .connect(server.url())
        .await
        .unwrap();
    let _slow = client.subscribe("s").await.unwrap(); // never read
    let mut fast = client.subscribe("s").await.unwrap();
    let publisher = nats_core::connect(server.url()).await.unwrap();
    for i in 0..100u32 {
        publisher
            .publish("s", i.to_be_bytes().to_vec())
            .await
            .unwrap();
        // Keep the fast reader within its capacity of 10.
        let m = tokio::time::timeout(Duration::from_secs(5), fast.next())
            .await
            .expect("fast subscriber stalled")
            .unwrap();
        assert_eq!(&m.payload[..], i.to_be_bytes());
    }
    assert_eq!(client.statistics().dropped_messages, 90);
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Rate-limited: one event, not 90.
    assert_eq!(slow_events.load(Ordering::Relaxed), 1);
}
