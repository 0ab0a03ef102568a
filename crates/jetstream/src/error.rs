//! The error type of the crate.
//!
//! Every fallible call returns [`Error`]. Match on [`Error::kind`]; when the server refused a
//! request, [`Error::api_error`] gives its `code`, `err_code` and `description`. Kinds are
//! derived from the server's `err_code` only, never from the description text, which varies
//! between server versions.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;

use serde::{Deserialize, Serialize};

mod code;

pub use code::ErrorCode;

/// A `Result` whose error defaults to [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The error of every fallible call in this crate.
///
/// Opaque: use [`kind`](Self::kind) to decide what to do, [`api_error`](Self::api_error) for
/// the server's details, and [`source`](std::error::Error::source) for the underlying cause.
/// The `Display` text is for humans and may change.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    api: Option<ApiError>,
    message: Option<Cow<'static, str>>,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
    /// The message a decode error is about, still ackable (`consume_json`).
    msg: Option<Box<crate::Msg>>,
}

impl Error {
    /// An error of the given kind, without further detail.
    pub(crate) fn new(kind: ErrorKind) -> Error {
        Error {
            inner: Box::new(Inner {
                kind,
                api: None,
                message: None,
                source: None,
                msg: None,
            }),
        }
    }

    /// An error of the given kind with a message that says what went wrong, e.g. which input
    /// was invalid.
    pub(crate) fn msg(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Error {
        Error::new(kind).with_message(message)
    }

    /// An error of the given kind caused by `source`.
    pub(crate) fn with_source(
        kind: ErrorKind,
        source: impl Into<Box<dyn StdError + Send + Sync + 'static>>,
    ) -> Error {
        let mut err = Error::new(kind);
        err.inner.source = Some(source.into());
        err
    }

    /// The server refused a request; the kind follows from the `err_code`.
    pub(crate) fn from_api(api: ApiError) -> Error {
        Error::api_with_kind(api.kind(), api)
    }

    /// The server refused a request, reported as `kind` (e.g. `KeyExists` for a wrong last
    /// sequence on a KV create); the API error stays available.
    pub(crate) fn api_with_kind(kind: ErrorKind, api: ApiError) -> Error {
        let mut err = Error::new(kind);
        err.inner.api = Some(api);
        err
    }

    /// Replaces the kind, keeping everything else (e.g. `StreamNotFound` -> `BucketNotFound`).
    #[cfg(any(feature = "kv", feature = "object-store"))]
    pub(crate) fn with_kind(mut self, kind: ErrorKind) -> Error {
        self.inner.kind = kind;
        self
    }

    /// Sets the message that says what went wrong.
    pub(crate) fn with_message(mut self, message: impl Into<Cow<'static, str>>) -> Error {
        self.inner.message = Some(message.into());
        self
    }

    /// Names the stream (and consumer) a refused API request was about, read from the
    /// request's subject (`STREAM.INFO.ORDERS`, `CONSUMER.INFO.ORDERS.worker`, ...): the
    /// server's "stream not found" does not say which.
    pub(crate) fn for_api_request(self, suffix: &str) -> Error {
        if self.inner.api.is_none() || self.inner.message.is_some() {
            return self;
        }
        let message = match (self.inner.kind, names_in_api_subject(suffix)) {
            (ErrorKind::StreamNotFound, (Some(stream), _)) => format!("{stream:?}"),
            (ErrorKind::ConsumerNotFound, (Some(stream), Some(consumer))) => {
                format!("{consumer:?} on stream {stream:?}")
            }
            (ErrorKind::ConsumerNotFound, (Some(stream), None)) => format!("on stream {stream:?}"),
            _ => return self,
        };
        self.with_message(message)
    }
}

/// The stream and consumer an API subject suffix (after `$JS.API.`) names.
fn names_in_api_subject(suffix: &str) -> (Option<&str>, Option<&str>) {
    let mut tokens = suffix.split('.');
    let (first, second) = (tokens.next(), tokens.next());
    let rest: Vec<&str> = tokens.take(3).collect();
    let at = |i: usize| rest.get(i).copied().filter(|t| !t.is_empty());
    match (first, second) {
        // STREAM.MSG.GET.<stream>, STREAM.PEER.REMOVE.<stream>, STREAM.LEADER.STEPDOWN.<stream>
        (Some("STREAM"), Some("MSG" | "PEER" | "LEADER")) => (at(1), None),
        // STREAM.INFO.<stream>, STREAM.PURGE.<stream>, ...
        (Some("STREAM"), _) => (at(0), None),
        // CONSUMER.DURABLE.CREATE.<stream>.<durable>, CONSUMER.MSG.NEXT.<stream>.<consumer>, ...
        (Some("CONSUMER"), Some("DURABLE" | "MSG" | "LEADER")) => (at(1), at(2)),
        (Some("CONSUMER"), Some("NAMES" | "LIST")) => (at(0), None),
        // CONSUMER.INFO.<stream>.<consumer>, CONSUMER.CREATE.<stream>[.<consumer>[.<filter>]]
        (Some("CONSUMER"), _) => (at(0), at(1)),
        (Some("DIRECT"), _) => (at(0), None),
        _ => (None, None),
    }
}

impl Error {
    /// What kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The server's error, when the server refused the request.
    pub fn api_error(&self) -> Option<&ApiError> {
        self.inner.api.as_ref()
    }

    /// A decoding failure of [`ErrorKind::Decode`]: the subject (and KV key) of the
    /// value that could not be decoded, and the decoder's message.
    ///
    /// ```no_run
    /// # async fn run(msg: jetstream::Msg) {
    /// #[derive(serde::Deserialize)]
    /// struct Order { id: u64 }
    ///
    /// if let Err(err) = msg.json::<Order>() {
    ///     if let Some(d) = err.decode_error() {
    ///         eprintln!("bad order on {}: {}", d.subject(), d.reason());
    ///     }
    /// }
    /// # }
    /// ```
    pub fn decode_error(&self) -> Option<&DecodeError> {
        self.inner.source.as_deref()?.downcast_ref::<DecodeError>()
    }

    /// Takes the message a decode error is about out of the error, when the error came
    /// from a `consume_json` loop: the message is not acknowledged yet, so the error
    /// handler can [`term`](crate::Msg::term) it (a poison message), [`nak`](crate::Msg::nak)
    /// it or move it elsewhere. `None` for every other error, and the second time.
    pub fn take_msg(&mut self) -> Option<crate::Msg> {
        self.inner.msg.take().map(|m| *m)
    }

    /// A decoding failure of `what` (a message or a KV entry).
    #[cfg(any(feature = "kv", feature = "serde"))]
    pub(crate) fn decode(decode: DecodeError) -> Error {
        Error::with_source(ErrorKind::Decode, decode)
    }

    /// Attaches the message a decode error is about.
    #[cfg(feature = "serde")]
    pub(crate) fn with_msg(mut self, msg: crate::Msg) -> Error {
        self.inner.msg = Some(Box::new(msg));
        self
    }
}

/// Why a payload could not be decoded into the type asked for: where it came from and the
/// decoder's message. Reached through [`Error::decode_error`] on an error of
/// [`ErrorKind::Decode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    subject: String,
    key: Option<String>,
    type_name: &'static str,
    reason: String,
}

impl DecodeError {
    /// A failure to decode the payload found on `subject` as a `type_name`.
    #[cfg(any(feature = "kv", feature = "serde"))]
    pub(crate) fn new(
        subject: impl Into<String>,
        type_name: &'static str,
        reason: impl fmt::Display,
    ) -> DecodeError {
        DecodeError {
            subject: subject.into(),
            key: None,
            type_name,
            reason: reason.to_string(),
        }
    }

    /// Names the Key/Value key the payload was stored under.
    #[cfg(feature = "kv")]
    pub(crate) fn with_key(mut self, key: impl Into<String>) -> DecodeError {
        self.key = Some(key.into());
        self
    }

    /// The subject of the message (for a KV entry: the subject the key is stored under).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The Key/Value key, for an entry of a typed bucket view.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// The Rust type the payload was to be decoded into.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// The decoder's message (e.g. serde's `missing field `id` at line 1 column 2`).
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(key) => write!(f, "cannot decode key {key:?} as {}", self.type_name)?,
            None => write!(
                f,
                "cannot decode the message on {} as {}",
                self.subject, self.type_name
            )?,
        }
        write!(f, ": {}", self.reason)
    }
}

impl StdError for DecodeError {}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind);
        if let Some(api) = &self.inner.api {
            d.field("api", api);
        }
        if let Some(message) = &self.inner.message {
            d.field("message", message);
        }
        if let Some(source) = &self.inner.source {
            d.field("source", source);
        }
        d.finish()
    }
}

/// Writes `kind: text`, or only `text` when it already says what the kind says, or when the
/// kind ([`ErrorKind::Other`]) says nothing.
fn write_with_kind(f: &mut fmt::Formatter<'_>, kind: ErrorKind, text: &str) -> fmt::Result {
    if kind == ErrorKind::Other || contains_ignore_case(text, kind.as_str()) {
        f.write_str(text)
    } else {
        write!(f, "{kind}: {text}")
    }
}

fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

/// One sentence: the kind and what was wrong (the message names the input, the sizes), the
/// server's description and codes when the server refused, and the text of the immediate
/// cause. Nothing is said twice: a description or cause that the text already holds is left
/// out, and [`source`](StdError::source) continues the chain from the cause's own source.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.inner.kind;
        let api = self.inner.api.as_ref();
        let description = api.map(|a| a.description.trim()).unwrap_or_default();
        let source = self.inner.source.as_ref().map(|s| s.to_string());
        // What is said first: the message, else the server's description, else the cause.
        let (lead, lead_is_source) = match (self.inner.message.as_deref(), description, &source) {
            (Some(m), _, _) => (m, false),
            (None, d, _) if !d.is_empty() => (d, false),
            (None, _, Some(s)) => (s.as_str(), true),
            _ => ("", false),
        };
        if lead.is_empty() {
            f.write_str(kind.as_str())?;
        } else {
            write_with_kind(f, kind, lead)?;
        }
        // Everything said so far, to leave out what it already holds.
        let shown = format!("{} {lead}", kind.as_str());
        if let Some(api) = api {
            if description.is_empty() || contains_ignore_case(&shown, description) {
                write!(f, " (err_code {}, code {})", api.err_code, api.code)?;
            } else {
                write!(
                    f,
                    " ({description}, err_code {}, code {})",
                    api.err_code, api.code
                )?;
            }
        }
        if let Some(text) = source.filter(|t| !lead_is_source && !t.is_empty()) {
            if !contains_ignore_case(&shown, &text) {
                write!(f, ": {text}")?;
            }
        }
        Ok(())
    }
}

impl StdError for Error {
    /// The cause's own source: the cause's text is already part of `Display`.
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner.source.as_deref().and_then(|s| s.source())
    }
}

impl From<ApiError> for Error {
    fn from(api: ApiError) -> Error {
        Error::from_api(api)
    }
}

/// What went wrong. Match on this; new kinds may be added.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request or operation did not complete in time.
    Timeout,
    /// Nobody answered the request: no JetStream behind the API prefix (or domain), or no
    /// stream captures the published subject.
    NoResponders,
    /// JetStream is not enabled on the server or for the account (err_code 10076, 10039).
    JetStreamNotEnabled,
    /// The stream does not exist (10059).
    StreamNotFound,
    /// A stream with this name exists with a different configuration (10058).
    StreamNameInUse,
    /// The stream is sealed: no writes, deletes or purges (10109).
    StreamSealed,
    /// The consumer does not exist (10014, 10149).
    ConsumerNotFound,
    /// A consumer with this name exists with a different configuration (10148, 10013, 10105).
    ConsumerExists,
    /// The consumer was deleted while in use.
    ConsumerDeleted,
    /// The operation needs a pull consumer, and this one is push based.
    ConsumerIsPushBased,
    /// The operation needs a push consumer (one with a `deliver_subject`), and this one is
    /// pull based.
    ConsumerIsPullBased,
    /// No message with this sequence or subject (10037).
    MessageNotFound,
    /// `Nats-Expected-Last-Sequence` or `Nats-Expected-Last-Subject-Sequence` did not match
    /// (10071, 10164).
    WrongLastSequence,
    /// `Nats-Expected-Last-Msg-Id` did not match (10070).
    WrongLastMsgId,
    /// `Nats-Expected-Stream` named another stream than the one that captured the subject
    /// (10060).
    StreamMismatch,
    /// The message is larger than the server or stream allows (10054).
    MaxPayloadExceeded,
    /// A stream, consumer or bucket name is not valid.
    InvalidName,
    /// A subject is not valid.
    InvalidSubject,
    /// A Key/Value key is not valid.
    InvalidKey,
    /// The server refused a stream or consumer configuration (10052, filter errors, ...), or
    /// the client found it inconsistent before sending it.
    InvalidConfig,
    /// An argument is out of range or options conflict.
    InvalidArgument,
    /// The Key/Value bucket or object store does not exist.
    BucketNotFound,
    /// A Key/Value bucket or object store with this name exists with a different
    /// configuration.
    BucketExists,
    /// The key does not exist, or its latest entry is a delete or purge.
    KeyNotFound,
    /// The key already has a value (create).
    KeyExists,
    /// The key's latest revision is not the expected one (update, delete, purge).
    WrongLastRevision,
    /// The object does not exist or was deleted.
    ObjectNotFound,
    /// An object with this name already exists (rename).
    ObjectExists,
    /// The object was deleted, and the operation needs a live one (`update_meta`; Go's
    /// `ErrUpdateMetaDeleted`).
    ObjectDeleted,
    /// The object's data does not match its digest.
    DigestMismatch,
    /// The object store is sealed.
    BucketSealed,
    /// The message was already acknowledged (or nak'ed, or terminated).
    AlreadyAcked,
    /// Idle heartbeats stopped arriving.
    HeartbeatMissed,
    /// The async publish window (`max_pending_acks`) is full and the context is set to fail
    /// instead of waiting (`JetStreamOptions::fail_when_window_full`).
    TooManyPendingAcks,
    /// A `consume` handler panicked; the panic's message is in the error's text.
    HandlerPanicked,
    /// A payload could not be decoded into the type asked for (`Msg::json`, typed Key/Value
    /// views, `consume_json`); [`Error::decode_error`] says where it came from and why.
    Decode,
    /// The feature needs a newer server (API level; 10185).
    NotSupported,
    /// The server's reply could not be understood.
    InvalidResponse,
    /// The connection is closed.
    ConnectionClosed,
    /// The server refused the publish, request or subscription: the user's permissions do
    /// not allow the subject (`-ERR 'Permissions Violation ...'`).
    PermissionDenied,
    /// An I/O error, e.g. reading or writing a file.
    Io,
    /// Any other error returned by the server; see [`Error::api_error`].
    Api,
    /// Anything else; see the error's source.
    Other,
}

impl ErrorKind {
    fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timed out",
            ErrorKind::NoResponders => "no responders",
            ErrorKind::JetStreamNotEnabled => "JetStream not enabled",
            ErrorKind::StreamNotFound => "stream not found",
            ErrorKind::StreamNameInUse => "stream name already in use",
            ErrorKind::StreamSealed => "stream is sealed",
            ErrorKind::ConsumerNotFound => "consumer not found",
            ErrorKind::ConsumerExists => "consumer already exists",
            ErrorKind::ConsumerDeleted => "consumer deleted",
            ErrorKind::ConsumerIsPushBased => "consumer is push based",
            ErrorKind::ConsumerIsPullBased => "consumer is pull based",
            ErrorKind::MessageNotFound => "message not found",
            ErrorKind::WrongLastSequence => "wrong last sequence",
            ErrorKind::WrongLastMsgId => "wrong last message id",
            ErrorKind::StreamMismatch => "expected stream does not match",
            ErrorKind::MaxPayloadExceeded => "maximum payload exceeded",
            ErrorKind::InvalidName => "invalid name",
            ErrorKind::InvalidSubject => "invalid subject",
            ErrorKind::InvalidKey => "invalid key",
            ErrorKind::InvalidConfig => "invalid configuration",
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::BucketNotFound => "bucket not found",
            ErrorKind::BucketExists => "bucket already exists",
            ErrorKind::KeyNotFound => "key not found",
            ErrorKind::KeyExists => "key exists",
            ErrorKind::WrongLastRevision => "wrong last revision",
            ErrorKind::ObjectNotFound => "object not found",
            ErrorKind::ObjectExists => "object already exists",
            ErrorKind::ObjectDeleted => "object was deleted",
            ErrorKind::DigestMismatch => "digest mismatch",
            ErrorKind::BucketSealed => "bucket is sealed",
            ErrorKind::AlreadyAcked => "message already acknowledged",
            ErrorKind::HeartbeatMissed => "idle heartbeats missed",
            ErrorKind::TooManyPendingAcks => "too many pending acks",
            ErrorKind::HandlerPanicked => "the handler panicked",
            ErrorKind::Decode => "cannot decode",
            ErrorKind::NotSupported => "not supported by the server",
            ErrorKind::InvalidResponse => "invalid response from the server",
            ErrorKind::ConnectionClosed => "connection closed",
            ErrorKind::PermissionDenied => "permission denied",
            ErrorKind::Io => "I/O error",
            ErrorKind::Api => "JetStream API error",
            ErrorKind::Other => "error",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error returned by the JetStream API: `{"code":404,"err_code":10059,"description":"stream
/// not found"}`.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ApiError {
    /// HTTP-like status: 400, 404, 409, 412, 429, 500 or 503.
    pub code: u16,
    /// The stable JetStream error number; match on this.
    pub err_code: ErrorCode,
    /// Human-readable text; varies between server versions.
    pub description: String,
}

impl ApiError {
    /// The [`ErrorKind`] this error maps to, from its `err_code`.
    pub fn kind(&self) -> ErrorKind {
        self.err_code.kind()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (err_code {}, code {})",
            self.description, self.err_code.0, self.code
        )
    }
}

impl StdError for ApiError {}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    #[cfg(feature = "kv")]
    fn decode_errors_name_where_the_payload_came_from() {
        let err = Error::decode(DecodeError::new(
            "orders.eu",
            "app::Order",
            "missing field `id`",
        ));
        assert_eq!(err.kind(), ErrorKind::Decode);
        assert_eq!(
            err.to_string(),
            "cannot decode the message on orders.eu as app::Order: missing field `id`"
        );
        let d = err.decode_error().unwrap();
        assert_eq!((d.subject(), d.key()), ("orders.eu", None));
        let kv = DecodeError::new("$KV.b.k", "u64", "invalid digit").with_key("k");
        assert_eq!(kv.key(), Some("k"));
        assert_eq!(
            Error::decode(kv).to_string(),
            "cannot decode key \"k\" as u64: invalid digit"
        );
        assert!(Error::new(ErrorKind::Other).decode_error().is_none());
        assert!(Error::new(ErrorKind::Decode).take_msg().is_none());
    }

    fn api(code: u16, err_code: u16, description: &str) -> ApiError {
        ApiError {
            code,
            err_code: ErrorCode(err_code),
            description: description.to_string(),
        }
    }

    #[test]
    fn kind_comes_from_err_code_not_description() {
        let err = Error::from_api(api(404, 10014, "stream not found"));
        assert_eq!(err.kind(), ErrorKind::ConsumerNotFound);
        let err = Error::from_api(api(404, 12345, "stream not found"));
        assert_eq!(err.kind(), ErrorKind::Api);
    }

    #[test]
    fn api_error_parses_and_is_kept() {
        let api: ApiError = serde_json::from_str(
            r#"{"code":404,"err_code":10059,"description":"stream not found","extra":1}"#,
        )
        .unwrap();
        assert_eq!(api, self::api(404, 10059, "stream not found"));
        let err = Error::from(api.clone());
        assert_eq!(err.kind(), ErrorKind::StreamNotFound);
        assert_eq!(err.api_error(), Some(&api));
        // An old server without err_code still parses.
        let api: ApiError = serde_json::from_str(r#"{"code":503,"description":"x"}"#).unwrap();
        assert_eq!(api.err_code, ErrorCode(0));
    }

    #[test]
    fn display_says_why_once() {
        // The server's description is not repeated after the kind.
        let err = Error::from_api(api(404, 10059, "stream not found"));
        assert_eq!(
            err.to_string(),
            "stream not found (err_code 10059, code 404)"
        );
        // ... and names the stream when the request subject does.
        let err = err.for_api_request("STREAM.INFO.ORDERS");
        assert_eq!(
            err.to_string(),
            "stream not found: \"ORDERS\" (err_code 10059, code 404)"
        );
        let err = Error::from_api(api(404, 10014, "consumer not found"))
            .for_api_request("CONSUMER.INFO.ORDERS.worker");
        assert_eq!(
            err.to_string(),
            "consumer not found: \"worker\" on stream \"ORDERS\" (err_code 10014, code 404)"
        );
        // A description with more than the kind says is shown once.
        let err = Error::from_api(api(400, 10071, "wrong last sequence: 5"));
        assert_eq!(
            err.to_string(),
            "wrong last sequence: 5 (err_code 10071, code 400)"
        );
        let err = Error::from_api(api(503, 10023, "insufficient resources"));
        assert_eq!(
            err.to_string(),
            "JetStream API error: insufficient resources (err_code 10023, code 503)"
        );
        // A message from the client comes first, the server's words after it.
        let err = Error::api_with_kind(
            ErrorKind::KeyExists,
            api(400, 10071, "wrong last sequence: 3"),
        )
        .with_message("\"k\" has a value");
        assert_eq!(
            err.to_string(),
            "key exists: \"k\" has a value (wrong last sequence: 3, err_code 10071, code 400)"
        );
        let err = Error::msg(
            ErrorKind::InvalidName,
            "stream name \"a.b\" must not contain '.'",
        );
        assert_eq!(
            err.to_string(),
            "invalid name: stream name \"a.b\" must not contain '.'"
        );
        assert_eq!(Error::new(ErrorKind::Timeout).to_string(), "timed out");
        // A message that already says the kind is not prefixed with it.
        let err = Error::msg(ErrorKind::Timeout, "the fetch timed out after 5s");
        assert_eq!(err.to_string(), "the fetch timed out after 5s");
    }

    #[test]
    fn names_in_api_subjects() {
        for (suffix, names) in [
            ("STREAM.INFO.S", (Some("S"), None)),
            ("STREAM.MSG.GET.S", (Some("S"), None)),
            ("STREAM.NAMES", (None, None)),
            ("CONSUMER.INFO.S.C", (Some("S"), Some("C"))),
            ("CONSUMER.CREATE.S", (Some("S"), None)),
            ("CONSUMER.CREATE.S.C.a.b", (Some("S"), Some("C"))),
            ("CONSUMER.DURABLE.CREATE.S.D", (Some("S"), Some("D"))),
            ("CONSUMER.MSG.NEXT.S.C", (Some("S"), Some("C"))),
            ("CONSUMER.NAMES.S", (Some("S"), None)),
            ("DIRECT.GET.S", (Some("S"), None)),
            ("INFO", (None, None)),
        ] {
            assert_eq!(names_in_api_subject(suffix), names, "{suffix}");
        }
    }

    #[test]
    fn causes_are_shown_once_and_the_chain_goes_on_below_them() {
        // The cause's text is part of the sentence...
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let err = Error::with_source(ErrorKind::Io, io).with_message("reading the object failed");
        assert_eq!(
            err.to_string(),
            "I/O error: reading the object failed: no such file"
        );
        // ... so `source()` starts below it: a chain printer shows every text once.
        assert!(err.source().is_none());
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl fmt::Display for Outer {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("outer")
            }
        }
        impl StdError for Outer {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(&self.0)
            }
        }
        let inner = std::io::Error::other("inner");
        let err = Error::with_source(ErrorKind::Other, Outer(inner));
        assert_eq!(err.to_string(), "outer");
        assert_eq!(err.source().unwrap().to_string(), "inner");
        let mut chain = vec![err.to_string()];
        let mut next = err.source();
        while let Some(e) = next {
            chain.push(e.to_string());
            next = e.source();
        }
        assert_eq!(chain, ["outer", "inner"]);
        // A core error is shown once, not after a kind that says the same.
        let core = nats_core::Error::with_detail(
            nats_core::ErrorKind::MaxPayloadExceeded,
            "message of 2000000 bytes exceeds the server's max_payload of 1048576",
        );
        assert_eq!(
            Error::from(core).to_string(),
            "maximum payload exceeded: message of 2000000 bytes exceeds the server's max_payload of 1048576"
        );
    }

    #[test]
    #[cfg(any(feature = "kv", feature = "object-store"))]
    fn kind_remapping_keeps_the_server_error() {
        let err = Error::from_api(api(404, 10059, "stream not found"))
            .with_kind(ErrorKind::BucketNotFound);
        assert_eq!(err.kind(), ErrorKind::BucketNotFound);
        assert_eq!(
            err.api_error().unwrap().err_code,
            ErrorCode::STREAM_NOT_FOUND
        );

        let err = Error::api_with_kind(
            ErrorKind::KeyExists,
            api(400, 10071, "wrong last sequence: 1"),
        );
        assert_eq!(err.kind(), ErrorKind::KeyExists);
        assert_eq!(
            err.api_error().unwrap().kind(),
            ErrorKind::WrongLastSequence
        );
    }

    #[test]
    fn error_is_send_sync_and_small() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Error>();
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
    }
}
