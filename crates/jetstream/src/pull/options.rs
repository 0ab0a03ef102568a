//! The options of `messages()` and `consume()`, validated into a [`PullConfig`].

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use super::engine::{PullConfig, PullKind};
use super::{PriorityOptions, DEFAULT_BYTES_BATCH, DEFAULT_EXPIRES, DEFAULT_MAX_MESSAGES};
use crate::error::{Error, ErrorKind};

/// Options common to `messages()` and `consume()`.
#[derive(Debug, Clone, Default)]
pub(crate) struct PullOptions {
    pub max_messages: Option<usize>,
    pub max_bytes: Option<usize>,
    pub expires: Option<Duration>,
    pub heartbeat: Option<Duration>,
    pub threshold_messages: Option<usize>,
    pub threshold_bytes: Option<usize>,
    pub priority: PriorityOptions,
    pub stop_after: Option<usize>,
}

impl PullOptions {
    /// Validated settings; `ordered` consumers get a shorter default heartbeat
    /// (5 s when the expiry is at least 10 s), so recovery is quick.
    pub(crate) fn config(&self, ordered: bool) -> Result<PullConfig, Error> {
        let bad = |m: &'static str| Err(Error::msg(ErrorKind::InvalidArgument, m));
        if self.stop_after == Some(0) {
            return bad("stop_after must be positive");
        }
        if self.max_messages == Some(0) || self.max_bytes == Some(0) {
            return bad("max_messages and max_bytes must be positive");
        }
        let max_bytes = self.max_bytes.unwrap_or(0);
        let max_messages = match (self.max_messages, max_bytes) {
            (Some(n), _) => n,
            (None, 0) => DEFAULT_MAX_MESSAGES,
            (None, _) => DEFAULT_BYTES_BATCH,
        };
        let expires = self.expires.unwrap_or(DEFAULT_EXPIRES);
        if expires < Duration::from_secs(1) {
            return bad("expiry must be at least 1 s");
        }
        let heartbeat = match self.heartbeat {
            Some(hb) if hb < Duration::from_millis(500) || hb > Duration::from_secs(30) => {
                return bad("heartbeat must be between 500 ms and 30 s")
            }
            Some(hb) if hb * 2 > expires => return bad("heartbeat must be at most half of expiry"),
            Some(hb) => hb,
            None if ordered && expires >= Duration::from_secs(10) => Duration::from_secs(5),
            None => (expires / 2).min(Duration::from_secs(30)),
        };
        let threshold_messages = self.threshold_messages.unwrap_or(max_messages.div_ceil(2));
        if threshold_messages > max_messages {
            return bad("threshold_messages cannot exceed max_messages");
        }
        let threshold_bytes = self.threshold_bytes.unwrap_or(max_bytes.div_ceil(2));
        if max_bytes > 0 && threshold_bytes > max_bytes {
            return bad("threshold_bytes cannot exceed max_bytes");
        }
        self.priority.validate()?;
        Ok(PullConfig {
            max_messages,
            max_bytes,
            expires,
            heartbeat: Some(heartbeat),
            priority: self.priority.clone(),
            kind: PullKind::Continuous {
                threshold_messages,
                threshold_bytes,
            },
            via_ack: None,
            stop_after: self.stop_after.map(|n| Arc::new(AtomicUsize::new(n))),
        })
    }
}

macro_rules! pull_options {
    ($($head:tt)*) => {
        $($head)* {
            /// How many messages to keep requested (default 500). With
            /// [`max_bytes`](Self::max_bytes) as well, both limits hold: at most
            /// this many messages and at most that many bytes are outstanding
            /// (nats.go `PullMaxMessagesWithBytesLimit`).
            pub fn max_messages(mut self, n: usize) -> Self {
                self.options.max_messages = Some(n);
                self
            }

            /// How many bytes to keep requested (as the server counts them:
            /// subject, reply, headers, payload). Alone, the message count is not
            /// limited (beyond a million); with [`max_messages`](Self::max_messages), both are.
            pub fn max_bytes(mut self, n: usize) -> Self {
                self.options.max_bytes = Some(n);
                self
            }

            /// Lifetime of each pull request on the server (default 30 s, at least 1 s).
            pub fn expiry(mut self, expiry: Duration) -> Self {
                self.options.expires = Some(expiry);
                self
            }

            /// Pull again when fewer than this many messages are outstanding (default half).
            pub fn threshold_messages(mut self, n: usize) -> Self {
                self.options.threshold_messages = Some(n);
                self
            }

            /// Pull again when fewer than this many bytes are outstanding (default half).
            pub fn threshold_bytes(mut self, n: usize) -> Self {
                self.options.threshold_bytes = Some(n);
                self
            }

            /// Idle heartbeat interval (default half the expiry, at most 30 s; 500 ms to 30 s).
            pub fn heartbeat(mut self, heartbeat: Duration) -> Self {
                self.options.heartbeat = Some(heartbeat);
                self
            }

            /// Ends the loop after this many messages, and asks the server for no more
            /// than are left to hand out (nats.go `StopAfter`): `messages()` then ends
            /// (`None`), `consume()` closes once the last handler returned. (After a
            /// pull was given up for lost — missed heartbeats, a reconnect — a new pull
            /// may overlap one the server still serves: what arrives beyond `n` is not
            /// handed out, and with explicit acks the server redelivers it after
            /// `ack_wait`.)
            /// Counted across the consumers an ordered consumer recreates. Must be
            /// positive.
            ///
            /// ```no_run
            /// # async fn run(consumer: jetstream::Consumer) -> Result<(), jetstream::Error> {
            /// use futures_util::StreamExt;
            ///
            /// let mut messages = consumer.messages().stop_after(100).await?;
            /// while let Some(msg) = messages.next().await {
            ///     msg?.ack().await?;
            /// }
            /// // Exactly 100 messages were handed out (fewer only on an error).
            /// # Ok(()) }
            /// ```
            pub fn stop_after(mut self, n: usize) -> Self {
                self.options.stop_after = Some(n);
                self
            }

            priority_setters!(options.priority);
        }
    };
}
