//! Tests of single servers against the real `nats-server`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::Conn;
use nats_testkit::{binary_version_output, server_binary, Server, PINNED_VERSION};

fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn core_server_sends_info_and_answers_ping() {
    let server = Server::new().start();
    assert_eq!(server.host(), "127.0.0.1");
    assert_eq!(server.url(), format!("nats://127.0.0.1:{}", server.port()));
    assert!(server.store_dir().is_none());
    assert!(server.is_running());
    assert!(server.pid().is_some());

    let mut conn = Conn::open(server.port());
    assert_eq!(conn.info["port"].as_u64(), Some(u64::from(server.port())));
    assert_eq!(conn.info["version"].as_str(), Some(PINNED_VERSION));
    assert_ne!(conn.info["jetstream"].as_bool(), Some(true));
    assert_eq!(conn.handshake(r#"{"verbose":false}"#), "PONG");

    let varz = server.monitor_json("/varz").unwrap();
    assert_eq!(varz["server_name"].as_str(), Some(server.server_name()));
    assert!(server.config_path().is_file());
    assert!(server.log_path().is_file());
}

#[test]
fn pinned_binary_reports_pinned_version() {
    let out = binary_version_output(&server_binary()).unwrap();
    assert_eq!(out, format!("nats-server: v{PINNED_VERSION}"));
}

#[test]
fn jetstream_restart_keeps_port_and_store() {
    let mut server = Server::jetstream().start();
    let port = server.port();
    let store = server.store_dir().unwrap().to_path_buf();
    assert!(
        store.join("jetstream").is_dir(),
        "store in {}",
        store.display()
    );

    let mut conn = Conn::open(port);
    assert_eq!(conn.info["jetstream"].as_bool(), Some(true));
    conn.handshake("{}");
    let reply = conn.request(
        "$JS.API.STREAM.CREATE.KEEP",
        r#"{"name":"KEEP","subjects":["keep.>"],"storage":"file"}"#,
    );
    assert!(
        reply.contains(r#""type":"io.nats.jetstream.api.v1.stream_create_response""#),
        "{reply}"
    );
    drop(conn);

    let dir = server.dir().to_path_buf();
    server.restart();
    assert_eq!(server.port(), port);
    assert_eq!(server.store_dir(), Some(store.as_path()));
    assert_eq!(server.dir(), dir);
    let mut conn = Conn::open(port);
    assert_eq!(conn.handshake("{}"), "PONG");
    let jsz = server.monitor_json("/jsz").unwrap();
    assert_eq!(jsz["streams"].as_u64(), Some(1), "{jsz}");
    let info = conn.request("$JS.API.STREAM.INFO.KEEP", "");
    assert!(info.contains(r#""name":"KEEP""#), "{info}");
}

#[test]
fn stop_then_start_on_same_port() {
    let mut server = Server::new().start();
    let port = server.port();
    server.stop();
    assert!(!server.is_running());
    assert!(server.pid().is_none());
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    assert!(server.wait_ready(Duration::from_millis(50)).is_err());

    server.start();
    assert_eq!(server.port(), port);
    assert_eq!(Conn::open(port).handshake("{}"), "PONG");

    server.shutdown();
    assert!(!server.is_running());
    server.start();
    server.wait_ready(Duration::from_secs(1)).unwrap();
}

#[test]
fn token_auth_from_custom_config() {
    let server = Server::builder()
        .config("authorization { token: s3cr3t }")
        .start();
    let mut anonymous = Conn::open(server.port());
    assert_eq!(anonymous.info["auth_required"].as_bool(), Some(true));
    assert_eq!(anonymous.handshake("{}"), "-ERR 'Authorization Violation'");

    let mut with_token = Conn::open(server.port());
    assert_eq!(with_token.handshake(r#"{"auth_token":"s3cr3t"}"#), "PONG");
    assert_eq!(
        server.client_url_with("s3cr3t"),
        format!("nats://s3cr3t@127.0.0.1:{}", server.port())
    );
}

#[test]
fn jetstream_domain_and_custom_block_rejection() {
    let server = Server::builder().jetstream_domain("hub").start();
    let jsz = server.monitor_json("/jsz").unwrap();
    assert_eq!(jsz["config"]["domain"].as_str(), Some("hub"), "{jsz}");

    let err = Server::builder()
        .config("jetstream { domain: x }")
        .try_start()
        .unwrap_err();
    assert!(err.contains("jetstream_domain"), "{err}");
}

#[test]
fn bad_config_fails_with_log_tail() {
    let err = Server::builder()
        .config("this is { not valid")
        .ready_timeout(Duration::from_secs(5))
        .try_start()
        .unwrap_err();
    assert!(err.contains("did not become ready"), "{err}");
    assert!(err.contains("exited"), "{err}");
    assert!(err.contains("this is { not valid"), "{err}");
}

#[test]
fn reload_config_applies_auth() {
    let mut server = Server::new().start();
    assert_eq!(Conn::open(server.port()).handshake("{}"), "PONG");
    server
        .reload_config("authorization { token: s3cr3t }")
        .unwrap();
    wait_for("reloaded auth", Duration::from_secs(5), || {
        Conn::open(server.port()).info["auth_required"].as_bool() == Some(true)
    });
}

#[test]
fn lame_duck_mode_stops_accepting() {
    let server = Server::new().start();
    let port = server.port();
    server.signal_lame_duck();
    wait_for("lame duck mode", Duration::from_secs(5), || {
        server.log_tail(50).contains("lame duck")
    });
    wait_for("listener closed", Duration::from_secs(5), || {
        TcpStream::connect(("127.0.0.1", port)).is_err()
    });
}

#[test]
fn other_version_is_provisioned() {
    let binary = nats_testkit::server_binary_version("2.10.26");
    assert!(binary.ends_with("nats-server-2.10.26/bin/nats-server"));
    let out = binary_version_output(&binary).unwrap();
    assert!(out.contains("v2.10.26"), "{out}");

    let server = Server::jetstream().version("2.10.26").start();
    let conn = Conn::open(server.port());
    assert_eq!(conn.info["version"].as_str(), Some("2.10.26"));
}
