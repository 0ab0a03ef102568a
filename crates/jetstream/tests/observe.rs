//! Every JetStream operation opens a `tracing` span with its stream, consumer,
//! subject, bucket or key: recorded here by a subscriber that keeps them.
//!
//! A test binary of its own: `tracing` caches per call site, for the whole
//! process, whether anyone listens; other tests hitting the same call sites
//! on other threads at the moment this one installs its scoped subscriber
//! could leave a span unrecorded (it happened once in the shared binary).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use jetstream::{KeyValueConfig, ObjectStoreConfig, StreamConfig};
use nats_testkit::Server;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

type Fields = BTreeMap<String, String>;

/// Keeps the name and fields of every span opened.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<(String, Fields)>>>);

struct FieldVisitor<'a>(&'a mut Fields);

impl Visit for FieldVisitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: Subscriber> Layer<S> for Recorder {
    fn on_new_span(&self, attrs: &Attributes<'_>, _id: &Id, _ctx: Context<'_, S>) {
        let mut fields = Fields::new();
        attrs.record(&mut FieldVisitor(&mut fields));
        self.0
            .lock()
            .unwrap()
            .push((attrs.metadata().name().to_owned(), fields));
    }
}

impl Recorder {
    /// The spans called `name` whose fields include all of `expected`.
    fn count(&self, name: &str, expected: &[(&str, &str)]) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, fields)| {
                n == name
                    && expected
                        .iter()
                        .all(|(k, v)| fields.get(*k).map(String::as_str) == Some(*v))
            })
            .count()
    }
}

// One thread: the subscriber set for this test sees the spans of every task.
#[tokio::test(flavor = "current_thread")]
async fn every_operation_opens_a_span_with_what_it_is_about() {
    let recorder = Recorder::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(recorder.clone()));

    let server = Server::jetstream().start();
    let js = jetstream::new(nats_core::connect(server.url()).await.unwrap());
    let stream = js
        .create_stream(StreamConfig {
            name: "ORDERS".into(),
            subjects: vec!["orders.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    js.publish("orders.new", "1").await.unwrap();
    js.publish_async("orders.new", "2")
        .await
        .unwrap()
        .await
        .unwrap();
    let consumer = stream
        .create_consumer(jetstream::ConsumerConfig {
            durable_name: Some("worker".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut batch = consumer.fetch(2).await.unwrap();
    while let Some(msg) = batch.next().await {
        let msg = msg.unwrap();
        msg.ack().await.unwrap();
    }
    stream.get_last_msg_for_subject("orders.new").await.unwrap();

    let kv = js
        .create_key_value(KeyValueConfig {
            bucket: "profiles".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    kv.put("sue", "blue").await.unwrap();
    kv.get("sue").await.unwrap();
    kv.delete("sue").await.unwrap();

    let store = js
        .create_object_store(ObjectStoreConfig {
            bucket: "files".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    store.put_bytes("a.txt", "data").await.unwrap();
    store.get("a.txt").await.unwrap();

    let api = |subject: &str| recorder.count("jetstream.api", &[("subject", subject)]);
    assert_eq!(api("$JS.API.STREAM.CREATE.ORDERS"), 1);
    assert_eq!(api("$JS.API.CONSUMER.CREATE.ORDERS.worker"), 1);
    assert!(
        api("$JS.API.STREAM.MSG.GET.ORDERS") + api("$JS.API.DIRECT.GET.ORDERS.orders.new") >= 1
    );
    assert_eq!(
        recorder.count(
            "jetstream.publish",
            &[("subject", "orders.new"), ("asynchronous", "false")]
        ),
        1
    );
    assert_eq!(
        recorder.count(
            "jetstream.publish",
            &[("subject", "orders.new"), ("asynchronous", "true")]
        ),
        1
    );
    assert_eq!(
        recorder.count(
            "jetstream.pull",
            &[("stream", "ORDERS"), ("consumer", "worker"), ("batch", "2")]
        ),
        1
    );
    assert_eq!(
        recorder.count("jetstream.ack", &[("kind", "ack"), ("confirmed", "false")]),
        2
    );
    for op in ["put", "get", "delete"] {
        assert_eq!(
            recorder.count(
                "jetstream.kv",
                &[("op", op), ("bucket", "profiles"), ("key", "sue")]
            ),
            1,
            "kv {op}"
        );
    }
    for op in ["put", "get"] {
        assert_eq!(
            recorder.count(
                "jetstream.object",
                &[("op", op), ("bucket", "files"), ("name", "a.txt")]
            ),
            1,
            "object {op}"
        );
    }
}
