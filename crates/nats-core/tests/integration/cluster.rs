//! Clusters: servers learned from INFO, fail-over to them, lame duck mode.

use std::time::Duration;

use nats_core::{Client, ConnectOptions, Event, State, Subscriber};
use nats_testkit::Cluster;
use tokio::task::block_in_place;

use crate::reconnect::{assert_quiet, next_text, wait_event, wait_state, with_events};

/// A core-NATS cluster (no JetStream: faster to start).
fn core_cluster(n: usize, config: &str) -> Cluster {
    Cluster::builder(n).jetstream(false).config(config).start()
}

/// Waits until the client's server announces `n` servers in `connect_urls`.
async fn wait_known_servers(client: &Client, n: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while client.server_info().connect_urls.len() < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the client learned only {:?}",
            client.server_info().connect_urls
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Publishes probes from `publisher` until `watcher` (on another node) gets
/// one: the watcher's earlier subscriptions have then crossed the route.
async fn wait_interest(publisher: &Client, watcher: &mut Subscriber) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        publisher.publish("probe", "p").await.unwrap();
        publisher.flush().await.unwrap();
        if tokio::time::timeout(
            Duration::from_millis(50),
            futures_util::StreamExt::next(watcher),
        )
        .await
        .is_ok()
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no route interest in 5 s"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_of_one_node_fails_over_to_a_learned_node() {
    let mut cluster = core_cluster(3, "");
    // Connected to node 0 only: the others must come from INFO.
    let (opts, mut events) =
        with_events(ConnectOptions::new().reconnect_delay_callback(|_| Duration::from_millis(300)));
    let client = opts.connect(cluster.url(0)).await.unwrap();
    wait_known_servers(&client, 3).await;
    assert_eq!(client.server_info().server_name, "n0");
    let mut own = client.subscribe("fo.>").await.unwrap();
    client.flush().await.unwrap();

    let watcher = nats_core::connect(cluster.url(1)).await.unwrap();
    let mut counted = watcher.subscribe("fo.>").await.unwrap();
    let mut probes = watcher.subscribe("probe").await.unwrap();
    watcher.flush().await.unwrap();
    wait_interest(&client, &mut probes).await;

    block_in_place(|| cluster.kill(0));
    wait_state(&client, State::Disconnected, Duration::from_secs(5)).await;
    // Published during the switch: buffered, then replayed once.
    for i in 0..10 {
        client
            .publish(format!("fo.during.{i}"), format!("d{i}"))
            .await
            .unwrap();
    }
    wait_state(&client, State::Connected, Duration::from_secs(5)).await;
    assert_ne!(client.server_info().server_name, "n0");
    for i in 0..10 {
        client
            .publish(format!("fo.after.{i}"), format!("a{i}"))
            .await
            .unwrap();
    }
    client.flush().await.unwrap();

    let now_on = client.server_info().server_name.clone();
    for (name, sub) in [
        ("the watcher's (on n1)", &mut counted),
        ("the client's own", &mut own),
    ] {
        let expected = (0..10)
            .map(|i| format!("d{i}"))
            .chain((0..10).map(|i| format!("a{i}")));
        let mut got = Vec::new();
        for want in expected {
            // Bounded, and on failure says which subscription missed what (the client
            // reconnected to `now_on`; the buffered "d" messages were replayed there).
            let msg = tokio::time::timeout(
                Duration::from_secs(5),
                futures_util::StreamExt::next(sub),
            )
            .await
            .unwrap_or_else(|_| {
                panic!("{name} subscription: no {want} in 5 s (client on {now_on}); got {got:?}")
            })
            .expect("subscription open");
            got.push(String::from_utf8(msg.payload.to_vec()).unwrap());
            assert_eq!(
                got.last(),
                Some(&want),
                "{name} subscription, client on {now_on}"
            );
        }
        assert_quiet(sub).await;
    }
    let seen = wait_event(
        &mut events,
        |e| *e == Event::Connected,
        Duration::from_secs(1),
    )
    .await;
    assert_eq!(seen, [Event::Connected]);
    let seen = wait_event(
        &mut events,
        |e| *e == Event::Connected,
        Duration::from_secs(1),
    )
    .await;
    assert_eq!(seen, [Event::Disconnected, Event::Connected]);
    assert_eq!(client.statistics().reconnects, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lame_duck_node_is_left_for_another_one() {
    let cluster = core_cluster(
        2,
        "lame_duck_grace_period: \"200ms\"\nlame_duck_duration: \"30s\"",
    );
    let (opts, mut events) = with_events(ConnectOptions::new());
    let client = opts.connect(cluster.url(0)).await.unwrap();
    wait_known_servers(&client, 2).await;
    let mut sub = client.subscribe("ld").await.unwrap();
    client.flush().await.unwrap();

    cluster.server(0).signal_lame_duck();
    wait_event(
        &mut events,
        |e| *e == Event::LameDuckMode,
        Duration::from_secs(5),
    )
    .await;
    // The server evicts the client; it moves on to node 1.
    let seen = wait_event(
        &mut events,
        |e| *e == Event::Connected,
        Duration::from_secs(8),
    )
    .await;
    assert!(seen.contains(&Event::Disconnected), "{seen:?}");
    assert_eq!(client.server_info().server_name, "n1");
    assert!(!client.server_info().lame_duck_mode);

    let other = nats_core::connect(cluster.url(1)).await.unwrap();
    other.publish("ld", "moved").await.unwrap();
    other.flush().await.unwrap();
    assert_eq!(next_text(&mut sub).await, "moved");
}
