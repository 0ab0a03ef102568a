//! Integration tests of the core client against a real nats-server.

mod basics;
mod requests;
mod subscriptions;
