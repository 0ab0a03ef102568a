//! The queue between the connection task and one [`Subscriber`](crate::Subscriber).
//!
//! The connection task pushes the messages of one read without waking the
//! receiver, then wakes it once ([`QueueTx::wake`]). A channel that wakes on
//! every send makes a consumer on another thread play ping-pong with the
//! task: woken by the first message, it handles it and goes back to sleep
//! before the task, slowed by the wake-up syscall, sends the second, and so on
//! — a thread wake-up per message instead of one per read.
//!
//! The receiver takes everything queued in one lock and then serves it from
//! its own buffer. The queue itself is unbounded: the subscription's
//! [`Pending`](crate::pending::Pending) limits decide what is pushed.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;

use crate::message::Message;
use crate::shared::lock;

/// Room for this many messages is kept by an emptied buffer; what a burst
/// grew beyond it is given back.
const KEPT: usize = 1024;

/// A new queue: the connection task's end and the subscriber's end.
pub(crate) fn queue() -> (QueueTx, QueueRx) {
    let queue = Arc::new(Queue {
        state: Mutex::new(State {
            msgs: VecDeque::new(),
            sender_gone: false,
            receiver_closed: false,
        }),
        waker: AtomicWaker::new(),
    });
    (
        QueueTx(queue.clone()),
        QueueRx {
            queue,
            local: VecDeque::new(),
        },
    )
}

struct Queue {
    state: Mutex<State>,
    /// The receiver's waker, registered when it found nothing.
    waker: AtomicWaker,
}

struct State {
    msgs: VecDeque<Message>,
    /// The subscription ended: once the queue is empty, so is the stream.
    sender_gone: bool,
    /// The subscriber closed or dropped its end: pushes fail.
    receiver_closed: bool,
}

/// The connection task's end (one per subscription, in its slot). Dropping
/// it ends the stream after the messages already queued.
pub(crate) struct QueueTx(Arc<Queue>);

impl QueueTx {
    /// Queues `msg` without waking the receiver (see [`QueueTx::wake`]);
    /// `false` (the message dropped) when the receiver has closed its end.
    pub(crate) fn push(&self, msg: Message) -> bool {
        let mut state = lock(&self.0.state);
        if state.receiver_closed {
            return false;
        }
        state.msgs.push_back(msg);
        true
    }

    /// Wakes the receiver if it waits: call once after a batch of pushes.
    pub(crate) fn wake(&self) {
        self.0.waker.wake();
    }
}

impl Drop for QueueTx {
    fn drop(&mut self) {
        lock(&self.0.state).sender_gone = true;
        self.0.waker.wake();
    }
}

impl fmt::Debug for QueueTx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueTx").finish_non_exhaustive()
    }
}

/// The subscriber's end.
pub(crate) struct QueueRx {
    queue: Arc<Queue>,
    /// Messages taken from the queue, served before it is looked at again.
    local: VecDeque<Message>,
}

impl QueueRx {
    /// The next message; `Ready(None)` once the sender is gone and everything
    /// queued was received.
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        if let Some(msg) = self.local.pop_front() {
            return Poll::Ready(Some(msg));
        }
        if let Some(ready) = self.take() {
            return Poll::Ready(ready);
        }
        self.queue.waker.register(cx.waker());
        // A push and its wake may have come between the look and the
        // registration: look again.
        match self.take() {
            Some(ready) => Poll::Ready(ready),
            None => Poll::Pending,
        }
    }

    /// The next message if one is queued, without waiting.
    pub(crate) fn try_recv(&mut self) -> Option<Message> {
        match self.local.pop_front() {
            Some(msg) => Some(msg),
            None => self.take().flatten(),
        }
    }

    /// Closes this end: later pushes fail. Messages already queued can still
    /// be received.
    pub(crate) fn close(&mut self) {
        lock(&self.queue.state).receiver_closed = true;
    }

    /// Takes everything queued into the local buffer and returns the first:
    /// `Some(Some(msg))`; `Some(None)` when the stream has ended; `None` when
    /// nothing is queued yet.
    fn take(&mut self) -> Option<Option<Message>> {
        if self.local.capacity() > KEPT {
            self.local = VecDeque::new();
        }
        let mut state = lock(&self.queue.state);
        if state.msgs.is_empty() {
            return state.sender_gone.then_some(None);
        }
        std::mem::swap(&mut state.msgs, &mut self.local);
        drop(state);
        Some(self.local.pop_front())
    }
}

impl Drop for QueueRx {
    fn drop(&mut self) {
        let mut state = lock(&self.queue.state);
        state.receiver_closed = true;
        state.msgs = VecDeque::new();
    }
}

impl fmt::Debug for QueueRx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueRx")
            .field("buffered", &self.local.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Wake, Waker};

    use bytes::Bytes;
    use nats_wire::Subject;

    use super::*;

    fn msg(n: u8) -> Message {
        Message {
            subject: Subject::from_static("s"),
            reply: None,
            payload: Bytes::from(vec![n]),
            headers: None,
            status: None,
            description: None,
            length: 1,
        }
    }

    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A waker that counts its wakes, and the count.
    fn counting_waker() -> (Waker, Arc<CountingWaker>) {
        let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
        (Waker::from(counter.clone()), counter)
    }

    #[test]
    fn a_batch_wakes_the_receiver_once_and_keeps_its_order() {
        let (tx, mut rx) = queue();
        let (waker, counter) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(rx.poll_recv(&mut cx).is_pending());
        for n in 0..10 {
            assert!(tx.push(msg(n)));
        }
        assert_eq!(counter.0.load(Ordering::SeqCst), 0, "pushes do not wake");
        tx.wake();
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
        for n in 0..10 {
            match rx.poll_recv(&mut cx) {
                Poll::Ready(Some(m)) => assert_eq!(m.payload[0], n),
                other => panic!("message {n}: {other:?}"),
            }
        }
        assert!(rx.poll_recv(&mut cx).is_pending());
        // Pushed after the receiver registered: the wake reaches it.
        assert!(tx.push(msg(10)));
        tx.wake();
        assert_eq!(counter.0.load(Ordering::SeqCst), 2);
        assert!(matches!(rx.poll_recv(&mut cx), Poll::Ready(Some(_))));
    }

    #[test]
    fn the_stream_ends_after_what_was_queued_when_the_sender_goes() {
        let (tx, mut rx) = queue();
        assert!(tx.push(msg(1)));
        assert!(tx.push(msg(2)));
        drop(tx);
        assert_eq!(rx.try_recv().map(|m| m.payload[0]), Some(1));
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        assert!(matches!(rx.poll_recv(&mut cx), Poll::Ready(Some(m)) if m.payload[0] == 2));
        assert!(matches!(rx.poll_recv(&mut cx), Poll::Ready(None)));
    }

    #[test]
    fn dropping_the_sender_wakes_a_waiting_receiver() {
        let (tx, mut rx) = queue();
        let (waker, counter) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(rx.poll_recv(&mut cx).is_pending());
        drop(tx);
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
        assert!(matches!(rx.poll_recv(&mut cx), Poll::Ready(None)));
    }

    #[test]
    fn a_closed_receiver_refuses_pushes_but_keeps_what_it_had() {
        let (tx, mut rx) = queue();
        assert!(tx.push(msg(1)));
        rx.close();
        assert!(!tx.push(msg(2)));
        assert_eq!(rx.try_recv().map(|m| m.payload[0]), Some(1));
        assert!(rx.try_recv().is_none());
        drop(rx);
        assert!(!tx.push(msg(3)));
    }

    #[test]
    fn a_burst_does_not_keep_its_memory() {
        let (tx, mut rx) = queue();
        for n in 0..(3 * KEPT) {
            assert!(tx.push(msg(n as u8)));
        }
        for _ in 0..(3 * KEPT) {
            assert!(rx.try_recv().is_some());
        }
        assert!(tx.push(msg(0)));
        assert!(rx.try_recv().is_some());
        assert!(rx.local.capacity() <= KEPT);
        assert!(lock(&rx.queue.state).msgs.capacity() <= KEPT);
    }
}
