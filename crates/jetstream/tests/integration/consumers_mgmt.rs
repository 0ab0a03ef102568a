//! Consumer management: create/update/delete on the context and on a stream handle, info and
//! cached info, listing and paging, pause/resume, unpin, reset, config round trip.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use jetstream::{
    AckPolicy, ConsumerConfig, DeliverPolicy, ErrorCode, ErrorKind, PriorityPolicy, ReplayPolicy,
};
use nats_testkit::Server;

use crate::streams::{connect, mem_stream, store};

fn durable(name: &str) -> ConsumerConfig {
    ConsumerConfig {
        durable_name: Some(name.to_string()),
        ..Default::default()
    }
}

#[tokio::test]
async fn create_consumer_is_idempotent_and_a_different_config_exists() {
    let server = Server::jetstream().start();
    let (_client, js) = connect(server.url()).await;
    js.create_stream(mem_stream("S", &["s.>"])).await.unwrap();

    let config = ConsumerConfig {
        description: Some("first".into()),
        ..durable("C")
    };
    let consumer = js.create_consumer("S", config.clone()).await.unwrap();
    assert_eq!(consumer.name(), "C");
    assert_eq!(consumer.stream_name(), "S");
    let info = consumer.cached_info();
    assert_eq!(info.name, "C");
    assert_eq!(info.stream_name, "S");
    assert_eq!(info.config.durable_name.as_deref(), Some("C"));
    assert_eq!(info.config.ack_policy, AckPolicy::Explicit);
    assert_eq!(info.config.description.as_deref(), Some("first"));

    // The same config again is fine.
    let again = js.create_consumer("S", config.clone()).await.unwrap();
    assert_eq!(again.cached_info().created, info.created);

    // A different config under the same name.
    let err = js
        .create_consumer(
            "S",
            ConsumerConfig {
                description: Some("second".into()),
                ..durable("C")
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConsumerExists);
    assert_eq!(
        err.api_error().unwrap().err_code,
        ErrorCode::CONSUMER_ALREADY_EXISTS
    );

    // A missing stream.
    let err = js.create_consumer("NOPE", durable("C")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StreamNotFound);
}

#[tokio::test]
async fn ephemeral_consumers_named_and_unnamed() {
    let server = Server::jetstream().start();
    let (_client, js) = connect(server.url()).await;
    let stream = js.create_stream(mem_stream("S", &["s.>"])).await.unwrap();

    // No name at all: the server picks one.
    let unnamed = stream
        .create_consumer(ConsumerConfig::default())
        .await
        .unwrap();
    assert!(!unnamed.name().is_empty());
    assert!(unnamed.cached_info().config.durable_name.is_none());
    assert_eq!(
        unnamed.cached_info().config.inactive_threshold,
        Some(Duration::from_secs(5))
    );

    // A name without a durable name: ephemeral with our name.
    let named = stream
        .create_consumer(ConsumerConfig {
            name: Some("eph".into()),
            inactive_threshold: Some(Duration::from_secs(30)),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(named.name(), "eph");
    assert!(named.cached_info().config.durable_name.is_none());
    assert_eq!(
        named.cached_info().config.inactive_threshold,
        Some(Duration::from_secs(30))
    );

    let mut names: Vec<String> = stream.consumer_names().try_collect().await.unwrap();
    names.sort();
    let mut expected = vec!["eph".to_string(), unnamed.name().to_string()];
    expected.sort();
    assert_eq!(names, expected);
}

#[tokio::test]
async fn update_and_create_or_update_consumer() {
    let server = Server::jetstream().start();
    let (_client, js) = connect(server.url()).await;
    js.create_stream(mem_stream("S", &["s.>"])).await.unwrap();

    let err = js.update_consumer("S", durable("C")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConsumerNotFound);
    assert_eq!(
        err.api_error().unwrap().err_code,
        ErrorCode::CONSUMER_DOES_NOT_EXIST
    );
    // update needs a name.
    let err = js
        .update_consumer("S", ConsumerConfig::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig);

    // create_or_update creates...
    let created = js
        .create_or_update_consumer("S", durable("C"))
        .await
        .unwrap();
    assert_eq!(created.cached_info().config.max_ack_pending, 1000);
    // ...and updates.
    let updated = js
        .create_or_update_consumer(
            "S",
            ConsumerConfig {
                max_ack_pending: 10,
                ..durable("C")
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.cached_info().config.max_ack_pending, 10);

    let mut config = updated.cached_info().config.clone();
    config.description = Some("updated".into());
    config.max_deliver = 7;
    let updated = js.update_consumer("S", config).await.unwrap();
    assert_eq!(
        updated.cached_info().config.description.as_deref(),
        Some("updated")
    );
    assert_eq!(updated.cached_info().config.max_deliver, 7);
    // The old handle's cache is separate; its info() catches up.
    assert_eq!(created.cached_info().config.max_deliver, -1);
    assert_eq!(created.info().await.unwrap().config.max_deliver, 7);

    // A change the server does not allow.
    let mut config = updated.cached_info().config.clone();
    config.deliver_policy = DeliverPolicy::New;
    let err = js.update_consumer("S", config).await.unwrap_err();
    assert!(err.api_error().is_some(), "{err:?}");
}

#[tokio::test]
async fn consumer_handle_get_delete_and_not_found() {
    let server = Server::jetstream().start();
    let (client, js) = connect(server.url()).await;
    let stream = js.create_stream(mem_stream("S", &["s.>"])).await.unwrap();

    let err = js.consumer("S", "C").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConsumerNotFound);
    assert_eq!(
        err.api_error().unwrap().err_code,
        ErrorCode::CONSUMER_NOT_FOUND
    );
    let err = js.consumer("NOPE", "C").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StreamNotFound);

    stream.create_consumer(durable("C")).await.unwrap();
    let consumer = js.consumer("S", "C").await.unwrap();
    let clone = consumer.clone();
    assert_eq!(consumer.cached_info().num_pending, 0);
    store(&client, "s.a", "1").await;
    store(&client, "s.b", "2").await;
    assert_eq!(consumer.cached_info().num_pending, 0);
    assert_eq!(clone.info().await.unwrap().num_pending, 2);
    // Clones share the cache.
    assert_eq!(consumer.cached_info().num_pending, 2);
    assert_eq!(consumer.context().api_prefix(), "$JS.API");

    let scoped = stream.consumer("C").await.unwrap();
    assert_eq!(scoped.cached_info().num_pending, 2);

    js.delete_consumer("S", "C").await.unwrap();
    assert_eq!(
        consumer.info().await.unwrap_err().kind(),
        ErrorKind::ConsumerNotFound
    );
    assert_eq!(
        js.delete_consumer("S", "C").await.unwrap_err().kind(),
        ErrorKind::ConsumerNotFound
    );
    assert_eq!(
        stream.delete_consumer("C").await.unwrap_err().kind(),
        ErrorKind::ConsumerNotFound
    );
}

#[tokio::test]
async fn stream_scoped_consumer_management() {
    let server = Server::jetstream().start();
    let (_client, js) = connect(server.url()).await;
    let stream = js.create_stream(mem_stream("S", &["s.>"])).await.unwrap();

    let c = stream.create_consumer(durable("A")).await.unwrap();
    assert_eq!(c.stream_name(), "S");
    let err = stream
        .create_consumer(ConsumerConfig {
            max_deliver: 3,
            ..durable("A")
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConsumerExists);
    let err = stream.update_consumer(durable("B")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConsumerNotFound);
    stream
        .create_or_update_consumer(durable("B"))
        .await
        .unwrap();
    let b = stream
        .update_consumer(ConsumerConfig {
            max_deliver: 3,
            ..durable("B")
        })
        .await
        .unwrap();
    assert_eq!(b.cached_info().config.max_deliver, 3);
    assert_eq!(stream.consumer("B").await.unwrap().name(), "B");

    let infos: Vec<jetstream::ConsumerInfo> = stream.list_consumers().try_collect().await.unwrap();
    let mut names: Vec<&str> = infos.iter().map(|i| i.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["A", "B"]);

    stream.delete_consumer("A").await.unwrap();
    let names: Vec<String> = stream.consumer_names().try_collect().await.unwrap();
    assert_eq!(names, ["B"]);
    assert_eq!(stream.info().await.unwrap().state.consumer_count, 1);
}

#[tokio::test]
async fn filter_subjects() {
    let server = Server::jetstream().start();
    let (client, js) = connect(server.url()).await;
    let stream = js.create_stream(mem_stream("S", &["s.>"])).await.unwrap();
    for subject in ["s.a", "s.b", "s.c.d", "s.a"] {
        store(&client, subject, "x").await;
    }

    // A literal filter goes into the create subject; a wildcard one can not.
    for (name, filter, pending) in [("lit", "s.a", 2), ("wild", "s.*", 3), ("all", "s.>", 4)] {
        let c = stream
            .create_consumer(ConsumerConfig {
                filter_subject: Some(filter.into()),
                ..durable(name)
            })
            .await
            .unwrap();
        assert_eq!(
            c.cached_info().config.filter_subject.as_deref(),
            Some(filter)
        );
        assert_eq!(c.cached_info().num_pending, pending, "{filter}");
    }
    // An ephemeral with a filter.
    let eph = stream
        .create_consumer(ConsumerConfig {
            filter_subject: Some("s.c.d".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(eph.cached_info().num_pending, 1);

    let multi = stream
        .create_consumer(ConsumerConfig {
            filter_subjects: vec!["s.b".into(), "s.c.>".into()],
            ..durable("multi")
        })
        .await
        .unwrap();
    assert_eq!(multi.cached_info().config.filter_subjects, ["s.b", "s.c.>"]);
    assert_eq!(multi.cached_info().num_pending, 2);

    // Overlapping filters: the server refuses.
    let err = stream
        .create_consumer(ConsumerConfig {
            filter_subjects: vec!["s.>".into(), "s.a".into()],
            ..durable("overlap")
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig);
    assert_eq!(
        err.api_error().unwrap().err_code,
        ErrorCode::CONSUMER_OVERLAPPING_SUBJECT_FILTERS
    );
    // Both forms at once: refused by the client.
    let err = stream
        .create_consumer(ConsumerConfig {
            filter_subject: Some("s.a".into()),
            filter_subjects: vec!["s.b".into()],
            ..durable("both")
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig);
    assert!(err.api_error().is_none());
}

#[tokio::test]
async fn invalid_consumer_input_is_refused_before_sending() {
    // No JetStream on this server: anything sent would fail with JetStreamNotEnabled.
    let server = Server::new().start();
    let (_client, js) = connect(server.url()).await;
    let kind = |r: Result<jetstream::Consumer, jetstream::Error>| r.unwrap_err().kind();

    for bad in ["", "a.b", "a b", "a*", ">", "a/b", "a\\b"] {
        assert_eq!(
            kind(js.create_consumer(bad, durable("C")).await),
            ErrorKind::InvalidName
        );
        assert_eq!(
            kind(js.create_consumer("S", durable(bad)).await),
            ErrorKind::InvalidName
        );
        let named = ConsumerConfig {
            name: Some(bad.into()),
            ..Default::default()
        };
        assert_eq!(
            kind(js.create_consumer("S", named).await),
            ErrorKind::InvalidName
        );
        assert_eq!(kind(js.consumer("S", bad).await), ErrorKind::InvalidName);
        assert_eq!(kind(js.consumer(bad, "C").await), ErrorKind::InvalidName);
        assert_eq!(
            js.delete_consumer("S", bad).await.unwrap_err().kind(),
            ErrorKind::InvalidName
        );
        assert_eq!(
            kind(js.update_consumer(bad, durable("C")).await),
            ErrorKind::InvalidName
        );
    }
    let cases = [
        (
            ConsumerConfig {
                name: Some("a".into()),
                durable_name: Some("b".into()),
                ..Default::default()
            },
            ErrorKind::InvalidConfig,
        ),
        (
            ConsumerConfig {
                filter_subject: Some("a".into()),
                filter_subjects: vec!["b".into()],
                ..Default::default()
            },
            ErrorKind::InvalidConfig,
        ),
        (
            ConsumerConfig {
                filter_subject: Some("a..b".into()),
                ..Default::default()
            },
            ErrorKind::InvalidSubject,
        ),
        (
            ConsumerConfig {
                filter_subjects: vec!["a".into(), "".into()],
                ..Default::default()
            },
            ErrorKind::InvalidSubject,
        ),
        (
            ConsumerConfig {
                max_deliver: 1,
                backoff: vec![Duration::from_secs(1)],
                ..Default::default()
            },
            ErrorKind::InvalidConfig,
        ),
    ];
    for (config, expected) in cases {
        assert_eq!(
            kind(js.create_consumer("S", config.clone()).await),
            expected,
            "{config:?}"
        );
        assert_eq!(
            kind(js.create_or_update_consumer("S", config.clone()).await),
            expected,
            "{config:?}"
        );
    }
}

#[tokio::test]
async fn listing_pages_through_more_than_1024_consumers() {
    let server = Server::jetstream().start();
    let (_client, js) = connect(server.url()).await;
    let stream = js.create_stream(mem_stream("S", &["s.>"])).await.unwrap();
    const N: usize = 1030;
    futures_util::stream::iter(0..N)
        .map(|i| {
            let stream = stream.clone();
            async move {
                stream
                    .create_consumer(durable(&format!("C{i:04}")))
                    .await
                    .unwrap();
            }
        })
        .buffer_unordered(16)
        .collect::<()>()
        .await;

    let expected: HashSet<String> = (0..N).map(|i| format!("C{i:04}")).collect();
    // CONSUMER.LIST pages at 256 (five pages here), CONSUMER.NAMES at 1024 (two).
    let infos: Vec<jetstream::ConsumerInfo> = stream.list_consumers().try_collect().await.unwrap();
    assert_eq!(infos.len(), N);
    let listed: HashSet<String> = infos.into_iter().map(|i| i.name).collect();
    assert_eq!(listed, expected);
    let names: Vec<String> = stream.consumer_names().try_collect().await.unwrap();
    assert_eq!(names.len(), N);
    assert_eq!(names.into_iter().collect::<HashSet<_>>(), expected);

    // The listings of a deleted stream fail.
    js.delete_stream("S").await.unwrap();
    let err = stream.list_consumers().next().await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StreamNotFound);
    let err = stream.consumer_names().next().await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StreamNotFound);
}

#[tokio::test]
async fn pause_resume_unpin_and_reset() {
    let server = Server::jetstream().start();
    let (client, js) = connect(server.url()).await;
    let stream = js.create_stream(mem_stream("S", &["s.>"])).await.unwrap();
    for _ in 0..5 {
        store(&client, "s.a", "x").await;
    }
    let consumer = stream
        .create_consumer(ConsumerConfig {
            priority_groups: vec!["jobs".into()],
            priority_policy: PriorityPolicy::PinnedClient,
            ..durable("C")
        })
        .await
        .unwrap();

    // Pause and resume.
    let until = jiff::Timestamp::now() + Duration::from_secs(600);
    let paused = consumer.pause(until).await.unwrap();
    assert!(paused.paused);
    assert_eq!(paused.pause_until, Some(until));
    assert!(paused.pause_remaining.unwrap() > Duration::from_secs(590));
    let info = consumer.info().await.unwrap();
    assert!(info.paused);
    assert_eq!(info.config.pause_until, Some(until));
    let resumed = consumer.resume().await.unwrap();
    assert!(!resumed.paused);
    assert!(!consumer.info().await.unwrap().paused);

    // Unpin: nobody is pinned, which is fine; an unknown group is not.
    consumer.unpin("jobs").await.unwrap();
    let err = consumer.unpin("other").await.unwrap_err();
    assert!(err.api_error().is_some(), "{err:?}");
    assert_eq!(
        consumer.unpin("").await.unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );

    // Reset to a sequence: what is before it counts as acknowledged.
    assert_eq!(consumer.reset(3).await.unwrap(), 3);
    assert_eq!(consumer.cached_info().num_pending, 3);
    assert_eq!(consumer.info().await.unwrap().num_pending, 3);
    // 0: just after the ack floor, which the reset moved.
    assert_eq!(consumer.reset(0).await.unwrap(), 3);
    // Back to the start.
    assert_eq!(consumer.reset(1).await.unwrap(), 1);
    assert_eq!(consumer.cached_info().num_pending, 5);
    assert_eq!(consumer.reset(1000).await.unwrap(), 1000);

    // On a deleted consumer. (A reset of a missing consumer gets no reply from the server, so
    // it ends in a timeout: not tested here.)
    js.delete_consumer("S", "C").await.unwrap();
    for err in [
        consumer.pause(until).await.unwrap_err(),
        consumer.resume().await.unwrap_err(),
        consumer.unpin("jobs").await.unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::ConsumerNotFound, "{err:?}");
    }
}

#[tokio::test]
async fn consumer_config_round_trips_through_the_server() {
    let server = Server::jetstream().start();
    let (_client, js) = connect(server.url()).await;
    let stream = js.create_stream(mem_stream("RT", &["rt.>"])).await.unwrap();
    let metadata: HashMap<String, String> = [("team".to_string(), "a".to_string())].into();
    let pause_until: jiff::Timestamp = "2099-01-01T00:00:00.123456789Z".parse().unwrap();

    let full = ConsumerConfig {
        durable_name: Some("FULL".into()),
        name: Some("FULL".into()),
        description: Some("every field".into()),
        deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: 5 },
        ack_policy: AckPolicy::All,
        ack_wait: Duration::from_secs(1),
        max_deliver: 5,
        backoff: vec![Duration::from_secs(1), Duration::from_secs(2)],
        filter_subjects: vec!["rt.a".into(), "rt.b.>".into()],
        replay_policy: ReplayPolicy::Original,
        sample_freq: Some("50%".into()),
        max_waiting: 10,
        max_ack_pending: 20,
        headers_only: true,
        max_batch: 10,
        max_expires: Duration::from_secs(5),
        max_bytes: 1024,
        inactive_threshold: Some(Duration::from_secs(3600)),
        num_replicas: 1,
        mem_storage: true,
        metadata: metadata.clone(),
        pause_until: Some(pause_until),
        priority_groups: vec!["g".into()],
        priority_policy: PriorityPolicy::PinnedClient,
        priority_timeout: Duration::from_secs(30),
        ..Default::default()
    };
    let got = stream.create_consumer(full.clone()).await.unwrap();
    let got = got.cached_info().config.clone();
    let fetched = stream
        .consumer("FULL")
        .await
        .unwrap()
        .cached_info()
        .config
        .clone();
    assert_eq!(got, fetched);
    let mut expected = full.clone();
    // The server may add `_nats.*` metadata.
    assert_eq!(got.metadata.get("team").map(String::as_str), Some("a"));
    expected.metadata = got.metadata.clone();
    assert_eq!(got, expected);
    // Same config again: fine.
    stream.create_consumer(full).await.unwrap();

    let start_time: jiff::Timestamp = "2024-01-02T03:04:05.000000006Z".parse().unwrap();
    let other = ConsumerConfig {
        durable_name: Some("OTHER".into()),
        name: Some("OTHER".into()),
        deliver_policy: DeliverPolicy::ByStartTime { start_time },
        ack_policy: AckPolicy::None,
        filter_subject: Some("rt.*".into()),
        max_deliver: -1,
        max_waiting: 512,
        max_ack_pending: -1,
        priority_groups: vec!["a".into()],
        priority_policy: PriorityPolicy::Overflow,
        ..Default::default()
    };
    let got = stream.create_consumer(other.clone()).await.unwrap();
    let got = got.cached_info().config.clone();
    let mut expected = other;
    expected.metadata = got.metadata.clone();
    assert_eq!(got, expected);

    for policy in [
        DeliverPolicy::Last,
        DeliverPolicy::New,
        DeliverPolicy::LastPerSubject,
    ] {
        let c = stream
            .create_consumer(ConsumerConfig {
                deliver_policy: policy,
                filter_subject: Some("rt.>".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(c.cached_info().config.deliver_policy, policy);
    }
}
