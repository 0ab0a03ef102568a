//! The error type of the core client.

use std::fmt;

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A socket or file operation failed.
    Io,
    /// TLS could not be set up or the handshake failed.
    Tls,
    /// The server refused the credentials (or none were given).
    Authorization,
    /// The server sent something the client could not understand, or said the
    /// client broke the protocol.
    Protocol,
    /// A wait ran past its deadline.
    Timeout,
    /// A request was published but nobody is subscribed to its subject.
    NoResponders,
    /// The connection is closed (by the user, or after giving up reconnecting).
    ConnectionClosed,
    /// A subject or queue group is not valid.
    InvalidSubject,
    /// The payload (with headers) is larger than the server's `max_payload`.
    MaxPayloadExceeded,
    /// An argument is not valid (bad URL, bad header, bad option...).
    InvalidArgument,
    /// Publishing while disconnected filled the reconnect buffer.
    ReconnectBufferFull,
    /// The server reported a permissions violation.
    PermissionDenied,
    /// The subscription or request was dropped or drained before it completed.
    Canceled,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            ErrorKind::Io => "I/O error",
            ErrorKind::Tls => "TLS error",
            ErrorKind::Authorization => "authorization failed",
            ErrorKind::Protocol => "protocol error",
            ErrorKind::Timeout => "timed out",
            ErrorKind::NoResponders => "no responders",
            ErrorKind::ConnectionClosed => "connection closed",
            ErrorKind::InvalidSubject => "invalid subject",
            ErrorKind::MaxPayloadExceeded => "maximum payload exceeded",
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::ReconnectBufferFull => "reconnect buffer full",
            ErrorKind::PermissionDenied => "permission denied",
            ErrorKind::Canceled => "canceled",
        };
        f.write_str(s)
    }
}

/// The error of every fallible call of the core client.
///
/// Use [`Error::kind`] to branch on what went wrong; `Display` adds the detail.
pub struct Error {
    kind: ErrorKind,
    detail: Option<String>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    /// An error of `kind` with no further detail.
    pub fn new(kind: ErrorKind) -> Self {
        Error {
            kind,
            detail: None,
            source: None,
        }
    }

    /// An error of `kind` with a human-readable detail.
    pub fn with_detail(kind: ErrorKind, detail: impl Into<String>) -> Self {
        Error {
            kind,
            detail: Some(detail.into()),
            source: None,
        }
    }

    /// An error of `kind` caused by `source`.
    pub fn with_source(
        kind: ErrorKind,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        Error {
            kind,
            detail: None,
            source: Some(source.into()),
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The detail message, if any.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// Adds (or replaces) the detail message.
    pub(crate) fn context(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub(crate) fn closed() -> Self {
        Error::new(ErrorKind::ConnectionClosed)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind);
        if let Some(detail) = &self.detail {
            d.field("detail", detail);
        }
        if let Some(source) = &self.source {
            d.field("source", source);
        }
        d.finish()
    }
}

/// Writes `kind: text`, or only `text` when it already says what the kind says (so that
/// "flush timed out" does not read "timed out: flush timed out").
fn write_with_kind(f: &mut fmt::Formatter<'_>, kind: &str, text: &str) -> fmt::Result {
    if text.to_lowercase().contains(&kind.to_lowercase()) {
        f.write_str(text)
    } else {
        write!(f, "{kind}: {text}")
    }
}

/// One sentence: the kind, the detail (what was wrong, which input, the sizes) and the
/// text of the immediate cause. [`source`](std::error::Error::source) continues the chain
/// from the cause's own source, so a chain printer never shows a text twice.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.kind.to_string();
        match &self.detail {
            Some(detail) => write_with_kind(f, &kind, detail)?,
            None => f.write_str(&kind)?,
        }
        if let Some(source) = &self.source {
            let text = source.to_string();
            let shown = self.detail.as_deref().unwrap_or(&kind).to_lowercase();
            if !text.is_empty() && !shown.contains(&text.to_lowercase()) {
                write!(f, ": {text}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    /// The cause's own source: the cause's text is already part of `Display`.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().and_then(|e| e.source())
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        let kind = if e.kind() == std::io::ErrorKind::TimedOut {
            ErrorKind::Timeout
        } else {
            ErrorKind::Io
        };
        Error::with_source(kind, e)
    }
}

impl From<nats_wire::Error> for Error {
    fn from(e: nats_wire::Error) -> Self {
        use nats_wire::ErrorKind as Wire;
        match e.kind() {
            Wire::InvalidSubject | Wire::InvalidQueueGroup => {
                Error::with_detail(ErrorKind::InvalidSubject, e.message())
            }
            Wire::Parse => Error::with_detail(
                ErrorKind::Protocol,
                format!("cannot parse what the server sent: {}", e.message()),
            ),
            _ => Error::with_detail(ErrorKind::InvalidArgument, e.message()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn display_says_why_once() {
        // The cause is part of the sentence; `source()` goes on below it.
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let err = Error::with_source(ErrorKind::Io, io).context("connecting to nats://h:4222");
        assert_eq!(
            err.to_string(),
            "I/O error: connecting to nats://h:4222: refused"
        );
        assert!(err.source().is_none());
        // A detail that already says the kind is not prefixed with it.
        let err = Error::with_detail(ErrorKind::Timeout, "flush timed out");
        assert_eq!(err.to_string(), "flush timed out");
        let err = Error::with_detail(ErrorKind::Timeout, "no reply within 1s");
        assert_eq!(err.to_string(), "timed out: no reply within 1s");
        assert_eq!(
            Error::new(ErrorKind::NoResponders).to_string(),
            "no responders"
        );
    }

    #[test]
    fn codec_errors_keep_their_reason() {
        let err = Error::from(nats_wire::subject::validate_publish_subject("").unwrap_err());
        assert_eq!(err.kind(), ErrorKind::InvalidSubject);
        assert_eq!(err.to_string(), "invalid subject: the subject is empty");
        let err = Error::from(nats_wire::subject::validate_queue_group("a b").unwrap_err());
        assert_eq!(err.kind(), ErrorKind::InvalidSubject);
        assert_eq!(
            err.to_string(),
            "invalid subject: queue group \"a b\" contains ' ', which queue groups may not contain"
        );
    }
}
