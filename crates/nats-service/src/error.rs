//! The error type of the crate, and the service error carried by replies.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;

use nats_core::{HeaderMap, Message};

/// The header naming a service error's description (ADR-32).
pub const NATS_SERVICE_ERROR: &str = "Nats-Service-Error";

/// The header carrying a service error's numeric code (ADR-32).
pub const NATS_SERVICE_ERROR_CODE: &str = "Nats-Service-Error-Code";

/// What went wrong. Match on this; new kinds may be added.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A service or endpoint name is not made of `A-Z`, `a-z`, `0-9`, `-`
    /// and `_` only (or is empty).
    InvalidName,
    /// The service version is not a semantic version (`1.0.0`, `2.1.3-rc.1+build`).
    InvalidVersion,
    /// An endpoint subject or group prefix is not a valid subject (a group
    /// prefix may not contain `>`).
    InvalidSubject,
    /// A queue group name is empty or contains whitespace.
    InvalidQueueGroup,
    /// Some other argument is not valid (e.g. a discovery id without a name).
    InvalidArgument,
    /// The service was stopped: no endpoint can be added any more.
    Stopped,
    /// The request has no reply subject, so it cannot be answered.
    NoReplySubject,
    /// A wait ran past its deadline.
    Timeout,
    /// A request was sent but nobody listens on its subject.
    NoResponders,
    /// The connection is closed.
    ConnectionClosed,
    /// The server refused a subscription or publish (permissions).
    PermissionDenied,
    /// A reply is larger than the server's `max_payload`.
    MaxPayloadExceeded,
    /// A discovery response could not be decoded.
    InvalidResponse,
    /// Any other failure of the core client; see the source.
    Other,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::InvalidName => "invalid name",
            ErrorKind::InvalidVersion => "invalid version",
            ErrorKind::InvalidSubject => "invalid subject",
            ErrorKind::InvalidQueueGroup => "invalid queue group",
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::Stopped => "service stopped",
            ErrorKind::NoReplySubject => "request has no reply subject",
            ErrorKind::Timeout => "timed out",
            ErrorKind::NoResponders => "no responders",
            ErrorKind::ConnectionClosed => "connection closed",
            ErrorKind::PermissionDenied => "permission denied",
            ErrorKind::MaxPayloadExceeded => "maximum payload exceeded",
            ErrorKind::InvalidResponse => "invalid response",
            ErrorKind::Other => "client error",
        })
    }
}

/// The error of every fallible call in this crate.
///
/// Use [`kind`](Self::kind) to decide what to do; the `Display` text adds
/// what was wrong, and [`source`](std::error::Error::source) gives the core
/// client's error when there is one.
pub struct Error {
    kind: ErrorKind,
    message: Option<Cow<'static, str>>,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Error {
        Error {
            kind,
            message: Some(message.into()),
            source: None,
        }
    }

    /// What kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind);
        if let Some(message) = &self.message {
            d.field("message", message);
        }
        if let Some(source) = &self.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.kind, f)?;
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        }
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_ref()
            .map(|s| s.as_ref() as &(dyn StdError + 'static))
    }
}

impl From<nats_core::Error> for Error {
    fn from(e: nats_core::Error) -> Error {
        use nats_core::ErrorKind as Core;
        let kind = match e.kind() {
            Core::Timeout => ErrorKind::Timeout,
            Core::NoResponders => ErrorKind::NoResponders,
            Core::ConnectionClosed => ErrorKind::ConnectionClosed,
            Core::InvalidSubject => ErrorKind::InvalidSubject,
            Core::MaxPayloadExceeded => ErrorKind::MaxPayloadExceeded,
            Core::InvalidArgument => ErrorKind::InvalidArgument,
            Core::PermissionDenied => ErrorKind::PermissionDenied,
            _ => ErrorKind::Other,
        };
        Error {
            kind,
            message: None,
            source: Some(Box::new(e)),
        }
    }
}

/// The error a service reported in a reply: the `Nats-Service-Error-Code`
/// and `Nats-Service-Error` headers of ADR-32.
///
/// Callers of a service must check every reply for it, whatever client or
/// language the service was written with:
///
/// ```
/// use nats_core::{HeaderMap, Message};
/// use nats_service::ServiceError;
///
/// let reply = Message::new("_INBOX.x", "").with_headers(nats_service::error_headers(404, "no such user"));
/// let err = ServiceError::from_message(&reply).expect("an error reply");
/// assert_eq!((err.code, err.description.as_str()), (404, "no such user"));
/// assert!(ServiceError::from_message(&Message::new("_INBOX.x", "fine")).is_none());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ServiceError {
    /// The error code (`Nats-Service-Error-Code`); 0 when the header was
    /// missing or not a number.
    pub code: u32,
    /// The description (`Nats-Service-Error`), to show to a user.
    pub description: String,
}

impl ServiceError {
    /// The service error a reply carries, if it carries one (either header
    /// present; header names are matched without regard to case).
    pub fn from_message(message: &Message) -> Option<ServiceError> {
        ServiceError::from_headers(message.headers.as_ref()?)
    }

    /// The service error these reply headers carry, if any (see
    /// [`from_message`](Self::from_message)).
    pub fn from_headers(headers: &HeaderMap) -> Option<ServiceError> {
        let description = header(headers, NATS_SERVICE_ERROR);
        let code = header(headers, NATS_SERVICE_ERROR_CODE);
        if description.is_none() && code.is_none() {
            return None;
        }
        Some(ServiceError {
            code: code.and_then(|c| c.trim().parse().ok()).unwrap_or(0),
            description: description.unwrap_or_default().to_string(),
        })
    }
}

impl fmt::Display for ServiceError {
    /// `code:description`, as services report their `last_error`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.code, self.description)
    }
}

impl StdError for ServiceError {}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).or_else(|| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// The headers of an error reply (ADR-32's error formatting function):
/// `Nats-Service-Error: <description>` and `Nats-Service-Error-Code: <code>`.
///
/// [`Request::respond_error`](crate::Request::respond_error) sends them with an
/// empty payload; to send a payload or more headers with the error, add to
/// these and use [`Request::respond_with_headers`](crate::Request::respond_with_headers),
/// which counts the reply as an error too.
///
/// ```
/// let headers = nats_service::error_headers(500, "database unavailable");
/// assert_eq!(headers.get("Nats-Service-Error-Code"), Some("500"));
/// assert_eq!(headers.get("Nats-Service-Error"), Some("database unavailable"));
/// ```
pub fn error_headers(code: u32, description: impl AsRef<str>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(NATS_SERVICE_ERROR, one_line(description.as_ref()));
    headers.insert(NATS_SERVICE_ERROR_CODE, code.to_string());
    headers
}

/// Header values cannot hold line breaks; replace them with spaces.
fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_error_parsing_is_lenient() {
        let mut h = HeaderMap::new();
        h.insert("nats-service-error", "boom");
        h.insert("NATS-SERVICE-ERROR-CODE", " 503 ");
        let m = Message::new("x", "").with_headers(h);
        assert_eq!(
            ServiceError::from_message(&m),
            Some(ServiceError {
                code: 503,
                description: "boom".into()
            })
        );
        let mut h = HeaderMap::new();
        h.insert(NATS_SERVICE_ERROR_CODE, "abc");
        let m = Message::new("x", "").with_headers(h);
        let e = ServiceError::from_message(&m).unwrap();
        assert_eq!((e.code, e.description.as_str()), (0, ""));
        assert_eq!(e.to_string(), "0:");
    }

    #[test]
    fn error_headers_are_single_line() {
        let h = error_headers(400, "bad\r\ninput");
        assert_eq!(h.get(NATS_SERVICE_ERROR), Some("bad  input"));
        h.validate().unwrap();
    }
}
