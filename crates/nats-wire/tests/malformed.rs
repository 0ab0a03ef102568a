//! Malformed input must give `Err(Error)` of kind `Parse`, never a panic, however the bytes
//! are split across reads. A malformed header block is not malformed framing: the message
//! is delivered (see `malformed_header_blocks_are_delivered_with_what_can_be_read`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bytes::BytesMut;
use common::*;
use nats_wire::{Parser, ServerOp};

fn fails(data: &[u8]) -> String {
    assert_fails_everywhere(&Parser::new(), data)
        .message()
        .to_string()
}

#[test]
fn bad_numbers() {
    for bad in [
        &b"MSG foo 1 abc\r\nhello\r\n"[..],
        b"MSG foo 1 5x\r\nhello\r\n",
        b"MSG foo 1 -5\r\nhello\r\n",
        b"MSG foo 1 +5\r\nhello\r\n",
        b"MSG foo 1 0x5\r\nhello\r\n",
        b"MSG foo x 5\r\nhello\r\n",
        b"MSG foo -1 5\r\nhello\r\n",
        b"MSG foo 1 r 5.0\r\nhello\r\n",
        // 20 digits: more than u64 can hold.
        b"MSG foo 1 99999999999999999999\r\n",
        b"MSG foo 18446744073709551616 5\r\nhello\r\n",
        b"HMSG foo 1 x 12\r\nNATS/1.0\r\n\r\n\r\n",
        b"HMSG foo 1 12 y\r\nNATS/1.0\r\n\r\n\r\n",
        b"HMSG foo 1 r 12 1e3\r\nNATS/1.0\r\n\r\n\r\n",
    ] {
        let msg = fails(bad);
        assert!(
            msg.contains("number") || msg.contains("exceeds") || msg.contains("range"),
            "{bad:?}: {msg}"
        );
    }
}

#[test]
fn missing_arguments() {
    for bad in [
        &b"MSG\r\n"[..],
        b"MSG \r\n",
        b"MSG foo\r\n",
        b"MSG foo 1\r\n",
        b"HMSG\r\n",
        b"HMSG foo 1\r\n",
        b"HMSG foo 1 12\r\nNATS/1.0\r\n\r\n\r\n",
    ] {
        let msg = fails(bad);
        assert!(msg.contains("arguments"), "{bad:?}: {msg}");
    }
}

#[test]
fn too_many_arguments() {
    for bad in [
        &b"MSG foo 1 r extra 5\r\nhello\r\n"[..],
        b"MSG a b c d e f g h\r\n",
        b"HMSG foo 1 r 12 12 extra\r\nNATS/1.0\r\n\r\n\r\n",
        b"HMSG a b c d e f g h\r\n",
        b"PING now\r\n",
        b"PONG 1\r\n",
        b"+OK fine\r\n",
    ] {
        let msg = fails(bad);
        assert!(msg.contains("argument"), "{bad:?}: {msg}");
    }
}

#[test]
fn header_length_greater_than_total() {
    let msg = fails(b"HMSG foo 1 20 10\r\nNATS/1.0\r\n\r\n\r\n");
    assert!(msg.contains("header length"), "{msg}");
    fails(b"HMSG foo 1 r 13 12\r\nNATS/1.0\r\n\r\n\r\n");
}

/// A header block is the publisher's, passed on by the server as it was sent: one
/// that is malformed must not cost the connection (nor the message). The frame
/// parses, the payload is intact, and only the pairs that can be read are kept.
#[test]
fn malformed_header_blocks_are_delivered_with_what_can_be_read() {
    /// A header block, and the pairs read from it.
    type Case = (&'static [u8], &'static [(&'static str, &'static str)]);
    let cases: [Case; 13] = [
        (b"", &[]),
        (b"\r\n", &[]),
        (b"HTTP/1.1\r\n\r\n", &[]),
        (b"NATS/2.0\r\nK: v\r\n\r\n", &[("K", "v")]),
        (b"NATS/1.0 abc\r\n\r\n", &[]),
        (b"NATS/1.0 99\r\nK: v\r\n\r\n", &[("K", "v")]),
        (b"NATS/1.0 1000\r\n\r\n", &[]),
        (b"NATS/1.0\r\nno colon here\r\nK: v\r\n\r\n", &[("K", "v")]),
        (b"NATS/1.0\r\n: no name\r\nK: v\r\n\r\n", &[("K", "v")]),
        (b"NATS/1.0\r\nK: v\r\n", &[("K", "v")]),
        (b"NATS/1.0\r\nK: v\r\nJ: w", &[("K", "v")]),
        (
            b"NATS/1.0\r\nK: \xff\xfe\r\n\r\n",
            &[("K", "\u{fffd}\u{fffd}")],
        ),
        (b"NATS/1.0", &[]),
    ];
    for (block, pairs) in cases {
        let frame = hmsg_frame_raw("foo", 1, None, block, b"payload");
        let outcome = feed_whole(&frame);
        assert_eq!(outcome.error, None, "{:?}", String::from_utf8_lossy(block));
        let [ServerOp::Msg(msg)] = &outcome.ops[..] else {
            panic!("{:?}: {:?}", String::from_utf8_lossy(block), outcome.ops);
        };
        assert_eq!(&msg.payload[..], b"payload");
        let headers = msg.headers.as_ref().expect("a header block was sent");
        assert_eq!(headers.iter().collect::<Vec<_>>(), pairs);
        assert_eq!(headers.status(), None);
        // Split anywhere, the bytes give the same message.
        for at in 0..=frame.len() {
            assert_eq!(feed_split(&frame, at), outcome, "split at {at}");
        }
        // The strict parse still refuses it.
        assert!(nats_wire::HeaderMap::parse(bytes::Bytes::copy_from_slice(block)).is_err());
    }
}

#[test]
fn missing_crlf_after_payload() {
    for bad in [
        &b"MSG foo 1 5\r\nhelloXX"[..],
        b"MSG foo 1 5\r\nhello\n\r",
        b"MSG foo 1 5\r\nhello\rX",
        // The announced length is shorter than the payload really sent.
        b"MSG foo 1 3\r\nhello\r\n",
        b"MSG foo 1 0\r\nx\r\n",
        b"HMSG foo 1 12 14\r\nNATS/1.0\r\n\r\nhiXY",
    ] {
        let msg = fails(bad);
        assert!(msg.contains("CRLF"), "{bad:?}: {msg}");
    }
}

#[test]
fn control_line_without_cr() {
    for bad in [&b"PING\n"[..], b"MSG foo 1 5\nhello\r\n", b"+OK\n", b"\n"] {
        fails(bad);
    }
}

#[test]
fn unknown_operations() {
    for bad in [
        &b"FOO bar\r\n"[..],
        b"MSGX foo 1 1\r\nx\r\n",
        b"PINGX\r\n",
        b"PIN\r\n",
        b"INFOX {}\r\n",
        b"+OKK\r\n",
        b"-ERROR 'x'\r\n",
        b"PUB foo 1\r\nx\r\n",
        b"HPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\n",
        b"SUB foo 1\r\n",
        b"UNSUB 1\r\n",
        b"CONNECT {}\r\n",
        b"M\r\n",
        b"-\r\n",
    ] {
        fails(bad);
    }
}

#[test]
fn non_utf8_subject_and_reply() {
    let msg = fails(b"MSG \xff\xfe 1 2\r\nhi\r\n");
    assert!(msg.contains("UTF-8"), "{msg}");
    let msg = fails(b"MSG foo 1 \xc3\x28 2\r\nhi\r\n");
    assert!(msg.contains("UTF-8"), "{msg}");
    fails(b"HMSG \x80 1 12 12\r\nNATS/1.0\r\n\r\n\r\n");
    // A non-UTF-8 payload is fine.
    feed_whole(b"MSG foo 1 2\r\n\xff\xfe\r\n").assert_complete(
        &[expected_msg("foo", 1, None, None, 0, b"\xff\xfe")],
        "binary payload",
    );
}

#[test]
fn invalid_info() {
    for bad in [
        &b"INFO\r\n"[..],
        b"INFO \r\n",
        b"INFO {not json}\r\n",
        b"INFO {\"port\":70000}\r\n",
        b"INFO {\"max_payload\":-1}\r\n",
        b"INFO [1,2]\r\n",
        b"INFO {} trailing\r\n",
    ] {
        let msg = fails(bad);
        assert!(msg.contains("INFO"), "{bad:?}: {msg}");
    }
}

#[test]
fn oversized_message_is_rejected_before_its_payload_arrives() {
    let parser = Parser::with_max_payload(10);
    // Exactly at the limit is fine.
    let ok = msg_frame("foo", 1, None, b"0123456789");
    let out = feed_chunks_with(parser.clone(), &ok, &[]);
    assert_eq!(out.error, None);
    assert_eq!(out.ops.len(), 1);
    // One byte more fails as soon as the control line is in.
    let mut p = parser.clone();
    let mut buf = BytesMut::from(&b"MSG foo 1 11\r\n"[..]);
    let err = p.parse(&mut buf).unwrap_err();
    assert!(err.message().contains("exceeds"), "{err}");
    assert_fails_everywhere(&parser, &msg_frame("foo", 1, None, b"0123456789A"));
    // For HMSG the header bytes count too.
    let hmsg = hmsg_frame_raw("foo", 1, None, b"NATS/1.0\r\n\r\n", b"");
    assert_fails_everywhere(&parser, &hmsg);
    let out = feed_chunks_with(Parser::with_max_payload(12), &hmsg, &[]);
    assert_eq!(out.error, None);
    // A huge announced length with the default limit.
    fails(b"MSG foo 1 9999999999999999999\r\n");
    fails(b"HMSG foo 1 12 9999999999999999999\r\n");
}

#[test]
fn overly_long_control_line_without_newline() {
    let mut line = b"MSG ".to_vec();
    line.extend(std::iter::repeat_n(b'a', 70_000));
    let mut parser = Parser::new();
    let mut buf = BytesMut::from(&line[..]);
    let err = parser.parse(&mut buf).unwrap_err();
    assert!(err.message().contains("too long"), "{err}");

    // A shorter prefix is still only "need more bytes".
    let mut buf = BytesMut::from(&line[..60_000]);
    assert_eq!(parse_step(&mut Parser::new(), &mut buf), Ok(None));

    // INFO lines get a larger allowance, but not an unbounded one.
    let mut info = b"INFO {\"connect_urls\":[".to_vec();
    info.extend(std::iter::repeat_n(b' ', 70_000));
    let mut buf = BytesMut::from(&info[..]);
    assert_eq!(parse_step(&mut Parser::new(), &mut buf), Ok(None));
    info.extend(std::iter::repeat_n(b' ', 8 * 1024 * 1024));
    let mut buf = BytesMut::from(&info[..]);
    assert!(Parser::new().parse(&mut buf).is_err());
}

#[test]
fn overly_long_control_line_is_rejected_however_it_arrives() {
    // The same bytes must fail whether the newline arrives in the same read as
    // the start of the line or in a later one.
    let subject = "s".repeat(70_000);
    let frame = msg_frame(&subject, 1, None, b"hello");
    for sizes in [vec![], vec![1000; 100], vec![70_003], vec![70_004]] {
        let out = feed_chunks_with(Parser::new(), &frame, &sizes);
        let err = out.error.unwrap_or_else(|| panic!("{sizes:?}: accepted"));
        assert!(err.message().contains("too long"), "{err}");
        assert!(out.ops.is_empty());
    }
}

#[test]
fn garbage_bytes() {
    for bad in [
        &b"\x00\x01\x02\x03"[..],
        b"hello world\r\n",
        b"\r\n",
        b" PING\r\n",
        b"\tPONG\r\n",
        b"\xff\xfe\xfd",
        b"{\"json\":true}\r\n",
        b"PING\r\n\r\n",
        b"PING\r\nPONG\r\nxyz",
    ] {
        fails(bad);
    }
    // Ops before the garbage are delivered, the garbage then fails.
    let out = feed_whole(b"PING\r\nPONG\r\n\x00garbage");
    assert_eq!(out.ops, [ServerOp::Ping, ServerOp::Pong]);
    assert!(out.error.is_some());
}

#[test]
fn truncated_stream_is_not_an_error() {
    // Running out of bytes is "need more", never an error or a panic.
    let mut stream = msg_frame("a", 1, Some("r"), b"payload");
    stream.extend(hmsg_frame_raw("b", 2, None, b"NATS/1.0 503\r\n\r\n", b""));
    stream.extend_from_slice(b"PING\r\n");
    for end in 0..stream.len() {
        let out = feed_whole(&stream[..end]);
        assert_eq!(out.error, None, "truncated at {end}");
    }
}
