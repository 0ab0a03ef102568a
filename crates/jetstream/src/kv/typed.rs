//! Typed views of a bucket: [`KeyValue::typed`] (JSON) and [`KeyValue::typed_with`] (any
//! [`Codec`]), whose calls take and yield `T` instead of bytes.
//!
//! The view is a thin layer over the [`KeyValue`] handle it was made from: the same calls,
//! the same errors, plus [`ErrorKind::Decode`] when a stored value is not a valid `T` (its
//! [`DecodeError`] names the key) and [`ErrorKind::InvalidArgument`] when a value cannot be
//! encoded (before anything is sent).

use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use jiff::Timestamp;

use super::{Entry, KeyValue, Operation, Watcher};
use crate::error::{DecodeError, Error, ErrorKind, Result};

/// How a typed view turns values into bytes and back.
///
/// [`Json`] is the default. Other formats plug in without this crate depending on them:
/// MessagePack (`rmp_serde::to_vec` / `from_slice`) or bincode for every serde type, or
/// protobuf for every `T: prost::Message + Default` (the trait is generic over `T`, so
/// formats outside serde fit too). A codec storing values as text:
///
/// ```no_run
/// # async fn run(kv: jetstream::KeyValue) -> Result<(), jetstream::Error> {
/// use bytes::Bytes;
/// use jetstream::kv::Codec;
///
/// struct Text;
///
/// impl<T: std::fmt::Display + std::str::FromStr> Codec<T> for Text
/// where
///     T::Err: std::fmt::Display,
/// {
///     type Error = String;
///
///     fn encode(&self, value: &T) -> Result<Bytes, String> {
///         Ok(Bytes::from(value.to_string()))
///     }
///
///     fn decode(&self, data: &[u8]) -> Result<T, String> {
///         let text = std::str::from_utf8(data).map_err(|e| e.to_string())?;
///         text.parse().map_err(|e: T::Err| e.to_string())
///     }
/// }
///
/// let counters = kv.typed_with::<u64, _>(Text);
/// counters.put("visits", &42).await?;
/// assert_eq!(counters.get("visits").await?.into_value(), Some(42));
/// # Ok(()) }
/// ```
pub trait Codec<T>: Send + Sync + 'static {
    /// What an encode or decode failure says; its text becomes the error's reason.
    type Error: fmt::Display;

    /// The bytes stored for `value`.
    fn encode(&self, value: &T) -> std::result::Result<Bytes, Self::Error>;

    /// The value stored as `data`.
    fn decode(&self, data: &[u8]) -> std::result::Result<T, Self::Error>;
}

/// The JSON [`Codec`] (`serde_json`), the default of typed views (feature `serde`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Json;

#[cfg(feature = "serde")]
impl<T: serde::Serialize + serde::de::DeserializeOwned> Codec<T> for Json {
    type Error = serde_json::Error;

    fn encode(&self, value: &T) -> std::result::Result<Bytes, serde_json::Error> {
        serde_json::to_vec(value).map(Bytes::from)
    }

    fn decode(&self, data: &[u8]) -> std::result::Result<T, serde_json::Error> {
        serde_json::from_slice(data)
    }
}

impl KeyValue {
    /// A view of the bucket whose values are `T`, stored as JSON (feature `serde`).
    ///
    /// ```no_run
    /// # async fn run(kv: jetstream::KeyValue) -> Result<(), jetstream::Error> {
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// struct Profile { name: String, visits: u32 }
    ///
    /// let profiles = kv.typed::<Profile>();
    /// profiles.put("sue", &Profile { name: "Sue".into(), visits: 1 }).await?;
    /// let entry = profiles.get("sue").await?;
    /// if let Some(profile) = entry.value() {
    ///     let next = Profile { name: profile.name.clone(), visits: profile.visits + 1 };
    ///     profiles.update("sue", &next, entry.revision()).await?;
    /// }
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "serde")]
    pub fn typed<T>(&self) -> TypedKeyValue<T, Json>
    where
        T: serde::Serialize + serde::de::DeserializeOwned,
    {
        self.typed_with(Json)
    }

    /// A view of the bucket whose values are `T`, stored with `codec`; see [`Codec`].
    pub fn typed_with<T, C: Codec<T>>(&self, codec: C) -> TypedKeyValue<T, C> {
        TypedKeyValue {
            kv: self.clone(),
            codec: Arc::new(codec),
            _values: PhantomData,
        }
    }
}

/// A bucket whose values are `T`, encoded with `C`. Made by [`KeyValue::typed`] or
/// [`KeyValue::typed_with`]; cheap to clone. Calls without values (delete, purge, keys,
/// status) are on the [`KeyValue`] from [`untyped`](Self::untyped).
pub struct TypedKeyValue<T, C = Json> {
    kv: KeyValue,
    codec: Arc<C>,
    _values: PhantomData<fn() -> T>,
}

impl<T, C> Clone for TypedKeyValue<T, C> {
    fn clone(&self) -> Self {
        TypedKeyValue {
            kv: self.kv.clone(),
            codec: self.codec.clone(),
            _values: PhantomData,
        }
    }
}

impl<T, C> fmt::Debug for TypedKeyValue<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedKeyValue")
            .field("bucket", &self.kv.bucket())
            .field("type", &std::any::type_name::<T>())
            .finish_non_exhaustive()
    }
}

impl<T, C: Codec<T>> TypedKeyValue<T, C> {
    /// The untyped handle of the bucket.
    pub fn untyped(&self) -> &KeyValue {
        &self.kv
    }

    /// The latest value of `key` with its revision; [`ErrorKind::KeyNotFound`] as for
    /// [`KeyValue::get`], [`ErrorKind::Decode`] when the stored value is not a valid `T`.
    pub async fn get(&self, key: impl AsRef<str>) -> Result<TypedEntry<T>> {
        let entry = self.kv.get(key).await?;
        self.decode(entry)
    }

    /// Stores `value` under `key`; returns the new revision.
    pub async fn put(&self, key: impl AsRef<str>, value: &T) -> Result<u64> {
        let key = key.as_ref();
        let bytes = self.encode(key, value)?;
        self.kv.put(key, bytes).await
    }

    /// Stores `value` only if `key` has no value ([`ErrorKind::KeyExists`] otherwise).
    pub async fn create(&self, key: impl AsRef<str>, value: &T) -> Result<u64> {
        let key = key.as_ref();
        let bytes = self.encode(key, value)?;
        self.kv.create(key, bytes).await
    }

    /// Stores `value` only if the latest revision of `key` is `last_revision`
    /// ([`ErrorKind::WrongLastRevision`] otherwise).
    pub async fn update(&self, key: impl AsRef<str>, value: &T, last_revision: u64) -> Result<u64> {
        let key = key.as_ref();
        let bytes = self.encode(key, value)?;
        self.kv.update(key, bytes, last_revision).await
    }

    /// Every stored revision of `key`, oldest first (deletes and purges have no value).
    /// Fails with [`ErrorKind::Decode`] at the first value that is not a valid `T`.
    pub async fn history(&self, key: impl AsRef<str>) -> Result<Vec<TypedEntry<T>>> {
        let entries = self.kv.history(key).await?;
        entries.into_iter().map(|e| self.decode(e)).collect()
    }

    /// Watches `key` (wildcards allowed) as [`KeyValue::watch`] does, yielding typed entries.
    pub async fn watch(&self, key: impl AsRef<str>) -> Result<TypedWatcher<T, C>> {
        Ok(self.watcher(self.kv.watch(key).await?))
    }

    /// Watches every key as [`KeyValue::watch_all`] does, yielding typed entries.
    pub async fn watch_all(&self) -> Result<TypedWatcher<T, C>> {
        Ok(self.watcher(self.kv.watch_all().await?))
    }

    /// Types a watcher started with options (history, resume, ...) on the untyped handle.
    /// A [`meta_only`](super::Watch::meta_only) watcher has no values to decode: keep it
    /// untyped.
    ///
    /// ```no_run
    /// # async fn run(kv: jetstream::KeyValue) -> Result<(), jetstream::Error> {
    /// let orders = kv.typed::<serde_json::Value>();
    /// let watcher = orders.watcher(kv.watch("orders.*").include_history().await?);
    /// # Ok(()) }
    /// ```
    pub fn watcher(&self, watcher: Watcher) -> TypedWatcher<T, C> {
        TypedWatcher {
            view: self.clone(),
            watcher,
        }
    }

    fn encode(&self, key: &str, value: &T) -> Result<Bytes> {
        self.codec.encode(value).map_err(|e| {
            Error::msg(
                ErrorKind::InvalidArgument,
                format!(
                    "cannot encode the value for key {key:?} as {}: {e}",
                    std::any::type_name::<T>()
                ),
            )
        })
    }

    /// A typed entry; deletes and purges have no value to decode.
    fn decode(&self, entry: Entry) -> Result<TypedEntry<T>> {
        let value = match entry.operation() {
            Operation::Put => Some(self.codec.decode(entry.value()).map_err(|e| {
                Error::decode(
                    DecodeError::new(
                        self.kv.read_subject(entry.key()),
                        std::any::type_name::<T>(),
                        e,
                    )
                    .with_key(entry.key()),
                )
            })?),
            Operation::Delete | Operation::Purge => None,
        };
        Ok(TypedEntry { entry, value })
    }
}

/// An entry of a typed bucket: the decoded value (none for deletes and purges) and the
/// entry's metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct TypedEntry<T> {
    entry: Entry,
    value: Option<T>,
}

impl<T> TypedEntry<T> {
    /// The value; `None` for a delete or purge.
    pub fn value(&self) -> Option<&T> {
        self.value.as_ref()
    }

    /// Takes the value out of the entry; `None` for a delete or purge.
    pub fn into_value(self) -> Option<T> {
        self.value
    }

    /// The key.
    pub fn key(&self) -> &str {
        self.entry.key()
    }

    /// The revision of this write.
    pub fn revision(&self) -> u64 {
        self.entry.revision()
    }

    /// What the entry records.
    pub fn operation(&self) -> Operation {
        self.entry.operation()
    }

    /// When the entry was written.
    pub fn created(&self) -> Timestamp {
        self.entry.created()
    }

    /// For entries from a watcher: how many newer entries were already stored; see
    /// [`Entry::delta`].
    pub fn delta(&self) -> u64 {
        self.entry.delta()
    }

    /// The untyped entry, with the stored bytes.
    pub fn entry(&self) -> &Entry {
        &self.entry
    }
}

/// A [`Watcher`] yielding typed entries; `Ok(None)` marks, as there, the end of the initial
/// values. A value that does not decode is yielded as an error of kind
/// [`ErrorKind::Decode`] naming its key, and the watcher goes on.
pub struct TypedWatcher<T, C = Json> {
    view: TypedKeyValue<T, C>,
    watcher: Watcher,
}

impl<T, C> fmt::Debug for TypedWatcher<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedWatcher")
            .field("view", &self.view)
            .field("watcher", &self.watcher)
            .finish()
    }
}

impl<T, C> TypedWatcher<T, C> {
    /// Stops the watcher: it yields what already arrived, then ends.
    pub fn stop(&mut self) {
        self.watcher.stop();
    }
}

impl<T, C: Codec<T>> Stream for TypedWatcher<T, C> {
    type Item = Result<Option<TypedEntry<T>>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let next = std::task::ready!(Pin::new(&mut this.watcher).poll_next(cx));
        Poll::Ready(next.map(|item| match item {
            Ok(Some(entry)) => this.view.decode(entry).map(Some),
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_and_watchers_are_send_sync_static() {
        fn handle<T: Clone + Send + Sync + 'static>() {}
        fn stream<T: Send + Unpin + 'static>() {}
        handle::<TypedKeyValue<String>>();
        handle::<TypedKeyValue<Vec<u8>, Json>>();
        stream::<TypedWatcher<String>>();
    }

    #[test]
    #[cfg(feature = "serde")]
    fn json_round_trips_and_reports_serde_errors() {
        let bytes = Codec::<Vec<u32>>::encode(&Json, &vec![1, 2]).unwrap();
        assert_eq!(&bytes[..], b"[1,2]");
        let back: Vec<u32> = Json.decode(&bytes).unwrap();
        assert_eq!(back, [1, 2]);
        let err = Codec::<Vec<u32>>::decode(&Json, b"{").unwrap_err();
        assert!(err.to_string().contains("expected a sequence"), "{err}");
    }
}
