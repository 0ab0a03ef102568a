//! The client-side discovery helper.

use std::time::{Duration, Instant};

use nats_service::{Discovery, ErrorKind, Service};

use crate::common::{connect, echo, setup};

#[tokio::test]
async fn gathers_every_instance_until_the_timeout() {
    let (server, client) = setup().await;
    let a = Service::builder(&client, "finder", "1.0.0").await.unwrap();
    let b = Service::builder(&client, "finder", "1.1.0").await.unwrap();
    let c = Service::builder(&client, "elsewhere", "2.0.0")
        .await
        .unwrap();
    let caller = connect(&server).await;
    let discovery = Discovery::new(&caller).gather_timeout(Duration::from_millis(400));

    let started = Instant::now();
    let pings = discovery.ping().await.unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(400),
        "gathered until the timeout: {waited:?}"
    );
    assert!(waited < Duration::from_secs(3), "{waited:?}");
    let mut ids: Vec<&str> = pings.iter().map(|p| p.id.as_str()).collect();
    ids.sort();
    let mut want = vec![a.id(), b.id(), c.id()];
    want.sort();
    assert_eq!(ids, want);
    let b_ping = pings.iter().find(|p| p.id == b.id()).unwrap();
    assert_eq!(
        (b_ping.name.as_str(), b_ping.version.as_str()),
        ("finder", "1.1.0")
    );
    assert_eq!(b_ping.kind, "io.nats.micro.v1.ping_response");

    let infos = discovery.info().name("finder").await.unwrap();
    assert_eq!(infos.len(), 2);
    assert!(infos.iter().all(|i| i.name == "finder"));

    let stats = discovery.stats().name("elsewhere").await.unwrap();
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0].id, c.id());
}

#[tokio::test]
async fn one_instance_by_id_returns_at_the_first_answer() {
    let (server, client) = setup().await;
    let service = Service::builder(&client, "single", "1.0.0")
        .description("only one")
        .metadata([("k", "v")])
        .await
        .unwrap();
    let ep = service.endpoint("op").metadata([("e", "1")]).await.unwrap();
    let _task = echo(ep);
    let caller = connect(&server).await;
    caller.request("op", "x").await.unwrap();
    let discovery = Discovery::new(&caller).gather_timeout(Duration::from_secs(5));

    let started = Instant::now();
    let info = discovery
        .info()
        .name("single")
        .id(service.id())
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "did not wait for the timeout"
    );
    assert_eq!(info.len(), 1);
    assert_eq!(info[0], service.info());
    assert_eq!(info[0].description, "only one");
    assert_eq!(info[0].endpoints[0].metadata["e"], "1");

    let stats = discovery
        .stats()
        .name("single")
        .id(service.id())
        .await
        .unwrap();
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0].endpoints[0].num_requests, 1);
    assert_eq!(stats[0].metadata["k"], "v");
    let ping = discovery
        .ping()
        .name("single")
        .id(service.id())
        .await
        .unwrap();
    assert_eq!(ping[0].metadata["k"], "v");
}

#[tokio::test]
async fn nobody_listening_returns_empty_at_once() {
    let (_server, client) = setup().await;
    let discovery = Discovery::new(&client).gather_timeout(Duration::from_secs(5));
    let started = Instant::now();
    assert!(discovery.ping().await.unwrap().is_empty());
    assert!(discovery.info().name("ghost").await.unwrap().is_empty());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "no-responders ends the gathering"
    );
}

#[tokio::test]
async fn max_responses_caps_the_gathering() {
    let (_server, client) = setup().await;
    let mut services = Vec::new();
    for _ in 0..4 {
        services.push(Service::builder(&client, "many", "1.0.0").await.unwrap());
    }
    let discovery = Discovery::new(&client)
        .gather_timeout(Duration::from_secs(5))
        .max_responses(2);
    let started = Instant::now();
    assert_eq!(discovery.ping().name("many").await.unwrap().len(), 2);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn bad_arguments_are_refused_before_sending() {
    let (_server, client) = setup().await;
    let discovery = Discovery::new(&client);
    let err = discovery.ping().id("abc").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let err = discovery.ping().name("a.b").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidName);
    let err = discovery.stats().name("a").id("x.>").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidName);
}

#[tokio::test]
async fn foreign_and_malformed_answers_are_skipped() {
    let (server, client) = setup().await;
    let real = Service::builder(&client, "mixed", "1.0.0").await.unwrap();
    // An impostor answering PING with garbage and with the wrong type.
    let impostor = connect(&server).await;
    let mut sub = impostor.subscribe("$SRV.PING.mixed").await.unwrap();
    impostor.flush().await.unwrap();
    let responder = tokio::spawn(async move {
        use futures_util::StreamExt;
        while let Some(msg) = sub.next().await {
            let reply = msg.reply.unwrap();
            impostor.publish(&reply, "not json").await.unwrap();
            impostor
                .publish(
                    &reply,
                    r#"{"type":"io.nats.micro.v1.info_response","name":"mixed"}"#,
                )
                .await
                .unwrap();
        }
    });
    let pings = Discovery::new(&client)
        .gather_timeout(Duration::from_millis(300))
        .ping()
        .name("mixed")
        .await
        .unwrap();
    assert_eq!(pings.len(), 1, "{pings:?}");
    assert_eq!(pings[0].id, real.id());
    responder.abort();
}
