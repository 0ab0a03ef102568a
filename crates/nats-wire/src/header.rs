//! Message headers: the `NATS/1.0` block of `HPUB` / `HMSG`.

use std::fmt;
use std::ops::Range;

use bytes::{BufMut, Bytes, BytesMut};
use bytestring::ByteString;

use crate::error::{Error, ErrorKind};
use crate::HEADER_LINE;

mod lines;

use lines::{Lines, Pairs};

/// The status code on a header block's version line (`NATS/1.0 503`).
///
/// An open set: codes the client does not know are kept as they are.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatusCode(u16);

impl StatusCode {
    /// 100: idle heartbeat or flow control request (JetStream).
    pub const IDLE_HEARTBEAT: StatusCode = StatusCode(100);
    /// 200: success.
    pub const OK: StatusCode = StatusCode(200);
    /// 204: end of a batched direct get.
    pub const EOB: StatusCode = StatusCode(204);
    /// 400: bad request.
    pub const BAD_REQUEST: StatusCode = StatusCode(400);
    /// 404: no messages / not found.
    pub const NOT_FOUND: StatusCode = StatusCode(404);
    /// 408: request timeout (pull expired).
    pub const TIMEOUT: StatusCode = StatusCode(408);
    /// 409: conflict (consumer deleted, leadership change, batch completed, ...).
    pub const CONFLICT: StatusCode = StatusCode(409);
    /// 412: required API level not met.
    pub const PRECONDITION_FAILED: StatusCode = StatusCode(412);
    /// 413: too many results.
    pub const TOO_MANY_RESULTS: StatusCode = StatusCode(413);
    /// 423: pin id mismatch (priority groups).
    pub const LOCKED: StatusCode = StatusCode(423);
    /// 429: too many requests.
    pub const TOO_MANY_REQUESTS: StatusCode = StatusCode(429);
    /// 503: no responders.
    pub const NO_RESPONDERS: StatusCode = StatusCode(503);

    /// A status code from its number (100 to 999).
    pub fn from_u16(code: u16) -> Option<StatusCode> {
        (100..=999).contains(&code).then_some(StatusCode(code))
    }

    /// The number.
    pub fn as_u16(self) -> u16 {
        self.0
    }

    fn parse(digits: &[u8]) -> Option<StatusCode> {
        if digits.len() != 3 || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let n = digits
            .iter()
            .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
        StatusCode::from_u16(n)
    }
}

impl fmt::Debug for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StatusCode({})", self.0)
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An ordered, multi-valued, case-preserving map of message headers, with the
/// optional status code and description of the `NATS/1.0` line.
///
/// Lookups are case-sensitive, as the protocol says. Names and values received
/// from the server are slices of the read buffer (no copies). A received block's
/// lines are split into pairs when read, and kept split only once the map is
/// changed: reading a received map allocates nothing.
///
/// ```
/// use nats_wire::HeaderMap;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("Nats-Msg-Id", "order-1");
/// headers.append("X-Tag", "a");
/// headers.append("X-Tag", "b");
/// assert_eq!(headers.get("Nats-Msg-Id"), Some("order-1"));
/// assert_eq!(headers.get_all("X-Tag").collect::<Vec<_>>(), ["a", "b"]);
/// ```
#[derive(Clone, Default)]
pub struct HeaderMap {
    /// The received block the [`Field::Line`]s point into (one reference count for all
    /// of them); empty for a map built by hand.
    block: ByteString,
    /// The pairs, when the map was built by hand or changed; a received map that
    /// was never changed keeps its pairs as the lines of `block` (see `lines_at`).
    entries: Vec<Field>,
    /// Where the received `name: value` lines start in `block` (after the version
    /// line) while they are not split into `entries`; 0 once they are, for a map
    /// built by hand, and for a received block with no pair lines (which keeps an
    /// empty `block`). The version line comes first: no pair starts at 0.
    lines_at: u32,
    status: Option<StatusCode>,
    description: Option<Box<str>>,
}

/// One `name: value` pair: a received line (offsets into the map's block), or the
/// two joined in one string when set by hand.
#[derive(Clone)]
enum Field {
    Line {
        /// Where the name starts in the block.
        start: u32,
        /// Where the name ends.
        name_end: u32,
        /// Where the value starts.
        value_start: u32,
        /// Where the value ends.
        end: u32,
    },
    Owned {
        /// The name, then the value.
        text: Box<str>,
        /// Where the name ends (and the value starts) in `text`.
        name_end: usize,
    },
}

impl Field {
    fn new(name: impl Into<String>, value: impl Into<String>) -> Field {
        let mut text: String = name.into();
        let name_end = text.len();
        text.push_str(&value.into());
        Field::Owned {
            text: text.into_boxed_str(),
            name_end,
        }
    }

    /// The text the pair lives in (the map's block, or its own), and where
    /// its name and its value are in it.
    #[inline]
    fn parts<'a>(&'a self, block: &'a str) -> (&'a str, Range<usize>, Range<usize>) {
        match self {
            Field::Line {
                start,
                name_end,
                value_start,
                end,
            } => (
                block,
                *start as usize..*name_end as usize,
                *value_start as usize..*end as usize,
            ),
            Field::Owned { text, name_end } => (text, 0..*name_end, *name_end..text.len()),
        }
    }

    #[inline]
    fn name<'a>(&'a self, block: &'a str) -> &'a str {
        let (text, name, _) = self.parts(block);
        text.get(name).unwrap_or_default()
    }

    /// Whether the name is `name` (compared as bytes).
    #[inline]
    fn has_name(&self, block: &str, name: &str) -> bool {
        let (text, range, _) = self.parts(block);
        range.len() == name.len() && text.as_bytes().get(range) == Some(name.as_bytes())
    }

    #[inline]
    fn value<'a>(&'a self, block: &'a str) -> &'a str {
        let (text, _, value) = self.parts(block);
        text.get(value).unwrap_or_default()
    }
}

impl PartialEq for HeaderMap {
    /// Equal when the status lines and the `(name, value)` pairs, in order, are.
    fn eq(&self, other: &HeaderMap) -> bool {
        self.status == other.status
            && self.description == other.description
            && self.iter().eq(other.iter())
    }
}

impl Eq for HeaderMap {}

impl HeaderMap {
    /// An empty header map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `name` to `value`, replacing every earlier value of that name.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.split_lines();
        let field = Field::new(name, value);
        let name = field.name("");
        let block = &self.block;
        match self.entries.iter().position(|f| f.has_name(block, name)) {
            Some(pos) => {
                // The first keeps its place; the later ones go.
                let mut at = 0;
                self.entries.retain(|f| {
                    at += 1;
                    at - 1 <= pos || !f.has_name(block, name)
                });
                if let Some(slot) = self.entries.get_mut(pos) {
                    *slot = field;
                }
            }
            None => self.entries.push(field),
        }
    }

    /// Adds a value for `name`, keeping the values it already has.
    pub fn append(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.split_lines();
        self.entries.push(Field::new(name, value));
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.iter().filter(move |(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Removes every value of `name`, returning whether there was one.
    pub fn remove(&mut self, name: &str) -> bool {
        if !self.contains_key(name) {
            return false;
        }
        self.split_lines();
        let before = self.entries.len();
        let block = &self.block;
        self.entries.retain(|f| !f.has_name(block, name));
        before != self.entries.len()
    }

    /// Keeps only the pairs `keep` returns `true` for (given name and value),
    /// in one pass.
    ///
    /// ```
    /// use nats_wire::HeaderMap;
    ///
    /// let mut headers: HeaderMap = [("Nats-Stream", "S"), ("X-Tag", "a"), ("Nats-Sequence", "7")]
    ///     .into_iter()
    ///     .collect();
    /// headers.retain(|name, _| !name.starts_with("Nats-"));
    /// assert_eq!(headers.iter().collect::<Vec<_>>(), [("X-Tag", "a")]);
    /// ```
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &str) -> bool) {
        self.split_lines();
        let block = &self.block;
        self.entries.retain(|f| keep(f.name(block), f.value(block)));
    }

    /// Whether `name` has a value.
    pub fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Every `(name, value)` pair in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        Pairs {
            block: &self.block,
            entries: self.entries.iter(),
            lines: self.lines(),
        }
    }

    /// The number of `(name, value)` pairs.
    pub fn len(&self) -> usize {
        self.entries.len() + self.lines().filter_map(|l| l.pair(&self.block)).count()
    }

    /// Whether there are no pairs (the status line is not counted).
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// The received lines not split into `entries` yet.
    fn lines(&self) -> Lines<'_> {
        let at = (self.lines_at != 0).then_some(self.lines_at as usize);
        Lines::new(self.block.as_bytes(), at)
    }

    /// Splits the received lines into `entries`, before a change.
    fn split_lines(&mut self) {
        if self.lines_at == 0 {
            return;
        }
        let fields: Vec<Field> = self.lines().filter_map(|l| l.field(&self.block)).collect();
        self.entries = fields;
        self.lines_at = 0;
    }

    /// The status code of the version line, if any.
    pub fn status(&self) -> Option<StatusCode> {
        self.status
    }

    /// The description that follows the status code, if any.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// Sets the status code and description of the version line.
    pub fn set_status(&mut self, status: Option<StatusCode>, description: Option<&str>) {
        self.status = status;
        self.description = description.map(Box::from);
    }

    /// Checks that every name and value can be sent: names are printable ASCII
    /// without `:`, values have no CR or LF.
    pub fn validate(&self) -> Result<(), Error> {
        for (k, v) in self.iter() {
            if k.is_empty() {
                return Err(Error::new(ErrorKind::InvalidHeader, "header name is empty"));
            }
            if let Some(c) = k.bytes().find(|b| !(33..=126).contains(b) || *b == b':') {
                return Err(Error::new(
                    ErrorKind::InvalidHeader,
                    format!("header name {k:?} contains the byte 0x{c:02x}"),
                ));
            }
            if v.bytes().any(|b| b == b'\r' || b == b'\n') {
                return Err(Error::new(
                    ErrorKind::InvalidHeader,
                    format!("value of header {k:?} contains CR or LF"),
                ));
            }
        }
        Ok(())
    }

    /// The number of bytes [`HeaderMap::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        let mut n = HEADER_LINE.len() + 2 + 2;
        if self.status.is_some() {
            n += 4;
            if let Some(d) = &self.description {
                n += 1 + d.len();
            }
        }
        for (k, v) in self.iter() {
            n += k.len() + 2 + v.len() + 2;
        }
        n
    }

    /// Writes the header block, from `NATS/1.0` to the closing blank line.
    pub fn encode(&self, buf: &mut BytesMut) {
        buf.reserve(self.encoded_len());
        buf.put_slice(HEADER_LINE.as_bytes());
        if let Some(status) = self.status {
            buf.put_u8(b' ');
            let mut b = itoa::Buffer::new();
            buf.put_slice(b.format(status.0).as_bytes());
            if let Some(d) = &self.description {
                buf.put_u8(b' ');
                buf.put_slice(d.as_bytes());
            }
        }
        buf.put_slice(b"\r\n");
        for (k, v) in self.iter() {
            buf.put_slice(k.as_bytes());
            buf.put_slice(b": ");
            buf.put_slice(v.as_bytes());
            buf.put_slice(b"\r\n");
        }
        buf.put_slice(b"\r\n");
    }

    /// Parses a header block (from `NATS/1.0` up to and including the blank line),
    /// refusing a block that is not UTF-8, a missing or wrong version line, an invalid
    /// status code, a line without a colon or with an empty name, and a missing blank
    /// line. For a block as received from the server, where refusing is not an
    /// option, see [`HeaderMap::parse_lenient`].
    ///
    /// The pairs stay in the block: the map keeps the block (one reference count) and
    /// splits its lines when they are read.
    pub fn parse(block: Bytes) -> Result<HeaderMap, Error> {
        let text = ByteString::try_from(block)
            .map_err(|_| Error::parse("header block is not valid UTF-8"))?;
        let map = HeaderMap::head(text, false)?;
        if map.lines_at == 0 {
            // The blank line follows the version line.
            return Ok(map);
        }
        let mut lines = map.lines();
        for line in lines.by_ref() {
            let (name, _) = line
                .parts(&map.block)
                .ok_or_else(|| Error::parse("header line without ':'"))?;
            if name.is_empty() {
                return Err(Error::parse("header line with an empty name"));
            }
        }
        if !lines.ended {
            return Err(Error::parse("header block does not end with a blank line"));
        }
        Ok(map)
    }

    /// Reads a header block as well as it can be read, never failing: what a
    /// message's headers are when it is received. The server passes header blocks
    /// on as their publishers wrote them, so a malformed one must not cost the
    /// message, nor the connection.
    ///
    /// - bytes that are not UTF-8 are replaced by `U+FFFD` (the block is copied);
    /// - a version line that is not `NATS/1.0`, or an invalid status code: no
    ///   status, the lines after it are still read;
    /// - a line without a colon, or with an empty name, is not a pair and is
    ///   skipped; so is a last line without its CRLF;
    /// - no line at all: an empty map.
    ///
    /// Only the version line is read here; the pair lines are split when read.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use nats_wire::HeaderMap;
    ///
    /// let block = Bytes::from_static(b"NATS/1.0\r\nno colon here\r\nK: v\r\n\r\n");
    /// assert!(HeaderMap::parse(block.clone()).is_err());
    /// let headers = HeaderMap::parse_lenient(block);
    /// assert_eq!(headers.iter().collect::<Vec<_>>(), [("K", "v")]);
    /// ```
    pub fn parse_lenient(block: Bytes) -> HeaderMap {
        if u32::try_from(block.len()).is_err() {
            return HeaderMap::new();
        }
        let text = if std::str::from_utf8(&block).is_ok() {
            // Checked just above: never the default.
            ByteString::try_from(block).unwrap_or_default()
        } else {
            ByteString::from(String::from_utf8_lossy(&block).into_owned())
        };
        HeaderMap::head(text, true).unwrap_or_default()
    }

    /// The map of `text` with its version line read and its pair lines not split.
    /// `lenient`: a wrong version line or status code gives no status instead of an
    /// error.
    fn head(text: ByteString, lenient: bool) -> Result<HeaderMap, Error> {
        if u32::try_from(text.len()).is_err() {
            return Err(Error::parse("header block larger than 4 GiB"));
        }
        let mut lines = Lines::new(text.as_bytes(), Some(0));
        let first = lines
            .next()
            .ok_or_else(|| Error::parse("header block has no version line"))?;
        let mut map = HeaderMap::new();
        let version_line = text.get(first.start..first.end).unwrap_or_default();
        match HeaderMap::version_line(version_line) {
            Ok((status, description)) => {
                map.status = status;
                map.description = description.map(Box::from);
            }
            Err(e) if !lenient => return Err(e),
            Err(_) => {}
        }
        // A block of a version line alone keeps nothing of the read buffer.
        let pairs_at = first.next;
        if text.as_bytes().get(pairs_at..pairs_at + 2) != Some(b"\r\n") {
            // The block is at most u32::MAX bytes long (checked above); the version
            // line ends with CRLF, so the pairs never start at 0.
            map.lines_at = pairs_at as u32;
            map.block = text;
        }
        Ok(map)
    }

    /// The status code and description of a version line.
    fn version_line(line: &str) -> Result<(Option<StatusCode>, Option<&str>), Error> {
        let rest = line
            .strip_prefix(HEADER_LINE)
            .ok_or_else(|| Error::parse("header block does not start with NATS/1.0"))?;
        let rest = rest.trim_start_matches([' ', '\t']);
        if rest.is_empty() {
            return Ok((None, None));
        }
        let code_end = rest.find([' ', '\t']).unwrap_or(rest.len());
        let status = StatusCode::parse(&rest.as_bytes()[..code_end])
            .ok_or_else(|| Error::parse("invalid status code on header line"))?;
        let description = rest[code_end..].trim();
        Ok((
            Some(status),
            (!description.is_empty()).then_some(description),
        ))
    }
}

impl fmt::Debug for HeaderMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        if let Some(s) = self.status {
            m.entry(&"(status)", &s.0);
        }
        if let Some(d) = &self.description {
            m.entry(&"(description)", &&**d);
        }
        for (k, v) in self.iter() {
            m.entry(&k, &v);
        }
        m.finish()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for HeaderMap {
    fn from_iter<T: IntoIterator<Item = (K, V)>>(iter: T) -> Self {
        let mut map = HeaderMap::new();
        for (k, v) in iter {
            map.append(k, v);
        }
        map
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(map: &HeaderMap) -> HeaderMap {
        let mut buf = BytesMut::new();
        map.encode(&mut buf);
        assert_eq!(buf.len(), map.encoded_len());
        HeaderMap::parse(buf.freeze()).unwrap()
    }

    #[test]
    fn insert_append_get() {
        let mut h = HeaderMap::new();
        h.append("A", "1");
        h.append("a", "2");
        h.append("A", "3");
        assert_eq!(h.get_all("A").collect::<Vec<_>>(), ["1", "3"]);
        assert_eq!(h.get("a"), Some("2"));
        h.insert("A", "9");
        assert_eq!(h.get_all("A").collect::<Vec<_>>(), ["9"]);
        assert_eq!(h.len(), 2);
        assert!(h.remove("a"));
        assert!(!h.contains_key("a"));
    }

    #[test]
    fn a_received_map_reads_its_lines_and_splits_them_on_the_first_change() {
        let block = Bytes::from_static(b"NATS/1.0\r\n A :\t1 \r\nB: x\ny\r\nA:3\r\n\r\n");
        let by_hand: HeaderMap = [("A", "1"), ("B", "x\ny"), ("A", "3")]
            .into_iter()
            .collect();
        for received in [
            HeaderMap::parse(block.clone()).unwrap(),
            HeaderMap::parse_lenient(block.clone()),
        ] {
            // Read before any change: the lines, trimmed, in order.
            assert_eq!(received.len(), 3);
            assert!(!received.is_empty());
            assert_eq!(received.get("B"), Some("x\ny"));
            assert_eq!(received.get_all("A").collect::<Vec<_>>(), ["1", "3"]);
            assert!(received.get("a").is_none());
            assert_eq!(received, by_hand);
            assert_eq!(format!("{received:?}"), format!("{by_hand:?}"));
            assert_eq!(round_trip(&received), by_hand);
            // Each change gives what it gives on the same map built by hand.
            type Change = fn(&mut HeaderMap);
            let changes: [Change; 5] = [
                |h| h.insert("A", "9"),
                |h| h.append("C", "4"),
                |h| assert!(h.remove("A")),
                |h| h.retain(|_, v| v != "3"),
                |h| h.set_status(StatusCode::from_u16(404), Some("gone")),
            ];
            for change in changes {
                let (mut a, mut b) = (received.clone(), by_hand.clone());
                change(&mut a);
                change(&mut b);
                assert_eq!(a, b);
                assert_eq!(a.len(), b.len());
                assert_eq!(round_trip(&a), b);
            }
        }
        // No pairs: nothing kept of the block.
        let empty = HeaderMap::parse_lenient(Bytes::from_static(b"NATS/1.0 503\r\n\r\n"));
        assert!(empty.is_empty() && empty.iter().next().is_none() && empty.block.is_empty());
        assert_eq!(empty.status(), StatusCode::from_u16(503));
    }

    #[test]
    fn a_received_block_keeps_the_pairs_it_can_read() {
        let mut h = HeaderMap::parse_lenient(Bytes::from_static(
            b"NATS/1.0 409 Consumer Deleted\r\nno colon\r\nK: 1\r\n\t: no name\r\nJ: 2\r\n",
        ));
        assert_eq!(h.status(), Some(StatusCode::CONFLICT));
        assert_eq!(h.description(), Some("Consumer Deleted"));
        assert_eq!(h.iter().collect::<Vec<_>>(), [("K", "1"), ("J", "2")]);
        assert_eq!(h.len(), 2);
        h.append("L", "3");
        assert_eq!(
            h.iter().collect::<Vec<_>>(),
            [("K", "1"), ("J", "2"), ("L", "3")]
        );
        // A version line that cannot be read: no status, the pairs after it kept.
        let h = HeaderMap::parse_lenient(Bytes::from_static(b"HTTP/1.1 200\r\nK: v\r\n\r\n"));
        assert_eq!((h.status(), h.len()), (None, 1));
        let h = HeaderMap::parse_lenient(Bytes::from_static(b"NATS/1.0 2 x\r\nK: v\r\n\r\n"));
        assert_eq!(
            (h.status(), h.description(), h.get("K")),
            (None, None, Some("v"))
        );
        // Bytes that are not UTF-8 replaced, the rest kept.
        let h = HeaderMap::parse_lenient(Bytes::from_static(b"NATS/1.0 404\r\nK: a\xffb\r\n\r\n"));
        assert_eq!(h.status(), Some(StatusCode::NOT_FOUND));
        assert_eq!(h.get("K"), Some("a\u{fffd}b"));
        // No line at all: an empty map.
        for garbage in [&b""[..], b"\xff", b"NATS/1.0"] {
            let h = HeaderMap::parse_lenient(Bytes::from_static(garbage));
            assert!(h.is_empty() && h.status().is_none(), "{garbage:?}");
        }
    }

    #[test]
    fn parsed_fields_mix_with_fields_set_by_hand() {
        let mut h = HeaderMap::parse(Bytes::from_static(
            b"NATS/1.0\r\nA: 1\r\nB: 2\r\nA: 3\r\nC: 4\r\n\r\n",
        ))
        .unwrap();
        let parsed = h.clone();
        let by_hand: HeaderMap = [("A", "1"), ("B", "2"), ("A", "3"), ("C", "4")]
            .into_iter()
            .collect();
        assert_eq!(parsed, by_hand);
        h.insert("A", "9");
        h.append("D", "5");
        assert_eq!(h.get_all("A").collect::<Vec<_>>(), ["9"]);
        assert!(h.remove("B"));
        h.retain(|name, _| name != "C");
        assert_eq!(h.iter().collect::<Vec<_>>(), [("A", "9"), ("D", "5")]);
        assert_ne!(h, parsed);
        // The clone taken before is untouched.
        assert_eq!(parsed.get_all("A").collect::<Vec<_>>(), ["1", "3"]);
        assert_eq!(round_trip(&h), h);
    }

    #[test]
    fn status_line() {
        let h = HeaderMap::parse(Bytes::from_static(b"NATS/1.0 404 No Messages\r\n\r\n")).unwrap();
        assert_eq!(h.status(), Some(StatusCode::NOT_FOUND));
        assert_eq!(h.description(), Some("No Messages"));
        assert!(h.is_empty());

        let h = HeaderMap::parse(Bytes::from_static(
            b"NATS/1.0 503\r\nNats-Subject: foo\r\n\r\n",
        ))
        .unwrap();
        assert_eq!(h.status(), Some(StatusCode::NO_RESPONDERS));
        assert_eq!(h.description(), None);
        assert_eq!(h.get("Nats-Subject"), Some("foo"));

        let h = HeaderMap::parse(Bytes::from_static(
            b"NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 5\r\nNats-Last-Stream: 9\r\n\r\n",
        ))
        .unwrap();
        assert_eq!(h.status(), Some(StatusCode::IDLE_HEARTBEAT));
        assert_eq!(h.description(), Some("Idle Heartbeat"));
        assert_eq!(h.get("Nats-Last-Stream"), Some("9"));
    }

    #[test]
    fn case_and_order_preserved() {
        let mut h = HeaderMap::new();
        h.append("X-Camel-Case", "v");
        h.append("lower", "w");
        h.append("X-Camel-Case", "v2");
        h.set_status(Some(StatusCode::CONFLICT), Some("Consumer Deleted"));
        let back = round_trip(&h);
        assert_eq!(back, h);
        assert_eq!(
            back.iter().collect::<Vec<_>>(),
            [
                ("X-Camel-Case", "v"),
                ("lower", "w"),
                ("X-Camel-Case", "v2")
            ]
        );
    }

    #[test]
    fn value_whitespace_and_colons() {
        let h = HeaderMap::parse(Bytes::from_static(b"NATS/1.0\r\nK:  a:b c \r\n\r\n")).unwrap();
        assert_eq!(h.get("K"), Some("a:b c"));
        // Spaces and tabs around names and values go; other characters stay.
        let h = HeaderMap::parse(Bytes::from(
            "NATS/1.0\r\n\tName \t:\t v\u{a0}\t\r\nE:\r\n\r\n",
        ))
        .unwrap();
        assert_eq!(h.get("Name"), Some("v\u{a0}"));
        assert_eq!(h.get("E"), Some(""));
        assert_eq!(h.len(), 2);
    }

    #[test]
    fn malformed_blocks() {
        for bad in [
            &b""[..],
            b"NATS/1.0\r\n",
            b"HTTP/1.1\r\n\r\n",
            b"NATS/1.0 abc\r\n\r\n",
            b"NATS/1.0\r\nnocolon\r\n\r\n",
            b"NATS/1.0\r\n: empty\r\n\r\n",
            b"NATS/1.0\r\nK: \xff\r\n\r\n",
        ] {
            assert!(
                HeaderMap::parse(Bytes::copy_from_slice(bad)).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn validation() {
        let mut h = HeaderMap::new();
        h.insert("ok", "fine");
        assert!(h.validate().is_ok());
        h.insert("bad:name", "x");
        assert!(h.validate().is_err());
        let mut h = HeaderMap::new();
        h.insert("k", "line\r\nbreak");
        assert!(h.validate().is_err());
        let mut h = HeaderMap::new();
        h.insert("with space", "x");
        assert!(h.validate().is_err());
    }

    #[test]
    fn empty_map_encodes_minimal_block() {
        let mut buf = BytesMut::new();
        HeaderMap::new().encode(&mut buf);
        assert_eq!(&buf[..], b"NATS/1.0\r\n\r\n");
    }
}
