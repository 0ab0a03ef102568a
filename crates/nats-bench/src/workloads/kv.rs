//! Key/Value workloads: sequential puts and gets (rate and latency), gets
//! with 64 in flight, and a watcher receiving a stream of updates.
//!
//! Buckets use the server-side defaults both clients apply (file storage,
//! history 1, direct gets allowed). `kv-put-seq` and `kv-watch` start every
//! run on an empty bucket; the get workloads fill theirs once per workload
//! (a `setup` step, with our client, pipelined async publishes) and every run
//! opens it with the client under test. Keys and subjects are formatted before
//! the clock starts.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use jetstream::{ErrorKind, JetStreamOptions, KeyValueConfig};

use super::core::latency_sample;
use super::js_common::{payload, stream_messages, AckWindow};
use super::{Ctx, RunFuture, Sample, SetupFuture};
use crate::Result;

/// The bucket of `kv-put-seq` (emptied before every run).
pub(super) const PUT_BUCKET: &str = "bench_put";
/// The bucket of the get workloads (filled once per workload).
pub(super) const GET_BUCKET: &str = "bench_get";
/// The bucket of `kv-watch` (emptied before every run).
pub(super) const WATCH_BUCKET: &str = "bench_watch";

/// Untimed operations on a fresh connection before the timed ones.
pub(super) const WARMUP: u64 = 100;
/// Gets in flight at once in `kv-get-concurrent`.
pub const CONCURRENCY: usize = 64;
/// `kv-get-concurrent` reads `messages / KEYS_DIVISOR` distinct keys over and
/// over (100k gets over 20k keys).
const KEYS_DIVISOR: u64 = 5;
/// Async publishes in flight while filling or writing to a bucket.
const PUBLISH_WINDOW: usize = 4096;
/// A watcher that has received nothing for this long is stuck.
const WATCH_IDLE: Duration = Duration::from_secs(10);

/// The `i`-th key.
pub(super) fn key(i: u64) -> String {
    format!("k{i:06}")
}

/// Keys `0..n`.
pub(super) fn keys(n: u64) -> Vec<String> {
    (0..n).map(key).collect()
}

/// A fresh admin connection of our client.
async fn admin(url: &str) -> Result<(nats_core::Client, jetstream::JetStream)> {
    let client = nats_core::connect(url).await?;
    let js = jetstream::new(client.clone());
    Ok((client, js))
}

/// Deletes `bucket` if it exists (our client, admin connection).
async fn delete_bucket(url: &str, bucket: &str) -> Result<()> {
    let (client, js) = admin(url).await?;
    match js.delete_key_value(bucket).await {
        Ok(()) => {}
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::BucketNotFound | ErrorKind::StreamNotFound
            ) => {}
        Err(e) => return Err(e.into()),
    }
    client.close().await;
    Ok(())
}

/// Deletes and recreates `bucket`, empty (our client, admin connection).
pub(super) async fn reset_bucket(url: &str, bucket: &str) -> Result<()> {
    delete_bucket(url, bucket).await?;
    let (client, js) = admin(url).await?;
    js.create_key_value(KeyValueConfig {
        bucket: bucket.to_string(),
        ..Default::default()
    })
    .await?;
    client.close().await;
    Ok(())
}

/// Fails unless the stream behind `bucket` holds `expected` entries.
pub(super) async fn expect_entries(url: &str, bucket: &str, expected: u64) -> Result<()> {
    let stored = stream_messages(url, &format!("KV_{bucket}")).await?;
    if stored != expected {
        return Err(format!("bucket {bucket} holds {stored} entries, expected {expected}").into());
    }
    Ok(())
}

/// Publishes `count` values to `subjects` (round robin) with our client's
/// async publish, at most [`PUBLISH_WINDOW`] acks outstanding, and waits for
/// every ack. Returns when the last ack arrived.
async fn publish_pipelined(
    js: &jetstream::JetStream,
    subjects: &[String],
    count: u64,
    value: &Bytes,
) -> Result<()> {
    let mut acks = AckWindow::new(PUBLISH_WINDOW);
    for i in 0..count {
        acks.make_room().await?;
        let subject = &subjects[(i % subjects.len() as u64) as usize];
        acks.push(js.publish_async(subject, value.clone()).await?);
    }
    acks.finish().await
}

/// A JetStream context of our client with a [`PUBLISH_WINDOW`] ack window.
async fn publisher(url: &str) -> Result<(nats_core::Client, jetstream::JetStream)> {
    let client = nats_core::connect(url).await?;
    let js = jetstream::with_options(
        client.clone(),
        JetStreamOptions {
            max_pending_acks: PUBLISH_WINDOW,
            ..Default::default()
        },
    );
    Ok((client, js))
}

/// Times `ops` sequential operations, each awaited; rate, p50 and p99.
async fn timed_sequential<F, Fut>(ops: u64, mut op: F) -> Result<Sample>
where
    F: FnMut(u64) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let mut latencies = Vec::with_capacity(ops as usize);
    let start = Instant::now();
    for i in 0..ops {
        let t = Instant::now();
        op(i).await?;
        latencies.push(t.elapsed());
    }
    let seconds = start.elapsed().as_secs_f64();
    let mut sample = latency_sample(latencies);
    sample.values.insert(0, ops as f64 / seconds.max(1e-9));
    Ok(sample)
}

pub(super) fn check_value(len: usize, expected: usize) -> Result<()> {
    if len != expected {
        return Err(format!("got a {len} B value, expected {expected} B").into());
    }
    Ok(())
}

// ---------------------------------------------------------------- put

/// `kv-put-seq` with our client.
pub fn put_seq_ours(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        delete_bucket(&ctx.url, PUT_BUCKET).await?;
        let keys = keys(ctx.messages);
        let value = payload(ctx.payload);
        let client = nats_core::connect(ctx.url.as_str()).await?;
        let js = jetstream::new(client.clone());
        let kv = js
            .create_key_value(KeyValueConfig {
                bucket: PUT_BUCKET.to_string(),
                ..Default::default()
            })
            .await?;
        for i in 0..WARMUP {
            kv.put(format!("warm{i}"), value.clone()).await?;
        }
        let sample = timed_sequential(ctx.messages, |i| {
            let put = kv.put(&keys[i as usize], value.clone());
            async move {
                put.await?;
                Ok(())
            }
        })
        .await?;
        client.close().await;
        expect_entries(&ctx.url, PUT_BUCKET, WARMUP + ctx.messages).await?;
        Ok(sample)
    })
}

/// `kv-put-seq` with async-nats.
pub fn put_seq_async_nats(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        delete_bucket(&ctx.url, PUT_BUCKET).await?;
        let keys = keys(ctx.messages);
        let value = payload(ctx.payload);
        let client = async_nats::connect(ctx.url.as_str()).await?;
        let js = async_nats::jetstream::new(client);
        let kv = js
            .create_key_value(async_nats::jetstream::kv::Config {
                bucket: PUT_BUCKET.to_string(),
                ..Default::default()
            })
            .await?;
        for i in 0..WARMUP {
            kv.put(format!("warm{i}"), value.clone()).await?;
        }
        let sample = timed_sequential(ctx.messages, |i| {
            let kv = &kv;
            let key = &keys[i as usize];
            let value = value.clone();
            async move {
                kv.put(key, value).await?;
                Ok(())
            }
        })
        .await?;
        expect_entries(&ctx.url, PUT_BUCKET, WARMUP + ctx.messages).await?;
        Ok(sample)
    })
}

// ---------------------------------------------------------------- get

/// How many distinct keys a get workload reads: all of its gets for
/// `kv-get-seq`, a fifth of them for `kv-get-concurrent`.
pub(super) fn get_keys(ctx: &Ctx, concurrent: bool) -> u64 {
    if concurrent {
        (ctx.messages / KEYS_DIVISOR).max(1)
    } else {
        ctx.messages
    }
}

async fn fill_get_bucket(ctx: Ctx, concurrent: bool) -> Result<()> {
    reset_bucket(&ctx.url, GET_BUCKET).await?;
    let n = get_keys(&ctx, concurrent);
    let subjects: Vec<String> = (0..n)
        .map(|i| format!("$KV.{GET_BUCKET}.{}", key(i)))
        .collect();
    let (client, js) = publisher(&ctx.url).await?;
    publish_pipelined(&js, &subjects, n, &payload(ctx.payload)).await?;
    client.close().await;
    expect_entries(&ctx.url, GET_BUCKET, n).await
}

/// Fills the bucket of `kv-get-seq` (once per workload).
pub fn setup_get_seq(ctx: Ctx) -> SetupFuture {
    Box::pin(fill_get_bucket(ctx, false))
}

/// Fills the bucket of `kv-get-concurrent` (once per workload).
pub fn setup_get_concurrent(ctx: Ctx) -> SetupFuture {
    Box::pin(fill_get_bucket(ctx, true))
}

/// `kv-get-seq` with our client.
pub fn get_seq_ours(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        let keys = keys(get_keys(&ctx, false));
        let client = nats_core::connect(ctx.url.as_str()).await?;
        let js = jetstream::new(client.clone());
        let kv = js.key_value(GET_BUCKET).await?;
        for i in 0..WARMUP {
            kv.get(&keys[i as usize % keys.len()]).await?;
        }
        let size = ctx.payload;
        let sample = timed_sequential(ctx.messages, |i| {
            let get = kv.get(&keys[i as usize]);
            async move { check_value(get.await?.value().len(), size) }
        })
        .await?;
        client.close().await;
        Ok(sample)
    })
}

/// `kv-get-seq` with async-nats (`get`, the value only).
pub fn get_seq_async_nats(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        let keys = keys(get_keys(&ctx, false));
        let client = async_nats::connect(ctx.url.as_str()).await?;
        let js = async_nats::jetstream::new(client);
        let kv = js.get_key_value(GET_BUCKET).await?;
        for i in 0..WARMUP {
            kv.get(keys[i as usize % keys.len()].as_str()).await?;
        }
        let size = ctx.payload;
        let sample = timed_sequential(ctx.messages, |i| {
            let kv = &kv;
            let key = keys[i as usize].as_str();
            async move {
                let value = kv.get(key).await?.ok_or("key not found")?;
                check_value(value.len(), size)
            }
        })
        .await?;
        Ok(sample)
    })
}

/// `kv-get-concurrent` with our client.
pub fn get_concurrent_ours(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        let keys = keys(get_keys(&ctx, true));
        let client = nats_core::connect(ctx.url.as_str()).await?;
        let js = jetstream::new(client.clone());
        let kv = js.key_value(GET_BUCKET).await?;
        for i in 0..WARMUP {
            kv.get(&keys[i as usize % keys.len()]).await?;
        }
        let n = keys.len();
        let start = Instant::now();
        let mut gets = futures_util::stream::iter(0..ctx.messages as usize)
            .map(|i| kv.get(&keys[i % n]))
            .buffer_unordered(CONCURRENCY);
        let mut done = 0u64;
        while let Some(entry) = gets.next().await {
            check_value(entry?.value().len(), ctx.payload)?;
            done += 1;
        }
        let seconds = start.elapsed().as_secs_f64();
        drop(gets);
        client.close().await;
        Ok(Sample::rate(done, seconds))
    })
}

/// `kv-get-concurrent` with async-nats.
pub fn get_concurrent_async_nats(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        let keys = keys(get_keys(&ctx, true));
        let client = async_nats::connect(ctx.url.as_str()).await?;
        let js = async_nats::jetstream::new(client);
        let kv = js.get_key_value(GET_BUCKET).await?;
        for i in 0..WARMUP {
            kv.get(keys[i as usize % keys.len()].as_str()).await?;
        }
        let n = keys.len();
        let start = Instant::now();
        let mut gets = futures_util::stream::iter(0..ctx.messages as usize)
            .map(|i| kv.get(keys[i % n].as_str()))
            .buffer_unordered(CONCURRENCY);
        let mut done = 0u64;
        while let Some(value) = gets.next().await {
            check_value(value?.ok_or("key not found")?.len(), ctx.payload)?;
            done += 1;
        }
        let seconds = start.elapsed().as_secs_f64();
        Ok(Sample::rate(done, seconds))
    })
}

// ---------------------------------------------------------------- watch

/// The publishing side of `kv-watch`, the same for both watchers: our client
/// on a connection of its own, async publishes to `$KV.<bucket>.<key>`, at
/// most [`PUBLISH_WINDOW`] acks outstanding. Every update goes to a key of
/// its own: with history 1 an overwritten value is gone from the stream, so a
/// watcher lagging behind by more than the number of keys would never see
/// some updates (it gets the latest value only) and the count would stall.
/// Returns when it started publishing.
async fn watch_publisher(url: String, count: u64, size: usize) -> Result<Instant> {
    let subjects: Vec<String> = (0..count)
        .map(|i| format!("$KV.{WATCH_BUCKET}.{}", key(i)))
        .collect();
    let value = payload(size);
    let (client, js) = publisher(&url).await?;
    // Warm the connection up (a request round trip) before the clock.
    client.flush().await?;
    let start = Instant::now();
    publish_pipelined(&js, &subjects, count, &value).await?;
    client.close().await;
    Ok(start)
}

/// What both watchers share: the publisher, spawned once the watcher is
/// ready (its consumer created); `receive` counts entries until
/// `ctx.messages` and returns when it saw the last one.
pub(super) async fn timed_watch<F>(ctx: &Ctx, receive: F) -> Result<Sample>
where
    F: std::future::Future<Output = Result<Instant>>,
{
    let publisher = tokio::spawn(watch_publisher(ctx.url.clone(), ctx.messages, ctx.payload));
    let end = receive.await;
    let start = publisher.await??;
    let end = end?;
    let seconds = end.saturating_duration_since(start).as_secs_f64();
    Ok(Sample::rate(ctx.messages, seconds))
}

/// The last sequence of `stream` (how many publishes it took).
async fn last_sequence(url: &str, stream: &str) -> Result<u64> {
    let (client, js) = admin(url).await?;
    let info = js.stream(stream).await?.info().await?;
    client.close().await;
    Ok(info.state.last_seq)
}

/// The error of a watcher that stopped yielding entries, with how many the
/// bucket holds (to tell a stuck watcher from a stuck publisher).
async fn watch_stalled(url: &str, received: u64, expected: u64) -> crate::Error {
    let last = match last_sequence(url, &format!("KV_{WATCH_BUCKET}")).await {
        Ok(n) => n.to_string(),
        Err(e) => format!("? ({e})"),
    };
    format!(
        "the watcher saw {received} of {expected} updates, then nothing for {WATCH_IDLE:?} \
         (the bucket's last revision is {last})"
    )
    .into()
}

/// `kv-watch` with our client: `watch_all()` on an empty bucket, its initial
/// `Ok(None)` marker taken before the clock starts.
pub fn watch_ours(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        reset_bucket(&ctx.url, WATCH_BUCKET).await?;
        let client = nats_core::connect(ctx.url.as_str()).await?;
        let js = jetstream::new(client.clone());
        let kv = js.key_value(WATCH_BUCKET).await?;
        let mut watcher = kv.watch_all().await?;
        match tokio::time::timeout(WATCH_IDLE, watcher.next()).await {
            Ok(Some(Ok(None))) => {}
            other => return Err(format!("expected the initial marker, got {other:?}").into()),
        }
        let expected = ctx.messages;
        let url = ctx.url.clone();
        let sample = timed_watch(&ctx, async move {
            let mut received = 0u64;
            while received < expected {
                let Ok(item) = tokio::time::timeout(WATCH_IDLE, watcher.next()).await else {
                    return Err(watch_stalled(&url, received, expected).await);
                };
                if item.ok_or("the watcher ended")??.is_some() {
                    received += 1;
                }
            }
            Ok(Instant::now())
        })
        .await?;
        client.close().await;
        Ok(sample)
    })
}

/// `kv-watch` with async-nats: `watch_all()` on an empty bucket.
pub fn watch_async_nats(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        reset_bucket(&ctx.url, WATCH_BUCKET).await?;
        let client = async_nats::connect(ctx.url.as_str()).await?;
        let js = async_nats::jetstream::new(client);
        let kv = js.get_key_value(WATCH_BUCKET).await?;
        let mut watcher = kv.watch_all().await?;
        let expected = ctx.messages;
        let url = ctx.url.clone();
        timed_watch(&ctx, async move {
            let mut received = 0u64;
            while received < expected {
                let Ok(item) = tokio::time::timeout(WATCH_IDLE, watcher.next()).await else {
                    return Err(watch_stalled(&url, received, expected).await);
                };
                item.ok_or("the watcher ended")??;
                received += 1;
            }
            Ok(Instant::now())
        })
        .await
    })
}
