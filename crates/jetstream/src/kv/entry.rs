//! [`Entry`] and [`Operation`]: what a stored KV message means.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use jiff::Timestamp;
use nats_core::HeaderMap;

use super::KeyValue;
use crate::direct_get::StoredMessage;
use crate::error::{Error, ErrorKind, Result};
use crate::message::Msg;

/// Header naming the operation of a KV write (`DEL` or `PURGE`; absent for a put).
pub(crate) const KV_OPERATION: &str = "KV-Operation";
/// Header the server puts on the markers it places itself (2.11+).
pub(crate) const MARKER_REASON: &str = "Nats-Marker-Reason";
/// Header asking the server to remove the older messages of the subject.
pub(crate) const ROLLUP: &str = "Nats-Rollup";
/// `KV-Operation` of a delete.
pub(crate) const OPERATION_DELETE: &str = "DEL";
/// `KV-Operation` of a purge.
pub(crate) const OPERATION_PURGE: &str = "PURGE";

/// What an entry records: a value, or the deletion or purge of the key.
///
/// ```no_run
/// # async fn run(kv: jetstream::KeyValue) -> Result<(), jetstream::Error> {
/// use jetstream::Operation;
///
/// for entry in kv.history("sue.color").await? {
///     match entry.operation() {
///         Operation::Put => println!("#{} = {:?}", entry.revision(), entry.value()),
///         Operation::Delete | Operation::Purge => println!("#{} removed", entry.revision()),
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Operation {
    /// A value was stored.
    #[default]
    Put,
    /// The key was deleted; its earlier revisions are kept.
    Delete,
    /// The key was purged: its earlier revisions are gone. Markers the server places when a
    /// value expires (TTL, limit markers) also read as purges.
    Purge,
}

impl Operation {
    /// The operation recorded by a message's headers: `KV-Operation`, else the server's
    /// `Nats-Marker-Reason`, else a put.
    pub(crate) fn from_headers(headers: Option<&HeaderMap>) -> Operation {
        let Some(headers) = headers else {
            return Operation::Put;
        };
        if let Some(op) = header(headers, KV_OPERATION) {
            return match op.trim() {
                OPERATION_DELETE => Operation::Delete,
                OPERATION_PURGE => Operation::Purge,
                _ => Operation::Put,
            };
        }
        match header(headers, MARKER_REASON).map(str::trim) {
            Some("MaxAge") | Some("Purge") => Operation::Purge,
            Some("Remove") => Operation::Delete,
            _ => Operation::Put,
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Put => "PUT",
            Operation::Delete => "DEL",
            Operation::Purge => "PURGE",
        })
    }
}

/// A header value, its name compared without regard to case.
fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).or_else(|| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// One revision of a key: its value (or its deletion), revision and time.
///
/// ```no_run
/// # async fn run(kv: jetstream::KeyValue) -> Result<(), jetstream::Error> {
/// let entry = kv.get("sue.color").await?;
/// println!(
///     "{}/{} @ {} ({}): {:?}",
///     entry.bucket(),
///     entry.key(),
///     entry.revision(),
///     entry.created(),
///     entry.value()
/// );
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    bucket: Arc<str>,
    key: String,
    value: Bytes,
    revision: u64,
    created: Timestamp,
    delta: u64,
    operation: Operation,
}

impl Entry {
    /// The bucket the entry belongs to.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The value; empty for deletes and purges, and for watchers with
    /// [`meta_only`](super::Watch::meta_only).
    pub fn value(&self) -> &Bytes {
        &self.value
    }

    /// Takes the value out of the entry.
    pub fn into_value(self) -> Bytes {
        self.value
    }

    /// The revision: the stream sequence of this write (unique across the bucket).
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// When the entry was written.
    pub fn created(&self) -> Timestamp {
        self.created
    }

    /// For entries from a watcher: how many newer entries matching the watch were already
    /// stored when this one was delivered (0: it was the latest). Always 0 from `get`.
    pub fn delta(&self) -> u64 {
        self.delta
    }

    /// What the entry records.
    pub fn operation(&self) -> Operation {
        self.operation
    }

    /// A message read with a get.
    pub(crate) fn from_stored(kv: &KeyValue, msg: StoredMessage) -> Entry {
        // The key is the tail of the subject: its string is reused.
        let mut key = msg.subject;
        let prefix = key.len() - kv.key_of(&key).len();
        key.drain(..prefix);
        Entry {
            bucket: kv.bucket_shared(),
            key,
            operation: Operation::from_headers(msg.headers.as_ref()),
            value: msg.payload,
            revision: msg.sequence,
            created: msg.time,
            delta: 0,
        }
    }

    /// A message delivered to a watcher.
    pub(crate) fn from_msg(kv: &KeyValue, msg: &Msg) -> Result<Entry> {
        // The numbers the watcher read already: no copy of the stream and
        // consumer names a full `metadata()` would make.
        let numbers = msg.numbers().ok_or_else(|| {
            Error::msg(
                ErrorKind::InvalidArgument,
                "not a JetStream message (no $JS.ACK reply)",
            )
        })?;
        let created = numbers.time()?;
        Ok(Entry {
            bucket: kv.bucket_shared(),
            key: kv.key_of(msg.subject()).to_string(),
            operation: Operation::from_headers(msg.headers()),
            value: msg.data().clone(),
            revision: numbers.stream_seq,
            created,
            delta: numbers.pending,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, *v);
        }
        h
    }

    #[test]
    fn operation_from_headers() {
        let op = |pairs: &[(&str, &str)]| Operation::from_headers(Some(&headers(pairs)));
        assert_eq!(Operation::from_headers(None), Operation::Put);
        assert_eq!(op(&[]), Operation::Put);
        assert_eq!(op(&[("KV-Operation", "DEL")]), Operation::Delete);
        assert_eq!(op(&[("KV-Operation", "PURGE")]), Operation::Purge);
        assert_eq!(op(&[("kv-operation", "DEL")]), Operation::Delete);
        assert_eq!(op(&[("Nats-Marker-Reason", "MaxAge")]), Operation::Purge);
        assert_eq!(op(&[("Nats-Marker-Reason", "Purge")]), Operation::Purge);
        assert_eq!(op(&[("Nats-Marker-Reason", "Remove")]), Operation::Delete);
        assert_eq!(op(&[("Nats-Msg-Id", "x")]), Operation::Put);
        assert_eq!(Operation::Delete.to_string(), "DEL");
    }
}
