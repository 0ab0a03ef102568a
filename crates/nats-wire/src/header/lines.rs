//! Reading a received header block's lines: split into pairs when they are read
//! (see [`HeaderMap`](super::HeaderMap)), the colon found eight bytes at a time.

use std::ops::Range;

use super::Field;
use crate::subject::byte_mask;

/// One CRLF-terminated line of a block: where it starts, where it ends (before
/// the CR), and where the next line starts.
pub(super) struct Line {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) next: usize,
}

impl Line {
    /// The name and the value of this line's pair, trimmed of spaces and tabs:
    /// `None` without a colon.
    pub(super) fn parts<'a>(&self, block: &'a str) -> Option<(&'a str, &'a str)> {
        let (name, value) = self.ranges(block)?;
        // Space, tab, colon and CR are ASCII: the offsets fall on character
        // boundaries.
        Some((block.get(name)?, block.get(value)?))
    }

    /// The pair of this line, `None` without a colon or a name.
    #[inline]
    pub(super) fn pair<'a>(&self, block: &'a str) -> Option<(&'a str, &'a str)> {
        self.parts(block).filter(|(name, _)| !name.is_empty())
    }

    /// Where the name and the value are in `block`.
    #[inline]
    fn ranges(&self, block: &str) -> Option<(Range<usize>, Range<usize>)> {
        let line = block.as_bytes().get(self.start..self.end)?;
        let colon = colon_in(line)?;
        let name = trim_blanks(self.start, &line[..colon]);
        let value = trim_blanks(self.start + colon + 1, &line[colon + 1..]);
        Some((name, value))
    }

    /// This line's pair as a field of its map, `None` without a colon or a name.
    pub(super) fn field(&self, block: &str) -> Option<Field> {
        let (name, value) = self.ranges(block).filter(|(name, _)| !name.is_empty())?;
        // Parsed blocks are at most u32::MAX bytes long.
        Some(Field::Line {
            start: name.start as u32,
            name_end: name.end as u32,
            value_start: value.start as u32,
            end: value.end as u32,
        })
    }
}

/// The CRLF-terminated lines of a block from an offset up to the blank line (a
/// lone LF belongs to its line); from offset 0, the version line comes first
/// (never taken for the blank line).
pub(super) struct Lines<'a> {
    block: &'a [u8],
    /// Where the next line starts; `None` once done.
    at: Option<usize>,
    /// Whether the blank line was reached.
    pub(super) ended: bool,
}

impl<'a> Lines<'a> {
    /// The lines from `at`; none for `None`.
    pub(super) fn new(block: &'a [u8], at: Option<usize>) -> Self {
        Lines {
            block,
            at,
            ended: false,
        }
    }
}

impl Iterator for Lines<'_> {
    type Item = Line;

    fn next(&mut self) -> Option<Line> {
        let start = self.at.take()?;
        let mut from = start;
        // Find "\r\n" with a plain memchr for '\n' (no searcher to build).
        let end = loop {
            let i = from + memchr::memchr(b'\n', self.block.get(from..)?)?;
            if i > start && self.block[i - 1] == b'\r' {
                break i - 1;
            }
            from = i + 1;
        };
        if end == start && start > 0 {
            self.ended = true;
            return None;
        }
        self.at = Some(end + 2);
        Some(Line {
            start,
            end,
            next: end + 2,
        })
    }
}

/// The pairs of a map in order: its `entries`, then its received lines not split.
pub(super) struct Pairs<'a> {
    pub(super) block: &'a str,
    pub(super) entries: std::slice::Iter<'a, Field>,
    pub(super) lines: Lines<'a>,
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<(&'a str, &'a str)> {
        if let Some(f) = self.entries.next() {
            return Some((f.name(self.block), f.value(self.block)));
        }
        let block = self.block;
        self.lines.find_map(|line| line.pair(block))
    }
}

/// The offset of the first colon of `line`, found eight bytes at a time (names
/// are a dozen bytes or two).
#[inline]
fn colon_in(line: &[u8]) -> Option<usize> {
    let mut at = 0;
    while let Some(chunk) = line.get(at..).and_then(|rest| rest.first_chunk::<8>()) {
        let colons = byte_mask(u64::from_le_bytes(*chunk), b':');
        if colons != 0 {
            return Some(at + (colons.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let tail = line.get(at..)?;
    tail.iter().position(|&b| b == b':').map(|i| at + i)
}

/// The range of `part` (found at offset `at` of its block) without the
/// spaces and tabs around it (as nats.go's header reader, through Go's
/// `textproto`, trims them).
#[inline]
fn trim_blanks(at: usize, part: &[u8]) -> std::ops::Range<usize> {
    let blank = |b: u8| b == b' ' || b == b'\t';
    let (mut start, mut end) = (0, part.len());
    while start < end && blank(part[start]) {
        start += 1;
    }
    while end > start && blank(part[end - 1]) {
        end -= 1;
    }
    at + start..at + end
}
