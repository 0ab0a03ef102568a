//! A ring of optional slots: a double-ended queue whose front holes are
//! dropped by moving an index, never by moving the slots themselves.
//!
//! [`Waiters`](crate::waiters::Waiters) keeps one slot per request token, each
//! large enough to hold a reply inline; `VecDeque::pop_front` would copy a
//! whole slot out for every hole it drops, which here costs nothing.

/// The most slots an empty ring keeps allocated.
const KEEP_WHEN_EMPTY: usize = 1024;

/// Slots in order, front to back; a slot is `None` once emptied (a hole).
#[derive(Debug)]
pub(crate) struct SlotRing<T> {
    /// The storage: empty, or a power of two long.
    slots: Vec<Option<T>>,
    /// Where the front slot is.
    head: usize,
    /// How many slots are in use, holes included.
    len: usize,
}

impl<T> Default for SlotRing<T> {
    fn default() -> Self {
        SlotRing {
            slots: Vec::new(),
            head: 0,
            len: 0,
        }
    }
}

impl<T> SlotRing<T> {
    /// How many slots are in use (holes included).
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Where the `i`-th slot from the front is stored.
    fn at(&self, i: usize) -> usize {
        // `slots.len()` is a power of two whenever a slot is in use.
        (self.head + i) & self.slots.len().wrapping_sub(1)
    }

    /// Adds a slot at the back.
    pub(crate) fn push_back(&mut self, value: Option<T>) {
        if self.len == self.slots.len() {
            self.grow();
        }
        let at = self.at(self.len);
        // Always there: the storage was just made longer than `len`.
        if let Some(slot) = self.slots.get_mut(at) {
            *slot = value;
            self.len += 1;
        }
    }

    /// Doubles the storage, moving the slots in use to its start.
    fn grow(&mut self) {
        let cap = (self.slots.len() * 2).max(8);
        let mut slots = Vec::with_capacity(cap);
        for i in 0..self.len {
            let at = self.at(i);
            slots.push(self.slots.get_mut(at).and_then(Option::take));
        }
        slots.resize_with(cap, || None);
        self.slots = slots;
        self.head = 0;
    }

    /// The `i`-th slot from the front.
    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut Option<T>> {
        if i >= self.len {
            return None;
        }
        let at = self.at(i);
        self.slots.get_mut(at)
    }

    /// Removes the front slot, returning its content.
    pub(crate) fn pop_front(&mut self) -> Option<Option<T>> {
        if self.len == 0 {
            return None;
        }
        let value = self.slots.get_mut(self.head).and_then(Option::take);
        self.head = self.at(1);
        self.len -= 1;
        Some(value)
    }

    /// Drops the holes at the front; returns how many there were. Once the
    /// ring is empty, storage beyond [`KEEP_WHEN_EMPTY`] slots is freed (a
    /// burst does not keep its high-water mark for the life of the ring).
    pub(crate) fn trim_holes(&mut self) -> usize {
        let mut holes = 0;
        while self.len > 0 && self.slots.get(self.head).is_some_and(Option::is_none) {
            self.head = self.at(1);
            self.len -= 1;
            holes += 1;
        }
        if self.len == 0 && self.slots.len() > KEEP_WHEN_EMPTY {
            self.slots = Vec::new();
            self.head = 0;
        }
        holes
    }

    /// The values in the slots, front to back.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        (0..self.len).filter_map(move |i| self.slots.get(self.at(i)).and_then(Option::as_ref))
    }

    /// The values in the slots, front to back, mutably.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        let end = self.head + self.len;
        let cap = self.slots.len();
        let (wrapped, from_head) = self.slots.split_at_mut(self.head.min(cap));
        let tail_len = end.min(cap) - self.head.min(cap);
        let front = from_head.iter_mut().take(tail_len);
        let back = wrapped.iter_mut().take(end.saturating_sub(cap));
        front.chain(back).flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contents(r: &SlotRing<u32>) -> Vec<u32> {
        r.iter().copied().collect()
    }

    #[test]
    fn keeps_order_across_wrap_around_and_growth() {
        let mut r = SlotRing::default();
        let mut model = std::collections::VecDeque::new();
        let mut next = 0u32;
        // Pushes and pops in a pattern that wraps the head around and grows
        // the storage while wrapped.
        for round in 0..50 {
            for _ in 0..(round % 7 + 3) {
                r.push_back(Some(next));
                model.push_back(next);
                next += 1;
            }
            for _ in 0..(round % 5 + 1) {
                assert_eq!(r.pop_front().flatten(), model.pop_front());
            }
            assert_eq!(contents(&r), model.iter().copied().collect::<Vec<_>>());
            let doubled: Vec<u32> = r.iter_mut().map(|v| *v * 2).collect();
            assert_eq!(doubled, model.iter().map(|v| v * 2).collect::<Vec<_>>());
        }
        while let Some(v) = r.pop_front() {
            assert_eq!(v, model.pop_front());
        }
        assert!(r.is_empty() && model.is_empty());
    }

    #[test]
    fn holes_are_skipped_and_trimmed_from_the_front() {
        let mut r = SlotRing::default();
        for v in 0..10u32 {
            r.push_back(Some(v));
        }
        for i in [0, 1, 3] {
            *r.get_mut(i).expect("in use") = None;
        }
        assert_eq!(r.len(), 10);
        assert_eq!(contents(&r), [2, 4, 5, 6, 7, 8, 9]);
        assert_eq!(r.trim_holes(), 2);
        assert_eq!(r.len(), 8);
        assert_eq!(r.get_mut(0).and_then(|s| s.as_ref()).copied(), Some(2));
        assert!(r.get_mut(8).is_none());
        r.push_back(None);
        assert_eq!(r.len(), 9);
        assert_eq!(r.trim_holes(), 0);
    }

    #[test]
    fn an_emptied_ring_frees_large_storage() {
        let mut r = SlotRing::default();
        for v in 0..(3 * KEEP_WHEN_EMPTY as u32) {
            r.push_back(Some(v));
        }
        assert!(r.slots.len() > KEEP_WHEN_EMPTY);
        for i in 0..r.len() {
            *r.get_mut(i).expect("in use") = None;
        }
        assert_eq!(r.trim_holes(), 3 * KEEP_WHEN_EMPTY);
        assert!(r.is_empty());
        assert!(r.slots.is_empty());
        r.push_back(Some(7));
        assert_eq!(r.iter().copied().collect::<Vec<_>>(), [7]);
        // A small one keeps its storage.
        r.push_back(None);
        *r.get_mut(0).expect("in use") = None;
        assert_eq!(r.trim_holes(), 2);
        assert_eq!(r.slots.len(), 8);
    }
}
