//! Error types of the codec.

use std::fmt;

/// Bytes received from a server do not form a valid protocol operation.
///
/// A parse error is fatal for the connection: the stream can no longer be framed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    message: String,
}

impl ParseError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// A description of what was wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "protocol parse error: {}", self.message)
    }
}

impl std::error::Error for ParseError {}

/// A subject, queue group or name is not valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectError {
    message: String,
}

impl SubjectError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// A description of what was wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for SubjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SubjectError {}

/// A header name or value cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderError {
    message: String,
}

impl HeaderError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// A description of what was wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HeaderError {}
