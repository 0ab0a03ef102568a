//! Deterministic object content for the object-store tests: a prime-length random block,
//! cycled, that can be streamed without being held and checked at any offset.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

/// Deterministic, non-repeating-at-chunk-boundaries content: a prime-length random block,
/// cycled.
pub struct Pattern {
    block: Vec<u8>,
}

const PATTERN_LEN: usize = 1_048_573;

impl Pattern {
    pub fn new() -> Pattern {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let block = (0..PATTERN_LEN)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect();
        Pattern { block }
    }

    pub fn bytes(&self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            let pos = out.len() % PATTERN_LEN;
            let n = (PATTERN_LEN - pos).min(len - out.len());
            out.extend_from_slice(&self.block[pos..pos + n]);
        }
        out
    }

    pub fn reader(&self, len: u64) -> PatternReader<'_> {
        PatternReader {
            block: &self.block,
            pos: 0,
            len,
        }
    }

    /// Checks `data`, found at `offset` of the content.
    pub fn matches(&self, offset: u64, data: &[u8]) -> bool {
        let mut done = 0;
        while done < data.len() {
            let pos = ((offset + done as u64) % PATTERN_LEN as u64) as usize;
            let n = (PATTERN_LEN - pos).min(data.len() - done);
            if data[done..done + n] != self.block[pos..pos + n] {
                return false;
            }
            done += n;
        }
        true
    }
}

/// Streams `len` bytes of the pattern without holding them.
pub struct PatternReader<'a> {
    block: &'a [u8],
    pos: u64,
    len: u64,
}

impl AsyncRead for PatternReader<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let left = self.len - self.pos;
        let at = (self.pos % PATTERN_LEN as u64) as usize;
        let n = (buf.remaining() as u64)
            .min(left)
            .min((PATTERN_LEN - at) as u64) as usize;
        buf.put_slice(&self.block[at..at + n]);
        self.pos += n as u64;
        Poll::Ready(Ok(()))
    }
}
