use std::time::Duration;

use jetstream::{ErrorKind, StreamConfig};
use nats_core::HeaderMap;
use nats_testkit::Server;

async fn setup(server: &Server, config: StreamConfig) -> jetstream::JetStream {
    let client = nats_core::connect(server.url()).await.unwrap();
    let js = jetstream::new(client);
    js.create_stream(config).await.unwrap();
    js
}

#[tokio::test]
async fn atomic_batch_commits_all_messages() {
    let server = Server::jetstream().start();
    let js = setup(
        &server,
        StreamConfig {
            name: "B".into(),
            subjects: vec!["b.>".into()],
            allow_atomic: true,
            ..Default::default()
        },
    )
    .await;
    let mut batch = js.batch();
    for i in 0..9 {
        batch.add(format!("b.{i}"), format!("m{i}")).await.unwrap();
    }
    assert_eq!(batch.len(), 9);
    let ack = batch.commit("b.last", "last").await.unwrap();
    assert_eq!(ack.stream, "B");
    assert_eq!(ack.batch_size, 10);
    assert_eq!(ack.sequence, 10);
    assert!(ack.batch_id.is_some());
    let info = js.stream("B").await.unwrap().info().await.unwrap();
    assert_eq!(info.state.messages, 10);
}

#[tokio::test]
async fn a_failed_or_abandoned_batch_stores_nothing() {
    let server = Server::jetstream().start();
    let js = setup(
        &server,
        StreamConfig {
            name: "B".into(),
            subjects: vec!["b.>".into()],
            allow_atomic: true,
            ..Default::default()
        },
    )
    .await;
    js.publish("b.x", "existing").await.unwrap();

    // A wrong expectation on the first message fails the whole batch.
    let mut batch = js.batch();
    let mut h = HeaderMap::new();
    h.insert("Nats-Expected-Last-Sequence", "99");
    let first = batch.add_with_headers("b.1", h, "a").await;
    let result = match first {
        Err(e) => Err(e),
        Ok(()) => {
            batch.add("b.2", "b").await.unwrap();
            batch.commit("b.3", "c").await.map(|_| ())
        }
    };
    assert_eq!(result.unwrap_err().kind(), ErrorKind::WrongLastSequence);

    // A batch never committed is abandoned.
    let mut abandoned = js.batch();
    abandoned.add("b.4", "d").await.unwrap();
    abandoned.add("b.5", "e").await.unwrap();
    drop(abandoned);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let info = js.stream("B").await.unwrap().info().await.unwrap();
    assert_eq!(info.state.messages, 1);
}

#[tokio::test]
async fn batches_need_an_atomic_stream() {
    let server = Server::jetstream().start();
    let js = setup(
        &server,
        StreamConfig {
            name: "N".into(),
            subjects: vec!["n".into()],
            ..Default::default()
        },
    )
    .await;
    let mut batch = js.batch();
    let err = batch.add("n", "x").await.unwrap_err();
    assert!(err.api_error().is_some(), "{err}");
}

#[tokio::test]
async fn counters_increment_and_return_the_value() {
    let server = Server::jetstream().start();
    let js = setup(
        &server,
        StreamConfig {
            name: "C".into(),
            subjects: vec!["c.>".into()],
            allow_msg_counter: true,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(js.increment("c.views", 5).await.unwrap(), 5);
    assert_eq!(js.increment("c.views", 3).await.unwrap(), 8);
    assert_eq!(js.increment("c.views", -10).await.unwrap(), -2);
    assert_eq!(js.increment("c.other", 1).await.unwrap(), 1);
}

#[tokio::test]
async fn batches_and_counters_are_refused_on_old_servers() {
    let server = Server::builder().jetstream(true).version("2.10.26").start();
    let client = nats_core::connect(server.url()).await.unwrap();
    let js = jetstream::new(client);
    let mut batch = js.batch();
    assert_eq!(
        batch.add("x", "y").await.unwrap_err().kind(),
        ErrorKind::NotSupported
    );
    assert_eq!(
        js.increment("x", 1).await.unwrap_err().kind(),
        ErrorKind::NotSupported
    );
}
