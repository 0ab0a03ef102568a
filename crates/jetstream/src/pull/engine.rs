//! The continuous pull loop shared by `messages()` and `consume()`.
//!
//! It keeps pull requests outstanding: a budget of `max_messages` (or
//! `max_bytes`) is requested, tracked as messages and status messages arrive
//! (`Nats-Pending-Messages` / `Nats-Pending-Bytes` give back what an ended
//! request did not use), and refilled once it falls below the threshold. Missed
//! heartbeats and reconnects reset the budget so a fresh pull goes out.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use nats_core::{State, Subscriber};
use tokio::sync::{watch, Notify};

use super::{classify, IdleWatch, PriorityOptions, PullRequest, Status};
use crate::error::{Error, ErrorKind};
use crate::message::{message_size, Msg};
use crate::types::AckPolicy;
use crate::Consumer;

/// Validated settings of a pull loop.
#[derive(Debug, Clone)]
pub(crate) struct PullConfig {
    pub max_messages: usize,
    pub max_bytes: usize,
    pub expires: Duration,
    pub heartbeat: Duration,
    pub threshold_messages: usize,
    pub threshold_bytes: usize,
    pub priority: PriorityOptions,
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

/// What the loop produced.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // messages are the common case: no extra box for them
pub(crate) enum Event {
    Msg(Msg),
    /// Not fatal (missed heartbeats, warnings from the server).
    Warning(Error),
    /// The loop is over (consumer deleted, connection closed, bad request).
    Terminal(Error),
    /// The connection came back; a fresh pull is going out.
    Reconnected,
}

pub(crate) struct Engine {
    sub: Subscriber,
    inbox: String,
    next_subject: String,
    cfg: PullConfig,
    ack_none: bool,
    pending_msgs: usize,
    pending_bytes: usize,
    heartbeat: IdleWatch,
    state: watch::Receiver<State>,
    disconnected: bool,
    /// The client's reconnect count when last checked: the state watch keeps
    /// only the latest value, so `Disconnected` then `Connected` while the loop
    /// was not polled (a busy handler, an unread `Messages`) shows up as
    /// `Connected` alone; the count still tells that a reconnect happened.
    reconnects: u64,
    control: Arc<Control>,
    /// The handle pulled from: its pin id (pinned-client groups) is shared
    /// with fetches and other loops on clones of it.
    consumer: Consumer,
    stopping: bool,
    finished: bool,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("inbox", &self.inbox)
            .field("pending_msgs", &self.pending_msgs)
            .field("pending_bytes", &self.pending_bytes)
            .finish_non_exhaustive()
    }
}

impl Engine {
    pub(crate) async fn start(
        consumer: &Consumer,
        cfg: PullConfig,
        control: Arc<Control>,
    ) -> Result<Engine, Error> {
        let info = consumer.cached_info();
        cfg.priority.check_group(&info)?;
        let client = consumer.js.client();
        let inbox = client.new_inbox();
        let sub = client.subscribe(&inbox).await?;
        let ack_none = info.config.ack_policy == AckPolicy::None;
        let heartbeat = IdleWatch::new(cfg.heartbeat);
        let mut engine = Engine {
            heartbeat,
            state: client.state_changes(),
            reconnects: client.statistics().reconnects,
            sub,
            inbox,
            next_subject: consumer.next_subject(),
            cfg,
            ack_none,
            pending_msgs: 0,
            pending_bytes: 0,
            disconnected: false,
            control,
            consumer: consumer.clone(),
            stopping: false,
            finished: false,
        };
        // The first pull goes out at once, as the handle is created.
        engine.pull().await?;
        Ok(engine)
    }

    fn reset_heartbeat(&mut self) {
        self.heartbeat.reset();
    }

    fn needs_pull(&self) -> bool {
        self.pending_msgs < self.cfg.threshold_messages
            || (self.cfg.max_bytes > 0 && self.pending_bytes < self.cfg.threshold_bytes)
    }

    async fn pull(&mut self) -> Result<(), Error> {
        let (batch, max_bytes) = if self.cfg.max_bytes > 0 {
            (
                self.cfg.max_messages,
                self.cfg.max_bytes.saturating_sub(self.pending_bytes),
            )
        } else {
            // Top the budget up to `max_messages` (never more outstanding).
            (
                self.cfg
                    .max_messages
                    .saturating_sub(self.pending_msgs)
                    .max(1),
                0,
            )
        };
        let request = PullRequest {
            batch,
            max_bytes,
            expires: Some(self.cfg.expires),
            idle_heartbeat: Some(self.cfg.heartbeat),
            group: self.cfg.priority.group.clone(),
            min_pending: self.cfg.priority.min_pending,
            min_ack_pending: self.cfg.priority.min_ack_pending,
            priority: self.cfg.priority.priority,
            id: self.consumer.pin_id(),
            ..Default::default()
        };
        let body = serde_json::to_vec(&request)
            .map_err(|e| Error::with_source(ErrorKind::InvalidArgument, e))?;
        self.consumer
            .js
            .client()
            .publish_with_reply(&self.next_subject, &self.inbox, Bytes::from(body))
            .await?;
        self.pending_msgs = self.cfg.max_messages;
        if self.cfg.max_bytes > 0 {
            self.pending_bytes = self.cfg.max_bytes;
        }
        Ok(())
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
            if !self.stopping && !self.disconnected && self.needs_pull() {
                if let Err(e) = self.pull().await {
                    if e.kind() == ErrorKind::ConnectionClosed {
                        self.finished = true;
                        return Some(Event::Terminal(e));
                    }
                    return Some(Event::Warning(e));
                }
            }
            // Heartbeats are watched while disconnected too: the user hears
            // that the server went quiet; pulls resume once reconnected.
            let watching = !self.stopping;
            tokio::select! {
                biased;
                m = self.sub.next() => {
                    let Some(m) = m else {
                        self.finished = true;
                        if self.stopping {
                            return None;
                        }
                        return Some(Event::Terminal(Error::new(ErrorKind::ConnectionClosed)));
                    };
                    self.heartbeat.activity();
                    match classify(&m) {
                        Status::Message => {
                            self.pending_msgs = self.pending_msgs.saturating_sub(1);
                            if self.cfg.max_bytes > 0 {
                                self.pending_bytes =
                                    self.pending_bytes.saturating_sub(message_size(&m));
                            }
                            if let Some(pin) = m.headers.as_ref().and_then(|h| h.get("Nats-Pin-Id")) {
                                self.consumer.set_pin_id(Some(pin));
                            }
                            let msg = Msg::new(
                                m,
                                self.consumer.js.client().clone(),
                                self.ack_none,
                                self.consumer.js.timeout(),
                            );
                            return Some(Event::Msg(msg));
                        }
                        Status::Heartbeat => {}
                        Status::RequestEnded { messages, bytes, warning } => {
                            self.pending_msgs = self.pending_msgs.saturating_sub(messages);
                            self.pending_bytes = self.pending_bytes.saturating_sub(bytes);
                            if let Some(warning) = warning {
                                return Some(Event::Warning(warning));
                            }
                        }
                        Status::Reset { error, pin_lost } => {
                            self.pending_msgs = 0;
                            self.pending_bytes = 0;
                            if pin_lost {
                                self.consumer.set_pin_id(None);
                            }
                            return Some(Event::Warning(error));
                        }
                        Status::Warning(e) => return Some(Event::Warning(e)),
                        Status::Terminal(e) => {
                            self.finished = true;
                            return Some(Event::Terminal(e));
                        }
                    }
                }
                _ = std::future::poll_fn(|cx| self.heartbeat.poll_missed(cx)), if watching => {
                    if self.disconnected {
                        return Some(Event::Warning(Error::msg(
                            ErrorKind::HeartbeatMissed,
                            "no heartbeat: the server is unreachable; pulling again once reconnected",
                        )));
                    }
                    self.pending_msgs = 0;
                    self.pending_bytes = 0;
                    self.reset_heartbeat();
                    return Some(Event::Warning(Error::msg(
                        ErrorKind::HeartbeatMissed,
                        "no heartbeat within twice the interval; pulling again",
                    )));
                }
                changed = self.state.changed() => {
                    let state = if changed.is_ok() { *self.state.borrow_and_update() } else { State::Closed };
                    match state {
                        State::Connected => {
                            let reconnects = self.consumer.js.client().statistics().reconnects;
                            if self.disconnected || reconnects != self.reconnects {
                                self.reconnects = reconnects;
                                self.disconnected = false;
                                self.pending_msgs = 0;
                                self.pending_bytes = 0;
                                self.reset_heartbeat();
                                return Some(Event::Reconnected);
                            }
                        }
                        State::Closed => {
                            self.finished = true;
                            return Some(Event::Terminal(Error::new(ErrorKind::ConnectionClosed)));
                        }
                        _ => self.disconnected = true,
                    }
                }
                _ = self.control.notify.notified() => {}
            }
        }
    }
}
