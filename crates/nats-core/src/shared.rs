//! State shared between client handles and the connection task.
//!
//! Publishers encode straight into [`WriteState::queue`] under a short lock;
//! the connection task swaps that queue out and writes it to the socket. A
//! lone publish on an idle plain-TCP connection is written by the publisher
//! itself (a direct write, see [`Shared::write`]). Nothing in here awaits while
//! holding a lock.

use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasherDefault, Hasher};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use futures_util::task::AtomicWaker;
use nats_wire::ServerInfo;
use tokio::sync::{mpsc, oneshot, watch, Notify};

use crate::connection::DirectWrite;
use crate::error::{Error, ErrorKind};
use crate::events::{Counters, Event, State};
use crate::options::ConnectOptions;
use crate::pending::Pending;
use crate::sub_queue::QueueTx;
use crate::write_queue::WriteQueue;

/// A publish that is not request-shaped (see [`WriteState::write_direct`])
/// goes out directly only if no publisher wrote directly or woke the task for
/// this long: publishes in quick succession are left to the task, which
/// writes them in batches.
const DIRECT_QUIET: Duration = Duration::from_micros(100);

/// A batched publish ([`Shared::write_batched`]) is left for the next write
/// only while the queue holds less than this: a larger batch wakes the task.
const BATCH_LIMIT: usize = 32 * 1024;

/// Locks a mutex, recovering the data if a panicking thread poisoned it (our
/// critical sections leave the data consistent at every step).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What publishers write into; swapped out by the connection task.
///
/// Order: every byte reaches the socket under this state's lock, either taken
/// by the task (which sets `task_writing` while it holds bytes not yet
/// written) or written directly by a publisher, which happens only when
/// `queue` is empty and `task_writing` is not set: nothing can be ahead of it.
#[derive(Default)]
pub(crate) struct WriteState {
    pub queue: WriteQueue,
    /// Flushes waiting for the next PING/PONG round trip.
    pub flush_waiters: Vec<oneshot::Sender<Result<(), Error>>>,
    pub connected: bool,
    pub closed: bool,
    /// A publisher is waiting for room; the task notifies `space` after a swap.
    pub space_waiters: bool,
    pub out_messages: u64,
    pub out_bytes: u64,
    /// The socket publishers may write to directly: set while connected over
    /// plain TCP, never for TLS.
    pub direct: Option<Arc<dyn DirectWrite>>,
    /// The task holds bytes it has not finished writing (or is about to
    /// write): no direct write may overtake them.
    pub task_writing: bool,
    /// [`Shared::reads`] as the last write saw it.
    pub seen_reads: u64,
    /// Writes since the read `seen_reads` counts...
    pub read_writes: u32,
    /// ...and between the two reads before it.
    pub prev_read_writes: u32,
    /// When a publisher last wrote directly or woke the task.
    pub busy_at: Option<Instant>,
    /// How many publishes were written directly (diagnostics and tests).
    pub direct_writes: u64,
    /// Batched or deferred publishes are queued that nobody woke the task
    /// for: the next ordinary write, the sweeper's batch tick, or (deferred)
    /// their writer's flush does.
    pub batched: bool,
    /// A batched publish came in since the sweeper's last batch tick.
    pub batched_since_tick: bool,
}

impl std::fmt::Debug for WriteState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteState")
            .field("queued", &self.queue.len())
            .field("connected", &self.connected)
            .field("direct", &self.direct.is_some())
            .field("task_writing", &self.task_writing)
            .finish_non_exhaustive()
    }
}

impl WriteState {
    /// Counts a write in the rhythm of the connection: how many writes come
    /// between two socket reads.
    fn count_write(&mut self, reads: u64) {
        if reads != self.seen_reads {
            self.seen_reads = reads;
            self.prev_read_writes = self.read_writes;
            self.read_writes = 0;
        }
        self.read_writes = self.read_writes.saturating_add(1);
    }

    /// Writes what the queue holds straight to the socket if it is one lone
    /// publish on an idle plain-TCP connection; returns whether everything
    /// was written (then the task need not be woken).
    ///
    /// Lone means request-shaped (the first write since a read, after at
    /// most one write between the reads before: a request, a reply, a
    /// synchronous publish), or, with nothing read since the last write, the
    /// first after [`DIRECT_QUIET`] (a publisher that sends now and then). A
    /// write in a stream (async publishes while their acks come in, acks of a
    /// batch of messages, a publishing loop) goes to the task, which batches.
    fn write_direct(&mut self) -> bool {
        if !self.idle_for_direct() {
            return false;
        }
        let first_since_read = self.read_writes == 1;
        if first_since_read && self.prev_read_writes > 1 {
            // The first of a burst that reads set off.
            return false;
        }
        let now = Instant::now();
        if !first_since_read
            && self
                .busy_at
                .is_some_and(|t| now.duration_since(t) < DIRECT_QUIET)
        {
            return false;
        }
        self.write_queued_direct(now)
    }

    /// Whether a publisher may write to the socket itself: connected over
    /// plain TCP, the task holding nothing, no flush waiting for its PING.
    fn idle_for_direct(&self) -> bool {
        self.direct.is_some()
            && self.connected
            && !self.task_writing
            && self.flush_waiters.is_empty()
            && self.queue.is_contiguous()
            && self.queue.written() == 0
    }

    /// Writes what the queue holds with one non-blocking write (the caller
    /// checked [`WriteState::idle_for_direct`]); returns whether all of it
    /// went.
    ///
    /// What the socket does not take stays queued, its written part
    /// remembered (see [`WriteQueue::unwind_written`] for a connection lost
    /// meanwhile).
    fn write_queued_direct(&mut self, now: Instant) -> bool {
        let Some(direct) = &self.direct else {
            return false;
        };
        let bytes = self.queue.tail_unwritten();
        let len = bytes.len();
        // An error (the connection is breaking) leaves everything queued:
        // the task finds the error itself.
        let n = direct.try_write(bytes).unwrap_or(0);
        if n == 0 {
            return false;
        }
        self.busy_at = Some(now);
        self.direct_writes += 1;
        self.queue.advance(n);
        n == len
    }
}

/// What a write that finds room in the buffer does about sending it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WriteMode {
    /// Sends it now: written directly, or the task woken.
    Now,
    /// Leaves it for the next write, socket read or batch tick
    /// ([`Shared::write_batched`]).
    Batched,
    /// Leaves it for its writer's [`Shared::flush_deferred`], which must
    /// follow soon: a request calls it when its [`Response`](crate::Response)
    /// is polled a second time, or dropped, once the caller's executor has
    /// polled what else was ready. The requests of that pass then leave in one
    /// write, made by the caller, instead of one wake-up of the connection
    /// task each.
    Deferred,
}

/// A publish waiting for room in the write buffer.
type Waiting<'a> = Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>>;

/// The rest of a [`Shared::write`]: nothing (the publish was encoded; it
/// only gives the scheduler its due), or waiting for room.
#[must_use]
pub(crate) struct WriteFuture<'a>(Option<Waiting<'a>>);

impl Future for WriteFuture<'_> {
    type Output = Result<(), Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.0 {
            Some(waiting) => waiting.as_mut().poll(cx),
            None => {
                // Publishing never blocks while there is room, so give other
                // tasks (subscribers, the connection task on a current-thread
                // runtime) a turn now and then, as tokio's own resources do.
                std::task::ready!(tokio::task::coop::poll_proceed(cx)).made_progress();
                Poll::Ready(Ok(()))
            }
        }
    }
}

/// The subscriptions by sid. Sids are small consecutive numbers the client
/// hands out itself, so they need no DoS-resistant hash: [`SidHasher`] is a
/// multiply (every message the connection task dispatches looks its sid up).
pub(crate) type SubMap = HashMap<u64, SubSlot, BuildHasherDefault<SidHasher>>;

/// Hashes a sid by Fibonacci hashing: one multiply spreads consecutive sids
/// over the high bits (the table's tags) and keeps them apart in the low ones
/// (its buckets).
#[derive(Default)]
pub(crate) struct SidHasher(u64);

impl Hasher for SidHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not used for u64 keys; folds any other input in byte by byte.
        for &b in bytes {
            self.write_u64(self.0.rotate_left(8) ^ u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// One subscription as the connection task sees it.
#[derive(Debug)]
pub(crate) struct SubSlot {
    pub subject: String,
    pub queue_group: Option<String>,
    pub kind: SubKind,
    /// Auto-unsubscribe after this many messages in total.
    pub max: Option<u64>,
    pub delivered: u64,
    /// When the last slow-consumer event for this subscription was sent.
    pub last_slow_event: Option<std::time::Instant>,
}

#[derive(Debug)]
pub(crate) enum SubKind {
    /// A user subscription: its queue, bounded by the pending limits that
    /// `pending` enforces (the queue itself is unbounded).
    Channel { tx: QueueTx, pending: Arc<Pending> },
    /// The shared request inbox (`<prefix>.<nuid>.*`): replies are matched by token.
    Mux,
}

/// Requests waiting for their reply on the shared inbox.
#[derive(Debug, Default)]
pub(crate) struct Requests {
    pub waiters: crate::waiters::Waiters,
    pub next_token: u64,
    /// The server refused the shared inbox subscription on this connection
    /// (its `-ERR` text): no reply can come, so requests fail at once.
    pub inbox_refused: Option<String>,
    /// When the sweeper wakes next: no later than the earliest deadline of
    /// the requests in flight (see [`crate::deadlines`]).
    pub sweep_at: Option<tokio::time::Instant>,
}

pub(crate) struct Shared {
    pub options: ConnectOptions,
    pub write: Mutex<WriteState>,
    /// Wakes the connection task when there is something to write.
    pub writer_waker: AtomicWaker,
    /// Set (before the wake) by everything that gives the task something to
    /// take from the write state; the task clears it when it looks. While it
    /// is clear and the task holds nothing, the task's poll does not take the
    /// write lock, which a direct writer may hold across its syscall.
    pub writer_kicked: AtomicBool,
    /// Wakes publishers waiting for room in the write buffer.
    pub space: Notify,
    pub subs: Mutex<SubMap>,
    pub next_sid: AtomicU64,
    pub requests: Mutex<Requests>,
    /// Wakes the request-deadline sweeper to re-arm (an earlier deadline,
    /// the batch tick started, or the client closed).
    pub sweeper: Notify,
    /// The sweeper ticks every [`BATCH_TICK`](crate::deadlines::BATCH_TICK)
    /// to send out batched publishes that no later write took along; set
    /// while batched publishes keep coming (changed under the write lock).
    pub batch_tick: AtomicBool,
    /// `<inbox_prefix>.<nuid>.`: the prefix of request reply subjects.
    pub mux_prefix: String,
    pub info: Mutex<Arc<ServerInfo>>,
    pub max_payload: AtomicUsize,
    pub headers_supported: AtomicBool,
    pub state: watch::Sender<State>,
    pub counters: Counters,
    pub events: Option<mpsc::Sender<Event>>,
    /// Socket reads made by the connection task: the rhythm of reads and
    /// writes tells request-shaped work (see [`WriteState::write_direct`]).
    pub reads: AtomicU64,
    /// Set once the user asked to close; the task exits when it sees it.
    pub close_requested: AtomicBool,
    /// Number of live `Client` handles (clones and subscribers).
    pub handles: AtomicUsize,
    /// Wakes the connection task out of reconnect back-off when closing.
    pub closing: Notify,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("state", &*self.state.borrow())
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn emit(&self, event: Event) {
        if let Some(tx) = &self.events {
            // Bounded: if the callback is slow, events are dropped rather than
            // stalling the connection.
            let _ = tx.try_send(event);
        }
    }

    pub(crate) fn current_state(&self) -> State {
        *self.state.borrow()
    }

    /// Encodes something into the write buffer, waiting for room if the buffer
    /// is full while connected, failing if it is full while disconnected.
    ///
    /// A wait ends when the connection task makes room, when the connection
    /// is lost (the disconnected rules then apply) and when the client closes
    /// (then it fails with `ConnectionClosed`): see [`Shared::release_writers`].
    ///
    /// `len` is the number of bytes `encode` will write (an estimate is fine).
    ///
    /// On an idle plain-TCP connection (nothing queued, the task not writing)
    /// a lone publish is written to the socket here, by the caller, with a
    /// non-blocking write under the write lock; what the socket does not take
    /// stays queued for the task.
    ///
    /// The encoding happens in this call (or, when the buffer is full, in the
    /// returned future once there is room); the future stays small, as
    /// publish futures are moved around by their callers.
    pub(crate) fn write<'a, F>(
        &'a self,
        len: usize,
        stats: (u64, u64),
        encode: F,
    ) -> Result<WriteFuture<'a>, Error>
    where
        F: FnOnce(&mut WriteQueue) + Send + 'a,
    {
        self.write_as(len, stats, encode, WriteMode::Now)
    }

    /// Like [`Shared::write`], but a publish that finds room is left in the
    /// queue without waking the connection task: it goes out with the next
    /// ordinary write, a flush, or at the latest on the sweeper's next batch
    /// tick ([`BATCH_TICK`](crate::deadlines::BATCH_TICK)) — for a burst of
    /// small publishes (acknowledgements of a batch of messages) that should
    /// leave in one syscall.
    pub(crate) fn write_batched<'a, F>(
        &'a self,
        len: usize,
        stats: (u64, u64),
        encode: F,
    ) -> Result<WriteFuture<'a>, Error>
    where
        F: FnOnce(&mut WriteQueue) + Send + 'a,
    {
        self.write_as(len, stats, encode, WriteMode::Batched)
    }

    /// Sends what deferred writes ([`WriteMode::Deferred`]) left queued,
    /// unless a write, read or tick took it along meanwhile: with one direct
    /// write when the connection is idle plain TCP, else by waking the task.
    pub(crate) fn flush_deferred(&self) {
        let mut w = lock(&self.write);
        if !w.batched || !w.connected {
            // Sent already, or kept for the reconnect.
            return;
        }
        w.batched = false;
        let now = Instant::now();
        let mut wake = true;
        if w.direct.is_some() {
            w.count_write(self.reads.load(Ordering::Relaxed));
            if w.idle_for_direct() {
                wake = !w.write_queued_direct(now);
            }
        }
        if wake {
            w.busy_at = Some(now);
        }
        drop(w);
        if wake {
            self.kick_writer();
        }
    }

    /// [`Shared::write`] with the given [`WriteMode`].
    pub(crate) fn write_as<'a, F>(
        &'a self,
        len: usize,
        stats: (u64, u64),
        encode: F,
        mode: WriteMode,
    ) -> Result<WriteFuture<'a>, Error>
    where
        F: FnOnce(&mut WriteQueue) + Send + 'a,
    {
        let mut encode = Some(encode);
        // Fast path: room in the buffer, no waiter registration at all.
        if self.try_write(len, stats, &mut encode, false, mode)? {
            return Ok(WriteFuture(None));
        }
        // One allocation per publish that waits for room.
        Ok(WriteFuture(Some(Box::pin(
            self.write_waiting(len, stats, encode),
        ))))
    }

    /// [`Shared::write`] once the buffer was full: waits for room.
    async fn write_waiting<F>(
        &self,
        len: usize,
        stats: (u64, u64),
        mut encode: Option<F>,
    ) -> Result<(), Error>
    where
        F: FnOnce(&mut WriteQueue),
    {
        loop {
            let notified = self.space.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.try_write(len, stats, &mut encode, true, WriteMode::Now)? {
                return Ok(());
            }
            notified.await;
        }
    }

    /// Encodes if the buffer has room; otherwise (when `register` is set) marks
    /// that a publisher waits for space. A batched or deferred write leaves the
    /// task asleep (see [`WriteMode`]).
    fn try_write<F>(
        &self,
        len: usize,
        stats: (u64, u64),
        encode: &mut Option<F>,
        register: bool,
        mode: WriteMode,
    ) -> Result<bool, Error>
    where
        F: FnOnce(&mut WriteQueue),
    {
        let mut w = lock(&self.write);
        // Once close() is asked for, nothing new goes in (what is buffered is
        // still written out), and a publisher waiting for room fails now
        // rather than when the connection is done.
        if w.closed || self.close_requested.load(Ordering::Acquire) {
            return Err(Error::closed());
        }
        let used = w.queue.len();
        let fits = if w.connected {
            used == 0 || used + len <= self.options.write_buffer_size
        } else {
            if used + len > self.options.reconnect_buffer_size {
                return Err(Error::with_detail(
                    ErrorKind::ReconnectBufferFull,
                    format!(
                        "disconnected and the reconnect buffer of {} bytes is full",
                        self.options.reconnect_buffer_size
                    ),
                ));
            }
            true
        };
        if !fits {
            if register {
                w.space_waiters = true;
            }
            // Batched bytes nobody woke the task for must not keep a
            // publisher waiting for room.
            let kick = std::mem::take(&mut w.batched);
            drop(w);
            if kick {
                self.kick_writer();
            }
            return Ok(false);
        }
        if let Some(encode) = encode.take() {
            encode(&mut w.queue);
        }
        w.out_messages += stats.0;
        w.out_bytes += stats.1;
        if mode == WriteMode::Deferred && used + len < BATCH_LIMIT {
            // Its writer flushes it: no tick needed.
            w.batched = true;
            return Ok(true);
        }
        if mode == WriteMode::Batched && used + len < BATCH_LIMIT {
            w.batched = true;
            w.batched_since_tick = true;
            let start_tick = !self.batch_tick.swap(true, Ordering::AcqRel);
            drop(w);
            if start_tick {
                self.sweeper.notify_one();
            }
            return Ok(true);
        }
        // Batched bytes ahead of this write go out with it.
        let mut wake = (used == 0 || std::mem::take(&mut w.batched)) && w.connected;
        if w.direct.is_some() {
            w.count_write(self.reads.load(Ordering::Relaxed));
            if wake {
                wake = !w.write_direct();
                if wake {
                    w.busy_at = Some(Instant::now());
                }
            }
        }
        drop(w);
        if wake {
            self.kick_writer();
        }
        Ok(true)
    }

    /// The sweeper's batch tick: wakes the task for batched publishes that no
    /// later write took along, and ends the ticking once a tick saw no new
    /// batched publish. Returns whether to keep ticking.
    pub(crate) fn tick_batched(&self) -> bool {
        let mut w = lock(&self.write);
        let kick = std::mem::take(&mut w.batched) && w.connected;
        let active = std::mem::take(&mut w.batched_since_tick);
        if !active {
            // Under the write lock: a batched publish after this starts the
            // tick again.
            self.batch_tick.store(false, Ordering::Release);
        }
        drop(w);
        if kick {
            self.kick_writer();
        }
        active
    }

    /// Like [`Shared::write`] but never waits: control messages (UNSUB from
    /// `Drop`, PONG) must not block, and are small.
    pub(crate) fn write_now<F>(&self, encode: F)
    where
        F: FnOnce(&mut BytesMut),
    {
        let mut w = lock(&self.write);
        if w.closed {
            return;
        }
        // Batched bytes ahead of it go out with it.
        let wake = w.queue.is_empty() || std::mem::take(&mut w.batched);
        encode(w.queue.buf());
        let connected = w.connected;
        drop(w);
        if wake && connected {
            self.kick_writer();
        }
    }

    /// Tells the connection task to look at the write state (something was
    /// queued, a flush waits, or the client closes) and wakes it.
    pub(crate) fn kick_writer(&self) {
        self.writer_kicked.store(true, Ordering::Release);
        self.writer_waker.wake();
    }

    /// Wakes every publisher waiting for room, to try again under the state
    /// now: called when the connection is lost and when closing.
    pub(crate) fn release_writers(&self) {
        self.space.notify_waiters();
    }

    pub(crate) fn next_sid(&self) -> u64 {
        self.next_sid.fetch_add(1, Ordering::Relaxed)
    }

    /// Removes a subscription (its channel closes once the slot is dropped).
    pub(crate) fn remove_sub(&self, sid: u64) -> Option<SubSlot> {
        lock(&self.subs).remove(&sid)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    use super::*;

    #[test]
    fn consecutive_sids_spread_over_tags_and_buckets() {
        let build = BuildHasherDefault::<SidHasher>::default();
        let hashes: Vec<u64> = (1..=256u64).map(|sid| build.hash_one(sid)).collect();
        // The table's tag is the top 7 bits, its bucket the low bits.
        let tags: HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        let buckets: HashSet<u64> = hashes.iter().map(|h| h & 255).collect();
        assert!(tags.len() > 100, "{} distinct tags", tags.len());
        assert_eq!(buckets.len(), 256);
    }
}
