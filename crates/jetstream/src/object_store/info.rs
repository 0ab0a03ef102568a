//! Object metadata: [`ObjectMeta`] (what users give), [`ObjectInfo`] (what is stored, as the
//! JSON of nats.go), and the calls that read or rewrite it: `info`, `update_meta`, `delete`,
//! `seal` and `status`.

use std::collections::HashMap;

use jiff::Timestamp;
use nats_core::HeaderMap;
use serde::{Deserialize, Serialize};

use super::{
    bucket_error, validate_object_name, ObjectStore, ObjectStoreStatus, ROLLUP_HEADER,
    ROLLUP_SUBJECT,
};
use crate::error::{Error, ErrorKind, Result};
use crate::types::serde_util::empty_string_as_none;

/// What describes an object: its name and the optional description, headers, metadata and
/// chunk size. Given to [`ObjectStore::put`] and [`ObjectStore::update_meta`].
///
/// A plain name converts into one:
///
/// ```
/// use jetstream::ObjectMeta;
///
/// let meta: ObjectMeta = "report.pdf".into();
/// assert_eq!(meta.name, "report.pdf");
/// let meta = ObjectMeta {
///     name: "video.mp4".into(),
///     description: Some("launch video".into()),
///     chunk_size: Some(512 * 1024),
///     ..Default::default()
/// };
/// # let _ = meta;
/// ```
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ObjectMeta {
    /// The object's name: any non-empty UTF-8 text.
    pub name: String,
    /// A human-readable description.
    pub description: Option<String>,
    /// NATS-style headers kept with the object.
    pub headers: Option<HeaderMap>,
    /// Application metadata.
    pub metadata: HashMap<String, String>,
    /// The size of the chunks the object is split into; `None` (or 0) means 128 KiB. Must not
    /// exceed the server's maximum payload (1 MiB by default).
    pub chunk_size: Option<u32>,
}

impl From<&str> for ObjectMeta {
    fn from(name: &str) -> ObjectMeta {
        ObjectMeta {
            name: name.to_string(),
            ..Default::default()
        }
    }
}

impl From<String> for ObjectMeta {
    fn from(name: String) -> ObjectMeta {
        ObjectMeta {
            name,
            ..Default::default()
        }
    }
}

impl From<&String> for ObjectMeta {
    fn from(name: &String) -> ObjectMeta {
        ObjectMeta::from(name.as_str())
    }
}

impl From<&ObjectInfo> for ObjectMeta {
    fn from(info: &ObjectInfo) -> ObjectMeta {
        ObjectMeta {
            name: info.name.clone(),
            description: info.description.clone(),
            headers: info.headers.clone(),
            metadata: info.metadata.clone(),
            chunk_size: info.chunk_size,
        }
    }
}

impl From<ObjectInfo> for ObjectMeta {
    fn from(info: ObjectInfo) -> ObjectMeta {
        ObjectMeta {
            name: info.name,
            description: info.description,
            headers: info.headers,
            metadata: info.metadata,
            chunk_size: info.chunk_size,
        }
    }
}

/// Where a link points: an object (`name` set) or a whole bucket (`name` is `None`).
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ObjectLink {
    /// The bucket of the target.
    pub bucket: String,
    /// The target object; `None` for a link to the whole bucket.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_string_as_none"
    )]
    pub name: Option<String>,
}

/// Everything known about a stored object, as kept in its metadata message.
///
/// ```no_run
/// # async fn run(store: jetstream::ObjectStore) -> Result<(), jetstream::Error> {
/// let info = store.info("report.pdf").await?;
/// println!(
///     "{}/{}: {} bytes in {} chunks, modified {}, {:?}",
///     info.bucket, info.name, info.size, info.chunks, info.modified, info.digest
/// );
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ObjectInfo {
    /// The object's name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// The bucket holding this metadata.
    pub bucket: String,
    /// The id of this version; its chunks are on `$O.<bucket>.C.<nuid>`.
    pub nuid: String,
    /// Total size in bytes (0 for links and deleted objects).
    pub size: u64,
    /// Number of chunks (0 for links and deleted objects).
    pub chunks: u32,
    /// When this version of the metadata was stored (the stored `mtime` field is not used:
    /// readers take the metadata message's timestamp).
    pub modified: Timestamp,
    /// `SHA-256=<base64url>` of the content; `None` for links and deleted objects.
    pub digest: Option<String>,
    /// Whether the object was deleted (the metadata is kept as a tombstone).
    pub deleted: bool,
    /// Set when this object is a link to another object or bucket.
    pub link: Option<ObjectLink>,
    /// Its headers.
    pub headers: Option<HeaderMap>,
    /// Its application metadata.
    pub metadata: HashMap<String, String>,
    /// The chunk size it was written with, when recorded.
    pub chunk_size: Option<u32>,
}

impl ObjectInfo {
    /// Whether this object is a link (to an object or to a bucket).
    pub fn is_link(&self) -> bool {
        self.link.is_some()
    }
}

impl ObjectStore {
    /// The info of an object; missing or deleted: [`ErrorKind::ObjectNotFound`]. Links are
    /// returned as they are, not followed.
    ///
    /// ```no_run
    /// # async fn run(store: jetstream::ObjectStore) -> Result<(), jetstream::Error> {
    /// let info = store.info("report.pdf").await?;
    /// println!("{} bytes, digest {:?}", info.size, info.digest);
    /// # Ok(()) }
    /// ```
    pub async fn info(&self, name: impl AsRef<str>) -> Result<ObjectInfo> {
        self.info_inner(name.as_ref(), false).await
    }

    /// The info of an object, including a deleted one (its tombstone: `deleted: true`, size
    /// 0); missing: [`ErrorKind::ObjectNotFound`].
    ///
    /// ```no_run
    /// # async fn run(store: jetstream::ObjectStore) -> Result<(), jetstream::Error> {
    /// let info = store.info_with_deleted("old.log").await?;
    /// if info.deleted {
    ///     println!("deleted at {}", info.modified);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn info_with_deleted(&self, name: impl AsRef<str>) -> Result<ObjectInfo> {
        self.info_inner(name.as_ref(), true).await
    }

    pub(crate) async fn info_inner(&self, name: &str, with_deleted: bool) -> Result<ObjectInfo> {
        validate_object_name(name)?;
        let msg = self
            .stream
            .get_last_msg_for_subject(self.meta_subject(name))
            .await
            .map_err(|e| match e.kind() {
                ErrorKind::MessageNotFound => Error::msg(
                    ErrorKind::ObjectNotFound,
                    format!("no object {name:?} in bucket {:?}", self.bucket),
                ),
                _ => bucket_error(e),
            })?;
        let info = ObjectInfo::decode(&msg.payload, msg.time)?;
        if info.deleted && !with_deleted {
            return Err(Error::msg(
                ErrorKind::ObjectNotFound,
                format!("object {name:?} in bucket {:?} was deleted", self.bucket),
            ));
        }
        Ok(info)
    }

    /// Publishes `info` as the object's metadata, replacing the older metadata of its name.
    pub(crate) async fn publish_meta(&self, info: &ObjectInfo) -> Result<()> {
        let payload = info.encode()?;
        let published = self
            .js
            .publish(self.meta_subject(&info.name), payload)
            .header(ROLLUP_HEADER, ROLLUP_SUBJECT)
            .await;
        match published {
            Ok(_) => Ok(()),
            Err(e) => Err(self.write_error(e).await),
        }
    }

    /// Changes an object's name, description, headers and metadata; the data is not
    /// rewritten. A different `meta.name` renames the object (an empty one keeps the name);
    /// when another, not deleted object has that name: [`ErrorKind::ObjectExists`]. Missing:
    /// [`ErrorKind::ObjectNotFound`]; deleted: [`ErrorKind::ObjectDeleted`] (Go returns
    /// `ErrUpdateMetaDeleted` for both). Works on links too.
    ///
    /// A rename stores the metadata under the new name first, then purges the old name: if
    /// the future is dropped (or the purge fails) in between, the object can be read under
    /// both names until the call is repeated.
    ///
    /// ```no_run
    /// # async fn run(store: jetstream::ObjectStore) -> Result<(), jetstream::Error> {
    /// use jetstream::ObjectMeta;
    ///
    /// store
    ///     .update_meta(
    ///         "config",
    ///         ObjectMeta {
    ///             name: "config-1".into(),
    ///             description: Some("renamed".into()),
    ///             ..Default::default()
    ///         },
    ///     )
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn update_meta(&self, name: impl AsRef<str>, meta: ObjectMeta) -> Result<ObjectInfo> {
        let name = name.as_ref();
        let mut info = self.info_inner(name, true).await?;
        if info.deleted {
            return Err(Error::msg(
                ErrorKind::ObjectDeleted,
                format!(
                    "can not update the metadata of {name:?} in bucket {:?}: it was deleted",
                    self.bucket
                ),
            ));
        }
        let new_name = if meta.name.is_empty() {
            name.to_string()
        } else {
            meta.name
        };
        let renamed = new_name != name;
        if renamed {
            match self.info_inner(&new_name, true).await {
                Ok(existing) if !existing.deleted => {
                    return Err(Error::msg(
                        ErrorKind::ObjectExists,
                        format!(
                        "can not rename {name:?} to {new_name:?}: an object with that name exists"
                    ),
                    ))
                }
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::ObjectNotFound => {}
                Err(e) => return Err(e),
            }
        }
        info.name = new_name;
        info.description = meta.description;
        info.headers = meta.headers.filter(|h| !h.is_empty());
        info.metadata = meta.metadata;
        info.bucket = self.bucket.to_string();
        self.publish_meta(&info).await?;
        if renamed {
            self.stream
                .purge()
                .subject(self.meta_subject(name))
                .await
                .map_err(bucket_error)?;
        }
        info.modified = Timestamp::now();
        Ok(info)
    }

    /// Deletes an object: its chunks are purged and its metadata is replaced by a tombstone
    /// (`deleted: true`, size 0) that watchers see. Missing: [`ErrorKind::ObjectNotFound`];
    /// deleting a deleted object again is fine.
    ///
    /// The tombstone is stored first, then the chunks are purged: if the future is dropped
    /// in between, the object reads as deleted but its chunks stay until the call is
    /// repeated.
    ///
    /// ```no_run
    /// # async fn run(store: jetstream::ObjectStore) -> Result<(), jetstream::Error> {
    /// store.delete("config-1").await?;
    /// assert_eq!(
    ///     store.get("config-1").await.unwrap_err().kind(),
    ///     jetstream::ErrorKind::ObjectNotFound
    /// );
    /// # Ok(()) }
    /// ```
    pub async fn delete(&self, name: impl AsRef<str>) -> Result<()> {
        let mut info = self.info_inner(name.as_ref(), true).await?;
        info.deleted = true;
        info.size = 0;
        info.chunks = 0;
        info.digest = None;
        self.publish_meta(&info).await?;
        if !info.nuid.is_empty() {
            self.stream
                .purge()
                .subject(self.chunk_subject(&info.nuid))
                .await
                .map_err(bucket_error)?;
        }
        Ok(())
    }

    /// Seals the bucket: from then on it is read only, and every write fails with
    /// [`ErrorKind::BucketSealed`]. Irreversible.
    ///
    /// ```no_run
    /// # async fn run(store: jetstream::ObjectStore) -> Result<(), jetstream::Error> {
    /// store.seal().await?;
    /// assert!(store.status().await?.sealed());
    /// # Ok(()) }
    /// ```
    pub async fn seal(&self) -> Result<()> {
        let info = self.stream.info().await.map_err(bucket_error)?;
        let mut config = info.config;
        config.sealed = true;
        let stream = self.js.update_stream(config).await.map_err(bucket_error)?;
        self.stream.set_info((*stream.cached_info()).clone());
        Ok(())
    }

    /// The bucket's status: description, TTL, storage, size, sealed, ...
    ///
    /// ```no_run
    /// # async fn run(store: jetstream::ObjectStore) -> Result<(), jetstream::Error> {
    /// let status = store.status().await?;
    /// println!("{} uses {} bytes", status.bucket(), status.size());
    /// # Ok(()) }
    /// ```
    pub async fn status(&self) -> Result<ObjectStoreStatus> {
        let info = self.stream.info().await.map_err(bucket_error)?;
        Ok(ObjectStoreStatus::new(self.bucket.to_string(), info))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn meta_conversions() {
        assert_eq!(ObjectMeta::from("a").name, "a");
        assert_eq!(ObjectMeta::from(String::from("b")).name, "b");
        let info = ObjectInfo {
            name: "c".into(),
            description: Some("d".into()),
            ..Default::default()
        };
        let meta = ObjectMeta::from(&info);
        assert_eq!(meta.description.as_deref(), Some("d"));
    }
}
