//! The I/O loop of one established connection: reads, parses and dispatches
//! server operations; writes what publishers buffered; pings.
//!
//! It is a hand-written poll function over any `AsyncRead + AsyncWrite`, so
//! reading and writing progress together in one task and it can be driven over
//! `tokio::io::duplex` in tests.

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use nats_wire::{encode_ping, encode_pong, encode_sub, encode_unsub, MsgOp, Parser, ServerOp};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::oneshot;
use tokio::time::Sleep;
use tokio_util::io::poll_read_buf;

use super::direct::DirectWrite;
use super::handshake::server_error;
use super::permissions;
use crate::error::{Error, ErrorKind};
use crate::events::Event;
use crate::message::Message;
use crate::request;
use crate::shared::{lock, Shared, SubKind, SubMap, SubSlot};
use crate::write_queue::{slice_array, WriteQueue};

const READ_CHUNK: usize = 64 * 1024;
/// Writes smaller than this wait one scheduler turn for company...
const COALESCE_BELOW: usize = 16 * 1024;
/// ...when the previous write was taken less than this long ago.
const COALESCE_WITHIN: Duration = Duration::from_micros(100);
/// Reads handled in one poll before yielding to other tasks.
const MAX_READS_PER_POLL: usize = 8;
const SLOW_CONSUMER_EVENT_INTERVAL: Duration = Duration::from_secs(1);

/// Why the I/O loop stopped.
#[derive(Debug)]
pub(crate) enum Exit {
    /// The user closed the client; everything buffered was written.
    Closed,
    /// The connection failed; reconnect.
    Lost(Error),
}

enum PongWaiter {
    Keepalive,
    Flush(Vec<oneshot::Sender<Result<(), Error>>>),
}

/// How many replies' room [`Connection::handle_ops`] keeps between reads.
const KEPT_REPLIES: usize = 256;

/// At most this many messages wait for the end of their buffer to be
/// dispatched (a read after a large message can hold many small ones): about
/// 200 KiB of message records. Their room is kept between reads (a 64 KiB
/// read of small messages fills it), so that a stream of full reads does not
/// grow and shrink it every time.
pub(super) const MAX_HELD_MSGS: usize = 1024;

pub(crate) struct Connection<T> {
    io: T,
    shared: Arc<Shared>,
    rbuf: BytesMut,
    parser: Parser,
    /// What the task took from the shared queue and is writing. Everything
    /// the task writes passes through the shared queue (under the write
    /// lock), except the SUBs of [`Connection::resubscribe`], written before
    /// publishers may write directly.
    out: WriteQueue,
    pongs: VecDeque<PongWaiter>,
    pings_outstanding: usize,
    ping_timer: Pin<Box<Sleep>>,
    /// The ping timer was polled since it was last set, so it wakes the task
    /// when it elapses: until then it need not be polled (a poll costs a
    /// timer-state check on every turn of the task).
    ping_armed: bool,
    closing: bool,
    /// A small write was put off once to let more publishes join it.
    deferred: bool,
    /// What the task last told the write state in `task_writing`: while it
    /// is false and nobody kicked the task, there is nothing to take.
    holding: bool,
    /// When the last batch was taken for writing: writes in quick
    /// succession mean a stream of small publishes (acks), worth coalescing.
    last_take: Option<Instant>,
    /// Messages read from one buffer, dispatched once the whole buffer is
    /// parsed (see [`Connection::handle_ops`]).
    held: Held,
}

/// What [`Connection::handle_ops`] holds back until a buffer is parsed; the
/// room is kept between reads.
#[derive(Default)]
struct Held {
    /// The messages, in the order read.
    msgs: Vec<MsgOp>,
    /// The replies to requests among them, handed over after the dispatch.
    replies: Vec<Message>,
    /// The subscriptions that got messages, woken after the dispatch.
    woken: Vec<u64>,
}

impl<T: AsyncRead + AsyncWrite + Unpin> Connection<T> {
    pub(crate) fn new(io: T, shared: Arc<Shared>, rbuf: BytesMut, parser: Parser) -> Self {
        let interval = shared.options.ping_interval;
        Connection {
            io,
            shared,
            rbuf,
            parser,
            out: WriteQueue::with_capacity(64 * 1024),
            pongs: VecDeque::new(),
            pings_outstanding: 0,
            ping_timer: Box::pin(tokio::time::sleep(interval)),
            ping_armed: false,
            closing: false,
            deferred: false,
            holding: true,
            last_take: None,
            held: Held::default(),
        }
    }

    /// Queues a SUB (and UNSUB with the remaining count) for every live
    /// subscription: the first thing written on a new connection. The request
    /// inbox is subscribed afresh, so a refusal of it on the last connection
    /// no longer holds.
    pub(crate) fn resubscribe(&mut self) {
        lock(&self.shared.requests).inbox_refused = None;
        let subs = lock(&self.shared.subs);
        for (sid, slot) in subs.iter() {
            tracing::trace!(
                target: "nats_core::protocol",
                op = "SUB",
                subject = %slot.subject,
                queue_group = slot.queue_group.as_deref(),
                sid,
                resubscribe = true,
            );
            encode_sub(
                &slot.subject,
                slot.queue_group.as_deref(),
                *sid,
                self.out.buf(),
            );
            if let Some(max) = slot.max {
                encode_unsub(
                    *sid,
                    Some(max.saturating_sub(slot.delivered).max(1)),
                    self.out.buf(),
                );
            }
        }
    }

    /// Marks the connection usable: publishes go to it from now on, and
    /// `direct` (plain TCP) may be written by publishers once the task has
    /// written what it holds (the SUBs go first).
    pub(crate) fn attach(&mut self, direct: Option<Arc<dyn DirectWrite>>) {
        let mut w = lock(&self.shared.write);
        w.connected = true;
        w.direct = direct;
        w.task_writing = !self.out.is_empty();
        self.holding = w.task_writing;
        drop(w);
        // What was queued while disconnected is taken on the first poll.
        self.shared.writer_kicked.store(true, Ordering::Release);
    }

    /// Runs until the connection is lost or the client is closed.
    pub(crate) async fn run(&mut self) -> Exit {
        poll_fn(|cx| self.poll_run(cx)).await
    }

    /// Fails what was waiting on this connection (flushes whose PING was sent).
    pub(crate) fn fail_waiters(&mut self) {
        for waiter in self.pongs.drain(..) {
            if let PongWaiter::Flush(waiters) = waiter {
                for w in waiters {
                    let _ = w.send(Err(Error::with_detail(
                        ErrorKind::ConnectionClosed,
                        "connection lost before the flush completed",
                    )));
                }
            }
        }
    }

    fn poll_run(&mut self, cx: &mut Context<'_>) -> Poll<Exit> {
        let mut reads = 0;
        loop {
            let mut progress = false;

            if !self.closing && self.shared.close_requested.load(Ordering::Acquire) {
                self.closing = true;
            }

            match self.poll_read(cx) {
                Poll::Ready(Ok(())) => {
                    progress = true;
                    reads += 1;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Exit::Lost(e)),
                Poll::Pending => {}
            }

            match self.poll_write(cx) {
                Poll::Ready(Ok(true)) => progress = true,
                Poll::Ready(Ok(false)) => {
                    if self.closing {
                        return Poll::Ready(Exit::Closed);
                    }
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Exit::Lost(e)),
                Poll::Pending => {}
            }

            let ping_due = (!self.ping_armed || self.ping_timer.is_elapsed())
                && self.ping_timer.as_mut().poll(cx).is_ready();
            self.ping_armed = true;
            if ping_due {
                if self.pings_outstanding >= self.shared.options.max_pings_outstanding {
                    return Poll::Ready(Exit::Lost(Error::with_detail(
                        ErrorKind::Timeout,
                        "stale connection: the server stopped answering pings",
                    )));
                }
                self.shared.write_now(encode_ping);
                self.pongs.push_back(PongWaiter::Keepalive);
                self.pings_outstanding += 1;
                let next = tokio::time::Instant::now() + self.shared.options.ping_interval;
                self.ping_timer.as_mut().reset(next);
                self.ping_armed = false;
                progress = true;
            }

            if !progress {
                return Poll::Pending;
            }
            if reads >= MAX_READS_PER_POLL {
                // Let subscribers drain their channels before reading on: on
                // a busy runtime this keeps their buffers from overflowing.
                let _ = self.poll_write(cx);
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        }
    }

    /// Reads once and handles every whole operation read.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let needed = self.parser.bytes_needed();
        if needed > self.rbuf.len() {
            self.rbuf.reserve(needed - self.rbuf.len());
        }
        if self.rbuf.capacity() - self.rbuf.len() < 4096 {
            self.rbuf.reserve(READ_CHUNK);
        }
        match poll_read_buf(Pin::new(&mut self.io), cx, &mut self.rbuf) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Err(
                Error::with_source(ErrorKind::Io, e).context("reading from the server")
            )),
            Poll::Ready(Ok(0)) => Poll::Ready(Err(Error::with_detail(
                ErrorKind::Io,
                "the server closed the connection",
            ))),
            Poll::Ready(Ok(_)) => {
                // Something was read: the next lone publish may be written
                // directly (see `Shared::write`).
                self.shared.reads.fetch_add(1, Ordering::Relaxed);
                if self.shared.batch_tick.load(Ordering::Relaxed) {
                    // Batched publishes (acks) go out now that the task is awake anyway.
                    self.shared.writer_kicked.store(true, Ordering::Release);
                }
                Poll::Ready(self.handle_ops())
            }
        }
    }

    /// Handles every whole operation in the read buffer.
    ///
    /// Messages are dispatched after the whole buffer is parsed (and before
    /// any other operation, such as an `-ERR` that could end a request or a
    /// `PONG` that ends a drain): a subscriber or requester woken by the first
    /// message would otherwise run while the rest are still parsed, drain what
    /// is there, go back to sleep and be woken again for the rest, one thread
    /// wake-up per few messages instead of one per read; a requester would
    /// also send the requests its replies set off in several writes instead of
    /// one.
    fn handle_ops(&mut self) -> Result<(), Error> {
        let shared = self.shared.clone();
        let mut held = std::mem::take(&mut self.held);
        let (mut in_msgs, mut in_bytes) = (0u64, 0u64);
        let mut pongs = 0usize;
        let result = loop {
            let op = match self.parser.parse(&mut self.rbuf) {
                Ok(Some(op)) => op,
                Ok(None) => break Ok(()),
                Err(e) => break Err(Error::from(e)),
            };
            trace_op(&op);
            if let ServerOp::Msg(msg) = op {
                in_msgs += 1;
                in_bytes += msg.length as u64;
                held.msgs.push(msg);
                if held.msgs.len() >= MAX_HELD_MSGS {
                    dispatch_all(&shared, &mut held);
                }
                continue;
            }
            dispatch_all(&shared, &mut held);
            match op {
                // Held above.
                ServerOp::Msg(_) => {}
                ServerOp::Ok => {}
                ServerOp::Ping => pongs += 1,
                ServerOp::Pong => {
                    self.pings_outstanding = 0;
                    if let Some(PongWaiter::Flush(waiters)) = self.pongs.pop_front() {
                        for w in waiters {
                            let _ = w.send(Ok(()));
                        }
                    }
                }
                ServerOp::Info(info) => {
                    let ldm = info.lame_duck_mode;
                    shared.update_info(*info);
                    if ldm {
                        shared.emit(Event::LameDuckMode);
                    }
                }
                ServerOp::Err(text) => {
                    let lower = text.to_ascii_lowercase();
                    if lower.starts_with("permissions violation") {
                        permissions::refused(&shared, &mut lock(&shared.subs), &text);
                        shared.emit(Event::ServerError(text));
                    } else if lower.starts_with("maximum subscriptions exceeded")
                        || lower.starts_with("invalid subject")
                        || lower.starts_with("invalid publish subject")
                    {
                        shared.emit(Event::ServerError(text));
                    } else {
                        shared.emit(Event::ServerError(text.clone()));
                        break Err(server_error(&text));
                    }
                }
            }
        };
        dispatch_all(&shared, &mut held);
        // Room for a usual batch is kept; what a burst grew is given back.
        held.msgs.shrink_to(MAX_HELD_MSGS);
        held.replies.shrink_to(KEPT_REPLIES);
        held.woken.shrink_to(KEPT_REPLIES);
        self.held = held;
        if pongs > 0 {
            shared.write_now(|buf| (0..pongs).for_each(|_| encode_pong(buf)));
        }
        if in_msgs > 0 {
            let c = &shared.counters;
            c.in_messages.fetch_add(in_msgs, Ordering::Relaxed);
            c.in_bytes.fetch_add(in_bytes, Ordering::Relaxed);
        }
        result
    }

    /// Writes buffered data. `Ready(Ok(true))` when bytes were written,
    /// `Ready(Ok(false))` when there is nothing left to write.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<Result<bool, Error>> {
        let mut wrote = false;
        loop {
            if self.out.is_empty() {
                self.take_shared_buffer(cx);
                if self.out.is_empty() {
                    if wrote {
                        return match Pin::new(&mut self.io).poll_flush(cx) {
                            Poll::Ready(Err(e)) => Poll::Ready(Err(e.into())),
                            _ => Poll::Ready(Ok(true)),
                        };
                    }
                    return Poll::Ready(Ok(false));
                }
            }
            let result = if self.out.is_contiguous() {
                Pin::new(&mut self.io).poll_write(cx, self.out.tail_unwritten())
            } else {
                // Large payloads are queued by reference: one vectored write.
                let mut slices = slice_array();
                let n = self.out.io_slices(&mut slices);
                Pin::new(&mut self.io).poll_write_vectored(cx, &slices[..n])
            };
            match result {
                Poll::Pending => {
                    return if wrote {
                        Poll::Ready(Ok(true))
                    } else {
                        Poll::Pending
                    }
                }
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(Error::with_detail(
                        ErrorKind::Io,
                        "the socket accepted no bytes",
                    )))
                }
                Poll::Ready(Ok(n)) => {
                    self.out.advance(n);
                    wrote = true;
                }
                Poll::Ready(Err(e)) => {
                    return Poll::Ready(Err(
                        Error::with_source(ErrorKind::Io, e).context("writing to the server")
                    ))
                }
            }
        }
    }

    /// Takes what publishers queued into `out` (by swapping queues; `out` is
    /// empty here), and tells publishers whether the task now holds bytes to
    /// write (no direct write may overtake them).
    fn take_shared_buffer(&mut self, cx: &mut Context<'_>) {
        self.shared.writer_waker.register(cx.waker());
        // Registered first, then the flag: a kick after this load wakes us.
        let kicked = self.shared.writer_kicked.swap(false, Ordering::AcqRel);
        if !kicked && !self.deferred && !self.holding && !self.closing {
            // Nothing was queued since the last look and the write state
            // already knows the task holds nothing: leave the lock alone (a
            // publisher writing directly may be holding it for its syscall).
            return;
        }
        let mut w = lock(&self.shared.write);
        // A small write (an ack, a request) is put off by one turn of the
        // scheduler, so that what other tasks publish meanwhile goes out in the
        // same syscall: fewer, larger writes for the server to read.
        // Only while writes come in quick succession: a lone request or
        // publish goes out at once.
        if !self.deferred
            && !self.closing
            && !w.queue.is_empty()
            && w.queue.len() < COALESCE_BELOW
            && w.flush_waiters.is_empty()
            && self
                .last_take
                .is_some_and(|t| t.elapsed() < COALESCE_WITHIN)
        {
            self.deferred = true;
            // Not writing: but the queue is not empty, so no direct write
            // can happen before the task takes it.
            w.task_writing = false;
            self.holding = false;
            drop(w);
            cx.waker().wake_by_ref();
            return;
        }
        self.deferred = false;
        if !w.queue.is_empty() {
            self.last_take = Some(Instant::now());
            std::mem::swap(&mut self.out, &mut w.queue);
            // Batched publishes, if any, go out with this write.
            w.batched = false;
        }
        let waiters = std::mem::take(&mut w.flush_waiters);
        if !waiters.is_empty() {
            encode_ping(self.out.buf());
            self.pongs.push_back(PongWaiter::Flush(waiters));
        }
        w.task_writing = !self.out.is_empty();
        self.holding = w.task_writing;
        let notify = std::mem::take(&mut w.space_waiters);
        drop(w);
        if notify {
            self.shared.space.notify_waiters();
        }
    }
}

/// Hands every message of `msgs` (emptied) to its subscription, in order,
/// under one lock of the subscriptions, waking each subscriber once at the
/// end; then the replies among them to their requests.
fn dispatch_all(shared: &Shared, held: &mut Held) {
    let Held {
        msgs,
        replies,
        woken,
    } = held;
    if !msgs.is_empty() {
        let mut subs = lock(&shared.subs);
        for msg in msgs.drain(..) {
            let sid = msg.sid;
            if dispatch(shared, &mut subs, msg, replies) && woken.last() != Some(&sid) {
                woken.push(sid);
            }
        }
        if woken.len() > 1 {
            woken.sort_unstable();
            woken.dedup();
        }
        for sid in woken.drain(..) {
            if let Some(SubSlot {
                kind: SubKind::Channel { tx, .. },
                ..
            }) = subs.get(&sid)
            {
                tx.wake();
            }
        }
    }
    request::deliver_all(shared, replies);
}

/// Hands `msg` to its subscription (without waking the subscriber: see
/// [`dispatch_all`]); a reply to a request goes to `replies` (see
/// [`Connection::handle_ops`]). Whether a subscriber got a message.
fn dispatch(shared: &Shared, subs: &mut SubMap, msg: MsgOp, replies: &mut Vec<Message>) -> bool {
    let sid = msg.sid;
    let Some(slot) = subs.get_mut(&sid) else {
        return false;
    };
    slot.delivered += 1;
    let done = slot.max.is_some_and(|max| slot.delivered >= max);
    let mut queued = false;
    match &slot.kind {
        SubKind::Channel { tx, pending } => {
            let len = msg.length;
            if pending.admit(len) {
                queued = tx.push(Message::from_op(msg));
                if !queued {
                    // The subscriber is gone; nobody will receive it.
                    pending.release(len);
                }
            } else {
                shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
                let now = Instant::now();
                if slot
                    .last_slow_event
                    .is_none_or(|t| now.duration_since(t) >= SLOW_CONSUMER_EVENT_INTERVAL)
                {
                    slot.last_slow_event = Some(now);
                    shared.emit(Event::SlowConsumer(sid));
                }
            }
        }
        SubKind::Mux => replies.push(Message::from_op(msg)),
    }
    if done {
        // Its queue's end goes with the slot, which wakes the subscriber.
        subs.remove(&sid);
    }
    queued
}

/// A `trace` event per operation from the server (target `nats_core::protocol`):
/// nothing is formatted unless a subscriber enables it.
fn trace_op(op: &ServerOp) {
    if !tracing::enabled!(target: "nats_core::protocol", tracing::Level::TRACE) {
        return;
    }
    match op {
        ServerOp::Msg(msg) => tracing::trace!(
            target: "nats_core::protocol",
            op = if msg.headers.is_some() { "HMSG" } else { "MSG" },
            subject = %msg.subject,
            sid = msg.sid,
            reply = msg.reply.as_deref(),
            bytes = msg.length,
        ),
        ServerOp::Ping => tracing::trace!(target: "nats_core::protocol", op = "PING"),
        ServerOp::Pong => tracing::trace!(target: "nats_core::protocol", op = "PONG"),
        ServerOp::Ok => tracing::trace!(target: "nats_core::protocol", op = "+OK"),
        ServerOp::Info(info) => tracing::trace!(
            target: "nats_core::protocol",
            op = "INFO",
            server = %info.server_id,
            lame_duck_mode = info.lame_duck_mode,
        ),
        ServerOp::Err(text) => {
            tracing::trace!(target: "nats_core::protocol", op = "-ERR", text = %text)
        }
    }
}
