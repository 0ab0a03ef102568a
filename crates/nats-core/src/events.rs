//! Connection events, state and statistics.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Something that happened to the connection, delivered to the
/// [`event_callback`](crate::ConnectOptions::event_callback).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Connected (first time or after a reconnect).
    Connected,
    /// The connection was lost; the client is reconnecting.
    Disconnected,
    /// The server entered lame duck mode and will shut down soon.
    LameDuckMode,
    /// A subscription was at its [`PendingLimits`](crate::PendingLimits)
    /// (messages or bytes) and messages were dropped; carries the
    /// subscription id. Rate-limited: at most one a second per subscription.
    SlowConsumer(u64),
    /// The server reported an error that did not close the connection
    /// (a permissions violation, for example), or the reason it closed it.
    ServerError(String),
    /// The client hit an error while (re)connecting, e.g. refused credentials.
    ClientError(String),
    /// The connection is closed for good.
    Closed,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Connected => f.write_str("connected"),
            Event::Disconnected => f.write_str("disconnected"),
            Event::LameDuckMode => f.write_str("lame duck mode"),
            Event::SlowConsumer(sid) => write!(f, "slow consumer on subscription {sid}"),
            Event::ServerError(e) => write!(f, "server error: {e}"),
            Event::ClientError(e) => write!(f, "client error: {e}"),
            Event::Closed => f.write_str("closed"),
        }
    }
}

/// The state of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum State {
    /// Not connected yet (initial connect still being retried).
    Pending,
    /// Connected to a server.
    Connected,
    /// Lost the connection; reconnecting.
    Disconnected,
    /// Closed for good.
    Closed,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            State::Pending => "pending",
            State::Connected => "connected",
            State::Disconnected => "disconnected",
            State::Closed => "closed",
        };
        f.write_str(s)
    }
}

/// Counters of the connection's traffic, as returned by
/// [`Client::statistics`](crate::Client::statistics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Statistics {
    /// Messages received.
    pub in_messages: u64,
    /// Payload and header bytes received.
    pub in_bytes: u64,
    /// Messages published.
    pub out_messages: u64,
    /// Payload and header bytes published.
    pub out_bytes: u64,
    /// Successful connections (the first one included).
    pub connects: u64,
    /// Reconnections after a lost connection.
    pub reconnects: u64,
    /// Messages dropped because a subscription was at its pending limits.
    pub dropped_messages: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub in_messages: AtomicU64,
    pub in_bytes: AtomicU64,
    pub connects: AtomicU64,
    pub reconnects: AtomicU64,
    pub dropped: AtomicU64,
}

impl Counters {
    /// The counters kept here; the outgoing ones (`out_messages`, `out_bytes`) are counted
    /// under the write lock and filled in by [`Client::statistics`](crate::Client::statistics).
    pub(crate) fn snapshot(&self) -> Statistics {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Statistics {
            in_messages: l(&self.in_messages),
            in_bytes: l(&self.in_bytes),
            out_messages: 0,
            out_bytes: 0,
            connects: l(&self.connects),
            reconnects: l(&self.reconnects),
            dropped_messages: l(&self.dropped),
        }
    }
}
