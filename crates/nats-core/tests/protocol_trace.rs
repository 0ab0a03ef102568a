//! Every protocol operation is a `trace` event under target `nats_core::protocol`.
//!
//! A test binary of its own: `tracing` caches per call site, for the whole
//! process, whether anyone listens; other tests hitting the same call sites
//! on other threads while this one installs its scoped subscriber could leave
//! an event unrecorded (it happened once in the shared binary).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use nats_testkit::Server;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

/// Keeps `op` and `subject` of every protocol event.
#[derive(Clone, Default)]
struct Ops(Arc<Mutex<Vec<(String, String)>>>);

#[derive(Default)]
struct Fields {
    op: String,
    subject: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "op" => self.op = value.to_owned(),
            "subject" => self.subject = value.to_owned(),
            _ => {}
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        if field.name() == "subject" {
            self.subject = format!("{value:?}");
        }
    }
}

impl<S: Subscriber> Layer<S> for Ops {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() != "nats_core::protocol" {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        self.0.lock().unwrap().push((fields.op, fields.subject));
    }
}

// One thread: the subscriber set for this test sees the connection task's events too.
#[tokio::test(flavor = "current_thread")]
async fn every_operation_is_a_trace_event() {
    let ops = Ops::default();
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(ops.clone()));

    let server = Server::new().start();
    let client = nats_core::connect(server.url()).await.unwrap();
    let mut sub = client.subscribe("traced.>").await.unwrap();
    client.publish("traced.one", "1").await.unwrap();
    let msg = sub.next().await.unwrap();
    assert_eq!(msg.subject.as_str(), "traced.one");
    client.flush().await.unwrap();

    let seen = ops.0.lock().unwrap().clone();
    let has = |op: &str, subject: &str| seen.iter().any(|(o, s)| o == op && s == subject);
    assert!(has("SUB", "traced.>"), "{seen:?}");
    assert!(has("PUB", "traced.one"), "{seen:?}");
    assert!(has("MSG", "traced.one"), "{seen:?}");
    assert!(seen.iter().any(|(o, _)| o == "PONG"), "{seen:?}");
}
