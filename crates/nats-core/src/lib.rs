//! A fast, bounded core NATS client.
//!
//! ```no_run
//! # async fn run() -> Result<(), nats_core::Error> {
//! use futures_util::StreamExt;
//!
//! let client = nats_core::connect("nats://127.0.0.1:4222").await?;
//! let mut sub = client.subscribe("greet.*").await?;
//! client.publish("greet.joe", "hello").await?;
//! let msg = sub.next().await.expect("subscription open");
//! assert_eq!(&msg.payload[..], b"hello");
//! # Ok(()) }
//! ```
//!
//! # Design
//!
//! One task owns the socket. Publishers encode straight into a shared, bounded
//! write buffer (no per-message channel hop or allocation); the task swaps the
//! buffer out and writes it in large batches. Incoming messages are parsed
//! zero-copy and handed to each subscription's queue by subscription id; a
//! queue at its [`PendingLimits`] (messages and bytes) drops the message and
//! reports a [`SlowConsumer`](Event::SlowConsumer) event instead of stalling
//! the socket.
//! Requests share one wildcard inbox subscription and are matched by token.
//!
//! # Cancel safety
//!
//! Every future may be dropped at any point: a dropped publish is either fully
//! buffered or not at all, a dropped request removes its waiting entry, and a
//! dropped [`Subscriber`] unsubscribes. `Drop` never spawns tasks.
#![deny(missing_docs)]

mod addr;
mod client;
mod connection;
mod deadlines;
mod error;
mod events;
mod message;
mod nuid;
mod options;
mod pending;
mod request;
mod ring;
mod shared;
mod sub_queue;
mod subscriber;
mod waiters;
mod write_queue;

/// The crate's README, compiled as doctests (`cargo test --doc`; `no_run`: they need a server).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadMeDoctests;

pub use addr::{ServerAddr, ToServerAddrs};
pub use client::Client;
pub use error::{Error, ErrorKind};
pub use events::{Event, State, Statistics};
pub use message::Message;
pub use nats_wire::{HeaderMap, ServerInfo, StatusCode, Subject};
pub use options::ConnectOptions;
pub use pending::PendingLimits;
pub use request::Response;
pub use subscriber::Subscriber;

/// The default server URL.
pub const DEFAULT_URL: &str = "nats://127.0.0.1:4222";

/// Connects with default options.
///
/// `urls` may be `"nats://host:port"`, `"host:port"`, `"tls://host"`, a
/// comma-separated list, or a `Vec`/slice/array of those.
pub async fn connect(urls: impl ToServerAddrs) -> Result<Client, Error> {
    ConnectOptions::new().connect(urls).await
}

/// Validation of subjects and names, as used by the client before sending.
pub mod subject {
    pub use nats_wire::subject::*;
}
