//! The exact JSON documents of PING, INFO and STATS (ADR-32), read raw.

use std::time::Duration;

use futures_util::StreamExt;
use nats_service::Service;
use serde_json::{json, Value};

use crate::common::{connect, keys, request_json, setup};

const IDENTITY: [&str; 5] = ["id", "metadata", "name", "type", "version"];

fn sorted(fields: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn ping_document_is_exactly_the_identity() {
    let (server, client) = setup().await;
    let service = Service::builder(&client, "schema-ping", "1.2.3-rc.1+b7")
        .metadata([("zone", "a")])
        .await
        .unwrap();
    let caller = connect(&server).await;
    let ping = request_json(&caller, &format!("$SRV.PING.schema-ping.{}", service.id())).await;
    assert_eq!(keys(&ping), sorted(&IDENTITY));
    assert_eq!(
        ping,
        json!({"type": "io.nats.micro.v1.ping_response", "name": "schema-ping",
               "id": service.id(), "version": "1.2.3-rc.1+b7", "metadata": {"zone": "a"}})
    );
}

#[tokio::test]
async fn info_document_lists_every_endpoint_with_defaults_resolved() {
    let (server, client) = setup().await;
    let service = Service::builder(&client, "schema-info", "0.1.0")
        .description("what it does")
        .await
        .unwrap();
    let _plain = service.endpoint("plain").await.unwrap();
    let _custom = service
        .group("g")
        .endpoint("custom")
        .subject("x.*")
        .metadata([("k", "v")])
        .queue_group("workers")
        .await
        .unwrap();
    let _solo = service.endpoint("solo").no_queue_group().await.unwrap();
    let caller = connect(&server).await;
    let info = request_json(&caller, "$SRV.INFO.schema-info").await;
    let mut top = IDENTITY.to_vec();
    top.extend(["description", "endpoints"]);
    assert_eq!(keys(&info), sorted(&top));
    assert_eq!(info["type"], "io.nats.micro.v1.info_response");
    assert_eq!(info["name"], "schema-info");
    assert_eq!(info["id"], service.id());
    assert_eq!(info["version"], "0.1.0");
    assert_eq!(info["description"], "what it does");
    assert_eq!(info["metadata"], json!({}));
    let endpoints = info["endpoints"].as_array().unwrap();
    for e in endpoints {
        assert_eq!(
            keys(e),
            sorted(&["metadata", "name", "queue_group", "subject"])
        );
    }
    assert_eq!(
        endpoints,
        &vec![
            json!({"name": "plain", "subject": "plain", "queue_group": "q", "metadata": {}}),
            json!({"name": "custom", "subject": "g.x.*", "queue_group": "workers", "metadata": {"k": "v"}}),
            json!({"name": "solo", "subject": "solo", "queue_group": "", "metadata": {}}),
        ]
    );
    // An endpoint added later shows up (INFO reflects the current state).
    let _late = service.endpoint("late").await.unwrap();
    let info = request_json(&caller, "$SRV.INFO.schema-info").await;
    assert_eq!(info["endpoints"][3]["name"], "late");
    assert_eq!(serde_json::to_value(service.info()).unwrap(), info);
}

#[tokio::test]
async fn stats_document_has_every_field_in_nanoseconds_and_rfc3339() {
    let (server, client) = setup().await;
    let before = jiff::Timestamp::now();
    let service = Service::builder(&client, "schema-stats", "3.0.0")
        .metadata([("m", "1")])
        .await
        .unwrap();
    let mut ep = service.endpoint("work").await.unwrap();
    let handler = tokio::spawn(async move {
        let mut n = 0;
        while let Some(request) = ep.next().await {
            n += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
            if n == 3 {
                request.respond_error(503, "overloaded").await.unwrap();
            } else {
                request.respond("done").await.unwrap();
            }
        }
    });
    let caller = connect(&server).await;
    for _ in 0..3 {
        caller.request("work", "x").await.unwrap();
    }
    let stats = request_json(
        &caller,
        &format!("$SRV.STATS.schema-stats.{}", service.id()),
    )
    .await;
    let mut top = IDENTITY.to_vec();
    top.extend(["endpoints", "started"]);
    assert_eq!(keys(&stats), sorted(&top));
    assert_eq!(stats["type"], "io.nats.micro.v1.stats_response");
    assert_eq!(stats["metadata"], json!({"m": "1"}));
    // started: RFC 3339, UTC ("Z"), six fractional digits; between start and now.
    let started = stats["started"].as_str().unwrap();
    assert_eq!(
        started.len(),
        "2024-01-01T00:00:00.000000Z".len(),
        "{started}"
    );
    assert!(
        started.ends_with('Z') && started.as_bytes()[19] == b'.',
        "{started}"
    );
    let ts: jiff::Timestamp = started.parse().unwrap();
    assert!(
        ts >= before - jiff::SignedDuration::from_micros(1),
        "{ts} < {before}"
    );
    assert!(ts <= jiff::Timestamp::now());

    let e = &stats["endpoints"][0];
    assert_eq!(
        keys(e),
        sorted(&[
            "average_processing_time",
            "data",
            "last_error",
            "name",
            "num_errors",
            "num_requests",
            "processing_time",
            "queue_group",
            "subject",
        ])
    );
    assert_eq!(e["name"], "work");
    assert_eq!(e["subject"], "work");
    assert_eq!(e["queue_group"], "q");
    assert_eq!(e["num_requests"], 3);
    assert_eq!(e["num_errors"], 1);
    assert_eq!(e["last_error"], "503:overloaded");
    assert_eq!(e["data"], Value::Null);
    let total = e["processing_time"].as_u64().expect("integer nanoseconds");
    let average = e["average_processing_time"]
        .as_u64()
        .expect("integer nanoseconds");
    assert!(
        total >= 3 * 20_000_000,
        "three 20 ms handlers took {total} ns"
    );
    assert!(total < 3 * 2_000_000_000, "{total} ns");
    assert_eq!(average, total / 3, "average is the truncated mean");
    handler.abort();
}

#[tokio::test]
async fn every_verb_answers_on_all_three_subject_levels() {
    let (server, client) = setup().await;
    let a = Service::builder(&client, "levels", "1.0.0").await.unwrap();
    let b = Service::builder(&client, "levels", "1.0.0").await.unwrap();
    let other = Service::builder(&client, "other", "1.0.0").await.unwrap();
    let caller = connect(&server).await;
    let wait = Duration::from_millis(300);
    for verb in ["PING", "INFO", "STATS"] {
        let ty = format!("io.nats.micro.v1.{}_response", verb.to_lowercase());
        let ids = |answers: Vec<Value>| {
            assert!(
                answers.iter().all(|a| a["type"] == ty.as_str()),
                "{answers:?}"
            );
            let mut ids: Vec<String> = answers
                .iter()
                .map(|a| a["id"].as_str().unwrap().to_string())
                .collect();
            ids.sort();
            ids
        };
        let mut all = vec![
            a.id().to_string(),
            b.id().to_string(),
            other.id().to_string(),
        ];
        all.sort();
        let mut named = vec![a.id().to_string(), b.id().to_string()];
        named.sort();
        let got = crate::common::gather_raw(&caller, &format!("$SRV.{verb}"), wait).await;
        assert_eq!(ids(got), all, "{verb} all");
        let got = crate::common::gather_raw(&caller, &format!("$SRV.{verb}.levels"), wait).await;
        assert_eq!(ids(got), named, "{verb} by name");
        let got =
            crate::common::gather_raw(&caller, &format!("$SRV.{verb}.levels.{}", b.id()), wait)
                .await;
        assert_eq!(ids(got), vec![b.id().to_string()], "{verb} by id");
    }
}
