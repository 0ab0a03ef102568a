//! [`Client`]: the handle users publish, subscribe and request through.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use nats_wire::{encode_sub, encode_unsub, subject, HeaderMap, ServerInfo};
use tokio::sync::{oneshot, watch};

use crate::error::{Error, ErrorKind};
use crate::events::{State, Statistics};
use crate::pending::{Pending, PendingLimits};
use crate::request::{self, Response};
use crate::shared::{lock, Shared, SubKind, SubSlot};
use crate::subscriber::Subscriber;

/// A connection to a NATS server (or cluster). Cheap to clone; every clone
/// shares the one connection. The connection closes when the last clone (and
/// the last [`Subscriber`]) is dropped, after writing out what was published.
///
/// All methods are cancel safe: dropping a returned future before it completes
/// leaves the connection in a good state (a publish is then either fully
/// buffered or not at all).
pub struct Client {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("state", &self.connection_state())
            .finish_non_exhaustive()
    }
}

impl Clone for Client {
    fn clone(&self) -> Self {
        self.shared.handles.fetch_add(1, Ordering::Relaxed);
        Client {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if self.shared.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.close_requested.store(true, Ordering::Release);
            self.shared.kick_writer();
            self.shared.closing.notify_waiters();
        }
    }
}

impl Client {
    pub(crate) fn from_shared(shared: Arc<Shared>) -> Client {
        shared.handles.fetch_add(1, Ordering::Relaxed);
        Client { shared }
    }

    /// Publishes `payload` to `subject`.
    ///
    /// Returns once the message is in the client's write buffer (waiting if the
    /// buffer is full); call [`Client::flush`] to know the server has it.
    pub async fn publish(
        &self,
        subject: impl AsRef<str>,
        payload: impl Into<Bytes>,
    ) -> Result<(), Error> {
        self.publish_message(subject.as_ref(), None, None, &payload.into())
            .await
    }

    /// Publishes `payload` to `subject` as part of a batch: the message is
    /// queued without waking the connection, and goes out together with the
    /// client's next write (any publish, request or [`Client::flush`]), or,
    /// when none follows, about a millisecond later.
    ///
    /// For bursts of small messages where one syscall for the lot beats one
    /// per message, the last of the burst sent with [`Client::publish`]:
    /// JetStream acknowledgements use it. While batched publishes keep coming,
    /// the connection also sends them whenever it reads from the server.
    /// Ordering is the same as for `publish`: messages from one task reach the
    /// server in the order they were published, batched or not. A batch
    /// holding 32 KiB or more goes out at once.
    ///
    /// ```no_run
    /// # async fn demo(client: nats_core::Client) -> Result<(), nats_core::Error> {
    /// for i in 0..9 {
    ///     client.publish_batched("events", format!("event {i}")).await?;
    /// }
    /// // The last one wakes the connection: all ten leave in one write.
    /// client.publish("events", "event 9").await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn publish_batched(
        &self,
        subject: impl AsRef<str>,
        payload: impl Into<Bytes>,
    ) -> Result<(), Error> {
        let subject = subject.as_ref();
        let payload = payload.into();
        let size = self.check_message(subject, None, None, payload.len())?;
        let len = subject.len() + size + 40;
        self.shared
            .write_batched(len, (1, size as u64), |queue| {
                queue.put_pub(subject, None, None, &payload)
            })?
            .await?;
        Ok(())
    }

    /// Publishes with headers.
    pub async fn publish_with_headers(
        &self,
        subject: impl AsRef<str>,
        headers: HeaderMap,
        payload: impl Into<Bytes>,
    ) -> Result<(), Error> {
        self.publish_message(subject.as_ref(), None, Some(&headers), &payload.into())
            .await
    }

    /// Publishes with a reply subject.
    pub async fn publish_with_reply(
        &self,
        subject: impl AsRef<str>,
        reply: impl AsRef<str>,
        payload: impl Into<Bytes>,
    ) -> Result<(), Error> {
        self.publish_message(
            subject.as_ref(),
            Some(reply.as_ref()),
            None,
            &payload.into(),
        )
        .await
    }

    /// Publishes with a reply subject and headers.
    pub async fn publish_with_reply_and_headers(
        &self,
        subject: impl AsRef<str>,
        reply: impl AsRef<str>,
        headers: HeaderMap,
        payload: impl Into<Bytes>,
    ) -> Result<(), Error> {
        self.publish_message(
            subject.as_ref(),
            Some(reply.as_ref()),
            Some(&headers),
            &payload.into(),
        )
        .await
    }

    /// Checks a message against the server's limits and returns its size
    /// (headers plus payload).
    pub(crate) fn check_message(
        &self,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&HeaderMap>,
        payload_len: usize,
    ) -> Result<usize, Error> {
        subject::validate_publish_subject(subject)?;
        if let Some(reply) = reply {
            subject::validate_reply_subject(reply)?;
        }
        let header_len = match headers {
            Some(h) => {
                h.validate()?;
                h.encoded_len()
            }
            None => 0,
        };
        let size = header_len + payload_len;
        let max = self.shared.max_payload.load(Ordering::Relaxed);
        if max > 0 && size > max {
            return Err(Error::with_detail(
                ErrorKind::MaxPayloadExceeded,
                format!("message of {size} bytes exceeds the server's max_payload of {max}"),
            ));
        }
        Ok(size)
    }

    pub(crate) async fn publish_message(
        &self,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&HeaderMap>,
        payload: &Bytes,
    ) -> Result<(), Error> {
        let size = self.check_message(subject, reply, headers, payload.len())?;
        let len = subject.len() + reply.map_or(0, str::len) + size + 40;
        self.shared
            .write(len, (1, size as u64), |queue| {
                queue.put_pub(subject, reply, headers, payload)
            })?
            .await
    }

    /// Sends a request and waits for the reply, up to the default request
    /// timeout ([`ConnectOptions::request_timeout`](crate::ConnectOptions::request_timeout)).
    ///
    /// Fails at once with [`ErrorKind::NoResponders`] when nobody listens on
    /// `subject`, and with [`ErrorKind::PermissionDenied`] when the server
    /// refuses it (the user may not publish to `subject`, or may not
    /// subscribe to the inbox prefix); the connection stays usable.
    ///
    /// The request is sent when the future is first polled; except on the
    /// thread that `block_on`s a multi-thread runtime (`#[tokio::main]`) while
    /// other requests are in flight: there it is sent on the second poll, which
    /// it asks for at once, after the executor polled the other futures that
    /// were ready, so that the requests of one pass leave in one write (or
    /// when the future is dropped). The same holds for the other `request*`
    /// methods.
    pub fn request<'a>(
        &'a self,
        subject: impl AsRef<str> + 'a,
        payload: impl Into<Bytes>,
    ) -> impl Future<Output = Result<crate::Message, Error>> + 'a {
        let timeout = self.shared.options.request_timeout;
        self.request_future(subject, None, payload.into(), timeout)
    }

    /// Sends a request with headers and waits for the reply.
    pub fn request_with_headers<'a>(
        &'a self,
        subject: impl AsRef<str> + 'a,
        headers: HeaderMap,
        payload: impl Into<Bytes>,
    ) -> impl Future<Output = Result<crate::Message, Error>> + 'a {
        let timeout = self.shared.options.request_timeout;
        self.request_future(subject, Some(headers), payload.into(), timeout)
    }

    /// Sends a request and waits at most `timeout` for the reply.
    pub fn request_with_timeout<'a>(
        &'a self,
        subject: impl AsRef<str> + 'a,
        headers: Option<HeaderMap>,
        payload: impl Into<Bytes>,
        timeout: Duration,
    ) -> impl Future<Output = Result<crate::Message, Error>> + 'a {
        self.request_future(subject, headers, payload.into(), Some(timeout))
    }

    /// The future of the `request*` methods: sends the request when first
    /// polled, then waits for the reply; errors name the subject (and the
    /// timeout).
    ///
    /// An `async` block rather than an `async fn`, so that its arguments are
    /// stored in it once (an `async fn` keeps a second copy of each): request
    /// futures are moved around by their callers (into `FuturesUnordered`,
    /// the futures of the layers above), and every move copies all of it.
    #[allow(clippy::manual_async_fn)]
    fn request_future<'a, S: AsRef<str> + 'a>(
        &'a self,
        subject: S,
        headers: Option<HeaderMap>,
        payload: Bytes,
        timeout: Option<Duration>,
    ) -> impl Future<Output = Result<crate::Message, Error>> + 'a {
        async move {
            let subject = subject.as_ref();
            let (response, write) = request::send(
                self,
                subject,
                headers.as_ref(),
                &payload,
                None,
                timeout,
                true,
            )?;
            write.await?;
            response
                .await
                .map_err(|e| request_error(e, subject, timeout))
        }
    }

    /// Publishes a request and returns at once with a [`Response`] future that
    /// resolves to the reply. The reply comes through the connection's shared
    /// inbox subscription; dropping the `Response` forgets the request.
    ///
    /// The response itself has no timeout: wrap it in one.
    pub async fn send_request(
        &self,
        subject: &str,
        headers: Option<&HeaderMap>,
        payload: Bytes,
    ) -> Result<Response, Error> {
        let (response, write) = request::send(self, subject, headers, &payload, None, None, false)?;
        write.await?;
        Ok(response)
    }

    /// Like [`Client::send_request`], but the [`Response`] fails with
    /// [`ErrorKind::Timeout`] when no reply arrived within `timeout`.
    ///
    /// Cheaper than wrapping the response in [`tokio::time::timeout`]: the
    /// deadline is kept with the request and enforced by one task per
    /// client, so no timer is armed per request.
    ///
    /// ```no_run
    /// # async fn f(client: nats_core::Client) -> Result<(), nats_core::Error> {
    /// use std::time::Duration;
    ///
    /// let response = client
    ///     .send_request_with_timeout("service.time", None, "now".into(), Duration::from_secs(2))
    ///     .await?;
    /// // ... do other work while the request is in flight ...
    /// let reply = response.await?;
    /// println!("{:?}", reply.payload);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn send_request_with_timeout(
        &self,
        subject: &str,
        headers: Option<&HeaderMap>,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<Response, Error> {
        let (response, write) =
            request::send(self, subject, headers, &payload, None, Some(timeout), false)?;
        write.await?;
        Ok(response)
    }

    /// Like [`Client::send_request`], with a `guard` value that is dropped as
    /// soon as the request is done with: when its reply arrives (even if the
    /// [`Response`] is not polled), when the connection is lost, when the
    /// `Response` is dropped, or, with a `timeout`, when that passed (the
    /// `Response` then fails with [`ErrorKind::Timeout`], as one from
    /// [`Client::send_request_with_timeout`] does). Use it to tie a resource,
    /// such as a slot in a window of requests in flight, to the reply itself.
    pub async fn send_request_with_guard(
        &self,
        subject: &str,
        headers: Option<&HeaderMap>,
        payload: Bytes,
        guard: Box<dyn Send>,
        timeout: Option<Duration>,
    ) -> Result<Response, Error> {
        let (response, write) = request::send(
            self,
            subject,
            headers,
            &payload,
            Some(guard),
            timeout,
            false,
        )?;
        write.await?;
        Ok(response)
    }

    /// Subscribes to `subject` (wildcards allowed).
    ///
    /// The subscription holds at most the connection's
    /// [`pending_limits`](crate::ConnectOptions::pending_limits) unread; see
    /// [`PendingLimits`] for what happens beyond them.
    pub async fn subscribe(&self, subject: impl AsRef<str>) -> Result<Subscriber, Error> {
        let limits = self.shared.options.pending_limits;
        self.subscribe_inner(subject.as_ref(), None, limits).await
    }

    /// Subscribes as a member of `queue_group`: each message goes to one member.
    pub async fn queue_subscribe(
        &self,
        subject: impl AsRef<str>,
        queue_group: impl AsRef<str>,
    ) -> Result<Subscriber, Error> {
        let limits = self.shared.options.pending_limits;
        self.queue_subscribe_with_limits(subject, queue_group, limits)
            .await
    }

    /// Subscribes to `subject` with pending limits of its own instead of the
    /// connection's default: for a subscription that must hold more (or less)
    /// unread than the others.
    ///
    /// ```no_run
    /// # async fn run(client: nats_core::Client) -> Result<(), nats_core::Error> {
    /// use nats_core::PendingLimits;
    ///
    /// // Large messages, read slowly: bound the memory by bytes.
    /// let sub = client
    ///     .subscribe_with_limits("images.>", PendingLimits::new(1_000, 16 * 1024 * 1024))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn subscribe_with_limits(
        &self,
        subject: impl AsRef<str>,
        limits: PendingLimits,
    ) -> Result<Subscriber, Error> {
        self.subscribe_inner(subject.as_ref(), None, limits).await
    }

    /// Like [`Client::queue_subscribe`], with pending limits of its own.
    pub async fn queue_subscribe_with_limits(
        &self,
        subject: impl AsRef<str>,
        queue_group: impl AsRef<str>,
        limits: PendingLimits,
    ) -> Result<Subscriber, Error> {
        subject::validate_queue_group(queue_group.as_ref())?;
        self.subscribe_inner(subject.as_ref(), Some(queue_group.as_ref()), limits)
            .await
    }

    async fn subscribe_inner(
        &self,
        subject: &str,
        queue_group: Option<&str>,
        limits: PendingLimits,
    ) -> Result<Subscriber, Error> {
        subject::validate_subscribe_subject(subject)?;
        let sid = self.shared.next_sid();
        let (tx, rx) = crate::sub_queue::queue();
        let pending = Arc::new(Pending::new(limits));
        lock(&self.shared.subs).insert(
            sid,
            SubSlot {
                subject: subject.to_string(),
                queue_group: queue_group.map(str::to_string),
                kind: SubKind::Channel {
                    tx,
                    pending: pending.clone(),
                },
                max: None,
                delivered: 0,
                last_slow_event: None,
            },
        );
        let len = subject.len() + queue_group.map_or(0, str::len) + 32;
        tracing::trace!(target: "nats_core::protocol", op = "SUB", subject, queue_group, sid);
        let written = match self.shared.write(len, (0, 0), |queue| {
            encode_sub(subject, queue_group, sid, queue.buf())
        }) {
            Ok(waiting) => waiting.await,
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            self.shared.remove_sub(sid);
            return Err(e);
        }
        Ok(Subscriber::new(self.clone(), sid, rx, pending))
    }

    pub(crate) fn send_unsubscribe(&self, sid: u64, max: Option<u64>) {
        tracing::trace!(target: "nats_core::protocol", op = "UNSUB", sid, max);
        self.shared.write_now(|buf| encode_unsub(sid, max, buf));
    }

    /// Waits until the server has received everything published before this
    /// call (a PING/PONG round trip). Bounded by the request timeout (10 s by default).
    pub async fn flush(&self) -> Result<(), Error> {
        let (tx, rx) = oneshot::channel();
        {
            let mut w = lock(&self.shared.write);
            if w.closed || self.shared.close_requested.load(Ordering::Acquire) {
                return Err(Error::closed());
            }
            w.flush_waiters.push(tx);
        }
        self.shared.kick_writer();
        let timeout = self
            .shared
            .options
            .request_timeout
            .unwrap_or(Duration::from_secs(10));
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(Error::closed()),
            Err(_) => Err(Error::with_detail(ErrorKind::Timeout, "flush timed out")),
        }
    }

    /// Drains the connection: unsubscribes every subscription, lets subscribers
    /// receive what the server had already sent them, flushes what was
    /// published, then closes. Subscribers end after their buffered messages.
    pub async fn drain(&self) -> Result<(), Error> {
        let sids: Vec<u64> = lock(&self.shared.subs)
            .iter()
            .filter(|(_, s)| matches!(s.kind, SubKind::Channel { .. }))
            .map(|(sid, _)| *sid)
            .collect();
        for sid in &sids {
            self.send_unsubscribe(*sid, None);
        }
        let flushed = self.flush().await;
        for sid in sids {
            self.shared.remove_sub(sid);
        }
        self.close().await;
        flushed
    }

    /// Closes the connection now, after writing out what is buffered. Every
    /// clone of this client then fails with [`ErrorKind::ConnectionClosed`],
    /// at once: publishers waiting for room in the write buffer, and every
    /// publish, subscribe, request or flush started after this call, even
    /// while the connection is still writing out (waits at most 5 s for that).
    pub async fn close(&self) {
        self.shared.close_requested.store(true, Ordering::Release);
        self.shared.kick_writer();
        self.shared.closing.notify_waiters();
        self.shared.release_writers();
        let mut state = self.shared.state.subscribe();
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            state.wait_for(|s| *s == State::Closed),
        )
        .await;
    }

    /// A new unique inbox subject (`<inbox_prefix>.<nuid>`).
    pub fn new_inbox(&self) -> String {
        format!(
            "{}.{}",
            self.shared.options.inbox_prefix,
            crate::nuid::next()
        )
    }

    /// The INFO of the server the client is (or was last) connected to.
    pub fn server_info(&self) -> ServerInfo {
        (**lock(&self.shared.info)).clone()
    }

    /// The largest message (headers plus payload) the server accepts.
    pub fn max_payload(&self) -> usize {
        self.shared.max_payload.load(Ordering::Relaxed)
    }

    /// The connection state now.
    pub fn connection_state(&self) -> State {
        self.shared.current_state()
    }

    /// A receiver that sees every change of the connection state (useful to
    /// react to reconnects).
    pub fn state_changes(&self) -> watch::Receiver<State> {
        self.shared.state.subscribe()
    }

    /// How many times the client has connected so far, the first connection included (the
    /// `connects` of [`statistics`](Self::statistics), read alone: one atomic load). It grows
    /// with every reconnect, so two readings that differ tell that the connection was lost in
    /// between.
    pub fn connects(&self) -> u64 {
        self.shared.counters.connects.load(Ordering::Relaxed)
    }

    /// Traffic counters.
    pub fn statistics(&self) -> Statistics {
        let mut stats = self.shared.counters.snapshot();
        let w = lock(&self.shared.write);
        stats.out_messages = w.out_messages;
        stats.out_bytes = w.out_bytes;
        stats
    }

    /// The request timeout the client was configured with.
    pub fn request_timeout(&self) -> Option<Duration> {
        self.shared.options.request_timeout
    }

    /// How many requests are waiting for a reply (for tests and diagnostics).
    #[doc(hidden)]
    pub fn pending_requests(&self) -> usize {
        lock(&self.shared.requests).waiters.len()
    }

    /// How many publishes were written to the socket by their caller rather
    /// than by the connection task (plain TCP only; for tests and diagnostics).
    #[doc(hidden)]
    pub fn direct_writes(&self) -> u64 {
        lock(&self.shared.write).direct_writes
    }

    /// How many subscriptions the connection tracks, the request inbox included.
    #[doc(hidden)]
    pub fn subscription_count(&self) -> usize {
        lock(&self.shared.subs).len()
    }

    /// The configured inbox prefix.
    pub fn inbox_prefix(&self) -> &str {
        &self.shared.options.inbox_prefix
    }
}

/// The error of a request to `subject`, naming the subject (and the timeout)
/// when the error does not say more.
fn request_error(e: Error, subject: &str, timeout: Option<Duration>) -> Error {
    match e.kind() {
        ErrorKind::NoResponders if e.detail().is_none() => {
            e.context(format!("nobody listens on {subject}"))
        }
        ErrorKind::Timeout if e.detail().is_none() => Error::with_detail(
            ErrorKind::Timeout,
            format!(
                "no reply to the request on {subject} within {:?}",
                timeout.unwrap_or_default()
            ),
        ),
        _ => e,
    }
}
