//! Integration tests of nats-service against a real nats-server (one server
//! per test), and interoperability with nats-py's `nats.micro`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod builder;
mod common;
mod concurrency;
mod discovery;
mod endpoints;
mod interop;
mod schema;
mod stop;
