//! Tests of `FaultProxy` and `Server::freeze` against the real `nats-server`,
//! speaking the NATS protocol by hand.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Read;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Conn, Ended};
use nats_testkit::{Direction, FaultProxy, Server};

/// How long a test waits to conclude that nothing arrives.
const SILENCE: Duration = Duration::from_millis(300);
/// How long something that should arrive may take.
const PROMPT: Duration = Duration::from_secs(3);

/// A connection through `proxy` that has done the CONNECT/PING handshake.
fn connected(proxy: &FaultProxy) -> Conn {
    let mut conn = Conn::open(proxy.port());
    assert_eq!(conn.handshake(r#"{"verbose":false}"#), "PONG");
    conn
}

fn ping(conn: &mut Conn, within: Duration) -> Result<String, Ended> {
    conn.send("PING\r\n");
    conn.try_line(within)
}

#[test]
fn passes_traffic_and_counts_connections() {
    let server = Server::new().start();
    let proxy = FaultProxy::for_server(&server);
    assert_eq!(proxy.url(), format!("nats://127.0.0.1:{}", proxy.port()));
    assert_eq!(proxy.target().port(), server.port());
    let mut conn = connected(&proxy);
    // The INFO comes from the server behind the proxy.
    assert_eq!(conn.info["port"].as_u64(), Some(u64::from(server.port())));
    conn.send("SUB echo 1\r\nPUB echo 5\r\nhello\r\n");
    assert_eq!(conn.line(), "MSG echo 1 5");
    assert_eq!(conn.line(), "hello");
    assert_eq!(proxy.accepted(), 1);
    assert_eq!(proxy.connections(), 1);
    assert!(proxy.forwarded(Direction::ClientToServer) > 0);
    assert!(proxy.forwarded(Direction::ServerToClient) > 0);
    assert_eq!(
        proxy.forwarded(Direction::Both),
        proxy.forwarded(Direction::ClientToServer) + proxy.forwarded(Direction::ServerToClient)
    );
}

#[test]
fn a_stall_in_either_direction_holds_the_pong_until_resume() {
    let server = Server::new().start();
    let proxy = FaultProxy::for_server(&server);
    for direction in [
        Direction::ClientToServer,
        Direction::ServerToClient,
        Direction::Both,
    ] {
        let mut conn = connected(&proxy);
        proxy.stall(direction);
        assert_eq!(
            ping(&mut conn, SILENCE),
            Err(Ended::TimedOut),
            "{direction:?}"
        );
        // Half-open: both sockets stay open.
        assert_eq!(proxy.connections(), 1, "{direction:?}");
        proxy.resume();
        assert_eq!(
            conn.try_line(PROMPT).as_deref(),
            Ok("PONG"),
            "{direction:?}"
        );
        assert_eq!(ping(&mut conn, PROMPT).as_deref(), Ok("PONG"));
        drop(conn);
        wait_for("the connection to end", || proxy.connections() == 0);
    }
}

#[test]
fn new_connections_get_the_current_mode() {
    let server = Server::new().start();
    let proxy = FaultProxy::for_server(&server);
    proxy.stall(Direction::Both);
    let stream = TcpStream::connect(proxy.addr()).unwrap();
    stream.set_read_timeout(Some(SILENCE)).unwrap();
    let mut byte = [0u8; 1];
    let silent = (&stream).read(&mut byte).unwrap_err();
    assert!(matches!(
        silent.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    ));
    proxy.resume();
    stream.set_read_timeout(Some(PROMPT)).unwrap();
    assert_eq!((&stream).read(&mut byte).unwrap(), 1);
    assert_eq!(&byte, b"I"); // INFO
}

#[test]
fn dropped_server_bytes_never_reach_the_client() {
    let server = Server::new().start();
    let proxy = FaultProxy::for_server(&server);
    let mut watcher = Conn::open(server.port());
    watcher.handshake(r#"{"verbose":false}"#);
    watcher.send("SUB seen 1\r\nPING\r\n");
    assert_eq!(watcher.line(), "PONG");

    let mut conn = connected(&proxy);
    proxy.drop_bytes(Direction::ServerToClient);
    conn.send("PUB seen 2\r\nhi\r\n");
    assert_eq!(ping(&mut conn, SILENCE), Err(Ended::TimedOut));
    // The server got the publish; only its answers were lost.
    assert!(watcher.line().starts_with("MSG seen 1 2"));
    wait_for("the dropped PONG to be counted", || {
        proxy.dropped(Direction::ServerToClient) >= 6
    });
    proxy.resume();
    assert_eq!(ping(&mut conn, PROMPT).as_deref(), Ok("PONG"));
}

#[test]
fn reset_closes_every_connection_and_reconnects_are_accepted() {
    let server = Server::new().start();
    let proxy = FaultProxy::for_server(&server);
    let mut first = connected(&proxy);
    let mut second = connected(&proxy);
    assert_eq!(proxy.reset(), 2);
    assert_eq!(first.try_line(PROMPT), Err(Ended::Closed));
    assert_eq!(second.try_line(PROMPT), Err(Ended::Closed));
    assert_eq!(proxy.connections(), 0);
    // A reconnecting client gets through.
    let mut again = connected(&proxy);
    assert_eq!(ping(&mut again, PROMPT).as_deref(), Ok("PONG"));
    assert_eq!(proxy.accepted(), 3);
}

#[test]
fn cut_after_closes_a_connection_after_exactly_n_bytes() {
    let server = Server::new().start();
    let proxy = FaultProxy::for_server(&server);

    // New connections: the first 10 bytes of INFO, then the end.
    proxy.cut_after(10);
    let mut stream = TcpStream::connect(proxy.addr()).unwrap();
    stream.set_read_timeout(Some(PROMPT)).unwrap();
    let mut got = Vec::new();
    stream.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"INFO {\"ser");

    // A current connection: counted from the call, in the middle of a line.
    proxy.pass();
    let mut conn = connected(&proxy);
    let before = proxy.forwarded(Direction::ClientToServer);
    proxy.cut_after(3);
    assert_eq!(ping(&mut conn, PROMPT), Err(Ended::Closed));
    assert_eq!(proxy.forwarded(Direction::ClientToServer) - before, 3);

    proxy.pass();
    assert_eq!(ping(&mut connected(&proxy), PROMPT).as_deref(), Ok("PONG"));
}

#[test]
fn latency_delays_each_direction() {
    let server = Server::new().start();
    let proxy = FaultProxy::for_server(&server);
    let mut conn = connected(&proxy);
    let round_trip = |conn: &mut Conn| {
        let start = Instant::now();
        assert_eq!(ping(conn, PROMPT).as_deref(), Ok("PONG"));
        start.elapsed()
    };
    proxy.set_latency(Direction::ServerToClient, Duration::from_millis(150));
    let down = round_trip(&mut conn);
    assert!(down >= Duration::from_millis(150), "{down:?}");
    proxy.set_latency(Direction::ClientToServer, Duration::from_millis(100));
    let both = round_trip(&mut conn);
    assert!(both >= Duration::from_millis(250), "{both:?}");
    proxy.pass();
    let none = round_trip(&mut conn);
    assert!(none < Duration::from_millis(150), "{none:?}");
}

#[test]
fn bandwidth_limits_throughput() {
    let server = Server::new().start();
    let proxy = FaultProxy::for_server(&server);
    let mut conn = connected(&proxy);
    conn.send("SUB big 1\r\nPING\r\n");
    assert_eq!(conn.line(), "PONG");
    proxy.set_bandwidth(Direction::ServerToClient, Some(100_000));
    let payload = "x".repeat(50_000);
    let start = Instant::now();
    conn.send(&format!(
        "PUB big {}\r\n{payload}\r\nPING\r\n",
        payload.len()
    ));
    assert!(conn.try_line(PROMPT).unwrap().starts_with("MSG big 1"));
    assert_eq!(conn.try_line(PROMPT).unwrap().len(), payload.len());
    assert_eq!(conn.try_line(PROMPT).as_deref(), Ok("PONG"));
    let took = start.elapsed();
    // 50 kB at 100 kB/s: half a second.
    assert!(took >= Duration::from_millis(400), "{took:?}");
    assert!(took < Duration::from_millis(2500), "{took:?}");
}

#[test]
fn a_server_restart_behind_the_proxy_ends_the_connection() {
    let mut server = Server::new().start();
    let proxy = FaultProxy::for_server(&server);
    let mut conn = connected(&proxy);
    server.restart();
    assert_eq!(conn.try_line(PROMPT), Err(Ended::Closed));
    assert_eq!(ping(&mut connected(&proxy), PROMPT).as_deref(), Ok("PONG"));
}

#[test]
fn dropping_the_proxy_closes_its_connections_quickly() {
    let server = Server::new().start();
    let proxy = FaultProxy::for_server(&server);
    let mut conn = connected(&proxy);
    proxy.stall(Direction::Both);
    let start = Instant::now();
    drop(proxy);
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(conn.try_line(PROMPT), Err(Ended::Closed));
}

#[test]
fn a_frozen_server_answers_nothing_until_thawed() {
    let server = Server::new().start();
    let mut conn = Conn::open(server.port());
    conn.handshake(r#"{"verbose":false}"#);
    let frozen = server.freeze();
    assert!(server.is_frozen());
    assert_eq!(ping(&mut conn, SILENCE), Err(Ended::TimedOut));
    frozen.thaw();
    assert!(!server.is_frozen());
    assert_eq!(conn.try_line(PROMPT).as_deref(), Ok("PONG"));
}

#[test]
fn a_failing_test_leaves_no_frozen_server() {
    let mut server = Server::new().start();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _frozen = server.freeze();
        panic!("a failing assertion while frozen");
    }));
    assert!(result.is_err());
    assert!(!server.is_frozen());
    let mut conn = Conn::open(server.port());
    assert_eq!(conn.handshake(r#"{"verbose":false}"#), "PONG");

    // A frozen server still shuts down promptly (thawed before SIGTERM).
    std::mem::forget(server.freeze());
    let start = Instant::now();
    server.shutdown();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + PROMPT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}
