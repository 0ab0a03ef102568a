//! Deployments: the 2.10 compatibility run (stream and consumer management against
//! nats-server 2.10.26), a JetStream domain, a 3-node cluster, and a server without JetStream.

use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt};
use jetstream::{
    AckPolicy, ConsumerConfig, DeliverPolicy, ErrorKind, JetStreamOptions, StreamConfig,
};
use nats_testkit::{Cluster, Server};

use crate::streams::{connect, mem_stream, store};

const OLD_VERSION: &str = "2.10.26";

fn old_server() -> Server {
    Server::builder()
        .jetstream(true)
        .version(OLD_VERSION)
        .start()
}

#[tokio::test]
async fn streams_on_2_10() {
    let server = old_server();
    let (client, js) = connect(server.url()).await;
    assert!(client.server_info().version.starts_with("2.10."));

    let config = StreamConfig {
        description: Some("old server".into()),
        max_msgs: 100,
        max_age: Duration::from_secs(3600),
        ..mem_stream("OLD", &["old.>"])
    };
    let stream = js.create_stream(config.clone()).await.unwrap();
    assert_eq!(stream.cached_info().config.max_msgs, 100);
    js.create_stream(config.clone()).await.unwrap();
    let err = js
        .create_stream(mem_stream("OLD", &["other"]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StreamNameInUse);

    let mut update = stream.cached_info().config.clone();
    update.max_msgs = 50;
    assert_eq!(
        js.update_stream(update)
            .await
            .unwrap()
            .cached_info()
            .config
            .max_msgs,
        50
    );
    js.create_or_update_stream(mem_stream("NEW", &["new"]))
        .await
        .unwrap();

    for subject in ["old.a", "old.b", "old.a"] {
        store(&client, subject, "x").await;
    }
    let info = stream.info().await.unwrap();
    assert_eq!(info.state.messages, 3);
    let info = stream.info_with().subjects_filter(">").await.unwrap();
    assert_eq!(info.state.subjects.get("old.a"), Some(&2));

    let mut names: Vec<String> = js.stream_names().try_collect().await.unwrap();
    names.sort();
    assert_eq!(names, ["NEW", "OLD"]);
    let infos: Vec<jetstream::StreamInfo> = js.list_streams().try_collect().await.unwrap();
    assert_eq!(infos.len(), 2);
    assert_eq!(js.stream_name_by_subject("old.x").await.unwrap(), "OLD");

    // Gets through the leader, then direct.
    let msg = stream.get_msg(2).await.unwrap();
    assert_eq!(msg.subject, "old.b");
    assert_eq!(
        stream
            .get_last_msg_for_subject("old.a")
            .await
            .unwrap()
            .sequence,
        3
    );
    let direct = js
        .create_stream(StreamConfig {
            allow_direct: true,
            ..mem_stream("DIRECT", &["direct.>"])
        })
        .await
        .unwrap();
    store(&client, "direct.a", "d").await;
    let msg = direct.get_last_msg_for_subject("direct.a").await.unwrap();
    assert_eq!(&msg.payload[..], b"d");
    assert_eq!(
        direct.get_msg(5).await.unwrap_err().kind(),
        ErrorKind::MessageNotFound
    );

    stream.delete_msg(1).await.unwrap();
    assert_eq!(stream.purge().subject("old.a").await.unwrap(), 1);
    js.delete_stream("OLD").await.unwrap();
    assert_eq!(
        js.stream("OLD").await.unwrap_err().kind(),
        ErrorKind::StreamNotFound
    );
}

#[tokio::test]
async fn consumers_on_2_10() {
    let server = old_server();
    let (client, js) = connect(server.url()).await;
    let stream = js.create_stream(mem_stream("S", &["s.>"])).await.unwrap();
    for subject in ["s.a", "s.b", "s.c"] {
        store(&client, subject, "x").await;
    }

    let config = ConsumerConfig {
        durable_name: Some("C".into()),
        filter_subject: Some("s.a".into()),
        ..Default::default()
    };
    let consumer = stream.create_consumer(config.clone()).await.unwrap();
    assert_eq!(consumer.cached_info().num_pending, 1);
    stream.create_consumer(config.clone()).await.unwrap();
    let err = stream
        .create_consumer(ConsumerConfig {
            description: Some("changed".into()),
            ..config.clone()
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConsumerExists);
    let err = stream
        .update_consumer(ConsumerConfig {
            durable_name: Some("MISSING".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConsumerNotFound);
    let updated = js
        .update_consumer(
            "S",
            ConsumerConfig {
                description: Some("changed".into()),
                ..config
            },
        )
        .await
        .unwrap();
    assert_eq!(
        updated.cached_info().config.description.as_deref(),
        Some("changed")
    );

    // 2.10 knows multiple filters.
    let multi = js
        .create_or_update_consumer(
            "S",
            ConsumerConfig {
                name: Some("M".into()),
                filter_subjects: vec!["s.a".into(), "s.b".into()],
                ack_policy: AckPolicy::None,
                deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: 2 },
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(multi.cached_info().config.filter_subjects, ["s.a", "s.b"]);
    assert_eq!(multi.info().await.unwrap().num_pending, 1);
    let ephemeral = stream
        .create_consumer(ConsumerConfig::default())
        .await
        .unwrap();

    let mut names: Vec<String> = stream.consumer_names().try_collect().await.unwrap();
    names.sort();
    let mut expected = vec![
        "C".to_string(),
        "M".to_string(),
        ephemeral.name().to_string(),
    ];
    expected.sort();
    assert_eq!(names, expected);
    let infos: Vec<jetstream::ConsumerInfo> = stream.list_consumers().try_collect().await.unwrap();
    assert_eq!(infos.len(), 3);

    assert_eq!(js.consumer("S", "C").await.unwrap().name(), "C");
    js.delete_consumer("S", "C").await.unwrap();
    assert_eq!(
        js.consumer("S", "C").await.unwrap_err().kind(),
        ErrorKind::ConsumerNotFound
    );
}

#[tokio::test]
async fn newer_consumer_controls_on_2_10() {
    let server = old_server();
    let client = nats_core::connect(server.url()).await.unwrap();
    // 2.10 does not answer the 2.11+ endpoints: keep the wait short.
    let js = jetstream::with_options(
        client,
        JetStreamOptions {
            timeout: Duration::from_millis(500),
            ..Default::default()
        },
    );
    let stream = js.create_stream(mem_stream("S", &["s"])).await.unwrap();
    let consumer = stream
        .create_consumer(ConsumerConfig {
            durable_name: Some("C".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let until = jiff::Timestamp::now() + Duration::from_secs(60);
    let started = Instant::now();
    for err in [
        consumer.pause(until).await.unwrap_err(),
        consumer.resume().await.unwrap_err(),
        consumer.unpin("g").await.unwrap_err(),
        consumer.reset(1).await.unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::NotSupported, "{err:?}");
    }
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn jetstream_not_enabled() {
    let server = Server::new().start();
    let (_client, js) = connect(server.url()).await;
    let kind = js.account_info().await.unwrap_err().kind();
    assert_eq!(kind, ErrorKind::JetStreamNotEnabled);
    let err = js.create_stream(mem_stream("S", &["s"])).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::JetStreamNotEnabled);
    assert_eq!(
        js.stream("S").await.unwrap_err().kind(),
        ErrorKind::JetStreamNotEnabled
    );
    assert_eq!(
        js.delete_stream("S").await.unwrap_err().kind(),
        ErrorKind::JetStreamNotEnabled
    );
    assert_eq!(
        js.consumer("S", "C").await.unwrap_err().kind(),
        ErrorKind::JetStreamNotEnabled
    );
    let mut names = js.stream_names();
    assert_eq!(
        names.next().await.unwrap().unwrap_err().kind(),
        ErrorKind::JetStreamNotEnabled
    );
    assert!(names.next().await.is_none());
    let first = js.list_streams().next().await.unwrap().unwrap_err();
    assert_eq!(first.kind(), ErrorKind::JetStreamNotEnabled);
}

#[tokio::test]
async fn domain_configured_server() {
    let server = Server::builder()
        .jetstream(true)
        .jetstream_domain("hub")
        .start();
    let client = nats_core::connect(server.url()).await.unwrap();
    let js = jetstream::with_domain(client.clone(), "hub");
    assert_eq!(js.api_prefix(), "$JS.hub.API");
    assert_eq!(
        js.account_info().await.unwrap().domain.as_deref(),
        Some("hub")
    );
    let stream = js
        .create_stream(StreamConfig {
            allow_direct: true,
            ..mem_stream("D", &["d.>"])
        })
        .await
        .unwrap();
    store(&client, "d.x", "hello").await;
    let info = stream.info().await.unwrap();
    assert_eq!(info.state.messages, 1);
    assert_eq!(info.domain.as_deref(), Some("hub"));
    let msg = stream.get_last_msg_for_subject("d.x").await.unwrap();
    assert_eq!(&msg.payload[..], b"hello");
    let consumer = stream
        .create_consumer(ConsumerConfig {
            durable_name: Some("C".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(consumer.info().await.unwrap().num_pending, 1);
    let names: Vec<String> = js.stream_names().try_collect().await.unwrap();
    assert_eq!(names, ["D"]);
    assert_eq!(js.stream_name_by_subject("d.y").await.unwrap(), "D");
    js.delete_stream("D").await.unwrap();

    // A domain nobody serves.
    let other = jetstream::with_domain(client, "nowhere");
    let err = other.stream_names().next().await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::JetStreamNotEnabled);
}

#[tokio::test]
async fn cluster_r3_stream_lifecycle() {
    let cluster = Cluster::new(3);
    let (client, js) = connect(cluster.client_urls_joined()).await;
    let stream = js
        .create_stream(StreamConfig {
            num_replicas: 3,
            ..mem_stream("R3", &["r3.>"])
        })
        .await
        .unwrap();
    let info = stream.cached_info();
    assert_eq!(info.config.num_replicas, 3);
    let cluster_info = info.cluster.as_ref().expect("cluster info");
    assert_eq!(cluster_info.name.as_deref(), Some(cluster.name()));
    assert!(cluster_info.leader.is_some());
    assert_eq!(cluster_info.replicas.len(), 2);

    store(&client, "r3.a", "1").await;
    let info = stream.info().await.unwrap();
    assert_eq!(info.state.messages, 1);
    let consumer = stream
        .create_consumer(ConsumerConfig {
            durable_name: Some("C".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(consumer.cached_info().config.num_replicas, 0);
    assert!(consumer.cached_info().cluster.is_some());
    let names: Vec<String> = js.stream_names().try_collect().await.unwrap();
    assert_eq!(names, ["R3"]);
    js.delete_stream("R3").await.unwrap();
    assert_eq!(
        js.stream("R3").await.unwrap_err().kind(),
        ErrorKind::StreamNotFound
    );
}
