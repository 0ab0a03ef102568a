//! The pull engine behind `fetch`, `fetch_bytes`, `fetch_no_wait`, `next`,
//! `messages` and `consume`.
//!
//! Every fetch and every messages/consume loop has its own inbox subscription;
//! pull requests are core publishes to `CONSUMER.MSG.NEXT.<stream>.<consumer>`
//! with that inbox as reply. Status messages (heartbeats, expiries, conflicts)
//! arrive on the same inbox and are classified by [`classify`].

/// The priority-group setters shared by every pull builder; `$field` is the
/// path to the builder's [`PriorityOptions`].
macro_rules! priority_setters {
    ($($field:ident).+) => {
        /// The priority group to pull from (consumers with priority groups, 2.11+).
        ///
        /// Required, and must be one of the consumer's `priority_groups`, when it
        /// has any; refused when it has none. Checked against the handle's cached
        /// info before anything is sent ([`ErrorKind::InvalidArgument`](crate::ErrorKind)).
        pub fn group(mut self, group: impl Into<String>) -> Self {
            self.$($field).+.group = Some(group.into());
            self
        }

        /// Overflow policy: only serve pulls when the consumer has at least this
        /// many pending messages.
        pub fn min_pending(mut self, n: i64) -> Self {
            self.$($field).+.min_pending = Some(n);
            self
        }

        /// Overflow policy: only serve pulls when at least this many acks are pending.
        pub fn min_ack_pending(mut self, n: i64) -> Self {
            self.$($field).+.min_ack_pending = Some(n);
            self
        }

        /// Prioritized policy: 0 (first) to 9 (server 2.12+).
        pub fn priority(mut self, priority: u8) -> Self {
            self.$($field).+.priority = Some(priority);
            self
        }
    };
}

#[macro_use]
mod options;
mod concurrent;
mod consume;
pub(crate) mod engine;
mod fetch;
mod messages;
mod ordered;
mod ordered_api;
mod slot_stream;

use std::time::Duration;

use nats_core::{Message, StatusCode};
use serde::Serialize;

pub use concurrent::ConsumeConcurrent;
#[cfg(feature = "serde")]
pub use consume::JsonHandler;
pub(crate) use consume::{spawn_consume, ErrorHandler};
pub use consume::{Consume, ConsumeContext};
pub use fetch::{Fetch, MessageBatch, Next};
pub use messages::{Messages, MessagesBuilder, SharedMessages};
pub use ordered::OrderedConsumer;
#[cfg(any(feature = "kv", feature = "object-store"))]
pub(crate) use ordered::{watch_start, DeleteOnDrop};
pub(crate) use ordered::{OrderedEngine, Receive};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::push::engine::PushEngine;
use crate::Consumer;
use engine::{Control, Engine, Event, PullConfig};

/// What a receive call pulls from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    Consumer(Consumer),
    Ordered(OrderedConsumer),
}

/// A receive loop over a consumer or an ordered consumer, pull or push.
#[derive(Debug)]
// One engine per receive loop, made once and kept on the loop's task: its size costs
// nothing, boxing a variant would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum AnyEngine {
    Plain(Engine),
    Ordered(OrderedEngine),
    Push(PushEngine),
}

impl AnyEngine {
    pub(crate) async fn start(
        source: &Source,
        cfg: PullConfig,
        control: Arc<Control>,
    ) -> Result<AnyEngine, Error> {
        Ok(match source {
            Source::Consumer(c) => AnyEngine::Plain(Engine::start(c, cfg, Some(control)).await?),
            Source::Ordered(o) => AnyEngine::Ordered(
                OrderedEngine::start(o.clone(), Receive::Pull(cfg), control).await?,
            ),
        })
    }

    /// The next message or event; `None` once the loop is over, also when its
    /// `stop_after` count of messages has been handed out.
    pub(crate) async fn next_event(&mut self) -> Option<Event> {
        let left = self.stop_after();
        if left
            .as_ref()
            .is_some_and(|left| left.load(Ordering::Acquire) == 0)
        {
            return None;
        }
        let event = match self {
            AnyEngine::Plain(e) => e.next_event().await,
            AnyEngine::Ordered(e) => e.next_event().await,
            AnyEngine::Push(e) => e.next_event().await,
        };
        if let (Some(Event::Msg(_)), Some(left)) = (&event, left) {
            left.fetch_sub(1, Ordering::AcqRel);
        }
        event
    }

    /// The `stop_after` countdown of a pull loop, if it has one.
    fn stop_after(&self) -> Option<Arc<AtomicUsize>> {
        match self {
            AnyEngine::Plain(e) => e.stop_after(),
            AnyEngine::Ordered(e) => e.stop_after(),
            AnyEngine::Push(_) => None,
        }
    }
}

use crate::error::{Error, ErrorKind};
use crate::types::ConsumerInfo;

/// The body of a pull request.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct PullRequest {
    pub batch: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub max_bytes: usize,
    #[serde(skip_serializing_if = "Option::is_none", with = "opt_nanos")]
    pub expires: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none", with = "opt_nanos")]
    pub idle_heartbeat: Option<Duration>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_wait: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_pending: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_ack_pending: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

mod opt_nanos {
    use std::time::Duration;

    use serde::Serializer;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_u64(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
            None => s.serialize_none(),
        }
    }
}

/// Priority group options of pulls (server 2.11+).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PriorityOptions {
    pub group: Option<String>,
    pub min_pending: Option<i64>,
    pub min_ack_pending: Option<i64>,
    pub priority: Option<u8>,
}

impl PriorityOptions {
    /// Refuses a priority outside 0 to 9 before anything is sent.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.priority.is_some_and(|p| p > 9) {
            return Err(Error::msg(
                ErrorKind::InvalidArgument,
                "priority must be 0 to 9",
            ));
        }
        Ok(())
    }

    /// Checks the group against the consumer's priority groups before anything
    /// is sent: a consumer with priority groups needs one of them on every
    /// pull, a consumer without any takes none.
    pub(crate) fn check_group(&self, consumer: &ConsumerInfo) -> Result<(), Error> {
        let groups = &consumer.config.priority_groups;
        let refuse = |detail: String| Err(Error::msg(ErrorKind::InvalidArgument, detail));
        match &self.group {
            None if !groups.is_empty() => refuse(format!(
                "consumer {:?} has priority groups {groups:?}: pulls must name one with group()",
                consumer.name
            )),
            Some(g) if groups.is_empty() => refuse(format!(
                "priority group {g:?} given, but consumer {:?} has no priority groups",
                consumer.name
            )),
            Some(g) if !groups.contains(g) => refuse(format!(
                "priority group {g:?} is not one of consumer {:?}'s groups {groups:?}",
                consumer.name
            )),
            _ => Ok(()),
        }
    }
}

/// What a message on a pull inbox means.
#[derive(Debug)]
pub(crate) enum Status {
    /// A message for the user.
    Message,
    /// Idle heartbeat: only proves liveness.
    Heartbeat,
    /// The request ended (404, 408, 409 size/batch completed/server shutdown);
    /// carries the budget the server gave back, and what a continuous loop
    /// should tell the user (the server is shutting down), if anything.
    RequestEnded {
        messages: usize,
        bytes: usize,
        warning: Option<Error>,
    },
    /// Leadership change or pin mismatch: outstanding pulls are gone.
    /// `pin_lost`: the pin id this client held is no longer valid (423).
    Reset { error: Error, pin_lost: bool },
    /// 503: nobody received the pull request. The consumer is gone, or its
    /// stream is not available right now; only asking the server tells which.
    NoResponders,
    /// Something the user should hear about; not fatal.
    Warning(Error),
    /// The consumer is gone or the request is invalid: stop.
    Terminal(Error),
}

fn pending_header(m: &Message, name: &str) -> usize {
    m.headers
        .as_ref()
        .and_then(|h| h.get(name))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Classifies a message received on a pull inbox.
pub(crate) fn classify(m: &Message) -> Status {
    let Some(status) = m.status else {
        return Status::Message;
    };
    if !m.payload.is_empty() && status != StatusCode::IDLE_HEARTBEAT {
        return Status::Message;
    }
    let desc = m.description.as_deref().unwrap_or("");
    let lower = desc.to_ascii_lowercase();
    let ended = |warning| Status::RequestEnded {
        messages: pending_header(m, "Nats-Pending-Messages"),
        bytes: pending_header(m, "Nats-Pending-Bytes"),
        warning,
    };
    match status.as_u16() {
        100 => Status::Heartbeat,
        404 | 408 => ended(None),
        409 if lower.contains("message size exceeds maxbytes")
            || lower.contains("batch completed") =>
        {
            ended(None)
        }
        409 if lower.contains("server shutdown") => ended(Some(Error::msg(
            ErrorKind::Other,
            "the server is shutting down; pulling again once reconnected",
        ))),
        409 if lower.contains("consumer deleted") => Status::Terminal(Error::msg(
            ErrorKind::ConsumerDeleted,
            "the consumer was deleted",
        )),
        409 if lower.contains("push based") => Status::Terminal(Error::msg(
            ErrorKind::ConsumerIsPushBased,
            "the consumer is push based",
        )),
        409 if lower.contains("leadership change") => Status::Reset {
            error: Error::msg(
                ErrorKind::Other,
                "consumer leadership changed; pulling again",
            ),
            pin_lost: false,
        },
        423 => Status::Reset {
            error: Error::msg(
                ErrorKind::Other,
                format!("pin id mismatch ({desc}); pulling again"),
            ),
            pin_lost: true,
        },
        409 => Status::Warning(Error::msg(ErrorKind::Other, format!("409 {desc}"))),
        400 => Status::Terminal(Error::msg(
            ErrorKind::InvalidArgument,
            format!("pull request refused: 400 {desc}"),
        )),
        503 => Status::NoResponders,
        code => Status::Warning(Error::msg(
            ErrorKind::Other,
            format!("unexpected status {code} {desc}"),
        )),
    }
}

/// Detects missed heartbeats: twice the interval with nothing from the server
/// (no message, status or heartbeat), counted from the last thing that arrived,
/// as nats.go does.
///
/// Activity only sets a flag (no clock read per message); the timer looks at
/// it every half interval while things arrive, so a miss is reported between
/// 2 and 2.5 intervals after the last arrival, never earlier than 2.
pub(crate) struct IdleWatch {
    interval: Duration,
    /// The check (or reset) that last saw activity: no earlier than it.
    last: tokio::time::Instant,
    /// Something arrived since the last check.
    seen: bool,
    sleep: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl std::fmt::Debug for IdleWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdleWatch")
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl IdleWatch {
    pub(crate) fn new(interval: Duration) -> IdleWatch {
        let now = tokio::time::Instant::now();
        IdleWatch {
            interval,
            last: now,
            seen: false,
            sleep: Box::pin(tokio::time::sleep_until(now + interval / 2)),
        }
    }

    /// Something arrived from the server.
    pub(crate) fn activity(&mut self) {
        self.seen = true;
    }

    /// Starts counting afresh (after a reconnect or a re-pull).
    pub(crate) fn reset(&mut self) {
        self.last = tokio::time::Instant::now();
        self.seen = false;
        let next = self.last + self.interval / 2;
        self.sleep.as_mut().reset(next);
    }

    /// Ready once twice the interval passed with nothing arriving; then
    /// counts afresh from now.
    pub(crate) fn poll_missed(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        use std::future::Future;
        loop {
            std::task::ready!(self.sleep.as_mut().poll(cx));
            let now = tokio::time::Instant::now();
            if std::mem::take(&mut self.seen) {
                self.last = now;
            }
            let due = self.last + self.interval * 2;
            if now >= due {
                self.reset();
                return std::task::Poll::Ready(());
            }
            self.sleep.as_mut().reset(due.min(now + self.interval / 2));
        }
    }
}

/// Defaults of the simplified API.
pub(crate) const DEFAULT_EXPIRES: Duration = Duration::from_secs(30);
pub(crate) const DEFAULT_MAX_MESSAGES: usize = 500;
pub(crate) const DEFAULT_BYTES_BATCH: usize = 1_000_000;

#[cfg(test)]
mod tests {
    use nats_core::{HeaderMap, Message, StatusCode};

    use super::*;

    fn status(code: u16, desc: &str, pending: Option<(usize, usize)>) -> Message {
        let mut h = HeaderMap::new();
        h.set_status(
            StatusCode::from_u16(code),
            (!desc.is_empty()).then_some(desc),
        );
        if let Some((m, b)) = pending {
            h.insert("Nats-Pending-Messages", m.to_string());
            h.insert("Nats-Pending-Bytes", b.to_string());
        }
        Message::new("_INBOX.x", "").with_headers(h)
    }

    #[test]
    fn every_status_is_classified_as_the_spec_says() {
        assert!(matches!(
            classify(&Message::new("s", "data")),
            Status::Message
        ));
        assert!(matches!(
            classify(&status(100, "Idle Heartbeat", None)),
            Status::Heartbeat
        ));
        assert!(matches!(
            classify(&status(404, "No Messages", None)),
            Status::RequestEnded {
                messages: 0,
                bytes: 0,
                warning: None,
            }
        ));
        assert!(matches!(
            classify(&status(408, "Request Timeout", Some((7, 700)))),
            Status::RequestEnded {
                messages: 7,
                bytes: 700,
                warning: None,
            }
        ));
        for desc in ["Batch Completed", "Message Size Exceeds MaxBytes"] {
            assert!(
                matches!(
                    classify(&status(409, desc, Some((3, 30)))),
                    Status::RequestEnded {
                        messages: 3,
                        bytes: 30,
                        warning: None,
                    }
                ),
                "{desc}"
            );
        }
        match classify(&status(409, "Consumer Deleted", None)) {
            Status::Terminal(e) => assert_eq!(e.kind(), ErrorKind::ConsumerDeleted),
            other => panic!("{other:?}"),
        }
        match classify(&status(409, "Consumer is push based", None)) {
            Status::Terminal(e) => assert_eq!(e.kind(), ErrorKind::ConsumerIsPushBased),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            classify(&status(409, "Server Shutdown", Some((3, 30)))),
            Status::RequestEnded {
                messages: 3,
                bytes: 30,
                warning: Some(_),
            }
        ));
        assert!(matches!(
            classify(&status(409, "Leadership Change", None)),
            Status::Reset {
                pin_lost: false,
                ..
            }
        ));
        assert!(matches!(
            classify(&status(423, "Nats-Pin-Id mismatch", None)),
            Status::Reset { pin_lost: true, .. }
        ));
        assert!(matches!(
            classify(&status(409, "Exceeded MaxWaiting", None)),
            Status::Warning(_)
        ));
        match classify(&status(400, "Bad Request", None)) {
            Status::Terminal(e) => assert_eq!(e.kind(), ErrorKind::InvalidArgument),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            classify(&status(503, "", None)),
            Status::NoResponders
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn heartbeats_are_missed_two_to_two_and_a_half_intervals_after_the_last_activity() {
        let interval = Duration::from_secs(5);
        let within = |d: Duration| d >= interval * 2 && d <= interval * 5 / 2;
        let start = tokio::time::Instant::now();
        let mut watch = IdleWatch::new(interval);
        // Nothing at all: missed after two intervals.
        std::future::poll_fn(|cx| watch.poll_missed(cx)).await;
        assert_eq!(start.elapsed(), interval * 2);
        // Activity at odd times while the watch is polled (as the engine
        // does): counted from the last of it.
        for wait_ms in [5_100, 1_300, 2_600, 100, 4_900] {
            tokio::select! {
                () = std::future::poll_fn(|cx| watch.poll_missed(cx)) => panic!("missed too early"),
                () = tokio::time::sleep(Duration::from_millis(wait_ms)) => {}
            }
            watch.activity();
        }
        let active = tokio::time::Instant::now();
        std::future::poll_fn(|cx| watch.poll_missed(cx)).await;
        assert!(within(active.elapsed()), "{:?}", active.elapsed());
        // After a report it counts afresh.
        let reported = tokio::time::Instant::now();
        std::future::poll_fn(|cx| watch.poll_missed(cx)).await;
        assert_eq!(reported.elapsed(), interval * 2);
        // Activity unpolled, just before a check is due, then silence.
        tokio::time::sleep(Duration::from_millis(2_499)).await;
        watch.activity();
        let active = tokio::time::Instant::now();
        std::future::poll_fn(|cx| watch.poll_missed(cx)).await;
        assert!(within(active.elapsed()), "{:?}", active.elapsed());
    }

    #[test]
    fn pull_requests_serialize_durations_as_nanos() {
        let req = PullRequest {
            batch: 10,
            expires: Some(Duration::from_secs(30)),
            idle_heartbeat: Some(Duration::from_secs(5)),
            ..Default::default()
        };
        let json = serde_json::to_value(&req).unwrap();
        assert_eq!(json["batch"], 10);
        assert_eq!(json["expires"], 30_000_000_000u64);
        assert_eq!(json["idle_heartbeat"], 5_000_000_000u64);
        assert!(json.get("no_wait").is_none());
        assert!(json.get("max_bytes").is_none());
    }
}
