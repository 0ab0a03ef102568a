//! What the JetStream workloads share: stream and consumer administration
//! (always done with our client on a short-lived connection of its own, before
//! or after the clock, so both contenders get byte-identical streams and
//! consumers), the ack window used to drain async publishes, and a minimal
//! NATS protocol reader for the raw-TCP ceilings.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use jetstream::{AckPolicy, ConsumerConfig, ErrorKind, JetStream, StorageType, StreamConfig};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

use crate::{Error, Result};

/// The stream the publish workloads write to (recreated before every run).
pub const PUB_STREAM: &str = "BENCH_PUB";
/// The subject they publish on.
pub const PUB_SUBJECT: &str = "js.bench.pub";
/// What [`PUB_STREAM`] captures.
pub const PUB_FILTER: &str = "js.bench.>";

/// The stream the consume workloads read (filled once per workload).
pub const CONSUME_STREAM: &str = "BENCH_CONSUME";
/// The subject its messages are stored under.
pub const CONSUME_SUBJECT: &str = "js.consume.msgs";
/// What [`CONSUME_STREAM`] captures.
pub const CONSUME_FILTER: &str = "js.consume.>";

/// A payload of `size` bytes.
pub fn payload(size: usize) -> Bytes {
    Bytes::from(vec![b'x'; size])
}

/// `nats://host:port` -> `host:port`.
pub fn host_port(url: &str) -> &str {
    url.strip_prefix("nats://").unwrap_or(url)
}

/// A fresh admin connection and its JetStream context.
async fn admin(url: &str) -> Result<(nats_core::Client, JetStream)> {
    let client = nats_core::connect(url).await?;
    let js = jetstream::new(client.clone());
    Ok((client, js))
}

/// Deletes `name` if it exists and creates it anew, empty.
pub async fn reset_stream(url: &str, name: &str, filter: &str, storage: StorageType) -> Result<()> {
    let (client, js) = admin(url).await?;
    match js.delete_stream(name).await {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::StreamNotFound => {}
        Err(e) => return Err(e.into()),
    }
    js.create_stream(StreamConfig {
        name: name.to_string(),
        subjects: vec![filter.to_string()],
        storage,
        ..Default::default()
    })
    .await?;
    client.close().await;
    Ok(())
}

/// How many messages `stream` holds.
pub async fn stream_messages(url: &str, stream: &str) -> Result<u64> {
    let (client, js) = admin(url).await?;
    let info = js.stream(stream).await?.info().await?;
    client.close().await;
    Ok(info.state.messages)
}

/// Fails unless `stream` holds exactly `expected` messages (a sanity check
/// after each publish run; never timed).
pub async fn expect_stream_messages(url: &str, stream: &str, expected: u64) -> Result<()> {
    let stored = stream_messages(url, stream).await?;
    if stored != expected {
        return Err(format!("{stream} holds {stored} messages, expected {expected}").into());
    }
    Ok(())
}

/// Fills a fresh memory stream [`CONSUME_STREAM`] with `messages` messages of
/// `size` bytes. Runs once per workload; done over raw TCP
/// ([`super::js_publish::wire_publish`]) rather than with a client so that
/// the heap of this process does not grow (see `sample_rss`).
pub async fn preload(url: &str, messages: u64, size: usize) -> Result<()> {
    reset_stream(url, CONSUME_STREAM, CONSUME_FILTER, StorageType::Memory).await?;
    super::js_publish::wire_publish(url, CONSUME_SUBJECT, messages, size).await?;
    expect_stream_messages(url, CONSUME_STREAM, messages).await
}

/// A unique consumer name for this process.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("{prefix}_{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Creates a durable pull consumer on [`CONSUME_STREAM`] delivering everything
/// from the start, with server defaults otherwise; returns its name.
pub async fn create_durable(url: &str, ack_policy: AckPolicy) -> Result<String> {
    let name = unique_name("bench");
    let (client, js) = admin(url).await?;
    js.create_consumer(
        CONSUME_STREAM,
        ConsumerConfig {
            durable_name: Some(name.clone()),
            ack_policy,
            ..Default::default()
        },
    )
    .await?;
    client.close().await;
    Ok(name)
}

/// Deletes a consumer of [`CONSUME_STREAM`] after a run.
pub async fn delete_durable(url: &str, name: &str) -> Result<()> {
    let (client, js) = admin(url).await?;
    js.delete_consumer(CONSUME_STREAM, name).await?;
    client.close().await;
    Ok(())
}

// ---------------------------------------------------------------- ack window

/// Async publish acks in flight, oldest first, drained the same way for both
/// clients: before each publish, while `window` acks are outstanding, the
/// oldest is awaited (acks arrive in order on one connection, so the oldest is
/// the first to be ready). Bounding it here matters for async-nats, whose
/// window slot is only given back when its ack future is polled to completion.
#[derive(Debug)]
pub struct AckWindow<F> {
    inflight: VecDeque<F>,
    window: usize,
}

impl<F, T, E> AckWindow<F>
where
    F: Future<Output = std::result::Result<T, E>> + Unpin,
    E: Into<Error>,
{
    /// An empty window of `window` slots.
    pub fn new(window: usize) -> Self {
        AckWindow {
            inflight: VecDeque::with_capacity(window),
            window: window.max(1),
        }
    }

    /// Waits for acks until a slot is free.
    pub async fn make_room(&mut self) -> Result<()> {
        while self.inflight.len() >= self.window {
            if let Some(oldest) = self.inflight.pop_front() {
                oldest.await.map_err(Into::into)?;
            }
        }
        Ok(())
    }

    /// Adds the ack of a publish just sent.
    pub fn push(&mut self, ack: F) {
        self.inflight.push_back(ack);
    }

    /// Waits for every ack still outstanding.
    pub async fn finish(&mut self) -> Result<()> {
        while let Some(oldest) = self.inflight.pop_front() {
            oldest.await.map_err(Into::into)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- raw protocol

/// One protocol frame, borrowed from the reader's buffer.
#[derive(Debug)]
pub enum Frame<'a> {
    /// `MSG`: its reply subject (if any) and payload.
    Msg {
        reply: Option<&'a [u8]>,
        payload: &'a [u8],
    },
    /// `HMSG`: its header block and payload.
    Hmsg {
        headers: &'a [u8],
        payload: &'a [u8],
    },
    /// `PONG`.
    Pong,
    /// `PING`, `INFO`, `+OK`: nothing to do in a benchmark run.
    Other,
}

/// A minimal incremental NATS protocol reader (server to client), enough for
/// the raw-TCP ceilings: it splits frames and fails on `-ERR`.
#[derive(Debug)]
pub struct FrameReader<R> {
    io: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

const READ_BUF: usize = 256 * 1024;

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// Reads from `io`.
    pub fn new(io: R) -> Self {
        FrameReader {
            io,
            buf: vec![0; READ_BUF],
            start: 0,
            end: 0,
        }
    }

    /// One socket read, then `on_frame` for every complete frame buffered.
    pub async fn read_frames<F>(&mut self, mut on_frame: F) -> Result<()>
    where
        F: FnMut(Frame<'_>) -> Result<()>,
    {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.buf.len() - self.end < READ_BUF / 4 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let len = self.buf.len() * 2;
            self.buf.resize(len, 0);
        }
        let n = self.io.read(&mut self.buf[self.end..]).await?;
        if n == 0 {
            return Err("the server closed the connection".into());
        }
        self.end += n;
        while let Some(used) = parse_frame(&self.buf[self.start..self.end], &mut on_frame)? {
            self.start += used;
        }
        Ok(())
    }

    /// Reads until a `PONG` arrives (after a `PING` sent by the caller).
    pub async fn until_pong(&mut self) -> Result<()> {
        let mut pong = false;
        while !pong {
            self.read_frames(|f| {
                if matches!(f, Frame::Pong) {
                    pong = true;
                }
                Ok(())
            })
            .await?;
        }
        Ok(())
    }
}

/// Parses one frame at the start of `avail`: `Some(bytes used)` after calling
/// `on_frame`, `None` when the frame is incomplete.
fn parse_frame<F>(avail: &[u8], on_frame: &mut F) -> Result<Option<usize>>
where
    F: FnMut(Frame<'_>) -> Result<()>,
{
    let Some(nl) = avail.iter().position(|&b| b == b'\n') else {
        return Ok(None);
    };
    let line = avail[..nl].strip_suffix(b"\r").unwrap_or(&avail[..nl]);
    let body = nl + 1;
    if let Some(args) = line.strip_prefix(b"MSG ") {
        let size = last_number(args, 0)?;
        if avail.len() < body + size + 2 {
            return Ok(None);
        }
        on_frame(Frame::Msg {
            reply: reply_token(args),
            payload: &avail[body..body + size],
        })?;
        return Ok(Some(body + size + 2));
    }
    if let Some(args) = line.strip_prefix(b"HMSG ") {
        let total = last_number(args, 0)?;
        let hdr = last_number(args, 1)?;
        if hdr > total {
            return Err("HMSG header size above total size".into());
        }
        if avail.len() < body + total + 2 {
            return Ok(None);
        }
        on_frame(Frame::Hmsg {
            headers: &avail[body..body + hdr],
            payload: &avail[body + hdr..body + total],
        })?;
        return Ok(Some(body + total + 2));
    }
    if line.starts_with(b"-ERR") {
        return Err(format!("server error: {}", String::from_utf8_lossy(line)).into());
    }
    if line == b"PONG" {
        on_frame(Frame::Pong)?;
    } else {
        on_frame(Frame::Other)?;
    }
    Ok(Some(body))
}

/// The reply subject of `MSG <subject> <sid> [reply] <size>` arguments.
fn reply_token(args: &[u8]) -> Option<&[u8]> {
    let mut tokens = args.split(|&b| b == b' ').filter(|t| !t.is_empty());
    let (_subject, _sid) = (tokens.next()?, tokens.next()?);
    let third = tokens.next()?;
    tokens.next().map(|_| third)
}

/// The `back`-th number from the end of a space-separated argument list.
fn last_number(args: &[u8], back: usize) -> Result<usize> {
    let token = args
        .split(|&b| b == b' ')
        .filter(|t| !t.is_empty())
        .rev()
        .nth(back)
        .ok_or("truncated protocol line")?;
    std::str::from_utf8(token)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad size {:?}", String::from_utf8_lossy(token)).into())
}

/// The status code of an HMSG header block (`NATS/1.0 408 ...`), if any.
pub fn status_code(headers: &[u8]) -> Option<u16> {
    let first = headers.split(|&b| b == b'\n').next()?;
    let rest = first.strip_prefix(b"NATS/1.0")?;
    let code = rest
        .split(|&b| b == b' ' || b == b'\r')
        .find(|t| !t.is_empty())?;
    std::str::from_utf8(code).ok()?.parse().ok()
}

/// The numeric value of header `name` in an HMSG header block.
pub fn header_number(headers: &[u8], name: &str) -> Option<u64> {
    headers.split(|&b| b == b'\n').skip(1).find_map(|line| {
        let line = std::str::from_utf8(line).ok()?;
        let (k, v) = line.split_once(':')?;
        if k.trim().eq_ignore_ascii_case(name) {
            v.trim().parse().ok()
        } else {
            None
        }
    })
}

/// `CONNECT` for the raw connections (headers on, so that pull status
/// messages arrive as HMSG), followed by `extra` and a `PING`.
pub fn connect_line(extra: &str) -> String {
    format!(
        "CONNECT {{\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true,\
         \"protocol\":1}}\r\n{extra}PING\r\n"
    )
}

/// Opens a raw connection (no client library) subscribed to `subject` with
/// sid 1, and waits for the server's `PONG`, so the subscription is in place
/// before anything is sent.
pub async fn raw_subscribed(
    url: &str,
    subject: &str,
) -> Result<(OwnedWriteHalf, FrameReader<OwnedReadHalf>)> {
    let mut stream = TcpStream::connect(host_port(url)).await?;
    stream.set_nodelay(true)?;
    stream
        .write_all(connect_line(&format!("SUB {subject} 1\r\n")).as_bytes())
        .await?;
    let (read, write) = stream.into_split();
    let mut reader = FrameReader::new(read);
    reader.until_pong().await?;
    Ok((write, reader))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[u8]) -> Result<(Vec<String>, usize)> {
        let mut out = Vec::new();
        let mut at = 0;
        while let Some(used) = parse_frame(&input[at..], &mut |f: Frame<'_>| {
            out.push(match f {
                Frame::Msg { reply, payload } => format!(
                    "MSG {:?} {}",
                    reply.map(String::from_utf8_lossy),
                    String::from_utf8_lossy(payload)
                ),
                Frame::Hmsg { headers, payload } => format!(
                    "HMSG {:?} {}",
                    status_code(headers),
                    String::from_utf8_lossy(payload)
                ),
                Frame::Pong => "PONG".into(),
                Frame::Other => "other".into(),
            });
            Ok(())
        })? {
            at += used;
        }
        Ok((out, at))
    }

    #[test]
    fn splits_frames_and_waits_for_whole_ones() -> Result<()> {
        let input = b"INFO {}\r\nMSG a.b 1 r 3\r\nabc\r\nPONG\r\n\
                      HMSG _I.x 1 30 30\r\nNATS/1.0 408 Timeout\r\nA: 1\r\n\r\n\r\nMSG a 1 5\r\nab";
        let (out, used) = frames(input)?;
        assert_eq!(
            out,
            ["other", "MSG Some(\"r\") abc", "PONG", "HMSG Some(408) "],
            "{out:?}"
        );
        assert_eq!(&input[used..], b"MSG a 1 5\r\nab");
        assert_eq!(frames(b"MSG a 1 2\r\nab\r\n")?.0, ["MSG None ab"]);
        assert!(frames(b"-ERR 'Bad'\r\n").is_err());
        Ok(())
    }

    #[test]
    fn status_headers() {
        let h = b"NATS/1.0 409 Exceeded MaxWaiting\r\nNats-Pending-Messages: 1000\r\n\
                  Nats-Pending-Bytes: 0\r\n\r\n";
        assert_eq!(status_code(h), Some(409));
        assert_eq!(header_number(h, "Nats-Pending-Messages"), Some(1000));
        assert_eq!(header_number(h, "Nats-Pending-Bytes"), Some(0));
        assert_eq!(status_code(b"NATS/1.0\r\nA: b\r\n\r\n"), None);
    }
}
