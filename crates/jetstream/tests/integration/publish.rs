use std::time::Duration;

use futures_util::future::join_all;
use jetstream::{ErrorKind, JetStreamOptions};
use nats_testkit::Server;
use serde_json::json;

use crate::common::{raw_create_stream, raw_stream_info, stream};

async fn setup(server: &Server) -> (nats_core::Client, jetstream::JetStream) {
    let client = nats_core::connect(server.url()).await.unwrap();
    let js = jetstream::new(client.clone());
    (client, js)
}

#[tokio::test]
async fn publish_returns_acks_with_increasing_sequences() {
    let server = Server::jetstream().start();
    let (client, js) = setup(&server).await;
    raw_create_stream(&client, stream("ORDERS", &["orders.>"])).await;
    for i in 1..=5u64 {
        let ack = js.publish("orders.new", format!("o{i}")).await.unwrap();
        assert_eq!(ack.stream, "ORDERS");
        assert_eq!(ack.sequence, i);
        assert!(!ack.duplicate);
    }
    let info = raw_stream_info(&client, "ORDERS").await;
    assert_eq!(info["state"]["messages"], 5);
}

#[tokio::test]
async fn msg_id_duplicates_return_the_first_sequence() {
    let server = Server::jetstream().start();
    let (client, js) = setup(&server).await;
    raw_create_stream(&client, stream("D", &["d"])).await;
    let first = js.publish("d", "a").msg_id("id-1").await.unwrap();
    js.publish("d", "b").await.unwrap();
    let dup = js.publish("d", "c").msg_id("id-1").await.unwrap();
    assert!(dup.duplicate);
    assert_eq!(dup.sequence, first.sequence);
    assert_eq!(raw_stream_info(&client, "D").await["state"]["messages"], 2);
}

#[tokio::test]
async fn expectation_headers_pass_and_fail() {
    let server = Server::jetstream().start();
    let (client, js) = setup(&server).await;
    raw_create_stream(&client, stream("E", &["e.>"])).await;

    js.publish("e.a", "1").expected_stream("E").await.unwrap();
    let err = js
        .publish("e.a", "x")
        .expected_stream("OTHER")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StreamMismatch);

    js.publish("e.a", "2")
        .expected_last_sequence(1)
        .await
        .unwrap();
    let err = js
        .publish("e.a", "x")
        .expected_last_sequence(1)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongLastSequence);
    assert!(err.api_error().is_some());

    // e.b has no messages yet: 0 means "none".
    js.publish("e.b", "3")
        .expected_last_subject_sequence(0)
        .await
        .unwrap();
    js.publish("e.b", "4")
        .expected_last_subject_sequence(3)
        .await
        .unwrap();
    let err = js
        .publish("e.b", "x")
        .expected_last_subject_sequence(3)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongLastSequence);

    // Check against another subject (2.11+): last on e.a is 2.
    js.publish("e.c", "5")
        .expected_last_subject_sequence(2)
        .expected_last_subject_sequence_subject("e.a")
        .await
        .unwrap();
    let err = js
        .publish("e.c", "x")
        .expected_last_subject_sequence(1)
        .expected_last_subject_sequence_subject("e.a")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongLastSequence);

    js.publish("e.a", "6").msg_id("m6").await.unwrap();
    js.publish("e.a", "7")
        .expected_last_msg_id("m6")
        .await
        .unwrap();
    let err = js
        .publish("e.a", "x")
        .expected_last_msg_id("m6")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongLastMsgId);
    assert_eq!(raw_stream_info(&client, "E").await["state"]["messages"], 7);
}

#[tokio::test]
async fn headers_are_stored_and_ttl_expires_messages() {
    let server = Server::jetstream().start();
    let (client, js) = setup(&server).await;
    raw_create_stream(
        &client,
        json!({"name": "T", "subjects": ["t"], "storage": "memory", "allow_msg_ttl": true}),
    )
    .await;
    js.publish("t", "short")
        .ttl(Duration::from_millis(1500))
        .header("X-Kind", "demo")
        .await
        .unwrap();
    js.publish("t", "long").await.unwrap();
    let reply = client
        .request("$JS.API.STREAM.MSG.GET.T", r#"{"seq":1}"#)
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
    assert!(v["message"]["hdrs"].is_string(), "{v}");
    let start = std::time::Instant::now();
    loop {
        let n = raw_stream_info(&client, "T").await["state"]["messages"].clone();
        if n == 1 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "TTL did not expire"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(start.elapsed() >= Duration::from_millis(700));
}

#[tokio::test]
async fn no_stream_is_no_responders_and_retry_waits_for_the_stream() {
    let server = Server::jetstream().start();
    let (client, js) = setup(&server).await;
    let err = js
        .publish("nowhere", "x")
        .retry_attempts(0)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoResponders);
    let err = js
        .publish_async("nowhere", "x")
        .await
        .unwrap()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoResponders);

    let creator = client.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        raw_create_stream(&creator, stream("LATE", &["late"])).await;
    });
    let ack = js
        .publish("late", "x")
        .retry_attempts(30)
        .retry_wait(Duration::from_millis(50))
        .await
        .unwrap();
    assert_eq!(ack.stream, "LATE");
}

#[tokio::test]
async fn twenty_thousand_async_publishes_resolve_in_order() {
    let server = Server::jetstream().start();
    let (client, js) = setup(&server).await;
    raw_create_stream(&client, stream("A", &["a"])).await;
    let mut futures = Vec::with_capacity(20_000);
    for i in 0..20_000u32 {
        futures.push(
            js.publish_async("a", i.to_be_bytes().to_vec())
                .await
                .unwrap(),
        );
    }
    let acks = join_all(futures).await;
    for (i, ack) in acks.into_iter().enumerate() {
        assert_eq!(ack.unwrap().sequence, i as u64 + 1);
    }
    js.publish_async_complete().await.unwrap();
    assert_eq!(js.publish_async_pending(), 0);
    assert_eq!(
        raw_stream_info(&client, "A").await["state"]["messages"],
        20_000
    );
}

#[tokio::test]
async fn a_small_window_is_never_exceeded_even_when_acks_are_not_polled() {
    let server = Server::jetstream().start();
    let client = nats_core::connect(server.url()).await.unwrap();
    let js = jetstream::with_options(
        client.clone(),
        JetStreamOptions {
            max_pending_acks: 8,
            ..Default::default()
        },
    );
    raw_create_stream(&client, stream("W", &["w"])).await;
    let mut held = Vec::new();
    for i in 0..2_000u32 {
        assert!(js.publish_async_pending() <= 8);
        // The futures are kept but not polled: slots must still free up as acks arrive.
        held.push(
            js.publish_async("w", i.to_be_bytes().to_vec())
                .await
                .unwrap(),
        );
        assert!(js.publish_async_pending() <= 8);
    }
    for (i, ack) in join_all(held).await.into_iter().enumerate() {
        assert_eq!(ack.unwrap().sequence, i as u64 + 1);
    }
    js.publish_async_complete().await.unwrap();
    assert_eq!(js.publish_async_pending(), 0);
}

#[tokio::test]
async fn server_restart_during_async_publishing_resolves_every_ack() {
    let mut server = Server::jetstream().start();
    let client = nats_core::connect(server.url()).await.unwrap();
    let js = jetstream::with_options(
        client.clone(),
        JetStreamOptions {
            timeout: Duration::from_secs(3),
            ..Default::default()
        },
    );
    raw_create_stream(
        &client,
        json!({"name": "R", "subjects": ["r"], "storage": "file"}),
    )
    .await;
    let publisher = {
        let js = js.clone();
        tokio::spawn(async move {
            let mut futures = Vec::new();
            for i in 0..20_000u32 {
                match js.publish_async("r", i.to_be_bytes().to_vec()).await {
                    Ok(f) => futures.push(f),
                    Err(_) => break,
                }
            }
            let results = join_all(futures).await;
            let ok = results.iter().filter(|r| r.is_ok()).count();
            (ok, results.len())
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    server.restart();
    let (ok, total) = tokio::time::timeout(Duration::from_secs(30), publisher)
        .await
        .expect("pending acks hung")
        .unwrap();
    assert!(total > 0);
    assert!(ok <= total);
    tokio::time::timeout(Duration::from_secs(10), js.publish_async_complete())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(js.publish_async_pending(), 0);
}

#[tokio::test]
async fn a_full_window_waits_while_acks_flow_and_fails_only_once_they_stop() {
    use futures_util::StreamExt;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Instant;

    let server = Server::new().start();
    let client = nats_core::connect(server.url()).await.unwrap();
    let js = jetstream::with_options(
        client.clone(),
        JetStreamOptions {
            max_pending_acks: 1,
            timeout: Duration::from_millis(300),
            ..Default::default()
        },
    );
    // Stands in for a stream: acks each message 150 ms after it arrived, while
    // `answering` is set.
    let answering = Arc::new(AtomicBool::new(true));
    let mut sub = client.subscribe("slow").await.unwrap();
    client.flush().await.unwrap();
    let _responder = tokio::spawn({
        let client = client.clone();
        let answering = answering.clone();
        async move {
            let mut seq = 0u64;
            while let Some(m) = sub.next().await {
                if !answering.load(Ordering::SeqCst) {
                    continue;
                }
                seq += 1;
                tokio::time::sleep(Duration::from_millis(150)).await;
                if let Some(reply) = m.reply {
                    let ack = format!(r#"{{"stream":"S","seq":{seq}}}"#);
                    client.publish(reply.to_string(), ack).await.unwrap();
                }
            }
        }
    });

    // Four publishers share the one slot: the last waits for three acks
    // (~450 ms), longer than the 300 ms timeout, and still gets through
    // because acks keep arriving.
    let started = Instant::now();
    let publishers: Vec<_> = (0..4)
        .map(|i| {
            let js = js.clone();
            tokio::spawn(async move { js.publish_async("slow", format!("{i}")).await?.await })
        })
        .collect();
    let mut sequences = Vec::new();
    for p in publishers {
        sequences.push(p.await.unwrap().unwrap().sequence);
    }
    sequences.sort_unstable();
    assert_eq!(sequences, [1, 2, 3, 4]);
    assert!(started.elapsed() >= Duration::from_millis(450));

    // Acks stop: with the slot held by an unanswered publish, the next one
    // fails with Timeout after about the timeout.
    answering.store(false, Ordering::SeqCst);
    // (Its own deadline is later: a request frees its slot at its deadline.)
    let held = js
        .publish_async("slow", "held")
        .timeout(Duration::from_secs(10))
        .await
        .unwrap();
    let waited = Instant::now();
    let err = js.publish_async("slow", "blocked").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    let waited = waited.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
    drop(held);
}
