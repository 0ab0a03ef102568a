//! Integration tests of the jetstream crate against a real nats-server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit_consumers;
mod audit_stores;
mod batch;
mod cluster;
mod common;
mod compat;
mod concurrent;
mod consumers_mgmt;
mod fault_matrix;
mod faults_stores;
mod interop_py;
mod kv;
#[cfg(feature = "metrics")]
mod metrics;
mod object_store;
mod ordered;
#[cfg(feature = "otel")]
mod otel;
mod pattern;
mod priority;
mod publish;
mod publish_parity;
mod pull;
mod pull_faults;
mod pull_parity;
mod push;
mod soak;
mod stores_parity;
mod streams;
mod streams_parity;
mod typed;
