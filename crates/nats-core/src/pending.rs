//! Pending limits: how much one subscription may hold unread.
//!
//! The connection task hands each message to its subscription's queue only if
//! the queue is under both limits (messages and bytes); otherwise it drops the
//! message, counts it and reports a slow consumer. The count of what is queued
//! lives in one atomic word (messages in the high bits, bytes in the low bits),
//! so admitting a message costs one load and one add, and receiving it one
//! subtraction: no lock, no allocation.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// Bits of the packed counter that hold the byte count.
const BYTE_BITS: u32 = 40;
const BYTE_MASK: u64 = (1 << BYTE_BITS) - 1;
/// One message in the packed counter.
const ONE_MESSAGE: u64 = 1 << BYTE_BITS;

/// The largest message limit (about 16.7 million); larger values are capped.
const MAX_MESSAGES: usize = (1 << (64 - BYTE_BITS)) - 1;
/// The largest byte limit (512 GiB); larger values are capped. Half the byte
/// field, so that the one message admitted into an empty queue whatever its
/// size can never carry into the message count.
const MAX_BYTES: usize = 1 << (BYTE_BITS - 1);

/// How many messages, and how many bytes of them, one subscription may hold
/// unread before new messages are dropped.
///
/// The defaults are those of the Go client: 524,288 messages
/// (`512 * 1024`) and 64 MiB. Bytes count headers plus payload
/// ([`Message::length`](crate::Message::length)). When a new message would
/// take a subscription over either limit, it is dropped, counted (in
/// [`Subscriber::dropped_messages`](crate::Subscriber::dropped_messages) and
/// [`Statistics::dropped_messages`](crate::Statistics::dropped_messages)), and
/// a [`SlowConsumer`](crate::Event::SlowConsumer) event is emitted (at most one
/// per second per subscription). A message larger than the byte limit is
/// still delivered when the subscription holds nothing else, so it is never
/// undeliverable; memory stays bounded by the byte limit plus one message.
///
/// Set them for every subscription of a connection with
/// [`ConnectOptions::pending_limits`](crate::ConnectOptions::pending_limits),
/// or for one with [`Client::subscribe_with_limits`](crate::Client::subscribe_with_limits).
/// Zero counts as one; values above about 16.7 million messages or 512 GiB
/// are capped there (use `usize::MAX` for "unlimited").
///
/// ```
/// let limits = nats_core::PendingLimits { messages: 10_000, bytes: 16 * 1024 * 1024 };
/// assert_eq!(nats_core::PendingLimits::default().messages, 512 * 1024);
/// # let _ = limits;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PendingLimits {
    /// The most messages held unread.
    pub messages: usize,
    /// The most bytes (headers plus payload) held unread.
    pub bytes: usize,
}

impl PendingLimits {
    /// The default message limit: 524,288 (as the Go client).
    pub const DEFAULT_MESSAGES: usize = 512 * 1024;
    /// The default byte limit: 64 MiB (as the Go client).
    pub const DEFAULT_BYTES: usize = 64 * 1024 * 1024;

    /// Limits of `messages` messages and `bytes` bytes.
    pub fn new(messages: usize, bytes: usize) -> Self {
        PendingLimits { messages, bytes }
    }

    /// The limits as enforced: at least one, at most the caps.
    fn clamped(self) -> (u64, u64) {
        (
            self.messages.clamp(1, MAX_MESSAGES) as u64,
            self.bytes.clamp(1, MAX_BYTES) as u64,
        )
    }
}

impl Default for PendingLimits {
    fn default() -> Self {
        PendingLimits {
            messages: Self::DEFAULT_MESSAGES,
            bytes: Self::DEFAULT_BYTES,
        }
    }
}

/// What one subscription holds unread, shared by the connection task (which
/// admits) and the [`Subscriber`](crate::Subscriber) (which releases).
#[derive(Debug)]
pub(crate) struct Pending {
    /// Messages (high bits) and bytes (low bits) queued and not yet received.
    queued: AtomicU64,
    dropped: AtomicU64,
    limits: PendingLimits,
    max_messages: u64,
    max_bytes: u64,
    /// Why the server ended the subscription (the text of its `-ERR`).
    refused: OnceLock<String>,
}

impl Pending {
    pub(crate) fn new(limits: PendingLimits) -> Self {
        let (max_messages, max_bytes) = limits.clamped();
        Pending {
            queued: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            limits,
            max_messages,
            max_bytes,
            refused: OnceLock::new(),
        }
    }

    /// Reserves room for a message of `len` bytes; `false` (and the drop
    /// counted) when it would go over a limit. Only the connection task calls
    /// this, so the room it sees can only grow before it adds.
    pub(crate) fn admit(&self, len: usize) -> bool {
        let queued = self.queued.load(Ordering::Relaxed);
        let (messages, bytes) = (queued >> BYTE_BITS, queued & BYTE_MASK);
        let len = len as u64;
        if messages > 0 && (messages >= self.max_messages || bytes + len > self.max_bytes) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        self.queued
            .fetch_add(ONE_MESSAGE + (len & BYTE_MASK), Ordering::Relaxed);
        true
    }

    /// Gives back the room of a message of `len` bytes (received or discarded).
    pub(crate) fn release(&self, len: usize) {
        self.queued
            .fetch_sub(ONE_MESSAGE + (len as u64 & BYTE_MASK), Ordering::Relaxed);
    }

    pub(crate) fn messages(&self) -> usize {
        (self.queued.load(Ordering::Relaxed) >> BYTE_BITS) as usize
    }

    pub(crate) fn bytes(&self) -> usize {
        (self.queued.load(Ordering::Relaxed) & BYTE_MASK) as usize
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub(crate) fn limits(&self) -> PendingLimits {
        self.limits
    }

    /// Records why the server refused the subscription (the first reason wins).
    pub(crate) fn refuse(&self, text: &str) {
        let _ = self.refused.set(text.to_string());
    }

    pub(crate) fn refused(&self) -> Option<&str> {
        self.refused.get().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_up_to_either_limit_and_releases() {
        let p = Pending::new(PendingLimits::new(3, 100));
        assert!(p.admit(40));
        assert!(p.admit(40));
        assert!(!p.admit(40), "over the byte limit");
        assert!(p.admit(20));
        assert!(!p.admit(0), "over the message limit");
        assert_eq!((p.messages(), p.bytes(), p.dropped()), (3, 100, 2));
        p.release(40);
        assert_eq!((p.messages(), p.bytes()), (2, 60));
        assert!(p.admit(0));
    }

    #[test]
    fn an_oversized_message_passes_only_into_an_empty_queue() {
        let p = Pending::new(PendingLimits::new(10, 100));
        assert!(p.admit(1000));
        assert!(!p.admit(1));
        p.release(1000);
        assert_eq!((p.messages(), p.bytes()), (0, 0));
        assert!(p.admit(1));
    }

    #[test]
    fn zero_and_huge_limits_are_clamped() {
        let p = Pending::new(PendingLimits::new(0, 0));
        assert!(p.admit(5));
        assert!(!p.admit(0));
        let p = Pending::new(PendingLimits::new(usize::MAX, usize::MAX));
        for _ in 0..1000 {
            assert!(p.admit(64 * 1024 * 1024));
        }
        assert_eq!(p.messages(), 1000);
        assert_eq!(p.bytes(), 1000 * 64 * 1024 * 1024);
        assert_eq!(p.limits().messages, usize::MAX);
    }
}
