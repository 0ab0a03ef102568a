//! Object store workloads: one 64 MiB object put and got back (MB/s), and
//! 1,000 objects of 1 KiB put and got one after the other (objects/s).
//!
//! Buckets are memory-backed and administered by our client on a connection
//! of its own: the put workloads recreate theirs, empty, before every run;
//! the get workloads fill theirs once per workload (`setup`). Every run opens
//! the bucket with the client under test and uses the default chunk size of
//! both clients (128 KiB). The object data (random bytes) is generated once
//! per process, before any run.

use std::sync::OnceLock;
use std::time::Instant;

use bytes::Bytes;
use jetstream::{ErrorKind, ObjectStoreConfig, StorageType};
use tokio::io::AsyncReadExt;

use super::{Ctx, RunFuture, Sample, SetupFuture};
use crate::Result;

/// The bucket of `obj-put-64m` and `obj-put-small` (emptied before every run).
const PUT_BUCKET: &str = "bench_obj_put";
/// The bucket of `obj-get-64m` and `obj-get-small` (filled once per workload).
pub(super) const GET_BUCKET: &str = "bench_obj_get";
/// The name of the large object.
pub(super) const LARGE_NAME: &str = "blob-64m";
/// Size of the large object.
pub const LARGE_SIZE: usize = 64 * 1024 * 1024;
/// Size of each small object.
pub const SMALL_SIZE: usize = 1024;
/// Untimed small puts or gets before the timed ones.
const WARMUP: u64 = 10;

/// `LARGE_SIZE` random bytes (xorshift64*), generated on first use.
pub(super) fn random_data() -> Bytes {
    static DATA: OnceLock<Bytes> = OnceLock::new();
    DATA.get_or_init(|| {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut data = Vec::with_capacity(LARGE_SIZE);
        while data.len() < LARGE_SIZE {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            data.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
        }
        Bytes::from(data)
    })
    .clone()
}

/// The data of a small object (the first [`SMALL_SIZE`] random bytes).
fn small_data() -> Bytes {
    random_data().slice(..SMALL_SIZE)
}

/// The name of the `i`-th small object.
fn small_name(i: u64) -> String {
    format!("obj-{i:05}")
}

/// Deletes and recreates `bucket`, empty, memory-backed (our client, admin
/// connection). Returns the connection's store handle and client.
async fn reset_bucket(
    url: &str,
    bucket: &str,
) -> Result<(nats_core::Client, jetstream::ObjectStore)> {
    let client = nats_core::connect(url).await?;
    let js = jetstream::new(client.clone());
    match js.delete_object_store(bucket).await {
        Ok(()) => {}
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::BucketNotFound | ErrorKind::StreamNotFound
            ) => {}
        Err(e) => return Err(e.into()),
    }
    let store = js
        .create_object_store(ObjectStoreConfig {
            bucket: bucket.to_string(),
            storage: StorageType::Memory,
            ..Default::default()
        })
        .await?;
    Ok((client, store))
}

/// Fails unless the bucket lists `expected` objects (checked after runs).
async fn expect_objects(url: &str, bucket: &str, expected: usize) -> Result<()> {
    let client = nats_core::connect(url).await?;
    let store = jetstream::new(client.clone()).object_store(bucket).await?;
    let listed = store.list().await?.len();
    client.close().await;
    if listed != expected {
        return Err(format!("bucket {bucket} lists {listed} objects, expected {expected}").into());
    }
    Ok(())
}

fn check_size(got: u64, expected: usize) -> Result<()> {
    if got != expected as u64 {
        return Err(format!("object of {got} B, expected {expected} B").into());
    }
    Ok(())
}

/// MB/s (10^6 bytes per second).
pub(super) fn mb_per_sec(bytes: usize, seconds: f64) -> Sample {
    Sample {
        values: vec![bytes as f64 / 1e6 / seconds.max(1e-9)],
        ..Sample::default()
    }
}

// ---------------------------------------------------------------- 64 MiB

/// Generates the data before the first run (so its allocation is not part
/// of any run's RSS growth).
pub fn setup_put_large(_ctx: Ctx) -> SetupFuture {
    Box::pin(async move {
        random_data();
        Ok(())
    })
}

/// Stores the large object once, with our client.
pub fn setup_get_large(ctx: Ctx) -> SetupFuture {
    Box::pin(async move {
        let data = random_data();
        let (client, store) = reset_bucket(&ctx.url, GET_BUCKET).await?;
        let info = store.put_bytes(LARGE_NAME, data).await?;
        check_size(info.size, LARGE_SIZE)?;
        client.close().await;
        Ok(())
    })
}

/// `obj-put-64m` with our client (`put_bytes`).
pub fn put_large_ours(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        let data = random_data();
        let (admin, _) = reset_bucket(&ctx.url, PUT_BUCKET).await?;
        admin.close().await;
        let client = nats_core::connect(ctx.url.as_str()).await?;
        let store = jetstream::new(client.clone())
            .object_store(PUT_BUCKET)
            .await?;
        let start = Instant::now();
        let info = store.put_bytes(LARGE_NAME, data).await?;
        let seconds = start.elapsed().as_secs_f64();
        check_size(info.size, LARGE_SIZE)?;
        client.close().await;
        Ok(mb_per_sec(LARGE_SIZE, seconds))
    })
}

/// `obj-put-64m` with async-nats (`put` from a byte slice reader).
pub fn put_large_async_nats(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        let data = random_data();
        let (admin, _) = reset_bucket(&ctx.url, PUT_BUCKET).await?;
        admin.close().await;
        let client = async_nats::connect(ctx.url.as_str()).await?;
        let store = async_nats::jetstream::new(client)
            .get_object_store(PUT_BUCKET)
            .await?;
        let start = Instant::now();
        let info = store.put(LARGE_NAME, &mut &data[..]).await?;
        let seconds = start.elapsed().as_secs_f64();
        check_size(info.size as u64, LARGE_SIZE)?;
        Ok(mb_per_sec(LARGE_SIZE, seconds))
    })
}

/// An empty buffer with room for the large object, its pages already
/// written once: so that the clock measures the client, not the kernel
/// faulting in the 64 MiB the object is read into.
pub(super) fn faulted_buffer() -> Vec<u8> {
    let mut buf = vec![1u8; LARGE_SIZE];
    buf.clear();
    buf
}

/// Checks a large object read back, after the clock stopped.
pub(super) fn check_large(buf: &[u8]) -> Result<()> {
    check_size(buf.len() as u64, LARGE_SIZE)?;
    if buf != &random_data()[..] {
        return Err("the object read back differs from the one stored".into());
    }
    Ok(())
}

/// `obj-get-64m` with our client (`get` + `read_to_end`).
pub fn get_large_ours(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        let client = nats_core::connect(ctx.url.as_str()).await?;
        let store = jetstream::new(client.clone())
            .object_store(GET_BUCKET)
            .await?;
        let mut buf = faulted_buffer();
        let start = Instant::now();
        let mut object = store.get(LARGE_NAME).await?;
        object.read_to_end(&mut buf).await?;
        let seconds = start.elapsed().as_secs_f64();
        drop(object);
        check_large(&buf)?;
        client.close().await;
        Ok(mb_per_sec(LARGE_SIZE, seconds))
    })
}

/// `obj-get-64m` with async-nats (`get` + `read_to_end`).
pub fn get_large_async_nats(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        let client = async_nats::connect(ctx.url.as_str()).await?;
        let store = async_nats::jetstream::new(client)
            .get_object_store(GET_BUCKET)
            .await?;
        let mut buf = faulted_buffer();
        let start = Instant::now();
        let mut object = store.get(LARGE_NAME).await?;
        object.read_to_end(&mut buf).await?;
        let seconds = start.elapsed().as_secs_f64();
        drop(object);
        check_large(&buf)?;
        Ok(mb_per_sec(LARGE_SIZE, seconds))
    })
}

// ---------------------------------------------------------------- small

/// Times `count` sequential operations; objects per second.
async fn timed_objects<F, Fut>(count: u64, mut op: F) -> Result<Sample>
where
    F: FnMut(u64) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let start = Instant::now();
    for i in 0..count {
        op(i).await?;
    }
    Ok(Sample::rate(count, start.elapsed().as_secs_f64()))
}

/// `obj-put-small` with our client (`put_bytes`).
pub fn put_small_ours(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        let data = small_data();
        let names: Vec<String> = (0..ctx.messages).map(small_name).collect();
        let (admin, _) = reset_bucket(&ctx.url, PUT_BUCKET).await?;
        admin.close().await;
        let client = nats_core::connect(ctx.url.as_str()).await?;
        let store = jetstream::new(client.clone())
            .object_store(PUT_BUCKET)
            .await?;
        for i in 0..WARMUP {
            store.put_bytes(format!("warm-{i}"), data.clone()).await?;
        }
        let sample = timed_objects(ctx.messages, |i| {
            let put = store.put_bytes(names[i as usize].as_str(), data.clone());
            async move { check_size(put.await?.size, SMALL_SIZE) }
        })
        .await?;
        client.close().await;
        expect_objects(&ctx.url, PUT_BUCKET, (WARMUP + ctx.messages) as usize).await?;
        Ok(sample)
    })
}

/// `obj-put-small` with async-nats (`put` from a byte slice reader).
pub fn put_small_async_nats(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        let data = small_data();
        let names: Vec<String> = (0..ctx.messages).map(small_name).collect();
        let (admin, _) = reset_bucket(&ctx.url, PUT_BUCKET).await?;
        admin.close().await;
        let client = async_nats::connect(ctx.url.as_str()).await?;
        let store = async_nats::jetstream::new(client)
            .get_object_store(PUT_BUCKET)
            .await?;
        for i in 0..WARMUP {
            store
                .put(format!("warm-{i}").as_str(), &mut &data[..])
                .await?;
        }
        let sample = timed_objects(ctx.messages, |i| {
            let store = &store;
            let name = names[i as usize].as_str();
            let data = &data;
            async move {
                let info = store.put(name, &mut &data[..]).await?;
                check_size(info.size as u64, SMALL_SIZE)
            }
        })
        .await?;
        expect_objects(&ctx.url, PUT_BUCKET, (WARMUP + ctx.messages) as usize).await?;
        Ok(sample)
    })
}

/// Stores the small objects once, with our client.
pub fn setup_get_small(ctx: Ctx) -> SetupFuture {
    Box::pin(async move {
        let data = small_data();
        let (client, store) = reset_bucket(&ctx.url, GET_BUCKET).await?;
        for i in 0..ctx.messages {
            store.put_bytes(small_name(i), data.clone()).await?;
        }
        client.close().await;
        Ok(())
    })
}

/// `obj-get-small` with our client (`get` + `read_to_end`).
pub fn get_small_ours(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        let names: Vec<String> = (0..ctx.messages).map(small_name).collect();
        let client = nats_core::connect(ctx.url.as_str()).await?;
        let store = jetstream::new(client.clone())
            .object_store(GET_BUCKET)
            .await?;
        let mut buf = Vec::with_capacity(SMALL_SIZE);
        for i in 0..WARMUP.min(ctx.messages) {
            buf.clear();
            store
                .get(&names[i as usize])
                .await?
                .read_to_end(&mut buf)
                .await?;
        }
        let sample = timed_objects(ctx.messages, |i| {
            let get = store.get(&names[i as usize]);
            async move {
                let mut buf = Vec::with_capacity(SMALL_SIZE);
                get.await?.read_to_end(&mut buf).await?;
                check_size(buf.len() as u64, SMALL_SIZE)
            }
        })
        .await?;
        client.close().await;
        Ok(sample)
    })
}

/// `obj-get-small` with async-nats (`get` + `read_to_end`).
pub fn get_small_async_nats(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        let names: Vec<String> = (0..ctx.messages).map(small_name).collect();
        let client = async_nats::connect(ctx.url.as_str()).await?;
        let store = async_nats::jetstream::new(client)
            .get_object_store(GET_BUCKET)
            .await?;
        let mut buf = Vec::with_capacity(SMALL_SIZE);
        for i in 0..WARMUP.min(ctx.messages) {
            buf.clear();
            store
                .get(names[i as usize].as_str())
                .await?
                .read_to_end(&mut buf)
                .await?;
        }
        let sample = timed_objects(ctx.messages, |i| {
            let store = &store;
            let name = names[i as usize].as_str();
            async move {
                let mut buf = Vec::with_capacity(SMALL_SIZE);
                store.get(name).await?.read_to_end(&mut buf).await?;
                check_size(buf.len() as u64, SMALL_SIZE)
            }
        })
        .await?;
        Ok(sample)
    })
}
