//! One-shot pulls: [`Fetch`] and the [`MessageBatch`] it yields.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::future::BoxFuture;
use nats_core::Subscriber;
use tokio::time::Sleep;

use super::{
    classify, IdleWatch, OrderedConsumer, PriorityOptions, PullRequest, Source, Status,
    DEFAULT_BYTES_BATCH, DEFAULT_EXPIRES,
};
use crate::error::{Error, ErrorKind};
use crate::message::{message_size, Msg};
use crate::types::AckPolicy;
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
        }
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

    fn request(&self) -> Result<PullRequest, Error> {
        if self.batch == 0 && self.max_bytes == 0 {
            return Err(Error::msg(
                ErrorKind::InvalidArgument,
                "fetch of zero messages",
            ));
        }
        self.priority.validate()?;
        let mut req = PullRequest {
            batch: self.batch,
            max_bytes: self.max_bytes,
            no_wait: self.no_wait,
            group: self.priority.group.clone(),
            min_pending: self.priority.min_pending,
            min_ack_pending: self.priority.min_ack_pending,
            priority: self.priority.priority,
            ..Default::default()
        };
        if self.no_wait {
            return Ok(req);
        }
        if self.expires < Duration::from_millis(1) {
            return Err(Error::msg(
                ErrorKind::InvalidArgument,
                "max_wait must be positive",
            ));
        }
        let heartbeat = match self.heartbeat {
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
        req.expires = Some(self.expires);
        req.idle_heartbeat = heartbeat;
        Ok(req)
    }
}

impl IntoFuture for Fetch {
    type Output = Result<MessageBatch, Error>;
    type IntoFuture = BoxFuture<'static, Result<MessageBatch, Error>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let mut request = self.request()?;
            let (consumer, ordered) = match &self.source {
                Source::Consumer(c) => (c.clone(), None),
                Source::Ordered(o) => {
                    o.begin_fetch()?;
                    (o.next_consumer().await?, Some(o.clone()))
                }
            };
            let consumer = &consumer;
            let info = consumer.cached_info();
            self.priority.check_group(&info)?;
            request.id = consumer.pin_id();
            let client = consumer.js.client();
            let inbox = client.new_inbox();
            let sub = client.subscribe(&inbox).await?;
            let body = serde_json::to_vec(&request)
                .map_err(|e| Error::with_source(ErrorKind::InvalidArgument, e))?;
            client
                .publish_with_reply(consumer.next_subject(), &inbox, Bytes::from(body))
                .await?;
            let ack_none = info.config.ack_policy == AckPolicy::None;
            let deadline = if self.no_wait {
                // A no-wait pull is answered at once; bound the wait anyway.
                consumer.js.timeout()
            } else {
                self.expires + Duration::from_secs(1)
            };
            Ok(MessageBatch {
                sub,
                ack_none,
                remaining: if self.batch == 0 {
                    usize::MAX
                } else {
                    self.batch
                },
                bytes_left: self.max_bytes,
                deadline: Box::pin(tokio::time::sleep(deadline)),
                heartbeat: request.idle_heartbeat.map(IdleWatch::new),
                done: false,
                last_stream_sequence: None,
                consumer: consumer.clone(),
                ordered,
                consumer_seq: 0,
            })
        })
    }
}

/// The messages of one fetch, as a [`Stream`]. Ends when the batch is full,
/// the pull expired, or no messages were available (no-wait); a failure that
/// ends the batch early (e.g. `ConsumerDeleted`, `HeartbeatMissed`) is its last item.
///
/// Dropping it before it ends unsubscribes: messages still on their way for this pull are
/// not handed out (see [`Fetch`] on what happens to them). On an
/// [`OrderedConsumer`], the next fetch starts after the last message this batch yielded.
pub struct MessageBatch {
    sub: Subscriber,
    ack_none: bool,
    remaining: usize,
    bytes_left: usize,
    deadline: Pin<Box<Sleep>>,
    heartbeat: Option<IdleWatch>,
    done: bool,
    last_stream_sequence: Option<u64>,
    /// The handle fetched from: its client and timeout for the messages, and
    /// the pin id of a pinned-client priority group.
    consumer: Consumer,
    /// For an ordered consumer: where to record progress, and the last
    /// consumer sequence seen (a gap ends the batch).
    ordered: Option<OrderedConsumer>,
    consumer_seq: u64,
}

impl std::fmt::Debug for MessageBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageBatch")
            .field("remaining", &self.remaining)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl MessageBatch {
    /// The stream sequence of the last message yielded, if any.
    pub fn last_stream_sequence(&self) -> Option<u64> {
        self.last_stream_sequence
    }

    fn finish(&mut self) {
        self.done = true;
    }
}

impl Stream for MessageBatch {
    type Item = Result<Msg, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        loop {
            match Pin::new(&mut this.sub).poll_next(cx) {
                Poll::Ready(Some(m)) => {
                    if let Some(watch) = &mut this.heartbeat {
                        watch.activity();
                    }
                    match classify(&m) {
                        Status::Message => {
                            let size = message_size(&m);
                            if let Some(pin) = m.headers.as_ref().and_then(|h| h.get("Nats-Pin-Id"))
                            {
                                this.consumer.set_pin_id(Some(pin));
                            }
                            let msg = Msg::new(
                                m,
                                this.consumer.js.client().clone(),
                                this.ack_none,
                                this.consumer.js.timeout(),
                            );
                            let tokens = msg.tokens().map(|t| (t.stream_seq, t.consumer_seq));
                            if let Some(ordered) = &this.ordered {
                                match tokens {
                                    Some((stream_seq, consumer_seq))
                                        if consumer_seq == this.consumer_seq + 1 =>
                                    {
                                        this.consumer_seq = consumer_seq;
                                        ordered.record(stream_seq);
                                    }
                                    // A gap: end here; the next fetch starts after
                                    // the last message delivered.
                                    _ => {
                                        this.finish();
                                        return Poll::Ready(None);
                                    }
                                }
                            }
                            this.last_stream_sequence = tokens.map(|t| t.0);
                            this.remaining = this.remaining.saturating_sub(1);
                            if this.bytes_left > 0 {
                                this.bytes_left = this.bytes_left.saturating_sub(size);
                                if this.bytes_left == 0 {
                                    this.finish();
                                }
                            }
                            if this.remaining == 0 {
                                this.finish();
                            }
                            return Poll::Ready(Some(Ok(msg)));
                        }
                        Status::Heartbeat => continue,
                        Status::RequestEnded { .. } => {
                            this.finish();
                            return Poll::Ready(None);
                        }
                        Status::Reset { error, pin_lost } => {
                            if pin_lost {
                                this.consumer.set_pin_id(None);
                            }
                            this.finish();
                            return Poll::Ready(Some(Err(error)));
                        }
                        Status::Warning(e) | Status::Terminal(e) => {
                            this.finish();
                            return Poll::Ready(Some(Err(e)));
                        }
                    }
                }
                Poll::Ready(None) => {
                    this.finish();
                    return Poll::Ready(Some(Err(Error::new(ErrorKind::ConnectionClosed))));
                }
                Poll::Pending => break,
            }
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            this.finish();
            return Poll::Ready(None);
        }
        if let Some(watch) = &mut this.heartbeat {
            if watch.poll_missed(cx).is_ready() {
                this.finish();
                return Poll::Ready(Some(Err(Error::msg(
                    ErrorKind::HeartbeatMissed,
                    "no heartbeat from the server within twice the interval",
                ))));
            }
        }
        Poll::Pending
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

    /// One message, waiting up to 30 s (then `Timeout`).
    ///
    /// A fetch of one: dropping the future while it waits leaves its pull with the server,
    /// and a message delivered for it then reaches nobody (see [`Fetch`]).
    pub async fn next(&self) -> Result<Msg, Error> {
        let mut batch = self.fetch(1).await?;
        match futures_util::StreamExt::next(&mut batch).await {
            Some(result) => result,
            None => Err(Error::msg(ErrorKind::Timeout, "no message arrived in time")),
        }
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
