//! Listing keys ([`ListKeys`], [`Keys`], `keys()`) and reading a key's history
//! ([`ListHistory`], [`History`], `history()`).
//!
//! All of them read the initial values of a watcher and stop at its marker, which comes at
//! once when nothing matches, so they end even for an empty bucket or a key without entries.
//! Every wait for the next entry is bounded.

use std::collections::HashSet;
use std::future::IntoFuture;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use futures_util::future::BoxFuture;
use futures_util::{StreamExt, TryStreamExt};

use super::entry::Entry;
use super::watch::{Watch, Watcher};
use super::KeyValue;
use crate::error::{Error, ErrorKind, Result};

/// The least time allowed between two entries of the initial values.
const MIN_IDLE: Duration = Duration::from_secs(10);

impl KeyValue {
    /// The keys that have a value (not deleted or purged), sorted. An empty bucket gives an
    /// empty list.
    ///
    /// ```no_run
    /// # async fn run(kv: jetstream::KeyValue) -> Result<(), jetstream::Error> {
    /// for key in kv.keys().await? {
    ///     println!("{key}");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn keys(&self) -> Result<Vec<String>> {
        let mut keys: Vec<String> = self.list_keys().await?.try_collect().await?;
        keys.sort_unstable();
        keys.dedup();
        Ok(keys)
    }

    /// The keys that have a value, as a stream; `.filter(pattern)` keeps those matching one
    /// of the given keys or patterns. Await it for [`Keys`].
    ///
    /// ```no_run
    /// # async fn run(kv: jetstream::KeyValue) -> Result<(), jetstream::Error> {
    /// use futures_util::{StreamExt, TryStreamExt};
    ///
    /// let mut keys = kv.list_keys().filter("sue.*").await?;
    /// while let Some(key) = keys.next().await {
    ///     println!("{}", key?);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn list_keys(&self) -> ListKeys {
        ListKeys {
            kv: self.clone(),
            filters: Vec::new(),
        }
    }

    /// Every stored revision of `key`, oldest first, deletes and purges included. None:
    /// [`ErrorKind::KeyNotFound`].
    ///
    /// ```no_run
    /// # async fn run(kv: jetstream::KeyValue) -> Result<(), jetstream::Error> {
    /// for entry in kv.history("sue.color").await? {
    ///     println!("#{} {:?} {:?}", entry.revision(), entry.operation(), entry.value());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn history(&self, key: impl AsRef<str>) -> Result<Vec<Entry>> {
        self.list_history(key).await?.try_collect().await
    }

    /// Every stored revision of `key` (a key or a pattern), oldest first, read lazily: await
    /// it for a [`History`] stream. Options as Go's `History`:
    /// [`ignore_deletes`](ListHistory::ignore_deletes), [`meta_only`](ListHistory::meta_only).
    /// No entries: the stream's only item is [`ErrorKind::KeyNotFound`], as
    /// [`history`](Self::history).
    ///
    /// ```no_run
    /// # async fn run(kv: jetstream::KeyValue) -> Result<(), jetstream::Error> {
    /// use futures_util::StreamExt;
    ///
    /// let mut history = kv.list_history("sue.color").meta_only().await?;
    /// while let Some(entry) = history.next().await {
    ///     let entry = entry?;
    ///     println!("#{} {}", entry.revision(), entry.operation());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn list_history(&self, key: impl AsRef<str>) -> ListHistory {
        ListHistory {
            kv: self.clone(),
            key: key.as_ref().to_string(),
            ignore_deletes: false,
            meta_only: false,
        }
    }

    /// The latest entry of every key, markers included, without values.
    pub(crate) async fn latest_entries(&self) -> Result<Vec<Entry>> {
        let watcher = self.watch_all().meta_only().await?;
        self.initial_entries(watcher).await
    }

    /// How long to wait for the next initial entry before giving up.
    fn idle_timeout(&self) -> Duration {
        self.js().timeout().max(MIN_IDLE)
    }

    /// Collects a watcher's entries up to its initial-values marker.
    async fn initial_entries(&self, mut watcher: Watcher) -> Result<Vec<Entry>> {
        let idle = self.idle_timeout();
        let mut entries = Vec::new();
        loop {
            match tokio::time::timeout(idle, watcher.next()).await {
                Err(_) => return Err(idle_error(idle)),
                Ok(None) => return Err(ended_early()),
                Ok(Some(Err(e))) => return Err(e),
                Ok(Some(Ok(Some(entry)))) => entries.push(entry),
                Ok(Some(Ok(None))) => return Ok(entries),
            }
        }
    }
}

fn idle_error(idle: Duration) -> Error {
    Error::msg(
        ErrorKind::Timeout,
        format!("no entry arrived within {idle:?} while reading the bucket"),
    )
}

fn ended_early() -> Error {
    Error::msg(
        ErrorKind::ConnectionClosed,
        "the watcher ended before all entries were read",
    )
}

/// The options of a key listing, from [`KeyValue::list_keys`]; await it for [`Keys`].
#[derive(Debug, Clone)]
#[must_use = "a listing does nothing until awaited"]
pub struct ListKeys {
    kv: KeyValue,
    filters: Vec<String>,
}

impl ListKeys {
    /// Lists only keys matching `key` (a key or a pattern such as `"sue.*"`); may be given
    /// several times.
    pub fn filter(mut self, key: impl AsRef<str>) -> Self {
        self.filters.push(key.as_ref().to_string());
        self
    }

    /// Lists only keys matching one of `keys`.
    pub fn filters(mut self, keys: impl IntoIterator<Item = impl AsRef<str>>) -> Self {
        self.filters
            .extend(keys.into_iter().map(|k| k.as_ref().to_string()));
        self
    }

    async fn start(self) -> Result<Keys> {
        let watch: Watch = if self.filters.is_empty() {
            self.kv.watch_all()
        } else {
            self.kv.watch_filtered(&self.filters)
        };
        let watcher = watch.ignore_deletes().meta_only().await?;
        let state = KeysState {
            watcher,
            seen: HashSet::new(),
            idle: self.kv.idle_timeout(),
        };
        let stream = futures_util::stream::unfold(Some(state), |state| async move {
            let mut state = state?;
            loop {
                match tokio::time::timeout(state.idle, state.watcher.next()).await {
                    Err(_) => return Some((Err(idle_error(state.idle)), None)),
                    Ok(None) => return Some((Err(ended_early()), None)),
                    Ok(Some(Err(e))) => return Some((Err(e), None)),
                    Ok(Some(Ok(None))) => return None,
                    Ok(Some(Ok(Some(entry)))) => {
                        if state.seen.insert(entry.key().to_string()) {
                            let key = entry.key().to_string();
                            return Some((Ok(key), Some(state)));
                        }
                    }
                }
            }
        });
        Ok(Keys {
            inner: Box::pin(stream),
        })
    }
}

impl IntoFuture for ListKeys {
    type Output = Result<Keys>;
    type IntoFuture = BoxFuture<'static, Result<Keys>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.start())
    }
}

/// The options of a history listing, from [`KeyValue::list_history`]; await it for
/// [`History`].
#[derive(Debug, Clone)]
#[must_use = "a listing does nothing until awaited"]
pub struct ListHistory {
    kv: KeyValue,
    key: String,
    ignore_deletes: bool,
    meta_only: bool,
}

impl ListHistory {
    /// Leaves out delete and purge markers.
    pub fn ignore_deletes(mut self) -> Self {
        self.ignore_deletes = true;
        self
    }

    /// Entries without their values.
    pub fn meta_only(mut self) -> Self {
        self.meta_only = true;
        self
    }

    async fn start(self) -> Result<History> {
        let mut watch = self.kv.watch(&self.key).include_history();
        if self.ignore_deletes {
            watch = watch.ignore_deletes();
        }
        if self.meta_only {
            watch = watch.meta_only();
        }
        let watcher = watch.await?;
        let state = HistoryState {
            watcher,
            key: self.key,
            any: false,
            idle: self.kv.idle_timeout(),
        };
        let stream = futures_util::stream::unfold(Some(state), |state| async move {
            let mut state = state?;
            match tokio::time::timeout(state.idle, state.watcher.next()).await {
                Err(_) => Some((Err(idle_error(state.idle)), None)),
                Ok(None) => Some((Err(ended_early()), None)),
                Ok(Some(Err(e))) => Some((Err(e), None)),
                Ok(Some(Ok(None))) if state.any => None,
                Ok(Some(Ok(None))) => {
                    let e = Error::msg(
                        ErrorKind::KeyNotFound,
                        format!("key {:?} has no entries", state.key),
                    );
                    Some((Err(e), None))
                }
                Ok(Some(Ok(Some(entry)))) => {
                    state.any = true;
                    Some((Ok(entry), Some(state)))
                }
            }
        });
        Ok(History {
            inner: Box::pin(stream),
        })
    }
}

impl IntoFuture for ListHistory {
    type Output = Result<History>;
    type IntoFuture = BoxFuture<'static, Result<History>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.start())
    }
}

struct HistoryState {
    watcher: Watcher,
    key: String,
    any: bool,
    idle: Duration,
}

/// The stored revisions of a key, oldest first, from [`ListHistory`]: a [`Stream`] of
/// `Result<Entry>`, read lazily. It ends after the last stored revision (live changes are
/// not followed); an error is its last item. Dropping it early removes its consumer from
/// the server.
pub struct History {
    inner: Pin<Box<dyn Stream<Item = Result<Entry>> + Send>>,
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("History").finish_non_exhaustive()
    }
}

impl Stream for History {
    type Item = Result<Entry>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

struct KeysState {
    watcher: Watcher,
    seen: HashSet<String>,
    idle: Duration,
}

/// The keys of a bucket that have a value, from [`ListKeys`]: a [`Stream`] of
/// `Result<String>`, each key once. It ends after the last key; an error is its last item.
pub struct Keys {
    inner: Pin<Box<dyn Stream<Item = Result<String>> + Send>>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys").finish_non_exhaustive()
    }
}

impl Stream for Keys {
    type Item = Result<String>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}
