//! The write queue: encoded protocol bytes waiting for the socket, with large
//! payloads held by reference rather than copied.
//!
//! Small operations are encoded into one growing buffer (the tail). A payload
//! of [`BY_REFERENCE`] bytes or more is not copied: the tail encoded so far is
//! frozen into a segment (no copy either), the payload's `Bytes` follows it,
//! and encoding goes on in the tail. The socket then gets a vectored write of
//! the segments and the tail.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Bytes, BytesMut};
use nats_wire::{encode_pub_head, HeaderMap};

/// Payloads of at least this many bytes are queued by reference and written
/// with a vectored write; smaller ones are copied into the tail.
///
/// Measured with nats-bench's pub-1k loop at other payload sizes (client CPU
/// per message, copied vs by reference, 2 x 3 runs on a loaded 2-core
/// machine): 1 KiB about even (337-506 vs 326-345 ns), 4 KiB 928-1031 vs
/// 548-838 ns, 8 KiB 1546-1807 vs 772-791 ns, 16 KiB 2394-2638 vs
/// 1441-1863 ns. From 4 KiB a reference is clearly cheaper, and one
/// vectored write of [`MAX_SLICES`] slices still carries about 128 KiB.
pub(crate) const BY_REFERENCE: usize = 4 * 1024;

/// The most slices handed to one vectored write.
const MAX_SLICES: usize = 64;

/// Bytes waiting to be written, in order: `segments`, then `tail`.
#[derive(Debug, Default)]
pub(crate) struct WriteQueue {
    /// Complete pieces before the tail: frozen encoded bytes and payloads.
    segments: VecDeque<Bytes>,
    /// The bytes in `segments`.
    segments_len: usize,
    /// Where small operations are encoded.
    tail: BytesMut,
    /// How much of the front piece (the first segment, or else the tail) is
    /// already written.
    written: usize,
}

impl WriteQueue {
    /// An empty queue whose tail has room for `capacity` bytes.
    pub(crate) fn with_capacity(capacity: usize) -> WriteQueue {
        WriteQueue {
            tail: BytesMut::with_capacity(capacity),
            ..WriteQueue::default()
        }
    }

    /// The bytes still to write.
    pub(crate) fn len(&self) -> usize {
        self.segments_len + self.tail.len() - self.written
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The buffer small operations are encoded into (after everything queued).
    pub(crate) fn buf(&mut self) -> &mut BytesMut {
        &mut self.tail
    }

    /// Queues `payload` by reference after everything queued so far.
    pub(crate) fn push_bytes(&mut self, payload: Bytes) {
        if !self.tail.is_empty() {
            let head = self.tail.split().freeze();
            self.segments_len += head.len();
            self.segments.push_back(head);
        }
        if !payload.is_empty() {
            self.segments_len += payload.len();
            self.segments.push_back(payload);
        }
    }

    /// Queues `payload`: by reference if it is large, else copied.
    pub(crate) fn put_payload(&mut self, payload: &Bytes) {
        if payload.len() >= BY_REFERENCE {
            self.push_bytes(payload.clone());
        } else {
            self.tail.extend_from_slice(payload);
        }
    }

    /// Queues a PUB (or HPUB) of `payload`.
    pub(crate) fn put_pub(
        &mut self,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&HeaderMap>,
        payload: &Bytes,
    ) {
        tracing::trace!(
            target: "nats_core::protocol",
            op = if headers.is_some() { "HPUB" } else { "PUB" },
            subject,
            reply,
            bytes = payload.len(),
        );
        encode_pub_head(subject, reply, headers, payload.len(), &mut self.tail);
        self.put_payload(payload);
        self.tail.extend_from_slice(b"\r\n");
    }

    /// Whether everything queued is in the tail (no segment): what a direct
    /// write takes.
    pub(crate) fn is_contiguous(&self) -> bool {
        self.segments.is_empty()
    }

    /// The unwritten part of the tail (everything, when
    /// [`WriteQueue::is_contiguous`]).
    pub(crate) fn tail_unwritten(&self) -> &[u8] {
        if self.segments.is_empty() {
            &self.tail[self.written..]
        } else {
            &self.tail[..]
        }
    }

    /// How much of the front piece was written.
    pub(crate) fn written(&self) -> usize {
        self.written
    }

    /// Forgets that the front piece was partly written, so that it is
    /// written again in full (on a new connection).
    pub(crate) fn unwind_written(&mut self) {
        self.written = 0;
    }

    /// Drops `n` written bytes from the front.
    pub(crate) fn advance(&mut self, n: usize) {
        self.written += n;
        while let Some(front) = self.segments.front() {
            if self.written < front.len() {
                return;
            }
            self.written -= front.len();
            self.segments_len -= front.len();
            self.segments.pop_front();
        }
        if self.written >= self.tail.len() {
            // Everything is written: reuse the tail's room from its start.
            self.tail.clear();
            self.written = 0;
        }
    }

    /// Empties the queue.
    pub(crate) fn clear(&mut self) {
        self.segments.clear();
        self.segments_len = 0;
        self.tail.clear();
        self.written = 0;
    }

    /// Fills `slices` with the unwritten bytes, in order; returns how many
    /// slices were filled (at most [`MAX_SLICES`]).
    pub(crate) fn io_slices<'a>(&'a self, slices: &mut [IoSlice<'a>; MAX_SLICES]) -> usize {
        let mut n = 0;
        let mut skip = self.written;
        for seg in &self.segments {
            if n == MAX_SLICES {
                return n;
            }
            slices[n] = IoSlice::new(&seg[skip..]);
            skip = 0;
            n += 1;
        }
        if n < MAX_SLICES && self.tail.len() > skip {
            slices[n] = IoSlice::new(&self.tail[skip..]);
            n += 1;
        }
        n
    }
}

/// Room for the slices of one vectored write.
pub(crate) fn slice_array<'a>() -> [IoSlice<'a>; MAX_SLICES] {
    [IoSlice::new(&[]); MAX_SLICES]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contents(q: &WriteQueue) -> Vec<u8> {
        let mut slices = slice_array();
        let n = q.io_slices(&mut slices);
        slices[..n].iter().flat_map(|s| s.iter().copied()).collect()
    }

    #[test]
    fn small_payloads_are_copied_large_ones_referenced() {
        let mut q = WriteQueue::with_capacity(64);
        q.buf().extend_from_slice(b"PUB a 3\r\n");
        q.put_payload(&Bytes::from_static(b"abc"));
        q.buf().extend_from_slice(b"\r\n");
        assert!(q.is_contiguous());
        let big = Bytes::from(vec![b'x'; BY_REFERENCE]);
        q.buf().extend_from_slice(b"PUB b 8192\r\n");
        q.put_payload(&big);
        q.buf().extend_from_slice(b"\r\n");
        assert!(!q.is_contiguous());
        let mut want = b"PUB a 3\r\nabc\r\nPUB b 8192\r\n".to_vec();
        want.extend_from_slice(&big);
        want.extend_from_slice(b"\r\n");
        assert_eq!(q.len(), want.len());
        assert_eq!(contents(&q), want);
        // Partial writes across the pieces.
        let mut at = 0;
        for step in [3, 20, 4000, 5000, 1, want.len()] {
            let step = step.min(want.len() - at);
            q.advance(step);
            at += step;
            assert_eq!(q.len(), want.len() - at);
            assert_eq!(contents(&q), want[at..]);
        }
        assert!(q.is_empty());
        assert!(q.is_contiguous());
    }

    #[test]
    fn unwinding_a_partly_written_front_rewrites_it_whole() {
        let mut q = WriteQueue::default();
        q.buf().extend_from_slice(b"PUB a 1\r\nz\r\n");
        q.advance(5);
        assert_eq!(q.tail_unwritten(), b" 1\r\nz\r\n");
        q.buf().extend_from_slice(b"PING\r\n");
        q.unwind_written();
        assert_eq!(contents(&q), b"PUB a 1\r\nz\r\nPING\r\n");
    }
}
