//! The JetStream context: how requests reach the JetStream API.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use nats_core::Client;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::error::{Error, ErrorKind};
use crate::types::api::decode_api;
use crate::types::AccountInfo;

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
}

impl Default for JetStreamOptions {
    fn default() -> Self {
        JetStreamOptions {
            api_prefix: "$JS.API".to_string(),
            domain: None,
            timeout: Duration::from_secs(5),
            max_pending_acks: 4000,
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
    pub max_pending_acks: usize,
    /// The async publish window: one permit per ack in flight.
    pub ack_window: Arc<Semaphore>,
    /// How many window slots have been freed so far: tells a publisher
    /// waiting for a slot whether acks are still flowing.
    pub slots_freed: Arc<AtomicU64>,
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
            max_pending_acks: window,
            ack_window: Arc::new(Semaphore::new(window)),
            slots_freed: Arc::default(),
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

    /// Sends a JetStream API request with a JSON body and decodes the reply.
    pub(crate) async fn request<Req, Resp>(&self, suffix: &str, body: &Req) -> Result<Resp, Error>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        let payload = serde_json::to_vec(body)
            .map_err(|e| Error::with_source(ErrorKind::InvalidArgument, e))?;
        self.request_raw(suffix, Bytes::from(payload)).await
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
        let reply = self
            .inner
            .client
            .request_with_timeout(&subject, None, payload, self.inner.timeout)
            .await
            .map_err(|e| api_request_error(e, &subject))?;
        decode_api(&reply.payload).map_err(|e| e.for_api_request(suffix))
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
