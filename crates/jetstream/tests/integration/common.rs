//! Helpers shared by the integration tests.

use nats_core::Client;
use serde_json::{json, Value};

/// Creates a stream through the raw API (independent of the crate's stream API).
pub async fn raw_create_stream(client: &Client, config: Value) {
    let name = config["name"].as_str().unwrap().to_string();
    let reply = client
        .request(
            format!("$JS.API.STREAM.CREATE.{name}"),
            serde_json::to_vec(&config).unwrap(),
        )
        .await
        .unwrap();
    let v: Value = serde_json::from_slice(&reply.payload).unwrap();
    assert!(v.get("error").is_none(), "stream create failed: {v}");
}

/// Stream info through the raw API.
pub async fn raw_stream_info(client: &Client, name: &str) -> Value {
    let reply = client
        .request(format!("$JS.API.STREAM.INFO.{name}"), "")
        .await
        .unwrap();
    serde_json::from_slice(&reply.payload).unwrap()
}

/// A memory stream `name` on `subjects`.
pub fn stream(name: &str, subjects: &[&str]) -> Value {
    json!({"name": name, "subjects": subjects, "storage": "memory"})
}
