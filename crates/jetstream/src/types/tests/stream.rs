//! Stream config and info wire tests.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;

use super::{ts, STREAM_INFO};
use crate::types::api::decode_api;
use crate::types::*;
use crate::ErrorCode;

#[test]
fn stream_info_parses_every_field() {
    let info: StreamInfo = decode_api(STREAM_INFO.as_bytes()).unwrap();
    let c = &info.config;
    assert_eq!(c.name, "ORDERS");
    assert_eq!(c.subjects, ["orders.>"]);
    assert_eq!(c.retention, RetentionPolicy::WorkQueue);
    assert_eq!(c.max_consumers, -1);
    assert_eq!(c.max_bytes, 1 << 30);
    assert_eq!(c.max_age, Duration::from_secs(86_400));
    assert_eq!(c.max_msg_size, -1);
    assert_eq!(c.discard, DiscardPolicy::New);
    assert_eq!(c.storage, StorageType::Memory);
    assert_eq!(c.num_replicas, 3);
    assert_eq!(c.duplicate_window, Duration::from_secs(120));
    assert_eq!(c.compression, Compression::S2);
    assert!(c.allow_direct && c.deny_delete && c.allow_rollup_hdrs && c.allow_msg_ttl);
    assert!(!c.deny_purge && !c.sealed);
    assert_eq!(c.subject_delete_marker_ttl, Duration::from_secs(60));
    assert_eq!(
        c.consumer_limits,
        ConsumerLimits {
            inactive_threshold: Duration::from_secs(30),
            max_ack_pending: 5000
        }
    );
    assert_eq!(
        c.subject_transform,
        Some(SubjectTransform {
            source: "orders.>".into(),
            destination: "o.>".into()
        })
    );
    assert_eq!(
        c.republish,
        Some(RePublish {
            source: "orders.>".into(),
            destination: "repub.>".into(),
            headers_only: true
        })
    );
    let placement = c.placement.as_ref().unwrap();
    assert_eq!(placement.cluster.as_deref(), Some("east"));
    assert_eq!(placement.tags, ["ssd"]);
    assert_eq!(placement.preferred.as_deref(), Some("n1"));
    assert_eq!(c.metadata["owner"], "team-a");

    assert_eq!(info.created, ts("2024-03-01T10:20:30.123456789Z"));
    let s = &info.state;
    assert_eq!(
        (s.messages, s.bytes, s.first_seq, s.last_seq),
        (10, 2048, 5, 16)
    );
    assert_eq!(s.first_ts, Some(ts("2024-03-01T10:21:00Z")));
    assert_eq!(s.last_ts, Some(ts("2024-03-01T11:00:00.5Z")));
    assert_eq!((s.num_deleted, s.num_subjects, s.consumer_count), (2, 3, 2));
    assert_eq!(s.deleted, [7, 9]);
    assert_eq!(s.subjects["orders.new"], 7);
    assert_eq!(s.lost.as_ref().unwrap().msgs, [11]);

    let cluster = info.cluster.as_ref().unwrap();
    assert_eq!(cluster.leader.as_deref(), Some("n1"));
    assert_eq!(cluster.leader_since, Some(ts("2024-03-01T10:20:31Z")));
    assert_eq!(cluster.replicas.len(), 2);
    assert_eq!(
        cluster.replicas[0].active,
        Duration::from_nanos(123_456_789)
    );
    assert_eq!(cluster.replicas[0].peer.as_deref(), Some("xyz"));
    assert!(cluster.replicas[1].offline && !cluster.replicas[1].current);
    assert_eq!(cluster.replicas[1].lag, 42);

    let source = &info.sources[0];
    assert_eq!(source.name, "EU");
    assert_eq!(source.active, None, "-1 means never active");
    let external = source.external.as_ref().unwrap();
    assert_eq!(external.api_prefix, "$JS.eu.API");
    assert_eq!(external.deliver_prefix, None);
    assert_eq!(
        source.error.as_ref().unwrap().err_code,
        ErrorCode::CLUSTER_NOT_AVAILABLE
    );
    assert_eq!(source.subject_transforms[0].destination, "");
    assert_eq!(info.alternates[1].domain.as_deref(), Some("hub"));
    assert_eq!(info.ts, Some(ts("2024-03-01T11:00:01Z")));
}

#[test]
fn empty_stream_with_zero_times_and_nulls() {
    let body = json!({
        "config": {"name": "E", "subjects": null, "sources": null, "metadata": null},
        "created": "2024-03-01T10:20:30Z",
        "state": {
            "messages": 0, "bytes": 0, "first_seq": 0,
            "first_ts": "0001-01-01T00:00:00Z",
            "last_seq": 0, "last_ts": "0001-01-01T00:00:00Z",
            "consumer_count": 0
        },
        "sources": null
    });
    let info: StreamInfo = serde_json::from_value(body).unwrap();
    assert_eq!(info.state.first_ts, None);
    assert_eq!(info.state.last_ts, None);
    assert!(info.config.subjects.is_empty() && info.sources.is_empty());
    assert_eq!(info.cluster, None);
}

#[test]
fn infos_parse_from_an_empty_object() {
    let info: StreamInfo = serde_json::from_str("{}").unwrap();
    assert_eq!(info.config, StreamConfig::default());
    let info: ConsumerInfo = serde_json::from_str("{}").unwrap();
    assert_eq!(info.config.ack_policy, AckPolicy::Explicit);
    assert_eq!(info.config.deliver_policy, DeliverPolicy::All);
    let _: AccountInfo = serde_json::from_str("{}").unwrap();
    let _: PubAck = serde_json::from_str("{}").unwrap();
}

#[test]
fn default_stream_config_wire_form() {
    let config = StreamConfig {
        name: "ORDERS".into(),
        subjects: vec!["orders.>".into()],
        ..Default::default()
    };
    let v = serde_json::to_value(&config).unwrap();
    assert_eq!(
        v,
        json!({
            "name": "ORDERS",
            "subjects": ["orders.>"],
            "retention": "limits",
            "max_consumers": 0,
            "max_msgs": 0,
            "max_bytes": 0,
            "discard": "old",
            "max_age": 0,
            "max_msgs_per_subject": 0,
            "storage": "file",
            "num_replicas": 0,
            "compression": "none"
        })
    );
    let back: StreamConfig = serde_json::from_value(v).unwrap();
    assert_eq!(back, config);
}

#[test]
fn stream_config_round_trip_with_everything() {
    let source = StreamSource {
        name: "SRC".into(),
        opt_start_seq: 3,
        opt_start_time: Some(ts("2024-01-01T00:00:00Z")),
        filter_subject: None,
        subject_transforms: vec![SubjectTransform {
            source: "a.>".into(),
            destination: "b.>".into(),
        }],
        external: Some(External {
            api_prefix: "$JS.hub.API".into(),
            deliver_prefix: Some("dlv".into()),
        }),
        domain: None,
        consumer: Some(StreamConsumerSource {
            name: "C".into(),
            deliver_subject: "deliver.c".into(),
        }),
    };
    let config = StreamConfig {
        name: "ALL".into(),
        description: Some("everything".into()),
        retention: RetentionPolicy::Interest,
        max_consumers: 10,
        max_msgs: -1,
        max_bytes: 1000,
        discard: DiscardPolicy::New,
        discard_new_per_subject: true,
        max_age: Duration::from_secs(3600),
        max_msgs_per_subject: 5,
        max_msg_size: 1024,
        storage: StorageType::Memory,
        num_replicas: 3,
        no_ack: true,
        duplicate_window: Duration::from_secs(30),
        placement: Some(Placement {
            cluster: Some("c".into()),
            tags: vec!["t".into()],
            preferred: None,
        }),
        sources: vec![source.clone()],
        sealed: true,
        deny_delete: true,
        deny_purge: true,
        allow_rollup_hdrs: true,
        allow_direct: true,
        mirror_direct: true,
        compression: Compression::S2,
        first_seq: 100,
        subject_transform: Some(SubjectTransform {
            source: ">".into(),
            destination: "x.>".into(),
        }),
        republish: Some(RePublish {
            source: ">".into(),
            destination: "r.>".into(),
            headers_only: false,
        }),
        consumer_limits: ConsumerLimits {
            inactive_threshold: Duration::from_secs(1),
            max_ack_pending: 0,
        },
        metadata: HashMap::from([("a".into(), "b".into())]),
        allow_msg_ttl: true,
        subject_delete_marker_ttl: Duration::from_secs(2),
        allow_msg_counter: true,
        allow_atomic: true,
        allow_msg_schedules: true,
        allow_batched: true,
        persist_mode: PersistMode::Async,
        ..Default::default()
    };
    let v = serde_json::to_value(&config).unwrap();
    assert_eq!(v["max_age"], 3_600_000_000_000u64);
    assert_eq!(v["duplicate_window"], 30_000_000_000u64);
    assert_eq!(v["subject_delete_marker_ttl"], 2_000_000_000u64);
    assert_eq!(
        v["consumer_limits"],
        json!({"inactive_threshold": 1_000_000_000u64})
    );
    assert_eq!(v["retention"], "interest");
    assert_eq!(v["persist_mode"], "async");
    assert_eq!(v["subject_transform"], json!({"src": ">", "dest": "x.>"}));
    assert_eq!(
        v["sources"][0]["external"],
        json!({"api": "$JS.hub.API", "deliver": "dlv"})
    );
    assert_eq!(v["sources"][0]["opt_start_time"], "2024-01-01T00:00:00Z");
    assert_eq!(
        v["sources"][0]["consumer"],
        json!({"name": "C", "deliver_subject": "deliver.c"})
    );
    let back: StreamConfig = serde_json::from_value(v).unwrap();
    assert_eq!(back, config);

    let mirror = StreamConfig {
        name: "M".into(),
        mirror: Some(source),
        ..Default::default()
    };
    let v = serde_json::to_value(&mirror).unwrap();
    assert!(
        v.get("subjects").is_none(),
        "mirrors must not send subjects"
    );
    assert_eq!(serde_json::from_value::<StreamConfig>(v).unwrap(), mirror);
}

#[test]
fn source_domain_is_sent_as_its_external_prefix() {
    let source = StreamSource {
        name: "S".into(),
        domain: Some("hub".into()),
        ..Default::default()
    };
    // The domain itself is never on the wire.
    let v = serde_json::to_value(&source).unwrap();
    assert_eq!(v, json!({"name": "S"}));
    let sent = source.resolve_domain().unwrap();
    assert_eq!(sent.domain, None);
    assert_eq!(
        serde_json::to_value(&sent).unwrap(),
        json!({"name": "S", "external": {"api": "$JS.hub.API"}})
    );
    let both = StreamSource {
        external: Some(External::default()),
        ..source
    };
    assert_eq!(
        both.resolve_domain().unwrap_err().kind(),
        crate::ErrorKind::InvalidConfig
    );
    let plain = StreamSource {
        name: "P".into(),
        ..Default::default()
    };
    assert_eq!(plain.resolve_domain().unwrap(), plain);
}
