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

/// Request timeouts are enforced by one sweeper per client, not a timer per
/// request: a short timeout sent while a long one is in flight still fires
/// on time, each request fails within its own bound, and answered requests
/// around them are unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_fire_on_time_whatever_else_is_in_flight() {
    let server = Server::new().start();
    let responder = nats_core::connect(server.url()).await.unwrap();
    let _r = echo_responder(responder, "echo").await;
    let client = nats_core::connect(server.url()).await.unwrap();
    let _silent = client.subscribe("silent").await.unwrap();
    client.flush().await.unwrap();

    let long = {
        let client = client.clone();
        tokio::spawn(async move {
            let start = std::time::Instant::now();
            let err = client
                .request_with_timeout("silent", None, "long", Duration::from_millis(1500))
                .await
                .unwrap_err();
            (err.kind(), start.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Shorter than the one in flight: the sweeper must re-arm for it.
    let start = std::time::Instant::now();
    let err = client
        .request_with_timeout("silent", None, "short", Duration::from_millis(100))
        .await
        .unwrap_err();
    let short = start.elapsed();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(
        err.to_string().contains("silent") && err.to_string().contains("100ms"),
        "{err}"
    );
    assert!(
        short >= Duration::from_millis(100) && short < Duration::from_millis(600),
        "the 100 ms request failed after {short:?}"
    );
    // Answered requests meanwhile are untouched.
    for i in 0..20 {
        let resp = client
            .request_with_timeout("echo", None, format!("r{i}"), Duration::from_millis(100))
            .await
            .unwrap();
        assert_eq!(resp.payload, format!("r{i}").as_bytes());
    }
    let (kind, long) = long.await.unwrap();
    assert_eq!(kind, ErrorKind::Timeout);
    assert!(
        long >= Duration::from_millis(1500) && long < Duration::from_millis(2500),
        "the 1.5 s request failed after {long:?}"
    );
    assert_eq!(client.pending_requests(), 0);
}

/// `send_request_with_timeout`: the response fails by itself at the
/// deadline, even when awaited late; many expiring together all fail.
#[tokio::test]
async fn send_request_with_timeout_fails_at_its_deadline() {
    let server = Server::new().start();
    let client = nats_core::connect(server.url()).await.unwrap();
    let _silent = client.subscribe("silent").await.unwrap();
    client.flush().await.unwrap();
    let mut responses = Vec::new();
    for _ in 0..50 {
        responses.push(
            client
                .send_request_with_timeout("silent", None, "x".into(), Duration::from_millis(150))
                .await
                .unwrap(),
        );
    }
    assert_eq!(client.pending_requests(), 50);
    // Not polled meanwhile: the sweeper still takes them out at the deadline.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(client.pending_requests(), 0);
    for response in responses {
        let err = tokio::time::timeout(Duration::from_secs(1), response)
            .await
            .expect("an expired response resolves at once")
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout);
    }
}

/// The sweeper is one task per client, and it ends with the client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deadline_sweeper_ends_with_the_client() {
    let server = Server::new().start();
    let metrics = tokio::runtime::Handle::current().metrics();
    let before = metrics.num_alive_tasks();
    let client = nats_core::connect(server.url()).await.unwrap();
    let _silent = client.subscribe("silent").await.unwrap();
    let err = client
        .request_with_timeout("silent", None, "x", Duration::from_millis(20))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(metrics.num_alive_tasks() > before);
    client.close().await;
    drop(_silent);
    drop(client);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while metrics.num_alive_tasks() > before {
        assert!(
            std::time::Instant::now() < deadline,
            "{} tasks alive after close, {before} before connect",
            metrics.num_alive_tasks()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Request futures are moved by their callers (into `FuturesUnordered`, into the futures of
/// the layers above), each move copying all of them: they keep their arguments once, and
/// send nothing until polled.
#[tokio::test]
async fn request_futures_are_small_and_lazy() {
    let server = Server::new().start();
    let client = nats_core::connect(server.url()).await.unwrap();
    let watcher = nats_core::connect(server.url()).await.unwrap();
    let mut sub = watcher.subscribe("lazy.>").await.unwrap();
    watcher.flush().await.unwrap();

    let plain = client.request("lazy.plain", "x");
    let timed = client.request_with_timeout("lazy.timed", None, "x", Duration::from_secs(1));
    let headers = client.request_with_headers("lazy.headers", HeaderMap::new(), "x");
    // The arguments (subject, headers, payload, timeout) stored once, the response, and the
    // write: well under the 272 and 448 bytes the `async fn`s took.
    assert!(
        std::mem::size_of_val(&plain) <= 232,
        "{}",
        std::mem::size_of_val(&plain)
    );
    assert!(
        std::mem::size_of_val(&timed) <= 232,
        "{}",
        std::mem::size_of_val(&timed)
    );
    assert!(
        std::mem::size_of_val(&headers) <= 232,
        "{}",
        std::mem::size_of_val(&headers)
    );
    drop((plain, timed, headers));

    // Never polled: nothing went out, and nothing waits.
    client.flush().await.unwrap();
    assert_eq!(client.pending_requests(), 0);
    client.publish("lazy.marker", "m").await.unwrap();
    client.flush().await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.subject.as_str(), "lazy.marker");
}
