//! [`Consume`]: a handler run on a task for every message, driven by the pull
//! engine, and the [`ConsumeContext`] that controls it.

use std::future::{Future, IntoFuture};
use std::sync::Arc;
use std::time::Duration;

use std::panic::AssertUnwindSafe;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use tokio::sync::watch;

use super::engine::{Control, Event};
use super::options::PullOptions;
use super::{AnyEngine, Source};
use crate::error::{Error, ErrorKind};
use crate::message::Msg;
use crate::Consumer;

type ErrorHandler = Box<dyn FnMut(Error, &ConsumeContext) + Send>;

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
        Box::pin(async move {
            let cfg = self
                .options
                .config(matches!(self.source, Source::Ordered(_)))?;
            let control = Arc::new(Control::default());
            let mut engine = AnyEngine::start(&self.source, cfg, control.clone()).await?;
            let (done_tx, done_rx) = watch::channel(false);
            let mut handler = self.handler;
            let mut on_error = self.error_handler;
            // The error handler's view of the loop: stopping through it stops
            // this loop (dropping it at the end is harmless).
            let own = ConsumeContext {
                control: control.clone(),
                done: done_rx.clone(),
            };
            tokio::spawn(async move {
                // Marks the loop closed however it ends.
                let _closed = ClosedOnDrop(done_tx);
                let mut report = |e: Error, what: &str| match &mut on_error {
                    Some(h) => h(e, &own),
                    None => tracing::warn!(error = %e, "{what}"),
                };
                while let Some(event) = engine.next_event().await {
                    match event {
                        Event::Msg(m) => {
                            if let Err(e) = run_handler(&mut handler, m).await {
                                report(e, "consume ended");
                                break;
                            }
                        }
                        Event::Reconnected => {}
                        Event::Warning(e) => report(e, "consume warning"),
                        Event::Terminal(e) => {
                            report(e, "consume ended");
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
}
