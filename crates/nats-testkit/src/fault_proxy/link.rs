//! One proxied connection: two sockets and, per direction, a reader thread
//! that queues what arrives and a writer thread that forwards it when due.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{lock, Shared, DOWN, MAX_QUEUED, UP};

/// How long a thread waits before looking at the mode and the stop flag
/// again.
const TICK: Duration = Duration::from_millis(10);
/// The read timeout of both sockets (a reader notices a stall or a stop at
/// least this often).
const READ_TIMEOUT: Duration = Duration::from_millis(20);
/// The write timeout of both sockets (a writer blocked by a peer that does
/// not read notices a stop at least this often).
const WRITE_TIMEOUT: Duration = Duration::from_millis(20);
/// The read buffer of each reader.
const READ_BUFFER: usize = 64 * 1024;

/// The two sockets of a proxied connection and its cut budget.
#[derive(Debug)]
pub(crate) struct Link {
    client: TcpStream,
    server: TcpStream,
    /// Bytes still allowed before the link is cut (`None`: no limit).
    budget: Mutex<Option<u64>>,
    closed: AtomicBool,
}

impl Link {
    /// Starts the four threads of a connection between `client` and
    /// `server`.
    pub(crate) fn start(
        client: TcpStream,
        server: TcpStream,
        budget: Option<u64>,
        shared: &Arc<Shared>,
    ) -> io::Result<(Arc<Link>, Vec<JoinHandle<()>>)> {
        for socket in [&client, &server] {
            socket.set_nonblocking(false)?;
            socket.set_nodelay(true)?;
            socket.set_read_timeout(Some(READ_TIMEOUT))?;
            socket.set_write_timeout(Some(WRITE_TIMEOUT))?;
        }
        let link = Arc::new(Link {
            client: client.try_clone()?,
            server: server.try_clone()?,
            budget: Mutex::new(budget),
            closed: AtomicBool::new(false),
        });
        let ends = [
            (UP, client.try_clone()?, server.try_clone()?),
            (DOWN, server, client),
        ];
        let mut threads = Vec::with_capacity(4);
        for (lane, from, to) in ends {
            let pipe = Arc::new(Pipe::default());
            let reader = Pump {
                lane,
                pipe: pipe.clone(),
                link: link.clone(),
                shared: shared.clone(),
            };
            let writer = Pump {
                lane,
                pipe,
                link: link.clone(),
                shared: shared.clone(),
            };
            threads.push(spawn("fault-proxy-read", move || reader.read_loop(from)));
            threads.push(spawn("fault-proxy-write", move || writer.write_loop(to)));
        }
        // A thread that could not be spawned leaves the link half-served:
        // close it so the others end too.
        let threads: Vec<JoinHandle<()>> = threads.into_iter().flatten().collect();
        if threads.len() < 4 {
            link.close();
        }
        Ok((link, threads))
    }

    /// Shuts both sockets down (once); every thread of the link then ends.
    pub(crate) fn close(&self) {
        if !self.closed.swap(true, Ordering::SeqCst) {
            let _ = self.client.shutdown(Shutdown::Both);
            let _ = self.server.shutdown(Shutdown::Both);
        }
    }

    /// True once [`close`](Self::close) was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Sets the bytes still allowed before the link is cut.
    pub(crate) fn set_budget(&self, budget: Option<u64>) {
        *lock(&self.budget) = budget;
    }

    /// Takes up to `want` bytes from the budget; returns how many may be
    /// written now and whether the budget is used up afterwards.
    fn reserve(&self, want: usize) -> (usize, bool) {
        let mut budget = lock(&self.budget);
        match budget.as_mut() {
            None => (want, false),
            Some(left) => {
                let take = want.min(usize::try_from(*left).unwrap_or(usize::MAX));
                *left -= take as u64;
                (take, *left == 0)
            }
        }
    }
}

fn spawn(name: &str, body: impl FnOnce() + Send + 'static) -> Option<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(body)
        .ok()
}

/// Bytes read in one direction and not yet written.
#[derive(Debug, Default)]
struct Pipe {
    state: Mutex<PipeState>,
    ready: Condvar,
}

#[derive(Debug, Default)]
struct PipeState {
    chunks: VecDeque<Chunk>,
    bytes: usize,
    /// The reader has ended (end of stream or an error).
    eof: bool,
}

#[derive(Debug)]
struct Chunk {
    due: Instant,
    data: Vec<u8>,
    offset: usize,
}

/// One end of a direction: the reader or the writer thread.
struct Pump {
    lane: usize,
    pipe: Arc<Pipe>,
    link: Arc<Link>,
    shared: Arc<Shared>,
}

impl Pump {
    fn running(&self) -> bool {
        !self.shared.stop.load(Ordering::SeqCst) && !self.link.is_closed()
    }

    /// Reads from `from` into the pipe, stamping each chunk with the time
    /// it may be forwarded. Does not read while the lane is stalled or the
    /// pipe is full.
    fn read_loop(self, mut from: TcpStream) {
        let mut buf = vec![0u8; READ_BUFFER];
        while self.running() {
            let lane = self.shared.lane(self.lane);
            let full = lock(&self.pipe.state).bytes >= MAX_QUEUED;
            if lane.stalled || full {
                std::thread::sleep(TICK);
                continue;
            }
            match from.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    // The mode may have changed while the read was blocked.
                    let lane = self.shared.lane(self.lane);
                    if lane.dropping {
                        self.shared.dropped[self.lane].fetch_add(n as u64, Ordering::SeqCst);
                        continue;
                    }
                    let mut state = lock(&self.pipe.state);
                    state.bytes += n;
                    state.chunks.push_back(Chunk {
                        due: Instant::now() + lane.latency,
                        data: buf[..n].to_vec(),
                        offset: 0,
                    });
                    self.pipe.ready.notify_all();
                }
                Err(e) if retryable(&e) => {}
                Err(_) => break,
            }
        }
        lock(&self.pipe.state).eof = true;
        self.pipe.ready.notify_all();
    }

    /// Forwards due chunks from the pipe to `to`, honouring stalls, drops,
    /// the bandwidth limit and the cut budget. Closes the link when the
    /// reader has ended and everything queued was written.
    fn write_loop(self, mut to: TcpStream) {
        let mut next_slot = Instant::now();
        while self.running() {
            let lane = self.shared.lane(self.lane);
            let mut state = lock(&self.pipe.state);
            if lane.dropping && state.bytes > 0 {
                let bytes = std::mem::take(&mut state.bytes);
                state.chunks.clear();
                self.shared.dropped[self.lane].fetch_add(bytes as u64, Ordering::SeqCst);
            }
            if lane.stalled {
                drop(state);
                std::thread::sleep(TICK);
                continue;
            }
            let now = Instant::now();
            let due = match state.chunks.front() {
                None if state.eof => break,
                None => None,
                Some(chunk) => Some(chunk.due),
            };
            match due {
                None => {
                    let _ = self.pipe.ready.wait_timeout(state, TICK);
                    continue;
                }
                Some(due) if due > now => {
                    let _ = self.pipe.ready.wait_timeout(state, (due - now).min(TICK));
                    continue;
                }
                Some(_) => {}
            }
            let mut want = state.chunks.front().map_or(0, |c| c.data.len() - c.offset);
            if let Some(rate) = lane.bandwidth {
                if next_slot > now {
                    drop(state);
                    std::thread::sleep((next_slot - now).min(TICK));
                    continue;
                }
                want = want.min(slice(rate));
            }
            let (take, used_up) = self.link.reserve(want);
            let data = take_front(&mut state, take);
            drop(state);
            // Counted before the write, so a peer that has seen the bytes
            // (or their answer) also sees them counted.
            self.shared.forwarded[self.lane].fetch_add(data.len() as u64, Ordering::SeqCst);
            if !data.is_empty() && write_all(&mut to, &data, || self.running()).is_err() {
                break;
            }
            if let Some(rate) = lane.bandwidth {
                let cost = Duration::from_secs_f64(data.len() as f64 / rate as f64);
                next_slot = next_slot.max(now) + cost;
            }
            if used_up {
                break;
            }
        }
        self.link.close();
    }
}

/// The most bytes written at once under a bandwidth limit: about 20 ms
/// worth, so the rate is smooth.
fn slice(rate: u64) -> usize {
    usize::try_from(rate / 50)
        .unwrap_or(READ_BUFFER)
        .clamp(1, READ_BUFFER)
}

/// Removes up to `n` bytes from the front chunk.
fn take_front(state: &mut PipeState, n: usize) -> Vec<u8> {
    let Some(chunk) = state.chunks.front_mut() else {
        return Vec::new();
    };
    let end = (chunk.offset + n).min(chunk.data.len());
    let data = chunk.data[chunk.offset..end].to_vec();
    chunk.offset = end;
    if chunk.offset == chunk.data.len() {
        state.chunks.pop_front();
    }
    state.bytes -= data.len();
    data
}

/// Writes all of `data`, retrying write timeouts while `running()`.
fn write_all(to: &mut TcpStream, data: &[u8], running: impl Fn() -> bool) -> io::Result<()> {
    let mut offset = 0;
    while offset < data.len() {
        match to.write(&data[offset..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => offset += n,
            Err(e) if retryable(&e) && running() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn retryable(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}
