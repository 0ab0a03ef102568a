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
use std::time::Duration;

use bytes::Bytes;
use nats_wire::HeaderMap;
use tokio::time::Instant;

use crate::connection::server_error;
use crate::deadlines;
use crate::error::{Error, ErrorKind};
use crate::message::Message;
use crate::shared::{lock, Shared, WriteFuture, WriteMode};
use crate::waiters::{finish_all, Waiter};
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

    /// The length of the subject, without reading it as a `str` (as
    /// [`ReplySubject::as_str`] does).
    pub(crate) fn len(&self) -> usize {
        self.heap.as_ref().map_or(self.len, String::len)
    }

    pub(crate) fn as_str(&self) -> &str {
        match &self.heap {
            Some(s) => s,
            // A str prefix followed by ASCII digits is always UTF-8.
            None => std::str::from_utf8(&self.stack[..self.len]).unwrap_or_default(),
        }
    }
}

/// A hash of a request subject (FNV-1a): enough to find the requests a
/// refused publish concerns without keeping a copy of every subject.
pub(crate) fn subject_hash(subject: &[u8]) -> u64 {
    subject.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Registers a waiter and returns its token and whether other requests are
/// in flight; fails when the server refused the shared inbox subscription
/// (no reply could ever arrive). A `timeout` becomes a deadline the sweeper
/// enforces (see [`crate::deadlines`]).
fn register(
    shared: &Shared,
    subject: &str,
    guard: Option<Box<dyn Send>>,
    timeout: Option<Duration>,
) -> Result<(u64, bool), Error> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut r = lock(&shared.requests);
    if let Some(text) = &r.inbox_refused {
        return Err(server_error(text));
    }
    let token = r.next_token;
    r.next_token += 1;
    let others = r.waiters.len() > 0;
    let waiter = Waiter::new(subject_hash(subject.as_bytes()), guard, deadline);
    r.waiters.insert(token, waiter);
    let rearm = deadline.is_some_and(|d| deadlines::note(&mut r.sweep_at, d));
    drop(r);
    if rearm {
        shared.sweeper.notify_one();
    }
    Ok((token, others))
}

/// Registers a request and encodes its publish: returns the [`Response`]
/// and what is left of the write (nothing, unless the buffer is full: then
/// the publish is encoded once there is room). A plain function, not an
/// `async` one, so that request futures stay small: only the two small
/// results live across their awaits, not the reply subject and the encoding.
///
/// With `awaited` (the caller awaits the [`Response`] at once), while other
/// requests are in flight, on the thread that `block_on`s a multi-thread
/// runtime, the request is only queued, and the `Response` sends it when
/// polled the second time (see [`Flush`]).
pub(crate) fn send<'a>(
    client: &'a Client,
    subject: &'a str,
    headers: Option<&'a HeaderMap>,
    payload: &'a Bytes,
    guard: Option<Box<dyn Send>>,
    timeout: Option<Duration>,
    awaited: bool,
) -> Result<(Response, WriteFuture<'a>), Error> {
    // The reply subject is our own inbox: nothing to check.
    let size = client.check_message(subject, None, headers, payload.len())?;
    let shared = &client.shared;
    let (token, others) = register(shared, subject, guard, timeout)?;
    // A lone request has nothing to wait for; with others in flight, their
    // replies may be waking more callers in this pass.
    let flush = if awaited && others && on_block_on_thread() {
        Flush::Yield
    } else {
        Flush::Sent
    };
    let response = Response {
        token,
        shared: shared.clone(),
        done: false,
        flush,
    };
    let reply = ReplySubject::new(&shared.mux_prefix, token);
    let len = subject.len() + reply.len() + size + 40;
    let encode = move |queue: &mut crate::write_queue::WriteQueue| {
        queue.put_pub(subject, Some(reply.as_str()), headers, payload)
    };
    let stats = (1, size as u64);
    let mode = if flush == Flush::Yield {
        WriteMode::Deferred
    } else {
        WriteMode::Now
    };
    // On an error the response drops: its waiter goes.
    let write = shared.write_as(len, stats, encode, mode)?;
    Ok((response, write))
}

/// Whether this is the thread that `block_on`s a multi-thread tokio runtime
/// (as under `#[tokio::main]`), outside any task.
///
/// There a future that wakes itself is polled again without the thread
/// parking (no syscall), after the other futures of the same pass that were
/// ready: so a request can wait for them before it writes. Everywhere else it
/// writes at once: in a task, a self-wake would requeue the task behind the
/// others and wake an idle worker; on a current-thread runtime it would
/// cost a wake-up of the I/O driver.
fn on_block_on_thread() -> bool {
    tokio::task::try_id().is_none()
        && tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}

/// When a [`Response`] sends its request (see [`send`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flush {
    /// Sent, or left to the connection task: nothing to do.
    Sent,
    /// Queued, not yet sent: the first poll wakes the caller and returns
    /// `Pending`, so that every other future ready in this pass of the
    /// executor gets polled (and queues its own request) first.
    Yield,
    /// The second poll (or the drop) sends what is queued: one write for
    /// every request of the pass.
    Due,
}

/// Called by the connection task with the messages a read brought on the
/// shared inbox: hands every reply to its request, in order, emptying
/// `replies`.
pub(crate) fn deliver_all(shared: &Shared, replies: &mut Vec<Message>) {
    for msg in replies.drain(..) {
        deliver(shared, msg);
    }
}

/// Hands one reply to the request its subject's token names, if it still waits.
fn deliver(shared: &Shared, msg: Message) {
    let Some(token) = msg
        .subject
        .as_bytes()
        .strip_prefix(shared.mux_prefix.as_bytes())
        .and_then(decode_token)
    else {
        return;
    };
    let done = lock(&shared.requests).waiters.complete(token, Ok(msg));
    if let Some(done) = done {
        done.finish();
    }
}

/// The server refused a publish to `subject` (`text` is its `-ERR`): every
/// request to that subject fails with it.
pub(crate) fn publish_refused(shared: &Shared, subject: &str, text: &str) {
    let hash = subject_hash(subject.as_bytes());
    let refused = lock(&shared.requests)
        .waiters
        .complete_matching(|w| w.subject_hash == hash, || server_error(text));
    finish_all(refused);
}

/// The server refused a publish with the reply subject `reply`: if that is a
/// request's reply subject, the request fails with `text`.
pub(crate) fn reply_refused(shared: &Shared, reply: &str, text: &str) {
    let token = reply
        .as_bytes()
        .strip_prefix(shared.mux_prefix.as_bytes())
        .and_then(decode_token);
    if let Some(token) = token {
        let refused = lock(&shared.requests)
            .waiters
            .complete(token, Err(server_error(text)));
        if let Some(refused) = refused {
            refused.finish();
        }
    }
}

/// The server refused the shared inbox subscription: no reply can come on this
/// connection, so every request fails with `text`, now and until a reconnect.
pub(crate) fn inbox_refused(shared: &Shared, text: &str) {
    let refused = {
        let mut r = lock(&shared.requests);
        r.inbox_refused = Some(text.to_string());
        r.waiters.complete_matching(|_| true, || server_error(text))
    };
    finish_all(refused);
}

/// Fails every waiting request (the connection was lost or closed). Replies
/// that came before stay with their requests.
pub(crate) fn fail_all(shared: &Shared) {
    let failed = lock(&shared.requests).waiters.complete_matching(
        |_| true,
        || {
            Error::with_detail(
                ErrorKind::ConnectionClosed,
                "the connection was lost before the reply arrived",
            )
        },
    );
    finish_all(failed);
}

/// The reply to a request sent with [`Client::send_request`].
///
/// Resolves to the reply, to [`ErrorKind::NoResponders`] when nobody listens,
/// to [`ErrorKind::Timeout`] when it was sent with a timeout
/// ([`Client::send_request_with_timeout`]) and no reply came in time,
/// to [`ErrorKind::PermissionDenied`] when the server refuses the request
/// (the user may not publish to its subject, or may not subscribe to the
/// inbox its reply would come to), or to an error when the connection is
/// lost first. Dropping it removes the waiting entry. Polled again after it
/// resolved, it resolves to [`ErrorKind::ConnectionClosed`] (there is
/// nothing left to wait for).
#[derive(Debug)]
pub struct Response {
    token: u64,
    shared: Arc<Shared>,
    done: bool,
    flush: Flush,
}

impl Future for Response {
    type Output = Result<Message, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.flush {
            Flush::Sent => {}
            Flush::Yield => {
                self.flush = Flush::Due;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Flush::Due => {
                self.flush = Flush::Sent;
                self.shared.flush_deferred();
            }
        }
        let (taken, replaced) = lock(&self.shared.requests)
            .waiters
            .poll_take(self.token, cx.waker());
        // Dropped once the lock (a temporary of the statement above) is released.
        drop(replaced);
        let result = match taken {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Some(Ok(msg))) if msg.is_no_responders() => {
                Err(Error::new(ErrorKind::NoResponders))
            }
            Poll::Ready(Some(reply)) => reply,
            // Taken before, or never registered: nothing will come.
            Poll::Ready(None) => Err(Error::with_detail(
                ErrorKind::ConnectionClosed,
                "the request is no longer waiting for a reply",
            )),
        };
        self.done = true;
        Poll::Ready(result)
    }
}

impl Drop for Response {
    fn drop(&mut self) {
        if self.flush != Flush::Sent {
            // Requests of other callers may be queued with it.
            self.shared.flush_deferred();
        }
        if !self.done {
            // Dropped after the lock is released: its guard may run code.
            let waiter = lock(&self.shared.requests).waiters.remove(self.token);
            drop(waiter);
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
        assert_eq!(ReplySubject::new(&long, 0).len(), long.len() + 1);
        assert_eq!(ReplySubject::new("_INBOX.abc.", 63).len(), 13);
    }
}
