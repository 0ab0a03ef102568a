use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use nats_core::{ConnectOptions, ErrorKind, HeaderMap, State};
use nats_testkit::Server;

#[tokio::test]
async fn publish_subscribe_round_trip() {
    let server = Server::new().start();
    let client = nats_core::connect(server.url()).await.unwrap();
    assert_eq!(client.connection_state(), State::Connected);
    let mut sub = client.subscribe("greet.*").await.unwrap();
    client.publish("greet.joe", "hello").await.unwrap();
    client
        .publish_with_reply("greet.ann", "reply.here", Bytes::from_static(b"hi"))
        .await
        .unwrap();
    let m1 = sub.next().await.unwrap();
    assert_eq!(m1.subject, "greet.joe");
    assert_eq!(&m1.payload[..], b"hello");
    assert!(m1.reply.is_none());
    let m2 = sub.next().await.unwrap();
    assert_eq!(m2.subject.as_str(), "greet.ann");
    assert_eq!(m2.reply.as_deref(), Some("reply.here"));
    assert_eq!(m2.length, 2);
}

#[tokio::test]
async fn headers_round_trip_preserving_case_and_order() {
    let server = Server::new().start();
    let client = nats_core::connect(server.url()).await.unwrap();
    let mut sub = client.subscribe("h").await.unwrap();
    let mut headers = HeaderMap::new();
    headers.append("X-Camel", "1");
    headers.append("lower", "2");
    headers.append("X-Camel", "3");
    client
        .publish_with_headers("h", headers.clone(), "body")
        .await
        .unwrap();
    let msg = sub.next().await.unwrap();
    let got = msg.headers.unwrap();
    assert_eq!(got.get_all("X-Camel").collect::<Vec<_>>(), ["1", "3"]);
    assert_eq!(got.get("lower"), Some("2"));
    assert_eq!(got.get("LOWER"), None);
    assert_eq!(&msg.payload[..], b"body");
    assert!(msg.status.is_none());
}

#[tokio::test]
async fn bad_input_is_refused_before_sending_and_client_stays_usable() {
    let server = Server::new().start();
    let client = nats_core::connect(server.url()).await.unwrap();
    for bad in ["", "a..b", "a b", "a.*", "a.>"] {
        let err = client.publish(bad, "x").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidSubject, "{bad:?}");
    }
    assert_eq!(
        client.subscribe("a.>.b").await.unwrap_err().kind(),
        ErrorKind::InvalidSubject
    );
    assert_eq!(
        client
            .queue_subscribe("a", "bad queue")
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidSubject
    );
    let max = client.server_info().max_payload;
    assert!(max > 0);
    let big = vec![0u8; max + 1];
    assert_eq!(
        client.publish("a", big).await.unwrap_err().kind(),
        ErrorKind::MaxPayloadExceeded
    );
    let mut headers = HeaderMap::new();
    headers.insert("bad name", "v");
    assert_eq!(
        client
            .publish_with_headers("a", headers, "x")
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
    // Still usable.
    let mut sub = client.subscribe("ok").await.unwrap();
    client.publish("ok", vec![1u8; max]).await.unwrap();
    assert_eq!(sub.next().await.unwrap().payload.len(), max);
}

#[tokio::test]
async fn flush_statistics_info_and_inbox() {
    let server = Server::new().start();
    let client = nats_core::connect(server.url()).await.unwrap();
    for _ in 0..100 {
        client.publish("stats", "12345").await.unwrap();
    }
    client.flush().await.unwrap();
    let stats = client.statistics();
    assert_eq!(stats.out_messages, 100);
    assert_eq!(stats.out_bytes, 500);
    assert_eq!(stats.connects, 1);
    let info = client.server_info();
    assert!(info.version.starts_with("2."));
    assert!(info.headers);
    let a = client.new_inbox();
    let b = client.new_inbox();
    assert!(a.starts_with("_INBOX."));
    assert_ne!(a, b);
}

#[tokio::test]
async fn custom_inbox_prefix_is_used_for_requests() {
    let server = Server::new().start();
    let client = ConnectOptions::new()
        .inbox_prefix("_MY")
        .connect(server.url())
        .await
        .unwrap();
    let mut sub = client.subscribe("svc").await.unwrap();
    let c2 = client.clone();
    let responder = tokio::spawn(async move {
        let msg = sub.next().await.unwrap();
        let reply = msg.reply.unwrap();
        assert!(reply.starts_with("_MY."), "{reply}");
        c2.publish(reply, "pong").await.unwrap();
    });
    let resp = client.request("svc", "ping").await.unwrap();
    assert_eq!(&resp.payload[..], b"pong");
    responder.await.unwrap();
    assert!(client.new_inbox().starts_with("_MY."));
}

#[tokio::test]
async fn connect_errors_are_typed() {
    let port = nats_testkit::free_port();
    let err = ConnectOptions::new()
        .connection_timeout(Duration::from_secs(2))
        .connect(format!("nats://127.0.0.1:{port}"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    let err = nats_core::connect("http://x").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
}

#[tokio::test]
async fn drain_client_delivers_buffered_then_closes() {
    let server = Server::new().start();
    let client = nats_core::connect(server.url()).await.unwrap();
    let mut sub = client.subscribe("d").await.unwrap();
    let publisher = nats_core::connect(server.url()).await.unwrap();
    for i in 0..1000 {
        publisher.publish("d", format!("{i}")).await.unwrap();
    }
    publisher.flush().await.unwrap();
    // Give the server a moment to route everything to the subscriber.
    client.flush().await.unwrap();
    client.drain().await.unwrap();
    let mut n = 0;
    while let Some(_m) = sub.next().await {
        n += 1;
    }
    assert_eq!(n, 1000);
    assert_eq!(client.connection_state(), State::Closed);
    assert_eq!(
        client.publish("d", "x").await.unwrap_err().kind(),
        ErrorKind::ConnectionClosed
    );
}

#[tokio::test]
async fn dropping_the_last_handle_flushes_and_closes() {
    let server = Server::new().start();
    let watcher = nats_core::connect(server.url()).await.unwrap();
    let mut sub = watcher.subscribe("last").await.unwrap();
    watcher.flush().await.unwrap();
    let client = nats_core::connect(server.url()).await.unwrap();
    for i in 0..10_000u32 {
        client
            .publish("last", i.to_be_bytes().to_vec())
            .await
            .unwrap();
    }
    drop(client);
    for i in 0..10_000u32 {
        let m = tokio::time::timeout(Duration::from_secs(5), sub.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&m.payload[..], i.to_be_bytes());
    }
}

/// The server passes a header block on as its publisher sent it. A malformed one
/// (here from a bare TCP publisher) must neither drop the subscriber's
/// connection nor lose the message: it arrives with the pairs that can be read.
#[tokio::test]
async fn a_malformed_header_block_is_delivered_without_a_reconnect() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let server = Server::new().start();
    let client = nats_core::connect(server.url()).await.unwrap();
    let mut sub = client.subscribe("poison").await.unwrap();
    client.flush().await.unwrap();

    let mut raw = tokio::net::TcpStream::connect(server.url().trim_start_matches("nats://"))
        .await
        .unwrap();
    let mut info = [0u8; 4096];
    let _ = raw.read(&mut info).await.unwrap();
    let mut frames = b"CONNECT {\"verbose\":false,\"headers\":true}\r\n".to_vec();
    for (block, body) in [
        (&b"NATS/1.0\r\nno colon here\r\nK: v\r\n\r\n"[..], "first"),
        (b"GARBAGE\r\n\r\n", "second"),
    ] {
        frames.extend_from_slice(
            format!(
                "HPUB poison {} {}\r\n",
                block.len(),
                block.len() + body.len()
            )
            .as_bytes(),
        );
        frames.extend_from_slice(block);
        frames.extend_from_slice(body.as_bytes());
        frames.extend_from_slice(b"\r\n");
    }
    frames.extend_from_slice(b"PING\r\n");
    raw.write_all(&frames).await.unwrap();

    let first = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("the first message arrived")
        .unwrap();
    assert_eq!(&first.payload[..], b"first");
    let headers = first.headers.unwrap();
    assert_eq!(headers.iter().collect::<Vec<_>>(), [("K", "v")]);
    let second = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("the second message arrived")
        .unwrap();
    assert_eq!(&second.payload[..], b"second");
    assert!(second.headers.unwrap().is_empty());

    // The connection stayed up: still the first one, and it still works.
    client.publish("poison", "after").await.unwrap();
    let after = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("a message after the malformed ones")
        .unwrap();
    assert_eq!(&after.payload[..], b"after");
    let stats = client.statistics();
    assert_eq!((stats.connects, stats.reconnects), (1, 0));
    assert_eq!(client.connection_state(), State::Connected);
}
