//! [`Consume`]: a handler run on a task for every message, driven by the pull
//! engine, and the [`ConsumeContext`] that controls it.

use std::future::{Future, IntoFuture};
use std::sync::Arc;
use std::time::Duration;

use std::panic::AssertUnwindSafe;
use std::sync::Mutex;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use tokio::sync::watch;
use tracing::Instrument;

use super::concurrent::{Pool, PoolConfig, PoolJob};
use super::engine::{Control, Event};
use super::options::PullOptions;
use super::{AnyEngine, Source};
use crate::error::{Error, ErrorKind};
use crate::message::Msg;
use crate::Consumer;

pub(crate) type ErrorHandler = Box<dyn FnMut(Error, &ConsumeContext) + Send>;

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
    /// it: the terminal errors listed on [`Messages`](crate::Messages), or
    /// [`ErrorKind::HandlerPanicked`] when the handler panicked.
    ///
    /// To stop the loop from the handler, use
    /// [`error_handler_with_context`](Self::error_handler_with_context).
    pub fn error_handler(self, mut handler: impl FnMut(Error) + Send + 'static) -> Self {
        self.error_handler_with_context(move |e, _| handler(e))
    }

    /// As [`error_handler`](Self::error_handler), with the loop's
    /// [`ConsumeContext`] too (as nats.go's `ConsumeErrHandler`), so the
    /// handler can end the loop it reports on: `ctx.stop()` there stops
    /// pulling; messages that already arrived are still handled. Replaces an
    /// `error_handler` set before.
    ///
    /// ```no_run
    /// # async fn run(consumer: jetstream::Consumer) -> Result<(), jetstream::Error> {
    /// use jetstream::ErrorKind;
    ///
    /// let ctx = consumer
    ///     .consume(|msg| async move {
    ///         let _ = msg.ack().await;
    ///     })
    ///     .error_handler_with_context(|err, ctx| {
    ///         eprintln!("consume: {err}");
    ///         if err.kind() == ErrorKind::HeartbeatMissed {
    ///             ctx.stop(); // give up while the server is unreachable
    ///         }
    ///     })
    ///     .await?;
    /// ctx.closed().await;
    /// # Ok(()) }
    /// ```
    pub fn error_handler_with_context(
        mut self,
        handler: impl FnMut(Error, &ConsumeContext) + Send + 'static,
    ) -> Self {
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
        let mut handler = self.handler;
        start_loop(
            self.source,
            self.options,
            self.error_handler,
            None,
            move |m| Ok(Job::Inline(handler(m))),
        )
    }
}

/// The handler of a [`Consumer::consume_json`] loop: decodes each message as
/// JSON into a `T` before the user's handler sees it (feature `serde`).
#[cfg(feature = "serde")]
pub struct JsonHandler<T, F> {
    handler: F,
    _values: std::marker::PhantomData<fn() -> T>,
}

#[cfg(feature = "serde")]
impl<T, F> std::fmt::Debug for JsonHandler<T, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonHandler")
            .field("type", &std::any::type_name::<T>())
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "serde")]
impl<T, F, Fut> IntoFuture for Consume<JsonHandler<T, F>>
where
    T: serde::de::DeserializeOwned + 'static,
    F: FnMut(Msg, T) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    type Output = Result<ConsumeContext, Error>;
    type IntoFuture = BoxFuture<'static, Result<ConsumeContext, Error>>;

    fn into_future(self) -> Self::IntoFuture {
        let mut handler = self.handler.handler;
        start_loop(
            self.source,
            self.options,
            self.error_handler,
            None,
            move |m| match m.json::<T>() {
                Ok(value) => Ok(Job::Inline(handler(m, value))),
                Err(e) => Err(e.with_msg(m)),
            },
        )
    }
}

/// What the loop does with one message, made by the builder's handler.
pub(crate) enum Job<Fut> {
    /// Run it here, before the next message (`consume`).
    Inline(Fut),
    /// Run it on a task of its own (`consume_concurrent`).
    Spawn(BoxFuture<'static, ()>),
}

/// The error handler and the loop's context it is given, shared by the loop
/// and (with `consume_concurrent`) the handler tasks.
pub(crate) struct Reporter {
    on_error: Option<ErrorHandler>,
    own: ConsumeContext,
}

pub(crate) type SharedReporter = Arc<Mutex<Reporter>>;

fn report(reporter: &SharedReporter, mut e: Error, what: &str) {
    let mut r = match reporter.lock() {
        Ok(r) => r,
        Err(poisoned) => poisoned.into_inner(),
    };
    let Reporter { on_error, own } = &mut *r;
    match on_error {
        Some(h) => {
            // A panicking error handler must not take the loop (or a pooled
            // handler's bookkeeping) down with it.
            if let Err(panic) = std::panic::catch_unwind(AssertUnwindSafe(|| h(e, own))) {
                tracing::error!(error = %panicked(&*panic), "the consume error handler panicked");
            }
        }
        None => {
            tracing::warn!(error = %e, "{what}");
            // Nobody to hand a poison message to: terminate it, or it would be
            // redelivered (and fail again) until max_deliver.
            if let Some(msg) = e.take_msg() {
                let reason = e.to_string();
                tokio::spawn(async move {
                    let _ = msg.term_with_reason(reason).await;
                });
            }
        }
    }
}

/// Starts the engine and the loop's task: the one consume loop behind
/// `consume`, `consume_json` and `consume_concurrent`. `start` turns each
/// message into a [`Job`], or into an error to report (the loop goes on).
pub(crate) fn start_loop<S, Fut>(
    source: Source,
    options: PullOptions,
    error_handler: Option<ErrorHandler>,
    pool: Option<PoolConfig>,
    start: S,
) -> BoxFuture<'static, Result<ConsumeContext, Error>>
where
    S: FnMut(Msg) -> Result<Job<Fut>, Error> + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    Box::pin(async move {
        let cfg = options.config(matches!(source, Source::Ordered(_)))?;
        let control = Arc::new(Control::default());
        let engine = AnyEngine::start(&source, cfg, control.clone()).await?;
        let pool = pool.map(|p| (p, source));
        Ok(spawn_loop(engine, control, error_handler, pool, start))
    })
}

/// Runs `handler` for every message `engine` produces, one at a time, on a task of its
/// own: the consume loop of a push consumer (fed by the push engine), the same one pull
/// and ordered consumers use.
pub(crate) fn spawn_consume<F, Fut>(
    engine: AnyEngine,
    control: Arc<Control>,
    mut handler: F,
    on_error: Option<ErrorHandler>,
) -> ConsumeContext
where
    F: FnMut(Msg) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    spawn_loop(engine, control, on_error, None, move |m| {
        Ok(Job::Inline(handler(m)))
    })
}

/// The loop's task over a started engine. Each handler runs in its message's span
/// ([`Msg::span`]; with `otel`, the publisher's trace).
fn spawn_loop<S, Fut>(
    mut engine: AnyEngine,
    control: Arc<Control>,
    error_handler: Option<ErrorHandler>,
    pool: Option<(PoolConfig, Source)>,
    mut start: S,
) -> ConsumeContext
where
    S: FnMut(Msg) -> Result<Job<Fut>, Error> + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let (done_tx, done_rx) = watch::channel(false);
    // The error handler's view of the loop: stopping through it stops
    // this loop (dropping it at the end is harmless).
    let reporter: SharedReporter = Arc::new(Mutex::new(Reporter {
        on_error: error_handler,
        own: ConsumeContext {
            control: control.clone(),
            done: done_rx.clone(),
        },
    }));
    let mut pool = pool.map(|(p, source)| Pool::new(p, &source, reporter.clone()));
    tokio::spawn(async move {
        // Marks the loop closed however it ends (after the handlers).
        let closed = ClosedOnDrop(done_tx);
        loop {
            // With handlers on tasks, a message is taken only when there is
            // room for it: the engine is not polled (so it pulls no more)
            // while the pool is full.
            let permit = match &pool {
                Some(pool) => Some(pool.room().await),
                None => None,
            };
            let Some(event) = engine.next_event().await else {
                break;
            };
            match event {
                Event::Msg(m) => {
                    // Where a pooled handler's message goes: its subject
                    // (per-subject order) and reply (in-progress acks).
                    let route = pool
                        .is_some()
                        .then(|| (m.message().subject.clone(), m.message().reply.clone()));
                    let span = m.span().clone();
                    let job = match catch_panic(|| span.in_scope(|| start(m))) {
                        Ok(Ok(job)) => job,
                        Ok(Err(e)) => {
                            report(&reporter, e, "consume: message not handled");
                            continue;
                        }
                        Err(e) if pool.is_some() => {
                            report(&reporter, e, "consume: handler panicked");
                            continue;
                        }
                        Err(e) => {
                            report(&reporter, e, "consume ended");
                            break;
                        }
                    };
                    match (job, &mut pool, permit.zip(route)) {
                        (Job::Inline(handled), _, _) => {
                            let outcome = AssertUnwindSafe(handled.instrument(span))
                                .catch_unwind()
                                .await;
                            if let Err(panic) = outcome {
                                report(&reporter, panicked(&*panic), "consume ended");
                                break;
                            }
                        }
                        (Job::Spawn(handled), Some(pool), Some((permit, (subject, reply)))) => {
                            pool.dispatch(PoolJob {
                                handled: Box::pin(handled.instrument(span)),
                                subject,
                                reply,
                                _permit: permit,
                            });
                        }
                        (Job::Spawn(handled), _, _) => handled.instrument(span).await,
                    }
                }
                Event::Reconnected | Event::Gap(_) => {}
                Event::Warning(e) => report(&reporter, e, "consume warning"),
                Event::Terminal(e) => {
                    report(&reporter, e, "consume ended");
                    break;
                }
            }
        }
        if let Some(pool) = pool {
            pool.finish().await;
        }
        // Release the engine (and the one-loop guards it holds) before the
        // context reports the loop closed: a new loop may start right after.
        drop(engine);
        drop(closed);
    });
    ConsumeContext {
        control,
        done: done_rx,
    }
}

/// Reports a handler's panic; the loop goes on (`consume_concurrent`).
pub(crate) fn report_panic(reporter: &SharedReporter, panic: &(dyn std::any::Any + Send)) {
    report(reporter, panicked(panic), "consume: handler panicked");
}

/// Calls `f`; a panic in it becomes an error of kind [`ErrorKind::HandlerPanicked`].
fn catch_panic<R>(f: impl FnOnce() -> R) -> Result<R, Error> {
    std::panic::catch_unwind(AssertUnwindSafe(f)).map_err(|panic| panicked(&*panic))
}

/// The error reporting a handler's panic, with the panic's message.
fn panicked(panic: &(dyn std::any::Any + Send)) -> Error {
    let what = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    Error::msg(
        ErrorKind::HandlerPanicked,
        format!("the consume handler panicked: {what}"),
    )
}

/// Marks a consume loop closed when its task ends, however it ends.
struct ClosedOnDrop(watch::Sender<bool>);

impl Drop for ClosedOnDrop {
    fn drop(&mut self) {
        let _ = self.0.send(true);
    }
}

/// The handle of a running consume loop, of a pull consumer
/// ([`Consumer::consume`]) or a push consumer
/// ([`PushConsumer::consume`](crate::PushConsumer::consume)). Dropping it stops
/// receiving, as [`stop`](Self::stop) does; [`drain`](Self::drain) also waits
/// for the loop to end.
#[derive(Debug)]
pub struct ConsumeContext {
    control: Arc<Control>,
    done: watch::Receiver<bool>,
}

impl ConsumeContext {
    /// Stops pulling (a push consumer's loop: unsubscribes from the deliver
    /// subject); messages that already arrived are still handled.
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

impl Consumer {
    /// As [`consume`](Self::consume), with each message's payload decoded as
    /// JSON into a `T` first (feature `serde`): the handler gets the message
    /// (to acknowledge it) and the value.
    ///
    /// A message that does not decode (a poison message) does not reach the
    /// handler: the error handler gets an error of kind [`ErrorKind::Decode`]
    /// whose [`decode_error`](Error::decode_error) names the subject and gives
    /// serde's message, and which carries the message, still unacknowledged:
    /// [`Error::take_msg`] hands it over, to [`term`](Msg::term) it (or nak it,
    /// or move it elsewhere). The loop goes on with the next message. Left in
    /// the error, the message is redelivered after `ack_wait` (until the
    /// consumer's `max_deliver`). Without an error handler, it is terminated
    /// and the error goes to `tracing`.
    ///
    /// ```no_run
    /// # async fn run(consumer: jetstream::Consumer) -> Result<(), jetstream::Error> {
    /// #[derive(serde::Deserialize)]
    /// struct Order { id: u64 }
    ///
    /// let ctx = consumer
    ///     .consume_json(|msg, order: Order| async move {
    ///         println!("order {}", order.id);
    ///         let _ = msg.ack().await;
    ///     })
    ///     .error_handler(|mut err| {
    ///         if let Some(msg) = err.take_msg() {
    ///             // Poison: never deliver it again.
    ///             let reason = err.to_string();
    ///             tokio::spawn(async move { msg.term_with_reason(reason).await });
    ///         }
    ///     })
    ///     .await?;
    /// # ctx.drain().await;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "serde")]
    pub fn consume_json<T, F, Fut>(&self, handler: F) -> Consume<JsonHandler<T, F>>
    where
        T: serde::de::DeserializeOwned + 'static,
        F: FnMut(Msg, T) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        Consume {
            source: Source::Consumer(self.clone()),
            handler: JsonHandler {
                handler,
                _values: std::marker::PhantomData,
            },
            options: PullOptions::default(),
            error_handler: None,
        }
    }

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
    /// When the loop ends this way or on a terminal error, messages already
    /// delivered to it but not yet handled are dropped unacknowledged: the
    /// server redelivers them after `ack_wait` (with ack policy none they are
    /// gone). [`drain`](ConsumeContext::drain) is the way to end a loop that
    /// handles everything it received.
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
}
