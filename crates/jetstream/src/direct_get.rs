//! Reading single stored messages: [`StoredMessage`], through `DIRECT.GET` (any replica, when
//! the stream allows direct gets) or `STREAM.MSG.GET` (the leader, JSON with base64).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bytes::Bytes;
use jiff::Timestamp;
use nats_core::{HeaderMap, Message, StatusCode};

use crate::error::{Error, ErrorKind, Result};
use crate::stream::Stream;
use crate::types::api::{MsgGetRequest, MsgGetResponse, RawStoredMessage};

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
    /// Its headers, if it had any (without the `Nats-Stream`, `Nats-Sequence`,
    /// `Nats-Subject` and `Nats-Time-Stamp` headers a direct get adds).
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
                let map = HeaderMap::parse(Bytes::from(block)).map_err(|e| {
                    Error::with_source(ErrorKind::InvalidResponse, e)
                        .with_message("invalid message headers")
                })?;
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
        if let Some(status) = msg.status {
            let description = msg.description.unwrap_or_default();
            let kind = match status {
                StatusCode::NOT_FOUND => ErrorKind::MessageNotFound,
                StatusCode::BAD_REQUEST | StatusCode::TIMEOUT => ErrorKind::InvalidArgument,
                StatusCode::PRECONDITION_FAILED => ErrorKind::NotSupported,
                StatusCode::NO_RESPONDERS => ErrorKind::NoResponders,
                _ => ErrorKind::Api,
            };
            return Err(Error::msg(
                kind,
                format!("direct get: status {status} {description}"),
            ));
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
        let subject = headers
            .get(NATS_SUBJECT)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| missing(NATS_SUBJECT))?
            .to_string();
        let sequence = headers
            .get(NATS_SEQUENCE)
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| missing(NATS_SEQUENCE))?;
        let time = headers
            .get(NATS_TIME_STAMP)
            .and_then(|s| s.parse::<Timestamp>().ok())
            .ok_or_else(|| missing(NATS_TIME_STAMP))?;
        for name in [
            NATS_STREAM,
            NATS_SEQUENCE,
            NATS_TIME_STAMP,
            NATS_SUBJECT,
            NATS_NUM_PENDING,
            NATS_LAST_SEQUENCE,
        ] {
            headers.remove(name);
        }
        Ok(StoredMessage {
            subject,
            sequence,
            headers: (!headers.is_empty()).then_some(headers),
            payload: msg.payload,
            time,
        })
    }
}

/// Whether `subject` can be put into a request subject as is (no wildcard tokens).
fn is_literal(subject: &str) -> bool {
    !subject.split('.').any(|t| t == "*" || t == ">")
}

impl Stream {
    /// Gets one message, by the stream's direct get when its cached info allows it, else
    /// through the leader.
    ///
    /// A direct get that finds no responder falls back to the leader: `DIRECT.GET` has
    /// responders only while the stream exists with `allow_direct`, so silence there does not
    /// say why. The leader's answer does: [`ErrorKind::StreamNotFound`] for a deleted stream,
    /// [`ErrorKind::JetStreamNotEnabled`] when no JetStream answers at all, or the message
    /// itself when only the direct gets were turned off since the handle was made.
    pub(crate) async fn get_message(&self, request: MsgGetRequest) -> Result<StoredMessage> {
        if self.cached_info().config.allow_direct {
            match self.direct_get(&request).await {
                Err(e) if e.kind() == ErrorKind::NoResponders => {
                    tracing::debug!(stream = %self.name, "no direct get responder; asking the leader");
                }
                done => return done,
            }
        }
        let suffix = format!("STREAM.MSG.GET.{}", self.name);
        let response: MsgGetResponse = self.js.request(&suffix, &request).await?;
        StoredMessage::from_raw(response.message)
    }

    /// `DIRECT.GET`; no responder: [`ErrorKind::NoResponders`].
    async fn direct_get(&self, request: &MsgGetRequest) -> Result<StoredMessage> {
        let js = &self.js;
        // The subject form needs an empty body and a subject without wildcards.
        let last_literal = match (&request.last_by_subj, request.sequence) {
            (Some(subject), None) if is_literal(subject) => Some(subject.as_str()),
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
        let subject = js.api_subject(&suffix);
        let reply = js
            .client()
            .request_with_timeout(&subject, None, payload, js.timeout())
            .await?;
        StoredMessage::from_direct(reply)
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

    #[test]
    fn literal_subjects() {
        assert!(is_literal("orders.new"));
        assert!(is_literal("a*b.c"));
        assert!(!is_literal("orders.*"));
        assert!(!is_literal(">"));
    }
}
