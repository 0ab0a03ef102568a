//! A stream driven by one long-lived future that hands its items over through
//! a slot.
//!
//! `futures_util::stream::unfold` makes a new future for every item and moves
//! it into place: the whole state machine of the loop's `next_event` (which
//! holds every pull, drain, re-creation and back-off it may await: kilobytes)
//! is copied twice per message. Here the loop is one future for the life of
//! the stream, made once; each item costs two uncontended lock operations
//! (one to hand it over, one to take it).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use futures_core::Stream;

type Slot<T> = Arc<Mutex<Option<T>>>;

fn lock<T>(slot: &Mutex<Option<T>>) -> MutexGuard<'_, Option<T>> {
    slot.lock().unwrap_or_else(|p| p.into_inner())
}

/// Hands items from the driving future to [`SlotStream::poll_next`].
pub(crate) struct Sender<T>(Slot<T>);

impl<T> Sender<T> {
    /// Hands `item` over and waits until the stream has taken it.
    ///
    /// Only the stream polls the driving future, and after every poll it takes
    /// what the slot holds before it polls again: the wait is over by the next
    /// poll, so it needs neither a waker nor a second look at the slot.
    pub(crate) async fn send(&self, item: T) {
        *lock(&self.0) = Some(item);
        let mut handed_over = false;
        std::future::poll_fn(|_| {
            if std::mem::replace(&mut handed_over, true) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
    }
}

/// The stream of what a driving future sends; it ends when the future does.
pub(crate) struct SlotStream<T> {
    slot: Slot<T>,
    driver: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

impl<T: Send + 'static> SlotStream<T> {
    /// Runs the future `make` returns (given the sender it hands items to) as
    /// the stream's producer.
    pub(crate) fn new<F, Fut>(make: F) -> SlotStream<T>
    where
        F: FnOnce(Sender<T>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let slot: Slot<T> = Arc::new(Mutex::new(None));
        let driver = make(Sender(slot.clone()));
        SlotStream {
            slot,
            driver: Some(Box::pin(driver)),
        }
    }
}

impl<T> Stream for SlotStream<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = &mut *self;
        // The slot is empty here: every poll of the driver below is followed
        // by taking what it handed over.
        let Some(driver) = this.driver.as_mut() else {
            return Poll::Ready(None);
        };
        let done = driver.as_mut().poll(cx).is_ready();
        if done {
            this.driver = None;
        }
        match lock(&this.slot).take() {
            Some(item) => Poll::Ready(Some(item)),
            None if done => Poll::Ready(None),
            None => Poll::Pending,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use futures_util::StreamExt;

    use super::*;

    #[tokio::test]
    async fn yields_every_item_in_order_then_ends() {
        let stream = SlotStream::new(|tx| async move {
            for i in 0..5u32 {
                // Items made after an await that really waits, and at once.
                if i % 2 == 0 {
                    tokio::task::yield_now().await;
                }
                tx.send(i).await;
            }
        });
        assert_eq!(stream.collect::<Vec<_>>().await, [0, 1, 2, 3, 4]);
    }

    #[tokio::test]
    async fn waits_for_the_producer_and_is_woken_by_it() {
        let (tx_in, mut rx_in) = tokio::sync::mpsc::unbounded_channel::<u32>();
        let mut stream = SlotStream::new(|tx| async move {
            while let Some(v) = rx_in.recv().await {
                tx.send(v * 10).await;
            }
        });
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(v) = stream.next().await {
                got.push(v);
            }
            got
        });
        for v in 1..=3 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            tx_in.send(v).unwrap();
        }
        drop(tx_in);
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), reader)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, [10, 20, 30]);
    }

    #[test]
    fn is_send() {
        fn assert_send<T: Send>() {}
        assert_send::<SlotStream<String>>();
    }
}
