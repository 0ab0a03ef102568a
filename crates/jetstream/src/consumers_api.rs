//! Consumer management on the [`JetStream`] context (with a stream name) and on a [`Stream`]
//! handle (scoped to that stream).

use bytes::Bytes;

use crate::consumer::Consumer;
use crate::context::JetStream;
use crate::error::{Error, ErrorKind, Result};
use crate::list::{ConsumerList, ConsumerNames};
use crate::stream::{check_success, Stream};
use crate::types::api::{ConsumerAction, CreateConsumerRequest, SuccessResponse};
use crate::types::{ConsumerConfig, ConsumerInfo};
use crate::validate::{validate_consumer_name, validate_stream_name, validate_subject};

/// Checks a consumer configuration before it is sent, and returns the consumer's name
/// (`name`, else `durable_name`; `None` for an unnamed ephemeral).
fn validate_consumer_config(config: &ConsumerConfig) -> Result<Option<&str>> {
    if let Some(name) = &config.name {
        validate_consumer_name(name)?;
    }
    if let Some(durable) = &config.durable_name {
        validate_consumer_name(durable)?;
    }
    if let (Some(name), Some(durable)) = (&config.name, &config.durable_name) {
        if name != durable {
            return Err(Error::msg(
                ErrorKind::InvalidConfig,
                format!("consumer name {name:?} and durable_name {durable:?} differ"),
            ));
        }
    }
    if config.filter_subject.is_some() && !config.filter_subjects.is_empty() {
        return Err(Error::msg(
            ErrorKind::InvalidConfig,
            "filter_subject and filter_subjects can not both be set",
        ));
    }
    for filter in config.filter_subject.iter().chain(&config.filter_subjects) {
        validate_subject(filter, true)?;
    }
    if config.max_deliver > 0 && config.backoff.len() as i64 >= config.max_deliver {
        return Err(Error::msg(
            ErrorKind::InvalidConfig,
            "max_deliver must be greater than the number of backoff delays",
        ));
    }
    Ok(config.name.as_deref().or(config.durable_name.as_deref()))
}

/// Whether a filter can go into the create subject as is (no wildcard tokens).
fn is_literal(subject: &str) -> bool {
    !subject.split('.').any(|t| t == "*" || t == ">")
}

impl JetStream {
    async fn upsert_consumer(
        &self,
        stream: &str,
        config: ConsumerConfig,
        action: ConsumerAction,
    ) -> Result<Consumer> {
        validate_stream_name(stream)?;
        let name = validate_consumer_config(&config)?;
        let suffix = match (name, config.filter_subject.as_deref()) {
            // The filtered form lets operators grant create permission per filter subject;
            // a wildcard filter can not be part of a subject a client publishes to.
            (Some(name), Some(filter)) if is_literal(filter) => {
                format!("CONSUMER.CREATE.{stream}.{name}.{filter}")
            }
            (Some(name), _) => format!("CONSUMER.CREATE.{stream}.{name}"),
            (None, _) if action == ConsumerAction::Update => {
                return Err(Error::msg(
                    ErrorKind::InvalidConfig,
                    "update_consumer needs a name or durable_name",
                ));
            }
            // Unnamed ephemeral: the server picks the name.
            (None, _) => format!("CONSUMER.CREATE.{stream}"),
        };
        let request = CreateConsumerRequest {
            stream_name: stream,
            config: &config,
            action,
        };
        let info: ConsumerInfo = self.request(&suffix, &request).await?;
        if !config.filter_subjects.is_empty() && info.config.filter_subjects.is_empty() {
            return Err(Error::msg(
                ErrorKind::NotSupported,
                "the server ignored filter_subjects (needs server 2.10+)",
            ));
        }
        Ok(Consumer::new(self.clone(), info))
    }

    /// Creates a consumer on `stream` and returns a handle to it.
    ///
    /// The consumer is named by `config.name`, else `config.durable_name`; with neither it is
    /// an ephemeral consumer named by the server. Creating it again with the same
    /// configuration succeeds; with a different one it fails with
    /// [`ErrorKind::ConsumerExists`]. A missing stream: [`ErrorKind::StreamNotFound`].
    /// Invalid names, filters and configurations are refused before sending
    /// ([`ErrorKind::InvalidName`], [`ErrorKind::InvalidSubject`],
    /// [`ErrorKind::InvalidConfig`]).
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
    /// use jetstream::ConsumerConfig;
    ///
    /// let consumer = js
    ///     .create_consumer(
    ///         "ORDERS",
    ///         ConsumerConfig {
    ///             durable_name: Some("processor".into()),
    ///             filter_subject: Some("orders.new".into()),
    ///             ..Default::default()
    ///         },
    ///     )
    ///     .await?;
    /// assert_eq!(consumer.name(), "processor");
    /// # Ok(()) }
    /// ```
    pub async fn create_consumer(
        &self,
        stream: impl AsRef<str>,
        config: ConsumerConfig,
    ) -> Result<Consumer> {
        self.upsert_consumer(stream.as_ref(), config, ConsumerAction::Create)
            .await
    }

    /// Creates the consumer, or updates it if it exists.
    pub async fn create_or_update_consumer(
        &self,
        stream: impl AsRef<str>,
        config: ConsumerConfig,
    ) -> Result<Consumer> {
        self.upsert_consumer(stream.as_ref(), config, ConsumerAction::CreateOrUpdate)
            .await
    }

    /// Updates an existing consumer (named by `config.name` or `config.durable_name`);
    /// missing: [`ErrorKind::ConsumerNotFound`]. Changes the server does not allow fail with
    /// [`ErrorKind::Api`] or [`ErrorKind::InvalidConfig`].
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
    /// let consumer = js.consumer("ORDERS", "processor").await?;
    /// let mut config = consumer.cached_info().config.clone();
    /// config.description = Some("processes new orders".into());
    /// js.update_consumer("ORDERS", config).await?;
    /// # Ok(()) }
    /// ```
    pub async fn update_consumer(
        &self,
        stream: impl AsRef<str>,
        config: ConsumerConfig,
    ) -> Result<Consumer> {
        self.upsert_consumer(stream.as_ref(), config, ConsumerAction::Update)
            .await
    }

    /// A handle to the consumer named by `config.name` (else `config.durable_name`) on
    /// `stream`: the existing consumer as it is, or, when there is none, a new one created
    /// with `config`.
    ///
    /// An existing consumer is returned even if its configuration differs from `config`
    /// (nothing is updated; use [`create_or_update_consumer`](Self::create_or_update_consumer)
    /// for that). Safe to race: when another client creates the consumer between the lookup
    /// and the create, its consumer is returned. A config without a name is refused
    /// ([`ErrorKind::InvalidConfig`]: an unnamed ephemeral consumer can not be looked up);
    /// a missing stream is [`ErrorKind::StreamNotFound`].
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
    /// use jetstream::ConsumerConfig;
    ///
    /// let consumer = js
    ///     .get_or_create_consumer(
    ///         "ORDERS",
    ///         ConsumerConfig {
    ///             durable_name: Some("processor".into()),
    ///             ..Default::default()
    ///         },
    ///     )
    ///     .await?;
    /// println!("{} pending", consumer.cached_info().num_pending);
    /// # Ok(()) }
    /// ```
    pub async fn get_or_create_consumer(
        &self,
        stream: impl AsRef<str>,
        config: ConsumerConfig,
    ) -> Result<Consumer> {
        let stream = stream.as_ref();
        validate_stream_name(stream)?;
        let Some(name) = validate_consumer_config(&config)?.map(str::to_string) else {
            return Err(Error::msg(
                ErrorKind::InvalidConfig,
                "get_or_create_consumer needs a name or durable_name",
            ));
        };
        match self.consumer(stream, &name).await {
            Err(e) if e.kind() == ErrorKind::ConsumerNotFound => {}
            found => return found,
        }
        match self.create_consumer(stream, config).await {
            // Created by someone else since the lookup, with another configuration.
            Err(e) if e.kind() == ErrorKind::ConsumerExists => self.consumer(stream, &name).await,
            created => created,
        }
    }

    /// A handle to an existing consumer (fetches its info); missing:
    /// [`ErrorKind::ConsumerNotFound`], or [`ErrorKind::StreamNotFound`] without the stream.
    pub async fn consumer(
        &self,
        stream: impl AsRef<str>,
        name: impl AsRef<str>,
    ) -> Result<Consumer> {
        let (stream, name) = (stream.as_ref(), name.as_ref());
        validate_stream_name(stream)?;
        validate_consumer_name(name)?;
        let info: ConsumerInfo = self
            .request_raw(&format!("CONSUMER.INFO.{stream}.{name}"), Bytes::new())
            .await?;
        Ok(Consumer::new(self.clone(), info))
    }

    /// Deletes a consumer; missing: [`ErrorKind::ConsumerNotFound`].
    pub async fn delete_consumer(
        &self,
        stream: impl AsRef<str>,
        name: impl AsRef<str>,
    ) -> Result<()> {
        let (stream, name) = (stream.as_ref(), name.as_ref());
        validate_stream_name(stream)?;
        validate_consumer_name(name)?;
        let response: SuccessResponse = self
            .request_raw(&format!("CONSUMER.DELETE.{stream}.{name}"), Bytes::new())
            .await?;
        check_success(response.success, "consumer delete")
    }
}

/// Consumer management scoped to this stream: the same calls as on [`JetStream`], without
/// the stream argument.
impl Stream {
    /// Creates a consumer on this stream; see [`JetStream::create_consumer`].
    ///
    /// ```no_run
    /// # async fn run(stream: jetstream::Stream) -> Result<(), jetstream::Error> {
    /// use jetstream::{AckPolicy, ConsumerConfig};
    ///
    /// let consumer = stream
    ///     .create_consumer(ConsumerConfig {
    ///         durable_name: Some("audit".into()),
    ///         ack_policy: AckPolicy::None,
    ///         ..Default::default()
    ///     })
    ///     .await?;
    /// # let _ = consumer;
    /// # Ok(()) }
    /// ```
    pub async fn create_consumer(&self, config: ConsumerConfig) -> Result<Consumer> {
        self.js.create_consumer(&*self.name, config).await
    }

    /// Creates or updates a consumer on this stream; see
    /// [`JetStream::create_or_update_consumer`].
    pub async fn create_or_update_consumer(&self, config: ConsumerConfig) -> Result<Consumer> {
        self.js.create_or_update_consumer(&*self.name, config).await
    }

    /// Updates a consumer of this stream; see [`JetStream::update_consumer`].
    pub async fn update_consumer(&self, config: ConsumerConfig) -> Result<Consumer> {
        self.js.update_consumer(&*self.name, config).await
    }

    /// The existing consumer of this stream named by `config`, or a new one created with
    /// `config`; see [`JetStream::get_or_create_consumer`].
    ///
    /// ```no_run
    /// # async fn run(stream: jetstream::Stream) -> Result<(), jetstream::Error> {
    /// use jetstream::ConsumerConfig;
    ///
    /// let consumer = stream
    ///     .get_or_create_consumer(ConsumerConfig {
    ///         durable_name: Some("audit".into()),
    ///         ..Default::default()
    ///     })
    ///     .await?;
    /// # let _ = consumer;
    /// # Ok(()) }
    /// ```
    pub async fn get_or_create_consumer(&self, config: ConsumerConfig) -> Result<Consumer> {
        self.js.get_or_create_consumer(&*self.name, config).await
    }

    /// A handle to a consumer of this stream; missing: [`ErrorKind::ConsumerNotFound`].
    pub async fn consumer(&self, name: impl AsRef<str>) -> Result<Consumer> {
        self.js.consumer(&*self.name, name).await
    }

    /// Deletes a consumer of this stream; missing: [`ErrorKind::ConsumerNotFound`].
    pub async fn delete_consumer(&self, name: impl AsRef<str>) -> Result<()> {
        self.js.delete_consumer(&*self.name, name).await
    }

    /// Lists this stream's consumers with their infos, page by page (256 per page).
    ///
    /// ```no_run
    /// # async fn run(stream: jetstream::Stream) -> Result<(), jetstream::Error> {
    /// use futures_util::TryStreamExt;
    ///
    /// let infos: Vec<jetstream::ConsumerInfo> = stream.list_consumers().try_collect().await?;
    /// # Ok(()) }
    /// ```
    pub fn list_consumers(&self) -> ConsumerList {
        ConsumerList::new(self.js.clone(), &self.name)
    }

    /// Lists the names of this stream's consumers, page by page (1024 per page).
    pub fn consumer_names(&self) -> ConsumerNames {
        ConsumerNames::new(self.js.clone(), &self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::StreamConfig;
    use std::time::Duration;

    /// Never run: checks at compile time that the management futures are `Send`, so they
    /// can be spawned.
    #[allow(dead_code)]
    fn futures_are_send(js: JetStream, stream: Stream, consumer: Consumer) {
        fn is_send<T: Send + 'static>(_: T) {}
        let (j, s, c) = (js.clone(), stream.clone(), consumer.clone());
        is_send(async move {
            let _ = j.create_stream(StreamConfig::default()).await;
            let _ = j.update_stream(StreamConfig::default()).await;
            let _ = j.create_or_update_stream(StreamConfig::default()).await;
            let _ = j.stream("S").await;
            let _ = j.delete_stream(String::from("S")).await;
            let _ = j.stream_name_by_subject("s").await;
            let _ = j.create_consumer("S", ConsumerConfig::default()).await;
            let _ = j.update_consumer("S", ConsumerConfig::default()).await;
            let _ = j
                .create_or_update_consumer("S", ConsumerConfig::default())
                .await;
            let _ = j.consumer("S", "C").await;
            let _ = j.get_or_create_stream(StreamConfig::default()).await;
            let _ = j
                .get_or_create_consumer("S", ConsumerConfig::default())
                .await;
            let _ = s.get_or_create_consumer(ConsumerConfig::default()).await;
            let _ = j.delete_consumer("S", "C").await;
            let _ = s.info().await;
            let _ = s.info_with().subjects_filter(">").await;
            let _ = s.purge().keep(1).await;
            let _ = s.get_msg(1).await;
            let _ = s.get_last_msg_for_subject("s").await;
            let _ = s.get_next_msg_for_subject("s", 1).await;
            let _ = s.delete_msg(1).await;
            let _ = s.secure_delete_msg(1).await;
            let _ = s.create_consumer(ConsumerConfig::default()).await;
            let _ = s.consumer("C").await;
            let _ = s.delete_consumer("C").await;
            let _ = c.info().await;
            let _ = c.pause(jiff::Timestamp::UNIX_EPOCH).await;
            let _ = c.resume().await;
            let _ = c.unpin("g").await;
            let _ = c.reset(0).await;
        });
        is_send(js.list_streams());
        is_send(js.stream_names());
        is_send(stream.list_consumers());
        is_send(stream.consumer_names());
    }

    fn kind(config: ConsumerConfig) -> Option<ErrorKind> {
        validate_consumer_config(&config).err().map(|e| e.kind())
    }

    #[test]
    fn consumer_configs_are_checked_before_sending() {
        assert_eq!(kind(ConsumerConfig::default()), None);
        let named = ConsumerConfig {
            name: Some("c".into()),
            durable_name: Some("c".into()),
            filter_subjects: vec!["a.*".into(), "b.>".into()],
            ..Default::default()
        };
        assert_eq!(validate_consumer_config(&named).ok().flatten(), Some("c"));
        let durable = ConsumerConfig {
            durable_name: Some("d".into()),
            ..Default::default()
        };
        assert_eq!(validate_consumer_config(&durable).ok().flatten(), Some("d"));
        let cases = [
            (
                ConsumerConfig {
                    name: Some("a.b".into()),
                    ..Default::default()
                },
                ErrorKind::InvalidName,
            ),
            (
                ConsumerConfig {
                    durable_name: Some("a b".into()),
                    ..Default::default()
                },
                ErrorKind::InvalidName,
            ),
            (
                ConsumerConfig {
                    name: Some("a".into()),
                    durable_name: Some("b".into()),
                    ..Default::default()
                },
                ErrorKind::InvalidConfig,
            ),
            (
                ConsumerConfig {
                    filter_subject: Some("a".into()),
                    filter_subjects: vec!["b".into()],
                    ..Default::default()
                },
                ErrorKind::InvalidConfig,
            ),
            (
                ConsumerConfig {
                    filter_subjects: vec!["a".into(), "".into()],
                    ..Default::default()
                },
                ErrorKind::InvalidSubject,
            ),
            (
                ConsumerConfig {
                    filter_subject: Some("a.>.b".into()),
                    ..Default::default()
                },
                ErrorKind::InvalidSubject,
            ),
            (
                ConsumerConfig {
                    max_deliver: 2,
                    backoff: vec![Duration::from_secs(1); 2],
                    ..Default::default()
                },
                ErrorKind::InvalidConfig,
            ),
        ];
        for (config, expected) in cases {
            assert_eq!(kind(config.clone()), Some(expected), "{config:?}");
        }
    }
}
