//! Paged listings: [`StreamList`], [`StreamNames`], [`ConsumerList`], [`ConsumerNames`] and
//! a stream's [`SubjectCounts`].
//!
//! Each is a named [`futures_core::Stream`] that asks the server for one page at a time
//! (`{"offset": n}`), yields the page's items, and asks for the next page only when those are
//! used up. It ends after the page that reaches the `total` the server reported, or after the
//! first error (which is its last item).

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::future::BoxFuture;

use crate::context::JetStream;
use crate::error::{Error, Result};
use serde::Deserialize;

use crate::types::api::{
    ApiPaging, ConsumerListResponse, ConsumerNamesResponse, ListRequest, StreamInfoRequest,
    StreamListResponse, StreamNamesResponse,
};
use crate::types::{ConsumerInfo, StreamInfo};
use crate::validate::validate_subject;

/// One page: its items and the offset of the next page (`None` after the last).
type Page<T> = Result<(Vec<T>, Option<usize>)>;

/// Fetches the page at `request.offset` from `<prefix>.<suffix>`.
type FetchPage<T> = fn(JetStream, String, ListRequest) -> BoxFuture<'static, Page<T>>;

/// The paging engine shared by the four listings.
struct Pager<T> {
    js: JetStream,
    /// API subject suffix, e.g. `STREAM.NAMES`.
    suffix: String,
    filter: Option<String>,
    fetch: FetchPage<T>,
    buffer: VecDeque<T>,
    /// Offset of the next page to ask for; `None` once the last page was asked for.
    next: Option<usize>,
    pending: Option<BoxFuture<'static, Page<T>>>,
    /// An error found before anything was sent (e.g. an invalid filter); yielded first.
    error: Option<Error>,
}

impl<T> Pager<T> {
    fn new(js: JetStream, suffix: String, fetch: FetchPage<T>) -> Self {
        Pager {
            js,
            suffix,
            filter: None,
            fetch,
            buffer: VecDeque::new(),
            next: Some(0),
            pending: None,
            error: None,
        }
    }

    /// Starts at `offset` instead of the first page (the pages before it are known).
    fn starting_at(mut self, offset: usize) -> Self {
        if self.next.is_some() {
            self.next = Some(offset);
        }
        self
    }

    fn set_filter(&mut self, subject: String) {
        match validate_subject(&subject, true) {
            Ok(()) => self.filter = Some(subject),
            Err(e) => {
                self.next = None;
                self.error = Some(e);
            }
        }
    }

    fn poll_next_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T>>> {
        if let Some(e) = self.error.take() {
            return Poll::Ready(Some(Err(e)));
        }
        loop {
            if let Some(item) = self.buffer.pop_front() {
                return Poll::Ready(Some(Ok(item)));
            }
            if let Some(pending) = self.pending.as_mut() {
                let page = match pending.as_mut().poll(cx) {
                    Poll::Ready(page) => page,
                    Poll::Pending => return Poll::Pending,
                };
                self.pending = None;
                match page {
                    Ok((items, next)) => {
                        self.buffer.extend(items);
                        self.next = next;
                    }
                    Err(e) => {
                        self.next = None;
                        return Poll::Ready(Some(Err(e)));
                    }
                }
                continue;
            }
            let Some(offset) = self.next.take() else {
                return Poll::Ready(None);
            };
            let request = ListRequest {
                offset,
                subject: self.filter.clone(),
            };
            self.pending = Some((self.fetch)(self.js.clone(), self.suffix.clone(), request));
        }
    }
}

impl<T> fmt::Debug for Pager<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pager")
            .field("suffix", &self.suffix)
            .field("filter", &self.filter)
            .field("buffered", &self.buffer.len())
            .field("next_offset", &self.next)
            .finish()
    }
}

fn fetch_stream_names(
    js: JetStream,
    suffix: String,
    request: ListRequest,
) -> BoxFuture<'static, Page<String>> {
    Box::pin(async move {
        let page: StreamNamesResponse = js.request(&suffix, &request).await?;
        let next = page.paging.next_offset(page.streams.len());
        Ok((page.streams, next))
    })
}

fn fetch_stream_infos(
    js: JetStream,
    suffix: String,
    request: ListRequest,
) -> BoxFuture<'static, Page<StreamInfo>> {
    Box::pin(async move {
        let page: StreamListResponse = js.request(&suffix, &request).await?;
        if !page.missing.is_empty() || !page.offline.is_empty() {
            tracing::debug!(missing = ?page.missing, offline = ?page.offline,
                "stream list: some streams could not be loaded");
        }
        let next = page.paging.next_offset(page.streams.len());
        Ok((page.streams, next))
    })
}

fn fetch_consumer_names(
    js: JetStream,
    suffix: String,
    request: ListRequest,
) -> BoxFuture<'static, Page<String>> {
    Box::pin(async move {
        let page: ConsumerNamesResponse = js.request(&suffix, &request).await?;
        let next = page.paging.next_offset(page.consumers.len());
        Ok((page.consumers, next))
    })
}

fn fetch_consumer_infos(
    js: JetStream,
    suffix: String,
    request: ListRequest,
) -> BoxFuture<'static, Page<ConsumerInfo>> {
    Box::pin(async move {
        let page: ConsumerListResponse = js.request(&suffix, &request).await?;
        if !page.missing.is_empty() || !page.offline.is_empty() {
            tracing::debug!(missing = ?page.missing, offline = ?page.offline,
                "consumer list: some consumers could not be loaded");
        }
        let next = page.paging.next_offset(page.consumers.len());
        Ok((page.consumers, next))
    })
}

/// A `STREAM.INFO` reply: the info plus, with a subjects filter, the paging of the subjects.
#[derive(Deserialize)]
pub(crate) struct StreamInfoPage {
    #[serde(flatten)]
    pub(crate) info: StreamInfo,
    #[serde(flatten)]
    pub(crate) paging: ApiPaging,
}

fn fetch_subject_counts(
    js: JetStream,
    suffix: String,
    request: ListRequest,
) -> BoxFuture<'static, Page<(String, u64)>> {
    Box::pin(async move {
        let request = StreamInfoRequest {
            deleted_details: false,
            subjects_filter: request.subject,
            offset: request.offset,
        };
        let page: StreamInfoPage = js.request(&suffix, &request).await?;
        let mut counts: Vec<(String, u64)> = page.info.state.subjects.into_iter().collect();
        // The server pages through its subjects in order, but a page is a JSON object.
        counts.sort_unstable();
        let next = page.paging.next_offset(counts.len());
        Ok((counts, next))
    })
}

macro_rules! listing {
    ($(#[$doc:meta])* $name:ident, $item:ty) => {
        $(#[$doc])*
        #[must_use = "a listing does nothing until polled"]
        #[derive(Debug)]
        pub struct $name {
            pager: Pager<$item>,
        }

        impl futures_core::Stream for $name {
            type Item = Result<$item>;

            fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
                self.get_mut().pager.poll_next_item(cx)
            }
        }
    };
}

listing!(
    /// The streams of the account with their infos, from [`JetStream::list_streams`].
    ///
    /// A [`futures_core::Stream`] of `Result<StreamInfo>`; pages of 256 are fetched as needed.
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
    /// use futures_util::StreamExt;
    ///
    /// let mut streams = js.list_streams().subject("orders.>");
    /// while let Some(info) = streams.next().await {
    ///     let info = info?;
    ///     println!("{}: {} messages", info.config.name, info.state.messages);
    /// }
    /// # Ok(()) }
    /// ```
    StreamList,
    StreamInfo
);

listing!(
    /// The names of the account's streams, from [`JetStream::stream_names`].
    ///
    /// A [`futures_core::Stream`] of `Result<String>`; pages of 1024 are fetched as needed.
    ///
    /// ```no_run
    /// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
    /// use futures_util::TryStreamExt;
    ///
    /// let names: Vec<String> = js.stream_names().try_collect().await?;
    /// # Ok(()) }
    /// ```
    StreamNames,
    String
);

listing!(
    /// The consumers of a stream with their infos, from
    /// [`Stream::list_consumers`](crate::Stream::list_consumers).
    ///
    /// A [`futures_core::Stream`] of `Result<ConsumerInfo>`; pages of 256 are fetched as
    /// needed.
    ///
    /// ```no_run
    /// # async fn run(stream: jetstream::Stream) -> Result<(), jetstream::Error> {
    /// use futures_util::StreamExt;
    ///
    /// let mut consumers = stream.list_consumers();
    /// while let Some(info) = consumers.next().await {
    ///     let info = info?;
    ///     println!("{}: {} pending", info.name, info.num_pending);
    /// }
    /// # Ok(()) }
    /// ```
    ConsumerList,
    ConsumerInfo
);

listing!(
    /// The names of a stream's consumers, from
    /// [`Stream::consumer_names`](crate::Stream::consumer_names).
    ///
    /// A [`futures_core::Stream`] of `Result<String>`; pages of 1024 are fetched as needed.
    ///
    /// ```no_run
    /// # async fn run(stream: jetstream::Stream) -> Result<(), jetstream::Error> {
    /// use futures_util::TryStreamExt;
    ///
    /// let names: Vec<String> = stream.consumer_names().try_collect().await?;
    /// # Ok(()) }
    /// ```
    ConsumerNames,
    String
);

listing!(
    /// The message count of each subject of a stream matching a filter, from
    /// [`Stream::subject_counts`](crate::Stream::subject_counts).
    ///
    /// A [`futures_core::Stream`] of `Result<(String, u64)>`: `(subject, messages)`, in
    /// subject order within a page. The server sends at most 100,000 subjects per
    /// `STREAM.INFO` reply; the next page is asked for only when the current one is used up,
    /// so a stream with millions of subjects is read with one page in memory.
    ///
    /// ```no_run
    /// # async fn run(stream: jetstream::Stream) -> Result<(), jetstream::Error> {
    /// use futures_util::StreamExt;
    ///
    /// let mut counts = stream.subject_counts("orders.>");
    /// while let Some(count) = counts.next().await {
    ///     let (subject, messages) = count?;
    ///     println!("{subject}: {messages}");
    /// }
    /// # Ok(()) }
    /// ```
    SubjectCounts,
    (String, u64)
);

impl SubjectCounts {
    /// The counts of the subjects of `stream` (a valid stream name) matching `filter`.
    pub(crate) fn new(js: JetStream, stream: &str, filter: String) -> Self {
        let suffix = format!("STREAM.INFO.{stream}");
        let mut pager = Pager::new(js, suffix, fetch_subject_counts);
        pager.set_filter(filter);
        SubjectCounts { pager }
    }

    /// Skips the subjects before `offset` (already read from the first page).
    pub(crate) fn starting_at(self, offset: usize) -> Self {
        SubjectCounts {
            pager: self.pager.starting_at(offset),
        }
    }
}

impl StreamList {
    pub(crate) fn new(js: JetStream) -> Self {
        let suffix = "STREAM.LIST".to_string();
        StreamList {
            pager: Pager::new(js, suffix, fetch_stream_infos),
        }
    }

    /// Lists only streams that capture subjects matching `filter` (wildcards allowed).
    ///
    /// An invalid filter makes the listing yield one [`InvalidSubject`](crate::ErrorKind)
    /// error, without asking the server.
    pub fn subject(mut self, filter: impl Into<String>) -> Self {
        self.pager.set_filter(filter.into());
        self
    }
}

impl StreamNames {
    pub(crate) fn new(js: JetStream) -> Self {
        let suffix = "STREAM.NAMES".to_string();
        StreamNames {
            pager: Pager::new(js, suffix, fetch_stream_names),
        }
    }

    /// Lists only streams that capture subjects matching `filter` (wildcards allowed).
    ///
    /// An invalid filter makes the listing yield one [`InvalidSubject`](crate::ErrorKind)
    /// error, without asking the server.
    pub fn subject(mut self, filter: impl Into<String>) -> Self {
        self.pager.set_filter(filter.into());
        self
    }
}

impl ConsumerList {
    /// Lists the consumers of `stream` (a valid stream name).
    pub(crate) fn new(js: JetStream, stream: &str) -> Self {
        let suffix = format!("CONSUMER.LIST.{stream}");
        ConsumerList {
            pager: Pager::new(js, suffix, fetch_consumer_infos),
        }
    }
}

impl ConsumerNames {
    /// Lists the consumer names of `stream` (a valid stream name).
    pub(crate) fn new(js: JetStream, stream: &str) -> Self {
        let suffix = format!("CONSUMER.NAMES.{stream}");
        ConsumerNames {
            pager: Pager::new(js, suffix, fetch_consumer_names),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_are_send_and_unpin() {
        fn assert_send_unpin<T: Send + Unpin + 'static>() {}
        assert_send_unpin::<StreamList>();
        assert_send_unpin::<StreamNames>();
        assert_send_unpin::<ConsumerList>();
        assert_send_unpin::<ConsumerNames>();
        assert_send_unpin::<SubjectCounts>();
    }
}

/// The names of the streams that back buckets (`KV_<bucket>`, `OBJ_<bucket>`),
/// with the prefix removed; other streams are skipped.
#[cfg(any(feature = "kv", feature = "object-store"))]
#[derive(Debug)]
pub(crate) struct BucketNames {
    names: StreamNames,
    prefix: &'static str,
}

#[cfg(any(feature = "kv", feature = "object-store"))]
impl BucketNames {
    pub(crate) fn new(names: StreamNames, prefix: &'static str) -> BucketNames {
        BucketNames { names, prefix }
    }
}

#[cfg(any(feature = "kv", feature = "object-store"))]
impl futures_core::Stream for BucketNames {
    type Item = Result<String>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match Pin::new(&mut self.names).poll_next(cx) {
                Poll::Ready(Some(Ok(name))) => {
                    if let Some(bucket) = name.strip_prefix(self.prefix) {
                        return Poll::Ready(Some(Ok(bucket.to_string())));
                    }
                }
                other => return other,
            }
        }
    }
}
