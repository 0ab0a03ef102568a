//! Stream management on the [`JetStream`] context: create, update, get, delete, list.

use bytes::Bytes;

use crate::context::JetStream;
use crate::error::{Error, ErrorKind, Result};
use crate::list::{StreamList, StreamNames};
use crate::stream::{check_success, Stream};
use crate::types::api::{ListRequest, StreamNamesResponse, SuccessResponse};
use crate::types::{StreamConfig, StreamInfo, StreamSource};
use crate::validate::{validate_stream_name, validate_subject};

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

/// Servers before 2.10 silently drop fields they do not know; a transform that was sent but
/// is not in the reply was not applied.
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
        validate_stream_config(&config)?;
        let suffix = format!("STREAM.CREATE.{}", config.name);
        let info: StreamInfo = self.request(&suffix, &config).await?;
        check_features_kept(&config, &info)?;
        Ok(Stream::new(self.clone(), info))
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
        validate_stream_config(&config)?;
        let suffix = format!("STREAM.UPDATE.{}", config.name);
        let info: StreamInfo = self.request(&suffix, &config).await?;
        check_features_kept(&config, &info)?;
        Ok(Stream::new(self.clone(), info))
    }

    /// Updates the stream, or creates it if it does not exist.
    pub async fn create_or_update_stream(&self, config: StreamConfig) -> Result<Stream> {
        match self.update_stream(config.clone()).await {
            Err(e) if e.kind() == ErrorKind::StreamNotFound => self.create_stream(config).await,
            other => other,
        }
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
    }
}
