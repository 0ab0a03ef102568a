//! Raw-TCP contenders of the Key/Value workloads: what a client with no
//! library overhead at all achieves on this machine (a floor for latency, a
//! ceiling for rate).
//!
//! Each run opens a bare TCP socket, subscribes to `_INBOX.kvw.*`, encodes
//! every frame it will send before the clock starts (one reply subject
//! `_INBOX.kvw.<n>` per request) and then only writes those bytes and splits
//! the replies with [`FrameReader`]. Buckets, keys, values, warm-ups and
//! message counts are those of the other contenders in [`super::kv`], so the
//! rows compare:
//!
//! - gets are direct gets, `PUB $JS.API.DIRECT.GET.KV_<bucket>.$KV.<bucket>.<key>
//!   <inbox>.<n> 0`, whose reply is an `HMSG` (headers `Nats-Stream`,
//!   `Nats-Subject`, `Nats-Sequence`, …; the value as payload) with no status
//!   line; a status (404 and the like) fails the run, as does a value of the
//!   wrong size;
//! - puts are plain publishes to `$KV.<bucket>.<key>` with a reply subject,
//!   whose reply is the JSON PubAck (`{"stream":..,"seq":..}`); an `"error"`
//!   in it, or a status `HMSG` (503: no stream), fails the run.

use std::io::Write as _;
use std::time::{Duration, Instant};

use jetstream::{AckPolicy, ConsumerConfig};

use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use super::core::latency_sample;
use super::js_common::{payload, raw_subscribed, status_code, Frame, FrameReader};
use super::js_consume::{raw_pull, WIRE_INBOX};
use super::kv::{
    check_value, expect_entries, get_keys, keys, reset_bucket, timed_watch, CONCURRENCY,
    GET_BUCKET, PUT_BUCKET, WARMUP, WATCH_BUCKET,
};
use super::{Ctx, RunFuture, Sample};
use crate::Result;

/// Prefix of the reply subjects of the raw contenders (`<INBOX>.<n>`).
const INBOX: &str = "_INBOX.kvw";

/// The reader side of a raw connection.
type Reader = FrameReader<OwnedReadHalf>;

/// Protocol frames encoded back to back in one buffer, with where each
/// starts, so that a run writes slices of it and formats nothing.
#[derive(Debug, Default)]
pub(crate) struct Frames {
    /// The encoded frames.
    bytes: Vec<u8>,
    /// Start of frame `i` at `offsets[i]`, its end at `offsets[i + 1]`.
    offsets: Vec<usize>,
}

impl Frames {
    /// An empty set with room for `count` frames of about `frame_len` bytes.
    pub(crate) fn with_capacity(count: usize, frame_len: usize) -> Self {
        let mut offsets = Vec::with_capacity(count + 1);
        offsets.push(0);
        Frames {
            bytes: Vec::with_capacity(count * frame_len),
            offsets,
        }
    }

    /// Appends a direct get of `key` in bucket `bucket`, replied to
    /// `<INBOX>.<n>`.
    fn push_direct_get(&mut self, bucket: &str, key: &str, n: u64) -> Result<()> {
        write!(
            self.bytes,
            "PUB $JS.API.DIRECT.GET.KV_{bucket}.$KV.{bucket}.{key} {INBOX}.{n} 0\r\n\r\n"
        )?;
        self.offsets.push(self.bytes.len());
        Ok(())
    }

    /// Appends a put of `value` under `key` in bucket `bucket` (a publish to
    /// `$KV.<bucket>.<key>`), its ack replied to `<INBOX>.<n>`.
    fn push_put(&mut self, bucket: &str, key: &str, n: u64, value: &[u8]) -> Result<()> {
        self.push_pub(format_args!("$KV.{bucket}.{key}"), INBOX, n, value)
    }

    /// Appends a publish of `payload` to `subject`, replied to `<inbox>.<n>`.
    pub(crate) fn push_pub(
        &mut self,
        subject: std::fmt::Arguments<'_>,
        inbox: &str,
        n: u64,
        payload: &[u8],
    ) -> Result<()> {
        write!(
            self.bytes,
            "PUB {subject} {inbox}.{n} {}\r\n",
            payload.len()
        )?;
        self.bytes.extend_from_slice(payload);
        self.bytes.extend_from_slice(b"\r\n");
        self.offsets.push(self.bytes.len());
        Ok(())
    }

    /// How many frames there are.
    fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Frames `from..to`, contiguous.
    fn range(&self, from: usize, to: usize) -> &[u8] {
        &self.bytes[self.offsets[from]..self.offsets[to]]
    }
}

/// Checks one reply frame: `Ok(true)` if it is a good reply, `Ok(false)` if
/// it is no reply at all (`PING`, `+OK`, …), an error if it is a bad reply.
pub(crate) type CheckReply = fn(Frame<'_>, usize) -> Result<bool>;

/// Checks a direct-get reply: an `HMSG` without a status carrying a value of
/// `size` bytes.
fn check_get_reply(frame: Frame<'_>, size: usize) -> Result<bool> {
    match frame {
        Frame::Hmsg { headers, payload } => {
            if let Some(code) = status_code(headers) {
                let line = headers.split(|&b| b == b'\r').next().unwrap_or_default();
                return Err(format!(
                    "direct get answered with status {code} ({})",
                    String::from_utf8_lossy(line)
                )
                .into());
            }
            check_value(payload.len(), size)?;
            Ok(true)
        }
        Frame::Msg { payload, .. } => Err(format!(
            "direct get answered without headers: {}",
            String::from_utf8_lossy(payload)
        )
        .into()),
        Frame::Pong | Frame::Other => Ok(false),
    }
}

/// Checks a put reply: a `MSG` whose JSON PubAck carries no `"error"`.
fn check_put_reply(frame: Frame<'_>, _size: usize) -> Result<bool> {
    match frame {
        Frame::Msg { payload, .. } => {
            if payload.windows(7).any(|w| w == b"\"error\"") {
                return Err(format!("put refused: {}", String::from_utf8_lossy(payload)).into());
            }
            Ok(true)
        }
        Frame::Hmsg { headers, .. } => Err(format!(
            "put answered with status {:?}: {}",
            status_code(headers),
            String::from_utf8_lossy(headers).trim_end()
        )
        .into()),
        Frame::Pong | Frame::Other => Ok(false),
    }
}

/// Reads until `expected` more replies arrived, checking each; returns how
/// many arrived (at least `expected`: all complete frames of the last socket
/// read are taken).
async fn read_replies(
    reader: &mut Reader,
    expected: u64,
    check: CheckReply,
    size: usize,
) -> Result<u64> {
    let mut got = 0u64;
    while got < expected {
        reader
            .read_frames(|f| {
                if check(f, size)? {
                    got += 1;
                }
                Ok(())
            })
            .await?;
    }
    Ok(got)
}

/// Sends frame `i` and reads its reply, one at a time.
async fn one_in_flight(
    write: &mut OwnedWriteHalf,
    reader: &mut Reader,
    frames: &Frames,
    i: usize,
    check: CheckReply,
    size: usize,
) -> Result<()> {
    write.write_all(frames.range(i, i + 1)).await?;
    let got = read_replies(reader, 1, check, size).await?;
    if got != 1 {
        return Err(format!("{got} replies to one request").into());
    }
    Ok(())
}

/// Sends `warmup` frames untimed, then times the rest, each awaited to its
/// reply (one in flight): rate, p50 and p99, as `timed_sequential` in
/// [`super::kv`] measures them.
pub(crate) async fn sequential(
    write: &mut OwnedWriteHalf,
    reader: &mut Reader,
    frames: &Frames,
    warmup: usize,
    check: CheckReply,
    size: usize,
) -> Result<Sample> {
    for i in 0..warmup {
        one_in_flight(write, reader, frames, i, check, size).await?;
    }
    let ops = frames.len() - warmup;
    let mut latencies = Vec::with_capacity(ops);
    let start = Instant::now();
    for i in warmup..frames.len() {
        let t = Instant::now();
        one_in_flight(write, reader, frames, i, check, size).await?;
        latencies.push(t.elapsed());
    }
    let seconds = start.elapsed().as_secs_f64();
    let mut sample = latency_sample(latencies);
    sample.values.insert(0, ops as f64 / seconds.max(1e-9));
    Ok(sample)
}

/// Encodes [`WARMUP`] direct gets of `keys[i % len]`, then `ops` more of
/// `keys[i % len]` (`i` counting from 0 again), as the other contenders
/// choose their keys.
fn get_frames(keys: &[String], ops: u64) -> Result<Frames> {
    let n = keys.len().max(1);
    let mut frames = Frames::with_capacity(
        (WARMUP + ops) as usize,
        60 + 2 * GET_BUCKET.len() + INBOX.len(),
    );
    let picks = (0..WARMUP).chain(0..ops);
    for (reply, i) in picks.enumerate() {
        let key = keys.get(i as usize % n).ok_or("no keys to get")?;
        frames.push_direct_get(GET_BUCKET, key, reply as u64)?;
    }
    Ok(frames)
}

/// `kv-get-seq` without a client library, the floor of its latency:
/// pre-encoded direct gets of every key written to a raw TCP socket one at a
/// time, each reply (`HMSG`) read back and checked before the next.
pub fn get_seq(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        let keys = keys(get_keys(&ctx, false));
        let frames = get_frames(&keys, ctx.messages)?;
        let (mut write, mut reader) = raw_subscribed(&ctx.url, &format!("{INBOX}.*")).await?;
        sequential(
            &mut write,
            &mut reader,
            &frames,
            WARMUP as usize,
            check_get_reply,
            ctx.payload,
        )
        .await
    })
}

/// `kv-get-concurrent` without a client library, the ceiling of its rate:
/// the same pre-encoded direct gets with [`CONCURRENCY`] in flight. After
/// [`WARMUP`] sequential untimed gets the clock starts, the first
/// [`CONCURRENCY`] requests go out in one write, and after every socket read
/// as many new requests as replies it completed go out, in one write.
pub fn get_concurrent(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        let keys = keys(get_keys(&ctx, true));
        let frames = get_frames(&keys, ctx.messages)?;
        let (mut write, mut reader) = raw_subscribed(&ctx.url, &format!("{INBOX}.*")).await?;
        let size = ctx.payload;
        for i in 0..WARMUP as usize {
            one_in_flight(&mut write, &mut reader, &frames, i, check_get_reply, size).await?;
        }
        let first = WARMUP as usize;
        let total = frames.len();
        let window = CONCURRENCY;
        let start = Instant::now();
        let mut sent = (first + window).min(total);
        write.write_all(frames.range(first, sent)).await?;
        let mut done = first;
        while done < total {
            done += read_replies(&mut reader, 1, check_get_reply, size).await? as usize;
            if done > sent {
                return Err(format!("{done} replies to {sent} requests").into());
            }
            let upto = (done + window).min(total);
            if upto > sent {
                write.write_all(frames.range(sent, upto)).await?;
                sent = upto;
            }
        }
        let seconds = start.elapsed().as_secs_f64();
        Ok(Sample::rate((total - first) as u64, seconds))
    })
}

/// `kv-put-seq` without a client library, the floor of its latency: the
/// bucket reset (deleted and created with default settings, untimed, by our
/// client on an admin connection, as the other contenders' runs delete it
/// and create it before the clock), then [`WARMUP`] untimed puts of
/// `warm<i>` and the timed puts of distinct keys, each a pre-encoded
/// `PUB $KV.<bucket>.<key> <inbox>.<n> <len>` frame written to a raw TCP
/// socket and awaited to its PubAck. Checked afterwards like the others: the
/// bucket must hold every entry put.
pub fn put_seq(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        reset_bucket(&ctx.url, PUT_BUCKET).await?;
        let keys = keys(ctx.messages);
        let value = payload(ctx.payload);
        let mut frames = Frames::with_capacity(
            (WARMUP + ctx.messages) as usize,
            40 + PUT_BUCKET.len() + INBOX.len() + value.len(),
        );
        let warm = (0..WARMUP).map(|i| format!("warm{i}"));
        for (n, key) in warm.chain(keys).enumerate() {
            frames.push_put(PUT_BUCKET, &key, n as u64, &value)?;
        }
        let (mut write, mut reader) = raw_subscribed(&ctx.url, &format!("{INBOX}.*")).await?;
        let sample = sequential(
            &mut write,
            &mut reader,
            &frames,
            WARMUP as usize,
            check_put_reply,
            ctx.payload,
        )
        .await?;
        drop((write, reader));
        expect_entries(&ctx.url, PUT_BUCKET, WARMUP + ctx.messages).await?;
        Ok(sample)
    })
}

/// `kv-watch`, raw TCP: the same publisher (our client, async publishes),
/// watched by an AckNone consumer on `$KV.<bucket>.>` (created by our admin
/// connection before the clock) read over a bare socket with the pull loop of
/// `js-wire-limit-consume`: what any watcher can reach while the server stores
/// and delivers every update.
pub fn watch(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        reset_bucket(&ctx.url, WATCH_BUCKET).await?;
        let admin = nats_core::connect(ctx.url.as_str()).await?;
        let js = jetstream::new(admin.clone());
        let stream = format!("KV_{WATCH_BUCKET}");
        let consumer = js
            .create_consumer(
                &stream,
                ConsumerConfig {
                    ack_policy: AckPolicy::None,
                    filter_subject: Some(format!("$KV.{WATCH_BUCKET}.>")),
                    mem_storage: true,
                    inactive_threshold: Some(Duration::from_secs(30)),
                    ..Default::default()
                },
            )
            .await?;
        let name = consumer.cached_info().name.clone();
        let (mut write, mut reader) = raw_subscribed(&ctx.url, WIRE_INBOX).await?;
        let expected = ctx.messages;
        let sample = timed_watch(&ctx, async {
            raw_pull(&mut write, &mut reader, &stream, &name, expected, false).await?;
            Ok(Instant::now())
        })
        .await?;
        drop(write);
        js.delete_consumer(&stream, &name).await?;
        admin.close().await;
        Ok(sample)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_frames_back_to_back() -> Result<()> {
        let mut frames = Frames::with_capacity(2, 64);
        frames.push_direct_get("b", "k1", 0)?;
        frames.push_put("b", "k2", 1, b"xy")?;
        assert_eq!(frames.len(), 2);
        assert_eq!(
            frames.range(0, 1),
            b"PUB $JS.API.DIRECT.GET.KV_b.$KV.b.k1 _INBOX.kvw.0 0\r\n\r\n"
        );
        assert_eq!(frames.range(1, 2), b"PUB $KV.b.k2 _INBOX.kvw.1 2\r\nxy\r\n");
        assert_eq!(frames.range(0, 2).len(), frames.bytes.len());
        Ok(())
    }

    #[test]
    fn picks_keys_like_the_other_contenders() -> Result<()> {
        let keys = keys(3);
        let frames = get_frames(&keys, 4)?;
        assert_eq!(frames.len(), WARMUP as usize + 4);
        let timed = frames.range(WARMUP as usize, frames.len());
        let text = String::from_utf8_lossy(timed);
        let picked: Vec<&str> = text
            .split("\r\n")
            .filter_map(|l| l.split(' ').nth(1))
            .filter_map(|s| s.rsplit('.').next())
            .collect();
        assert_eq!(picked, ["k000000", "k000001", "k000002", "k000000"]);
        Ok(())
    }

    #[test]
    fn checks_replies() {
        let ok = Frame::Hmsg {
            headers: b"NATS/1.0\r\nNats-Stream: KV_b\r\nNats-Sequence: 1\r\n\r\n",
            payload: b"abc",
        };
        assert!(matches!(check_get_reply(ok, 3), Ok(true)));
        let short = Frame::Hmsg {
            headers: b"NATS/1.0\r\n\r\n",
            payload: b"ab",
        };
        assert!(check_get_reply(short, 3).is_err());
        let missing = Frame::Hmsg {
            headers: b"NATS/1.0 404 Message Not Found\r\n\r\n",
            payload: b"",
        };
        assert!(check_get_reply(missing, 0).is_err());
        assert!(matches!(check_get_reply(Frame::Other, 3), Ok(false)));

        let ack = Frame::Msg {
            reply: None,
            payload: br#"{"stream":"KV_b","seq":7}"#,
        };
        assert!(matches!(check_put_reply(ack, 0), Ok(true)));
        let refused = Frame::Msg {
            reply: None,
            payload: br#"{"error":{"code":503,"description":"x"}}"#,
        };
        assert!(check_put_reply(refused, 0).is_err());
        let no_stream = Frame::Hmsg {
            headers: b"NATS/1.0 503\r\n\r\n",
            payload: b"",
        };
        assert!(check_put_reply(no_stream, 0).is_err());
    }
}
