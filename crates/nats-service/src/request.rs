//! [`Request`]: one request to an endpoint, and the ways to answer it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use nats_core::{Client, HeaderMap, Message};

use crate::endpoint::{EndpointState, Limiter};
use crate::error::{error_headers, Error, ErrorKind, ServiceError};

/// A request received by an [`Endpoint`](crate::Endpoint).
///
/// Answer it with [`respond`](Self::respond),
/// [`respond_with_headers`](Self::respond_with_headers) or
/// [`respond_error`](Self::respond_error). It counts in the endpoint's
/// statistics once: when first answered (processing time measured from when
/// the endpoint yielded it; an error answer also counts as an error), or when
/// dropped unanswered. Until then it holds one of the endpoint's
/// [concurrency](crate::EndpointBuilder::max_concurrency) slots.
#[derive(Debug)]
pub struct Request {
    message: Message,
    client: Client,
    endpoint: Arc<EndpointState>,
    limiter: Arc<Limiter>,
    received: Instant,
    done: AtomicBool,
}

impl Request {
    pub(crate) fn new(
        message: Message,
        client: Client,
        endpoint: Arc<EndpointState>,
        limiter: Arc<Limiter>,
        received: Instant,
    ) -> Request {
        Request {
            message,
            client,
            endpoint,
            limiter,
            received,
            done: AtomicBool::new(false),
        }
    }

    /// The request message.
    pub fn message(&self) -> &Message {
        &self.message
    }

    /// The subject the request was sent to (useful with wildcard endpoints).
    pub fn subject(&self) -> &str {
        &self.message.subject
    }

    /// The request's payload.
    pub fn payload(&self) -> &Bytes {
        &self.message.payload
    }

    /// The request's headers, if any.
    pub fn headers(&self) -> Option<&HeaderMap> {
        self.message.headers.as_ref()
    }

    /// Where the answer goes; `None` when the sender expects none (then
    /// every `respond*` fails with [`ErrorKind::NoReplySubject`]).
    pub fn reply(&self) -> Option<&str> {
        self.message.reply.as_deref()
    }

    /// The name of the endpoint that received the request.
    pub fn endpoint_name(&self) -> &str {
        &self.endpoint.info.name
    }

    /// Answers with `payload`.
    pub async fn respond(&self, payload: impl Into<Bytes>) -> Result<(), Error> {
        let reply = self.reply_subject()?;
        self.finish(None);
        self.client
            .publish(reply, payload)
            .await
            .map_err(Error::from)
    }

    /// Answers with `headers` and `payload`. A reply carrying the
    /// `Nats-Service-Error` or `Nats-Service-Error-Code` header (see
    /// [`error_headers`](crate::error_headers)) counts as an error.
    pub async fn respond_with_headers(
        &self,
        headers: HeaderMap,
        payload: impl Into<Bytes>,
    ) -> Result<(), Error> {
        let reply = self.reply_subject()?;
        let error = ServiceError::from_headers(&headers);
        self.finish(error.map(|e| e.to_string()));
        self.client
            .publish_with_headers(reply, headers, payload)
            .await
            .map_err(Error::from)
    }

    /// Answers with a service error: an empty payload and the headers
    /// `Nats-Service-Error: <description>` and `Nats-Service-Error-Code: <code>`.
    /// The endpoint counts an error, with `last_error` `code:description`.
    pub async fn respond_error(
        &self,
        code: u32,
        description: impl AsRef<str>,
    ) -> Result<(), Error> {
        let reply = self.reply_subject()?;
        let headers = error_headers(code, description);
        let error = ServiceError::from_headers(&headers);
        self.finish(error.map(|e| e.to_string()));
        self.client
            .publish_with_headers(reply, headers, Bytes::new())
            .await
            .map_err(Error::from)
    }

    fn reply_subject(&self) -> Result<&str, Error> {
        self.reply().ok_or_else(|| {
            Error::new(
                ErrorKind::NoReplySubject,
                format!(
                    "the request on {} has no reply subject",
                    self.message.subject
                ),
            )
        })
    }

    /// Counts the request (the first time only) and frees its slot.
    fn finish(&self, error: Option<String>) {
        if self.done.swap(true, Ordering::AcqRel) {
            return;
        }
        self.endpoint.record(self.received.elapsed(), error);
        self.limiter.release();
    }
}

impl Drop for Request {
    fn drop(&mut self) {
        self.finish(None);
    }
}
