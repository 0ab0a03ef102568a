//! Encoder tests for every client operation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::BytesMut;
use nats_wire::{
    encode, encode_connect, encode_hpub, encode_ping, encode_pong, encode_pub, encode_pub_head,
    encode_sub, encode_unsub, ClientOp, ConnectInfo, HeaderMap, StatusCode,
};

fn enc(op: ClientOp<'_>) -> Vec<u8> {
    let mut buf = BytesMut::new();
    encode(&op, &mut buf);
    buf.to_vec()
}

fn with(f: impl FnOnce(&mut BytesMut)) -> Vec<u8> {
    let mut buf = BytesMut::new();
    f(&mut buf);
    buf.to_vec()
}

#[test]
fn connect_is_one_json_line() {
    let info = ConnectInfo {
        verbose: false,
        pedantic: false,
        tls_required: false,
        name: Some("orders-svc".into()),
        lang: "rust".into(),
        version: "0.1.0".into(),
        protocol: 1,
        echo: true,
        headers: true,
        no_responders: true,
        user: Some("bob".into()),
        pass: Some("s3cr\"et".into()),
        ..Default::default()
    };
    let bytes = enc(ClientOp::Connect(&info));
    assert_eq!(bytes, with(|b| encode_connect(&info, b)));
    let text = std::str::from_utf8(&bytes).unwrap();
    let json = text
        .strip_prefix("CONNECT ")
        .and_then(|t| t.strip_suffix("\r\n"))
        .expect("CONNECT <json>\\r\\n");
    assert!(!json.contains('\n') && !json.contains('\r'), "one line");
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(v["verbose"], false);
    assert_eq!(v["pedantic"], false);
    assert_eq!(v["lang"], "rust");
    assert_eq!(v["version"], "0.1.0");
    assert_eq!(v["protocol"], 1);
    assert_eq!(v["echo"], true);
    assert_eq!(v["headers"], true);
    assert_eq!(v["no_responders"], true);
    assert_eq!(v["name"], "orders-svc");
    assert_eq!(v["user"], "bob");
    assert_eq!(v["pass"], "s3cr\"et");
    for absent in ["auth_token", "nkey", "jwt", "sig"] {
        assert!(v.get(absent).is_none(), "{absent} should be omitted");
    }
}

#[test]
fn connect_default_has_no_credentials() {
    let bytes = with(|b| encode_connect(&ConnectInfo::default(), b));
    let text = std::str::from_utf8(&bytes).unwrap();
    let json = &text["CONNECT ".len()..text.len() - 2];
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    let obj = v.as_object().unwrap();
    for absent in ["name", "user", "pass", "auth_token", "nkey", "jwt", "sig"] {
        assert!(!obj.contains_key(absent), "{absent}");
    }
}

#[test]
fn pub_without_and_with_reply() {
    assert_eq!(
        with(|b| encode_pub("orders.new", None, b"hello", b)),
        b"PUB orders.new 5\r\nhello\r\n"
    );
    assert_eq!(
        with(|b| encode_pub("orders.new", Some("_INBOX.abc.1"), b"hello", b)),
        b"PUB orders.new _INBOX.abc.1 5\r\nhello\r\n"
    );
}

#[test]
fn pub_empty_and_binary_payloads() {
    assert_eq!(
        with(|b| encode_pub("foo", None, b"", b)),
        b"PUB foo 0\r\n\r\n"
    );
    assert_eq!(
        with(|b| encode_pub("foo", Some("r"), b"", b)),
        b"PUB foo r 0\r\n\r\n"
    );
    let payload = b"\r\n\x00\xffPING\r\n";
    let mut want = b"PUB foo 10\r\n".to_vec();
    want.extend_from_slice(payload);
    want.extend_from_slice(b"\r\n");
    assert_eq!(with(|b| encode_pub("foo", None, payload, b)), want);
    // Length is in bytes, not characters.
    assert_eq!(
        with(|b| encode_pub("foo", None, "héllo".as_bytes(), b)),
        "PUB foo 6\r\nhéllo\r\n".as_bytes()
    );
}

#[test]
fn pub_via_enum() {
    let op = ClientOp::Publish {
        subject: "a.b",
        reply: Some("r.1"),
        headers: None,
        payload: b"xyz",
    };
    assert_eq!(enc(op), b"PUB a.b r.1 3\r\nxyz\r\n");
}

#[test]
fn hpub_lengths() {
    let mut h = HeaderMap::new();
    h.append("Nats-Msg-Id", "order-1");
    h.append("X-Tag", "a");
    h.append("X-Tag", "b");
    let block = "NATS/1.0\r\nNats-Msg-Id: order-1\r\nX-Tag: a\r\nX-Tag: b\r\n\r\n";
    assert_eq!(h.encoded_len(), block.len());
    let payload = b"{\"id\":1}";
    let hlen = block.len();
    let total = hlen + payload.len();

    let got = with(|b| encode_hpub("orders.new", None, &h, payload, b));
    let want = format!("HPUB orders.new {hlen} {total}\r\n{block}{{\"id\":1}}\r\n");
    assert_eq!(String::from_utf8(got).unwrap(), want);

    let got = with(|b| encode_hpub("orders.new", Some("_INBOX.r"), &h, payload, b));
    let want = format!("HPUB orders.new _INBOX.r {hlen} {total}\r\n{block}{{\"id\":1}}\r\n");
    assert_eq!(String::from_utf8(got).unwrap(), want);

    let via_enum = enc(ClientOp::Publish {
        subject: "orders.new",
        reply: Some("_INBOX.r"),
        headers: Some(&h),
        payload,
    });
    assert_eq!(String::from_utf8(via_enum).unwrap(), want);
}

#[test]
fn hpub_with_empty_headers_and_empty_payload() {
    // A header block with no headers is the 12 bytes "NATS/1.0\r\n\r\n".
    let got = with(|b| encode_hpub("s", None, &HeaderMap::new(), b"", b));
    assert_eq!(got, b"HPUB s 12 12\r\nNATS/1.0\r\n\r\n\r\n");
}

#[test]
fn hpub_with_status_line() {
    let mut h = HeaderMap::new();
    h.set_status(Some(StatusCode::NO_RESPONDERS), None);
    assert_eq!(
        with(|b| encode_hpub("s", None, &h, b"", b)),
        b"HPUB s 16 16\r\nNATS/1.0 503\r\n\r\n\r\n"
    );
    h.set_status(Some(StatusCode::NOT_FOUND), Some("No Messages"));
    h.append("K", "v");
    let block = "NATS/1.0 404 No Messages\r\nK: v\r\n\r\n";
    assert_eq!(h.encoded_len(), block.len());
    assert_eq!(
        String::from_utf8(with(|b| encode_hpub("s", Some("r"), &h, b"p", b))).unwrap(),
        format!(
            "HPUB s r {} {}\r\n{block}p\r\n",
            block.len(),
            block.len() + 1
        )
    );
}

#[test]
fn pub_head_plus_payload_equals_pub() {
    let payloads: [&[u8]; 3] = [b"", b"hello", &[0u8; 5000]];
    let mut h = HeaderMap::new();
    h.append("A", "1");
    for payload in payloads {
        for reply in [None, Some("reply.to")] {
            let mut head = with(|b| encode_pub_head("sub.j", reply, None, payload.len(), b));
            head.extend_from_slice(payload);
            head.extend_from_slice(b"\r\n");
            assert_eq!(head, with(|b| encode_pub("sub.j", reply, payload, b)));

            let mut head = with(|b| encode_pub_head("sub.j", reply, Some(&h), payload.len(), b));
            head.extend_from_slice(payload);
            head.extend_from_slice(b"\r\n");
            assert_eq!(head, with(|b| encode_hpub("sub.j", reply, &h, payload, b)));
        }
    }
    // The head alone stops right after the control line (and header block).
    assert_eq!(
        with(|b| encode_pub_head("big", None, None, 1 << 20, b)),
        b"PUB big 1048576\r\n"
    );
    assert_eq!(
        with(|b| encode_pub_head("big", None, Some(&h), 10, b)),
        b"HPUB big 18 28\r\nNATS/1.0\r\nA: 1\r\n\r\n"
    );
}

#[test]
fn sub_with_and_without_queue() {
    assert_eq!(
        with(|b| encode_sub("orders.*", None, 1, b)),
        b"SUB orders.* 1\r\n"
    );
    assert_eq!(
        with(|b| encode_sub("orders.>", Some("workers"), 42, b)),
        b"SUB orders.> workers 42\r\n"
    );
    assert_eq!(
        with(|b| encode_sub("x", None, u64::MAX, b)),
        b"SUB x 18446744073709551615\r\n"
    );
    assert_eq!(
        enc(ClientOp::Subscribe {
            subject: "a",
            queue_group: Some("q"),
            sid: 7
        }),
        b"SUB a q 7\r\n"
    );
}

#[test]
fn unsub_with_and_without_max() {
    assert_eq!(with(|b| encode_unsub(3, None, b)), b"UNSUB 3\r\n");
    assert_eq!(with(|b| encode_unsub(3, Some(10), b)), b"UNSUB 3 10\r\n");
    assert_eq!(with(|b| encode_unsub(3, Some(0), b)), b"UNSUB 3 0\r\n");
    assert_eq!(
        enc(ClientOp::Unsubscribe {
            sid: 9,
            max: Some(1)
        }),
        b"UNSUB 9 1\r\n"
    );
}

#[test]
fn ping_pong() {
    assert_eq!(with(encode_ping), b"PING\r\n");
    assert_eq!(with(encode_pong), b"PONG\r\n");
    assert_eq!(enc(ClientOp::Ping), b"PING\r\n");
    assert_eq!(enc(ClientOp::Pong), b"PONG\r\n");
}

#[test]
fn ops_append_to_existing_buffer() {
    let mut buf = BytesMut::from(&b"PING\r\n"[..]);
    encode_sub("a", None, 1, &mut buf);
    encode_pub("a", None, b"x", &mut buf);
    encode_unsub(1, None, &mut buf);
    encode_pong(&mut buf);
    assert_eq!(
        &buf[..],
        b"PING\r\nSUB a 1\r\nPUB a 1\r\nx\r\nUNSUB 1\r\nPONG\r\n"
    );
}
