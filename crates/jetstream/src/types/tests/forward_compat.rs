//! Forward compatibility: a newer server may send enum values this client does not know
//! (a new retention, ack or deliver policy, a new compression). Every info type, and the
//! listings made of them, must still parse, keep the value, and write it back unchanged.

use serde_json::{json, Value};

use super::{CONSUMER_INFO, STREAM_INFO};
use crate::types::api::{ConsumerListResponse, StreamListResponse};
use crate::types::*;

fn unknown(s: &str) -> UnknownValue {
    UnknownValue::new(s).unwrap()
}

/// `STREAM_INFO` with a value no server sends today in every enum field.
fn stream_info_from_the_future() -> Value {
    let mut v: Value = serde_json::from_str(STREAM_INFO).unwrap();
    let config = &mut v["config"];
    config["retention"] = json!("archive");
    config["discard"] = json!("discard_oldest_subject");
    config["storage"] = json!("tiered");
    config["compression"] = json!("zstd");
    config["persist_mode"] = json!("group_commit");
    v
}

/// `CONSUMER_INFO` likewise; the new deliver policy comes with a start sequence.
fn consumer_info_from_the_future() -> Value {
    let mut v: Value = serde_json::from_str(CONSUMER_INFO).unwrap();
    let config = &mut v["config"];
    let fields = config.as_object_mut().unwrap();
    fields.remove("opt_start_time");
    config["deliver_policy"] = json!("by_start_generation");
    config["opt_start_seq"] = json!(7);
    config["ack_policy"] = json!("quorum");
    config["replay_policy"] = json!("accelerated");
    config["priority_policy"] = json!("weighted");
    v
}

fn check_stream(info: &StreamInfo) {
    let c = &info.config;
    assert_eq!(c.retention, RetentionPolicy::Other(unknown("archive")));
    assert_eq!(
        c.discard,
        DiscardPolicy::Other(unknown("discard_oldest_subject"))
    );
    assert_eq!(c.storage, StorageType::Other(unknown("tiered")));
    assert_eq!(c.compression, Compression::Other(unknown("zstd")));
    assert_eq!(c.persist_mode, PersistMode::Other(unknown("group_commit")));
    // Everything else still reads.
    assert_eq!(c.name, "ORDERS");
    assert_eq!(c.num_replicas, 3);
}

fn check_consumer(info: &ConsumerInfo) {
    let c = &info.config;
    assert_eq!(
        c.deliver_policy,
        DeliverPolicy::Other {
            policy: unknown("by_start_generation"),
            start_sequence: Some(7),
            start_time: None,
        }
    );
    assert_eq!(c.ack_policy, AckPolicy::Other(unknown("quorum")));
    assert_eq!(c.replay_policy, ReplayPolicy::Other(unknown("accelerated")));
    assert_eq!(
        c.priority_policy,
        PriorityPolicy::Other(unknown("weighted"))
    );
    assert_eq!(info.name, "processor");
    assert_eq!(info.num_pending, 7);
}

#[test]
fn stream_info_keeps_unknown_values_and_writes_them_back() {
    let v = stream_info_from_the_future();
    let info: StreamInfo = serde_json::from_value(v.clone()).unwrap();
    check_stream(&info);
    // An update sent from this info carries the values as the server spelled them.
    let back = serde_json::to_value(&info.config).unwrap();
    for field in [
        "retention",
        "discard",
        "storage",
        "compression",
        "persist_mode",
    ] {
        assert_eq!(back[field], v["config"][field], "{field}");
    }
    let again: StreamConfig = serde_json::from_value(back).unwrap();
    assert_eq!(again, info.config);
}

#[test]
fn consumer_info_keeps_unknown_values_and_writes_them_back() {
    let v = consumer_info_from_the_future();
    let info: ConsumerInfo = serde_json::from_value(v.clone()).unwrap();
    check_consumer(&info);
    let back = serde_json::to_value(&info.config).unwrap();
    for field in [
        "deliver_policy",
        "opt_start_seq",
        "ack_policy",
        "replay_policy",
        "priority_policy",
    ] {
        assert_eq!(back[field], v["config"][field], "{field}");
    }
    assert!(back.get("opt_start_time").is_none());
    let again: ConsumerConfig = serde_json::from_value(back).unwrap();
    assert_eq!(again, info.config);
}

#[test]
fn listings_keep_unknown_values() {
    let streams: StreamListResponse = serde_json::from_value(json!({
        "total": 1, "offset": 0, "limit": 256,
        "streams": [stream_info_from_the_future()],
    }))
    .unwrap();
    check_stream(&streams.streams[0]);
    let consumers: ConsumerListResponse = serde_json::from_value(json!({
        "total": 1, "offset": 0, "limit": 256,
        "consumers": [consumer_info_from_the_future()],
    }))
    .unwrap();
    check_consumer(&consumers.consumers[0]);
}

#[test]
fn api_replies_with_unknown_values_decode() {
    use crate::types::api::decode_api;
    let body = serde_json::to_vec(&stream_info_from_the_future()).unwrap();
    check_stream(&decode_api::<StreamInfo>(&body).unwrap());
    let body = serde_json::to_vec(&consumer_info_from_the_future()).unwrap();
    check_consumer(&decode_api::<ConsumerInfo>(&body).unwrap());
    // Account info has no server enums; new fields and tiers of a newer server still parse.
    let account: AccountInfo = decode_api(
        br#"{"memory":1,"storage":2,"streams":1,"consumers":0,
             "limits":{"max_memory":-1,"max_storage":-1,"storage_class":"tiered"},
             "api":{"level":9,"total":5,"errors":0,"inflight":1},
             "tiers":{"R5":{"memory":1,"storage":2,"streams":1,"consumers":0,"limits":{}}},
             "new_top_level_field":{"x":1}}"#,
    )
    .unwrap();
    assert_eq!(account.storage, 2);
    assert!(account.tiers.contains_key("R5"));
}

#[cfg(feature = "kv")]
#[test]
fn kv_status_reads_a_bucket_from_a_newer_server() {
    let mut v = stream_info_from_the_future();
    v["config"]["name"] = json!("KV_settings");
    let info: StreamInfo = serde_json::from_value(v).unwrap();
    let status = crate::KeyValueStatus::new("settings".into(), info);
    assert_eq!(status.bucket(), "settings");
    // An unknown compression is a compression.
    assert!(status.is_compressed());
    assert_eq!(
        status.stream_info().config.storage,
        StorageType::Other(unknown("tiered"))
    );
}

#[cfg(feature = "object-store")]
#[test]
fn object_store_status_reads_a_bucket_from_a_newer_server() {
    let mut v = stream_info_from_the_future();
    v["config"]["name"] = json!("OBJ_files");
    let info: StreamInfo = serde_json::from_value(v).unwrap();
    let status = crate::ObjectStoreStatus::new("files", info);
    assert_eq!(status.storage(), StorageType::Other(unknown("tiered")));
    assert!(status.is_compressed());
}

#[test]
fn known_values_and_quirks_still_read_as_before() {
    let c: ConsumerConfig = serde_json::from_value(json!({
        "deliver_policy": "last_per_subject", "ack_policy": "all",
        "replay_policy": "original", "priority_policy": "overflow"
    }))
    .unwrap();
    assert_eq!(c.deliver_policy, DeliverPolicy::LastPerSubject);
    assert_eq!(c.ack_policy, AckPolicy::All);
    assert_eq!(c.replay_policy, ReplayPolicy::Original);
    assert_eq!(c.priority_policy, PriorityPolicy::Overflow);
    let s: StreamConfig = serde_json::from_value(json!({
        "retention": "interest", "discard": "old", "storage": "file",
        "compression": "none", "persist_mode": ""
    }))
    .unwrap();
    assert_eq!(s.retention, RetentionPolicy::Interest);
    assert_eq!(s.persist_mode, PersistMode::Default);
    assert_eq!(RetentionPolicy::WorkQueue.as_str(), "workqueue");
    assert_eq!(AckPolicy::FlowControl.to_string(), "flow_control");
    // A value too long to be a server enum is refused rather than cut short.
    let long = "x".repeat(UnknownValue::CAPACITY + 1);
    let err = serde_json::from_value::<StreamConfig>(json!({ "storage": long })).unwrap_err();
    assert!(err.to_string().contains("unknown storage type"), "{err}");
    // Not a string at all: still an error.
    assert!(serde_json::from_value::<StreamConfig>(json!({"storage": 1})).is_err());
}
