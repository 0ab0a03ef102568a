//! Bounded concurrency and back-pressure.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use nats_core::PendingLimits;
use nats_service::Service;
use tokio::sync::Semaphore;

use crate::common::{connect, setup};

/// With requests handed to spawned tasks, at most `max_concurrency` are in
/// flight; the stream yields the next one only when one finishes.
#[tokio::test]
async fn in_flight_requests_never_exceed_the_bound() {
    let (server, client) = setup().await;
    let service = Service::builder(&client, "bounded", "1.0.0")
        .max_concurrency(100)
        .await
        .unwrap();
    let mut ep = service.endpoint("work").max_concurrency(4).await.unwrap();
    let caller = connect(&server).await;
    let mut calls = Vec::new();
    for i in 0..10 {
        let caller = caller.clone();
        calls.push(tokio::spawn(async move {
            caller.request("work", format!("{i}")).await
        }));
    }
    let gate = Arc::new(Semaphore::new(0));
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let mut yielded = 0;
    for _ in 0..4 {
        let request = tokio::time::timeout(Duration::from_secs(5), ep.next())
            .await
            .unwrap()
            .unwrap();
        yielded += 1;
        spawn_handler(request, gate.clone(), running.clone(), peak.clone());
    }
    assert_eq!(ep.in_flight(), 4);
    // At the bound: nothing more is handed out, although requests wait.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), ep.next())
            .await
            .is_err(),
        "a fifth request was yielded while four were in flight"
    );
    // Each finished request lets exactly one more through.
    while yielded < 10 {
        gate.add_permits(1);
        let request = tokio::time::timeout(Duration::from_secs(5), ep.next())
            .await
            .unwrap()
            .unwrap();
        yielded += 1;
        assert!(ep.in_flight() <= 4);
        spawn_handler(request, gate.clone(), running.clone(), peak.clone());
    }
    gate.add_permits(10);
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert!(
        peak.load(Ordering::SeqCst) <= 4,
        "peak {}",
        peak.load(Ordering::SeqCst)
    );
    assert_eq!(ep.in_flight(), 0);
    assert_eq!(ep.stats().num_requests, 10);
}

fn spawn_handler(
    request: nats_service::Request,
    gate: Arc<Semaphore>,
    running: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
) {
    tokio::spawn(async move {
        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
        peak.fetch_max(now, Ordering::SeqCst);
        gate.acquire().await.unwrap().forget();
        running.fetch_sub(1, Ordering::SeqCst);
        let payload = request.payload().clone();
        request.respond(payload).await.unwrap();
    });
}

/// Requests beyond the bound wait in the subscription up to its pending
/// limits; beyond those they are dropped (counted), not queued.
#[tokio::test]
async fn overflow_is_bounded_by_the_pending_limits() {
    let (server, client) = setup().await;
    let service = Service::builder(&client, "overflow", "1.0.0")
        .pending_limits(PendingLimits::new(2, 1024 * 1024))
        .await
        .unwrap();
    let mut ep = service.endpoint("in").max_concurrency(1).await.unwrap();
    let caller = connect(&server).await;
    caller.publish("in", "first").await.unwrap();
    let held = tokio::time::timeout(Duration::from_secs(5), ep.next())
        .await
        .unwrap()
        .unwrap();
    for i in 0..10 {
        caller.publish("in", format!("{i}")).await.unwrap();
    }
    caller.flush().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while ep.dropped_requests() < 8 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "dropped {}",
            ep.dropped_requests()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(200), ep.next())
            .await
            .is_err(),
        "one in flight at a bound of one: nothing more yielded"
    );
    drop(held);
    let mut rest = Vec::new();
    while let Ok(Some(request)) = tokio::time::timeout(Duration::from_millis(300), ep.next()).await
    {
        rest.push(String::from_utf8(request.payload().to_vec()).unwrap());
    }
    assert_eq!(rest, ["0", "1"], "two waited within the pending limits");
    assert_eq!(ep.dropped_requests(), 8);
}
