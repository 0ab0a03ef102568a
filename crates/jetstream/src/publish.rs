//! Publishing to streams: synchronous ([`Publish`]) and asynchronous
//! ([`PublishAsync`] / [`PubAckFuture`]).
//!
//! Both go through the core client's shared request inbox: the ack comes back on
//! the one wildcard subscription and is matched by token, so there is no
//! subscription, task or string formatting per message. Asynchronous publishes
//! hold a slot of a bounded window (`max_pending_acks`) from the moment they are
//! sent until their ack arrives (whether or not the future is polled).

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use nats_core::{HeaderMap, Response};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{Instant, Sleep};

use crate::error::{Error, ErrorKind};
use crate::types::api::decode_pub_ack;
use crate::types::PubAck;
use crate::JetStream;

/// Header names of the publish options.
pub(crate) mod headers {
    pub const MSG_ID: &str = "Nats-Msg-Id";
    pub const EXPECTED_STREAM: &str = "Nats-Expected-Stream";
    pub const EXPECTED_LAST_SEQ: &str = "Nats-Expected-Last-Sequence";
    pub const EXPECTED_LAST_SUBJECT_SEQ: &str = "Nats-Expected-Last-Subject-Sequence";
    pub const EXPECTED_LAST_SUBJECT_SEQ_SUBJECT: &str =
        "Nats-Expected-Last-Subject-Sequence-Subject";
    pub const EXPECTED_LAST_MSG_ID: &str = "Nats-Expected-Last-Msg-Id";
    pub const TTL: &str = "Nats-TTL";
}

/// Formats a TTL as a Go duration string, keeping sub-second precision.
pub(crate) fn ttl_string(ttl: Duration) -> String {
    let nanos = ttl.as_nanos();
    if nanos.is_multiple_of(1_000_000_000) {
        format!("{}s", ttl.as_secs())
    } else if nanos.is_multiple_of(1_000_000) {
        format!("{}ms", nanos / 1_000_000)
    } else {
        format!("{nanos}ns")
    }
}

/// What every publish carries besides subject and payload.
#[derive(Debug, Clone, Default)]
struct Options {
    headers: Option<HeaderMap>,
    retry_attempts: Option<usize>,
    retry_wait: Option<Duration>,
    timeout: Option<Duration>,
}

impl Options {
    fn headers_mut(&mut self) -> &mut HeaderMap {
        self.headers.get_or_insert_with(HeaderMap::new)
    }
}

macro_rules! publish_options {
    ($ty:ident) => {
        impl $ty {
            /// Sends these headers with the message (replacing earlier ones).
            pub fn headers(mut self, headers: HeaderMap) -> Self {
                self.options.headers = Some(headers);
                self
            }

            /// Adds one header.
            pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
                self.options.headers_mut().append(name, value);
                self
            }

            /// `Nats-Msg-Id`: the stream drops a second message with this id
            /// within its duplicate window (the ack says `duplicate: true`).
            pub fn msg_id(mut self, id: impl Into<String>) -> Self {
                self.options.headers_mut().insert(headers::MSG_ID, id);
                self
            }

            /// Refuse unless the subject is captured by this stream (`StreamMismatch`).
            pub fn expected_stream(mut self, stream: impl Into<String>) -> Self {
                self.options
                    .headers_mut()
                    .insert(headers::EXPECTED_STREAM, stream);
                self
            }

            /// Refuse unless the stream's last sequence is `sequence` (`WrongLastSequence`).
            pub fn expected_last_sequence(mut self, sequence: u64) -> Self {
                self.options
                    .headers_mut()
                    .insert(headers::EXPECTED_LAST_SEQ, sequence.to_string());
                self
            }

            /// Refuse unless the last sequence on this subject is `sequence`
            /// (0: the subject must have no messages) (`WrongLastSequence`).
            pub fn expected_last_subject_sequence(mut self, sequence: u64) -> Self {
                self.options
                    .headers_mut()
                    .insert(headers::EXPECTED_LAST_SUBJECT_SEQ, sequence.to_string());
                self
            }

            /// Apply [`expected_last_subject_sequence`](Self::expected_last_subject_sequence)
            /// to this subject (may be a wildcard) instead of the published one (2.11+).
            pub fn expected_last_subject_sequence_subject(
                mut self,
                subject: impl Into<String>,
            ) -> Self {
                self.options
                    .headers_mut()
                    .insert(headers::EXPECTED_LAST_SUBJECT_SEQ_SUBJECT, subject);
                self
            }

            /// Refuse unless the last stored `Nats-Msg-Id` is `id` (`WrongLastMsgId`).
            pub fn expected_last_msg_id(mut self, id: impl Into<String>) -> Self {
                self.options
                    .headers_mut()
                    .insert(headers::EXPECTED_LAST_MSG_ID, id);
                self
            }

            /// Per-message time to live (`Nats-TTL`, at least 1 s; the stream needs
            /// `allow_msg_ttl`, server 2.11+).
            pub fn ttl(mut self, ttl: Duration) -> Self {
                self.options
                    .headers_mut()
                    .insert(headers::TTL, ttl_string(ttl));
                self
            }

            /// How many times to retry when no stream answers (e.g. while a stream
            /// leader is being elected). Default 2.
            pub fn retry_attempts(mut self, attempts: usize) -> Self {
                self.options.retry_attempts = Some(attempts);
                self
            }

            /// How long to wait between retries. Default 250 ms.
            pub fn retry_wait(mut self, wait: Duration) -> Self {
                self.options.retry_wait = Some(wait);
                self
            }

            /// How long to wait for the ack (default: the context's timeout).
            pub fn timeout(mut self, timeout: Duration) -> Self {
                self.options.timeout = Some(timeout);
                self
            }
        }
    };
}

/// A publish to a stream, awaiting its ack. Made by [`JetStream::publish`].
///
/// Cancel safety: dropping the future once the message went out does not take it back; it
/// may be stored without you seeing the ack. Publishing again with the same
/// [`msg_id`](Self::msg_id) within the stream's duplicate window is safe: the stream drops
/// the duplicate and the ack says `duplicate: true`.
///
/// ```no_run
/// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
/// let ack = js.publish("orders.new", "order 1").msg_id("order-1").await?;
/// println!("stored as {} in {}", ack.sequence, ack.stream);
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a publish does nothing until awaited"]
pub struct Publish {
    js: JetStream,
    subject: String,
    payload: Bytes,
    options: Options,
}

/// An asynchronous publish: awaiting it sends the message (waiting only while
/// `max_pending_acks` acks are in flight) and gives a [`PubAckFuture`].
///
/// Cancel safety: dropping the future while it waits for a window slot sends nothing.
///
/// ```no_run
/// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
/// let mut acks = Vec::new();
/// for i in 0..1000 {
///     acks.push(js.publish_async("events", format!("event {i}")).await?);
/// }
/// for ack in acks {
///     ack.await?;
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a publish does nothing until awaited"]
pub struct PublishAsync {
    js: JetStream,
    subject: String,
    payload: Bytes,
    options: Options,
}

publish_options!(Publish);
publish_options!(PublishAsync);

const DEFAULT_RETRY_ATTEMPTS: usize = 2;
const DEFAULT_RETRY_WAIT: Duration = Duration::from_millis(250);

impl IntoFuture for Publish {
    type Output = Result<PubAck, Error>;
    type IntoFuture = BoxFuture<'static, Result<PubAck, Error>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let client = self.js.client();
            let timeout = self.options.timeout.unwrap_or(self.js.inner.timeout);
            let attempts = self
                .options
                .retry_attempts
                .unwrap_or(DEFAULT_RETRY_ATTEMPTS);
            let wait = self.options.retry_wait.unwrap_or(DEFAULT_RETRY_WAIT);
            let mut attempt = 0;
            loop {
                let response = client
                    .send_request(
                        &self.subject,
                        self.options.headers.as_ref(),
                        self.payload.clone(),
                    )
                    .await?;
                let reply = match tokio::time::timeout(timeout, response).await {
                    Ok(reply) => reply,
                    Err(_) => {
                        return Err(Error::msg(
                            ErrorKind::Timeout,
                            format!("no ack for the publish to {} in {timeout:?}", self.subject),
                        ))
                    }
                };
                match reply {
                    Ok(msg) => return decode_pub_ack(&msg.payload),
                    Err(e)
                        if e.kind() == nats_core::ErrorKind::NoResponders && attempt < attempts =>
                    {
                        attempt += 1;
                        tokio::time::sleep(wait).await;
                    }
                    Err(e) => return Err(publish_error(e, &self.subject)),
                }
            }
        })
    }
}

impl IntoFuture for PublishAsync {
    type Output = Result<PubAckFuture, Error>;
    type IntoFuture = BoxFuture<'static, Result<PubAckFuture, Error>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let timeout = self.options.timeout.unwrap_or(self.js.inner.timeout);
            let permit = window_slot(&self.js, timeout).await?;
            let response = self
                .js
                .client()
                .send_request_with_guard(
                    &self.subject,
                    self.options.headers.as_ref(),
                    self.payload,
                    permit,
                )
                .await?;
            Ok(PubAckFuture {
                response,
                deadline: Instant::now() + timeout,
                sleep: None,
                subject: self.subject,
            })
        })
    }
}

/// A slot of the async publish window, held until the ack arrives (or the
/// request is otherwise done with); counts itself as freed when dropped.
struct WindowSlot {
    _permit: OwnedSemaphorePermit,
    freed: Arc<AtomicU64>,
}

impl Drop for WindowSlot {
    fn drop(&mut self) {
        self.freed.fetch_add(1, Ordering::Relaxed);
    }
}

/// Takes a slot of the window, waiting while it is full for as long as acks
/// keep arriving; fails with `Timeout` only when none arrived for `timeout`
/// (the server stopped answering).
async fn window_slot(js: &JetStream, timeout: Duration) -> Result<Box<WindowSlot>, Error> {
    let inner = &js.inner;
    let slot = |permit| {
        Box::new(WindowSlot {
            _permit: permit,
            freed: inner.slots_freed.clone(),
        })
    };
    if let Ok(permit) = inner.ack_window.clone().try_acquire_owned() {
        return Ok(slot(permit));
    }
    loop {
        let freed_before = inner.slots_freed.load(Ordering::Relaxed);
        match tokio::time::timeout(timeout, inner.ack_window.clone().acquire_owned()).await {
            Ok(Ok(permit)) => return Ok(slot(permit)),
            Ok(Err(_)) => return Err(Error::new(ErrorKind::ConnectionClosed)),
            // Acks are arriving, others got the freed slots first: keep waiting.
            Err(_) if inner.slots_freed.load(Ordering::Relaxed) != freed_before => {}
            Err(_) => {
                return Err(Error::msg(
                    ErrorKind::Timeout,
                    format!(
                        "the async publish window of {} stayed full: no ack arrived in {timeout:?}",
                        inner.max_pending_acks
                    ),
                ))
            }
        }
    }
}

/// The ack of an asynchronous publish. Resolves to the [`PubAck`], or to an
/// error: the server refused the message, no stream listens (`NoResponders`),
/// no ack within the timeout (`Timeout`), or the connection was lost.
///
/// Its window slot is freed as soon as the ack arrives, even if the future is
/// never polled; dropping it frees the slot too. Dropping it does not recall the
/// message: it was sent, and may be stored.
#[derive(Debug)]
#[must_use = "the ack tells whether the message was stored"]
pub struct PubAckFuture {
    response: Response,
    deadline: Instant,
    sleep: Option<Pin<Box<Sleep>>>,
    subject: String,
}

impl PubAckFuture {
    /// The subject the message was published to.
    pub fn subject(&self) -> &str {
        &self.subject
    }
}

impl Future for PubAckFuture {
    type Output = Result<PubAck, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(reply) = Pin::new(&mut self.response).poll(cx) {
            return Poll::Ready(match reply {
                Ok(msg) => decode_pub_ack(&msg.payload),
                Err(e) => Err(publish_error(e, &self.subject)),
            });
        }
        let deadline = self.deadline;
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Error::msg(
                ErrorKind::Timeout,
                format!("no ack for the publish to {}", self.subject),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

pub(crate) fn publish_error(e: nats_core::Error, subject: &str) -> Error {
    if e.kind() == nats_core::ErrorKind::NoResponders {
        Error::msg(
            ErrorKind::NoResponders,
            format!("no stream answered for {subject}"),
        )
    } else {
        Error::from(e)
    }
}

impl JetStream {
    /// Publishes to a stream and waits for the ack.
    ///
    /// Options go on the returned builder: `.msg_id(id)`, `.expected_last_sequence(n)`,
    /// `.ttl(d)`, `.headers(h)`, ...
    pub fn publish(&self, subject: impl Into<String>, payload: impl Into<Bytes>) -> Publish {
        Publish {
            js: self.clone(),
            subject: subject.into(),
            payload: payload.into(),
            options: Options::default(),
        }
    }

    /// Publishes without waiting for the ack: awaiting the builder sends the
    /// message and returns a [`PubAckFuture`].
    ///
    /// At most [`max_pending_acks`](crate::JetStreamOptions::max_pending_acks)
    /// acks are outstanding: while the window is full, awaiting the builder
    /// waits for a slot for as long as acks keep arriving, and fails with
    /// [`ErrorKind::Timeout`] only when none arrived for the context's timeout
    /// (the server stopped answering).
    pub fn publish_async(
        &self,
        subject: impl Into<String>,
        payload: impl Into<Bytes>,
    ) -> PublishAsync {
        PublishAsync {
            js: self.clone(),
            subject: subject.into(),
            payload: payload.into(),
            options: Options::default(),
        }
    }

    /// How many asynchronous publishes are waiting for their ack.
    pub fn publish_async_pending(&self) -> usize {
        self.inner.max_pending_acks - self.inner.ack_window.available_permits()
    }

    /// Waits until every asynchronous publish in flight has its ack (or failed),
    /// up to the context's timeout.
    pub async fn publish_async_complete(&self) -> Result<(), Error> {
        let max = u32::try_from(self.inner.max_pending_acks).unwrap_or(u32::MAX);
        let all = tokio::time::timeout(self.inner.timeout, self.inner.ack_window.acquire_many(max))
            .await
            .map_err(|_| {
                Error::msg(
                    ErrorKind::Timeout,
                    format!(
                        "{} acks still pending after {:?}",
                        self.publish_async_pending(),
                        self.inner.timeout
                    ),
                )
            })?;
        drop(all);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_keeps_sub_second_precision() {
        assert_eq!(ttl_string(Duration::from_secs(60)), "60s");
        assert_eq!(ttl_string(Duration::from_millis(1500)), "1500ms");
        assert_eq!(
            ttl_string(Duration::from_nanos(1_000_000_001)),
            "1000000001ns"
        );
    }

    #[test]
    fn pub_ack_error_first() {
        let err = decode_pub_ack(
            br#"{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 1"},"stream":"S","seq":0}"#,
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WrongLastSequence);
        assert_eq!(err.api_error().map(|a| a.err_code.0), Some(10071));
        let ack =
            decode_pub_ack(br#"{"stream":"S","seq":7,"duplicate":true,"domain":"hub"}"#).unwrap();
        assert_eq!((ack.sequence, ack.duplicate), (7, true));
        assert_eq!(ack.domain.as_deref(), Some("hub"));
        assert_eq!(
            decode_pub_ack(br#"{"seq":1}"#).unwrap_err().kind(),
            ErrorKind::InvalidResponse
        );
    }
}
