//! [`ConsumeConcurrent`]: the consume loop with up to `n` handlers running at
//! once on tasks of their own, optionally one at a time per subject, with
//! automatic `in_progress` for long handlers. The loop, the engine and the
//! pull budget are those of `consume`; only where each message runs differs
//! (the [`Pool`] here).

use std::collections::{HashMap, VecDeque};
use std::future::{Future, IntoFuture};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use nats_core::{Client, Subject};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::consume::{report_panic, start_loop, ConsumeContext, ErrorHandler, Job, SharedReporter};
use super::options::PullOptions;
use super::Source;
use crate::error::{Error, ErrorKind};
use crate::message::Msg;
use crate::types::AckPolicy;
use crate::Consumer;

/// A concurrent consume loop being set up: options, then `.await` to start it.
/// Made by [`Consumer::consume_concurrent`].
#[must_use = "nothing is consumed until awaited"]
pub struct ConsumeConcurrent<F> {
    source: Source,
    handler: F,
    options: PullOptions,
    error_handler: Option<ErrorHandler>,
    pool: PoolConfig,
}

impl<F> std::fmt::Debug for ConsumeConcurrent<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsumeConcurrent")
            .field("options", &self.options)
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

pull_options!(impl<F> ConsumeConcurrent<F>);

impl<F> ConsumeConcurrent<F> {
    /// Messages of one subject are handled one at a time, in the order they
    /// arrived; messages of different subjects still run concurrently. While
    /// a subject's handler runs, its next messages wait (at most `2n` messages
    /// are taken at once, running and waiting together). With
    /// [`auto_in_progress`](Self::auto_in_progress), the waiting ones are kept
    /// in progress too.
    pub fn per_subject_ordering(mut self) -> Self {
        self.pool.per_subject = true;
        self
    }

    /// Sends `in_progress` (`+WPI`) for every message whose handler is still
    /// running after a third of the consumer's `ack_wait`, and again every third,
    /// so that long handlers do not see their message redelivered (with
    /// [`per_subject_ordering`](Self::per_subject_ordering), also for the
    /// messages waiting behind a running one).
    /// Stops when the handler returns. Off by default; without effect for
    /// consumers with ack policy none.
    ///
    /// A handler that naks or terms its message and then keeps running should
    /// not use it: the progress sent afterwards can delay the redelivery.
    pub fn auto_in_progress(mut self) -> Self {
        self.pool.auto_in_progress = true;
        self
    }

    /// As [`Consume::error_handler`](super::Consume::error_handler): called
    /// with warnings, with [`ErrorKind::HandlerPanicked`] for each handler that
    /// panicked (the others and the loop go on), and with the error that ends
    /// the loop.
    pub fn error_handler(self, mut handler: impl FnMut(Error) + Send + 'static) -> Self {
        self.error_handler_with_context(move |e, _| handler(e))
    }

    /// As [`error_handler`](Self::error_handler), with the loop's
    /// [`ConsumeContext`] too, so the handler can stop the loop. It may be
    /// called from a handler's task: keep it short.
    pub fn error_handler_with_context(
        mut self,
        handler: impl FnMut(Error, &ConsumeContext) + Send + 'static,
    ) -> Self {
        self.error_handler = Some(Box::new(handler));
        self
    }
}

impl<F, Fut> IntoFuture for ConsumeConcurrent<F>
where
    F: FnMut(Msg) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    type Output = Result<ConsumeContext, Error>;
    type IntoFuture = BoxFuture<'static, Result<ConsumeContext, Error>>;

    fn into_future(self) -> Self::IntoFuture {
        let mut options = self.options;
        if self.pool.limit == 0 {
            return Box::pin(async {
                Err(Error::msg(
                    ErrorKind::InvalidArgument,
                    "consume_concurrent needs at least one handler at a time",
                ))
            });
        }
        // The pull budget follows the concurrency: twice as many messages
        // requested as handlers run, so one round of handlers waits at most
        // for the next (and never hundreds of messages ack_wait-ing in the
        // inbox behind a few handlers).
        if options.max_messages.is_none() && options.max_bytes.is_none() {
            options.max_messages = Some(self.pool.limit.saturating_mul(2));
        }
        let mut handler = self.handler;
        start_loop::<_, std::future::Ready<()>>(
            self.source,
            options,
            self.error_handler,
            Some(self.pool),
            move |m| Ok(Job::Spawn(Box::pin(handler(m)))),
        )
    }
}

/// The settings of the handler pool.
#[derive(Debug, Clone)]
pub(crate) struct PoolConfig {
    /// At most this many handlers run at once.
    pub limit: usize,
    pub per_subject: bool,
    pub auto_in_progress: bool,
}

/// The messages waiting per busy subject (a subject is busy while it has an entry).
type Waiting = Arc<Mutex<HashMap<Subject, VecDeque<PoolJob>>>>;

/// One message's handler on its way to a task.
pub(crate) struct PoolJob {
    pub handled: BoxFuture<'static, ()>,
    pub subject: Subject,
    pub reply: Option<Subject>,
    /// Room in the pool, held until the handler returned.
    pub _permit: OwnedSemaphorePermit,
}

/// Where `consume_concurrent` runs its handlers: a task per message (or per
/// busy subject), at most `limit` running, at most `capacity` messages taken
/// from the engine and not yet handled.
pub(crate) struct Pool {
    room: Arc<Semaphore>,
    capacity: u32,
    /// With per-subject ordering: the running handlers' limit (messages may
    /// wait for their subject beside them), and the messages waiting per busy
    /// subject (a subject is busy while it has an entry).
    ordered: Option<(Arc<Semaphore>, Waiting)>,
    /// The client and interval of automatic in-progress acks.
    progress: Option<(Client, Duration)>,
    reporter: SharedReporter,
}

impl Pool {
    pub(crate) fn new(config: PoolConfig, source: &Source, reporter: SharedReporter) -> Pool {
        let limit = config.limit.clamp(1, Semaphore::MAX_PERMITS / 2);
        let capacity = if config.per_subject { limit * 2 } else { limit };
        let capacity = u32::try_from(capacity).unwrap_or(u32::MAX);
        let progress = match source {
            Source::Consumer(c) if config.auto_in_progress => {
                let info = c.cached_info();
                // A third, so that a message queued behind its subject and then
                // run is never longer than two thirds of ack_wait without one.
                let third = info.config.ack_wait / 3;
                (info.config.ack_policy != AckPolicy::None && !third.is_zero())
                    .then(|| (c.js.client().clone(), third))
            }
            _ => None,
        };
        Pool {
            room: Arc::new(Semaphore::new(capacity as usize)),
            capacity,
            ordered: config.per_subject.then(|| {
                (
                    Arc::new(Semaphore::new(limit)),
                    Arc::new(Mutex::new(HashMap::new())),
                )
            }),
            progress,
            reporter,
        }
    }

    /// Waits for room for one more message.
    pub(crate) async fn room(&self) -> OwnedSemaphorePermit {
        // The semaphore is never closed.
        loop {
            if let Ok(permit) = self.room.clone().acquire_owned().await {
                return permit;
            }
        }
    }

    /// Starts the handler, or queues it behind its subject's running one.
    pub(crate) fn dispatch(&mut self, job: PoolJob) {
        let running = match &self.ordered {
            None => None,
            Some((running, waiting)) => {
                let mut busy = waiting.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(queue) = busy.get_mut(&job.subject) {
                    queue.push_back(job);
                    return;
                }
                busy.insert(job.subject.clone(), VecDeque::new());
                Some((running.clone(), waiting.clone()))
            }
        };
        let progress = self.progress.clone();
        let reporter = self.reporter.clone();
        tokio::spawn(async move {
            let mut next = Some(job);
            while let Some(job) = next.take() {
                let _running = match &running {
                    Some((running, _)) => running.clone().acquire_owned().await.ok(),
                    None => None,
                };
                let PoolJob {
                    handled,
                    subject,
                    reply,
                    _permit,
                } = job;
                // The messages waiting behind this one are kept in progress too.
                let queued = || match &running {
                    Some((_, waiting)) => waiting
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .get(&subject)
                        .map(|queue| queue.iter().filter_map(|j| j.reply.clone()).collect())
                        .unwrap_or_default(),
                    None => Vec::new(),
                };
                let outcome = run_with_progress(handled, reply, progress.as_ref(), queued).await;
                if let Err(panic) = outcome {
                    report_panic(&reporter, &*panic);
                }
                drop(_permit);
                // The subject's next message, or the subject is free.
                if let Some((_, waiting)) = &running {
                    let mut waiting = waiting.lock().unwrap_or_else(PoisonError::into_inner);
                    next = match waiting.get_mut(&subject).and_then(VecDeque::pop_front) {
                        Some(job) => Some(job),
                        None => {
                            waiting.remove(&subject);
                            None
                        }
                    };
                }
            }
        });
    }

    /// Waits until every message taken was handled.
    pub(crate) async fn finish(self) {
        let _ = self.room.acquire_many(self.capacity).await;
    }
}

/// How long one automatic `+WPI` may wait for room in the write buffer.
const PROGRESS_SEND_BOUND: Duration = Duration::from_millis(100);

/// Runs a handler, sending `+WPI` every interval while it runs for its message and
/// for those `queued` behind it (per-subject ordering).
async fn run_with_progress(
    handled: BoxFuture<'static, ()>,
    reply: Option<Subject>,
    progress: Option<&(Client, Duration)>,
    queued: impl Fn() -> Vec<Subject>,
) -> Result<(), Box<dyn std::any::Any + Send>> {
    let handled = AssertUnwindSafe(handled).catch_unwind();
    let (Some((client, every)), Some(reply)) = (progress, reply) else {
        return handled.await;
    };
    tokio::pin!(handled);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + *every, *every);
    loop {
        tokio::select! {
            outcome = &mut handled => return outcome,
            _ = ticks.tick() => {
                // Best effort: a lost one is followed by the next.
                // Bounded: a publish waiting for buffer room (e.g. while
                // disconnected) must not keep the handler from being polled long.
                for subject in std::iter::once(reply.clone()).chain(queued()) {
                    let publish = client.publish(subject.as_str(), "+WPI");
                    let _ = tokio::time::timeout(PROGRESS_SEND_BOUND, publish).await;
                }
            }
        }
    }
}

impl Consumer {
    /// Runs `handler` for every message with up to `n` handlers at once, each
    /// on a task of its own, keeping pulls outstanding. Await the returned
    /// builder to start. The same loop as [`consume`](Self::consume), with
    /// these differences:
    ///
    /// - **Concurrency**: up to `n` handlers run at once; the next message is
    ///   taken only when one of them returned, so the server is never asked
    ///   for far more than can be handled. Unless `max_messages` or
    ///   `max_bytes` is set, `max_messages` is `2 * n`.
    /// - **Order**: messages start in stream order but may finish in any
    ///   order; each handler acknowledges its own message.
    ///   [`per_subject_ordering`](ConsumeConcurrent::per_subject_ordering)
    ///   keeps the messages of one subject from running concurrently.
    /// - **Long handlers**: [`auto_in_progress`](ConsumeConcurrent::auto_in_progress)
    ///   keeps their messages from being redelivered.
    /// - **Panics**: a handler that panics is reported to the error handler
    ///   ([`ErrorKind::HandlerPanicked`]); its message is not acknowledged (the
    ///   server redelivers it after `ack_wait`); the other handlers and the
    ///   loop go on.
    /// - **Drain**: [`ConsumeContext::drain`] stops pulling and returns once
    ///   every message taken was handled, running handlers included;
    ///   [`ConsumeContext::closed`] likewise waits for them.
    ///
    /// `n` must be at least 1 ([`ErrorKind::InvalidArgument`] otherwise).
    ///
    /// ```no_run
    /// # async fn run(consumer: jetstream::Consumer) -> Result<(), jetstream::Error> {
    /// let ctx = consumer
    ///     .consume_concurrent(64, |msg| async move {
    ///         // e.g. call another service for each message
    ///         tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    ///         let _ = msg.ack().await;
    ///     })
    ///     .per_subject_ordering()
    ///     .auto_in_progress()
    ///     .error_handler(|err| eprintln!("consume: {err}"))
    ///     .await?;
    /// // ... later: stop pulling, wait for the running handlers
    /// ctx.drain().await;
    /// # Ok(()) }
    /// ```
    pub fn consume_concurrent<F, Fut>(&self, n: usize, handler: F) -> ConsumeConcurrent<F>
    where
        F: FnMut(Msg) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        ConsumeConcurrent {
            source: Source::Consumer(self.clone()),
            handler,
            options: PullOptions::default(),
            error_handler: None,
            pool: PoolConfig {
                limit: n,
                per_subject: false,
                auto_in_progress: false,
            },
        }
    }
}

impl super::MessagesBuilder {
    /// Handles these messages with up to `n` handlers at once instead of yielding
    /// them: [`Consumer::consume_concurrent`] with the pull options set on this
    /// builder, for a consumer or an ordered consumer (whose messages then finish
    /// in any order). Await the returned builder to start; it takes the same
    /// options ([`per_subject_ordering`](ConsumeConcurrent::per_subject_ordering),
    /// [`auto_in_progress`](ConsumeConcurrent::auto_in_progress), error handlers).
    /// Warnings go to the loop's error handler: the warning handler and heartbeat
    /// setting of this builder do not apply.
    ///
    /// ```no_run
    /// # async fn run(consumer: jetstream::Consumer) -> Result<(), jetstream::Error> {
    /// let ctx = consumer
    ///     .messages()
    ///     .max_messages(64)
    ///     .concurrent(16, |msg| async move {
    ///         let _ = msg.ack().await;
    ///     })
    ///     .await?;
    /// ctx.drain().await;
    /// # Ok(()) }
    /// ```
    pub fn concurrent<F, Fut>(self, n: usize, handler: F) -> ConsumeConcurrent<F>
    where
        F: FnMut(Msg) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (source, options) = self.into_source_and_options();
        ConsumeConcurrent {
            source,
            handler,
            options,
            error_handler: None,
            pool: PoolConfig {
                limit: n,
                per_subject: false,
                auto_in_progress: false,
            },
        }
    }
}
