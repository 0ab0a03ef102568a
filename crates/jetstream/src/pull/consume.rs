//! Continuous consumption: [`Messages`] (a stream) and [`Consume`] (a handler on
//! a task), both driven by the pull [`Engine`].

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use std::panic::AssertUnwindSafe;

use futures_core::Stream;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use tokio::sync::watch;

use super::engine::{Control, Event, PullConfig, PullKind};
use super::{AnyEngine, Source};
use super::{PriorityOptions, DEFAULT_BYTES_BATCH, DEFAULT_EXPIRES, DEFAULT_MAX_MESSAGES};
use crate::error::{Error, ErrorKind};
use crate::message::Msg;
use crate::Consumer;

/// Options common to `messages()` and `consume()`.
#[derive(Debug, Clone, Default)]
struct PullOptions {
    max_messages: Option<usize>,
    max_bytes: Option<usize>,
    expires: Option<Duration>,
    heartbeat: Option<Duration>,
    threshold_messages: Option<usize>,
    threshold_bytes: Option<usize>,
    priority: PriorityOptions,
}

impl PullOptions {
    /// Validated settings; `ordered` consumers get a shorter default heartbeat
    /// (5 s when the expiry is at least 10 s), so recovery is quick.
    fn config(&self, ordered: bool) -> Result<PullConfig, Error> {
        let bad = |m: &'static str| Err(Error::msg(ErrorKind::InvalidArgument, m));
        if self.max_messages.is_some() && self.max_bytes.is_some() {
            return bad("max_messages and max_bytes cannot both be set");
        }
        if self.max_messages == Some(0) || self.max_bytes == Some(0) {
            return bad("max_messages and max_bytes must be positive");
        }
        let max_bytes = self.max_bytes.unwrap_or(0);
        let max_messages = match (self.max_messages, max_bytes) {
            (Some(n), _) => n,
            (None, 0) => DEFAULT_MAX_MESSAGES,
            (None, _) => DEFAULT_BYTES_BATCH,
        };
        let expires = self.expires.unwrap_or(DEFAULT_EXPIRES);
        if expires < Duration::from_secs(1) {
            return bad("expiry must be at least 1 s");
        }
        let heartbeat = match self.heartbeat {
            Some(hb) if hb < Duration::from_millis(500) || hb > Duration::from_secs(30) => {
                return bad("heartbeat must be between 500 ms and 30 s")
            }
            Some(hb) if hb * 2 > expires => return bad("heartbeat must be at most half of expiry"),
            Some(hb) => hb,
            None if ordered && expires >= Duration::from_secs(10) => Duration::from_secs(5),
            None => (expires / 2).min(Duration::from_secs(30)),
        };
        let threshold_messages = self.threshold_messages.unwrap_or(max_messages.div_ceil(2));
        if threshold_messages > max_messages {
            return bad("threshold_messages cannot exceed max_messages");
        }
        let threshold_bytes = self.threshold_bytes.unwrap_or(max_bytes.div_ceil(2));
        if max_bytes > 0 && threshold_bytes > max_bytes {
            return bad("threshold_bytes cannot exceed max_bytes");
        }
        self.priority.validate()?;
        Ok(PullConfig {
            max_messages,
            max_bytes,
            expires,
            heartbeat: Some(heartbeat),
            priority: self.priority.clone(),
            kind: PullKind::Continuous {
                threshold_messages,
                threshold_bytes,
            },
        })
    }
}

macro_rules! pull_options {
    ($($head:tt)*) => {
        $($head)* {
            /// How many messages to keep requested (default 500). Exclusive with `max_bytes`.
            pub fn max_messages(mut self, n: usize) -> Self {
                self.options.max_messages = Some(n);
                self
            }

            /// How many bytes to keep requested. Exclusive with `max_messages`.
            pub fn max_bytes(mut self, n: usize) -> Self {
                self.options.max_bytes = Some(n);
                self
            }

            /// Lifetime of each pull request on the server (default 30 s, at least 1 s).
            pub fn expiry(mut self, expiry: Duration) -> Self {
                self.options.expires = Some(expiry);
                self
            }

            /// Pull again when fewer than this many messages are outstanding (default half).
            pub fn threshold_messages(mut self, n: usize) -> Self {
                self.options.threshold_messages = Some(n);
                self
            }

            /// Pull again when fewer than this many bytes are outstanding (default half).
            pub fn threshold_bytes(mut self, n: usize) -> Self {
                self.options.threshold_bytes = Some(n);
                self
            }

            /// Idle heartbeat interval (default half the expiry, at most 30 s; 500 ms to 30 s).
            pub fn heartbeat(mut self, heartbeat: Duration) -> Self {
                self.options.heartbeat = Some(heartbeat);
                self
            }

            priority_setters!(options.priority);
        }
    };
}

/// Options of [`Consumer::messages`]; awaiting it starts pulling and returns [`Messages`].
#[derive(Debug)]
#[must_use = "nothing is pulled until awaited"]
pub struct MessagesBuilder {
    source: Source,
    options: PullOptions,
}

pull_options!(impl MessagesBuilder);

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
            let stream = futures_util::stream::unfold(Box::new(engine), |mut engine| async move {
                loop {
                    match engine.next_event().await? {
                        Event::Msg(m) => return Some((Ok(m), engine)),
                        Event::Warning(e) if e.kind() == ErrorKind::HeartbeatMissed => {
                            return Some((Err(e), engine))
                        }
                        Event::Warning(e) => tracing::warn!(error = %e, "pull consumer warning"),
                        Event::Reconnected => {}
                        Event::Terminal(e) => return Some((Err(e), engine)),
                    }
                }
            });
            Ok(Messages {
                inner: Box::pin(stream),
                control,
            })
        })
    }
}

/// A continuous stream of messages from a consumer; pulls are kept outstanding
/// in the background as it is read. Memory is bounded by the pull budget.
///
/// # Items
///
/// - `Ok(msg)`: the next message.
/// - A **warning**, after which the stream goes on: `Err` of kind
///   [`HeartbeatMissed`](ErrorKind::HeartbeatMissed). The server went quiet
///   (frozen, unreachable, or the pull was dropped); the stream pulls again
///   (once reconnected) and checks that the consumer still exists.
/// - A **terminal** error, always the last item (then `None`):
///   [`ConsumerDeleted`](ErrorKind::ConsumerDeleted) (the server told a
///   waiting pull), [`ConsumerNotFound`](ErrorKind::ConsumerNotFound) or
///   [`StreamNotFound`](ErrorKind::StreamNotFound) (a check after a 503 or
///   missed heartbeats found it gone), [`ConsumerIsPushBased`](ErrorKind::ConsumerIsPushBased),
///   [`InvalidArgument`](ErrorKind::InvalidArgument) (the server refused the
///   pull request), [`ConnectionClosed`](ErrorKind::ConnectionClosed); for an
///   ordered consumer also the error that recreating its consumer ended with.
///
/// Other server notices (a `409 Exceeded MaxWaiting`, a 503 while the
/// consumer exists, a failed re-pull) are logged with `tracing` and retried;
/// [`consume`](Consumer::consume) hands them to its error handler.
///
/// Dropping it unsubscribes at once: messages already pulled but not read (up to the pull
/// budget) reach nobody; with `AckPolicy::Explicit` the server redelivers them after
/// `ack_wait`, with `AckPolicy::None` the consumer has moved past them. To end without
/// that, call [`stop`](Self::stop) or [`drain`](Self::drain) and read until `None`.
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
}

impl std::fmt::Debug for Messages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Messages").finish_non_exhaustive()
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
}

impl Stream for Messages {
    type Item = Result<Msg, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

type ErrorHandler = Box<dyn FnMut(Error) + Send>;

/// A consume loop being set up: options, then `.await` to start it. Made by
/// [`Consumer::consume`].
#[must_use = "nothing is consumed until awaited"]
pub struct Consume<F> {
    source: Source,
    handler: F,
    options: PullOptions,
    error_handler: Option<ErrorHandler>,
}

impl<F> std::fmt::Debug for Consume<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consume")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

pull_options!(impl<F> Consume<F>);

impl<F> Consume<F> {
    /// Called with warnings (missed heartbeats, server notices, failed
    /// re-pulls), after which the loop goes on, and with the error that ends
    /// it: the terminal errors listed on [`Messages`], or
    /// [`ErrorKind::HandlerPanicked`] when the handler panicked.
    pub fn error_handler(mut self, handler: impl FnMut(Error) + Send + 'static) -> Self {
        self.error_handler = Some(Box::new(handler));
        self
    }
}

impl<F, Fut> IntoFuture for Consume<F>
where
    F: FnMut(Msg) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    type Output = Result<ConsumeContext, Error>;
    type IntoFuture = BoxFuture<'static, Result<ConsumeContext, Error>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let cfg = self
                .options
                .config(matches!(self.source, Source::Ordered(_)))?;
            let control = Arc::new(Control::default());
            let mut engine = AnyEngine::start(&self.source, cfg, control.clone()).await?;
            let (done_tx, done_rx) = watch::channel(false);
            let mut handler = self.handler;
            let mut on_error = self.error_handler;
            tokio::spawn(async move {
                // Marks the loop closed however it ends.
                let _closed = ClosedOnDrop(done_tx);
                while let Some(event) = engine.next_event().await {
                    match event {
                        Event::Msg(m) => {
                            if let Err(e) = run_handler(&mut handler, m).await {
                                report(&mut on_error, e, "consume ended");
                                break;
                            }
                        }
                        Event::Reconnected => {}
                        Event::Warning(e) => report(&mut on_error, e, "consume warning"),
                        Event::Terminal(e) => {
                            report(&mut on_error, e, "consume ended");
                            break;
                        }
                    }
                }
            });
            Ok(ConsumeContext {
                control,
                done: done_rx,
            })
        })
    }
}

/// Runs the handler on one message. A panic in it (or in making its future)
/// becomes an error of kind [`ErrorKind::HandlerPanicked`].
async fn run_handler<F, Fut>(handler: &mut F, m: Msg) -> Result<(), Error>
where
    F: FnMut(Msg) -> Fut,
    Fut: Future<Output = ()>,
{
    let outcome = match std::panic::catch_unwind(AssertUnwindSafe(|| handler(m))) {
        Ok(handled) => AssertUnwindSafe(handled).catch_unwind().await,
        Err(panic) => Err(panic),
    };
    outcome.map_err(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(no message)");
        Error::msg(
            ErrorKind::HandlerPanicked,
            format!("the consume handler panicked: {what}"),
        )
    })
}

/// Hands `e` to the error handler, or logs it when there is none.
fn report(on_error: &mut Option<ErrorHandler>, e: Error, what: &str) {
    match on_error {
        Some(h) => h(e),
        None => tracing::warn!(error = %e, "{what}"),
    }
}

/// Marks a consume loop closed when its task ends, however it ends.
struct ClosedOnDrop(watch::Sender<bool>);

impl Drop for ClosedOnDrop {
    fn drop(&mut self) {
        let _ = self.0.send(true);
    }
}

/// The handle of a running consume loop. Dropping it stops pulling, as
/// [`stop`](Self::stop) does; [`drain`](Self::drain) also waits for the loop to end.
#[derive(Debug)]
pub struct ConsumeContext {
    control: Arc<Control>,
    done: watch::Receiver<bool>,
}

impl ConsumeContext {
    /// Stops pulling; messages that already arrived are still handled.
    pub fn stop(&self) {
        self.control.stop();
    }

    /// Stops pulling and waits until every message that arrived was handled.
    pub async fn drain(&self) {
        self.control.stop();
        self.closed().await;
    }

    /// Waits until the loop has ended (stopped, drained, or failed for good).
    pub async fn closed(&self) {
        let mut done = self.done.clone();
        let _ = done.wait_for(|d| *d).await;
    }

    /// Whether the loop has ended.
    pub fn is_closed(&self) -> bool {
        *self.done.borrow()
    }
}

impl Drop for ConsumeContext {
    fn drop(&mut self) {
        self.control.stop();
    }
}

impl<F> Consume<F> {
    pub(crate) fn from_source(source: Source, handler: F) -> Consume<F> {
        Consume {
            source,
            handler,
            options: PullOptions::default(),
            error_handler: None,
        }
    }
}

impl MessagesBuilder {
    pub(crate) fn from_source(source: Source) -> MessagesBuilder {
        MessagesBuilder {
            source,
            options: PullOptions::default(),
        }
    }
}

impl Consumer {
    /// Runs `handler` for every message, one at a time and in order, on a task
    /// of its own, keeping pulls outstanding. Await the returned builder to start.
    ///
    /// Warnings and the error that ends the loop go to the
    /// [`error_handler`](Consume::error_handler) (without one, to `tracing`).
    ///
    /// **A panic in the handler ends the loop**: the error handler gets an
    /// error of kind [`ErrorKind::HandlerPanicked`] carrying the panic's
    /// message, and the context closes ([`ConsumeContext::is_closed`] is true,
    /// [`ConsumeContext::closed`] returns). The message being handled is not
    /// acknowledged, so the server delivers it again after `ack_wait`. The loop
    /// does not go on because a handler that panicked may have left the state
    /// it captured half-updated; start a new loop to continue.
    ///
    /// ```no_run
    /// # async fn run(consumer: jetstream::Consumer) -> Result<(), jetstream::Error> {
    /// let ctx = consumer
    ///     .consume(|msg| async move {
    ///         let _ = msg.ack().await;
    ///     })
    ///     .error_handler(|err| eprintln!("consume: {err}"))
    ///     .await?;
    /// // ... later
    /// ctx.drain().await;
    /// # Ok(()) }
    /// ```
    pub fn consume<F, Fut>(&self, handler: F) -> Consume<F>
    where
        F: FnMut(Msg) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        Consume {
            source: Source::Consumer(self.clone()),
            handler,
            options: PullOptions::default(),
            error_handler: None,
        }
    }

    /// A continuous stream of messages; await the builder to start.
    pub fn messages(&self) -> MessagesBuilder {
        MessagesBuilder {
            source: Source::Consumer(self.clone()),
            options: PullOptions::default(),
        }
    }
}
