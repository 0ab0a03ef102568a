//! Push consumer management on the [`JetStream`] context and on a [`Stream`] handle: the
//! same requests as for pull consumers, with the push fields checked before sending and the
//! kind of the consumer checked on the way back.

use std::time::Duration;

use bytes::Bytes;

use super::PushConsumer;
use crate::context::JetStream;
use crate::error::{Error, ErrorKind, Result};
use crate::stream::Stream;
use crate::types::api::ConsumerAction;
use crate::types::{ConsumerConfig, ConsumerInfo};
use crate::validate::{validate_consumer_name, validate_stream_name, validate_subject};

/// The shortest idle heartbeat the server accepts.
pub(crate) const MIN_IDLE_HEARTBEAT: Duration = Duration::from_millis(100);

/// Checks the push fields of a consumer configuration before it is sent.
pub(crate) fn validate_push_config(config: &ConsumerConfig) -> Result<()> {
    let Some(deliver) = config.deliver_subject.as_deref() else {
        return Err(Error::msg(
            ErrorKind::InvalidConfig,
            "a push consumer needs a deliver_subject (without one it is a pull consumer)",
        ));
    };
    validate_subject(deliver, false).map_err(|e| {
        let text = format!("deliver_subject {deliver:?}: {e}");
        e.with_message(text)
    })?;
    if let Some(group) = config.deliver_group.as_deref() {
        nats_core::subject::validate_queue_group(group).map_err(|e| {
            Error::msg(
                ErrorKind::InvalidConfig,
                format!("deliver_group {group:?}: {}", e.message()),
            )
        })?;
    }
    if config.flow_control && config.idle_heartbeat.is_zero() {
        return Err(Error::msg(
            ErrorKind::InvalidConfig,
            "flow_control needs an idle_heartbeat",
        ));
    }
    if !config.idle_heartbeat.is_zero() && config.idle_heartbeat < MIN_IDLE_HEARTBEAT {
        return Err(Error::msg(
            ErrorKind::InvalidConfig,
            "idle_heartbeat must be at least 100 ms",
        ));
    }
    Ok(())
}

/// Refuses a pull consumer where a push consumer is needed.
fn check_push(info: &ConsumerInfo) -> Result<()> {
    if info.config.deliver_subject.is_none() {
        return Err(Error::msg(
            ErrorKind::ConsumerIsPullBased,
            format!(
                "consumer {:?} of stream {:?} is a pull consumer (it has no deliver_subject)",
                info.name, info.stream_name
            ),
        ));
    }
    Ok(())
}

impl JetStream {
    async fn upsert_push_consumer(
        &self,
        stream: &str,
        config: ConsumerConfig,
        action: ConsumerAction,
    ) -> Result<PushConsumer> {
        validate_push_config(&config)?;
        let info = self.upsert_consumer_info(stream, &config, action).await?;
        check_push(&info)?;
        Ok(PushConsumer::new(self.clone(), info))
    }

    /// Creates a push consumer on `stream` (as nats.go's `CreatePushConsumer`): the server
    /// sends its messages to `config.deliver_subject`, to be read with
    /// [`PushConsumer::consume`].
    ///
    /// Named and refused as [`create_consumer`](Self::create_consumer) is; besides, the
    /// push fields are checked before sending: no or an invalid `deliver_subject`
    /// ([`ErrorKind::InvalidConfig`], [`ErrorKind::InvalidSubject`]), an invalid
    /// `deliver_group`, `flow_control` without `idle_heartbeat`, or a heartbeat under 100 ms
    /// ([`ErrorKind::InvalidConfig`]). Set `idle_heartbeat`: without it, a consume loop can
    /// not tell that the server went quiet or that the consumer was deleted.
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
    /// use std::time::Duration;
    /// use jetstream::ConsumerConfig;
    ///
    /// let consumer = js
    ///     .create_push_consumer(
    ///         "ORDERS",
    ///         ConsumerConfig {
    ///             durable_name: Some("audit".into()),
    ///             deliver_subject: Some("deliver.audit".into()),
    ///             deliver_group: Some("auditors".into()),
    ///             idle_heartbeat: Duration::from_secs(5),
    ///             ..Default::default()
    ///         },
    ///     )
    ///     .await?;
    /// assert_eq!(consumer.name(), "audit");
    /// # Ok(()) }
    /// ```
    pub async fn create_push_consumer(
        &self,
        stream: impl AsRef<str>,
        config: ConsumerConfig,
    ) -> Result<PushConsumer> {
        self.upsert_push_consumer(stream.as_ref(), config, ConsumerAction::Create)
            .await
    }

    /// Updates an existing push consumer (named by `config.name` or `config.durable_name`);
    /// missing: [`ErrorKind::ConsumerNotFound`]. Checked as
    /// [`create_push_consumer`](Self::create_push_consumer) is.
    pub async fn update_push_consumer(
        &self,
        stream: impl AsRef<str>,
        config: ConsumerConfig,
    ) -> Result<PushConsumer> {
        self.upsert_push_consumer(stream.as_ref(), config, ConsumerAction::Update)
            .await
    }

    /// Creates the push consumer, or updates it if it exists. Checked as
    /// [`create_push_consumer`](Self::create_push_consumer) is.
    pub async fn create_or_update_push_consumer(
        &self,
        stream: impl AsRef<str>,
        config: ConsumerConfig,
    ) -> Result<PushConsumer> {
        self.upsert_push_consumer(stream.as_ref(), config, ConsumerAction::CreateOrUpdate)
            .await
    }

    /// A handle to an existing push consumer (fetches its info); missing:
    /// [`ErrorKind::ConsumerNotFound`]; a pull consumer (no `deliver_subject`):
    /// [`ErrorKind::ConsumerIsPullBased`].
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
    /// use jetstream::ErrorKind;
    ///
    /// match js.push_consumer("ORDERS", "processor").await {
    ///     Ok(push) => println!("delivers to {:?}", push.cached_info().config.deliver_subject),
    ///     Err(e) if e.kind() == ErrorKind::ConsumerIsPullBased => {
    ///         let pull = js.consumer("ORDERS", "processor").await?;
    ///         # let _ = pull;
    ///     }
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn push_consumer(
        &self,
        stream: impl AsRef<str>,
        name: impl AsRef<str>,
    ) -> Result<PushConsumer> {
        let (stream, name) = (stream.as_ref(), name.as_ref());
        validate_stream_name(stream)?;
        validate_consumer_name(name)?;
        let info: ConsumerInfo = self
            .request_raw(&format!("CONSUMER.INFO.{stream}.{name}"), Bytes::new())
            .await?;
        check_push(&info)?;
        Ok(PushConsumer::new(self.clone(), info))
    }
}

/// Push consumer management scoped to this stream.
impl Stream {
    /// Creates a push consumer on this stream; see [`JetStream::create_push_consumer`].
    ///
    /// ```no_run
    /// # async fn run(stream: jetstream::Stream) -> Result<(), jetstream::Error> {
    /// use std::time::Duration;
    /// use jetstream::ConsumerConfig;
    ///
    /// let consumer = stream
    ///     .create_push_consumer(ConsumerConfig {
    ///         durable_name: Some("audit".into()),
    ///         deliver_subject: Some("deliver.audit".into()),
    ///         idle_heartbeat: Duration::from_secs(5),
    ///         ..Default::default()
    ///     })
    ///     .await?;
    /// # let _ = consumer;
    /// # Ok(()) }
    /// ```
    pub async fn create_push_consumer(&self, config: ConsumerConfig) -> Result<PushConsumer> {
        self.js.create_push_consumer(&*self.name, config).await
    }

    /// Updates a push consumer of this stream; see [`JetStream::update_push_consumer`].
    pub async fn update_push_consumer(&self, config: ConsumerConfig) -> Result<PushConsumer> {
        self.js.update_push_consumer(&*self.name, config).await
    }

    /// Creates or updates a push consumer on this stream; see
    /// [`JetStream::create_or_update_push_consumer`].
    pub async fn create_or_update_push_consumer(
        &self,
        config: ConsumerConfig,
    ) -> Result<PushConsumer> {
        self.js
            .create_or_update_push_consumer(&*self.name, config)
            .await
    }

    /// A handle to a push consumer of this stream; see [`JetStream::push_consumer`].
    pub async fn push_consumer(&self, name: impl AsRef<str>) -> Result<PushConsumer> {
        self.js.push_consumer(&*self.name, name).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(config: ConsumerConfig) -> Option<ErrorKind> {
        validate_push_config(&config).err().map(|e| e.kind())
    }

    #[test]
    fn push_configs_are_checked_before_sending() {
        let ok = ConsumerConfig {
            deliver_subject: Some("deliver.here".into()),
            deliver_group: Some("workers".into()),
            flow_control: true,
            idle_heartbeat: Duration::from_secs(1),
            ..Default::default()
        };
        assert_eq!(kind(ok.clone()), None);
        let cases = [
            (
                ConsumerConfig {
                    deliver_subject: None,
                    ..ok.clone()
                },
                ErrorKind::InvalidConfig,
            ),
            (
                ConsumerConfig {
                    deliver_subject: Some("deliver.*".into()),
                    ..ok.clone()
                },
                ErrorKind::InvalidSubject,
            ),
            (
                ConsumerConfig {
                    deliver_subject: Some("a b".into()),
                    ..ok.clone()
                },
                ErrorKind::InvalidSubject,
            ),
            (
                ConsumerConfig {
                    deliver_group: Some("two words".into()),
                    ..ok.clone()
                },
                ErrorKind::InvalidConfig,
            ),
            (
                ConsumerConfig {
                    idle_heartbeat: Duration::ZERO,
                    ..ok.clone()
                },
                ErrorKind::InvalidConfig,
            ),
            (
                ConsumerConfig {
                    idle_heartbeat: Duration::from_millis(50),
                    flow_control: false,
                    ..ok.clone()
                },
                ErrorKind::InvalidConfig,
            ),
        ];
        for (config, expected) in cases {
            assert_eq!(kind(config.clone()), Some(expected), "{config:?}");
        }
    }
}
