//! NATS services: request/reply endpoints that can be discovered and
//! monitored, as specified by the NATS architecture's
//! [ADR-32](https://github.com/nats-io/nats-architecture-and-design/blob/main/adr/ADR-32.md)
//! (the "micro" framework of nats.go, `nats.micro` of nats-py, the
//! `service` module of async-nats). Services written with any of them and
//! with this crate see each other and speak the same JSON.
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use nats_service::Service;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = nats_core::connect("nats://127.0.0.1:4222").await?;
//!
//! // A service: a name (its kind), a semantic version, and a unique id.
//! let service = Service::builder(&client, "echo", "1.0.0")
//!     .description("sends back what it gets")
//!     .await?;
//!
//! // An endpoint is a stream of requests (queue group "q" by default, so
//! // instances share the load).
//! let mut echo = service.endpoint("echo").await?;
//! while let Some(request) = echo.next().await {
//!     if request.payload().is_empty() {
//!         request.respond_error(400, "empty request").await?;
//!     } else {
//!         request.respond(request.payload().clone()).await?;
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! And from any client, in any language:
//!
//! ```no_run
//! # async fn run(client: nats_core::Client) -> Result<(), Box<dyn std::error::Error>> {
//! use nats_service::{Discovery, ServiceError};
//!
//! let reply = client.request("echo", "hi").await?;
//! if let Some(err) = ServiceError::from_message(&reply) {
//!     eprintln!("the service failed: {err}");
//! }
//! for info in Discovery::new(&client).info().name("echo").await? {
//!     println!("{} {}: {:?}", info.name, info.id, info.endpoints);
//! }
//! # Ok(()) }
//! ```
//!
//! # What a service does
//!
//! - **Endpoints** ([`Service::endpoint`], [`Group::endpoint`]) subscribe to
//!   a subject, in the service's queue group (`q` unless the service, the
//!   group or the endpoint says otherwise, or asks for none). Each is a
//!   [`Stream`](futures_core::Stream) of [`Request`]s.
//! - **Answers**: [`Request::respond`], [`Request::respond_with_headers`],
//!   and [`Request::respond_error`], which sets the standard
//!   `Nats-Service-Error` and `Nats-Service-Error-Code` headers; callers read
//!   them back with [`ServiceError::from_message`].
//! - **Discovery**: the service answers `PING`, `INFO` and `STATS` on
//!   `$SRV.<VERB>`, `$SRV.<VERB>.<name>` and `$SRV.<VERB>.<name>.<id>` with
//!   the JSON documents of [`PingResponse`], [`InfoResponse`] and
//!   [`StatsResponse`]. [`Discovery`] asks them and gathers the answers.
//! - **Statistics** per endpoint: requests, errors, the last error, total and
//!   average processing time, and custom `data` from a
//!   [stats handler](ServiceBuilder::stats_handler); [`Service::reset`] zeroes them.
//! - **Stop**: [`Service::stop`] drains: subscriptions end with the server's
//!   confirmation, requests already received are still handed out.
//!
//! # Concurrency and back-pressure
//!
//! Requests may be handled concurrently, e.g. one spawned task each, but
//! each endpoint has at most
//! [`max_concurrency`](EndpointBuilder::max_concurrency) requests in flight
//! (default [`DEFAULT_MAX_CONCURRENCY`]). At the bound the endpoint stops
//! handing out requests; new ones wait in the endpoint's subscription,
//! bounded by its [`PendingLimits`](nats_core::PendingLimits), beyond which
//! the client drops them (their callers time out; see
//! [`Endpoint::dropped_requests`]). Nothing queues without bound.
//!
//! # Why a crate of its own
//!
//! Services are built only on the public API of `nats-core` (subscribe,
//! queue subscribe with pending limits, publish, flush). Keeping them in
//! their own crate keeps the core client small for the many programs that
//! never run a service, lets this crate take dependencies the core does not
//! need (`jiff` for the `started` timestamp), and lets it evolve with ADR-32
//! independently of the core's release cycle. Users opt in with one line in
//! `Cargo.toml`.
//!
//! # Cancel safety
//!
//! Dropping any future of this crate leaves the connection and the service
//! in a good state. [`Service::stop`] goes on in the background if its future
//! is dropped; an [`Endpoint::stop`] future dropped midway leaves the
//! endpoint unsubscribed but its stream open until the endpoint is dropped.

#![deny(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod discovery;
mod endpoint;
mod error;
mod request;
mod schema;
mod service;
mod validate;
mod verbs;

/// The crate's README, compiled as doctests (`cargo test --doc`; `no_run`: they need a server).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadMeDoctests;

pub use discovery::{Discover, Discovery, DEFAULT_GATHER_TIMEOUT, DEFAULT_MAX_RESPONSES};
pub use endpoint::{Endpoint, EndpointBuilder, Group};
pub use error::{
    error_headers, Error, ErrorKind, ServiceError, NATS_SERVICE_ERROR, NATS_SERVICE_ERROR_CODE,
};
pub use request::Request;
pub use schema::{
    EndpointInfo, EndpointStats, InfoResponse, PingResponse, StatsResponse, INFO_RESPONSE_TYPE,
    PING_RESPONSE_TYPE, STATS_RESPONSE_TYPE,
};
pub use service::{Service, ServiceBuilder, DEFAULT_MAX_CONCURRENCY, DEFAULT_QUEUE_GROUP};
pub use verbs::{Verb, API_PREFIX};
