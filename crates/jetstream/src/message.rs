//! Messages delivered by consumers, their metadata, and acknowledgements.

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
    pub delivered: u64,
    pub stream_seq: u64,
    pub consumer_seq: u64,
    pub timestamp: i64,
    pub pending: u64,
}

impl<'a> AckTokens<'a> {
    pub(crate) fn parse(reply: &'a str) -> Option<AckTokens<'a>> {
        let rest = reply.strip_prefix("$JS.ACK.")?;
        // One pass over the bytes (this runs for every delivered message).
        let mut t = [""; 12];
        let mut n = 0;
        let mut start = 0;
        for (i, b) in rest.bytes().enumerate() {
            if b == b'.' {
                if let Some(slot) = t.get_mut(n) {
                    *slot = rest.get(start..i)?;
                }
                n += 1;
                start = i + 1;
            }
        }
        if let Some(slot) = t.get_mut(n) {
            *slot = rest.get(start..)?;
        }
        n += 1;
        let num = |s: &str| s.parse::<u64>().ok();
        // 9 tokens in all (7 after `$JS.ACK.`) or 11+ (9+ after it).
        let (domain, base) = match n {
            7 => (None, 0),
            n if n >= 9 => {
                let d = t[0];
                (
                    if d == "_" || d.is_empty() {
                        None
                    } else {
                        Some(d)
                    },
                    2,
                )
            }
            _ => return None,
        };
        Some(AckTokens {
            domain,
            stream: t[base],
            consumer: t[base + 1],
            delivered: num(t[base + 2])?,
            stream_seq: num(t[base + 3])?,
            consumer_seq: num(t[base + 4])?,
            timestamp: t[base + 5].parse::<i64>().ok()?,
            pending: num(t[base + 6])?,
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

    /// When the message was stored.
    pub(crate) fn time(&self) -> Result<Timestamp, Error> {
        Timestamp::from_nanosecond(i128::from(self.timestamp))
            .map_err(|e| Error::with_source(ErrorKind::InvalidResponse, e))
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

    pub(crate) fn tokens(&self) -> Option<AckTokens<'_>> {
        self.inner
            .message
            .reply
            .as_deref()
            .and_then(AckTokens::parse)
    }

    /// Delivery metadata parsed from the reply subject.
    pub fn metadata(&self) -> Result<MsgMetadata, Error> {
        metadata_of(self.reply())
    }

    /// Acknowledges the message.
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
    let timestamp = t.time()?;
    Ok(MsgMetadata {
        sequence: SequencePair {
            stream: t.stream_seq,
            consumer: t.consumer_seq,
        },
        num_delivered: t.delivered,
        num_pending: t.pending,
        timestamp,
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
        assert_eq!((t.delivered, t.stream_seq, t.consumer_seq), (3, 42, 17));
        assert_eq!((t.timestamp, t.pending), (1_700_000_000_123_456_789, 5));
        assert_eq!(t.domain, None);
    }

    #[test]
    fn v2_ack_subject_with_domain_and_extra_tokens() {
        let t = AckTokens::parse("$JS.ACK.hub.ACCHASH.S.C.1.2.3.4.0.rand").unwrap();
        assert_eq!(t.domain, Some("hub"));
        assert_eq!((t.stream, t.consumer, t.stream_seq), ("S", "C", 2));
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
        ] {
            assert!(AckTokens::parse(bad).is_none(), "{bad}");
        }
    }
}
