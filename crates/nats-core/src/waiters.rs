//! The requests waiting for a reply, indexed by token, and the replies that
//! came for them until their [`Response`](crate::Response) takes them.
//!
//! Tokens are handed out in order and replies come back nearly in order, so a
//! ring indexed by `token - base` finds a waiter in O(1) with no hashing and no
//! tombstones. Entries that fall too far behind the newest (a request whose
//! reply never comes and that is kept alive) move to a small map, so the ring's
//! span stays bounded.
//!
//! A reply is stored in its waiter's entry (no channel, no allocation per
//! request): the connection task completes the entry and wakes the waker the
//! `Response` left there; the `Response` takes the reply out, which removes
//! the entry.

use std::collections::HashMap;
use std::task::{Poll, Waker};

use crate::error::Error;
use crate::message::Message;
use crate::ring::SlotRing;

/// The most tokens the ring spans before old entries move to the map. An
/// entry holds a reply inline (a few hundred bytes), so this also bounds the
/// ring's memory when one request is kept waiting while thousands pass it.
const MAX_SPAN: usize = 1 << 13;

/// What a request gets: its reply, or why there is none.
pub(crate) type Reply = Result<Message, Error>;

/// Where a request stands.
pub(crate) enum ReplySlot {
    /// No reply yet; the waker of the `Response`'s last poll.
    Waiting(Option<Waker>),
    /// The reply (or the error that ended the wait), for the `Response`.
    Done(Reply),
}

/// One request waiting for its reply.
pub(crate) struct Waiter {
    /// The reply, once there is one.
    reply: ReplySlot,
    /// A hash of the request's subject: a refused publish (`-ERR
    /// 'Permissions Violation for Publish to "x"'`) fails the requests to `x`.
    pub subject_hash: u64,
    /// Dropped as soon as the request is done with (reply, loss, or drop):
    /// lets callers tie a resource, such as a window slot, to the reply.
    guard: Option<Box<dyn Send>>,
    /// When the sweeper fails the request with a timeout (see
    /// [`crate::deadlines`]); `None`: no deadline (it waits as long as the
    /// connection lasts), or the request is done.
    pub deadline: Option<tokio::time::Instant>,
}

impl Waiter {
    /// A request that waits for its reply.
    pub(crate) fn new(
        subject_hash: u64,
        guard: Option<Box<dyn Send>>,
        deadline: Option<tokio::time::Instant>,
    ) -> Waiter {
        Waiter {
            reply: ReplySlot::Waiting(None),
            subject_hash,
            guard,
            deadline,
        }
    }

    fn is_waiting(&self) -> bool {
        matches!(self.reply, ReplySlot::Waiting(_))
    }

    /// Stores `reply` if no reply came yet; returns what to do once the lock
    /// on the waiters is released.
    fn complete(&mut self, reply: Reply) -> Option<Completion> {
        let ReplySlot::Waiting(waker) = &mut self.reply else {
            return None;
        };
        let waker = waker.take();
        self.reply = ReplySlot::Done(reply);
        self.deadline = None;
        Some(Completion {
            waker,
            _guard: self.guard.take(),
        })
    }
}

impl std::fmt::Debug for Waiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waiter")
            .field("done", &!self.is_waiting())
            .finish_non_exhaustive()
    }
}

/// What completing a request leaves to do outside the lock: wake its
/// `Response` and drop its guard (both may run other code).
#[must_use]
pub(crate) struct Completion {
    waker: Option<Waker>,
    _guard: Option<Box<dyn Send>>,
}

impl Completion {
    /// Wakes the `Response` (and drops the guard).
    pub(crate) fn finish(self) {
        if let Some(waker) = self.waker {
            waker.wake();
        }
    }
}

/// Finishes every completion (outside the lock).
pub(crate) fn finish_all(completions: Vec<Completion>) {
    for c in completions {
        c.finish();
    }
}

#[derive(Debug, Default)]
pub(crate) struct Waiters {
    /// The token of `ring[0]`.
    base: u64,
    ring: SlotRing<Waiter>,
    overflow: HashMap<u64, Waiter>,
    /// How many entries still wait for their reply.
    waiting: usize,
}

impl Waiters {
    /// Adds the waiter for `token`, which must be the next token in order.
    pub(crate) fn insert(&mut self, token: u64, waiter: Waiter) {
        if self.ring.is_empty() {
            self.base = token;
        }
        // Tokens are consecutive; fill any gap (never expected) with holes.
        while self.base + (self.ring.len() as u64) < token {
            self.ring.push_back(None);
        }
        // Old entries make room first, so that the ring's storage never
        // grows past MAX_SPAN slots.
        while self.ring.len() >= MAX_SPAN {
            if let Some(Some(old)) = self.ring.pop_front() {
                self.overflow.insert(self.base, old);
            }
            self.base += 1;
        }
        if waiter.is_waiting() {
            self.waiting += 1;
        }
        self.ring.push_back(Some(waiter));
        self.trim();
    }

    /// The entry of `token`.
    fn get_mut(&mut self, token: u64) -> Option<&mut Waiter> {
        if token < self.base {
            self.overflow.get_mut(&token)
        } else {
            let index = usize::try_from(token - self.base).ok()?;
            self.ring.get_mut(index)?.as_mut()
        }
    }

    /// Removes and returns the entry of `token`.
    pub(crate) fn remove(&mut self, token: u64) -> Option<Waiter> {
        let waiter = if token < self.base {
            self.overflow.remove(&token)
        } else {
            let index = usize::try_from(token - self.base).ok()?;
            let waiter = self.ring.get_mut(index)?.take();
            self.trim();
            waiter
        };
        if waiter.as_ref().is_some_and(Waiter::is_waiting) {
            self.waiting -= 1;
        }
        waiter
    }

    /// Stores `reply` for `token` if that request still waits.
    pub(crate) fn complete(&mut self, token: u64, reply: Reply) -> Option<Completion> {
        let done = self.get_mut(token)?.complete(reply);
        if done.is_some() {
            self.waiting -= 1;
        }
        done
    }

    /// The reply of `token` if it came (removing the entry), else `Pending`
    /// with `waker` left to be woken when it comes. `Ready(None)`: there is
    /// no such request.
    ///
    /// A waker it replaces is returned, to be dropped once the lock is
    /// released (dropping a waker may drop a task, and with it a `Response`
    /// that takes the same lock).
    pub(crate) fn poll_take(
        &mut self,
        token: u64,
        waker: &Waker,
    ) -> (Poll<Option<Reply>>, Option<Waker>) {
        let Some(waiter) = self.get_mut(token) else {
            return (Poll::Ready(None), None);
        };
        if let ReplySlot::Waiting(slot) = &mut waiter.reply {
            let replaced = match slot {
                Some(w) if w.will_wake(waker) => None,
                _ => slot.replace(waker.clone()),
            };
            return (Poll::Pending, replaced);
        }
        // Moves the reply out (not the whole entry), then clears the entry.
        let ReplySlot::Done(reply) = std::mem::replace(&mut waiter.reply, ReplySlot::Waiting(None))
        else {
            return (Poll::Ready(None), None);
        };
        if token < self.base {
            self.overflow.remove(&token);
        } else if let Some(slot) = usize::try_from(token - self.base)
            .ok()
            .and_then(|i| self.ring.get_mut(i))
        {
            *slot = None;
            self.trim();
        }
        (Poll::Ready(Some(reply)), None)
    }

    /// Drops the holes at the front.
    fn trim(&mut self) {
        self.base += self.ring.trim_holes() as u64;
    }

    /// How many requests wait for their reply (not counting those whose
    /// reply, or error, is stored until their `Response` takes it).
    pub(crate) fn len(&self) -> usize {
        self.waiting
    }

    /// Completes, with the error `error` makes, the waiting requests that
    /// `matches` selects.
    pub(crate) fn complete_matching(
        &mut self,
        matches: impl Fn(&Waiter) -> bool,
        error: impl Fn() -> Error,
    ) -> Vec<Completion> {
        let ring = self.ring.iter_mut();
        let done: Vec<Completion> = (ring.chain(self.overflow.values_mut()))
            .filter(|w| w.is_waiting() && matches(w))
            .filter_map(|w| w.complete(Err(error())))
            .collect();
        self.waiting -= done.len();
        done
    }

    /// The earliest deadline of the waiting requests (a walk over all of them).
    pub(crate) fn earliest_deadline(&self) -> Option<tokio::time::Instant> {
        (self.ring.iter())
            .chain(self.overflow.values())
            .filter_map(|w| w.deadline)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    use bytes::Bytes;

    use super::*;
    use crate::error::ErrorKind;

    fn waiter() -> Waiter {
        Waiter::new(0, None, None)
    }

    fn reply() -> Reply {
        Ok(Message::new("_INBOX.x.1", Bytes::from_static(b"hi")))
    }

    /// A waker that counts its wakes.
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counting() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        (count.clone(), Waker::from(count))
    }

    #[test]
    fn in_order_and_out_of_order_removal() {
        let mut w = Waiters::default();
        for t in 0..10 {
            w.insert(t, waiter());
        }
        assert_eq!(w.len(), 10);
        assert!(w.remove(5).is_some());
        assert!(w.remove(5).is_none());
        assert!(w.remove(0).is_some());
        assert_eq!(w.base, 1);
        for t in [1, 2, 3, 4, 6, 7, 8, 9] {
            assert!(w.remove(t).is_some(), "{t}");
        }
        assert_eq!(w.len(), 0);
        assert!(w.ring.is_empty());
        w.insert(10, waiter());
        assert!(w.remove(10).is_some());
        assert!(w.remove(99).is_none());
    }

    #[test]
    fn a_reply_wakes_the_last_waker_and_is_taken_once() {
        let mut w = Waiters::default();
        w.insert(3, waiter());
        let (first, first_waker) = counting();
        let (second, second_waker) = counting();
        assert!(w.poll_take(3, &first_waker).0.is_pending());
        let (poll, replaced) = w.poll_take(3, &second_waker);
        assert!(poll.is_pending());
        assert!(replaced.is_some_and(|r| r.will_wake(&first_waker)));
        assert!(
            w.poll_take(3, &second_waker).1.is_none(),
            "the same waker stays"
        );
        w.complete(3, reply()).expect("waiting").finish();
        assert_eq!(first.0.load(Ordering::SeqCst), 0);
        assert_eq!(second.0.load(Ordering::SeqCst), 1);
        // A second reply for the same token is not stored.
        assert!(w.complete(3, reply()).is_none());
        assert_eq!(w.len(), 0, "answered");
        match w.poll_take(3, &second_waker).0 {
            Poll::Ready(Some(Ok(msg))) => assert_eq!(msg.payload, "hi"),
            other => panic!("expected the reply, got {other:?}"),
        }
        assert_eq!(w.len(), 0);
        assert!(matches!(w.poll_take(3, &second_waker).0, Poll::Ready(None)));
    }

    #[test]
    fn completing_drops_the_guard_and_clears_the_deadline() {
        struct Flag(Arc<AtomicUsize>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let dropped = Arc::new(AtomicUsize::new(0));
        let mut w = Waiters::default();
        let deadline = tokio::time::Instant::now();
        w.insert(
            0,
            Waiter::new(0, Some(Box::new(Flag(dropped.clone()))), Some(deadline)),
        );
        assert_eq!(w.earliest_deadline(), Some(deadline));
        let done = w.complete(0, reply()).expect("waiting");
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            0,
            "dropped outside the lock"
        );
        done.finish();
        assert_eq!(dropped.load(Ordering::SeqCst), 1);
        assert_eq!(w.earliest_deadline(), None);
        assert_eq!(w.len(), 0, "answered");
        assert!(w.remove(0).is_some(), "the reply waits for its response");
    }

    #[test]
    fn a_stuck_old_request_does_not_grow_the_ring() {
        let mut w = Waiters::default();
        w.insert(0, waiter()); // never answered
        for t in 1..(3 * MAX_SPAN as u64) {
            w.insert(t, waiter());
            assert!(w.remove(t).is_some());
        }
        assert!(w.ring.len() <= MAX_SPAN);
        assert_eq!(w.len(), 1);
        // It still gets its reply, from the overflow map.
        let (count, waker) = counting();
        assert!(w.poll_take(0, &waker).0.is_pending());
        w.complete(0, reply()).expect("waiting").finish();
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert!(matches!(w.poll_take(0, &waker).0, Poll::Ready(Some(Ok(_)))));
        assert_eq!(w.len(), 0);
    }

    #[test]
    fn complete_matching_fails_only_waiting_requests_in_the_ring_and_the_overflow() {
        let mut w = Waiters::default();
        let with_hash = |h: u64| Waiter::new(h, None, None);
        w.insert(0, with_hash(7)); // falls behind into the overflow map
        for t in 1..=(MAX_SPAN as u64 + 4) {
            w.insert(t, with_hash(t % 2));
        }
        let before = w.len();
        // Token 1 (odd) got its reply already: it keeps it.
        w.complete(1, reply()).expect("waiting").finish();
        let failed =
            w.complete_matching(|x| x.subject_hash == 7, || Error::new(ErrorKind::Timeout));
        assert_eq!(failed.len(), 1);
        let failed =
            w.complete_matching(|x| x.subject_hash == 1, || Error::new(ErrorKind::Timeout));
        assert_eq!(failed.len(), (MAX_SPAN + 4) / 2 - 1);
        finish_all(failed);
        // Only the even tokens still wait; the others keep their entries
        // (reply or error) until taken.
        assert_eq!(w.len(), before - 1 - (MAX_SPAN + 4) / 2);
        let (_, waker) = counting();
        assert!(matches!(w.poll_take(1, &waker).0, Poll::Ready(Some(Ok(_)))));
        match w.poll_take(3, &waker).0 {
            Poll::Ready(Some(Err(e))) => assert_eq!(e.kind(), ErrorKind::Timeout),
            other => panic!("expected a timeout, got {other:?}"),
        }
        match w.poll_take(0, &waker).0 {
            Poll::Ready(Some(Err(e))) => assert_eq!(e.kind(), ErrorKind::Timeout),
            other => panic!("expected a timeout, got {other:?}"),
        }
        assert!(w.poll_take(2, &waker).0.is_pending());
    }
}
