//! Request/reply over one shared wildcard inbox subscription.
//!
//! Every request gets the reply subject `<prefix>.<nuid>.<token>`, where the
//! token is a per-connection counter in base 62. The connection task hands a
//! reply straight to the waiting request by its token: no subscription, task
//! or channel per request.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{BufMut, Bytes};
use nats_wire::{encode_pub_head, HeaderMap};
use tokio::sync::oneshot;

use crate::error::{Error, ErrorKind};
use crate::message::Message;
use crate::shared::{lock, Shared, Waiter};
use crate::Client;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Writes `token` in base 62 into `out`, returning the used tail.
fn encode_token(mut token: u64, out: &mut [u8; 11]) -> &[u8] {
    let mut i = out.len();
    loop {
        i -= 1;
        out[i] = BASE62[(token % 62) as usize];
        token /= 62;
        if token == 0 {
            break;
        }
    }
    &out[i..]
}

pub(crate) fn decode_token(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 11 {
        return None;
    }
    let mut n: u64 = 0;
    for &c in s {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'A'..=b'Z' => c - b'A' + 10,
            b'a'..=b'z' => c - b'a' + 36,
            _ => return None,
        };
        n = n.checked_mul(62)?.checked_add(u64::from(d))?;
    }
    Some(n)
}

/// A reply subject built without a heap allocation when it fits.
pub(crate) struct ReplySubject {
    stack: [u8; 128],
    len: usize,
    heap: Option<String>,
}

impl ReplySubject {
    pub(crate) fn new(prefix: &str, token: u64) -> Self {
        let mut digits = [0u8; 11];
        let digits = encode_token(token, &mut digits);
        let len = prefix.len() + digits.len();
        let mut r = ReplySubject {
            stack: [0u8; 128],
            len,
            heap: None,
        };
        if len <= r.stack.len() {
            r.stack[..prefix.len()].copy_from_slice(prefix.as_bytes());
            r.stack[prefix.len()..len].copy_from_slice(digits);
        } else {
            let mut s = String::with_capacity(len);
            s.push_str(prefix);
            s.extend(digits.iter().map(|&b| b as char));
            r.heap = Some(s);
        }
        r
    }

    pub(crate) fn as_str(&self) -> &str {
        match &self.heap {
            Some(s) => s,
            // A str prefix followed by ASCII digits is always UTF-8.
            None => std::str::from_utf8(&self.stack[..self.len]).unwrap_or_default(),
        }
    }
}

/// Registers a waiter and returns its token.
fn register(shared: &Shared, guard: Option<Box<dyn Send>>) -> (u64, oneshot::Receiver<Message>) {
    let (tx, rx) = oneshot::channel();
    let mut r = lock(&shared.requests);
    let token = r.next_token;
    r.next_token += 1;
    r.waiters.insert(token, Waiter { tx, _guard: guard });
    (token, rx)
}

pub(crate) async fn send(
    client: &Client,
    subject: &str,
    headers: Option<&HeaderMap>,
    payload: &Bytes,
    guard: Option<Box<dyn Send>>,
) -> Result<Response, Error> {
    let size = client.check_message(subject, Some("_INBOX.x"), headers, payload.len())?;
    let shared = &client.shared;
    let (token, rx) = register(shared, guard);
    let response = Response {
        rx,
        token,
        shared: shared.clone(),
        done: false,
    };
    let reply = ReplySubject::new(&shared.mux_prefix, token);
    let reply = reply.as_str();
    let len = subject.len() + reply.len() + size + 40;
    shared
        .write(len, (1, size as u64), |buf| {
            encode_pub_head(subject, Some(reply), headers, payload.len(), buf);
            buf.put_slice(payload);
            buf.put_slice(b"\r\n");
        })
        .await?;
    Ok(response)
}

/// Called by the connection task for a message on the shared inbox.
pub(crate) fn deliver(shared: &Shared, msg: Message) {
    let token = msg
        .subject
        .as_bytes()
        .strip_prefix(shared.mux_prefix.as_bytes())
        .and_then(decode_token);
    let mut r = lock(&shared.requests);
    let waiter = match token {
        Some(t) => r.waiters.remove(t),
        None => None,
    };
    drop(r);
    if let Some(waiter) = waiter {
        let _ = waiter.tx.send(msg);
    }
}

/// Fails every waiting request (the connection was lost or closed).
pub(crate) fn fail_all(shared: &Shared) {
    let waiters = lock(&shared.requests).waiters.take_all();
    drop(waiters);
}

/// The reply to a request sent with [`Client::send_request`].
///
/// Resolves to the reply, to [`ErrorKind::NoResponders`] when nobody listens,
/// or to an error when the connection is lost first. Dropping it removes the
/// waiting entry.
#[derive(Debug)]
pub struct Response {
    rx: oneshot::Receiver<Message>,
    token: u64,
    shared: Arc<Shared>,
    done: bool,
}

impl Future for Response {
    type Output = Result<Message, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let result = match Pin::new(&mut self.rx).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(msg)) if msg.is_no_responders() => {
                Err(Error::new(ErrorKind::NoResponders))
            }
            Poll::Ready(Ok(msg)) => Ok(msg),
            Poll::Ready(Err(_)) => Err(Error::with_detail(
                ErrorKind::ConnectionClosed,
                "the connection was lost before the reply arrived",
            )),
        };
        self.done = true;
        Poll::Ready(result)
    }
}

impl Drop for Response {
    fn drop(&mut self) {
        if !self.done {
            lock(&self.shared.requests).waiters.remove(self.token);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        for t in [0u64, 1, 61, 62, 12345, u64::MAX] {
            let mut buf = [0u8; 11];
            let s = encode_token(t, &mut buf).to_vec();
            assert_eq!(decode_token(&s), Some(t));
        }
        assert_eq!(decode_token(b""), None);
        assert_eq!(decode_token(b"a.b"), None);
    }

    #[test]
    fn reply_subjects() {
        assert_eq!(
            ReplySubject::new("_INBOX.abc.", 63).as_str(),
            "_INBOX.abc.11"
        );
        let long = format!("{}.", "p".repeat(200));
        assert_eq!(ReplySubject::new(&long, 0).as_str(), format!("{long}0"));
    }
}
