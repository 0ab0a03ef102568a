//! Integration tests of the core client against a real nats-server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod basics;
mod requests;
mod subscriptions;
