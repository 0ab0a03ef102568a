//! JetStream consume workloads: continuous pulls (`messages()`), one-shot
//! fetches, the ordered consumer, and the raw-TCP ceiling of pulling.
//!
//! The stream is filled once per workload ([`setup`], untimed); every run then
//! reads all of it through a consumer of its own: a durable pull consumer
//! created (identically for both clients, by our client on an admin
//! connection) before the clock starts and deleted after it stops, or, for
//! `js-consume-ordered`, an ordered consumer created by the client under test
//! before the clock starts. The clock runs from starting to pull to the last
//! message; with AckExplicit it runs until the server has provably read every
//! ack too (ours: `flush`; async-nats: a request nobody answers).

use std::time::Instant;

use futures_util::StreamExt;
use jetstream::{AckPolicy, OrderedConsumerConfig};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use super::core::{confirm_async_nats, confirm_ours};
use super::js_common::{
    create_durable, delete_durable, header_number, preload, raw_subscribed, status_code, Frame,
    FrameReader, CONSUME_STREAM,
};
use super::{Ctx, RunFuture, Sample, SetupFuture};
use crate::Result;

/// Messages per pull of `js-fetch-100`.
const FETCH_BATCH: usize = 100;

/// Fills the consume stream with `ctx.messages` messages (once per workload).
pub fn setup(ctx: Ctx) -> SetupFuture {
    Box::pin(async move { preload(&ctx.url, ctx.messages, ctx.payload).await })
}

fn ended_early(received: u64, expected: u64) -> crate::Error {
    format!("the message stream ended after {received} of {expected} messages").into()
}

// ---------------------------------------------------------------- messages()

async fn consume_ours(ctx: Ctx, ack_policy: AckPolicy, batch: usize) -> Result<Sample> {
    let name = create_durable(&ctx.url, ack_policy).await?;
    let client = nats_core::connect(ctx.url.as_str()).await?;
    let js = jetstream::new(client.clone());
    let consumer = js.consumer(CONSUME_STREAM, &name).await?;
    let explicit = ack_policy == AckPolicy::Explicit;

    let start = Instant::now();
    let mut messages = consumer.messages().max_messages(batch).await?;
    let mut received = 0u64;
    while received < ctx.messages {
        let msg = messages
            .next()
            .await
            .ok_or_else(|| ended_early(received, ctx.messages))??;
        if explicit {
            msg.ack().await?;
        }
        received += 1;
    }
    if explicit {
        confirm_ours(&client).await?;
    }
    let seconds = start.elapsed().as_secs_f64();

    drop(messages);
    delete_durable(&ctx.url, &name).await?;
    Ok(Sample::rate(received, seconds))
}

async fn consume_async_nats(ctx: Ctx, ack_policy: AckPolicy, batch: usize) -> Result<Sample> {
    let name = create_durable(&ctx.url, ack_policy).await?;
    let client = async_nats::connect(ctx.url.as_str()).await?;
    let js = async_nats::jetstream::new(client.clone());
    let consumer: async_nats::jetstream::consumer::PullConsumer = js
        .get_stream(CONSUME_STREAM)
        .await?
        .get_consumer(&name)
        .await?;
    let explicit = ack_policy == AckPolicy::Explicit;

    let start = Instant::now();
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(batch)
        .messages()
        .await?;
    let mut received = 0u64;
    while received < ctx.messages {
        let msg = messages
            .next()
            .await
            .ok_or_else(|| ended_early(received, ctx.messages))??;
        if explicit {
            msg.ack().await?;
        }
        received += 1;
    }
    if explicit {
        confirm_async_nats(&client).await?;
    }
    let seconds = start.elapsed().as_secs_f64();

    drop(messages);
    delete_durable(&ctx.url, &name).await?;
    Ok(Sample::rate(received, seconds))
}

macro_rules! consume_variants {
    ($($ours:ident, $theirs:ident, $ack:expr, $batch:expr;)*) => {$(
        #[doc = concat!("`", stringify!($ours), "`: `messages()`, our client.")]
        pub fn $ours(ctx: Ctx) -> RunFuture {
            Box::pin(consume_ours(ctx, $ack, $batch))
        }

        #[doc = concat!("`", stringify!($theirs), "`: `messages()`, async-nats.")]
        pub fn $theirs(ctx: Ctx) -> RunFuture {
            Box::pin(consume_async_nats(ctx, $ack, $batch))
        }
    )*};
}

consume_variants! {
    none_200_ours, none_200_async_nats, AckPolicy::None, 200;
    none_1000_ours, none_1000_async_nats, AckPolicy::None, 1000;
    explicit_200_ours, explicit_200_async_nats, AckPolicy::Explicit, 200;
    explicit_1000_ours, explicit_1000_async_nats, AckPolicy::Explicit, 1000;
}

// ---------------------------------------------------------------- fetch

/// `js-fetch-100` with our client.
pub fn fetch_ours(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        let name = create_durable(&ctx.url, AckPolicy::Explicit).await?;
        let client = nats_core::connect(ctx.url.as_str()).await?;
        let js = jetstream::new(client.clone());
        let consumer = js.consumer(CONSUME_STREAM, &name).await?;

        let start = Instant::now();
        let mut received = 0u64;
        while received < ctx.messages {
            let mut batch = consumer.fetch(FETCH_BATCH).await?;
            while let Some(msg) = batch.next().await {
                msg?.ack().await?;
                received += 1;
            }
        }
        confirm_ours(&client).await?;
        let seconds = start.elapsed().as_secs_f64();

        delete_durable(&ctx.url, &name).await?;
        Ok(Sample::rate(received, seconds))
    })
}

/// `js-fetch-100` with async-nats.
pub fn fetch_async_nats(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        let name = create_durable(&ctx.url, AckPolicy::Explicit).await?;
        let client = async_nats::connect(ctx.url.as_str()).await?;
        let js = async_nats::jetstream::new(client.clone());
        let consumer: async_nats::jetstream::consumer::PullConsumer = js
            .get_stream(CONSUME_STREAM)
            .await?
            .get_consumer(&name)
            .await?;

        let start = Instant::now();
        let mut received = 0u64;
        while received < ctx.messages {
            let mut batch = consumer
                .fetch()
                .max_messages(FETCH_BATCH)
                .messages()
                .await?;
            while let Some(msg) = batch.next().await {
                msg?.ack().await?;
                received += 1;
            }
        }
        confirm_async_nats(&client).await?;
        let seconds = start.elapsed().as_secs_f64();

        delete_durable(&ctx.url, &name).await?;
        Ok(Sample::rate(received, seconds))
    })
}

// ---------------------------------------------------------------- ordered

/// `js-consume-ordered` with our client.
pub fn ordered_ours(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        let client = nats_core::connect(ctx.url.as_str()).await?;
        let js = jetstream::new(client);
        let stream = js.stream(CONSUME_STREAM).await?;
        let ordered = stream
            .ordered_consumer(OrderedConsumerConfig::default())
            .await?;

        let start = Instant::now();
        let mut messages = ordered.messages().await?;
        let mut received = 0u64;
        while received < ctx.messages {
            messages
                .next()
                .await
                .ok_or_else(|| ended_early(received, ctx.messages))??;
            received += 1;
        }
        let seconds = start.elapsed().as_secs_f64();
        Ok(Sample::rate(received, seconds))
    })
}

/// `js-consume-ordered` with async-nats.
pub fn ordered_async_nats(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        let client = async_nats::connect(ctx.url.as_str()).await?;
        let js = async_nats::jetstream::new(client);
        let stream = js.get_stream(CONSUME_STREAM).await?;
        let ordered = stream
            .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig {
                ..Default::default()
            })
            .await?;

        let start = Instant::now();
        let mut messages = ordered.messages().await?;
        let mut received = 0u64;
        while received < ctx.messages {
            messages
                .next()
                .await
                .ok_or_else(|| ended_early(received, ctx.messages))??;
            received += 1;
        }
        let seconds = start.elapsed().as_secs_f64();
        Ok(Sample::rate(received, seconds))
    })
}

// ---------------------------------------------------------------- wire limit

/// Messages per pull request of the raw ceiling.
const WIRE_BATCH: u64 = 1000;
/// Pull requests the raw ceiling keeps outstanding.
const WIRE_OUTSTANDING: u64 = 2;
/// Its inbox.
pub(super) const WIRE_INBOX: &str = "_INBOX.wirec";

/// `js-wire-limit-consume`: a raw TCP connection subscribes to an inbox and
/// publishes pull requests (`{"batch":1000,"expires":30s}`) for an AckNone
/// durable consumer, keeping two outstanding, and counts the `MSG` frames;
/// status messages (`HMSG` with a status and no payload) give back the budget
/// they report as unused.
pub fn wire_limit(ctx: Ctx) -> RunFuture {
    Box::pin(wire_consume(ctx, AckPolicy::None))
}

/// The raw-TCP contender of `js-consume-explicit-1000`: the same with an
/// AckExplicit consumer, acking every message (`PUB <reply> 0`, the acks of
/// one socket read written together) and timed until a `PONG` proves the
/// server read the last ack.
pub fn wire_explicit(ctx: Ctx) -> RunFuture {
    Box::pin(wire_consume(ctx, AckPolicy::Explicit))
}

async fn wire_consume(ctx: Ctx, ack_policy: AckPolicy) -> Result<Sample> {
    let name = create_durable(&ctx.url, ack_policy).await?;
    let (mut write, mut reader) = raw_subscribed(&ctx.url, WIRE_INBOX).await?;
    let start = Instant::now();
    let received = raw_pull(
        &mut write,
        &mut reader,
        CONSUME_STREAM,
        &name,
        ctx.messages,
        ack_policy == AckPolicy::Explicit,
    )
    .await?;
    let seconds = start.elapsed().as_secs_f64();
    drop(write);
    delete_durable(&ctx.url, &name).await?;
    Ok(Sample::rate(received, seconds))
}

/// Reads `n` messages of consumer `consumer` on `stream` over a raw
/// connection subscribed to [`WIRE_INBOX`]: pull requests of [`WIRE_BATCH`],
/// [`WIRE_OUTSTANDING`] kept outstanding, status messages giving back the
/// budget they report unused. With `explicit`, every message is acked (the
/// acks of one socket read written together) and it returns only once a
/// `PONG` proves the server read the last ack. Returns how many arrived.
pub(super) async fn raw_pull(
    write: &mut OwnedWriteHalf,
    reader: &mut FrameReader<OwnedReadHalf>,
    stream: &str,
    consumer: &str,
    n: u64,
    explicit: bool,
) -> Result<u64> {
    let body = format!("{{\"batch\":{WIRE_BATCH},\"expires\":30000000000}}");
    let request = format!(
        "PUB $JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer} {WIRE_INBOX} {}\r\n{body}\r\n",
        body.len()
    );
    let mut requested = 0u64;
    let mut received = 0u64;
    let mut returned = 0u64;
    let mut out: Vec<u8> = Vec::with_capacity(256 * 1024);
    while received < n {
        while requested.saturating_sub(received + returned) <= WIRE_BATCH * (WIRE_OUTSTANDING - 1)
            && requested.saturating_sub(returned) < n
        {
            requested += WIRE_BATCH;
            out.extend_from_slice(request.as_bytes());
        }
        if !out.is_empty() {
            write.write_all(&out).await?;
            out.clear();
        }
        reader
            .read_frames(|f| {
                let reply = match f {
                    Frame::Msg { reply, .. } => reply,
                    Frame::Hmsg { headers, payload } => match status_code(headers) {
                        None => None,
                        Some(_) if !payload.is_empty() => None,
                        Some(100) => return Ok(()),
                        Some(404 | 408 | 409) => {
                            returned +=
                                header_number(headers, "Nats-Pending-Messages").unwrap_or(0);
                            return Ok(());
                        }
                        Some(_) => {
                            return Err(format!(
                                "pull failed: {}",
                                String::from_utf8_lossy(headers).trim_end()
                            )
                            .into())
                        }
                    },
                    Frame::Pong | Frame::Other => return Ok(()),
                };
                received += 1;
                if explicit {
                    let reply = reply.ok_or("a message without an ack subject")?;
                    out.extend_from_slice(b"PUB ");
                    out.extend_from_slice(reply);
                    out.extend_from_slice(b" 0\r\n\r\n");
                }
                Ok(())
            })
            .await?;
    }
    if explicit {
        out.extend_from_slice(b"PING\r\n");
        write.write_all(&out).await?;
        reader.until_pong().await?;
    }
    Ok(received)
}
