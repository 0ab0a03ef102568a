//! Permission violations end what they refuse: a refused subscription ends
//! with its error, a refused request fails with `PermissionDenied` at once,
//! and the connection stays usable.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use nats_core::{Client, ConnectOptions, ErrorKind, Event, Subscriber};
use nats_testkit::Server;

use crate::reconnect::{next_text, wait_event, with_events};

const CONFIG: &str = r#"
authorization {
  users: [
    { user: limited, password: pw,
      permissions: { publish: { deny: ["secret.>"] }, subscribe: { deny: ["secret.>"] } } }
    { user: noinbox, password: pw, permissions: { subscribe: { deny: ["_INBOX.>"] } } }
    { user: admin, password: pw }
  ]
}
"#;

async fn connect_as(server: &Server, user: &str) -> Client {
    ConnectOptions::new()
        .user_and_password(user, "pw")
        .request_timeout(Some(Duration::from_secs(10)))
        .connect(server.url())
        .await
        .unwrap()
}

/// Makes `client` answer every request on `svc` with "pong".
async fn responder(client: Client) -> Client {
    let mut sub = client.subscribe("svc").await.unwrap();
    client.flush().await.unwrap();
    let replier = client.clone();
    tokio::spawn(async move {
        while let Some(msg) = sub.next().await {
            if let Some(reply) = msg.reply {
                let _ = replier.publish(reply, "pong").await;
            }
        }
    });
    client
}

/// Waits (at most 5 s) for the stream to end, and returns the error it ended with.
async fn ended(sub: &mut Subscriber) -> nats_core::Error {
    let end = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("a refused subscription ends instead of staying open");
    assert!(end.is_none(), "no message on a refused subscription");
    sub.error().expect("the reason is kept on the subscriber")
}

#[tokio::test]
async fn a_refused_subscription_ends_with_its_error_and_the_connection_stays_usable() {
    let server = Server::builder().config(CONFIG).start();
    let (opts, mut events) = with_events(ConnectOptions::new().user_and_password("limited", "pw"));
    let client = opts.connect(server.url()).await.unwrap();
    let mut open = client.subscribe("open").await.unwrap();
    let mut refused = client.subscribe("secret.x").await.unwrap();
    let mut refused_queue = client.queue_subscribe("secret.x", "workers").await.unwrap();

    let err = ended(&mut refused).await;
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert!(err.to_string().contains("\"secret.x\""), "{err}");
    let err = ended(&mut refused_queue).await;
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert!(err.to_string().contains("\"workers\""), "{err}");
    wait_event(
        &mut events,
        |e| matches!(e, Event::ServerError(t) if t.contains("Subscription to \"secret.x\"")),
        Duration::from_secs(5),
    )
    .await;

    // The allowed subscription is untouched and the connection works.
    assert!(open.error().is_none());
    client.publish("open", "still here").await.unwrap();
    assert_eq!(next_text(&mut open).await, "still here");
    assert_eq!(
        client.subscription_count(),
        2,
        "the request inbox and `open`"
    );
    drop(refused);
    client.flush().await.unwrap();
}

#[tokio::test]
async fn a_request_the_server_refuses_fails_with_permission_denied_at_once() {
    let server = Server::builder().config(CONFIG).start();
    let _responder = responder(connect_as(&server, "admin").await).await;
    let client = connect_as(&server, "limited").await;

    let started = Instant::now();
    let (a, b) = tokio::join!(
        client.request("secret.svc", "x"),
        client.request_with_timeout("secret.svc", None, "y", Duration::from_secs(20)),
    );
    for result in [a, b] {
        let err = result.expect_err("the publish is refused");
        assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
        assert!(err.to_string().contains("secret.svc"), "{err}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "failed after {:?}, not at once",
        started.elapsed()
    );
    assert_eq!(client.pending_requests(), 0);

    // The connection stays usable: an allowed request is answered.
    let reply = client.request("svc", "ping").await.unwrap();
    assert_eq!(&reply.payload[..], b"pong");
    // A refused plain publish does not break it either.
    client.publish("secret.x", "no").await.unwrap();
    client.flush().await.unwrap();
    assert_eq!(
        &client.request("svc", "ping").await.unwrap().payload[..],
        b"pong"
    );
}

#[tokio::test]
async fn requests_fail_at_once_when_the_reply_inbox_is_refused() {
    let server = Server::builder().config(CONFIG).start();
    let _responder = responder(connect_as(&server, "admin").await).await;
    let client = connect_as(&server, "noinbox").await;

    // Whether the request goes out before or after the inbox's refusal comes
    // back, it fails at once instead of waiting 10 s for a reply.
    for _ in 0..2 {
        let started = Instant::now();
        let err = client.request("svc", "ping").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
        assert!(err.to_string().contains("_INBOX"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(3));
    }
    assert_eq!(client.pending_requests(), 0);
    let mut sub = client.subscribe("open").await.unwrap();
    client.publish("open", "usable").await.unwrap();
    assert_eq!(next_text(&mut sub).await, "usable");
}

#[tokio::test]
async fn a_request_whose_reply_subject_is_refused_fails_at_once() {
    // Replies under `_R_.` are reserved by the server for service imports:
    // a request with such a reply subject is refused with
    // `Permissions Violation for Publish with Reply of "_R_...."`.
    let server = Server::new().start();
    let _responder = responder(nats_core::connect(server.url()).await.unwrap()).await;
    let client = ConnectOptions::new()
        .inbox_prefix("_R_")
        .connect(server.url())
        .await
        .unwrap();
    let started = Instant::now();
    let err = client.request("svc", "ping").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(client.pending_requests(), 0);
}
