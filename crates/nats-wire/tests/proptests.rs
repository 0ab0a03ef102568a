//! Property tests: server frames parse back into what they were built from,
//! whatever the read boundaries; client PUB/HPUB follow the documented grammar
//! and round-trip through the parser once rewritten as a server would deliver
//! them; header blocks round-trip; arbitrary bytes never panic and give the same
//! outcome however they are split.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bytes::{Bytes, BytesMut};
use common::*;
use nats_wire::{
    encode, encode_hpub, encode_pub, encode_pub_head, ClientOp, HeaderMap, Parser, ServerInfo,
    ServerOp, StatusCode,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

// ---------------------------------------------------------------- strategies

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_$-]{1,12}"
}

fn subject() -> impl Strategy<Value = String> {
    vec(token(), 1..6).prop_map(|t| t.join("."))
}

/// Header names: printable ASCII 33..=126 without ':'.
fn header_name() -> impl Strategy<Value = String> {
    "[!-9;-~]{1,24}"
}

/// Header values: no CR/LF, and no surrounding whitespace (it is trimmed on read).
fn header_value() -> impl Strategy<Value = String> {
    "([!-~é€]([ -~é€]{0,30}[!-~é€])?)?"
}

fn description() -> impl Strategy<Value = String> {
    "[!-~]([ -~]{0,20}[!-~])?"
}

fn header_map() -> impl Strategy<Value = HeaderMap> {
    (
        vec((header_name(), header_value()), 0..8),
        option::of((100u16..=999, option::of(description()))),
    )
        .prop_map(|(pairs, status)| {
            let mut h: HeaderMap = pairs.into_iter().collect();
            if let Some((code, desc)) = status {
                h.set_status(StatusCode::from_u16(code), desc.as_deref());
            }
            h
        })
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => vec(any::<u8>(), 0..64),
        1 => vec(any::<u8>(), 0..2048),
        // Payloads full of protocol-looking bytes.
        1 => vec(prop::sample::select(b"\r\n MSG PING+-".to_vec()), 0..64),
    ]
}

/// One server frame and the operation it must parse into.
fn server_frame() -> impl Strategy<Value = (Vec<u8>, ServerOp)> {
    prop_oneof![
        4 => (subject(), any::<u64>(), option::of(subject()), payload()).prop_map(
            |(s, sid, reply, p)| {
                (
                    msg_frame(&s, sid, reply.as_deref(), &p),
                    expected_msg(&s, sid, reply.as_deref(), None, 0, &p),
                )
            }
        ),
        4 => (subject(), any::<u64>(), option::of(subject()), header_map(), payload()).prop_map(
            |(s, sid, reply, h, p)| {
                let frame = hmsg_frame(&s, sid, reply.as_deref(), &h, &p);
                let hlen = h.encoded_len();
                (frame, expected_msg(&s, sid, reply.as_deref(), Some(h), hlen, &p))
            }
        ),
        1 => Just((b"PING\r\n".to_vec(), ServerOp::Ping)),
        1 => Just((b"PONG\r\n".to_vec(), ServerOp::Pong)),
        1 => Just((b"+OK\r\n".to_vec(), ServerOp::Ok)),
        1 => "[!-&(-~]([ -&(-~]{0,30}[!-&(-~])?".prop_map(|text| {
            (format!("-ERR '{text}'\r\n").into_bytes(), ServerOp::Err(text))
        }),
        1 => (token(), any::<u32>(), any::<bool>()).prop_map(|(name, max, js)| {
            let line = format!(
                "INFO {}\r\n",
                serde_json::json!({
                    "server_id": "NABC", "server_name": name, "max_payload": max,
                    "jetstream": js, "headers": true, "unknown_field": [1, 2, 3]
                })
            );
            let mut info = ServerInfo::default();
            info.server_id = "NABC".into();
            info.server_name = name;
            info.max_payload = max as usize;
            info.jetstream = js;
            info.headers = true;
            (line.into_bytes(), ServerOp::Info(Box::new(info)))
        }),
    ]
}

fn chunk_sizes() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        vec(1usize..8, 0..64),
        vec(1usize..256, 0..32),
        vec(1usize..4096, 0..8),
    ]
}

/// Bytes that look like protocol: fragments of real operations glued at random.
fn protocol_soup() -> impl Strategy<Value = Vec<u8>> {
    let pieces: Vec<&'static [u8]> = vec![
        b"MSG ",
        b"HMSG ",
        b"PING",
        b"PONG",
        b"+OK",
        b"-ERR ",
        b"INFO ",
        b"msg ",
        b"\r\n",
        b"\r",
        b"\n",
        b" ",
        b"\t",
        b"0",
        b"1",
        b"5",
        b"12",
        b"16",
        b"99999999999999999999",
        b"foo",
        b"a.b",
        b"_INBOX.x",
        b"NATS/1.0",
        b" 503",
        b" 100 Idle Heartbeat",
        b"K: v",
        b":",
        b"{}",
        b"{\"max_payload\":5}",
        b"'",
        b"\xff",
        b"\x00",
        b"hello",
    ];
    vec(prop::sample::select(pieces), 0..48).prop_map(|p| p.concat())
}

/// Valid frames with a few bytes overwritten.
fn mutated_stream() -> impl Strategy<Value = Vec<u8>> {
    (
        vec(server_frame(), 1..6),
        vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    )
        .prop_map(|(frames, edits)| {
            let mut data: Vec<u8> = frames.into_iter().flat_map(|(b, _)| b).collect();
            for (at, byte) in edits {
                let i = at.index(data.len());
                data[i] = byte;
            }
            data
        })
}

// ---------------------------------------------------------------- helpers

/// Splits encoded client bytes into the control-line tokens and the rest.
fn split_control_line(bytes: &[u8]) -> (Vec<String>, &[u8]) {
    let crlf = bytes
        .windows(2)
        .position(|w| w == b"\r\n")
        .expect("control line ends with CRLF");
    let line = std::str::from_utf8(&bytes[..crlf]).expect("control line is UTF-8");
    // The grammar uses exactly one space between fields.
    let tokens = line.split(' ').map(str::to_string).collect();
    (tokens, &bytes[crlf + 2..])
}

/// Rewrites a client `PUB`/`HPUB` as the `MSG`/`HMSG` a server would deliver
/// for subscription `sid`.
fn as_delivered(client: &[u8], sid: u64) -> Vec<u8> {
    let (tokens, body) = split_control_line(client);
    let op = match tokens[0].as_str() {
        "PUB" => "MSG",
        "HPUB" => "HMSG",
        other => panic!("not a publish: {other}"),
    };
    let mut line = vec![op.to_string(), tokens[1].clone(), sid.to_string()];
    line.extend(tokens[2..].iter().cloned());
    let mut out = line.join(" ").into_bytes();
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

fn encode_header_block(h: &HeaderMap) -> Bytes {
    let mut buf = BytesMut::new();
    h.encode(&mut buf);
    buf.freeze()
}

// ---------------------------------------------------------------- properties

/// 512 cases per property unless `PROPTEST_CASES` says otherwise.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn server_frames_round_trip_in_any_chunking(
        frames in vec(server_frame(), 1..12),
        sizes in chunk_sizes(),
    ) {
        let data: Vec<u8> = frames.iter().flat_map(|(b, _)| b.clone()).collect();
        let expected: Vec<ServerOp> = frames.into_iter().map(|(_, op)| op).collect();
        feed_chunks_with(Parser::new(), &data, &sizes).assert_complete(&expected, "chunked");
        feed_whole(&data).assert_complete(&expected, "whole");
    }

    #[test]
    fn pub_matches_grammar_and_round_trips(
        subj in subject(),
        reply in option::of(subject()),
        body in payload(),
        sid in any::<u64>(),
    ) {
        let mut buf = BytesMut::new();
        encode_pub(&subj, reply.as_deref(), &body, &mut buf);

        // PUB <subject> [reply-to] <#payload bytes>\r\n<payload>\r\n
        let (tokens, rest) = split_control_line(&buf);
        let mut want = vec!["PUB".to_string(), subj.clone()];
        want.extend(reply.clone());
        want.push(body.len().to_string());
        prop_assert_eq!(tokens, want);
        prop_assert_eq!(rest.len(), body.len() + 2);
        prop_assert_eq!(&rest[..body.len()], &body[..]);
        prop_assert_eq!(&rest[body.len()..], b"\r\n");

        // encode() and encode_pub_head + payload give the same bytes.
        let mut via_enum = BytesMut::new();
        encode(
            &ClientOp::Publish { subject: &subj, reply: reply.as_deref(), headers: None, payload: &body },
            &mut via_enum,
        );
        prop_assert_eq!(&via_enum[..], &buf[..]);
        let mut via_head = BytesMut::new();
        encode_pub_head(&subj, reply.as_deref(), None, body.len(), &mut via_head);
        via_head.extend_from_slice(&body);
        via_head.extend_from_slice(b"\r\n");
        prop_assert_eq!(&via_head[..], &buf[..]);

        // Delivered back as MSG, it parses into the same parts.
        let delivered = as_delivered(&buf, sid);
        let expected = expected_msg(&subj, sid, reply.as_deref(), None, 0, &body);
        feed_whole(&delivered).assert_complete(std::slice::from_ref(&expected), "MSG");
    }

    #[test]
    fn hpub_matches_grammar_and_round_trips(
        subj in subject(),
        reply in option::of(subject()),
        headers in header_map(),
        body in payload(),
        sid in any::<u64>(),
    ) {
        let mut buf = BytesMut::new();
        encode_hpub(&subj, reply.as_deref(), &headers, &body, &mut buf);

        // HPUB <subject> [reply-to] <#header bytes> <#total bytes>\r\n<headers><payload>\r\n
        let (tokens, rest) = split_control_line(&buf);
        let n = tokens.len();
        prop_assert_eq!(n, if reply.is_some() { 5 } else { 4 });
        prop_assert_eq!(&tokens[0], "HPUB");
        prop_assert_eq!(&tokens[1], &subj);
        if let Some(r) = &reply {
            prop_assert_eq!(&tokens[2], r);
        }
        let hlen: usize = tokens[n - 2].parse().unwrap();
        let total: usize = tokens[n - 1].parse().unwrap();
        prop_assert_eq!(hlen, headers.encoded_len());
        prop_assert_eq!(total, hlen + body.len());
        prop_assert_eq!(rest.len(), total + 2);
        prop_assert!(rest.starts_with(b"NATS/1.0"));
        prop_assert!(rest[..hlen].ends_with(b"\r\n\r\n"));
        prop_assert_eq!(&rest[..hlen], &encode_header_block(&headers)[..]);
        prop_assert_eq!(
            HeaderMap::parse(Bytes::copy_from_slice(&rest[..hlen])).unwrap(),
            headers.clone()
        );
        prop_assert_eq!(&rest[hlen..total], &body[..]);
        prop_assert_eq!(&rest[total..], b"\r\n");

        let mut via_enum = BytesMut::new();
        encode(
            &ClientOp::Publish {
                subject: &subj, reply: reply.as_deref(), headers: Some(&headers), payload: &body,
            },
            &mut via_enum,
        );
        prop_assert_eq!(&via_enum[..], &buf[..]);
        let mut via_head = BytesMut::new();
        encode_pub_head(&subj, reply.as_deref(), Some(&headers), body.len(), &mut via_head);
        via_head.extend_from_slice(&body);
        via_head.extend_from_slice(b"\r\n");
        prop_assert_eq!(&via_head[..], &buf[..]);

        let delivered = as_delivered(&buf, sid);
        let expected = expected_msg(&subj, sid, reply.as_deref(), Some(headers), hlen, &body);
        feed_whole(&delivered).assert_complete(std::slice::from_ref(&expected), "HMSG");
    }

    #[test]
    fn header_map_encode_parse_is_identity(headers in header_map()) {
        prop_assert!(headers.validate().is_ok());
        let block = encode_header_block(&headers);
        prop_assert_eq!(block.len(), headers.encoded_len());
        let back = HeaderMap::parse(block).unwrap();
        prop_assert_eq!(back.iter().collect::<Vec<_>>(), headers.iter().collect::<Vec<_>>());
        prop_assert_eq!(back.status(), headers.status());
        prop_assert_eq!(back.description(), headers.description());
        prop_assert_eq!(back, headers);
    }

    #[test]
    fn arbitrary_bytes_in_arbitrary_splits_never_panic(
        data in vec(any::<u8>(), 0..512),
        sizes in chunk_sizes(),
        limit in option::of(0usize..300),
    ) {
        check_split_invariance(&data, &sizes, limit);
    }

    #[test]
    fn protocol_soup_in_arbitrary_splits(
        data in protocol_soup(),
        sizes in chunk_sizes(),
        limit in option::of(0usize..64),
    ) {
        check_split_invariance(&data, &sizes, limit);
    }

    #[test]
    fn mutated_streams_in_arbitrary_splits(
        data in mutated_stream(),
        sizes in chunk_sizes(),
        limit in option::of(0usize..3000),
    ) {
        check_split_invariance(&data, &sizes, limit);
    }

    #[test]
    fn parsed_header_blocks_reencode_stably(block in vec(any::<u8>(), 0..128)) {
        // Any block the parser accepts re-encodes to a block that parses the same.
        let mut input = b"NATS/1.0".to_vec();
        input.extend_from_slice(&block);
        input.extend_from_slice(b"\r\n\r\n");
        if let Ok(parsed) = HeaderMap::parse(Bytes::from(input)) {
            let again = HeaderMap::parse(encode_header_block(&parsed)).unwrap();
            prop_assert_eq!(again, parsed);
        }
    }

    /// Whatever a received block holds, its lenient map is consistent: its length is
    /// what it iterates, it re-encodes to a block the strict parse accepts and reads
    /// back equal, and a change splits it without losing a pair.
    #[test]
    fn lenient_header_maps_are_consistent(
        block in prop_oneof![
            vec(prop_oneof![Just(b'a'), Just(b':'), Just(b' '), Just(b'\r'), Just(b'\n'), any::<u8>()], 0..96),
            "NATS/1\\.0( [0-9]{1,4}( [a-z ]{0,8})?)?\r\n([a-z: \t]{0,10}\r\n){0,5}(\r\n)?"
                .prop_map(String::into_bytes),
        ],
    ) {
        let map = HeaderMap::parse_lenient(Bytes::from(block));
        let pairs: Vec<(String, String)> =
            map.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        prop_assert_eq!(map.len(), pairs.len());
        prop_assert_eq!(map.is_empty(), pairs.is_empty());
        let encoded = encode_header_block(&map);
        prop_assert_eq!(encoded.len(), map.encoded_len());
        prop_assert_eq!(HeaderMap::parse(encoded).unwrap(), map.clone());
        let mut changed = map.clone();
        changed.append("X", "y");
        let mut expected = pairs;
        expected.push(("X".into(), "y".into()));
        let got: Vec<(String, String)> =
            changed.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        prop_assert_eq!(got, expected);
    }

    /// The validators (which scan many bytes at a time) agree with the rule
    /// applied token by token, for subjects short and long.
    #[test]
    fn subject_validation_follows_the_token_rule(
        subject in prop_oneof![
            // Mostly well-formed: short tokens, wildcards among them.
            "[a.*>é]{0,24}",
            // Anything: whitespace, NUL and control bytes too.
            "[a.*> \t\r\n\x0c\x00\x01_$é]{0,80}",
        ],
    ) {
        use nats_wire::subject::{validate_publish_subject, validate_subscribe_subject};
        prop_assert_eq!(validate_publish_subject(&subject).is_ok(), subject_rule(&subject, false));
        prop_assert_eq!(validate_subscribe_subject(&subject).is_ok(), subject_rule(&subject, true));
    }

    /// `dots` finds exactly the `.` bytes, whatever surrounds them (bytes with
    /// the high bit set, `-` and `/` next to `.` in value, lengths around the
    /// eight-byte words).
    #[test]
    fn dots_are_the_dot_bytes(subject in "[a./\\-n\x00\x7f\u{80}é]{0,40}") {
        let expected: Vec<usize> = subject
            .bytes()
            .enumerate()
            .filter(|&(_, b)| b == b'.')
            .map(|(i, _)| i)
            .collect();
        prop_assert_eq!(nats_wire::subject::dots(&subject).collect::<Vec<_>>(), expected);
    }
}

/// Feeding `data` in the given chunks never panics (Ok(None) consuming nothing is
/// asserted by the helpers) and yields exactly what feeding it whole yields.
fn check_split_invariance(data: &[u8], sizes: &[usize], limit: Option<usize>) {
    let parser = limit.map_or_else(Parser::new, Parser::with_max_payload);
    let whole = feed_chunks_with(parser.clone(), data, &[]);
    let chunked = feed_chunks_with(parser.clone(), data, sizes);
    assert_eq!(chunked.ops, whole.ops);
    assert_eq!(chunked.error, whole.error);
    if whole.error.is_none() {
        assert_eq!(chunked.left, whole.left);
    }
    let bytewise = feed_chunks_with(parser, data, &vec![1; data.len()]);
    assert_eq!(bytewise.ops, whole.ops);
    assert_eq!(bytewise.error, whole.error);
}

/// The subject rule, token by token: non-empty tokens, none of the server's
/// whitespace (or NUL), and `*`/`>` as whole tokens only where wildcards are
/// allowed, `>` only last.
fn subject_rule(subject: &str, wildcards: bool) -> bool {
    let tokens: Vec<&str> = subject.split('.').collect();
    !subject.is_empty()
        && !subject
            .bytes()
            .any(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'\x0c' | b'\0'))
        && tokens.iter().enumerate().all(|(i, t)| match *t {
            "" => false,
            "*" => wildcards,
            ">" => wildcards && i == tokens.len() - 1,
            _ => true,
        })
}
