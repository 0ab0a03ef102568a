//! With the `metrics` feature, consumers, acks, async publishes and the connection
//! report through the `metrics` facade (checked with metrics-util's debugging recorder).

use futures_util::StreamExt;
use jetstream::{AckPolicy, ConsumerConfig, StreamConfig};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use nats_testkit::Server;

type Snapshot = Vec<(
    metrics_util::CompositeKey,
    Option<metrics::Unit>,
    Option<metrics::SharedString>,
    DebugValue,
)>;

/// Everything recorded (histograms: the samples since the last snapshot).
fn snapshot(snapshotter: &Snapshotter) -> Snapshot {
    snapshotter.snapshot().into_vec()
}

/// The value of metric `name` with all of `labels`, if recorded.
fn value<'a>(
    snapshot: &'a Snapshot,
    name: &str,
    labels: &[(&str, &str)],
) -> Option<&'a DebugValue> {
    snapshot
        .iter()
        .find(|(key, _, _, _)| {
            let key = key.key();
            key.name() == name
                && labels
                    .iter()
                    .all(|(k, v)| key.labels().any(|l| l.key() == *k && l.value() == *v))
        })
        .map(|(_, _, _, value)| value)
}

#[tokio::test]
async fn consumers_acks_publishes_and_the_connection_are_measured() {
    // The only test of this binary that installs a recorder.
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().unwrap();

    let server = Server::jetstream().start();
    let js = jetstream::new(nats_core::connect(server.url()).await.unwrap());
    let stream = js
        .create_stream(StreamConfig {
            name: "METERED".into(),
            subjects: vec!["metered.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    for i in 0..20 {
        drop(js.publish_async("metered.x", format!("{i}")).await.unwrap());
    }
    js.publish_async_complete().await.unwrap();
    assert_eq!(
        value(
            &snapshot(&snapshotter),
            "jetstream_publish_pending_acks",
            &[]
        ),
        Some(&DebugValue::Gauge(0.0.into()))
    );

    let consumer = stream
        .create_consumer(ConsumerConfig {
            durable_name: Some("meter".into()),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut batch = consumer.fetch(15).await.unwrap();
    let mut acked = 0;
    while let Some(msg) = batch.next().await {
        let msg = msg.unwrap();
        // Acknowledge 10 of the 15: the histogram counts final acks only.
        if acked < 10 {
            msg.ack().await.unwrap();
            acked += 1;
        } else {
            msg.in_progress().await.unwrap();
        }
    }
    let labels = [("stream", "METERED"), ("consumer", "meter")];
    let after = snapshot(&snapshotter);
    assert_eq!(
        value(&after, "jetstream_consumer_delivered_total", &labels),
        Some(&DebugValue::Counter(15))
    );
    match value(&after, "jetstream_consumer_ack_latency_seconds", &labels) {
        Some(DebugValue::Histogram(samples)) => {
            assert_eq!(samples.len(), 10);
            assert!(samples.iter().all(|s| s.0 >= 0.0 && s.0 < 10.0));
        }
        other => panic!("no ack latency histogram: {other:?}"),
    }
    assert_eq!(
        value(&after, "jetstream_consumer_pull_outstanding", &labels),
        Some(&DebugValue::Gauge(0.0.into())),
        "the fetch of 15 got its 15"
    );

    js.record_connection_metrics();
    let connection = snapshot(&snapshotter);
    match value(&connection, "nats_messages_out_total", &[]) {
        Some(DebugValue::Counter(n)) => assert!(*n >= 20 + 15, "{n}"),
        other => panic!("no connection counter: {other:?}"),
    }
    match value(&connection, "nats_messages_in_total", &[]) {
        Some(DebugValue::Counter(n)) => assert!(*n >= 20 + 15, "{n}"),
        other => panic!("no connection counter: {other:?}"),
    }
}
