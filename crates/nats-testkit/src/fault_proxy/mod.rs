//! [`FaultProxy`]: a TCP proxy on loopback that injects network faults
//! between a client and a server while traffic flows (the example is on the
//! type).

mod link;

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::server::Server;
use link::Link;

/// The most bytes the proxy holds per direction and connection (data
/// waiting for its latency or for a throttled writer).
pub const MAX_QUEUED: usize = 4 * 1024 * 1024;

/// How long the accept loop sleeps when no connection is waiting.
const ACCEPT_POLL: Duration = Duration::from_millis(5);
/// How long connecting to the target may take before the client's
/// connection is closed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Which way the bytes flow through a [`FaultProxy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the client to the server (publishes, pings, requests).
    ClientToServer,
    /// From the server to the client (INFO, messages, pongs, replies).
    ServerToClient,
    /// Both directions.
    Both,
}

impl Direction {
    /// The lane indices this direction covers.
    fn lanes(self) -> &'static [usize] {
        match self {
            Direction::ClientToServer => &[UP],
            Direction::ServerToClient => &[DOWN],
            Direction::Both => &[UP, DOWN],
        }
    }
}

/// Lane index of client -> server.
pub(crate) const UP: usize = 0;
/// Lane index of server -> client.
pub(crate) const DOWN: usize = 1;

/// The faults applied to one direction.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Lane {
    pub(crate) latency: Duration,
    pub(crate) bandwidth: Option<u64>,
    pub(crate) stalled: bool,
    pub(crate) dropping: bool,
}

/// The proxy's current mode.
#[derive(Debug, Default)]
pub(crate) struct Mode {
    pub(crate) lanes: [Lane; 2],
    pub(crate) cut_after: Option<u64>,
}

/// State shared by the proxy handle and its threads.
#[derive(Debug)]
pub(crate) struct Shared {
    target: SocketAddr,
    mode: Mutex<Mode>,
    links: Mutex<Vec<Arc<Link>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    pub(crate) stop: AtomicBool,
    accepted: AtomicUsize,
    pub(crate) forwarded: [AtomicU64; 2],
    pub(crate) dropped: [AtomicU64; 2],
}

impl Shared {
    pub(crate) fn mode(&self) -> MutexGuard<'_, Mode> {
        lock(&self.mode)
    }

    pub(crate) fn lane(&self, lane: usize) -> Lane {
        self.mode().lanes[lane]
    }

    fn live_links(&self) -> Vec<Arc<Link>> {
        let mut links = lock(&self.links);
        links.retain(|l| !l.is_closed());
        links.clone()
    }
}

/// A TCP proxy on a free `127.0.0.1` port in front of a server, whose
/// faults a test changes while traffic flows: latency, bandwidth, stalls
/// (half-open connections), dropped bytes, resets and cuts.
///
/// Point the client at [`FaultProxy::url`] instead of the server and change
/// the proxy's mode at any time from the test: every current connection and
/// every connection accepted later (a reconnecting client) follows the
/// current mode.
///
/// ```no_run
/// use std::time::Duration;
/// use nats_testkit::{Direction, FaultProxy, Server};
///
/// let server = Server::jetstream().start();
/// let proxy = FaultProxy::for_server(&server);
/// let url = proxy.url(); // give this to the client
///
/// // 50 ms more on everything the server sends, 64 KiB/s from the client.
/// proxy.set_latency(Direction::ServerToClient, Duration::from_millis(50));
/// proxy.set_bandwidth(Direction::ClientToServer, Some(64 * 1024));
///
/// // A half-open connection: both sockets stay open, nothing moves.
/// proxy.stall(Direction::Both);
/// proxy.resume(); // what was held back is delivered now
///
/// proxy.reset(); // close every current connection; the client reconnects
/// proxy.cut_after(100); // each connection closes after 100 more bytes
/// proxy.pass(); // no faults at all
/// # let _ = url;
/// ```
///
/// Each connection is served by four threads (a reader and a writer per
/// direction) that wake at least every few milliseconds, so mode changes take
/// effect promptly and dropping the proxy stops every thread within a
/// bounded time. Bytes waiting for their latency are buffered in the proxy,
/// at most [`MAX_QUEUED`] per direction and connection; beyond that the
/// proxy stops reading and TCP flow control pushes back on the sender.
///
/// It starts in pass-through mode. Dropping the proxy closes every
/// connection and stops its threads. A client of a cluster learns the other
/// nodes' addresses from the server's INFO and may reconnect to them
/// directly, past the proxy.
#[derive(Debug)]
#[must_use = "dropping a FaultProxy closes its connections"]
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts a proxy in front of `target` (for example `"127.0.0.1:4222"`
    /// or `("127.0.0.1", port)`).
    ///
    /// # Panics
    ///
    /// Panics if `target` does not resolve or no local port can be bound.
    pub fn start(target: impl ToSocketAddrs) -> FaultProxy {
        Self::try_start(target).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts a proxy in front of `server`'s client port. The server may be
    /// stopped and started again behind the proxy (its port stays the same).
    ///
    /// # Panics
    ///
    /// Panics if no local port can be bound.
    pub fn for_server(server: &Server) -> FaultProxy {
        Self::start((server.host(), server.port()))
    }

    /// Like [`start`](Self::start) but returns the failure.
    ///
    /// # Errors
    ///
    /// Returns a message if `target` does not resolve or the listener
    /// cannot be set up.
    pub fn try_start(target: impl ToSocketAddrs) -> Result<FaultProxy, String> {
        let target = target
            .to_socket_addrs()
            .map_err(|e| format!("nats-testkit: proxy target does not resolve: {e}"))?
            .next()
            .ok_or_else(|| "nats-testkit: proxy target has no address".to_owned())?;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| format!("nats-testkit: proxy cannot bind a port: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("nats-testkit: proxy has no local address: {e}"))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("nats-testkit: proxy listener: {e}"))?;
        let shared = Arc::new(Shared {
            target,
            mode: Mutex::new(Mode::default()),
            links: Mutex::new(Vec::new()),
            threads: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            accepted: AtomicUsize::new(0),
            forwarded: [AtomicU64::new(0), AtomicU64::new(0)],
            dropped: [AtomicU64::new(0), AtomicU64::new(0)],
        });
        let accept = std::thread::Builder::new()
            .name(format!("fault-proxy-{}", addr.port()))
            .spawn({
                let shared = shared.clone();
                move || accept_loop(&listener, &shared)
            })
            .map_err(|e| format!("nats-testkit: cannot start the proxy thread: {e}"))?;
        Ok(FaultProxy {
            addr,
            shared,
            accept: Some(accept),
        })
    }

    /// The client URL of the proxy, `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://{}", self.addr)
    }

    /// The address the proxy listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port the proxy listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The address the proxy forwards to.
    pub fn target(&self) -> SocketAddr {
        self.shared.target
    }

    /// Removes every fault: no latency, no bandwidth limit, no stall, no
    /// dropping, no cut. Bytes held back by a stall are delivered.
    pub fn pass(&self) {
        *self.shared.mode() = Mode::default();
        for link in self.shared.live_links() {
            link.set_budget(None);
        }
    }

    /// Delays every byte flowing in `direction` by `latency` (on top of the
    /// network's). Bytes already in the proxy keep the delay they got.
    pub fn set_latency(&self, direction: Direction, latency: Duration) {
        self.update(direction, |lane| lane.latency = latency);
    }

    /// Limits the bytes per second flowing in `direction` (per connection);
    /// `None` removes the limit.
    pub fn set_bandwidth(&self, direction: Direction, bytes_per_second: Option<u64>) {
        self.update(direction, |lane| {
            lane.bandwidth = bytes_per_second.map(|b| b.max(1));
        });
    }

    /// Stops forwarding in `direction` while keeping both sockets open: a
    /// half-open connection. The proxy stops reading, so the sender's data
    /// waits in its socket buffers and, once they are full, its writes
    /// block. New connections are accepted and stalled too.
    /// [`resume`](Self::resume) delivers what was held back.
    pub fn stall(&self, direction: Direction) {
        self.update(direction, |lane| lane.stalled = true);
    }

    /// Reads and discards everything flowing in `direction` (including
    /// bytes already waiting in the proxy) until [`resume`](Self::resume)
    /// or [`pass`](Self::pass). For example
    /// `drop_bytes(Direction::ServerToClient)`: the server gets every
    /// publish and ping but the client hears nothing back.
    pub fn drop_bytes(&self, direction: Direction) {
        self.update(direction, |lane| lane.dropping = true);
    }

    /// Ends [`stall`](Self::stall) and [`drop_bytes`](Self::drop_bytes) in
    /// both directions; latency, bandwidth and cut settings stay.
    pub fn resume(&self) {
        self.update(Direction::Both, |lane| {
            lane.stalled = false;
            lane.dropping = false;
        });
    }

    /// Closes both sides of every current connection at once (each peer
    /// sees its connection end); new connections are accepted as usual.
    /// Returns how many connections were closed.
    pub fn reset(&self) -> usize {
        let links = self.shared.live_links();
        for link in &links {
            link.close();
        }
        links.len()
    }

    /// Closes each connection once it has forwarded `bytes` more bytes,
    /// counting both directions: current connections count from now, new
    /// ones from their start. The byte that reaches the limit may be in the
    /// middle of a protocol message. Stays in effect (also for reconnects)
    /// until [`pass`](Self::pass).
    pub fn cut_after(&self, bytes: u64) {
        self.shared.mode().cut_after = Some(bytes);
        for link in self.shared.live_links() {
            link.set_budget(Some(bytes));
        }
    }

    /// How many connections are open through the proxy now.
    pub fn connections(&self) -> usize {
        self.shared.live_links().len()
    }

    /// How many connections the proxy has accepted since it started.
    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// How many bytes were forwarded (handed to the receiving socket) in
    /// `direction` since the proxy started (`Both`: the sum).
    pub fn forwarded(&self, direction: Direction) -> u64 {
        direction
            .lanes()
            .iter()
            .map(|&l| self.shared.forwarded[l].load(Ordering::SeqCst))
            .sum()
    }

    /// How many bytes were discarded by [`drop_bytes`](Self::drop_bytes)
    /// in `direction` since the proxy started (`Both`: the sum).
    pub fn dropped(&self, direction: Direction) -> u64 {
        direction
            .lanes()
            .iter()
            .map(|&l| self.shared.dropped[l].load(Ordering::SeqCst))
            .sum()
    }

    fn update(&self, direction: Direction, change: impl Fn(&mut Lane)) {
        let mut mode = self.shared.mode();
        for &lane in direction.lanes() {
            change(&mut mode.lanes[lane]);
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        for link in self.shared.live_links() {
            link.close();
        }
        let threads = std::mem::take(&mut *lock(&self.shared.threads));
        for thread in threads {
            let _ = thread.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((client, _)) => {
                shared.accepted.fetch_add(1, Ordering::SeqCst);
                serve(client, shared);
            }
            Err(_) => std::thread::sleep(ACCEPT_POLL),
        }
    }
}

/// Connects to the target and starts the link's threads; on failure the
/// client's connection is closed (as if the server refused it).
fn serve(client: TcpStream, shared: &Arc<Shared>) {
    let Ok(server) = TcpStream::connect_timeout(&shared.target, CONNECT_TIMEOUT) else {
        return;
    };
    let budget = shared.mode().cut_after;
    let Ok((link, threads)) = Link::start(client, server, budget, shared) else {
        return;
    };
    lock(&shared.links).push(link);
    let mut all = lock(&shared.threads);
    // Reap the threads of connections that have ended.
    let (done, running): (Vec<_>, Vec<_>) = all.drain(..).partition(JoinHandle::is_finished);
    *all = running;
    all.extend(threads);
    drop(all);
    for thread in done {
        let _ = thread.join();
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
