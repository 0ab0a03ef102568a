//! Every server operation, parsed whole, split at every byte offset and byte by
//! byte; case-insensitive names and whitespace between fields.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bytes::BytesMut;
use common::*;
use nats_wire::{HeaderMap, Parser, ServerInfo, ServerOp, StatusCode};

const INFO_LINE: &str = concat!(
    r#"INFO {"server_id":"NCXMJZYQEWUDJFLYLSTTE745I2WUNCVG3LJJ3NRKSFJXEG6RGK7753DJ","#,
    r#""server_name":"n1","version":"2.14.6","proto":1,"git_commit":"a1b2c3d","#,
    r#""go":"go1.24.4","host":"0.0.0.0","port":4222,"headers":true,"#,
    r#""max_payload":1048576,"jetstream":true,"client_id":5,"client_ip":"127.0.0.1","#,
    r#""xkey":"XBYDGY5XPLZ6NZ5RQQ4TOK3QAV3CCXMOPYHDCCIXRMHJ3LXOOIO4WCSR","#,
    r#""nonce":"TjZFmGU4ZaHPaJA","cluster":"c1","domain":"hub","#,
    r#""connect_urls":["10.0.0.1:4222","10.0.0.2:4222","[::1]:4222"],"#,
    r#""ldm":false,"api_lvl":2,"auth_required":true,"tls_available":true}"#,
    "\r\n"
);

fn expected_info() -> ServerOp {
    let mut info = ServerInfo::default();
    info.server_id = "NCXMJZYQEWUDJFLYLSTTE745I2WUNCVG3LJJ3NRKSFJXEG6RGK7753DJ".into();
    info.server_name = "n1".into();
    info.version = "2.14.6".into();
    info.proto = 1;
    info.git_commit = "a1b2c3d".into();
    info.go = "go1.24.4".into();
    info.host = "0.0.0.0".into();
    info.port = 4222;
    info.headers = true;
    info.max_payload = 1_048_576;
    info.jetstream = true;
    info.client_id = 5;
    info.client_ip = "127.0.0.1".into();
    info.nonce = Some("TjZFmGU4ZaHPaJA".into());
    info.cluster = Some("c1".into());
    info.domain = Some("hub".into());
    info.connect_urls = vec![
        "10.0.0.1:4222".into(),
        "10.0.0.2:4222".into(),
        "[::1]:4222".into(),
    ];
    info.lame_duck_mode = false;
    info.api_level = 2;
    info.auth_required = true;
    info.tls_available = true;
    ServerOp::Info(Box::new(info))
}

fn headers(status: Option<(u16, Option<&str>)>, pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h: HeaderMap = pairs.iter().map(|&(k, v)| (k, v)).collect();
    if let Some((code, desc)) = status {
        h.set_status(Some(StatusCode::from_u16(code).unwrap()), desc);
    }
    h
}

/// (header block, the map it parses into, reply, payload).
type HmsgCase = (
    &'static [u8],
    HeaderMap,
    Option<&'static str>,
    &'static [u8],
);

/// Every kind of server operation as (bytes, expected op).
fn cases() -> Vec<(Vec<u8>, ServerOp)> {
    let mut cases = vec![
        (INFO_LINE.as_bytes().to_vec(), expected_info()),
        (b"PING\r\n".to_vec(), ServerOp::Ping),
        (b"PONG\r\n".to_vec(), ServerOp::Pong),
        (b"+OK\r\n".to_vec(), ServerOp::Ok),
        (
            b"-ERR 'Authorization Violation'\r\n".to_vec(),
            ServerOp::Err("Authorization Violation".into()),
        ),
        (
            b"-ERR 'Permissions Violation for Publish to \"secret.x\"'\r\n".to_vec(),
            ServerOp::Err("Permissions Violation for Publish to \"secret.x\"".into()),
        ),
    ];
    // MSG without and with reply, empty and binary payloads (a payload may
    // contain CRLF and things that look like operations).
    let payloads: [&[u8]; 4] = [
        b"",
        b"hello",
        b"PING\r\nMSG a 1 2\r\nxx\r\n",
        &[0, 0xff, b'\r', b'\n', 0xfe, b'\n', b'\r'],
    ];
    for (i, payload) in payloads.iter().enumerate() {
        let sid = i as u64 + 1;
        cases.push((
            msg_frame("orders.new", sid, None, payload),
            expected_msg("orders.new", sid, None, None, 0, payload),
        ));
        let reply = "$JS.ACK.ORDERS.c1.1.5.5.1700000000000000000.0";
        cases.push((
            msg_frame("orders.new", sid, Some(reply), payload),
            expected_msg("orders.new", sid, Some(reply), None, 0, payload),
        ));
    }
    cases.push((
        msg_frame("x", u64::MAX / 2, Some("_INBOX.aB3.1"), b"big sid"),
        expected_msg("x", u64::MAX / 2, Some("_INBOX.aB3.1"), None, 0, b"big sid"),
    ));
    // HMSG: raw header blocks as servers write them, with and without reply,
    // status-only blocks, zero headers, and payloads.
    let hmsgs: Vec<HmsgCase> =
        vec![
        (b"NATS/1.0 503\r\n\r\n", headers(Some((503, None)), &[]), None, b""),
        (
            b"NATS/1.0 503\r\n\r\n",
            headers(Some((503, None)), &[]),
            Some("_INBOX.x.y"),
            b"",
        ),
        (
            b"NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 5\r\nNats-Last-Stream: 9\r\n\r\n",
            headers(
                Some((100, Some("Idle Heartbeat"))),
                &[("Nats-Last-Consumer", "5"), ("Nats-Last-Stream", "9")],
            ),
            None,
            b"",
        ),
        (
            b"NATS/1.0 100 FlowControl Request\r\n\r\n",
            headers(Some((100, Some("FlowControl Request"))), &[]),
            Some("$JS.FC.ORDERS.abc.1"),
            b"",
        ),
        (
            b"NATS/1.0 404 No Messages\r\n\r\n",
            headers(Some((404, Some("No Messages"))), &[]),
            None,
            b"",
        ),
        (
            b"NATS/1.0 409 Consumer Deleted\r\nNats-Pending-Messages: 3\r\n\r\n",
            headers(
                Some((409, Some("Consumer Deleted"))),
                &[("Nats-Pending-Messages", "3")],
            ),
            None,
            b"",
        ),
        (b"NATS/1.0\r\n\r\n", HeaderMap::new(), None, b""),
        (b"NATS/1.0\r\n\r\n", HeaderMap::new(), Some("r"), b"payload"),
        (
            b"NATS/1.0\r\nNats-Msg-Id: order-1\r\nX-Tag: a\r\nX-Tag: b\r\n\r\n",
            headers(
                None,
                &[("Nats-Msg-Id", "order-1"), ("X-Tag", "a"), ("X-Tag", "b")],
            ),
            Some("$JS.ACK.ORDERS.c1.1.5.5.1700000000000000000.0"),
            b"{\"id\":1}",
        ),
        (
            b"NATS/1.0\r\nK:v\r\nK2:   spaced value  \r\n\r\n",
            headers(None, &[("K", "v"), ("K2", "spaced value")]),
            None,
            b"\r\n\r\n",
        ),
    ];
    for (i, (block, map, reply, payload)) in hmsgs.into_iter().enumerate() {
        let sid = 100 + i as u64;
        cases.push((
            hmsg_frame_raw("ORDERS.new", sid, reply, block, payload),
            expected_msg("ORDERS.new", sid, reply, Some(map), block.len(), payload),
        ));
    }
    cases
}

#[test]
fn each_op_alone_at_every_split() {
    for (bytes, op) in cases() {
        assert_parses_everywhere(&bytes, std::slice::from_ref(&op));
    }
}

#[test]
fn many_ops_concatenated_at_every_split() {
    let cases = cases();
    let mut stream = Vec::new();
    let mut expected = Vec::new();
    // Twice over, so every op is also preceded by every other kind.
    for (bytes, op) in cases.iter().chain(cases.iter().rev()) {
        stream.extend_from_slice(bytes);
        expected.push(op.clone());
    }
    assert_parses_everywhere(&stream, &expected);
}

#[test]
fn info_fields() {
    let out = feed_whole(INFO_LINE.as_bytes());
    let Some(ServerOp::Info(info)) = out.ops.first() else {
        panic!("{out:?}");
    };
    assert_eq!(info.max_payload, 1_048_576);
    assert!(info.headers && info.jetstream);
    assert_eq!(info.connect_urls.len(), 3);
    assert_eq!(info.nonce.as_deref(), Some("TjZFmGU4ZaHPaJA"));
}

#[test]
fn err_text_forms() {
    for (line, text) in [
        (&b"-ERR 'Stale Connection'\r\n"[..], "Stale Connection"),
        (b"-ERR Unquoted text\r\n", "Unquoted text"),
        (b"-ERR    'padded'   \r\n", "padded"),
        (b"-ERR\r\n", ""),
        (b"-ERR ''\r\n", ""),
    ] {
        feed_whole(line).assert_complete(&[ServerOp::Err(text.into())], text);
    }
}

#[test]
fn hmsg_header_details() {
    let block =
        b"NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 5\r\nNats-Last-Stream: 9\r\n\r\n";
    let frame = hmsg_frame_raw("a", 1, None, block, b"");
    let out = feed_whole(&frame);
    let Some(ServerOp::Msg(msg)) = out.ops.first() else {
        panic!("{out:?}");
    };
    let h = msg.headers.as_ref().unwrap();
    assert_eq!(h.status(), Some(StatusCode::IDLE_HEARTBEAT));
    assert_eq!(h.description(), Some("Idle Heartbeat"));
    assert_eq!(h.get("Nats-Last-Stream"), Some("9"));
    assert_eq!(
        h.get("nats-last-stream"),
        None,
        "lookups are case-sensitive"
    );
    assert!(msg.payload.is_empty());
    assert_eq!(msg.length, block.len());
    assert!(frame.starts_with(format!("HMSG a 1 {0} {0}\r\n", block.len()).as_bytes()));
}

#[test]
fn case_insensitive_op_names() {
    let stream = concat!(
        "msg foo 1 5\r\nhello\r\n",
        "Msg foo 1 r 0\r\n\r\n",
        "hmsg foo 2 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
        "HmSg foo 2 r 16 16\r\nNATS/1.0 503\r\n\r\n\r\n",
        "ping\r\n",
        "Ping\r\n",
        "pong\r\n",
        "+ok\r\n",
        "-err 'boom'\r\n",
        "info {\"max_payload\":100}\r\n",
        "iNfO {}\r\n",
    );
    let out = feed_whole(stream.as_bytes());
    assert_eq!(out.error, None);
    assert_eq!(out.left, 0);
    let mut info = ServerInfo::default();
    info.max_payload = 100;
    let expected = vec![
        expected_msg("foo", 1, None, None, 0, b"hello"),
        expected_msg("foo", 1, Some("r"), None, 0, b""),
        expected_msg("foo", 2, None, Some(HeaderMap::new()), 12, b"hi"),
        expected_msg(
            "foo",
            2,
            Some("r"),
            Some(headers(Some((503, None)), &[])),
            16,
            b"",
        ),
        ServerOp::Ping,
        ServerOp::Ping,
        ServerOp::Pong,
        ServerOp::Ok,
        ServerOp::Err("boom".into()),
        ServerOp::Info(Box::new(info)),
        ServerOp::Info(Box::default()),
    ];
    assert_eq!(out.ops, expected);
    assert_parses_everywhere(stream.as_bytes(), &expected);
}

#[test]
fn tabs_and_runs_of_spaces_between_fields() {
    let stream = concat!(
        "MSG\tfoo.bar\t7\t5\r\nhello\r\n",
        "MSG   foo.bar    7   reply.to     5\r\nhello\r\n",
        "MSG \t foo.bar \t 7 \t 5 \t \r\nhello\r\n",
        "HMSG\tfoo.bar  7\t\treply.to   12 \t 17\r\nNATS/1.0\r\n\r\nhello\r\n",
        "PING \r\n",
        "PONG\t\r\n",
        "+OK  \r\n",
        "INFO\t {}\r\n",
    );
    let expected = vec![
        expected_msg("foo.bar", 7, None, None, 0, b"hello"),
        expected_msg("foo.bar", 7, Some("reply.to"), None, 0, b"hello"),
        expected_msg("foo.bar", 7, None, None, 0, b"hello"),
        expected_msg(
            "foo.bar",
            7,
            Some("reply.to"),
            Some(HeaderMap::new()),
            12,
            b"hello",
        ),
        ServerOp::Ping,
        ServerOp::Pong,
        ServerOp::Ok,
        ServerOp::Info(Box::default()),
    ];
    assert_parses_everywhere(stream.as_bytes(), &expected);
}

#[test]
fn leading_zeros_in_numbers() {
    feed_whole(b"MSG a 007 0005\r\nhello\r\n")
        .assert_complete(&[expected_msg("a", 7, None, None, 0, b"hello")], "zeros");
}

#[test]
fn payload_is_a_slice_of_the_read_buffer() {
    let mut buf = BytesMut::from(&b"MSG a 1 5\r\nhello\r\n"[..]);
    let base = buf.as_ptr() as usize;
    let Some(ServerOp::Msg(msg)) = Parser::new().parse(&mut buf).unwrap() else {
        panic!("expected a message");
    };
    assert_eq!(
        msg.payload.as_ptr() as usize,
        base + 11,
        "payload was copied"
    );
    assert_eq!(msg.subject.as_bytes().as_ptr() as usize, base + 4);
}

#[test]
fn pending_message_reports_bytes_needed_and_resumes() {
    let frame = msg_frame("big", 9, Some("r.1"), &[7u8; 1000]);
    let line_len = frame.iter().position(|&b| b == b'\n').unwrap() + 1;
    let mut parser = Parser::new();
    assert_eq!(parser.bytes_needed(), 0);
    let mut buf = BytesMut::from(&frame[..line_len + 10]);
    assert!(parse_step(&mut parser, &mut buf).unwrap().is_none());
    assert_eq!(parser.bytes_needed(), frame.len());
    buf.extend_from_slice(&frame[line_len + 10..frame.len() - 1]);
    assert!(parse_step(&mut parser, &mut buf).unwrap().is_none());
    buf.extend_from_slice(&frame[frame.len() - 1..]);
    buf.extend_from_slice(b"PING\r\n");
    let op = parse_step(&mut parser, &mut buf).unwrap();
    assert_eq!(
        op,
        Some(expected_msg("big", 9, Some("r.1"), None, 0, &[7u8; 1000]))
    );
    assert_eq!(parser.bytes_needed(), 0);
    assert_eq!(
        parse_step(&mut parser, &mut buf).unwrap(),
        Some(ServerOp::Ping)
    );
    assert!(buf.is_empty());
}

#[test]
fn reset_forgets_a_pending_message() {
    let mut parser = Parser::new();
    let mut buf = BytesMut::from(&b"MSG a 1 100\r\npartial"[..]);
    assert!(parse_step(&mut parser, &mut buf).unwrap().is_none());
    assert!(parser.bytes_needed() > 0);
    parser.reset();
    assert_eq!(parser.bytes_needed(), 0);
    let mut fresh = BytesMut::from(&b"PONG\r\n"[..]);
    assert_eq!(
        parse_step(&mut parser, &mut fresh).unwrap(),
        Some(ServerOp::Pong)
    );
}

#[test]
fn partial_ops_ask_for_more() {
    let mut parser = Parser::new();
    for partial in [
        &b""[..],
        b"P",
        b"PIN",
        b"PING",
        b"PING\r",
        b"MSG a 1 5",
        b"MSG a 1 5\r\nhel",
        b"MSG a 1 5\r\nhello",
        b"MSG a 1 5\r\nhello\r",
        b"HMSG a 1 12 12\r\nNATS/1.0\r\n\r\n",
        b"INFO {\"server_id\":",
        b"-ERR 'unfinished",
    ] {
        let mut buf = BytesMut::from(partial);
        assert_eq!(parse_step(&mut parser, &mut buf), Ok(None), "{partial:?}");
        parser.reset();
    }
}

#[test]
fn long_info_line_is_accepted() {
    // INFO may be much longer than an ordinary control line (connect_urls).
    let urls: Vec<String> = (0..8000)
        .map(|i| format!("10.1.{}.{}:4222", i / 256, i % 256))
        .collect();
    let line = format!(
        "INFO {}\r\n",
        serde_json::json!({ "connect_urls": urls, "max_payload": 1024 })
    );
    assert!(line.len() > 64 * 1024);
    let out = feed_whole(line.as_bytes());
    assert_eq!(out.error, None);
    let Some(ServerOp::Info(info)) = out.ops.first() else {
        panic!("no INFO");
    };
    assert_eq!(info.connect_urls.len(), 8000);
    // Also when it arrives in many reads.
    let out = feed_chunks_with(Parser::new(), line.as_bytes(), &vec![4096; 100]);
    assert_eq!(out.error, None);
    assert_eq!(out.ops.len(), 1);
}

#[test]
fn full_u64_range_of_numbers() {
    // The encoder writes any u64 sid in SUB, so MSG must accept any u64 back.
    let frame = b"MSG a 18446744073709551615 1\r\nx\r\n";
    feed_whole(frame).assert_complete(
        &[expected_msg("a", u64::MAX, None, None, 0, b"x")],
        "u64::MAX sid",
    );
    let frame = b"MSG a 10000000000000000000 r 1\r\nx\r\n";
    feed_whole(frame).assert_complete(
        &[expected_msg(
            "a",
            10_000_000_000_000_000_000,
            Some("r"),
            None,
            0,
            b"x",
        )],
        "20-digit sid",
    );
}
