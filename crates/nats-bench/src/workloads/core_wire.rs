//! Raw-TCP contender of `req-reply`: what a request/reply round trip costs
//! on this machine with no client library at all (the floor of its latency).
//!
//! Two bare TCP sockets, as the other contenders use two connections:
//!
//! - the responder subscribes to the echo subject and, after every socket
//!   read, writes one `PUB <reply> <len>` frame per request the read brought,
//!   echoing its payload, in one write;
//! - the requester subscribes to `_INBOX.rrw.*`, encodes every request
//!   (`PUB bench.echo _INBOX.rrw.<n> <len>`, one reply subject per request)
//!   before the clock starts, then writes them one at a time and reads each
//!   reply back (a `MSG` of the right size) before the next.
//!
//! Warm-up and request count are those of [`super::core`]'s contenders.

use std::io::Write as _;
use std::time::Instant;

use tokio::io::AsyncWriteExt;

use super::core::{latency_sample, AbortOnDrop, ECHO_SUBJECT, REQUEST_WARMUP};
use super::js_common::{payload, raw_subscribed, Frame, FrameReader};
use super::{Ctx, RunFuture};
use crate::Result;

/// Prefix of the requester's reply subjects (`<INBOX>.<n>`).
const INBOX: &str = "_INBOX.rrw";

/// `req-reply` without a client library: a raw responder echoing every
/// request, and a raw requester sending pre-encoded requests one at a time.
pub fn req_reply(ctx: Ctx) -> RunFuture {
    Box::pin(async move {
        let (mut resp_write, mut resp_reader) = raw_subscribed(&ctx.url, ECHO_SUBJECT).await?;
        let _responder = AbortOnDrop(tokio::spawn(async move {
            let mut out = Vec::with_capacity(4096);
            loop {
                let parsed = resp_reader
                    .read_frames(|f| {
                        if let Frame::Msg {
                            reply: Some(reply),
                            payload,
                        } = f
                        {
                            out.extend_from_slice(b"PUB ");
                            out.extend_from_slice(reply);
                            write!(out, " {}\r\n", payload.len())?;
                            out.extend_from_slice(payload);
                            out.extend_from_slice(b"\r\n");
                        }
                        Ok(())
                    })
                    .await;
                if parsed.is_err() {
                    break;
                }
                if !out.is_empty() {
                    if resp_write.write_all(&out).await.is_err() {
                        break;
                    }
                    out.clear();
                }
            }
        }));

        let body = payload(ctx.payload);
        let total = (REQUEST_WARMUP + ctx.messages) as usize;
        let mut frames = Vec::with_capacity(total * (40 + body.len()));
        let mut offsets = Vec::with_capacity(total + 1);
        offsets.push(0);
        for n in 0..total {
            write!(frames, "PUB {ECHO_SUBJECT} {INBOX}.{n} {}\r\n", body.len())?;
            frames.extend_from_slice(&body);
            frames.extend_from_slice(b"\r\n");
            offsets.push(frames.len());
        }

        let (mut write, mut reader) = raw_subscribed(&ctx.url, &format!("{INBOX}.*")).await?;
        let size = ctx.payload;
        let warmup = REQUEST_WARMUP as usize;
        let mut latencies = Vec::with_capacity(ctx.messages as usize);
        for i in 0..total {
            let t = Instant::now();
            write.write_all(&frames[offsets[i]..offsets[i + 1]]).await?;
            read_reply(&mut reader, size).await?;
            if i >= warmup {
                latencies.push(t.elapsed());
            }
        }
        Ok(latency_sample(latencies))
    })
}

/// Reads until one reply arrived: a `MSG` of `size` bytes. Anything else
/// carrying a payload (a "no responders" status, a second reply) fails.
async fn read_reply<R>(reader: &mut FrameReader<R>, size: usize) -> Result<()>
where
    R: tokio::io::AsyncRead + Unpin,
{
    let mut got = 0;
    while got == 0 {
        reader
            .read_frames(|f| match f {
                Frame::Msg { payload, .. } if payload.len() == size => {
                    got += 1;
                    Ok(())
                }
                Frame::Msg { payload, .. } => {
                    Err(format!("reply of {} bytes, sent {size}", payload.len()).into())
                }
                Frame::Hmsg { headers, .. } => Err(format!(
                    "request answered with a status: {}",
                    String::from_utf8_lossy(headers).trim_end()
                )
                .into()),
                Frame::Pong | Frame::Other => Ok(()),
            })
            .await?;
    }
    if got != 1 {
        return Err(format!("{got} replies to one request").into());
    }
    Ok(())
}
