//! The write path over a mock socket: publishers writing directly and the
//! connection task writing what was queued share one byte stream, which the
//! mock records so that the tests can parse it back frame by frame.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use nats_wire::{Parser, ServerInfo};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use tokio::task::JoinHandle;

use super::direct::DirectWrite;
use super::handshake::Established;
use super::{new_shared, serve, Exit};
use crate::options::ConnectOptions;
use crate::shared::{lock, Shared};
use crate::Client;

mod batched;
mod deferred;

/// The sending side of a mock socket.
#[derive(Default)]
struct Wire {
    s: Mutex<WireState>,
}

#[derive(Default)]
struct WireState {
    /// Everything accepted, in order, from both paths.
    data: Vec<u8>,
    /// How much each next write call accepts (0: nothing, would block).
    script: VecDeque<usize>,
    /// Past the script: a pseudo-random amount (when `seed` is set: nothing,
    /// up to `max_write`, or everything), or else `max_write`.
    max_write: usize,
    seed: u64,
    /// Accept nothing until `resume` (the server stopped reading).
    stalled: bool,
    broken: bool,
    waker: Option<Waker>,
    direct_calls: usize,
    direct_bytes: usize,
    task_bytes: usize,
    /// What the task offered and the socket did not take, at its last write
    /// call: lost with the connection if it breaks then.
    task_unwritten: Vec<u8>,
}

impl WireState {
    fn next_limit(&mut self) -> usize {
        if self.stalled {
            return 0;
        }
        if let Some(n) = self.script.pop_front() {
            return n;
        }
        if self.seed == 0 {
            return self.max_write;
        }
        // xorshift64
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        // Now and then nothing at all, often a little, mostly everything.
        match self.seed % 16 {
            0 => 0,
            1..=5 => (self.seed >> 8) as usize % self.max_write + 1,
            _ => usize::MAX,
        }
    }

    /// Takes what the next write call accepts of `bufs`.
    fn accept(&mut self, bufs: &[IoSlice<'_>]) -> usize {
        let mut left = self.next_limit();
        let mut n = 0;
        for b in bufs {
            let take = b.len().min(left);
            self.data.extend_from_slice(&b[..take]);
            left -= take;
            n += take;
            if left == 0 {
                break;
            }
        }
        n
    }
}

impl Wire {
    fn new(max_write: usize, seed: u64) -> Arc<Wire> {
        let wire = Wire::default();
        {
            let mut s = wire.s.lock().unwrap();
            s.max_write = max_write;
            s.seed = seed;
        }
        Arc::new(wire)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, WireState> {
        self.s.lock().unwrap()
    }

    fn data(&self) -> Vec<u8> {
        self.state().data.clone()
    }

    fn resume(&self) {
        let waker = {
            let mut s = self.state();
            s.stalled = false;
            s.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl DirectWrite for Wire {
    fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        let mut s = self.state();
        s.direct_calls += 1;
        if s.broken {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        match s.accept(&[IoSlice::new(buf)]) {
            0 => Err(io::ErrorKind::WouldBlock.into()),
            n => {
                s.direct_bytes += n;
                Ok(n)
            }
        }
    }
}

/// The connection task's side: reads from a duplex pipe (the test plays the
/// server), writes into the wire.
struct MockIo {
    read: DuplexStream,
    wire: Arc<Wire>,
}

impl AsyncRead for MockIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.read).poll_read(cx, buf)
    }
}

impl AsyncWrite for MockIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let mut s = self.wire.state();
        // Each failed call ends the task's write loop; a partial one is
        // followed by another call at once.
        let offered = || bufs.iter().flat_map(|b| b.iter().copied()).collect();
        if s.broken {
            s.task_unwritten = offered();
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let n = s.accept(bufs);
        s.task_unwritten.clear();
        if n == 0 {
            s.task_unwritten = offered();
            if s.stalled {
                s.waker = Some(cx.waker().clone());
            } else {
                // Readiness flapped: ready again at once.
                cx.waker().wake_by_ref();
            }
            return Poll::Pending;
        }
        s.task_bytes += n;
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// One connection of `shared` over a mock socket, served as `run` serves a
/// real one; `direct` as the handshake decides (plain TCP: yes, TLS: no).
/// Returns the server's end of the read pipe and the serving task.
fn serve_over(
    shared: &Arc<Shared>,
    wire: &Arc<Wire>,
    direct: bool,
) -> (DuplexStream, JoinHandle<Exit>) {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let direct: Option<Arc<dyn DirectWrite>> = if direct { Some(wire.clone()) } else { None };
    let est = Established {
        io: Box::new(MockIo {
            read: client_io,
            wire: wire.clone(),
        }),
        direct,
        info: ServerInfo::default(),
        rbuf: BytesMut::new(),
        parser: Parser::new(),
    };
    let shared = shared.clone();
    let task = tokio::spawn(async move { serve(&shared, est).await });
    (server_io, task)
}

/// A client (no connection yet) and its shared state.
fn client(options: ConnectOptions) -> (Client, Arc<Shared>) {
    let shared = new_shared(options);
    (Client::from_shared(shared.clone()), shared)
}

/// Waits (bounded) until `cond` holds.
async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Waits until the connection wrote its SUBs and everything queued.
async fn started(shared: &Shared, wire: &Wire) {
    wait_until("the SUBs", || wire.data().starts_with(b"SUB ")).await;
    drained(shared).await;
}

/// Waits until the task has written everything queued.
async fn drained(shared: &Shared) {
    let mut last;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        {
            let w = lock(&shared.write);
            if w.queue.is_empty() && !w.task_writing {
                return;
            }
            last = format!("{w:?} out_bytes {} msgs {}", w.out_bytes, w.out_messages);
        }
        assert!(Instant::now() < deadline, "the queue never drained: {last}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// A frame on the wire.
#[derive(Debug, PartialEq)]
enum Frame {
    Pub { subject: String, payload: Vec<u8> },
    Other(String),
}

/// Parses `data` into frames; returns them and the length of an incomplete
/// frame at the end. Anything that is not a whole client operation (bytes
/// from two writes interleaved, a tail without its head) panics.
fn frames(data: &[u8]) -> (Vec<Frame>, usize) {
    let mut out = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let rest = &data[at..];
        let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else {
            return (out, rest.len());
        };
        let line = std::str::from_utf8(&rest[..eol]).expect("control line is UTF-8");
        let words: Vec<&str> = line.split(' ').collect();
        match words[0] {
            "PUB" => {
                let size: usize = words.last().unwrap().parse().expect("PUB size");
                let end = eol + 2 + size + 2;
                if rest.len() < end {
                    return (out, rest.len());
                }
                assert_eq!(&rest[end - 2..end], b"\r\n", "PUB payload ends with CRLF");
                out.push(Frame::Pub {
                    subject: words[1].to_string(),
                    payload: rest[eol + 2..eol + 2 + size].to_vec(),
                });
                at += end;
            }
            "SUB" | "UNSUB" | "PING" | "PONG" => {
                out.push(Frame::Other(line.to_string()));
                at += eol + 2;
            }
            _ => panic!("garbage on the wire: {line:?}"),
        }
    }
    (out, 0)
}

/// `(publisher, sequence)` of the test publishes in `frames`.
fn ids(frames: &[Frame]) -> Vec<(u32, u32)> {
    frames
        .iter()
        .filter_map(|f| match f {
            Frame::Pub { payload, .. } => {
                let s = std::str::from_utf8(payload).unwrap();
                let (p, q) = s.split_once(':')?;
                Some((p.parse().unwrap(), q.trim_end_matches('.').parse().unwrap()))
            }
            Frame::Other(_) => None,
        })
        .collect()
}

/// The payload of publish `seq` of publisher `p` (some long enough to be
/// queued by reference when `big` is set).
fn payload(p: u32, seq: u32, big: bool) -> Bytes {
    let mut s = format!("{p}:{seq}");
    if big && seq % 29 == 3 {
        s.push_str(&".".repeat(crate::write_queue::BY_REFERENCE.min(1 << 20)));
    }
    Bytes::from(s)
}

/// Publishes `count` messages as publisher `p`, pausing now and then so that
/// some of them find the connection idle (and go out directly).
fn publisher(client: &Client, p: u32, count: u32, big: bool) -> JoinHandle<()> {
    let client = client.clone();
    tokio::spawn(async move {
        for seq in 0..count {
            client
                .publish(format!("p.{p}"), payload(p, seq, big))
                .await
                .unwrap();
            match (seq + p) % 23 {
                0 => tokio::time::sleep(Duration::from_millis(1)).await,
                1..=5 => tokio::task::yield_now().await,
                _ => {}
            }
        }
    })
}

/// Each publisher's sequence numbers in `ids` increase.
fn assert_ordered(ids: &[(u32, u32)]) {
    let mut last: HashMap<u32, u32> = HashMap::new();
    for &(p, q) in ids {
        if let Some(prev) = last.insert(p, q) {
            assert!(q > prev, "publisher {p}: {q} after {prev}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_publishers_keep_their_order_across_direct_and_queued_writes() {
    for (round, big) in [(1u64, false), (2, true), (3, false)] {
        let (client, shared) = client(ConnectOptions::new());
        // Writes of random sizes, some refused: partial writes on both paths.
        let wire = Wire::new(48, 0x9e37_79b9 * round);
        let (mut server, _task) = serve_over(&shared, &wire, true);
        const PUBLISHERS: u32 = 8;
        const EACH: u32 = 300;
        let publishers: Vec<_> = (0..PUBLISHERS)
            .map(|p| publisher(&client, p, EACH, big))
            .collect();
        // The server talks too: every read allows a direct write again.
        for _ in 0..20 {
            server.write_all(b"PING\r\n").await.unwrap();
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        for p in publishers {
            p.await.unwrap();
        }
        drained(&shared).await;
        let (frames, partial) = frames(&wire.data());
        assert_eq!(partial, 0);
        let ids = ids(&frames);
        assert_eq!(ids.len(), (PUBLISHERS * EACH) as usize, "each publish once");
        assert_ordered(&ids);
        let s = wire.state();
        assert!(
            client.direct_writes() > 0 && s.direct_bytes > 0,
            "some publishes went out directly"
        );
        assert!(
            s.task_bytes > 1000,
            "some were written by the task ({} bytes)",
            s.task_bytes
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_partial_direct_write_leaves_the_rest_to_the_task() {
    let (client, shared) = client(ConnectOptions::new());
    let wire = Wire::new(usize::MAX, 0);
    let (mut server, _task) = serve_over(&shared, &wire, true);
    started(&shared, &wire).await;
    let subs = wire.data().len();

    // The socket takes 5 bytes of the lone publish; the task writes the rest,
    // and what is published meanwhile queues behind it.
    wire.state().script.push_back(5);
    client.publish("a", "hello").await.unwrap();
    assert_eq!(&wire.data()[subs..], b"PUB a");
    assert_eq!(client.direct_writes(), 1);
    client.publish("b", "x").await.unwrap();
    assert_eq!(wire.state().direct_calls, 1, "the queue is not empty");
    drained(&shared).await;
    assert_eq!(
        &wire.data()[subs..],
        b"PUB a 5\r\nhello\r\nPUB b 1\r\nx\r\n"
    );

    // The next read sets off a publish; but two were written between the
    // last reads (a burst, not a request and its reply): left to the task.
    server.write_all(b"PING\r\n").await.unwrap();
    wait_until("the PONG", || wire.data().ends_with(b"PONG\r\n")).await;
    client.publish("c", "1").await.unwrap();
    assert_eq!(wire.state().direct_calls, 1);
    drained(&shared).await;
    // One publish per read: request-shaped, written directly. The socket
    // refuses this one (would block): it stays queued for the task.
    server.write_all(b"PING\r\n").await.unwrap();
    wait_until("the PONG", || wire.data().ends_with(b"PONG\r\n")).await;
    let before = wire.data().len();
    wire.state().script.push_back(0);
    client.publish("d", "2").await.unwrap();
    assert_eq!(wire.state().direct_calls, 2);
    assert_eq!(wire.data().len(), before, "nothing written");
    drained(&shared).await;
    let (frames, partial) = frames(&wire.data()[subs..]);
    assert_eq!(partial, 0);
    let subjects: Vec<_> = frames
        .iter()
        .filter_map(|f| match f {
            Frame::Pub { subject, .. } => Some(subject.as_str()),
            Frame::Other(_) => None,
        })
        .collect();
    assert_eq!(subjects, ["a", "b", "c", "d"]);
    assert_eq!(client.direct_writes(), 1, "a refused write is not counted");
}

#[tokio::test(flavor = "current_thread")]
async fn a_publish_partly_written_when_the_connection_breaks_is_replayed_whole() {
    let (client, shared) = client(ConnectOptions::new());
    let wire1 = Wire::new(usize::MAX, 0);
    let (server1, task1) = serve_over(&shared, &wire1, true);
    started(&shared, &wire1).await;
    let subs = wire1.data().len();

    wire1.state().script.push_back(5);
    client.publish("a", "hello").await.unwrap();
    client.publish("b", "x").await.unwrap();
    // The connection breaks before the task takes the rest (the task has not
    // run since: this is a current-thread runtime).
    wire1.state().broken = true;
    drop(server1);
    assert!(matches!(task1.await.unwrap(), Exit::Lost(_)));
    assert_eq!(&wire1.data()[subs..], b"PUB a");
    client.publish("c", "y").await.unwrap();

    let wire2 = Wire::new(usize::MAX, 0);
    let (_server2, _task2) = serve_over(&shared, &wire2, true);
    started(&shared, &wire2).await;
    let (frames, partial) = frames(&wire2.data());
    assert_eq!(partial, 0);
    let pubs: Vec<_> = frames
        .into_iter()
        .filter(|f| matches!(f, Frame::Pub { .. }))
        .collect();
    let publish = |s: &str, p: &[u8]| Frame::Pub {
        subject: s.into(),
        payload: p.into(),
    };
    assert_eq!(
        pubs,
        [
            publish("a", b"hello"),
            publish("b", b"x"),
            publish("c", b"y")
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_writes_racing_a_disconnect_lose_and_duplicate_nothing() {
    let mut direct_total = 0;
    for round in 1..=6u64 {
        let (client, shared) = client(ConnectOptions::new());
        let wire1 = Wire::new(40, 0x2545_f491 * round);
        let (mut server1, task1) = serve_over(&shared, &wire1, true);
        const PUBLISHERS: u32 = 6;
        const EACH: u32 = 400;
        let publishers: Vec<_> = (0..PUBLISHERS)
            .map(|p| publisher(&client, p, EACH, round % 2 == 0))
            .collect();
        // Break the connection while they publish, at a varying moment.
        for _ in 0..round {
            server1.write_all(b"PING\r\n").await.unwrap();
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        wire1.state().broken = true;
        drop(server1);
        assert!(matches!(task1.await.unwrap(), Exit::Lost(_)));
        direct_total += client.direct_writes();
        // Reconnected: the reconnect buffer goes out on the new connection.
        let wire2 = Wire::new(40, 0x2545_f491 * round + 1);
        let (_server2, _task2) = serve_over(&shared, &wire2, true);
        for p in publishers {
            p.await.unwrap();
        }
        drained(&shared).await;

        // Connection 1: whole frames, then perhaps the head of one. What
        // the task held unwritten when it broke is lost with it (and follows
        // on from what connection 1 got).
        let data1 = wire1.data();
        let unwritten = wire1.state().task_unwritten.clone();
        let (frames1, partial1) = frames(&data1);
        let mut intended = data1.clone();
        intended.extend_from_slice(&unwritten);
        let (all1, rest) = frames(&intended);
        if !unwritten.is_empty() {
            assert_eq!(rest, 0, "the task held whole frames");
        }
        let (frames2, partial2) = frames(&wire2.data());
        assert_eq!(partial2, 0);
        let (ids1, held, ids2) = (ids(&frames1), ids(&all1[frames1.len()..]), ids(&frames2));
        assert_ordered(&ids1);
        assert_ordered(&ids2);
        let on1: HashSet<_> = ids1.iter().copied().collect();
        let on2: HashSet<_> = ids2.iter().copied().collect();
        assert_eq!(on1.len(), ids1.len(), "no duplicate on connection 1");
        assert_eq!(on2.len(), ids2.len(), "no duplicate on connection 2");
        assert!(on1.is_disjoint(&on2), "nothing written twice");
        for p in 0..PUBLISHERS {
            for q in 0..EACH {
                let id = (p, q);
                assert!(
                    on1.contains(&id) || on2.contains(&id) || held.contains(&id),
                    "round {round}: {id:?} lost (connection 1 got {} publishes, \
                     connection 2 {}, the task held {})",
                    ids1.len(),
                    ids2.len(),
                    held.len()
                );
            }
        }
        // When the task held nothing, nothing at all is lost: a publish cut
        // off on connection 1 (partly written directly) went out whole on
        // connection 2.
        if unwritten.is_empty() {
            assert_eq!(
                ids1.len() + ids2.len(),
                (PUBLISHERS * EACH) as usize,
                "round {round}: cut off {partial1} bytes"
            );
        }
    }
    assert!(direct_total > 0, "some publishes went out directly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_in_quick_succession_are_batched() {
    let (client, shared) = client(ConnectOptions::new());
    let wire = Wire::new(usize::MAX, 0);
    let (_server, _task) = serve_over(&shared, &wire, true);
    started(&shared, &wire).await;
    let start = Instant::now();
    for seq in 0..5000 {
        client.publish("q", payload(0, seq, false)).await.unwrap();
    }
    let elapsed = start.elapsed();
    drained(&shared).await;
    // At most one direct write per quiet period (100 µs) with nothing read.
    let bound = 2 + elapsed.as_micros() as u64 / 100;
    let direct = client.direct_writes();
    assert!(
        direct <= bound,
        "{direct} direct writes in {elapsed:?} (at most {bound})"
    );
    let (frames, _) = frames(&wire.data());
    assert_eq!(ids(&frames).len(), 5000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_direct_socket_the_task_writes_everything() {
    // As over TLS: the handshake hands no direct socket.
    let (client, shared) = client(ConnectOptions::new());
    let wire = Wire::new(usize::MAX, 0);
    let (mut server, _task) = serve_over(&shared, &wire, false);
    for seq in 0..50 {
        server.write_all(b"PING\r\n").await.unwrap();
        client.publish("t", payload(0, seq, false)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    drained(&shared).await;
    assert_eq!(client.direct_writes(), 0);
    assert_eq!(wire.state().direct_calls, 0);
    let (frames, _) = frames(&wire.data());
    assert_eq!(ids(&frames).len(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_pressure_bounds_the_queue_with_direct_writes_and_large_payloads() {
    const BUFFER: usize = 64 * 1024;
    let (client, shared) = client(ConnectOptions::new().write_buffer_size(BUFFER));
    let wire = Wire::new(usize::MAX, 0);
    let (_server, _task) = serve_over(&shared, &wire, true);
    started(&shared, &wire).await;
    // The server stops reading.
    wire.state().stalled = true;
    let big = crate::write_queue::BY_REFERENCE.max(16 * 1024);
    let largest = big + 64;
    let publishing = {
        let client = client.clone();
        tokio::spawn(async move {
            for seq in 0..400u32 {
                let mut payload = format!("0:{seq}").into_bytes();
                if seq % 5 == 0 {
                    payload.resize(big, b'.');
                } else {
                    payload.resize(1000, b'.');
                }
                client.publish("bp", payload).await.unwrap();
            }
        })
    };
    let mut peak = 0;
    let until = Instant::now() + Duration::from_millis(300);
    while Instant::now() < until {
        let queued = lock(&shared.write).queue.len();
        let held = wire.state().task_unwritten.len();
        peak = peak.max(queued + held);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(!publishing.is_finished(), "the publisher waits for room");
    // The queue holds at most a buffer's worth (plus the publish that found
    // it empty), and the task at most one queue's worth.
    assert!(
        peak <= 2 * (BUFFER + largest),
        "{peak} bytes held with a {BUFFER}-byte buffer"
    );
    assert!(peak > BUFFER / 2, "the queue filled up ({peak})");
    wire.resume();
    tokio::time::timeout(Duration::from_secs(10), publishing)
        .await
        .expect("the publisher finishes once the server reads")
        .unwrap();
    drained(&shared).await;
    let (frames, partial) = frames(&wire.data());
    assert_eq!(partial, 0);
    let ids: Vec<u32> = ids(&frames).into_iter().map(|(_, q)| q).collect();
    assert_eq!(ids, (0..400).collect::<Vec<_>>());
}
