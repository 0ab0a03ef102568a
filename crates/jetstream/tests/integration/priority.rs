use std::time::Duration;

use futures_util::StreamExt;
use jetstream::{ConsumerConfig, ErrorKind, PriorityPolicy, StreamConfig};
use nats_testkit::Server;

async fn setup(
    server: &Server,
    policy: PriorityPolicy,
) -> (jetstream::JetStream, jetstream::Consumer) {
    let client = nats_core::connect(server.url()).await.unwrap();
    let js = jetstream::new(client);
    let stream = js
        .create_stream(StreamConfig {
            name: "P".into(),
            subjects: vec!["p".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    for i in 0..10 {
        js.publish("p", format!("{i}")).await.unwrap();
    }
    let consumer = stream
        .create_consumer(ConsumerConfig {
            durable_name: Some("pc".into()),
            priority_groups: vec!["jobs".into()],
            priority_policy: policy,
            ..Default::default()
        })
        .await
        .unwrap();
    (js, consumer)
}

#[tokio::test]
async fn overflow_serves_only_above_min_pending() {
    let server = Server::jetstream().start();
    let (_js, c) = setup(&server, PriorityPolicy::Overflow).await;
    // Without the group the server refuses the pull.
    let items: Vec<_> = c
        .fetch(5)
        .max_wait(Duration::from_secs(1))
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(items.len(), 1);
    assert_eq!(
        items[0].as_ref().unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    // 10 pending < 100: nothing is served.
    let n = c
        .fetch(5)
        .group("jobs")
        .min_pending(100)
        .max_wait(Duration::from_millis(500))
        .await
        .unwrap()
        .count()
        .await;
    assert_eq!(n, 0);
    // 10 pending >= 5: served.
    let n = c
        .fetch(5)
        .group("jobs")
        .min_pending(5)
        .max_wait(Duration::from_millis(500))
        .await
        .unwrap()
        .count()
        .await;
    assert_eq!(n, 5);
}

#[tokio::test]
async fn pinned_client_gets_everything_and_a_pin_id() {
    let server = Server::jetstream().start();
    let (_js, c) = setup(&server, PriorityPolicy::PinnedClient).await;
    let mut first = c.messages().group("jobs").await.unwrap();
    let m = tokio::time::timeout(Duration::from_secs(5), first.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(m.headers().and_then(|h| h.get("Nats-Pin-Id")).is_some());
    m.ack().await.unwrap();
    let mut second = c.messages().group("jobs").await.unwrap();
    for _ in 1..10 {
        let m = tokio::time::timeout(Duration::from_secs(5), first.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        m.ack().await.unwrap();
    }
    // The standby client got nothing.
    assert!(
        tokio::time::timeout(Duration::from_millis(500), second.next())
            .await
            .is_err()
    );
    let info = c.info().await.unwrap();
    assert_eq!(info.num_ack_pending, 0);
    assert_eq!(info.delivered.stream_sequence, 10);
}

#[tokio::test]
async fn prioritized_pulls_are_served_and_bad_priorities_refused() {
    let server = Server::jetstream().start();
    let (_js, c) = setup(&server, PriorityPolicy::Prioritized).await;
    let err = c.fetch(1).group("jobs").priority(10).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let n = c
        .fetch(3)
        .group("jobs")
        .priority(1)
        .max_wait(Duration::from_millis(500))
        .await
        .unwrap()
        .count()
        .await;
    assert_eq!(n, 3);
}
