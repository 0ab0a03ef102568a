//! Publishers waiting for room in the write buffer are released as soon as
//! room can no longer come from the current connection: when the client is
//! closed, and when the connection is lost (whether or not a reconnect ever
//! comes).

use std::time::{Duration, Instant};

use bytes::Bytes;
use nats_core::{Client, ConnectOptions, ErrorKind, Event, State};
use nats_testkit::Server;
use tokio::task::JoinHandle;

use crate::reconnect::{wait_event, wait_state, with_events};

/// Publishes until the socket and the write buffer are full, then returns a
/// publish that waits for room (checked to be still waiting).
async fn blocked_publisher(client: &Client) -> JoinHandle<Result<(), nats_core::Error>> {
    let payload = Bytes::from(vec![0u8; 64 * 1024]);
    let mut sent = 0usize;
    loop {
        let publish = client.publish("fill", payload.clone());
        match tokio::time::timeout(Duration::from_millis(300), publish).await {
            Ok(result) => result.unwrap(),
            Err(_) => break,
        }
        sent += payload.len();
        assert!(sent < 512 << 20, "publishing never blocked");
    }
    let c = client.clone();
    let task = tokio::spawn(async move { c.publish("fill", payload).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!task.is_finished(), "the publisher waits for room");
    task
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_fails_publishers_waiting_for_room_at_once() {
    let server = Server::new().start();
    let client = ConnectOptions::new()
        .write_buffer_size(64 * 1024)
        .connect(server.url())
        .await
        .unwrap();
    client.flush().await.unwrap();
    // A frozen server keeps its sockets open but reads nothing, so the
    // client's writes back up.
    let frozen = server.freeze();
    let waiting = blocked_publisher(&client).await;

    let started = Instant::now();
    let closer = client.clone();
    tokio::spawn(async move { closer.close().await });
    let result = tokio::time::timeout(Duration::from_secs(2), waiting)
        .await
        .expect("close() releases the waiting publisher at once")
        .unwrap();
    assert_eq!(result.unwrap_err().kind(), ErrorKind::ConnectionClosed);
    assert!(started.elapsed() < Duration::from_secs(1));
    // Everything after close() fails at once too, though the stuck
    // connection is still being given up on.
    let publish = tokio::time::timeout(Duration::from_secs(1), client.publish("x", "y")).await;
    assert_eq!(
        publish.unwrap().unwrap_err().kind(),
        ErrorKind::ConnectionClosed
    );
    let flush = tokio::time::timeout(Duration::from_secs(1), client.flush()).await;
    assert_eq!(
        flush.unwrap().unwrap_err().kind(),
        ErrorKind::ConnectionClosed
    );
    frozen.thaw();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_connection_releases_publishers_waiting_for_room() {
    let server = Server::new().start();
    // The stuck connection is found stale after three pings of 250 ms; the
    // one reconnect attempt allowed comes 2 s later and fails (the server
    // still reads nothing), and the client gives up.
    let (opts, mut events) = with_events(
        ConnectOptions::new()
            .write_buffer_size(64 * 1024)
            .ping_interval(Duration::from_millis(250))
            .connection_timeout(Duration::from_millis(500))
            .max_reconnects(1)
            .reconnect_delay_callback(|_| Duration::from_secs(2)),
    );
    let client = opts.connect(server.url()).await.unwrap();
    client.flush().await.unwrap();
    // A frozen server keeps its sockets open but reads nothing, so the
    // client's writes back up.
    let frozen = server.freeze();
    let waiting = blocked_publisher(&client).await;

    wait_state(&client, State::Disconnected, Duration::from_secs(5)).await;
    let lost = Instant::now();
    // Released when the connection is lost, not when a reconnect (or the
    // giving up, 2.5 s later) comes: it then follows the rules of publishing
    // while disconnected, and its message waits in the reconnect buffer.
    let result = tokio::time::timeout(Duration::from_secs(1), waiting)
        .await
        .expect("the waiting publisher is released when the connection is lost")
        .unwrap();
    result.unwrap();
    assert!(lost.elapsed() < Duration::from_secs(1));

    // Giving up closes the client: every publish fails at once from then on.
    wait_event(
        &mut events,
        |e| matches!(e, Event::ClientError(m) if m.contains("giving up")),
        Duration::from_secs(10),
    )
    .await;
    wait_state(&client, State::Closed, Duration::from_secs(2)).await;
    let publish = tokio::time::timeout(Duration::from_secs(1), client.publish("x", "y")).await;
    assert_eq!(
        publish.unwrap().unwrap_err().kind(),
        ErrorKind::ConnectionClosed
    );
    frozen.thaw();
}
