//! The ack of an asynchronous publish.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use nats_core::{HeaderMap, Message, Response};
use tokio::sync::oneshot;

use super::publish_error;
use crate::error::{Error, ErrorKind};
use crate::types::api::decode_pub_ack;
use crate::types::PubAck;

/// The ack of an asynchronous publish. Resolves to the [`PubAck`], or to an
/// error: the server refused the message, no stream listens (`NoResponders`),
/// no ack within the timeout (`Timeout`), or the connection was lost.
///
/// Its window slot is freed as soon as the ack arrives, even if the future is
/// never polled; dropping it frees the slot too. Dropping it does not recall the
/// message: it was sent, and may be stored. When the context has a
/// [`publish_async_error_handler`](crate::JetStreamOptions::publish_async_error_handler)
/// or [`publish_async_ack_handler`](crate::JetStreamOptions::publish_async_ack_handler),
/// the outcome also goes to the handler, whether this future is awaited, dropped or
/// never polled; the slot is then freed once the handler has run.
///
/// ```no_run
/// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
/// let ack_future = js.publish_async("events", "e1").await?;
/// assert_eq!(ack_future.subject(), "events");
/// assert_eq!(&ack_future.payload()[..], b"e1");
/// let ack = ack_future.await?;
/// println!("stored as {}", ack.sequence);
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "the ack tells whether the message was stored"]
pub struct PubAckFuture {
    state: State,
    subject: String,
    /// What was published, kept for [`PubAckFuture::message`] (the payload is
    /// shared, not copied).
    headers: Option<HeaderMap>,
    payload: Bytes,
}

#[derive(Debug)]
enum State {
    /// The reply comes straight from the request inbox; the request fails
    /// by itself at its deadline.
    Direct(Response),
    /// The context's reporter waits for the reply (and the deadline), tells
    /// the handlers, then passes the outcome on.
    Reported(oneshot::Receiver<Result<PubAck, Error>>),
}

impl PubAckFuture {
    pub(crate) fn direct(
        response: Response,
        published: (String, Option<HeaderMap>, Bytes),
    ) -> PubAckFuture {
        let (subject, headers, payload) = published;
        PubAckFuture {
            state: State::Direct(response),
            subject,
            headers,
            payload,
        }
    }

    pub(crate) fn reported(
        outcome: oneshot::Receiver<Result<PubAck, Error>>,
        published: (String, Option<HeaderMap>, Bytes),
    ) -> PubAckFuture {
        let (subject, headers, payload) = published;
        PubAckFuture {
            state: State::Reported(outcome),
            subject,
            headers,
            payload,
        }
    }

    /// The subject the message was published to.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The headers the message was published with (the options' headers
    /// included: `Nats-Msg-Id`, the expectations, ...), if any.
    pub fn headers(&self) -> Option<&HeaderMap> {
        self.headers.as_ref()
    }

    /// The payload that was published.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// The message as it was published, e.g. to publish it again after a
    /// failed ack: Go's `PubAckFuture.Msg()`.
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
    /// let ack_future = js.publish_async("events", "e1").msg_id("e1").await?;
    /// let message = ack_future.message();
    /// if ack_future.await.is_err() {
    ///     // Same message id: the stream drops it if the first one was stored after all.
    ///     js.publish_message(message).await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn message(&self) -> Message {
        let message = Message::new(self.subject.clone(), self.payload.clone());
        match &self.headers {
            Some(headers) => message.with_headers(headers.clone()),
            None => message,
        }
    }
}

/// The outcome of a publish from the reply to its request (which carries the
/// publish's deadline: `Timeout` means no ack came before it).
pub(crate) fn ack_result(
    reply: Result<nats_core::Message, nats_core::Error>,
    subject: &str,
) -> Result<PubAck, Error> {
    match reply {
        Ok(msg) => decode_pub_ack(&msg.payload),
        Err(e) if e.kind() == nats_core::ErrorKind::Timeout => Err(Error::msg(
            ErrorKind::Timeout,
            format!("no ack for the publish to {subject}"),
        )),
        Err(e) => Err(publish_error(e, subject)),
    }
}

impl Future for PubAckFuture {
    type Output = Result<PubAck, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match &mut this.state {
            State::Direct(response) => Pin::new(response)
                .poll(cx)
                .map(|reply| ack_result(reply, &this.subject)),
            State::Reported(outcome) => match Pin::new(outcome).poll(cx) {
                Poll::Ready(Ok(result)) => Poll::Ready(result),
                Poll::Ready(Err(_)) => Poll::Ready(Err(Error::msg(
                    ErrorKind::Other,
                    format!(
                        "the outcome of the publish to {} was lost: the runtime is shutting down",
                        this.subject
                    ),
                ))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}
