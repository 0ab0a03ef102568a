//! Reconnecting: resubscribe, replay of what was published while
//! disconnected, the reconnect buffer, giving up, failing waiters, events.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use nats_core::{Client, ConnectOptions, ErrorKind, Event, State, Subscriber};
use nats_testkit::Server;
use tokio::sync::mpsc;
use tokio::task::block_in_place;

/// Adds an event callback that forwards every event to the returned receiver.
pub(crate) fn with_events(
    opts: ConnectOptions,
) -> (ConnectOptions, mpsc::UnboundedReceiver<Event>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let opts = opts.event_callback(move |event| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(event);
        }
    });
    (opts, rx)
}

/// Receives events until `want` arrives (returning everything seen, `want`
/// included); panics after `timeout`.
pub(crate) async fn wait_event(
    rx: &mut mpsc::UnboundedReceiver<Event>,
    want: impl Fn(&Event) -> bool,
    timeout: Duration,
) -> Vec<Event> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(e)) => {
                let done = want(&e);
                seen.push(e);
                if done {
                    return seen;
                }
            }
            Ok(None) => panic!("event channel closed; seen {seen:?}"),
            Err(_) => panic!("the wanted event did not arrive in {timeout:?}; seen {seen:?}"),
        }
    }
}

/// Waits until the client is in `state`; panics after `timeout`.
pub(crate) async fn wait_state(client: &Client, state: State, timeout: Duration) {
    let mut changes = client.state_changes();
    let result = tokio::time::timeout(timeout, changes.wait_for(|s| *s == state)).await;
    assert!(
        matches!(result, Ok(Ok(_))),
        "client did not reach {state:?} in {timeout:?} (now {:?})",
        client.connection_state()
    );
}

/// The next message's payload as text, waiting at most 5 s.
pub(crate) async fn next_text(sub: &mut Subscriber) -> String {
    let msg = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("a message within 5 s")
        .expect("subscription open");
    String::from_utf8(msg.payload.to_vec()).unwrap()
}

/// Asserts nothing more arrives on `sub` for a short while.
pub(crate) async fn assert_quiet(sub: &mut Subscriber) {
    if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(300), sub.next()).await {
        panic!("unexpected extra message {:?}", m.payload);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_resubscribes_and_replays_what_was_published_while_disconnected() {
    let mut server = Server::new().start();
    let client = nats_core::connect(server.url()).await.unwrap();
    let mut sub = client.subscribe("r.>").await.unwrap();
    let mut limited = client.subscribe("lim").await.unwrap();
    limited.unsubscribe_after(5).await.unwrap();
    client.publish("lim", "0").await.unwrap();
    client.publish("lim", "1").await.unwrap();
    assert_eq!(next_text(&mut limited).await, "0");
    assert_eq!(next_text(&mut limited).await, "1");

    block_in_place(|| server.stop());
    wait_state(&client, State::Disconnected, Duration::from_secs(5)).await;
    for i in 0..10 {
        client
            .publish(format!("r.buffered.{i}"), format!("b{i}"))
            .await
            .unwrap();
    }
    block_in_place(|| server.start());
    wait_state(&client, State::Connected, Duration::from_secs(10)).await;
    for i in 0..10 {
        client
            .publish(format!("r.after.{i}"), format!("a{i}"))
            .await
            .unwrap();
    }
    for i in 2..10 {
        client.publish("lim", format!("{i}")).await.unwrap();
    }
    client.flush().await.unwrap();

    for i in 0..10 {
        assert_eq!(next_text(&mut sub).await, format!("b{i}"));
    }
    for i in 0..10 {
        assert_eq!(next_text(&mut sub).await, format!("a{i}"));
    }
    assert_quiet(&mut sub).await;
    // The auto-unsubscribe was replayed with the 3 messages it had left.
    for i in 2..5 {
        assert_eq!(next_text(&mut limited).await, format!("{i}"));
    }
    let end = tokio::time::timeout(Duration::from_secs(5), limited.next()).await;
    assert!(matches!(end, Ok(None)), "the limited subscription ends");
    let stats = client.statistics();
    assert_eq!((stats.connects, stats.reconnects), (2, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_beyond_the_reconnect_buffer_fails_and_the_rest_is_delivered() {
    let mut server = Server::new().start();
    let client = ConnectOptions::new()
        .reconnect_buffer_size(1024)
        .connect(server.url())
        .await
        .unwrap();
    let mut sub = client.subscribe("buf").await.unwrap();
    client.flush().await.unwrap();
    block_in_place(|| server.stop());
    wait_state(&client, State::Disconnected, Duration::from_secs(5)).await;
    let payload = vec![b'x'; 100];
    let mut accepted = 0;
    let err = loop {
        match client.publish("buf", payload.clone()).await {
            Ok(()) => accepted += 1,
            Err(e) => break e,
        }
        assert!(
            accepted <= 10,
            "1 KiB cannot hold {accepted} messages of 100 bytes"
        );
    };
    assert_eq!(err.kind(), ErrorKind::ReconnectBufferFull);
    assert!(accepted >= 5, "only {accepted} messages fit");
    block_in_place(|| server.start());
    wait_state(&client, State::Connected, Duration::from_secs(10)).await;
    client.flush().await.unwrap();
    for _ in 0..accepted {
        assert_eq!(next_text(&mut sub).await.len(), 100);
    }
    assert_quiet(&mut sub).await;
    // The buffer is free again.
    client.publish("buf", payload).await.unwrap();
    assert_eq!(next_text(&mut sub).await.len(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn giving_up_closes_and_fails_every_waiter() {
    let mut server = Server::new().start();
    let (opts, mut events) = with_events(
        ConnectOptions::new()
            .max_reconnects(3)
            .reconnect_delay_callback(|_| Duration::from_millis(50))
            .request_timeout(Some(Duration::from_secs(30))),
    );
    let client = opts.connect(server.url()).await.unwrap();
    let mut sub = client.subscribe("gone").await.unwrap();
    client.flush().await.unwrap();
    block_in_place(|| server.stop());
    wait_state(&client, State::Disconnected, Duration::from_secs(5)).await;
    // Waiters started while disconnected.
    let c = client.clone();
    let flush = tokio::spawn(async move { c.flush().await });
    let c = client.clone();
    let request = tokio::spawn(async move { c.request("svc", "x").await });

    wait_state(&client, State::Closed, Duration::from_secs(5)).await;
    let started = Instant::now();
    let flushed = flush.await.unwrap().unwrap_err();
    assert_eq!(flushed.kind(), ErrorKind::ConnectionClosed);
    let requested = request.await.unwrap().unwrap_err();
    assert_eq!(requested.kind(), ErrorKind::ConnectionClosed);
    assert!(started.elapsed() < Duration::from_secs(2));
    let end = tokio::time::timeout(Duration::from_secs(2), sub.next()).await;
    assert!(matches!(end, Ok(None)), "subscriptions end");
    assert_eq!(
        client.publish("x", "y").await.unwrap_err().kind(),
        ErrorKind::ConnectionClosed
    );
    assert_eq!(
        client.subscribe("x").await.unwrap_err().kind(),
        ErrorKind::ConnectionClosed
    );
    assert_eq!(
        client.request("x", "y").await.unwrap_err().kind(),
        ErrorKind::ConnectionClosed
    );
    let seen = wait_event(&mut events, |e| *e == Event::Closed, Duration::from_secs(2)).await;
    let disconnected = seen.iter().position(|e| *e == Event::Disconnected);
    let gave_up = seen
        .iter()
        .position(|e| matches!(e, Event::ClientError(m) if m.contains("giving up")));
    assert!(
        disconnected.is_some() && gave_up > disconnected,
        "events: {seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_flight_fails_fast_when_the_connection_drops() {
    let mut server = Server::new().start();
    // A responder that receives the request but never answers.
    let responder = nats_core::connect(server.url()).await.unwrap();
    let mut silent = responder.subscribe("slow").await.unwrap();
    responder.flush().await.unwrap();
    let client = ConnectOptions::new()
        .request_timeout(Some(Duration::from_secs(30)))
        .connect(server.url())
        .await
        .unwrap();
    let c = client.clone();
    let request = tokio::spawn(async move { c.request("slow", "hello").await });
    let got = tokio::time::timeout(Duration::from_secs(5), silent.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&got.payload[..], b"hello");
    assert_eq!(client.pending_requests(), 1);

    let started = Instant::now();
    block_in_place(|| server.stop());
    let result = tokio::time::timeout(Duration::from_secs(5), request)
        .await
        .expect("the request fails fast instead of waiting for its timeout")
        .unwrap();
    assert_eq!(result.unwrap_err().kind(), ErrorKind::ConnectionClosed);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(client.pending_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_come_in_order_across_a_restart() {
    let mut server = Server::new().start();
    let (opts, mut events) = with_events(ConnectOptions::new());
    let client = opts.connect(server.url()).await.unwrap();
    wait_event(
        &mut events,
        |e| *e == Event::Connected,
        Duration::from_secs(5),
    )
    .await;
    block_in_place(|| server.restart());
    let seen = wait_event(
        &mut events,
        |e| *e == Event::Connected,
        Duration::from_secs(10),
    )
    .await;
    let relevant: Vec<&Event> = seen
        .iter()
        .filter(|e| matches!(e, Event::Connected | Event::Disconnected | Event::Closed))
        .collect();
    assert_eq!(
        relevant,
        [&Event::Disconnected, &Event::Connected],
        "{seen:?}"
    );
    assert_eq!(client.connection_state(), State::Connected);
    client.close().await;
    let seen = wait_event(&mut events, |e| *e == Event::Closed, Duration::from_secs(5)).await;
    assert!(!seen.contains(&Event::Disconnected), "{seen:?}");
    assert_eq!(client.connection_state(), State::Closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lame_duck_mode_is_reported_and_the_connection_keeps_working() {
    let server = Server::new().start();
    let (opts, mut events) = with_events(ConnectOptions::new());
    let client = opts.connect(server.url()).await.unwrap();
    let mut sub = client.subscribe("ldm").await.unwrap();
    client.flush().await.unwrap();
    server.signal_lame_duck();
    wait_event(
        &mut events,
        |e| *e == Event::LameDuckMode,
        Duration::from_secs(5),
    )
    .await;
    assert!(client.server_info().lame_duck_mode);
    client.publish("ldm", "still here").await.unwrap();
    assert_eq!(next_text(&mut sub).await, "still here");
    assert_eq!(client.connection_state(), State::Connected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_on_initial_connect_connects_once_the_server_is_up() {
    let mut server = Server::new().start();
    let url = server.url();
    block_in_place(|| server.stop());
    let client = ConnectOptions::new()
        .retry_on_initial_connect()
        .reconnect_delay_callback(|_| Duration::from_millis(100))
        .connect(url)
        .await
        .unwrap();
    assert_eq!(client.connection_state(), State::Pending);
    let mut sub = client.subscribe("early").await.unwrap();
    client.publish("early", "queued").await.unwrap();
    block_in_place(|| server.start());
    wait_state(&client, State::Connected, Duration::from_secs(10)).await;
    assert_eq!(next_text(&mut sub).await, "queued");
    // The SUB queued while pending and the resubscription do not double up.
    client.publish("early", "once").await.unwrap();
    assert_eq!(next_text(&mut sub).await, "once");
    assert_quiet(&mut sub).await;
}
