//! One-shot pulls: [`Fetch`] and the [`MessageBatch`] it yields.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use futures_util::future::BoxFuture;

use super::engine::{Engine, Event, PullConfig, PullKind};
use super::ordered::OrderedFetch;
use super::slot_stream::SlotStream;
use super::{PriorityOptions, Source, DEFAULT_BYTES_BATCH, DEFAULT_EXPIRES};
use crate::error::{Error, ErrorKind};
use crate::message::{AckNumbers, Msg};
use crate::Consumer;

/// A single pull of up to `n` messages (or bytes). Made by
/// [`Consumer::fetch`], [`Consumer::fetch_bytes`] and [`Consumer::fetch_no_wait`].
///
/// Awaiting it sends the pull request and returns a [`MessageBatch`].
///
/// # Cancel safety
///
/// Dropping the future after the pull request went out (or dropping the [`MessageBatch`]
/// before it ends) leaves the request with the server until it is filled or expires: the
/// messages it delivers then reach nobody. With [`AckPolicy::Explicit`](crate::AckPolicy)
/// they are redelivered once the consumer's `ack_wait` expires; with
/// [`AckPolicy::None`](crate::AckPolicy) the consumer has moved past them. Read the batch
/// to its end, or use a short [`max_wait`](Self::max_wait), when that matters.
///
/// ```no_run
/// # async fn run(consumer: jetstream::Consumer) -> Result<(), jetstream::Error> {
/// use futures_util::StreamExt;
/// use std::time::Duration;
///
/// let mut batch = consumer.fetch(10).max_wait(Duration::from_secs(2)).await?;
/// while let Some(msg) = batch.next().await {
///     let msg = msg?;
///     msg.ack().await?;
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a fetch does nothing until awaited"]
pub struct Fetch {
    source: Source,
    batch: usize,
    max_bytes: usize,
    expires: Duration,
    heartbeat: Option<Duration>,
    no_wait: bool,
    priority: PriorityOptions,
    /// Made by `Msg::ack_next`: the pull goes to this ack subject as `+NXT`.
    via_ack: Option<String>,
}

impl Fetch {
    pub(crate) fn new(source: Source, batch: usize, max_bytes: usize, no_wait: bool) -> Fetch {
        Fetch {
            source,
            batch,
            max_bytes,
            expires: DEFAULT_EXPIRES,
            heartbeat: None,
            no_wait,
            priority: PriorityOptions::default(),
            via_ack: None,
        }
    }

    /// The pull acknowledges the message with this ack subject (`+NXT`).
    pub(crate) fn via_ack(mut self, ack_subject: String) -> Fetch {
        self.via_ack = Some(ack_subject);
        self
    }

    /// At most this many messages. Replaces the count given to `fetch` (and the
    /// count `fetch_bytes` implies); combine it with [`max_bytes`](Self::max_bytes)
    /// to honour both limits, as nats.go's `PullMaxMessagesWithBytesLimit`.
    ///
    /// ```no_run
    /// # async fn run(consumer: jetstream::Consumer) -> Result<(), jetstream::Error> {
    /// // Up to 1 MB, but never more than 100 messages.
    /// let batch = consumer.fetch_bytes(1_000_000).max_messages(100).await?;
    /// # Ok(()) }
    /// ```
    pub fn max_messages(mut self, n: usize) -> Self {
        self.batch = n;
        self
    }

    /// At most this many bytes (as the server counts them: subject, reply,
    /// headers and payload). Replaces the budget given to `fetch_bytes`; on
    /// `fetch(n)` both limits hold: the batch ends at whichever is reached
    /// first. A message larger than the budget ends the batch.
    ///
    /// ```no_run
    /// # async fn run(consumer: jetstream::Consumer) -> Result<(), jetstream::Error> {
    /// // Up to 10 messages, but never more than 64 KiB of them.
    /// let batch = consumer.fetch(10).max_bytes(64 * 1024).await?;
    /// # Ok(()) }
    /// ```
    pub fn max_bytes(mut self, n: usize) -> Self {
        self.max_bytes = n;
        self
    }

    /// How long the server keeps the pull open (default 30 s). The batch ends
    /// then with what has arrived.
    pub fn max_wait(mut self, wait: Duration) -> Self {
        self.expires = wait;
        self
    }

    /// Idle heartbeat interval; at most half of `max_wait`. Default: 5 s when
    /// `max_wait` is at least 10 s, else none.
    pub fn heartbeat(mut self, heartbeat: Duration) -> Self {
        self.heartbeat = Some(heartbeat);
        self
    }

    priority_setters!(priority);

    fn config(&self) -> Result<PullConfig, Error> {
        if self.batch == 0 {
            return Err(Error::msg(
                ErrorKind::InvalidArgument,
                "fetch of zero messages",
            ));
        }
        self.priority.validate()?;
        let mut cfg = PullConfig {
            max_messages: self.batch,
            max_bytes: self.max_bytes,
            expires: self.expires,
            heartbeat: None,
            priority: self.priority.clone(),
            kind: PullKind::Once {
                no_wait: self.no_wait,
            },
            via_ack: self.via_ack.clone(),
            stop_after: None,
        };
        if self.no_wait {
            return Ok(cfg);
        }
        if self.expires < Duration::from_millis(1) {
            return Err(Error::msg(
                ErrorKind::InvalidArgument,
                "max_wait must be positive",
            ));
        }
        cfg.heartbeat = match self.heartbeat {
            Some(hb) if hb.is_zero() => {
                return Err(Error::msg(
                    ErrorKind::InvalidArgument,
                    "heartbeat must be positive",
                ))
            }
            Some(hb) if hb * 2 > self.expires => {
                return Err(Error::msg(
                    ErrorKind::InvalidArgument,
                    "heartbeat must be at most half of max_wait",
                ))
            }
            Some(hb) => Some(hb),
            None if self.expires >= Duration::from_secs(10) => Some(Duration::from_secs(5)),
            None => None,
        };
        Ok(cfg)
    }
}

impl IntoFuture for Fetch {
    type Output = Result<MessageBatch, Error>;
    type IntoFuture = BoxFuture<'static, Result<MessageBatch, Error>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let cfg = self.config()?;
            let (consumer, ordered) = match &self.source {
                Source::Consumer(c) => (c.clone(), None),
                Source::Ordered(o) => {
                    let fetch = OrderedFetch::begin(o)?;
                    (o.next_consumer(None).await?, Some(fetch))
                }
            };
            let engine = Engine::start(&consumer, cfg, None).await?;
            Ok(MessageBatch::new(engine, ordered))
        })
    }
}

/// The messages of one fetch, as a [`Stream`]. Ends when the batch is full,
/// the pull expired, or no messages were available (no-wait); a failure that
/// ends the batch early (e.g. `ConsumerDeleted`, `HeartbeatMissed`) is its last item.
///
/// Dropping it before it ends unsubscribes: messages still on their way for this pull are
/// not handed out (see [`Fetch`] on what happens to them). On an
/// [`OrderedConsumer`](crate::OrderedConsumer), the next fetch starts after the last message this batch yielded.
pub struct MessageBatch {
    inner: Pin<Box<dyn Stream<Item = Result<Msg, Error>> + Send>>,
    /// The reply subject of the last message yielded: its stream sequence
    /// is read only when asked for.
    last_reply: Option<nats_core::Subject>,
}

impl std::fmt::Debug for MessageBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageBatch")
            .field("last_stream_sequence", &self.last_stream_sequence())
            .finish_non_exhaustive()
    }
}

impl MessageBatch {
    fn new(engine: Engine, ordered: Option<OrderedFetch>) -> MessageBatch {
        // One loop for the life of the batch (see `SlotStream`).
        let inner = SlotStream::new(|tx| async move {
            let (mut engine, mut ordered) = (engine, ordered);
            while let Some(event) = engine.next_event().await {
                let item = match event {
                    Event::Msg(m) => {
                        if let Some(fetch) = &mut ordered {
                            // A gap ends the batch: the next fetch starts
                            // after the last message delivered.
                            if !fetch.accept(&m) {
                                return;
                            }
                        }
                        Ok(m)
                    }
                    Event::Warning(e) | Event::Terminal(e) => Err(e),
                    Event::Reconnected | Event::Gap(_) => continue,
                };
                if engine.is_finished() {
                    // An ordered consumer may fetch again, even while
                    // this batch is still held.
                    if let Some(fetch) = &mut ordered {
                        fetch.finish();
                    }
                }
                tx.send(item).await;
            }
        });
        MessageBatch {
            inner: Box::pin(inner),
            last_reply: None,
        }
    }

    /// The stream sequence of the last message yielded, if any.
    pub fn last_stream_sequence(&self) -> Option<u64> {
        let reply = self.last_reply.as_deref()?;
        AckNumbers::parse(reply).map(|n| n.stream_seq)
    }
}

impl Stream for MessageBatch {
    type Item = Result<Msg, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = std::task::ready!(self.inner.as_mut().poll_next(cx));
        if let Some(Ok(m)) = &item {
            self.last_reply = m.message().reply.clone();
        }
        Poll::Ready(item)
    }
}

impl Consumer {
    /// Pulls up to `max_messages` messages, waiting up to `max_wait` (default 30 s).
    pub fn fetch(&self, max_messages: usize) -> Fetch {
        Fetch::new(Source::Consumer(self.clone()), max_messages, 0, false)
    }

    /// Pulls messages up to a budget of `max_bytes` bytes.
    pub fn fetch_bytes(&self, max_bytes: usize) -> Fetch {
        Fetch::new(
            Source::Consumer(self.clone()),
            DEFAULT_BYTES_BATCH,
            max_bytes.max(1),
            false,
        )
    }

    /// Pulls up to `max_messages` that are available now; ends at once when
    /// there are none.
    pub fn fetch_no_wait(&self, max_messages: usize) -> Fetch {
        Fetch::new(Source::Consumer(self.clone()), max_messages, 0, true)
    }

    /// One message, waiting up to 30 s (then `Timeout`); set another wait
    /// with [`Next::max_wait`].
    ///
    /// A fetch of one: dropping the future while it waits leaves its pull with the server,
    /// and a message delivered for it then reaches nobody (see [`Fetch`]).
    ///
    /// ```no_run
    /// # async fn run(consumer: jetstream::Consumer) -> Result<(), jetstream::Error> {
    /// use std::time::Duration;
    ///
    /// let msg = consumer.next().await?;
    /// msg.ack().await?;
    /// // Give up after 2 s (ErrorKind::Timeout).
    /// let msg = consumer.next().max_wait(Duration::from_secs(2)).await?;
    /// msg.ack().await?;
    /// # Ok(()) }
    /// ```
    pub fn next(&self) -> Next {
        Next::new(Source::Consumer(self.clone()))
    }

    /// `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`.
    pub(crate) fn next_subject(&self) -> String {
        self.js.api_subject(&format!(
            "CONSUMER.MSG.NEXT.{}.{}",
            &self.stream[..],
            &self.name[..]
        ))
    }
}

/// One message: a fetch of one. Made by [`Consumer::next`] and
/// [`OrderedConsumer::next`](crate::OrderedConsumer::next).
///
/// It is a future itself (so `consumer.next().await`, `tokio::spawn(consumer.next())`
/// and `join_all` work as they did), with the options of a fetch set before it is
/// first polled. Ends with `Ok(msg)`, or `Err` of kind
/// [`Timeout`](ErrorKind::Timeout) when nothing arrived within `max_wait`, or
/// the error that ended the pull.
///
/// ```no_run
/// # async fn run(consumer: jetstream::Consumer) -> Result<(), jetstream::Error> {
/// use jetstream::ErrorKind;
/// use std::time::Duration;
///
/// match consumer.next().max_wait(Duration::from_millis(500)).await {
///     Ok(msg) => msg.ack().await?,
///     Err(e) if e.kind() == ErrorKind::Timeout => println!("nothing yet"),
///     Err(e) => return Err(e),
/// }
/// # Ok(()) }
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Next {
    /// The fetch of one, until first polled.
    fetch: Option<Fetch>,
    running: Option<BoxFuture<'static, Result<Msg, Error>>>,
}

impl std::fmt::Debug for Next {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Next")
            .field("fetch", &self.fetch)
            .field("running", &self.running.is_some())
            .finish()
    }
}

impl Next {
    pub(crate) fn new(source: Source) -> Next {
        Next {
            fetch: Some(Fetch::new(source, 1, 0, false)),
            running: None,
        }
    }

    /// Changes the fetch of one; no effect once the future was polled.
    fn map(mut self, f: impl FnOnce(Fetch) -> Fetch) -> Self {
        self.fetch = self.fetch.take().map(f);
        self
    }

    /// How long to wait for the message (default 30 s); then the result is an
    /// error of kind [`Timeout`](ErrorKind::Timeout). As [`Fetch::max_wait`].
    pub fn max_wait(self, wait: Duration) -> Self {
        self.map(|f| f.max_wait(wait))
    }

    /// Idle heartbeat interval, as [`Fetch::heartbeat`].
    pub fn heartbeat(self, heartbeat: Duration) -> Self {
        self.map(|f| f.heartbeat(heartbeat))
    }

    /// The priority group to pull from, as [`Fetch::group`].
    pub fn group(self, group: impl Into<String>) -> Self {
        self.map(|f| f.group(group))
    }

    /// Overflow policy: as [`Fetch::min_pending`].
    pub fn min_pending(self, n: i64) -> Self {
        self.map(|f| f.min_pending(n))
    }

    /// Overflow policy: as [`Fetch::min_ack_pending`].
    pub fn min_ack_pending(self, n: i64) -> Self {
        self.map(|f| f.min_ack_pending(n))
    }

    /// Prioritized policy: as [`Fetch::priority`].
    pub fn priority(self, priority: u8) -> Self {
        self.map(|f| f.priority(priority))
    }
}

impl Future for Next {
    type Output = Result<Msg, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.running.is_none() {
            let Some(fetch) = self.fetch.take() else {
                return Poll::Ready(Err(Error::msg(
                    ErrorKind::InvalidArgument,
                    "next() polled after it completed",
                )));
            };
            self.running = Some(Box::pin(async move {
                let mut batch = fetch.await?;
                match futures_util::StreamExt::next(&mut batch).await {
                    Some(result) => result,
                    None => Err(Error::msg(ErrorKind::Timeout, "no message arrived in time")),
                }
            }));
        }
        let Some(running) = self.running.as_mut() else {
            return Poll::Pending;
        };
        let out = std::task::ready!(running.as_mut().poll(cx));
        self.running = None;
        Poll::Ready(out)
    }
}
