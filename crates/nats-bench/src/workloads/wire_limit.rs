//! `wire-limit`: the ceiling for small publishes on this machine.
//!
//! No client library at all: `PUB bench.pub 16\r\n<16 bytes>\r\n` frames are
//! encoded up front into a 1 MiB chunk, and the chunk is written to a plain
//! tokio `TcpStream` again and again; a final `PING` is answered by `PONG`
//! once the server has read everything. Whatever a client does on top
//! (encoding, buffering, waking its writer task) can only be slower.

use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Ctx, RunFuture, Sample};
use crate::Result;

const SUBJECT: &str = "bench.pub";
const CHUNK_BYTES: usize = 1024 * 1024;

/// One timed run.
pub fn run(ctx: Ctx) -> RunFuture {
    Box::pin(run_inner(ctx))
}

async fn run_inner(ctx: Ctx) -> Result<Sample> {
    let addr = ctx
        .url
        .strip_prefix("nats://")
        .unwrap_or(ctx.url.as_str())
        .to_string();
    let mut stream = TcpStream::connect(addr.as_str()).await?;
    stream.set_nodelay(true)?;
    let mut rbuf = Vec::with_capacity(8 * 1024);

    // INFO, then CONNECT and a PING to know the connection is accepted.
    read_until(&mut stream, &mut rbuf, b"\r\n").await?;
    if !rbuf.starts_with(b"INFO ") {
        return Err(format!("expected INFO, got {:?}", String::from_utf8_lossy(&rbuf)).into());
    }
    rbuf.clear();
    stream
        .write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPING\r\n")
        .await?;
    read_until(&mut stream, &mut rbuf, b"PONG\r\n").await?;
    rbuf.clear();

    let chunk = encode_chunk(ctx.payload);
    let frame_len = frame(ctx.payload).len();
    let frames_per_chunk = (chunk.len() / frame_len) as u64;

    let start = Instant::now();
    let mut left = ctx.messages;
    while left > 0 {
        let n = left.min(frames_per_chunk);
        stream.write_all(&chunk[..n as usize * frame_len]).await?;
        left -= n;
    }
    stream.write_all(b"PING\r\n").await?;
    read_until(&mut stream, &mut rbuf, b"PONG\r\n").await?;
    Ok(Sample::rate(ctx.messages, start.elapsed().as_secs_f64()))
}

fn frame(payload: usize) -> Vec<u8> {
    let mut f = format!("PUB {SUBJECT} {payload}\r\n").into_bytes();
    f.resize(f.len() + payload, b'x');
    f.extend_from_slice(b"\r\n");
    f
}

/// As many whole frames as fit in [`CHUNK_BYTES`] (at least one).
fn encode_chunk(payload: usize) -> Vec<u8> {
    let frame = frame(payload);
    let count = (CHUNK_BYTES / frame.len()).max(1);
    let mut chunk = Vec::with_capacity(count * frame.len());
    for _ in 0..count {
        chunk.extend_from_slice(&frame);
    }
    chunk
}

/// Reads until `needle` shows up in `buf`; fails on `-ERR` or EOF.
async fn read_until(stream: &mut TcpStream, buf: &mut Vec<u8>, needle: &[u8]) -> Result<()> {
    let mut tmp = [0u8; 4096];
    loop {
        if buf.windows(needle.len()).any(|w| w == needle) {
            return Ok(());
        }
        if let Some(pos) = buf.windows(4).position(|w| w == b"-ERR") {
            return Err(format!(
                "server error: {}",
                String::from_utf8_lossy(&buf[pos..]).trim_end()
            )
            .into());
        }
        let n = stream.read(&mut tmp).await?;
        if n == 0 {
            return Err("the server closed the connection".into());
        }
        buf.extend_from_slice(&tmp[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_whole() {
        assert_eq!(frame(3), b"PUB bench.pub 3\r\nxxx\r\n");
        let chunk = encode_chunk(16);
        let f = frame(16);
        assert_eq!(chunk.len() % f.len(), 0);
        assert!(chunk.len() <= CHUNK_BYTES);
        assert!(chunk.starts_with(&f));
    }
}
