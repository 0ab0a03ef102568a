//! Helpers shared by the integration tests.

use std::time::Duration;

use futures_util::StreamExt;
use nats_core::Client;
use nats_testkit::Server;
use serde_json::Value;

/// A fresh server and a client connected to it.
pub async fn setup() -> (Server, Client) {
    let server = Server::new().start();
    let client = nats_core::connect(server.url()).await.unwrap();
    (server, client)
}

/// Another connection to the same server (a caller distinct from the service).
pub async fn connect(server: &Server) -> Client {
    nats_core::connect(server.url()).await.unwrap()
}

/// Sends one request to `subject` through a raw inbox and collects every
/// JSON answer for `wait` (independent of the crate's discovery helper).
pub async fn gather_raw(client: &Client, subject: &str, wait: Duration) -> Vec<Value> {
    let inbox = client.new_inbox();
    let mut sub = client.subscribe(&inbox).await.unwrap();
    client
        .publish_with_reply(subject, &inbox, "")
        .await
        .unwrap();
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Some(msg)) = tokio::time::timeout_at(deadline, sub.next()).await {
        if msg.status.is_some() {
            continue;
        }
        out.push(serde_json::from_slice(&msg.payload).unwrap());
    }
    out
}

/// One JSON answer to a request on `subject`.
pub async fn request_json(client: &Client, subject: &str) -> Value {
    let reply = client.request(subject, "").await.unwrap();
    serde_json::from_slice(&reply.payload).unwrap()
}

/// The sorted keys of a JSON object.
pub fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

/// Answers every request of `endpoint` with its payload, in a task.
pub fn echo(mut endpoint: nats_service::Endpoint) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(request) = endpoint.next().await {
            let payload = request.payload().clone();
            request.respond(payload).await.unwrap();
        }
    })
}

/// Takes every request of `endpoint` and drops it unanswered, in a task.
pub fn sink(mut endpoint: nats_service::Endpoint) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move { while endpoint.next().await.is_some() {} })
}
