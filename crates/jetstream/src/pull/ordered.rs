//! Ordered consumers: strictly in-order, gap-free delivery without acks.
//!
//! An [`OrderedConsumer`] owns a chain of ephemeral, AckNone, R1, memory-stored
//! consumers. Whenever continuity is in doubt (a consumer sequence gap, missed
//! heartbeats, a reconnect, the consumer deleted, no responders), the current
//! consumer is dropped and a new one is created starting right after the last
//! stream sequence delivered. Users never see a gap or a duplicate.

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

#[cfg(any(feature = "kv", feature = "object-store"))]
use tokio::sync::oneshot;

use super::engine::{Control, Engine, Event, PullConfig};
use crate::error::{Error, ErrorKind};
use crate::push::engine::PushEngine;
use crate::types::{AckPolicy, ConsumerConfig, ConsumerInfo, DeliverPolicy, OrderedConsumerConfig};
use crate::{Consumer, JetStream, Msg};

const DEFAULT_INACTIVE_THRESHOLD: Duration = Duration::from_secs(300);
const RESET_BACKOFF_START: Duration = Duration::from_secs(1);
const RESET_BACKOFF_MAX: Duration = Duration::from_secs(10);
/// Attempts at (re)creating the server-side consumer when
/// `max_reset_attempts` is unset: with the backoff above, about a minute of
/// sleeps plus the request timeouts.
pub(crate) const DEFAULT_MAX_RESET_ATTEMPTS: usize = 10;
#[cfg(any(feature = "kv", feature = "object-store"))]
/// How long deleting a dropped watcher's consumer may take.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(10);

/// A consumer that delivers a stream (or its filtered subset) in order, exactly
/// once, recreating its server-side consumer as needed. Made by
/// [`JetStream::ordered_consumer`] or [`crate::Stream::ordered_consumer`].
///
/// It is read one way: by fetches (`fetch`, `fetch_bytes`, `fetch_no_wait`,
/// `next`), one at a time, or by one running `messages`/`consume` loop at a
/// time. Mixing the two, starting a second loop while one runs, or a second
/// fetch while one is under way (on this handle or a clone: its batch was
/// neither read to the end nor dropped) is refused with
/// [`ErrorKind::InvalidArgument`]: two readers would get the same messages.
///
/// Its `messages()` yields `Err(HeartbeatMissed)` when the server goes quiet,
/// as a plain consumer's does, and recovers on its own. Recreating the
/// server-side consumer retries errors another attempt may fix up to
/// [`max_reset_attempts`](crate::OrderedConsumerConfig::max_reset_attempts)
/// times (10 by default) and gives up at once on any other (a consumer limit,
/// a permission); that error is the stream's last item.
///
/// ```no_run
/// # async fn run(js: jetstream::JetStream) -> Result<(), jetstream::Error> {
/// use futures_util::StreamExt;
///
/// let ordered = js
///     .ordered_consumer("ORDERS", jetstream::OrderedConsumerConfig::default())
///     .await?;
/// let mut messages = ordered.messages().await?;
/// while let Some(msg) = messages.next().await {
///     let msg = msg?;
///     println!("{}", msg.metadata()?.sequence.stream);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct OrderedConsumer {
    pub(crate) inner: Arc<OrderedInner>,
}

#[derive(Debug)]
pub(crate) struct OrderedInner {
    js: JetStream,
    stream: String,
    config: OrderedConsumerConfig,
    /// Application metadata set on every server-side consumer it creates.
    metadata: HashMap<String, String>,
    prefix: String,
    state: Mutex<OrderedState>,
}

#[derive(Debug)]
struct OrderedState {
    serial: u64,
    /// The stream sequence of the last message delivered (0: none yet).
    stream_seq: u64,
    current: Option<Consumer>,
    /// The current consumer has not served any receive call yet.
    fresh: bool,
    /// How this consumer has been read so far: fetches and continuous loops
    /// (`messages`, `consume`) do not mix.
    mode: Option<Mode>,
    /// A `messages`/`consume` loop is running (only one may).
    looping: bool,
    /// A fetch is under way (only one may: two would read the same messages).
    fetching: bool,
}

/// The receive mode an ordered consumer was first used with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Fetch,
    Continuous,
}

/// Marks the one running `messages`/`consume` loop of an ordered consumer;
/// dropping it lets another start.
#[derive(Debug)]
struct LoopGuard(OrderedConsumer);

impl Drop for LoopGuard {
    fn drop(&mut self) {
        self.0.state().looping = false;
    }
}

/// Marks the one fetch under way on an ordered consumer (and its clones);
/// dropping it lets the next start.
#[derive(Debug)]
struct FetchGuard(OrderedConsumer);

impl Drop for FetchGuard {
    fn drop(&mut self) {
        self.0.state().fetching = false;
    }
}

fn mixed_modes(detail: &str) -> Error {
    Error::msg(
        ErrorKind::InvalidArgument,
        format!("an ordered consumer is read one way at a time: {detail}"),
    )
}

impl OrderedConsumer {
    pub(crate) async fn create(
        js: JetStream,
        stream: &str,
        config: OrderedConsumerConfig,
        metadata: HashMap<String, String>,
    ) -> Result<OrderedConsumer, Error> {
        let oc = OrderedConsumer::build(js, stream, config, metadata)?;
        let consumer = oc.create_consumer(None).await?;
        let mut state = oc.state();
        state.current = Some(consumer);
        state.fresh = true;
        drop(state);
        Ok(oc)
    }

    /// Checks the configuration and makes the handle, without creating a server-side
    /// consumer yet (an ordered push consumer creates its first one when it starts
    /// receiving, after subscribing to its deliver subject).
    pub(crate) fn build(
        js: JetStream,
        stream: &str,
        config: OrderedConsumerConfig,
        metadata: HashMap<String, String>,
    ) -> Result<OrderedConsumer, Error> {
        crate::validate::validate_stream_name(stream)?;
        if let Some(prefix) = &config.name_prefix {
            crate::validate::validate_consumer_name(prefix)?;
        }
        for filter in &config.filter_subjects {
            crate::validate::validate_subject(filter, true)?;
        }
        let prefix = config.name_prefix.clone().unwrap_or_else(|| {
            js.client()
                .new_inbox()
                .rsplit('.')
                .next()
                .unwrap_or("ordered")
                .to_string()
        });
        let oc = OrderedConsumer {
            inner: Arc::new(OrderedInner {
                js,
                stream: stream.to_string(),
                config,
                metadata,
                prefix,
                state: Mutex::new(OrderedState {
                    serial: 0,
                    stream_seq: 0,
                    current: None,
                    fresh: false,
                    mode: None,
                    looping: false,
                    fetching: false,
                }),
            }),
        };
        Ok(oc)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, OrderedState> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The stream this consumer reads.
    pub fn stream_name(&self) -> &str {
        &self.inner.stream
    }

    /// The info of the current server-side consumer, as last fetched.
    pub fn cached_info(&self) -> Arc<ConsumerInfo> {
        match &self.state().current {
            Some(c) => c.cached_info(),
            None => Arc::new(ConsumerInfo::default()),
        }
    }

    /// Fetches the info of the current server-side consumer.
    pub async fn info(&self) -> Result<ConsumerInfo, Error> {
        let current = self.state().current.clone();
        match current {
            Some(c) => c.info().await,
            None => Err(Error::msg(
                ErrorKind::ConsumerNotFound,
                "the ordered consumer has no server-side consumer right now",
            )),
        }
    }

    /// The stream sequence of the last message delivered (0 when none was).
    pub fn last_stream_sequence(&self) -> u64 {
        self.state().stream_seq
    }

    pub(crate) fn record(&self, stream_seq: u64) {
        self.state().stream_seq = stream_seq;
    }

    /// The JetStream context this consumer uses.
    pub(crate) fn context(&self) -> &JetStream {
        &self.inner.js
    }

    /// The configuration of the next server-side consumer; `push` makes it a push consumer
    /// delivering to that subject, with flow control and heartbeats at that interval.
    fn consumer_config(
        &self,
        serial: u64,
        stream_seq: u64,
        push: Option<(&str, Duration)>,
    ) -> ConsumerConfig {
        let c = &self.inner.config;
        let deliver_policy = if stream_seq > 0 {
            DeliverPolicy::ByStartSequence {
                start_sequence: stream_seq + 1,
            }
        } else {
            c.deliver_policy
        };
        let mut config = ConsumerConfig {
            name: Some(format!("{}_{serial}", self.inner.prefix)),
            deliver_policy,
            ack_policy: AckPolicy::None,
            replay_policy: c.replay_policy,
            inactive_threshold: Some(c.inactive_threshold.unwrap_or(DEFAULT_INACTIVE_THRESHOLD)),
            headers_only: c.headers_only,
            metadata: self.inner.metadata.clone(),
            num_replicas: 1,
            mem_storage: true,
            ..Default::default()
        };
        if let Some((deliver, heartbeat)) = push {
            config.deliver_subject = Some(deliver.to_string());
            config.flow_control = true;
            config.idle_heartbeat = heartbeat;
        }
        match c.filter_subjects.len() {
            0 if matches!(deliver_policy, DeliverPolicy::LastPerSubject) => {
                config.filter_subjects = vec![">".to_string()];
            }
            0 => {}
            1 => config.filter_subject = Some(c.filter_subjects[0].clone()),
            _ => config.filter_subjects = c.filter_subjects.clone(),
        }
        config
    }

    /// Creates the next server-side consumer, starting after the last delivered
    /// message. Errors that another attempt may fix (see [`is_transient`]) are
    /// retried with backoff, up to `max_reset_attempts` attempts
    /// ([`DEFAULT_MAX_RESET_ATTEMPTS`] when unset); any other error is
    /// returned at once. While the connection is down it waits for the
    /// reconnect instead (attempts then could only time out), also when the
    /// connection dropped with the request in flight; a closed client ends it.
    async fn create_consumer(&self, push: Option<(&str, Duration)>) -> Result<Consumer, Error> {
        let max = self
            .inner
            .config
            .max_reset_attempts
            .unwrap_or(DEFAULT_MAX_RESET_ATTEMPTS)
            .max(1);
        let mut backoff = RESET_BACKOFF_START;
        let mut attempt = 0usize;
        loop {
            wait_connected(self.inner.js.client()).await?;
            let (serial, stream_seq) = {
                let mut s = self.state();
                s.serial += 1;
                (s.serial, s.stream_seq)
            };
            let config = self.consumer_config(serial, stream_seq, push);
            match self
                .inner
                .js
                .create_or_update_consumer(&self.inner.stream, config)
                .await
            {
                Ok(c) => return Ok(c),
                // The core client fails a request in flight when the connection
                // drops; the client is reconnecting, not closed (a closed client
                // ends this at `wait_connected`). Not an attempt of its own.
                Err(e) if e.kind() == ErrorKind::ConnectionClosed => {}
                Err(e) if !is_transient(&e) => return Err(e),
                Err(e) => {
                    attempt += 1;
                    if attempt >= max {
                        return Err(e);
                    }
                    tracing::debug!(error = %e, attempt, "recreating ordered consumer failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(RESET_BACKOFF_MAX);
                }
            }
        }
    }

    /// Claims the consumer for a fetch (`fetch`, `fetch_bytes`, `fetch_no_wait`,
    /// `next`): refused once it was read by `messages` or `consume`, and while
    /// another fetch on it (or a clone) is under way.
    fn begin_fetch(&self) -> Result<FetchGuard, Error> {
        let mut s = self.state();
        if s.mode == Some(Mode::Continuous) {
            return Err(mixed_modes(
                "it was read with messages() or consume(), so it can not fetch",
            ));
        }
        if s.fetching {
            return Err(Error::msg(
                ErrorKind::InvalidArgument,
                "an ordered consumer serves one fetch at a time: another fetch on it (or a \
                 clone) is under way; read its batch to the end or drop it first",
            ));
        }
        s.mode = Some(Mode::Fetch);
        s.fetching = true;
        drop(s);
        Ok(FetchGuard(self.clone()))
    }

    /// Claims the consumer for one `messages`/`consume` loop: refused after
    /// fetches, and while another loop runs.
    fn begin_loop(&self) -> Result<LoopGuard, Error> {
        let mut s = self.state();
        match s.mode {
            Some(Mode::Fetch) => {
                return Err(mixed_modes(
                    "it was read with fetch() or next(), so it can not run messages() or consume()",
                ))
            }
            _ if s.looping => {
                return Err(mixed_modes(
                    "a messages() or consume() loop is already running on it",
                ))
            }
            _ => {}
        }
        s.mode = Some(Mode::Continuous);
        s.looping = true;
        drop(s);
        Ok(LoopGuard(self.clone()))
    }

    /// The consumer to use for the next receive call: the fresh one made at
    /// creation, or a new one starting after the last delivered message.
    ///
    /// `push`: the deliver subject (already subscribed to) and heartbeat of an ordered push
    /// consumer; such a consumer has no fresh one.
    pub(crate) async fn next_consumer(
        &self,
        push: Option<(&str, Duration)>,
    ) -> Result<Consumer, Error> {
        let (fresh, old) = {
            let mut s = self.state();
            let fresh = s.fresh.then(|| s.current.clone()).flatten();
            s.fresh = false;
            (fresh, s.current.take())
        };
        if let Some(c) = fresh {
            self.state().current = Some(c.clone());
            return Ok(c);
        }
        if let Some(old) = old {
            delete_in_background(old);
        }
        let c = self.create_consumer(push).await?;
        self.state().current = Some(c.clone());
        Ok(c)
    }
}

/// Where a watcher (KV or object store) starts: only new changes, every
/// stored version, or the latest value of each subject. `updates_only` and
/// `include_history` contradict each other and are refused together.
#[cfg(any(feature = "kv", feature = "object-store"))]
pub(crate) fn watch_start(
    updates_only: bool,
    include_history: bool,
) -> Result<DeliverPolicy, Error> {
    match (updates_only, include_history) {
        (true, true) => Err(Error::msg(
            ErrorKind::InvalidArgument,
            "watch: updates_only and include_history are exclusive",
        )),
        (true, false) => Ok(DeliverPolicy::New),
        (false, true) => Ok(DeliverPolicy::All),
        (false, false) => Ok(DeliverPolicy::LastPerSubject),
    }
}

#[cfg(any(feature = "kv", feature = "object-store"))]
/// Held by a watcher: once it is dropped, the ordered consumer's current
/// server-side consumer is deleted. The deleting task is spawned when the
/// watcher is made, never in `Drop`; if it can not run, the consumer's
/// inactivity threshold removes the consumer anyway.
#[derive(Debug)]
pub(crate) struct DeleteOnDrop {
    _armed: oneshot::Sender<()>,
}

#[cfg(any(feature = "kv", feature = "object-store"))]
impl OrderedConsumer {
    /// See [`DeleteOnDrop`].
    pub(crate) fn delete_on_drop(&self) -> DeleteOnDrop {
        let (armed, dropped) = oneshot::channel::<()>();
        let oc = self.clone();
        tokio::spawn(async move {
            let _ = dropped.await;
            oc.delete_current(CLEANUP_TIMEOUT).await;
        });
        DeleteOnDrop { _armed: armed }
    }

    /// Deletes the current server-side consumer, best effort, waiting at most
    /// `within` (its inactivity threshold removes it anyway).
    pub(crate) async fn delete_current(&self, within: Duration) {
        let name = self.cached_info().name.clone();
        if name.is_empty() {
            return;
        }
        let _ = tokio::time::timeout(
            within,
            self.inner.js.delete_consumer(self.stream_name(), &name),
        )
        .await;
    }
}

/// Errors that another attempt may not meet: timeouts, no responders, I/O
/// and other client-side failures, and server errors that mean "not now"
/// (429, 5xx). Everything else (a consumer limit, a permission, a bad
/// configuration, a missing stream, a closed connection) is final.
fn is_transient(e: &Error) -> bool {
    match e.api_error() {
        Some(api) => api.code == 429 || api.code >= 500,
        None => matches!(
            e.kind(),
            ErrorKind::Timeout | ErrorKind::NoResponders | ErrorKind::Io | ErrorKind::Other
        ),
    }
}

/// Waits until the client is connected; `ConnectionClosed` once it closed.
async fn wait_connected(client: &nats_core::Client) -> Result<(), Error> {
    let mut states = client.state_changes();
    loop {
        match *states.borrow_and_update() {
            nats_core::State::Connected => return Ok(()),
            nats_core::State::Closed => return Err(Error::new(ErrorKind::ConnectionClosed)),
            _ => {}
        }
        if states.changed().await.is_err() {
            return Err(Error::new(ErrorKind::ConnectionClosed));
        }
    }
}

/// Best effort: the inactive threshold removes it anyway.
fn delete_in_background(consumer: Consumer) {
    tokio::spawn(async move {
        let _ = tokio::time::timeout(
            Duration::from_secs(10),
            consumer
                .js
                .delete_consumer(consumer.stream_name(), consumer.name()),
        )
        .await;
    });
}

/// Continuity of delivery from one server-side consumer: each message must
/// follow the last one (consumer sequence + 1).
#[derive(Debug, Default)]
struct Sequence {
    consumer_seq: u64,
}

impl Sequence {
    /// Whether `m` follows the last message; if so, records its stream
    /// sequence as delivered.
    fn advance(&mut self, oc: &OrderedConsumer, m: &Msg) -> bool {
        match m.numbers() {
            Some(t) if t.consumer_seq == self.consumer_seq + 1 => {
                self.consumer_seq = t.consumer_seq;
                oc.record(t.stream_seq);
                true
            }
            Some(t) => {
                tracing::debug!(
                    expected = self.consumer_seq + 1,
                    got = t.consumer_seq,
                    "ordered consumer gap"
                );
                false
            }
            None => false,
        }
    }
}

/// One fetch (`fetch`, `fetch_bytes`, `fetch_no_wait`, `next`) of an ordered
/// consumer.
#[derive(Debug)]
pub(crate) struct OrderedFetch {
    oc: OrderedConsumer,
    sequence: Sequence,
    /// Held until the fetch is over.
    guard: Option<FetchGuard>,
}

impl OrderedFetch {
    /// Claims `oc` for a fetch (see [`OrderedConsumer::begin_fetch`]).
    pub(crate) fn begin(oc: &OrderedConsumer) -> Result<OrderedFetch, Error> {
        let guard = oc.begin_fetch()?;
        Ok(OrderedFetch {
            oc: oc.clone(),
            sequence: Sequence::default(),
            guard: Some(guard),
        })
    }

    /// Whether `m` may be delivered: a gap ends the fetch instead.
    pub(crate) fn accept(&mut self, m: &Msg) -> bool {
        self.sequence.advance(&self.oc, m)
    }

    /// The fetch is over (its batch may still be held): the next may start.
    pub(crate) fn finish(&mut self) {
        self.guard = None;
    }
}

/// How an ordered loop receives from each server-side consumer it creates.
#[derive(Debug, Clone)]
pub(crate) enum Receive {
    /// By pulls with these settings.
    Pull(PullConfig),
    /// By push, to a fresh inbox per consumer, with flow control and heartbeats at this
    /// interval.
    Push { heartbeat: Duration },
}

/// The loop reading the current server-side consumer of an ordered loop.
#[allow(clippy::large_enum_variant)] // one per ordered loop, replaced on a reset only
enum Inner {
    Pull(Engine),
    Push(PushEngine),
}

impl Inner {
    async fn next_event(&mut self) -> Option<Event> {
        match self {
            Inner::Pull(e) => e.next_event().await,
            Inner::Push(e) => e.next_event().await,
        }
    }
}

impl OrderedEngine {
    /// The `stop_after` countdown of this loop, shared by the engines it makes.
    pub(crate) fn stop_after(&self) -> Option<Arc<AtomicUsize>> {
        match &self.cfg {
            Receive::Pull(cfg) => cfg.stop_after.clone(),
            Receive::Push { .. } => None,
        }
    }
}

/// The continuous loop of an ordered consumer.
pub(crate) struct OrderedEngine {
    oc: OrderedConsumer,
    cfg: Receive,
    control: Arc<Control>,
    engine: Option<Inner>,
    sequence: Sequence,
    /// Set once a terminal error was returned: the loop is over.
    finished: bool,
    /// Held while the loop exists.
    _guard: LoopGuard,
}

impl std::fmt::Debug for OrderedEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderedEngine")
            .field("sequence", &self.sequence)
            .finish_non_exhaustive()
    }
}

impl OrderedEngine {
    pub(crate) async fn start(
        oc: OrderedConsumer,
        cfg: Receive,
        control: Arc<Control>,
    ) -> Result<OrderedEngine, Error> {
        let guard = oc.begin_loop()?;
        let engine = start_inner(&oc, &cfg, &control).await?;
        Ok(OrderedEngine {
            oc,
            cfg,
            control,
            engine: Some(engine),
            sequence: Sequence::default(),
            finished: false,
            _guard: guard,
        })
    }

    fn reset(&mut self) {
        self.engine = None;
        self.sequence = Sequence::default();
    }

    pub(crate) async fn next_event(&mut self) -> Option<Event> {
        loop {
            if self.finished {
                return None;
            }
            let stopping = self.control.stop.load(std::sync::atomic::Ordering::Acquire);
            if self.engine.is_none() {
                if stopping {
                    return None;
                }
                match start_inner(&self.oc, &self.cfg, &self.control).await {
                    Ok(e) => self.engine = Some(e),
                    Err(e) => {
                        self.finished = true;
                        return Some(Event::Terminal(e));
                    }
                }
            }
            let engine = self.engine.as_mut()?;
            match engine.next_event().await {
                None => return None,
                Some(Event::Msg(m)) => {
                    if self.sequence.advance(&self.oc, &m) {
                        return Some(Event::Msg(m));
                    }
                    // A gap: recreate after the last message delivered.
                    self.reset();
                }
                Some(Event::Reconnected) => self.reset(),
                Some(Event::Gap(e)) => {
                    tracing::debug!(error = %e, "ordered push consumer gap");
                    self.reset();
                }
                Some(Event::Warning(e))
                    if matches!(
                        e.kind(),
                        ErrorKind::HeartbeatMissed | ErrorKind::NoResponders
                    ) =>
                {
                    // While disconnected, wait for the reconnect (which resets):
                    // recreating now would only fail and back off.
                    if self.oc.inner.js.client().connection_state() == nats_core::State::Connected {
                        self.reset();
                    }
                    // The user hears that the server went quiet (as from a
                    // plain consumer); a 503 is recovered from silently.
                    if e.kind() == ErrorKind::HeartbeatMissed {
                        return Some(Event::Warning(e));
                    }
                }
                Some(Event::Warning(e)) => return Some(Event::Warning(e)),
                Some(Event::Terminal(e))
                    if matches!(
                        e.kind(),
                        ErrorKind::ConsumerDeleted | ErrorKind::ConsumerNotFound
                    ) =>
                {
                    self.reset()
                }
                Some(Event::Terminal(e)) => {
                    self.finished = true;
                    return Some(Event::Terminal(e));
                }
            }
        }
    }
}

/// Creates the next server-side consumer of `oc` and starts reading it. A push consumer
/// delivers to a fresh inbox, subscribed to before the consumer exists so that nothing it
/// sends is missed.
async fn start_inner(
    oc: &OrderedConsumer,
    cfg: &Receive,
    control: &Arc<Control>,
) -> Result<Inner, Error> {
    match cfg {
        Receive::Pull(cfg) => {
            let consumer = oc.next_consumer(None).await?;
            let engine = Engine::start(&consumer, cfg.clone(), Some(control.clone())).await?;
            Ok(Inner::Pull(engine))
        }
        Receive::Push { heartbeat } => {
            let client = oc.inner.js.client();
            let inbox = client.new_inbox();
            let sub = client.subscribe(&inbox).await?;
            let consumer = oc.next_consumer(Some((&inbox, *heartbeat))).await?;
            let engine = PushEngine::new(sub, consumer, control.clone(), true, None);
            Ok(Inner::Push(engine))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ApiError, ErrorCode};

    fn api(code: u16, err_code: u16) -> Error {
        Error::from_api(ApiError {
            code,
            err_code: ErrorCode(err_code),
            description: String::new(),
        })
    }

    #[test]
    fn only_errors_another_attempt_may_fix_are_retried() {
        for kind in [ErrorKind::Timeout, ErrorKind::NoResponders, ErrorKind::Io] {
            assert!(is_transient(&Error::new(kind)), "{kind:?}");
        }
        // JetStream temporarily unavailable; too many requests.
        assert!(is_transient(&api(503, 10008)));
        assert!(is_transient(&api(429, 0)));
        // Consumer limit, stream not found, bad config: final.
        assert!(!is_transient(&api(400, 10026)));
        assert!(!is_transient(&api(404, 10059)));
        for kind in [
            ErrorKind::ConnectionClosed,
            ErrorKind::JetStreamNotEnabled,
            ErrorKind::InvalidConfig,
            ErrorKind::StreamNotFound,
        ] {
            assert!(!is_transient(&Error::new(kind)), "{kind:?}");
        }
    }
}
