//! Stream management on the [`JetStream`] context: create, update, get, delete, list.

use bytes::Bytes;

use crate::context::JetStream;
use crate::error::{Error, ErrorKind, Result};
use crate::list::{StreamList, StreamNames};
use crate::stream::{check_success, Stream};
use crate::types::api::{ListRequest, StreamNamesResponse, SuccessResponse};
use crate::types::{StreamConfig, StreamInfo, StreamSource};
use crate::validate::{validate_consumer_name, validate_stream_name, validate_subject};

/// Checks a stream configuration before it is sent: the name, every subject and the names of
/// the mirror and sources.
fn validate_stream_config(config: &StreamConfig) -> Result<()> {
    validate_stream_name(&config.name)?;
    for subject in &config.subjects {
        validate_subject(subject, true)?;
    }
    if config.mirror.is_some() && !config.subjects.is_empty() {
        return Err(Error::msg(
            ErrorKind::InvalidConfig,
            format!("stream {:?}: a mirror can not have subjects", config.name),
        ));
    }
    if config.mirror.is_some() && !config.sources.is_empty() {
        return Err(Error::msg(
            ErrorKind::InvalidConfig,
            format!("stream {:?}: a mirror can not have sources", config.name),
        ));
    }
    for source in config.mirror.iter().chain(&config.sources) {
        validate_source(source)?;
    }
    if let Some(transform) = &config.subject_transform {
        validate_subject(&transform.source, true)?;
    }
    Ok(())
}

fn validate_source(source: &StreamSource) -> Result<()> {
    validate_stream_name(&source.name)?;
    let invalid = |why: &str| {
        Err(Error::msg(
            ErrorKind::InvalidConfig,
            format!("source {:?}: {why}", source.name),
        ))
    };
    if source.domain.is_some() && source.external.is_some() {
        return invalid("domain and external can not both be set");
    }
    if let Some(domain) = &source.domain {
        // The domain becomes one token of the API prefix `$JS.<domain>.API`.
        let one_token =
            !domain.contains('.') && validate_subject(&format!("$JS.{domain}.API"), false).is_ok();
        if !one_token {
            return invalid("the domain must be one subject token");
        }
    }
    if let Some(consumer) = &source.consumer {
        validate_consumer_name(&consumer.name)?;
        validate_subject(&consumer.deliver_subject, false)?;
        if source.opt_start_seq != 0
            || source.opt_start_time.is_some()
            || source.filter_subject.is_some()
        {
            return invalid(
                "a durable consumer source can not have opt_start_seq, opt_start_time or \
                 filter_subject",
            );
        }
    }
    if let Some(filter) = &source.filter_subject {
        validate_subject(filter, true)?;
        if !source.subject_transforms.is_empty() {
            return Err(Error::msg(
                ErrorKind::InvalidConfig,
                format!(
                    "source {:?}: filter_subject and subject_transforms are exclusive",
                    source.name
                ),
            ));
        }
    }
    Ok(())
}

/// The configuration as sent: each source's `domain` turned into its `external` prefix.
fn resolve_domains(config: &StreamConfig) -> Result<StreamConfig> {
    let mut config = config.clone();
    if let Some(mirror) = &config.mirror {
        config.mirror = Some(mirror.resolve_domain()?);
    }
    config.sources = config
        .sources
        .iter()
        .map(StreamSource::resolve_domain)
        .collect::<Result<_>>()?;
    Ok(config)
}

/// Checks and sends a stream create or update (`STREAM.CREATE` / `STREAM.UPDATE`).
async fn send_stream_config(js: &JetStream, verb: &str, config: &StreamConfig) -> Result<Stream> {
    validate_stream_config(config)?;
    let sent = resolve_domains(config)?;
    let suffix = format!("STREAM.{verb}.{}", sent.name);
    let info: StreamInfo = js.request(&suffix, &sent).await?;
    check_features_kept(&sent, &info)?;
    Ok(Stream::new(js.clone(), info))
}

/// Servers silently drop fields they do not know: a transform (2.10) or a durable consumer
/// source (2.14) that was sent but is not in the reply was not applied.
fn check_features_kept(sent: &StreamConfig, info: &StreamInfo) -> Result<()> {
    let dropped = |what: &str| {
        Err(Error::msg(
            ErrorKind::NotSupported,
            format!(
                "stream {:?}: the server ignored {what} (needs server 2.10+)",
                sent.name
            ),
        ))
    };
    if sent.subject_transform.is_some() && info.config.subject_transform.is_none() {
        return dropped("subject_transform");
    }
    let sent_transforms = sent
        .sources
        .iter()
        .chain(&sent.mirror)
        .any(|s| !s.subject_transforms.is_empty());
    let kept_transforms = info
        .config
        .sources
        .iter()
        .chain(&info.config.mirror)
        .any(|s| !s.subject_transforms.is_empty());
    if sent_transforms && !kept_transforms {
        return dropped("source subject transforms");
    }
    let consumer_sources = |c: &StreamConfig| {
        c.sources
            .iter()
            .chain(&c.mirror)
            .filter(|s| s.consumer.is_some())
            .count()
    };
    if consumer_sources(sent) > consumer_sources(&info.config) {
        return Err(Error::msg(
            ErrorKind::NotSupported,
            format!(
                "stream {:?}: the server ignored the durable consumer of a source (needs \
                 server 2.14+)",
                sent.name
            ),
        ));
    }
    Ok(())
}

impl JetStream {
    /// Creates a stream and returns a handle to it.
    ///
    /// Creating a stream that exists with the same configuration succeeds (the server treats
    /// it as a no-op); with a different one it fails with [`ErrorKind::StreamNameInUse`].
    /// Invalid names and subjects are refused before sending ([`ErrorKind::InvalidName`],
    /// [`ErrorKind::InvalidSubject`]).
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
    /// use jetstream::{StorageType, StreamConfig};
    ///
    /// let stream = js
    ///     .create_stream(StreamConfig {
    ///         name: "ORDERS".into(),
    ///         subjects: vec!["orders.>".into()],
    ///         storage: StorageType::Memory,
    ///         ..Default::default()
    ///     })
    ///     .await?;
    /// assert_eq!(stream.name(), "ORDERS");
    /// # Ok(()) }
    /// ```
    pub async fn create_stream(&self, config: StreamConfig) -> Result<Stream> {
        send_stream_config(self, "CREATE", &config).await
    }

    /// Updates a stream's configuration; missing: [`ErrorKind::StreamNotFound`]. The server
    /// refuses changes it does not allow (storage, name, ...) with
    /// [`ErrorKind::InvalidConfig`] or [`ErrorKind::Api`].
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
    /// let stream = js.stream("ORDERS").await?;
    /// let mut config = stream.cached_info().config.clone();
    /// config.max_msgs = 10_000;
    /// js.update_stream(config).await?;
    /// # Ok(()) }
    /// ```
    pub async fn update_stream(&self, config: StreamConfig) -> Result<Stream> {
        send_stream_config(self, "UPDATE", &config).await
    }

    /// Updates the stream, or creates it if it does not exist.
    pub async fn create_or_update_stream(&self, config: StreamConfig) -> Result<Stream> {
        match self.update_stream(config.clone()).await {
            Err(e) if e.kind() == ErrorKind::StreamNotFound => self.create_stream(config).await,
            other => other,
        }
    }

    /// A handle to the stream named `config.name`: the existing stream as it is, or, when
    /// there is none, a new one created with `config`.
    ///
    /// An existing stream is returned even if its configuration differs from `config`
    /// (nothing is updated; compare `cached_info().config` if that matters, or use
    /// [`create_or_update_stream`](Self::create_or_update_stream)). Safe to race: when
    /// another client creates the stream between the lookup and the create, its stream is
    /// returned. `config` is checked before anything is sent, as for
    /// [`create_stream`](Self::create_stream).
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
    /// use jetstream::StreamConfig;
    ///
    /// let stream = js
    ///     .get_or_create_stream(StreamConfig {
    ///         name: "EVENTS".into(),
    ///         subjects: vec!["events.>".into()],
    ///         ..Default::default()
    ///     })
    ///     .await?;
    /// println!("{} messages", stream.cached_info().state.messages);
    /// # Ok(()) }
    /// ```
    pub async fn get_or_create_stream(&self, config: StreamConfig) -> Result<Stream> {
        validate_stream_config(&config)?;
        match self.stream(&config.name).await {
            Err(e) if e.kind() == ErrorKind::StreamNotFound => {}
            found => return found,
        }
        match self.create_stream(config.clone()).await {
            // Created by someone else since the lookup, with another configuration.
            Err(e) if e.kind() == ErrorKind::StreamNameInUse => self.stream(&config.name).await,
            created => created,
        }
    }

    /// A handle to the stream `name` without asking the server anything: no request, and no
    /// check that the stream exists (the first call that needs it reports
    /// [`ErrorKind::StreamNotFound`]). Only the name is checked
    /// ([`ErrorKind::InvalidName`]).
    ///
    /// For code that already knows the stream is there and wants to save the round trip
    /// (nats.go gets this effect from `Consumer` calls that take a stream name). The handle's
    /// [`cached_info`](Stream::cached_info) is empty (a default `StreamInfo` with only
    /// `config.name` set) until [`info`](Stream::info) is called; since the cache does not
    /// say `allow_direct`, message gets go to the stream leader until then.
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
    /// let stream = js.stream_no_info("ORDERS")?;
    /// let msg = stream.get_msg(1).await?; // the first request
    /// assert_eq!(stream.cached_info().state.messages, 0); // not fetched yet
    /// let info = stream.info().await?; // now cached
    /// # let _ = (msg, info);
    /// # Ok(()) }
    /// ```
    pub fn stream_no_info(&self, name: impl AsRef<str>) -> Result<Stream> {
        let name = name.as_ref();
        validate_stream_name(name)?;
        Ok(Stream::without_info(self.clone(), name))
    }

    /// A handle to an existing stream (fetches its info); missing:
    /// [`ErrorKind::StreamNotFound`].
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
    /// let stream = js.stream("ORDERS").await?;
    /// println!("{:?}", stream.cached_info().state);
    /// # Ok(()) }
    /// ```
    pub async fn stream(&self, name: impl AsRef<str>) -> Result<Stream> {
        let name = name.as_ref();
        validate_stream_name(name)?;
        let info: StreamInfo = self
            .request_raw(&format!("STREAM.INFO.{name}"), Bytes::new())
            .await?;
        Ok(Stream::new(self.clone(), info))
    }

    /// Deletes a stream and all its messages and consumers; missing:
    /// [`ErrorKind::StreamNotFound`].
    pub async fn delete_stream(&self, name: impl AsRef<str>) -> Result<()> {
        let name = name.as_ref();
        validate_stream_name(name)?;
        let response: SuccessResponse = self
            .request_raw(&format!("STREAM.DELETE.{name}"), Bytes::new())
            .await?;
        check_success(response.success, "stream delete")
    }

    /// Lists the account's streams with their infos, page by page (256 per page);
    /// `.subject(filter)` keeps those capturing matching subjects.
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
    /// use futures_util::TryStreamExt;
    ///
    /// let infos: Vec<jetstream::StreamInfo> = js.list_streams().try_collect().await?;
    /// # Ok(()) }
    /// ```
    pub fn list_streams(&self) -> StreamList {
        StreamList::new(self.clone())
    }

    /// Lists the names of the account's streams, page by page (1024 per page);
    /// `.subject(filter)` keeps those capturing matching subjects.
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
    /// use futures_util::StreamExt;
    ///
    /// let mut names = js.stream_names().subject("orders.*");
    /// while let Some(name) = names.next().await {
    ///     println!("{}", name?);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stream_names(&self) -> StreamNames {
        StreamNames::new(self.clone())
    }

    /// The name of the stream that captures `subject` (wildcards allowed: the first stream
    /// whose subjects overlap it); none: [`ErrorKind::StreamNotFound`].
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
    /// let name = js.stream_name_by_subject("orders.new").await?;
    /// # let _ = name;
    /// # Ok(()) }
    /// ```
    pub async fn stream_name_by_subject(&self, subject: impl AsRef<str>) -> Result<String> {
        let subject = subject.as_ref();
        validate_subject(subject, true)?;
        let request = ListRequest {
            offset: 0,
            subject: Some(subject.to_string()),
        };
        let response: StreamNamesResponse = self.request("STREAM.NAMES", &request).await?;
        response.streams.into_iter().next().ok_or_else(|| {
            Error::msg(
                ErrorKind::StreamNotFound,
                format!("no stream captures subject {subject:?}"),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::SubjectTransform;

    fn kind(r: Result<()>) -> Option<ErrorKind> {
        r.err().map(|e| e.kind())
    }

    #[test]
    fn stream_configs_are_checked_before_sending() {
        let ok = StreamConfig {
            name: "S".into(),
            subjects: vec!["a.>".into(), "b.*.c".into()],
            ..Default::default()
        };
        assert_eq!(kind(validate_stream_config(&ok)), None);
        let bad_name = StreamConfig {
            name: "a.b".into(),
            ..Default::default()
        };
        assert_eq!(
            kind(validate_stream_config(&bad_name)),
            Some(ErrorKind::InvalidName)
        );
        let empty_name = StreamConfig::default();
        assert_eq!(
            kind(validate_stream_config(&empty_name)),
            Some(ErrorKind::InvalidName)
        );
        let bad_subject = StreamConfig {
            name: "S".into(),
            subjects: vec!["a..b".into()],
            ..Default::default()
        };
        assert_eq!(
            kind(validate_stream_config(&bad_subject)),
            Some(ErrorKind::InvalidSubject)
        );
        let mirror_with_subjects = StreamConfig {
            name: "M".into(),
            subjects: vec!["m".into()],
            mirror: Some(StreamSource {
                name: "S".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            kind(validate_stream_config(&mirror_with_subjects)),
            Some(ErrorKind::InvalidConfig)
        );
        let bad_source = StreamConfig {
            name: "M".into(),
            sources: vec![StreamSource {
                name: "S".into(),
                filter_subject: Some("a".into()),
                subject_transforms: vec![SubjectTransform::default()],
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(
            kind(validate_stream_config(&bad_source)),
            Some(ErrorKind::InvalidConfig)
        );

        let with_source = |source: StreamSource| StreamConfig {
            name: "C".into(),
            sources: vec![StreamSource {
                name: "S".into(),
                ..source
            }],
            ..Default::default()
        };
        let durable = crate::types::StreamConsumerSource {
            name: "c".into(),
            deliver_subject: "d.c".into(),
        };
        let cases = [
            (
                StreamSource {
                    domain: Some("hub".into()),
                    ..Default::default()
                },
                None,
            ),
            (
                StreamSource {
                    domain: Some("hub".into()),
                    external: Some(crate::types::External::default()),
                    ..Default::default()
                },
                Some(ErrorKind::InvalidConfig),
            ),
            (
                StreamSource {
                    domain: Some("a.b".into()),
                    ..Default::default()
                },
                Some(ErrorKind::InvalidConfig),
            ),
            (
                StreamSource {
                    domain: Some(String::new()),
                    ..Default::default()
                },
                Some(ErrorKind::InvalidConfig),
            ),
            (
                StreamSource {
                    consumer: Some(durable.clone()),
                    ..Default::default()
                },
                None,
            ),
            (
                StreamSource {
                    consumer: Some(durable.clone()),
                    opt_start_seq: 5,
                    ..Default::default()
                },
                Some(ErrorKind::InvalidConfig),
            ),
            (
                StreamSource {
                    consumer: Some(durable.clone()),
                    filter_subject: Some("a".into()),
                    ..Default::default()
                },
                Some(ErrorKind::InvalidConfig),
            ),
            (
                StreamSource {
                    consumer: Some(crate::types::StreamConsumerSource {
                        name: "a.b".into(),
                        ..durable.clone()
                    }),
                    ..Default::default()
                },
                Some(ErrorKind::InvalidName),
            ),
            (
                StreamSource {
                    consumer: Some(crate::types::StreamConsumerSource {
                        deliver_subject: "d.*".into(),
                        ..durable.clone()
                    }),
                    ..Default::default()
                },
                Some(ErrorKind::InvalidSubject),
            ),
        ];
        for (source, expected) in cases {
            let config = with_source(source.clone());
            assert_eq!(
                kind(validate_stream_config(&config)),
                expected,
                "{source:?}"
            );
        }
    }
}
