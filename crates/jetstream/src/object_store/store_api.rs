//! Object store management on the [`JetStream`] context: create, update, bind, delete and
//! list buckets.

use std::pin::Pin;
use std::task::{Context, Poll};

use super::{ObjectStore, ObjectStoreConfig, ObjectStoreStatus, STREAM_PREFIX};
use crate::error::{Error, ErrorKind, Result};
use crate::list::{BucketNames, StreamList};
use crate::validate::validate_bucket_name;
use crate::JetStream;

/// Filter that selects the streams of object stores.
const CHUNKS_FILTER: &str = "$O.*.C.>";

fn stream_name(bucket: &str) -> String {
    format!("{STREAM_PREFIX}{bucket}")
}

/// Maps stream errors of bucket management to bucket kinds.
fn bucket_kind(e: Error, bucket: &str) -> Error {
    match e.kind() {
        ErrorKind::StreamNotFound => e
            .with_kind(ErrorKind::BucketNotFound)
            .with_message(format!("object store {bucket:?} not found")),
        ErrorKind::StreamNameInUse => e.with_kind(ErrorKind::BucketExists).with_message(format!(
            "object store {bucket:?} exists with a different configuration"
        )),
        _ => e,
    }
}

impl JetStream {
    /// Creates an object store bucket (the stream `OBJ_<bucket>`). Creating it again with
    /// the same configuration succeeds; with a different one: [`ErrorKind::BucketExists`].
    /// An invalid bucket name is refused before sending ([`ErrorKind::InvalidName`]).
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
    /// let store = js
    ///     .create_object_store(jetstream::ObjectStoreConfig {
    ///         bucket: "configs".into(),
    ///         ..Default::default()
    ///     })
    ///     .await?;
    /// # let _ = store;
    /// # Ok(()) }
    /// ```
    pub async fn create_object_store(&self, config: ObjectStoreConfig) -> Result<ObjectStore> {
        validate_bucket_name(&config.bucket)?;
        let stream = self
            .create_stream(config.to_stream_config())
            .await
            .map_err(|e| bucket_kind(e, &config.bucket))?;
        Ok(ObjectStore::new(self.clone(), &config.bucket, stream))
    }

    /// Updates a bucket's configuration; missing: [`ErrorKind::BucketNotFound`].
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
    /// use std::time::Duration;
    ///
    /// js.update_object_store(jetstream::ObjectStoreConfig {
    ///     bucket: "configs".into(),
    ///     ttl: Some(Duration::from_secs(3600)),
    ///     ..Default::default()
    /// })
    /// .await?;
    /// # Ok(()) }
    /// ```
    pub async fn update_object_store(&self, config: ObjectStoreConfig) -> Result<ObjectStore> {
        validate_bucket_name(&config.bucket)?;
        let stream = self
            .update_stream(config.to_stream_config())
            .await
            .map_err(|e| bucket_kind(e, &config.bucket))?;
        Ok(ObjectStore::new(self.clone(), &config.bucket, stream))
    }

    /// Updates the bucket, or creates it if it does not exist.
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
    /// let store = js
    ///     .create_or_update_object_store(jetstream::ObjectStoreConfig {
    ///         bucket: "configs".into(),
    ///         description: Some("service configuration".into()),
    ///         ..Default::default()
    ///     })
    ///     .await?;
    /// # let _ = store;
    /// # Ok(()) }
    /// ```
    pub async fn create_or_update_object_store(
        &self,
        config: ObjectStoreConfig,
    ) -> Result<ObjectStore> {
        match self.update_object_store(config.clone()).await {
            Err(e) if e.kind() == ErrorKind::BucketNotFound => {
                self.create_object_store(config).await
            }
            other => other,
        }
    }

    /// A handle to an existing bucket; missing: [`ErrorKind::BucketNotFound`].
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
    /// let store = js.object_store("configs").await?;
    /// # let _ = store;
    /// # Ok(()) }
    /// ```
    pub async fn object_store(&self, bucket: impl AsRef<str>) -> Result<ObjectStore> {
        let bucket = bucket.as_ref();
        validate_bucket_name(bucket)?;
        let stream = self
            .stream(stream_name(bucket))
            .await
            .map_err(|e| bucket_kind(e, bucket))?;
        Ok(ObjectStore::new(self.clone(), bucket, stream))
    }

    /// Deletes a bucket and all its objects; missing: [`ErrorKind::BucketNotFound`].
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
    /// js.delete_object_store("configs").await?;
    /// # Ok(()) }
    /// ```
    pub async fn delete_object_store(&self, bucket: impl AsRef<str>) -> Result<()> {
        let bucket = bucket.as_ref();
        validate_bucket_name(bucket)?;
        self.delete_stream(stream_name(bucket))
            .await
            .map_err(|e| bucket_kind(e, bucket))
    }

    /// The names of the account's object store buckets.
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
    /// use futures_util::TryStreamExt;
    ///
    /// let buckets: Vec<String> = js.object_store_names().try_collect().await?;
    /// # let _ = buckets;
    /// # Ok(()) }
    /// ```
    pub fn object_store_names(&self) -> ObjectStoreNames {
        ObjectStoreNames {
            inner: BucketNames::new(self.stream_names().subject(CHUNKS_FILTER), STREAM_PREFIX),
        }
    }

    /// The status of every object store bucket of the account.
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
    /// use futures_util::StreamExt;
    ///
    /// let mut stores = js.object_stores();
    /// while let Some(status) = stores.next().await {
    ///     let status = status?;
    ///     println!("{}: {} bytes", status.bucket(), status.size());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn object_stores(&self) -> ObjectStores {
        ObjectStores {
            inner: self.list_streams().subject(CHUNKS_FILTER),
        }
    }
}

/// The names of the account's object store buckets, from [`JetStream::object_store_names`]:
/// a [`futures_core::Stream`] of `Result<String>`.
///
/// ```no_run
/// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
/// use futures_util::StreamExt;
///
/// let mut names = js.object_store_names();
/// while let Some(name) = names.next().await {
///     println!("{}", name?);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a listing does nothing until polled"]
pub struct ObjectStoreNames {
    inner: BucketNames,
}

impl futures_core::Stream for ObjectStoreNames {
    type Item = Result<String>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.inner).poll_next(cx)
    }
}

/// The status of every object store bucket of the account, from
/// [`JetStream::object_stores`]: a [`futures_core::Stream`] of `Result<ObjectStoreStatus>`.
///
/// ```no_run
/// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
/// use futures_util::TryStreamExt;
///
/// let stores: Vec<jetstream::ObjectStoreStatus> = js.object_stores().try_collect().await?;
/// # let _ = stores;
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a listing does nothing until polled"]
pub struct ObjectStores {
    inner: StreamList,
}

impl futures_core::Stream for ObjectStores {
    type Item = Result<ObjectStoreStatus>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match Pin::new(&mut self.inner).poll_next(cx) {
                Poll::Ready(Some(Ok(info))) => {
                    if let Some(bucket) = info.config.name.strip_prefix(STREAM_PREFIX) {
                        let bucket = bucket.to_string();
                        return Poll::Ready(Some(Ok(ObjectStoreStatus::new(bucket, info))));
                    }
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_are_send_and_unpin() {
        fn assert_send_unpin<T: Send + Unpin + 'static>() {}
        assert_send_unpin::<ObjectStoreNames>();
        assert_send_unpin::<ObjectStores>();
    }

    #[test]
    fn bucket_errors_are_mapped() {
        let e = bucket_kind(Error::new(ErrorKind::StreamNotFound), "b");
        assert_eq!(e.kind(), ErrorKind::BucketNotFound);
        let e = bucket_kind(Error::new(ErrorKind::StreamNameInUse), "b");
        assert_eq!(e.kind(), ErrorKind::BucketExists);
        let e = bucket_kind(Error::new(ErrorKind::Timeout), "b");
        assert_eq!(e.kind(), ErrorKind::Timeout);
    }
}
