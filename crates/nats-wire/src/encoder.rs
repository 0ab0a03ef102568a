//! Encoding client operations into a write buffer.
//!
//! The `encode_*` functions write straight into a [`BytesMut`] with no
//! intermediate allocation. They do not validate: callers check subjects,
//! headers and sizes first (see [`crate::subject`] and [`HeaderMap::validate`]).

use bytes::{BufMut, BytesMut};

use crate::header::HeaderMap;
use crate::info::ConnectInfo;

/// A client operation, borrowing its parts.
#[derive(Debug, Clone, Copy)]
pub enum ClientOp<'a> {
    /// `CONNECT {json}`.
    Connect(&'a ConnectInfo),
    /// `PUB` or, with headers, `HPUB`.
    Publish {
        /// Subject to publish to.
        subject: &'a str,
        /// Reply subject.
        reply: Option<&'a str>,
        /// Headers (sent with `HPUB`).
        headers: Option<&'a HeaderMap>,
        /// Payload.
        payload: &'a [u8],
    },
    /// `SUB subject [queue] sid`.
    Subscribe {
        /// Subject (may contain wildcards).
        subject: &'a str,
        /// Queue group.
        queue_group: Option<&'a str>,
        /// Subscription id.
        sid: u64,
    },
    /// `UNSUB sid [max]`.
    Unsubscribe {
        /// Subscription id.
        sid: u64,
        /// Unsubscribe after this many messages in total.
        max: Option<u64>,
    },
    /// `PING`.
    Ping,
    /// `PONG`.
    Pong,
}

/// Writes `op` to `buf`.
pub fn encode(op: &ClientOp<'_>, buf: &mut BytesMut) {
    match *op {
        ClientOp::Connect(info) => encode_connect(info, buf),
        ClientOp::Publish {
            subject,
            reply,
            headers: Some(headers),
            payload,
        } => encode_hpub(subject, reply, headers, payload, buf),
        ClientOp::Publish {
            subject,
            reply,
            headers: None,
            payload,
        } => encode_pub(subject, reply, payload, buf),
        ClientOp::Subscribe {
            subject,
            queue_group,
            sid,
        } => encode_sub(subject, queue_group, sid, buf),
        ClientOp::Unsubscribe { sid, max } => encode_unsub(sid, max, buf),
        ClientOp::Ping => encode_ping(buf),
        ClientOp::Pong => encode_pong(buf),
    }
}

/// Writes `CONNECT {json}\r\n`.
pub fn encode_connect(info: &ConnectInfo, buf: &mut BytesMut) {
    buf.put_slice(b"CONNECT ");
    // Serializing plain strings and bools into a Vec cannot fail.
    let json = serde_json::to_vec(info).unwrap_or_else(|_| b"{}".to_vec());
    buf.put_slice(&json);
    buf.put_slice(b"\r\n");
}

fn put_num(buf: &mut BytesMut, n: u64) {
    let mut b = itoa::Buffer::new();
    buf.put_slice(b.format(n).as_bytes());
}

/// Writes the control line (and, for `HPUB`, the header block) of a publish of
/// `payload_len` bytes, but not the payload and its trailing CRLF.
///
/// Lets a caller send a large payload from its own buffer (vectored write)
/// instead of copying it into `buf`.
pub fn encode_pub_head(
    subject: &str,
    reply: Option<&str>,
    headers: Option<&HeaderMap>,
    payload_len: usize,
    buf: &mut BytesMut,
) {
    let header_len = headers.map(HeaderMap::encoded_len);
    buf.reserve(subject.len() + reply.map_or(0, str::len) + 32 + header_len.unwrap_or(0));
    buf.put_slice(if header_len.is_some() {
        b"HPUB "
    } else {
        b"PUB "
    });
    buf.put_slice(subject.as_bytes());
    buf.put_u8(b' ');
    if let Some(reply) = reply {
        buf.put_slice(reply.as_bytes());
        buf.put_u8(b' ');
    }
    match (headers, header_len) {
        (Some(headers), Some(hlen)) => {
            put_num(buf, hlen as u64);
            buf.put_u8(b' ');
            put_num(buf, (hlen + payload_len) as u64);
            buf.put_slice(b"\r\n");
            headers.encode(buf);
        }
        _ => {
            put_num(buf, payload_len as u64);
            buf.put_slice(b"\r\n");
        }
    }
}

/// Writes `PUB subject [reply] len\r\npayload\r\n`.
pub fn encode_pub(subject: &str, reply: Option<&str>, payload: &[u8], buf: &mut BytesMut) {
    buf.reserve(payload.len() + 2);
    encode_pub_head(subject, reply, None, payload.len(), buf);
    buf.put_slice(payload);
    buf.put_slice(b"\r\n");
}

/// Writes `HPUB subject [reply] hlen total\r\nheaders payload\r\n`.
pub fn encode_hpub(
    subject: &str,
    reply: Option<&str>,
    headers: &HeaderMap,
    payload: &[u8],
    buf: &mut BytesMut,
) {
    buf.reserve(payload.len() + 2);
    encode_pub_head(subject, reply, Some(headers), payload.len(), buf);
    buf.put_slice(payload);
    buf.put_slice(b"\r\n");
}

/// Writes `SUB subject [queue] sid\r\n`.
pub fn encode_sub(subject: &str, queue_group: Option<&str>, sid: u64, buf: &mut BytesMut) {
    buf.put_slice(b"SUB ");
    buf.put_slice(subject.as_bytes());
    buf.put_u8(b' ');
    if let Some(q) = queue_group {
        buf.put_slice(q.as_bytes());
        buf.put_u8(b' ');
    }
    put_num(buf, sid);
    buf.put_slice(b"\r\n");
}

/// Writes `UNSUB sid [max]\r\n`.
pub fn encode_unsub(sid: u64, max: Option<u64>, buf: &mut BytesMut) {
    buf.put_slice(b"UNSUB ");
    put_num(buf, sid);
    if let Some(max) = max {
        buf.put_u8(b' ');
        put_num(buf, max);
    }
    buf.put_slice(b"\r\n");
}

/// Writes `PING\r\n`.
pub fn encode_ping(buf: &mut BytesMut) {
    buf.put_slice(b"PING\r\n");
}

/// Writes `PONG\r\n`.
pub fn encode_pong(buf: &mut BytesMut) {
    buf.put_slice(b"PONG\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(op: ClientOp<'_>) -> String {
        let mut buf = BytesMut::new();
        encode(&op, &mut buf);
        String::from_utf8(buf.to_vec()).unwrap()
    }

    #[test]
    fn pub_forms() {
        let p = |reply, payload: &'static [u8]| ClientOp::Publish {
            subject: "a.b",
            reply,
            headers: None,
            payload,
        };
        assert_eq!(enc(p(None, b"hi")), "PUB a.b 2\r\nhi\r\n");
        assert_eq!(enc(p(Some("r.1"), b"")), "PUB a.b r.1 0\r\n\r\n");
    }

    #[test]
    fn hpub_lengths() {
        let mut h = HeaderMap::new();
        h.insert("K", "V");
        let s = enc(ClientOp::Publish {
            subject: "s",
            reply: Some("r"),
            headers: Some(&h),
            payload: b"xyz",
        });
        // "NATS/1.0\r\nK: V\r\n\r\n" is 18 bytes.
        assert_eq!(s, "HPUB s r 18 21\r\nNATS/1.0\r\nK: V\r\n\r\nxyz\r\n");
    }

    #[test]
    fn sub_unsub_ping_pong() {
        assert_eq!(
            enc(ClientOp::Subscribe {
                subject: "a.*",
                queue_group: Some("q"),
                sid: 12
            }),
            "SUB a.* q 12\r\n"
        );
        assert_eq!(
            enc(ClientOp::Subscribe {
                subject: "a",
                queue_group: None,
                sid: 1
            }),
            "SUB a 1\r\n"
        );
        assert_eq!(
            enc(ClientOp::Unsubscribe {
                sid: 3,
                max: Some(10)
            }),
            "UNSUB 3 10\r\n"
        );
        assert_eq!(
            enc(ClientOp::Unsubscribe { sid: 3, max: None }),
            "UNSUB 3\r\n"
        );
        assert_eq!(enc(ClientOp::Ping), "PING\r\n");
        assert_eq!(enc(ClientOp::Pong), "PONG\r\n");
    }

    #[test]
    fn connect_line() {
        let info = ConnectInfo {
            lang: "rust".into(),
            ..Default::default()
        };
        let s = enc(ClientOp::Connect(&info));
        assert!(s.starts_with("CONNECT {"));
        assert!(s.ends_with("}\r\n"));
        assert!(s.contains(r#""lang":"rust""#));
    }
}
