//! JetStream publishes with headers, msg-id dedupe across the two clients, and one durable pull
//! consumer shared by both, each way between us and nats-py.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt;
use jetstream::{AckPolicy, ConsumerConfig, JetStream, StorageType, StreamConfig};
use nats_core::HeaderMap;
use nats_testkit::Server;
use serde_json::{json, Value};

use super::{run_python, Python};

async fn setup(server: &Server, name: &str, subject: &str) -> (JetStream, jetstream::Stream) {
    let js = jetstream::new(nats_core::connect(server.url()).await.unwrap());
    let stream = js
        .create_stream(StreamConfig {
            name: name.into(),
            subjects: vec![subject.into()],
            storage: StorageType::Memory,
            ..Default::default()
        })
        .await
        .unwrap();
    (js, stream)
}

/// Reads Rust's `hdr.rust` through a consumer and as a stored message, then publishes
/// `hdr.py` with headers.
const PY_HEADERS: &str = r#"
async def main():
    nc, js = await connect()
    sub = await js.pull_subscribe("hdr.rust", stream="HDR")
    msg = (await sub.fetch(1, timeout=5))[0]
    await msg.ack_sync(timeout=5)
    raw = await js.get_msg("HDR", seq=1)
    out = {"fetched": {"subject": msg.subject, "data": msg.data.decode(), "headers": msg.headers},
           "stored": {"subject": raw.subject, "data": raw.data.decode(), "headers": raw.headers}}
    ack = await js.publish("hdr.py", b"python payload",
                           headers={"X-Py": "from python", "X-Mixed-Case": "Value: With Spaces"})
    out["ack"] = {"stream": ack.stream, "seq": ack.seq}
    emit(out)
    await nc.close()
"#;

#[tokio::test]
async fn headers_on_publishes_both_ways() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, "HDR", "hdr.>").await;

    let mut headers = HeaderMap::new();
    headers.insert("X-Rust", "from rust");
    headers.insert("X-Mixed-Case", "Value: With Spaces");
    let ack = js
        .publish("hdr.rust", "rust payload")
        .headers(headers)
        .await
        .unwrap();
    assert_eq!(ack.sequence, 1);

    let got = run_python(&server, PY_HEADERS).await;

    // Python read what Rust published, delivered and stored.
    let expected = json!({"subject": "hdr.rust", "data": "rust payload",
                          "headers": {"X-Rust": "from rust", "X-Mixed-Case": "Value: With Spaces"}});
    assert_eq!(got["fetched"], expected);
    assert_eq!(got["stored"], expected);
    assert_eq!(got["ack"], json!({"stream": "HDR", "seq": 2}));

    // Rust reads what Python published, delivered and stored.
    let consumer = stream
        .create_consumer(ConsumerConfig {
            filter_subject: Some("hdr.py".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let msg = consumer.next().await.unwrap();
    msg.double_ack().await.unwrap();
    let stored = stream.get_msg(2).await.unwrap();
    for (subject, payload, headers) in [
        (msg.subject(), &msg.data()[..], msg.headers()),
        (
            &stored.subject[..],
            &stored.payload[..],
            stored.headers.as_ref(),
        ),
    ] {
        assert_eq!(subject, "hdr.py");
        assert_eq!(payload, b"python payload");
        let headers: Vec<(&str, &str)> = headers.expect("headers").iter().collect();
        assert_eq!(
            headers,
            [
                ("X-Py", "from python"),
                ("X-Mixed-Case", "Value: With Spaces")
            ]
        );
    }
}

/// Publishes the msg-id `id-1` Rust already used (a duplicate), then `id-2` first.
const PY_DEDUPE: &str = r#"
def ack_dict(ack):
    return {"seq": ack.seq, "duplicate": bool(ack.duplicate)}

async def main():
    nc, js = await connect()
    out = {}
    out["dup"] = ack_dict(await js.publish("dd.a", b"python dup", headers={"Nats-Msg-Id": "id-1"}))
    out["first"] = ack_dict(await js.publish("dd.b", b"python first", headers={"Nats-Msg-Id": "id-2"}))
    raw = await js.get_msg("DEDUP", seq=1)
    out["stored"] = {"data": raw.data.decode(), "msg_id": raw.headers.get("Nats-Msg-Id")}
    emit(out)
    await nc.close()
"#;

#[tokio::test]
async fn msg_id_dedupe_across_clients() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, "DEDUP", "dd.>").await;

    let first = js
        .publish("dd.a", "rust first")
        .msg_id("id-1")
        .await
        .unwrap();
    assert_eq!((first.sequence, first.duplicate), (1, false));

    let got = run_python(&server, PY_DEDUPE).await;

    // Rust's id-1 deduplicates Python's; Python's id-2 deduplicates Rust's.
    assert_eq!(got["dup"], json!({"seq": 1, "duplicate": true}));
    assert_eq!(got["first"], json!({"seq": 2, "duplicate": false}));
    assert_eq!(
        got["stored"],
        json!({"data": "rust first", "msg_id": "id-1"})
    );
    let dup = js.publish("dd.b", "rust dup").msg_id("id-2").await.unwrap();
    assert_eq!((dup.sequence, dup.duplicate), (2, true));

    assert_eq!(stream.info().await.unwrap().state.messages, 2);
    let stored = stream.get_msg(2).await.unwrap();
    assert_eq!(&stored.payload[..], b"python first");
    assert_eq!(
        stored.headers.as_ref().and_then(|h| h.get("Nats-Msg-Id")),
        Some("id-2")
    );
}

/// Messages each client publishes to the shared consumer's stream (also in `PY_SHARED`).
const PER_SIDE: u64 = 60;

/// Publishes its 60 messages, binds to the durable `SHARED`, says it is ready, then fetches,
/// slowly, acking each message with a confirmed ack, until a fetch finds nothing for 1 s.
const PY_SHARED: &str = r#"
async def main():
    nc, js = await connect()
    for i in range(60):
        await js.publish(f"work.py.{i}", f"py-{i}".encode())
    sub = await js.pull_subscribe_bind(durable="SHARED", stream="WORK")
    emit({"ready": True})
    got = []
    while True:
        try:
            msgs = await sub.fetch(5, timeout=1)
        # nats-py raises its own TimeoutError, or asyncio's (its base) when the
        # no-wait probe's 408 comes at the deadline: both mean nothing came.
        except asyncio.TimeoutError:
            break
        for m in msgs:
            md = m.metadata
            got.append([md.sequence.stream, md.num_delivered, m.subject, m.data.decode()])
            await asyncio.sleep(0.005)
            await m.ack_sync(timeout=5)
    emit({"got": got})
    await nc.close()
"#;

#[tokio::test]
async fn durable_pull_consumer_shared_by_both_clients() {
    let server = Server::jetstream().start();
    let (js, stream) = setup(&server, "WORK", "work.>").await;
    let consumer = stream
        .create_consumer(ConsumerConfig {
            durable_name: Some("SHARED".into()),
            ack_policy: AckPolicy::Explicit,
            // Far beyond the test: any redelivery would be a lost ack.
            ack_wait: Duration::from_secs(60),
            ..Default::default()
        })
        .await
        .unwrap();
    for i in 0..PER_SIDE {
        js.publish(format!("work.rust.{i}"), format!("rust-{i}"))
            .await
            .unwrap();
    }

    let mut python = Python::spawn(&server, PY_SHARED).await;
    assert_eq!(python.next().await, json!({"ready": true}));
    // Both consume at once, each holding its messages a little, so the work is split.
    let ours = tokio::time::timeout(Duration::from_secs(60), async {
        let mut ours = Vec::new();
        loop {
            let mut batch = consumer
                .fetch(5)
                .max_wait(Duration::from_secs(1))
                .await
                .unwrap();
            let mut n = 0;
            while let Some(msg) = batch.next().await {
                let msg = msg.unwrap();
                n += 1;
                let md = msg.metadata().unwrap();
                ours.push(json!([
                    md.sequence.stream,
                    md.num_delivered,
                    msg.subject(),
                    String::from_utf8(msg.data().to_vec()).unwrap()
                ]));
                tokio::time::sleep(Duration::from_millis(10)).await;
                msg.double_ack().await.unwrap();
            }
            if n == 0 {
                return ours;
            }
        }
    })
    .await
    .expect("our consumer did not finish within 60 s");
    let theirs = python.next().await["got"].as_array().unwrap().clone();
    python.finish().await;

    assert!(!ours.is_empty(), "Rust got no message");
    assert!(!theirs.is_empty(), "Python got no message");
    // Every message delivered once, to one client, and acked.
    let mut all: BTreeMap<u64, Value> = BTreeMap::new();
    for m in ours.iter().chain(&theirs) {
        let seq = m[0].as_u64().unwrap();
        assert_eq!(m[1], 1, "redelivered: {m}");
        assert!(all.insert(seq, m.clone()).is_none(), "seq {seq} twice");
    }
    assert_eq!(
        all.keys().copied().collect::<Vec<_>>(),
        (1..=2 * PER_SIDE).collect::<Vec<_>>()
    );
    for (seq, m) in &all {
        let (side, i) = if *seq <= PER_SIDE {
            ("rust", seq - 1)
        } else {
            ("py", seq - 1 - PER_SIDE)
        };
        assert_eq!(m[2], format!("work.{side}.{i}"));
        assert_eq!(m[3], format!("{side}-{i}"));
    }
    let info = consumer.info().await.unwrap();
    assert_eq!(info.num_ack_pending, 0);
    assert_eq!(info.num_redelivered, 0);
    assert_eq!(info.num_pending, 0);
    assert_eq!(info.delivered.consumer_sequence, 2 * PER_SIDE);
    assert_eq!(info.ack_floor.stream_sequence, 2 * PER_SIDE);
    eprintln!(
        "shared consumer: Rust took {}, Python {}",
        ours.len(),
        theirs.len()
    );
}
