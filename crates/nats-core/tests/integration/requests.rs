use std::time::Duration;

use futures_util::StreamExt;
use nats_core::{ConnectOptions, ErrorKind, HeaderMap};
use nats_testkit::Server;

async fn echo_responder(client: nats_core::Client, subject: &str) -> tokio::task::JoinHandle<()> {
    let mut sub = client.subscribe(subject).await.unwrap();
    client.flush().await.unwrap();
    tokio::spawn(async move {
        while let Some(msg) = sub.next().await {
            if let Some(reply) = msg.reply {
                let headers = msg.headers.unwrap_or_default();
                client
                    .publish_with_headers(reply, headers, msg.payload)
                    .await
                    .unwrap();
            }
        }
    })
}

#[tokio::test]
async fn request_reply_with_headers() {
    let server = Server::new().start();
    let client = nats_core::connect(server.url()).await.unwrap();
    let _r = echo_responder(client.clone(), "echo").await;
    let resp = client.request("echo", "ping").await.unwrap();
    assert_eq!(&resp.payload[..], b"ping");
    let mut h = HeaderMap::new();
    h.insert("Trace", "abc");
    let resp = client.request_with_headers("echo", h, "x").await.unwrap();
    assert_eq!(resp.headers.unwrap().get("Trace"), Some("abc"));
    assert_eq!(client.pending_requests(), 0);
}

#[tokio::test]
async fn no_responders_fails_at_once() {
    let server = Server::new().start();
    let client = nats_core::connect(server.url()).await.unwrap();
    let start = std::time::Instant::now();
    let err = client.request("nobody.home", "x").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoResponders);
    assert!(start.elapsed() < Duration::from_secs(1));
    assert_eq!(client.pending_requests(), 0);
}

#[tokio::test]
async fn five_hundred_concurrent_requests_are_matched() {
    let server = Server::new().start();
    let responder = nats_core::connect(server.url()).await.unwrap();
    let _r = echo_responder(responder, "echo").await;
    let client = nats_core::connect(server.url()).await.unwrap();
    let futures = (0..500).map(|i| {
        let client = client.clone();
        async move {
            let resp = client.request("echo", format!("req-{i}")).await.unwrap();
            assert_eq!(resp.payload, format!("req-{i}").as_bytes());
        }
    });
    futures_util::future::join_all(futures).await;
    assert_eq!(client.pending_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_requests_are_written_directly_over_plain_tcp() {
    let server = Server::new().start();
    let responder = nats_core::connect(server.url()).await.unwrap();
    let _r = echo_responder(responder, "echo").await;
    let client = nats_core::connect(server.url()).await.unwrap();
    client.flush().await.unwrap();
    for i in 0..200 {
        let resp = client.request("echo", format!("req-{i}")).await.unwrap();
        assert_eq!(resp.payload, format!("req-{i}").as_bytes());
    }
    // Each request finds the connection idle with its reply read since the
    // last: nearly all go out from the caller, without waking the task.
    let direct = client.direct_writes();
    assert!(
        direct >= 150,
        "only {direct} of 200 requests written directly"
    );
    assert_eq!(client.pending_requests(), 0);
}

#[tokio::test]
async fn timeout_and_drop_leave_no_entry_behind() {
    let server = Server::new().start();
    let client = ConnectOptions::new()
        .request_timeout(Some(Duration::from_millis(200)))
        .connect(server.url())
        .await
        .unwrap();
    // A subscriber that never answers.
    let _silent = client.subscribe("silent").await.unwrap();
    let err = client.request("silent", "x").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(client.pending_requests(), 0);

    let err = client
        .request_with_timeout("silent", None, "x", Duration::from_millis(50))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(client.pending_requests(), 0);

    let response = client
        .send_request("silent", None, "x".into())
        .await
        .unwrap();
    assert_eq!(client.pending_requests(), 1);
    drop(response);
    assert_eq!(client.pending_requests(), 0);
}
