//! Tests of clusters against the real `nats-server`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::Conn;
use nats_testkit::Cluster;

#[test]
fn three_node_cluster_elects_and_reelects_meta_leader() {
    let started = Instant::now();
    let mut cluster = Cluster::new(3);
    let formed_in = started.elapsed();
    assert_eq!(cluster.len(), 3);
    let urls = cluster.urls();
    assert_eq!(urls.len(), 3);
    assert_eq!(cluster.client_urls_joined(), urls.join(","));
    for (i, url) in urls.iter().enumerate() {
        assert_eq!(&cluster.url(i), url);
        assert_eq!(cluster.server(i).server_name(), format!("n{i}"));
        let mut conn = Conn::open(cluster.server(i).port());
        assert_eq!(conn.info["cluster"].as_str(), Some(cluster.name()));
        assert_eq!(conn.handshake("{}"), "PONG");
    }
    // Cluster::new returns only once a leader exists.
    let leader = cluster.meta_leader().expect("meta leader after start");
    assert_eq!(
        cluster.wait_meta_leader(Duration::from_secs(1)).unwrap(),
        leader
    );
    assert!(formed_in < Duration::from_secs(15), "took {formed_in:?}");

    cluster.kill(leader);
    assert!(!cluster.server(leader).is_running());
    let next = cluster.wait_meta_leader(Duration::from_secs(20)).unwrap();
    assert_ne!(next, leader);

    cluster.start(leader);
    cluster.wait_routes(Duration::from_secs(10)).unwrap();
    cluster.wait_healthy(Duration::from_secs(20)).unwrap();
    let agreed = cluster.wait_meta_leader(Duration::from_secs(10)).unwrap();
    assert!(cluster.server(agreed).is_running());
}

#[test]
fn restart_node_keeps_port() {
    let mut cluster = Cluster::builder(3).start();
    let port = cluster.server(1).port();
    cluster.restart(1);
    assert_eq!(cluster.server(1).port(), port);
    cluster.wait_routes(Duration::from_secs(10)).unwrap();
    cluster.wait_meta_leader(Duration::from_secs(20)).unwrap();
}

#[test]
fn core_cluster_forms_routes() {
    let cluster = Cluster::builder(2)
        .jetstream(false)
        .name("core-test")
        .start();
    assert_eq!(cluster.name(), "core-test");
    assert!(cluster.server(0).store_dir().is_none());
    let routez = cluster.server(0).monitor_json("/routez").unwrap();
    let names: Vec<&str> = routez["routes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["remote_name"].as_str())
        .collect();
    assert!(names.contains(&"n1"), "{routez}");
    assert!(cluster.meta_leader().is_none());
}

#[test]
fn cluster_block_in_custom_config_is_rejected() {
    let err = Cluster::builder(3)
        .config("cluster { name: x }")
        .try_start()
        .unwrap_err();
    assert!(err.contains("cluster"), "{err}");
}
