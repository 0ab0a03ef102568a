//! Integration tests of the core client against a real nats-server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod basics;
mod cluster;
mod pending;
mod permissions;
mod reconnect;
mod requests;
mod subscriptions;
mod tls;
mod write_order;
mod write_waits;
