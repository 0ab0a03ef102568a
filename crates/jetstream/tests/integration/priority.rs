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
    // A pull must name one of the consumer's groups: refused before sending,
    // by fetch and by the continuous loops alike.
    let err = c
        .fetch(5)
        .max_wait(Duration::from_secs(1))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let err = c.fetch(5).group("other").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    match c.messages().await {
        Err(e) => assert_eq!(e.kind(), ErrorKind::InvalidArgument),
        Ok(_) => panic!("messages() without the group was accepted"),
    }
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

    // The lower priority number is served first: with the stream drained, a
    // priority-5 pull waits first, then a priority-1 pull; one new message
    // goes to the priority-1 pull.
    let drained = c
        .fetch(7)
        .group("jobs")
        .max_wait(Duration::from_millis(500))
        .await
        .unwrap()
        .count()
        .await;
    assert_eq!(drained, 7);
    let pull = |priority: u8| {
        c.fetch(1)
            .group("jobs")
            .priority(priority)
            .max_wait(Duration::from_secs(2))
    };
    let low = pull(5).await.unwrap();
    let high = pull(1).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    _js.publish("p", "urgent").await.unwrap();
    let (low, high) = tokio::join!(low.collect::<Vec<_>>(), high.collect::<Vec<_>>());
    assert_eq!(high.len(), 1, "the priority-1 pull got nothing");
    assert_eq!(&high[0].as_ref().unwrap().data()[..], b"urgent");
    assert!(low.is_empty(), "the priority-5 pull was served first");
}

#[tokio::test]
async fn pinned_fetches_keep_their_pin_and_a_lost_pin_is_forgotten() {
    let server = Server::jetstream().start();
    let (js, c) = setup(&server, PriorityPolicy::PinnedClient).await;
    let fetch3 = |c: jetstream::Consumer, wait: Duration| async move {
        let batch = c.fetch(3).group("jobs").max_wait(wait).await.unwrap();
        batch.map(|m| m.unwrap()).collect::<Vec<_>>().await
    };
    let first = fetch3(c.clone(), Duration::from_secs(2)).await;
    assert_eq!(first.len(), 3);
    let pin = first[0].headers().unwrap().get("Nats-Pin-Id").unwrap();
    let pin = pin.to_string();
    // Another handle holds no pin: it waits as standby and gets nothing.
    let other = js.consumer("P", "pc").await.unwrap();
    assert!(fetch3(other.clone(), Duration::from_millis(500))
        .await
        .is_empty());
    // The pinned handle (and its clones) send the pin id and keep being served.
    let second = fetch3(c.clone(), Duration::from_secs(2)).await;
    assert_eq!(second.len(), 3);
    assert_eq!(
        second[0].headers().unwrap().get("Nats-Pin-Id"),
        Some(pin.as_str())
    );
    // Once unpinned, the old pin is refused (423) and forgotten: the fetch
    // after that is pinned afresh.
    c.unpin("jobs").await.unwrap();
    let refused: Vec<_> = c
        .fetch(3)
        .group("jobs")
        .max_wait(Duration::from_secs(2))
        .await
        .unwrap()
        .collect()
        .await;
    assert!(
        refused.iter().all(|r| r.is_err()),
        "a pull with the old pin id was served"
    );
    let third = fetch3(c.clone(), Duration::from_secs(2)).await;
    assert_eq!(third.len(), 3);
    let new_pin = third[0].headers().unwrap().get("Nats-Pin-Id").unwrap();
    assert_ne!(new_pin, pin);
}

#[tokio::test]
async fn a_group_on_a_consumer_without_groups_is_refused_before_sending() {
    let server = Server::jetstream().start();
    let client = nats_core::connect(server.url()).await.unwrap();
    let js = jetstream::new(client);
    let stream = js
        .create_stream(StreamConfig {
            name: "NG".into(),
            subjects: vec!["ng".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let c = stream
        .create_consumer(ConsumerConfig {
            durable_name: Some("plain".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let err = c.fetch(1).group("jobs").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    match c.messages().group("jobs").await {
        Err(e) => assert_eq!(e.kind(), ErrorKind::InvalidArgument),
        Ok(_) => panic!("messages() with a group was accepted"),
    }
}
