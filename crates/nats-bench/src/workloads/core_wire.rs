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

use tokio::io::AsyncWriteExt;

use super::core::{AbortOnDrop, ECHO_SUBJECT, REQUEST_WARMUP};
use super::js_common::{payload, raw_subscribed, Frame};
use super::kv_wire::{sequential, Frames};
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
        let total = REQUEST_WARMUP + ctx.messages;
        let mut frames = Frames::with_capacity(total as usize, 40 + INBOX.len() + body.len());
        for n in 0..total {
            frames.push_pub(format_args!("{ECHO_SUBJECT}"), INBOX, n, &body)?;
        }
        let (mut write, mut reader) = raw_subscribed(&ctx.url, &format!("{INBOX}.*")).await?;
        let mut sample = sequential(
            &mut write,
            &mut reader,
            &frames,
            REQUEST_WARMUP as usize,
            check_echo,
            ctx.payload,
        )
        .await?;
        // `sequential` measures the rate too; this workload reports p50 and p99 only.
        sample.values.remove(0);
        Ok(sample)
    })
}

/// Checks a reply: a `MSG` of `size` bytes; a status (no responders) or a
/// reply of another size fails the run.
fn check_echo(frame: Frame<'_>, size: usize) -> Result<bool> {
    match frame {
        Frame::Msg { payload, .. } if payload.len() == size => Ok(true),
        Frame::Msg { payload, .. } => {
            Err(format!("reply of {} bytes, sent {size}", payload.len()).into())
        }
        Frame::Hmsg { headers, .. } => Err(format!(
            "request answered with a status: {}",
            String::from_utf8_lossy(headers).trim_end()
        )
        .into()),
        Frame::Pong | Frame::Other => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_echoes() {
        let echo = Frame::Msg {
            reply: None,
            payload: b"0123456789abcdef",
        };
        assert!(matches!(check_echo(echo, 16), Ok(true)));
        let short = Frame::Msg {
            reply: None,
            payload: b"0123",
        };
        assert!(check_echo(short, 16).is_err());
        let no_responders = Frame::Hmsg {
            headers: b"NATS/1.0 503\r\n\r\n",
            payload: b"",
        };
        assert!(check_echo(no_responders, 16).is_err());
        assert!(matches!(check_echo(Frame::Pong, 16), Ok(false)));
    }
}
