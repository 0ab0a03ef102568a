//! Helpers shared by the integration tests: building server frames and feeding
//! bytes to the parser whole, split at one offset, or in arbitrary chunks.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use bytes::{Bytes, BytesMut};
use nats_wire::{Error, ErrorKind, HeaderMap, MsgOp, Parser, ServerOp, Subject};

/// `MSG subject sid [reply] len\r\npayload\r\n`, as a server sends it.
pub fn msg_frame(subject: &str, sid: u64, reply: Option<&str>, payload: &[u8]) -> Vec<u8> {
    let mut out = format!("MSG {subject} {sid} ").into_bytes();
    if let Some(reply) = reply {
        out.extend_from_slice(reply.as_bytes());
        out.push(b' ');
    }
    out.extend_from_slice(format!("{}\r\n", payload.len()).as_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
    out
}

/// `HMSG subject sid [reply] hlen total\r\nheader-block payload\r\n`, with the
/// header block given as raw bytes (lengths are computed here).
pub fn hmsg_frame_raw(
    subject: &str,
    sid: u64,
    reply: Option<&str>,
    header_block: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    let mut out = format!("HMSG {subject} {sid} ").into_bytes();
    if let Some(reply) = reply {
        out.extend_from_slice(reply.as_bytes());
        out.push(b' ');
    }
    let hlen = header_block.len();
    out.extend_from_slice(format!("{hlen} {}\r\n", hlen + payload.len()).as_bytes());
    out.extend_from_slice(header_block);
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
    out
}

/// Like [`hmsg_frame_raw`], with the header block produced by `HeaderMap::encode`.
pub fn hmsg_frame(
    subject: &str,
    sid: u64,
    reply: Option<&str>,
    headers: &HeaderMap,
    payload: &[u8],
) -> Vec<u8> {
    let mut block = BytesMut::new();
    headers.encode(&mut block);
    hmsg_frame_raw(subject, sid, reply, &block, payload)
}

/// The `MsgOp` the parser should produce for a frame built by the helpers above.
pub fn expected_msg(
    subject: &str,
    sid: u64,
    reply: Option<&str>,
    headers: Option<HeaderMap>,
    header_len: usize,
    payload: &[u8],
) -> ServerOp {
    ServerOp::Msg(MsgOp {
        subject: Subject::from(subject),
        sid,
        reply: reply.map(Subject::from),
        headers,
        payload: Bytes::copy_from_slice(payload),
        length: header_len + payload.len(),
    })
}

/// Calls `parse` once, asserting that `Ok(None)` leaves the buffer untouched.
pub fn parse_step(parser: &mut Parser, buf: &mut BytesMut) -> Result<Option<ServerOp>, Error> {
    let before = buf.clone();
    let res = parser.parse(buf);
    if let Ok(None) = res {
        assert_eq!(
            &buf[..],
            &before[..],
            "parse returned Ok(None) but changed the buffer"
        );
    }
    res
}

/// Parses until `Ok(None)` or an error, pushing ops into `ops`.
pub fn drain(
    parser: &mut Parser,
    buf: &mut BytesMut,
    ops: &mut Vec<ServerOp>,
) -> Result<(), Error> {
    while let Some(op) = parse_step(parser, buf)? {
        ops.push(op);
    }
    Ok(())
}

/// What feeding a byte stream to a parser produced.
#[derive(Debug, PartialEq)]
pub struct Outcome {
    /// The operations parsed before the stream ended or failed.
    pub ops: Vec<ServerOp>,
    /// The error that stopped parsing, if any.
    pub error: Option<Error>,
    /// Bytes left unconsumed in the buffer (only meaningful without an error).
    pub left: usize,
}

impl Outcome {
    /// Asserts the stream was parsed completely into `expected`.
    pub fn assert_complete(&self, expected: &[ServerOp], what: &str) {
        assert_eq!(self.error, None, "{what}: unexpected error");
        assert_eq!(self.ops, expected, "{what}: wrong ops");
        assert_eq!(self.left, 0, "{what}: buffer not fully consumed");
    }
}

/// Feeds `data` as consecutive chunks of the given sizes (the rest, if any, as
/// one last chunk), draining the parser after each chunk.
pub fn feed_chunks_with(parser: Parser, data: &[u8], sizes: &[usize]) -> Outcome {
    let mut parser = parser;
    let mut buf = BytesMut::new();
    let mut ops = Vec::new();
    let mut pos = 0;
    let mut chunks: Vec<(usize, usize)> = Vec::new();
    for &size in sizes {
        if pos >= data.len() {
            break;
        }
        let end = (pos + size).min(data.len());
        chunks.push((pos, end));
        pos = end;
    }
    if pos < data.len() || chunks.is_empty() {
        chunks.push((pos, data.len()));
    }
    for (start, end) in chunks {
        buf.extend_from_slice(&data[start..end]);
        if let Err(e) = drain(&mut parser, &mut buf, &mut ops) {
            return Outcome {
                ops,
                error: Some(e),
                left: buf.len(),
            };
        }
    }
    Outcome {
        ops,
        error: None,
        left: buf.len(),
    }
}

/// Feeds `data` in one piece to a default parser.
pub fn feed_whole(data: &[u8]) -> Outcome {
    feed_chunks_with(Parser::new(), data, &[])
}

/// Feeds `data[..at]`, drains, then `data[at..]`, drains.
pub fn feed_split(data: &[u8], at: usize) -> Outcome {
    feed_chunks_with(Parser::new(), data, &[at])
}

/// Feeds `data` one byte at a time.
pub fn feed_bytewise(data: &[u8]) -> Outcome {
    feed_chunks_with(Parser::new(), data, &vec![1; data.len()])
}

/// Asserts `data` parses into exactly `expected`, whole, split at every byte
/// offset, and fed byte by byte.
pub fn assert_parses_everywhere(data: &[u8], expected: &[ServerOp]) {
    feed_whole(data).assert_complete(expected, "whole");
    for at in 0..=data.len() {
        feed_split(data, at).assert_complete(expected, &format!("split at {at}"));
    }
    feed_bytewise(data).assert_complete(expected, "byte by byte");
}

/// Asserts `data` fails to parse, whole, split at every offset and byte by byte.
/// The operations parsed before the error must be the same in every case.
pub fn assert_fails_everywhere(parser: &Parser, data: &[u8]) -> Error {
    let whole = feed_chunks_with(parser.clone(), data, &[]);
    let Some(err) = whole.error.clone() else {
        panic!(
            "{:?}: expected a parse error, got {:?}",
            String::from_utf8_lossy(data),
            whole
        );
    };
    assert_eq!(err.kind(), ErrorKind::Parse, "{err}");
    for at in 0..=data.len() {
        let split = feed_chunks_with(parser.clone(), data, &[at]);
        assert_eq!(split.ops, whole.ops, "split at {at}");
        assert_eq!(split.error.as_ref(), Some(&err), "split at {at}");
    }
    let bytewise = feed_chunks_with(parser.clone(), data, &vec![1; data.len()]);
    assert_eq!(bytewise.ops, whole.ops, "byte by byte");
    assert_eq!(bytewise.error.as_ref(), Some(&err), "byte by byte");
    err
}
