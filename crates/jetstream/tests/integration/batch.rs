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

#[tokio::test]
async fn a_failed_add_leaves_the_batch_usable() {
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
    batch.add("b.1", "one").await.unwrap();
    // Refused before anything is sent: a wildcard subject, a message over max_payload.
    assert_eq!(
        batch.add("b.*", "wild").await.unwrap_err().kind(),
        ErrorKind::InvalidSubject
    );
    let too_large = vec![0u8; js.client().max_payload() + 1];
    assert_eq!(
        batch.add("b.2", too_large).await.unwrap_err().kind(),
        ErrorKind::MaxPayloadExceeded
    );
    assert_eq!(batch.len(), 1);
    batch.add("b.2", "two").await.unwrap();
    let ack = batch.commit("b.3", "three").await.unwrap();
    assert_eq!(ack.batch_size, 3);
    let stream = js.stream("B").await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 3);
    for (seq, payload) in [(1, "one"), (2, "two"), (3, "three")] {
        let msg = stream.get_msg(seq).await.unwrap();
        assert_eq!(&msg.payload[..], payload.as_bytes());
    }
}

#[tokio::test]
async fn a_failed_first_add_starts_the_batch_over() {
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
    // Refused before anything is sent.
    let mut batch = js.batch();
    let first_id = batch.id().to_string();
    assert_eq!(
        batch.add("b.*", "wild").await.unwrap_err().kind(),
        ErrorKind::InvalidSubject
    );
    assert!(batch.is_empty());
    assert_ne!(batch.id(), first_id);
    batch.add("b.1", "a").await.unwrap();
    let ack = batch.commit("b.2", "b").await.unwrap();
    assert_eq!(ack.batch_size, 2);

    // Refused by the server: too many batches in flight on the stream.
    let mut open = Vec::new();
    let refused = loop {
        let mut b = js.batch();
        match b.add("b.open", "x").await {
            Ok(()) => open.push(b),
            Err(e) => break (b, e),
        }
        assert!(open.len() <= 1000, "no limit on batches in flight");
    };
    let (mut batch, err) = refused;
    assert_eq!(
        err.api_error().map(|a| a.err_code),
        Some(jetstream::ErrorCode::ATOMIC_PUBLISH_TOO_MANY_INFLIGHT),
        "{err}"
    );
    assert!(batch.is_empty());
    // One batch finishes; the refused one can start now.
    open.pop().unwrap().commit("b.done", "y").await.unwrap();
    batch.add("b.3", "c").await.unwrap();
    let ack = batch.commit("b.4", "d").await.unwrap();
    assert_eq!(ack.batch_size, 2);
}
