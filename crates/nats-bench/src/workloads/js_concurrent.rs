//! `consume_concurrent` workloads: a durable AckExplicit pull consumer whose
//! handler awaits about 1 ms (standing in for a call to another service) and
//! then acks, with up to `n` handlers at once. Our client only: async-nats has
//! no counterpart (its users spawn tasks themselves).
//!
//! The stream is filled once per workload (untimed, as for `js-consume-*`);
//! each run reads all of it through a fresh durable consumer. The clock runs
//! from starting the loop until every handler acked and the server has read
//! the last ack (`flush`). Throughput is bounded by `n / 1 ms` until the
//! client, the server or the timer resolution of the runtime takes over.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jetstream::AckPolicy;

use super::core::confirm_ours;
use super::js_common::{create_durable, delete_durable, CONSUME_STREAM};
use super::{Ctx, RunFuture, Sample};
use crate::Result;

/// What each handler awaits before acking.
const HANDLER_WAIT: Duration = Duration::from_millis(1);

async fn run(ctx: Ctx, n: usize) -> Result<Sample> {
    let name = create_durable(&ctx.url, AckPolicy::Explicit).await?;
    let client = nats_core::connect(ctx.url.as_str()).await?;
    let js = jetstream::new(client.clone());
    let consumer = js.consumer(CONSUME_STREAM, &name).await?;
    let acked = Arc::new(AtomicU64::new(0));
    let done = Arc::new(tokio::sync::Notify::new());
    let total = ctx.messages;

    let start = Instant::now();
    let (counter, notify) = (acked.clone(), done.clone());
    let loop_ctx = consumer
        .consume_concurrent(n, move |msg| {
            let (counter, notify) = (counter.clone(), notify.clone());
            async move {
                tokio::time::sleep(HANDLER_WAIT).await;
                if msg.ack().await.is_ok() && counter.fetch_add(1, Ordering::Relaxed) + 1 == total {
                    notify.notify_one();
                }
            }
        })
        .await?;
    // Bounded: a run that stalls fails instead of hanging the bench.
    let limit = Duration::from_secs(120);
    tokio::time::timeout(limit, done.notified())
        .await
        .map_err(|_| {
            format!(
                "{} of {total} messages handled in {limit:?}",
                acked.load(Ordering::Relaxed)
            )
        })?;
    confirm_ours(&client).await?;
    let seconds = start.elapsed().as_secs_f64();

    loop_ctx.drain().await;
    delete_durable(&ctx.url, &name).await?;
    Ok(Sample::rate(total, seconds))
}

macro_rules! concurrent_variants {
    ($($name:ident, $n:expr;)*) => {$(
        #[doc = concat!("`consume_concurrent(", stringify!($n), ")`, our client.")]
        pub fn $name(ctx: Ctx) -> RunFuture {
            Box::pin(run(ctx, $n))
        }
    )*};
}

concurrent_variants! {
    n1, 1;
    n8, 8;
    n64, 64;
    n512, 512;
}
