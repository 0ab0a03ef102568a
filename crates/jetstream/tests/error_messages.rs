//! The errors users meet first, against a real server: each says what was wrong in one
//! sentence (the input, the sizes, the name), says nothing twice, and `source()` continues
//! the chain below what the sentence already holds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use jetstream::{ErrorKind, JetStreamOptions, KeyValueConfig, StorageType, StreamConfig};
use nats_testkit::Server;

/// Every text in the error's chain, top first.
fn chain(err: &dyn std::error::Error) -> Vec<String> {
    let mut texts = vec![err.to_string()];
    let mut next = err.source();
    while let Some(e) = next {
        texts.push(e.to_string());
        next = e.source();
    }
    texts
}

/// No text of the chain is repeated, within a level or across levels, and no level starts
/// by repeating its kind (`"stream not found: stream not found"`).
fn assert_says_it_once(err: &dyn std::error::Error) {
    let texts = chain(err);
    for (i, t) in texts.iter().enumerate() {
        for later in &texts[i + 1..] {
            assert!(
                !t.contains(later.as_str()),
                "repeated {later:?} in {texts:?}"
            );
        }
        let parts: Vec<&str> = t.split(": ").collect();
        for pair in parts.windows(2) {
            assert!(
                !pair[1].to_lowercase().starts_with(&pair[0].to_lowercase()),
                "{t:?} repeats itself"
            );
        }
    }
}

fn check(err: &(dyn std::error::Error + 'static), expected: &str) {
    assert_eq!(err.to_string(), expected);
    assert_says_it_once(err);
}

#[tokio::test]
async fn core_errors_say_why() {
    let server = Server::new().start();
    let client = nats_core::connect(server.url()).await.unwrap();

    let err = client.publish("", "x").await.unwrap_err();
    assert_eq!(err.kind(), nats_core::ErrorKind::InvalidSubject);
    check(&err, "invalid subject: the subject is empty");

    let err = client.publish("orders new", "x").await.unwrap_err();
    check(
        &err,
        "invalid subject: subject \"orders new\" contains ' ', which subjects may not contain",
    );

    let err = client.subscribe("orders..new").await.unwrap_err();
    check(
        &err,
        "invalid subject: subject \"orders..new\" has an empty token",
    );

    let max = client.server_info().max_payload;
    let err = client.publish("big", vec![0u8; max + 1]).await.unwrap_err();
    assert_eq!(err.kind(), nats_core::ErrorKind::MaxPayloadExceeded);
    check(
        &err,
        &format!(
            "maximum payload exceeded: message of {} bytes exceeds the server's max_payload of {max}",
            max + 1
        ),
    );

    let err = client.request("nobody.home", "x").await.unwrap_err();
    assert_eq!(err.kind(), nats_core::ErrorKind::NoResponders);
    check(&err, "no responders: nobody listens on nobody.home");

    let _silent = client.subscribe("silent").await.unwrap();
    client.flush().await.unwrap();
    let err = client
        .request_with_timeout("silent", None, "x", Duration::from_millis(100))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), nats_core::ErrorKind::Timeout);
    check(
        &err,
        "timed out: no reply to the request on silent within 100ms",
    );

    let js = jetstream::new(client.clone());
    let err = js.account_info().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::JetStreamNotEnabled);
    check(
        &err,
        "JetStream not enabled: no JetStream answered on $JS.API.INFO (not enabled, or wrong domain or prefix)",
    );

    // A cause from below (here the OS refusing the connection) is part of the sentence, once.
    let port = server.port();
    drop(client);
    drop(server);
    let refused = nats_core::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(2))
        .connect(format!("nats://127.0.0.1:{port}"))
        .await;
    // Another test's server may have taken the port meanwhile: nothing to check then.
    let Err(err) = refused else { return };
    assert!(err.to_string().to_lowercase().contains("refused"), "{err}");
    assert_says_it_once(&err);
}

#[tokio::test]
async fn jetstream_errors_say_why() {
    let server = Server::jetstream().start();
    let client = nats_core::connect(server.url()).await.unwrap();
    let js = jetstream::new(client.clone());

    // Errors of the core client keep their reason (they read "invalid subject" and
    // "maximum payload exceeded", nothing more).
    let err = js.publish("", "x").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidSubject);
    check(&err, "invalid subject: the subject is empty");
    let max = client.server_info().max_payload;
    let err = js.publish("big", vec![0u8; max + 1]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MaxPayloadExceeded);
    check(
        &err,
        &format!(
            "maximum payload exceeded: message of {} bytes exceeds the server's max_payload of {max}",
            max + 1
        ),
    );

    let err = js
        .create_stream(StreamConfig {
            name: "orders.v1".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidName);
    check(
        &err,
        "invalid name: stream name \"orders.v1\" must not contain '.'",
    );

    // From the server: the stream and consumer are named, the description not repeated.
    let err = js.stream("MISSING").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StreamNotFound);
    check(
        &err,
        "stream not found: \"MISSING\" (err_code 10059, code 404)",
    );

    js.create_stream(StreamConfig {
        name: "ORDERS".into(),
        subjects: vec!["orders.>".into()],
        storage: StorageType::Memory,
        ..Default::default()
    })
    .await
    .unwrap();
    let err = js.consumer("ORDERS", "nope").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConsumerNotFound);
    check(
        &err,
        "consumer not found: \"nope\" on stream \"ORDERS\" (err_code 10014, code 404)",
    );

    let err = js.publish("nostream.x", "x").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoResponders);
    check(&err, "no responders: no stream answered for nostream.x");

    js.publish("orders.new", "1").await.unwrap();
    let err = js
        .publish("orders.new", "2")
        .expected_last_sequence(7)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongLastSequence);
    check(&err, "wrong last sequence: 1 (err_code 10071, code 400)");

    // A request nobody answers in time names the request and the timeout.
    let _silent = client.subscribe("SILENT.API.>").await.unwrap();
    client.flush().await.unwrap();
    let silent = jetstream::with_options(
        client.clone(),
        JetStreamOptions {
            api_prefix: "SILENT.API".into(),
            timeout: Duration::from_millis(100),
            ..Default::default()
        },
    );
    let err = silent.stream("ORDERS").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    check(
        &err,
        "timed out: no reply to the request on SILENT.API.STREAM.INFO.ORDERS within 100ms",
    );
}

#[tokio::test]
async fn key_value_errors_say_why() {
    let server = Server::jetstream().start();
    let client = nats_core::connect(server.url()).await.unwrap();
    let js = jetstream::new(client);

    let err = js.key_value("missing").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BucketNotFound);
    assert!(
        err.to_string().starts_with("bucket not found: \"missing\""),
        "{err}"
    );
    assert_says_it_once(&err);

    let kv = js
        .create_key_value(KeyValueConfig {
            bucket: "settings".into(),
            storage: StorageType::Memory,
            ..Default::default()
        })
        .await
        .unwrap();
    let err = kv.put("bad key", "x").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidKey);
    check(
        &err,
        "invalid key: key \"bad key\" must contain only A-Z, a-z, 0-9, '_', '/', '=', '-' and '.', found ' '",
    );

    let err = kv.get("absent").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::KeyNotFound);
    assert!(
        err.to_string().starts_with("key not found: \"absent\""),
        "{err}"
    );
    assert_says_it_once(&err);

    let revision = kv.put("color", "blue").await.unwrap();
    let err = kv.create("color", "red").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::KeyExists);
    check(
        &err,
        &format!(
            "key exists: \"color\" has a value (wrong last sequence: {revision}, err_code 10071, code 400)"
        ),
    );
    let err = kv.update("color", "red", revision + 5).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongLastRevision);
    check(
        &err,
        &format!(
            "wrong last revision: \"color\" is not at the expected revision (wrong last sequence: {revision}, err_code 10071, code 400)"
        ),
    );
}
