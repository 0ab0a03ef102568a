//! [`Subscriber`]: a stream of the messages of one subscription.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;

use crate::connection::server_error;
use crate::error::Error;
use crate::message::Message;
use crate::pending::{Pending, PendingLimits};
use crate::shared::lock;
use crate::sub_queue::QueueRx;
use crate::Client;

/// The messages of a subscription, as a [`futures_core::Stream`].
///
/// Messages wait in a queue bounded by [`PendingLimits`] (messages and
/// bytes); when a new message would go over them it is dropped, counted
/// ([`Subscriber::dropped_messages`]) and a
/// [`SlowConsumer`](crate::Event::SlowConsumer) event is emitted, so a slow
/// subscriber never stalls the connection. The room a message took is given
/// back as soon as the stream yields it.
///
/// # End of the stream
///
/// The stream ends (`None`) after [`unsubscribe`](Subscriber::unsubscribe),
/// [`unsubscribe_after`](Subscriber::unsubscribe_after) or
/// [`drain`](Subscriber::drain), when the client is closed, and when the
/// server refuses the subscription (`-ERR 'Permissions Violation for
/// Subscription to ...'`): then the stream ends at once and
/// [`Subscriber::error`] says why, with
/// [`ErrorKind::PermissionDenied`](crate::ErrorKind::PermissionDenied). The
/// refusal is also reported as a [`ServerError`](crate::Event::ServerError)
/// event, and the connection stays usable.
///
/// Dropping the subscriber unsubscribes (without spawning anything).
///
/// ```no_run
/// # async fn run(client: nats_core::Client) -> Result<(), nats_core::Error> {
/// use futures_util::StreamExt;
///
/// let mut sub = client.subscribe("orders.>").await?;
/// while let Some(msg) = sub.next().await {
///     println!("{}: {} bytes", msg.subject, msg.payload.len());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Subscriber {
    client: Client,
    sid: u64,
    rx: QueueRx,
    pending: Arc<Pending>,
    unsubscribed: bool,
}

impl Subscriber {
    pub(crate) fn new(client: Client, sid: u64, rx: QueueRx, pending: Arc<Pending>) -> Self {
        Subscriber {
            client,
            sid,
            rx,
            pending,
            unsubscribed: false,
        }
    }

    /// The subscription id.
    pub fn sid(&self) -> u64 {
        self.sid
    }

    /// How many messages wait unread in this subscription's queue.
    pub fn pending_messages(&self) -> usize {
        self.pending.messages()
    }

    /// How many bytes (headers plus payload) wait unread in this
    /// subscription's queue.
    pub fn pending_bytes(&self) -> usize {
        self.pending.bytes()
    }

    /// How many messages were dropped because the queue was at its
    /// [`PendingLimits`] (a slow consumer).
    pub fn dropped_messages(&self) -> u64 {
        self.pending.dropped()
    }

    /// The pending limits this subscription was created with.
    pub fn pending_limits(&self) -> PendingLimits {
        self.pending.limits()
    }

    /// Why the server ended this subscription, if it did: an error of kind
    /// [`ErrorKind::PermissionDenied`](crate::ErrorKind::PermissionDenied)
    /// carrying the server's text. Set before the stream yields its end, so
    /// check it once [`next`](futures_util::StreamExt::next) returns `None`.
    ///
    /// ```no_run
    /// # async fn run(client: nats_core::Client) -> Result<(), nats_core::Error> {
    /// use futures_util::StreamExt;
    ///
    /// let mut sub = client.subscribe("secret.>").await?;
    /// while let Some(msg) = sub.next().await {
    ///     println!("{}", msg.subject);
    /// }
    /// if let Some(refused) = sub.error() {
    ///     return Err(refused);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn error(&self) -> Option<Error> {
        self.pending.refused().map(server_error)
    }

    /// Unsubscribes now; messages already buffered are discarded and the stream ends.
    pub async fn unsubscribe(&mut self) -> Result<(), Error> {
        self.unsubscribe_now();
        self.rx.close();
        while let Some(msg) = self.rx.try_recv() {
            self.pending.release(msg.length);
        }
        Ok(())
    }

    fn unsubscribe_now(&mut self) {
        if !self.unsubscribed {
            self.unsubscribed = true;
            self.client.shared.remove_sub(self.sid);
            self.client.send_unsubscribe(self.sid, None);
        }
    }

    /// Unsubscribes automatically once `max` messages in total have been
    /// delivered on this subscription; the stream then ends.
    pub async fn unsubscribe_after(&mut self, max: u64) -> Result<(), Error> {
        let done = {
            let mut subs = lock(&self.client.shared.subs);
            match subs.get_mut(&self.sid) {
                Some(slot) => {
                    slot.max = Some(max);
                    if slot.delivered >= max {
                        subs.remove(&self.sid);
                        true
                    } else {
                        false
                    }
                }
                None => true,
            }
        };
        if done {
            self.unsubscribed = true;
            self.client.send_unsubscribe(self.sid, None);
        } else {
            self.client.send_unsubscribe(self.sid, Some(max));
        }
        Ok(())
    }

    /// Drains the subscription: unsubscribes, waits until the server has sent
    /// everything it had for it, then lets the stream yield the buffered
    /// messages and end.
    pub async fn drain(&mut self) -> Result<(), Error> {
        if self.unsubscribed {
            return Ok(());
        }
        self.client.send_unsubscribe(self.sid, None);
        let flushed = self.client.flush().await;
        self.unsubscribed = true;
        self.client.shared.remove_sub(self.sid);
        flushed
    }
}

impl Stream for Subscriber {
    type Item = Message;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        let polled = self.rx.poll_recv(cx);
        if let Poll::Ready(Some(msg)) = &polled {
            self.pending.release(msg.length);
        }
        polled
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.unsubscribe_now();
    }
}
