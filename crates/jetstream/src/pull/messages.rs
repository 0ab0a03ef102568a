//! [`Messages`]: a stream of messages driven by the pull engine, and
//! [`SharedMessages`], the same stream read by several workers.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use futures_util::future::BoxFuture;
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::engine::{Control, Event};
use super::options::PullOptions;
use super::slot_stream::SlotStream;
use super::{AnyEngine, Source};
use crate::error::{Error, ErrorKind};
use crate::message::Msg;
use crate::Consumer;

type WarningHandler = Box<dyn FnMut(Error) + Send>;

/// Options of [`Consumer::messages`]; awaiting it starts pulling and returns [`Messages`].
#[must_use = "nothing is pulled until awaited"]
pub struct MessagesBuilder {
    source: Source,
    options: PullOptions,
    /// Yield `HeartbeatMissed` as an item (default) rather than as a warning.
    heartbeat_items: bool,
    on_warning: Option<WarningHandler>,
}

impl MessagesBuilder {
    /// Where the messages come from and the pull options set so far, for a
    /// concurrent loop made from this builder.
    pub(super) fn into_source_and_options(self) -> (Source, PullOptions) {
        (self.source, self.options)
    }
}

impl std::fmt::Debug for MessagesBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessagesBuilder")
            .field("options", &self.options)
            .field("heartbeat_items", &self.heartbeat_items)
            .field("warning_handler", &self.on_warning.is_some())
            .finish_non_exhaustive()
    }
}

pull_options!(impl MessagesBuilder);

impl MessagesBuilder {
    pub(crate) fn from_source(source: Source) -> MessagesBuilder {
        MessagesBuilder {
            source,
            options: PullOptions::default(),
            heartbeat_items: true,
            on_warning: None,
        }
    }

    /// Whether missed heartbeats are yielded as `Err` items of kind
    /// [`HeartbeatMissed`](ErrorKind::HeartbeatMissed) (default `true`, as
    /// nats.go's `WithMessagesErrOnMissingHeartbeat`). With `false` they go to
    /// the [`warning_handler`](Self::warning_handler) like any other warning,
    /// and every `Err` the stream yields is its last item: a
    /// `let msg = msg?;` loop then ends only when the stream is over.
    ///
    /// ```no_run
    /// # async fn run(consumer: jetstream::Consumer) -> Result<(), jetstream::Error> {
    /// use futures_util::StreamExt;
    ///
    /// let mut messages = consumer.messages().err_on_missing_heartbeat(false).await?;
    /// while let Some(msg) = messages.next().await {
    ///     let msg = msg?; // only the error that ends the stream
    ///     msg.ack().await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn err_on_missing_heartbeat(mut self, report: bool) -> Self {
        self.heartbeat_items = report;
        self
    }

    /// Called with every warning the stream does not yield, after which it goes
    /// on: a pull answered with 503 though the consumer exists, a `409` that
    /// does not end the pull (e.g. `Exceeded MaxWaiting`, `Exceeded
    /// MaxRequestBatch`), a leadership change, the server shutting down, a
    /// failed re-pull, and missed heartbeats when
    /// [`err_on_missing_heartbeat(false)`](Self::err_on_missing_heartbeat).
    /// Without one they are logged with `tracing`.
    ///
    /// It runs inside the stream's `poll_next`, so it should be quick (count,
    /// log, or send to a channel).
    ///
    /// ```no_run
    /// # async fn run(consumer: jetstream::Consumer) -> Result<(), jetstream::Error> {
    /// let messages = consumer
    ///     .messages()
    ///     .warning_handler(|warning| eprintln!("pull: {warning}"))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn warning_handler(mut self, handler: impl FnMut(Error) + Send + 'static) -> Self {
        self.on_warning = Some(Box::new(handler));
        self
    }
}

/// Reads events from the engine and turns them into stream items.
struct Reader {
    engine: Box<AnyEngine>,
    heartbeat_items: bool,
    on_warning: Option<WarningHandler>,
}

impl Reader {
    async fn next(&mut self) -> Option<Result<Msg, Error>> {
        loop {
            match self.engine.next_event().await? {
                Event::Msg(m) => return Some(Ok(m)),
                Event::Warning(e)
                    if self.heartbeat_items && e.kind() == ErrorKind::HeartbeatMissed =>
                {
                    return Some(Err(e))
                }
                Event::Warning(e) => match &mut self.on_warning {
                    Some(handler) => handler(e),
                    None => tracing::warn!(error = %e, "pull consumer warning"),
                },
                Event::Reconnected | Event::Gap(_) => {}
                Event::Terminal(e) => return Some(Err(e)),
            }
        }
    }
}

impl IntoFuture for MessagesBuilder {
    type Output = Result<Messages, Error>;
    type IntoFuture = BoxFuture<'static, Result<Messages, Error>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let cfg = self
                .options
                .config(matches!(self.source, Source::Ordered(_)))?;
            let control = Arc::new(Control::default());
            let engine = AnyEngine::start(&self.source, cfg, control.clone()).await?;
            Ok(Messages::from_engine(
                engine,
                control,
                self.heartbeat_items,
                self.on_warning,
            ))
        })
    }
}

impl Messages {
    /// The stream of a started receive loop (`control` is the loop's).
    pub(crate) fn from_engine(
        engine: AnyEngine,
        control: Arc<Control>,
        heartbeat_items: bool,
        on_warning: Option<WarningHandler>,
    ) -> Messages {
        let reader = Reader {
            engine: Box::new(engine),
            heartbeat_items,
            on_warning,
        };
        // One loop for the life of the stream (see `SlotStream`).
        let stream = SlotStream::new(|tx| async move {
            let mut reader = reader;
            while let Some(item) = reader.next().await {
                tx.send(item).await;
            }
        });
        Messages {
            inner: Box::pin(stream),
            control,
            done: false,
        }
    }
}

/// A continuous stream of messages from a consumer; pulls are kept outstanding
/// in the background as it is read. Memory is bounded by the pull budget.
///
/// # Items
///
/// - `Ok(msg)`: the next message.
/// - A **warning**, after which the stream goes on: `Err` of kind
///   [`HeartbeatMissed`](ErrorKind::HeartbeatMissed), when nothing came from the
///   server for twice the heartbeat interval (frozen, unreachable, or the pull
///   was dropped); the stream pulls again (once reconnected) and checks that the
///   consumer still exists. Not yielded with
///   [`err_on_missing_heartbeat(false)`](MessagesBuilder::err_on_missing_heartbeat).
/// - A **terminal** error, always the last item (then `None`):
///   [`ConsumerDeleted`](ErrorKind::ConsumerDeleted) (the server told a
///   waiting pull), [`ConsumerNotFound`](ErrorKind::ConsumerNotFound) or
///   [`StreamNotFound`](ErrorKind::StreamNotFound) (a check after a 503 or
///   missed heartbeats found it gone), [`ConsumerIsPushBased`](ErrorKind::ConsumerIsPushBased),
///   [`InvalidArgument`](ErrorKind::InvalidArgument) (the server refused the
///   pull request), [`ConnectionClosed`](ErrorKind::ConnectionClosed); for an
///   ordered consumer also the error that recreating its consumer ended with.
///
/// So every `Err` but `HeartbeatMissed` ends the stream. Other server notices
/// (a `409 Exceeded MaxWaiting`, a 503 while the consumer exists, a failed
/// re-pull) are never items: they go to the
/// [`warning_handler`](MessagesBuilder::warning_handler) (without one, to
/// `tracing`), and the stream retries; [`consume`](Consumer::consume) hands
/// them to its error handler.
///
/// Dropping it unsubscribes at once: messages already pulled but not read (up to the pull
/// budget) reach nobody; with `AckPolicy::Explicit` the server redelivers them after
/// `ack_wait`, with `AckPolicy::None` the consumer has moved past them. To end without
/// that, call [`stop`](Self::stop) or [`drain`](Self::drain) and read until `None`.
/// To read it from several tasks, see [`shared`](Self::shared).
///
/// ```no_run
/// # async fn run(consumer: jetstream::Consumer) -> Result<(), jetstream::Error> {
/// use futures_util::StreamExt;
/// use jetstream::ErrorKind;
///
/// let mut messages = consumer.messages().max_messages(200).await?;
/// while let Some(item) = messages.next().await {
///     match item {
///         Ok(msg) => msg.ack().await?,
///         // A warning: the stream goes on.
///         Err(e) if e.kind() == ErrorKind::HeartbeatMissed => eprintln!("{e}"),
///         // Anything else is the last item.
///         Err(e) => return Err(e),
///     }
/// }
/// # Ok(()) }
/// ```
pub struct Messages {
    inner: Pin<Box<dyn Stream<Item = Result<Msg, Error>> + Send>>,
    control: Arc<Control>,
    /// The stream ended: `None` from now on.
    done: bool,
}

impl std::fmt::Debug for Messages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Messages")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl Messages {
    /// Stops pulling; the stream then yields what already arrived and ends.
    pub fn stop(&mut self) {
        self.control.stop();
    }

    /// Stops pulling and lets in-flight messages arrive; the stream then
    /// yields them and ends.
    pub async fn drain(&mut self) {
        self.control.stop();
    }

    /// Turns the stream into one that several workers read at once: each
    /// clone of the [`SharedMessages`] yields the next message that none of
    /// the others took, as nats.go's `MessagesContext` shared between
    /// goroutines.
    ///
    /// Nothing is buffered beyond the pull budget of this stream: workers take
    /// turns (the one that asked first gets the next message), and one
    /// message is handed to exactly one of them. The terminal error, when the
    /// stream ends, goes to one worker; all then get `None`.
    ///
    /// ```no_run
    /// # async fn run(consumer: jetstream::Consumer) -> Result<(), jetstream::Error> {
    /// use futures_util::StreamExt;
    ///
    /// let shared = consumer.messages().max_messages(100).await?.shared();
    /// let mut workers = Vec::new();
    /// for _ in 0..4 {
    ///     let mut messages = shared.clone();
    ///     workers.push(tokio::spawn(async move {
    ///         while let Some(msg) = messages.next().await {
    ///             let Ok(msg) = msg else { continue };
    ///             let _ = msg.ack().await;
    ///         }
    ///     }));
    /// }
    /// # Ok(()) }
    /// ```
    pub fn shared(self) -> SharedMessages {
        SharedMessages {
            control: self.control.clone(),
            messages: Arc::new(Mutex::new(self)),
            lock: None,
            guard: None,
        }
    }
}

impl Stream for Messages {
    type Item = Result<Msg, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        let item = std::task::ready!(self.inner.as_mut().poll_next(cx));
        self.done = item.is_none();
        Poll::Ready(item)
    }
}

type Lock = Pin<Box<dyn Future<Output = OwnedMutexGuard<Messages>> + Send>>;

/// A [`Messages`] stream that several workers read at once, made by
/// [`Messages::shared`]: clone it for each worker; every message goes to one
/// of them. No buffer of its own: the pull budget of the stream bounds memory.
///
/// Items are those of [`Messages`]. [`stop`](Self::stop) and
/// [`drain`](Self::drain) on any clone end the stream for all: they yield what
/// already arrived, then `None`.
///
/// ```no_run
/// # async fn run(consumer: jetstream::Consumer) -> Result<(), jetstream::Error> {
/// use futures_util::StreamExt;
///
/// let shared = consumer.messages().await?.shared();
/// let mut worker = shared.clone();
/// tokio::spawn(async move {
///     while let Some(Ok(msg)) = worker.next().await {
///         let _ = msg.ack().await;
///     }
/// });
/// shared.stop();
/// # Ok(()) }
/// ```
pub struct SharedMessages {
    messages: Arc<Mutex<Messages>>,
    control: Arc<Control>,
    /// Waiting for the turn to read.
    lock: Option<Lock>,
    /// Reading: the turn is held until an item comes.
    guard: Option<OwnedMutexGuard<Messages>>,
}

impl Clone for SharedMessages {
    fn clone(&self) -> Self {
        SharedMessages {
            messages: self.messages.clone(),
            control: self.control.clone(),
            lock: None,
            guard: None,
        }
    }
}

impl std::fmt::Debug for SharedMessages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedMessages")
            .field("reading", &self.guard.is_some())
            .finish_non_exhaustive()
    }
}

impl SharedMessages {
    /// Stops pulling for every clone; they yield what already arrived, then `None`.
    pub fn stop(&self) {
        self.control.stop();
    }

    /// Stops pulling and lets in-flight messages arrive, for every clone.
    pub async fn drain(&self) {
        self.control.stop();
    }
}

impl Stream for SharedMessages {
    type Item = Result<Msg, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(guard) = &mut this.guard {
                let item = std::task::ready!(Pin::new(&mut **guard).poll_next(cx));
                // Let the next worker read.
                this.guard = None;
                return Poll::Ready(item);
            }
            let messages = &this.messages;
            let lock = this
                .lock
                .get_or_insert_with(|| Box::pin(messages.clone().lock_owned()));
            let guard = std::task::ready!(lock.as_mut().poll(cx));
            this.lock = None;
            this.guard = Some(guard);
        }
    }
}

impl Consumer {
    /// A continuous stream of messages; await the builder to start.
    ///
    /// ```no_run
    /// # async fn run(consumer: jetstream::Consumer) -> Result<(), jetstream::Error> {
    /// use futures_util::StreamExt;
    ///
    /// let mut messages = consumer.messages().err_on_missing_heartbeat(false).await?;
    /// while let Some(msg) = messages.next().await {
    ///     msg?.ack().await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn messages(&self) -> MessagesBuilder {
        MessagesBuilder::from_source(Source::Consumer(self.clone()))
    }
}
