//! Typed messages: publish_json, Msg::json, core Message::json, consume_json
//! (poison messages), typed Key/Value views.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use jetstream::{ConsumerConfig, ErrorKind, KeyValueConfig, Operation, StorageType};
use nats_testkit::Server;
use serde::{Deserialize, Serialize};

use crate::pull::{durable, setup};

/// Waits (at most 20 s) until `done` holds, checking every 10 ms.
pub(crate) async fn wait_until(mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not reached in 20 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Order {
    id: u64,
    item: String,
}

fn order(id: u64) -> Order {
    Order {
        id,
        item: format!("item {id}"),
    }
}

#[tokio::test]
async fn publish_json_round_trips_through_msg_and_core_message() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    let core = nats_core::connect(server.url()).await.unwrap();
    let mut sub = core.subscribe("s.orders").await.unwrap();
    core.flush().await.unwrap();

    let ack = js
        .publish_json("s.orders", &order(1))
        .msg_id("o1")
        .await
        .unwrap();
    assert_eq!(ack.sequence, 1);
    js.publish_json_async("s.orders", &order(2))
        .await
        .unwrap()
        .await
        .unwrap();

    // Core: the message as published.
    let m = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.json::<Order>().unwrap(), order(1));
    assert!(m.json::<Vec<u8>>().is_err());

    // JetStream: the stored messages.
    let c = durable(&stream, "c").await;
    let mut batch = c.fetch(2).await.unwrap();
    let mut got = Vec::new();
    while let Some(m) = batch.next().await {
        let m = m.unwrap();
        got.push(m.json::<Order>().unwrap());
        m.ack().await.unwrap();
    }
    assert_eq!(got, [order(1), order(2)]);
}

#[tokio::test]
async fn a_value_that_cannot_be_encoded_is_refused_before_sending() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    // JSON object keys must be strings.
    let bad: HashMap<(u8, u8), u8> = HashMap::from([((1, 2), 3)]);
    let err = js.publish_json("s.bad", &bad).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("s.bad"), "{err}");
    let err = js.publish_json_async("s.bad", &bad).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(stream.info().await.unwrap().state.messages, 0);
}

#[tokio::test]
async fn decode_errors_are_typed_with_the_subject_and_serde_message() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    js.publish("s.orders.eu", r#"{"id": "not a number"}"#)
        .await
        .unwrap();
    let c = durable(&stream, "c").await;
    let m = c.next().await.unwrap();
    let err = m.json::<Order>().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    let d = err.decode_error().expect("a decode error");
    assert_eq!(d.subject(), "s.orders.eu");
    assert_eq!(d.key(), None);
    assert!(d.type_name().ends_with("Order"), "{}", d.type_name());
    assert!(d.reason().contains("invalid type"), "{}", d.reason());
    assert!(err.to_string().contains("s.orders.eu"), "{err}");
    // The message is untouched: still ackable.
    m.ack().await.unwrap();
}

/// A consumer with a short ack_wait, so a poison message left alone would
/// come back within the test.
async fn short_ack_wait(stream: &jetstream::Stream, name: &str) -> jetstream::Consumer {
    stream
        .create_consumer(ConsumerConfig {
            durable_name: Some(name.into()),
            ack_wait: Duration::from_secs(1),
            ..Default::default()
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn a_poison_message_reaches_the_error_handler_ackable_and_is_termed() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    let c = short_ack_wait(&stream, "poison").await;
    js.publish_json("s.o", &order(1)).await.unwrap();
    js.publish("s.o", "garbage").await.unwrap();
    js.publish_json("s.o", &order(3)).await.unwrap();

    let handled = Arc::new(Mutex::new(Vec::new()));
    let poison = Arc::new(Mutex::new(Vec::new()));
    let (h, p) = (handled.clone(), poison.clone());
    let ctx = c
        .consume_json(move |msg, order: Order| {
            let h = h.clone();
            async move {
                msg.ack().await.unwrap();
                h.lock().unwrap().push(order.id);
            }
        })
        .error_handler(move |mut err| {
            assert_eq!(err.kind(), ErrorKind::Decode);
            let d = err.decode_error().unwrap();
            assert_eq!(d.subject(), "s.o");
            let msg = err.take_msg().expect("the poison message");
            assert!(err.take_msg().is_none());
            p.lock()
                .unwrap()
                .push(msg.metadata().unwrap().sequence.stream);
            let reason = err.to_string();
            tokio::spawn(async move { msg.term_with_reason(reason).await.unwrap() });
        })
        .await
        .unwrap();
    wait_until(|| handled.lock().unwrap().len() == 2).await;
    // Longer than ack_wait: a poison message not termed would be redelivered.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    ctx.drain().await;
    assert_eq!(*handled.lock().unwrap(), [1, 3]);
    assert_eq!(
        *poison.lock().unwrap(),
        [2],
        "reported once, not redelivered"
    );
    let info = c.info().await.unwrap();
    assert_eq!(info.num_ack_pending, 0);
    assert_eq!(info.num_redelivered, 0);
}

#[tokio::test]
async fn without_an_error_handler_a_poison_message_is_terminated() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, StorageType::Memory).await;
    let c = short_ack_wait(&stream, "quiet").await;
    js.publish("s.o", "garbage").await.unwrap();
    js.publish_json("s.o", &order(2)).await.unwrap();
    let handled = Arc::new(Mutex::new(Vec::new()));
    let h = handled.clone();
    let ctx = c
        .consume_json(move |msg, order: Order| {
            let h = h.clone();
            async move {
                msg.ack().await.unwrap();
                h.lock().unwrap().push(order.id);
            }
        })
        .await
        .unwrap();
    wait_until(|| handled.lock().unwrap().len() == 1).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    ctx.drain().await;
    let info = c.info().await.unwrap();
    assert_eq!(info.num_ack_pending, 0, "{info:?}");
    assert_eq!(info.num_redelivered, 0, "{info:?}");
}

type Item = jetstream::Result<Option<jetstream::kv::TypedEntry<Order>>>;

async fn next(w: &mut jetstream::kv::TypedWatcher<Order>) -> Item {
    tokio::time::timeout(Duration::from_secs(5), w.next())
        .await
        .expect("watcher stalled")
        .expect("watcher ended")
}

async fn bucket(js: &jetstream::JetStream) -> jetstream::KeyValue {
    js.create_key_value(KeyValueConfig {
        bucket: "orders".into(),
        history: 10,
        storage: StorageType::Memory,
        ..Default::default()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn typed_kv_round_trips_and_keeps_the_kv_errors() {
    let server = Server::jetstream().start();
    let (js, _) = setup(&server, StorageType::Memory).await;
    let kv = bucket(&js).await;
    let orders = kv.typed::<Order>();

    let r1 = orders.create("o.1", &order(1)).await.unwrap();
    assert_eq!(
        orders.create("o.1", &order(1)).await.unwrap_err().kind(),
        ErrorKind::KeyExists
    );
    let entry = orders.get("o.1").await.unwrap();
    assert_eq!(entry.value(), Some(&order(1)));
    assert_eq!((entry.key(), entry.revision()), ("o.1", r1));
    assert_eq!(entry.operation(), Operation::Put);

    let r2 = orders.update("o.1", &order(11), r1).await.unwrap();
    assert_eq!(
        orders
            .update("o.1", &order(12), r1)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::WrongLastRevision
    );
    let r3 = orders.put("o.1", &order(13)).await.unwrap();
    assert!(r3 > r2);
    assert_eq!(
        orders.get("o.1").await.unwrap().into_value(),
        Some(order(13))
    );
    // The stored bytes are JSON, readable untyped.
    let raw = kv.get("o.1").await.unwrap();
    let json: serde_json::Value = serde_json::from_slice(raw.value()).unwrap();
    assert_eq!(json["id"], 13);
    assert_eq!(
        orders.get("nope").await.unwrap_err().kind(),
        ErrorKind::KeyNotFound
    );
}

#[tokio::test]
async fn typed_kv_decode_errors_name_the_key() {
    let server = Server::jetstream().start();
    let (js, _) = setup(&server, StorageType::Memory).await;
    let kv = bucket(&js).await;
    kv.put("o.bad", "{not json").await.unwrap();
    let err = kv.typed::<Order>().get("o.bad").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    let d = err.decode_error().unwrap();
    assert_eq!(d.key(), Some("o.bad"));
    assert_eq!(d.subject(), "$KV.orders.o.bad");
    assert!(!d.reason().is_empty());
    assert!(err.to_string().contains("o.bad"), "{err}");
}

#[tokio::test]
async fn typed_kv_history_and_watch_yield_values() {
    let server = Server::jetstream().start();
    let (js, _) = setup(&server, StorageType::Memory).await;
    let kv = bucket(&js).await;
    let orders = kv.typed::<Order>();
    orders.put("o.1", &order(1)).await.unwrap();
    orders.put("o.1", &order(2)).await.unwrap();
    kv.delete("o.1").await.unwrap();
    orders.put("o.1", &order(3)).await.unwrap();

    let history = orders.history("o.1").await.unwrap();
    let values: Vec<_> = history.iter().map(|e| e.value().map(|o| o.id)).collect();
    assert_eq!(values, [Some(1), Some(2), None, Some(3)]);
    assert_eq!(history[2].operation(), Operation::Delete);

    // Watch: the current value, the marker, then live changes, with a value
    // that does not decode reported in between.
    let mut watcher = orders.watch("o.*").await.unwrap();
    let first = next(&mut watcher).await.unwrap().unwrap();
    assert_eq!(first.value(), Some(&order(3)));
    assert!(
        next(&mut watcher).await.unwrap().is_none(),
        "initial marker"
    );
    kv.put("o.2", "garbage").await.unwrap();
    orders.put("o.3", &order(30)).await.unwrap();
    kv.delete("o.3").await.unwrap();
    let err = next(&mut watcher).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert_eq!(err.decode_error().unwrap().key(), Some("o.2"));
    let live = next(&mut watcher).await.unwrap().unwrap();
    assert_eq!((live.key(), live.value()), ("o.3", Some(&order(30))));
    let deleted = next(&mut watcher).await.unwrap().unwrap();
    assert_eq!(
        (deleted.key(), deleted.operation(), deleted.value()),
        ("o.3", Operation::Delete, None)
    );

    // A watcher started with options, typed afterwards.
    let mut all = orders.watcher(kv.watch("o.1").include_history().await.unwrap());
    let mut ids = Vec::new();
    while let Some(e) = next(&mut all).await.unwrap() {
        ids.push(e.value().map(|o| o.id));
    }
    assert_eq!(ids, [Some(1), Some(2), None, Some(3)]);
}
