//! The requests waiting for a reply, indexed by token.
//!
//! Tokens are handed out in order and replies come back nearly in order, so a
//! ring indexed by `token - base` finds a waiter in O(1) with no hashing and no
//! tombstones. Entries that fall too far behind the newest (a request whose
//! reply never comes and that is kept alive) move to a small map, so the ring's
//! span stays bounded.

use std::collections::{HashMap, VecDeque};

use crate::shared::Waiter;

/// The most tokens the ring spans before old entries move to the map.
const MAX_SPAN: usize = 1 << 16;

#[derive(Debug, Default)]
pub(crate) struct Waiters {
    /// The token of `ring[0]`.
    base: u64,
    ring: VecDeque<Option<Waiter>>,
    overflow: HashMap<u64, Waiter>,
    len: usize,
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
        self.ring.push_back(Some(waiter));
        self.len += 1;
        while self.ring.len() > MAX_SPAN {
            if let Some(Some(old)) = self.ring.pop_front() {
                self.overflow.insert(self.base, old);
            }
            self.base += 1;
        }
        self.trim();
    }

    /// Removes and returns the waiter for `token`.
    pub(crate) fn remove(&mut self, token: u64) -> Option<Waiter> {
        let waiter = if token < self.base {
            self.overflow.remove(&token)
        } else {
            let index = usize::try_from(token - self.base).ok()?;
            let waiter = self.ring.get_mut(index)?.take();
            self.trim();
            waiter
        };
        if waiter.is_some() {
            self.len -= 1;
        }
        waiter
    }

    /// Drops the holes at the front.
    fn trim(&mut self) {
        while matches!(self.ring.front(), Some(None)) {
            self.ring.pop_front();
            self.base += 1;
        }
    }

    /// How many requests wait.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Takes out the waiters `matches` selects.
    pub(crate) fn take_matching(&mut self, matches: impl Fn(&Waiter) -> bool) -> Vec<Waiter> {
        let mut taken = Vec::new();
        for slot in self.ring.iter_mut() {
            if slot.as_ref().is_some_and(&matches) {
                taken.extend(slot.take());
            }
        }
        let old: Vec<u64> = (self.overflow.iter())
            .filter(|(_, w)| matches(w))
            .map(|(token, _)| *token)
            .collect();
        taken.extend(old.iter().filter_map(|t| self.overflow.remove(t)));
        self.trim();
        self.len -= taken.len();
        taken
    }

    /// The earliest deadline of the waiters (a walk over all of them).
    pub(crate) fn earliest_deadline(&self) -> Option<tokio::time::Instant> {
        (self.ring.iter().flatten())
            .chain(self.overflow.values())
            .filter_map(|w| w.deadline)
            .min()
    }

    /// Takes every waiter out (to fail them all).
    pub(crate) fn take_all(&mut self) -> Vec<Waiter> {
        let mut all: Vec<Waiter> = self.ring.drain(..).flatten().collect();
        all.extend(self.overflow.drain().map(|(_, w)| w));
        self.len = 0;
        all
    }
}

#[cfg(test)]
mod tests {
    use tokio::sync::oneshot;

    use super::*;

    fn waiter() -> Waiter {
        let (tx, _rx) = oneshot::channel();
        Waiter {
            tx,
            subject_hash: 0,
            _guard: None,
            deadline: None,
        }
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
    fn a_stuck_old_request_does_not_grow_the_ring() {
        let mut w = Waiters::default();
        w.insert(0, waiter()); // never answered
        for t in 1..(3 * MAX_SPAN as u64) {
            w.insert(t, waiter());
            assert!(w.remove(t).is_some());
        }
        assert!(w.ring.len() <= MAX_SPAN);
        assert_eq!(w.len(), 1);
        assert!(w.remove(0).is_some());
        assert_eq!(w.len(), 0);
    }

    #[test]
    fn take_matching_takes_from_the_ring_and_the_overflow() {
        let mut w = Waiters::default();
        let with_hash = |h: u64| {
            let mut x = waiter();
            x.subject_hash = h;
            x
        };
        w.insert(0, with_hash(7)); // falls behind into the overflow map
        for t in 1..=(MAX_SPAN as u64 + 4) {
            w.insert(t, with_hash(t % 2));
        }
        let before = w.len();
        let taken = w.take_matching(|x| x.subject_hash == 7);
        assert_eq!(taken.len(), 1);
        let taken = w.take_matching(|x| x.subject_hash == 1);
        assert_eq!(taken.len(), (MAX_SPAN + 4) / 2);
        assert_eq!(w.len(), before - 1 - taken.len());
        assert!(w.remove(2).is_some());
        assert!(w.remove(3).is_none());
    }

    #[test]
    fn take_all_empties_everything() {
        let mut w = Waiters::default();
        for t in 0..5 {
            w.insert(t, waiter());
        }
        assert_eq!(w.take_all().len(), 5);
        assert_eq!(w.len(), 0);
        w.insert(5, waiter());
        assert!(w.remove(5).is_some());
    }
}
