//! [`PushConsume`]: the builder of a push consumer's consume loop. The loop itself is the
//! one pull consumers use (`pull::spawn_consume`), fed by the push engine.

use std::future::{Future, IntoFuture};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;

use super::api::MIN_IDLE_HEARTBEAT;
use super::engine::PushEngine;
use super::{OrderedPushConsumer, PushConsumer};
use crate::error::{Error, ErrorKind};
use crate::message::Msg;
use crate::pull::engine::Control;
use crate::pull::{spawn_consume, AnyEngine, ErrorHandler, OrderedEngine, Receive};
use crate::ConsumeContext;

/// The heartbeat of an ordered push consumer unless set: as nats.go's legacy ordered
/// consumer.
const DEFAULT_ORDERED_HEARTBEAT: Duration = Duration::from_secs(5);

/// What a push consume loop reads.
#[derive(Debug)]
enum PushSource {
    Consumer(PushConsumer),
    Ordered(OrderedPushConsumer),
}

/// A push consume loop being set up: options, then `.await` to start it. Made by
/// [`PushConsumer::consume`] and [`OrderedPushConsumer::consume`].
///
/// Awaiting it subscribes to the deliver subject (a queue subscription with the consumer's
/// `deliver_group`) and returns the [`ConsumeContext`] of the running loop, the same type a
/// pull consumer's loop has: [`stop`](ConsumeContext::stop) unsubscribes (messages that
/// already arrived are still handled), [`drain`](ConsumeContext::drain) also waits for the
/// loop to end, [`closed`](ConsumeContext::closed) waits for its end however it ends.
#[must_use = "nothing is consumed until awaited"]
pub struct PushConsume<F> {
    source: PushSource,
    handler: F,
    heartbeat: Option<Duration>,
    error_handler: Option<ErrorHandler>,
}

impl<F> std::fmt::Debug for PushConsume<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushConsume")
            .field("source", &self.source)
            .field("heartbeat", &self.heartbeat)
            .finish_non_exhaustive()
    }
}

impl<F> PushConsume<F> {
    /// Called with warnings, after which the loop goes on (missed heartbeats, a failed
    /// flow-control reply, messages a heartbeat shows were sent but never arrived, server
    /// notices such as a leadership change), and with the error
    /// that ends it: [`ErrorKind::ConsumerNotFound`] or [`ErrorKind::StreamNotFound`] (the
    /// consumer was deleted: found out after missed heartbeats),
    /// [`ErrorKind::ConsumerDeleted`], [`ErrorKind::PermissionDenied`] (the subscription was
    /// refused), [`ErrorKind::ConnectionClosed`], or [`ErrorKind::HandlerPanicked`].
    ///
    /// To stop the loop from the handler, use
    /// [`error_handler_with_context`](Self::error_handler_with_context).
    pub fn error_handler(self, mut handler: impl FnMut(Error) + Send + 'static) -> Self {
        self.error_handler_with_context(move |e, _| handler(e))
    }

    /// As [`error_handler`](Self::error_handler), with the loop's [`ConsumeContext`] too
    /// (nats.go's `ConsumeErrHandler`), so the handler can stop the loop it reports on.
    ///
    /// ```no_run
    /// # async fn run(consumer: jetstream::PushConsumer) -> Result<(), jetstream::Error> {
    /// use jetstream::ErrorKind;
    ///
    /// let ctx = consumer
    ///     .consume(|msg| async move {
    ///         let _ = msg.ack().await;
    ///     })
    ///     .error_handler_with_context(|err, ctx| {
    ///         if err.kind() == ErrorKind::HeartbeatMissed {
    ///             ctx.stop();
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

    /// Ordered push consumers only: the idle heartbeat interval of the server-side
    /// consumers (default 5 s, at least 100 ms). Missing two in a row recreates the
    /// consumer. A plain push consumer's heartbeat is its config's `idle_heartbeat`:
    /// setting this for one is refused ([`ErrorKind::InvalidArgument`]).
    pub fn heartbeat(mut self, heartbeat: Duration) -> Self {
        self.heartbeat = Some(heartbeat);
        self
    }
}

impl<F, Fut> IntoFuture for PushConsume<F>
where
    F: FnMut(Msg) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    type Output = Result<ConsumeContext, Error>;
    type IntoFuture = BoxFuture<'static, Result<ConsumeContext, Error>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let control = Arc::new(Control::default());
            let engine = match self.source {
                PushSource::Consumer(consumer) => {
                    if self.heartbeat.is_some() {
                        return Err(Error::msg(
                            ErrorKind::InvalidArgument,
                            "a push consumer's heartbeat is the idle_heartbeat of its config",
                        ));
                    }
                    AnyEngine::Push(start_plain(&consumer, control.clone()).await?)
                }
                PushSource::Ordered(ordered) => {
                    let heartbeat = self.heartbeat.unwrap_or(DEFAULT_ORDERED_HEARTBEAT);
                    if heartbeat < MIN_IDLE_HEARTBEAT {
                        return Err(Error::msg(
                            ErrorKind::InvalidArgument,
                            "the heartbeat must be at least 100 ms",
                        ));
                    }
                    let receive = Receive::Push { heartbeat };
                    let engine =
                        OrderedEngine::start(ordered.inner.clone(), receive, control.clone())
                            .await?;
                    AnyEngine::Ordered(engine)
                }
            };
            Ok(spawn_consume(
                engine,
                control,
                self.handler,
                self.error_handler,
            ))
        })
    }
}

/// Subscribes to a push consumer's deliver subject (in its deliver group, if any) and
/// starts reading it; refused while another loop runs on the handle.
async fn start_plain(consumer: &PushConsumer, control: Arc<Control>) -> Result<PushEngine, Error> {
    let guard = consumer.begin_consume().ok_or_else(|| {
        Error::msg(
            ErrorKind::InvalidArgument,
            format!(
                "push consumer {:?} is already being consumed through this handle (or a \
                 clone); stop that loop first",
                consumer.name()
            ),
        )
    })?;
    let info = consumer.cached_info();
    let Some(deliver) = info.config.deliver_subject.as_deref() else {
        return Err(Error::new(ErrorKind::ConsumerIsPullBased));
    };
    let client = consumer.context().client();
    let sub = match info.config.deliver_group.as_deref() {
        Some(group) => client.queue_subscribe(deliver, group).await?,
        None => client.subscribe(deliver).await?,
    };
    Ok(PushEngine::new(
        sub,
        consumer.consumer.clone(),
        control,
        false,
        Some(guard),
    ))
}

impl PushConsumer {
    /// Runs `handler` for every message pushed to the consumer's deliver subject, one at a
    /// time and in order, on a task of its own (nats.go `PushConsumer.Consume`). Await the
    /// returned builder to subscribe and start.
    ///
    /// The loop answers the server's flow control once the messages before it were handled,
    /// answers stalled flow control announced in heartbeats, reports heartbeats missed for
    /// two of the consumer's `idle_heartbeat` intervals
    /// ([`ErrorKind::HeartbeatMissed`]) and then checks that the consumer still exists,
    /// ending with [`ErrorKind::ConsumerNotFound`] when it does not. It keeps going across
    /// reconnects (the client subscribes again). Without `idle_heartbeat` none of these
    /// checks can run: a deleted consumer then simply delivers nothing more. Nor with a
    /// `deliver_group`: the server sends each heartbeat (and flow-control request) to one
    /// member of the group, so members do not watch for missed heartbeats; each answers the
    /// flow control it receives.
    ///
    /// One loop runs per handle (and its clones) at a time: a second is refused with
    /// [`ErrorKind::InvalidArgument`] until the first has ended. As with pull consumers, a
    /// panic in the handler ends the loop ([`ErrorKind::HandlerPanicked`]).
    ///
    /// ```no_run
    /// # async fn run(consumer: jetstream::PushConsumer) -> Result<(), jetstream::Error> {
    /// let ctx = consumer
    ///     .consume(|msg| async move {
    ///         println!("{}", msg.subject());
    ///         let _ = msg.ack().await;
    ///     })
    ///     .error_handler(|err| eprintln!("push consumer: {err}"))
    ///     .await?;
    /// ctx.closed().await;
    /// # Ok(()) }
    /// ```
    pub fn consume<F, Fut>(&self, handler: F) -> PushConsume<F>
    where
        F: FnMut(Msg) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        PushConsume {
            source: PushSource::Consumer(self.clone()),
            handler,
            heartbeat: None,
            error_handler: None,
        }
    }
}

impl OrderedPushConsumer {
    /// Runs `handler` for every message of the stream (or its filter) in order, each once,
    /// on a task of its own. Await the returned builder to start: it subscribes to a fresh
    /// inbox and creates the first server-side consumer (failures come back here).
    ///
    /// On a consumer sequence gap (in a message, or announced by a heartbeat), missed
    /// heartbeats, a reconnect or the consumer's deletion, the server-side consumer is
    /// replaced by one starting after the last message handed to `handler`. Missed
    /// heartbeats are reported to the error handler ([`ErrorKind::HeartbeatMissed`]); an
    /// error that recreating can not get past ends the loop. One loop runs at a time.
    ///
    /// ```no_run
    /// # async fn run(ordered: jetstream::OrderedPushConsumer) -> Result<(), jetstream::Error> {
    /// use std::time::Duration;
    ///
    /// let ctx = ordered
    ///     .consume(|msg| async move {
    ///         println!("{}", msg.metadata().map(|m| m.sequence.stream).unwrap_or(0));
    ///     })
    ///     .heartbeat(Duration::from_secs(2))
    ///     .await?;
    /// ctx.closed().await;
    /// # Ok(()) }
    /// ```
    pub fn consume<F, Fut>(&self, handler: F) -> PushConsume<F>
    where
        F: FnMut(Msg) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        PushConsume {
            source: PushSource::Ordered(self.clone()),
            handler,
            heartbeat: None,
            error_handler: None,
        }
    }
}
