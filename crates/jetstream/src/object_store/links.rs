//! Links: objects that point at another object ([`ObjectStore::add_link`]) or at a whole
//! bucket ([`ObjectStore::add_bucket_link`]), possibly in another bucket. A link has no chunks,
//! size or digest; [`ObjectStore::get`] follows object links.

use jiff::Timestamp;

use super::{validate_object_name, ObjectInfo, ObjectLink, ObjectStore};
use crate::error::{Error, ErrorKind, Result};

impl ObjectStore {
    /// Creates (or replaces) the link `name` pointing at the object `target` (from
    /// [`info`](Self::info), in this bucket or another one).
    ///
    /// Refused: a target without a name ([`ErrorKind::InvalidName`]), a deleted target or a
    /// target that is itself a link ([`ErrorKind::InvalidArgument`]), and a `name` taken by an
    /// object that is not a link ([`ErrorKind::ObjectExists`]; a deleted one may be replaced).
    ///
    /// ```no_run
    /// # async fn run(store: jetstream::ObjectStore, other: jetstream::ObjectStore)
    /// # -> Result<(), jetstream::Error> {
    /// let target = other.info("logo.png").await?;
    /// store.add_link("logo", &target).await?;
    /// let data = store.get_bytes("logo").await?; // the data of other/logo.png
    /// # let _ = data;
    /// # Ok(()) }
    /// ```
    pub async fn add_link(&self, name: impl AsRef<str>, target: &ObjectInfo) -> Result<ObjectInfo> {
        let name = name.as_ref();
        validate_object_name(name)?;
        if target.name.is_empty() {
            return Err(Error::msg(
                ErrorKind::InvalidName,
                "the link target has no name",
            ));
        }
        if target.deleted {
            return Err(Error::msg(
                ErrorKind::InvalidArgument,
                format!("can not link to the deleted object {:?}", target.name),
            ));
        }
        if target.is_link() {
            return Err(Error::msg(
                ErrorKind::InvalidArgument,
                format!("can not link to {:?}: it is a link itself", target.name),
            ));
        }
        let bucket = if target.bucket.is_empty() {
            self.bucket.to_string()
        } else {
            target.bucket.clone()
        };
        self.publish_link(
            name,
            ObjectLink {
                bucket,
                name: Some(target.name.clone()),
            },
        )
        .await
    }

    /// Creates (or replaces) the link `name` pointing at the whole bucket `target`. Refused
    /// when `name` is taken by an object that is not a link ([`ErrorKind::ObjectExists`]).
    ///
    /// ```no_run
    /// # async fn run(store: jetstream::ObjectStore, assets: jetstream::ObjectStore)
    /// # -> Result<(), jetstream::Error> {
    /// let link = store.add_bucket_link("all-assets", &assets).await?;
    /// assert_eq!(link.link.unwrap().name, None);
    /// # Ok(()) }
    /// ```
    pub async fn add_bucket_link(
        &self,
        name: impl AsRef<str>,
        target: &ObjectStore,
    ) -> Result<ObjectInfo> {
        let name = name.as_ref();
        validate_object_name(name)?;
        self.publish_link(
            name,
            ObjectLink {
                bucket: target.bucket().to_string(),
                name: None,
            },
        )
        .await
    }

    async fn publish_link(&self, name: &str, link: ObjectLink) -> Result<ObjectInfo> {
        match self.info_inner(name, true).await {
            Ok(existing) if !existing.deleted && !existing.is_link() => {
                return Err(Error::msg(
                    ErrorKind::ObjectExists,
                    format!("can not create the link {name:?}: an object with that name exists"),
                ))
            }
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ObjectNotFound => {}
            Err(e) => return Err(e),
        }
        let mut info = ObjectInfo {
            name: name.to_string(),
            bucket: self.bucket.to_string(),
            nuid: self.new_nuid(),
            link: Some(link),
            ..Default::default()
        };
        self.publish_meta(&info).await?;
        info.modified = Timestamp::now();
        Ok(info)
    }
}
