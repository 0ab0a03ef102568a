//! Integration tests of the jetstream crate against a real nats-server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod compat;
mod consumers_mgmt;
mod ordered;
mod publish;
mod pull;
mod streams;
