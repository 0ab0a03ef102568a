//! Request timeouts without a timer per request.
//!
//! A request with a timeout stores its deadline in its waiter (see
//! [`Waiter::deadline`](crate::waiters::Waiter)). One task per client, the
//! sweeper, sleeps until the earliest deadline it knows of
//! ([`Requests::sweep_at`](crate::shared::Requests)), then fails every request
//! whose deadline has passed with [`ErrorKind::Timeout`] and sleeps until the
//! next one.
//!
//! Registering a request touches no timer: only a deadline earlier than the
//! one the sweeper sleeps until wakes it (the first request after a quiet
//! spell, or a shorter timeout than those in flight). A timer per request
//! would, on a multi-thread runtime, often have to wake the thread parked in
//! the I/O driver to re-arm its wait: a context switch per request that the
//! request-shaped workloads (sync publish, KV get and put) pay in latency.
//!
//! A sweep walks the requests in flight, at most once per earliest deadline:
//! with equal timeouts, once per timeout while requests keep coming.
//!
//! The sweeper also bounds how long a batched publish
//! ([`Client::publish_batched`](crate::Client::publish_batched)) waits for a
//! later write to take it along: while batched publishes keep coming it ticks
//! every [`BATCH_TICK`] and wakes the connection task for any left queued;
//! the first tick that saw none ends the ticking.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::{Error, ErrorKind};
use crate::events::State;
use crate::shared::{lock, Shared};

/// Notes `deadline` for the sweeper (called under the requests lock by the
/// caller's registration); returns whether the sweeper must be woken to
/// re-arm for it.
pub(crate) fn note(sweep_at: &mut Option<Instant>, deadline: Instant) -> bool {
    if sweep_at.is_some_and(|at| at <= deadline) {
        return false;
    }
    *sweep_at = Some(deadline);
    true
}

/// How long a batched publish waits at most for a later write to take it
/// along before the sweeper wakes the connection task for it (timer
/// resolution adds up to a millisecond).
pub(crate) const BATCH_TICK: Duration = Duration::from_millis(1);

/// The sweeper: runs until the client is closed.
pub(crate) async fn sweep(shared: Arc<Shared>) {
    // When the next batch tick is due, while ticking.
    let mut tick_at: Option<Instant> = None;
    loop {
        // Created before reading `sweep_at`; `notify_one` also leaves a
        // permit when nobody waits, so no re-arm is missed either way.
        let rearm = shared.sweeper.notified();
        if shared.current_state() == State::Closed {
            return;
        }
        if tick_at.is_none() && shared.batch_tick.load(Ordering::Acquire) {
            tick_at = Some(Instant::now() + BATCH_TICK);
        }
        let deadline = lock(&shared.requests).sweep_at;
        let at = match (deadline, tick_at) {
            (Some(d), Some(t)) => Some(d.min(t)),
            (d, t) => d.or(t),
        };
        match at {
            None => rearm.await,
            Some(at) => {
                tokio::select! {
                    () = tokio::time::sleep_until(at) => {}
                    () = rearm => {}
                }
            }
        }
        let now = Instant::now();
        expire(&shared, now);
        if tick_at.is_some_and(|t| t <= now) {
            tick_at = shared.tick_batched().then(|| now + BATCH_TICK);
        }
    }
}

/// Fails the requests whose deadline is `now` or earlier, and sets the next
/// wake-up to the earliest deadline left.
fn expire(shared: &Shared, now: Instant) {
    let expired = {
        let mut r = lock(&shared.requests);
        if r.sweep_at.is_none_or(|at| at > now) {
            return;
        }
        let expired = r.waiters.complete_matching(
            |w| w.deadline.is_some_and(|d| d <= now),
            || Error::new(ErrorKind::Timeout),
        );
        r.sweep_at = r.waiters.earliest_deadline();
        expired
    };
    crate::waiters::finish_all(expired);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_earlier_deadline_rearms() {
        let now = Instant::now();
        let mut at = None;
        assert!(note(&mut at, now + Duration::from_secs(5)));
        assert!(!note(&mut at, now + Duration::from_secs(6)));
        assert!(!note(&mut at, now + Duration::from_secs(5)));
        assert!(note(&mut at, now + Duration::from_secs(1)));
        assert_eq!(at, Some(now + Duration::from_secs(1)));
    }
}
