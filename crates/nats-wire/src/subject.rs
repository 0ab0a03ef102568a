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

use crate::error::{Error, ErrorKind};

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

/// Bytes a subject or queue group may not contain: the whitespace the server refuses
/// (space, tab, CR, LF, form feed) and NUL.
fn is_forbidden(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'\x0c' | b'\0')
}

/// Checks a subject used to subscribe or to filter: non-empty tokens, no whitespace, and
/// wildcards only as whole tokens (`>` only last). A `*` or `>` inside a longer token is a
/// literal character, as on the server.
pub fn validate_subscribe_subject(subject: &str) -> Result<(), Error> {
    check_tokens(subject, true)
}

/// Checks a subject used to publish: non-empty tokens and no whitespace.
/// Wildcard tokens are not allowed either: a message published to `a.*`
/// would never be what was meant.
pub fn validate_publish_subject(subject: &str) -> Result<(), Error> {
    check_tokens(subject, false)
}

fn invalid_subject(message: String) -> Result<(), Error> {
    Err(Error::new(ErrorKind::InvalidSubject, message))
}

fn check_tokens(subject: &str, wildcards: bool) -> Result<(), Error> {
    // Every publish checks its subject, acks included: the common valid case
    // looks at eight bytes at a time; only a subject found wrong is read again
    // byte by byte, to say what is wrong with it.
    if tokens_valid(subject.as_bytes(), wildcards) {
        return Ok(());
    }
    explain_invalid(subject, wildcards)
}

/// Whether every token is non-empty (wildcards whole tokens where allowed,
/// `>` last), and no byte is forbidden.
fn tokens_valid(bytes: &[u8], wildcards: bool) -> bool {
    if bytes.is_empty() {
        return false;
    }
    let mut low = 0;
    let mut token_start = 0;
    let mut offset = 0;
    while offset < bytes.len() {
        let word = word_at(bytes, offset);
        low |= low_mask(word);
        let mut dots = dot_mask(word);
        while dots != 0 {
            let dot = offset + (dots.trailing_zeros() / 8) as usize;
            dots &= dots - 1;
            if !token_valid(&bytes[token_start..dot], wildcards, false) {
                return false;
            }
            token_start = dot + 1;
        }
        offset += 8;
    }
    // A byte below `!` may be one of the forbidden ones (most are allowed).
    (low == 0 || !bytes.iter().any(|&b| is_forbidden(b)))
        && token_valid(&bytes[token_start..], wildcards, true)
}

fn token_valid(token: &[u8], wildcards: bool, last: bool) -> bool {
    match token {
        [] => false,
        [b'*'] => wildcards,
        [b'>'] => wildcards && last,
        _ => true,
    }
}

/// The error of a subject [`tokens_valid`] refused: the first thing wrong
/// with it, reading from the start.
fn explain_invalid(subject: &str, wildcards: bool) -> Result<(), Error> {
    let bytes = subject.as_bytes();
    if bytes.is_empty() {
        return invalid_subject("the subject is empty".into());
    }
    let mut token_start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'.' {
            check_token(subject, &bytes[token_start..i], wildcards, false)?;
            token_start = i + 1;
        } else if is_forbidden(b) {
            return invalid_subject(format!(
                "subject {subject:?} contains {:?}, which subjects may not contain",
                char::from(b)
            ));
        }
    }
    check_token(subject, &bytes[token_start..], wildcards, true)
}

/// The eight bytes of `bytes` from `offset` as a little-endian word; past the
/// end, `0xff` bytes, which are neither dots nor below a space.
#[inline]
fn word_at(bytes: &[u8], offset: usize) -> u64 {
    let rest = bytes.get(offset..).unwrap_or_default();
    let word = match rest.first_chunk::<8>() {
        Some(word) => *word,
        None => {
            let mut word = [0xffu8; 8];
            let n = rest.len().min(8);
            word[..n].copy_from_slice(&rest[..n]);
            word
        }
    };
    u64::from_le_bytes(word)
}

const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// `0x80` in every byte of `word` equal to `byte`, `0` in every other. Exact:
/// no carry crosses from one byte into the next (the parser finds the spaces
/// and tabs of a control line with it too).
#[inline]
pub(crate) fn byte_mask(word: u64, byte: u8) -> u64 {
    let x = word ^ (u64::from(byte) * 0x0101_0101_0101_0101);
    !(((x & LOW7) + LOW7) | x | LOW7)
}

/// `0x80` in every byte of `word` that is a `.`, `0` in every other.
#[inline]
fn dot_mask(word: u64) -> u64 {
    byte_mask(word, b'.')
}

/// `0x80` in every byte of `word` below `!` (0x21), `0` in every other.
#[inline]
fn low_mask(word: u64) -> u64 {
    // The low seven bits plus 0x5f reach 0x80 exactly from 0x21 up; a byte
    // with its high bit set is not low.
    !(((word & LOW7) + 0x5f5f_5f5f_5f5f_5f5f) | word | LOW7)
}

/// The byte offsets of the `.` separators of `subject`, in order, found eight
/// bytes at a time: for the checks and parsers that run on every message.
///
/// ```
/// use nats_wire::subject::dots;
///
/// assert_eq!(dots("$JS.ACK.orders.c1").collect::<Vec<_>>(), [3, 7, 14]);
/// assert_eq!(dots("orders").count(), 0);
/// ```
#[inline]
pub fn dots(subject: &str) -> Dots<'_> {
    Dots {
        bytes: subject.as_bytes(),
        next: 0,
        base: 0,
        mask: 0,
    }
}

/// The iterator of [`dots`].
#[derive(Debug, Clone)]
pub struct Dots<'a> {
    bytes: &'a [u8],
    /// Offset of the next eight bytes to look at.
    next: usize,
    /// Offset of the eight bytes `mask` describes.
    base: usize,
    /// `0x80` in each byte of the word at `base` that is a dot not yet yielded.
    mask: u64,
}

impl Iterator for Dots<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.mask == 0 {
            if self.next >= self.bytes.len() {
                return None;
            }
            self.mask = dot_mask(word_at(self.bytes, self.next));
            self.base = self.next;
            self.next += 8;
        }
        let at = self.base + (self.mask.trailing_zeros() / 8) as usize;
        self.mask &= self.mask - 1;
        Some(at)
    }
}

fn check_token(subject: &str, token: &[u8], wildcards: bool, last: bool) -> Result<(), Error> {
    match token {
        [] => invalid_subject(format!("subject {subject:?} has an empty token")),
        [w @ (b'*' | b'>')] if !wildcards => invalid_subject(format!(
            "subject {subject:?} contains the wildcard '{}': only subscriptions and filters may use wildcards",
            char::from(*w)
        )),
        [b'>'] if !last => invalid_subject(format!(
            "subject {subject:?} has '>' before its last token"
        )),
        _ => Ok(()),
    }
}

/// Checks a reply subject: like a publish subject.
pub fn validate_reply_subject(subject: &str) -> Result<(), Error> {
    check_tokens(subject, false)
}

/// Checks a queue group name: non-empty, no whitespace.
pub fn validate_queue_group(queue: &str) -> Result<(), Error> {
    let invalid = |message: String| Err(Error::new(ErrorKind::InvalidQueueGroup, message));
    if queue.is_empty() {
        return invalid("the queue group is empty".into());
    }
    if let Some(b) = queue.bytes().find(|&b| is_forbidden(b)) {
        return invalid(format!(
            "queue group {queue:?} contains {:?}, which queue groups may not contain",
            char::from(b)
        ));
    }
    Ok(())
}

/// Longest name the server accepts, in bytes.
pub const MAX_NAME_LEN: usize = 255;

/// Checks a name (stream, consumer, durable) against ADR-6 and the server: non-empty, at
/// most [`MAX_NAME_LEN`] bytes, no `.`, `*`, `>`, `/`, `\`, whitespace or control
/// characters. Non-ASCII letters are let through: the server accepts them.
///
/// The error's message starts with `name`, so callers can prefix what the name is for
/// (`stream name "a.b" must not contain '.'`).
pub fn validate_name(name: &str) -> Result<(), Error> {
    let invalid = |message: String| Err(Error::new(ErrorKind::InvalidName, message));
    if name.is_empty() {
        return invalid("name must not be empty".into());
    }
    if name.len() > MAX_NAME_LEN {
        return invalid(format!(
            "name {name:?} is {} bytes long, more than the {MAX_NAME_LEN} allowed",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|&c| matches!(c, '.' | '*' | '>' | '/' | '\\') || c.is_whitespace() || c.is_control())
    {
        return invalid(format!("name {name:?} must not contain {c:?}"));
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
        // The server accepts non-ASCII names.
        assert!(validate_name("ÄÖÜ").is_ok());
        for bad in [
            "", "a.b", "a*", "a>", "a/b", "a\\b", "a b", "a\tb", "a\u{a0}b", "\u{7f}",
        ] {
            let err = validate_name(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidName, "{bad:?}");
        }
        assert!(validate_name(&"x".repeat(256)).is_err());
        assert!(validate_name(&"x".repeat(255)).is_ok());
    }

    /// One whitespace rule for subjects and queue groups, the server's: space, tab, CR, LF
    /// and form feed (and NUL) are refused; other characters, control or not, are the
    /// server's business.
    #[test]
    fn whitespace_rule_is_the_servers() {
        for bad in ["a\x0cb", "a\0b", "a b", "a\tb", "a\rb", "a\nb"] {
            let err = validate_publish_subject(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidSubject, "{bad:?}");
            assert!(validate_subscribe_subject(bad).is_err(), "{bad:?}");
            assert_eq!(
                validate_queue_group(bad).unwrap_err().kind(),
                ErrorKind::InvalidQueueGroup,
                "{bad:?}"
            );
        }
        for ok in ["a\u{a0}b", "a\x01b", "ä.ö", "foo*.bar"] {
            assert!(validate_publish_subject(ok).is_ok(), "{ok:?}");
            assert!(validate_subscribe_subject(ok).is_ok(), "{ok:?}");
        }
    }

    #[test]
    fn messages_name_the_input_and_the_reason() {
        let text = |r: Result<(), Error>| r.unwrap_err().to_string();
        assert_eq!(
            text(validate_publish_subject("")),
            "invalid subject: the subject is empty"
        );
        assert_eq!(
            text(validate_publish_subject("a b")),
            "invalid subject: subject \"a b\" contains ' ', which subjects may not contain"
        );
        assert_eq!(
            text(validate_publish_subject("a..b")),
            "invalid subject: subject \"a..b\" has an empty token"
        );
        assert_eq!(
            text(validate_publish_subject("a.*")),
            "invalid subject: subject \"a.*\" contains the wildcard '*': only subscriptions and filters may use wildcards"
        );
        assert_eq!(
            text(validate_subscribe_subject("a.>.b")),
            "invalid subject: subject \"a.>.b\" has '>' before its last token"
        );
        assert_eq!(
            text(validate_queue_group("")),
            "invalid queue group: the queue group is empty"
        );
        assert_eq!(
            text(validate_name("a.b")),
            "invalid name: name \"a.b\" must not contain '.'"
        );
        assert_eq!(
            text(validate_name(&"x".repeat(300))),
            format!(
                "invalid name: name {:?} is 300 bytes long, more than the 255 allowed",
                "x".repeat(300)
            )
        );
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
