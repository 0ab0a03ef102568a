//! Subjects: the [`Subject`] string type and validation of subjects, queue groups
//! and names before anything is sent.
//!
//! The rules follow the NATS protocol and ADR-6: a subject is one or more
//! non-empty tokens separated by `.`, with no whitespace; `*` matches one token and
//! `>` matches the rest, and both must be whole tokens (`>` only as the last).

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

use bytes::Bytes;
use bytestring::ByteString;

use crate::error::SubjectError;

/// A UTF-8 subject backed by [`Bytes`], so subjects of received messages are
/// slices of the read buffer rather than fresh allocations.
///
/// Derefs to `str` and implements `Display`.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Subject(ByteString);

impl Subject {
    /// A subject from a static string, without copying.
    pub const fn from_static(s: &'static str) -> Self {
        Subject(ByteString::from_static(s))
    }

    /// Wraps bytes that are valid UTF-8.
    pub fn from_utf8(bytes: Bytes) -> Result<Self, std::str::Utf8Error> {
        ByteString::try_from(bytes).map(Subject)
    }

    /// The subject as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The underlying bytes.
    pub fn as_bytes(&self) -> &Bytes {
        self.0.as_bytes()
    }

    /// Consumes the subject, returning its bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0.into_bytes()
    }
}

impl Deref for Subject {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Subject {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Subject {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl From<&str> for Subject {
    fn from(s: &str) -> Self {
        Subject(ByteString::from(s))
    }
}

impl From<String> for Subject {
    fn from(s: String) -> Self {
        Subject(ByteString::from(s))
    }
}

impl From<&String> for Subject {
    fn from(s: &String) -> Self {
        Subject(ByteString::from(s.as_str()))
    }
}

impl From<Subject> for String {
    fn from(s: Subject) -> Self {
        s.0.to_string()
    }
}

impl PartialEq<str> for Subject {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Subject {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl PartialEq<String> for Subject {
    fn eq(&self, other: &String) -> bool {
        &*self.0 == other.as_str()
    }
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Checks a subject used to subscribe: non-empty tokens, no whitespace, and
/// wildcards only as whole tokens (`>` only last).
pub fn validate_subscribe_subject(subject: &str) -> Result<(), SubjectError> {
    check_tokens(subject, true)
}

/// Checks a subject used to publish: non-empty tokens and no whitespace.
/// Wildcard characters are not allowed either: a message published to `a.*`
/// would never be what was meant.
pub fn validate_publish_subject(subject: &str) -> Result<(), SubjectError> {
    check_tokens(subject, false)
}

fn check_tokens(subject: &str, wildcards: bool) -> Result<(), SubjectError> {
    // One pass over the bytes: the common valid case does no allocation and
    // no per-token iterator work.
    let bytes = subject.as_bytes();
    if bytes.is_empty() {
        return Err(SubjectError::new("subject is empty"));
    }
    let mut token_start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'.' => {
                check_token(subject, &bytes[token_start..i], wildcards, false)?;
                token_start = i + 1;
            }
            b' ' | b'\t' | b'\r' | b'\n' => {
                return Err(SubjectError::new(format!(
                    "subject {subject:?} contains whitespace"
                )));
            }
            _ => {}
        }
    }
    check_token(subject, &bytes[token_start..], wildcards, true)
}

fn check_token(
    subject: &str,
    token: &[u8],
    wildcards: bool,
    last: bool,
) -> Result<(), SubjectError> {
    match token {
        [] => Err(SubjectError::new(format!(
            "subject {subject:?} has an empty token"
        ))),
        [b'*'] | [b'>'] if !wildcards => Err(SubjectError::new(format!(
            "subject {subject:?} contains a wildcard, not allowed here"
        ))),
        [b'>'] if !last => Err(SubjectError::new(format!(
            "subject {subject:?}: '>' must be the last token"
        ))),
        _ => Ok(()),
    }
}

/// Checks a reply subject: like a publish subject.
pub fn validate_reply_subject(subject: &str) -> Result<(), SubjectError> {
    check_tokens(subject, false)
}

/// Checks a queue group name: non-empty, no whitespace.
pub fn validate_queue_group(queue: &str) -> Result<(), SubjectError> {
    if queue.is_empty() {
        return Err(SubjectError::new("queue group is empty"));
    }
    if queue.bytes().any(is_ws) {
        return Err(SubjectError::new(format!(
            "queue group {queue:?} contains whitespace"
        )));
    }
    Ok(())
}

/// Checks a name (stream, consumer, durable) against ADR-6: printable ASCII
/// without `.`, `*`, `>`, `/`, `\` or whitespace, at most 255 characters.
pub fn validate_name(name: &str) -> Result<(), SubjectError> {
    if name.is_empty() {
        return Err(SubjectError::new("name is empty"));
    }
    if name.len() > 255 {
        return Err(SubjectError::new(format!(
            "name {name:?} is longer than 255 characters"
        )));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !c.is_ascii_graphic() || matches!(c, '.' | '*' | '>' | '/' | '\\'))
    {
        return Err(SubjectError::new(format!(
            "name {name:?} contains the character {c:?}, not allowed in names"
        )));
    }
    Ok(())
}

/// Whether `subject` (a literal subject) matches `pattern` (which may contain
/// wildcards).
pub fn matches(pattern: &str, subject: &str) -> bool {
    let mut p = pattern.split('.');
    let mut s = subject.split('.');
    loop {
        match (p.next(), s.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribe_subjects() {
        for ok in [
            "a",
            "a.b",
            "a.*",
            "a.>",
            ">",
            "*",
            "*.b.>",
            "$JS.API.>",
            "foo*.bar",
        ] {
            assert!(validate_subscribe_subject(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "a.", ".a", "a..b", "a b", "a\tb", "a.>.b", "a\r\n"] {
            assert!(validate_subscribe_subject(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn publish_subjects() {
        assert!(validate_publish_subject("orders.new").is_ok());
        assert!(validate_publish_subject("_INBOX.abc.def").is_ok());
        for bad in ["", "a.*", "a.>", "a..b", "a b", " "] {
            assert!(validate_publish_subject(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names() {
        assert!(validate_name("ORDERS").is_ok());
        assert!(validate_name("my-stream_1").is_ok());
        for bad in ["", "a.b", "a*", "a>", "a/b", "a\\b", "a b", "é"] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
        assert!(validate_name(&"x".repeat(256)).is_err());
        assert!(validate_name(&"x".repeat(255)).is_ok());
    }

    #[test]
    fn queue_groups() {
        assert!(validate_queue_group("workers").is_ok());
        assert!(validate_queue_group("").is_err());
        assert!(validate_queue_group("a b").is_err());
    }

    #[test]
    fn wildcard_matching() {
        assert!(matches("a.*", "a.b"));
        assert!(!matches("a.*", "a.b.c"));
        assert!(matches("a.>", "a.b.c"));
        assert!(!matches("a.>", "a"));
        assert!(matches("a.b", "a.b"));
        assert!(!matches("a.b", "a.c"));
        assert!(matches(">", "x"));
    }

    #[test]
    fn subject_type() {
        let s = Subject::from("a.b");
        assert_eq!(s, "a.b");
        assert_eq!(s.len(), 3);
        assert_eq!(s.to_string(), "a.b");
        assert!(Subject::from_utf8(Bytes::from_static(b"\xff")).is_err());
    }
}
