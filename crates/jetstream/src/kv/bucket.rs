//! Bucket management on the [`JetStream`] context: create, update, bind, delete, list.

use std::pin::Pin;
use std::task::{Context, Poll};

use super::config::{same_apart_from_legacy, KeyValueConfig};
use super::status::KeyValueStatus;
use super::{bucket_not_found, KeyValue, STREAM_PREFIX};
use crate::context::JetStream;
use crate::error::{Error, ErrorKind, Result};
use crate::list::{BucketNames, StreamList, StreamNames};
use crate::types::StreamConfig;
use crate::validate::validate_bucket_name;

/// The subjects every bucket's stream captures, for listings.
const ALL_BUCKETS: &str = "$KV.*.>";

impl JetStream {
    /// Creates a Key/Value bucket and returns a handle to it.
    ///
    /// Creating a bucket that exists with the same configuration succeeds; with another one
    /// it fails with [`ErrorKind::BucketExists`]. Invalid names and settings are refused
    /// before sending ([`ErrorKind::InvalidName`], [`ErrorKind::InvalidConfig`]);
    /// `limit_marker_ttl` needs server 2.11+ ([`ErrorKind::NotSupported`]).
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
    /// use jetstream::KeyValueConfig;
    ///
    /// let kv = js
    ///     .create_key_value(KeyValueConfig {
    ///         bucket: "profiles".into(),
    ///         history: 10,
    ///         ..Default::default()
    ///     })
    ///     .await?;
    /// # let _ = kv;
    /// # Ok(()) }
    /// ```
    pub async fn create_key_value(&self, config: KeyValueConfig) -> Result<KeyValue> {
        let stream_config = self.bucket_stream_config(&config).await?;
        let stream = match self.create_stream(stream_config.clone()).await {
            Ok(stream) => stream,
            Err(e) if e.kind() == ErrorKind::StreamNameInUse => {
                self.repair_or_refuse(e, &config.bucket, stream_config)
                    .await?
            }
            Err(e) => return Err(e),
        };
        Ok(KeyValue::from_stream(&config.bucket, stream))
    }

    /// A bucket created by an old client may differ only by `discard: old` and no direct
    /// gets: update it to the desired configuration. Anything else: `BucketExists`.
    async fn repair_or_refuse(
        &self,
        in_use: Error,
        bucket: &str,
        desired: StreamConfig,
    ) -> Result<crate::Stream> {
        let existing = self.stream(&desired.name).await?;
        let mut existing_config = existing.cached_info().config.clone();
        existing_config.discard = desired.discard;
        existing_config.allow_direct = desired.allow_direct;
        if same_apart_from_legacy(&existing_config, &desired) {
            return self.update_stream(desired).await;
        }
        Err(in_use
            .with_kind(ErrorKind::BucketExists)
            .with_message(format!(
                "bucket {bucket:?} exists with a different configuration"
            )))
    }

    /// Updates a bucket's configuration; missing: [`ErrorKind::BucketNotFound`].
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
    /// use jetstream::KeyValueConfig;
    ///
    /// js.update_key_value(KeyValueConfig {
    ///     bucket: "profiles".into(),
    ///     history: 20,
    ///     ..Default::default()
    /// })
    /// .await?;
    /// # Ok(()) }
    /// ```
    pub async fn update_key_value(&self, config: KeyValueConfig) -> Result<KeyValue> {
        let stream_config = self.bucket_stream_config(&config).await?;
        let stream = self
            .update_stream(stream_config)
            .await
            .map_err(|e| bucket_not_found(e, &config.bucket))?;
        Ok(KeyValue::from_stream(&config.bucket, stream))
    }

    /// Updates the bucket, or creates it if it does not exist.
    pub async fn create_or_update_key_value(&self, config: KeyValueConfig) -> Result<KeyValue> {
        match self.update_key_value(config.clone()).await {
            Err(e) if e.kind() == ErrorKind::BucketNotFound => self.create_key_value(config).await,
            other => other,
        }
    }

    /// A handle to an existing bucket; missing (or a stream that is not a bucket):
    /// [`ErrorKind::BucketNotFound`].
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
    /// let kv = js.key_value("profiles").await?;
    /// # let _ = kv;
    /// # Ok(()) }
    /// ```
    pub async fn key_value(&self, bucket: impl AsRef<str>) -> Result<KeyValue> {
        let bucket = bucket.as_ref();
        validate_bucket_name(bucket)?;
        let stream = self
            .stream(format!("{STREAM_PREFIX}{bucket}"))
            .await
            .map_err(|e| bucket_not_found(e, bucket))?;
        if stream.cached_info().config.max_msgs_per_subject < 1 {
            return Err(Error::msg(
                ErrorKind::BucketNotFound,
                format!("stream {STREAM_PREFIX}{bucket} is not a Key/Value bucket"),
            ));
        }
        Ok(KeyValue::from_stream(bucket, stream))
    }

    /// Deletes a bucket and all its entries; missing: [`ErrorKind::BucketNotFound`].
    pub async fn delete_key_value(&self, bucket: impl AsRef<str>) -> Result<()> {
        let bucket = bucket.as_ref();
        validate_bucket_name(bucket)?;
        self.delete_stream(format!("{STREAM_PREFIX}{bucket}"))
            .await
            .map_err(|e| bucket_not_found(e, bucket))
    }

    /// The names of the account's buckets.
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
    /// use futures_util::TryStreamExt;
    ///
    /// let buckets: Vec<String> = js.key_value_store_names().try_collect().await?;
    /// # Ok(()) }
    /// ```
    pub fn key_value_store_names(&self) -> KeyValueNames {
        KeyValueNames {
            names: BucketNames::new(
                StreamNames::new(self.clone()).subject(ALL_BUCKETS),
                STREAM_PREFIX,
            ),
        }
    }

    /// The status of every bucket of the account.
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
    /// use futures_util::StreamExt;
    ///
    /// let mut stores = js.key_value_stores();
    /// while let Some(status) = stores.next().await {
    ///     let status = status?;
    ///     println!("{}: {} entries", status.bucket(), status.values());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn key_value_stores(&self) -> KeyValueStores {
        KeyValueStores {
            infos: StreamList::new(self.clone()).subject(ALL_BUCKETS),
        }
    }

    /// The bucket's stream configuration; checks the server's API level when limit markers
    /// are asked for.
    async fn bucket_stream_config(&self, config: &KeyValueConfig) -> Result<StreamConfig> {
        let stream_config = config.to_stream_config()?;
        if stream_config.allow_msg_ttl {
            let info = self.account_info().await?;
            if info.api.level < 1 {
                return Err(Error::msg(
                    ErrorKind::NotSupported,
                    "limit marker TTLs need server 2.11 or later",
                ));
            }
        }
        Ok(stream_config)
    }
}

/// The names of the account's buckets, from [`JetStream::key_value_store_names`]: a
/// [`Stream`](futures_core::Stream) of `Result<String>`.
#[derive(Debug)]
#[must_use = "a listing does nothing until polled"]
pub struct KeyValueNames {
    names: BucketNames,
}

impl futures_core::Stream for KeyValueNames {
    type Item = Result<String>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.names).poll_next(cx)
    }
}

/// The status of every bucket of the account, from [`JetStream::key_value_stores`]: a
/// [`Stream`](futures_core::Stream) of `Result<KeyValueStatus>`.
#[derive(Debug)]
#[must_use = "a listing does nothing until polled"]
pub struct KeyValueStores {
    infos: StreamList,
}

impl futures_core::Stream for KeyValueStores {
    type Item = Result<KeyValueStatus>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match Pin::new(&mut self.infos).poll_next(cx) {
                Poll::Ready(Some(Ok(info))) => {
                    if let Some(status) = KeyValueStatus::from_stream_info(info) {
                        return Poll::Ready(Some(Ok(status)));
                    }
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
