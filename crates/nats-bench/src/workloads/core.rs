//! Core NATS workloads, each written once per client library.
//!
//! Every run opens fresh connections (not timed), warms them up with one
//! confirmation round trip, and then times only the workload itself.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{FutureExt, Stream, StreamExt};
use tokio::task::JoinHandle;

use super::{Ctx, RunFuture, Sample};
use crate::Result;

/// Publish target with no subscribers.
const PUB_SUBJECT: &str = "bench.pub";
/// Publish target of the pub/sub workload.
const PUBSUB_SUBJECT: &str = "bench.pubsub";
/// Where the request/reply responder listens.
pub(crate) const ECHO_SUBJECT: &str = "bench.echo";
/// Nobody ever subscribes here: a request to it comes back as "no responders".
const NOBODY_SUBJECT: &str = "bench.nobody.listens";

/// Untimed requests before the timed ones.
pub(crate) const REQUEST_WARMUP: u64 = 200;
/// Pub/sub: give up once no message arrived for this long after publishing.
const RECEIVE_IDLE_LIMIT: Duration = Duration::from_secs(2);

fn payload(size: usize) -> Bytes {
    Bytes::from(vec![b'x'; size])
}

/// Our confirmation: `flush` is a PING/PONG round trip.
pub(crate) async fn confirm_ours(client: &nats_core::Client) -> Result<()> {
    client.flush().await?;
    Ok(())
}

/// async-nats' `flush` only drains its socket buffer, so confirm with a
/// request nobody answers: the server sends "no responders" only after it
/// processed everything the connection sent before.
pub(crate) async fn confirm_async_nats(client: &async_nats::Client) -> Result<()> {
    match client.request(NOBODY_SUBJECT, Bytes::new()).await {
        Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => Ok(()),
        Err(e) => Err(e.into()),
        Ok(_) => Err(format!("unexpected reply on {NOBODY_SUBJECT}").into()),
    }
}

// ---------------------------------------------------------------- publish

/// `pub-16b` / `pub-1k` with our client.
pub fn publish_ours(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        let client = nats_core::connect(ctx.url.as_str()).await?;
        confirm_ours(&client).await?;
        let payload = payload(ctx.payload);
        let start = Instant::now();
        for _ in 0..ctx.messages {
            client.publish(PUB_SUBJECT, payload.clone()).await?;
        }
        confirm_ours(&client).await?;
        Ok(Sample::rate(ctx.messages, start.elapsed().as_secs_f64()))
    })
}

/// `pub-16b` / `pub-1k` with async-nats.
pub fn publish_async_nats(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        let client = async_nats::connect(ctx.url.as_str()).await?;
        confirm_async_nats(&client).await?;
        let payload = payload(ctx.payload);
        let start = Instant::now();
        for _ in 0..ctx.messages {
            client.publish(PUB_SUBJECT, payload.clone()).await?;
        }
        confirm_async_nats(&client).await?;
        Ok(Sample::rate(ctx.messages, start.elapsed().as_secs_f64()))
    })
}

// ---------------------------------------------------------------- pub/sub

/// What the receiving task shares with the run while it is going.
#[derive(Debug, Default)]
struct Progress {
    /// Messages received so far (updated whenever the stream runs dry and
    /// every 4096 messages).
    received: AtomicU64,
    /// Nanoseconds since the run's epoch at which the last message was seen.
    last_nanos: AtomicU64,
}

/// Counts `expected` messages from `sub`, recording when the last one came.
///
/// A clock read per message would cost a noticeable share of the receive
/// path, so the time is taken only when the stream runs dry (the queue is
/// empty right after the message just counted) and at the very last message.
fn spawn_receiver<S>(
    mut sub: S,
    expected: u64,
    epoch: Instant,
    progress: Arc<Progress>,
) -> JoinHandle<()>
where
    S: Stream + Unpin + Send + 'static,
    S::Item: Send,
{
    tokio::spawn(async move {
        let mut count = 0u64;
        loop {
            let next = match sub.next().now_or_never() {
                Some(next) => next,
                None => {
                    let nanos = epoch.elapsed().as_nanos() as u64;
                    progress.last_nanos.store(nanos, Ordering::Relaxed);
                    progress.received.store(count, Ordering::Release);
                    sub.next().await
                }
            };
            if next.is_none() {
                break;
            }
            count += 1;
            if count == expected {
                let nanos = epoch.elapsed().as_nanos() as u64;
                progress.last_nanos.store(nanos, Ordering::Relaxed);
                progress.received.store(count, Ordering::Release);
                break;
            }
            if count.is_multiple_of(4096) {
                progress.received.store(count, Ordering::Release);
            }
        }
    })
}

/// Waits for the receiver to finish or to stall, then turns its progress into
/// a sample (rate from `start` to the last message received, plus drops).
async fn finish_pubsub(
    mut receiver: JoinHandle<()>,
    progress: &Progress,
    expected: u64,
    epoch: Instant,
    start: Instant,
) -> Result<Sample> {
    let poll = Duration::from_millis(100);
    let mut last_seen = progress.received.load(Ordering::Acquire);
    let mut idle = Duration::ZERO;
    loop {
        match tokio::time::timeout(poll, &mut receiver).await {
            Ok(joined) => {
                joined?;
                break;
            }
            Err(_) => {
                let now = progress.received.load(Ordering::Acquire);
                if now == last_seen {
                    idle += poll;
                    if idle >= RECEIVE_IDLE_LIMIT {
                        receiver.abort();
                        break;
                    }
                } else {
                    last_seen = now;
                    idle = Duration::ZERO;
                }
            }
        }
    }
    let received = progress.received.load(Ordering::Acquire);
    let last = epoch + Duration::from_nanos(progress.last_nanos.load(Ordering::Relaxed));
    let seconds = last.saturating_duration_since(start).as_secs_f64();
    let mut sample = Sample::rate(received, seconds);
    sample.drops = Some(expected.saturating_sub(received));
    Ok(sample)
}

/// `pubsub-16b` with our client.
pub fn pubsub_ours(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        let subscriber = nats_core::connect(ctx.url.as_str()).await?;
        let publisher = nats_core::connect(ctx.url.as_str()).await?;
        let sub = subscriber.subscribe(PUBSUB_SUBJECT).await?;
        confirm_ours(&subscriber).await?;
        confirm_ours(&publisher).await?;

        let payload = payload(ctx.payload);
        let progress = Arc::new(Progress::default());
        let epoch = Instant::now();
        let receiver = spawn_receiver(sub, ctx.messages, epoch, progress.clone());
        let start = Instant::now();
        for _ in 0..ctx.messages {
            publisher.publish(PUBSUB_SUBJECT, payload.clone()).await?;
        }
        confirm_ours(&publisher).await?;
        finish_pubsub(receiver, &progress, ctx.messages, epoch, start).await
    })
}

/// `pubsub-16b` with async-nats.
pub fn pubsub_async_nats(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        let subscriber = async_nats::connect(ctx.url.as_str()).await?;
        let publisher = async_nats::connect(ctx.url.as_str()).await?;
        let sub = subscriber.subscribe(PUBSUB_SUBJECT).await?;
        confirm_async_nats(&subscriber).await?;
        confirm_async_nats(&publisher).await?;

        let payload = payload(ctx.payload);
        let progress = Arc::new(Progress::default());
        let epoch = Instant::now();
        let receiver = spawn_receiver(sub, ctx.messages, epoch, progress.clone());
        let start = Instant::now();
        for _ in 0..ctx.messages {
            publisher.publish(PUBSUB_SUBJECT, payload.clone()).await?;
        }
        confirm_async_nats(&publisher).await?;
        finish_pubsub(receiver, &progress, ctx.messages, epoch, start).await
    })
}

// ---------------------------------------------------------------- request/reply

/// Nearest-rank percentile of sorted durations, in microseconds.
fn percentile_us(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    let idx = rank.clamp(1, sorted.len()) - 1;
    sorted[idx].as_secs_f64() * 1e6
}

pub(crate) fn latency_sample(mut latencies: Vec<Duration>) -> Sample {
    latencies.sort_unstable();
    Sample {
        values: vec![
            percentile_us(&latencies, 0.50),
            percentile_us(&latencies, 0.99),
        ],
        ..Sample::default()
    }
}

/// Aborts a responder or service task when the run ends, however it ends.
pub(crate) struct AbortOnDrop(pub(crate) JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// `req-reply` with our client.
pub fn req_reply_ours(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        let responder = nats_core::connect(ctx.url.as_str()).await?;
        let mut sub = responder.subscribe(ECHO_SUBJECT).await?;
        confirm_ours(&responder).await?;
        let _responder = AbortOnDrop(tokio::spawn(async move {
            while let Some(msg) = sub.next().await {
                if let Some(reply) = msg.reply {
                    if responder.publish(reply, msg.payload).await.is_err() {
                        break;
                    }
                }
            }
        }));

        let requester = nats_core::connect(ctx.url.as_str()).await?;
        let payload = payload(ctx.payload);
        for _ in 0..REQUEST_WARMUP {
            requester.request(ECHO_SUBJECT, payload.clone()).await?;
        }
        let mut latencies = Vec::with_capacity(ctx.messages as usize);
        for _ in 0..ctx.messages {
            let t = Instant::now();
            requester.request(ECHO_SUBJECT, payload.clone()).await?;
            latencies.push(t.elapsed());
        }
        Ok(latency_sample(latencies))
    })
}

/// `req-reply` with async-nats.
pub fn req_reply_async_nats(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        let responder = async_nats::connect(ctx.url.as_str()).await?;
        let mut sub = responder.subscribe(ECHO_SUBJECT).await?;
        confirm_async_nats(&responder).await?;
        let _responder = AbortOnDrop(tokio::spawn(async move {
            while let Some(msg) = sub.next().await {
                if let Some(reply) = msg.reply {
                    if responder.publish(reply, msg.payload).await.is_err() {
                        break;
                    }
                }
            }
        }));

        let requester = async_nats::connect(ctx.url.as_str()).await?;
        let payload = payload(ctx.payload);
        for _ in 0..REQUEST_WARMUP {
            requester.request(ECHO_SUBJECT, payload.clone()).await?;
        }
        let mut latencies = Vec::with_capacity(ctx.messages as usize);
        for _ in 0..ctx.messages {
            let t = Instant::now();
            requester.request(ECHO_SUBJECT, payload.clone()).await?;
            latencies.push(t.elapsed());
        }
        Ok(latency_sample(latencies))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let d: Vec<Duration> = (1..=100).map(Duration::from_micros).collect();
        assert_eq!(percentile_us(&d, 0.50), 50.0);
        assert_eq!(percentile_us(&d, 0.99), 99.0);
        assert_eq!(percentile_us(&d[..1], 0.99), 1.0);
    }
}
