//! JetStream publish workloads: synchronous publishes (latency), async
//! publishes with a bounded ack window (throughput), and the raw-TCP ceiling
//! of the latter.
//!
//! Every run gets a freshly recreated stream (untimed, via our client on an
//! admin connection), opens its own connection, warms it up with one
//! synchronous publish, and is checked afterwards: the stream must hold every
//! message published.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jetstream::{JetStreamOptions, StorageType};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::Notify;

use super::core::latency_sample;
use super::js_common::{
    expect_stream_messages, payload, raw_subscribed, reset_stream, AckWindow, Frame, FrameReader,
    PUB_FILTER, PUB_STREAM, PUB_SUBJECT,
};
use super::{Ctx, RunFuture, Sample};
use crate::Result;

/// Untimed synchronous publishes before the timed ones (`js-pub-sync`).
const SYNC_WARMUP: u64 = 200;

/// Recreates the publish stream, empty.
async fn fresh_stream(ctx: &Ctx, storage: StorageType) -> Result<()> {
    reset_stream(&ctx.url, PUB_STREAM, PUB_FILTER, storage).await
}

// ---------------------------------------------------------------- sync

/// Times `messages` sequential publishes, each awaited to its ack.
async fn timed_sync<F, Fut>(messages: u64, mut publish: F) -> Result<Sample>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let mut latencies = Vec::with_capacity(messages as usize);
    let start = Instant::now();
    for _ in 0..messages {
        let t = Instant::now();
        publish().await?;
        latencies.push(t.elapsed());
    }
    let seconds = start.elapsed().as_secs_f64();
    let mut sample = latency_sample(latencies);
    sample.values.insert(0, messages as f64 / seconds.max(1e-9));
    Ok(sample)
}

/// `js-pub-sync` with our client.
pub fn sync_ours(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        fresh_stream(&ctx, StorageType::File).await?;
        let client = nats_core::connect(ctx.url.as_str()).await?;
        let js = jetstream::new(client);
        let payload = payload(ctx.payload);
        for _ in 0..SYNC_WARMUP {
            js.publish(PUB_SUBJECT, payload.clone()).await?;
        }
        let sample = timed_sync(ctx.messages, || {
            let publish = js.publish(PUB_SUBJECT, payload.clone());
            async move {
                publish.await?;
                Ok(())
            }
        })
        .await?;
        expect_stream_messages(&ctx.url, PUB_STREAM, SYNC_WARMUP + ctx.messages).await?;
        Ok(sample)
    })
}

/// `js-pub-sync` with async-nats.
pub fn sync_async_nats(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        fresh_stream(&ctx, StorageType::File).await?;
        let client = async_nats::connect(ctx.url.as_str()).await?;
        let js = async_nats::jetstream::new(client);
        let payload = payload(ctx.payload);
        for _ in 0..SYNC_WARMUP {
            js.publish(PUB_SUBJECT, payload.clone()).await?.await?;
        }
        let sample = timed_sync(ctx.messages, || {
            let js = &js;
            let payload = payload.clone();
            async move {
                js.publish(PUB_SUBJECT, payload).await?.await?;
                Ok(())
            }
        })
        .await?;
        expect_stream_messages(&ctx.url, PUB_STREAM, SYNC_WARMUP + ctx.messages).await?;
        Ok(sample)
    })
}

/// `js-pub-sync` without a client library, the floor of its latency: one
/// pre-encoded `PUB js.bench.pub _INBOX.sync 128` frame written to a raw TCP
/// socket at a time, and the ack (`MSG` on `_INBOX.sync`) read back.
pub fn sync_wire(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        fresh_stream(&ctx, StorageType::File).await?;
        let (mut write, mut reader) = raw_subscribed(&ctx.url, "_INBOX.sync").await?;
        let mut frame = format!("PUB {PUB_SUBJECT} _INBOX.sync {}\r\n", ctx.payload).into_bytes();
        frame.extend_from_slice(&payload(ctx.payload));
        frame.extend_from_slice(b"\r\n");
        for _ in 0..SYNC_WARMUP {
            wire_sync_publish(&mut write, &mut reader, &frame).await?;
        }
        let mut latencies = Vec::with_capacity(ctx.messages as usize);
        let start = Instant::now();
        for _ in 0..ctx.messages {
            let t = Instant::now();
            wire_sync_publish(&mut write, &mut reader, &frame).await?;
            latencies.push(t.elapsed());
        }
        let seconds = start.elapsed().as_secs_f64();
        let mut sample = latency_sample(latencies);
        sample
            .values
            .insert(0, ctx.messages as f64 / seconds.max(1e-9));
        expect_stream_messages(&ctx.url, PUB_STREAM, SYNC_WARMUP + ctx.messages).await?;
        Ok(sample)
    })
}

/// Writes one publish frame and reads until its ack.
async fn wire_sync_publish(
    write: &mut OwnedWriteHalf,
    reader: &mut FrameReader<OwnedReadHalf>,
    frame: &[u8],
) -> Result<()> {
    write.write_all(frame).await?;
    let mut acked = false;
    while !acked {
        reader
            .read_frames(|f| {
                if let Frame::Msg { payload, .. } = f {
                    if payload.starts_with(b"{\"error\"") {
                        return Err(format!(
                            "publish refused: {}",
                            String::from_utf8_lossy(payload)
                        )
                        .into());
                    }
                    acked = true;
                }
                Ok(())
            })
            .await?;
    }
    Ok(())
}

// ---------------------------------------------------------------- async

async fn async_ours(ctx: Ctx, storage: StorageType, window: usize) -> Result<Sample> {
    fresh_stream(&ctx, storage).await?;
    let client = nats_core::connect(ctx.url.as_str()).await?;
    let js = jetstream::with_options(
        client,
        JetStreamOptions {
            max_pending_acks: window,
            ..Default::default()
        },
    );
    let payload = payload(ctx.payload);
    js.publish(PUB_SUBJECT, payload.clone()).await?;
    let mut acks = AckWindow::new(window);
    let start = Instant::now();
    for _ in 0..ctx.messages {
        acks.make_room().await?;
        acks.push(js.publish_async(PUB_SUBJECT, payload.clone()).await?);
    }
    acks.finish().await?;
    let seconds = start.elapsed().as_secs_f64();
    expect_stream_messages(&ctx.url, PUB_STREAM, 1 + ctx.messages).await?;
    Ok(Sample::rate(ctx.messages, seconds))
}

async fn async_async_nats(ctx: Ctx, storage: StorageType, window: usize) -> Result<Sample> {
    fresh_stream(&ctx, storage).await?;
    let client = async_nats::connect(ctx.url.as_str()).await?;
    let js = async_nats::jetstream::context::ContextBuilder::new()
        .max_ack_inflight(window)
        .backpressure_on_inflight(true)
        .build(client);
    let payload = payload(ctx.payload);
    js.publish(PUB_SUBJECT, payload.clone()).await?.await?;
    let mut acks = AckWindow::new(window);
    let start = Instant::now();
    for _ in 0..ctx.messages {
        acks.make_room().await?;
        let ack = js.publish(PUB_SUBJECT, payload.clone()).await?;
        acks.push(std::future::IntoFuture::into_future(ack));
    }
    acks.finish().await?;
    let seconds = start.elapsed().as_secs_f64();
    expect_stream_messages(&ctx.url, PUB_STREAM, 1 + ctx.messages).await?;
    Ok(Sample::rate(ctx.messages, seconds))
}

macro_rules! async_variants {
    ($($ours:ident, $theirs:ident, $storage:expr, $window:expr;)*) => {$(
        #[doc = concat!("`", stringify!($ours), "`: async publish, our client.")]
        pub fn $ours(ctx: Ctx) -> RunFuture {
            Box::pin(async_ours(ctx, $storage, $window))
        }

        #[doc = concat!("`", stringify!($theirs), "`: async publish, async-nats.")]
        pub fn $theirs(ctx: Ctx) -> RunFuture {
            Box::pin(async_async_nats(ctx, $storage, $window))
        }
    )*};
}

async_variants! {
    async_file_4096_ours, async_file_4096_async_nats, StorageType::File, 4096;
    async_file_256_ours, async_file_256_async_nats, StorageType::File, 256;
    async_mem_4096_ours, async_mem_4096_async_nats, StorageType::Memory, 4096;
    async_mem_256_ours, async_mem_256_async_nats, StorageType::Memory, 256;
}

// ---------------------------------------------------------------- wire limit

/// Window of the raw ceiling: acks outstanding at most.
const WIRE_WINDOW: u64 = 4096;
/// Largest single write of the raw ceiling.
const WIRE_MAX_WRITE: usize = 1024 * 1024;

/// `js-wire-limit-pub`: pre-encoded `PUB js.bench.pub _INBOX.bench.<n> 128`
/// frames written straight to a TCP socket in large chunks, at most
/// [`WIRE_WINDOW`] acks outstanding; a reader task counts the acks (`MSG` on
/// `_INBOX.bench.*`). Memory stream.
pub fn wire_limit(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        reset_stream(&ctx.url, PUB_STREAM, PUB_FILTER, StorageType::Memory).await?;
        let seconds = wire_publish(&ctx.url, PUB_SUBJECT, ctx.messages, ctx.payload).await?;
        expect_stream_messages(&ctx.url, PUB_STREAM, ctx.messages).await?;
        Ok(Sample::rate(ctx.messages, seconds))
    })
}

/// The raw-TCP contender of `js-pub-async-file-4096`: [`wire_limit`] against
/// a file stream, the ceiling for file-backed publishing.
pub fn wire_limit_file(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        reset_stream(&ctx.url, PUB_STREAM, PUB_FILTER, StorageType::File).await?;
        let seconds = wire_publish(&ctx.url, PUB_SUBJECT, ctx.messages, ctx.payload).await?;
        expect_stream_messages(&ctx.url, PUB_STREAM, ctx.messages).await?;
        Ok(Sample::rate(ctx.messages, seconds))
    })
}

/// Publishes `n` messages of `size` bytes to `subject` the raw way (see
/// [`wire_limit`]) and returns the seconds from the first write to the last
/// ack. Also used to fill the consume stream: its few large buffers go back
/// to the OS when freed, so the process heap stays as it was (which keeps the
/// RSS sampling of the consume runs meaningful).
pub async fn wire_publish(url: &str, subject: &str, n: u64, size: usize) -> Result<f64> {
    let (mut write, mut reader) = raw_subscribed(url, "_INBOX.bench.*").await?;

    // Encode every frame up front (not timed): replies differ per message.
    let body = payload(size);
    let mut frames = Vec::with_capacity(n as usize * (size + subject.len() + 40));
    let mut offsets = Vec::with_capacity(n as usize + 1);
    offsets.push(0);
    for i in 0..n {
        frames.extend_from_slice(format!("PUB {subject} _INBOX.bench.{i} {size}\r\n").as_bytes());
        frames.extend_from_slice(&body);
        frames.extend_from_slice(b"\r\n");
        offsets.push(frames.len());
    }

    let acked = Arc::new(AtomicU64::new(0));
    let progress = Arc::new(Notify::new());
    let mut counter = tokio::spawn({
        let acked = acked.clone();
        let progress = progress.clone();
        async move {
            let mut count = 0u64;
            while count < n {
                let mut failed = None;
                reader
                    .read_frames(|f| {
                        if let Frame::Msg { payload, .. } = f {
                            if payload.starts_with(b"{\"error\"") && failed.is_none() {
                                failed = Some(String::from_utf8_lossy(payload).into_owned());
                            }
                            count += 1;
                        }
                        Ok(())
                    })
                    .await?;
                if let Some(e) = failed {
                    return Err(format!("publish refused: {e}").into());
                }
                acked.store(count, Ordering::Release);
                progress.notify_one();
            }
            Result::<()>::Ok(())
        }
    });

    let start = Instant::now();
    let mut sent = 0u64;
    while sent < n || acked.load(Ordering::Acquire) < n {
        let done = acked.load(Ordering::Acquire);
        let room = (done + WIRE_WINDOW).saturating_sub(sent).min(n - sent);
        if room == 0 {
            tokio::select! {
                _ = progress.notified() => {}
                r = &mut counter => {
                    r??;
                    break;
                }
            }
            continue;
        }
        let from = offsets[sent as usize];
        let mut upto = sent + room;
        while upto > sent + 1 && offsets[upto as usize] - from > WIRE_MAX_WRITE {
            upto = sent + (upto - sent) / 2;
        }
        write
            .write_all(&frames[from..offsets[upto as usize]])
            .await?;
        sent = upto;
    }
    let seconds = start.elapsed().as_secs_f64();
    if !counter.is_finished() {
        tokio::time::timeout(Duration::from_secs(5), counter).await???;
    }
    Ok(seconds)
}
