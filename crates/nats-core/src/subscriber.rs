//! [`Subscriber`]: a stream of the messages of one subscription.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use tokio::sync::mpsc;

use crate::error::Error;
use crate::message::Message;
use crate::shared::lock;
use crate::Client;

/// The messages of a subscription, as a [`futures_core::Stream`].
///
/// Messages wait in a bounded buffer
/// ([`subscription_capacity`](crate::ConnectOptions::subscription_capacity));
/// when it is full, new messages are dropped and a
/// [`SlowConsumer`](crate::Event::SlowConsumer) event is emitted, so a slow
/// subscriber never stalls the connection.
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
    rx: mpsc::Receiver<Message>,
    unsubscribed: bool,
}

impl Subscriber {
    pub(crate) fn new(client: Client, sid: u64, rx: mpsc::Receiver<Message>) -> Self {
        Subscriber {
            client,
            sid,
            rx,
            unsubscribed: false,
        }
    }

    /// The subscription id.
    pub fn sid(&self) -> u64 {
        self.sid
    }

    /// Unsubscribes now; messages already buffered are discarded and the stream ends.
    pub async fn unsubscribe(&mut self) -> Result<(), Error> {
        self.unsubscribe_now();
        self.rx.close();
        while self.rx.try_recv().is_ok() {}
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
        self.rx.poll_recv(cx)
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.unsubscribe_now();
    }
}
