//! Atomic batch publish (server 2.12+, streams with `allow_atomic`) and
//! counters (server 2.12+, streams with `allow_msg_counter`).

use bytes::Bytes;
use nats_core::HeaderMap;

use crate::error::{Error, ErrorKind};
use crate::publish::publish_error;
use crate::types::api::decode_pub_ack;
use crate::types::PubAck;
use crate::JetStream;

const BATCH_ID: &str = "Nats-Batch-Id";
const BATCH_SEQ: &str = "Nats-Batch-Sequence";
const BATCH_COMMIT: &str = "Nats-Batch-Commit";
const INCR: &str = "Nats-Incr";

/// The most messages one atomic batch may hold (a server limit).
pub const MAX_BATCH_SIZE: u64 = 1000;

/// An atomic batch: every message added is stored, or none is. Made by
/// [`JetStream::batch`]; finish with [`Batch::commit`]. A batch that is dropped
/// without a commit is abandoned by the server (after 10 s) and stores nothing.
///
/// ```no_run
/// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
/// let mut batch = js.batch();
/// batch.add("orders.1", "first").await?;
/// batch.add("orders.2", "second").await?;
/// let ack = batch.commit("orders.3", "third").await?;
/// assert_eq!(ack.batch_size, 3);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Batch {
    js: JetStream,
    id: String,
    sequence: u64,
}

impl JetStream {
    /// Starts an atomic batch publish (server 2.12+, stream with `allow_atomic`).
    pub fn batch(&self) -> Batch {
        Batch {
            js: self.clone(),
            id: new_batch_id(self),
            sequence: 0,
        }
    }

    /// Adds `delta` to the counter on `subject` (server 2.12+, stream with
    /// `allow_msg_counter`) and returns the counter's new value.
    ///
    /// Not idempotent: when the call fails with a timeout or its future is dropped, the
    /// increment may have been applied; retrying may count it twice.
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
    /// let views = js.increment("views.home", 1).await?;
    /// println!("{views} views");
    /// # Ok(()) }
    /// ```
    pub async fn increment(&self, subject: impl Into<String>, delta: i64) -> Result<i128, Error> {
        require_api_level(self, 2, "counters")?;
        let value = if delta >= 0 {
            format!("+{delta}")
        } else {
            delta.to_string()
        };
        let ack = self
            .publish(subject, Bytes::new())
            .header(INCR, value)
            .await?;
        ack.value
            .as_deref()
            .and_then(|v| v.parse::<i128>().ok())
            .ok_or_else(|| {
                Error::msg(
                    ErrorKind::InvalidResponse,
                    "the ack of an increment carries no counter value",
                )
            })
    }
}

/// A fresh batch id: a NUID, taken from a new inbox name.
fn new_batch_id(js: &JetStream) -> String {
    js.client()
        .new_inbox()
        .rsplit('.')
        .next()
        .unwrap_or("batch")
        .to_string()
}

/// Refuses features the connected server is too old for.
fn require_api_level(js: &JetStream, level: u32, what: &str) -> Result<(), Error> {
    let info = js.client().server_info();
    let version_ok = info
        .version
        .split('.')
        .take(2)
        .map(|p| p.parse::<u32>().unwrap_or(0))
        .collect::<Vec<_>>();
    let new_enough = info.api_level >= level
        || matches!(version_ok.as_slice(), [major, minor] if (*major, *minor) >= (2, 12));
    if new_enough {
        Ok(())
    } else {
        Err(Error::msg(
            ErrorKind::NotSupported,
            format!(
                "{what} need nats-server 2.12 or newer (connected to {})",
                info.version
            ),
        ))
    }
}

impl Batch {
    /// The batch id (`Nats-Batch-Id`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// How many messages were added so far.
    pub fn len(&self) -> u64 {
        self.sequence
    }

    /// Whether nothing was added yet.
    pub fn is_empty(&self) -> bool {
        self.sequence == 0
    }

    /// The headers of message number `sequence` (from 1); the first one also checks the
    /// server. Changes nothing: the batch moves on only once a message was sent.
    fn headers(
        &self,
        sequence: u64,
        extra: Option<HeaderMap>,
        commit: bool,
    ) -> Result<HeaderMap, Error> {
        if sequence == 1 {
            require_api_level(&self.js, 2, "atomic batches")?;
        }
        if sequence > MAX_BATCH_SIZE {
            return Err(Error::msg(
                ErrorKind::InvalidArgument,
                format!("an atomic batch holds at most {MAX_BATCH_SIZE} messages"),
            ));
        }
        let mut headers = extra.unwrap_or_default();
        headers.insert(BATCH_ID, self.id.clone());
        headers.insert(BATCH_SEQ, sequence.to_string());
        if commit {
            headers.insert(BATCH_COMMIT, "1");
        }
        Ok(headers)
    }

    /// Adds a message to the batch.
    ///
    /// A failed add leaves the batch as it was: the message is not part of it, and the next
    /// add takes its place, so no gap is left. When the first add fails, the batch starts
    /// over under a new [`id`](Self::id) (the server may hold a half-started batch under the
    /// old one, which it abandons).
    ///
    /// Cancel safety: dropping the future before it completes may leave the message sent
    /// but not counted by the batch, so later messages would repeat its sequence number and
    /// the commit fail. Drop the batch instead (the server abandons it, storing nothing) and
    /// start a new one.
    pub async fn add(
        &mut self,
        subject: impl AsRef<str>,
        payload: impl Into<Bytes>,
    ) -> Result<(), Error> {
        self.add_with_headers(subject, HeaderMap::new(), payload)
            .await
    }

    /// Adds a message with headers (e.g. `Nats-Expected-Last-Sequence`, only
    /// allowed on the first message) to the batch.
    pub async fn add_with_headers(
        &mut self,
        subject: impl AsRef<str>,
        headers: HeaderMap,
        payload: impl Into<Bytes>,
    ) -> Result<(), Error> {
        let sequence = self.sequence + 1;
        let headers = self.headers(sequence, Some(headers), false)?;
        if sequence == 1 {
            // The first message is a request: the server answers with an empty
            // message once it accepted the batch, or with an error.
            let started = async {
                let reply = self
                    .request(subject.as_ref(), headers, payload.into())
                    .await?;
                if !reply.payload.is_empty() {
                    decode_pub_ack(&reply.payload)?;
                }
                Ok::<(), Error>(())
            }
            .await;
            if let Err(e) = started {
                self.id = new_batch_id(&self.js);
                return Err(e);
            }
        } else {
            // An error here means nothing was sent (invalid subject or headers, too
            // large, connection closed or its buffer full).
            self.js
                .client()
                .publish_with_headers(subject.as_ref(), headers, payload.into())
                .await?;
        }
        self.sequence = sequence;
        Ok(())
    }

    /// Adds the last message and commits: every message is stored, or none.
    ///
    /// When it fails with a timeout, or its future is dropped, the batch may or may not
    /// have been committed: look at the stream to tell.
    pub async fn commit(
        self,
        subject: impl AsRef<str>,
        payload: impl Into<Bytes>,
    ) -> Result<PubAck, Error> {
        let headers = self.headers(self.sequence + 1, None, true)?;
        let reply = self
            .request(subject.as_ref(), headers, payload.into())
            .await?;
        decode_pub_ack(&reply.payload)
    }

    /// Sends one batch message as a request and waits for the server's answer.
    async fn request(
        &self,
        subject: &str,
        headers: HeaderMap,
        payload: Bytes,
    ) -> Result<nats_core::Message, Error> {
        self.js
            .client()
            .request_with_timeout(subject, Some(headers), payload, self.js.timeout())
            .await
            .map_err(|e| publish_error(e, subject))
    }
}
