//! Handlers of asynchronous publish outcomes (Go's `WithPublishAsyncErrHandler` and
//! `WithPublishAsyncAckHandler`), and the task that calls them.
//!
//! With a handler set, every asynchronous publish is handed, once sent, to the
//! context's reporter task: it waits for the ack (or the deadline), calls the
//! handler, passes the outcome on to the [`PubAckFuture`](super::PubAckFuture)
//! (if it is still there) and only then frees the window slot. So a failure is
//! reported even when its future was dropped, and
//! [`publish_async_complete`](crate::JetStream::publish_async_complete) returns
//! only once the handlers have seen every outcome.
//!
//! The task is started by the first asynchronous publish and stops after a
//! second without any in flight; it holds a clone of the context only while it
//! runs, so it keeps nothing alive after the context's last use.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::FuturesUnordered;
use futures_util::StreamExt;
use nats_core::{HeaderMap, Message, Response};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::ack::ack_result;
use super::window::WindowSlot;
use crate::error::Error;
use crate::types::PubAck;
use crate::JetStream;

type ErrorFn = dyn Fn(&JetStream, Message, &Error) + Send + Sync;
type AckFn = dyn Fn(&JetStream, Message, &PubAck) + Send + Sync;

/// Called with every asynchronous publish that failed after it was sent: the
/// server refused it, no stream answered, no ack came in time, or the
/// connection was lost. Go's `WithPublishAsyncErrHandler`.
///
/// Set it as [`JetStreamOptions::publish_async_error_handler`](crate::JetStreamOptions::publish_async_error_handler).
/// It gets the context (to publish again: do not capture a clone of the context
/// in the handler, as the context owns the handler), the message as it was sent
/// and the error. The handler runs on the context's reporter task, one outcome
/// at a time: keep it short and do not block (spawn for anything long). A
/// panic in it is caught and logged.
///
/// Errors of `publish_async` itself (an invalid subject, a full window) are
/// returned by the call and not passed to the handler.
///
/// ```no_run
/// # async fn run(client: nats_core::Client) -> Result<(), jetstream::Error> {
/// use jetstream::{JetStreamOptions, PublishErrorHandler};
///
/// let js = jetstream::with_options(
///     client,
///     JetStreamOptions {
///         publish_async_error_handler: Some(PublishErrorHandler::new(|_js, msg, err| {
///             eprintln!("publish to {} failed: {err}", msg.subject);
///         })),
///         ..Default::default()
///     },
/// );
/// // The future may be dropped: a failure still reaches the handler.
/// drop(js.publish_async("events", "e1").await?);
/// js.publish_async_complete().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PublishErrorHandler(Arc<ErrorFn>);

impl PublishErrorHandler {
    /// Wraps `handler`.
    pub fn new(handler: impl Fn(&JetStream, Message, &Error) + Send + Sync + 'static) -> Self {
        PublishErrorHandler(Arc::new(handler))
    }
}

/// Called with every asynchronous publish the stream acknowledged. Go's
/// `WithPublishAsyncAckHandler`.
///
/// Set it as [`JetStreamOptions::publish_async_ack_handler`](crate::JetStreamOptions::publish_async_ack_handler).
/// Same rules as [`PublishErrorHandler`]: it gets the context, the message as it
/// was sent and the ack, runs on the context's reporter task and must not
/// block.
///
/// ```no_run
/// # async fn run(client: nats_core::Client) -> Result<(), jetstream::Error> {
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
/// use jetstream::{JetStreamOptions, PublishAckHandler};
///
/// let stored = Arc::new(AtomicU64::new(0));
/// let counter = stored.clone();
/// let js = jetstream::with_options(
///     client,
///     JetStreamOptions {
///         publish_async_ack_handler: Some(PublishAckHandler::new(move |_js, _msg, _ack| {
///             counter.fetch_add(1, Ordering::Relaxed);
///         })),
///         ..Default::default()
///     },
/// );
/// for i in 0..100 {
///     drop(js.publish_async("events", format!("e{i}")).await?);
/// }
/// js.publish_async_complete().await?;
/// println!("{} stored", stored.load(Ordering::Relaxed));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PublishAckHandler(Arc<AckFn>);

impl PublishAckHandler {
    /// Wraps `handler`.
    pub fn new(handler: impl Fn(&JetStream, Message, &PubAck) + Send + Sync + 'static) -> Self {
        PublishAckHandler(Arc::new(handler))
    }
}

macro_rules! handler_traits {
    ($ty:ident) => {
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($ty), "(..)"))
            }
        }

        /// Two handlers are equal when they are clones of one.
        impl PartialEq for $ty {
            fn eq(&self, other: &Self) -> bool {
                Arc::ptr_eq(&self.0, &other.0)
            }
        }

        impl Eq for $ty {}
    };
}

handler_traits!(PublishErrorHandler);
handler_traits!(PublishAckHandler);

/// How long the reporter task lingers without publishes in flight.
const IDLE: Duration = Duration::from_secs(1);

/// The handlers of a context and the queue to its reporter task.
#[derive(Debug)]
pub(crate) struct Reporter {
    on_error: Option<PublishErrorHandler>,
    on_ack: Option<PublishAckHandler>,
    /// The window size: every queued publish holds a slot, so the queue never
    /// makes a sender wait.
    capacity: usize,
    queue: Mutex<Option<mpsc::Sender<Tracked>>>,
}

/// A sent asynchronous publish, waiting for its ack.
pub(crate) struct Tracked {
    /// Fails by itself with `Timeout` at the publish's deadline.
    pub response: Response,
    pub subject: String,
    pub headers: Option<HeaderMap>,
    pub payload: Bytes,
    /// Freed once the outcome is reported.
    pub slot: WindowSlot,
    pub outcome: oneshot::Sender<Result<PubAck, Error>>,
}

struct Outcome {
    subject: String,
    headers: Option<HeaderMap>,
    payload: Bytes,
    slot: WindowSlot,
    outcome: oneshot::Sender<Result<PubAck, Error>>,
    result: Result<PubAck, Error>,
}

impl Reporter {
    /// The reporter of a context, if it has a handler.
    pub(crate) fn new(
        on_error: Option<PublishErrorHandler>,
        on_ack: Option<PublishAckHandler>,
        capacity: usize,
    ) -> Option<Reporter> {
        if on_error.is_none() && on_ack.is_none() {
            return None;
        }
        Some(Reporter {
            on_error,
            on_ack,
            capacity: capacity.max(1),
            queue: Mutex::new(None),
        })
    }

    /// Hands a sent publish to the reporter task, starting one when none runs.
    pub(crate) async fn track(&self, js: &JetStream, mut tracked: Tracked) {
        // A task that just stopped for being idle refuses it: the second
        // attempt goes to a new one.
        for _ in 0..2 {
            let queue = self.queue(js);
            match queue.send(tracked).await {
                Ok(()) => return,
                Err(mpsc::error::SendError(back)) => tracked = back,
            }
        }
        // Only when the runtime is shutting down: the future reports the loss.
        tracing::warn!(subject = %tracked.subject, "no task to report an async publish to");
    }

    fn queue(&self, js: &JetStream) -> mpsc::Sender<Tracked> {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(tx) = queue.as_ref().filter(|tx| !tx.is_closed()) {
            return tx.clone();
        }
        let (tx, rx) = mpsc::channel(self.capacity);
        tokio::spawn(run(js.clone(), rx));
        *queue = Some(tx.clone());
        tx
    }

    /// Tells the handler, then the future, then frees the slot.
    fn report(&self, js: &JetStream, outcome: Outcome) {
        let Outcome {
            subject,
            headers,
            payload,
            slot,
            outcome,
            result,
        } = outcome;
        let message = move || {
            let msg = Message::new(subject, payload);
            match headers {
                Some(headers) => msg.with_headers(headers),
                None => msg,
            }
        };
        let called = match (&result, &self.on_ack, &self.on_error) {
            (Ok(ack), Some(handler), _) => {
                catch_unwind(AssertUnwindSafe(|| (handler.0)(js, message(), ack)))
            }
            (Err(err), _, Some(handler)) => {
                catch_unwind(AssertUnwindSafe(|| (handler.0)(js, message(), err)))
            }
            _ => Ok(()),
        };
        if called.is_err() {
            tracing::error!("an async publish handler panicked");
        }
        let _ = outcome.send(result);
        drop(slot);
    }
}

/// Waits for the ack of one publish, up to its deadline.
async fn wait(tracked: Tracked) -> Outcome {
    let Tracked {
        response,
        subject,
        headers,
        payload,
        slot,
        outcome,
    } = tracked;
    let result = ack_result(response.await, &subject);
    Outcome {
        subject,
        headers,
        payload,
        slot,
        outcome,
        result,
    }
}

/// The reporter task: reports publishes as their acks arrive; stops once none
/// was in flight for [`IDLE`].
async fn run(js: JetStream, mut queue: mpsc::Receiver<Tracked>) {
    let Some(reporter) = js.inner.reporter.as_ref() else {
        return;
    };
    let mut in_flight = FuturesUnordered::new();
    let idle = tokio::time::sleep(IDLE);
    tokio::pin!(idle);
    loop {
        tokio::select! {
            biased;
            Some(outcome) = in_flight.next(), if !in_flight.is_empty() => {
                reporter.report(&js, outcome);
                if in_flight.is_empty() {
                    idle.as_mut().reset(Instant::now() + IDLE);
                }
            }
            tracked = queue.recv() => match tracked {
                Some(tracked) => in_flight.push(wait(tracked)),
                None => break,
            },
            () = &mut idle, if in_flight.is_empty() => {
                // Refuse new publishes (they go to a new task), and report
                // those already queued.
                queue.close();
                while let Some(tracked) = queue.recv().await {
                    in_flight.push(wait(tracked));
                }
                break;
            }
        }
    }
    while let Some(outcome) = in_flight.next().await {
        reporter.report(&js, outcome);
    }
}
