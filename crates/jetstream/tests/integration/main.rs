//! Integration tests of the jetstream crate against a real nats-server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit_consumers;
mod audit_stores;
mod batch;
mod cluster;
mod common;
mod compat;
mod consumers_mgmt;
mod fault_matrix;
mod faults_stores;
mod interop_py;
mod kv;
mod object_store;
mod ordered;
mod pattern;
mod priority;
mod publish;
mod publish_parity;
mod pull;
mod pull_faults;
mod pull_parity;
mod soak;
mod stores_parity;
mod streams;
mod streams_parity;
