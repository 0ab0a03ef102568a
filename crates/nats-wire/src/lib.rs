//! The NATS client protocol codec: bytes in, operations out; operations in, bytes out.
//!
//! This crate does no I/O and knows nothing about sockets or runtimes. It is the
//! bottom layer of the client:
//!
//! * [`Parser`] turns bytes received from a server into [`ServerOp`]s. It is
//!   incremental (a partially received `MSG` is not re-scanned on every read) and
//!   zero-copy (subjects, headers and payloads are [`bytes::Bytes`] slices of the
//!   read buffer).
//! * [`encode`] and the `encode_*` functions write client operations (`CONNECT`,
//!   `PUB`, `HPUB`, `SUB`, `UNSUB`, `PING`, `PONG`) straight into a
//!   [`bytes::BytesMut`] without intermediate allocations.
//! * [`HeaderMap`] is the ordered, multi-valued, case-preserving header block with
//!   the `NATS/1.0` status line ([`StatusCode`] and description).
//! * [`subject`] validates subjects, queue groups and names before anything is sent.
//!
//! ```
//! use bytes::BytesMut;
//! use nats_wire::{Parser, ServerOp};
//!
//! let mut parser = Parser::new();
//! let mut buf = BytesMut::from(&b"MSG orders.new 7 5\r\nhello\r\nPI"[..]);
//! match parser.parse(&mut buf).unwrap() {
//!     Some(ServerOp::Msg(msg)) => {
//!         assert_eq!(&*msg.subject, "orders.new");
//!         assert_eq!(msg.sid, 7);
//!         assert_eq!(&msg.payload[..], b"hello");
//!     }
//!     other => panic!("unexpected {other:?}"),
//! }
//! // "PI" is not a whole operation yet: the parser asks for more bytes.
//! assert!(parser.parse(&mut buf).unwrap().is_none());
//! ```
#![deny(missing_docs)]

mod encoder;
mod error;
mod header;
mod info;
mod parser;
pub mod subject;

pub use encoder::{
    encode, encode_connect, encode_hpub, encode_ping, encode_pong, encode_pub, encode_pub_head,
    encode_sub, encode_unsub, ClientOp,
};
pub use error::{Error, ErrorKind};
pub use header::{HeaderMap, StatusCode};
pub use info::{ConnectInfo, ServerInfo};
pub use parser::{MsgOp, Parser, ServerOp, DEFAULT_MAX_PAYLOAD_LIMIT};
pub use subject::Subject;

/// The version line that starts every header block.
pub const HEADER_LINE: &str = "NATS/1.0";
