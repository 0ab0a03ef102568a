//! The error type of the codec.

use std::fmt;

/// What an [`Error`] is about. New kinds may be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Bytes received from a server do not form a valid protocol operation. Fatal for the
    /// connection: the stream can no longer be framed.
    Parse,
    /// A subject is not valid.
    InvalidSubject,
    /// A queue group is not valid.
    InvalidQueueGroup,
    /// A name (stream, consumer, durable) is not valid.
    InvalidName,
    /// A header name or value cannot be sent.
    InvalidHeader,
}

impl ErrorKind {
    fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Parse => "protocol parse error",
            ErrorKind::InvalidSubject => "invalid subject",
            ErrorKind::InvalidQueueGroup => "invalid queue group",
            ErrorKind::InvalidName => "invalid name",
            ErrorKind::InvalidHeader => "invalid header",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of the codec: bad bytes from a server, or input (subject, queue group, name,
/// header) that cannot be sent.
///
/// [`kind`](Self::kind) says which; [`message`](Self::message) says what was wrong and
/// names the offending input. `Display` is the kind followed by the message, e.g.
/// `invalid subject: subject "a b" contains whitespace`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub(crate) fn parse(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Parse, message)
    }

    /// What the error is about.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// What was wrong, without the kind: e.g. `subject "a b" contains whitespace`.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_kind_then_message() {
        let e = Error::new(
            ErrorKind::InvalidSubject,
            "subject \"a b\" contains whitespace",
        );
        assert_eq!(e.kind(), ErrorKind::InvalidSubject);
        assert_eq!(
            e.to_string(),
            "invalid subject: subject \"a b\" contains whitespace"
        );
        let e = Error::parse("control line too long");
        assert_eq!(e.kind(), ErrorKind::Parse);
        assert_eq!(e.to_string(), "protocol parse error: control line too long");
    }
}
