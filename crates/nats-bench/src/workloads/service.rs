//! `service-req`: request latency to an ADR-32 service endpoint, ours
//! (`nats-service`) against async-nats' `service` module.
//!
//! Each run starts the service on its own connection (name `bench-echo`,
//! version 1.0.0, endpoint `echo` on `bench.svc.echo`, default queue group
//! `q`), answering every request with its payload from a spawned task; a
//! second connection of the same library sends sequential requests. Setup
//! (connections, the service, its endpoint) is not timed.

use std::time::Instant;

use bytes::Bytes;
use futures_util::StreamExt;

use super::core::{confirm_async_nats, confirm_ours, latency_sample, AbortOnDrop};
use super::{Ctx, RunFuture};

/// The endpoint's subject.
pub(crate) const SUBJECT: &str = "bench.svc.echo";
/// The endpoint's queue group: ADR-32's default, which both libraries use.
pub(crate) const QUEUE_GROUP: &str = "q";
/// Untimed requests before the timed ones.
const WARMUP: u64 = 200;

/// `service-req` with `nats-service` on our client.
pub fn req_ours(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        let conn = nats_core::connect(ctx.url.as_str()).await?;
        let service = nats_service::Service::builder(&conn, "bench-echo", "1.0.0").await?;
        let mut endpoint = service.endpoint("echo").subject(SUBJECT).await?;
        confirm_ours(&conn).await?;
        let _service = AbortOnDrop(tokio::spawn(async move {
            while let Some(request) = endpoint.next().await {
                let payload = request.payload().clone();
                if request.respond(payload).await.is_err() {
                    break;
                }
            }
        }));

        let requester = nats_core::connect(ctx.url.as_str()).await?;
        let payload = Bytes::from(vec![b'x'; ctx.payload]);
        for _ in 0..WARMUP {
            requester.request(SUBJECT, payload.clone()).await?;
        }
        let mut latencies = Vec::with_capacity(ctx.messages as usize);
        for _ in 0..ctx.messages {
            let t = Instant::now();
            requester.request(SUBJECT, payload.clone()).await?;
            latencies.push(t.elapsed());
        }
        Ok(latency_sample(latencies))
    })
}

/// `service-req` with async-nats' `service` module.
pub fn req_async_nats(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        use async_nats::service::ServiceExt;

        let conn = async_nats::connect(ctx.url.as_str()).await?;
        let service = conn
            .service_builder()
            .start("bench-echo", "1.0.0")
            .await
            .map_err(|e| e.to_string())?;
        let mut endpoint = service
            .endpoint_builder()
            .name("echo")
            .add(SUBJECT)
            .await
            .map_err(|e| e.to_string())?;
        confirm_async_nats(&conn).await?;
        let _service = AbortOnDrop(tokio::spawn(async move {
            let _service = service;
            while let Some(request) = endpoint.next().await {
                let payload = request.message.payload.clone();
                if request.respond(Ok(payload)).await.is_err() {
                    break;
                }
            }
        }));

        let requester = async_nats::connect(ctx.url.as_str()).await?;
        let payload = Bytes::from(vec![b'x'; ctx.payload]);
        for _ in 0..WARMUP {
            requester.request(SUBJECT, payload.clone()).await?;
        }
        let mut latencies = Vec::with_capacity(ctx.messages as usize);
        for _ in 0..ctx.messages {
            let t = Instant::now();
            requester.request(SUBJECT, payload.clone()).await?;
            latencies.push(t.elapsed());
        }
        Ok(latency_sample(latencies))
    })
}
