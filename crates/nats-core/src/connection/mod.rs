//! The connection task: connects, runs the I/O loop, reconnects, closes.

mod auth;
mod creds;
mod direct;
mod handshake;
mod io;
#[cfg(test)]
mod io_tests;
mod permissions;
mod pool;
mod tls;
#[cfg(test)]
mod write_path_tests;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nats_wire::ServerInfo;
use rand::Rng;
use tokio::sync::{mpsc, watch, Notify};

use creds::KeyAuth;
pub(crate) use direct::DirectWrite;
pub(crate) use handshake::{establish, server_error, Established};
pub(crate) use io::Connection;
pub(crate) use io::Exit;
use pool::{Pool, Target};

use crate::addr::ServerAddr;
use crate::error::{Error, ErrorKind};
use crate::events::{Counters, Event, State};
use crate::options::ConnectOptions;
use crate::request;
use crate::shared::{lock, Requests, Shared, SubKind, SubMap, SubSlot, WriteState};
use crate::Client;

/// The sid of the shared request inbox subscription.
const MUX_SID: u64 = 1;

pub(crate) async fn connect(
    addrs: Vec<ServerAddr>,
    options: ConnectOptions,
) -> Result<Client, Error> {
    if addrs.is_empty() {
        return Err(Error::with_detail(
            ErrorKind::InvalidArgument,
            "no server URL given",
        ));
    }
    // Credentials are loaded (files read, seeds checked) before any server is
    // contacted, so their errors come back from `connect` right away.
    let key_auth = KeyAuth::load(&options.auth).await?;
    // Likewise the certificate files, when TLS is asked for.
    if options.tls.required || addrs.iter().any(ServerAddr::tls_required) {
        tls::client_config(&options.tls).await?;
    }
    let mut pool = Pool::new(addrs, !options.retain_servers_order);
    let retry = options.retry_on_initial_connect;
    let shared = new_shared(options);

    let mut last_error: Option<Error> = None;
    let mut established = None;
    for _ in 0..pool.len() {
        let Some(target) = pool.next_target() else {
            break;
        };
        match establish(&target, &shared.options, key_auth.as_ref()).await {
            Ok(e) => {
                established = Some(e);
                break;
            }
            Err(e) => {
                tracing::debug!(server = %target.addr, error = %e, "connect attempt failed");
                // Keep the most telling error: a refused credential or a bad
                // certificate says more than another server being down.
                let keep_old = last_error
                    .as_ref()
                    .is_some_and(|old| is_config_error(old) && !is_config_error(&e));
                if !keep_old {
                    last_error = Some(e);
                }
            }
        }
    }
    drop(key_auth);
    if established.is_none() && !retry {
        return Err(last_error.unwrap_or_else(|| Error::new(ErrorKind::Io)));
    }
    if let Some(est) = &established {
        shared.update_info(est.info.clone());
        lock(&shared.write).connected = true;
        shared.set_state(State::Connected);
    }
    let client = Client::from_shared(shared.clone());
    tokio::spawn(crate::deadlines::sweep(shared.clone()));
    tokio::spawn(run(shared, pool, established));
    Ok(client)
}

fn new_shared(options: ConnectOptions) -> Arc<Shared> {
    let events = options.event_callback.clone().map(|callback| {
        let (tx, mut rx) = mpsc::channel::<Event>(256);
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                callback(event).await;
            }
        });
        tx
    });
    let mux_prefix = format!("{}.{}.", options.inbox_prefix, crate::nuid::next());
    let mut subs = SubMap::default();
    subs.insert(
        MUX_SID,
        SubSlot {
            subject: format!("{mux_prefix}*"),
            queue_group: None,
            kind: SubKind::Mux,
            max: None,
            delivered: 0,
            last_slow_event: None,
        },
    );
    let (state, _) = watch::channel(State::Pending);
    Arc::new(Shared {
        options,
        write: Mutex::new(WriteState::default()),
        writer_waker: Default::default(),
        writer_kicked: AtomicBool::new(false),
        space: Notify::new(),
        subs: Mutex::new(subs),
        next_sid: AtomicU64::new(MUX_SID + 1),
        reads: AtomicU64::new(0),
        requests: Mutex::new(Requests::default()),
        sweeper: Notify::new(),
        batch_tick: AtomicBool::new(false),
        mux_prefix,
        info: Mutex::new(Arc::new(ServerInfo::default())),
        max_payload: AtomicUsize::new(0),
        headers_supported: AtomicBool::new(true),
        state,
        counters: Counters::default(),
        events,
        close_requested: AtomicBool::new(false),
        handles: AtomicUsize::new(0),
        closing: Notify::new(),
    })
}

impl Shared {
    pub(crate) fn update_info(&self, info: ServerInfo) {
        if info.max_payload > 0 {
            self.max_payload.store(info.max_payload, Ordering::Relaxed);
        }
        self.headers_supported
            .store(info.headers, Ordering::Relaxed);
        *lock(&self.info) = Arc::new(info);
    }

    fn set_state(&self, state: State) {
        self.state.send_replace(state);
    }

    /// The connection is gone: publishes queue (under the disconnected
    /// rules) until the next one.
    ///
    /// A publish that a direct write had partly written and that the task had
    /// not taken yet is written again in full on the next connection: the
    /// server drops an incomplete operation with the connection it came on,
    /// so this neither loses nor duplicates it. (What the task had taken and
    /// not finished writing is lost with the connection, as before.)
    fn detach(&self) {
        let mut w = lock(&self.write);
        w.connected = false;
        w.direct = None;
        w.task_writing = false;
        w.queue.unwind_written();
    }
}

async fn run(shared: Arc<Shared>, mut pool: Pool, mut established: Option<Established>) {
    let mut reconnecting = false;
    loop {
        let est = match established.take() {
            Some(e) => e,
            None => match reconnect(&shared, &mut pool).await {
                Some(e) => e,
                None => break,
            },
        };
        shared.update_info(est.info.clone());
        // Servers the cluster announces join the pool at each connect and
        // again when the connection is lost (from the latest async INFO, which
        // the I/O loop stores in `shared.info`): the pool is only walked then.
        if !shared.options.ignore_discovered_servers {
            pool.update_discovered(&est.info.connect_urls, shared.options.tls.required);
        }
        shared.counters.connects.fetch_add(1, Ordering::Relaxed);
        if reconnecting {
            shared.counters.reconnects.fetch_add(1, Ordering::Relaxed);
        }
        match serve(&shared, est).await {
            Exit::Closed => break,
            Exit::Lost(e) => {
                tracing::debug!(error = %e, "connection lost");
                // Publishers waiting for room now follow the disconnected
                // rules (reconnect buffer) instead of waiting for a
                // reconnect that may never come.
                shared.release_writers();
                request::fail_all(&shared);
                if shared.close_requested.load(Ordering::Acquire) {
                    break;
                }
                shared.set_state(State::Disconnected);
                shared.emit(Event::Disconnected);
                reconnecting = true;
                // Discovered servers announced since the connect.
                if !shared.options.ignore_discovered_servers {
                    let urls = lock(&shared.info).connect_urls.clone();
                    pool.update_discovered(&urls, shared.options.tls.required);
                }
            }
        }
    }
    close(&shared);
}

/// Runs one established connection until it is lost or closed: SUBs first,
/// then what was queued meanwhile, then everything published.
async fn serve(shared: &Arc<Shared>, est: Established) -> Exit {
    let mut conn = Connection::new(est.io, shared.clone(), est.rbuf, est.parser);
    conn.resubscribe();
    conn.attach(est.direct);
    shared.set_state(State::Connected);
    shared.emit(Event::Connected);
    let exit = conn.run().await;
    // First of all: no direct write may reach the broken socket any more.
    shared.detach();
    conn.fail_waiters();
    exit
}

/// The delay before reconnect attempt `attempt` (0-based, counted since the
/// connection was lost).
fn reconnect_delay(shared: &Shared, attempt: usize, pool_len: usize) -> Duration {
    if let Some(cb) = &shared.options.reconnect_delay_callback {
        return cb(attempt + 1);
    }
    // The first pass over the pool is immediate; then exponential backoff
    // (from 50 ms, capped at 4 s) with up to 50% jitter.
    if attempt < pool_len.max(1) {
        return Duration::ZERO;
    }
    let exp = (attempt - pool_len.max(1)).min(16) as u32;
    let base = Duration::from_millis(50).saturating_mul(1u32 << exp.min(7));
    let base = base.min(Duration::from_secs(4));
    let jitter = rand::thread_rng().gen_range(0..=base.as_millis() as u64 / 2);
    base + Duration::from_millis(jitter)
}

/// Errors that come from the configuration (credentials, certificates) or a
/// server refusing it, rather than from a server being unreachable: these are
/// reported as [`Event::ClientError`] while reconnecting.
fn is_config_error(e: &Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::Authorization
            | ErrorKind::Tls
            | ErrorKind::InvalidArgument
            | ErrorKind::PermissionDenied
            | ErrorKind::Protocol
    )
}

/// One connection attempt: loads the credentials (re-reading a creds file, so
/// rotated credentials are picked up) and runs the handshake.
async fn attempt(shared: &Shared, target: &Target) -> Result<Established, Error> {
    let key_auth = KeyAuth::load(&shared.options.auth).await.map_err(|e| {
        // A missing or bad credentials file is a configuration error even
        // when it surfaces as an I/O error.
        if e.kind() == ErrorKind::Io {
            Error::with_detail(ErrorKind::InvalidArgument, e.to_string())
        } else {
            e
        }
    })?;
    establish(target, &shared.options, key_auth.as_ref()).await
}

/// Tries servers until one accepts, the attempts run out, or the client is
/// closed. The first pass over the pool is immediate, then attempts back off
/// (see [`reconnect_delay`]).
async fn reconnect(shared: &Arc<Shared>, pool: &mut Pool) -> Option<Established> {
    let mut attempts = 0usize;
    loop {
        if let Some(max) = shared.options.max_reconnects {
            if attempts >= max {
                shared.emit(Event::ClientError(format!(
                    "giving up after {attempts} reconnect attempts"
                )));
                return None;
            }
        }
        let delay = reconnect_delay(shared, attempts, pool.len());
        let closing = shared.closing.notified();
        tokio::pin!(closing);
        closing.as_mut().enable();
        if shared.close_requested.load(Ordering::Acquire) {
            return None;
        }
        if !delay.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = closing.as_mut() => return None,
            }
        }
        attempts += 1;
        let target = pool.next_target()?;
        // Closing the client cuts a slow attempt short.
        let result = tokio::select! {
            r = attempt(shared, &target) => r,
            _ = closing => return None,
        };
        match result {
            Ok(e) => return Some(e),
            Err(e) => {
                tracing::debug!(server = %target.addr, error = %e, attempts, "reconnect attempt failed");
                if is_config_error(&e) {
                    shared.emit(Event::ClientError(format!("{}: {e}", target.addr)));
                }
            }
        }
    }
}

/// Final cleanup: every waiter fails, every subscriber ends.
fn close(shared: &Shared) {
    let waiters = {
        let mut w = lock(&shared.write);
        w.closed = true;
        w.connected = false;
        w.direct = None;
        w.task_writing = false;
        w.queue.clear();
        std::mem::take(&mut w.flush_waiters)
    };
    for w in waiters {
        let _ = w.send(Err(Error::closed()));
    }
    shared.release_writers();
    request::fail_all(shared);
    lock(&shared.subs).clear();
    shared.set_state(State::Closed);
    shared.sweeper.notify_one();
    shared.emit(Event::Closed);
}
