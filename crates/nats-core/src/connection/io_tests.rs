//! The connection task driven over `tokio::io::duplex`: the test plays the
//! server's side of the socket byte by byte.

use std::time::Duration;

use bytes::BytesMut;
use futures_util::StreamExt;
use nats_wire::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::{new_shared, Connection, Exit};
use crate::options::ConnectOptions;
use crate::shared::lock;
use crate::Client;

/// A connected client whose connection task runs over a duplex pipe; returns
/// the client, the server's end of the pipe, and the task.
fn connected() -> (Client, DuplexStream, tokio::task::JoinHandle<Exit>) {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let shared = new_shared(ConnectOptions::new());
    lock(&shared.write).connected = true;
    let client = Client::from_shared(shared.clone());
    let task = tokio::spawn(async move {
        let mut conn = Connection::new(client_io, shared, BytesMut::new(), Parser::new());
        conn.run().await
    });
    (client, server_io, task)
}

/// Reads from the server's end until `needle` has been seen.
async fn read_until(server: &mut DuplexStream, seen: &mut Vec<u8>, needle: &[u8]) {
    let found = tokio::time::timeout(Duration::from_secs(5), async {
        let mut buf = [0u8; 4096];
        while !seen.windows(needle.len()).any(|w| w == needle) {
            let n = server.read(&mut buf).await.expect("read");
            assert!(n > 0, "client closed the pipe");
            seen.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    assert!(
        found.is_ok(),
        "never saw {:?} in {:?}",
        String::from_utf8_lossy(needle),
        String::from_utf8_lossy(seen)
    );
}

#[tokio::test]
async fn server_pings_are_answered() {
    let (_client, mut server, _task) = connected();
    let mut seen = Vec::new();
    server.write_all(b"PING\r\n").await.unwrap();
    read_until(&mut server, &mut seen, b"PONG\r\n").await;
    // Split across writes, too.
    seen.clear();
    server.write_all(b"PI").await.unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    server.write_all(b"NG\r\n").await.unwrap();
    read_until(&mut server, &mut seen, b"PONG\r\n").await;
}

#[tokio::test]
async fn partial_frames_are_reassembled_and_dispatched_by_sid() {
    let (client, mut server, _task) = connected();
    let mut sub = client.subscribe("greet.*").await.unwrap();
    let mut seen = Vec::new();
    read_until(&mut server, &mut seen, b"SUB greet.* 2\r\n").await;
    // A message arriving in pieces, split inside the control line and the payload.
    for piece in [
        &b"MS"[..],
        b"G greet.joe 2 5\r",
        b"\nhel",
        b"lo\r",
        b"\nMSG other 2 r.1 0\r\n\r\n",
    ] {
        server.write_all(piece).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let m = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.subject, "greet.joe");
    assert_eq!(&m.payload[..], b"hello");
    // Routed by sid even though the subject does not match the pattern.
    let m = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.subject, "other");
    assert_eq!(m.reply.as_deref(), Some("r.1"));
    assert!(m.payload.is_empty());
    // A message for an unknown sid is ignored.
    server.write_all(b"MSG x 99 1\r\nz\r\n").await.unwrap();
    assert!(tokio::time::timeout(Duration::from_millis(100), sub.next())
        .await
        .is_err());
}

#[tokio::test]
async fn publishes_and_flushes_reach_the_socket() {
    let (client, mut server, _task) = connected();
    client.publish("a.b", "xyz").await.unwrap();
    let mut seen = Vec::new();
    read_until(&mut server, &mut seen, b"PUB a.b 3\r\nxyz\r\n").await;
    let flusher = {
        let client = client.clone();
        tokio::spawn(async move { client.flush().await })
    };
    seen.clear();
    read_until(&mut server, &mut seen, b"PING\r\n").await;
    assert!(!flusher.is_finished());
    server.write_all(b"PONG\r\n").await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), flusher)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn server_errors_and_eof_end_the_connection() {
    let (_client, mut server, task) = connected();
    server
        .write_all(b"-ERR 'Permissions Violation for Publish to \"x\"'\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!task.is_finished(), "a permissions violation is not fatal");
    server
        .write_all(b"-ERR 'Unknown Protocol Operation'\r\n")
        .await
        .unwrap();
    let exit = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(exit, Exit::Lost(_)));

    let (_client, server, task) = connected();
    drop(server);
    let exit = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(exit, Exit::Lost(_)));
}

#[tokio::test]
async fn garbage_from_the_server_is_a_protocol_error() {
    let (_client, mut server, task) = connected();
    server.write_all(b"HELLO\r\n").await.unwrap();
    match tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap()
    {
        Exit::Lost(e) => assert_eq!(e.kind(), crate::ErrorKind::Protocol),
        Exit::Closed => panic!("expected a protocol error"),
    }
}

#[tokio::test]
async fn replies_read_before_an_error_reach_their_requests_first() {
    let (client, mut server, _task) = connected();
    let first = client.send_request("svc", None, "a".into()).await.unwrap();
    let second = client.send_request("svc", None, "b".into()).await.unwrap();
    let mut seen = Vec::new();
    read_until(&mut server, &mut seen, b"\r\nb\r\n").await;
    let text = String::from_utf8_lossy(&seen).into_owned();
    // `PUB svc <reply> 1` twice; replies come on the shared inbox's sid.
    let sid = super::MUX_SID;
    let replies: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("PUB svc "))
        .map(|l| l.split(' ').nth(2).expect("a reply subject"))
        .collect();
    assert_eq!(replies.len(), 2, "{text}");
    // In one read: the first request's reply, then the server refusing
    // publishes to `svc` (which fails the requests still waiting).
    let burst = format!(
        "MSG {} {sid} 2\r\nre\r\n-ERR 'Permissions Violation for Publish to \"svc\"'\r\n",
        replies[0]
    );
    server.write_all(burst.as_bytes()).await.unwrap();
    let within = Duration::from_secs(5);
    let reply = tokio::time::timeout(within, first).await.unwrap().unwrap();
    assert_eq!(&reply.payload[..], b"re");
    let refused = tokio::time::timeout(within, second)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(
        refused.kind(),
        crate::ErrorKind::PermissionDenied,
        "{refused}"
    );
}

#[tokio::test]
async fn a_read_of_many_messages_reaches_each_subscription_in_order() {
    let (client, mut server, _task) = connected();
    let mut evens = client.subscribe("even").await.unwrap();
    let mut odds = client.subscribe("odd").await.unwrap();
    let mut seen = Vec::new();
    read_until(&mut server, &mut seen, b"SUB odd 3\r\n").await;
    // More messages than are held back for one dispatch, interleaved between
    // two subscriptions, then a PING: one write, read in as few reads as the
    // pipe allows.
    const N: usize = 2 * super::io::MAX_HELD_MSGS + 500;
    let mut burst = String::new();
    for i in 0..N {
        let (subject, sid) = if i % 2 == 0 { ("even", 2) } else { ("odd", 3) };
        let payload = i.to_string();
        burst.push_str(&format!(
            "MSG {subject} {sid} {}\r\n{payload}\r\n",
            payload.len()
        ));
    }
    burst.push_str("PING\r\n");
    server.write_all(burst.as_bytes()).await.unwrap();
    let within = Duration::from_secs(5);
    for (first, sub) in [(0, &mut evens), (1, &mut odds)] {
        for i in (first..N).step_by(2) {
            let m = tokio::time::timeout(within, sub.next())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(m.payload, i.to_string().as_bytes());
        }
    }
    seen.clear();
    read_until(&mut server, &mut seen, b"PONG\r\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_read_before_a_pong_are_delivered_when_the_flush_returns() {
    let (client, mut server, _task) = connected();
    let mut sub = client.subscribe("news").await.unwrap();
    let mut seen = Vec::new();
    read_until(&mut server, &mut seen, b"SUB news 2\r\n").await;
    for round in 0..20 {
        let flusher = client.clone();
        let flush = tokio::spawn(async move { flusher.flush().await });
        seen.clear();
        read_until(&mut server, &mut seen, b"PING\r\n").await;
        // The messages and the flush's PONG in one read: by the time the
        // flush returns, the messages are with the subscription.
        let burst = "MSG news 2 1\r\na\r\nMSG news 2 1\r\nb\r\nPONG\r\n";
        server.write_all(burst.as_bytes()).await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), flush)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        for want in ["a", "b"] {
            let m = futures_util::FutureExt::now_or_never(sub.next())
                .unwrap_or_else(|| {
                    panic!("round {round}: {want} not delivered before the flush returned")
                })
                .unwrap();
            assert_eq!(m.payload, want.as_bytes());
        }
    }
}
