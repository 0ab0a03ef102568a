//! The [`Consumer`] handle: info, and the server-side controls pause/resume (2.11+), unpin
//! (2.11+) and reset (2.14+). Pulling messages is defined elsewhere (`pull/`).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::context::JetStream;
use crate::error::{Error, ErrorKind, Result};
use crate::types::serde_util::{opt_nanos, opt_time};
use crate::types::ConsumerInfo;

/// A handle to a consumer: cheap to clone, holding the last fetched [`ConsumerInfo`].
///
/// Get one from [`JetStream::create_consumer`], [`JetStream::consumer`],
/// [`Stream::create_consumer`](crate::Stream::create_consumer) and friends.
///
/// ```no_run
/// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
/// let consumer = js.consumer("ORDERS", "processor").await?;
/// let info = consumer.info().await?;
/// println!("{} pending on {}", info.num_pending, consumer.stream_name());
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Consumer {
    pub(crate) js: JetStream,
    pub(crate) stream: Arc<str>,
    pub(crate) name: Arc<str>,
    pub(crate) info: Arc<Mutex<Arc<ConsumerInfo>>>,
    /// The pin id the server gave this handle (and its clones) in a
    /// pinned-client priority group: sent with every later pull.
    pub(crate) pin_id: Arc<Mutex<Option<String>>>,
}

/// The reply of a pause or resume: [`Consumer::pause`], [`Consumer::resume`].
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ConsumerPauseResponse {
    /// Whether the consumer is paused now.
    pub paused: bool,
    /// Until when it is paused.
    #[serde(with = "opt_time", skip_serializing_if = "Option::is_none")]
    pub pause_until: Option<Timestamp>,
    /// How long it stays paused.
    #[serde(with = "opt_nanos", skip_serializing_if = "Option::is_none")]
    pub pause_remaining: Option<Duration>,
}

/// Body of `CONSUMER.PAUSE`; no time means resume.
#[derive(Serialize)]
struct PauseRequest {
    #[serde(with = "opt_time", skip_serializing_if = "Option::is_none")]
    pause_until: Option<Timestamp>,
}

/// Body of `CONSUMER.UNPIN`.
#[derive(Serialize)]
struct UnpinRequest<'a> {
    group: &'a str,
}

/// Body of `CONSUMER.RESET`; `seq` 0 (omitted) means "just after the ack floor".
#[derive(Serialize)]
struct ResetRequest {
    #[serde(skip_serializing_if = "is_zero")]
    seq: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Reply of `CONSUMER.RESET`: the consumer's info plus where it was reset to.
#[derive(Deserialize)]
struct ResetResponse {
    #[serde(flatten)]
    info: ConsumerInfo,
    #[serde(default)]
    reset_seq: u64,
}

impl Consumer {
    pub(crate) fn new(js: JetStream, info: ConsumerInfo) -> Consumer {
        Consumer {
            js,
            stream: Arc::from(info.stream_name.as_str()),
            name: Arc::from(info.name.as_str()),
            info: Arc::new(Mutex::new(Arc::new(info))),
            pin_id: Arc::default(),
        }
    }

    /// The pin id to send with the next pull, if the server pinned this handle.
    pub(crate) fn pin_id(&self) -> Option<String> {
        self.pin_id
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Records the `Nats-Pin-Id` of a delivered message, or forgets the pin
    /// (`None`) once the server says it is no longer valid.
    pub(crate) fn set_pin_id(&self, pin: Option<&str>) {
        let mut slot = self.pin_id.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.as_deref() != pin {
            *slot = pin.map(str::to_string);
        }
    }

    pub(crate) fn set_info(&self, info: ConsumerInfo) -> Arc<ConsumerInfo> {
        let info = Arc::new(info);
        *self.info.lock().unwrap_or_else(PoisonError::into_inner) = info.clone();
        info
    }

    /// The consumer's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name of the consumer's stream.
    pub fn stream_name(&self) -> &str {
        &self.stream
    }

    /// The JetStream context this handle uses.
    pub fn context(&self) -> &JetStream {
        &self.js
    }

    /// The last fetched info, without asking the server. Clones share it, so an
    /// [`info`](Self::info) through any clone refreshes it for all.
    pub fn cached_info(&self) -> Arc<ConsumerInfo> {
        self.info
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Fetches the consumer's current info and refreshes the cache; deleted:
    /// [`ErrorKind::ConsumerNotFound`].
    ///
    /// ```no_run
    /// # async fn run(consumer: jetstream::Consumer) -> Result<(), jetstream::Error> {
    /// let info = consumer.info().await?;
    /// println!("delivered up to stream sequence {}", info.delivered.stream_sequence);
    /// # Ok(()) }
    /// ```
    pub async fn info(&self) -> Result<ConsumerInfo> {
        let suffix = format!("CONSUMER.INFO.{}.{}", self.stream, self.name);
        let info: ConsumerInfo = self.js.request_raw(&suffix, Bytes::new()).await?;
        self.set_info(info.clone());
        Ok(info)
    }

    /// Pauses the consumer until `until`: it delivers nothing before then (server 2.11+;
    /// older servers do not answer, which is reported as [`ErrorKind::NotSupported`] after
    /// the request timeout).
    ///
    /// ```no_run
    /// # async fn run(consumer: jetstream::Consumer) -> Result<(), jetstream::Error> {
    /// let until = jiff::Timestamp::now() + std::time::Duration::from_secs(60);
    /// let paused = consumer.pause(until).await?;
    /// assert!(paused.paused);
    /// consumer.resume().await?;
    /// # Ok(()) }
    /// ```
    pub async fn pause(&self, until: Timestamp) -> Result<ConsumerPauseResponse> {
        self.pause_request(Some(until)).await
    }

    /// Resumes a paused consumer at once (server 2.11+).
    pub async fn resume(&self) -> Result<ConsumerPauseResponse> {
        self.pause_request(None).await
    }

    async fn pause_request(&self, until: Option<Timestamp>) -> Result<ConsumerPauseResponse> {
        let suffix = format!("CONSUMER.PAUSE.{}.{}", self.stream, self.name);
        let request = PauseRequest { pause_until: until };
        self.js
            .request(&suffix, &request)
            .await
            .map_err(not_supported_before(&self.js, (2, 11)))
    }

    /// Unpins the client currently pinned in priority group `group` of a
    /// [`PinnedClient`](crate::PriorityPolicy::PinnedClient) consumer, so the next pull
    /// request gets pinned instead (server 2.11+; older: [`ErrorKind::NotSupported`] after
    /// the request timeout). An unknown group is an [`ErrorKind::Api`] error.
    pub async fn unpin(&self, group: impl AsRef<str>) -> Result<()> {
        let group = group.as_ref();
        if group.is_empty() {
            return Err(Error::msg(
                ErrorKind::InvalidArgument,
                "unpin: the priority group name must not be empty",
            ));
        }
        let suffix = format!("CONSUMER.UNPIN.{}.{}", self.stream, self.name);
        let _: serde::de::IgnoredAny = self
            .js
            .request(&suffix, &UnpinRequest { group })
            .await
            .map_err(not_supported_before(&self.js, (2, 11)))?;
        Ok(())
    }

    /// Resets the consumer's position so the next message delivered has stream sequence
    /// `sequence` (server 2.14+); messages before it count as acknowledged, so the ack floor
    /// moves to `sequence - 1`. `0` resets it to just after its current ack floor. Returns
    /// the sequence the consumer was reset to and refreshes the cached info. An invalid
    /// reset: [`ErrorKind::Api`] with err_code 10204. Older servers:
    /// [`ErrorKind::NotSupported`] after the request timeout.
    ///
    /// Note: servers up to at least 2.14.6 do not answer a reset of a consumer that does not
    /// exist, so that ends in [`ErrorKind::Timeout`] rather than
    /// [`ErrorKind::ConsumerNotFound`].
    ///
    /// ```no_run
    /// # async fn run(consumer: jetstream::Consumer) -> Result<(), jetstream::Error> {
    /// let next = consumer.reset(100).await?;
    /// assert_eq!(next, 100);
    /// # Ok(()) }
    /// ```
    pub async fn reset(&self, sequence: u64) -> Result<u64> {
        let suffix = format!("CONSUMER.RESET.{}.{}", self.stream, self.name);
        let response: ResetResponse = self
            .js
            .request(&suffix, &ResetRequest { seq: sequence })
            .await
            .map_err(not_supported_before(&self.js, (2, 14)))?;
        self.set_info(response.info);
        Ok(response.reset_seq)
    }
}

/// Endpoints newer than the server get no reply (a timeout on 2.10) or no responder (which
/// reads as "JetStream not enabled"); either would mislead, so when the connected server is
/// older than `(major, minor)`, report [`ErrorKind::NotSupported`] instead.
fn not_supported_before<'a>(
    js: &'a JetStream,
    (major, minor): (u64, u64),
) -> impl Fn(Error) -> Error + 'a {
    move |e| {
        let unanswered = matches!(
            e.kind(),
            ErrorKind::Timeout | ErrorKind::NoResponders | ErrorKind::JetStreamNotEnabled
        ) && e.api_error().is_none();
        let version = js.client().server_info().version;
        match parse_version(&version) {
            Some(v) if unanswered && v < (major, minor) => Error::msg(
                ErrorKind::NotSupported,
                format!("this needs nats-server {major}.{minor} or newer, connected to {version}"),
            ),
            _ => e,
        }
    }
}

/// `"2.10.26"` (or `"2.11.0-beta.1"`) -> `(2, 10)`.
fn parse_version(version: &str) -> Option<(u64, u64)> {
    let mut parts = version.trim_start_matches('v').split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts
        .next()?
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    Some((major, minor))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn consumer_is_send_sync_clone() {
        fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
        assert_send_sync::<Consumer>();
    }

    #[test]
    fn server_versions() {
        assert_eq!(parse_version("2.10.26"), Some((2, 10)));
        assert_eq!(parse_version("v2.11.0-beta.1"), Some((2, 11)));
        assert_eq!(parse_version("2.14"), Some((2, 14)));
        assert_eq!(parse_version(""), None);
        assert!(parse_version("2.10.26").unwrap() < (2, 11));
    }

    #[test]
    fn control_bodies() {
        let t: Timestamp = "2030-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(
            serde_json::to_string(&PauseRequest {
                pause_until: Some(t)
            })
            .unwrap(),
            r#"{"pause_until":"2030-01-01T00:00:00Z"}"#
        );
        assert_eq!(
            serde_json::to_string(&PauseRequest { pause_until: None }).unwrap(),
            "{}"
        );
        assert_eq!(
            serde_json::to_string(&ResetRequest { seq: 0 }).unwrap(),
            "{}"
        );
        assert_eq!(
            serde_json::to_string(&ResetRequest { seq: 5 }).unwrap(),
            r#"{"seq":5}"#
        );
        let paused: ConsumerPauseResponse = serde_json::from_str(
            r#"{"type":"io.nats.jetstream.api.v1.consumer_pause_response","paused":true,
                "pause_until":"2030-01-01T00:00:00Z","pause_remaining":1000000000}"#,
        )
        .unwrap();
        assert!(paused.paused);
        assert_eq!(paused.pause_until, Some(t));
        assert_eq!(paused.pause_remaining, Some(Duration::from_secs(1)));
        let reset: ResetResponse = serde_json::from_str(
            r#"{"stream_name":"S","name":"C","config":{"ack_policy":"explicit"},"reset_seq":7}"#,
        )
        .unwrap();
        assert_eq!(reset.reset_seq, 7);
        assert_eq!(reset.info.name, "C");
    }
}
