//! Reading single stored messages: [`StoredMessage`] and the [`GetMsg`] builder, through
//! `DIRECT.GET` (any replica, when the stream allows direct gets) or `STREAM.MSG.GET` (the
//! leader, JSON with base64).

use std::future::{Future, IntoFuture};
use tracing::Instrument;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bytes::Bytes;
use futures_core::future::BoxFuture;
use futures_util::FutureExt;
use jiff::Timestamp;
use nats_core::{HeaderMap, Message, StatusCode};

use crate::error::{Error, ErrorKind, Result};
use crate::stream::{check_sequence, Stream};
use crate::types::api::{MsgGetRequest, MsgGetResponse, RawStoredMessage};
use crate::validate::validate_subject;

/// Headers the server adds to a direct get reply; they are moved into the fields of
/// [`StoredMessage`] so both get paths return the same headers.
const NATS_STREAM: &str = "Nats-Stream";
const NATS_SEQUENCE: &str = "Nats-Sequence";
const NATS_TIME_STAMP: &str = "Nats-Time-Stamp";
const NATS_SUBJECT: &str = "Nats-Subject";
const NATS_NUM_PENDING: &str = "Nats-Num-Pending";
const NATS_LAST_SEQUENCE: &str = "Nats-Last-Sequence";

/// A message as stored in a stream, read with [`Stream::get_msg`] and friends.
///
/// ```no_run
/// # async fn run(stream: jetstream::Stream) -> Result<(), jetstream::Error> {
/// let msg = stream.get_last_msg_for_subject("orders.new").await?;
/// println!("#{} on {} at {}: {:?}", msg.sequence, msg.subject, msg.time, msg.payload);
/// if let Some(id) = msg.headers.as_ref().and_then(|h| h.get("Nats-Msg-Id")) {
///     println!("message id {id}");
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct StoredMessage {
    /// The subject the message was stored under.
    pub subject: String,
    /// Its stream sequence.
    pub sequence: u64,
    /// Its headers, if it had any (without the `Nats-Stream`, `Nats-Subject`,
    /// `Nats-Sequence`, `Nats-Time-Stamp`, `Nats-Num-Pending` and `Nats-Last-Sequence`
    /// headers a direct get adds).
    pub headers: Option<HeaderMap>,
    /// Its payload.
    pub payload: Bytes,
    /// When it was stored.
    pub time: Timestamp,
}

impl StoredMessage {
    /// Decodes a `STREAM.MSG.GET` message: base64 headers and payload.
    fn from_raw(raw: RawStoredMessage) -> Result<StoredMessage> {
        let headers = match raw.hdrs {
            Some(hdrs) => {
                let block = BASE64.decode(hdrs.as_bytes()).map_err(|e| {
                    Error::with_source(ErrorKind::InvalidResponse, e)
                        .with_message("message headers are not valid base64")
                })?;
                // The stored block is the publisher's: read as a direct get reply's
                // (and any received message's) headers are, never refused.
                let map = HeaderMap::parse_lenient(Bytes::from(block));
                (!map.is_empty()).then_some(map)
            }
            None => None,
        };
        let payload = BASE64.decode(raw.data.as_bytes()).map_err(|e| {
            Error::with_source(ErrorKind::InvalidResponse, e)
                .with_message("message payload is not valid base64")
        })?;
        Ok(StoredMessage {
            subject: raw.subject,
            sequence: raw.sequence,
            headers,
            payload: Bytes::from(payload),
            time: raw.time,
        })
    }

    /// Decodes a `DIRECT.GET` reply: status 404 means no such message; otherwise the
    /// subject, sequence and time come in headers.
    fn from_direct(msg: Message) -> Result<StoredMessage> {
        if let Some(e) = direct_status_error(&msg) {
            return Err(e);
        }
        let Some(mut headers) = msg.headers else {
            return Err(Error::msg(
                ErrorKind::InvalidResponse,
                "direct get reply without headers",
            ));
        };
        let missing = |name: &str| {
            Error::msg(
                ErrorKind::InvalidResponse,
                format!("direct get reply without a valid {name} header"),
            )
        };
        // One read of the pairs: the server's own headers are read (the first of each
        // name counts, as `HeaderMap::get`); the map is only changed, and kept, when it
        // has others (a KV entry's reply, as a rule, has none).
        let (mut subject, mut sequence, mut time) = (None, None, None);
        let mut others = false;
        for (name, value) in headers.iter() {
            match name {
                NATS_SUBJECT if subject.is_none() => {
                    subject = Some((!value.is_empty()).then(|| value.to_string()));
                }
                NATS_SEQUENCE if sequence.is_none() => {
                    sequence = Some(value.parse::<u64>().ok());
                }
                NATS_TIME_STAMP if time.is_none() => {
                    time = Some(crate::rfc3339::parse(value));
                }
                name if !is_direct_get_header(name) => others = true,
                _ => {}
            }
        }
        if others {
            headers.retain(|name, _| !is_direct_get_header(name));
        }
        let subject = subject.flatten().ok_or_else(|| missing(NATS_SUBJECT))?;
        let sequence = sequence.flatten().ok_or_else(|| missing(NATS_SEQUENCE))?;
        let time = time.flatten().ok_or_else(|| missing(NATS_TIME_STAMP))?;
        Ok(StoredMessage {
            subject,
            sequence,
            headers: others.then_some(headers),
            payload: msg.payload,
            time,
        })
    }
}

/// Whether `name` is one of the headers a direct get reply carries about the message.
fn is_direct_get_header(name: &str) -> bool {
    matches!(
        name,
        NATS_STREAM
            | NATS_SEQUENCE
            | NATS_TIME_STAMP
            | NATS_SUBJECT
            | NATS_NUM_PENDING
            | NATS_LAST_SEQUENCE
    )
}

/// Whether `subject` can be put into a request subject as is (no wildcard tokens).
fn is_literal(subject: &str) -> bool {
    !subject.split('.').any(|t| t == "*" || t == ">")
}

/// The error a direct get reply stands for, if it is a status (404: no such message).
fn direct_status_error(msg: &Message) -> Option<Error> {
    let status = msg.status?;
    let description = msg.description.as_deref().unwrap_or_default();
    let kind = match status {
        StatusCode::NOT_FOUND => ErrorKind::MessageNotFound,
        StatusCode::BAD_REQUEST | StatusCode::TIMEOUT => ErrorKind::InvalidArgument,
        StatusCode::PRECONDITION_FAILED => ErrorKind::NotSupported,
        StatusCode::NO_RESPONDERS => ErrorKind::NoResponders,
        _ => ErrorKind::Api,
    };
    Some(Error::msg(
        kind,
        format!("direct get: status {status} {description}"),
    ))
}

/// A read of one stored message, from [`Stream::get_msg_with`]: which message, and how.
/// Await it for a [`StoredMessage`]; after [`no_headers`](Self::no_headers), for the
/// payload only.
///
/// Pick the message with [`sequence`](Self::sequence),
/// [`last_for_subject`](Self::last_for_subject) or
/// [`next_for_subject`](Self::next_for_subject) (the last call wins); with none of them
/// awaiting fails with [`ErrorKind::InvalidArgument`].
///
/// ```no_run
/// # async fn run(stream: jetstream::Stream) -> Result<(), jetstream::Error> {
/// let msg = stream.get_msg_with().sequence(42).from_leader().await?;
/// let next = stream.get_msg_with().next_for_subject("orders.*", 43).await?;
/// # let _ = (msg, next);
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a message get does nothing until awaited"]
pub struct GetMsg {
    stream: Stream,
    request: MsgGetRequest,
    from_leader: bool,
}

impl GetMsg {
    pub(crate) fn new(stream: Stream) -> GetMsg {
        GetMsg {
            stream,
            request: MsgGetRequest::default(),
            from_leader: false,
        }
    }

    /// The message with stream sequence `sequence` (`0`, never a sequence:
    /// [`ErrorKind::InvalidArgument`]).
    pub fn sequence(mut self, sequence: u64) -> Self {
        self.request = MsgGetRequest {
            sequence: Some(sequence),
            no_headers: self.request.no_headers,
            ..Default::default()
        };
        self
    }

    /// The last message stored on `subject` (wildcards allowed).
    pub fn last_for_subject(mut self, subject: impl Into<String>) -> Self {
        self.request = MsgGetRequest {
            last_by_subj: Some(subject.into()),
            no_headers: self.request.no_headers,
            ..Default::default()
        };
        self
    }

    /// The first message at or after stream sequence `from_sequence` whose subject matches
    /// `subject` (wildcards allowed).
    pub fn next_for_subject(mut self, subject: impl Into<String>, from_sequence: u64) -> Self {
        self.request = MsgGetRequest {
            sequence: Some(from_sequence),
            next_by_subj: Some(subject.into()),
            no_headers: self.request.no_headers,
            ..Default::default()
        };
        self
    }

    /// Reads from the stream leader (`STREAM.MSG.GET`) even when the stream allows direct
    /// gets. A direct get may be answered by a replica or a mirror that has not yet stored
    /// the newest messages; the leader has stored everything it acknowledged, so this reads
    /// your own writes. Costs the leader the work the direct get would have spread.
    pub fn from_leader(mut self) -> Self {
        self.from_leader = true;
        self
    }

    /// Asks for the payload only (the server's `no_hdr`, server 2.12+): the headers are not
    /// even sent, which saves their transfer when only the body matters (e.g. a counter's
    /// value). A direct get answered this way carries no subject, sequence or time either,
    /// so the result is just the payload.
    ///
    /// ```no_run
    /// # async fn run(stream: jetstream::Stream) -> Result<(), jetstream::Error> {
    /// let payload: bytes::Bytes = stream
    ///     .get_msg_with()
    ///     .last_for_subject("sensors.temperature")
    ///     .no_headers()
    ///     .await?;
    /// # let _ = payload;
    /// # Ok(()) }
    /// ```
    pub fn no_headers(mut self) -> GetMsgPayload {
        self.request.no_headers = true;
        GetMsgPayload { get: self }
    }

    /// Checks the request before anything is sent.
    fn check(&self) -> Result<()> {
        let request = &self.request;
        if let Some(subject) = request
            .last_by_subj
            .as_ref()
            .or(request.next_by_subj.as_ref())
        {
            validate_subject(subject, true)?;
        } else {
            match request.sequence {
                Some(sequence) => check_sequence(sequence, "message get")?,
                None => {
                    return Err(Error::msg(
                        ErrorKind::InvalidArgument,
                        "message get: no message chosen (sequence, last_for_subject or \
                         next_for_subject)",
                    ))
                }
            }
        }
        Ok(())
    }

    /// Whether this read goes to `DIRECT.GET`.
    fn direct(&self) -> bool {
        !self.from_leader && self.stream.allows_direct()
    }
}

impl IntoFuture for GetMsg {
    type Output = Result<StoredMessage>;
    type IntoFuture = BoxFuture<'static, Result<StoredMessage>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            self.check()?;
            let stream = &self.stream;
            if self.direct() {
                if let Some(reply) = stream.direct_get(&self.request).await? {
                    return StoredMessage::from_direct(reply);
                }
            }
            let raw = stream.leader_get(&self.request).await?;
            StoredMessage::from_raw(raw)
        })
    }
}

/// A read of one stored message's payload only, from [`GetMsg::no_headers`]; await it for
/// the payload.
#[derive(Debug)]
#[must_use = "a message get does nothing until awaited"]
pub struct GetMsgPayload {
    get: GetMsg,
}

impl GetMsgPayload {
    /// Reads from the stream leader; see [`GetMsg::from_leader`].
    pub fn from_leader(mut self) -> Self {
        self.get.from_leader = true;
        self
    }
}

impl IntoFuture for GetMsgPayload {
    type Output = Result<Bytes>;
    type IntoFuture = BoxFuture<'static, Result<Bytes>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let get = self.get;
            get.check()?;
            let stream = &get.stream;
            if get.direct() {
                if let Some(reply) = stream.direct_get(&get.request).await? {
                    return match direct_status_error(&reply) {
                        Some(e) => Err(e),
                        None => Ok(reply.payload),
                    };
                }
            }
            let raw = stream.leader_get(&get.request).await?;
            Ok(StoredMessage::from_raw(raw)?.payload)
        })
    }
}

impl Stream {
    /// The last message stored under the literal `subject` (a KV key's latest entry): the
    /// direct get's subject form, `direct` being its full API subject, when the stream
    /// allows direct gets; otherwise, or when no direct-get responder answers, as
    /// [`Stream::get_last_msg_for_subject`] reads it from the leader. The same as that
    /// call, without boxing a future or building subjects on the hot path.
    ///
    /// An `async` block, not an `async fn` (which would keep a second copy of its
    /// arguments): a KV get's future is moved by its callers, and every move copies
    /// all of it.
    #[cfg(feature = "kv")]
    #[allow(clippy::manual_async_fn)]
    pub(crate) fn last_for_literal<'a>(
        &'a self,
        direct: String,
        subject: impl FnOnce() -> String + 'a,
    ) -> impl Future<Output = Result<StoredMessage>> + 'a {
        async move {
            if self.allows_direct() {
                if let Some(reply) = self.direct_request(&direct, Bytes::new()).await? {
                    return StoredMessage::from_direct(reply);
                }
            }
            self.get_msg_with()
                .last_for_subject(subject())
                .from_leader()
                .await
        }
    }

    /// `STREAM.MSG.GET`: asks the stream leader.
    ///
    /// A direct get that finds no responder falls back to this: `DIRECT.GET` has responders
    /// only while the stream exists with `allow_direct`, so silence there does not say why.
    /// The leader's answer does: [`ErrorKind::StreamNotFound`] for a deleted stream,
    /// [`ErrorKind::JetStreamNotEnabled`] when no JetStream answers at all, or the message
    /// itself when only the direct gets were turned off since the handle was made.
    async fn leader_get(&self, request: &MsgGetRequest) -> Result<RawStoredMessage> {
        let suffix = format!("STREAM.MSG.GET.{}", self.name);
        let response: MsgGetResponse = self.js.request(&suffix, request).await?;
        Ok(response.message)
    }

    /// `DIRECT.GET`: the raw reply; `None` when no direct-get responder answered.
    async fn direct_get(&self, request: &MsgGetRequest) -> Result<Option<Message>> {
        let js = &self.js;
        // The subject form needs an empty body (so no options) and a subject without
        // wildcards.
        let last_literal = match (&request.last_by_subj, request.sequence) {
            (Some(subject), None) if is_literal(subject) && !request.no_headers => {
                Some(subject.as_str())
            }
            _ => None,
        };
        let (suffix, payload) = match last_literal {
            Some(subject) => (format!("DIRECT.GET.{}.{subject}", self.name), Bytes::new()),
            None => {
                let body = serde_json::to_vec(request)
                    .map_err(|e| Error::with_source(ErrorKind::InvalidArgument, e))?;
                (format!("DIRECT.GET.{}", self.name), Bytes::from(body))
            }
        };
        self.direct_request(&js.api_subject(&suffix), payload).await
    }

    /// Sends a direct-get request to its full API `subject`; `None` when no direct-get
    /// responder answered (the caller then asks the leader: see [`Stream::leader_get`]).
    fn direct_request<'a>(
        &'a self,
        subject: &'a str,
        payload: Bytes,
    ) -> impl Future<Output = Result<Option<Message>>> + 'a {
        let js = &self.js;
        // A `map`, not an `async` block: awaiting the request there would keep it
        // twice (the block's copy, and the one being awaited).
        js.client()
            .request_with_timeout(subject, None, payload, js.timeout())
            .instrument(crate::observe::api(subject))
            .map(move |reply| match reply {
                Ok(reply) => Ok(Some(reply)),
                Err(e) => {
                    let e = Error::from(e);
                    if e.kind() != ErrorKind::NoResponders {
                        return Err(e);
                    }
                    tracing::debug!(stream = %self.name, "no direct get responder; asking the leader");
                    Ok(None)
                }
            })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn raw_message_decodes_base64_headers_and_payload() {
        let raw: MsgGetResponse = serde_json::from_str(
            r#"{"type":"io.nats.jetstream.api.v1.stream_msg_get_response","message":{
                "subject":"orders.new","seq":7,
                "hdrs":"TkFUUy8xLjANCk5hdHMtTXNnLUlkOiBhYmMNCg0K",
                "data":"aGVsbG8=","time":"2024-05-01T10:00:00.123456789Z"}}"#,
        )
        .unwrap();
        let msg = StoredMessage::from_raw(raw.message).unwrap();
        assert_eq!(msg.subject, "orders.new");
        assert_eq!(msg.sequence, 7);
        assert_eq!(&msg.payload[..], b"hello");
        assert_eq!(msg.headers.unwrap().get("Nats-Msg-Id"), Some("abc"));
        assert_eq!(msg.time.to_string(), "2024-05-01T10:00:00.123456789Z");
    }

    #[test]
    fn raw_message_with_a_malformed_header_block_keeps_what_can_be_read() {
        // As a direct get (and any received message) reads it: the lines without a
        // colon are skipped, the message is not refused.
        let raw: MsgGetResponse = serde_json::from_str(&format!(
            r#"{{"message":{{"subject":"a","seq":1,"hdrs":"{hdrs}","time":"2024-05-01T10:00:00Z"}}}}"#,
            hdrs = "TkFUUy8xLjANCm5vIGNvbG9uDQpLOiB2DQoNCg=="
        ))
        .unwrap();
        let msg = StoredMessage::from_raw(raw.message).unwrap();
        assert_eq!(
            msg.headers.unwrap().iter().collect::<Vec<_>>(),
            [("K", "v")]
        );
    }

    #[test]
    fn raw_message_without_headers_or_data() {
        let raw: MsgGetResponse = serde_json::from_str(
            r#"{"message":{"subject":"a","seq":1,"time":"2024-05-01T10:00:00Z"}}"#,
        )
        .unwrap();
        let msg = StoredMessage::from_raw(raw.message).unwrap();
        assert!(msg.headers.is_none());
        assert!(msg.payload.is_empty());
    }

    #[test]
    fn invalid_base64_is_an_invalid_response() {
        let raw = RawStoredMessage {
            data: "not base64!".into(),
            ..Default::default()
        };
        let err = StoredMessage::from_raw(raw).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    }

    fn direct_reply(block: &'static [u8]) -> Message {
        let mut msg = Message::new("_INBOX.x", "v");
        msg.headers = Some(HeaderMap::parse(Bytes::from_static(block)).unwrap());
        msg
    }

    #[test]
    fn direct_reply_moves_the_server_headers_into_fields() {
        let msg = StoredMessage::from_direct(direct_reply(
            b"NATS/1.0\r\nNats-Stream: S\r\nNats-Subject: a.b\r\nNats-Sequence: 7\r\n\
              Nats-Time-Stamp: 2024-05-01T10:00:00Z\r\nNats-Last-Sequence: 6\r\n\r\n",
        ))
        .unwrap();
        assert_eq!((msg.subject.as_str(), msg.sequence), ("a.b", 7));
        assert_eq!(msg.time.to_string(), "2024-05-01T10:00:00Z");
        assert!(
            msg.headers.is_none(),
            "only the server's headers: none left"
        );

        // The message's own headers stay, in order; the first of a server header counts.
        let msg = StoredMessage::from_direct(direct_reply(
            b"NATS/1.0\r\nX-A: 1\r\nNats-Subject: a.b\r\nNats-Sequence: 7\r\n\
              Nats-Sequence: 8\r\nNats-Time-Stamp: 2024-05-01T10:00:00Z\r\nX-B: 2\r\n\r\n",
        ))
        .unwrap();
        assert_eq!(msg.sequence, 7);
        let headers = msg.headers.unwrap();
        assert_eq!(
            headers.iter().collect::<Vec<_>>(),
            [("X-A", "1"), ("X-B", "2")]
        );

        let err = StoredMessage::from_direct(direct_reply(
            b"NATS/1.0\r\nNats-Subject: a.b\r\nNats-Sequence: x\r\n\
              Nats-Time-Stamp: 2024-05-01T10:00:00Z\r\n\r\n",
        ))
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    }

    #[test]
    fn literal_subjects() {
        assert!(is_literal("orders.new"));
        assert!(is_literal("a*b.c"));
        assert!(!is_literal("orders.*"));
        assert!(!is_literal(">"));
    }
}
