//! Consumer config and info wire tests.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;

use super::{ts, CONSUMER_INFO};
use crate::types::api::decode_api;
use crate::types::*;

#[test]
fn consumer_info_parses_every_field() {
    let info: ConsumerInfo = decode_api(CONSUMER_INFO.as_bytes()).unwrap();
    assert_eq!(info.stream_name, "ORDERS");
    assert_eq!(info.name, "processor");
    assert_eq!(info.created, ts("2024-03-01T10:25:00.000000001Z"));
    let c = &info.config;
    assert_eq!(c.durable_name.as_deref(), Some("processor"));
    assert_eq!(
        c.deliver_policy,
        DeliverPolicy::ByStartTime {
            start_time: ts("2024-03-01T00:00:00Z")
        }
    );
    assert_eq!(c.ack_policy, AckPolicy::Explicit);
    assert_eq!(c.ack_wait, Duration::from_secs(30));
    assert_eq!(c.max_deliver, -1);
    assert_eq!(c.backoff, [Duration::from_secs(1), Duration::from_secs(5)]);
    assert_eq!(c.filter_subject, None);
    assert_eq!(c.filter_subjects, ["orders.new", "orders.paid"]);
    assert_eq!(
        (c.max_waiting, c.max_ack_pending, c.max_batch),
        (512, 1000, 100)
    );
    assert_eq!(c.max_expires, Duration::from_secs(60));
    assert_eq!(c.max_bytes, 1 << 20);
    assert_eq!(c.inactive_threshold, Some(Duration::from_secs(300)));
    assert_eq!(c.priority_groups, ["jobs"]);
    assert_eq!(c.priority_policy, PriorityPolicy::PinnedClient);
    assert_eq!(c.priority_timeout, Duration::from_secs(120));
    assert_eq!(c.pause_until, None, "zero time means not paused");

    assert_eq!(info.delivered.consumer_sequence, 12);
    assert_eq!(info.delivered.stream_sequence, 40);
    assert_eq!(info.delivered.last_active, Some(ts("2024-03-01T11:00:00Z")));
    assert_eq!(info.ack_floor.stream_sequence, 38);
    assert_eq!(info.ack_floor.last_active, None);
    assert_eq!(
        (
            info.num_ack_pending,
            info.num_redelivered,
            info.num_waiting,
            info.num_pending
        ),
        (2, 1, 3, 7)
    );
    assert_eq!(info.cluster.unwrap().leader.as_deref(), Some("n1"));
    assert!(info.paused);
    assert_eq!(info.pause_remaining, Some(Duration::from_secs(5)));
    assert_eq!(
        info.priority_groups[0].pinned_client_id.as_deref(),
        Some("abc")
    );
    assert_eq!(info.ts, Some(ts("2024-03-01T11:00:01Z")));
}

#[test]
fn consumer_config_quirks_from_the_server() {
    // "undefined" deliver policy and "" priority policy are accepted.
    let c: ConsumerConfig = serde_json::from_value(json!({
        "deliver_policy": "undefined", "ack_policy": "none", "priority_policy": ""
    }))
    .unwrap();
    assert_eq!(c.deliver_policy, DeliverPolicy::All);
    assert_eq!(c.ack_policy, AckPolicy::None);
    assert_eq!(c.priority_policy, PriorityPolicy::None);
    // The 2.14 sourcing ack policy parses.
    let c: ConsumerConfig = serde_json::from_value(json!({"ack_policy": "flow_control"})).unwrap();
    assert_eq!(c.ack_policy, AckPolicy::FlowControl);
    // by_start_sequence without a sequence.
    let c: ConsumerConfig =
        serde_json::from_value(json!({"deliver_policy": "by_start_sequence"})).unwrap();
    assert_eq!(
        c.deliver_policy,
        DeliverPolicy::ByStartSequence { start_sequence: 0 }
    );
    // Unknown enum values are kept, not silently the default (see forward_compat).
    let c: ConsumerConfig = serde_json::from_value(json!({"ack_policy": "bogus"})).unwrap();
    assert_eq!(c.ack_policy.as_str(), "bogus");
}

#[test]
fn default_consumer_config_always_sends_ack_policy() {
    let v = serde_json::to_value(ConsumerConfig::default()).unwrap();
    assert_eq!(
        v,
        json!({
            "deliver_policy": "all",
            "ack_policy": "explicit",
            "replay_policy": "instant",
            "num_replicas": 0
        })
    );
    let v = serde_json::to_value(ConsumerConfig {
        ack_policy: AckPolicy::None,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(v["ack_policy"], "none");
}

#[test]
fn deliver_policy_flat_wire_form() {
    let cases = [
        (DeliverPolicy::All, json!({"deliver_policy": "all"})),
        (DeliverPolicy::Last, json!({"deliver_policy": "last"})),
        (DeliverPolicy::New, json!({"deliver_policy": "new"})),
        (
            DeliverPolicy::LastPerSubject,
            json!({"deliver_policy": "last_per_subject"}),
        ),
        (
            DeliverPolicy::ByStartSequence { start_sequence: 42 },
            json!({"deliver_policy": "by_start_sequence", "opt_start_seq": 42}),
        ),
        (
            DeliverPolicy::ByStartTime {
                start_time: ts("2024-03-01T10:20:30.5Z"),
            },
            json!({"deliver_policy": "by_start_time", "opt_start_time": "2024-03-01T10:20:30.5Z"}),
        ),
    ];
    for (policy, expected) in cases {
        let config = ConsumerConfig {
            deliver_policy: policy,
            ..Default::default()
        };
        let v = serde_json::to_value(&config).unwrap();
        for key in ["deliver_policy", "opt_start_seq", "opt_start_time"] {
            assert_eq!(v.get(key), expected.get(key), "{policy:?} {key}");
        }
        let back: ConsumerConfig = serde_json::from_value(v).unwrap();
        assert_eq!(back, config);
    }
}

#[test]
fn consumer_config_round_trip_and_nanoseconds() {
    let config = ConsumerConfig {
        name: Some("c1".into()),
        durable_name: Some("c1".into()),
        description: Some("desc".into()),
        deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: 7 },
        ack_policy: AckPolicy::All,
        ack_wait: Duration::from_millis(1500),
        max_deliver: 5,
        backoff: vec![Duration::from_millis(100), Duration::from_secs(2)],
        filter_subject: Some("a.>".into()),
        replay_policy: ReplayPolicy::Original,
        rate_limit_bps: 1000,
        sample_freq: Some("50%".into()),
        max_waiting: 10,
        max_ack_pending: -1,
        headers_only: true,
        max_batch: 5,
        max_expires: Duration::from_secs(10),
        max_bytes: 4096,
        inactive_threshold: Some(Duration::from_secs(5)),
        num_replicas: 1,
        mem_storage: true,
        metadata: HashMap::from([("k".into(), "v".into())]),
        pause_until: Some(ts("2030-01-01T00:00:00Z")),
        priority_groups: vec!["g".into()],
        priority_policy: PriorityPolicy::Overflow,
        priority_timeout: Duration::from_secs(60),
        ..Default::default()
    };
    let v = serde_json::to_value(&config).unwrap();
    assert_eq!(v["ack_wait"], 1_500_000_000u64);
    assert_eq!(v["backoff"], json!([100_000_000u64, 2_000_000_000u64]));
    assert_eq!(v["max_expires"], 10_000_000_000u64);
    assert_eq!(v["inactive_threshold"], 5_000_000_000u64);
    assert_eq!(v["priority_timeout"], 60_000_000_000u64);
    assert_eq!(v["max_bytes"], 4096);
    assert_eq!(v["priority_policy"], "overflow");
    assert_eq!(v["pause_until"], "2030-01-01T00:00:00Z");
    assert_eq!(v["ack_policy"], "all");
    let back: ConsumerConfig = serde_json::from_value(v).unwrap();
    assert_eq!(back, config);

    // A push consumer config (created by another client) also round-trips.
    let push = ConsumerConfig {
        deliver_subject: Some("deliver.here".into()),
        deliver_group: Some("q".into()),
        flow_control: true,
        idle_heartbeat: Duration::from_secs(5),
        ..Default::default()
    };
    let v = serde_json::to_value(&push).unwrap();
    assert_eq!(v["idle_heartbeat"], 5_000_000_000u64);
    assert_eq!(serde_json::from_value::<ConsumerConfig>(v).unwrap(), push);
}
