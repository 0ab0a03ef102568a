//! Messages delivered by consumers, their metadata, and acknowledgements.

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use jiff::Timestamp;
use nats_core::{HeaderMap, Message};

use crate::ack::{term_body, AckKind, AckState};
use crate::error::{Error, ErrorKind};
use crate::pull::Fetch;

/// A message delivered by a consumer, with the acknowledgement calls.
///
/// [`split`](Msg::split) parts it into the core message and an [`Acker`](crate::Acker).
///
/// ```no_run
/// # async fn run(consumer: jetstream::Consumer) -> Result<(), jetstream::Error> {
/// let msg = consumer.next().await?;
/// let meta = msg.metadata()?;
/// println!("stream seq {} delivered {} times", meta.sequence.stream, meta.num_delivered);
/// msg.ack().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Msg {
    /// Boxed: a delivered message passes through several layers (engine,
    /// stream, user) by value, and its parts are a few hundred bytes.
    inner: Box<Delivered>,
}

#[derive(Debug)]
struct Delivered {
    message: Message,
    ack: AckState,
    span: tracing::Span,
    /// The numbers of the reply subject, read on first use: the engines,
    /// batches, watchers and KV entries that look at them share one reading.
    numbers: OnceLock<Option<AckNumbers>>,
}

/// Stream and consumer sequence of a delivered message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SequencePair {
    /// The message's sequence in the stream.
    pub stream: u64,
    /// The delivery sequence of the consumer (grows with redeliveries too).
    pub consumer: u64,
}

/// What the `$JS.ACK` reply subject says about a delivered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsgMetadata {
    /// Stream and consumer sequences.
    pub sequence: SequencePair,
    /// How many times the message has been delivered (1 the first time).
    pub num_delivered: u64,
    /// How many messages are still pending for the consumer after this one.
    pub num_pending: u64,
    /// When the message was stored.
    pub timestamp: Timestamp,
    /// The stream name.
    pub stream: String,
    /// The consumer name.
    pub consumer: String,
    /// The JetStream domain, if any.
    pub domain: Option<String>,
}

/// The tokens of a `$JS.ACK` subject, in either form (9 tokens, or 11+ with
/// domain and account hash). Borrowed: no allocation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AckTokens<'a> {
    pub domain: Option<&'a str>,
    pub stream: &'a str,
    pub consumer: &'a str,
    pub numbers: AckNumbers,
}

/// The numbers of a `$JS.ACK` subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AckNumbers {
    pub delivered: u64,
    pub stream_seq: u64,
    pub consumer_seq: u64,
    pub timestamp: i64,
    pub pending: u64,
}

impl AckNumbers {
    pub(crate) fn parse(reply: &str) -> Option<AckNumbers> {
        AckLayout::of(reply)?.numbers()
    }

    /// When the message was stored.
    pub(crate) fn time(&self) -> Result<Timestamp, Error> {
        Timestamp::from_nanosecond(i128::from(self.timestamp))
            .map_err(|e| Error::with_source(ErrorKind::InvalidResponse, e))
    }
}

/// Where the tokens of a `$JS.ACK` subject are. Found for every delivered
/// message: the dots eight bytes at a time, and numbers are read only when
/// asked for, without `str::parse`.
struct AckLayout<'a> {
    /// The subject after `$JS.ACK.`.
    rest: &'a str,
    /// Where each of the first 12 tokens of `rest` ends.
    ends: [usize; 12],
    /// The index of the stream token: 0, or 2 in the form with domain and
    /// account hash.
    base: usize,
}

impl<'a> AckLayout<'a> {
    fn of(reply: &'a str) -> Option<AckLayout<'a>> {
        let rest = reply.strip_prefix("$JS.ACK.")?;
        let mut ends = [0usize; 12];
        let mut n = 0;
        for dot in nats_core::subject::dots(rest) {
            if let Some(end) = ends.get_mut(n) {
                *end = dot;
            }
            n += 1;
        }
        if let Some(end) = ends.get_mut(n) {
            *end = rest.len();
        }
        n += 1;
        // 9 tokens in all (7 after `$JS.ACK.`) or 11+ (9+ after it).
        let base = match n {
            7 => 0,
            n if n >= 9 => 2,
            _ => return None,
        };
        Some(AckLayout { rest, ends, base })
    }

    /// Token `i`: from after the dot ending token `i - 1` to its own end.
    fn token(&self, i: usize) -> Option<&'a str> {
        let start = match i {
            0 => 0,
            _ => self.ends.get(i - 1)? + 1,
        };
        self.rest.get(start..*self.ends.get(i)?)
    }

    /// The number in token `i` (counted from the stream token).
    fn number(&self, i: usize) -> Option<u64> {
        crate::ascii::decimal(self.token(self.base + i)?.as_bytes())
    }

    fn numbers(&self) -> Option<AckNumbers> {
        Some(AckNumbers {
            delivered: self.number(2)?,
            stream_seq: self.number(3)?,
            consumer_seq: self.number(4)?,
            timestamp: i64::try_from(self.number(5)?).ok()?,
            pending: self.number(6)?,
        })
    }
}

impl<'a> AckTokens<'a> {
    pub(crate) fn parse(reply: &'a str) -> Option<AckTokens<'a>> {
        let layout = AckLayout::of(reply)?;
        let domain = match layout.base {
            0 => None,
            _ => Some(layout.token(0)?).filter(|d| *d != "_" && !d.is_empty()),
        };
        Some(AckTokens {
            domain,
            stream: layout.token(layout.base)?,
            consumer: layout.token(layout.base + 1)?,
            numbers: layout.numbers()?,
        })
    }

    /// The tokens of `reply`, or the error saying it is no `$JS.ACK` subject.
    pub(crate) fn of(reply: Option<&'a str>) -> Result<AckTokens<'a>, Error> {
        reply.and_then(AckTokens::parse).ok_or_else(|| {
            Error::msg(
                ErrorKind::InvalidArgument,
                "not a JetStream message (no $JS.ACK reply)",
            )
        })
    }
}

impl Msg {
    /// The `jetstream.receive` span of this delivery (field `subject`; `debug` level). [`consume`](crate::Consumer::consume) runs the handler
    /// inside it; with [`messages`](crate::Consumer::messages) or a fetch, instrument your
    /// processing with it. With the `otel` feature it continues the trace of the publisher
    /// whose `traceparent` header the message carries.
    ///
    /// ```no_run
    /// # async fn run(consumer: jetstream::Consumer) -> Result<(), jetstream::Error> {
    /// use futures_util::StreamExt;
    /// use tracing::Instrument;
    ///
    /// let mut messages = consumer.messages().await?;
    /// while let Some(msg) = messages.next().await {
    ///     let msg = msg?;
    ///     let span = msg.span().clone();
    ///     async move {
    ///         tracing::info!("handling {}", msg.subject());
    ///         msg.ack().await
    ///     }
    ///     .instrument(span)
    ///     .await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn span(&self) -> &tracing::Span {
        &self.inner.span
    }

    /// A delivered message with its acknowledgement state.
    pub(crate) fn from_parts(message: Message, ack: AckState) -> Msg {
        Msg {
            inner: Box::new(Delivered {
                span: crate::observe::receive(&message),
                numbers: OnceLock::new(),
                message,
                ack,
            }),
        }
    }

    pub(crate) fn into_parts(self) -> (Message, AckState) {
        let Delivered { message, ack, .. } = *self.inner;
        (message, ack)
    }

    /// The subject the message was stored under.
    pub fn subject(&self) -> &str {
        &self.inner.message.subject
    }

    /// The payload.
    pub fn data(&self) -> &Bytes {
        &self.inner.message.payload
    }

    /// The headers, if any.
    pub fn headers(&self) -> Option<&HeaderMap> {
        self.inner.message.headers.as_ref()
    }

    /// The `$JS.ACK` reply subject.
    pub fn reply(&self) -> Option<&str> {
        self.inner.message.reply.as_deref()
    }

    /// Decodes the payload as JSON into a `T` (feature `serde`).
    ///
    /// A payload that is not a valid `T` gives an error of kind [`ErrorKind::Decode`] whose
    /// [`decode_error`](Error::decode_error) names the subject and carries serde's message;
    /// the message itself is untouched, so it can still be acknowledged (or terminated, for
    /// a payload that will never decode).
    ///
    /// ```no_run
    /// # async fn run(msg: jetstream::Msg) -> Result<(), jetstream::Error> {
    /// #[derive(serde::Deserialize)]
    /// struct Order { id: u64 }
    ///
    /// match msg.json::<Order>() {
    ///     Ok(order) => {
    ///         println!("order {}", order.id);
    ///         msg.ack().await?;
    ///     }
    ///     Err(err) => msg.term_with_reason(err.to_string()).await?,
    /// }
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "serde")]
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.inner.message.payload).map_err(|e| {
            Error::decode(crate::error::DecodeError::new(
                self.subject(),
                std::any::type_name::<T>(),
                e,
            ))
        })
    }

    /// The underlying core message.
    pub fn message(&self) -> &Message {
        &self.inner.message
    }

    /// Consumes the `Msg`, returning the core message.
    pub fn into_message(self) -> Message {
        self.inner.message
    }

    /// The size the server counts for byte budgets: subject, reply, headers and payload.
    pub fn size(&self) -> usize {
        message_size(&self.inner.message)
    }

    /// The numbers of the `$JS.ACK` reply subject (sequences, delivery count,
    /// pending, timestamp), read once and kept.
    pub(crate) fn numbers(&self) -> Option<AckNumbers> {
        *self
            .inner
            .numbers
            .get_or_init(|| self.reply().and_then(AckNumbers::parse))
    }

    /// Delivery metadata parsed from the reply subject.
    pub fn metadata(&self) -> Result<MsgMetadata, Error> {
        metadata_of(self.reply())
    }

    /// Acknowledges the message.
    ///
    /// The ack is queued without waking the connection: the acks of messages handled
    /// one after the other leave together, with the client's next pull or publish, its
    /// next read from the server, or at the latest about a millisecond later (as
    /// [`Client::publish_batched`](nats_core::Client::publish_batched) sends). To know the
    /// server applied it, use [`double_ack`](Self::double_ack).
    ///
    /// The message counts as acknowledged from the moment this is called: a later `ack`,
    /// `nak` or `term` gets [`ErrorKind::AlreadyAcked`] (after a failed send it may be
    /// tried again). Cancel safety: if the future is dropped before it completes, the ack
    /// may not have been sent; the message still counts as acknowledged here, and the
    /// server redelivers it once its `ack_wait` expires. The same holds for
    /// [`nak`](Self::nak), [`nak_with_delay`](Self::nak_with_delay), [`term`](Self::term),
    /// [`term_with_reason`](Self::term_with_reason) and [`ack_with`](Self::ack_with).
    pub async fn ack(&self) -> Result<(), Error> {
        self.inner.ack.send(self.reply(), AckKind::Ack).await
    }

    /// Sends an acknowledgement of the given [`AckKind`] without waiting for the
    /// server: `msg.ack_with(AckKind::Nak)` is `msg.nak()`.
    ///
    /// ```no_run
    /// # async fn run(msg: jetstream::Msg) -> Result<(), jetstream::Error> {
    /// use jetstream::AckKind;
    ///
    /// let kind = if msg.data().is_empty() { AckKind::Term } else { AckKind::Ack };
    /// msg.ack_with(kind).await?;
    /// # Ok(()) }
    /// ```
    pub async fn ack_with(&self, kind: AckKind) -> Result<(), Error> {
        self.inner.ack.send(self.reply(), kind).await
    }

    /// Acknowledges and waits for the server to confirm it applied the ack, at
    /// most the JetStream context's timeout (default 5 s; then
    /// [`ErrorKind::Timeout`], and the message may be redelivered).
    ///
    /// When the connection the message was delivered on has been lost since (the client
    /// is disconnected now, or has reconnected in between, e.g. after a server crash), it
    /// fails at once with [`ErrorKind::ConnectionClosed`] and sends nothing: no
    /// confirmation could come before the reconnect, and the server redelivers the
    /// message once its ack wait expires. The message counts as not acknowledged, so a
    /// handler working through a backlog is not held for a timeout per message.
    ///
    /// Cancel safety: dropping the future while it waits for the confirmation leaves the
    /// message counted as acknowledged here, whether or not the server applied the ack.
    pub async fn double_ack(&self) -> Result<(), Error> {
        self.inner.ack.confirm(self.reply(), AckKind::Ack).await
    }

    /// Sends an acknowledgement of the given [`AckKind`] and waits for the server
    /// to confirm it applied it: a confirmed nak, term or progress. The rules of
    /// [`double_ack`](Self::double_ack) apply; a failed `Progress` leaves the
    /// message unacknowledged, as any `Progress` does.
    ///
    /// ```no_run
    /// # async fn run(msg: jetstream::Msg) -> Result<(), jetstream::Error> {
    /// use jetstream::AckKind;
    ///
    /// // When this returns, the server will not deliver the message again.
    /// msg.double_ack_with(AckKind::Term).await?;
    /// # Ok(()) }
    /// ```
    pub async fn double_ack_with(&self, kind: AckKind) -> Result<(), Error> {
        self.inner.ack.confirm(self.reply(), kind).await
    }

    /// Asks for redelivery now.
    pub async fn nak(&self) -> Result<(), Error> {
        self.inner.ack.send(self.reply(), AckKind::Nak).await
    }

    /// Asks for redelivery after `delay`.
    pub async fn nak_with_delay(&self, delay: Duration) -> Result<(), Error> {
        self.inner
            .ack
            .send(self.reply(), AckKind::NakWithDelay(delay))
            .await
    }

    /// Says the message is still being worked on: restarts the ack timer. May be
    /// sent any number of times before a final ack.
    pub async fn in_progress(&self) -> Result<(), Error> {
        self.inner.ack.send(self.reply(), AckKind::Progress).await
    }

    /// Stops redelivery of the message for good.
    pub async fn term(&self) -> Result<(), Error> {
        self.inner.ack.send(self.reply(), AckKind::Term).await
    }

    /// Stops redelivery, with a reason carried into the server's advisory (2.10.4+).
    pub async fn term_with_reason(&self, reason: impl AsRef<str>) -> Result<(), Error> {
        self.inner
            .ack
            .send_body(self.reply(), AckKind::Term, term_body(reason.as_ref()))
            .await
    }

    /// Acknowledges the message and pulls up to `batch` next messages with the
    /// same publish (`+NXT`): one round trip less than `ack` then `fetch`.
    /// Returns a [`Fetch`] (set `max_wait`, `heartbeat`, `max_bytes` on it as on
    /// any fetch); awaiting it sends the acknowledgement and pull, and gives the
    /// [`MessageBatch`](crate::MessageBatch) of the next messages.
    ///
    /// Refused at once with [`ErrorKind::AlreadyAcked`] after a final
    /// acknowledgement, and with [`ErrorKind::InvalidArgument`] for a message not
    /// pulled from a consumer, of an ack-none consumer, or a `batch` of 0.
    /// Otherwise the message counts as acknowledged from this call on (as with
    /// [`ack`](Self::ack)); if the fetch is never awaited, or sending fails,
    /// the server redelivers it after `ack_wait`.
    ///
    /// ```no_run
    /// # async fn run(consumer: jetstream::Consumer) -> Result<(), jetstream::Error> {
    /// use futures_util::StreamExt;
    /// use std::time::Duration;
    ///
    /// let mut msg = consumer.next().await?;
    /// loop {
    ///     // ... handle msg ...
    ///     let mut next = msg.ack_next(1)?.max_wait(Duration::from_secs(5)).await?;
    ///     match next.next().await {
    ///         Some(next) => msg = next?,
    ///         None => break, // nothing more within 5 s
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn ack_next(&self, batch: usize) -> Result<Fetch, Error> {
        self.inner.ack.ack_next(self.reply(), batch)
    }
}

/// Delivery metadata parsed from a `$JS.ACK` reply subject.
pub(crate) fn metadata_of(reply: Option<&str>) -> Result<MsgMetadata, Error> {
    let t = AckTokens::of(reply)?;
    let n = t.numbers;
    Ok(MsgMetadata {
        sequence: SequencePair {
            stream: n.stream_seq,
            consumer: n.consumer_seq,
        },
        num_delivered: n.delivered,
        num_pending: n.pending,
        timestamp: n.time()?,
        stream: t.stream.to_string(),
        consumer: t.consumer.to_string(),
        domain: t.domain.map(str::to_string),
    })
}

/// Size as the server counts it for `max_bytes`.
pub(crate) fn message_size(m: &Message) -> usize {
    m.subject.len() + m.reply.as_ref().map_or(0, |r| r.len()) + m.length
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_ack_subject() {
        let t = AckTokens::parse("$JS.ACK.ORDERS.worker.3.42.17.1700000000123456789.5").unwrap();
        assert_eq!((t.stream, t.consumer), ("ORDERS", "worker"));
        let n = t.numbers;
        assert_eq!((n.delivered, n.stream_seq, n.consumer_seq), (3, 42, 17));
        assert_eq!((n.timestamp, n.pending), (1_700_000_000_123_456_789, 5));
        assert_eq!(t.domain, None);
        let reply = "$JS.ACK.ORDERS.worker.3.42.17.1700000000123456789.5";
        assert_eq!(AckNumbers::parse(reply), Some(n));
        let seq = |reply| AckNumbers::parse(reply).map(|n| n.stream_seq);
        assert_eq!(seq("$JS.ACK.hub.H.S.C.1.7.3.4.0.r"), Some(7));
        assert_eq!(seq("$JS.ACK.S.C.1.2.3"), None);
    }

    #[test]
    fn ack_numbers_up_to_their_limits() {
        let t =
            AckTokens::parse("$JS.ACK.S.C.1.18446744073709551615.0.9223372036854775807.0").unwrap();
        let n = t.numbers;
        assert_eq!(n.stream_seq, u64::MAX);
        assert_eq!(n.timestamp, i64::MAX);
        assert_eq!((n.delivered, n.consumer_seq, n.pending), (1, 0, 0));
    }

    #[test]
    fn v2_ack_subject_with_domain_and_extra_tokens() {
        let t = AckTokens::parse("$JS.ACK.hub.ACCHASH.S.C.1.2.3.4.0.rand").unwrap();
        assert_eq!(t.domain, Some("hub"));
        assert_eq!((t.stream, t.consumer, t.numbers.stream_seq), ("S", "C", 2));
        let t = AckTokens::parse("$JS.ACK._.ACCHASH.S.C.1.2.3.4.0").unwrap();
        assert_eq!(t.domain, None);
    }

    #[test]
    fn invalid_ack_subjects() {
        for bad in [
            "foo.bar",
            "$JS.ACK.S.C.1.2.3.4",
            "$JS.ACK.S.C.1.2.3.4.5.6",
            "$JS.ACK.S.C.x.2.3.4.5",
            // Empty, signed, overflowing numbers; a timestamp past i64.
            "$JS.ACK.S.C..2.3.4.5",
            "$JS.ACK.S.C.1.+2.3.4.5",
            "$JS.ACK.S.C.1.2.3.-4.5",
            "$JS.ACK.S.C.1.18446744073709551616.3.4.5",
            "$JS.ACK.S.C.1.1844674407370955161x.3.4.5",
            "$JS.ACK.S.C.1.000000000000000000001.3.4.5",
            "$JS.ACK.S.C.1.2.3.9223372036854775808.5",
        ] {
            assert!(AckTokens::parse(bad).is_none(), "{bad}");
        }
    }
}
