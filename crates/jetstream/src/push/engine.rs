//! The receive loop of one subscription on a push consumer's deliver subject.
//!
//! It turns what arrives into the same [`Event`]s as the pull engine, so one consume loop
//! (and one ordered consumer) serves both:
//!
//! - messages become [`Msg`]s;
//! - `100 FlowControl Request` is answered (an empty message to its reply subject) when it is
//!   read, that is once every message before it was handed over, as ADR-15 asks;
//! - `100 Idle Heartbeat` proves liveness; when it carries `Nats-Consumer-Stalled` (the
//!   server still waits for a flow-control reply that got lost), that subject is answered;
//! - other statuses are read with the pull engine's [`classify`]: `409 Consumer Deleted` ends
//!   the loop, the rest are warnings;
//! - heartbeats missed for two intervals (the pull engine's [`IdleWatch`]) are reported and,
//!   while connected, a consumer-info request tells whether the consumer still exists: gone
//!   ends the loop with its `ConsumerNotFound` / `StreamNotFound`. Not with a deliver group:
//!   each heartbeat reaches one member of the group only;
//! - the core client resubscribes after a reconnect; the loop only restarts its heartbeat
//!   watch and reports [`Event::Reconnected`].
//!
//! It also compares the `Nats-Last-Consumer` header of heartbeats with the last consumer
//! sequence received: a later one means messages were sent that never arrived (dropped by
//! a slow subscription). An ordered consumer recreates its consumer ([`Event::Gap`]); a
//! plain one warns (not in a deliver group, whose other members got them).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::{FutureExt, StreamExt};
use nats_core::{Message, State, StatusCode, Subscriber};
use tokio::sync::watch;

use super::ConsumingGuard;
use crate::ack::AckState;
use crate::error::{Error, ErrorKind};
use crate::message::Msg;
use crate::pull::engine::{is_gone, Control, Event};
use crate::pull::{classify, IdleWatch, Status};
use crate::types::{AckPolicy, ConsumerInfo};
use crate::Consumer;

/// The loop of one push subscription.
pub(crate) struct PushEngine {
    sub: Subscriber,
    consumer: Arc<Consumer>,
    ack_none: bool,
    heartbeat: Option<IdleWatch>,
    /// What to do when a heartbeat names another consumer sequence than the last received.
    gaps: Gaps,
    /// The consumer sequence of the last message received.
    last_consumer_seq: u64,
    state: watch::Receiver<State>,
    disconnected: bool,
    /// The client's reconnect count when last checked (see the pull engine).
    reconnects: u64,
    control: Arc<Control>,
    stopping: bool,
    /// A consumer-info request in flight after missed heartbeats.
    check: Option<BoxFuture<'static, Result<ConsumerInfo, Error>>>,
    finished: bool,
    /// Held while the loop exists (plain push consumers: one loop per handle).
    _guard: Option<ConsumingGuard>,
}

impl std::fmt::Debug for PushEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushEngine")
            .field("consumer", &self.consumer.name())
            .field("last_consumer_seq", &self.last_consumer_seq)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl PushEngine {
    /// Reads `sub`, a subscription on the deliver subject of `consumer` (whose cached info
    /// gives the heartbeat interval and ack policy).
    pub(crate) fn new(
        sub: Subscriber,
        consumer: Consumer,
        control: Arc<Control>,
        ordered: bool,
        guard: Option<ConsumingGuard>,
    ) -> PushEngine {
        let info = consumer.cached_info();
        // The server sends heartbeats to the deliver subject: in a deliver group each goes
        // to one member only, so a member can not tell silence from its share of them, and
        // the other members' messages are no gap.
        let grouped = info.config.deliver_group.is_some();
        let interval = if grouped {
            Duration::ZERO
        } else {
            info.config.idle_heartbeat
        };
        let gaps = match (ordered, grouped) {
            (true, _) => Gaps::Reset,
            (false, false) => Gaps::Report,
            (false, true) => Gaps::Ignore,
        };
        let client = consumer.js.client();
        PushEngine {
            ack_none: info.config.ack_policy == AckPolicy::None,
            heartbeat: (!interval.is_zero()).then(|| IdleWatch::new(interval)),
            gaps,
            last_consumer_seq: 0,
            state: client.state_changes(),
            disconnected: false,
            reconnects: client.statistics().reconnects,
            control,
            stopping: false,
            check: None,
            finished: false,
            sub,
            consumer: Arc::new(consumer),
            _guard: guard,
        }
    }

    fn terminal(&mut self, e: Error) -> Event {
        self.finished = true;
        Event::Terminal(e)
    }

    /// Handles a message from the subscription; `None`: nothing for the user.
    async fn on_message(&mut self, m: Message) -> Option<Event> {
        if let Some(watch) = &mut self.heartbeat {
            watch.activity();
        }
        match read(&m) {
            Push::Status(Status::Message) => Some(Event::Msg(self.deliver(m))),
            Push::Status(Status::Terminal(e)) => Some(self.terminal(e)),
            Push::Status(Status::Warning(e) | Status::Reset { error: e, .. }) => {
                Some(Event::Warning(e))
            }
            // Pull-only statuses; nothing a push loop acts on.
            Push::Status(_) => None,
            Push::FlowControl(reply) => answer(self.consumer.js.client(), reply).await,
            Push::Heartbeat {
                stalled,
                last_consumer,
            } => {
                if let Some(subject) = stalled {
                    if let Some(event) = answer(self.consumer.js.client(), subject).await {
                        return Some(event);
                    }
                }
                let last = last_consumer?;
                let received = self.last_consumer_seq;
                match self.gaps {
                    Gaps::Reset if last != received => Some(Event::Gap(Error::msg(
                        ErrorKind::Other,
                        format!(
                            "the server sent up to consumer sequence {last}, the last \
                             received is {received}"
                        ),
                    ))),
                    // Only once something arrived: a loop started on a consumer that
                    // delivered before has not seen the earlier sequences.
                    Gaps::Report if received > 0 && last > received => {
                        // Reported once.
                        self.last_consumer_seq = last;
                        Some(Event::Warning(Error::msg(
                            ErrorKind::Other,
                            format!(
                                "{} message(s) the server sent to push consumer {:?} did not \
                                 arrive (consumer sequences {} to {last}; dropped as a slow \
                                 consumer?); unacknowledged ones are sent again after ack_wait",
                                last - received,
                                self.consumer.name(),
                                received + 1
                            ),
                        )))
                    }
                    _ => None,
                }
            }
        }
    }

    fn deliver(&mut self, m: Message) -> Msg {
        let ack = AckState::new(self.consumer.clone(), false, self.ack_none);
        let msg = Msg::from_parts(m, ack);
        // Read once: what the user's side asks of the numbers later is kept.
        if let Some(n) = msg.numbers() {
            self.last_consumer_seq = n.consumer_seq;
        }
        msg
    }

    /// Heartbeats stopped: tell the user, and (while connected) ask whether the consumer
    /// still exists.
    fn on_heartbeat_missed(&mut self) -> Event {
        if self.disconnected {
            return Event::Warning(Error::msg(
                ErrorKind::HeartbeatMissed,
                "no heartbeat: the server is unreachable; receiving again once reconnected",
            ));
        }
        if self.check.is_none() {
            let consumer = self.consumer.clone();
            self.check = Some(Box::pin(async move { consumer.info().await }));
        }
        Event::Warning(Error::msg(
            ErrorKind::HeartbeatMissed,
            "no heartbeat from the push consumer within twice the interval",
        ))
    }

    fn on_checked(&mut self, result: Result<ConsumerInfo, Error>) -> Option<Event> {
        self.check = None;
        match result {
            Err(e) if is_gone(&e) => {
                let text = format!(
                    "the push consumer {:?} no longer exists (heartbeats stopped)",
                    self.consumer.name()
                );
                Some(self.terminal(e.with_message(text)))
            }
            _ => None,
        }
    }

    fn on_state(&mut self, state: State) -> Option<Event> {
        match state {
            State::Connected => {
                let reconnects = self.consumer.js.client().statistics().reconnects;
                if self.disconnected || reconnects != self.reconnects {
                    self.reconnects = reconnects;
                    self.disconnected = false;
                    if let Some(watch) = &mut self.heartbeat {
                        watch.reset();
                    }
                    return Some(Event::Reconnected);
                }
                None
            }
            State::Closed => Some(self.terminal(Error::new(ErrorKind::ConnectionClosed))),
            _ => {
                self.disconnected = true;
                None
            }
        }
    }

    /// The subscription ended without a stop: refused by the server, or the client closed.
    fn on_end(&mut self) -> Option<Event> {
        self.finished = true;
        if self.stopping {
            return None;
        }
        let e = match self.sub.error() {
            Some(refused) => Error::from(refused).with_message(format!(
                "the subscription to the deliver subject of push consumer {:?} was refused",
                self.consumer.name()
            )),
            None => Error::new(ErrorKind::ConnectionClosed),
        };
        Some(Event::Terminal(e))
    }

    /// The next message or event; `None` once the loop is over.
    pub(crate) async fn next_event(&mut self) -> Option<Event> {
        loop {
            if self.finished {
                return None;
            }
            if !self.stopping && self.control.stop.load(Ordering::Acquire) {
                self.stopping = true;
                // Unsubscribe and let what the server already sent arrive.
                let _ = self.sub.drain().await;
            }
            let stopping = self.stopping;
            // A message already waiting is taken as the biased select below
            // would take it first, without setting up the select's branches.
            if let Some(m) = self.sub.next().now_or_never() {
                let event = match m {
                    Some(m) => self.on_message(m).await,
                    None => self.on_end(),
                };
                match event {
                    Some(event) => return Some(event),
                    None => continue,
                }
            }
            let event = tokio::select! {
                biased;
                m = self.sub.next() => match m {
                    Some(m) => self.on_message(m).await,
                    None => self.on_end(),
                },
                result = checked(&mut self.check) => self.on_checked(result),
                () = heartbeat_missed(&mut self.heartbeat), if !stopping => {
                    Some(self.on_heartbeat_missed())
                }
                changed = self.state.changed() => {
                    let state = match changed {
                        Ok(()) => *self.state.borrow_and_update(),
                        Err(_) => State::Closed,
                    };
                    self.on_state(state)
                }
                () = self.control.notify.notified(), if !stopping => None,
            };
            if event.is_some() {
                return event;
            }
        }
    }
}

/// What a heartbeat naming a consumer sequence not received means to the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gaps {
    /// Ordered consumers: recreate ([`Event::Gap`]).
    Reset,
    /// Plain push consumers: warn the user.
    Report,
    /// Deliver groups: the other members got them.
    Ignore,
}

/// What arrived on a deliver subject.
#[derive(Debug)]
enum Push<'a> {
    /// A flow-control request: answer its reply subject.
    FlowControl(&'a str),
    /// An idle heartbeat, with the flow-control subject the server still waits for
    /// (`Nats-Consumer-Stalled`) and the last consumer sequence it sent
    /// (`Nats-Last-Consumer`).
    Heartbeat {
        stalled: Option<&'a str>,
        last_consumer: Option<u64>,
    },
    /// A message or another status, as the pull engine reads it.
    Status(Status),
}

/// Reads a message of a deliver subject: status `100` with an empty payload is flow control
/// (description starting with "Flow", with a reply subject) or a heartbeat; everything else
/// is read as on a pull inbox.
fn read(m: &Message) -> Push<'_> {
    if m.status != Some(StatusCode::IDLE_HEARTBEAT) || !m.payload.is_empty() {
        return Push::Status(classify(m));
    }
    let description = m.description.as_deref().unwrap_or("");
    if description.to_ascii_lowercase().starts_with("flow") {
        if let Some(reply) = m.reply.as_deref() {
            return Push::FlowControl(reply);
        }
    }
    let header = |name: &str| {
        m.headers
            .as_ref()
            .and_then(|h| h.get(name))
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    Push::Heartbeat {
        stalled: header("Nats-Consumer-Stalled"),
        last_consumer: header("Nats-Last-Consumer").and_then(|v| v.parse().ok()),
    }
}

/// Sends an empty message to `subject` (a flow-control reply).
async fn answer(client: &nats_core::Client, subject: &str) -> Option<Event> {
    match client.publish(subject, Bytes::new()).await {
        Ok(()) => None,
        Err(e) => Some(Event::Warning(
            Error::from(e).with_message("answering the server's flow control failed"),
        )),
    }
}

/// The answer of the consumer-info request under way; never without one.
async fn checked(
    check: &mut Option<BoxFuture<'static, Result<ConsumerInfo, Error>>>,
) -> Result<ConsumerInfo, Error> {
    match check {
        Some(request) => request.as_mut().await,
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

#[cfg(test)]
mod tests {
    use nats_core::HeaderMap;

    use super::*;

    fn status(desc: &str, reply: Option<&str>, headers: &[(&str, &str)]) -> Message {
        let mut h = HeaderMap::new();
        h.set_status(Some(StatusCode::IDLE_HEARTBEAT), Some(desc));
        for (name, value) in headers {
            h.insert(*name, *value);
        }
        let mut m = Message::new("deliver.x", "").with_headers(h);
        if let Some(reply) = reply {
            m = m.with_reply(reply);
        }
        m
    }

    #[test]
    fn deliver_subject_messages_are_read_as_adr_15_says() {
        let fc = status("FlowControl Request", Some("$JS.FC.S.x.1"), &[]);
        assert!(matches!(read(&fc), Push::FlowControl("$JS.FC.S.x.1")));
        let hb = status(
            "Idle Heartbeat",
            None,
            &[("Nats-Last-Consumer", "42"), ("Nats-Last-Stream", "99")],
        );
        assert!(matches!(
            read(&hb),
            Push::Heartbeat {
                stalled: None,
                last_consumer: Some(42)
            }
        ));
        let stalled = status(
            "Idle Heartbeat",
            None,
            &[
                ("Nats-Last-Consumer", "0"),
                ("Nats-Consumer-Stalled", "$JS.FC.S.x.2"),
            ],
        );
        assert!(matches!(
            read(&stalled),
            Push::Heartbeat {
                stalled: Some("$JS.FC.S.x.2"),
                last_consumer: Some(0)
            }
        ));
        assert!(matches!(
            read(&Message::new("orders.new", "data")),
            Push::Status(Status::Message)
        ));
        let mut h = HeaderMap::new();
        h.set_status(StatusCode::from_u16(409), Some("Consumer Deleted"));
        let deleted = Message::new("deliver.x", "").with_headers(h);
        match read(&deleted) {
            Push::Status(Status::Terminal(e)) => assert_eq!(e.kind(), ErrorKind::ConsumerDeleted),
            other => panic!("{other:?}"),
        }
    }
}
