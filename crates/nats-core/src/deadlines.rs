//! Request timeouts without a timer per request.
//!
//! A request with a timeout stores its deadline in its waiter (see
//! [`Waiter::deadline`](crate::shared::Waiter)). One task per client, the
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

use std::sync::Arc;

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

/// The sweeper: runs until the client is closed.
pub(crate) async fn sweep(shared: Arc<Shared>) {
    loop {
        // Created before reading `sweep_at`; `notify_one` also leaves a
        // permit when nobody waits, so no re-arm is missed either way.
        let rearm = shared.sweeper.notified();
        if shared.current_state() == State::Closed {
            return;
        }
        let at = lock(&shared.requests).sweep_at;
        match at {
            None => rearm.await,
            Some(at) => {
                tokio::select! {
                    () = tokio::time::sleep_until(at) => {}
                    () = rearm => {}
                }
            }
        }
        expire(&shared, Instant::now());
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
        let expired = r
            .waiters
            .take_matching(|w| w.deadline.is_some_and(|d| d <= now));
        r.sweep_at = r.waiters.earliest_deadline();
        expired
    };
    for waiter in expired {
        let _ = waiter.tx.send(Err(Error::new(ErrorKind::Timeout)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
