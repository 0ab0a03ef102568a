//! Messages received from subscriptions and requests.

use bytes::Bytes;
use nats_wire::{HeaderMap, MsgOp, StatusCode, Subject};

/// A message received on a subscription or as the reply to a request.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Message {
    /// The subject the message was published to.
    pub subject: Subject,
    /// Where replies go, if the publisher asked for them.
    pub reply: Option<Subject>,
    /// The payload.
    pub payload: Bytes,
    /// The headers, if the message had any.
    pub headers: Option<HeaderMap>,
    /// The status code of a status message (e.g. 503 no responders, 100 heartbeat).
    pub status: Option<StatusCode>,
    /// The description that came with the status code.
    pub description: Option<String>,
    /// Header plus payload bytes, as sent by the server.
    pub length: usize,
}

impl Message {
    pub(crate) fn from_op(op: MsgOp) -> Message {
        let (status, description) = match &op.headers {
            Some(h) => (h.status(), h.description().map(str::to_owned)),
            None => (None, None),
        };
        Message {
            subject: op.subject,
            reply: op.reply,
            payload: op.payload,
            headers: op.headers,
            status,
            description,
            length: op.length,
        }
    }

    /// A message built by hand, e.g. to test code that handles messages.
    ///
    /// ```
    /// let msg = nats_core::Message::new("orders.new", "payload").with_reply("reply.to");
    /// assert_eq!(msg.subject, "orders.new");
    /// assert_eq!(msg.length, 7);
    /// ```
    pub fn new(subject: impl Into<Subject>, payload: impl Into<Bytes>) -> Message {
        let payload = payload.into();
        Message {
            subject: subject.into(),
            reply: None,
            length: payload.len(),
            payload,
            headers: None,
            status: None,
            description: None,
        }
    }

    /// Sets the reply subject.
    pub fn with_reply(mut self, reply: impl Into<Subject>) -> Message {
        self.reply = Some(reply.into());
        self
    }

    /// Sets the headers (and the status and description they carry).
    pub fn with_headers(mut self, headers: HeaderMap) -> Message {
        self.status = headers.status();
        self.description = headers.description().map(str::to_owned);
        self.length = self.payload.len() + headers.encoded_len();
        self.headers = Some(headers);
        self
    }

    /// Decodes the payload as JSON into a `T`. On failure serde's error says what was wrong
    /// (and where); the message, its subject included, stays with the caller.
    ///
    /// ```
    /// #[derive(serde::Deserialize)]
    /// struct Reading { celsius: f64 }
    ///
    /// let msg = nats_core::Message::new("sensors.a", r#"{"celsius": 21.5}"#);
    /// let reading: Reading = msg.json().unwrap();
    /// assert_eq!(reading.celsius, 21.5);
    /// assert!(nats_core::Message::new("sensors.a", "oops").json::<Reading>().is_err());
    /// ```
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.payload)
    }

    /// Whether this is a "no responders" status message (503, empty payload).
    pub fn is_no_responders(&self) -> bool {
        self.status == Some(StatusCode::NO_RESPONDERS) && self.payload.is_empty()
    }
}
