//! The [`Stream`] handle: info, purge, message get and delete. Consumer management scoped to a
//! stream lives in `consumers_api.rs`.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use futures_core::future::BoxFuture;
use futures_util::StreamExt;

use crate::context::JetStream;
use crate::direct_get::{GetMsg, StoredMessage};
use crate::error::{Error, ErrorCode, ErrorKind, Result};
use crate::list::{StreamInfoPage, SubjectCounts};
use crate::types::api::{
    MsgDeleteRequest, PurgeRequest, PurgeResponse, StreamInfoRequest, SuccessResponse,
};
use crate::types::StreamInfo;
use crate::validate::validate_subject;

/// A handle to a stream: cheap to clone, holding the last fetched [`StreamInfo`].
///
/// Get one from [`JetStream::create_stream`], [`JetStream::stream`] and friends.
///
/// ```no_run
/// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
/// let stream = js.stream("ORDERS").await?;
/// println!("{} messages", stream.cached_info().state.messages);
/// let purged = stream.purge().subject("orders.cancelled").await?;
/// let msg = stream.get_msg(1).await?;
/// # let _ = (purged, msg);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Stream {
    pub(crate) js: JetStream,
    pub(crate) name: Arc<str>,
    pub(crate) info: Arc<Mutex<Arc<StreamInfo>>>,
}

impl Stream {
    pub(crate) fn new(js: JetStream, info: StreamInfo) -> Stream {
        Stream {
            js,
            name: Arc::from(info.config.name.as_str()),
            info: Arc::new(Mutex::new(Arc::new(info))),
        }
    }

    /// A handle whose cached info is a default `StreamInfo` with only the name set.
    pub(crate) fn without_info(js: JetStream, name: &str) -> Stream {
        let mut info = StreamInfo::default();
        info.config.name = name.to_string();
        Stream::new(js, info)
    }

    pub(crate) fn set_info(&self, info: StreamInfo) -> Arc<StreamInfo> {
        let info = Arc::new(info);
        *self.info.lock().unwrap_or_else(PoisonError::into_inner) = info.clone();
        info
    }

    /// The stream's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The JetStream context this handle uses.
    pub fn context(&self) -> &JetStream {
        &self.js
    }

    /// The last fetched info, without asking the server. Clones share it, so an
    /// [`info`](Self::info) through any clone refreshes it for all.
    pub fn cached_info(&self) -> Arc<StreamInfo> {
        self.info
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether the cached config allows direct gets (read in place: no clone of
    /// the info's handle on every get).
    pub(crate) fn allows_direct(&self) -> bool {
        self.info
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .config
            .allow_direct
    }

    /// Fetches the stream's current info and refreshes the cache.
    ///
    /// ```no_run
    /// # async fn run(stream: jetstream::Stream) -> Result<(), jetstream::Error> {
    /// let info = stream.info().await?;
    /// println!("last sequence {}", info.state.last_seq);
    /// # Ok(()) }
    /// ```
    pub async fn info(&self) -> Result<StreamInfo> {
        self.info_with().await
    }

    /// Fetches the stream's info with options: per-subject message counts
    /// ([`subjects_filter`](StreamInfoBuilder::subjects_filter), all pages are collected into
    /// `state.subjects`; [`subject_counts`](Self::subject_counts) reads them page by page
    /// instead) and the deleted sequences
    /// ([`deleted_details`](StreamInfoBuilder::deleted_details), into `state.deleted`).
    /// Refreshes the cache.
    ///
    /// ```no_run
    /// # async fn run(stream: jetstream::Stream) -> Result<(), jetstream::Error> {
    /// let info = stream.info_with().subjects_filter("orders.>").deleted_details(true).await?;
    /// for (subject, count) in &info.state.subjects {
    ///     println!("{subject}: {count}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn info_with(&self) -> StreamInfoBuilder {
        StreamInfoBuilder {
            stream: self.clone(),
            subjects_filter: None,
            deleted_details: false,
        }
    }

    /// The message count of every subject matching `filter` (wildcards allowed; `>` for all),
    /// read lazily: a [`SubjectCounts`] stream of `(subject, messages)` that asks for the
    /// next page of the server's answer (at most 100,000 subjects each) only when the current
    /// one is used up. Does not touch the cached info. An invalid filter is its one item
    /// ([`ErrorKind::InvalidSubject`]).
    ///
    /// ```no_run
    /// # async fn run(stream: jetstream::Stream) -> Result<(), jetstream::Error> {
    /// use futures_util::TryStreamExt;
    ///
    /// let busy: Vec<(String, u64)> = stream
    ///     .subject_counts("orders.*")
    ///     .try_filter(|(_, messages)| std::future::ready(*messages > 1000))
    ///     .try_collect()
    ///     .await?;
    /// # let _ = busy;
    /// # Ok(()) }
    /// ```
    pub fn subject_counts(&self, filter: impl Into<String>) -> SubjectCounts {
        SubjectCounts::new(self.js.clone(), &self.name, filter.into())
    }

    /// Purges messages: all of them, or those selected with the builder's options.
    /// Resolves to the number of messages purged.
    ///
    /// ```no_run
    /// # async fn run(stream: jetstream::Stream) -> Result<(), jetstream::Error> {
    /// let all = stream.purge().await?;
    /// let old = stream.purge().subject("orders.new").keep(10).await?;
    /// let below = stream.purge().sequence(1000).await?;
    /// # let _ = (all, old, below);
    /// # Ok(()) }
    /// ```
    pub fn purge(&self) -> Purge {
        Purge {
            stream: self.clone(),
            request: PurgeRequest::default(),
        }
    }

    /// Gets the message with stream sequence `sequence`; missing or deleted:
    /// [`ErrorKind::MessageNotFound`]; `0` (never a sequence):
    /// [`ErrorKind::InvalidArgument`], without asking the server.
    ///
    /// Uses a direct get (`$JS.API.DIRECT.GET.<stream>`, answered by any replica or a
    /// mirror with `mirror_direct`) when the cached info says the stream has
    /// `allow_direct`, else `STREAM.MSG.GET` (the leader). A replica may lag behind the
    /// leader: to read your own writes, use
    /// [`get_msg_with`](Self::get_msg_with)`().sequence(n).from_leader()`. A direct get nobody
    /// answers is asked of the leader, so a stream deleted behind the handle gives
    /// [`ErrorKind::StreamNotFound`] on every path.
    pub async fn get_msg(&self, sequence: u64) -> Result<StoredMessage> {
        self.get_msg_with().sequence(sequence).await
    }

    /// Gets one message with options: which message
    /// ([`sequence`](GetMsg::sequence), [`last_for_subject`](GetMsg::last_for_subject),
    /// [`next_for_subject`](GetMsg::next_for_subject)), read from the stream leader even when
    /// the stream allows direct gets ([`from_leader`](GetMsg::from_leader): read your own
    /// writes), or only its payload ([`no_headers`](GetMsg::no_headers)).
    ///
    /// ```no_run
    /// # async fn run(stream: jetstream::Stream) -> Result<(), jetstream::Error> {
    /// let ack = stream.context().publish("orders.new", "order 1").await?;
    /// // A direct get may be answered by a replica that has not stored it yet.
    /// let msg = stream.get_msg_with().sequence(ack.sequence).from_leader().await?;
    /// let latest = stream
    ///     .get_msg_with()
    ///     .last_for_subject("orders.new")
    ///     .no_headers()
    ///     .await?; // only the payload
    /// # let _ = (msg, latest);
    /// # Ok(()) }
    /// ```
    pub fn get_msg_with(&self) -> GetMsg {
        GetMsg::new(self.clone())
    }

    /// Gets the last message stored on `subject` (wildcards allowed); none:
    /// [`ErrorKind::MessageNotFound`].
    ///
    /// With `allow_direct`, a literal subject uses `$JS.API.DIRECT.GET.<stream>.<subject>`.
    ///
    /// ```no_run
    /// # async fn run(stream: jetstream::Stream) -> Result<(), jetstream::Error> {
    /// let last = stream.get_last_msg_for_subject("orders.new").await?;
    /// println!("latest order: #{}", last.sequence);
    /// # Ok(()) }
    /// ```
    pub async fn get_last_msg_for_subject(
        &self,
        subject: impl AsRef<str>,
    ) -> Result<StoredMessage> {
        self.get_msg_with().last_for_subject(subject.as_ref()).await
    }

    /// Gets the first message at or after stream sequence `from_sequence` whose subject
    /// matches `subject` (wildcards allowed); none: [`ErrorKind::MessageNotFound`].
    ///
    /// ```no_run
    /// # async fn run(stream: jetstream::Stream) -> Result<(), jetstream::Error> {
    /// let first = stream.get_next_msg_for_subject("orders.*", 1).await?;
    /// let second = stream.get_next_msg_for_subject("orders.*", first.sequence + 1).await?;
    /// # let _ = second;
    /// # Ok(()) }
    /// ```
    pub async fn get_next_msg_for_subject(
        &self,
        subject: impl AsRef<str>,
        from_sequence: u64,
    ) -> Result<StoredMessage> {
        self.get_msg_with()
            .next_for_subject(subject.as_ref(), from_sequence)
            .await
    }

    /// Deletes the message with stream sequence `sequence` (its data is not overwritten;
    /// see [`secure_delete_msg`](Self::secure_delete_msg)). Not stored (never, or no
    /// longer): [`ErrorKind::MessageNotFound`]; `0`: [`ErrorKind::InvalidArgument`], without
    /// asking the server.
    ///
    /// ```no_run
    /// # async fn run(stream: jetstream::Stream) -> Result<(), jetstream::Error> {
    /// use jetstream::ErrorKind;
    ///
    /// match stream.delete_msg(7).await {
    ///     Err(e) if e.kind() == ErrorKind::MessageNotFound => println!("already gone"),
    ///     other => other?,
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn delete_msg(&self, sequence: u64) -> Result<()> {
        self.delete_message(sequence, true).await
    }

    /// Deletes the message with stream sequence `sequence` and overwrites its data in
    /// storage. Not stored: [`ErrorKind::MessageNotFound`]; `0`:
    /// [`ErrorKind::InvalidArgument`].
    pub async fn secure_delete_msg(&self, sequence: u64) -> Result<()> {
        self.delete_message(sequence, false).await
    }

    async fn delete_message(&self, sequence: u64, no_erase: bool) -> Result<()> {
        check_sequence(sequence, "message delete")?;
        let suffix = format!("STREAM.MSG.DELETE.{}", self.name);
        let request = MsgDeleteRequest { sequence, no_erase };
        match self.js.request::<SuccessResponse>(&suffix, &request).await {
            Ok(response) => check_success(response.success, "message delete"),
            Err(e) => Err(self.explain_failed_delete(e, sequence).await),
        }
    }

    /// A memory stream refuses to delete a sequence it does not hold with its own err_code
    /// (10043, [`ErrorKind::MessageNotFound`]); a file stream with the generic "message
    /// delete failed" (10057), which also stands for `deny_delete` and storage failures. For
    /// that one, ask the leader whether the message is there (payload only): when it is
    /// not, the delete failed because there was nothing to delete.
    async fn explain_failed_delete(&self, e: Error, sequence: u64) -> Error {
        let Some(api) = e
            .api_error()
            .filter(|api| api.err_code == ErrorCode::STREAM_MSG_DELETE_FAILED)
        else {
            return e;
        };
        let lookup = self
            .get_msg_with()
            .sequence(sequence)
            .from_leader()
            .no_headers()
            .await;
        match lookup {
            Err(why) if why.kind() == ErrorKind::MessageNotFound => {
                Error::api_with_kind(ErrorKind::MessageNotFound, api.clone()).with_message(format!(
                    "message {sequence} is not in stream {:?}",
                    self.name
                ))
            }
            _ => e,
        }
    }

    /// Explains a publish to this stream's subjects that found no responder (`e`): when the
    /// stream itself is gone, [`ErrorKind::StreamNotFound`]; when no JetStream answers at
    /// all, [`ErrorKind::JetStreamNotEnabled`]; otherwise (e.g. the stream is there but has
    /// no leader right now) `e` as it is. Asks the server only on that error path.
    #[cfg(any(feature = "kv", feature = "object-store"))]
    pub(crate) async fn explain_no_responders(&self, e: Error) -> Error {
        if e.kind() != ErrorKind::NoResponders {
            return e;
        }
        match self.info().await {
            Err(why) if why.kind() == ErrorKind::StreamNotFound => {
                why.with_message(format!("stream {:?} no longer exists", self.name))
            }
            Err(why) if why.kind() == ErrorKind::JetStreamNotEnabled => why,
            _ => e,
        }
    }
}

/// Refuses stream sequence `0`, which no message has (the server would take it as "the last
/// message" or answer a bare "bad request").
pub(crate) fn check_sequence(sequence: u64, what: &str) -> Result<()> {
    if sequence == 0 {
        return Err(Error::msg(
            ErrorKind::InvalidArgument,
            format!("{what}: stream sequences start at 1, not 0"),
        ));
    }
    Ok(())
}

/// Turns a `{"success":false}` reply (without an error) into an error.
pub(crate) fn check_success(success: bool, what: &str) -> Result<()> {
    if success {
        Ok(())
    } else {
        Err(Error::msg(
            ErrorKind::InvalidResponse,
            format!("{what}: the server did not report success"),
        ))
    }
}

/// Options of [`Stream::info_with`]; await it to fetch the info.
#[derive(Debug)]
#[must_use = "a builder does nothing until awaited"]
pub struct StreamInfoBuilder {
    stream: Stream,
    subjects_filter: Option<String>,
    deleted_details: bool,
}

impl StreamInfoBuilder {
    /// Fills `state.subjects` with the message count of every subject matching `filter`
    /// (wildcards allowed; `>` for all). Large results come in pages, all of which are
    /// fetched.
    pub fn subjects_filter(mut self, filter: impl Into<String>) -> Self {
        self.subjects_filter = Some(filter.into());
        self
    }

    /// Fills `state.deleted` with the sequences of deleted messages.
    pub fn deleted_details(mut self, deleted_details: bool) -> Self {
        self.deleted_details = deleted_details;
        self
    }

    async fn run(self) -> Result<StreamInfo> {
        if let Some(filter) = &self.subjects_filter {
            validate_subject(filter, true)?;
        }
        let stream = &self.stream;
        let suffix = format!("STREAM.INFO.{}", stream.name);
        let mut request = StreamInfoRequest {
            deleted_details: self.deleted_details,
            subjects_filter: self.subjects_filter,
            offset: 0,
        };
        let page: StreamInfoPage = stream.js.request(&suffix, &request).await?;
        let mut info = page.info;
        if let Some(filter) = request.subjects_filter.take() {
            // The first page came with the info; the rest are read by the same pager as
            // `subject_counts`.
            if let Some(next) = page.paging.next_offset(info.state.subjects.len()) {
                let mut rest =
                    SubjectCounts::new(stream.js.clone(), &stream.name, filter).starting_at(next);
                while let Some(count) = rest.next().await {
                    let (subject, messages) = count?;
                    info.state.subjects.insert(subject, messages);
                }
            }
        }
        stream.set_info(info.clone());
        Ok(info)
    }
}

impl IntoFuture for StreamInfoBuilder {
    type Output = Result<StreamInfo>;
    type IntoFuture = BoxFuture<'static, Result<StreamInfo>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// A purge of a stream, from [`Stream::purge`]; await it for the number of messages purged.
///
/// Without options it removes every message. [`subject`](Self::subject) limits it to
/// messages on matching subjects; [`sequence`](Self::sequence) removes those below a
/// sequence, [`keep`](Self::keep) all but the newest `n` (`sequence` and `keep` are
/// exclusive: [`ErrorKind::InvalidArgument`]).
#[derive(Debug)]
#[must_use = "a purge does nothing until awaited"]
pub struct Purge {
    stream: Stream,
    request: PurgeRequest,
}

impl Purge {
    /// Purges only messages whose subject matches `subject` (wildcards allowed).
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.request.subject = Some(subject.into());
        self
    }

    /// Purges messages with a stream sequence below `sequence` (exclusive).
    pub fn sequence(mut self, sequence: u64) -> Self {
        self.request.sequence = Some(sequence);
        self
    }

    /// Keeps the newest `keep` messages (per the subject filter, if one is set).
    pub fn keep(mut self, keep: u64) -> Self {
        self.request.keep = Some(keep);
        self
    }

    async fn run(self) -> Result<u64> {
        if self.request.sequence.is_some() && self.request.keep.is_some() {
            return Err(Error::msg(
                ErrorKind::InvalidArgument,
                "purge: sequence and keep can not be used together",
            ));
        }
        if let Some(subject) = &self.request.subject {
            validate_subject(subject, true)?;
        }
        let suffix = format!("STREAM.PURGE.{}", self.stream.name);
        let response: PurgeResponse = self.stream.js.request(&suffix, &self.request).await?;
        check_success(response.success, "purge")?;
        Ok(response.purged)
    }
}

impl IntoFuture for Purge {
    type Output = Result<u64>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<u64>> + Send + 'static>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_and_builders_are_send_sync_static() {
        fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
        fn assert_send<T: Send + 'static>() {}
        assert_send_sync::<Stream>();
        assert_send::<Purge>();
        assert_send::<StreamInfoBuilder>();
        assert_send::<<Purge as IntoFuture>::IntoFuture>();
        assert_send::<<StreamInfoBuilder as IntoFuture>::IntoFuture>();
        assert_send::<GetMsg>();
        assert_send::<<GetMsg as IntoFuture>::IntoFuture>();
    }
}
