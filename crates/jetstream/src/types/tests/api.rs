//! Account info, API envelopes, publish acks, paging and request bodies.

use serde_json::json;

use super::{ts, CONSUMER_INFO, STREAM_INFO};
use crate::types::api::{
    decode_api, decode_pub_ack, plain_pub_ack, ApiPaging, ConsumerAction, ConsumerListResponse,
    ConsumerNamesResponse, CreateConsumerRequest, ListRequest, MsgDeleteRequest, MsgGetResponse,
    PurgeRequest, StreamListResponse, StreamNamesResponse,
};
use crate::types::*;
use crate::ErrorKind;

#[test]
fn account_info_parses_with_tiers() {
    let body = r#"{
      "type": "io.nats.jetstream.api.v1.account_info_response",
      "memory": 1024, "storage": 2048, "reserved_memory": 0, "reserved_storage": 4096,
      "streams": 3, "consumers": 5,
      "limits": {"max_memory": -1, "max_storage": -1, "max_streams": -1, "max_consumers": -1,
                 "max_ack_pending": -1, "memory_max_stream_bytes": -1,
                 "storage_max_stream_bytes": -1, "max_bytes_required": false},
      "domain": "hub",
      "api": {"level": 1, "total": 100, "errors": 2, "inflight": 0},
      "tiers": {"R1": {"memory": 1, "storage": 2, "streams": 1, "consumers": 0,
                       "limits": {"max_memory": 10, "max_bytes_required": true}}},
      "new_thing": []
    }"#;
    let info: AccountInfo = decode_api(body.as_bytes()).unwrap();
    assert_eq!(
        (info.memory, info.storage, info.reserved_storage),
        (1024, 2048, 4096)
    );
    assert_eq!((info.streams, info.consumers), (3, 5));
    assert_eq!(info.limits.max_memory, -1);
    assert_eq!(info.domain.as_deref(), Some("hub"));
    assert_eq!(info.api.level, 1);
    assert_eq!((info.api.total, info.api.errors), (100, 2));
    let r1 = &info.tiers["R1"];
    assert_eq!(r1.streams, 1);
    assert_eq!(r1.limits.max_memory, 10);
    assert!(r1.limits.max_bytes_required);

    // Pre-2.11 servers: no level, no inflight, no domain.
    let info: AccountInfo =
        decode_api(br#"{"memory":0,"api":{"total":1,"errors":0},"domain":""}"#).unwrap();
    assert_eq!(info.api.level, 0);
    assert_eq!(info.domain, None);
}

#[test]
fn api_errors_are_checked_first() {
    let body = br#"{"type":"io.nats.jetstream.api.v1.consumer_info_response",
        "error":{"code":404,"err_code":10059,"description":"stream not found"}}"#;
    let err = decode_api::<ConsumerInfo>(body).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StreamNotFound);
    assert_eq!(err.api_error().unwrap().code, 404);
    assert_eq!(err.api_error().unwrap().description, "stream not found");

    let err = decode_api::<AccountInfo>(
        br#"{"error":{"code":503,"err_code":10039,"description":"JetStream not enabled for account"}}"#,
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::JetStreamNotEnabled);

    let err = decode_api::<StreamInfo>(b"not json").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    // The parser's reason is part of the sentence.
    assert!(
        err.to_string()
            .starts_with("invalid response from the server: expected ident at line 1"),
        "{err}"
    );
    assert_eq!(
        decode_api::<StreamInfo>(b"").unwrap_err().kind(),
        ErrorKind::InvalidResponse
    );
    // A well-formed reply of the wrong shape is an invalid response, not a panic.
    let err = decode_api::<StreamInfo>(br#"{"config":"nope"}"#).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
}

#[test]
fn plain_pub_acks_read_by_position_agree_with_serde() {
    for body in [
        r#"{"stream":"ORDERS","seq":42}"#,
        r#"{"stream":"KV_b","seq":18446744073709551615}"#,
        r#"{"stream":"ü","seq":0}"#,
    ] {
        let fast = plain_pub_ack(body.as_bytes()).expect(body);
        let full: PubAck = serde_json::from_str(body).unwrap();
        assert_eq!(fast, full);
    }
    // Anything else is left to serde.
    for body in [
        r#"{"stream":"a\"b","seq":1}"#,
        r#"{"stream":"a\u0026b","seq":1}"#,
        r#"{"stream":"","seq":1}"#,
        r#"{"stream":"S","seq":1,"duplicate":true}"#,
        r#"{"stream":"S","seq":-1}"#,
        r#"{"stream":"S","seq":18446744073709551616}"#,
        r#"{"stream":"S","seq":1} "#,
        r#"{"stream":"S","seq":}"#,
        r#"{"error":{"code":503,"description":"no"}}"#,
    ] {
        assert_eq!(plain_pub_ack(body.as_bytes()), None, "{body}");
    }
    let ack = decode_pub_ack(br#"{"stream":"a\u0026b","seq":7}"#).unwrap();
    assert_eq!((ack.stream.as_str(), ack.sequence), ("a&b", 7));
}

#[test]
fn pub_ack_decoding() {
    let ack = decode_pub_ack(br#"{"stream":"ORDERS","seq":42}"#).unwrap();
    assert_eq!(
        (ack.stream.as_str(), ack.sequence, ack.duplicate),
        ("ORDERS", 42, false)
    );
    assert_eq!(ack.domain, None);

    let ack = decode_pub_ack(
        br#"{"stream":"ORDERS","seq":42,"duplicate":true,"domain":"hub","val":"101","batch":"b1","count":10}"#,
    )
    .unwrap();
    assert!(ack.duplicate);
    assert_eq!(ack.domain.as_deref(), Some("hub"));
    assert_eq!(ack.value.as_deref(), Some("101"));
    assert_eq!(ack.batch_id.as_deref(), Some("b1"));
    assert_eq!(ack.batch_size, 10);

    // Error replies carry `stream` and a zero `seq` too: the error wins.
    let err = decode_pub_ack(
        br#"{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 5"},"stream":"ORDERS","seq":0}"#,
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongLastSequence);
    let err = decode_pub_ack(
        br#"{"error":{"code":400,"err_code":10164,"description":"wrong last sequence"},"stream":"ORDERS","seq":0}"#,
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongLastSequence);
    let err = decode_pub_ack(
        br#"{"error":{"code":400,"err_code":10070,"description":"wrong last msg ID: a"}}"#,
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongLastMsgId);

    // No stream: not a valid ack.
    assert_eq!(
        decode_pub_ack(br#"{"seq":1}"#).unwrap_err().kind(),
        ErrorKind::InvalidResponse
    );
    assert_eq!(
        decode_pub_ack(b"").unwrap_err().kind(),
        ErrorKind::InvalidResponse
    );
}

#[test]
fn paging_responses() {
    let page: StreamNamesResponse = decode_api(
        br#"{"type":"io.nats.jetstream.api.v1.stream_names_response","total":3,"offset":0,"limit":1024,"streams":["A","B"]}"#,
    )
    .unwrap();
    assert_eq!(page.streams, ["A", "B"]);
    assert_eq!(
        page.paging,
        ApiPaging {
            total: 3,
            offset: 0,
            limit: 1024
        }
    );
    assert_eq!(page.paging.next_offset(page.streams.len()), Some(2));

    let empty: StreamNamesResponse =
        decode_api(br#"{"total":0,"offset":0,"limit":1024,"streams":null}"#).unwrap();
    assert!(empty.streams.is_empty());
    assert_eq!(empty.paging.next_offset(0), None);

    let last = ApiPaging {
        total: 3,
        offset: 2,
        limit: 1024,
    };
    assert_eq!(last.next_offset(1), None);
    // An empty page before `total` is reached must not loop forever.
    assert_eq!(last.next_offset(0), None);

    let list: StreamListResponse = decode_api(
        format!(
            r#"{{"total":2,"offset":0,"limit":256,"streams":[{STREAM_INFO}],"missing":["GONE"],"offline":{{"OFF":"reason"}}}}"#
        )
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(list.streams[0].config.name, "ORDERS");
    assert_eq!(list.missing, ["GONE"]);
    assert_eq!(list.offline["OFF"], "reason");

    let names: ConsumerNamesResponse =
        decode_api(br#"{"total":1,"offset":0,"limit":1024,"consumers":["c"]}"#).unwrap();
    assert_eq!(names.consumers, ["c"]);
    let list: ConsumerListResponse = decode_api(
        format!(r#"{{"total":1,"offset":0,"limit":256,"consumers":[{CONSUMER_INFO}]}}"#).as_bytes(),
    )
    .unwrap();
    assert_eq!(list.consumers[0].name, "processor");
    assert_eq!(list.paging.total, 1);

    // STREAM.INFO with a subjects filter: the same body yields the info and the paging.
    let paging: ApiPaging =
        decode_api(br#"{"total":100000,"offset":0,"limit":100000,"state":{}}"#).unwrap();
    assert_eq!(paging.next_offset(100_000), None);
}

#[test]
fn request_bodies() {
    let v = serde_json::to_value(ListRequest {
        offset: 0,
        subject: None,
    })
    .unwrap();
    assert_eq!(v, json!({"offset": 0}));
    let v = serde_json::to_value(ListRequest {
        offset: 5,
        subject: Some("$KV.*.>".into()),
    })
    .unwrap();
    assert_eq!(v, json!({"offset": 5, "subject": "$KV.*.>"}));

    let config = ConsumerConfig {
        durable_name: Some("d".into()),
        ..Default::default()
    };
    let req = CreateConsumerRequest {
        stream_name: "S",
        config: &config,
        action: ConsumerAction::Create,
    };
    let v = serde_json::to_value(&req).unwrap();
    assert_eq!(v["stream_name"], "S");
    assert_eq!(v["action"], "create");
    assert_eq!(v["config"]["ack_policy"], "explicit");
    let req = CreateConsumerRequest {
        action: ConsumerAction::CreateOrUpdate,
        ..req
    };
    assert!(serde_json::to_value(&req).unwrap().get("action").is_none());
    let req = CreateConsumerRequest {
        action: ConsumerAction::Update,
        ..req
    };
    assert_eq!(serde_json::to_value(&req).unwrap()["action"], "update");

    let v = serde_json::to_value(PurgeRequest {
        subject: Some("a.b".into()),
        sequence: None,
        keep: Some(10),
    })
    .unwrap();
    assert_eq!(v, json!({"filter": "a.b", "keep": 10}));
    assert_eq!(
        serde_json::to_value(PurgeRequest::default()).unwrap(),
        json!({})
    );

    let v = serde_json::to_value(MsgDeleteRequest {
        sequence: 3,
        no_erase: true,
    })
    .unwrap();
    assert_eq!(v, json!({"seq": 3, "no_erase": true}));
    let v = serde_json::to_value(MsgDeleteRequest {
        sequence: 3,
        no_erase: false,
    })
    .unwrap();
    assert_eq!(v, json!({"seq": 3}));

    let got: MsgGetResponse = decode_api(
        br#"{"type":"io.nats.jetstream.api.v1.stream_msg_get_response","message":{"subject":"a","seq":4,"hdrs":"TkFUUy8xLjANCg0K","data":"aGk=","time":"2024-03-01T10:20:30Z"}}"#,
    )
    .unwrap();
    assert_eq!(got.message.sequence, 4);
    assert_eq!(got.message.hdrs.as_deref(), Some("TkFUUy8xLjANCg0K"));
    assert_eq!(got.message.data, "aGk=");
    assert_eq!(got.message.time, ts("2024-03-01T10:20:30Z"));
}

#[test]
fn infos_round_trip_through_serialize() {
    let info: StreamInfo = decode_api(STREAM_INFO.as_bytes()).unwrap();
    let again: StreamInfo = serde_json::from_value(serde_json::to_value(&info).unwrap()).unwrap();
    assert_eq!(again, info);
    let info: ConsumerInfo = decode_api(CONSUMER_INFO.as_bytes()).unwrap();
    let again: ConsumerInfo = serde_json::from_value(serde_json::to_value(&info).unwrap()).unwrap();
    assert_eq!(again, info);
}
