//! Stopping: drain, idempotence, connection close, dropping handles.

use std::time::Duration;

use futures_util::StreamExt;
use nats_core::ErrorKind as CoreKind;
use nats_service::{Discovery, ErrorKind, Service};

use crate::common::{connect, echo, setup};

async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn stop_drains_requests_already_received_then_ends_the_endpoint() {
    let (server, client) = setup().await;
    let service = Service::builder(&client, "drainer", "1.0.0").await.unwrap();
    let mut ep = service.endpoint("slow").await.unwrap();
    let caller = connect(&server).await;
    let mut calls = Vec::new();
    for i in 0..3 {
        let caller = caller.clone();
        calls.push(tokio::spawn(async move {
            caller.request("slow", format!("{i}")).await
        }));
    }
    // Every request has reached the server (and so is on its way to the
    // service) before the service stops; nobody has read them yet.
    wait_until("the requests to be published", || {
        caller.statistics().out_messages >= 3
    })
    .await;
    caller.flush().await.unwrap();

    service.stop().await.unwrap();
    assert!(service.is_stopped());
    let mut answered = 0;
    while let Some(request) = tokio::time::timeout(Duration::from_secs(5), ep.next())
        .await
        .unwrap()
    {
        let payload = request.payload().clone();
        request.respond(payload).await.unwrap();
        answered += 1;
    }
    assert_eq!(
        answered, 3,
        "the drained requests were still handed out, then the stream ended"
    );
    for call in calls {
        call.await.unwrap().unwrap();
    }
    // Nothing listens any more: endpoints nor discovery.
    let err = caller.request("slow", "late").await.unwrap_err();
    assert_eq!(err.kind(), CoreKind::NoResponders);
    let err = caller
        .request(format!("$SRV.PING.drainer.{}", service.id()), "")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), CoreKind::NoResponders);
    assert!(Discovery::new(&caller).ping().await.unwrap().is_empty());
    // STATS still reported locally; the endpoint stays listed.
    assert_eq!(service.stats().endpoints[0].num_requests, 3);
}

#[tokio::test]
async fn stop_is_idempotent_and_refuses_new_endpoints() {
    let (_server, client) = setup().await;
    let service = Service::builder(&client, "twice", "1.0.0").await.unwrap();
    let _ep = echo(service.endpoint("e").await.unwrap());
    let clone = service.clone();
    let waiter = tokio::spawn({
        let service = service.clone();
        async move { service.stopped().await }
    });
    let (a, b) = tokio::join!(service.stop(), clone.stop());
    a.unwrap();
    b.unwrap();
    service.stop().await.unwrap();
    tokio::time::timeout(Duration::from_secs(1), waiter)
        .await
        .unwrap()
        .unwrap();
    assert!(clone.is_stopped());
    let err = service.endpoint("late").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Stopped);
    let err = service.group("g").endpoint("late").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Stopped);
}

#[tokio::test]
async fn stop_survives_its_future_being_dropped() {
    let (server, client) = setup().await;
    let service = Service::builder(&client, "cancelled", "1.0.0")
        .await
        .unwrap();
    let _ep = echo(service.endpoint("e").await.unwrap());
    {
        let stop = service.stop();
        futures_util::pin_mut!(stop);
        // Poll once, then drop it.
        let _ = futures_util::poll!(stop.as_mut());
    }
    tokio::time::timeout(Duration::from_secs(5), service.stopped())
        .await
        .unwrap();
    let caller = connect(&server).await;
    assert_eq!(
        caller.request("e", "").await.unwrap_err().kind(),
        CoreKind::NoResponders
    );
}

#[tokio::test]
async fn closing_the_connection_stops_the_service() {
    let (_server, client) = setup().await;
    let service = Service::builder(&client, "closing", "1.0.0").await.unwrap();
    let mut ep = service.endpoint("e").await.unwrap();
    client.close().await;
    tokio::time::timeout(Duration::from_secs(5), service.stopped())
        .await
        .unwrap();
    assert!(service.is_stopped());
    assert!(tokio::time::timeout(Duration::from_secs(5), ep.next())
        .await
        .unwrap()
        .is_none());
    service.stop().await.unwrap();
}

#[tokio::test]
async fn dropping_every_handle_unsubscribes_the_service() {
    let (server, client) = setup().await;
    let baseline = client.subscription_count();
    let service = Service::builder(&client, "dropped", "1.0.0").await.unwrap();
    let ep = service.endpoint("e").await.unwrap();
    let group = service.group("g");
    assert_eq!(
        client.subscription_count(),
        baseline + 10,
        "nine discovery subjects and one endpoint"
    );
    drop(service);
    let caller = connect(&server).await;
    assert_eq!(
        Discovery::new(&caller)
            .ping()
            .name("dropped")
            .await
            .unwrap()
            .len(),
        1,
        "alive while handles remain"
    );
    drop(ep);
    drop(group);
    wait_until("the service to unsubscribe", || {
        client.subscription_count() == baseline
    })
    .await;
    assert!(Discovery::new(&caller).ping().await.unwrap().is_empty());
}

#[tokio::test]
async fn stopping_one_endpoint_leaves_the_others() {
    let (server, client) = setup().await;
    let service = Service::builder(&client, "partial", "1.0.0").await.unwrap();
    let mut a = service.endpoint("a").await.unwrap();
    let _b = echo(service.endpoint("b").await.unwrap());
    a.stop().await.unwrap();
    assert!(tokio::time::timeout(Duration::from_secs(5), a.next())
        .await
        .unwrap()
        .is_none());
    let caller = connect(&server).await;
    assert_eq!(
        caller.request("a", "").await.unwrap_err().kind(),
        CoreKind::NoResponders
    );
    caller.request("b", "").await.unwrap();
    assert_eq!(service.info().endpoints.len(), 2);
    assert!(!service.is_stopped());
    service.stop().await.unwrap();
}
