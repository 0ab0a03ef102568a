//! Publishing to streams: synchronous ([`Publish`]) and asynchronous
//! ([`PublishAsync`] / [`PubAckFuture`]).
//!
//! Both go through the core client's shared request inbox: the ack comes back on
//! the one wildcard subscription and is matched by token, so there is no
//! subscription, task or string formatting per message. Asynchronous publishes
//! hold a slot of a bounded window (`max_pending_acks`) from the moment they are
//! sent until their ack arrives (whether or not the future is polled). With an
//! async publish handler set on the context, the outcomes go through the
//! context's reporter task (see `handlers`).

use std::future::IntoFuture;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use nats_core::{HeaderMap, Message};
use tokio::sync::oneshot;
use tracing::Instrument;

use crate::error::{Error, ErrorKind};
use crate::types::api::decode_pub_ack;
use crate::types::PubAck;
use crate::JetStream;

mod ack;
mod handlers;
mod schedule;
mod window;

pub use ack::PubAckFuture;
pub(crate) use handlers::Reporter;
pub use handlers::{PublishAckHandler, PublishErrorHandler};
pub use schedule::Schedule;
pub(crate) use window::AckWindow;

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
#[derive(Debug, Default)]
struct Options {
    headers: Option<HeaderMap>,
    retry_attempts: Option<usize>,
    retry_wait: Option<Duration>,
    timeout: Option<Duration>,
    /// The first option that failed its check; the publish fails with it
    /// before anything is sent.
    invalid: Option<Error>,
}

impl Options {
    /// Sets header `name` to the checked `value`, or keeps the first error.
    fn checked_header(&mut self, name: &'static str, value: Result<String, Error>) {
        match value {
            Ok(value) => self.headers_mut().insert(name, value),
            Err(e) => {
                self.invalid.get_or_insert(e);
            }
        }
    }

    /// The first failed check of an option, if any.
    fn check(&mut self) -> Result<(), Error> {
        self.invalid.take().map_or(Ok(()), Err)
    }

    fn headers_mut(&mut self) -> &mut HeaderMap {
        self.headers.get_or_insert_with(HeaderMap::new)
    }

    /// Adds `headers` to those set so far: each name in `headers` replaces the
    /// values of that name set before; the other names are kept.
    fn merge_headers(&mut self, headers: HeaderMap) {
        let Some(current) = self.headers.as_mut() else {
            self.headers = Some(headers);
            return;
        };
        for (name, _) in headers.iter() {
            current.remove(name);
        }
        for (name, value) in headers.iter() {
            current.append(name, value);
        }
        if headers.status().is_some() {
            current.set_status(headers.status(), headers.description());
        }
    }
}

macro_rules! publish_options {
    ($ty:ident) => {
        impl $ty {
            /// Sends these headers with the message, merged with the headers set
            /// before or after this call (by [`msg_id`](Self::msg_id),
            /// [`header`](Self::header), the expectations, ...): a name in `headers`
            /// replaces the values that name had so far, other names are kept, and
            /// later calls replace or add to it in turn. So `.msg_id(id).headers(h)`
            /// and `.headers(h).msg_id(id)` both send the message id.
            ///
            /// ```no_run
            /// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
            /// let mut headers = nats_core::HeaderMap::new();
            /// headers.insert("Customer", "acme");
            /// js.publish("orders.new", "order 1").msg_id("order-1").headers(headers).await?;
            /// # Ok(()) }
            /// ```
            pub fn headers(mut self, headers: HeaderMap) -> Self {
                self.options.merge_headers(headers);
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

            /// Publishes a schedule instead of a message to deliver now
            /// (`Nats-Schedule`, ADR-51): the stream keeps this message and, each
            /// time the schedule fires, publishes its payload and headers to the
            /// [`schedule_target`](Self::schedule_target) subject, which is
            /// required and must belong to the same stream. The stream needs
            /// [`allow_msg_schedules`](crate::StreamConfig::allow_msg_schedules).
            /// Go's `WithScheduleAt`, `WithScheduleEvery`, `WithScheduleCron`.
            ///
            /// An interval under a second or an empty cron expression fails the
            /// publish with [`ErrorKind::InvalidArgument`] before anything is sent.
            ///
            /// ```no_run
            /// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
            /// use std::time::Duration;
            /// use jetstream::Schedule;
            ///
            /// // Stream "JOBS" (subjects "jobs.>", allow_msg_schedules): every
            /// // five minutes, "jobs.run.cleanup" gets a copy of this message.
            /// js.publish("jobs.schedule.cleanup", "cleanup")
            ///     .schedule(Schedule::Every(Duration::from_secs(300)))
            ///     .schedule_target("jobs.run.cleanup")
            ///     .await?;
            ///
            /// // Once, in an hour:
            /// let at = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1);
            /// js.publish("jobs.schedule.report", "report")
            ///     .schedule(Schedule::At(at))
            ///     .schedule_target("jobs.run.report")
            ///     .await?;
            /// # Ok(()) }
            /// ```
            pub fn schedule(mut self, schedule: Schedule) -> Self {
                let value = schedule.header_value();
                self.options
                    .checked_header(schedule::headers::SCHEDULE, value);
                self
            }

            /// The subject a [`schedule`](Self::schedule) publishes to when it
            /// fires (`Nats-Schedule-Target`): a subject of the same stream,
            /// without wildcards (else [`ErrorKind::InvalidSubject`] before
            /// sending). Go's `WithScheduleTarget`.
            pub fn schedule_target(mut self, subject: impl AsRef<str>) -> Self {
                let value = schedule::subject_header("target", subject.as_ref());
                self.options
                    .checked_header(schedule::headers::TARGET, value);
                self
            }

            /// Publish the last message of this subject when the schedule fires,
            /// instead of this message's payload (`Nats-Schedule-Source`, server
            /// 2.14; no wildcards). Go's `WithScheduleSource`.
            pub fn schedule_source(mut self, subject: impl AsRef<str>) -> Self {
                let value = schedule::subject_header("source", subject.as_ref());
                self.options
                    .checked_header(schedule::headers::SOURCE, value);
                self
            }

            /// The time to live of each message the schedule produces
            /// (`Nats-Schedule-TTL`, at least 1 s; the stream needs
            /// `allow_msg_ttl`). Go's `WithScheduleTTL`.
            pub fn schedule_ttl(mut self, ttl: Duration) -> Self {
                let value = schedule::ttl_header(Some(ttl));
                self.options.checked_header(schedule::headers::TTL, value);
                self
            }

            /// The messages the schedule produces never expire, whatever the
            /// stream's `max_age` (`Nats-Schedule-TTL: never`). Go's
            /// `WithScheduleTTLNever`.
            pub fn schedule_ttl_never(mut self) -> Self {
                let value = schedule::ttl_header(None);
                self.options.checked_header(schedule::headers::TTL, value);
                self
            }

            /// The IANA time zone a [`Schedule::Cron`] is evaluated in
            /// (`Nats-Schedule-Time-Zone`, e.g. `"Europe/Amsterdam"`; server
            /// 2.14). The server refuses it with the other schedules. Go's
            /// `WithScheduleTimeZone`.
            pub fn schedule_time_zone(mut self, zone: impl AsRef<str>) -> Self {
                let value = schedule::time_zone_header(zone.as_ref());
                self.options
                    .checked_header(schedule::headers::TIME_ZONE, value);
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

    fn into_future(mut self) -> Self::IntoFuture {
        Box::pin(async move {
            // Made when first polled: a child of the span the caller awaits it in.
            let span = crate::observe::publish(&self.subject, false);
            async move {
                self.options.check()?;
                #[cfg(feature = "otel")]
                crate::observe::otel::inject(&mut self.options.headers);
                let client = self.js.client();
                let timeout = self.options.timeout.unwrap_or(self.js.inner.timeout);
                let attempts = self
                    .options
                    .retry_attempts
                    .unwrap_or(DEFAULT_RETRY_ATTEMPTS);
                let wait = self.options.retry_wait.unwrap_or(DEFAULT_RETRY_WAIT);
                let mut attempt = 0;
                loop {
                    // The deadline rides with the request (no timer per publish).
                    let response = client
                        .send_request_with_timeout(
                            &self.subject,
                            self.options.headers.as_ref(),
                            self.payload.clone(),
                            timeout,
                        )
                        .await?;
                    match response.await {
                        Ok(msg) => return decode_pub_ack(&msg.payload),
                        Err(e) if e.kind() == nats_core::ErrorKind::Timeout => {
                            return Err(Error::msg(
                                ErrorKind::Timeout,
                                format!(
                                    "no ack for the publish to {} in {timeout:?}",
                                    self.subject
                                ),
                            ))
                        }
                        Err(e)
                            if e.kind() == nats_core::ErrorKind::NoResponders
                                && attempt < attempts =>
                        {
                            attempt += 1;
                            tokio::time::sleep(wait).await;
                        }
                        Err(e) => return Err(publish_error(e, &self.subject)),
                    }
                }
            }
            .instrument(span)
            .await
        })
    }
}

impl IntoFuture for PublishAsync {
    type Output = Result<PubAckFuture, Error>;
    type IntoFuture = BoxFuture<'static, Result<PubAckFuture, Error>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            // Made when first polled: a child of the span the caller awaits it in.
            let span = crate::observe::publish(&self.subject, true);
            async move {
                let PublishAsync {
                    js,
                    subject,
                    payload,
                    mut options,
                } = self;
                options.check()?;
                #[cfg(feature = "otel")]
                crate::observe::otel::inject(&mut options.headers);
                let timeout = options.timeout.unwrap_or(js.inner.timeout);
                let slot = js.inner.window.slot(timeout).await?;
                let client = js.client();
                let Some(reporter) = js.inner.reporter.as_ref() else {
                    // The slot is freed by the request itself, as soon as the ack arrives.
                    // The client's sweeper ends the request at its deadline (no
                    // timer per publish), freeing the slot even if nobody awaits.
                    let response = client
                        .send_request_with_guard(
                            &subject,
                            options.headers.as_ref(),
                            payload.clone(),
                            Box::new(slot),
                            Some(timeout),
                        )
                        .await?;
                    return Ok(PubAckFuture::direct(
                        response,
                        (subject, options.headers, payload),
                    ));
                };
                // The reporter frees the slot once the handlers have seen the outcome.
                let response = client
                    .send_request_with_timeout(
                        &subject,
                        options.headers.as_ref(),
                        payload.clone(),
                        timeout,
                    )
                    .await?;
                let (outcome, receiver) = oneshot::channel();
                let published = (subject.clone(), options.headers.clone(), payload.clone());
                let tracked = handlers::Tracked {
                    response,
                    subject,
                    headers: options.headers,
                    payload,
                    slot,
                    outcome,
                };
                reporter.track(&js, tracked).await;
                Ok(PubAckFuture::reported(receiver, published))
            }
            .instrument(span)
            .await
        })
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
    /// (the server stopped answering). With
    /// [`fail_when_window_full`](crate::JetStreamOptions::fail_when_window_full)
    /// set, it fails at once with [`ErrorKind::TooManyPendingAcks`] instead.
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

    /// Publishes a prebuilt message (subject, headers and payload) and waits
    /// for the ack: Go's `PublishMsg`, async-nats' `send_publish`.
    ///
    /// The message's headers are sent as if given to
    /// [`.headers(h)`](Publish::headers): the builder's options merge with them.
    /// Its reply subject is not used (the ack comes back on the client's own
    /// inbox); its status fields are ignored.
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
    /// use nats_core::{HeaderMap, Message};
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert("Nats-Msg-Id", "order-1");
    /// let msg = Message::new("orders.new", "order 1").with_headers(headers);
    /// let ack = js.publish_message(msg).expected_stream("ORDERS").await?;
    /// println!("stored as {}", ack.sequence);
    /// # Ok(()) }
    /// ```
    pub fn publish_message(&self, message: Message) -> Publish {
        let (subject, payload, options) = message_parts(message);
        Publish {
            js: self.clone(),
            subject,
            payload,
            options,
        }
    }

    /// Publishes a prebuilt message without waiting for the ack, as
    /// [`publish_async`](Self::publish_async) does: Go's `PublishMsgAsync`.
    /// The message is used as by [`publish_message`](Self::publish_message).
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
    /// let msg = nats_core::Message::new("events", "e1");
    /// let ack = js.publish_message_async(msg).await?;
    /// println!("stored as {}", ack.await?.sequence);
    /// # Ok(()) }
    /// ```
    pub fn publish_message_async(&self, message: Message) -> PublishAsync {
        let (subject, payload, options) = message_parts(message);
        PublishAsync {
            js: self.clone(),
            subject,
            payload,
            options,
        }
    }

    /// Publishes `value` encoded as JSON and waits for the ack: [`publish`](Self::publish)
    /// with a typed payload (feature `serde`). The builder takes the same options.
    ///
    /// A value that cannot be encoded (e.g. a map with non-string keys) fails with
    /// [`ErrorKind::InvalidArgument`] when awaited, before anything is sent. Read it back
    /// with [`Msg::json`](crate::Msg::json).
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
    /// #[derive(serde::Serialize)]
    /// struct Order { id: u64, item: String }
    ///
    /// let order = Order { id: 1, item: "book".into() };
    /// let ack = js.publish_json("orders.new", &order).msg_id("order-1").await?;
    /// println!("stored as {}", ack.sequence);
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "serde")]
    pub fn publish_json<T: serde::Serialize + ?Sized>(
        &self,
        subject: impl Into<String>,
        value: &T,
    ) -> Publish {
        let subject = subject.into();
        let (payload, options) = json_payload(&subject, value);
        Publish {
            js: self.clone(),
            subject,
            payload,
            options,
        }
    }

    /// Publishes `value` encoded as JSON without waiting for the ack:
    /// [`publish_async`](Self::publish_async) with a typed payload (feature `serde`).
    /// A value that cannot be encoded fails with [`ErrorKind::InvalidArgument`] when
    /// the builder is awaited, before anything is sent.
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
    /// let ack = js.publish_json_async("events", &serde_json::json!({"kind": "login"})).await?;
    /// println!("stored as {}", ack.await?.sequence);
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "serde")]
    pub fn publish_json_async<T: serde::Serialize + ?Sized>(
        &self,
        subject: impl Into<String>,
        value: &T,
    ) -> PublishAsync {
        let subject = subject.into();
        let (payload, options) = json_payload(&subject, value);
        PublishAsync {
            js: self.clone(),
            subject,
            payload,
            options,
        }
    }

    /// How many asynchronous publishes are waiting for their ack (with an async
    /// publish handler set: whose outcome the handler has not seen yet).
    pub fn publish_async_pending(&self) -> usize {
        self.inner.window.pending()
    }

    /// Waits until no asynchronous publish is waiting for its ack: each has its
    /// ack, failed, or had its [`PubAckFuture`] dropped (with an async publish
    /// handler set, a dropped future's publish still counts until the handler
    /// has seen its outcome). Go's `PublishAsyncComplete`.
    ///
    /// It has no timeout of its own: it waits as long as acks are pending,
    /// which includes publishes made meanwhile by other tasks, and an ack that
    /// never comes for a future that is kept but never polled. Wrap it in
    /// [`tokio::time::timeout`] to bound the wait. It does not stop other
    /// tasks from publishing. It never fails; it returns a `Result` so that
    /// `?` reads as for the other calls.
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream) -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    ///
    /// for i in 0..1000 {
    ///     drop(js.publish_async("events", format!("e{i}")).await?);
    /// }
    /// tokio::time::timeout(Duration::from_secs(30), js.publish_async_complete()).await??;
    /// # Ok(()) }
    /// ```
    pub async fn publish_async_complete(&self) -> Result<(), Error> {
        self.inner.window.until_idle().await;
        Ok(())
    }
}

/// The JSON payload of `value`, or options that make the publish fail.
#[cfg(feature = "serde")]
fn json_payload<T: serde::Serialize + ?Sized>(subject: &str, value: &T) -> (Bytes, Options) {
    match serde_json::to_vec(value) {
        Ok(json) => (Bytes::from(json), Options::default()),
        Err(e) => (
            Bytes::new(),
            Options {
                invalid: Some(Error::msg(
                    ErrorKind::InvalidArgument,
                    format!("cannot encode the payload for {subject} as JSON: {e}"),
                )),
                ..Options::default()
            },
        ),
    }
}

/// A prebuilt message as the subject, payload and options of a publish.
fn message_parts(message: Message) -> (String, Bytes, Options) {
    let mut options = Options::default();
    if let Some(mut headers) = message.headers {
        // A received message's status line is not the publisher's to send.
        headers.set_status(None, None);
        options.headers = Some(headers);
    }
    (String::from(message.subject), message.payload, options)
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
