//! The JetStream context: how requests reach the JetStream API.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use nats_core::Client;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tracing::Instrument;

use crate::error::{Error, ErrorKind};
use crate::publish::{AckWindow, PublishAckHandler, PublishErrorHandler, Reporter};
use crate::types::api::decode_api;
use crate::types::AccountInfo;
use crate::ClientTrace;

/// Options of a [`JetStream`] context.
///
/// ```
/// use std::time::Duration;
///
/// let options = jetstream::JetStreamOptions {
///     domain: Some("hub".into()),
///     timeout: Duration::from_secs(2),
///     ..Default::default()
/// };
/// assert_eq!(options.api_prefix, "$JS.API");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JetStreamOptions {
    /// The API prefix (default `$JS.API`); set to reach JetStream imported from
    /// another account. Ignored when `domain` is set.
    pub api_prefix: String,
    /// The JetStream domain: requests go to `$JS.<domain>.API`.
    pub domain: Option<String>,
    /// The timeout of every API request and of synchronous publishes (default 5 s).
    pub timeout: Duration,
    /// How many asynchronous publishes may wait for their ack at once
    /// (default 4000); `publish_async` waits while the window is full.
    pub max_pending_acks: usize,
    /// Make `publish_async` fail at once with
    /// [`ErrorKind::TooManyPendingAcks`] when the window of
    /// [`max_pending_acks`](Self::max_pending_acks) is full, instead of waiting
    /// for a slot (default `false`: wait). async-nats'
    /// `backpressure_on_inflight(false)`; Go's `WithStallWait` with no wait.
    ///
    /// ```
    /// let options = jetstream::JetStreamOptions {
    ///     max_pending_acks: 256,
    ///     fail_when_window_full: true,
    ///     ..Default::default()
    /// };
    /// # let _ = options;
    /// ```
    pub fail_when_window_full: bool,
    /// Called with every asynchronous publish that failed after it was sent,
    /// also when its [`PubAckFuture`](crate::PubAckFuture) was dropped (Go's
    /// `WithPublishAsyncErrHandler`). See [`PublishErrorHandler`].
    pub publish_async_error_handler: Option<PublishErrorHandler>,
    /// Called with every asynchronous publish the stream acknowledged, also when
    /// its [`PubAckFuture`](crate::PubAckFuture) was dropped (Go's
    /// `WithPublishAsyncAckHandler`). See [`PublishAckHandler`].
    pub publish_async_ack_handler: Option<PublishAckHandler>,
    /// Callbacks on every API request and its reply (Go's `WithClientTrace`).
    /// See [`ClientTrace`].
    pub client_trace: Option<ClientTrace>,
}

impl Default for JetStreamOptions {
    fn default() -> Self {
        JetStreamOptions {
            api_prefix: "$JS.API".to_string(),
            domain: None,
            timeout: Duration::from_secs(5),
            max_pending_acks: 4000,
            fail_when_window_full: false,
            publish_async_error_handler: None,
            publish_async_ack_handler: None,
            client_trace: None,
        }
    }
}

/// The JetStream context: streams, consumers, publishing, KV and object store.
///
/// Cheap to clone; all clones share the core connection and the async publish
/// window.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = nats_core::connect("nats://127.0.0.1:4222").await?;
/// let js = jetstream::new(client);
/// let info = js.account_info().await?;
/// println!("{} streams", info.streams);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct JetStream {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub client: Client,
    /// `$JS.API`, `$JS.<domain>.API` or the custom prefix, without a trailing dot.
    pub prefix: String,
    pub timeout: Duration,
    /// The async publish window: one slot per ack in flight.
    pub window: Arc<AckWindow>,
    /// Reports async publish outcomes to the handlers, when there are any.
    pub reporter: Option<Reporter>,
    /// Hooks on API requests, when set.
    pub trace: Option<ClientTrace>,
}

/// A JetStream context with default options.
pub fn new(client: Client) -> JetStream {
    with_options(client, JetStreamOptions::default())
}

/// A JetStream context for `domain` (requests go to `$JS.<domain>.API`).
pub fn with_domain(client: Client, domain: impl Into<String>) -> JetStream {
    with_options(
        client,
        JetStreamOptions {
            domain: Some(domain.into()),
            ..Default::default()
        },
    )
}

/// A JetStream context with the given options.
pub fn with_options(client: Client, options: JetStreamOptions) -> JetStream {
    let prefix = match options.domain.as_deref() {
        Some(domain) if !domain.is_empty() => format!("$JS.{domain}.API"),
        _ if options.api_prefix.is_empty() => "$JS.API".to_string(),
        _ => options.api_prefix.trim_end_matches('.').to_string(),
    };
    let window = options.max_pending_acks.max(1);
    JetStream {
        inner: Arc::new(Inner {
            client,
            prefix,
            timeout: options.timeout,
            window: AckWindow::new(window, options.fail_when_window_full),
            reporter: Reporter::new(
                options.publish_async_error_handler,
                options.publish_async_ack_handler,
                window,
            ),
            trace: options.client_trace,
        }),
    }
}

impl JetStream {
    /// The core client underneath.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The API prefix requests are sent to (e.g. `$JS.API`).
    pub fn api_prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The timeout of API requests and synchronous publishes.
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// `<prefix>.<suffix>`.
    pub(crate) fn api_subject(&self, suffix: &str) -> String {
        let mut s = String::with_capacity(self.inner.prefix.len() + 1 + suffix.len());
        s.push_str(&self.inner.prefix);
        s.push('.');
        s.push_str(suffix);
        s
    }

    /// Sends a request to any JetStream API endpoint and decodes its reply: the
    /// escape hatch for endpoints this crate does not wrap (async-nats'
    /// `Context::request`).
    ///
    /// `api_subject` is the part after the API prefix, e.g. `STREAM.INFO.ORDERS`:
    /// the request goes to `<prefix>.<api_subject>`, with the context's prefix
    /// or domain, and waits up to the context's timeout. `payload` is sent as
    /// JSON; one that serializes to `null` (e.g. `&()`) sends an empty body, as
    /// the info, names and delete endpoints expect. A reply with an `error` is
    /// mapped like every other call's ([`Error::kind`], [`Error::api_error`]);
    /// `T` may be [`serde_json::Value`] to take the reply as it comes.
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
    /// // Typed, with a request body:
    /// #[derive(serde::Deserialize)]
    /// struct Names {
    ///     streams: Option<Vec<String>>,
    /// }
    /// let names: Names = js
    ///     .request("STREAM.NAMES", &serde_json::json!({ "subject": "orders.>" }))
    ///     .await?;
    /// println!("{:?}", names.streams);
    ///
    /// // Untyped, without a body:
    /// let info = js.request::<serde_json::Value>("STREAM.INFO.ORDERS", &()).await?;
    /// println!("{}", info["state"]["messages"]);
    /// # Ok(()) }
    /// ```
    pub async fn request<T>(
        &self,
        api_subject: &str,
        payload: &(impl Serialize + ?Sized),
    ) -> Result<T, Error>
    where
        T: DeserializeOwned,
    {
        if api_subject.is_empty() || api_subject.starts_with("$JS.") {
            return Err(Error::msg(
                ErrorKind::InvalidSubject,
                format!(
                    "{api_subject:?}: give the API subject without the prefix, e.g. \"STREAM.INFO.ORDERS\""
                ),
            ));
        }
        let mut payload = serde_json::to_vec(payload)
            .map_err(|e| Error::with_source(ErrorKind::InvalidArgument, e))?;
        if payload == b"null" {
            payload.clear();
        }
        self.request_raw(api_subject, Bytes::from(payload)).await
    }

    /// Sends a JetStream API request with a raw body and decodes the reply.
    pub(crate) async fn request_raw<Resp>(
        &self,
        suffix: &str,
        payload: Bytes,
    ) -> Result<Resp, Error>
    where
        Resp: DeserializeOwned,
    {
        let subject = self.api_subject(suffix);
        if let Some(trace) = &self.inner.trace {
            trace.request_sent(&subject, &payload);
        }
        let reply = self
            .inner
            .client
            .request_with_timeout(&subject, None, payload, self.inner.timeout)
            .instrument(crate::observe::api(&subject))
            .await
            .map_err(|e| api_request_error(e, &subject))?;
        if let Some(trace) = &self.inner.trace {
            trace.response_received(&subject, &reply.payload, reply.headers.as_ref());
        }
        decode_api(&reply.payload).map_err(|e| e.for_api_request(suffix))
    }

    /// Records the connection's counters (`nats_messages_in_total`, `nats_bytes_in_total`,
    /// `..._out_total`, `nats_reconnects_total`, `nats_slow_consumer_dropped_total`) in the
    /// installed `metrics` recorder, as they are now: call it where metrics are scraped
    /// (feature `metrics`). Consumer and publish metrics are recorded as they happen.
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream) {
    /// // In the handler of `GET /metrics`, before rendering:
    /// js.record_connection_metrics();
    /// # }
    /// ```
    #[cfg(feature = "metrics")]
    pub fn record_connection_metrics(&self) {
        crate::observe::metrics::connection(&self.inner.client.statistics());
    }

    /// Account usage and limits; also tells whether JetStream is enabled.
    pub async fn account_info(&self) -> Result<AccountInfo, Error> {
        self.request_raw("INFO", Bytes::new()).await
    }
}

/// Maps a failed API request: no responders on `$JS.API` means JetStream is not
/// there (not enabled, or a wrong domain or prefix).
fn api_request_error(e: nats_core::Error, subject: &str) -> Error {
    match e.kind() {
        nats_core::ErrorKind::NoResponders => Error::msg(
            ErrorKind::JetStreamNotEnabled,
            format!("no JetStream answered on {subject} (not enabled, or wrong domain or prefix)"),
        ),
        _ => Error::from(e),
    }
}

impl From<nats_core::Error> for Error {
    fn from(e: nats_core::Error) -> Error {
        use nats_core::ErrorKind as Core;
        let kind = match e.kind() {
            Core::Timeout => ErrorKind::Timeout,
            Core::NoResponders => ErrorKind::NoResponders,
            Core::ConnectionClosed => ErrorKind::ConnectionClosed,
            Core::PermissionDenied => ErrorKind::PermissionDenied,
            Core::InvalidSubject => ErrorKind::InvalidSubject,
            Core::MaxPayloadExceeded => ErrorKind::MaxPayloadExceeded,
            Core::InvalidArgument => ErrorKind::InvalidArgument,
            Core::Io | Core::Tls => ErrorKind::Io,
            _ => ErrorKind::Other,
        };
        Error::with_source(kind, e)
    }
}
