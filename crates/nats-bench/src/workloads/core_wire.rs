//! Raw-TCP contenders of `req-reply` and `service-req`: what a request/reply
//! round trip costs on this machine with no client library at all (the floor
//! of its latency).
//!
//! Two bare TCP sockets, as the other contenders use two connections:
//!
//! - the responder subscribes to the echo subject (`service-req`: the
//!   service endpoint's subject, in the endpoint's queue group) and, after every socket
//!   read, writes one `PUB <reply> <len>` frame per request the read brought,
//!   echoing its payload, in one write;
//! - the requester subscribes to `_INBOX.rrw.*`, encodes every request
//!   (`PUB <subject> _INBOX.rrw.<n> <len>`, one reply subject per request)
//!   before the clock starts, then writes them one at a time and reads each
//!   reply back (a `MSG` of the right size) before the next.
//!
//! Warm-up and request count are those of [`super::core`]'s contenders.

use std::io::Write as _;

use tokio::io::AsyncWriteExt;

use super::core::{AbortOnDrop, ECHO_SUBJECT, REQUEST_WARMUP};
use super::js_common::{payload, raw_subscribed, Frame};
use super::kv_wire::{sequential, Frames};
use super::service;
use super::{Ctx, RunFuture, Sample};
use crate::Result;

/// Prefix of the requester's reply subjects (`<INBOX>.<n>`).
const INBOX: &str = "_INBOX.rrw";

/// `req-reply` without a client library: a raw responder echoing every
/// request, and a raw requester sending pre-encoded requests one at a time.
pub fn req_reply(ctx: Ctx) -> RunFuture {
    Box::pin(echo_round_trips(ctx, ECHO_SUBJECT, None))
}

/// `service-req` without a client library: the same raw echo, its responder
/// subscribed as the service's endpoint is (its subject, in the endpoint's
/// queue group), with no service around it.
pub fn service_req(ctx: Ctx) -> RunFuture {
    Box::pin(echo_round_trips(
        ctx,
        service::SUBJECT,
        Some(service::QUEUE_GROUP),
    ))
}

/// Runs the raw responder on `subject` (in `queue`, if any) and times the
/// raw requester's round trips to it.
async fn echo_round_trips(
    ctx: Ctx,
    subject: &'static str,
    queue: Option<&'static str>,
) -> Result<Sample> {
    // `raw_subscribed` writes `SUB <these> 1`: a queue group follows the subject.
    let sub = match queue {
        Some(queue) => format!("{subject} {queue}"),
        None => subject.to_string(),
    };
    let (mut resp_write, mut resp_reader) = raw_subscribed(&ctx.url, &sub).await?;
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
        frames.push_pub(format_args!("{subject}"), INBOX, n, &body)?;
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
