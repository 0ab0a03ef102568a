use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jetstream::{ConsumerConfig, StreamConfig};
use nats_testkit::Cluster;

#[tokio::test]
async fn consume_continues_through_a_consumer_leader_kill() {
    let mut cluster = Cluster::new(3);
    let client = nats_core::ConnectOptions::new()
        .connect(cluster.urls())
        .await
        .unwrap();
    let js = jetstream::new(client);
    // Right after the meta leader is elected, not every peer may be known yet.
    let start = Instant::now();
    let stream = loop {
        let created = js
            .create_stream(StreamConfig {
                name: "CL".into(),
                subjects: vec!["cl".into()],
                num_replicas: 3,
                ..Default::default()
            })
            .await;
        match created {
            Ok(s) => break s,
            Err(e) => {
                assert!(start.elapsed() < Duration::from_secs(10), "create: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    let consumer = stream
        .create_consumer(ConsumerConfig {
            durable_name: Some("w".into()),
            num_replicas: 3,
            ack_wait: Duration::from_secs(2),
            ..Default::default()
        })
        .await
        .unwrap();
    // The R3 stream may still be electing its leader: retry on no responders.
    for i in 0..100 {
        js.publish("cl", format!("{i}"))
            .msg_id(format!("m{i}"))
            .retry_attempts(100)
            .retry_wait(Duration::from_millis(100))
            .await
            .unwrap();
    }
    let seen = Arc::new(Mutex::new(BTreeSet::new()));
    let s = seen.clone();
    let ctx = consumer
        .consume(move |m| {
            let s = s.clone();
            async move {
                let seq = m.metadata().unwrap().sequence.stream;
                if m.double_ack().await.is_ok() {
                    s.lock().unwrap().insert(seq);
                }
            }
        })
        .expiry(Duration::from_secs(2))
        .heartbeat(Duration::from_millis(500))
        .await
        .unwrap();
    let wait_for = |n: usize, limit: Duration| {
        let seen = seen.clone();
        async move {
            let start = Instant::now();
            while seen.lock().unwrap().len() < n {
                assert!(
                    start.elapsed() < limit,
                    "only {} of {n} consumed",
                    seen.lock().unwrap().len()
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    wait_for(100, Duration::from_secs(10)).await;

    let leader = consumer
        .info()
        .await
        .unwrap()
        .cluster
        .and_then(|c| c.leader)
        .expect("consumer has a leader");
    let index = cluster
        .servers()
        .iter()
        .position(|s| s.server_name() == leader)
        .expect("leader is a node of the cluster");
    cluster.kill(index);

    // Publish more while a new consumer leader is elected (retrying meanwhile).
    // A message id makes retrying a publish whose ack was lost safe.
    let start = Instant::now();
    for i in 100..200 {
        loop {
            let published = js
                .publish("cl", format!("{i}"))
                .msg_id(format!("m{i}"))
                .retry_attempts(20)
                .retry_wait(Duration::from_millis(100))
                .timeout(Duration::from_secs(2))
                .await;
            match published {
                Ok(_) => break,
                Err(e) => {
                    assert!(start.elapsed() < Duration::from_secs(40), "publish: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }
    wait_for(200, Duration::from_secs(40)).await;
    ctx.stop();
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.iter().copied().collect::<Vec<_>>(),
        (1..=200).collect::<Vec<u64>>()
    );
}
