//! The window of asynchronous publishes waiting for their ack: at most
//! `max_pending_acks` at once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use crate::error::{Error, ErrorKind};

/// The async publish window of a context, shared by all its clones.
#[derive(Debug)]
pub(crate) struct AckWindow {
    /// One permit per ack that may be in flight.
    semaphore: Arc<Semaphore>,
    size: usize,
    /// How many slots have been freed so far: tells a publisher waiting for a
    /// slot whether acks are still flowing.
    freed: AtomicU64,
    /// Woken when the last slot in use is freed.
    idle: Notify,
    /// Fail at once instead of waiting when the window is full.
    fail_when_full: bool,
}

impl AckWindow {
    pub(crate) fn new(size: usize, fail_when_full: bool) -> Arc<AckWindow> {
        let size = size.max(1);
        Arc::new(AckWindow {
            semaphore: Arc::new(Semaphore::new(size)),
            size,
            freed: AtomicU64::new(0),
            idle: Notify::new(),
            fail_when_full,
        })
    }

    /// How many slots are in use.
    pub(crate) fn pending(&self) -> usize {
        self.size.saturating_sub(self.semaphore.available_permits())
    }

    fn slot_of(self: &Arc<Self>, permit: OwnedSemaphorePermit) -> WindowSlot {
        #[cfg(feature = "metrics")]
        crate::observe::metrics::publish_pending(self.pending());
        WindowSlot {
            permit: Some(permit),
            window: self.clone(),
        }
    }

    /// Takes a slot. While the window is full it fails at once with
    /// `TooManyPendingAcks` when so configured; otherwise it waits for as long
    /// as acks keep arriving, and fails with `Timeout` only when none arrived
    /// for `timeout` (the server stopped answering).
    pub(crate) async fn slot(self: &Arc<Self>, timeout: Duration) -> Result<WindowSlot, Error> {
        if let Ok(permit) = self.semaphore.clone().try_acquire_owned() {
            return Ok(self.slot_of(permit));
        }
        if self.fail_when_full {
            return Err(Error::msg(
                ErrorKind::TooManyPendingAcks,
                format!(
                    "the async publish window is full: {} acks pending",
                    self.size
                ),
            ));
        }
        loop {
            let freed_before = self.freed.load(Ordering::Relaxed);
            match tokio::time::timeout(timeout, self.semaphore.clone().acquire_owned()).await {
                Ok(Ok(permit)) => return Ok(self.slot_of(permit)),
                Ok(Err(_)) => return Err(Error::new(ErrorKind::ConnectionClosed)),
                // Acks are arriving, others got the freed slots first: keep waiting.
                Err(_) if self.freed.load(Ordering::Relaxed) != freed_before => {}
                Err(_) => {
                    return Err(Error::msg(
                        ErrorKind::Timeout,
                        format!(
                        "the async publish window of {} stayed full: no ack arrived in {timeout:?}",
                        self.size
                    ),
                    ))
                }
            }
        }
    }

    /// Returns once no slot is in use.
    pub(crate) async fn until_idle(&self) {
        loop {
            // Registered before the check, so a slot freed in between still wakes us.
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.pending() == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// A slot of the async publish window, held until the ack is done with:
/// freed (and counted as freed) when dropped.
#[derive(Debug)]
pub(crate) struct WindowSlot {
    permit: Option<OwnedSemaphorePermit>,
    window: Arc<AckWindow>,
}

impl Drop for WindowSlot {
    fn drop(&mut self) {
        drop(self.permit.take());
        let window = &self.window;
        window.freed.fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        crate::observe::metrics::publish_pending(window.pending());
        if window.pending() == 0 {
            window.idle.notify_waiters();
        }
    }
}
