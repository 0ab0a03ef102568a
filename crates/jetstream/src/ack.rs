//! Acknowledgements: the kinds ([`AckKind`]), the state a [`Msg`] and its
//! [`Acker`] share, and acknowledging with a pull for the next messages
//! ([`Acker::ack_next`], [`Msg::ack_next`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use nats_core::{Client, Message, Subject};
use tracing::Instrument;

use crate::error::{Error, ErrorKind};
use crate::message::{metadata_of, MsgMetadata};
use crate::pull::{Fetch, Source};
use crate::{Consumer, Msg};

/// How to acknowledge a message: the argument of [`Msg::ack_with`] and
/// [`Msg::double_ack_with`] (and the same on [`Acker`]).
///
/// Every kind but [`Progress`](AckKind::Progress) is final: the message counts
/// as acknowledged afterwards, and a second final acknowledgement is refused
/// with [`ErrorKind::AlreadyAcked`]. To acknowledge and pull the next messages
/// in one publish (`+NXT`), see [`Msg::ack_next`]: it returns those messages,
/// which an `ack_with` call could not.
///
/// ```no_run
/// # async fn run(msg: jetstream::Msg) -> Result<(), jetstream::Error> {
/// use jetstream::AckKind;
/// use std::time::Duration;
///
/// // Redeliver in 10 s, and wait until the server has applied it.
/// msg.double_ack_with(AckKind::NakWithDelay(Duration::from_secs(10))).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AckKind {
    /// `+ACK`: processed.
    Ack,
    /// `-NAK`: redeliver now.
    Nak,
    /// `-NAK {"delay": ..}`: redeliver after the delay.
    NakWithDelay(Duration),
    /// `+WPI`: still being worked on; restarts the ack timer. Not final: may
    /// be sent any number of times before a final acknowledgement.
    Progress,
    /// `+TERM`: never redeliver. With a reason: [`Msg::term_with_reason`].
    Term,
}

impl AckKind {
    fn body(self) -> Bytes {
        match self {
            AckKind::Ack => Bytes::from_static(b"+ACK"),
            AckKind::Nak => Bytes::from_static(b"-NAK"),
            AckKind::NakWithDelay(delay) => {
                Bytes::from(format!("-NAK {{\"delay\": {}}}", delay.as_nanos()))
            }
            AckKind::Progress => Bytes::from_static(b"+WPI"),
            AckKind::Term => Bytes::from_static(b"+TERM"),
        }
    }

    /// Whether the message counts as acknowledged afterwards.
    /// The name of the kind, for spans.
    fn name(self) -> &'static str {
        match self {
            AckKind::Ack => "ack",
            AckKind::Nak => "nak",
            AckKind::NakWithDelay(_) => "nak_with_delay",
            AckKind::Progress => "progress",
            AckKind::Term => "term",
        }
    }

    fn is_final(self) -> bool {
        !matches!(self, AckKind::Progress)
    }
}

/// The acknowledgement state of one delivered message, shared by the
/// methods of [`Msg`] and [`Acker`] (which take the reply subject).
#[derive(Debug)]
pub(crate) struct AckState {
    /// The consumer that delivered the message: its client sends the
    /// acknowledgements, its context's timeout bounds a confirmed one.
    consumer: Arc<Consumer>,
    /// Delivered by a pull, so [`ack_next`](Self::ack_next) may pull from
    /// `consumer` again (not by a push consumer).
    pulled: bool,
    acked: AtomicBool,
    ack_none: bool,
    /// The client's connection count when the message arrived: a different count later
    /// means the connection it came on was lost.
    connection: u64,
    /// When the message was delivered, and where the time to its final
    /// acknowledgement is recorded (feature `metrics`).
    #[cfg(feature = "metrics")]
    latency: Option<(std::time::Instant, metrics::Histogram)>,
}

impl AckState {
    /// The state of a message `consumer` delivered (by a pull when `pulled`).
    pub(crate) fn new(consumer: Arc<Consumer>, pulled: bool, ack_none: bool) -> AckState {
        let connection = consumer.js.client().connects();
        AckState {
            consumer,
            pulled,
            acked: AtomicBool::new(false),
            ack_none,
            connection,
            #[cfg(feature = "metrics")]
            latency: None,
        }
    }

    fn client(&self) -> &Client {
        self.consumer.js.client()
    }

    /// Records the time to the final acknowledgement in `histogram`.
    #[cfg(feature = "metrics")]
    pub(crate) fn set_latency(&mut self, histogram: metrics::Histogram) {
        self.latency = Some((std::time::Instant::now(), histogram));
    }

    /// A final acknowledgement went out: its latency, when measured.
    fn acked(&self, kind: AckKind) {
        #[cfg(feature = "metrics")]
        if kind.is_final() {
            if let Some((since, histogram)) = &self.latency {
                histogram.record(since.elapsed().as_secs_f64());
            }
        }
        #[cfg(not(feature = "metrics"))]
        let _ = kind;
    }

    fn subject<'a>(&self, reply: Option<&'a str>) -> Result<&'a str, Error> {
        if self.ack_none {
            return Err(Error::msg(
                ErrorKind::InvalidArgument,
                "the consumer's ack policy is none: its messages cannot be acknowledged",
            ));
        }
        reply
            .filter(|r| r.starts_with("$JS.ACK."))
            .ok_or_else(|| Error::msg(ErrorKind::InvalidArgument, "message has no ack subject"))
    }

    /// Marks the message acknowledged for a final kind (refusing a second),
    /// or checks it is not yet for `Progress`.
    fn claim(&self, kind: AckKind) -> Result<(), Error> {
        let already = if kind.is_final() {
            self.acked.swap(true, Ordering::AcqRel)
        } else {
            self.acked.load(Ordering::Acquire)
        };
        if already {
            return Err(Error::new(ErrorKind::AlreadyAcked));
        }
        Ok(())
    }

    /// Undoes [`claim`](Self::claim) after a failed send.
    fn unclaim(&self, kind: AckKind) {
        if kind.is_final() {
            self.acked.store(false, Ordering::Release);
        }
    }

    pub(crate) async fn send(&self, reply: Option<&str>, kind: AckKind) -> Result<(), Error> {
        self.send_body(reply, kind, kind.body()).await
    }

    pub(crate) async fn send_body(
        &self,
        reply: Option<&str>,
        kind: AckKind,
        body: Bytes,
    ) -> Result<(), Error> {
        let subject = self.subject(reply)?;
        let span = crate::observe::ack(kind.name(), subject, false);
        self.claim(kind)?;
        // A final acknowledgement is batched (`Client::publish_batched`): the acks of
        // a burst of messages leave in one write, with the next pull or publish, the
        // next read of the connection, or at the latest a millisecond later. The
        // server learns of it that much later; nothing waits on it.
        let sent = if kind.is_final() {
            self.client()
                .publish_batched(subject, body)
                .instrument(span)
                .await
        } else {
            self.client().publish(subject, body).instrument(span).await
        };
        if let Err(e) = sent {
            self.unclaim(kind);
            return Err(e.into());
        }
        self.acked(kind);
        Ok(())
    }

    pub(crate) async fn confirm(&self, reply: Option<&str>, kind: AckKind) -> Result<(), Error> {
        let subject = self.subject(reply)?;
        self.claim(kind)?;
        if self.delivery_connection_lost() {
            self.unclaim(kind);
            return Err(Error::msg(
                ErrorKind::ConnectionClosed,
                "the connection this message was delivered on was lost: the acknowledgement \
                 can not be confirmed, and the server redelivers the message",
            ));
        }
        match self
            .client()
            .request_with_timeout(subject, None, kind.body(), self.consumer.js.timeout())
            .instrument(crate::observe::ack(kind.name(), subject, true))
            .await
        {
            Ok(_) => {
                self.acked(kind);
                Ok(())
            }
            Err(e) => {
                self.unclaim(kind);
                Err(e.into())
            }
        }
    }

    /// Whether the connection the message arrived on is gone: the client is not connected,
    /// or it reconnected since.
    fn delivery_connection_lost(&self) -> bool {
        self.client().connection_state() != nats_core::State::Connected
            || self.client().connects() != self.connection
    }

    pub(crate) fn ack_next(&self, reply: Option<&str>, batch: usize) -> Result<Fetch, Error> {
        if !self.pulled {
            return Err(Error::msg(
                ErrorKind::InvalidArgument,
                "ack_next needs a message pulled from a consumer",
            ));
        }
        if batch == 0 {
            return Err(Error::msg(
                ErrorKind::InvalidArgument,
                "ack_next of zero messages",
            ));
        }
        let subject = self.subject(reply)?.to_string();
        self.claim(AckKind::Ack)?;
        let consumer = (*self.consumer).clone();
        Ok(Fetch::new(Source::Consumer(consumer), batch, 0, false).via_ack(subject))
    }
}

/// The acknowledgement half of a [`Msg`], from [`Msg::split`]: it can be
/// moved to another task, or kept while the [`Message`] is handed on.
///
/// It has the acknowledgement calls of [`Msg`], with the same rules: one final
/// acknowledgement per message; a second one gets [`ErrorKind::AlreadyAcked`].
///
/// ```no_run
/// # async fn run(consumer: jetstream::Consumer) -> Result<(), jetstream::Error> {
/// let (message, acker) = consumer.next().await?.split();
/// let handled = tokio::spawn(async move { message.payload.len() });
/// let _ = handled.await;
/// acker.ack().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Acker {
    reply: Option<Subject>,
    state: AckState,
}

impl Msg {
    /// Splits the message into the core [`Message`] (subject, headers,
    /// payload) and the [`Acker`] that acknowledges it.
    ///
    /// ```no_run
    /// # async fn run(msg: jetstream::Msg) -> Result<(), jetstream::Error> {
    /// let (message, acker) = msg.split();
    /// println!("{} bytes on {}", message.payload.len(), message.subject);
    /// acker.ack().await?;
    /// # Ok(()) }
    /// ```
    pub fn split(self) -> (Message, Acker) {
        let (message, state) = self.into_parts();
        let reply = message.reply.clone();
        (message, Acker { reply, state })
    }
}

impl Acker {
    fn reply_str(&self) -> Option<&str> {
        self.reply.as_deref()
    }

    /// The `$JS.ACK` reply subject of the message.
    pub fn reply(&self) -> Option<&str> {
        self.reply_str()
    }

    /// Delivery metadata parsed from the reply subject, as [`Msg::metadata`].
    pub fn metadata(&self) -> Result<MsgMetadata, Error> {
        metadata_of(self.reply_str())
    }

    /// Acknowledges the message, as [`Msg::ack`].
    pub async fn ack(&self) -> Result<(), Error> {
        self.state.send(self.reply_str(), AckKind::Ack).await
    }

    /// Sends an acknowledgement of the given kind, as [`Msg::ack_with`].
    pub async fn ack_with(&self, kind: AckKind) -> Result<(), Error> {
        self.state.send(self.reply_str(), kind).await
    }

    /// Acknowledges and waits for the server's confirmation, as [`Msg::double_ack`].
    pub async fn double_ack(&self) -> Result<(), Error> {
        self.state.confirm(self.reply_str(), AckKind::Ack).await
    }

    /// Sends an acknowledgement of the given kind and waits for the server's
    /// confirmation, as [`Msg::double_ack_with`].
    pub async fn double_ack_with(&self, kind: AckKind) -> Result<(), Error> {
        self.state.confirm(self.reply_str(), kind).await
    }

    /// Asks for redelivery now, as [`Msg::nak`].
    pub async fn nak(&self) -> Result<(), Error> {
        self.state.send(self.reply_str(), AckKind::Nak).await
    }

    /// Asks for redelivery after `delay`, as [`Msg::nak_with_delay`].
    pub async fn nak_with_delay(&self, delay: Duration) -> Result<(), Error> {
        self.state
            .send(self.reply_str(), AckKind::NakWithDelay(delay))
            .await
    }

    /// Restarts the ack timer, as [`Msg::in_progress`].
    pub async fn in_progress(&self) -> Result<(), Error> {
        self.state.send(self.reply_str(), AckKind::Progress).await
    }

    /// Stops redelivery for good, as [`Msg::term`].
    pub async fn term(&self) -> Result<(), Error> {
        self.state.send(self.reply_str(), AckKind::Term).await
    }

    /// Stops redelivery with a reason, as [`Msg::term_with_reason`].
    pub async fn term_with_reason(&self, reason: impl AsRef<str>) -> Result<(), Error> {
        self.state
            .send_body(self.reply_str(), AckKind::Term, term_body(reason.as_ref()))
            .await
    }

    /// Acknowledges and pulls up to `batch` next messages in one publish, as
    /// [`Msg::ack_next`].
    pub fn ack_next(&self, batch: usize) -> Result<Fetch, Error> {
        self.state.ack_next(self.reply_str(), batch)
    }
}

/// `+TERM <reason>`.
pub(crate) fn term_body(reason: &str) -> Bytes {
    Bytes::from(format!("+TERM {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_bodies_are_the_protocol_tokens() {
        assert_eq!(AckKind::Ack.body(), "+ACK");
        assert_eq!(AckKind::Nak.body(), "-NAK");
        assert_eq!(
            AckKind::NakWithDelay(Duration::from_secs(2)).body(),
            "-NAK {\"delay\": 2000000000}"
        );
        assert_eq!(AckKind::Progress.body(), "+WPI");
        assert_eq!(AckKind::Term.body(), "+TERM");
        assert_eq!(term_body("bad"), "+TERM bad");
        assert!(!AckKind::Progress.is_final());
        assert!(AckKind::Term.is_final());
    }
}
