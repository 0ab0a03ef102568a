//! Hooks on the JetStream API requests of a context (Go's `WithClientTrace`).

use std::fmt;
use std::sync::Arc;

use nats_core::HeaderMap;

type SentFn = dyn Fn(&str, &[u8]) + Send + Sync;
type ReceivedFn = dyn Fn(&str, &[u8], Option<&HeaderMap>) + Send + Sync;

/// Callbacks on every JetStream API request a context makes (stream and
/// consumer management, info, names and lists, message get and delete, KV and
/// object store management): Go's `ClientTrace`. Publishes, pulls and acks are
/// not API requests and are not traced.
///
/// The callbacks run on the task making the request, before the request is sent
/// and when its reply arrives (not for a request that failed without a reply);
/// keep them short. Set them as
/// [`JetStreamOptions::client_trace`](crate::JetStreamOptions::client_trace).
///
/// ```no_run
/// # async fn run(client: nats_core::Client) -> Result<(), jetstream::Error> {
/// use jetstream::{ClientTrace, JetStreamOptions};
///
/// let trace = ClientTrace::new()
///     .on_request_sent(|subject, payload| println!("-> {subject} {} bytes", payload.len()))
///     .on_response_received(|subject, payload, _headers| {
///         println!("<- {subject} {}", String::from_utf8_lossy(payload))
///     });
/// let js = jetstream::with_options(
///     client,
///     JetStreamOptions { client_trace: Some(trace), ..Default::default() },
/// );
/// js.account_info().await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct ClientTrace {
    request_sent: Option<Arc<SentFn>>,
    response_received: Option<Arc<ReceivedFn>>,
}

impl ClientTrace {
    /// No callbacks yet.
    pub fn new() -> Self {
        ClientTrace::default()
    }

    /// Called with the full API subject (e.g. `$JS.API.STREAM.INFO.ORDERS`) and
    /// the request's body, just before it is sent. Go's `RequestSent`.
    pub fn on_request_sent(mut self, f: impl Fn(&str, &[u8]) + Send + Sync + 'static) -> Self {
        self.request_sent = Some(Arc::new(f));
        self
    }

    /// Called with the API subject the request went to, the reply's body and its
    /// headers, when the reply arrives (before it is decoded). Go's
    /// `ResponseReceived`.
    pub fn on_response_received(
        mut self,
        f: impl Fn(&str, &[u8], Option<&HeaderMap>) + Send + Sync + 'static,
    ) -> Self {
        self.response_received = Some(Arc::new(f));
        self
    }

    pub(crate) fn request_sent(&self, subject: &str, payload: &[u8]) {
        if let Some(f) = &self.request_sent {
            f(subject, payload);
        }
    }

    pub(crate) fn response_received(
        &self,
        subject: &str,
        payload: &[u8],
        headers: Option<&HeaderMap>,
    ) {
        if let Some(f) = &self.response_received {
            f(subject, payload, headers);
        }
    }
}

impl fmt::Debug for ClientTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTrace")
            .field("request_sent", &self.request_sent.is_some())
            .field("response_received", &self.response_received.is_some())
            .finish()
    }
}

/// Two traces are equal when they hold the same callbacks.
impl PartialEq for ClientTrace {
    fn eq(&self, other: &Self) -> bool {
        fn same<T: ?Sized>(a: &Option<Arc<T>>, b: &Option<Arc<T>>) -> bool {
            match (a, b) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                (None, None) => true,
                _ => false,
            }
        }
        same(&self.request_sent, &other.request_sent)
            && same(&self.response_received, &other.response_received)
    }
}

impl Eq for ClientTrace {}
