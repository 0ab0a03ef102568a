//! The one pull engine behind every receive call.
//!
//! A one-shot pull ([`PullKind::Once`]: `fetch`, `fetch_bytes`,
//! `fetch_no_wait`, `next`) sends one pull request and ends when its budget is
//! used up, the request ended at the server, or its deadline passed. A
//! continuous loop ([`PullKind::Continuous`]: `messages`, `consume`) keeps pull
//! requests outstanding: a budget of `max_messages` (or `max_bytes`) is
//! requested, tracked as messages and status messages arrive
//! (`Nats-Pending-Messages` / `Nats-Pending-Bytes` give back what an ended
//! request did not use), and refilled once it falls below the threshold.
//! Missed heartbeats and reconnects reset the budget so a fresh pull goes out.
//!
//! Both build messages and read status messages the same way, here.
//!
//! A pull answered with 503 (no responders), and heartbeats that stop while
//! connected, put the consumer in doubt: a consumer-info request, run beside
//! the inbox, tells whether it still exists. Gone (`ConsumerNotFound`, or
//! `StreamNotFound`) ends the pull; otherwise it goes on.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::{FutureExt, StreamExt};
use nats_core::{Message, PendingLimits, State, Subscriber};
use tokio::sync::{watch, Notify};
use tokio::time::Sleep;

use super::{classify, IdleWatch, PriorityOptions, PullRequest, Status};
use crate::ack::AckState;
use crate::error::{Error, ErrorKind};
use crate::message::{message_size, Msg};
use crate::types::{AckPolicy, ConsumerInfo};
use crate::Consumer;

/// Validated settings of a pull.
#[derive(Debug, Clone)]
pub(crate) struct PullConfig {
    /// Messages per pull (continuous: kept outstanding).
    pub max_messages: usize,
    /// Bytes per pull (continuous: kept outstanding); 0: no byte budget.
    pub max_bytes: usize,
    /// Lifetime of a pull request at the server (not sent with `no_wait`).
    pub expires: Duration,
    /// Idle heartbeat interval requested from the server, and watched.
    pub heartbeat: Option<Duration>,
    pub priority: PriorityOptions,
    pub kind: PullKind,
    /// One-shot pulls made by `Msg::ack_next`: the pull request goes to this
    /// `$JS.ACK` subject as `+NXT <request>`, acknowledging that message.
    pub via_ack: Option<String>,
    /// Continuous loops with `stop_after(n)`: how many messages are still to be
    /// handed out before the loop ends. Shared by the engines an ordered consumer
    /// makes one after another; counted down where messages leave the engine
    /// ([`AnyEngine::next_event`](super::AnyEngine::next_event)), read here so that
    /// no more is ever requested than that.
    pub stop_after: Option<Arc<AtomicUsize>>,
}

impl PullConfig {
    /// How many more messages may be requested beyond the `outstanding` ones.
    fn room(&self, outstanding: usize) -> usize {
        match &self.stop_after {
            Some(left) => left.load(Ordering::Acquire).saturating_sub(outstanding),
            None => usize::MAX,
        }
    }
}

/// One pull, or pulls kept outstanding.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PullKind {
    /// `fetch` and friends: one request; anything unexpected ends it.
    Once { no_wait: bool },
    /// `messages` and `consume`: refill below these thresholds.
    Continuous {
        threshold_messages: usize,
        threshold_bytes: usize,
    },
}

/// Stop/drain requests from the handle (`Messages`, `ConsumeContext`).
#[derive(Debug, Default)]
pub(crate) struct Control {
    pub stop: AtomicBool,
    pub notify: Notify,
}

impl Control {
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.notify.notify_one();
    }
}

/// What the engine produced.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // messages are the common case: no extra box for them
pub(crate) enum Event {
    Msg(Msg),
    /// Not fatal (missed heartbeats, warnings from the server); continuous
    /// loops only: a one-shot pull ends with a `Terminal` instead.
    Warning(Error),
    /// The pull is over (consumer deleted, connection closed, bad request).
    Terminal(Error),
    /// The connection came back; a fresh pull is going out.
    Reconnected,
    /// Push consumers of ordered loops only: a heartbeat says the server sent messages that
    /// never arrived. Not for the user: the ordered loop recreates its consumer.
    Gap(Error),
}

/// What a continuous loop watches beside its inbox.
struct Continuous {
    threshold_messages: usize,
    threshold_bytes: usize,
    state: watch::Receiver<State>,
    disconnected: bool,
    /// The client's reconnect count when last checked: the state watch keeps
    /// only the latest value, so `Disconnected` then `Connected` while the loop
    /// was not polled (a busy handler, an unread `Messages`) shows up as
    /// `Connected` alone; the count still tells that a reconnect happened.
    reconnects: u64,
    control: Arc<Control>,
    stopping: bool,
    backoff: Backoff,
}

/// First delay of re-pulls after the first failure (the first goes out at once).
const BACKOFF_START: Duration = Duration::from_millis(100);
/// Longest delay between re-pulls that keep failing.
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Paces re-pulls after pulls that got no responders or could not be sent:
/// the first goes out at once, the next after 100 ms, doubling up to 5 s, until
/// a pull is alive again (a message, heartbeat or status arrives) or the
/// connection is re-established.
struct Backoff {
    failures: u32,
    waiting: bool,
    sleep: Pin<Box<Sleep>>,
}

impl Backoff {
    fn new() -> Backoff {
        Backoff {
            failures: 0,
            waiting: false,
            sleep: Box::pin(tokio::time::sleep(Duration::ZERO)),
        }
    }

    /// The wait before the next pull after `failures` failures in a row.
    fn delay(failures: u32) -> Duration {
        match failures {
            0 => Duration::ZERO,
            n => BACKOFF_START
                .saturating_mul(1 << (n - 1).min(16))
                .min(BACKOFF_MAX),
        }
    }

    /// A pull failed: the next one waits.
    fn failed(&mut self) {
        let delay = Backoff::delay(self.failures);
        self.failures = self.failures.saturating_add(1);
        self.waiting = true;
        self.sleep
            .as_mut()
            .reset(tokio::time::Instant::now() + delay);
    }

    /// A pull is alive: the next failure is retried at once again.
    fn alive(&mut self) {
        self.failures = 0;
    }

    /// Pull at once (after a reconnect).
    fn clear(&mut self) {
        self.failures = 0;
        self.waiting = false;
    }
}

pub(crate) struct Engine {
    sub: Subscriber,
    inbox: String,
    next_subject: String,
    cfg: PullConfig,
    ack_none: bool,
    pending_msgs: usize,
    pending_bytes: usize,
    heartbeat: Option<IdleWatch>,
    /// The handle pulled from: its client and timeout for the messages, and
    /// the pin id (pinned-client groups) shared with every pull on clones of it.
    /// Shared with the messages delivered (for `Msg::ack_next`).
    consumer: Arc<Consumer>,
    /// `Some` for continuous loops.
    continuous: Option<Continuous>,
    /// `Some` for one-shot pulls: the pull is over by then at the latest.
    deadline: Option<Pin<Box<Sleep>>>,
    /// A consumer-info request in flight, and why it was sent; no pull goes
    /// out meanwhile.
    check: Option<(Doubt, BoxFuture<'static, Result<ConsumerInfo, Error>>)>,
    finished: bool,
    #[cfg(feature = "metrics")]
    metrics: crate::observe::metrics::ConsumerMetrics,
}

/// Why the engine asks whether its consumer still exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Doubt {
    /// A pull got no responders (503).
    NoResponders,
    /// Heartbeats stopped while connected.
    Silence,
}

/// Errors of a consumer-info request that mean the consumer is gone.
pub(crate) fn is_gone(e: &Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConsumerNotFound | ErrorKind::StreamNotFound
    )
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("inbox", &self.inbox)
            .field("pending_msgs", &self.pending_msgs)
            .field("pending_bytes", &self.pending_bytes)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

/// Room for status messages (heartbeats, 408s) beside the pulled messages.
const STATUS_HEADROOM: usize = 1024;

/// The pending limits of a pull's inbox, sized from its own budget rather
/// than from the connection's default, so that lowering that default for core
/// subscriptions can never make a pull drop: the engine keeps at most one
/// budget outstanding and tops it up only as it reads, so twice the budget
/// plus room for status messages is never reached. Without a byte budget,
/// messages are bounded by count only (each by the server's max payload).
fn inbox_limits(cfg: &PullConfig) -> PendingLimits {
    let messages = cfg
        .max_messages
        .saturating_mul(2)
        .saturating_add(STATUS_HEADROOM);
    let bytes = match cfg.max_bytes {
        0 => usize::MAX,
        b => b.saturating_mul(2).saturating_add(1 << 20),
    };
    PendingLimits::new(messages, bytes)
}

impl Engine {
    /// Subscribes to a fresh inbox and sends the first pull. `control` is
    /// used by continuous loops (stop and drain).
    pub(crate) async fn start(
        consumer: &Consumer,
        cfg: PullConfig,
        control: Option<Arc<Control>>,
    ) -> Result<Engine, Error> {
        let info = consumer.cached_info();
        cfg.priority.check_group(&info)?;
        let client = consumer.js.client();
        let inbox = client.new_inbox();
        let sub = client
            .subscribe_with_limits(&inbox, inbox_limits(&cfg))
            .await?;
        let continuous = match cfg.kind {
            PullKind::Continuous {
                threshold_messages,
                threshold_bytes,
            } => Some(Continuous {
                threshold_messages,
                threshold_bytes,
                state: client.state_changes(),
                disconnected: false,
                reconnects: client.statistics().reconnects,
                control: control.unwrap_or_default(),
                stopping: false,
                backoff: Backoff::new(),
            }),
            PullKind::Once { .. } => None,
        };
        let mut engine = Engine {
            heartbeat: cfg.heartbeat.map(IdleWatch::new),
            ack_none: info.config.ack_policy == AckPolicy::None,
            sub,
            inbox,
            next_subject: consumer.next_subject(),
            cfg,
            pending_msgs: 0,
            pending_bytes: 0,
            consumer: Arc::new(consumer.clone()),
            continuous,
            deadline: None,
            check: None,
            finished: false,
            #[cfg(feature = "metrics")]
            metrics: crate::observe::metrics::ConsumerMetrics::new(
                consumer.stream_name(),
                consumer.name(),
            ),
        };
        // The first pull goes out at once, as the handle is created.
        engine.pull().await?;
        if let PullKind::Once { no_wait } = engine.cfg.kind {
            let wait = if no_wait {
                // A no-wait pull is answered at once; bound the wait anyway.
                engine.consumer.js.timeout()
            } else {
                engine.cfg.expires + Duration::from_secs(1)
            };
            engine.deadline = Some(Box::pin(tokio::time::sleep(wait)));
        }
        Ok(engine)
    }

    /// The `stop_after` countdown of this loop, if it has one.
    pub(crate) fn stop_after(&self) -> Option<Arc<AtomicUsize>> {
        self.cfg.stop_after.clone()
    }

    /// Whether the pull is over: nothing more will come.
    pub(crate) fn is_finished(&self) -> bool {
        self.finished
    }

    fn needs_pull(&self) -> bool {
        match &self.continuous {
            Some(c) => {
                self.check.is_none()
                    && !c.stopping
                    && !c.disconnected
                    && !c.backoff.waiting
                    && self.cfg.room(self.pending_msgs) > 0
                    && (self.pending_msgs < c.threshold_messages
                        || (self.cfg.max_bytes > 0 && self.pending_bytes < c.threshold_bytes))
            }
            None => false,
        }
    }

    async fn pull(&mut self) -> Result<(), Error> {
        let cfg = &self.cfg;
        let mut request = PullRequest {
            batch: cfg.max_messages,
            max_bytes: cfg.max_bytes,
            expires: Some(cfg.expires),
            idle_heartbeat: cfg.heartbeat,
            group: cfg.priority.group.clone(),
            min_pending: cfg.priority.min_pending,
            min_ack_pending: cfg.priority.min_ack_pending,
            priority: cfg.priority.priority,
            id: self.consumer.pin_id(),
            ..Default::default()
        };
        match cfg.kind {
            PullKind::Once { no_wait: true } => {
                request.no_wait = true;
                request.expires = None;
            }
            PullKind::Once { no_wait: false } => {}
            // Top both budgets up: never more outstanding than configured.
            // Neither top-up is ever 0 (a `max_bytes` of 0 means no limit).
            PullKind::Continuous { .. } => {
                request.batch = cfg
                    .max_messages
                    .saturating_sub(self.pending_msgs)
                    .min(cfg.room(self.pending_msgs))
                    .max(1);
                if cfg.max_bytes > 0 {
                    request.max_bytes = cfg.max_bytes.saturating_sub(self.pending_bytes).max(1);
                }
            }
        }
        let request_batch = request.batch;
        let json = serde_json::to_vec(&request)
            .map_err(|e| Error::with_source(ErrorKind::InvalidArgument, e))?;
        let client = self.consumer.js.client();
        let span = crate::observe::pull(
            self.consumer.stream_name(),
            self.consumer.name(),
            request.batch,
            request.max_bytes,
        );
        let via_ack = self.cfg.via_ack.take();
        let inbox = &self.inbox;
        let next_subject = &self.next_subject;
        async move {
            match via_ack {
                Some(ack_subject) => {
                    let mut body = b"+NXT ".to_vec();
                    body.extend_from_slice(&json);
                    client
                        .publish_with_reply(&ack_subject, inbox, Bytes::from(body))
                        .await
                }
                None => {
                    client
                        .publish_with_reply(next_subject, inbox, Bytes::from(json))
                        .await
                }
            }
        }
        .instrument(span)
        .await?;
        self.pending_msgs = match self.cfg.kind {
            PullKind::Continuous { .. } => self.pending_msgs + request_batch,
            PullKind::Once { .. } => self.cfg.max_messages,
        };
        #[cfg(feature = "metrics")]
        self.metrics.outstanding.set(self.pending_msgs as f64);
        if self.cfg.max_bytes > 0 {
            self.pending_bytes = self.cfg.max_bytes;
        }
        Ok(())
    }

    /// Turns a delivered message into a [`Msg`], counting it against the budget.
    fn deliver(&mut self, m: Message) -> Msg {
        self.pending_msgs = self.pending_msgs.saturating_sub(1);
        if self.cfg.max_bytes > 0 {
            self.pending_bytes = self.pending_bytes.saturating_sub(message_size(&m));
        }
        if let Some(pin) = m.headers.as_ref().and_then(|h| h.get("Nats-Pin-Id")) {
            self.consumer.set_pin_id(Some(pin));
        }
        if self.continuous.is_none()
            && (self.pending_msgs == 0 || (self.cfg.max_bytes > 0 && self.pending_bytes == 0))
        {
            self.finished = true;
        }
        // The acknowledgement state is complete before the message is built:
        // a `Msg` is large, and every by-value step would copy it.
        #[cfg_attr(not(feature = "metrics"), allow(unused_mut))]
        let mut ack = AckState::new(self.consumer.clone(), true, self.ack_none);
        #[cfg(feature = "metrics")]
        {
            self.metrics.delivered.increment(1);
            self.metrics.outstanding.set(self.pending_msgs as f64);
            if !self.ack_none {
                ack.set_latency(self.metrics.ack_latency.clone());
            }
        }
        Msg::from_parts(m, ack)
    }

    /// Something the user should hear about: a warning in a continuous loop;
    /// the end of a one-shot pull.
    fn warning(&mut self, e: Error) -> Event {
        if self.continuous.is_some() {
            Event::Warning(e)
        } else {
            self.terminal(e)
        }
    }

    fn terminal(&mut self, e: Error) -> Event {
        self.finished = true;
        Event::Terminal(e)
    }

    /// Asks the server whether the consumer still exists, unless a check is
    /// already under way.
    fn start_check(&mut self, doubt: Doubt) {
        if self.check.is_none() {
            let consumer = self.consumer.clone();
            self.check = Some((doubt, Box::pin(async move { consumer.info().await })));
        }
    }

    /// The consumer-info request answered.
    fn on_checked(&mut self, result: Result<ConsumerInfo, Error>) -> Option<Event> {
        let (doubt, _) = self.check.take()?;
        let cause = match doubt {
            Doubt::NoResponders => "a pull got no responders (503)",
            Doubt::Silence => "heartbeats stopped",
        };
        match result {
            Err(e) if is_gone(&e) => {
                let msg = format!("the consumer no longer exists ({cause})");
                Some(self.terminal(e.with_message(msg)))
            }
            _ if doubt == Doubt::Silence => None,
            Ok(_) => Some(self.warning(Error::msg(
                ErrorKind::NoResponders,
                "a pull got no responders (503), though the consumer exists",
            ))),
            Err(e) => Some(self.warning(Error::msg(
                ErrorKind::NoResponders,
                format!("a pull got no responders (503), and checking the consumer failed: {e}"),
            ))),
        }
    }

    /// No responders: the pull is gone. A continuous loop pulls again at once,
    /// then with a growing delay while it keeps failing; meanwhile it checks
    /// that the consumer still exists.
    fn on_no_responders(&mut self) {
        if let Some(c) = &mut self.continuous {
            self.pending_msgs = 0;
            self.pending_bytes = 0;
            c.backoff.failed();
        }
        self.start_check(Doubt::NoResponders);
    }

    /// Handles a message from the inbox; `None`: nothing for the user.
    fn on_message(&mut self, m: Message) -> Option<Event> {
        let status = classify(&m);
        // A 503 proves no pull alive: it is no sign of life.
        if !matches!(status, Status::NoResponders) {
            if let Some(watch) = &mut self.heartbeat {
                watch.activity();
            }
            if let Some(c) = &mut self.continuous {
                c.backoff.alive();
            }
        }
        match status {
            Status::Message => return Some(Event::Msg(self.deliver(m))),
            Status::Heartbeat => {}
            Status::RequestEnded { .. } if self.continuous.is_none() => self.finished = true,
            Status::RequestEnded {
                messages,
                bytes,
                warning,
            } => {
                self.pending_msgs = self.pending_msgs.saturating_sub(messages);
                self.pending_bytes = self.pending_bytes.saturating_sub(bytes);
                return warning.map(Event::Warning);
            }
            Status::Reset { error, pin_lost } => {
                self.pending_msgs = 0;
                self.pending_bytes = 0;
                if pin_lost {
                    self.consumer.set_pin_id(None);
                }
                return Some(self.warning(error));
            }
            Status::NoResponders => self.on_no_responders(),
            Status::Warning(e) => return Some(self.warning(e)),
            Status::Terminal(e) => return Some(self.terminal(e)),
        }
        None
    }

    /// Heartbeats stopped: a one-shot pull ends; a continuous loop pulls
    /// again (once reconnected, if the connection is down).
    fn on_heartbeat_missed(&mut self) -> Event {
        let Some(c) = &self.continuous else {
            return self.terminal(Error::msg(
                ErrorKind::HeartbeatMissed,
                "no heartbeat from the server within twice the interval",
            ));
        };
        if c.disconnected {
            return Event::Warning(Error::msg(
                ErrorKind::HeartbeatMissed,
                "no heartbeat: the server is unreachable; pulling again once reconnected",
            ));
        }
        self.pending_msgs = 0;
        self.pending_bytes = 0;
        if let Some(watch) = &mut self.heartbeat {
            watch.reset();
        }
        self.start_check(Doubt::Silence);
        Event::Warning(Error::msg(
            ErrorKind::HeartbeatMissed,
            "no heartbeat within twice the interval; pulling again",
        ))
    }

    /// The connection state changed (continuous loops only).
    fn on_state(&mut self, state: State) -> Option<Event> {
        let c = self.continuous.as_mut()?;
        match state {
            State::Connected => {
                let reconnects = self.consumer.js.client().statistics().reconnects;
                if c.disconnected || reconnects != c.reconnects {
                    c.reconnects = reconnects;
                    c.disconnected = false;
                    c.backoff.clear();
                    self.pending_msgs = 0;
                    self.pending_bytes = 0;
                    if let Some(watch) = &mut self.heartbeat {
                        watch.reset();
                    }
                    return Some(Event::Reconnected);
                }
                None
            }
            State::Closed => Some(self.terminal(Error::new(ErrorKind::ConnectionClosed))),
            _ => {
                c.disconnected = true;
                None
            }
        }
    }

    /// What the subscription's next item means: a message, or its end.
    fn on_next(&mut self, m: Option<Message>, stopping: bool) -> Option<Event> {
        match m {
            Some(m) => self.on_message(m),
            None => {
                self.finished = true;
                (!stopping).then(|| Event::Terminal(Error::new(ErrorKind::ConnectionClosed)))
            }
        }
    }

    /// The next message or event; `None` once the pull is over.
    pub(crate) async fn next_event(&mut self) -> Option<Event> {
        loop {
            if self.finished {
                return None;
            }
            if let Some(c) = &mut self.continuous {
                if !c.stopping && c.control.stop.load(Ordering::Acquire) {
                    c.stopping = true;
                    // Unsubscribe and let what the server already sent arrive.
                    let _ = self.sub.drain().await;
                }
            }
            if self.needs_pull() {
                if let Err(e) = self.pull().await {
                    if e.kind() == ErrorKind::ConnectionClosed {
                        return Some(self.terminal(e));
                    }
                    // E.g. the reconnect buffer is full while the loop has not
                    // yet seen the disconnect: wait before trying again, or
                    // the loop would spin (and starve a current-thread runtime).
                    if let Some(c) = &mut self.continuous {
                        c.backoff.failed();
                    }
                    return Some(Event::Warning(e));
                }
            }
            // Heartbeats are watched while disconnected too: the user hears
            // that the server went quiet; pulls resume once reconnected.
            let stopping = self.continuous.as_ref().is_some_and(|c| c.stopping);
            // A message already waiting is taken as the biased select below
            // would take it first, without setting up the select's branches.
            if let Some(m) = self.sub.next().now_or_never() {
                match self.on_next(m, stopping) {
                    Some(event) => return Some(event),
                    None => continue,
                }
            }
            let event = tokio::select! {
                biased;
                m = self.sub.next() => self.on_next(m, stopping),
                result = checked(&mut self.check) => self.on_checked(result),
                // A check under way ends a one-shot pull on its own.
                () = expired(&mut self.deadline), if self.check.is_none() => {
                    self.finished = true;
                    None
                }
                () = heartbeat_missed(&mut self.heartbeat), if !stopping => {
                    Some(self.on_heartbeat_missed())
                }
                signal = loop_signal(&mut self.continuous) => match signal {
                    Signal::State(state) => self.on_state(state),
                    // Seen at the top of the loop.
                    Signal::Stop | Signal::Retry => None,
                },
            };
            if event.is_some() {
                return event;
            }
        }
    }
}

/// The answer of the consumer-info request under way; never without one.
async fn checked(
    check: &mut Option<(Doubt, BoxFuture<'static, Result<ConsumerInfo, Error>>)>,
) -> Result<ConsumerInfo, Error> {
    match check {
        Some((_, request)) => request.as_mut().await,
        None => std::future::pending().await,
    }
}

/// Ready once a one-shot pull's deadline passed; never for continuous loops.
async fn expired(deadline: &mut Option<Pin<Box<Sleep>>>) {
    match deadline {
        Some(sleep) => sleep.as_mut().await,
        None => std::future::pending().await,
    }
}

/// Ready once heartbeats were missed; never without heartbeats.
async fn heartbeat_missed(watch: &mut Option<IdleWatch>) {
    match watch {
        Some(watch) => std::future::poll_fn(|cx| watch.poll_missed(cx)).await,
        None => std::future::pending().await,
    }
}

/// What a continuous loop hears beside its inbox.
enum Signal {
    State(State),
    Stop,
    /// The backoff after a failed pull is over.
    Retry,
}

/// The next connection state, stop request or re-pull due of a continuous
/// loop; never for one-shot pulls.
async fn loop_signal(continuous: &mut Option<Continuous>) -> Signal {
    let Some(c) = continuous else {
        return std::future::pending().await;
    };
    tokio::select! {
        changed = c.state.changed() => Signal::State(match changed {
            Ok(()) => *c.state.borrow_and_update(),
            Err(_) => State::Closed,
        }),
        () = c.control.notify.notified() => Signal::Stop,
        () = c.backoff.sleep.as_mut(), if c.backoff.waiting => {
            c.backoff.waiting = false;
            Signal::Retry
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repulls_back_off_from_at_once_to_five_seconds() {
        let delays: Vec<u64> = (0..9)
            .map(|n| Backoff::delay(n).as_millis() as u64)
            .collect();
        assert_eq!(delays, [0, 100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        assert_eq!(Backoff::delay(u32::MAX), BACKOFF_MAX);
    }
}
