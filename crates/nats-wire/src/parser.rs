//! The incremental, zero-copy parser of server operations.

use bytes::{Buf, Bytes, BytesMut};

use crate::error::Error;
use crate::header::HeaderMap;
use crate::info::ServerInfo;
use crate::subject::{byte_mask, Subject};

/// The largest message (headers plus payload) the parser accepts unless told
/// otherwise: 64 MiB, the largest `max_payload` a server can be configured with.
pub const DEFAULT_MAX_PAYLOAD_LIMIT: usize = 64 * 1024 * 1024;

/// The longest control line accepted for anything but `INFO`.
const MAX_CONTROL_LINE: usize = 64 * 1024;
/// The longest `INFO` line accepted (INFO can carry many `connect_urls`).
const MAX_INFO_LINE: usize = 8 * 1024 * 1024;

/// An operation received from the server.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerOp {
    /// `INFO {json}`.
    Info(Box<ServerInfo>),
    /// `MSG` or `HMSG`: a message for a subscription.
    Msg(MsgOp),
    /// `PING`: answer with `PONG`.
    Ping,
    /// `PONG`: the answer to our `PING`.
    Pong,
    /// `+OK` (verbose mode only).
    Ok,
    /// `-ERR 'text'`, with the quotes removed.
    Err(String),
}

/// A message delivered to a subscription (`MSG` / `HMSG`).
///
/// Subject, reply, headers and payload are slices of the read buffer.
#[derive(Debug, Clone, PartialEq)]
pub struct MsgOp {
    /// The subject the message was published to (not the subscription's pattern).
    pub subject: Subject,
    /// The subscription id the message is for: dispatch on this, never the subject.
    pub sid: u64,
    /// The reply subject.
    pub reply: Option<Subject>,
    /// The header block (`HMSG` only). It is the publisher's, passed on by the server
    /// unchecked, so it is read with [`HeaderMap::parse_lenient`]: a malformed block
    /// does not fail the parse (which would cost the connection).
    pub headers: Option<HeaderMap>,
    /// The payload.
    pub payload: Bytes,
    /// Header plus payload bytes, as announced on the control line.
    pub length: usize,
}

/// A `MSG`/`HMSG` whose control line was parsed but whose payload has not fully
/// arrived. Offsets are into the (unconsumed) read buffer.
#[derive(Debug, Clone, Copy)]
struct Pending {
    line_len: usize,
    subject: (usize, usize),
    reply: Option<(usize, usize)>,
    sid: u64,
    header_len: Option<usize>,
    total_len: usize,
}

impl Pending {
    fn frame_len(&self) -> usize {
        self.line_len + self.total_len + 2
    }
}

/// The incremental parser. Keep one per connection and feed it the read buffer.
///
/// [`Parser::parse`] consumes one whole operation from the front of the buffer,
/// or returns `Ok(None)` (consuming nothing) when more bytes are needed. A
/// message whose control line has been read but whose payload is still arriving
/// is remembered, so its control line is not parsed again.
#[derive(Debug, Clone)]
pub struct Parser {
    pending: Option<Pending>,
    max_payload: usize,
}

impl Default for Parser {
    fn default() -> Self {
        Self::new()
    }
}

impl Parser {
    /// A parser accepting messages up to [`DEFAULT_MAX_PAYLOAD_LIMIT`].
    pub fn new() -> Self {
        Self::with_max_payload(DEFAULT_MAX_PAYLOAD_LIMIT)
    }

    /// A parser refusing messages larger than `max_payload` bytes (headers included).
    pub fn with_max_payload(max_payload: usize) -> Self {
        Parser {
            pending: None,
            max_payload,
        }
    }

    /// Forgets any partially parsed message (use on a new connection).
    pub fn reset(&mut self) {
        self.pending = None;
    }

    /// How many bytes the buffer must hold before the pending message can be
    /// parsed, or 0 when no message is pending. Lets the reader reserve
    /// capacity for a large payload in one step.
    pub fn bytes_needed(&self) -> usize {
        self.pending.map_or(0, |p| p.frame_len())
    }

    /// Parses one operation from the front of `buf`.
    ///
    /// Returns `Ok(None)` when `buf` does not yet hold a whole operation. An
    /// error means the stream cannot be framed any more: close the connection.
    pub fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<ServerOp>, Error> {
        if let Some(pending) = self.pending {
            if buf.len() < pending.frame_len() {
                return Ok(None);
            }
            self.pending = None;
            return finish_msg(buf, pending).map(|m| Some(ServerOp::Msg(m)));
        }
        let Some(&first) = buf.first() else {
            return Ok(None);
        };
        if !matches!(
            first,
            b'M' | b'm' | b'H' | b'h' | b'P' | b'p' | b'I' | b'i' | b'+' | b'-'
        ) {
            return Err(Error::parse(format!(
                "unexpected byte 0x{first:02x} at the start of an operation"
            )));
        }
        let Some(lf) = memchr::memchr(b'\n', buf) else {
            if buf.len() > control_line_limit(buf) {
                return Err(Error::parse("control line too long"));
            }
            return Ok(None);
        };
        // The same limit applies when the whole line is already buffered, so the
        // outcome does not depend on how the bytes were split across reads.
        if lf > control_line_limit(buf) {
            return Err(Error::parse("control line too long"));
        }
        if lf == 0 || buf[lf - 1] != b'\r' {
            return Err(Error::parse("control line does not end with CRLF"));
        }
        let line_len = lf + 1;
        let line = &buf[..lf - 1];
        let (op, args_start) = split_op(line);
        match op.len() {
            3 if op.eq_ignore_ascii_case(b"MSG") => self.msg_line(buf, line_len, args_start, false),
            4 if op.eq_ignore_ascii_case(b"HMSG") => self.msg_line(buf, line_len, args_start, true),
            4 if op.eq_ignore_ascii_case(b"PING") => {
                expect_no_args(&buf[args_start..lf - 1], "PING")?;
                buf.advance(line_len);
                Ok(Some(ServerOp::Ping))
            }
            4 if op.eq_ignore_ascii_case(b"PONG") => {
                expect_no_args(&buf[args_start..lf - 1], "PONG")?;
                buf.advance(line_len);
                Ok(Some(ServerOp::Pong))
            }
            3 if op.eq_ignore_ascii_case(b"+OK") => {
                expect_no_args(&buf[args_start..lf - 1], "+OK")?;
                buf.advance(line_len);
                Ok(Some(ServerOp::Ok))
            }
            4 if op.eq_ignore_ascii_case(b"-ERR") => {
                let text = String::from_utf8_lossy(&buf[args_start..lf - 1]);
                let text = text.trim().trim_matches('\'').trim().to_string();
                buf.advance(line_len);
                Ok(Some(ServerOp::Err(text)))
            }
            4 if op.eq_ignore_ascii_case(b"INFO") => {
                let info = ServerInfo::from_json(&buf[args_start..lf - 1])
                    .map_err(|e| Error::parse(format!("invalid INFO JSON: {e}")))?;
                buf.advance(line_len);
                Ok(Some(ServerOp::Info(Box::new(info))))
            }
            _ => Err(Error::parse(format!(
                "unknown operation {:?}",
                String::from_utf8_lossy(op)
            ))),
        }
    }

    fn msg_line(
        &mut self,
        buf: &mut BytesMut,
        line_len: usize,
        args_start: usize,
        with_headers: bool,
    ) -> Result<Option<ServerOp>, Error> {
        let line_end = line_len - 2;
        let mut args = [(0usize, 0usize); 5];
        let mut n = 0;
        for range in Tokens::new(&buf[..line_end], args_start) {
            if n == args.len() {
                return Err(Error::parse("too many arguments in MSG/HMSG"));
            }
            args[n] = range;
            n += 1;
        }
        let line = &buf[..line_end];
        let num = |r: (usize, usize)| parse_u64(&line[r.0..r.1]);
        let (reply, header_len, total_len) = match (with_headers, n) {
            (false, 3) => (None, None, num(args[2])?),
            (false, 4) => (Some(args[2]), None, num(args[3])?),
            (true, 4) => (None, Some(num(args[2])?), num(args[3])?),
            (true, 5) => (Some(args[2]), Some(num(args[3])?), num(args[4])?),
            _ => {
                return Err(Error::parse(format!(
                    "wrong number of arguments ({n}) in {}",
                    if with_headers { "HMSG" } else { "MSG" }
                )))
            }
        };
        let total_len =
            usize::try_from(total_len).map_err(|_| Error::parse("message length out of range"))?;
        let header_len = header_len
            .map(|h| usize::try_from(h).map_err(|_| Error::parse("header length out of range")))
            .transpose()?;
        if total_len > self.max_payload {
            return Err(Error::parse(format!(
                "message of {total_len} bytes exceeds the limit of {}",
                self.max_payload
            )));
        }
        if header_len.is_some_and(|h| h > total_len) {
            return Err(Error::parse("header length exceeds total length"));
        }
        let pending = Pending {
            line_len,
            subject: args[0],
            reply,
            sid: num(args[1])?,
            header_len,
            total_len,
        };
        if buf.len() < pending.frame_len() {
            self.pending = Some(pending);
            return Ok(None);
        }
        finish_msg(buf, pending).map(|m| Some(ServerOp::Msg(m)))
    }
}

fn finish_msg(buf: &mut BytesMut, p: Pending) -> Result<MsgOp, Error> {
    let frame = buf.split_to(p.frame_len()).freeze();
    let body_end = p.line_len + p.total_len;
    if &frame[body_end..] != b"\r\n" {
        return Err(Error::parse("message payload not followed by CRLF"));
    }
    let subject = Subject::from_utf8(frame.slice(p.subject.0..p.subject.1))
        .map_err(|_| Error::parse("subject is not valid UTF-8"))?;
    let reply = p
        .reply
        .map(|r| Subject::from_utf8(frame.slice(r.0..r.1)))
        .transpose()
        .map_err(|_| Error::parse("reply subject is not valid UTF-8"))?;
    let (headers, payload_start) = match p.header_len {
        Some(h) => {
            let block = frame.slice(p.line_len..p.line_len + h);
            (Some(HeaderMap::parse_lenient(block)), p.line_len + h)
        }
        None => (None, p.line_len),
    };
    Ok(MsgOp {
        subject,
        sid: p.sid,
        reply,
        headers,
        payload: frame.slice(payload_start..body_end),
        length: p.total_len,
    })
}

/// The longest control line accepted for the operation starting `buf`.
fn control_line_limit(buf: &[u8]) -> usize {
    if starts_with_ignore_case(buf, b"INFO") || buf.len() < 4 {
        MAX_INFO_LINE
    } else {
        MAX_CONTROL_LINE
    }
}

fn starts_with_ignore_case(buf: &[u8], prefix: &[u8]) -> bool {
    buf.len() >= prefix.len() && buf[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn is_sep(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Splits the operation name off a control line; returns it and where its
/// arguments start.
fn split_op(line: &[u8]) -> (&[u8], usize) {
    let end = line.iter().position(|&b| is_sep(b)).unwrap_or(line.len());
    let mut args = end;
    while args < line.len() && is_sep(line[args]) {
        args += 1;
    }
    (&line[..end], args)
}

fn expect_no_args(rest: &[u8], op: &str) -> Result<(), Error> {
    if rest.iter().all(|&b| is_sep(b)) {
        Ok(())
    } else {
        Err(Error::parse(format!("unexpected arguments after {op}")))
    }
}

fn parse_u64(digits: &[u8]) -> Result<u64, Error> {
    let invalid = || {
        Error::parse(format!(
            "invalid number {:?}",
            String::from_utf8_lossy(&digits[..digits.len().min(32)])
        ))
    };
    if digits.is_empty() {
        return Err(invalid());
    }
    // Any u64 is accepted (the encoder writes sids up to u64::MAX); overflow is
    // an error.
    let mut n: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(invalid());
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .ok_or_else(invalid)?;
    }
    Ok(n)
}

/// Where the token starting at `from` ends: the first space or tab at or
/// after it, or the end of `line`.
///
/// Eight bytes at a time: subjects such as `$JS.ACK...` reply subjects are
/// long, and the sid and lengths short, where a `memchr` call costs more
/// than the scan.
fn token_end(line: &[u8], mut from: usize) -> usize {
    while let Some(chunk) = line.get(from..).and_then(|rest| rest.first_chunk::<8>()) {
        let word = u64::from_le_bytes(*chunk);
        let seps = byte_mask(word, b' ') | byte_mask(word, b'\t');
        if seps != 0 {
            return from + (seps.trailing_zeros() / 8) as usize;
        }
        from += 8;
    }
    while from < line.len() && !is_sep(line[from]) {
        from += 1;
    }
    from.min(line.len())
}

/// Whitespace-separated token ranges of a line, from `start`.
struct Tokens<'a> {
    line: &'a [u8],
    pos: usize,
}

impl<'a> Tokens<'a> {
    fn new(line: &'a [u8], start: usize) -> Self {
        Tokens { line, pos: start }
    }
}

impl Iterator for Tokens<'_> {
    type Item = (usize, usize);
    fn next(&mut self) -> Option<(usize, usize)> {
        while self.pos < self.line.len() && is_sep(self.line[self.pos]) {
            self.pos += 1;
        }
        if self.pos >= self.line.len() {
            return None;
        }
        let start = self.pos;
        self.pos = token_end(self.line, start);
        Some((start, self.pos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte-by-byte answer `token_end` must match.
    fn slow_end(line: &[u8], from: usize) -> usize {
        (from..line.len())
            .find(|&i| is_sep(line[i]))
            .unwrap_or(line.len())
    }

    #[test]
    fn token_ends_are_found_in_words_and_tails() {
        let mut lines: Vec<Vec<u8>> = vec![b"".to_vec(), b"a".to_vec(), b" ".to_vec()];
        // A separator at every position of lines of 0..40 bytes, spaces and
        // tabs, next to bytes that differ from them by one bit.
        for len in 0..40 {
            for at in 0..len {
                for sep in [b' ', b'\t'] {
                    let mut line = vec![b'!'; len];
                    line[at] = sep;
                    lines.push(line);
                }
                let mut line = vec![0x28u8; len];
                line[at] = 0x08;
                lines.push(line);
            }
            lines.push(vec![0xa0; len]);
        }
        for line in &lines {
            for from in 0..=line.len() {
                assert_eq!(
                    token_end(line, from),
                    slow_end(line, from),
                    "{line:?} from {from}"
                );
            }
        }
    }
}
